"""One check of a dataset, as ``cocoprep validate`` runs it: validate the targets, optionally
repair one (``fix`` / ``in_place``) and validate the repair, optionally measure the fidelity of a
labels folder to its source annotations; everything in one :class:`CheckResult`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cocoprep.checks.fidelity import FidelityReport
from cocoprep.checks.fidelity import fidelity as measure_fidelity
from cocoprep.checks.repair import RepairSummary, repair
from cocoprep.checks.report import Report, Spell, python_spelling
from cocoprep.checks.validate import validate
from cocoprep.errors import InputError
from cocoprep.progress import Progress

#: Instances listed at least, worst first, in a fidelity report.
_MIN_WORST = 10


@dataclass
class CheckResult:
    """The report of the targets, and of what was repaired and measured."""

    report: Report
    repair: RepairSummary | None = None
    repaired: Report | None = None  # the validation of the repair's output
    fidelity: FidelityReport | None = None

    @property
    def ok(self) -> bool:
        """No error in the final data: the repair's output when there is one, else the targets."""
        return (self.report if self.repaired is None else self.repaired).ok

    def as_dict(self, max_examples: int = 3, spell: Spell = python_spelling) -> dict[str, Any]:
        """A JSON-ready dict: the report's, with ``repair`` and ``fidelity`` when done."""
        result = self.report.as_dict(max_examples, spell)
        if self.repair is not None and self.repaired is not None:
            result["repair"] = {
                "output": self.repair.output,
                "counts": dict(self.repair.counts),
                "validation": self.repaired.as_dict(max_examples, spell),
            }
        if self.fidelity is not None:
            result["fidelity"] = self.fidelity.as_dict(max(max_examples, _MIN_WORST))
        return result

    def format(self, max_examples: int = 3, spell: Spell = python_spelling) -> str:
        """The tables, for the command line."""
        text = [self.report.format_table(max_examples, spell)]
        if self.repair is not None and self.repaired is not None:
            text += [
                self.repair.format(),
                "after repair:",
                self.repaired.format_table(max_examples, spell),
            ]
        if self.fidelity is not None:
            text.append(self.fidelity.format_table(max(max_examples, _MIN_WORST)))
        return "\n".join(text)


def check(
    targets: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    nc: int | None = None,
    strict: bool = False,
    tolerance: float = 1.0,
    fix: str | os.PathLike | None = None,
    in_place: bool = False,
    fidelity: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: Progress = None,
) -> CheckResult:
    """Validate ``targets`` (see :func:`~cocoprep.checks.validate.validate`); with ``fix`` (an
    output path) or ``in_place``, repair the one target (:func:`~cocoprep.checks.repair.repair`)
    and validate the repair; with ``fidelity`` (a COCO file), measure how well the one target's
    labels reproduce its masks (:func:`~cocoprep.checks.fidelity.fidelity`).

    Examples
    --------
    >>> result = check("datasets/coco/labels/val2017", fix="fixed/val2017")  # doctest: +SKIP
    >>> result.ok, result.repair.counts["rows dropped"]  # doctest: +SKIP
    (True, 3)
    """
    targets = [targets] if isinstance(targets, str | os.PathLike) else list(targets)
    one = {"fix": fix is not None, "in_place": in_place, "fidelity": fidelity is not None}
    if any(one.values()) and len(targets) != 1:
        asked = [name for name, given in one.items() if given]
        msg = (
            f"expected one target with {', '.join('{' + n + '}' for n in asked)}, found "
            f"{len(targets)}; check the others separately"
        )
        raise InputError(msg, params=asked)
    options: dict[str, Any] = {"nc": nc, "strict": strict, "workers": workers}
    options.update(tolerance=tolerance, progress=progress)
    result = CheckResult(validate(targets, **options))
    if fix is not None or in_place:
        result.repair = repair(targets[0], fix, in_place=in_place, nc=nc)
        result.repaired = validate([Path(result.repair.output)], **options)
    if fidelity is not None:
        result.fidelity = measure_fidelity(targets[0], fidelity, progress=progress)
    return result

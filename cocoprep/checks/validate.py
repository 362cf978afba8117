"""``cocoprep validate``: find what breaks conversion or training before a long run.

A target is a COCO JSON file (:mod:`cocoprep.checks.coco`) or a folder of them (an export of a
labelling tool, as convert reads it: :mod:`cocoprep.sources`), a YOLO labels folder or a dataset
yaml (:mod:`cocoprep.checks.dataset`). Every problem becomes a
:class:`~cocoprep.checks.report.Finding`; :func:`validate` returns them in one
:class:`~cocoprep.checks.report.Report`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from cocoprep import sources
from cocoprep.checks.coco import validate_coco
from cocoprep.checks.dataset import validate_dataset, validate_labels
from cocoprep.checks.report import ERROR, Report
from cocoprep.errors import InputError
from cocoprep.progress import Progress


def target_kind(path: Path) -> str:
    """``coco``, ``export``, ``labels`` or ``dataset`` for a target path."""
    if path.is_dir():
        return "export" if sources.is_export(path) else "labels"
    if path.suffix.lower() in (".yaml", ".yml"):
        return "dataset"
    if path.suffix.lower() == ".json":
        return "coco"
    if not path.exists():
        msg = f"{path}: no such file or folder (expected a COCO JSON, labels folder or yaml)"
    else:
        msg = f"{path}: not a .json, .yaml or folder; expected a COCO JSON, labels folder or yaml"
    raise InputError(msg)


def validate(
    targets: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    nc: int | None = None,
    strict: bool = False,
    tolerance: float = 1.0,
    workers: int | None = None,
    progress: Progress = None,
) -> Report:
    """Validate COCO JSON files (or export folders of them), YOLO labels folders and dataset
    yamls.

    ``nc`` sets the class count for labels folders (default: the yaml's names or the root's
    ``cocoprep.json``); ``tolerance`` is how far (px) COCO vertices and boxes may leave their
    image and boxes differ from the segmentation bounds; ``strict`` turns warnings into errors.

    Examples
    --------
    >>> report = validate(["annotations/instances_val2017.json"])  # doctest: +SKIP
    >>> report.ok, len(report.warnings)  # doctest: +SKIP
    (True, 52)
    """
    if isinstance(targets, str | os.PathLike):
        targets = [targets]
    report = Report()
    for target in map(Path, targets):
        kind = target_kind(target)
        if kind in ("coco", "export"):
            files = [s.path for s in sources.find_sources([target], "segment")]
            parts = [
                validate_coco(f, workers=workers, tolerance=tolerance, progress=progress)
                for f in files
            ]
        elif kind == "labels":
            parts = [validate_labels(target, nc=nc, workers=workers, progress=progress)]
        else:
            parts = [validate_dataset(target, nc=nc, workers=workers, progress=progress)]
        for part in parts:
            report.extend(part)
    if strict:
        report.findings = [replace(f, severity=ERROR) for f in report.findings]
    return report

"""``cocoprep validate``: find what breaks conversion or training before a long run.

A target is a COCO JSON file (:mod:`cocoprep.checks.coco`), a YOLO labels folder or a dataset
yaml (:mod:`cocoprep.checks.dataset`). Every problem becomes a
:class:`~cocoprep.checks.report.Finding`; :func:`validate` returns them in one
:class:`~cocoprep.checks.report.Report`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from cocoprep.checks.coco import validate_coco
from cocoprep.checks.dataset import validate_dataset, validate_labels
from cocoprep.checks.report import ERROR, Report
from cocoprep.errors import InputError
from cocoprep.progress import Progress


def target_kind(path: Path) -> str:
    """``coco``, ``labels`` or ``dataset`` for a target path."""
    if path.is_dir():
        return "labels"
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
    """Validate COCO JSON files, YOLO labels folders and dataset yamls.

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
        if kind == "coco":
            part = validate_coco(target, workers=workers, tolerance=tolerance, progress=progress)
        elif kind == "labels":
            part = validate_labels(target, nc=nc, workers=workers, progress=progress)
        else:
            part = validate_dataset(target, nc=nc, workers=workers, progress=progress)
        report.extend(part)
    if strict:
        report.findings = [replace(f, severity=ERROR) for f in report.findings]
    return report

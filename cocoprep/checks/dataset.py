"""Checks of a labels folder or a dataset yaml as a whole: every label file, and the pairing of
labels with images (:mod:`cocoprep.checks.labels` checks the files)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cocoprep import datasetyaml, layout, yolo
from cocoprep.checks.labels import LabelContext, check_label_files, label_context
from cocoprep.checks.report import Finding, Report, finding
from cocoprep.parallel import worker_count
from cocoprep.progress import Progress


def _pairing(labels: Iterable[Path], images: Iterable[Path], source: str) -> list[Finding]:
    """label-without-image and image-without-label findings."""
    by_label = {yolo.label_path_of(image): image for image in images}
    label_set = set(labels)
    out = [
        finding(
            "label-without-image",
            str(label),
            "no image of this name in the images folder; its objects are never trained on",
        )
        for label in sorted(label_set - set(by_label))
    ]
    out += [
        finding(
            "image-without-label",
            str(image),
            f"no label file ({label.name}); Ultralytics trains it as a background image",
            image=str(image),
        )
        for label, image in sorted(by_label.items())
        if label not in label_set
    ]
    return out


def validate_labels(
    labels_dir: str | os.PathLike,
    *,
    nc: int | None = None,
    workers: int | None = None,
    progress: Progress = None,
) -> Report:
    """Check a YOLO labels folder, and its pairing with the images folder when that exists."""
    labels_dir = Path(labels_dir)
    report = Report(targets=[str(labels_dir)])
    ctx, note = label_context(labels_dir, nc)
    if note:
        report.notes.append(note)
    files = yolo.label_files(labels_dir)
    report.findings += check_label_files(
        files, ctx, workers=worker_count(workers), progress=progress, desc="labels"
    )
    report.checked["label files"] += len(files)
    images_dir = yolo.images_dir_of(labels_dir)
    if images_dir.is_dir():
        images = yolo.image_files(images_dir)
        report.findings += _pairing(files, images, str(labels_dir))
        report.checked["images"] += len(images)
    else:
        report.notes.append(f"{labels_dir}: no images folder at {images_dir}: pairing unchecked")
    return report


def validate_dataset(
    yaml_path: str | os.PathLike,
    *,
    nc: int | None = None,
    workers: int | None = None,
    progress: Progress = None,
) -> Report:
    """Check a dataset yaml: names/nc, and every split it names (images ↔ labels, label files)."""
    spec = datasetyaml.read_dataset_yaml(yaml_path)
    source = str(spec.yaml)
    report = Report(targets=[source])
    if spec.nc is not None and spec.nc != len(spec.names):
        message = f"nc is {spec.nc} but names lists {len(spec.names)} classes; make them agree"
        report.findings.append(finding("names-mismatch", source, message))
    record = layout.read_record(spec.root)
    ctx = LabelContext(
        nc=nc if nc is not None else len(spec.names),
        kpt_shape=spec.kpt_shape,
        obb=record is not None and record.get("task") == "obb",
    )
    for key, entries in spec.splits.items():
        for entry in entries:
            images, missing = yolo.split_images(entry)
            report.findings += [
                finding(
                    "missing-image",
                    str(entry),
                    f"{key}: {line} does not exist or is no image Ultralytics loads",
                    image=line,
                )
                for line in missing
            ]
            labels = {yolo.label_path_of(image) for image in images}
            present = sorted(p for p in labels if p.is_file())
            report.findings += check_label_files(
                present,
                ctx,
                workers=worker_count(workers),
                progress=progress,
                desc=f"labels {key}",
            )
            folders = {p.parent for p in labels}
            orphans = {p for folder in folders if folder.is_dir() for p in folder.glob("*.txt")}
            report.findings += _pairing(orphans | set(present), images, source)
            report.checked["images"] += len(images)
            report.checked["label files"] += len(present)
    return report

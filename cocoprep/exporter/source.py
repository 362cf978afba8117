"""What ``export`` reads: a YOLO dataset (a yaml, or a root with cocoprep's record), a folder of
prediction labels, and optionally a ``like`` COCO file, resolved into each split's images (ids,
file names, sizes, label files) and the categories by class index."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep import coco, datasetyaml, layout, yolo
from cocoprep import progress as progress_bars
from cocoprep.errors import InputError
from cocoprep.exporter import categories as cats
from cocoprep.exporter import record
from cocoprep.exporter.images import (
    SplitImages,
    header_sizes,
    ids_from_stems,
    relative_names,
)


@dataclass
class Dataset:
    """A YOLO dataset as export sees it. ``entries`` maps each split to what the yaml (or the
    root) points it at: a list file, an image folder, or a labels folder (predictions)."""

    path: Path
    root: Path | None
    record: dict[str, Any] | None
    names: dict[int, str] | None
    kpt_shape: tuple[int, int] | None
    entries: dict[str, Path] = field(default_factory=dict)
    predictions: bool = False


def _split_name(entry: Path) -> str:
    """A split's name from its yaml entry: a list file's stem, a folder's name.

    >>> _split_name(Path("/d/train2017.txt")), _split_name(Path("/d/images/val"))
    ('train2017', 'val')
    """
    return entry.stem if entry.suffix == ".txt" else entry.name


def _from_yaml(path: Path) -> Dataset:
    spec = datasetyaml.read_dataset_yaml(path)
    entries: dict[str, Path] = {}
    for sources in spec.splits.values():
        for entry in sources:
            entries.setdefault(_split_name(entry), entry)
    return Dataset(
        path=path,
        root=spec.root,
        record=layout.read_record(spec.root) if spec.root.is_dir() else None,
        names=spec.names,
        kpt_shape=spec.kpt_shape,
        entries=entries,
    )


def _from_root(path: Path) -> Dataset:
    found = layout.read_record(path)
    yamls = sorted(p for p in path.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    if found is None and len(yamls) == 1:
        return _from_yaml(yamls[0])
    if found is None:
        what = f"{len(yamls)} yamls" if yamls else "no dataset yaml"
        msg = (
            f"{path}: {what} and no cocoprep record ({layout.RECORD_NAME}); pass the dataset "
            "yaml instead of the folder"
        )
        raise InputError(msg, path=path)
    names = {i: str(c["name"]) for i, c in enumerate(found["classes"])}
    keypoints = found.get("keypoints")
    entries = {}
    for split in found.get("splits", {}):
        listing = path / f"{split}.txt"
        entries[split] = listing if listing.is_file() else path / "images" / split
    return Dataset(
        path=path,
        root=path,
        record=found,
        names=names,
        kpt_shape=(len(keypoints), 3) if keypoints else None,
        entries=entries,
    )


def open_dataset(dataset: str | os.PathLike, *, predictions: bool = False) -> Dataset:
    """Resolve ``dataset``: a dataset yaml, a root (with cocoprep's record, or one yaml), or with
    ``predictions`` a folder of prediction labels (``runs/detect/predict`` or its ``labels``)."""
    path = Path(dataset)
    if predictions:
        labels = path / "labels" if (path / "labels").is_dir() else path
        if not labels.is_dir():
            msg = f"{path}: no such folder (expected the predictions' labels folder)"
            raise InputError(msg, path=path)
        return Dataset(path, None, None, None, None, {"predictions": labels}, predictions=True)
    if path.is_file():
        return _from_yaml(path)
    if path.is_dir():
        return _from_root(path)
    msg = f"{path}: no such file or folder (expected a dataset yaml or root)"
    raise InputError(msg, path=path)


def _listed_images(entry: Path) -> list[Path]:
    """The images a split entry names, whether or not they exist: a list file's lines (``./``
    relative to its folder) or a folder's images."""
    if entry.is_dir():
        return yolo.image_files(entry)
    if not entry.is_file():
        msg = f"{entry}: the split's list file or image folder does not exist"
        raise InputError(msg, path=entry)
    images = []
    for line in entry.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            image = Path(line[2:] if line.startswith("./") else line)
            images.append(image if image.is_absolute() else entry.parent / image)
    return images


def _label_files(dataset: Dataset, split: str) -> list[Path]:
    """Every label file of a split: of each image it lists (or, for predictions, in its folder)."""
    entry = dataset.entries[split]
    if dataset.predictions:
        return yolo.label_files(entry)
    recorded = record.read_split(dataset.root, split) if dataset.record else None
    if recorded is not None:
        return [Path(p) for p in _recorded_labels(dataset.root, recorded)]
    if entry.is_file():
        return [yolo.label_path_of(p) for p in _listed_images(entry)]
    # An image folder's labels folder, whether or not the images are there.
    return yolo.label_files(yolo.label_path_of(entry / "x.jpg").parent)


def _recorded_labels(root: Path, recorded: record.RecordedSplit) -> list[str]:
    """The label file of each recorded image (as text: 118K paths in ~0.1 s)."""
    root_text = root.as_posix()
    return [layout.label_file(root_text, p) for p in recorded.paths]


def like_images(dataset: Dataset, split: str, like: coco.CocoFile) -> SplitImages:
    """The images of ``like`` (all of them, in its order), each with the split's label file of
    the same stem; label files of no image of ``like`` are counted, not exported."""
    by_stem: dict[str, Path] = {}
    for label in _label_files(dataset, split):
        other = by_stem.setdefault(label.stem, label)
        if other != label:
            msg = f"{label} and {other} share the stem {label.stem!r}; export them separately"
            raise InputError(msg, path=label)
    table = like.images
    names = record.RecordedSplit(
        like.split, str(like.path), table.ids, list(table.paths), table.widths, table.heights, []
    ).file_names()
    labels = []
    for name in names:
        found = by_stem.pop(Path(name).stem, None)
        labels.append(str(found) if found else None)
    return SplitImages(
        split=split,
        ids=table.ids,
        file_names=names,
        widths=table.widths,
        heights=table.heights,
        labels=labels,
        counts={"labels_without_image": len(by_stem)} if by_stem else {},
    )


def split_images(
    dataset: Dataset, split: str, *, workers: int, progress: progress_bars.Progress
) -> SplitImages:
    """The images of a split: from cocoprep's record of it when there is one, else from the
    image files (ids from their stems, sizes from their headers)."""
    recorded = record.read_split(dataset.root, split) if dataset.record else None
    if recorded is not None:
        return SplitImages(
            split=split,
            ids=recorded.ids,
            file_names=recorded.file_names(),
            widths=recorded.widths,
            heights=recorded.heights,
            labels=_recorded_labels(dataset.root, recorded),
            counts={},
        )
    entry = dataset.entries[split]
    images = _listed_images(entry)
    widths, heights = header_sizes(images, workers=workers, progress=progress)
    return SplitImages(
        split=split,
        ids=ids_from_stems(images),
        file_names=relative_names(images, entry if entry.is_dir() else None),
        widths=widths,
        heights=heights,
        labels=[str(yolo.label_path_of(p)) for p in images],
        counts={},
    )


def split_categories(
    dataset: Dataset, split: str, like: coco.CocoFile | None
) -> list[dict[str, Any]]:
    """The categories of a split in class-index order (see :mod:`cocoprep.exporter.categories`)."""
    originals = like.categories if like is not None else []
    if dataset.record is not None:
        if like is None:
            recorded = record.read_split(dataset.root, split)
            originals = recorded.categories if recorded is not None else []
        return cats.recorded_categories(dataset.record["classes"], originals)
    if like is not None:
        return cats.like_categories(like.categories, dataset.names, str(like.path))
    if not dataset.names:
        msg = f"{dataset.path}: no class names; pass {{like}} for the categories"
        raise InputError(msg, path=dataset.path, params=["like"])
    return cats.foreign_categories(dataset.names)


def keypoint_shape(dataset: Dataset, categories: list[dict[str, Any]]) -> tuple[int, int] | None:
    """The keypoint shape of pose rows: the yaml's or record's, else that of the categories."""
    if dataset.kpt_shape is not None:
        return dataset.kpt_shape
    for category in categories:
        names = category.get("keypoints")
        if isinstance(names, list) and names:
            return (len(names), 3)
    return None


def check_ids(images: SplitImages, source: str) -> None:
    """An error when two images share an id."""
    unique, counts = np.unique(images.ids, return_counts=True)
    if len(unique) != len(images.ids):
        msg = f"{source}: image id {int(unique[counts > 1][0])} appears more than once"
        raise InputError(msg)

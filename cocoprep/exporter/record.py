"""What ``export`` needs of a converted split, recorded by ``convert`` beside the root's record.

``ROOT/.cocoprep/images-<split>.json`` holds the split's images as columns (ids, paths below
``ROOT/images``, widths, heights) and the categories of the COCO file it came from, so labels can
be turned back into COCO JSON with the original image ids, file names, sizes and category
definitions (supercategory, keypoints, skeleton). Columns keep it small: train2017's 118K images
take ~5 MB here, and ``ROOT/cocoprep.json`` stays a few kilobytes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from cocoprep.errors import InputError, UnsafePathError
from cocoprep.fileio import write_atomic

FOLDER = ".cocoprep"
VERSION = 1


@dataclass(frozen=True)
class RecordedSplit:
    """The images and categories of one converted split."""

    split: str
    source: str
    ids: np.ndarray
    paths: list[str]  # below ROOT/images, as convert wrote them (``val2017/0001.jpg``)
    widths: np.ndarray
    heights: np.ndarray
    categories: list[dict[str, Any]]

    def file_names(self) -> list[str]:
        """COCO ``file_name`` of each image: its path without the split's folder.

        >>> split = RecordedSplit("val", "x.json", np.array([1, 2]), ["val/a.jpg", "b/c.jpg"],
        ...                       np.array([1.0, 1.0]), np.array([1.0, 1.0]), [])
        >>> split.file_names()
        ['a.jpg', 'b/c.jpg']
        """
        prefix = self.split + "/"
        return [p[len(prefix) :] if p.startswith(prefix) else p for p in self.paths]


def record_path(root: str | os.PathLike, split: str) -> Path:
    """Where the images of ``split`` are recorded; an error for a split name that would leave
    the record's folder.

    >>> record_path("/d", "val2017").as_posix()
    '/d/.cocoprep/images-val2017.json'
    """
    if not split or "/" in split or "\\" in split or split in (".", "..") or "\n" in split:
        msg = f"split name {split!r} cannot name a file; expected a plain name such as 'val2017'"
        raise UnsafePathError(msg)
    return Path(root) / FOLDER / f"images-{split}.json"


def _numbers(values: np.ndarray) -> np.ndarray:
    """Whole sizes as integers (COCO's are), others as they are."""
    values = np.asarray(values, np.float64)
    if np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values


def record_split(
    root: str | os.PathLike,
    split: str,
    *,
    source: str,
    ids: np.ndarray,
    paths: Sequence[str],
    widths: np.ndarray,
    heights: np.ndarray,
    categories: Sequence[dict[str, Any]],
) -> Path:
    """Write the record of one converted split atomically; return its path."""
    data = {
        "version": VERSION,
        "split": split,
        "source": source,
        "ids": np.asarray(ids, np.int64),
        "paths": list(paths),
        "widths": _numbers(widths),
        "heights": _numbers(heights),
        "categories": list(categories),
    }
    path = record_path(root, split)
    write_atomic(path, orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return path


def read_split(root: str | os.PathLike, split: str) -> RecordedSplit | None:
    """The record of ``split`` under ``root``, or None when convert wrote none."""
    path = record_path(root, split)
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as error:
        msg = f"{path}: unreadable image record ({error}); convert the split again to rewrite it"
        raise InputError(msg, path=path) from None
    try:
        recorded = RecordedSplit(
            split=split,
            source=str(data["source"]),
            ids=np.array(data["ids"], np.int64),
            paths=[str(p) for p in data["paths"]],
            widths=np.array(data["widths"], np.float64),
            heights=np.array(data["heights"], np.float64),
            categories=[dict(c) for c in data["categories"]],
        )
    except (KeyError, TypeError, ValueError) as error:
        msg = f"{path}: image record lacks or mistypes {error}; convert the split again"
        raise InputError(msg, path=path) from None
    if (
        not len(recorded.ids)
        == len(recorded.paths)
        == len(recorded.widths)
        == len(recorded.heights)
    ):
        msg = f"{path}: image record columns differ in length; convert the split again"
        raise InputError(msg, path=path)
    return recorded


def record_converted(root: str | os.PathLike, split: str, coco_file: Any) -> Path:
    """Record what ``export`` needs of a split ``convert`` just wrote from ``coco_file`` (a
    :class:`cocoprep.coco.CocoFile`): its images and categories. Convert calls it under
    :func:`cocoprep.layout.root_lock`; the file is replaced atomically."""
    images = coco_file.images
    text = images.paths.text  # one path a line (convert refuses paths with line breaks)
    return record_split(
        root,
        split,
        source=str(coco_file.path),
        ids=images.ids,
        paths=text[:-1].split("\n") if text else [],
        widths=images.widths,
        heights=images.heights,
        categories=coco_file.categories,
    )

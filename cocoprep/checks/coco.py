"""Checks of a COCO file: its images and categories here, its annotations in
:mod:`cocoprep.checks.coco_annotations`, over byte ranges of the file as ``convert`` reads them
(:func:`cocoprep.coco.read_coco`), in joblib workers when the file is large."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep import coco, jsonscan, layout
from cocoprep.checks.coco_annotations import (
    NO_ID,
    CheckContext,
    ChunkFindings,
    check_annotations,
    check_context,
    is_number,
)
from cocoprep.checks.report import Finding, Report, finding, shifted
from cocoprep.datasetyaml import keypoint_names_of
from cocoprep.errors import InputError
from cocoprep.parallel import PARALLEL_MIN_BYTES, run_in_order, worker_count
from cocoprep.progress import Progress


@dataclass
class ImageChecks:
    """The images array as checked: ids (``has_id`` where usable), sizes (NaN where unusable)."""

    findings: list[Finding]
    ids: np.ndarray
    has_id: np.ndarray
    widths: np.ndarray
    heights: np.ndarray


def check_images(images: list[Any], source: str) -> ImageChecks:
    """Check the images array: integer unique ids, positive sizes, usable paths."""
    n = len(images)
    sizes = np.full((n, 2), np.nan)
    has_id = np.zeros(n, bool)
    out: list[Finding] = []
    ids = np.zeros(n, np.int64)
    paths: list[tuple[int, str, bool]] = []  # position, path below the split, reduced
    for i, image in enumerate(images):
        if type(image) is not dict:
            out.append(finding("bad-id", source, "image entry is not an object", index=i))
            continue
        iid = image.get("id")
        if type(iid) is not int:
            out.append(finding("bad-id", source, f"image id {iid!r}: expected an integer", index=i))
            continue
        if not -(2**63) <= iid < 2**63:
            message = f"image id {iid} does not fit in 64 bits; renumber the image"
            out.append(finding("bad-id", source, message, index=i))
            continue
        has_id[i], ids[i] = True, iid
        size = [image.get("width"), image.get("height")]
        if all(is_number(v) and 0 < v < float("inf") for v in size):
            sizes[i] = size
        else:
            message = (
                f"width {size[0]!r}, height {size[1]!r}: expected positive numbers; "
                "set them from the image file"
            )
            out.append(finding("bad-image-size", source, message, image=iid, index=i))
        try:
            # Under the split's folder in convert: the same one for every image here.
            relpath, reduced = coco.relpath_of(image, "")
        except InputError as error:
            out.append(finding("bad-image-path", source, str(error), image=iid, index=i))
            continue
        paths.append((i, relpath.removeprefix("/"), reduced))
    out += _path_repeats(images, paths, source)
    out += duplicates(ids, has_id, source, "image")
    return ImageChecks(out, ids, has_id, sizes[:, 0], sizes[:, 1])


def _path_repeats(
    images: list[Any], paths: list[tuple[int, str, bool]], source: str
) -> list[Finding]:
    """What convert refuses in the images' paths, as findings: file names that become one path
    once those outside the images folder are reduced to their name (each repeat), else two
    images that would share a label file."""
    out = []
    if any(reduced for _, _, reduced in paths):
        first: dict[str, int] = {}
        for i, path, _ in paths:
            j = first.setdefault(path, i)
            if j != i:
                message = (
                    f"file_name {images[i].get('file_name')!r} becomes {path!r} like "
                    f"{images[j].get('file_name')!r} (paths outside the images folder are "
                    "reduced to their name); rename one of them"
                )
                image = images[i].get("id")
                out.append(finding("bad-image-path", source, message, image=image, index=i))
    if not out:  # (a repeated path shares a label file too: said better above)
        try:
            layout.check_label_names(source, coco.StringColumn(p for _, p, _ in paths))
        except InputError as error:
            message = str(error).removeprefix(f"{source}: ")
            out.append(finding("bad-image-path", source, message))
    return out


def duplicates(ids: np.ndarray, has_id: np.ndarray, source: str, what: str) -> list[Finding]:
    """A duplicate-id finding for every repeat of an id (at the repeat's position)."""
    positions = np.flatnonzero(has_id)
    order = positions[np.argsort(ids[positions], kind="stable")]
    sorted_ids = ids[order]
    repeat = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1]) + 1
    out = []
    first_of: dict[int, int] = {}
    for r in repeat.tolist():
        value = int(sorted_ids[r])
        first = first_of.setdefault(value, int(order[r - 1]))
        message = f"{what} id {value} was already used at position {first}; ids must be unique"
        where = {"annotation": value} if what == "annotation" else {"image": value}
        if what == "category":
            where = {}
        kind = "duplicate-annotation-id" if what == "annotation" else "duplicate-id"
        out.append(finding(kind, source, message, index=int(order[r]), **where))
    return out


def check_categories(categories: Any, source: str) -> tuple[list[Finding], np.ndarray | None]:
    """Check the categories array; returns findings and the sorted category ids (None when the
    array is unusable)."""
    if not isinstance(categories, list):
        message = "'categories' is missing or not a list; a COCO file needs one"
        return [finding("bad-categories", source, message)], None
    out = []
    ids = np.zeros(len(categories), np.int64)
    has_id = np.zeros(len(categories), bool)
    for i, category in enumerate(categories):
        cid = category.get("id") if type(category) is dict else None
        if type(cid) is not int or "name" not in category:
            message = f"categories[{i}] needs an integer 'id' and a 'name'"
            out.append(finding("bad-categories", source, message, index=i))
            continue
        ids[i], has_id[i] = cid, True
    out += duplicates(ids, has_id, source, "category")
    return out, np.unique(ids[has_id])


def _keypoint_count(categories: Any) -> int:
    """The keypoints per annotation convert's pose rows will hold (0 when none are named)."""
    usable = [c for c in categories if type(c) is dict] if isinstance(categories, list) else []
    return len(keypoint_names_of(usable) or ())


def _check_range(path: str, start: int, end: int, ctx: CheckContext) -> ChunkFindings:
    with jsonscan.gc_paused():
        return check_annotations(jsonscan.parse_file_range(path, start, end), ctx)


def validate_coco(
    path: str | os.PathLike,
    *,
    workers: int | None = None,
    tolerance: float = 1.0,
    progress: Progress = None,
    chunk_bytes: int = 8 << 20,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
) -> Report:
    """Check a COCO JSON file: its images, categories and every annotation.

    The annotations are checked in byte ranges of about ``chunk_bytes``, by ``workers``
    processes when they hold at least ``parallel_min_bytes``.
    """
    path = Path(path)
    source = str(path)
    with jsonscan.gc_paused():
        raw = coco.read_coco(path, chunk_bytes=chunk_bytes)
        report = Report(targets=[source])
        images = check_images(raw.images, source)
        category_findings, category_ids = check_categories(raw.categories, source)
        report.findings += images.findings + category_findings
        ctx = check_context(
            source,
            images.ids,
            images.has_id,
            images.widths,
            images.heights,
            category_ids,
            tolerance,
            _keypoint_count(raw.categories),
        )
        chunks = _check_chunks(raw, ctx, worker_count(workers), parallel_min_bytes, progress)
    offset = 0
    all_ids = []
    for chunk in chunks:
        report.findings += [shifted(f, offset) for f in chunk.findings]
        all_ids.append(chunk.ids)
        offset += chunk.count
        report.checked["polygons"] += chunk.polygons
    ids = np.concatenate(all_ids) if all_ids else np.empty(0, np.int64)
    report.findings += duplicates(ids, ids != NO_ID, source, "annotation")
    report.checked.update(annotations=offset, images=len(raw.images))
    return report


def _check_chunks(
    raw: coco.RawCoco, ctx: CheckContext, workers: int, parallel_min_bytes: int, progress: Progress
) -> list[ChunkFindings]:
    """The findings of every chunk of annotations: from the byte ranges, or from the file read
    whole when a range does not parse."""
    desc = f"validate {raw.path.name}"

    def compute(raw: coco.RawCoco) -> list[ChunkFindings]:
        if raw.annotations is not None:
            batches = list(coco.iter_annotation_batches(raw))
            jobs: list[tuple] = [(batch, ctx) for batch in batches]
            sizes = [len(b) for b in batches]
            function, unit, parallel = check_annotations, "ann", False
        else:
            ranges = raw.annotation_ranges or []
            jobs = [(str(raw.path), s, e, ctx) for s, e in ranges]
            sizes = [e - s for s, e in ranges]
            function, unit, parallel = _check_range, "B", sum(sizes) >= parallel_min_bytes
        return list(
            run_in_order(
                function,
                jobs,
                sizes,
                workers=workers if parallel else 1,
                desc=desc,
                unit=unit,
                progress=progress,
            )
        )

    return coco.ranges_else_whole(raw, compute)

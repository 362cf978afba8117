"""YOLO label rows → COCO annotations (or a results list of predictions): the pure per-block
work of ``export``.

:func:`block_annotations` reads the label files of a block of images, classifies their rows,
and returns each annotation as the JSON text of an object without its ``id`` (the caller numbers
them, in file order, as it writes), with counts of what it skipped and why. Pixel coordinates
are rounded to 2 decimals (COCO's own precision; labels hold ~6 significant digits).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from cocoprep import jsonscan, yolo
from cocoprep.errors import InputError

TASKS = ("detect", "segment", "pose")
#: Row kinds, and the task each one shows.
BOX, POLYGON, POSE, BAD = "box", "polygon", "pose", "bad"
TASK_OF_KIND = {BOX: "detect", POLYGON: "segment", POSE: "pose"}
#: What each task accepts: its own rows, and rows it can be read from (a polygon's extent is its
#: box; a box is a rectangle).
ACCEPTS = {"detect": {BOX, POLYGON, POSE}, "segment": {POLYGON, BOX}, "pose": {POSE}}
DECIMALS = 2


@dataclass(frozen=True)
class Rules:
    """How a split's rows are read (small and picklable, the same for every block)."""

    category_ids: tuple[int, ...]  # category id of each class index
    task: str | None = None  # None: the task the rows show
    kpt_shape: tuple[int, int] | None = None
    predictions: bool = False  # rows end with a confidence; results instead of annotations


@dataclass
class Block:
    """The annotations of a block of images, as JSON objects without ``id``: annotation ``a`` is
    ``text[ends[a - 1]:ends[a]]``. ``kinds`` maps each row kind seen to a file that has it."""

    text: bytes
    ends: np.ndarray
    kinds: dict[str, str] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    task: str | None = None
    images_with_objects: int = 0


def row_kinds(counts: np.ndarray, kpt_shape: tuple[int, int] | None, predictions: bool):
    """Each row's kind from its count of numbers after the class (and before the confidence of a
    prediction).

    >>> row_kinds(np.array([4, 6, 5, 55]), (17, 3), False).tolist()
    ['box', 'polygon', 'bad', 'pose']
    >>> row_kinds(np.array([5, 7, 4]), None, True).tolist()
    ['box', 'polygon', 'bad']
    """
    n = np.asarray(counts) - (1 if predictions else 0)
    kinds = np.full(len(n), BAD, dtype=object)
    kinds[n == 4] = BOX
    kinds[(n >= 6) & (n % 2 == 0)] = POLYGON
    if kpt_shape is not None:
        sizes = [4 + kpt_shape[0] * kpt_shape[1]]
        if predictions and kpt_shape[1] == 3:  # Ultralytics drops visibility when it has none
            sizes.append(4 + kpt_shape[0] * 2)
        kinds[np.isin(n, sizes)] = POSE
    return kinds


def _block_task(kinds: np.ndarray, files: np.ndarray, paths: Sequence[str], rules: Rules):
    """The task of the block and the kind → example file map; an error when the rows show two
    tasks."""
    seen: dict[str, str] = {}
    for kind in (BOX, POLYGON, POSE):
        rows = np.flatnonzero(kinds == kind)
        if len(rows):
            seen[kind] = paths[int(files[rows[0]])]
    if rules.task is not None:
        return rules.task, seen
    check_one_task(seen)
    return (TASK_OF_KIND[next(iter(seen))] if seen else None), seen


def check_one_task(seen: dict[str, str]) -> None:
    """An error naming a file of each when the row kinds ``seen`` (kind → a file with such
    rows) show more than one task."""
    if len(seen) > 1:
        (a, file_a), (b, file_b) = list(seen.items())[:2]
        msg = (
            f"the labels mix tasks: {file_a} has {a} rows ({TASK_OF_KIND[a]}) but {file_b} has "
            f"{b} rows ({TASK_OF_KIND[b]}); export each task from its own folder or pass {{task}}"
        )
        raise InputError(msg, params=["task"])


@jsonscan.gc_paused()  # a block builds ~10^5 containers and no cycles
def block_annotations(
    paths: Sequence[str | None],
    image_ids: np.ndarray,
    widths: np.ndarray,
    heights: np.ndarray,
    rules: Rules,
) -> Block:
    """Annotations (or results) from the label files ``paths`` of images with these ids and
    sizes; a missing file (or None) is an image without objects."""
    present = [i for i, path in enumerate(paths) if path]
    batch = yolo.read_label_batch([paths[i] for i in present], missing_ok=True)
    batch.file = np.asarray(present, np.int64)[batch.file]
    rows = batch.rows
    counts: Counter = Counter()
    if batch.unparsable:
        counts["unparsable_rows"] += len(batch.unparsable)
    kinds = row_kinds(rows.counts, rules.kpt_shape, rules.predictions)
    task, seen = _block_task(kinds, batch.file, paths, rules)
    usable = np.isin(kinds, list(ACCEPTS[task])) if task else np.zeros(len(kinds), bool)
    counts[f"rows_not_{task}"] += int((~usable & (kinds != BAD)).sum())
    counts["rows_of_wrong_length"] += int((kinds == BAD).sum())
    classes = rows.classes
    known = (classes == np.round(classes)) & (classes >= 0) & (classes < len(rules.category_ids))
    counts["unknown_class_rows"] += int((usable & ~known).sum())
    keep = np.flatnonzero(usable & known)
    file = batch.file[keep]
    table = _Rows(
        values=rows.values,
        starts=rows.starts[keep],
        counts=rows.counts[keep],
        kinds=kinds[keep],
        category=np.asarray(rules.category_ids, np.int64)[classes[keep].astype(np.int64)],
        image_id=np.asarray(image_ids, np.int64)[file],
        width=np.asarray(widths, np.float64)[file],
        height=np.asarray(heights, np.float64)[file],
        predictions=rules.predictions,
        keypoints=rules.kpt_shape[0] if rules.kpt_shape else 0,
    )
    objects = _BUILDERS[task](table, counts) if task else []
    pieces = [orjson.dumps(o, option=orjson.OPT_SERIALIZE_NUMPY) for o in objects]
    ends = np.cumsum(np.fromiter(map(len, pieces), np.int64, len(pieces)))
    counts = Counter({k: v for k, v in counts.items() if v})
    return Block(
        b"".join(pieces),
        ends,
        kinds=seen,
        counts=counts,
        task=task,
        images_with_objects=len({o["image_id"] for o in objects}),
    )


@dataclass
class _Rows:
    """The kept rows of a block, with their image's id and size and their category."""

    values: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    kinds: np.ndarray
    category: np.ndarray
    image_id: np.ndarray
    width: np.ndarray
    height: np.ndarray
    predictions: bool
    keypoints: int  # keypoints per pose row

    def numbers(self, r: int) -> np.ndarray:
        """Row ``r``'s numbers, without a prediction's confidence."""
        end = self.starts[r] + self.counts[r] - (1 if self.predictions else 0)
        return self.values[self.starts[r] : end]

    def scores(self) -> np.ndarray:
        """Each row's confidence (a prediction's last number)."""
        return self.values[self.starts + self.counts - 1]

    def heads(self) -> list[dict[str, Any]]:
        """The fields every object of each row starts with."""
        ids, categories = self.image_id.tolist(), self.category.tolist()
        return [{"image_id": i, "category_id": c} for i, c in zip(ids, categories, strict=True)]

    def tail(self, r: int, score: float | None) -> dict[str, Any]:
        """The fields every object ends with: ``score`` (results) or ``iscrowd``."""
        return {"iscrowd": 0} if score is None else {"score": score}


def _pixels(values: np.ndarray) -> np.ndarray:
    return np.round(values, DECIMALS) + 0.0  # + 0.0: no -0.0 in the JSON


def _boxes(table: _Rows) -> np.ndarray:
    """Pixel ``[x, y, w, h]`` of every row: a box row's box, a polygon row's extent."""
    boxes = np.empty((len(table.counts), 4))
    for r, kind in enumerate(table.kinds):
        numbers = table.numbers(r)
        if kind == POLYGON:
            points = numbers.reshape(-1, 2)
            low, high = points.min(axis=0), points.max(axis=0)
            boxes[r] = [*low, *(high - low)]
        else:
            cx, cy, w, h = numbers[:4]
            boxes[r] = [cx - w / 2, cy - h / 2, w, h]
    scale = np.stack([table.width, table.height, table.width, table.height], axis=1)
    return _pixels(boxes * scale)


def _scores(table: _Rows) -> list[float | None]:
    if not table.predictions:
        return [None] * len(table.counts)
    return np.round(table.scores(), 5).tolist()


def _detect(table: _Rows, counts: Counter) -> list[dict[str, Any]]:
    boxes = _boxes(table)
    areas = np.round(boxes[:, 2] * boxes[:, 3], 4).tolist()
    out = []
    rows = zip(table.heads(), boxes.tolist(), areas, _scores(table), strict=True)
    for r, (head, box, area, score) in enumerate(rows):
        extra = {"area": area} if score is None else {}
        out.append({**head, "bbox": box, **extra, **table.tail(r, score)})
    return out


def _pose(table: _Rows, counts: Counter) -> list[dict[str, Any]]:
    boxes = _boxes(table)
    areas = np.round(boxes[:, 2] * boxes[:, 3], 4).tolist()
    out = []
    rows = zip(table.heads(), boxes.tolist(), areas, _scores(table), strict=True)
    for r, (head, box, area, score) in enumerate(rows):
        points = table.numbers(r)[4:]
        dims = len(points) // table.keypoints
        points = points.reshape(-1, dims)
        xy = _pixels(points[:, :2] * [table.width[r], table.height[r]])
        if dims == 3:
            visible = points[:, 2] if score is not None else np.round(points[:, 2])
        else:  # no visibility: labelled where not at the origin
            visible = np.where((points[:, :2] != 0).any(axis=1), 2.0, 0.0)
        keypoints = np.column_stack([xy, visible])
        fields: dict[str, Any] = {"bbox": box, "keypoints": _keypoint_list(keypoints, score)}
        if score is None:
            fields.update(area=area, num_keypoints=int((visible > 0).sum()))
        out.append({**head, **fields, **table.tail(r, score)})
    return out


def _keypoint_list(keypoints: np.ndarray, score: float | None) -> list[float | int]:
    flat = keypoints.ravel().tolist()
    if score is None:  # ground truth: visibility flags are integers
        flat[2::3] = [int(v) for v in flat[2::3]]
    return flat


def _segment(table: _Rows, counts: Counter) -> list[dict[str, Any]]:
    """Segment objects: the parts of one image's rows rasterised by pycocotools in one call, the
    boxes and areas of all the block's masks in one call each."""
    from pycocotools import mask as mask_utils

    parts = _pixel_parts(table)
    rows: list[int] = []
    masks = []
    for first, last in _image_runs(table.image_id):
        image_rows = [r for r in range(first, last) if parts[r]]
        counts["degenerate_polygons_skipped"] += last - first - len(image_rows)
        if not image_rows:
            continue
        height, width = round(table.height[first]), round(table.width[first])
        rles = mask_utils.frPyObjects([p for r in image_rows for p in parts[r]], height, width)
        at = 0
        for r in image_rows:
            n = len(parts[r])
            masks.append(rles[at] if n == 1 else mask_utils.merge(rles[at : at + n]))
            at += n
        rows += image_rows
    if not rows:
        return []
    boxes = _pixels(mask_utils.toBbox(masks)).tolist()
    # pycocotools' area() fails on more than 255 masks at once (a uint8 count).
    areas = [a for i in range(0, len(masks), 255) for a in mask_utils.area(masks[i : i + 255])]
    heads, scores = table.heads(), _scores(table)
    out = []
    for r, mask, box, area in zip(rows, masks, boxes, areas, strict=True):
        if scores[r] is None:
            fields = {"bbox": box, "area": float(area), "segmentation": parts[r]}
        else:
            rle = {"size": mask["size"], "counts": mask["counts"].decode("ascii")}
            fields = {"bbox": box, "segmentation": rle}
        out.append({**heads[r], **fields, **table.tail(r, scores[r])})
    return out


def _image_runs(image_ids: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last + 1)`` of each run of rows of one image (rows come grouped by image).

    >>> _image_runs(np.array([4, 4, 9, 2, 2]))
    [(0, 2), (2, 3), (3, 5)]
    """
    if not len(image_ids):
        return []
    cuts = (np.flatnonzero(image_ids[1:] != image_ids[:-1]) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, len(image_ids)], strict=True))


def _coordinate_counts(table: _Rows, rows: np.ndarray) -> np.ndarray:
    """How many coordinates each of ``rows`` has (a prediction's confidence left out)."""
    return table.counts[rows] - (1 if table.predictions else 0)


def _pixel_parts(table: _Rows) -> list[list[np.ndarray]]:
    """The polygon parts of each row in pixels (rounded), as flat arrays of x, y (which orjson
    writes as it writes floats); a ring cocoprep bridged split into its parts, a box row as its
    rectangle, parts of < 3 distinct points dropped (a row of none is degenerate).

    Rows whose ring repeats no vertex (nearly all) are one part of at least 3 distinct points;
    the others are split together (:func:`yolo.split_bridged_rows`)."""
    parts: list[list[np.ndarray]] = [[] for _ in range(len(table.counts))]
    polygon = np.flatnonzero(table.kinds == POLYGON)
    lengths = _coordinate_counts(table, polygon)
    ends = np.cumsum(lengths)
    index = np.repeat(table.starts[polygon] - ends + lengths, lengths) + np.arange(lengths.sum())
    points = table.values[index].reshape(-1, 2)
    row_of_point = np.repeat(np.arange(len(polygon)), lengths // 2)
    size = np.stack([table.width, table.height], axis=1)[polygon]
    flat = _pixels(points * size[row_of_point]).ravel()
    bridged, split = yolo.split_bridged_rows(
        row_of_point, points, lengths // 2, flat.reshape(-1, 2)
    )
    single = np.ones(len(polygon), bool)
    single[bridged] = False
    starts = (ends - lengths)[single].tolist()
    for r, first, last in zip(polygon[single].tolist(), starts, ends[single].tolist(), strict=True):
        parts[r] = [flat[first:last]]
    for r, rings in zip(polygon[bridged].tolist(), split, strict=True):
        parts[r] = [p.ravel() for p in rings if len(p) >= 3]
    for r in np.flatnonzero(table.kinds == BOX).tolist():
        parts[r] = _box_parts(table, r)
    return parts


def _box_parts(table: _Rows, r: int) -> list[np.ndarray]:
    """Box row ``r`` as its pixel rectangle, or none when it has no area (< 3 distinct
    corners)."""
    cx, cy, w, h = table.numbers(r)[:4]
    x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if len(set(map(tuple, corners.tolist()))) < 3:
        return []
    return [_pixels(corners * [table.width[r], table.height[r]]).ravel()]


_BUILDERS = {"detect": _detect, "segment": _segment, "pose": _pose}

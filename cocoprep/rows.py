"""COCO annotations → YOLO label rows: the pure per-chunk work of ``convert``.

:func:`annotation_rows` takes the annotation objects of one chunk of a file and the small,
picklable :class:`RowContext`, and returns the chunk's label text with the image each row belongs
to and counts of everything it skipped. It does no I/O, so it runs unchanged in-process, in joblib
workers or on a Dask cluster.

The objects are either dicts or, on the fast path (:func:`cocoprep.jsonscan.parse_objects`), the
lazy objects of a :mod:`simdjson` document: their numbers are copied out as arrays of doubles in C
(``as_buffer``) instead of becoming millions of Python floats, which is most of what parsing
and extracting a train2017 file costs with a dict-building parser. Both kinds are read the same
way (``ann["key"]``, ``ann.get``), through :func:`_number_bytes` for number arrays.
"""

from __future__ import annotations

import functools
import math
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from simdjson import Array, Object

from cocoprep import geometry, masks, numbers, rectangles
from cocoprep.errors import InputError

if TYPE_CHECKING:
    from cocoprep import coco
    from cocoprep.classmap import ClassMap

TASKS = ("segment", "detect", "pose", "obb")


@dataclass(frozen=True)
class RowContext:
    """What a worker needs to turn annotations into rows (small and picklable)."""

    source: str
    task: str
    keep_crowd: bool
    sorted_image_ids: np.ndarray
    image_order: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    sorted_category_ids: np.ndarray
    category_class: np.ndarray  # class index for each sorted category id, -1 when not kept
    keypoint_count: int = 0  # keypoints per annotation (the category's names); 0: not checked

    def image_positions(self, image_ids: np.ndarray) -> np.ndarray:
        """Positions in the file's image table, -1 for unknown ids."""
        table = self._image_table
        if table is None:
            return _lookup(self.sorted_image_ids, self.image_order, image_ids)
        inside = (image_ids >= 0) & (image_ids < len(table))
        return np.where(inside, table[np.where(inside, image_ids, 0)], -1)

    @functools.cached_property
    def _image_table(self) -> np.ndarray | None:
        """Image position by id, where the ids are dense enough for a table (COCO's are: 118K
        images numbered up to 582K); built on first use, in each process."""
        ids = self.sorted_image_ids
        if not len(ids) or ids[0] < 0 or ids[-1] >= 8 * len(ids) + 4096:
            return None
        table = np.full(int(ids[-1]) + 1, -1, np.int32)
        table[ids] = self.image_order
        return table

    def classes_of(self, category_ids: np.ndarray) -> np.ndarray:
        """Class index per category id: -1 not kept, -2 unknown to the file."""
        found = _lookup(self.sorted_category_ids, self.category_class, category_ids, missing=-2)
        return found


def row_context(
    coco_file: coco.CocoFile,
    class_map: ClassMap,
    task: str,
    keep_crowd: bool,
    keypoint_count: int = 0,
) -> RowContext:
    """The :class:`RowContext` of one opened file and class map (convert's, fidelity's);
    ``keypoint_count``: the keypoints every pose row holds (``kpt_shape[0]`` of the yaml)."""
    images = coco_file.images
    order = np.argsort(images.ids, kind="stable")
    category_ids = np.array(sorted(c["id"] for c in coco_file.categories), np.int64)
    index = class_map.index_of()
    return RowContext(
        source=str(coco_file.path),
        task=task,
        keep_crowd=keep_crowd,
        sorted_image_ids=images.ids[order],
        image_order=order,
        widths=images.widths,
        heights=images.heights,
        sorted_category_ids=category_ids,
        category_class=np.array([index.get(int(c), -1) for c in category_ids], np.int64),
        keypoint_count=keypoint_count,
    )


def keypoint_triples(keypoints: Any, expected: int = 0) -> np.ndarray | None:
    """An annotation's keypoints as ``(K, 3)`` x, y, v rows; None when it has none labelled
    (all v = 0, as COCO's evaluation ignores it). A ``ValueError`` says what is malformed:
    not triples, not numbers, or not the ``expected`` count (0: any).

    >>> keypoint_triples([10, 20, 2, 0, 0, 0], expected=2).tolist()
    [[10.0, 20.0, 2.0], [0.0, 0.0, 0.0]]
    >>> keypoint_triples([1, 2])
    Traceback (most recent call last):
    ValueError: keypoints must be x, y, v triples, found 2 numbers
    """
    keypoints = _plain(keypoints)
    if keypoints is None or (isinstance(keypoints, list) and not keypoints):
        return None
    if not isinstance(keypoints, list) or len(keypoints) % 3:
        found = (
            f"{len(keypoints)} numbers" if isinstance(keypoints, list) else type(keypoints).__name__
        )
        msg = f"keypoints must be x, y, v triples, found {found}"
        raise ValueError(msg)
    if expected and len(keypoints) != 3 * expected:
        msg = (
            f"expected {expected} keypoints (the category's keypoint names), found "
            f"{len(keypoints) // 3}; fix the annotation or the category's 'keypoints'"
        )
        raise ValueError(msg)
    try:
        points = np.asarray(keypoints, np.float64).reshape(-1, 3)
    except (TypeError, ValueError):
        msg = "keypoints must be numbers"
        raise ValueError(msg) from None
    if not np.isfinite(points).all():
        msg = "keypoints hold a non-finite number"
        raise ValueError(msg)
    return points if points[:, 2].any() else None


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, missing: int = -1):
    if len(keys) == 0:
        return np.full(len(query), missing, np.int64)
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], missing)


@dataclass
class ChunkRows:
    """Label rows of one chunk, ordered by image (each image's in annotation order).

    ``image_index[r]`` is the image (position in the file's image table) of row ``r``,
    ``source[r]`` the position of its annotation in the chunk; the row's text is
    ``text[row_ends[r - 1]:row_ends[r]]``.
    """

    image_index: np.ndarray
    text: bytes
    row_ends: np.ndarray
    counts: Counter = field(default_factory=Counter)
    source: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    categories_used: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


def _ann_label(ann: Any) -> str:
    return f"annotation {ann.get('id')!r}" if isinstance(ann, dict | Object) else "annotation"


def _fail(ctx: RowContext, ann: Any, problem: str) -> InputError:
    return InputError(f"{ctx.source}: {_ann_label(ann)}: {problem}")


def _ids(annotations: list[Any], ctx: RowContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image ids, category ids and crowd flags; one pass per field while all is well."""
    try:
        image_ids = [a["image_id"] for a in annotations]
        category_ids = [a["category_id"] for a in annotations]
        ann_ids = [a.get("id", 0) for a in annotations]
        types = set(map(type, image_ids)) | set(map(type, category_ids)) | set(map(type, ann_ids))
        if types <= {int}:
            crowd = np.array([a.get("iscrowd", 0) for a in annotations], bool)
            return np.array(image_ids, np.int64), np.array(category_ids, np.int64), crowd
    except (KeyError, TypeError, AttributeError, OverflowError, ValueError):
        pass
    for ann in annotations:  # find the culprit, for a message naming it
        try:
            image_id, category_id = ann["image_id"], ann["category_id"]
        except (KeyError, TypeError):
            raise _fail(ctx, ann, "needs 'image_id' and 'category_id'") from None
        ann_id = ann.get("id", 0)
        if type(image_id) is not int or type(category_id) is not int or type(ann_id) is not int:
            problem = (
                f"id {ann_id!r}, image_id {image_id!r} and category_id {category_id!r} must be "
                "integers (COCO ids are whole numbers)"
            )
            raise _fail(ctx, ann, problem)
        if not -(2**63) <= image_id < 2**63 or not -(2**63) <= category_id < 2**63:
            raise _fail(ctx, ann, "image_id or category_id is beyond 64 bits")
        try:
            bool(ann.get("iscrowd", 0))
        except (TypeError, ValueError):
            raise _fail(ctx, ann, "iscrowd must be 0 or 1") from None
    msg = f"{ctx.source}: annotations hold values of unexpected types"
    raise InputError(msg)


def _number_bytes(values: Any) -> Any:
    """The numbers of a JSON array (simdjson ``Array`` or list of int/float) as a bytes-like
    object of float64 values.

    Raises TypeError for anything else. A simdjson array of arrays comes out flattened: callers
    compare the count of doubles with ``len(values)``.
    """
    if type(values) is Array:
        return values.as_buffer(of_type="d")
    if type(values) is list and set(map(type, values)) <= {int, float}:
        return array("d", values).tobytes()
    msg = "not an array of numbers"
    raise TypeError(msg)


def _number_array(values: Any) -> np.ndarray:
    """:func:`_number_bytes` as an array; TypeError also for nested arrays."""
    out = np.frombuffer(_number_bytes(values), np.float64)
    if len(out) != len(values):
        msg = "nested arrays"
        raise TypeError(msg)
    return out


def _plain(value: Any) -> Any:
    """A simdjson object or array as Python dicts and lists; anything else as it is."""
    if type(value) is Object:
        return value.as_dict()
    if type(value) is Array:
        return value.as_list()
    return value


def _boxes(annotations: list[Any], ctx: RowContext, required: bool) -> np.ndarray:
    """(n, 4) float64 ``bbox`` values; NaN rows where a box is absent and not required."""
    boxes = [a.get("bbox") for a in annotations]
    try:
        if set(map(len, boxes)) <= {4}:
            out = np.frombuffer(b"".join(map(_number_bytes, boxes)), np.float64)
            if len(out) == 4 * len(boxes):  # else nested arrays came out flattened
                out = out.reshape(len(boxes), 4)
                _check_finite_boxes(out, annotations, ctx)
                return out
    except TypeError:
        pass
    out = np.full((len(annotations), 4), np.nan)
    for i, (ann, box) in enumerate(zip(annotations, boxes, strict=True)):
        box = _plain(box)
        if box is None and not required:
            continue
        if type(box) is not list or len(box) != 4:
            raise _fail(ctx, ann, f"bbox must be [x, y, width, height], found {box!r}")
        if not all(type(v) in (int, float) for v in box):
            raise _fail(ctx, ann, f"bbox must hold numbers, found {box!r}")
        out[i] = box
    _check_finite_boxes(out, annotations, ctx)
    return out


def _check_finite_boxes(out: np.ndarray, annotations: list[Any], ctx: RowContext) -> None:
    absent = np.isnan(out).all(axis=1)
    bad = ~np.isfinite(out).all(axis=1) & ~absent
    if bad.any():
        raise _fail(ctx, annotations[int(np.flatnonzero(bad)[0])], "bbox has a non-finite number")


def annotation_rows(annotations: Iterable[Any], ctx: RowContext) -> ChunkRows:
    """Label rows for a chunk of annotations (see the module docstring)."""
    annotations = list(annotations)  # a simdjson array has no fast random access
    counts: Counter = Counter(annotations=len(annotations))
    image_ids, category_ids, crowd = _ids(annotations, ctx)
    image_pos = ctx.image_positions(image_ids)
    if (image_pos < 0).any():
        bad = int(np.flatnonzero(image_pos < 0)[0])
        problem = f"image_id {int(image_ids[bad])} is not among the file's images"
        raise _fail(ctx, annotations[bad], problem)
    classes = ctx.classes_of(category_ids)
    if (classes == -2).any():
        bad = int(np.flatnonzero(classes == -2)[0])
        problem = f"category_id {int(category_ids[bad])} is not among the file's categories"
        raise _fail(ctx, annotations[bad], problem)

    keep = classes >= 0
    counts["class_filtered"] = int((~keep).sum())
    skip_crowd = crowd & keep & (not ctx.keep_crowd)
    counts["crowd_skipped"] = int(skip_crowd.sum())
    counts["crowd_kept"] = int((crowd & keep).sum()) - counts["crowd_skipped"]
    keep &= ~skip_crowd
    kept = np.flatnonzero(keep)
    # Rows ordered by image (each image's in annotation order): writing the label files then
    # reads each chunk's text in runs instead of all over.
    by_image = kept[np.argsort(image_pos[kept], kind="stable")]
    try:
        image_pos, source, text, ends = _rows(
            annotations, by_image, image_pos, classes, ctx, counts
        )
    except InputError:
        # Checked again in file order, so the error names the chunk's first bad annotation.
        _rows(annotations, kept, image_pos, classes, ctx, Counter())
        raise
    return ChunkRows(
        image_index=image_pos,
        source=source,
        text=text,
        row_ends=ends,
        counts=counts,
        categories_used=np.unique(category_ids),
    )


def _rows(annotations: list[Any], kept, image_pos, classes, ctx: RowContext, counts: Counter):
    """Rows of ``annotations[kept]`` in that order: (image, source, text, row ends)."""
    anns = [annotations[i] for i in kept]
    boxes = _boxes(anns, ctx, required=ctx.task not in ("segment", "obb"))
    image_pos, classes = image_pos[kept], classes[kept]
    widths, heights = ctx.widths[image_pos], ctx.heights[image_pos]

    # Ultralytics' rule, kept for byte-identical labels: a box with w <= 0 or h <= 0 is no object.
    empty_box = (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    if empty_box.any():
        counts["empty_boxes_dropped"] = int(empty_box.sum())
        ok = ~empty_box
        anns = [a for a, good in zip(anns, ok, strict=True) if good]
        boxes, image_pos, classes = boxes[ok], image_pos[ok], classes[ok]
        kept = kept[ok]
        widths, heights = widths[ok], heights[ok]

    if ctx.task == "segment":
        keep_rows, values, npoints = _segment_values(anns, boxes, widths, heights, ctx, counts)
        classes, image_pos, kept = classes[keep_rows], image_pos[keep_rows], kept[keep_rows]
        text, ends = numbers.format_rows(classes, values, npoints * 2, "g")
    elif ctx.task == "obb":
        keep_rows, values = _obb_values(anns, boxes, widths, heights, ctx, counts)
        classes, image_pos, kept = classes[keep_rows], image_pos[keep_rows], kept[keep_rows]
        text, ends = numbers.format_rows(classes, values, np.full(len(classes), 8), "g")
    else:
        values, nvalues, keep_rows = _box_values(anns, boxes, widths, heights, ctx, counts)
        classes, image_pos, kept = classes[keep_rows], image_pos[keep_rows], kept[keep_rows]
        text, ends = numbers.format_rows(classes, values, nvalues, "f6")
    counts["instances"] = len(classes)
    return image_pos, kept, text, ends


def _box_values(anns, boxes, widths, heights, ctx: RowContext, counts: Counter):
    """Detect ``cx cy w h`` (and pose keypoints) values, with the same float operations as
    Ultralytics so ``%.6f`` gives its exact bytes."""
    centre = boxes.copy()
    centre[:, :2] += centre[:, 2:] / 2
    centre[:, [0, 2]] /= widths[:, None]
    centre[:, [1, 3]] /= heights[:, None]
    if ctx.task == "detect":
        return centre.ravel(), np.full(len(centre), 4), np.ones(len(centre), bool)

    keep = np.zeros(len(anns), bool)
    pieces = []
    for i, ann in enumerate(anns):
        try:
            points = keypoint_triples(ann.get("keypoints"), ctx.keypoint_count)
        except ValueError as error:
            raise _fail(ctx, ann, str(error)) from None
        if points is None:
            continue  # no labelled keypoint: COCO keypoint evaluation ignores the instance
        points = points / np.array([widths[i], heights[i], 1.0])
        keep[i] = True
        pieces.append(np.concatenate([centre[i], points.ravel()]))
    counts["no_keypoints_skipped"] = int((~keep).sum())
    lengths = np.array([len(p) for p in pieces], np.int64)
    values = np.concatenate(pieces) if pieces else np.empty(0)
    return values, lengths, keep


_SEQUENCES = (Array, list)


def _outline_parts(
    ann: Any, seg: Any, ctx: RowContext, height: float, width: float, counts: Counter
) -> list[np.ndarray]:
    """The ``(N, 2)`` pixel parts of an outline other than a single polygon (the parts of a
    multi-part polygon, to be merged into one ring; an RLE's traced ring; a bare coordinate list);
    none when it has no outline."""
    if seg is None or (type(seg) in (*_SEQUENCES, dict, Object) and not len(seg)):
        counts["no_segmentation"] += 1
        return []
    if type(seg) in _SEQUENCES:
        if type(seg[0]) not in _SEQUENCES:
            seg = [seg]  # a bare coordinate list: one polygon
        parts = []
        for part in seg:
            if type(part) not in _SEQUENCES or len(part) % 2:
                length = len(part) if type(part) in _SEQUENCES else type(_plain(part)).__name__
                problem = (
                    f"segmentation polygon needs an even number of coordinates, found {length}"
                )
                raise _fail(ctx, ann, problem)
            try:
                parts.append(_number_array(part).reshape(-1, 2))
            except TypeError:
                raise _fail(ctx, ann, "segmentation polygons must hold numbers") from None
        if len(seg) > 1:
            counts["multipart_merged"] += 1
        return [p for p in parts if len(p)]
    if type(seg) in (dict, Object):
        seg = _plain(seg)
        size = seg.get("size")
        if size != [int(height), int(width)]:
            problem = (
                f"RLE size {size!r} differs from its image ({int(height)}x{int(width)}); "
                "run 'cocoprep validate' to find such masks"
            )
            raise _fail(ctx, ann, problem)
        try:
            ring = masks.mask_to_ring(masks.rle_to_mask(seg, int(height), int(width)))
        except InputError as error:
            raise _fail(ctx, ann, str(error)) from None
        counts["rle_converted"] += 1
        return [] if ring is None else [ring]
    raise _fail(ctx, ann, f"segmentation must be polygons or RLE, found {type(seg).__name__}")


def _box_ring(box: np.ndarray) -> list[float]:
    x, y, w, h = box.tolist()
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def _outline_points(anns, widths, heights, ctx: RowContext, counts: Counter, bridge: bool):
    """Each annotation's outline points in pixels, concatenated: ``(values, lengths,
    no_outline)``, ``lengths`` in numbers (2 per point), ``no_outline`` the annotations without
    any segmentation (no points). The parts of a multi-part polygon are merged into one ring
    (``bridge``) or only concatenated."""
    buffers, lengths = [], []
    multipart: dict[int, list[np.ndarray]] = {}  # row: parts, merged together below
    no_outline = []
    for i, ann in enumerate(anns):
        seg = ann.get("segmentation")
        if type(seg) in _SEQUENCES and len(seg) == 1 and type(part := seg[0]) in _SEQUENCES:
            try:  # the common case: one polygon
                buffers.append(_number_bytes(part))
            except TypeError:
                raise _fail(ctx, ann, "segmentation coordinates must be numbers") from None
            lengths.append(len(part))
            continue
        parts = _outline_parts(ann, seg, ctx, heights[i], widths[i], counts)
        if not parts and (seg is None or not len(seg)):
            no_outline.append(i)
        if len(parts) > 1:
            multipart[i] = parts
        ring = parts[0] if len(parts) == 1 else np.empty(0)
        buffers.append(ring.tobytes())
        lengths.append(ring.size)
    # Non-finite coordinates survive the merge and are caught with the chunk's values.
    join = geometry.merge_many if bridge else lambda polygons: map(np.concatenate, polygons)
    for i, ring in zip(multipart, join(list(multipart.values())), strict=True):
        buffers[i] = ring.tobytes()
        lengths[i] = ring.size
    values = np.frombuffer(b"".join(buffers), np.float64)
    lengths = np.array(lengths, np.int64)
    if len(values) != lengths.sum():  # a simdjson polygon holding arrays came out flattened
        bad = next(i for i, b in enumerate(buffers) if memoryview(b).nbytes != 8 * lengths[i])
        raise _fail(ctx, anns[bad], "segmentation coordinates must be numbers")
    odd = np.flatnonzero(lengths & 1)
    if len(odd):
        problem = (
            "segmentation polygon needs an even number of coordinates, "
            f"found {int(lengths[odd[0]])}"
        )
        raise _fail(ctx, anns[int(odd[0])], problem)
    if not np.isfinite(values).all():
        ends = np.cumsum(lengths)
        bad = int(np.searchsorted(ends, np.flatnonzero(~np.isfinite(values))[0], side="right"))
        raise _fail(ctx, anns[bad], "segmentation has a non-finite coordinate")
    return values, lengths, no_outline


def _obb_values(anns, boxes, widths, heights, ctx: RowContext, counts: Counter):
    """Normalised oriented-box corners (:func:`cocoprep.rectangles.oriented_boxes`) of every
    outline point of each annotation, one row of 8 numbers per kept annotation."""
    values, lengths, no_outline = _outline_points(anns, widths, heights, ctx, counts, False)
    points = values.reshape(-1, 2)
    corners, boxed, keep = rectangles.oriented_boxes(points, lengths // 2, boxes, widths, heights)
    without = np.zeros(len(anns), bool)
    without[no_outline] = True
    counts["boxes_as_polygons"] += int((boxed & without).sum())
    counts["degenerate_replaced"] += int((boxed & ~without).sum())
    counts["degenerate_dropped"] += int((~keep).sum())
    return keep, corners[keep].ravel()


def _segment_values(anns, boxes, widths, heights, ctx: RowContext, counts: Counter):
    """Normalised, clipped ring coordinates, one row per kept annotation."""
    # No usable outline gives an empty row, which the degenerate rule below turns into the box.
    values, lengths, no_outline = _outline_points(anns, widths, heights, ctx, counts, True)
    npoints = lengths // 2
    points = np.repeat(np.stack([widths, heights], axis=1).astype(np.float64), npoints, axis=0)
    np.divide(values.reshape(-1, 2), points, out=points)
    np.clip(points, 0.0, 1.0, out=points)

    degenerate = ~_has_three_distinct(points, npoints)
    if degenerate.any():
        points, npoints, keep = _replace_degenerate(
            points, npoints, degenerate, boxes, widths, heights, counts
        )
        boxed = int(keep[no_outline].sum())
        if boxed:  # no polygon of these was degenerate: there was none
            counts["degenerate_replaced"] -= boxed
            counts["boxes_as_polygons"] += boxed
    else:
        keep = np.ones(len(npoints), bool)
    return keep, points.ravel(), npoints[keep]


def _has_three_distinct(points: np.ndarray, npoints: np.ndarray) -> np.ndarray:
    """Per row: does it have at least 3 distinct points (compared at output precision)?"""
    starts = np.cumsum(npoints) - npoints
    # Nearly every row settles on its first three points: more than 2e-6 apart in x or y, they
    # stay apart when rounded to 6 decimals. The rest get the full comparison.
    result = np.zeros(len(npoints), bool)
    rows = np.flatnonzero(npoints >= 3)
    first, second, third = (points[starts[rows] + k] for k in range(3))
    result[rows] = _apart(first, second) & _apart(first, third) & _apart(second, third)
    rest = np.flatnonzero(~result & (npoints > 0))
    if len(rest):
        sizes = npoints[rest]
        offsets = np.repeat(starts[rest] - (np.cumsum(sizes) - sizes), sizes)
        result[rest] = _rounded_three_distinct(points[offsets + np.arange(len(offsets))], sizes)
    return result


def _apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.abs(a - b) > 2e-6).any(axis=1)


def _rounded_three_distinct(points: np.ndarray, npoints: np.ndarray) -> np.ndarray:
    """:func:`_has_three_distinct` for rows that are all non-empty, comparing every point."""
    rounded = np.round(points, 6)
    starts = np.cumsum(npoints) - npoints
    differs = (rounded != np.repeat(rounded[starts], npoints, axis=0)).any(axis=1)
    # Each row's second distinct point: the first that differs from its first point.
    index = np.where(differs, np.arange(len(points)), len(points))
    first_diff = np.minimum.reduceat(index, starts)
    second = rounded[np.minimum(first_diff, len(points) - 1)]
    third = differs & (rounded != np.repeat(second, npoints, axis=0)).any(axis=1)
    return np.logical_or.reduceat(third, starts) & (first_diff < len(points))


def _replace_degenerate(points, npoints, degenerate, boxes, widths, heights, counts: Counter):
    """Replace rows with fewer than 3 distinct points by their box; drop them if that is no
    better."""
    keep = np.ones(len(npoints), bool)
    starts = np.concatenate([[0], np.cumsum(npoints)])
    pieces, new_counts = [], npoints.copy()
    previous = 0
    for r in np.flatnonzero(degenerate):
        pieces.append(points[starts[previous] : starts[r]])
        box = boxes[r]
        candidate = np.empty((0, 2))
        if not math.isnan(box[0]):
            ring = np.array(_box_ring(box)).reshape(-1, 2) / [widths[r], heights[r]]
            ring = np.clip(ring, 0.0, 1.0)
            if _has_three_distinct(ring, np.array([4]))[0]:
                candidate = ring
        if len(candidate):
            counts["degenerate_replaced"] += 1
        else:
            counts["degenerate_dropped"] += 1
            keep[r] = False
        pieces.append(candidate)
        new_counts[r] = len(candidate)
        previous = r + 1
    pieces.append(points[starts[previous] :])
    return np.concatenate(pieces), new_counts, keep

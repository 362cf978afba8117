"""Checks of COCO annotations, a chunk at a time (pure; run in joblib workers on byte ranges).

Within a chunk every polygon part is gathered into one coordinate array, the per-part checks are
numpy reductions and the ring checks are Shapely 2 ufuncs over one array of polygons
(:func:`cocoprep.checks.rings.check_rings`). Only flagged items become Python objects.

COCO's ``area`` of a polygon annotation is the sum of its parts' shoelace areas (pycocotools'
raster area differs by up to ~10 % on small objects), so that is what ``area`` is compared with;
for RLE masks it is the mask's pixel count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from cocoprep import masks
from cocoprep.checks.report import Finding, finding
from cocoprep.checks.rings import MIN_AREA_PX, check_rings, segment_sums
from cocoprep.errors import InputError
from cocoprep.rows import RowContext, keypoint_triples


@dataclass(frozen=True)
class CheckContext:
    """What a worker needs to check annotations (small and picklable): the file's images and
    categories as convert's workers see them (:class:`cocoprep.rows.RowContext`), and the
    tolerances of the checks."""

    rows: RowContext
    categories_known: bool = True  # False when the file has no usable categories
    tolerance: float = 1.0
    area_rtol: float = 0.01
    min_area: float = MIN_AREA_PX

    @property
    def source(self) -> str:
        """The file checked."""
        return self.rows.source

    @property
    def widths(self) -> np.ndarray:
        """Image widths in file order (NaN where unusable)."""
        return self.rows.widths

    @property
    def heights(self) -> np.ndarray:
        """Image heights in file order (NaN where unusable)."""
        return self.rows.heights

    def image_positions(self, image_ids: np.ndarray) -> np.ndarray:
        """Positions in the file's image array, -1 for unknown ids."""
        return self.rows.image_positions(image_ids)

    def known_categories(self, category_ids: np.ndarray) -> np.ndarray:
        """Which category ids the file defines."""
        return self.rows.classes_of(category_ids) != -2


def check_context(
    source: str,
    image_ids: np.ndarray,
    has_id: np.ndarray,
    widths: np.ndarray,
    heights: np.ndarray,
    category_ids: np.ndarray | None,
    tolerance: float = 1.0,
    keypoint_count: int = 0,
) -> CheckContext:
    """The context for checking a file's annotations: images with a usable id (``has_id``; the
    first of repeated ids wins, as a dict lookup would), the categories (None: unusable) and
    the keypoints an annotation holds (0: any)."""
    usable = np.flatnonzero(has_id)
    order = usable[np.argsort(image_ids[usable], kind="stable")]
    sorted_ids = image_ids[order]
    first = np.ones(len(order), bool)
    first[1:] = sorted_ids[1:] != sorted_ids[:-1]
    known = np.unique(category_ids) if category_ids is not None else np.empty(0, np.int64)
    rows = RowContext(
        source=source,
        task="segment",
        keep_crowd=True,
        sorted_image_ids=sorted_ids[first],
        image_order=order[first],
        widths=widths,
        heights=heights,
        sorted_category_ids=known.astype(np.int64),
        category_class=np.zeros(len(known), np.int64),
        keypoint_count=keypoint_count,
    )
    return CheckContext(rows, category_ids is not None, tolerance)


@dataclass
class ChunkFindings:
    """A chunk's findings (``index`` relative to the chunk) and its annotation ids."""

    findings: list[Finding]
    ids: np.ndarray  # annotation ids, -2**63 where missing or not an integer
    count: int
    polygons: int


NO_ID = int(np.iinfo(np.int64).min)
_NO_BOX = (np.nan,) * 4
_NUMBER_TYPES = frozenset({int, float})
_LIST_TYPE = frozenset({list})
#: Segmentation types that pass without a finding when their parts are lists.
_PLAIN_SEGMENTATION = frozenset({list, dict, type(None)})
_FIELDS = ("id", "image_id", "category_id", "bbox", "area", "segmentation")

Add = Callable[[str, int, str], None]


def _id_array(values: list[int], what: str, add: Add) -> np.ndarray:
    """int64 ids; an id beyond 64 bits becomes a bad-id finding (and the missing-id marker)."""
    try:
        return np.array(values, np.int64)
    except OverflowError:
        out = np.full(len(values), NO_ID, np.int64)
        for i, value in enumerate(values):
            if -(2**63) < value < 2**63:
                out[i] = value
            else:
                add("bad-id", i, f"{what} {value} does not fit in 64 bits")
        return out


def is_number(value: Any) -> bool:
    """True for an int or float (not bool, not a string).

    >>> is_number(1), is_number(2.5), is_number(True), is_number("3")
    (True, True, False, False)
    """
    return type(value) in _NUMBER_TYPES


def _adder(annotations: list[Any], source: str, out: list[Finding]) -> Add:
    """``add(kind, i, message)``: a finding about annotation ``i``, appended to ``out``."""

    def add(kind: str, i: int, message: str) -> None:
        ann = annotations[i]
        aid = ann.get("id") if type(ann) is dict else None
        image = ann.get("image_id") if type(ann) is dict else None
        out.append(
            finding(
                kind,
                source,
                message,
                annotation=aid if type(aid) is int else None,
                image=image if type(image) is int else None,
                index=i,
            )
        )

    return add


@dataclass
class _Columns:
    """An annotation chunk's fields as lists; a field that cannot be used holds a marker."""

    ids: list[Any]
    images: list[Any]
    categories: list[Any]
    boxes: list[Any]
    areas: list[Any]
    segmentations: list[Any]


def _regular(c: _Columns) -> list[bool]:
    """Which annotations have integer ids, a 4-number bbox and a plain segmentation: they add no
    finding in :func:`_mark_irregular`, so only the others go through its loop, and findings
    keep the order of a loop over every annotation."""
    regular = [
        type(aid) is int
        and type(iid) is int
        and type(cid) is int
        and type(box) is list
        and len(box) == 4
        and type(seg) in _PLAIN_SEGMENTATION
        for aid, iid, cid, box, seg in zip(
            c.ids, c.images, c.categories, c.boxes, c.segmentations, strict=True
        )
    ]
    if not _NUMBER_TYPES.issuperset(
        map(type, chain.from_iterable(box for box, ok in zip(c.boxes, regular, strict=True) if ok))
    ):
        regular = [
            ok and _NUMBER_TYPES.issuperset(map(type, box))
            for ok, box in zip(regular, c.boxes, strict=True)
        ]
    polygon_lists = (
        seg for seg, ok in zip(c.segmentations, regular, strict=True) if ok and type(seg) is list
    )
    if not _LIST_TYPE.issuperset(map(type, chain.from_iterable(polygon_lists))):
        regular = [
            ok and (type(seg) is not list or _LIST_TYPE.issuperset(map(type, seg)))
            for ok, seg in zip(regular, c.segmentations, strict=True)
        ]
    return regular


def _mark_irregular(annotations: list[Any], c: _Columns, irregular: list[int], add: Add) -> None:
    """Findings for the fields of the ``irregular`` annotations, whose columns get markers."""
    for i in irregular:
        ann = annotations[i]
        if type(ann) is not dict or "image_id" not in ann or "category_id" not in ann:
            add("bad-annotation", i, "expected an object with image_id and category_id; drop it")
            c.ids[i] = c.images[i] = c.categories[i] = NO_ID
            c.boxes[i], c.areas[i], c.segmentations[i] = _NO_BOX, None, None
            continue
        aid, iid, cid = c.ids[i], c.images[i], c.categories[i]
        if type(aid) is not int:
            add("bad-id", i, f"annotation id {aid!r}: expected an integer; renumber it")
            c.ids[i] = NO_ID
        if type(iid) is not int:
            add("bad-id", i, f"image_id {iid!r}: expected an integer id")
            c.images[i] = NO_ID
        if type(cid) is not int:
            add("bad-id", i, f"category_id {cid!r}: expected an integer id")
            c.categories[i] = NO_ID
        box = c.boxes[i]
        if not (type(box) is list and len(box) == 4 and _NUMBER_TYPES.issuperset(map(type, box))):
            add("bad-bbox", i, f"bbox {box!r}: expected [x, y, width, height] numbers")
            c.boxes[i] = _NO_BOX
        seg = c.segmentations[i]
        if type(seg) is list:
            if seg and type(seg[0]) is not list:
                seg = [seg]  # a bare coordinate list: one polygon
            for k, part in enumerate(seg):
                if type(part) is not list:
                    add("bad-segmentation", i, f"polygon {k} is a {type(part).__name__}")
            c.segmentations[i] = [part for part in seg if type(part) is list]
        elif type(seg) is not dict and seg is not None:
            add("bad-segmentation", i, f"found a {type(seg).__name__}; expected polygons or RLE")
            c.segmentations[i] = None


def check_annotations(annotations: list[Any], ctx: CheckContext) -> ChunkFindings:
    """Check a chunk of annotations (pure; see the module docstring)."""
    n = len(annotations)
    out: list[Finding] = []
    add = _adder(annotations, ctx.source, out)
    records = [a if type(a) is dict else {} for a in annotations]
    c = _Columns(*([a.get(key) for a in records] for key in _FIELDS))
    _mark_irregular(annotations, c, [i for i, ok in enumerate(_regular(c)) if not ok], add)
    ids = _id_array(c.ids, "annotation id", add)
    image_ids = _id_array(c.images, "image_id", add)
    category_ids = _id_array(c.categories, "category_id", add)
    boxes = np.fromiter(chain.from_iterable(c.boxes), np.float64, 4 * n).reshape(n, 4)
    area_list = c.areas
    if not _NUMBER_TYPES.issuperset(map(type, area_list)):
        area_list = [area if type(area) in _NUMBER_TYPES else np.nan for area in area_list]
    areas = np.fromiter(area_list, np.float64, n)
    polygon_lists = [seg if type(seg) is list else () for seg in c.segmentations]
    parts = list(chain.from_iterable(polygon_lists))
    part_counts = np.fromiter(map(len, polygon_lists), np.int64, n)
    part_ann = np.repeat(np.arange(n), part_counts)
    rles = [i for i, seg in enumerate(c.segmentations) if type(seg) is dict]

    image_pos = ctx.image_positions(image_ids)
    for i in np.flatnonzero((image_pos < 0) & (image_ids != NO_ID)).tolist():
        add("unknown-image", i, f"image_id {int(image_ids[i])} is not among the file's images")
    if ctx.categories_known:
        known = ctx.known_categories(category_ids)
        for i in np.flatnonzero(~known & (category_ids != NO_ID)).tolist():
            message = f"category_id {int(category_ids[i])} is not among the file's categories"
            add("unknown-category", i, message)
    found = image_pos >= 0  # (an empty images table has no row -1 to read)
    widths, heights = np.full((2, len(image_pos)), np.nan)
    widths[found], heights[found] = ctx.widths[image_pos[found]], ctx.heights[image_pos[found]]

    _check_boxes(boxes, widths, heights, ctx, add)
    polygon_area, poly_bounds, complete = _check_polygons(
        parts, part_ann, n, widths, heights, ctx, add
    )
    _compare_polygons(
        boxes, areas, polygon_area, poly_bounds, (part_counts > 0) & complete, ctx, add
    )
    _check_rles(annotations, rles, boxes, areas, widths, heights, ctx, add)
    _check_keypoints(records, ctx.rows.keypoint_count, add)
    return ChunkFindings(findings=out, ids=ids, count=n, polygons=len(parts))


def _check_keypoints(records: list[dict[str, Any]], expected: int, add: Add) -> None:
    """Convert's rule for pose rows (:func:`cocoprep.rows.keypoint_triples`)."""
    for i, record in enumerate(records):
        if "keypoints" in record:
            try:
                keypoint_triples(record["keypoints"], expected)
            except ValueError as error:
                add("keypoints", i, str(error))


def _check_boxes(boxes, widths, heights, ctx: CheckContext, add) -> None:
    given = ~np.isnan(boxes).all(axis=1)
    finite = np.isfinite(boxes).all(axis=1)
    for i in np.flatnonzero(given & ~finite).tolist():
        add("non-finite", i, f"bbox {boxes[i].tolist()} holds a non-finite number")
    ok = given & finite
    empty = ok & ((boxes[:, 2] <= 0) | (boxes[:, 3] <= 0))
    for i in np.flatnonzero(empty).tolist():
        add(
            "empty-box",
            i,
            f"bbox {boxes[i].tolist()} has no width or height; convert drops such objects, "
            "fix or drop the annotation",
        )
    tol = ctx.tolerance
    with np.errstate(invalid="ignore"):
        outside = ok & (
            (boxes[:, 0] < -tol)
            | (boxes[:, 1] < -tol)
            | (boxes[:, 0] + boxes[:, 2] > widths + tol)
            | (boxes[:, 1] + boxes[:, 3] > heights + tol)
        )
    for i in np.flatnonzero(outside).tolist():
        add(
            "outside-image",
            i,
            f"bbox {boxes[i].tolist()} leaves the {widths[i]:g}x{heights[i]:g} image by more than "
            f"{tol:g} px; clip it ({{fix}})",
        )


def _check_parts(parts, part_ann, part_no, add) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-part coordinate checks: returns the values of the numeric parts, each part's
    number of values (0 for non-numeric parts) and which parts are usable rings."""
    lengths = np.fromiter(map(len, parts), np.int64, len(parts))
    try:
        values = np.fromiter(chain.from_iterable(parts), np.float64, int(lengths.sum()))
        numeric = np.ones(len(parts), bool)
    except (TypeError, ValueError):
        numeric = np.array([all(map(is_number, p)) for p in parts], bool)
        kept = [p for p, ok in zip(parts, numeric, strict=True) if ok]
        values = np.fromiter(chain.from_iterable(kept), np.float64)
        lengths = np.where(numeric, lengths, 0)
    for p in np.flatnonzero(~numeric).tolist():
        add("bad-segmentation", int(part_ann[p]), f"polygon {part_no[p]} holds a non-number")
    finite = segment_sums(~np.isfinite(values), lengths) == 0
    odd = lengths % 2 == 1
    few = ~odd & (lengths < 6)
    for p in np.flatnonzero(numeric & ~finite).tolist():
        add("non-finite", int(part_ann[p]), f"polygon {part_no[p]} holds NaN or infinity; fix it")
    for p in np.flatnonzero(numeric & odd).tolist():
        add(
            "odd-coordinates",
            int(part_ann[p]),
            f"polygon {part_no[p]} has {lengths[p]} coordinates; expected x, y pairs",
        )
    for p in np.flatnonzero(numeric & few & finite).tolist():
        add(
            "too-few-points",
            int(part_ann[p]),
            f"polygon {part_no[p]} has {lengths[p] // 2} points; expected at least 3 "
            "(drop the part, {fix} does)",
        )
    return values, lengths, numeric & finite & ~odd & ~few


def _check_polygons(parts, part_ann, n, widths, heights, ctx: CheckContext, add):
    """Per-part and ring checks; returns per-annotation polygon area, bounds and whether every
    part was usable."""
    part_no = _part_numbers(part_ann)
    values, lengths, good = _check_parts(parts, part_ann, part_no, add)
    complete = np.bincount(part_ann[~good], minlength=n) == 0
    keep_values = np.repeat(good, lengths)
    points = values[keep_values].reshape(-1, 2)
    rings = check_rings(points, lengths[good] // 2, ctx.min_area)
    good_parts = np.flatnonzero(good)
    owner = part_ann[good_parts]
    for j, reason in enumerate(rings.reasons):
        if reason is not None:
            i = int(owner[j])
            add(
                "invalid-ring",
                i,
                f"polygon {part_no[good_parts[j]]}: {reason} (Shapely); "
                "{fix} keeps its valid parts",
            )
    for j in np.flatnonzero(rings.repeated).tolist():
        add(
            "repeated-vertices",
            int(owner[j]),
            f"polygon {part_no[good_parts[j]]} repeats a vertex {int(rings.repeated[j])} time(s)",
        )
    tol = ctx.tolerance
    w, h = widths[owner], heights[owner]
    b = rings.bounds
    with np.errstate(invalid="ignore"):
        outside = (b[:, 0] < -tol) | (b[:, 1] < -tol) | (b[:, 2] > w + tol) | (b[:, 3] > h + tol)
    for j in np.flatnonzero(outside).tolist():
        add(
            "outside-image",
            int(owner[j]),
            f"polygon {part_no[good_parts[j]]} spans x {b[j, 0]:g}..{b[j, 2]:g}, "
            f"y {b[j, 1]:g}..{b[j, 3]:g}, beyond the {w[j]:g}x{h[j]:g} image by more than "
            f"{tol:g} px; clip it ({{fix}})",
        )
    polygon_area = np.bincount(owner, weights=rings.area, minlength=n)
    valid_area = np.bincount(owner, weights=rings.valid_area, minlength=n)
    has = np.bincount(owner, minlength=n) > 0
    for i in np.flatnonzero(has & complete & (valid_area < ctx.min_area)).tolist():
        add(
            "zero-area",
            i,
            f"polygon area {valid_area[i]:.3g} px² is below {ctx.min_area:g} px²; "
            "drop it ({fix})",
        )
    bounds = np.full((n, 4), np.nan)
    if len(owner):
        bounds[:, :2] = np.inf
        bounds[:, 2:] = -np.inf
        np.minimum.at(bounds[:, 0], owner, b[:, 0])
        np.minimum.at(bounds[:, 1], owner, b[:, 1])
        np.maximum.at(bounds[:, 2], owner, b[:, 2])
        np.maximum.at(bounds[:, 3], owner, b[:, 3])
    return polygon_area, bounds, complete


def _part_numbers(part_ann: np.ndarray) -> np.ndarray:
    """Position of each part within its annotation (parts are grouped by annotation)."""
    if len(part_ann) == 0:
        return np.empty(0, np.int64)
    first = np.concatenate([[True], part_ann[1:] != part_ann[:-1]])
    start = np.maximum.accumulate(np.where(first, np.arange(len(part_ann)), 0))
    return np.arange(len(part_ann)) - start


def _compare_polygons(boxes, areas, polygon_area, bounds, usable, ctx: CheckContext, add) -> None:
    tol = ctx.tolerance
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    with np.errstate(invalid="ignore"):
        off = np.abs(corners - bounds).max(axis=1)
        bad_box = usable & np.isfinite(boxes).all(axis=1) & (off > tol)
        area_off = np.abs(areas - polygon_area)
        bad_area = usable & (area_off > np.maximum(ctx.area_rtol * polygon_area, 1.0))
    for i in np.flatnonzero(bad_box).tolist():
        expected = [round(float(v), 2) for v in (*bounds[i, :2], *(bounds[i, 2:] - bounds[i, :2]))]
        add(
            "bbox-mismatch",
            i,
            f"bbox {boxes[i].tolist()} but the polygons span {expected} (off by {off[i]:.3g} px); "
            "{fix} recomputes it",
        )
    for i in np.flatnonzero(bad_area).tolist():
        add(
            "area-mismatch",
            i,
            f"area {areas[i]:g} but the polygons cover {polygon_area[i]:.6g} px²; "
            "{fix} recomputes it",
        )


def _check_rles(annotations, rles, boxes, areas, widths, heights, ctx: CheckContext, add) -> None:
    from pycocotools import mask as mask_utils

    for i in rles:
        seg = annotations[i]["segmentation"]
        w, h = widths[i], heights[i]
        if np.isnan(w):
            continue
        size = seg.get("size")
        if size != [int(h), int(w)]:
            add(
                "rle-size",
                i,
                f"RLE size {size!r} differs from its image ({int(h)}x{int(w)}, height x width); "
                "re-encode the mask for this image or drop it",
            )
            continue
        try:
            rle = masks.rle_of(seg, int(h), int(w))
        except InputError as error:
            add("bad-rle", i, str(error))
            continue
        mask_area = float(mask_utils.area(rle))
        box = mask_utils.toBbox(rle)
        expected = np.array([box[0], box[1], box[0] + box[2], box[1] + box[3]])
        corners = np.concatenate([boxes[i, :2], boxes[i, :2] + boxes[i, 2:]])
        off = float(np.abs(corners - expected).max())
        if np.isfinite(off) and off > ctx.tolerance and mask_area > 0:
            add(
                "bbox-mismatch",
                i,
                f"bbox {boxes[i].tolist()} but the mask spans {box.tolist()}; "
                "{fix} recomputes it",
            )
        if np.isfinite(areas[i]) and abs(areas[i] - mask_area) > max(
            ctx.area_rtol * mask_area, 1.0
        ):
            add(
                "area-mismatch",
                i,
                f"area {areas[i]:g} but the mask has {mask_area:g} pixels; {{fix}} recomputes it",
            )

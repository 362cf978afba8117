"""``cocoprep validate``: find what breaks conversion or training before a long run.

A target is a COCO JSON file, a YOLO labels folder or a dataset yaml. Every problem becomes a
:class:`Finding` (severity, kind, where, message); :func:`validate` returns them in a
:class:`Report`. The kinds and their severities are the :data:`KINDS` table: an error breaks
conversion or training, loses an object or makes the data ambiguous; a warning still rasterises
but is suspect.

Speed. COCO annotations are checked like ``convert`` converts them: the file's annotation array is
cut into byte ranges (:mod:`cocoprep.coco`) that joblib workers parse and check. Within a chunk
every polygon part is gathered into one coordinate array, the per-part checks are numpy
reductions and the ring checks are Shapely 2 ufuncs (``is_valid``, ``is_valid_reason``,
``area``) over one array of polygons. Only flagged items become Python objects.

Geometry conventions. COCO's ``area`` of a polygon annotation is the sum of its parts' shoelace
areas (pycocotools' raster area differs by up to ~10 % on small objects), so that is what ``area``
is compared with; for RLE masks it is the mask's pixel count. A YOLO polygon row holds one ring
per object, multi-part objects joined by zero-width bridges: its parts are checked
(:func:`cocoprep.geometry.split_bridged_ring`), never the bridges.
"""

from __future__ import annotations

import logging
import mmap
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep import coco, datasetyaml, layout, yolo
from cocoprep.errors import InputError
from cocoprep.parallel import run_in_order

log = logging.getLogger("cocoprep")

ERROR, WARNING = "error", "warning"

#: Every kind of finding: its severity and what it means.
KINDS: dict[str, tuple[str, str]] = {
    # COCO files
    "bad-annotation": (ERROR, "annotation is not an object with image_id and category_id"),
    "bad-id": (ERROR, "id missing or not an integer"),
    "duplicate-id": (ERROR, "the same id used twice"),
    "bad-image-size": (ERROR, "image width/height missing or not positive"),
    "bad-image-path": (ERROR, "image without file_name or coco_url, or with an unsafe path"),
    "bad-categories": (ERROR, "categories missing or malformed"),
    "unknown-image": (ERROR, "annotation names an image id that is not in the file"),
    "unknown-category": (ERROR, "annotation names a category id that is not in the file"),
    "bad-segmentation": (ERROR, "segmentation is neither polygons of numbers nor RLE"),
    "bad-bbox": (ERROR, "bbox missing or not four numbers"),
    "empty-box": (ERROR, "bbox width or height <= 0 (convert drops the object)"),
    "outside-image": (ERROR, "vertices or bbox outside the image beyond the tolerance"),
    "rle-size": (ERROR, "RLE size differs from its image"),
    "bad-rle": (ERROR, "RLE counts do not decode to the image size"),
    "bbox-mismatch": (WARNING, "bbox differs from the segmentation bounds"),
    "area-mismatch": (WARNING, "area differs from the segmentation area"),
    # both
    "non-finite": (ERROR, "NaN or infinite number"),
    "odd-coordinates": (ERROR, "polygon with an odd number of coordinates"),
    "too-few-points": (ERROR, "polygon with fewer than 3 points"),
    "zero-area": (WARNING, "polygon with zero or near-zero area"),
    "invalid-ring": (WARNING, "self-intersecting or otherwise invalid ring (Shapely)"),
    "repeated-vertices": (WARNING, "the same vertex twice in a row"),
    # YOLO labels and dataset yamls
    "unparsable": (ERROR, "label line with a token that is not a number"),
    "bad-class": (ERROR, "class id is not a non-negative integer"),
    "class-out-of-range": (ERROR, "class id >= nc"),
    "out-of-range": (ERROR, "normalised value outside [0, 1]"),
    "bad-row": (ERROR, "row length fits no box, polygon or pose row"),
    "mixed-rows": (ERROR, "box rows in a polygon file (Ultralytics then misreads them)"),
    "duplicate-row": (WARNING, "the same row twice in a file (Ultralytics drops it)"),
    "label-without-image": (WARNING, "label file whose image does not exist"),
    "image-without-label": (WARNING, "image without a label file (trained as background)"),
    "missing-image": (ERROR, "a split's list file names an image that does not exist"),
    "names-mismatch": (ERROR, "nc differs from the number of names in the yaml"),
}

#: Near-zero polygon area, in square pixels (COCO) or in image fractions (YOLO labels).
MIN_AREA_PX = 1.0
MIN_AREA_NORMALISED = 1e-7
#: Annotations below which a COCO file is checked in-process (starting workers costs more).
PARALLEL_MIN_BYTES = 48 << 20


@dataclass(frozen=True)
class Finding:
    """One problem: where it is and what to do.

    ``image`` is the image id (COCO) or image path (YOLO); ``annotation`` the annotation id;
    ``line`` the 1-based line of a label file; ``index`` the position of the annotation (or
    image) in its JSON array, which locates items whose id is missing or repeated.
    """

    severity: str
    kind: str
    file: str
    message: str
    image: int | str | None = None
    annotation: int | None = None
    line: int | None = None
    index: int | None = None

    def where(self) -> str:
        """``file: annotation 7 (image 3)``-style location."""
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.annotation is not None:
            parts.append(f"annotation {self.annotation}")
        elif self.index is not None and self.line is None:
            parts.append(f"item {self.index}")
        if self.image is not None and self.line is None:
            parts.append(f"(image {self.image})")
        return parts[0] + (": " + " ".join(parts[1:]) if len(parts) > 1 else "")


def _shifted(item: Finding, offset: int) -> Finding:
    """``item`` with its index moved by ``offset`` (what dataclasses.replace does, 5x faster)."""
    return Finding(
        item.severity,
        item.kind,
        item.file,
        item.message,
        item.image,
        item.annotation,
        item.line,
        item.index + offset,
    )


def finding(kind: str, file: str, message: str, **where: Any) -> Finding:
    """A :class:`Finding` with the severity of its kind."""
    return Finding(severity=KINDS[kind][0], kind=kind, file=file, message=message, **where)


@dataclass
class Report:
    """What :func:`validate` found, with counts of what it checked and notes on skipped checks."""

    findings: list[Finding] = field(default_factory=list)
    checked: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    @property
    def errors(self) -> list[Finding]:
        """Findings of severity error."""
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Findings of severity warning."""
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not any(f.severity == ERROR for f in self.findings)

    def by_kind(self) -> dict[str, list[Finding]]:
        """Findings grouped by kind, errors first, then by count."""
        groups: dict[str, list[Finding]] = {}
        for item in self.findings:
            groups.setdefault(item.kind, []).append(item)
        return dict(
            sorted(groups.items(), key=lambda kv: (kv[1][0].severity != ERROR, -len(kv[1]), kv[0]))
        )

    def extend(self, other: Report) -> None:
        """Add another report's findings, counts and notes."""
        self.findings += other.findings
        self.checked.update(other.checked)
        self.notes += other.notes
        self.targets += other.targets

    def summary_line(self) -> str:
        """``2 errors, 5 warnings in 1 target (624 annotations)``."""
        checked = ", ".join(f"{n:,} {what}" for what, n in sorted(self.checked.items()) if n)
        errors, warnings = len(self.errors), len(self.warnings)
        return (
            f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} in "
            f"{len(self.targets)} target{'s' * (len(self.targets) != 1)}"
            + (f" ({checked})" if checked else "")
        )

    def as_dict(self, max_examples: int = 0) -> dict[str, Any]:
        """A JSON-ready dict: counts per kind and the findings (``max_examples`` per kind, 0 for
        all)."""
        kinds = {}
        for kind, items in self.by_kind().items():
            shown = items if max_examples <= 0 else items[:max_examples]
            kinds[kind] = {
                "severity": items[0].severity,
                "description": KINDS[kind][1],
                "count": len(items),
                "findings": [{k: v for k, v in asdict(f).items() if v is not None} for f in shown],
            }
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "targets": self.targets,
            "checked": dict(self.checked),
            "notes": self.notes,
            "kinds": kinds,
        }

    def format_table(self, max_examples: int = 3) -> str:
        """A summary table grouped by kind, with a few examples each (0: all)."""
        lines = []
        groups = self.by_kind()
        if groups:
            lines.append(f"{'SEVERITY':<9} {'KIND':<20} {'COUNT':>7}  DESCRIPTION")
        for kind, items in groups.items():
            lines.append(f"{items[0].severity:<9} {kind:<20} {len(items):>7}  {KINDS[kind][1]}")
            shown = items if max_examples <= 0 else items[:max_examples]
            lines += [f"    {f.where()}: {f.message}" for f in shown]
            if len(items) > len(shown):
                lines.append(f"    … and {len(items) - len(shown)} more")
        lines += [f"note: {note}" for note in self.notes]
        lines.append(self.summary_line())
        return "\n".join(lines)


# ------------------------------------------------------------------------------ shared geometry


def _segment_sums(flags: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per-segment sums of ``flags`` for consecutive segments of ``lengths`` (empty ones too)."""
    total = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    ends = np.cumsum(lengths)
    return total[ends] - total[ends - lengths]


def _polygons(points: np.ndarray, npoints: np.ndarray) -> np.ndarray:
    """One Shapely polygon per ring, closed as :func:`shapely.linearrings` closes them (when
    the last point differs from the first, or when there are only 3), built from offsets in one
    call: about twice as fast as linearrings then polygons."""
    import shapely

    starts = np.cumsum(npoints) - npoints
    open_ring = (npoints == 3) | (points[starts] != points[starts + npoints - 1]).any(axis=1)
    closed = np.insert(points, (starts + npoints)[open_ring], points[starts[open_ring]], axis=0)
    ring_offsets = np.concatenate([[0], np.cumsum(npoints + open_ring)])
    return shapely.from_ragged_array(
        shapely.GeometryType.POLYGON, closed, (ring_offsets, np.arange(len(npoints) + 1))
    )


@dataclass
class RingChecks:
    """Per-ring results of :func:`check_rings`."""

    reasons: list[str | None]  # None when valid
    area: np.ndarray  # shoelace area (COCO's own polygon area)
    valid_area: np.ndarray  # the same, of the make_valid repair for invalid rings below min_area
    repeated: np.ndarray  # repeated consecutive vertices per ring
    bounds: np.ndarray  # (n, 4) min x, min y, max x, max y


def check_rings(points: np.ndarray, npoints: np.ndarray, min_area: float = np.inf) -> RingChecks:
    """Validity, area, repeated vertices and bounds of rings given as concatenated ``(N, 2)``
    points with ``npoints[i] >= 3`` points each (finite). The area of an invalid ring is that of
    its valid repair when its shoelace area is below ``min_area``, else the shoelace area.

    >>> bow_tie = np.array([[0, 0], [2, 2], [2, 0], [0, 2]], float)
    >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    >>> result = check_rings(np.concatenate([bow_tie, square]), np.array([4, 4]))
    >>> result.reasons
    ['Self-intersection[1 1]', None]
    >>> result.area.tolist(), result.valid_area.tolist()
    ([0.0, 1.0], [2.0, 1.0])
    """
    import shapely

    n = len(npoints)
    if n == 0:
        return RingChecks([], np.empty(0), np.empty(0), np.empty(0, np.int64), np.empty((0, 4)))
    polygons = _polygons(points, npoints)
    valid = shapely.is_valid(polygons)
    area = shapely.area(polygons)
    valid_area = area.copy()
    reasons: list[str | None] = [None] * n
    bad = np.flatnonzero(~valid)
    if len(bad):
        for i, reason in zip(bad.tolist(), shapely.is_valid_reason(polygons[bad]), strict=True):
            reasons[i] = reason
        # make_valid is slow; only a ring whose shoelace area is tiny (a bow-tie) needs it to
        # tell its true area, large invalid rings are far from zero-area anyway.
        tiny = bad[area[bad] < min_area]
        valid_area[tiny] = shapely.area(shapely.make_valid(polygons[tiny]))
    same = np.zeros(len(points), bool)
    same[1:] = (points[1:] == points[:-1]).all(axis=1)
    starts = np.cumsum(npoints) - npoints
    same[starts] = False
    bounds = np.stack(
        [
            np.minimum.reduceat(points[:, 0], starts),
            np.minimum.reduceat(points[:, 1], starts),
            np.maximum.reduceat(points[:, 0], starts),
            np.maximum.reduceat(points[:, 1], starts),
        ],
        axis=1,
    )
    return RingChecks(reasons, area, valid_area, _segment_sums(same, npoints), bounds)


# ------------------------------------------------------------------------------------ COCO files


@dataclass(frozen=True)
class CocoContext:
    """What a worker needs to check annotations (small and picklable)."""

    source: str
    sorted_image_ids: np.ndarray
    image_order: np.ndarray
    widths: np.ndarray  # NaN where the image's size is unusable
    heights: np.ndarray
    sorted_category_ids: np.ndarray | None  # None when the file has no usable categories
    tolerance: float = 1.0
    area_rtol: float = 0.01
    min_area: float = MIN_AREA_PX

    def image_positions(self, image_ids: np.ndarray) -> np.ndarray:
        """Positions in the file's image array, -1 for unknown ids."""
        return _lookup(self.sorted_image_ids, self.image_order, image_ids)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.full(len(query), -1, np.int64)
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], -1)


@dataclass
class ChunkFindings:
    """A chunk's findings (``index`` relative to the chunk) and its annotation ids."""

    findings: list[Finding]
    ids: np.ndarray  # annotation ids, -2**63 where missing or not an integer
    count: int
    polygons: int


_NO_ID = int(np.iinfo(np.int64).min)
_NO_BOX = (np.nan,) * 4


def _id_array(values: list[int], what: str, add: Callable[[str, int, str], None]) -> np.ndarray:
    """int64 ids; an id beyond 64 bits becomes a bad-id finding (and the missing-id marker)."""
    try:
        return np.array(values, np.int64)
    except OverflowError:
        out = np.full(len(values), _NO_ID, np.int64)
        for i, value in enumerate(values):
            if -(2**63) < value < 2**63:
                out[i] = value
            else:
                add("bad-id", i, f"{what} {value} does not fit in 64 bits")
        return out


_NUMBER_TYPES = frozenset({int, float})
_LIST_TYPE = frozenset({list})
#: Segmentation types that pass without a finding when their parts are lists.
_PLAIN_SEGMENTATION = frozenset({list, dict, type(None)})


def is_number(value: Any) -> bool:
    """True for an int or float (not bool, not a string)."""
    return type(value) in _NUMBER_TYPES


def check_annotations(annotations: list[Any], ctx: CocoContext) -> ChunkFindings:
    """Check a chunk of annotations (pure; see the module docstring)."""
    n = len(annotations)
    out: list[Finding] = []
    source = ctx.source

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

    # Columns taken by comprehensions; only irregular annotations (a non-integer id, an odd bbox
    # or segmentation, ...) go through the loop below. Regular ones add no finding there, so
    # findings keep the order of a loop over every annotation.
    records = [a if type(a) is dict else {} for a in annotations]
    id_list = [a.get("id") for a in records]
    image_list = [a.get("image_id") for a in records]
    category_list = [a.get("category_id") for a in records]
    box_list = [a.get("bbox") for a in records]
    area_list = [a.get("area") for a in records]
    seg_list = [a.get("segmentation") for a in records]
    regular = [
        type(aid) is int
        and type(iid) is int
        and type(cid) is int
        and type(box) is list
        and len(box) == 4
        and type(seg) in _PLAIN_SEGMENTATION
        for aid, iid, cid, box, seg in zip(
            id_list, image_list, category_list, box_list, seg_list, strict=True
        )
    ]
    if not _NUMBER_TYPES.issuperset(
        map(type, chain.from_iterable(box for box, ok in zip(box_list, regular, strict=True) if ok))
    ):
        regular = [
            ok and _NUMBER_TYPES.issuperset(map(type, box))
            for ok, box in zip(regular, box_list, strict=True)
        ]
    polygon_lists = (
        seg for seg, ok in zip(seg_list, regular, strict=True) if ok and type(seg) is list
    )
    if not _LIST_TYPE.issuperset(map(type, chain.from_iterable(polygon_lists))):
        regular = [
            ok and (type(seg) is not list or _LIST_TYPE.issuperset(map(type, seg)))
            for ok, seg in zip(regular, seg_list, strict=True)
        ]
    for i in [i for i, ok in enumerate(regular) if not ok]:
        ann = annotations[i]
        if type(ann) is not dict or "image_id" not in ann or "category_id" not in ann:
            add("bad-annotation", i, "expected an object with image_id and category_id; drop it")
            id_list[i] = image_list[i] = category_list[i] = _NO_ID
            box_list[i], area_list[i], seg_list[i] = _NO_BOX, None, None
            continue
        aid, iid, cid = id_list[i], image_list[i], category_list[i]
        if type(aid) is not int:
            add("bad-id", i, f"annotation id {aid!r}: expected an integer; renumber it")
            id_list[i] = _NO_ID
        if type(iid) is not int:
            add("bad-id", i, f"image_id {iid!r}: expected an integer id")
            image_list[i] = _NO_ID
        if type(cid) is not int:
            add("bad-id", i, f"category_id {cid!r}: expected an integer id")
            category_list[i] = _NO_ID
        box = box_list[i]
        if not (type(box) is list and len(box) == 4 and _NUMBER_TYPES.issuperset(map(type, box))):
            add("bad-bbox", i, f"bbox {box!r}: expected [x, y, width, height] numbers")
            box_list[i] = _NO_BOX
        seg = seg_list[i]
        if type(seg) is list:
            if seg and type(seg[0]) is not list:
                seg = [seg]  # a bare coordinate list: one polygon
            for k, part in enumerate(seg):
                if type(part) is not list:
                    add("bad-segmentation", i, f"polygon {k} is a {type(part).__name__}")
            seg_list[i] = [part for part in seg if type(part) is list]
        elif type(seg) is not dict and seg is not None:
            add("bad-segmentation", i, f"found a {type(seg).__name__}; expected polygons or RLE")
            seg_list[i] = None
    ids = _id_array(id_list, "annotation id", add)
    image_ids = _id_array(image_list, "image_id", add)
    category_ids = _id_array(category_list, "category_id", add)
    boxes = np.fromiter(chain.from_iterable(box_list), np.float64, 4 * n).reshape(n, 4)
    if not _NUMBER_TYPES.issuperset(map(type, area_list)):
        area_list = [area if type(area) in _NUMBER_TYPES else np.nan for area in area_list]
    areas = np.fromiter(area_list, np.float64, n)
    polygon_lists = [seg if type(seg) is list else () for seg in seg_list]
    parts = list(chain.from_iterable(polygon_lists))
    part_counts = np.fromiter(map(len, polygon_lists), np.int64, n)
    part_ann = np.repeat(np.arange(n), part_counts)
    rles = [i for i, seg in enumerate(seg_list) if type(seg) is dict]

    image_pos = ctx.image_positions(image_ids)
    for i in np.flatnonzero((image_pos < 0) & (image_ids != _NO_ID)).tolist():
        add("unknown-image", i, f"image_id {int(image_ids[i])} is not among the file's images")
    if ctx.sorted_category_ids is not None:
        known = np.isin(category_ids, ctx.sorted_category_ids)
        for i in np.flatnonzero(~known & (category_ids != _NO_ID)).tolist():
            add(
                "unknown-category",
                i,
                f"category_id {int(category_ids[i])} is not among the file's categories",
            )
    widths = np.where(image_pos >= 0, ctx.widths[image_pos], np.nan)
    heights = np.where(image_pos >= 0, ctx.heights[image_pos], np.nan)

    _check_boxes(boxes, widths, heights, ctx, add)
    polygon_area, poly_bounds, complete = _check_polygons(
        parts, part_ann, n, widths, heights, ctx, add
    )
    _compare_polygons(
        boxes, areas, polygon_area, poly_bounds, (part_counts > 0) & complete, ctx, add
    )
    _check_rles(annotations, rles, boxes, areas, widths, heights, ctx, add)
    return ChunkFindings(findings=out, ids=ids, count=n, polygons=len(parts))


def _check_boxes(boxes, widths, heights, ctx: CocoContext, add) -> None:
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
            f"{tol:g} px; clip it (--fix)",
        )


def _check_polygons(parts, part_ann, n, widths, heights, ctx: CocoContext, add):
    """Per-part checks; returns per-annotation polygon area, bounds and whether every part was
    usable."""
    lengths = np.fromiter(map(len, parts), np.int64, len(parts))
    try:
        values = np.fromiter(chain.from_iterable(parts), np.float64, int(lengths.sum()))
        numeric = np.ones(len(parts), bool)
    except (TypeError, ValueError):
        numeric = np.array([all(map(is_number, p)) for p in parts], bool)
        kept = [p for p, ok in zip(parts, numeric, strict=True) if ok]
        values = np.fromiter(chain.from_iterable(kept), np.float64)
        lengths = np.where(numeric, lengths, 0)
    part_no = _part_numbers(part_ann)
    for p in np.flatnonzero(~numeric).tolist():
        add("bad-segmentation", int(part_ann[p]), f"polygon {part_no[p]} holds a non-number")
    finite = _segment_sums(~np.isfinite(values), lengths) == 0
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
            "(drop the part, --fix does)",
        )
    good = numeric & finite & ~odd & ~few
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
                "--fix keeps its valid parts",
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
            f"{tol:g} px; clip it (--fix)",
        )
    polygon_area = np.bincount(owner, weights=rings.area, minlength=n)
    valid_area = np.bincount(owner, weights=rings.valid_area, minlength=n)
    has = np.bincount(owner, minlength=n) > 0
    for i in np.flatnonzero(has & complete & (valid_area < ctx.min_area)).tolist():
        add(
            "zero-area",
            i,
            f"polygon area {valid_area[i]:.3g} px² is below {ctx.min_area:g} px²; drop it (--fix)",
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


def _compare_polygons(boxes, areas, polygon_area, bounds, usable, ctx: CocoContext, add) -> None:
    tol = ctx.tolerance
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    with np.errstate(invalid="ignore"):
        off = np.abs(corners - bounds).max(axis=1)
        bad_box = usable & np.isfinite(boxes).all(axis=1) & (off > tol)
        area_off = np.abs(areas - polygon_area)
        bad_area = usable & (area_off > np.maximum(ctx.area_rtol * polygon_area, 1.0))
    for i in np.flatnonzero(bad_box).tolist():
        expected = [round(v, 2) for v in (*bounds[i, :2], *(bounds[i, 2:] - bounds[i, :2]))]
        add(
            "bbox-mismatch",
            i,
            f"bbox {boxes[i].tolist()} but the polygons span {expected} (off by {off[i]:.3g} px); "
            "--fix recomputes it",
        )
    for i in np.flatnonzero(bad_area).tolist():
        add(
            "area-mismatch",
            i,
            f"area {areas[i]:g} but the polygons cover {polygon_area[i]:.6g} px²; "
            "--fix recomputes it",
        )


def rle_of(seg: dict, height: int, width: int) -> dict:
    """A pycocotools RLE (compressed) of a COCO RLE ``segmentation``; InputError when its counts
    do not decode to ``height`` x ``width``."""
    from pycocotools import mask as mask_utils

    counts = seg.get("counts")
    if isinstance(counts, list):
        runs = np.array(counts)
        if runs.dtype.kind not in "iu" or (runs < 0).any() or runs.sum() != height * width:
            msg = f"RLE counts do not sum to {height}*{width}={height * width} pixels"
            raise InputError(msg)
        return mask_utils.frPyObjects(seg, height, width)
    if isinstance(counts, str | bytes):
        rle = {
            "size": [height, width],
            "counts": counts.encode() if isinstance(counts, str) else counts,
        }
        try:
            mask_utils.area(rle)
        except (ValueError, TypeError) as error:  # pragma: no cover - depends on the corruption
            msg = f"RLE counts do not decode: {error}"
            raise InputError(msg) from None
        return rle
    msg = f"RLE counts must be a list or a string, found {type(counts).__name__}"
    raise InputError(msg)


def _check_rles(annotations, rles, boxes, areas, widths, heights, ctx: CocoContext, add) -> None:
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
            rle = rle_of(seg, int(h), int(w))
        except InputError as error:
            add("bad-rle", i, f"{error}; re-encode the mask or drop it")
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
                f"bbox {boxes[i].tolist()} but the mask spans {box.tolist()}; --fix recomputes it",
            )
        if np.isfinite(areas[i]) and abs(areas[i] - mask_area) > max(
            ctx.area_rtol * mask_area, 1.0
        ):
            add(
                "area-mismatch",
                i,
                f"area {areas[i]:g} but the mask has {mask_area:g} pixels; --fix recomputes it",
            )


@dataclass
class CocoSections:
    """The raw arrays of a COCO file: images and categories parsed, annotations as byte ranges
    (or parsed, when the layout defeats the byte search)."""

    path: Path
    images: list[Any]
    categories: Any
    ranges: list[tuple[int, int]] | None
    annotations: list[Any] | None


def read_sections(path: Path, chunk_bytes: int = 8 << 20) -> CocoSections:
    """Read a COCO file's arrays without checking them (validate reports, it does not raise)."""
    if not path.is_file():
        msg = f"{path}: no such file (expected a COCO JSON annotation file)"
        raise InputError(msg)
    if path.stat().st_size:
        try:
            with (
                open(path, "rb") as handle,
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf,
            ):
                sections = coco.find_sections(buf)
                images: list[Any] = []
                for start, end in coco.split_array(buf, *sections["images"], chunk_bytes):
                    images.extend(coco.parse_range(buf, start, end))
                categories = None
                if "categories" in sections:
                    start, end = sections["categories"]
                    categories = coco.parse_range(buf, start + 1, end - 1)
                ranges = coco.split_array(buf, *sections["annotations"], chunk_bytes)
                return CocoSections(path, images, categories, ranges, None)
        except coco.LayoutError:
            pass
    return _read_whole(path)


def _read_whole(path: Path) -> CocoSections:
    data = coco.load_coco_dict(path)
    return CocoSections(path, data["images"], data.get("categories"), None, data["annotations"])


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
        name = image.get("file_name")
        if type(name) is str and name and "/" not in name and "\\" not in name:
            continue  # the common case, safe without the full path check
        try:
            coco.image_relpath(image, "split")
        except InputError as error:
            out.append(finding("bad-image-path", source, str(error), image=iid, index=i))
    out += _duplicates(ids, has_id, source, "image")
    return ImageChecks(out, ids, has_id, sizes[:, 0], sizes[:, 1])


def _duplicates(ids: np.ndarray, has_id: np.ndarray, source: str, what: str) -> list[Finding]:
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
        out.append(finding("duplicate-id", source, message, index=int(order[r]), **where))
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
    out += _duplicates(ids, has_id, source, "category")
    return out, np.unique(ids[has_id])


def _check_range(path: str, start: int, end: int, ctx: CocoContext) -> ChunkFindings:
    with coco.gc_paused():
        return check_annotations(coco.parse_file_range(path, start, end), ctx)


def validate_coco(
    path: str | os.PathLike,
    *,
    workers: int | None = None,
    tolerance: float = 1.0,
    progress: bool = False,
) -> Report:
    """Check a COCO JSON file: its images, categories and every annotation."""
    path = Path(path)
    with coco.gc_paused():
        return _validate_coco(path, workers=workers, tolerance=tolerance, progress=progress)


def _validate_coco(path: Path, *, workers: int | None, tolerance: float, progress: bool) -> Report:
    source = str(path)
    sections = read_sections(path)
    report = Report(targets=[source])
    images = check_images(sections.images, source)
    category_findings, category_ids = check_categories(sections.categories, source)
    report.findings += images.findings + category_findings
    usable = np.flatnonzero(images.has_id)
    # The first of duplicated image ids wins, as a dict lookup would.
    order = usable[np.argsort(images.ids[usable], kind="stable")]
    sorted_ids = images.ids[order]
    first = np.ones(len(order), bool)
    first[1:] = sorted_ids[1:] != sorted_ids[:-1]
    ctx = CocoContext(
        source=source,
        sorted_image_ids=sorted_ids[first],
        image_order=order[first],
        widths=images.widths,
        heights=images.heights,
        sorted_category_ids=category_ids,
        tolerance=tolerance,
    )
    workers = workers or os.cpu_count() or 1
    chunks = None
    if sections.ranges is not None:
        sizes = [e - s for s, e in sections.ranges]
        try:
            chunks = list(
                run_in_order(
                    _check_range,
                    [(source, s, e, ctx) for s, e in sections.ranges],
                    sizes,
                    workers=workers if sum(sizes) >= PARALLEL_MIN_BYTES else 1,
                    desc=f"validate {path.name}",
                    unit="B",
                    progress=progress,
                )
            )
        except coco.LayoutError:
            log.info("%s: reading the file whole (its layout defeats the byte-range reader)", path)
            sections = _read_whole(path)
    if chunks is None:
        assert sections.annotations is not None
        batches = [
            sections.annotations[b : b + 20000] for b in range(0, len(sections.annotations), 20000)
        ]
        chunks = list(
            run_in_order(
                check_annotations,
                [(batch, ctx) for batch in batches],
                [len(b) for b in batches],
                workers=1,
                desc=f"validate {path.name}",
                unit="ann",
                progress=progress,
            )
        )
    offset = 0
    all_ids = []
    for chunk in chunks:
        report.findings += [_shifted(f, offset) for f in chunk.findings]
        all_ids.append(chunk.ids)
        offset += chunk.count
        report.checked["polygons"] += chunk.polygons
    ids = np.concatenate(all_ids) if all_ids else np.empty(0, np.int64)
    report.findings += _duplicates(ids, ids != _NO_ID, source, "annotation")
    report.checked.update(annotations=offset, images=len(sections.images))
    return report


# ------------------------------------------------------------------------------------ YOLO labels


@dataclass(frozen=True)
class LabelContext:
    """How to read the label files of one dataset (small and picklable)."""

    nc: int | None = None
    kpt_shape: tuple[int, int] | None = None


def check_label_rows(rows: yolo.LabelRows, file: str, ctx: LabelContext) -> list[Finding]:
    """Check the parsed rows of one label file (pure)."""
    batch = yolo.LabelBatch(
        rows=rows,
        file=np.zeros(len(rows), np.int64),
        unparsable=[(0, line, token) for line, token in rows.unparsable],
        missing=[],
    )
    return check_label_batch(batch, [file], ctx)


def check_label_batch(
    batch: yolo.LabelBatch, files: Sequence[str], ctx: LabelContext
) -> list[Finding]:
    """Check the rows of several label files at once (pure). Every check is one numpy pass
    over the whole batch; findings come file by file, each file's in the order of its checks."""
    rows, of = batch.rows, batch.file
    # (file, check number, kind, line, message), sorted by file and check at the end.
    found: list[tuple[int, int, str, int, str]] = [
        (f, 0, "unparsable", line, f"token {token!r} is not a number; fix or delete the line")
        for f, line, token in batch.unparsable
    ]

    def add(check: int, r: int, kind: str, message: str) -> None:
        found.append((int(of[r]), check, kind, int(rows.lines[r]), message))

    classes = rows.classes
    finite_class = np.isfinite(classes)
    integral = finite_class & (classes >= 0) & (classes == np.round(classes))
    for r in np.flatnonzero(~integral).tolist():
        add(1, r, "bad-class", f"class {classes[r]:g}: expected a non-negative integer")
    if ctx.nc is not None:
        for r in np.flatnonzero(integral & (classes >= ctx.nc)).tolist():
            message = f"class {int(classes[r])} >= nc {ctx.nc}; Ultralytics skips the whole image"
            add(2, r, "class-out-of-range", message)
    counts = rows.counts
    starts = rows.starts
    finite = _segment_sums(~np.isfinite(rows.values), counts) == 0
    checked = _coordinate_mask(counts, ctx.kpt_shape)
    with np.errstate(invalid="ignore"):
        beyond = checked & ((rows.values < 0) | (rows.values > 1))
    outside = _segment_sums(beyond, counts) > 0
    for r in np.flatnonzero(~finite).tolist():
        add(3, r, "non-finite", "NaN or infinity in the row; fix or delete it")
    for r in np.flatnonzero(finite & outside).tolist():
        start = int(starts[r])
        bad = rows.values[start : start + int(counts[r])][beyond[start : start + int(counts[r])]]
        add(
            4,
            r,
            "out-of-range",
            f"value {bad[0]:g} outside [0, 1] ({len(bad)} such); Ultralytics rejects the image, "
            "clip it (--fix)",
        )
    kinds = yolo.row_kinds(counts, ctx.kpt_shape)
    for r in np.flatnonzero(kinds == yolo.BAD).tolist():
        n = int(counts[r])
        if ctx.kpt_shape is not None:
            expected = 4 + ctx.kpt_shape[0] * ctx.kpt_shape[1]
            message = f"{n} numbers; a pose row of kpt_shape {ctx.kpt_shape} has {expected}"
            add(5, r, "bad-row", message)
        elif n % 2:
            add(5, r, "odd-coordinates", f"{n} numbers; expected x, y pairs (or 4 for a box)")
        else:
            message = f"{n // 2} point(s); expected at least 3 (or a 4-number box)"
            add(5, r, "too-few-points", message)
    if ctx.kpt_shape is None:
        polygon_file = np.bincount(of, weights=counts >= 6, minlength=len(files)) > 0
        for r in np.flatnonzero((kinds == yolo.BOX) & polygon_file[of]).tolist():
            add(
                6,
                r,
                "mixed-rows",
                "box row in a file of polygons: Ultralytics reads it as a 2-point polygon; "
                "convert it to a 4-corner polygon (--fix)",
            )
    keys = list(zip(of.tolist(), rows.texts, strict=True))
    if len(set(keys)) < len(keys):
        first_of: dict[tuple[int, bytes], int] = {}
        for r, key in enumerate(keys):
            first = first_of.setdefault(key, r)
            if first != r:
                message = f"same as line {int(rows.lines[first])}; Ultralytics drops it"
                add(7, r, "duplicate-row", message)
    polygons = np.flatnonzero((kinds == yolo.POLYGON) & finite & integral)
    if len(polygons):
        _check_label_rings(rows, polygons, add)
    found.sort(key=lambda item: item[:2])
    return [finding(kind, files[f], message, line=line) for f, _, kind, line, message in found]


def _coordinate_mask(counts: np.ndarray, kpt_shape: tuple[int, int] | None) -> np.ndarray:
    """Which values are coordinates (all but the visibility flags of pose rows)."""
    mask = np.ones(int(counts.sum()), bool)
    if kpt_shape is None or kpt_shape[1] != 3:
        return mask
    starts = np.cumsum(counts) - counts
    position = np.arange(len(mask)) - np.repeat(starts, counts)
    mask[(position >= 4) & ((position - 4) % 3 == 2)] = False
    return mask


def _check_label_rings(
    rows: yolo.LabelRows, polygons: np.ndarray, add: Callable[[int, int, str, str], None]
) -> None:
    """Ring checks of the polygon rows ``polygons``: a row with a repeated point is split into
    its bridged parts (:func:`cocoprep.geometry.split_bridged_ring`), the parts checked."""
    from cocoprep.geometry import split_bridged_ring

    counts = rows.counts[polygons]
    npoints = counts // 2
    first = np.cumsum(counts) - counts
    take = np.arange(int(counts.sum())) + np.repeat(rows.starts[polygons] - first, counts)
    points = rows.values[take].reshape(-1, 2)
    point_start = np.cumsum(npoints) - npoints
    # Counted on the written ring: splitting it at repeated vertices drops such repeats.
    same = np.zeros(len(points), bool)
    same[1:] = (points[1:] == points[:-1]).all(axis=1)
    same[point_start] = False
    repeats = _segment_sums(same, npoints)
    pieces, sizes, owners = [], [], []
    done = 0
    for j in yolo.rows_with_repeats(np.repeat(np.arange(len(polygons)), npoints), points):
        ring = points[point_start[j] : point_start[j] + npoints[j]]
        parts = split_bridged_ring(ring)
        pieces += [points[point_start[done] : point_start[j]], *parts]
        sizes += [npoints[done:j], [len(p) for p in parts]]
        owners += [np.arange(done, j), [j] * len(parts)]
        done = j + 1
    pieces.append(points[point_start[done] :] if done < len(polygons) else np.empty((0, 2)))
    sizes.append(npoints[done:])
    owners.append(np.arange(done, len(polygons)))
    owner = np.concatenate(owners).astype(np.int64)
    checks = check_rings(
        np.concatenate(pieces), np.concatenate(sizes).astype(np.int64), MIN_AREA_NORMALISED
    )
    for k, reason in enumerate(checks.reasons):
        if reason is not None:
            message = f"{reason} (Shapely, normalised coordinates); --fix keeps its valid parts"
            add(8, int(polygons[owner[k]]), "invalid-ring", message)
    area = np.bincount(owner, weights=checks.valid_area, minlength=len(polygons))
    for j in np.flatnonzero(area < MIN_AREA_NORMALISED).tolist():
        message = f"polygon area {area[j]:.3g} of the image (< {MIN_AREA_NORMALISED:g}); drop it"
        add(9, int(polygons[j]), "zero-area", message)
    for j in np.flatnonzero(repeats).tolist():
        message = f"a vertex repeats {int(repeats[j])} time(s) in a row"
        add(10, int(polygons[j]), "repeated-vertices", message)


def _check_label_batch(files: list[str], ctx: LabelContext) -> list[Finding]:
    return check_label_batch(yolo.read_label_batch(files), files, ctx)


def check_label_files(
    files: Sequence[Path], ctx: LabelContext, *, workers: int, progress: bool, desc: str
) -> list[Finding]:
    """Check label files, in batches over joblib workers when there are many."""
    names = [str(f) for f in files]
    batch = 2000
    jobs = [(names[b : b + batch], ctx) for b in range(0, len(names), batch)]
    results = run_in_order(
        _check_label_batch,
        jobs,
        [len(job[0]) for job in jobs],
        workers=workers if len(names) > 4 * batch else 1,
        desc=desc,
        unit="file",
        progress=progress,
    )
    return list(chain.from_iterable(results))


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


def label_context(labels_dir: Path, nc: int | None) -> tuple[LabelContext, str | None]:
    """nc and keypoint shape for a labels folder: ``nc`` when given, else the cocoprep record in
    its root (``ROOT/labels/<split>`` → ``ROOT/cocoprep.json``)."""

    root = labels_dir.resolve().parent.parent
    record = layout.read_record(root) if layout.record_path(root).is_file() else None
    kpt_shape = None
    note = None
    if record is not None:
        if nc is None:
            nc = len(record["classes"])
        if record.get("task") == "pose" and record.get("keypoints"):
            kpt_shape = (len(record["keypoints"]), 3)
    elif nc is None:
        note = f"{labels_dir}: no --nc and no {layout.RECORD_NAME} in its root: class ids unchecked"
    return LabelContext(nc=nc, kpt_shape=kpt_shape), note


def validate_labels(
    labels_dir: str | os.PathLike,
    *,
    nc: int | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> Report:
    """Check a YOLO labels folder, and its pairing with the images folder when that exists."""
    labels_dir = Path(labels_dir)
    report = Report(targets=[str(labels_dir)])
    ctx, note = label_context(labels_dir, nc)
    if note:
        report.notes.append(note)
    files = yolo.label_files(labels_dir)
    report.findings += check_label_files(
        files, ctx, workers=workers or os.cpu_count() or 1, progress=progress, desc="labels"
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
    progress: bool = False,
) -> Report:
    """Check a dataset yaml: names/nc, and every split it names (images ↔ labels, label files)."""
    spec = datasetyaml.read_dataset_yaml(yaml_path)
    source = str(spec.yaml)
    report = Report(targets=[source])
    if spec.nc is not None and spec.nc != len(spec.names):
        message = f"nc is {spec.nc} but names lists {len(spec.names)} classes; make them agree"
        report.findings.append(finding("names-mismatch", source, message))
    ctx = LabelContext(nc=nc if nc is not None else len(spec.names), kpt_shape=spec.kpt_shape)
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
                workers=workers or os.cpu_count() or 1,
                progress=progress,
                desc=f"labels {key}",
            )
            folders = {p.parent for p in labels}
            orphans = {p for folder in folders if folder.is_dir() for p in folder.glob("*.txt")}
            report.findings += _pairing(orphans | set(present), images, source)
            report.checked["images"] += len(images)
            report.checked["label files"] += len(present)
    return report


# ------------------------------------------------------------------------------------------ entry


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
    progress: bool = False,
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

"""``cocoprep validate --fix``: write a repaired copy of a COCO file or a YOLO labels folder.

Only what validation flags is touched; every other annotation and label row is copied as it is.
A flagged polygon is repaired with Shapely: ``make_valid``, keep the polygonal parts, clip to the
image, drop pieces below the near-zero area, remove repeated vertices; holes are filled, since a
COCO polygon list (and a YOLO ring) cannot hold them. What cannot be repaired is dropped, with a
count: annotations naming unknown images or categories, RLE masks of the wrong size, label rows
with a bad class. Repeated ids get new ids; exact duplicate annotations and rows are dropped.
The input is never modified unless asked for (``in_place``).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from cocoprep import coco, geometry, masks, numbers, yolo
from cocoprep.checks.coco import check_categories, check_images
from cocoprep.checks.coco_annotations import check_annotations, check_context, is_number
from cocoprep.checks.labels import LabelContext, check_label_rows, label_context
from cocoprep.checks.report import Finding
from cocoprep.checks.rings import MIN_AREA_NORMALISED, MIN_AREA_PX
from cocoprep.checks.validate import target_kind
from cocoprep.errors import InputError, UnsafePathError
from cocoprep.fileio import write_atomic
from cocoprep.outputs import same_file

log = logging.getLogger("cocoprep")

# Kinds after which an annotation or a label row cannot be kept.
_DROP_ANNOTATION = {"bad-annotation", "unknown-image", "unknown-category", "rle-size", "bad-rle"}
_DROP_ROW = {"unparsable", "bad-class", "class-out-of-range", "non-finite", "bad-row"}
_DROP_ROW |= {"odd-coordinates", "too-few-points", "zero-area", "obb-corners"}


@dataclass
class RepairSummary:
    """What :func:`repair` wrote and did."""

    source: str
    output: str
    counts: Counter

    def format(self) -> str:
        """One line per action, for the command line."""
        lines = [f"repaired {self.source} → {self.output}"]
        lines += [f"  {what:<36} {n:>8}" for what, n in sorted(self.counts.items()) if n]
        return "\n".join(lines)


def repair_polygons(
    parts: list[np.ndarray], width: float, height: float, min_area: float
) -> list[np.ndarray]:
    """Valid, clipped, non-degenerate outer rings for an object's polygon parts.

    Parts with fewer than 3 points or non-finite values are dropped; the rest are made valid and
    united, clipped to ``[0, width] x [0, height]``, split into polygons (holes filled), and
    polygons smaller than ``min_area`` dropped. Rings come without the closing vertex.

    Examples
    --------
    >>> bow_tie = np.array([[0, 0], [4, 4], [4, 0], [0, 4]], float)
    >>> [r.tolist() for r in repair_polygons([bow_tie], 10, 10, 1.0)]
    [[[0.0, 0.0], [0.0, 4.0], [2.0, 2.0]], [[4.0, 4.0], [4.0, 0.0], [2.0, 2.0]]]
    >>> repair_polygons([np.array([[0, 0], [1, 1]], float)], 10, 10, 1.0)
    []
    """
    import shapely

    # Rounded to a millionth of a pixel: GEOS's predicates go wrong on values like 1e-231,
    # whose squares underflow, and the rings it made from them came out invalid.
    usable = [np.round(p, 6) for p in parts if len(p) >= 3 and np.isfinite(p).all()]
    if not usable:
        return []
    shape = shapely.union_all(shapely.make_valid([shapely.Polygon(p) for p in usable]))
    shape = shapely.intersection(shape, shapely.box(0, 0, width, height))
    rings = []
    for piece in shapely.get_parts(shape):
        polygons = shapely.get_parts(piece) if piece.geom_type == "MultiPolygon" else [piece]
        for polygon in polygons:
            if polygon.geom_type != "Polygon" or polygon.area < min_area:
                continue
            exterior = shapely.Polygon(polygon.exterior)
            ring = shapely.get_coordinates(shapely.remove_repeated_points(exterior))[:-1]
            ring = np.clip(ring, 0, [width, height])  # GEOS may leave -1e-313 after clipping
            if len(ring) >= 3:
                rings.append(ring)
    return rings


# ------------------------------------------------------------------------------------ COCO files


def _repair_annotation(
    ann: dict[str, Any], kinds: set[str], width: float, height: float, counts: Counter
) -> dict[str, Any] | None:
    """The repaired annotation, or None to drop it."""
    from pycocotools import mask as mask_utils

    if kinds & _DROP_ANNOTATION or type(ann.get("image_id")) is not int:
        counts["annotations dropped (bad id, segmentation or RLE)"] += 1
        return None
    if type(ann.get("category_id")) is not int:
        counts["annotations dropped (bad id, segmentation or RLE)"] += 1
        return None
    ann = dict(ann)
    seg = ann.get("segmentation")
    if type(seg) is dict:
        rle = masks.rle_of(seg, int(height), int(width))
        if not mask_utils.area(rle):
            counts["annotations dropped (empty geometry)"] += 1
            return None
        ann["bbox"] = [float(v) for v in mask_utils.toBbox(rle)]
        ann["area"] = float(mask_utils.area(rle))
        counts["RLE bbox/area recomputed"] += 1
        return ann
    if seg is not None and type(seg) not in (list, dict):
        counts["annotations dropped (bad id, segmentation or RLE)"] += 1
        return None
    if type(seg) is list and seg:
        parts = _numeric_parts(seg)
        rings = repair_polygons(parts, width, height, MIN_AREA_PX)
        if not rings:
            counts["annotations dropped (empty geometry)"] += 1
            return None
        points = np.concatenate(rings)
        low, high = points.min(axis=0), points.max(axis=0)
        ann["segmentation"] = [ring.ravel().tolist() for ring in rings]
        ann["bbox"] = [*low.tolist(), *(high - low).tolist()]
        ann["area"] = float(sum(_area(ring) for ring in rings))
        counts["polygon annotations repaired"] += 1
        return ann
    box = ann.get("bbox")
    if type(box) is not list or len(box) != 4 or not all(map(is_number, box)):
        counts["annotations dropped (no usable bbox)"] += 1
        return None
    x0, y0 = max(box[0], 0.0), max(box[1], 0.0)
    x1, y1 = min(box[0] + box[2], width), min(box[1] + box[3], height)
    if not (x1 > x0 and y1 > y0 and np.isfinite([x0, y0, x1, y1]).all()):
        counts["annotations dropped (no usable bbox)"] += 1
        return None
    ann["bbox"] = [x0, y0, x1 - x0, y1 - y0]
    counts["boxes clipped"] += 1
    return ann


def _numeric_parts(seg: list) -> list[np.ndarray]:
    if type(seg[0]) is not list:
        seg = [seg]
    parts = []
    for part in seg:
        if type(part) is list and len(part) % 2 == 0 and all(map(is_number, part)):
            parts.append(np.asarray(part, np.float64).reshape(-1, 2))
    return parts


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))) / 2


def repair_coco(path: str | os.PathLike, out: str | os.PathLike) -> RepairSummary:
    """Write a repaired copy of a COCO file to ``out`` (which may be ``path`` itself)."""
    path, out = Path(path), Path(out)
    source = str(path)
    data = coco.load_whole(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        msg = f"{path}: not a COCO file (expected an object with 'images' and 'annotations')"
        raise InputError(msg)
    counts: Counter = Counter()
    images = check_images(data.get("images") or [], source)
    bad_images = {f.index for f in images.findings}
    counts["images dropped (bad id, size or path)"] = len(bad_images)
    data["images"] = [im for i, im in enumerate(data.get("images") or []) if i not in bad_images]
    category_findings, _ = check_categories(data.get("categories"), source)
    if any(f.index is None for f in category_findings):
        msg = (
            f"{path}: expected a 'categories' list, found none; add one (a repair cannot invent it)"
        )
        raise InputError(msg, path=path)
    bad_categories = {f.index for f in category_findings}
    counts["categories dropped (bad or repeated id)"] = len(bad_categories)
    data["categories"] = [c for i, c in enumerate(data["categories"]) if i not in bad_categories]
    kept_images = check_images(data["images"], source)
    category_ids = np.array([c["id"] for c in data["categories"]], np.int64)
    ctx = check_context(
        source,
        kept_images.ids,
        kept_images.has_id,
        kept_images.widths,
        kept_images.heights,
        category_ids,
    )
    annotations = data["annotations"]
    chunk = check_annotations(annotations, ctx)
    kinds_of: dict[int, set[str]] = {}
    for item in chunk.findings:
        kinds_of.setdefault(item.index, set()).add(item.kind)
    image_pos = ctx.image_positions(
        np.array(
            [a.get("image_id") if _int_id(a, "image_id") else -1 for a in annotations], np.int64
        )
    )
    repaired = []
    for i, ann in enumerate(annotations):
        kinds = kinds_of.get(i)
        if kinds is None:
            repaired.append(ann)
            continue
        if "bad-annotation" in kinds or image_pos[i] < 0:
            counts["annotations dropped (bad id, segmentation or RLE)"] += 1
            continue
        width, height = ctx.widths[image_pos[i]], ctx.heights[image_pos[i]]
        fixed = _repair_annotation(ann, kinds, width, height, counts)
        if fixed is not None:
            repaired.append(fixed)
    data["annotations"] = _dedupe_annotations(repaired, counts)
    write_atomic(out, orjson.dumps(data))
    return RepairSummary(source=source, output=str(out), counts=counts)


def _int_id(ann: Any, key: str) -> bool:
    return type(ann) is dict and type(ann.get(key)) is int


def _dedupe_annotations(annotations: list[dict[str, Any]], counts: Counter) -> list[dict]:
    """Drop exact repeats; give a new id to an annotation whose id is missing or taken."""
    seen: set[bytes] = set()
    taken: set[int] = set()
    next_id = 1 + max((a["id"] for a in annotations if _int_id(a, "id")), default=0)
    out = []
    for ann in annotations:
        key = orjson.dumps({k: v for k, v in ann.items() if k != "id"}, option=orjson.OPT_SORT_KEYS)
        if key in seen:
            counts["duplicate annotations dropped"] += 1
            continue
        seen.add(key)
        if not _int_id(ann, "id") or ann["id"] in taken:
            ann = {**ann, "id": next_id}
            next_id += 1
            counts["annotation ids renumbered"] += 1
        taken.add(ann["id"])
        out.append(ann)
    return out


# ------------------------------------------------------------------------------------ YOLO labels


def _box_corners(values: np.ndarray) -> np.ndarray:
    cx, cy, w, h = values[:4]
    return np.array(
        [
            [cx - w / 2, cy - h / 2],
            [cx + w / 2, cy - h / 2],
            [cx + w / 2, cy + h / 2],
            [cx - w / 2, cy + h / 2],
        ]
    )


def _polygon_row(class_id: int, rings: list[np.ndarray]) -> bytes | None:
    """One label row for an object's rings (bridged into one ring), or None if nothing is left."""
    if not rings:
        return None
    # Round to the 6 decimals %g writes for values in [0, 1] so the text is the geometry checked.
    rings = [_dedupe_consecutive(np.round(ring, 6)) for ring in rings]
    rings = [ring for ring in rings if len(ring) >= 3]
    if not rings:
        return None
    # Parts that touch get a zero-length bridge: drop its repeated vertex.
    ring = _dedupe_consecutive(geometry.merge_parts(rings)) if len(rings) > 1 else rings[0]
    text, _ = numbers.format_rows(np.array([class_id]), ring.ravel(), np.array([ring.size]), "g")
    return text.rstrip(b"\n")


def _dedupe_consecutive(ring: np.ndarray) -> np.ndarray:
    keep = np.ones(len(ring), bool)
    keep[1:] = (ring[1:] != ring[:-1]).any(axis=1)
    if keep.sum() > 1 and (ring[keep][0] == ring[keep][-1]).all():
        keep[np.flatnonzero(keep)[-1]] = False
    return ring[keep]


def _repair_rows(
    rows: yolo.LabelRows,
    findings: list[Finding],
    ctx: LabelContext,
    counts: Counter,
) -> bytes:
    kinds_at: dict[int, set[str]] = {}
    for item in findings:
        kinds_at.setdefault(item.line, set()).add(item.kind)
    polygon_file = ctx.kpt_shape is None and bool((rows.counts >= 6).any())
    out: list[bytes] = []
    counts["unparsable lines dropped"] += len(rows.unparsable)
    seen: set[bytes] = set()
    for r in range(len(rows)):
        kinds = kinds_at.get(int(rows.lines[r]), set())
        kinds.discard("duplicate-row")
        text = rows.texts[r]
        if kinds & _DROP_ROW:
            counts["rows dropped"] += 1
            continue
        if kinds:
            text = _repair_row(int(rows.classes[r]), rows.row(r), polygon_file, ctx, counts)
            if text is None:
                counts["rows dropped"] += 1
                continue
        if text in seen:
            counts["duplicate rows dropped"] += 1
            continue
        seen.add(text)
        out.append(text + b"\n")
    return b"".join(out)


def _repair_row(
    class_id: int,
    values: np.ndarray,
    polygon_file: bool,
    ctx: LabelContext,
    counts: Counter,
) -> bytes | None:
    if ctx.kpt_shape is not None:
        clipped = values.copy()
        clipped[:4] = np.clip(clipped[:4], 0, 1)
        keypoints = clipped[4:].reshape(ctx.kpt_shape)
        keypoints[:, :2] = np.clip(keypoints[:, :2], 0, 1)
        counts["pose rows clipped"] += 1
        text, _ = numbers.format_rows(np.array([class_id]), clipped, np.array([len(clipped)]), "f6")
        return text.rstrip(b"\n")
    if ctx.obb:  # out of range: its corners clipped
        counts["obb rows clipped"] += 1
        text, _ = numbers.format_rows(np.array([class_id]), np.clip(values, 0, 1), [8], "g")
        return text.rstrip(b"\n")
    if len(values) == 4:
        corners = np.clip(_box_corners(values), 0, 1)
        if polygon_file:
            counts["box rows turned into polygons"] += 1
            return _polygon_row(class_id, repair_polygons([corners], 1, 1, 0))
        low, high = corners.min(axis=0), corners.max(axis=0)
        if not (high > low).all():
            return None
        box = np.concatenate([(low + high) / 2, high - low])
        counts["boxes clipped"] += 1
        text, _ = numbers.format_rows(np.array([class_id]), box, np.array([4]), "f6")
        return text.rstrip(b"\n")
    parts = geometry.split_bridged_ring(values.reshape(-1, 2))
    counts["polygon rows repaired"] += 1
    return _polygon_row(class_id, repair_polygons(parts, 1.0, 1.0, MIN_AREA_NORMALISED))


def repair_labels(
    labels_dir: str | os.PathLike, out: str | os.PathLike, *, nc: int | None = None
) -> RepairSummary:
    """Write a repaired copy of a labels folder to ``out`` (which may be the folder itself)."""
    labels_dir, out = Path(labels_dir), Path(out)
    ctx, _ = label_context(labels_dir, nc)
    counts: Counter = Counter()
    same = out.resolve() == labels_dir.resolve()
    for file in yolo.label_files(labels_dir):
        target = out / file.relative_to(labels_dir)
        rows = yolo.read_labels(file)
        findings = check_label_rows(rows, str(file), ctx)
        if not findings:
            if not same:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)
            continue
        counts["label files repaired"] += 1
        write_atomic(target, _repair_rows(rows, findings, ctx, counts))
    return RepairSummary(source=str(labels_dir), output=str(out), counts=counts)


def repair(
    target: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    in_place: bool = False,
    nc: int | None = None,
) -> RepairSummary:
    """Repair a COCO JSON file or a YOLO labels folder into ``out``, or into ``target`` itself
    with ``in_place`` (``out`` then omitted). ``out`` never names the input otherwise."""
    target = Path(target)
    kind = target_kind(target)
    out = _output(target, out, in_place)
    wanted = {"coco": ("a file name for the repaired COCO file", "a .json file", Path.is_dir)}
    wanted["labels"] = ("a folder for the repaired labels", "a folder", Path.is_file)
    if kind in wanted:
        expected, name, wrong = wanted[kind]
        if wrong(out):
            found = "a folder" if out.is_dir() else "a file"
            msg = f"{out}: expected {expected} ({{fix}}), found {found}; name {name}"
            raise InputError(msg, path=out, params=["fix"])
        return repair_coco(target, out) if kind == "coco" else repair_labels(target, out, nc=nc)
    msg = (
        f"{target}: expected a COCO JSON file or a labels folder to repair, found a dataset yaml; "
        "repair its labels folders one by one"
    )
    raise InputError(msg, path=target)


def _output(target: Path, out: str | os.PathLike | None, in_place: bool) -> Path:
    """Where the repair goes: ``target`` itself only with ``in_place``; never inside a labels
    folder being repaired, nor a folder that holds it."""
    if in_place:
        if out is not None and Path(out).resolve() != target.resolve():
            msg = f"{out}: expected either {{fix}} or {{in_place}}, found both; give one"
            raise InputError(msg, path=out, params=["fix", "in_place"])
        return target
    if out is None:
        msg = (
            f"{target}: expected where to write the repair, found neither {{fix}} nor {{in_place}}"
        )
        raise InputError(msg, path=target, params=["fix", "in_place"])
    out = Path(out)
    source, dest = target.resolve(), out.resolve()
    if same_file(out, target):  # (through links too)
        msg = (
            f"{out}: expected an output other than the input it repairs ({{fix}}), found the "
            "input itself; pass {in_place} to repair it in place"
        )
        raise UnsafePathError(msg, path=out, params=["fix", "in_place"])
    if target.is_dir() and (dest.is_relative_to(source) or source.is_relative_to(dest)):
        msg = (
            f"{out}: expected an output folder outside the labels folder {target} ({{fix}}), "
            "found one inside it or holding it; name a separate folder"
        )
        raise UnsafePathError(msg, path=out, params=["fix"])
    return out

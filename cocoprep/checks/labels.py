"""Checks of YOLO label files: every check one numpy pass over a batch of files' rows.

A polygon row holds one ring per object, multi-part objects joined by zero-width bridges: its
parts are checked (:func:`cocoprep.geometry.split_bridged_ring`), never the bridges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from cocoprep import layout, rectangles, yolo
from cocoprep.checks.report import Finding, finding
from cocoprep.checks.rings import MIN_AREA_NORMALISED, check_rings, segment_sums
from cocoprep.parallel import run_in_order
from cocoprep.progress import Progress

#: ``add(check, row, kind, message)``: a finding about a row, ordered by check within its file.
Add = Callable[[int, int, str, str], None]


@dataclass(frozen=True)
class LabelContext:
    """How to read the label files of one dataset (small and picklable)."""

    nc: int | None = None
    kpt_shape: tuple[int, int] | None = None
    obb: bool = False  # rows are oriented boxes (the root's record says task obb)


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
    finite = _check_values(rows, ctx, add)
    kinds = yolo.row_kinds(rows.counts, ctx.kpt_shape, ctx.obb)
    _check_shapes(rows, of, kinds, len(files), ctx, add)
    polygons = np.flatnonzero((kinds == yolo.POLYGON) & finite & integral)
    if len(polygons):
        _check_label_rings(rows, polygons, add)
    boxes = np.flatnonzero((kinds == yolo.OBB) & finite)
    take = rows.starts[boxes, None] + np.arange(8)
    corners = rows.values[take].reshape(-1, 4, 2)
    for r in boxes[~rectangles.distinct_corners(corners)].tolist():
        add(8, r, "obb-corners", "two corners are the same point (at 6 decimals); drop the row")
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


def _check_label_rings(rows: yolo.LabelRows, polygons: np.ndarray, add: Add) -> None:
    """Ring checks of the polygon rows ``polygons``: a row with a repeated point is split into
    its bridged parts (:func:`cocoprep.geometry.split_bridged_many`), the parts checked."""
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
    repeats = segment_sums(same, npoints)
    pieces, sizes, owners = [], [], []
    done = 0
    point_row = np.repeat(np.arange(len(polygons)), npoints)
    bridged, split = yolo.split_bridged_rows(point_row, points, npoints)
    for j, parts in zip(bridged.tolist(), split, strict=True):
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
            message = f"{reason} (Shapely, normalised coordinates); {{fix}} keeps its valid parts"
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
    files: Sequence[Path], ctx: LabelContext, *, workers: int, progress: Progress, desc: str
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
        note = (
            f"{labels_dir}: no {{nc}} and no {layout.RECORD_NAME} in its root: class ids unchecked"
        )
    obb = record is not None and record.get("task") == "obb"
    return LabelContext(nc=nc, kpt_shape=kpt_shape, obb=obb), note


def _check_values(rows: yolo.LabelRows, ctx: LabelContext, add: Add) -> np.ndarray:
    """Non-finite and out-of-range values; returns which rows are finite."""
    counts = rows.counts
    starts = rows.starts
    finite = segment_sums(~np.isfinite(rows.values), counts) == 0
    checked = _coordinate_mask(counts, ctx.kpt_shape)
    with np.errstate(invalid="ignore"):
        beyond = checked & ((rows.values < 0) | (rows.values > 1))
    outside = segment_sums(beyond, counts) > 0
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
            "clip it ({fix})",
        )
    return finite


def _check_shapes(
    rows: yolo.LabelRows,
    of: np.ndarray,
    kinds: np.ndarray,
    nfiles: int,
    ctx: LabelContext,
    add: Add,
) -> None:
    """Rows whose length fits no kind, box rows among polygons, repeated rows."""
    counts = rows.counts
    for r in np.flatnonzero(kinds == yolo.BAD).tolist():
        n = int(counts[r])
        if ctx.kpt_shape is not None:
            expected = 4 + ctx.kpt_shape[0] * ctx.kpt_shape[1]
            message = f"{n} numbers; a pose row of kpt_shape {ctx.kpt_shape} has {expected}"
            add(5, r, "bad-row", message)
        elif ctx.obb:
            add(5, r, "bad-row", f"{n} numbers; an obb row has 8 (x y of four corners)")
        elif n % 2:
            add(5, r, "odd-coordinates", f"{n} numbers; expected x, y pairs (or 4 for a box)")
        else:
            message = f"{n // 2} point(s); expected at least 3 (or a 4-number box)"
            add(5, r, "too-few-points", message)
    if ctx.kpt_shape is None and not ctx.obb:
        polygon_file = np.bincount(of, weights=counts >= 6, minlength=nfiles) > 0
        for r in np.flatnonzero((kinds == yolo.BOX) & polygon_file[of]).tolist():
            add(
                6,
                r,
                "mixed-rows",
                "box row in a file of polygons: Ultralytics reads it as a 2-point polygon; "
                "convert it to a 4-corner polygon ({fix})",
            )
    keys = list(zip(of.tolist(), rows.texts, strict=True))
    if len(set(keys)) < len(keys):
        first_of: dict[tuple[int, bytes], int] = {}
        for r, key in enumerate(keys):
            first = first_of.setdefault(key, r)
            if first != r:
                message = f"same as line {int(rows.lines[first])}; Ultralytics drops it"
                add(7, r, "duplicate-row", message)

"""Minimum-area rotated rectangles (oriented boxes) of many point sets at once.

Pure functions on numpy arrays. A batch of point sets is ragged: ``points`` ``(N, 2)`` holds all
of them concatenated, ``sizes[i]`` the number of points of set ``i``. Shapely 2 computes every
rectangle in one call (GEOS >= 3.12 ``MinimumAreaRectangle``: rotating calipers over the convex
hull, ~10 µs a COCO polygon).

Corners come in order around the rectangle, ``(4, 2)`` per set: clockwise as seen on an image
(``y`` down), from the top corner (the left one of two at the top), so an upright rectangle reads
top-left, top-right, bottom-right, bottom-left like a COCO box's polygon. A set of collinear
points (or fewer than two, or a sliver thinner than 1e-9 of the set's extent) has no rectangle:
NaN corners.
"""

from __future__ import annotations

import numpy as np

__all__ = ["distinct_corners", "min_area_rectangles", "oriented_boxes"]


def min_area_rectangles(points: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The minimum-area rectangle holding each point set, as ``(n, 4, 2)`` corners (see the
    module docstring for batches and corner order).

    Examples
    --------
    >>> diamond = np.array([[1, 0], [2, 1], [1, 2], [0, 1], [1, 1]], float)
    >>> min_area_rectangles(diamond, np.array([5])).round(9).tolist()
    [[[1.0, 0.0], [2.0, 1.0], [1.0, 2.0], [0.0, 1.0]]]
    """
    import shapely

    points = np.asarray(points, np.float64).reshape(-1, 2)
    sizes = np.asarray(sizes, np.int64)
    out = np.full((len(sizes), 4, 2), np.nan)
    # A linestring needs two points: a set of one is no rectangle anyway.
    sets = np.flatnonzero(sizes >= 2)
    if not len(sets):
        return out
    take = np.repeat(sizes >= 2, sizes)
    owner = np.repeat(np.arange(len(sets)), sizes[sets])
    chosen = points[take]
    # GEOS squares and divides by edge lengths: near 1e-300 that gives garbage. They are 0 here.
    chosen[np.abs(chosen) < 1e-100] = 0.0
    lines = shapely.linestrings(chosen, indices=owner)
    with np.errstate(divide="ignore", invalid="ignore"):
        rectangles = shapely.minimum_rotated_rectangle(lines)
    # Collinear sets give a line (or a point): no rectangle.
    polygon = np.flatnonzero(shapely.get_type_id(rectangles) == shapely.GeometryType.POLYGON)
    coords = shapely.get_coordinates(rectangles[polygon]).reshape(-1, 5, 2)[:, :4]
    # Nearly collinear ones may come out as a sliver, or (subnormal widths) as a speck that
    # misses the points: no rectangle either, as labels could not tell its corners apart. Both
    # are thinner than 1e-9 of the set's extent or shorter than it.
    bounds = shapely.bounds(lines[polygon])
    extent = np.maximum(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    sides = np.hypot(*(coords[:, 1:3] - coords[:, 0:2]).transpose(2, 0, 1))
    with np.errstate(invalid="ignore"):
        usable = (sides.min(axis=1) > 1e-9 * extent) & (np.hypot(*sides.T) >= (1 - 1e-9) * extent)
    coords[~usable] = np.nan
    out[sets[polygon]] = _canonical(coords)
    return out


def _canonical(corners: np.ndarray) -> np.ndarray:
    """Rectangles ``(n, 4, 2)`` in the corner order of the module docstring."""
    x, y = corners[..., 0], corners[..., 1]
    turn = (x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1)
    corners = np.where((turn < 0)[:, None, None], corners[:, ::-1], corners)
    top = np.lexsort((corners[..., 0], corners[..., 1]), axis=1)[:, 0]
    order = (top[:, None] + np.arange(4)) % 4
    return np.take_along_axis(corners, order[..., None], axis=1)


def distinct_corners(corners: np.ndarray) -> np.ndarray:
    """Per rectangle ``(n, 4, 2)``: are its four corners distinct at the precision labels are
    written with (6 decimals)?

    >>> square = np.array([[[0, 0], [1, 0], [1, 1], [0, 1]]], float)
    >>> distinct_corners(np.concatenate([square, square * 1e-7])).tolist()
    [True, False]
    """
    rounded = np.round(np.asarray(corners, np.float64), 6)
    result = np.isfinite(rounded).all(axis=(1, 2))
    for i in range(4):
        for j in range(i + 1, 4):
            result &= (rounded[:, i] != rounded[:, j]).any(axis=1)
    return result


def oriented_boxes(
    points: np.ndarray,
    sizes: np.ndarray,
    boxes: np.ndarray,
    widths: np.ndarray,
    heights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised oriented-box corners ``(n, 4, 2)`` of each object from its pixel ``points``
    (ragged, ``sizes``), clipped to [0, 1].

    An object whose rectangle has fewer than four distinct corners once normalised (no points,
    collinear points, or all clipped into an image corner) takes its ``bbox`` ``(x, y, w, h)``
    instead, when that has four. Returns the corners, which objects took their box, and which
    have four distinct corners (the others are no object: their corners are NaN-free but
    unusable).

    Examples
    --------
    >>> square = np.array([[10, 10], [30, 10], [30, 30], [10, 30]], float)
    >>> corners, boxed, ok = oriented_boxes(square, np.array([4]), np.array([[0, 0, 1, 1.]]),
    ...                                      np.array([100.]), np.array([50.]))
    >>> corners.tolist(), boxed.tolist(), ok.tolist()
    ([[[0.1, 0.2], [0.3, 0.2], [0.3, 0.6], [0.1, 0.6]]], [False], [True])
    """
    scale = np.stack([widths, heights], axis=1).astype(np.float64)[:, None, :]
    corners = np.clip(min_area_rectangles(points, sizes) / scale, 0.0, 1.0)
    ok = distinct_corners(corners)
    boxed = ~ok & ~np.isnan(boxes[:, 0])
    if boxed.any():
        x, y, w, h = boxes[boxed].T
        ring = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=1).reshape(-1, 4, 2)
        corners[boxed] = np.clip(ring / scale[boxed], 0.0, 1.0)
        ok = distinct_corners(corners)
        boxed &= ok
    return np.nan_to_num(corners), boxed, ok

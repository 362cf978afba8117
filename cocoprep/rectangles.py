"""Minimum-area rotated rectangles of many point sets at once (``convert --task obb``).

The smallest rectangle holding a set of points has a side on an edge of the set's convex hull
(Freeman and Shapira, 1975). Shapely computes every hull in one call; numpy then tries every
hull edge of every set together: a set whose hull has ``h`` vertices costs ``h * h``
projections, and COCO outlines have hulls of about ten. This needs no particular GEOS version
(``shapely.oriented_envelope`` gives the minimum-*width* rectangle before GEOS 3.12).
"""

from __future__ import annotations

import numpy as np


def min_area_rectangles(points: np.ndarray, npoints: np.ndarray) -> np.ndarray:
    """The minimum-area rectangle of each of ``len(npoints)`` point sets, as ``(n, 4, 2)``
    corners in order around it; set ``r`` is the ``npoints[r]`` rows of ``points`` after those
    of the sets before it. A set of one point, or of collinear points, gets a rectangle of zero
    width; an empty set NaN corners.

    Examples
    --------
    >>> square = np.array([[0, 0], [2, 0], [2, 2], [0, 2], [1, 1]], float)
    >>> rect = min_area_rectangles(square, np.array([5]))[0]
    >>> sorted(map(tuple, rect.round(9).tolist()))
    [(0.0, 0.0), (0.0, 2.0), (2.0, 0.0), (2.0, 2.0)]
    >>> diamond = np.array([[1, 0], [2, 1], [1, 2], [0, 1]], float)
    >>> round(float(rectangle_areas(min_area_rectangles(diamond, np.array([4])))[0]), 9)
    2.0
    """
    import shapely

    points = np.asarray(points, np.float64).reshape(-1, 2)
    npoints = np.asarray(npoints, np.int64)
    out = np.full((len(npoints), 4, 2), np.nan)
    filled = np.flatnonzero(npoints > 0)
    if not len(filled):
        return out
    row = np.repeat(np.arange(len(filled)), npoints[filled])  # numbered without empty sets
    # A one-point set as a two-point line: linestrings build far faster than multipoints.
    if (npoints == 1).any():
        twice = np.where(npoints[filled][row] == 1, 2, 1)
        points, row = np.repeat(points, twice, axis=0), np.repeat(row, twice)
    lines = shapely.linestrings(points, indices=row)
    hulls = shapely.convex_hull(lines)
    hull, owner = shapely.get_coordinates(hulls, return_index=True)
    sizes = np.bincount(owner, minlength=len(filled))
    # A polygon hull repeats its first vertex at the end: dropped, one edge fewer to try.
    closed = shapely.get_type_id(hulls) == shapely.GeometryType.POLYGON
    if closed.any():
        keep = np.ones(len(hull), bool)
        keep[(np.cumsum(sizes) - 1)[closed]] = False
        hull, sizes = hull[keep], sizes - closed
    out[filled] = _calipers(hull, sizes)
    return out


def _calipers(hull: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The minimum-area rectangle of each hull (``sizes[j]`` vertices in order around it, a
    repeated closing vertex allowed), trying each edge as a side. Hulls go through as dense
    arrays, a few sizes at a time: each padded to its size class by repeating its last vertex
    (which adds edges of zero length, never tried)."""
    starts = np.cumsum(sizes) - sizes
    # Sizes up to 8 as they are, then 4 classes per doubling (10, 12, 14, 16, 20, ...).
    step = 2 ** np.maximum(0, np.floor(np.log2(np.maximum(sizes, 1))).astype(np.int64) - 2)
    padded = np.where(sizes <= 8, sizes, -(-sizes // step) * step)
    out = np.empty((len(sizes), 4, 2))
    for size in np.unique(padded).tolist():
        which = np.flatnonzero(padded == size)
        index = starts[which, None] + np.minimum(np.arange(size), sizes[which, None] - 1)
        out[which] = _dense_calipers(hull[index])
    return out


def _dense_calipers(vertices: np.ndarray) -> np.ndarray:
    """:func:`_calipers` for ``(m, h, 2)`` hulls of ``h`` vertices each."""
    # Relative to each hull's first vertex: less cancellation far from the origin.
    origin = vertices[:, 0]
    x = vertices[..., 0] - origin[:, :1]
    y = vertices[..., 1] - origin[:, 1:]
    ex, ey = np.roll(x, -1, axis=1) - x, np.roll(y, -1, axis=1) - y
    length = np.hypot(ex, ey)
    flat = length == 0
    length[flat] = 1.0
    ux, uy = np.where(flat, 1.0, ex / length), ey / length
    # Vertex j along edge i's direction u (s) and across it, along v = (-uy, ux) (t).
    s = ux[:, :, None] * x[:, None, :] + uy[:, :, None] * y[:, None, :]
    t = ux[:, :, None] * y[:, None, :] - uy[:, :, None] * x[:, None, :]
    s_min, s_max, t_min, t_max = s.min(2), s.max(2), t.min(2), t.max(2)
    area = (s_max - s_min) * (t_max - t_min)
    if x.shape[1] > 1:
        area[flat] = np.inf  # a repeated vertex gives no direction
    rows = np.arange(len(x))
    best = np.argmin(area, axis=1)
    ux, uy = ux[rows, best, None], uy[rows, best, None]
    s_lo, s_hi, t_lo, t_hi = (a[rows, best] for a in (s_min, s_max, t_min, t_max))
    corner_s = np.stack([s_lo, s_hi, s_hi, s_lo], axis=1)
    corner_t = np.stack([t_lo, t_lo, t_hi, t_hi], axis=1)
    corners = np.stack([corner_s * ux - corner_t * uy, corner_s * uy + corner_t * ux], axis=-1)
    return corners + origin[:, None, :]


def rectangle_areas(corners: np.ndarray) -> np.ndarray:
    """Areas of ``(n, 4, 2)`` rectangles given corner by corner around them."""
    a = corners[:, 1] - corners[:, 0]
    b = corners[:, 3] - corners[:, 0]
    return np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])

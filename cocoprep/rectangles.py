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
    row = np.repeat(np.arange(len(npoints)), npoints)
    # A one-point set as a two-point line: linestrings build far faster than multipoints.
    single = npoints[row] == 1
    points = np.concatenate([points, points[single]])
    row = np.concatenate([row, row[single]])
    order = np.argsort(row, kind="stable")
    lines = shapely.linestrings(points[order], indices=row[order])
    hull, owner = shapely.get_coordinates(shapely.convex_hull(lines), return_index=True)
    out[filled] = _calipers(hull, np.bincount(owner, minlength=len(filled)))
    return out


def _calipers(hull: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The minimum-area rectangle of each hull (``sizes[j]`` vertices in order around it, a
    repeated closing vertex allowed), trying each edge as a side; hulls of one size at a time,
    as dense arrays."""
    starts = np.cumsum(sizes) - sizes
    out = np.empty((len(sizes), 4, 2))
    for size in np.unique(sizes).tolist():
        which = np.flatnonzero(sizes == size)
        vertices = hull[starts[which, None] + np.arange(size)]
        out[which] = _dense_calipers(vertices)
    return out


def _dense_calipers(vertices: np.ndarray) -> np.ndarray:
    """:func:`_calipers` for ``(m, h, 2)`` hulls of ``h`` vertices each."""
    # Relative to each hull's first vertex: less cancellation far from the origin.
    origin = vertices[:, :1]
    local = vertices - origin
    edge = np.roll(local, -1, axis=1) - local
    length = np.hypot(edge[..., 0], edge[..., 1])
    flat = length == 0
    u = np.where(flat[..., None], [1.0, 0.0], edge / np.where(flat, 1.0, length)[..., None])
    v = np.stack([-u[..., 1], u[..., 0]], axis=-1)
    s = np.einsum("mek,mvk->mev", u, local)  # vertex v along edge e's direction
    t = np.einsum("mek,mvk->mev", v, local)
    s_min, s_max, t_min, t_max = s.min(2), s.max(2), t.min(2), t.max(2)
    area = (s_max - s_min) * (t_max - t_min)
    if local.shape[1] > 1:
        area[flat] = np.inf  # a repeated vertex gives no direction
    best = np.argmin(area, axis=1)[:, None]

    def pick(a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, best, axis=1)[:, 0]

    ux, uy = pick(u[..., 0])[:, None], pick(u[..., 1])[:, None]
    corner_s = np.stack([pick(s_min), pick(s_max), pick(s_max), pick(s_min)], axis=1)
    corner_t = np.stack([pick(t_min), pick(t_min), pick(t_max), pick(t_max)], axis=1)
    x = corner_s * ux - corner_t * uy  # s along u, t along v = (-uy, ux)
    y = corner_s * uy + corner_t * ux
    return np.stack([x, y], axis=-1) + origin


def rectangle_areas(corners: np.ndarray) -> np.ndarray:
    """Areas of ``(n, 4, 2)`` rectangles given corner by corner around them."""
    a = corners[:, 1] - corners[:, 0]
    b = corners[:, 3] - corners[:, 0]
    return np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])

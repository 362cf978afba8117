"""Minimum-area rotated rectangles: right angles, every point inside, no larger than need be."""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import given
from hypothesis import strategies as st

from cocoprep.rectangles import min_area_rectangles, rectangle_areas

coordinate = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
point_sets = st.lists(
    st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=40), min_size=1, max_size=8
)


def _flat(sets: list[list[tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    points = np.array([p for s in sets for p in s], np.float64).reshape(-1, 2)
    return points, np.array([len(s) for s in sets])


def _brute_force_area(points: np.ndarray) -> float:
    """The smallest bounding-rectangle area over every direction through two of the points."""
    best = math.inf
    for a in points:
        for b in points:
            d = b - a
            if not d.any():
                continue
            u = d / math.hypot(*d)
            s, t = points @ u, points @ [-u[1], u[0]]
            best = min(best, (s.max() - s.min()) * (t.max() - t.min()))
    return 0.0 if best == math.inf else best


@given(point_sets)
def test_rectangles_are_rectangles_holding_every_point(sets):
    points, npoints = _flat(sets)
    corners = min_area_rectangles(points, npoints)
    scale = 1 + np.abs(points).max()
    for rect, group in zip(corners, np.split(points, np.cumsum(npoints)[:-1]), strict=True):
        sides = np.roll(rect, -1, axis=0) - rect
        # Right angles: adjacent sides orthogonal (relative to their lengths and the coordinates).
        for k in range(4):
            dot = float(sides[k] @ sides[(k + 1) % 4])
            assert abs(dot) <= 1e-7 * scale * scale
        # Every point inside, up to rounding: in the rectangle's own axes from its first corner.
        width, height = float(np.hypot(*sides[0])), float(np.hypot(*sides[1]))
        u = sides[0] / width if width else np.array([1.0, 0.0])
        s, t = (group - rect[0]) @ u, (group - rect[0]) @ [-u[1], u[0]]
        tolerance = 1e-7 * scale
        assert (s >= -tolerance).all() and (s <= width + tolerance).all()
        assert (t >= -tolerance).all() and (t <= height + tolerance).all()


@given(point_sets)
def test_area_is_the_minimum(sets):
    points, npoints = _flat(sets)
    areas = rectangle_areas(min_area_rectangles(points, npoints))
    scale = 1 + np.abs(points).max()
    for area, group in zip(areas, np.split(points, np.cumsum(npoints)[:-1]), strict=True):
        expected = _brute_force_area(group)
        assert abs(area - expected) <= 1e-6 * scale * scale
        hull = shapely.convex_hull(shapely.multipoints(group))
        assert area >= hull.area - 1e-6 * scale * scale


def test_agrees_with_shapely_on_many_sets():
    rng = np.random.default_rng(5)
    npoints = rng.integers(3, 60, 2000)
    points = rng.normal(size=(npoints.sum(), 2)) * rng.uniform(1, 500, (npoints.sum(), 1))
    mine = rectangle_areas(min_area_rectangles(points, npoints))
    row = np.repeat(np.arange(len(npoints)), npoints)
    theirs = shapely.area(shapely.oriented_envelope(shapely.multipoints(points, indices=row)))
    if shapely.geos_version >= (3, 12, 0):  # before: the minimum-width rectangle
        np.testing.assert_allclose(mine, theirs, rtol=1e-9)
    assert (mine <= theirs * (1 + 1e-9)).all()


def test_degenerate_and_empty_sets():
    points = np.array([[3, 4], [0, 0], [1, 1], [2, 2], [5, 5], [5, 5]], float)
    corners = min_area_rectangles(points, np.array([1, 3, 0, 2]))
    assert np.isnan(corners[2]).all()
    assert (corners[0] == [3, 4]).all()  # one point: a rectangle of zero size
    np.testing.assert_allclose(rectangle_areas(corners[[0, 1, 3]]), 0, atol=1e-12)
    np.testing.assert_allclose(np.sort(corners[1][:, 0]), [0, 0, 2, 2], atol=1e-12)
    assert min_area_rectangles(np.empty((0, 2)), np.array([], np.int64)).shape == (0, 4, 2)


def test_a_rotated_square_is_found_exactly():
    angle = math.radians(30)
    c, s = math.cos(angle), math.sin(angle)
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float) @ [[c, s], [-s, c]] + 100
    inner = square.mean(axis=0) + np.array([[1, 1], [-2, 0.5]])
    corners = min_area_rectangles(np.concatenate([square, inner]), np.array([6]))[0]
    got = sorted(map(tuple, corners.round(9).tolist()))
    assert got == sorted(map(tuple, square.round(9).tolist()))

"""Tests for cocoprep.rectangles: minimum-area rotated rectangles and oriented-box corners."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoprep.rectangles import distinct_corners, min_area_rectangles, oriented_boxes


@st.composite
def point_sets(draw) -> list[np.ndarray]:
    """A few sets of 3 to 40 points in a 640 x 480 image at 4 decimals (COCO's have 2; GEOS
    fails on coordinates near 1e-300, which :func:`min_area_rectangles` flushes to 0 but the
    reference does not), some not in general position (grid-snapped, so repeats and collinear
    runs occur)."""
    sets = []
    for _ in range(draw(st.integers(1, 5))):
        n = draw(st.integers(3, 40))
        coords = st.floats(-20, 660, allow_nan=False)
        points = np.array(draw(st.lists(st.tuples(coords, coords), min_size=n, max_size=n)))
        points = np.round(points, 4)
        if draw(st.booleans()):
            points = np.round(points / 8) * 8
        sets.append(points)
    return sets


def brute_force_area(points: np.ndarray) -> float:
    """The least area of a rectangle holding ``points`` with a side along the direction of some
    pair of them (a superset of the hull's edges, so the true minimum)."""
    d = points[:, None] - points[None]
    d = d.reshape(-1, 2)
    d = d[np.hypot(d[:, 0], d[:, 1]) > 0]
    u = d / np.hypot(d[:, 0], d[:, 1])[:, None]
    along = points @ u.T
    across = points @ np.stack([-u[:, 1], u[:, 0]], axis=1).T
    spans = np.ptp(along, axis=0) * np.ptp(across, axis=0)
    return float(spans.min(initial=np.inf)) if len(d) else 0.0


@settings(max_examples=200, deadline=None)
@given(point_sets())
def test_rectangles_are_minimal_rectangles_holding_every_point(sets):
    sizes = np.array([len(s) for s in sets])
    corners = min_area_rectangles(np.concatenate(sets), sizes)
    assert corners.shape == (len(sets), 4, 2)
    for points, rect in zip(sets, corners, strict=True):
        if np.isnan(rect).any():  # only for collinear sets, which bound no area
            assert brute_force_area(points) < 1e-6 * max(1.0, np.ptp(points) ** 2)
            continue
        sides = np.roll(rect, -1, axis=0) - rect
        lengths = np.hypot(sides[:, 0], sides[:, 1])
        cosines = (sides * np.roll(sides, -1, axis=0)).sum(axis=1) / (
            lengths * np.roll(lengths, -1)
        )
        assert np.abs(cosines).max() < 1e-6  # four right angles (to a microradian)
        polygon = shapely.Polygon(rect)
        assert shapely.distance(polygon, shapely.points(points)).max() <= 0.5
        area = polygon.area
        reference = shapely.minimum_rotated_rectangle(shapely.MultiPoint(points)).area
        assert area <= 1.01 * reference + 1e-9
        assert area <= 1.01 * brute_force_area(points) + 1e-9
        # Clockwise on the image (y down), from the top corner.
        x, y = rect[:, 0], rect[:, 1]
        assert (x * np.roll(y, -1) - np.roll(x, -1) * y).sum() > 0
        assert y[0] == y.min()


def test_rectangle_of_a_rotated_square_and_degenerate_sets():
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10], [5, 5]], float) @ rotation.T + 100
    line = np.array([[0, 0], [1, 1], [2, 2]], float)
    corners = min_area_rectangles(
        np.concatenate([square, line, [[3.0, 4.0]]]), np.array([5, 3, 1, 0])
    )
    assert shapely.Polygon(corners[0]).area == pytest.approx(100)
    assert set(map(tuple, corners[0].round(6).tolist())) == set(
        map(tuple, square[:4].round(6).tolist())
    )
    assert np.isnan(corners[1:]).all()  # a line, a point, nothing: no rectangle


def test_rectangle_holds_every_part_of_a_multipart_object():
    left = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    corners = min_area_rectangles(np.concatenate([left, left + np.array([10, 0])]), np.array([8]))
    assert corners[0].tolist() == [[0, 0], [12, 0], [12, 2], [0, 2]]


@pytest.mark.parametrize(
    ("corners", "expected"),
    [
        ([[0, 0], [1, 0], [1, 1], [0, 1]], True),
        ([[0, 0], [1, 0], [1, 0], [0, 1]], False),  # two corners the same
        ([[0.1, 0.1], [0.1000001, 0.1], [0.1000001, 0.2], [0.1, 0.2]], False),  # same to 6 places
        ([[np.nan, 0], [1, 0], [1, 1], [0, 1]], False),
    ],
)
def test_distinct_corners(corners, expected):
    assert distinct_corners(np.array([corners], float)).tolist() == [expected]


def test_oriented_boxes_clip_and_fall_back_to_the_box():
    points = np.array(
        [
            *[[90, 40], [110, 40], [110, 60], [90, 60]],  # leaves a 100 x 50 image on the right
            *[[5, 5], [6, 6], [7, 7]],  # collinear: its box instead
            *[[120, 60], [130, 60], [130, 70]],  # wholly outside: clipped to one corner
        ],
        float,
    )
    boxes = np.array([[90, 40, 20, 20], [5, 5, 2, 2], [np.nan] * 4])
    size = np.array([100.0] * 3), np.array([50.0] * 3)
    corners, boxed, ok = oriented_boxes(points, np.array([4, 3, 3]), boxes, *size)
    assert corners[0].tolist() == [[0.9, 0.8], [1.0, 0.8], [1.0, 1.0], [0.9, 1.0]]
    assert corners[1].tolist() == [[0.05, 0.1], [0.07, 0.1], [0.07, 0.14], [0.05, 0.14]]
    assert boxed.tolist() == [False, True, False]
    assert ok.tolist() == [True, True, False]  # the third has no box to fall back on
    assert np.isfinite(corners).all()

"""Tests for cocoprep.geometry: polygons, bridging multi-part polygons and splitting them."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoprep import geometry
from cocoprep.errors import InputError
from cocoprep.geometry import (
    bridge_length,
    chain_bridge_length,
    merge_many,
    merge_parts,
    normalize,
    polygon_from_coco,
    split_bridged_many,
    split_bridged_ring,
)
from cocoprep.numbers import format_rows

SQUARE = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)


def cycles(parts) -> set[tuple]:
    """Parts as vertex cycles, each rotated to start at its smallest vertex."""
    out = set()
    for part in parts:
        verts = [tuple(v) for v in np.asarray(part).tolist()]
        k = verts.index(min(verts))
        out.add(tuple(verts[k:] + verts[:k]))
    return out


# ----------------------------------------------------------------------------- simple reshaping


@pytest.mark.parametrize(
    ("seg", "expected"),
    [([1, 2, 3, 4, 5, 6], [[1, 2], [3, 4], [5, 6]]), ([], np.zeros((0, 2)).tolist())],
)
def test_polygon_from_coco(seg, expected):
    assert polygon_from_coco(seg).tolist() == expected


def test_polygon_from_coco_odd_length():
    with pytest.raises(InputError, match=r"x, y pairs, found shape \(5,\)"):
        polygon_from_coco([1, 2, 3, 4, 5])


def test_normalize_divides_and_clips():
    out = normalize(np.array([[64.0, 48.0], [-1.0, 500.0]]), 640, 480)
    assert out.tolist() == [[0.1, 0.1], [0.0, 1.0]]


@pytest.mark.parametrize(("width", "height"), [(0, 480), (640, -1), (float("nan"), 480)])
def test_normalize_rejects_bad_size(width, height):
    with pytest.raises(InputError, match="expected positive width and height"):
        normalize(SQUARE, width, height)


@given(
    st.lists(
        st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=20,
    ),
    st.floats(1e-3, 1e5),
    st.floats(1e-3, 1e5),
)
def test_normalize_stays_in_unit_square(points, width, height):
    out = normalize(np.array(points), width, height)
    assert ((out >= 0) & (out <= 1)).all()


# ----------------------------------------------------------------------------- bridging parts


def test_merge_single_part_is_a_copy():
    out = merge_parts([SQUARE])
    assert out.tolist() == SQUARE.tolist()
    assert out is not SQUARE


def test_merge_two_triangles_exact_ring():
    a = np.array([[0, 0], [1, 0], [1, 1]], float)
    ring = merge_parts([a, a + np.array([3, 0])])
    assert ring.tolist() == [[0, 0], [1, 0], [3, 0], [4, 0], [4, 1], [3, 0], [1, 0], [1, 1]]


def test_merge_picks_minimum_spanning_tree_not_json_order():
    # JSON order chains 0 -> far -> middle; the MST goes 0 -> middle -> far.
    parts = [SQUARE, SQUARE + np.array([4, 0]), SQUARE + np.array([2, 0])]
    assert bridge_length(parts) == 2.0
    assert chain_bridge_length(parts) == 4.0
    ring = merge_parts(parts)
    steps = np.linalg.norm(np.diff(np.vstack([ring, ring[:1]]), axis=0), axis=1)
    # Square sides (1 each, 12) plus every bridge walked twice.
    assert math.isclose(steps.sum(), 12 + 2 * 2.0)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([], "expected at least one part, found none"),
        ([np.zeros((3, 3))], r"part 0: expected an \(N, 2\) array .* found shape \(3, 3\)"),
        ([SQUARE, np.zeros((0, 2))], r"part 1: .* found shape \(0, 2\)"),
    ],
)
def test_merge_bad_parts(parts, message):
    with pytest.raises(InputError, match=message):
        merge_parts(parts)


@st.composite
def distinct_parts(draw) -> list[np.ndarray]:
    """2-6 parts of 3-15 vertices on a grid, all vertices distinct."""
    sizes = draw(st.lists(st.integers(3, 15), min_size=2, max_size=6))
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, 639), st.integers(0, 479)),
            min_size=sum(sizes),
            max_size=sum(sizes),
            unique=True,
        )
    )
    points = np.array(cells, dtype=float) + 0.25
    return np.split(points, np.cumsum(sizes)[:-1])


@settings(max_examples=150, deadline=None)
@given(distinct_parts())
def test_merge_keeps_vertices_and_splits_back(parts):
    ring = merge_parts(parts)
    # Every input vertex, plus both ends of every bridge once more.
    assert len(ring) == sum(len(p) for p in parts) + 2 * (len(parts) - 1)
    assert {tuple(v) for v in ring.tolist()} == {tuple(v) for p in parts for v in p.tolist()}
    assert bridge_length(parts) <= chain_bridge_length(parts) + 1e-9
    assert cycles(split_bridged_ring(ring)) == cycles(parts)


@settings(max_examples=50, deadline=None)
@given(distinct_parts())
def test_split_after_yolo_text_round_trip(parts):
    # What validate sees: normalised, formatted with %g, parsed back.
    ring = normalize(merge_parts(parts), 640, 480)
    blob, _ = format_rows(np.array([3]), ring.ravel(), np.array([ring.size]), "g")
    parsed = np.array(blob.split()[1:], dtype=float).reshape(-1, 2)
    expected = [np.array(blob_part, float) for blob_part in parts]
    expected = [
        np.array([[float("%g" % (x / 640)), float("%g" % (y / 480))] for x, y in p.tolist()])
        for p in expected
    ]
    assert cycles(split_bridged_ring(parsed)) == cycles(expected)


@st.composite
def grid_polygons(draw) -> list[list[np.ndarray]]:
    """1-6 polygons of 1-5 parts of 1-9 vertices on a 4x4 grid: ties and repeats everywhere."""
    coordinate = st.integers(0, 3).map(float)
    vertex = st.tuples(coordinate, coordinate)
    part = st.lists(vertex, min_size=1, max_size=9).map(np.array)
    return draw(st.lists(st.lists(part, min_size=1, max_size=5), min_size=1, max_size=6))


@settings(max_examples=150, deadline=None)
@given(grid_polygons(), st.sampled_from([1, 3, 10, 1 << 20]))
def test_closest_pairs_match_brute_force(polygons, block):
    tasks = geometry._PartPairs.of(polygons)
    if not len(tasks.a_sizes):
        return
    with pair_block(block):  # small blocks cut parts into slabs and tasks into batches
        distances, by_row, by_col = geometry._closest_pairs(tasks)
    for t in range(len(tasks.a_sizes)):
        a = tasks.points[tasks.a_starts[t] :][: tasks.a_sizes[t]]
        b = tasks.points[tasks.b_starts[t] :][: tasks.b_sizes[t]]
        full = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
        assert distances[t] == full.min()
        assert tuple(by_row[t]) == np.unravel_index(full.argmin(), full.shape)
        assert tuple(by_col[t]) == np.unravel_index(full.T.argmin(), full.T.shape)[::-1]


@settings(max_examples=100, deadline=None)
@given(grid_polygons(), st.sampled_from([1, 7, 1 << 20]))
def test_merge_many_is_merge_parts_of_each(polygons, block):
    expected = [merge_parts(parts) for parts in polygons]
    with pair_block(block):
        rings = merge_many(polygons)
    assert [r.tolist() for r in rings] == [e.tolist() for e in expected]
    for parts, ring in zip(polygons, rings, strict=True):
        assert len(ring) == sum(map(len, parts)) + 2 * (len(parts) - 1)


@contextlib.contextmanager
def pair_block(size: int) -> Iterator[None]:
    """Compute at most ``size`` vertex pairs at once inside the block."""
    saved = geometry._BLOCK
    geometry._BLOCK = size
    try:
        yield
    finally:
        geometry._BLOCK = saved


def test_merge_keeps_non_finite_vertices():
    # Convert checks coordinates after merging, so the merge must not stumble on NaN or inf.
    for bad in (math.nan, math.inf):
        parts = [np.array([[0, 0], [1, bad], [2, 2]]), np.array([[5, 5], [bad, 6]]), SQUARE]
        ring = merge_parts(parts)
        assert len(ring) == 9 + 4
        assert np.isnan(ring).any() or np.isinf(ring).any()


def test_split_plain_ring_unchanged():
    assert [p.tolist() for p in split_bridged_ring(SQUARE)] == [SQUARE.tolist()]


def test_split_figure_eight_into_its_loops():
    eight = np.array([[0, 0], [1, 1], [2, 0], [2, 2], [1, 1], [0, 2]], float)
    assert cycles(split_bridged_ring(eight)) == cycles(
        [[[1, 1], [2, 0], [2, 2]], [[0, 0], [1, 1], [0, 2]]]
    )


def test_split_drops_spikes_and_repeated_points():
    ring = np.array([[0, 0], [1, 0], [1, 0], [1, 1], [5, 5], [1, 1], [0, 1]], float)
    assert cycles(split_bridged_ring(ring)) == cycles([SQUARE])


def walk_every_vertex(ring: np.ndarray) -> list[list[float]]:
    """The split as its docstring states it, one vertex at a time: the oracle."""
    if len({tuple(v) for v in ring.tolist()}) == len(ring):
        return [ring.tolist()]
    parts, stack = [], []
    for vertex in (ring + 0.0).tolist():
        if vertex in stack:
            at = stack.index(vertex)
            if len(stack) - at >= 3:
                parts.append(stack[at:])
            del stack[at + 1 :]
        else:
            stack.append(vertex)
    return parts + ([stack] if len(stack) >= 3 else [])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(*[st.integers(0, 3).map(float)] * 2), max_size=40), max_size=6))
def test_split_many_walks_like_the_oracle(rings):
    # A 4x4 grid: vertices repeat everywhere, loops nest and follow each other.
    arrays = [np.array(r, float).reshape(-1, 2) for r in rings]
    points = np.vstack([np.empty((0, 2)), *arrays])
    split = split_bridged_many(points, [len(r) for r in arrays])
    assert [[p.tolist() for p in parts] for parts in split] == [
        walk_every_vertex(r) for r in arrays
    ]
    # Cut from other values (pixels, say), split where the points say.
    scaled = split_bridged_many(points, [len(r) for r in arrays], points * [3, -2] + 1)
    assert [[p.tolist() for p in parts] for parts in scaled] == [
        [(p * [3, -2] + 1).tolist() for p in parts] for parts in split
    ]


def test_split_many_signed_zero_and_nan():
    # -0.0 is the vertex 0.0; NaN is never equal to itself, so never closes a loop.
    ring = np.array([[0, 0], [1, 0], [1, 1], [-0.0, 0], [np.nan, 2], [3, 3], [np.nan, 2]])
    parts = split_bridged_many(ring, [7])[0]
    assert [len(p) for p in parts] == [3, 4]


def test_split_rejects_bad_shape():
    with pytest.raises(InputError, match=r"found shape \(6,\)"):
        split_bridged_ring(np.zeros(6))

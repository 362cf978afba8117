"""Pure geometry for COCO → YOLO: polygons and multi-part bridging (RLE masks are in
:mod:`cocoprep.masks`).

Everything here is a pure function on numpy arrays (float64 pixel or normalised coordinates); the
convert and validate modules do the I/O. Conventions:

- A polygon or part is an ``(N, 2)`` array of ``x, y`` vertices, implicitly closed (the first
  vertex is not repeated at the end), as in COCO ``segmentation`` lists.
- A YOLO segment holds one ring per object, so a multi-part object (or a mask with holes) becomes
  one ring whose parts are joined by zero-width bridges, each walked out and back.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate, pairwise

import numpy as np

from cocoprep.errors import InputError

__all__ = [
    "bridge_length",
    "chain_bridge_length",
    "merge_many",
    "merge_parts",
    "normalize",
    "polygon_from_coco",
    "split_bridged_many",
    "split_bridged_ring",
]

# Largest vertex-pair distance block computed at once (elements), to bound memory on big parts.
_BLOCK = 1 << 20


def polygon_from_coco(seg: list[float]) -> np.ndarray:
    """Reshape a flat COCO polygon ``[x0, y0, x1, y1, ...]`` into an ``(N, 2)`` float64 array.

    Examples
    --------
    >>> polygon_from_coco([0, 0, 4, 0, 4, 3]).tolist()
    [[0.0, 0.0], [4.0, 0.0], [4.0, 3.0]]
    """
    flat = np.asarray(seg, dtype=np.float64)
    if flat.ndim != 1 or flat.size % 2:
        msg = (
            f"COCO polygon: expected a flat list of x, y pairs, found shape {flat.shape}; "
            "fix the segmentation entry or drop the annotation"
        )
        raise InputError(msg)
    return flat.reshape(-1, 2)


def normalize(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Divide ``x`` by ``width`` and ``y`` by ``height`` and clip the result to ``[0, 1]``.

    Examples
    --------
    >>> normalize(np.array([[320.0, 120.0], [700.0, -2.0]]), 640, 480).tolist()
    [[0.5, 0.25], [1.0, 0.0]]
    """
    if not (width > 0 and height > 0):
        msg = (
            f"image size: expected positive width and height, found {width} x {height}; "
            "fix the image entry in the COCO file"
        )
        raise InputError(msg)
    scaled = np.asarray(points, dtype=np.float64) / np.array([width, height], dtype=np.float64)
    return np.clip(scaled, 0.0, 1.0)


# --------------------------------------------------------------------------- multi-part bridging


def _as_parts(parts: list[np.ndarray]) -> list[np.ndarray]:
    """Check that ``parts`` is a non-empty list of ``(N, 2)`` arrays with ``N >= 1``."""
    if len(parts) == 0:
        msg = "polygon parts: expected at least one part, found none; skip the annotation"
        raise InputError(msg)
    arrays = [np.asarray(p, dtype=np.float64) for p in parts]
    for i, part in enumerate(arrays):
        if part.ndim != 2 or part.shape[1] != 2 or len(part) == 0:
            msg = (
                f"polygon part {i}: expected an (N, 2) array of x, y vertices, found shape "
                f"{part.shape}; reshape it with polygon_from_coco"
            )
            raise InputError(msg)
    return arrays


@cache
def _pairs_of(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``p < q`` of ``k`` parts, in order (:class:`_PartPairs` task order)."""
    first, second = np.triu_indices(k, 1)
    return first, second


def _task_index(p: int, q: int, k: int) -> int:
    """Where the pair of parts ``p < q`` of ``k`` comes in :class:`_PartPairs` task order."""
    return p * (2 * k - p - 1) // 2 + q - p - 1


@dataclass
class _PartPairs:
    """Every pair ``p < q`` of parts of some polygons, as tasks for :func:`_closest_pairs`;
    each polygon's tasks in order of ``(p, q)``."""

    points: np.ndarray  # all parts of all polygons, concatenated
    a_starts: np.ndarray  # where part p of each task starts in points
    a_sizes: np.ndarray
    b_starts: np.ndarray  # where part q starts
    b_sizes: np.ndarray
    first_task: list[int]  # each polygon's first task (then the number of tasks)

    @classmethod
    def of(cls, polygons: Sequence[list[np.ndarray]]) -> _PartPairs:
        parts = [p for polygon in polygons for p in polygon]
        sizes = np.array([len(p) for p in parts], np.int64)
        starts = np.cumsum(sizes) - sizes
        k = np.array([len(polygon) for polygon in polygons], np.int64)
        first_part = np.cumsum(k) - k
        n_tasks = k * (k - 1) // 2
        first_task = np.cumsum(n_tasks) - n_tasks
        a_part = np.empty(int(n_tasks.sum()), np.int64)
        b_part = np.empty_like(a_part)
        for parts_k in np.unique(k[k > 1]).tolist():
            of_k = k == parts_k
            p, q = _pairs_of(parts_k)
            tasks = first_task[of_k, None] + np.arange(len(p))
            a_part[tasks] = first_part[of_k, None] + p
            b_part[tasks] = first_part[of_k, None] + q
        return cls(
            points=np.concatenate([np.empty((0, 2)), *parts]),
            a_starts=starts[a_part],
            a_sizes=sizes[a_part],
            b_starts=starts[b_part],
            b_sizes=sizes[b_part],
            first_task=[*first_task.tolist(), len(a_part)],
        )


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Equal, NaN counting as equal to NaN (a minimum over NaN distances is NaN)."""
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _closest_pairs(tasks: _PartPairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each task, the closest vertices of its two parts ``a`` and ``b``: their squared
    distance and, as ``(T, 2)`` arrays of ``(i, j)`` (for ``a[i]``, ``b[j]``), the first closest
    pair in ``(i, j)`` order and the first in ``(j, i)`` order (they differ only on ties).

    All tasks are computed together, about ``_BLOCK`` vertex pairs at a time: tasks are cut into
    slabs of rows of ``a``, and a slab is the unit of a batch.
    """
    x, y = tasks.points[:, 0], tasks.points[:, 1]
    a_sizes, b_sizes = tasks.a_sizes, tasks.b_sizes
    slab_rows = np.maximum(1, _BLOCK // b_sizes)
    slabs_of_task = -(-a_sizes // slab_rows)
    first_slab = np.cumsum(slabs_of_task) - slabs_of_task
    task = np.repeat(np.arange(len(a_sizes)), slabs_of_task)
    first_row = (np.arange(len(task)) - first_slab[task]) * slab_rows[task]
    height = np.minimum(slab_rows[task], a_sizes[task] - first_row)
    width = b_sizes[task]
    batch = (np.cumsum(height * width) - 1) // _BLOCK
    slab_min, hit_slab, hit_i, hit_j = [], [], [], []
    for lo, hi in pairwise([0, *(np.flatnonzero(np.diff(batch)) + 1).tolist(), len(task)]):
        h, w = height[lo:hi], width[lo:hi]
        row_slab = np.repeat(np.arange(hi - lo), h)
        a_row = np.arange(len(row_slab)) + np.repeat(
            tasks.a_starts[task[lo:hi]] + first_row[lo:hi] - (np.cumsum(h) - h), h
        )
        row_width = w[row_slab]
        b_index = np.arange(row_width.sum()) + np.repeat(
            tasks.b_starts[task[lo:hi]][row_slab] - (np.cumsum(row_width) - row_width), row_width
        )
        dist = np.repeat(x[a_row], row_width) - x[b_index]
        dy = np.repeat(y[a_row], row_width) - y[b_index]
        dist *= dist
        dy *= dy
        dist += dy
        first_pair = np.cumsum(h * w) - h * w
        least = np.minimum.reduceat(dist, first_pair)
        least_each = np.repeat(least, h * w)
        same = _same if np.isnan(least).any() else np.equal
        hit = np.flatnonzero(same(dist, least_each))
        slab = np.searchsorted(first_pair, hit, side="right") - 1
        row, col = np.divmod(hit - first_pair[slab], w[slab])
        slab_min.append(least)
        hit_slab.append(slab + lo)
        hit_i.append(row + first_row[lo + slab])
        hit_j.append(col)
    slab_min_all = np.concatenate(slab_min)
    task_min = np.minimum.reduceat(slab_min_all, first_slab)
    slab = np.concatenate(hit_slab)
    keep = _same(slab_min_all[slab], task_min[task[slab]])
    hit_task = task[slab[keep]]
    i, j = np.concatenate(hit_i)[keep], np.concatenate(hit_j)[keep]
    first_hit = np.searchsorted(hit_task, np.arange(len(a_sizes)))
    by_row = np.minimum.reduceat(i * b_sizes[hit_task] + j, first_hit)
    by_col = np.minimum.reduceat(j * a_sizes[hit_task] + i, first_hit)
    col_j, col_i = np.divmod(by_col, a_sizes)
    return task_min, np.stack(np.divmod(by_row, b_sizes), axis=1), np.stack([col_i, col_j], axis=1)


def _minimum_spanning_tree(distances: list[float], k: int) -> list[tuple[int, int]]:
    """Kruskal on the complete graph of ``k`` parts, its edge weights ``distances`` in
    :class:`_PartPairs` task order (which also breaks ties); edges ``(p, q)`` with ``p < q``."""
    root = list(range(k))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    firsts, seconds = (column.tolist() for column in _pairs_of(k))
    edges: list[tuple[int, int]] = []
    for task in sorted(range(len(distances)), key=distances.__getitem__):
        p, q = firsts[task], seconds[task]
        rp, rq = find(p), find(q)
        if rp != rq:
            root[rp] = rq
            edges.append((p, q))
            if len(edges) == k - 1:
                break
    return edges


def bridge_length(parts: list[np.ndarray]) -> float:
    """Total length of the bridges :func:`merge_parts` draws (minimum spanning tree over parts).

    Examples
    --------
    >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    >>> bridge_length([square, square + [4, 0], square + [2, 0]])
    2.0
    """
    distances, k = _part_distances(parts)
    edges = _minimum_spanning_tree(distances, k)
    return float(sum(np.sqrt(distances[_task_index(p, q, k)]) for p, q in edges))


def chain_bridge_length(parts: list[np.ndarray]) -> float:
    """Total bridge length when parts are chained in list order (Ultralytics' merge).

    Examples
    --------
    >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    >>> chain_bridge_length([square, square + [4, 0], square + [2, 0]])
    4.0
    """
    distances, k = _part_distances(parts)
    return float(sum(np.sqrt(distances[_task_index(p, p + 1, k)]) for p in range(k - 1)))


def _part_distances(parts: list[np.ndarray]) -> tuple[list[float], int]:
    """Smallest squared vertex distance between every two parts (checked), in
    :class:`_PartPairs` task order, and the number of parts."""
    arrays = _as_parts(parts)
    if len(arrays) == 1:
        return [], 1
    distances, _, _ = _closest_pairs(_PartPairs.of([arrays]))
    return distances.tolist(), len(arrays)


def merge_parts(parts: list[np.ndarray]) -> np.ndarray:
    """Join the parts of a multi-part polygon into one ring with the shortest total bridges.

    Parts are connected along a minimum spanning tree whose edge weights are the closest vertex
    distances between parts; the ring starts at ``parts[0][0]``, walks around part 0 and, at each
    attachment vertex, detours through the child part (entered at its closest vertex, walked all the
    way round back to that vertex) and returns to the attachment vertex. Every input vertex is kept
    and each bridge is walked twice in opposite directions, so it has zero width. A single part is
    returned as a copy. :func:`merge_many` does the same for many polygons at once.

    Examples
    --------
    >>> a = np.array([[0, 0], [1, 0], [1, 1]], float)
    >>> merge_parts([a, a + [3, 0]]).tolist()  # doctest: +NORMALIZE_WHITESPACE
    [[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [4.0, 0.0], [4.0, 1.0], [3.0, 0.0], [1.0, 0.0],
     [1.0, 1.0]]
    """
    return merge_many([parts])[0]


def merge_many(polygons: Sequence[list[np.ndarray]]) -> list[np.ndarray]:
    """:func:`merge_parts` of each polygon (a list of parts), with the vertex distances of all
    of them computed together: ~15 µs per multi-part COCO polygon in a batch, ~130 µs alone.

    Examples
    --------
    >>> a = np.array([[0, 0], [1, 0], [1, 1]], float)
    >>> [len(ring) for ring in merge_many([[a], [a, a + [3, 0]], [a, a + [3, 0], a + [6, 0]]])]
    [3, 8, 13]
    """
    arrays = [_as_parts(parts) for parts in polygons]
    multi = [parts for parts in arrays if len(parts) > 1]
    tasks = _PartPairs.of(multi)
    if multi:
        by_distance, by_row, by_col = _closest_pairs(tasks)
        distances, row_pairs, col_pairs = by_distance.tolist(), by_row.tolist(), by_col.tolist()
    rings: list[np.ndarray] = []
    polygon = 0
    for parts in arrays:
        if len(parts) == 1:
            rings.append(parts[0].copy())
            continue
        first, last = tasks.first_task[polygon], tasks.first_task[polygon + 1]
        polygon += 1
        if len(parts) == 2:
            (i, j), (a, b) = row_pairs[first], parts
            rings.append(np.concatenate([a[: i + 1], b[j:], b[: j + 1], a[i:]]))
        else:
            tree = _minimum_spanning_tree(distances[first:last], len(parts))
            rings.append(_tour(parts, tree, row_pairs[first:last], col_pairs[first:last]))
    return rings


def _tour(
    parts: list[np.ndarray],
    tree: list[tuple[int, int]],
    row_pairs: list[list[int]],
    col_pairs: list[list[int]],
) -> np.ndarray:
    """The ring :func:`merge_parts` makes of three or more parts, given their minimum spanning
    tree and closest vertex pairs (from :func:`_closest_pairs`, in :class:`_PartPairs` task
    order)."""
    k = len(parts)
    sizes = [len(p) for p in parts]
    starts = list(accumulate(sizes[:-1], initial=0))
    # children[p]: (vertex of p, child part, entry vertex of child), walking out from part 0.
    adjacent: list[list[int]] = [[] for _ in parts]
    for i, j in tree:
        adjacent[i].append(j)
        adjacent[j].append(i)
    children: list[list[tuple[int, int, int]]] = [[] for _ in parts]
    seen, frontier = {0}, [0]
    while frontier:
        p = frontier.pop()
        for c in adjacent[p]:
            if c not in seen:
                seen.add(c)
                frontier.append(c)
                # The first closest pair with p's vertex leading, as a search of p's rows finds.
                if p < c:
                    v, e = row_pairs[_task_index(p, c, k)]
                else:
                    e, v = col_pairs[_task_index(c, p, k)]
                children[p].append((v, c, e))
    # Emit the tour with an explicit stack (no recursion limit on long chains of parts).
    tour: list[int] = []
    stack: list[tuple[int, int] | list[int]] = [(0, 0)]
    while stack:
        item = stack.pop()
        if type(item) is list:
            tour += item
            continue
        p, entry = item
        start, n = starts[p], sizes[p]
        # Round part p from its entry vertex; parts other than 0 close the loop.
        walk = [*range(start + entry, start + n), *range(start, start + entry + (p != 0))]
        todo: list[tuple[int, int] | list[int]] = []
        done = 0
        for v, c, e in sorted(children[p], key=lambda t: (t[0] - entry) % n):
            at = (v - entry) % n + 1
            todo += [walk[done:at], (c, e), walk[at - 1 : at]]
            done = at
        todo.append(walk[done:])
        stack.extend(reversed(todo))
    return np.concatenate(parts)[tour]


def split_bridged_ring(ring: np.ndarray) -> list[np.ndarray]:
    """Recover the parts of a ring made by :func:`merge_parts` (e.g. from a YOLO label line).

    The ring is read as a closed walk; whenever a vertex repeats exactly, the loop walked since its
    previous visit is cut out. A loop of three or more vertices is a part; a loop of one or two
    vertices is a bridge walked out and back (or a zero-length edge) and is dropped. What is left at
    the end is the last part. Bridge ends therefore have to repeat exactly, as they do after
    normalising and formatting every vertex the same way.

    An ordinary polygon that touches itself at a vertex (a figure eight) is split at that vertex
    into its loops, which cover the same area; spikes walked out and back are dropped. A ring with
    no repeated vertex comes back as ``[ring]``. :func:`split_bridged_many` splits many rings at
    once.

    Examples
    --------
    >>> a = np.array([[0, 0], [1, 0], [1, 1]], float)
    >>> [p.tolist() for p in split_bridged_ring(merge_parts([a, a + [3, 0]]))]
    [[[3.0, 0.0], [4.0, 0.0], [4.0, 1.0]], [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]]
    """
    ring = np.asarray(ring, dtype=np.float64)
    return split_bridged_many(ring, [len(ring)])[0]


def split_bridged_many(
    points: np.ndarray, lengths: Sequence[int] | np.ndarray, values: np.ndarray | None = None
) -> list[list[np.ndarray]]:
    """:func:`split_bridged_ring` of each ring of ``points`` (the rings' ``(N, 2)`` vertices one
    after another, ``lengths[i]`` of ring ``i``).

    The repeated vertices of all rings are found in one sort; the walk then steps only from one
    repeated vertex to the next, so a ring costs its number of bridges, not of vertices. With
    ``values`` (one row per point, e.g. the points in pixels) the parts are cut from it instead;
    the split is still decided on ``points``.

    Examples
    --------
    >>> a = np.array([[0, 0], [1, 0], [1, 1]], float)
    >>> rings = [a, merge_parts([a, a + 3])]
    >>> [len(parts) for parts in split_bridged_many(np.vstack(rings), [3, 8])]
    [1, 2]
    """
    points = np.asarray(points, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if points.ndim != 2 or points.shape[1] != 2:
        msg = f"ring: expected an (N, 2) array of x, y vertices, found shape {points.shape}"
        raise InputError(msg)
    if lengths.sum() != len(points):
        msg = f"ring lengths sum to {lengths.sum()}, but there are {len(points)} vertices"
        raise ValueError(msg)
    source = points if values is None else values
    ends = np.cumsum(lengths)
    starts = ends - lengths
    ring_of = np.repeat(np.arange(len(lengths)), lengths)
    xy = points + 0.0  # -0.0 == 0.0
    order = np.lexsort((xy[:, 1], xy[:, 0], ring_of))
    ordered, ordered_ring = xy[order], ring_of[order]
    new_vertex = np.ones(len(order), bool)
    new_vertex[1:] = (ordered[1:] != ordered[:-1]).any(axis=1) | (
        ordered_ring[1:] != ordered_ring[:-1]
    )
    group = np.empty(len(order), np.int64)
    group[order] = np.cumsum(new_vertex) - 1
    repeats = np.flatnonzero(np.bincount(group)[group] > 1)
    bounds = np.searchsorted(repeats, ends).tolist()
    repeats_list, groups_list = repeats.tolist(), group[repeats].tolist()
    out = []
    low = 0
    for start, end, high in zip(starts.tolist(), ends.tolist(), bounds, strict=True):
        if low == high:
            out.append([source[start:end].copy()])
        else:
            loops = _walk(start, end, repeats_list[low:high], groups_list[low:high])
            out.append([np.concatenate([source[a:b] for a, b in loop]) for loop in loops])
        low = high
    return out


def _walk(
    start: int, end: int, repeats: list[int], groups: list[int]
) -> list[list[tuple[int, int]]]:
    """The loops of :func:`split_bridged_ring` over vertices ``start..end - 1`` whose repeated
    vertices are at positions ``repeats`` (with their vertex ``groups``), as ``(first, last + 1)``
    index runs. The open walk is kept as runs of consecutive indices (``runs``, with the depth at
    which each begins in ``depths``); only repeated vertices are looked up."""
    runs: list[list[int]] = []
    depths: list[int] = []
    depth_of: dict[int, int] = {}  # repeated vertex group -> its depth in the open walk
    open_repeats: list[tuple[int, int]] = []  # (depth, group) of each, in walk order
    size, done = 0, start
    loops = []

    def push(first: int, last: int) -> None:
        nonlocal size
        if runs and runs[-1][1] == first:
            runs[-1][1] = last
        else:
            runs.append([first, last])
            depths.append(size)
        size += last - first

    for i, group in zip(repeats, groups, strict=True):
        if i > done:
            push(done, i)
        done = i + 1
        at = depth_of.get(group)
        if at is None:
            depth_of[group] = size
            open_repeats.append((size, group))
            push(i, i + 1)
            continue
        k = bisect.bisect_right(depths, at) - 1
        first = runs[k][0] + at - depths[k]
        if size - at >= 3:
            loops.append([(first, runs[k][1]), *map(tuple, runs[k + 1 :])])
        del runs[k + 1 :], depths[k + 1 :]
        runs[k][1] = first + 1
        size = at + 1
        while open_repeats[-1][0] > at:
            del depth_of[open_repeats.pop()[1]]
    if end > done:
        push(done, end)
    if size >= 3:
        loops.append([tuple(run) for run in runs])
    return loops

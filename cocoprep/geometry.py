"""Pure geometry for COCO → YOLO: polygons, multi-part bridging, RLE masks and label text.

Everything here is a pure function on numpy arrays (float64 pixel or normalised coordinates); the
convert and validate modules do the I/O. Conventions:

- A polygon or part is an ``(N, 2)`` array of ``x, y`` vertices, implicitly closed (the first
  vertex is not repeated at the end), as in COCO ``segmentation`` lists.
- Pixel ``(row, col)`` of a mask covers the square ``[col, col + 1] x [row, row + 1]``, the
  convention pycocotools uses to rasterise polygons.
- A YOLO segment holds one ring per object, so a multi-part object (or a mask with holes) becomes
  one ring whose parts are joined by zero-width bridges, each walked out and back.
"""

from __future__ import annotations

from itertools import accumulate

import numpy as np

from cocoprep.errors import InputError

__all__ = [
    "bridge_length",
    "chain_bridge_length",
    "format_rows",
    "mask_to_ring",
    "merge_parts",
    "normalize",
    "polygon_from_coco",
    "rle_to_mask",
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


def _part_distances(points: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Smallest squared vertex distance between every two parts, as a ``(k, k)`` matrix.

    Also returns the full ``(N, N)`` vertex distance matrix when it is small enough to keep.
    """
    n = len(points)
    x, y = points[:, 0], points[:, 1]
    if n * n <= _BLOCK:
        full, dy = np.subtract.outer(x, x), np.subtract.outer(y, y)
        full *= full
        dy *= dy
        full += dy
        to_part = np.minimum.reduceat(full, starts, axis=1)
        return np.minimum.reduceat(to_part, starts, axis=0), full
    rows = max(1, _BLOCK // n)
    to_part = np.empty((n, len(starts)))
    for s in range(0, n, rows):
        d = np.square(x[s : s + rows, None] - x) + np.square(y[s : s + rows, None] - y)
        to_part[s : s + rows] = np.minimum.reduceat(d, starts, axis=1)
    return np.minimum.reduceat(to_part, starts, axis=0), None


def _closest_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Indices ``(i, j)`` of the closest vertices ``a[i]``, ``b[j]`` (first such pair)."""
    rows = max(1, _BLOCK // len(b))
    best, pair = np.inf, (0, 0)
    for s in range(0, len(a), rows):
        d = np.square(a[s : s + rows, None, 0] - b[:, 0]) + np.square(
            a[s : s + rows, None, 1] - b[:, 1]
        )
        flat = int(d.argmin())
        if d.flat[flat] < best:
            best = d.flat[flat]
            pair = (s + flat // len(b), flat % len(b))
    return pair


def _minimum_spanning_tree(sq: np.ndarray) -> list[tuple[int, int]]:
    """Kruskal on the complete graph with weights ``sq``; edges ``(i, j)`` with ``i < j``."""
    k = len(sq)
    root = list(range(k))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    edges: list[tuple[int, int]] = []
    for flat in np.argsort(sq, axis=None, kind="stable").tolist():
        i, j = divmod(flat, k)
        if i < j:
            ri, rj = find(i), find(j)
            if ri != rj:
                root[ri] = rj
                edges.append((i, j))
                if len(edges) == k - 1:
                    break
    return edges


def _starts(parts: list[np.ndarray]) -> list[int]:
    return list(accumulate((len(p) for p in parts[:-1]), initial=0))


def bridge_length(parts: list[np.ndarray]) -> float:
    """Total length of the bridges :func:`merge_parts` draws (minimum spanning tree over parts).

    Examples
    --------
    >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    >>> bridge_length([square, square + [4, 0], square + [2, 0]])
    2.0
    """
    sq = _closest_distances(parts)
    return float(sum(np.sqrt(sq[i, j]) for i, j in _minimum_spanning_tree(sq)))


def chain_bridge_length(parts: list[np.ndarray]) -> float:
    """Total bridge length when parts are chained in list order (Ultralytics' merge).

    Examples
    --------
    >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    >>> chain_bridge_length([square, square + [4, 0], square + [2, 0]])
    4.0
    """
    sq = _closest_distances(parts)
    k = len(sq)
    return float(np.sqrt(sq[np.arange(k - 1), np.arange(1, k)]).sum())


def _closest_distances(parts: list[np.ndarray]) -> np.ndarray:
    """Smallest squared vertex distance between every two parts (checked), ``(k, k)``."""
    arrays = _as_parts(parts)
    if len(arrays) == 1:
        return np.zeros((1, 1))
    sq, _ = _part_distances(np.concatenate(arrays), np.array(_starts(arrays)))
    return sq


def merge_parts(parts: list[np.ndarray]) -> np.ndarray:
    """Join the parts of a multi-part polygon into one ring with the shortest total bridges.

    Parts are connected along a minimum spanning tree whose edge weights are the closest vertex
    distances between parts; the ring starts at ``parts[0][0]``, walks around part 0 and, at each
    attachment vertex, detours through the child part (entered at its closest vertex, walked all the
    way round back to that vertex) and returns to the attachment vertex. Every input vertex is kept
    and each bridge is walked twice in opposite directions, so it has zero width. A single part is
    returned as a copy.

    Examples
    --------
    >>> a = np.array([[0, 0], [1, 0], [1, 1]], float)
    >>> merge_parts([a, a + [3, 0]]).tolist()  # doctest: +NORMALIZE_WHITESPACE
    [[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [4.0, 0.0], [4.0, 1.0], [3.0, 0.0], [1.0, 0.0],
     [1.0, 1.0]]
    """
    arrays = _as_parts(parts)
    if len(arrays) == 1:
        return arrays[0].copy()
    if len(arrays) == 2 and len(arrays[0]) * len(arrays[1]) <= _BLOCK:
        # The common case, without the tree: one bridge between the closest vertex pair.
        a, b = arrays
        d = np.square(a[:, None, 0] - b[:, 0]) + np.square(a[:, None, 1] - b[:, 1])
        i, j = divmod(int(d.argmin()), len(b))
        return np.concatenate([a[: i + 1], b[j:], b[: j + 1], a[i:]])
    points = np.concatenate(arrays)
    starts = _starts(arrays)
    sizes = [len(p) for p in arrays]
    sq, full = _part_distances(points, np.array(starts))
    # children[p]: (vertex of p, child part, entry vertex of child), walking out from part 0.
    adjacent: list[list[int]] = [[] for _ in arrays]
    for i, j in _minimum_spanning_tree(sq):
        adjacent[i].append(j)
        adjacent[j].append(i)
    children: list[list[tuple[int, int, int]]] = [[] for _ in arrays]
    seen, frontier = {0}, [0]
    while frontier:
        p = frontier.pop()
        for c in adjacent[p]:
            if c not in seen:
                seen.add(c)
                frontier.append(c)
                if full is None:
                    v, e = _closest_pair(arrays[p], arrays[c])
                else:
                    block = full[starts[p] : starts[p] + sizes[p], starts[c] : starts[c] + sizes[c]]
                    v, e = divmod(int(block.argmin()), sizes[c])
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
    return points[tour]


def split_bridged_ring(ring: np.ndarray) -> list[np.ndarray]:
    """Recover the parts of a ring made by :func:`merge_parts` (e.g. from a YOLO label line).

    The ring is read as a closed walk; whenever a vertex repeats exactly, the loop walked since its
    previous visit is cut out. A loop of three or more vertices is a part; a loop of one or two
    vertices is a bridge walked out and back (or a zero-length edge) and is dropped. What is left at
    the end is the last part. Bridge ends therefore have to repeat exactly, as they do after
    normalising and formatting every vertex the same way.

    An ordinary polygon that touches itself at a vertex (a figure eight) is split at that vertex
    into its loops, which cover the same area; spikes walked out and back are dropped. A ring with
    no repeated vertex comes back as ``[ring]``.

    Examples
    --------
    >>> a = np.array([[0, 0], [1, 0], [1, 1]], float)
    >>> [p.tolist() for p in split_bridged_ring(merge_parts([a, a + [3, 0]]))]
    [[[3.0, 0.0], [4.0, 0.0], [4.0, 1.0]], [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]]
    """
    ring = np.asarray(ring, dtype=np.float64)
    if ring.ndim != 2 or ring.shape[1] != 2:
        msg = f"ring: expected an (N, 2) array of x, y vertices, found shape {ring.shape}"
        raise InputError(msg)
    keys = ring.tolist()
    if len({(x, y) for x, y in keys}) == len(keys):
        return [ring.copy()]
    parts: list[np.ndarray] = []
    stack: list[int] = []  # indices into ring of the open walk
    where: dict[tuple[float, float], int] = {}  # vertex -> its position in stack
    for i, (x, y) in enumerate(keys):
        key = (x, y)
        at = where.get(key)
        if at is None:
            where[key] = len(stack)
            stack.append(i)
            continue
        loop = stack[at:]
        for j in loop[1:]:
            del where[(keys[j][0], keys[j][1])]
        del stack[at + 1 :]
        if len(loop) >= 3:
            parts.append(ring[loop])
    if len(stack) >= 3:
        parts.append(ring[stack])
    return parts


# --------------------------------------------------------------------------------- masks and RLE


def rle_to_mask(rle: dict, height: int, width: int) -> np.ndarray:
    """Decode a COCO RLE (compressed or uncompressed ``counts``) into an (H, W) uint8 mask.

    Examples
    --------
    >>> rle_to_mask({"size": [2, 3], "counts": [1, 2, 3]}, 2, 3).tolist()
    [[0, 1, 0], [1, 0, 0]]
    """
    from pycocotools import mask as mask_utils

    counts = rle.get("counts") if isinstance(rle, dict) else None
    size = list(rle.get("size", [])) if isinstance(rle, dict) else None
    if counts is None or size != [height, width]:
        msg = (
            f"RLE: expected a dict with 'counts' and 'size' [{height}, {width}], found "
            f"{type(rle).__name__} with size {size}; check the annotation against its image"
        )
        raise InputError(msg)
    if isinstance(counts, list):
        if sum(counts) != height * width:
            msg = (
                f"RLE: expected counts summing to {height}*{width}={height * width}, found "
                f"{sum(counts)}; the annotation is corrupt, drop it"
            )
            raise InputError(msg)
        encoded = mask_utils.frPyObjects(rle, height, width)
    else:
        raw = counts.encode() if isinstance(counts, str) else counts
        encoded = {"size": [height, width], "counts": raw}
    return np.asarray(mask_utils.decode(encoded), dtype=np.uint8)


def mask_to_ring(mask: np.ndarray) -> np.ndarray | None:
    """Trace a binary (H, W) mask into ONE ring in pixel-edge coordinates, or None if empty.

    The mask's horizontal runs become boxes that Shapely unions into polygons; these are simplified
    by at most half a pixel (topology preserved), oriented (outer rings counter-clockwise in image
    axes, holes the other way) and every outer ring and hole is joined by :func:`merge_parts`, so
    holes are cut in by zero-width keyhole bridges. No OpenCV involved.

    Examples
    --------
    >>> m = np.zeros((4, 5), np.uint8)
    >>> m[1:3, 1:4] = 1
    >>> mask_to_ring(m).tolist()
    [[4.0, 1.0], [4.0, 3.0], [1.0, 3.0], [1.0, 1.0]]
    """
    import shapely

    mask = np.asarray(mask)
    if mask.ndim != 2:
        msg = f"mask: expected a 2-D (H, W) array, found shape {mask.shape}"
        raise InputError(msg)
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask != 0
    edges = np.diff(padded, axis=1)
    rows, x0 = np.nonzero(edges == 1)
    if len(rows) == 0:
        return None
    _, x1 = np.nonzero(edges == -1)
    boxes = shapely.box(x0, rows, x1, rows + 1)
    shape = shapely.simplify(shapely.union_all(boxes), 0.5, preserve_topology=True)
    rings: list[np.ndarray] = []
    for polygon in shapely.get_parts(shapely.orient_polygons(shape)):
        outlines = [polygon.exterior, *polygon.interiors]
        rings += [shapely.get_coordinates(line)[:-1] for line in outlines]
    return merge_parts(rings)


# ------------------------------------------------------------------------------ label formatting
#
# Each token (a number with its leading space, plus the row's class id or newline where they
# belong) is laid out in two little-endian uint64 words: [class id] separator, sign, "0.000" |
# digits [newline]. Unused bytes stay 0, so the text is all non-zero bytes in order, compacted in
# one pass. Numbers and class ids the bulk path cannot write exactly hold a placeholder byte that
# is replaced by Python's own formatting.

_PLACEHOLDER = b"\x01"  # never occurs in label text
_BYTE = np.uint64(8)
#: floor(log10(2**x)) for each biased exponent of a double (x = biased - 1023), clipped to
#: -6 ... 6: beyond, numbers are left to Python anyway.
_EXPONENT_FLOOR = np.array(
    [
        len(str(2**x)) - 1 if x >= 0 else -len(str(2**-x))
        for x in np.clip(np.arange(-1023, 1025), -30, 30).tolist()
    ],
    np.int32,
).clip(-6, 6)
#: By decimal exponent x + 6, for x in -6 ... 7: 10**(x + 1), and the scale 10**(5 - x) that
#: leaves six digits before the point.
_NEXT_POWER = np.array([float(f"1e{k}") for k in range(-5, 9)])  # correctly rounded
_SCALE = np.array([float(f"1e{k}") for k in range(11, -3, -1)])


def _word(text: bytes) -> int:
    return int.from_bytes(text, "little")


def _words(texts: list[bytes]) -> np.ndarray:
    return np.array([_word(t) for t in texts], dtype=np.uint64)


# Three-digit groups "000" ... "999", and the same with trailing zeros stripped ("0" for 0: only
# the number zero ever looks that group up, see _format_g).
_DIGITS3 = _words([b"%03d" % i for i in range(1000)])
_STRIPPED3 = _words([(b"%03d" % i).rstrip(b"0") or b"0" for i in range(1000)])
# Separator, sign and, for 1e-4 <= |v| < 1, "0." and zeros, by [negative][exponent + 6] for
# exponents -6 ... 8 (those outside -4 ... 5 are never used: Python formats them).
_G_PREFIX = np.array(
    [
        _words([sign + (b"0." + b"0" * (-x - 1) if -4 <= x < 0 else b"") for x in range(-6, 9)])
        for sign in (b" ", b" -")
    ]
)


def _groups(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split ``0 <= m < 10**6`` into its leading and trailing three-digit groups."""
    high = m // 1000
    return high, m - high * 1000


def _six_digits(m: np.ndarray) -> np.ndarray:
    """The six digits of ``0 <= m < 10**6`` as a little-endian word, leading zeros kept."""
    high, low = _groups(m)
    return _DIGITS3[high] | (_DIGITS3[low] << np.uint64(24))


def _n_bytes(word: np.ndarray) -> np.ndarray:
    """Number of bytes up to the last non-zero one of each little-endian word."""
    n = np.zeros(word.shape, dtype=np.int64)
    for k in range(8):
        n += word >= np.uint64(1 << (8 * k))
    return n


def _n_digits(m: np.ndarray) -> np.ndarray:
    """Number of decimal digits of ``0 <= m < 10**6`` (1 for 0)."""
    n = np.ones_like(m)
    for power in (10, 100, 1000, 10000, 100000):
        n += m >= power
    return n


_SPLITTER = 2.0**27 + 1  # Veltkamp's constant: splits a double into two 26-bit halves


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scaled = x * _SPLITTER
    high = scaled - (scaled - x)
    return high, x - high


def _rounded(magnitude: np.ndarray, power: np.ndarray | float) -> np.ndarray:
    """``magnitude * power`` rounded to an integer, ties to even, as if the product were exact.

    Valid where the product is below 2**52. There the rounded product misleads only when it
    lands exactly on a half (the exact one may lie to either side), which normalised COCO
    coordinates do by the thousand: two-decimal pixels over sizes like 640 are decimal ties, and
    their doubles lie ~1e-11 to one side. Dekker's exact product tells the side.
    """
    scaled = magnitude * power
    mantissa = np.rint(scaled)
    half = np.flatnonzero(np.abs(scaled - mantissa) == 0.5)
    if len(half):
        a_high, a_low = _split(magnitude[half])
        b_high, b_low = _split(np.broadcast_to(power, scaled.shape)[half])
        product = scaled[half]
        error = a_low * b_low - (
            ((product - a_high * b_high) - a_low * b_high) - a_high * b_low
        )  # product + error == magnitude * power exactly
        mantissa[half] = np.where(error == 0, mantissa[half], np.floor(product) + (error > 0))
    return mantissa


def _format_g(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``' ' + '%g' % v`` laid out in two words ``lo | hi`` where exact in bulk; return
    ``(lo, hi, done)``.

    ``'%g'`` rounds to six significant digits and, for an exponent ``-4 <= x < 6`` after
    rounding, prints fixed-point with trailing zeros stripped: that is built here, the rest is
    left to Python.
    """
    magnitude = np.abs(values)
    # The decimal exponent from the binary one: the table's, or one more (exact, unlike log10).
    # Zero, subnormals, inf and nan get exponents outside -4 ... 5 (zero is handled below).
    exponent = _EXPONENT_FLOOR.take(magnitude.view(np.int64) >> 52)
    exponent += magnitude >= _NEXT_POWER.take(exponent + 6)
    mantissa = _rounded(magnitude, _SCALE.take(exponent + 6))
    # Rounding may carry into a seventh digit (0.09999996 -> 0.1).
    carried = np.flatnonzero(mantissa >= 1e6)
    mantissa[carried] = 1e5
    exponent[carried] += 1
    done = (exponent >= -4) & (exponent <= 5)  # False for inf and nan too
    m = np.where(done, mantissa, 0).astype(np.int32)  # 0 also for the number zero
    done |= magnitude == 0
    high, low = _groups(m)
    # Six digits with trailing zeros stripped; zero gives _STRIPPED3[0], "0".
    hi = _DIGITS3.take(high) | (_STRIPPED3.take(low) << np.uint64(24))
    round_thousands = np.flatnonzero(low == 0)
    hi[round_thousands] = _STRIPPED3[high[round_thousands]]
    lo = _G_PREFIX[0].take(exponent + 6)
    negative = np.flatnonzero(np.signbit(values))
    lo[negative] = _G_PREFIX[1, exponent[negative] + 6]
    # |v| >= 1 (rare in normalised labels): integer digits, then "." and the rest if any.
    big = np.flatnonzero(done & (exponent >= 0) & (m > 0))
    point = (exponent[big] + 1).astype(np.uint64) * _BYTE
    fraction = hi[big] >> point
    fraction = np.where(fraction > 0, (fraction << _BYTE) | np.uint64(ord(".")), np.uint64(0))
    integer = _six_digits(m[big]) & ((np.uint64(1) << point) - np.uint64(1))
    hi[big] = integer | (fraction << point)
    return lo, hi, done


def _format_f6(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``' ' + '%.6f' % v`` laid out in two words ``lo | hi`` where exact in bulk; return
    ``(lo, hi, done)``."""
    magnitude = np.abs(values)
    done = magnitude < 1e5  # False for inf and nan; keeps sign and integer part in 7 bytes
    mantissa = _rounded(np.where(done, magnitude, 0.0), 1e6)
    done &= mantissa < 1e11
    m = np.where(done, mantissa, 0).astype(np.int64)
    whole = m // 10**6
    integer = _six_digits(whole) >> (_BYTE * (6 - _n_digits(whole)).astype(np.uint64))
    negative = np.signbit(values)
    shift = np.where(negative, np.uint64(16), _BYTE)
    lo = np.where(negative, np.uint64(_word(b" -")), np.uint64(ord(" "))) | (integer << shift)
    hi = (_six_digits(m - whole * 10**6) << _BYTE) | np.uint64(ord("."))
    return lo, hi, done


_STYLES = {"g": (_format_g, "%g"), "f6": (_format_f6, "%.6f")}


def format_rows(
    class_ids: np.ndarray, values: np.ndarray, counts: np.ndarray, style: str
) -> tuple[bytes, np.ndarray]:
    """Format label rows ``"<class> <v> <v> ...\\n"`` in bulk, byte-identical to Python's ``%``.

    Row ``r`` is ``str(class_ids[r])`` followed by the next ``counts[r]`` numbers of ``values``,
    each formatted as ``'%g' % v`` (``style="g"``, segments) or ``'%.6f' % v`` (``style="f6"``,
    boxes and keypoints like the official Ultralytics labels). Most numbers are formatted with
    integer arithmetic on whole arrays; the few the bulk path cannot do exactly (near a rounding
    tie, outside its range, not finite) go through Python's own formatting.

    Returns the text of all rows as one bytes blob and ``row_ends``, the offset just past each
    row's newline, so rows ``i..j`` are ``blob[row_ends[i - 1]:row_ends[j]]``.

    Examples
    --------
    >>> blob, ends = format_rows(np.array([0, 17]), np.array([0.5, 1.5e-05, 1, 0.12345649]),
    ...                          np.array([3, 1]), "g")
    >>> blob
    b'0 0.5 1.5e-05 1\\n17 0.123456\\n'
    >>> ends.tolist()
    [16, 28]
    >>> format_rows(np.array([2]), np.array([0.25, 1 / 3]), np.array([2]), "f6")[0]
    b'2 0.250000 0.333333\\n'
    """
    if style not in _STYLES:
        msg = f"label style: expected one of {sorted(_STYLES)}, found {style!r}"
        raise InputError(msg)
    formatter, python_format = _STYLES[style]
    class_ids = np.asarray(class_ids).ravel()
    values = np.asarray(values, dtype=np.float64).ravel()
    counts = np.asarray(counts, dtype=np.int64).ravel()
    if len(class_ids) != len(counts) or (counts < 0).any() or counts.sum() != len(values):
        msg = (
            f"label rows: expected one non-negative count per class id summing to the "
            f"{len(values)} values, found {len(class_ids)} ids and counts summing to "
            f"{int(counts.sum())}; pass matching arrays"
        )
        raise InputError(msg)
    if len(counts) == 0:
        return b"", np.zeros(0, dtype=np.int64)
    # One token per value; an empty row gets a blank token to carry its class id and newline.
    width = np.maximum(counts, 1)
    first = np.cumsum(width) - width
    last = first + width - 1
    blank = np.zeros(int(width.sum()), dtype=bool)
    blank[first[counts == 0]] = True
    tokens = values
    if blank.any():
        tokens = np.zeros(len(blank))
        tokens[~blank] = values
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        lo, hi, done = formatter(tokens)
    if len(tokens) > len(values):
        done[blank] = True
        lo[blank] = hi[blank] = 0
    slow = np.flatnonzero(~done)
    lo[slow], hi[slow] = _word(b" " + _PLACEHOLDER), 0
    hi[last] |= np.uint64(ord("\n")) << (_BYTE * _n_bytes(hi[last]).astype(np.uint64))
    # Class ids go in front of the first token's prefix (at most 7 bytes) when they fit in the word.
    ids = class_ids.astype(np.int64)
    ids_fast = (ids >= 0) & (ids < 10**6) & (ids == class_ids)
    ids = np.where(ids_fast, ids, 0)
    n_digits = _n_digits(ids)
    prefix = lo[first]
    ids_fast &= n_digits + _n_bytes(prefix) <= 8
    label = _six_digits(ids) >> (_BYTE * (6 - n_digits).astype(np.uint64))
    label = np.where(ids_fast, label, np.uint64(_word(_PLACEHOLDER)))
    lo[first] = label | (prefix << (_BYTE * np.where(ids_fast, n_digits, 1).astype(np.uint64)))
    text = np.stack((lo, hi), axis=1).tobytes().translate(None, b"\0")
    fallbacks = [(first[r], 0, str(class_ids[r]).encode()) for r in np.flatnonzero(~ids_fast)]
    fallbacks += [
        (i, 1, (python_format % v).encode())
        for i, v in zip(slow.tolist(), tokens[slow].tolist(), strict=True)
    ]
    if fallbacks:
        fallbacks.sort(key=lambda item: item[:2])
        kept = text.split(_PLACEHOLDER)
        pieces = [b""] * (2 * len(kept) - 1)
        pieces[0::2] = kept
        pieces[1::2] = [piece for *_, piece in fallbacks]
        blob = b"".join(pieces)
    else:
        blob = text
    row_ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == ord("\n")) + 1
    return blob, row_ends.astype(np.int64)

"""Label numbers as text and back, exactly as Python's ``%g`` / ``%.6f`` and ``float`` do, for
whole arrays.

Label rows (``"<class> <v> <v> ...\\n"``) are formatted in bulk with integer arithmetic on whole
arrays (:func:`format_rows`); the few numbers the bulk path cannot write exactly go through
Python's own formatting, so the text is byte-identical to ``%`` formatting.

Each token (a number with its leading space, plus the row's class id or newline where they
belong) is laid out in two little-endian uint64 words: [class id] separator, sign, "0.000" |
digits [newline]. Unused bytes stay 0, so the text is all non-zero bytes in order, compacted in
one pass. Numbers and class ids the bulk path cannot write exactly hold a placeholder byte that
is replaced by Python's own formatting.

:func:`parse_tokens` goes the other way with the same two words: a token ``0.`` + up to 14
digits (nearly every number a label file holds) is its digits read eight at a time, divided by
``10**14``; any other token goes through ``float``.
"""

from __future__ import annotations

import numpy as np

from cocoprep.errors import InputError

__all__ = ["format_rows", "parse_tokens"]


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


_ZEROS = np.uint64(0x3030303030303030)  # eight "0" characters
_HIGH_BITS = np.uint64(0x8080808080808080)
#: The low k bytes of a word, for k = 0 ... 8.
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], np.uint64)
_ZERO_POINT = np.uint64(_word(b"0."))
_TWO_BYTES = np.uint64(0xFFFF)


def _eight_digits(words: np.ndarray) -> np.ndarray:
    """The integer that eight ASCII digits (first digit in the low byte) spell, three
    multiplications per word (pairs, then quads, then the whole); computed in ``words``."""
    words -= _ZEROS
    shifted = words >> np.uint64(8)
    words *= np.uint64(10)
    words += shifted
    pairs = np.uint64(0x000000FF000000FF)
    high = words & pairs
    high *= np.uint64(100 + (1_000_000 << 32))
    words >>= np.uint64(16)
    words &= pairs
    words *= np.uint64(1 + (10_000 << 32))
    words += high
    words >>= np.uint64(32)
    return words


def _zero_padded(words: np.ndarray, keep: np.ndarray) -> None:
    """Bytes of ``words`` outside the masks ``keep`` set to ``"0"``, in place (``keep`` too)."""
    words &= keep
    np.invert(keep, out=keep)
    keep &= _ZEROS
    words |= keep


def _all_digits(words: np.ndarray) -> np.ndarray:
    """Whether all eight bytes of each word are ASCII digits (a byte below ``0`` or above ``9``
    sets its high bit in one of the two sums; the lowest such byte is never disturbed by a
    borrow or carry, so no bad word passes)."""
    return ((words - _ZEROS) | (words + np.uint64(0x4646464646464646))) & _HIGH_BITS == 0


def parse_tokens(text: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The numbers of the tokens ``text[starts[t]:ends[t]]``, each equal to ``float`` of the
    token, and the tokens ``float`` rejects (their values are NaN).

    A token ``0.ddd...`` of at most 16 characters is exactly its digits (an integer below
    2**53) over ``10**14``: both are exact doubles, so the division is correctly rounded, as
    ``float`` is.

    >>> text = b"0.366781 0.5 12 -0.25 1e-05 x"
    >>> starts, ends = np.array([0, 9, 13, 16, 22, 28]), np.array([8, 12, 15, 21, 27, 29])
    >>> values, bad = parse_tokens(text, starts, ends)
    >>> values[:5].tolist(), bad
    ([0.366781, 0.5, 12.0, -0.25, 1e-05], [5])
    """
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    values = np.empty(len(starts))
    lengths = ends - starts
    fast = np.flatnonzero((lengths >= 3) & (lengths <= 16))
    padded = text + b" " * 16
    # Every 8 bytes from each offset, as a little-endian word (an unaligned, overlapping view).
    words = np.ndarray((len(padded) - 7,), np.dtype("<u8"), padded, strides=(1,))
    first, second = words[starts[fast]], words[starts[fast] + 8]
    n = lengths[fast]
    # Bytes past the token read as trailing zeros, "0." as two leading ones.
    _zero_padded(first, _LOW_BYTES[np.minimum(n, 8)])
    _zero_padded(second, _LOW_BYTES[np.clip(n - 8, 0, 8)])
    ok = (first & _TWO_BYTES) == _ZERO_POINT
    first &= ~_TWO_BYTES
    first |= _ZEROS & _TWO_BYTES
    ok &= _all_digits(first)
    ok &= _all_digits(second)
    digits = _eight_digits(first)
    digits *= np.uint64(10**8)
    digits += _eight_digits(second)
    values[fast] = digits / 1e14
    slow = np.ones(len(starts), bool)
    slow[fast[ok]] = False
    slow = np.flatnonzero(slow)
    tokens = [text[a:b] for a, b in zip(starts[slow].tolist(), ends[slow].tolist(), strict=True)]
    try:
        values[slow] = np.fromiter(map(float, tokens), np.float64, len(tokens))
        return values, []
    except ValueError:
        pass
    bad = []
    for t, token in zip(slow.tolist(), tokens, strict=True):
        try:
            values[t] = float(token)
        except ValueError:
            values[t] = np.nan
            bad.append(t)
    return values, bad

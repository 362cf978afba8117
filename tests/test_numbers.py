"""Tests for cocoprep.numbers: label rows byte-identical to Python's %g / %.6f."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoprep.errors import InputError
from cocoprep.numbers import format_rows, parse_tokens


def python_rows(class_ids, values, counts, fmt: str) -> bytes:
    """The reference: what ``' '.join`` of Python's ``%`` formatting gives."""
    lines, i = [], 0
    for c, k in zip(np.asarray(class_ids).tolist(), np.asarray(counts).tolist(), strict=True):
        lines.append(" ".join([str(c)] + [fmt % v for v in values[i : i + k].tolist()]) + "\n")
        i += k
    return "".join(lines).encode()


def assert_same_as_python(values, style: str, row_size: int = 7) -> None:
    values = np.asarray(values, dtype=float)
    counts = np.full(len(values) // row_size, row_size)
    counts = np.append(counts, len(values) - counts.sum())
    ids = np.arange(len(counts)) % 91
    blob, row_ends = format_rows(ids, values, counts, style)
    expected = python_rows(ids, values, counts, "%g" if style == "g" else "%.6f")
    assert blob == expected
    assert (
        row_ends.tolist() == (np.cumsum([len(r) + 1 for r in expected.split(b"\n")[:-1]])).tolist()
    )


SPECIAL = [
    0.0, -0.0, 1.0, 0.5, 0.1, 1e-4, 9.99995e-5, 9.999949e-5, 1e-5, 1.5e-5, 0.0999995,
    0.09999995, 0.0999999499, 0.1234565, 0.9999995, 0.99999949, 9.9999995, 0.125, 0.0625,
    123456.5, 999999.5, 1e6, 1e300, -1e-300, 5e-324, 2.5e-7, 0.00010000049999, -0.5,
    math.inf, -math.inf, math.nan, 16400.0, 16400.5, 99999.95,
]  # fmt: skip


@pytest.mark.parametrize("style", ["g", "f6"])
def test_format_special_values(style):
    assert_same_as_python(SPECIAL, style)


@pytest.mark.parametrize("style", ["g", "f6"])
def test_format_matches_python_on_millions(style):
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.random(2_000_000),  # normalised coordinates
            rng.integers(0, 2**20, 200_000) / 2.0 ** rng.integers(1, 21, 200_000),  # exact ties
            np.round(rng.random(200_000), 7) + 5e-8,  # decimal halves
            # normalised COCO coordinates: two-decimal pixels over image sizes, ties galore
            rng.integers(0, 64_000, 400_000) / 100 / rng.choice([640, 480, 427, 500], 400_000),
            10.0 ** rng.uniform(-12, 12, 200_000) * rng.choice([-1, 1], 200_000),
        ]
    )
    assert_same_as_python(values, style, row_size=20)


unit = st.floats(0, 1)
dyadic = st.builds(lambda k, m: k / 2.0**m, st.integers(0, 2**24), st.integers(0, 30))
decimal_half = st.builds(
    lambda k, p: (2 * k + 1) / 10**p / 2, st.integers(0, 10**6), st.integers(1, 9)
)
near_power = st.builds(lambda p, d: 10.0**p * (1 - d), st.integers(-6, 6), st.floats(-1e-6, 1e-6))
carry = st.builds(  # where rounding to six digits carries into a seventh: 99999.95, 0.9999995
    lambda p, d: (999999.5 + d) * 10.0**p, st.integers(-12, 0), st.floats(-1e-3, 1e-3)
)
any_finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(unit, dyadic, decimal_half, near_power, carry, any_finite), max_size=40))
def test_format_property(values):
    for style in ("g", "f6"):
        assert_same_as_python(values, style, row_size=3)


def test_format_empty_rows_and_class_ids():
    ids = np.array([0, 5, 1234567, -2, 79])
    values = np.array([0.5, 0.25, 0.125])
    counts = np.array([1, 0, 2, 0, 0])
    blob, ends = format_rows(ids, values, counts, "g")
    assert blob == b"0 0.5\n5\n1234567 0.25 0.125\n-2\n79\n"
    assert ends.tolist() == [6, 8, 27, 30, 33]


def test_format_no_rows():
    blob, ends = format_rows(np.array([], int), np.array([]), np.array([], int), "g")
    assert blob == b""
    assert ends.tolist() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0], [0.5], [1], "e"), r"expected one of \['f6', 'g'\], found 'e'"),
        (
            ([0], [0.5, 0.5], [1], "g"),
            "summing to the 2 values, found 1 ids and counts summing to 1",
        ),
        (([0, 1], [0.5], [2, -1], "g"), "non-negative count"),
    ],
)
def test_format_bad_input(args, message):
    with pytest.raises(InputError, match=message):
        format_rows(*(np.asarray(a) if isinstance(a, list) else a for a in args))


def _tokens(text: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Where each token of ``text`` (as ``bytes.split`` finds them) starts and ends."""
    starts, ends, at = [], [], 0
    for token in text.split():
        at = text.index(token, at)
        starts.append(at)
        ends.append(at + len(token))
        at += len(token)
    return np.array(starts, np.int64), np.array(ends, np.int64)


def assert_parses_as_python(text: bytes) -> None:
    tokens = text.split()
    values, bad = parse_tokens(text, *_tokens(text))
    expected_bad = []
    for t, token in enumerate(tokens):
        try:
            expected = float(token)
        except ValueError:
            expected_bad.append(t)
            assert math.isnan(values[t])
            continue
        assert repr(values[t].item()) == repr(expected), token  # repr: -0.0 apart from 0.0
    assert bad == expected_bad


def test_parse_tokens_on_what_format_rows_writes():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(300_000), rng.random(1000) * 1e-5, [0, 1, 0.5]])
    for style in ("g", "f6"):
        blob, _ = format_rows(np.arange(len(values)) % 80, values, np.ones(len(values), int), style)
        assert_parses_as_python(blob)


def test_parse_tokens_edge_cases():
    edge = [b"0.", b"0.0", b"0.00000000000000", b"0.99999999999999", b"0.999999999999999",
            b"0.12345678901234", b"0.123456789012345", b"0.1x", b"0.-1", b"0..1", b"0.1.",
            b"1.5", b"00.5", b"0.5e3", b"-0.5", b"+0.5", b"0.5_0", b"0x1p3", b"nan", b"\xff",
            b"0.1234567\xff", b"0.:", b"0./", b"1_0"]  # fmt: skip
    assert_parses_as_python(b" ".join(edge))
    assert_parses_as_python(b"0.25")  # a token at the very end of the text
    assert parse_tokens(b"", np.zeros(0, int), np.zeros(0, int))[0].tolist() == []


_DECIMAL_BYTES = st.sampled_from(list(b"0123456789.e-:/"))  # ":" and "/" border the digits


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.builds(lambda d: b"0." + bytes(d), st.lists(st.sampled_from(b"0123456789"))),
            st.lists(_DECIMAL_BYTES, min_size=1, max_size=20).map(bytes),
        ),
        max_size=30,
    )
)
def test_parse_tokens_property(tokens):
    assert_parses_as_python(b" ".join(tokens))

"""Sorted, disjoint byte intervals: what part of an archive is on disk, what is still missing."""

from __future__ import annotations

import bisect
from collections.abc import Iterable


class Intervals:
    """A set of bytes as sorted, disjoint, non-adjacent ``[start, end)`` pairs.

    Examples
    --------
    >>> have = Intervals([(0, 10)])
    >>> have.add(20, 30); have.add(10, 20)
    >>> have.pairs(), have.covers(5, 25), have.total
    ([(0, 30)], True, 30)
    >>> have.remove(12, 14)
    >>> have.pairs(), have.covers(5, 25)
    ([(0, 12), (14, 30)], False)
    >>> Intervals([(0, 12), (14, 30)]).complement(40).pairs()
    [(12, 14), (30, 40)]
    """

    def __init__(self, pairs: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in pairs:
            self.add(start, end)

    def pairs(self) -> list[tuple[int, int]]:
        """The intervals, in order."""
        return list(zip(self._starts, self._ends, strict=False))

    @property
    def total(self) -> int:
        """How many bytes the set holds."""
        return sum(self._ends) - sum(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def first(self) -> tuple[int, int]:
        """The lowest interval."""
        return self._starts[0], self._ends[0]

    def add(self, start: int, end: int) -> None:
        """Add ``[start, end)``, merging with what it touches."""
        if end <= start:
            return
        lo = bisect.bisect_left(self._ends, start)
        hi = bisect.bisect_right(self._starts, end)
        if lo < hi:
            start = min(start, self._starts[lo])
            end = max(end, self._ends[hi - 1])
        self._starts[lo:hi] = [start]
        self._ends[lo:hi] = [end]

    def remove(self, start: int, end: int) -> None:
        """Take ``[start, end)`` out."""
        if end <= start:
            return
        lo = bisect.bisect_right(self._ends, start)
        hi = bisect.bisect_left(self._starts, end)
        keep_starts, keep_ends = [], []
        if lo < hi and self._starts[lo] < start:
            keep_starts.append(self._starts[lo])
            keep_ends.append(start)
        if lo < hi and self._ends[hi - 1] > end:
            keep_starts.append(end)
            keep_ends.append(self._ends[hi - 1])
        self._starts[lo:hi] = keep_starts
        self._ends[lo:hi] = keep_ends

    def covers(self, start: int, end: int) -> bool:
        """Whether every byte of ``[start, end)`` is in the set."""
        if end <= start:
            return True
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def complement(self, size: int) -> Intervals:
        """The bytes of ``[0, size)`` not in the set."""
        gaps, position = Intervals(), 0
        for start, end in self.pairs():
            gaps.add(position, min(start, size))
            position = end
        gaps.add(position, size)
        return gaps

"""Tests for cocoprep.remote.connections: claims, their splitting, the pool on a real server."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import replace

from cocoprep.remote.connections import Claim, ConnectionPool, Tuning, split_longest
from cocoprep.remote.http import RetryPolicy

from httpfixtures import FaultServer

FAST = RetryPolicy(retries=3, backoff=0.01, timeout=2.0)
BLOB = random.Random(7).randbytes(400_000)


def test_split_longest_takes_the_back_half_of_what_is_left():
    short, long = Claim(0, 100, position=90), Claim(100, 1000, position=200)
    back = split_longest({short, long}, smallest=10)
    assert (back.start, back.end, back.position) == (600, 1000, 600)
    assert (long.position, long.end) == (200, 600)
    assert short.end == 100


def test_split_longest_leaves_short_claims_whole():
    claim = Claim(0, 100, position=81)  # 19 bytes left
    assert split_longest({claim}, smallest=10) is None
    assert claim.end == 100
    assert split_longest(set(), smallest=10) is None


class _Blob:
    """A RangeSource that hands out the whole blob as one claim, then splits claims in flight
    (leaving halves of ``smallest`` bytes)."""

    def __init__(self, url: str, smallest: int) -> None:
        self.url, self.smallest = url, smallest
        self.lock = threading.Lock()
        self.whole_given = False
        self.claims: set[Claim] = set()
        self.data = bytearray(len(BLOB))
        self.writes: list[tuple[int, int]] = []
        self.done = threading.Event()
        self.errors: list[BaseException] = []

    def claim(self, connections: int, wait_bytes: int | None) -> Claim | None:
        with self.lock:
            if not self.whole_given:
                self.whole_given = True
                claim = Claim(0, len(BLOB))
            else:
                claim = split_longest(self.claims, self.smallest)
            if claim is not None:
                self.claims.add(claim)
            return claim

    def write(self, claim: Claim, data: bytes) -> int:
        with self.lock:
            start, taken = claim.take(len(data))
            self.data[start : start + taken] = data[:taken]
            self.writes.append((start, start + taken))
            if sum(end - begin for begin, end in self.writes) >= len(BLOB):
                self.done.set()
        return taken

    def release(self, claim: Claim) -> None:
        with self.lock:
            self.claims.discard(claim)
            assert claim.left <= 0, "this source expects every claim fetched whole"

    def fail(self, error: BaseException) -> None:
        self.errors.append(error)
        self.done.set()


def _fetched(source: _Blob, tuning: Tuning) -> ConnectionPool:
    """Run a pool over ``source`` until the blob is in; the pool, stopped."""
    pool = ConnectionPool(FAST, tuning)
    try:
        pool.add(source)
        assert source.done.wait(20)
    finally:
        pool.stop()
    assert not source.errors
    assert bytes(source.data) == BLOB
    return pool


def test_an_idle_connection_takes_the_back_half_of_a_range_in_flight():
    with FaultServer() as server:
        server.serve("blob.bin", BLOB)
        server.rate, server.latency = 1 << 20, 0.2  # nothing arrives before the split
        source = _Blob(server.url + "blob.bin", smallest=len(BLOB) // 4)
        _fetched(source, Tuning(connections=2, chunk=16 << 10))
    ranges = sorted(entry[2] for entry in server.gets("blob.bin"))
    assert ranges == ["bytes=0-399999", "bytes=200000-399999"]
    # Every byte was taken once: the first connection stopped where the second began.
    taken = sorted(source.writes)
    assert sum(end - start for start, end in taken) == len(BLOB)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(taken))


class _Idle:
    """A RangeSource with nothing to fetch."""

    url = "http://127.0.0.1:9/unused"

    def claim(self, connections: int, wait_bytes: int | None) -> Claim | None:
        return None

    def write(self, claim: Claim, data: bytes) -> int:
        raise AssertionError

    def release(self, claim: Claim) -> None:
        raise AssertionError

    def fail(self, error: BaseException) -> None:
        raise AssertionError


def _connections_after_start(tuning: Tuning) -> int:
    """The connections the pool opens at its start: the count once it holds for 0.2 s (the
    tunings here would wait 15 s for their first probe)."""
    pool = ConnectionPool(FAST, tuning)
    try:
        pool.add(_Idle())
        deadline, seen = time.monotonic() + 10, -1
        while (count := pool.connections) != seen or count == 0:
            if time.monotonic() > deadline:
                break
            seen = count
            time.sleep(0.2)
        return pool.connections
    finally:
        pool.stop()


def test_the_pool_opens_the_cap_at_once_when_one_doubling_reaches_it():
    slow_probe = Tuning(probe_seconds=30)
    assert _connections_after_start(replace(slow_probe, max_connections=16)) == 16
    assert _connections_after_start(replace(slow_probe, max_connections=12)) == 12


def test_the_pool_starts_small_when_the_cap_takes_more_than_one_doubling():
    tuning = Tuning(start_connections=4, max_connections=16, probe_seconds=30)
    assert _connections_after_start(tuning) == 4


def test_the_pool_measures_what_one_connection_receives_while_a_request_waits():
    tuning = Tuning(connections=1, chunk=16 << 10)
    assert ConnectionPool(FAST, tuning).wait_bytes() is None  # nothing measured yet
    with FaultServer() as server:
        server.serve("blob.bin", BLOB)
        server.rate, server.latency = 1 << 20, 0.1
        pool = _fetched(_Blob(server.url + "blob.bin", smallest=len(BLOB)), tuning)
    # 1 MiB/s for 0.1 s: ~100 KiB (the answer comes after the latency and a little more).
    assert 64 << 10 <= pool.wait_bytes() <= 200 << 10

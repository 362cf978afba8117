"""Tests for cocoprep.remote.streamed: extraction while the bytes arrive, over a real server."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from cocoprep.errors import ChecksumError
from cocoprep.remote import streamed, zipindex
from cocoprep.remote.connections import ConnectionPool, Tuning
from cocoprep.remote.http import RetryPolicy, _NoRanges
from cocoprep.remote.streamed import stream_archive

from httpfixtures import FaultServer, make_zip

FAST = RetryPolicy(retries=3, backoff=0.01, timeout=1.0)
SMALL = Tuning(connections=2, piece_min=32 << 10, piece_max=64 << 10, chunk=16 << 10)
# Incompressible, so that the deflated archive is as long as the stored one.
MEMBERS = {f"val2017/{i:012d}.jpg": random.Random(i).randbytes(20_000 + 37 * i) for i in range(40)}


@pytest.fixture(autouse=True)
def small_tail(monkeypatch):
    """Fetch only the directory's last 16 KiB first, so most bytes come over the pool."""
    monkeypatch.setattr(zipindex, "TAIL_BYTES", 16 << 10)


@pytest.fixture(params=[False, True], ids=["stored", "deflated"])
def archive(request):
    return make_zip(MEMBERS, compress=request.param)


@pytest.fixture
def server(archive):
    with FaultServer() as running:
        running.serve("val2017.zip", archive)
        yield running


def _stream(server, archive, tmp_path, *, tuning=SMALL, digest=None, on_bytes=None, stop=None):
    pool = ConnectionPool(FAST, tuning)
    try:
        return stream_archive(
            server.url + "val2017.zip",
            tmp_path / "downloads" / "val2017.zip.part",
            dest=tmp_path / "images" / "val2017",
            alg="md5",
            digest=digest or hashlib.md5(archive).hexdigest(),
            size=len(archive),
            pool=pool,
            stop=stop or threading.Event(),
            on_bytes=on_bytes or (lambda n: None),
        )
    finally:
        pool.stop()


def _on_disk(tmp_path) -> dict[str, bytes]:
    folder = tmp_path / "images" / "val2017"
    return {f"val2017/{p.name}": p.read_bytes() for p in folder.iterdir()}


def test_members_are_on_disk_before_the_last_byte_arrives(server, archive, tmp_path):
    server.rate = 1 << 20  # per connection: about half a second for the archive
    server.latency = 0.02
    folder = tmp_path / "images" / "val2017"
    seen: list[tuple[int, int]] = []  # (bytes arrived, members on disk) at each chunk
    arrived = 0

    def on_bytes(n: int) -> None:
        nonlocal arrived
        arrived += n
        seen.append((arrived, len(list(folder.glob("*.jpg"))) if folder.is_dir() else 0))

    result = _stream(server, archive, tmp_path, on_bytes=on_bytes)
    assert _on_disk(tmp_path) == MEMBERS
    assert (result.members, result.written, result.skipped) == (40, 40, 0)
    before_last = [members for got, members in seen if got < len(archive) - (64 << 10)]
    assert max(before_last) >= 10
    assert not (tmp_path / "downloads" / "val2017.zip.part.state").exists()
    assert not list(folder.glob(".*"))  # no temporary file left


def test_connections_fetch_while_the_directory_is_read(server, archive, tmp_path, monkeypatch):
    server.rate = 1 << 20
    arrived, when_indexed = [], []
    real = streamed.read_index

    def slow_read_index(*args, **kwargs):
        time.sleep(0.3)  # as train2017's 118K members take seconds
        found = real(*args, **kwargs)
        when_indexed.append(sum(arrived))
        return found

    monkeypatch.setattr(streamed, "read_index", slow_read_index)
    result = _stream(server, archive, tmp_path, on_bytes=arrived.append)
    assert _on_disk(tmp_path) == MEMBERS and result.written == 40
    assert when_indexed[0] > 64 << 10  # bytes came while the index was read


def test_corrupt_range_is_caught_by_the_member_crc_and_fetched_again(
    server, archive, tmp_path, caplog
):
    server.fail("val2017.zip", "ok", "ok", "corrupt")  # the tail, two ranges, then a bad one
    with caplog.at_level(logging.WARNING, logger="cocoprep"):
        result = _stream(server, archive, tmp_path)
    assert _on_disk(tmp_path) == MEMBERS
    assert "failed its CRC-32, fetching it again" in caplog.text
    assert result.written == 40
    fetched = sum(
        int(end) - int(start) + 1
        for start, end in (e[2].split("=")[1].split("-") for e in server.gets("val2017.zip"))
    )
    assert len(archive) < fetched < 1.5 * len(archive)  # only the damaged member again


def test_a_range_that_keeps_coming_corrupt_is_a_clear_error(server, archive, tmp_path):
    server.fail("val2017.zip", "ok", *["corrupt"] * 40)
    with pytest.raises(ChecksumError, match=r"val2017.zip: member .* expected its CRC-32"):
        _stream(server, archive, tmp_path, tuning=Tuning(connections=1, piece_min=32 << 10))


def test_server_without_ranges_is_left_to_the_one_stream_fetch(server, archive, tmp_path):
    server.ranges = False
    with pytest.raises(_NoRanges):
        _stream(server, archive, tmp_path)
    assert not (tmp_path / "downloads").exists() and not (tmp_path / "images").exists()


def test_ranges_refused_mid_way_leave_no_part_for_the_one_stream_fetch(server, archive, tmp_path):
    server.fail("val2017.zip", "ok", "ok", *["norange"] * 20)  # the end, one range, then…
    with pytest.raises(_NoRanges):
        _stream(server, archive, tmp_path, tuning=replace(SMALL, connections=1))
    assert not list((tmp_path / "downloads").iterdir())  # neither the part nor its state
    assert not list((tmp_path / "images" / "val2017").glob(".*"))


def test_wrong_archive_hash_tries_twice_and_keeps_the_members(server, archive, tmp_path):
    with pytest.raises(ChecksumError, match="deleted it after two tries"):
        _stream(server, archive, tmp_path, digest="0" * 32)
    assert _on_disk(tmp_path) == MEMBERS  # each member's CRC holds; only the marker is missing
    assert not (tmp_path / "downloads" / "val2017.zip.part").exists()


def test_local_mirror_is_read_in_place_and_already_written_members_are_kept(archive, tmp_path):
    source = tmp_path / "mirror" / "val2017.zip"
    source.parent.mkdir()
    source.write_bytes(archive)
    digest = hashlib.md5(archive).hexdigest()
    dest = tmp_path / "images" / "val2017"
    pool = ConnectionPool(FAST, SMALL)
    arguments = dict(dest=dest, alg="md5", digest=digest, size=None, pool=pool)
    part = tmp_path / "downloads" / "val2017.zip.part"
    seen: list[int] = []
    first = stream_archive(
        source.as_uri(), part, stop=threading.Event(), on_bytes=seen.append, **arguments
    )
    assert _on_disk(tmp_path) == MEMBERS and first.written == 40 and sum(seen) == len(archive)
    assert not (tmp_path / "downloads").exists()  # nothing copied
    (dest / "000000000003.jpg").write_bytes(b"damaged")
    inodes = {p.name: p.stat().st_ino for p in dest.iterdir()}
    again = stream_archive(
        source.as_uri(), part, stop=threading.Event(), on_bytes=seen.append, **arguments
    )
    assert (again.written, again.skipped) == (1, 39)
    assert _on_disk(tmp_path) == MEMBERS
    changed = {p.name for p in dest.iterdir() if p.stat().st_ino != inodes[p.name]}
    assert changed == {"000000000003.jpg"}


KILLED = """
import hashlib, os, signal, sys, threading
from pathlib import Path
from cocoprep.remote import zipindex
from cocoprep.remote.connections import ConnectionPool, Tuning
from cocoprep.remote.http import RetryPolicy
from cocoprep.remote.streamed import stream_archive
zipindex.TAIL_BYTES = 16 << 10
url, tmp, size, digest, kill_at, save_seconds = sys.argv[1:7]
tuning = Tuning(connections=2, piece_min=32 << 10, piece_max=64 << 10, chunk=16 << 10,
                save_seconds=float(save_seconds))
seen = 0
def on_bytes(n):
    global seen
    seen += n
    if seen > int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)
stream_archive(url, Path(tmp) / "downloads" / "val2017.zip.part",
               dest=Path(tmp) / "images" / "val2017", alg="md5", digest=digest, size=int(size),
               pool=ConnectionPool(RetryPolicy(), tuning), stop=threading.Event(),
               on_bytes=on_bytes)
"""


@pytest.mark.parametrize("save_seconds", [0.05, 100.0], ids=["state-saved", "never-saved"])
def test_killed_during_streamed_extraction_resumes_to_the_same_files(
    server, archive, tmp_path, save_seconds
):
    server.rate = 2 << 20
    digest = hashlib.md5(archive).hexdigest()
    arguments = [server.url + "val2017.zip", str(tmp_path), str(len(archive)), digest]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED, *arguments, str(len(archive) // 2), str(save_seconds)],
        env=env,
        check=False,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL
    dest = tmp_path / "images" / "val2017"
    before = {p.name: p.stat().st_ino for p in dest.glob("*.jpg")}
    assert 0 < len(before) < 40
    server.log.clear()
    result = _stream(server, archive, tmp_path)
    assert _on_disk(tmp_path) == MEMBERS
    assert {p.name: p.stat().st_ino for p in dest.glob("*.jpg") if p.name in before} == before
    assert result.written <= 40 - len(before)  # the members the killed run finished stay
    if save_seconds < 1:  # the bytes resume too; never saved, they are fetched again
        assert result.resumed > 0 and result.transferred < len(archive)
    assert not list(dest.glob(".*"))  # a member cut by the kill left no torn file behind


def _pool_run(server, archive, tmp_path, tuning: Tuning) -> ConnectionPool:
    pool = ConnectionPool(FAST, tuning)
    try:
        stream_archive(
            server.url + "val2017.zip",
            tmp_path / "downloads" / "val2017.zip.part",
            dest=tmp_path / "images" / "val2017",
            alg="md5",
            digest=hashlib.md5(archive).hexdigest(),
            size=len(archive),
            pool=pool,
            stop=threading.Event(),
            on_bytes=lambda n: None,
        )
    finally:
        pool.stop()
    assert _on_disk(tmp_path) == MEMBERS
    return pool


def test_connections_are_added_while_the_rate_grows_up_to_the_cap(server, archive, tmp_path):
    server.rate = 128 << 10  # per connection: more connections, more bytes per second
    tuning = replace(SMALL, connections=None, start_connections=2, max_connections=8)
    tuning = replace(tuning, probe_seconds=0.1, piece_min=16 << 10)
    assert 2 < _pool_run(server, archive, tmp_path, tuning).connections <= 8


def test_an_idle_connection_splits_the_last_range_when_each_half_outlasts_a_wait(
    server, archive, tmp_path
):
    server.rate, server.latency = 512 << 10, 0.05  # ~26 KiB arrive while a request waits
    tuning = Tuning(connections=2, piece_min=256 << 10, piece_max=256 << 10, chunk=16 << 10)
    _stream(server, archive, tmp_path, tuning=tuning)
    assert _on_disk(tmp_path) == MEMBERS
    ranges = server.gets("val2017.zip")[1:]  # after the zip's end
    # Three pieces of at least 256 KiB, and a split of the last: under 2 x piece_min (the old
    # rule) it would have run alone.
    assert len(archive) < 4 * (256 << 10) and len(ranges) > 3


def test_a_fixed_number_of_connections_is_kept(server, archive, tmp_path):
    server.rate = 512 << 10
    tuning = Tuning(connections=3, probe_seconds=0.1, piece_min=16 << 10)
    assert _pool_run(server, archive, tmp_path, tuning).connections == 3

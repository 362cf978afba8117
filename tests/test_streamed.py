"""Tests for cocoprep.remote.streamed: a zip extracted while it downloads, on a real server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cocoprep.cli import main
from cocoprep.remote.connections import ConnectionPool, Tuning
from cocoprep.remote.download import download
from cocoprep.remote.http import RetryPolicy, _NoRanges
from cocoprep.remote.streamed import stream_archive

from httpfixtures import FaultServer, fake_jpeg, make_zip

FAST = RetryPolicy(retries=3, backoff=0.01, timeout=2.0)
SMALL = Tuning(connections=2, piece_min=32 << 10, piece_max=64 << 10, chunk=16 << 10)
IMAGES = {f"{i:012d}.jpg": fake_jpeg(i, 20_000 + 101 * i) for i in range(30)}
TREE = {f"val2017/{name}": data for name, data in IMAGES.items()}
ZIPS = {compress: make_zip(TREE, compress=compress) for compress in (False, True)}


@pytest.fixture
def server():
    with FaultServer() as running:
        running.serve("val2017.zip", ZIPS[False])
        running.serve("deflated.zip", ZIPS[True])
        yield running


def _stream(url: str, data: bytes, tmp_path: Path, tuning: Tuning = SMALL, **kwargs):
    pool = ConnectionPool(FAST, tuning)
    kwargs.setdefault("on_bytes", lambda n: None)
    try:
        return stream_archive(
            url,
            tmp_path / "downloads" / "val2017.zip.part",
            dest=tmp_path / "images",
            alg="md5",
            digest=hashlib.md5(data).hexdigest(),
            size=len(data),
            pool=pool,
            stop=kwargs.pop("stop", threading.Event()),
            **kwargs,
        )
    finally:
        pool.stop()


def _images(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _fetched(server: FaultServer, path: str) -> int:
    """Bytes asked for by the ranged GETs of ``path``."""
    total = 0
    for entry in server.gets(path):
        start, _, end = entry[2].removeprefix("bytes=").partition("-")
        total += int(end) - int(start) + 1
    return total


@pytest.mark.parametrize(("compress", "path"), [(False, "val2017.zip"), (True, "deflated.zip")])
def test_stored_and_deflated_members_are_extracted_and_the_part_removed(
    server, tmp_path, compress, path
):
    result = _stream(server.url + path, ZIPS[compress], tmp_path)
    assert _images(tmp_path / "images") == IMAGES
    assert result.members == result.written == len(IMAGES) and result.skipped == 0
    assert result.digest == hashlib.md5(ZIPS[compress]).hexdigest()
    assert not (tmp_path / "downloads" / "val2017.zip.part.state").exists()
    assert _fetched(server, path) == len(ZIPS[compress])  # every byte once


def test_members_appear_on_disk_before_the_last_byte_arrives(server, tmp_path):
    server.rate, server.latency = 400_000, 0.04  # per connection, as a far-away bucket
    size, arrived, first_seen = len(ZIPS[False]), [0], []
    images = tmp_path / "images"

    def on_bytes(n: int) -> None:
        arrived[0] += n
        if not first_seen and images.is_dir() and any(images.glob("*.jpg")):
            first_seen.append(arrived[0])

    _stream(server.url + "val2017.zip", ZIPS[False], tmp_path, on_bytes=on_bytes)
    assert _images(images) == IMAGES
    assert first_seen and first_seen[0] < size / 2, (first_seen, size)


def test_a_corrupt_range_is_caught_by_the_member_crc_and_refetched(server, tmp_path, caplog):
    one = Tuning(connections=1, piece_min=32 << 10, piece_max=64 << 10, chunk=16 << 10)
    server.fail("val2017.zip", "ok", "corrupt")  # the end first, then a damaged range
    result = _stream(server.url + "val2017.zip", ZIPS[False], tmp_path, tuning=one)
    assert _images(tmp_path / "images") == IMAGES
    assert result.digest == hashlib.md5(ZIPS[False]).hexdigest()
    assert "failed its CRC-32, fetching it again" in caplog.text
    size = len(ZIPS[False])
    assert size < _fetched(server, "val2017.zip") < 1.5 * size  # one span again, not all


def test_a_member_that_stays_corrupt_fails_clearly(server, tmp_path):
    from cocoprep.errors import ChecksumError

    one = Tuning(connections=1, piece_min=32 << 10, piece_max=64 << 10, chunk=16 << 10)
    bad = bytearray(ZIPS[False])
    bad[40_000:40_064] = bytes(b ^ 0xFF for b in bad[40_000:40_064])
    server.serve("val2017.zip", bytes(bad))  # the MD5 still names the good archive
    with pytest.raises(ChecksumError, match=r"expected its CRC-32, found other bytes"):
        _stream(server.url + "val2017.zip", ZIPS[False], tmp_path, tuning=one)
    assert not list((tmp_path / "images").glob("*.cocoprep-part"))


def test_a_server_without_ranges_raises_no_ranges_before_writing(server, tmp_path):
    server.ranges = False
    with pytest.raises(_NoRanges):
        _stream(server.url + "val2017.zip", ZIPS[False], tmp_path)
    assert not (tmp_path / "images").exists() and not (tmp_path / "downloads").exists()


KILLED = """
import hashlib, os, signal, sys, threading
from pathlib import Path
from cocoprep.remote.connections import ConnectionPool, Tuning
from cocoprep.remote.http import RetryPolicy
from cocoprep.remote.streamed import stream_archive
url, root, md5, size, kill_after, save = sys.argv[1:7]
seen = 0
def on_bytes(n):
    global seen
    seen += n
    if seen > int(kill_after):
        os.kill(os.getpid(), signal.SIGKILL)
tuning = Tuning(connections=2, piece_min=32 << 10, piece_max=64 << 10, chunk=16 << 10,
                save_seconds=float(save))
pool = ConnectionPool(RetryPolicy(retries=3, backoff=0.01, timeout=2.0), tuning)
stream_archive(url, Path(root) / "downloads" / "val2017.zip.part", dest=Path(root) / "images",
               alg="md5", digest=md5, size=int(size), pool=pool, stop=threading.Event(),
               on_bytes=on_bytes)
"""


def _on_disk(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.glob("*.jpg")
        if not p.name.startswith(".")
    }


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("save_seconds", [0.01, 100.0])  # state saved often / never
def test_killed_during_streamed_extraction_resumes_without_rewriting(
    server, tmp_path, save_seconds
):
    server.rate = 500_000
    data = ZIPS[False]
    md5 = hashlib.md5(data).hexdigest()
    kill_after = str(len(data) * 6 // 10)
    args = [server.url + "val2017.zip", str(tmp_path), md5, str(len(data)), kill_after]
    process = subprocess.run(
        [sys.executable, "-c", KILLED, *args, str(save_seconds)], check=False, timeout=60
    )
    assert process.returncode == -9
    before = _on_disk(tmp_path / "images")
    assert 0 < len(before) < len(IMAGES)
    assert not (tmp_path / "images" / next(iter(IMAGES))).with_suffix(".cocoprep-part").exists()
    server.rate, server.log[:] = 0, []
    result = _stream(server.url + "val2017.zip", data, tmp_path)
    assert _images(tmp_path / "images") == IMAGES
    after = _on_disk(tmp_path / "images")
    assert {name: after[name] for name in before} == before  # none rewritten
    assert result.written <= len(IMAGES) - len(before)
    if save_seconds < 1:  # the bytes resume too
        assert result.resumed > 0 and _fetched(server, "val2017.zip") < len(data)


# --------------------------------------------------------------------------- through download()


def _catalog(tmp_path: Path, base: str, data: bytes) -> Path:
    entry = {
        "name": "val2017",
        "path": "val2017.zip",
        "md5": hashlib.md5(data).hexdigest(),
        "bytes": len(data),
        "kind": "images",
        "split": "val2017",
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(json.dumps({"base_url": base, "archives": [entry]}))
    return path


def _download(tmp_path: Path, base: str, **kwargs):
    root = tmp_path / "coco"
    catalog = _catalog(tmp_path, base, ZIPS[False])
    kwargs.setdefault("connections", 2)
    summary = download(["val2017"], root=root, catalog=catalog, backoff=0.01, timeout=2.0, **kwargs)
    return root, summary


def test_a_server_without_ranges_still_works_in_one_stream(server, tmp_path):
    server.ranges = False
    root, summary = _download(tmp_path, server.url)
    assert _images(root / "images" / "val2017") == IMAGES
    assert (root / ".cocoprep" / "val2017.done").is_file()
    whole = [entry for entry in server.gets("val2017.zip") if entry[3] == 200]
    assert len(whole) == 2  # the end asked for and answered whole, then the one stream
    assert [o.action for o in summary.archives] == ["downloaded"]


@pytest.mark.parametrize("as_url", [False, True])
def test_a_local_mirror_is_extracted_in_place_without_a_copy(tmp_path, as_url):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "val2017.zip").write_bytes(ZIPS[False])
    base = mirror.as_uri() + "/" if as_url else str(mirror)
    root, summary = _download(tmp_path, "http://unused.invalid/", mirror=base)
    assert _images(root / "images" / "val2017") == IMAGES
    assert not list((root / "downloads").glob("*")) if (root / "downloads").exists() else True
    assert (mirror / "val2017.zip").read_bytes() == ZIPS[False]  # read, never moved
    assert (root / ".cocoprep" / "val2017.done").is_file()
    assert [o.kept for o in summary.archives] == [False]


def test_a_local_mirror_with_another_file_fails_the_md5_and_keeps_it(tmp_path):
    from cocoprep.errors import ChecksumError

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "val2017.zip").write_bytes(ZIPS[True])  # a valid zip, not the catalog's
    with pytest.raises(ChecksumError, match=r"expected MD5"):
        _download(tmp_path, "http://unused.invalid/", mirror=str(mirror))
    assert (mirror / "val2017.zip").read_bytes() == ZIPS[True]
    assert not (tmp_path / "coco" / ".cocoprep" / "val2017.done").exists()


def test_quiet_download_prints_nothing(server, tmp_path):
    catalog = _catalog(tmp_path, server.url, ZIPS[False])
    args = ["download", "val2017", "--root", str(tmp_path / "coco"), "--catalog", str(catalog)]
    quiet = CliRunner().invoke(main, [*args, "--quiet", "--connections", "2"])
    assert quiet.exit_code == 0 and quiet.output == ""
    assert _images(tmp_path / "coco" / "images" / "val2017") == IMAGES
    again = CliRunner().invoke(main, [*args, "--no-progress"])
    assert again.exit_code == 0 and "skipped" in again.output


# The CLI with ranges and reads cut small, so a slow test server still fills the part in steps.
SMALL_PIECES_CLI = """
import functools, sys
import cocoprep.remote.download as download
download.Tuning = functools.partial(
    download.Tuning, piece_min=32 << 10, piece_max=64 << 10, chunk=16 << 10
)
from cocoprep.cli import main
sys.argv[0] = "cocoprep"
main()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
def test_ctrl_c_on_a_slow_server_exits_130_keeps_the_part_and_resumes(server, tmp_path):
    server.rate, server.latency = 100_000, 0.04  # the archive would take seconds
    catalog = _catalog(tmp_path, server.url, ZIPS[False])
    root = tmp_path / "coco"
    part = root / "downloads" / "val2017.zip.part"
    command = [sys.executable, "-c", SMALL_PIECES_CLI, "download", "val2017", "--root", str(root)]
    command += ["--catalog", str(catalog), "--connections", "2", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 20
    while server.sent < 200_000 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=10)
    waited = time.monotonic() - sent
    assert process.returncode == 130, stderr
    assert waited < 1.5, waited  # the rest would take over two seconds at this rate
    assert "interrupted:" in stderr and "Traceback" not in stderr
    assert part.is_file() and part.with_name(part.name + ".state").is_file()
    server.rate, server.latency, server.log[:] = 0, 0, []
    root, summary = _download(tmp_path, server.url)
    assert _images(root / "images" / "val2017") == IMAGES
    assert [o.action for o in summary.archives] == ["resumed"]
    assert _fetched(server, "val2017.zip") < len(ZIPS[False]) - 50_000

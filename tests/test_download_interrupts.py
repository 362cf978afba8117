"""Ctrl-C, SIGTERM and overlapping runs of ``cocoprep download``: real processes against a slow
server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from httpfixtures import FaultServer, fake_jpeg, make_zip

IMAGES = {f"val2017/{i:012d}.jpg": fake_jpeg(i, 100_000) for i in range(30)}
ARCHIVE = make_zip(IMAGES)
ANNOTATIONS = make_zip({"annotations/instances_val2017.json": b'{"images": []}'})
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def slow_site(tmp_path):
    """A catalog of one image archive (3 MB) and one annotations archive on a server that
    sends 300 KB/s per connection."""
    with FaultServer() as server:
        server.serve("zips/val2017.zip", ARCHIVE)
        server.serve("annotations/ann.zip", ANNOTATIONS)
        server.rate = 300_000
        archives = [
            {"name": "val2017", "path": "zips/val2017.zip", "kind": "images", "split": "val2017"},
            {"name": "ann", "path": "annotations/ann.zip", "kind": "annotations", "default": True},
        ]
        for entry, data in zip(archives, (ARCHIVE, ANNOTATIONS), strict=True):
            entry |= {"md5": hashlib.md5(data).hexdigest(), "bytes": len(data)}
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(json.dumps({"base_url": server.url, "archives": archives}))
        yield server, catalog


def _start(catalog: Path, root: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "cocoprep", "download", "val2017"]
    command += ["--root", str(root), "--catalog", str(catalog), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while not path.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("ranges", "sig", "code"),
    [(True, signal.SIGINT, 130), (False, signal.SIGINT, 130), (False, signal.SIGTERM, 143)],
)
def test_a_signal_stops_the_download_within_a_second_and_the_rerun_resumes(
    slow_site, tmp_path, ranges, sig, code
):
    server, catalog = slow_site
    server.ranges = ranges
    root = tmp_path / "coco"
    part = root / "downloads" / "val2017.zip.part"
    process = _start(catalog, root)
    _wait_for(part, process)
    time.sleep(0.3)
    signalled = time.monotonic()
    process.send_signal(sig)
    _, err = process.communicate(timeout=10)
    assert time.monotonic() - signalled < 1.0
    assert process.returncode == code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"interrupted: kept {part} (")
    assert lines[0].endswith("re-run to resume")
    assert part.stat().st_size > 0
    assert not (root / ".cocoprep" / "val2017.done").exists()
    time.sleep(0.3)  # what the sockets' buffers held is sent by now
    settled = server.sent
    time.sleep(0.5)
    assert server.sent == settled  # the connections stopped
    server.rate, server.log = 0, []
    again = _start(catalog, root)
    assert again.wait(timeout=60) == 0, again.stderr.read()
    assert "resumed" in again.stderr.read()
    for name, data in IMAGES.items():
        assert (root / "images" / name).read_bytes() == data
    assert not part.exists()
    if not ranges:  # one stream: it asked for the rest only
        assert [e[2] for e in server.gets("zips/val2017.zip")][-1].startswith("bytes=")


def _second_waiting_for_first(catalog, root):
    """A download into ``root`` under way, and a second one started 1.5 s later (waiting)."""
    first = _start(catalog, root)
    _wait_for(root / "downloads" / "val2017.zip.part", first)
    second = _start(catalog, root)
    time.sleep(1.5)
    return first, second


def test_a_second_download_into_the_root_waits_for_the_first_then_skips(slow_site, tmp_path):
    server, catalog = slow_site
    root = tmp_path / "coco"
    first, second = _second_waiting_for_first(catalog, root)
    assert second.poll() is None  # waiting
    server.rate = 0
    assert first.wait(timeout=60) == 0, first.stderr.read()
    assert second.wait(timeout=60) == 0
    lines = second.stderr.read().splitlines()
    waiting = f"warning: {root}: pid {first.pid} is downloading val2017 into it; waiting for it"
    assert lines[0] == waiting + " to finish"
    assert "  val2017                            skipped (already extracted)" in lines
    for name, data in IMAGES.items():
        assert (root / "images" / name).read_bytes() == data


def test_a_signal_ends_a_download_waiting_for_another(slow_site, tmp_path):
    _, catalog = slow_site
    root = tmp_path / "coco"
    first, second = _second_waiting_for_first(catalog, root)
    signalled = time.monotonic()
    second.send_signal(signal.SIGINT)
    assert second.wait(timeout=10) == 130
    assert time.monotonic() - signalled < 1.0
    assert first.poll() is None  # the first goes on
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=10) == 130

"""Time to images on disk: ``cocoprep download`` against curl + unzip and aria2c + unzip.

A val2017-shaped stored zip (``--images`` random "JPEGs" of ~157 KiB, 1,250 by default: a
quarter of val2017; 5,000 is the real size) is generated once in /tmp (never committed) and
served from a separate process on 127.0.0.1 that behaves like a far-away bucket: every
connection capped at ``--rate`` MB/s, ``--latency`` ms before the first byte of each answer.

- ``throttled``: curl + unzip (what Ultralytics' coco.yaml does), aria2c -x8 -s8 + unzip, and
  ``cocoprep download`` with the default connections and with ``--connections 8``; each time
  from the start to every image extracted, and cocoprep's ratio to the network floor (the
  archive over 8 capped connections plus one first-byte latency).
- ``fast``: no cap, no latency: ``unzip`` of the archive on disk against ``cocoprep download``
  over loopback and from a local mirror (extracted in place).
- ``raw``: the older loopback throughput check, ``curl -o`` against ``fetch`` (MiB/s).

Tools that are not installed are skipped with a reason. Run::

    python benchmarks/bench_download.py [--scenario throttled fast] [--images 1250]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BLOCK = 256 << 10
IMAGE_BYTES = 157 << 10  # val2017: 788 MB over 5,000 images


class _PacedHandler(BaseHTTPRequestHandler):
    """Files under ``root``, with Range, each answer paced at ``rate`` after ``latency``."""

    protocol_version = "HTTP/1.1"
    root: Path
    rate: float = 0.0
    latency: float = 0.0

    def log_message(self, format, *args):
        pass

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        path = self.root / self.path.split("?")[0].lstrip("/")
        if not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        range_header = self.headers.get("Range")
        if range_header:
            first, _, last = range_header.removeprefix("bytes=").partition("-")
            start, end = int(first), min(size - 1, int(last) if last else size - 1)
        if self.latency:
            time.sleep(self.latency)
        self.send_response(206 if range_header else 200)
        self.send_header("Accept-Ranges", "bytes")
        if range_header:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if not head:
            self._send(path, start, end + 1)

    def _send(self, path: Path, start: int, end: int) -> None:
        self.wfile.flush()
        began = time.monotonic()
        with open(path, "rb") as file:
            for offset in range(start, end, BLOCK):
                if self.rate:
                    ahead = (offset - start) / self.rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
                try:
                    self.connection.sendfile(file, offset, min(BLOCK, end - offset))
                except OSError:  # the client hung up
                    return


def serve(root: Path, rate: float, latency: float) -> None:
    """Serve ``root`` on 127.0.0.1; print the port, run until killed."""
    _PacedHandler.root, _PacedHandler.rate, _PacedHandler.latency = root, rate, latency
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PacedHandler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


class Server:
    """The paced server in its own process (its CPU is not the client's GIL)."""

    def __init__(self, root: Path, rate_mb: float, latency_ms: float) -> None:
        command = [sys.executable, __file__, "--serve", str(root)]
        command += ["--rate", str(rate_mb), "--latency", str(latency_ms)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().strip()}/"

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait()


def make_archive(folder: Path, images: int) -> tuple[Path, str]:
    """``folder/zips/val2017.zip`` (reused when present) of ``images`` members; its MD5."""
    path = folder / "zips" / "val2017.zip"
    if not path.is_file() or len(zipfile.ZipFile(path).infolist()) != images:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path.with_suffix(".tmp"), "w", zipfile.ZIP_STORED) as zf:
            for i in range(images):
                size = IMAGE_BYTES + (i * 7919) % (IMAGE_BYTES // 2) - IMAGE_BYTES // 4
                zf.writestr(f"val2017/{i:012d}.jpg", b"\xff\xd8" + os.urandom(size))
        os.replace(path.with_suffix(".tmp"), path)
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return path, digest.hexdigest()


def _count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*.jpg") if not p.name.startswith("."))


def _timed(commands: list[list[str]], out: Path, images: int) -> float:
    """Run ``commands`` one after the other; seconds until ``out`` holds every image."""
    started = time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    found = _count(out)
    if found != images:
        sys.exit(f"{commands[0][0]}: expected {images} images on disk, found {found}")
    return seconds


def _cocoprep(base: str, archive: Path, md5: str, work: Path, extra: list[str]) -> list[str]:
    entry = {"name": "val2017", "path": "zips/val2017.zip", "md5": md5}
    entry |= {"bytes": archive.stat().st_size, "kind": "images", "split": "val2017"}
    catalog = work / "catalog.yaml"
    catalog.write_text(json.dumps({"base_url": base, "archives": [entry]}))
    command = [sys.executable, "-m", "cocoprep", "download", "val2017", "--no-annotations"]
    return [*command, "--root", str(work / "coco"), "--catalog", str(catalog), "-q", *extra]


def _fresh(work: Path) -> Path:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def _runs(base: str, archive: Path, md5: str, work: Path, images: int, rounds: int) -> dict:
    """Name → best seconds of each tool over ``rounds``, downloading from ``base``."""
    url, zipped = base + "zips/val2017.zip", work / "val2017.zip"
    tools = {
        "curl + unzip": (
            "curl",
            lambda: [
                ["curl", "-s", "-f", "-o", str(zipped), url],
                ["unzip", "-q", "-o", str(zipped), "-d", str(work / "out")],
            ],
        ),
        "aria2c -x8 -s8 + unzip": (
            "aria2c",
            lambda: [
                ["aria2c", "-q", "-x8", "-s8", "-d", str(work), "-o", zipped.name, url],
                ["unzip", "-q", "-o", str(zipped), "-d", str(work / "out")],
            ],
        ),
        "cocoprep download": (None, lambda: [_cocoprep(base, archive, md5, work, [])]),
        "cocoprep download --connections 8": (
            None,
            lambda: [_cocoprep(base, archive, md5, work, ["--connections", "8"])],
        ),
    }
    return _time_tools(tools, work, images, rounds)


def _time_tools(tools: dict, work: Path, images: int, rounds: int) -> dict[str, float | str]:
    results: dict[str, float | str] = {}
    for name, (needs, commands) in tools.items():
        missing = [tool for tool in (needs, "unzip" if "unzip" in name else None) if tool]
        missing = [tool for tool in missing if shutil.which(tool) is None]
        if missing:
            results[name] = f"skipped: {', '.join(missing)} not installed"
            continue
        times = []
        for _ in range(rounds):
            _fresh(work)
            times.append(_timed(commands(), work, images))
        results[name] = min(times)
        _fresh(work)
    return results


def _print(title: str, results: dict[str, float | str], reference: tuple[str, float]) -> None:
    label, floor = reference
    print(title)
    print(f"  {'':<38}{'seconds':>9}  {'x ' + label:>14}")
    for name, value in results.items():
        if isinstance(value, str):
            print(f"  {name:<38}{value}")
        else:
            print(f"  {name:<38}{value:9.2f}  {value / floor:14.2f}")


def throttled(folder: Path, args) -> None:
    """The far-away bucket: every tool, time to images on disk, ratio to the network floor."""
    archive, md5 = make_archive(folder, args.images)
    size = archive.stat().st_size
    floor = size / (8 * args.rate * 1e6) + args.latency / 1e3
    with Server(folder, args.rate, args.latency) as server:
        results = _runs(server.url, archive, md5, folder / "work", args.images, args.rounds)
    title = (
        f"throttled: {size / 2**20:.0f} MiB stored zip, {args.images} images; every connection "
        f"{args.rate:g} MB/s, {args.latency:g} ms to the first byte; network floor "
        f"(8 connections) {floor:.2f} s; best of {args.rounds}"
    )
    _print(title, results, ("floor", floor))
    ours = results["cocoprep download"]
    for peer in ("curl + unzip", "aria2c -x8 -s8 + unzip"):
        if isinstance(results.get(peer), float):
            print(f"  {peer} / cocoprep download: {results[peer] / ours:.2f}x")


def fast(folder: Path, args) -> None:
    """No cap: unzip of the archive on disk against cocoprep over loopback and in place."""
    archive, md5 = make_archive(folder, args.images)
    work = folder / "work"
    tools = {
        "unzip (archive on disk)": (
            None,
            lambda: [["unzip", "-q", "-o", str(archive), "-d", str(work / "out")]],
        ),
        "cocoprep download --mirror DIR": (
            None,
            lambda: [
                _cocoprep("http://unused.invalid/", archive, md5, work, ["--mirror", str(folder)])
            ],
        ),
    }
    with Server(folder, 0, 0) as server:
        tools["cocoprep download (loopback http)"] = (
            None,
            lambda: [_cocoprep(server.url, archive, md5, work, [])],
        )
        results = _time_tools(tools, work, args.images, args.rounds)
    unzip = results["unzip (archive on disk)"]
    title = (
        f"fast: {archive.stat().st_size / 2**20:.0f} MiB, no cap, no latency; best of {args.rounds}"
    )
    if isinstance(unzip, str):
        print(f"{title}\n  unzip {unzip}")
        return
    _print(title, results, ("unzip", unzip))


def raw(args) -> None:
    """``curl -o`` against cocoprep's ``fetch`` on a random file, MiB/s (the older check)."""
    from cocoprep.remote.fetch import fetch

    folder = Path(tempfile.gettempdir()) / "cocoprep-bench-raw"
    folder.mkdir(exist_ok=True)
    source = folder / "file.bin"
    if not source.is_file() or source.stat().st_size != args.mib << 20:
        with open(source, "wb") as file:
            for _ in range(args.mib):
                file.write(os.urandom(1 << 20))
    md5 = hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest()
    size, dest = source.stat().st_size, folder / "out.bin"
    results: dict[str, list[float]] = {"curl -o": [], "cocoprep fetch, 1 stream + MD5": []}
    with Server(folder, 0, 0) as server:
        for _ in range(args.rounds):
            started = time.perf_counter()
            command = ["curl", "-s", "-f", "-o", str(dest), server.url + "file.bin"]
            subprocess.run(command, check=True)
            results["curl -o"].append(time.perf_counter() - started)
            dest.unlink()
            started = time.perf_counter()
            fetch(server.url + "file.bin", dest, known_hash=md5, size=size, connections=1)
            results["cocoprep fetch, 1 stream + MD5"].append(time.perf_counter() - started)
            dest.unlink()
    print(f"raw: {args.mib} MiB over loopback, {args.rounds} rounds (MiB/s): best, median")
    for name, times in results.items():
        best, median = args.mib / min(times), args.mib / statistics.median(times)
        print(f"  {name:<38}{best:8.1f} {median:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", nargs="+", choices=["throttled", "fast", "raw"], default=["throttled", "fast"]
    )
    parser.add_argument("--images", type=int, default=1250, help="members (val2017: 5000)")
    parser.add_argument("--rate", type=float, default=20.0, help="MB/s per connection")
    parser.add_argument("--latency", type=float, default=40.0, help="ms to the first byte")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--mib", type=int, default=512, help="raw: file size")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.rate * 1e6, args.latency / 1e3)
        return
    folder = Path(tempfile.gettempdir()) / f"cocoprep-bench-download-{args.images}"
    for scenario in args.scenario:
        if scenario == "raw":
            raw(args)
        else:
            {"throttled": throttled, "fast": fast}[scenario](folder, args)


if __name__ == "__main__":
    main()

"""Time to images on disk: ``cocoprep download`` against curl + unzip and aria2c + unzip.

A generated zip of random "images" (stored, as COCO's are; kept in /tmp between runs, never
committed) is served from a separate process on 127.0.0.1 with Range support and ``sendfile``.

- **throttled**: every connection capped at ``--rate`` MB/s with ``--latency`` s before its first
  byte, as S3 seen from far away. Side by side in one run: ``curl -o`` + ``unzip`` (what
  Ultralytics' coco.yaml does), ``aria2c -x8 -s8 -k1M`` + ``unzip`` (``-k1M`` so a small archive
  is cut into eight ranges too), and ``cocoprep download`` with its default connections. Each
  time runs from the first request to the last image on disk; the network floor is the archive
  size over ``N x rate`` for N connections (and, measured, N curl processes fetching a range
  each into /dev/null), and the write floor the time one process takes to write the same
  members as plain files (bytes already in memory; timed before and after cocoprep, the mean
  kept, since file creation on this disk varies by the minute). The CPU floors add up the CPU
  time the job cannot avoid on this machine (the server and the receiving, measured with curl;
  MD5, CRC-32 and the files, measured from memory) and spread it over the cores: where it
  exceeds the network floor, the cores, not the network, bound any tool.

Nothing is deleted between the timed runs: each output is set aside (renamed) and all of them go
with the temporary folder at the end, because ext4 skips recently freed inodes and file creation
after a mass delete is several times slower for the next tool. The disk is synced after each
run, so that the next one does not share the cores with the writeback of the last.
- **fast**: no cap. ``cocoprep download`` over HTTP and from a local directory mirror (extracted
  in place) against ``unzip`` of the same archive already on disk.

cocoprep runs as the CLI in a subprocess (start-up included); its peak RSS is printed too, and
each tool's CPU seconds beside the server's meanwhile (both share this machine's cores).
A tool that is not installed is skipped with the reason. Run::

    python benchmarks/bench_download.py [--mib 96] [--images 600] [--rate 6] [--latency 0.04]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BLOCK = 64 << 10
ARIA2C = ["aria2c", "-x8", "-s8", "-k1M", "-q", "--file-allocation=none", "--allow-overwrite=true"]


class _ThrottledHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    path_on_disk: Path
    rate: float = 0.0  # bytes per second per connection; 0: no cap
    latency: float = 0.0

    def log_message(self, format, *args):
        pass

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        size = self.path_on_disk.stat().st_size
        start, end = 0, size - 1
        range_header = self.headers.get("Range")
        if range_header:
            first, _, last = range_header.removeprefix("bytes=").partition("-")
            start, end = int(first), min(size - 1, int(last)) if last else size - 1
        if self.latency and not head:
            time.sleep(self.latency)
        self.send_response(206 if range_header else 200)
        self.send_header("Accept-Ranges", "bytes")
        if range_header:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if head:
            return
        self.wfile.flush()
        with open(self.path_on_disk, "rb") as file:
            if not self.rate:
                self.connection.sendfile(file, start, end - start + 1)
                return
            began, sent, count = time.monotonic(), 0, end - start + 1
            while sent < count:
                ahead = sent / self.rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
                sent += self.connection.sendfile(file, start + sent, min(BLOCK, count - sent))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # 16 connections at once: the default 5 drops SYNs (1 s retries)

    def handle_error(self, request, client_address) -> None:
        """Clients closing a range early is normal here."""


def serve(path: Path, rate: float, latency: float) -> None:
    """Serve ``path`` at any URL on 127.0.0.1; print the port, run until killed."""
    _ThrottledHandler.path_on_disk, _ThrottledHandler.rate = path, rate
    _ThrottledHandler.latency = latency
    server = _QuietServer(("127.0.0.1", 0), _ThrottledHandler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def make_zip(path: Path, mib: int, images: int) -> str:
    """Create (or reuse) a stored zip of ``images`` random files, ``mib`` MiB; its MD5."""
    if not path.is_file():
        rng, each = random.Random(0), (mib << 20) // images
        temp = path.with_suffix(".tmp")
        with zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as zf:
            for i in range(images):
                zf.writestr(f"val2017/{i:012d}.jpg", rng.randbytes(each))
        os.replace(temp, path)
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


class _Server:
    """The serving subprocess, with a cap and latency."""

    def __init__(self, path: Path, rate: float, latency: float) -> None:
        command = [sys.executable, __file__, "--serve", str(path), f"--rate={rate}"]
        self.process = subprocess.Popen(
            [*command, f"--latency={latency}"], stdout=subprocess.PIPE, text=True
        )
        self.url = f"http://127.0.0.1:{self.process.stdout.readline().strip()}/"

    def cpu(self) -> float:
        """CPU seconds the server has used so far (Linux: from /proc)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


def _run(*commands: list[str], server: _Server | None = None) -> tuple[float, int, float, float]:
    """Run the commands one after the other: (seconds, peak RSS in KiB of the largest, CPU
    seconds of the commands, CPU seconds of the server meanwhile)."""
    started, peak, cpu = time.perf_counter(), 0, 0.0
    serving = server.cpu() if server else 0.0
    for command in commands:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            message = f"{command[0]} failed with exit code {process.returncode}"
            raise SystemExit(message)
        peak = max(peak, usage.ru_maxrss)
        cpu += usage.ru_utime + usage.ru_stime
    serving = server.cpu() - serving if server else 0.0
    return time.perf_counter() - started, peak, cpu, serving


def _cocoprep(work: Path, source: str, md5: str, size: int, extra: list[str]) -> list[str]:
    catalog = work / "catalog.yaml"
    entry = {"name": "val2017", "path": "val2017.zip", "md5": md5, "bytes": size}
    entry.update(kind="images", split="val2017")
    catalog.write_text(json.dumps({"base_url": source, "archives": [entry]}))
    root = work / "coco"
    command = [sys.executable, "-m", "cocoprep", "download", "val2017", "--no-annotations"]
    return [*command, "--catalog", str(catalog), "--root", str(root), "-q", *extra]


def _count(folder: Path, images: int) -> None:
    found = sum(1 for _ in folder.rglob("*.jpg"))
    if found != images:
        message = f"{folder}: expected {images} images, found {found}"
        raise SystemExit(message)


def _set_aside(path: Path, work: Path) -> None:
    """Move a tool's output out of the way without deleting it, and flush it to the disk (see
    the module docstring)."""
    aside = work / "aside"
    aside.mkdir(exist_ok=True)
    os.replace(path, aside / str(len(list(aside.iterdir()))))
    os.sync()


def write_floor(archive: Path, out: Path, work: Path) -> dict[str, float]:
    """What the job costs this machine without the network, in a child process (so this one's
    memory does not grow into the next tool's): seconds to write the archive's members as plain
    files from memory (``write``) and the archive as one file (``archive``), CPU seconds of its
    MD5 (``md5``) and of the members' CRC-32 (``crc``)."""
    command = [sys.executable, __file__, "--write-floor", str(archive), str(out)]
    found = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    _set_aside(out, work)
    return found


def _write_members(archive: Path, out: Path) -> dict[str, float]:
    with zipfile.ZipFile(archive) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    data = archive.read_bytes()
    started = time.perf_counter()
    for name, member in members:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(member)
    found = {"write": time.perf_counter() - started}
    started = time.perf_counter()
    with open(out / "archive", "wb") as file:
        for at in range(0, len(data), 1 << 18):  # as the bytes arrive
            file.write(data[at : at + (1 << 18)])
    found["archive"] = time.perf_counter() - started
    started = time.process_time()
    hashlib.md5(data, usedforsecurity=False).hexdigest()
    found["md5"] = time.process_time() - started
    started = time.process_time()
    for _, member in members:
        zlib.crc32(member)
    found["crc"] = time.process_time() - started
    return found


def _discarded(url: str, size: int, connections: int, server: _Server) -> tuple:
    """``connections`` curl processes at once, each fetching its share of ``url`` into
    /dev/null: the network floor as this machine and server reach it (``_run``'s tuple)."""
    piece = -(-size // connections)
    commands = [
        ["curl", "-s", "-f", "-o", os.devnull, "-r", f"{a}-{min(a + piece, size) - 1}", url]
        for a in range(0, size, piece)
    ]
    started, cpu = time.perf_counter(), 0.0
    serving = server.cpu()
    processes = [subprocess.Popen(command) for command in commands]
    for process in processes:
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status):
            message = f"curl failed with exit code {os.waitstatus_to_exitcode(status)}"
            raise SystemExit(message)
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, 0, cpu, server.cpu() - serving


def throttled(archive: Path, md5: str, args, work: Path) -> dict[str, tuple[float, int] | str]:
    """Each tool from a throttled server: name -> (seconds, peak RSS KiB) or why it was skipped."""
    rate = args.rate * 1e6
    server = _Server(archive, rate, args.latency)
    url, size, results = server.url + "val2017.zip", archive.stat().st_size, {}
    zipped, out = work / "val2017.zip", work / "out"
    tools = {
        "curl + unzip": (["curl", "unzip"], [["curl", "-s", "-f", "-o", str(zipped), url]]),
        "aria2c -x8 -s8 + unzip": (
            ["aria2c", "unzip"],
            [[*ARIA2C, "-d", str(work), "-o", zipped.name, url]],
        ),
    }
    try:
        for name, (needs, commands) in tools.items():
            missing = [tool for tool in needs if shutil.which(tool) is None]
            if missing:
                results[name] = f"skipped: {', '.join(missing)} not installed"
                continue
            unzip = ["unzip", "-q", "-o", str(zipped), "-d", str(out)]
            results[name] = _run(*commands, unzip, server=server)
            _count(out, args.images)
            _set_aside(out, work)
            _set_aside(zipped, work)
        command = _cocoprep(work, server.url, md5, size, args.cocoprep)
        first = write_floor(archive, out, work)
        results["cocoprep download"] = _run(command, server=server)
        _count(work / "coco" / "images" / "val2017", args.images)
        _set_aside(work / "coco", work)
        last = write_floor(archive, out, work)
        results["write floor"] = {key: (first[key] + last[key]) / 2 for key in first}
        for connections in (8, 16):
            name = f"network floor, {connections} curl ranges into /dev/null"
            if shutil.which("curl") is None:
                results[name] = "skipped: curl not installed"
            else:
                results[name] = _discarded(url, size, connections, server)
    finally:
        server.close()
    return results


def fast(archive: Path, md5: str, args, work: Path) -> dict[str, tuple[float, int] | str]:
    """No cap: cocoprep over HTTP and from a local mirror against unzip of the local archive."""
    server, size, results = _Server(archive, 0, 0), archive.stat().st_size, {}
    try:
        if shutil.which("unzip") is None:
            results["unzip (archive on disk)"] = "skipped: unzip not installed"
        else:
            results["unzip (archive on disk)"] = _run(
                ["unzip", "-q", str(archive), "-d", str(work / "out")]
            )
            _count(work / "out", args.images)
            _set_aside(work / "out", work)
        command = _cocoprep(work, server.url, md5, size, [])
        results["cocoprep download (HTTP)"] = _run(command, server=server)
        _count(work / "coco" / "images" / "val2017", args.images)
        _set_aside(work / "coco", work)
    finally:
        server.close()
    mirror = ["--mirror", str(archive.parent)]
    results["cocoprep download (local mirror)"] = _run(
        _cocoprep(work, "http://unused/", md5, size, mirror)
    )
    _count(work / "coco" / "images" / "val2017", args.images)
    _set_aside(work / "coco", work)
    return results


def _cpu_floors(results: dict, costs: dict[str, float]) -> dict[str, float]:
    """The wall time the CPU work alone takes on this machine's cores, with every core busy:
    the server and the receiving (16 curl ranges into /dev/null), the members' CRC-32 and files,
    the archive's MD5; and with the archive written to disk as well."""
    measured = results.get("network floor, 16 curl ranges into /dev/null")
    if not isinstance(measured, tuple):
        return {}
    cores = os.cpu_count() or 1
    _, _, receiving, serving = measured
    work = serving + receiving + costs["crc"] + costs["write"] + costs["md5"]
    return {
        f"CPU floor, {cores} cores: serve, receive, hash, write files": work / cores,
        f"CPU floor, {cores} cores: the same, and the archive written": (work + costs["archive"])
        / cores,
    }


def _print(title: str, results: dict, floors: dict[str, float]) -> None:
    print(title)
    best = None
    for name, outcome in results.items():
        if isinstance(outcome, str):
            print(f"  {name:<56} {outcome}")
            continue
        seconds, rss, cpu, serving = outcome
        best = seconds if name.startswith("cocoprep") and best is None else best
        memory = f", peak RSS {rss / 1024:.0f} MiB" if name.startswith("cocoprep") else ""
        served = f", server {serving:.1f} s" if serving else ""
        ratio = f"   cocoprep {best / seconds:.2f}x" if best and "floor" in name else ""
        print(f"  {name:<56} {seconds:7.2f} s   (CPU {cpu:.1f} s{served}{memory}){ratio}")
    for name, floor in floors.items():
        ratio = f"   cocoprep {best / floor:.2f}x" if best else ""
        print(f"  {name:<56} {floor:7.2f} s{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=96, help="archive size")
    parser.add_argument("--images", type=int, default=600, help="members in the archive")
    parser.add_argument("--rate", type=float, default=6.0, help="MB/s per connection (throttled)")
    parser.add_argument("--latency", type=float, default=0.04, help="s before the first byte")
    parser.add_argument(
        "--cocoprep", nargs=argparse.REMAINDER, default=[], help="extra download options (last)"
    )
    parser.add_argument("--skip", choices=["throttled", "fast"], help="leave one scenario out")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--write-floor", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_floor:
        print(json.dumps(_write_members(*args.write_floor)))
        return
    if args.serve:
        serve(args.serve, args.rate, args.latency)
        return
    archive = Path(tempfile.gettempdir()) / "cocoprep-bench-zip" / f"{args.mib}M-{args.images}.zip"
    archive.parent.mkdir(exist_ok=True)
    md5 = make_zip(archive, args.mib, args.images)
    archive.with_name("val2017.zip").unlink(missing_ok=True)
    os.link(archive, archive.with_name("val2017.zip"))  # the name the catalog gives it
    size = archive.stat().st_size
    mb = size / 1e6
    print(f"archive: {size / (1 << 20):.0f} MiB, {args.images} stored members")
    with tempfile.TemporaryDirectory(dir=archive.parent) as folder:
        if args.skip != "throttled":
            results = throttled(archive, md5, args, Path(folder))
            floors = {f"network floor, {n} connections": mb / (n * args.rate) for n in (8, 16)}
            costs = results.pop("write floor")
            floors["write floor (same files, no network)"] = costs["write"]
            floors["floor: slower of 16 connections and writing"] = max(
                mb / (16 * args.rate), costs["write"]
            )
            floors.update(_cpu_floors(results, costs))
            title = (
                f"throttled: {args.rate:g} MB/s per connection, "
                f"{args.latency * 1000:g} ms to the first byte"
            )
            _print(title, results, floors)
        if args.skip != "fast":
            _print("fast: no cap", fast(archive, md5, args, Path(folder)), {})


if __name__ == "__main__":
    main()

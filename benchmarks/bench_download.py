"""Loopback download throughput: ``curl -o`` against cocoprep's downloader (MD5 verified).

Serves a generated file (512 MiB by default, kept in /tmp between runs, never committed) from a
separate process on 127.0.0.1 using ``sendfile``, then alternates ``curl`` and
:func:`cocoprep.remote.fetch.fetch` a few times and prints the best throughput of each and the ratio
(target: cocoprep >= 70 % of curl while computing the MD5). Run::

    python benchmarks/bench_download.py [--mib 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _SendfileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    path_on_disk: Path

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
            start, end = int(first), int(last) if last else size - 1
        self.send_response(206 if range_header else 200)
        self.send_header("Accept-Ranges", "bytes")
        if range_header:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if head:
            return
        with open(self.path_on_disk, "rb") as file:
            self.wfile.flush()
            self.connection.sendfile(file, start, end - start + 1)


def serve(path: Path) -> None:
    """Serve ``path`` at any URL on 127.0.0.1; print the port, run until killed."""
    _SendfileHandler.path_on_disk = path
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SendfileHandler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


def make_file(path: Path, mib: int) -> str:
    """Create (or reuse) ``path`` with ``mib`` MiB of random bytes; return its MD5."""
    if not path.is_file() or path.stat().st_size != mib << 20:
        with open(path, "wb") as file:
            for _ in range(mib):
                file.write(os.urandom(1 << 20))
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def time_curl(url: str, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(dest), url], check=True)
    return time.perf_counter() - started


def time_cocoprep(url: str, dest: Path, md5: str, size: int, connections: int) -> float:
    from cocoprep.remote.fetch import fetch

    started = time.perf_counter()
    fetch(url, dest, known_hash=md5, size=size, connections=connections)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4, help="also time N ranges")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if shutil.which("curl") is None:
        sys.exit("curl not found: install it to run this benchmark")
    source = Path(tempfile.gettempdir()) / f"cocoprep-bench-{args.mib}M.bin"
    md5 = make_file(source, args.mib)
    size = source.stat().st_size
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(source)], stdout=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/file.bin"
        results: dict[str, list[float]] = {"curl": [], "cocoprep": [], "cocoprep-ranges": []}
        with tempfile.TemporaryDirectory(dir=source.parent) as folder:
            dest = Path(folder) / "out.bin"
            for _ in range(args.rounds):
                results["curl"].append(time_curl(url, dest))
                dest.unlink()
                results["cocoprep"].append(time_cocoprep(url, dest, md5, size, 1))
                dest.unlink()
                if args.connections > 1:
                    seconds = time_cocoprep(url, dest, md5, size, args.connections)
                    results["cocoprep-ranges"].append(seconds)
                    dest.unlink()
    finally:
        server.terminate()
        server.wait()
    mib = size / (1 << 20)
    best = {name: mib / min(times) for name, times in results.items() if times}
    median = {name: mib / statistics.median(times) for name, times in results.items() if times}
    labels = {
        "curl": "curl -o",
        "cocoprep": "cocoprep fetch, 1 stream + MD5",
        "cocoprep-ranges": f"cocoprep fetch, {args.connections} ranges + MD5",
    }
    print(f"{args.mib} MiB over loopback, {args.rounds} rounds (MiB/s):     best   median")
    for name in best:
        print(f"  {labels[name]:<40}{best[name]:8.1f} {median[name]:8.1f}")
    print(
        f"ratio cocoprep/curl (1 stream): best {best['cocoprep'] / best['curl']:.0%}, "
        f"median {median['cocoprep'] / median['curl']:.0%} (target >= 70 %)"
    )


if __name__ == "__main__":
    main()

"""A real HTTP server on 127.0.0.1 with injectable faults, and small zip builders, for tests.

``FaultServer`` serves in-memory files with Range support. ``server.fail(path, *faults)``
queues one fault per coming GET of ``path``:

- ``"cut"``: full headers, half the body, then the connection is closed;
- ``"norange"``: the Range header is ignored (200 with the whole body);
- ``"corrupt"``: the body has flipped bytes;
- ``"503"`` / ``"500"`` / ``"403"``: that status;
- ``"stall"``: headers, then nothing for ``stall_seconds``;
- ``"ok"``: no fault (to let earlier requests through before a fault).

``server.ranges = False`` turns Range support off for good. ``server.rate`` caps every
connection at that many bytes per second and ``server.latency`` waits that long before the
first byte of each answer, as a far-away bucket does. ``server.log`` records ``(method, path,
range_header, status)`` of every request and ``server.sent`` the body bytes sent so far.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_zip(members: dict[str, bytes], *, compress: bool = False, zip64: bool = False) -> bytes:
    """A zip archive (as bytes) holding ``members`` (name -> content).

    ``zip64`` writes zip64 local headers and end records, as archives over 4 GiB or 65,535
    members have.
    """
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    limit = zipfile.ZIP_FILECOUNT_LIMIT
    if zip64:
        zipfile.ZIP_FILECOUNT_LIMIT = 0  # the writer's own rule for zip64 end records
    try:
        with zipfile.ZipFile(buffer, "w", method) as zf:
            for name, data in members.items():
                info = zipfile.ZipInfo(name)
                info.compress_type = method
                with zf.open(info, "w", force_zip64=zip64) as sink:
                    sink.write(data)
    finally:
        zipfile.ZIP_FILECOUNT_LIMIT = limit
    return buffer.getvalue()


def fake_jpeg(seed: int, size: int = 3000) -> bytes:
    """Deterministic bytes standing in for a JPEG."""
    block = bytes((seed * 31 + i) % 251 for i in range(251))
    return (b"\xff\xd8" + block * (size // 251 + 1))[:size]


class _Handler(BaseHTTPRequestHandler):
    server: FaultServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        server = self.server
        path = self.path.split("?")[0]
        range_header = self.headers.get("Range")
        fault = None if head else server.next_fault(path)
        data = server.files.get(path)
        status = 404 if data is None else 200
        if fault in ("503", "500", "403"):
            status = int(fault)
        server.record(self.command, path, range_header, status)
        if status != 200:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, end = 0, len(data) - 1
        partial = False
        if range_header and server.ranges and fault != "norange":
            first, _, last = range_header.removeprefix("bytes=").partition("-")
            start = int(first)
            end = int(last) if last else len(data) - 1
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            partial = True
        body = data[start : end + 1]
        if fault == "corrupt":
            middle = len(body) // 2
            body = (
                body[:middle]
                + bytes(b ^ 0xFF for b in body[middle : middle + 64])
                + body[middle + 64 :]
            )
        if server.latency:
            time.sleep(server.latency)
        self.send_response(206 if partial else 200)
        if server.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if fault == "stall":
            time.sleep(server.stall_seconds)
            return
        if fault == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(body)

    def _send(self, body: bytes) -> None:
        server, started, block = self.server, time.monotonic(), 16 << 10
        for offset in range(0, len(body), block):
            if server.rate:
                ahead = offset / server.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            piece = body[offset : offset + block]
            try:
                self.wfile.write(piece)
            except OSError:  # the client hung up (a stopped or cut range)
                self.close_connection = True
                return
            with server._lock:
                server.sent += len(piece)


class FaultServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 (free port) serving ``files`` with faults."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.ranges = True
        self.stall_seconds = 2.0
        self.rate: float = 0.0
        self.latency: float = 0.0
        self.sent = 0
        self.log: list[tuple[str, str, str | None, int]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def handle_error(self, request, client_address) -> None:
        """Stay quiet: clients cutting connections is what these tests do."""

    @property
    def url(self) -> str:
        """Base URL with a trailing slash."""
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def fail(self, path: str, *faults: str) -> None:
        """Queue ``faults`` for the next GETs of ``path`` (leading slash added)."""
        self.faults["/" + path.lstrip("/")].extend(faults)

    def next_fault(self, path: str) -> str | None:
        with self._lock:
            queue = self.faults.get(path)
            fault = queue.popleft() if queue else None
            return None if fault == "ok" else fault

    def record(self, method: str, path: str, range_header: str | None, status: int) -> None:
        with self._lock:
            self.log.append((method, path, range_header, status))

    def gets(self, path: str) -> list[tuple[str, str, str | None, int]]:
        """The logged GET requests of ``path``."""
        path = "/" + path.lstrip("/")
        return [entry for entry in self.log if entry[0] == "GET" and entry[1] == path]

    def serve(self, path: str, data: bytes) -> None:
        """Serve ``data`` at ``path``."""
        self.files["/" + path.lstrip("/")] = data

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

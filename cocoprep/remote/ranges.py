"""Parallel ranged downloads: fixed-size pieces claimed in file order, hashed as they land.

Each connection claims the lowest free piece and writes it at its offset in the ``.part``
file; a follower thread hashes the done prefix meanwhile, so the MD5 is ready with the last
byte. The done set is saved beside the part (``<part>.ranges``) after every piece, so a killed
run loses only the pieces in flight.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from cocoprep.remote.hashes import new_hasher
from cocoprep.remote.http import (
    CHUNK_SIZE,
    OnBytes,
    RetryPolicy,
    _check_status,
    _content_range_start,
    _NoRanges,
    _Retryable,
    _session,
    _transient_errors,
)

logger = logging.getLogger("cocoprep")

# Parallel downloads go by pieces of this size (one Range request each); files smaller than
# two pieces are fetched as one stream.
PIECE_BYTES = 32 << 20


class _Pieces:
    """Fixed-size pieces of a parallel download: claimed in file order, done ones saved.

    Workers claim the lowest free piece, so the finished prefix of the file grows steadily and a
    hashing thread can follow it: the hash is computed during the transfer, not after it. The
    done set is saved beside the part after every piece; a killed run loses only the pieces in
    flight.
    """

    def __init__(self, path: Path, size: int, piece: int, done: set[int]):
        self.path, self.size, self.piece = path, size, piece
        self.count = -(-size // piece)
        self.done = done
        self.cond = threading.Condition()
        self.claimed = set(done)
        self.frontier = 0
        self._advance()

    @classmethod
    def load_or_create(cls, path: Path, part: Path, size: int, piece: int) -> _Pieces:
        """The saved state when it matches ``part`` and ``size``, else a fresh sparse part."""

        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["size"] == size and part.stat().st_size == size:
                return cls(path, size, data["piece"], set(data["done"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        with open(part, "wb") as sink:
            sink.truncate(size)
        pieces = cls(path, size, piece, set())
        pieces.save()
        return pieces

    @staticmethod
    def saved_size(path: Path) -> int | None:
        """The file size recorded in a saved state, ``None`` without a readable one."""

        try:
            return int(json.loads(path.read_text(encoding="utf-8"))["size"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def bounds(self, index: int) -> tuple[int, int]:
        """``(start, end_exclusive)`` of piece ``index``."""
        return index * self.piece, min(self.size, (index + 1) * self.piece)

    @property
    def done_bytes(self) -> int:
        return sum(end - start for start, end in map(self.bounds, self.done))

    def _advance(self) -> None:
        while self.frontier in self.done:
            self.frontier += 1

    def claim(self) -> int | None:
        """The lowest piece nobody works on, or ``None``."""
        with self.cond:
            for index in range(self.frontier, self.count):
                if index not in self.claimed:
                    self.claimed.add(index)
                    return index
            return None

    def finish(self, index: int) -> None:
        """Record piece ``index`` as written (and flushed) and wake the hasher."""
        with self.cond:
            self.done.add(index)
            self._advance()
            self.save()
            self.cond.notify_all()

    def wait_beyond(self, hashed: int, stop: threading.Event) -> int:
        """Block until the done prefix passes piece ``hashed`` (or ``stop``); the frontier."""
        with self.cond:
            while self.frontier <= hashed and not stop.is_set():
                self.cond.wait(0.2)
            return self.frontier

    def save(self) -> None:

        temp = self.path.with_name(self.path.name + ".tmp")
        state = {"size": self.size, "piece": self.piece, "done": sorted(self.done)}
        temp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(temp, self.path)


def _fetch_piece(url, sink, start: int, end: int, policy, on_bytes, stop) -> bool:
    """Write bytes ``[start, end)`` of ``url`` at their offset in ``sink``, with retries.

    Returns ``False`` when ``stop`` was set meanwhile (another worker failed).
    """
    position, failures, attempts = start, 0, 0
    while position < end:
        headers = {"Range": f"bytes={position}-{end - 1}"}
        attempts += 1
        before = position
        try:
            with _session().get(url, headers=headers, stream=True, timeout=policy.timeout) as r:
                _check_status(r, url)
                if r.status_code != 206 or _content_range_start(r) != position:
                    raise _NoRanges
                sink.seek(position)
                for chunk in r.raw.stream(CHUNK_SIZE, decode_content=False):
                    if stop.is_set():
                        return False
                    chunk = chunk[: end - position]
                    sink.write(chunk)
                    position += len(chunk)
                    on_bytes(len(chunk))
                if position < end:
                    message = f"connection closed at byte {position} of range end {end}"
                    raise _Retryable(message)
        except _transient_errors() as error:
            failures = 1 if position > before else failures + 1
            policy.wait_or_give_up(error, failures, attempts, url, f" (bytes {start}-{end})")
    return True


def _piece_worker(url, part: Path, pieces: _Pieces, policy, on_bytes, stop) -> None:
    with open(part, "r+b") as sink:
        while not stop.is_set() and (index := pieces.claim()) is not None:
            if not _fetch_piece(url, sink, *pieces.bounds(index), policy, on_bytes, stop):
                return
            sink.flush()  # visible to the hashing thread before it is marked done
            pieces.finish(index)


def _follow_and_hash(part: Path, pieces: _Pieces, hasher, stop: threading.Event) -> None:
    """Hash ``part`` in order as the done prefix grows."""
    hashed = 0
    with open(part, "rb") as source:
        while hashed < pieces.count and not stop.is_set():
            frontier = pieces.wait_beyond(hashed, stop)
            start, end = pieces.bounds(hashed)[0], pieces.bounds(frontier - 1)[1]
            source.seek(start)
            update = hasher.update
            while start < end and (chunk := source.read(min(CHUNK_SIZE, end - start))):
                update(chunk)
                start += len(chunk)
            hashed = frontier


def _ranges(
    url: str,
    part: Path,
    size: int,
    connections: int,
    alg: str,
    policy: RetryPolicy,
    on_bytes: OnBytes,
):
    """Fill ``part`` (``size`` bytes) with ``connections`` parallel Range requests.

    Returns a hasher over the whole part, fed while the pieces arrive, and the bytes a previous
    run had already finished.
    """
    state_path = part.with_name(part.name + ".ranges")
    pieces = _Pieces.load_or_create(state_path, part, size, PIECE_BYTES)
    resumed = pieces.done_bytes
    on_bytes(resumed)
    hasher = new_hasher(alg)
    stop = threading.Event()
    workers = max(1, min(connections, pieces.count))
    with ThreadPoolExecutor(max_workers=workers + 1, thread_name_prefix="cocoprep-range") as pool:
        follower = pool.submit(_follow_and_hash, part, pieces, hasher, stop)
        futures = [
            pool.submit(_piece_worker, url, part, pieces, policy, on_bytes, stop)
            for _ in range(workers)
        ]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            stop.set()
            raise
        follower.result()
    state_path.unlink(missing_ok=True)
    return hasher, resumed

"""Extract a zip while it downloads: each member is written as soon as its bytes have arrived.

The archive's last bytes are fetched first; then connections of the shared
:class:`~cocoprep.remote.connections.ConnectionPool` fill ``<archive>.part`` from the lowest
missing byte on, while a thread reads the zip's directory (for train2017's 118K members, a few
seconds of fetching and parsing that the network need not wait for). When every byte of a
member's span is on disk an extractor thread writes the member (temporary name, CRC-32
checked, rename); a CRC mismatch sends the span back to be fetched again. A hashing thread
follows the verified prefix, so the archive's MD5 is known with the last byte, and the
completion marker is written only after it matches.

From a local mirror nothing is fetched or copied: the source file is read in place, members are
written from it and it is hashed while read.

The state (bytes on disk, members written) is saved beside the part every second and when the
run stops, so a killed or interrupted run resumes both: no byte fetched twice but the few in
flight, no member written twice.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cocoprep.errors import ChecksumError, DownloadError
from cocoprep.fileio import write_atomic
from cocoprep.remote import zipindex
from cocoprep.remote.connections import Claim, ConnectionPool, Tuning, split_longest
from cocoprep.remote.hashes import new_hasher
from cocoprep.remote.http import _NoRanges
from cocoprep.remote.intervals import Intervals
from cocoprep.remote.zipindex import Index, MemberWriter, read_index

logger = logging.getLogger("cocoprep")

PENDING, QUEUED, DONE = 0, 1, 2
EXTRACTORS = 2
MAX_REFETCHES = 3
_HASH_CHUNK = 4 << 20


class _Stopped(Exception):
    """The pool was stopped (an interrupt) before the archive was complete."""


@dataclass(frozen=True)
class StreamResult:
    """One streamed archive: members written and skipped, bytes fetched, the digest found."""

    digest: str
    members: int
    written: int
    skipped: int
    transferred: int
    resumed: int


_DONE_RUN = re.compile(bytes([DONE]) + b"+")


def _done_runs(status: bytearray) -> list[tuple[int, int]]:
    """The runs of spans done, as ``(first, after last)`` pairs; a C-speed scan, since the
    state of train2017's 118K spans is saved every second.

    >>> _done_runs(bytearray([DONE, DONE, DONE, PENDING, QUEUED, DONE]))
    [(0, 3), (5, 6)]
    """
    return [match.span() for match in _DONE_RUN.finditer(status)]


class _Job:
    """One archive being filled, extracted and hashed; a ``RangeSource`` of the pool."""

    def __init__(
        self,
        url: str,
        fd: int,
        size: int,
        *,
        alg: str,
        state: Path,
        identity: str,
        tuning: Tuning,
        on_bytes: Callable[[int], None],
        archive: str,
    ) -> None:
        self.url, self.fd, self.size, self.archive = url, fd, size, archive
        self.index: Index | None = None  # until the directory is read (see indexed)
        self.state_path, self.identity = state, identity
        self.tuning, self.on_bytes = tuning, on_bytes
        self.lock = threading.Condition()
        self.received = Intervals()
        self.todo = Intervals()
        self.claims: set[Claim] = set()  # in flight
        self.status = bytearray()
        self.saved_done: list[tuple[int, int]] = []  # kept until the index tells the spans
        self.refetches: dict[int, int] = {}
        self.frontier = 0  # spans [0, frontier) are verified
        self.error: BaseException | None = None
        self.stopped = False
        self.written = self.skipped = self.transferred = 0
        self.queue: queue.Queue[int | None] = queue.Queue()
        self.writer = MemberWriter(fd)
        self.hasher = new_hasher(alg)
        self.hashed = 0
        self.pool: ConnectionPool | None = None

    # ------------------------------------------------------------------ state

    def load(self, have: Intervals | None) -> int:
        """Start from the saved state (or ``have``, bytes known present); returns bytes kept."""
        saved = self._read_state()
        if saved is not None:
            self.received = Intervals(tuple(pair) for pair in saved["received"])
            self.saved_done = [(int(start), int(end)) for start, end in saved["done"]]
        elif have is not None:
            self.received = have
        self.todo = self.received.complement(self.size)
        return self.received.total

    def indexed(self, index: Index) -> None:
        """The directory is read: mark the spans an earlier run finished, queue those on disk."""
        status = bytearray(len(index.spans))
        for start, end in self.saved_done:
            end = min(end, len(status))
            status[start:end] = bytes([DONE]) * max(0, end - start)
        with self.lock:
            for i, span in enumerate(index.spans):
                if status[i] == DONE and not self.received.covers(span.start, span.end):
                    status[i] = PENDING
            self.index, self.status = index, status
            self._advance()
            self.lock.notify_all()
        self.queue_ready()

    def read_index(self, fetch_range: Callable, *, dest: Path, tail_start: int, tail: bytes):
        """Read the directory (fetching what the tail lacks), keep its bytes, then
        :meth:`indexed`; run beside the connections, which need no index to fetch."""
        index, start, tail = read_index(
            self.size, fetch_range, dest=dest, archive=self.archive, tail=tail
        )
        self.keep(start, tail[: tail_start - start])
        self.indexed(index)

    def keep(self, start: int, data: bytes) -> None:
        """Bytes fetched outside the pool (the archive's end): into the part, and neither to
        fetch again nor to count as transferred."""
        if data:
            os.pwrite(self.fd, data, start)
            with self.lock:
                self.todo.remove(start, start + len(data))
                self.received.add(start, start + len(data))

    def _read_state(self) -> dict | None:
        try:
            saved = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("identity") != self.identity:
            return None
        return saved

    def save(self) -> None:
        """Write the state atomically (bytes on disk, spans done)."""
        with self.lock:
            state = {
                "identity": self.identity,
                "received": self.received.pairs(),
                "done": _done_runs(self.status) if self.index is not None else self.saved_done,
            }
        write_atomic(self.state_path, json.dumps(state).encode())

    # ------------------------------------------------------------------ RangeSource

    def claim(self, connections: int, wait_bytes: int | None) -> Claim | None:
        with self.lock:
            if self.stopped or self.error is not None:
                return None
            if not self.todo:
                claim = split_longest(self.claims, self.tuning.shortest_split(wait_bytes))
            else:
                start, end = self.todo.first()
                shortest = self.tuning.shortest_piece(wait_bytes)
                size = self.todo.total // (2 * max(1, connections))
                size = min(self.tuning.piece_max, max(shortest, size))
                claim = Claim(start, end if end - start - size < shortest else start + size)
                self.todo.remove(claim.start, claim.end)
            if claim is not None:
                self.claims.add(claim)
            return claim

    def write(self, claim: Claim, data: bytes) -> int:
        with self.lock:
            start, taken = claim.take(len(data))
        if taken:
            os.pwrite(self.fd, data if taken == len(data) else memoryview(data)[:taken], start)
            self.on_bytes(taken)
            self.arrived(start, start + taken, fetched=True)
        return taken

    def release(self, claim: Claim) -> None:
        with self.lock:
            self.claims.discard(claim)
            if claim.left > 0:
                self.todo.add(claim.position, claim.end)
        if self.pool is not None:
            self.pool.wake()

    def fail(self, error: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = error
            self.lock.notify_all()

    # ------------------------------------------------------------------ spans

    def arrived(self, start: int, end: int, *, fetched: bool = False) -> None:
        """Bytes ``[start, end)`` are on disk: queue the spans they complete."""
        with self.lock:
            self.transferred += (end - start) if fetched else 0
            self.received.add(start, end)
            if self.index is None:
                return  # indexed() queues what arrived before
            for i in self.index.overlapping(start, end):
                span = self.index.spans[i]
                if self.status[i] != PENDING or not self.received.covers(span.start, span.end):
                    continue
                if span.member is None or self.index.targets[span.member] is None:
                    self.status[i] = DONE
                else:
                    self.status[i] = QUEUED
                    self.queue.put(i)
            self._advance()

    def queue_ready(self) -> None:
        """Queue the spans already on disk but not done (a resumed run, a local file)."""
        for start, end in self.received.pairs():
            self.arrived(start, end)

    def _advance(self) -> None:
        if self.index is None:
            return
        spans, status, before = self.index.spans, self.status, self.frontier
        while self.frontier < len(spans) and status[self.frontier] == DONE:
            self.frontier += 1
        if self.frontier != before:
            self.lock.notify_all()

    def _extract(self) -> None:
        while (i := self.queue.get()) is not None and not self.stopped:
            member = self.index.spans[i].member
            info, target = self.index.infos[member], self.index.targets[member]
            try:
                outcome = self.writer.write(info, target)
            except BaseException as error:
                self.fail(error)
                return
            with self.lock:
                if outcome != "damaged":
                    self.status[i] = DONE
                    self.written += outcome == "written"
                    self.skipped += outcome == "kept"
                    self._advance()
                    continue
                self._refetch(i, info.filename)
            if self.pool is not None:
                self.pool.wake()

    def _refetch(self, i: int, name: str) -> None:
        span = self.index.spans[i]
        self.refetches[i] = self.refetches.get(i, 0) + 1
        if self.pool is None or self.refetches[i] > MAX_REFETCHES:
            message = (
                f"{self.archive}: member {name!r}: expected its CRC-32, found other bytes "
                f"{self.refetches[i]} times; the server or mirror serves a damaged file"
            )
            self.error = self.error or ChecksumError(message, path=self.archive)
            self.lock.notify_all()
            return
        logger.warning("%s: member %r failed its CRC-32, fetching it again", self.archive, name)
        self.status[i] = PENDING
        self.received.remove(span.start, span.end)
        self.todo.add(span.start, span.end)
        self.on_bytes(-(span.end - span.start))

    def _hash(self, report: bool) -> None:
        self._guarded(self._hash_prefix, report)

    def _guarded(self, work: Callable, *args) -> None:
        try:
            work(*args)
        except BaseException as error:  # reported, so the waiting run never hangs on it
            self.fail(error)

    def _hash_prefix(self, report: bool) -> None:
        with self.lock:
            while self.index is None and self.error is None and not self.stopped:
                self.lock.wait(0.2)
            if self.index is None:
                return
        spans = self.index.spans
        while True:
            with self.lock:
                while (
                    self.frontier < len(spans)
                    and self.hashed >= spans[self.frontier].start
                    and self.error is None
                    and not self.stopped
                ):
                    self.lock.wait(0.2)
                if self.error is not None or self.stopped:
                    return
                end = self.index.size if self.frontier == len(spans) else spans[self.frontier].start
            while self.hashed < end:
                chunk = os.pread(self.fd, min(_HASH_CHUNK, end - self.hashed), self.hashed)
                if not chunk:
                    self.fail(DownloadError(f"{self.archive}: the file ended early"))
                    return
                self.hasher.update(chunk)
                self.hashed += len(chunk)
                if report:
                    self.on_bytes(len(chunk))
            if self.hashed == self.index.size:
                with self.lock:
                    self.lock.notify_all()
                return

    # ------------------------------------------------------------------ running

    def run(
        self,
        pool: ConnectionPool | None,
        stop: threading.Event,
        index_reader: Callable[[], None] | None = None,
    ) -> str:
        """Fill (with ``pool``; ``None`` when all bytes are present), extract, hash; the digest.
        ``index_reader`` (run in a thread of its own) ends with :meth:`indexed`, unless the
        index is set already."""
        self.pool = pool
        threads = [
            threading.Thread(target=self._extract, daemon=True, name="cocoprep-extract")
            for _ in range(EXTRACTORS)
        ]
        if index_reader is not None:
            threads.append(
                threading.Thread(
                    target=self._guarded, args=(index_reader,), daemon=True, name="cocoprep-index"
                )
            )
        threads.append(
            threading.Thread(
                target=self._hash, args=(pool is None,), daemon=True, name="cocoprep-hash"
            )
        )
        for thread in threads:
            thread.start()
        self.queue_ready()
        if pool is not None:
            pool.add(self)
        saved = time.monotonic()
        try:
            with self.lock:
                while self.hashed < self.size and self.error is None:
                    if stop.is_set():
                        raise _Stopped
                    self.lock.wait(0.1)
                    if pool is not None and time.monotonic() - saved > self.tuning.save_seconds:
                        self.lock.release()
                        try:
                            self.save()
                        finally:
                            self.lock.acquire()
                        saved = time.monotonic()
                if self.error is not None:
                    raise self.error
            return self.hasher.hexdigest()
        finally:
            with self.lock:
                self.stopped = True
                self.lock.notify_all()
            if pool is not None:
                pool.remove(self)
            for _ in range(EXTRACTORS):
                self.queue.put(None)
            deadline = time.monotonic() + 0.5
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))


def _open(
    url: str, part: Path, size: int | None, policy, stop
) -> tuple[int, int, Callable[[int, int], bytes], bytes]:
    """The file the bytes live in (the local source, or the part), its size, how to read a
    range, and the archive's last bytes already fetched (none for a local source)."""
    from cocoprep.remote.http import _local_path, get_range

    source = _local_path(url)
    if source is not None:
        try:
            fd = os.open(source, os.O_RDONLY)
        except OSError as error:
            message = (
                f"{source}: expected the file in the local mirror, found "
                f"{error.strerror or error}; check {{mirror}}"
            )
            raise DownloadError(message, path=source, params=["mirror"]) from error
        return fd, os.fstat(fd).st_size, lambda start, end: os.pread(fd, end - start, start), b""
    if size is None:
        raise _NoRanges
    tail_start = max(0, size - zipindex.TAIL_BYTES)
    tail = get_range(url, tail_start, size, policy, stop)  # _NoRanges: the caller streams instead
    part.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    return fd, size, lambda start, end: get_range(url, start, end, policy, stop), tail


def stream_archive(
    url: str,
    part: Path,
    *,
    dest: Path,
    alg: str,
    digest: str,
    size: int | None,
    pool: ConnectionPool,
    stop: threading.Event,
    on_bytes: Callable[[int], None],
) -> StreamResult:
    """Download ``url`` (or read a local one) and extract it into ``dest`` as bytes arrive.

    ``part`` holds the bytes (unless the source is local) and ``<part>.state`` the progress.
    Raises ``_NoRanges`` when the server cannot serve byte ranges: before touching anything, or
    when it stops honouring them mid-way (the part is then deleted; the members written stay).
    The caller then fetches the archive in one stream and extracts it afterwards. Raises
    :class:`ChecksumError` when the archive's hash differs twice.
    """
    state = part.with_name(part.name + ".state")
    archive = part.name.removesuffix(".part")
    for attempt in (1, 2):
        fd, size, fetch_range, tail = _open(url, part, size, pool.policy, stop)
        local = not str(url).startswith(("http://", "https://"))
        try:
            result = _stream_once(
                url,
                fd,
                size,
                fetch_range,
                tail,
                local,
                dest=dest,
                alg=alg,
                state=state,
                identity=f"{alg}:{digest}:{size}",
                pool=pool,
                stop=stop,
                on_bytes=on_bytes,
                archive=archive,
            )
        except _NoRanges:
            logger.warning(
                "%s: the server stopped answering byte ranges; downloading it in one stream "
                "(the members already written are kept)",
                url,
            )
            part.unlink(missing_ok=True)
            state.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        if result.digest == digest:
            return result
        on_bytes(-(result.transferred + result.resumed))
        state.unlink(missing_ok=True)
        message = f"{url}: expected {alg.upper()} {digest}, found {result.digest}"
        if local or attempt == 2:
            part.unlink(missing_ok=True)
            message += (
                "; the mirror's file is another archive (left as it is)"
                if local
                else "; deleted it after two tries — the server or mirror serves a different file"
            ) + ": check {mirror} / {catalog}"
            raise ChecksumError(message, params=["mirror", "catalog"])
        logger.warning(
            "%s; fetching it once more, rewriting the members whose CRC differs", message
        )
        part.unlink(missing_ok=True)
    raise AssertionError  # unreachable: the loop returns or raises


def _stream_once(
    url,
    fd,
    size,
    fetch_range,
    tail,
    local,
    *,
    dest,
    alg,
    state,
    identity,
    pool,
    stop,
    on_bytes,
    archive,
) -> StreamResult:
    job = _Job(
        url,
        fd,
        size,
        alg=alg,
        state=state,
        identity=identity,
        tuning=pool.tuning,
        on_bytes=on_bytes,
        archive=archive,
    )
    index_reader = None
    if local:
        index = read_index(size, fetch_range, dest=dest, archive=archive)[0]
        resumed = job.load(Intervals([(0, size)]))
        job.indexed(index)
    else:
        if os.fstat(fd).st_size != size:
            # Never through size 0: ext4 would then write the whole part out when it is closed.
            os.ftruncate(fd, size)
        resumed = job.load(None)
        tail_start = size - len(tail)
        job.keep(tail_start, tail)
        on_bytes(resumed)
        index_reader = partial(
            job.read_index, fetch_range, dest=dest, tail_start=tail_start, tail=tail
        )
    try:
        found = job.run(None if local else pool, stop, index_reader)
    except _NoRanges:
        on_bytes(-(job.transferred + resumed))  # the one stream counts them again
        raise
    finally:
        if job.hashed < size:
            job.save()
    state.unlink(missing_ok=True)
    files = job.index.files
    return StreamResult(found, files, job.written, job.skipped, job.transferred, resumed)

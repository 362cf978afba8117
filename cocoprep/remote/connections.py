"""One budget of ranged HTTP connections shared by every archive of a download.

A :class:`ConnectionPool` runs connection threads that take byte ranges from the archives
registered with it (the first registered first, so its images are ready soonest) and write them
at their offsets. When a source has no bytes left to hand out, an idle connection takes the back
half of the longest range still in flight (:func:`split_longest`) when that ends it sooner (each
half is more than one connection receives while a request waits for its first byte, as
measured), so that the last seconds of a download are not one slow range. By default the pool
opens more connections while the aggregate rate still grows (doubling, up to
``Tuning.max_connections``) and stops adding when the last step did not pay;
``Tuning.connections`` fixes the number instead. Stopping (Ctrl-C) returns every range in flight
to its archive and leaves within a fraction of a second, however slow the server.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from cocoprep.remote.http import (
    RetryPolicy,
    _check_status,
    _content_range_start,
    _NoRanges,
    _Retryable,
    _session,
    _transient_errors,
)

logger = logging.getLogger("cocoprep")


@dataclass(frozen=True)
class Tuning:
    """How ranged downloads are cut and how many connections carry them.

    ``connections=None`` lets the pool find the number (from ``start_connections`` doubling to
    ``max_connections`` while the rate grows by ``gain``; at once to the cap when one doubling
    reaches it); ranges are cut from the lowest missing byte, each
    ``remaining / (2 * connections)`` long within :meth:`shortest_piece` and ``piece_max``, so
    the archive fills in order and the last ranges are short; a range in flight is split for an
    idle connection while each half keeps :meth:`shortest_split` bytes. Both follow the bytes
    one connection receives while a request waits for its answer, as the pool measures them.
    """

    connections: int | None = None
    start_connections: int = 8
    max_connections: int = 16
    gain: float = 1.15
    piece_min: int = 1 << 20
    piece_max: int = 16 << 20
    chunk: int = 256 << 10
    probe_seconds: float = 0.25
    save_seconds: float = 1.0
    piece_waits: int = 8

    def shortest_piece(self, wait_bytes: int | None) -> int:
        """The shortest new range: ``piece_waits`` times what a connection receives while a
        request waits for its answer (``wait_bytes``, measured), so that the wait costs at most
        1/``piece_waits`` of a range's time; ``piece_min`` when that is more or nothing is
        measured yet; never above ``piece_max``.

        >>> Tuning().shortest_piece(None) == Tuning().shortest_piece(1000) == 1 << 20
        True
        >>> Tuning().shortest_piece(1 << 20) == 8 << 20
        True
        """
        waited = 0 if wait_bytes is None else self.piece_waits * wait_bytes
        return min(self.piece_max, max(self.piece_min, waited))

    def shortest_split(self, wait_bytes: int | None) -> int:
        """The least each half of a range split for an idle connection keeps: what a connection
        receives while a request waits (``wait_bytes``), so that the split range ends sooner
        than it would have whole; ``piece_min`` until that is measured; never below one read.

        >>> Tuning().shortest_split(None), Tuning().shortest_split(100_000)
        (1048576, 262144)
        """
        return self.piece_min if wait_bytes is None else max(self.chunk, wait_bytes)


@dataclass(eq=False, slots=True)
class Claim:
    """Bytes ``[position, end)`` that one connection still has to fetch, from ``start`` on.

    The source may move ``end`` down (handing the rest to another connection); ``position`` is
    advanced by the source as it takes the bytes.
    """

    start: int
    end: int
    position: int = -1

    def __post_init__(self) -> None:
        if self.position < 0:
            self.position = self.start

    @property
    def left(self) -> int:
        """Bytes still to fetch."""
        return self.end - self.position

    def take(self, size: int) -> tuple[int, int]:
        """Advance over the next ``size`` bytes, as far as they are still the claim's: where
        they start and how many (the caller holds the source's lock).

        >>> claim = Claim(0, 10, position=8)
        >>> claim.take(5), claim.left
        ((8, 2), 0)
        """
        start, taken = self.position, max(0, min(size, self.left))
        self.position += taken
        return start, taken


def split_longest(claims: set[Claim], smallest: int) -> Claim | None:
    """Cut the claim with the most bytes left in two; the back half, or ``None`` when every
    claim has fewer than ``2 * smallest`` bytes left. The caller holds the claims' lock.

    >>> first = Claim(0, 10)
    >>> split_longest({first}, 2), first.end
    (Claim(start=5, end=10, position=5), 5)
    """
    longest = max(claims, key=lambda claim: claim.left, default=None)
    if longest is None or longest.left < 2 * smallest:
        return None
    back = Claim(longest.position + longest.left // 2, longest.end)
    longest.end = back.start
    return back


class RangeSource(Protocol):
    """An archive whose missing bytes connections fetch (see ``streamed._Job``)."""

    url: str

    def claim(self, connections: int, wait_bytes: int | None) -> Claim | None:
        """A range to fetch, new or split off one in flight (sized by
        :meth:`Tuning.shortest_piece` and :meth:`Tuning.shortest_split` of ``wait_bytes``,
        :meth:`ConnectionPool.wait_bytes`); ``None``: no work."""
        ...

    def write(self, claim: Claim, data: bytes) -> int:
        """Take what of ``data`` (at ``claim.position``) is still the claim's; how many bytes."""
        ...

    def release(self, claim: Claim) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class ConnectionPool:
    """Connection threads serving the registered :class:`RangeSource` objects."""

    def __init__(self, policy: RetryPolicy, tuning: Tuning) -> None:
        self.policy, self.tuning = policy, tuning
        self._sources: list[RangeSource] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._received = 0
        self._controller: threading.Thread | None = None
        self._latency: float | None = None  # seconds from a request to its answer, smoothed
        self._rate: float | None = None  # bytes per second of one connection, smoothed

    @property
    def connections(self) -> int:
        """Connection threads running now."""
        return len(self._threads)

    def add(self, source: RangeSource) -> None:
        """Serve ``source`` too; the first call starts the connections."""
        with self._cond:
            self._sources.append(source)
            self._cond.notify_all()
        if self._controller is None:
            self._controller = threading.Thread(
                target=self._control, daemon=True, name="cocoprep-connections"
            )
            self._controller.start()

    def remove(self, source: RangeSource) -> None:
        """Stop serving ``source`` (finished or failed)."""
        with self._cond:
            if source in self._sources:
                self._sources.remove(source)

    def wait_bytes(self) -> int | None:
        """What one connection receives while a request waits for its answer: its rate times
        that latency, as measured (smoothed over responses); ``None`` until both are."""
        if self._rate is None or self._latency is None:
            return None
        return int(self._rate * self._latency)

    def _observe(self, latency: float, received: int, seconds: float) -> None:
        """One response: ``latency`` to its answer, then ``received`` bytes in ``seconds``."""
        self._latency = latency if self._latency is None else 0.7 * self._latency + 0.3 * latency
        if received >= self.tuning.chunk and seconds > 0:
            rate = received / seconds
            self._rate = rate if self._rate is None else 0.7 * self._rate + 0.3 * rate

    def wake(self) -> None:
        """Tell idle connections that some source has work again."""
        with self._cond:
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop every connection; waits at most half a second for them to let go."""
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + 0.5
        for thread in list(self._threads):  # (the controller may be adding some)
            thread.join(max(0.0, deadline - time.monotonic()))

    def _spawn(self, count: int) -> None:
        for _ in range(count):
            thread = threading.Thread(
                target=self._connection, daemon=True, name=f"cocoprep-range-{len(self._threads)}"
            )
            thread.start()  # before it is listed: stop() joins only started threads
            self._threads.append(thread)

    def _control(self) -> None:
        tuning = self.tuning
        if tuning.connections is not None:
            self._spawn(tuning.connections)
            return
        first = min(tuning.start_connections, tuning.max_connections)
        if 2 * first >= tuning.max_connections:
            # The first doubling is never judged (there is no rate yet to compare with), and
            # when it reaches the cap no later step needs the rate it would wait to measure.
            first = tuning.max_connections
        self._spawn(first)
        best = 0.0
        while not self._stop.is_set() and self.connections < tuning.max_connections:
            self._stop.wait(tuning.probe_seconds / 2)  # let the new connections ramp up
            before, started = self._received, time.monotonic()
            if self._stop.wait(tuning.probe_seconds):
                return
            rate = (self._received - before) / (time.monotonic() - started)
            if rate == 0:
                continue  # idle (planning, or between archives): measure again
            if best and rate < best * tuning.gain:
                logger.info(
                    "%d connections: %.1f MB/s, adding more did not pay",
                    self.connections,
                    rate / 1e6,
                )
                return
            best = max(best, rate)
            self._spawn(min(self.connections, tuning.max_connections - self.connections))

    def _next(self) -> tuple[RangeSource, Claim] | None:
        planned = self.tuning.connections or self.tuning.max_connections
        with self._cond:
            while not self._stop.is_set():
                wait_bytes = self.wait_bytes()
                for source in list(self._sources):
                    claim = source.claim(planned, wait_bytes)
                    if claim is not None:
                        return source, claim
                self._cond.wait(0.2)
        return None

    def _connection(self) -> None:
        while (work := self._next()) is not None:
            source, claim = work
            try:
                self._fetch(source, claim)
            except BaseException as error:  # the source reports it; this connection goes on
                source.fail(error)

    def _fetch(self, source: RangeSource, claim: Claim) -> None:
        """Write the claim's bytes of the source's URL, retrying; give back what is left."""
        failures = attempts = 0
        url, policy, chunk_size = source.url, self.policy, self.tuning.chunk
        try:
            while claim.left > 0 and not self._stop.is_set():
                attempts += 1
                before = claim.position
                try:
                    headers = {"Range": f"bytes={claim.position}-{claim.end - 1}"}
                    asked = time.monotonic()
                    with _session().get(
                        url, headers=headers, stream=True, timeout=policy.timeout
                    ) as r:
                        answered = time.monotonic()
                        _check_status(r, url)
                        if r.status_code != 206 or _content_range_start(r) != claim.position:
                            raise _NoRanges
                        received = 0
                        for chunk in r.raw.stream(chunk_size, decode_content=False):
                            if self._stop.is_set():
                                return
                            taken = source.write(claim, chunk)
                            self._received += taken
                            received += taken
                            if claim.left <= 0:  # done, or the rest went to another connection
                                break
                        self._observe(answered - asked, received, time.monotonic() - answered)
                        if claim.left > 0:
                            message = (
                                f"connection closed at byte {claim.position} of range end "
                                f"{claim.end}"
                            )
                            raise _Retryable(message)
                except _transient_errors() as error:
                    failures = 1 if claim.position > before else failures + 1
                    where = f" (bytes {claim.position}-{claim.end})"
                    policy.wait_or_give_up(error, failures, attempts, url, where, self._stop.wait)
        finally:
            source.release(claim)

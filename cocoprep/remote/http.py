"""HTTP for downloads: one session per thread, status checks, retries, one resumable stream.

:class:`RetryPolicy` says how hard to try. :func:`stream` fills a ``.part`` file with one
connection, resuming with ``Range`` after a cut; :func:`supports_ranges` asks the server (HEAD)
whether it serves byte ranges. Transient failures (5xx, 408/425/429, cut connections, early
ends) are retried with exponential backoff; the rest raise :class:`~cocoprep.errors.DownloadError`
naming the URL.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from cocoprep.errors import ChecksumError, DownloadError
from cocoprep.interrupts import Interrupted
from cocoprep.remote.hashes import BackgroundHasher

logger = logging.getLogger("cocoprep")

CHUNK_SIZE = 1 << 20
RETRY_STATUS = frozenset({408, 425, 429})

OnBytes = Callable[[int], None]
#: The most one read waits for while a stop may come: a slow server's bytes arrive in pieces.
STOP_READ = 64 << 10


class _Retryable(Exception):
    """A transient failure: 5xx, 408/429, connection cut, early end of body."""


class _NoRanges(Exception):
    """The server ignored a Range request; fall back to one stream."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts without progress, backoff base (s) and stall timeout (s)."""

    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0
    timeout: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (doubling, jittered).

        Examples
        --------
        >>> RetryPolicy(backoff=1.0).delay(3) >= 4.0
        True
        """
        base = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
        return base * (1 + 0.1 * random.random())

    def wait_or_give_up(
        self,
        error: BaseException,
        failures: int,
        attempts: int,
        url: str,
        where: str = "",
        wait: Callable[[float], object] = time.sleep,
    ) -> None:
        """After the ``failures``-th transient ``error`` in a row: the give-up error once they
        exceed the retries, else a warning and ``wait`` for the backoff."""
        if failures > self.retries:
            raise _give_up(url, attempts, error) from error
        delay = self.delay(failures)
        logger.warning("%s%s: %s; retrying in %.1f s", url, where, error, delay)
        wait(delay)


def _local_path(url: str) -> Path | None:
    """The filesystem path of a ``file://`` URL, ``None`` for other schemes."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


_thread = threading.local()


def _session():
    """One requests session per thread (sessions are not thread-safe)."""
    session = getattr(_thread, "session", None)
    if session is None:
        import requests

        from cocoprep import __version__

        session = _thread.session = requests.Session()
        session.headers["User-Agent"] = f"cocoprep/{__version__}"
        session.headers["Accept-Encoding"] = "identity"
    return session


def _transient_errors() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3

    return (_Retryable, requests.RequestException, urllib3.exceptions.HTTPError)


def _check_status(response, url: str) -> None:
    code = response.status_code
    if code in (200, 206):
        return
    if code >= 500 or code in RETRY_STATUS:
        message = f"HTTP {code} {response.reason}"
        raise _Retryable(message)
    message = (
        f"{url}: expected the file, found HTTP {code} {response.reason}; "
        "check the URL, {mirror} or {catalog}"
    )
    raise DownloadError(message, params=["mirror", "catalog"])


def _give_up(url: str, attempts: int, error: BaseException) -> DownloadError:
    message = (
        f"{url}: gave up after {attempts} attempts, last error: {error}; "
        "check the network or use {mirror}, then re-run to resume"
    )
    return DownloadError(message, params=["mirror"])


def _content_range_start(response) -> int | None:
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- one stream


def _stream(
    url: str,
    part: Path,
    hasher: BackgroundHasher,
    size: int | None,
    policy: RetryPolicy,
    on_bytes: OnBytes,
    stop: threading.Event | None = None,
) -> BackgroundHasher:
    """Fill ``part`` from ``url`` with one connection, resuming with Range; returns the hasher.
    A set ``stop`` ends it, the bytes so far kept in ``part`` (:func:`_pieces`).

    ``hasher`` must already hold the bytes in ``part``. A 200 answer to a Range request truncates
    the part and starts from zero.
    """
    failures = attempts = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have == size:
            return hasher
        headers = {"Range": f"bytes={have}-"} if have else {}
        attempts += 1
        try:
            with _session().get(url, headers=headers, stream=True, timeout=policy.timeout) as r:
                if r.status_code == 416 and have:
                    if r.headers.get("Content-Range", "").endswith(f"/{have}"):
                        return hasher  # the part already holds the whole file
                    logger.info("%s: server refused the resume offset, restarting", url)
                    hasher = _restart(part, hasher, have, on_bytes)
                    continue
                _check_status(r, url)
                if have and (r.status_code == 200 or _content_range_start(r) != have):
                    logger.info("%s: no Range support, restarting from zero", url)
                    hasher = _restart(part, hasher, have, on_bytes)
                    have = 0
                length = r.headers.get("Content-Length")
                expected = int(length) if length is not None else None
                if size is not None and expected is not None and have + expected != size:
                    message = (
                        f"{url}: expected {size} bytes, the server announces {have + expected}; "
                        "the server or mirror serves a different file"
                    )
                    raise ChecksumError(message)
                received = 0
                with open(part, "ab") as sink:
                    for chunk in _pieces(r, CHUNK_SIZE, stop):
                        sink.write(chunk)
                        hasher.update(chunk)
                        received += len(chunk)
                        on_bytes(len(chunk))
                if expected is not None and received < expected:
                    message = f"connection closed after {received} of {expected} bytes"
                    raise _Retryable(message)
                return hasher
        except _transient_errors() as error:
            progressed = part.exists() and part.stat().st_size > have
            failures = 1 if progressed else failures + 1
            policy.wait_or_give_up(error, failures, attempts, url)


def _restart(
    part: Path, hasher: BackgroundHasher, have: int, on_bytes: OnBytes
) -> BackgroundHasher:
    part.write_bytes(b"")
    on_bytes(-have)
    return BackgroundHasher(hasher.name)


def _supports_ranges(url: str, policy: RetryPolicy) -> tuple[bool, int | None]:
    """HEAD ``url``: whether it advertises byte ranges, and its Content-Length."""
    try:
        response = _session().head(url, timeout=policy.timeout, allow_redirects=True)
    except _transient_errors():
        return False, None
    if response.status_code != 200:
        return False, None
    length = response.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else None
    return response.headers.get("Accept-Ranges", "").lower() == "bytes", size


def _pieces(response, size: int, stop: threading.Event | None) -> Iterator[bytes]:
    """The body of ``response`` as it arrives, in pieces of at most ``size`` bytes; with
    ``stop``, each read takes what has come (at most :data:`STOP_READ`), and a set ``stop``
    ends the body with :class:`~cocoprep.interrupts.Interrupted`, however slow the server."""
    if stop is None:
        yield from response.raw.stream(size, decode_content=False)
        return
    while piece := response.raw.read1(min(size, STOP_READ), decode_content=False):
        if stop.is_set():
            raise Interrupted
        yield piece
    if stop.is_set():
        raise Interrupted


def get_range(
    url: str, start: int, end: int, policy: RetryPolicy, stop: threading.Event | None = None
) -> bytes:
    """Bytes ``[start, end)`` of ``url`` by one Range request, with retries; a set ``stop``
    ends it (:func:`_pieces`).

    Raises ``_NoRanges`` when the server answers with the whole file instead.
    """
    failures = attempts = 0
    while True:
        attempts += 1
        try:
            headers = {"Range": f"bytes={start}-{end - 1}"}
            with _session().get(url, headers=headers, stream=True, timeout=policy.timeout) as r:
                _check_status(r, url)
                if r.status_code != 206 or _content_range_start(r) != start:
                    raise _NoRanges
                data = b"".join(_pieces(r, end - start, stop))
                if len(data) != end - start:
                    message = f"connection closed after {len(data)} of {end - start} bytes"
                    raise _Retryable(message)
                return data
        except _transient_errors() as error:
            failures += 1
            policy.wait_or_give_up(error, failures, attempts, url, f" (bytes {start}-{end})")

"""Fetch one file: from a local mirror, by parallel ranges or one stream; verify, then rename.

:func:`fetch` decides how (pooch's ``stream_download``): the bytes go to ``<dest>.part``, are
hashed while they arrive, and ``dest`` appears only complete and verified.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cocoprep.errors import ChecksumError, DownloadError, OutputError
from cocoprep.remote import ranges
from cocoprep.remote.hashes import BackgroundHasher, parse_hash, update_from_file
from cocoprep.remote.http import (
    CHUNK_SIZE,
    OnBytes,
    RetryPolicy,
    _local_path,
    _NoRanges,
    _restart,
    _stream,
    _supports_ranges,
    _transient_errors,
)

logger = logging.getLogger("cocoprep")


@dataclass(frozen=True)
class FetchResult:
    """One fetched file: final path, size, bytes transferred this run, resumed offset."""

    path: Path
    size: int
    transferred: int
    resumed_from: int
    seconds: float


def _copy_local(source: Path, part: Path, hasher, on_bytes: OnBytes):
    if not source.is_file():
        message = (
            f"{source}: expected the file in the local mirror, found nothing; check {{mirror}}"
        )
        raise DownloadError(message, path=source, params=["mirror"])
    have = part.stat().st_size if part.exists() else 0
    if have > source.stat().st_size:
        hasher = _restart(part, hasher, have, on_bytes)
        have = 0
    with open(source, "rb") as src, open(part, "ab") as sink:
        src.seek(have)
        while chunk := src.read(CHUNK_SIZE):
            sink.write(chunk)
            hasher.update(chunk)
            on_bytes(len(chunk))
    return hasher


def _fill_part(
    url: str,
    part: Path,
    alg: str,
    size: int | None,
    connections: int,
    policy: RetryPolicy,
    on_bytes: OnBytes,
    stop: threading.Event | None = None,
):
    """Download ``url`` into ``part`` by the best means (a set ``stop`` ends one stream).

    Returns a hasher over the whole part and how many bytes an earlier run had left in it.
    """
    source = _local_path(url)
    ranges_state = part.with_name(part.name + ".ranges")
    # A part written by one stream keeps being resumed that way, whatever ``connections`` says.
    fresh = connections > 1 and not part.exists()
    if source is None and (ranges_state.exists() or fresh):
        saved = ranges._Pieces.saved_size(ranges_state)
        if saved is not None and size in (None, saved):
            supported, total = True, saved  # no HEAD needed: a 200 to a piece falls back anyway
        else:
            supported, announced = _supports_ranges(url, policy)
            total = size if size is not None else announced
        if supported and total and (saved is not None or total >= 2 * ranges.PIECE_BYTES):
            reported = 0

            def counting(n: int) -> None:
                nonlocal reported
                reported += n
                on_bytes(n)

            try:
                return ranges._ranges(url, part, total, connections, alg, policy, counting)
            except _NoRanges:
                logger.info("%s: server ignores Range, falling back to one stream", url)
                on_bytes(-reported)
                ranges_state.unlink(missing_ok=True)
                part.unlink(missing_ok=True)
    hasher, resumed = BackgroundHasher(alg), 0
    if part.exists() and ranges_state.exists():
        ranges_state.unlink()
        part.unlink()
    if part.exists():
        have = part.stat().st_size
        if size is not None and have > size:
            part.unlink()
        else:
            resumed = update_from_file(hasher, part)
            on_bytes(resumed)
    if source is not None:
        return _copy_local(source, part, hasher, on_bytes), resumed
    return _stream(url, part, hasher, size, policy, on_bytes, stop), resumed


def fetch(
    url: str,
    dest: str | Path,
    *,
    known_hash: str | None = None,
    size: int | None = None,
    connections: int = 1,
    policy: RetryPolicy | None = None,
    on_bytes: OnBytes | None = None,
    stop: threading.Event | None = None,
) -> FetchResult:
    """Download ``url`` to ``dest`` via ``dest.part``, resuming, retrying and verifying.

    Parameters
    ----------
    url
        ``http(s)://`` or ``file://``.
    dest
        Final path; it only ever appears complete and verified (renamed from ``<dest>.part``).
    known_hash, size
        Expected hash (``"md5:…"`` or bare MD5) and byte count; either may be ``None``. On a
        mismatch the part is deleted and fetched once more, then :class:`ChecksumError`.
    connections
        Parallel Range requests for files of two pieces (``ranges.PIECE_BYTES``) or more on servers
        that accept them; pieces are taken in file order and hashed as the done prefix grows.
    policy
        Retries, backoff and stall timeout (:class:`RetryPolicy`).
    on_bytes
        Called with each byte count written (negative when a restart discards bytes).
    stop
        Once set, a download in one stream ends within a fraction of a second with
        :class:`~cocoprep.interrupts.Interrupted`, keeping ``<dest>.part`` to resume from.
    """
    dest = Path(dest)
    policy = policy or RetryPolicy()
    on_bytes = on_bytes or (lambda n: None)
    alg, expected = parse_hash(known_hash) if known_hash else ("md5", None)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for attempt in (1, 2):
        try:
            hasher, resumed_from = _fill_part(
                url, part, alg, size, connections, policy, on_bytes, stop
            )
            found_size = part.stat().st_size
            if size is not None and found_size != size:
                message = f"{url}: expected {size} bytes, found {found_size}"
                raise ChecksumError(message)
            found = hasher.hexdigest()
            if expected is not None and found != expected:
                message = f"{url}: expected {alg.upper()} {expected}, found {found}"
                raise ChecksumError(message)
        except ChecksumError as error:
            on_bytes(-(part.stat().st_size if part.exists() else 0))
            part.unlink(missing_ok=True)
            part.with_name(part.name + ".ranges").unlink(missing_ok=True)
            if attempt == 2:
                message = (
                    f"{error.message}; deleted it after two tries — the server or mirror serves "
                    "a different file: check {mirror} / {catalog}"
                )
                raise ChecksumError(message, params=["mirror", "catalog"]) from error
            logger.warning("%s; deleted the file, fetching it once more", error)
            continue
        except OSError as error:
            if isinstance(error, _transient_errors()):
                raise
            message = (
                f"{part}: expected to write the download, found {error.strerror or error}; "
                "free some space or check permissions, then re-run to resume"
            )
            raise OutputError(message, path=part) from error
        break
    os.replace(part, dest)
    seconds = time.monotonic() - started
    return FetchResult(dest, found_size, found_size - resumed_from, resumed_from, seconds)

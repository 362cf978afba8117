"""Resumable, verified, parallel downloads of catalog archives into the Ultralytics layout.

The flow, pooch-style: :func:`plan_download` decides per archive (skip, download, resume,
extract) from what ``root`` holds, :func:`download` checks the free space, fetches with
:func:`fetch` (``<file>.part`` + HTTP Range, size and hash verified while streaming, retries with
exponential backoff), extracts with :func:`cocoprep.extract.extract_zip` and, for
``classes=…``, fetches only the images of a class subset (:func:`select_images`).

Layout under ``root``::

    images/<split>/…jpg         image archives, or the subset's images
    annotations/…json           annotation archives (instances_<split>.json, …)
    downloads/<archive>.zip     kept archives (keep_archives=True) and <archive>.zip.part
    .cocoprep/<archive>.done    completion markers holding the archive's MD5
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlparse

from cocoprep.catalog import COCO_2017, COCO_BASE_URL, COCO_TLS_URL, Archive, Catalog, load_catalog
from cocoprep.errors import CocoprepError, InputError
from cocoprep.extract import extract_zip, extracted_size, is_done, marker_path, read_marker
from cocoprep.fileio import write_atomic
from cocoprep.hashes import (
    BackgroundHasher,
    ChecksumError,
    new_hasher,
    parse_hash,
    update_from_file,
)

logger = logging.getLogger("cocoprep")

MIRROR_ENV = "COCOPREP_MIRROR"
CHUNK_SIZE = 1 << 20
# Parallel downloads go by pieces of this size (one Range request each); files smaller than
# two pieces are fetched as one stream.
PIECE_BYTES = 32 << 20
RETRY_STATUS = frozenset({408, 425, 429})

OnBytes = Callable[[int], None]


class DownloadError(CocoprepError):
    """A download failed for good (HTTP error, too many retries, missing mirror file)."""


class InsufficientSpaceError(CocoprepError):
    """The destination has less free space than the plan needs."""


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


@dataclass(frozen=True)
class FetchResult:
    """One fetched file: final path, size, bytes transferred this run, resumed offset."""

    path: Path
    size: int
    transferred: int
    resumed_from: int
    seconds: float


# --------------------------------------------------------------------------- URLs and mirrors


def resolve_base(catalog_base: str, *, mirror: str | None = None, tls: bool = False) -> str:
    """The base URL to use: ``mirror``, else ``$COCOPREP_MIRROR``, else the catalog's.

    ``tls`` swaps the COCO bucket for its TLS endpoint (and ``http://`` for ``https://`` on other
    hosts). A local directory becomes a ``file://`` URL.

    Examples
    --------
    >>> resolve_base("http://images.cocodataset.org/", tls=True, mirror="")
    'https://s3.amazonaws.com/images.cocodataset.org/'
    >>> resolve_base("http://x.org/data", mirror="http://mirror.lan/coco")
    'http://mirror.lan/coco/'
    """
    base = mirror or os.environ.get(MIRROR_ENV) or catalog_base
    if "://" not in base:
        base = Path(base).expanduser().resolve().as_uri()
    base = base if base.endswith("/") else base + "/"
    if tls:
        if base == COCO_BASE_URL:
            base = COCO_TLS_URL
        elif base.startswith("http://"):
            base = "https://" + base[len("http://") :]
    return base


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
        "check the URL, --mirror or --catalog"
    )
    raise DownloadError(message)


def _give_up(url: str, attempts: int, error: BaseException) -> DownloadError:
    message = (
        f"{url}: gave up after {attempts} attempts, last error: {error}; "
        "check the network or use --mirror, then re-run to resume"
    )
    return DownloadError(message)


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
) -> BackgroundHasher:
    """Fill ``part`` from ``url`` with one connection, resuming with Range; returns the hasher.

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
                    for chunk in r.raw.stream(CHUNK_SIZE, decode_content=False):
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
            if failures > policy.retries:
                raise _give_up(url, attempts, error) from error
            delay = policy.delay(failures)
            logger.warning("%s: %s; retrying in %.1f s", url, error, delay)
            time.sleep(delay)


def _restart(
    part: Path, hasher: BackgroundHasher, have: int, on_bytes: OnBytes
) -> BackgroundHasher:
    part.write_bytes(b"")
    on_bytes(-have)
    return BackgroundHasher(hasher.name)


# --------------------------------------------------------------------------- parallel ranges


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
        import json

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
        import json

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
        import json

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
            if failures > policy.retries:
                raise _give_up(url, attempts, error) from error
            delay = policy.delay(failures)
            logger.warning(
                "%s (bytes %d-%d): %s; retrying in %.1f s", url, start, end, error, delay
            )
            time.sleep(delay)
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


# --------------------------------------------------------------------------- fetch


def _copy_local(source: Path, part: Path, hasher, on_bytes: OnBytes):
    if not source.is_file():
        message = f"{source}: expected the file in the local mirror, found nothing; check --mirror"
        raise DownloadError(message)
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
):
    """Download ``url`` into ``part`` by the best means.

    Returns a hasher over the whole part and how many bytes an earlier run had left in it.
    """
    source = _local_path(url)
    ranges_state = part.with_name(part.name + ".ranges")
    # A part written by one stream keeps being resumed that way, whatever ``connections`` says.
    fresh = connections > 1 and not part.exists()
    if source is None and (ranges_state.exists() or fresh):
        saved = _Pieces.saved_size(ranges_state)
        if saved is not None and size in (None, saved):
            supported, total = True, saved  # no HEAD needed: a 200 to a piece falls back anyway
        else:
            supported, announced = _supports_ranges(url, policy)
            total = size if size is not None else announced
        if supported and total and (saved is not None or total >= 2 * PIECE_BYTES):
            reported = 0

            def counting(n: int) -> None:
                nonlocal reported
                reported += n
                on_bytes(n)

            try:
                return _ranges(url, part, total, connections, alg, policy, counting)
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
    return _stream(url, part, hasher, size, policy, on_bytes), resumed


def fetch(
    url: str,
    dest: str | Path,
    *,
    known_hash: str | None = None,
    size: int | None = None,
    connections: int = 1,
    policy: RetryPolicy | None = None,
    on_bytes: OnBytes | None = None,
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
        Parallel Range requests for files of two pieces (``PIECE_BYTES``) or more on servers
        that accept them; pieces are taken in file order and hashed as the done prefix grows.
    policy
        Retries, backoff and stall timeout (:class:`RetryPolicy`).
    on_bytes
        Called with each byte count written (negative when a restart discards bytes).
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
            hasher, resumed_from = _fill_part(url, part, alg, size, connections, policy, on_bytes)
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
                    f"{error}; deleted it after two tries — the server or mirror serves a "
                    "different file: check --mirror / --catalog"
                )
                raise ChecksumError(message) from error
            logger.warning("%s; deleted the file, fetching it once more", error)
            continue
        except OSError as error:
            if isinstance(error, _transient_errors()):
                raise
            message = (
                f"{part}: expected to write the download, found {error.strerror or error}; "
                "free some space or check permissions, then re-run to resume"
            )
            raise DownloadError(message) from error
        break
    os.replace(part, dest)
    seconds = time.monotonic() - started
    return FetchResult(dest, found_size, found_size - resumed_from, resumed_from, seconds)


# --------------------------------------------------------------------------- planning


def _human(n: int | None) -> str:
    """Bytes in binary units.

    Examples
    --------
    >>> _human(815585330), _human(512), _human(None)
    ('777.8 MiB', '512 B', '?')
    """
    if n is None:
        return "?"
    if abs(n) < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if abs(value) < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _normal_hash(known_hash: str) -> str:
    alg, digest = parse_hash(known_hash)
    return f"{alg}:{digest}"


@dataclass(frozen=True)
class PlanItem:
    """What :func:`download` will do with one archive.

    ``action`` is ``skip`` (its marker matches), ``extract`` (a verified archive is kept),
    ``resume`` (a ``.part`` exists) or ``download``.
    """

    archive: Archive
    url: str
    archive_path: Path
    dest: Path
    action: str
    have_bytes: int
    size: int | None
    extract_bytes: int | None

    @property
    def download_bytes(self) -> int | None:
        """Bytes still to transfer (``None`` when the size is unknown)."""
        if self.action in ("skip", "extract"):
            return 0
        return None if self.size is None else max(0, self.size - self.have_bytes)


def archive_folder(root: str | Path) -> Path:
    """Where archives and their ``.part`` files live under ``root``."""
    return Path(root) / "downloads"


def _plan_item(archive: Archive, root: Path, base: str) -> PlanItem:
    dest = root / "images" / archive.split if archive.kind == "images" else root / "annotations"
    archive_path = archive_folder(root) / archive.filename
    part = archive_path.with_name(archive_path.name + ".part")
    marker = marker_path(root, archive.name)
    estimate = archive.estimated_extracted_bytes()
    if is_done(marker, _normal_hash(archive.md5)):
        action, have, extract = "skip", 0, 0
    elif archive_path.is_file():
        action, have = "extract", archive_path.stat().st_size
        try:
            extract = extracted_size(archive_path)
        except Exception:  # unreadable zip: extraction reports it properly later
            extract = estimate
    elif part.is_file():
        action, have, extract = "resume", part.stat().st_size, estimate
    else:
        action, have, extract = "download", 0, estimate
    return PlanItem(
        archive, base + archive.path, archive_path, dest, action, have, archive.bytes, extract
    )


def plan_download(
    splits: Sequence[str],
    *,
    root: str | Path,
    catalog: Catalog,
    base: str,
    annotations: Sequence[str] = (),
    default_annotations: bool = True,
    images: bool = True,
) -> list[PlanItem]:
    """Decide, without any network access, what to do with each archive the request needs.

    ``images=False`` (a class subset) leaves the image archives of ``splits`` out.
    """
    archives = [catalog.images(split) for split in splits]
    if not images:
        archives = []
    if splits and default_annotations:
        archives += catalog.default_annotations()
    archives += [catalog.get(name) for name in annotations]
    unique = list(dict.fromkeys(archives))
    return [_plan_item(archive, Path(root), base) for archive in unique]


def _free_bytes(root: Path) -> int:
    existing = root.resolve()
    while not existing.exists():
        existing = existing.parent
    return shutil.disk_usage(existing).free


def check_space(root: str | Path, items: Sequence[PlanItem]) -> tuple[int, int]:
    """``(needed, free)`` bytes for the plan; :class:`InsufficientSpaceError` when short.

    ``needed`` counts the bytes still to download plus the extracted size of every archive not
    yet extracted (from the zip's central directory when present, else the catalog estimate).
    """
    needed = sum((i.download_bytes or 0) + (i.extract_bytes or 0) for i in items)
    free = _free_bytes(Path(root))
    if needed > free:
        names = ", ".join(i.archive.name for i in items if i.action != "skip")
        message = (
            f"{root}: expected at least {_human(needed)} free for {names} "
            f"(archives + extracted files), found {_human(free)}; free some space or choose "
            "another --root"
        )
        raise InsufficientSpaceError(message)
    return needed, free


# --------------------------------------------------------------------------- progress


class _Progress:
    """Optional tqdm bars on stderr: one per file in flight plus a total."""

    def __init__(self, enabled: bool, total: int | None, unit: str = "B", desc: str = "total"):
        self.enabled = enabled
        self.unit = unit
        self.lock = threading.Lock()
        self.total = None
        if enabled:
            from tqdm import tqdm

            self.total = tqdm(total=total, desc=desc, **self._style())

    def _style(self) -> dict:
        if self.unit == "B":
            return {"unit": "B", "unit_scale": True, "unit_divisor": 1024, "dynamic_ncols": True}
        return {"unit": self.unit, "dynamic_ncols": True}

    def file(self, name: str, size: int | None):
        """A bar for one file; returns ``(on_bytes, close)``."""
        if not self.enabled:
            return (lambda n: None), (lambda: None)
        from tqdm import tqdm

        bar = tqdm(total=size, desc=name, leave=False, **self._style())

        def on_bytes(n: int) -> None:
            with self.lock:
                bar.update(n)
                self.total.update(n)

        return on_bytes, bar.close

    def update(self, n: int) -> None:
        """Advance the total bar only (e.g. one image)."""
        if self.total is not None:
            with self.lock:
                self.total.update(n)

    def close(self) -> None:
        """Close the total bar."""
        if self.total is not None:
            self.total.close()


# --------------------------------------------------------------------------- running archives


@dataclass(frozen=True)
class ArchiveOutcome:
    """What happened to one archive."""

    name: str
    action: str
    transferred: int = 0
    seconds: float = 0.0
    members: int = 0
    written: int = 0
    kept: bool = False


def _process(
    item: PlanItem,
    *,
    root: Path,
    connections: int,
    policy: RetryPolicy,
    keep_archives: bool,
    progress: _Progress,
) -> ArchiveOutcome:
    archive = item.archive
    if item.action == "skip":
        return ArchiveOutcome(
            archive.name, "skipped (already extracted)", kept=item.archive_path.exists()
        )
    started = time.monotonic()
    transferred = 0
    if item.action != "extract":
        on_bytes, close = progress.file(archive.filename, item.size)
        try:
            result = fetch(
                item.url,
                item.archive_path,
                known_hash=archive.md5,
                size=item.size,
                connections=connections,
                policy=policy,
                on_bytes=on_bytes,
            )
        finally:
            close()
        transferred = result.transferred
    extracted = extract_zip(
        item.archive_path,
        item.dest,
        marker=marker_path(root, archive.name),
        known_hash=_normal_hash(archive.md5),
    )
    if not keep_archives:
        item.archive_path.unlink()
    action = {"download": "downloaded", "resume": "resumed", "extract": "extracted"}[item.action]
    return ArchiveOutcome(
        archive.name,
        action,
        transferred,
        time.monotonic() - started,
        extracted.members,
        extracted.written,
        keep_archives,
    )


def _run_all(items, worker, jobs: int, what: str) -> list:
    """Run ``worker`` over ``items`` in threads; collect results, then raise one joined error."""
    results, errors = [], []
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="cocoprep") as pool:
        futures = {pool.submit(worker, item): item for item in items}
        for future in as_completed(futures):
            try:
                results.append(future.result())
            except CocoprepError as error:
                errors.append(str(error))
    if len(errors) == 1:
        raise DownloadError(errors[0])
    if errors:
        message = f"{len(errors)} {what} failed: " + " | ".join(sorted(errors))
        raise DownloadError(message)
    return results


# --------------------------------------------------------------------------- class subsets


def category_ids(coco: dict, names: Sequence[str]) -> list[int]:
    """COCO category ids for class ``names`` (case-insensitive), in the given order.

    Examples
    --------
    >>> category_ids({"categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]},
    ...              ["Dog", "person"])
    [18, 1]
    """
    by_name = {c["name"].lower(): c["id"] for c in coco.get("categories", [])}
    unknown = [n for n in names if n.strip().lower() not in by_name]
    if unknown:
        known = ", ".join(sorted(by_name))
        message = (
            f"classes {', '.join(unknown)}: expected category names of the annotations "
            f"({known}), found no match; check the spelling"
        )
        raise InputError(message)
    return [by_name[n.strip().lower()] for n in names]


def select_images(
    coco: dict, category_ids: Sequence[int], *, max_images: int | None = None, seed: int = 0
) -> list[int]:
    """Image ids holding every one of ``category_ids`` first, then those holding any.

    Each group is shuffled with ``seed`` before ``max_images`` are taken, so a fixed seed picks
    the same images on every run.

    Examples
    --------
    >>> coco = {"images": [{"id": i} for i in (1, 2, 3, 4)],
    ...         "annotations": [{"image_id": i, "category_id": c}
    ...                         for i, c in ((1, 5), (2, 5), (2, 7), (3, 9))]}
    >>> select_images(coco, [5, 7], max_images=2)[0]
    2
    >>> sorted(select_images(coco, [5, 7]))
    [1, 2]
    """
    wanted = set(category_ids)
    found: dict[int, set[int]] = {}
    for annotation in coco["annotations"]:
        if annotation["category_id"] in wanted:
            found.setdefault(annotation["image_id"], set()).add(annotation["category_id"])
    order = [image["id"] for image in coco["images"] if image["id"] in found]
    every = [i for i in order if found[i] == wanted]
    some = [i for i in order if found[i] != wanted]
    rng = random.Random(seed)
    rng.shuffle(every)
    rng.shuffle(some)
    chosen = every + some
    return chosen if max_images is None else chosen[:max_images]


def subset_coco(coco: dict, image_ids: Sequence[int], category_ids: Sequence[int]) -> dict:
    """A copy of ``coco`` keeping ``image_ids`` and their annotations of ``category_ids``.

    ``categories`` stay complete, so class indices match the full data set.
    """
    keep, classes = set(image_ids), set(category_ids)
    subset = dict(coco)
    subset["images"] = [image for image in coco["images"] if image["id"] in keep]
    subset["annotations"] = [
        a for a in coco["annotations"] if a["image_id"] in keep and a["category_id"] in classes
    ]
    return subset


def full_annotations_path(root: str | Path, split: str) -> Path:
    """Where the complete ``instances_<split>.json`` is kept while a subset replaces it."""
    return Path(root) / "annotations" / f"instances_{split}.full.json"


def _image_url(image: dict, split: str, base: str) -> str:
    # The recorded coco_url is used as is only when nothing redirects to another base.
    if base == COCO_BASE_URL and image.get("coco_url"):
        return image["coco_url"]
    return f"{base}{split}/{image['file_name']}"


@dataclass(frozen=True)
class SubsetOutcome:
    """What a class subset download did."""

    split: str
    classes: tuple[str, ...]
    selected: int
    downloaded: int
    present: int
    annotations: Path
    full_annotations: Path


def download_subset(
    split: str,
    classes: Sequence[str],
    *,
    root: str | Path,
    base: str,
    max_images: int | None = None,
    seed: int = 0,
    workers: int = 8,
    policy: RetryPolicy | None = None,
    progress: bool = False,
) -> SubsetOutcome:
    """Fetch only the ``split`` images showing ``classes`` and write their annotations.

    Reads ``<root>/annotations/instances_<split>.json`` (or the ``.full.json`` kept by an earlier
    subset), picks images with :func:`select_images`, downloads each one in parallel with
    retries into ``<root>/images/<split>/``, then moves the complete file to
    ``instances_<split>.full.json`` and writes the subset as ``instances_<split>.json``, so
    ``cocoprep convert`` runs on it unchanged. Images already in place are not fetched again.
    """
    import orjson

    root = Path(root)
    current = root / "annotations" / f"instances_{split}.json"
    full = full_annotations_path(root, split)
    source = full if full.is_file() else current
    if not source.is_file():
        message = (
            f"{current}: expected the {split} annotations to pick a class subset from, found "
            "nothing; download them first (drop --no-annotations)"
        )
        raise InputError(message)
    try:
        coco = orjson.loads(source.read_bytes())
    except orjson.JSONDecodeError as error:
        message = f"{source}: expected COCO JSON, found {error}; re-download the annotations"
        raise InputError(message) from error
    ids = category_ids(coco, classes)
    chosen = select_images(coco, ids, max_images=max_images, seed=seed)
    if not chosen:
        message = (
            f"{source}: expected images showing {', '.join(classes)}, found none; "
            "pick other classes"
        )
        raise InputError(message)
    subset = subset_coco(coco, chosen, ids)
    folder = root / "images" / split
    missing = [image for image in subset["images"] if not (folder / image["file_name"]).is_file()]
    policy = policy or RetryPolicy()
    bars = _Progress(progress, len(missing), unit="img", desc=f"{split} images")

    def fetch_image(image: dict) -> None:
        fetch(_image_url(image, split, base), folder / image["file_name"], policy=policy)
        bars.update(1)

    try:
        _run_all(missing, fetch_image, workers, f"of {len(missing)} {split} images")
    finally:
        bars.close()
    if not full.is_file():
        os.replace(current, full)
    write_atomic(current, orjson.dumps(subset))
    logger.info("%s: %d images (%d fetched) in %s", split, len(chosen), len(missing), folder)
    return SubsetOutcome(
        split, tuple(classes), len(chosen), len(missing), len(chosen) - len(missing), current, full
    )


# --------------------------------------------------------------------------- the entry point


@dataclass
class DownloadSummary:
    """The plan and outcome of :func:`download`; ``format()`` gives the text the CLI prints."""

    root: Path
    base: str
    plan: list[PlanItem]
    needed_bytes: int
    free_bytes: int
    dry_run: bool
    subset: tuple[str, ...] = ()
    archives: list[ArchiveOutcome] = field(default_factory=list)
    subsets: list[SubsetOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def format(self) -> str:
        """A human-readable plan (dry run) or summary."""
        lines = []
        if self.dry_run:
            lines.append(f"plan for {self.root} (base {self.base}):")
            for item in self.plan:
                size = _human(item.size)
                lines.append(
                    f"  {item.action:<8} {item.archive.name:<34} {size:>10}  "
                    f"{item.url} -> {item.dest}"
                )
            for split in self.subset:
                lines.append(f"  subset   {split}: selected images from {self.base}{split}/")
            lines.append(f"disk: needs {_human(self.needed_bytes)}, {_human(self.free_bytes)} free")
            return "\n".join(lines)
        total = sum(o.transferred for o in self.archives)
        for o in sorted(self.archives, key=lambda o: o.name):
            if o.action.startswith("skipped"):
                lines.append(f"  {o.name:<34} {o.action}")
                continue
            detail = f", {o.members} members ({o.written} written)" if o.members else ""
            kept = ", archive kept" if o.kept else ""
            lines.append(
                f"  {o.name:<34} {o.action}: {_human(o.transferred)} in {o.seconds:.1f} s"
                f"{detail}{kept}"
            )
        for s in self.subsets:
            lines.append(
                f"  subset {s.split} ({','.join(s.classes)}): {s.selected} images "
                f"({s.downloaded} fetched, {s.present} already there) -> {s.annotations}"
            )
        rate = total / self.seconds / (1 << 20) if self.seconds else 0.0
        lines.append(
            f"done in {self.seconds:.1f} s: {_human(total)} downloaded ({rate:.1f} MiB/s) "
            f"into {self.root}"
        )
        return "\n".join(lines)


def _catalog(catalog: Catalog | str | Path | None) -> Catalog:
    if catalog is None:
        return COCO_2017
    if isinstance(catalog, Catalog):
        return catalog
    return load_catalog(catalog)


def _probe(item: PlanItem, policy: RetryPolicy) -> PlanItem:
    """Fill in an unknown archive size from the mirror file or a HEAD request."""
    if item.size is not None or item.action not in ("download", "resume"):
        return item
    source = _local_path(item.url)
    if source is not None:
        size = source.stat().st_size if source.is_file() else None
    else:
        size = _supports_ranges(item.url, policy)[1]
    if size is None:
        return item
    extract = item.extract_bytes
    if item.archive.extracted_bytes is None:
        extract = replace(item.archive, bytes=size).estimated_extracted_bytes()
    return replace(item, size=size, extract_bytes=extract)


def download(
    splits: Sequence[str] = (),
    *,
    root: str | Path,
    annotations: Sequence[str] = (),
    default_annotations: bool = True,
    catalog: Catalog | str | Path | None = None,
    mirror: str | None = None,
    tls: bool = False,
    connections: int = 4,
    jobs: int = 3,
    keep_archives: bool = False,
    dry_run: bool = False,
    classes: Sequence[str] = (),
    max_images: int | None = None,
    seed: int = 0,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 30.0,
    progress: bool = False,
) -> DownloadSummary:
    """Download and extract COCO (or catalog) archives into the Ultralytics layout under ``root``.

    Parameters
    ----------
    splits
        Image splits (``train2017``, ``val2017``, …); any split also brings the catalog's default
        annotation archive unless ``default_annotations=False``.
    root
        Destination: ``images/<split>/``, ``annotations/``, ``downloads/``, ``.cocoprep/``.
    annotations
        Further annotation archives by name (``panoptic_annotations_trainval2017``, …).
    catalog
        A :class:`~cocoprep.catalog.Catalog`, a YAML catalog path, or ``None`` for COCO 2017.
    mirror, tls
        Replace the base URL (``http(s)://``, ``file://`` or a directory; default
        ``$COCOPREP_MIRROR``); ``tls`` selects the HTTPS endpoint.
    connections, jobs
        Byte ranges per large archive, and archives (or ×2 images) fetched at once.
    keep_archives
        Keep verified zips in ``root/downloads/`` (deleted after extraction by default).
    dry_run
        Only plan: no network, nothing written; see ``DownloadSummary.format()``.
    classes, max_images, seed
        Fetch only images of these classes (see :func:`download_subset`) instead of the whole
        image archives.
    retries, backoff, timeout
        Attempts without progress, first backoff delay (s) and stall timeout (s).
    progress
        Show tqdm bars on stderr.
    """
    started = time.monotonic()
    catalog = _catalog(catalog)
    root = Path(root)
    if classes and not splits:
        message = "--classes: expected a split to take the subset from (e.g. val2017), found none"
        raise InputError(message)
    if not splits and not annotations:
        message = (
            f"nothing to download: expected a split ({', '.join(catalog.splits)}) or "
            "--annotations NAME"
        )
        raise InputError(message)
    if connections < 1 or jobs < 1:
        message = f"expected connections and jobs >= 1, found {connections} and {jobs}"
        raise InputError(message)
    policy = RetryPolicy(retries=retries, backoff=backoff, timeout=timeout)
    base = resolve_base(catalog.base_url, mirror=mirror, tls=tls)
    items = plan_download(
        splits,
        root=root,
        catalog=catalog,
        base=base,
        annotations=annotations,
        default_annotations=default_annotations,
        images=not classes,
    )
    if not dry_run:
        items = [_probe(item, policy) for item in items]
    needed = sum((i.download_bytes or 0) + (i.extract_bytes or 0) for i in items)
    summary = DownloadSummary(
        root, base, items, needed, _free_bytes(root), dry_run, tuple(splits) if classes else ()
    )
    if dry_run:
        return summary
    check_space(root, items)
    for item in items:
        if item.size is None and item.action != "skip":
            logger.warning(
                "%s: size unknown, the disk-space check leaves it out", item.archive.name
            )
    total = sum(
        (i.download_bytes or 0) + (i.have_bytes if i.action == "resume" else 0) for i in items
    )
    bars = _Progress(progress and any(i.action != "skip" for i in items), total or None)
    try:
        summary.archives = _run_all(
            items,
            lambda item: _process(
                item,
                root=root,
                connections=connections,
                policy=policy,
                keep_archives=keep_archives,
                progress=bars,
            ),
            jobs,
            "archives",
        )
    finally:
        bars.close()
    for split in splits:
        full = full_annotations_path(root, split)
        if not classes and full.is_file():
            # A whole split replaces an earlier subset: bring its complete annotations back.
            os.replace(full, root / "annotations" / f"instances_{split}.json")
    for split in splits if classes else ():
        summary.subsets.append(
            download_subset(
                split,
                classes,
                root=root,
                base=base,
                max_images=max_images,
                seed=seed,
                workers=2 * jobs * connections,
                policy=policy,
                progress=progress,
            )
        )
    summary.seconds = time.monotonic() - started
    return summary


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog archive and what ``root`` holds of it."""

    name: str
    kind: str
    split: str | None
    size: int | None
    state: str


def list_catalog(
    catalog: Catalog | str | Path | None = None, *, root: str | Path
) -> list[CatalogEntry]:
    """The catalog's archives with their state under ``root``.

    States: ``extracted`` (marker matches), ``archive`` (verified zip kept, not extracted),
    ``partial N MiB`` (an interrupted ``.part``), ``stale marker`` (extracted from another
    version) or ``-``.
    """
    catalog = _catalog(catalog)
    entries = []
    for archive in catalog.archives:
        marker = marker_path(root, archive.name)
        path = archive_folder(root) / archive.filename
        part = path.with_name(path.name + ".part")
        if is_done(marker, _normal_hash(archive.md5)):
            state = "extracted" + (", archive kept" if path.is_file() else "")
        elif path.is_file():
            state = "archive"
        elif part.is_file():
            state = f"partial {_human(part.stat().st_size)}"
        elif read_marker(marker) is not None:
            state = "stale marker"
        else:
            state = "-"
        entries.append(
            CatalogEntry(archive.name, archive.kind, archive.split, archive.bytes, state)
        )
    return entries


def format_catalog(entries: Sequence[CatalogEntry]) -> str:
    """The ``--list`` table."""
    lines = [f"{'name':<34} {'kind':<11} {'split':<14} {'size':>11}  state"]
    for e in entries:
        size = _human(e.size) if e.size is not None else "unpublished"
        lines.append(f"{e.name:<34} {e.kind:<11} {e.split or '-':<14} {size:>11}  {e.state}")
    return "\n".join(lines)

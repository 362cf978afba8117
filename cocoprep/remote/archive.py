"""One archive of a download: lock it, fetch and extract it, mark it done, clean up.

A zip from a server that serves byte ranges, or from a local mirror, is extracted while it
arrives (:mod:`cocoprep.remote.streamed`). A server without ranges gets one stream into
``<archive>.part`` (:func:`~cocoprep.remote.fetch.fetch`) and the zip is extracted after its
hash is checked. Either way the completion marker is written only once every member is in
place and the archive's hash matches, and the archive is deleted (unless kept) only after it.

Two runs never work on one archive at once: each holds ``<root>/.cocoprep/<archive>.lock``
while it does; a second run waits for it (saying whom it waits for), then finds the archive
done. Other archives go on meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cocoprep import locks
from cocoprep import progress as progress_bars
from cocoprep.remote.connections import ConnectionPool
from cocoprep.remote.extract import MARKER_DIR, extract_zip, is_done, marker_path, write_marker
from cocoprep.remote.fetch import fetch
from cocoprep.remote.hashes import parse_hash
from cocoprep.remote.http import _NoRanges
from cocoprep.remote.plan import PlanItem, _normal_hash
from cocoprep.remote.streamed import stream_archive

logger = logging.getLogger("cocoprep")


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


@dataclass(frozen=True)
class Run:
    """What every archive of one download shares."""

    root: Path
    pool: ConnectionPool
    stop: threading.Event
    keep_archives: bool
    progress: progress_bars.Progress
    total: progress_bars.Bar


def archive_lock(
    root: Path, name: str, stop: threading.Event
) -> contextlib.AbstractContextManager[None]:
    """Hold ``<root>/.cocoprep/<name>.lock``, waiting (until ``stop``) for a run that holds it."""
    waiting = f"{root}: pid {{pid}} is downloading {name} into it; waiting for it to finish"
    return locks.hold(Path(root) / MARKER_DIR / f"{name}.lock", waiting, stop)


def process_archive(item: PlanItem, run: Run) -> ArchiveOutcome:
    """Bring one planned archive into place (see the module docstring)."""
    archive = item.archive
    marker = marker_path(run.root, archive.name)
    known = _normal_hash(archive.md5)
    if item.action == "skip":
        return _skipped(item)
    with archive_lock(run.root, archive.name, run.stop):
        if is_done(marker, known):  # another run finished it meanwhile
            return _skipped(item)
        started = time.monotonic()
        with progress_bars.bar(
            run.progress, total=item.size, desc=archive.filename, unit="B", leave=False
        ) as file_bar:

            def on_bytes(n: int) -> None:
                file_bar.update(n)
                run.total.update(n)

            if item.action == "extract":
                transferred, members, written, local = 0, *_extract_kept(item, marker, known), False
            else:
                transferred, members, written, local = _download(item, run, marker, known, on_bytes)
    action = {"download": "downloaded", "resume": "resumed", "extract": "extracted"}[item.action]
    kept = run.keep_archives and not local
    seconds = time.monotonic() - started
    return ArchiveOutcome(archive.name, action, transferred, seconds, members, written, kept)


def _skipped(item: PlanItem) -> ArchiveOutcome:
    return ArchiveOutcome(
        item.archive.name, "skipped (already extracted)", kept=item.archive_path.exists()
    )


def _extract_kept(item: PlanItem, marker: Path, known: str) -> tuple[int, int]:
    extracted = extract_zip(item.archive_path, item.dest, marker=marker, known_hash=known)
    return extracted.members, extracted.written


def _download(item: PlanItem, run: Run, marker: Path, known: str, on_bytes) -> tuple:
    """Stream (or fetch, then extract) the archive; ``(transferred, members, written, local)``."""
    alg, digest = parse_hash(item.archive.md5)
    part = item.archive_path.with_name(item.archive_path.name + ".part")
    try:
        result = stream_archive(
            item.url,
            part,
            dest=item.dest,
            alg=alg,
            digest=digest,
            size=item.size,
            pool=run.pool,
            stop=run.stop,
            on_bytes=on_bytes,
        )
    except _NoRanges:
        logger.info("%s: no byte ranges, downloading in one stream", item.url)
        fetched = fetch(
            item.url,
            item.archive_path,
            known_hash=item.archive.md5,
            size=item.size,
            policy=run.pool.policy,
            on_bytes=on_bytes,
            stop=run.stop,
        )
        members, written = _extract_kept(item, marker, known)
        if not run.keep_archives:
            item.archive_path.unlink()
        return fetched.transferred, members, written, False
    local = not item.url.startswith(("http://", "https://"))
    if run.keep_archives and not local:
        os.replace(part, item.archive_path)
    write_marker(marker, known, item.dest, result.members)
    if not local:
        part.unlink(missing_ok=True)
    return result.transferred, result.members, result.written, local

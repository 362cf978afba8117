"""Advisory file locks between cocoprep runs (``fcntl.flock``), re-entrant within a thread.

A lock is a file that is never deleted (deleting it would let a second run lock a new file while
the first still holds the old one); its holder writes its pid into it, so a run that has to wait
can say whom it waits for. The kernel drops a lock when its holder dies, however it dies. Where
``fcntl`` is missing (Windows) runs are not kept apart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from cocoprep.interrupts import Interrupted

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("cocoprep")

_local = threading.local()


def _held() -> dict[str, int]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


def holder(path: str | os.PathLike) -> int | None:
    """The pid written by the latest holder of the lock at ``path``, if any."""
    try:
        return int(Path(path).read_text().strip() or "x")
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def hold(
    path: str | os.PathLike,
    waiting: str | None = None,
    stop: threading.Event | None = None,
) -> Iterator[None]:
    """Hold the lock at ``path`` (created, with its folder, when missing) for the block,
    waiting for any other holder first. ``waiting`` is logged as a warning before waiting, its
    ``{pid}`` replaced by the holder's pid (None: wait without a word). A thread that is not
    the main one (where no signal interrupts a wait) passes the run's ``stop``: once set, the
    wait ends with :class:`~cocoprep.interrupts.Interrupted`."""
    key = os.path.abspath(path)
    held = _held()
    if key in held or fcntl is None:
        held[key] = held.get(key, 0) + 1
        try:
            yield
        finally:
            held[key] -= 1
            if not held[key]:
                del held[key]
        return
    Path(key).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                log.warning(waiting.replace("{pid}", str(holder(key) or "unknown")))
            _wait(fd, stop)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        held[key] = 1
        try:
            yield
        finally:
            del held[key]
    finally:
        os.close(fd)  # drops the lock


def held_elsewhere(path: str | os.PathLike) -> bool:
    """Whether another run holds the lock at ``path`` now (False for a missing lock file, one
    this thread holds, or where ``fcntl`` is missing)."""
    key = os.path.abspath(path)
    if fcntl is None or key in _held():
        return False
    try:
        fd = os.open(key, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # drops the shared lock taken to test
    return False


def _wait(fd: int, stop: threading.Event | None) -> None:
    """Take the lock on ``fd`` once its holder lets go (or, with ``stop``, until it is set)."""
    if stop is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    while not stop.wait(0.1):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
    raise Interrupted

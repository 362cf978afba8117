"""Temporary names that say who made them, and removing those of runs that are gone.

A killed run leaves its temporary files and folders behind. Each carries its owner's *tag*,
``<pid>-<start>`` (the process id and its start time in clock ticks since boot, so a reused pid
is not taken for the owner), in its name; a later run removes what dead owners left
(:func:`sweep`). Where a process's start time cannot be read (not Linux) the tag is
``<pid>-0`` and only the pid is checked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger("cocoprep")

# <base>.<pid>[-<start>].<kind>: stages (tmp), trees built aside (new), trees put aside (old),
# and write_atomic's temporary files (tmp). A name without a start time is from an older run.
_OWNED = re.compile(r"^(?P<base>.+)\.(?P<pid>\d+)(?:-(?P<start>\d+))?\.(?P<kind>tmp|new|old)$")
# Label text stores: cocoprep-labels-<pid>-<start>-<random>.txt (and .txt.context).
_STORE = re.compile(r"^cocoprep-labels-(?P<pid>\d+)-(?P<start>\d+)-")

_own: tuple[int, str] | None = None


def _start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so count from its closing bracket.
    return int(stat[stat.rindex(b")") + 2 :].split()[19])


def tag() -> str:
    """This process's tag, ``<pid>-<start>``.

    >>> tag().split("-")[0] == str(os.getpid())
    True
    """
    global _own
    pid = os.getpid()
    if _own is None or _own[0] != pid:  # a forked child has its own
        _own = (pid, f"{pid}-{_start_time(pid) or 0}")
    return _own[1]


def alive(pid: int, start: int | None) -> bool:
    """Whether the process that made a tag ``<pid>-<start>`` still runs (``start`` None or 0:
    unknown, the pid alone decides)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    if not start:
        return True
    return _start_time(pid) in (start, None)


def _owner_gone(match: re.Match[str]) -> bool:
    start = match.group("start")
    return not alive(int(match.group("pid")), int(start) if start else None)


def sweep(folder: str | os.PathLike) -> list[str]:
    """Remove what dead owners left in ``folder`` (not below it); return the names removed.

    A tree put aside (``.old``) whose place is empty goes back there instead: its owner died
    between moving it away and moving the new tree in.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _OWNED.match(entry.name) or _STORE.match(entry.name)
        # Without a start time, only hidden names (older runs' stages) are taken for debris.
        legacy = match is not None and not match.group("start") and entry.name[0] != "."
        if match is None or legacy or not _owner_gone(match):
            continue
        if match.re is _OWNED and match.group("kind") == "old":
            place = Path(folder) / match.group("base").removeprefix(".")
            if not place.exists():
                with contextlib.suppress(OSError):
                    os.rename(entry.path, place)
                    log.warning("%s: restored from %s, left by a killed run", place, entry.name)
                    continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
        removed.append(entry.name)
    if removed:
        log.info("%s: removed %d leftovers of killed runs", folder, len(removed))
    return removed

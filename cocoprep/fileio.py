"""Atomic, idempotent file writes.

Every file cocoprep writes goes to a temporary name beside its target and is renamed over it, so a
killed run never leaves a half-written label file. A file whose bytes are already right is left
untouched: a re-run changes nothing, and Make sees no newer file.
"""

from __future__ import annotations

import os
from pathlib import Path


def same_content(path: str | os.PathLike, data: bytes) -> bool:
    """True when ``path`` exists and holds exactly ``data``."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(data) + 1) == data
    except OSError:
        return False


def write_atomic(path: str | os.PathLike, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Returns False (and writes nothing) when the file already holds ``data``.
    """
    if same_content(path, data):
        return False
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True

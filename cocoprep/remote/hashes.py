"""File hashing in chunks, pooch-style: ``"md5:<hex>"`` strings, never a whole file in memory.

A known hash is either a bare hex digest (MD5 assumed, as in the COCO tables) or
``"<algorithm>:<hex>"`` with any algorithm :mod:`hashlib` offers.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import weakref
from pathlib import Path

from cocoprep.errors import ChecksumError, CocoprepError

CHUNK_SIZE = 1 << 20
DEFAULT_ALGORITHM = "md5"
_HEX = "0123456789abcdef"


def parse_hash(known_hash: str) -> tuple[str, str]:
    """Split ``"alg:hex"`` (or a bare hex digest, meaning MD5) into ``(alg, hex)``.

    Examples
    --------
    >>> parse_hash("md5:442B8DA7639AECAF257C1DCEB8BA8C80")
    ('md5', '442b8da7639aecaf257c1dceb8ba8c80')
    >>> parse_hash("442b8da7639aecaf257c1dceb8ba8c80")
    ('md5', '442b8da7639aecaf257c1dceb8ba8c80')
    """
    alg, sep, digest = known_hash.strip().partition(":")
    if not sep:
        alg, digest = DEFAULT_ALGORITHM, alg
    alg, digest = alg.lower(), digest.lower()
    if alg not in hashlib.algorithms_available or not digest or set(digest) - set(_HEX):
        message = (
            f"hash {known_hash!r}: expected a hex digest, optionally prefixed by an algorithm "
            "hashlib knows; use e.g. 'md5:<hex>' or 'sha256:<hex>'"
        )
        raise CocoprepError(message)
    return alg, digest


def new_hasher(alg: str = DEFAULT_ALGORITHM):
    """A fresh :mod:`hashlib` object; MD5 is flagged as not used for security where supported."""
    if alg == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.new(alg)


def _drain(chunks: queue.Queue, hasher) -> None:
    while (item := chunks.get()) is not None:
        if isinstance(item, threading.Event):
            item.set()
        else:
            hasher.update(item)


class BackgroundHasher:
    """A hasher whose ``update`` returns at once; the hashing runs on its own thread.

    While a download waits for the network and writes to disk, the previous chunk is hashed
    (hashlib releases the GIL), so MD5 no longer adds its time to the transfer's. ``name``,
    ``update`` and ``hexdigest`` behave like a :mod:`hashlib` object's; ``hexdigest`` waits for
    the queued chunks.

    Examples
    --------
    >>> hasher = BackgroundHasher("md5")
    >>> hasher.update(b"coco"); hasher.update(b"prep")
    >>> hasher.hexdigest()
    'd4cd652a0ccb51dc3dec2dd36f76b189'
    """

    def __init__(self, alg: str = DEFAULT_ALGORITHM, *, depth: int = 8):
        self.name = alg
        self._hasher = new_hasher(alg)
        self._chunks: queue.Queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(
            target=_drain, args=(self._chunks, self._hasher), daemon=True, name="cocoprep-hash"
        )
        self._thread.start()
        # An abandoned hasher (a failed download) still stops its thread.
        weakref.finalize(self, self._chunks.put, None)

    def update(self, data: bytes) -> None:
        """Queue ``data`` (bytes, not a buffer that will be reused) for hashing."""
        self._chunks.put(data)

    def hexdigest(self) -> str:
        """The digest of everything queued so far (waits for the worker)."""
        done = threading.Event()
        self._chunks.put(done)
        done.wait()
        return self._hasher.hexdigest()


def update_from_file(hasher, path: str | Path, *, size: int | None = None) -> int:
    """Feed the first ``size`` bytes of ``path`` (all when ``None``) into ``hasher``.

    Returns the number of bytes hashed (less than ``size`` when the file is shorter).
    """
    done = 0
    with open(path, "rb") as file:
        while size is None or done < size:
            want = CHUNK_SIZE if size is None else min(CHUNK_SIZE, size - done)
            chunk = file.read(want)
            if not chunk:
                break
            hasher.update(chunk)
            done += len(chunk)
    return done


def file_hash(path: str | Path, alg: str = DEFAULT_ALGORITHM) -> str:
    """Hex digest of a file, read in 1 MiB chunks.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"cocoprep")
    >>> file_hash(f.name)
    'd4cd652a0ccb51dc3dec2dd36f76b189'
    >>> os.remove(f.name)
    """
    hasher = new_hasher(alg)
    update_from_file(hasher, path)
    return hasher.hexdigest()


def hash_matches(path: str | Path, known_hash: str | None, *, strict: bool = False) -> bool:
    """Whether ``path`` has ``known_hash`` (always true when ``known_hash`` is ``None``).

    With ``strict=True`` a mismatch raises :class:`ChecksumError` naming both digests.
    """
    if known_hash is None:
        return True
    alg, expected = parse_hash(known_hash)
    found = file_hash(path, alg)
    if found == expected or not strict:
        return found == expected
    message = (
        f"{path}: expected {alg.upper()} {expected}, found {found}; "
        "delete the file and download it again"
    )
    raise ChecksumError(message)

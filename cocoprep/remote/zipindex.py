"""A zip archive's directory read from its last bytes, and members written from a byte range.

:func:`read_index` parses the end-of-central-directory record (zip64 too) and the central
directory out of a few fetched ranges at the end of the archive, before the rest exists on
disk; :class:`Index` then tells which byte span each member occupies, so a member can be
written (:func:`write_member`) as soon as its span has arrived, verified by its CRC-32.
Members are checked by the same rules as a whole-zip extraction (no absolute, ``..`` or link
members) before anything is written.
"""

from __future__ import annotations

import bisect
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cocoprep.errors import InputError, UnsafeArchiveError
from cocoprep.remote.extract import TEMP_SUFFIX, member_targets

CHUNK_SIZE = 1 << 20
TAIL_BYTES = 64 << 10
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class _Missing(Exception):
    """The directory needs bytes from ``start`` on, before the ranges fetched so far."""

    def __init__(self, start: int) -> None:
        super().__init__(start)
        self.start = start


class _TailView(io.RawIOBase):
    """A read-only file of ``size`` bytes of which only ``[offset, size)`` is known."""

    def __init__(self, size: int, offset: int, data: bytes) -> None:
        self._size, self._offset, self._data, self._pos = size, offset, data, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos + (0, self._pos, self._size)[whence]
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        if end <= self._pos:
            return b""
        if self._pos < self._offset:
            raise _Missing(self._pos)
        data = self._data[self._pos - self._offset : end - self._offset]
        self._pos = end
        return data


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes ``[start, end)`` of the archive: a member (``member`` is its index) or a gap."""

    start: int
    end: int
    member: int | None


class Index:
    """The members of a zip of ``size`` bytes, their targets under ``dest`` and their spans.

    Spans tile ``[0, size)`` in order: a gap before the first member (when there is one), one
    span per member from its local header to the next member's, and the central directory with
    the end records. A member can be written once all of its span is on disk.
    """

    def __init__(
        self, infos: list[zipfile.ZipInfo], size: int, dest: Path, archive: str, cd_start: int
    ) -> None:
        targets = dict(
            (id(info), target) for info, target in member_targets(infos, dest, archive=archive)
        )
        self.infos = sorted(infos, key=lambda info: info.header_offset)
        self.targets = [targets.get(id(info)) for info in self.infos]
        for info, target in zip(self.infos, self.targets, strict=False):
            if target is not None and info.compress_type not in METHODS:
                message = (
                    f"{archive}: member {info.filename!r} is compressed with method "
                    f"{info.compress_type}; expected stored or deflated members"
                )
                raise InputError(message, path=archive)
        starts = [info.header_offset for info in self.infos]
        bounds = [*starts[1:], cd_start]
        spans = [Span(0, starts[0], None)] if starts and starts[0] > 0 else []
        for index, (start, end) in enumerate(zip(starts, bounds, strict=False)):
            if end < start + _LOCAL_HEADER.size + self.infos[index].compress_size:
                message = (
                    f"{archive}: member {self.infos[index].filename!r} overlaps the next one; "
                    "the archive is not trustworthy, check its source"
                )
                raise UnsafeArchiveError(
                    message,
                    path=archive,
                )
            spans.append(Span(start, end, index))
        spans.append(Span(cd_start if self.infos else 0, size, None))
        self.spans = spans
        self._ends = [span.end for span in spans]
        self.size = size

    def overlapping(self, start: int, end: int) -> range:
        """Indices of the spans that share bytes with ``[start, end)``."""
        first = bisect.bisect_right(self._ends, start)
        last = bisect.bisect_left(self._ends, end)
        return range(first, min(last + 1, len(self.spans)))

    @property
    def files(self) -> int:
        """How many members are files to write."""
        return sum(target is not None for target in self.targets)


def read_index(
    size: int,
    fetch_range: Callable[[int, int], bytes],
    *,
    dest: Path,
    archive: str,
    tail: bytes = b"",
) -> tuple[Index, int, bytes]:
    """Read the directory of a zip of ``size`` bytes with ``fetch_range(start, end)``.

    ``tail`` may already hold the archive's last bytes. Returns the index, the offset where the
    fetched end begins, and those bytes (to be written into the part file as they are).
    """
    offset = size - len(tail)
    if not tail:
        offset = max(0, size - TAIL_BYTES)
        tail = fetch_range(offset, size)
    while True:
        try:
            with zipfile.ZipFile(_TailView(size, offset, tail)) as zf:
                infos = zf.infolist()
                cd_start = zf.start_dir
            break
        except _Missing as missing:
            tail = fetch_range(missing.start, offset) + tail
            offset = missing.start
        except (zipfile.BadZipFile, zipfile.LargeZipFile, struct.error, ValueError) as error:
            message = f"{archive}: expected a zip archive, found {error}; check its source"
            raise InputError(message, path=archive) from error
    return Index(infos, size, dest, archive, cd_start), offset, tail


def _data_start(fd: int, info: zipfile.ZipInfo) -> int | None:
    """Where the member's data begins, ``None`` when its local header is damaged."""
    header = os.pread(fd, _LOCAL_HEADER.size, info.header_offset)
    fields = _LOCAL_HEADER.unpack(header) if len(header) == _LOCAL_HEADER.size else None
    if fields is None or fields[0] != _LOCAL_SIGNATURE:
        return None
    return info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]


def member_crc(path: str | Path) -> int:
    """CRC-32 of a file on disk."""
    crc = 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            crc = zlib.crc32(chunk, crc)
    return crc


def already_there(info: zipfile.ZipInfo, target: str | Path) -> bool:
    """Whether ``target`` already holds the member (same size and CRC-32)."""
    try:
        if os.stat(target).st_size != info.file_size:
            return False
    except OSError:
        return False
    return member_crc(target) == info.CRC


def write_member(
    fd: int, info: zipfile.ZipInfo, target: str | Path, *, folder_made: bool = False
) -> bool:
    """Write member ``info`` from the archive open as ``fd`` to ``target``, atomically.

    Returns ``False`` (and writes nothing) when the bytes do not give the member's local header,
    CRC-32 and size: a corrupt range, to be fetched again. ``folder_made``: the target's folder
    is known to exist.
    """
    position = _data_start(fd, info)
    if position is None:
        return False
    end = position + info.compress_size
    inflate = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    folder, name = os.path.split(os.fspath(target))
    if not folder_made:
        os.makedirs(folder, exist_ok=True)
    temp = os.path.join(folder, f".{name}{TEMP_SUFFIX}")
    crc = written = 0
    try:
        with open(temp, "wb") as sink:
            while position < end:
                chunk = os.pread(fd, min(CHUNK_SIZE, end - position), position)
                if not chunk:
                    break
                position += len(chunk)
                data = inflate.decompress(chunk) if inflate else chunk
                crc = zlib.crc32(data, crc)
                written += len(data)
                sink.write(data)
            if inflate is not None:
                data = inflate.flush()
                crc, written = zlib.crc32(data, crc), written + len(data)
                sink.write(data)
    except zlib.error:
        os.unlink(temp)
        return False
    if crc != info.CRC or written != info.file_size:
        os.unlink(temp)
        return False
    os.replace(temp, target)
    return True


class MemberWriter:
    """Writes members of the archive open as ``fd``, none twice.

    Each target folder is listed (and made) once, at its first member. A member whose name is
    listed is only read: it is kept when its size and CRC-32 match (a killed run wrote it after
    its last save, a local mirror extracted before). Any other is written without a look at the
    disk, which for COCO's 118K images saves a stat and a mkdir each.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._listed: dict[str, frozenset[str]] = {}

    def write(self, info: zipfile.ZipInfo, target: str | Path) -> str:
        """``"written"``, ``"kept"`` (already on disk) or ``"damaged"`` (the bytes are not the
        member's: fetch them again)."""
        folder, name = os.path.split(os.fspath(target))
        listed = self._listed.get(folder)
        if listed is None:
            listed = self._listed[folder] = self._list(folder)
        if name in listed and already_there(info, target):
            return "kept"
        return "written" if write_member(self.fd, info, target, folder_made=True) else "damaged"

    @staticmethod
    def _list(folder: str) -> frozenset[str]:
        os.makedirs(folder, exist_ok=True)
        return frozenset(os.listdir(folder))

"""Byte-level scanning of a COCO-format JSON file: where its top-level arrays lie, and how to
cut an array into byte ranges that each parse on their own.

The file is memory-mapped and searched for the keys of its top-level arrays (``images``,
``annotations``, ``categories``); each large array is cut into ranges that end on element
boundaries, so that every range parses on its own (``b"[" + range + b"]"``), in parallel, by
separate processes, each holding only its own piece: into Python objects with :mod:`orjson`
(:func:`parse_range`), or into a lazy :mod:`simdjson` document whose number arrays are copied
out in C (:func:`parse_objects`). A piece that does not parse as a list of objects raises
:class:`~cocoprep.errors.LayoutError`, and the reader (:mod:`cocoprep.coco`) falls back to
parsing the whole file.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import simdjson

from cocoprep.errors import LayoutError

#: The top-level arrays cocoprep reads.
SECTIONS = ("images", "annotations", "categories")
# Bounding keys: other top-level keys of common COCO-format files, found only to end a section.
_OTHER_KEYS = ("info", "licenses")
_ELEMENT_GAP = re.compile(rb"\}\s*,\s*\{")
_COLON = re.compile(rb"\s*:\s*")
_NOT_SPACE = re.compile(rb"\S")


def _key_value(buf: mmap.mmap | bytes, key: str, *, last: bool = False, limit: int = -1) -> int:
    """Offset of the value of ``"key":`` (first or last occurrence), or -1."""
    needle = b'"' + key.encode() + b'"'
    end = len(buf) if limit < 0 else min(limit, len(buf))
    start = buf.rfind(needle) if last else buf.find(needle, 0, end)
    while start != -1:
        match = _COLON.match(buf, start + len(needle))
        if match:
            return match.end()
        start = buf.rfind(needle, 0, start) if last else buf.find(needle, start + 1, end)
    return -1


def _find_keys(buf: mmap.mmap | bytes) -> dict[str, int]:
    """Byte offsets of the values of the top-level keys cocoprep knows about.

    ``categories`` is looked for from the end, where COCO files keep it, and the small
    ``info`` and ``licenses`` only near the start, so no search crosses the annotations twice.
    """
    found = {
        "images": _key_value(buf, "images"),
        "annotations": _key_value(buf, "annotations"),
        "categories": _key_value(buf, "categories", last=True),
    }
    head = min(found["images"], found["annotations"])
    for key in _OTHER_KEYS:
        found[key] = _key_value(buf, key, limit=head)
    return {key: offset for key, offset in found.items() if offset != -1}


def find_sections(buf: mmap.mmap | bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges ``[start, end)`` of the top-level arrays, from ``[`` to one past ``]``.

    Raises :class:`LayoutError` when a section cannot be bounded by byte search.
    """
    keys = _find_keys(buf)
    if "images" not in keys or "annotations" not in keys:
        msg = "images or annotations key not found"
        raise LayoutError(msg)
    starts = sorted(keys.values())
    end_of_object = buf.rfind(b"}")
    sections = {}
    for name in SECTIONS:
        if name not in keys:
            continue
        start = keys[name]
        if buf[start] != ord("["):
            msg = f"{name} is not an array"
            raise LayoutError(msg)
        later = [s for s in starts if s > start]
        limit = later[0] if later else end_of_object
        end = buf.rfind(b"]", start, limit)
        if end == -1:
            msg = f"end of {name} not found"
            raise LayoutError(msg)
        sections[name] = (start, end + 1)
    _check_top_level(buf, sections)
    return sections


def _check_top_level(buf: mmap.mmap | bytes, sections: dict[str, tuple[int, int]]) -> None:
    """A :class:`LayoutError` unless ``sections`` are the values of the object's own keys.

    The file with each section replaced by a marker string is small (``info``, ``licenses``
    and such) and parsed whole: the markers must come back as the top-level values, so a
    look-alike key nested elsewhere (``"info": {"images": …}``, ``{"data": coco}``) or a
    section cut at the wrong bracket sends the reader to the full parse.
    """
    pieces, at = [], 0
    for name, (start, end) in sorted(sections.items(), key=lambda item: item[1]):
        pieces += [buf[at:start], b'"\\u0000cocoprep:' + name.encode() + b'"']
        at = end
    pieces.append(buf[at:])
    try:
        top = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        top = None
    if not isinstance(top, dict) or any(top.get(name) != "\0cocoprep:" + name for name in sections):
        msg = "the arrays found are not the top-level ones"
        raise LayoutError(msg)


def split_array(
    buf: mmap.mmap | bytes, start: int, end: int, target_bytes: int
) -> list[tuple[int, int]]:
    """Cut the array ``buf[start:end]`` (brackets included) into element-aligned byte ranges of
    about ``target_bytes`` each (brackets excluded): each cut is the first gap between elements
    after a multiple of ``target_bytes`` (see :func:`prefetch_cuts`). An empty array gives no
    range."""
    inner_start, inner_end = start + 1, end - 1
    if not _NOT_SPACE.search(buf, inner_start, inner_end):
        return []
    ranges = []
    begin = inner_start
    for near in _cut_searches(start, end, target_bytes):
        if near < begin:
            continue  # a long element ran past this multiple
        match = _ELEMENT_GAP.search(buf, near, inner_end)
        if match is None:
            break
        unmap(buf, near, match.end())
        ranges.append((begin, match.start() + 1))
        begin = match.end() - 1
    ranges.append((begin, inner_end))
    return ranges


#: Large folios of the page cache are mapped whole (up to this size) when one byte is read.
_FOLIO = 2 << 20


def unmap(buf: mmap.mmap | bytes, start: int = 0, end: int | None = None) -> None:
    """Drop this process's mapping of ``buf[start:end]`` (rounded out to whole folios); the
    file's pages stay in the page cache, and are mapped again if read again. No-op for bytes.

    The kernel maps a large page-cache folio whole when one of its bytes is read: ~200 searches
    for cuts in a train2017 file (read once already, so cached in 2 MB folios) otherwise added
    370 MB to this process's resident size.
    """
    if type(buf) is not mmap.mmap or not hasattr(mmap, "MADV_DONTNEED"):
        return
    end = len(buf) if end is None else min(end, len(buf))
    first = start - start % _FOLIO
    last = min(len(buf), end + -end % _FOLIO)
    if last > first:
        buf.madvise(mmap.MADV_DONTNEED, first, last - first)


def _cut_searches(start: int, end: int, target_bytes: int) -> range:
    """Where :func:`split_array` starts looking for each cut in the array ``buf[start:end]``."""
    return range(start + 1 + target_bytes, end - 1, target_bytes)


#: Bytes read ahead where :func:`split_array` will look for a cut.
_CUT_WINDOW = 64 << 10


def prefetch_cuts(buf: mmap.mmap, start: int, end: int, target_bytes: int) -> None:
    """Ask the system to read, in the background, the pages where :func:`split_array` will look
    for cuts in ``buf[start:end]``: in a file not yet cached, ~200 searches (train2017) would
    each wait for the disk. A no-op where ``madvise`` is missing."""
    if not hasattr(mmap, "MADV_WILLNEED"):
        return
    for near in _cut_searches(start, end, target_bytes):
        page = near - near % mmap.PAGESIZE
        buf.madvise(mmap.MADV_WILLNEED, page, min(_CUT_WINDOW, len(buf) - page))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: JSON trees hold no cycles, and a collection pass over
    millions of fresh containers (triggered again and again while they are built) costs more
    than the parse itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_range(buf: mmap.mmap | bytes, start: int, end: int) -> list[dict[str, Any]]:
    """Parse the elements in ``buf[start:end]`` as a list of JSON objects.

    Raises :class:`LayoutError` when they do not parse or are not objects.
    """
    return _load_objects(b"[" + buf[start:end] + b"]")


def _load_objects(data: bytes | bytearray) -> list[dict[str, Any]]:
    try:
        with gc_paused():
            items = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise LayoutError(str(error)) from error
    if items and not (type(items[0]) is dict and type(items[-1]) is dict):
        msg = "array elements are not objects"
        raise LayoutError(msg)
    return items


def _read_array(path: str | Path, start: int, end: int) -> bytearray:
    """``[`` + the file's bytes ``start:end`` + ``]``, read in place (no copies)."""
    data = bytearray(end - start + 2)
    data[0], data[-1] = ord("["), ord("]")
    with open(path, "rb") as handle:
        handle.seek(start)
        if handle.readinto(memoryview(data)[1:-1]) != end - start:
            msg = f"{path}: shorter than expected (changed while being read?)"
            raise LayoutError(msg)
    return data


def parse_file_range(path: str | Path, start: int, end: int) -> list[dict[str, Any]]:
    """:func:`parse_range` on a file, read by a worker process (no shared memory needed)."""
    return _load_objects(_read_array(path, start, end))


_parser: simdjson.Parser | None = None


def parse_objects(path: str | Path, start: int, end: int) -> simdjson.Array:
    """The elements in a byte range of a file as a lazy :mod:`simdjson` array of objects.

    Nothing becomes a Python object until it is asked for, and number arrays can be copied out
    whole in C (``Array.as_buffer``): convert's fast path. The array stays valid until the next
    call (the parser's buffers are reused). Raises :class:`LayoutError` like :func:`parse_range`,
    also for what simdjson alone rejects (integers beyond 64 bits, numbers beyond a double).
    """
    global _parser
    data = _read_array(path, start, end)
    for attempt in range(2):
        if _parser is None or attempt:
            # A fresh parser too when a failed chunk's objects still hold the old one.
            _parser = simdjson.Parser()
        try:
            items = _parser.parse(data)
            break
        except (ValueError, RuntimeError) as error:
            failure = error
    else:
        raise LayoutError(str(failure)) from failure
    if type(items) is not simdjson.Array or (
        len(items)
        and not (type(items[0]) is simdjson.Object and type(items[-1]) is simdjson.Object)
    ):
        msg = "array elements are not objects"
        raise LayoutError(msg)
    return items

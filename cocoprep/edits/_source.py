"""A COCO file opened for an edit: its top level, images and categories parsed, its annotations
left in the file and read twice, chunk by chunk.

The first pass (:meth:`Source.columns`) parses each chunk lazily with :mod:`simdjson` and copies
out only the fields an edit decides on (``image_id``, ``category_id``, …); nothing else becomes
a Python object. The second pass (:meth:`Source.chunks`) hands over each annotation as the bytes
it has in the file, so the edits copy what they keep byte for byte and re-serialise only the
objects they change. The element boundaries come from a byte search for ``}, {``, trusted only
when it finds exactly one fewer than the first pass counted elements: a chunk where the search
also hits inside an annotation (an array of objects in it) is parsed and re-serialised instead.
A file whose layout the byte search cannot bound at all is parsed whole (:func:`open_source`).
"""

from __future__ import annotations

import contextlib
import mmap
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import simdjson

from cocoprep import coco, jsonscan
from cocoprep.errors import InputError, LayoutError
from cocoprep.layout import split_from_filename

#: Annotation chunks of about this many bytes are read at a time.
CHUNK_BYTES = 8 << 20
#: Annotations per chunk of a file parsed whole.
_WHOLE_CHUNK = 20_000
_SECTIONS = ("images", "annotations", "categories")
_GAP = re.compile(rb"\}\s*,\s*\{")
_NUMBER_TYPES = (int, float)


@dataclass
class Columns:
    """Fields of every annotation of a file, in file order (only those asked for are filled)."""

    image_ids: np.ndarray
    category_ids: np.ndarray
    ids: np.ndarray | None = None
    areas: np.ndarray | None = None
    #: Position of each annotation's image in :attr:`Source.images`.
    image_pos: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.image_ids)


@dataclass
class Source:
    """An open COCO file (see the module docstring); from :func:`open_source`."""

    path: Path
    #: Every top-level key in file order; the three sections' values are not kept here.
    top: dict[str, Any]
    images: list[dict[str, Any]]
    #: Each image's JSON text as in the file.
    image_texts: list[bytes]
    table: coco.ImageTable
    categories: list[dict[str, Any]]
    _buf: mmap.mmap | None = field(default=None, repr=False)
    _ranges: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _counts: list[int] | None = field(default=None, repr=False)
    _annotations: list[dict[str, Any]] | None = field(default=None, repr=False)

    def columns(self, fields: Sequence[str] = ()) -> Columns:
        """First pass: ``image_id`` and ``category_id`` of every annotation, and the other
        ``fields`` (``id``, ``area``), each checked; an annotation whose image or category the
        file lacks is an error."""
        wanted = ("image_id", "category_id", *fields)
        try:
            values = self._column_values(wanted)
        except LayoutError:
            self._load_whole()
            values = self._column_values(wanted)
        found = Columns(
            image_ids=values["image_id"],
            category_ids=values["category_id"],
            ids=values.get("id"),
            areas=values.get("area"),
        )
        found.image_pos = self._check_references(found)
        return found

    def chunks(self) -> Iterator[list[bytes]]:
        """Second pass: the annotations' JSON texts, a chunk at a time, in file order (after
        :meth:`columns`)."""
        if self._annotations is not None:
            for begin in range(0, len(self._annotations), _WHOLE_CHUNK):
                yield [orjson.dumps(a) for a in self._annotations[begin : begin + _WHOLE_CHUNK]]
            return
        assert self._buf is not None and self._counts is not None, "columns() comes first"
        for (start, end), count in zip(self._ranges, self._counts, strict=True):
            texts = element_texts(self._buf, start, end, count)
            if texts is None:
                texts = [orjson.dumps(a) for a in jsonscan.parse_range(self._buf, start, end)]
            jsonscan.unmap(self._buf, start, end)
            yield texts

    def _column_values(self, wanted: Sequence[str]) -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
        counts = []
        offset = 0
        for items in self._parsed_chunks():
            if items and type(items[0]) is not dict and type(items[0]) is not simdjson.Object:
                msg = f"{self.path}: annotations[{offset}] is not an object"
                raise InputError(msg)
            for name in wanted:
                parts[name].append(_column(items, name, offset, self.path))
            counts.append(len(items))
            offset += len(items)
            del items  # simdjson reuses its parser only when the last chunk is gone
        self._counts = counts
        kinds = {name: np.float64 if name == "area" else np.int64 for name in wanted}
        return {name: np.concatenate([np.empty(0, kinds[name]), *parts[name]]) for name in wanted}

    def _parsed_chunks(self) -> Iterator[Any]:
        if self._annotations is not None:
            for begin in range(0, len(self._annotations), _WHOLE_CHUNK):
                yield self._annotations[begin : begin + _WHOLE_CHUNK]
            return
        for start, end in self._ranges:
            yield jsonscan.parse_objects(self.path, start, end)

    def _load_whole(self) -> None:
        """Fall back to the annotations parsed whole (a chunk the fast reader could not parse:
        an unusual layout, or invalid JSON, whose position this reports)."""
        data = coco.load_coco_dict(self.path)
        self._annotations = data["annotations"]

    def _check_references(self, found: Columns) -> np.ndarray:
        pos = self.table.index_of(found.image_ids)
        if (pos < 0).any():
            bad = int(np.flatnonzero(pos < 0)[0])
            msg = (
                f"{self.path}: annotations[{bad}]: expected an image_id among the file's images, "
                f"found {int(found.image_ids[bad])}; remove the annotation or add its image"
            )
            raise InputError(msg)
        known = np.array([c["id"] for c in self.categories], np.int64)
        unknown = ~np.isin(found.category_ids, known)
        if unknown.any():
            bad = int(np.flatnonzero(unknown)[0])
            msg = (
                f"{self.path}: annotations[{bad}]: expected a category_id among the file's "
                f"categories, found {int(found.category_ids[bad])}; add the category"
            )
            raise InputError(msg)
        return pos


def _column(items: Any, name: str, offset: int, path: Path) -> np.ndarray:
    """One field of a chunk's annotations as an array, each value checked."""
    try:
        values = [item.get(name) for item in items]
    except AttributeError:
        bad = next(i for i, item in enumerate(items) if not hasattr(item, "get"))
        msg = f"{path}: annotations[{offset + bad}] is not an object"
        raise InputError(msg) from None
    kinds = _NUMBER_TYPES if name == "area" else (int,)
    if set(map(type, values)) <= set(kinds):  # checked in C first, one by one if it fails
        with contextlib.suppress(OverflowError):
            return np.array(values, np.float64 if name == "area" else np.int64)
    if name == "area":
        good = [type(v) in _NUMBER_TYPES for v in values]
        expected = "a number"
    else:
        good = [type(v) is int and -(2**63) <= v < 2**63 for v in values]
        expected = "a 64-bit integer"
    bad = good.index(False)
    msg = (
        f"{path}: annotations[{offset + bad}]: expected {expected} as {name}, found "
        f"{values[bad]!r}; fix the annotation"
    )
    raise InputError(msg)


def element_texts(buf: mmap.mmap | bytes, start: int, end: int, count: int) -> list[bytes] | None:
    """The texts of the ``count`` objects in ``buf[start:end]`` (a piece of an array), or None
    when a byte search for the gaps between them does not find exactly ``count - 1``.

    >>> element_texts(b'{"a": 1}, {"b": [{}, {}]}', 0, 25, 2)
    >>> element_texts(b'{"a": 1},\\n {"b": 2}', 0, 19, 2)
    [b'{"a": 1}', b'{"b": 2}']
    """
    if count == 0:
        return []
    gaps = [match.span() for match in _GAP.finditer(buf, start, end)]
    if len(gaps) != count - 1:
        return None
    starts = [start, *(gap_end - 1 for _, gap_end in gaps)]
    ends = [*(gap_start + 1 for gap_start, _ in gaps), end]
    return [buf[a:b] for a, b in zip(starts, ends, strict=True)]


@contextlib.contextmanager
def open_source(path: str | Path) -> Iterator[Source]:
    """Open a COCO file for an edit (see the module docstring); closed when the block ends."""
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no such file (expected a COCO JSON annotation file)"
        raise InputError(msg)
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by the stack below)
    except OSError as error:
        msg = f"{path}: cannot read: {error}"
        raise InputError(msg) from error
    with contextlib.ExitStack() as stack:
        stack.enter_context(handle)
        if path.stat().st_size == 0:
            msg = f"{path}: the file is empty; expected COCO JSON"
            raise InputError(msg)
        buf = stack.enter_context(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        try:
            source = _open_streaming(path, buf)
        except LayoutError:
            source = _open_whole(path)
        yield source


def _open_streaming(path: Path, buf: mmap.mmap) -> Source:
    sections = jsonscan.find_sections(buf)
    top = _top_level(buf, sections)
    images: list[dict[str, Any]] = []
    texts: list[bytes] = []
    for start, end in jsonscan.split_array(buf, *sections["images"], CHUNK_BYTES):
        chunk = jsonscan.parse_range(buf, start, end)
        images += chunk
        texts += element_texts(buf, start, end, len(chunk)) or [orjson.dumps(i) for i in chunk]
    categories: Any = None
    if "categories" in sections:
        start, end = sections["categories"]
        categories = jsonscan.parse_range(buf, start + 1, end - 1)
    jsonscan.unmap(buf)
    return Source(
        path=path,
        top=top,
        images=images,
        image_texts=texts,
        table=coco.image_table(images, split_from_filename(path), path),
        categories=coco.check_categories(categories, path),
        _buf=buf,
        _ranges=jsonscan.split_array(buf, *sections["annotations"], CHUNK_BYTES),
    )


def _top_level(buf: mmap.mmap, sections: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """The file's top-level object with its sections emptied: the keys in order, and the
    values of the others (``info``, ``licenses``, …). A byte search that bounded a section
    wrongly leaves text that is no such object: :class:`LayoutError`."""
    pieces, last = [], 0
    for start, end in sorted(sections.values()):
        pieces += [buf[last:start], b"[]"]
        last = end
    pieces.append(buf[last:])
    try:
        top = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError as error:
        raise LayoutError(str(error)) from error
    if type(top) is not dict or any(top.get(name, []) != [] for name in _SECTIONS):
        msg = "the sections found are not the top-level arrays"
        raise LayoutError(msg)
    return top


def _open_whole(path: Path) -> Source:
    data = coco.load_coco_dict(path)
    images = data["images"]
    table = coco.image_table(images, split_from_filename(path), path)
    return Source(
        path=path,
        top=data,
        images=images,
        image_texts=[orjson.dumps(i) for i in images],
        table=table,
        categories=coco.check_categories(data.get("categories"), path),
        _annotations=data["annotations"],
    )


def rewrite(text: bytes, changes: dict[str, Any]) -> bytes:
    """An object's JSON text with some of its fields changed (each keeps its place).

    >>> rewrite(b'{"id": 1, "image_id": 7, "area": 2.5}', {"image_id": 9})
    b'{"id":1,"image_id":9,"area":2.5}'
    """
    item = orjson.loads(text)
    item.update(changes)
    return orjson.dumps(item)

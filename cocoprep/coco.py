"""Reading COCO-format JSON without holding the whole object tree: images as column tables,
annotations as byte ranges that workers parse on their own.

A train2017 annotation file is 448 MB; parsed whole into Python objects it takes ~4 GB and the
garbage collector's repeated passes over millions of containers dominate the time. The file is
instead memory-mapped and cut into ranges by :mod:`cocoprep.jsonscan`; where a range does not
parse (an unusual layout, or invalid JSON) the reader falls back to :func:`load_whole`, which
parses the whole file with exact error positions.
"""

from __future__ import annotations

import logging
import mmap
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson

from cocoprep.errors import InputError, LayoutError
from cocoprep.jsonscan import (
    find_sections,
    parse_file_range,
    parse_range,
    prefetch_cuts,
    split_array,
    unmap,
)

# What path_problem may object to: a leading / or ., a /. or //, a drive, \\, NUL, a line break.
_SUSPECT_PATH = re.compile(r"^[/.]|/[/.]|^.:|[\\\x00\n\r]")
T = TypeVar("T")
F = TypeVar("F", "CocoFile", "RawCoco")
log = logging.getLogger("cocoprep")


class StringColumn(Sequence[str]):
    """Many short strings kept as one: their text joined by newlines, and where each starts.

    1.7 M image paths (Objects365) take ~90 MB this way instead of ~230 MB as a list of str.

    >>> column = StringColumn.join([StringColumn(["a/1.jpg", "b.jpg"]), StringColumn(["c.jpg"])])
    >>> len(column), column[1], list(column)
    (3, 'b.jpg', ['a/1.jpg', 'b.jpg', 'c.jpg'])
    """

    def __init__(self, items: Iterable[str] = ()) -> None:
        items = list(items)
        self.text = "".join(f"{item}\n" for item in items)
        lengths = np.fromiter((len(item) + 1 for item in items), np.int64, len(items))
        self.starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    @classmethod
    def join(cls, columns: Sequence[StringColumn]) -> StringColumn:
        """The columns one after the other."""
        joined = cls()
        joined.text = "".join(c.text for c in columns)
        offsets = np.cumsum([0] + [len(c.text) for c in columns])
        joined.starts = np.concatenate(
            [np.zeros(1, np.int64)]
            + [c.starts[1:] + o for c, o in zip(columns, offsets, strict=False)]
        )
        return joined

    def __len__(self) -> int:
        return len(self.starts) - 1

    def lines(self, prefix: str = "") -> str:
        """Every string on its own line, after ``prefix``.

        >>> StringColumn(["a.jpg", "b.jpg"]).lines("./images/")
        './images/a.jpg\\n./images/b.jpg\\n'
        """
        if not self.text:
            return ""
        return prefix + self.text[:-1].replace("\n", "\n" + prefix) + "\n"

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return self.text[self.starts[index] : self.starts[index + 1] - 1]

    def __iter__(self) -> Iterator[str]:
        block = 1 << 16
        for first in range(0, len(self), block):
            last = min(first + block, len(self))
            yield from self.text[self.starts[first] : self.starts[last] - 1].split("\n")


@dataclass(frozen=True)
class ImageTable:
    """The images of one COCO file as arrays, in file order.

    ``paths`` are image paths relative to ``ROOT/images`` (``val2017/000000397133.jpg``).
    """

    ids: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    paths: StringColumn = field(repr=False)
    #: Images carrying LVIS' neg_category_ids / not_exhaustive_category_ids (ignored by convert).
    lvis_fields: int = 0
    #: Images whose file_name climbed out of the images folder, reduced to their name.
    reduced_paths: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, image_ids: np.ndarray) -> np.ndarray:
        """Positions of ``image_ids`` in the table; -1 where an id is unknown."""
        order = np.argsort(self.ids, kind="stable")
        sorted_ids = self.ids[order]
        pos = np.searchsorted(sorted_ids, image_ids)
        pos = np.minimum(pos, len(sorted_ids) - 1) if len(sorted_ids) else pos
        found = len(sorted_ids) > 0
        hit = (sorted_ids[pos] == image_ids) if found else np.zeros(len(image_ids), bool)
        return np.where(hit, order[pos] if found else -1, -1)


@dataclass
class CocoFile:
    """A COCO-format file opened for streaming: its images and categories, and where its
    annotations lie."""

    path: Path
    split: str
    images: ImageTable
    categories: list[dict[str, Any]]
    annotation_ranges: list[tuple[int, int]] | None
    annotations: list[dict[str, Any]] | None = field(default=None, repr=False)
    extra: dict[str, int] = field(default_factory=dict)


def path_problem(relpath: str) -> str | None:
    """Why an image path from a COCO file cannot be used below an images folder, or None: it
    must be relative and stay inside (no ``..``), and hold no byte a file list or label path
    cannot carry. The one rule of convert and validate.

    >>> path_problem("val2017/000000397133.jpg") is None
    True
    >>> path_problem("/etc/hostname"), path_problem("a/../../b.jpg"), path_problem("a\\x00.jpg")
    ('is absolute', "climbs out with '..'", 'holds a NUL byte')
    """
    if relpath[:1] == "/" or relpath[1:3] == ":/" or relpath[1:3] == ":\\":
        return "is absolute"
    if "\x00" in relpath:
        return "holds a NUL byte"
    if "\n" in relpath or "\r" in relpath:
        return "holds a line break"
    if "\\" in relpath:
        return "holds a backslash"
    parts = relpath.split("/")
    if ".." in parts:
        return "climbs out with '..'"
    if "" in parts or "." in parts:
        return "has an empty or '.' part"
    return None


def image_relpath(image: dict[str, Any], split: str) -> str:
    """Where an image lives below ``ROOT/images`` (:func:`relpath_of`, without whether the path
    was reduced).

    >>> image_relpath({"file_name": "000000397133.jpg"}, "val2017")
    'val2017/000000397133.jpg'
    """
    return relpath_of(image, split)[0]


def relpath_of(image: dict[str, Any], split: str, base: str = "") -> tuple[str, bool]:
    """Where an image lives below ``ROOT/images``, and whether its ``file_name`` was reduced.

    ``file_name`` when present (kept with its subfolders, under the split's folder, less a leading
    ``./`` and ``base``, the folder the file names start with when they are relative to an
    export rather than to its images folder); one that climbs out (``../``) or is absolute, as
    labelling tools write them relative to their working folder, is reduced to its last part.
    Without a ``file_name``, the last two parts of ``coco_url`` (LVIS images have no
    ``file_name``, and LVIS val names train2017 images). InputError when the path breaks
    :func:`path_problem`'s rule.

    >>> relpath_of({"coco_url": "http://images.cocodataset.org/train2017/000000000009.jpg"}, "v")
    ('train2017/000000000009.jpg', False)
    >>> relpath_of({"file_name": "../train2017/005.JPG"}, "train")
    ('train/005.JPG', True)
    >>> relpath_of({"file_name": "C:\\\\data\\\\x.jpg"}, "t")
    ('t/x.jpg', True)
    >>> relpath_of({"file_name": "..\\\\a\\\\y.jpg"}, "t")
    ('t/y.jpg', True)
    >>> relpath_of({"file_name": "./a/b.jpg"}, "v")
    ('v/a/b.jpg', False)
    >>> relpath_of({"file_name": "images/5-b.jpg"}, "train", base="images/")
    ('train/5-b.jpg', False)
    >>> relpath_of({"id": 7, "file_name": "a\\x00.jpg"}, "val")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    cocoprep.errors.InputError: image 7: expected a file_name inside the images folder, found ...
    """
    name = image.get("file_name")
    reduced = False
    if type(name) is str and name:
        rel, what = name, "file_name"
        if base and rel.startswith(base):
            rel = rel[len(base) :]
        if not _SUSPECT_PATH.search(rel):  # the common case: plainly fine
            return f"{split}/{rel}", False
        while rel.startswith("./"):
            rel = rel[2:]
        if base and rel.startswith(base):
            rel = rel[len(base) :]
        parts = re.split(r"[/\\]", rel)  # tools on Windows write ..\train\x.jpg
        if ".." in parts or path_problem(rel) == "is absolute":
            rel, reduced = parts[-1], True
    else:
        url = image.get("coco_url")
        parts = url.rstrip("/").split("/") if isinstance(url, str) else []
        if len(parts) < 2 or not parts[-1]:
            msg = (
                f"image {image.get('id')!r}: expected a file_name or a coco_url, found neither; "
                "add the image's file_name"
            )
            raise InputError(msg)
        name, rel, what = url, f"{parts[-2]}/{parts[-1]}", "coco_url"
    problem = path_problem(rel)
    if problem is not None:
        msg = (
            f"image {image.get('id')!r}: expected a {what} inside the images folder, found "
            f"{name!r}, which {problem}; rename the image and its record"
        )
        raise InputError(msg)
    return (rel if what == "coco_url" else f"{split}/{rel}"), reduced


def _check_int_id(value: Any, what: str, path: Path) -> None:
    if type(value) is not int or not -(2**63) <= value < 2**63:
        msg = (
            f"{path}: {what} {value!r} is a {type(value).__name__}; COCO ids must be 64-bit "
            "integers"
        )
        raise InputError(msg)


def image_table(images: list[dict[str, Any]], split: str, path: Path, base: str = "") -> ImageTable:
    """Check the images of a file and turn them into an :class:`ImageTable` (``base``: see
    :func:`relpath_of`)."""
    return _joined_tables([_image_columns(images, split, path, base)], path)


def _joined_tables(tables: list[ImageTable], path: Path) -> ImageTable:
    """One table from the tables of consecutive pieces of a file; image ids must be unique."""
    ids = np.concatenate([np.empty(0, np.int64), *(t.ids for t in tables)])
    unique, counts = np.unique(ids, return_counts=True)
    if len(unique) != len(ids):
        msg = f"{path}: image id {int(unique[counts > 1][0])} appears more than once"
        raise InputError(msg)
    return ImageTable(
        ids=ids,
        widths=np.concatenate([np.empty(0), *(t.widths for t in tables)]),
        heights=np.concatenate([np.empty(0), *(t.heights for t in tables)]),
        paths=StringColumn.join([t.paths for t in tables]),
        lvis_fields=sum(t.lvis_fields for t in tables),
        reduced_paths=sum(t.reduced_paths for t in tables),
    )


def _image_columns(
    images: list[dict[str, Any]], split: str, path: Path, base: str = ""
) -> ImageTable:
    """The columns of some images, checked one by one (ids not yet checked for repeats)."""
    if not all(type(image) is dict for image in images):
        bad = next(i for i, image in enumerate(images) if type(image) is not dict)
        msg = f"{path}: images[{bad}] is not an object"
        raise InputError(msg)
    ids = [image.get("id") for image in images]
    if not all(type(i) is int for i in ids):
        _check_int_id(next(i for i in ids if type(i) is not int), "image id", path)
    try:
        id_array = np.array(ids, np.int64)
    except OverflowError:
        _check_int_id(next(i for i in ids if not -(2**63) <= i < 2**63), "image id", path)
    sizes = {}
    for name in ("width", "height"):
        values = [image.get(name) for image in images]
        good = [type(v) in (int, float) and 0 < v < float("inf") for v in values]
        if not all(good):
            bad = good.index(False)
            msg = (
                f"{path}: image {ids[bad]} has {name} {values[bad]!r}; expected a positive "
                "number (fix the image record, e.g. from the image file)"
            )
            raise InputError(msg)
        sizes[name] = np.array(values, np.float64)
    paths, reduced = _relpaths(images, split, path, base)
    return ImageTable(
        reduced_paths=reduced,
        lvis_fields=sum(
            1
            for image in images
            if "neg_category_ids" in image or "not_exhaustive_category_ids" in image
        ),
        ids=id_array,
        widths=sizes["width"],
        heights=sizes["height"],
        paths=paths,
    )


def first_repeat(keys: Iterable[Hashable]) -> tuple[int, int] | None:
    """The positions of the first key seen twice (the earlier one first), or None.

    >>> first_repeat(["a", "b", "a"]), first_repeat(["a"])
    ((0, 2), None)
    """
    first: dict[Hashable, int] = {}
    for i, key in enumerate(keys):
        j = first.setdefault(key, i)
        if j != i:
            return j, i
    return None


def _relpaths(
    images: list[dict[str, Any]], split: str, path: Path, base: str
) -> tuple[StringColumn, int]:
    """The images' paths below ``ROOT/images`` and how many were reduced to their name; an
    error naming both file names when two reduce to one path."""
    try:
        pairs = [relpath_of(image, split, base) for image in images]
    except InputError as error:
        msg = f"{path}: {error.message}"
        raise InputError(msg, path=path) from None
    reduced = sum(r for _, r in pairs)
    repeat = first_repeat([rel for rel, _ in pairs]) if reduced else None
    if repeat is not None:
        j, i = repeat
        msg = (
            f"{path}: images {images[j].get('file_name')!r} and "
            f"{images[i].get('file_name')!r} both become {pairs[i][0]!r} (paths outside the "
            "images folder are reduced to their name); rename one of them"
        )
        raise InputError(msg, path=path)
    return StringColumn(rel for rel, _ in pairs), reduced


def check_categories(categories: Any, path: Path) -> list[dict[str, Any]]:
    """Check the ``categories`` array: objects with an integer ``id`` and a string ``name``."""
    if not isinstance(categories, list):
        msg = f"{path}: 'categories' is missing or not a list; a COCO file needs one"
        raise InputError(msg)
    seen: dict[int, str] = {}
    for i, category in enumerate(categories):
        if type(category) is not dict or "id" not in category or "name" not in category:
            msg = f"{path}: categories[{i}] needs an 'id' and a 'name'"
            raise InputError(msg)
        _check_int_id(category["id"], "category id", path)
        if category["id"] in seen:
            msg = f"{path}: category id {category['id']} appears more than once"
            raise InputError(msg)
        seen[category["id"]] = category["name"]
    return categories


def _open_error(path: Path, error: Exception) -> InputError:
    return InputError(f"{path}: cannot read: {error}")


def load_whole(path: str | Path) -> dict[str, Any]:
    """Parse a whole JSON file, with the position of the first error when it is not JSON."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise _open_error(path, error) from error
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        line, column, why = error.lineno, error.colno, error.msg
    try:  # orjson places invalid UTF-8 at the start of the file; find the byte
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = data.count(b"\n", 0, bad.start) + 1
        column = bad.start - (data.rfind(b"\n", 0, bad.start) + 1) + 1
        why = f"byte 0x{data[bad.start]:02x} is not UTF-8 (save the file as UTF-8)"
    msg = f"{path}: invalid JSON at line {line}, column {column}: {why}"
    raise InputError(msg) from None


def open_coco(
    path: str | Path, split: str, *, chunk_bytes: int = 8 << 20, base: str = ""
) -> CocoFile:
    """Open a COCO-format file for streaming conversion (``base``: see :func:`relpath_of`).

    The images and categories are parsed and checked now; the annotations are left in the file as
    byte ranges of about ``chunk_bytes`` (``CocoFile.annotation_ranges``) for workers to parse.
    Files whose layout the byte search cannot bound are parsed whole
    (``CocoFile.annotations``), which also reports the exact position of invalid JSON.
    """
    path = Path(path)
    return _read_mapped(
        path,
        lambda buf: _open_streaming(path, buf, split, chunk_bytes, base),
        lambda: open_whole(path, split, base),
    )


@dataclass
class RawCoco:
    """A COCO-format file's arrays as they are, unchecked: images and categories parsed, the
    annotations as byte ranges (or parsed, when the file was read whole)."""

    path: Path
    images: list[Any]
    categories: Any
    annotation_ranges: list[tuple[int, int]] | None
    annotations: list[Any] | None = field(default=None, repr=False)


def read_coco(path: str | Path, *, chunk_bytes: int = 8 << 20) -> RawCoco:
    """Read a COCO-format file like :func:`open_coco`, but without checking its images and
    categories (validate reports what is wrong, it does not stop at the first problem)."""
    path = Path(path)

    def whole() -> RawCoco:
        data = load_coco_dict(path)
        return RawCoco(path, data["images"], data.get("categories"), None, data["annotations"])

    def streaming(buf: mmap.mmap) -> RawCoco:
        pieces, categories, ranges = _stream_arrays(buf, chunk_bytes, lambda items: items)
        return RawCoco(path, [image for piece in pieces for image in piece], categories, ranges)

    return _read_mapped(path, streaming, whole)


def _read_mapped(path: Path, streaming: Callable[[mmap.mmap], T], whole: Callable[[], T]) -> T:
    """``streaming(buf)`` on the memory-mapped file, or ``whole()`` when its layout defeats the
    byte search; a missing, empty or unreadable file is an InputError."""
    if not path.is_file():
        msg = f"{path}: no such file (expected a COCO JSON annotation file)"
        raise InputError(msg)
    try:
        with open(path, "rb") as handle:
            if path.stat().st_size == 0:
                msg = f"{path}: the file is empty; expected COCO JSON"
                raise InputError(msg)
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return streaming(buf)
    except LayoutError:
        return whole()
    except OSError as error:
        raise _open_error(path, error) from error


def _stream_arrays(
    buf: mmap.mmap, chunk_bytes: int, images_of: Callable[[list[dict[str, Any]]], T]
) -> tuple[list[T], Any, list[tuple[int, int]]]:
    """``images_of`` of each piece of the images array, the categories (None when absent) and
    the byte ranges of the annotations."""
    sections = find_sections(buf)
    prefetch_cuts(buf, *sections["annotations"], chunk_bytes)  # while the images are parsed
    # Piece by piece: 1.7 M image objects (Objects365) would take over a gigabyte at once.
    pieces = [
        images_of(parse_range(buf, start, end))
        for start, end in split_array(buf, *sections["images"], chunk_bytes)
    ]
    categories: Any = None
    if "categories" in sections:
        categories = parse_range(buf, sections["categories"][0] + 1, sections["categories"][1] - 1)
    unmap(buf)  # the images: parsed
    return pieces, categories, split_array(buf, *sections["annotations"], chunk_bytes)


def _open_streaming(
    path: Path, buf: mmap.mmap, split: str, chunk_bytes: int, base: str
) -> CocoFile:
    tables, categories, ranges = _stream_arrays(
        buf, chunk_bytes, lambda images: _image_columns(images, split, path, base)
    )
    return CocoFile(
        path=path,
        split=split,
        images=_joined_tables(tables, path),
        categories=check_categories(categories, path),
        annotation_ranges=ranges,
    )


def load_coco_dict(path: Path) -> dict[str, Any]:
    """Parse a whole file and check it has the ``images`` and ``annotations`` lists of COCO."""
    data = load_whole(path)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        msg = f"{path}: not a COCO file (expected an object with 'images' and 'annotations')"
        raise InputError(msg)
    if not isinstance(data.get("annotations"), list):
        msg = f"{path}: not a COCO annotation file: 'annotations' is missing or not a list"
        raise InputError(msg)
    return data


def open_whole(path: Path, split: str, base: str = "") -> CocoFile:
    """Open a COCO-format file by parsing it whole (the fallback of :func:`open_coco`)."""
    data = load_coco_dict(path)
    annotations = data["annotations"]
    return CocoFile(
        path=path,
        split=split,
        images=image_table(data["images"], split, path, base),
        categories=check_categories(data.get("categories"), path),
        annotation_ranges=None,
        annotations=annotations,
    )


def ranges_else_whole(coco_file: F, compute: Callable[[F], T]) -> T:
    """``compute(coco_file)``; when a byte range of its annotations does not parse
    (:class:`~cocoprep.errors.LayoutError`), the file is parsed whole, its annotations kept in
    ``coco_file.annotations``, and ``compute`` called again (which also names the position of
    invalid JSON). ``compute`` reads ``coco_file.annotations`` when set, else the ranges.
    ``coco_file`` is a :class:`CocoFile` or a :class:`RawCoco`.

    >>> opened = CocoFile(Path("x.json"), "x", image_table([], "x", Path("x.json")), [], [],
    ...                   annotations=[{"id": 1}])
    >>> ranges_else_whole(opened, lambda f: len(f.annotations))
    1
    """
    try:
        return compute(coco_file)
    except LayoutError:
        if coco_file.annotations is not None:
            raise
        log.info(
            "%s: reading the file whole (its layout defeats the byte-range reader)", coco_file.path
        )
        # The images and categories were read already (and checked, in a CocoFile).
        coco_file.annotations = load_coco_dict(coco_file.path)["annotations"]
    return compute(coco_file)


def iter_annotation_batches(coco: CocoFile | RawCoco, batch_size: int = 20000) -> Iterator[list]:
    """Batches of annotations of a file opened whole (for the in-memory path)."""
    assert coco.annotations is not None
    for begin in range(0, len(coco.annotations), batch_size):
        yield coco.annotations[begin : begin + batch_size]


def category_ids_in_range(path: str | Path, start: int, end: int) -> np.ndarray:
    """The distinct ``category_id`` values of the annotations in a byte range."""
    annotations = parse_file_range(path, start, end)
    return np.unique(np.array([a.get("category_id", -1) for a in annotations], np.int64))

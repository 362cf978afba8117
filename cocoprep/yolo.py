"""Reading YOLO labels: label files into arrays, row kinds, label ↔ image paths, split listings.

A label file holds one object per line: a class id and normalised numbers. Ultralytics reads a
row of 4 numbers as a box (``cx cy w h``); a file where any row has 6 or more numbers as polygons
(``x y`` pairs); a pose file as a box followed by ``kpt_shape`` keypoints; an OBB model's
dataset as four corners ``x1 y1 .. x4 y4`` a row. This module only reads
and classifies; :mod:`cocoprep.checks` judges.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cocoprep import geometry
from cocoprep.errors import InputError
from cocoprep.numbers import parse_tokens

#: Image suffixes Ultralytics loads (``ultralytics.data.utils.IMG_FORMATS``).
IMAGE_SUFFIXES = frozenset(
    {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm", ".heic"}
)

BOX, POLYGON, POSE, OBB, BAD = "box", "polygon", "pose", "obb", "bad"


@dataclass
class LabelRows:
    """The rows of one label file as arrays.

    Row ``r`` has class token ``classes[r]`` and the numbers
    ``values[starts[r]:starts[r] + counts[r]]``; ``lines[r]`` is its 1-based line number and
    ``texts[r]`` its whitespace-normalised text. Lines with a token that is not a number are in
    ``unparsable`` as ``(line, token)`` and have no row.
    """

    classes: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    lines: np.ndarray
    unparsable: list[tuple[int, str]] = field(default_factory=list)
    # Every row's tokens, in order: text[token_starts[t]:token_ends[t]] (for texts).
    text: bytes = field(default=b"", repr=False)
    token_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    token_ends: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)

    @functools.cached_property
    def texts(self) -> list[bytes]:
        """Each row's whitespace-normalised text (made when first asked for)."""
        text = self.text
        bounds = zip(self.token_starts.tolist(), self.token_ends.tolist(), strict=True)
        tokens = [text[a:b] for a, b in bounds]
        ends = np.cumsum(self.counts + 1).tolist()
        counts = self.counts.tolist()
        return [b" ".join(tokens[e - c - 1 : e]) for e, c in zip(ends, counts, strict=True)]

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def starts(self) -> np.ndarray:
        """Offset of each row's first number in ``values``."""
        return np.cumsum(self.counts) - self.counts

    def row(self, r: int) -> np.ndarray:
        """The numbers of row ``r``."""
        start = int(self.starts[r])
        return self.values[start : start + int(self.counts[r])]


def parse_labels(text: bytes) -> LabelRows:
    """Parse the text of a label file; blank lines are skipped.

    Examples
    --------
    >>> rows = parse_labels(b"0 0.5 0.5 0.2 0.2\\n\\n3 0.1 0.1 0.2 0.1 0.2 0.2\\n")
    >>> rows.classes.tolist(), rows.counts.tolist(), rows.lines.tolist()
    ([0.0, 3.0], [4, 6], [1, 3])
    >>> parse_labels(b"0 0.5 x\\n").unparsable
    [(1, 'x')]
    """
    return _parse_texts([text])[0]


def _is_space(codes: np.ndarray) -> np.ndarray:
    """Which of the bytes ``codes`` (uint8) ``bytes.split()`` splits at: space and
    ``\\t\\n\\v\\f\\r`` (9-13), by two comparisons rather than a table lookup per byte.

    >>> _is_space(np.frombuffer(b" a\\t\\x0b\\x0e", np.uint8)).tolist()
    [True, False, True, True, False]
    """
    return (codes == 32) | (codes - np.uint8(9) <= 4)


@dataclass(frozen=True)
class _Tokens:
    """The tokens of several texts joined by newlines (``text[starts[t]:ends[t]]``), whether
    each starts a row (the first token of a line), and each row's file and 1-based line in that
    file."""

    text: bytes
    starts: np.ndarray
    ends: np.ndarray
    head: np.ndarray
    file: np.ndarray  # per row
    line: np.ndarray  # per row


def _tokenize(texts: Sequence[bytes]) -> _Tokens:
    """Split texts into tokens as ``bytes.split()`` does and into lines as
    ``bytes.splitlines()`` does (at ``\\n``, ``\\r\\n`` or ``\\r``), in a few numpy passes
    over the joined bytes rather than a Python call per line or token."""
    joined = b"\n".join(texts)
    codes = np.frombuffer(joined, np.uint8)
    space = _is_space(codes)
    starts = np.flatnonzero(~space & np.concatenate(([True], space[:-1])))
    ends = np.flatnonzero(~space & np.concatenate((space[1:], [True]))) + 1
    newline, carriage = codes == ord("\n"), codes == ord("\r")
    breaks = np.flatnonzero(newline | (carriage & ~np.concatenate((newline[1:], [False]))))
    # A token starts a row when a line break lies between it and the token before.
    after_break = np.searchsorted(starts, breaks)
    head = np.zeros(len(starts), bool)
    head[after_break[after_break < len(starts)]] = True
    head[:1] = True
    head_starts = starts[head]
    sizes = np.fromiter(map(len, texts), np.int64, len(texts))
    file_starts = np.cumsum(sizes + 1) - sizes - 1
    line = np.searchsorted(breaks, head_starts)  # line breaks before each row
    file = np.searchsorted(file_starts, head_starts, side="right") - 1
    line_in_file = line - np.searchsorted(breaks, file_starts)[file] + 1
    return _Tokens(joined, starts, ends, head, file, line_in_file)


def _parse_texts(
    texts: Sequence[bytes],
) -> tuple[LabelRows, np.ndarray, list[tuple[int, int, str]]]:
    """The label texts of one or more files as :class:`LabelRows`, the file of each row, and
    the ``(file, line, token)`` of rows with a token that is not a number (dropped).

    All tokens are converted in one call (:func:`numbers.parse_tokens`)."""
    found = _tokenize(texts)
    starts, ends, file, line, head = found.starts, found.ends, found.file, found.line, found.head
    numbers, wrong = parse_tokens(found.text, starts, ends)
    bad: list[tuple[int, int, str]] = []
    if wrong:
        row = np.cumsum(head) - 1
        bad_rows, first = np.unique(row[wrong], return_index=True)
        bad = [
            (int(file[r]), int(line[r]), found.text[starts[t] : ends[t]].decode(errors="replace"))
            for r, t in zip(bad_rows.tolist(), np.asarray(wrong)[first].tolist(), strict=True)
        ]
        kept = np.flatnonzero(~np.isin(row, bad_rows))
        starts, ends, numbers, head = starts[kept], ends[kept], numbers[kept], head[kept]
        kept_rows = np.setdiff1d(np.arange(len(file)), bad_rows)
        file, line = file[kept_rows], line[kept_rows]
    heads = np.flatnonzero(head)
    counts = np.diff(np.append(heads, len(numbers))) - 1
    is_value = np.ones(len(numbers), bool)
    is_value[heads] = False
    parsed = LabelRows(
        classes=numbers[heads],
        values=numbers[is_value],
        counts=counts,
        lines=line,
        unparsable=[(line, token) for _, line, token in bad],
        text=found.text,
        token_starts=starts,
        token_ends=ends,
    )
    return parsed, file, bad


def _read(path: str | os.PathLike) -> bytes:
    with open(path, "rb", buffering=0) as handle:
        return handle.readall()


def read_labels(path: str | os.PathLike) -> LabelRows:
    """:func:`parse_labels` on a file."""
    try:
        return parse_labels(_read(path))
    except OSError as error:
        msg = f"{path}: cannot read the label file: {error}"
        raise InputError(msg) from None


@dataclass
class LabelBatch:
    """The rows of several label files, concatenated in file order.

    ``rows`` is as from :func:`parse_labels` (line numbers within each file); ``file[r]`` is the
    position in the batch of the file of row ``r``; ``unparsable`` holds ``(file, line, token)``;
    ``missing`` the positions of files that do not exist (read with ``missing_ok``).
    """

    rows: LabelRows
    file: np.ndarray
    unparsable: list[tuple[int, int, str]]
    missing: list[int]


def read_label_batch(paths: Sequence[str], *, missing_ok: bool = False) -> LabelBatch:
    """Read and parse label files together: one number conversion for the whole batch.

    A file that does not exist is an :class:`InputError`, or with ``missing_ok`` is listed in
    ``missing`` (an image without labels).
    """
    texts: list[bytes] = []
    present: list[int] = []
    missing = []
    for position, path in enumerate(paths):
        try:
            text = _read(path)
        except OSError as error:
            if missing_ok and isinstance(error, FileNotFoundError):
                missing.append(position)
                continue
            msg = f"{path}: cannot read the label file: {error}"
            raise InputError(msg) from None
        texts.append(text)
        present.append(position)
    parsed, file, bad = _parse_texts(texts)
    file = np.asarray(present, np.int64)[file]
    bad = [(present[f], line, token) for f, line, token in bad]
    return LabelBatch(rows=parsed, file=file, unparsable=bad, missing=missing)


def row_kinds(
    counts: np.ndarray, kpt_shape: tuple[int, int] | None = None, obb: bool = False
) -> np.ndarray:
    """Classify rows by their number count: box (4), polygon (even, >= 6), pose (4 + k * dims
    when ``kpt_shape`` is given), obb (8, in an ``obb`` dataset) or bad.

    >>> row_kinds(np.array([4, 6, 5, 2])).tolist()
    ['box', 'polygon', 'bad', 'bad']
    >>> row_kinds(np.array([4 + 17 * 3, 4]), (17, 3)).tolist()
    ['pose', 'bad']
    >>> row_kinds(np.array([8, 4, 10]), obb=True).tolist()
    ['obb', 'bad', 'bad']
    """
    counts = np.asarray(counts)
    kinds = np.full(len(counts), BAD, dtype=object)
    if obb:
        kinds[counts == 8] = OBB
        return kinds
    if kpt_shape is not None:
        kinds[counts == 4 + kpt_shape[0] * kpt_shape[1]] = POSE
        return kinds
    kinds[counts == 4] = BOX
    kinds[(counts >= 6) & (counts % 2 == 0)] = POLYGON
    return kinds


def label_path_of(image: str | os.PathLike) -> Path:
    """Ultralytics' label path of an image: the last ``/images/`` becomes ``/labels/`` and the
    suffix ``.txt`` (the one rule; :func:`label_text_path` on text).

    >>> label_path_of("/d/images/val2017/a.jpg").as_posix()
    '/d/labels/val2017/a.txt'
    """
    return Path(label_text_path(Path(image).as_posix()))


def label_text_path(image: str) -> str:
    """:func:`label_path_of` on a POSIX path as text (fast enough for millions of paths).

    >>> label_text_path("/d/images/v/images/a.b.jpg"), label_text_path("x/.hidden")
    ('/d/images/v/labels/a.b.txt', 'x/.hidden.txt')
    """
    head, sep, tail = image.rpartition("/images/")
    if sep:
        image = f"{head}/labels/{tail}"
    folder, slash, name = image.rpartition("/")
    dot = name.rfind(".")
    stem = name[:dot] if dot > 0 else name
    return f"{folder}{slash}{stem}.txt"


def images_dir_of(labels_dir: str | os.PathLike) -> Path:
    """The images folder matching a labels folder (``ROOT/labels/x`` → ``ROOT/images/x``).

    >>> images_dir_of("/d/labels/val2017").as_posix()
    '/d/images/val2017'
    """
    parts = list(Path(labels_dir).parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "labels":
            parts[i] = "images"
            return Path(*parts)
    return Path(labels_dir).parent / "images" / Path(labels_dir).name


def label_files(labels_dir: str | os.PathLike) -> list[Path]:
    """Every ``*.txt`` file below ``labels_dir`` (not below symlinked folders), sorted as paths.

    A walk with :func:`os.scandir`: several times faster than ``Path.rglob`` on folders of 10^5
    labels, where the listing would otherwise be the serial part of a parallel read.
    """
    found: list[str] = []
    folders = [os.fspath(labels_dir)]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
            elif entry.name.endswith(".txt") and entry.is_file():
                found.append(entry.path)
    found.sort(key=lambda path: path.split(os.sep))
    return [Path(path) for path in found]


def image_files(images_dir: str | os.PathLike) -> list[Path]:
    """Every image Ultralytics would load below ``images_dir``, sorted."""
    return sorted(
        p for p in Path(images_dir).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )


def split_images(source: Path) -> tuple[list[Path], list[str]]:
    """The images a split entry names: a list file (``./`` lines relative to its folder, as
    Ultralytics reads them) or a folder. Returns the images and listed paths that do not exist."""
    if source.is_dir():
        return image_files(source), []
    if not source.is_file():
        msg = f"{source}: the split's list file or image folder does not exist"
        raise InputError(msg)
    images, missing = [], []
    for line in source.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        image = Path(line[2:] if line.startswith("./") else line)
        if not image.is_absolute():
            image = source.parent / image
        if image.suffix.lower() not in IMAGE_SUFFIXES or not image.is_file():
            missing.append(line)
        else:
            images.append(image)
    return images, missing


def split_bridged_rows(
    point_row: np.ndarray,
    points: np.ndarray,
    npoints: np.ndarray,
    values: np.ndarray | None = None,
) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """The rows that may hold bridged parts (:func:`rows_with_repeats`) and the parts of each
    (:func:`cocoprep.geometry.split_bridged_many`, cut from ``values`` when given); row ``r``
    has ``npoints[r]`` points.

    >>> rows, parts = split_bridged_rows(np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]),
    ...     np.array([[0, 0], [1, 0], [1, 1], [0, 0], [1, 0], [3, 0], [4, 0], [4, 1], [3, 0],
    ...               [1, 0], [1, 1]], float), np.array([3, 8]))
    >>> rows.tolist(), [len(p) for p in parts]
    ([1], [2])
    """
    bridged = rows_with_repeats(point_row, points)
    inside = np.isin(point_row, bridged)
    cut = None if values is None else values[inside]
    return bridged, geometry.split_bridged_many(points[inside], npoints[bridged], cut)


def rows_with_repeats(row: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sorted values of ``row`` (one non-negative row number per point) that include every row
    in which some point appears twice: the only polygon rows that can hold several bridged
    parts. Points are compared by a hash of ``(x, y)`` in the low bits of a 64-bit key whose
    high bits hold the row (a plain sort then brings repeats together), so a collision may add
    a row; callers split candidates exactly (a ring without repeats splits into itself).

    >>> rows_with_repeats(np.array([0, 0, 0, 1, 1]), np.array([[0, 0], [1, 0], [0, 0],
    ...                   [0, 0], [1, 1]], float)).tolist()
    [0]
    """
    if len(row) == 0:
        return np.empty(0, np.int64)
    row_bits = np.uint64(max(int(row.max()).bit_length(), 1))
    # + 0.0 turns -0.0 into 0.0, which compare equal but differ in bits.
    bits = (points + 0.0).view(np.uint64)
    with np.errstate(over="ignore"):
        point_hash = bits[:, 0] * np.uint64(0x9E3779B97F4A7C15) ^ bits[:, 1] * np.uint64(
            0xC2B2AE3D27D4EB4F
        )
    key = (row.astype(np.uint64) << (np.uint64(64) - row_bits)) | (point_hash >> row_bits)
    key.sort()
    repeated = key[1:][key[1:] == key[:-1]]
    return np.unique(repeated >> (np.uint64(64) - row_bits)).astype(np.int64)

"""``cocoprep convert``: COCO-format JSON → YOLO label files, list files and the dataset yaml.

Design (why it is fast and small). A COCO file is not parsed whole: :mod:`cocoprep.coco` parses its
images and categories and cuts its annotations array into ~2 MB byte ranges that end on element
boundaries (small enough for a chunk's arrays to stay in the CPU caches); the pages where it looks
for those boundaries are read ahead while the images are parsed. The worker processes are started
before the images are read (forked on Linux, so they are ready at once with this process's imports;
see :mod:`cocoprep.parallel`), and get the file's row context (image ids and sizes, class map) once
each, through a file. Each range is parsed lazily with simdjson and turned into label rows by a
worker (:func:`cocoprep.rows.annotation_rows`, pure): number arrays are copied out in C, the rows
(ordered by image within the chunk) are formatted in bulk with numpy, and the worker appends their
text to one temporary file (in /dev/shm when it has room), returning only where it put it, the
image of each row and counts. The parent orders all rows by image with a stable sort, so each image
keeps its annotations in JSON order. Workers then write the label files in blocks of images: each
maps the text file, joins its images' rows a few thousand images at a time (reading each chunk's
text in runs) and writes each label file once, atomically; new label folders are filled under a
temporary name and renamed into place only once every block succeeded. Creating a file holds its
folder's lock, so creates from several processes run one after another; the new label files are
therefore created empty by a thread of the parent while the workers compute rows, and the workers
then only fill them, side by side (:func:`cocoprep.fileio.create_ahead`). So the parent holds a few
columns per row, never the JSON tree nor the text, parsing and writing run on every core, and the
output is byte-identical for any worker count. Small files (under ``PARALLEL_MIN_BYTES`` of
annotations, or ``WRITE_PARALLEL_MIN_IMAGES`` images for the writes) run in-process, where starting
workers would cost more than it saves. On a Dask cluster the workers return the text and the parent
appends it.

Nothing is written for a split until all its annotations have been checked, so bad input leaves
no partial output for that split.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep import classmap, coco, yamlfile
from cocoprep.errors import InputError
from cocoprep.fileio import (
    Ahead,
    Stages,
    create_ahead,
    discard,
    plan_folders,
    publish,
    write_atomic,
    write_files,
)
from cocoprep.parallel import (
    PARALLEL_MIN_BYTES,
    Shared,
    backend_context,
    keep_freed_memory,
    local_workers,
    release_freed_memory,
    run_in_order,
    worker_count,
)
from cocoprep.rows import TASKS, ChunkRows, RowContext, annotation_rows

log = logging.getLogger("cocoprep")

#: Annotations per job when a file was parsed whole.
ANNOTATION_BATCH = 20_000
#: Size of the annotation byte ranges handed to workers: small enough that a chunk's numpy
#: arrays stay in the CPU caches (2 MB took 8 % less time than 8 MB at train2017 scale).
CHUNK_BYTES = 2 << 20
#: Most images whose label files one job writes (bounds the Python lists held).
IMAGES_PER_BLOCK = 1 << 16
#: Images whose rows are joined in one call when writing (bounds the bytes held).
IMAGES_PER_JOIN = 4096
#: Fewest images a job writes, unless the split has fewer.
MIN_IMAGES_PER_BLOCK = 2048
#: A split with fewer images is written in-process (starting workers costs ~0.4 s).
WRITE_PARALLEL_MIN_IMAGES = 20_000
#: Free space /dev/shm must keep beyond the label text for the text's temporary file to go there.
SHM_HEADROOM = 256 << 20
_SHM = "/dev/shm"
_PATTERNS = {"pose": ("person_keypoints_*.json",), "segment": ("instances_*.json",)}
_PATTERNS["detect"] = _PATTERNS["segment"]
# A file name's extension, as _label_path drops it (a name is never all extension).
_EXTENSION = re.compile(r"(?<=[^/\n])\.[^./\n]*$", re.MULTILINE)


@dataclass
class SplitSummary:
    """What convert did for one input file."""

    source: str
    split: str
    images: int
    label_files_written: int
    label_files_unchanged: int
    instances: int
    background_images: int
    counts: dict[str, int]


@dataclass
class Summary:
    """What convert did, for the command line's summary and ``--report``."""

    root: str
    task: str
    classes: int
    yaml: str
    record: str
    splits: list[SplitSummary] = field(default_factory=list)
    unused_categories: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        """Counts added over all splits."""
        total: Counter = Counter()
        for split in self.splits:
            total.update(
                images=split.images,
                label_files_written=split.label_files_written,
                label_files_unchanged=split.label_files_unchanged,
                instances=split.instances,
                background_images=split.background_images,
            )
            total.update(split.counts)
        return dict(total)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the summary."""
        return {
            "root": self.root,
            "task": self.task,
            "classes": self.classes,
            "yaml": self.yaml,
            "record": self.record,
            "unused_categories": self.unused_categories,
            "totals": self.totals(),
            "splits": [vars(split) for split in self.splits],
        }


def find_annotation_files(inputs: Sequence[str | os.PathLike], task: str) -> list[Path]:
    """Expand the inputs: files as given, directories to their annotation files for ``task``.

    >>> find_annotation_files([], "segment")
    []
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted({p for pattern in _PATTERNS[task] for p in path.glob(pattern)})
            if not found:
                patterns = " or ".join(_PATTERNS[task])
                msg = f"{path}: no {patterns} files in this directory; name the files instead"
                raise InputError(msg)
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            msg = f"{path}: no such file or directory (expected COCO JSON annotations)"
            raise InputError(msg)
    return files


def label_path(root: Path, image_relpath: str) -> Path:
    """Where Ultralytics looks for an image's labels: the image path under ``ROOT/images`` with
    its last ``/images/`` replaced by ``/labels/`` and its suffix by ``.txt``.

    >>> label_path(Path("/d"), "val2017/000000397133.jpg").as_posix()
    '/d/labels/val2017/000000397133.txt'
    """
    return Path(_label_path(root.as_posix(), image_relpath))


def _label_path(root: str, image_relpath: str) -> str:
    head, _, tail = f"{root}/images/{image_relpath}".rpartition("/images/")
    folder, _, name = tail.rpartition("/")
    dot = name.rfind(".")
    stem = name[:dot] if dot > 0 else name
    return f"{head}/labels/{folder}/{stem}.txt" if folder else f"{head}/labels/{stem}.txt"


def row_context(
    coco_file: coco.CocoFile, class_map: classmap.ClassMap, task: str, keep_crowd: bool
) -> RowContext:
    """The :class:`RowContext` convert's workers get for one file (also used by fidelity)."""
    images = coco_file.images
    order = np.argsort(images.ids, kind="stable")
    category_ids = np.array(sorted(c["id"] for c in coco_file.categories), np.int64)
    index = class_map.index_of()
    return RowContext(
        source=str(coco_file.path),
        task=task,
        keep_crowd=keep_crowd,
        sorted_image_ids=images.ids[order],
        image_order=order,
        widths=images.widths,
        heights=images.heights,
        sorted_category_ids=category_ids,
        category_class=np.array([index.get(int(c), -1) for c in category_ids], np.int64),
    )


def label_text_file(size_hint: int) -> str:
    """A new empty temporary file for a split's label text: in /dev/shm when that has room for
    ``size_hint`` bytes and ``SHM_HEADROOM`` more, else in the temporary directory."""
    folder = tempfile.gettempdir()
    if os.path.isdir(_SHM) and shutil.disk_usage(_SHM).free >= size_hint + SHM_HEADROOM:
        folder = _SHM
    fd, path = tempfile.mkstemp(prefix="cocoprep-labels-", suffix=".txt", dir=folder)
    os.close(fd)
    return path


def _append_text(path: str, text: bytes) -> int:
    """Append ``text`` to the file at ``path`` in one write; return where it starts there.

    Workers append their chunks' text to the same file as they finish: with ``O_APPEND`` each
    write lands whole at the end, and this descriptor's offset then points just past it.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        if os.write(fd, text) != len(text):
            msg = f"{path}: short write of label text (is the disk full?)"
            raise OSError(msg)
        return os.lseek(fd, 0, os.SEEK_CUR) - len(text)
    finally:
        os.close(fd)


def _stored(chunk: ChunkRows, text_file: str | None) -> tuple[int, ChunkRows]:
    """Move the chunk's text to the end of ``text_file`` (when given); return where it starts
    there (-1 when not moved) and the chunk."""
    if text_file is None:
        return -1, chunk
    offset = _append_text(text_file, chunk.text)
    chunk.text = b""
    return offset, chunk


def _rows_of_range(
    path: str, start: int, end: int, ctx: Shared[RowContext], text_file: str | None
) -> tuple[int, ChunkRows]:
    keep_freed_memory()
    with coco.gc_paused():
        rows = annotation_rows(coco.parse_objects(path, start, end), ctx.get())
    return _stored(rows, text_file)


def _rows_of_batch(
    batch: list[dict[str, Any]], ctx: Shared[RowContext], text_file: str | None
) -> tuple[int, ChunkRows]:
    return _stored(annotation_rows(batch, ctx.get()), text_file)


def _rows_in_workers(coco_file: coco.CocoFile, workers: int) -> bool:
    """Whether :func:`_iter_chunk_rows` has worker processes compute the file's rows (more than
    one job, and enough work to pay for them)."""
    if workers <= 1:
        return False
    if coco_file.annotations is not None:
        return len(coco_file.annotations) > ANNOTATION_BATCH
    return sum(e - s for s, e in coco_file.annotation_ranges or []) >= PARALLEL_MIN_BYTES


def _iter_chunk_rows(
    coco_file: coco.CocoFile,
    ctx: RowContext,
    text_file: str,
    workers: int,
    backend: str,
    progress: bool,
) -> Iterator[tuple[int, ChunkRows]]:
    """Rows of each chunk of the file's annotations, in file order, computed by workers; each
    chunk's text is appended to ``text_file`` (by local workers themselves, by this process for
    a cluster's) and its offset there given with it."""
    local_file = text_file if backend == "loky" else None
    if not _rows_in_workers(coco_file, workers):
        workers = 1
    if coco_file.annotations is not None:
        batches = list(coco.iter_annotation_batches(coco_file, ANNOTATION_BATCH))
        function, pieces = _rows_of_batch, [(batch,) for batch in batches]
        sizes, unit = [len(batch) for batch in batches], "ann"
    else:
        ranges = coco_file.annotation_ranges or []
        path = str(coco_file.path)
        function, pieces = _rows_of_range, [(path, s, e) for s, e in ranges]
        sizes, unit = [e - s for s, e in ranges], "B"
    # Local workers read the context from a file beside the text, once each.
    share = f"{text_file}.context" if local_file and workers > 1 and len(pieces) > 1 else None
    with Shared.through(ctx, share) as context:
        for offset, chunk in run_in_order(
            function,
            [(*piece, context, local_file) for piece in pieces],
            sizes,
            workers=workers,
            backend=backend,
            desc=f"rows {ctx.source}",
            unit=unit,
            progress=progress,
        ):
            yield _stored(chunk, text_file) if offset < 0 else (offset, chunk)


@dataclass
class _SplitRows:
    """All rows of a split: their text in a temporary file (chunk by chunk, in the order the
    chunks finished) plus two columns per row."""

    text_file: str
    chunk_offsets: np.ndarray  # where each chunk's text starts in text_file
    image: np.ndarray  # image position of each row (file order)
    end: np.ndarray  # where each row's text ends in its chunk's text
    first_row: np.ndarray  # first row of each chunk, then the number of rows
    counts: Counter
    categories_used: set[int]

    @classmethod
    def collect(cls, chunks: Iterable[tuple[int, ChunkRows]], text_file: str) -> _SplitRows:
        offsets, images, ends, sizes = [], [], [], [0]
        counts: Counter = Counter()
        used: set[int] = set()
        for offset, chunk in chunks:
            counts.update(chunk.counts)
            used.update(chunk.categories_used.tolist())
            offsets.append(offset)
            # Compact columns: Objects365 has 10 M rows.
            images.append(chunk.image_index.astype(np.int32))
            ends.append(chunk.row_ends.astype(np.int32))
            sizes.append(len(chunk.row_ends))
        return cls(
            text_file=text_file,
            chunk_offsets=np.array(offsets, np.int64),
            image=np.concatenate([np.empty(0, np.int32), *images]),
            end=np.concatenate([np.empty(0, np.int32), *ends]),
            first_row=np.cumsum(sizes),
            counts=counts,
            categories_used=used,
        )

    def row_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each row's text starts and ends in ``text_file``."""
        chunk_start = self.chunk_offsets
        counts = np.diff(self.first_row)
        base = np.repeat(chunk_start, counts)
        ends = base + self.end
        starts = np.empty_like(ends)
        starts[1:] = ends[:-1]
        firsts = counts > 0
        starts[self.first_row[:-1][firsts]] = chunk_start[firsts]
        return starts, ends


def _split_rows(
    coco_file: coco.CocoFile,
    ctx: RowContext,
    text_file: str,
    workers: int,
    backend: str,
    progress: bool,
) -> _SplitRows:
    """Rows for every annotation of the file, their text in ``text_file``; a file whose byte
    ranges do not parse is re-read whole (which names the position of invalid JSON)."""

    def compute(opened: coco.CocoFile) -> _SplitRows:
        os.truncate(text_file, 0)  # what a failed first attempt appended
        chunks = _iter_chunk_rows(opened, ctx, text_file, workers, backend, progress)
        return _SplitRows.collect(chunks, text_file)

    return coco.ranges_else_whole(coco_file, compute)


def _write_labels(
    root: Path,
    split: str,
    paths: coco.StringColumn,
    rows: _SplitRows,
    stages: Stages,
    created: int,
    workers: int,
    progress: bool,
) -> tuple[int, int, int]:
    """Write each image's label file; return (written, unchanged, background images).

    Blocks of images are grouped and written by local workers (:func:`_write_label_block`)
    reading the rows' text file, into ``stages`` (planned from :func:`_label_folders`; the first
    ``created`` labels exist already, empty).
    """
    n_images = len(paths)
    starts, ends = rows.row_spans()
    order = np.argsort(rows.image, kind="stable")
    bounds = np.searchsorted(rows.image[order], np.arange(n_images + 1))
    starts, ends = starts[order], ends[order]
    del order
    small = n_images < WRITE_PARALLEL_MIN_IMAGES
    # Local processes even after a dask run: the text file is on this machine.
    workers = 1 if small else min(workers, worker_count(None))
    # One block per worker: a block's rows are spread over the whole text file, so each block
    # maps most of its pages; four blocks per worker took 0.5 s longer at train2017 scale.
    step = min(IMAGES_PER_BLOCK, max(MIN_IMAGES_PER_BLOCK, -(-n_images // workers)))
    root_text = root.as_posix()
    jobs, sizes = [], []
    for first in range(0, n_images, step):
        last = min(first + step, n_images)
        lo, hi = int(bounds[first]), int(bounds[last])
        relpaths = paths.text[paths.starts[first] : paths.starts[last] - 1]
        edges = bounds[first : last + 1] - lo
        block_created = min(max(created - first, 0), last - first)
        spans = (rows.text_file, starts[lo:hi], ends[lo:hi], edges)
        jobs.append((*spans, relpaths, root_text, stages, block_created))
        sizes.append(last - first)
    totals = np.zeros(4, np.int64)
    for counts in run_in_order(
        _write_label_block,
        jobs,
        sizes,
        workers=workers,
        desc=f"labels {split}",
        unit="file",
        progress=progress,
    ):
        totals += counts
    written, unchanged, background, duplicates = totals.tolist()
    rows.counts["duplicates_dropped"] += duplicates
    rows.counts["instances"] -= duplicates
    return written, unchanged, background


def _label_folders(root: str, paths: coco.StringColumn) -> set[str]:
    """The folders of the images' label files (a label's folder follows from its image's)."""
    image_folders = {relpath.rpartition("/")[0] for relpath in paths}
    return {
        _label_path(root, f"{folder}/x" if folder else "x").rpartition("/")[0]
        for folder in image_folders
    }


def _image_texts(
    text: bytes | mmap.mmap,
    starts: np.ndarray,
    ends: np.ndarray,
    edges: np.ndarray,
    tally: Counter,
) -> Iterator[bytes]:
    """Each image's label text in turn, counting background images and duplicate rows dropped
    in ``tally``.

    Image ``i`` has rows ``edges[i]:edges[i + 1]`` of ``starts``/``ends`` (spans in ``text``),
    in annotation order; they are kept in that order, exact duplicate rows dropped. The rows of
    ``IMAGES_PER_JOIN`` images at a time are joined in one call, then cut per image; what was
    read of a mapped ``text`` is unmapped again (see :func:`cocoprep.coco.unmap`).

    >>> spans, tally = (np.array([0, 4, 8]), np.array([4, 8, 12])), Counter()
    >>> list(_image_texts(b"0 a\\n1 b\\n0 a\\n", *spans, np.array([0, 0, 3]), tally))
    [b'', b'0 a\\n1 b\\n']
    >>> tally["background"], tally["duplicates"]
    (1, 1)
    """
    tally.update(background=int((np.diff(edges) == 0).sum()))
    for first in range(0, len(edges) - 1, IMAGES_PER_JOIN):
        last = min(first + IMAGES_PER_JOIN, len(edges) - 1)
        rows = slice(edges[first], edges[last])
        joined = b"".join(map(text.__getitem__, map(slice, starts[rows], ends[rows])))
        coco.unmap(text)  # read: it stays in the file, it need not stay mapped here
        lengths = ends[rows] - starts[rows]
        row_ends = np.cumsum(lengths)
        row_starts = row_ends - lengths
        image_edges = edges[first : last + 1] - edges[first]
        duplicate = _duplicate_rows(joined, row_starts, row_ends, image_edges)
        if duplicate.any():
            tally["duplicates"] += int(duplicate.sum())
            kept = ~duplicate
            joined = b"".join(map(joined.__getitem__, map(slice, row_starts[kept], row_ends[kept])))
            lengths = lengths[kept]
            image_edges = np.concatenate([[0], np.cumsum(kept)])[image_edges]
        cuts = np.concatenate([[0], np.cumsum(lengths)])[image_edges].tolist()
        yield from map(joined.__getitem__, map(slice, cuts[:-1], cuts[1:]))


def _duplicate_rows(
    text: bytes | mmap.mmap, starts: np.ndarray, ends: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Which rows repeat an earlier row of the same image byte for byte (see
    :func:`_image_texts`); only rows of equal length in one image are compared."""
    duplicate = np.zeros(len(starts), bool)
    image = np.repeat(np.arange(len(edges) - 1), np.diff(edges))
    length = ends - starts
    # Sorted by image, then length; stable, so each group keeps annotation order.
    order = np.argsort(image * (int(length.max(initial=0)) + 1) + length, kind="stable")
    new_group = np.ones(len(order), bool)
    new_group[1:] = (np.diff(image[order]) != 0) | (np.diff(length[order]) != 0)
    group = np.cumsum(new_group)
    shared = np.flatnonzero(np.bincount(group)[group] > 1)
    seen: set[bytes] = set()
    current = -1
    for row, key in zip(order[shared].tolist(), group[shared].tolist(), strict=True):
        if key != current:  # groups come one after the other
            seen.clear()
            current = key
        piece = text[starts[row] : ends[row]]
        if piece in seen:
            duplicate[row] = True
        seen.add(piece)
    return duplicate


@contextlib.contextmanager
def _mapped(path: str) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes, memory-mapped (an empty file, which cannot be mapped, as ``b""``)."""
    with open(path, "rb") as handle:
        if not os.fstat(handle.fileno()).st_size:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as text:
            yield text


def _write_label_block(
    text_path: str,
    starts: np.ndarray,
    ends: np.ndarray,
    edges: np.ndarray,
    relpaths: str,
    root: str,
    stages: Stages,
    created: int,
) -> tuple[int, int, int, int]:
    """Write the label files of one block of images (a worker's job); return (written,
    unchanged, background images, duplicate rows dropped).

    ``relpaths`` are the block's image paths, one a line; their rows' spans in the file at
    ``text_path`` are given as for :func:`_image_texts`; ``stages`` come from
    :func:`_write_labels`, and the first ``created`` labels exist already, empty. Each label is
    written as soon as it is built.
    """
    release_freed_memory()  # what the rows phase left in this worker
    tally: Counter = Counter()
    with _mapped(text_path) as text:
        labels = _image_texts(text, starts, ends, edges, tally)
        paths = (_label_path(root, r) for r in relpaths.split("\n"))
        written, unchanged = write_files(zip(paths, labels, strict=True), stages, created=created)
    return written, unchanged, tally["background"], tally["duplicates"]


def check_label_names(source: str, paths: coco.StringColumn) -> None:
    """An error when two images would share a label file: the same path but for the extension.

    >>> check_label_names("x.json", coco.StringColumn(["v/a.jpg", "v/b.jpg", "w/a.jpg"]))
    >>> check_label_names("x.json", coco.StringColumn(["v/a.jpg", "v/a.png"]))
    Traceback (most recent call last):
    cocoprep.errors.InputError: x.json: images v/a.jpg and v/a.png would share one label file ...
    """
    stems = _EXTENSION.sub("", paths.text).split("\n")[:-1]
    if len(set(stems)) == len(stems):
        return
    first: dict[str, int] = {}
    for i, stem in enumerate(stems):
        j = first.setdefault(stem, i)
        if j != i:
            msg = (
                f"{source}: images {paths[j]} and {paths[i]} would share one label file "
                f"({stem}.txt): Ultralytics finds labels by the image path without its "
                "extension; rename one of them"
            )
            raise InputError(msg)


def image_sources(images_dir: Path, relpaths: Iterable[str]) -> list[Path]:
    """The file in ``images_dir`` for each image (``<file_name>`` or ``<split>/<file_name>``);
    an error naming the first one missing."""
    sources = []
    for relpath in relpaths:
        name = relpath.split("/", 1)[1] if "/" in relpath else relpath
        candidates = (images_dir / name, images_dir / relpath)
        source = next((c for c in candidates if c.is_file()), None)
        if source is None:
            msg = f"{images_dir}: image {name} not found (looked for {candidates[0]})"
            raise InputError(msg)
        sources.append(source)
    return sources


def _link_images(root: Path, sources: list[Path], relpaths: Iterable[str]) -> None:
    """Hard-link (or copy across filesystems) each image into ``ROOT/images/``."""
    for source, relpath in zip(sources, relpaths, strict=True):
        target = root / "images" / relpath
        if target.exists() and os.path.samefile(source, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)
        os.replace(tmp, target)


def convert(
    annotations: Sequence[str | os.PathLike] | str | os.PathLike,
    root: str | os.PathLike,
    *,
    task: str = "segment",
    split: str | None = None,
    classes: Sequence[str] | None = None,
    crowd: str = "skip",
    workers: int | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    images: str | os.PathLike | None = None,
    yaml_name: str = "coco.yaml",
    drop_unused_categories: bool = False,
    progress: bool = False,
) -> Summary:
    """Convert COCO-format annotation files into YOLO labels under ``root``.

    Writes ``ROOT/labels/<split>/<stem>.txt`` for every image (empty for background images),
    ``ROOT/<split>.txt`` listing the images, the dataset yaml and ``ROOT/cocoprep.json`` (the
    class map later runs reuse). Returns a :class:`Summary`.

    ``drop_unused_categories`` removes categories no annotation uses from the class map (off by
    default, so ids stay stable across exports). ``backend="dask"`` runs the per-chunk work on
    the dask.distributed cluster at ``scheduler`` (or the current client); its workers must see
    the same paths.

    Examples
    --------
    >>> summary = convert(["annotations/instances_val2017.json"], "datasets/coco")  # doctest: +SKIP
    >>> summary.totals()["instances"]  # doctest: +SKIP
    36335
    """
    if task not in TASKS:
        msg = f"task must be one of {', '.join(TASKS)}, found {task!r}"
        raise InputError(msg)
    if backend not in ("loky", "dask"):
        msg = f"backend must be 'loky' or 'dask', found {backend!r}"
        raise InputError(msg)
    if crowd not in ("skip", "keep"):
        msg = f"crowd must be 'skip' or 'keep', found {crowd!r}"
        raise InputError(msg)
    if isinstance(annotations, str | os.PathLike):
        annotations = [annotations]
    files = find_annotation_files(annotations, task)
    if not files:
        msg = "no annotation files given"
        raise InputError(msg)
    if split is not None and len(files) > 1:
        msg = f"--split names one split but {len(files)} annotation files were given"
        raise InputError(msg)
    root = Path(root)
    workers = worker_count(workers)
    keep_freed_memory()
    large = backend == "loky" and max(os.path.getsize(f) for f in files) >= PARALLEL_MIN_BYTES
    with local_workers(workers if large else 1, __name__):  # started before the images are read
        splits = [split or coco.split_from_filename(f) for f in files]
        if len(set(splits)) != len(splits):
            msg = f"two inputs map to the same split ({', '.join(splits)}); pass them separately"
            raise InputError(msg)

        opened = [
            coco.open_coco(f, s, chunk_bytes=CHUNK_BYTES)
            for f, s in zip(files, splits, strict=True)
        ]
        categories = classmap.union_categories((str(c.path), c.categories) for c in opened)
        record = classmap.read_record(root)
        class_map = classmap.resolve_class_map(categories, record, classes, root)
        if drop_unused_categories:
            used_ids = _used_category_ids(opened, workers)
            class_map = classmap.ClassMap(
                category_ids=tuple(c for c in class_map.category_ids if c in used_ids),
                names=tuple(
                    n
                    for c, n in zip(class_map.category_ids, class_map.names, strict=True)
                    if c in used_ids
                ),
                selected=True,
            )

        root.mkdir(parents=True, exist_ok=True)
        summaries = []
        used: set[int] = set()
        for coco_file, split_name in zip(opened, splits, strict=True):
            check_label_names(str(coco_file.path), coco_file.images.paths)
            ctx = row_context(coco_file, class_map, task, crowd == "keep")
            # The label text is rarely more than the JSON it comes from.
            text_file = label_text_file(2 * os.path.getsize(coco_file.path))
            stages = Stages()
            try:
                root_text = root.as_posix()
                plan_folders(sorted(_label_folders(root_text, coco_file.images.paths)), stages)
                # New label files are created while workers compute their rows.
                labels = map(partial(_label_path, root_text), coco_file.images.paths)
                if _rows_in_workers(coco_file, workers):
                    labels_ahead = create_ahead(labels, stages)
                else:
                    labels_ahead = contextlib.nullcontext(Ahead())
                with backend_context(backend, scheduler), labels_ahead as ahead:
                    rows = _split_rows(coco_file, ctx, text_file, workers, backend, progress)
                used |= rows.categories_used
                # Images are looked up before any label is written: a missing one leaves no output.
                image_files = (
                    image_sources(Path(images), coco_file.images.paths) if images else None
                )
                written, unchanged, background = _write_labels(
                    root,
                    split_name,
                    coco_file.images.paths,
                    rows,
                    stages,
                    ahead.created,
                    workers,
                    progress,
                )
            except BaseException:
                discard(stages)
                raise
            finally:
                os.unlink(text_file)
            publish(stages)
            counts = rows.counts
            if coco_file.images.lvis_fields:
                counts["lvis_image_fields_ignored"] = coco_file.images.lvis_fields
            paths = coco_file.images.paths
            write_atomic(root / f"{split_name}.txt", paths.lines("./images/").encode())
            if image_files is not None:
                _link_images(root, image_files, paths)
            summaries.append(
                SplitSummary(
                    source=str(coco_file.path),
                    split=split_name,
                    images=len(coco_file.images),
                    label_files_written=written,
                    label_files_unchanged=unchanged,
                    instances=counts.pop("instances", 0),
                    background_images=background,
                    counts=dict(sorted(counts.items())),
                )
            )
            _warn_crowd_heavy(summaries[-1], crowd)

    split_record = {s.split: {"source": s.source, "images": s.images} for s in summaries}
    if record is not None:
        split_record = {**record.get("splits", {}), **split_record}
    keypoint_names = _keypoint_names(opened) if task == "pose" else None
    record_path = classmap.write_record(
        root, class_map, task, split_record, keypoint_names=keypoint_names
    )
    yaml_path = yamlfile.write_dataset_yaml(
        root,
        class_map.names_by_index(),
        list(split_record),
        name=yaml_name,
        keypoint_names=keypoint_names,
    )
    unused = [name for cid, name in categories.items() if cid not in used]
    return Summary(
        root=str(root),
        task=task,
        classes=len(class_map.names),
        yaml=str(yaml_path),
        record=str(record_path),
        splits=summaries,
        unused_categories=unused,
    )


def _used_category_ids(opened: list[coco.CocoFile], workers: int) -> set[int]:
    """Category ids some annotation of the files uses (a parse-only pass)."""
    used: set[int] = set()
    for coco_file in opened:
        if coco_file.annotations is not None:
            used.update(a.get("category_id") for a in coco_file.annotations if isinstance(a, dict))
            continue
        ranges = coco_file.annotation_ranges or []
        jobs = [(str(coco_file.path), s, e) for s, e in ranges]
        sizes = [e - s for s, e in ranges]
        for ids in run_in_order(coco.category_ids_in_range, jobs, sizes, workers=workers):
            used.update(ids.tolist())
    return used


def _keypoint_names(opened: list[coco.CocoFile]) -> list[str] | None:
    for coco_file in opened:
        for category in coco_file.categories:
            names = category.get("keypoints")
            if isinstance(names, list) and names:
                return [str(n) for n in names]
    return None


def _warn_crowd_heavy(split: SplitSummary, crowd: str) -> None:
    skipped = split.counts.get("crowd_skipped", 0)
    if crowd == "skip" and skipped and skipped * 2 > split.counts.get("annotations", 0):
        log.warning(
            "%s: %d of %d annotations are crowd (iscrowd=1) and were skipped; tool exports such as "
            "CVAT mark every mask as crowd: pass --crowd keep to convert them",
            split.source,
            skipped,
            split.counts.get("annotations", 0),
        )

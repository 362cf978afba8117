"""The rows phase of convert: workers turn annotation chunks into label rows and append their
text to one temporary file (the text store, in /dev/shm when it has room); the parent keeps two
columns per row (its image, where its text ends) in a :class:`SplitRows`."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from cocoprep import coco, debris, jsonscan
from cocoprep.converter.tuning import Run, Tuning
from cocoprep.parallel import Shared, keep_freed_memory, run_in_order
from cocoprep.rows import ChunkRows, RowContext, annotation_rows


def label_text_file(size_hint: int, tuning: Tuning) -> str:
    """A new empty temporary file for a split's label text: in ``tuning.shm_folder`` when that
    has room for ``size_hint`` bytes and ``tuning.shm_headroom`` more, else in the temporary
    directory."""
    folder, shm = tempfile.gettempdir(), tuning.shm_folder
    if os.path.isdir(shm) and shutil.disk_usage(shm).free >= size_hint + tuning.shm_headroom:
        folder = shm
    # Named for its owner, so the next run removes it if this one is killed (cocoprep.debris).
    prefix = f"cocoprep-labels-{debris.tag()}-"
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".txt", dir=folder)
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
    with jsonscan.gc_paused():
        rows = annotation_rows(jsonscan.parse_objects(path, start, end), ctx.get())
    return _stored(rows, text_file)


def _rows_of_batch(
    batch: list[dict[str, Any]], ctx: Shared[RowContext], text_file: str | None
) -> tuple[int, ChunkRows]:
    return _stored(annotation_rows(batch, ctx.get()), text_file)


def rows_in_workers(coco_file: coco.CocoFile, workers: int, tuning: Tuning) -> bool:
    """Whether :func:`split_rows` has worker processes compute the file's rows (more than
    one job, and enough work to pay for them)."""
    if workers <= 1:
        return False
    if coco_file.annotations is not None:
        return len(coco_file.annotations) > tuning.annotation_batch
    ranges = coco_file.annotation_ranges or []
    return sum(e - s for s, e in ranges) >= tuning.parallel_min_bytes


def _iter_chunk_rows(
    coco_file: coco.CocoFile, ctx: RowContext, text_file: str, run: Run
) -> Iterator[tuple[int, ChunkRows]]:
    """Rows of each chunk of the file's annotations, in file order, computed by workers; each
    chunk's text is appended to ``text_file`` (by local workers themselves, by this process for
    a cluster's) and its offset there given with it."""
    tuning, backend = run.tuning, run.backend
    local_file = text_file if backend == "loky" else None
    workers = run.workers if rows_in_workers(coco_file, run.workers, tuning) else 1
    if coco_file.annotations is not None:
        batches = list(coco.iter_annotation_batches(coco_file, tuning.annotation_batch))
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
            progress=run.progress,
        ):
            yield _stored(chunk, text_file) if offset < 0 else (offset, chunk)


@dataclass
class SplitRows:
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
    def collect(cls, chunks: Iterable[tuple[int, ChunkRows]], text_file: str) -> SplitRows:
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


def split_rows(coco_file: coco.CocoFile, ctx: RowContext, text_file: str, run: Run) -> SplitRows:
    """Rows for every annotation of the file, their text in ``text_file``; a file whose byte
    ranges do not parse is re-read whole (which names the position of invalid JSON)."""

    def compute(opened: coco.CocoFile) -> SplitRows:
        os.truncate(text_file, 0)  # what a failed first attempt appended
        chunks = _iter_chunk_rows(opened, ctx, text_file, run)
        return SplitRows.collect(chunks, text_file)

    return coco.ranges_else_whole(coco_file, compute)

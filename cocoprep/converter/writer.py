"""The label writer of convert: each image's rows, ordered by image, are read back from the text
store and written as one label file per image, in blocks of images by worker processes, each file
once and atomically (:mod:`cocoprep.fileio`)."""

from __future__ import annotations

import contextlib
import mmap
import os
from collections import Counter
from collections.abc import Iterator

import numpy as np

from cocoprep import coco, jsonscan, layout
from cocoprep.converter.textstore import SplitRows
from cocoprep.converter.tuning import Run
from cocoprep.fileio import Stages, write_files
from cocoprep.parallel import release_freed_memory, run_in_order, worker_count


def write_labels(
    split: str, paths: coco.StringColumn, rows: SplitRows, stages: Stages, created: int, run: Run
) -> tuple[int, int, int]:
    """Write each image's label file; return (written, unchanged, background images).

    Blocks of images are grouped and written by local workers (:func:`_write_label_block`)
    reading the rows' text file, into ``stages`` (planned from :func:`label_folders`; the first
    ``created`` labels exist already, empty).
    """
    n_images = len(paths)
    starts, ends = rows.row_spans()
    order = np.argsort(rows.image, kind="stable")
    bounds = np.searchsorted(rows.image[order], np.arange(n_images + 1))
    starts, ends = starts[order], ends[order]
    del order
    tuning = run.tuning
    small = n_images < tuning.write_parallel_min_images
    # Local processes even after a dask run: the text file is on this machine.
    workers = 1 if small else min(run.workers, worker_count(None))
    # One block per worker: a block's rows are spread over the whole text file, so each block
    # maps most of its pages; four blocks per worker took 0.5 s longer at train2017 scale.
    per_worker = -(-n_images // workers)
    step = min(tuning.images_per_block, max(tuning.min_images_per_block, per_worker))
    root_text = run.root.as_posix()
    jobs, sizes = [], []
    for first in range(0, n_images, step):
        last = min(first + step, n_images)
        lo, hi = int(bounds[first]), int(bounds[last])
        relpaths = paths.text[paths.starts[first] : paths.starts[last] - 1]
        edges = bounds[first : last + 1] - lo
        block_created = min(max(created - first, 0), last - first)
        spans = (rows.text_file, starts[lo:hi], ends[lo:hi], edges)
        jobs.append((*spans, relpaths, root_text, stages, block_created, tuning.images_per_join))
        sizes.append(last - first)
    totals = np.zeros(4, np.int64)
    for counts in run_in_order(
        _write_label_block,
        jobs,
        sizes,
        workers=workers,
        desc=f"labels {split}",
        unit="file",
        progress=run.progress,
    ):
        totals += counts
    written, unchanged, background, duplicates = totals.tolist()
    rows.counts["duplicates_dropped"] += duplicates
    rows.counts["instances"] -= duplicates
    return written, unchanged, background


def label_folders(root: str, paths: coco.StringColumn) -> set[str]:
    """The folders of the images' label files (a label's folder follows from its image's)."""
    image_folders = {relpath.rpartition("/")[0] for relpath in paths}
    return {
        layout.label_file(root, f"{folder}/x" if folder else "x").rpartition("/")[0]
        for folder in image_folders
    }


def _image_texts(
    text: bytes | mmap.mmap,
    starts: np.ndarray,
    ends: np.ndarray,
    edges: np.ndarray,
    tally: Counter,
    images_per_join: int = 4096,
) -> Iterator[bytes]:
    """Each image's label text in turn, counting background images and duplicate rows dropped
    in ``tally``.

    Image ``i`` has rows ``edges[i]:edges[i + 1]`` of ``starts``/``ends`` (spans in ``text``),
    in annotation order; they are kept in that order, exact duplicate rows dropped. The rows of
    ``images_per_join`` images at a time are joined in one call, then cut per image; what was
    read of a mapped ``text`` is unmapped again (see :func:`cocoprep.jsonscan.unmap`).

    >>> spans, tally = (np.array([0, 4, 8]), np.array([4, 8, 12])), Counter()
    >>> list(_image_texts(b"0 a\\n1 b\\n0 a\\n", *spans, np.array([0, 0, 3]), tally))
    [b'', b'0 a\\n1 b\\n']
    >>> tally["background"], tally["duplicates"]
    (1, 1)
    """
    tally.update(background=int((np.diff(edges) == 0).sum()))
    for first in range(0, len(edges) - 1, images_per_join):
        last = min(first + images_per_join, len(edges) - 1)
        rows = slice(edges[first], edges[last])
        joined = b"".join(map(text.__getitem__, map(slice, starts[rows], ends[rows])))
        jsonscan.unmap(text)  # read: it stays in the file, it need not stay mapped here
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
    images_per_join: int,
) -> tuple[int, int, int, int]:
    """Write the label files of one block of images (a worker's job); return (written,
    unchanged, background images, duplicate rows dropped).

    ``relpaths`` are the block's image paths, one a line; their rows' spans in the file at
    ``text_path`` are given as for :func:`_image_texts`; ``stages`` come from
    :func:`write_labels`, and the first ``created`` labels exist already, empty. Each label is
    written as soon as it is built.
    """
    release_freed_memory()  # what the rows phase left in this worker
    tally: Counter = Counter()
    with _mapped(text_path) as text:
        labels = _image_texts(text, starts, ends, edges, tally, images_per_join)
        paths = (layout.label_file(root, r) for r in relpaths.split("\n"))
        written, unchanged = write_files(zip(paths, labels, strict=True), stages, created=created)
    return written, unchanged, tally["background"], tally["duplicates"]

"""Writing an export: a COCO file (or a results list) streamed block by block to a temporary
file beside the target and renamed over it, so a failed run leaves no partial file and memory
holds one block of annotations at a time. The bytes depend only on the inputs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from cocoprep.errors import OutputError
from cocoprep.exporter.annotations import Block
from cocoprep.exporter.images import SplitImages

_INFO = {"description": "Exported by cocoprep from YOLO labels"}


def numbered(block: Block, first_id: int) -> bytes:
    """The block's objects as JSON array items, each given ``"id"`` from ``first_id`` on.

    >>> block = Block(b'{"a":1}{"b":2}', np.array([7, 14]))
    >>> numbered(block, 5)
    b'{"id":5,"a":1},{"id":6,"b":2}'
    """
    starts = np.concatenate([[0], block.ends[:-1]]).tolist()
    text = block.text
    return b",".join(
        b'{"id":%d,%s' % (first_id + i, text[s + 1 : e])
        for i, (s, e) in enumerate(zip(starts, block.ends.tolist(), strict=True))
    )


def unnumbered(block: Block) -> bytes:
    """The block's objects as JSON array items, as they are (prediction results have no id)."""
    starts = np.concatenate([[0], block.ends[:-1]]).tolist()
    return b",".join(block.text[s:e] for s, e in zip(starts, block.ends.tolist(), strict=True))


def _size(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def images_json(images: SplitImages) -> bytes:
    """The ``images`` array of a split."""
    entries = [
        {"id": i, "file_name": name, "width": _size(w), "height": _size(h)}
        for i, name, w, h in zip(
            images.ids.tolist(),
            images.file_names,
            images.widths.tolist(),
            images.heights.tolist(),
            strict=True,
        )
    ]
    return orjson.dumps(entries)


@contextlib.contextmanager
def _atomic(folder: Path, target: Callable[[], Path]) -> Iterator[IO[bytes]]:
    """A file written in ``folder`` under a temporary name, renamed to ``target()`` at the end
    of the block (removed instead when the block fails)."""
    tmp = folder / f".cocoprep-export.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(tmp, "wb")  # noqa: SIM115 (closed below, before the rename)
    except OSError as error:
        msg = f"{folder}: cannot write the export ({error}); choose another {{out}}"
        raise OutputError(msg, path=folder, params=["out"]) from None
    try:
        with handle:
            yield handle
        os.replace(tmp, target())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_coco(
    folder: Path,
    target: Callable[[], Path],
    images: SplitImages,
    blocks: Iterable[Block],
    categories: Callable[[], Sequence[dict[str, Any]]],
) -> int:
    """Write a COCO file into ``folder``: ``info``, ``licenses``, ``images``, the blocks'
    annotations numbered 1..N in order, ``categories``. The categories and the file's name
    (``target``) are asked for once the blocks are written, when the task they show is known.
    Returns the annotation count."""
    count = 0
    with _atomic(folder, target) as out:
        out.write(b'{"info":' + orjson.dumps(_INFO) + b',"licenses":[],"images":')
        out.write(images_json(images))
        out.write(b',"annotations":[')
        for block in blocks:
            if len(block.ends):
                out.write(b"," if count else b"")
                out.write(numbered(block, count + 1))
                count += len(block.ends)
        out.write(b'],"categories":' + orjson.dumps(list(categories())) + b"}\n")
    return count


def write_results(path: Path, blocks: Iterable[Block]) -> int:
    """Write a COCO results list (``COCO.loadRes`` input) to ``path``; return its length."""
    count = 0
    with _atomic(path.parent, lambda: path) as out:
        out.write(b"[")
        for block in blocks:
            if len(block.ends):
                out.write(b"," if count else b"")
                out.write(unnumbered(block))
                count += len(block.ends)
        out.write(b"]\n")
    return count

"""Writing the edits' results: COCO files in their input's key order, streamed, atomic, never
over an input."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson

from cocoprep.edits._source import rewrite
from cocoprep.errors import CocoprepError, OutputError
from cocoprep.fileio import open_atomic
from cocoprep.progress import Bar


def listed(names: Sequence[str], limit: int = 10) -> str:
    """Names for a summary line, the first ``limit`` of them.

    >>> listed(["a", "b", "c"], limit=2)
    'a, b (+1 more)'
    """
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" (+{more} more)" if more > 0 else "")


@dataclass
class Target:
    """One file to write: the top-level keys (and their values) of ``top`` in order, with these
    images (JSON texts) and categories, and the annotations given to :meth:`CocoWriter.add`."""

    path: Path
    top: dict[str, Any]
    image_texts: list[bytes]
    categories: list[dict[str, Any]]


class CocoWriter:
    """Writes a :class:`Target` to an open file: everything up to the annotations at once, the
    annotations as they come, the rest at :meth:`finish`."""

    def __init__(self, handle: BinaryIO, target: Target) -> None:
        keys = list(target.top)
        if "annotations" not in keys:
            keys.append("annotations")
        cut = keys.index("annotations")
        self._handle, self._target, self._tail = handle, target, keys[cut + 1 :]
        self._empty = True
        head = [self._member(key) for key in keys[:cut]]
        handle.write(b"{" + b"".join(m + b"," for m in head) + b'"annotations":[')

    def add(self, texts: list[bytes]) -> None:
        """Append these annotations (JSON texts)."""
        if texts:
            self._handle.write((b"" if self._empty else b",") + b",".join(texts))
            self._empty = False

    def finish(self) -> None:
        """Close the annotations and write the keys after them."""
        tail = [self._member(key) for key in self._tail]
        self._handle.write(b"]" + b"".join(b"," + m for m in tail) + b"}")

    def _member(self, key: str) -> bytes:
        name = orjson.dumps(key) + b":"
        if key == "images":
            return name + b"[" + b",".join(self._target.image_texts) + b"]"
        if key == "categories":
            return name + orjson.dumps(self._target.categories)
        return name + orjson.dumps(self._target.top[key])


@contextlib.contextmanager
def write_cocos(targets: Sequence[Target]) -> Iterator[list[CocoWriter]]:
    """Writers for ``targets``, each through a temporary file renamed into place when the block
    ends; none is renamed (all are removed) when it raises."""
    try:
        with contextlib.ExitStack() as stack:
            writers = [CocoWriter(stack.enter_context(open_atomic(t.path)), t) for t in targets]
            yield writers
            for writer in writers:
                writer.finish()
    except OSError as error:
        if isinstance(error, CocoprepError):
            raise
        where = error.filename or targets[0].path
        msg = f"{where}: cannot write: {error.strerror or error}; check the folder and free space"
        raise OutputError(msg, path=where) from error


@dataclass
class Edits:
    """New field values for some annotations: where ``changed``, each field of ``values``
    takes its value there (others stay as they were, byte for byte)."""

    changed: np.ndarray
    values: dict[str, np.ndarray]


def write_annotations(
    texts_by_chunk: Iterable[list[bytes]],
    writers: Sequence[CocoWriter],
    route: np.ndarray,
    *,
    edits: Edits | None = None,
    shown: Bar | None = None,
    offset: int = 0,
) -> int:
    """Give each annotation to the writer ``route`` names (-1: none), edited where ``edits``
    says; ``route`` and ``edits`` cover the annotations from ``offset`` on. Returns the offset
    after the last annotation."""
    for texts in texts_by_chunk:
        here = route[offset : offset + len(texts)]
        if edits is not None:
            for i in np.flatnonzero(edits.changed[offset : offset + len(texts)] & (here >= 0)):
                row = offset + int(i)
                values = {name: column[row].item() for name, column in edits.values.items()}
                texts[i] = rewrite(texts[i], values)
        for j, writer in enumerate(writers):
            writer.add([texts[i] for i in np.flatnonzero(here == j)])
        offset += len(texts)
        if shown is not None:
            shown.update(len(texts))
    return offset

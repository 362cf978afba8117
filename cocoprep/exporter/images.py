"""The images of a split for ``export``: ids from file stems, sizes from image headers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cocoprep import progress as progress_bars
from cocoprep.errors import InputError

#: EXIF orientations that swap width and height (Ultralytics' ``exif_size`` does the same).
_TRANSPOSED = {5, 6, 7, 8}
_ORIENTATION = 0x0112


@dataclass
class SplitImages:
    """One split's images in export order, with the label file of each."""

    split: str
    ids: np.ndarray
    file_names: list[str]
    widths: np.ndarray
    heights: np.ndarray
    labels: list[str | None]  # None: the image has no label file
    counts: dict[str, int]  # what was skipped (labels without an image, …)

    def __len__(self) -> int:
        return len(self.ids)


def ids_from_stems(paths: Sequence[str | os.PathLike]) -> np.ndarray:
    """Image ids: the file stems when all are distinct integers (COCO's ``000000397133.jpg`` is
    397133), else 1..N in the order given.

    >>> ids_from_stems(["a/000000397133.jpg", "b/7.png"]).tolist()
    [397133, 7]
    >>> ids_from_stems(["x.jpg", "7.jpg"]).tolist()
    [1, 2]
    >>> ids_from_stems(["007.jpg", "7.png"]).tolist()
    [1, 2]
    """
    stems = [Path(p).stem for p in paths]
    if all(s.isascii() and s.isdigit() and len(s) <= 18 for s in stems):
        ids = np.array([int(s) for s in stems], np.int64)
        if len(np.unique(ids)) == len(ids):
            return ids
    return np.arange(1, len(stems) + 1, dtype=np.int64)


def header_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image as shown (EXIF rotation applied), from its header only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(_ORIENTATION) if image.format != "PNG" else None
    except FileNotFoundError:
        msg = f"{path}: image not found; its size is needed (pass {{like}} with its size)"
        raise InputError(msg, path=path, params=["like"]) from None
    except (OSError, UnidentifiedImageError, ValueError) as error:
        msg = f"{path}: cannot read the image header ({error}); fix or remove the image"
        raise InputError(msg, path=path) from None
    if orientation in _TRANSPOSED:
        return height, width
    return width, height


def header_sizes(
    paths: Sequence[str | os.PathLike], *, workers: int = 8, progress: progress_bars.Progress = None
) -> tuple[np.ndarray, np.ndarray]:
    """Widths and heights of many images from their headers, read by a pool of threads (the
    reads wait on the disk, not on Python)."""
    sizes = np.zeros((len(paths), 2), np.float64)
    with (
        progress_bars.bar(progress, total=len(paths), desc="image sizes", unit="img") as bar,
        ThreadPoolExecutor(max(1, workers)) as pool,
    ):
        for i, size in enumerate(pool.map(header_size, paths)):
            sizes[i] = size
            bar.update()
    return sizes[:, 0], sizes[:, 1]


def relative_names(paths: Sequence[Path], folder: Path | None) -> list[str]:
    """COCO ``file_name`` of each image: its path below ``folder`` (else below the images'
    common folder), with ``/``.

    >>> relative_names([Path("/d/images/val/a.jpg"), Path("/d/images/val/s/b.jpg")], None)
    ['a.jpg', 's/b.jpg']
    """
    if not paths:
        return []
    if folder is None:
        folder = Path(os.path.commonpath([str(p.parent) for p in paths]))
    return [p.relative_to(folder).as_posix() for p in paths]

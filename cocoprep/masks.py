"""COCO RLE masks: checked decoding of compressed and uncompressed counts, and a mask traced
into one YOLO ring (holes cut in by zero-width bridges, :func:`cocoprep.geometry.merge_parts`).

Pixel ``(row, col)`` of a mask covers the square ``[col, col + 1] x [row, row + 1]``, the
convention pycocotools uses to rasterise polygons.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cocoprep.errors import InputError
from cocoprep.geometry import merge_parts

__all__ = ["mask_to_ring", "rle_counts", "rle_of", "rle_to_mask"]


def rle_counts(counts: str | bytes) -> np.ndarray:
    """The run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``), checked:
    InputError for a character outside the format or a string cut inside a number.

    Examples
    --------
    >>> rle_counts("52203").tolist()
    [5, 2, 2, 2, 5]
    >>> rle_counts("5P")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cocoprep.errors.InputError: RLE counts: expected a complete compressed string, found one ...
    """
    raw = counts.encode() if isinstance(counts, str) else bytes(counts)
    values = np.frombuffer(raw, np.uint8).astype(np.int64) - 48
    if len(values) and (values.min() < 0 or values.max() > 63):
        bad = raw[int(np.flatnonzero((values < 0) | (values > 63))[0])]
        msg = (
            f"RLE counts: expected characters '0'..'o', found {chr(bad)!r}; re-encode the mask "
            "or drop the annotation"
        )
        raise InputError(msg)
    if len(values) and values[-1] & 0x20:
        msg = (
            "RLE counts: expected a complete compressed string, found one that ends inside a "
            "number; re-encode the mask or drop the annotation"
        )
        raise InputError(msg)
    runs: list[int] = []
    number = shift = 0
    for value in values.tolist():
        number |= (value & 0x1F) << shift
        shift += 5
        if value & 0x20:
            continue
        if value & 0x10:
            number -= 1 << shift
        if len(runs) > 2:
            number += runs[-2]
        runs.append(number)
        number = shift = 0
    return np.array(runs, np.int64)


def rle_of(rle: Any, height: int, width: int) -> dict:
    """A pycocotools (compressed) RLE of a COCO RLE ``segmentation`` whose ``counts`` are a list
    or a compressed string; InputError unless they decode to ``height`` x ``width`` pixels.

    Every caller (convert's rows, validate, repair, fidelity, preview) decodes masks through
    this one check, so a mask one accepts the others accept too.

    Examples
    --------
    >>> rle_of({"size": [2, 3], "counts": [1, 2, 3]}, 2, 3)["counts"]
    b'123'
    >>> rle_of({"size": [2, 3], "counts": [1, 2]}, 2, 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cocoprep.errors.InputError: RLE: expected counts summing to 2*3=6, found 3; ...
    """
    from pycocotools import mask as mask_utils

    counts = rle.get("counts") if isinstance(rle, dict) else None
    pixels = height * width
    if isinstance(counts, list):
        if not all(type(c) is int for c in counts):
            bad = next(c for c in counts if type(c) is not int)
            msg = (
                f"RLE counts: expected integers, found {bad!r}; re-encode the mask or drop the "
                "annotation"
            )
            raise InputError(msg)
        runs = counts
        total = sum(counts)
        negative = any(c < 0 for c in counts)
    elif isinstance(counts, str | bytes):
        decoded = rle_counts(counts)
        total, negative = int(decoded.sum()), bool((decoded < 0).any())
        runs = None
    else:
        msg = (
            f"RLE counts: expected a list or a string, found {type(counts).__name__}; "
            "re-encode the mask or drop the annotation"
        )
        raise InputError(msg)
    if negative or total != pixels:
        found = "a negative run" if negative else str(total)
        msg = (
            f"RLE: expected counts summing to {height}*{width}={pixels}, found {found}; the "
            "annotation is corrupt, re-encode the mask or drop the annotation"
        )
        raise InputError(msg)
    if runs is not None:
        return mask_utils.frPyObjects({"size": [height, width], "counts": runs}, height, width)
    raw = counts.encode() if isinstance(counts, str) else counts
    return {"size": [height, width], "counts": raw}


def rle_to_mask(rle: dict, height: int, width: int) -> np.ndarray:
    """Decode a COCO RLE (compressed or uncompressed ``counts``) into an (H, W) uint8 mask.

    Examples
    --------
    >>> rle_to_mask({"size": [2, 3], "counts": [1, 2, 3]}, 2, 3).tolist()
    [[0, 1, 0], [1, 0, 0]]
    """
    from pycocotools import mask as mask_utils

    size = list(rle.get("size", [])) if isinstance(rle, dict) else None
    if not isinstance(rle, dict) or "counts" not in rle or size != [height, width]:
        msg = (
            f"RLE: expected a dict with 'counts' and 'size' [{height}, {width}], found "
            f"{type(rle).__name__} with size {size}; check the annotation against its image"
        )
        raise InputError(msg)
    return np.asarray(mask_utils.decode(rle_of(rle, height, width)), dtype=np.uint8)


def mask_to_ring(mask: np.ndarray) -> np.ndarray | None:
    """Trace a binary (H, W) mask into ONE ring in pixel-edge coordinates, or None if empty.

    The mask's horizontal runs become boxes that Shapely unions into polygons; these are simplified
    by at most half a pixel (topology preserved), oriented (outer rings counter-clockwise in image
    axes, holes the other way) and every outer ring and hole is joined by :func:`merge_parts`, so
    holes are cut in by zero-width keyhole bridges. No OpenCV involved.

    Examples
    --------
    >>> m = np.zeros((4, 5), np.uint8)
    >>> m[1:3, 1:4] = 1
    >>> mask_to_ring(m).tolist()
    [[4.0, 1.0], [4.0, 3.0], [1.0, 3.0], [1.0, 1.0]]
    """
    import shapely

    mask = np.asarray(mask)
    if mask.ndim != 2:
        msg = f"mask: expected a 2-D (H, W) array, found shape {mask.shape}"
        raise InputError(msg)
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask != 0
    edges = np.diff(padded, axis=1)
    rows, x0 = np.nonzero(edges == 1)
    if len(rows) == 0:
        return None
    _, x1 = np.nonzero(edges == -1)
    boxes = shapely.box(x0, rows, x1, rows + 1)
    shape = shapely.simplify(shapely.union_all(boxes), 0.5, preserve_topology=True)
    rings: list[np.ndarray] = []
    for polygon in shapely.get_parts(shapely.orient_polygons(shape)):
        outlines = [polygon.exterior, *polygon.interiors]
        rings += [shapely.get_coordinates(line)[:-1] for line in outlines]
    return merge_parts(rings)

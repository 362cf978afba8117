"""Tests of cocoprep.masks: RLE decoding (checked) and masks traced into rings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from cocoprep.errors import InputError
from cocoprep.geometry import split_bridged_ring
from cocoprep.masks import mask_to_ring, rle_to_mask


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum() / (a | b).sum()


def rasterise(ring: np.ndarray, height: int, width: int) -> np.ndarray:
    rle = mask_utils.frPyObjects([ring.ravel().tolist()], height, width)
    return mask_utils.decode(rle)[..., 0]


def test_rle_uncompressed_and_compressed_agree():
    mask = np.zeros((5, 7), np.uint8)
    mask[1:4, 2:6] = 1
    mask[2, 3] = 0
    flat = mask.ravel(order="F")  # COCO runs go down columns
    change = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat[0]:
        counts = [0, *counts]
    assert (rle_to_mask({"size": [5, 7], "counts": counts}, 5, 7) == mask).all()
    compressed = mask_utils.encode(np.asfortranarray(mask))
    text = {"size": [5, 7], "counts": compressed["counts"].decode()}
    assert (rle_to_mask(text, 5, 7) == mask).all()


@pytest.mark.parametrize(
    ("rle", "message"),
    [
        ({"size": [4, 4], "counts": [16]}, r"'size' \[5, 4\], found dict with size \[4, 4\]"),
        ({"size": [5, 4], "counts": [3, 4]}, "counts summing to 5\\*4=20, found 7"),
        ([1, 2], "found list with size None"),
    ],
)
def test_rle_bad_input(rle, message):
    with pytest.raises(InputError, match=message):
        rle_to_mask(rle, 5, 4)


def test_mask_to_ring_empty_and_bad_shape():
    assert mask_to_ring(np.zeros((4, 4), bool)) is None
    with pytest.raises(InputError, match=r"2-D \(H, W\) array, found shape \(2, 2, 2\)"):
        mask_to_ring(np.ones((2, 2, 2)))


def test_mask_to_ring_pixel_edges_and_keyhole():
    mask = np.zeros((10, 12), np.uint8)
    mask[2:8, 2:10] = 1
    mask[4:6, 5:7] = 0  # a hole
    ring = mask_to_ring(mask)
    assert ring[:, 0].min() == 2 and ring[:, 0].max() == 10  # pixel (r, c) spans [c, c + 1]
    assert len(split_bridged_ring(ring)) == 2  # outline + hole
    assert (rasterise(ring, 10, 12) == mask).all()


def blob_mask(rng: np.random.Generator, height: int = 120, width: int = 160) -> np.ndarray:
    """Union of random ellipses minus random ellipses: several parts, holes, ragged edges."""
    yy, xx = np.mgrid[:height, :width]
    mask = np.zeros((height, width), bool)
    for sign in [1] * int(rng.integers(1, 4)) + [0] * int(rng.integers(1, 4)):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        ry, rx = rng.uniform(5, height / 3), rng.uniform(5, width / 3)
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        mask = mask | inside if sign else mask & ~inside
    return mask


@pytest.mark.parametrize("seed", range(12))
def test_mask_to_ring_reproduces_synthetic_masks(seed):
    mask = blob_mask(np.random.default_rng(seed))
    ring = mask_to_ring(mask)
    if not mask.any():
        assert ring is None
        return
    assert iou(rasterise(ring, *mask.shape), mask) >= 0.99


def test_mask_to_ring_reproduces_coco_crowd_masks(coco_mini):
    data = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    crowd = [a for a in data["annotations"] if a["iscrowd"]]
    assert len(crowd) == 5
    for ann in crowd:
        height, width = sizes[ann["image_id"]]
        mask = rle_to_mask(ann["segmentation"], height, width)
        ring = mask_to_ring(mask)
        assert iou(rasterise(ring, height, width), mask) >= 0.99, ann["id"]

"""Generate the small COCO-format sample committed in ``examples/coco-sample/``.

Six images drawn with Pillow and their annotations: single and multi-part polygons (one with a
part beyond the image edge), one crowd object as an uncompressed RLE mask with a hole, and one
image with no annotation (a background image). Deterministic: re-running it rewrites the same
files. Run: ``python examples/make_sample.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

HERE = Path(__file__).resolve().parent / "coco-sample"
CATEGORIES = [
    {"supercategory": "shape", "id": 1, "name": "square"},
    {"supercategory": "shape", "id": 3, "name": "triangle"},
    {"supercategory": "shape", "id": 7, "name": "blob"},
]
COLOURS = {1: (220, 60, 60), 3: (60, 160, 60), 7: (60, 90, 220)}
W, H = 160, 120


def _bbox(flat: list[float]) -> list[float]:
    xs, ys = flat[0::2], flat[1::2]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _polygon(points: list[tuple[float, float]]) -> list[float]:
    return [round(v, 2) for point in points for v in point]


def _objects(index: int) -> list[tuple[int, list[list[float]]]]:
    """(category id, polygon parts) for the image with this index."""
    shift = 12 * index
    square = [(10 + shift, 10), (50 + shift, 10), (50 + shift, 50), (10 + shift, 50)]
    triangle = [(90, 100), (130 - shift / 2, 100), (110, 60 + shift / 3)]
    blob = [(70 + 18 * np.cos(a), 40 + 12 * np.sin(a)) for a in np.linspace(0, 6, 9)]
    objects = [(1, [_polygon(square)]), (3, [_polygon(triangle)])]
    if index % 2 == 0:
        # A multi-part object: an occluded blob seen as two pieces.
        left = [(x - 6, y) for x, y in blob[:5]]
        right = [(x + 20, y + 30) for x, y in blob[4:]]
        objects.append((7, [_polygon(left), _polygon(right)]))
    if index == 0:
        # A part crossing the right edge: convert clips it to the image.
        objects.append((3, [_polygon([(140, 10), (175, 20), (150, 40)])]))
    return objects


def _crowd_rle() -> tuple[dict, list[float]]:
    mask = np.zeros((H, W), np.uint8)
    mask[60:110, 20:80] = 1
    mask[75:95, 40:60] = 0  # a hole
    rle = mask_utils.encode(np.asfortranarray(mask))
    counts = []  # uncompressed counts, column-major, as COCO stores crowd masks
    flat = mask.ravel(order="F")
    value, run = 0, 0
    for pixel in flat:
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    counts.append(run)
    box = [float(v) for v in mask_utils.toBbox(rle)]
    return {"counts": counts, "size": [H, W]}, box


def build(split: str, image_ids: list[int], first_annotation_id: int) -> dict:
    """Draw the split's images and return its COCO dict."""
    folder = HERE / "images" / split
    folder.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    next_id = first_annotation_id
    for n, image_id in enumerate(image_ids):
        name = f"{image_id:012d}.jpg"
        canvas = Image.new("RGB", (W, H), (235, 230, 220))
        draw = ImageDraw.Draw(canvas)
        background = n == len(image_ids) - 1
        objects = [] if background else _objects(n)
        for category, parts in objects:
            for part in parts:
                draw.polygon(part, fill=COLOURS[category])
            points = [v for part in parts for v in part]
            annotations.append(
                {
                    "segmentation": parts,
                    "area": float(
                        mask_utils.area(mask_utils.merge(mask_utils.frPyObjects(parts, H, W)))
                    ),
                    "iscrowd": 0,
                    "image_id": image_id,
                    "bbox": [round(v, 2) for v in _bbox(points)],
                    "category_id": category,
                    "id": next_id,
                }
            )
            next_id += 1
        if n == 1:
            rle, box = _crowd_rle()
            draw.rectangle([20, 60, 79, 109], outline=(90, 90, 90))
            annotations.append(
                {
                    "segmentation": rle,
                    "area": float(sum(rle["counts"][1::2])),
                    "iscrowd": 1,
                    "image_id": image_id,
                    "bbox": box,
                    "category_id": 7,
                    "id": next_id,
                }
            )
            next_id += 1
        canvas.save(folder / name, quality=90)
        images.append(
            {
                "license": 1,
                "file_name": name,
                "height": H,
                "width": W,
                "id": image_id,
                "coco_url": f"http://images.example.org/{split}/{name}",
            }
        )
    return {
        "info": {"description": "cocoprep sample", "version": "1.0", "year": 2026},
        "licenses": [
            {"id": 1, "name": "CC0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}
        ],
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES,
    }


def main() -> None:
    """Write the sample's images and annotation files."""
    annotations = HERE / "annotations"
    annotations.mkdir(parents=True, exist_ok=True)
    for split, ids, first in (("train", [101, 102, 103, 104], 1), ("val", [201, 202, 203], 100)):
        data = build(split, ids, first)
        (annotations / f"instances_{split}.json").write_text(json.dumps(data) + "\n")


if __name__ == "__main__":
    main()

"""Builders of small synthetic COCO-format data for the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CATEGORIES = [
    {"id": 1, "name": "person", "supercategory": "person"},
    {"id": 3, "name": "car", "supercategory": "vehicle"},
    {"id": 18, "name": "dog", "supercategory": "animal"},
]


def image(image_id: int, width: int = 640, height: int = 480, **extra: Any) -> dict[str, Any]:
    """An image record with a COCO-style file name."""
    record = {"id": image_id, "width": width, "height": height, "file_name": f"{image_id:012d}.jpg"}
    record.update(extra)
    return record


def polygon_annotation(
    ann_id: int, image_id: int, category_id: int, *parts: list[float], **extra: Any
) -> dict[str, Any]:
    """A polygon annotation whose bbox is the parts' bounds."""
    xs = [v for part in parts for v in part[0::2]]
    ys = [v for part in parts for v in part[1::2]]
    record = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "iscrowd": 0,
        "segmentation": [list(p) for p in parts],
        "area": 1.0,
        "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
    }
    record.update(extra)
    return record


def coco(images: list[dict], annotations: list[dict], categories=None) -> dict[str, Any]:
    """A COCO dict in the official key order."""
    return {
        "info": {"description": "test"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": CATEGORIES if categories is None else categories,
    }


def write(path: Path, data: Any, indent: int | None = None) -> Path:
    """Write ``data`` as JSON and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent))
    return path


def square(x: float, y: float, size: float) -> list[float]:
    """A square polygon as a flat COCO coordinate list."""
    return [x, y, x + size, y, x + size, y + size, x, y + size]


def skewed_coco(
    n_images: int = 600, n_classes: int = 8, seed: int = 0, frames: int = 4
) -> dict[str, Any]:
    """A multi-label COCO dict with skewed class frequencies (class ``k`` about ``1/(k+1)`` as
    common as class 0), 0 to 4 annotations per image of growing sizes, and file names
    ``v<video>_f<frame>.jpg`` with ``frames`` frames per video (for grouping)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, n_classes + 1)
    weights /= weights.sum()
    categories = [
        {"supercategory": "thing", "id": 10 + 3 * k, "name": f"class{k}"} for k in range(n_classes)
    ]
    images, annotations = [], []
    for i in range(n_images):
        images.append(image(100 + i, file_name=f"v{i // frames:04d}_f{i % frames}.jpg", license=1))
        for k in rng.choice(n_classes, size=int(rng.integers(0, 5)), p=weights).tolist():
            size = float(rng.integers(2, 60))
            x, y = rng.integers(0, 500), rng.integers(0, 400)
            annotation = polygon_annotation(
                len(annotations) + 1, 100 + i, 10 + 3 * k, square(float(x), float(y), size)
            )
            annotation["area"] = size * size
            annotations.append(annotation)
    data = coco(images, annotations, categories)
    data["licenses"] = [{"id": 1, "name": "test licence", "url": ""}]
    return data


def label_rows(root: Path) -> int:
    """The number of label rows below ``root/labels``."""
    return sum(len(p.read_text().splitlines()) for p in (root / "labels").rglob("*.txt"))

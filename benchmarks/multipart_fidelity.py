"""Multi-part objects under the trainer's raster: cocoprep's bridges against Ultralytics' merge.

Ultralytics fills each label polygon with ``cv2.fillPoly`` (boundary pixels included), so every
zero-width bridge of a multi-part object becomes a stroke of pixels. For every non-crowd
multi-part object of the real COCO sample this script fills (1) the parts separately — the
object as annotated —, (2) cocoprep's ring and (3) the ring of Ultralytics'
``merge_multi_segment``, each after the round trip through label text (normalised, ``%g``) and
back to pixels the way the trainer reads it, and prints the IoU of (2) and (3) against (1).

Needs ``opencv`` and ``ultralytics`` (run it with the comparison venv, where cocoprep is installed
too)::

    $ULTRALYTICS_PYTHON benchmarks/multipart_fidelity.py [--coco-mini DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from ultralytics.data.converter import merge_multi_segment

from cocoprep.geometry import merge_parts

DEFAULT_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco-mini"


def _as_written(ring: np.ndarray, width: int, height: int) -> np.ndarray:
    """The ring as the trainer sees it: normalised, written with %g, read back, in pixels."""
    text = " ".join(f"{v:g}" for v in np.clip(ring / [width, height], 0, 1).ravel())
    values = np.array(text.split(), np.float64).reshape(-1, 2)
    return values * [width, height]


def _fill(polygons: list[np.ndarray], height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [p.astype(np.int32) for p in polygons], 1)
    return mask


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def main() -> None:
    """Print the IoU figures for both merges side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco-mini", type=Path, default=DEFAULT_MINI)
    args = parser.parse_args()
    ours, theirs, extra_ours, extra_theirs = [], [], [], []
    for split in ("train2017", "val2017"):
        data = json.loads((args.coco_mini / f"annotations/instances_{split}.json").read_text())
        sizes = {i["id"]: (i["width"], i["height"]) for i in data["images"]}
        for ann in data["annotations"]:
            seg = ann["segmentation"]
            if ann["iscrowd"] or not isinstance(seg, list) or len(seg) < 2:
                continue
            width, height = sizes[ann["image_id"]]
            parts = [np.array(p, np.float64).reshape(-1, 2) for p in seg]
            reference = _fill([_as_written(p, width, height) for p in parts], height, width)
            ring = merge_parts(parts)
            theirs_ring = np.concatenate(merge_multi_segment([list(p.ravel()) for p in parts]))
            for ring_, ious, extra in (
                (ring, ours, extra_ours),
                (theirs_ring, theirs, extra_theirs),
            ):
                filled = _fill([_as_written(ring_, width, height)], height, width)
                ious.append(_iou(filled, reference))
                extra.append(int((filled & ~reference.astype(bool)).sum()))
    print(f"multi-part objects: {len(ours)} (coco-mini train2017 + val2017, non-crowd)")
    print(
        f"{'merge':<24}{'IoU mean':>10}{'IoU p5':>10}{'IoU min':>10}{'extra px mean':>15}{'max':>6}"
    )
    for name, ious, extra in (
        ("cocoprep (MST bridges)", ours, extra_ours),
        ("ultralytics (JSON order)", theirs, extra_theirs),
    ):
        print(
            f"{name:<24}{np.mean(ious):>10.4f}{np.percentile(ious, 5):>10.4f}"
            f"{np.min(ious):>10.4f}{np.mean(extra):>15.1f}{np.max(extra):>6d}"
        )


if __name__ == "__main__":
    main()

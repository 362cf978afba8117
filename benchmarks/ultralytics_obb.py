"""Does Ultralytics read cocoprep's oriented boxes? Convert real COCO with ``--task obb``, then
load the labels with Ultralytics' own ``YOLODataset(task="obb")`` and count what it rejects.

Run with the comparison venv (Ultralytics installed, never a cocoprep dependency); cocoprep runs
as a subprocess of ``--cocoprep-python``::

    /work/uvenv/bin/python benchmarks/ultralytics_obb.py --coco ../shared/data/coco-mini

Prints the images, instances and corrupt labels Ultralytics counted, and checks that each
instance comes out as a finite ``xywhr`` box of positive size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def convert(coco: Path, split: str, root: Path, python: str) -> None:
    """``cocoprep convert --task obb`` with the images linked in."""
    ann = coco / "annotations" / f"instances_{split}.json"
    cmd = [python, "-m", "cocoprep", "convert", str(ann), "--root", str(root), "--task", "obb"]
    cmd += ["--images", str(coco / "images" / split), "--quiet"]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})


def load(root: Path, split: str):
    """Ultralytics' dataset over the converted split, as training builds it."""
    from ultralytics.cfg import get_cfg
    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(root / "coco.yaml"))
    cfg = get_cfg(overrides={"task": "obb", "imgsz": 640})
    return YOLODataset(
        img_path=str(root / f"{split}.txt"), data=data, task="obb", hyp=cfg, augment=False
    )


def main(argv: list[str] | None = None) -> int:
    """Convert, load, report; non-zero exit when Ultralytics rejects a label or a box is off."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coco", type=Path, default=Path("../shared/data/coco-mini"))
    parser.add_argument("--split", default="val2017")
    parser.add_argument("--cocoprep-python", default="/work/venv/bin/python")
    args = parser.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "obb"
        for split in dict.fromkeys(["train2017", args.split]):  # the yaml needs a train key
            convert(args.coco.resolve(), split, root, args.cocoprep_python)
        dataset = load(root, args.split)
        cache = dataset.cache_labels(Path(tmp) / "again.cache")  # found, missing, empty, corrupt
        found, missing, empty, corrupt, _ = cache["results"]
        labels = (root / "labels" / args.split).glob("*.txt")
        rows = sum(len(p.read_text().splitlines()) for p in labels)
        boxes = bad = 0
        for i in range(len(dataset)):
            xywhr = dataset[i]["bboxes"].numpy()
            assert xywhr.ndim == 2 and xywhr.shape[1] == 5, xywhr.shape
            boxes += len(xywhr)
            bad += int((~np.isfinite(xywhr).all(1) | (xywhr[:, 2:4] <= 0).any(1)).sum())
        instances = sum(len(label["cls"]) for label in dataset.labels)
        print(
            f"ultralytics {__import__('ultralytics').__version__}: {found} label files found, "
            f"{missing} missing, {empty} empty, {corrupt} corrupt"
        )
        print(
            f"label rows {rows}, instances loaded {instances}, xywhr boxes yielded {boxes} "
            f"({bad} of zero size or not finite)"
        )
        return 0 if corrupt == 0 and instances == rows == boxes and not bad else 1


if __name__ == "__main__":
    sys.exit(main())

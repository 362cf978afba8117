"""Check that Ultralytics reads cocoprep's oriented boxes: ``YOLODataset(task="obb")`` over every
split of a root converted with ``cocoprep convert ... --task obb --images DIR``.

Run it with the python of a venv that has Ultralytics (never a dependency of cocoprep). Prints,
per split, Ultralytics' own scan counts (found, missing, empty, corrupt), the instances it read
against the rows on disk, and the ``xywhr`` boxes of one sample; exits 1 on any corrupt label or
lost instance. ``--convert ANNOTATIONS --images DIR`` converts first, with ``--cocoprep-cmd``.

Example::

    python -m cocoprep convert ../shared/data/coco-mini/annotations/instances_val2017.json \\
        --root /tmp/obb-mini --task obb --images ../shared/data/coco-mini/images/val2017
    ultra-venv/bin/python benchmarks/ultralytics_obb.py /tmp/obb-mini
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path


def check_split(root: Path, split: str, names: dict[int, str]) -> tuple[bool, str]:
    """Load one split as Ultralytics trains on it; (all good, a report line)."""
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import load_dataset_cache_file

    images = root / "images" / split
    dataset = YOLODataset(
        img_path=str(images), data={"names": names, "channels": 3}, task="obb", augment=False
    )
    cache = load_dataset_cache_file(Path(dataset.label_files[0]).parent.with_suffix(".cache"))
    found, missing, empty, corrupt, total = cache["results"]
    read = sum(len(label["cls"]) for label in dataset.labels)
    rows = sum(len(Path(f).read_text().splitlines()) for f in dataset.label_files)
    sample = next(i for i, label in enumerate(dataset.labels) if len(label["cls"]))
    boxes = dataset[sample]["bboxes"]
    line = (
        f"{split}: {total} images, found {found}, missing {missing}, empty {empty}, "
        f"corrupt {corrupt}; instances read {read} of {rows} rows; sample bboxes "
        f"{tuple(boxes.shape)} (xywhr), angles {float(boxes[:, 4].min()):.3f}.."
        f"{float(boxes[:, 4].max()):.3f} rad"
    )
    return corrupt == 0 and read == rows and boxes.shape[1] == 5, line


def main(argv: list[str] | None = None) -> int:
    """Convert when asked, then check every split of the root."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="a root converted with --task obb")
    parser.add_argument("--convert", type=Path, help="COCO annotations to convert first")
    parser.add_argument("--images", type=Path, help="their images (convert --images)")
    parser.add_argument(
        "--cocoprep-cmd", type=shlex.split, default=["cocoprep"], help="how to run cocoprep"
    )
    args = parser.parse_args(argv)
    if args.convert:
        command = [*args.cocoprep_cmd, "convert", str(args.convert), "--root", str(args.root)]
        command += ["--task", "obb", "-q"] + (["--images", str(args.images)] if args.images else [])
        subprocess.run(command, check=True)
    record = json.loads((args.root / "cocoprep.json").read_text())
    if record.get("task") != "obb":
        print(f"{args.root}: converted for task {record.get('task')!r}, not obb", file=sys.stderr)
        return 1
    names = {i: c["name"] for i, c in enumerate(record["classes"])}
    good = True
    for split in record["splits"]:
        ok, line = check_split(args.root, split, names)
        print(line)
        good &= ok
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())

"""Time ``cocoprep export`` of a converted train2017-scale root against a plain-Python floor.

No other tool turns YOLO labels back into COCO JSON with the original ids (Ultralytics has no
such converter), so the peer is the floor of any exporter written in Python: one process that
reads the image record, reads and parses every label file (``bytes.split`` and ``float``),
builds each annotation as a dict (box and polygon in pixels, ``area`` = box area: no mask is
rasterised, no bridged ring split) and writes the file with ``orjson``. cocoprep does more for
segment rows (pycocotools' mask area and box, bridged rings split into their parts).

The file comes from ``generate.py`` (cached in ``--data-dir``) and is converted once per task
(the conversion is timed too, for reference); each export is a fresh subprocess, timed and
polled for peak RSS as in ``bench_convert.py``, after a ``sync``; the floor runs before and after
cocoprep and its mean is the reference, since the machine is shared.

Examples::

    python benchmarks/bench_export.py                      # 118,287 images, detect and segment
    python benchmarks/bench_export.py --images 5000 --tasks detect --json export.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_convert import Measurement, dataset, measure  # the sibling script

REPO = Path(__file__).resolve().parents[1]
FLOOR = """\
import sys, orjson
root, split, task, out = sys.argv[1:5]
record = orjson.loads(open(f"{root}/.cocoprep/images-{split}.json", "rb").read())
classes = [c["id"] for c in orjson.loads(open(f"{root}/cocoprep.json", "rb").read())["classes"]]
images, annotations = [], []
for image_id, path, w, h in zip(record["ids"], record["paths"], record["widths"],
                                record["heights"]):
    images.append({"id": image_id, "file_name": path.split("/", 1)[1], "width": w, "height": h})
    try:
        text = open(f"{root}/labels/{path.rsplit('.', 1)[0]}.txt", "rb").read()
    except FileNotFoundError:
        continue
    for line in text.splitlines():
        numbers = [float(t) for t in line.split()]
        if not numbers:
            continue
        ann = {"id": len(annotations) + 1, "image_id": image_id,
               "category_id": classes[int(numbers[0])], "iscrowd": 0}
        if task == "detect":
            cx, cy, bw, bh = numbers[1:5]
            box = [round((cx - bw / 2) * w, 2), round((cy - bh / 2) * h, 2),
                   round(bw * w, 2), round(bh * h, 2)]
        else:
            xy = [round(v * (w if i % 2 == 0 else h), 2) for i, v in enumerate(numbers[1:])]
            xs, ys = xy[0::2], xy[1::2]
            box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            ann["segmentation"] = [xy]
        ann["bbox"], ann["area"] = box, box[2] * box[3]
        annotations.append(ann)
data = {"images": images, "annotations": annotations, "categories": record["categories"]}
open(out, "wb").write(orjson.dumps(data))
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=118_287, help="scale of the file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", default="detect,segment", help="comma-separated tasks")
    parser.add_argument("--workers", type=int, help="cocoprep --workers (default: all cores)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/cocoprep-bench"))
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    return parser.parse_args(argv)


def _line(name: str, m: Measurement, base: float | None) -> str:
    ratio = f"{m.wall / base:>9.2f}" if base else f"{'':>9}"
    status = "" if m.returncode == 0 else f"  FAILED: {m.stderr_tail.strip()[-200:]}"
    return (
        f"{name:<34} {m.wall:>8.2f} {ratio} {m.peak_rss_max / 2**20:>12.0f}"
        f" {m.peak_rss_sum / 2**20:>10.0f}{status}"
    )


def _synced(command: list[str], env: dict) -> Measurement:
    """``measure(command)`` once the disk has written out what the run before left dirty (the
    last run's 374 MB file would otherwise be flushed on the cores this one is timed on)."""
    os.sync()
    return measure(command, env=env)


def run_task(
    task: str, ann: Path, work: Path, env: dict, workers: int | None
) -> list[tuple[str, Measurement, str]]:
    """Convert ``ann`` for ``task``, then time cocoprep's export between two floor runs;
    (name, measurement, role) of each run."""
    cocoprep = [sys.executable, "-m", "cocoprep"]
    root = work / f"root-{task}"
    split = ann.stem.removeprefix("instances_")
    convert = [*cocoprep, "convert", str(ann), "--root", str(root), "--task", task, "--quiet"]
    runs = [(f"{task}: convert (reference)", _synced(convert, env), "convert")]
    floor_cmd = [sys.executable, "-c", FLOOR, str(root), split, task, str(work / "floor.json")]
    export = [*cocoprep, "export", str(root), "--out", str(work / f"out-{task}"), "--quiet"]
    if workers:
        export += ["--workers", str(workers)]
    runs.append((f"{task}: floor (first)", _synced(floor_cmd, env), "floor"))
    runs.append((f"{task}: cocoprep export", _synced(export, env), "export"))
    runs.append((f"{task}: floor (last)", _synced(floor_cmd, env), "floor"))
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ann = dataset(args.data_dir, "coco", args.images, args.seed)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    work = Path(tempfile.mkdtemp(prefix="bench-export-", dir=args.data_dir))
    rows: list[dict] = []
    print(f"{ann} ({args.images} images)")
    print(f"{'run':<34} {'wall s':>8} {'x floor':>9} {'peak RSS MB':>12} {'all procs':>10}")
    try:
        for task in args.tasks.split(","):
            runs = run_task(task, ann, work, env, args.workers)
            floors = [m.wall for _, m, role in runs if role == "floor"]
            base = sum(floors) / len(floors)
            for name, m, role in runs:
                print(_line(name, m, base if role != "convert" else None))
                rows.append({"run": name, "task": task, "role": role, **asdict(m)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("x floor: wall time over the mean of the two floor runs; peak RSS: largest process")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

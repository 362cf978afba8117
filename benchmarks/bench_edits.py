"""Time ``cocoprep split``, ``merge`` and ``filter`` against orjson reading and writing the file.

The peer is the least any tool that parses the JSON must do: ``orjson.loads`` of the whole file
and ``orjson.dumps`` of it back to disk (a script on ``json`` would be slower). Each run is a
fresh subprocess, timed and polled for peak RSS as in ``bench_convert.py``; the baseline runs
first and last and its mean is the reference, since the machine is shared. The file comes from
``generate.py`` (train2017 scale by default) and is cached in ``--data-dir``.

Examples::

    python benchmarks/bench_edits.py                    # 118,287 images, 860,001 annotations
    python benchmarks/bench_edits.py --images 5000 --json edits.json
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
BASELINE = (
    "import sys, orjson\n"
    "data = orjson.loads(open(sys.argv[1], 'rb').read())\n"
    "open(sys.argv[2], 'wb').write(orjson.dumps(data))\n"
)


def operations(ann: Path, work: Path) -> list[tuple[str, list[str], float]]:
    """(name, cocoprep arguments, how many baselines the data amounts to) for each run."""
    split = ["split", str(ann), "--out", str(work / "split"), "--ratios", "0.7,0.2,0.1"]
    parts = [str(work / "split" / f"instances_{n}.json") for n in ("train", "val", "test")]
    return [
        ("split", split, 1),
        ("split --stratify", [*split, "--stratify"], 1),
        ("split --stratify --group-by", [*split, "--stratify", "--group-by", r"^(\d{10})"], 1),
        (
            "filter (merge, drop, min-area, drop-empty, max-images)",
            [
                "filter",
                str(ann),
                "--out",
                str(work / "filtered.json"),
                "--merge",
                "car,truck,bus=vehicle",
                "--drop",
                "toaster",
                "--min-area",
                "32",
                "--drop-empty",
                "--max-images",
                "100000",
            ],
            1,
        ),
        ("merge (the 3 splits back)", ["merge", *parts, "--out", str(work / "merged.json")], 1),
        (
            "merge (itself, keep-both: all ids renumbered)",
            [
                "merge",
                str(ann),
                str(ann),
                "--out",
                str(work / "twice.json"),
                "--on-duplicate",
                "keep-both",
            ],
            2,
        ),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=118_287, help="scale of the file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/cocoprep-bench"))
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ann = dataset(args.data_dir, "coco", args.images, args.seed)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    cocoprep = [sys.executable, "-m", "cocoprep"]
    work = Path(tempfile.mkdtemp(prefix="bench-edits-", dir=args.data_dir))
    rows: list[dict] = []
    try:
        baseline_cmd = [sys.executable, "-c", BASELINE, str(ann), str(work / "orjson.json")]
        first = measure(baseline_cmd, env=env)
        runs: list[tuple[str, float, Measurement]] = []
        for name, extra, units in operations(ann, work):
            runs.append((name, units, measure([*cocoprep, *extra, "--quiet"], env=env)))
        last = measure(baseline_cmd, env=env)
        base = (first.wall + last.wall) / 2
        size = ann.stat().st_size / 1e6
        print(f"{ann} ({size:.0f} MB)")
        print(f"{'run':<52} {'wall s':>8} {'x orjson':>9} {'peak RSS MB':>12}")
        for name, m in (("orjson loads + dumps (first)", first), ("(last)", last)):
            print(
                f"{name:<52} {m.wall:>8.1f} {m.wall / base:>9.2f} {m.peak_rss_max / 2**20:>12.0f}"
            )
            rows.append({"run": name, "ratio": m.wall / base, **asdict(m)})
        for name, units, m in runs:
            ratio = m.wall / (base * units)
            status = "" if m.returncode == 0 else f"  FAILED: {m.stderr_tail.strip()[-200:]}"
            print(
                f"{name:<52} {m.wall:>8.1f} {ratio:>9.2f} {m.peak_rss_max / 2**20:>12.0f}{status}"
            )
            rows.append({"run": name, "ratio": ratio, "baselines": units, **asdict(m)})
        print("x orjson: wall time over the mean orjson time for the same amount of data")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

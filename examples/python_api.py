"""The Makefile's pipeline through the Python API: download → convert → validate → yaml → stats.

Offline on the committed sample (the default), or on COCO 2017 with ``--coco``::

    python examples/python_api.py                         # coco-sample/ into build/api
    python examples/python_api.py --coco datasets/coco --splits val2017 --preview

Each step returns a result object instead of printing; this script prints them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cocoprep.checks.validate import validate
from cocoprep.converter import convert
from cocoprep.errors import CocoprepError
from cocoprep.preview import preview
from cocoprep.remote.download import download
from cocoprep.stats import stats
from cocoprep.yamlfile import write_root_yaml

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "coco-sample"


def run(
    root: Path,
    annotations: list[Path],
    splits: list[str],
    *,
    images: Path | None = None,
    crowd: str = "skip",
    fetch: bool = False,
    draw: bool = False,
) -> int:
    """Run the pipeline into ``root``; 1 when validation finds errors, else 0."""
    if fetch:
        print(download(splits, root=root, progress=True).format())
    summary = convert(annotations, root, images=images, crowd=crowd)
    print(f"converted {summary.totals()['images']} images, {summary.classes} classes into {root}")

    report = validate([root / "labels" / split for split in splits])
    print(f"validate: {len(report.errors)} errors, {len(report.warnings)} warnings")
    if not report.ok:
        for error in report.errors[:10]:
            print(f"  {error.file}: {error.message}")
        return 1

    written = write_root_yaml(root)
    print(f"dataset yaml: {written.path} ({', '.join(written.keys)})")
    print(stats(root).format("table"))
    if draw:
        split = next((s for s in splits if s.startswith("val")), splits[0])
        source = next((a for a in annotations if split in a.name), None)
        shown = preview(root, split, out=root / "preview", n=16, annotations=source)
        print(f"preview: {shown.mosaic}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the pipeline on the sample or on COCO 2017."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco", type=Path, metavar="ROOT", help="Download COCO 2017 here.")
    parser.add_argument("--splits", nargs="+", default=["val2017"], help="With --coco.")
    parser.add_argument("--out", type=Path, default=HERE / "build" / "api", help="Sample root.")
    parser.add_argument("--preview", action="store_true", help="Also draw 16 val images.")
    args = parser.parse_args(argv)
    try:
        if args.coco:
            files = [args.coco / "annotations" / f"instances_{s}.json" for s in args.splits]
            return run(args.coco, files, args.splits, fetch=True, draw=args.preview)
        files = sorted((SAMPLE / "annotations").glob("instances_*.json"))
        images = SAMPLE / "images"
        splits = ["train", "val"]
        return run(args.out, files, splits, images=images, crowd="keep", draw=args.preview)
    except CocoprepError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""`cocoprep export`: YOLO labels (or Ultralytics predictions) back to COCO JSON."""

from __future__ import annotations

import click

from cocoprep.cli.options import (
    Output,
    check_report,
    output_options,
    report_option,
    workers_option,
)


@click.command()
@click.argument("dataset", type=click.Path(exists=True, path_type=str))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=str),
    help="Folder for instances_<split>.json (a results .json file with --predictions).",
)
@click.option("--split", help="Export only this split (default: every split of DATASET).")
@click.option(
    "--task",
    type=click.Choice(["detect", "segment", "pose"]),
    help="Read the rows as this task  [default: the task the rows show].",
)
@click.option(
    "--like",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="COCO file whose image ids, file names, sizes and categories to use.",
)
@click.option(
    "--predictions",
    is_flag=True,
    help="DATASET holds Ultralytics predictions (save_txt=True, save_conf=True): write a "
    "COCO results list, with ids from --like.",
)
@workers_option
@report_option
@output_options
def export(dataset: str, out_path: str, report: str | None, out: Output, **options) -> None:
    """Export the YOLO labels of DATASET (a dataset yaml or root) as COCO JSON.

    Image ids, file names, sizes and the original category ids come from cocoprep's record
    when convert made DATASET, else from --like, else from the images (ids from numeric file
    stems, sizes from the image headers) and the yaml's names (category id = class index + 1).
    Every image is listed, background images too; annotation ids run 1..N.

    \b
    Examples:
      cocoprep export datasets/coco --out exported
      cocoprep export datasets/coco/coco.yaml --out exported --split val2017 --task segment
      cocoprep export my-data/data.yaml --out coco-json --like instances_val.json
      cocoprep export runs/detect/predict --predictions \\
          --like annotations/instances_val2017.json --out results.json
    """
    from cocoprep.exporter import export as run_export

    check_report(report, [dataset, *([options["like"]] if options["like"] else [])])
    summary = run_export(dataset, out_path, **options, progress=out.bars)
    out.finish(summary, report)


COMMANDS = (export,)

"""`cocoprep export`: YOLO labels (or Ultralytics predictions) back to COCO JSON."""

from __future__ import annotations

import click

from cocoprep.cli.options import Output, output_options, workers_option

#: Counts the summary names, in this order (others are shown by their key).
_COUNTS = (
    ("label files with no image (not exported)", "labels_without_image"),
    ("rows with a token that is no number", "unparsable_rows"),
    ("rows of no known length", "rows_of_wrong_length"),
    ("rows of a class not in the categories", "unknown_class_rows"),
    ("polygons of < 3 distinct points", "degenerate_polygons_skipped"),
)


def summary_text(summary) -> str:
    """The summary export prints: each split's file and counts, then what was skipped."""
    totals = summary.totals()
    n = len(summary.splits)
    lines = [f"exported {totals.get('images', 0)} images ({n} split{'s' if n != 1 else ''})"]
    for split in summary.splits:
        lines.append(
            f"  {split.split} ({split.task}): {split.annotations} annotations, "
            f"{split.background_images} background images -> {split.path}"
        )
    named = [key for _, key in _COUNTS]
    others = sorted(set(totals) - {"images", "annotations", "background_images", *named})
    labels = {key: label for label, key in _COUNTS}
    for key in [*named, *others]:
        if totals.get(key):
            label = labels.get(key, key.replace("_", " "))
            lines.append(f"  skipped: {label:<44} {totals[key]:>8}")
    return "\n".join(lines)


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
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write the summary as JSON to this file.",
)
@output_options
def export(dataset, out_path, split, task, like, predictions, workers, report, out: Output) -> None:
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
    import json

    from cocoprep.exporter import export as run_export
    from cocoprep.fileio import write_atomic

    summary = run_export(
        dataset,
        out_path,
        split=split,
        task=task,
        like=like,
        predictions=predictions,
        workers=workers,
        progress=out.bars,
    )
    if report:
        write_atomic(report, json.dumps(summary.as_dict(), indent=2).encode())
    out.summary(summary_text(summary))


COMMANDS = (export,)

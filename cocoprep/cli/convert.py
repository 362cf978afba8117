"""`cocoprep convert`: COCO JSON into YOLO labels, list files and the dataset yaml."""

from __future__ import annotations

import click

from cocoprep.cli.options import Output, comma_list, output_options, workers_option

_COUNTS = (
    ("label files written", "label_files_written", True),
    ("label files unchanged", "label_files_unchanged", False),
    ("background images (empty files)", "background_images", False),
    ("instances written", "instances", True),
    ("crowd annotations skipped", "crowd_skipped", True),
    ("crowd annotations kept", "crowd_kept", False),
    ("annotations of other classes", "class_filtered", False),
    ("duplicate rows dropped", "duplicates_dropped", False),
    ("empty boxes dropped", "empty_boxes_dropped", False),
    ("multi-part polygons merged", "multipart_merged", False),
    ("RLE masks converted", "rle_converted", False),
    ("degenerate polygons replaced by box", "degenerate_replaced", False),
    ("degenerate instances dropped", "degenerate_dropped", False),
    ("no labelled keypoints, skipped", "no_keypoints_skipped", False),
)


def summary_text(summary) -> str:
    """The summary convert prints: totals, then every count that is not zero."""
    totals = summary.totals()
    n_splits = len(summary.splits)
    lines = [
        f"converted {totals.get('images', 0)} images "
        f"({n_splits} split{'s' if n_splits != 1 else ''}, "
        f"task {summary.task}, {summary.classes} classes) into {summary.root}"
    ]
    for label, key, always in _COUNTS:
        value = totals.get(key, 0)
        if value or always:
            lines.append(f"  {label:<38} {value:>10}")
    if summary.unused_categories:
        shown = ", ".join(summary.unused_categories[:10])
        more = len(summary.unused_categories) - 10
        lines.append(
            f"  categories no annotation uses: {shown}" + (f" (+{more} more)" if more > 0 else "")
        )
    lines.append(f"  dataset yaml: {summary.yaml}")
    return "\n".join(lines)


@click.command()
@click.argument("annotations", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--root",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Dataset root: labels/, the list files and the yaml are written here.",
)
@click.option(
    "--task",
    type=click.Choice(["segment", "detect", "pose"]),
    default="segment",
    show_default=True,
    help="Label format to write.",
)
@click.option(
    "--split",
    help="Split name for a single file (default: from the file name, "
    "instances_val2017.json → val2017).",
)
@click.option("--classes", help="Comma-separated class names to keep, re-indexed in this order.")
@click.option(
    "--crowd",
    type=click.Choice(["skip", "keep"]),
    default="skip",
    show_default=True,
    help="Crowd (iscrowd=1) annotations: skip them as the official labels do, or "
    "convert their masks.",
)
@workers_option
@click.option(
    "--backend",
    type=click.Choice(["loky", "dask"]),
    default="loky",
    show_default=True,
    help="joblib backend; dask needs --scheduler and `pip install cocoprep[dask]`.",
)
@click.option("--scheduler", help="dask.distributed scheduler address, e.g. tcp://10.0.0.5:8786.")
@click.option(
    "--images",
    "images_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Hard-link (or copy) the images from this folder into ROOT/images/<split>/.",
)
@click.option(
    "--yaml-name",
    default="coco.yaml",
    show_default=True,
    help="File name of the dataset yaml written in ROOT.",
)
@click.option(
    "--drop-unused-categories",
    is_flag=True,
    help="Remove categories no annotation uses from the class map (off: ids stay stable).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write the summary as JSON to this file.",
)
@output_options
def convert(
    annotations,
    root,
    task,
    split,
    classes,
    crowd,
    workers,
    backend,
    scheduler,
    images_dir,
    yaml_name,
    drop_unused_categories,
    report,
    out: Output,
) -> None:
    """Convert COCO-format JSON ANNOTATIONS (files or directories) into YOLO labels.

    Writes ROOT/labels/<split>/<image>.txt for every image (empty for background images),
    ROOT/<split>.txt listing the images, ROOT/coco.yaml and ROOT/cocoprep.json (the class
    map, reused by later runs into ROOT). Re-runs rewrite nothing that is already right.

    \b
    Examples:
      cocoprep convert annotations/instances_val2017.json --root datasets/coco
      cocoprep convert annotations/ --root datasets/coco --task detect --workers 4
      cocoprep convert annotations/person_keypoints_val2017.json --root datasets/pose --task pose
      cocoprep convert export.json --split train --root data --crowd keep --classes cat,dog
    """
    import json

    from cocoprep.converter import convert as run_convert
    from cocoprep.fileio import write_atomic

    if backend == "dask" and not scheduler:
        msg = "--backend dask needs --scheduler ADDRESS"
        raise click.BadParameter(msg, param_hint="--backend")
    summary = run_convert(
        list(annotations),
        root,
        task=task,
        split=split,
        classes=comma_list(classes) or None,
        crowd=crowd,
        workers=workers,
        backend=backend,
        scheduler=scheduler,
        images=images_dir,
        yaml_name=yaml_name,
        drop_unused_categories=drop_unused_categories,
        progress=out.bars,
    )
    if report:
        write_atomic(report, json.dumps(summary.as_dict(), indent=2).encode())
    out.summary(summary_text(summary))


COMMANDS = (convert,)

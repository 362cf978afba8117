"""`cocoprep convert`: COCO JSON into YOLO labels, list files and the dataset yaml."""

from __future__ import annotations

import click

from cocoprep.cli.options import (
    Output,
    check_report,
    comma_list_or_none,
    output_options,
    report_option,
    workers_option,
)


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
    type=click.Choice(["segment", "detect", "pose", "obb"]),
    default="segment",
    show_default=True,
    help="Label format to write (obb: each object's minimum-area rotated rectangle).",
)
@click.option(
    "--split",
    help="Split name for a single file (default: from the file name, "
    "instances_val2017.json → val2017).",
)
@click.option(
    "--classes",
    callback=comma_list_or_none,
    help="Comma-separated class names to keep, re-indexed in this order.",
)
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
    type=click.Path(exists=True, file_okay=False, path_type=str),
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
    "--boxes-as-segments",
    is_flag=True,
    help="With --task segment, write each box as a polygon for files that hold no outlines.",
)
@report_option
@output_options
def convert(annotations: tuple[str, ...], report: str | None, out: Output, **options) -> None:
    """Convert COCO-format JSON ANNOTATIONS (files, folders or exports of labelling tools:
    COCO, CVAT, Roboflow, Label Studio) into YOLO labels.

    Writes ROOT/labels/<split>/<image>.txt for every image (empty for background images),
    ROOT/<split>.txt listing the images, ROOT/coco.yaml and ROOT/cocoprep.json (the class
    map, reused by later runs into ROOT). Re-runs rewrite nothing that is already right
    and remove the labels of images the split no longer has.

    \b
    Examples:
      cocoprep convert annotations/instances_val2017.json --root datasets/coco
      cocoprep convert annotations/ --root datasets/coco --task detect --workers 4
      cocoprep convert roboflow-export/ --root datasets/pets --task detect
      cocoprep convert annotations/person_keypoints_val2017.json --root datasets/pose --task pose
      cocoprep convert annotations/instances_val2017.json --root datasets/coco-obb --task obb
      cocoprep convert export.json --split train --root data --crowd keep --classes cat,dog
    """
    from cocoprep.converter import convert as run_convert
    from cocoprep.sources import find_sources

    if options["backend"] == "dask" and not options["scheduler"]:
        msg = "--backend dask needs --scheduler ADDRESS"
        raise click.BadParameter(msg, param_hint="--backend")
    if report:  # (the library finds the inputs itself; the report is the CLI's)
        found = [source.path for source in find_sources(annotations, options["task"])]
        check_report(report, [*found, *annotations])
    summary = run_convert(list(annotations), **options, progress=out.bars)
    out.finish(summary, report)


COMMANDS = (convert,)

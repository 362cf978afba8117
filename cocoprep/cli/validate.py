"""`cocoprep validate`: checks, repair and fidelity of COCO files and YOLO labels."""

from __future__ import annotations

import click

from cocoprep.cli.options import Output, output_options, speller, workers_option

_VALIDATE_EXAMPLES = """\b
Examples:
  cocoprep validate annotations/instances_val2017.json
  cocoprep validate datasets/coco/coco.yaml --strict          # CI: warnings fail too
  cocoprep validate datasets/coco/labels/val2017 --nc 80 --format json > report.json
  cocoprep validate export.json --fix export.fixed.json      # repaired copy, re-validated
  cocoprep validate datasets/coco/labels/train2017 --in-place
  cocoprep validate datasets/coco/labels/val2017 \\
      --fidelity annotations/instances_val2017.json           # IoU of polygons vs masks
"""


@click.command("validate", epilog=_VALIDATE_EXAMPLES)
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Summary table or JSON for machines (on stdout).",
)
@click.option(
    "--max-examples",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Findings shown per kind (0: all).",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1 on any finding).")
@click.option(
    "--fix",
    "fix_out",
    type=click.Path(path_type=str),
    metavar="OUT",
    help="Write a repaired copy (COCO JSON file or labels folder) to OUT and validate it.",
)
@click.option("--in-place", is_flag=True, help="Repair the TARGET itself (instead of --fix OUT).")
@click.option(
    "--fidelity",
    "fidelity_json",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    metavar="ANNOTATIONS.json",
    help="With a labels folder: IoU of each written polygon against its source mask.",
)
@click.option("--nc", type=click.IntRange(min=1), help="Class count for labels folders.")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Pixels COCO vertices and boxes may leave the image or differ from the segmentation.",
)
@workers_option
@output_options
def validate_command(
    targets: tuple[str, ...],
    fmt: str,
    max_examples: int,
    strict: bool,
    fix_out: str | None,
    in_place: bool,
    fidelity_json: str | None,
    nc: int | None,
    tolerance: float,
    workers: int | None,
    out: Output,
) -> None:
    """Check COCO JSON files, YOLO labels folders and dataset yamls before training.

    COCO: polygon point counts, non-finite numbers, zero areas, self-intersecting rings
    (Shapely), repeated vertices, vertices outside the image, bbox/area against the
    segmentation, RLE sizes, unknown and duplicate ids, image sizes. YOLO: values outside
    [0, 1], point counts, class >= nc, box rows mixed with polygons, duplicate rows, labels
    without images and images without labels, invalid rings (multi-part objects are checked
    part by part). A dataset yaml checks every split it names.

    Exit status 1 when any error is found (with --strict: any finding), 0 otherwise; with
    --fix or --in-place the status is that of the repaired output.
    """
    import json

    from cocoprep.checks.run import check

    result = check(
        list(targets),
        nc=nc,
        strict=strict,
        tolerance=tolerance,
        fix=fix_out,
        in_place=in_place,
        fidelity=fidelity_json,
        workers=workers,
        progress=out.bars,
    )
    spell = speller(click.get_current_context().command)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(max_examples, spell), indent=2))
    else:
        click.echo(result.format(max_examples, spell))
    if not result.ok:
        click.get_current_context().exit(1)


COMMANDS = (validate_command,)

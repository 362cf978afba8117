"""`cocoprep yaml`, `stats` and `preview`: a converted root described, counted and drawn."""

from __future__ import annotations

import click

from cocoprep.cli.options import Output, output_options, workers_option


@click.command("yaml")
@click.argument("root", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--name",
    default="coco",
    show_default=True,
    help="Name of the yaml written in ROOT (.yaml is added).",
)
@click.option(
    "--annotations",
    multiple=True,
    type=click.Path(exists=True, path_type=str),
    help="COCO JSON (file or folder, repeatable) to take class names from instead of "
    "ROOT/cocoprep.json.",
)
@click.option(
    "--download",
    is_flag=True,
    help="Add a download: block so Ultralytics fetches and converts the data with cocoprep.",
)
@output_options
def yaml_command(
    root: str, name: str, annotations: tuple[str, ...], download: bool, out: Output
) -> None:
    """(Re)write the Ultralytics dataset yaml of ROOT from what is on disk.

    Splits are the folders under ROOT/labels/ and ROOT/images/ and the list files
    ROOT/<split>.txt (a list whose images are gone is replaced by images/<split>); split
    names starting with train, val or test fill those keys. Class names come from
    ROOT/cocoprep.json or --annotations; pose roots get kpt_shape and flip_idx.

    \b
    Examples:
      cocoprep yaml datasets/coco
      cocoprep yaml datasets/coco --download          # Ultralytics can rebuild it anywhere
      cocoprep yaml data/labels-only --annotations instances_val2017.json --name mine
    """
    from cocoprep.yamlfile import write_root_yaml

    result = write_root_yaml(root, name=name, annotations=annotations, download=download)
    lines = [
        f"  {key:<6} {', '.join(result.splits[s] for s in splits)}"
        for key, splits in result.keys.items()
    ]
    extra = f", kpt_shape [{len(result.keypoint_names)}, 3]" if result.keypoint_names else ""
    lines.append(f"  {len(result.names)} classes{extra}")
    out.summary("\n".join(lines))
    click.echo(str(result.path))


@click.command("stats")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@workers_option
@output_options
def stats_command(sources: tuple[str, ...], fmt: str, workers: int | None, out: Output) -> None:
    """Count images, instances, crowd, multi-part objects, background images and vertices per
    polygon, per split and per class, of a dataset ROOT (its YOLO labels) or of COCO JSON files.

    \b
    Examples:
      cocoprep stats datasets/coco
      cocoprep stats annotations/instances_val2017.json --format csv > val.csv
      cocoprep stats annotations/ --format json
    """
    from cocoprep.stats import stats

    result = stats(list(sources), workers=workers, progress=out.bars)
    click.echo(result.format(fmt), nl=False)


@click.command("preview")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--split", help="Split to draw [default: the first val* split].")
@click.option(
    "-n", "count", type=click.IntRange(min=1), default=16, show_default=True, help="Images."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the image pick.")
@click.option(
    "--out",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Folder for the PNGs (one per image) and mosaic.png.",
)
@click.option(
    "--annotations",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="The COCO JSON the split came from: drawn in a second panel beside each image.",
)
@click.option(
    "--tile",
    type=click.IntRange(min=32),
    default=320,
    show_default=True,
    help="Mosaic cell height in pixels.",
)
@output_options
def preview_command(
    root: str,
    split: str | None,
    count: int,
    seed: int,
    folder: str,
    annotations: str | None,
    tile: int,
    out: Output,
) -> None:
    """Draw the YOLO labels of a sample of images of ROOT over the images, with class names.

    Polygons (multi-part ones split back into their parts), boxes or keypoints with their
    skeleton; with --annotations the source COCO polygons, RLE masks and crowd regions are drawn
    in a second panel beside each image, to check a conversion at a glance.

    \b
    Examples:
      cocoprep preview datasets/coco --split val2017 --out preview/
      cocoprep preview datasets/coco -n 4 --seed 1 --out preview/ \\
          --annotations datasets/coco/annotations/instances_val2017.json
    """
    from cocoprep.preview import preview

    result = preview(
        root, split, out=folder, n=count, seed=seed, annotations=annotations, tile=tile
    )
    out.summary(f"  {len(result.images)} images drawn into {folder}")
    click.echo(str(result.mosaic))


COMMANDS = (yaml_command, stats_command, preview_command)

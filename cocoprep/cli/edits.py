"""`cocoprep split`, `merge` and `filter`: reshape COCO JSON before converting it."""

from __future__ import annotations

import click

from cocoprep.cli.options import (
    Output,
    comma_list,
    comma_list_if_given,
    comma_list_or_none,
    output_options,
)

_SPLIT_EXAMPLES = """\b
Examples:
  cocoprep split instances_all.json --out annotations --ratios 0.7,0.2,0.1
  cocoprep split instances_all.json --out annotations --ratios 0.8,0.2 --stratify --seed 3
  cocoprep split frames.json --out ann --ratios 0.9,0.1 --group-by '^(video\\d+)_'
  cocoprep split all.json --out ann --ratios 0.5,0.25,0.25 --names a,b,c --stratify
"""

_MERGE_EXAMPLES = """\b
Examples:
  cocoprep merge job1.json job2.json job3.json --out instances_train.json
  cocoprep merge cats.json dogs.json --out pets.json --on-duplicate keep-both
  cocoprep merge old.json extra.json --out all.json --on-duplicate skip
"""

_FILTER_EXAMPLES = """\b
Examples:
  cocoprep filter instances_val2017.json --out people.json --keep person --drop-empty
  cocoprep filter all.json --out vehicles.json --merge car,truck,bus=vehicle --keep vehicle
  cocoprep filter all.json --out out.json --rename 'tv=television' --drop toaster,hair\\ drier
  cocoprep filter all.json --out small.json --min-area 32 --max-images 500 --seed 1
"""

_out_file = click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="The COCO JSON file to write (never an input).",
)


def _ratios(ctx: click.Context, param: click.Parameter, value: str) -> list[float]:
    try:
        return [float(r) for r in comma_list(value)]
    except ValueError:
        msg = f"expected numbers such as 0.7,0.2,0.1, found {value!r}"
        raise click.BadParameter(msg, ctx=ctx, param=param) from None


@click.command("split", epilog=_SPLIT_EXAMPLES)
@click.argument("coco", type=click.Path(path_type=str))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Folder of the outputs, DIR/instances_<name>.json.",
)
@click.option(
    "--ratios",
    required=True,
    callback=_ratios,
    help="Comma-separated shares of the images, summing to 1, e.g. 0.7,0.2,0.1.",
)
@click.option(
    "--names",
    callback=comma_list_or_none,
    help="Comma-separated split names  [default: train,val(,test)].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random choice.")
@click.option("--stratify", is_flag=True, help="Balance every class's share of the images.")
@click.option(
    "--group-by",
    metavar="REGEX",
    help="Keep images whose file_name has the same first capture group in one split.",
)
@output_options
def split_command(coco: str, out_dir: str, ratios: list[float], out: Output, **options) -> None:
    """Split the COCO file COCO into one file per ratio, every image in exactly one.

    Annotations follow their images; categories, info and licenses are copied to each, objects
    byte for byte. The same seed writes the same bytes. --stratify uses iterative multi-label
    stratification over the classes each image shows (with --group-by, over each group's).
    """
    from cocoprep.edits.split import split

    summary = split(coco, out_dir, ratios, **options, progress=out.bars)
    out.summary(summary.format())


@click.command("merge", epilog=_MERGE_EXAMPLES)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@_out_file
@click.option(
    "--on-duplicate",
    type=click.Choice(["error", "skip", "keep-both"]),
    default="error",
    show_default=True,
    help="An image file_name in two inputs: fail, leave the later one out, or keep one image "
    "with both files' annotations.",
)
@output_options
def merge_command(inputs: tuple[str, ...], out_path: str, out: Output, **options) -> None:
    """Merge COCO files INPUTS into one.

    Categories are unified by name (the first file's ids kept, new names get new ids);
    colliding image and annotation ids are renumbered, every annotation staying on its image
    and class.
    """
    from cocoprep.edits.merge import merge

    summary = merge(list(inputs), out_path, **options, progress=out.bars)
    out.summary(summary.format())


@click.command("filter", epilog=_FILTER_EXAMPLES)
@click.argument("coco", type=click.Path(path_type=str))
@_out_file
@click.option(
    "--keep",
    metavar="NAMES",
    callback=comma_list_if_given,
    help="Comma-separated classes to keep (others go).",
)
@click.option(
    "--drop",
    metavar="NAMES",
    callback=comma_list_if_given,
    help="Comma-separated classes to drop.",
)
@click.option("--rename", multiple=True, metavar="OLD=NEW", help="Rename a class (repeatable).")
@click.option(
    "--merge",
    multiple=True,
    metavar="A,B=NEW",
    help="Merge classes into one category, the first one's (repeatable).",
)
@click.option(
    "--min-area", type=click.FloatRange(min=0), metavar="PX", help="Drop annotations below it."
)
@click.option("--drop-empty", is_flag=True, help="Drop images left without annotations.")
@click.option("--max-images", type=click.IntRange(min=1), help="Keep a seeded sample of N.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --max-images.")
@output_options
def filter_command(
    coco: str,
    out_path: str,
    rename: tuple[str, ...],
    merge: tuple[str, ...],
    out: Output,
    **options,
) -> None:
    """Filter the COCO file COCO: exactly the edits asked for, and what went and why.

    --keep and --drop name classes as renamed or merged. Images left without annotations stay
    as backgrounds unless --drop-empty; --max-images samples after the other edits.
    """
    from cocoprep.edits.filter import filter_coco, parse_assignment

    renames = {}
    for text in rename:
        old, new = parse_assignment(text, "rename")
        if len(old) != 1:
            msg = f"expected OLD=NEW with one old name, found {text!r} (use --merge for several)"
            raise click.BadParameter(msg, param_hint="--rename")
        renames[old[0]] = new
    merges = {}
    for text in merge:
        names, new = parse_assignment(text, "merge")
        if new in merges:
            msg = f"{new!r} is the target of two merges; list all its classes in one"
            raise click.BadParameter(msg, param_hint="--merge")
        merges[new] = names
    summary = filter_coco(
        coco, out_path, rename=renames, merge=merges, **options, progress=out.bars
    )
    out.summary(summary.format())


COMMANDS = (split_command, merge_command, filter_command)

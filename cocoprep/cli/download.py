"""`cocoprep download`: the COCO 2017 archives (or a class subset) into a root."""

from __future__ import annotations

import click

from cocoprep.cli.options import Output, comma_list_if_given, output_options
from cocoprep.interrupts import Interrupted

_DOWNLOAD_EXAMPLES = """\b
Examples:
  cocoprep download val2017 --root datasets/coco
  cocoprep download train2017 val2017 --connections 8 --keep-archives
  cocoprep download --annotations panoptic_annotations_trainval2017
  cocoprep download val2017 --classes person,dog --max-images 500 --seed 1
  cocoprep download val2017 --mirror /mnt/coco-mirror     # zips/, annotations/ below it
  COCOPREP_MIRROR=http://mirror.lan/coco/ cocoprep download train2017
  cocoprep download train2017 --dry-run
  cocoprep download --list
"""


@click.command("download", epilog=_DOWNLOAD_EXAMPLES)
@click.argument("splits", nargs=-1, metavar="[SPLIT]...")
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    default="datasets/coco",
    show_default=True,
    help="Destination: images/<split>/, annotations/, downloads/.",
)
@click.option(
    "--annotations",
    multiple=True,
    metavar="NAME",
    help="Also fetch this annotation archive (repeatable), e.g. panoptic_annotations_trainval2017.",
)
@click.option("--no-annotations", is_flag=True, help="Skip the default annotation archive.")
@click.option("--list", "list_only", is_flag=True, help="Print the catalog and what ROOT holds.")
@click.option(
    "--catalog",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML catalog replacing the built-in COCO 2017 table.",
)
@click.option(
    "--mirror",
    metavar="BASE",
    help="Base URL (http, https, file://) or directory replacing the catalog's "
    "[env: COCOPREP_MIRROR].",
)
@click.option("--tls", is_flag=True, help="Use the HTTPS endpoint of the COCO bucket.")
@click.option(
    "--connections",
    type=click.IntRange(1, 32),
    help="Ranged connections shared by all archives  [default: added while the rate grows, "
    "up to 16].",
)
@click.option(
    "--jobs", type=click.IntRange(1, 16), default=3, show_default=True, help="Archives at once."
)
@click.option("--keep-archives", is_flag=True, help="Keep verified zips in ROOT/downloads/.")
@click.option("--dry-run", is_flag=True, help="Print the plan and disk needs; download nothing.")
@click.option(
    "--classes",
    metavar="NAMES",
    callback=comma_list_if_given,
    help="Comma-separated classes: only their images.",
)
@click.option("--max-images", type=click.IntRange(1), help="With --classes: at most N per split.")
@click.option("--seed", type=int, default=0, show_default=True, help="With --classes: pick seed.")
@click.option(
    "--retries",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="Attempts without progress before giving up.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds without data before a retry.",
)
@output_options
def download_command(
    root: str,
    no_annotations: bool,
    list_only: bool,
    catalog: str | None,
    classes: list[str] | None,
    dry_run: bool,
    out: Output,
    **options,
) -> None:
    """Download COCO 2017 splits (train2017 val2017 test2017 unlabeled2017) into ROOT.

    Images land in ROOT/images/<split>/ and annotation JSONs in ROOT/annotations/, the layout
    `cocoprep convert` and Ultralytics expect. Any split brings annotations_trainval2017
    (instances, keypoints, captions); --no-annotations skips it.

    Each member is extracted as soon as its bytes have arrived (CRC-32 checked, atomic per
    file), over as many ranged connections as still raise the rate; bytes go to
    ROOT/downloads/<archive>.zip.part and a re-run after Ctrl-C or a kill resumes both the
    bytes and the extraction. The MD5 is checked over the whole archive; a finished archive
    leaves ROOT/.cocoprep/<archive>.done, so a re-run skips it. Extraction is safe (no
    absolute, '..' or link members). A local mirror is extracted in place, never copied.
    Verified archives are deleted after extraction unless --keep-archives.

    With --classes only the images showing those classes are fetched (all classes first, then
    any); the complete annotations move to instances_<split>.full.json and
    instances_<split>.json holds the subset, ready for `cocoprep convert`.
    """
    from cocoprep.remote.download import download
    from cocoprep.remote.plan import format_catalog, list_catalog

    if list_only:
        click.echo(format_catalog(list_catalog(catalog, root=root)))
        return
    if options["max_images"] is not None and not classes:
        message = "expected --classes with it"
        raise click.BadParameter(message, param_hint="--max-images")
    try:
        summary = download(
            root=root,
            default_annotations=not no_annotations,
            catalog=catalog,
            classes=classes or (),
            dry_run=dry_run,
            **options,
            progress=out.bars,
        )
    except KeyboardInterrupt as stop:
        # One line saying what the next run resumes from, then 130 (SIGINT) or 143 (SIGTERM).
        code = stop.exit_code if isinstance(stop, Interrupted) else 130
        kept = getattr(stop, "kept", None) or "nothing partial kept"
        click.echo(f"interrupted: {kept}", err=True)
        click.get_current_context().exit(code)
    if dry_run:
        click.echo(summary.format())
    else:
        out.summary(summary.format())


COMMANDS = (download_command,)

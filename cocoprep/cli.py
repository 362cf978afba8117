"""The command line: a thin Click layer that parses options and calls the core.

Each command calls one library function; :class:`cocoprep.errors.CocoprepError` raised anywhere
below becomes a one-line ``Error: …`` and exit status 1 (never a traceback). Heavy imports happen
inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import click

from cocoprep import __version__
from cocoprep.errors import CocoprepError


class _Group(click.Group):
    """A group that turns the library's errors into one-line Click errors."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CocoprepError as error:
            raise click.ClickException(str(error)) from error


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="cocoprep")
def main() -> None:
    """Prepare COCO (and any COCO-format dataset) for Ultralytics YOLO training.

    \b
    Example:
      cocoprep convert annotations/instances_val2017.json --root datasets/coco
    """


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


@main.command("download", epilog=_DOWNLOAD_EXAMPLES)
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
    "extra_annotations",
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
    default=4,
    show_default=True,
    help="Parallel byte ranges per large archive.",
)
@click.option(
    "--jobs", type=click.IntRange(1, 16), default=3, show_default=True, help="Archives at once."
)
@click.option("--keep-archives", is_flag=True, help="Keep verified zips in ROOT/downloads/.")
@click.option("--dry-run", is_flag=True, help="Print the plan and disk needs; download nothing.")
@click.option("--classes", metavar="NAMES", help="Comma-separated classes: only their images.")
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
@click.option(
    "--progress/--no-progress", default=None, help="Progress bars [default: if stderr is a tty]."
)
def download_command(
    splits: tuple[str, ...],
    root: str,
    extra_annotations: tuple[str, ...],
    no_annotations: bool,
    list_only: bool,
    catalog: str | None,
    mirror: str | None,
    tls: bool,
    connections: int,
    jobs: int,
    keep_archives: bool,
    dry_run: bool,
    classes: str | None,
    max_images: int | None,
    seed: int,
    retries: int,
    timeout: float,
    progress: bool | None,
) -> None:
    """Download COCO 2017 splits (train2017 val2017 test2017 unlabeled2017) into ROOT.

    Images land in ROOT/images/<split>/ and annotation JSONs in ROOT/annotations/, the layout
    `cocoprep convert` and Ultralytics expect. Any split brings annotations_trainval2017
    (instances, keypoints, captions); --no-annotations skips it.

    Downloads go to ROOT/downloads/<archive>.zip.part and resume with HTTP Range after an
    interruption; size and MD5 are checked, retries back off exponentially. Extraction is safe
    (no absolute, '..' or link members) and atomic per file; a finished archive leaves
    ROOT/.cocoprep/<archive>.done with its MD5, so a re-run skips it. Verified archives are
    deleted after extraction unless --keep-archives.

    With --classes only the images showing those classes are fetched (all classes first, then
    any); the complete annotations move to instances_<split>.full.json and
    instances_<split>.json holds the subset, ready for `cocoprep convert`.
    """
    import sys

    from cocoprep.download import download, format_catalog, list_catalog

    if list_only:
        click.echo(format_catalog(list_catalog(catalog, root=root)))
        return
    names = [name.strip() for name in (classes or "").split(",") if name.strip()]
    if max_images is not None and not names:
        message = "expected --classes with it"
        raise click.BadParameter(message, param_hint="--max-images")
    summary = download(
        splits,
        root=root,
        annotations=extra_annotations,
        default_annotations=not no_annotations,
        catalog=catalog,
        mirror=mirror,
        tls=tls,
        connections=connections,
        jobs=jobs,
        keep_archives=keep_archives,
        dry_run=dry_run,
        classes=names,
        max_images=max_images,
        seed=seed,
        retries=retries,
        timeout=timeout,
        progress=sys.stderr.isatty() if progress is None else progress,
    )
    click.echo(summary.format())

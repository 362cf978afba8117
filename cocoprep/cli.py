"""The command line: a thin Click layer that parses options and calls the core.

Each command calls one library function; :class:`cocoprep.errors.CocoprepError` raised anywhere
below becomes a one-line ``Error: …`` and exit status 1 (never a traceback). Heavy imports happen
inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import logging
import os

import click

from cocoprep import __version__
from cocoprep.errors import CocoprepError


class _EchoHandler(logging.Handler):
    """Log records of the library as ``warning: …`` lines on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _setup_logging() -> None:
    logger = logging.getLogger("cocoprep")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler(logging.WARNING))


class _Group(click.Group):
    """A group that turns the library's errors into one-line Click errors."""

    def invoke(self, ctx: click.Context):
        _setup_logging()
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
    # No command needs threaded BLAS; OpenBLAS's helper threads would only spin for a while
    # after start-up, here and in each process started from here (set before numpy loads).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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


def _print_convert_summary(summary) -> None:
    totals = summary.totals()
    click.echo(
        f"converted {totals.get('images', 0)} images "
        f"({len(summary.splits)} split{'s' if len(summary.splits) != 1 else ''}, "
        f"task {summary.task}, {summary.classes} classes) into {summary.root}",
        err=True,
    )
    lines = [
        ("label files written", totals.get("label_files_written", 0)),
        ("label files unchanged", totals.get("label_files_unchanged", 0)),
        ("background images (empty files)", totals.get("background_images", 0)),
        ("instances written", totals.get("instances", 0)),
        ("crowd annotations skipped", totals.get("crowd_skipped", 0)),
        ("crowd annotations kept", totals.get("crowd_kept", 0)),
        ("annotations of other classes", totals.get("class_filtered", 0)),
        ("duplicate rows dropped", totals.get("duplicates_dropped", 0)),
        ("empty boxes dropped", totals.get("empty_boxes_dropped", 0)),
        ("multi-part polygons merged", totals.get("multipart_merged", 0)),
        ("RLE masks converted", totals.get("rle_converted", 0)),
        ("degenerate polygons replaced by box", totals.get("degenerate_replaced", 0)),
        ("degenerate instances dropped", totals.get("degenerate_dropped", 0)),
        ("no labelled keypoints, skipped", totals.get("no_keypoints_skipped", 0)),
    ]
    for label, value in lines:
        if value or label in (
            "label files written",
            "instances written",
            "crowd annotations skipped",
        ):
            click.echo(f"  {label:<38} {value:>10}", err=True)
    if summary.unused_categories:
        shown = ", ".join(summary.unused_categories[:10])
        more = len(summary.unused_categories) - 10
        click.echo(
            f"  categories no annotation uses: {shown}" + (f" (+{more} more)" if more > 0 else ""),
            err=True,
        )
    click.echo(f"  dataset yaml: {summary.yaml}", err=True)


@main.command()
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
@click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes (default: all cores)."
)
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
@click.option("-q", "--quiet", is_flag=True, help="No progress bars and no summary.")
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
    quiet,
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

    from cocoprep.convert import convert as run_convert

    if backend == "dask" and not scheduler:
        msg = "--backend dask needs --scheduler ADDRESS"
        raise click.BadParameter(msg, param_hint="--backend")
    class_list = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    summary = run_convert(
        list(annotations),
        root,
        task=task,
        split=split,
        classes=class_list,
        crowd=crowd,
        workers=workers,
        backend=backend,
        scheduler=scheduler,
        images=images_dir,
        yaml_name=yaml_name,
        drop_unused_categories=drop_unused_categories,
        progress=not quiet,
    )
    if report:
        with open(report, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    if not quiet:
        _print_convert_summary(summary)


@main.command("yaml")
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
def yaml_command(root: str, name: str, annotations: tuple[str, ...], download: bool) -> None:
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
    for key, splits in result.keys.items():
        click.echo(f"  {key:<6} {', '.join(result.splits[s] for s in splits)}", err=True)
    extra = f", kpt_shape [{len(result.keypoint_names)}, 3]" if result.keypoint_names else ""
    click.echo(f"  {len(result.names)} classes{extra}", err=True)
    click.echo(str(result.path))


@main.command("stats")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes (default: all cores)."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def stats_command(sources: tuple[str, ...], fmt: str, workers: int | None, quiet: bool) -> None:
    """Count images, instances, crowd, multi-part objects, background images and vertices per
    polygon, per split and per class, of a dataset ROOT (its YOLO labels) or of COCO JSON files.

    \b
    Examples:
      cocoprep stats datasets/coco
      cocoprep stats annotations/instances_val2017.json --format csv > val.csv
      cocoprep stats annotations/ --format json
    """
    import sys

    from cocoprep.stats import stats

    result = stats(list(sources), workers=workers, progress=not quiet and sys.stderr.isatty())
    click.echo(result.format(fmt), nl=False)


@main.command("preview")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--split", help="Split to draw [default: the first val* split].")
@click.option(
    "-n", "count", type=click.IntRange(min=1), default=16, show_default=True, help="Images."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the image pick.")
@click.option(
    "--out",
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
def preview_command(
    root: str,
    split: str | None,
    count: int,
    seed: int,
    out: str,
    annotations: str | None,
    tile: int,
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

    result = preview(root, split, out=out, n=count, seed=seed, annotations=annotations, tile=tile)
    click.echo(f"  {len(result.images)} images drawn into {out}", err=True)
    click.echo(str(result.mosaic))


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


@main.command("validate", epilog=_VALIDATE_EXAMPLES)
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
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: all).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
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
    quiet: bool,
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
    import sys

    from cocoprep.checks.validate import validate

    if fix_out and in_place:
        msg = "give either --fix OUT or --in-place, not both"
        raise click.BadParameter(msg, param_hint="--in-place")
    if (fix_out or in_place or fidelity_json) and len(targets) != 1:
        msg = "--fix, --in-place and --fidelity take exactly one TARGET"
        raise click.BadParameter(msg, param_hint="TARGET")
    progress = not quiet and sys.stderr.isatty()
    options = {"nc": nc, "strict": strict, "workers": workers, "progress": progress}
    report = validate(list(targets), tolerance=tolerance, **options)
    result = report.as_dict(max_examples)
    text = [report.format_table(max_examples)]
    final = report
    if fix_out or in_place:
        from cocoprep.checks.repair import repair

        summary = repair(targets[0], fix_out or targets[0], nc=nc)
        final = validate([summary.output], tolerance=tolerance, **options)
        result["repair"] = {
            "output": summary.output,
            "counts": dict(summary.counts),
            "validation": final.as_dict(max_examples),
        }
        text += [summary.format(), "after repair:", final.format_table(max_examples)]
    if fidelity_json:
        from cocoprep.checks.fidelity import fidelity

        measured = fidelity(targets[0], fidelity_json, progress=progress)
        result["fidelity"] = measured.as_dict(max(max_examples, 10))
        text.append(measured.format_table(max(max_examples, 10)))
    click.echo(json.dumps(result, indent=2) if fmt == "json" else "\n".join(text))
    if not final.ok:
        click.get_current_context().exit(1)

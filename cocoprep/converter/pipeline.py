"""The convert command from end to end: check the options, open the files, settle the class map,
then per split compute rows (:mod:`~cocoprep.converter.textstore`), write labels
(:mod:`~cocoprep.converter.writer`), list and link the images; last, record the splits in the
root (:mod:`cocoprep.layout`)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from cocoprep import classmap, coco, debris, layout, outputs, sources
from cocoprep.categories import file_categories
from cocoprep.converter.summary import SplitSummary, Summary
from cocoprep.converter.textstore import SplitRows, label_text_file, rows_in_workers, split_rows
from cocoprep.converter.tuning import Run, Tuning
from cocoprep.converter.writer import label_folders, write_labels
from cocoprep.datasetyaml import keypoint_names_of, split_keys
from cocoprep.errors import InputError
from cocoprep.exporter import record as image_record
from cocoprep.fileio import (
    Ahead,
    Stages,
    create_ahead,
    discard,
    plan_folders,
    plan_trees,
    publish,
    remove_trees,
    write_atomic,
)
from cocoprep.parallel import (
    backend_context,
    keep_freed_memory,
    local_workers,
    worker_count,
)
from cocoprep.rows import TASKS, row_context

log = logging.getLogger("cocoprep")


def convert(
    annotations: Sequence[str | os.PathLike] | str | os.PathLike,
    root: str | os.PathLike,
    *,
    task: str = "segment",
    split: str | None = None,
    classes: Sequence[str] | None = None,
    crowd: str = "skip",
    workers: int | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    images: str | os.PathLike | None = None,
    yaml_name: str = "coco.yaml",
    drop_unused_categories: bool = False,
    boxes_as_segments: bool = False,
    progress: bool = False,
    tuning: Tuning = Tuning(),  # noqa: B008 (frozen)
) -> Summary:
    """Convert COCO-format annotation files into YOLO labels under ``root``.

    Writes ``ROOT/labels/<split>/<stem>.txt`` for every image (empty for background images),
    ``ROOT/<split>.txt`` listing the images, the dataset yaml and ``ROOT/cocoprep.json`` (the
    class map later runs reuse). Returns a :class:`Summary`.

    ``annotations`` may be export folders of labelling tools (:mod:`cocoprep.sources`): their
    images are linked as ``images`` would. A placeholder category (Roboflow's) is left out of the
    class map. ``drop_unused_categories`` removes categories no annotation uses from the class
    map (off by default, so ids stay stable across exports). ``boxes_as_segments`` lets
    ``task="segment"`` write box polygons for a file without any segmentation.
    ``backend="dask"`` runs the per-chunk work on the dask.distributed cluster at ``scheduler``
    (or the current client); its workers must see the same paths. ``tuning`` changes how the
    work is cut and spread, never the labels.

    Examples
    --------
    >>> summary = convert(["annotations/instances_val2017.json"], "datasets/coco")  # doctest: +SKIP
    >>> summary.totals()["instances"]  # doctest: +SKIP
    36335
    """
    found = _annotation_files(annotations, task, backend, crowd, split, yaml_name)
    files = [source.path for source in found]
    root = Path(root)
    workers = worker_count(workers)
    keep_freed_memory()
    large = max(os.path.getsize(f) for f in files) >= tuning.parallel_min_bytes
    active: list[Stages] = []  # the stages of the split being written, for a failure
    claimed = None
    try:
        # Workers start before the images are read.
        with local_workers(workers if large and backend == "loky" else 1, "cocoprep.converter"):
            opened = _open_files(found, split, tuning)
            written = layout.written_files(root, [c.split for c in opened], yaml_name)
            outputs.check_outputs(files, written, "root")
            keypoints = _keypoint_names(opened, task)
            categories, placeholders, used_ids = file_categories(
                opened, workers, drop_unused_categories, classes
            )
            root.mkdir(parents=True, exist_ok=True)
            with layout.root_lock(root):  # the map is settled and recorded at once
                class_map = _class_map(root, categories, classes, used_ids)
                claimed = layout.claim_class_map(root, class_map, task, [c.split for c in opened])
            run = Run(
                root=root,
                task=task,
                class_map=class_map,
                keep_crowd=crowd == "keep",
                workers=workers,
                backend=backend,
                scheduler=scheduler,
                images=Path(images) if images else None,
                boxes_as_segments=boxes_as_segments,
                progress=progress,
                tuning=tuning,
                keypoint_names=keypoints,
                yaml_name=yaml_name,
            )
            summaries, used = [], set()
            for coco_file, source in zip(opened, found, strict=True):
                dropped = placeholders.get(str(coco_file.path))
                summary, used_here = _convert_split(coco_file, run, active, source, dropped)
                summaries.append(summary)
                used |= used_here
                _warn_crowd_heavy(summary, crowd)
                claimed = None  # a split recorded with the map: it stays
            _warn_without_val(root, yaml_name)
    except BaseException:
        for stages in active:  # again, now that no worker writes into them
            discard(stages)
        if claimed is not None:
            layout.release_class_map(root, class_map, claimed)
        raise
    return Summary(
        root=str(root),
        task=task,
        classes=len(class_map.names),
        yaml=str(root / yaml_name),
        record=str(layout.record_path(root)),
        splits=summaries,
        unused_categories=[name for cid, name in categories.items() if cid not in used],
        placeholder_categories=sorted({f"{n!r} (id {i})" for i, n in placeholders.values()}),
    )


def _annotation_files(
    annotations: Sequence[str | os.PathLike] | str | os.PathLike,
    task: str,
    backend: str,
    crowd: str,
    split: str | None,
    yaml_name: str,
) -> list[sources.Source]:
    """The annotation files to convert, once the options are checked."""
    if task not in TASKS:
        msg = f"{{task}} must be one of {', '.join(TASKS)}, found {task!r}"
        raise InputError(msg, params=["task"])
    if backend not in ("loky", "dask"):
        msg = f"{{backend}} must be 'loky' or 'dask', found {backend!r}"
        raise InputError(msg, params=["backend"])
    if crowd not in ("skip", "keep"):
        msg = f"{{crowd}} must be 'skip' or 'keep', found {crowd!r}"
        raise InputError(msg, params=["crowd"])
    outputs.check_file_name(yaml_name, "yaml_name", (".yaml", ".yml"))
    if isinstance(annotations, str | os.PathLike):
        annotations = [annotations]
    files = sources.find_sources(annotations, task)
    if not files:
        msg = "no annotation files given"
        raise InputError(msg)
    if split is not None and len(files) > 1:
        msg = f"{{split}} names one split but {len(files)} annotation files were given"
        raise InputError(msg, params=["split"])
    return files


def _open_files(
    found: list[sources.Source], split: str | None, tuning: Tuning
) -> list[coco.CocoFile]:
    """The files opened for streaming, each as its split (``split``, else the source's)."""
    splits = [split or source.split for source in found]
    if len(set(splits)) != len(splits):
        named = ", ".join(f"{s.path} → {name}" for s, name in zip(found, splits, strict=True))
        msg = f"two inputs map to the same split ({named}); pass them separately with {{split}}"
        raise InputError(msg, params=["split"])
    return [
        coco.open_coco(source.path, s, chunk_bytes=tuning.chunk_bytes, base=source.base)
        for source, s in zip(found, splits, strict=True)
    ]


def _keypoint_names(opened: list[coco.CocoFile], task: str) -> tuple[str, ...] | None:
    """The keypoint names of a pose conversion (None for other tasks); an error when no
    category of the files names any."""
    if task != "pose":
        return None
    keypoints = keypoint_names_of([c for f in opened for c in f.categories])
    if not keypoints:
        files = ", ".join(str(f.path) for f in opened)
        msg = (
            f"{files}: {{task}} pose needs keypoints, found no category naming any; convert "
            "with {task} detect (or segment for outlines)"
        )
        raise InputError(msg, params=["task"])
    return tuple(keypoints)


def _class_map(
    root: Path,
    categories: dict[int, str],
    classes: Sequence[str] | None,
    used_ids: set[int] | None,
) -> classmap.ClassMap:
    """The class map of this run: from ``classes``, the root's record or the categories; less
    the categories no annotation uses when ``used_ids`` are given."""
    record = layout.read_record(root)
    class_map = classmap.resolve_class_map(categories, record, classes, layout.record_path(root))
    if used_ids is None:
        return class_map
    kept = [
        (cid, name)
        for cid, name in zip(class_map.category_ids, class_map.names, strict=True)
        if cid in used_ids
    ]
    return classmap.ClassMap(
        category_ids=tuple(cid for cid, _ in kept),
        names=tuple(name for _, name in kept),
        selected=True,
    )


def _drop_stale_labels(root: Path, split: str, paths: coco.StringColumn, stages: Stages) -> int:
    """Remove from the label trees' copies the labels of images that the split's last list file
    names and this conversion does not, so that a re-conversion leaves only its own labels.
    Only labels inside a tree copy are touched (a line of the list that points elsewhere is
    ignored); returns how many were removed.
    """
    try:
        listed = (root / f"{split}.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    root_text, current, removed = root.as_posix(), set(paths), 0
    for line in listed.splitlines():
        relpath = line.removeprefix("./images/")
        if relpath == line or relpath in current:
            continue
        label = os.path.normpath(layout.label_file(root_text, relpath))
        for tree, copy in stages.trees.items():
            if label.startswith(tree + "/"):
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    os.unlink(copy + label[len(tree) :])
                    removed += 1
                break
    return removed


def _convert_split(
    coco_file: coco.CocoFile,
    run: Run,
    active: list[Stages],
    source: sources.Source,
    placeholder: tuple[int, str] | None,
) -> tuple[SplitSummary, set[int]]:
    """Write one file's labels, list file and image links, and record the split; return its
    summary and the category ids its annotations use.

    Holds the split's lock (and its label trees') throughout. The labels go to copies of their
    trees built aside, put in place only once all are written, with the list file, the
    record and the split's image record (for ``export``), under the root's lock: bad input, a
    failure or a kill leave the split as it was.
    """
    paths = coco_file.images.paths
    layout.check_label_names(str(coco_file.path), paths)
    root_text = run.root.as_posix()
    folders = sorted(label_folders(root_text, paths))
    image_folders = {relpath.rpartition("/")[0] for relpath in paths}
    trees = {layout.label_tree(root_text, folder) for folder in image_folders} - {None}
    names = [f"split {coco_file.split}"]
    names += [f"labels {os.path.relpath(tree, root_text)}" for tree in trees]
    with layout.split_lock(run.root, names):
        _sweep(run, trees)
        stages = Stages()
        active.append(stages)
        in_tree = {f for f in folders if any(f == t or f.startswith(t + "/") for t in trees)}
        plan_trees(sorted(trees), sorted(in_tree), stages)
        plan_folders([f for f in folders if f not in in_tree], stages)
        replaced: list[str] = []
        try:
            stale = _drop_stale_labels(run.root, coco_file.split, paths, stages)
            written, unchanged, background, rows = _write_split(
                coco_file, run, stages, run.images or source.images
            )
            with layout.root_lock(run.root):
                layout.check_class_map(run.root, run.class_map)
                replaced = publish(stages)
                write_atomic(run.root / f"{coco_file.split}.txt", paths.lines("./images/").encode())
                image_record.record_converted(run.root, coco_file.split, coco_file)
                source_path = os.path.abspath(coco_file.path)  # export checks it from any folder
                entry = {"source": source_path, "images": len(paths), "task": run.task}
                if placeholder is not None:
                    entry["placeholder_category"] = {"id": placeholder[0], "name": placeholder[1]}
                layout.record_splits(
                    run.root,
                    run.class_map,
                    run.task,
                    {coco_file.split: entry},
                    keypoint_names=run.keypoint_names,
                    yaml_name=run.yaml_name,
                )
        except BaseException:  # (after publish: the new tree is in place, the old one aside)
            discard(stages)
            remove_trees(replaced)
            raise
        active.remove(stages)
        remove_trees(replaced)
    counts = rows.counts
    if stale:
        counts["stale_labels_removed"] = stale
    if coco_file.images.lvis_fields:
        counts["lvis_image_fields_ignored"] = coco_file.images.lvis_fields
    if coco_file.images.reduced_paths:
        counts["image_paths_reduced"] = coco_file.images.reduced_paths
    summary = SplitSummary(
        source=str(coco_file.path),
        split=coco_file.split,
        images=len(coco_file.images),
        label_files_written=written,
        label_files_unchanged=unchanged,
        instances=counts.pop("instances", 0),
        background_images=background,
        counts=dict(sorted(counts.items())),
    )
    return summary, rows.categories_used


def _write_split(
    coco_file: coco.CocoFile, run: Run, stages: Stages, images: Path | None
) -> tuple[int, int, int, SplitRows]:
    """Compute the file's rows, then write its labels into ``stages`` and link its images;
    return (written, unchanged, background images, the rows)."""
    paths = coco_file.images.paths
    keypoints = len(run.keypoint_names or ())
    ctx = row_context(coco_file, run.class_map, run.task, run.keep_crowd, keypoints)
    # The label text is rarely more than the JSON it comes from.
    text_file = label_text_file(2 * os.path.getsize(coco_file.path), run.tuning)
    try:
        # New label files are created while workers compute their rows.
        labels = map(partial(layout.label_file, run.root.as_posix()), paths)
        if rows_in_workers(coco_file, run.workers, run.tuning):
            labels_ahead = create_ahead(labels, stages)
        else:
            labels_ahead = contextlib.nullcontext(Ahead())
        with backend_context(run.backend, run.scheduler), labels_ahead as ahead:
            rows = split_rows(coco_file, ctx, text_file, run)
        _check_task_fits(str(coco_file.path), run, rows.counts)
        # Images are looked up before any label is written: a missing one leaves no output.
        image_files = _image_files(coco_file.path, images, paths, found=run.images is None)
        counts = write_labels(coco_file.split, paths, rows, stages, ahead.created, run)
    finally:
        os.unlink(text_file)
    if image_files is not None:
        layout.link_images(run.root, image_files, paths)
    return (*counts, rows)


def _image_files(
    source: Path, images: Path | None, paths: coco.StringColumn, found: bool
) -> list[Path] | None:
    """The image files of ``source``'s images to link, from ``images``; None when there is
    none, or when the folder was ``found`` beside an export that came without its images (none
    of them there)."""
    if images is None:
        return None
    if found:
        there = layout.image_sources(images, paths, missing_ok=True)
        if len(there) == len(paths):
            return there
        if not there:
            log.warning("%s: the export's images are not there; writing labels only", images)
            return None
    try:
        return layout.image_sources(images, paths)
    except InputError as error:  # naming the first one missing
        msg = f"{source}: {error.message}"
        raise InputError(msg, path=images) from None


def _check_task_fits(source: str, run: Run, counts: dict[str, int]) -> None:
    """An error before anything is written when the file cannot fill the task: pose without any
    labelled keypoints, segment without any segmentation (unless boxes are wanted as polygons)."""
    instances = counts.get("instances", 0)
    if run.task == "pose" and not instances and counts.get("no_keypoints_skipped", 0):
        msg = (
            f"{source}: {{task}} pose needs keypoints, found none labelled in "
            f"{counts['no_keypoints_skipped']} annotations; convert with {{task}} detect"
        )
        raise InputError(msg, path=source, params=["task"])
    boxes_only = instances and counts.get("no_segmentation", 0) >= instances
    if run.task == "segment" and boxes_only and not run.boxes_as_segments:
        msg = (
            f"{source}: {{task}} segment needs outlines, found only boxes (no segmentation in "
            f"any of {instances} annotations); convert with {{task}} detect, or pass "
            "{boxes_as_segments} to write each box as a polygon"
        )
        raise InputError(msg, path=source, params=["task", "boxes_as_segments"])


def _sweep(run: Run, trees: set[str]) -> None:
    """Remove what killed runs left where this split's files go: stages and tree copies beside
    the label trees, temporary files in the root, label text stores."""
    folders = {run.root, *(Path(tree).parent for tree in trees)}
    for folder in sorted({*folders, Path(run.tuning.shm_folder), Path(tempfile.gettempdir())}):
        debris.sweep(folder)


def _warn_without_val(root: Path, yaml_name: str) -> None:
    """Say so when the root has no split the yaml lists under val: (an export that is one set):
    Ultralytics refuses such a yaml. Not while another run writes a val split into the root
    (``make -j`` with one convert per split)."""
    splits = list((layout.read_record(root) or {}).get("splits", {}))
    if "val" not in split_keys([*splits, *layout.splits_being_written(root)]):
        log.warning(
            "%s has no val: split (found %s), which Ultralytics needs; split the annotations "
            "(cocoprep split FILE --out DIR --ratios 0.8,0.2) and convert both, or convert a "
            "val file into this root",
            root / yaml_name,
            ", ".join(splits),
        )


def _warn_crowd_heavy(split: SplitSummary, crowd: str) -> None:
    skipped = split.counts.get("crowd_skipped", 0)
    if crowd == "skip" and skipped and skipped * 2 > split.counts.get("annotations", 0):
        log.warning(
            "%s: %d of %d annotations are crowd (iscrowd=1) and were skipped; tool exports such as "
            "CVAT mark every mask as crowd: convert them with crowd 'keep' (--crowd keep)",
            split.source,
            skipped,
            split.counts.get("annotations", 0),
        )

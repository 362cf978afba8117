"""``export``: the library call behind ``cocoprep export``."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cocoprep import coco
from cocoprep import progress as progress_bars
from cocoprep.errors import InputError
from cocoprep.exporter import categories as cats
from cocoprep.exporter import source
from cocoprep.exporter.annotations import (
    TASK_OF_KIND,
    TASKS,
    Block,
    Rules,
    block_annotations,
    check_one_task,
)
from cocoprep.exporter.images import SplitImages
from cocoprep.exporter.summary import ExportSummary, SplitExport
from cocoprep.exporter.writer import write_coco, write_results
from cocoprep.outputs import check_outputs
from cocoprep.parallel import keep_freed_memory, local_workers, run_in_order, worker_count

#: Images whose label files one job reads.
IMAGES_PER_BLOCK = 4096
#: Fewer images than this are exported in-process (starting workers costs more).
PARALLEL_MIN_IMAGES = 16_384


class _Progress:
    """The blocks of one split as they are computed, and what they showed: row kinds (with a
    file of each), counts, images with objects."""

    def __init__(self, rules: Rules, fallback: str | None) -> None:
        self.rules, self.fallback = rules, fallback
        self.seen: dict[str, str] = {}
        self.counts: Counter = Counter()
        self.images_with_objects = 0

    @property
    def task(self) -> str:
        """The task given, else the one the rows showed, else the record's (else detect)."""
        if self.rules.task is not None:
            return self.rules.task
        if self.seen:
            return TASK_OF_KIND[next(iter(self.seen))]
        return self.fallback or "detect"

    def blocks(
        self, images: SplitImages, workers: int, progress: progress_bars.Progress
    ) -> Iterator[Block]:
        """Each block of ``images`` in order; an error as soon as two show different tasks."""
        jobs = [
            (
                images.labels[first : first + IMAGES_PER_BLOCK],
                images.ids[first : first + IMAGES_PER_BLOCK],
                images.widths[first : first + IMAGES_PER_BLOCK],
                images.heights[first : first + IMAGES_PER_BLOCK],
                self.rules,
            )
            for first in range(0, len(images), IMAGES_PER_BLOCK)
        ]
        sizes = [len(job[0]) for job in jobs]
        for block in run_in_order(
            block_annotations,
            jobs,
            sizes,
            workers=workers,
            desc=f"export {images.split}",
            unit="img",
            progress=progress_bars.enabled(progress),
        ):
            for kind, path in block.kinds.items():
                self.seen.setdefault(kind, path)
            if self.rules.task is None:
                check_one_task(self.seen)
            self.counts.update(block.counts)
            self.images_with_objects += block.images_with_objects
            yield block


def _export_split(
    dataset: source.Dataset,
    split: str,
    out: Path,
    like: coco.CocoFile | None,
    task: str | None,
    workers: int,
    progress: progress_bars.Progress,
) -> SplitExport:
    if like is not None:
        images = source.like_images(dataset, split, like)
    else:
        images = source.split_images(dataset, split, workers=workers, progress=progress)
    source.check_ids(images, str(like.path if like else dataset.path))
    categories = source.split_categories(dataset, split, like)
    kpt_shape = source.keypoint_shape(dataset, categories)
    rules = Rules(
        category_ids=tuple(int(c["id"]) for c in categories),
        task=task,
        kpt_shape=kpt_shape,
        predictions=dataset.predictions,
    )
    state = _Progress(rules, (dataset.record or {}).get("task"))
    state.counts.update(images.counts)
    blocks = state.blocks(images, workers if len(images) >= PARALLEL_MIN_IMAGES else 1, progress)
    if dataset.predictions:
        path = out
        count = write_results(out, blocks)
    else:
        keypoints = (dataset.record or {}).get("keypoints")

        def target() -> Path:
            prefix = "person_keypoints" if state.task == "pose" else "instances"
            return out / f"{prefix}_{split}.json"

        def final_categories() -> list[dict[str, Any]]:
            if state.task != "pose":
                return categories
            return [cats.with_keypoints(c, kpt_shape, keypoints) for c in categories]

        count = write_coco(out, target, images, blocks, final_categories)
        path = target()
    return SplitExport(
        split=split,
        task=state.task,
        path=str(path),
        images=len(images),
        annotations=count,
        background_images=len(images) - state.images_with_objects,
        counts=dict(sorted(state.counts.items())),
    )


def _check_outputs(dataset: source.Dataset, names: list[str], out: Path, like: Path | None) -> None:
    """An error when a file this export writes is its ground truth or a split's source COCO
    (the file convert read, named in the record)."""
    recorded = (dataset.record or {}).get("splits", {})
    inputs = [like] if like is not None else []
    inputs += [Path(recorded[n]["source"]) for n in names if recorded.get(n, {}).get("source")]
    if dataset.predictions:
        targets = [out]
    else:
        targets = [out / f"{p}_{n}.json" for n in names for p in ("instances", "person_keypoints")]
    check_outputs(inputs, targets, "out")


def _splits(dataset: source.Dataset, split: str | None, like: Path | None) -> list[str]:
    """The splits to export: ``split`` when given; with ``like``, the one split it can be."""
    names = list(dataset.entries)
    if split is not None:
        if split not in dataset.entries:
            msg = f"{dataset.path}: no split {split!r} (found {', '.join(names) or 'none'})"
            raise InputError(msg, path=dataset.path, params=["split"])
        return [split]
    if not names:
        msg = f"{dataset.path}: no splits found (expected train/val entries or a record)"
        raise InputError(msg, path=dataset.path)
    if like is None or len(names) == 1:
        return names
    guess = coco.split_from_filename(like)
    if guess in names:
        return [guess]
    msg = (
        f"{like} is one split's ground truth but {dataset.path} has {len(names)} "
        f"({', '.join(names)}); name the one it belongs to with {{split}}"
    )
    raise InputError(msg, path=like, params=["split"])


def export(
    dataset: str | os.PathLike,
    out: str | os.PathLike,
    *,
    split: str | None = None,
    task: str | None = None,
    like: str | os.PathLike | None = None,
    predictions: bool = False,
    workers: int | None = None,
    progress: progress_bars.Progress = None,
) -> ExportSummary:
    """Export YOLO labels (or Ultralytics predictions) as COCO JSON with the original ids.

    ``dataset`` is a dataset yaml or root; ``out`` a folder that gets
    ``instances_<split>.json`` (``person_keypoints_<split>.json`` for pose) per split. Image
    ids, file names, sizes and categories come from cocoprep's record of the root, else from
    ``like`` (a COCO file), else from the images (ids from numeric stems, sizes from headers)
    and the yaml's names (category id = class index + 1). The task is read from the rows unless
    ``task`` is given.

    With ``predictions``, ``dataset`` is Ultralytics' prediction folder (``save_txt=True,
    save_conf=True``), ``like`` the ground truth, and ``out`` the results file ``COCO.loadRes``
    reads.

    Examples
    --------
    >>> summary = export("datasets/coco", "exported")  # doctest: +SKIP
    >>> summary.splits[0].path  # doctest: +SKIP
    'exported/instances_val2017.json'
    """
    if task is not None and task not in TASKS:
        msg = f"{{task}} must be one of {', '.join(TASKS)}, found {task!r}"
        raise InputError(msg, params=["task"])
    if predictions and like is None:
        msg = "predictions carry file stems and class indices; pass the ground truth as {like}"
        raise InputError(msg, params=["like"])
    opened = source.open_dataset(dataset, predictions=predictions)
    out_path = Path(out)
    like_path = Path(like) if like is not None else None
    names = _splits(opened, split, like_path)
    _check_outputs(opened, names, out_path, like_path)
    workers = worker_count(workers)
    keep_freed_memory()  # before the workers fork: each block frees ~100 MB of arrays
    summary = ExportSummary(dataset=str(dataset), out=str(out_path))
    with local_workers(workers, __name__):
        for name in names:
            like_file = coco.open_coco(like_path, name) if like_path is not None else None
            summary.splits.append(
                _export_split(opened, name, out_path, like_file, task, workers, progress)
            )
    return summary

"""``cocoprep convert``: COCO-format JSON → YOLO label files, list files and the dataset yaml.

Design (why it is fast and small). A COCO file is not parsed whole: :mod:`cocoprep.coco` parses
its images and categories and cuts its annotations array into ~8 MB byte ranges that end on
element boundaries. Each range is parsed and turned into label rows by a worker
(:func:`cocoprep.rows.annotation_rows`, pure) that returns only compact results: the rows' text
formatted in bulk with numpy, and the image each row belongs to. The parent holds those results
(the output text, a fraction of the JSON object tree), groups the rows by image with a stable
sort, so each image keeps its annotations in JSON order, and writes each label file once,
atomically. So memory stays near the size of the output text, parsing runs on every core, and
the output is byte-identical for any worker count. Small files (under ``PARALLEL_MIN_BYTES`` of
annotations) run in-process, where starting workers would cost more than it saves.

Nothing is written for a split until all its annotations have been checked, so bad input leaves
no partial output for that split.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep import classmap, coco, yamlfile
from cocoprep.errors import InputError
from cocoprep.fileio import write_atomic, write_many
from cocoprep.parallel import backend_context, keep_freed_memory, run_in_order
from cocoprep.rows import TASKS, ChunkRows, RowContext, annotation_rows

log = logging.getLogger("cocoprep")

#: Annotation bytes below which a file is converted in-process.
PARALLEL_MIN_BYTES = 48 << 20
#: Size of the annotation byte ranges handed to workers.
CHUNK_BYTES = 8 << 20
#: Images whose rows are gathered at once when writing (bounds the Python lists held).
IMAGES_PER_BLOCK = 1 << 16
_PATTERNS = {"pose": ("person_keypoints_*.json",), "segment": ("instances_*.json",)}
_PATTERNS["detect"] = _PATTERNS["segment"]


@dataclass
class SplitSummary:
    """What convert did for one input file."""

    source: str
    split: str
    images: int
    label_files_written: int
    label_files_unchanged: int
    instances: int
    background_images: int
    counts: dict[str, int]


@dataclass
class Summary:
    """What convert did, for the command line's summary and ``--report``."""

    root: str
    task: str
    classes: int
    yaml: str
    record: str
    splits: list[SplitSummary] = field(default_factory=list)
    unused_categories: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        """Counts added over all splits."""
        total: Counter = Counter()
        for split in self.splits:
            total.update(
                images=split.images,
                label_files_written=split.label_files_written,
                label_files_unchanged=split.label_files_unchanged,
                instances=split.instances,
                background_images=split.background_images,
            )
            total.update(split.counts)
        return dict(total)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the summary."""
        return {
            "root": self.root,
            "task": self.task,
            "classes": self.classes,
            "yaml": self.yaml,
            "record": self.record,
            "unused_categories": self.unused_categories,
            "totals": self.totals(),
            "splits": [vars(split) for split in self.splits],
        }


def find_annotation_files(inputs: Sequence[str | os.PathLike], task: str) -> list[Path]:
    """Expand the inputs: files as given, directories to their annotation files for ``task``.

    >>> find_annotation_files([], "segment")
    []
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted({p for pattern in _PATTERNS[task] for p in path.glob(pattern)})
            if not found:
                patterns = " or ".join(_PATTERNS[task])
                msg = f"{path}: no {patterns} files in this directory; name the files instead"
                raise InputError(msg)
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            msg = f"{path}: no such file or directory (expected COCO JSON annotations)"
            raise InputError(msg)
    return files


def label_path(root: Path, image_relpath: str) -> Path:
    """Where Ultralytics looks for an image's labels: the image path under ``ROOT/images`` with
    its last ``/images/`` replaced by ``/labels/`` and its suffix by ``.txt``.

    >>> label_path(Path("/d"), "val2017/000000397133.jpg").as_posix()
    '/d/labels/val2017/000000397133.txt'
    """
    return Path(_label_path(root.as_posix(), image_relpath))


def _label_path(root: str, image_relpath: str) -> str:
    head, _, tail = f"{root}/images/{image_relpath}".rpartition("/images/")
    folder, _, name = tail.rpartition("/")
    dot = name.rfind(".")
    stem = name[:dot] if dot > 0 else name
    return f"{head}/labels/{folder}/{stem}.txt" if folder else f"{head}/labels/{stem}.txt"


def row_context(
    coco_file: coco.CocoFile, class_map: classmap.ClassMap, task: str, keep_crowd: bool
) -> RowContext:
    """The :class:`RowContext` convert's workers get for one file (also used by fidelity)."""
    images = coco_file.images
    order = np.argsort(images.ids, kind="stable")
    category_ids = np.array(sorted(c["id"] for c in coco_file.categories), np.int64)
    index = class_map.index_of()
    return RowContext(
        source=str(coco_file.path),
        task=task,
        keep_crowd=keep_crowd,
        sorted_image_ids=images.ids[order],
        image_order=order,
        widths=images.widths,
        heights=images.heights,
        sorted_category_ids=category_ids,
        category_class=np.array([index.get(int(c), -1) for c in category_ids], np.int64),
    )


def _rows_of_range(path: str, start: int, end: int, ctx: RowContext) -> ChunkRows:
    keep_freed_memory()
    with coco.gc_paused():
        return annotation_rows(coco.parse_objects(path, start, end), ctx)


def _iter_chunk_rows(
    coco_file: coco.CocoFile, ctx: RowContext, workers: int, backend: str, progress: bool
) -> Iterator[ChunkRows]:
    """Rows of each chunk of the file's annotations, in file order, computed by workers."""
    if coco_file.annotations is not None:
        batches = list(coco.iter_annotation_batches(coco_file))
        function, jobs = annotation_rows, [(batch, ctx) for batch in batches]
        sizes, unit = [len(batch) for batch in batches], "ann"
    else:
        ranges = coco_file.annotation_ranges or []
        function, jobs = _rows_of_range, [(str(coco_file.path), s, e, ctx) for s, e in ranges]
        sizes, unit = [e - s for s, e in ranges], "B"
    small = unit == "B" and sum(sizes) < PARALLEL_MIN_BYTES
    yield from run_in_order(
        function,
        jobs,
        sizes,
        workers=1 if small else workers,
        backend=backend,
        desc=f"rows {ctx.source}",
        unit=unit,
        progress=progress,
    )


@dataclass
class _SplitRows:
    """All rows of a split, kept as the chunks' compact text plus two columns per row."""

    texts: list[bytes]
    image: np.ndarray  # image position of each row (file order)
    end: np.ndarray  # where each row's text ends in its chunk's text
    first_row: np.ndarray  # first row of each chunk, then the number of rows
    counts: Counter
    categories_used: set[int]

    @classmethod
    def collect(cls, chunks: Iterable[ChunkRows]) -> _SplitRows:
        texts, images, ends, sizes = [], [], [], [0]
        counts: Counter = Counter()
        used: set[int] = set()
        for chunk in chunks:
            counts.update(chunk.counts)
            used.update(chunk.categories_used.tolist())
            texts.append(chunk.text)
            # Compact columns: Objects365 has 10 M rows.
            images.append(chunk.image_index.astype(np.int32))
            ends.append(chunk.row_ends.astype(np.int32))
            sizes.append(len(chunk.row_ends))
        return cls(
            texts=texts,
            image=np.concatenate([np.empty(0, np.int32), *images]),
            end=np.concatenate([np.empty(0, np.int32), *ends]),
            first_row=np.cumsum(sizes),
            counts=counts,
            categories_used=used,
        )

    def by_image(self, n_images: int) -> Iterator[bytes]:
        """Each image's label text in table order: its rows in annotation order, exact
        duplicate rows dropped (counted in ``counts["duplicates_dropped"]``)."""
        order = np.argsort(self.image, kind="stable").astype(np.int32)
        bounds = np.searchsorted(self.image[order], np.arange(n_images + 1))
        texts = self.texts
        duplicates = 0
        block = IMAGES_PER_BLOCK
        for first in range(0, n_images, block):
            last = min(first + block, n_images)
            lo, hi = int(bounds[first]), int(bounds[last])
            rows = order[lo:hi]
            chunk = np.searchsorted(self.first_row, rows, side="right") - 1
            starts_chunk = self.first_row[chunk] == rows
            start = np.where(starts_chunk, 0, self.end[np.maximum(rows - 1, 0)])
            chunk, start, end = chunk.tolist(), start.tolist(), self.end[rows].tolist()
            edges = (bounds[first : last + 1] - lo).tolist()
            for i in range(last - first):
                a, b = edges[i], edges[i + 1]
                if b - a == 1:
                    yield texts[chunk[a]][start[a] : end[a]]
                    continue
                pieces = [texts[chunk[r]][start[r] : end[r]] for r in range(a, b)]
                unique = list(dict.fromkeys(pieces))
                duplicates += len(pieces) - len(unique)
                yield b"".join(unique)
        self.counts["duplicates_dropped"] += duplicates
        self.counts["instances"] -= duplicates


def _split_rows(
    coco_file: coco.CocoFile, ctx: RowContext, workers: int, backend: str, progress: bool
) -> _SplitRows:
    """Rows for every annotation of the file; a file whose byte ranges do not parse is re-read
    whole (which names the position of invalid JSON)."""
    try:
        return _SplitRows.collect(_iter_chunk_rows(coco_file, ctx, workers, backend, progress))
    except coco.LayoutError:
        if coco_file.annotations is not None:
            raise
        log.info(
            "%s: reading the file whole (its layout defeats the byte-range reader)", coco_file.path
        )
        coco_file.annotations = coco.open_whole(coco_file.path, coco_file.split).annotations
        return _SplitRows.collect(_iter_chunk_rows(coco_file, ctx, workers, backend, progress))


def _write_labels(
    root: Path, split: str, coco_file: coco.CocoFile, texts: Iterable[bytes], progress: bool
) -> tuple[int, int, int]:
    """Write each image's label file; return (written, unchanged, background images)."""
    from tqdm import tqdm

    paths = coco_file.images.paths
    with tqdm(
        total=len(paths), desc=f"labels {split}", unit="file", disable=not progress, leave=False
    ) as bar:
        background = 0
        root_text = root.as_posix()

        def files() -> Iterator[tuple[str, bytes]]:
            nonlocal background
            for relpath, text in zip(paths, texts, strict=True):
                background += not text
                yield _label_path(root_text, relpath), text

        written, unchanged = write_many(files(), on_file=bar.update)
    return written, unchanged, background


def image_sources(images_dir: Path, relpaths: Iterable[str]) -> list[Path]:
    """The file in ``images_dir`` for each image (``<file_name>`` or ``<split>/<file_name>``);
    an error naming the first one missing."""
    sources = []
    for relpath in relpaths:
        name = relpath.split("/", 1)[1] if "/" in relpath else relpath
        candidates = (images_dir / name, images_dir / relpath)
        source = next((c for c in candidates if c.is_file()), None)
        if source is None:
            msg = f"{images_dir}: image {name} not found (looked for {candidates[0]})"
            raise InputError(msg)
        sources.append(source)
    return sources


def _link_images(root: Path, sources: list[Path], relpaths: Iterable[str]) -> None:
    """Hard-link (or copy across filesystems) each image into ``ROOT/images/``."""
    for source, relpath in zip(sources, relpaths, strict=True):
        target = root / "images" / relpath
        if target.exists() and os.path.samefile(source, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)
        os.replace(tmp, target)


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
    progress: bool = False,
) -> Summary:
    """Convert COCO-format annotation files into YOLO labels under ``root``.

    Writes ``ROOT/labels/<split>/<stem>.txt`` for every image (empty for background images),
    ``ROOT/<split>.txt`` listing the images, the dataset yaml and ``ROOT/cocoprep.json`` (the
    class map later runs reuse). Returns a :class:`Summary`.

    ``drop_unused_categories`` removes categories no annotation uses from the class map (off by
    default, so ids stay stable across exports). ``backend="dask"`` runs the per-chunk work on
    the dask.distributed cluster at ``scheduler`` (or the current client); its workers must see
    the same paths.

    Examples
    --------
    >>> summary = convert(["annotations/instances_val2017.json"], "datasets/coco")  # doctest: +SKIP
    >>> summary.totals()["instances"]  # doctest: +SKIP
    36335
    """
    if task not in TASKS:
        msg = f"task must be one of {', '.join(TASKS)}, found {task!r}"
        raise InputError(msg)
    if backend not in ("loky", "dask"):
        msg = f"backend must be 'loky' or 'dask', found {backend!r}"
        raise InputError(msg)
    if crowd not in ("skip", "keep"):
        msg = f"crowd must be 'skip' or 'keep', found {crowd!r}"
        raise InputError(msg)
    if isinstance(annotations, str | os.PathLike):
        annotations = [annotations]
    files = find_annotation_files(annotations, task)
    if not files:
        msg = "no annotation files given"
        raise InputError(msg)
    if split is not None and len(files) > 1:
        msg = f"--split names one split but {len(files)} annotation files were given"
        raise InputError(msg)
    root = Path(root)
    workers = workers or os.cpu_count() or 1
    keep_freed_memory()
    splits = [split or coco.split_from_filename(f) for f in files]
    if len(set(splits)) != len(splits):
        msg = f"two inputs map to the same split ({', '.join(splits)}); pass them separately"
        raise InputError(msg)

    opened = [
        coco.open_coco(f, s, chunk_bytes=CHUNK_BYTES) for f, s in zip(files, splits, strict=True)
    ]
    categories = classmap.union_categories((str(c.path), c.categories) for c in opened)
    record = classmap.read_record(root)
    class_map = classmap.resolve_class_map(categories, record, classes, root)
    if drop_unused_categories:
        used_ids = _used_category_ids(opened, workers)
        class_map = classmap.ClassMap(
            category_ids=tuple(c for c in class_map.category_ids if c in used_ids),
            names=tuple(
                n
                for c, n in zip(class_map.category_ids, class_map.names, strict=True)
                if c in used_ids
            ),
            selected=True,
        )

    root.mkdir(parents=True, exist_ok=True)
    summaries = []
    used: set[int] = set()
    for coco_file, split_name in zip(opened, splits, strict=True):
        ctx = row_context(coco_file, class_map, task, crowd == "keep")
        with backend_context(backend, scheduler):
            rows = _split_rows(coco_file, ctx, workers, backend, progress)
        used |= rows.categories_used
        # Images are looked up before any label is written: a missing one leaves no output.
        image_files = image_sources(Path(images), coco_file.images.paths) if images else None
        texts = rows.by_image(len(coco_file.images))
        written, unchanged, background = _write_labels(root, split_name, coco_file, texts, progress)
        counts = rows.counts
        if coco_file.images.lvis_fields:
            counts["lvis_image_fields_ignored"] = coco_file.images.lvis_fields
        del rows, texts  # the label text, before the list file is built
        paths = coco_file.images.paths
        write_atomic(root / f"{split_name}.txt", paths.lines("./images/").encode())
        if image_files is not None:
            _link_images(root, image_files, paths)
        summaries.append(
            SplitSummary(
                source=str(coco_file.path),
                split=split_name,
                images=len(coco_file.images),
                label_files_written=written,
                label_files_unchanged=unchanged,
                instances=counts.pop("instances", 0),
                background_images=background,
                counts=dict(sorted(counts.items())),
            )
        )
        _warn_crowd_heavy(summaries[-1], crowd)

    split_record = {s.split: {"source": s.source, "images": s.images} for s in summaries}
    if record is not None:
        split_record = {**record.get("splits", {}), **split_record}
    keypoint_names = _keypoint_names(opened) if task == "pose" else None
    record_path = classmap.write_record(
        root, class_map, task, split_record, keypoint_names=keypoint_names
    )
    yaml_path = yamlfile.write_dataset_yaml(
        root,
        class_map.names_by_index(),
        list(split_record),
        name=yaml_name,
        keypoint_names=keypoint_names,
    )
    unused = [name for cid, name in categories.items() if cid not in used]
    return Summary(
        root=str(root),
        task=task,
        classes=len(class_map.names),
        yaml=str(yaml_path),
        record=str(record_path),
        splits=summaries,
        unused_categories=unused,
    )


def _used_category_ids(opened: list[coco.CocoFile], workers: int) -> set[int]:
    """Category ids some annotation of the files uses (a parse-only pass)."""
    used: set[int] = set()
    for coco_file in opened:
        if coco_file.annotations is not None:
            used.update(a.get("category_id") for a in coco_file.annotations if isinstance(a, dict))
            continue
        ranges = coco_file.annotation_ranges or []
        jobs = [(str(coco_file.path), s, e) for s, e in ranges]
        sizes = [e - s for s, e in ranges]
        for ids in run_in_order(coco.category_ids_in_range, jobs, sizes, workers=workers):
            used.update(ids.tolist())
    return used


def _keypoint_names(opened: list[coco.CocoFile]) -> list[str] | None:
    for coco_file in opened:
        for category in coco_file.categories:
            names = category.get("keypoints")
            if isinstance(names, list) and names:
                return [str(n) for n in names]
    return None


def _warn_crowd_heavy(split: SplitSummary, crowd: str) -> None:
    skipped = split.counts.get("crowd_skipped", 0)
    if crowd == "skip" and skipped and skipped * 2 > split.counts.get("annotations", 0):
        log.warning(
            "%s: %d of %d annotations are crowd (iscrowd=1) and were skipped; tool exports such as "
            "CVAT mark every mask as crowd: pass --crowd keep to convert them",
            split.source,
            skipped,
            split.counts.get("annotations", 0),
        )

"""``cocoprep stats``: what a dataset holds, per split and per class, from YOLO labels or COCO JSON.

Both sources are first reduced to one fact per instance (image, class, crowd, polygon parts,
vertices) by pure per-chunk functions, so large inputs run on every core; :func:`aggregate` then
counts with numpy. Definitions, the same for both sources:

- *images*: of a split, all its images; of a class, the images with at least one instance of it.
- *instances*: non-crowd annotations (COCO) or label rows (YOLO); *crowd*: ``iscrowd=1``
  annotations, which YOLO labels do not record (shown as ``-`` for them).
- *background*: images without an instance (a COCO image with only crowd annotations is one,
  as ``convert`` writes it an empty label file).
- *multi-part*: outlines of more than one polygon (COCO parts; YOLO rows whose bridged ring
  :func:`cocoprep.geometry.split_bridged_ring` splits).
- *vertices*: points per polygon outline, as written (a YOLO multi-part row counts its bridge
  ends); boxes, keypoints and RLE masks have none.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep import jsonscan
from cocoprep.errors import InputError
from cocoprep.parallel import PARALLEL_MIN_BYTES, run_in_order, worker_count

log = logging.getLogger("cocoprep")

FORMATS = ("table", "json", "csv")
#: Label files per worker task when reading a dataset root.
FILES_PER_CHUNK = 4000


@dataclass
class Facts:
    """One entry per instance (or crowd annotation), in input order."""

    image: np.ndarray  # position of the image in the split, -1 when unknown
    label: np.ndarray  # category id (COCO) or class index (YOLO)
    crowd: np.ndarray
    parts: np.ndarray  # polygon parts, 0 for boxes, keypoints and RLE
    vertices: np.ndarray  # polygon points, 0 for boxes, keypoints and RLE

    @classmethod
    def concat(cls, items: Sequence[Facts]) -> Facts:
        """All facts of ``items`` in order."""
        if not items:
            empty = np.empty(0, np.int64)
            return cls(empty, empty, np.empty(0, bool), empty, empty)
        return cls(
            *(np.concatenate([getattr(f, k) for f in items]) for k in Facts.__dataclass_fields__)
        )


@dataclass
class ClassStats:
    """The counts of one class (or of all classes) in one split."""

    name: str
    images: int = 0
    instances: int = 0
    crowd: int | None = 0
    multipart: int = 0
    vertices_mean: float | None = None
    vertices_max: int | None = None


@dataclass
class SplitStats:
    """The counts of one split: totals and one :class:`ClassStats` per class."""

    split: str
    source: str
    images: int
    background: int
    total: ClassStats
    classes: list[ClassStats] = field(default_factory=list)
    missing_images: int = 0


@dataclass
class Stats:
    """Stats of a dataset root (``kind="labels"``) or of COCO files (``kind="annotations"``)."""

    source: str
    kind: str
    splits: list[SplitStats]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def to_json(self) -> str:
        """:meth:`as_dict` as indented JSON."""
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def to_csv(self) -> str:
        """One row per split and class, plus a row ``all`` per split with its totals."""
        columns = ["split", "class", "images", "instances", "crowd", "multipart", "background"]
        columns += ["vertices_mean", "vertices_max", "missing_images"]
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        for split in self.splits:
            extra = {"background": split.background, "missing_images": split.missing_images}
            for item, more in [(split.total, extra), *((c, {}) for c in split.classes)]:
                row = asdict(item)
                row["class"] = row.pop("name")
                writer.writerow({"split": split.split, **row, **more})
        return out.getvalue()

    def format_table(self) -> str:
        """A readable table per split; classes without instances or crowd are left out."""
        header = ("class", "images", "instances", "crowd", "multi-part", "vert. mean", "vert. max")
        blocks = []
        for split in self.splits:
            title = (
                f"{split.split}: {split.images} images, {split.background} background"
                + (f", {split.missing_images} listed but missing" if split.missing_images else "")
                + f"  ({split.source})"
            )
            rows = [_cells(c) for c in split.classes if c.instances or c.crowd]
            rows.append(_cells(split.total))
            width = max(len(header[0]), *(len(r[0]) for r in rows))
            lines = [title, _line(header, width)]
            lines += [_line(r, width) for r in rows[:-1]]
            lines += ["-" * len(lines[1]), _line(rows[-1], width)]
            hidden = len(split.classes) - (len(rows) - 1)
            if hidden:
                lines.append(f"({hidden} classes without instances not shown)")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + "\n"

    def format(self, fmt: str = "table") -> str:
        """The stats as ``table``, ``json`` or ``csv`` text."""
        if fmt not in FORMATS:
            msg = f"stats format must be one of {', '.join(FORMATS)}, found {fmt!r}"
            raise InputError(msg)
        return {"table": self.format_table, "json": self.to_json, "csv": self.to_csv}[fmt]()


def _cells(item: ClassStats) -> tuple[str, ...]:
    mean = "-" if item.vertices_mean is None else f"{item.vertices_mean:.1f}"
    return (
        item.name,
        str(item.images),
        str(item.instances),
        "-" if item.crowd is None else str(item.crowd),
        str(item.multipart),
        mean,
        "-" if item.vertices_max is None else str(item.vertices_max),
    )


def _line(cells: Sequence[str], width: int) -> str:
    return f"{cells[0]:<{width}}" + "".join(f"{c:>12}" for c in cells[1:])


def aggregate(
    facts: Facts,
    n_images: int,
    labels: Sequence[int],
    names: Sequence[str],
    *,
    split: str,
    source: str,
    crowd_known: bool = True,
    unnamed: str = "class {}",
) -> SplitStats:
    """Count ``facts`` per class; ``labels[i]`` (category id or class index) is named
    ``names[i]``. A label not in ``labels`` gets a class of its own, named ``unnamed`` with its
    value.

    Examples
    --------
    >>> facts = Facts(np.array([0, 0, 1]), np.array([7, 7, 3]), np.array([False, True, False]),
    ...               np.array([2, 0, 1]), np.array([9, 0, 4]))
    >>> s = aggregate(facts, 3, [3, 7], ["cat", "dog"], split="val", source="x.json")
    >>> s.background, [(c.name, c.images, c.instances, c.crowd) for c in s.classes]
    (1, [('cat', 1, 1, 0), ('dog', 1, 1, 1)])
    >>> s.total.multipart, s.total.vertices_mean, s.total.vertices_max
    (1, 6.5, 9)
    """
    labels = list(labels)
    names = list(names)
    extra = sorted(set(np.unique(facts.label).tolist()) - set(labels))
    labels += extra
    names += [unnamed.format(value) for value in extra]
    order = np.argsort(labels, kind="stable")
    sorted_labels = np.asarray(labels, np.int64)[order]
    cls = order[np.searchsorted(sorted_labels, facts.label)] if len(facts.label) else facts.label
    n = len(labels)
    keep = ~facts.crowd
    known = facts.image >= 0

    def counts(mask: np.ndarray) -> np.ndarray:
        return np.bincount(cls[mask], minlength=n)

    pairs = np.unique(facts.image[keep & known] * n + cls[keep & known])
    per_class_images = np.bincount(pairs % n, minlength=n) if len(pairs) else np.zeros(n, int)
    polygon = keep & (facts.vertices > 0)
    vertex_sum = np.bincount(cls[polygon], weights=facts.vertices[polygon], minlength=n)
    vertex_max = np.zeros(n, np.int64)
    np.maximum.at(vertex_max, cls[polygon], facts.vertices[polygon])
    instances, crowd = counts(keep), counts(facts.crowd)
    multipart, polygons = counts(keep & (facts.parts > 1)), counts(polygon)

    def item(name: str, i: slice | int, images: int) -> ClassStats:
        count = int(np.sum(polygons[i]))
        return ClassStats(
            name=name,
            images=images,
            instances=int(np.sum(instances[i])),
            crowd=int(np.sum(crowd[i])) if crowd_known else None,
            multipart=int(np.sum(multipart[i])),
            vertices_mean=round(float(np.sum(vertex_sum[i])) / count, 2) if count else None,
            vertices_max=int(np.max(vertex_max[i])) if count else None,
        )

    with_instances = len(np.unique(facts.image[keep & known]))
    return SplitStats(
        split=split,
        source=source,
        images=n_images,
        background=n_images - with_instances,
        total=item("all", slice(None), n_images),
        classes=[item(names[i], i, int(per_class_images[i])) for i in range(n)],
    )


# ----------------------------------------------------------------------------------- COCO JSON


def annotation_facts(annotations: list[Any], image_ids: np.ndarray) -> Facts:
    """Facts of a chunk of COCO annotations; ``image_ids`` are the split's ids, sorted.

    Examples
    --------
    >>> anns = [{"image_id": 5, "category_id": 1, "segmentation": [[0, 0, 1, 0, 1, 1], [3, 3,
    ...         4, 3, 4, 4, 3, 4]]}, {"image_id": 9, "category_id": 2, "iscrowd": 1,
    ...         "segmentation": {"counts": [1], "size": [1, 1]}}]
    >>> f = annotation_facts(anns, np.array([5, 9]))
    >>> f.image.tolist(), f.crowd.tolist(), f.parts.tolist(), f.vertices.tolist()
    ([0, 1], [False, True], [2, 0], [7, 0])
    """
    n = len(annotations)
    ids = np.empty(n, np.int64)
    label = np.empty(n, np.int64)
    crowd = np.zeros(n, bool)
    parts = np.zeros(n, np.int64)
    vertices = np.zeros(n, np.int64)
    for i, ann in enumerate(annotations):
        image_id = ann.get("image_id") if type(ann) is dict else None
        category_id = ann.get("category_id") if type(ann) is dict else None
        if type(image_id) is not int or type(category_id) is not int:
            msg = (
                f"annotation {ann.get('id') if type(ann) is dict else i!r}: expected integer "
                f"image_id and category_id, found {image_id!r} and {category_id!r}; run "
                "cocoprep validate on the file"
            )
            raise InputError(msg)
        ids[i], label[i] = image_id, category_id
        crowd[i] = bool(ann.get("iscrowd", 0))
        seg = ann.get("segmentation")
        if type(seg) is list and seg:
            polygons = seg if type(seg[0]) is list else [seg]
            sizes = [len(p) // 2 for p in polygons if type(p) is list and p]
            parts[i], vertices[i] = len(sizes), sum(sizes)
    pos = np.searchsorted(image_ids, ids) if len(image_ids) else np.zeros(n, np.int64)
    pos = np.minimum(pos, max(len(image_ids) - 1, 0))
    found = image_ids[pos] == ids if len(image_ids) else np.zeros(n, bool)
    return Facts(np.where(found, pos, -1), label, crowd, parts, vertices)


def _range_facts(path: str, start: int, end: int, image_ids: np.ndarray) -> Facts:

    return annotation_facts(jsonscan.parse_file_range(path, start, end), image_ids)


def _file_facts(
    coco_file: Any, *, sorted_ids: np.ndarray, workers: int | None, progress: bool
) -> list[Facts]:
    """The facts of a file's annotations: parsed whole, or by byte ranges in workers."""
    if coco_file.annotations is not None:
        return [annotation_facts(coco_file.annotations, sorted_ids)]
    ranges = coco_file.annotation_ranges or []
    sizes = [end - start for start, end in ranges]
    jobs = [(str(coco_file.path), s, e, sorted_ids) for s, e in ranges]
    small = sum(sizes) < PARALLEL_MIN_BYTES
    n_jobs = 1 if small else worker_count(workers)
    return list(
        run_in_order(
            _range_facts,
            jobs,
            sizes,
            workers=n_jobs,
            desc=f"stats {coco_file.path.name}",
            progress=progress,
        )
    )


def coco_stats(
    path: str | os.PathLike,
    *,
    split: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> SplitStats:
    """Stats of one COCO-format annotation file, as ``split`` (default: named after the file)."""
    from cocoprep import coco, layout

    coco_file = coco.open_coco(path, split or layout.split_from_filename(path))
    table = coco_file.images
    order = np.argsort(table.ids, kind="stable")
    sorted_ids = table.ids[order]
    facts = coco.ranges_else_whole(
        coco_file, partial(_file_facts, sorted_ids=sorted_ids, workers=workers, progress=progress)
    )
    merged = Facts.concat(facts)
    found = merged.image >= 0
    merged.image[found] = order[merged.image[found]]
    unknown = int((merged.image < 0).sum())
    if unknown:
        log.warning("%s: %d annotations name an image the file lacks", coco_file.path, unknown)
    categories = sorted((c["id"], str(c["name"])) for c in coco_file.categories)
    return aggregate(
        merged,
        len(table),
        [cid for cid, _ in categories],
        [name for _, name in categories],
        split=coco_file.split,
        source=str(coco_file.path),
        unnamed="category {}",
    )


# --------------------------------------------------------------------------------- YOLO labels


def label_facts(paths: Sequence[str], kpt_count: int | None) -> Facts:
    """Facts of the label files ``paths`` (missing files are background images); the image of a
    row is the position of its file in ``paths``. ``kpt_count`` is the numbers per pose row.

    Only polygon rows with a repeated vertex can hold several parts, so only those are split.
    """
    from cocoprep import yolo

    batch = yolo.read_label_batch(paths, missing_ok=True)
    rows = batch.rows
    bad = np.flatnonzero((rows.classes < 0) | (rows.classes != np.floor(rows.classes)))
    # The first file with a problem, as reading file by file would find it.
    if batch.unparsable and (not len(bad) or batch.unparsable[0][0] <= batch.file[bad[0]]):
        position, line, token = batch.unparsable[0]
        msg = (
            f"{paths[position]}:{line}: {token!r} is not a number; run cocoprep validate on the "
            "root"
        )
        raise InputError(msg)
    if len(bad):
        value = float(rows.classes[bad[0]])
        msg = (
            f"{paths[batch.file[bad[0]]]}: class {value:g} is not a class index; run cocoprep "
            "validate on the root"
        )
        raise InputError(msg)
    count, value = rows.counts, rows.values
    polygon = (count >= 6) & (count % 2 == 0) & (count != kpt_count)
    points = value[np.repeat(polygon, count)].reshape(-1, 2)
    point_row = np.repeat(np.flatnonzero(polygon), count[polygon] // 2)
    parts = polygon.astype(np.int64)
    bridged, split = yolo.split_bridged_rows(point_row, points, count // 2)
    parts[bridged] = [len(ring_parts) for ring_parts in split]
    return Facts(
        batch.file,
        rows.classes.astype(np.int64),
        np.zeros(len(count), bool),
        parts,
        np.where(polygon, count // 2, 0),
    )


def _split_labels(root: Path, split: str, entry: str) -> tuple[list[str], int, str]:
    """The label path of every image of a split, the listed images that are missing, and the
    source described. A split without any image present counts its label files."""
    from cocoprep import yolo

    images, missing = yolo.split_images(root / entry) if (root / entry).exists() else ([], [])
    if images:
        return [str(yolo.label_path_of(p)) for p in images], len(missing), str(root / entry)
    labels_dir = root / "labels" / split
    files = [str(p) for p in yolo.label_files(labels_dir)]
    return files, len(missing), f"{labels_dir} (no images present)"


def root_stats(
    root: str | os.PathLike, *, workers: int | None = None, progress: bool = False
) -> list[SplitStats]:
    """Stats of each split of a dataset root, from its YOLO label files."""
    from cocoprep import classmap, layout, yamlfile

    root = Path(root)
    record = layout.read_record(root)
    names: list[str] = list(classmap.map_from_record(record).names) if record else []
    kpt_count = None
    if record and record.get("task") == "pose" and record.get("keypoints"):
        kpt_count = 4 + 3 * len(record["keypoints"])
    results = []
    for split, entry in yamlfile.find_splits(root).items():
        paths, missing, source = _split_labels(root, split, entry)
        chunks = [paths[i : i + FILES_PER_CHUNK] for i in range(0, len(paths), FILES_PER_CHUNK)]
        facts = list(
            run_in_order(
                label_facts,
                [(chunk, kpt_count) for chunk in chunks],
                [len(c) for c in chunks],
                workers=worker_count(workers),
                desc=f"stats {split}",
                progress=progress,
            )
        )
        offsets = np.cumsum([0] + [len(c) for c in chunks])
        for fact, offset in zip(facts, offsets, strict=False):
            fact.image += offset
        split_stats = aggregate(
            Facts.concat(facts),
            len(paths),
            list(range(len(names))),
            names,
            split=split,
            source=source,
            crowd_known=False,
        )
        split_stats.missing_images = missing
        results.append(split_stats)
    return results


def is_dataset_root(path: Path) -> bool:
    """A folder with labels or a conversion record (not a folder of JSON files, nor the export
    of a labelling tool, which has images but no labels)."""
    from cocoprep import layout

    names = (layout.RECORD_NAME, "labels")
    return path.is_dir() and any((path / name).exists() for name in names)


def stats(
    sources: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    workers: int | None = None,
    progress: bool = False,
) -> Stats:
    """Stats of a dataset root (its YOLO labels) or of COCO annotation files or folders.

    Examples
    --------
    >>> print(stats("datasets/coco").format("csv"))  # doctest: +SKIP
    """
    from cocoprep.sources import find_sources

    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    paths = [Path(s) for s in sources]
    if not paths:
        msg = "stats: expected a dataset root or COCO annotation files, found nothing"
        raise InputError(msg)
    roots = [p for p in paths if is_dataset_root(p)]
    if roots and len(paths) > 1:
        msg = (
            f"stats: expected one dataset root or COCO files, found the root {roots[0]} among "
            f"{len(paths)} inputs; run stats once per root"
        )
        raise InputError(msg)
    if roots:
        splits = root_stats(paths[0], workers=workers, progress=progress)
        if not splits:
            msg = f"{paths[0]}: no splits found; run cocoprep convert into this root first"
            raise InputError(msg)
        return Stats(source=str(paths[0]), kind="labels", splits=splits)
    splits = [
        coco_stats(source.path, split=source.split, workers=workers, progress=progress)
        for source in find_sources(paths, "segment")
    ]
    return Stats(source=", ".join(map(str, paths)), kind="annotations", splits=splits)

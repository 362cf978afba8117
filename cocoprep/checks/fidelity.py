"""``cocoprep validate --fidelity``: how faithfully YOLO polygons reproduce their source masks.

Each label row is traced back to the COCO annotation it came from with convert's own row engine
(:func:`cocoprep.rows.annotation_rows`, same crowd and class rules): the rows convert would write
are regenerated and matched to the file's rows by their exact text. For every matched instance
two IoUs against the source mask (pycocotools' raster of the source polygons, or the RLE) are
measured:

- ``iou``: the written polygon rasterised by pycocotools, i.e. the geometry itself;
- ``iou_trainer``: the written polygon filled with ``cv2.fillPoly`` on int32 pixel coordinates,
  as Ultralytics builds its training masks (boundary pixels included, so each zero-width bridge
  becomes a one-pixel stroke). This needs OpenCV (``pip install 'cocoprep[fidelity]'``); without
  it the column is empty and the report says so. Pillow's ``ImageDraw.polygon`` fills
  differently and is no substitute.

In a root converted with ``--task obb`` (its record says so) the rows are oriented boxes, and
the IoUs are those of each object's rectangle with its mask: how much an OBB model's target
differs from the object, to choose between obb and segment.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep import classmap, coco, jsonscan, layout, masks, yolo
from cocoprep.errors import InputError
from cocoprep.layout import label_path
from cocoprep.progress import Progress, bar
from cocoprep.rows import annotation_rows, row_context

log = logging.getLogger("cocoprep")

OPENCV_MISSING = (
    "OpenCV is not installed: the trainer's raster (cv2.fillPoly) IoU was skipped; "
    "pip install 'cocoprep[fidelity]' to measure it"
)


@dataclass(frozen=True)
class Instance:
    """One label row matched to its source annotation."""

    file: str
    line: int
    image: int
    annotation: int | None
    class_id: int
    iou: float
    iou_trainer: float | None


@dataclass
class FidelityReport:
    """Per-instance IoUs with summaries overall and per class."""

    labels: str
    annotations: str
    names: dict[int, str]
    instances: list[Instance] = field(default_factory=list)
    unmatched_rows: int = 0
    missing_instances: int = 0
    notes: list[str] = field(default_factory=list)

    def stats(self, attribute: str = "iou") -> dict[str, Any]:
        """Mean, 5th percentile and min of ``attribute`` overall and per class."""

        def summary(values: list[float]) -> dict[str, float | int]:
            array = np.array(values, np.float64)
            if not len(array):
                return {"count": 0}
            return {
                "count": len(array),
                "mean": float(array.mean()),
                "p5": float(np.percentile(array, 5)),
                "min": float(array.min()),
            }

        values = [getattr(i, attribute) for i in self.instances]
        if any(v is None for v in values):
            return {"overall": {"count": 0}, "classes": {}}
        per_class: dict[int, list[float]] = defaultdict(list)
        for instance, value in zip(self.instances, values, strict=True):
            per_class[instance.class_id].append(value)
        return {
            "overall": summary(values),
            "classes": {
                self.names.get(c, str(c)): summary(v) for c, v in sorted(per_class.items())
            },
        }

    def worst(self, n: int = 10, attribute: str = "iou") -> list[Instance]:
        """The ``n`` instances with the lowest ``attribute``."""
        if any(getattr(i, attribute) is None for i in self.instances):
            return []
        return sorted(self.instances, key=lambda i: getattr(i, attribute))[:n]

    def as_dict(self, worst: int = 10) -> dict[str, Any]:
        """A JSON-ready dict (instances limited to the ``worst`` of each measure)."""
        return {
            "labels": self.labels,
            "annotations": self.annotations,
            "instances": len(self.instances),
            "unmatched_rows": self.unmatched_rows,
            "missing_instances": self.missing_instances,
            "notes": self.notes,
            "iou": self.stats("iou"),
            "iou_trainer": self.stats("iou_trainer"),
            "worst": [asdict(i) for i in self.worst(worst)],
            "worst_trainer": [asdict(i) for i in self.worst(worst, "iou_trainer")],
        }

    def format_table(self, worst: int = 10) -> str:
        """Per-class table of both IoUs and the worst instances."""
        lines = [
            f"fidelity of {self.labels} against {self.annotations}: {len(self.instances)} "
            f"instances, {self.unmatched_rows} rows without a source, "
            f"{self.missing_instances} source objects not in the labels"
        ]
        ours, trainer = self.stats("iou"), self.stats("iou_trainer")
        lines.append(
            f"{'CLASS':<20} {'N':>6} {'IoU mean':>9} {'p5':>7} {'min':>7}   "
            f"{'cv2 mean':>9} {'p5':>7} {'min':>7}"
        )
        rows = [("all", ours["overall"], trainer["overall"])]
        rows += [(n, s, trainer["classes"].get(n, {})) for n, s in ours["classes"].items()]
        for name, a, b in rows:
            if not a.get("count"):
                continue
            left = f"{a['mean']:>9.4f} {a['p5']:>7.4f} {a['min']:>7.4f}"
            right = f"{b['mean']:>9.4f} {b['p5']:>7.4f} {b['min']:>7.4f}" if b.get("count") else ""
            lines.append(f"{name[:20]:<20} {a['count']:>6} {left}   {right}")
        for title, attribute in (("pycocotools", "iou"), ("cv2.fillPoly", "iou_trainer")):
            items = self.worst(worst, attribute)
            if items:
                lines.append(f"worst by {title} raster:")
                lines += [
                    f"  {i.file}:{i.line} annotation {i.annotation} "
                    f"({self.names.get(i.class_id, i.class_id)}): {getattr(i, attribute):.4f}"
                    for i in items
                ]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _opencv() -> Any:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def _source_rle(ann: dict[str, Any], height: int, width: int) -> Any:
    from pycocotools import mask as mask_utils

    seg = ann.get("segmentation")
    if type(seg) is dict:
        return masks.rle_of(seg, height, width)
    if type(seg) is list and seg:
        parts = [seg] if type(seg[0]) is not list else seg
        parts = [p for p in parts if len(p) >= 6]
        if parts:
            return mask_utils.merge(mask_utils.frPyObjects(parts, height, width))
    box = ann.get("bbox")
    return mask_utils.frPyObjects([box], height, width)[0]


def _ring_of(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel ring of a polygon row (a box row becomes its four corners)."""
    if len(values) == 4:
        cx, cy, w, h = values
        values = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy - h / 2,
                           cx + w / 2, cy + h / 2, cx - w / 2, cy + h / 2])  # fmt: skip
    return values.reshape(-1, 2) * np.array([width, height], np.float64)


def _trainer_iou(cv2: Any, ring: np.ndarray, source: np.ndarray) -> float:
    """IoU of ``cv2.fillPoly`` of the ring (int32 pixel vertices, as Ultralytics) with a mask."""
    drawn = np.zeros(source.shape, np.uint8)
    cv2.fillPoly(drawn, [ring.astype(np.int32).reshape(-1, 1, 2)], color=1)
    union = np.count_nonzero(drawn | source)
    return float(np.count_nonzero(drawn & source) / union) if union else 1.0


def _split_of(labels_dir: Path, root: Path) -> str:
    try:
        return labels_dir.resolve().relative_to((root / "labels").resolve()).as_posix()
    except ValueError:
        return labels_dir.name


def fidelity(
    labels_dir: str | os.PathLike,
    annotations: str | os.PathLike,
    *,
    progress: Progress = None,
) -> FidelityReport:
    """Measure how well the polygons of ``labels_dir`` reproduce the masks of ``annotations``.

    ``labels_dir`` is ``ROOT/labels/<split>``; class ids follow ``ROOT/cocoprep.json`` when
    present (else the dense map of the file's categories).
    """
    labels_dir = Path(labels_dir)
    if not labels_dir.is_dir():
        msg = (
            f"{labels_dir}: expected a YOLO labels folder to measure with {{fidelity}}, found "
            f"{'a file' if labels_dir.exists() else 'nothing'}; give ROOT/labels/<split>"
        )
        raise InputError(msg, path=labels_dir, params=["fidelity"])
    root = labels_dir.resolve().parent.parent
    coco_file = coco.open_coco(annotations, _split_of(labels_dir, root))
    record = layout.read_record(root)
    categories = classmap.union_categories([(str(coco_file.path), coco_file.categories)])
    class_map = (
        classmap.map_from_record(record) if record is not None else classmap.dense_map(categories)
    )
    anns = coco.ranges_else_whole(coco_file, _all_annotations)
    # Crowd kept: rows of crowd annotations then match when the labels hold them, and are
    # simply unmatched expectations when they do not.
    task = "obb" if record is not None and record.get("task") == "obb" else "segment"
    expected = _expected_rows(anns, row_context(coco_file, class_map, task, True))
    cv2 = _opencv()
    report = FidelityReport(
        labels=str(labels_dir),
        annotations=str(coco_file.path),
        names=dict(enumerate(class_map.names)),
    )
    if cv2 is None:
        report.notes.append(OPENCV_MISSING)
    images = coco_file.images
    with bar(progress, total=len(images), desc="fidelity", unit="image") as shown:
        for index in range(len(images)):
            label = label_path(root, images.paths[index])
            if label.is_file():
                _match_image(report, label, images, index, expected.get(index, {}), anns, cv2)
            shown.update(1)
    return report


def _all_annotations(coco_file: coco.CocoFile) -> list[dict[str, Any]]:
    if coco_file.annotations is not None:
        return coco_file.annotations
    return [
        a
        for start, end in coco_file.annotation_ranges or []
        for a in jsonscan.parse_file_range(coco_file.path, start, end)
    ]


def _expected_rows(anns: list[dict[str, Any]], ctx: Any) -> dict[int, dict[bytes, list[int]]]:
    """For each image (by position), the rows convert writes and the annotations they come
    from (positions in ``anns``)."""
    rows = annotation_rows(anns, ctx)
    expected: dict[int, dict[bytes, list[int]]] = defaultdict(lambda: defaultdict(list))
    start = 0
    for image, end, source in zip(
        rows.image_index.tolist(), rows.row_ends.tolist(), rows.source.tolist(), strict=True
    ):
        expected[image][rows.text[start : end - 1]].append(source)
        start = end
    return expected


def _match_image(
    report: FidelityReport,
    label: Path,
    images: coco.ImageTable,
    index: int,
    wanted: dict[bytes, list[int]],
    anns: list[dict[str, Any]],
    cv2: Any,
) -> None:
    """Match one label file's rows to their annotations and add the IoUs to ``report``."""
    from pycocotools import mask as mask_utils

    label_rows = yolo.read_labels(label)
    width, height = int(images.widths[index]), int(images.heights[index])
    for r, text in enumerate(label_rows.texts):
        sources = wanted.get(text)
        if not sources:
            report.unmatched_rows += 1
            continue
        ann = anns[sources.pop(0)]
        ring = _ring_of(label_rows.row(r), width, height)
        source = _source_rle(ann, height, width)
        written = mask_utils.frPyObjects([ring.ravel().tolist()], height, width)
        iou = float(mask_utils.iou(written, [source], [0])[0][0])
        trainer = None
        if cv2 is not None:
            trainer = _trainer_iou(cv2, ring, np.ascontiguousarray(mask_utils.decode(source)))
        report.instances.append(
            Instance(
                file=str(label),
                line=int(label_rows.lines[r]),
                image=int(images.ids[index]),
                annotation=ann.get("id"),
                class_id=int(label_rows.classes[r]),
                iou=iou,
                iou_trainer=trainer,
            )
        )
    report.missing_instances += sum(
        1 for sources in wanted.values() for s in sources if not anns[s].get("iscrowd")
    )

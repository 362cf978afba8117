"""``cocoprep export``: YOLO labels (and Ultralytics predictions) back to COCO JSON, with the
original image and category ids.

- :mod:`~cocoprep.exporter.record` — what convert records of each split for export;
- :mod:`~cocoprep.exporter.source` — a dataset yaml, root or prediction folder (and a ``like`` COCO
  file) resolved into each split's images and categories;
- :mod:`~cocoprep.exporter.images` — ids from file stems, sizes from image headers;
- :mod:`~cocoprep.exporter.annotations` — label rows → COCO annotations or results (pure, per
  block of images);
- :mod:`~cocoprep.exporter.categories` — categories by class index, COCO's person keypoints;
- :mod:`~cocoprep.exporter.writer` — the JSON, streamed and renamed into place;
- :mod:`~cocoprep.exporter.run` — :func:`export` itself.
"""

from cocoprep.exporter.run import ExportSummary, SplitExport, export

__all__ = ["ExportSummary", "SplitExport", "export"]

"""``cocoprep export``: YOLO labels (and Ultralytics predictions) back to COCO JSON, with the
original image and category ids.

- :mod:`~cocoprep.export.record` — what convert records of each split for export;
- :mod:`~cocoprep.export.source` — a dataset yaml, root or prediction folder (and a ``like`` COCO
  file) resolved into each split's images and categories;
- :mod:`~cocoprep.export.images` — ids from file stems, sizes from image headers;
- :mod:`~cocoprep.export.annotations` — label rows → COCO annotations or results (pure, per
  block of images);
- :mod:`~cocoprep.export.categories` — categories by class index, COCO's person keypoints;
- :mod:`~cocoprep.export.writer` — the JSON, streamed and renamed into place;
- :mod:`~cocoprep.export.run` — :func:`export` itself.
"""

from cocoprep.export.run import ExportSummary, SplitExport, export

__all__ = ["ExportSummary", "SplitExport", "export"]

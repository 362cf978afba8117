"""cocoprep: prepare COCO and COCO-format datasets for Ultralytics YOLO training.

The core is importable without Click::

    import cocoprep
    summary = cocoprep.convert(["annotations/instances_val2017.json"], root="datasets/coco")
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["CocoprepError", "__version__"]

from cocoprep.errors import CocoprepError

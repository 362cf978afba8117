"""cocoprep: prepare COCO and COCO-format datasets for Ultralytics YOLO training.

The core is importable without Click::

    import cocoprep
    summary = cocoprep.convert(["annotations/instances_val2017.json"], root="datasets/coco")
    cocoprep.download(["val2017"], root="datasets/coco")
    report = cocoprep.validate(["datasets/coco/coco.yaml"])

``cocoprep.convert``, ``cocoprep.download`` and ``cocoprep.validate`` are the functions; their
modules stay reachable as ``sys.modules["cocoprep.convert"]`` or through
``from cocoprep.convert import …``.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Rebinding the names to the functions (their modules share the names) is deliberate.
from cocoprep.convert import convert
from cocoprep.download import download
from cocoprep.errors import CocoprepError, InputError
from cocoprep.validate import validate

__all__ = ["CocoprepError", "InputError", "__version__", "convert", "download", "validate"]

"""cocoprep: prepare COCO and COCO-format datasets for Ultralytics YOLO training.

The core is importable without Click::

    import cocoprep
    cocoprep.download(["val2017"], root="datasets/coco")
    summary = cocoprep.convert(["datasets/coco/annotations/instances_val2017.json"],
                               root="datasets/coco")
    report = cocoprep.validate(["datasets/coco/coco.yaml"])

The functions below are re-exported from the modules that define them and imported on first
use, so ``import cocoprep`` (the command line, each worker process) loads only what it needs.
Each function's package keeps a name of its own (``cocoprep.converter``, ``cocoprep.exporter``)
so that a module is always a module and a function always a function.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cocoprep.errors import CocoprepError, InputError

if TYPE_CHECKING:
    from cocoprep.checks.validate import validate
    from cocoprep.converter import convert
    from cocoprep.edits.filter import filter_coco
    from cocoprep.edits.merge import merge
    from cocoprep.edits.split import split
    from cocoprep.exporter import export
    from cocoprep.remote.download import download

__version__ = "0.1.0"

#: Each public function and the module that defines it.
_FUNCTIONS = {
    "convert": "cocoprep.converter",
    "download": "cocoprep.remote.download",
    "validate": "cocoprep.checks.validate",
    "export": "cocoprep.exporter",
    "split": "cocoprep.edits.split",
    "merge": "cocoprep.edits.merge",
    "filter_coco": "cocoprep.edits.filter",
}

__all__ = [
    "CocoprepError",
    "InputError",
    "__version__",
    "convert",
    "download",
    "export",
    "filter_coco",
    "merge",
    "split",
    "validate",
]


def __getattr__(name: str) -> Any:
    """Import a public function on first use (PEP 562)."""
    if name in _FUNCTIONS:
        function = getattr(importlib.import_module(_FUNCTIONS[name]), name)
        globals()[name] = function
        return function
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)

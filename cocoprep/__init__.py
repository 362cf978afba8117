"""cocoprep: prepare COCO and COCO-format datasets for Ultralytics YOLO training.

The core is importable without Click::

    import cocoprep
    summary = cocoprep.convert(["annotations/instances_val2017.json"], root="datasets/coco")
    cocoprep.download(["val2017"], root="datasets/coco")
    report = cocoprep.validate(["datasets/coco/coco.yaml"])

``cocoprep.convert``, ``cocoprep.download`` and ``cocoprep.validate`` are the functions; their
modules stay reachable as ``sys.modules["cocoprep.convert"]`` or through
``from cocoprep.convert import …``. They are imported on first use, so ``import cocoprep`` (the
command line, each worker process) loads only what it needs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from cocoprep.errors import CocoprepError, InputError

if TYPE_CHECKING:
    from cocoprep.checks.validate import validate
    from cocoprep.convert import convert
    from cocoprep.remote.download import download

__version__ = "0.1.0"

__all__ = ["CocoprepError", "InputError", "__version__", "convert", "download", "validate"]

#: Each function and the module it lives in.
_FUNCTIONS = {"convert": "convert", "download": "remote.download", "validate": "checks.validate"}


class _Package(types.ModuleType):
    """The package, whose ``convert``, ``download`` and ``validate`` are its modules' functions
    of the same names: imported when first asked for, and kept when the import system binds the
    module under that name."""

    def __getattr__(self, name: str) -> Any:
        if name in _FUNCTIONS:
            return getattr(importlib.import_module(f"{__name__}.{_FUNCTIONS[name]}"), name)
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

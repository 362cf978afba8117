"""Checks of COCO files, YOLO labels folders and dataset yamls, with repair and fidelity.

=====================  ========================================================================
module                 concern
=====================  ========================================================================
``run``                :func:`check`: validate, optionally repair and re-validate, and measure
                       fidelity; one result for the command line
``validate``           :func:`validate`: which checks a target gets
``report``             :class:`Report` and :class:`Finding`, the kinds of finding
``coco``               a COCO file's images and categories, and the file as a whole
``coco_annotations``   COCO annotations, a chunk at a time (pure; joblib workers)
``labels``             YOLO label rows, a batch of files at a time (pure)
``dataset``            a labels folder or dataset yaml: its files and image ↔ label pairing
``rings``              ring validity, area and bounds (Shapely 2 ufuncs), shared by both
``repair``             :func:`repair`: a repaired copy of a COCO file or labels folder
``fidelity``           :func:`fidelity`: IoU of written polygons against their source masks
=====================  ========================================================================

``check``, ``CheckResult``, ``Report``, ``Finding``, ``KINDS``, ``RepairSummary`` and
``FidelityReport`` are importable from here, on first use (``import cocoprep.checks`` stays
cheap); the functions named like their modules (``validate``, ``repair``, ``fidelity``) are
imported from those modules, which keep their names.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "check": "run",
    "CheckResult": "run",
    "Report": "report",
    "Finding": "report",
    "KINDS": "report",
    "RepairSummary": "repair",
    "FidelityReport": "fidelity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)

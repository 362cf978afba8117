"""Shared fixtures: the real coco-mini data set when present, skipped with a reason otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

COCO_MINI = Path(
    os.environ.get(
        "COCOPREP_COCO_MINI",
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coco-mini",
    )
)


@pytest.fixture(scope="session")
def coco_mini() -> Path:
    """Path to ``shared/data/coco-mini`` (real COCO 2017 subset); skips the test when absent."""
    if not (COCO_MINI / "annotations" / "instances_val2017.json").is_file():
        pytest.skip(f"real COCO sample not found at {COCO_MINI} (set COCOPREP_COCO_MINI)")
    return COCO_MINI

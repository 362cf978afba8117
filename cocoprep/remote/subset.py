"""A class subset: fetch only the images of a split that show some classes, and their labels.

The pure part (which classes, which images, the subset's COCO) is in
:mod:`cocoprep.edits.subset`; this module reads the split's annotations, fetches the chosen
images in parallel and swaps the subset in for ``instances_<split>.json``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cocoprep import progress as progress_bars
from cocoprep.edits.subset import category_ids, select_images, subset_coco
from cocoprep.errors import InputError
from cocoprep.fileio import write_atomic
from cocoprep.remote.catalog import COCO_BASE_URL
from cocoprep.remote.fetch import fetch
from cocoprep.remote.http import RetryPolicy
from cocoprep.remote.jobs import run_all

logger = logging.getLogger("cocoprep")


def full_annotations_path(root: str | Path, split: str) -> Path:
    """Where the complete ``instances_<split>.json`` is kept while a subset replaces it."""
    return Path(root) / "annotations" / f"instances_{split}.full.json"


def _image_url(image: dict, split: str, base: str) -> str:
    # The recorded coco_url is used as is only when nothing redirects to another base.
    if base == COCO_BASE_URL and image.get("coco_url"):
        return image["coco_url"]
    return f"{base}{split}/{image['file_name']}"


@dataclass(frozen=True)
class SubsetOutcome:
    """What a class subset download did."""

    split: str
    classes: tuple[str, ...]
    selected: int
    downloaded: int
    present: int
    annotations: Path
    full_annotations: Path


def download_subset(
    split: str,
    classes: Sequence[str],
    *,
    root: str | Path,
    base: str,
    max_images: int | None = None,
    seed: int = 0,
    workers: int = 8,
    policy: RetryPolicy | None = None,
    progress: progress_bars.Progress = None,
) -> SubsetOutcome:
    """Fetch only the ``split`` images showing ``classes`` and write their annotations.

    Reads ``<root>/annotations/instances_<split>.json`` (or the ``.full.json`` kept by an earlier
    subset), picks images with :func:`select_images`, downloads each one in parallel with
    retries into ``<root>/images/<split>/``, then moves the complete file to
    ``instances_<split>.full.json`` and writes the subset as ``instances_<split>.json``, so
    ``cocoprep convert`` runs on it unchanged. Images already in place are not fetched again.
    """
    import orjson

    root = Path(root)
    current = root / "annotations" / f"instances_{split}.json"
    full = full_annotations_path(root, split)
    source = full if full.is_file() else current
    if not source.is_file():
        message = (
            f"{current}: expected the {split} annotations to pick a class subset from, found "
            "nothing; download them first (keep {default_annotations} on)"
        )
        raise InputError(message, path=current, params=["default_annotations"])
    try:
        coco = orjson.loads(source.read_bytes())
    except orjson.JSONDecodeError as error:
        message = f"{source}: expected COCO JSON, found {error}; re-download the annotations"
        raise InputError(message) from error
    ids = category_ids(coco, classes)
    chosen = select_images(coco, ids, max_images=max_images, seed=seed)
    if not chosen:
        message = (
            f"{source}: expected images showing {', '.join(classes)}, found none; "
            "pick other classes"
        )
        raise InputError(message)
    subset = subset_coco(coco, chosen, ids)
    folder = root / "images" / split
    missing = [image for image in subset["images"] if not (folder / image["file_name"]).is_file()]
    policy = policy or RetryPolicy()
    with progress_bars.bar(progress, total=len(missing), desc=f"{split} images", unit="img") as bar:

        def fetch_image(image: dict) -> None:
            fetch(_image_url(image, split, base), folder / image["file_name"], policy=policy)
            bar.update(1)

        run_all(missing, fetch_image, workers, f"of {len(missing)} {split} images")
    if not full.is_file():
        os.replace(current, full)
    write_atomic(current, orjson.dumps(subset))
    logger.info("%s: %d images (%d fetched) in %s", split, len(chosen), len(missing), folder)
    return SubsetOutcome(
        split, tuple(classes), len(chosen), len(missing), len(chosen) - len(missing), current, full
    )

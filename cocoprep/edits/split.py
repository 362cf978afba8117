"""Split one COCO file into several (train, val, test) by ratios, at random or stratified.

Every image goes to exactly one split, with all its annotations; each output keeps the input's
top-level keys in order, its categories, info and licenses, and copies every image and
annotation byte for byte (see :mod:`cocoprep.edits._source`). The choice depends only on the
input and the seed: the same seed writes the same bytes.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cocoprep.edits import stratify as strat
from cocoprep.edits._output import (
    Target,
    listed,
    write_annotations,
    write_cocos,
)
from cocoprep.edits._source import Source, open_source
from cocoprep.errors import InputError
from cocoprep.outputs import check_outputs
from cocoprep.progress import Progress, bar

log = logging.getLogger("cocoprep")

#: Split names when none are given, by the number of ratios.
DEFAULT_NAMES = {2: ("train", "val"), 3: ("train", "val", "test")}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class SplitPart:
    """One output of a split."""

    name: str
    path: str
    images: int
    annotations: int


@dataclass
class SplitSummary:
    """What :func:`split` wrote."""

    source: str
    parts: list[SplitPart]
    stratified: bool = False
    #: Groups of images kept together (``group_by``), else None.
    groups: int | None = None
    #: Classes on too few images to reach every split (``stratify``).
    rare_classes: list[str] = field(default_factory=list)

    def format(self) -> str:
        """The summary as lines of text for the command line."""
        how = "stratified" if self.stratified else "random"
        if self.groups is not None:
            how += f", {self.groups} groups"
        lines = [f"split {self.source} ({how}):"]
        total = sum(p.images for p in self.parts) or 1
        for part in self.parts:
            lines.append(
                f"  {part.name:<8} {part.images:>8} images ({part.images / total:6.1%}) "
                f"{part.annotations:>9} annotations  {part.path}"
            )
        if self.rare_classes:
            lines.append(f"  too rare to spread: {listed(self.rare_classes)}")
        return "\n".join(lines)


def check_ratios(ratios: Sequence[float], names: Sequence[str] | None) -> tuple[str, ...]:
    """Check the ratios (positive, summing to 1) and return the split names for them.

    >>> check_ratios([0.8, 0.2], None)
    ('train', 'val')
    >>> check_ratios([0.7, 0.2], None)
    Traceback (most recent call last):
    cocoprep.errors.InputError: ratios 0.7, 0.2: expected ratios that sum to 1, found a sum of ...
    """
    shown = ", ".join(f"{r:g}" for r in ratios)
    if len(ratios) < 2:
        msg = f"ratios {shown}: expected at least two ratios; pass one per split with {{ratios}}"
        raise InputError(msg, params=["ratios"])
    if not all(isinstance(r, int | float) and math.isfinite(r) and r > 0 for r in ratios):
        msg = f"ratios {shown}: expected positive numbers; fix {{ratios}}"
        raise InputError(msg, params=["ratios"])
    if abs(sum(ratios) - 1) > 1e-6:
        msg = (
            f"ratios {shown}: expected ratios that sum to 1, found a sum of {sum(ratios):g}; "
            "fix {ratios}"
        )
        raise InputError(msg, params=["ratios"])
    if names is None:
        if len(ratios) not in DEFAULT_NAMES:
            msg = f"{len(ratios)} ratios: expected a name for each; pass them with {{names}}"
            raise InputError(msg, params=["names"])
        return DEFAULT_NAMES[len(ratios)]
    names = tuple(names)
    if len(names) != len(ratios):
        msg = (
            f"names {', '.join(names)}: expected one name per ratio ({len(ratios)}), found "
            f"{len(names)}; fix {{names}}"
        )
        raise InputError(msg, params=["names"])
    bad = [n for n in names if not _NAME.fullmatch(n)]
    if bad or len(set(names)) != len(names):
        problem = f"{bad[0]!r} is not a file-name word" if bad else "a name repeats"
        msg = (
            f"names {', '.join(names)}: expected distinct names of letters, digits, '.', '_' "
            f"and '-', found {problem}; fix {{names}}"
        )
        raise InputError(msg, params=["names"])
    return names


def image_groups(file_names: Sequence[str], pattern: str) -> tuple[np.ndarray, int]:
    """Each image's group: images whose file name's first capture group of ``pattern`` is the
    same share one; an image whose name does not match is a group of its own. Returns the
    groups (numbered in order of first appearance) and the number of unmatched images.

    >>> groups, unmatched = image_groups(["v1_f1.jpg", "v2_f1.jpg", "v1_f2.jpg", "x.jpg"],
    ...                                  r"^(v\\d+)_")
    >>> groups.tolist(), unmatched
    ([0, 1, 0, 2], 1)
    """
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        msg = (
            f"group_by {pattern!r}: expected a regular expression, found {error}; fix {{group_by}}"
        )
        raise InputError(msg, params=["group_by"]) from error
    if compiled.groups < 1:
        msg = (
            f"group_by {pattern!r}: expected a capture group (…) around what images of one "
            "group share, found none; fix {group_by}"
        )
        raise InputError(msg, params=["group_by"])
    keys: dict[object, int] = {}
    groups = np.empty(len(file_names), np.int64)
    unmatched = 0
    for i, name in enumerate(file_names):
        match = compiled.search(name)
        key: object = match.group(1) if match else None
        if key is None:
            key = (i,)  # a group of its own
            unmatched += 1
        groups[i] = keys.setdefault(key, len(keys))
    return groups, unmatched


def split(
    coco: str | os.PathLike,
    out: str | os.PathLike,
    ratios: Sequence[float],
    *,
    names: Sequence[str] | None = None,
    seed: int = 0,
    stratify: bool = False,
    group_by: str | None = None,
    progress: Progress = None,
) -> SplitSummary:
    """Split the COCO file ``coco`` into ``OUT/instances_<name>.json``, one file per ratio.

    Parameters
    ----------
    coco
        The COCO JSON file to split.
    out
        The folder of the outputs (created when missing).
    ratios
        Each split's share of the images, summing to 1.
    names
        The splits' names: ``train, val, test`` by default (``train, val`` for two ratios).
    seed
        Seeds the random choice: the same seed writes the same bytes.
    stratify
        Balance, for every class, the share of the images showing it (iterative multi-label
        stratification, :mod:`cocoprep.edits.stratify`); a class on too few images for every
        split gets a warning.
    group_by
        A regular expression: images whose ``file_name`` has the same first capture group
        (frames of one video, tiles of one picture) stay in one split.
    progress
        Progress bars (see :mod:`cocoprep.progress`).

    Examples
    --------
    >>> split("instances_all.json", "annotations", [0.8, 0.2], stratify=True)  # doctest: +SKIP
    """
    names = check_ratios(ratios, names)
    source_path, out = Path(coco), Path(out)
    outputs = [out / f"instances_{name}.json" for name in names]
    check_outputs([source_path], outputs, "out")
    with open_source(source_path) as source:
        columns = source.columns()
        groups = None
        unit_of_image = np.arange(len(source.images))
        if group_by is not None:
            unit_of_image = _groups_of(source, group_by)
            groups = int(unit_of_image.max(initial=-1)) + 1
        category_ids = np.array(sorted({c["id"] for c in source.categories}), np.int64)
        classes = np.searchsorted(category_ids, columns.category_ids)
        pairs = (columns.image_pos, classes) if stratify else (np.empty(0, np.int64),) * 2
        units = strat.Units.from_pairs(unit_of_image, *pairs)
        part_of_image = strat.stratify(units, ratios, len(category_ids), seed)[unit_of_image]
        rare = _rare_names(source, units, ratios, category_ids) if stratify else []
        part_of_annotation = part_of_image[columns.image_pos]
        targets = [
            Target(
                path=path,
                top=source.top,
                image_texts=[source.image_texts[i] for i in np.flatnonzero(part_of_image == j)],
                categories=source.categories,
            )
            for j, path in enumerate(outputs)
        ]
        out.mkdir(parents=True, exist_ok=True)
        with (
            write_cocos(targets) as writers,
            bar(progress, total=len(columns), desc="split", unit="annotations") as shown,
        ):
            write_annotations(source.chunks(), writers, part_of_annotation, shown=shown)
    return SplitSummary(
        source=str(source_path),
        parts=[
            SplitPart(
                name=name,
                path=str(path),
                images=int((part_of_image == j).sum()),
                annotations=int((part_of_annotation == j).sum()),
            )
            for j, (name, path) in enumerate(zip(names, outputs, strict=True))
        ],
        stratified=stratify,
        groups=groups,
        rare_classes=rare,
    )


def _groups_of(source: Source, group_by: str) -> np.ndarray:
    """Each image's group (see :func:`image_groups`), with a warning for unmatched names."""
    file_names = [str(image.get("file_name", "")) for image in source.images]
    groups, unmatched = image_groups(file_names, group_by)
    if unmatched:
        log.warning(
            "%s: %d of %d file names do not match group_by %r; each of those images is a "
            "group of its own",
            source.path,
            unmatched,
            len(file_names),
            group_by,
        )
    return groups


def _rare_names(source: Source, units: strat.Units, ratios, category_ids: np.ndarray) -> list[str]:
    """The names of the classes too rare to spread, with a warning when there are any."""
    names = {c["id"]: str(c["name"]) for c in source.categories}
    rare = strat.too_rare(units, ratios, len(category_ids))
    if not len(rare):
        return []
    images = np.bincount(units.labels, weights=units.counts, minlength=len(category_ids))
    found = [f"{names[int(category_ids[r])]} ({int(images[r])})" for r in rare]
    log.warning(
        "%s: %d classes are on too few images to reach every split at its ratio: %s "
        "(images showing each); their shares cannot be balanced",
        source.path,
        len(found),
        listed(found),
    )
    return [names[int(category_ids[r])] for r in rare]

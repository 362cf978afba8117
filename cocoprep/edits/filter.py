"""Filter one COCO file: keep or drop classes, rename or merge them, drop small annotations,
empty images, or all but a seeded sample of images.

Only those edits are made: every other image, annotation and category is copied byte for byte
(a merged class's annotations get the merged category's id, a renamed category its new name).
Images left without annotations stay, as backgrounds, unless ``drop_empty``. The summary says
what was removed and why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep.edits._output import (
    Edits,
    Target,
    listed,
    write_annotations,
    write_cocos,
)
from cocoprep.edits._source import Columns, Source, open_source
from cocoprep.errors import InputError
from cocoprep.outputs import check_outputs
from cocoprep.progress import Progress, bar


@dataclass
class CategoryPlan:
    """What happens to each category: ``target[old id]`` is its new id, or None (dropped)."""

    target: dict[int, int | None]
    categories: list[dict[str, Any]]
    renamed: list[tuple[str, str]] = field(default_factory=list)
    merged: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


@dataclass
class FilterSummary:
    """What :func:`filter_coco` wrote and removed."""

    source: str
    output: str
    images: tuple[int, int]
    annotations: tuple[int, int]
    #: Annotations removed, by reason: ``class`` (of a dropped class), ``min_area`` (smaller),
    #: ``image`` (on a removed image).
    annotations_removed: dict[str, int]
    #: Images removed, by reason: ``empty`` (``drop_empty``), ``max_images`` (not sampled).
    images_removed: dict[str, int]
    plan: CategoryPlan

    def format(self) -> str:
        """The summary as lines of text for the command line."""
        (i0, i1), (a0, a1) = self.images, self.annotations
        lines = [
            f"filter {self.source} -> {self.output}: {i1} of {i0} images, {a1} of {a0} "
            "annotations kept"
        ]
        why = {
            "class": "of dropped classes",
            "min_area": "below min_area",
            "image": "on removed images",
            "empty": "left empty",
            "max_images": "beyond max_images",
        }
        for what, removed in (
            ("annotations", self.annotations_removed),
            ("images", self.images_removed),
        ):
            shown = [f"{n} {why[reason]}" for reason, n in removed.items() if n]
            if shown:
                lines.append(f"  {what} removed: {', '.join(shown)}")
        plan = self.plan
        edits = [f"renamed {old} -> {new}" for old, new in plan.renamed]
        edits += [f"merged {', '.join(names)} -> {new}" for names, new in plan.merged]
        if plan.dropped:
            edits.append(f"dropped {listed(plan.dropped)}")
        if edits:
            lines.append(f"  categories: {'; '.join(edits)}")
        return "\n".join(lines)


def parse_assignment(text: str, param: str) -> tuple[list[str], str]:
    """``A,B=NEW`` (or ``OLD=NEW``) as the names on the left and the new name.

    >>> parse_assignment("car, truck=vehicle", "merge")
    (['car', 'truck'], 'vehicle')
    """
    left, sep, new = text.partition("=")
    names = [n.strip() for n in left.split(",") if n.strip()]
    if not sep or not names or not new.strip():
        msg = (
            f"{param} {text!r}: expected OLD=NEW (or A,B=NEW), found no such pair; fix {{{param}}}"
        )
        raise InputError(msg, params=[param])
    return names, new.strip()


def plan_categories(
    categories: Sequence[dict[str, Any]],
    *,
    keep: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    merge: Mapping[str, Sequence[str]] | None = None,
) -> CategoryPlan:
    """Where each category goes. ``merge`` maps a new name to the classes merged into it (the
    first one's category, renamed, takes them); ``rename`` maps old names to new ones;
    ``keep`` and ``drop`` name classes as they are after those.

    >>> cats = [{"id": 1, "name": "car"}, {"id": 2, "name": "truck"}, {"id": 3, "name": "dog"}]
    >>> plan = plan_categories(cats, merge={"vehicle": ["car", "truck"]}, drop=["dog"])
    >>> plan.target, plan.categories
    ({1: 1, 2: 1, 3: None}, [{'id': 1, 'name': 'vehicle'}])
    """
    by_name: dict[str, list[int]] = {}
    for category in categories:
        by_name.setdefault(category["name"], []).append(category["id"])
    names = {c["id"]: c["name"] for c in categories}
    target: dict[int, int] = {c["id"]: c["id"] for c in categories}
    plan = CategoryPlan(target={}, categories=[])

    def ids_of(name: str, param: str) -> list[int]:
        if name not in by_name:
            known = ", ".join(sorted(by_name))
            msg = f"{param} {name!r}: expected a class of the file ({known}); fix {{{param}}}"
            raise InputError(msg, params=[param])
        return by_name[name]

    merged_ids: set[int] = set()
    for new, merged in (merge or {}).items():
        ids = [i for name in merged for i in ids_of(name, "merge")]
        if merged_ids & set(ids) or len(set(ids)) != len(ids):
            msg = f"merge {', '.join(merged)}: a class is merged twice; fix {{merge}}"
            raise InputError(msg, params=["merge"])
        for i in ids:
            target[i] = ids[0]
        merged_ids |= set(ids)
        names[ids[0]] = new
        plan.merged.append((tuple(merged), new))
    for old, new in (rename or {}).items():
        for i in ids_of(old, "rename"):
            if i in merged_ids:
                msg = f"rename {old!r}: the class is merged; name the merge {{merge}} instead"
                raise InputError(msg, params=["merge"])
            names[i] = new
        plan.renamed.append((old, new))
    survivors = _chosen(set(target.values()), names, by_name, keep, drop)
    plan.target = {old: (new if new in survivors else None) for old, new in target.items()}
    for category in categories:
        cid = category["id"]
        if cid in survivors:
            edited = dict(category)
            edited["name"] = names[cid]
            plan.categories.append(edited)
        elif target[cid] == cid:
            plan.dropped.append(names[cid])
    _check_unique(plan.categories)
    return plan


def _chosen(ids: set[int], names, by_name, keep, drop) -> set[int]:
    """The categories left after ``keep`` or ``drop``, which name them as edited."""
    if keep is not None and drop is not None:
        msg = "keep and drop both given: expected one of them; pass {keep} or {drop}"
        raise InputError(msg, params=["keep", "drop"])
    wanted, param = (keep, "keep") if keep is not None else (drop, "drop")
    if wanted is None:
        return ids
    edited: dict[str, set[int]] = {}
    for cid in ids:
        edited.setdefault(names[cid], set()).add(cid)
    named = set()
    for name in wanted:
        if name not in edited:
            if name in by_name:
                msg = (
                    f"{param} {name!r}: expected a class as renamed or merged, found its old "
                    f"name; name it {names[by_name[name][0]]!r} instead"
                )
            else:
                known = ", ".join(sorted(edited))
                msg = f"{param} {name!r}: expected a class of the file ({known}); fix {{{param}}}"
            raise InputError(msg, params=[param])
        named |= edited[name]
    return named if keep is not None else ids - named


def _check_unique(categories: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for category in categories:
        other = seen.setdefault(category["name"], category["id"])
        if other != category["id"]:
            msg = (
                f"categories {other} and {category['id']} would both be named "
                f"{category['name']!r}; merge them with {{merge}} or pick another {{rename}}"
            )
            raise InputError(msg, params=["merge", "rename"])


def filter_coco(
    coco: str | os.PathLike,
    out: str | os.PathLike,
    *,
    keep: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    merge: Mapping[str, Sequence[str]] | None = None,
    min_area: float | None = None,
    drop_empty: bool = False,
    max_images: int | None = None,
    seed: int = 0,
    progress: Progress = None,
) -> FilterSummary:
    """Write ``coco`` filtered to ``out`` (see the module docstring) and say what went.

    Parameters
    ----------
    coco, out
        The COCO JSON file to filter, and the file to write (never the input).
    keep, drop
        Class names to keep (all others go) or to drop, as named after ``rename`` and
        ``merge``.
    rename
        ``{old name: new name}``.
    merge
        ``{new name: [class, class, …]}``: those classes become one category, the first one's
        (its id, renamed).
    min_area
        Drop annotations whose ``area`` (square pixels) is below this.
    drop_empty
        Drop images left without annotations (else they stay as backgrounds).
    max_images, seed
        Keep at most this many images (after the other edits), a sample drawn with ``seed``.
    progress
        Progress bars (see :mod:`cocoprep.progress`).

    Examples
    --------
    >>> filter_coco("instances_val2017.json", "people.json", keep=["person"],
    ...             drop_empty=True)  # doctest: +SKIP
    """
    if max_images is not None and (type(max_images) is not int or max_images < 1):
        msg = f"max_images {max_images!r}: expected a positive integer; fix {{max_images}}"
        raise InputError(msg, params=["max_images"])
    source_path, out = Path(coco), Path(out)
    check_outputs([source_path], [out], "out")
    with open_source(source_path) as source:
        plan = plan_categories(source.categories, keep=keep, drop=drop, rename=rename, merge=merge)
        columns = source.columns(("area",) if min_area is not None else ())
        categories, keep_annotation, keep_image, removed, images_removed = _fates(
            source, columns, plan, min_area, drop_empty, max_images, seed
        )
        target = Target(
            path=out,
            top=source.top,
            image_texts=[source.image_texts[i] for i in np.flatnonzero(keep_image)],
            categories=plan.categories,
        )
        edits = Edits(
            changed=categories != columns.category_ids, values={"category_id": categories}
        )
        route = np.where(keep_annotation, 0, -1)
        with (
            write_cocos([target]) as writers,
            bar(progress, total=len(columns), desc="filter", unit="annotations") as shown,
        ):
            write_annotations(source.chunks(), writers, route, edits=edits, shown=shown)
    return FilterSummary(
        source=str(source_path),
        output=str(out),
        images=(len(keep_image), int(keep_image.sum())),
        annotations=(len(columns), int(keep_annotation.sum())),
        annotations_removed=removed,
        images_removed=images_removed,
        plan=plan,
    )


def _fates(
    source: Source,
    columns: Columns,
    plan: CategoryPlan,
    min_area: float | None,
    drop_empty: bool,
    max_images: int | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, int], dict[str, int]]:
    """Each annotation's new category id (-1: dropped), which annotations and images stay, and
    how many of each went for each reason."""
    old_ids = np.array(sorted(plan.target), np.int64)
    new_ids = np.array([-1 if plan.target[i] is None else plan.target[i] for i in old_ids])
    categories = new_ids[np.searchsorted(old_ids, columns.category_ids)]
    removed: dict[str, int] = {}
    keep_annotation = categories >= 0
    removed["class"] = int((~keep_annotation).sum())
    if min_area is not None:
        small = keep_annotation & (columns.areas < min_area)
        removed["min_area"] = int(small.sum())
        keep_annotation &= ~small
    keep_image, images_removed = _images_kept(
        np.bincount(columns.image_pos[keep_annotation], minlength=len(source.images)) > 0,
        drop_empty,
        max_images,
        seed,
    )
    on_removed = keep_annotation & ~keep_image[columns.image_pos]
    removed["image"] = int(on_removed.sum())
    keep_annotation &= ~on_removed
    return categories, keep_annotation, keep_image, removed, images_removed


def _images_kept(
    annotated: np.ndarray, drop_empty: bool, max_images: int | None, seed: int
) -> tuple[np.ndarray, dict[str, int]]:
    """Which images stay, and how many went for each reason.

    >>> kept, removed = _images_kept(np.array([True, False, True, True]), True, 2, seed=0)
    >>> int(kept.sum()), bool(kept[1]), removed
    (2, False, {'empty': 1, 'max_images': 1})
    """
    keep = np.ones(len(annotated), bool)
    removed = {}
    if drop_empty:
        keep &= annotated
        removed["empty"] = int((~annotated).sum())
    if max_images is not None:
        candidates = np.flatnonzero(keep)
        if len(candidates) > max_images:
            chosen = np.random.default_rng(seed).choice(candidates, max_images, replace=False)
            keep[:] = False
            keep[chosen] = True
        removed["max_images"] = len(candidates) - int(keep.sum())
    return keep, removed

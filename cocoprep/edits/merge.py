"""Merge COCO files into one: categories unified by name, colliding ids renumbered.

The first file's category ids are kept; a class first seen in a later file gets the next id
after the largest so far. Image and annotation ids are kept where no earlier file uses them,
and the colliding ones get new ids after the largest of all inputs; every annotation follows
its image and class. An image whose ``file_name`` an earlier input has too follows
``on_duplicate``: ``error`` (naming both files), ``skip`` (the later image and its annotations
are left out) or ``keep-both`` (one image, the earlier record, with the annotations of both).
The output keeps the first file's top-level keys (``info``, ``licenses``, …) and copies every
object it does not change byte for byte.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cocoprep.edits._output import Edits, Target, write_annotations, write_cocos
from cocoprep.edits._source import Columns, Source, open_source, rewrite
from cocoprep.errors import InputError
from cocoprep.outputs import check_outputs
from cocoprep.progress import Progress, bar

ON_DUPLICATE = ("error", "skip", "keep-both")


@dataclass(frozen=True)
class MergedInput:
    """What one input brought to a merge."""

    path: str
    images: int
    annotations: int
    images_renumbered: int = 0
    annotations_renumbered: int = 0
    categories_added: int = 0
    #: Images whose file_name an earlier input has (skipped, or joined to the earlier one).
    duplicates: int = 0


@dataclass
class MergeSummary:
    """What :func:`merge` wrote."""

    output: str
    inputs: list[MergedInput]
    images: int
    annotations: int
    categories: int
    on_duplicate: str = "error"

    def format(self) -> str:
        """The summary as lines of text for the command line."""
        lines = [
            f"merge -> {self.output}: {self.images} images, {self.annotations} annotations, "
            f"{self.categories} categories"
        ]
        for part in self.inputs:
            notes = []
            if part.images_renumbered or part.annotations_renumbered:
                notes.append(
                    f"renumbered {part.images_renumbered} image and "
                    f"{part.annotations_renumbered} annotation ids"
                )
            if part.categories_added:
                notes.append(f"{part.categories_added} new categories")
            if part.duplicates:
                verb = "skipped" if self.on_duplicate == "skip" else "joined"
                notes.append(f"{part.duplicates} duplicate images {verb}")
            extra = f" ({'; '.join(notes)})" if notes else ""
            lines.append(
                f"  {part.path}: {part.images} images, {part.annotations} annotations{extra}"
            )
        return "\n".join(lines)


@dataclass
class _Ids:
    """Ids handed out so far (sorted), and the next new one.

    >>> ids = _Ids(np.array([1, 2, 5]), next_id=9)
    >>> ids.assign(np.array([5, 3, 1])).tolist(), ids.next_id
    ([9, 3, 10], 11)
    """

    used: np.ndarray
    next_id: int

    def assign(self, ids: np.ndarray) -> np.ndarray:
        """``ids`` with those already used replaced by new ones (in order); all become used."""
        new = ids.copy()
        # ``used`` is kept sorted: a binary search instead of np.isin, whose hashing took
        # seconds for a million ids.
        at = np.minimum(np.searchsorted(self.used, ids), max(len(self.used) - 1, 0))
        collide = self.used[at] == ids if len(self.used) else np.zeros(len(ids), bool)
        new[collide] = self.next_id + np.arange(int(collide.sum()))
        self.next_id += int(collide.sum())
        self.used = np.sort(np.concatenate([self.used, new]))
        return new


def unify_categories(
    category_lists: Sequence[Sequence[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[dict[int, int]], list[int]]:
    """One category list by name; for each input, its ids' new ids and how many categories it
    added.

    >>> cats, maps, added = unify_categories(
    ...     [[{"id": 1, "name": "cat"}], [{"id": 1, "name": "dog"}, {"id": 7, "name": "cat"}]])
    >>> cats, maps, added
    ([{'id': 1, 'name': 'cat'}, {'id': 2, 'name': 'dog'}], [{1: 1}, {1: 2, 7: 1}], [0, 1])
    """
    unified = list(category_lists[0])
    by_name: dict[str, int] = {}
    for category in unified:
        by_name.setdefault(category["name"], category["id"])
    maps = [{c["id"]: c["id"] for c in unified}]
    added = [0]
    for categories in category_lists[1:]:
        mapping, before = {}, len(unified)
        for category in categories:
            if category["name"] not in by_name:
                new = dict(category)
                new["id"] = max((c["id"] for c in unified), default=0) + 1
                unified.append(new)
                by_name[category["name"]] = new["id"]
            mapping[category["id"]] = by_name[category["name"]]
        maps.append(mapping)
        added.append(len(unified) - before)
    return unified, maps, added


def _image_key(image: dict[str, Any]) -> str | None:
    name = image.get("file_name") or image.get("coco_url")
    return name if isinstance(name, str) else None


def merge(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    on_duplicate: str = "error",
    progress: Progress = None,
) -> MergeSummary:
    """Merge the COCO files ``inputs`` into ``out`` (see the module docstring).

    Parameters
    ----------
    inputs
        COCO JSON files, in the order their images and annotations are written.
    out
        The file to write (never an input).
    on_duplicate
        ``error``, ``skip`` or ``keep-both``: what to do with an image whose ``file_name`` an
        earlier input has.
    progress
        Progress bars (see :mod:`cocoprep.progress`).

    Examples
    --------
    >>> merge(["job1.json", "job2.json"], "all.json", on_duplicate="keep-both")  # doctest: +SKIP
    """
    if on_duplicate not in ON_DUPLICATE:
        msg = (
            f"on_duplicate {on_duplicate!r}: expected one of {', '.join(ON_DUPLICATE)}; "
            "fix {on_duplicate}"
        )
        raise InputError(msg, params=["on_duplicate"])
    paths, out = [Path(p) for p in inputs], Path(out)
    if not paths:
        msg = "no inputs: expected COCO files to merge; pass {inputs}"
        raise InputError(msg, params=["inputs"])
    check_outputs(paths, [out], "out")
    with contextlib.ExitStack() as stack:
        sources = [stack.enter_context(open_source(p)) for p in paths]
        columns = [s.columns(("id",)) for s in sources]
        categories, category_maps, added = unify_categories([s.categories for s in sources])
        image_ids = _Ids(np.empty(0, np.int64), 1 + max(_max(s.table.ids) for s in sources))
        annotation_ids = _Ids(np.empty(0, np.int64), 1 + max(_max(c.ids) for c in columns))
        seen: dict[str, tuple[Path, int, dict[str, Any]]] = {}
        texts: list[bytes] = []
        plans, merged = [], []
        for source, found, category_map, new_categories in zip(
            sources, columns, category_maps, added, strict=True
        ):
            new_image_ids, duplicates, renumbered = _place_images(
                source, seen, on_duplicate, image_ids, texts
            )
            route, edits = _plan_annotations(found, new_image_ids, category_map, annotation_ids)
            plans.append((route, edits))
            merged.append(
                MergedInput(
                    path=str(source.path),
                    images=len(source.images),
                    annotations=len(found),
                    images_renumbered=renumbered,
                    annotations_renumbered=int(
                        ((edits.values["id"] != found.ids) & (route >= 0)).sum()
                    ),
                    categories_added=new_categories,
                    duplicates=duplicates,
                )
            )
        target = Target(path=out, top=sources[0].top, image_texts=texts, categories=categories)
        with (
            write_cocos([target]) as writers,
            bar(progress, total=sum(map(len, columns)), desc="merge", unit="annotations") as shown,
        ):
            for source, (route, edits) in zip(sources, plans, strict=True):
                write_annotations(source.chunks(), writers, route, edits=edits, shown=shown)
    return MergeSummary(
        output=str(out),
        inputs=merged,
        images=len(texts),
        annotations=sum(int((route >= 0).sum()) for route, _ in plans),
        categories=len(categories),
        on_duplicate=on_duplicate,
    )


def _max(ids: np.ndarray | None) -> int:
    return int(ids.max(initial=0)) if ids is not None else 0


def _place_images(
    source: Source,
    seen: dict[str, tuple[Path, int, dict[str, Any]]],
    on_duplicate: str,
    ids: _Ids,
    texts: list[bytes],
) -> tuple[np.ndarray, int, int]:
    """Each image's id in the output (-1: skipped), its text appended to ``texts`` and its
    name to ``seen`` unless it is a duplicate; and the numbers of duplicates and of renumbered
    images."""
    new_ids = np.full(len(source.images), -1, np.int64)
    fresh = []
    for i, image in enumerate(source.images):
        earlier = seen.get(_image_key(image) or "")
        if earlier is None:
            fresh.append(i)
            continue
        path, earlier_id, record = earlier
        if on_duplicate == "error" or (
            on_duplicate == "keep-both"
            and (record.get("width"), record.get("height"))
            != (image.get("width"), image.get("height"))
        ):
            sizes = "" if on_duplicate == "error" else " with another size"
            msg = (
                f"{source.path}: image {_image_key(image)!r} is also in {path}{sizes}; expected "
                "each image in one input; set {on_duplicate} to skip or keep-both"
            )
            raise InputError(msg, path=source.path, params=["on_duplicate"])
        if on_duplicate == "keep-both":
            new_ids[i] = earlier_id
    fresh_ids = source.table.ids[fresh]
    new_ids[fresh] = ids.assign(fresh_ids)
    renumbered = 0
    for i, old, new in zip(fresh, fresh_ids.tolist(), new_ids[fresh].tolist(), strict=True):
        text = source.image_texts[i]
        texts.append(text if old == new else rewrite(text, {"id": new}))
        renumbered += old != new
    for i in fresh:
        key = _image_key(source.images[i])
        if key is not None:
            seen.setdefault(key, (source.path, int(new_ids[i]), source.images[i]))
    return new_ids, len(source.images) - len(fresh), renumbered


def _plan_annotations(
    found: Columns,
    new_image_ids: np.ndarray,
    category_map: dict[int, int],
    ids: _Ids,
) -> tuple[np.ndarray, Edits]:
    """Where each annotation goes (0: the output, -1: left out with its image), and its new
    fields."""
    image_ids = new_image_ids[found.image_pos]
    route = np.where(image_ids >= 0, 0, -1)
    old = np.array(sorted(category_map), np.int64)
    new = np.array([category_map[i] for i in old.tolist()], np.int64)
    category_ids = new[np.searchsorted(old, found.category_ids)]
    assert found.ids is not None
    annotation_ids = found.ids.copy()
    kept = route >= 0
    annotation_ids[kept] = ids.assign(found.ids[kept])
    changed = (
        (annotation_ids != found.ids)
        | (image_ids != found.image_ids)
        | (category_ids != found.category_ids)
    )
    values = {"id": annotation_ids, "image_id": image_ids, "category_id": category_ids}
    return route, Edits(changed=changed, values=values)

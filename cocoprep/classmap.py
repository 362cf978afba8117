"""One class map per dataset root: COCO category ids to dense YOLO class indices.

The map is dense by sorted category id (0..N-1), which on COCO equals Ultralytics' 91→80 table
and on any other dataset is still right. It is computed from the union of the categories of all
input files and kept in a small record, ``ROOT/cocoprep.json`` (:mod:`cocoprep.layout`), that
later runs into the same root reuse, so converting train today and val tomorrow gives the same ids.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cocoprep.errors import ConflictError, InputError


@dataclass(frozen=True)
class ClassMap:
    """Category ids in class-index order, their names, and whether a selection made them."""

    category_ids: tuple[int, ...]
    names: tuple[str, ...]
    selected: bool = False

    def index_of(self) -> dict[int, int]:
        """``{category_id: class_index}``."""
        return {cid: i for i, cid in enumerate(self.category_ids)}

    def names_by_index(self) -> dict[int, str]:
        """``{class_index: name}``, as the dataset yaml wants it."""
        return dict(enumerate(self.names))


def union_categories(
    files: Iterable[tuple[str, Sequence[dict[str, Any]]]],
    absent: Callable[[str, int], bool] | None = None,
    selected: Collection[str] | None = None,
) -> dict[int, str]:
    """Merge ``(file, categories)`` pairs into ``{id: name}``, refusing a renamed id.

    ``absent(file, id)`` leaves out a category no annotation of that file uses (a placeholder,
    an unused one), so its name cannot conflict. With ``selected`` class names, an id renamed
    between files conflicts only when one of its names is selected: an annotation of the other
    file would otherwise take the selected class.

    >>> union_categories([("a", [{"id": 3, "name": "cat"}]), ("b", [{"id": 1, "name": "dog"}])])
    {1: 'dog', 3: 'cat'}
    >>> union_categories([("a", [{"id": 1, "name": "x"}]), ("b", [{"id": 1, "name": "y"}])],
    ...                  selected=["z"])
    {1: 'x'}
    """
    merged: dict[int, str] = {}
    origin: dict[int, str] = {}
    for source, categories in files:
        for category in categories:
            cid, name = category["id"], category["name"]
            if absent is not None and absent(source, cid):
                continue
            if cid in merged and merged[cid] != name:
                if selected is not None and not {name, merged[cid]} & set(selected):
                    continue
                msg = (
                    f"category id {cid} is {merged[cid]!r} in {origin[cid]} but {name!r} in "
                    f"{source}; one id must name one class: fix the files, convert them into "
                    "separate roots, or leave the id out with {classes} naming only other "
                    "classes (or {drop_unused_categories} if no annotation uses it)"
                )
                raise InputError(msg, params=["classes", "drop_unused_categories"])
            merged.setdefault(cid, name)
            origin.setdefault(cid, source)
    return dict(sorted(merged.items()))


def placeholder_category(categories: Sequence[dict[str, Any]]) -> tuple[int, str] | None:
    """``(id, name)`` of a placeholder category: supercategory ``none`` and named as the
    supercategory of every other category (Roboflow names one after the project), else None.
    Whether an annotation uses it is for the caller to check.

    >>> placeholder_category([{"id": 0, "name": "pets", "supercategory": "none"},
    ...                       {"id": 1, "name": "cat", "supercategory": "pets"}])
    (0, 'pets')
    >>> placeholder_category([{"id": 1, "name": "cat", "supercategory": "none"}]) is None
    True
    """
    for category in categories:
        if category.get("supercategory") != "none":
            continue
        others = [c for c in categories if c is not category]
        if others and all(c.get("supercategory") == category["name"] for c in others):
            return category["id"], category["name"]
    return None


def dense_map(categories: dict[int, str]) -> ClassMap:
    """The default map: every category, dense by sorted id.

    >>> dense_map({90: "toothbrush", 1: "person"}).index_of()
    {1: 0, 90: 1}
    """
    ids = tuple(sorted(categories))
    return ClassMap(category_ids=ids, names=tuple(categories[i] for i in ids))


def select_classes(categories: dict[int, str], wanted: Sequence[str]) -> ClassMap:
    """Keep only the named classes, re-indexed in the order given.

    >>> select_classes({1: "person", 3: "car"}, ["car", "person"]).category_ids
    (3, 1)
    """
    by_name: dict[str, int] = {}
    for cid, name in categories.items():
        by_name.setdefault(name, cid)
    missing = [name for name in wanted if name not in by_name]
    if missing:
        known = ", ".join(sorted(by_name)[:20])
        msg = f"{{classes}} names {', '.join(missing)} not among the categories ({known}, …)"
        raise InputError(msg, params=["classes"])
    if len(set(wanted)) != len(wanted):
        msg = f"{{classes}} lists a class twice: {', '.join(wanted)}"
        raise InputError(msg, params=["classes"])
    ids = tuple(by_name[name] for name in wanted)
    return ClassMap(category_ids=ids, names=tuple(wanted), selected=True)


def map_from_record(record: dict[str, Any]) -> ClassMap:
    """The class map a record holds."""
    classes = record["classes"]
    return ClassMap(
        category_ids=tuple(int(c["id"]) for c in classes),
        names=tuple(str(c["name"]) for c in classes),
        selected=bool(record.get("selected", False)),
    )


def resolve_class_map(
    categories: dict[int, str],
    record: dict[str, Any] | None,
    classes: Sequence[str] | None,
    record_path: str | os.PathLike,
) -> ClassMap:
    """The class map for this run: ``classes`` when given, else the record's (read from
    ``record_path``), else dense.

    A category of the input that the record names differently, or that an unselected record
    lacks, is an error: reusing the map would silently give wrong or missing classes.
    """
    if classes:
        return select_classes(categories, classes)
    if record is None:
        return dense_map(categories)
    existing = map_from_record(record)
    recorded = dict(zip(existing.category_ids, existing.names, strict=True))
    for cid, name in categories.items():
        if cid in recorded and recorded[cid] != name:
            msg = (
                f"category id {cid} is {name!r} in the input but {recorded[cid]!r} in "
                f"{record_path}; pass {{classes}} to set a new class map or use a new root"
            )
            raise ConflictError(msg, path=record_path, params=["classes"])
        if cid not in recorded and not existing.selected:
            msg = (
                f"category {cid} {name!r} is not in the class map of {record_path} "
                f"({len(recorded)} classes); pass {{classes}} to set a new map or use a new root"
            )
            raise ConflictError(msg, path=record_path, params=["classes"])
    return existing

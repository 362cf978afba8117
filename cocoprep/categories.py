"""Which categories of COCO files enter the class map: not a placeholder (Roboflow's project
category, :func:`cocoprep.classmap.placeholder_category`, when no annotation uses it), not an
unused one when those are dropped; the annotations are parsed for the ids they use, nothing
more. Convert and yaml settle the categories of their files here, the same way."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from cocoprep import classmap, coco
from cocoprep.parallel import run_in_order


def file_categories(
    opened: list[coco.CocoFile], workers: int, drop_unused: bool, classes: Sequence[str] | None
) -> tuple[dict[int, str], dict[str, tuple[int, str]], set[int] | None]:
    """The categories of the files as ``{id: name}`` (placeholders left out, and the unused
    ones when ``drop_unused``; an error for an id renamed between files, see
    :func:`classmap.union_categories`), the placeholders by file, and the ids in use
    (``drop_unused`` only)."""
    used_by_file = _used_ids_by_file(opened, workers, drop_unused)
    placeholders = _placeholders(opened, used_by_file)
    absent = partial(_absent, placeholders, used_by_file if drop_unused else None)
    categories = classmap.union_categories(
        ((str(c.path), c.categories) for c in opened), absent, selected=classes or None
    )
    used_ids = set().union(*used_by_file.values()) if drop_unused else None
    return categories, placeholders, used_ids


def _used_ids_by_file(
    opened: list[coco.CocoFile], workers: int, every: bool
) -> dict[str, set[int]]:
    """``{file: category ids its annotations use}``, for every file when ``every``, else for the
    files that have a placeholder category (a parse-only pass each)."""
    return {
        str(f.path): _used_category_ids([f], workers)
        for f in opened
        if every or classmap.placeholder_category(f.categories) is not None
    }


def _placeholders(
    opened: list[coco.CocoFile], used_by_file: dict[str, set[int]]
) -> dict[str, tuple[int, str]]:
    """``{file: (id, name)}`` of each file's placeholder category
    (:func:`classmap.placeholder_category`) that no annotation of the file uses."""
    found = {}
    for coco_file in opened:
        candidate = classmap.placeholder_category(coco_file.categories)
        if candidate is not None and candidate[0] not in used_by_file[str(coco_file.path)]:
            found[str(coco_file.path)] = candidate
    return found


def _absent(
    placeholders: dict[str, tuple[int, str]],
    used_by_file: dict[str, set[int]] | None,
    source: str,
    cid: int,
) -> bool:
    """Whether category ``cid`` of file ``source`` stays out of the class map: the file's unused
    placeholder, or (``used_by_file`` given: unused categories dropped) used by none of its
    annotations."""
    if placeholders.get(source, (None,))[0] == cid:
        return True
    return used_by_file is not None and cid not in used_by_file[source]


def _used_category_ids(opened: list[coco.CocoFile], workers: int) -> set[int]:
    """Category ids some annotation of the files uses (a parse-only pass)."""
    used: set[int] = set()
    for coco_file in opened:
        if coco_file.annotations is not None:
            used.update(a.get("category_id") for a in coco_file.annotations if isinstance(a, dict))
            continue
        ranges = coco_file.annotation_ranges or []
        jobs = [(str(coco_file.path), s, e) for s, e in ranges]
        sizes = [e - s for s, e in ranges]
        for ids in run_in_order(coco.category_ids_in_range, jobs, sizes, workers=workers):
            used.update(ids.tolist())
    return used

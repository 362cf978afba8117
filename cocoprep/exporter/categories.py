"""The COCO categories of an export and the category id of each YOLO class index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cocoprep.errors import InputError

#: COCO's person keypoints, in the order of ``person_keypoints_*.json`` (and Ultralytics' 17).
PERSON_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
#: COCO's person skeleton (1-based keypoint numbers).
PERSON_SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9),
    (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip


def with_keypoints(
    category: dict[str, Any], kpt_shape: tuple[int, int] | None, names: Sequence[str] | None
) -> dict[str, Any]:
    """``category`` with ``keypoints`` and ``skeleton`` for a pose export: its own when it has
    them, else ``names`` (COCO's person names for 17 keypoints) and COCO's skeleton when they are
    COCO's person keypoints.

    >>> with_keypoints({"id": 1, "name": "person"}, (17, 3), None)["skeleton"][0]
    [16, 14]
    >>> with_keypoints({"id": 1, "name": "hand"}, (2, 3), None)
    {'id': 1, 'name': 'hand', 'keypoints': ['kp0', 'kp1'], 'skeleton': []}
    """
    if kpt_shape is None or category.get("keypoints"):
        return category
    count = kpt_shape[0]
    if names is None or len(names) != count:
        names = PERSON_KEYPOINTS if count == len(PERSON_KEYPOINTS) else None
    names = list(names) if names is not None else [f"kp{i}" for i in range(count)]
    person = tuple(names) == PERSON_KEYPOINTS
    skeleton = [list(pair) for pair in PERSON_SKELETON] if person else []
    return {**category, "keypoints": names, "skeleton": skeleton}


def foreign_categories(names: Mapping[int, str]) -> list[dict[str, Any]]:
    """Categories of a YOLO dataset without a record: id = class index + 1, in index order.

    >>> foreign_categories({0: "cat", 1: "dog"})
    [{'id': 1, 'name': 'cat'}, {'id': 2, 'name': 'dog'}]
    """
    return [{"id": index + 1, "name": name} for index, name in sorted(names.items())]


def recorded_categories(
    classes: Sequence[dict[str, Any]], originals: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Categories in class-index order from a record's ``classes`` (``{id, name}``), each the
    original COCO category of that id when known (supercategory, keypoints, skeleton).

    >>> recorded_categories([{"id": 3, "name": "car"}], [{"supercategory": "v", "id": 3,
    ...                     "name": "car"}])
    [{'supercategory': 'v', 'id': 3, 'name': 'car'}]
    """
    by_id = {c.get("id"): c for c in originals}
    out = []
    for entry in classes:
        original = by_id.get(entry["id"])
        out.append(dict(original) if original else {"id": entry["id"], "name": entry["name"]})
    return out


def like_categories(
    categories: Sequence[dict[str, Any]], names: Mapping[int, str] | None, source: str
) -> list[dict[str, Any]]:
    """Categories of a ``like`` COCO file in class-index order: matched to the dataset's class
    ``names`` by name when every name is among them, else dense by sorted id as ``convert``
    numbers classes.

    >>> cats = [{"id": 5, "name": "dog"}, {"id": 2, "name": "cat"}]
    >>> [c["id"] for c in like_categories(cats, None, "gt.json")]
    [2, 5]
    >>> [c["id"] for c in like_categories(cats, {0: "dog", 1: "cat"}, "gt.json")]
    [5, 2]
    """
    by_name: dict[str, dict[str, Any]] = {}
    for category in categories:
        by_name.setdefault(str(category.get("name")), category)
    if names and all(name in by_name for name in names.values()):
        if sorted(names) != list(range(len(names))):
            msg = f"{source}: class indices must run 0..N-1, found {sorted(names)}"
            raise InputError(msg)
        return [dict(by_name[names[i]]) for i in range(len(names))]
    return [dict(c) for c in sorted(categories, key=lambda c: c["id"])]

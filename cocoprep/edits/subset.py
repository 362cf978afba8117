"""Pure COCO edits for class subsets: class names to ids, which images, the subset's COCO."""

from __future__ import annotations

import random
from collections.abc import Sequence

from cocoprep.errors import InputError


def category_ids(coco: dict, names: Sequence[str]) -> list[int]:
    """COCO category ids for class ``names`` (case-insensitive), in the given order.

    Examples
    --------
    >>> category_ids({"categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]},
    ...              ["Dog", "person"])
    [18, 1]
    """
    by_name = {c["name"].lower(): c["id"] for c in coco.get("categories", [])}
    unknown = [n for n in names if n.strip().lower() not in by_name]
    if unknown:
        known = ", ".join(sorted(by_name))
        message = (
            f"classes {', '.join(unknown)}: expected category names of the annotations "
            f"({known}), found no match; check the spelling"
        )
        raise InputError(message)
    return [by_name[n.strip().lower()] for n in names]


def select_images(
    coco: dict, category_ids: Sequence[int], *, max_images: int | None = None, seed: int = 0
) -> list[int]:
    """Image ids holding every one of ``category_ids`` first, then those holding any.

    Each group is shuffled with ``seed`` before ``max_images`` are taken, so a fixed seed picks
    the same images on every run.

    Examples
    --------
    >>> coco = {"images": [{"id": i} for i in (1, 2, 3, 4)],
    ...         "annotations": [{"image_id": i, "category_id": c}
    ...                         for i, c in ((1, 5), (2, 5), (2, 7), (3, 9))]}
    >>> select_images(coco, [5, 7], max_images=2)[0]
    2
    >>> sorted(select_images(coco, [5, 7]))
    [1, 2]
    """
    wanted = set(category_ids)
    found: dict[int, set[int]] = {}
    for annotation in coco["annotations"]:
        if annotation["category_id"] in wanted:
            found.setdefault(annotation["image_id"], set()).add(annotation["category_id"])
    order = [image["id"] for image in coco["images"] if image["id"] in found]
    every = [i for i in order if found[i] == wanted]
    some = [i for i in order if found[i] != wanted]
    rng = random.Random(seed)
    rng.shuffle(every)
    rng.shuffle(some)
    chosen = every + some
    return chosen if max_images is None else chosen[:max_images]


def subset_coco(coco: dict, image_ids: Sequence[int], category_ids: Sequence[int]) -> dict:
    """A copy of ``coco`` keeping ``image_ids`` and their annotations of ``category_ids``.

    ``categories`` stay complete, so class indices match the full data set.
    """
    keep, classes = set(image_ids), set(category_ids)
    subset = dict(coco)
    subset["images"] = [image for image in coco["images"] if image["id"] in keep]
    subset["annotations"] = [
        a for a in coco["annotations"] if a["image_id"] in keep and a["category_id"] in classes
    ]
    return subset

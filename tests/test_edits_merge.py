"""Tests for cocoprep.edits.merge: categories by name, colliding ids, duplicate images."""

from __future__ import annotations

import json

import pytest

from cocoprep.converter import convert
from cocoprep.edits.merge import merge
from cocoprep.edits.split import split
from cocoprep.errors import InputError, UnsafePathError

from builders import image, label_rows, polygon_annotation, skewed_coco, square, write


def _facts(data: dict) -> list[tuple]:
    """Each annotation as (its image's file name, its class name, its box): what must survive."""
    names = {c["id"]: c["name"] for c in data["categories"]}
    files = {i["id"]: i["file_name"] for i in data["images"]}
    return sorted(
        (files[a["image_id"]], names[a["category_id"]], tuple(a["bbox"]))
        for a in data["annotations"]
    )


def _job(prefix: str, categories: list[dict], seed: int) -> dict:
    """A file with ids 1.. (so two of them collide) and its own category ids."""
    data = skewed_coco(n_images=40, n_classes=len(categories), seed=seed)
    old = [c["id"] for c in data["categories"]]
    data["categories"] = categories
    by_old = {o: c["id"] for o, c in zip(old, categories, strict=True)}
    new_ids = {record["id"]: n for n, record in enumerate(data["images"], start=1)}
    for record in data["images"]:
        record["id"] = new_ids[record["id"]]
        record["file_name"] = f"{prefix}_{record['file_name']}"
    for n, annotation in enumerate(data["annotations"], start=1):
        annotation["id"] = n
        annotation["image_id"] = new_ids[annotation["image_id"]]
        annotation["category_id"] = by_old[annotation["category_id"]]
    return data


CATS_A = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
CATS_B = [{"id": 1, "name": "dog"}, {"id": 5, "name": "bird"}, {"id": 2, "name": "cat"}]


def test_colliding_ids_are_renumbered_and_classes_unified_by_name(tmp_path):
    a, b = _job("a", CATS_A, seed=1), _job("b", CATS_B, seed=2)
    paths = [write(tmp_path / "a.json", a), write(tmp_path / "b.json", b)]
    summary = merge(paths, tmp_path / "all.json")
    found = json.loads((tmp_path / "all.json").read_text())
    assert found["categories"] == [*CATS_A, {"id": 3, "name": "bird"}]
    assert _facts(found) == sorted(_facts(a) + _facts(b))
    image_ids = [i["id"] for i in found["images"]]
    annotation_ids = [x["id"] for x in found["annotations"]]
    assert len(set(image_ids)) == len(image_ids) == 80
    assert len(set(annotation_ids)) == len(annotation_ids)
    assert found["images"][:40] == a["images"]  # the first file's ids kept
    assert found["annotations"][: len(a["annotations"])] == a["annotations"]
    assert min(image_ids[40:]) > 40  # new ids after the largest
    assert summary.inputs[1].images_renumbered == 40
    assert summary.inputs[1].annotations_renumbered == len(b["annotations"])
    assert summary.inputs[1].categories_added == 1
    assert "renumbered 40 image" in summary.format()


def test_files_without_collisions_are_copied_unchanged(tmp_path):
    data = skewed_coco(n_images=90, seed=4)
    whole = write(tmp_path / "instances_all.json", data)
    split(whole, tmp_path / "parts", [0.5, 0.3, 0.2], seed=1)
    parts = [tmp_path / "parts" / f"instances_{n}.json" for n in ("train", "val", "test")]
    summary = merge(parts, tmp_path / "again.json")
    found = json.loads((tmp_path / "again.json").read_text())
    assert list(found) == list(data)
    assert sorted(found["images"], key=lambda i: i["id"]) == data["images"]
    assert sorted(found["annotations"], key=lambda x: x["id"]) == data["annotations"]
    assert not any(p.images_renumbered or p.annotations_renumbered for p in summary.inputs)


@pytest.mark.parametrize(
    ("on_duplicate", "images", "extra_annotations"), [("skip", 40, 0), ("keep-both", 40, 1)]
)
def test_duplicate_file_names_follow_on_duplicate(
    tmp_path, on_duplicate, images, extra_annotations
):
    a = _job("a", CATS_A, seed=1)
    b = {**a, "annotations": a["annotations"][:1], "categories": CATS_B}
    b["annotations"] = [{**b["annotations"][0], "category_id": 5}]  # a bird on a's first image
    paths = [write(tmp_path / "a.json", a), write(tmp_path / "b.json", b)]
    with pytest.raises(InputError) as caught:
        merge(paths, tmp_path / "all.json")
    message = str(caught.value)
    assert f"{paths[1]}: image 'a_v0000_f0.jpg' is also in {paths[0]}" in message
    assert "set on_duplicate= to skip or keep-both" in message
    summary = merge(paths, tmp_path / "all.json", on_duplicate=on_duplicate)
    found = json.loads((tmp_path / "all.json").read_text())
    assert len(found["images"]) == images
    assert len(found["annotations"]) == len(a["annotations"]) + extra_annotations
    assert summary.inputs[1].duplicates == 40
    if extra_annotations:
        bird = found["annotations"][-1]
        first = a["annotations"][0]
        assert (bird["image_id"], bird["category_id"]) == (first["image_id"], 3)
        assert bird["id"] not in {x["id"] for x in a["annotations"]}


def test_keep_both_needs_the_same_size(tmp_path):
    a = _job("a", CATS_A, seed=1)
    b = json.loads(json.dumps(a))
    b["images"][3]["width"] = 100
    paths = [write(tmp_path / "a.json", a), write(tmp_path / "b.json", b)]
    with pytest.raises(InputError, match=r"a_v0000_f3.jpg' is also in .* with another size"):
        merge(paths, tmp_path / "all.json", on_duplicate="keep-both")


def test_the_merge_converts_with_every_annotation_a_row(tmp_path):
    a, b = _job("a", CATS_A, seed=1), _job("b", CATS_B, seed=2)
    paths = [write(tmp_path / "a.json", a), write(tmp_path / "b.json", b)]
    merge(paths, tmp_path / "instances_train.json")
    summary = convert([tmp_path / "instances_train.json"], tmp_path / "root", task="detect")
    assert summary.classes == 3
    assert label_rows(tmp_path / "root") == len(a["annotations"]) + len(b["annotations"])


def test_bad_inputs_are_one_line_errors(tmp_path):
    data = {
        "images": [image(1)],
        "annotations": [polygon_annotation(1, 1, 1, square(1, 1, 5))],
        "categories": [{"id": 1, "name": "x"}],
    }
    path = write(tmp_path / "a.json", data)
    with pytest.raises(UnsafePathError, match=r"found the input .*a.json; pass another out="):
        merge([path, path], path)
    with pytest.raises(InputError, match="on_duplicate 'both': expected one of error, skip"):
        merge([path], tmp_path / "b.json", on_duplicate="both")
    with pytest.raises(InputError, match="no inputs"):
        merge([], tmp_path / "b.json")
    with pytest.raises(InputError, match=r"missing.json: no such file"):
        merge([path, tmp_path / "missing.json"], tmp_path / "b.json")
    broken = {**data, "annotations": [{"id": "one", "image_id": 1, "category_id": 1}]}
    with pytest.raises(InputError, match=r"annotations\[0\]: expected a 64-bit integer as id"):
        merge([path, write(tmp_path / "c.json", broken)], tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "c.json"]

"""Tests for cocoprep.edits.filter: each option alone and combined, against a plain reading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cocoprep.converter import convert
from cocoprep.edits.filter import filter_coco, parse_assignment, plan_categories
from cocoprep.errors import InputError, UnsafePathError

from builders import label_rows, skewed_coco, write


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict]:
    data = skewed_coco(n_images=300, n_classes=5, seed=7)
    return write(tmp_path_factory.mktemp("filter") / "instances_x.json", data), data


def _expected(data: dict, options: dict) -> dict:
    """What the options mean, spelled out on plain dicts (without max_images)."""
    names = {c["id"]: c["name"] for c in data["categories"]}
    ids = {c["name"]: c["id"] for c in data["categories"]}
    target = {i: i for i in names}
    for new, merged in options.get("merge", {}).items():
        for name in merged:
            target[ids[name]] = ids[merged[0]]
        names[ids[merged[0]]] = new
    for old, new in options.get("rename", {}).items():
        names[ids[old]] = new
    alive = set(target.values())
    if "keep" in options:
        alive = {i for i in alive if names[i] in options["keep"]}
    if "drop" in options:
        alive = {i for i in alive if names[i] not in options["drop"]}
    annotations = []
    for annotation in data["annotations"]:
        cid = target[annotation["category_id"]]
        if cid in alive and annotation["area"] >= options.get("min_area", 0):
            annotations.append({**annotation, "category_id": cid})
    used = {a["image_id"] for a in annotations}
    images = [i for i in data["images"] if not options.get("drop_empty") or i["id"] in used]
    categories = [{**c, "name": names[c["id"]]} for c in data["categories"] if c["id"] in alive]
    return {**data, "images": images, "annotations": annotations, "categories": categories}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"keep": ["class0", "class3"]},
        {"drop": ["class0"]},
        {"rename": {"class1": "bike", "class2": "class1"}},
        {"merge": {"vehicle": ["class1", "class2", "class4"]}},
        {"merge": {"class2": ["class2", "class4"]}},
        {"min_area": 900.0},
        {"drop_empty": True},
        {"keep": ["class0", "class1"], "drop_empty": True},
        {
            "merge": {"vehicle": ["class1", "class2"]},
            "rename": {"class0": "person"},
            "keep": ["vehicle", "person"],
            "min_area": 400.0,
            "drop_empty": True,
        },
        {"merge": {"vehicle": ["class1", "class2"]}, "drop": ["vehicle", "class3"]},
    ],
)
def test_each_option_alone_and_combined(source, tmp_path, options):
    path, data = source
    summary = filter_coco(path, tmp_path / "out.json", **options)
    found = json.loads((tmp_path / "out.json").read_text())
    expected = _expected(data, options)
    assert list(found) == list(data)
    assert found == expected
    assert summary.images == (len(data["images"]), len(expected["images"]))
    assert summary.annotations == (len(data["annotations"]), len(expected["annotations"]))
    removed = len(data["annotations"]) - len(expected["annotations"])
    assert sum(summary.annotations_removed.values()) == removed


def test_max_images_samples_by_seed_after_the_other_edits(source, tmp_path):
    path, data = source
    runs = {}
    for run, seed in (("a", 1), ("b", 1), ("c", 2)):
        summary = filter_coco(
            path,
            tmp_path / f"{run}.json",
            keep=["class4"],
            drop_empty=True,
            max_images=10,
            seed=seed,
        )
        runs[run] = (tmp_path / f"{run}.json").read_bytes()
    assert runs["a"] == runs["b"] and runs["a"] != runs["c"]
    found = json.loads(runs["c"])
    image_ids = [i["id"] for i in found["images"]]
    assert len(image_ids) == 10 and image_ids == sorted(image_ids)  # file order kept
    assert {a["image_id"] for a in found["annotations"]} == set(image_ids)
    assert all(a["category_id"] == 22 for a in found["annotations"])
    assert summary.images_removed["max_images"] > 0
    on_images = {i["id"] for i in data["images"]} & set(image_ids)
    expected = [
        a for a in data["annotations"] if a["image_id"] in on_images and a["category_id"] == 22
    ]
    assert found["annotations"] == expected


def test_summary_says_what_went_and_why(source, tmp_path):
    path, _ = source
    summary = filter_coco(
        path,
        tmp_path / "out.json",
        merge={"vehicle": ["class1", "class2"]},
        rename={"class0": "person"},
        drop=["class4"],
        min_area=1000,
        drop_empty=True,
        max_images=50,
    )
    text = summary.format()
    assert "of dropped classes" in text and "below min_area" in text
    assert "left empty" in text and "beyond max_images" in text
    assert "renamed class0 -> person" in text and "merged class1, class2 -> vehicle" in text
    assert "dropped class4" in text
    assert summary.images[1] == 50


def test_untouched_annotations_keep_their_bytes(tmp_path):
    data = skewed_coco(n_images=30, n_classes=3, seed=2)
    path = write(tmp_path / "instances_p.json", data, indent=1)
    filter_coco(path, tmp_path / "out.json", merge={"x": ["class0", "class1"]})
    text = (tmp_path / "out.json").read_text()
    for annotation in data["annotations"]:
        if annotation["category_id"] != 13:  # class2, and class0 which keeps its id
            assert json.dumps(annotation, indent=1).replace("\n", "\n  ") in text
        else:  # class1, merged into class0's id: written anew, in the same key order
            edited = {**annotation, "category_id": 10}
            assert json.dumps(edited, separators=(",", ":")) in text


def test_the_output_converts_with_the_expected_rows(source, tmp_path):
    path, data = source
    out = tmp_path / "instances_val.json"
    filter_coco(path, out, merge={"vehicle": ["class1", "class2"]}, drop=["class4"])
    summary = convert([out], tmp_path / "root", task="detect")
    kept = [a for a in data["annotations"] if a["category_id"] != 22]
    assert label_rows(tmp_path / "root") == len(kept)
    assert summary.classes == 3
    rows = (tmp_path / "root" / "labels" / "val").glob("*.txt")
    classes = {line.split()[0] for p in rows for line in p.read_text().splitlines()}
    assert classes == {"0", "1", "2"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keep": ["clas0"]}, "keep 'clas0': expected a class of the file (class0, class1,"),
        ({"drop": ["nope"]}, "drop 'nope': expected a class of the file"),
        ({"rename": {"nope": "x"}}, "rename 'nope': expected a class of the file"),
        ({"merge": {"x": ["class0", "nope"]}}, "merge 'nope': expected a class of the file"),
        ({"keep": ["class0"], "drop": ["class1"]}, "keep and drop both given"),
        ({"rename": {"class0": "class1"}}, "would both be named 'class1'; merge them with merge="),
        ({"merge": {"a": ["class0"], "b": ["class0", "class1"]}}, "a class is merged twice"),
        ({"merge": {"a": ["class0", "class1"]}, "rename": {"class1": "z"}}, "the class is merged"),
        ({"max_images": 0}, "max_images 0: expected a positive integer"),
        (
            {"merge": {"v": ["class1", "class2"]}, "drop": ["class1"]},
            "drop 'class1': expected a class as renamed or merged, found its old name; name it 'v'",
        ),
    ],
)
def test_bad_options_are_one_line_errors(source, tmp_path, options, message):
    path, _ = source
    with pytest.raises(InputError) as caught:
        filter_coco(path, tmp_path / "out.json", **options)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out.json").exists()


def test_the_output_is_never_the_input(source):
    path, _ = source
    with pytest.raises(UnsafePathError, match="pass another out="):
        filter_coco(path, path, keep=["class0"])


def test_min_area_needs_an_area(tmp_path):
    data = skewed_coco(n_images=5, seed=1)
    del data["annotations"][2]["area"]
    path = write(tmp_path / "instances_x.json", data)
    with pytest.raises(
        InputError, match=r"annotations\[2\]: expected a number as area, found None"
    ):
        filter_coco(path, tmp_path / "out.json", min_area=10)
    filter_coco(path, tmp_path / "out.json", drop=["class0"])  # without min_area it is not read


def test_parse_assignment_and_plans():
    assert parse_assignment("person=human", "rename") == (["person"], "human")
    with pytest.raises(InputError, match="rename 'person': expected OLD=NEW"):
        parse_assignment("person", "rename")
    cats = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    plan = plan_categories(cats, rename={"a": "b", "b": "a"}, keep=["a"])  # names as renamed
    assert plan.target == {1: None, 2: 2} and plan.categories == [{"id": 2, "name": "a"}]

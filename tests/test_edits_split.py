"""Tests for cocoprep.edits.split: complete, disjoint, balanced and deterministic splits."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cocoprep.converter import convert
from cocoprep.edits.split import check_ratios, split
from cocoprep.edits.stratify import Units, stratify
from cocoprep.errors import InputError, UnsafePathError

from builders import label_rows, skewed_coco, write


@pytest.fixture(scope="module")
def skewed(tmp_path_factory) -> tuple[Path, dict]:
    data = skewed_coco(n_images=1200, seed=3)
    return write(tmp_path_factory.mktemp("skewed") / "instances_all.json", data), data


def _load(out: Path, names) -> dict[str, dict]:
    return {n: json.loads((out / f"instances_{n}.json").read_text()) for n in names}


@pytest.mark.parametrize(
    ("ratios", "names", "options"),
    [
        ([0.8, 0.2], ("train", "val"), {}),
        ([0.7, 0.2, 0.1], ("train", "val", "test"), {}),
        ([0.7, 0.2, 0.1], ("train", "val", "test"), {"stratify": True}),
        ([0.5, 0.5], ("train", "val"), {"group_by": r"^(v\d+)_"}),
        ([0.6, 0.3, 0.1], ("a", "b", "c"), {"group_by": r"^(v\d+)_", "stratify": True}),
    ],
)
def test_every_image_in_exactly_one_split_with_its_annotations(
    skewed, tmp_path, ratios, names, options
):
    path, data = skewed
    given = None if names[0] == "train" else names
    summary = split(path, tmp_path, ratios, names=given, seed=5, **options)
    parts = _load(tmp_path, names)

    image_ids = [i["id"] for p in parts.values() for i in p["images"]]
    assert sorted(image_ids) == sorted(i["id"] for i in data["images"])
    annotations = {a["id"]: a for a in data["annotations"]}
    seen = []
    for name, part in parts.items():
        assert list(part) == list(data)  # the input's key order
        assert part["categories"] == data["categories"]
        assert part["info"] == data["info"] and part["licenses"] == data["licenses"]
        mine = {i["id"] for i in part["images"]}
        assert all(a["image_id"] in mine for a in part["annotations"])
        assert all(a == annotations[a["id"]] for a in part["annotations"])  # untouched
        seen += [a["id"] for a in part["annotations"]]
        share = len(part["images"]) / len(data["images"])
        assert share == pytest.approx(ratios[names.index(name)], abs=0.03)
    assert sorted(seen) == sorted(annotations)
    assert [p.images for p in summary.parts] == [len(p["images"]) for p in parts.values()]
    assert [p.name for p in summary.parts] == list(names)


def _class_shares(parts: dict[str, dict]) -> dict[str, dict[int, float]]:
    """For each class, the share of the images showing it that each split holds."""
    showing = {}
    for name, part in parts.items():
        pairs = {(a["image_id"], a["category_id"]) for a in part["annotations"]}
        showing[name] = Counter(c for _, c in pairs)
    classes = set().union(*showing.values())
    totals = {c: sum(s[c] for s in showing.values()) for c in classes}
    return {
        n: {c: s[c] / totals[c] for c in classes if totals[c] >= 60} for n, s in showing.items()
    }


def test_stratify_keeps_every_class_share_within_a_few_points(skewed, tmp_path):
    path, _ = skewed
    ratios = (0.7, 0.2, 0.1)
    split(path, tmp_path / "strat", list(ratios), stratify=True, seed=1)
    shares = _class_shares(_load(tmp_path / "strat", ("train", "val", "test")))
    for name, ratio in zip(("train", "val", "test"), ratios, strict=True):
        assert shares[name]  # the common classes are checked
        assert all(abs(s - ratio) <= 0.02 for s in shares[name].values()), (name, shares[name])


def test_stratify_with_groups_keeps_groups_and_balances(skewed, tmp_path):
    path, _ = skewed
    split(path, tmp_path, [0.7, 0.3], stratify=True, group_by=r"^(v\d+)_", seed=2)
    parts = _load(tmp_path, ("train", "val"))
    videos = {n: {i["file_name"].split("_")[0] for i in p["images"]} for n, p in parts.items()}
    assert not videos["train"] & videos["val"]
    shares = _class_shares(parts)
    assert all(abs(s - 0.3) <= 0.05 for s in shares["val"].values()), shares["val"]


@pytest.mark.parametrize("stratified", [False, True])
def test_same_seed_same_bytes_other_seed_other_split(skewed, tmp_path, stratified):
    path, _ = skewed
    texts = {}
    for run, seed in (("a", 4), ("b", 4), ("c", 5)):
        split(path, tmp_path / run, [0.8, 0.2], seed=seed, stratify=stratified)
        texts[run] = (tmp_path / run / "instances_val.json").read_bytes()
    assert texts["a"] == texts["b"]
    assert texts["a"] != texts["c"]


@pytest.mark.parametrize("nested", [False, True])
def test_objects_are_copied_byte_for_byte_from_a_pretty_printed_file(tmp_path, nested):
    data = skewed_coco(n_images=40, seed=1)
    if nested:  # objects inside an annotation: its chunk is parsed and written compact
        data["annotations"][0]["attributes"] = [{"occluded": False}, {"truncated": True}]
    path = write(tmp_path / "instances_pretty.json", data, indent=2)
    split(path, tmp_path / "out", [0.5, 0.5])
    parts = _load(tmp_path / "out", ("train", "val"))
    merged = [a for p in parts.values() for a in p["annotations"]]
    assert sorted(merged, key=lambda a: a["id"]) == data["annotations"]
    val = (tmp_path / "out" / "instances_val.json").read_text()
    for annotation in parts["val"]["annotations"]:
        pretty = json.dumps(annotation, indent=2).replace("\n", "\n    ")
        compact = json.dumps(annotation, separators=(",", ":"))
        assert (compact if nested else pretty) in val


def test_rare_classes_are_warned_about(tmp_path, caplog):
    data = skewed_coco(n_images=200, n_classes=3, seed=0)
    data["categories"].append({"id": 99, "name": "unicorn"})
    data["annotations"][0]["category_id"] = 99
    path = write(tmp_path / "instances_x.json", data)
    with caplog.at_level(logging.WARNING, logger="cocoprep"):
        summary = split(path, tmp_path / "out", [0.8, 0.2], stratify=True)
    assert summary.rare_classes == ["unicorn"]
    assert "unicorn (1)" in caplog.text
    assert "too rare" in summary.format()


def test_unmatched_file_names_are_groups_of_their_own(tmp_path, caplog):
    data = skewed_coco(n_images=20, seed=0)
    data["images"][0]["file_name"] = "loose.jpg"
    path = write(tmp_path / "instances_x.json", data)
    with caplog.at_level(logging.WARNING, logger="cocoprep"):
        summary = split(path, tmp_path / "out", [0.5, 0.5], group_by=r"^(v\d+)_")
    assert summary.groups == 6  # 5 videos of 4 frames, the loose image alone
    assert "1 of 20 file names do not match" in caplog.text


def test_the_splits_convert_with_every_annotation_a_row(skewed, tmp_path):
    path, data = skewed
    split(path, tmp_path / "ann", [0.7, 0.2, 0.1], stratify=True)
    summary = convert(sorted((tmp_path / "ann").glob("*.json")), tmp_path / "root", task="detect")
    assert sorted(s.split for s in summary.splits) == ["test", "train", "val"]
    assert label_rows(tmp_path / "root") == len(data["annotations"])
    assert sum(s.images for s in summary.splits) == len(data["images"])


@pytest.mark.parametrize(
    ("ratios", "names", "message"),
    [
        ([0.7, 0.2], None, "ratios 0.7, 0.2: expected ratios that sum to 1, found a sum of 0.9"),
        ([1.0], None, "expected at least two ratios"),
        ([1.2, -0.2], None, "expected positive numbers"),
        ([0.25] * 4, None, "4 ratios: expected a name for each; pass them with names="),
        ([0.5, 0.5], ["a"], "expected one name per ratio (2), found 1"),
        ([0.5, 0.5], ["a", "a"], "a name repeats"),
        ([0.5, 0.5], ["a", "../b"], "'../b' is not a file-name word"),
    ],
)
def test_bad_ratios_and_names_are_one_line_errors(ratios, names, message):
    with pytest.raises(InputError) as caught:
        check_ratios(ratios, names)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_inputs_are_one_line_errors(tmp_path, skewed):
    path, data = skewed
    with pytest.raises(UnsafePathError, match=r"found the input .*; pass another out="):
        split(path, path.parent, [0.5, 0.5], names=["all", "rest"])
    with pytest.raises(InputError, match=r"group_by '\(': expected a regular expression"):
        split(path, tmp_path, [0.5, 0.5], group_by="(")
    with pytest.raises(InputError, match="expected a capture group"):
        split(path, tmp_path, [0.5, 0.5], group_by="v")
    broken = json.loads(json.dumps(data))
    broken["annotations"][5]["image_id"] = 7
    bad = write(tmp_path / "instances_bad.json", broken)
    with pytest.raises(
        InputError, match=r"annotations\[5\]: expected an image_id among the file's"
    ):
        split(bad, tmp_path / "out", [0.5, 0.5])
    (tmp_path / "instances_junk.json").write_text('{"images": [], "annotations": [}')
    with pytest.raises(InputError, match="invalid JSON at line 1"):
        split(tmp_path / "instances_junk.json", tmp_path / "out", [0.5, 0.5])
    assert not list((tmp_path / "out").glob("*"))  # nothing half-written


def test_stratify_without_labels_gives_exact_sizes():
    units = Units.from_pairs(np.arange(101), np.empty(0, np.int64), np.empty(0, np.int64))
    parts = stratify(units, [0.7, 0.2, 0.1], 0, seed=3)
    assert np.bincount(parts).tolist() == [71, 20, 10]

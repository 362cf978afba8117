"""Tests of cocoprep.layout: the label-path rule, split names, the root's record and yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cocoprep import layout
from cocoprep.classmap import ClassMap
from cocoprep.errors import InputError


def test_label_path_replaces_the_last_images_folder():
    assert (
        layout.label_path(Path("/r"), "train/images/v1/a.jpg").as_posix()
        == "/r/images/train/labels/v1/a.txt"
    )


@pytest.mark.parametrize(
    ("relpath", "label"),
    [
        ("v/a.jpg", "/r/labels/v/a.txt"),
        ("a.b.png", "/r/labels/a.b.txt"),
        ("v/.h", "/r/labels/v/.h.txt"),
    ],
)
def test_label_file_matches_yolo_rule(relpath, label):
    assert layout.label_file("/r", relpath) == label
    assert layout.label_path(Path("/r"), relpath).as_posix() == label


def test_record_splits_merges_with_what_the_root_holds(tmp_path):
    class_map = ClassMap(category_ids=(1, 3), names=("person", "car"))
    layout.record_splits(tmp_path, class_map, "detect", {"val": {"source": "v.json", "images": 2}})
    record, yaml_path = layout.record_splits(
        tmp_path, class_map, "detect", {"train": {"source": "t.json", "images": 5}}
    )
    data = json.loads(record.read_text())
    assert list(data["splits"]) == ["val", "train"]
    assert data["classes"] == [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]
    text = yaml_path.read_text()
    assert "train: train.txt" in text and "val: val.txt" in text


def test_unreadable_record_is_an_input_error(tmp_path):
    (tmp_path / layout.RECORD_NAME).write_text("{not json")
    with pytest.raises(InputError, match="unreadable conversion record"):
        layout.read_record(tmp_path)

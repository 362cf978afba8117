"""Tests of cocoprep.yolo: label parsing, row kinds, label ↔ image paths, dataset yamls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cocoprep import yolo
from cocoprep.errors import InputError


def test_parse_labels_rows_and_lines():
    rows = yolo.parse_labels(b"0 0.5 0.5 0.2 0.2\r\n\n  3  0.1 0.1 0.2 0.1 0.2 0.2  \n")
    assert rows.classes.tolist() == [0.0, 3.0]
    assert rows.counts.tolist() == [4, 6]
    assert rows.lines.tolist() == [1, 3]
    assert rows.texts == [b"0 0.5 0.5 0.2 0.2", b"3 0.1 0.1 0.2 0.1 0.2 0.2"]
    assert rows.row(1).tolist() == [0.1, 0.1, 0.2, 0.1, 0.2, 0.2]
    assert rows.unparsable == []


def test_parse_labels_unparsable_line_has_no_row():
    rows = yolo.parse_labels(b"0 0.1 0.2 0.3 0.4\n1 0.1 abc 0.3 0.4\n")
    assert rows.unparsable == [(2, "abc")]
    assert rows.lines.tolist() == [1]


def test_parse_labels_empty_and_non_finite():
    assert len(yolo.parse_labels(b"")) == 0
    rows = yolo.parse_labels(b"0 nan inf 0.1 0.1\n")
    assert np.isnan(rows.values[0]) and np.isinf(rows.values[1])


def test_read_labels_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read the label file"):
        yolo.read_labels(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    ("counts", "kpt_shape", "expected"),
    [
        ([4, 6, 8, 5, 2, 0], None, ["box", "polygon", "polygon", "bad", "bad", "bad"]),
        ([4 + 17 * 3, 4, 6], (17, 3), ["pose", "bad", "bad"]),
        ([4 + 5 * 2], (5, 2), ["pose"]),
    ],
)
def test_row_kinds(counts, kpt_shape, expected):
    assert yolo.row_kinds(np.array(counts), kpt_shape).tolist() == expected


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("/d/images/val2017/a.jpg", "/d/labels/val2017/a.txt"),
        ("/d/images/x/images/b.png", "/d/images/x/labels/b.txt"),
        ("/d/pics/c.jpeg", "/d/pics/c.txt"),
    ],
)
def test_label_path_of(image, label):
    assert yolo.label_path_of(image).as_posix() == label


def test_images_dir_of():
    assert yolo.images_dir_of("/r/labels/train2017").as_posix() == "/r/images/train2017"
    assert yolo.images_dir_of("/r/lbl").as_posix() == "/r/images/lbl"


def test_image_and_label_files(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.jpg", "b.PNG", "c.txt", "sub/d.webp", "e.gif"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in yolo.image_files(tmp_path)] == ["a.jpg", "b.PNG", "d.webp"]
    assert [p.name for p in yolo.label_files(tmp_path)] == ["c.txt"]


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.yaml"
    path.write_text(text)
    return path


def test_read_dataset_yaml(tmp_path):
    spec = yolo.read_dataset_yaml(
        _yaml(
            tmp_path,
            "path: ds\ntrain: train.txt\nval: [images/val, v2.txt]\n"
            "names:\n  0: cat\n  1: dog\nkpt_shape: [17, 3]\n",
        )
    )
    assert spec.root == tmp_path / "ds"
    assert spec.names == {0: "cat", 1: "dog"} and spec.nc is None
    assert spec.splits == {
        "train": [tmp_path / "ds" / "train.txt"],
        "val": [tmp_path / "ds" / "images/val", tmp_path / "ds" / "v2.txt"],
    }
    assert spec.kpt_shape == (17, 3)


def test_read_dataset_yaml_list_names_and_absolute_path(tmp_path):
    spec = yolo.read_dataset_yaml(_yaml(tmp_path, f"path: {tmp_path}\nnames: [a, b]\nnc: 2\n"))
    assert spec.root == tmp_path and spec.names == {0: "a", 1: "b"} and spec.nc == 2


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("- a\n- b\n", "expected a mapping"),
        ("names: 3\n", "names must be a list"),
        ("names: [a]\nnc: two\n", "nc must be an integer"),
        ("names: [a\n", "cannot read the dataset yaml"),
    ],
)
def test_read_dataset_yaml_errors(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        yolo.read_dataset_yaml(_yaml(tmp_path, text))


def test_split_images_list_file_and_folder(tmp_path):
    images = tmp_path / "images" / "train"
    images.mkdir(parents=True)
    (images / "a.jpg").write_bytes(b"")
    (images / "b.jpg").write_bytes(b"")
    listing = tmp_path / "train.txt"
    listing.write_text("./images/train/a.jpg\n\nimages/train/b.jpg\n./images/train/zz.jpg\n")
    found, missing = yolo.split_images(listing)
    assert found == [images / "a.jpg", images / "b.jpg"]
    assert missing == ["./images/train/zz.jpg"]
    assert yolo.split_images(images) == ([images / "a.jpg", images / "b.jpg"], [])
    with pytest.raises(InputError, match="does not exist"):
        yolo.split_images(tmp_path / "val.txt")

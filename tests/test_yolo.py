"""Tests of cocoprep.yolo: label parsing, row kinds, label ↔ image paths, dataset yamls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoprep import datasetyaml, yolo
from cocoprep.errors import InputError


def test_parse_labels_rows_and_lines():
    rows = yolo.parse_labels(b"0 0.5 0.5 0.2 0.2\r\n\n  3  0.1 0.1 0.2 0.1 0.2 0.2  \n")
    assert rows.classes.tolist() == [0.0, 3.0]
    assert rows.counts.tolist() == [4, 6]
    assert rows.lines.tolist() == [1, 3]
    assert rows.texts == [b"0 0.5 0.5 0.2 0.2", b"3 0.1 0.1 0.2 0.1 0.2 0.2"]
    assert rows.row(1).tolist() == [0.1, 0.1, 0.2, 0.1, 0.2, 0.2]
    assert rows.unparsable == []


def test_is_space_is_what_bytes_split_splits_at():
    codes = np.arange(256, dtype=np.uint8)
    expected = [bytes([c]).split() == [] for c in range(256)]
    assert yolo._is_space(codes).tolist() == expected


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
    spec = datasetyaml.read_dataset_yaml(
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
    spec = datasetyaml.read_dataset_yaml(
        _yaml(tmp_path, f"path: {tmp_path}\nnames: [a, b]\nnc: 2\n")
    )
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
        datasetyaml.read_dataset_yaml(_yaml(tmp_path, text))


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


def test_parse_labels_whole_file_and_per_line_paths_agree():
    text = b"0 0.1 0.2 0.3 0.4\n\n 1  0.5\t0.5 0.6 0.6 0.5 0.6 \r\n2 1e-3 .5 5. -0 nan 0.1\n"
    rows = yolo.parse_labels(text)
    broken = yolo.parse_labels(text + b"3 0.1 zz 0.2 0.2\n")  # forces the per-line path
    assert broken.unparsable == [(5, "zz")]
    for name in ("classes", "values", "counts", "lines"):
        assert np.array_equal(getattr(rows, name), getattr(broken, name), equal_nan=True), name
    assert rows.texts == broken.texts
    assert rows.texts[1] == b"1 0.5 0.5 0.6 0.6 0.5 0.6"
    assert np.signbit(rows.values[13])  # "-0" keeps its sign, as float() reads it


def test_read_label_batch_concatenates_files(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"0 0.1 0.1 0.2 0.2\n1 0.3 0.3 0.1 0.1\n")
    (tmp_path / "b.txt").write_bytes(b"")
    (tmp_path / "c.txt").write_bytes(b"\n2 0.5 x 0.1 0.1\n3 0.1 0.1 0.2 0.1 0.2 0.2\n")
    paths = [str(tmp_path / n) for n in ("a.txt", "b.txt", "missing.txt", "c.txt")]
    batch = yolo.read_label_batch(paths, missing_ok=True)
    assert batch.file.tolist() == [0, 0, 3]
    assert batch.rows.lines.tolist() == [1, 2, 3]
    assert batch.rows.classes.tolist() == [0, 1, 3]
    assert batch.unparsable == [(3, 2, "x")]
    assert batch.missing == [2]
    with pytest.raises(InputError, match=r"missing\.txt: cannot read the label file"):
        yolo.read_label_batch(paths)


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _reference_rows(texts: list[bytes]) -> list[tuple]:
    """What parsing means, line by line with Python's own rules: (file, line, class, values)
    of every row, and (file, line, first bad token) of every unparsable line."""
    rows, bad = [], []
    for f, text in enumerate(texts):
        for n, line in enumerate(text.splitlines(), start=1):
            tokens = line.split()
            if not tokens:
                continue
            wrong = [t for t in tokens if not _is_number(t)]
            if wrong:
                bad.append((f, n, wrong[0].decode(errors="replace")))
            else:
                numbers = [float(t) for t in tokens]
                rows.append((f, n, numbers[0], numbers[1:]))
    return rows, bad


_LABEL_BYTES = st.sampled_from(
    [
        b"0",
        b"1",
        b"5",
        b".",
        b"-",
        b"e",
        b"x",
        b"\xff",
        b" ",
        b"  ",
        b"\t",
        b"\x0b",
        b"\x0c",
        b"\n",
        b"\r",
        b"\r\n",
        b"\x1c",
        b"nan",
        b"0.25",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_LABEL_BYTES, max_size=40).map(b"".join), min_size=1, max_size=4))
def test_label_batch_parse_agrees_with_line_by_line_python(tmp_path_factory, texts):
    folder = tmp_path_factory.mktemp("labels")
    paths = []
    for i, text in enumerate(texts):
        (folder / f"{i}.txt").write_bytes(text)
        paths.append(str(folder / f"{i}.txt"))
    batch = yolo.read_label_batch(paths)
    expected_rows, expected_bad = _reference_rows(texts)
    rows = batch.rows
    found = [
        (int(batch.file[r]), int(rows.lines[r]), float(rows.classes[r]), rows.row(r).tolist())
        for r in range(len(rows))
    ]
    assert repr(found) == repr(expected_rows)  # repr: nan equal to nan, -0.0 apart from 0.0
    assert batch.unparsable == expected_bad
    assert rows.texts == [
        b" ".join(line.split())
        for text in texts
        for line in text.splitlines()
        if line.split() and all(_is_number(t) for t in line.split())
    ]


def test_label_files_sorted_as_paths_without_symlinked_folders(tmp_path):
    for rel in ("a/x.txt", "a-b/y.txt", "a/b/z.txt", "top.txt", "a/not.jpg", "d.txt/k.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "a")
    expected = sorted(p for p in tmp_path.rglob("*.txt") if p.is_file())
    assert yolo.label_files(tmp_path) == expected
    assert [p.relative_to(tmp_path).as_posix() for p in expected] == [
        "a/b/z.txt", "a/x.txt", "a-b/y.txt", "d.txt/k.txt", "top.txt"
    ]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=8),
        min_size=1,
        max_size=6,
    )
)
def test_rows_with_repeats_finds_every_row_with_a_repeated_point(rings):
    row = np.concatenate([np.full(len(r), i) for i, r in enumerate(rings)])
    points = np.concatenate([np.array(r, float) for r in rings])
    points[points == 0] = -0.0  # signed zeros compare equal
    expected = [i for i, r in enumerate(rings) if len(set(r)) < len(r)]
    found = yolo.rows_with_repeats(row, points).tolist()
    assert found == expected  # the 16 grid points' hashes differ, so no collision adds a row


def test_split_images_with_a_relative_root(tmp_path, monkeypatch):
    from cocoprep.yolo import split_images

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ds/images/val").mkdir(parents=True)
    (tmp_path / "ds/images/val/a.jpg").write_bytes(b"jpeg")
    (tmp_path / "ds/val.txt").write_text("./images/val/a.jpg\n./images/val/b.jpg\n")
    images, missing = split_images(Path("ds/val.txt"))
    assert images == [Path("ds/images/val/a.jpg")]
    assert missing == ["./images/val/b.jpg"]

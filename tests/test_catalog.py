"""Tests for cocoprep.remote.catalog: the built-in COCO 2017 table and the YAML loader."""

from __future__ import annotations

import pytest

from cocoprep.errors import InputError
from cocoprep.remote.catalog import COCO_2017, COCO_BASE_URL, Archive, load_catalog, parse_catalog


def test_builtin_catalog_matches_the_published_table():
    assert COCO_2017.base_url == COCO_BASE_URL
    assert COCO_2017.splits == ("train2017", "val2017", "test2017", "unlabeled2017")
    train = COCO_2017.images("train2017")
    assert (train.path, train.bytes, train.md5) == (
        "zips/train2017.zip",
        19336861798,
        "cced6f7f71b7629ddf16f17bbcfab6b2",
    )
    assert COCO_2017.get("val2017").bytes == 815585330
    assert COCO_2017.get("unlabeled2017").bytes is None
    assert [a.name for a in COCO_2017.default_annotations()] == ["annotations_trainval2017"]
    assert len(COCO_2017.archives) == 9
    assert len({a.md5 for a in COCO_2017.archives}) == 9


def test_unknown_names_list_the_choices():
    with pytest.raises(InputError, match=r"'val2018'.*train2017, val2017"):
        COCO_2017.images("val2018")
    with pytest.raises(InputError, match=r"'stuff'.*stuff_annotations_trainval2017"):
        COCO_2017.get("stuff")


def test_extracted_size_estimate():
    assert COCO_2017.get("val2017").estimated_extracted_bytes() == 815585330
    assert COCO_2017.get("image_info_test2017").estimated_extracted_bytes() == 4 * 1144034
    assert COCO_2017.get("stuff_annotations_trainval2017").estimated_extracted_bytes() is None
    exact = Archive("a", "a.zip", "00", "annotations", bytes=10, extracted_bytes=7)
    assert exact.estimated_extracted_bytes() == 7


YAML = """\
base_url: http://127.0.0.1:9/mine
archives:
  - name: train
    path: /zips/train.zip
    md5: sha256:00ff
    bytes: 123
    kind: images
    split: train
  - name: labels
    path: annotations/labels.zip
    md5: 0123abcd
    kind: annotations
    default: true
"""


def test_load_catalog(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(YAML)
    catalog = load_catalog(path)
    assert catalog.base_url == "http://127.0.0.1:9/mine"
    assert catalog.splits == ("train",)
    train = catalog.images("train")
    assert (train.path, train.bytes, train.filename) == ("zips/train.zip", 123, "train.zip")
    assert catalog.default_annotations()[0].name == "labels"
    assert catalog.get("labels").split is None


def test_base_url_defaults_to_coco():
    catalog = parse_catalog(
        {"archives": [{"name": "x", "path": "x.zip", "md5": "00", "kind": "annotations"}]}
    )
    assert catalog.base_url == COCO_BASE_URL


GOOD = {"name": "x", "path": "x.zip", "md5": "00", "kind": "images", "split": "s"}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"name": ""}, r"archives\[0\] \(\?\): expected 'name'"),
        ({"md5": None}, r"\(x\): expected 'md5'"),
        ({"md5": "zz"}, r"expected 'md5' as hex"),
        ({"kind": "videos"}, r"expected 'kind' images or annotations, found 'videos'"),
        ({"split": None}, r"expected 'split'"),
        ({"bytes": -1}, r"expected 'bytes' as a non-negative integer, found -1"),
        ({"bytes": "12"}, r"'bytes' as a non-negative integer, found '12'"),
        ({"default": "yes"}, r"'default' true or false"),
        ({"path": "../x.zip"}, r"without '\.\.'"),
    ],
)
def test_bad_entries_name_the_entry_and_field(change, match):
    with pytest.raises(InputError, match=match):
        parse_catalog({"archives": [{**GOOD, **change}]}, source="cat.yaml")


def test_duplicates_and_shape_errors(tmp_path):
    with pytest.raises(InputError, match=r"each archive name once, found 'x' twice"):
        parse_catalog({"archives": [GOOD, GOOD]})
    other = {**GOOD, "name": "y"}
    with pytest.raises(InputError, match=r"each archive split once, found 's' twice"):
        parse_catalog({"archives": [GOOD, other]})
    with pytest.raises(InputError, match=r"expected a mapping with an 'archives' list, found list"):
        parse_catalog([GOOD])
    bad = tmp_path / "bad.yaml"
    bad.write_text("archives: [unclosed\n")
    with pytest.raises(InputError, match=r"bad.yaml: expected valid YAML"):
        load_catalog(bad)
    with pytest.raises(InputError, match=r"missing.yaml: expected a readable YAML catalog"):
        load_catalog(tmp_path / "missing.yaml")

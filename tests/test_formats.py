"""Any COCO-format dataset: LVIS-, Objects365-, CVAT- and Roboflow-shaped files convert right."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools import mask as mask_utils

from cocoprep.cli import main
from cocoprep.converter import convert
from cocoprep.errors import InputError

from builders import coco, image, polygon_annotation, square, write

COCO_URL = "http://images.cocodataset.org/{}/{:012d}.jpg"


def lvis_shaped(tmp_path):
    """LVIS v1 val: no file_name, images from COCO train2017, no iscrowd, 1203 categories."""
    categories = [
        {
            "id": i,
            "name": f"class_{i}",
            "synset": f"thing_{i}.n.01",
            "frequency": "frc"[i % 3],
            "synonyms": [f"class_{i}"],
            "def": "a thing",
            "image_count": 1,
            "instance_count": 1,
        }
        for i in range(1, 1204)
    ]
    images = [
        {
            "id": i,
            "width": 640,
            "height": 480,
            "coco_url": COCO_URL.format("train2017", i),
            "neg_category_ids": [5],
            "not_exhaustive_category_ids": [7],
        }
        for i in (9, 25, 30)
    ] + [
        {
            "id": 139,
            "width": 640,
            "height": 426,
            "coco_url": COCO_URL.format("val2017", 139),
            "neg_category_ids": [],
            "not_exhaustive_category_ids": [],
        }
    ]
    anns = []
    for k, image_id in enumerate((9, 9, 25, 139)):
        ann = polygon_annotation(k + 1, image_id, 1000 + k, square(10 * k, 20, 30))
        ann.pop("iscrowd")
        anns.append(ann)
    data = {
        "info": {},
        "annotations": anns,
        "images": images,
        "licenses": [],
        "categories": categories,
    }
    return write(tmp_path / "lvis_v1_val.json", data)


def test_lvis_val_labels_follow_the_images_where_they_live(tmp_path):
    summary = convert([lvis_shaped(tmp_path)], tmp_path / "lvis", split="val", task="detect")
    out = tmp_path / "lvis"
    assert (out / "labels/train2017/000000000009.txt").read_text().count("\n") == 2
    assert (out / "labels/train2017/000000000025.txt").read_text().startswith("1001 ")
    assert (out / "labels/train2017/000000000030.txt").read_text() == ""
    assert (out / "labels/val2017/000000000139.txt").read_text().startswith("1002 ")
    assert (out / "val.txt").read_text().splitlines() == [
        "./images/train2017/000000000009.jpg",
        "./images/train2017/000000000025.jpg",
        "./images/train2017/000000000030.jpg",
        "./images/val2017/000000000139.jpg",
    ]
    assert summary.classes == 1203
    assert summary.totals()["lvis_image_fields_ignored"] == 4
    assert len(summary.unused_categories) == 1199


def test_objects365_nested_file_names(tmp_path):
    names = [f"images/v1/patch{p}/objects365_v1_{i:08d}.jpg" for p, i in ((0, 1), (1, 2))]
    images = [image(i + 1, 800, 600, file_name=name) for i, name in enumerate(names)]
    anns = [
        dict(polygon_annotation(1, 1, 3, square(80, 60, 80)), segmentation=[]),
        dict(polygon_annotation(2, 2, 1, square(8, 6, 8)), segmentation=[]),
    ]
    convert(
        [write(tmp_path / "zhiyuan_objv2_train.json", coco(images, anns))],
        tmp_path / "o",
        split="train",
        task="detect",
    )
    # Ultralytics maps .../images/train/images/v1/... by its LAST /images/ to .../labels/...
    label = tmp_path / "o/images/train/labels/v1/patch0/objects365_v1_00000001.txt"
    assert label.read_text() == "1 0.150000 0.166667 0.100000 0.133333\n"
    assert (tmp_path / "o/train.txt").read_text().splitlines()[1] == (
        "./images/train/images/v1/patch1/objects365_v1_00000002.jpg"
    )


def cvat_shaped(tmp_path):
    """CVAT 'COCO 1.0': every mask annotation is iscrowd 1 with compressed RLE counts."""
    anns = []
    for k in range(3):
        mask = np.zeros((100, 120), np.uint8)
        mask[10 + 20 * k : 25 + 20 * k, 10 : 50 + 10 * k] = 1
        rle = mask_utils.encode(np.asfortranarray(mask))
        anns.append(
            {
                "id": k + 1,
                "image_id": 1,
                "category_id": 1,
                "iscrowd": 1,
                "segmentation": {"size": [100, 120], "counts": rle["counts"].decode()},
                "area": float(mask.sum()),
                "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                "attributes": {"occluded": False},
            }
        )
    data = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {},
        "categories": [{"id": 1, "name": "car", "supercategory": ""}],
        "images": [image(1, 120, 100)],
        "annotations": anns,
    }
    return write(tmp_path / "instances_default.json", data, indent=2)


def test_cvat_export_warns_then_converts_with_crowd_keep(tmp_path):
    source = cvat_shaped(tmp_path)
    result = CliRunner().invoke(main, ["convert", str(source), "--root", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "3 of 3 annotations are crowd" in result.output
    assert "--crowd keep" in result.output
    assert (tmp_path / "a/labels/default/000000000001.txt").read_text() == ""

    summary = convert([source], tmp_path / "b", crowd="keep")
    rows = (tmp_path / "b/labels/default/000000000001.txt").read_text().splitlines()
    assert len(rows) == 3 and summary.totals()["rle_converted"] == 3
    assert all(len(r.split()) >= 9 for r in rows)


def test_roboflow_placeholder_category_is_left_out_and_unused_ones_dropped(tmp_path):
    categories = [
        {"id": 0, "name": "my-project", "supercategory": "none"},
        {"id": 1, "name": "cat", "supercategory": "my-project"},
        {"id": 2, "name": "dog", "supercategory": "my-project"},
    ]
    data = coco(
        [image(0, 640, 640)], [polygon_annotation(0, 0, 2, square(1, 1, 64))], categories=categories
    )
    source = write(tmp_path / "_annotations.coco.json", data)
    kept = convert([source], tmp_path / "keep", split="train")
    assert kept.unused_categories == ["cat"]  # the placeholder is no class at all
    assert kept.placeholder_categories == ["'my-project' (id 0)"]
    assert (tmp_path / "keep/labels/train/000000000000.txt").read_text()[0] == "1"

    dropped = convert([source], tmp_path / "drop", split="train", drop_unused_categories=True)
    assert dropped.classes == 1
    assert (tmp_path / "drop/labels/train/000000000000.txt").read_text()[0] == "0"
    record = json.loads((tmp_path / "drop/cocoprep.json").read_text())
    assert record["classes"] == [{"id": 2, "name": "dog"}]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", "17", "image id '17' is a str"),
        ("id", 17.0, "image id 17.0 is a float"),
        ("id", 2**64, "is a float; COCO ids must be 64-bit integers"),
    ],
)
def test_string_float_and_huge_image_ids_are_errors(tmp_path, field, value, message):
    data = coco([image(1)], [])
    data["images"][0][field] = value
    with pytest.raises(InputError, match=message):
        convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out")


def test_annotation_ids_must_be_integers(tmp_path):
    data = coco([image(1)], [dict(polygon_annotation(1, 1, 1, square(1, 1, 9)), id="a1")])
    with pytest.raises(InputError, match="must be integers"):
        convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out")


def test_keypoints_file_crowd_ids_beyond_32_bits(tmp_path):
    crowd = dict(polygon_annotation(900100174375, 1, 1, square(5, 5, 50)), iscrowd=1)
    data = coco([image(1)], [polygon_annotation(1, 1, 1, square(1, 1, 9)), crowd])
    summary = convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out")
    assert summary.totals()["crowd_skipped"] == 1

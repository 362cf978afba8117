"""convert --task obb: golden rows, every kind of outline, and real COCO objects' rectangles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from pycocotools import mask as mask_utils

from cocoprep.cli import main
from cocoprep.converter import convert
from cocoprep.yamlfile import write_root_yaml

from builders import coco, image, polygon_annotation, square, write


def rows_of(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


def test_obb_golden_rows_clipping_multipart_and_boxes(tmp_path):
    diamond = [100, 10, 140, 50, 100, 90, 60, 50]
    data = coco(
        [image(1, 200, 100)],
        [
            polygon_annotation(1, 1, 1, [*diamond, 100, 50]),  # an inner point changes nothing
            polygon_annotation(2, 1, 3, square(180, 40, 40)),  # leaves the image: clipped
            polygon_annotation(3, 1, 18, square(10, 10, 10), square(40, 10, 10)),  # two parts
            dict(polygon_annotation(4, 1, 1, square(5, 5, 10)), segmentation=[]),  # its box
            polygon_annotation(5, 1, 1, [10, 80, 30, 80, 50, 80], bbox=[10, 80, 40, 10]),  # a line
        ],
    )
    summary = convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out", task="obb")
    assert (tmp_path / "out/labels/v/000000000001.txt").read_text() == (
        "0 0.5 0.1 0.7 0.5 0.5 0.9 0.3 0.5\n"
        "1 0.9 0.4 1 0.4 1 0.8 0.9 0.8\n"
        "2 0.05 0.1 0.25 0.1 0.25 0.2 0.05 0.2\n"
        "0 0.025 0.05 0.075 0.05 0.075 0.15 0.025 0.15\n"
        "0 0.05 0.8 0.25 0.8 0.25 0.9 0.05 0.9\n"
    )
    totals = summary.totals()
    assert totals["instances"] == 5
    assert totals["multipart_merged"] == 1
    assert totals["boxes_as_polygons"] == 1
    assert totals["degenerate_replaced"] == 1
    assert json.loads((tmp_path / "out/cocoprep.json").read_text())["task"] == "obb"
    yaml_text = (tmp_path / "out/coco.yaml").read_text()
    assert yaml_text.splitlines()[1] == (
        "# Oriented boxes (task obb): train an OBB model on it, e.g. yolo11n-obb.pt"
    )
    assert write_root_yaml(tmp_path / "out").path.read_text() == yaml_text  # cocoprep yaml


def test_obb_drops_an_object_with_neither_outline_nor_usable_box(tmp_path):
    point = polygon_annotation(1, 1, 1, [10, 10, 10, 10, 10, 10], bbox=[10, 10, 0.0000001, 5])
    data = coco([image(1, 100, 100)], [point, polygon_annotation(2, 1, 1, square(1, 1, 5))])
    summary = convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out", task="obb")
    assert len(rows_of(tmp_path / "out/labels/v/000000000001.txt")) == 1
    assert summary.totals()["degenerate_dropped"] == 1


def test_obb_of_a_crowd_mask_holds_its_pixels_when_kept(tmp_path):
    mask = np.zeros((60, 80), np.uint8)
    mask[10:50, 10:70] = 1
    mask[20:40, 30:50] = 0  # a hole: inside the rectangle all the same
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle["counts"] = rle["counts"].decode()
    ann = {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "segmentation": rle}
    data = coco([image(1, 80, 60)], [dict(ann, bbox=[10, 10, 60, 40])])
    source = write(tmp_path / "instances_v.json", data)
    convert([source], tmp_path / "skip", task="obb")
    assert (tmp_path / "skip/labels/v/000000000001.txt").read_text() == ""
    convert([source], tmp_path / "keep", task="obb", crowd="keep")
    assert (tmp_path / "keep/labels/v/000000000001.txt").read_text() == (
        "0 0.125 0.166667 0.875 0.166667 0.875 0.833333 0.125 0.833333\n"
    )


def test_cli_task_obb(tmp_path):
    data = coco([image(1, 200, 100)], [polygon_annotation(1, 1, 1, square(20, 10, 50))])
    source = write(tmp_path / "instances_val.json", data)
    result = CliRunner().invoke(
        main, ["convert", str(source), "--root", str(tmp_path / "out"), "--task", "obb", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert rows_of(tmp_path / "out/labels/val/000000000001.txt") == [
        [0, 0.1, 0.1, 0.35, 0.1, 0.35, 0.6, 0.1, 0.6]
    ]
    help_text = CliRunner().invoke(main, ["convert", "--help"]).output
    assert "--task obb" in help_text


def _object_points(ann: dict, height: int, width: int) -> np.ndarray:
    seg = ann["segmentation"]
    if isinstance(seg, dict):  # pixel centres of the mask
        rle = mask_utils.frPyObjects(seg, height, width) if isinstance(seg["counts"], list) else seg
        rows, cols = np.nonzero(mask_utils.decode(rle))
        return np.stack([cols + 0.5, rows + 0.5], axis=1).astype(float)
    return np.concatenate([np.reshape(part, (-1, 2)) for part in seg]).astype(float)


@pytest.mark.parametrize("split", ["val2017", "train2017"])
def test_obb_on_real_coco_objects(coco_mini, tmp_path, split):
    """One row per non-crowd object, in order; each a true rectangle holding every point of
    its object within 0.5 px and no larger than Shapely's minimum rotated rectangle by 1 %;
    at the border, that rectangle with its corners clipped."""
    source = coco_mini / f"annotations/instances_{split}.json"
    convert([source], tmp_path, task="obb")
    data = json.loads(source.read_text())
    images = {i["id"]: i for i in data["images"]}
    by_image: dict[int, list[dict]] = {}
    for ann in data["annotations"]:
        if not ann["iscrowd"]:
            by_image.setdefault(ann["image_id"], []).append(ann)
    checked = clipped = 0
    for image_id, info in images.items():
        rows = rows_of(tmp_path / f"labels/{split}" / Path(info["file_name"]).with_suffix(".txt"))
        anns = by_image.get(image_id, [])
        assert len(rows) == len(anns)
        h, w = info["height"], info["width"]
        for ann, row in zip(anns, rows, strict=True):
            assert len(row) == 9
            normalised = np.array(row[1:]).reshape(4, 2)
            assert ((normalised >= 0) & (normalised <= 1)).all()
            points = _object_points(ann, h, w)
            reference = shapely.minimum_rotated_rectangle(shapely.MultiPoint(points))
            if ((normalised == 0) | (normalised == 1)).any():  # at the border: maybe clipped
                expected = np.clip(shapely.get_coordinates(reference)[:4] / [w, h], 0, 1)
                apart = np.abs(expected[:, None] - normalised[None]).max(axis=2)
                assert apart.min(axis=0).max() < 1e-5 and apart.min(axis=1).max() < 1e-5
                clipped += 1
                continue
            corners = normalised * [w, h]
            sides = np.roll(corners, -1, axis=0) - corners
            lengths = np.hypot(*sides.T)
            cosines = (sides * np.roll(sides, -1, axis=0)).sum(axis=1) / (
                lengths * np.roll(lengths, -1)
            )
            assert np.abs(cosines).max() < 5e-3, (ann["id"], corners)
            rectangle = shapely.Polygon(corners)
            assert shapely.distance(rectangle, shapely.points(points)).max() <= 0.5, ann["id"]
            assert rectangle.area <= 1.01 * reference.area + 0.01, ann["id"]
            checked += 1
    assert checked > 2 * clipped  # COCO objects touch the border often: 1 in 5 here


def test_obb_and_other_rows_never_share_a_root(tmp_path):
    from cocoprep.errors import ConflictError

    ann = polygon_annotation(1, 1, 1, square(1, 1, 9))
    source = write(tmp_path / "instances_v.json", coco([image(1)], [ann]))
    other = write(tmp_path / "instances_w.json", coco([image(1)], [ann]))
    convert([source], tmp_path / "root")
    with pytest.raises(ConflictError, match=r"holds segment splits \(v\); oriented boxes"):
        convert([other], tmp_path / "root", task="obb")
    convert([source], tmp_path / "root", task="obb")  # the split it replaces does not count
    convert([source], tmp_path / "root", task="obb")  # a re-run is fine
    with pytest.raises(ConflictError, match="holds obb splits"):
        convert([other], tmp_path / "root", task="detect")
    convert([source], tmp_path / "root", task="detect")  # the only split: replaced
    convert([other], tmp_path / "root", task="segment")  # detect and segment rows mix as before

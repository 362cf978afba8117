"""convert --task obb: oriented boxes from every point of each object, synthetic and real."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from pycocotools import mask as mask_utils

from cocoprep.checks.validate import validate
from cocoprep.cli import main
from cocoprep.converter import convert
from cocoprep.errors import ConflictError

from builders import coco, image, polygon_annotation, square, write


def corners_of(path: Path, width: float, height: float) -> list[set[tuple[float, float]]]:
    """Each row's corners in pixels (rounded), as sets; asserts the row shape."""
    out = []
    for line in path.read_text().splitlines():
        values = line.split()
        assert len(values) == 9
        xy = np.array(values[1:], float).reshape(4, 2) * [width, height]
        out.append({(round(x, 3), round(y, 3)) for x, y in xy.tolist()})
    return out


def test_rows_are_the_rotated_rectangle_and_the_root_says_obb(tmp_path):
    diamond = [50, 10, 90, 50, 50, 90, 10, 50]
    data = coco([image(1, 200, 100)], [polygon_annotation(1, 1, 3, [*diamond, 50, 50, 60, 40])])
    summary = convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out", task="obb")
    out = tmp_path / "out"
    label = out / "labels/v/000000000001.txt"
    assert label.read_text().startswith("1 ")
    assert corners_of(label, 200, 100) == [{(50, 10), (90, 50), (50, 90), (10, 50)}]
    assert "task: obb\n" in (out / "coco.yaml").read_text()
    assert json.loads((out / "cocoprep.json").read_text())["task"] == "obb"
    assert summary.task == "obb" and summary.totals()["instances"] == 1
    assert validate([out / "labels/v"]).findings == []


def test_every_part_counts_and_no_segmentation_gives_the_box(tmp_path):
    left, right = square(10, 10, 20), square(100, 10, 20)
    bare = dict(polygon_annotation(2, 1, 1, square(0, 0, 1)), segmentation=[], bbox=[5, 60, 30, 20])
    nothing = dict(bare, id=3, bbox=None)
    anns = [polygon_annotation(1, 1, 1, left, right), bare, nothing]
    data = coco([image(1, 200, 100)], anns)
    summary = convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out", task="obb")
    rows = corners_of(tmp_path / "out/labels/v/000000000001.txt", 200, 100)
    assert rows == [
        {(10, 10), (120, 10), (120, 30), (10, 30)},
        {(5, 60), (35, 60), (35, 80), (5, 80)},
    ]
    totals = summary.totals()
    assert totals["obb_from_box"] == 1
    assert totals["degenerate_dropped"] == 1  # neither an outline nor a box
    assert "oriented boxes from the box (no segmentation)" in summary.format()


def test_corners_beyond_the_image_are_clipped_and_lines_become_their_box(tmp_path):
    tilted = [150, 0, 230, 40, 190, 120, 110, 80]  # a rotated square leaving the 200x100 image
    line = polygon_annotation(2, 1, 1, [10, 10, 50, 50, 30, 30], bbox=[10, 10, 40, 40])
    data = coco([image(1, 200, 100)], [polygon_annotation(1, 1, 1, tilted), line])
    summary = convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out", task="obb")
    text = (tmp_path / "out/labels/v/000000000001.txt").read_text().splitlines()
    values = np.array(text[0].split()[1:], float)
    assert values.min() >= 0 and values.max() <= 1 and 1.0 in values
    assert corners_of(tmp_path / "out/labels/v/000000000001.txt", 200, 100)[1] == {
        (10, 10),
        (50, 10),
        (50, 50),
        (10, 50),
    }
    assert summary.totals()["degenerate_replaced"] == 1


@pytest.mark.parametrize("crowd", ["skip", "keep"])
def test_crowd_masks_follow_the_crowd_policy(tmp_path, crowd):
    mask = np.zeros((60, 80), np.uint8)
    mask[10:50, 10:70] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle["counts"] = rle["counts"].decode()
    ann = {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "segmentation": rle}
    data = coco([image(1, 80, 60)], [dict(ann, bbox=[10, 10, 60, 40], area=2400.0)])
    source = write(tmp_path / "instances_v.json", data)
    summary = convert([source], tmp_path / "out", task="obb", crowd=crowd)
    rows = corners_of(tmp_path / "out/labels/v/000000000001.txt", 80, 60)
    if crowd == "skip":
        assert rows == [] and summary.totals()["crowd_skipped"] == 1
    else:
        assert rows == [{(10, 10), (70, 10), (70, 50), (10, 50)}]


def test_cli_task_obb(tmp_path):
    data = coco([image(1)], [polygon_annotation(1, 1, 1, square(10, 10, 30))])
    source = write(tmp_path / "instances_v.json", data)
    args = ["convert", str(source), "--root", str(tmp_path / "o"), "--task", "obb"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "task obb" in result.output
    assert "--task obb" in CliRunner().invoke(main, ["convert", "--help"]).output


# --- real COCO ---------------------------------------------------------------------------------


def test_real_objects_get_minimal_rectangles_holding_every_point(coco_mini, tmp_path):
    source = coco_mini / "annotations/instances_val2017.json"
    summary = convert([source], tmp_path, task="obb")
    data = json.loads(source.read_text())
    images = {i["id"]: i for i in data["images"]}
    by_image = defaultdict(list)
    for ann in data["annotations"]:
        if not ann["iscrowd"]:
            by_image[ann["image_id"]].append(ann)
    assert summary.totals()["instances"] == sum(map(len, by_image.values()))
    checked = clipped = 0
    for image_id, anns in by_image.items():
        info = images[image_id]
        w, h = info["width"], info["height"]
        label = tmp_path / "labels/val2017" / (Path(info["file_name"]).stem + ".txt")
        rows = [line.split() for line in label.read_text().splitlines()]
        assert len(rows) == len(anns)  # one row per non-crowd object, in annotation order
        for ann, row in zip(anns, rows, strict=True):
            corners = np.array(row[1:], float).reshape(4, 2) * [w, h]
            points = np.concatenate([np.reshape(p, (-1, 2)) for p in ann["segmentation"]])
            points = np.clip(points, 0, [w, h])
            rect = shapely.Polygon(corners)
            if np.isin(np.array(row[1:], float), [0.0, 1.0]).any():
                clipped += 1  # corners moved onto the border: the rectangle is cut, not larger
                assert shapely.Polygon(corners).area <= w * h
                continue
            assert rect.buffer(0.5).covers(shapely.multipoints(points)), ann["id"]
            sides = np.roll(corners, -1, axis=0) - corners
            lengths = np.hypot(sides[:, 0], sides[:, 1])
            cosines = (sides * np.roll(sides, -1, axis=0)).sum(1) / (lengths * np.roll(lengths, -1))
            assert np.abs(cosines).max() < 1e-3, ann["id"]  # right angles, up to %g rounding
            envelope = shapely.oriented_envelope(shapely.multipoints(points))
            assert rect.area <= envelope.area * 1.01 + 1.0, ann["id"]
            checked += 1
    assert checked > 400 and clipped < checked


def test_obb_and_other_rows_never_share_a_root(tmp_path):
    source = write(
        tmp_path / "instances_v.json",
        coco([image(1)], [polygon_annotation(1, 1, 1, square(1, 1, 9))]),
    )
    convert([source], tmp_path / "root")
    with pytest.raises(ConflictError, match=r"holds segment splits \(v\); oriented boxes"):
        convert([source], tmp_path / "root", task="obb")
    convert([source], tmp_path / "obb", task="obb")
    convert([source], tmp_path / "obb", task="obb")  # a re-run is fine
    with pytest.raises(ConflictError, match="holds obb splits"):
        convert([source], tmp_path / "obb", task="detect")
    convert([source], tmp_path / "root", task="detect")  # detect and segment rows mix as before

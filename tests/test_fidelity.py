"""Tests of cocoprep.fidelity: IoU of written polygons against their source masks."""

from __future__ import annotations

import builtins
import importlib
import json

import pytest
from click.testing import CliRunner

from cocoprep.cli import main
from cocoprep.converter import convert
from cocoprep.errors import InputError

from builders import coco, image, polygon_annotation, square, write

# By module: the package re-exports some functions under their modules' names.
f = importlib.import_module("cocoprep.checks.fidelity")


CATS = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]


def _converted(tmp_path, annotations):
    source = write(tmp_path / "instances_val.json", coco([image(1, 100, 80)], annotations, CATS))
    convert([source], tmp_path / "root")
    return source, tmp_path / "root" / "labels" / "val"


def test_exact_square_and_matching(tmp_path):
    anns = [
        polygon_annotation(1, 1, 1, square(10, 10, 40)),
        polygon_annotation(2, 1, 2, square(60, 20, 20), square(60, 50, 10)),  # two parts
        {**polygon_annotation(3, 1, 1, square(0, 0, 5)), "iscrowd": 1},  # skipped by convert
    ]
    source, labels = _converted(tmp_path, anns)
    report = f.fidelity(labels, source)
    assert [i.annotation for i in report.instances] == [1, 2]
    assert report.instances[0].iou == pytest.approx(1.0)
    assert report.instances[1].iou > 0.97  # the bridge adds a sliver of raster
    assert report.unmatched_rows == 0 and report.missing_instances == 0
    stats = report.stats()
    assert stats["overall"]["count"] == 2 and set(stats["classes"]) == {"cat", "dog"}
    assert stats["overall"]["min"] == pytest.approx(report.worst(1)[0].iou)


def test_obb_rows_are_measured_as_rectangles(tmp_path):
    diamond = [40, 10, 60, 30, 40, 50, 20, 30]  # its own rectangle
    triangle = [60, 60, 90, 60, 60, 75]  # half its rectangle
    anns = [polygon_annotation(1, 1, 1, diamond), polygon_annotation(2, 1, 2, triangle)]
    source = write(tmp_path / "instances_val.json", coco([image(1, 100, 80)], anns, CATS))
    convert([source], tmp_path / "root", task="obb")
    report = f.fidelity(tmp_path / "root" / "labels" / "val", source)
    assert [i.annotation for i in report.instances] == [1, 2]
    assert report.instances[0].iou == pytest.approx(1.0, abs=0.03)
    assert report.instances[1].iou == pytest.approx(0.5, abs=0.03)
    assert report.unmatched_rows == 0 and report.missing_instances == 0


def test_trainer_raster_includes_boundary_pixels(tmp_path):
    pytest.importorskip("cv2", reason="the trainer raster needs cocoprep[fidelity] (opencv)")
    source, labels = _converted(tmp_path, [polygon_annotation(1, 1, 1, square(10, 10, 40))])
    report = f.fidelity(labels, source)
    # cv2.fillPoly includes boundary pixels: a 40 px square fills 41 x 41.
    assert report.instances[0].iou_trainer == pytest.approx(1600 / 1681)


def test_edited_and_missing_rows(tmp_path):
    anns = [
        polygon_annotation(1, 1, 1, square(10, 10, 40)),
        polygon_annotation(2, 1, 1, square(60, 20, 20)),
    ]
    source, labels = _converted(tmp_path, anns)
    label = labels / "000000000001.txt"
    first, _ = label.read_text().splitlines()
    label.write_text(first + "\n0 0.1 0.1 0.2 0.1 0.2 0.2\n")
    report = f.fidelity(labels, source)
    assert len(report.instances) == 1
    assert report.unmatched_rows == 1 and report.missing_instances == 1
    assert "1 rows without a source, 1 source objects not in the labels" in report.format_table()


def test_without_opencv(tmp_path, monkeypatch):
    source, labels = _converted(tmp_path, [polygon_annotation(1, 1, 1, square(10, 10, 40))])
    real_import = builtins.__import__

    def no_cv2(name, *args, **kwargs):
        if name == "cv2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    report = f.fidelity(labels, source)
    assert report.instances[0].iou_trainer is None
    assert report.notes == [f.OPENCV_MISSING]
    assert report.stats("iou_trainer")["overall"] == {"count": 0}
    text = report.format_table()
    assert "cocoprep[fidelity]" in text and "worst by cv2" not in text
    assert report.as_dict()["worst_trainer"] == []


def test_needs_a_labels_folder(tmp_path):
    source = write(tmp_path / "a.json", coco([image(1)], [], CATS))
    with pytest.raises(InputError, match="expected a YOLO labels folder"):
        f.fidelity(source, source)


def test_coco_mini_fidelity(coco_mini, tmp_path):
    source = coco_mini / "annotations" / "instances_val2017.json"
    convert([source], tmp_path)
    report = f.fidelity(tmp_path / "labels" / "val2017", source)
    rows = sum(
        len(p.read_text().splitlines()) for p in (tmp_path / "labels" / "val2017").glob("*.txt")
    )
    assert len(report.instances) == rows and report.unmatched_rows == 0
    overall = report.stats()["overall"]
    assert overall["mean"] > 0.99 and overall["min"] > 0.9


def test_coco_mini_obb_fidelity(coco_mini, tmp_path):
    """Rectangles hold their objects with room to spare: on real COCO ~0.69 IoU in the mean."""
    source = coco_mini / "annotations" / "instances_val2017.json"
    convert([source], tmp_path, task="obb")
    report = f.fidelity(tmp_path / "labels" / "val2017", source)
    assert len(report.instances) == 619 and report.unmatched_rows == 0
    overall = report.stats()["overall"]
    assert 0.6 < overall["mean"] < 0.8 and overall["min"] > 0


def test_coco_mini_trainer_raster(coco_mini, tmp_path):
    pytest.importorskip("cv2", reason="the trainer raster needs cocoprep[fidelity] (opencv)")
    source = coco_mini / "annotations" / "instances_val2017.json"
    convert([source], tmp_path)
    report = f.fidelity(tmp_path / "labels" / "val2017", source)
    trainer = report.stats("iou_trainer")["overall"]
    assert trainer["mean"] < report.stats()["overall"]["mean"]  # boundary pixels, bridges


def test_cli_fidelity_json(tmp_path):
    source, labels = _converted(tmp_path, [polygon_annotation(1, 1, 1, square(10, 10, 40))])
    result = CliRunner().invoke(
        main, ["validate", str(labels), "--fidelity", str(source), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fidelity"]["instances"] == 1
    assert data["fidelity"]["iou"]["overall"]["mean"] == pytest.approx(1.0)
    table = CliRunner().invoke(main, ["validate", str(labels), "--fidelity", str(source)])
    assert "IoU mean" in table.output and "worst by pycocotools raster:" in table.output

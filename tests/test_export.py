"""export end to end: convert → export round trips scored by COCOeval on real COCO images,
foreign YOLO datasets, predictions, the command line and bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import cocoprep
from cocoprep import layout
from cocoprep.cli import main
from cocoprep.errors import InputError
from cocoprep.exporter import export, record

from builders import coco, image, polygon_annotation, square, write

GT = {
    "detect": "instances_val2017.json",
    "segment": "instances_val2017.json",
    "pose": "person_keypoints_val2017.json",
}
IOU = {"detect": "bbox", "segment": "segm", "pose": "keypoints"}


def _score(gt: COCO, results: list[dict] | str, iou: str) -> float:
    evaluation = COCOeval(gt, gt.loadRes(results), iou)
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0])


def _as_results(data: dict, category_map: dict[int, int] | None = None) -> list[dict]:
    """Exported annotations as score-1 detections."""
    out = []
    for ann in data["annotations"]:
        result = {k: v for k, v in ann.items() if k != "id"}
        if category_map is not None:
            result["category_id"] = category_map[ann["category_id"]]
        out.append({**result, "score": 1.0})
    return out


@pytest.fixture(scope="module")
def converted(coco_mini, tmp_path_factory):
    """convert's roots of coco-mini val2017, one per task (made once for the module)."""
    roots = {}
    for task, name in GT.items():
        root = tmp_path_factory.mktemp(f"root-{task}")
        cocoprep.convert([coco_mini / "annotations" / name], root, task=task)
        roots[task] = root
    return roots


@pytest.mark.parametrize(("task", "minimum"), [("detect", 0.99), ("segment", 0.90), ("pose", 0.95)])
def test_round_trip_scores_against_the_original_ground_truth(
    converted, coco_mini, tmp_path, task, minimum
):
    summary = export(converted[task], tmp_path)
    (split,) = summary.splits
    prefix = "person_keypoints" if task == "pose" else "instances"
    assert Path(split.path) == tmp_path / f"{prefix}_val2017.json"
    assert split.task == task
    data = json.loads(Path(split.path).read_bytes())
    original = json.loads((coco_mini / "annotations" / GT[task]).read_bytes())
    # The original image ids, file names and sizes; every image, background ones too.
    assert data["images"] == [
        {k: im[k] for k in ("id", "file_name", "width", "height")} for im in original["images"]
    ]
    assert [c["id"] for c in data["categories"]] == [c["id"] for c in original["categories"]]
    assert data["categories"] == original["categories"]
    ids = [a["id"] for a in data["annotations"]]
    assert ids == list(range(1, len(ids) + 1))
    assert all(a["iscrowd"] == 0 for a in data["annotations"])
    gt = COCO(str(coco_mini / "annotations" / GT[task]))
    assert _score(gt, _as_results(data), IOU[task]) >= minimum
    assert split.images == len(original["images"])
    assert split.background_images == len(original["images"]) - len(
        {a["image_id"] for a in data["annotations"]}
    )


def test_multipart_polygons_come_back_as_their_parts(converted, coco_mini, tmp_path):
    data = json.loads(Path(export(converted["segment"], tmp_path).splits[0].path).read_bytes())
    original = json.loads((coco_mini / "annotations" / GT["segment"]).read_bytes())
    multi = [a for a in original["annotations"] if not a["iscrowd"] and len(a["segmentation"]) > 1]
    assert multi
    exported = {}
    for ann in data["annotations"]:
        exported.setdefault((ann["image_id"], ann["category_id"]), []).append(ann)
    split_back = 0
    for ann in multi:
        candidates = exported[(ann["image_id"], ann["category_id"])]
        best = min(candidates, key=lambda c: abs(c["area"] - ann["area"]))
        split_back += len(best["segmentation"]) == len(ann["segmentation"])
    assert split_back >= 0.9 * len(multi)


def test_export_is_deterministic_and_rewrites_in_place(converted, tmp_path):
    first = Path(export(converted["segment"], tmp_path / "a").splits[0].path).read_bytes()
    again = Path(export(converted["segment"], tmp_path / "b", workers=1).splits[0].path)
    assert again.read_bytes() == first
    export(converted["segment"], tmp_path / "b")
    assert again.read_bytes() == first
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["instances_val2017.json"]


def _foreign(tmp_path: Path, converted_root: Path, coco_mini: Path, task: str = "detect") -> Path:
    """A YOLO dataset as another tool writes it: yaml + images + labels, no record, numbered
    like COCO (file stems are the image ids)."""
    root = tmp_path / "foreign"
    (root / "images" / "val").mkdir(parents=True)
    for source in sorted((coco_mini / "images" / "val2017").iterdir()):
        os.symlink(source, root / "images" / "val" / source.name)
    shutil.copytree(converted_root / "labels" / "val2017", root / "labels" / "val")
    names = yaml.safe_load((converted_root / "coco.yaml").read_text())["names"]
    spec = {"path": ".", "val": "images/val", "names": names}
    (root / "data.yaml").write_text(yaml.safe_dump(spec))
    return root


def test_foreign_dataset_exports_every_image_with_its_true_size(converted, coco_mini, tmp_path):
    root = _foreign(tmp_path, converted["detect"], coco_mini)
    (split,) = export(root / "data.yaml", tmp_path / "out").splits
    data = json.loads(Path(split.path).read_bytes())
    images = sorted((coco_mini / "images" / "val2017").iterdir())
    assert len(data["images"]) == len(images)
    for entry, path in zip(data["images"], images, strict=True):
        with Image.open(path) as im:
            assert (entry["width"], entry["height"]) == im.size
        assert entry["id"] == int(path.stem)
        assert entry["file_name"] == path.name
    ids = [a["id"] for a in data["annotations"]]
    assert len(set(ids)) == len(ids)
    assert data["categories"][:2] == [{"id": 1, "name": "person"}, {"id": 2, "name": "bicycle"}]
    gt = COCO(str(coco_mini / "annotations" / GT["detect"]))
    by_name = {c["name"]: c["id"] for c in gt.dataset["categories"]}
    matched = {c["id"]: by_name[c["name"]] for c in data["categories"]}
    assert _score(gt, _as_results(data, matched), "bbox") >= 0.99


def test_like_gives_ids_sizes_and_categories_without_the_images(converted, coco_mini, tmp_path):
    root = _foreign(tmp_path, converted["detect"], coco_mini)
    shutil.rmtree(root / "images")
    (root / "labels" / "val" / "extra.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    like = coco_mini / "annotations" / GT["detect"]
    with pytest.raises(InputError, match="image folder does not exist"):
        export(root, tmp_path / "plain")
    (split,) = export(root, tmp_path / "like", like=like).splits
    assert split.counts == {"labels_without_image": 1}
    data = json.loads(Path(split.path).read_bytes())
    original = json.loads(like.read_bytes())
    assert [im["id"] for im in data["images"]] == [im["id"] for im in original["images"]]
    assert data["categories"] == original["categories"]
    assert _score(COCO(str(like)), _as_results(data), "bbox") >= 0.99


def test_predictions_become_results_that_load_res_accepts(converted, coco_mini, tmp_path):
    gt_path = coco_mini / "annotations" / GT["segment"]
    gt = COCO(str(gt_path))
    for task, iou in (("detect", "bbox"), ("segment", "segm")):
        labels = tmp_path / task / "predict" / "labels"
        labels.mkdir(parents=True)
        for label in (converted[task] / "labels" / "val2017").iterdir():
            rows = [f"{line} 0.875" for line in label.read_text().splitlines()]
            if rows:  # Ultralytics writes no file for an image without detections
                (labels / label.name).write_text("\n".join(rows) + "\n")
        results = tmp_path / f"{task}.json"
        summary = export(labels.parent, results, predictions=True, like=gt_path)
        data = json.loads(results.read_bytes())
        assert summary.splits[0].task == task
        assert {r["score"] for r in data} == {0.875}
        assert all("id" not in r for r in data)
        if task == "segment":
            assert all(isinstance(r["segmentation"]["counts"], str) for r in data)
        assert _score(gt, str(results), iou) >= (0.99 if task == "detect" else 0.90)


def test_pose_predictions_keep_keypoint_confidences(converted, coco_mini, tmp_path):
    gt_path = coco_mini / "annotations" / GT["pose"]
    labels = tmp_path / "predict" / "labels"
    labels.mkdir(parents=True)
    for label in (converted["pose"] / "labels" / "val2017").iterdir():
        rows = [f"{line} 0.5" for line in label.read_text().splitlines()]
        if rows:
            (labels / label.name).write_text("\n".join(rows) + "\n")
    results = tmp_path / "pose.json"
    export(labels.parent, results, predictions=True, like=gt_path)
    data = json.loads(results.read_bytes())
    assert {len(r["keypoints"]) for r in data} == {51}
    assert _score(COCO(str(gt_path)), str(results), "keypoints") >= 0.95


# ------------------------------------------------------------------------- synthetic datasets


def _dataset(tmp_path: Path, labels: dict[str, str], names=("cat", "dog"), **extra) -> Path:
    """A foreign dataset of 20x10 PNG images named by ``labels``' keys."""
    root = tmp_path / "data"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    for stem, text in labels.items():
        Image.new("RGB", (20, 10)).save(root / "images" / "train" / f"{stem}.png")
        if text is not None:
            (root / "labels" / "train" / f"{stem}.txt").write_text(text)
    spec = {"path": str(root), "train": "images/train", "names": list(names), **extra}
    (root / "data.yaml").write_text(yaml.safe_dump(spec))
    return root


def test_boxes_in_pixels_and_background_images_listed(tmp_path):
    root = _dataset(tmp_path, {"b": "1 0.5 0.5 0.5 0.2\n", "a": "", "c": None})
    (split,) = export(root / "data.yaml", tmp_path / "out").splits
    data = json.loads(Path(split.path).read_bytes())
    assert [im["file_name"] for im in data["images"]] == ["a.png", "b.png", "c.png"]
    assert [im["id"] for im in data["images"]] == [1, 2, 3]
    assert data["annotations"] == [
        {
            "id": 1,
            "image_id": 2,
            "category_id": 2,
            "bbox": [5.0, 4.0, 10.0, 2.0],
            "area": 20.0,
            "iscrowd": 0,
        }
    ]
    assert (split.images, split.annotations, split.background_images) == (3, 1, 2)


def test_obb_root_exports_its_boxes_as_four_corner_polygons(coco_mini, tmp_path):
    # COCO has no rotated boxes: an obb row's four corners are a segment polygon.
    root = tmp_path / "root"
    cocoprep.convert([coco_mini / "annotations" / GT["segment"]], root, task="obb")
    (split,) = export(root, tmp_path / "out").splits
    data = json.loads(Path(split.path).read_bytes())
    rows = sum(len(f.read_text().splitlines()) for f in (root / "labels" / "val2017").iterdir())
    assert (split.task, split.annotations, len(data["annotations"])) == ("segment", rows, rows)
    assert {len(part) for a in data["annotations"] for part in a["segmentation"]} == {8}
    truth = json.loads((coco_mini / "annotations" / GT["segment"]).read_bytes())
    assert {im["id"] for im in data["images"]} == {im["id"] for im in truth["images"]}


def test_bridged_ring_splits_into_its_parts_with_pycocotools_area(tmp_path):
    # Two squares cocoprep joined with a zero-width bridge: out along the bridge and back.
    ring = "0.1 0.1 0.3 0.1 0.3 0.5 0.5 0.5 0.7 0.5 0.7 0.9 0.5 0.9 0.5 0.5 0.3 0.5 0.1 0.5"
    root = _dataset(tmp_path, {"1": f"0 {ring}\n"})
    data = json.loads(Path(export(root, tmp_path / "out").splits[0].path).read_bytes())
    (ann,) = data["annotations"]
    # The loop walked since (0.5, 0.5) first, then what is left; the bridge (two points) dropped.
    assert ann["segmentation"] == [
        [10.0, 5.0, 14.0, 5.0, 14.0, 9.0, 10.0, 9.0],
        [2.0, 1.0, 6.0, 1.0, 6.0, 5.0, 2.0, 5.0],
    ]
    from pycocotools import mask

    rle = mask.merge(mask.frPyObjects(ann["segmentation"], 10, 20))
    assert ann["area"] == float(mask.area(rle))
    assert ann["bbox"] == mask.toBbox(rle).tolist()


def test_an_image_with_hundreds_of_polygons_gets_every_mask_area(tmp_path):
    # pycocotools' area() cannot take more than 255 masks at once.
    rows = "".join(
        f"0 {x:g} 0.1 {x + 0.002:g} 0.1 {x + 0.002:g} 0.9\n" for x in np.arange(300) / 320
    )
    root = _dataset(tmp_path, {"1": rows, "2": "1 0.1 0.1 0.9 0.1 0.9 0.9 0.1 0.9\n"})
    data = json.loads(Path(export(root, tmp_path / "out").splits[0].path).read_bytes())
    assert [a["image_id"] for a in data["annotations"]] == [1] * 300 + [2]
    from pycocotools import mask

    for ann in data["annotations"]:
        rle = mask.merge(mask.frPyObjects(ann["segmentation"], 10, 20))
        assert ann["area"] == float(mask.area(rle))
    assert data["annotations"][-1]["bbox"] == [2.0, 1.0, 16.0, 8.0]


def test_mixed_tasks_are_an_error_naming_both_files(tmp_path):
    root = _dataset(tmp_path, {"1": "0 0.5 0.5 0.2 0.2\n", "2": "0 0.1 0.1 0.2 0.1 0.2 0.2\n"})
    with pytest.raises(InputError, match=r"mix tasks: .*1\.txt has box .*2\.txt has polygon"):
        export(root, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    # Asked for detect, polygons are read by their extent.
    (split,) = export(root, tmp_path / "out", task="detect").splits
    assert split.annotations == 2


def test_bad_rows_are_counted_not_exported(tmp_path):
    rows = "0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n0 0.5 x 0.2 0.2\n0 0.5 0.5\n"
    root = _dataset(tmp_path, {"1": rows})
    (split,) = export(root, tmp_path / "out").splits
    assert split.annotations == 1
    assert split.counts == {
        "unknown_class_rows": 1,
        "unparsable_rows": 1,
        "rows_of_wrong_length": 1,
    }


def test_pose_without_a_record_gets_coco_person_keypoints(tmp_path):
    keypoints = " ".join(["0.5 0.5 2"] * 16 + ["0 0 0"])
    root = _dataset(tmp_path, {"1": f"0 0.5 0.5 0.2 0.2 {keypoints}\n"}, kpt_shape=[17, 3])
    (split,) = export(root, tmp_path / "out").splits
    data = json.loads(Path(split.path).read_bytes())
    assert Path(split.path).name == "person_keypoints_train.json"
    (category,) = data["categories"][:1]
    assert category["keypoints"][0] == "nose" and category["skeleton"][0] == [16, 14]
    (ann,) = data["annotations"]
    assert ann["num_keypoints"] == 16
    assert ann["keypoints"][:3] == [10.0, 5.0, 2] and ann["keypoints"][-3:] == [0.0, 0.0, 0]


def test_missing_image_is_an_error_naming_it(tmp_path):
    root = _dataset(tmp_path, {"1": ""})
    listing = root / "train.txt"
    listing.write_text("./images/train/1.png\n./images/train/gone.png\n")
    (root / "data.yaml").write_text(
        yaml.safe_dump({"path": str(root), "train": "train.txt", "names": ["cat"]})
    )
    with pytest.raises(InputError, match=r"gone\.png: image not found"):
        export(root / "data.yaml", tmp_path / "out")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"task": "obb"}, r"task= must be one of"),
        ({"predictions": True}, r"pass the ground truth as like="),
        ({"split": "val"}, r"no split 'val' \(found train\)"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, pattern):
    root = _dataset(tmp_path, {"1": ""})
    with pytest.raises(InputError, match=pattern):
        export(root, tmp_path / "out", **kwargs)


def test_folder_without_yaml_or_record(tmp_path):
    (tmp_path / "labels").mkdir()
    with pytest.raises(InputError, match="no dataset yaml and no cocoprep record"):
        export(tmp_path, tmp_path / "out")


def test_like_with_recorded_root_keeps_the_record_class_map(tmp_path):
    images = [image(5, 20, 10), image(9, 20, 10)]
    anns = [polygon_annotation(1, 9, 18, square(2, 2, 4))]
    gt = write(tmp_path / "instances_train.json", coco(images, anns))
    root = tmp_path / "root"
    cocoprep.convert([gt], root, task="detect")
    (split,) = export(root, tmp_path / "out", like=gt).splits
    data = json.loads(Path(split.path).read_bytes())
    assert [im["id"] for im in data["images"]] == [5, 9]
    assert [(a["image_id"], a["category_id"], a["bbox"]) for a in data["annotations"]] == [
        (9, 18, [2.0, 2.0, 4.0, 4.0])
    ]


def test_convert_records_each_split_for_export_under_the_root_lock(tmp_path, monkeypatch):
    import fcntl

    from cocoprep.converter import pipeline

    images = [image(7, 20, 10, file_name="sub/a.jpg"), image(3, 30, 12)]
    anns = [polygon_annotation(1, 3, 18, square(2, 2, 4))]
    gt = write(tmp_path / "instances_train.json", coco(images, anns))
    root = tmp_path / "root"
    seen = []
    original = record.record_converted

    def locked_record(root_, split, coco_file):
        lock = root_ / layout.LOCKS / "root.lock"
        with open(lock, "rb") as other, pytest.raises(BlockingIOError):  # held by convert
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seen.append(split)
        return original(root_, split, coco_file)

    monkeypatch.setattr(pipeline.image_record, "record_converted", locked_record)
    cocoprep.convert([gt], root, task="detect")
    assert seen == ["train"]
    recorded = record.read_split(root, "train")
    assert recorded.ids.tolist() == [7, 3]
    assert recorded.file_names() == ["sub/a.jpg", "000000000003.jpg"]
    assert (recorded.widths.tolist(), recorded.heights.tolist()) == ([20, 30], [10, 12])
    assert recorded.categories == coco([], [])["categories"]
    assert not list((root / ".cocoprep").glob("*.tmp*"))
    # A later convert of the split replaces it; a failed one leaves it as it was.
    write(gt, coco([image(9, 40, 20)], []))
    cocoprep.convert([gt], root, task="detect")
    assert record.read_split(root, "train").ids.tolist() == [9]
    before = record.record_path(root, "train").read_bytes()
    write(gt, coco([image(9, 40, 20)], [polygon_annotation(1, 99, 18, square(1, 1, 2))]))
    with pytest.raises(InputError):
        cocoprep.convert([gt], root, task="detect")
    assert record.record_path(root, "train").read_bytes() == before


def test_cli_writes_the_files_and_prints_a_summary(tmp_path):
    root = _dataset(tmp_path, {"1": "0 0.5 0.5 0.2 0.2\n9 0.5 0.5 0.2 0.2\n"})
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        main, ["export", str(root), "--out", str(tmp_path / "out"), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "exported 1 images (1 split)" in result.output
    assert "train (detect): 1 annotations, 0 background images" in result.output
    assert "rows of a class not in the categories" in result.output
    assert json.loads(report.read_text())["totals"]["annotations"] == 1
    assert np.isclose(
        json.loads((tmp_path / "out" / "instances_train.json").read_text())["annotations"][0][
            "area"
        ],
        8.0,
    )


def test_cli_errors_name_flags(tmp_path):
    root = _dataset(tmp_path, {"1": ""})
    result = CliRunner().invoke(main, ["export", str(root), "--out", "o", "--predictions"])
    assert result.exit_code == 1
    assert (
        "Error: predictions carry file stems and class indices; pass the ground truth as --like"
        in result.output
    )

"""Tests for cocoprep.stats: counts against independent counts of random data, formats, CLI."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cocoprep.cli import main
from cocoprep.converter import convert
from cocoprep.errors import InputError
from cocoprep.stats import Facts, aggregate, coco_stats, stats

W, H = 200, 150
CATEGORIES = [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}, {"id": 40, "name": "emu"}]


def random_coco(seed: int, n_images: int = 30) -> dict:
    """Random COCO data: 1-3 part polygons, crowd RLE masks, images without annotations."""
    rng = np.random.default_rng(seed)
    images = [
        {"id": 100 + i, "file_name": f"{i:04d}.jpg", "width": W, "height": H}
        for i in range(n_images)
    ]
    annotations = []
    for image in images:
        for _ in range(rng.choice([0, 0, 1, 2, 4])):
            category = int(rng.choice([3, 7, 7, 40]))
            ann = {"id": len(annotations) + 1, "image_id": image["id"], "category_id": category}
            if rng.random() < 0.15:
                counts = [W * H // 2, 30, W * H - W * H // 2 - 30]
                ann.update(iscrowd=1, segmentation={"counts": counts, "size": [H, W]})
                ann["bbox"] = [0, 0, W, H]
            else:
                parts = []
                for _ in range(rng.choice([1, 1, 1, 2, 3])):
                    x, y = rng.uniform(10, W - 40), rng.uniform(10, H - 40)
                    k = int(rng.integers(3, 12))
                    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
                    points = np.c_[x + 15 * np.cos(angles), y + 15 * np.sin(angles)] + 15
                    parts.append(np.round(points, 2).ravel().tolist())
                flat = np.concatenate([np.reshape(p, (-1, 2)) for p in parts])
                low, high = flat.min(axis=0), flat.max(axis=0)
                ann.update(iscrowd=0, segmentation=parts, bbox=[*low, *(high - low)])
            annotations.append(ann)
    return {"images": images, "annotations": annotations, "categories": CATEGORIES}


def expected_counts(data: dict) -> tuple[dict, dict]:
    """Per-class and split counts computed plainly from the dicts (no cocoprep code)."""
    per = defaultdict(Counter)
    vertices = defaultdict(list)
    images_of = defaultdict(set)
    with_instances = set()
    for ann in data["annotations"]:
        c = per[ann["category_id"]]
        if ann["iscrowd"]:
            c["crowd"] += 1
            continue
        c["instances"] += 1
        images_of[ann["category_id"]].add(ann["image_id"])
        with_instances.add(ann["image_id"])
        parts = ann["segmentation"]
        c["multipart"] += len(parts) > 1
        vertices[ann["category_id"]].append(sum(len(p) // 2 for p in parts))
    for cid in images_of:
        per[cid]["images"] = len(images_of[cid])
    split = {
        "images": len(data["images"]),
        "background": len(data["images"]) - len(with_instances),
        "instances": sum(c["instances"] for c in per.values()),
        "crowd": sum(c["crowd"] for c in per.values()),
        "multipart": sum(c["multipart"] for c in per.values()),
        "vertices_max": max(v for vs in vertices.values() for v in vs),
    }
    return {cid: (per[cid], vertices[cid]) for cid in (3, 7, 40)}, split


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_counts_match_independent_counts(tmp_path: Path, seed: int) -> None:
    data = random_coco(seed)
    per_class, split = expected_counts(data)
    result = coco_stats(write_json(tmp_path / "instances_val2017.json", data))
    assert result.split == "val2017"
    assert (result.images, result.background) == (split["images"], split["background"])
    total = result.total
    assert (total.instances, total.crowd, total.multipart, total.vertices_max) == (
        split["instances"],
        split["crowd"],
        split["multipart"],
        split["vertices_max"],
    )
    assert [c.name for c in result.classes] == ["cat", "dog", "emu"]
    for item, cid in zip(result.classes, (3, 7, 40), strict=True):
        counts, vertices = per_class[cid]
        assert item.images == counts["images"]
        assert item.instances == counts["instances"]
        assert item.crowd == counts["crowd"]
        assert item.multipart == counts["multipart"]
        assert item.vertices_mean == pytest.approx(
            np.mean(vertices), abs=0.006
        )  # rounded to 2 decimals
        assert item.vertices_max == max(vertices)


@pytest.mark.parametrize("seed", [3, 4])
def test_root_counts_match_the_source(tmp_path: Path, seed: int) -> None:
    """Converted labels give the source's non-crowd counts; a merged row of k parts adds two
    bridge ends per bridge."""
    data = random_coco(seed)
    per_class, split = expected_counts(data)
    root = tmp_path / "root"
    convert([write_json(tmp_path / "instances_train2017.json", data)], root)
    result = stats(root)
    assert result.kind == "labels"
    (train,) = result.splits
    assert (train.split, train.images, train.background) == (
        "train2017",
        split["images"],
        split["background"],
    )
    assert train.total.crowd is None
    assert (train.total.instances, train.total.multipart) == (
        split["instances"],
        split["multipart"],
    )
    for item, cid in zip(train.classes, (3, 7, 40), strict=True):
        counts, _ = per_class[cid]
        assert (item.images, item.instances, item.multipart) == (
            counts["images"],
            counts["instances"],
            counts["multipart"],
        )
        written = [
            sum(len(p) // 2 for p in ann["segmentation"]) + 2 * (len(ann["segmentation"]) - 1)
            for ann in data["annotations"]
            if ann["category_id"] == cid and not ann["iscrowd"]
        ]
        assert item.vertices_mean == pytest.approx(
            np.mean(written), abs=0.006
        )  # rounded to 2 decimals


def test_root_label_rows(tmp_path: Path) -> None:
    """Boxes, polygons, a bridged two-part row, an empty file and a missing image, by hand."""
    root = tmp_path
    labels = root / "labels" / "val"
    images = root / "images" / "val"
    labels.mkdir(parents=True)
    images.mkdir(parents=True)
    for name in ("a", "b", "c", "d"):
        (images / f"{name}.jpg").write_bytes(b"")
    square = "0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2"
    other = "0.5 0.5 0.6 0.5 0.6 0.6"
    bridged = f"{square} 0.1 0.1 {other} 0.5 0.5"  # two parts, one bridge walked both ways
    (labels / "a.txt").write_text(f"0 0.5 0.5 0.2 0.2\n2 {square}\n2 {bridged}\n")
    (labels / "b.txt").write_text("2 0.5 0.5 0.1 0.1\n")
    (labels / "c.txt").write_text("")
    (root / "val.txt").write_text("./images/val/a.jpg\n./images/val/b.jpg\n./images/val/x.jpg\n")
    (val,) = stats(root).splits
    assert (val.images, val.background, val.missing_images) == (2, 0, 1)
    assert [(c.name, c.images, c.instances, c.multipart) for c in val.classes] == [
        ("class 0", 1, 1, 0),
        ("class 2", 2, 3, 1),
    ]
    assert (val.classes[1].vertices_mean, val.classes[1].vertices_max) == (6.5, 9)
    (root / "val.txt").unlink()  # now the folder: c and d are background images
    (val,) = stats(root).splits
    assert (val.images, val.background, val.missing_images) == (4, 2, 0)


def test_labels_only_split(tmp_path: Path) -> None:
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (tmp_path / "labels" / "train" / "b.txt").write_text("")
    (train,) = stats(tmp_path).splits
    assert (train.images, train.background, train.total.instances) == (2, 1, 1)
    assert "no images present" in train.source


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 0.5 zz 0.1 0.1\n", r"a\.txt:1: 'zz' is not a number; run cocoprep validate"),
        ("1.5 0.5 0.5 0.1 0.1\n", r"class 1\.5 is not a class index"),
        ("-1 0.5 0.5 0.1 0.1\n", r"class -1 is not a class index"),
    ],
)
def test_bad_label_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "labels" / "val").mkdir(parents=True)
    (tmp_path / "labels" / "val" / "a.txt").write_text(text)
    with pytest.raises(InputError, match=message):
        stats(tmp_path)


def test_bad_inputs(tmp_path: Path) -> None:
    data = random_coco(0, 3)
    data["annotations"][0]["category_id"] = "7"
    bad = write_json(tmp_path / "instances_x.json", data)
    with pytest.raises(InputError, match="expected integer image_id and category_id, found"):
        stats(bad)
    with pytest.raises(InputError, match="no such file or directory"):
        stats(tmp_path / "nope.json")
    root = tmp_path / "root"
    (root / "labels" / "val").mkdir(parents=True)
    with pytest.raises(InputError, match=r"found the root .* among 2 inputs"):
        stats([root, bad])


def test_unknown_category_and_image(tmp_path: Path) -> None:
    data = random_coco(5, 4)
    data["annotations"] += [
        {"id": 900, "image_id": 100, "category_id": 99, "iscrowd": 0, "segmentation": []},
        {"id": 901, "image_id": 5555, "category_id": 3, "iscrowd": 0, "segmentation": []},
    ]
    result = coco_stats(write_json(tmp_path / "instances_val.json", data))
    assert result.classes[-1].name == "category 99" and result.classes[-1].instances == 1
    assert result.classes[-1].vertices_mean is None


def test_aggregate_empty() -> None:
    empty = Facts.concat([])
    result = aggregate(empty, 5, [0, 1], ["a", "b"], split="s", source="x")
    assert (result.images, result.background, result.total.instances) == (5, 5, 0)
    assert result.total.vertices_mean is None


def test_formats(tmp_path: Path) -> None:
    data = random_coco(0)
    result = stats(write_json(tmp_path / "instances_val2017.json", data))
    as_json = json.loads(result.format("json"))
    assert as_json["kind"] == "annotations"
    assert as_json["splits"][0]["total"]["instances"] == result.splits[0].total.instances
    rows = list(csv.DictReader(io.StringIO(result.format("csv"))))
    assert [r["class"] for r in rows] == ["all", "cat", "dog", "emu"]
    assert rows[0]["background"] == str(result.splits[0].background)
    assert int(rows[2]["instances"]) == result.splits[0].classes[1].instances
    table = result.format("table")
    assert table.startswith("val2017: 30 images, ")
    assert "\ndog " in table and "\nall " in table
    with pytest.raises(InputError, match="format must be one of table, json, csv"):
        result.format("xml")


def test_cli(tmp_path: Path) -> None:
    source = write_json(tmp_path / "instances_val2017.json", random_coco(1))
    runner = CliRunner()
    result = runner.invoke(main, ["stats", str(source), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("split,class,images,instances,crowd")
    bad = runner.invoke(main, ["stats", str(source), "--format", "xml"])
    assert bad.exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = runner.invoke(main, ["stats", str(empty)])
    assert failed.exit_code == 1
    assert failed.output.startswith("Error: ") and "instances_*.json" in failed.output


def test_coco_mini(coco_mini: Path) -> None:
    """The real val2017 subset: 624 annotations, 5 crowd, 38 multi-part (its README)."""
    (val,) = stats(coco_mini / "annotations" / "instances_val2017.json").splits
    assert (val.images, val.total.instances + val.total.crowd) == (79, 624)
    assert (val.total.crowd, val.total.multipart) == (5, 38)


def test_obb_root_counts_one_four_corner_row_per_object(coco_mini: Path, tmp_path: Path) -> None:
    source = coco_mini / "annotations" / "instances_val2017.json"
    convert([source], tmp_path, task="obb")
    (val,) = stats(tmp_path).splits
    (coco_val,) = stats(source).splits
    assert val.total.instances == coco_val.total.instances == 619
    assert [c.instances for c in val.classes] == [c.instances for c in coco_val.classes]
    assert (val.total.multipart, val.total.vertices_mean, val.total.vertices_max) == (0, 4.0, 4)

"""Tests for the benchmark scripts: run with ``pytest benchmarks`` (not part of ``tests/``)."""

from __future__ import annotations

import sys
from pathlib import Path

import bench_convert
import generate
import numpy as np
import orjson
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

HAVE_REAL = (generate.COCO_MINI / "annotations" / "instances_val2017.json").is_file()


@pytest.fixture(scope="module")
def small_coco(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A 400-image coco-shaped file and its parsed content."""
    out = tmp_path_factory.mktemp("gen") / "instances_train2017.json"
    generate.generate(out, images=400, seed=3, jobs=2)
    return out, orjson.loads(out.read_bytes())


def test_coco_file_is_deterministic_whatever_the_worker_count(small_coco, tmp_path):
    out, _ = small_coco
    again = tmp_path / "again.json"
    generate.generate(again, images=400, seed=3, jobs=1)
    assert again.read_bytes() == out.read_bytes()
    generate.generate(again, images=400, seed=4, jobs=1)
    assert again.read_bytes() != out.read_bytes()


def test_coco_file_has_coco_key_order_ids_and_categories(small_coco):
    _, data = small_coco
    assert list(data) == ["info", "licenses", "images", "annotations", "categories"]
    anns = data["annotations"]
    assert len(data["images"]) == 400
    assert len(anns) == generate.default_annotations("coco", 400) == 2908
    assert list(anns[0]) == [
        "segmentation", "area", "iscrowd", "image_id", "bbox", "category_id", "id"
    ]  # fmt: skip
    assert list(data["images"][0]) == [
        "license", "file_name", "coco_url", "height", "width", "date_captured", "flickr_url", "id"
    ]  # fmt: skip
    assert len({a["id"] for a in anns}) == len(anns)
    assert len({im["id"] for im in data["images"]}) == 400
    cat_ids = [c["id"] for c in data["categories"]]
    assert len(cat_ids) == 80 and cat_ids[0] == 1 and cat_ids[-1] == 90 and 12 not in cat_ids
    assert {a["category_id"] for a in anns} <= set(cat_ids)
    image_order = [a["image_id"] for a in anns]
    assert image_order != sorted(image_order)  # shuffled, not grouped by image


def test_coco_polygons_are_inside_their_image_with_matching_bbox_and_area(small_coco):
    _, data = small_coco
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    solid = [a for a in data["annotations"] if not a["iscrowd"]]
    assert any(len(a["segmentation"]) > 1 for a in solid)
    for ann in solid:
        width, height = sizes[ann["image_id"]]
        parts = [np.array(p).reshape(-1, 2) for p in ann["segmentation"]]
        assert all(len(p) >= 3 for p in parts)
        xy = np.concatenate(parts)
        assert xy.min() >= 0 and xy[:, 0].max() <= width and xy[:, 1].max() <= height
        expected = [*xy.min(0), *np.ptp(xy, 0)]
        assert ann["bbox"] == pytest.approx(expected, abs=0.011)
        area = sum(shapely.area(shapely.polygons(p)) for p in parts)
        assert ann["area"] == pytest.approx(area, abs=1e-3)


def test_coco_crowds_are_uncompressed_rle_sized_to_their_image(small_coco):
    _, data = small_coco
    sizes = {im["id"]: (im["height"], im["width"]) for im in data["images"]}
    crowds = [a for a in data["annotations"] if a["iscrowd"]]
    assert 0.005 < len(crowds) / len(data["annotations"]) < 0.02
    for ann in crowds:
        seg = ann["segmentation"]
        assert seg["size"] == list(sizes[ann["image_id"]])
        assert str(ann["id"]).startswith("9") and str(ann["id"]).endswith(str(ann["image_id"]))
        rle = mask_utils.frPyObjects(seg, *seg["size"])
        assert mask_utils.area(rle) == ann["area"]
        assert mask_utils.toBbox(rle).tolist() == ann["bbox"]


def test_synthetic_polygons_when_real_shapes_are_not_wanted(tmp_path):
    out = tmp_path / "synthetic.json"
    summary = generate.generate(out, images=50, polygons_from="synthetic", jobs=1)
    assert summary["polygons"] == "synthetic"
    anns = orjson.loads(out.read_bytes())["annotations"]
    counts = [len(p) // 2 for a in anns if not a["iscrowd"] for p in a["segmentation"]]
    assert min(counts) >= 3 and 10 < np.mean(counts) < 40


def test_real_polygons_need_coco_mini(tmp_path):
    with pytest.raises(SystemExit, match="expected coco-mini annotations"):
        generate.shape_pool("real", 0, coco_mini=tmp_path)


@pytest.mark.skipif(not HAVE_REAL, reason="coco-mini not found")
def test_real_shape_pool_spans_triangles_to_hundreds_of_vertices():
    pool, used = generate.shape_pool("auto", 0)
    assert used == "real"
    assert pool.part_len.min() == 3 and pool.part_len.max() >= 300
    assert 15 < pool.part_len.mean() < 30
    assert 0.7 > (pool.parts > 1).mean() > 0.03


def test_objects365_shape_has_boxes_only_and_nested_names(tmp_path):
    out = tmp_path / "o365.json"
    generate.generate(out, images=70_000, annotations=1000, shape="objects365", jobs=2)
    data = orjson.loads(out.read_bytes())
    assert len(data["categories"]) == 365
    assert data["images"][0]["file_name"] == "images/v1/patch0/objects365_v1_00000001.jpg"
    assert data["images"][-1]["file_name"].startswith("images/v1/patch2/")
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    for ann in data["annotations"]:
        assert "segmentation" not in ann
        x, y, w, h = ann["bbox"]
        width, height = sizes[ann["image_id"]]
        assert w > 0 and h > 0 and x + w <= width + 0.01 and y + h <= height + 0.01


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(8, 700), st.integers(8, 700)), min_size=1, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_crowd_masks_decode_to_their_box_and_area(sizes, seed):
    rng = np.random.default_rng(seed)
    runs, bbox, area = generate.crowd_masks(rng, np.array(sizes))
    for (width, height), counts, box, pixels in zip(sizes, runs, bbox, area, strict=True):
        assert sum(counts) == width * height and min(counts[1:]) > 0
        rle = mask_utils.frPyObjects({"counts": counts, "size": [height, width]}, height, width)
        assert mask_utils.area(rle) == pixels
        assert mask_utils.toBbox(rle).tolist() == box.tolist()


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(1, 2000), st.integers(1, 2000)), min_size=0, max_size=20),
    seed=st.integers(0, 2**16),
)
def test_polygons_stay_inside_the_image_and_their_bbox(sizes, seed):
    pool = generate.pool_from_outlines(generate.star_outlines(np.random.default_rng(1), 30))
    arr = np.array(sizes, dtype=float).reshape(-1, 2)
    coords, part_len, parts, bbox, area = generate.polygons(np.random.default_rng(seed), pool, arr)
    assert len(parts) == len(bbox) == len(area) == len(sizes)
    assert part_len.sum() == len(coords) and parts.sum() == len(part_len)
    if sizes:
        owner = np.repeat(np.repeat(np.arange(len(sizes)), parts), part_len)
        assert (coords >= 0).all() and (coords <= arr[owner] + 1e-9).all()
        assert (coords >= bbox[owner, :2] - 1e-9).all()
        assert (coords <= bbox[owner, :2] + bbox[owner, 2:] + 0.011).all()
        assert (area >= 0).all()


def test_measure_sums_the_process_tree_and_reports_failure():
    child = "import time; b = bytearray(150 * 2**20); time.sleep(0.6)"
    parent = (
        "import subprocess, sys, time; b = bytearray(50 * 2**20); "
        f"subprocess.run([sys.executable, '-c', {child!r}]); sys.exit(3)"
    )
    m = bench_convert.measure([sys.executable, "-c", parent])
    assert m.returncode == 3
    assert m.wall >= 0.6
    assert m.peak_rss_max >= 150 * 2**20
    assert m.peak_rss_sum >= m.peak_rss_max + 50 * 2**20


FAKE_COCOPREP = """
import sys, pathlib
args = sys.argv[1:]
if args[-1] == "--help":
    sys.exit(0 if args[0] in ("convert", "--help") else 2)
root = pathlib.Path(args[args.index("--root") + 1]) / "labels" / "train2017"
root.mkdir(parents=True)
for i in range(3):
    (root / f"{i}.txt").write_text("0 0.5 0.5 0.1 0.1\\n")
"""


def test_runner_with_a_stand_in_cocoprep(tmp_path, capsys):
    fake = tmp_path / "fake_cocoprep.py"
    fake.write_text(FAKE_COCOPREP)
    results = tmp_path / "rows.json"
    argv = ["--scales", "60", "--tools", "cocoprep", "--data-dir", str(tmp_path / "data")]
    argv += ["--cocoprep-cmd", f"{sys.executable} {fake}", "--json", str(results)]
    assert bench_convert.main(argv) == 0
    table = capsys.readouterr().out
    assert "cocoprep" in table and "60 segment" in table and "startup" in table
    rows = orjson.loads(results.read_bytes())
    assert [r["what"] for r in rows] == ["startup", "60 segment"]
    assert rows[1]["files"] == 3 and rows[1]["annotations"] == 436 and rows[1]["returncode"] == 0
    assert not (tmp_path / "data" / "out" / "cocoprep-coco-60").exists()
    assert (tmp_path / "data" / "coco-60-s0" / "instances_train2017.json").is_file()

    assert bench_convert.main([*argv[:-2], "--validate"]) == 0
    assert "no `validate` command yet" in capsys.readouterr().err


def test_table_ratio_and_cost_curve():
    def fake(tool: str, what: str, wall: float, rss: int) -> dict:
        m = bench_convert.Measurement(wall, rss, rss, 0, "")
        return bench_convert.row(tool, what, 10, 100, m, 10)

    rows = [
        fake("cocoprep", "118k segment", 10.0, 2**30),
        fake("ultralytics", "118k segment", 40.0, 2**32),
        fake("cocoprep", "236k segment", 21.0, 2**30),
        fake("ultralytics", "236k segment", 100.0, 2**33),
    ]
    table = bench_convert.format_table(rows)
    assert "4.00 / 4.00" in table and "4.76 / 8.00" in table
    curve = bench_convert.cost_curve(rows, "118k segment", "236k segment")
    assert curve == [
        "cocoprep: 236k segment / 118k segment = 2.10x time, 1.00x memory (summed RSS)",
        "ultralytics: 236k segment / 118k segment = 2.50x time, 2.00x memory (summed RSS)",
    ]


def test_edits_bench_runs_every_edit_against_the_orjson_baseline(tmp_path, capsys):
    import bench_edits

    assert bench_edits.main(["--images", "200", "--data-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    for name in ("orjson loads + dumps", "split --stratify --group-by", "filter", "merge (itself"):
        assert name in text
    assert not list(tmp_path.glob("bench-edits-*"))  # outputs removed


def test_export_bench_times_each_task_beside_the_floor(tmp_path, capsys):
    import bench_export

    rows = tmp_path / "rows.json"
    args = ["--images", "200", "--data-dir", str(tmp_path), "--json", str(rows)]
    assert bench_export.main(args) == 0
    text = capsys.readouterr().out
    for name in ("detect: floor (first)", "detect: cocoprep export", "segment: cocoprep export"):
        assert name in text
    assert {r["role"] for r in orjson.loads(rows.read_bytes())} == {"convert", "floor", "export"}
    assert not list(tmp_path.glob("bench-export-*"))  # outputs removed

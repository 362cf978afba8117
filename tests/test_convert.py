"""convert: golden label text, real COCO reproduction, determinism, idempotence, bad input."""

from __future__ import annotations

import dataclasses
import fcntl
import importlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools import mask as mask_utils

from cocoprep.cli import main
from cocoprep.converter import Tuning, convert
from cocoprep.errors import ConflictError, InputError

from builders import coco, image, polygon_annotation, square, write

textstore = importlib.import_module("cocoprep.converter.textstore")
writer = importlib.import_module("cocoprep.converter.writer")
pipeline = importlib.import_module("cocoprep.converter.pipeline")


def read_labels(root: Path) -> dict[str, bytes]:
    """Every label file under ``root/labels`` by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "labels").rglob("*"))
        if p.is_file()
    }


# --- golden rows on synthetic data ------------------------------------------------------------


def test_segment_golden_rows_and_layout(tmp_path):
    data = coco(
        [image(1, 200, 100), image(2, 200, 100)],
        [
            polygon_annotation(10, 1, 3, square(20, 10, 50)),
            polygon_annotation(11, 1, 1, [0, 0, 250, 0, 250, 50]),  # beyond the right edge
        ],
    )
    source = write(tmp_path / "instances_val2017.json", data)
    summary = convert([source], tmp_path / "out")

    out = tmp_path / "out"
    assert (out / "labels/val2017/000000000001.txt").read_text() == (
        "1 0.1 0.1 0.35 0.1 0.35 0.6 0.1 0.6\n0 0 0 1 0 1 0.5\n"
    )
    assert (out / "labels/val2017/000000000002.txt").read_bytes() == b""  # background image
    assert (out / "val2017.txt").read_text() == (
        "./images/val2017/000000000001.jpg\n./images/val2017/000000000002.jpg\n"
    )
    assert summary.totals()["instances"] == 2
    assert summary.totals()["background_images"] == 1
    record = json.loads((out / "cocoprep.json").read_text())
    assert [c["id"] for c in record["classes"]] == [1, 3, 18]
    assert not list(out.rglob("*.tmp"))


def test_detect_rows_drop_crowd_empty_boxes_and_duplicates(tmp_path):
    box = polygon_annotation(1, 1, 18, square(64, 48, 64))
    data = coco(
        [image(1)],
        [
            box,
            dict(box, id=2),  # exact duplicate row
            dict(box, id=3, iscrowd=1),
            dict(box, id=4, bbox=[5, 5, 0, 10]),  # empty box
        ],
    )
    summary = convert([write(tmp_path / "instances_x.json", data)], tmp_path / "out", task="detect")
    assert (tmp_path / "out/labels/x/000000000001.txt").read_text() == (
        "2 0.150000 0.166667 0.100000 0.133333\n"
    )
    totals = summary.totals()
    assert totals["duplicates_dropped"] == 1
    assert totals["crowd_skipped"] == 1
    assert totals["empty_boxes_dropped"] == 1


def test_multipart_becomes_one_ring_with_every_vertex(tmp_path):
    left, right = square(10, 10, 20), square(100, 10, 20)
    data = coco([image(1, 200, 100)], [polygon_annotation(1, 1, 1, left, right)])
    convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out")
    row = (tmp_path / "out/labels/v/000000000001.txt").read_text().split()
    assert row[0] == "0" and len(row) > 1 + 16
    points = {(float(x), float(y)) for x, y in zip(row[1::2], row[2::2], strict=True)}
    for x, y in zip(left[0::2] + right[0::2], left[1::2] + right[1::2], strict=True):
        assert (round(x / 200, 6), round(y / 100, 6)) in points


def test_degenerate_polygon_falls_back_to_its_box(tmp_path):
    line = polygon_annotation(1, 1, 1, [10, 10, 50, 10, 10, 10], bbox=[10, 10, 40, 20])
    data = coco([image(1, 100, 100)], [line])
    summary = convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out")
    assert (tmp_path / "out/labels/v/000000000001.txt").read_text() == (
        "0 0.1 0.1 0.5 0.1 0.5 0.3 0.1 0.3\n"
    )
    assert summary.totals()["degenerate_replaced"] == 1


def test_segment_rows_are_never_box_rows(tmp_path):
    data = coco(
        [image(1)],
        [
            polygon_annotation(1, 1, 1, square(1, 1, 5)),
            dict(polygon_annotation(2, 1, 3, square(9, 9, 9)), segmentation=[]),
        ],
    )
    convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out")
    for line in (tmp_path / "out/labels/v/000000000001.txt").read_text().splitlines():
        assert len(line.split()) >= 7


def test_classes_keeps_named_classes_in_given_order(tmp_path):
    data = coco(
        [image(1)],
        [polygon_annotation(i, 1, c, square(i, i, 5)) for i, c in enumerate([1, 3, 18], start=1)],
    )
    summary = convert(
        [write(tmp_path / "instances_v.json", data)],
        tmp_path / "out",
        task="detect",
        classes=["dog", "person"],
    )
    rows = (tmp_path / "out/labels/v/000000000001.txt").read_text().splitlines()
    assert [r.split()[0] for r in rows] == ["1", "0"]
    assert summary.totals()["class_filtered"] == 1
    assert "0: dog" in (tmp_path / "out/coco.yaml").read_text()


def test_crowd_keep_converts_rle_with_its_hole(tmp_path):
    mask = np.zeros((60, 80), np.uint8)
    mask[10:50, 10:70] = 1
    mask[20:40, 30:50] = 0
    rle = mask_utils.encode(np.asfortranarray(mask))
    rle["counts"] = rle["counts"].decode()
    ann = {
        "id": 1,
        "image_id": 1,
        "category_id": 1,
        "iscrowd": 1,
        "segmentation": rle,
        "bbox": [10, 10, 60, 40],
        "area": float(mask.sum()),
    }
    data = coco([image(1, 80, 60)], [ann])
    convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out", crowd="keep")
    values = [float(v) for v in (tmp_path / "out/labels/v/000000000001.txt").read_text().split()]
    ring = np.array(values[1:]).reshape(-1, 2) * [80, 60]
    drawn = mask_utils.decode(mask_utils.frPyObjects([ring.ravel().tolist()], 60, 80))[:, :, 0]
    iou = (drawn & mask).sum() / (drawn | mask).sum()
    assert iou > 0.99


# --- the layout and the class map (issue: any COCO-format dataset) ---------------------------


def test_lvis_shaped_images_without_file_name_follow_coco_url(tmp_path):
    url = "http://images.cocodataset.org/train2017/000000000009.jpg"
    images = [{"id": 9, "width": 640, "height": 480, "coco_url": url}]
    data = coco(images, [dict(polygon_annotation(1, 9, 1, square(1, 1, 9)), iscrowd=None)])
    data["annotations"][0].pop("iscrowd")
    convert([write(tmp_path / "lvis_v1_val.json", data)], tmp_path / "out", split="val")
    assert (tmp_path / "out/labels/train2017/000000000009.txt").read_text().startswith("0 ")
    assert (tmp_path / "out/val.txt").read_text() == "./images/train2017/000000000009.jpg\n"


def test_nested_file_names_keep_their_folders(tmp_path):
    images = [image(1, file_name="patch0/objects365_v1_00000001.jpg")]
    data = coco(images, [polygon_annotation(1, 1, 1, square(1, 1, 9))])
    convert([write(tmp_path / "o365.json", data)], tmp_path / "out", split="train", task="detect")
    assert (tmp_path / "out/labels/train/patch0/objects365_v1_00000001.txt").is_file()


def test_class_map_is_reused_by_a_later_run(tmp_path):
    train = coco(
        [image(1)],
        [polygon_annotation(1, 1, 18, square(1, 1, 9))],
        categories=[{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}],
    )
    val = coco(
        [image(2)],
        [polygon_annotation(2, 2, 18, square(1, 1, 9))],
        categories=[{"id": 18, "name": "dog"}],
    )
    convert([write(tmp_path / "instances_train.json", train)], tmp_path / "out", task="detect")
    convert([write(tmp_path / "instances_val.json", val)], tmp_path / "out", task="detect")
    assert (tmp_path / "out/labels/train/000000000001.txt").read_text()[0] == "1"
    assert (tmp_path / "out/labels/val/000000000002.txt").read_text()[0] == "1"
    yaml_text = (tmp_path / "out/coco.yaml").read_text()
    assert "train: train.txt" in yaml_text and "val: val.txt" in yaml_text


def test_a_renamed_category_is_an_error(tmp_path):
    first = coco([image(1)], [], categories=[{"id": 1, "name": "person"}])
    second = coco([image(2)], [], categories=[{"id": 1, "name": "human"}])
    convert([write(tmp_path / "instances_a.json", first)], tmp_path / "out")
    with pytest.raises(ConflictError, match="category id 1 is 'human' in the input but 'person'"):
        convert([write(tmp_path / "instances_b.json", second)], tmp_path / "out")
    with pytest.raises(InputError, match=r"category id 1 is 'person' in .* but 'human'"):
        convert([tmp_path / "instances_a.json", tmp_path / "instances_b.json"], tmp_path / "o2")


def test_large_integer_ids_stay_exact(tmp_path):
    big = 900100174375
    data = coco([image(big)], [polygon_annotation(big + 1, big, 1, square(1, 1, 9))])
    convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out")
    assert (tmp_path / f"out/labels/v/{big:012d}.txt").read_text().startswith("0 ")


def test_crowd_heavy_export_is_reported(tmp_path, caplog):
    anns = [dict(polygon_annotation(i, 1, 1, square(i, i, 5)), iscrowd=1) for i in range(1, 4)]
    data = coco([image(1)], anns)
    with caplog.at_level("WARNING", logger="cocoprep"):
        summary = convert([write(tmp_path / "instances_v.json", data)], tmp_path / "out")
    assert summary.totals()["crowd_skipped"] == 3
    assert "--crowd keep" in caplog.text


def test_no_val_warning_waits_for_a_val_split_being_written(tmp_path, caplog):
    """``make -j``, one convert per split: train finishes while val is still being written."""
    source = write(tmp_path / "instances_train2017.json", coco([image(1)], []))
    root = tmp_path / "out"
    lock = root / ".cocoprep/split%20val2017.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as other_run, caplog.at_level("WARNING", logger="cocoprep"):
        fcntl.flock(other_run, fcntl.LOCK_EX)  # another open file: to flock, another run
        convert([source], root)
        assert "no val: split" not in caplog.text
        fcntl.flock(other_run, fcntl.LOCK_UN)
        convert([source], root)  # the val run is gone without a val split
    assert caplog.text.count("coco.yaml has no val: split (found train2017)") == 1


# --- determinism, idempotence, parallel paths --------------------------------------------------


def _many_images(tmp_path: Path, n: int = 300) -> Path:
    rng = np.random.default_rng(0)
    images = [image(i + 1, 320, 240) for i in range(n)]
    anns = []
    for k in range(4 * n):
        parts = [square(*rng.uniform(0, 200, 2), rng.uniform(1, 40)) for _ in range(1 + k % 3)]
        anns.append(
            polygon_annotation(k + 1, int(rng.integers(1, n + 1)), [1, 3, 18][k % 3], *parts)
        )
    return write(tmp_path / "instances_many.json", coco(images, anns), indent=1)


@pytest.mark.parametrize("task", ["segment", "detect", "obb"])
def test_output_is_identical_for_any_worker_count(tmp_path, task):
    source = _many_images(tmp_path)
    small = Tuning(chunk_bytes=16 << 10)
    serial = convert([source], tmp_path / "one", task=task, workers=1, tuning=small)
    parallel = Tuning(chunk_bytes=16 << 10, parallel_min_bytes=0, images_per_block=7)
    convert([source], tmp_path / "two", task=task, workers=2, tuning=parallel)
    assert read_labels(tmp_path / "one") == read_labels(tmp_path / "two")
    assert serial.totals()["instances"] > 1000


def test_rerun_writes_nothing_new(tmp_path):
    source = _many_images(tmp_path, 20)
    convert([source], tmp_path / "out")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.txt")}
    first = read_labels(tmp_path / "out")
    summary = convert([source], tmp_path / "out")
    assert read_labels(tmp_path / "out") == first
    assert summary.totals()["label_files_written"] == 0
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*.txt")} == before


def test_reconversion_with_fewer_images_removes_their_labels_only(tmp_path):
    root = tmp_path / "out"
    source = _many_images(tmp_path, 20)
    convert([source], root)
    data = json.loads(source.read_text())
    data["images"] = data["images"][:12]
    kept = {im["id"] for im in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in kept]
    fewer = write(tmp_path / "fewer" / "instances_many.json", data)
    outside = tmp_path / "outside.txt"
    outside.write_text("not a label")
    with open(root / "many.txt", "a", encoding="utf-8") as listed:  # a hostile line
        listed.write(f"./images/../../{outside.stem}.jpg\n")
    summary = convert([fewer], root)
    labels = sorted(p.name for p in (root / "labels" / "many").iterdir())
    assert labels == sorted(Path(im["file_name"]).stem + ".txt" for im in data["images"])
    assert summary.totals()["stale_labels_removed"] == 8
    assert "stale label files removed" in summary.format()
    assert outside.read_text() == "not a label"
    assert convert([fewer], root).totals().get("stale_labels_removed", 0) == 0


def _labelled_and_background(tmp_path: Path, n: int = 60, nested: bool = True) -> Path:
    """``n`` images (in three folders when ``nested``), the first half with 3 annotations each
    (every 7th annotation repeated under a new id, 26 in all), the second half background."""
    folders = ["", "patch0/", "patch1/"] if nested else [""] * 3
    images = [
        image(i, 320, 240, file_name=f"{folders[i % 3]}{i:012d}.jpg") for i in range(1, n + 1)
    ]
    anns = [
        polygon_annotation(k + 1, 1 + k % (n // 2), [1, 3, 18][k % 3], square(k, k % 150, 5))
        for k in range(3 * n)
    ]
    anns += [dict(a, id=10_000 + a["id"]) for a in anns[::7]]
    return write(tmp_path / "instances_many.json", coco(images, anns))


def _force_parallel_writes(monkeypatch, tmp_path: Path) -> tuple[Tuning, Path, list]:
    """A tuning that writes label files in blocks of at most 7 images (joined 3 at a time), by
    workers whatever the split's size, the text's temporary file in a folder of its own; that
    folder; and a list that records (workers, blocks) of each write phase."""
    shm = tmp_path / "shm"
    shm.mkdir()
    tuning = Tuning(
        write_parallel_min_images=0,
        min_images_per_block=1,
        images_per_block=7,
        images_per_join=3,
        shm_folder=str(shm),
        shm_headroom=0,
    )
    phases = []
    run_in_order = writer.run_in_order

    def recording(function, jobs, sizes, **options):
        if options.get("desc", "").startswith("labels "):
            phases.append((options["workers"], len(jobs)))
        return run_in_order(function, jobs, sizes, **options)

    monkeypatch.setattr(writer, "run_in_order", recording)
    return tuning, shm, phases


def test_parallel_writes_give_the_same_files_and_counts(tmp_path, monkeypatch):
    source = _labelled_and_background(tmp_path)
    serial = convert([source], tmp_path / "one", workers=1)
    tuning, shm, phases = _force_parallel_writes(monkeypatch, tmp_path)
    parallel = convert([source], tmp_path / "two", workers=2, tuning=tuning)
    assert phases == [(min(2, os.cpu_count() or 1), 9)]
    labels = read_labels(tmp_path / "two")
    assert labels == read_labels(tmp_path / "one")
    assert len(labels) == 60 and "labels/many/patch0/000000000001.txt" in labels
    assert parallel.totals() == serial.totals()
    assert parallel.totals()["duplicates_dropped"] == 26
    assert parallel.totals()["instances"] == 180
    assert parallel.totals()["background_images"] == 30
    assert list(shm.iterdir()) == []
    assert not list((tmp_path / "two").rglob("*.tmp"))


def test_parallel_rerun_leaves_right_files_untouched(tmp_path, monkeypatch):
    source = _labelled_and_background(tmp_path)
    tuning, _, _ = _force_parallel_writes(monkeypatch, tmp_path)
    out = tmp_path / "out"
    convert([source], out, workers=2, tuning=tuning)
    first = read_labels(out)
    (out / "labels/many/000000000003.txt").write_bytes(b"stale\n")
    before = {p: p.stat().st_mtime_ns for p in (out / "labels").rglob("*.txt")}
    summary = convert([source], out, workers=2, tuning=tuning)
    assert read_labels(out) == first
    totals = summary.totals()
    assert (totals["label_files_written"], totals["label_files_unchanged"]) == (1, 59)
    assert totals["duplicates_dropped"] == 26
    after = {p: p.stat().st_mtime_ns for p in (out / "labels").rglob("*.txt")}
    assert {p for p in after if after[p] != before[p]} == {out / "labels/many/000000000003.txt"}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_block_leaves_no_label_folder_stage_or_temp_file(tmp_path, monkeypatch, workers):
    source = _labelled_and_background(tmp_path, nested=False)
    tuning, shm, _ = _force_parallel_writes(monkeypatch, tmp_path)
    plan_trees = pipeline.plan_trees

    def plan_and_take_a_name(trees, folders, stages):
        plan_trees(trees, folders, stages)
        for stage in stages.values():  # a label file's name already taken: its block fails
            os.mkdir(f"{stage}/000000000040.txt")
        return stages

    monkeypatch.setattr(pipeline, "plan_trees", plan_and_take_a_name)
    out = tmp_path / "out"
    with pytest.raises(FileExistsError, match=r"000000000040\.txt"):
        convert([source], out, workers=workers, tuning=tuning)
    assert not (out / "labels").exists()  # nor the folder planning made for the stage
    assert list(shm.iterdir()) == []
    assert not list(out.rglob("*.tmp"))


def test_label_text_goes_to_the_temporary_directory_when_shm_is_small(tmp_path, monkeypatch):
    source = _labelled_and_background(tmp_path, 6)
    tuning, shm, _ = _force_parallel_writes(monkeypatch, tmp_path)
    tuning = dataclasses.replace(tuning, shm_headroom=1 << 62)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    text_file, made = pipeline.label_text_file, []

    def recording(size_hint, tuning):
        made.append(text_file(size_hint, tuning))
        return made[-1]

    monkeypatch.setattr(pipeline, "label_text_file", recording)
    convert([source], tmp_path / "out", workers=1, tuning=tuning)
    assert [Path(p).parent for p in made] == [tmp_path / "tmp"]
    assert list((tmp_path / "tmp").iterdir()) == [] == list(shm.iterdir())


def test_images_are_hard_linked_not_symlinked(tmp_path):
    data = coco([image(1)], [])
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs/000000000001.jpg").write_bytes(b"jpeg")
    convert(
        [write(tmp_path / "instances_v.json", data)], tmp_path / "out", images=tmp_path / "imgs"
    )
    linked = tmp_path / "out/images/v/000000000001.jpg"
    assert linked.read_bytes() == b"jpeg" and not linked.is_symlink()
    assert os.path.samefile(linked, tmp_path / "imgs/000000000001.jpg")


def test_unusual_layout_falls_back_to_a_whole_parse(tmp_path):
    # Keys in an order and spacing the byte-range reader does not expect still convert.
    data = coco([image(1)], [polygon_annotation(1, 1, 1, square(1, 1, 9))])
    text = json.dumps(
        {
            "annotations": data["annotations"],
            "extra": {"images": 3},
            "categories": data["categories"],
            "images": data["images"],
        }
    )
    source = tmp_path / "instances_v.json"
    source.write_text(text)
    convert([source], tmp_path / "out")
    assert (tmp_path / "out/labels/v/000000000001.txt").read_text().startswith("0 ")


# --- bad input: one clear error, nothing written for the split -------------------------------


def _bad(tmp_path: Path, mutate) -> Path:
    data = coco([image(1), image(2)], [polygon_annotation(1, 1, 1, square(1, 1, 9))])
    mutate(data)
    return write(tmp_path / "instances_bad.json", data)


BAD_INPUTS = [
    (lambda d: d["annotations"][0].update(image_id=99), "annotation 1: image_id 99 is not"),
    (lambda d: d["annotations"][0].update(category_id=5), "category_id 5 is not among"),
    (lambda d: d["images"][1].update(width=0), "image 2 has width 0"),
    (lambda d: d["images"][1].pop("height"), "image 2 has height None"),
    (lambda d: d["images"][0].update(id="1"), "image id '1' is a str"),
    (lambda d: d["annotations"][0].update(image_id=1.0), "must be integers"),
    (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3]]), "even number"),
    (lambda d: d["annotations"][0].update(segmentation=[[1, 2, "x", 4, 5, 6]]), "numbers"),
    (lambda d: d.pop("categories"), "'categories' is missing"),
    (lambda d: d["images"].append(image(1)), "image id 1 appears more than once"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_INPUTS)
def test_bad_input_gives_one_clear_error_and_no_output(tmp_path, mutate, message):
    source = _bad(tmp_path, mutate)
    with pytest.raises(InputError, match=message) as error:
        convert([source], tmp_path / "out")
    assert "\n" not in str(error.value)
    assert str(source) in str(error.value)
    assert not (tmp_path / "out/labels").exists()


def test_invalid_json_names_its_position(tmp_path):
    source = tmp_path / "instances_v.json"
    source.write_text('{"images": [{"id": 1,, }], "annotations": []}')
    with pytest.raises(InputError, match=r"invalid JSON at line 1, column \d+"):
        convert([source], tmp_path / "out")


def test_non_finite_coordinates_are_rejected(tmp_path):
    data = coco([image(1)], [polygon_annotation(1, 1, 1, square(1, 1, 9))])
    source = tmp_path / "instances_v.json"
    source.write_text(json.dumps(data).replace("10, 1, 10, 10", "1e999, 1, 10, 10", 1))
    with pytest.raises(InputError, match="infinity"):
        convert([source], tmp_path / "out")


def test_not_coco_and_missing_files(tmp_path):
    listing = write(tmp_path / "list.json", [1, 2, 3])
    with pytest.raises(InputError, match="not a COCO file"):
        convert([listing], tmp_path / "out")
    with pytest.raises(InputError, match="no such file"):
        convert([tmp_path / "nope.json"], tmp_path / "out")


# --- real COCO (shared/data/coco-mini) ---------------------------------------------------------


def test_detect_reproduces_the_official_labels(coco_mini, tmp_path):
    convert([coco_mini / "annotations/instances_val2017.json"], tmp_path, task="detect")
    reference = sorted((coco_mini / "reference/detect-labels/val2017").glob("*.txt"))
    assert reference
    for ref in reference:
        assert (tmp_path / "labels/val2017" / ref.name).read_bytes() == ref.read_bytes()


def test_pose_reproduces_the_official_labels(coco_mini, tmp_path):
    convert([coco_mini / "annotations/person_keypoints_val2017.json"], tmp_path, task="pose")
    for ref in (coco_mini / "reference/pose-labels/val2017").glob("*.txt"):
        assert (tmp_path / "labels/val2017" / ref.name).read_bytes() == ref.read_bytes()
    assert "kpt_shape: [17, 3]" in (tmp_path / "coco.yaml").read_text()


def test_pose_and_other_rows_never_share_a_root(coco_mini, tmp_path):
    """Pose rows read as polygons elsewhere: a yaml with kpt_shape over box labels trains
    nothing (the record used to take the later split's task)."""
    annotations = coco_mini / "annotations"
    convert([annotations / "instances_val2017.json"], tmp_path, task="detect")
    with pytest.raises(ConflictError, match=r"holds detect splits \(val2017\); keypoints"):
        convert([annotations / "person_keypoints_train2017.json"], tmp_path, task="pose")
    assert "kpt_shape" not in (tmp_path / "coco.yaml").read_text()
    assert not (tmp_path / "labels/train2017").exists()


def _segment_ious(coco_mini: Path, root: Path, split: str, crowd: bool) -> list[float]:
    data = json.loads((coco_mini / f"annotations/instances_{split}.json").read_text())
    images = {i["id"]: i for i in data["images"]}
    by_image: dict[int, list] = {}
    for ann in data["annotations"]:
        if bool(ann["iscrowd"]) == crowd:
            by_image.setdefault(ann["image_id"], []).append(ann)
    ious = []
    for image_id, anns in by_image.items():
        info = images[image_id]
        h, w = info["height"], info["width"]
        rows = (root / f"labels/{split}" / info["file_name"]).with_suffix(".txt").read_text()
        rows = [r for r in rows.splitlines() if r]
        if crowd:
            rows = rows[-len(anns) :]  # crowd rows come where their annotations stand
        assert len(rows) >= len(anns) if crowd else len(rows) == len(anns)
        for ann, row in zip(anns, rows, strict=False):
            seg = ann["segmentation"]
            rle = (
                mask_utils.frPyObjects(seg, h, w)
                if isinstance(seg, dict)
                else mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
            )
            source = mask_utils.decode(rle)
            ring = np.array([float(v) for v in row.split()[1:]]).reshape(-1, 2) * [w, h]
            drawn = mask_utils.decode(mask_utils.frPyObjects([ring.ravel().tolist()], h, w))
            drawn = drawn[:, :, 0]
            ious.append((source & drawn).sum() / max((source | drawn).sum(), 1))
    return ious


def test_segment_polygons_match_their_source_masks(coco_mini, tmp_path):
    for split in ("val2017", "train2017"):
        convert([coco_mini / f"annotations/instances_{split}.json"], tmp_path)
        ious = _segment_ious(coco_mini, tmp_path, split, crowd=False)
        assert np.mean(ious) >= 0.998, (split, np.mean(ious), min(ious))
    every = {p.stem for p in (coco_mini / "images/val2017").glob("*.jpg")}
    assert {p.stem for p in (tmp_path / "labels/val2017").glob("*.txt")} == every


def test_crowd_masks_kept_match_at_099(coco_mini, tmp_path):
    val = coco_mini / "annotations/instances_val2017.json"
    data = json.loads(val.read_text())
    crowd_only = dict(data, annotations=[a for a in data["annotations"] if a["iscrowd"]])
    source = write(tmp_path / "instances_val2017.json", crowd_only)
    convert([source], tmp_path / "out", crowd="keep")
    ious = _segment_ious(coco_mini, tmp_path / "out", "val2017", crowd=True)
    assert len(ious) == 5 and np.mean(ious) >= 0.99, ious


def test_a_missing_image_stops_before_any_label_is_written(tmp_path):
    data = coco([image(1), image(2)], [])
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs/000000000001.jpg").write_bytes(b"jpeg")
    with pytest.raises(InputError, match=r"image 000000000002.jpg not found"):
        convert(
            [write(tmp_path / "instances_v.json", data)], tmp_path / "out", images=tmp_path / "imgs"
        )
    assert not (tmp_path / "out/labels").exists()


def test_images_that_would_share_a_label_file_are_refused(tmp_path):
    images = [image(1, file_name="a.jpg"), image(2, file_name="a.png"), image(3)]
    source = write(tmp_path / "instances_v.json", coco(images, []))
    result = CliRunner().invoke(main, ["convert", str(source), "--root", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {source}: images v/a.jpg and v/a.png would share one label file (v/a.txt): "
        "Ultralytics finds labels by the image path without its extension; rename one of them"
    ]
    assert not (tmp_path / "out" / "labels").exists()

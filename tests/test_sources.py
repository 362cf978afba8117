"""Exports of labelling tools (cocoprep.sources), each built in code with the quirks of its tool,
converted with one command, checked row by row against the official box rule and read back as
Ultralytics reads the dataset yaml."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from cocoprep.cli import main
from cocoprep.errors import InputError
from cocoprep.sources import find_sources

from builders import write

# --- the official rule and Ultralytics' reading -------------------------------------------------


def official_box_rows(data: dict, class_of: dict[int, int]) -> dict[str, str]:
    """``{image stem: label text}`` by the official box rule (Ultralytics' JSON2YOLO): crowd
    skipped, centre and size over the image size, boxes with w or h <= 0 dropped, exact repeats of
    an image dropped, ``%.6f``; every image gets a file."""
    rows: dict[int, list[str]] = {image["id"]: [] for image in data["images"]}
    size = {image["id"]: (image["width"], image["height"]) for image in data["images"]}
    for ann in data["annotations"]:
        if ann.get("iscrowd") or ann["category_id"] not in class_of:
            continue
        w, h = size[ann["image_id"]]
        box = np.array(ann["bbox"], dtype=np.float64)
        box[:2] += box[2:] / 2
        box[[0, 2]] /= w
        box[[1, 3]] /= h
        if box[2] <= 0 or box[3] <= 0:
            continue
        row = f"{class_of[ann['category_id']]} " + " ".join(f"{v:.6f}" for v in box)
        if row not in rows[ann["image_id"]]:
            rows[ann["image_id"]].append(row)
    stems = {image["id"]: Path(image["file_name"]).stem for image in data["images"]}
    return {stems[i]: "".join(f"{r}\n" for r in found) for i, found in rows.items()}


def ultralytics_reads(yaml_path: Path) -> dict:
    """What Ultralytics' check_det_dataset and img2label_paths see: the yaml's keys (train and
    val required), nc from names, every image of each list file and its label file (the last
    ``/images/`` of the image path replaced by ``/labels/``), both existing."""
    data = yaml.safe_load(yaml_path.read_text())
    assert "train" in data and "val" in data, data
    assert "nc" not in data or data["nc"] == len(data["names"])
    base = Path(data["path"])
    seen = {"nc": len(data["names"]), "names": data["names"]}
    for key in ("train", "val", "test"):
        if key not in data:
            continue
        listed = base / data[key]
        parent = f"{listed.parent}/"
        images = [
            Path(line.replace("./", parent) if line.startswith("./") else line)
            for line in listed.read_text().splitlines()
        ]
        for image in images:
            assert image.is_file(), image
        labels = [
            Path("/labels/".join(str(i).rsplit("/images/", 1))).with_suffix(".txt") for i in images
        ]
        seen[key] = {label.stem: label.read_text() for label in labels}
    return seen


def convert_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["convert", *args])
    return result.exit_code, result.output


# --- the exports, as each tool writes them ------------------------------------------------------


def random_boxes(rng: random.Random, images: list[dict], category_ids: list[int]) -> list[dict]:
    """Box-only annotations (``segmentation: []``, as Roboflow, CVAT and Label Studio write
    rectangles), with an empty box and an exact repeat among them; some images stay empty."""
    anns = []
    for image in images[:-1]:  # the last image is a background image
        for _ in range(rng.randint(1, 4)):
            w = round(rng.uniform(1, image["width"] / 2), 2)
            h = round(rng.uniform(1, image["height"] / 2), 2)
            x = round(rng.uniform(0, image["width"] - w), 2)
            y = round(rng.uniform(0, image["height"] - h), 2)
            anns.append(
                {
                    "image_id": image["id"],
                    "category_id": rng.choice(category_ids),
                    "bbox": [x, y, w, h],
                    "area": round(w * h, 2),
                    "segmentation": [],
                    "iscrowd": 0,
                }
            )
    anns.append(dict(anns[0]))  # the exact repeat
    anns.append(dict(anns[0], bbox=[5, 5, 0, 10], area=0))  # the empty box
    return [dict(ann, id=i) for i, ann in enumerate(anns)]


def put_images(folder: Path, names: list[str]) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())


ROBOFLOW_SPLITS = ("train", "valid", "test")


def roboflow_export(tmp_path: Path, seed: int = 0) -> Path:
    """A Roboflow COCO export: train/valid/test, each an ``_annotations.coco.json`` beside its
    images (``<name>_jpg.rf.<hash>.jpg``); category 0 a placeholder named after the project
    (differently in each file), supercategory ``none``, the supercategory of every real class and
    used by no annotation; in train, file names relative to the tool's folder (``../train/``,
    ``./``)."""
    rng = random.Random(seed)
    export = tmp_path / "Pets.v3i.coco"
    put_images(export, ["README.roboflow.txt", "README.dataset.txt"])
    for s, split in enumerate(ROBOFLOW_SPLITS):
        project = ("pets", "pets-5rxq", "Pets")[s]
        categories = [{"id": 0, "name": project, "supercategory": "none"}] + [
            {"id": i, "name": name, "supercategory": project}
            for i, name in enumerate(("cat", "dog", "rabbit"), 1)
        ]
        names = [f"img{k}_jpg.rf.{rng.getrandbits(40):010x}.jpg" for k in range(4)]
        images = [
            {
                "id": k,
                "license": 1,
                "file_name": name,
                "height": rng.choice((416, 480, 640)),
                "width": rng.choice((416, 640)),
                "date_captured": "2026-01-05T10:00:00+00:00",
            }
            for k, name in enumerate(names)
        ]
        if split == "train":
            images[0]["file_name"] = f"../train/{names[0]}"
            images[1]["file_name"] = f"./{names[1]}"
        data = {
            "info": {"year": "2026", "description": "Exported from roboflow.com"},
            "licenses": [{"id": 1, "name": "CC BY 4.0"}],
            "categories": categories,
            "images": images,
            "annotations": random_boxes(rng, images, [1, 2, 3]),
        }
        write(export / split / "_annotations.coco.json", data)
        put_images(export / split, names)
    return export


def cvat_export(tmp_path: Path, subsets: tuple[str, ...], nested: bool) -> Path:
    """A CVAT "COCO 1.0" export: ``annotations/instances_<subset>.json`` and the images under
    ``images/<subset>/`` (``nested``) or ``images/``; supercategory empty, ids from 1."""
    rng = random.Random(1)
    export = tmp_path / "task_7_dataset_2026_01_05_coco 1.0"
    categories = [{"id": 1, "name": "car", "supercategory": ""}, {"id": 2, "name": "bus"}]
    for s, subset in enumerate(subsets):
        names = [f"frame_{s}{k:05d}.PNG" for k in range(3)]
        images = [
            {
                "id": k + 1,
                "width": 1280,
                "height": 720,
                "file_name": name,
                "license": 0,
                "flickr_url": "",
                "coco_url": "",
                "date_captured": 0,
            }
            for k, name in enumerate(names)
        ]
        anns = [dict(a, attributes={"occluded": False}) for a in random_boxes(rng, images, [1, 2])]
        data = {"licenses": [], "info": {}, "categories": categories, "images": images}
        write(export / "annotations" / f"instances_{subset}.json", dict(data, annotations=anns))
        put_images(export / "images" / (subset if nested else ""), names)
    return export


def label_studio_export(tmp_path: Path) -> Path:
    """A Label Studio COCO export: ``result.json`` beside ``images/``; file names relative to
    the export (``images/<hash>-<name>``), category ids from 0 without supercategory, integer
    boxes."""
    rng = random.Random(2)
    export = tmp_path / "project-3-at-2026-01-05-10-00-5d3e0c1a"
    names = [f"images/{rng.getrandbits(32):08x}-photo{k}.jpg" for k in range(3)]
    images = [
        {"width": 800, "height": 600, "id": k, "file_name": name} for k, name in enumerate(names)
    ]
    anns = random_boxes(rng, images, [0, 1])
    for ann in anns:
        ann["bbox"] = [int(v) for v in ann["bbox"]]
        ann["ignore"] = 0
    data = {
        "images": images,
        "categories": [{"id": 0, "name": "apple"}, {"id": 1, "name": "pear"}],
        "annotations": anns,
        "info": {"year": 2026, "version": "1.0", "contributor": "Label Studio"},
    }
    write(export / "result.json", data)
    put_images(export, names)
    return export


def coco_folder_export(tmp_path: Path) -> Path:
    """The COCO layout as a tool writes it: ``annotations/instances_<split>.json`` beside
    ``<split>/``, file names relative to the tool's working folder (``../train2017/``,
    ``./val2017/``)."""
    rng = random.Random(3)
    export = tmp_path / "coco-like"
    for split, prefix in (("train2017", "../train2017/"), ("val2017", f"./{'val2017'}/")):
        names = [f"{k:03d}.JPG" for k in range(3)]
        images = [
            {"id": k, "width": 500, "height": 375, "file_name": prefix + name}
            for k, name in enumerate(names)
        ]
        data = {
            "images": images,
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
            "annotations": random_boxes(rng, images, [1, 2]),
        }
        write(export / "annotations" / f"instances_{split}.json", data)
        put_images(export / split, names)
    return export


def load(path: Path) -> dict:
    return json.loads(path.read_text())


# --- each export in one command -----------------------------------------------------------------


def test_roboflow_export_converts_in_one_command(tmp_path):
    export = roboflow_export(tmp_path)
    root = tmp_path / "root"
    code, output = convert_cli(str(export), "--root", str(root), "--task", "detect")
    assert code == 0, output
    seen = ultralytics_reads(root / "coco.yaml")
    assert seen["names"] == {0: "cat", 1: "dog", 2: "rabbit"} and seen["nc"] == 3
    for split, key in zip(ROBOFLOW_SPLITS, ("train", "val", "test"), strict=True):
        data = load(export / split / "_annotations.coco.json")
        expected = official_box_rows(data, {1: 0, 2: 1, 3: 2})
        assert seen[key] == expected, split  # row by row, every image (one is background)
        assert any(text == "" for text in expected.values())
        written = {p.stem: p.read_text() for p in (root / "labels" / split).glob("*.txt")}
        assert written == expected  # directly under labels/<split>/, climbing names too
    for image in load(export / "train/_annotations.coco.json")["images"]:
        name = Path(image["file_name"]).name
        assert (root / "images/train" / name).read_bytes() == name.encode()
    assert "./images/train/img0_jpg" in (root / "train.txt").read_text()
    assert "/./" not in (root / "train.txt").read_text()
    assert "placeholder category left out (no annotation uses it): 'Pets' (id 0)" in output
    assert "'pets' (id 0), 'pets-5rxq' (id 0)" in output
    assert "image paths reduced to their name" in output
    record = load(root / "cocoprep.json")
    assert record["splits"]["valid"]["placeholder_category"] == {"id": 0, "name": "pets-5rxq"}
    assert [c["id"] for c in record["classes"]] == [1, 2, 3]


def test_roboflow_split_files_one_by_one_into_one_root(tmp_path):
    export = roboflow_export(tmp_path)
    root = tmp_path / "root"
    for split in ROBOFLOW_SPLITS:
        path = export / split / "_annotations.coco.json"
        code, output = convert_cli(str(path), "--root", str(root), "--task", "detect", "-q")
        assert code == 0, output
    seen = ultralytics_reads(root / "coco.yaml")
    assert seen["nc"] == 3 and sorted(seen) == ["names", "nc", "test", "train", "val"]
    for split, key in zip(ROBOFLOW_SPLITS, ("train", "val", "test"), strict=True):
        data = load(export / split / "_annotations.coco.json")
        assert seen[key] == official_box_rows(data, {1: 0, 2: 1, 3: 2})  # images linked too


def test_a_used_category_0_is_a_class(tmp_path):
    export = roboflow_export(tmp_path)
    path = export / "train/_annotations.coco.json"
    data = load(path)
    data["annotations"][0]["category_id"] = 0
    write(path, data)
    root = tmp_path / "root"
    code, output = convert_cli(str(path), "--root", str(root), "--task", "detect", "-q")
    assert code == 0, output
    names = yaml.safe_load((root / "coco.yaml").read_text())["names"]
    assert names == {0: "pets", 1: "cat", 2: "dog", 3: "rabbit"}


@pytest.mark.parametrize("nested", [True, False])
def test_cvat_export_of_one_subset_is_the_train_set(tmp_path, nested):
    export = cvat_export(tmp_path, ("default",), nested)
    root = tmp_path / "root"
    code, output = convert_cli(str(export), "--root", str(root), "--task", "detect")
    assert code == 0, output
    assert "coco.yaml has no val: split (found train), which Ultralytics needs" in output
    data = load(export / "annotations/instances_default.json")
    expected = official_box_rows(data, {1: 0, 2: 1})
    written = {p.stem: p.read_text() for p in (root / "labels/train").glob("*.txt")}
    assert written == expected
    assert (root / "images/train/frame_000000.PNG").is_file()
    # One set: the yaml names val: only once a val split exists (the warning above).
    data = yaml.safe_load((root / "coco.yaml").read_text())
    assert data["train"] == "train.txt" and data["names"] == {0: "car", 1: "bus"}


def test_cvat_export_with_train_and_validation_subsets(tmp_path):
    export = cvat_export(tmp_path, ("Train", "Validation"), nested=True)
    root = tmp_path / "root"
    code, output = convert_cli(str(export), "--root", str(root), "--task", "detect", "-q")
    assert code == 0, output
    seen = ultralytics_reads(root / "coco.yaml")
    for subset, key in (("Train", "train"), ("Validation", "val")):
        data = load(export / f"annotations/instances_{subset}.json")
        assert seen[key] == official_box_rows(data, {1: 0, 2: 1})


def test_label_studio_export(tmp_path):
    export = label_studio_export(tmp_path)
    root = tmp_path / "root"
    code, output = convert_cli(str(export), "--root", str(root), "--task", "detect", "-q")
    assert code == 0, output
    data = load(export / "result.json")
    expected = official_box_rows(data, {0: 0, 1: 1})  # id 0 is a real class here
    yaml_data = yaml.safe_load((root / "coco.yaml").read_text())
    assert yaml_data["train"] == "train.txt" and yaml_data["names"] == {0: "apple", 1: "pear"}
    # File names are relative to the export (images/<name>): the images go to images/train/.
    listed = (root / "train.txt").read_text().splitlines()
    assert listed == [f"./images/train/{Path(i['file_name']).name}" for i in data["images"]]
    assert all((root / line).is_file() for line in listed)
    written = {p.stem: p.read_text() for p in (root / "labels/train").glob("*.txt")}
    assert written == expected


def test_label_studio_file_given_alone_and_upload_paths(tmp_path):
    """result.json named by itself finds images/ too; a file_name Label Studio left as its
    upload path (absolute) is looked up by its name there."""
    export = label_studio_export(tmp_path)
    data = load(export / "result.json")
    name = Path(data["images"][0]["file_name"]).name
    data["images"][0]["file_name"] = f"/data/upload/3/{name}"
    write(export / "result.json", data)
    root = tmp_path / "root"
    code, output = convert_cli(str(export / "result.json"), "--root", str(root), "--task", "detect")
    assert code == 0, output
    assert (root / "images/train" / name).is_file()
    assert (root / "labels/train" / name).with_suffix(".txt").read_text() == (
        official_box_rows(data, {0: 0, 1: 1})[Path(name).stem]
    )


def test_coco_folder_with_climbing_and_dotted_file_names(tmp_path):
    export = coco_folder_export(tmp_path)
    root = tmp_path / "root"
    code, output = convert_cli(str(export), "--root", str(root), "--task", "detect")
    assert code == 0, output
    for split in ("train2017", "val2017"):
        data = load(export / f"annotations/instances_{split}.json")
        expected = official_box_rows(data, {1: 0, 2: 1})
        lines = (root / f"{split}.txt").read_text().splitlines()
        assert "/./" not in "".join(lines) and "../" not in "".join(lines)
        labels = {}
        for line in lines:
            assert (root / line).is_file(), line
            label = Path("/labels/".join(str(root / line).rsplit("/images/", 1)))
            labels[label.stem] = label.with_suffix(".txt").read_text()
        assert labels == expected
    # ../train2017/000.JPG: by its name, directly under labels/train2017/.
    assert (root / "train2017.txt").read_text().splitlines()[0] == "./images/train2017/000.JPG"
    # ./val2017/000.JPG: the ./ dropped, the rest kept as any subfolder is.
    assert (root / "val2017.txt").read_text().splitlines()[0] == (
        "./images/val2017/val2017/000.JPG"
    )
    assert re.search(r"image paths reduced to their name +3\n", output)
    assert not (tmp_path / "train2017").exists() and not (root.parent / "labels").exists()


def test_coco_mini_as_a_roboflow_export_gives_the_official_labels(coco_mini, tmp_path):
    """Real COCO rearranged as Roboflow writes it (placeholder category 0, valid/ beside
    train/, images beside the files, ../ file names): the official detect labels come out."""
    export = tmp_path / "coco-mini.v1i.coco"
    for split, folder in (("train2017", "train"), ("val2017", "valid")):
        data = load(coco_mini / f"annotations/instances_{split}.json")
        data["categories"] = [{"id": 0, "name": "coco-mini", "supercategory": "none"}] + [
            dict(c, supercategory="coco-mini") for c in data["categories"]
        ]
        for image in data["images"][::2]:
            image["file_name"] = f"../{split}/{image['file_name']}"
        write(export / folder / "_annotations.coco.json", data)
        for image in (coco_mini / "images" / split).iterdir():
            os.symlink(image, export / folder / image.name)
    root = tmp_path / "root"
    code, output = convert_cli(str(export), "--root", str(root), "--task", "detect")
    assert code == 0, output
    assert "'coco-mini' (id 0)" in output
    seen = ultralytics_reads(root / "coco.yaml")
    assert seen["nc"] == 80 and seen["names"][0] == "person" and seen["names"][79] == "toothbrush"
    references = sorted((coco_mini / "reference/detect-labels/val2017").glob("*.txt"))
    assert references
    for reference in references:
        assert (root / "labels/valid" / reference.name).read_bytes() == reference.read_bytes()
        assert seen["val"][reference.stem] == reference.read_text()


def test_an_export_without_its_images_gives_labels_only(tmp_path):
    export = roboflow_export(tmp_path)
    for image in export.glob("*/*.jpg"):
        image.unlink()
    root = tmp_path / "root"
    code, output = convert_cli(str(export), "--root", str(root), "--task", "detect")
    assert code == 0, output
    assert "the export's images are not there; writing labels only" in output
    assert not (root / "images").exists() and len(list(root.glob("labels/*/*.txt"))) == 12


def test_an_export_missing_some_images_is_an_error(tmp_path):
    export = roboflow_export(tmp_path)
    missing = sorted(export.glob("valid/*.jpg"))[-1]
    missing.unlink()
    code, output = convert_cli(str(export), "--root", str(tmp_path / "r"), "--task", "detect")
    assert code == 1
    assert (
        f"{export}/valid/_annotations.coco.json: {export}/valid: image {missing.name} not found"
        in output
    )


# --- what the data cannot do --------------------------------------------------------------------


def test_box_only_export_refuses_segment_unless_asked(tmp_path):
    export = roboflow_export(tmp_path)
    code, output = convert_cli(str(export), "--root", str(tmp_path / "r"), "-q")
    assert code == 1
    assert "segment needs outlines, found only boxes" in output
    assert "--task detect" in output and "--boxes-as-segments" in output
    assert "_annotations.coco.json" in output
    assert not (tmp_path / "r/labels").exists()
    root = tmp_path / "s"
    code, output = convert_cli(str(export), "--root", str(root), "--boxes-as-segments")
    assert code == 0, output
    assert "boxes written as polygons (no segmentation)" in output
    assert "degenerate polygons" not in output
    data = load(export / "valid/_annotations.coco.json")
    ann = data["annotations"][1]
    image = next(i for i in data["images"] if i["id"] == ann["image_id"])
    x, y, w, h = ann["bbox"]
    ring = np.array([x, y, x + w, y, x + w, y + h, x, y + h]) / (
        [image["width"], image["height"]] * 4
    )
    stem = Path(image["file_name"]).stem
    rows = (root / f"labels/valid/{stem}.txt").read_text().splitlines()
    values = [np.array(r.split()[1:], float) for r in rows]
    assert any(np.allclose(v, ring, atol=1e-5) for v in values)


def test_pose_on_an_export_without_keypoints_is_an_error(tmp_path):
    export = cvat_export(tmp_path, ("default",), nested=False)
    root = tmp_path / "r"
    path = export / "annotations/instances_default.json"
    code, output = convert_cli(str(path), "--root", str(root), "--task", "pose", "-q")
    assert code == 1
    assert "pose needs keypoints, found no category naming any" in output
    assert "--task detect" in output and "instances_default.json" in output
    assert not (root / "coco.yaml").exists() and not (root / "cocoprep.json").exists()
    code, output = convert_cli(str(export), "--root", str(root), "--task", "pose", "-q")
    assert code == 1
    assert "holds instances_*.json but no person_keypoints_*.json" in output
    assert "--task detect" in output


def test_two_names_reducing_to_one_are_an_error(tmp_path):
    data = {
        "images": [
            {"id": 1, "file_name": "../a/1.jpg", "width": 9, "height": 9},
            {"id": 2, "file_name": "/abs/1.jpg", "width": 9, "height": 9},
        ],
        "annotations": [],
        "categories": [{"id": 1, "name": "cat"}],
    }
    path = write(tmp_path / "instances_x.json", data)
    code, output = convert_cli(str(path), "--root", str(tmp_path / "r"), "-q")
    assert code == 1
    assert f"{path}: images '../a/1.jpg' and '/abs/1.jpg' both become 'x/1.jpg'" in output


def test_a_bad_file_name_is_quoted_as_the_user_wrote_it(tmp_path):
    data = {
        "images": [{"id": 4, "file_name": "./sub//x.jpg", "width": 9, "height": 9}],
        "annotations": [],
        "categories": [{"id": 1, "name": "cat"}],
    }
    path = write(tmp_path / "instances_x.json", data)
    code, output = convert_cli(str(path), "--root", str(tmp_path / "r"), "-q")
    assert code == 1
    assert f"{path}: image 4: expected a file_name inside the images folder, found " in output
    assert "'./sub//x.jpg'" in output


def test_an_unreadable_layout_lists_what_was_looked_for(tmp_path):
    (tmp_path / "stuff/images").mkdir(parents=True)
    code, output = convert_cli(str(tmp_path / "stuff"), "--root", str(tmp_path / "r"), "-q")
    assert code == 1
    for looked in (
        "annotations/instances_*.json (COCO, CVAT)",
        "<split>/_annotations.coco.json (Roboflow)",
        "result.json beside images/ (Label Studio)",
    ):
        assert looked in output


def test_split_names_come_from_the_file_else_its_folder(tmp_path):
    export = roboflow_export(tmp_path)
    files = [export / s / "_annotations.coco.json" for s in ROBOFLOW_SPLITS]
    assert [s.split for s in find_sources(files, "detect")] == list(ROBOFLOW_SPLITS)
    flat = write(tmp_path / "flat/_annotations.coco.json", load(files[0]))
    assert [s.split for s in find_sources([flat], "detect")] == ["train"]  # "flat" is no split
    named = write(tmp_path / "x/instances_val2017.json", load(files[0]))
    assert [s.split for s in find_sources([named], "detect")] == ["val2017"]
    with pytest.raises(InputError, match=r"two inputs map to the same split .* with split="):
        from cocoprep.converter import convert

        convert([flat, write(tmp_path / "flat2/result.json", load(files[0]))], tmp_path / "r")


# --- the class map across files -----------------------------------------------------------------


def _two_files(tmp_path: Path, used: bool) -> tuple[Path, Path]:
    """Two files whose id 5 is 'x' in one and 'y' in the other (used by an annotation or not)."""
    paths = []
    for split, name in (("train", "x"), ("val", "y")):
        anns = [
            {"id": 1, "image_id": 1, "category_id": 5 if used else 1, "bbox": [1, 1, 4, 4]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [2, 2, 4, 4]},
        ]
        data = {
            "images": [{"id": 1, "file_name": "1.jpg", "width": 10, "height": 10}],
            "annotations": [dict(a, iscrowd=0, area=16, segmentation=[]) for a in anns],
            "categories": [{"id": 1, "name": "cat"}, {"id": 5, "name": name}],
        }
        paths.append(write(tmp_path / split / f"instances_{split}.json", data))
    return paths[0], paths[1]


def test_a_renamed_id_names_both_files_and_the_hints_work(tmp_path):
    a, b = _two_files(tmp_path, used=False)
    code, output = convert_cli(str(a), str(b), "--root", str(tmp_path / "r"), "--task", "detect")
    assert code == 1
    assert f"category id 5 is 'x' in {a} but 'y' in {b}" in output
    assert "--classes" in output and "--drop-unused-categories" in output
    for hint, root in ((["--drop-unused-categories"], "d"), (["--classes", "cat"], "c")):
        code, output = convert_cli(
            str(a), str(b), "--root", str(tmp_path / root), "--task", "detect", "-q", *hint
        )
        assert code == 0, output
        assert yaml.safe_load((tmp_path / root / "coco.yaml").read_text())["names"] == {0: "cat"}
        assert (tmp_path / root / "labels/val/1.txt").read_text() == (
            "0 0.300000 0.300000 0.400000 0.400000\n0 0.400000 0.400000 0.400000 0.400000\n"
        )


def test_selecting_a_renamed_class_stays_an_error(tmp_path):
    """--classes x must not label the other file's 'y' objects as x."""
    a, b = _two_files(tmp_path, used=True)
    for selected in ("x", "y"):
        code, output = convert_cli(
            str(a), str(b), "--root", str(tmp_path / "r"), "--task", "detect", "--classes", selected
        )
        assert code == 1 and "category id 5 is 'x'" in output
    code, output = convert_cli(
        str(a),
        str(b),
        "--root",
        str(tmp_path / "r"),
        "--task",
        "detect",
        "--drop-unused-categories",
    )
    assert code == 1  # both are used: a real conflict


# --- stats and validate take the same inputs ----------------------------------------------------


def test_stats_reads_an_export_folder_with_images(tmp_path):
    export = cvat_export(tmp_path, ("Train", "Validation"), nested=True)
    result = CliRunner().invoke(main, ["stats", str(export), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "annotations"
    assert [s["split"] for s in report["splits"]] == ["Train", "Validation"]
    assert [s["images"] for s in report["splits"]] == [3, 3]


def test_stats_and_validate_accept_climbing_file_names(tmp_path):
    path = coco_folder_export(tmp_path) / "annotations/instances_train2017.json"
    data = load(path)
    data["annotations"] = [a for a in data["annotations"] if a["bbox"][2] > 0]  # valid otherwise
    write(path, data)
    result = CliRunner().invoke(main, ["stats", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["splits"][0]["images"] == 3
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "bad-image-path" not in result.output


def test_validate_finds_names_that_reduce_to_one(tmp_path):
    images = [
        {"id": 1, "file_name": "1.jpg", "width": 9, "height": 9},
        {"id": 2, "file_name": "ok/2.jpg", "width": 9, "height": 9},
        {"id": 3, "file_name": "../elsewhere/1.jpg", "width": 9, "height": 9},
    ]
    data = {"images": images, "annotations": [], "categories": [{"id": 1, "name": "cat"}]}
    path = write(tmp_path / "instances_x.json", data)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert "file_name '../elsewhere/1.jpg' becomes '1.jpg' like '1.jpg'" in result.output
    code, output = convert_cli(str(path), "--root", str(tmp_path / "r"), "-q")
    assert code == 1 and "'1.jpg' and '../elsewhere/1.jpg' both become 'x/1.jpg'" in output


def test_yaml_takes_the_names_of_a_roboflow_export(tmp_path):
    """A root of label files only (no record): the names come from the export, placeholder out."""
    export = roboflow_export(tmp_path)
    root = tmp_path / "root"
    for split in ROBOFLOW_SPLITS:
        (root / "labels" / split).mkdir(parents=True)
    result = CliRunner().invoke(main, ["yaml", str(root), "--annotations", str(export)])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((root / "coco.yaml").read_text())
    assert data["names"] == {0: "cat", 1: "dog", 2: "rabbit"} and data["val"]


def test_validate_reads_an_export_folder_as_convert_does(tmp_path):
    export = roboflow_export(tmp_path)
    result = CliRunner().invoke(main, ["validate", str(export)])
    # Each split file is checked as COCO (the README*.txt files are no labels): the empty box
    # of each file is what it finds.
    assert result.exit_code == 1
    assert result.output.count("has no width or height") == 3
    assert "3 errors, 0 warnings in 3 targets (27 annotations, 12 images)" in result.output
    (tmp_path / "labels").mkdir()
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "labels")])
    assert result.exit_code == 0 and "class ids unchecked" in result.output  # labels folder


def test_windows_paths_of_a_tool_reduce_like_posix_ones(tmp_path):
    images = [
        {"id": 1, "file_name": "..\\train\\a.jpg", "width": 10, "height": 10},
        {"id": 2, "file_name": "C:\\Users\\me\\b.jpg", "width": 10, "height": 10},
    ]
    anns = [
        {"id": i, "image_id": i, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0}
        for i in (1, 2)
    ]
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "cat"}]}
    path = write(tmp_path / "train/_annotations.coco.json", data)
    put_images(tmp_path / "train", ["a.jpg", "b.jpg"])
    root = tmp_path / "root"
    code, output = convert_cli(str(path), "--root", str(root), "--task", "detect", "-q")
    assert code == 0, output
    assert (root / "train.txt").read_text() == "./images/train/a.jpg\n./images/train/b.jpg\n"
    rows = list(official_box_rows(data, {1: 0}).values())  # its stems keep the backslashes
    assert [(root / f"labels/train/{n}.txt").read_text() for n in "ab"] == rows

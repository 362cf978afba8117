"""Tests for cocoprep.yamlfile: split discovery, names, pose keys, the download block, the CLI."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cocoprep.cli import main
from cocoprep.converter import convert
from cocoprep.errors import ConflictError, InputError
from cocoprep.remote.catalog import COCO_2017_NAMES
from cocoprep.yamlfile import download_script, find_splits, write_root_yaml

KEYPOINTS = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]


def write_coco(path: Path, n_images: int = 2, *, pose: bool = False, names=("cat", "dog")) -> Path:
    """A tiny COCO file: ``n_images`` 100x80 images, one triangle (or person) each."""
    categories = [{"id": 10 + i, "name": name} for i, name in enumerate(names)]
    if pose:
        categories = [{"id": 1, "name": "person", "keypoints": KEYPOINTS, "skeleton": [[1, 2]]}]
    images = [
        {"id": i + 1, "file_name": f"{i + 1:03d}.jpg", "width": 100, "height": 80}
        for i in range(n_images)
    ]
    annotations = []
    for i in range(n_images):
        ann = {
            "id": i + 1,
            "image_id": i + 1,
            "category_id": categories[i % len(categories)]["id"],
            "iscrowd": 0,
            "bbox": [10, 10, 40, 30],
            "area": 600,
            "segmentation": [[10, 10, 50, 10, 30, 40]],
        }
        if pose:
            ann["keypoints"] = [20, 20, 2] * len(KEYPOINTS)
            ann["num_keypoints"] = len(KEYPOINTS)
        annotations.append(ann)
    data = {"images": images, "annotations": annotations, "categories": categories}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def converted(tmp_path: Path) -> Path:
    """A root converted from train2017 and val2017 files, images included."""
    annotations = tmp_path / "annotations"
    files = [write_coco(annotations / f"instances_{s}.json") for s in ("train2017", "val2017")]
    for split in ("train2017", "val2017"):
        folder = tmp_path / "src" / split
        folder.mkdir(parents=True)
        for i in (1, 2):
            (folder / f"{i:03d}.jpg").write_bytes(b"jpeg")
    root = tmp_path / "root"
    convert(files, root, images=tmp_path / "src")
    return root


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_same_text_as_convert(converted: Path) -> None:
    written = (converted / "coco.yaml").read_text()
    result = write_root_yaml(converted)
    assert result.path == converted / "coco.yaml"
    assert result.path.read_text() == written
    data = _load(result.path)
    assert data["path"] == str(converted.resolve())
    assert data["train"] == "train2017.txt" and data["val"] == "val2017.txt"
    assert data["names"] == {0: "cat", 1: "dog"}
    for key in ("train", "val"):
        assert (Path(data["path"]) / data[key]).is_file()


def test_moved_split_points_at_its_folder(converted: Path) -> None:
    (converted / "images" / "val2017").rename(converted / "images" / "val")
    (converted / "labels" / "val2017").rename(converted / "labels" / "val")
    data = _load(write_root_yaml(converted, name="moved").path)
    assert data["val"] == "images/val"  # val2017.txt lists images that moved away
    assert data["train"] == "train2017.txt"
    assert (converted / data["val"]).is_dir()


def test_added_split_is_listed(converted: Path) -> None:
    (converted / "images" / "test2017").mkdir()
    data = _load(write_root_yaml(converted).path)
    assert data["test"] == "images/test2017"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        # list file whose first image exists
        ({"a.txt": "./images/a/1.jpg\n", "images/a/1.jpg": ""}, {"a": "a.txt"}),
        # stale list, images folder present: the folder
        ({"a.txt": "./images/a/9.jpg\n", "images/a/1.jpg": ""}, {"a": "images/a"}),
        # labels downloaded, images not yet: keep the list (Ultralytics' download fills it)
        ({"a.txt": "./images/a/1.jpg\n", "labels/a/1.txt": ""}, {"a": "a.txt"}),
        ({"labels/a/1.txt": ""}, {"a": "images/a"}),
        # an orphan list and a text file that is no list
        ({"a.txt": "./images/a/1.jpg\n", "README.txt": "hello\n"}, {}),
        ({"b.txt": "\n\n/abs/x.PNG\n", "labels/b/x.txt": ""}, {"b": "b.txt"}),
        ({}, {}),
    ],
)
def test_find_splits(tmp_path: Path, layout: dict[str, str], expected: dict[str, str]) -> None:
    for name, text in layout.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert find_splits(tmp_path) == expected


def test_names_from_annotations_when_no_record(tmp_path: Path) -> None:
    source = write_coco(tmp_path / "instances_val.json", names=("zebra", "ant"))
    root = tmp_path / "root"
    (root / "labels" / "val").mkdir(parents=True)
    with pytest.raises(InputError, match=r"no conversion record cocoprep\.json .* annotations="):
        write_root_yaml(root)
    data = _load(write_root_yaml(root, annotations=[source]).path)
    assert data["names"] == {0: "zebra", 1: "ant"}  # dense by category id: 10, 11
    assert data["val"] == "images/val"


def test_annotations_rename_the_recorded_classes(converted: Path, tmp_path: Path) -> None:
    renamed = write_coco(tmp_path / "instances_val2017.json", names=("kitten", "puppy"))
    data = _load(write_root_yaml(converted, annotations=[renamed]).path)
    assert data["names"] == {0: "kitten", 1: "puppy"}
    other = write_coco(tmp_path / "other.json", names=("x",))
    with pytest.raises(ConflictError, match="no category id 11, which class 1 of"):
        write_root_yaml(converted, annotations=[other])


def test_pose_keys(tmp_path: Path) -> None:
    source = write_coco(tmp_path / "person_keypoints_val2017.json", pose=True)
    root = tmp_path / "pose"
    convert([source], root, task="pose")
    data = _load(write_root_yaml(root).path)
    assert data["kpt_shape"] == [5, 3]
    assert data["flip_idx"] == [0, 2, 1, 4, 3]
    assert data["names"] == {0: "person"}


def test_download_needs_the_coco_class_map(converted: Path) -> None:
    with pytest.raises(
        InputError, match=r"whose 80 classes .* \(found 2 classes\); drop download="
    ):
        write_root_yaml(converted, name="dl.yaml", download=True)
    assert not (converted / "dl.yaml").exists()


def test_download_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The block is Python that Ultralytics can exec with ``yaml``; run it against fakes."""
    names = COCO_2017_NAMES
    files = [
        write_coco(tmp_path / f"instances_{s}.json", names=names) for s in ("train2017", "val2017")
    ]
    converted = tmp_path / "root"
    convert(files, converted)
    calls = []
    fakes = {
        "cocoprep.remote.download": ("download", lambda *a, **k: calls.append(("download", a, k))),
        "cocoprep.converter": ("convert", lambda *a, **k: calls.append(("convert", a, k))),
        "cocoprep.yamlfile": ("write_root_yaml", lambda *a, **k: calls.append(("yaml", a, k))),
    }
    path = write_root_yaml(converted, name="dl.yaml", download=True).path
    text = path.read_text()
    assert "\ndownload: |\n" in text
    data = _load(path)
    for module, (name, fake) in fakes.items():
        monkeypatch.setitem(sys.modules, module, types.SimpleNamespace(**{name: fake}))
    exec(data["download"], {"yaml": {**data, "path": Path(data["path"])}})
    root = str(converted.resolve())
    assert calls[0] == ("download", (["train2017", "val2017"],), {"root": root, "progress": True})
    name, args, kwargs = calls[1]
    assert name == "convert"
    assert args[0] == [f"{root}/annotations/instances_{s}.json" for s in ("train2017", "val2017")]
    assert kwargs == {"task": "segment", "yaml_name": "dl.yaml", "progress": True}
    assert calls[2] == ("yaml", (root,), {"name": "dl.yaml", "download": True})


def test_download_needs_coco_splits(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"fetches COCO 2017 splits .* found train; drop"):
        download_script(tmp_path, ["train", "val2017"], "segment", name="x.yaml")
    script = download_script(tmp_path, ["val2017"], "pose", name="p.yaml", classes=["person"])
    assert "person_keypoints_val2017.json" in script and "classes=['person']" in script


def test_cli(converted: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["yaml", str(converted), "--name", "again"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(converted / "again.yaml")
    assert "train  train2017.txt" in result.stderr and "2 classes" in result.stderr
    missing = runner.invoke(main, ["yaml", str(converted / "nope")])
    assert missing.exit_code == 1
    assert missing.output.startswith("Error: ") and "no such folder" in missing.output


def test_ultralytics_loads_it(converted: Path) -> None:
    """Only where Ultralytics is installed (checked by hand in its own venv otherwise)."""
    utils = pytest.importorskip("ultralytics.data.utils")
    data = utils.check_det_dataset(str(write_root_yaml(converted).path))
    assert Path(data["val"]).is_file() and data["nc"] == 2

"""Tests of cocoprep.layout: the label-path rule, split names, the root's record and yaml."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from pathlib import Path

import pytest

from cocoprep import layout
from cocoprep.classmap import ClassMap
from cocoprep.errors import InputError


def test_label_path_replaces_the_last_images_folder():
    assert (
        layout.label_path(Path("/r"), "train/images/v1/a.jpg").as_posix()
        == "/r/images/train/labels/v1/a.txt"
    )


@pytest.mark.parametrize(
    ("relpath", "label"),
    [
        ("v/a.jpg", "/r/labels/v/a.txt"),
        ("a.b.png", "/r/labels/a.b.txt"),
        ("v/.h", "/r/labels/v/.h.txt"),
    ],
)
def test_label_file_matches_yolo_rule(relpath, label):
    assert layout.label_file("/r", relpath) == label
    assert layout.label_path(Path("/r"), relpath).as_posix() == label


def test_record_splits_merges_with_what_the_root_holds(tmp_path):
    class_map = ClassMap(category_ids=(1, 3), names=("person", "car"))
    layout.record_splits(tmp_path, class_map, "detect", {"val": {"source": "v.json", "images": 2}})
    record, yaml_path = layout.record_splits(
        tmp_path, class_map, "detect", {"train": {"source": "t.json", "images": 5}}
    )
    data = json.loads(record.read_text())
    assert list(data["splits"]) == ["val", "train"]
    assert data["classes"] == [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]
    text = yaml_path.read_text()
    assert "train: train.txt" in text and "val: val.txt" in text


def test_unreadable_record_is_an_input_error(tmp_path):
    (tmp_path / layout.RECORD_NAME).write_text("{not json")
    with pytest.raises(InputError, match="unreadable conversion record"):
        layout.read_record(tmp_path)


def _record_after(barrier, root: Path, split: str) -> None:
    class_map = ClassMap(category_ids=(1, 3), names=("person", "car"))
    barrier.wait()
    layout.record_splits(root, class_map, "detect", {split: {"source": f"{split}.json"}})


def test_runs_recording_splits_at_once_all_land_in_record_and_yaml(tmp_path):
    context = multiprocessing.get_context("fork")
    splits = ["train", "val", "test"]
    for trial in range(20):  # processes released together: without the lock most lose one
        root = tmp_path / str(trial)
        barrier = context.Barrier(len(splits))
        runs = [
            context.Process(target=_record_after, args=(barrier, root, split)) for split in splits
        ]
        for run in runs:
            run.start()
        for run in runs:
            run.join(10)
            assert run.exitcode == 0
        record = json.loads(layout.record_path(root).read_text())
        assert sorted(record["splits"]) == sorted(splits), f"trial {trial}"
        text = (root / "coco.yaml").read_text()
        assert all(f"{split}: {split}.txt" in text for split in splits), f"trial {trial}"
        assert sorted(p.name for p in root.iterdir()) == [".cocoprep", "coco.yaml", "cocoprep.json"]


def _hold_split(root: Path, held, release) -> None:
    with layout.split_lock(root, ["split val"]):
        held.set()
        release.wait(10)


def test_a_second_writer_of_a_split_waits_naming_the_holder(tmp_path, caplog):
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_split, args=(tmp_path, held, release))
    holder.start()
    assert held.wait(10)
    waited = []
    timer = threading.Timer(0.3, lambda: (waited.append(True), release.set()))
    timer.start()
    with caplog.at_level(logging.WARNING, "cocoprep"), layout.split_lock(tmp_path, ["split val"]):
        assert waited  # entered only once the holder let go
    holder.join(10)
    assert caplog.messages == [
        f"{tmp_path}: split val is being written by pid {holder.pid}; waiting for it to finish"
    ]


def test_splits_being_written_are_those_another_process_holds(tmp_path):
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_split, args=(tmp_path, held, release))
    holder.start()
    assert held.wait(10)
    with layout.split_lock(tmp_path, ["split train"]):  # this run's own lock is not counted
        assert layout.splits_being_written(tmp_path) == ["val"]
    release.set()
    holder.join(10)
    assert layout.splits_being_written(tmp_path) == []
    assert layout.splits_being_written(tmp_path / "missing") == []

"""Atomic, idempotent writes."""

from __future__ import annotations

import itertools
import os
import shutil
import time
from pathlib import Path

import pytest

from cocoprep import fileio
from cocoprep.fileio import (
    Stages,
    create_ahead,
    discard,
    plan_folders,
    plan_trees,
    publish,
    remove_trees,
    write_atomic,
    write_files,
    write_many,
)


def test_write_atomic_skips_identical_content(tmp_path):
    target = tmp_path / "a" / "x.txt"
    assert write_atomic(target, b"one\n") is True
    mtime = target.stat().st_mtime_ns
    assert write_atomic(target, b"one\n") is False
    assert target.stat().st_mtime_ns == mtime
    assert write_atomic(target, b"two\n") is True
    assert target.read_bytes() == b"two\n"
    assert [p.name for p in target.parent.iterdir()] == ["x.txt"]


def test_write_many_fills_new_folders_whole_and_updates_old_ones(tmp_path):
    files = [(tmp_path / "new" / f"{i}.txt", b"%d\n" % i) for i in range(5)]
    files.append((tmp_path / "new" / "sub" / "deep.txt", b""))
    ticks = []
    assert write_many(files, on_file=lambda: ticks.append(1)) == (6, 0)
    assert len(ticks) == 6
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "0.txt",
        "1.txt",
        "2.txt",
        "3.txt",
        "4.txt",
        "sub",
    ]
    assert (tmp_path / "new" / "3.txt").read_bytes() == b"3\n"
    changed = [(p, b"changed\n" if p.name == "0.txt" else data) for p, data in files]
    assert write_many(changed) == (1, 5)
    assert (tmp_path / "new" / "0.txt").read_bytes() == b"changed\n"
    assert not list(tmp_path.rglob("*.tmp"))


def test_write_many_that_fails_leaves_no_new_folder(tmp_path):
    def files():
        yield tmp_path / "new" / "1.txt", b"1\n"
        raise RuntimeError

    with pytest.raises(RuntimeError):
        write_many(files())
    assert list(tmp_path.iterdir()) == []


def test_planned_folders_take_several_writers_and_appear_when_published(tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    old.mkdir()
    (old / "a.txt").write_bytes(b"a\n")
    stages = plan_folders([str(new), str(old)], Stages())
    assert stages[str(old)] is None
    # Two writers (workers, in convert) each fill part of the same folders.
    assert write_files([(new / "1.txt", b"1\n"), (old / "a.txt", b"a\n")], stages) == (1, 1)
    assert write_files([(new / "2.txt", b"2\n"), (old / "b.txt", b"b\n")], stages) == (2, 0)
    assert not new.exists()
    publish(stages)
    assert sorted(p.name for p in new.iterdir()) == ["1.txt", "2.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "old"]


def test_unplanned_folders_are_refused_and_discarded_stages_leave_nothing(tmp_path):
    stages = plan_folders([str(tmp_path / "new")], Stages())
    assert write_files([(tmp_path / "new" / "1.txt", b"1\n")], stages) == (1, 0)
    with pytest.raises(ValueError, match="folder was not planned"):
        write_files([(tmp_path / "other" / "x.txt", b"")], stages)
    discard(stages)
    assert list(tmp_path.iterdir()) == []


def test_discard_removes_the_parents_planning_made(tmp_path):
    (tmp_path / "kept").mkdir()
    stages = plan_folders([str(tmp_path / "a/b/c"), str(tmp_path / "kept/d")], Stages())
    assert (tmp_path / "a/b").is_dir()
    discard(stages)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    assert list((tmp_path / "kept").iterdir()) == []


def test_files_created_ahead_are_filled_in_place(tmp_path):
    new, old = tmp_path / "new", tmp_path / "old"
    old.mkdir()
    stages = plan_folders([str(new), str(old)], Stages())
    paths = [f"{new}/1.txt", f"{old}/a.txt", f"{new}/2.txt", f"{new}/3.txt"]
    with create_ahead(iter(paths), stages) as ahead:
        deadline = time.monotonic() + 10
        while ahead.created < len(paths) and time.monotonic() < deadline:
            time.sleep(0.001)
    assert ahead.created == len(paths)
    stage = Path(stages[str(new)])
    names = ["1.txt", "2.txt", "3.txt"]
    assert {p.name: p.read_bytes() for p in stage.iterdir()} == dict.fromkeys(names, b"")
    assert not (old / "a.txt").exists()  # an existing folder's files go through write_atomic
    data = [b"1\n", b"a\n", b"", b"3\n"]
    written = write_files(zip(paths, data, strict=True), stages, created=ahead.created)
    assert written == (4, 0)
    publish(stages)
    assert {p.name: p.read_bytes() for p in new.iterdir()} == {
        "1.txt": b"1\n",
        "2.txt": b"",
        "3.txt": b"3\n",
    }
    assert (old / "a.txt").read_bytes() == b"a\n"


def test_create_ahead_stops_with_its_block(tmp_path):
    stages = plan_folders([str(tmp_path / "new")], Stages())
    endless = (f"{tmp_path}/new/{i}.txt" for i in itertools.count())
    with create_ahead(endless, stages) as ahead:
        time.sleep(0.05)
    stage = Path(stages[str(tmp_path / "new")])
    created = len(list(stage.iterdir()))
    assert created == ahead.created > 0
    time.sleep(0.05)
    assert len(list(stage.iterdir())) == created


def test_create_ahead_stops_at_a_taken_name_and_the_writer_reports_it(tmp_path):
    stages = plan_folders([str(tmp_path / "new")], Stages())
    stage = Path(stages[str(tmp_path / "new")])
    (stage / "2.txt").mkdir()  # the name is taken
    paths = [f"{tmp_path}/new/{i}.txt" for i in range(5)]
    with create_ahead(paths, stages) as ahead:
        pass
    assert ahead.created <= 2
    with pytest.raises(FileExistsError, match=r"2\.txt"):
        write_files(((p, b"x\n") for p in paths), stages, created=ahead.created)
    discard(stages)
    assert list(tmp_path.iterdir()) == []


def test_thousands_of_new_folders_stay_within_the_open_file_limit(tmp_path):
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(128, hard), hard))
    try:
        files = [(tmp_path / f"v{i % 400:03d}" / f"{i}.txt", b"%d\n" % i) for i in range(1200)]
        assert write_many(files) == (1200, 0)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert (tmp_path / "v007" / "407.txt").read_bytes() == b"407\n"
    assert len(list(tmp_path.rglob("*.txt"))) == 1200


def test_a_tree_rebuilt_aside_keeps_right_files_and_never_writes_through_to_the_tree(tmp_path):
    tree = tmp_path / "labels" / "val"
    tree.mkdir(parents=True)
    (tree / "same.txt").write_bytes(b"0 1 2\n")
    (tree / "changed.txt").write_bytes(b"old\n")
    (tree / "gone.txt").write_bytes(b"kept in the copy\n")
    same_inode = (tree / "same.txt").stat().st_ino
    stages = plan_trees([str(tree)], [str(tree)], Stages())
    files = [(tree / "same.txt", b"0 1 2\n"), (tree / "changed.txt", b"new\n")]
    files.append((tree / "added.txt", b""))
    assert write_files(files, stages) == (2, 1)
    assert (tree / "changed.txt").read_bytes() == b"old\n"  # the old tree is intact until the swap
    assert not (tree / "added.txt").exists()
    remove_trees(publish(stages))
    assert {p.name: p.read_bytes() for p in tree.iterdir()} == {
        "same.txt": b"0 1 2\n",
        "changed.txt": b"new\n",
        "gone.txt": b"kept in the copy\n",
        "added.txt": b"",
    }
    assert (tree / "same.txt").stat().st_ino == same_inode
    assert sorted(p.name for p in tree.parent.iterdir()) == ["val"]


def test_remove_trees_finishes_when_interrupted(tmp_path, monkeypatch):
    trees = []
    for name in ("a", "b"):
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "sub" / "f.txt").write_text("x")
        trees.append(str(tmp_path / name))
    real_rmtree, calls = shutil.rmtree, []

    def interrupted_once(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:  # Ctrl-C while the first tree is being removed
            raise KeyboardInterrupt
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        fileio.remove_trees(trees)
    assert os.listdir(tmp_path) == []

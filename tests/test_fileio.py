"""Atomic, idempotent writes."""

from __future__ import annotations

import pytest

from cocoprep.fileio import discard, plan_folders, publish, write_atomic, write_files, write_many


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
    stages = plan_folders([str(new), str(old)], {})
    assert stages[str(old)] is None
    # Two writers (workers, in convert) each fill part of the same folders.
    assert write_files([(new / "1.txt", b"1\n"), (old / "a.txt", b"a\n")], stages) == (1, 1)
    assert write_files([(new / "2.txt", b"2\n"), (old / "b.txt", b"b\n")], stages) == (2, 0)
    assert not new.exists()
    publish(stages)
    assert sorted(p.name for p in new.iterdir()) == ["1.txt", "2.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "old"]


def test_unplanned_folders_are_refused_and_discarded_stages_leave_nothing(tmp_path):
    stages = plan_folders([str(tmp_path / "new")], {})
    assert write_files([(tmp_path / "new" / "1.txt", b"1\n")], stages) == (1, 0)
    with pytest.raises(ValueError, match="folder was not planned"):
        write_files([(tmp_path / "other" / "x.txt", b"")], stages)
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

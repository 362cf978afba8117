"""Atomic, idempotent writes."""

from __future__ import annotations

from cocoprep.fileio import write_atomic, write_many


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

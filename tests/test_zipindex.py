"""Tests for cocoprep.remote.zipindex: a zip's directory from its end, members from their span."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from cocoprep.errors import InputError, UnsafeArchiveError
from cocoprep.remote import zipindex
from cocoprep.remote.zipindex import MemberWriter, already_there, read_index, write_member

from httpfixtures import fake_jpeg, make_zip

MEMBERS = {f"val2017/{i:012d}.jpg": fake_jpeg(i, 4000 + 37 * i) for i in range(6)}


class _Reader:
    """``fetch_range`` over bytes in memory, recording the ranges asked for."""

    def __init__(self, data: bytes) -> None:
        self.data, self.asked = data, []

    def __call__(self, start: int, end: int) -> bytes:
        self.asked.append((start, end))
        return self.data[start:end]


def _index(data: bytes, dest: Path, **kwargs):
    return read_index(len(data), _Reader(data), dest=dest, archive="val2017.zip", **kwargs)


def _write_all(data: bytes, index, tmp_path: Path) -> None:
    path = tmp_path / "archive.zip"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        for info, target in zip(index.infos, index.targets, strict=True):
            assert write_member(fd, info, target)
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    ("compress", "zip64"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_index_spans_tile_the_archive_and_members_write_back(tmp_path, compress, zip64):
    data = make_zip(MEMBERS, compress=compress, zip64=zip64)
    index, offset, tail = _index(data, tmp_path / "out")
    assert tail == data[offset:]
    assert index.files == len(MEMBERS) and index.size == len(data)
    assert index.spans[0].start == 0 and index.spans[-1].end == len(data)
    assert all(a.end == b.start for a, b in zip(index.spans, index.spans[1:], strict=False))
    assert [Path(t).name for t in index.targets] == [Path(n).name for n in MEMBERS]
    _write_all(data, index, tmp_path)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == {
        Path(n).name: d for n, d in MEMBERS.items()
    }


def test_zip64_end_records_are_read(tmp_path):
    data = make_zip(MEMBERS, zip64=True)
    assert b"PK\x06\x06" in data[-200:]  # the zip64 end-of-central-directory record
    index, _, _ = _index(data, tmp_path)
    assert index.files == len(MEMBERS)


def test_directory_larger_than_the_tail_is_fetched_backwards(tmp_path, monkeypatch):
    monkeypatch.setattr(zipindex, "TAIL_BYTES", 64)
    data = make_zip(MEMBERS)
    reader = _Reader(data)
    index, offset, tail = read_index(len(data), reader, dest=tmp_path, archive="a.zip")
    assert len(reader.asked) >= 2  # the end first, then what the directory needs before it
    assert reader.asked[0] == (len(data) - 64, len(data))
    assert tail == data[offset:] and offset <= index.spans[-1].start


def test_overlapping_spans_tell_which_members_bytes_complete(tmp_path):
    data = make_zip(MEMBERS)
    index, _, _ = _index(data, tmp_path)
    second = index.spans[1]
    assert list(index.overlapping(second.start, second.end)) == [1]
    assert list(index.overlapping(0, len(data))) == list(range(len(index.spans)))
    assert list(index.overlapping(second.start + 1, second.start + 2)) == [1]


def test_not_a_zip_is_an_input_error(tmp_path):
    data = b"<html>not found</html>" * 10
    with pytest.raises(InputError, match=r"val2017.zip: expected a zip archive"):
        _index(data, tmp_path)


def _evil(name: str, mode: int | None = None) -> bytes:
    path_bytes = {"annotations/fine.json": b"{}"}
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for member, content in path_bytes.items():
            zf.writestr(member, content)
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, b"x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "mode", "reason"),
    [
        ("annotations/../../evil.txt", None, "contains '..'"),
        ("/tmp/cocoprep-evil.txt", None, "has an absolute path"),
        ("annotations/link.json", stat.S_IFLNK | 0o777, "is a symbolic link"),
    ],
)
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path, name, mode, reason):
    with pytest.raises(UnsafeArchiveError, match=rf"member .* {reason}"):
        _index(_evil(name, mode), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_other_compression_methods_are_refused(tmp_path):
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_BZIP2) as zf:
        zf.writestr("a.json", b"{}" * 100)
    with pytest.raises(InputError, match=r"method 12; expected stored or deflated"):
        _index(buffer.getvalue(), tmp_path)


@pytest.mark.parametrize("compress", [False, True])
def test_corrupt_member_bytes_write_nothing(tmp_path, compress):
    data = bytearray(make_zip(MEMBERS, compress=compress))
    index, _, _ = _index(bytes(data), tmp_path / "out")
    info, target = index.infos[2], Path(index.targets[2])
    middle = info.header_offset + 60 + info.compress_size // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path = tmp_path / "archive.zip"
    path.write_bytes(bytes(data))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert not write_member(fd, info, target)
        assert write_member(fd, index.infos[0], index.targets[0])  # its neighbour is intact
    finally:
        os.close(fd)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == [Path(index.targets[0]).name]


def test_damaged_local_header_writes_nothing(tmp_path):
    data = bytearray(make_zip(MEMBERS))
    index, _, _ = _index(bytes(data), tmp_path / "out")
    info = index.infos[1]
    data[info.header_offset : info.header_offset + 4] = b"\0\0\0\0"
    path = tmp_path / "archive.zip"
    path.write_bytes(bytes(data))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert not write_member(fd, info, index.targets[1])
    finally:
        os.close(fd)
    assert not Path(index.targets[1]).exists()


def test_already_there_compares_size_and_crc(tmp_path):
    data = make_zip(MEMBERS)
    index, _, _ = _index(data, tmp_path / "out")
    info, target = index.infos[0], Path(index.targets[0])
    assert not already_there(info, target)
    target.parent.mkdir(parents=True)
    target.write_bytes(MEMBERS["val2017/000000000000.jpg"])
    assert already_there(info, target)
    target.write_bytes(b"\0" * info.file_size)  # same size, other bytes
    assert not already_there(info, target)


def test_member_writer_keeps_what_is_on_disk_and_writes_the_rest(tmp_path):
    data = make_zip(MEMBERS)
    index, _, _ = _index(data, tmp_path / "out")
    names = list(MEMBERS)
    first, second = Path(index.targets[0]), Path(index.targets[1])
    first.parent.mkdir(parents=True)
    first.write_bytes(MEMBERS[names[0]])  # as a killed run left it
    second.write_bytes(b"\0" * index.infos[1].file_size)  # same size, other bytes
    path = tmp_path / "archive.zip"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        first = [
            MemberWriter(fd).write(i, t) for i, t in zip(index.infos, index.targets, strict=True)
        ]
        again = [
            MemberWriter(fd).write(i, t) for i, t in zip(index.infos, index.targets, strict=True)
        ]
    finally:
        os.close(fd)
    assert first == ["kept"] + ["written"] * (len(MEMBERS) - 1)
    assert again == ["kept"] * len(MEMBERS)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == {
        Path(n).name: d for n, d in MEMBERS.items()
    }

"""Tests for cocoprep.remote.extract: safe members, atomic per-file writes, resume, markers."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cocoprep.errors import CocoprepError, UnsafeArchiveError
from cocoprep.remote.extract import (
    TEMP_SUFFIX,
    extract_zip,
    extracted_size,
    is_done,
    marker_path,
)

from httpfixtures import fake_jpeg, make_zip

MEMBERS = {f"val2017/{i:012d}.jpg": fake_jpeg(i, 20_000 + i) for i in range(8)}


@pytest.fixture
def archive(tmp_path) -> Path:
    path = tmp_path / "val2017.zip"
    path.write_bytes(make_zip(MEMBERS))
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _expected() -> dict[str, bytes]:
    return {name.split("/")[1]: data for name, data in MEMBERS.items()}


def test_extracts_into_dest_stripping_the_top_folder_and_writes_a_marker(tmp_path, archive):
    dest = tmp_path / "root" / "images" / "val2017"
    marker = marker_path(tmp_path / "root", "val2017")
    result = extract_zip(archive, dest, marker=marker, known_hash="md5:ab")
    assert _files(dest) == _expected()
    assert (result.members, result.written, result.skipped) == (8, 8, 0)
    assert is_done(marker, "md5:AB") and not is_done(marker, "md5:cd")
    again = extract_zip(archive, dest, marker=marker, known_hash="md5:ab")
    assert again.already_done and again.written == 0


def test_marker_with_another_hash_means_extract_again(tmp_path, archive):
    dest = tmp_path / "out"
    marker = tmp_path / "m.done"
    extract_zip(archive, dest, marker=marker, known_hash="md5:01")
    (dest / "000000000000.jpg").write_bytes(b"tampered")
    result = extract_zip(archive, dest, marker=marker, known_hash="md5:02")
    assert not result.already_done and result.written == 1 and result.skipped == 7
    assert _files(dest) == _expected()


def test_no_strip_with_several_top_folders(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(make_zip({"a/x.json": b"1", "b/y.json": b"22", "z.json": b"333"}))
    extract_zip(path, tmp_path / "out")
    assert sorted(
        str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.json")
    ) == [
        "a/x.json",
        "b/y.json",
        "z.json",
    ]
    assert extracted_size(path) == 6


def _zip_with(tmp_path: Path, name: str, *, mode: int | None = None) -> Path:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("annotations/fine.json", b"{}")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, b"/etc/passwd" if mode else b"pwned")
    return path


@pytest.mark.parametrize(
    ("name", "mode", "reason"),
    [
        ("../evil.txt", None, "contains '..'"),
        ("annotations/../../evil.txt", None, "contains '..'"),
        ("/tmp/cocoprep-evil.txt", None, "has an absolute path"),
        ("C:\\evil.txt", None, "has an absolute path"),
        ("annotations/link.json", stat.S_IFLNK | 0o777, "is a symbolic link"),
        ("annotations/fifo", stat.S_IFIFO | 0o644, "is a special file"),
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path, name, mode, reason):
    archive = _zip_with(tmp_path, name, mode=mode)
    dest = tmp_path / "root" / "annotations"
    before = set(tmp_path.parent.iterdir())
    with pytest.raises(UnsafeArchiveError, match=rf"member .* {reason}; .*nothing was extracted"):
        extract_zip(archive, dest, marker=tmp_path / "m.done", known_hash="md5:00")
    assert not dest.exists()
    assert not (tmp_path / "m.done").exists()
    assert set(tmp_path.parent.iterdir()) == before
    assert not Path("/tmp/cocoprep-evil.txt").exists()


class _Interrupt(Exception):
    pass


class _StopAfter:
    """A progress object that raises once ``limit`` bytes went by (mid-member)."""

    def __init__(self, limit: int):
        self.limit, self.seen = limit, 0

    def update(self, n: int) -> None:
        self.seen += n
        if self.seen > self.limit:
            raise _Interrupt


def _assert_no_torn_member(dest: Path) -> None:
    expected = _expected()
    for path in dest.iterdir():
        if path.name.endswith(TEMP_SUFFIX):
            continue
        assert path.read_bytes() == expected[path.name], f"{path.name} is torn"


def test_interrupted_extraction_leaves_no_torn_file_and_resumes(tmp_path, archive, monkeypatch):
    monkeypatch.setattr("cocoprep.remote.extract.CHUNK_SIZE", 4096)
    dest = tmp_path / "out"
    marker = tmp_path / "m.done"
    with pytest.raises(_Interrupt):
        extract_zip(archive, dest, marker=marker, known_hash="md5:00", progress=_StopAfter(70_000))
    _assert_no_torn_member(dest)
    assert any(p.name.endswith(TEMP_SUFFIX) for p in dest.iterdir())
    assert not marker.exists()
    result = extract_zip(archive, dest, marker=marker, known_hash="md5:00")
    assert (result.skipped, result.written) == (3, 5)
    assert _files(dest) == _expected()  # the hidden temp file was replaced by its member
    assert is_done(marker, "md5:00")


KILLER = """
import os, signal, sys
import cocoprep.remote.extract as e
e.CHUNK_SIZE = 4096
class Kill:
    seen = 0
    def update(self, n):
        Kill.seen += n
        if Kill.seen > int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)
e.extract_zip(sys.argv[1], sys.argv[2], marker=sys.argv[2] + ".done", known_hash="md5:00",
              progress=Kill())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_extraction_killed_with_sigkill_resumes(tmp_path, archive):
    dest = tmp_path / "out"
    process = subprocess.run(
        [sys.executable, "-c", KILLER, str(archive), str(dest), "90000"],
        check=False,
        timeout=30,
    )
    assert process.returncode == -9
    _assert_no_torn_member(dest)
    complete = [p for p in dest.iterdir() if not p.name.endswith(TEMP_SUFFIX)]
    assert 0 < len(complete) < len(MEMBERS)
    result = extract_zip(archive, dest, marker=str(dest) + ".done", known_hash="md5:00")
    assert result.skipped == len(complete)
    assert _files(dest) == _expected()
    assert is_done(str(dest) + ".done", "md5:00")


def test_not_a_zip_says_download_again(tmp_path):
    path = tmp_path / "val2017.zip"
    path.write_bytes(b"<html>not a zip</html>")
    with pytest.raises(
        CocoprepError, match=r"val2017.zip: expected a readable zip archive, .*download it again"
    ):
        extract_zip(path, tmp_path / "out")


def test_crc_error_is_reported(tmp_path, archive):
    data = bytearray(archive.read_bytes())
    offset = data.find(MEMBERS["val2017/000000000003.jpg"][:50])
    data[offset + 100] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(CocoprepError, match="expected a readable zip archive"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "000000000003.jpg").exists()
    assert os.listdir(tmp_path / "out")  # earlier members are complete


def test_unwritable_target_is_a_clear_error(tmp_path, archive):
    dest = tmp_path / "out"
    (dest / "000000000002.jpg").mkdir(parents=True)
    with pytest.raises(CocoprepError, match=r"expected to extract val2017.zip into .*out, found"):
        extract_zip(archive, dest)

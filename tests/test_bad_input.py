"""Hostile and broken input, case by case through the command line: one ``Error:`` line (or a
validate finding) naming the problem, the exit code, and what is on disk afterwards (inputs
unchanged, nothing written outside the root)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cocoprep.cli import main

from builders import coco, image, polygon_annotation, square

BASE = coco([image(1)], [polygon_annotation(1, 1, 1, square(10, 10, 20))])


def _with(change) -> dict:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _pose(keypoints: list) -> dict:
    def change(data):
        data["categories"] = [{"id": 1, "name": "person", "keypoints": ["nose", "eye"]}]
        data["annotations"][0]["keypoints"] = keypoints

    return _with(change)


def _crowd_rle(counts) -> dict:
    def change(data):
        rle = {"counts": counts, "size": [480, 640]}
        data["annotations"][0].update(iscrowd=1, segmentation=rle)

    return _with(change)


def _sha(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }


# name → (file contents: JSON data or raw bytes, command after the input, exit code, words)
CASES = {
    "images empty, validate": (
        _with(lambda d: d.update(images=[])),
        ["validate"],
        1,
        "image_id 1 is not among the file's images",
    ),
    "images empty, stats": (_with(lambda d: d.update(images=[])), ["stats"], 0, "all"),
    "NUL in file_name": (
        _with(lambda d: d["images"][0].update(file_name="a\0.jpg")),
        ["convert", "--root", "R"],
        1,
        "NUL byte",
    ),
    "line break in file_name, validate": (
        _with(lambda d: d["images"][0].update(file_name="a\nb.jpg")),
        ["validate"],
        1,
        "line break",
    ),
    "RLE counts of bad characters": (
        _crowd_rle("!!~~"),
        ["convert", "--root", "R", "--crowd", "keep"],
        1,
        "RLE counts: expected characters",
    ),
    "RLE counts summing wrong": (
        _crowd_rle([1, 2, 3, 10**9]),
        ["convert", "--root", "R", "--crowd", "keep"],
        1,
        "expected counts summing to",
    ),
    "RLE counts a number": (
        _crowd_rle(12),
        ["validate"],
        1,
        "RLE counts: expected a list or a string, found int",
    ),
    "COCO wrapped in an object": (
        {"data": BASE},
        ["convert", "--root", "R"],
        1,
        "not a COCO file",
    ),
    "COCO in a list": ([BASE], ["validate"], 1, "not a COCO file"),
    "pose: more keypoints than names": (
        _pose([1, 2, 2, 3, 3, 2, 4, 4, 2]),
        ["convert", "--root", "R", "--task", "pose"],
        1,
        "annotation 1: expected 2 keypoints",
    ),
    "pose: more keypoints than names, validate": (
        _pose([1, 2, 2, 3, 3, 2, 4, 4, 2]),
        ["validate"],
        1,
        "expected 2 keypoints",
    ),
    "pose: keypoints not triples": (
        _pose([1, 2]),
        ["convert", "--root", "R", "--task", "pose"],
        1,
        "x, y, v triples, found 2 numbers",
    ),
    "truncated JSON": (
        json.dumps(BASE, indent=2).encode()[:300],
        ["convert", "--root", "R"],
        1,
        "invalid JSON at line",
    ),
    "non-UTF-8 byte": (
        json.dumps(BASE, indent=2)
        .replace('"person"', '"pers\udcffon"')
        .encode("utf-8", "surrogateescape"),
        ["validate"],
        1,
        "byte 0xff is not UTF-8",
    ),
    "duplicate file_names, validate as convert": (
        _with(lambda d: d["images"].append(dict(d["images"][0], id=2))),
        ["validate"],
        1,
        "would share one label file",
    ),
    "duplicate annotation ids: a warning, convert keeps both": (
        _with(lambda d: d["annotations"].append(dict(d["annotations"][0]))),
        ["validate"],
        0,
        "warning   duplicate-annotation-id",
    ),
    "report over the input": (BASE, ["convert", "--root", "R", "--report", "IN"], 1, "--report"),
    "yaml name over the input": (
        BASE,
        ["convert", "--root", ".", "--yaml-name", "instances_val.json"],
        1,
        "ending in .yaml or .yml",
    ),
    "yaml name climbing out of the root": (
        BASE,
        ["convert", "--root", "R", "--yaml-name", "../x.yaml"],
        1,
        "without a folder",
    ),
    "fix over the input": (BASE, ["validate", "--fix", "IN"], 1, "--in-place"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_line_and_changes_nothing(tmp_path, monkeypatch, case):
    contents, command, code, words = CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    source = work / "instances_val.json"
    raw = contents if isinstance(contents, bytes) else json.dumps(contents).encode()
    source.write_bytes(raw)
    before = _sha(work)
    monkeypatch.chdir(work)
    args = [command[0], source.name, *(source.name if a == "IN" else a for a in command[1:])]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert words in result.output
    assert "Traceback" not in result.output
    if code:
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 or command[0] == "validate", result.output
    assert _sha(work) == {**before, **{k: v for k, v in _sha(work).items() if k not in before}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # nothing outside


@pytest.mark.parametrize("inside", ["val.txt", "coco.yaml", "cocoprep.json"])
def test_an_input_among_the_roots_own_files_is_refused(tmp_path, inside):
    root = tmp_path / "R"
    root.mkdir()
    source = root / inside
    source.write_text(json.dumps(BASE))
    result = CliRunner().invoke(
        main, ["convert", str(source), "--root", str(root), "--split", "val"]
    )
    assert result.exit_code == 1
    assert "expected an output apart from the inputs" in result.output
    assert json.loads(source.read_text()) == BASE


def test_an_absolute_file_name_links_nothing_from_the_host(tmp_path):
    host = tmp_path / "host.txt"
    host.write_text("system file")
    images = tmp_path / "images"
    images.mkdir()
    data = _with(lambda d: d["images"][0].update(file_name=str(host)))
    source = tmp_path / "instances_val.json"
    source.write_text(json.dumps(data))
    root = tmp_path / "R"
    CliRunner().invoke(main, ["convert", str(source), "--root", str(root), "--images", str(images)])
    linked = [p for p in root.rglob("*") if p.is_file() and os.path.samefile(p, host)]
    assert not linked
    assert host.read_text() == "system file"


def _mount_tmpfs(target: Path, size: str, *then: str) -> subprocess.CompletedProcess | None:
    if not shutil.which("unshare"):
        return None
    script = f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(target))} && " + "; ".join(then)
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True)
    if "mount" in done.stderr and ("denied" in done.stderr or "not permitted" in done.stderr):
        return None
    return done


def _cli(*args: str) -> str:
    return shlex.join([sys.executable, "-m", "cocoprep", *args]) + "; echo rc=$?"


@pytest.mark.parametrize(
    ("mount_options", "words"),
    [("64k", "No space left on device; free some space"), ("64k,ro", "read-only")],
)
def test_a_full_or_read_only_disk_is_one_line_naming_the_path(tmp_path, mount_options, words):
    many = coco([image(i) for i in range(1, 3000)], [])
    source = tmp_path / "instances_val.json"
    source.write_text(json.dumps(many))
    disk = tmp_path / "disk"
    disk.mkdir()
    done = _mount_tmpfs(disk, mount_options, _cli("convert", str(source), "--root", f"{disk}/R"))
    if done is None or "rc=" not in done.stdout:
        pytest.skip(f"cannot mount a small tmpfs here: {done and done.stderr.strip()}")
    assert done.stdout.strip().endswith("rc=1")
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {disk}/R"), lines
    assert words in lines[0]


def test_export_never_writes_over_the_coco_file_convert_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("instances_val.json").write_text(json.dumps(BASE))
    before = Path("instances_val.json").read_bytes()
    assert CliRunner().invoke(main, ["convert", "instances_val.json", "--root", "R"]).exit_code == 0
    result = CliRunner().invoke(main, ["export", "R", "--out", "."])
    assert result.exit_code == 1
    assert "expected an output apart from the inputs" in result.output and "--out" in result.output
    like = ["export", "R", "--out", "x", "--like", "instances_val.json", "--report", "x.json"]
    assert CliRunner().invoke(main, like).exit_code == 0
    same = ["export", "R", "--out", "x", "--like", "instances_val.json"]
    result = CliRunner().invoke(main, [*same, "--report", "instances_val.json"])
    assert result.exit_code == 1 and "--report" in result.output
    assert Path("instances_val.json").read_bytes() == before


def test_yaml_name_stays_inside_the_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("instances_val.json").write_text(json.dumps(BASE))
    assert CliRunner().invoke(main, ["convert", "instances_val.json", "--root", "R"]).exit_code == 0
    result = CliRunner().invoke(main, ["yaml", "R", "--name", "../escape"])
    assert result.exit_code == 1 and "--name" in result.output
    assert not Path("escape.yaml").exists()


def test_export_elsewhere_is_not_taken_for_the_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("instances_val.json").write_text(json.dumps(BASE))
    assert CliRunner().invoke(main, ["convert", "instances_val.json", "--root", "R"]).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # its instances_val.json is not the file convert read
    result = CliRunner().invoke(main, ["export", str(tmp_path / "R"), "--out", "."])
    assert result.exit_code == 0, result.output
    assert (elsewhere / "instances_val.json").is_file()

"""The command line: exit codes, one-line errors, summaries, --help examples, the Makefile demo."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cocoprep import __version__
from cocoprep.cli import main
from cocoprep.errors import InputError
from cocoprep.interrupts import Interrupted

from builders import coco, image, polygon_annotation, square, write

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_version_and_every_help_ends_with_examples():
    assert run("--version").output.strip() == f"cocoprep, version {__version__}"
    for command in main.commands:
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, command


def test_convert_prints_a_summary_and_writes_a_report(tmp_path):
    crowd = dict(polygon_annotation(2, 1, 3, square(5, 5, 9)), iscrowd=1)
    data = coco([image(1), image(2)], [polygon_annotation(1, 1, 1, square(1, 1, 9)), crowd])
    source = write(tmp_path / "instances_val2017.json", data)
    result = run("convert", source, "--root", tmp_path / "out", "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert "label files written" in result.output
    assert "crowd annotations skipped" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"]["instances"] == 1
    assert report["totals"]["crowd_skipped"] == 1
    assert report["totals"]["background_images"] == 1


def test_bad_input_is_one_line_and_exit_1(tmp_path):
    source = tmp_path / "instances_v.json"
    source.write_text("{not json")
    result = run("convert", source, "--root", tmp_path / "out")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "invalid JSON at line 1" in lines[0]


def test_dask_backend_needs_a_scheduler(tmp_path):
    result = run("convert", "x.json", "--root", tmp_path, "--backend", "dask")
    assert result.exit_code == 2
    assert "--scheduler" in result.output


def test_a_real_process_exits_1_on_bad_input(tmp_path):
    missing = tmp_path / "missing.json"
    done = subprocess.run(
        [sys.executable, "-m", "cocoprep", "convert", str(missing), "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    expected = f"Error: {missing}: no such file or directory (expected COCO JSON annotations)"
    assert done.stderr.strip() == expected


def test_a_real_process_converts_the_sample(tmp_path):
    sample = EXAMPLES / "coco-sample/annotations"
    done = subprocess.run(
        [sys.executable, "-m", "cocoprep", "convert", str(sample), "--root", str(tmp_path), "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "labels/train/000000000101.txt").read_text().startswith("0 ")
    assert "train: train.txt" in (tmp_path / "coco.yaml").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_demo_runs_offline(tmp_path):
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    # A relative BUILD, as `make -C examples demo` in the README uses (build/ there).
    args = ["make", "-C", str(EXAMPLES), "demo", f"BUILD={os.path.relpath(tmp_path, EXAMPLES)}"]
    args.append(f"COCOPREP={sys.executable} -m cocoprep")
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "sample/coco.yaml").is_file()
    assert (tmp_path / "sample/labels/val").is_dir()
    assert (tmp_path / "sample/preview/mosaic.png").is_file()


def test_every_command_has_the_same_output_flags():
    for name, command in main.commands.items():
        flags = {opt for param in command.params for opt in param.opts + param.secondary_opts}
        assert {"-q", "--quiet", "--progress", "--no-progress"} <= flags, name


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (
            InputError("x.json: 2 files map to 'val'; name one with {split}", params=["split"]),
            1,
            "Error: x.json: 2 files map to 'val'; name one with --split",
        ),
        (
            InputError("pick fewer {sources} or more {workers}", params=["sources", "workers"]),
            1,
            "Error: pick fewer SOURCES or more --workers",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/data/coco/labels"),
            1,
            "Error: /data/coco/labels: Read-only file system",
        ),
        (Interrupted(signal.SIGTERM), 143, "interrupted (SIGTERM)"),
        (Interrupted(signal.SIGINT, detail="2 partial files kept"), 130, "2 partial files kept"),
        (KeyboardInterrupt(), 130, "interrupted (SIGINT)"),
    ],
)
def test_failures_are_one_line_and_an_exit_code(monkeypatch, tmp_path, raised, code, line):
    import cocoprep.stats

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(cocoprep.stats, "stats", fail)
    result = run("stats", tmp_path, "-q")
    assert result.exit_code == code
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and line in lines[0], result.output

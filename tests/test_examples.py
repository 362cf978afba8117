"""The examples: the Makefile pipeline on the committed sample (file targets, redo only what
changed, stop on validation errors) and the Python API script."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COCOPREP = f"{sys.executable} -m cocoprep"

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(build: Path, *targets: str, cocoprep: str = COCOPREP) -> subprocess.CompletedProcess:
    args = ["make", "-C", str(EXAMPLES), *targets, f"BUILD={build}", f"COCOPREP={cocoprep}"]
    return subprocess.run(args, capture_output=True, text=True, check=False, env=dict(os.environ))


def steps(done: subprocess.CompletedProcess) -> list[str]:
    """The cocoprep commands Make ran, by verb."""
    return [line.split()[3] for line in done.stdout.splitlines() if " -m cocoprep " in line]


@needs_make
def test_demo_pipeline_redoes_only_what_changed(tmp_path: Path) -> None:
    first = make(tmp_path, "demo")
    assert first.returncode == 0, first.stdout + first.stderr
    assert steps(first) == ["convert", "validate", "yaml", "stats", "preview"]
    root = tmp_path / "sample"
    data = yaml.safe_load((root / "coco.yaml").read_text())
    assert (data["train"], data["val"], len(data["names"])) == ("train.txt", "val.txt", 3)
    assert (root / "reports" / "stats.txt").read_text().startswith("train: 4 images")
    assert (root / "preview" / "mosaic.png").is_file()

    again = make(tmp_path, "demo")
    assert again.returncode == 0 and steps(again) == []

    (root / "reports" / "convert.json").touch()  # as if convert had run again
    redo = make(tmp_path, "demo")
    assert steps(redo) == ["validate", "yaml", "stats", "preview"]


@needs_make
def test_validation_errors_stop_the_pipeline(tmp_path: Path) -> None:
    """A validate that exits 1 leaves no report (so the next run retries) and no stats."""
    wrapper = tmp_path / "cocoprep-failing-validate"
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = validate ]; then echo "{}"; echo "Error: 1 error" >&2; exit 1; fi\n'
        f'exec {COCOPREP} "$@"\n'
    )
    wrapper.chmod(0o755)
    failed = make(tmp_path, "demo", cocoprep=str(wrapper))
    assert failed.returncode != 0
    reports = tmp_path / "sample" / "reports"
    assert (reports / "convert.json").is_file()
    assert not (reports / "validate.json").exists()
    assert not (reports / "stats.txt").exists()
    fixed = make(tmp_path, "demo")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert steps(fixed) == ["validate", "yaml", "stats", "preview"]


def test_python_api_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("python_api", EXAMPLES / "python_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path / "api")]) == 0
    out = capsys.readouterr().out
    assert "validate: 0 errors" in out and "\nval: 3 images, 1 background" in out
    assert (tmp_path / "api" / "coco.yaml").is_file()

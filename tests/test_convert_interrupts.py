"""Kills and signals during ``cocoprep convert``, and converts overlapping in one root: real
processes, each stopped at a chosen moment (a hook in the process kills it there)."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cocoprep import debris

REPO = Path(__file__).resolve().parents[1]

# Runs the command line with a hook: at MOMENT the process sends itself SIG.
HOOKED = """
import os, signal, sys
from cocoprep import fileio
from cocoprep.converter import pipeline, writer
moment, sig = sys.argv[1], getattr(signal, sys.argv[2])
def stop():
    sys.stdout.write(str(os.getpid()) + "\\n")
    sys.stdout.flush()
    os.kill(os.getpid(), sig)
def after(function, when):
    def hooked(*args, **kwargs):
        result = function(*args, **kwargs)
        if moment == when:
            stop()
        return result
    return hooked
def before(function, when):
    def hooked(*args, **kwargs):
        if moment == when:
            stop()
        return function(*args, **kwargs)
    return hooked
original_write = writer.write_files
def write_files(files, *args, **kwargs):
    def counted():
        for i, item in enumerate(files):
            if i == 5 and moment == "labels":
                stop()
            yield item
    return original_write(counted(), *args, **kwargs)
writer.write_files = write_files
pipeline.split_rows = after(pipeline.split_rows, "rows")
pipeline.publish = after(before(pipeline.publish, "swap"), "swapped")
if moment == "aside":  # a system without an atomic exchange: moved aside, then replaced
    fileio._exchange = lambda a, b: False
    rename = os.rename
    def aside(source, target, *args, **kwargs):
        rename(source, target, *args, **kwargs)
        if str(target).endswith(".old"):
            stop()
    os.rename = aside
from cocoprep.cli import main
main(sys.argv[3:], prog_name="cocoprep")
"""


def _convert(annotations: Path, root: Path, task: str, moment: str = "", sig: str = "SIGKILL"):
    command = [sys.executable, "-c", HOOKED, moment or "none", sig, "convert", str(annotations)]
    command += ["--root", str(root), "--task", task, "--workers", "1", "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(root: Path, pid: int) -> list[str]:
    """Temporary files and folders in the root and beside the label trees, text stores of
    ``pid``."""
    names = [p.name for p in (root / "labels").iterdir() if p.name.startswith(".")]
    names += [p.name for p in root.iterdir() if p.name.endswith(".tmp")]
    for folder in ("/dev/shm", tempfile.gettempdir()):
        names += glob.glob(f"{folder}/cocoprep-labels-{pid}-*")
    return names


@pytest.fixture(scope="module")
def trees(coco_mini, tmp_path_factory):
    """The val2017 label tree as segment (the old one) and as detect (the new one)."""
    source = coco_mini / "annotations" / "instances_val2017.json"
    found = {}
    for task in ("segment", "detect"):
        root = tmp_path_factory.mktemp(task)
        assert _convert(source, root, task).returncode == 0
        found[task] = _tree(root / "labels" / "val2017")
    assert found["segment"] != found["detect"]
    return source, found


@pytest.mark.parametrize("moment", ["rows", "labels", "swap", "swapped", "aside"])
def test_a_kill_while_reconverting_leaves_the_old_tree_or_the_new_one(trees, tmp_path, moment):
    source, expected = trees
    root = tmp_path / "root"
    assert _convert(source, root, "segment").returncode == 0
    killed = _convert(source, root, "detect", moment)
    assert killed.returncode == -signal.SIGKILL
    pid = int(killed.stdout)
    if moment == "aside":  # the tree is aside: the next run's sweep puts it back
        assert not (root / "labels" / "val2017").exists()
        debris.sweep(root / "labels")
    tree = _tree(root / "labels" / "val2017")
    assert tree in (expected["segment"], expected["detect"])
    record = json.loads((root / "cocoprep.json").read_text())
    if tree == expected["segment"]:  # the record never names a task the tree does not hold
        assert record["splits"]["val2017"]["task"] == "segment"
    if moment in ("rows", "labels"):
        assert _leftovers(root, pid)
    rerun = _convert(source, root, "detect")
    assert rerun.returncode == 0, rerun.stderr
    assert _tree(root / "labels" / "val2017") == expected["detect"]
    assert json.loads((root / "cocoprep.json").read_text())["splits"]["val2017"]["task"] == "detect"
    assert _leftovers(root, pid) == []


@pytest.mark.parametrize(("sig", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
@pytest.mark.parametrize("moment", ["rows", "labels"])
def test_a_signal_removes_the_temporary_files_and_exits_128_plus_it(
    trees, tmp_path, sig, code, moment
):
    source, expected = trees
    root = tmp_path / "root"
    assert _convert(source, root, "segment").returncode == 0
    stopped = _convert(source, root, "detect", moment, sig)
    assert stopped.returncode == code
    assert stopped.stderr == f"interrupted ({sig})\n"
    assert _leftovers(root, int(stopped.stdout)) == []
    assert _tree(root / "labels" / "val2017") == expected["segment"]


# Kills itself while its workers are busy, first writing their pids: from a thread (so the
# workers are loky's, started by a thread) or from a timer signal (forked workers).
ORPHANING = """
import os, signal, sys, threading, time
from cocoprep.converter import convert, textstore, Tuning
def slow(*args):
    time.sleep(60)
textstore._rows_of_range = textstore._rows_of_batch = slow
def kill_parent(*args):
    me = os.getpid()
    children = open(f"/proc/{me}/task/{me}/children").read().split()
    print(" ".join(children), flush=True)
    os.kill(me, signal.SIGKILL)
if sys.argv[3] == "loky":
    threading.Timer(2.0, kill_parent).start()
else:
    signal.signal(signal.SIGALRM, kill_parent)
    signal.alarm(2)
tuning = Tuning(parallel_min_bytes=0, annotation_batch=100, chunk_bytes=64 << 10)
convert([sys.argv[1]], sys.argv[2], workers=2, tuning=tuning)
"""


@pytest.mark.parametrize("workers", ["fork", "loky"])
def test_workers_die_with_their_parent(coco_mini, tmp_path, workers):
    source = coco_mini / "annotations" / "instances_val2017.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", ORPHANING, str(source), str(tmp_path / "root"), workers]
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    workers = [int(pid) for pid in killed.stdout.split()]
    assert len(workers) >= 2  # loky adds its resource tracker
    deadline = time.monotonic() + 5
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in workers)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False

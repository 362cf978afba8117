"""Parallel helpers: values shared with workers, and convert through Dask (byte-identical)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from cocoprep import parallel
from cocoprep.converter import Tuning, convert
from cocoprep.errors import CocoprepError, InputError

from builders import coco, image, polygon_annotation, square, write


def _labels(root):
    return {p.relative_to(root): p.read_bytes() for p in (root / "labels").rglob("*.txt")}


def test_dask_backend_gives_the_same_bytes(tmp_path):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(1)
    anns = [
        polygon_annotation(k, int(rng.integers(1, 40)), 1, square(*rng.uniform(0, 300, 3)))
        for k in range(1, 400)
    ]
    source = write(tmp_path / "instances_v.json", coco([image(i) for i in range(1, 40)], anns))
    tuning = Tuning(chunk_bytes=8 << 10)
    convert([source], tmp_path / "local", workers=1, tuning=tuning)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        convert([source], tmp_path / "dask", backend="dask", scheduler=address, tuning=tuning)
    assert _labels(tmp_path / "dask") == _labels(tmp_path / "local")


def test_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "1s")
    source = write(tmp_path / "instances_v.json", coco([image(1)], []))
    with pytest.raises(CocoprepError, match="cannot reach the Dask scheduler"):
        convert([source], tmp_path / "out", backend="dask", scheduler="tcp://127.0.0.1:9")


def test_shared_value_travels_as_its_file_and_is_loaded_once(tmp_path):
    import pickle

    value = {"widths": np.arange(200_000, dtype=np.float64)}
    path = str(tmp_path / "context")
    with parallel.Shared.through(value, path) as shared:
        sent = pickle.dumps(shared)
        assert len(sent) < 200  # the path, not 1.6 MB of widths
        first, second = pickle.loads(sent), pickle.loads(sent)
        assert first is second  # loaded once per process
        assert np.array_equal(first.get()["widths"], value["widths"])
    assert not (tmp_path / "context").exists()
    alone = pickle.loads(pickle.dumps(parallel.Shared(value)))  # no file: the value travels
    assert np.array_equal(alone.get()["widths"], value["widths"])


#: Changed by the checks below: forked workers see the change, fresh interpreters (loky) do not.
_STATE = "as imported"


def _state_and_pid(fail_at: int, index: int) -> tuple[str, int]:
    if index == fail_at:
        msg = f"job {index} failed"
        raise InputError(msg)
    return _STATE, os.getpid()


def _exit_now() -> None:
    os._exit(3)


def _run(jobs: int = 6, fail_at: int = -1) -> list[tuple[str, int]]:
    args = [(fail_at, i) for i in range(jobs)]
    return list(parallel.run_in_order(_state_and_pid, args, [1] * jobs, workers=2))


def _check_forked_and_stopped() -> None:
    global _STATE
    _STATE = "changed in the parent"
    with parallel.local_workers(2, __name__):
        assert parallel._pool is not None
        results = _run()
    assert {state for state, _ in results} == {"changed in the parent"}
    pids = {pid for _, pid in results}
    assert os.getpid() not in pids
    assert parallel._pool is None
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _check_failing_job() -> None:
    with pytest.raises(InputError, match="job 3 failed"), parallel.local_workers(2, __name__):
        _run(fail_at=3)
    assert parallel._pool is None


def _check_dead_worker() -> None:
    with (
        parallel.local_workers(2, __name__),
        pytest.raises(CocoprepError, match="a worker process died"),
    ):
        list(parallel.run_in_order(_exit_now, [()] * 4, [1] * 4, workers=2))


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
@pytest.mark.parametrize(
    "check", ["_check_forked_and_stopped", "_check_failing_job", "_check_dead_worker"]
)
def test_forked_workers(check):
    """Each check in a new interpreter: forking needs a process with one thread, and earlier
    tests leave threads (Dask's, loky's) in this one."""
    code = f"import test_parallel; test_parallel.{check}()"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},  # as the CLI sets it: no BLAS threads
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def other_thread():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    yield
    stop.set()
    thread.join()


def test_loky_workers_while_other_threads_run(other_thread, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "_STATE", "changed in the parent")
    with parallel.local_workers(2, __name__):
        assert parallel._pool is None
        results = _run()
    assert {state for state, _ in results} == {"as imported"}
    assert os.getpid() not in {pid for _, pid in results}


def test_a_dead_loky_worker_is_a_one_line_error(other_thread):
    with (
        parallel.local_workers(2, __name__),
        pytest.raises(CocoprepError, match="a worker process died"),
    ):
        list(parallel.run_in_order(_exit_now, [()] * 4, [1] * 4, workers=2))

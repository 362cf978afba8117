"""Parallel helpers: values shared with workers, and convert through Dask (byte-identical)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from cocoprep import parallel
from cocoprep.convert import convert
from cocoprep.errors import CocoprepError

from builders import coco, image, polygon_annotation, square, write

convert_module = importlib.import_module("cocoprep.convert")


def _labels(root):
    return {p.relative_to(root): p.read_bytes() for p in (root / "labels").rglob("*.txt")}


def test_dask_backend_gives_the_same_bytes(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(1)
    anns = [
        polygon_annotation(k, int(rng.integers(1, 40)), 1, square(*rng.uniform(0, 300, 3)))
        for k in range(1, 400)
    ]
    source = write(tmp_path / "instances_v.json", coco([image(i) for i in range(1, 40)], anns))
    monkeypatch.setattr(convert_module, "CHUNK_BYTES", 8 << 10)
    convert([source], tmp_path / "local", workers=1)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        convert([source], tmp_path / "dask", backend="dask", scheduler=cluster.scheduler_address)
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

"""Running convert's per-chunk work beyond one machine: joblib's Dask backend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from cocoprep.errors import CocoprepError

#: How long to wait for the scheduler before giving up.
CONNECT_TIMEOUT = "10s"


@contextlib.contextmanager
def dask_client(address: str | None) -> Iterator[object]:
    """Connect to a dask.distributed scheduler for the duration of the block.

    While the block runs, joblib sends work to that cluster (its backend is set to "dask").
    The workers must see the annotation files and the dataset root at the same paths (a
    shared filesystem).
    """
    try:
        from distributed import Client
    except ImportError:
        msg = "the dask backend needs dask.distributed: pip install 'cocoprep[dask]'"
        raise CocoprepError(msg) from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT) if address else Client.current()
    except (OSError, TimeoutError, ValueError) as error:
        msg = f"cannot reach the Dask scheduler at {address}: {error}"
        raise CocoprepError(msg) from None
    from joblib import parallel_config

    try:
        with parallel_config(backend="dask"):
            yield client
    finally:
        if address:
            client.close()


def backend_context(
    backend: str, scheduler: str | None
) -> contextlib.AbstractContextManager[object]:
    """A context for joblib's ``backend``: connected to ``scheduler`` for ``"dask"``."""
    if backend == "dask":
        return dask_client(scheduler)
    return contextlib.nullcontext()

"""Running convert's per-chunk work beyond one machine: joblib's Dask backend."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from cocoprep.errors import CocoprepError


@contextlib.contextmanager
def dask_client(address: str | None) -> Iterator[object]:
    """Connect to a dask.distributed scheduler for the duration of the block.

    While the block runs, joblib's ``backend="dask"`` sends work to that cluster. The workers
    must see the annotation files and the dataset root at the same paths (a shared filesystem).
    """
    try:
        from distributed import Client
    except ImportError:
        msg = "the dask backend needs dask.distributed: pip install 'cocoprep[dask]'"
        raise CocoprepError(msg) from None
    try:
        client = Client(address, timeout="10s") if address else Client.current()
    except (OSError, TimeoutError, ValueError) as error:
        msg = f"cannot reach the Dask scheduler at {address}: {error}"
        raise CocoprepError(msg) from None
    try:
        yield client
    finally:
        if address:
            client.close()

"""Running many jobs in order through joblib: local worker processes (started early, sharing one
big read-only value through a file) or a dask.distributed cluster; and glibc memory tuning for
processes that allocate and free a lot.

Local workers are forked where that is safe (Linux, a process running one thread): a forked worker
has the caller's imports already and is ready in milliseconds, where a fresh interpreter takes
~0.3 CPU-s to import numpy and the job's module. Elsewhere they are loky's processes, started in
the background (:func:`local_workers`)."""

from __future__ import annotations

import contextlib
import functools
import importlib
import multiprocessing
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from joblib.parallel import ParallelBackendBase

from cocoprep.errors import CocoprepError
from cocoprep.progress import Progress, bar

T = TypeVar("T")

#: Bytes of annotations below which a COCO file is read in-process: starting workers would cost
#: more than they save.
PARALLEL_MIN_BYTES = 48 << 20

_MALLOC_TUNED = False


def worker_count(workers: int | None) -> int:
    """The worker processes to use: ``workers`` when given, else one per CPU.

    >>> worker_count(3)
    3
    >>> worker_count(None) >= 1
    True
    """
    return workers or os.cpu_count() or 1


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it to the system at once.

    A worker parses one chunk after another, each into ~100 MB of short-lived objects; with
    glibc's defaults their large buffers are mapped and unmapped for every chunk, and the page
    faults that follow cost a third of the conversion's system time. Once per process; a no-op
    where the C library is not glibc.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 << 20)
        libc.mallopt(m_trim_threshold, 1 << 30)
    except (OSError, AttributeError):
        pass


_DIES_WITH_PARENT = 0  # the pid of the process that asked, so a forked child asks again


def die_with_parent(parent: int | None = None) -> None:
    """Have this worker process end when its parent dies, however it dies. Once per process.

    With ``parent`` (the parent's pid; for processes forked by the parent's main thread) the
    kernel kills it (``PR_SET_PDEATHSIG``, Linux), and a parent gone already ends it at once.
    Without (loky's workers, started by one of the parent's threads, whose end would fire that
    signal), a daemon thread ends it once its parent process is gone.
    """
    global _DIES_WITH_PARENT
    if os.getpid() == _DIES_WITH_PARENT:
        return
    _DIES_WITH_PARENT = os.getpid()
    if parent is None:
        threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
        return
    if sys.platform != "linux":
        return
    try:
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)  # orphaned before asking


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _in_worker(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a loky worker, which dies with its parent."""
    die_with_parent()
    return function(*args)


def release_freed_memory() -> None:
    """Hand the memory glibc kept after frees (see :func:`keep_freed_memory`) back to the system,
    when a process moves on to work that needs little of it. A no-op where the C library is not
    glibc."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class Shared(Generic[T]):
    """A value every job needs, sent to local worker processes through a file: pickled once
    and loaded once per process instead of with each job (a train2017 row context is 3.8 MB,
    for ~190 jobs). Without a file (one process, a cluster) it travels with the jobs.

    >>> with Shared.through({"widths": [640, 480]}, None) as shared:
    ...     shared.get()["widths"]
    [640, 480]
    """

    def __init__(self, value: T, path: str | None = None) -> None:
        self._value, self.path = value, path

    @classmethod
    @contextlib.contextmanager
    def through(cls, value: T, path: str | None) -> Iterator[Shared[T]]:
        """``value`` shared through a new file at ``path`` (when given) for the block."""
        if path is None:
            yield cls(value)
            return
        try:
            with open(path, "wb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            yield cls(value, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def get(self) -> T:
        """The value."""
        return self._value

    def __reduce__(self) -> tuple[Any, tuple]:
        if self.path is None:
            return (Shared, (self._value,))
        return (_shared_from_file, (self.path,))


@functools.lru_cache(maxsize=1)  # the latest: one conversion at a time
def _shared_from_file(path: str) -> Shared:
    with open(path, "rb") as handle:
        return Shared(pickle.load(handle), path)  # our own file, written by this run


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


_starting: threading.Thread | None = None
_starting_lock = threading.Lock()
#: Forked workers of the running :func:`local_workers` block, if any.
_pool: ProcessPoolExecutor | None = None


@contextlib.contextmanager
def local_workers(workers: int, module: str) -> Iterator[None]:
    """Start ``workers`` local worker processes now for every local :func:`run_in_order` in the
    block.

    Where the process can fork safely (Linux, no other thread running) they are forked here and
    stopped at the end of the block. Elsewhere loky processes start in the background, each
    importing ``module`` (where the coming jobs' functions live), so their interpreters and
    imports overlap with whatever the caller does next (reading a file's images, say).
    """
    global _pool
    if workers <= 1 or _pool is not None:
        yield
        return
    if sys.platform != "linux" or len(os.listdir("/proc/self/task")) > 1:
        # Threads other than this one (Python's, or OpenBLAS's when OPENBLAS_NUM_THREADS is not
        # 1) could hold locks the forked children would then wait on forever.
        _start_loky(workers, module)
        yield
        return
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )
    # A fork pool forks all its workers on the first job, before its own threads start.
    pool.submit(int)
    _pool = pool
    try:
        yield
    finally:
        _pool = None
        pool.shutdown(cancel_futures=True)


class _PoolBackend(ParallelBackendBase):
    """joblib backend over the forked workers of :func:`local_workers`."""

    supports_retrieve_callback = True

    def __init__(self, pool: ProcessPoolExecutor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pool, self._futures = pool, set()

    def effective_n_jobs(self, n_jobs: int) -> int:
        return n_jobs

    def submit(self, func: Callable[[], Any], callback: Callable | None = None) -> Future:
        future = self._pool.submit(func)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def retrieve_result_callback(self, future: Future) -> Any:
        return future.result()

    def abort_everything(self, ensure_ready: bool = True) -> None:
        for future in list(self._futures):
            future.cancel()


def _start_loky(workers: int, module: str) -> None:
    global _starting
    # Imported here: in the thread, the import would crawl while this one holds the GIL.
    from joblib import Parallel, delayed

    def start() -> None:
        # Failures show when the real jobs run.
        with contextlib.suppress(Exception):
            Parallel(**_loky(workers))(delayed(_load)(module) for _ in range(workers))

    with _starting_lock:
        if _starting is None or not _starting.is_alive():
            _starting = threading.Thread(target=start, name="cocoprep-start-workers", daemon=True)
            _starting.start()


def _load(module: str) -> None:
    """A loky worker's first job: import the module the coming jobs' functions live in."""
    importlib.import_module(module)


def _loky(workers: int) -> dict[str, Any]:
    """joblib options for loky worker processes. Arguments are pickled, never dumped to
    memory-mapped files: the jobs' arrays are small or sent once, and the dump folders cost
    more to set up and clean than they save. Every call asks the same, so they all reuse one
    set of processes."""
    return {"n_jobs": workers, "backend": "loky", "max_nbytes": None}


def _local(workers: int) -> dict[str, Any]:
    """joblib options for local workers: the forked ones of :func:`local_workers`, else loky's
    (waiting for those it started)."""
    if _pool is not None:
        return {"n_jobs": workers, "backend": _PoolBackend(_pool)}
    _await_workers()
    return _loky(workers)


def _await_workers() -> None:
    global _starting
    with _starting_lock:
        starting, _starting = _starting, None
    if starting is not None:
        starting.join()


def run_in_order(
    function: Callable[..., Any],
    jobs: Sequence[tuple],
    sizes: Sequence[int],
    *,
    workers: int,
    backend: str = "loky",
    desc: str = "",
    unit: str = "it",
    progress: Progress = False,
) -> Iterator[Any]:
    """``function(*args)`` for each of ``jobs``, yielded in job order as they finish.

    Runs in-process when one worker (or one job) is asked for on the local backend, else through
    joblib: ``workers`` local processes (those of :func:`local_workers`, or loky's), or whatever
    cluster :func:`backend_context` selected for ``backend="dask"``. A progress bar
    (:func:`cocoprep.progress.bar`) advances by each job's size. A worker process that dies
    (killed, out of memory) is a :class:`CocoprepError`.
    """
    from joblib import Parallel, delayed

    with bar(progress, total=sum(sizes), unit=unit, desc=desc, leave=False) as shown:
        if backend == "loky" and (workers <= 1 or len(jobs) <= 1):
            results: Iterator[Any] = (function(*args) for args in jobs)
        else:
            if backend == "loky":
                options = _local(workers)
                calls = (delayed(_in_worker)(function, *args) for args in jobs)
            else:
                options, calls = {}, (delayed(function)(*args) for args in jobs)
            results = Parallel(return_as="generator", **options)(calls)
        try:
            for result, size in zip(results, sizes, strict=True):
                yield result
                shown.update(size)
        except BrokenProcessPool as error:
            msg = f"a worker process died (killed, or out of memory?): {error}; lower {{workers}}"
            raise CocoprepError(msg, params=["workers"]) from error

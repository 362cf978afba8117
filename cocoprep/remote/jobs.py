"""Run one task per item on a few threads and keep every failure's type."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

from cocoprep.errors import CocoprepError, DownloadError

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_all(
    items: Iterable[Item],
    worker: Callable[[Item], Result],
    jobs: int,
    what: str,
    *,
    cancel: Callable[[], None] | None = None,
) -> list[Result]:
    """``worker`` over ``items`` on ``jobs`` threads; the results, in completion order.

    The tasks all run even when some fail. One failure is re-raised as it is; several become
    one error of their common class (:class:`~cocoprep.errors.DownloadError` when they differ)
    joining the messages, raised ``from`` the first, with all of them in ``errors``. Anything
    that is not a :class:`~cocoprep.errors.CocoprepError` (a bug, an interrupt) propagates at
    once, after ``cancel()`` (which should make the running tasks return soon).

    Examples
    --------
    >>> sorted(run_all([1, 2, 3], lambda n: n * n, 2, "squares"))
    [1, 4, 9]
    """
    results: list[Result] = []
    errors: list[CocoprepError] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="cocoprep") as pool:
        futures = [pool.submit(worker, item) for item in items]
        try:
            for future in as_completed(futures):
                try:
                    results.append(future.result())
                except CocoprepError as error:
                    errors.append(error)
        except BaseException:
            for future in futures:
                future.cancel()
            if cancel is not None:
                cancel()
            raise
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise joined(errors, what)
    return results


def joined(errors: list[CocoprepError], what: str) -> CocoprepError:
    """One error standing for several: their common class, messages and parameters joined.

    Examples
    --------
    >>> from cocoprep.errors import ChecksumError
    >>> error = joined([ChecksumError("b: bad"), ChecksumError("a: bad")], "archives")
    >>> type(error).__name__, str(error)
    ('ChecksumError', '2 archives failed: a: bad | b: bad')
    """
    errors = sorted(errors, key=lambda error: error.message)
    kinds = {type(error) for error in errors}
    kind = kinds.pop() if len(kinds) == 1 else DownloadError
    params = dict.fromkeys(name for error in errors for name in error.params)
    message = f"{len(errors)} {what} failed: " + " | ".join(e.message for e in errors)
    error = kind(message, params=params)
    error.errors = tuple(errors)
    error.__cause__ = errors[0]
    return error

"""One progress abstraction for every command: tqdm on stderr by default, injectable.

Every library function that shows progress takes ``progress``:

- ``None`` (the default): bars only when stderr is a terminal, so Make and CI logs get no
  ``\\r`` lines;
- ``True`` / ``False``: bars on / off;
- a callable ``factory(total=…, desc=…, unit=…, leave=…)`` returning an object with
  ``update(n)`` and ``close()``, to feed another front end (a notebook widget, a logger).

>>> with bar(False, total=3, desc="images") as b:
...     b.update(3)
>>> calls = []
>>> class Recorder:
...     def __init__(self, **options): calls.append(options["desc"])
...     def update(self, n): calls.append(n)
...     def close(self): calls.append("closed")
>>> with bar(Recorder, total=2, desc="labels") as b:
...     b.update(2)
>>> calls
['labels', 2, 'closed']
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol


class Bar(Protocol):
    """What a progress bar offers: advance by ``n``, then close."""

    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


Progress = bool | None | Callable[..., Bar]


def enabled(progress: Progress) -> bool:
    """Whether ``progress`` shows anything: ``None`` means "when stderr is a terminal".

    >>> enabled(False), enabled(True)
    (False, True)
    """
    if progress is None:
        return sys.stderr.isatty()
    return bool(progress)


class _Handle:
    """A bar (or nothing) usable as a context manager; updates are thread-safe."""

    def __init__(self, inner: Bar | None) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def update(self, n: int = 1) -> None:
        if self._inner is not None and n:
            with self._lock:
                self._inner.update(n)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    def __enter__(self) -> _Handle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bar(
    progress: Progress,
    *,
    total: int | None,
    desc: str,
    unit: str = "it",
    leave: bool = True,
) -> _Handle:
    """A progress bar of ``total`` steps (bytes when ``unit="B"``), or one that shows nothing."""
    if callable(progress) and not isinstance(progress, bool):
        return _Handle(progress(total=total, desc=desc, unit=unit, leave=leave))
    if not enabled(progress):
        return _Handle(None)
    from tqdm import tqdm

    style: dict[str, Any] = {"unit": unit, "dynamic_ncols": True, "file": sys.stderr}
    if unit == "B":
        style.update(unit_scale=True, unit_divisor=1024)
    return _Handle(tqdm(total=total, desc=desc, leave=leave, **style))

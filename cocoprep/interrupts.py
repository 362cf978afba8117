"""Ctrl-C and ``kill`` (SIGTERM) as one exception, so every run cleans up the same way.

Inside :func:`signals_as_interrupts`, SIGINT and SIGTERM raise :class:`Interrupted` in the main
thread. It subclasses ``KeyboardInterrupt``, so ``finally`` blocks and ``except
KeyboardInterrupt`` clean-ups run for both; the command line exits with ``128 + signal``
(130 for Ctrl-C, 143 for SIGTERM), as shells do.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_code`` is ``128 + signum``.

    ``detail`` says what the run kept, for the one line the command line prints; code that
    cleans up may raise a new one with it (``raise Interrupted(e.signum, detail=…) from e``).

    >>> stop = Interrupted(signal.SIGTERM, detail="3 partial downloads kept; re-run to resume")
    >>> stop.exit_code, str(stop)
    (143, 'SIGTERM: 3 partial downloads kept; re-run to resume')
    """

    def __init__(self, signum: int = signal.SIGINT, *, detail: str = "") -> None:
        name = signal.Signals(signum).name
        super().__init__(f"{name}: {detail}" if detail else name)
        self.signum = int(signum)
        self.detail = detail

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __reduce__(self) -> tuple[Any, ...]:
        return (functools.partial(type(self), detail=self.detail), (self.signum,))


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` while the block runs.

    Outside the main thread (where handlers cannot be set) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""Ctrl-C and ``kill`` (SIGTERM) as one exception, so every run cleans up the same way.

Inside :func:`signals_as_interrupts`, SIGINT and SIGTERM raise :class:`Interrupted` in the main
thread. It subclasses ``KeyboardInterrupt``, so ``finally`` blocks and ``except
KeyboardInterrupt`` clean-ups run for both; the command line exits with ``128 + signal``
(130 for Ctrl-C, 143 for SIGTERM), as shells do.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``exit_code`` is ``128 + signum``.

    >>> Interrupted(signal.SIGTERM).exit_code
    143
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __reduce__(self) -> tuple[type[Interrupted], tuple[int]]:
        return (type(self), (self.signum,))


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

"""Every exception cocoprep raises for bad input or failed work.

A message is one line naming the file or item at fault, what was expected, what was found and
what to do. Where it tells the caller to change an argument it names the *parameter*, written
``{name}`` in the message and listed in ``params``: ``str(error)`` spells it as a Python caller
passes it (``split=``), the command line as its flag (``--split``), through :meth:`render`.

>>> error = InputError("2 files map to split 'val'; name one with {split}", params=["split"])
>>> str(error)
"2 files map to split 'val'; name one with split="
>>> error.render(lambda name: "--" + name)
"2 files map to split 'val'; name one with --split"

Errors keep their type and fields across threads and processes (they pickle whole):

>>> import pickle
>>> again = pickle.loads(pickle.dumps(InputError("bad", path="a.json")))
>>> type(again).__name__, again.path, str(again)
('InputError', 'a.json', 'bad')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any


class CocoprepError(Exception):
    """Base class: a failure the user can act on (bad input, failed download, …).

    Parameters
    ----------
    message
        One line; parameter names appear as ``{name}`` and are listed in ``params``.
    path
        The file at fault, when there is one.
    params
        The parameter names the message refers to.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike | None = None,
        params: Iterable[str] = (),
    ) -> None:
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.params = tuple(params)
        super().__init__(message)

    def __str__(self) -> str:
        return self.render(lambda name: f"{name}=")

    def render(self, spell: Callable[[str], str]) -> str:
        """The message with each parameter written by ``spell(name)``."""
        text = self.message
        for name in self.params:
            text = text.replace("{" + name + "}", spell(name))
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields would be lost by Exception's default (positional args only).
        return (_rebuild, (type(self), self.message), self.__dict__)


def _rebuild(cls: type[CocoprepError], message: str) -> CocoprepError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


class InputError(CocoprepError, ValueError):
    """An input file is missing, unreadable or not what it should be."""


class LayoutError(InputError):
    """A COCO file's layout defeats the fast byte-range reader (:mod:`cocoprep.coco`); readers
    catch it and parse the file whole (:func:`cocoprep.coco.ranges_else_whole`)."""


class OutputError(CocoprepError, OSError):
    """A file or folder cocoprep writes cannot be written (read-only, full disk, permission)."""


class UnsafePathError(InputError):
    """A path would lead outside the folder it must stay in, or onto one of the inputs."""


class ConflictError(CocoprepError):
    """The inputs disagree with what a root already holds (a class map, a task)."""


class DownloadError(CocoprepError):
    """A download failed after its retries."""


class InsufficientSpaceError(CocoprepError):
    """The disk lacks room for the planned download and extraction."""


class ChecksumError(CocoprepError):
    """A file's hash differs from the expected one."""


class UnsafeArchiveError(CocoprepError):
    """An archive member would be written outside its destination, or is a link."""

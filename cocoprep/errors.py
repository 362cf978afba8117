"""The exceptions cocoprep raises for bad input or failed work.

Every message is one line that names the file or item at fault, what was expected and what was
found, so the command line can print it as it is.
"""

from __future__ import annotations


class CocoprepError(Exception):
    """Base class: a failure the user can act on (bad input, failed download, …)."""


class InputError(CocoprepError, ValueError):
    """An input file is missing, unreadable or not what it should be."""

"""Where a run may write: never over one of its inputs, and only where its root allows.

Every command that writes a file the user names (``--out``, ``--report``, ``--yaml-name``,
``--fix``) asks here first, before any work is done, so a mistyped flag costs one error line
and never the input.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cocoprep.errors import UnsafePathError


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file (through links too; by path when one is missing).

    >>> same_file("a.json", "./a.json")
    True
    """
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_outputs(
    inputs: Sequence[str | os.PathLike], outputs: Sequence[str | os.PathLike], param: str
) -> None:
    """An error when an output is one of the inputs, or two outputs are one file.

    >>> check_outputs([Path("a.json")], [Path("./a.json")], "out")
    Traceback (most recent call last):
    cocoprep.errors.UnsafePathError: a.json: expected an output apart from the inputs, found ...
    """
    for i, output in enumerate(outputs):
        for other in [*inputs, *outputs[:i]]:
            if same_file(output, other):
                role = "the input" if other in inputs else "another output,"
                msg = (
                    f"{output}: expected an output apart from the inputs, found {role} {other}; "
                    f"pass another {{{param}}}"
                )
                raise UnsafePathError(msg, path=str(output), params=[param])


def check_file_name(name: str, param: str, suffixes: Sequence[str]) -> None:
    """An error unless ``name`` is a plain file name (no folder part) with one of ``suffixes``:
    for files written inside a root, which must stay there.

    >>> check_file_name("coco.yaml", "yaml_name", (".yaml", ".yml"))
    >>> check_file_name("../../x.yaml", "yaml_name", (".yaml", ".yml"))
    Traceback (most recent call last):
    cocoprep.errors.UnsafePathError: ../../x.yaml: expected a file name without a folder ...
    """
    if not name or os.sep in name or "/" in name or name in (".", "..") or "\0" in name:
        msg = (
            f"{name}: expected a file name without a folder (it is written inside the root), "
            f"found a path; pass a plain name to {{{param}}}"
        )
        raise UnsafePathError(msg, path=name, params=[param])
    if not name.lower().endswith(tuple(suffixes)):
        msg = (
            f"{name}: expected a name ending in {' or '.join(suffixes)}, found "
            f"{Path(name).suffix or 'no suffix'}; pass a name such as data{suffixes[0]} to "
            f"{{{param}}}"
        )
        raise UnsafePathError(msg, path=name, params=[param])

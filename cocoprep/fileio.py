"""Atomic, idempotent file writes.

Every file cocoprep writes goes to a temporary name beside its target and is renamed over it, so a
killed run never leaves a half-written label file. A file whose bytes are already right is left
untouched: a re-run changes nothing, and Make sees no newer file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cocoprep import debris


def same_content(path: str | os.PathLike, data: bytes) -> bool:
    """True when ``path`` exists and holds exactly ``data``."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(data) + 1) == data
    except OSError:
        return False


def write_atomic(path: str | os.PathLike, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Returns False (and writes nothing) when the file already holds ``data``.
    """
    if same_content(path, data):
        return False
    with open_atomic(path) as handle:
        handle.write(data)
    return True


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: a temporary file beside it, renamed over it when
    the block ends, removed instead when the block raises (a file too large to build in memory
    is written piece by piece this way). Missing parent folders are created.
    """
    tmp = f"{os.fspath(path)}.{debris.tag()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:  # a write: name the file
            raise OSError(error.errno, error.strerror, os.fspath(path)) from error
        raise


#: Whether files can be opened relative to an open folder (not on Windows).
_DIR_FD = os.open in os.supports_dir_fd
#: Whether empty files can be made with mknod (Linux; elsewhere it may need privileges).
_MKNOD = sys.platform == "linux" and _DIR_FD
#: Most stage folders kept open at once while writing.
_STAGE_FDS = 16


class Stages(dict[str, str | None]):
    """Where new files of each folder go: the folder's temporary twin (its stage) for a folder
    that did not exist when planned, None for one that did. ``made`` lists the parent folders
    planning created, which :func:`discard` removes again when they are left empty.

    Folders inside a tree planned with :func:`plan_trees` are filled in the tree's copy built
    aside (``trees``: tree → copy): a new folder's stage is its place in the copy, an existing
    one's files are written there (``moved``: folder → its place in the copy); the copy then
    takes the tree's place in one rename."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[str] = []
        self.trees: dict[str, str] = {}
        self.moved: dict[str, str] = {}


def plan_folders(folders: Iterable[str], stages: Stages) -> Stages:
    """Add each folder not yet in ``stages``: an existing folder maps to None, a new one to an
    empty stage created beside it (and its missing parents). Returns ``stages``.

    Stages are created before anything is written into them, so one process can plan the
    folders and others (:func:`write_files`) fill them; :func:`publish` or :func:`discard` ends
    them.
    """
    for folder in folders:
        if folder not in stages:
            stages[folder] = None if os.path.isdir(folder) else _stage(Path(folder), stages.made)
    return stages


def plan_trees(trees: Iterable[str], folders: Iterable[str], stages: Stages) -> Stages:
    """Plan ``folders`` (each inside one of ``trees``) to be filled in a copy of their tree
    built aside, ``.<tree>.<tag>.new`` beside it: a copy of hard links to the tree's files when
    the tree exists, so files already right stay the same files, and files written there
    replace their link, never the file the tree holds. :func:`publish` swaps each copy in.
    Returns ``stages``.
    """
    copied = set()
    for tree in trees:
        aside = _aside(tree, "new")
        shutil.rmtree(aside, ignore_errors=True)
        stages.trees[tree] = aside  # first: an interrupt while copying discards the copy
        if os.path.isdir(tree):
            _link_copy(tree, aside)
            copied.add(tree)
        else:
            _make_parents(Path(tree), stages.made)
            os.mkdir(aside)
    for folder in folders:
        tree = next(t for t in stages.trees if folder == t or folder.startswith(t + "/"))
        place = stages.trees[tree] + folder[len(tree) :]
        if tree in copied and os.path.isdir(place):
            stages[folder] = None
            stages.moved[folder] = place
        else:
            os.makedirs(place, exist_ok=True)
            stages[folder] = place
    return stages


def _aside(tree: str, kind: str) -> str:
    """The name of a tree's copy (``new``) or of the tree put aside (``old``) by this run."""
    parent, _, name = tree.rpartition("/")
    return f"{parent}/.{name}.{debris.tag()}.{kind}"


def _link_copy(source: str, target: str) -> None:
    """``target``: the folders of ``source`` again, holding hard links to its files."""
    for folder, folders, files in os.walk(source):
        copy = target + folder[len(source) :]
        os.mkdir(copy)
        for name in files:
            os.link(f"{folder}/{name}", f"{copy}/{name}", follow_symlinks=False)
        for name in folders:  # os.walk lists links to folders here, and does not enter them
            if os.path.islink(f"{folder}/{name}"):
                os.symlink(os.readlink(f"{folder}/{name}"), f"{copy}/{name}")


def write_files(
    files: Iterable[tuple[str | os.PathLike, bytes]],
    stages: Stages,
    *,
    on_file: Callable[[], object] | None = None,
    plan: bool = False,
    created: int = 0,
) -> tuple[int, int]:
    """Write each file into its folder's stage (a new file) or, in a folder that existed,
    through :func:`write_atomic`; return ``(written, unchanged)``.

    A folder missing from ``stages`` is planned on the spot when ``plan`` is true, else an error:
    a stage made here would never be published by whoever planned the others. Staged files among
    the first ``created`` exist already, empty (made by :func:`create_ahead`).
    """
    written = unchanged = 0
    stage_fds: dict[str, int] = {}
    try:
        for index, (path, data) in enumerate(files):
            folder, _, name = os.fspath(path).rpartition("/")
            if folder not in stages:
                if not plan:
                    msg = (
                        f"{path}: its folder was not planned "
                        f"(expected one of {len(stages)} folders)"
                    )
                    raise ValueError(msg)
                plan_folders([folder], stages)
            stage, place = stages[folder], stages.moved.get(folder)
            if stage is not None:
                _fill(stage, name, data, stage_fds, exists=index < created)
                written += 1
            elif _relink(place, name, data, stage_fds) if place else write_atomic(path, data):
                written += 1
            else:
                unchanged += 1
            if on_file:
                on_file()
    finally:
        _close_all(stage_fds)
    return written, unchanged


def _relink(place: str, name: str, data: bytes, stage_fds: dict[str, int]) -> bool:
    """Write the file ``name`` of a folder being rebuilt aside in a tree's copy (``place``):
    left as it is when right (still the tree's file), else its link to the tree's file
    replaced by a new file, never written through. No temporary name is needed: the copy
    is this run's alone until it is swapped in whole (10 times faster than one per file)."""
    if same_content(f"{place}/{name}", data):
        return False
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{place}/{name}")
    _fill(place, name, data, stage_fds, exists=False)
    return True


_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL


def _fill(stage: str, name: str, data: bytes, stage_fds: dict[str, int], *, exists: bool) -> None:
    """Write the file ``stage/name``: a new one, or one that ``exists`` already, empty."""
    if exists and not data:
        return
    fd = _open_in(stage, name, os.O_WRONLY if exists else _NEW, stage_fds)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _open_in(stage: str, name: str, flags: int, stage_fds: dict[str, int]) -> int:
    """Open ``stage/name``, relative to the stage's descriptor where the system can (see
    :func:`_stage_fd`)."""
    if not _DIR_FD:
        return os.open(f"{stage}/{name}", flags, 0o644)
    return os.open(name, flags, 0o644, dir_fd=_stage_fd(stage, stage_fds))


def _stage_fd(stage: str, stage_fds: dict[str, int]) -> int:
    """An open descriptor of the stage, so no file opened in it walks down its path.
    ``stage_fds`` keeps the latest ``_STAGE_FDS`` stages open (thousands of folders must not
    exhaust the open-file limit)."""
    if stage not in stage_fds:
        if len(stage_fds) >= _STAGE_FDS:
            os.close(stage_fds.pop(next(iter(stage_fds))))
        stage_fds[stage] = os.open(stage, os.O_RDONLY | os.O_DIRECTORY)
    return stage_fds[stage]


def _make_empty(stage: str, name: str, stage_fds: dict[str, int]) -> None:
    """Create the empty file ``stage/name`` (an error if it exists). On Linux ``mknod``
    creates it without opening it, ~10 % faster than ``open`` and ``close``."""
    if _MKNOD:
        os.mknod(name, stat.S_IFREG | 0o644, dir_fd=_stage_fd(stage, stage_fds))
    else:
        os.close(_open_in(stage, name, _NEW, stage_fds))


def _close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()


@dataclass
class Ahead:
    """How far :func:`create_ahead` got: ``created`` leading paths are done."""

    created: int = 0


@contextlib.contextmanager
def create_ahead(paths: Iterable[str], stages: Stages) -> Iterator[Ahead]:
    """While the block runs, create the staged files among ``paths`` empty, in order, in a
    background thread; afterwards ``Ahead.created`` tells :func:`write_files` how many paths
    are done.

    Creating a file holds its folder's lock; opening a file that exists does not. Files created
    ahead, while this process waits for others (say, its workers computing what goes in them),
    can then be filled by several processes at once instead of one after another. The thread
    stops at the end of the block, or at its first error (the writers create the rest and
    report what is wrong).
    """
    ahead, stop = Ahead(), threading.Event()
    thread = threading.Thread(
        target=_create_empty, args=(paths, stages, stop, ahead), name="cocoprep-create-ahead"
    )
    thread.start()
    try:
        yield ahead
    finally:
        stop.set()
        thread.join()


def _create_empty(
    paths: Iterable[str], stages: Stages, stop: threading.Event, ahead: Ahead
) -> None:
    stage_fds: dict[str, int] = {}
    try:
        for path in paths:
            if stop.is_set():
                break
            folder, _, name = path.rpartition("/")
            stage = stages.get(folder)
            if stage is not None:
                _make_empty(stage, name, stage_fds)
            ahead.created += 1
    except OSError:
        pass
    finally:
        _close_all(stage_fds)


def publish(stages: Stages) -> list[str]:
    """Rename each filled stage into place as its folder, and each tree's copy into the tree's
    place; return the replaced trees, now aside, for the caller to remove
    (:func:`remove_trees`) once it no longer holds what it holds while publishing.

    A tree is swapped with its copy in one atomic exchange where the system has one (Linux's
    ``renameat2``), else moved aside, then replaced: a run killed in between leaves the old tree
    aside, which :func:`cocoprep.debris.sweep` puts back.
    """
    inside = set(stages.trees.values())
    for folder, stage in stages.items():
        if stage is not None and not any(stage.startswith(t + "/") or stage == t for t in inside):
            _publish(Path(stage), Path(folder))
    replaced = []
    for tree, copy in stages.trees.items():
        if not os.path.isdir(tree):
            os.rename(copy, tree)
        elif _exchange(copy, tree):
            replaced.append(copy)
        else:
            old = _aside(tree, "old")
            os.rename(tree, old)
            os.rename(copy, tree)
            replaced.append(old)
    stages.trees.clear()
    return replaced


def remove_trees(trees: Iterable[str]) -> None:
    """Remove the trees :func:`publish` replaced. An interrupt meanwhile (removing a large tree
    takes a while) is raised once they are gone, so none is left behind under its aside name."""
    trees = list(trees)
    try:
        for tree in trees:
            shutil.rmtree(tree, ignore_errors=True)
    except BaseException:
        for tree in trees:
            _remove_tree(tree)
        raise


def _exchange(a: str, b: str) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where
    the system or filesystem cannot."""
    global _RENAMEAT2
    if _RENAMEAT2 is None:
        try:
            import ctypes

            _RENAMEAT2 = ctypes.CDLL(None, use_errno=True).renameat2
        except (OSError, AttributeError):
            _RENAMEAT2 = False
    if _RENAMEAT2 is False:
        return False
    import ctypes

    at_fdcwd, rename_exchange = -100, 2
    if _RENAMEAT2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), a, None, b)


_RENAMEAT2: Any = None


def _remove_tree(path: str, tries: int = 250) -> None:
    """Remove ``path`` and what it holds, again while it reappears (for up to ~5 s): after an
    interrupt a worker may still be adding files (its last job, slow on a disk busy after mass
    deletes), which makes one pass fail on the folder; once the folder is gone nothing can be
    added to it."""
    for _ in range(tries):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.lexists(path):
            return
        time.sleep(0.02)


def discard(stages: Stages) -> None:
    """Remove every stage and tree copy with what it holds, and the parents planning made if
    left empty (after a failure: no half-filled folder appears)."""
    for stage in [*stages.values(), *stages.trees.values()]:
        if stage is not None:
            _remove_tree(stage)
    for folder in reversed(stages.made):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def write_many(
    files: Iterable[tuple[str | os.PathLike, bytes]], on_file: Callable[[], object] | None = None
) -> tuple[int, int]:
    """Write many small files, each atomically; return ``(written, unchanged)``.

    A folder that does not exist yet is filled under a temporary name and renamed into place once
    complete: one rename for the folder instead of one per file, and a killed run leaves no
    half-filled folder. Files in existing folders go through :func:`write_atomic`, so those
    already right are left untouched. ``files`` is consumed as it comes, nothing is held.
    The pieces (:func:`plan_folders`, :func:`write_files`, :func:`publish`, :func:`discard`)
    let several processes fill the same folders.
    """
    stages = Stages()
    try:
        counts = write_files(files, stages, on_file=on_file, plan=True)
    except BaseException:
        discard(stages)
        raise
    publish(stages)
    return counts


def _make_parents(folder: Path, made: list[str]) -> None:
    """Create the missing parents of ``folder`` (added to ``made``)."""
    missing = [p for p in reversed(folder.parents) if not p.is_dir()]
    for parent in missing:
        parent.mkdir(exist_ok=True)
        made.append(str(parent))


def _stage(folder: Path, made: list[str]) -> str:
    """Create the empty stage of ``folder``, and its missing parents (added to ``made``)."""
    _make_parents(folder, made)
    stage = folder.with_name(f".{folder.name}.{debris.tag()}.tmp")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    return str(stage)


def _publish(stage: Path, folder: Path) -> None:
    """Rename a filled temporary folder into place (file by file if the folder appeared)."""
    try:
        os.rename(stage, folder)
    except OSError:
        folder.mkdir(parents=True, exist_ok=True)
        for entry in os.scandir(stage):
            os.replace(entry.path, folder / entry.name)
        stage.rmdir()

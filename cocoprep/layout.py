"""The dataset root on disk: where its annotations, labels, images and shared files are.

A root made by ``cocoprep convert`` holds ``images/<split>/`` (linked when asked),
``labels/<split>/`` (one label file per image, at the path Ultralytics derives from the image's),
``<split>.txt`` list files, the dataset yaml (``coco.yaml``) and the conversion record
``cocoprep.json``: the class map later runs reuse and what each split holds. This module finds the
annotation files of a folder, names splits, maps images to label paths, links images, and reads
and updates the root's shared files (the record and the yaml) in one place.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

from cocoprep import coco, datasetyaml, locks, yolo
from cocoprep.classmap import ClassMap, map_from_record
from cocoprep.errors import ConflictError, InputError
from cocoprep.fileio import write_atomic

#: The conversion record of a root.
RECORD_NAME = "cocoprep.json"
RECORD_VERSION = 1
#: The root's folder of lock files.
LOCKS = ".cocoprep"

_PATTERNS = {"pose": ("person_keypoints_*.json",), "segment": ("instances_*.json",)}
_PATTERNS["detect"] = _PATTERNS["obb"] = _PATTERNS["segment"]
#: File names of labelling tools that carry no split: the split is their folder's name.
_NO_SPLIT = ("_annotations.coco", "_annotations", "annotations", "result")
_SPLIT_RE = re.compile(r"^(?:instances|person_keypoints|image_info)_(?P<split>.+)$")
# A file name's extension, as the label-path rule drops it (a name is never all extension).
_EXTENSION = re.compile(r"(?<=[^/\n])\.[^./\n]*$", re.MULTILINE)


def annotation_patterns(task: str) -> tuple[str, ...]:
    """The file-name patterns of the annotation files of ``task`` in a folder.

    >>> annotation_patterns("pose")
    ('person_keypoints_*.json',)
    """
    return _PATTERNS[task]


def names_a_split(split: str) -> bool:
    """Whether the dataset yaml can place ``split`` under train, val or test.

    >>> names_a_split("valid"), names_a_split("default")
    (True, False)
    """
    return bool(datasetyaml.split_keys([split]))


def split_from_filename(path: str | Path) -> str:
    """The split a COCO file is named for.

    >>> split_from_filename("annotations/instances_val2017.json")
    'val2017'
    >>> split_from_filename("person_keypoints_train2017.json")
    'train2017'
    >>> split_from_filename("lvis_v1_val.json")
    'lvis_v1_val'

    A name that carries no split (Roboflow's, Label Studio's) gives its folder's:

    >>> split_from_filename("export/valid/_annotations.coco.json")
    'valid'
    """
    named = split_in_name(path)
    return named if named is not None else Path(path).resolve().parent.name


def split_in_name(path: str | Path) -> str | None:
    """The split a COCO file's name carries; None for the names labelling tools give every
    split (``_annotations.coco.json``, ``result.json``).

    >>> split_in_name("instances_default.json"), split_in_name("valid/_annotations.coco.json")
    ('default', None)
    """
    stem = PurePosixPath(str(path).replace("\\", "/")).stem
    match = _SPLIT_RE.match(stem)
    if match:
        return match.group("split")
    return None if stem in _NO_SPLIT and not names_a_split(stem) else stem


def label_file(root: str, image_relpath: str) -> str:
    """:func:`label_path` on text: ``root`` as a POSIX path, the result too.

    >>> label_file("/d", "val2017/000000397133.jpg")
    '/d/labels/val2017/000000397133.txt'
    """
    return yolo.label_text_path(f"{root}/images/{image_relpath}")


def label_tree(root: str, image_folder: str) -> str | None:
    """The top folder below ``labels/`` that holds the labels of the images in ``image_folder``
    (a folder below ``ROOT/images``), or None when their labels lie directly in a ``labels``
    folder. Convert replaces a split's trees as wholes.

    >>> label_tree("/d", "train2017/patch0"), label_tree("/d", "v/images")
    ('/d/labels/train2017', None)
    """
    head, _, tail = f"{root}/images/{image_folder}/x".rpartition("/images/")
    top, slash, _ = tail.partition("/")
    return f"{head}/labels/{top}" if slash else None


def label_path(root: Path, image_relpath: str) -> Path:
    """Where Ultralytics looks for the labels of the image ``ROOT/images/<image_relpath>``
    (:func:`cocoprep.yolo.label_path_of`).

    >>> label_path(Path("/d"), "val2017/000000397133.jpg").as_posix()
    '/d/labels/val2017/000000397133.txt'
    """
    return Path(label_file(root.as_posix(), image_relpath))


def check_label_names(source: str, paths: coco.StringColumn) -> None:
    """An error when two images would share a label file: the same path but for the extension.

    >>> check_label_names("x.json", coco.StringColumn(["v/a.jpg", "v/b.jpg", "w/a.jpg"]))
    >>> check_label_names("x.json", coco.StringColumn(["v/a.jpg", "v/a.png"]))
    Traceback (most recent call last):
    cocoprep.errors.InputError: x.json: images v/a.jpg and v/a.png would share one label file ...
    """
    stems = _EXTENSION.sub("", paths.text).split("\n")[:-1]
    if len(set(stems)) == len(stems):
        return
    j, i = coco.first_repeat(stems) or (0, 0)
    msg = (
        f"{source}: images {paths[j]} and {paths[i]} would share one label file "
        f"({stems[i]}.txt): Ultralytics finds labels by the image path without its "
        "extension; rename one of them"
    )
    raise InputError(msg, path=source)


def image_sources(
    images_dir: Path, relpaths: Iterable[str], missing_ok: bool = False
) -> list[Path]:
    """The file in ``images_dir`` for each image (``<file_name>`` or ``<split>/<file_name>``);
    an error naming the first one missing (``missing_ok``: left out)."""
    sources = []
    for relpath in relpaths:
        name = relpath.split("/", 1)[1] if "/" in relpath else relpath
        candidates = (images_dir / name, images_dir / relpath)
        source = next((c for c in candidates if c.is_file()), None)
        if source is None and missing_ok:
            continue
        if source is None:
            msg = f"{images_dir}: image {name} not found (looked for {candidates[0]})"
            raise InputError(msg, path=images_dir)
        sources.append(source)
    return sources


def link_images(root: Path, sources: list[Path], relpaths: Iterable[str]) -> None:
    """Hard-link (or copy across filesystems) each image into ``ROOT/images/``."""
    for source, relpath in zip(sources, relpaths, strict=True):
        target = root / "images" / relpath
        if target.exists() and os.path.samefile(source, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copy2(source, tmp)
        os.replace(tmp, target)


def root_lock(root: str | os.PathLike) -> contextlib.AbstractContextManager[None]:
    """Hold the lock on the root's shared files (the record, the dataset yaml) for the block:
    runs into one root read, change and write them one at a time. Hold it briefly; it is
    re-entrant within a thread."""
    return locks.hold(Path(root) / LOCKS / "root.lock")


@contextlib.contextmanager
def split_lock(root: str | os.PathLike, names: Iterable[str]) -> Iterator[None]:
    """Hold the locks of the named parts of a root (a split, a label tree) for the block,
    waiting for a run that holds one (with a warning naming its pid): never two writers on one
    split. Taken in one order (splits first, so the warning names the split), so two runs
    never wait for each other."""
    with contextlib.ExitStack() as stack:
        for name in sorted(set(names), key=lambda name: (not name.startswith("split "), name)):
            waiting = f"{root}: {name} is being written by pid {{pid}}; waiting for it to finish"
            stack.enter_context(locks.hold(_part_lock(root, name), waiting))
        yield


def _part_lock(root: str | os.PathLike, name: str) -> Path:
    return Path(root) / LOCKS / f"{quote(name, safe='')}.lock"


def splits_being_written(root: str | os.PathLike) -> list[str]:
    """The splits other runs are writing into ``root`` now (they hold the split's lock)."""
    prefix = _part_lock(root, "split ").name.removesuffix(".lock")
    held = [p for p in (Path(root) / LOCKS).glob(f"{prefix}*.lock") if locks.held_elsewhere(p)]
    return sorted(unquote(p.name.removesuffix(".lock"))[len("split ") :] for p in held)


def record_path(root: Path) -> Path:
    """Where the conversion record of ``root`` is."""
    return root / RECORD_NAME


def written_files(root: Path, splits: Iterable[str], yaml_name: str) -> list[Path]:
    """The files of ``root`` a convert of ``splits`` writes besides the labels: the list files,
    the record and the dataset yaml (none may be one of its inputs)."""
    return [*(root / f"{split}.txt" for split in splits), record_path(root), root / yaml_name]


def read_record(root: Path) -> dict[str, Any] | None:
    """The conversion record of ``root``, or None when there is none yet."""
    path = record_path(root)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        classes = record["classes"]
        ClassMap(
            category_ids=tuple(int(c["id"]) for c in classes),
            names=tuple(str(c["name"]) for c in classes),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        msg = f"{path}: unreadable conversion record ({error}); delete it to start a new class map"
        raise InputError(msg, path=path) from None
    return record


def write_record(
    root: Path,
    class_map: ClassMap,
    task: str,
    splits: dict[str, Any],
    *,
    keypoint_names: Sequence[str] | None = None,
) -> Path:
    """Write ``ROOT/cocoprep.json``: the class map, the task, keypoint names (pose) and what
    each split holds."""
    record = {
        "version": RECORD_VERSION,
        "task": task,
        "selected": class_map.selected,
        "classes": [
            {"id": cid, "name": name}
            for cid, name in zip(class_map.category_ids, class_map.names, strict=True)
        ],
        "splits": splits,
    }
    if keypoint_names:
        record["keypoints"] = list(keypoint_names)
    return _write_record(root, record)


def _write_record(root: Path, record: dict[str, Any]) -> Path:
    path = record_path(root)
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
    return path


def claim_class_map(
    root: Path, class_map: ClassMap, task: str, splits: Iterable[str] = ()
) -> dict[str, Any] | None:
    """Record ``class_map`` as the root's now, when it is new to the root, so that runs starting
    later reuse (or refuse) it as they would after this run; hold :func:`root_lock` across
    reading the record, settling the map and this. Returns the record as it was before
    (None: unchanged or absent) for :func:`release_class_map`."""
    record = read_record(root)
    _check_task(root, record, task, set(splits))
    if record is not None and map_from_record(record) == class_map:
        return None
    before = record or {}
    task = before.get("task", task)
    splits = before.get("splits", {})
    write_record(root, class_map, task, splits, keypoint_names=before.get("keypoints"))
    return record if record is not None else {}


# Rows no other task reads: their numbers are taken for a polygon anywhere else, so validate,
# stats, preview and Ultralytics need a root of one task.
_TASKS_ALONE = {"obb": "oriented boxes (task obb)", "pose": "keypoints (task pose)"}


def _check_task(root: Path, record: dict[str, Any] | None, task: str, replacing: set[str]) -> None:
    """A :class:`ConflictError` when oriented boxes or keypoints would share a root with rows
    of another task (the splits this run replaces aside)."""
    other = {
        name: entry.get("task")
        for name, entry in ((record or {}).get("splits") or {}).items()
        if isinstance(entry, dict)
        and entry.get("task") not in (None, task)
        and name not in replacing
    }
    clash = sorted(name for name, kind in other.items() if {kind, task} & _TASKS_ALONE.keys())
    if clash:
        kinds = {str(other[name]) for name in clash}
        alone = min({task, *kinds} & _TASKS_ALONE.keys())
        msg = (
            f"{root}: holds {', '.join(sorted(kinds))} splits ({', '.join(clash)}); "
            f"{_TASKS_ALONE[alone]} need a root of their own: convert into another root"
        )
        raise ConflictError(msg, path=record_path(root))


def release_class_map(root: Path, class_map: ClassMap, before: dict[str, Any]) -> None:
    """Undo :func:`claim_class_map` after a failed run, unless another run recorded a split
    with the map meanwhile."""
    with root_lock(root):
        record = read_record(root)
        if record is None or map_from_record(record) != class_map:
            return
        if record.get("splits", {}) != before.get("splits", {}):
            return
        if before:
            _write_record(root, before)
        else:
            record_path(root).unlink()


def check_class_map(root: Path, class_map: ClassMap) -> None:
    """A :class:`ConflictError` unless the root's record holds ``class_map`` (or none): run
    under :func:`root_lock` before a split's labels are put in place."""
    record = read_record(root)
    if record is not None and map_from_record(record) != class_map:
        msg = (
            f"{record_path(root)}: expected the class map this run converted with, found "
            "another (set by a run that started later with {classes}); convert again"
        )
        raise ConflictError(msg, path=record_path(root), params=["classes"])


def record_splits(
    root: Path,
    class_map: ClassMap,
    task: str,
    splits: dict[str, dict[str, Any]],
    *,
    keypoint_names: Sequence[str] | None = None,
    yaml_name: str = "coco.yaml",
) -> tuple[Path, Path]:
    """Add ``splits`` (``{split: what it holds}``) to the root's record, merged with the splits
    it holds already, and write the record and the dataset yaml naming them all, under
    :func:`root_lock`. Returns the record's and the yaml's paths."""
    with root_lock(root):
        record = read_record(root)
        merged = {**(record.get("splits", {}) if record else {}), **splits}
        path = write_record(root, class_map, task, merged, keypoint_names=keypoint_names)
        yaml_path = datasetyaml.write_dataset_yaml(
            root,
            class_map.names_by_index(),
            list(merged),
            name=yaml_name,
            keypoint_names=keypoint_names,
            task=task,
        )
    return path, yaml_path

"""The Ultralytics dataset yaml: its text (``path``, split keys, ``names``, pose keys), reading
and writing it.

Ultralytics' ``check_det_dataset`` resolves a relative ``path`` against its own datasets folder, not
the yaml's, so ``path`` is written absolute; the split keys name the list files convert writes
(``train2017.txt``), or the split's image folder (``images/val``), relative to ``path``. A relative
``path`` read back is taken relative to the yaml's folder.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cocoprep.errors import InputError
from cocoprep.fileio import write_atomic

SPLIT_KEYS = ("train", "val", "test")
#: A comment line for datasets whose rows only one kind of Ultralytics model reads.
TASK_NOTES = {"obb": "# Oriented boxes (task obb): train an OBB model on it, e.g. yolo11n-obb.pt\n"}


def split_keys(splits: Sequence[str]) -> dict[str, list[str]]:
    """Group split names under the yaml's ``train``/``val``/``test`` keys by their prefix (in any
    case: CVAT's subsets are often ``Train``, ``Validation``).

    >>> split_keys(["val2017", "train2017", "unlabeled2017", "Test"])
    {'train': ['train2017'], 'val': ['val2017'], 'test': ['Test']}
    """
    keys: dict[str, list[str]] = {}
    for key in SPLIT_KEYS:
        for split in sorted(splits):
            if split.lower().startswith(key):
                keys.setdefault(key, []).append(split)
    return keys


def flip_index(keypoint_names: Sequence[str]) -> list[int]:
    """Horizontal-flip permutation of keypoints named ``left_*`` / ``right_*``.

    >>> flip_index(["nose", "left_eye", "right_eye"])
    [0, 2, 1]
    """
    position = {name: i for i, name in enumerate(keypoint_names)}
    flipped = []
    for i, name in enumerate(keypoint_names):
        if name.startswith("left_"):
            flipped.append(position.get("right_" + name[5:], i))
        elif name.startswith("right_"):
            flipped.append(position.get("left_" + name[6:], i))
        else:
            flipped.append(i)
    return flipped


def dataset_yaml(
    root: Path,
    names: dict[int, str],
    splits: Sequence[str] | Mapping[str, str],
    *,
    keypoint_names: Sequence[str] | None = None,
    download: str | None = None,
    task: str | None = None,
) -> str:
    """The text of a dataset yaml for ``root`` (see the module docstring).

    ``splits`` are split names, each pointing at its list file ``<split>.txt``, or
    ``{split: path relative to root}`` as :func:`find_splits` returns them. An obb ``task``
    says so in a comment (Ultralytics reads no task key from a dataset yaml).
    """
    paths = dict(splits) if isinstance(splits, Mapping) else {s: f"{s}.txt" for s in splits}
    data: dict = {"path": str(root.resolve())}
    for key, members in split_keys(list(paths)).items():
        files = [paths[split] for split in members]
        data[key] = files[0] if len(files) == 1 else files
    if keypoint_names:
        data["kpt_shape"] = [len(keypoint_names), 3]
        data["flip_idx"] = flip_index(keypoint_names)
    data["names"] = dict(names)
    text = "# Written by cocoprep; regenerate with: cocoprep yaml " + str(root) + "\n"
    text += TASK_NOTES.get(task or "", "")
    for key, value in data.items():
        # Lists inline ([17, 3]), the names one per line, as in Ultralytics' own yamls.
        flow = None if isinstance(value, list) else False
        text += yaml.safe_dump(
            {key: value}, allow_unicode=True, default_flow_style=flow, width=1 << 16
        )
    if download:
        # A literal block, as in Ultralytics' own yamls (safe_dump would quote the key too).
        text += "download: |\n" + textwrap.indent(download.rstrip("\n") + "\n", "  ")
    return text


def write_dataset_yaml(
    root: Path,
    names: dict[int, str],
    splits: Sequence[str] | Mapping[str, str],
    *,
    name: str = "coco.yaml",
    keypoint_names: Sequence[str] | None = None,
    download: str | None = None,
    task: str | None = None,
) -> Path:
    """Write :func:`dataset_yaml` to ``root / name`` atomically and return its path."""
    path = root / name
    text = dataset_yaml(
        root, names, splits, keypoint_names=keypoint_names, download=download, task=task
    )
    write_atomic(path, text.encode())
    return path


def keypoint_names_of(categories: Sequence[dict[str, Any]]) -> list[str] | None:
    """The keypoint names of the first category that has some (COCO ``person``), else None.

    >>> keypoint_names_of([{"id": 1, "name": "person", "keypoints": ["nose", "left_eye"]}])
    ['nose', 'left_eye']
    """
    for category in categories:
        names = category.get("keypoints")
        if isinstance(names, list) and names:
            return [str(n) for n in names]
    return None


@dataclass
class DatasetSpec:
    """What a dataset yaml says: its root, class names and each split's image sources."""

    yaml: Path
    root: Path
    names: dict[int, str]
    nc: int | None
    splits: dict[str, list[Path]]
    kpt_shape: tuple[int, int] | None = None


def read_dataset_yaml(path: str | os.PathLike) -> DatasetSpec:
    """Read an Ultralytics dataset yaml (``path``, ``train``/``val``/``test``, ``names``, ``nc``,
    ``kpt_shape``). A relative ``path`` is taken relative to the yaml's folder."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        msg = f"{path}: cannot read the dataset yaml: {error}"
        raise InputError(msg) from None
    if not isinstance(data, dict):
        msg = f"{path}: expected a mapping with path, train/val and names, found {type(data)}"
        raise InputError(msg)
    root = Path(data.get("path") or ".")
    if not root.is_absolute():
        root = path.parent / root
    names = _names(data.get("names"), path)
    nc = data.get("nc")
    if nc is not None and type(nc) is not int:
        msg = f"{path}: nc must be an integer, found {nc!r}"
        raise InputError(msg)
    splits: dict[str, list[Path]] = {}
    for key in ("train", "val", "test"):
        value = data.get(key)
        if not value:
            continue
        entries = value if isinstance(value, list) else [value]
        splits[key] = [p if p.is_absolute() else root / p for p in map(Path, map(str, entries))]
    kpt = data.get("kpt_shape")
    kpt_shape = (int(kpt[0]), int(kpt[1])) if isinstance(kpt, list) and len(kpt) == 2 else None
    return DatasetSpec(yaml=path, root=root, names=names, nc=nc, splits=splits, kpt_shape=kpt_shape)


def _names(value: Any, path: Path) -> dict[int, str]:
    if isinstance(value, list):
        return {i: str(name) for i, name in enumerate(value)}
    if isinstance(value, dict):
        try:
            return {int(k): str(v) for k, v in value.items()}
        except (TypeError, ValueError):
            pass
    msg = f"{path}: names must be a list or an index → name mapping, found {value!r}"
    raise InputError(msg)

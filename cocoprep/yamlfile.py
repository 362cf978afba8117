"""The Ultralytics dataset yaml (``coco.yaml``): one writer for ``convert`` and ``cocoprep yaml``.

Ultralytics' ``check_det_dataset`` resolves a relative ``path`` against its own datasets folder, not
the yaml's, so ``path`` is written absolute; the split keys name the list files convert writes
(``train2017.txt``), relative to ``path``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from cocoprep.fileio import write_atomic

SPLIT_KEYS = ("train", "val", "test")


def split_keys(splits: Sequence[str]) -> dict[str, list[str]]:
    """Group split names under the yaml's ``train``/``val``/``test`` keys by their prefix.

    >>> split_keys(["val2017", "train2017", "unlabeled2017"])
    {'train': ['train2017'], 'val': ['val2017']}
    """
    keys: dict[str, list[str]] = {}
    for key in SPLIT_KEYS:
        for split in sorted(splits):
            if split.startswith(key):
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
    splits: Sequence[str],
    *,
    keypoint_names: Sequence[str] | None = None,
    download: str | None = None,
) -> str:
    """The text of a dataset yaml for ``root`` (see the module docstring)."""
    data: dict = {"path": str(root.resolve())}
    for key, members in split_keys(splits).items():
        files = [f"{split}.txt" for split in members]
        data[key] = files[0] if len(files) == 1 else files
    if keypoint_names:
        data["kpt_shape"] = [len(keypoint_names), 3]
        data["flip_idx"] = flip_index(keypoint_names)
    data["names"] = dict(names)
    text = "# Written by cocoprep; regenerate with: cocoprep yaml " + str(root) + "\n"
    for key, value in data.items():
        # Lists inline ([17, 3]), the names one per line, as in Ultralytics' own yamls.
        flow = None if isinstance(value, list) else False
        text += yaml.safe_dump(
            {key: value}, allow_unicode=True, default_flow_style=flow, width=1 << 16
        )
    if download:
        text += yaml.safe_dump({"download": download}, sort_keys=False, default_style="|")
    return text


def write_dataset_yaml(
    root: Path,
    names: dict[int, str],
    splits: Sequence[str],
    *,
    name: str = "coco.yaml",
    keypoint_names: Sequence[str] | None = None,
    download: str | None = None,
) -> Path:
    """Write :func:`dataset_yaml` to ``root / name`` atomically and return its path."""
    path = root / name
    text = dataset_yaml(root, names, splits, keypoint_names=keypoint_names, download=download)
    write_atomic(path, text.encode())
    return path

"""Exports of labelling tools: which COCO-format files a folder holds, the split each is, and
where its images lie.

The layouts recognised, in this order:

- COCO and CVAT "COCO 1.0": ``annotations/instances_<split>.json`` (``person_keypoints_*`` for
  pose), images under ``images/<subset>/`` or ``images/`` (CVAT) or in ``<split>/`` beside
  ``annotations/`` (COCO);
- Roboflow: ``train|valid|test/_annotations.coco.json``, images beside each file;
- Label Studio: ``result.json`` beside ``images/``;
- a folder of annotation files (``instances_*.json`` …) without images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cocoprep import layout
from cocoprep.errors import InputError

ROBOFLOW_FILE = "_annotations.coco.json"
LABEL_STUDIO_FILE = "result.json"
#: What a folder is searched for, as the error for an unreadable layout lists it.
_LOOKED_FOR = (
    "annotations/{pattern} (COCO, CVAT)",
    f"<split>/{ROBOFLOW_FILE} (Roboflow)",
    f"{LABEL_STUDIO_FILE} beside images/ (Label Studio)",
    "{pattern} in the folder itself",
)


@dataclass(frozen=True)
class Source:
    """One annotation file to convert: its split and the folder its images are in (None: not
    found, or not looked for)."""

    path: Path
    split: str
    images: Path | None = None
    #: The folder every file_name starts with, left out (Label Studio's ``images/``).
    base: str = ""


def find_sources(inputs: Sequence[str | os.PathLike], task: str) -> list[Source]:
    """The annotation files of the inputs: files as given (split from their name, else their
    folder), folders as the layout they have (see the module docstring). A file named as a tool
    names every split (Roboflow's, Label Studio's) has its images beside it.

    >>> find_sources([], "segment")
    []
    """
    sources: list[Source] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            sources.extend(folder_sources(path, task))
        elif path.is_file():
            if path.name == LABEL_STUDIO_FILE and (path.parent / "images").is_dir():
                sources.append(_label_studio_source(path))
            else:
                beside = path.parent if layout.split_in_name(path) is None else None
                sources.append(Source(path, _split_of(path), beside))
        else:
            msg = f"{path}: no such file or directory (expected COCO JSON annotations)"
            raise InputError(msg, path=path)
    return sources


def is_export(folder: Path) -> bool:
    """Whether ``folder`` holds COCO files in one of the layouts :func:`folder_sources` reads
    and is not a dataset root (no ``labels/``, no conversion record)."""
    if not folder.is_dir() or any((folder / n).exists() for n in ("labels", layout.RECORD_NAME)):
        return False
    try:
        folder_sources(folder, "segment")
    except InputError:
        return False
    return True


def folder_sources(folder: Path, task: str) -> list[Source]:
    """The annotation files of one export folder with their splits and image folders; an error
    listing what was looked for when the folder has none of the layouts."""
    patterns = layout.annotation_patterns(task)
    annotations = _matching(folder / "annotations", patterns)
    if annotations:
        one_set = len(annotations) == 1
        return [_coco_source(folder, path, one_set) for path in annotations]
    roboflow = sorted(folder.glob(f"*/{ROBOFLOW_FILE}"))
    if (folder / ROBOFLOW_FILE).is_file():
        roboflow.insert(0, folder / ROBOFLOW_FILE)
    if roboflow:
        return [Source(p, _split_of(p), p.parent) for p in roboflow]
    if (folder / LABEL_STUDIO_FILE).is_file() and (folder / "images").is_dir():
        return [_label_studio_source(folder / LABEL_STUDIO_FILE)]
    plain = _matching(folder, patterns)
    if plain:
        return [Source(p, layout.split_from_filename(p)) for p in plain]
    boxes = layout.annotation_patterns("detect")
    if patterns != boxes and (_matching(folder / "annotations", boxes) or _matching(folder, boxes)):
        msg = (
            f"{folder}: {{task}} {task} needs {' or '.join(patterns)} files; the folder holds "
            f"{' or '.join(boxes)} but no {' or '.join(patterns)}; convert with {{task}} detect "
            "(or segment), or name the keypoints file"
        )
        raise InputError(msg, path=folder, params=["task"])
    looked = "; ".join(s.format(pattern=" or ".join(patterns)) for s in _LOOKED_FOR)
    msg = f"{folder}: no annotation files found (looked for {looked}); name the files instead"
    raise InputError(msg, path=folder)


def _matching(folder: Path, patterns: Sequence[str]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted({p for pattern in patterns for p in folder.glob(pattern)})


def _coco_source(folder: Path, path: Path, one_set: bool) -> Source:
    """A file of ``annotations/``: CVAT's ``instances_default``, when it is the only file, is one
    set, called train. The images are in ``images/<subset>/`` or ``images/`` (CVAT), else in
    ``<split>/`` beside ``annotations/`` (COCO), where file names relative to the export
    (``./val2017/x.jpg``) are found too."""
    split = layout.split_from_filename(path)
    images = (
        _if_dir(folder / "images" / split)
        or _if_dir(folder / "images")
        or (folder if (folder / split).is_dir() else None)
    )
    return Source(path, _single_set(split) if one_set else split, images)


def _label_studio_source(path: Path) -> Source:
    """Label Studio's ``result.json``: its file names are relative to the export
    (``images/<name>``), the images in ``images/``."""
    return Source(path, _split_of(path), path.parent / "images", base="images/")


def _split_of(path: Path) -> str:
    """The split of a file given by itself or found beside its images: the one its name carries,
    else its folder's name, or train where the yaml could not place that."""
    named = layout.split_in_name(path)
    return named if named is not None else _single_set(path.resolve().parent.name)


def _single_set(split: str) -> str:
    """A split name the yaml can place, for an export that is one set: ``train`` unless its name
    says train, val or test."""
    return split if layout.names_a_split(split) else "train"


def _if_dir(path: Path) -> Path | None:
    return path if path.is_dir() else None

"""``cocoprep yaml``: rebuild a root's dataset yaml (:mod:`cocoprep.datasetyaml`) from what is on
disk.

:func:`write_root_yaml` rebuilds the yaml from what is on disk: the splits
found by :func:`find_splits`, the class names of the conversion record ``ROOT/cocoprep.json`` or of
the COCO files the labels came from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cocoprep import classmap, coco, layout, outputs, sources
from cocoprep.categories import file_categories
from cocoprep.datasetyaml import keypoint_names_of, split_keys, write_dataset_yaml
from cocoprep.errors import ConflictError, InputError
from cocoprep.yolo import IMAGE_SUFFIXES

log = logging.getLogger("cocoprep")


def _first_entry(listing: Path) -> str | None:
    """The first line of a list file when it names an image, else None (not a list file)."""
    try:
        with open(listing, encoding="utf-8-sig") as handle:
            for line in handle:
                entry = line.strip()
                if entry:
                    suffix = "." + entry.rpartition(".")[2].lower()
                    return entry if suffix in IMAGE_SUFFIXES else None
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _entry_path(root: Path, entry: str) -> Path:
    """Where Ultralytics looks for a list-file entry: ``./`` is relative to the list's folder."""
    return root / entry[2:] if entry.startswith("./") else Path(entry)


def _subdirs(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")}


def find_splits(root: Path) -> dict[str, str]:
    """The splits of a dataset root and what the yaml points each at, relative to ``root``.

    A split is a folder under ``images/`` or ``labels/`` or a list file ``<split>.txt`` naming
    images. It points at its list file while the list's first image exists (or while its images
    are not there yet but its labels are), else at ``images/<split>``: a list left behind after a
    split was moved is not used. A list file with neither images nor labels is skipped.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "images" / "val").mkdir(parents=True)
    >>> (root / "labels" / "train2017").mkdir(parents=True)
    >>> _ = (root / "train2017.txt").write_text("./images/train2017/1.jpg\\n")
    >>> find_splits(root)
    {'train2017': 'train2017.txt', 'val': 'images/val'}
    """
    lists = {p.stem for p in root.glob("*.txt") if _first_entry(p) is not None}
    image_dirs = _subdirs(root / "images")
    label_dirs = _subdirs(root / "labels")
    found: dict[str, str] = {}
    for split in sorted(lists | image_dirs | label_dirs):
        listing = root / f"{split}.txt"
        entry = _first_entry(listing) if split in lists else None
        if entry is not None and _entry_path(root, entry).exists():
            found[split] = listing.name
        elif split in image_dirs:
            if entry is not None:
                log.warning(
                    "%s: its first image %s is missing; using images/%s", listing, entry, split
                )
            found[split] = f"images/{split}"
        elif split in label_dirs:
            log.warning("%s: labels/%s has no images yet", root, split)
            found[split] = listing.name if entry is not None else f"images/{split}"
        else:
            log.warning("%s: neither its images nor labels/%s exist; not used", listing, split)
    return found


def download_script(
    root: Path,
    splits: Sequence[str],
    task: str,
    *,
    name: str,
    classes: Sequence[str] | None = None,
) -> str:
    """Python for the yaml's ``download:`` key: fetch and convert the splits with cocoprep.

    Ultralytics runs it with the dataset dict as ``yaml`` when the ``val`` images are missing; it
    ends by rewriting this yaml, ``download:`` included. Only COCO 2017 splits can be fetched.

    Examples
    --------
    >>> script = download_script(Path("d"), ["val2017"], "detect", name="coco.yaml")
    >>> for line in script.splitlines()[6:8]:
    ...     print(line)
    root = str(yaml["path"])
    download(['val2017'], root=root, progress=True)
    """
    from cocoprep.remote.catalog import COCO_2017

    unknown = [s for s in splits if s not in COCO_2017.splits]
    if unknown or not splits:
        msg = (
            f"{root}: {{download}} fetches COCO 2017 splits ({', '.join(COCO_2017.splits)}), "
            f"found {', '.join(unknown) or 'no split'}; drop {{download}} for this dataset"
        )
        raise InputError(msg, path=root, params=["download"])
    prefix = "person_keypoints" if task == "pose" else "instances"
    # test2017 and unlabeled2017 come without annotations: fetched, not converted.
    labelled = [s for s in splits if s in ("train2017", "val2017")]
    files = ", ".join(f'f"{{root}}/annotations/{prefix}_{s}.json"' for s in labelled)
    convert_args = f"[{files}], root, task={task!r}, yaml_name={name!r}"
    if classes:
        convert_args += f", classes={list(classes)!r}"
    lines = [
        "# Fetch and convert with cocoprep (pip install cocoprep); Ultralytics runs this when",
        "# the images are missing, with the dataset dict as `yaml`.",
        "from cocoprep.converter import convert",
        "from cocoprep.remote.download import download",
        "from cocoprep.yamlfile import write_root_yaml",
        "",
        'root = str(yaml["path"])',
        f"download({list(splits)!r}, root=root, progress=True)",
    ]
    if labelled:
        lines.append(f"convert({convert_args}, progress=True)")
    lines.append(f"write_root_yaml(root, name={name!r}, download=True)")
    return "\n".join(lines) + "\n"


def _check_coco_classes(root: Path, names: list[str], selected: bool, task: str | None) -> None:
    """An error unless the root's class map is COCO 2017's (all 80 classes, ``person`` for pose,
    or a selection of them): the download block would fill the root with COCO otherwise."""
    from cocoprep.remote.catalog import COCO_2017_NAMES

    if selected and set(names) <= set(COCO_2017_NAMES):
        return
    if names == list(COCO_2017_NAMES) or (task == "pose" and names == ["person"]):
        return
    others = [n for n in names if n not in COCO_2017_NAMES][:5]
    found = f"classes not in COCO ({', '.join(others)})" if others else f"{len(names)} classes"
    msg = (
        f"{root}: {{download}} fetches COCO 2017, whose 80 classes this root's class map is not "
        f"(found {found}); drop {{download}} for this dataset"
    )
    raise InputError(msg, path=root, params=["download"])


@dataclass(frozen=True)
class RootYaml:
    """What :func:`write_root_yaml` wrote: the yaml's path, splits, classes and task."""

    path: Path
    splits: dict[str, str]
    keys: dict[str, list[str]]
    names: dict[int, str]
    task: str | None
    keypoint_names: list[str] | None


def _names_and_keypoints(
    root: Path, annotations: Sequence[str | os.PathLike]
) -> tuple[dict[int, str], list[str] | None, str | None, dict[str, Any] | None]:
    """Class names (by index), keypoint names, task and the record, from record or COCO files."""
    record = layout.read_record(root)
    task = record.get("task") if record else None
    if not annotations:
        if record is None:
            msg = (
                f"{root}: no conversion record {layout.RECORD_NAME} to take class names from; "
                "pass {annotations} (the COCO JSON the labels came from) or run "
                "cocoprep convert into this root"
            )
            raise InputError(msg, path=root, params=["annotations"])
        keypoints = record.get("keypoints") if task == "pose" else None
        return classmap.map_from_record(record).names_by_index(), keypoints, task, record
    found = sources.find_sources(annotations, task or "segment")
    opened = [coco.open_coco(source.path, source.split) for source in found]
    categories = file_categories(opened, workers=1, drop_unused=False, classes=None)[0]
    keypoints = keypoint_names_of([cat for c in opened for cat in c.categories])
    if record is None:
        return classmap.dense_map(categories).names_by_index(), keypoints, task, None
    # The record fixes which category each class index is; the files only (re)name them.
    ids = classmap.map_from_record(record).category_ids
    missing = [cid for cid in ids if cid not in categories]
    if missing:
        msg = (
            f"{', '.join(str(s.path) for s in found)}: no category id {missing[0]}, which class "
            f"{ids.index(missing[0])} of {layout.record_path(root)} is; pass the files the "
            "labels were converted from"
        )
        raise ConflictError(msg, path=layout.record_path(root), params=["annotations"])
    names = {i: categories[cid] for i, cid in enumerate(ids)}
    return names, keypoints if task == "pose" else None, task, record


def write_root_yaml(
    root: str | os.PathLike,
    *,
    name: str = "coco.yaml",
    annotations: Sequence[str | os.PathLike] = (),
    download: bool = False,
) -> RootYaml:
    """(Re)write the dataset yaml of ``root`` from what is on disk (``cocoprep yaml``).

    Splits come from :func:`find_splits`; class names from ``annotations`` (COCO files or folders)
    when given, else from the conversion record; ``kpt_shape``/``flip_idx`` for pose.
    ``download=True`` adds a ``download:`` script (:func:`download_script`).

    Examples
    --------
    >>> write_root_yaml("datasets/coco").keys  # doctest: +SKIP
    {'train': ['train2017'], 'val': ['val2017']}
    """
    root = Path(root)
    if not root.is_dir():
        msg = f"{root}: no such folder (expected a dataset root made by cocoprep convert)"
        raise InputError(msg)
    name = name if name.endswith((".yaml", ".yml")) else f"{name}.yaml"
    outputs.check_file_name(name, "name", (".yaml", ".yml"))
    splits = find_splits(root)
    if not splits:
        msg = (
            f"{root}: no splits found (expected labels/<split>/, images/<split>/ or <split>.txt "
            "list files); run cocoprep convert into this root first"
        )
        raise InputError(msg)
    names, keypoints, task, record = _names_and_keypoints(root, annotations)
    keys = split_keys(list(splits))
    unused = sorted(set(splits) - {s for members in keys.values() for s in members})
    if unused:
        log.warning("%s: splits %s match no train/val/test key; not in the yaml", root, unused)
    if "val" not in keys:
        log.warning("%s: no split named val*; Ultralytics needs one to train", root)
    script = None
    if download:
        selected = record is not None and record.get("selected")
        _check_coco_classes(root, list(names.values()), bool(selected), task)
        script = download_script(
            root,
            [s for members in keys.values() for s in members],
            task or ("pose" if keypoints else "segment"),
            name=name,
            classes=list(names.values()) if selected else None,
        )
    with layout.root_lock(root):  # not while a convert updates it
        path = write_dataset_yaml(
            root, names, splits, name=name, keypoint_names=keypoints, download=script, task=task
        )
    return RootYaml(
        path=path, splits=splits, keys=keys, names=names, task=task, keypoint_names=keypoints
    )

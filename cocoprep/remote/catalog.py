"""The archive catalog: what can be downloaded, from where, with which size and MD5.

The built-in catalog is the COCO 2017 table. ``load_catalog`` reads a YAML file of the same
shape, for private COCO-format data sets hosted the same way::

    base_url: https://data.example.org/mycoco/   # optional; the COCO bucket otherwise
    archives:
      - name: train2017
        path: zips/train2017.zip                  # relative to base_url
        md5: cced6f7f71b7629ddf16f17bbcfab6b2     # or "sha256:<hex>"
        bytes: 19336861798                        # optional (Content-Length is used otherwise)
        kind: images                              # images (with a split) or annotations
        split: train2017
      - name: annotations_trainval2017
        path: annotations/annotations_trainval2017.zip
        md5: f4bbac642086de4f52a3fdda2de5fa2c
        kind: annotations
        default: true                             # fetched with any split

An optional ``extracted_bytes`` per entry refines the disk-space estimate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cocoprep.errors import CocoprepError, InputError
from cocoprep.remote.hashes import parse_hash

COCO_BASE_URL = "http://images.cocodataset.org/"
COCO_TLS_URL = "https://s3.amazonaws.com/images.cocodataset.org/"
KINDS = ("images", "annotations")
# Extracted size per archive byte when neither the zip nor the catalog tells: JPEG archives are
# stored, JSON deflates about 3-4x (conservative on purpose: it only feeds the free-space check).
EXTRACT_RATIO = {"images": 1.0, "annotations": 4.0}


@dataclass(frozen=True)
class Archive:
    """One downloadable zip of a catalog."""

    name: str
    path: str
    md5: str
    kind: str
    bytes: int | None = None
    split: str | None = None
    default: bool = False
    extracted_bytes: int | None = None

    @property
    def filename(self) -> str:
        """The archive's file name (last component of ``path``)."""
        return self.path.rsplit("/", 1)[-1]

    def estimated_extracted_bytes(self) -> int | None:
        """``extracted_bytes`` when known, else ``bytes`` times the kind's ratio, else ``None``."""
        if self.extracted_bytes is not None:
            return self.extracted_bytes
        if self.bytes is None:
            return None
        return int(self.bytes * EXTRACT_RATIO[self.kind])


@dataclass(frozen=True)
class Catalog:
    """A base URL and its archives."""

    base_url: str
    archives: tuple[Archive, ...]

    def get(self, name: str) -> Archive:
        """The archive called ``name``; :class:`InputError` listing the names otherwise."""
        for archive in self.archives:
            if archive.name == name:
                return archive
        known = ", ".join(a.name for a in self.archives)
        message = f"archive {name!r}: expected one of the catalog's names ({known}), found none"
        raise InputError(message)

    @property
    def splits(self) -> tuple[str, ...]:
        """The image splits, in catalog order."""
        return tuple(a.split for a in self.archives if a.kind == "images" and a.split)

    def images(self, split: str) -> Archive:
        """The image archive of ``split``; :class:`InputError` listing the splits otherwise."""
        for archive in self.archives:
            if archive.kind == "images" and archive.split == split:
                return archive
        message = (
            f"split {split!r}: expected one of {', '.join(self.splits)}, found none in the "
            "catalog; check the spelling or pass {catalog}"
        )
        raise InputError(message, params=["catalog"])

    def default_annotations(self) -> tuple[Archive, ...]:
        """The annotation archives marked ``default: true`` (fetched with any split)."""
        return tuple(a for a in self.archives if a.kind == "annotations" and a.default)


def _coco(name, path, md5, kind, size=None, split=None, default=False) -> Archive:
    return Archive(
        name=name, path=path, md5=md5, kind=kind, bytes=size, split=split, default=default
    )


#: The 80 class names of COCO 2017's instances files, in category-id order.
COCO_2017_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

COCO_2017 = Catalog(
    base_url=COCO_BASE_URL,
    archives=(
        _coco(
            "train2017",
            "zips/train2017.zip",
            "cced6f7f71b7629ddf16f17bbcfab6b2",
            "images",
            19336861798,
            "train2017",
        ),
        _coco(
            "val2017",
            "zips/val2017.zip",
            "442b8da7639aecaf257c1dceb8ba8c80",
            "images",
            815585330,
            "val2017",
        ),
        _coco(
            "test2017",
            "zips/test2017.zip",
            "77ad2c53ac5d0aea611d422c0938fb35",
            "images",
            6646970404,
            "test2017",
        ),
        _coco(
            "unlabeled2017",
            "zips/unlabeled2017.zip",
            "7ebc562819fdb32847aab79530457326",
            "images",
            None,
            "unlabeled2017",
        ),
        _coco(
            "annotations_trainval2017",
            "annotations/annotations_trainval2017.zip",
            "f4bbac642086de4f52a3fdda2de5fa2c",
            "annotations",
            252907541,
            default=True,
        ),
        _coco(
            "stuff_annotations_trainval2017",
            "annotations/stuff_annotations_trainval2017.zip",
            "2a27c15a2dfcbd2e1c9276dc23cac101",
            "annotations",
        ),
        _coco(
            "panoptic_annotations_trainval2017",
            "annotations/panoptic_annotations_trainval2017.zip",
            "4170db65fc022c9c296af880dbca6055",
            "annotations",
            860725834,
        ),
        _coco(
            "image_info_test2017",
            "annotations/image_info_test2017.zip",
            "85da7065e5e600ebfee8af1edb634eb5",
            "annotations",
            1144034,
        ),
        _coco(
            "image_info_unlabeled2017",
            "annotations/image_info_unlabeled2017.zip",
            "ede38355d5c3e5251bb7f8b68e2c068f",
            "annotations",
        ),
    ),
)


def _bad_entry(source: str, index: int, name: str, expected: str, found: Any) -> InputError:
    message = (
        f"{source}: archives[{index}] ({name}): expected {expected}, found {found!r}; "
        "fix the entry (see the catalog format in the README)"
    )
    return InputError(message)


def _optional_int(entry: Mapping, key: str, source: str, index: int, name: str) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad_entry(source, index, name, f"'{key}' as a non-negative integer", value)
    return value


def _parse_entry(entry: Any, index: int, source: str) -> Archive:
    if not isinstance(entry, Mapping):
        raise _bad_entry(source, index, "?", "a mapping with name, path, md5, kind", entry)
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise _bad_entry(source, index, "?", "'name' as a non-empty string", name)
    for key in ("path", "md5"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise _bad_entry(source, index, name, f"'{key}' as a non-empty string", entry.get(key))
    try:
        parse_hash(entry["md5"])
    except CocoprepError as error:
        raise _bad_entry(source, index, name, "'md5' as hex or 'alg:hex'", entry["md5"]) from error
    kind = entry.get("kind")
    if kind not in KINDS:
        raise _bad_entry(source, index, name, "'kind' images or annotations", kind)
    split = entry.get("split")
    if kind == "images" and (not isinstance(split, str) or not split):
        raise _bad_entry(source, index, name, "'split' (e.g. train2017) for kind images", split)
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise _bad_entry(source, index, name, "'default' true or false", default)
    path = entry["path"].lstrip("/")
    if ".." in path.split("/"):
        raise _bad_entry(source, index, name, "'path' relative to base_url without '..'", path)
    return Archive(
        name=name,
        path=path,
        md5=entry["md5"],
        kind=kind,
        bytes=_optional_int(entry, "bytes", source, index, name),
        split=split if kind == "images" else None,
        default=default,
        extracted_bytes=_optional_int(entry, "extracted_bytes", source, index, name),
    )


def parse_catalog(data: Any, *, source: str = "catalog") -> Catalog:
    """Build a :class:`Catalog` from parsed YAML (``base_url`` and ``archives``)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("archives"), list):
        message = (
            f"{source}: expected a mapping with an 'archives' list, found "
            f"{type(data).__name__}; see the catalog format in the README"
        )
        raise InputError(message)
    base_url = data.get("base_url", COCO_BASE_URL)
    if not isinstance(base_url, str) or not base_url:
        message = f"{source}: expected 'base_url' as a URL or directory, found {base_url!r}"
        raise InputError(message)
    archives = tuple(_parse_entry(e, i, source) for i, e in enumerate(data["archives"]))
    _check_unique((a.name for a in archives), source, "name")
    _check_unique((a.split for a in archives if a.kind == "images"), source, "split")
    return Catalog(base_url=base_url, archives=archives)


def _check_unique(values: Iterable[str | None], source: str, key: str) -> None:
    seen: set[str | None] = set()
    for value in values:
        if value in seen:
            message = (
                f"{source}: expected each archive {key} once, found {value!r} twice; "
                "remove or rename one entry"
            )
            raise InputError(message)
        seen.add(value)


def load_catalog(path: str | Path) -> Catalog:
    """Read a YAML catalog file (see the module docstring for its shape)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        message = f"{path}: expected a readable YAML catalog, found {error.strerror or error}"
        raise InputError(message) from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = str(error).replace("\n", " ")
        message = f"{path}: expected valid YAML, found {problem}; fix the syntax"
        raise InputError(message) from error
    return parse_catalog(data, source=str(path))

"""Planning a download: the base URL, what each archive needs, disk space, and the listing.

Nothing here touches the network except :func:`probe` (a HEAD request for an unpublished size).
:func:`plan_download` decides per archive (skip, download, resume, extract) from what ``root``
holds; :func:`check_space` compares the plan with the free space; :func:`list_catalog` shows
the catalog with each archive's state under ``root``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cocoprep.errors import InsufficientSpaceError
from cocoprep.remote.catalog import (
    COCO_2017,
    COCO_BASE_URL,
    COCO_TLS_URL,
    Archive,
    Catalog,
    load_catalog,
)
from cocoprep.remote.extract import extracted_size, is_done, marker_path, read_marker
from cocoprep.remote.hashes import parse_hash
from cocoprep.remote.http import RetryPolicy, _local_path, _supports_ranges

MIRROR_ENV = "COCOPREP_MIRROR"


def resolve_base(catalog_base: str, *, mirror: str | None = None, tls: bool = False) -> str:
    """The base URL to use: ``mirror``, else ``$COCOPREP_MIRROR``, else the catalog's.

    ``tls`` swaps the COCO bucket for its TLS endpoint (and ``http://`` for ``https://`` on other
    hosts). A local directory becomes a ``file://`` URL.

    Examples
    --------
    >>> resolve_base("http://images.cocodataset.org/", tls=True, mirror="")
    'https://s3.amazonaws.com/images.cocodataset.org/'
    >>> resolve_base("http://x.org/data", mirror="http://mirror.lan/coco")
    'http://mirror.lan/coco/'
    """
    base = mirror or os.environ.get(MIRROR_ENV) or catalog_base
    if "://" not in base:
        base = Path(base).expanduser().resolve().as_uri()
    base = base if base.endswith("/") else base + "/"
    if tls:
        if base == COCO_BASE_URL:
            base = COCO_TLS_URL
        elif base.startswith("http://"):
            base = "https://" + base[len("http://") :]
    return base


def _human(n: int | None) -> str:
    """Bytes in binary units.

    Examples
    --------
    >>> _human(815585330), _human(512), _human(None)
    ('777.8 MiB', '512 B', '?')
    """
    if n is None:
        return "?"
    if abs(n) < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if abs(value) < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _normal_hash(known_hash: str) -> str:
    alg, digest = parse_hash(known_hash)
    return f"{alg}:{digest}"


@dataclass(frozen=True)
class PlanItem:
    """What :func:`download` will do with one archive.

    ``action`` is ``skip`` (its marker matches), ``extract`` (a verified archive is kept),
    ``resume`` (a ``.part`` exists) or ``download``.
    """

    archive: Archive
    url: str
    archive_path: Path
    dest: Path
    action: str
    have_bytes: int
    size: int | None
    extract_bytes: int | None

    @property
    def download_bytes(self) -> int | None:
        """Bytes still to transfer (``None`` when the size is unknown)."""
        if self.action in ("skip", "extract"):
            return 0
        return None if self.size is None else max(0, self.size - self.have_bytes)


def archive_folder(root: str | Path) -> Path:
    """Where archives and their ``.part`` files live under ``root``."""
    return Path(root) / "downloads"


def _plan_item(archive: Archive, root: Path, base: str) -> PlanItem:
    dest = root / "images" / archive.split if archive.kind == "images" else root / "annotations"
    archive_path = archive_folder(root) / archive.filename
    part = archive_path.with_name(archive_path.name + ".part")
    marker = marker_path(root, archive.name)
    estimate = archive.estimated_extracted_bytes()
    if is_done(marker, _normal_hash(archive.md5)):
        action, have, extract = "skip", 0, 0
    elif archive_path.is_file():
        action, have = "extract", archive_path.stat().st_size
        try:
            extract = extracted_size(archive_path)
        except Exception:  # unreadable zip: extraction reports it properly later
            extract = estimate
    elif part.is_file():
        action, have, extract = "resume", part_bytes(part), estimate
    else:
        action, have, extract = "download", 0, estimate
    return PlanItem(
        archive, base + archive.path, archive_path, dest, action, have, archive.bytes, extract
    )


def part_bytes(part: Path) -> int:
    """Bytes a ``.part`` holds: from its saved state when ranges filled it, else its size."""
    try:
        state = json.loads(part.with_name(part.name + ".state").read_text(encoding="utf-8"))
        return sum(end - start for start, end in state["received"])
    except (OSError, ValueError, KeyError, TypeError):
        return part.stat().st_size if part.is_file() else 0


def kept_line(items: Sequence[PlanItem]) -> str:
    """One line saying what an interrupted download keeps for the next run.

    Examples
    --------
    >>> kept_line([])
    'nothing partial kept'
    """
    kept = []
    for item in items:
        part = item.archive_path.with_name(item.archive_path.name + ".part")
        if item.action != "skip" and part.is_file():
            kept.append(f"{part} ({_human(part_bytes(part))} of {_human(item.size)})")
    if not kept:
        return "nothing partial kept"
    return f"kept {', '.join(kept)} and the members already extracted; re-run to resume"


def plan_download(
    splits: Sequence[str],
    *,
    root: str | Path,
    catalog: Catalog,
    base: str,
    annotations: Sequence[str] = (),
    default_annotations: bool = True,
    images: bool = True,
) -> list[PlanItem]:
    """Decide, without any network access, what to do with each archive the request needs.

    ``images=False`` (a class subset) leaves the image archives of ``splits`` out.
    """
    archives = [catalog.images(split) for split in splits]
    if not images:
        archives = []
    if splits and default_annotations:
        archives += catalog.default_annotations()
    archives += [catalog.get(name) for name in annotations]
    unique = list(dict.fromkeys(archives))
    return [_plan_item(archive, Path(root), base) for archive in unique]


def _free_bytes(root: Path) -> int:
    existing = root.resolve()
    while not existing.exists():
        existing = existing.parent
    return shutil.disk_usage(existing).free


def check_space(root: str | Path, items: Sequence[PlanItem]) -> tuple[int, int]:
    """``(needed, free)`` bytes for the plan; :class:`InsufficientSpaceError` when short.

    ``needed`` counts the bytes still to download plus the extracted size of every archive not
    yet extracted (from the zip's central directory when present, else the catalog estimate).
    """
    needed = sum((i.download_bytes or 0) + (i.extract_bytes or 0) for i in items)
    free = _free_bytes(Path(root))
    if needed > free:
        names = ", ".join(i.archive.name for i in items if i.action != "skip")
        message = (
            f"{root}: expected at least {_human(needed)} free for {names} "
            f"(archives + extracted files), found {_human(free)}; free some space or choose "
            "another {root}"
        )
        raise InsufficientSpaceError(message, path=root, params=["root"])
    return needed, free


def _catalog(catalog: Catalog | str | Path | None) -> Catalog:
    if catalog is None:
        return COCO_2017
    if isinstance(catalog, Catalog):
        return catalog
    return load_catalog(catalog)


def probe(item: PlanItem, policy: RetryPolicy) -> PlanItem:
    """Fill in an unknown archive size from the mirror file or a HEAD request."""
    if item.size is not None or item.action not in ("download", "resume"):
        return item
    source = _local_path(item.url)
    if source is not None:
        size = source.stat().st_size if source.is_file() else None
    else:
        size = _supports_ranges(item.url, policy)[1]
    if size is None:
        return item
    extract = item.extract_bytes
    if item.archive.extracted_bytes is None:
        extract = replace(item.archive, bytes=size).estimated_extracted_bytes()
    return replace(item, size=size, extract_bytes=extract)


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog archive and what ``root`` holds of it."""

    name: str
    kind: str
    split: str | None
    size: int | None
    state: str


def list_catalog(
    catalog: Catalog | str | Path | None = None, *, root: str | Path
) -> list[CatalogEntry]:
    """The catalog's archives with their state under ``root``.

    States: ``extracted`` (marker matches), ``archive`` (verified zip kept, not extracted),
    ``partial N MiB`` (an interrupted ``.part``), ``stale marker`` (extracted from another
    version) or ``-``.
    """
    catalog = _catalog(catalog)
    entries = []
    for archive in catalog.archives:
        marker = marker_path(root, archive.name)
        path = archive_folder(root) / archive.filename
        part = path.with_name(path.name + ".part")
        if is_done(marker, _normal_hash(archive.md5)):
            state = "extracted" + (", archive kept" if path.is_file() else "")
        elif path.is_file():
            state = "archive"
        elif part.is_file():
            state = f"partial {_human(part_bytes(part))}"
        elif read_marker(marker) is not None:
            state = "stale marker"
        else:
            state = "-"
        entries.append(
            CatalogEntry(archive.name, archive.kind, archive.split, archive.bytes, state)
        )
    return entries


def format_catalog(entries: Sequence[CatalogEntry]) -> str:
    """The catalog listing as a text table."""
    lines = [f"{'name':<34} {'kind':<11} {'split':<14} {'size':>11}  state"]
    for e in entries:
        size = _human(e.size) if e.size is not None else "unpublished"
        lines.append(f"{e.name:<34} {e.kind:<11} {e.split or '-':<14} {size:>11}  {e.state}")
    return "\n".join(lines)

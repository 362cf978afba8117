"""Download and extract catalog archives into the Ultralytics layout: the orchestration.

The flow, pooch-style: :func:`~cocoprep.remote.plan.plan_download` decides per archive (skip,
download, resume, extract) from what ``root`` holds, :func:`download` checks the free space,
fetches with :func:`~cocoprep.remote.fetch.fetch` (``<file>.part`` + HTTP Range, size and hash
verified while streaming, retries with exponential backoff), extracts with
:func:`~cocoprep.remote.extract.extract_zip` and, for ``classes=…``, fetches only the images of
a class subset (:func:`~cocoprep.remote.subset.download_subset`).

Layout under ``root``::

    images/<split>/…jpg         image archives, or the subset's images
    annotations/…json           annotation archives (instances_<split>.json, …)
    downloads/<archive>.zip     kept archives (keep_archives=True) and <archive>.zip.part
    .cocoprep/<archive>.done    completion markers holding the archive's MD5
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from cocoprep import progress as progress_bars
from cocoprep.errors import InputError
from cocoprep.remote.archive import ArchiveOutcome, Run, process_archive
from cocoprep.remote.catalog import Catalog
from cocoprep.remote.connections import ConnectionPool, Tuning
from cocoprep.remote.http import RetryPolicy
from cocoprep.remote.jobs import run_all
from cocoprep.remote.plan import (
    PlanItem,
    _catalog,
    _free_bytes,
    _human,
    check_space,
    kept_line,
    plan_download,
    probe,
    resolve_base,
)
from cocoprep.remote.subset import SubsetOutcome, download_subset, full_annotations_path

logger = logging.getLogger("cocoprep")


@dataclass
class DownloadSummary:
    """The plan and outcome of :func:`download`; ``format()`` gives the text the CLI prints."""

    root: Path
    base: str
    plan: list[PlanItem]
    needed_bytes: int
    free_bytes: int
    dry_run: bool
    subset: tuple[str, ...] = ()
    archives: list[ArchiveOutcome] = field(default_factory=list)
    subsets: list[SubsetOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def format(self) -> str:
        """A human-readable plan (dry run) or summary."""
        lines = []
        if self.dry_run:
            lines.append(f"plan for {self.root} (base {self.base}):")
            for item in self.plan:
                size = _human(item.size)
                lines.append(
                    f"  {item.action:<8} {item.archive.name:<34} {size:>10}  "
                    f"{item.url} -> {item.dest}"
                )
            for split in self.subset:
                lines.append(f"  subset   {split}: selected images from {self.base}{split}/")
            lines.append(f"disk: needs {_human(self.needed_bytes)}, {_human(self.free_bytes)} free")
            return "\n".join(lines)
        total = sum(o.transferred for o in self.archives)
        for o in sorted(self.archives, key=lambda o: o.name):
            if o.action.startswith("skipped"):
                lines.append(f"  {o.name:<34} {o.action}")
                continue
            detail = f", {o.members} members ({o.written} written)" if o.members else ""
            kept = ", archive kept" if o.kept else ""
            lines.append(
                f"  {o.name:<34} {o.action}: {_human(o.transferred)} in {o.seconds:.1f} s"
                f"{detail}{kept}"
            )
        for s in self.subsets:
            lines.append(
                f"  subset {s.split} ({','.join(s.classes)}): {s.selected} images "
                f"({s.downloaded} fetched, {s.present} already there) -> {s.annotations}"
            )
        rate = total / self.seconds / (1 << 20) if self.seconds else 0.0
        lines.append(
            f"done in {self.seconds:.1f} s: {_human(total)} downloaded ({rate:.1f} MiB/s) "
            f"into {self.root}"
        )
        return "\n".join(lines)


def download(
    splits: Sequence[str] = (),
    *,
    root: str | Path,
    annotations: Sequence[str] = (),
    default_annotations: bool = True,
    catalog: Catalog | str | Path | None = None,
    mirror: str | None = None,
    tls: bool = False,
    connections: int | None = None,
    jobs: int = 3,
    keep_archives: bool = False,
    dry_run: bool = False,
    classes: Sequence[str] = (),
    max_images: int | None = None,
    seed: int = 0,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 30.0,
    progress: progress_bars.Progress = None,
    tuning: Tuning | None = None,
) -> DownloadSummary:
    """Download and extract COCO (or catalog) archives into the Ultralytics layout under ``root``.

    Parameters
    ----------
    splits
        Image splits (``train2017``, ``val2017``, …); any split also brings the catalog's default
        annotation archive unless ``default_annotations=False``.
    root
        Destination: ``images/<split>/``, ``annotations/``, ``downloads/``, ``.cocoprep/``.
    annotations
        Further annotation archives by name (``panoptic_annotations_trainval2017``, …).
    catalog
        A :class:`~cocoprep.remote.catalog.Catalog`, a YAML catalog path, or ``None`` for COCO 2017.
    mirror, tls
        Replace the base URL (``http(s)://``, ``file://`` or a directory; default
        ``$COCOPREP_MIRROR``); ``tls`` selects the HTTPS endpoint.
    connections, jobs
        Ranged connections shared by all archives (``None``: as many as still raise the
        rate, up to 16), and archives fetched at once (class subsets fetch ``2 * jobs *
        connections`` images at once).
    keep_archives
        Keep verified zips in ``root/downloads/`` (deleted after extraction by default).
    dry_run
        Only plan: no network, nothing written; see ``DownloadSummary.format()``.
    classes, max_images, seed
        Fetch only images of these classes (see :func:`download_subset`) instead of the whole
        image archives.
    retries, backoff, timeout
        Attempts without progress, first backoff delay (s) and stall timeout (s).
    progress
        Bars on stderr: ``None`` when it is a terminal, ``True``/``False``, or a bar factory
        (see :mod:`cocoprep.progress`).
    tuning
        How ranges are cut and connections added (:class:`~cocoprep.remote.connections.Tuning`);
        ``connections`` overrides its ``connections``.
    """
    started = time.monotonic()
    catalog = _catalog(catalog)
    root = Path(root)
    _check_request(catalog, splits, annotations, classes, connections, jobs)
    policy = RetryPolicy(retries=retries, backoff=backoff, timeout=timeout)
    base = resolve_base(catalog.base_url, mirror=mirror, tls=tls)
    items = plan_download(
        splits,
        root=root,
        catalog=catalog,
        base=base,
        annotations=annotations,
        default_annotations=default_annotations,
        images=not classes,
    )
    if not dry_run:
        items = [probe(item, policy) for item in items]
    needed = sum((i.download_bytes or 0) + (i.extract_bytes or 0) for i in items)
    summary = DownloadSummary(
        root, base, items, needed, _free_bytes(root), dry_run, tuple(splits) if classes else ()
    )
    if dry_run:
        return summary
    check_space(root, items)
    tuning = tuning or Tuning()
    if connections is not None:
        tuning = replace(tuning, connections=connections)
    pool = ConnectionPool(policy, tuning)
    summary.archives = _run_archives(items, root, pool, jobs, keep_archives, progress)
    for split in splits:
        full = full_annotations_path(root, split)
        if not classes and full.is_file():
            # A whole split replaces an earlier subset: bring its complete annotations back.
            os.replace(full, root / "annotations" / f"instances_{split}.json")
    for split in splits if classes else ():
        summary.subsets.append(
            download_subset(
                split,
                classes,
                root=root,
                base=base,
                max_images=max_images,
                seed=seed,
                workers=2 * jobs * (connections or 4),
                policy=policy,
                progress=progress,
            )
        )
    summary.seconds = time.monotonic() - started
    return summary


def _check_request(catalog, splits, annotations, classes, connections, jobs) -> None:
    if classes and not splits:
        message = "{classes}: expected a split to take the subset from (e.g. val2017), found none"
        raise InputError(message, params=["classes", "splits"])
    if not splits and not annotations:
        message = (
            f"nothing to download: expected a split ({', '.join(catalog.splits)}) or "
            "{annotations}"
        )
        raise InputError(message, params=["splits", "annotations"])
    if (connections is not None and connections < 1) or jobs < 1:
        message = f"expected {{connections}} and {{jobs}} >= 1, found {connections} and {jobs}"
        raise InputError(message, params=["connections", "jobs"])


def _run_archives(items, root, pool, jobs, keep_archives, progress) -> list[ArchiveOutcome]:
    """Every planned archive, ``jobs`` at once over one connection pool."""
    for item in items:
        if item.size is None and item.action != "skip":
            logger.warning(
                "%s: size unknown, the disk-space check leaves it out", item.archive.name
            )
    total = sum(i.size or 0 for i in items if i.action != "skip")
    shown = progress if any(i.action != "skip" for i in items) else False
    stop = threading.Event()

    def cancel() -> None:
        stop.set()
        pool.stop()

    with progress_bars.bar(shown, total=total or None, desc="total", unit="B") as total_bar:
        run = Run(root, pool, stop, keep_archives, shown, total_bar)
        try:
            return run_all(
                items, lambda item: process_archive(item, run), jobs, "archives", cancel=cancel
            )
        except KeyboardInterrupt as interrupt:
            interrupt.kept = kept_line(items)
            raise
        finally:
            pool.stop()

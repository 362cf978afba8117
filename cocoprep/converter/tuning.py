"""The settings of one convert run: what it converts how (:class:`Run`), and the sizes and
thresholds that steer how it splits its work, never what it writes (:class:`Tuning`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cocoprep.classmap import ClassMap
from cocoprep.parallel import PARALLEL_MIN_BYTES


@dataclass(frozen=True)
class Tuning:
    """How convert cuts and spreads its work; the labels are the same bytes for any values.

    >>> Tuning(images_per_block=7).images_per_block
    7
    """

    #: Size of the annotation byte ranges handed to workers: small enough that a chunk's numpy
    #: arrays stay in the CPU caches (2 MB took 8 % less time than 8 MB at train2017 scale).
    chunk_bytes: int = 2 << 20
    #: Annotation bytes below which a file's rows are computed in-process.
    parallel_min_bytes: int = PARALLEL_MIN_BYTES
    #: Annotations per job when a file was parsed whole.
    annotation_batch: int = 20_000
    #: Most images whose label files one job writes (bounds the Python lists held).
    images_per_block: int = 1 << 16
    #: Fewest images a job writes, unless the split has fewer.
    min_images_per_block: int = 2048
    #: Images whose rows are joined in one call when writing (bounds the bytes held).
    images_per_join: int = 4096
    #: A split with fewer images is written in-process (starting workers costs ~0.4 s).
    write_parallel_min_images: int = 20_000
    #: Where the label text's temporary file goes when it has room (a memory filesystem).
    shm_folder: str = "/dev/shm"
    #: Free space ``shm_folder`` must keep beyond the label text for the text to go there.
    shm_headroom: int = 256 << 20


@dataclass(frozen=True)
class Run:
    """The settings every split of one convert run shares."""

    root: Path
    task: str
    class_map: ClassMap
    keep_crowd: bool
    workers: int
    backend: str
    scheduler: str | None
    images: Path | None
    boxes_as_segments: bool
    progress: bool
    tuning: Tuning
    keypoint_names: tuple[str, ...] | None
    yaml_name: str

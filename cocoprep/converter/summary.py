"""What convert did: per split and in total, for the command line's summary and ``--report``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SplitSummary:
    """What convert did for one input file."""

    source: str
    split: str
    images: int
    label_files_written: int
    label_files_unchanged: int
    instances: int
    background_images: int
    counts: dict[str, int]


@dataclass
class Summary:
    """What convert did, for the command line's summary and ``--report``."""

    root: str
    task: str
    classes: int
    yaml: str
    record: str
    splits: list[SplitSummary] = field(default_factory=list)
    unused_categories: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        """Counts added over all splits."""
        total: Counter = Counter()
        for split in self.splits:
            total.update(
                images=split.images,
                label_files_written=split.label_files_written,
                label_files_unchanged=split.label_files_unchanged,
                instances=split.instances,
                background_images=split.background_images,
            )
            total.update(split.counts)
        return dict(total)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the summary."""
        return {
            "root": self.root,
            "task": self.task,
            "classes": self.classes,
            "yaml": self.yaml,
            "record": self.record,
            "unused_categories": self.unused_categories,
            "totals": self.totals(),
            "splits": [vars(split) for split in self.splits],
        }

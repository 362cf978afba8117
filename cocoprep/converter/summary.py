"""What convert did: per split and in total, for the command line's summary and ``--report``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: The counts the summary text names: (label, key, shown even when zero).
_COUNTS = (
    ("label files written", "label_files_written", True),
    ("label files unchanged", "label_files_unchanged", False),
    ("stale label files removed", "stale_labels_removed", False),
    ("background images (empty files)", "background_images", False),
    ("instances written", "instances", True),
    ("crowd annotations skipped", "crowd_skipped", True),
    ("crowd annotations kept", "crowd_kept", False),
    ("annotations of other classes", "class_filtered", False),
    ("duplicate rows dropped", "duplicates_dropped", False),
    ("empty boxes dropped", "empty_boxes_dropped", False),
    ("multi-part polygons merged", "multipart_merged", False),
    ("RLE masks converted", "rle_converted", False),
    ("degenerate polygons replaced by box", "degenerate_replaced", False),
    ("boxes written as polygons (no segmentation)", "boxes_as_polygons", False),
    ("degenerate instances dropped", "degenerate_dropped", False),
    ("no labelled keypoints, skipped", "no_keypoints_skipped", False),
    ("image paths reduced to their name", "image_paths_reduced", False),
)


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
    #: Placeholder categories left out of the class map (Roboflow's project category).
    placeholder_categories: list[str] = field(default_factory=list)

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
            "placeholder_categories": self.placeholder_categories,
            "totals": self.totals(),
            "splits": [vars(split) for split in self.splits],
        }

    def format(self) -> str:
        """The summary as the command line prints it: totals, then every count not zero."""
        totals = self.totals()
        n_splits = len(self.splits)
        lines = [
            f"converted {totals.get('images', 0)} images "
            f"({n_splits} split{'s' if n_splits != 1 else ''}, "
            f"task {self.task}, {self.classes} classes) into {self.root}"
        ]
        for label, key, always in _COUNTS:
            value = totals.get(key, 0)
            if value or always:
                lines.append(f"  {label:<38} {value:>10}")
        if self.unused_categories:
            shown = ", ".join(self.unused_categories[:10])
            more = len(self.unused_categories) - 10
            extra = f" (+{more} more)" if more > 0 else ""
            lines.append(f"  categories no annotation uses: {shown}{extra}")
        if self.placeholder_categories:
            shown = ", ".join(self.placeholder_categories)
            lines.append(f"  placeholder category left out (no annotation uses it): {shown}")
        lines.append(f"  dataset yaml: {self.yaml}")
        return "\n".join(lines)

"""What export did: per split and in total, for the command line's summary and ``--report``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Counts the summary names, in this order (others are shown by their key).
_COUNTS = (
    ("label files with no image (not exported)", "labels_without_image"),
    ("rows with a token that is no number", "unparsable_rows"),
    ("rows of no known length", "rows_of_wrong_length"),
    ("rows of a class not in the categories", "unknown_class_rows"),
    ("polygons of < 3 distinct points", "degenerate_polygons_skipped"),
)


@dataclass
class SplitExport:
    """What export wrote for one split."""

    split: str
    task: str
    path: str
    images: int
    annotations: int
    background_images: int
    counts: dict[str, int]


@dataclass
class ExportSummary:
    """What export did, for the command line and ``--report``."""

    dataset: str
    out: str
    splits: list[SplitExport] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        """Counts added over all splits."""
        total: Counter = Counter()
        for split in self.splits:
            total.update(
                images=split.images,
                annotations=split.annotations,
                background_images=split.background_images,
            )
            total.update(split.counts)
        return dict(total)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the summary."""
        return {
            "dataset": self.dataset,
            "out": self.out,
            "totals": self.totals(),
            "splits": [vars(split) for split in self.splits],
        }

    def format(self) -> str:
        """The summary as the command line prints it: each split's file and counts, then what
        was skipped."""
        totals = self.totals()
        n = len(self.splits)
        lines = [f"exported {totals.get('images', 0)} images ({n} split{'s' if n != 1 else ''})"]
        for split in self.splits:
            lines.append(
                f"  {split.split} ({split.task}): {split.annotations} annotations, "
                f"{split.background_images} background images -> {split.path}"
            )
        named = [key for _, key in _COUNTS]
        others = sorted(set(totals) - {"images", "annotations", "background_images", *named})
        labels = {key: label for label, key in _COUNTS}
        for key in [*named, *others]:
            if totals.get(key):
                label = labels.get(key, key.replace("_", " "))
                lines.append(f"  skipped: {label:<44} {totals[key]:>8}")
        return "\n".join(lines)

"""The report of a validation: every problem as a :class:`Finding` in a :class:`Report`.

The kinds of finding and their severities are the :data:`KINDS` table: an error breaks
conversion or training, loses an object or makes the data ambiguous; a warning still rasterises
but is suspect.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

ERROR, WARNING = "error", "warning"

#: Every kind of finding: its severity and what it means.
KINDS: dict[str, tuple[str, str]] = {
    # COCO files
    "bad-annotation": (ERROR, "annotation is not an object with image_id and category_id"),
    "bad-id": (ERROR, "id missing or not an integer"),
    "duplicate-id": (ERROR, "the same image or category id used twice"),
    "duplicate-annotation-id": (
        WARNING,
        "the same annotation id twice (convert keeps both; pycocotools keeps one)",
    ),
    "bad-image-size": (ERROR, "image width/height missing or not positive"),
    "bad-image-path": (ERROR, "image without file_name or coco_url, or with an unsafe path"),
    "bad-categories": (ERROR, "categories missing or malformed"),
    "unknown-image": (ERROR, "annotation names an image id that is not in the file"),
    "unknown-category": (ERROR, "annotation names a category id that is not in the file"),
    "bad-segmentation": (ERROR, "segmentation is neither polygons of numbers nor RLE"),
    "bad-bbox": (ERROR, "bbox missing or not four numbers"),
    "empty-box": (ERROR, "bbox width or height <= 0 (convert drops the object)"),
    "outside-image": (ERROR, "vertices or bbox outside the image beyond the tolerance"),
    "rle-size": (ERROR, "RLE size differs from its image"),
    "bad-rle": (ERROR, "RLE counts do not decode to the image size"),
    "keypoints": (ERROR, "keypoints not x, y, v triples of numbers, or not the category's count"),
    "bbox-mismatch": (WARNING, "bbox differs from the segmentation bounds"),
    "area-mismatch": (WARNING, "area differs from the segmentation area"),
    # both
    "non-finite": (ERROR, "NaN or infinite number"),
    "odd-coordinates": (ERROR, "polygon with an odd number of coordinates"),
    "too-few-points": (ERROR, "polygon with fewer than 3 points"),
    "zero-area": (WARNING, "polygon with zero or near-zero area"),
    "invalid-ring": (WARNING, "self-intersecting or otherwise invalid ring (Shapely)"),
    "repeated-vertices": (WARNING, "the same vertex twice in a row"),
    # YOLO labels and dataset yamls
    "unparsable": (ERROR, "label line with a token that is not a number"),
    "bad-class": (ERROR, "class id is not a non-negative integer"),
    "class-out-of-range": (ERROR, "class id >= nc"),
    "out-of-range": (ERROR, "normalised value outside [0, 1]"),
    "bad-row": (ERROR, "row length fits no box, polygon or pose row (or obb row, of 8 numbers)"),
    "obb-corners": (ERROR, "oriented box without four distinct corners"),
    "mixed-rows": (ERROR, "box rows in a polygon file (Ultralytics then misreads them)"),
    "duplicate-row": (WARNING, "the same row twice in a file (Ultralytics drops it)"),
    "label-without-image": (WARNING, "label file whose image does not exist"),
    "image-without-label": (WARNING, "image without a label file (trained as background)"),
    "missing-image": (ERROR, "a split's list file names an image that does not exist"),
    "names-mismatch": (ERROR, "nc differs from the number of names in the yaml"),
}


#: The parameters that messages of findings and notes name, written ``{name}`` in them.
PARAMS = ("fix", "nc")
#: How a parameter is spelled for the reader: ``fix=`` for a Python caller by default; the
#: command line passes its flags.
Spell = Callable[[str], str]


def python_spelling(name: str) -> str:
    """``fix`` → ``fix=``, as a Python caller passes it."""
    return f"{name}="


def spelled(text: str, spell: Spell = python_spelling) -> str:
    """``text`` with each parameter of :data:`PARAMS` written by ``spell``.

    >>> spelled("clip it ({fix})"), spelled("clip it ({fix})", lambda name: "--" + name)
    ('clip it (fix=)', 'clip it (--fix)')
    """
    for name in PARAMS:
        text = text.replace("{" + name + "}", spell(name))
    return text


@dataclass(frozen=True)
class Finding:
    """One problem: where it is and what to do.

    ``image`` is the image id (COCO) or image path (YOLO); ``annotation`` the annotation id;
    ``line`` the 1-based line of a label file; ``index`` the position of the annotation (or
    image) in its JSON array, which locates items whose id is missing or repeated.
    """

    severity: str
    kind: str
    file: str
    message: str
    image: int | str | None = None
    annotation: int | None = None
    line: int | None = None
    index: int | None = None

    def where(self) -> str:
        """``file: annotation 7 (image 3)``-style location."""
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.annotation is not None:
            parts.append(f"annotation {self.annotation}")
        elif self.index is not None and self.line is None:
            parts.append(f"item {self.index}")
        if self.image is not None and self.line is None:
            parts.append(f"(image {self.image})")
        return parts[0] + (": " + " ".join(parts[1:]) if len(parts) > 1 else "")


def shifted(item: Finding, offset: int) -> Finding:
    """``item`` with its index moved by ``offset`` (what dataclasses.replace does, 5x faster)."""
    return Finding(
        item.severity,
        item.kind,
        item.file,
        item.message,
        item.image,
        item.annotation,
        item.line,
        item.index + offset,
    )


def finding(kind: str, file: str, message: str, **where: Any) -> Finding:
    """A :class:`Finding` with the severity of its kind."""
    return Finding(severity=KINDS[kind][0], kind=kind, file=file, message=message, **where)


@dataclass
class Report:
    """What :func:`validate` found, with counts of what it checked and notes on skipped checks."""

    findings: list[Finding] = field(default_factory=list)
    checked: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    @property
    def errors(self) -> list[Finding]:
        """Findings of severity error."""
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        """Findings of severity warning."""
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not any(f.severity == ERROR for f in self.findings)

    def by_kind(self) -> dict[str, list[Finding]]:
        """Findings grouped by kind, errors first, then by count."""
        groups: dict[str, list[Finding]] = {}
        for item in self.findings:
            groups.setdefault(item.kind, []).append(item)
        return dict(
            sorted(groups.items(), key=lambda kv: (kv[1][0].severity != ERROR, -len(kv[1]), kv[0]))
        )

    def extend(self, other: Report) -> None:
        """Add another report's findings, counts and notes."""
        self.findings += other.findings
        self.checked.update(other.checked)
        self.notes += other.notes
        self.targets += other.targets

    def summary_line(self) -> str:
        """``2 errors, 5 warnings in 1 target (624 annotations)``."""
        checked = ", ".join(f"{n:,} {what}" for what, n in sorted(self.checked.items()) if n)
        errors, warnings = len(self.errors), len(self.warnings)
        return (
            f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} in "
            f"{len(self.targets)} target{'s' * (len(self.targets) != 1)}"
            + (f" ({checked})" if checked else "")
        )

    def as_dict(self, max_examples: int = 0, spell: Spell = python_spelling) -> dict[str, Any]:
        """A JSON-ready dict: counts per kind and the findings (``max_examples`` per kind, 0 for
        all), parameters in messages written by ``spell``."""

        def fields(item: Finding) -> dict[str, Any]:
            found = {k: v for k, v in asdict(item).items() if v is not None}
            found["message"] = spelled(item.message, spell)
            return found

        kinds = {}
        for kind, items in self.by_kind().items():
            shown = items if max_examples <= 0 else items[:max_examples]
            kinds[kind] = {
                "severity": items[0].severity,
                "description": KINDS[kind][1],
                "count": len(items),
                "findings": [fields(f) for f in shown],
            }
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "targets": self.targets,
            "checked": dict(self.checked),
            "notes": [spelled(note, spell) for note in self.notes],
            "kinds": kinds,
        }

    def format_table(self, max_examples: int = 3, spell: Spell = python_spelling) -> str:
        """A summary table grouped by kind, with a few examples each (0: all), parameters in
        messages written by ``spell``."""
        lines = []
        groups = self.by_kind()
        width = max([20, *map(len, groups)])
        if groups:
            lines.append(f"{'SEVERITY':<9} {'KIND':<{width}} {'COUNT':>7}  DESCRIPTION")
        for kind, items in groups.items():
            lines.append(
                f"{items[0].severity:<9} {kind:<{width}} {len(items):>7}  {KINDS[kind][1]}"
            )
            shown = items if max_examples <= 0 else items[:max_examples]
            lines += [f"    {f.where()}: {spelled(f.message, spell)}" for f in shown]
            if len(items) > len(shown):
                lines.append(f"    … and {len(items) - len(shown)} more")
        lines += [f"note: {spelled(note, spell)}" for note in self.notes]
        lines.append(self.summary_line())
        return "\n".join(lines)

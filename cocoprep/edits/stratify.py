"""Iterative multi-label stratification (Sechidis, Tsoumakas and Vlahavas, 2011).

Units (images, or groups of images that must stay together) carry labels (the classes they
show). Each split wants, for every label, its ratio of the images showing it, and its ratio of
all images. The rarest label still to place is taken first; each of its units goes to the split
that lacks most of that label (then most images overall, then a seeded random draw), and every
split's wants drop by what the unit brings. Units without labels then fill the splits that lack
most images. With no labels at all this is a seeded random split with exact sizes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Units:
    """Units with their sizes and label counts, in compressed rows: unit ``u`` shows label
    ``labels[starts[u]:starts[u + 1]]`` on ``counts[…]`` of its ``sizes[u]`` images."""

    sizes: np.ndarray
    starts: np.ndarray
    labels: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_pairs(
        cls, unit_of_image: np.ndarray, image_of_pair: np.ndarray, label_of_pair: np.ndarray
    ) -> Units:
        """Units from each image's unit and (image, label) pairs (repeats count once).

        >>> units = Units.from_pairs(np.array([0, 0, 1]), np.array([0, 0, 1, 2]),
        ...                          np.array([5, 5, 5, 7]))
        >>> units.sizes.tolist(), units.starts.tolist()
        ([2, 1], [0, 1, 2])
        >>> units.labels.tolist(), units.counts.tolist()
        ([5, 7], [2, 1])
        """
        n_units = int(unit_of_image.max(initial=-1)) + 1
        sizes = np.bincount(unit_of_image, minlength=n_units)
        width = int(label_of_pair.max(initial=0)) + 1
        pairs = np.unique(image_of_pair.astype(np.int64) * width + label_of_pair)
        images, labels = np.divmod(pairs, width)
        keys = unit_of_image[images].astype(np.int64) * width + labels
        unit_labels, counts = np.unique(keys, return_counts=True)
        units, labels = np.divmod(unit_labels, width)
        starts = np.searchsorted(units, np.arange(n_units + 1))
        return cls(sizes=sizes, starts=starts, labels=labels, counts=counts)


def stratify(units: Units, ratios: Sequence[float], n_labels: int, seed: int) -> np.ndarray:
    """The split of each unit (see the module docstring); ``n_labels`` bounds the label values.

    >>> units = Units.from_pairs(np.arange(10), np.arange(10), np.array([0] * 8 + [1] * 2))
    >>> parts = stratify(units, [0.5, 0.5], 2, seed=0)
    >>> np.bincount(parts).tolist(), np.bincount(parts[8:]).tolist()
    ([5, 5], [1, 1])
    """
    rng = np.random.default_rng(seed)
    n_units, k = len(units.sizes), len(ratios)
    order = rng.permutation(n_units)
    ties = rng.random((n_units, k)).tolist()
    sizes = units.sizes.tolist()
    rows = _rows(units)
    totals = np.bincount(units.labels, weights=units.counts, minlength=n_labels)
    wants = [float(r) * sum(sizes) for r in ratios]
    label_wants = [(totals * float(r)).tolist() for r in ratios]
    remaining = totals.copy()
    split = [-1] * n_units

    def place(unit: int, keys: list[tuple[float, ...]]) -> None:
        best = keys.index(max(keys))
        split[unit] = best
        wants[best] -= sizes[unit]
        for label, count in rows[unit]:
            label_wants[best][label] -= count
            remaining[label] -= count

    by_label = _units_by_label(units, order, n_labels)
    while (remaining > 0).any():
        label = int(np.argmin(np.where(remaining > 0, remaining, np.inf)))
        for unit in by_label[label]:
            if split[unit] < 0:
                tie = ties[unit]
                place(unit, [(label_wants[j][label], wants[j], tie[j]) for j in range(k)])
    for unit in order.tolist():
        if split[unit] < 0:
            place(unit, [(wants[j], ties[unit][j]) for j in range(k)])
    return np.array(split, np.int64)


def _rows(units: Units) -> list[list[tuple[int, int]]]:
    """Each unit's (label, count) pairs."""
    pairs = list(zip(units.labels.tolist(), units.counts.tolist(), strict=True))
    bounds = units.starts.tolist()
    return [pairs[a:b] for a, b in itertools.pairwise(bounds)]


def _units_by_label(units: Units, order: np.ndarray, n_labels: int) -> list[list[int]]:
    """For each label, the units showing it, in ``order``."""
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    unit_of_entry = np.repeat(np.arange(len(units.sizes)), np.diff(units.starts))
    # Entries sorted by label, then by the unit's place in the shuffled order.
    entries = np.lexsort((rank[unit_of_entry], units.labels))
    bounds = np.searchsorted(units.labels[entries], np.arange(n_labels + 1))
    ordered = unit_of_entry[entries].tolist()
    return [ordered[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def too_rare(units: Units, ratios: Sequence[float], n_labels: int) -> np.ndarray:
    """The labels on too few images for every split to get one at its ratio.

    >>> units = Units.from_pairs(np.arange(6), np.arange(6), np.array([0] * 5 + [1]))
    >>> too_rare(units, [0.8, 0.2], 2).tolist()
    [1]
    """
    totals = np.bincount(units.labels, weights=units.counts, minlength=n_labels)
    return np.flatnonzero((totals > 0) & (totals * min(ratios) < 1))

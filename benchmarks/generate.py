"""Generate a seeded, deterministic COCO-shaped instances JSON at any scale, for benchmarks.

Two shapes:

``coco`` (default)
    train2017 statistics: 118,287 images and 860,001 annotations at full scale (annotations scale
    with the image count), ~0.86 % images without annotations, ~1 % crowd annotations as
    uncompressed RLE sized to their image, ~7 % multi-part polygons, 3 to 300+ vertices per
    polygon (mean near 20), COCO-like image sizes, the 80 real categories (ids 1..90 with gaps)
    drawn with train2017's class frequencies, ``bbox`` and ``area`` computed from the polygon,
    COCO's key order and ids, annotations shuffled rather than grouped by image. Polygons are
    real COCO outlines from ``coco-mini`` (flipped, scaled, moved, jittered) when that data is
    present, star-shaped blobs otherwise.
``objects365``
    1,742,289 images, 365 classes, ~10 M boxes (5.74 per image), no ``segmentation`` key,
    nested ``file_name`` (``images/v1/patch0/objects365_v1_00000001.jpg``).

The file is written in pieces (orjson, numpy arrays serialised directly), chunks are generated
in worker processes, and memory stays well under 2 GB even for objects365. The output depends
only on the arguments and on which shape source is used (``--polygons``).

Example::

    python benchmarks/generate.py --images 118287 --out /tmp/cocoprep-bench/instances_train2017.json
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

TRAIN2017_IMAGES = 118_287
TRAIN2017_ANNOTATIONS = 860_001
OBJECTS365_IMAGES = 1_742_289
OBJECTS365_ANNOTATIONS = 10_000_000
EMPTY_IMAGE_FRACTION = 1021 / TRAIN2017_IMAGES
CROWD_FRACTION = 0.0105
CHUNK = 50_000
COCO_MINI = Path(
    os.environ.get(
        "COCOPREP_COCO_MINI", Path(__file__).resolve().parents[2] / "shared" / "data" / "coco-mini"
    )
)

# (id, name, supercategory, approximate train2017 instance count used as a sampling weight)
COCO_CATEGORIES = [
    (1, "person", "person", 262465), (2, "bicycle", "vehicle", 7113),
    (3, "car", "vehicle", 43867), (4, "motorcycle", "vehicle", 8725),
    (5, "airplane", "vehicle", 5135), (6, "bus", "vehicle", 6069),
    (7, "train", "vehicle", 4571), (8, "truck", "vehicle", 9973),
    (9, "boat", "vehicle", 10759), (10, "traffic light", "outdoor", 12884),
    (11, "fire hydrant", "outdoor", 1865), (13, "stop sign", "outdoor", 1983),
    (14, "parking meter", "outdoor", 1285), (15, "bench", "outdoor", 9838),
    (16, "bird", "animal", 10806), (17, "cat", "animal", 4768),
    (18, "dog", "animal", 5508), (19, "horse", "animal", 6587),
    (20, "sheep", "animal", 9509), (21, "cow", "animal", 8147),
    (22, "elephant", "animal", 5513), (23, "bear", "animal", 1294),
    (24, "zebra", "animal", 5303), (25, "giraffe", "animal", 5131),
    (27, "backpack", "accessory", 8720), (28, "umbrella", "accessory", 11431),
    (31, "handbag", "accessory", 12354), (32, "tie", "accessory", 6496),
    (33, "suitcase", "accessory", 6192), (34, "frisbee", "sports", 2682),
    (35, "skis", "sports", 6646), (36, "snowboard", "sports", 2685),
    (37, "sports ball", "sports", 6347), (38, "kite", "sports", 9076),
    (39, "baseball bat", "sports", 3276), (40, "baseball glove", "sports", 3747),
    (41, "skateboard", "sports", 5543), (42, "surfboard", "sports", 6126),
    (43, "tennis racket", "sports", 4812), (44, "bottle", "kitchen", 24342),
    (46, "wine glass", "kitchen", 7913), (47, "cup", "kitchen", 20650),
    (48, "fork", "kitchen", 5479), (49, "knife", "kitchen", 7770),
    (50, "spoon", "kitchen", 6165), (51, "bowl", "kitchen", 14358),
    (52, "banana", "food", 9458), (53, "apple", "food", 5851),
    (54, "sandwich", "food", 4373), (55, "orange", "food", 6399),
    (56, "broccoli", "food", 7308), (57, "carrot", "food", 7852),
    (58, "hot dog", "food", 2918), (59, "pizza", "food", 5821),
    (60, "donut", "food", 7179), (61, "cake", "food", 6353),
    (62, "chair", "furniture", 38491), (63, "couch", "furniture", 5779),
    (64, "potted plant", "furniture", 8652), (65, "bed", "furniture", 4192),
    (67, "dining table", "furniture", 15714), (70, "toilet", "furniture", 4157),
    (72, "tv", "electronic", 5805), (73, "laptop", "electronic", 4970),
    (74, "mouse", "electronic", 2262), (75, "remote", "electronic", 5703),
    (76, "keyboard", "electronic", 2855), (77, "cell phone", "electronic", 6434),
    (78, "microwave", "appliance", 1673), (79, "oven", "appliance", 3334),
    (80, "toaster", "appliance", 225), (81, "sink", "appliance", 5610),
    (82, "refrigerator", "appliance", 2637), (84, "book", "indoor", 24715),
    (85, "clock", "indoor", 6334), (86, "vase", "indoor", 6613),
    (87, "scissors", "indoor", 1481), (88, "teddy bear", "indoor", 4793),
    (89, "hair drier", "indoor", 198), (90, "toothbrush", "indoor", 1954),
]  # fmt: skip

COCO_INFO = {
    "description": "COCO 2017 Dataset",
    "url": "http://cocodataset.org",
    "version": "1.0",
    "year": 2017,
    "contributor": "COCO Consortium",
    "date_created": "2017/09/01",
}
COCO_LICENSES = [
    {"url": f"http://creativecommons.org/licenses/{kind}/2.0/", "id": i, "name": name}
    for i, (kind, name) in enumerate(
        [
            ("by-nc-sa", "Attribution-NonCommercial-ShareAlike License"),
            ("by-nc", "Attribution-NonCommercial License"),
            ("by-nc-nd", "Attribution-NonCommercial-NoDerivs License"),
            ("by", "Attribution License"),
            ("by-sa", "Attribution-ShareAlike License"),
            ("by-nd", "Attribution-NoDerivs License"),
        ],
        start=1,
    )
] + [
    {"url": "http://flickr.com/commons/usage/", "id": 7, "name": "No known copyright restrictions"},
    {"url": "http://www.usa.gov/copyright.shtml", "id": 8, "name": "United States Government Work"},
]

# Short sides of 640-pixel-long COCO images and their rough frequencies; 0 means "any".
_SHORT_SIDES = np.array([480, 427, 426, 428, 425, 424, 429, 360, 640, 0])
_SHORT_WEIGHTS = np.array([0.42, 0.20, 0.05, 0.05, 0.04, 0.02, 0.02, 0.03, 0.03, 0.14])
_O365_SIZES = np.array(
    [[1024, 768], [768, 1024], [1024, 683], [683, 1024], [1024, 576], [800, 600]]
)
_O365_WEIGHTS = np.array([0.35, 0.15, 0.25, 0.1, 0.1, 0.05])


@dataclass(frozen=True)
class ShapePool:
    """Outlines to draw polygons from, normalised to their own bounding box.

    Attributes
    ----------
    xy : (V, 2) float array in [0, 1], every part's vertices one after the other.
    part_len : (P,) vertices per part.
    parts : (A,) parts per outline (multi-part objects have more than one).
    rel_size : (A, 2) the outline's box width and height relative to its image.
    room : (V,) distance from each vertex to the nearer of its neighbours, which bounds the
        jitter so that it rarely makes a ring self-intersect.
    """

    xy: np.ndarray
    part_len: np.ndarray
    parts: np.ndarray
    rel_size: np.ndarray
    room: np.ndarray


def pool_from_outlines(outlines: list[tuple[list[np.ndarray], float, float]]) -> ShapePool:
    """Normalise ``(parts, image_width, image_height)`` outlines, parts as (n, 2) arrays."""
    xy, part_len, parts, rel_size, room = [], [], [], [], []
    for polys, width, height in outlines:
        allxy = np.concatenate(polys)
        low, size = allxy.min(0), np.maximum(np.ptp(allxy, 0), 1e-6)
        for p in polys:
            norm = (p - low) / size
            edge = np.hypot(*(np.roll(norm, -1, axis=0) - norm).T)
            xy.append(norm)
            room.append(np.minimum(edge, np.roll(edge, 1)))
        part_len += [len(p) for p in polys]
        parts.append(len(polys))
        rel_size.append(np.minimum(size / (width, height), 1.0))
    return ShapePool(
        np.concatenate(xy),
        np.array(part_len),
        np.array(parts),
        np.array(rel_size, dtype=float),
        np.concatenate(room),
    )


def real_outlines(coco_mini: Path) -> list[tuple[list[np.ndarray], float, float]]:
    """Every non-crowd polygon outline in coco-mini's ``instances_*.json`` files."""
    outlines = []
    for path in sorted((coco_mini / "annotations").glob("instances_*.json")):
        data = orjson.loads(path.read_bytes())
        sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
        for ann in data["annotations"]:
            seg = ann["segmentation"]
            if ann["iscrowd"] or not isinstance(seg, list):
                continue
            polys = [np.array(p, dtype=float).reshape(-1, 2) for p in seg if len(p) >= 6]
            if polys:
                outlines.append((polys, *sizes[ann["image_id"]]))
    return outlines


def star_outlines(
    rng: np.random.Generator, count: int
) -> list[tuple[list[np.ndarray], float, float]]:
    """Star-shaped blobs with COCO-like vertex counts, sizes and ~7 % multi-part objects."""
    outlines = []
    for _ in range(count):
        polys = []
        for _ in range(1 + (rng.random() < 0.07) * rng.integers(1, 4)):
            n = int(np.clip(rng.lognormal(2.8, 0.55), 4, 160))
            angle = np.sort(rng.random(n)) * 2 * np.pi
            radius = (
                1
                + 0.35 * np.sin(rng.integers(2, 6) * angle + rng.random() * 6)
                + 0.1 * rng.random(n)
            )
            centre = rng.random(2) * 2
            polys.append(centre + np.c_[np.cos(angle), np.sin(angle)] * radius[:, None])
        size = np.ptp(np.concatenate(polys), 0)
        rel = np.clip(np.exp(rng.normal(-1.9, 1.0)) * rng.uniform(0.6, 1.6, 2), 0.01, 1.0)
        outlines.append((polys, *(size / rel)))
    return outlines


def with_tail(outlines: list, rng: np.random.Generator) -> list:
    """Add triangles and densified copies (150 to 600 vertices) so counts span 3 to 300+."""
    extra = []
    pick = rng.choice(len(outlines), size=max(2, len(outlines) // 100), replace=False)
    for k, i in enumerate(pick):
        polys, width, height = outlines[i]
        part = polys[0]
        if k % 2:
            extra.append(([part[np.linspace(0, len(part) - 1, 3).astype(int)]], width, height))
        else:
            factor = int(np.ceil(rng.uniform(150, 600) / len(part)))
            nxt = np.roll(part, -1, axis=0)
            t = np.arange(factor)[None, :, None] / factor
            dense = (part[:, None] + t * (nxt - part)[:, None]).reshape(-1, 2)
            extra.append(([dense], width, height))
    return outlines + extra


def shape_pool(source: str, seed: int, coco_mini: Path = COCO_MINI) -> tuple[ShapePool, str]:
    """Build the outline pool from ``real`` COCO shapes, ``synthetic`` blobs, or ``auto``."""
    rng = np.random.default_rng([seed, 7])
    have_real = (coco_mini / "annotations" / "instances_val2017.json").is_file()
    if source == "real" and not have_real:
        msg = f"{coco_mini}: expected coco-mini annotations for --polygons real, found none"
        raise SystemExit(msg)
    used = "real" if source == "real" or (source == "auto" and have_real) else "synthetic"
    outlines = real_outlines(coco_mini) if used == "real" else star_outlines(rng, 2000)
    return pool_from_outlines(with_tail(outlines, rng)), used


def image_sizes(rng: np.random.Generator, count: int) -> np.ndarray:
    """COCO-like ``(width, height)`` pairs: mostly 640 on the long side, 3/4 landscape."""
    short = rng.choice(_SHORT_SIDES, size=count, p=_SHORT_WEIGHTS)
    short = np.where(short == 0, rng.integers(240, 640, count), short)
    long = np.where(rng.random(count) < 0.06, rng.choice([500, 612, 600], count), 640)
    short = np.minimum(short, long)
    landscape = rng.random(count) < 0.75
    return np.where(landscape[:, None], np.c_[long, short], np.c_[short, long])


def spread(rng: np.random.Generator, images: int, annotations: int, empty: float) -> np.ndarray:
    """Annotation count per image: a heavy-tailed split of exactly ``annotations``."""
    counts = np.zeros(images, dtype=np.int64)
    filled = rng.permutation(images)[: images - round(images * empty)]
    filled = filled[: min(len(filled), annotations)]
    weights = rng.gamma(0.6, size=len(filled))
    counts[filled] = 1 + rng.multinomial(annotations - len(filled), weights / weights.sum())
    return counts


@dataclass(frozen=True)
class Layout:
    """Everything decided up front, so chunks can be generated independently."""

    seed: int
    image_ids: np.ndarray  # (N,) in file order
    sizes: np.ndarray  # (N, 2) width, height
    ann_image: np.ndarray  # (M,) index into images, in file order (shuffled)
    ann_category: np.ndarray  # (M,) category id
    ann_id: np.ndarray  # (M,)
    crowd: np.ndarray  # (M,) bool


def coco_layout(images: int, annotations: int, seed: int) -> Layout:
    """Images, ids, categories and crowd flags for a train2017-shaped file."""
    rng = np.random.default_rng([seed, 0])
    image_ids = rng.choice(max(581_929, images * 5), size=images, replace=False) + 1
    sizes = image_sizes(rng, images)
    counts = spread(rng, images, annotations, EMPTY_IMAGE_FRACTION)
    first = np.cumsum(counts) - counts
    with_anns = np.flatnonzero(counts)
    n_crowd = min(round(annotations * CROWD_FRACTION), len(with_anns))
    crowd = np.zeros(annotations, dtype=bool)
    crowd[first[rng.choice(with_anns, size=n_crowd, replace=False)]] = True
    ann_image = np.repeat(np.arange(images), counts)
    weights = np.array([c[3] for c in COCO_CATEGORIES], dtype=float)
    cat_ids = np.array([c[0] for c in COCO_CATEGORIES])
    category = rng.choice(cat_ids, size=annotations, p=weights / weights.sum())
    category[crowd & (rng.random(annotations) < 0.8)] = 1  # most crowds are people
    ann_id = rng.choice(max(2_232_119, annotations * 3), size=annotations, replace=False) + 1
    # real crowd ids read 9 CCC 00 IIIIII: category and image id after a leading 9
    ann_id[crowd] = 900_000_000_000 + category[crowd] * 100_000_000 + image_ids[ann_image[crowd]]
    order = rng.permutation(annotations)
    return Layout(
        seed, image_ids, sizes, ann_image[order], category[order], ann_id[order], crowd[order]
    )


def objects365_layout(images: int, annotations: int, seed: int) -> Layout:
    """Images and boxes for an Objects365-shaped file (sequential ids, 365 classes)."""
    rng = np.random.default_rng([seed, 0])
    sizes = rng.choice(_O365_SIZES, size=images, p=_O365_WEIGHTS)
    counts = spread(rng, images, annotations, 0.001)
    ann_image = np.repeat(np.arange(images, dtype=np.int32), counts)
    rng.shuffle(ann_image)
    weights = 1 / np.arange(1, 366)
    category = rng.choice(np.arange(1, 366), size=annotations, p=weights / weights.sum())
    return Layout(
        seed,
        np.arange(1, images + 1),
        sizes,
        ann_image,
        category.astype(np.int16),
        np.arange(1, annotations + 1),
        np.zeros(0, dtype=bool),
    )


def polygons(
    rng: np.random.Generator, pool: ShapePool, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Place one pool outline per image size (flipped, scaled, moved, jittered).

    Returns
    -------
    coords : (V, 2) vertices rounded to 0.01 px, inside the image.
    part_len : (P,) vertices per part.
    parts : (A,) parts per annotation.
    bbox : (A, 4) ``x, y, w, h`` of the vertices.
    area : (A,) polygon area (shoelace, parts summed).
    """
    count = len(sizes)
    if not count:
        return np.zeros((0, 2)), *(np.zeros(0, dtype=int),) * 2, np.zeros((0, 4)), np.zeros(0)
    pick = rng.integers(0, len(pool.parts), count)
    part_first = np.cumsum(pool.parts) - pool.parts
    vert_first = np.cumsum(pool.part_len) - pool.part_len
    parts = pool.parts[pick]
    part_idx = np.repeat(part_first[pick] - np.cumsum(parts) + parts, parts) + np.arange(
        parts.sum()
    )
    part_len = pool.part_len[part_idx]
    vert_idx = np.repeat(vert_first[part_idx] - np.cumsum(part_len) + part_len, part_len)
    vert_idx += np.arange(part_len.sum())
    ann_of_vert = np.repeat(np.repeat(np.arange(count), parts), part_len)

    jitter = np.minimum(pool.room[vert_idx], 0.02)[:, None] * 0.15
    xy = pool.xy[vert_idx] + rng.normal(0, 1, (len(vert_idx), 2)) * jitter
    flip = rng.random(count) < 0.5
    xy[:, 0] = np.where(flip[ann_of_vert], 1 - xy[:, 0], xy[:, 0])
    np.clip(xy, 0, 1, out=xy)
    size = np.maximum(
        np.minimum(pool.rel_size[pick] * rng.lognormal(0, 0.25, (count, 1)), 1), 0.004
    )
    box = size * sizes
    low = rng.random((count, 2)) * (sizes - box)
    coords = np.round(low[ann_of_vert] + xy * box[ann_of_vert], 2)

    ann_verts = np.add.reduceat(part_len, np.cumsum(parts) - parts)
    starts = np.cumsum(ann_verts) - ann_verts
    mins = np.minimum.reduceat(coords, starts)
    maxs = np.maximum.reduceat(coords, starts)
    bbox = np.round(np.c_[mins, maxs - mins], 2)

    part_starts = np.cumsum(part_len) - part_len
    nxt = np.arange(len(coords)) + 1
    nxt[part_starts + part_len - 1] = part_starts
    cross = coords[:, 0] * coords[nxt, 1] - coords[nxt, 0] * coords[:, 1]
    part_area = np.abs(np.add.reduceat(cross, part_starts)) / 2
    area = np.round(np.add.reduceat(part_area, np.cumsum(parts) - parts), 4)
    return coords, part_len, parts, bbox, area


def crowd_masks(rng: np.random.Generator, sizes: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
    """Column-convex blobs as uncompressed RLE ``counts`` (column-major, zeros first).

    Returns the counts lists, ``(A, 4)`` integer boxes and ``(A,)`` pixel areas.
    """
    count = len(sizes)
    if not count:
        return [], np.zeros((0, 4), dtype=int), np.zeros(0, dtype=int)
    width, height = sizes[:, 0], sizes[:, 1]
    bw = np.clip((rng.uniform(0.15, 0.9, count) * width).astype(int), 4, width)
    # at most height - 1 rows, so one column's run never touches the next column's
    bh = np.clip((rng.uniform(0.15, 0.9, count) * height).astype(int), 4, height - 1)
    x0 = (rng.random(count) * (width - bw + 1)).astype(int)
    y0 = (rng.random(count) * (height - bh + 1)).astype(int)
    col = np.repeat(np.arange(count), bw)
    t = (np.arange(bw.sum()) - np.repeat(np.cumsum(bw) - bw, bw) + 0.5) / bw[col]
    ellipse = np.sqrt(1 - (2 * t - 1) ** 2)
    wave = rng.uniform(1, 6, (2, count))
    phase = rng.uniform(0, 2 * np.pi, (2, count))
    half = bh[col] / 2
    up = ellipse * (0.7 + 0.3 * np.sin(2 * np.pi * wave[0, col] * t + phase[0, col]))
    down = ellipse * (0.7 + 0.3 * np.sin(2 * np.pi * wave[1, col] * t + phase[1, col]))
    top = (y0[col] + half - up * half).astype(int)
    bottom = np.maximum((y0[col] + half + down * half).astype(int), top + 1)
    x = x0[col] + np.arange(len(col)) - np.repeat(np.cumsum(bw) - bw, bw)
    edges = np.c_[x * height[col] + top, x * height[col] + bottom].ravel()
    firsts = np.cumsum(bw) - bw
    runs = []
    for i, chunk in enumerate(np.split(edges, 2 * (firsts[1:]))):
        counts = np.diff(chunk, prepend=0, append=int(width[i] * height[i])).tolist()
        runs.append(counts[:-1] if counts[-1] == 0 else counts)
    ytop = np.minimum.reduceat(top, firsts)
    ybot = np.maximum.reduceat(bottom, firsts)
    bbox = np.c_[x0, ytop, bw, ybot - ytop]
    area = np.add.reduceat(bottom - top, firsts)
    return runs, bbox, area


def _array_body(items: list) -> bytes:
    """A JSON array's items without the brackets (empty bytes for no items)."""
    return orjson.dumps(items, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]


def coco_images_json(layout: Layout, start: int, stop: int) -> bytes:
    """The ``images`` entries ``start:stop`` in COCO's key order."""
    rng = np.random.default_rng([layout.seed, 1, start])
    ids = layout.image_ids[start:stop].tolist()
    sizes = layout.sizes[start:stop].tolist()
    licence = rng.integers(1, 9, len(ids)).tolist()
    day = rng.integers(0, 365 * 2, len(ids))
    second = rng.integers(0, 86400, len(ids)).tolist()
    stamps = (np.datetime64("2013-01-01") + day.astype("timedelta64[D]")).astype(str).tolist()
    farm = rng.integers(1, 10, len(ids)).tolist()
    photo = rng.integers(10**9, 9 * 10**9, len(ids)).tolist()
    secret = rng.integers(0, 16**10, len(ids)).tolist()
    return _array_body(
        [
            {
                "license": licence[i],
                "file_name": f"{ids[i]:012d}.jpg",
                "coco_url": f"http://images.cocodataset.org/train2017/{ids[i]:012d}.jpg",
                "height": sizes[i][1],
                "width": sizes[i][0],
                "date_captured": f"{stamps[i]} {second[i] // 3600:02d}:"
                f"{second[i] // 60 % 60:02d}:{second[i] % 60:02d}",
                "flickr_url": f"http://farm{farm[i]}.staticflickr.com/{photo[i] % 9000}/"
                f"{photo[i]}_{secret[i]:010x}_z.jpg",
                "id": ids[i],
            }
            for i in range(len(ids))
        ]
    )


def coco_annotations_json(layout: Layout, pool: ShapePool, start: int, stop: int) -> bytes:
    """The ``annotations`` entries ``start:stop``: polygons, or RLE for crowds."""
    rng = np.random.default_rng([layout.seed, 2, start])
    image = layout.ann_image[start:stop]
    crowd = layout.crowd[start:stop]
    sizes = layout.sizes[image]
    solid = np.flatnonzero(~crowd)
    coords, part_len, parts, bbox, area = polygons(rng, pool, sizes[solid])
    flat = coords.ravel()
    part_arrays = np.split(flat, 2 * np.cumsum(part_len)[:-1])
    ann_part = np.cumsum(parts) - parts
    runs, crowd_bbox, crowd_area = crowd_masks(rng, sizes[crowd])
    segmentation: list = [None] * len(image)
    boxes: list = [None] * len(image)
    areas: list = [None] * len(image)
    bbox_list, area_list = bbox.tolist(), area.tolist()
    for k, i in enumerate(solid.tolist()):
        segmentation[i] = part_arrays[ann_part[k] : ann_part[k] + parts[k]]
        boxes[i], areas[i] = bbox_list[k], area_list[k]
    crowd_sizes = sizes[crowd].tolist()
    for k, i in enumerate(np.flatnonzero(crowd).tolist()):
        segmentation[i] = {"counts": runs[k], "size": [crowd_sizes[k][1], crowd_sizes[k][0]]}
        boxes[i], areas[i] = crowd_bbox[k].tolist(), int(crowd_area[k])
    image_ids = layout.image_ids[image].tolist()
    categories = layout.ann_category[start:stop].tolist()
    ids = layout.ann_id[start:stop].tolist()
    flags = crowd.astype(int).tolist()
    return _array_body(
        [
            {
                "segmentation": segmentation[i],
                "area": areas[i],
                "iscrowd": flags[i],
                "image_id": image_ids[i],
                "bbox": boxes[i],
                "category_id": categories[i],
                "id": ids[i],
            }
            for i in range(len(image))
        ]
    )


def objects365_images_json(layout: Layout, start: int, stop: int) -> bytes:
    """Objects365 ``images`` entries with nested ``images/v1/patchN/`` file names."""
    ids = layout.image_ids[start:stop].tolist()
    sizes = layout.sizes[start:stop].tolist()
    return _array_body(
        [
            {
                "height": sizes[i][1],
                "id": ids[i],
                "license": 5,
                "width": sizes[i][0],
                "file_name": f"images/v1/patch{(ids[i] - 1) // 34_816}/"
                f"objects365_v1_{ids[i]:08d}.jpg",
                "url": "",
            }
            for i in range(len(ids))
        ]
    )


def objects365_annotations_json(layout: Layout, start: int, stop: int) -> bytes:
    """Objects365 box annotations (no ``segmentation`` key), log-uniform box sizes."""
    rng = np.random.default_rng([layout.seed, 2, start])
    sizes = layout.sizes[layout.ann_image[start:stop]]
    box = np.clip(np.exp(rng.uniform(np.log(0.01), 0, (len(sizes), 2))), 0.002, 1) * sizes
    low = rng.random((len(sizes), 2)) * (sizes - box)
    bbox = np.round(np.c_[low, box], 2)
    area = np.round(bbox[:, 2] * bbox[:, 3], 4).tolist()
    bbox_list = bbox.tolist()
    image_ids = layout.image_ids[layout.ann_image[start:stop]].tolist()
    categories = layout.ann_category[start:stop].tolist()
    ids = layout.ann_id[start:stop].tolist()
    return _array_body(
        [
            {
                "id": ids[i],
                "iscrowd": 0,
                "isfake": 0,
                "area": area[i],
                "isreflected": 0,
                "bbox": bbox_list[i],
                "image_id": image_ids[i],
                "category_id": categories[i],
            }
            for i in range(len(ids))
        ]
    )


# Worker processes are forked after these are set, so the tables are shared, never pickled.
_LAYOUT: Layout | None = None
_POOL: ShapePool | None = None
_SHAPE = "coco"


def _piece(task: tuple[str, int, int]) -> bytes:
    section, start, stop = task
    if _SHAPE == "objects365":
        if section == "images":
            return objects365_images_json(_LAYOUT, start, stop)
        return objects365_annotations_json(_LAYOUT, start, stop)
    if section == "images":
        return coco_images_json(_LAYOUT, start, stop)
    return coco_annotations_json(_LAYOUT, _POOL, start, stop)


def default_annotations(shape: str, images: int) -> int:
    """The annotation count at the shape's real per-image rate.

    >>> default_annotations("coco", 118_287), default_annotations("objects365", 1_742_289)
    (860001, 10000000)
    """
    if shape == "objects365":
        return round(images * OBJECTS365_ANNOTATIONS / OBJECTS365_IMAGES)
    return round(images * TRAIN2017_ANNOTATIONS / TRAIN2017_IMAGES)


def generate(
    out: Path,
    *,
    images: int,
    annotations: int | None = None,
    seed: int = 0,
    shape: str = "coco",
    polygons_from: str = "auto",
    jobs: int = 2,
) -> dict:
    """Write a COCO-shaped instances JSON to ``out`` (via a temp file) and return a summary.

    ``annotations`` defaults to :func:`default_annotations`.
    """
    global _LAYOUT, _POOL, _SHAPE
    annotations = annotations or default_annotations(shape, images)
    if shape == "objects365":
        _LAYOUT, _POOL, used = objects365_layout(images, annotations, seed), None, "none"
        info = {"description": "Objects365-shaped benchmark data (cocoprep)", "version": "2.0"}
        licenses = [{"id": 5, "name": "Synthetic", "url": ""}]
        categories = [{"name": f"object{i:03d}", "id": i} for i in range(1, 366)]
    else:
        _LAYOUT = coco_layout(images, annotations, seed)
        _POOL, used = shape_pool(polygons_from, seed)
        info, licenses = COCO_INFO, COCO_LICENSES
        categories = [{"supercategory": s, "id": i, "name": n} for i, n, s, _ in COCO_CATEGORIES]
    _SHAPE = shape
    tasks = [("images", i, min(i + CHUNK, images)) for i in range(0, images, CHUNK)]
    tasks += [("annotations", i, min(i + CHUNK, annotations)) for i in range(0, annotations, CHUNK)]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as f, multiprocessing.get_context("fork").Pool(jobs) as workers:
        f.write(b'{"info":' + orjson.dumps(info) + b',"licenses":' + orjson.dumps(licenses))
        section = None
        for (name, _, _), body in zip(tasks, workers.imap(_piece, tasks), strict=True):
            if name != section:
                f.write(
                    b',"%s":[' % name.encode() if section is None else b'],"%s":[' % name.encode()
                )
                section, sep = name, b""
            if body:
                f.write(sep + body)
                sep = b","
        f.write(b'],"categories":' + orjson.dumps(categories) + b"}")
    tmp.replace(out)
    return {
        "images": images,
        "annotations": annotations,
        "polygons": used,
        "bytes": out.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: parse arguments, generate, print a one-line summary on stderr."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, help="image count (default: the shape's full size)")
    parser.add_argument("--annotations", type=int, help="annotation count (default: scaled)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shape", choices=["coco", "objects365"], default="coco")
    parser.add_argument(
        "--polygons",
        choices=["auto", "real", "synthetic"],
        default="auto",
        help="outline source: coco-mini's real shapes, star blobs, or real when present",
    )
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    default = OBJECTS365_IMAGES if args.shape == "objects365" else TRAIN2017_IMAGES
    started = time.perf_counter()
    summary = generate(
        args.out,
        images=args.images or default,
        annotations=args.annotations,
        seed=args.seed,
        shape=args.shape,
        polygons_from=args.polygons,
        jobs=args.jobs,
    )
    print(
        f"{args.out}: {summary['images']:,} images, {summary['annotations']:,} annotations, "
        f"{summary['bytes'] / 1e6:.0f} MB, polygons {summary['polygons']}, "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

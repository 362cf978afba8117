"""``cocoprep preview``: draw a split's YOLO labels over its images, beside the COCO source.

For a sample of images, one PNG each: the image with its label rows drawn (polygons filled and
outlined, boxes, keypoints with their skeleton) and the class names; with the COCO file the labels
came from, a second panel to the right draws its annotations (polygon parts, RLE masks, crowd
regions lighter or unfilled, keypoints), so a conversion can be checked at a glance. A grid
mosaic of all the sampled panels is written too. Multi-part label rows are split back into their
parts (:func:`cocoprep.geometry.split_bridged_ring`), so the zero-width bridges are not drawn.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cocoprep import jsonscan
from cocoprep.errors import InputError

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger("cocoprep")

#: Ultralytics' class colours, reused so previews look like its plots.
PALETTE = (
    "FF3838", "FF9D97", "FF701F", "FFB21D", "CFD231", "48F90A", "92CC17", "3DDB86", "1A9334",
    "00D4BB", "2C99A8", "00C2FF", "344593", "6473FF", "0018EC", "8438FF", "520085", "CB38FF",
    "FF95C8", "FF37C7",
)  # fmt: skip
#: COCO's person skeleton (0-based keypoint pairs), used for 17-keypoint rows.
COCO_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
#: Pixels between the label panel and the COCO panel.
GAP = 8
FILL_ALPHA = 90


@dataclass(frozen=True)
class Preview:
    """The PNGs written: one per sampled image, and the mosaic."""

    images: list[Path]
    mosaic: Path


def color(index: int) -> tuple[int, int, int]:
    """The RGB colour of class ``index``.

    >>> color(0), color(20)
    ((255, 56, 56), (255, 56, 56))
    """
    code = PALETTE[index % len(PALETTE)]
    return int(code[:2], 16), int(code[2:4], 16), int(code[4:], 16)


def _font(height: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.load_default(size=max(11, height // 45))


def _caption(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, rgb, font) -> None:
    """``text`` on a filled box of colour ``rgb`` whose bottom-left is ``xy`` (kept inside)."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width, height = right - left + 4, bottom - top + 4
    x = min(max(xy[0], 0), max(draw.im.size[0] - width, 0))
    y = max(xy[1] - height, 0)
    draw.rectangle((x, y, x + width, y + height), fill=(*rgb, 255))
    light = sum(rgb) > 382
    draw.text(
        (x + 2 - left, y + 2 - top), text, fill=(0, 0, 0) if light else (255, 255, 255), font=font
    )


def _polygon(draw: ImageDraw.ImageDraw, points: np.ndarray, rgb, *, fill: bool = True) -> None:
    xy = [tuple(p) for p in points.tolist()]
    if len(xy) < 2:
        return
    draw.polygon(xy, fill=(*rgb, FILL_ALPHA) if fill else None, outline=(*rgb, 255), width=2)


def _fill_even_odd(overlay: Image.Image, parts: list[np.ndarray], rgb) -> None:
    """Fill the parts of one object even-odd, so a hole bridged into its outer ring (a crowd
    mask traced with its holes) stays open, as it is in the label."""
    from PIL import Image, ImageChops, ImageDraw

    mask = Image.new("1", overlay.size, 0)
    for part in parts:
        if len(part) < 3:
            continue
        piece = Image.new("1", overlay.size, 0)
        ImageDraw.Draw(piece).polygon([tuple(p) for p in part.tolist()], fill=1)
        mask = ImageChops.logical_xor(mask, piece)
    overlay.paste((*rgb, FILL_ALPHA), mask=mask)


def _keypoints(draw, points: np.ndarray, rgb, skeleton: Sequence[tuple[int, int]]) -> None:
    """Keypoints ``(k, 2 or 3)`` in pixels; a third column of 0 hides a point."""
    visible = points[:, 2] > 0 if points.shape[1] == 3 else np.ones(len(points), bool)
    for a, b in skeleton:
        if a < len(points) and b < len(points) and visible[a] and visible[b]:
            draw.line([tuple(points[a, :2]), tuple(points[b, :2])], fill=(*rgb, 255), width=2)
    radius = 3
    for x, y in points[visible, :2].tolist():
        box = (x - radius, y - radius, x + radius, y + radius)
        draw.ellipse(box, fill=(255, 255, 255, 255), outline=(*rgb, 255))


def draw_labels(
    image: Image.Image,
    label_text: bytes,
    names: dict[int, str],
    *,
    kpt_shape: tuple[int, int] | None = None,
    skeleton: Sequence[tuple[int, int]] = (),
) -> Image.Image:
    """``image`` (RGB) with the YOLO label rows of ``label_text`` drawn on it."""
    from PIL import Image, ImageDraw

    from cocoprep import geometry, yolo

    rows = yolo.parse_labels(label_text)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    font = _font(image.size[1])
    scale = np.array(image.size, np.float64)
    kinds = yolo.row_kinds(rows.counts, kpt_shape)
    captions = []
    for r, kind in enumerate(kinds):
        index = int(rows.classes[r])
        rgb = color(index)
        values = rows.row(r)
        if kind == yolo.POLYGON:
            ring = values.reshape(-1, 2) * scale
            parts = geometry.split_bridged_ring(ring)
            if len(parts) > 1:
                _fill_even_odd(overlay, parts, rgb)
            for part in parts:
                _polygon(draw, part, rgb, fill=len(parts) == 1)
            corner = ring.min(axis=0)
        elif kind in (yolo.BOX, yolo.POSE):
            cx, cy, w, h = values[:4] * np.tile(scale, 2)
            corner = np.array([cx - w / 2, cy - h / 2])
            draw.rectangle((*corner, cx + w / 2, cy + h / 2), outline=(*rgb, 255), width=2)
            if kind == yolo.POSE and kpt_shape is not None:
                points = values[4:].reshape(kpt_shape).copy()
                points[:, :2] *= scale
                _keypoints(draw, points, rgb, skeleton)
        else:
            log.warning("label row %d has %d numbers; not drawn", rows.lines[r], rows.counts[r])
            continue
        captions.append((tuple(corner), names.get(index, str(index)), rgb))
    for corner, text, rgb in captions:
        _caption(draw, corner, text, rgb, font)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def draw_coco(
    image: Image.Image,
    annotations: Sequence[dict[str, Any]],
    classes: dict[int, tuple[int, str]],
    *,
    skeleton: Sequence[tuple[int, int]] = (),
) -> Image.Image:
    """``image`` (RGB) with COCO ``annotations`` drawn; ``classes`` maps a category id to its
    ``(class index, name)``, the index choosing the colour as in :func:`draw_labels`."""
    from PIL import Image, ImageDraw

    from cocoprep import masks

    width, height = image.size
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    font = _font(height)
    captions = []
    for ann in annotations:
        index, name = classes.get(ann.get("category_id"), (-1, f"id {ann.get('category_id')}"))
        rgb = color(index) if index >= 0 else (128, 128, 128)
        crowd = bool(ann.get("iscrowd", 0))
        seg = ann.get("segmentation")
        if isinstance(seg, list) and seg:
            for part in seg if isinstance(seg[0], list) else [seg]:
                _polygon(draw, np.asarray(part, np.float64).reshape(-1, 2), rgb, fill=not crowd)
        elif isinstance(seg, dict):
            try:
                mask = masks.rle_to_mask(seg, height, width)
            except InputError as error:
                log.warning("annotation %s: %s; not drawn", ann.get("id"), error)
            else:
                alpha = FILL_ALPHA // 2 if crowd else FILL_ALPHA
                layer = Image.new("RGBA", image.size, (*rgb, alpha))
                overlay.paste(layer, (0, 0), Image.fromarray(mask * 255))
        box = ann.get("bbox")
        if isinstance(box, list) and len(box) == 4:
            x, y, w, h = (float(v) for v in box)
            if not (isinstance(seg, list | dict) and seg):
                draw.rectangle((x, y, x + w, y + h), outline=(*rgb, 255), width=2)
            captions.append(((x, y), name + (" (crowd)" if crowd else ""), rgb))
        keypoints = ann.get("keypoints")
        if isinstance(keypoints, list) and len(keypoints) % 3 == 0 and keypoints:
            _keypoints(draw, np.asarray(keypoints, np.float64).reshape(-1, 3), rgb, skeleton)
    for corner, text, rgb in captions:
        _caption(draw, corner, text, rgb, font)
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def side_by_side(
    left: Image.Image, right: Image.Image, titles: tuple[str, str] = ("YOLO labels", "COCO source")
) -> Image.Image:
    """The two panels next to each other, :data:`GAP` dark pixels apart, titled at the bottom."""
    from PIL import Image, ImageDraw

    height = max(left.height, right.height)
    both = Image.new("RGB", (left.width + GAP + right.width, height))
    both.paste(left, (0, 0))
    both.paste(right, (left.width + GAP, 0))
    draw = ImageDraw.Draw(both)
    font = _font(height)
    for x, title in zip((0, left.width + GAP), titles, strict=True):
        _caption(draw, (x, height), title, (32, 32, 32), font)
    return both


def mosaic(panels: Sequence[Image.Image], tile: tuple[int, int]) -> Image.Image:
    """A grid (about square) of ``panels``, each shrunk to fit ``tile`` and centred in it."""
    from PIL import Image

    columns = max(1, math.ceil(math.sqrt(len(panels))))
    rows = max(1, math.ceil(len(panels) / columns))
    grid = Image.new("RGB", (columns * tile[0], rows * tile[1]), (24, 24, 24))
    for i, panel in enumerate(panels):
        thumb = panel.copy()
        thumb.thumbnail(tile)
        x = (i % columns) * tile[0] + (tile[0] - thumb.width) // 2
        y = (i // columns) * tile[1] + (tile[1] - thumb.height) // 2
        grid.paste(thumb, (x, y))
    return grid


def _coco_for(
    path: Path, split: str, relpaths: Sequence[str]
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """The annotations of the images ``relpaths`` (``val2017/x.jpg``, matched by path, then by
    file name) in the COCO file ``path``, and its categories."""
    from cocoprep import coco

    coco_file = coco.open_coco(path, split)
    by_path = {p: i for i, p in enumerate(coco_file.images.paths)}
    by_name = {p.rsplit("/", 1)[-1]: i for i, p in enumerate(coco_file.images.paths)}
    wanted: dict[int, str] = {}
    for rel in relpaths:
        found = by_path.get(rel, by_name.get(rel.rsplit("/", 1)[-1]))
        if found is None:
            log.warning("%s: no image %s; its COCO panel stays empty", path, rel)
        else:
            wanted[int(coco_file.images.ids[found])] = rel
    out: dict[str, list[dict[str, Any]]] = {rel: [] for rel in relpaths}
    if coco_file.annotations is not None:
        chunks = [coco_file.annotations]
    else:
        chunks = (
            jsonscan.parse_file_range(path, s, e) for s, e in coco_file.annotation_ranges or []
        )
    for chunk in chunks:
        for ann in chunk:
            rel = wanted.get(ann.get("image_id")) if isinstance(ann, dict) else None
            if rel is not None:
                out[rel].append(ann)
    return out, coco_file.categories


def _sample(root: Path, split: str | None, n: int, seed: int) -> tuple[str, list[Path]]:
    from cocoprep import yamlfile, yolo

    splits = yamlfile.find_splits(root)
    if split is None:
        split = next((s for s in splits if s.startswith("val")), next(iter(splits), ""))
    if split not in splits:
        msg = (
            f"{root}: no split {split!r} (found {', '.join(splits) or 'none'}); pass {{split}} "
            "with one of them"
        )
        raise InputError(msg, path=root, params=["split"])
    source = root / splits[split]
    images = yolo.split_images(source)[0] if source.exists() else []
    if not images:
        msg = (
            f"{source}: no images of {split} on disk; preview draws over the images: download "
            "them, or convert with {images} set to their folder"
        )
        raise InputError(msg, path=source, params=["images"])
    return split, random.Random(seed).sample(images, min(n, len(images)))


def _relpath(root: Path, image: Path) -> str:
    try:
        return image.relative_to(root / "images").as_posix()
    except ValueError:
        return image.name


def preview(
    root: str | os.PathLike,
    split: str | None = None,
    *,
    out: str | os.PathLike,
    n: int = 16,
    seed: int = 0,
    annotations: str | os.PathLike | None = None,
    tile: int = 320,
) -> Preview:
    """Draw the labels of ``n`` images of ``split`` (picked with ``seed``) into PNGs in ``out``.

    ``split`` defaults to the root's first ``val*`` split. Each PNG has the image's size; with
    ``annotations`` (the COCO file the split was converted from) it is twice as wide plus
    :data:`GAP`, the COCO panel on the right. ``out/mosaic.png`` tiles all panels, each fitted
    into ``tile`` pixels (twice that wide with ``annotations``).

    Examples
    --------
    >>> preview("datasets/coco", "val2017", out="preview", n=4)  # doctest: +SKIP
    """
    from PIL import Image, UnidentifiedImageError

    from cocoprep import classmap, layout, yolo

    if n < 1:
        msg = f"preview: expected at least one image (-n), found {n}"
        raise InputError(msg)
    root = Path(root)
    split, chosen = _sample(root, split, n, seed)
    record = layout.read_record(root)
    class_map = classmap.map_from_record(record) if record else None
    names = class_map.names_by_index() if class_map else {}
    kpt_shape = None
    if record and record.get("task") == "pose" and record.get("keypoints"):
        kpt_shape = (len(record["keypoints"]), 3)
    skeleton: Sequence[tuple[int, int]] = COCO_SKELETON if kpt_shape == (17, 3) else ()

    relpaths = [_relpath(root, image) for image in chosen]
    sources: dict[str, list[dict[str, Any]]] = {}
    classes: dict[int, tuple[int, str]] = {}
    if annotations is not None:
        sources, categories = _coco_for(Path(annotations), split, relpaths)
        ids = class_map.category_ids if class_map else sorted(c["id"] for c in categories)
        named = {c["id"]: str(c["name"]) for c in categories}
        classes = {cid: (i, named.get(cid, str(cid))) for i, cid in enumerate(ids)}
        for category in categories:
            pairs = category.get("skeleton")
            if isinstance(pairs, list) and pairs:
                skeleton = [(int(a) - 1, int(b) - 1) for a, b in pairs]

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, panels, used = [], [], set()
    for image_path, rel in zip(chosen, relpaths, strict=True):
        try:
            with Image.open(image_path) as opened:
                image = opened.convert("RGB")
        except (OSError, UnidentifiedImageError) as error:
            msg = f"{image_path}: cannot read the image ({error}); re-download or remove it"
            raise InputError(msg) from None
        label = yolo.label_path_of(image_path)
        text = label.read_bytes() if label.is_file() else b""
        panel = draw_labels(image, text, names, kpt_shape=kpt_shape, skeleton=skeleton)
        if annotations is not None:
            coco_panel = draw_coco(image, sources.get(rel, []), classes, skeleton=skeleton)
            panel = side_by_side(panel, coco_panel)
        name = Path(rel).stem
        while name in used:
            name += "_"
        used.add(name)
        target = out / f"{name}.png"
        panel.save(target)
        written.append(target)
        panels.append(panel)
    size = (tile * 2 + GAP, tile) if annotations is not None else (tile, tile)
    mosaic_path = out / "mosaic.png"
    mosaic(panels, size).save(mosaic_path)
    log.info("preview: %d images of %s drawn into %s", len(written), split, out)
    return Preview(images=written, mosaic=mosaic_path)

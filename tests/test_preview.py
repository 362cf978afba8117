"""Tests for cocoprep.preview: PNG sizes, drawn pixels where the shapes are, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cocoprep.cli import main
from cocoprep.converter import convert
from cocoprep.errors import InputError
from cocoprep.preview import COCO_SKELETON, GAP, draw_labels, mosaic, preview

W, H = 200, 150
GRAY = (128, 128, 128)
SQUARE = [20, 60, 80, 60, 80, 120, 20, 120]  # pixels, class "cat"
LEFT, RIGHT = [110, 40, 130, 40, 130, 60, 110, 60], [170, 100, 190, 100, 190, 120, 170, 120]


def crowd_rle() -> dict:
    """Uncompressed RLE (column-major) filling columns 150..159, all rows."""
    counts = [150 * H, 10 * H, (W - 160) * H]
    return {"counts": counts, "size": [H, W]}


@pytest.fixture
def root(tmp_path: Path) -> tuple[Path, Path]:
    """A converted val split of three gray PNGs: a square cat, a two-part dog, a crowd dog."""
    images = tmp_path / "src" / "val"
    images.mkdir(parents=True)
    for i in (1, 2, 3):
        Image.new("RGB", (W, H), GRAY).save(images / f"{i}.png")
    anns = [
        {"id": 1, "image_id": 1, "category_id": 5, "segmentation": [SQUARE]},
        {"id": 2, "image_id": 1, "category_id": 9, "segmentation": [LEFT, RIGHT]},
        {"id": 3, "image_id": 1, "category_id": 9, "segmentation": crowd_rle(), "iscrowd": 1},
    ]
    for ann in anns:
        ann.setdefault("iscrowd", 0)
        ann["bbox"] = [0, 0, 10, 10]
    data = {
        "images": [{"id": i, "file_name": f"{i}.png", "width": W, "height": H} for i in (1, 2, 3)],
        "annotations": anns,
        "categories": [{"id": 5, "name": "cat"}, {"id": 9, "name": "dog"}],
    }
    source = tmp_path / "instances_val.json"
    source.write_text(json.dumps(data))
    out = tmp_path / "root"
    convert([source], out, images=tmp_path / "src")
    return out, source


def pixel(path: Path, x: int, y: int) -> tuple[int, ...]:
    with Image.open(path) as image:
        return image.convert("RGB").getpixel((x, y))


def test_pngs_and_drawn_pixels(root: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, _ = root
    result = preview(dataset, "val", out=tmp_path / "out", n=3, tile=100)
    assert sorted(p.name for p in result.images) == ["1.png", "2.png", "3.png"]
    for path in result.images:
        with Image.open(path) as image:
            assert image.size == (W, H)
    with Image.open(result.mosaic) as image:
        assert image.size == (200, 200)  # 2 x 2 cells of 100 px for three panels
    drawn = tmp_path / "out" / "1.png"
    assert pixel(drawn, 50, 100) != GRAY  # inside the square
    assert pixel(drawn, 20, 90) != GRAY  # on its outline
    assert pixel(drawn, 120, 50) != GRAY and pixel(drawn, 180, 110) != GRAY  # both dog parts
    assert pixel(drawn, 145, 75) == GRAY  # on the bridge between the parts: not drawn
    assert pixel(drawn, 155, 20) == GRAY  # the crowd region has no label row
    assert pixel(tmp_path / "out" / "2.png", 100, 100) == GRAY  # a background image


def test_coco_panel(root: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, source = root
    result = preview(dataset, "val", out=tmp_path / "out", n=3, annotations=source)
    path = tmp_path / "out" / "1.png"
    assert path in result.images
    for drawn in result.images:
        with Image.open(drawn) as image:
            assert image.size == (2 * W + GAP, H)
    right = W + GAP
    assert pixel(path, right + 50, 100) != GRAY  # the source polygon
    assert pixel(path, right + 50, 100) == pixel(path, 50, 100)  # same class colour both sides
    assert pixel(path, right + 145, 75) == GRAY  # no bridge in the source either
    assert pixel(path, right + 155, 20) != GRAY  # the crowd mask is drawn on the right
    assert pixel(path, 155, 20) == GRAY  # ... and absent on the left
    assert pixel(path, W + GAP // 2, H // 2) == (0, 0, 0)  # the gap
    with Image.open(result.mosaic) as image:
        assert image.size == (2 * (2 * 320 + GAP), 2 * 320)


def test_seed_and_count(root: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, _ = root
    first = preview(dataset, out=tmp_path / "a", n=2, seed=7)
    again = preview(dataset, out=tmp_path / "b", n=2, seed=7)
    assert [p.name for p in first.images] == [p.name for p in again.images]
    assert len(preview(dataset, out=tmp_path / "c", n=50).images) == 3


def test_keypoints_and_skeleton() -> None:
    """A pose row: white keypoint dots, the skeleton drawn between visible points only."""
    image = Image.new("RGB", (W, H), GRAY)
    points = np.zeros((17, 3))
    points[:, 2] = 2
    points[:, :2] = [0.5, 0.5]
    points[5] = [0.25, 0.2, 2]  # left shoulder
    points[6] = [0.75, 0.2, 2]  # right shoulder, linked to 5
    points[7] = [0.25, 0.8, 0]  # left elbow, not labelled: no line 5-7
    row = "0 0.5 0.5 0.9 0.9 " + " ".join(f"{v:g}" for v in points.ravel())
    drawn = draw_labels(
        image, row.encode(), {0: "person"}, kpt_shape=(17, 3), skeleton=COCO_SKELETON
    )
    assert drawn.getpixel((50, 30)) == (255, 255, 255)  # keypoint 5 (centre of its dot)
    assert drawn.getpixel((100, 30)) != GRAY  # on the 5-6 line
    assert drawn.getpixel((50, 80)) == GRAY  # where the 5-7 line would be
    assert drawn.getpixel((100, 75)) == (255, 255, 255)  # the other keypoints


def test_boxes_and_unknown_rows() -> None:
    image = Image.new("RGB", (W, H), GRAY)
    drawn = draw_labels(image, b"3 0.5 0.5 0.5 0.5\n1 0.1 0.2 0.3\n", {})
    assert drawn.getpixel((50, 75)) != GRAY  # left edge of the box (x = 0.25 * 200)
    assert drawn.getpixel((100, 75)) == GRAY  # boxes are not filled


def test_obb_rows_are_drawn_as_their_rectangle() -> None:
    image = Image.new("RGB", (W, H), GRAY)
    drawn = draw_labels(image, b"0 0.5 0.1 0.75 0.5 0.5 0.9 0.25 0.5\n", {0: "a"})
    assert drawn.getpixel((100, 75)) not in (GRAY, (255, 56, 56))  # filled, see-through
    assert drawn.getpixel((125, 45)) == (255, 56, 56)  # on the edge from the top corner
    assert drawn.getpixel((60, 20)) == GRAY  # outside the diamond, inside its box


def test_mosaic_layout() -> None:
    panels = [Image.new("RGB", (40, 20), (255, 0, 0)) for _ in range(5)]
    grid = mosaic(panels, (40, 40))
    assert grid.size == (120, 80)  # 3 columns, 2 rows
    assert grid.getpixel((20, 20)) == (255, 0, 0) and grid.getpixel((20, 5)) != (255, 0, 0)


def test_errors(root: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, _ = root
    with pytest.raises(InputError, match=r"no split 'train' \(found val\)"):
        preview(dataset, "train", out=tmp_path / "o")
    with pytest.raises(InputError, match="expected at least one image"):
        preview(dataset, "val", out=tmp_path / "o", n=0)
    (dataset / "images" / "val" / "1.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"1\.png: cannot read the image"):
        preview(dataset, "val", out=tmp_path / "o", n=3)
    bare = tmp_path / "bare"
    (bare / "labels" / "val").mkdir(parents=True)
    with pytest.raises(InputError, match="no images of val on disk; preview draws over"):
        preview(bare, "val", out=tmp_path / "o")


def test_cli(root: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, source = root
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["preview", str(dataset), "-n", "2", "--out", str(out), "--annotations", str(source)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "mosaic.png")
    assert len(list(out.glob("*.png"))) == 3
    failed = runner.invoke(main, ["preview", str(dataset), "--split", "nope", "--out", str(out)])
    assert failed.exit_code == 1 and failed.output.startswith("Error: ")


def test_coco_mini(coco_mini: Path, tmp_path: Path) -> None:
    """Real val2017 images: panel sizes follow each image's own size."""
    source = coco_mini / "annotations" / "instances_val2017.json"
    dataset = tmp_path / "coco"
    convert([source], dataset, images=coco_mini / "images")
    result = preview(dataset, "val2017", out=tmp_path / "out", n=3, annotations=source)
    for path in result.images:
        with Image.open(coco_mini / "images" / "val2017" / f"{path.stem}.jpg") as original:
            width, height = original.size
        with Image.open(path) as image:
            assert image.size == (2 * width + GAP, height)
            left = np.asarray(image)[:, :width]
        with Image.open(dataset / "images" / "val2017" / f"{path.stem}.jpg") as plain:
            changed = (left != np.asarray(plain.convert("RGB"))).any(axis=2).mean()
        assert changed > 0.01  # labels were drawn on real images


def test_a_hole_bridged_into_its_ring_stays_open() -> None:
    from cocoprep.geometry import merge_parts
    from cocoprep.numbers import format_rows

    outer = np.array([[10, 10], [90, 10], [90, 90], [10, 90]], float)
    hole = np.array([[40, 40], [40, 60], [60, 60], [60, 40]], float)
    ring = merge_parts([outer, hole]) / 100
    text, _ = format_rows(np.array([0]), ring.ravel(), np.array([ring.size]), "g")
    blank = Image.new("RGB", (100, 100), (255, 255, 255))
    drawn = np.asarray(draw_labels(blank, text, {0: "thing"}))
    assert tuple(drawn[50, 50]) == (255, 255, 255)  # inside the hole
    assert tuple(drawn[25, 75]) != (255, 255, 255)  # inside the ring, outside the hole

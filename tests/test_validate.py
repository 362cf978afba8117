"""Tests of cocoprep.validate: every defect kind found at its place, clean real data, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoprep import yolo
from cocoprep.checks import coco_annotations as ann_checks
from cocoprep.checks import labels as label_checks
from cocoprep.checks import rings as ring_checks
from cocoprep.checks.coco import validate_coco
from cocoprep.checks.coco_annotations import check_context
from cocoprep.checks.validate import validate
from cocoprep.cli import main
from cocoprep.coco import read_coco
from cocoprep.errors import InputError
from cocoprep.geometry import merge_parts

from builders import coco, image, polygon_annotation, square, write

# By module: the package re-exports some functions under their modules' names.


CATS = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]


def _ann(ann_id, seg, bbox=None, area=None, image_id=1, category_id=1, **extra):
    """A polygon annotation on a 100x100 image; bbox and area from the first part unless given."""
    record = polygon_annotation(ann_id, image_id, category_id, *seg, **extra)
    if bbox is not None:
        record["bbox"] = bbox
    pts = np.array(seg[0], float).reshape(-1, 2) if seg and len(seg[0]) % 2 == 0 else None
    if area is None and pts is not None and len(pts) >= 3:
        x, y = pts[:, 0], pts[:, 1]
        area = abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)) / 2
    record["area"] = float(area or 0)
    return record


def _rle(ann_id, size, counts, bbox, area):
    return {
        "id": ann_id,
        "image_id": 1,
        "category_id": 1,
        "iscrowd": 1,
        "segmentation": {"size": size, "counts": counts},
        "bbox": bbox,
        "area": area,
    }


# Each defective annotation: (annotation id, expected kind). Image 1 is 100 x 100.
GOOD_RLE = [1010, 10, 100 * 100 - 1020]  # column-major: rows 10..19 of column 10


def defective_coco(tmp_path: Path) -> tuple[Path, list[tuple[object, str]]]:
    """A COCO file with every COCO defect kind injected, and where each one is."""
    sq = square(10, 10, 20)
    anns = [
        (_ann(1, [sq]), None),
        (_ann(2, [[10, 10, 30, 10, 30]], bbox=[10, 10, 20, 20], area=400), "odd-coordinates"),
        (_ann(3, [[10, 10, 20, 20]], area=1), "too-few-points"),
        (_ann(5, [[10, 10, 20, 20, 30, 30]]), "zero-area"),
        (_ann(6, [[10, 10, 30, 30, 30, 10, 10, 30]]), "invalid-ring"),
        (_ann(7, [[10, 10, 30, 10, 30, 10, 30, 30, 10, 30]]), "repeated-vertices"),
        (_ann(8, [square(90, 10, 20)], bbox=[90, 10, 9, 20]), "outside-image"),
        (_ann(9, [sq], bbox=[0, 0, 20, 20]), "bbox-mismatch"),
        (_ann(10, [sq], area=900), "area-mismatch"),
        (_rle(11, [50, 50], [2500], [0, 0, 1, 1], 1), "rle-size"),
        (_ann(12, [sq], image_id=99), "unknown-image"),
        (_ann(13, [sq], category_id=7), "unknown-category"),
        (_ann(1, [square(50, 50, 10)]), "duplicate-annotation-id"),
        ({**_ann(14, [sq]), "segmentation": "abc"}, "bad-segmentation"),
        ({**_ann(15, [sq]), "segmentation": [], "bbox": [10, 10, 0, 5]}, "empty-box"),
        ({k: w for k, w in _ann(16, [sq]).items() if k != "bbox"}, "bad-bbox"),
        (_rle(17, [100, 100], [10, 20], [0, 0, 1, 1], 1), "bad-rle"),
        (_ann("z", [sq]), "bad-id"),
        ({"id": 18}, "bad-annotation"),
        (_rle(20, [100, 100], GOOD_RLE, [10, 10, 1, 10], 10), None),
    ]
    images = [
        image(1, 100, 100),
        image(2, 100, 100),
        image(2, 100, 100),
        image(3, 0, 100),
        {**image(5, 100, 100), "id": "x"},
        image(4, 100, 100, file_name="up\\back.jpg"),
    ]
    path = write(tmp_path / "defects.json", coco(images, [a for a, _ in anns], CATS))
    expected = [(i, kind) for i, (_, kind) in enumerate(anns) if kind]
    return path, expected


def test_every_coco_kind_found_at_its_annotation(tmp_path):
    path, expected = defective_coco(tmp_path)
    report = validate(path)
    annotation_findings = {
        (f.index, f.kind) for f in report if f.annotation is not None or f.line is None
    }
    for index, kind in expected:
        assert (index, kind) in annotation_findings, (index, kind)
    # The good annotations (0 and the consistent RLE) are clean.
    assert not [f for f in report if f.index in (0, 19) and f.kind != "duplicate-annotation-id"]
    by_kind = report.by_kind()
    duplicate_ann = [f for f in by_kind["duplicate-annotation-id"] if f.annotation == 1]
    assert duplicate_ann[0].severity == "warning"  # convert keeps both, as validate says
    assert [f.index for f in duplicate_ann] == [12]
    assert "already used at position 0" in duplicate_ann[0].message
    image_findings = {(f.kind, f.image) for f in report if f.annotation is None}
    assert ("duplicate-id", 2) in image_findings
    assert ("bad-image-size", 3) in image_findings
    assert ("bad-image-path", 4) in image_findings
    assert any(f.kind == "bad-id" and f.index == 4 and f.annotation is None for f in report)
    assert not report.ok
    assert report.checked["annotations"] == 20


def test_coco_finding_details(tmp_path):
    path, _ = defective_coco(tmp_path)
    report = validate(path)
    ring = next(f for f in report if f.kind == "invalid-ring" and f.annotation == 6)
    assert ring.severity == "warning" and ring.annotation == 6 and ring.image == 1
    assert "Self-intersection[20 20]" in ring.message
    few = next(f for f in report if f.kind == "too-few-points")
    assert few.severity == "error" and "has 2 points; expected at least 3" in few.message
    outside = [f for f in report if f.kind == "outside-image"]
    assert [f.annotation for f in outside] == [8]
    assert "spans x 90..110" in outside[0].message
    assert f"{path}: annotation 6 (image 1)" == ring.where()


def test_non_finite_and_non_numeric_coordinates_in_memory():
    ctx = _ctx()
    anns = [
        _ann(1, [[10, 10, float("nan"), 10, 30, 30]], bbox=[10, 10, 20, 20], area=1),
        {**_ann(2, [square(10, 10, 5)]), "segmentation": [[10, 10, "a", 10, 30, 30]]},
        _ann(3, [square(10, 10, 5)], bbox=[10, 10, float("inf"), 5]),
    ]
    kinds = {(f.annotation, f.kind) for f in ann_checks.check_annotations(anns, ctx).findings}
    assert kinds == {(1, "non-finite"), (2, "bad-segmentation"), (3, "non-finite")}


def test_missing_categories_is_one_error(tmp_path):
    data = coco([image(1, 100, 100)], [_ann(1, [square(1, 1, 5)])], CATS)
    del data["categories"]
    report = validate(write(tmp_path / "a.json", data))
    assert [f.kind for f in report] == ["bad-categories"]


def test_indented_and_compact_files_give_the_same_findings(tmp_path):
    path, _ = defective_coco(tmp_path)
    data = json.loads(path.read_text())
    pretty = write(tmp_path / "pretty.json", data, indent=2)
    strip = {"file"}

    def key(report):
        return sorted(
            tuple(sorted((k, str(x)) for k, x in vars(f).items() if k not in strip)) for f in report
        )

    assert key(validate(path)) == key(validate(pretty))


def test_parallel_byte_ranges_match_in_process(tmp_path):
    path, _ = defective_coco(tmp_path)
    serial = validate(path)
    assert len(read_coco(path, chunk_bytes=600).annotation_ranges) > 3
    parallel = validate_coco(path, workers=2, chunk_bytes=600, parallel_min_bytes=0)
    assert sorted(map(repr, parallel)) == sorted(map(repr, serial))


def test_unreadable_targets(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="invalid JSON at line 1"):
        validate(tmp_path / "bad.json")
    with pytest.raises(InputError, match="no such file"):
        validate(tmp_path / "missing.json")
    with pytest.raises(InputError, match="no such file or folder"):
        validate(tmp_path / "missing")
    (tmp_path / "x.csv").write_text("")
    with pytest.raises(InputError, match=r"not a \.json, \.yaml or folder"):
        validate(tmp_path / "x.csv")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(InputError, match="not a COCO file"):
        validate(tmp_path / "list.json")


def test_strict_turns_warnings_into_errors(tmp_path):
    data = coco([image(1, 100, 100)], [_ann(1, [square(10, 10, 20)], area=900)], CATS)
    path = write(tmp_path / "a.json", data)
    assert validate(path).ok
    strict = validate(path, strict=True)
    assert not strict.ok and [f.severity for f in strict] == ["error"]


# ------------------------------------------------------------------------------------ YOLO labels

MULTI = merge_parts(
    [np.array([[0.1, 0.6], [0.2, 0.6], [0.2, 0.7]]), np.array([[0.5, 0.6], [0.6, 0.6], [0.6, 0.7]])]
)
POLY = "0 0.1 0.1 0.4 0.1 0.4 0.4 0.1 0.4"
#: Lines of labels/train/b.txt and the kind each one must raise (nc = 3).
B_LINES = [
    (POLY, None),
    ("1 0.5 0.5 0.2 0.2", "mixed-rows"),
    ("0 0.1 0.1 0.4 0.1 0.4", "odd-coordinates"),
    ("5 0.1 0.1 0.4 0.1 0.4 0.4", "class-out-of-range"),
    ("0 0.1 0.1 1.4 0.1 0.4 0.4", "out-of-range"),
    (POLY, "duplicate-row"),
    ("0 0.1 0.1 0.4 0.4 0.4 0.1 0.1 0.4", "invalid-ring"),
    ("0 0.1 0.1", "too-few-points"),
    ("0 0.1 x 0.3 0.1 0.3 0.3", "unparsable"),
    ("1.5 0.1 0.1 0.2 0.2 0.3 0.1", "bad-class"),
    ("0 nan 0.1 0.2 0.2 0.3 0.1", "non-finite"),
    ("0 0.1 0.1 0.2 0.2 0.3 0.3", "zero-area"),
    ("0 0.5 0.5 0.6 0.5 0.6 0.5 0.6 0.6", "repeated-vertices"),
    ("2 " + " ".join(f"{x:g}" for x in MULTI.ravel()), None),
]


def defective_labels(tmp_path: Path) -> Path:
    """ROOT/labels/train with every YOLO defect kind, and ROOT/images/train beside it."""
    labels = tmp_path / "labels" / "train"
    images = tmp_path / "images" / "train"
    labels.mkdir(parents=True)
    images.mkdir(parents=True)
    (labels / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (labels / "b.txt").write_text("".join(line + "\n" for line, _ in B_LINES))
    (labels / "c.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    for name in ("a.jpg", "b.jpg", "d.jpg"):
        (images / name).write_bytes(b"")
    return labels


def test_every_yolo_kind_found_at_its_line(tmp_path):
    labels = defective_labels(tmp_path)
    report = validate(labels, nc=3)
    found = {(Path(f.file).name, f.line, f.kind) for f in report}
    for line, (_, kind) in enumerate(B_LINES, start=1):
        if kind:
            assert ("b.txt", line, kind) in found, (line, kind)
    b_lines = {f.line for f in report if Path(f.file).name == "b.txt"}
    assert 1 not in b_lines and len(B_LINES) not in b_lines  # the good polygon, the multi-part
    assert ("c.txt", None, "label-without-image") in found
    assert ("d.jpg", None, "image-without-label") in found
    assert not [f for f in report if Path(f.file).name == "a.txt"]
    assert report.checked["label files"] == 3


def test_labels_without_nc_or_images_say_so(tmp_path):
    labels = tmp_path / "lbl"
    labels.mkdir()
    (labels / "a.txt").write_text("7 0.5 0.5 0.2 0.2\n")
    report = validate(labels)
    assert report.ok and len(report) == 0
    assert any("class ids unchecked" in note for note in report.notes)
    assert any("pairing unchecked" in note for note in report.notes)


def test_pose_rows_need_kpt_shape_length(tmp_path):
    ctx = label_checks.LabelContext(nc=1, kpt_shape=(2, 3))
    rows = yolo.parse_labels(b"0 0.5 0.5 0.2 0.2 0.1 0.1 2 0.2 0.2 2\n0 0.5 0.5 0.2 0.2\n")
    found = label_checks.check_label_rows(rows, "p.txt", ctx)
    assert [(f.line, f.kind) for f in found] == [(2, "bad-row")]


OBB_LINES = [
    ("0 0.1 0.1 0.4 0.1 0.4 0.4 0.1 0.4", None),
    ("0 0.1 0.1 0.4 0.1 0.4 0.4", "bad-row"),  # three corners
    ("0 0.5 0.5 0.2 0.2", "bad-row"),  # a box
    ("0 0.1 0.1 1.2 0.1 0.4 0.4 0.1 0.4", "out-of-range"),
    ("0 0.1 0.1 0.4 0.1 0.4 0.1 0.1 0.1", "obb-corners"),  # corners 1 and 4 are one point
    ("0 0.1 0.1 0.4 0.1 0.4 0.4 0.1000001 0.1", "obb-corners"),  # the same at 6 decimals
]


def test_obb_rows_are_checked_as_oriented_boxes():
    ctx = label_checks.LabelContext(nc=1, obb=True)
    rows = yolo.parse_labels("".join(line + "\n" for line, _ in OBB_LINES).encode())
    found = label_checks.check_label_rows(rows, "o.txt", ctx)
    expected = [(n, kind) for n, (_, kind) in enumerate(OBB_LINES, start=1) if kind]
    assert sorted((f.line, f.kind) for f in found) == expected


def test_convert_obb_output_has_no_findings(coco_mini, tmp_path):
    from cocoprep.converter import convert

    val = coco_mini / "annotations" / "instances_val2017.json"
    convert([val], tmp_path, task="obb", images=coco_mini / "images" / "val2017")
    labels = tmp_path / "labels" / "val2017"
    assert label_checks.label_context(labels, None)[0].obb
    report = validate([labels, tmp_path / "coco.yaml"])
    assert len(report) == 0, report.format_table()
    (labels / "000000000139.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # a box: no obb row
    assert {f.kind for f in validate(tmp_path / "coco.yaml")} == {"bad-row"}


def test_dataset_yaml(tmp_path):
    labels = defective_labels(tmp_path)
    (tmp_path / "train.txt").write_text(
        "./images/train/a.jpg\n./images/train/b.jpg\n./images/train/gone.jpg\n"
    )
    (tmp_path / "data.yaml").write_text(
        "path: .\ntrain: train.txt\nval: images/train\nnc: 4\nnames: [a, b, c]\n"
    )
    report = validate(tmp_path / "data.yaml")
    kinds = {f.kind for f in report}
    assert {"names-mismatch", "missing-image", "class-out-of-range", "mixed-rows"} <= kinds
    missing = next(f for f in report if f.kind == "missing-image")
    assert missing.image == "./images/train/gone.jpg"
    assert any(f.kind == "label-without-image" and f.file.endswith("c.txt") for f in report)
    assert labels.is_dir()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(1, 3)),
        min_size=1,
        max_size=5,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_bridged_multipart_rings_are_checked_part_by_part(cells):
    # Disjoint squares on a grid (each in its own 0.1-wide cell) bridged into one ring.
    parts = [
        np.array([[x, y], [x + s, y], [x + s, y + s], [x, y + s]], float) / 4 * 0.1
        + [gx / 10, gy / 10]
        for gx, gy, s in cells
        for x, y in [(0.0, 0.0)]
    ]
    ring = np.round(merge_parts(parts), 6)
    text = ("0 " + " ".join(f"{x:g}" for x in ring.ravel()) + "\n").encode()
    ctx = label_checks.LabelContext(nc=1)
    findings = label_checks.check_label_rows(yolo.parse_labels(text), "m.txt", ctx)
    assert findings == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 50), st.floats(0, 50)), min_size=3, max_size=12))
def test_check_rings_area_matches_shapely(points):
    import shapely

    pts = np.array(points, float)
    result = ring_checks.check_rings(pts, np.array([len(pts)]))
    polygon = shapely.Polygon(pts)
    assert result.area[0] == pytest.approx(polygon.area, abs=1e-9)
    assert (result.reasons[0] is None) == polygon.is_valid
    assert result.bounds[0].tolist() == list(polygon.bounds)


# ------------------------------------------------------------------------------------- real data


def test_coco_mini_has_no_errors(coco_mini):
    report = validate(sorted((coco_mini / "annotations").glob("instances_*.json")))
    assert report.ok, report.format_table()
    counts = {kind: len(items) for kind, items in report.by_kind().items()}
    # The warnings real COCO has: repeated vertices, self-intersecting rings, crowd RLE areas.
    assert set(counts) == {"repeated-vertices", "invalid-ring", "area-mismatch"}
    assert counts["invalid-ring"] == 10
    assert report.checked["annotations"] == 624 + 739


def test_convert_output_has_no_errors(coco_mini, tmp_path):
    from cocoprep.converter import convert

    convert(
        [coco_mini / "annotations" / "instances_val2017.json"],
        tmp_path,
        images=coco_mini / "images" / "val2017",
    )
    report = validate([tmp_path / "labels" / "val2017", tmp_path / "coco.yaml"])
    assert report.ok, report.format_table()
    # Convert keeps COCO's own repeated vertices and clips rings at the border, which can
    # make them touch themselves: warnings only.
    assert {f.kind for f in report} <= {"invalid-ring", "repeated-vertices"}
    assert report.checked["label files"] == 2 * 79


# -------------------------------------------------------------------------------------------- CLI


def test_cli_exit_codes_and_table(tmp_path):
    path, _ = defective_coco(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(path), "--max-examples", "1"])
    assert result.exit_code == 1
    assert "too-few-points" in result.output and "… and" in result.output
    assert "errors" in result.output.splitlines()[-1]
    good = write(
        tmp_path / "good.json", coco([image(1, 100, 100)], [_ann(1, [square(1, 1, 9)])], CATS)
    )
    assert runner.invoke(main, ["validate", str(good)]).exit_code == 0


def test_cli_json(tmp_path):
    path, expected = defective_coco(tmp_path)
    result = CliRunner().invoke(
        main, ["validate", str(path), "--format", "json", "--max-examples", "0"]
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False and data["errors"] > 0
    assert {kind for _, kind in expected} <= set(data["kinds"])
    ring = data["kinds"]["invalid-ring"]
    # The bow-tie, and the collinear ring (which is also zero-area).
    assert ring["severity"] == "warning" and ring["count"] == 2
    assert {f["annotation"] for f in ring["findings"]} == {5, 6}


def test_cli_strict_and_bad_input(tmp_path, coco_mini):
    runner = CliRunner()
    target = str(coco_mini / "annotations" / "instances_val2017.json")
    assert runner.invoke(main, ["validate", target]).exit_code == 0
    assert runner.invoke(main, ["validate", target, "--strict"]).exit_code == 1
    result = runner.invoke(main, ["validate", str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    result = runner.invoke(main, ["validate", target, target, "--fix", str(tmp_path / "o.json")])
    assert result.exit_code == 1 and "expected one target with --fix, found 2" in result.output


def test_cli_help_ends_with_examples():
    result = CliRunner().invoke(main, ["validate", "--help"])
    assert result.exit_code == 0
    assert result.output.rstrip().splitlines()[-1].strip().startswith("--fidelity")


# ------------------------------------------------------------------------------------ fast paths


def _ctx() -> object:
    return check_context(
        "mem", np.array([1]), np.array([True]), np.array([100.0]), np.array([100.0]), np.array([1])
    )


def test_regular_and_irregular_annotations_mixed_keep_order_and_checks():
    # Irregular annotations (odd ids, boxes, segmentations) go through a per-annotation loop,
    # regular ones through columns; the findings must not depend on the mix.
    bow_tie = [10, 10, 30, 30, 30, 10, 10, 30]
    anns = [
        {**_ann(1, [square(10, 10, 5)]), "id": "a"},
        _ann(2, [bow_tie]),
        {**_ann(3, [square(10, 10, 5)]), "segmentation": square(10, 10, 5)},  # bare list
        _ann(4, [square(10, 10, 5)]),
        {**_ann(5, [square(10, 10, 5)]), "bbox": [1, 2, "3", 4]},
        {**_ann(6, [square(10, 10, 5)]), "segmentation": [square(10, 10, 5), 7]},
        _ann(7, [bow_tie]),
    ]
    found = [(f.index, f.kind) for f in ann_checks.check_annotations(anns, _ctx()).findings]
    assert found == [
        (0, "bad-id"),
        (4, "bad-bbox"),
        (5, "bad-segmentation"),
        (1, "invalid-ring"),
        (6, "invalid-ring"),
    ]
    alone = [[f.kind for f in ann_checks.check_annotations([a], _ctx()).findings] for a in anns]
    assert alone == [
        ["bad-id"],
        ["invalid-ring"],
        [],
        [],
        ["bad-bbox"],
        ["bad-segmentation"],
        ["invalid-ring"],
    ]


def test_image_id_beyond_64_bits_is_a_finding(tmp_path):
    data = coco([image(1, 100, 100)], [_ann(1, [square(1, 1, 5)])], CATS)
    data["images"].append({**image(2, 100, 100), "id": 2**63 + 5})
    report = validate(write(tmp_path / "a.json", data))
    assert [(f.kind, f.index) for f in report] == [("bad-id", 1)]
    assert "does not fit in 64 bits" in report.findings[0].message


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=3, max_size=8),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_polygons_from_offsets_match_shapely_linearrings(rings):
    import shapely

    # Some rings repeat their first point at the end (already closed), as COCO files may.
    rings = [pts + pts[:1] if close else pts for pts, close in rings]
    points = np.concatenate([np.array(r, float) for r in rings])
    npoints = np.array([len(r) for r in rings])
    expected = shapely.polygons(
        shapely.linearrings(points, indices=np.repeat(np.arange(len(rings)), npoints))
    )
    built = ring_checks._polygons(points, npoints)
    assert shapely.equals_exact(built, expected, tolerance=0).all()
    assert (shapely.get_num_coordinates(built) == shapely.get_num_coordinates(expected)).all()


def test_label_batch_gives_each_files_findings_in_file_order(tmp_path):
    bridged = "0 0.1 0.1 0.3 0.1 0.3 0.3 0.1 0.3 0.1 0.1 0.6 0.6 0.8 0.6 0.8 0.8 0.6 0.6 0.1 0.1"
    texts = [
        "0 0.1 0.1 0.3 0.3 0.3 0.1 0.1 0.3\n1 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n",
        "",
        f"{bridged}\n7 0.1 0.1 0.2 0.2 0.2 0.2 0.1 0.2\n0 1.5 x 0.1\n-1 0.1 0.1 0.2 0.2 0.3\n",
        "0 0.1 0.1 0.1 0.1 0.1 0.1\n0 0.1 0.1 nan 0.1 0.2 0.2\n2 0.5 0.5 0.2\n",
    ]
    files = []
    for k, text in enumerate(texts):
        (tmp_path / f"{k}.txt").write_text(text)
        files.append(str(tmp_path / f"{k}.txt"))
    ctx = label_checks.LabelContext(nc=5)
    one_by_one = [
        f
        for file in files
        for f in label_checks.check_label_rows(yolo.read_labels(file), file, ctx)
    ]
    together = label_checks.check_label_batch(yolo.read_label_batch(files), files, ctx)
    assert together == one_by_one
    assert {f.kind for f in together} >= {
        "invalid-ring", "mixed-rows", "duplicate-row", "class-out-of-range", "repeated-vertices",
        "unparsable", "bad-class", "zero-area", "non-finite", "odd-coordinates",
    }  # fmt: skip
    # The bridged two-square row is checked part by part: no invalid-ring on file 2's line 1.
    assert not [f for f in together if f.file == files[2] and f.line == 1]

"""Tests of cocoprep.repair: repaired outputs validate clean, inputs stay untouched."""

from __future__ import annotations

import importlib
import json
import shutil

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_validate import defective_coco, defective_labels

from cocoprep.checks.validate import validate
from cocoprep.cli import main
from cocoprep.errors import InputError

# By module: the package re-exports some functions under their modules' names.
r = importlib.import_module("cocoprep.checks.repair")


def test_repaired_coco_validates_clean(tmp_path):
    path, _ = defective_coco(tmp_path)
    before = path.read_bytes()
    summary = r.repair(path, tmp_path / "fixed.json")
    assert path.read_bytes() == before
    after = validate(tmp_path / "fixed.json")
    assert len(after) == 0, after.format_table()
    data = json.loads((tmp_path / "fixed.json").read_text())
    ids = [a["id"] for a in data["annotations"]]
    assert len(ids) == len(set(ids))
    assert sorted(im["id"] for im in data["images"]) == [1, 2]
    bow_tie = next(a for a in data["annotations"] if a["id"] == 6)
    assert len(bow_tie["segmentation"]) == 2 and bow_tie["area"] == pytest.approx(200)
    clipped = next(a for a in data["annotations"] if a["id"] == 8)
    assert clipped["bbox"] == [90.0, 10.0, 10.0, 20.0]
    assert summary.counts["annotation ids renumbered"] == 1
    assert summary.counts["annotations dropped (bad id, segmentation or RLE)"] >= 4
    assert "repaired" in summary.format()


def test_repaired_labels_validate_clean(tmp_path):
    labels = defective_labels(tmp_path)
    before = {p.name: p.read_bytes() for p in labels.iterdir()}
    summary = r.repair(labels, tmp_path / "out", nc=3)
    assert {p.name: p.read_bytes() for p in labels.iterdir()} == before
    after = validate(tmp_path / "out", nc=3)
    assert len(after) == 0, after.format_table()
    assert (tmp_path / "out" / "a.txt").read_bytes() == before["a.txt"]  # untouched file copied
    fixed = (tmp_path / "out" / "b.txt").read_text().splitlines()
    assert fixed[0] == "0 0.1 0.1 0.4 0.1 0.4 0.4 0.1 0.4"  # good rows keep their text
    assert fixed[1].startswith("1 ") and len(fixed[1].split()) == 9  # the box became a polygon
    assert summary.counts["box rows turned into polygons"] == 1
    assert summary.counts["duplicate rows dropped"] == 1


def test_repair_box_file_clips_boxes(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text("0 1.05 0.5 0.2 0.2\n0 0.5 0.5 0.1 0.1\n")
    r.repair(labels, in_place=True)
    expected = "0 0.975000 0.500000 0.050000 0.200000\n0 0.5 0.5 0.1 0.1\n"
    assert (labels / "a.txt").read_text() == expected


def test_repair_obb_rows_clips_corners_and_drops_degenerate_ones(tmp_path):
    labels = tmp_path / "labels" / "val"
    labels.mkdir(parents=True)
    (tmp_path / "cocoprep.json").write_text(
        json.dumps({"version": 1, "task": "obb", "classes": [{"id": 1, "name": "a"}]})
    )
    (labels / "a.txt").write_text(
        "0 0.9 0.1 1.1 0.3 0.9 0.5 0.7 0.3\n"  # leaves the image
        "0 0.1 0.1 0.4 0.1 0.4 0.1 0.1 0.1\n"  # two corners the same
        "0 0.1 0.1 0.4 0.1 0.4 0.4 0.1 0.4\n"
    )
    summary = r.repair(labels, in_place=True)
    assert (labels / "a.txt").read_text() == (
        "0 0.9 0.1 1 0.3 0.9 0.5 0.7 0.3\n0 0.1 0.1 0.4 0.1 0.4 0.4 0.1 0.4\n"
    )
    assert summary.counts["obb rows clipped"] == 1
    assert summary.counts["rows dropped"] == 1


def test_repair_rejects_yaml_and_wrong_outputs(tmp_path):
    (tmp_path / "d.yaml").write_text("names: [a]\n")
    with pytest.raises(InputError, match="found a dataset yaml"):
        r.repair(tmp_path / "d.yaml", tmp_path / "o")
    path, _ = defective_coco(tmp_path)
    with pytest.raises(InputError, match="expected a file name for the repaired COCO file"):
        r.repair(path, tmp_path)
    labels = defective_labels(tmp_path / "x")
    with pytest.raises(InputError, match="expected a folder for the repaired labels"):
        r.repair(labels, path)


def test_cli_fix_and_in_place(tmp_path):
    path, _ = defective_coco(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(path), "--fix", str(tmp_path / "f.json")])
    assert result.exit_code == 0, result.output
    assert "after repair:" in result.output and "0 errors, 0 warnings" in result.output
    assert "--fix recomputes it" in result.output  # the library's {fix}, spelled as the flag
    assert "fix= recomputes it" in validate(path).format_table()  # and for a Python caller
    copy = tmp_path / "copy.json"
    shutil.copy(path, copy)
    result = runner.invoke(main, ["validate", str(copy), "--in-place", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["ok"] is False and data["repair"]["validation"]["ok"] is True
    assert copy.read_bytes() == (tmp_path / "f.json").read_bytes()
    both = runner.invoke(main, ["validate", str(copy), "--in-place", "--fix", "x.json"])
    assert both.exit_code == 1 and "expected either --fix or --in-place, found both" in both.output


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(-20, 120), st.floats(-20, 120)), min_size=1, max_size=9),
        min_size=1,
        max_size=3,
    )
)
@example([[(1.0, 0.0), (0.0, 3.0), (0.0, 0.0), (1.4e-231, 0.0), (2.4e-278, 1.0)]])
def test_repair_polygons_gives_valid_rings_inside_the_image(parts):
    rings = r.repair_polygons([np.array(p, float) for p in parts], 100, 80, 1.0)
    for ring in rings:
        polygon = shapely.Polygon(ring)
        assert len(ring) >= 3 and polygon.is_valid and polygon.area >= 1.0
        assert ring.min() >= 0 and ring[:, 0].max() <= 100 and ring[:, 1].max() <= 80
    if rings:
        assert shapely.union_all([shapely.Polygon(x) for x in rings]).area > 0

"""The per-chunk row engine: distinct-point rule, counts, bad fields."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoprep.errors import InputError
from cocoprep.rows import _has_three_distinct

rows_strategy = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.25, 0.5, 0.5000000001, 0.500003, 1.0]),
            st.sampled_from([0.0, 0.5]),
        ),
        max_size=7,
    ),
    min_size=1,
    max_size=12,
)


@given(rows_strategy)
def test_three_distinct_matches_a_set_count(rows):
    points = np.array([p for row in rows for p in row], np.float64).reshape(-1, 2)
    npoints = np.array([len(row) for row in rows])
    # Points equal at output precision (6 decimals) count once.
    expected = [len({(round(x, 6), round(y, 6)) for x, y in row}) >= 3 for row in rows]
    assert _has_three_distinct(points, npoints).tolist() == expected


def test_points_equal_at_output_precision_count_once():
    points = np.array([[0.1, 0.1], [0.1000000001, 0.1], [0.5, 0.5], [0.1, 0.1]])
    assert _has_three_distinct(points, np.array([4])).tolist() == [False]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bbox", [1, 2, 3], r"bbox must be \[x, y, width, height\]"),
        ("bbox", [1, 2, "3", 4], "bbox must hold numbers"),
        ("iscrowd", "yes?", None),
        ("segmentation", "polygon", "segmentation must be polygons or RLE"),
        ("keypoints", [1, 2], None),
    ],
)
def test_bad_fields_name_the_annotation(tmp_path, field, value, message):
    from cocoprep.convert import convert

    from builders import coco, image, polygon_annotation, square, write

    ann = dict(polygon_annotation(7, 1, 1, square(1, 1, 9)), **{field: value})
    source = write(tmp_path / "instances_v.json", coco([image(1)], [ann]))
    task = "pose" if field == "keypoints" else "detect" if field == "bbox" else "segment"
    if message is None:
        convert([source], tmp_path / "out", task=task)  # tolerated: truthy crowd / too few kps
        return
    with pytest.raises(InputError, match=message) as error:
        convert([source], tmp_path / "out", task=task)
    assert "annotation 7" in str(error.value)

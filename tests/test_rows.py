"""The per-chunk row engine: distinct-point rule, counts, bad fields."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoprep import coco, jsonscan
from cocoprep.errors import InputError
from cocoprep.rows import RowContext, _has_three_distinct, annotation_rows

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
        ("keypoints", [1, 2], "keypoints must be x, y, v triples, found 2 numbers"),
        ("keypoints", [1, 2, "v"], "keypoints must be numbers"),
    ],
)
def test_bad_fields_name_the_annotation(tmp_path, field, value, message):
    from cocoprep.converter import convert

    from builders import coco, image, polygon_annotation, square, write

    ann = dict(polygon_annotation(7, 1, 1, square(1, 1, 9)), **{field: value})
    # Pose needs a file with keypoints somewhere: a second annotation has one.
    person = [{"id": 1, "name": "person", "keypoints": ["nose"]}]
    good = dict(polygon_annotation(8, 1, 1, square(1, 1, 9)), keypoints=[5, 5, 2])
    data = coco([image(1)], [ann, good], categories=person)
    source = write(tmp_path / "instances_v.json", data)
    task = "pose" if field == "keypoints" else "detect" if field == "bbox" else "segment"
    if message is None:
        convert([source], tmp_path / "out", task=task)  # tolerated: a truthy crowd flag
        return
    with pytest.raises(InputError, match=message) as error:
        convert([source], tmp_path / "out", task=task)
    assert "annotation 7" in str(error.value)


def _context(widths: list[float], heights: list[float], task: str = "segment") -> RowContext:
    n = len(widths)
    return RowContext(
        source="test.json",
        task=task,
        keep_crowd=True,
        sorted_image_ids=np.arange(1, n + 1),
        image_order=np.arange(n),
        widths=np.array(widths, float),
        heights=np.array(heights, float),
        sorted_category_ids=np.array([1, 3]),
        category_class=np.array([0, 1]),
    )


def _objects(annotations: list[dict], tmp_path) -> object:
    """The annotations as convert's fast path sees them: a lazy simdjson array of objects."""
    path = tmp_path / "chunk.json"
    path.write_bytes(json.dumps(annotations)[1:-1].encode())
    return jsonscan.parse_objects(path, 0, path.stat().st_size)


def _annotation(ann_id: int, image_id: int, segmentation, **extra) -> dict:
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1 + 2 * (ann_id % 2),
        "iscrowd": 0,
        "segmentation": segmentation,
        "bbox": [2, 3, 40, 30],
        **extra,
    }


ODD_OUTLINES = [
    [[10, 10, 60, 10, 60, 50, 10, 50]],  # one polygon
    [[10, 10, 30, 10, 30, 30], [50, 50, 70, 50, 70, 70]],  # two parts
    [[1, 1, 9, 1, 9, 9], [20, 1, 29, 1, 29, 9], [1, 20, 9, 20, 9, 29.5]],  # three parts
    [10, 10, 60, 10, 60, 50],  # a bare coordinate list
    [[5, 5, 5, 5, 5, 5]],  # degenerate: replaced by the box
    [],  # no outline: the box
    {"counts": [12, 3, 9, 3, 9, 3, 61], "size": [10, 10]},  # uncompressed RLE
]


def test_simdjson_objects_and_dicts_give_the_same_rows(tmp_path):
    annotations = [
        _annotation(k + 1, 1 + k % 2, outline, iscrowd=int(isinstance(outline, dict)))
        for k, outline in enumerate(ODD_OUTLINES)
    ]
    ctx = _context([10.0, 10.0], [10.0, 10.0])
    from_dicts = annotation_rows(annotations, ctx)
    from_objects = annotation_rows(_objects(annotations, tmp_path), ctx)
    assert from_objects.text == from_dicts.text and from_dicts.text
    assert from_objects.image_index.tolist() == from_dicts.image_index.tolist()
    assert from_objects.counts == from_dicts.counts
    assert from_dicts.counts["multipart_merged"] == 2
    assert from_dicts.counts["rle_converted"] == 1


@pytest.mark.parametrize(
    ("segmentation", "message"),
    [
        ([[1, 2, 3, "4", 5, 6]], "segmentation coordinates must be numbers"),
        ([[[1, 2], [3, 4], [5, 6]]], "segmentation coordinates must be numbers"),
        ([[1, 2, 3, 4, 5]], "needs an even number of coordinates, found 5"),
        ([[1, 2, 3, 4, 5, 6], [1, "x", 3, 4, 5, 6]], "polygons must hold numbers"),
        ("polygon", "must be polygons or RLE, found str"),
    ],
)
@pytest.mark.parametrize("task", ["segment", "obb"])
def test_bad_outlines_are_named_on_both_paths(tmp_path, segmentation, message, task):
    annotations = [_annotation(7, 1, segmentation)]
    ctx = _context([100.0], [100.0], task)
    for chunk in (annotations, _objects(annotations, tmp_path)):
        with pytest.raises(InputError, match=message) as error:
            annotation_rows(chunk, ctx)
        assert "annotation 7" in str(error.value)


@pytest.mark.parametrize(
    "text",
    [
        b'{"id": 1, "image_id": 123456789012345678901234567890}',  # beyond 64 bits
        b'{"id": 1, "bbox": [1e400, 0, 1, 1]}',  # beyond a double
        b'{"id": 1},, {"id": 2}',  # invalid JSON
        b"1, 2",  # not objects
    ],
)
def test_chunks_simdjson_cannot_read_ask_for_the_whole_file(tmp_path, text):
    path = tmp_path / "chunk.json"
    path.write_bytes(text)
    with pytest.raises(coco.LayoutError):
        jsonscan.parse_objects(path, 0, len(text))


@pytest.mark.parametrize(
    "ids",
    [
        [7, 3, 12, 5],  # dense: looked up in a table
        [7, 3, 2**40, -5],  # sparse and negative: binary search
    ],
)
def test_image_positions_by_table_and_by_search(ids):
    ids = np.array(ids, np.int64)
    order = np.argsort(ids, kind="stable")
    ctx = dataclasses.replace(
        _context([1.0] * len(ids), [1.0] * len(ids)),
        sorted_image_ids=ids[order],
        image_order=order,
    )
    query = np.concatenate([ids, [4, 2**41, -1, 0]])
    assert ctx.image_positions(query).tolist() == [0, 1, 2, 3, -1, -1, -1, -1]


def test_the_error_names_the_first_bad_annotation_in_the_file(tmp_path):
    # Rows are built image by image; an error still names the chunk's first bad annotation.
    bad_later_image = dict(_annotation(10, 2, [[1, 1, 5, 1, 5, 5]]), bbox=[1, 1, "x", 2])
    bad_earlier_image = dict(_annotation(11, 1, [[1, 1, 5, 1, 5, 5]]), bbox=[1, 1])
    objects = _objects([bad_later_image, bad_earlier_image], tmp_path)
    with pytest.raises(InputError, match="annotation 10: bbox must hold numbers"):
        annotation_rows(objects, _context([10.0, 10.0], [10.0, 10.0], task="detect"))

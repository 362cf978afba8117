"""Cutting a file's annotations array into element-aligned byte ranges."""

from __future__ import annotations

import itertools
import json
import mmap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoprep import jsonscan

_ELEMENTS = st.lists(
    st.fixed_dictionaries(
        {"id": st.integers(0, 10**6), "bbox": st.lists(st.floats(0, 1e4), max_size=4)}
    ),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(_ELEMENTS, st.integers(1, 300), st.sampled_from([",", ", ", ",\n  "]))
def test_split_array_ranges_hold_every_element_once(elements, target, separator):
    text = ("[" + separator.join(json.dumps(e) for e in elements) + "]").encode()
    data = b'{"annotations": ' + text + b"}"
    start = data.index(b"[")
    ranges = jsonscan.split_array(data, start, start + len(text), target)
    parsed = [x for s, end in ranges for x in json.loads(b"[" + data[s:end] + b"]")]
    assert parsed == elements
    # Each cut is the first gap between elements after a multiple of the target.
    for (_, end), (begin, _) in itertools.pairwise(ranges):
        assert data[end - 1 : end] == b"}" and data[begin : begin + 1] == b"{"
        multiple = start + 1 + (end - 1 - start - 1) // target * target
        assert jsonscan._ELEMENT_GAP.search(data, multiple).start() == end - 1


def test_prefetch_cuts_on_a_mapped_file(tmp_path):
    elements = [{"id": i, "bbox": [i, i, 1, 1]} for i in range(20_000)]
    path = tmp_path / "instances_x.json"
    path.write_text(json.dumps({"annotations": elements}))
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        start, end = buf.find(b"["), buf.rfind(b"]") + 1
        jsonscan.prefetch_cuts(buf, start, end, 1 << 12)
        ranges = jsonscan.split_array(buf, start, end, 1 << 12)
    data = path.read_bytes()
    assert len(ranges) > 100
    assert [x for s, end in ranges for x in json.loads(b"[" + data[s:end] + b"]")] == elements


def _mapped_file_kb() -> int | None:
    """This process's resident pages mapped from files (Linux), in kB."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("RssFile:"))
    except (OSError, StopIteration):
        return None


def test_unmap_drops_the_pages_this_process_mapped(tmp_path):
    if _mapped_file_kb() is None:
        pytest.skip("no RssFile in /proc/self/status (not Linux)")
    path = tmp_path / "big.json"
    path.write_bytes(bytes(range(256)) * (32 << 12))  # 32 MB
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        before = _mapped_file_kb()
        total = sum(buf[i] for i in range(0, len(buf), mmap.PAGESIZE))  # map every page
        assert _mapped_file_kb() - before > 30 << 10
        jsonscan.unmap(buf, 0, len(buf) // 2)
        assert _mapped_file_kb() - before < 20 << 10
        jsonscan.unmap(buf)
        assert _mapped_file_kb() - before < 4 << 10
        assert sum(buf[i] for i in range(0, len(buf), mmap.PAGESIZE)) == total  # read again
    jsonscan.unmap(b"bytes are left alone")


_NAMES = st.text(st.characters(categories=("L", "N"), include_characters="-_ é日"), min_size=1)


@st.composite
def _coco_texts(draw) -> tuple[bytes, bool]:
    """A COCO file as text with odd key order, whitespace, unicode and nested look-alike keys;
    and whether it holds look-alikes."""
    n = draw(st.integers(0, 6))
    images = [
        {"id": i + 1, "width": 64, "height": 48, "file_name": f"{draw(_NAMES)}{i}.jpg"}
        for i in range(n)
    ]
    annotations = [
        {"id": k, "image_id": draw(st.integers(1, n)), "category_id": 1, "bbox": [1, 2, 3, 4]}
        for k in range(draw(st.integers(0, 8)) if n else 0)
    ]
    top = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": draw(_NAMES)}],
    }
    nested = draw(st.booleans())
    if nested:  # arrays under the same names, one level down
        top["info"] = {"images": [{"id": 99}], "annotations": [], "categories": [{"id": 7}]}
        top["extra"] = {"categories": [{"id": 8, "name": "x"}], "annotations": [{"id": 5}]}
    else:
        top["info"] = {"description": draw(_NAMES)}
    keys = draw(st.permutations(list(top)))
    data = {key: top[key] for key in keys}
    indent = draw(st.sampled_from([None, 1, 2, "\t"]))
    ascii_only = draw(st.booleans())
    return json.dumps(data, indent=indent, ensure_ascii=ascii_only).encode(), nested


@settings(max_examples=60, deadline=None)
@given(_coco_texts())
def test_the_byte_search_reader_agrees_with_the_full_parse(tmp_path_factory, case):
    from cocoprep import coco

    text, nested = case
    path = tmp_path_factory.mktemp("scan") / "instances_val.json"
    path.write_bytes(text)
    streamed = coco.open_coco(path, "val", chunk_bytes=64)
    whole = coco.open_whole(path, "val")
    assert streamed.images.ids.tolist() == whole.images.ids.tolist()
    assert list(streamed.images.paths) == list(whole.images.paths)
    assert streamed.categories == whole.categories
    if streamed.annotation_ranges is None:
        annotations = streamed.annotations
    else:
        ranges = streamed.annotation_ranges
        annotations = [a for s, e in ranges for a in jsonscan.parse_file_range(path, s, e)]
    assert annotations == whole.annotations
    if not nested:
        assert streamed.annotation_ranges is not None  # no fallback where none is needed

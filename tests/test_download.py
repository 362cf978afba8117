"""Tests for cocoprep.remote (fetch, plan, subset, download): a real server with faults."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from click.testing import CliRunner

from cocoprep.cli import main
from cocoprep.edits.subset import select_images
from cocoprep.errors import (
    ChecksumError,
    DownloadError,
    InputError,
    InsufficientSpaceError,
    OutputError,
    UnsafeArchiveError,
)
from cocoprep.remote import fetch, plan, ranges, zipindex
from cocoprep.remote.catalog import parse_catalog
from cocoprep.remote.connections import Tuning
from cocoprep.remote.download import download
from cocoprep.remote.http import RetryPolicy

from httpfixtures import FaultServer, fake_jpeg, make_zip

FAST = RetryPolicy(retries=3, backoff=0.01, timeout=0.5)
BLOB = bytes((i * 7) % 256 for i in range(3 << 20))
BLOB_MD5 = hashlib.md5(BLOB).hexdigest()


@pytest.fixture
def server():
    with FaultServer() as running:
        running.serve("blob.bin", BLOB)
        yield running


def _fetch(server, dest, **kwargs):
    kwargs.setdefault("policy", FAST)
    return fetch.fetch(server.url + "blob.bin", dest, known_hash=BLOB_MD5, **kwargs)


# --------------------------------------------------------------------------- fetch


def test_connection_cut_mid_body_resumes_with_range(server, tmp_path):
    server.fail("blob.bin", "cut")
    result = _fetch(server, tmp_path / "blob.bin", size=len(BLOB))
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert not (tmp_path / "blob.bin.part").exists()
    ranges = [entry[2] for entry in server.gets("blob.bin")]
    assert ranges == [None, f"bytes={len(BLOB) // 2}-"]
    assert result.size == len(BLOB)


def test_part_left_by_an_earlier_run_is_hashed_once_and_resumed(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(BLOB[:1000])
    result = _fetch(server, tmp_path / "blob.bin")
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert [entry[2] for entry in server.gets("blob.bin")] == ["bytes=1000-"]
    assert (result.resumed_from, result.transferred) == (1000, len(BLOB) - 1000)


def test_server_without_range_support_restarts_from_zero(server, tmp_path):
    server.ranges = False
    (tmp_path / "blob.bin.part").write_bytes(BLOB[:1000])
    _fetch(server, tmp_path / "blob.bin")
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_part_longer_than_the_file_starts_over(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(BLOB + b"junk")
    _fetch(server, tmp_path / "blob.bin", size=len(BLOB))
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert [entry[2] for entry in server.gets("blob.bin")] == [None]


def test_complete_part_answered_416_is_kept(server, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(BLOB)
    _fetch(server, tmp_path / "blob.bin")
    assert [entry[2] for entry in server.gets("blob.bin")] == [f"bytes={len(BLOB)}-"]
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_unwritable_part_is_a_clear_error(server, tmp_path):
    (tmp_path / "blob.bin.part").mkdir()
    with pytest.raises(OutputError, match=r"blob.bin.part: expected to write the download"):
        _fetch(server, tmp_path / "blob.bin")


def test_corrupt_bytes_are_refetched_once(server, tmp_path):
    server.fail("blob.bin", "corrupt")
    _fetch(server, tmp_path / "blob.bin")
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert len(server.gets("blob.bin")) == 2


def test_corrupt_twice_fails_clearly_and_leaves_nothing(server, tmp_path):
    server.fail("blob.bin", "corrupt", "corrupt")
    with pytest.raises(
        ChecksumError, match=rf"blob.bin: expected MD5 {BLOB_MD5}, found .*two tries"
    ):
        _fetch(server, tmp_path / "blob.bin")
    assert list(tmp_path.iterdir()) == []


def test_wrong_announced_size_is_a_checksum_error(server, tmp_path):
    with pytest.raises(ChecksumError, match=r"expected 10 bytes, the server announces 3145728"):
        _fetch(server, tmp_path / "blob.bin", size=10)


def test_503_twice_then_success(server, tmp_path):
    server.fail("blob.bin", "503", "503")
    _fetch(server, tmp_path / "blob.bin")
    assert [entry[3] for entry in server.gets("blob.bin")] == [503, 503, 200]
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_persistent_5xx_gives_up_after_the_retries(server, tmp_path):
    server.fail("blob.bin", *["500"] * 10)
    with pytest.raises(DownloadError, match=r"blob.bin: gave up after 4 attempts, .*HTTP 500"):
        _fetch(server, tmp_path / "blob.bin")
    assert len(server.gets("blob.bin")) == 4


@pytest.mark.parametrize(("fault", "code"), [("403", 403), (None, 404)])
def test_403_and_404_fail_at_once_naming_the_url(server, tmp_path, fault, code):
    path = "blob.bin" if fault else "missing.zip"
    if fault:
        server.fail(path, fault)
    with pytest.raises(
        DownloadError, match=rf"{server.url}{path}: expected the file, found HTTP {code}"
    ):
        fetch.fetch(server.url + path, tmp_path / "x", policy=FAST)
    assert len(server.gets(path)) == 1


def test_stalled_server_times_out_and_retries(server, tmp_path):
    server.fail("blob.bin", "stall")
    started = time.monotonic()
    _fetch(server, tmp_path / "blob.bin", policy=RetryPolicy(backoff=0.01, timeout=0.3))
    assert time.monotonic() - started < 1.5
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert len(server.gets("blob.bin")) == 2


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(ranges, "PIECE_BYTES", 256 << 10)  # BLOB is 12 pieces
    monkeypatch.setattr(ranges, "CHUNK_SIZE", 64 << 10)


def test_parallel_pieces_with_a_cut_one(server, tmp_path, small_pieces):
    server.fail("blob.bin", "cut")
    seen = []
    _fetch(server, tmp_path / "blob.bin", connections=4, size=len(BLOB), on_bytes=seen.append)
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    ranges = [entry[2] for entry in server.gets("blob.bin")]
    assert len(ranges) == 13 and "bytes=0-262143" in ranges
    assert sum(seen) == len(BLOB)
    assert not (tmp_path / "blob.bin.part.ranges").exists()


def test_parallel_pieces_resume_from_the_saved_state(server, tmp_path, small_pieces):
    server.fail("blob.bin", *["503"] * 8)
    policy = RetryPolicy(retries=0, backoff=0.01)
    with pytest.raises(DownloadError, match="gave up after 1 attempts, last error: HTTP 503"):
        _fetch(server, tmp_path / "blob.bin", connections=4, policy=policy)
    state_path = tmp_path / "blob.bin.part.ranges"
    state = json.loads(state_path.read_text())
    assert (state["size"], state["piece"]) == (len(BLOB), 256 << 10)
    # As if a killed run had finished pieces 0-4 and 7.
    done = [0, 1, 2, 3, 4, 7]
    with open(tmp_path / "blob.bin.part", "r+b") as part:
        for index in done:
            part.seek(index * state["piece"])
            part.write(BLOB[index * state["piece"] : (index + 1) * state["piece"]])
    state_path.write_text(json.dumps({**state, "done": done}))
    server.faults.clear()
    server.log.clear()
    result = _fetch(server, tmp_path / "blob.bin", connections=1)  # the saved pieces still rule
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert [e for e in server.log if e[0] == "HEAD"] == []
    starts = sorted(
        int(e[2].split("=")[1].split("-")[0]) // state["piece"] for e in server.log if e[0] == "GET"
    )
    assert starts == [5, 6, 8, 9, 10, 11]
    assert result.size == len(BLOB)


def test_parallel_corrupt_piece_fails_the_hash_then_refetches(server, tmp_path, small_pieces):
    server.fail("blob.bin", "corrupt")
    _fetch(server, tmp_path / "blob.bin", connections=3)
    assert (tmp_path / "blob.bin").read_bytes() == BLOB
    assert len(server.gets("blob.bin")) == 24


def test_single_stream_part_is_resumed_even_with_connections(server, tmp_path, small_pieces):
    (tmp_path / "blob.bin.part").write_bytes(BLOB[:1000])
    _fetch(server, tmp_path / "blob.bin", connections=4)
    assert [entry[2] for entry in server.gets("blob.bin")] == ["bytes=1000-"]
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_parallel_falls_back_to_one_stream_without_ranges(server, tmp_path, small_pieces):
    server.fail("blob.bin", *["norange"] * 4)
    _fetch(server, tmp_path / "blob.bin", connections=4)
    assert (tmp_path / "blob.bin").read_bytes() == BLOB


def test_local_mirror_file_url(tmp_path):
    source = tmp_path / "mirror" / "blob.bin"
    source.parent.mkdir()
    source.write_bytes(BLOB)
    (tmp_path / "out.part").write_bytes(BLOB[:5])
    result = fetch.fetch(source.as_uri(), tmp_path / "out", known_hash=BLOB_MD5, size=len(BLOB))
    assert (tmp_path / "out").read_bytes() == BLOB and result.resumed_from == 5
    with pytest.raises(DownloadError, match=r"nope.bin: expected the file in the local mirror"):
        fetch.fetch((tmp_path / "nope.bin").as_uri(), tmp_path / "n")


def test_resolve_base_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(plan.MIRROR_ENV, "http://env.lan/coco")
    assert plan.resolve_base("http://images.cocodataset.org/") == "http://env.lan/coco/"
    assert plan.resolve_base("x", mirror="https://m.lan/") == "https://m.lan/"
    assert plan.resolve_base("x", mirror=str(tmp_path)) == tmp_path.as_uri() + "/"
    monkeypatch.delenv(plan.MIRROR_ENV)
    assert plan.resolve_base("http://data.lan/d/", tls=True) == "https://data.lan/d/"


# --------------------------------------------------------------------------- whole downloads

CATEGORIES = [{"id": 1, "name": "person"}, {"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}]
# image id -> categories shown
SHOWN = {1: [1], 2: [1, 18], 3: [18], 4: [17], 5: [1, 18, 17], 6: [17, 17], 7: [1], 8: [18]}


def _coco(split: str) -> dict:
    images = [
        {
            "id": i,
            "file_name": f"{i:012d}.jpg",
            "coco_url": f"http://images.cocodataset.org/{split}/{i:012d}.jpg",
            "width": 64,
            "height": 48,
        }
        for i in SHOWN
    ]
    annotations = [
        {"id": 100 * i + k, "image_id": i, "category_id": c, "bbox": [1, 2, 3, 4], "area": 12}
        for i, cats in SHOWN.items()
        for k, c in enumerate(cats)
    ]
    return {"info": {}, "images": images, "annotations": annotations, "categories": CATEGORIES}


@pytest.fixture
def site(server, tmp_path):
    """A COCO-like site on the server: a val split zip, an annotations zip, single images."""
    split = "val2017"
    images = {f"{i:012d}.jpg": fake_jpeg(i, 5000 + i) for i in SHOWN}
    for name, data in images.items():
        server.serve(f"{split}/{name}", data)
    image_zip = make_zip({f"{split}/{n}": d for n, d in images.items()})
    ann_zip = make_zip(
        {f"annotations/instances_{split}.json": json.dumps(_coco(split)).encode()}, compress=True
    )
    server.serve("zips/val2017.zip", image_zip)
    server.serve("annotations/ann.zip", ann_zip)
    server.serve("annotations/evil.zip", make_zip({"annotations/../../escape.txt": b"x"}))
    entries = [
        {
            "name": "val2017",
            "path": "zips/val2017.zip",
            "md5": hashlib.md5(image_zip).hexdigest(),
            "bytes": len(image_zip),
            "kind": "images",
            "split": split,
        },
        {
            "name": "ann",
            "path": "annotations/ann.zip",
            "md5": hashlib.md5(ann_zip).hexdigest(),
            "kind": "annotations",
            "default": True,
        },
        {
            "name": "evil",
            "path": "annotations/evil.zip",
            "md5": hashlib.md5(server.files["/annotations/evil.zip"]).hexdigest(),
            "kind": "annotations",
        },
    ]
    catalog_file = tmp_path / "catalog.yaml"
    catalog_file.write_text(json.dumps({"base_url": server.url, "archives": entries}))
    return {
        "server": server,
        "images": images,
        "catalog": parse_catalog(json.loads(catalog_file.read_text())),
        "catalog_file": catalog_file,
        "root": tmp_path / "coco",
    }


def _get(site, **kwargs):
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 1.0)
    return download(root=site["root"], catalog=site["catalog"], **kwargs)


def test_download_extracts_into_the_ultralytics_layout_and_skips_on_rerun(site):
    root, server = site["root"], site["server"]
    summary = _get(site, splits=["val2017"])
    folder = root / "images" / "val2017"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == site["images"]
    coco = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    assert len(coco["images"]) == 8
    assert not list((root / "downloads").iterdir())  # archives deleted after extraction
    assert (root / ".cocoprep" / "val2017.done").is_file()
    assert {o.name: o.action for o in summary.archives} == {
        "val2017": "downloaded",
        "ann": "downloaded",
    }
    assert "done in" in summary.format()
    server.log.clear()
    again = _get(site, splits=["val2017"])
    assert server.log == []
    assert {o.action for o in again.archives} == {"skipped (already extracted)"}


def test_server_without_range_support_gets_one_stream_then_extraction(site):
    site["server"].ranges = False
    summary = _get(site, splits=["val2017"], default_annotations=False)
    folder = site["root"] / "images" / "val2017"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == site["images"]
    assert [entry[2] for entry in site["server"].gets("zips/val2017.zip")][-1] is None
    assert summary.archives[0].written == 8
    assert (site["root"] / ".cocoprep" / "val2017.done").is_file()


def test_server_that_stops_answering_ranges_mid_way_gets_one_stream(site, monkeypatch, caplog):
    monkeypatch.setattr(zipindex, "TAIL_BYTES", 4 << 10)  # most bytes come over the pool
    server = site["server"]
    server.fail("zips/val2017.zip", "ok", "ok", *["norange"] * 10)  # the end, one range, then…
    tuning = Tuning(connections=1, piece_min=8 << 10, piece_max=8 << 10, chunk=4 << 10)
    summary = _get(site, splits=["val2017"], default_annotations=False, tuning=tuning)
    folder = site["root"] / "images" / "val2017"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == site["images"]
    ranges_asked = [entry[2] for entry in server.gets("zips/val2017.zip")]
    assert ranges_asked[0] is not None and ranges_asked[-1] is None  # at last: one stream
    assert summary.archives[0].action == "downloaded"
    assert (site["root"] / ".cocoprep" / "val2017.done").is_file()
    assert not list((site["root"] / "downloads").iterdir())
    assert "stopped answering byte ranges" in caplog.text


def test_keep_archives_and_listing(site):
    _get(site, splits=["val2017"], keep_archives=True, default_annotations=False)
    root = site["root"]
    assert (root / "downloads" / "val2017.zip").is_file()
    listing = {e.name: e.state for e in plan.list_catalog(site["catalog"], root=root)}
    assert listing == {"val2017": "extracted, archive kept", "ann": "-", "evil": "-"}
    (root / "downloads" / "ann.zip.part").write_bytes(b"x" * 2048)
    assert plan.list_catalog(site["catalog"], root=root)[1].state == "partial 2.0 KiB"
    assert "extracted, archive kept" in plan.format_catalog(
        plan.list_catalog(site["catalog"], root=root)
    )


def test_dry_run_plans_without_network_or_writes(site):
    summary = _get(site, splits=["val2017"], dry_run=True)
    assert site["server"].log == []
    assert not site["root"].exists()
    text = summary.format()
    assert "download val2017" in text and "zips/val2017.zip" in text and "disk: needs" in text


def test_disk_space_check_fails_clearly(site, monkeypatch):
    monkeypatch.setattr(plan, "_free_bytes", lambda root: 1000)
    with pytest.raises(
        InsufficientSpaceError,
        match=r"expected at least .* free for val2017, ann .*found 1000 B",
    ):
        _get(site, splits=["val2017"])
    assert [entry[0] for entry in site["server"].log] == ["HEAD"]  # ann's size is unpublished


def test_unsafe_archive_is_refused_and_nothing_escapes(site):
    with pytest.raises(UnsafeArchiveError, match=r"evil.zip: member .* contains '..'"):
        _get(site, annotations=["evil"])
    root = site["root"]
    assert not (root.parent / "escape.txt").exists() and not (root / "escape.txt").exists()
    assert not (root / "annotations").exists()


def test_local_directory_mirror_via_the_environment(site, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    for path, data in site["server"].files.items():
        (mirror / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (mirror / path.lstrip("/")).write_bytes(data)
    monkeypatch.setenv(plan.MIRROR_ENV, str(mirror))
    _get(site, splits=["val2017"])
    assert site["server"].log == []
    assert len(list((site["root"] / "images" / "val2017").iterdir())) == 8


def _mirror(site, tmp_path):
    mirror = tmp_path / "mirror"
    for path, data in site["server"].files.items():
        (mirror / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (mirror / path.lstrip("/")).write_bytes(data)
    return mirror


@pytest.mark.parametrize("as_url", [False, True], ids=["directory", "file-url"])
def test_local_mirror_is_extracted_in_place_without_a_copy(site, tmp_path, as_url):
    mirror = _mirror(site, tmp_path)
    base = mirror.as_uri() + "/" if as_url else str(mirror)
    summary = _get(site, splits=["val2017"], mirror=base, default_annotations=False)
    folder = site["root"] / "images" / "val2017"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == site["images"]
    downloads = site["root"] / "downloads"
    assert not downloads.exists() or not list(downloads.iterdir())  # no copy, no part
    assert (mirror / "zips" / "val2017.zip").read_bytes() == site["server"].files[
        "/zips/val2017.zip"
    ]
    assert [o.kept for o in summary.archives] == [False]
    assert (site["root"] / ".cocoprep" / "val2017.done").is_file()


def test_local_mirror_with_another_archive_fails_its_md5_and_is_left_alone(site, tmp_path):
    mirror = _mirror(site, tmp_path)
    other = make_zip({"val2017/000000000001.jpg": b"other bytes"})
    (mirror / "zips" / "val2017.zip").write_bytes(other)
    expected = r"expected MD5 .*; the mirror.s file is another archive \(left as it is\)"
    with pytest.raises(ChecksumError, match=expected):
        _get(site, splits=["val2017"], mirror=str(mirror), default_annotations=False)
    assert (mirror / "zips" / "val2017.zip").read_bytes() == other
    assert not (site["root"] / ".cocoprep" / "val2017.done").exists()


def test_subset_picks_all_classes_first_and_survives_flaky_images(site):
    server, root = site["server"], site["root"]
    for i in (2, 3):
        server.fail(f"val2017/{i:012d}.jpg", "503", "cut")
    summary = _get(site, splits=["val2017"], classes=["person", "dog"], max_images=4, seed=3)
    subset = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    ids = [image["id"] for image in subset["images"]]
    assert {2, 5} <= set(ids) and len(ids) == 4  # both images showing person and dog first
    assert all(a["category_id"] in (1, 18) and a["image_id"] in ids for a in subset["annotations"])
    assert subset["categories"] == CATEGORIES
    folder = root / "images" / "val2017"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{i:012d}.jpg" for i in ids)
    assert all(
        (folder / f"{i:012d}.jpg").read_bytes() == site["images"][f"{i:012d}.jpg"] for i in ids
    )
    full = json.loads((root / "annotations" / "instances_val2017.full.json").read_text())
    assert len(full["images"]) == 8
    assert summary.subsets[0].selected == 4
    assert not server.gets("zips/val2017.zip")
    # Same seed again: nothing fetched; a whole split afterwards restores the full annotations.
    server.log.clear()
    _get(site, splits=["val2017"], classes=["person", "dog"], max_images=4, seed=3)
    assert server.log == []
    _get(site, splits=["val2017"])
    restored = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    assert len(restored["images"]) == 8


def test_subset_reports_images_that_keep_failing(site):
    site["server"].fail("val2017/000000000003.jpg", *["503"] * 10)
    with pytest.raises(DownloadError, match=r"000000000003.jpg: gave up after"):
        _get(site, splits=["val2017"], classes=["dog"], retries=1)
    root = site["root"]
    assert not (root / "annotations" / "instances_val2017.full.json").exists()
    assert (
        len(json.loads((root / "annotations" / "instances_val2017.json").read_text())["images"])
        == 8
    )


def test_subset_input_errors(site):
    with pytest.raises(
        InputError, match=r"classes horse: expected category names .*cat, dog, person"
    ):
        _get(site, splits=["val2017"], classes=["horse"])
    with pytest.raises(InputError, match=r"expected a split"):
        _get(site, classes=["dog"])
    with pytest.raises(
        InputError, match=r"instances_val2017.json: expected the val2017 annotations"
    ):
        download(
            ["val2017"],
            root=site["root"] / "other",
            catalog=site["catalog"],
            default_annotations=False,
            classes=["dog"],
        )


def test_select_images_tiers_and_seed():
    coco = _coco("val2017")
    both = select_images(coco, [1, 18])
    assert set(both[:2]) == {2, 5} and set(both) == {1, 2, 3, 5, 7, 8}
    assert select_images(coco, [1, 18], seed=1, max_images=3) == select_images(
        coco, [1, 18], seed=1, max_images=3
    )


def test_subset_on_real_coco_mini(coco_mini, server, tmp_path):
    split = "val2017"
    source = coco_mini / "annotations" / f"instances_{split}.json"
    ann_zip = make_zip({f"annotations/instances_{split}.json": source.read_bytes()}, compress=True)
    server.serve("annotations/a.zip", ann_zip)
    for image in (coco_mini / "images" / split).iterdir():
        server.serve(f"{split}/{image.name}", image.read_bytes())
    catalog = parse_catalog(
        {
            "base_url": server.url,
            "archives": [
                {
                    "name": "a",
                    "path": "annotations/a.zip",
                    "md5": hashlib.md5(ann_zip).hexdigest(),
                    "kind": "annotations",
                    "default": True,
                },
                {
                    "name": split,
                    "path": "zips/v.zip",
                    "md5": "00",
                    "kind": "images",
                    "split": split,
                },
            ],
        }
    )
    summary = download(
        [split],
        root=tmp_path,
        catalog=catalog,
        classes=["person", "dog"],
        max_images=5,
        backoff=0.01,
    )
    subset = json.loads((tmp_path / "annotations" / f"instances_{split}.json").read_text())
    assert len(subset["images"]) == 5 == summary.subsets[0].selected
    for image in subset["images"]:
        assert (tmp_path / "images" / split / image["file_name"]).read_bytes() == (
            coco_mini / "images" / split / image["file_name"]
        ).read_bytes()
    assert {a["category_id"] for a in subset["annotations"]} <= {1, 18}
    assert len(subset["categories"]) == 80


# --------------------------------------------------------------------------- command line


def test_cli_download_list_dry_run_and_errors(site, tmp_path):
    runner = CliRunner()
    base = ["download", "--root", str(site["root"]), "--catalog", str(site["catalog_file"])]
    result = runner.invoke(main, [*base, "val2017", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "val2017" in result.output and "done in" in result.output
    listing = runner.invoke(main, [*base, "--list"])
    assert listing.exit_code == 0 and "extracted" in listing.output
    dry = runner.invoke(main, [*base, "val2017", "--dry-run"])
    assert "skip" in dry.output and "disk: needs" in dry.output
    bad = runner.invoke(main, [*base, "val2099"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: split 'val2099'")
    site["server"].files.pop("/zips/val2017.zip")
    missing = runner.invoke(
        main,
        [
            "download",
            "--root",
            str(tmp_path / "r2"),
            "--catalog",
            str(site["catalog_file"]),
            "val2017",
            "--no-annotations",
        ],
    )
    assert missing.exit_code == 1
    assert "zips/val2017.zip: expected the file, found HTTP 404" in missing.output
    assert "Traceback" not in missing.output
    lone = runner.invoke(main, [*base, "val2017", "--max-images", "3"])
    assert lone.exit_code == 2 and "expected --classes" in lone.output


def test_cli_download_quiet_prints_nothing(site):
    base = ["download", "--root", str(site["root"]), "--catalog", str(site["catalog_file"])]
    quiet = CliRunner().invoke(main, [*base, "val2017", "--quiet"])
    assert quiet.exit_code == 0 and quiet.output == ""
    folder = site["root"] / "images" / "val2017"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == site["images"]
    again = CliRunner().invoke(main, [*base, "val2017", "-q"])
    assert again.exit_code == 0 and again.output == ""


def test_cli_help_ends_with_examples():
    result = CliRunner().invoke(main, ["download", "--help"])
    assert result.exit_code == 0
    assert result.output.rstrip().splitlines()[-1].strip() == "cocoprep download --list"
    assert "--keep-archives" in result.output and "COCOPREP_MIRROR" in result.output


def test_builtin_catalog_dry_run_with_tls_and_extra_annotations(tmp_path, monkeypatch):
    monkeypatch.delenv(plan.MIRROR_ENV, raising=False)
    summary = download(
        ["val2017"],
        root=tmp_path / "coco",
        tls=True,
        annotations=["image_info_test2017"],
        dry_run=True,
    )
    urls = [item.url for item in summary.plan]
    assert urls == [
        "https://s3.amazonaws.com/images.cocodataset.org/zips/val2017.zip",
        "https://s3.amazonaws.com/images.cocodataset.org/annotations/annotations_trainval2017.zip",
        "https://s3.amazonaws.com/images.cocodataset.org/annotations/image_info_test2017.zip",
    ]
    assert summary.needed_bytes == 2 * 815585330 + 5 * 252907541 + 5 * 1144034
    assert [item.dest.name for item in summary.plan] == ["val2017", "annotations", "annotations"]
    assert not (tmp_path / "coco").exists()


KILLED_FETCH = """
import os, signal, sys
from cocoprep.remote import fetch, ranges
ranges.PIECE_BYTES = 256 << 10
ranges.CHUNK_SIZE = 64 << 10
seen = 0
def on_bytes(n):
    global seen
    seen += n
    if seen > int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
fetch.fetch(sys.argv[1], sys.argv[2], connections=int(sys.argv[4]), on_bytes=on_bytes)
"""


@pytest.mark.parametrize("connections", [1, 4])
def test_download_killed_with_sigkill_resumes(server, tmp_path, small_pieces, connections):
    import subprocess
    import sys

    dest = tmp_path / "blob.bin"
    args = [server.url + "blob.bin", str(dest), str(len(BLOB) // 2), str(connections)]
    process = subprocess.run([sys.executable, "-c", KILLED_FETCH, *args], check=False, timeout=30)
    assert process.returncode == -9
    assert not dest.exists() and (tmp_path / "blob.bin.part").exists()
    server.log.clear()
    result = _fetch(server, dest, connections=connections)
    assert dest.read_bytes() == BLOB
    assert result.resumed_from > 0
    fetched = sum(
        int(end or len(BLOB) - 1) - int(start) + 1
        for start, end in (e[2].split("=")[1].split("-") for e in server.gets("blob.bin"))
    )
    assert fetched < len(BLOB)

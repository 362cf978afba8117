"""Tests for cocoprep.remote.hashes: chunked hashing, algorithm prefixes, strict matching."""

from __future__ import annotations

import hashlib

import pytest

from cocoprep.errors import ChecksumError, CocoprepError
from cocoprep.remote.hashes import (
    BackgroundHasher,
    file_hash,
    hash_matches,
    parse_hash,
    update_from_file,
)


@pytest.fixture
def blob(tmp_path):
    data = bytes(range(256)) * 9000  # > 2 chunks of 1 MiB
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    return path, data


def test_file_hash_matches_hashlib_over_several_chunks(blob):
    path, data = blob
    assert file_hash(path) == hashlib.md5(data).hexdigest()
    assert file_hash(path, "sha256") == hashlib.sha256(data).hexdigest()


def test_update_from_file_hashes_only_the_prefix(blob):
    path, data = blob
    hasher = hashlib.md5()
    assert update_from_file(hasher, path, size=1000) == 1000
    assert hasher.hexdigest() == hashlib.md5(data[:1000]).hexdigest()


@pytest.mark.parametrize(
    ("known", "expected"),
    [
        ("ABCDEF01", ("md5", "abcdef01")),
        ("sha256:00ff", ("sha256", "00ff")),
        ("MD5:0a", ("md5", "0a")),
    ],
)
def test_parse_hash(known, expected):
    assert parse_hash(known) == expected


@pytest.mark.parametrize("known", ["nothash:00", "md5:xyz", "md5:", ""])
def test_parse_hash_rejects_bad_strings(known):
    with pytest.raises(CocoprepError, match="expected a hex digest"):
        parse_hash(known)


def test_hash_matches_strict_names_both_digests(blob):
    path, data = blob
    good = hashlib.md5(data).hexdigest()
    assert hash_matches(path, good)
    assert hash_matches(path, f"md5:{good.upper()}", strict=True)
    assert hash_matches(path, None)
    assert not hash_matches(path, "0" * 32)
    with pytest.raises(ChecksumError, match=rf"expected MD5 0{{32}}, found {good}"):
        hash_matches(path, "0" * 32, strict=True)


def test_background_hasher_matches_and_its_thread_ends_when_dropped(blob):
    import gc

    path, data = blob
    hasher = BackgroundHasher("sha1")
    update_from_file(hasher, path)
    assert hasher.hexdigest() == hashlib.sha1(data).hexdigest()
    hasher.update(b"more")
    assert hasher.hexdigest() == hashlib.sha1(data + b"more").hexdigest()
    thread = hasher._thread
    del hasher
    gc.collect()
    thread.join(timeout=2)
    assert not thread.is_alive()

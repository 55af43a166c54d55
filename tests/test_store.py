"""The local object store: S3 URIs as files, S3 prefix semantics, S3Prefix downloads, no escaping the root."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.local.store import LocalObjectStore, StoreError, split_uri


@pytest.fixture
def store(tmp_path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "root")
    for key, data in [("in/a.csv", b"a"), ("in/sub/b.csv", b"b"), ("input-other/c.csv", b"c"), ("top.txt", b"t")]:
        store.put_bytes(f"s3://bucket-1/{key}", data)
    return store


def test_round_trip_and_layout(store, tmp_path):
    assert store.get_bytes("s3://bucket-1/in/a.csv") == b"a"
    assert store.path_for("s3://bucket-1/in/a.csv") == tmp_path / "root" / "s3" / "bucket-1" / "in" / "a.csv"
    assert store.exists("s3://bucket-1/in/a.csv") and not store.exists("s3://bucket-1/in")
    store.put_bytes("s3://bucket-1/in/a.csv", b"new")
    assert store.get_bytes("s3://bucket-1/in/a.csv") == b"new"
    with pytest.raises(FileNotFoundError, match="no object at s3://bucket-1/nope"):
        store.get_bytes("s3://bucket-1/nope")


def test_put_file_streams_a_local_file(store, tmp_path):
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(3 << 20))
    assert store.put_file("s3://bucket-1/blobs/big.bin", local) == "s3://bucket-1/blobs/big.bin"
    assert store.get_bytes("s3://bucket-1/blobs/big.bin") == local.read_bytes()


def test_writes_leave_no_temporary_files(store, tmp_path):
    store.put_bytes("s3://bucket-1/x/y.json", b"{}")
    assert [p.name for p in (tmp_path / "root" / "s3" / "bucket-1" / "x").iterdir()] == ["y.json"]


def test_a_failed_write_keeps_the_old_object(store, tmp_path, monkeypatch):
    import shutil

    def copy_then_fail(source, target, length=0):
        target.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copyfileobj", copy_then_fail)
    (tmp_path / "src").write_bytes(b"whole")
    with pytest.raises(OSError, match="disk full"):
        store.put_file("s3://bucket-1/in/a.csv", tmp_path / "src")
    assert store.get_bytes("s3://bucket-1/in/a.csv") == b"a"
    assert sorted(p.name for p in (tmp_path / "root" / "s3" / "bucket-1" / "in").iterdir()) == ["a.csv", "sub"]


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("s3://bucket-1/in/", ["in/a.csv", "in/sub/b.csv"]),
        ("s3://bucket-1/in", ["in/a.csv", "in/sub/b.csv", "input-other/c.csv"]),
        ("s3://bucket-1/in/a", ["in/a.csv"]),
        ("s3://bucket-1/in/sub/", ["in/sub/b.csv"]),
        ("s3://bucket-1/", ["in/a.csv", "in/sub/b.csv", "input-other/c.csv", "top.txt"]),
        ("s3://bucket-1", ["in/a.csv", "in/sub/b.csv", "input-other/c.csv", "top.txt"]),
        ("s3://bucket-1/t", ["top.txt"]),
        ("s3://bucket-1/nothing/", []),
        ("s3://other-bucket/in/", []),
    ],
)
def test_list_uses_plain_string_prefixes(store, prefix, expected):
    assert store.list(prefix) == [f"s3://bucket-1/{key}" for key in expected]


@pytest.mark.parametrize(
    "prefix, expected",
    [
        ("s3://bucket-1/in/", ["a.csv", "sub/b.csv"]),
        ("s3://bucket-1/in", ["a.csv", "put-other/c.csv", "sub/b.csv"]),  # the key after the prefix, '/' stripped
        ("s3://bucket-1/in/sub", ["b.csv"]),
        ("s3://bucket-1/in/a.csv", ["a.csv"]),  # one object named exactly: its own name
        ("s3://bucket-1/top.txt", ["top.txt"]),
        ("s3://bucket-1/none", []),
    ],
)
def test_download_prefix_places_files_like_an_s3prefix_input(store, tmp_path, prefix, expected):
    dest = tmp_path / "dl"
    copied = store.download_prefix(prefix, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in copied) == expected
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == expected


def test_download_of_one_object_ignores_longer_keys(store, tmp_path):
    store.put_bytes("s3://bucket-1/in/a.csv.bak", b"old")
    copied = store.download_prefix("s3://bucket-1/in/a.csv", tmp_path / "dl")
    assert [p.name for p in copied] == ["a.csv"] and copied[0].read_bytes() == b"a"


def test_upload_dir_round_trips(store, tmp_path):
    (tmp_path / "up" / "x").mkdir(parents=True)
    (tmp_path / "up" / "x" / "y.json").write_text("{}")
    (tmp_path / "up" / "z.csv").write_text("1,2\n")
    for prefix in ("s3://bucket-1/out/", "s3://bucket-1/out"):
        assert store.upload_dir(tmp_path / "up", prefix) == ["s3://bucket-1/out/x/y.json", "s3://bucket-1/out/z.csv"]
    back = store.download_prefix("s3://bucket-1/out/", tmp_path / "back")
    assert sorted(p.relative_to(tmp_path / "back").as_posix() for p in back) == ["x/y.json", "z.csv"]
    assert (tmp_path / "back" / "z.csv").read_text() == "1,2\n"
    assert store.upload_dir(tmp_path / "empty-does-not-exist", "s3://bucket-1/out2/") == []


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket-1/../escape",
        "s3://bucket-1/a/../../b",
        "s3://bucket-1/a/./b",
        "s3://bucket-1//etc/passwd",  # an absolute key would replace the store's path
        "s3://bucket-1/a//b",
        "s3://../x",
        "s3://a..b/x",
        "/etc/passwd",
        "file:///etc/passwd",
        "s3://Bad_Bucket/x",
        "s3://b/x",  # bucket names have at least 3 characters
        "s3://bucket-1/a\\b",
        "s3://bucket-1/a\0b",
        None,
    ],
)
def test_uris_that_could_escape_are_refused(store, uri):
    with pytest.raises(StoreError):
        split_uri(uri)
    with pytest.raises(StoreError):
        store.put_bytes(uri, b"x")


def test_symlinks_inside_the_store_cannot_lead_out(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "root" / "s3" / "bucket-1" / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StoreError, match="resolves outside the store"):
        store.put_bytes("s3://bucket-1/link/evil", b"x")
    assert not (outside / "evil").exists()


@pytest.mark.parametrize("uri", ["s3://bucket-1/", "s3://bucket-1/in/", "s3://bucket-1"])
def test_prefixes_are_not_objects(store, uri):
    with pytest.raises(StoreError, match="names a prefix, not an object"):
        store.put_bytes(uri, b"x")


def test_an_object_cannot_replace_a_prefix(store):
    with pytest.raises(StoreError, match="already a prefix of other objects"):
        store.put_bytes("s3://bucket-1/in", b"x")


def test_split_uri_accepts_ordinary_keys():
    assert split_uri("s3://my.bucket-2/a b/c=d/e.csv") == ("my.bucket-2", "a b/c=d/e.csv")
    assert split_uri("s3://bucket-1/prefix/") == ("bucket-1", "prefix/")
    assert Path(LocalObjectStore("/r").path_for("s3://bucket-1/k")).as_posix() == "/r/s3/bucket-1/k"

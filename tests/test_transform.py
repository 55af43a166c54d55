"""Batch Transform emulation against hand-made records, one behaviour at a time."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.local.store import LocalObjectStore, StoreError, split_uri
from pipeline.local.transform import ColumnFilter, TransformError, run_transform


class Recorder:
    """A model that answers each request row with '<sum of fields>' and records the requests."""

    def __init__(self, columns_out: int = 1):
        self.requests: list[str] = []
        self.columns_out = columns_out

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        text = body.decode()
        self.requests.append(text)
        rows = [line for line in text.split("\n") if line]
        out = []
        for row in rows:
            total = sum(float(v) for v in row.split(","))
            out.append(",".join([f"{total:g}"] * self.columns_out))
        return ("\n".join(out) + "\n").encode()


def transform(tmp_path: Path, text: str, model=None, **options) -> tuple[str, Recorder]:
    model = model or Recorder()
    source = tmp_path / "in" / "data.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(text)
    run_transform(model, [source], tmp_path / "out", input_root=tmp_path / "in", **options)
    return (tmp_path / "out" / "data.csv.out").read_text(), model


ROWS = "1,10,20\n0,30,40\n1,50,60\n"


@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, "31\n70\n111\n"),
        ({"input_filter": "$[1:]"}, "30\n70\n110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input"}, "1,10,20,30\n0,30,40,70\n1,50,60,110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"}, "1,30\n0,70\n1,110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[-1]"}, "30\n70\n110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[1:3]"}, "10,20\n30,40\n50,60\n"),
        ({"input_filter": "$[2]", "join_source": "Input", "output_filter": "$[0,2,3]"}, "1,20,20\n0,40,40\n1,60,60\n"),
        ({"input_filter": "$[0,2]"}, "21\n40\n61\n"),
        ({"input_filter": "$[:2]"}, "11\n30\n51\n"),
        ({"input_filter": "$[-2:]"}, "30\n70\n110\n"),
        ({"input_filter": "$"}, "31\n70\n111\n"),
        ({"join_source": "None", "output_filter": "$[0]"}, "31\n70\n111\n"),
        ({"input_filter": "$[1:]", "assemble_with": "None"}, "3070110"),
    ],
)
def test_filters_and_join(tmp_path, options, expected):
    out, _ = transform(tmp_path, ROWS, **options)
    assert out == expected


def test_output_filter_on_multi_column_output(tmp_path):
    out, _ = transform(tmp_path, ROWS, Recorder(columns_out=2), input_filter="$[1:]", join_source="Input",
                       output_filter="$[0,-1]")
    assert out == "1,30\n0,70\n1,110\n"


def test_multi_record_batches_respect_the_payload_limit(tmp_path):
    row = "1," + ",".join(["0.5"] * 1000)  # about 4 KB per record
    out, model = transform(tmp_path, "\n".join([row] * 600) + "\n", max_payload_mb=1, input_filter="$[1:]")
    assert len(out.splitlines()) == 600
    assert len(model.requests) == 3
    assert all(len(r.encode()) <= 1024 * 1024 for r in model.requests)


def test_single_record_sends_one_record_per_request(tmp_path):
    out, model = transform(tmp_path, ROWS, batch_strategy="SingleRecord", input_filter="$[1:]")
    assert model.requests == ["10,20\n", "30,40\n", "50,60\n"]
    assert out == "30\n70\n110\n"


def test_split_none_sends_the_whole_file(tmp_path):
    out, model = transform(tmp_path, ROWS, split_type="None")
    assert model.requests == [ROWS.rstrip("\n") + "\n"]


def test_blank_lines_and_crlf(tmp_path):
    out, _ = transform(tmp_path, "1,10,20\r\n\r\n0,30,40\r\n", input_filter="$[1:]", join_source="Input",
                       output_filter="$[0,-1]")
    assert out == "1,30\n0,70\n"


def test_labels_are_kept_verbatim(tmp_path):
    out, _ = transform(tmp_path, "1.0,10,20\n0.0,30,40\n", input_filter="$[1:]", join_source="Input",
                       output_filter="$[0,-1]")
    assert out == "1.0,30\n0.0,70\n"


def test_several_input_files_keep_their_names(tmp_path):
    (tmp_path / "in" / "part").mkdir(parents=True)
    (tmp_path / "in" / "a.csv").write_text("1,2\n")
    (tmp_path / "in" / "part" / "b.csv").write_text("3,4\n5,6\n")
    counts = run_transform(Recorder(), sorted((tmp_path / "in").rglob("*.csv")), tmp_path / "out", input_root=tmp_path / "in")
    assert counts == {"a.csv.out": 1, "part/b.csv.out": 2}
    assert (tmp_path / "out" / "part" / "b.csv.out").read_text() == "7\n11\n"


def test_progress_reaches_the_total(tmp_path):
    seen = []
    source = tmp_path / "in" / "d.csv"
    source.parent.mkdir()
    source.write_text(ROWS * 100)
    run_transform(Recorder(), [source], tmp_path / "out", input_root=tmp_path / "in", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] == source.stat().st_size


class WrongCount(Recorder):
    def invoke(self, body, content_type, accept):
        return b"0.5\n"


class Broken(Recorder):
    def invoke(self, body, content_type, accept):
        raise ValueError("could not convert string to float: 'label'")


@pytest.mark.parametrize(
    "text, model, options, message",
    [
        (ROWS, WrongCount(), {}, "returned 1 predictions for 3 records"),
        (ROWS, Broken(), {}, "the model failed on records 1-3 (ValueError: could not convert"),
        ("1," + "9" * 2_000_000 + "\n", None, {"max_payload_mb": 1}, "over MaxPayloadInMB (1 MB)"),
        (ROWS, None, {"input_filter": "$[5]"}, "column 5 does not exist"),
        (ROWS, None, {"input_filter": "$.features"}, "unsupported filter"),
        (ROWS, None, {"split_type": "RecordIO"}, "unsupported SplitType"),
        (ROWS, None, {"batch_strategy": "Huge"}, "unsupported BatchStrategy"),
        (ROWS, None, {"join_source": "Output"}, "unsupported JoinSource"),
        (ROWS, None, {"max_payload_mb": 0}, "MaxPayloadInMB must be between 1 and 100"),
    ],
)
def test_failures_name_the_cause(tmp_path, text, model, options, message):
    with pytest.raises(TransformError) as error:
        transform(tmp_path, text, model, **options)
    assert message in str(error.value)
    assert not (tmp_path / "out" / "data.csv.out").exists()


def test_column_filter_parsing():
    assert ColumnFilter.parse(None) is None and ColumnFilter.parse("$") is None
    assert ColumnFilter.parse("$[1:]").drop_leading() == 1
    assert ColumnFilter.parse("$[0,-1]").drop_leading() is None
    assert ColumnFilter.parse("$[ 0 , -1 ]").indices(4) == [0, 3]


# --- the local object store -------------------------------------------------------------------------


def test_store_round_trip_and_prefix_semantics(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.put_bytes("s3://bucket-1/in/a.csv", b"a")
    store.put_bytes("s3://bucket-1/in/sub/b.csv", b"b")
    store.put_bytes("s3://bucket-1/input-other/c.csv", b"c")
    assert store.get_bytes("s3://bucket-1/in/a.csv") == b"a"
    assert store.path_for("s3://bucket-1/in/a.csv") == tmp_path / "s3" / "bucket-1" / "in" / "a.csv"
    assert store.list("s3://bucket-1/in/") == ["s3://bucket-1/in/a.csv", "s3://bucket-1/in/sub/b.csv"]
    assert store.list("s3://bucket-1/in") == [
        "s3://bucket-1/in/a.csv", "s3://bucket-1/in/sub/b.csv", "s3://bucket-1/input-other/c.csv"
    ]
    copied = store.download_prefix("s3://bucket-1/in/", tmp_path / "dl")
    assert sorted(p.relative_to(tmp_path / "dl").as_posix() for p in copied) == ["a.csv", "sub/b.csv"]
    single = store.download_prefix("s3://bucket-1/in/a.csv", tmp_path / "one")
    assert [p.name for p in single] == ["a.csv"]
    (tmp_path / "up" / "x").mkdir(parents=True)
    (tmp_path / "up" / "x" / "y.json").write_text("{}")
    assert store.upload_dir(tmp_path / "up", "s3://bucket-1/out/") == ["s3://bucket-1/out/x/y.json"]
    assert store.list("s3://bucket-1/nothing/") == []


@pytest.mark.parametrize(
    "uri",
    ["s3://bucket-1/../escape", "s3://bucket-1/a/../../b", "s3://../x", "/etc/passwd", "s3://Bad_Bucket/x", "s3://b/a\\b"],
)
def test_store_refuses_uris_that_escape(uri):
    with pytest.raises(StoreError):
        split_uri(uri)

"""Batch Transform emulation against hand-made records, one behaviour at a time.

Every behaviour is checked on both paths (the numpy one and the per-record reference) and with one and
several concurrent requests; a randomised table checks that the two paths agree byte for byte.
"""
from __future__ import annotations

import copy
import random
from pathlib import Path

import numpy as np
import pytest

from pipeline.local.filters import ColumnFilter
from pipeline.local.records import MB, TransformError
from pipeline.local.transform import run_transform, transform_file
from pipeline.local.transform_spec import TransformSpec


class Recorder:
    """A model that answers each row with the sum of its fields and records every request body."""

    def __init__(self, columns_out: int = 1):
        self.requests: list[bytes] = []
        self.columns_out = columns_out

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        self.requests.append(body)
        out = []
        for row in body.decode().split("\n")[:-1]:
            total = sum(float(v) for v in row.split(","))
            out.append(",".join([f"{total:g}"] * self.columns_out))
        return ("\n".join(out) + "\n").encode()


class Shape(Recorder):
    """Answers with facts about each row (works on any text): its length, then its field count."""

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        self.requests.append(body)
        rows = body.split(b"\n")[:-1]
        cells = [f"{len(r)}" if self.columns_out == 1 else f"{len(r)},{r.count(b',') + 1}" for r in rows]
        return "".join(c + "\n" for c in cells).encode()


PATHS = [
    pytest.param({"vectorised": True, "workers": 1}, id="numpy"),
    pytest.param({"vectorised": False, "workers": 1}, id="reference"),
    pytest.param({"vectorised": True, "workers": 3}, id="numpy-concurrent"),
]


# CSV split by lines, assembled by lines, as the pipeline's job; TransformSpec's own defaults are SageMaker's.
CSV_LINES = {"content_type": "text/csv", "accept": "text/csv", "split_type": "Line", "assemble_with": "Line"}


def job(**options) -> TransformSpec:
    """A CSV job split and assembled by lines, with ``options`` (TransformSpec fields) on top."""
    return TransformSpec(**{**CSV_LINES, **options})


def transform(tmp_path: Path, text: str | bytes, model=None, path=None, **options) -> tuple[str, Recorder]:
    """Run one file through the transform; returns the output text and the model."""
    model = model or Recorder()
    path = path or {"vectorised": True, "workers": 1}
    source = tmp_path / "in" / "data.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(text.encode() if isinstance(text, str) else text)
    if path["vectorised"]:
        run_transform(job(max_concurrent_transforms=path["workers"], **options), model, [source], tmp_path / "out",
                      input_root=tmp_path / "in")
    else:  # the per-record reference path
        transform_file(lambda body: model.invoke(body, "text/csv", "text/csv"), source,
                       tmp_path / "out" / "data.csv.out", job(**options), vectorised=False)
    return (tmp_path / "out" / "data.csv.out").read_text(), model


ROWS = "1,10,20\n0,30,40\n1,50,60\n"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, "31\n70\n111\n"),
        ({"input_filter": "$[1:]"}, "30\n70\n110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input"}, "1,10,20,30\n0,30,40,70\n1,50,60,110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"}, "1,30\n0,70\n1,110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[-1]"}, "30\n70\n110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[1:3]"}, "10,20\n30,40\n50,60\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[:2]"}, "1,10\n0,30\n1,50\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0:2,-1]"},
         "1,10,30\n0,30,70\n1,50,110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,1,-1]"},
         "1,10,30\n0,30,70\n1,50,110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[3,0]"}, "30,1\n70,0\n110,1\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$"}, "1,10,20,30\n0,30,40,70\n1,50,60,110\n"),
        ({"input_filter": "$[2]", "join_source": "Input", "output_filter": "$[0,2,3]"}, "1,20,20\n0,40,40\n1,60,60\n"),
        ({"input_filter": "$[0,2]"}, "21\n40\n61\n"),
        ({"input_filter": "$[:2]"}, "11\n30\n51\n"),
        ({"input_filter": "$[-2:]"}, "30\n70\n110\n"),
        ({"input_filter": "$[-1]"}, "20\n40\n60\n"),
        ({"input_filter": "$[0,-1]"}, "21\n40\n61\n"),
        ({"input_filter": "$[1:2]"}, "10\n30\n50\n"),
        ({"input_filter": "$[2:]"}, "20\n40\n60\n"),
        ({"input_filter": "$[0:]"}, "31\n70\n111\n"),
        ({"input_filter": "$"}, "31\n70\n111\n"),
        ({"join_source": "Input"}, "1,10,20,31\n0,30,40,70\n1,50,60,111\n"),
        ({"join_source": "Input", "output_filter": "$[0,-1]"}, "1,31\n0,70\n1,111\n"),
        ({"join_source": "None", "output_filter": "$[0]"}, "31\n70\n111\n"),
        ({"join_source": "None", "output_filter": "$[-1]"}, "31\n70\n111\n"),
        ({"input_filter": "$[1:]", "assemble_with": "None"}, "3070110"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]", "assemble_with": "None"},
         "1,300,701,110"),
    ],
)
def test_filters_and_join(tmp_path, path, options, expected):
    out, _ = transform(tmp_path, ROWS, path=path, **options)
    assert out == expected


@pytest.mark.parametrize("path", PATHS)
def test_request_body_is_the_filtered_csv(tmp_path, path):
    _, model = transform(tmp_path, "1,10,20\r\n\n0,30,40", path=path, input_filter="$[1:]", join_source="Input",
                         output_filter="$[0,-1]")
    assert model.requests == [b"10,20\n30,40\n"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "options, expected",
    [
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"}, "1,30\n0,70\n1,110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input"}, "1,10,20,30,30\n0,30,40,70,70\n1,50,60,110,110\n"),
        ({"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[-2:]"}, "30,30\n70,70\n110,110\n"),
        ({"input_filter": "$[1:]", "join_source": "None", "output_filter": "$[1]"}, "30\n70\n110\n"),
    ],
)
def test_multi_column_output(tmp_path, path, options, expected):
    out, _ = transform(tmp_path, ROWS, Recorder(columns_out=2), path=path, **options)
    assert out == expected


@pytest.mark.parametrize("path", PATHS)
def test_labels_are_kept_verbatim(tmp_path, path):
    text = "1.0,10,20\n 0 ,30,40\nyes,50,60\n-1e0,70,80\n"
    out, _ = transform(tmp_path, text, path=path, input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]")
    assert out == "1.0,30\n 0 ,70\nyes,110\n-1e0,150\n"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "text",
    [
        "1,10,20\r\n\r\n0,30,40\r\n",  # CRLF and a blank line
        "\n\n1,10,20\n\n\n0,30,40",  # leading blank lines, no final newline
        "1,10,20\n0,30,40\n\n\n",  # trailing blank lines
    ],
)
def test_blank_lines_and_line_endings(tmp_path, path, text):
    out, _ = transform(tmp_path, text, path=path, input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]")
    assert out == "1,30\n0,70\n"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("text", ["1,10,20\r0,30,40\r", "1,10,20\n0,30,40\r1,50,60\n"])
def test_a_lone_carriage_return_fails_the_job(tmp_path, path, text):
    """SplitType=Line splits at \\n only: AWS would send an old-Mac file as one record, so it is refused."""
    with pytest.raises(TransformError, match=r"data.csv: record [12]: a line ends with a lone carriage return") as error:
        transform(tmp_path, text, path=path, input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]")
    assert "convert the line endings to \\n" in str(error.value)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("text", ["", "\n", "\r\n\r\n  \n"])
def test_empty_input_gives_an_empty_output(tmp_path, path, text):
    out, model = transform(tmp_path, text, path=path, input_filter="$[1:]", join_source="Input")
    assert out == "" and model.requests == []


@pytest.mark.parametrize("path", PATHS)
def test_multi_record_batches_fill_the_payload_greedily(tmp_path, path):
    row = "1," + ",".join(["0.5"] * 1000)  # 4001 bytes + newline per record
    out, model = transform(tmp_path, "\n".join([row] * 600) + "\n", path=path, max_payload_mb=1, input_filter="$[1:]")
    assert out == "500\n" * 600
    per_request = MB // (len(row) + 1)
    # Concurrent requests may arrive in any order; the output stays in input order.
    assert sorted(r.count(b"\n") for r in model.requests) == sorted([per_request, per_request, 600 - 2 * per_request])
    assert all(len(r) <= MB for r in model.requests)


@pytest.mark.parametrize("path", PATHS)
def test_single_record_sends_one_record_per_request(tmp_path, path):
    out, model = transform(tmp_path, ROWS, path=path, batch_strategy="SingleRecord", input_filter="$[1:]",
                           join_source="Input", output_filter="$[0,-1]")
    assert model.requests == [b"10,20\n", b"30,40\n", b"50,60\n"]
    assert out == "1,30\n0,70\n1,110\n"


@pytest.mark.parametrize("path", PATHS)
def test_records_straddling_batches_arrive_whole(tmp_path, path):
    """Long records cut by the read buffer are carried into the next request intact."""
    lengths = [10, 700_000, 20, 600_000, 900_000, 5, 1_000_000, 3]
    text = "".join("9" * n + "\n" for n in lengths)
    out, model = transform(tmp_path, text, Shape(), path=path, max_payload_mb=1)
    assert out == "".join(f"{n}\n" for n in lengths)
    assert sorted(len(line) for body in model.requests for line in body.split(b"\n")[:-1]) == sorted(lengths)
    assert all(len(body) <= MB for body in model.requests)


def test_a_record_exactly_at_the_limit_is_sent(tmp_path):
    record = "9" * (MB - 1)  # plus its newline: exactly 1 MB
    out, model = transform(tmp_path, record, Shape(), max_payload_mb=1)
    assert out == f"{MB - 1}\n" and [len(r) for r in model.requests] == [MB]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("newline", ["\n", ""])
def test_a_record_over_the_limit_is_named(tmp_path, path, newline):
    text = ROWS + "1," + "9" * MB + newline
    with pytest.raises(TransformError) as error:
        transform(tmp_path, text, path=path, max_payload_mb=1)
    assert str(error.value) == (
        f"data.csv: record 4 is {MB + 3} bytes, over MaxPayloadInMB (1 MB): too much data for max payload size; "
        "raise MaxPayloadInMB or split the record"
    )
    assert not list((tmp_path / "out").iterdir())


def test_split_none_sends_the_object_as_it_is(tmp_path):
    out, model = transform(tmp_path, ROWS, split_type="None")
    assert model.requests == [ROWS.encode()]
    assert out == "31\n70\n111\n"


def test_split_none_with_filters_needs_a_single_line(tmp_path):
    out, model = transform(tmp_path, "1,10,20\n", split_type="None", input_filter="$[1:]", join_source="Input",
                           output_filter="$[0,-1]")
    assert out == "1,30\n" and model.requests == [b"10,20\n"]
    with pytest.raises(TransformError, match="multi-line CSV object need SplitType=Line"):
        transform(tmp_path, ROWS, split_type="None", input_filter="$[1:]")


def test_split_none_object_over_the_limit(tmp_path):
    with pytest.raises(TransformError, match=r"the object is \d+ bytes, over MaxPayloadInMB \(1 MB\)"):
        transform(tmp_path, "1,2\n" * (MB // 3), split_type="None", max_payload_mb=1)


def test_several_input_files_keep_their_names(tmp_path):
    (tmp_path / "in" / "part").mkdir(parents=True)
    (tmp_path / "in" / "a.csv").write_text("1,2\n")
    (tmp_path / "in" / "part" / "b.csv").write_text("3,4\n5,6\n")
    (tmp_path / "in" / "part" / "empty.csv").write_text("")
    files = sorted((tmp_path / "in").rglob("*.csv"))
    counts = run_transform(job(), Recorder(), files, tmp_path / "out", input_root=tmp_path / "in")
    assert counts == {"a.csv.out": 1, "part/b.csv.out": 2, "part/empty.csv.out": 0}
    assert (tmp_path / "out" / "a.csv.out").read_text() == "3\n"
    assert (tmp_path / "out" / "part" / "b.csv.out").read_text() == "7\n11\n"
    assert (tmp_path / "out" / "part" / "empty.csv.out").read_text() == ""
    # Without input_root, names are relative to the files' common folder.
    counts = run_transform(job(), Recorder(), files, tmp_path / "out2")
    assert sorted(counts) == ["a.csv.out", "part/b.csv.out", "part/empty.csv.out"]


def test_progress_is_monotonic_and_reaches_the_total(tmp_path):
    seen = []
    source = tmp_path / "in" / "d.csv"
    source.parent.mkdir()
    source.write_text("1,2,3\n" * 400_000)  # 2.4 MB: three 1 MB requests
    run_transform(job(max_payload_mb=1), Recorder(), [source], tmp_path / "out", progress=lambda d, t: seen.append((d, t)))
    done = [d for d, _ in seen]
    assert len(seen) >= 3 and done == sorted(done)
    assert {t for _, t in seen} == {source.stat().st_size} and done[-1] == source.stat().st_size


class WrongCount(Recorder):
    def invoke(self, body, content_type, accept):
        return b"0.5\n"


class Broken(Recorder):
    def invoke(self, body, content_type, accept):
        raise ValueError("could not convert string to float: 'label'\nsecond line")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "text, model, options, message",
    [
        (ROWS, WrongCount(), {}, "data.csv: records 1-3: the model returned 1 predictions for 3 records"),
        (ROWS, Broken(), {}, "data.csv: records 1-3: the model container answered HTTP 500 "
                             "(ValueError: could not convert string to float: 'label')"),
        (ROWS, None, {"input_filter": "$[5]"}, "data.csv: record 1: filter '$[5]': column 5 does not exist in a 3-column record"),
        ("1,2\n3\n", None, {"input_filter": "$[1:]"}, "data.csv: record 2: input filter '$[1:]' leaves nothing of record '3'"),
        (ROWS, None, {"join_source": "Input", "output_filter": "$[7]"}, "data.csv: record 1: output filter '$[7]'"),
    ],
)
def test_failures_name_the_record(tmp_path, path, text, model, options, message):
    with pytest.raises(TransformError) as error:
        transform(tmp_path, text, model, path=path, **options)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
    assert not list((tmp_path / "out").iterdir())  # no output, no partial file


def test_errors_count_records_across_batches(tmp_path):
    """The failing batch is the second one: record numbers continue from the first."""

    class FailsOnNine(Recorder):
        def invoke(self, body, content_type, accept):
            if b"9" in body:
                return b"1\n2\n"
            return super().invoke(body, content_type, accept)

    row = "1," + ",".join(["0.5"] * 1000)
    per_request = MB // (len(row) + 1)
    text = "\n".join([row] * per_request + ["9" + row[1:]]) + "\n"
    for workers in (1, 3):
        with pytest.raises(TransformError) as error:
            transform(tmp_path, text, FailsOnNine(), path={"vectorised": True, "workers": workers}, max_payload_mb=1)
        assert str(error.value) == f"data.csv: record {per_request + 1}: the model returned 2 predictions for 1 records"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"input_filter": "$.features"}, "unsupported filter '$.features'"),
        ({"output_filter": "$[a]"}, "cannot read 'a'"),
        ({"input_filter": "$[1:2:3]"}, "cannot read '1:2:3'"),
        ({"input_filter": "$[]"}, "unsupported filter"),
        ({"split_type": "RecordIO"}, "unsupported SplitType 'RecordIO': use Line or None"),
        ({"split_type": "TFRecord"}, "unsupported SplitType"),
        ({"batch_strategy": "Huge"}, "unsupported BatchStrategy 'Huge'"),
        ({"join_source": "Output"}, "unsupported JoinSource 'Output'"),
        ({"assemble_with": "Comma"}, "unsupported AssembleWith 'Comma'"),
        ({"max_payload_mb": 0}, "MaxPayloadInMB must be between 1 and 100, not 0"),
        ({"max_payload_mb": 101}, "MaxPayloadInMB must be between 1 and 100"),
        ({"max_payload_mb": 1.5}, "MaxPayloadInMB must be between 1 and 100"),
        ({"input_filter": "$[1:]", "content_type": "application/json"}, "text/csv only"),
        ({"join_source": "Input", "accept": "application/json"}, "Accept text/csv only"),
    ],
)
def test_bad_options(tmp_path, options, message):
    with pytest.raises(TransformError) as error:
        transform(tmp_path, ROWS, **options)
    assert message in str(error.value)
    assert not (tmp_path / "out" / "data.csv.out").exists()


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_bad_concurrency(tmp_path, workers):
    (tmp_path / "d.csv").write_text(ROWS)
    with pytest.raises(TransformError, match="MaxConcurrentTransforms must be a positive integer"):
        run_transform(job(max_concurrent_transforms=workers), Recorder(), [tmp_path / "d.csv"], tmp_path / "out")


@pytest.mark.parametrize(
    "expression, width, expected",
    [
        ("$[0]", 3, [0]), ("$[-1]", 3, [2]), ("$[1:]", 3, [1, 2]), ("$[:2]", 3, [0, 1]), ("$[1:2]", 3, [1]),
        ("$[-2:]", 4, [2, 3]), ("$[:-1]", 4, [0, 1, 2]), ("$[0,-1]", 4, [0, 3]), ("$[ 0 , -1 ]", 4, [0, 3]),
        ("$[0,2:4,-1]", 6, [0, 2, 3, 5]), ("$[5:]", 3, []), ("$[2,0]", 3, [2, 0]),
    ],
)
def test_column_filter_indices(expression, width, expected):
    assert ColumnFilter.parse(expression).indices(width) == expected


def test_column_filter_shapes():
    assert ColumnFilter.parse(None) is None and ColumnFilter.parse("$") is None and ColumnFilter.parse(" $ ") is None
    assert [ColumnFilter.parse(e).drop_leading() for e in ("$[1:]", "$[0:]", "$[3:]", "$[-1:]", "$[0,-1]", "$[1:3]")] \
        == [1, 0, 3, None, None, None]
    assert [ColumnFilter.parse(e).leading_then_last() for e in ("$[0,-1]", "$[0:3,-1]", "$[0,1,2,-1]", "$[-1]",
                                                               "$[1,-1]", "$[0,-2]", "$[:2,-1]")] \
        == [1, 3, 3, None, None, None, 2]
    with pytest.raises(TransformError, match="column -4 does not exist in a 3-column record"):
        ColumnFilter.parse("$[-4]").indices(3)


# --- the numpy path equals the reference path, byte for byte ----------------------------------------------


def _random_csv(rng: random.Random, rows: int, *, width: int | None) -> bytes:
    lines = []
    for _ in range(rows):
        fields = width or rng.randint(2, 6)
        label = rng.choice(["0", "1", "1.0", "yes", "", "label-" + "x" * rng.randint(30, 80)])
        cells = [label] + [f"{rng.uniform(-9, 9):.{rng.randint(0, 6)}f}" for _ in range(fields - 1)]
        lines.append(",".join(cells))
        if rng.random() < 0.05:
            lines.append("")  # a blank line
    ending = rng.choice(["\n", "\r\n"])
    return (ending.join(lines) + rng.choice([ending, ""])).encode()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "options",
    [
        {"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"},
        {"input_filter": "$[1:]", "join_source": "Input"},
        {"input_filter": "$[2:]", "join_source": "Input", "output_filter": "$[0:2,-1]"},
        {"input_filter": "$[1:]"},
        {"join_source": "Input", "output_filter": "$[0,-1]"},
        {"join_source": "Input", "output_filter": "$[0,1,-1]"},
        {},
    ],
)
@pytest.mark.parametrize("columns_out", [1, 2])
def test_numpy_path_equals_reference_path(tmp_path, seed, options, columns_out):
    rng = random.Random(seed)
    data = _random_csv(rng, rng.randint(1, 400), width=None if seed % 2 else 5)
    source = tmp_path / "data.csv"
    source.write_bytes(data)
    outputs, requests = {}, {}
    for vectorised in (True, False):
        model = Shape(columns_out)
        target = tmp_path / f"{vectorised}.out"
        try:
            transform_file(lambda body: model.invoke(body, "text/csv", "text/csv"), source, target,
                           job(max_payload_mb=1, **options), vectorised=vectorised)
            outputs[vectorised] = target.read_bytes()
        except TransformError as error:  # records too short for the filter: both paths must say so alike
            outputs[vectorised] = str(error)
        requests[vectorised] = model.requests
    assert outputs[True] == outputs[False]
    assert requests[True] == requests[False]


def test_numpy_path_on_long_leading_fields(tmp_path):
    """Leading fields longer than the byte-by-byte scan fall back to a lookup among all commas."""
    text = "".join(f"{'id' * (20 + i)},{i},{i + 1}\n" for i in range(50))
    for path in ({"vectorised": True, "workers": 1}, {"vectorised": False, "workers": 1}):
        out, model = transform(tmp_path, text, path=path, input_filter="$[1:]", join_source="Input",
                               output_filter="$[0,-1]")
        assert out.splitlines() == [f"{'id' * (20 + i)},{2 * i + 1}" for i in range(50)]


def test_scores_from_real_handlers_match_predict_proba(tmp_path):
    """With the project's serving handlers, the output lines are 'label,P(class 1)' for every record."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    from pipeline.local.model_archive import load_serving_handlers
    from pipeline.package import build_model_archive

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = (X[:, 0] + rng.normal(size=3000) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    joblib.dump(model, tmp_path / "model.joblib")
    archive = build_model_archive(tmp_path / "model.joblib", tmp_path / "model.tar.gz")
    source = tmp_path / "in" / "test.csv"
    source.parent.mkdir()
    source.write_text("".join(f"{label}," + ",".join(repr(v) for v in row) + "\n" for label, row in zip(y, X.tolist())))
    handlers = load_serving_handlers(archive, tmp_path / "model")
    run_transform(job(max_payload_mb=1, input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]"), handlers,
                  [source], tmp_path / "out")
    lines = (tmp_path / "out" / "test.csv.out").read_text().splitlines()
    labels = [int(line.split(",")[0]) for line in lines]
    scores = np.array([float(line.split(",")[1]) for line in lines])
    assert labels == y.tolist()
    np.testing.assert_allclose(scores, model.predict_proba(X)[:, 1], rtol=1e-12)


# --- serving as the scikit-learn 1.9-0 container serves (the facts: pipeline/local/serving.py) ------------

ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
CSV_DEFAULT = {ACCEPT_VARIABLE: "text/csv"}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    """A model packaged by pipeline.package, and a label-first CSV of 300 rows to score."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    from pipeline.package import build_model_archive

    base = tmp_path_factory.mktemp("packaged")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    joblib.dump(model, base / "model.joblib")
    lines = [f"{label}," + ",".join(repr(v) for v in row) for label, row in zip(y.tolist(), X.tolist())]
    expected = [f"{label},{score!r}" for label, score in zip(y.tolist(), model.predict_proba(X)[:, 1].tolist())]
    return {"archive": build_model_archive(base / "model.joblib", base / "model.tar.gz"),
            "csv": "\n".join(lines) + "\n", "expected": expected}


def _serve(packaged, tmp_path, environment):
    from pipeline.local.model_archive import load_serving_handlers

    return load_serving_handlers(packaged["archive"], tmp_path / "model", environment=environment)


# (the model's Environment, the request's Accept, the Accept output_fn is then refused with, None: HTTP 200).
# The container maps only a missing or exactly */* Accept to SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT
# (application/json when unset); every other value reaches output_fn verbatim.
CONTAINER_RULES = [
    (CSV_DEFAULT, None, None),
    (CSV_DEFAULT, "*/*", None),
    (CSV_DEFAULT, "text/csv", None),
    (CSV_DEFAULT, "text/csv; charset=utf-8", None),
    (CSV_DEFAULT, "application/json", "application/json"),
    (CSV_DEFAULT, "text/csv, application/json", "text/csv, application/json"),
    ({}, None, "application/json"),
    ({}, "*/*", "application/json"),
    ({}, "text/csv", None),
    ({}, "text/csv; charset=utf-8", None),
    ({}, "application/json", "application/json"),
    ({ACCEPT_VARIABLE: "application/json"}, None, "application/json"),
]


@pytest.mark.parametrize("environment, accept, refused", CONTAINER_RULES)
def test_accept_follows_the_container_rules(tmp_path, packaged, environment, accept, refused):
    source = tmp_path / "in" / "test.csv"
    source.parent.mkdir()
    source.write_text(packaged["csv"])
    options = {"accept": accept, "input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"}
    handlers = _serve(packaged, tmp_path, environment)
    if refused is None:
        run_transform(job(**options), handlers, [source], tmp_path / "out")
        assert (tmp_path / "out" / "test.csv.out").read_text().splitlines() == packaged["expected"]
        return
    with pytest.raises(TransformError) as error:
        run_transform(job(**options), handlers, [source], tmp_path / "out")
    message = str(error.value)
    assert message.startswith("test.csv: records 1-300: the model container answered HTTP 500 (ValueError: "
                              f"unsupported accept type {refused!r}: ask for text/csv"), message
    assert "\n" not in message
    if accept in (None, "*/*"):  # the Accept the request did not name, and the fix
        sent = "no Accept" if accept is None else "Accept */*"
        origin = (f"the model's {ACCEPT_VARIABLE}='application/json'" if environment
                  else f"{ACCEPT_VARIABLE}, unset: the container's default 'application/json'")
        assert f"; {sent} means {origin}; set {ACCEPT_VARIABLE}=text/csv in the model's Environment" in message
    assert not (tmp_path / "out" / "test.csv.out").exists()


@pytest.mark.parametrize("result, expected", [
    (("0.5\n", "text/csv"), (b"0.5\n", "text/csv; charset=utf-8")),
    ((b"0.5\n", "text/csv; charset=utf-8"), (b"0.5\n", "text/csv; charset=utf-8; charset=utf-8")),  # werkzeug's
    (("[0.5]", "application/json"), (b"[0.5]", "application/json")),
    ((b"\x93NUMPY", "application/x-npy"), (b"\x93NUMPY", "application/x-npy")),
    (("<r/>", "application/xml"), (b"<r/>", "application/xml; charset=utf-8")),
    (("[0.5]", None), (b"[0.5]", "application/json")),  # sagemaker-containers' Response default
    ("0.5\n", (b"0.5\n", "text/html; charset=utf-8")),  # a bare body: Flask's default
    (b"0.5\n", (b"0.5\n", "text/html; charset=utf-8")),
])
def test_the_response_content_type_is_set_as_the_container_sets_it(result, expected):
    from pipeline.local.model_archive import response_of

    assert response_of(result) == expected


def test_the_packaged_model_answers_text_csv(tmp_path, packaged):
    handlers = _serve(packaged, tmp_path, CSV_DEFAULT)
    body, content_type = handlers.respond(b"0.1,0.2,0.3\n", "text/csv", None)
    assert content_type == "text/csv; charset=utf-8"
    assert len(body.splitlines()) == 1 and 0 < float(body) < 1


def test_join_on_a_non_csv_answer_is_refused_after_the_model_answers(tmp_path):
    """A model that serves the Accept: the emulation cannot join its answer, and says so."""
    with pytest.raises(TransformError, match="JoinSource=Input is emulated for Accept text/csv only, not "
                                             "'application/json'"):
        transform(tmp_path, ROWS, accept="application/json", join_source="Input")


@pytest.fixture
def serving_definition(definition):
    """The definition's own CreateModel and BatchTransform steps, on a literal ModelDataUrl."""
    from pipeline.pipelines import evaluation as pdef
    from tests.test_definition import steps_by_name

    steps = steps_by_name(definition)
    model, transform_step = copy.deepcopy(steps[pdef.CREATE_MODEL_STEP]), copy.deepcopy(steps[pdef.TRANSFORM_STEP])
    model["Arguments"]["PrimaryContainer"]["ModelDataUrl"] = "s3://local-bucket/model/model.tar.gz"
    return {"Version": definition["Version"], "Parameters": definition["Parameters"], "Steps": [model, transform_step]}


def test_the_model_environment_sets_a_csv_default_accept(definition):
    from pipeline.pipelines import evaluation as pdef
    from steps.model import SERVING_ENV
    from tests.test_definition import steps_by_name

    steps = steps_by_name(definition)
    created = steps[pdef.CREATE_MODEL_STEP]["Arguments"]["PrimaryContainer"]["Environment"]
    registered = steps[pdef.REGISTER_STEP]["Arguments"]["InferenceSpecification"]["Containers"][0]["Environment"]
    assert created[ACCEPT_VARIABLE] == registered[ACCEPT_VARIABLE] == "text/csv"
    assert created == registered == SERVING_ENV


@pytest.mark.parametrize("environment, accept, refused", [
    ("as built", "as built", None),
    ("as built", None, None),  # no TransformOutput.Accept: the model's default, text/csv
    ("as built", "application/json", "application/json"),
    ("without the default", None, "application/json"),
    ("without the default", "as built", None),
])
def test_the_runner_serves_with_the_model_containers_environment(tmp_path, packaged, serving_definition,
                                                                 environment, accept, refused):
    from pipeline.local.runner import LocalRunner

    model_step, transform_step = serving_definition["Steps"]
    if environment != "as built":
        del model_step["Arguments"]["PrimaryContainer"]["Environment"][ACCEPT_VARIABLE]
    if accept is None:
        del transform_step["Arguments"]["TransformOutput"]["Accept"]
    elif accept != "as built":
        transform_step["Arguments"]["TransformOutput"]["Accept"] = accept
    runner = LocalRunner(tmp_path, registry=None, emit=lambda line: None)
    runner.store.put_file("s3://local-bucket/model/model.tar.gz", packaged["archive"])
    runner.store.put_bytes("s3://local-bucket/test/test.csv", packaged["csv"].encode())
    result = runner.run(serving_definition, pipeline_name="p", overrides={"TestDataUrl": "s3://local-bucket/test/"})
    step = result.steps[-1]
    if refused is None:
        assert (result.status, step.status) == ("Succeeded", "Succeeded"), step.failure_reason
        output = result.properties[step.name]["TransformOutput"]["S3OutputPath"].rstrip("/") + "/test.csv.out"
        assert runner.store.get_bytes(output).decode().splitlines() == packaged["expected"]
    else:
        assert (result.status, step.status) == ("Failed", "Failed")
        assert step.failure_reason.startswith(
            "ClientError: test.csv: records 1-300: the model container answered HTTP 500 (ValueError: "
            f"unsupported accept type {refused!r}"), step.failure_reason
        if accept is None:
            assert f"{ACCEPT_VARIABLE}, unset: the container's default 'application/json'" in step.failure_reason


def test_the_transform_jobs_environment_is_set_on_top_of_the_models(tmp_path, packaged, serving_definition):
    """CreateTransformJob's Environment reaches the container: here it gives the default Accept the model lacks."""
    from pipeline.local.runner import LocalRunner

    model_step, transform_step = serving_definition["Steps"]
    del model_step["Arguments"]["PrimaryContainer"]["Environment"][ACCEPT_VARIABLE]
    del transform_step["Arguments"]["TransformOutput"]["Accept"]
    transform_step["Arguments"]["Environment"] = dict(CSV_DEFAULT)
    runner = LocalRunner(tmp_path, registry=None, emit=lambda line: None)
    runner.store.put_file("s3://local-bucket/model/model.tar.gz", packaged["archive"])
    runner.store.put_bytes("s3://local-bucket/test/test.csv", packaged["csv"].encode())
    result = runner.run(serving_definition, pipeline_name="p", overrides={"TestDataUrl": "s3://local-bucket/test/"})
    assert result.status == "Succeeded", result.failure_reason


@pytest.mark.parametrize("member, value, message", [
    (("TransformInput", "SplitType"), "RecordIO", "unsupported SplitType 'RecordIO': use Line or None"),
    (("TransformInput", "CompressionType"), "Gzip", "unsupported CompressionType 'Gzip'"),
    (("MaxPayloadInMB",), 0, "MaxPayloadInMB must be between 1 and 100, not 0 (0, HTTP chunked encoding"),
])
def test_an_unsupported_job_fails_its_step_with_one_line(tmp_path, packaged, serving_definition, member, value,
                                                          message):
    from pipeline.local.runner import LocalRunner

    _, transform_step = serving_definition["Steps"]
    *parents, name = member
    target = transform_step["Arguments"]
    for parent in parents:
        target = target[parent]
    target[name] = value
    runner = LocalRunner(tmp_path, registry=None, emit=lambda line: None)
    runner.store.put_file("s3://local-bucket/model/model.tar.gz", packaged["archive"])
    result = runner.run(serving_definition, pipeline_name="p", overrides={"TestDataUrl": "s3://local-bucket/test/"})
    step = result.steps[-1]
    assert (result.status, step.status) == ("Failed", "Failed")
    assert step.failure_reason.startswith(message) and "\n" not in step.failure_reason, step.failure_reason


# --- TransformSpec: the CreateTransformJob request, read once, with SageMaker's defaults --------------------


def request(**members) -> dict:
    """The smallest CreateTransformJob request the runner accepts, with ``members`` on top."""
    return {
        "ModelName": "m-1",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/test/"}}},
        "TransformOutput": {"S3OutputPath": "s3://b/out"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **members,
    }


def test_the_definitions_request_reads_as_the_pipelines_job(definition):
    from pipeline.pipelines import evaluation as pdef
    from pipeline.local.expressions import Scope, evaluate
    from pipeline.local.ordering import all_step_names
    from pipeline.parameters import resolve_parameters
    from tests.test_definition import steps_by_name

    arguments = steps_by_name(definition)[pdef.TRANSFORM_STEP]["Arguments"]
    scope = Scope(parameters=resolve_parameters(definition["Parameters"], {"TestDataUrl": "s3://b/test/"}),
                  execution={"PipelineExecutionId": "e1"}, steps={pdef.CREATE_MODEL_STEP: {"ModelName": "m-1"}},
                  known_steps=frozenset(all_step_names(definition["Steps"])))
    spec = TransformSpec.from_request(evaluate(arguments, scope))
    assert spec == TransformSpec(
        model_name="m-1", input_uri="s3://b/test/", content_type="text/csv", split_type="Line",
        output_path=spec.output_path, accept="text/csv", assemble_with="Line", input_filter="$[1:]",
        join_source="Input", output_filter="$[0,-1]", batch_strategy="MultiRecord", max_payload_mb=6,
        max_concurrent_transforms=1,
    )
    assert spec.output_path.endswith("/executions/e1/transform")
    assert (spec.plan.drop, spec.plan.prefix, spec.plan.last_only, spec.plan.vectorised) == (1, 1, True, True)


# (request members, the spec's fields): what a request leaves unset is SageMaker's default.
DEFAULTS = [
    ({}, {"content_type": None, "split_type": "None", "accept": None, "assemble_with": "None", "input_filter": "$",
          "join_source": "None", "output_filter": "$", "batch_strategy": "MultiRecord", "max_payload_mb": 6,
          "max_concurrent_transforms": 1, "environment": {}}),
    ({"MaxConcurrentTransforms": 0}, {"max_concurrent_transforms": 1}),  # 0: as unset
    ({"MaxConcurrentTransforms": 3, "MaxPayloadInMB": 33}, {"max_concurrent_transforms": 3, "max_payload_mb": 33}),
    ({"BatchStrategy": "SingleRecord", "Environment": {"A": "1"}}, {"batch_strategy": "SingleRecord",
                                                                   "environment": {"A": "1"}}),
    ({"DataProcessing": {"JoinSource": "Input"},
      "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/t"}}, "ContentType": "text/csv"}},
     {"join_source": "Input", "input_uri": "s3://b/t", "content_type": "text/csv", "input_filter": "$"}),
]


@pytest.mark.parametrize("members, expected", DEFAULTS)
def test_a_request_without_a_member_gets_sagemakers_default(members, expected):
    spec = TransformSpec.from_request(request(**members))
    assert {name: getattr(spec, name) for name in expected} == expected
    assert (spec.model_name, spec.output_path) == ("m-1", "s3://b/out")


def with_input(**members) -> dict:
    source = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/test/"}}}
    return {"TransformInput": {**source, **members}}


@pytest.mark.parametrize("members, message", [
    ({"TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://b/m"}}}},
     "unsupported S3DataType 'ManifestFile': use S3Prefix"),
    (with_input(CompressionType="Gzip"), "unsupported CompressionType 'Gzip': the local runner reads uncompressed"),
    (with_input(SplitType="TFRecord"), "unsupported SplitType 'TFRecord': use Line or None"),
    ({"BatchStrategy": "Huge"}, "unsupported BatchStrategy 'Huge': use MultiRecord or SingleRecord"),
    ({"TransformOutput": {"S3OutputPath": "s3://b/o", "AssembleWith": "Comma"}}, "unsupported AssembleWith 'Comma'"),
    ({"DataProcessing": {"JoinSource": "Output"}}, "unsupported JoinSource 'Output': use None or Input"),
    ({"MaxPayloadInMB": 0}, "MaxPayloadInMB must be between 1 and 100, not 0 (0, HTTP chunked encoding, is not "
                            "emulated)"),
    ({"MaxPayloadInMB": "6"}, "MaxPayloadInMB must be between 1 and 100, not '6'"),
    ({"MaxConcurrentTransforms": -1}, "MaxConcurrentTransforms must be a positive integer, not -1"),
    ({"MaxConcurrentTransforms": 5, "MaxPayloadInMB": 30},
     "MaxConcurrentTransforms × MaxPayloadInMB must be at most 100 MB, not 5 × 30: lower one of them"),
    ({"MaxConcurrentTransforms": 17}, "MaxConcurrentTransforms × MaxPayloadInMB must be at most 100 MB, not 17 × 6"),
    ({"DataProcessing": {"InputFilter": "$[1:]"}},
     "InputFilter/JoinSource/OutputFilter are emulated for text/csv only, not an unset ContentType: send CSV with "
     "TransformInput.ContentType text/csv, or drop DataProcessing"),
    ({**with_input(ContentType="application/jsonlines"), "DataProcessing": {"JoinSource": "Input"}},
     "InputFilter/JoinSource/OutputFilter are emulated for text/csv only, not 'application/jsonlines'"),
    ({**with_input(ContentType="text/csv"), "DataProcessing": {"InputFilter": "$.features"}},
     "unsupported filter '$.features'"),
    ({"Environment": {f"V{i}": "x" for i in range(17)}},
     "Environment has 17 variables: CreateTransformJob allows at most 16"),
    ({"Environment": {"A": 1}}, "Environment 'A': names and values must be strings, not 1"),
])
def test_an_unsupported_request_is_refused_in_one_line(members, message):
    with pytest.raises(TransformError) as error:
        TransformSpec.from_request(request(**members))
    assert str(error.value).startswith(message) and "\n" not in str(error.value), str(error.value)


@pytest.mark.parametrize("missing", ["ModelName", "TransformInput", "TransformOutput"])
def test_a_request_without_a_required_member_is_malformed(missing):
    """The runner reports a KeyError as the step's malformed arguments, naming the member."""
    incomplete = request()
    del incomplete[missing]
    with pytest.raises(KeyError, match=missing):
        TransformSpec.from_request(incomplete)


def test_the_spec_is_frozen_and_keeps_its_own_environment():
    environment = {"A": "1"}
    spec = TransformSpec(environment=environment)
    environment["B"] = "2"
    assert spec.environment == {"A": "1"}
    with pytest.raises(AttributeError):
        spec.split_type = "Line"


@pytest.mark.parametrize("spec, headers", [
    (TransformSpec(split_type="Line"), ("application/json", None)),
    (job(accept="*/*"), ("text/csv", "*/*")),
])
def test_the_requests_carry_the_jobs_content_type_and_accept(tmp_path, spec, headers):
    """A job without ContentType sends none, which the container reads as application/json; a job without
    Accept sends none, which reaches the handlers as None (``ServingHandlers`` answers with the model's default)."""

    class Headers(Recorder):
        def invoke(self, body, content_type, accept):
            self.requests.append((content_type, accept))
            return b"1\n" * body.count(b"\n")

    model = Headers()
    (tmp_path / "d.csv").write_text(ROWS)
    run_transform(spec, model, [tmp_path / "d.csv"], tmp_path / "out")
    assert model.requests == [headers]

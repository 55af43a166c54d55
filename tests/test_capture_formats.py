"""Reading Data Capture and header CSVs as Model Monitor does: the real files under
../shared/reference/model-monitor/, and built records of every encoding, layout and malformation."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from processing_scripts import capture, csv_dataset
from processing_scripts import monitor as script
from processing_scripts.columns import DataError, Dataset
from tests.helpers import assert_one_line

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "model-monitor"
if not REFERENCE.is_dir():  # a worktree beside the main checkout
    REFERENCE = Path("/work/shared/reference/model-monitor")
CHURN = REFERENCE / "churn-example"


# --------------------------------------------------------------------------------------------- helpers

def part(data: str, encoding: str = "CSV", content_type: str | None = "text/csv", mode: str = "INPUT") -> dict:
    body = {"mode": mode, "data": data, "encoding": encoding}
    if content_type is not None:
        body["observedContentType"] = content_type
    return body


def record(inputs: dict | None = None, outputs: dict | None = None) -> str:
    data = {}
    if inputs is not None:
        data["endpointInput"] = inputs
    if outputs is not None:
        data["endpointOutput"] = {**outputs, "mode": "OUTPUT"}
    return json.dumps({"captureData": data, "eventMetadata": {"eventId": "e", "inferenceTime": "2024-01-01T00:00:00Z"},
                       "eventVersion": "0"}) + "\n"


def csv_record(inputs: str, outputs: str | None = "0.5") -> str:
    return record(part(inputs), None if outputs is None else part(outputs))


def json_record(inputs, outputs=None) -> str:
    return record(part(json.dumps(inputs), "JSON", "application/json"),
                  None if outputs is None else part(json.dumps(outputs), "JSON", "application/json"))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def values(column) -> list:
    """A column's present values as the reader typed them, sorted (numbers as floats, text as text)."""
    if column.inferred_type == "String":
        return sorted(column.strings.tolist())
    return column.numbers.tolist()


def expected(raw: list[str | None]) -> list:
    """What :func:`values` gives for a column holding these raw texts (None or "" missing)."""
    present = [v for v in raw if v not in (None, "")]
    try:
        return sorted(float(v) for v in present)
    except ValueError:
        return sorted(present)


def table(dataset: Dataset) -> list[list]:
    return [values(c) for c in dataset.columns]


def read_lines(tmp_path: Path, lines: str, name: str = "c.jsonl", **options) -> Dataset:
    path = tmp_path / name
    path.write_text(lines)
    return capture.read_capture(path, shown=lambda p: p.name, **options)


# --------------------------------------------------------------------------------- the real capture files

def _csv_rows(text: str) -> list[list[str]]:
    return [line.split(",") for line in text.splitlines() if line]


def rows_of_real_csv_capture(path: Path) -> list[list[str]]:
    """The rows of a real CSV capture file, read independently: output fields, then input fields."""
    rows = []
    for line in path.read_text().splitlines():
        data = json.loads(line)["captureData"]
        inputs = _csv_rows(data["endpointInput"]["data"])
        outputs = _csv_rows(data["endpointOutput"]["data"]) if "endpointOutput" in data else [[]] * len(inputs)
        rows += [o + i for o, i in zip(outputs, inputs, strict=True)]
    return rows


REAL = {  # file: (rows, output fields, input fields)
    "sdk/monitor/capture.jsonl": (44, 1, 7),
    "aws-docs/data-capture-endpoint-sample.jsonl": (2, 1, 69),  # data ends in a newline
    "churn-example/notebook-outputs/capture_lines_from_notebook.jsonl": (3, 1, 69),
}


@pytest.mark.parametrize("name", REAL)
def test_real_csv_captures_are_read_output_first_with_every_value(name):
    rows, output_width, input_width = REAL[name]
    data = capture.read_capture(REFERENCE / name)
    assert (data.item_count, data.output_width, data.input_width) == (rows, output_width, input_width)
    assert (data.record_count, data.skipped, data.header) == (rows, [], False)
    assert [c.name for c in data.columns] == [f"_c{i}" for i in range(output_width + input_width)]
    raw = rows_of_real_csv_capture(REFERENCE / name)
    assert len(raw) == rows
    assert table(data) == [expected(list(column)) for column in zip(*raw)]


def test_real_notebook_capture_lines_up_with_the_churn_baseline():
    """_c0 is the captured probability, under the baseline's label Churn; _c1.. the 69 inputs."""
    data = capture.read_capture(CHURN / "notebook-outputs" / "capture_lines_from_notebook.jsonl")
    baseline = json.loads((REFERENCE / "reconstructed" / "churn_mm_baseline" / "statistics.json").read_text())
    assert len(data.columns) == len(baseline["features"]) == 70 and baseline["features"][0]["name"] == "Churn"
    assert values(data.columns[0]) == [0.017852725461125374, 0.036397725343704224, 0.3791300654411316]
    assert data.columns[0].inferred_type == "Fractional"
    assert values(data.columns[1]) == [85.0, 130.0, 132.0]  # Account Length, the first input
    assert [c.inferred_type for c in data.columns[1:4]] == ["Integral", "Integral", "Fractional"]


def test_real_json_capture_is_three_rows_per_record():
    """{"instances": [1.0, 2.0, 5.0]} -> {"predictions": [3.5, 4.0, 5.5]}: 3 rows of one input and one output."""
    data = capture.read_capture(REFERENCE / "sdk" / "monitor" / "captured-data.jsonl")
    assert (data.item_count, data.output_width, data.input_width, data.record_count) == (6, 1, 1, 2)
    assert table(data) == [[3.5, 3.5, 4.0, 4.0, 5.5, 5.5], [1.0, 1.0, 2.0, 2.0, 5.0, 5.0]]
    assert [c.inferred_type for c in data.columns] == ["Fractional", "Fractional"]  # 1.0 as written, not 1


@pytest.mark.parametrize("name", [*REAL, "sdk/monitor/captured-data.jsonl"])
def test_real_captures_are_sniffed_as_captures(name):
    assert capture.sniff_format(REFERENCE / name) == "capture"
    assert capture.read_dataset(REFERENCE / name).item_count == capture.read_capture(REFERENCE / name).item_count


# ----------------------------------------------------------------------------- built records, read well

GOOD = {  # name: (rows per record, capture lines, output width, input width, columns as values() gives them)
    "CSV, one row": (1, csv_record("1,2.5,a", "0.7"), 1, 3, [[0.7], [1.0], [2.5], ["a"]]),
    "CSV, several rows": (2, csv_record("1,2\n3,4", "0.1\n0.9"), 1, 2, [[0.1, 0.9], [1.0, 3.0], [2.0, 4.0]]),
    "CSV, a final newline": (2, csv_record("1,2\n3,4\n", "0.1\n0.9\n"), 1, 2, [[0.1, 0.9], [1.0, 3.0], [2.0, 4.0]]),
    "CSV, CRLF and CR": (3, csv_record("1,2\r\n3,4\r5,6", "0.1\r\n0.9\r0.5"), 1, 2,
                         [[0.1, 0.5, 0.9], [1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]),
    "CSV, quoted and missing fields": (1, csv_record('"a,b",,"x ""y"""', "1"), 1, 3, [[1.0], ["a,b"], [], ['x "y"']]),
    "CSV, two outputs per row": (2, csv_record("1,2\n3,4", "0,0.1\n1,0.9"), 2, 2, [[0.0, 1.0], [0.1, 0.9], [1.0, 3.0], [2.0, 4.0]]),
    "CSV, charset in the content type": (1, record(part("1,2"), part("0.5", content_type="text/csv; charset=utf-8")),
                                         1, 2, [[0.5], [1.0], [2.0]]),
    "CSV, no content type": (1, record(part("1,2", content_type=None)), 0, 2, [[1.0], [2.0]]),
    "BASE64 CSV": (2, record(part(b64("1,2\n3,4\n"), "BASE64"), part(b64("0.1\n0.9"), "BASE64")), 1, 2,
                   [[0.1, 0.9], [1.0, 3.0], [2.0, 4.0]]),
    "BASE64 JSON": (2, record(part(b64('{"instances": [[1, 2], [3, 4]]}'), "BASE64", "application/json"),
                           part(b64('{"predictions": [0.1, 0.9]}'), "BASE64", "application/json")), 1, 2,
                    [[0.1, 0.9], [1.0, 3.0], [2.0, 4.0]]),
    "JSON instances of rows": (2, json_record({"instances": [[1, 2], [3, 4]]}, {"predictions": [0.1, 0.9]}), 1, 2,
                               [[0.1, 0.9], [1.0, 3.0], [2.0, 4.0]]),
    "JSON inputs and scores": (1, json_record({"inputs": [[1, 2]]}, {"scores": [[0.3, 0.7]]}), 2, 2,
                               [[0.3], [0.7], [1.0], [2.0]]),
    "JSON outputs key": (2, json_record({"instances": [1, 2]}, {"outputs": [5, 6]}), 1, 1, [[5.0, 6.0], [1.0, 2.0]]),
    "JSON bare list of rows": (2, json_record([[1, 2], [3, 4]], [0.1, 0.9]), 1, 2, [[0.1, 0.9], [1.0, 3.0], [2.0, 4.0]]),
    "JSON single flat row": (1, json_record([1, 2, 3], [0.3, 0.7]), 2, 3, [[0.3], [0.7], [1.0], [2.0], [3.0]]),
    "JSON scalars": (1, json_record(4, 0.25), 1, 1, [[0.25], [4.0]]),
    "JSON null, text, booleans": (2, json_record([[None, "a,b", True], [2, "c", False]], [[1], [0]]), 1, 3,
                                  [[0.0, 1.0], [2.0], ["a,b", "c"], ["false", "true"]]),
    "JSON lone missing value": (3, json_record({"instances": [None, 1, None]}), 0, 1, [[1.0]]),
    "JSON with encoding CSV and a JSON type": (1, record(part('{"instances": [[1]]}', "CSV", "application/json")), 0, 1,
                                               [[1.0]]),
    "input only": (2, csv_record("1,2\n3,4", None), 0, 2, [[1.0, 3.0], [2.0, 4.0]]),
    "output only": (2, record(None, part("0.1\n0.9")), 1, 0, [[0.1, 0.9]]),
    "output only, JSON": (3, record(None, part('{"predictions": [0.2, 0.4, 0.6]}', "JSON", "application/json")), 1, 0,
                          [[0.2, 0.4, 0.6]]),
}


@pytest.mark.parametrize("name", GOOD)
def test_built_records_are_read_in_model_monitors_layout(tmp_path, name):
    rows, (lines, output_width, input_width, columns) = GOOD[name][0], GOOD[name][1:]
    data = read_lines(tmp_path, lines + "\n" + lines)  # a blank line between records is no record
    assert (data.output_width, data.input_width, data.record_count, data.skipped) == (output_width, input_width, 2, [])
    assert [c.name for c in data.columns] == [f"_c{i}" for i in range(output_width + input_width)]
    assert table(data) == [sorted(v * 2) for v in columns]
    assert data.item_count == 2 * rows
    assert all(c.num_present + c.num_missing == 2 * rows for c in data.columns)


def test_missing_values_are_counted_and_types_follow_the_text(tmp_path):
    data = read_lines(tmp_path, json_record({"instances": [[None, "1"], [1.5, "x"], [2, None]]}))
    assert [(c.inferred_type, c.num_present, c.num_missing) for c in data.columns] == [
        ("Fractional", 2, 1), ("String", 2, 1)]
    assert data.item_count == 3


def test_json_numbers_keep_the_text_the_body_holds(tmp_path):
    data = read_lines(tmp_path, json_record({"instances": [[1, 1.0, 1e3]]}))
    assert [c.inferred_type for c in data.columns] == ["Integral", "Fractional", "Fractional"]
    body = '{"instances": [["x"], [1.50], [1E2], [7]]}'  # in a text column, numbers are the text written
    data = read_lines(tmp_path, record(part(body, "JSON", "application/json")))
    assert data.columns[0].strings.tolist() == ["x", "1.50", "1E2", "7"]


def test_the_pandas_reader_reads_captures_the_same(tmp_path, monkeypatch):
    lines = "".join(GOOD[name][1] for name in ("CSV, several rows", "JSON instances of rows", "BASE64 CSV"))
    lines += json_record({"instances": [[None, 7]]}, {"predictions": [None]})
    with_arrow = read_lines(tmp_path, lines)
    monkeypatch.setattr(csv_dataset, "pacsv", None)
    with_pandas = read_lines(tmp_path, lines)
    assert table(with_pandas) == table(with_arrow)
    assert [(c.inferred_type, c.num_missing) for c in with_pandas.columns] == [
        (c.inferred_type, c.num_missing) for c in with_arrow.columns]


def test_a_capture_folder_reads_every_file_below_it(tmp_path):
    folder = tmp_path / "capture" / "AllTraffic" / "2024" / "05" / "01"
    (folder / "13").mkdir(parents=True)
    (folder / "13" / "a.jsonl").write_text(csv_record("1,2", "0.1"))
    (folder / "b.jsonl").write_text(csv_record("3,4\n5,6\n", "0.2\n0.3\n"))
    data = capture.read_dataset(tmp_path / "capture")
    assert table(data) == [[0.1, 0.2, 0.3], [1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]
    assert (data.record_count, data.item_count, len(data.sources)) == (2, 3, 2)


# --------------------------------------------------------------------------- malformed records, skipped

MALFORMED = {  # name: (the bad line, its reason)
    "not JSON": ("{truncated\n", "not JSON (Expecting property name enclosed in double quotes); each line must be "
                                 "one Data Capture record"),
    "a JSON list": ("[1, 2]\n", "no captureData.endpointInput or endpointOutput; this is not a SageMaker Data "
                                "Capture record"),
    "no captureData": ('{"eventVersion": "0"}\n', "no captureData.endpointInput or endpointOutput; this is not a "
                                                  "SageMaker Data Capture record"),
    "input not an object": ('{"captureData": {"endpointInput": "1,2"}}\n',
                            "captureData.endpointInput is not an object; this is not a SageMaker Data Capture record"),
    "no data": (record({"encoding": "CSV"}), "captureData.endpointInput.data is missing or not a string"),
    "unknown encoding": (record(part("1,2", "GZIP")), "unknown encoding 'GZIP'; Data Capture encodings CSV, JSON "
                                                       "and BASE64 are supported"),
    "undecodable BASE64": (record(part("not base64!", "BASE64")), "BASE64 data does not decode to UTF-8 text"),
    "BASE64 of bytes": (record(part(base64.b64encode(b"\xff\xfe1,2").decode(), "BASE64")),
                        "BASE64 data does not decode to UTF-8 text ('utf-8' codec can't decode"),
    "unsupported content type": (record(part(b64("x"), "BASE64", "application/x-npy")),
                                 "observedContentType 'application/x-npy' is not text/csv or application/json; only "
                                 "CSV and JSON requests can be checked"),
    "undecodable JSON body": (record(part("{1, 2", "JSON", "application/json")),
                              "the input is not JSON (Expecting property name enclosed in double quotes)"),
    "JSON without a known key": (json_record({"features": [1, 2]}),
                                 "the input's JSON object has none of the keys instances, inputs"),
    "JSON objects as rows": (json_record({"instances": [{"a": 1, "b": 2}]}),
                             "the input's JSON rows are objects; send rows as lists of values"),
    "JSON rows and values mixed": (json_record([[1, 2], 3]), "the input's JSON mixes rows and other values"),
    "JSON nested values": (json_record([[1, [2, 3]]]), "the input's JSON rows hold a nested value"),
    "JSON ragged rows": (json_record([[1, 2], [3]]), "the input's JSON rows have 2 and 1 values"),
    "JSON line break in a value": (json_record([["a\nb", 2]]), "a value of the input's JSON holds a line break"),
    "a lone surrogate": (record(part("1,\\ud800")).replace("\\\\ud800", "\\ud800"),
                         "a value holds a lone UTF-16 surrogate"),
    "unreadable CSV": (csv_record('"1"2,3'), "the input's CSV is unreadable (broken quoting (',' expected after "
                                             "'\"')); quote a whole field"),
    "a quoted field over two lines": (csv_record('"1\n2",3'), "the input's CSV is unreadable"),
    "ragged CSV request": (csv_record("1,2\n3", "0\n1"), "the input's rows have 2 and 1 fields"),
    "empty input": (csv_record("", "0.5"), "the input holds no rows"),
    "fewer outputs than inputs": (csv_record("1,2\n3,4", "0.5"),
                                  "the output has 1 row but the input 2; a request needs one output row per input row"),
    "more outputs than inputs": (json_record([[1, 2]], {"predictions": [0.1, 0.2]}),
                                 "the output has 2 rows but the input 1"),
    "another input width": (csv_record("1,2,3", "0.5"),
                            "a request has 4 fields but 100 of the 101 readable records have 3 (the most, as c.jsonl:1); "
                            "every record needs the same columns"),
    "no output where most have one": (csv_record("1,2", None),
                                      "a request has 2 fields (0 from the endpoint output, theirs 1) but 100 of the 101 "
                                      "readable records have 3 (the most, as c.jsonl:1)"),
    "an output where most have none": (record(None, part("0.5,0.5,0.5")), "a request has 3 fields (3 from the "
                                                                          "endpoint output, theirs 1)"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_record_is_skipped_counted_and_named(tmp_path, name):
    bad, reason = MALFORMED[name]
    good = [csv_record(f"{i},{i + 1}", f"0.{i % 10}") for i in range(100)]
    data = read_lines(tmp_path, "".join(good[:50]) + bad + "".join(good[50:]))
    assert data.record_count == 101 and data.item_count == 100
    assert len(data.skipped) == 1
    where, why = data.skipped[0]
    assert where == "c.jsonl:51" and why.startswith(reason), why
    assert_one_line(why)
    assert table(data) == [expected([f"0.{i % 10}" for i in range(100)]), [float(i) for i in range(100)],
                           [float(i + 1) for i in range(100)]]


@pytest.mark.parametrize("name", MALFORMED)
def test_a_lone_malformed_record_is_an_error_naming_it(tmp_path, name):
    bad, reason = MALFORMED[name]
    with pytest.raises(DataError) as error:
        read_lines(tmp_path, csv_record("1,2", "0.5") + bad)
    # A shape's reason counts the records: here 2.
    assert_one_line(str(error.value), f"c.jsonl:2: {reason.split(' but ')[0]}", "1 of 2 capture records skipped (50%, above the 5% limit)",
                    "fix or remove the malformed records")


@pytest.mark.parametrize("bad, limit, message", [
    (5, None, None),  # 5 of 100: at the limit, not above it
    (6, None, "c.jsonl:3: not JSON (Expecting value); each line must be one Data Capture record; 6 of 100 capture "
              "records skipped (6%, above the 5% limit): fix or remove the malformed records"),
    (1, 0.0, "1 of 100 capture records skipped (1%, above the 0% limit)"),
    (20, 0.25, None),
    (100, 1.0, "c.jsonl:1: not JSON (Expecting value); each line must be one Data Capture record; none of the 100 "
               "capture records is usable: fix or remove the malformed records"),
])
def test_the_skipped_share_limit(tmp_path, bad, limit, message):
    lines = ["oops\n" if i % 3 == 2 and i // 3 < bad or bad == 100 else csv_record(f"{i},1") for i in range(100)]
    options = {} if limit is None else {"max_skipped_share": limit}
    if message is None:
        data = read_lines(tmp_path, "".join(lines), **options)
        assert len(data.skipped) == bad and data.record_count == 100 and data.item_count == 100 - bad
        return
    with pytest.raises(DataError) as error:
        read_lines(tmp_path, "".join(lines), **options)
    assert_one_line(str(error.value), message)


def test_the_limit_is_declared_once_and_read_dataset_passes_it(tmp_path):
    assert capture.MAX_SKIPPED_SHARE == 0.05
    path = tmp_path / "c.jsonl"
    path.write_text(csv_record("1,2") * 9 + "oops\n")
    with pytest.raises(DataError, match="1 of 10 capture records skipped"):
        capture.read_dataset(path)
    assert len(capture.read_dataset(path, max_skipped_share=0.1).skipped) == 1


def test_a_tie_of_shapes_keeps_the_first_seen(tmp_path):
    data = read_lines(tmp_path, csv_record("1,2") + csv_record("1,2,3"), max_skipped_share=0.5)
    assert (data.input_width, data.skipped) == (2, [("c.jsonl:2", "a request has 4 fields but 1 of the 2 readable "
                                                     "records have 3 (the most, as c.jsonl:1); every record needs "
                                                     "the same columns")])


def test_skipped_records_are_listed_in_file_order_across_files(tmp_path):
    (tmp_path / "a.jsonl").write_text(csv_record("1,2,3") + csv_record("1,2") * 30)
    (tmp_path / "b.jsonl").write_text("oops\n" + csv_record("1,2") * 30)
    data = capture.read_capture(tmp_path, shown=lambda p: p.name, max_skipped_share=0.1)
    assert [where for where, _ in data.skipped] == ["a.jsonl:1", "b.jsonl:1"]
    assert data.record_count == 62 and data.item_count == 60


@pytest.mark.parametrize("content, message", [
    ("", "holds no captured requests"),
    ("\n\n", "holds no captured requests"),
])
def test_files_without_records_are_an_error(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        read_lines(tmp_path, content)


def test_file_level_problems_stay_errors(tmp_path):
    import gzip

    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(csv_record("1,2").encode()))
    with pytest.raises(DataError, match="c.jsonl.gz is gzip-compressed"):
        capture.read_capture(tmp_path / "c.jsonl.gz", shown=lambda p: p.name)


def test_too_many_skipped_records_exit_2_with_one_line_and_write_nothing(tmp_path, capsys):
    base = tmp_path / "base.csv"
    base.write_text("".join(f"0.{i % 10},{i},{i % 7}\n" for i in range(200)))
    assert script.main(["baseline", "--data", str(base), "--output-dir", str(tmp_path / "bl")]) == 0
    (tmp_path / "capture").mkdir()
    (tmp_path / "capture" / "c.jsonl").write_text(csv_record("1,2") * 10 + "oops\n")
    out = tmp_path / "out"
    code = script.main(["check", "--baseline-dir", str(tmp_path / "bl"), "--data", str(tmp_path / "capture"),
                        "--output-dir", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert not out.exists() or not any(out.iterdir())
    assert_one_line(err.rstrip("\n"), "error: c.jsonl:11: not JSON", "1 of 11 capture records skipped")


# ------------------------------------------------------------------------------------------------- sniff

@pytest.mark.parametrize("content, kind", [
    (json_record({"instances": [1]}), "capture"),
    ("\ufeff" + csv_record("1,2"), "capture"),
    ("  \n" + csv_record("1,2"), "capture"),
    ("a,b\n1,2\n", "csv"),
    ("1,{x}\n", "csv"),
])
def test_sniff_format(tmp_path, content, kind):
    path = tmp_path / "d"
    path.write_text(content, encoding="utf-8")
    assert capture.sniff_format(path) == kind


# --------------------------------------------------------------------------------------------- header CSV

def test_a_header_names_the_columns_of_the_churn_training_set():
    with_header = csv_dataset.read_csv(CHURN / "training-dataset-with-header.csv", header=True)
    header = (CHURN / "training-dataset-with-header.csv").read_text().splitlines()[0].split(",")
    assert [c.name for c in with_header.columns] == header and header[0] == "Churn"
    assert with_header.header and with_header.item_count == 2333
    plain = csv_dataset.read_csv(CHURN / "training-dataset-without-header.csv")
    assert not plain.header and [c.name for c in plain.columns] == [f"_c{i}" for i in range(70)]
    assert table(with_header) == table(plain)


@pytest.mark.parametrize("keep_label, names", [
    (False, lambda header: header[1:]),
    (True, lambda header: header),
])
def test_header_with_a_first_column_label(keep_label, names):
    header = (CHURN / "training-dataset-with-header.csv").read_text().splitlines()[0].split(",")
    data = csv_dataset.read_csv(CHURN / "training-dataset-with-header.csv", header=True, label_column="first",
                                keep_label=keep_label)
    assert [c.name for c in data.columns] == names(header)
    plain = csv_dataset.read_csv(CHURN / "training-dataset-without-header.csv", label_column="first",
                                 keep_label=keep_label)
    width = 70 if keep_label else 69
    assert [c.name for c in plain.columns] == [f"_c{i}" for i in range(width)]
    assert table(data) == table(plain) and len(data.columns) == width
    if keep_label:
        assert data.columns[0].name == "Churn" and set(values(data.columns[0])) == {0.0, 1.0}


def test_keep_label_still_checks_the_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("y,a\n1,2\n2,3\n")
    with pytest.raises(DataError) as error:
        csv_dataset.read_csv(path, header=True, label_column="first", keep_label=True, shown=lambda p: p.name)
    assert str(error.value) == "d.csv line 3: label '2' is not 0 or 1; labels must be binary 0/1"


def test_every_value_of_a_header_csv_matches_the_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('\ufeffid,"x, y",,name\r\n1,2.5,,a\r\n2,,7,"b,c"\r\n')
    data = csv_dataset.read_csv(path, header=True)
    assert [c.name for c in data.columns] == ["id", "x, y", "_c2", "name"]  # Spark names a nameless column _c<i>
    assert table(data) == [[1.0, 2.0], [2.5], [7.0], ["a", "b,c"]]
    assert [c.num_missing for c in data.columns] == [0, 1, 1, 0] and data.item_count == 2


def test_header_files_merge_and_a_text_column_rereads_below_the_header(tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_text("n,v\n1,2\n")
    (tmp_path / "b.csv").write_text("n,v\n3,x\n")
    (tmp_path / "c.csv").write_text("n,v\n")  # a header, no rows
    for reader in ("arrow", "pandas"):
        if reader == "pandas":
            monkeypatch.setattr(csv_dataset, "pacsv", None)
        data = csv_dataset.read_csv(tmp_path, header=True)
        assert [(c.name, c.inferred_type) for c in data.columns] == [("n", "Integral"), ("v", "String")], reader
        assert table(data) == [[1.0, 3.0], ["2", "x"]] and data.item_count == 2


@pytest.mark.parametrize("files, options, message", [
    ({"a.csv": "x,y\n1,2\n", "b.csv": "x,z\n3,4\n"}, {},
     "b.csv line 1: header 'x,z' differs from a.csv's 'x,y'; every file of a data set needs the same header"),
    ({"a.csv": "x,y\n1,2,3\n"}, {}, "a.csv: the header names 2 columns but the rows have 3 fields; write one name "
                                    "per column"),
    ({"a.csv": "x,y\n1,2\n1,2,3\n"}, {}, "a.csv line 3: 3 fields, expected 2 as in the first row"),
    ({"a.csv": "x,x\n1,2\n"}, {}, "a.csv line 1: the header names 'x' twice; give every column its own name"),
    ({"a.csv": "1,2\n3,4\n"}, {}, "a.csv line 1: the header '1,2' holds only numbers, not column names; drop --header"),
    ({"a.csv": '"x,y\n1,2\n'}, {}, "a.csv line 1: broken quoting"),
    ({"a.csv": "\n1,2\n"}, {}, "a.csv line 1 is blank; with --header the first line must name the columns"),
    ({"a.csv": "x,y\n"}, {}, "a.csv holds no rows; pass CSV data (a header line, then one row per record)"),
    ({"a.csv": "y,a\n1,2\n1\n"}, {"label_column": "first"}, "a.csv line 3: 1 fields, expected 2"),
    ({"a.csv": "y,a\nyes,2\n"}, {"label_column": "first"}, "a.csv line 2: label 'yes' is not 0 or 1"),
])
def test_header_problems_are_one_line_errors_naming_the_files(tmp_path, files, options, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(DataError) as error:
        csv_dataset.read_csv(tmp_path, header=True, shown=lambda p: p.name, **options)
    assert_one_line(str(error.value), message)


@pytest.mark.parametrize("label_column, message", [
    ("none", "d.csv: the first line 'f0,f1' looks like a header; pass --header if it names the columns, or remove it"),
    ("first", "d.csv line 1: header row 'label,f1' (the first line looks like a header); remove it: label-first data "
              "is lines 'label,feature,...' (label 0 or 1), without a header; or pass --header if it names the columns"),
])
def test_without_header_a_header_is_refused_with_header_as_the_fix(tmp_path, label_column, message):
    path = tmp_path / "d.csv"
    path.write_text(("f0,f1" if label_column == "none" else "label,f1") + "\n1,2\n")
    with pytest.raises(DataError) as error:
        csv_dataset.read_csv(path, label_column=label_column, shown=lambda p: p.name)
    assert str(error.value) == message
    assert capture.read_dataset(path, label_column=label_column, header=True).header


def test_read_dataset_passes_header_and_keep_label(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("label,a,b\n0,1,x\n1,2,y\n")
    data = capture.read_dataset(path, label_column="first", header=True, keep_label=True)
    assert [c.name for c in data.columns] == ["label", "a", "b"] and data.input_width is None
    data = capture.read_dataset(path, data_format="csv", label_column="first", header=True)
    assert [c.name for c in data.columns] == ["a", "b"]


def test_a_large_header_file_is_read_in_pieces_below_the_header(tmp_path):
    path = tmp_path / "d.csv"
    rows = np.random.default_rng(3).normal(size=(5000, 3))
    path.write_text("a,b,c\n" + "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in rows))
    columns, count = csv_dataset.read_csv_arrow(path, set(), piece_bytes=4096, start=len("a,b,c\n"))
    assert count == 5000
    assert [c.numbers.tolist() for c in columns] == [sorted(float(f"{v:.6f}") for v in rows[:, i]) for i in range(3)]

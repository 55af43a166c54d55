"""processing_scripts.labelled: one rule for label-first rows and label,score lines, shown reader by reader.

The tables run every row through every reader of label-first data (the champion/challenger scorer with
each CSV engine, the data-quality reader with pyarrow and with pandas, monitor.py's baseline command,
and ``labelled.read_labelled``, the endpoint evaluator's reader) and every transform-output line through
``predictions.read_predictions`` with each engine: the same verdict and, on refusal, the same one line.
"""
from __future__ import annotations

import contextlib
import io
import itertools
import random
import types

import numpy as np
import pytest

from processing_scripts import csv_dataset, fast_csv, labelled, monitor, predictions, scoring

ENGINES = ["pyarrow", "pandas"]


def _constant_model():
    """Container-style handlers scoring every row 0.5 (whatever its features, NaN included)."""
    def input_fn(body, content_type):
        return [line for line in body.splitlines()]

    return types.SimpleNamespace(model=None, input_fn=input_fn, predict_fn=lambda rows, model: [0.5] * len(rows),
                                 output_fn=lambda scores, accept: "".join(f"{s}\n" for s in scores))


def _scorer(engine):
    def read(path):
        return scoring.score_files(_constant_model(), path, engine=engine).y_true.tolist()
    return read


def _data_quality(engine):
    def read(path):
        with pytest.MonkeyPatch.context() as patch:
            if engine == "pandas":
                patch.setattr(csv_dataset, "pacsv", None)
            data = csv_dataset.read_csv(path, label_column="first")
        return data.item_count
    return read


def _monitor_baseline(path):
    """monitor.py baseline: its stderr line (after "error: ") when it exits 2. Run as pipeline.monitor
    runs it (files named as given; the container's main names them relative to --data)."""
    err = io.StringIO()
    args = monitor.parse(["baseline", "--data", str(path), "--output-dir", str(path.parent / "baseline-out"),
                          "--label-column", "first"])
    with contextlib.redirect_stderr(err):
        code, _ = monitor.run(args)
    if code != 0:
        assert code == 2 and err.getvalue().count("\n") == 1
        raise labelled.DataError(err.getvalue().removeprefix("error: ").rstrip("\n"))


def _endpoint_reader(engine):
    def read(path):
        return labelled.read_labelled(path, missing="pass the test data", engine=engine).labels.tolist()
    return read


# name -> (reader, numeric features required)
READERS = {
    **{f"scorer/{e}": (_scorer(e), True) for e in ENGINES},
    **{f"endpoint/{e}": (_endpoint_reader(e), True) for e in ENGINES},
    **{f"data_quality/{e}": (_data_quality(e), False) for e in ENGINES},
    "monitor baseline": (_monitor_baseline, False),
}

OK = None
# The fixes every message ends with, written out once here (the tables below pin the whole lines).
LABEL_FIRST_FIX = "label-first data is lines 'label,feature,...' (label 0 or 1), without a header"
SCORED_FIX = "the transform output must be lines 'label,score' (see the pipeline's output_filter)"
BLANK = "field 2 is blank (' '); write the value, or leave the field empty (',,') if it is missing"
WIDTH = "expected 3 (label + 2 features, as in the first row); every row needs the same columns"
QUOTES = "quote a whole field as \"...\", doubling any quote inside it, on one line"
# content of t.csv -> None (accepted) or the one-line message after "<file> "
LABEL_FIRST = {
    "plain": ("1,2,3\n0,4,5\n", OK),
    "quoted label and feature": ('"1",2,3\n"0","4",5\n', OK),
    "labels written as numbers": ("1.0,2,3\n0e0,4,5\n", OK),
    "spaces around numbers": (" 1 , 2 ,3\n0,\t4\t,5\n", OK),
    "CRLF": ("1,2,3\r\n0,4,5\r\n", OK),
    "CR": ("1,2,3\r0,4,5\r", OK),
    "no final newline": ("1,2,3\n0,4,5", OK),
    "empty lines": ("\n1,2,3\n\n0,4,5\n\n", OK),
    "empty feature is missing": ("1,,3\n0,4,5\n", OK),
    "quoted empty feature is missing": ('1,"",3\n0,4,5\n', OK),
    "blank feature": ("1,2,3\n1, ,4\n", f"line 2: {BLANK}"),
    "quoted blank feature": ('1,2,3\n1," ",4\n', f"line 2: {BLANK}"),
    "line of spaces": ("1,2,3\n   \n0,4,5\n", f"line 2: 1 fields, {WIDTH}"),
    "short row": ("1,2,3\n0,4\n", f"line 2: 2 fields, {WIDTH}"),
    "header": ("label,a,b\n1,2,3\n", "line 1: header row 'label,a,b' (the first line looks like a header); "
                                     f"remove it: {LABEL_FIRST_FIX}"),
    "label 2": ("1,2,3\n2,4,5\n", "line 2: label '2' is not 0 or 1; labels must be binary 0/1"),
    "label nan": ("1,2,3\nnan,4,5\n", "line 2: label 'nan' is not 0 or 1; labels must be binary 0/1"),
    "empty label": ("1,2,3\n,4,5\n", "line 2: the label is empty; labels must be binary 0/1"),
    "hexadecimal label": ("1,2,3\n0x1,4,5\n", "line 2: label '0x1' is not 0 or 1; labels must be binary 0/1"),
    "broken quotes": ('1,2,3\n"0"1,4,5\n', f"line 2: broken quoting (',' expected after '\"') in '\"0\"1,4,5'; {QUOTES}"),
    "label only": ("1\n0\n", f"line 1: 1 field, expected a label and at least one feature; {LABEL_FIRST_FIX}"),
}
# Rows whose features are text: refused where features must be numbers (the model's input), typed as
# String by the data-quality reader (Model Monitor types columns itself).
TEXT_FEATURES = {
    "text feature": ("1,2,3\n0,4,x\n", f"line 2: non-numeric field 'x'; {LABEL_FIRST_FIX}"),
    "NA feature": ("1,2,3\n0,NA,5\n", f"line 2: non-numeric field 'NA'; {LABEL_FIRST_FIX}"),
}


def _verdict(reader, path):
    try:
        reader(path)
    except labelled.DataError as error:
        return str(error)
    return OK


@pytest.mark.parametrize("case", [*LABEL_FIRST, *TEXT_FEATURES])
def test_every_label_first_reader_gives_the_same_verdict_and_message(tmp_path, case):
    content, message = {**LABEL_FIRST, **TEXT_FEATURES}[case]
    path = tmp_path / "t.csv"
    path.write_bytes(content.encode())
    for name, (reader, numeric) in READERS.items():
        expected = message if (numeric or case not in TEXT_FEATURES) else OK
        if case == "header" and (name.startswith("data_quality") or name == "monitor baseline"):  # Model Monitor reads headers when told to
            expected += "; or pass --header if it names the columns"
        verdict = _verdict(reader, path)
        assert verdict == (None if expected is None else f"{path} {expected}"), name


def test_issue_11_a_blank_field_is_refused_with_one_message_by_every_reader(tmp_path):
    """``1, ,4`` was accepted by the endpoint evaluator (and typed as text by the baseline) but refused
    by the pipeline's scorer: now every reader refuses it with the same line."""
    path = tmp_path / "t.csv"
    path.write_text("1,2,3\n1, ,4\n0,5,6\n")
    verdicts = {name: _verdict(reader, path) for name, (reader, _) in READERS.items()}
    assert set(verdicts.values()) == {f"{path} line 2: {BLANK}"}, verdicts


def test_accepted_rows_give_the_same_labels_to_every_reader(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'\n"1", 2 ,3\r\n\r\n0e0,,5\r1.0,"",7')
    for engine in ENGINES:
        assert _scorer(engine)(path) == [1, 0, 1]
        assert _endpoint_reader(engine)(path) == [1, 0, 1]
        assert _data_quality(engine)(path) == 3
    rows = list(labelled.iter_rows([path]))[0]
    assert rows.features == [b" 2 ,3", b",5", b'"",7'] and list(rows.line_numbers) == [2, 4, 5]


def test_widths_must_agree_across_files_with_the_same_message(tmp_path):
    (tmp_path / "a.csv").write_text("1,2,3\n0,2,3\n")
    (tmp_path / "b.csv").write_text("1,2\n")
    expected = f"{tmp_path / 'b.csv'} line 1: 2 fields, {WIDTH}"
    for name, (reader, _) in READERS.items():
        assert _verdict(reader, tmp_path) == expected, name


def test_messages_name_the_file_as_the_caller_shows_it(tmp_path):
    (tmp_path / "t.csv").write_text("1,2,3\n1, ,4\n")
    shown = lambda path: f"s3://bucket/test/{path.name}"  # noqa: E731
    for call in (lambda: labelled.read_labelled(tmp_path, missing="-", shown=shown),
                 lambda: scoring.score_files(_constant_model(), tmp_path, shown=shown),
                 lambda: csv_dataset.read_csv(tmp_path, label_column="first", shown=shown)):
        with pytest.raises(labelled.DataError) as error:
            call()
        assert str(error.value) == f"s3://bucket/test/t.csv line 2: {BLANK}"


LABEL_SCORE = [  # transform output (p.out) -> None (accepted: labels [1, 0], scores [0.5, 0.25]) or its message
    pytest.param("1,0.5\n0,0.25\n", OK, id="plain"),
    pytest.param('"1","0.5"\n0,0.25\n', OK, id="quoted"),
    pytest.param(" 1 , 0.5 \r\n0,0.25", OK, id="spaces, CRLF, no final newline"),
    pytest.param("1,0.5\r0,0.25\r", OK, id="CR"),
    pytest.param("1,0.5\n1, \n", "line 2: the score is empty: the score must be a probability in [0, 1]; check the model's output_fn", id="blank score"),
    pytest.param("1,0.5\n0,\n", "line 2: the score is empty: the score must be a probability in [0, 1]; check the model's output_fn", id="empty score"),
    pytest.param("1,0.5\n   \n", f"line 2: expected 2 fields (label,score), found 1; {SCORED_FIX}", id="line of spaces"),
    pytest.param("1,1.5\n", "line 1: score '1.5' is outside [0, 1]; the model must output probabilities", id="score above 1"),
    pytest.param("1,0.5\n0,inf\n", "line 2: score 'inf' is not a finite number; fix the model's output", id="score inf"),
    pytest.param("2,0.5\n", "line 1: label '2' is not 0 or 1; labels must be binary 0/1", id="label 2"),
    pytest.param("1,0.5\n1,0x1\n", "line 2: non-numeric field '0x1': the score must be a probability in [0, 1]; check the model's output_fn", id="hexadecimal score"),
    pytest.param("label,score\n1,0.5\n", f"line 1: header row 'label,score'; {SCORED_FIX}, without a header", id="header"),
    pytest.param('1,"0.5"x\n', f"line 1: broken quoting (',' expected after '\"') in '1,\"0.5\"x'; {QUOTES}", id="broken quotes"),
]


@pytest.mark.parametrize("content, message", LABEL_SCORE)
def test_transform_output_lines_follow_the_same_rules_with_either_engine(tmp_path, content, message):
    path = tmp_path / "p.out"
    path.write_bytes(content.encode())
    for engine in ENGINES:
        try:
            data = predictions.read_predictions(path, engine=engine)
        except predictions.PredictionsError as error:
            assert str(error) == f"{path} {message}", engine
        else:
            assert message is None, engine
            assert data.y_true.tolist() == [1, 0] and data.y_score.tolist() == [0.5, 0.25]


# --- the shortcuts never disagree with the scans --------------------------------------------------------

TOKENS = ["0", "1", "1.0", " 1", "2", "-0", "0x1", "nan", "inf", "1e0", "", '"1"', '""', " ", "1_0", "true", "NA",
          ".5", "5.", "+1", "1e", "\u00e9", "\t1", '"1', '1"', '"a,b"', "0.25", "1E-1"]


def _random_lines(rng: random.Random, widths) -> list[str]:
    return [",".join(rng.choice(TOKENS) for _ in range(rng.choice(widths))) for _ in range(rng.randint(1, 4))]


def _label_first(lines, engine):
    """(the shortcut's reading or None, the scan's or None) of label-first lines."""
    fast = fast_csv.labels_and_width("\n".join(lines).encode(), None, engine)
    try:
        labels, width = labelled.scan_labelled([line.encode() for line in lines], 1, "t.csv", None)
        scanned = (labels.tolist(), width)
    except labelled.DataError:
        scanned = None
    return None if fast is None else (fast[0].tolist(), fast[1]), scanned


def _label_score(lines, engine):
    """The same for label,score lines: [(label, score), ...]."""
    fast = fast_csv.labels_and_scores("\n".join(lines).encode(), engine)
    try:
        labelled.scan_scored([line.encode() for line in lines], 1, "p.out")
        scanned = [tuple(map(labelled.number, labelled.split_fields(line))) for line in lines]
    except labelled.DataError:
        scanned = None
    return None if fast is None else list(zip(fast[0].tolist(), fast[1].tolist())), scanned


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("read", [_label_first, _label_score])
def test_a_shortcut_accepts_only_what_its_scan_accepts_and_reads_the_same(engine, read):
    rng = random.Random(11)
    taken = 0
    for _ in range(3000):
        lines = _random_lines(rng, (2, 2, 3))
        fast, scanned = read(lines, engine)
        if fast is not None:
            assert fast == scanned, lines
            taken += 1
    assert taken > 20  # the shortcut is taken on clean rows


def test_screen_passes_only_label_first_data_the_scan_accepts():
    rng = random.Random(13)
    for _ in range(3000):
        lines = _random_lines(rng, (2, 3))
        data = "\n".join(lines).encode()
        if labelled.screen(data):
            try:
                labelled.scan_labelled([line.encode() for line in lines], 1, "t.csv", None, numeric=False)
            except labelled.DataError as error:
                # Widths are the data-quality parser's to check; everything else the screen must catch.
                assert "fields, expected" in str(error) or "1 field" in str(error), lines


@pytest.mark.parametrize("block_bytes", [1, 5, 64, 1 << 20])
def test_line_batches_split_anywhere_number_lines_as_splitlines_does(tmp_path, block_bytes):
    data = b"1,2\r\n\r\n0,3\r1,4\n\n0,5\r\n1,6"
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    for batch_lines in (1, 2, 3, None):
        batches = list(labelled.iter_line_batches(path, batch_lines, block_bytes=block_bytes))
        assert list(itertools.chain.from_iterable(lines for _, lines in batches)) == data.splitlines()
        assert [first for first, _ in batches] == list(itertools.accumulate([1] + [len(b) for _, b in batches[:-1]]))


def test_files_are_every_file_below_a_folder_sorted_hidden_ones_included(tmp_path):
    for name in ("b/x.csv.out", "a.csv", ".hidden", "b/.y", "c"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1,2\n")
    found = [p.relative_to(tmp_path).as_posix() for p in labelled.list_files(tmp_path, missing="-")]
    assert found == [".hidden", "a.csv", "b/.y", "b/x.csv.out", "c"]
    assert labelled.list_files(tmp_path / "a.csv", missing="-") == [tmp_path / "a.csv"]
    with pytest.raises(labelled.DataError, match="nope does not exist: pass it"):
        labelled.list_files(tmp_path / "nope", missing="pass it")


@pytest.mark.parametrize("body, rows, message", [
    (b"0.1\n0.2", 2, None), (b"0.1\r\n0.2\r\n", 2, None), ("1\n0\n", 2, None), (b" 0.5 \n", 1, None),
    (b"0.1\n", 2, "the model returned 1 lines for 2 rows; output_fn must write one score per row"),
    (b"", 1, "the model returned 0 lines for 1 rows"),
    (b"0.1\nnan\n", 2, "the model scored row 2 nan, not a probability in [0, 1]"),
    (b"1.5\n", 1, "the model scored row 1 1.5, not a probability in [0, 1]"),
    (b"0.2,0.8\n", 1, "the model returned 2 values per row ('0.2,0.8'); predict_fn must return one score per row"),
    (b"1_0\n", 1, "the model's score for row 1 is '1_0', not a number"),
    (b"0.5\n\n", 2, "the model's score for row 2 is '', not a number"),
])
def test_score_responses(body, rows, message):
    from processing_scripts.score_response import ResponseError, parse_scores

    if message is None:
        assert len(parse_scores(body, rows)) == rows
    else:
        with pytest.raises(ResponseError) as error:
            parse_scores(body, rows)
        assert message in str(error.value) and "\n" not in str(error.value)
    assert np.array_equal(parse_scores(b"0.25\n1\n", 2, row_name=lambda i: f"line {i + 7}"), [0.25, 1.0])

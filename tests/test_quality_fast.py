"""processing_scripts/quality_fast.py gives exactly what the general readers and merge give: on the real
reference files, on generated traffic, on mutated (malformed) lines, across block boundaries, and with the
fast path shown to have run (not only the fallback)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from processing_scripts import capture, ground_truth, quality_fast
from processing_scripts.labelled import DataError
from processing_scripts.windows import Window, parse_time

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "model-monitor"
if not REFERENCE.is_dir():  # a worktree beside the main checkout
    REFERENCE = Path("/work/shared/reference/model-monitor")
CAPTURES = [REFERENCE / "aws-docs" / "data-capture-endpoint-sample.jsonl", REFERENCE / "sdk" / "monitor" / "capture.jsonl",
            REFERENCE / "sdk" / "monitor" / "captured-data.jsonl",
            REFERENCE / "churn-example" / "notebook-outputs" / "capture_lines_from_notebook.jsonl"]
WINDOWS = [None, Window(parse_time("2022-02-14"), parse_time("2022-02-15")),
           Window(parse_time("2024-03-01T06:00:00Z"), parse_time("2024-03-01T18:00:00Z")),
           Window(parse_time("2024-03-01T06:00:00.5Z"), None)]  # fractional bounds: no text comparison


def outcome(read, *args, **kwargs):
    """What a reader gives: its result, or its one-line error."""
    try:
        return read(*args, **kwargs)
    except DataError as error:
        return f"DataError: {error}"


def same_predictions(path, **kwargs):
    fast = outcome(quality_fast.read_predictions, path, **kwargs)
    assert fast == outcome(capture.read_predictions, path, **kwargs)
    return fast


def same_truth(path, **kwargs):
    fast = outcome(quality_fast.read_ground_truth, path, **kwargs)
    assert fast == outcome(ground_truth.read_ground_truth, path, **kwargs)
    return fast


def capture_line(event_id="e-1", score="0.25", *, time="2024-03-01T10:00:00Z", inference_id=None, features="1,2.5,x",
                 before=False) -> str:
    """A record in the exact layout an endpoint's Data Capture writes (the fast path's)."""
    extra = f',"inferenceId":"{inference_id}"' if inference_id is not None else ""
    metadata = (f'"eventId":"{event_id}"{extra if before else ""},"inferenceTime":"{time}"{"" if before else extra}')
    return ('{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"' + features
            + '\\n","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",'
            f'"data":"{score}\\n","encoding":"CSV"}}}},"eventMetadata":{{{metadata}}},"eventVersion":"0"}}')


def truth_line(event_id="e-1", data="1", *, spaced=False) -> str:
    record = {"groundTruthData": {"data": data, "encoding": "CSV"}, "eventMetadata": {"eventId": event_id},
              "eventVersion": "0"}
    return json.dumps(record) if spaced else json.dumps(record, separators=(",", ":"))


@pytest.fixture
def general_calls(monkeypatch):
    """Counts the lines handed to the general readers' per-line functions (and whole-file fallbacks)."""
    calls = {"capture": 0, "truth": 0, "fallback": 0}
    prediction, parse_record = quality_fast._prediction, quality_fast.parse_record

    def counted(name, function):
        def call(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(quality_fast, "_prediction", counted("capture", prediction))
    monkeypatch.setattr(quality_fast, "parse_record", counted("truth", parse_record))
    for module, name in ((quality_fast.capture, "read_predictions"), (quality_fast.ground_truth, "read_ground_truth")):
        monkeypatch.setattr(module, name, counted("fallback", getattr(module, name)))
    return calls


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_the_reference_captures_read_the_same(path, window):
    same_predictions(path, window=window)
    same_predictions(path, window=window, max_skipped_share=1.0)


def test_the_endpoints_own_capture_lines_take_the_fast_path(general_calls):
    predictions = same_predictions(CAPTURES[0], window=WINDOWS[1])
    assert predictions.event_ids == ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"] * 2
    assert predictions.scores == [(0.0254181120544672,), (0.07675473392009735,)]
    # Only the general reader's own run (for the comparison) saw the lines; the fast path none.
    assert general_calls["capture"] == 0 and general_calls["fallback"] == 1


def test_the_sdk_ground_truth_reads_the_same():
    truth = same_truth(REFERENCE / "sdk" / "monitor" / "actuals.jsonl")
    assert truth.record_count > 0 and truth.skipped == []


def test_generated_traffic_reads_the_same_and_mostly_fast(tmp_path, general_calls):
    rng = random.Random(0)
    lines, labels = [], []
    for i in range(3000):
        inference_id = f"req-{i}" if rng.random() < 0.3 else None
        lines.append(capture_line(f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}", repr(rng.random()), inference_id=inference_id,
                                  time=f"2024-03-01T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z",
                                  before=rng.random() < 0.5))
        labels.append(truth_line(inference_id or f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}", str(rng.randrange(2)),
                                 spaced=rng.random() < 0.5))
    (tmp_path / "capture.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "truth.jsonl").write_text("\n".join(labels[::-1]) + "\n")
    for window in WINDOWS:
        same_predictions(tmp_path / "capture.jsonl", window=window)
    truth = same_truth(tmp_path / "truth.jsonl")
    assert len(truth.labels) == 3000
    # The fractional window's bounds cannot be compared as text, yet its records take the fast path too.
    assert general_calls == {"capture": 0, "truth": 0, "fallback": len(WINDOWS) + 1}


SCORES = ["1", "0", "-0", "1.0000001", "-1e-9", "nan", "inf", "1e-400", "0.5e", "", " 0.5", "0x1", "1_0", "+.5", "5E-1"]
TIMES = ["2024-03-01T06:00:00Z", "2024-03-01T05:59:59.999Z", "2024-03-01T18:00:00Z", "2024-13-01T00:00:00Z",
         "2024-03-01T07:00:00+05:00", "2024-03-01T06:00:00.25Z", "2024-03-01", "yesterday", "2024-03-01T06:00:00"]
NOISE = ['"', "\\", ",", "{", "}", ":", " ", "\t", "0", "e", "\u00e9", "\ufeff", "\\n", "\\u0041", "\\ud800"]  # no control byte: check_text refuses such a file


def mutated_lines(rng: random.Random, count: int) -> list[str]:
    """Canonical lines, lines with odd values, and lines with random damage."""
    lines = []
    for i in range(count):
        kind = rng.random()
        line = capture_line(f"id-{i % 50}", rng.choice(SCORES) if kind < 0.2 else repr(rng.random()),
                            time=rng.choice(TIMES) if kind < 0.4 else "2024-03-01T12:00:00Z",
                            inference_id=rng.choice([None, "", "inf-1", "x\\"]),
                            features=rng.choice(["1,2", "", " ", "1,2\\n3,4", '\\"a\\",1', "\u00e9"]))
        if 0.4 <= kind < 0.8:
            for _ in range(rng.randrange(1, 3)):
                at = rng.randrange(len(line))
                line = line[:at] + rng.choice(NOISE + [""]) + line[at + rng.randrange(2):]
        elif kind >= 0.95:
            line = rng.choice(["", "   ", "\t", "{}", "[]", "null", json.dumps({"captureData": {"endpointOutput": {
                "data": "0.5", "encoding": "CSV"}}, "eventMetadata": {"eventId": "j", "inferenceTime": TIMES[0]}})])
        lines.append(line)
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_mutated_captures_read_the_same_block_by_block(seed, tmp_path, monkeypatch):
    rng = random.Random(seed)
    text = "\n".join(mutated_lines(rng, 400)) + rng.choice(["\n", "", "\n\n"])
    (tmp_path / "c.jsonl").write_text(text, encoding="utf-8", errors="surrogatepass")
    for block in (quality_fast.BLOCK_BYTES, 100, 1):  # lines across block boundaries; a block shorter than a line
        monkeypatch.setattr(quality_fast, "BLOCK_BYTES", block)
        for window in WINDOWS:
            read = same_predictions(tmp_path / "c.jsonl", window=window, max_skipped_share=1.0)
            if window is None:
                assert read.skipped and read.event_ids  # both kinds of line, compared
            same_predictions(tmp_path / "c.jsonl", window=window)  # the share of skips refused alike


def test_files_the_general_reader_reads_differently_as_text_fall_back(tmp_path, general_calls):
    good = capture_line()
    cases = {"bom.jsonl": "\ufeff" + good + "\n" + good + "\n", "crlf.jsonl": good + "\r\n" + good + "\r\n",
             "cr.jsonl": good + "\r" + good, "mid-bom.jsonl": good + "\n\ufeff" + good + "\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8", newline="")
        same_predictions(tmp_path / name)
    # Not UTF-8 after the first 64 KiB, which check_text reads: the general reader replaces the bytes.
    (tmp_path / "latin.jsonl").write_bytes(((good + "\n") * 400).encode() + capture_line(features="caf\xe9").encode("latin-1") + b"\n")
    (tmp_path / "folder").mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / "folder" / name).write_text(good + "\n\n" + capture_line("e-2") + "\n")
    same_predictions(tmp_path / "latin.jsonl", max_skipped_share=1.0)
    same_predictions(tmp_path / "folder")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.jsonl").write_text("\n\n")
    assert same_predictions(tmp_path / "empty").startswith("DataError: ")


def test_ground_truth_duplicates_conflicts_layouts_and_damage_read_the_same(tmp_path, monkeypatch):
    rng = random.Random(5)
    lines = []
    for i in range(600):
        event_id = f"id-{rng.randrange(300)}"
        data = rng.choice(["1", "0", "1\n", "0\n1", "true", "2", "", "1.0"])
        line = truth_line(event_id, data, spaced=rng.random() < 0.5)
        if rng.random() < 0.15:
            at = rng.randrange(len(line))
            line = line[:at] + rng.choice(NOISE) + line[at + 1:]
        lines.append(line)
    text = "\n".join(lines) + "\n  \n"
    (tmp_path / "t.jsonl").write_text(text, encoding="utf-8", errors="surrogatepass")
    for block in (quality_fast.BLOCK_BYTES, 64):
        monkeypatch.setattr(quality_fast, "BLOCK_BYTES", block)
        truth = same_truth(tmp_path / "t.jsonl", max_skipped_share=1.0)
        assert truth.duplicates and truth.conflicting and truth.skipped
        same_truth(tmp_path / "t.jsonl")
    for name, text in {"bom.jsonl": "\ufeff" + truth_line() + "\n", "crlf.jsonl": truth_line() + "\r\n",
                       "blank.jsonl": "\n \n"}.items():
        (tmp_path / name).write_text(text, encoding="utf-8", newline="")
        same_truth(tmp_path / name, max_skipped_share=1.0)


def test_the_merge_is_the_general_merge():
    rng = random.Random(2)
    lines = [truth_line(f"id-{i}", rng.choice(["1", "0", "0\n1", "1\n1\n0"])) for i in range(0, 400, 2)]
    truth = ground_truth.collect([(f"t:{n}", line) for n, line in enumerate(lines + lines[:10])])
    for trial in range(20):
        ids = [f"id-{rng.randrange(500)}" for _ in range(rng.randrange(0, 300))]
        scores = [tuple(rng.random() for _ in range(rng.choice([1, 1, 1, 2, 3]))) for _ in ids]
        fast, general = quality_fast.join(ids, scores, truth), ground_truth.join(list(zip(ids, scores)), truth)
        assert fast.accounting == general.accounting and list(fast.accounting) == list(general.accounting)
        assert np.array_equal(fast.scores, general.scores) and fast.scores.dtype == general.scores.dtype
        assert np.array_equal(fast.labels, general.labels) and fast.labels.dtype == general.labels.dtype

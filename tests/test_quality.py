"""The model-quality check end to end: captured predictions merged with late ground truth, per window,
against registered constraints (processing_scripts/quality.py and ``python -m pipeline.monitor quality``)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from pipeline import monitor as cli
from processing_scripts import capture, model_quality_constraints as mqc, quality
from processing_scripts.evaluation_document import build_document, to_json
from processing_scripts.windows import Window, parse_time
from tests.helpers import assert_one_line_error, run_main

SDK_MONITOR = Path(__file__).parents[1] / ".." / "shared" / "reference" / "model-monitor" / "sdk" / "monitor"
DAY = "2024-01-07"


def capture_line(event_id: str, scores, *, time: str = f"{DAY}T10:00:00Z", inference_id: str | None = None,
                 encoding: str = "CSV", features: str | None = None) -> str:
    """A Data Capture record as an endpoint writes it: one CSV row of features per score."""
    rows = [features or "1.0,2.0"] * len(scores)
    output = "\n".join(repr(float(s)) for s in scores) + "\n"
    content = "text/csv"
    if encoding == "JSON":
        output, content = json.dumps({"predictions": [float(s) for s in scores]}), "application/json"
    elif encoding == "BASE64":
        output = base64.b64encode(output.encode()).decode()
    metadata = {"eventId": event_id, "inferenceTime": time}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return json.dumps({"captureData": {
        "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "\n".join(rows), "encoding": "CSV"},
        "endpointOutput": {"observedContentType": content, "mode": "OUTPUT", "data": output, "encoding": encoding}},
        "eventMetadata": metadata, "eventVersion": "0"})


def truth_line(event_id: str, labels) -> str:
    return json.dumps({"groundTruthData": {"data": "\n".join(str(int(v)) for v in labels), "encoding": "CSV"},
                       "eventMetadata": {"eventId": event_id}, "eventVersion": "0"})


def traffic(rng: np.random.Generator, n: int, *, separation: float = 1.5):
    """Labels and probabilities of a model of some quality (higher separation: better)."""
    y = (rng.random(n) < 0.3).astype(int)
    logit = rng.normal(0, 1, n) + separation * (2 * y - 1)
    return y, 1 / (1 + np.exp(-logit))


def write_window(folder: Path, y, p, *, day: str = DAY, prefix: str = "e") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cap, gt = folder / "capture.jsonl", folder / "ground_truth.jsonl"
    cap.write_text("".join(capture_line(f"{prefix}{i}", [s], time=f"{day}T{i % 24:02d}:{i % 60:02d}:00Z") + "\n"
                           for i, s in enumerate(p)))
    gt.write_text("".join(truth_line(f"{prefix}{i}", [v]) + "\n" for i, v in enumerate(y)))
    return cap, gt


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> Path:
    """constraints.json and evaluation.json as the evaluation writes them, from a 2,000-row test set."""
    folder = tmp_path_factory.mktemp("registered")
    y, p = traffic(np.random.default_rng(1), 2000)
    document = to_json(build_document(y, p, n_bootstrap=300))
    (folder / "evaluation.json").write_text(json.dumps(document))
    (folder / "constraints.json").write_bytes(mqc.constraints_bytes(mqc.constraints_section(document)))
    return folder


def check(tmp_path, cap, gt, constraints, *extra: str, capsys=None):
    out = tmp_path / "out"
    return run_main(quality.main, ["--capture", str(cap), "--ground-truth", str(gt), "--constraints", str(constraints),
                                   "--output-dir", str(out), *extra], capsys), out


# --- metrics -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed,n,separation,threshold", [
    (0, 300, 1.5, 0.5), (1, 1000, 0.3, 0.5), (2, 500, 3.0, 0.2), (3, 250, 0.0, 0.7), (4, 400, 1.0, 0.35)])
def test_metrics_equal_scikit_learn_on_the_matched_rows(tmp_path, registered, seed, n, separation, threshold):
    rng = np.random.default_rng(seed)
    y, p = traffic(rng, n, separation=separation)
    p = np.round(p, 3)  # ties, as real probabilities have
    cap, gt = write_window(tmp_path / "w", y, p)
    # Unmatched captures and unknown labels must not change the metrics of the matched rows.
    with cap.open("a") as handle:
        handle.write(capture_line("no-label", [0.99]) + "\n")
    with gt.open("a") as handle:
        handle.write(truth_line("never-captured", [0]) + "\n")
    result = quality.check_files(cap, gt, registered / "constraints.json", threshold=threshold, n_bootstrap=50)
    stats = json.loads(result.files["statistics.json"])
    body = stats["binary_classification_metrics"]
    predicted = (p >= threshold).astype(int)
    expected = {"auc": skm.roc_auc_score(y, p), "accuracy": skm.accuracy_score(y, predicted),
                "precision": skm.precision_score(y, predicted, zero_division=0),
                "recall": skm.recall_score(y, predicted), "f1": skm.f1_score(y, predicted, zero_division=0)}
    for name, value in expected.items():
        assert body[name]["value"] == pytest.approx(value, abs=1e-12), name
        assert body[name]["standard_deviation"] >= 0, name  # a number (never NaN at these sizes)
    tn, fp, fn, tp = skm.confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    assert body["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    assert stats["dataset"]["item_count"] == n
    assert result.summary["accounting"]["unmatched_predictions"] == 1
    assert result.summary["accounting"]["labels_without_capture"] == 1


# --- the merge ---------------------------------------------------------------------------------------

def test_merge_accounting_missing_duplicates_unknown_multi_record_and_conflicts(tmp_path):
    cap, gt = tmp_path / "c.jsonl", tmp_path / "g.jsonl"
    cap.write_text("\n".join([
        capture_line("a", [0.9]),
        capture_line("b", [0.2, 0.7, 0.4]),                   # a request of three records
        capture_line("c", [0.6], encoding="JSON"),
        capture_line("d", [0.3], encoding="BASE64"),
        capture_line("ev-1", [0.8], inference_id="inf-e"),     # merged by its inference id
        capture_line("a", [0.9]),                             # captured twice: counts once
        capture_line("f", [0.1]),                             # no label yet (nor h's, below)
        capture_line("g", [0.5, 0.5]),                        # its label has one value: left out
        capture_line("h", [0.4]),                             # given two different labels: left out
    ]) + "\n")
    gt.write_text("\n".join([
        truth_line("a", [1]), truth_line("a", [1]),           # sent twice
        truth_line("b", [0, 1, 1]), truth_line("c", [1]), truth_line("d", [0]), truth_line("inf-e", [1]),
        truth_line("ev-1", [0]),                              # the event id is not the merge key here
        truth_line("g", [1]), truth_line("h", [0]), truth_line("h", [1]), truth_line("zzz", [0]),
        "not json",
    ]) + "\n")
    result = quality.check_files(cap, gt, _constraints(tmp_path), min_labelled_rows=20, max_skipped_share=0.1)
    accounting = result.summary["accounting"]
    assert accounting == {
        "capture_records": 9, "outside_window": 0, "skipped_captures": 0, "captured_requests": 8,
        "captured_predictions": 11, "ground_truth_records": 12, "labelled_requests": 8, "matched": 7,
        "unmatched_predictions": 2, "labels_without_capture": 2, "duplicate_captures": 1, "duplicate_labels": 1,
        "conflicting_labels": 1, "label_count_mismatch": 2, "skipped_ground_truth": 1}
    assert result.verdict == "not_enough_data"
    assert "7 captured prediction(s)" in result.status["reason"]
    assert result.summary["skipped_records"][0]["where"].endswith("g.jsonl:12")


def _constraints(tmp_path: Path, **thresholds: float) -> Path:
    path = tmp_path / "constraints.json"
    rules = thresholds or {"auc": 0.7, "f1": 0.5}
    path.write_text(json.dumps({"version": 0.0, "binary_classification_constraints": {
        k: {"threshold": v, "comparison_operator": "LessThanThreshold"} for k, v in rules.items()}}))
    return path


@pytest.mark.skipif(not SDK_MONITOR.is_dir(), reason="../shared/reference is not beside the checkout")
def test_the_sdks_real_capture_and_actuals_pair(tmp_path, capsys):
    ran, out = check(tmp_path, SDK_MONITOR / "capture.jsonl", SDK_MONITOR / "actuals.jsonl", _constraints(tmp_path),
                     "--min-labelled-rows", "20", capsys=capsys)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads((out / "quality_summary.json").read_text())
    assert summary["accounting"]["matched"] == summary["accounting"]["captured_predictions"] == 44
    y, p = [], []
    truth = {json.loads(l)["eventMetadata"]["eventId"]: int(json.loads(l)["groundTruthData"]["data"])
             for l in (SDK_MONITOR / "actuals.jsonl").read_text().splitlines()}
    for line in (SDK_MONITOR / "capture.jsonl").read_text().splitlines():
        record = json.loads(line)
        y.append(truth[record["eventMetadata"]["eventId"]])
        p.append(float(record["captureData"]["endpointOutput"]["data"]))
    stats = json.loads((out / "statistics.json").read_text())
    assert stats["binary_classification_metrics"]["auc"]["value"] == pytest.approx(skm.roc_auc_score(y, p))
    # Its inferenceTime is a placeholder ("{%s}"): a windowed check cannot place the records.
    ran, _ = check(tmp_path, SDK_MONITOR / "capture.jsonl", SDK_MONITOR / "actuals.jsonl", _constraints(tmp_path),
                   "--start", "2024-01-01", capsys=capsys)
    assert_one_line_error(ran, "capture.jsonl:1", "inferenceTime", "is not an ISO 8601")


# --- windows -----------------------------------------------------------------------------------------

def test_only_captures_in_the_window_are_checked(tmp_path, registered):
    rng = np.random.default_rng(5)
    days = {"2024-01-06": traffic(rng, 400, separation=0.1), "2024-01-07": traffic(rng, 400),
            "2024-01-08": traffic(rng, 400, separation=0.1)}
    cap, gt = tmp_path / "capture", tmp_path / "gt"
    for day, (y, p) in days.items():
        write_window(tmp_path / "capture-parts" / day, y, p, day=day, prefix=day)
        cap.mkdir(exist_ok=True), gt.mkdir(exist_ok=True)
        (tmp_path / "capture-parts" / day / "capture.jsonl").rename(cap / f"{day}.jsonl")
        (tmp_path / "capture-parts" / day / "ground_truth.jsonl").rename(gt / f"{day}.jsonl")
    result = quality.check_files(cap, gt, registered, window=Window(parse_time("2024-01-07"), parse_time("2024-01-08")),
                                 n_bootstrap=50)
    accounting = result.summary["accounting"]
    assert (accounting["capture_records"], accounting["outside_window"], accounting["matched"]) == (1200, 800, 400)
    assert accounting["labels_without_capture"] == 800  # the other days' labels
    y, p = days["2024-01-07"]
    auc = json.loads(result.files["statistics.json"])["binary_classification_metrics"]["auc"]["value"]
    assert auc == pytest.approx(skm.roc_auc_score(y, p))
    assert result.verdict == "ok", result.violations
    assert (result.status["window_start"], result.status["window_end"]) == ("2024-01-07T00:00:00Z", "2024-01-08T00:00:00Z")


def test_a_scheduled_run_checks_the_window_its_label_delay_allows(tmp_path, registered, capsys):
    rng = np.random.default_rng(6)
    cap, gt = write_window(tmp_path / "w", *traffic(rng, 300), day="2024-01-07")
    ran, out = check(tmp_path, cap, gt, registered, "--run-start", "2024-01-09T06:00:00Z", "--label-delay-hours",
                     "24", capsys=capsys)  # the window ending a day before the run: 2024-01-07
    status = json.loads((out / "quality_status.json").read_text())
    assert (status["window_start"], status["matched"]) == ("2024-01-07T00:00:00Z", 300), ran.stderr
    ran, out = check(tmp_path, cap, gt, registered, "--run-start", "2024-01-09T06:00:00Z", capsys=capsys)
    status = json.loads((out / "quality_status.json").read_text())  # no delay: 2024-01-08, no traffic then
    assert (status["window_start"], status["verdict"], status["matched"]) == ("2024-01-08T00:00:00Z",
                                                                              "not_enough_data", 0)
    assert "no captured prediction has an inference time in the window" in status["reason"]
    # Empty values are "not given" (a pipeline's empty String parameters): every capture.
    ran, out = check(tmp_path, cap, gt, registered, "--start", "", "--end", "", "--run-start", "", capsys=capsys)
    assert json.loads((out / "quality_status.json").read_text())["window_start"] == "-inf"


# --- verdicts ----------------------------------------------------------------------------------------

def test_same_quality_traffic_does_not_alarm_and_degraded_traffic_does(tmp_path, registered):
    rng = np.random.default_rng(11)
    alarms = 0
    for window in range(10):
        cap, gt = write_window(tmp_path / f"same{window}", *traffic(rng, 2000))
        alarms += quality.check_files(cap, gt, registered, n_bootstrap=20).verdict != "ok"
    assert alarms <= 1  # about 2.5-5% of same-quality windows alarm (model_quality_constraints.py)
    cap, gt = write_window(tmp_path / "worse", *traffic(rng, 2000, separation=0.9))
    result = quality.check_files(cap, gt, registered, n_bootstrap=20)
    assert result.verdict == "violations"
    assert {"auc", "f1"} <= {v["metric_name"] for v in result.violations}
    assert result.status["violated_metrics"].startswith("auc")
    assert all(v["description"].startswith(f"Metric {v['metric_name']} with ") for v in result.violations)


@pytest.mark.parametrize("n,positive_share,fragment", [
    (150, 0.3, "fewer than 200"), (400, 0.0, "0 positive"), (400, 0.01, "at least 10 of each")])
def test_too_few_labels_or_one_class_is_not_enough_labelled_data(tmp_path, registered, capsys, n, positive_share,
                                                                fragment):
    rng = np.random.default_rng(7)
    y = (rng.random(n) < positive_share).astype(int)
    if positive_share:
        y[:5] = 1
    cap, gt = write_window(tmp_path / "w", y, rng.random(n))
    ran, out = check(tmp_path, cap, gt, registered, "--fail-on-violation", capsys=capsys)
    assert ran.returncode == 1
    status = json.loads((out / "quality_status.json").read_text())
    assert status["verdict"] == "not_enough_data" and fragment in status["reason"]
    assert "binary_classification_metrics" not in json.loads((out / "statistics.json").read_text())
    assert json.loads((out / "constraint_violations.json").read_text()) == {"violations": []}


# --- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("setup,fragments", [
    (lambda d: (d / "constraints.json").write_text("{"), ("constraints.json", "is not JSON")),
    (lambda d: (d / "constraints.json").write_text('{"binary_classification_constraints": {"auc": {"threshold": "x", '
                                                   '"comparison_operator": "LessThanThreshold"}}}'),
     ("constraints.json", "auc", "threshold")),
    (lambda d: (d / "constraints.json").write_text('{"features": []}'), ("holds no model-quality constraints",)),
    (lambda d: (d / "g.jsonl").write_text("nope\n" * 5), ("g.jsonl:1", "not JSON", "ground-truth records")),
    (lambda d: (d / "c.jsonl").write_text("{}\n"), ("c.jsonl:1", "not a SageMaker Data Capture record")),
    (lambda d: (d / "c.jsonl").write_text(capture_line("a", [1.5]) + "\n"), ("c.jsonl:1", "not a probability")),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, setup, fragments):
    rng = np.random.default_rng(8)
    write_window(tmp_path, *traffic(rng, 50))
    (tmp_path / "capture.jsonl").rename(tmp_path / "c.jsonl")
    (tmp_path / "ground_truth.jsonl").rename(tmp_path / "g.jsonl")
    _constraints(tmp_path)
    setup(tmp_path)
    ran, out = check(tmp_path, tmp_path / "c.jsonl", tmp_path / "g.jsonl", tmp_path / "constraints.json", capsys=capsys)
    assert_one_line_error(ran, *fragments)
    assert not out.exists()


@pytest.mark.parametrize("args,fragment", [
    (["--start", "2024-01-08", "--end", "2024-01-07"], "is not before its end"),
    (["--start", "yesterday"], "is not an ISO 8601"),
    (["--run-start", "2024-01-08", "--window-hours", "7"], "does not tile days"),
    (["--probability-threshold", "1.5"], "from 0 to 1"),
    (["--min-labelled-rows", "5"], "below 20"),
])
def test_bad_options_are_usage_errors(tmp_path, registered, capsys, args, fragment):
    cap, gt = write_window(tmp_path / "w", *traffic(np.random.default_rng(9), 30))
    ran, out = check(tmp_path, cap, gt, registered, *args, capsys=capsys)
    assert_one_line_error(ran, fragment)
    assert not out.exists()


# --- history, report and the user CLI ----------------------------------------------------------------

def test_the_cli_keeps_one_history_line_per_window_and_the_report_shows_the_trend(tmp_path, registered, capsys):
    rng = np.random.default_rng(10)
    history = tmp_path / "quality_history.jsonl"
    for day, separation in (("2024-01-05", 1.5), ("2024-01-06", 1.5), ("2024-01-07", 0.6), ("2024-01-06", 1.5)):
        cap, gt = write_window(tmp_path / day, *traffic(rng, 600, separation=separation), day=day)
        ran = run_main(cli.main, ["quality", "--capture", str(cap), "--ground-truth", str(gt), "--constraints",
                                  str(registered / "constraints.json"), "--baseline-statistics",
                                  str(registered / "evaluation.json"), "--start", day, "--end", f"{day}T23:59:59Z",
                                  "--history", str(history), "--output-dir", str(tmp_path / "out")], capsys)
        assert ran.returncode == (1 if separation < 1 else 0), ran.stdout + ran.stderr
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert [e["window_start"] for e in lines] == ["2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z"]
    assert [e["verdict"] for e in lines] == ["ok", "ok", "violations"]
    assert "auc" in lines[2]["violated_metrics"]
    page = (tmp_path / "out" / "quality_report.html").read_text()
    assert page.count("<svg") == 2 and 'id="trend-auc"' in page and "registered auc" in page
    assert "constraint threshold" in page and "Over time (3 window(s))" in page
    assert "report: " in ran.stdout and "quality_report.html" in ran.stdout


def test_the_cli_reads_s3_uris_from_the_local_store(tmp_path, registered, capsys):
    from pipeline.local.store import LocalObjectStore

    store = LocalObjectStore(tmp_path / "work")
    cap, gt = write_window(tmp_path / "w", *traffic(np.random.default_rng(12), 400))
    store.put_file("s3://bucket-q/capture/ep/AllTraffic/2024/01/07/10/part.jsonl", cap)
    store.put_file("s3://bucket-q/ground-truth/2024/01/08/00/labels.jsonl", gt)
    store.put_file("s3://bucket-q/model/constraints.json", registered / "constraints.json")
    ran = run_main(cli.main, ["quality", "--work-dir", str(tmp_path / "work"), "--capture", "s3://bucket-q/capture/",
                              "--ground-truth", "s3://bucket-q/ground-truth/", "--constraints", "s3://bucket-q/model/constraints.json",
                              "--output-dir", str(tmp_path / "out")], capsys)
    assert ran.returncode == 0, ran.stderr
    assert "400 labelled prediction(s)" in ran.stdout
    ran = run_main(cli.main, ["quality", "--work-dir", str(tmp_path / "work"), "--capture", "s3://bucket-q/capture/",
                              "--ground-truth", "s3://bucket-q/ground-truth/", "--constraints", "s3://bucket-q/nothing/",
                              "--output-dir", str(tmp_path / "out2")], capsys)
    assert_one_line_error(ran, "no objects under s3://bucket-q/nothing/")


# --- the drift check's windows -----------------------------------------------------------------------

def test_capture_reader_windows_and_csv_refusal(tmp_path):
    cap = tmp_path / "c.jsonl"
    cap.write_text("".join(capture_line(f"e{i}", [0.5], time=f"2024-01-0{6 + i % 3}T12:00:00Z") + "\n"
                           for i in range(9)))
    dataset = capture.read_capture(cap, window=Window(parse_time("2024-01-07"), parse_time("2024-01-08")))
    assert (dataset.item_count, dataset.outside_window, dataset.record_count) == (3, 6, 9)
    with pytest.raises(capture.DataError, match="none of the 9 captured requests"):
        capture.read_capture(cap, window=Window(parse_time("2025-01-01"), None))
    csv = tmp_path / "batch.csv"
    csv.write_text("1,2\n3,4\n")
    with pytest.raises(capture.DataError, match="rows have no inference time"):
        capture.read_dataset(csv, window=Window(parse_time("2024-01-07"), None))
    assert capture.read_dataset(csv, window=Window(parse_time("2024-01-07"), None), scheduled=True).item_count == 2


def test_the_drift_check_checks_only_its_window(tmp_path, capsys):
    from processing_scripts import monitor

    rows = np.random.default_rng(13).normal(size=(600, 2))
    (tmp_path / "base.csv").write_text("".join(f"{a:.4f},{b:.4f}\n" for a, b in rows[:300]))
    assert run_main(monitor.main, ["baseline", "--data", str(tmp_path / "base.csv"), "--output-dir",
                                   str(tmp_path / "baseline")], capsys).returncode == 0
    # The window's day is like the baseline; the day before is shifted by 3: only a whole-history check drifts.
    lines = [capture_line(f"e{i}", [0.5], features=f"{a + (3 if i < 300 else 0):.4f},{b:.4f}",
                          time=f"2024-01-0{6 if i < 300 else 7}T08:00:00Z") for i, (a, b) in enumerate(rows)]
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    # The captures carry an output field before the inputs; the baseline has none: compare inputs only.
    base = ["check", "--baseline-dir", str(tmp_path / "baseline"), "--data", str(tmp_path / "c.jsonl")]
    ran = run_main(monitor.main, [*base, "--output-dir", str(tmp_path / "all")], capsys)
    assert ran.returncode == 0, ran.stderr
    whole = json.loads((tmp_path / "all" / "drift_status.json").read_text())
    ran = run_main(monitor.main, [*base, "--output-dir", str(tmp_path / "day"), "--run-start",
                                  "2024-01-08T06:00:00Z"], capsys)
    day = json.loads((tmp_path / "day" / "drift_status.json").read_text())
    summary = json.loads((tmp_path / "day" / "drift_summary.json").read_text())
    assert "_c0" in whole["drifted_features"] and "_c0" not in day["drifted_features"], (whole, day)
    assert summary["window"] == {"start": "2024-01-07T00:00:00Z", "end": "2024-01-08T00:00:00Z",
                                 "outside_window": 300, "note": ""}

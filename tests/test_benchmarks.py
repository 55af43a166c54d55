"""The benchmarks' exit codes, on fabricated measurements (no timed run): 0 when every target is met, 1 when
one is missed, with the target printed; 2 on bad usage. The model-quality benchmark also runs for real on a
few records (a smoke test: both processes run and agree)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import drift, evaluate, model_quality, targets, transform


@pytest.mark.parametrize("check, measurements, code, printed", [
    # evaluate: ratio <= 0.3 from 10M rows; peak RSS <= 2 GB up to 10M rows, <= 6 GB up to 100M.
    (evaluate.check_targets, (10_000_000, 2.0, 11.0, 800), 0, "(target <= 0.3: met)"),
    (evaluate.check_targets, (10_000_000, 4.0, 11.0, 800), 1,
     "ratio (evaluate.py / scikit-learn): 0.364  (target <= 0.3: MISSED)"),
    (evaluate.check_targets, (10_000_000, 2.0, 11.0, 2100), 1,
     "peak RSS of evaluate.py: 2,100 MB  (target <= 2,048 MB: MISSED)"),
    (evaluate.check_targets, (100_000_000, 9.5, None, 3100), 0, "(target <= 6,144 MB: met)"),
    (evaluate.check_targets, (100_000_000, 9.5, None, 6200), 1, "(target <= 6,144 MB: MISSED)"),
    (evaluate.check_targets, (200_000_000, 20.0, None, 9000), 0, "9,000 MB  (no target above 100,000,000 rows)"),
    (evaluate.check_targets, (1000, 1.0, 0.001, 100), 0, "(no target below 10,000,000 rows)"),
    (evaluate.check_targets, (10_000_000, 2.0, 0.0, 800), 1, "MISSED"),  # a zero baseline is no pass
    # transform: ratio <= 1.3 with the default concurrency; one request at a time has no target.
    (transform.check_targets, (1.15, 1.58, 1.41, 2), 0, "2 concurrent requests: 0.816  (target <= 1.3: met)"),
    (transform.check_targets, (1.90, 1.58, 1.41, 2), 1, "2 concurrent requests: 1.348  (target <= 1.3: MISSED)"),
    (transform.check_targets, (1.15, 9.00, 1.41, 4), 0, "1 request at a time: 6.383  (no target)"),
    # drift: ratio <= 1.0.
    (drift.check_targets, (1.28, 1.46), 0, "ratio (check / pandas histograms): 0.877  (target <= 1: met)"),
    (drift.check_targets, (1.50, 1.46), 1, "ratio (check / pandas histograms): 1.027  (target <= 1: MISSED)"),
    (drift.check_targets, (float("nan"), 1.46), 1, "MISSED"),
    # model_quality: ratio <= 0.3.
    (model_quality.check_targets, (3.0, 12.0), 0, "ratio (quality check / pandas + scikit-learn): 0.250  (target <= 0.3: met)"),
    (model_quality.check_targets, (4.0, 12.0), 1, "ratio (quality check / pandas + scikit-learn): 0.333  (target <= 0.3: MISSED)"),
    (model_quality.check_targets, (3.0, 0.0), 1, "MISSED"),
])
def test_a_missed_target_exits_1_and_prints_the_target(check, measurements, code, printed, capsys):
    assert check(*measurements) == code
    out = capsys.readouterr().out
    assert printed in out
    assert out.splitlines()[-1] == "every target met" if code == 0 else out.splitlines()[-1].startswith("missed: ")


@pytest.mark.parametrize("main, argv", [
    (evaluate.main, ["--rows", "0"]),
    (evaluate.main, ["--bootstrap", "-1"]),
    (evaluate.main, ["--rows", "many"]),
    (transform.main, ["--repeats", "0"]),
    (transform.main, ["--no-such-flag"]),
    (drift.main, ["--features", "0"]),
    (drift.main, ["--baseline-rows", "-5"]),
    (model_quality.main, ["--records", "0"]),
    (model_quality.main, ["--repeats", "-1"]),
])
def test_bad_usage_exits_2_before_measuring(main, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err


def test_a_run_returns_the_verdict_of_its_measurements(monkeypatch, capsys):
    monkeypatch.setattr(evaluate, "sklearn_point_metrics", lambda y, s: 1.0)
    monkeypatch.setattr(evaluate, "run_evaluate", lambda predictions, out, bootstrap: (2.0, 2500.0))
    assert evaluate.main(["--rows", "100", "--repeats", "1"]) == targets.MISSED
    assert "peak RSS of evaluate.py: 2,500 MB  (target <= 2,048 MB: MISSED)" in capsys.readouterr().out
    monkeypatch.setattr(evaluate, "run_evaluate", lambda predictions, out, bootstrap: (2.0, 500.0))
    assert evaluate.main(["--rows", "100", "--repeats", "1"]) == targets.MET


def test_model_quality_smoke_run_on_a_few_records(capsys):
    """The real benchmark on 3,000 records: both processes run, agree on the matched rows, and the verdict is printed."""
    code = model_quality.main(["--records", "3000", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "records: 3,000" in out and "3,000 matched, verdict ok" in out and "peak RSS" in out
    assert code in (targets.MET, targets.MISSED)
    assert out.splitlines()[-1] == ("every target met" if code == targets.MET else
                                    "missed: ratio (quality check / pandas + scikit-learn)")


def test_model_quality_data_are_data_capture_and_ground_truth_lines(tmp_path):
    from processing_scripts.capture import read_predictions
    from processing_scripts.ground_truth import join, read_ground_truth

    model_quality.write_data(tmp_path, 500)
    predictions = read_predictions(tmp_path / "capture.jsonl")
    truth = read_ground_truth(tmp_path / "ground_truth.jsonl")
    assert predictions.skipped == [] and truth.skipped == [] and truth.duplicates == 0
    joined = join(list(zip(predictions.event_ids, predictions.scores)), truth)
    assert joined.accounting["matched"] == 500 and joined.accounting["unmatched_predictions"] == 0
    assert 0.2 < np.mean([i.startswith("req-") for i in predictions.event_ids]) < 0.4  # callers' inference ids
    lines = (tmp_path / "capture.jsonl").read_text().splitlines()
    times = [json.loads(line)["eventMetadata"]["inferenceTime"] for line in lines]
    assert times == sorted(times) and times[0] == "2024-03-01T00:00:00Z" and times[-1] < "2024-03-02"
    labelled = [json.loads(line)["eventMetadata"]["eventId"] for line in (tmp_path / "ground_truth.jsonl").open()]
    assert sorted(labelled) == sorted(predictions.event_ids) and labelled != predictions.event_ids  # another order

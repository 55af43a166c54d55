"""Findings (evaluation.json's ``improvements``): each on data built to show it, and absent on data that must not."""
from __future__ import annotations

import json

import numpy as np
import pytest

from processing_scripts import evaluate as ev
from processing_scripts import findings


def calibrated(rng, n, *, prevalence_shape=1.0):
    p = rng.random(n) ** prevalence_shape
    return (rng.random(n) < p).astype(int), p


def overconfident(rng, n):
    p = rng.random(n)
    return (rng.random(n) < p ** 2).astype(int), p


def kinds(y, p, **options):
    result = ev.evaluate(y, p, ev.EvaluationSettings(n_bootstrap=0), dataset={}, **options)
    return [f["kind"] for f in result.document["improvements"]], result


@pytest.mark.parametrize("seed", range(6))
def test_a_well_calibrated_model_gets_no_calibration_finding(seed):
    rng = np.random.default_rng(seed)
    y, p = calibrated(rng, 3000)
    measured, found = findings.calibration_check(y, p, validation=calibrated(rng, 2000))
    assert found is None, measured
    measured, found = findings.calibration_check(y, p, validation=None)  # cross-fitted on the test rows
    assert found is None, measured


@pytest.mark.parametrize("with_validation", [True, False])
def test_an_overconfident_model_gets_a_calibration_finding_with_its_numbers(with_validation):
    rng = np.random.default_rng(1)
    y, p = overconfident(rng, 3000)
    measured, found = findings.calibration_check(y, p, validation=overconfident(rng, 2000) if with_validation else None)
    assert found is not None and found["kind"] == "calibration"
    assert measured["recalibrated_log_loss"] < 0.9 * measured["log_loss"]
    assert f"{measured['expected_calibration_error']:.4f}" in found["evidence"]
    assert "pipeline.improve calibrate" in found["action"]
    low, high = measured["expected_calibration_error_interval"]
    assert low <= measured["expected_calibration_error"] <= high
    bins = [b for b in measured["reliability_bins"] if b["count"]]
    assert all(b["fraction_positive_lower"] <= b["fraction_positive"] <= b["fraction_positive_upper"] for b in bins)


def test_threshold_far_from_the_objective_and_one_chosen_for_it():
    rng = np.random.default_rng(2)
    y, p = calibrated(rng, 4000, prevalence_shape=4.0)  # few positives: the best F1 threshold is well below 0.5
    measured, found = findings.threshold_check(y, p, threshold=0.9, objective="max-f1", point={"source": "parameter"},
                                               validation=calibrated(rng, 3000, prevalence_shape=4.0))
    assert found is not None and found["kind"] == "threshold" and measured["gain_interval"][0] > 0
    assert "DecisionThreshold=" in found["action"]
    # Chosen on validation data for the objective already: nothing to say.
    assert findings.threshold_check(y, p, threshold=0.3, objective="max-f1", point={"source": "validation"},
                                    validation=None) == (None, None)
    # Cross-fitted on the test rows when there is no validation data.
    measured, found = findings.threshold_check(y, p, threshold=0.9, objective="min-cost:fp=1,fn=10",
                                               point={"source": "parameter"}, validation=None)
    assert found is not None and "saving" in found["evidence"] and "cross-fitted" in measured["chosen_by"]


@pytest.mark.parametrize("seed", range(5))
def test_a_threshold_near_the_best_gets_no_threshold_finding(seed):
    rng = np.random.default_rng(10 + seed)
    y, p = calibrated(rng, 3000)
    best = findings.operating_point.select_threshold(findings.metrics.ScoreTable.from_arrays(y, p), "max-f1")["threshold"]
    measured, found = findings.threshold_check(y, p, threshold=best, objective="max-f1", point={"source": "parameter"},
                                               validation=calibrated(rng, 3000))
    assert found is None, measured


def test_prevalence_differs_only_when_it_does():
    rng = np.random.default_rng(3)
    same_test, same_validation = (rng.random(3000) < 0.3).astype(int), (rng.random(3000) < 0.3).astype(int)
    assert findings.prevalence_check(same_test, same_validation)[1] is None
    assert findings.prevalence_check(same_test, None) == (None, None)
    measured, found = findings.prevalence_check(same_test, (rng.random(3000) < 0.2).astype(int))
    assert found is not None and measured["p_value"] < 0.01 and "0.2" in found["evidence"]


def test_monitoring_results_of_the_deployed_version(tmp_path):
    assert findings.monitoring_check(findings.read_monitoring(None)) == (None, [])
    history = tmp_path / "quality_history.jsonl"
    ok = {"window_start": "2024-01-01T00:00:00Z", "window_end": "2024-01-02T00:00:00Z", "metrics": {}, "verdict": "ok",
          "violated_metrics": []}
    bad = dict(ok, window_start="2024-01-02T00:00:00Z", window_end="2024-01-03T00:00:00Z", verdict="violations",
               violated_metrics=["auc"], metrics={"auc": {"value": 0.71}}, item_count=900)
    history.write_text(json.dumps(ok) + "\n")
    assert findings.monitoring_check(findings.read_monitoring(tmp_path))[1] == []
    history.write_text(json.dumps(ok) + "\n" + json.dumps(bad) + "\n")
    (tmp_path / "drift_status.json").write_text(json.dumps({"drift_detected": True, "violation_count": 2,
                                                            "drifted_features": "_c1", "violated_checks": "baseline_drift_check"}))
    _, found = findings.monitoring_check(findings.read_monitoring(tmp_path))
    assert [f["finding"].split(" ")[-1] for f in found] == ["constraints.", "baseline."]
    assert "2024-01-02T00:00:00Z" in found[0]["evidence"] and "auc 0.71" in found[0]["evidence"]


def test_the_evaluation_document_and_report_carry_the_findings(tmp_path):
    rng = np.random.default_rng(4)
    y, p = overconfident(rng, 3000)
    found, result = kinds(y, p, validation=overconfident(rng, 2000))
    assert "calibration" in found
    document = json.loads(result.files["evaluation.json"])
    assert document["improvements"][0]["kind"] == "calibration"
    assert {"calibration", "threshold", "prevalence"} <= set(document["improvement_checks"])
    page = result.files["report.html"].decode()
    assert "What to improve" in page and "The predicted probabilities are miscalibrated." in page
    y, p = calibrated(rng, 3000)
    found, result = kinds(y, p, validation=calibrated(rng, 3000), threshold_choice={"source": "validation",
                                                                                      "threshold": 0.5})
    assert found == [] and "No finding" in result.files["report.html"].decode()

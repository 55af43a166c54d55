"""The quality gate's rules (processing_scripts/gate.py), table-driven, and its one definition."""
from __future__ import annotations

import math
import re

import pytest

from processing_scripts import gate
from processing_scripts.gate import GATE_PARAMETERS, RECORD_KEYS, GateSettings, decide, decision_record


def document(*, rows=500, positives=100, auc=0.90, auc_lower=0.86, f1=0.80, f1_lower=0.75, threshold=0.5):
    return {
        "threshold": threshold,
        "dataset": {"rows": rows, "positives": positives, "sha256": "ab" * 32},
        "binary_classification_metrics": {"auc": {"value": auc}, "f1": {"value": f1}},
        "confidence_intervals": {"auc_delong": {"lower": auc_lower}, "metrics": {"f1": {"lower": f1_lower}}},
    }


def paired(auc=(0.0, -0.005), f1=(0.0, -0.005), version=3):
    return {"status": "paired", "version": version, "arn": f"arn:aws:sagemaker:us-east-1:1:model-package/g/{version}",
            "metrics": {"auc": {"difference": auc[0], "lower": auc[1], "upper": auc[0] + 0.01},
                        "f1": {"difference": f1[0], "lower": f1[1], "upper": f1[0] + 0.01}}}


def recorded(auc=0.0, f1=0.0):
    return {"status": "recorded", "version": 2, "metrics": {"auc": {"difference": auc}, "f1": {"difference": f1}}}


CASES = [
    # name, document, settings, champion, failed checks
    ("all good, first model", document(), {}, None, []),
    ("too few rows", document(rows=199), {}, None, ["min_test_rows"]),
    ("exactly the minimum evidence", document(rows=200, positives=30), {}, None, []),
    ("too few positives", document(positives=29), {}, None, ["min_positives"]),
    ("raised evidence bar", document(), {"min_positives": 101}, None, ["min_positives"]),
    ("point passes, lower bound fails", document(auc=0.78, auc_lower=0.72), {}, None, ["auc_threshold"]),
    ("point gating lets it through", document(auc=0.78, auc_lower=0.72), {"gate_on_lower_bound": False}, None, []),
    ("point fails too", document(auc=0.70, auc_lower=0.65), {"gate_on_lower_bound": False}, None, ["auc_threshold"]),
    ("f1 lower bound below", document(f1_lower=0.59), {}, None, ["f1_threshold"]),
    ("NaN lower bound never passes", document(f1_lower=math.nan), {}, None, ["f1_threshold"]),
    ("threshold equal to bound passes", document(auc_lower=0.75), {}, None, []),
    ("first model rejected by policy", document(), {"first_model_policy": "reject"}, None,
     ["auc_regression", "f1_regression"]),
    ("champion status none is a first model", document(), {"first_model_policy": "reject"}, {"status": "none"},
     ["auc_regression", "f1_regression"]),
    ("paired, within tolerance", document(), {}, paired(auc=(-0.002, -0.009)), []),
    ("paired, lower bound beyond tolerance", document(), {}, paired(auc=(-0.002, -0.011)), ["auc_regression"]),
    ("paired, point within, lower beyond, point gating", document(), {"gate_on_lower_bound": False},
     paired(auc=(-0.002, -0.05)), []),
    ("paired, f1 regression", document(), {}, paired(f1=(-0.03, -0.06)), ["f1_regression"]),
    ("paired, looser tolerance", document(), {"max_f1_regression": 0.1}, paired(f1=(-0.03, -0.06)), []),
    ("recorded, point within", document(), {}, recorded(auc=-0.009), []),
    ("recorded, point beyond", document(), {}, recorded(auc=-0.011, f1=-0.02), ["auc_regression", "f1_regression"]),
    ("recorded, improvement", document(), {}, recorded(auc=0.05, f1=0.05), []),
    ("champion unavailable fails closed", document(), {},
     {"status": "unavailable", "version": 4, "reason": "cannot compare: its evaluation.json could not be staged"},
     ["auc_regression", "f1_regression"]),
    ("everything wrong at once", document(rows=10, positives=2, auc=0.5, auc_lower=0.2, f1=0.1, f1_lower=0.0),
     {"first_model_policy": "reject"}, None,
     ["min_test_rows", "min_positives", "auc_threshold", "f1_threshold", "auc_regression", "f1_regression"]),
]


@pytest.mark.parametrize("name, doc, settings, champion, failed", CASES, ids=[c[0] for c in CASES])
def test_rules(name, doc, settings, champion, failed):
    decision = decide(doc, GateSettings(**settings), champion)
    assert [c["name"] for c in decision["checks"] if not c["passed"]] == failed
    assert decision["passed"] is (not failed)
    assert [c["name"] for c in decision["checks"]] == [
        "min_test_rows", "min_positives", "auc_threshold", "f1_threshold", "auc_regression", "f1_regression"
    ]
    for check in decision["checks"]:
        assert set(check) == {"name", "value", "bound", "threshold", "passed", "reason"} and check["reason"]
    if failed:
        # The FailStep quotes the summary: every failed check, with its reason, and nothing else.
        assert decision["summary"] == "; ".join(
            f"{c['name']}: {c['reason']}" for c in decision["checks"] if not c["passed"]
        )
    else:
        assert decision["summary"] == "all 6 checks passed"


def test_reasons_state_bound_and_threshold():
    decision = decide(document(auc=0.78, auc_lower=0.7234), GateSettings(), paired(auc=(-0.002, -0.0321)))
    reasons = {c["name"]: c["reason"] for c in decision["checks"]}
    assert reasons["auc_threshold"] == "auc lower 95% bound 0.7234 < 0.7500"
    assert reasons["auc_regression"] == "auc change vs champion v3, lower 95% bound -0.0321 < -0.0100"
    assert reasons["f1_regression"] == "f1 change vs champion v3, lower 95% bound -0.0050 >= -0.0100"


@pytest.mark.parametrize("name, doc, settings, champion, failed", CASES, ids=[c[0] for c in CASES])
def test_decision_record_fits_customer_metadata(name, doc, settings, champion, failed):
    decision = decide(doc, GateSettings(**settings), champion)
    record = decision_record(doc, decision)
    assert tuple(record) == RECORD_KEYS
    for key, value in record.items():
        # CreateModelPackage: keys 1-128 and values 1-256 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@].
        assert re.fullmatch(r"[\w .:/=+\-@]{1,128}", key)
        assert re.fullmatch(r"[\w .:/=+\-@]{1,256}", value), (key, value)
    assert record["gate_passed"] == ("false" if failed else "true")
    for check in decision["checks"]:
        assert f"{check['name']}={'pass' if check['passed'] else 'fail'}" in record["gate_checks"]


def test_record_names_the_champion_and_the_data():
    decision = decide(document(), GateSettings(), paired())
    record = decision_record({**document(), "operating_point": {"source": "validation", "objective": "max-f1"}},
                             decision)
    assert record["champion"] == "arn:aws:sagemaker:us-east-1:1:model-package/g/3"
    assert record["champion_comparison"] == "paired"
    assert record["test_data_sha256"] == "ab" * 32
    assert record["decision_threshold"] == "0.5 source=validation objective=max-f1"
    assert "GateOnLowerBound=true" in record["gate_settings"]


@pytest.mark.parametrize(
    "values, message",
    [
        ({"AucThreshold": "high"}, "bad value 'high' for AucThreshold: expected a number"),
        ({"AucThreshold": "inf"}, "bad value 'inf' for AucThreshold: expected a finite number"),
        ({"AucThreshold": "-1"}, "bad value '-1' for AucThreshold: expected a number from 0 to 1"),
        ({"MinTestRows": "1.5"}, "bad value '1.5' for MinTestRows: expected an integer"),
        ({"MinPositives": "-1"}, "bad value '-1' for MinPositives: expected 0 or more"),
        ({"GateOnLowerBound": "yes please"}, "bad value 'yes please' for GateOnLowerBound: expected true or false"),
        ({"FirstModelPolicy": "accept-anything"}, "expected one of absolute-thresholds-only, reject"),
    ],
)
def test_bad_settings_are_one_line_errors(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        gate.parse_settings(values)


def test_settings_round_trip_through_the_cli_flags():
    settings = GateSettings(auc_threshold=0.8, gate_on_lower_bound=False, first_model_policy="reject", min_positives=5)
    flags = gate.settings_flags(settings)
    values = {spec.name: flags[flags.index(spec.cli_flag) + 1] for spec in GATE_PARAMETERS}
    assert gate.parse_settings(values) == settings


def test_the_gate_is_defined_once():
    names = [p.name for p in GATE_PARAMETERS]
    assert len(set(names)) == len(names) and len({p.cli_flag for p in GATE_PARAMETERS}) == len(names)
    assert {p.field: p.default for p in GATE_PARAMETERS} == GateSettings().__dict__
    assert GateSettings().by_parameter() == {p.name: p.default for p in GATE_PARAMETERS}
    # Every step factory reads the gate from here; no step restates a threshold or a JSON path.
    from pathlib import Path

    for path in Path(__file__).parents[1].joinpath("steps").glob("*.py"):
        text = path.read_text()
        assert "0.75" not in text and "binary_classification_metrics" not in text, path

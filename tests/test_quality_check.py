"""processing_scripts/quality_check.py and quality_history.py: model-quality violations and their history."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from processing_scripts import quality_history as history
from processing_scripts.labelled import DataError
from processing_scripts.quality_check import OPERATORS, check_quality

MODEL_QUALITY = (Path(__file__).resolve().parents[2] / "shared" / "reference" / "model-monitor" / "sdk" / "pipeline"
                 / "quality_check_step" / "model_quality")


@pytest.mark.skipif(not MODEL_QUALITY.is_dir(), reason="../shared/reference is not beside the checkout")
@pytest.mark.parametrize("case, violated", [("good_cases", []), ("bad_cases", ["mse"])])
def test_the_sdks_model_quality_cases(case, violated):
    statistics = json.loads((MODEL_QUALITY / "statistics.json").read_text())
    constraints = json.loads((MODEL_QUALITY / case / "constraints.json").read_text())
    assert [v["metric_name"] for v in check_quality(statistics, constraints)] == violated


@pytest.mark.parametrize("op, value, threshold, violated", [
    ("LessThanThreshold", 0.7, 0.8, True), ("LessThanThreshold", 0.8, 0.8, False),
    ("LessThanOrEqualToThreshold", 0.8, 0.8, True), ("GreaterThanThreshold", 0.9, 0.8, True),
    ("GreaterThanThreshold", 0.8, 0.8, False), ("GreaterThanOrEqualToThreshold", 0.8, 0.8, True),
])
def test_operators(op, value, threshold, violated):
    stats = {"binary_classification_metrics": {"f1": {"value": value, "standard_deviation": "NaN"}}}
    rules = {"binary_classification_constraints": {"f1": {"threshold": threshold, "comparison_operator": op}}}
    found = check_quality(stats, rules)
    assert bool(found) is violated
    if found:
        assert found[0]["description"] == f"Metric f1 with {value!r} was {op} '{threshold!r}'"
    assert set(OPERATORS) >= {op}


@pytest.mark.parametrize("value", [None, "NaN", "n/a"])
def test_an_unmeasured_metric_fails_closed(value):
    stats = {"binary_classification_metrics": {} if value is None else {"auc": {"value": value}}}
    rules = {"binary_classification_constraints": {"auc": {"threshold": 0.8, "comparison_operator": "LessThanThreshold"}}}
    violation, = check_quality(stats, rules)
    assert "could not be computed" in violation["description"]


@pytest.mark.parametrize("rules, message", [
    ({}, "holds no model-quality constraints"),
    ({"binary_classification_constraints": {"auc": {"threshold": 0.8, "comparison_operator": "Below"}}},
     "comparison_operator 'Below' is not one of"),
    ({"binary_classification_constraints": {"auc": {"comparison_operator": "LessThanThreshold"}}},
     "is missing or not a finite number"),
])
def test_unusable_constraints_are_one_line_errors(rules, message):
    with pytest.raises(DataError, match=message):
        check_quality({"binary_classification_metrics": {}}, rules, where="c.json")


def window(day: int, auc: float, std: float = 0.02) -> dict:
    stats = {"dataset": {"item_count": 300}, "binary_classification_metrics": {
        "auc": {"value": auc, "standard_deviation": std}, "f1": {"value": auc - 0.1, "standard_deviation": std}}}
    return history.entry(window_start=f"2024-01-{day:02d}T00:00:00Z", window_end=f"2024-01-{day + 1:02d}T00:00:00Z",
                         statistics=stats, violations=[], accounting={"matched": 300})


def test_history_holds_each_window_once_in_order():
    text = b""
    for day, auc in ((3, 0.8), (1, 0.9), (2, 0.85), (3, 0.7)):  # day 3 rerun
        text = history.updated(text.decode(), window(day, auc))
    entries = history.read(text.decode())
    assert [(e["window_start"][:10], e["metrics"]["auc"]["value"]) for e in entries] == [
        ("2024-01-01", 0.9), ("2024-01-02", 0.85), ("2024-01-03", 0.7)]
    with pytest.raises(DataError, match=r"h.jsonl:2: not JSON"):
        history.read(text.decode().splitlines()[0] + "\n{\n", name="h.jsonl")


def test_trend_chart_shows_every_window_and_the_registered_value():
    entries = [window(d, a) for d, a in ((1, 0.9), (2, 0.88), (3, 0.7))]
    svg = history.trend_svg(entries, "auc", baseline=0.9)
    assert svg.startswith("<svg") and svg.count("<circle") >= 3
    assert "registered auc 0.9000" in svg and "2024-01-03T00:00:00Z .. 2024-01-04T00:00:00Z: auc 0.7000" in svg
    assert re.search(r"95% 0\.6608 to 0\.7392", svg)

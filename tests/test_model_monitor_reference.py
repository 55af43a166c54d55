"""The drift check on files AWS's Model Monitor container, the SDK's tests and AWS's examples wrote
(../shared/reference/model-monitor/, see its README): the outcomes AWS expects."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest

from processing_scripts import data_quality as dq


REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "model-monitor"
CHURN = REFERENCE / "churn-example"
REAL_BASELINE = REFERENCE / "reconstructed" / "churn_mm_baseline"
DQ_STEP = REFERENCE / "sdk" / "pipeline" / "quality_check_step" / "data_quality"

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference is not beside the checkout")


def load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def real_baseline() -> tuple[dict, dict]:
    return load(REAL_BASELINE / "statistics.json"), load(REAL_BASELINE / "constraints.json")


@pytest.fixture(scope="module")
def churn_rows() -> np.ndarray:
    """The baselined training set (label first, no header) as a float matrix."""
    return np.loadtxt(CHURN / "training-dataset-without-header.csv", delimiter=",")


def dataset_of(matrix: np.ndarray, integral: list[bool]) -> dq.Dataset:
    columns = [dq.column_from_numbers(f"_c{i}", matrix[:, i], integral=integral[i]) for i in range(matrix.shape[1])]
    return dq.Dataset(columns, len(matrix))


def integral_flags(statistics: dict) -> list[bool]:
    return [f["inferred_type"] == "Integral" for f in statistics["features"]]


def violation_keys(violations) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in violations}


# ----------------------------------------------------------------------------- the real two-level baseline

def test_the_real_baseline_has_two_weighted_levels(real_baseline):
    statistics, _ = real_baseline
    sketch = statistics["features"][11]["numerical_statistics"]["distribution"]["kll"]["sketch"]
    assert [len(level) for level in sketch["data"]] == [283, 1025]
    values, weights = dq.weighted_items(sketch)
    assert weights.sum() == statistics["dataset"]["item_count"] == 2333


@pytest.mark.parametrize("file, reorder", [
    ("training-dataset-without-header.csv", False),  # the baseline's own data
    ("training-dataset-without-header.csv", True),  # the same rows in another order
    ("test-dataset.csv", False),  # the churn test split
    ("validation.csv", False),
])
def test_real_baseline_against_its_own_population_is_clean(real_baseline, tmp_path, file, reorder):
    lines = (CHURN / file).read_text().splitlines()
    if reorder:
        lines = [lines[i] for i in np.random.default_rng(0).permutation(len(lines))]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    result = dq.check_drift(*real_baseline, dq.read_csv(tmp_path / "data.csv"))
    assert result.violations == []


def test_customer_service_calls_distance_reads_every_level(real_baseline):
    """Reading data[0] alone (the last rows of the file) gave KS 0.107 on the test split: a false alarm."""
    statistics, constraints = real_baseline
    result = dq.check_drift(statistics, constraints, dq.read_csv(CHURN / "test-dataset.csv"))
    calls = next(f for f in result.summary["features"] if f["name"] == "CustServ Calls")
    distance = next(s for s in calls["statistics"] if s["statistic"] == "linf_robust")
    assert distance["linf_simple"] == pytest.approx(0.0715, abs=5e-4)
    only_first_level = copy.deepcopy(statistics)
    sketch = only_first_level["features"][11]["numerical_statistics"]["distribution"]["kll"]["sketch"]
    sketch["data"] = sketch["data"][:1]
    wrong = dq.check_drift(only_first_level, constraints, dq.read_csv(CHURN / "test-dataset.csv"))
    calls = next(f for f in wrong.summary["features"] if f["name"] == "CustServ Calls")
    assert next(s for s in calls["statistics"] if s["statistic"] == "linf_robust")["linf_simple"] > 0.1


# ----------------------------------------------------------------------------- sample size

def own_baseline(rows: np.ndarray, integral: list[bool]) -> tuple[dict, dict]:
    statistics = dq.build_statistics(dataset_of(rows, integral))
    return statistics, dq.suggest_constraints(statistics)


@pytest.mark.parametrize("which", ["real", "ours"])
def test_small_random_samples_of_the_baseline_data_rarely_alarm(real_baseline, churn_rows, which):
    """AWS's example endpoint wrote ~60 rows per hourly capture file: 200 such samples of the baseline's own
    data must raise drift in fewer than 10% of the checks (any violation of any of the 70 features)."""
    integral = integral_flags(real_baseline[0])
    baseline = real_baseline if which == "real" else own_baseline(churn_rows, integral)
    rng = np.random.default_rng(7)
    alarms = 0
    for _ in range(200):
        sample = churn_rows[rng.choice(len(churn_rows), 60, replace=False)]
        alarms += bool(dq.check_drift(*baseline, dataset_of(sample, integral)).violations)
    assert alarms / 200 < 0.10


@pytest.mark.parametrize("which", ["real", "ours"])
@pytest.mark.parametrize("feature", ["Day Mins", "Eve Mins", "Account Length"])
def test_a_one_and_a_half_scale_shift_is_caught_at_sixty_rows(real_baseline, churn_rows, which, feature):
    statistics, _ = real_baseline
    index = [f["name"] for f in statistics["features"]].index(feature)
    integral = integral_flags(statistics)
    baseline = real_baseline if which == "real" else own_baseline(churn_rows, integral)
    name = baseline[0]["features"][index]["name"]
    rng = np.random.default_rng(11)
    caught = 0
    for _ in range(40):
        sample = churn_rows[rng.choice(len(churn_rows), 60, replace=False)].copy()
        sample[:, index] *= 1.5
        violations = dq.check_drift(*baseline, dataset_of(sample, integral)).violations
        caught += (name, "baseline_drift_check") in violation_keys(violations)
    assert caught / 40 >= 0.9


# ----------------------------------------------------------------------------- constraints.json edits

def dq_step(case: str) -> tuple[dict, dict, dq.Dataset]:
    return (load(DQ_STEP / "statistics.json"), load(DQ_STEP / case / "constraints.json"),
            dq.read_csv(DQ_STEP / "baseline_dataset.csv"))


def test_sdk_good_cases_pass_and_bad_cases_fail_on_data_type():
    assert dq.check_drift(*dq_step("good_cases")).violations == []
    statistics, constraints, data = dq_step("bad_cases")
    declared = [c["name"] for c in constraints["features"] if c["inferred_type"] == "String"]
    violations = dq.check_drift(statistics, constraints, data).violations
    assert violation_keys(violations) == {(declared[0], "data_type_check")}
    assert violations[0]["description"] == (
        "Data type match requirement is not met. Expected data type: String, Expected match: 100.0%. "
        "Observed: Only 0.0% of data is String.")


def sdk_constraints(body: dict):
    import os

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from sagemaker.core.model_monitor.monitoring_files import Constraints

    return Constraints(body_dict=body, constraints_file_s3_uri=None)


def test_sdk_set_monitoring_switches_a_feature_or_the_file_off():
    statistics, constraints, data = dq_step("bad_cases")
    name = next(c["name"] for c in constraints["features"] if c["inferred_type"] == "String")
    edited = sdk_constraints(copy.deepcopy(constraints))
    edited.set_monitoring(False, name)
    result = dq.check_drift(statistics, edited.body_dict, data)
    assert result.violations == [] and result.summary["not_monitored"] == [name]
    whole = sdk_constraints(copy.deepcopy(constraints))
    whole.set_monitoring(False)
    assert dq.check_drift(statistics, whole.body_dict, data).violations == []


@pytest.mark.parametrize("holder", ["feature", "string_constraints", "camelCase"])
def test_a_features_own_threshold_overrides_the_files(holder):
    statistics, constraints, data = dq_step("bad_cases")
    feature = next(c for c in constraints["features"] if c["inferred_type"] == "String")
    override = {"datatype_check_threshold": 0.0}
    if holder == "feature":
        feature["monitoring_config_overrides"] = override
    elif holder == "camelCase":
        feature["monitoringConfigOverrides"] = override
    else:
        feature["string_constraints"] = {"monitoring_config_overrides": override}
    assert dq.check_drift(statistics, constraints, data).violations == []


def test_a_features_comparison_threshold_overrides_the_files(real_baseline, churn_rows):
    statistics, constraints = copy.deepcopy(real_baseline)
    sample = churn_rows[:400].copy()
    sample[:, 3] *= 1.2  # Day Mins
    data = dataset_of(sample, integral_flags(statistics))
    assert ("Day Mins", "baseline_drift_check") in violation_keys(dq.check_drift(statistics, constraints, data).violations)
    constraints["features"][3]["monitoring_config_overrides"] = {"comparison_threshold": 0.9}
    assert ("Day Mins", "baseline_drift_check") not in violation_keys(
        dq.check_drift(statistics, constraints, data).violations)


def strings(values: list[str]) -> dq.Dataset:
    return dq.Dataset([dq.column_from_strings("message", values)], len(values))


def test_string_features_use_comparison_threshold_and_categorical_comparison_threshold():
    """sdk/monitor/statistics.json: one String feature, every one of 418 values the same."""
    statistics = load(REFERENCE / "sdk" / "monitor" / "statistics.json")
    value = statistics["features"][0]["string_statistics"]["distribution"]["categorical"]["buckets"][0]["value"]
    constraints = {"features": [{"name": "message", "inferred_type": "String", "completeness": 1.0}],
                   "monitoring_config": {"distribution_constraints": {"comparison_threshold": 0.1}}}
    half = strings([value] * 100 + ["other"] * 100)
    violation, = dq.check_drift(statistics, constraints, half).violations
    assert violation["constraint_check_type"] == "baseline_drift_check"
    assert float(re.search("distance: (.+) exceeds", violation["description"]).group(1)) == pytest.approx(
        dq.robust(0.5, 418, 200))
    constraints["monitoring_config"]["distribution_constraints"]["categorical_comparison_threshold"] = 0.5
    assert dq.check_drift(statistics, constraints, half).violations == []
    constraints["monitoring_config"]["distribution_constraints"]["categorical_drift_method"] = "ChiSquared"
    result = dq.check_drift(statistics, constraints, half)
    # One baseline category: Deequ's test needs two, so the feature is not compared rather than guessed.
    assert result.violations == [] and result.summary["not_compared"] == ["message"]


def test_chi_squared_categorical_drift():
    statistics = dq.build_statistics(strings(["a"] * 500 + ["b"] * 300 + ["c"] * 200))
    constraints = dq.suggest_constraints(statistics)
    constraints["monitoring_config"]["distribution_constraints"].update(
        categorical_drift_method="ChiSquared", categorical_comparison_threshold=0.01, drift_statistics=[])
    assert dq.check_drift(statistics, constraints, strings(["a"] * 50 + ["b"] * 30 + ["c"] * 20)).violations == []
    violation, = dq.check_drift(statistics, constraints, strings(["a"] * 20 + ["b"] * 30 + ["c"] * 50)).violations
    assert violation["constraint_check_type"] == "baseline_drift_check"
    assert "p-value" in violation["description"] and violation["description"].endswith("threshold: 0.01")


def test_the_older_constraints_layout_is_read():
    """sdk/monitor/constraints.json: ``enable_comparisons`` and overrides inside string_constraints."""
    statistics = load(REFERENCE / "sdk" / "monitor" / "statistics.json")
    constraints = load(REFERENCE / "sdk" / "monitor" / "constraints.json")
    value = statistics["features"][0]["string_statistics"]["distribution"]["categorical"]["buckets"][0]["value"]
    result = dq.check_drift(statistics, constraints, strings([value] * 50 + ["new"] * 50))
    checks = violation_keys(result.violations)
    assert ("message", "categorical_values_check") in checks
    assert result.violations[0]["description"] == "Value: 0.5 does not meet the constraint requirement! "
    # comparison_threshold 1.0: a distance can never exceed it
    assert ("message", "baseline_drift_check") not in checks


@pytest.mark.parametrize("edit, message", [
    ({"comparison_method": "Fancy"}, "comparison_method 'Fancy' is not Robust or Simple"),
    ({"categorical_drift_method": "L2"}, "categorical_drift_method 'L2' is not LInfinity or ChiSquared"),
])
def test_unknown_comparison_settings_are_refused(real_baseline, churn_rows, edit, message):
    statistics, constraints = copy.deepcopy(real_baseline)
    constraints["monitoring_config"]["distribution_constraints"].update(edit)
    with pytest.raises(dq.DataError, match=re.escape(message)):
        dq.check_drift(statistics, constraints, dataset_of(churn_rows[:100], integral_flags(statistics)))


def test_a_baseline_feature_without_distribution_is_not_compared(real_baseline, churn_rows):
    statistics, constraints = copy.deepcopy(real_baseline)
    del statistics["features"][3]["numerical_statistics"]["distribution"]
    result = dq.check_drift(statistics, constraints, dataset_of(churn_rows[:500], integral_flags(statistics)))
    assert result.violations == [] and result.summary["not_compared"] == ["Day Mins"]


# ----------------------------------------------------------------------------- real captures

def test_real_capture_lines_line_up_as_model_monitor_lines_them_up(real_baseline):
    """The introduction's real violations check the label column Churn against the captured prediction."""
    data = dq.read_capture(CHURN / "notebook-outputs" / "capture_lines_from_notebook.jsonl")
    result = dq.check_drift(*real_baseline, data)
    assert violation_keys(result.violations) == {("Churn", "data_type_check")}
    assert result.violations[0]["description"] == (
        "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. "
        "Observed: Only 0.0% of data is Integral.")
    assert len(result.summary["not_enough_data"]) == 70  # three records: no distance could exceed 0.1


def test_our_baseline_keeps_the_label_first_and_reads_real_captures(tmp_path):
    from processing_scripts import monitor as script

    out = tmp_path / "baseline"
    assert script.main(["baseline", "--data", str(CHURN / "training-dataset-without-header.csv"),
                        "--output-dir", str(out), "--label-column", "first"]) == 0
    statistics, constraints = load(out / "statistics.json"), load(out / "constraints.json")
    assert len(statistics["features"]) == 70
    assert constraints["features"][0]["monitoring_config_overrides"] == {"evaluate_constraints": "Disabled"}
    results = tmp_path / "check"
    code = script.main(["check", "--baseline-dir", str(out), "--output-dir", str(results), "--data",
                        str(CHURN / "notebook-outputs" / "capture_lines_from_notebook.jsonl")])
    assert code == 0
    assert load(results / "constraint_violations.json") == {"violations": []}
    summary = load(results / "drift_summary.json")
    assert summary["not_monitored"] == ["_c0"]
    # The same baseline reads the label-first test split and its features alone (what the endpoint is sent).
    lines = (CHURN / "test-dataset.csv").read_text().splitlines()
    for label, rows in (("first", lines), ("none", [line.split(",", 1)[1] for line in lines])):
        data = tmp_path / f"{label}.csv"
        data.write_text("\n".join(rows) + "\n")
        code = script.main(["check", "--baseline-dir", str(out), "--output-dir", str(tmp_path / f"out-{label}"),
                            "--data", str(data), "--label-column", label])
        assert code == 0 and load(tmp_path / f"out-{label}" / "constraint_violations.json")["violations"] == []
        features = load(tmp_path / f"out-{label}" / "drift_summary.json")["features"]
        assert features[1]["name"] == "_c1" and features[1]["new_inferred_type"] == "Integral"  # Account Length


def test_violation_descriptions_parse_as_aws_tools_parse_them(real_baseline, churn_rows):
    statistics, constraints = real_baseline
    sample = churn_rows[:300].copy()
    sample[:, 3] *= 1.5
    result = dq.check_drift(statistics, constraints, dataset_of(sample, integral_flags(statistics)))
    drift = [v for v in result.violations if v["constraint_check_type"] == "baseline_drift_check"]
    assert drift
    for violation in drift:
        distance, threshold = re.search("distance: (.+) exceeds threshold: (.+)", violation["description"]).groups()
        assert float(distance) > float(threshold) == 0.1
        assert float(distance) == pytest.approx(result.distances[violation["feature_name"]])


@pytest.mark.parametrize("edit", [
    lambda f: f["numerical_statistics"]["distribution"]["kll"]["sketch"].update(data=[["x"]]),
    lambda f: f["numerical_statistics"]["distribution"]["kll"]["sketch"].update(data=7),
    lambda f: f["numerical_statistics"]["distribution"]["kll"]["buckets"][0].pop("lower_bound"),
    lambda f: f["numerical_statistics"]["distribution"]["kll"]["buckets"][0].update(count="many"),
])
def test_a_malformed_distribution_is_a_one_line_error_naming_the_feature(real_baseline, churn_rows, edit):
    statistics, constraints = copy.deepcopy(real_baseline)
    edit(statistics["features"][3])
    with pytest.raises(dq.DataError, match=r"^statistics.json: feature Day Mins: .*; rebuild the baseline$"):
        dq.check_drift(statistics, constraints, dataset_of(churn_rows[:100], integral_flags(statistics)))


def test_a_large_shift_on_few_rows_is_caught_against_a_real_baseline(real_baseline, churn_rows):
    """AWS's files declare no minimum sample: Model Monitor's Robust distance decides (25 rows, x3)."""
    statistics, constraints = real_baseline
    sample = churn_rows[:25].copy()
    sample[:, 3] *= 3
    result = dq.check_drift(statistics, constraints, dataset_of(sample, integral_flags(statistics)))
    assert ("Day Mins", "baseline_drift_check") in violation_keys(result.violations)
    few = dq.check_drift(statistics, constraints, dataset_of(churn_rows[:3], integral_flags(statistics)))
    assert len(few.summary["not_enough_data"]) == 70  # no distance could exceed 0.1 on three rows


@pytest.mark.parametrize("edit, field", [
    ({"comparison_threshold": float("nan")}, "comparison_threshold nan"),
    ({"comparison_threshold": "0.5"}, "comparison_threshold '0.5'"),
    ({"comparison_threshold": -1}, "comparison_threshold -1"),
    ({"categorical_comparison_threshold": True}, "categorical_comparison_threshold True"),
])
def test_unusable_thresholds_are_refused_naming_the_field(real_baseline, churn_rows, edit, field):
    statistics, constraints = copy.deepcopy(real_baseline)
    constraints["monitoring_config"]["distribution_constraints"].update(edit)
    with pytest.raises(dq.DataError, match=re.escape(f"constraints.json: {field} is not a number from 0.0 to 1.0")):
        dq.check_drift(statistics, constraints, dataset_of(churn_rows[:100], integral_flags(statistics)))


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(monitoring_config_overrides=[1]), "feature Day Mins: monitoring_config_overrides is not an object"),
    (lambda c: c.update(monitoring_config_overrides={"datatype_check_threshold": "high"}),
     "feature Day Mins: datatype_check_threshold 'high' is not a number"),
    (lambda c: c.update(inferred_type="Foo"), "feature Day Mins: inferred_type 'Foo' is not Integral"),
])
def test_unusable_feature_edits_are_refused(real_baseline, churn_rows, edit, message):
    statistics, constraints = copy.deepcopy(real_baseline)
    edit(constraints["features"][3])
    with pytest.raises(dq.DataError, match=re.escape(message)):
        dq.check_drift(statistics, constraints, dataset_of(churn_rows[:100], integral_flags(statistics)))


def test_an_empty_sketch_is_not_compared(real_baseline, churn_rows):
    statistics, constraints = copy.deepcopy(real_baseline)
    statistics["features"][3]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"] = []
    result = dq.check_drift(statistics, constraints, dataset_of(churn_rows[:500], integral_flags(statistics)))
    assert result.summary["not_compared"] == ["Day Mins"]


def test_captures_read_as_csv_are_refused(tmp_path):
    with pytest.raises(dq.DataError, match="holds Data Capture JSON lines, not CSV; pass --format capture"):
        dq.read_dataset(CHURN / "notebook-outputs" / "capture_lines_from_notebook.jsonl", data_format="csv")

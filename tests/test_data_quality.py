"""processing_scripts.data_quality: statistics against numpy, KS against scipy, type inference, readers, checks."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.datasets import load_wine

from processing_scripts import csv_dataset, data_profile
from processing_scripts import data_quality as dq


def write_csv(path: Path, rows) -> Path:
    path.write_text("".join(",".join("" if v is None else str(v) for v in row) + "\n" for row in rows))
    return path


def numeric_dataset(columns: list[np.ndarray]) -> dq.Dataset:
    return dq.Dataset([dq.column_from_numbers(f"_c{i}", c, integral=False) for i, c in enumerate(columns)],
                      len(columns[0]))


def baseline_of(dataset: dq.Dataset) -> tuple[dict, dict]:
    statistics = dq.build_statistics(dataset)
    return statistics, dq.suggest_constraints(statistics)


def checks(violations) -> set[tuple[str, str]]:
    return {(v["feature_name"], v["constraint_check_type"]) for v in violations}


def wine_split() -> tuple[np.ndarray, np.ndarray]:
    """Wine data ordered by alcohol (feature 0), first and second half: 'time' with real drift."""
    X, _ = load_wine(return_X_y=True)
    X = X[np.argsort(X[:, 0], kind="stable")]
    return X[: len(X) // 2], X[len(X) // 2:]


# ------------------------------------------------------------------------------------------- statistics

RNG = np.random.default_rng(7)
CASES = {
    "normal": RNG.normal(3, 2, 1000),
    "one value": np.array([4.25]),
    "constant": np.full(50, -1.5),
    "integers": RNG.integers(-5, 6, 777).astype(float),
    "exponential": RNG.exponential(10, 5000),
    "above sketch k": RNG.normal(0, 1, dq.SKETCH_K * 3 + 1),
    "two values": np.array([0.0, 1.0]),
    "tiny spread": 1e-9 * RNG.random(300) + 1.0,
    "huge": RNG.normal(1e12, 1e10, 200),
    "with missing": np.where(RNG.random(400) < 0.2, np.nan, RNG.normal(size=400)),
}


@pytest.mark.parametrize("name", CASES)
def test_numerical_statistics_equal_numpy(name):
    values = CASES[name]
    column = dq.column_from_numbers("_c0", values, integral=False)
    stats = dq.numerical_statistics(column)
    present = values[~np.isnan(values)]
    assert stats["common"] == {"num_present": len(present), "num_missing": int(np.isnan(values).sum())}
    np.testing.assert_allclose([stats["mean"], stats["sum"], stats["std_dev"]],
                               [present.mean(), present.sum(), present.std()], rtol=1e-12, atol=1e-12)
    assert (stats["min"], stats["max"]) == (present.min(), present.max())
    counts, edges = np.histogram(present, bins=10)
    buckets = stats["distribution"]["kll"]["buckets"]
    assert [b["count"] for b in buckets] == counts.tolist()
    assert [b["lower_bound"] for b in buckets] + [buckets[-1]["upper_bound"]] == edges.tolist()
    items = stats["distribution"]["kll"]["sketch"]["data"][0]
    assert len(items) == min(len(present), dq.SKETCH_K)
    assert items == sorted(items)


@pytest.mark.parametrize("seed", range(12))
def test_ks_distance_equals_scipy_when_sketch_is_exact(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 400, size=2)
    if seed % 3 == 0:  # ties: discrete values
        a, b = rng.integers(0, 5, n).astype(float), rng.integers(0, 6, m).astype(float)
    else:
        a, b = rng.normal(0, 1, n), rng.normal(seed % 2, 1.5, m)
    expected = sps.ks_2samp(a, b).statistic
    items = dq.sketch_items(np.sort(a))
    assert dq.linf_numeric(items, np.ones(len(items)), np.sort(b)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_every_sketch_level_counts_with_weight_two_to_the_level(seed):
    """A 3-level sketch equals the sample where each level-i item is repeated 2**i times."""
    rng = np.random.default_rng(seed)
    levels = [rng.normal(0, 1, rng.integers(1, 50)).round(2).tolist() for _ in range(3)]
    expanded = np.sort(np.concatenate([np.repeat(level, 2 ** i) for i, level in enumerate(levels)]))
    values, weights = dq.weighted_items({"data": levels})
    assert weights.sum() == len(expanded)
    new = np.sort(rng.normal(0.3, 1, 80))
    assert dq.linf_numeric(values, weights, new) == pytest.approx(sps.ks_2samp(expanded, new).statistic, abs=1e-12)


def test_ks_distance_of_a_quantile_sketch_is_within_one_over_k():
    rng = np.random.default_rng(1)
    a, b = np.sort(rng.normal(size=50_000)), np.sort(rng.normal(0.05, 1, 20_000))
    exact = sps.ks_2samp(a, b).statistic
    items = dq.sketch_items(a)
    assert abs(dq.linf_numeric(items, np.ones(len(items)), b) - exact) <= 1.0 / dq.SKETCH_K + 1e-9


@pytest.mark.parametrize("values, expected", [
    (["1", "2", "-3", " 4 "], "Integral"),
    (["1", "2.5", "1e3", ".5", "-1.", ""], "Fractional"),
    (["1", "a"], "String"),
    (["1", "nan"], "String"),
    (["inf", "2"], "String"),
    (["true", "false"], "String"),
    (["", None], "Unknown"),
    (["0x10"], "String"),
])
def test_type_inference_follows_model_monitor(values, expected):
    assert dq.column_from_strings("_c0", values).inferred_type == expected


def test_csv_reader_infers_the_same_types_as_the_text_rule(tmp_path):
    rows = [[1, 1.5, "a", "nan", "true", "2024-01-01", None],
            [2, 2, "b", 1, "false", "2024-01-02", None],
            [None, -3e2, "c", 2, "true", "2024-01-03", None]]
    data = dq.read_csv(write_csv(tmp_path / "d.csv", rows))
    assert [c.inferred_type for c in data.columns] == [
        "Integral", "Fractional", "String", "String", "String", "String", "Unknown"]
    assert data.columns[0].num_missing == 1 and data.item_count == 3
    assert data.columns[3].strings.tolist() == ["nan", "1", "2"]


def test_pandas_fallback_gives_the_same_statistics(tmp_path, monkeypatch):
    rows = [[i % 3, i * 0.5, "xyz"[i % 3], "" if i % 4 else i] for i in range(40)]
    path = write_csv(tmp_path / "d.csv", rows)
    with_arrow = dq.build_statistics(dq.read_csv(path))
    monkeypatch.setattr(csv_dataset, "pacsv", None)
    assert dq.build_statistics(dq.read_csv(path)) == with_arrow


def test_folder_files_are_concatenated_and_a_text_file_makes_the_column_string(tmp_path):
    write_csv(tmp_path / "a.csv", [[1, 1], [2, 2]])
    (tmp_path / "sub").mkdir()
    write_csv(tmp_path / "sub" / "b.csv", [[3, "x"], [4.5, "y"]])
    data = dq.read_csv(tmp_path)
    assert data.item_count == 4
    assert [c.inferred_type for c in data.columns] == ["Fractional", "String"]
    assert sorted(data.columns[1].strings.tolist()) == ["1", "2", "x", "y"]


def test_label_column_first_is_dropped_and_columns_renamed(tmp_path):
    data = dq.read_csv(write_csv(tmp_path / "d.csv", [[0, 5, "a"], [1, 6, "b"]]), label_column="first")
    assert [(c.name, c.inferred_type) for c in data.columns] == [("_c0", "Integral"), ("_c1", "String")]


@pytest.mark.parametrize("content, message", [
    ("1,2\n3\n", "d.csv line 2: 1 field, expected 2 as in the first row; every row needs the same columns"),
    ("f0,f1\n1,2\n", "looks like a header"),
    ("", "holds no rows"),
])
def test_unusable_csv_is_a_one_line_error(tmp_path, content, message):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(dq.DataError, match=message) as error:
        dq.read_csv(path)
    assert "\n" not in str(error.value)


def test_files_with_different_widths_and_missing_paths_are_errors(tmp_path):
    write_csv(tmp_path / "a.csv", [[1, 2]])
    write_csv(tmp_path / "b.csv", [[1, 2, 3]])
    with pytest.raises(dq.DataError, match="has 3 columns but .*a.csv has 2"):
        dq.read_csv(tmp_path)
    with pytest.raises(dq.DataError, match="does not exist"):
        dq.read_csv(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(dq.DataError, match="holds no files"):
        dq.read_csv(tmp_path / "empty")


# ------------------------------------------------------------------------------------------------ layout

def test_statistics_and_constraints_layout():
    data = dq.Dataset([dq.column_from_strings("_c0", ["1", "2", ""]), dq.column_from_strings("_c1", ["a", "b", "a"]),
                       dq.column_from_strings("_c2", ["0.5", "-1", "2"])], 3)
    statistics, constraints = baseline_of(data)
    assert set(statistics) == {"version", "dataset", "features"} and statistics["dataset"] == {"item_count": 3}
    numeric, text, fractional = statistics["features"]
    assert set(numeric) == {"name", "inferred_type", "numerical_statistics"}
    assert set(numeric["numerical_statistics"]) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    kll = numeric["numerical_statistics"]["distribution"]["kll"]
    assert set(kll) == {"buckets", "sketch"} and len(kll["buckets"]) == 10
    assert set(kll["buckets"][0]) == {"lower_bound", "upper_bound", "count"}
    assert kll["sketch"] == {"parameters": {"c": 0.64, "k": 2048.0}, "data": [[1.0, 2.0]]}
    assert text == {"name": "_c1", "inferred_type": "String", "string_statistics": {
        "common": {"num_present": 3, "num_missing": 0}, "distinct_count": 2,
        "distribution": {"categorical": {"buckets": [{"value": "a", "count": 2}, {"value": "b", "count": 1}]}}}}
    assert fractional["inferred_type"] == "Fractional"
    assert set(constraints) == {"version", "features", "monitoring_config", "data_layout"}
    assert constraints["features"][0] == {"name": "_c0", "inferred_type": "Integral", "completeness": pytest.approx(2 / 3),
                                          "num_constraints": {"is_non_negative": True}}
    assert constraints["features"][1]["string_constraints"] == {"domains": ["a", "b"]}
    assert constraints["features"][2]["num_constraints"] == {"is_non_negative": False}
    config = constraints["monitoring_config"]
    assert {k: config[k] for k in ("evaluate_constraints", "emit_metrics", "datatype_check_threshold",
                                   "domain_content_threshold")} == {
        "evaluate_constraints": "Enabled", "emit_metrics": "Enabled", "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0}
    dist = config["distribution_constraints"]
    assert {k: dist[k] for k in ("perform_comparison", "comparison_threshold", "comparison_method")} == {
        "perform_comparison": "Enabled", "comparison_threshold": 0.1, "comparison_method": "Robust"}
    assert dist["psi_threshold"] == 0.2 and dist["psi_epsilon"] == 1e-4
    json.dumps(statistics, allow_nan=False), json.dumps(constraints, allow_nan=False)


# ------------------------------------------------------------------------------------------------ checks

def test_identical_data_has_no_violation():
    old, _ = wine_split()
    data = numeric_dataset(list(old.T))
    result = dq.check_drift(*baseline_of(data), data)
    assert result.violations == [] and not result.summary["drift_detected"]
    for feature in result.summary["features"]:
        values = {s["statistic"]: s["value"] for s in feature["statistics"]}
        assert values["population_stability_index"] == 0.0 and values["linf_robust"] == 0.0


def test_shifted_numeric_features_violate_psi_and_ks():
    old, new = wine_split()
    result = dq.check_drift(*baseline_of(numeric_dataset(list(old.T))), numeric_dataset(list(new.T)))
    by_name = {v["feature_name"]: v for v in result.violations}
    alcohol = by_name["_c0"]  # the 'time' axis: the halves do not overlap
    assert alcohol["constraint_check_type"] == "baseline_drift_check"
    # the other failing statistic first, briefly
    assert alcohol["description"].startswith("Also population stability index ")
    # Model Monitor's phrase last: 0.97 (ties at the split point) less the Robust correction
    distance = float(alcohol["description"].split("Baseline drift distance: ")[1].split(" exceeds")[0])
    assert distance == pytest.approx(dq.robust(0.97, 89, 89), abs=0.01)
    assert {v["constraint_check_type"] for v in result.violations} == {"baseline_drift_check"}
    assert len(by_name) >= 3  # alcohol drags correlated features along


def test_random_halves_of_one_population_do_not_drift_much():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 20_000, 4))
    result = dq.check_drift(*baseline_of(numeric_dataset(list(a.T))), numeric_dataset(list(b.T)))
    assert result.violations == []


def test_thresholds_come_from_constraints_and_overrides():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 5000), rng.normal(0.15, 1, 5000)
    statistics, constraints = baseline_of(numeric_dataset([a]))
    new = numeric_dataset([b])
    assert dq.check_drift(statistics, constraints, new).violations == []  # KS ~0.06 < 0.1, PSI small
    assert checks(dq.check_drift(statistics, constraints, new, comparison_threshold=0.02).violations) == {
        ("_c0", "baseline_drift_check")}
    constraints["monitoring_config"]["distribution_constraints"]["psi_threshold"] = 0.001
    violation = dq.check_drift(statistics, constraints, new).violations[0]
    assert violation["description"].startswith("Population stability index") and "L-infinity" not in violation["description"]
    constraints["monitoring_config"]["distribution_constraints"]["perform_comparison"] = "Disabled"
    assert dq.check_drift(statistics, constraints, new).violations == []


def test_robust_comparison_ignores_a_large_but_insignificant_ks_distance():
    statistics, constraints = baseline_of(numeric_dataset([np.arange(1000.0)]))
    small = numeric_dataset([np.linspace(0, 800, 40)])  # D = 0.2 on 40 rows, within the KS critical value
    constraints["monitoring_config"]["distribution_constraints"]["psi_threshold"] = 100
    assert dq.check_drift(statistics, constraints, small).violations == []
    constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"
    violation, = dq.check_drift(statistics, constraints, small).violations
    # read as AWS's published helpers read it
    distance, threshold = re.search("distance: (.+) exceeds threshold: (.+)", violation["description"]).groups()
    assert float(distance) == pytest.approx(0.2, abs=0.002) and float(threshold) == 0.1


def test_too_few_values_give_not_enough_data_instead_of_a_verdict():
    statistics, constraints = baseline_of(numeric_dataset([np.arange(1000.0)]))
    constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"
    result = dq.check_drift(statistics, constraints, numeric_dataset([np.array([900.0, 950.0, 990.0])]))
    assert result.violations == [] and result.summary["not_enough_data"] == ["_c0"]
    constraints["monitoring_config"]["distribution_constraints"]["min_sample_size"] = 3
    assert checks(dq.check_drift(statistics, constraints, numeric_dataset([np.array([900.0, 950.0, 990.0])]))
                  .violations) == {("_c0", "baseline_drift_check")}


def categorical(values) -> dq.Dataset:
    return dq.Dataset([dq.column_from_strings("_c0", values)], len(values))


def test_shifted_categorical_shares_violate_psi_only():
    statistics, constraints = baseline_of(categorical(["a"] * 500 + ["b"] * 500))
    result = dq.check_drift(statistics, constraints, categorical(["a"] * 850 + ["b"] * 150))
    assert checks(result.violations) == {("_c0", "baseline_drift_check")}
    assert result.violations[0]["description"].startswith("Also population stability index 0.6")
    assert "L-infinity distance of the category shares" in result.violations[0]["description"]
    same = dq.check_drift(statistics, constraints, categorical(["b", "a"] * 300))
    assert same.violations == []


def test_new_categories_violate_categorical_values_check():
    statistics, constraints = baseline_of(categorical(["a", "b"] * 500))
    result = dq.check_drift(statistics, constraints, categorical(["a", "b"] * 499 + ["c", "d"]))
    assert checks(result.violations) == {("_c0", "categorical_values_check")}
    assert result.violations[0]["description"] == "Value: 0.998 does not meet the constraint requirement! "
    constraints["monitoring_config"]["domain_content_threshold"] = 0.99
    assert dq.check_drift(statistics, constraints, categorical(["a", "b"] * 499 + ["c", "d"])).violations == []


def test_missing_and_extra_columns():
    old, _ = wine_split()
    baseline = baseline_of(numeric_dataset(list(old.T)))
    fewer = dq.check_drift(*baseline, numeric_dataset(list(old.T[:11])))
    assert checks(fewer.violations) == {("_c11", "missing_column_check"), ("_c12", "missing_column_check")}
    more = dq.check_drift(*baseline, numeric_dataset(list(old.T) + [old[:, 0]]))
    assert checks(more.violations) == {("_c13", "extra_column_check")}
    assert more.violations[0]["description"] == ("There are extra columns in current dataset. Number of columns "
                                                 "in current dataset: 14, Number of columns in baseline constraints: 13")
    assert fewer.violations[0]["description"] == ("There are missing columns in current dataset. Number of columns "
                                                  "in current dataset: 11, Number of columns in baseline constraints: 13")


def test_completeness_drop():
    rng = np.random.default_rng(5)
    a = rng.normal(size=2000)
    statistics, constraints = baseline_of(numeric_dataset([a]))
    b = a.copy()
    b[::10] = np.nan
    result = dq.check_drift(statistics, constraints, numeric_dataset([b]))
    assert checks(result.violations) == {("_c0", "completeness_check")}
    assert result.violations[0]["description"] == "Value: 0.9 does not meet the constraint requirement! "
    assert dq.check_drift(statistics, constraints, numeric_dataset([b]), completeness_ratio=0.85).violations == []


@pytest.mark.parametrize("new_values, new_type", [
    (["1", "2", "x", "4"] * 100, "String"),
    (["1", "2.5", "3", "4"] * 100, "Fractional"),
])
def test_type_change_violates_data_type_check(new_values, new_type):
    statistics, constraints = baseline_of(categorical([str(i % 5) for i in range(400)]))
    result = dq.check_drift(statistics, constraints, categorical(new_values))
    assert ("_c0", "data_type_check") in checks(result.violations)
    violation = next(v for v in result.violations if v["constraint_check_type"] == "data_type_check")
    assert violation["description"] == ("Data type match requirement is not met. Expected data type: Integral, "
                                        "Expected match: 100.0%. Observed: Only 75.0% of data is Integral.")


def test_integers_written_as_decimals_conform_to_a_fractional_baseline():
    statistics, constraints = baseline_of(categorical(["0.5", "1.5", "2"] * 100))
    result = dq.check_drift(statistics, constraints, categorical(["1", "2", "1.5"] * 100))
    assert "data_type_check" not in {v["constraint_check_type"] for v in result.violations}


# ------------------------------------------------------------------------------------------------ capture

def capture_line(data: str, encoding: str = "CSV", *, rows: int = 1, **changes) -> str:
    """A Data Capture record of ``rows`` CSV rows, each scored 0.5 by the endpoint."""
    record = {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                "data": data, "encoding": encoding},
                              "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                                 "data": "\n".join(["0.5"] * rows), "encoding": "CSV"}},
              "eventMetadata": {"eventId": "e", "inferenceTime": "2024-01-01T00:00:00Z"}, "eventVersion": "0"}
    record["captureData"]["endpointInput"].update(changes)
    return json.dumps(record) + "\n"


def test_capture_csv_and_base64_records_read_like_csv(tmp_path):
    rows = [[1, 2.5, "a"], [2, 3.5, "b"], [3, "", "a"], [4, 1.0, "c"]]
    # Model Monitor's layout: the endpoint's output (0.5) first, then the request's fields.
    csv_path = write_csv(tmp_path / "plain.csv", [[0.5, *row] for row in rows])
    text = [",".join(str(v) for v in row) for row in rows]
    folder = tmp_path / "capture" / "AllTraffic" / "2024" / "01"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text(capture_line(text[0]) + "\n" + capture_line("\n".join(text[1:3]) + "\n", rows=2))
    (folder / "b.jsonl").write_text(capture_line(base64.b64encode(text[3].encode()).decode(), "BASE64"))
    captured = dq.read_dataset(tmp_path / "capture")
    assert dq.sniff_format(tmp_path / "capture") == "capture"
    assert dq.build_statistics(captured) == dq.build_statistics(dq.read_dataset(csv_path))


@pytest.mark.parametrize("lines, message", [
    (lambda: capture_line("1,2") + "{not json\n", r"b\.jsonl:2: not JSON"),
    (lambda: json.dumps({"eventVersion": "0"}) + "\n", r"b\.jsonl:1: no captureData\.endpointInput"),
    (lambda: capture_line("1,2", "GZIP"), r"b\.jsonl:1: unknown encoding 'GZIP'"),
    (lambda: capture_line("***", "BASE64"), r"b\.jsonl:1: BASE64 data does not decode"),
    (lambda: capture_line('{"x": 1}', observedContentType="application/json"),
     r"b\.jsonl:1: the input's JSON object has none of the keys"),
    (lambda: capture_line("1,2") + capture_line("1,2,3"), r"b\.jsonl:2: a request has 4 fields but"),
    (lambda: "[1, 2]\n", r"b\.jsonl:1: no captureData"),
])
def test_malformed_capture_is_a_one_line_error_naming_file_and_line(tmp_path, lines, message):
    path = tmp_path / "b.jsonl"
    path.write_text(lines())
    with pytest.raises(dq.DataError, match=message) as error:
        dq.read_capture(path)
    assert "\n" not in str(error.value)


def test_capture_drift_against_a_csv_baseline(tmp_path):
    old, new = wine_split()
    statistics, constraints = baseline_of(numeric_dataset(list(old.T)))
    lines = "".join(capture_line("\n".join(",".join(f"{v:.6g}" for v in row) for row in new[i:i + 5]),
                                 rows=len(new[i:i + 5])) for i in range(0, len(new), 5))
    (tmp_path / "c.jsonl").write_text(lines)
    result = dq.check_drift(statistics, constraints, dq.read_capture(tmp_path / "c.jsonl"))
    assert ("_c0", "baseline_drift_check") in checks(result.violations)
    assert result.summary["dataset"]["item_count"] == len(new)


# ------------------------------------------------------------------------------------------------ more

@pytest.mark.parametrize("seed", range(8))
def test_chi_squared_pvalue_equals_scipy_when_no_category_is_regrouped(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    base = {f"v{i}": float(c) for i, c in enumerate(rng.integers(200, 1000, k))}
    new = {f"v{i}": float(c) for i, c in enumerate(rng.integers(20, 100, k))}
    total = sum(new.values())
    expected = [base[f"v{i}"] / sum(base.values()) * total for i in range(k)]
    want = sps.chisquare([new[f"v{i}"] for i in range(k)], expected).pvalue
    assert dq.chi_squared_pvalue(base, new) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("statistic, dof", [(0.001, 1), (0.5, 1), (3.84, 1), (40.0, 1), (2.0, 3), (9.0, 5),
                                            (30.0, 9), (0.2, 12), (200.0, 20), (1500.0, 999), (800.0, 2)])
def test_chi2_pvalue_equals_scipy(statistic, dof):
    assert dq.chi2_pvalue(statistic, dof) == pytest.approx(sps.chi2.sf(statistic, dof), rel=1e-9, abs=1e-300)


def test_robust_distance_is_deequs_formula():
    assert dq.robust(0.3, 2333, 60) == pytest.approx(0.3 - 1.8 * np.sqrt((2333 + 60) / (2333 * 60)))
    assert dq.robust(0.1, 100, 100) == 0.0


def test_categories_beyond_the_cap_are_pooled_as_other(monkeypatch):
    monkeypatch.setattr(data_profile, "MAX_CATEGORIES", 3)
    values = [f"v{i}" for i in range(10)] * 20
    statistics, constraints = baseline_of(categorical(values))
    text = statistics["features"][0]["string_statistics"]
    assert text["distinct_count"] == 10 and len(text["distribution"]["categorical"]["buckets"]) == 3
    assert "string_constraints" not in constraints["features"][0]  # no domain: no categorical_values_check
    assert dq.check_drift(statistics, constraints, categorical(values[::-1])).violations == []
    shifted = dq.check_drift(statistics, constraints, categorical(["v0"] * 150 + values[:50]))
    assert checks(shifted.violations) == {("_c0", "baseline_drift_check")}


def test_a_type_change_after_the_first_megabyte_is_seen(tmp_path):
    """pyarrow infers types from its first block; a later value must still make the column String."""
    path = tmp_path / "big.csv"
    path.write_text("".join(f"{i},{i}\n" for i in range(300_000)) + "1.5,x\n")
    data = dq.read_csv(path)
    assert [c.inferred_type for c in data.columns] == ["Fractional", "String"]
    assert data.item_count == 300_001 and data.columns[1].num_integral == 300_000


# ----------------------------------------------------------------------------- reading in pieces of lines

PIECE_CASES = {
    "integers and decimals": "1,2.5,a\n2,,b\n,3.25,c\n4,-1e3,d\n" * 40,
    "a decimal in a late piece": "1,1\n" * 60 + "1.5,2\n" + "3,3\n" * 5,
    "text in a late piece": "1,1\n" * 60 + "x,2\n",
    "nan in a late piece": "1.5,1\n" * 60 + "nan,2\n",
    "inf in a late piece": "1.5,1\n" * 60 + "2,-inf\n",
    "a date in a late piece": "1,1\n" * 60 + "2024-01-01,2\n",
    "empty until a late piece": ",1\n" * 60 + "7,2\n",
    "no final newline": "1,2\n3,4\n5,6",
    "blank lines": "1,2\n\n\n\n\n\n\n\n\n\n\n\n3,4\n\n",
    "windows line ends": "1,2.5\r\n3,4\r\n" * 30,
    "a line longer than a piece": "1," + "x" * 300 + "\n3,4\n" + "5," + "2" * 30 + "\n",
    "quoted text": '"a,b",1\n"c",2\n' * 20,
}


@pytest.mark.parametrize("name", PIECE_CASES)
@pytest.mark.parametrize("piece_bytes", [8, 50, 333])
def test_reading_in_pieces_equals_reading_at_once(tmp_path, name, piece_bytes):
    """Pieces split anywhere between lines, and type evidence in any piece, give the whole file's result."""
    path = tmp_path / "d.csv"
    path.write_bytes(PIECE_CASES[name].encode())
    whole = dq.build_statistics(dq.Dataset(*dq.read_csv_arrow(path, set(), piece_bytes=1 << 20)))
    pieces = dq.build_statistics(dq.Dataset(*dq.read_csv_arrow(path, set(), piece_bytes=piece_bytes)))
    assert pieces == whole
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(csv_dataset, "pacsv", None)  # the text rule (pandas reader) agrees too
    try:
        assert dq.build_statistics(dq.read_csv(path)) == whole
    finally:
        monkeypatch.undo()


def test_a_width_change_in_a_later_piece_is_an_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,3\n" * 50 + "4,5\n")
    with pytest.raises(dq.DataError, match="d.csv line 51: 2 fields, expected 3 as in the first row") as error:
        dq.read_csv_arrow(path, set(), piece_bytes=16)
    assert "\n" not in str(error.value)


def test_missing_values_in_integer_and_decimal_pieces_stay_missing(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("".join(f"{'' if i % 7 == 0 else i},{'' if i % 5 == 0 else i / 4}\n" for i in range(1, 200)))
    columns, rows = dq.read_csv_arrow(path, set(), piece_bytes=64)
    expected_a = np.sort([float(i) for i in range(1, 200) if i % 7])
    expected_b = np.sort([i / 4 for i in range(1, 200) if i % 5])
    assert rows == 199
    assert (columns[0].inferred_type, columns[0].num_missing) == ("Integral", 28)
    assert (columns[1].inferred_type, columns[1].num_missing) == ("Fractional", 39)
    np.testing.assert_array_equal(columns[0].numbers, expected_a)
    np.testing.assert_array_equal(columns[1].numbers, expected_b)


def test_text_seen_in_the_first_piece_is_read_once_and_later_text_again(tmp_path, monkeypatch):
    calls = []
    read_csv = csv_dataset.pacsv.read_csv
    monkeypatch.setattr(csv_dataset.pacsv, "read_csv", lambda *a, **k: calls.append(1) or read_csv(*a, **k))
    path = tmp_path / "d.csv"
    path.write_text("a,1\nb,2\n" * 20)  # 160 bytes: 8 pieces of 20
    columns, _ = dq.read_csv_arrow(path, set(), piece_bytes=20)
    assert [c.inferred_type for c in columns] == ["String", "Integral"] and len(calls) == 8
    calls.clear()
    path.write_text("1,1\n" * 40 + "x,2\n")  # text only in the last piece: the file is read again
    columns, _ = dq.read_csv_arrow(path, set(), piece_bytes=20)
    assert [c.inferred_type for c in columns] == ["String", "Integral"] and len(calls) == 9 + 9


def test_a_folder_holding_one_empty_file_names_the_file(tmp_path):
    """The container's input folder (baseline_dataset_input) is not the user's name for their file."""
    from processing_scripts.columns import DataError
    from processing_scripts.csv_dataset import read_csv
    from processing_scripts.text_files import relative_names

    folder = tmp_path / "baseline_dataset_input"
    folder.mkdir()
    (folder / "test.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"^test\.csv holds no rows; pass CSV data"):
        read_csv(folder, label_column="first", shown=relative_names(folder))

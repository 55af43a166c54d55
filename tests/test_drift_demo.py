"""python -m pipeline.drift_demo: a time split with a quiet holdout and a documented drift, end to end."""
from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline import drift_demo as demo

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("drift-demo")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = demo.main(["--work-dir", str(work), "--rows", "8000", "--seed", "3"])
    return code, work, out.getvalue()


def test_holdout_is_clean_and_later_period_drifts_on_the_changed_features(run):
    code, work, printed = run
    assert code == 0
    assert json.loads((work / "check-holdout" / "constraint_violations.json").read_text()) == {"violations": []}
    later = json.loads((work / "check-later" / "constraint_violations.json").read_text())["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in later} == {
        ("_c1", "baseline_drift_check"), ("_c6", "categorical_values_check"), ("_c6", "baseline_drift_check")}
    site = next(v["description"] for v in later if v["constraint_check_type"] == "categorical_values_check")
    assert float(re.search("Value: (.+) does not meet the constraint requirement!", site).group(1)) == pytest.approx(0.7, abs=0.03)
    assert re.search(r"holdout 2024-01-01 \.\. 2024-06-30: no violations", printed)
    assert re.search(r"later   2024-07-01 \.\. 2024-12-3\d: violations: temperature \(baseline_drift_check\); "
                     r"site \(categorical_values_check, baseline_drift_check\)", printed)
    report = work / "check-later" / "drift_report.html"
    assert f"drift report: {report.resolve()}" in printed
    assert "plant-d" in report.read_text() and (work / "check-holdout" / "drift_report.html").is_file()
    assert {p.name for p in (work / "baseline").iterdir()} == {"statistics.json", "constraints.json"}


def test_baseline_holds_the_reference_period_label_then_features(run):
    _, work, _ = run
    statistics = json.loads((work / "baseline" / "statistics.json").read_text())
    reference_rows = sum(1 for _ in open(work / "data" / "reference.csv"))
    assert statistics["dataset"]["item_count"] == reference_rows
    assert [f["inferred_type"] for f in statistics["features"]] == [
        "Integral", "Fractional", "Fractional", "Fractional", "Fractional", "Integral", "String"]
    constraints = json.loads((work / "baseline" / "constraints.json").read_text())
    assert constraints["features"][0]["monitoring_config_overrides"] == {"evaluate_constraints": "Disabled"}


def test_periods_are_split_by_the_time_column_only():
    log = demo.make_sensor_log(6000, seed=1)
    assert np.all(np.diff(log.time.astype(np.int64)) >= 0)
    periods = demo.split_by_time(log)
    masks = np.stack(list(periods.values()))
    assert np.all(masks.sum(axis=0) == 1)  # every reading in exactly one period
    assert log.time[periods["reference"]].max() < log.time[periods["holdout"]].min()
    assert log.time[periods["holdout"]].max() < demo.CHANGE <= log.time[periods["later"]].min()
    # The events touch only the later period: Fahrenheit temperatures and the new site.
    celsius = log.numbers[~periods["later"], 0]
    assert celsius.max() < 45 and log.numbers[periods["later"], 0].mean() > 60
    assert demo.NEW_SITE not in set(log.site[~periods["later"]])
    share = np.mean(log.site[periods["later"]] == demo.NEW_SITE)
    assert share == pytest.approx(demo.NEW_SITE_SHARE, abs=0.04)


def test_the_log_is_deterministic_for_a_seed():
    a, b = demo.make_sensor_log(5000, seed=4), demo.make_sensor_log(5000, seed=4)
    assert np.array_equal(a.time, b.time) and np.array_equal(a.numbers, b.numbers)
    assert np.array_equal(a.site, b.site) and np.array_equal(a.label, b.label)
    assert not np.array_equal(a.numbers, demo.make_sensor_log(5000, seed=5).numbers)


def test_too_few_rows_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--work-dir", str(tmp_path), "--rows", "100"])
    assert exit_.value.code == 2
    assert "--rows must be at least 5000" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_makefile_target_runs_the_demo_after_installing():
    text = (REPO / "Makefile").read_text()
    assert re.search(r"^drift-demo: \$\(STAMP\)\n\t\$\(PY\) -m pipeline\.drift_demo$", text, re.M)

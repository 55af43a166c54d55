"""processing_scripts/monitor.py (container script) and python -m pipeline.monitor (user CLI)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from pipeline import monitor as cli
from pipeline.local.store import LocalObjectStore
from processing_scripts import monitor as script

REPO = Path(__file__).resolve().parents[1]
BASELINE_FILES = {"statistics.json", "constraints.json"}
CHECK_FILES = {"constraint_violations.json", "statistics.json", "constraints.json", "drift_summary.json",
               "drift_report.html", "drift_status.json", "cloudwatch_metrics.json"}


def save(path: Path, matrix: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, matrix, delimiter=",", fmt="%.6g")
    return path


@pytest.fixture(scope="module")
def cancer(tmp_path_factory) -> dict[str, Path]:
    """Breast-cancer data, label first, ordered by mean radius: early half, late half, and a copy of early."""
    X, y = load_breast_cancer(return_X_y=True)
    order = np.argsort(X[:, 0], kind="stable")
    data = np.column_stack([y, X])[order]
    half = len(data) // 2
    root = tmp_path_factory.mktemp("cancer")
    return {"early": save(root / "early" / "part-0.csv", data[:half]),
            "late": save(root / "late.csv", data[half:]),
            "copy": save(root / "copy.csv", data[:half])}


@pytest.fixture(scope="module")
def baseline(cancer, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    assert script.main(["baseline", "--data", str(cancer["early"].parent), "--output-dir", str(out),
                        "--label-column", "first"]) == 0
    return out


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_baseline_writes_model_monitor_files(baseline):
    assert files_in(baseline) == BASELINE_FILES
    statistics = json.loads((baseline / "statistics.json").read_text())
    constraints = json.loads((baseline / "constraints.json").read_text())
    assert statistics["dataset"]["item_count"] == 284 and len(statistics["features"]) == 31  # label first
    assert constraints["data_layout"] == {"header": False, "label_column": "first", "feature_count": 31,
                                          "label_kept": True}


def test_script_check_same_data_is_clean(baseline, cancer, tmp_path, capsys):
    assert script.main(["check", "--baseline-dir", str(baseline), "--data", str(cancer["copy"]),
                        "--output-dir", str(tmp_path)]) == 0
    assert files_in(tmp_path) == CHECK_FILES
    assert json.loads((tmp_path / "constraint_violations.json").read_text()) == {"violations": []}
    summary = json.loads((tmp_path / "drift_summary.json").read_text())
    assert summary["drift_detected"] is False and len(summary["features"]) == 31
    assert summary["not_monitored"] == ["_c0"]  # the label slot
    assert "0 violation(s)" in capsys.readouterr().out


def test_script_check_drift_writes_violations_and_report(baseline, cancer, tmp_path):
    args = ["check", "--baseline-dir", str(baseline), "--data", str(cancer["late"]), "--output-dir", str(tmp_path)]
    assert script.main(args) == 0  # the pipeline decides what violations mean
    assert script.main(args + ["--fail-on-violation"]) == 1
    violations = json.loads((tmp_path / "constraint_violations.json").read_text())["violations"]
    assert {"feature_name": "_c1", "constraint_check_type": "baseline_drift_check"}.items() <= violations[0].items()
    report = (tmp_path / "drift_report.html").read_text()
    assert report.startswith("<!DOCTYPE html>") and "<svg" in report and "population_stability_index" in report
    assert "src=\"http" not in report  # self-contained
    summary = json.loads((tmp_path / "drift_summary.json").read_text())
    assert summary["violation_count"] == len(violations)
    row = summary["features"][1]["statistics"]
    assert {r["statistic"] for r in row} >= {"population_stability_index", "linf_robust"}
    assert all(set(r) >= {"statistic", "value", "threshold", "verdict"} for r in row)


def test_check_thresholds_from_flags(baseline, cancer, tmp_path):
    args = ["check", "--baseline-dir", str(baseline), "--data", str(cancer["late"]), "--output-dir", str(tmp_path),
            "--fail-on-violation"]
    assert script.main(args + ["--psi-threshold", "1e9", "--ks-threshold", "1"]) == 0
    settings = json.loads((tmp_path / "drift_summary.json").read_text())["settings"]
    assert settings["psi_threshold"] == 1e9 and settings["comparison_threshold"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["check", "--psi-threshold", "-1"], "--psi-threshold: bad value '-1' for PsiThreshold: expected 0 or more"),
    (["check", "--ks-threshold", "x"], "bad value 'x' for KsThreshold: expected a number"),
    (["check", "--format", "xml"], "invalid choice"),
    (["nope"], "invalid choice"),
])
def test_argument_errors_are_one_line(argv, message, capsys):
    assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_input_writes_nothing(baseline, tmp_path, capsys):
    bad = tmp_path / "capture.jsonl"
    bad.write_text('{"captureData": {"endpointInput": {"data": "1,2", "encoding": "CSV"}}}\n{oops\n')
    out = tmp_path / "out"
    assert script.main(["check", "--baseline-dir", str(baseline), "--data", str(bad), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    # The container names a file relative to --data (as written below its S3 URI), not by its local path.
    assert err.startswith("error: capture.jsonl:2: not JSON") and err.count("\n") == 1
    assert files_in(out) == set()
    assert script.main(["check", "--baseline-dir", str(tmp_path), "--data", str(bad), "--output-dir", str(out)]) == 2
    assert "statistics.json does not exist" in capsys.readouterr().err


def test_each_output_file_is_replaced_whole_or_not_at_all(baseline, cancer, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "constraint_violations.json").write_text("old")
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(script.os, "replace", failing_replace)
    with pytest.raises(OSError):
        script.write_outputs(out, {"a.json": b"new", "b.json": b"new"})
    monkeypatch.undo()
    assert (out / "constraint_violations.json").read_text() == "old"
    assert not [p for p in out.iterdir() if p.name.startswith(".staging-")]  # staging removed
    assert not (out / "a.json").exists() and not (out / "b.json").exists()  # the set whole or not at all


def test_unwritable_output_dir_is_an_error(baseline, cancer, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert script.main(["baseline", "--data", str(cancer["copy"]), "--output-dir", str(blocker / "sub")]) == 2
    assert "cannot write the outputs" in capsys.readouterr().err


def test_script_runs_as_a_container_script(cancer, tmp_path):
    """As a Processing step runs it: ``python3 -m processing_scripts.monitor`` over the staged code bundle."""
    from tests.container import container_command, container_env, stage_code

    code = stage_code(tmp_path / "code")
    out = tmp_path / "out"
    completed = subprocess.run(
        container_command("monitor", "baseline", "--data", str(cancer["copy"]), "--output-dir", str(out),
                          "--label-column", "first"),
        capture_output=True, text=True, cwd=tmp_path, env=container_env(code), timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert files_in(out) == BASELINE_FILES


# ------------------------------------------------------------------------------------------- user CLI

def test_cli_exit_codes_local_paths(baseline, cancer, tmp_path, capsys):
    assert cli.main(["check", "--baseline", str(baseline), "--data", str(cancer["copy"]),
                     "--output-dir", str(tmp_path / "a")]) == 0
    assert "no violations" in capsys.readouterr().out
    assert cli.main(["check", "--baseline", str(baseline), "--data", str(cancer["late"]),
                     "--output-dir", str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out
    assert "violation(s)" in out and "_c1: baseline_drift_check" in out
    assert cli.main(["check", "--baseline", str(baseline), "--data", str(tmp_path / "none"),
                     "--output-dir", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_reads_the_local_object_store(cancer, tmp_path, capsys):
    work = tmp_path / "work"
    store = LocalObjectStore(work)
    store.put_file("s3://bucket/data/early/part-0.csv", cancer["early"])
    store.put_file("s3://bucket/data/late.csv", cancer["late"])
    common = ["--work-dir", str(work)]
    assert cli.main(["baseline", "--data", "s3://bucket/data/early", "--output-dir", str(tmp_path / "bl"),
                     "--label-column", "first", *common]) == 0
    store.upload_dir(tmp_path / "bl", "s3://bucket/baseline")
    assert cli.main(["check", "--baseline", "s3://bucket/baseline", "--data", "s3://bucket/data/late.csv",
                     "--output-dir", str(tmp_path / "chk"), *common]) == 1
    assert files_in(tmp_path / "chk") == CHECK_FILES
    assert cli.main(["check", "--baseline", "s3://bucket/nothing/", "--data", "s3://bucket/data/late.csv",
                     "--output-dir", str(tmp_path / "x"), *common]) == 2
    assert "no objects under s3://bucket/nothing/ in the local store" in capsys.readouterr().err
    assert cli.main(["check", "--baseline", "s3://bucket/../etc", "--data", "x", *common]) == 2
    assert "escape the store" in capsys.readouterr().err


def test_cli_reads_aws_s3_under_moto(cancer, tmp_path, capsys, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bucket")
        s3.upload_file(str(cancer["early"]), "bucket", "in/early/part-0.csv")
        s3.upload_file(str(cancer["copy"]), "bucket", "in/copy.csv")
        aws = ["--s3", "aws", "--region", "us-east-1"]
        assert cli.main(["baseline", "--data", "s3://bucket/in/early/", "--output-dir", str(tmp_path / "bl"),
                         "--label-column", "first", *aws]) == 0
        for name in BASELINE_FILES:
            s3.upload_file(str(tmp_path / "bl" / name), "bucket", f"baseline/{name}")
        assert cli.main(["check", "--baseline", "s3://bucket/baseline", "--data", "s3://bucket/in/copy.csv",
                         "--output-dir", str(tmp_path / "chk"), *aws]) == 0
        assert cli.main(["check", "--baseline", "s3://missing-bucket/b", "--data", "s3://bucket/in/copy.csv", *aws]) == 2
        err = capsys.readouterr().err
        assert "s3://missing-bucket/b: NoSuchBucket" in err and err.count("\n") == 1


def test_cli_capture_folder_with_base64(baseline, cancer, tmp_path):
    import base64

    rows = cancer["late"].read_text().splitlines()
    folder = tmp_path / "capture" / "AllTraffic" / "2024" / "05" / "01" / "13"
    folder.mkdir(parents=True)
    lines = []
    for i in range(0, len(rows), 7):
        features = "\n".join(r.split(",", 1)[1] for r in rows[i:i + 7])  # endpoints get features only
        data, encoding = (base64.b64encode(features.encode()).decode(), "BASE64") if i % 2 else (features, "CSV")
        lines.append(json.dumps({"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                                   "data": data, "encoding": encoding}},
                                 "eventMetadata": {"eventId": str(i)}, "eventVersion": "0"}))
    (folder / "capture.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert cli.main(["check", "--baseline", str(baseline), "--data", str(tmp_path / "capture"),
                     "--output-dir", str(out)]) == 1
    summary = json.loads((out / "drift_summary.json").read_text())
    assert summary["dataset"]["item_count"] == len(rows) and summary["dataset"]["column_count"] == 30
    assert summary["violations_by_check"]["baseline_drift_check"] > 0
    assert summary["violations_by_check"]["missing_column_check"] == 0


# ------------------------------------------------------------- drift scenarios through the container script

def _mixed(rng: np.random.Generator, rows: int, *, shift: float = 0.0, shares=(0.5, 0.3, 0.2),
           categories=("a", "b", "c")) -> list[list]:
    """Numeric, integer and categorical columns (no label)."""
    x = rng.normal(shift, 1.0, rows)
    k = rng.integers(0, 10, rows)
    c = rng.choice(categories, size=rows, p=shares)
    return [[f"{a:.5f}", str(b), str(s)] for a, b, s in zip(x, k, c)]


def _write_rows(path: Path, rows: list[list]) -> Path:
    path.write_text("".join(",".join(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def mixed_baseline(tmp_path_factory) -> tuple[Path, list[list]]:
    root = tmp_path_factory.mktemp("mixed")
    rows = _mixed(np.random.default_rng(0), 3000)
    assert script.main(["baseline", "--data", str(_write_rows(root / "base.csv", rows)),
                        "--output-dir", str(root / "bl")]) == 0
    return root / "bl", rows


SCENARIOS = {
    "identical data": (lambda rng, base: base, set()),
    "shifted numeric feature": (lambda rng, base: _mixed(rng, 2000, shift=1.0), {("_c0", "baseline_drift_check")}),
    "shifted categorical shares": (lambda rng, base: _mixed(rng, 2000, shares=(0.2, 0.3, 0.5)),
                                   {("_c2", "baseline_drift_check")}),
    "new category": (lambda rng, base: _mixed(rng, 2000, categories=("a", "b", "c", "d"), shares=(0.45, 0.3, 0.15, 0.1)),
                     {("_c2", "categorical_values_check"), ("_c2", "baseline_drift_check")}),
    "missing column": (lambda rng, base: [r[:2] for r in base], {("_c2", "missing_column_check")}),
    "extra column": (lambda rng, base: [r + ["1.5"] for r in base], {("_c3", "extra_column_check")}),
    "text in a numeric column": (lambda rng, base: [["n/a", *r[1:]] if i % 10 == 0 else r for i, r in enumerate(base)],
                                 {("_c0", "data_type_check")}),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_drift_scenarios_from_csv_files(mixed_baseline, tmp_path, name):
    baseline, base_rows = mixed_baseline
    make, expected = SCENARIOS[name]
    data = _write_rows(tmp_path / "new.csv", make(np.random.default_rng(1), base_rows))
    code = script.main(["check", "--baseline-dir", str(baseline), "--data", str(data),
                        "--output-dir", str(tmp_path / "out"), "--fail-on-violation"])
    violations = json.loads((tmp_path / "out" / "constraint_violations.json").read_text())["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} == expected
    assert code == (1 if expected else 0)
    assert files_in(tmp_path / "out") == CHECK_FILES


def _capture(data: str, encoding: str = "CSV", content_type: str = "text/csv") -> str:
    return json.dumps({"captureData": {"endpointInput": {"observedContentType": content_type, "mode": "INPUT",
                                                         "data": data, "encoding": encoding}},
                       "eventMetadata": {"eventId": "1"}, "eventVersion": "0"}) + "\n"


@pytest.mark.parametrize("bad, message", [
    ("{truncated\n", "bad.jsonl:2: not JSON"),
    (json.dumps({"captureData": {}}) + "\n", "bad.jsonl:2: no captureData.endpointInput"),
    (_capture("not base64!", "BASE64"), "bad.jsonl:2: BASE64 data does not decode"),
    (_capture('{"a": 1}', content_type="application/json"), "bad.jsonl:2: the input's JSON object has none of the keys"),
    (_capture("0.1,2,a,9"), "bad.jsonl:2: a request has 4 fields but"),
    (_capture("0.1,2,a", encoding="GZIP"), "bad.jsonl:2: unknown encoding 'GZIP'"),
])
def test_malformed_capture_files_fail_the_check_and_write_nothing(mixed_baseline, tmp_path, capsys, bad, message):
    baseline, _ = mixed_baseline
    folder = tmp_path / "capture" / "AllTraffic" / "2024" / "05" / "01" / "13"
    folder.mkdir(parents=True)
    (folder / "a-good.jsonl").write_text(_capture("0.1,2,a\n0.3,4,b"))
    (folder / "bad.jsonl").write_text(_capture("0.2,3,c") + bad)
    out = tmp_path / "out"
    assert script.main(["check", "--baseline-dir", str(baseline), "--data", str(tmp_path / "capture"),
                        "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert files_in(out) == set()


@pytest.mark.parametrize("data, broken, named", [
    ("s3://bucket/data/", "s3://bucket/data/part-1.csv", "s3://bucket/data/part-1.csv"),
    ("s3://bucket/data/part-1.csv", "s3://bucket/data/part-1.csv", "s3://bucket/data/part-1.csv"),
])
def test_errors_name_the_object_not_the_download_folder(cancer, tmp_path, capsys, data, broken, named):
    work = tmp_path / "work"
    store = LocalObjectStore(work)
    store.put_file("s3://bucket/data/part-0.csv", cancer["early"])
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5\n")
    store.put_file(broken, bad)
    common = ["--work-dir", str(work)]
    assert cli.main(["baseline", "--data", data, "--output-dir", str(tmp_path / "bl"), *common]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {named}") and err.count("\n") == 1 and "monitor-" not in err
    store.put_file("s3://bucket/baseline/statistics.json", bad)
    store.put_file("s3://bucket/baseline/constraints.json", bad)
    assert cli.main(["check", "--baseline", "s3://bucket/baseline", "--data", str(cancer["late"]),
                     "--output-dir", str(tmp_path / "chk"), *common]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: s3://bucket/baseline/statistics.json is not JSON") and "monitor-" not in err


def test_a_baseline_that_is_a_file_is_named_as_such(cancer, tmp_path, capsys):
    statistics = tmp_path / "statistics.json"
    statistics.write_text("{}")
    assert cli.main(["check", "--baseline", str(statistics), "--data", str(cancer["late"]),
                     "--output-dir", str(tmp_path / "chk")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {statistics} is a file; pass the baseline's folder") and err.count("\n") == 1


@pytest.mark.parametrize("value", ["1" + "0" * 400, "1.7e308"])
def test_a_value_that_overflows_is_one_line_without_numpy_warnings(tmp_path, value):
    rows = [f"{value if i < 3 else 0.1},0.5" for i in range(50)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    result = subprocess.run([sys.executable, "-m", "pipeline.monitor", "baseline", "--data", str(tmp_path / "data.csv"),
                             "--output-dir", str(tmp_path / "bl")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "overflows a float64; rescale the feature" in result.stderr

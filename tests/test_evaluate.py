"""processing_scripts/evaluate.py as the container runs it: files in, evaluation.json + report out."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from processing_scripts import evaluate, text_files

SCRIPT = ["-m", "processing_scripts.evaluate"]  # as the container runs it
SCALARS = [
    "accuracy", "precision", "recall", "f0_5", "f1", "f2", "auc",
    "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate",
    *[f"{m}_best_constant_classifier" for m in ("accuracy", "precision", "recall", "f0_5", "f1", "f2")],
]


def write_predictions(folder: Path, y, s, *, files: int = 1, label_format: str = "{:g}") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for part, idx in enumerate(np.array_split(np.arange(len(y)), files)):
        lines = [f"{label_format.format(y[i])},{s[i]!r}" for i in idx]
        (folder / f"test-{part}.csv.out").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def predictions(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    return write_predictions(tmp_path / "in", y, s.tolist(), files=3), y, s


def test_script_writes_the_sagemaker_layout(predictions, tmp_path):
    folder, y, s = predictions
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, *SCRIPT, "--predictions", str(folder), "--output-dir", str(out),
         "--bootstrap", "200", "--auc-threshold", "0.7", "--f1-threshold", "0.9"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "calibration.svg", "confusion_matrix.svg", "constraints.json", "evaluation.json", "pr.svg", "report.html", "roc.svg"
    ]
    doc = json.loads((out / "evaluation.json").read_text())
    assert doc["version"] == 0.0
    m = doc["binary_classification_metrics"]
    assert set(m) == {*SCALARS, "confusion_matrix", "receiver_operating_characteristic_curve", "precision_recall_curve"}
    for name in SCALARS:
        assert set(m[name]) == {"value", "standard_deviation"}
        assert isinstance(m[name]["value"], float) and isinstance(m[name]["standard_deviation"], float)
    assert set(m["confusion_matrix"]) == {"0", "1"} and set(m["confusion_matrix"]["0"]) == {"0", "1"}
    assert set(m["receiver_operating_characteristic_curve"]) == {"false_positive_rates", "true_positive_rates"}
    assert set(m["precision_recall_curve"]) == {"precisions", "recalls"}
    assert m["auc"]["value"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert set(doc) >= {"dataset", "confidence_intervals", "log_loss", "brier_score", "average_precision",
                        "calibration", "operating_points", "gate", "threshold"}
    assert doc["dataset"]["rows"] == 600 and len(doc["dataset"]["files"]) == 3 and len(doc["dataset"]["sha256"]) == 64
    assert doc["gate"]["passed"] is False
    assert [(c["name"], c["passed"]) for c in doc["gate"]["checks"]] == [
        ("min_test_rows", True), ("min_positives", True), ("auc_threshold", True), ("f1_threshold", False),
        ("auc_regression", True), ("f1_regression", True),  # no champion: FirstModelPolicy's default
    ]
    assert doc["gate"]["summary"].startswith("f1_threshold: f1 lower 95% bound ")
    assert doc["operating_point"] == {"source": "parameter", "threshold": 0.5}
    html = (out / "report.html").read_text()
    assert "Quality gate: FAILED" in html and html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 4


def test_json_never_contains_bare_nan(tmp_path):
    folder = write_predictions(tmp_path / "in", [0, 1, 0, 1], [0.1, 0.9, 0.4, 0.6])
    assert evaluate.main(["--predictions", str(folder), "--output-dir", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "evaluation.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in evaluation.json"))
    assert doc["binary_classification_metrics"]["auc"]["standard_deviation"] == "NaN"  # fewer than 200 rows


def test_labels_written_as_floats_are_read(tmp_path):
    folder = write_predictions(tmp_path / "in", [0, 1, 1, 0], [0.2, 0.8, 0.6, 0.3], label_format="{:.1f}")
    assert evaluate.main(["--predictions", str(folder), "--output-dir", str(tmp_path / "out")]) == 0


def test_crlf_and_blank_trailing_lines_are_fine(tmp_path):
    (tmp_path / "p.out").write_bytes(b"0,0.2\r\n1,0.8\r\n\r\n")
    assert evaluate.main(["--predictions", str(tmp_path / "p.out"), "--output-dir", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no predictions in"),
        (b"label,score\n0,0.2\n1,0.8\n", "line 1: header row"),
        (b"0,0.2\n1,abc\n", "line 2: non-numeric field"),
        (b"0,0.2\n1,0.8,0.1\n", "line 2: expected 2 fields (label,score), found 3"),
        (b"0,0.2\n1\n", "line 2: expected 2 fields (label,score), found 1"),
        (b"0,0.2\n2,0.8\n", "line 2: label '2' is not 0 or 1"),
        (b"0,0.2\n-1,0.8\n", "line 2: label '-1' is not 0 or 1"),
        (b"0,0.2\n1,nan\n", "line 2: score 'nan' is not a finite number"),
        (b"0,0.2\n1,inf\n", "line 2: score 'inf' is not a finite number"),
        (b"0,0.2\n1,1.5\n", "line 2: score '1.5' is outside [0, 1]"),
        (b"0,-0.2\n1,0.5\n", "line 1: score '-0.2' is outside [0, 1]"),
        (b"1,0.2\n1,0.8\n", "only one class (label 1)"),
        (b"0,0.2\n0,0.8\n", "only one class (label 0)"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, content, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv.out").write_bytes(content)
    out = tmp_path / "out"
    assert evaluate.main(["--predictions", str(tmp_path / "in"), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not out.exists() or not any(out.iterdir())


def test_error_names_the_file_and_line_among_many(tmp_path, capsys):
    write_predictions(tmp_path / "in", [0, 1] * 50, [0.3, 0.7] * 50, files=2)
    bad = tmp_path / "in" / "test-1.csv.out"
    lines = bad.read_text().splitlines()
    lines[7] = "1,0.7,extra"
    bad.write_text("\n".join(lines) + "\n")
    assert evaluate.main(["--predictions", str(tmp_path / "in"), "--output-dir", str(tmp_path / "out")]) == 2
    assert "error: test-1.csv.out line 8: expected 2 fields" in capsys.readouterr().err  # as below --predictions


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threshold", "1.5"], "--threshold 1.5 must be between 0 and 1"),
        (["--threshold", "nan"], "must be between 0 and 1"),
        (["--bootstrap", "-1"], "--bootstrap -1 must be 0 or more"),
        (["--seed", "-3"], "--seed -3 must be 0 or more"),
        (["--threshold", "abc"], "argument --threshold: invalid float value: 'abc'"),
        (["--bootstrap", "1.5"], "argument --bootstrap: invalid int value: '1.5'"),
        (["--auc-threshold", "nan"], "bad value 'nan' for AucThreshold: expected a finite number"),
        (["--gate-on-lower-bound", "maybe"], "bad value 'maybe' for GateOnLowerBound: expected true or false"),
        (["--first-model-policy", "accept"], "bad value 'accept' for FirstModelPolicy: expected one of"),
        (["--min-positives", "2.5"], "bad value '2.5' for MinPositives: expected an integer"),
        (["--max-auc-regression", "-0.1"], "bad value '-0.1' for MaxAucRegression: expected a number from 0 to 1"),
        (["--threshold-objective", "min-precision:2"], "precision target '2' is not a number in (0, 1]"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_arguments(predictions, tmp_path, capsys, args, message):
    folder, _, _ = predictions
    out = tmp_path / "out"
    assert evaluate.main(["--predictions", str(folder), "--output-dir", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_help_exits_0(capsys):
    assert evaluate.main(["--help"]) == 0
    out = capsys.readouterr().out
    from processing_scripts.gate import GATE_PARAMETERS

    assert all(spec.cli_flag in out for spec in GATE_PARAMETERS)


def test_unwritable_output_dir_is_a_one_line_error(predictions, tmp_path, capsys):
    folder, _, _ = predictions
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert evaluate.main(["--predictions", str(folder), "--output-dir", str(blocker / "out"), "--bootstrap", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the outputs to") and err.count("\n") == 1, err


def test_gate_failure_still_exits_0(predictions, tmp_path):
    folder, _, _ = predictions
    out = tmp_path / "out"
    argv = ["--predictions", str(folder), "--output-dir", str(out), "--bootstrap", "0", "--auc-threshold", "0.999",
            "--gate-on-lower-bound", "false"]
    assert evaluate.main(argv) == 0
    doc = json.loads((out / "evaluation.json").read_text())
    auc = doc["binary_classification_metrics"]["auc"]["value"]
    assert doc["gate"]["passed"] is False
    assert doc["gate"]["summary"] == f"auc_threshold: auc {auc:.4f} < 0.9990"
    [check] = [c for c in doc["gate"]["checks"] if c["name"] == "auc_threshold"]
    assert check == {"name": "auc_threshold", "value": auc, "bound": auc, "threshold": 0.999, "passed": False,
                     "reason": f"auc {auc:.4f} < 0.9990"}
    assert doc["gate"]["record"]["gate_passed"] == "false"
    assert "Quality gate: FAILED" in (out / "report.html").read_text()


def test_missing_predictions_path(tmp_path, capsys):
    assert evaluate.main(["--predictions", str(tmp_path / "nope"), "--output-dir", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_failed_run_leaves_previous_outputs_intact(predictions, tmp_path):
    folder, _, _ = predictions
    out = tmp_path / "out"
    assert evaluate.main(["--predictions", str(folder), "--output-dir", str(out), "--bootstrap", "0"]) == 0
    before = (out / "evaluation.json").read_bytes()
    (folder / "zzz.out").write_text("0,0.5\n1,oops\n")
    assert evaluate.main(["--predictions", str(folder), "--output-dir", str(out)]) == 2
    assert (out / "evaluation.json").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_pandas_reader_agrees_with_pyarrow(predictions):
    from processing_scripts import predictions as reader

    folder, _, _ = predictions
    fast = reader.read_predictions(folder, engine="pyarrow")
    slow = reader.read_predictions(folder, engine="pandas")
    np.testing.assert_array_equal(fast.y_true, slow.y_true)
    np.testing.assert_array_equal(fast.y_score, slow.y_score)
    assert fast.sha256 == slow.sha256


@pytest.mark.parametrize("engine", ["pyarrow", "pandas"])
def test_both_readers_report_the_same_line(tmp_path, engine):
    from processing_scripts import predictions as reader

    (tmp_path / "p.out").write_text("0,0.1\n1,0.9\n1,x\n")
    with pytest.raises(reader.PredictionsError, match="p.out line 3: non-numeric field"):
        reader.read_predictions(tmp_path / "p.out", engine=engine)


@pytest.mark.parametrize("block_bytes", [1, 7, 64, 1 << 20])
def test_blocks_split_anywhere_read_the_same_rows(tmp_path, monkeypatch, block_bytes):
    from processing_scripts import predictions as reader

    rng = np.random.default_rng(1)
    y, s = rng.integers(0, 2, 500), rng.random(500)
    lines = [f"{a},{b!r}" for a, b in zip(y.tolist(), s.tolist())]
    lines[10] += " " * 100  # a line longer than the small buffers
    (tmp_path / "p.out").write_text("\r\n".join(lines))  # CRLF and no final newline
    monkeypatch.setattr(reader, "BLOCK_BYTES", block_bytes)
    data = reader.read_predictions(tmp_path / "p.out", engine="pyarrow")
    np.testing.assert_array_equal(data.y_true, y)
    np.testing.assert_array_equal(data.y_score, s)


def test_whitespace_only_line_is_named(tmp_path, capsys):
    (tmp_path / "p.out").write_text("0,0.1\n   \n1,0.9\n")
    assert evaluate.main(["--predictions", str(tmp_path / "p.out"), "--output-dir", str(tmp_path / "out")]) == 2
    assert "p.out line 2: expected 2 fields (label,score), found 1" in capsys.readouterr().err


def test_empty_folder_is_the_empty_input_error(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    assert evaluate.main(["--predictions", str(tmp_path / "in"), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no predictions in") and err.count("\n") == 1


def test_folders_are_read_recursively_in_path_order(tmp_path):
    (tmp_path / "in" / "b").mkdir(parents=True)
    (tmp_path / "in" / "b" / "x.out").write_text("1,0.4\n0,0.5\n")
    (tmp_path / "in" / "a.out").write_text("0,0.2\n1,0.8\n")
    (tmp_path / "in" / "c.out").write_text("\n")  # blank file: read, hashed, contributes no rows
    out = tmp_path / "out"
    assert evaluate.main(["--predictions", str(tmp_path / "in"), "--output-dir", str(out), "--bootstrap", "0"]) == 0
    doc = json.loads((out / "evaluation.json").read_text())
    assert [Path(f).relative_to(tmp_path / "in").as_posix() for f in doc["dataset"]["files"]] == ["a.out", "b/x.out", "c.out"]
    assert doc["dataset"]["rows"] == 4
    assert doc["binary_classification_metrics"]["auc"]["value"] == skm.roc_auc_score([0, 1, 1, 0], [0.2, 0.8, 0.4, 0.5])


# --- the function API: evaluate(labels, scores, settings) ------------------------------------------------


def test_evaluate_on_arrays_gives_the_commands_outputs(predictions, tmp_path):
    folder, y, s = predictions
    argv = ["--predictions", str(folder), "--output-dir", str(tmp_path / "cli"), "--bootstrap", "50", "--seed", "3",
            "--threshold", "0.4"]
    assert evaluate.main(argv) == 0
    files = sorted(folder.iterdir())
    from processing_scripts import predictions as reader

    result = evaluate.evaluate(y, s, evaluate.EvaluationSettings(threshold=0.4, n_bootstrap=50, seed=3),
                               dataset={"files": [str(f) for f in files], "sha256": reader.files_sha256(files)})
    assert result.files == {p.name: p.read_bytes() for p in (tmp_path / "cli").iterdir()}  # byte for byte
    assert not (tmp_path / "api").exists()  # nothing is written until asked
    result.write(tmp_path / "api")
    assert sorted(p.name for p in (tmp_path / "api").iterdir()) == sorted(result.files)


def test_evaluate_adds_sections_and_the_gate_to_the_document():
    y, s = [0, 1, 0, 1, 1, 0], [0.1, 0.8, 0.3, 0.7, 0.4, 0.6]
    seen = []

    def decide_gate(document):
        seen.append(sorted(document))
        return {"passed": True, "checks": [], "summary": "ok"}

    result = evaluate.evaluate(y, s, evaluate.EvaluationSettings(n_bootstrap=0), dataset={"files": ["x"]},
                               sections={"endpoint": {"name": "e", "region": "r"}}, decide_gate=decide_gate)
    document = json.loads(result.files["evaluation.json"])
    assert document["endpoint"] == {"name": "e", "region": "r"} and document["gate"]["passed"] is True
    assert "endpoint" in seen[0] and "gate" not in seen[0]  # the gate sees the finished document
    assert document["dataset"]["files"] == ["x"] and document["operating_point"] == {"source": "parameter",
                                                                                     "threshold": 0.5}
    assert "Quality gate: PASSED" in result.files["report.html"].decode()


def test_evaluate_refuses_pairs_no_metric_can_be_computed_from():
    from processing_scripts import metrics

    with pytest.raises(metrics.InputError, match="only one class"):
        evaluate.evaluate([1, 1], [0.2, 0.4], evaluate.EvaluationSettings(n_bootstrap=0), dataset={})


@pytest.mark.parametrize("settings, message", [
    (evaluate.EvaluationSettings(threshold=-0.1), "--threshold -0.1 must be between 0 and 1"),
    (evaluate.EvaluationSettings(threshold=float("inf")), "--threshold inf must be between 0 and 1"),
    (evaluate.EvaluationSettings(n_bootstrap=-2), "--bootstrap -2 must be 0 or more"),
    (evaluate.EvaluationSettings(seed=-1), "--seed -1 must be 0 or more"),
])
def test_evaluation_settings_are_checked_in_the_flags_words(settings, message):
    with pytest.raises(evaluate.UsageError, match=message):
        settings.check()
    evaluate.EvaluationSettings().check()  # the defaults are fine


def _evaluate_with_champion(tmp_path: Path, *, bad_line: bool, champion: bytes | None = None) -> list[str]:
    """evaluate.py with a staged champion (the demo's, or ``champion``'s bytes) on the demo's test rows
    below ``test/part/`` (line 3 made non-numeric when ``bad_line``); the champion section's notes."""
    import hashlib

    from pipeline.demo import make_demo_files

    demo = make_demo_files(tmp_path / "demo")
    lines = demo["test"].read_text().splitlines()
    if bad_line:
        fields = lines[2].split(",")
        lines[2] = ",".join([fields[0], "x", *fields[2:]])  # the champion's scorer refuses line 3
    (tmp_path / "test" / "part").mkdir(parents=True)
    (tmp_path / "test" / "part" / "test.csv").write_text("\n".join(lines) + "\n")
    labels = [line.split(",")[0] for line in lines]
    folder = tmp_path / "predictions"
    folder.mkdir()
    (folder / "test.csv.out").write_text("".join(f"{label},{0.9 if float(label) else 0.1}\n" for label in labels))
    archive = demo["champion"].read_bytes() if champion is None else champion
    context = tmp_path / "context"
    (context / "champion").mkdir(parents=True)
    (context / "champion" / "model.tar.gz").write_bytes(archive)
    (context / "context.json").write_text(json.dumps({
        "champion": {"arn": "arn:aws:sagemaker:us-east-1:1:model-package/g/1", "version": 1, "model_staged": True,
                     "evaluation_staged": False, "errors": [], "model_sha256": hashlib.sha256(archive).hexdigest()},
        "validation": None,
    }))
    assert evaluate.main(["--predictions", str(folder), "--test-data", str(tmp_path / "test"), "--context", str(context),
                          "--output-dir", str(tmp_path / "out"), "--bootstrap", "0", "--auc-threshold", "0.5"]) == 0
    return json.loads((tmp_path / "out" / "evaluation.json").read_text())["gate"]["champion"]["notes"]


def test_champion_scoring_errors_name_the_test_file_as_the_user_knows_it(tmp_path):
    """Not the container's staging path (/opt/ml/processing/input/test/...): the file below --test-data."""
    notes = " ".join(_evaluate_with_champion(tmp_path, bad_line=True))
    assert "its model cannot score the test data (part/test.csv line 3: non-numeric field 'x'" in notes
    assert str(tmp_path / "test") not in notes


def test_a_champion_that_cannot_be_loaded_is_not_named_by_its_staged_path(tmp_path):
    notes = " ".join(_evaluate_with_champion(tmp_path, bad_line=False, champion=b"not an archive"))
    assert "its model cannot be loaded (not a readable model.tar.gz" in notes
    assert str(tmp_path) not in notes


@pytest.mark.parametrize("root, file, shown", [
    ("/opt/ml/processing/input/test", "/opt/ml/processing/input/test/test.csv", "test.csv"),
    ("/opt/ml/processing/input/test", "/opt/ml/processing/input/test/a/b.csv", "a/b.csv"),
    ("/opt/ml/processing/input/test/test.csv", "/opt/ml/processing/input/test/test.csv", "test.csv"),  # a file given itself
])
def test_files_are_named_relative_to_the_input_they_were_given_in(root, file, shown):
    assert text_files.relative_names(root)(Path(file)) == shown

"""pipeline.package: a deterministic, validated model.tar.gz that the serving container (and the runner) loads."""
from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile

import joblib
import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pipeline import package
from pipeline.local.model_archive import load_serving_handlers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    path = tmp_path_factory.mktemp("est") / "estimator.joblib"
    joblib.dump(model, path)
    return model, path, X


def test_archive_layout_and_metadata(fitted, tmp_path):
    _, estimator, _ = fitted
    archive = package.build_model_archive(estimator, tmp_path / "model.tar.gz")
    assert archive == tmp_path / "model.tar.gz"
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["code/inference.py", "model.joblib"]  # sorted
        assert all(m.isfile() and m.mtime == 0 and m.uid == m.gid == 0 and m.mode == 0o644 for m in members)
        assert tar.extractfile("model.joblib").read() == estimator.read_bytes()
        assert tar.extractfile("code/inference.py").read() == package.INFERENCE_SOURCE.read_bytes()
    header = archive.read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b" and header[4:8] == b"\0\0\0\0"  # gzip without a timestamp
    assert archive.stat().st_mode & 0o777 == 0o644


def test_equal_inputs_give_identical_bytes(fitted, tmp_path):
    _, estimator, _ = fitted
    first = package.build_model_archive(estimator, tmp_path / "a.tar.gz").read_bytes()
    os.utime(estimator, (1, 1))  # the file's own times must not leak in
    second = package.build_model_archive(estimator, tmp_path / "b.tar.gz").read_bytes()
    assert first == second
    other = tmp_path / "other.joblib"
    joblib.dump(LogisticRegression(C=0.5).fit(fitted[2], fitted[0].predict(fitted[2])), other)
    assert package.build_model_archive(other, tmp_path / "c.tar.gz").read_bytes() != first


def test_the_archive_serves_scores(fitted, tmp_path):
    model, estimator, X = fitted
    archive = package.build_model_archive(estimator, tmp_path / "model.tar.gz")
    handlers = load_serving_handlers(archive, tmp_path / "model")
    body = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in X).encode()
    scores = np.array(handlers.invoke(body, "text/csv", "text/csv").split(), dtype=float)
    np.testing.assert_array_equal(scores, model.predict_proba(X)[:, 1])


def test_pipelines_are_accepted(fitted, tmp_path):
    model, _, X = fitted
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, model.predict(X))
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    assert package.main(["--estimator", str(tmp_path / "pipe.joblib"), "--out", str(tmp_path / "m.tar.gz")]) == 0


def test_cli_writes_and_prints_the_path(fitted, tmp_path, capsys):
    _, estimator, _ = fitted
    out = tmp_path / "nested" / "model.tar.gz"
    assert package.main(["--estimator", str(estimator), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert tarfile.open(out).getnames() == ["code/inference.py", "model.joblib"]


def test_cli_default_out_is_model_tar_gz(fitted, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert package.main(["--estimator", str(fitted[1])]) == 0
    assert (tmp_path / "model.tar.gz").is_file()


def _unfitted(path):
    joblib.dump(LogisticRegression(), path)


def _regressor(path):
    joblib.dump(DummyRegressor().fit([[0], [1]], [0, 1]), path)


def _three_classes(path):
    joblib.dump(LogisticRegression().fit([[0], [1], [2], [3], [4], [5]], [0, 1, 2, 0, 1, 2]), path)


def _junk(path):
    path.write_bytes(b"junk")


@pytest.mark.parametrize(
    "make, out, message",
    [
        (None, "m.tar.gz", "is not a file: pass the joblib file"),
        (_junk, "m.tar.gz", "cannot load with joblib"),
        (_regressor, "m.tar.gz", "DummyRegressor has no predict_proba"),
        (_unfitted, "m.tar.gz", "is not fitted (no classes_)"),
        (_three_classes, "m.tar.gz", "3 classes; the pipeline evaluates binary classifiers"),
        (_unfitted, ".", "is a folder"),
        (lambda p: joblib.dump(LogisticRegression().fit([[0], [1]], [0, 1]), p), "est.joblib", "would overwrite the estimator"),
    ],
)
def test_cli_rejects_bad_input_with_one_line(tmp_path, capsys, make, out, message):
    estimator = tmp_path / "est.joblib"
    if make:
        make(estimator)
    assert package.main(["--estimator", str(estimator), "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "m.tar.gz").exists()


def test_a_failed_write_is_one_line(fitted, tmp_path, capsys, monkeypatch):
    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(package, "write_bytes_atomic", full_disk)
    assert package.main(["--estimator", str(fitted[1]), "--out", str(tmp_path / "m.tar.gz")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'm.tar.gz'}: cannot write the archive (No space left on device)\n"


def test_cli_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        package.main([])
    assert exit_info.value.code == 2 and "--estimator" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        package.main(["--help"])
    assert exit_info.value.code == 0 and "model.tar.gz" in capsys.readouterr().out


def test_module_runs_as_a_command(fitted, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.package", "--estimator", str(fitted[1]), "--out", str(tmp_path / "m.tar.gz")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    names = tarfile.open(fileobj=io.BytesIO(gzip.decompress((tmp_path / "m.tar.gz").read_bytes()))).getnames()
    assert names == ["code/inference.py", "model.joblib"]

"""Serving handlers, model packaging and safe model loading."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LogisticRegression

from pipeline import package
from pipeline.local.model_archive import ModelArchiveError, extract_model, load_serving_handlers
from processing_scripts import inference


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    path = tmp_path_factory.mktemp("est") / "model.joblib"
    joblib.dump(model, path)
    return model, path, X


def test_handlers_return_probability_of_class_one(fitted):
    model, _, X = fitted
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in X[:5]) + "\n"
    out = inference.output_fn(inference.predict_fn(inference.input_fn(body.encode(), "text/csv"), model), "text/csv")
    # Equal up to BLAS rounding (the batch shape can change the last bit).
    np.testing.assert_allclose(np.array(out.split(), dtype=float), model.predict_proba(X[:5])[:, 1], rtol=1e-12)


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        ("1,2,3", "application/json", "unsupported content type"),
        ("", "text/csv", "empty CSV payload"),
        ("1,2,3\n4,5\n", "text/csv", "CSV row 2 has 2 fields, row 1 has 3"),
        ("a,b,c\n1,2,3\n", "text/csv", "not all numeric"),
    ],
)
def test_input_fn_rejects(body, content_type, message):
    with pytest.raises(ValueError, match=message):
        inference.input_fn(body, content_type)


def test_predict_fn_needs_a_binary_probabilistic_model(fitted):
    _, _, X = fitted
    with pytest.raises(TypeError, match="no predict_proba"):
        inference.predict_fn(X, DummyRegressor().fit(X, X[:, 0]))
    three = LogisticRegression().fit(X, np.arange(200) % 3)
    with pytest.raises(ValueError, match="3 classes"):
        inference.predict_fn(X, three)


def test_model_fn_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.joblib"):
        inference.model_fn(str(tmp_path))


def test_package_is_deterministic_and_loads(fitted, tmp_path):
    model, estimator, X = fitted
    a = package.build_model_archive(estimator, tmp_path / "a.tar.gz")
    b = package.build_model_archive(estimator, tmp_path / "b.tar.gz")
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as archive:
        assert sorted(archive.getnames()) == ["code/inference.py", "model.joblib"]
    handlers = load_serving_handlers(a, tmp_path / "model")
    body = ("\n".join(",".join(repr(float(v)) for v in row) for row in X[:3]) + "\n").encode()
    scores = np.array(handlers.invoke(body, "text/csv", "text/csv").split(), dtype=float)
    np.testing.assert_allclose(scores, model.predict_proba(X[:3])[:, 1], rtol=1e-12)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p, "is not a file"),
        (lambda p: (p.write_bytes(b"junk"), p)[1], "cannot load with joblib"),
        (lambda p: (joblib.dump(DummyRegressor(), p), p)[1], "has no predict_proba"),
        (lambda p: (joblib.dump(LogisticRegression(), p), p)[1], "not fitted"),
    ],
)
def test_package_rejects(tmp_path, capsys, make, message):
    estimator = make(tmp_path / "est.joblib")
    assert package.main(["--estimator", str(estimator), "--out", str(tmp_path / "m.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "m.tar.gz").exists()


def _archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind=tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


@pytest.mark.parametrize(
    "members, message",
    [
        ([_file("../evil.py")], "outside the model directory"),
        ([_file("/etc/evil")], "outside the model directory"),
        ([_file("code/../../evil")], "outside the model directory"),
        ([_link("code", "/etc")], "link or special file"),
        ([_link("model.joblib", "/etc/passwd", tarfile.LNKTYPE)], "link or special file"),
    ],
)
def test_extraction_refuses_path_traversal(tmp_path, members, message):
    archive = _archive(tmp_path / "m.tar.gz", members)
    with pytest.raises(ModelArchiveError, match=message):
        extract_model(archive, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_corrupt_archive_is_one_line(tmp_path):
    bad = tmp_path / "m.tar.gz"
    bad.write_bytes(b"\x1f\x8bgarbage")
    with pytest.raises(ModelArchiveError) as error:
        extract_model(bad, tmp_path / "out")
    assert "not a readable model.tar.gz" in str(error.value) and "\n" not in str(error.value)


def test_missing_model_fn_is_named(tmp_path, fitted):
    _, estimator, _ = fitted
    archive = _archive(tmp_path / "m.tar.gz", [_file("model.joblib", estimator.read_bytes()),
                                               _file("code/inference.py", b"def predict_fn(x, m):\n    return x\n")])
    with pytest.raises(ModelArchiveError, match="defines no model_fn"):
        load_serving_handlers(archive, tmp_path / "model")


def test_container_defaults_fill_missing_handlers(tmp_path, fitted):
    model, estimator, X = fitted
    code = b"import joblib, os\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"
    archive = _archive(tmp_path / "m.tar.gz", [_file("model.joblib", estimator.read_bytes()), _file("code/inference.py", code)])
    handlers = load_serving_handlers(archive, tmp_path / "model")
    body = ("\n".join(",".join(repr(float(v)) for v in row) for row in X[:4]) + "\n").encode()
    # The container's default predict_fn is model.predict: labels, not scores.
    np.testing.assert_array_equal(np.array(handlers.invoke(body, "text/csv", "text/csv").split(), dtype=float),
                                  model.predict(X[:4]))

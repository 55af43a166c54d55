"""python -m pipeline.improve calibrate: a calibrated challenger with the same serving contract."""
from __future__ import annotations

import io
import json
import tarfile

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

from pipeline import calibrate, improve, package
from processing_scripts import calibrated_inference, model_archive
from tests.helpers import assert_one_line_error, run_main


def _write_csv(path, y, X):
    np.savetxt(path, np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    return path


@pytest.fixture(scope="module")
def forest(tmp_path_factory):
    """A shallow random forest with balanced class weights: good ranking, badly calibrated probabilities."""
    folder = tmp_path_factory.mktemp("forest")
    X, y = make_classification(n_samples=9000, n_features=8, n_informative=5, weights=[0.8], random_state=0)
    model = RandomForestClassifier(n_estimators=20, max_depth=3, class_weight="balanced", random_state=0)
    joblib.dump(model.fit(X[:3000], y[:3000]), folder / "rf.joblib")
    package.build_model_archive(folder / "rf.joblib", folder / "model.tar.gz")
    return {"dir": folder, "model": folder / "model.tar.gz",
            "validation": _write_csv(folder / "validation.csv", y[3000:6000], X[3000:6000]),
            "test": (X[6000:], y[6000:])}


def _served(archive, X, scratch):
    handlers = model_archive.load_serving_handlers(archive, scratch)
    body = "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in X).encode()
    return np.array([float(v) for v in handlers.invoke(body, "text/csv", "text/csv").decode().split()])


def test_a_miscalibrated_forest_gets_a_much_lower_log_loss_and_keeps_its_auc(forest, tmp_path, capsys):
    out = tmp_path / "calibrated.tar.gz"
    ran = run_main(improve.main, ["calibrate", "--model", str(forest["model"]), "--validation-data",
                                  str(forest["validation"]), "--out", str(out)], capsys)
    assert ran.returncode == 0, ran.stderr
    assert "method: auto: " in ran.stdout and "before (the model as it is)" in ran.stdout
    assert "5-fold cross-validated" in ran.stdout and "sha256" in ran.stdout
    X, y = forest["test"]  # rows neither the model nor the calibrator saw
    before, after = _served(forest["model"], X, tmp_path / "a"), _served(out, X, tmp_path / "b")
    assert log_loss(y, after) < 0.75 * log_loss(y, before)
    assert roc_auc_score(y, after) >= roc_auc_score(y, before) - 0.005


def test_the_archive_keeps_the_original_serving_code_and_is_deterministic(forest, tmp_path, capsys):
    one, two = tmp_path / "one.tar.gz", tmp_path / "two.tar.gz"
    for out in (one, two):
        calibrate.calibrate_model(forest["model"], forest["validation"], out, method="sigmoid")
    assert one.read_bytes() == two.read_bytes()
    with tarfile.open(one) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    with tarfile.open(forest["model"]) as tar:
        original = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert members["code/uncalibrated_inference.py"] == original["code/inference.py"]
    assert members["model.joblib"] == original["model.joblib"]
    assert members["code/inference.py"] == calibrate.WRAPPER_SOURCE.read_bytes()
    assert json.loads(members["calibration.json"])["method"] == "sigmoid"
    ran = run_main(improve.main, ["calibrate", "--model", str(one), "--validation-data", str(forest["validation"]),
                                  "--out", str(tmp_path / "again.tar.gz")], capsys)
    assert_one_line_error(ran, "one.tar.gz is calibrated already")
    assert not (tmp_path / "again.tar.gz").exists()


def test_custom_serving_code_and_its_sibling_modules_are_kept(tmp_path):
    X, y = make_classification(n_samples=1200, n_features=4, random_state=1)
    joblib.dump(LogisticRegression().fit(X, y), tmp_path / "model.joblib")
    code = ("import numpy as np, joblib, os\nfrom helper import scale\n"
            "def model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"
            "def input_fn(body, content_type):\n    return 10 * np.array([[float(v) for v in l.split(',')] "
            "for l in body.decode().split()])\n"
            "def predict_fn(x, model):\n    return scale(model.predict_proba(x))\n"
            "def output_fn(p, accept):\n    return ''.join(f'{float(v[1])!r}\\n' for v in p)\n")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in (("model.joblib", (tmp_path / "model.joblib").read_bytes()), ("code/inference.py", code.encode()),
                           ("code/helper.py", b"def scale(p):\n    return p\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "custom.tar.gz").write_bytes(raw.getvalue())
    validation = tmp_path / "validation.csv"
    validation.write_text("".join(f"{label}," + ",".join(f"{v / 10:.6g}" for v in row) + "\n" for label, row in zip(y, X)))
    # The custom input_fn scales the features: only the archive's own handlers score these rows right.
    result = calibrate.calibrate_model(tmp_path / "custom.tar.gz", validation, tmp_path / "out.tar.gz", method="isotonic")
    handlers = model_archive.load_serving_handlers(tmp_path / "out.tar.gz", tmp_path / "served")
    body = "\n".join(",".join(f"{v / 10:.6g}" for v in row) for row in X[:5]).encode()
    served = [float(v) for v in handlers.invoke(body, "text/csv", "text/csv").decode().split()]
    sent = 10 * np.array([[float(f"{v / 10:.6g}") for v in row] for row in X[:5]])
    raw_p = LogisticRegression().fit(X, y).predict_proba(sent)[:, 1]
    assert len(served) == 5 and result.calibration["method"] == "isotonic"
    assert served == pytest.approx(calibrated_inference.calibrate(raw_p, result.calibration).tolist(), abs=1e-9)


def test_calibrators_equal_scikit_learns_and_auto_guards_small_sets():
    rng = np.random.default_rng(3)
    p = rng.random(3000)
    y = (rng.random(3000) < p ** 2).astype(int)  # over-confident scores
    isotonic = calibrate.fit_isotonic(y, p)
    expected = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, y).predict(p)
    assert calibrated_inference.calibrate(p, isotonic) == pytest.approx(expected, abs=1e-12)
    sigmoid = calibrate.fit_sigmoid(y, p)
    logit = np.log(p) - np.log1p(-p)
    reference = LogisticRegression(C=1e12, max_iter=1000, tol=1e-12).fit(logit[:, None], y).predict_proba(logit[:, None])[:, 1]
    assert calibrated_inference.calibrate(p, sigmoid) == pytest.approx(reference, abs=1e-8)
    small = calibrate.choose(y[:600], p[:600], "auto")
    assert small.calibration["method"] == "sigmoid" and "fewer than the 1000 isotonic needs" in small.reason
    assert set(small.cross_validated) == {"sigmoid"}
    large = calibrate.choose(y, p, "auto")
    assert set(large.cross_validated) == {"sigmoid", "isotonic"} and large.after["log_loss"] < large.before["log_loss"]
    # Calibrated already (y drawn from p): the sigmoid map is about the identity.
    y_true = (rng.random(3000) < p).astype(int)
    fitted = calibrate.fit_sigmoid(y_true, p)
    assert abs(fitted["a"] - 1) < 0.15 and abs(fitted["b"]) < 0.15


@pytest.mark.parametrize("setup,fragments", [
    (lambda d: (d / "v.csv").write_text("0,1,2,3,4,5,6,7,8\n" * 50), ("0 positive and 50 negative rows", "at least 5 of each")),
    (lambda d: (d / "v.csv").write_text("2,1,2,3,4,5,6,7,8\n"), ("v.csv line 1", "label '2'")),
    (lambda d: (d / "model.tar.gz").write_bytes(b"not gzip"), ("model.tar.gz",)),
])
def test_bad_input_is_one_line_and_writes_nothing(forest, tmp_path, capsys, setup, fragments):
    (tmp_path / "model.tar.gz").write_bytes(forest["model"].read_bytes())
    (tmp_path / "v.csv").write_text(forest["validation"].read_text())
    setup(tmp_path)
    ran = run_main(improve.main, ["calibrate", "--model", str(tmp_path / "model.tar.gz"), "--validation-data",
                                  str(tmp_path / "v.csv"), "--out", str(tmp_path / "out.tar.gz")], capsys)
    assert_one_line_error(ran, *fragments)
    assert not (tmp_path / "out.tar.gz").exists()


def test_the_calibrated_challenger_goes_through_the_pipeline_and_its_gate(forest, tmp_path, capsys):
    from pipeline.local.__main__ import main as local_main
    from pipeline.registry import LocalRegistry

    out = tmp_path / "calibrated.tar.gz"
    calibrate.calibrate_model(forest["model"], forest["validation"], out)
    X, y = forest["test"]
    test = _write_csv(tmp_path / "test.csv", y, X)
    ran = run_main(local_main, ["evaluation", "--model-data", str(out), "--test-data", str(test), "--work-dir",
                                str(tmp_path / "work")], capsys)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    package_ = LocalRegistry(tmp_path / "work" / "registry.db").list_packages()[0]
    evaluation = json.loads(next((tmp_path / "work" / "s3").rglob("evaluation.json")).read_text())
    assert evaluation["log_loss"] < log_loss(y, _served(forest["model"], X, tmp_path / "a"))
    assert evaluation["subject"]["model_sha256"] == model_archive.archive_sha256(out)
    assert package_

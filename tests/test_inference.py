"""processing_scripts/inference.py: the scikit-learn container's handlers, one behaviour at a time."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from processing_scripts import inference
from tests.helpers import assert_one_line

SCRIPT = Path(inference.__file__)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def model(data):
    return LogisticRegression().fit(*data)


def csv(rows: np.ndarray, newline: str = "\n") -> str:
    return newline.join(",".join(repr(float(v)) for v in row) for row in rows) + newline


# --- input_fn ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        ("1,2\n3,4\n", [[1, 2], [3, 4]]),
        (b"1,2\n3,4\n", [[1, 2], [3, 4]]),
        (bytearray(b"1,2\n3,4"), [[1, 2], [3, 4]]),  # no final newline
        ("1,2\r\n3,4\r\n", [[1, 2], [3, 4]]),
        ("5\n6\n", [[5], [6]]),  # one feature
        ("7,8,9", [[7, 8, 9]]),  # one row
        ("1e-3,-2.5E2\n", [[1e-3, -250]]),
        ("1,2\n3,4\n\n\n", [[1, 2], [3, 4]]),  # trailing blank lines are not rows
        ("0.1,0.30000000000000004\n", [[0.1, 0.30000000000000004]]),  # full precision
    ],
)
def test_input_fn_parses_csv(body, expected):
    features = inference.input_fn(body, "text/csv")
    assert features.dtype == np.float64 and features.flags.c_contiguous
    np.testing.assert_array_equal(features, np.array(expected, dtype=float))


def test_input_fn_keeps_empty_fields_as_missing_values():
    features = inference.input_fn("1,,3\n4,5,6\n", "text/csv")
    assert np.isnan(features[0, 1]) and features.shape == (2, 3)


@pytest.mark.parametrize("content_type", ["text/csv", "text/csv; charset=utf-8", "TEXT/CSV"])
def test_input_fn_content_type_parameters(content_type):
    assert inference.input_fn("1,2", content_type).shape == (1, 2)


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        ("1,2,3", "application/json", "unsupported content type 'application/json': send text/csv"),
        ("1,2,3", None, "unsupported content type None"),
        ("", "text/csv", "empty CSV payload"),
        (b"\n\r\n", "text/csv", "empty CSV payload"),
        ("1,2,3\n4,5\n", "text/csv", "CSV row 2 has 2 fields, row 1 has 3"),
        ("1,2\n4,5,6\n", "text/csv", "ragged CSV payload"),
        ("1,2\n\n3,4\n", "text/csv", "CSV row 2 is blank"),
        ("a,b,c\n1,2,3\n", "text/csv", "not all numeric"),
        ("1,x\n", "text/csv", "not all numeric"),
        (12, "text/csv", "unsupported request body of type int"),
    ],
)
def test_input_fn_rejects(body, content_type, message):
    with pytest.raises(ValueError) as error:
        inference.input_fn(body, content_type)
    assert_one_line(str(error.value), message)


# --- predict_fn --------------------------------------------------------------------------------------------


def test_predict_fn_is_the_probability_of_class_one(model, data):
    X, _ = data
    np.testing.assert_array_equal(inference.predict_fn(X, model), model.predict_proba(X)[:, 1])


def test_predict_fn_works_for_pipelines(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    np.testing.assert_array_equal(inference.predict_fn(X, pipe), pipe.predict_proba(X)[:, 1])


@pytest.mark.parametrize("labels", [("no", "yes"), (-1, 1), (False, True), (3, 7)])
def test_predict_fn_uses_the_column_of_classes_1(data, labels):
    X, y = data
    named = np.where(y == 1, labels[1], labels[0])
    model = LogisticRegression().fit(X, named)
    positive = list(model.classes_).index(model.classes_[1])
    np.testing.assert_array_equal(inference.predict_fn(X, model), model.predict_proba(X)[:, positive])


def test_predict_fn_needs_a_binary_probabilistic_model(data):
    X, y = data
    with pytest.raises(TypeError, match="DummyRegressor has no predict_proba"):
        inference.predict_fn(X, DummyRegressor().fit(X, y))
    with pytest.raises(ValueError, match="the model has 3 classes"):
        inference.predict_fn(X, LogisticRegression().fit(X, np.arange(300) % 3))

    class OneColumn:
        def predict_proba(self, X):
            return np.ones((len(X), 1))

    with pytest.raises(ValueError, match=r"predict_proba returned shape \(300, 1\)"):
        inference.predict_fn(X, OneColumn())


# --- output_fn ---------------------------------------------------------------------------------------------


def test_output_fn_round_trips_every_float():
    values = np.random.default_rng(1).random(1000) ** 7
    values[:3] = [0.0, 1.0, 5e-324]
    text, content_type = inference.output_fn(values, "text/csv")
    assert content_type == "text/csv"
    assert text.endswith("\n") and text.count("\n") == 1000
    np.testing.assert_array_equal(np.array(text.split(), dtype=float), values)


@pytest.mark.parametrize("prediction, expected", [(np.array([]), ""), (np.array([[0.5], [0.25]]), "0.5\n0.25\n"),
                                                  ([1, 0], "1.0\n0.0\n")])
def test_output_fn_shapes(prediction, expected):
    assert inference.output_fn(prediction, "text/csv") == (expected, "text/csv")


# The Accept values output_fn is called with: the container passes the header verbatim unless it is missing
# or exactly */* (then SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT), so output_fn itself reads lists and parameters.
@pytest.mark.parametrize("accept, answers", [
    ("text/csv", True),
    ("text/csv; charset=utf-8", True),
    ("TEXT/CSV", True),
    ("*/*", True),  # only when SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT is */* itself
    ("*/*;q=0.8", True),
    ("application/json", False),  # the container's default for a missing Accept
    ("text/csv, application/json", False),  # one media type, no negotiation
    ("text/plain", False),
    ("", False),
    (None, False),
])
def test_output_fn_accept_types(accept, answers):
    if answers:
        assert inference.output_fn(np.array([0.5]), accept) == ("0.5\n", "text/csv")
    else:
        with pytest.raises(ValueError, match=r"unsupported accept type .*: ask for text/csv .*"
                                             r"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv") as error:
            inference.output_fn(np.array([0.5]), accept)
        assert_one_line(str(error.value))


# --- model_fn and the whole request ------------------------------------------------------------------------


def test_model_fn_loads_model_joblib(tmp_path, model, data):
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = inference.model_fn(str(tmp_path))
    np.testing.assert_array_equal(loaded.predict_proba(data[0]), model.predict_proba(data[0]))


def test_model_fn_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.joblib not found"):
        inference.model_fn(str(tmp_path))
    (tmp_path / "model.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="model.joblib cannot be loaded") as error:
        inference.model_fn(str(tmp_path))
    assert_one_line(str(error.value))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_one_request_end_to_end(model, data, newline):
    X, _ = data
    body = csv(X, newline).encode()
    out, _ = inference.output_fn(inference.predict_fn(inference.input_fn(body, "text/csv"), model), "text/csv")
    # Same bits as scoring the same rows in one call.
    np.testing.assert_array_equal(np.array(out.split(), dtype=float), model.predict_proba(X)[:, 1])


def test_the_script_imports_nothing_from_the_repository():
    """The container has only the standard library and the scientific stack."""
    tree = ast.parse(SCRIPT.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert modules <= {"__future__", "io", "os", "numpy", "pandas", "joblib"}, modules


def test_the_script_loads_on_its_own(tmp_path):
    """Imported from its own folder, as the container does with code/inference.py."""
    code = (f"import sys; sys.path.insert(0, {str(SCRIPT.parent)!r}); import inference; "
            "print(*inference.output_fn(inference.input_fn('1,2', 'text/csv').sum(axis=1), 'text/csv'), sep='|')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert result.stdout == "3.0\n|text/csv\n"

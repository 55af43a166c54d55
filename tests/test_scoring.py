"""processing_scripts.scoring: label-first CSV scored in-process through a packaged model's handlers."""
from __future__ import annotations

import io
import sys
import tarfile
import types
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.package import build_model_archive
from processing_scripts import labelled, scoring
from processing_scripts.model_archive import ModelArchiveError, load_serving_handlers

ENGINES = ["pyarrow", "pandas"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] - X[:, 2] + rng.normal(size=300) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def models(data, tmp_path_factory):
    """Two different packaged models (champion, challenger) and their fitted estimators."""
    X, y = data
    folder = tmp_path_factory.mktemp("models")
    fitted = {
        "champion": LogisticRegression().fit(X, y),
        "challenger": make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0)).fit(X, y),
    }
    archives = {}
    for name, estimator in fitted.items():
        joblib.dump(estimator, folder / f"{name}.joblib")
        archives[name] = build_model_archive(folder / f"{name}.joblib", folder / f"{name}.tar.gz")
    return fitted, archives


def _csv(y, X, *, label_format="{:d}", newline="\n") -> str:
    return "".join(label_format.format(int(label)) + "," + ",".join(map(repr, row.tolist())) + newline
                   for label, row in zip(y, X))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("batch_rows", [7, 10000])
def test_scores_equal_predict_proba_across_files_and_batches(models, data, tmp_path, engine, batch_rows, monkeypatch):
    # Clean files never need the slow line-by-line scan.
    monkeypatch.setattr(labelled, "scan_labelled", lambda *args, **kw: pytest.fail("the fast reader refused clean rows"))
    fitted, archives = models
    X, y = data
    folder = tmp_path / "test"
    (folder / "sub").mkdir(parents=True)
    # Sorted path order: part-0 (\r\n endings, "1.0" labels), part-1 (blank lines inside), sub/part-2.
    (folder / "part-0.csv").write_text(_csv(y[:100], X[:100], label_format="{:d}.0", newline="\r\n"), newline="")
    middle = _csv(y[100:200], X[100:200]).splitlines(keepends=True)
    (folder / "part-1.csv").write_text("".join(middle[:50]) + "\n\n" + "".join(middle[50:]))
    (folder / "sub" / "part-2.csv").write_text(_csv(y[200:], X[200:]).rstrip("\n"))  # no final newline
    (folder / "empty.csv").write_text("")
    handlers = load_serving_handlers(archives["champion"], tmp_path / "model")
    rows = scoring.score_files(handlers, folder, batch_rows=batch_rows, engine=engine)
    assert rows.y_true.dtype == np.int8 and rows.y_score.dtype == np.float64
    np.testing.assert_array_equal(rows.y_true, y)
    np.testing.assert_array_equal(rows.y_score, fitted["champion"].predict_proba(X)[:, 1])


def test_two_models_in_one_process_keep_their_own_code(models, data, tmp_path):
    fitted, archives = models
    X, y = data
    (tmp_path / "test.csv").write_text(_csv(y, X))
    path_before, modules_before = list(sys.path), set(sys.modules)
    handlers = {name: load_serving_handlers(archive, tmp_path / name) for name, archive in archives.items()}
    assert sys.path == path_before
    assert handlers["champion"].predict_fn.__module__ != handlers["challenger"].predict_fn.__module__
    assert not {m for m in set(sys.modules) - modules_before if m == "inference" or m.startswith("inference.")}
    for name, estimator in fitted.items():
        rows = scoring.score_files(handlers[name], [tmp_path / "test.csv"])
        np.testing.assert_array_equal(rows.y_score, estimator.predict_proba(X)[:, 1])
    champion, challenger = (scoring.score_files(handlers[n], tmp_path / "test.csv").y_score for n in fitted)
    assert not np.array_equal(champion, challenger)


# --- archives that must not load -----------------------------------------------------------------------


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


LOADER = b"import joblib, os\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"


def test_sibling_modules_of_two_models_do_not_leak(models, data, tmp_path):
    """Both models import a sibling named ``helper``; each gets its own, and neither stays importable."""
    fitted, archives = models
    X, y = data
    (tmp_path / "test.csv").write_text(_csv(y[:20], X[:20]))
    joblib_bytes = (archives["champion"].parent / "champion.joblib").read_bytes()
    handlers = []
    for value in ("0.25", "0.75"):
        code = LOADER + b"import helper\ndef predict_fn(x, m):\n    return np.full(len(x), helper.SCORE)\nimport numpy as np\n"
        archive = _archive(tmp_path / f"{value}.tar.gz", {
            "model.joblib": joblib_bytes, "code/inference.py": code, "code/helper.py": f"SCORE = {value}\n".encode(),
        })
        handlers.append(load_serving_handlers(archive, tmp_path / f"model-{value}"))
    assert [set(scoring.score_files(h, tmp_path / "test.csv").y_score.tolist()) for h in handlers] == [{0.25}, {0.75}]
    assert "helper" not in sys.modules and not any(str(tmp_path) in p for p in sys.path)


@pytest.mark.parametrize(
    "members, message",
    [
        ({"model.joblib": b"x", "../evil.py": b"x"}, "member '../evil.py' would be written outside the model directory"),
        ({"model.joblib": b"x", "code/inference.py": b"def predict_fn(x, m):\n    return x\n"},
         "code/inference.py defines no model_fn(model_dir)"),
    ],
)
def test_unsafe_or_incomplete_archives_are_one_line_errors(tmp_path, members, message):
    archive = _archive(tmp_path / "m.tar.gz", members)
    with pytest.raises(ModelArchiveError) as error:
        load_serving_handlers(archive, tmp_path / "model")
    # Named by file name: the path is a store's or a staged copy's, not the user's (test_hostile_model LOAD_CASES).
    assert message in str(error.value) and str(error.value).startswith(archive.name) and str(tmp_path) not in \
        str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "evil.py").exists()


# --- bad data files --------------------------------------------------------------------------------------


def _fake_handlers(predict=lambda x: x[:, 0] / 10, output=None):
    """Container-style handlers around a function of the features (no model file needed)."""
    def input_fn(body, content_type):
        assert content_type == "text/csv"
        return np.genfromtxt(io.BytesIO(body), delimiter=",", dtype=np.float64, ndmin=2)

    def output_fn(prediction, accept):
        assert accept == "text/csv"
        return output(prediction) if output else "".join(f"{v!r}\n" for v in np.ravel(prediction).tolist())

    return types.SimpleNamespace(model=None, input_fn=input_fn, predict_fn=lambda x, model: predict(x),
                                 output_fn=output_fn)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "text, message",
    [
        ("label,a,b\n1,2,3\n", "line 1: header row 'label,a,b'"),
        ("1,2,3\n0,x,3\n", "line 2: non-numeric field 'x'"),
        ("1,2,3\n0,NA,3\n", "line 2: non-numeric field 'NA'"),
        ("1,2,3\n0,1_0,3\n", "line 2: non-numeric field '1_0'"),
        # Quotes are RFC 4180's (issue 11: a quoted number used to be refused here only).
        ('1,2,3\n0,"x",3\n', "line 2: non-numeric field 'x'"),
        ('1,2,3\n0,"2"x,3\n', "line 2: broken quoting"),
        ("1,2,3\n1, ,4\n", "line 2: field 2 is blank (' '); write the value, or leave the field empty"),
        ("1,2,3\n\n2,2,3\n", "line 3: label '2' is not 0 or 1"),
        ("1,2,3\n0.5,2,3\n", "line 2: label '0.5' is not 0 or 1"),
        ("1,2,3\nnan,2,3\n", "line 2: label 'nan' is not 0 or 1"),
        ("1,2,3\n,2,3\n", "line 2: the label is empty"),
        ("1,2,3\n0,2\n", "line 2: 2 fields, expected 3 (label + 2 features, as in the first row)"),
        ("1,2,3\n0,2,3,4\n", "line 2: 4 fields, expected 3"),
        ("1\n0\n", "line 1: 1 field, expected a label and at least one feature"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, engine, text, message):
    path = tmp_path / "test.csv"
    path.write_text(text)
    with pytest.raises(scoring.ScoringError) as error:
        scoring.score_files(_fake_handlers(), path, engine=engine)
    assert f"{path} {message}" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("engine", ENGINES)
def test_width_must_agree_across_files_and_batches(tmp_path, engine):
    (tmp_path / "a.csv").write_text("1,2,3\n0,2,3\n")
    (tmp_path / "b.csv").write_text("1,2,3\n0,2,3\n1,2\n")
    with pytest.raises(scoring.ScoringError, match=r"b\.csv line 3: 2 fields, expected 3"):
        scoring.score_files(_fake_handlers(), tmp_path, batch_rows=2, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_feature_fields_reach_the_model_as_missing(tmp_path, engine):
    (tmp_path / "test.csv").write_text("1,,0.3\n0,0.2,0.5\n")
    rows = scoring.score_files(_fake_handlers(predict=lambda x: np.where(np.isnan(x[:, 0]), 1.0, x[:, 1])),
                               tmp_path, engine=engine)
    assert rows.y_score.tolist() == [1.0, 0.5] and rows.y_true.tolist() == [1, 0]


@pytest.mark.parametrize(
    "handlers, message",
    [
        (_fake_handlers(predict=lambda x: x[:-1, 0] / 10), "lines 1-4: the model returned 2 lines for 3 rows"),
        (_fake_handlers(predict=lambda x: np.c_[1 - x[:, 0] / 10, x[:, 0] / 10],
                        output=lambda p: "".join(",".join(map(repr, row)) + "\n" for row in p.tolist())),
         "lines 1-4: the model returned 2 values per row ('0.9,0.1')"),
        (_fake_handlers(output=lambda p: "0.1\nhigh\n0.3\n"), "the model's score for line 3 is 'high', not a number"),
        (_fake_handlers(predict=lambda x: np.array([0.1, np.nan, 0.3])), "the model scored line 3 nan, not a probability"),
        (_fake_handlers(predict=lambda x: x[:, 0]), "the model scored line 3 2.0, not a probability in [0, 1]"),
        (_fake_handlers(output=lambda p: list(p)), "output_fn returned list; return the response body as str or bytes"),
        (_fake_handlers(predict=lambda x: 1 / 0), "lines 1-4: the model's handlers failed (ZeroDivisionError: division by zero)"),
    ],
)
def test_bad_model_responses_are_one_line(tmp_path, handlers, message):
    path = tmp_path / "test.csv"
    path.write_text("1,1,0\n\n0,2,0\n1,3,0\n")  # the blank line 2 is skipped: rows are lines 1, 3 and 4
    with pytest.raises(scoring.ScoringError) as error:
        scoring.score_files(handlers, path)
    assert message in str(error.value) and str(path) in str(error.value) and "\n" not in str(error.value)


def test_bytes_responses_are_accepted(tmp_path):
    (tmp_path / "test.csv").write_text("1,1,0\n0,2,0\n")
    handlers = _fake_handlers(output=lambda p: "".join(f"{v}\r\n" for v in p).encode())
    assert scoring.score_files(handlers, tmp_path).y_score.tolist() == [0.1, 0.2]


def test_missing_or_empty_inputs(tmp_path):
    with pytest.raises(scoring.ScoringError, match="does not exist: pass the labelled CSV file or folder to score"):
        scoring.score_files(_fake_handlers(), tmp_path / "nope")
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(scoring.ScoringError, match="no rows to score in .*empty.csv: the data set is empty"):
        scoring.score_files(_fake_handlers(), tmp_path)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_rows"):
            scoring.score_files(_fake_handlers(), tmp_path, batch_rows=bad)
    with pytest.raises(ValueError, match="engine 'polars'"):
        scoring.score_files(_fake_handlers(), tmp_path, engine="polars")

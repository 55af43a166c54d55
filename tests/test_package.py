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
from tests.helpers import assert_one_line, assert_one_line_error, run_main

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
    assert_one_line_error(run_main(package.main, ["--estimator", str(estimator), "--out", str(tmp_path / out)], capsys),
                          message)
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


# --- safe extraction and loading of model.tar.gz (pipeline.local.model_archive) ------------------------------

from pathlib import Path  # noqa: E402

from pipeline.local.model_archive import (  # noqa: E402
    ModelArchiveError,
    archive_members,
    default_input_fn,
    default_output_fn,
    extract_model,
)


def _archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


@pytest.mark.parametrize(
    "member, message",
    [
        (_file("../evil.py"), "would be written outside the model directory"),
        (_file("/tmp/evil.py"), "would be written outside the model directory"),
        (_file("code/../../evil.py"), "would be written outside the model directory"),
        (_special("code", tarfile.SYMTYPE, "/etc"), "is a link or special file"),
        (_special("inside", tarfile.SYMTYPE, "model.joblib"), "is a link or special file"),
        (_special("model.joblib", tarfile.LNKTYPE, "/etc/passwd"), "is a link or special file"),
        (_special("tty", tarfile.CHRTYPE), "is a link or special file"),
        (_special("disk", tarfile.BLKTYPE), "is a link or special file"),
        (_special("pipe", tarfile.FIFOTYPE), "is a link or special file"),
    ],
)
def test_extraction_refuses_unsafe_members_and_writes_nothing(tmp_path, member, message):
    archive = _archive(tmp_path / "m.tar.gz", [_file("model.joblib"), member])
    with pytest.raises(ModelArchiveError) as error:
        extract_model(archive, tmp_path / "out")
    assert message in str(error.value) and str(archive) in str(error.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.py").exists()


@pytest.mark.parametrize("content", [b"", b"\x1f\x8bgarbage", b"plain text, not a tar", None])
def test_unreadable_archives_are_one_line(tmp_path, content, fitted):
    bad = tmp_path / "m.tar.gz"
    if content is None:  # a real archive cut short
        whole = package.build_model_archive(fitted[1], tmp_path / "whole.tar.gz").read_bytes()
        content = whole[: len(whole) // 2]
    bad.write_bytes(content)
    for call in (lambda: extract_model(bad, tmp_path / "out"), lambda: archive_members(bad),
                 lambda: load_serving_handlers(bad, tmp_path / "out2")):
        with pytest.raises(ModelArchiveError) as error:
            call()
        assert_one_line(str(error.value), "not a readable model.tar.gz")
        assert "python -m pipeline.package" in str(error.value)


def _with_code(tmp_path: Path, estimator: Path, code: bytes, name: str = "m.tar.gz", extra=()) -> Path:
    return _archive(tmp_path / name, [_file("model.joblib", estimator.read_bytes()), _file("code/inference.py", code),
                                      *extra])


LOADER = b"import joblib, os\ndef model_fn(d):\n    return joblib.load(os.path.join(d, 'model.joblib'))\n"


@pytest.mark.parametrize(
    "code, message",
    [
        (b"def predict_fn(x, m):\n    return x\n", "defines no model_fn(model_dir)"),
        (b"model_fn = 3\n", "defines no model_fn(model_dir)"),
        (b"import not_installed_anywhere\n", "code/inference.py failed to import (ModuleNotFoundError"),
        (b"def model_fn(d:\n", "code/inference.py failed to import (SyntaxError"),
        (b"def model_fn(d):\n    raise RuntimeError('no GPU\\nsecond line')\n", "model_fn failed (RuntimeError: no GPU)"),
    ],
)
def test_bad_serving_code_is_one_line(tmp_path, fitted, code, message):
    with pytest.raises(ModelArchiveError) as error:
        load_serving_handlers(_with_code(tmp_path, fitted[1], code), tmp_path / "model")
    assert_one_line(str(error.value), message)


def test_missing_program_is_named(tmp_path, fitted):
    archive = _archive(tmp_path / "m.tar.gz", [_file("model.joblib", fitted[1].read_bytes())])
    with pytest.raises(ModelArchiveError, match="code/inference.py is missing"):
        load_serving_handlers(archive, tmp_path / "model")
    with pytest.raises(ModelArchiveError, match="code/serve.py is missing"):
        load_serving_handlers(_with_code(tmp_path, fitted[1], LOADER, "n.tar.gz"), tmp_path / "m2", program="serve.py")


def test_container_defaults_fill_missing_handlers(tmp_path, fitted):
    model, estimator, X = fitted
    handlers = load_serving_handlers(_with_code(tmp_path, estimator, LOADER), tmp_path / "model")
    body = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in X[:5]).encode()
    # The container's default predict_fn is model.predict: labels, not scores.
    assert handlers.invoke(body, "text/csv", "text/csv") == "".join(f"{v}\n" for v in model.predict(X[:5])).encode()
    assert handlers.model_fn is not None and handlers.predict_fn.__name__ == "default_predict_fn"


@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        (b"1,2\n3,4\n", "text/csv", [[1.0, 2.0], [3.0, 4.0]]),
        (b"1,2", "text/csv", [[1.0, 2.0]]),
        (b"[[1, 2], [3, 4]]", "application/json", [[1, 2], [3, 4]]),
    ],
)
def test_default_input_fn(body, content_type, expected):
    np.testing.assert_array_equal(default_input_fn(body, content_type), np.array(expected))


def test_default_codecs_round_trip():
    array = np.array([0.1, 0.25])
    assert default_output_fn(array, "text/csv") == b"0.1\n0.25\n"
    assert default_output_fn(np.array([[1, 2]]), "text/csv") == b"1,2\n"
    assert default_output_fn(array, "application/json") == b"[0.1, 0.25]"
    npy = default_output_fn(array, "application/x-npy")
    np.testing.assert_array_equal(default_input_fn(npy, "application/x-npy"), array)
    with pytest.raises(ValueError, match="not 'image/png'"):
        default_output_fn(array, "image/png")
    with pytest.raises(ValueError, match="not 'image/png'"):
        default_input_fn(b"", "image/png")


def test_output_fn_must_return_a_body(tmp_path, fitted):
    code = LOADER + b"def output_fn(p, accept):\n    return list(p)\n"
    handlers = load_serving_handlers(_with_code(tmp_path, fitted[1], code), tmp_path / "model")
    with pytest.raises(TypeError, match="output_fn returned list; return the response body as str or bytes"):
        handlers.invoke(b"1,2,3\n", "text/csv", "text/csv")


def test_models_loaded_side_by_side_keep_their_own_code(tmp_path, fitted):
    """Each model's inference.py (and the sibling module it imports) stays its own."""
    handlers = []
    for answer in (b"0.25", b"0.75"):
        helper = _file("code/helper.py", b"ANSWER = " + answer + b"\n")
        code = LOADER + b"import helper\ndef predict_fn(x, m):\n    return [helper.ANSWER] * len(x)\n"
        archive = _with_code(tmp_path, fitted[1], code, f"{answer.decode()}.tar.gz", [helper])
        handlers.append(load_serving_handlers(archive, tmp_path / f"model-{answer.decode()}"))
    assert [h.invoke(b"1,2,3\n", "text/csv", "text/csv") for h in handlers] == [b"0.25\n", b"0.75\n"]
    assert "helper" not in sys.modules

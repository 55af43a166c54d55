"""Package a fitted scikit-learn estimator as the ``model.tar.gz`` the pipeline evaluates.

    python -m pipeline.package --estimator model.joblib --out model.tar.gz

The archive holds ``model.joblib`` and ``code/inference.py`` (the serving handlers), which is what the
SageMaker scikit-learn container loads. It is deterministic: the same estimator file gives the same bytes.
Its ``output_fn`` answers ``text/csv`` only: a model deployed from it outside the pipeline needs the
Environment of ``steps.model.SERVING_ENV`` (``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv``), or clients
that send no Accept get the container's default, application/json, and HTTP 500.
Exit codes: 0 written (its path is printed), 2 bad input (one line on stderr, nothing written).
"""
from __future__ import annotations

import argparse
import gzip
import io
import sys
import tarfile
from pathlib import Path
from typing import Sequence

from pipeline.code_bundle import PROCESSING_SCRIPTS_DIR
from processing_scripts.model_code import ModelCodeError, discarded_output, guarded
from processing_scripts.outputs import write_bytes_atomic

INFERENCE_SOURCE = PROCESSING_SCRIPTS_DIR / "inference.py"
MODEL_MEMBER = "model.joblib"
CODE_MEMBER = "code/inference.py"


class PackageError(ValueError):
    """The estimator cannot be packaged; the message says why and what to do."""


def check_estimator(estimator_path: Path) -> None:
    """The file must load with joblib and hold a fitted binary classifier with predict_proba."""
    # Unpickling and inspecting the estimator run the file's own code: what it prints is not ours to
    # show, and its sys.exit must not end this command as if the archive had been written.
    try:
        with discarded_output():
            guarded(_check_loaded, "the estimator file")(estimator_path)
    except ModelCodeError as error:
        raise PackageError(f"{estimator_path}: {error}") from None


def _check_loaded(estimator_path: Path) -> None:
    import joblib

    try:
        model = joblib.load(estimator_path)
    except Exception as error:  # joblib/pickle raise many types for a bad file
        raise PackageError(f"{estimator_path}: cannot load with joblib ({type(error).__name__}: {_first_line(error)})") from None
    if not callable(getattr(model, "predict_proba", None)):
        raise PackageError(f"{estimator_path}: {type(model).__name__} has no predict_proba; the pipeline needs scores")
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise PackageError(f"{estimator_path}: the {type(model).__name__} is not fitted (no classes_); fit it, then dump it")
    if len(classes) != 2:
        raise PackageError(f"{estimator_path}: {len(classes)} classes; the pipeline evaluates binary classifiers")


def tar_member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0  # fixed metadata: equal inputs give byte-identical archives
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, data


def build_model_archive(estimator_path: str | Path, out_path: str | Path) -> Path:
    """Write ``model.tar.gz`` (``code/inference.py`` + ``model.joblib``) atomically; returns its path.

    Deterministic: members sorted, fixed times, owners and modes, gzip without a timestamp or name.
    """
    estimator_path, out_path = Path(estimator_path), Path(out_path)
    if not estimator_path.is_file():
        raise PackageError(f"{estimator_path} is not a file: pass the joblib file of a fitted estimator")
    if out_path.is_dir():
        raise PackageError(f"{out_path} is a folder: pass the archive's file name, e.g. {out_path / 'model.tar.gz'}")
    if out_path.exists() and out_path.resolve() == estimator_path.resolve():
        raise PackageError(f"{out_path}: the archive would overwrite the estimator; pick another --out")
    check_estimator(estimator_path)
    members = sorted([
        tar_member(MODEL_MEMBER, estimator_path.read_bytes()),
        tar_member(CODE_MEMBER, INFERENCE_SOURCE.read_bytes()),
    ], key=lambda member: member[0].name)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data))
    compressed = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    try:
        path = write_bytes_atomic(out_path, compressed)
    except OSError as error:
        raise PackageError(f"{out_path}: cannot write the archive ({error.strerror or error})") from None
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.package", description=__doc__.split("\n")[0])
    parser.add_argument("--estimator", required=True, help="joblib file of a fitted binary classifier")
    parser.add_argument("--out", default="model.tar.gz", help="archive to write (default model.tar.gz)")
    args = parser.parse_args(argv)
    try:
        path = build_model_archive(args.estimator, args.out)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)

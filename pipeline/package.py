"""Package a fitted scikit-learn estimator as the ``model.tar.gz`` the pipeline evaluates.

    python -m pipeline.package --estimator model.joblib --out model.tar.gz

The archive holds ``model.joblib`` and ``code/inference.py`` (the serving handlers), which is what the
SageMaker scikit-learn container loads. It is deterministic: the same estimator file gives the same bytes.
"""
from __future__ import annotations

import argparse
import gzip
import io
import sys
import tarfile
from pathlib import Path
from typing import Sequence

from pipeline.atomic import write_bytes_atomic
from pipeline.code_bundle import PROCESSING_SCRIPTS_DIR

INFERENCE_SOURCE = PROCESSING_SCRIPTS_DIR / "inference.py"


class PackageError(ValueError):
    """The estimator cannot be packaged; the message says why and what to do."""


def check_estimator(estimator_path: Path) -> None:
    """The file must load with joblib and be a binary classifier with predict_proba."""
    import joblib

    try:
        model = joblib.load(estimator_path)
    except Exception as error:  # joblib/pickle raise many types for a bad file
        raise PackageError(f"{estimator_path}: cannot load with joblib ({type(error).__name__}: {error})") from None
    if not hasattr(model, "predict_proba"):
        raise PackageError(f"{estimator_path}: {type(model).__name__} has no predict_proba; the pipeline needs scores")
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise PackageError(f"{estimator_path}: the estimator is not fitted (no classes_)")
    if len(classes) != 2:
        raise PackageError(f"{estimator_path}: {len(classes)} classes; the pipeline evaluates binary classifiers")


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = 0  # fixed metadata: equal inputs give byte-identical archives
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    archive.addfile(info, io.BytesIO(data))


def build_model_archive(estimator_path: str | Path, out_path: str | Path) -> Path:
    """Write ``model.tar.gz`` (``model.joblib`` + ``code/inference.py``) atomically; returns its path."""
    estimator_path = Path(estimator_path)
    if not estimator_path.is_file():
        raise PackageError(f"{estimator_path} is not a file: pass the joblib file of a fitted estimator")
    check_estimator(estimator_path)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        _add(archive, "model.joblib", estimator_path.read_bytes())
        _add(archive, "code/inference.py", INFERENCE_SOURCE.read_bytes())
    compressed = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    return write_bytes_atomic(out_path, compressed)


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


if __name__ == "__main__":
    sys.exit(main())

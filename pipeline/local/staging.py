"""Local inputs for a local run: the settings the runner builds definitions with, and files or folders
copied into the local object store (content-addressed) so the definition reads them as s3:// URIs."""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Sequence

from pipeline.config import PipelineConfig
from processing_scripts import labelled

LOCAL_BUCKET = "local-sagemaker"
LOCAL_REGION = "us-east-1"
DEFAULT_WORK_DIR = ".local-sagemaker"


class UsageError(ValueError):
    """Bad arguments or input files; exit code 2."""


def local_config(*, pipeline_name: str | None = None, model_package_group: str | None = None) -> PipelineConfig:
    """The configuration the local runner builds the definition with (bucket = the local store)."""
    changes = {k: v for k, v in {"pipeline_name": pipeline_name, "model_package_group": model_package_group}.items() if v}
    return PipelineConfig(bucket=LOCAL_BUCKET, region=LOCAL_REGION, **changes)


def check_model_archive(path: Path) -> None:
    """UsageError unless ``path`` is a model.tar.gz holding model.joblib and code/inference.py."""
    from pipeline.local.model_archive import ModelArchiveError, archive_members
    from pipeline.package import CODE_MEMBER, MODEL_MEMBER

    try:
        names = archive_members(path)
    except ModelArchiveError as error:
        raise UsageError(str(error)) from None
    if MODEL_MEMBER not in names or CODE_MEMBER not in names:
        raise UsageError(f"{path}: model.tar.gz must contain {MODEL_MEMBER} and {CODE_MEMBER}; build it with "
                         "python -m pipeline.package")


def stage_input(store, config: PipelineConfig, value: str, kind: str) -> str:
    """An s3:// URI for ``value``: local files are copied into the store, content-addressed."""
    if value.startswith("s3://"):
        if not value[len("s3://"):].partition("/")[2]:  # a whole bucket would take the code and records too
            raise UsageError(f"--{kind}: {value} names a bucket, not data; pass s3://bucket/key or a prefix")
        if not store.list(value):
            raise UsageError(f"--{kind}: no object at {value} in the local store {store.root}")
        return value
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"--{kind}: {value} is not a file")
    if kind == "model-data":
        check_model_archive(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    uri = f"{config.s3_root}/inputs/{digest}/{path.name}"
    if not store.exists(uri):
        store.put_bytes(uri, data)
    return uri


def checked_work_dir(value: str) -> Path:
    """The work folder, created if missing, once a file can be written in it (else UsageError): checked
    before any step, so an unwritable folder never fails a run half-way."""
    work_dir = Path(value)
    if work_dir.exists() and not work_dir.is_dir():
        raise UsageError(f"--work-dir {work_dir} is a file: pass a folder (it is created if missing)")
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=work_dir):
            pass
    except OSError as error:
        raise UsageError(f"--work-dir {work_dir}: cannot write there ({error.strerror or error}); "
                         "pass a folder you can write") from None
    return work_dir


def stage_folder(store, config: PipelineConfig, value: str, kind: str, *, required: Sequence[str] = ()) -> str:
    """An s3:// URI for a file or folder (folders copied into the store under a digest of their files)."""
    path = Path(value)
    if value.startswith("s3://") and required:
        missing = [name for name in required if not store.exists(value.rstrip("/") + "/" + name)]
        if missing:
            raise UsageError(f"--{kind}: no {missing[0]} under {value} in the local store {store.root}")
    elif required and path.is_file():
        raise UsageError(f"--{kind}: {value} is a file; pass the folder holding {' and '.join(required)}")
    if value.startswith("s3://") or path.is_file():
        return stage_input(store, config, value, kind)
    if not path.is_dir():
        raise UsageError(f"--{kind}: {value} is not a file or folder")
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        raise UsageError(f"--{kind}: {value} has no {missing[0]}; write a baseline with python -m pipeline.monitor baseline")
    files = labelled.list_files(path, missing="pass a file or folder")  # a folder here: it exists
    if not files:
        raise UsageError(f"--{kind}: {value} is an empty folder")
    digest = hashlib.sha256()
    for file in files:
        relative = file.relative_to(path).as_posix()
        data = file.read_bytes()
        digest.update(f"{len(relative)}:{relative}:{len(data)}:".encode())
        digest.update(data)
    prefix = f"{config.s3_root}/inputs/{digest.hexdigest()[:16]}/"
    for file in files:
        uri = prefix + file.relative_to(path).as_posix()
        if not store.exists(uri):
            store.put_bytes(uri, file.read_bytes())
    return prefix

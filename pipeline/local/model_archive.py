"""Open ``model.tar.gz`` safely and load its serving handlers the way the scikit-learn container does."""
from __future__ import annotations

import importlib.util
import io
import itertools
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import numpy as np

_module_ids = itertools.count()


class ModelArchiveError(ValueError):
    """The archive or its handlers are unusable; the message names the file and the fix."""


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise ModelArchiveError(f"{archive}: member {member.name!r} would be written outside the model directory")
    if not (member.isfile() or member.isdir()):
        # Links and devices can point anywhere; a model archive needs neither.
        raise ModelArchiveError(f"{archive}: member {member.name!r} is a link or special file; repackage the model")


def archive_members(archive: str | Path) -> set[str]:
    """Names in the archive; a one-line ModelArchiveError if it is not a readable tar(.gz)."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            return set(tar.getnames())
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ModelArchiveError(
            f"{archive}: not a readable model.tar.gz ({_first_line(error)}); build one with python -m pipeline.package"
        ) from None


def extract_model(archive: str | Path, dest: str | Path) -> Path:
    """Extract regular files and folders only, refusing absolute paths, '..', links and devices."""
    archive, dest = Path(archive), Path(dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, archive)
            dest.mkdir(parents=True, exist_ok=True)
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        if isinstance(error, ModelArchiveError):
            raise
        raise ModelArchiveError(f"{archive}: not a readable model.tar.gz ({_first_line(error)}); rebuild it with python -m pipeline.package") from None
    return dest


# --- the container's default handlers, used when inference.py does not define its own ---


def default_input_fn(body: Any, content_type: str) -> np.ndarray:
    if content_type.split(";")[0].strip() != "text/csv":
        raise ValueError(f"default input_fn supports text/csv only, not {content_type!r}")
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    return np.genfromtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)


def default_predict_fn(data: np.ndarray, model: Any) -> np.ndarray:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> str:
    if accept.split(";")[0].strip() != "text/csv":
        raise ValueError(f"default output_fn supports text/csv only, not {accept!r}")
    return "\n".join(map(repr, np.ravel(prediction).tolist())) + "\n"


@dataclass
class ServingHandlers:
    """The four handlers with the model loaded, ready to serve requests."""

    model: Any
    input_fn: Callable[[Any, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], Any]

    def invoke(self, body: bytes, content_type: str, accept: str) -> bytes:
        """One request, as the container handles it."""
        result = self.output_fn(self.predict_fn(self.input_fn(body, content_type), self.model), accept)
        return result.encode() if isinstance(result, str) else bytes(result)


def load_serving_handlers(archive: str | Path, model_dir: str | Path, *, program: str = "inference.py") -> ServingHandlers:
    """Extract ``archive`` into ``model_dir``, import ``code/<program>`` and call its ``model_fn``."""
    model_dir = extract_model(archive, model_dir)
    script = model_dir / "code" / program
    if not script.is_file():
        raise ModelArchiveError(f"{archive}: code/{program} is missing; package the model with python -m pipeline.package")
    name = f"_local_serving_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(script.parent))  # the container puts code/ on the path for sibling imports
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # whatever the user's module raises at import
        raise ModelArchiveError(f"{archive}: code/{program} failed to import ({type(error).__name__}: {error})") from None
    finally:
        sys.path.remove(str(script.parent))
    if not hasattr(module, "model_fn"):
        raise ModelArchiveError(f"{archive}: code/{program} defines no model_fn(model_dir); add one that loads the model")
    try:
        model = module.model_fn(str(model_dir))
    except Exception as error:  # whatever the user's model_fn raises
        raise ModelArchiveError(f"{archive}: model_fn failed ({type(error).__name__}: {error})") from None
    return ServingHandlers(
        model=model,
        input_fn=getattr(module, "input_fn", default_input_fn),
        predict_fn=getattr(module, "predict_fn", default_predict_fn),
        output_fn=getattr(module, "output_fn", default_output_fn),
    )


def _first_line(error: BaseException) -> str:
    # tarfile's messages can span lines (one per compression method tried); errors stay one line.
    return (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(":")

"""Open ``model.tar.gz`` safely and load its serving handlers the way the scikit-learn container does.

The one implementation: the local runner (``pipeline.local.model_archive`` re-exports it) and the
evaluation container (which scores champion and challenger models) both load archives with it. Only
the standard library and numpy: it runs inside the processing container.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import itertools
import json
import os
import re
import shutil
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping

import numpy as np

from .model_code import ModelCodeError, ModelOutput, guarded

_module_ids = itertools.count()
DEFAULT_ACCEPT_VARIABLE = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
CONTAINER_DEFAULT_ACCEPT = "application/json"  # sagemaker-containers' default for that variable
BARE_BODY_CONTENT_TYPE = "text/html; charset=utf-8"  # what Flask sends a view's bare str or bytes as
# How much a model's files may expand to. 4 GiB: scikit-learn models are rarely above 1 GiB, and the
# evaluation job extracts two (challenger and champion) beside the test data on its 30 GB default volume.
# An environment variable, not a pipeline parameter: it bounds this machine's or container's disk, not
# the model's evaluation, and it applies to the local runner, the container and ``pipeline.local`` alike.
MAX_BYTES_VARIABLE = "MODEL_ARCHIVE_MAX_BYTES"
DEFAULT_MAX_BYTES = 4 * 1024**3


class ModelArchiveError(ValueError):
    """The archive or its handlers are unusable; the message names the file and the fix."""


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise ModelArchiveError(f"{archive}: member {member.name!r} would be written outside the model directory")
    if not (member.isfile() or member.isdir()):
        # Links and devices can point anywhere; a model archive needs neither.
        raise ModelArchiveError(f"{archive}: member {member.name!r} is a link or special file; repackage the model")


def archive_sha256(archive: str | Path) -> str:
    """Hex SHA-256 of an archive's bytes (the identity a registered version records for its model)."""
    digest = hashlib.sha256()
    with open(archive, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def max_expanded_bytes(environment: Mapping[str, str] | None = None) -> int:
    """The cap on an archive's expanded size: MODEL_ARCHIVE_MAX_BYTES (bytes) or DEFAULT_MAX_BYTES.

    >>> max_expanded_bytes({}) == DEFAULT_MAX_BYTES, max_expanded_bytes({"MODEL_ARCHIVE_MAX_BYTES": "1000"})
    (True, 1000)
    """
    value = (os.environ if environment is None else environment).get(MAX_BYTES_VARIABLE, "").strip()
    if not value:
        return DEFAULT_MAX_BYTES
    if not value.isdigit() or int(value) == 0:
        raise ModelArchiveError(f"{MAX_BYTES_VARIABLE}={value[:40]!r} is not a positive whole number of bytes; "
                                f"set it to one (e.g. {DEFAULT_MAX_BYTES}) or unset it")
    return int(value)


def _size(count: int) -> str:
    """
    >>> _size(2 * 1024**3), _size(5 * 1024**2 + 1), _size(999)
    ('2.0 GiB', '5.0 MiB', '999 bytes')
    """
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _checked_members(tar: tarfile.TarFile, archive: Path) -> tuple[list[tarfile.TarInfo], int]:
    """Every member, checked (no escape, no links, declared sizes within the cap), and their total size.

    The declared sizes bound what extraction writes: tarfile copies exactly ``size`` bytes per file.
    """
    members = tar.getmembers()
    for member in members:
        _check_member(member, archive)
    total = sum(member.size for member in members if member.isfile())
    limit = max_expanded_bytes()
    if total > limit:
        raise ModelArchiveError(
            f"{archive}: its files expand to {_size(total)}, over the {_size(limit)} a model may take; "
            f"shrink the model or raise {MAX_BYTES_VARIABLE} (bytes)"
        )
    return members, total


def member_name(name: str) -> str:
    """A member's name as extraction places it: ``./model.joblib`` (``tar -C dir .``) is ``model.joblib``.

    >>> member_name("./code/inference.py"), member_name("model.joblib"), member_name("./")
    ('code/inference.py', 'model.joblib', '.')
    """
    return PurePosixPath(name).as_posix()


def archive_members(archive: str | Path) -> set[str]:
    """Names in the archive (as :func:`member_name` gives them), every member checked as extraction would
    check it; a one-line ModelArchiveError if it is not a readable tar(.gz) or would be refused."""
    archive = Path(archive)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members, _ = _checked_members(tar, archive)
    except ModelArchiveError:
        raise
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ModelArchiveError(
            f"{archive}: not a readable model.tar.gz ({_first_line(error)}); build one with python -m pipeline.package"
        ) from None
    return {member_name(member.name) for member in members}


def _free_bytes(folder: Path) -> int:
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    return shutil.disk_usage(existing).free


def extract_model(archive: str | Path, dest: str | Path) -> Path:
    """Extract regular files and folders only, refusing absolute paths, '..', links and devices, and an
    archive whose files would expand beyond the cap (:func:`max_expanded_bytes`) or the free disk.

    Every member is checked first (nothing is written if one is bad); tarfile's ``data`` filter then
    guards the extraction itself as a second line of defence.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members, total = _checked_members(tar, archive)
            free = _free_bytes(dest)
            if total > free:
                raise ModelArchiveError(f"{archive}: its files expand to {_size(total)} but only {_size(free)} of disk "
                                        "is free to extract them; free some disk space")
            dest.mkdir(parents=True, exist_ok=True)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # Python without extraction filters: the checks above are the guard
                tar.extractall(dest, members=members)
    except ModelArchiveError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise ModelArchiveError(
            f"{archive}: not a readable model.tar.gz ({_first_line(error)}); rebuild it with python -m pipeline.package"
        ) from None
    return dest


# --- the container's request rules (sagemaker-containers 2.8.6 under Flask; see pipeline/local/transform.py) ---


def resolve_accept(accept: str | None, environment: Mapping[str, str] | None = None) -> str:
    """The Accept output_fn is called with: a missing, empty or exactly ``*/*`` header becomes the model's
    SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (application/json when unset); anything else passes verbatim.

    >>> resolve_accept(None), resolve_accept("*/*", {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"})
    ('application/json', 'text/csv')
    >>> resolve_accept("text/csv; charset=utf-8"), resolve_accept("*/*;q=0.8")
    ('text/csv; charset=utf-8', '*/*;q=0.8')
    """
    if not accept or accept == "*/*":
        return (environment or {}).get(DEFAULT_ACCEPT_VARIABLE, CONTAINER_DEFAULT_ACCEPT)
    return accept


def response_of(result: Any) -> tuple[bytes, str]:
    """``(body, Content-Type)`` of what output_fn returned, as the container sends it.

    A ``(body, content_type)`` tuple is a response of that type (application/json when it is None);
    a bare str or bytes goes out as text/html. Text types get ``; charset=utf-8`` appended.

    >>> response_of(("0.5\\n", "text/csv")), response_of(b"0.5\\n")
    ((b'0.5\\n', 'text/csv; charset=utf-8'), (b'0.5\\n', 'text/html; charset=utf-8'))
    """
    if isinstance(result, tuple) and len(result) >= 2:
        body, content_type = result[0], "application/json" if result[1] is None else result[1]  # Response's default
        # werkzeug's get_content_type, under the container's Flask 3.1
        if content_type.startswith("text/") or content_type.endswith("+xml") or content_type in _CHARSET_TYPES:
            content_type += "; charset=utf-8"
    else:
        body, content_type = result, BARE_BODY_CONTENT_TYPE
    if isinstance(body, str):
        return body.encode("utf-8"), content_type
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), content_type
    raise TypeError(
        f"output_fn returned {type(body).__name__}; return the response body as str or bytes, "
        "or (body, content_type)"
    )


_CHARSET_TYPES = frozenset({"application/ecmascript", "application/javascript", "application/sql", "application/xml",
                            "application/xml-dtd", "application/xml-external-parsed-entity"})


# --- the container's default handlers, used when inference.py does not define its own ---


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def default_input_fn(body: Any, content_type: str) -> np.ndarray:
    """The container's decoder: text/csv, application/json or application/x-npy into a numpy array."""
    kind = _media_type(content_type)
    if kind == "application/x-npy":
        return np.load(io.BytesIO(bytes(body)), allow_pickle=False)
    text = bytes(body).decode("utf-8") if isinstance(body, (bytes, bytearray, memoryview)) else str(body)
    if kind == "text/csv":
        return np.genfromtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    if kind == "application/json":
        return np.array(json.loads(text))
    raise ValueError(f"default input_fn supports text/csv, application/json and application/x-npy, not {content_type!r}")


def default_predict_fn(data: np.ndarray, model: Any) -> np.ndarray:
    """The container's default: ``model.predict`` (labels, not scores)."""
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> bytes:
    """The container's encoder: text/csv (one row per line), application/json or application/x-npy."""
    kind = _media_type(accept)
    array = np.asarray(prediction)
    if kind in ("text/csv", "*/*", ""):
        rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
        return "".join(",".join(map(_cell, row)) + "\n" for row in rows.tolist()).encode()
    if kind == "application/json":
        return json.dumps(array.tolist()).encode()
    if kind == "application/x-npy":
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    raise ValueError(f"default output_fn supports text/csv, application/json and application/x-npy, not {accept!r}")


def _cell(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


@dataclass
class ServingHandlers:
    """The model (already loaded by ``model_fn``), the three request handlers and the model's environment."""

    model: Any
    model_fn: Callable[[str], Any]
    input_fn: Callable[[Any, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    output_fn: Callable[[Any, str], Any]
    environment: Mapping[str, str] = field(default_factory=dict)  # the model container's Environment

    def respond(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """One request, as the container handles it: ``(body, Content-Type)`` of input_fn → predict_fn → output_fn.

        ``accept`` is the request's Accept header (None: none sent), resolved by :func:`resolve_accept`.
        Whatever a handler raises propagates: the container answers that request with HTTP 500.
        """
        prediction = self.predict_fn(self.input_fn(body, content_type), self.model)
        return response_of(self.output_fn(prediction, resolve_accept(accept, self.environment)))

    def invoke(self, body: bytes, content_type: str, accept: str | None) -> bytes:
        """The response body of :meth:`respond`."""
        return self.respond(body, content_type, accept)[0]


def load_serving_handlers(archive: str | Path, model_dir: str | Path, *, program: str = "inference.py",
                          environment: Mapping[str, str] | None = None,
                          output: str | Path | None = None, name: str | None = None) -> ServingHandlers:
    """Extract ``archive`` into ``model_dir``, import ``code/<program>`` and call its ``model_fn``.

    ``environment`` is the model container's Environment (its SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT
    decides what a request without Accept gets). ``output``: a log file that whatever the model code
    prints goes to (None: where this process writes). ``name``: how messages name the archive (default
    its file name, ``model.tar.gz``: the path is a store's, a staged copy's or a container's, never the
    user's); files under ``model_dir`` are named as members (``model.joblib``), never by scratch path.

    The module is imported under a name of its own, so several models can be loaded in one process;
    ``input_fn``, ``predict_fn`` and ``output_fn`` default to the scikit-learn container's. Model code
    is foreign: the import, ``model_fn`` and every handler run :func:`model_code.guarded`, so its
    ``sys.exit``, ``os._exit`` or KeyboardInterrupt is a :class:`ModelCodeError` (an import or model_fn's is
    a ModelArchiveError), never the end of this process.
    """
    archive, model_dir = Path(archive), Path(model_dir)
    label = name or archive.name
    try:
        return _load(archive, model_dir, label, program, environment, output)
    except ModelArchiveError as error:
        raise ModelArchiveError(_shown(str(error), archive, model_dir, label)) from None


def _shown(message: str, archive: Path, model_dir: Path, label: str) -> str:
    """``message`` with the archive's path as ``label`` and paths under ``model_dir`` as member names.

    >>> _shown("/s/x/model.tar.gz: bad; '/tmp/j/model/model.joblib' gone", Path("/s/x/model.tar.gz"),
    ...        Path("/tmp/j/model"), "model.tar.gz")
    "model.tar.gz: bad; 'model.joblib' gone"
    """
    # The archive first: model_dir may be a prefix of its path (model, model.tar.gz).
    return _members(message.replace(str(archive), label), model_dir)


def _members(text: str, model_dir: Path) -> str:
    """``text`` with paths under ``model_dir`` as member names (the folder itself as ``.``)."""
    for folder in {str(model_dir), os.path.realpath(model_dir)}:
        text = re.sub(re.escape(folder) + r"(?![\w.-])", ".", text.replace(folder + os.sep, ""))
    return text


def _line_in(error: BaseException, script: Path) -> str:
    """`` at line N``: where in ``script`` ``error`` was raised (a SyntaxError's own line), or ""."""
    if isinstance(error, SyntaxError) and error.lineno and error.filename == str(script):
        return f" at line {error.lineno}"
    lines = [frame.tb_lineno for frame in _frames(error.__traceback__)
             if frame.tb_frame.f_code.co_filename == str(script)]
    return f" at line {lines[-1]}" if lines else ""


def _frames(traceback: Any) -> list[Any]:
    frames = []
    while traceback is not None:
        frames.append(traceback)
        traceback = traceback.tb_next
    return frames


def _problem(error: BaseException, model_dir: Path) -> str:
    """``NameError: name 'x' is not defined``, one line, bounded, paths as members (a SyntaxError's msg only)."""
    text = error.msg if isinstance(error, SyntaxError) and error.msg else _first_line(error)
    text = _members(f"{type(error).__name__}: {text}", model_dir)
    return text if len(text) <= 120 else text[:117] + "..."


def _load(archive: Path, model_dir: Path, label: str, program: str, environment: Mapping[str, str] | None,
          output: str | Path | None) -> ServingHandlers:
    model_dir = extract_model(archive, model_dir)
    script = model_dir / "code" / program
    member = f"{label} member code/{program}"
    if not program.endswith(".py") or "/" in program or not script.is_file():
        raise ModelArchiveError(
            f"{label}: code/{program} is missing; package the model with python -m pipeline.package "
            "(or set SAGEMAKER_PROGRAM to the script in code/)"
        )
    log = ModelOutput(output) if output is not None else None
    # A name of its own per load: two models' inference.py never replace each other in sys.modules.
    name = f"_serving_model_{next(_module_ids)}"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    code_dir = str(script.parent)
    before = set(sys.modules)
    # Registered as importlib's recipe does, so pickle, dataclasses and typing can find the module.
    sys.modules[name] = module
    sys.path.insert(0, code_dir)  # the container puts code/ on the path for sibling imports
    try:
        guarded(spec.loader.exec_module, f"code/{program} at import", log)(module)
    except ModelCodeError as error:
        del sys.modules[name]
        raise ModelArchiveError(str(error)) from None  # names the code already
    except Exception as error:  # whatever the user's module raises at import
        del sys.modules[name]
        where = _line_in(error, script)
        raise ModelArchiveError(f"{member} failed to import ({_problem(error, model_dir)}){where}; fix it and "
                                "package the model again") from None
    finally:
        if code_dir in sys.path:
            sys.path.remove(code_dir)
        # Sibling modules of this model must not shadow those of the next model loaded in this process.
        for added in set(sys.modules) - before - {name}:
            if (getattr(sys.modules[added], "__file__", None) or "").startswith(code_dir + os.sep):
                del sys.modules[added]
    model_fn = getattr(module, "model_fn", None)
    if not callable(model_fn):
        del sys.modules[name]
        raise ModelArchiveError(f"{member} defines no model_fn(model_dir); add one that loads the model")
    model_fn = guarded(model_fn, "model_fn", log)
    try:
        model = model_fn(str(model_dir))
    except ModelCodeError as error:
        del sys.modules[name]
        raise ModelArchiveError(str(error)) from None  # names the code already
    except Exception as error:  # whatever the user's model_fn raises
        del sys.modules[name]
        where = _line_in(error, script)
        raise ModelArchiveError(f"{member}: model_fn failed ({_problem(error, model_dir)}){where}") from None
    handlers = {role: guarded(getattr(module, role, default), role, log) for role, default in (
        ("input_fn", default_input_fn), ("predict_fn", default_predict_fn), ("output_fn", default_output_fn))}
    return ServingHandlers(model=model, model_fn=model_fn, environment=dict(environment or {}), **handlers)


def _first_line(error: BaseException) -> str:
    # tarfile's messages can span lines (one per compression method tried); errors stay one line.
    return (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(":")

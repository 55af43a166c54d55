"""Score a labelled CSV with a packaged model inside the processing container (no Batch Transform).

Input: label-first CSV files without a header, read by the rules of :mod:`labelled` (a file, or every
file below a folder, sorted; labels 0/1; numeric features, an empty one being a missing value passed
on to the model as it is; RFC 4180 quotes accepted), in path order.

Each batch of rows goes through the model's handlers as the scikit-learn serving container calls
them: ``input_fn(body, "text/csv")`` → ``predict_fn(data, model)`` → ``output_fn(prediction,
"text/csv")``, where the body is the rows' feature fields as written in the file (the label field
cut off, as Batch Transform's ``input_filter`` does). The response must hold one score in [0, 1]
per row, one per line (:mod:`score_response`). Any problem is a one-line :class:`ScoringError`
naming the file and line.

Load the handlers with :func:`model_archive.load_serving_handlers`; champion and challenger can be
loaded side by side in one process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import fast_csv, labelled, model_archive
from .model_archive import ServingHandlers
from .score_response import ResponseError, parse_scores

CSV = "text/csv"


class ScoringError(labelled.DataError):
    """Rows that cannot be scored; the message names file, line and fix."""


@dataclass(frozen=True)
class ScoredRows:
    y_true: np.ndarray  # int8 labels, in file and line order
    y_score: np.ndarray  # float64 scores from the model, one per row


def list_input_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Each path itself, or every file below it (:func:`labelled.list_files`), in the order given.

    >>> list_input_files("/nonexistent/test.csv")
    Traceback (most recent call last):
    ...
    processing_scripts.text_files.DataError: /nonexistent/test.csv does not exist: pass the labelled CSV file or folder to score
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return [file for path in paths
            for file in labelled.list_files(path, missing="pass the labelled CSV file or folder to score")]


# --- scoring ------------------------------------------------------------------------------------------


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _invoke(handlers: ServingHandlers, body: bytes, where: str) -> bytes:
    try:
        response = handlers.output_fn(handlers.predict_fn(handlers.input_fn(body, CSV), handlers.model), CSV)
    except Exception as error:  # whatever the model's own handlers raise
        raise ScoringError(
            f"{where}: the model's handlers failed ({type(error).__name__}: {_first_line(error)}); "
            "check that the features match what the model was trained on"
        ) from None
    try:
        body, _ = model_archive.response_of(response)  # a bare body or (body, content type), as the container takes
    except TypeError as error:
        raise ScoringError(f"{where}: {error}") from None
    return body


def score_files(
    handlers: ServingHandlers,
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    batch_rows: int = 10000,
    engine: str = "auto",
    shown: Callable[[Path], str] = str,
) -> ScoredRows:
    """Labels and the model's scores for every row of the label-first CSV files under ``paths``.

    ``handlers`` is what :func:`model_archive.load_serving_handlers` returns (``model``, ``input_fn``,
    ``predict_fn``, ``output_fn``). Rows are sent ``batch_rows`` lines at a time. ``engine`` picks the
    fast CSV reader ("auto": pyarrow when importable, else pandas); every engine accepts and refuses
    the same files. ``shown`` names a file in messages (the user's name for a staged copy).

    >>> import io, types, tempfile
    >>> handlers = types.SimpleNamespace(
    ...     model=None, input_fn=lambda body, kind: np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2),
    ...     predict_fn=lambda x, model: x[:, 0] / 10, output_fn=lambda p, accept: "\\n".join(map(str, p)) + "\\n")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = Path(folder, "test.csv").write_text("1,7,0\\n0,2,5\\n")
    ...     rows = score_files(handlers, folder)
    >>> rows.y_true.tolist(), rows.y_score.tolist()
    ([1, 0], [0.7, 0.2])
    """
    if int(batch_rows) != batch_rows or batch_rows < 1:
        raise ValueError(f"batch_rows {batch_rows!r} is not a whole number >= 1; pass e.g. 10000")
    engine = fast_csv.engine(engine)
    labels, scores = [], []
    try:
        files = list_input_files(paths)
        for rows in labelled.iter_rows(files, batch_lines=int(batch_rows), shown=shown, engine=engine):
            try:
                scores.append(parse_scores(_invoke(handlers, rows.body(), rows.where), len(rows.labels),
                                           row_name=lambda i, rows=rows: f"line {rows.line_numbers[i]}"))
            except ResponseError as error:
                raise ScoringError(f"{rows.where}: {error}") from None
            labels.append(rows.labels)
    except ScoringError:
        raise
    except labelled.DataError as error:
        raise ScoringError(str(error)) from None
    if not labels:
        named = ", ".join(map(shown, files)) if files else "the given paths"
        raise ScoringError(f"no rows to score in {named}: the data set is empty; check the data URL")
    return ScoredRows(
        y_true=labels[0] if len(labels) == 1 else np.concatenate(labels),
        y_score=scores[0] if len(scores) == 1 else np.concatenate(scores),
    )

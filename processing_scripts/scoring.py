"""Score a labelled CSV with a packaged model inside the processing container (no Batch Transform).

Input: label-first CSV files without a header (``label,feature1,feature2,...``, labels 0/1, written
``1`` or ``1.0``), read in path order as :func:`predictions.list_prediction_files` orders transform
output (a folder: every regular file below it, sorted, hidden files included). Lines may end in
``\\r\\n``; only truly empty lines are skipped; an empty feature field is a missing value, passed on to
the model as it is (the model decides whether it accepts NaN).

Each batch of rows goes through the model's handlers as the scikit-learn serving container calls
them: ``input_fn(body, "text/csv")`` → ``predict_fn(data, model)`` → ``output_fn(prediction,
"text/csv")``, where the body is the rows' feature fields exactly as written in the file (the label
field cut off, as Batch Transform's ``input_filter`` does). The response must hold one score in [0, 1]
per row, one per line. Any problem is a one-line :class:`ScoringError` naming the file and line.

Load the handlers with :func:`model_archive.load_serving_handlers`; champion and challenger can be
loaded side by side in one process.
"""
from __future__ import annotations

import io
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import model_archive, predictions
from .model_archive import ServingHandlers

CSV = "text/csv"
FIX_HINT = "the data must be lines 'label,feature,...' (label 0 or 1, numeric features), without a header"


class ScoringError(ValueError):
    """Rows that cannot be scored; the message names file, line and fix."""


@dataclass(frozen=True)
class ScoredRows:
    y_true: np.ndarray  # int8 labels, in file and line order
    y_score: np.ndarray  # float64 scores from the model, one per row


def list_input_files(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Each path itself, or every regular file below it (sorted, hidden files included), in order given.

    >>> list_input_files("/nonexistent/test.csv")
    Traceback (most recent call last):
    ...
    processing_scripts.scoring.ScoringError: /nonexistent/test.csv does not exist: pass the labelled CSV file or folder to score
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for path in map(Path, paths):
        if not (path.is_file() or path.is_dir()):
            raise ScoringError(f"{path} does not exist: pass the labelled CSV file or folder to score")
        files.extend(predictions.list_prediction_files(path))
    return files


# --- reading: a fast whole-batch parse, and a line-by-line scan that is the authority ---------------


def _is_blank(line: bytes) -> bool:
    return not line.rstrip(b"\r\n")


def _scan(lines: Sequence[bytes], first: int, path: Path, width: int | None) -> tuple[np.ndarray, int]:
    """(labels, width) of a batch, line by line; raises ScoringError at the first bad line.

    ``lines`` are the batch's raw lines (blank ones included), the first being line ``first``.
    """
    labels = []
    for number, raw in enumerate(lines, start=first):
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            continue
        fields = line.split(",")
        if width is None:
            if len(fields) < 2:
                raise ScoringError(
                    f"{path} line {number}: 1 field, expected a label and at least one feature; {FIX_HINT}"
                )
            width = len(fields)
        if len(fields) != width:
            raise ScoringError(
                f"{path} line {number}: {len(fields)} fields, expected {width} (label + {width - 1} features, "
                "as in the first row); every row needs the same columns"
            )
        for column, field in enumerate(fields):
            try:
                if "_" in field:  # float() accepts "1_0"; CSV readers do not
                    raise ValueError(field)
                if field or column == 0:  # an empty feature is a missing value; an empty label is not
                    float(field)
            except ValueError:
                what = "header row" if number == 1 else "non-numeric field"
                detail = line[:60] if number == 1 else field[:60]
                raise ScoringError(f"{path} line {number}: {what} {detail!r}; {FIX_HINT}") from None
        label = float(fields[0])
        if label not in (0.0, 1.0):
            raise ScoringError(f"{path} line {number}: label {fields[0]!r} is not 0 or 1; labels must be binary 0/1")
        labels.append(label)
    return np.array(labels, dtype=np.int8), width


def _fast_arrow(data: bytes, width: int | None) -> tuple[np.ndarray, int] | None:
    """(labels, width) when every row is clean, else None (then :func:`_scan` says what is wrong)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True, block_size=max(len(data) + 1, 1 << 20)),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=True, quote_char=False),
            # Only an empty field is missing: "NA" or "null" must reach the scan, which refuses them.
            convert_options=pacsv.ConvertOptions(null_values=[""], strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    numeric = all(
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t) for t in table.schema.types
    )
    if not numeric or table.num_columns < 2 or (width is not None and table.num_columns != width):
        return None
    label = table.column(0)
    if label.null_count or not (pa.types.is_integer(label.type) or pa.types.is_floating(label.type)):
        return None
    labels = label.to_numpy()
    if not ((labels == 0) | (labels == 1)).all():
        return None
    return labels.astype(np.int8), table.num_columns


def _fast_pandas(data: bytes, width: int | None) -> tuple[np.ndarray, int] | None:
    import csv

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float64, engine="c", skip_blank_lines=True,
                            keep_default_na=False, na_values=[""], quoting=csv.QUOTE_NONE)
    except (ValueError, pd.errors.ParserError):
        return None
    values = frame.to_numpy()
    # pandas pads short rows with NaN: any NaN (an empty field or a short row) is left to the scan.
    if values.shape[1] < 2 or (width is not None and values.shape[1] != width) or np.isnan(values).any():
        return None
    labels = values[:, 0]
    if not ((labels == 0) | (labels == 1)).all():
        return None
    return labels.astype(np.int8), values.shape[1]


def _engine(engine: str) -> str:
    if engine == "auto":
        try:
            import pyarrow.csv  # noqa: F401

            return "pyarrow"
        except ImportError:
            return "pandas"
    if engine not in ("pyarrow", "pandas"):
        raise ValueError(f"engine {engine!r} is not one of 'auto', 'pyarrow', 'pandas'")
    return engine


# --- scoring ------------------------------------------------------------------------------------------


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _invoke(handlers: ServingHandlers, body: bytes, where: str) -> str:
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
    return body.decode("utf-8", errors="replace")


def _parse_scores(response: str, rows: int, where: str, line_numbers) -> np.ndarray:
    """One score per response line; ``line_numbers()`` gives the input line of each row (for errors)."""
    lines = response.splitlines()
    if len(lines) != rows:
        raise ScoringError(
            f"{where}: the model returned {len(lines)} lines for {rows} rows; output_fn must write one score per row"
        )
    if lines and "," in lines[0]:
        raise ScoringError(
            f"{where}: the model returned {lines[0].count(',') + 1} values per row ({lines[0][:60]!r}); "
            "predict_fn must return one score per row, P(class 1)"
        )
    try:
        scores = np.array(lines, dtype=np.float64)
    except ValueError:
        for index, text in enumerate(lines):
            try:
                float(text)
            except ValueError:
                raise ScoringError(
                    f"{where}: the model's score for line {line_numbers()[index]} is {text[:60]!r}, not a number; "
                    "output_fn must write one score per line"
                ) from None
        raise  # unreachable: some line failed to parse above
    bad = ~((scores >= 0) & (scores <= 1))  # NaN fails both comparisons
    if bad.any():
        index = int(np.argmax(bad))
        raise ScoringError(
            f"{where}: the model scored line {line_numbers()[index]} {float(scores[index])!r}, not a probability in "
            "[0, 1]; predict_fn must return P(class 1), e.g. predict_proba(X)[:, 1]"
        )
    return scores


def score_files(
    handlers: ServingHandlers,
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    batch_rows: int = 10000,
    engine: str = "auto",
) -> ScoredRows:
    """Labels and the model's scores for every row of the label-first CSV files under ``paths``.

    ``handlers`` is what :func:`model_archive.load_serving_handlers` returns (``model``, ``input_fn``,
    ``predict_fn``, ``output_fn``). Rows are sent ``batch_rows`` lines at a time. ``engine`` picks the
    fast CSV reader ("auto": pyarrow when importable, else pandas); every engine accepts and refuses
    the same files.

    >>> import types, tempfile
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
    engine = _engine(engine)
    fast = _fast_arrow if engine == "pyarrow" else _fast_pandas
    files = list_input_files(paths)
    width = None
    labels, scores = [], []
    for path in files:
        with open(path, "rb") as handle:
            number = 0  # lines read so far
            while batch := list(itertools.islice(handle, int(batch_rows))):
                first, number = number + 1, number + len(batch)
                lines = [line for line in batch if not _is_blank(line)]
                if not lines:
                    continue
                data = b"".join(lines)
                parsed = fast(data, width)
                batch_labels, width = parsed if parsed is not None else _scan(batch, first, path, width)
                # The features as written: each line without its label field (the label is never sent).
                body = b"".join(line.partition(b",")[2] for line in lines)
                if not body.endswith(b"\n"):
                    body += b"\n"
                where = f"{path} lines {first}-{number}"

                def line_numbers(batch=batch, first=first) -> list[int]:
                    return [n for n, line in enumerate(batch, start=first) if not _is_blank(line)]

                scores.append(_parse_scores(_invoke(handlers, body, where), len(lines), where, line_numbers))
                labels.append(batch_labels)
    if not labels:
        shown = ", ".join(map(str, files)) if files else "the given paths"
        raise ScoringError(f"no rows to score in {shown}: the data set is empty; check the data URL")
    return ScoredRows(
        y_true=labels[0] if len(labels) == 1 else np.concatenate(labels),
        y_score=scores[0] if len(scores) == 1 else np.concatenate(scores),
    )

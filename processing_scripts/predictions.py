"""Read Batch Transform output (lines ``label,score``, no header) fast, or fail on the exact line.

The fast path parses whole files with pyarrow (or pandas in chunks when pyarrow is missing). Any
problem sends the file through a precise line-by-line scan whose one-line error names file and line.
"""
from __future__ import annotations

import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIX_HINT = "the transform output must be lines 'label,score' (see the pipeline's output_filter)"


class PredictionsError(ValueError):
    """Unreadable predictions; the message names file, line and fix."""


@dataclass(frozen=True)
class Predictions:
    y_true: np.ndarray  # int8 labels
    y_score: np.ndarray  # float64 scores
    files: tuple[str, ...]
    sha256: str  # over the files' bytes, in the order read


def list_prediction_files(path: str | Path) -> list[Path]:
    """``path`` itself, or every regular file below it (sorted, hidden files included)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    raise PredictionsError(f"{path} does not exist: pass the transform output file or folder")


def _first_problem(path: Path, data: bytes) -> str:
    """The first bad line of a file, described in one line (scans only as far as needed)."""
    for number, raw in enumerate(data.decode("utf-8", errors="replace").split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 2:
            return f"{path} line {number}: expected 2 fields (label,score), found {len(fields)}; {FIX_HINT}"
        try:
            label, score = float(fields[0]), float(fields[1])
        except ValueError:
            what = "header row" if number == 1 else "non-numeric field"
            return f"{path} line {number}: {what} {line[:60]!r}; {FIX_HINT}, without a header"
        if label not in (0.0, 1.0):
            return f"{path} line {number}: label {fields[0]!r} is not 0 or 1; labels must be binary 0/1"
        if not math.isfinite(score):
            return f"{path} line {number}: score {fields[1]!r} is not a finite number; fix the model's output"
        if not 0.0 <= score <= 1.0:
            return f"{path} line {number}: score {fields[1]!r} is outside [0, 1]; the model must output probabilities"
    return ""


def _parse_fast(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Two float64 columns, or None when the fast parser refuses the bytes."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        return _parse_pandas(data)
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=["label", "score"], block_size=64 << 20),
            parse_options=pacsv.ParseOptions(ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={"label": pa.float64(), "score": pa.float64()}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    if table.num_rows == 0:
        return np.empty(0), np.empty(0)
    if table.column("label").null_count or table.column("score").null_count:
        return None
    return (
        table.column("label").to_numpy(zero_copy_only=False),
        table.column("score").to_numpy(zero_copy_only=False),
    )


def _parse_pandas(data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, names=["label", "score"], dtype=np.float64,
                            engine="c", skip_blank_lines=True, on_bad_lines="error")
    except (ValueError, pd.errors.ParserError):
        return None
    if frame.isna().any().any():
        return None
    return frame["label"].to_numpy(), frame["score"].to_numpy()


def _valid(labels: np.ndarray, scores: np.ndarray) -> bool:
    return bool(
        ((labels == 0) | (labels == 1)).all() and np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()
    )


def read_predictions(path: str | Path) -> Predictions:
    """Every file under ``path`` concatenated; raises PredictionsError with the first bad line."""
    files = list_prediction_files(path)
    labels, scores = [], []
    digest = hashlib.sha256()
    with ThreadPoolExecutor(max_workers=1) as hasher:
        for file in files:
            data = file.read_bytes()
            hashed = hasher.submit(digest.update, data)  # hashing releases the GIL: overlap it with parsing
            parsed = _parse_fast(data) if data.strip() else (np.empty(0), np.empty(0))
            if parsed is None or not _valid(*parsed):
                hashed.result()
                problem = _first_problem(file, data)
                raise PredictionsError(problem or f"{file}: unreadable predictions; {FIX_HINT}")
            labels.append(parsed[0])
            scores.append(parsed[1])
            hashed.result()
    y = np.concatenate(labels) if labels else np.empty(0)
    if len(y) == 0:
        raise PredictionsError(
            f"no predictions in {path}: the transform wrote nothing; check that TestDataUrl holds test rows"
        )
    return Predictions(
        y_true=y.astype(np.int8),
        y_score=np.concatenate(scores),
        files=tuple(os.fspath(f) for f in files),
        sha256=digest.hexdigest(),
    )


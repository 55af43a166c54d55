"""Read Batch Transform output (lines ``label,score``, no header) fast, or fail on the exact line.

The rules are :mod:`labelled`'s (quotes, blanks, whitespace, line endings; two fields, label 0/1,
score in [0, 1]). Files are parsed block by block by :func:`fast_csv.labels_and_scores` (pyarrow, or
pandas when pyarrow is missing); a block it cannot vouch for sends the file through the line scan
(:func:`labelled.check_scored_file`), whose one-line error names file and line.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import fast_csv, labelled
from .labelled import SCORED_FIX as FIX_HINT
from .labelled import files_sha256

__all__ = ["BLOCK_BYTES", "FIX_HINT", "Predictions", "PredictionsError", "files_sha256", "list_prediction_files",
           "read_predictions"]

BLOCK_BYTES = 64 << 20


class PredictionsError(labelled.DataError):
    """Unreadable predictions; the message names file, line and fix."""


@dataclass(frozen=True)
class Predictions:
    y_true: np.ndarray  # int8 labels
    y_score: np.ndarray  # float64 scores
    files: tuple[str, ...]
    sha256: str  # over the files' bytes, in the order read


def list_prediction_files(path: str | Path) -> list[Path]:
    """``path`` itself, or every file below it (:func:`labelled.list_files`: sorted, hidden files included)."""
    try:
        return labelled.list_files(path, missing="pass the transform output file or folder")
    except labelled.DataError as error:
        raise PredictionsError(str(error)) from None


def _read_file(file: Path, engine: str, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    labelled.check_text(file, name)
    labels, scores = [], []
    for block in labelled.iter_blocks(file, BLOCK_BYTES):
        parsed = fast_csv.labels_and_scores(block, engine)
        if parsed is None:
            labelled.check_scored_file(file, name)  # raises at the first bad line
            raise PredictionsError(f"{name}: unreadable predictions; {FIX_HINT}")  # the scan found none
        labels.append(parsed[0])
        scores.append(parsed[1])
    return labels, scores


def read_predictions(path: str | Path, *, engine: str = "auto", shown: Callable[[Path], str] = str) -> Predictions:
    """Every file under ``path`` concatenated; raises PredictionsError with the first bad line.

    ``shown`` names a file in messages (a container passes :func:`text_files.relative_names`).

    Files are parsed block by block (memory stays near the size of the arrays themselves) while
    another thread computes the input's SHA-256 (hashing releases the GIL).
    """
    engine = fast_csv.engine(engine)
    files = list_prediction_files(path)
    labels, scores = [], []
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(files_sha256, files)
        for file in files:
            try:
                file_labels, file_scores = _read_file(file, engine, shown(file))
            except PredictionsError:
                raise
            except labelled.DataError as error:
                raise PredictionsError(str(error)) from None
            labels += file_labels
            scores += file_scores
        sha256 = digest.result()
    if not labels:
        raise PredictionsError(
            f"no predictions in {path}: the transform wrote nothing; check that TestDataUrl holds test rows"
        )
    y_true = labels[0] if len(labels) == 1 else np.concatenate(labels)
    del labels
    y_score = scores[0] if len(scores) == 1 else np.concatenate(scores)
    return Predictions(y_true=y_true, y_score=y_score, files=tuple(os.fspath(f) for f in files), sha256=sha256)

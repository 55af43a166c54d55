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
from typing import Iterator

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


def _first_problem(path: Path) -> str:
    """The first bad line of a file, described in one line (streams, and stops at the first problem)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line:  # as the fast readers: only truly empty lines are skipped
                continue
            fields = line.split(",")
            if len(fields) != 2:
                return f"{path} line {number}: expected 2 fields (label,score), found {len(fields)}; {FIX_HINT}"
            try:
                if "_" in line:  # float() accepts "1_0"; CSV readers do not
                    raise ValueError(line)
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


class _Unreadable(Exception):
    """The fast reader refused a block; the precise scan explains why."""


BLOCK_BYTES = 64 << 20


def _line_blocks(path: Path) -> Iterator[memoryview]:
    """The file as blocks of whole lines, read into one reused buffer of BLOCK_BYTES (each block is
    only valid until the next is requested). A line longer than the buffer grows it."""
    buffer = bytearray(BLOCK_BYTES)
    filled = 0  # bytes of an unfinished last line carried over from the previous block
    with open(path, "rb", buffering=0) as handle:
        while True:
            view = memoryview(buffer)
            end = filled
            while end < len(buffer):
                got = handle.readinto(view[end:])
                if not got:
                    break
                end += got
            if end < len(buffer):  # end of file: the rest is the last line
                if end:
                    yield view[:end]
                return
            cut = buffer.rfind(b"\n", 0, end) + 1
            if cut == 0:  # no line ends in the buffer: a bigger one (the old may still be exported)
                bigger = bytearray(2 * len(buffer))
                bigger[:end] = view[:end]
                buffer, filled = bigger, end
                continue
            yield view[:cut]
            view[: end - cut] = view[cut:end]
            filled = end - cut


def _blocks_arrow(path: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    # Whole-block reads parse on every core (pyarrow's streaming reader uses one), and memory stays
    # bounded by the block size at any file size.
    import pyarrow as pa
    import pyarrow.csv as pacsv

    read_options = pacsv.ReadOptions(column_names=["label", "score"], block_size=max(BLOCK_BYTES // 4, 1 << 20))
    parse_options = pacsv.ParseOptions(ignore_empty_lines=True)
    convert_options = pacsv.ConvertOptions(
        column_types={"label": pa.float64(), "score": pa.float64()}, strings_can_be_null=False
    )
    try:
        for block in _line_blocks(path):
            table = pacsv.read_csv(pa.BufferReader(pa.py_buffer(block)), read_options=read_options,
                                   parse_options=parse_options, convert_options=convert_options)
            labels, scores = table.column(0), table.column(1)
            if labels.null_count or scores.null_count:
                raise _Unreadable
            yield labels.to_numpy(), scores.to_numpy()
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        raise _Unreadable from None


def _blocks_pandas(path: Path) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    import pandas as pd

    try:
        chunks = pd.read_csv(path, header=None, names=["label", "score"], dtype=np.float64, engine="c",
                             skip_blank_lines=True, on_bad_lines="error", chunksize=4_000_000)
        for frame in chunks:
            if frame.isna().any().any():
                raise _Unreadable
            yield frame["label"].to_numpy(), frame["score"].to_numpy()
    except (ValueError, pd.errors.ParserError):
        raise _Unreadable from None


def _blocks(path: Path, *, engine: str = "auto") -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(labels, scores) blocks of one file; pyarrow when importable, chunked pandas otherwise."""
    if engine == "auto":
        try:
            import pyarrow.csv  # noqa: F401

            engine = "pyarrow"
        except ImportError:
            engine = "pandas"
    return _blocks_arrow(path) if engine == "pyarrow" else _blocks_pandas(path)


def _valid(labels: np.ndarray, scores: np.ndarray) -> bool:
    return bool(
        ((labels == 0) | (labels == 1)).all() and np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()
    )


def files_sha256(files: list[Path]) -> str:
    """SHA-256 over the files' bytes, in the order given (the input checksum evaluation.json records)."""
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as handle:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _is_blank(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return not head.strip() and path.stat().st_size <= 4096


def read_predictions(path: str | Path, *, engine: str = "auto") -> Predictions:
    """Every file under ``path`` concatenated; raises PredictionsError with the first bad line.

    Files are parsed block by block (memory stays near the size of the arrays themselves) while
    another thread computes the input's SHA-256 (hashing releases the GIL).
    """
    files = list_prediction_files(path)
    labels, scores = [], []
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(files_sha256, files)
        for file in files:
            if _is_blank(file):
                continue
            try:
                for block_labels, block_scores in _blocks(file, engine=engine):
                    if not _valid(block_labels, block_scores):
                        raise _Unreadable
                    labels.append(block_labels.astype(np.int8))
                    scores.append(block_scores)
            except _Unreadable:
                raise PredictionsError(_first_problem(file) or f"{file}: unreadable predictions; {FIX_HINT}") from None
        sha256 = digest.result()
    if not labels:
        raise PredictionsError(
            f"no predictions in {path}: the transform wrote nothing; check that TestDataUrl holds test rows"
        )
    y_true = labels[0] if len(labels) == 1 else np.concatenate(labels)
    del labels
    y_score = scores[0] if len(scores) == 1 else np.concatenate(scores)
    return Predictions(y_true=y_true, y_score=y_score, files=tuple(os.fspath(f) for f in files), sha256=sha256)

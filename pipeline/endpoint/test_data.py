"""The labelled test set the endpoint is evaluated on, and the scores it answers with.

Label-first CSV rows without a header, as the pipeline's Batch Transform reads them; a response is one
score per line (``text/csv``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.endpoint.errors import UsageError


@dataclass(frozen=True)
class TestData:
    labels: np.ndarray  # int8, one per row
    rows: list[bytes]  # each row's feature text (after the label), without the line ending
    n_features: int
    files: tuple[str, ...]  # as shown to people (s3:// URIs for downloaded objects)
    sha256: str  # over the files' bytes, in the order read

    __test__ = False  # not a pytest test class


def list_test_files(path: Path) -> list[Path]:
    """``path`` itself, or every regular file below it, in path order (as the transform reads a prefix)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    raise UsageError(f"--test-data {path} does not exist: pass a CSV file, a folder or an s3:// URI")


def _is_number(field: str) -> bool:
    if "_" in field:  # float() accepts "1_0"; CSV readers do not
        return False
    try:
        float(field)
    except ValueError:
        return False
    return True


def _first_problem(name: str, lines: list[tuple[int, bytes]], width: int | None) -> tuple[str, list[int]]:
    """Check rows one by one: (one-line problem or "", their labels). ``width``: columns every row must have.

    >>> _first_problem("t.csv", [(1, b"label,x"), (2, b"1,2")], None)[0]
    "t.csv line 1: header row 'label,x'; the test data has no header"
    >>> _first_problem("t.csv", [(1, b"1,2"), (3, b"0,,4")], None)[0]
    't.csv line 3: 3 fields, the rows above have 2; every row needs the label and the same features'
    """
    labels = []
    for index, (number, raw) in enumerate(lines):
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        fields = line.split(",")
        if index == 0 and not all(_is_number(f) or not f.strip() for f in fields):
            return f"{name} line {number}: header row {line[:60]!r}; the test data has no header", labels
        if len(fields) < 2:
            return f"{name} line {number}: one field {line[:60]!r}; rows are label,feature1,feature2,...", labels
        if width is not None and len(fields) != width:
            return (f"{name} line {number}: {len(fields)} fields, the rows above have {width}; "
                    "every row needs the label and the same features"), labels
        width = len(fields)
        if not _is_number(fields[0]) or float(fields[0]) not in (0.0, 1.0):
            return f"{name} line {number}: label {fields[0][:30]!r} is not 0 or 1; labels must be binary 0/1", labels
        for column, field in enumerate(fields[1:], start=2):
            # An empty field is a missing value: the model decides whether it accepts NaN (as input_fn does).
            if field.strip() and not _is_number(field):
                return (f"{name} line {number}: column {column} is {field[:30]!r}, not a number; "
                        "features must be numbers (empty for missing)"), labels
        labels.append(int(float(fields[0])))
    return "", labels


def _fast_labels(data: bytes, n_lines: int) -> tuple[np.ndarray, int] | None:
    """Labels and width when pandas parses the file cleanly (no NaN, labels 0/1); None: look closer."""
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float64, engine="c", skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    values = frame.to_numpy()
    if values.shape[0] != n_lines or values.shape[1] < 2 or np.isnan(values).any():
        return None
    labels = values[:, 0]
    if ((labels != 0.0) & (labels != 1.0)).any():
        return None
    return labels.astype(np.int8), values.shape[1]


def read_test_data(path: str | Path, *, shown: Callable[[Path], str] = str) -> TestData:
    """Read label-first CSV rows (no header); a one-line :class:`UsageError` names file and line.

    Blank lines are not rows; ``\\r\\n`` line endings are accepted; empty feature fields are missing
    values (sent as they are). Refused: a header row, non-numeric fields, labels other than 0/1 (``1.0``
    is 1), rows of different widths (within and across files), a row without features, no rows at all.
    """
    files = list_test_files(Path(path))
    digest = hashlib.sha256()
    labels: list[np.ndarray] = []
    rows: list[bytes] = []
    width: int | None = None
    for file in files:
        name = shown(file)
        data = file.read_bytes()
        digest.update(data)
        numbered = [(i, line) for i, line in enumerate(data.splitlines(), start=1) if line.strip()]
        fast = _fast_labels(data, len(numbered)) if numbered else None
        if fast is not None and (width is None or fast[1] == width):
            file_labels, file_width = fast
        else:
            problem, slow = _first_problem(name, numbered, width)
            if problem:
                raise UsageError(problem)
            if not numbered:
                continue
            file_labels, file_width = np.asarray(slow, dtype=np.int8), len(numbered[0][1].split(b","))
        width = file_width  # the slow scan has refused any other width
        labels.append(file_labels)
        rows.extend(line.partition(b",")[2].rstrip(b"\r") for _, line in numbered)
    shown_files = tuple(shown(f) for f in files)
    if not rows:
        where = shown_files[0] if len(shown_files) == 1 else f"{shown(Path(path))} ({len(files)} files)"
        raise UsageError(f"{where}: no rows; the test data must be label-first CSV rows (label,feature1,...)")
    all_labels = np.concatenate(labels)
    positives = int(np.count_nonzero(all_labels))
    if positives in (0, len(all_labels)):
        raise UsageError(
            f"{', '.join(shown_files)[:200]}: every one of the {len(all_labels)} labels is {int(all_labels[0])}; "
            "AUC and recall are undefined: evaluate on a test set with both classes"
        )
    return TestData(labels=all_labels, rows=rows, n_features=width - 1, files=shown_files, sha256=digest.hexdigest())


def parse_scores(body: bytes, n_rows: int) -> np.ndarray:
    """The scores of a ``text/csv`` response: one number in [0, 1] per line, exactly ``n_rows`` lines.

    >>> parse_scores(b"0.25\\n1.0\\n", 2)
    array([0.25, 1.  ])
    >>> parse_scores(b"0.25\\n", 2)
    Traceback (most recent call last):
    ...
    ValueError: 1 scores for 2 rows; the model must return one score per row
    >>> parse_scores(b"0.5\\nyes\\n", 2)
    Traceback (most recent call last):
    ...
    ValueError: line 2 of the response is 'yes', not a number; the model must return P(class 1), one per line
    """
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()  # the final newline
    if len(lines) != n_rows:
        raise ValueError(f"{len(lines)} scores for {n_rows} rows; the model must return one score per row")
    scores = np.empty(n_rows, dtype=np.float64)
    for i, line in enumerate(lines):
        try:
            if b"_" in line:  # float() accepts "1_0"; no CSV writer produces it
                raise ValueError
            scores[i] = float(line)
        except ValueError:
            shown = line.decode("utf-8", errors="replace")[:40]
            raise ValueError(
                f"line {i + 1} of the response is {shown!r}, not a number; "
                "the model must return P(class 1), one per line"
            ) from None
    bad = ~np.isfinite(scores) | (scores < 0.0) | (scores > 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"line {i + 1} of the response is {lines[i].decode('utf-8', errors='replace')[:40]!r}, "
            "not a probability in [0, 1]; the model must return P(class 1)"
        )
    return scores

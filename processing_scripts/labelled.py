"""Label-first CSV rows and ``label,score`` lines: the one set of rules every reader here follows.

The champion/challenger scorer (``scoring``), the transform-output reader (``predictions``), the
data-quality reader of label-first data (``csv_dataset``) and the endpoint evaluator read through
this module, so a row is accepted or refused, with the same one-line message, by all of them.

* **Files**: a file, or every regular file below a folder, recursively, sorted by path; hidden files
  and any name (``.out``, ``.csv``, none) included, as a Processing input or a transform reads a prefix
  (:func:`list_files`).
* **Lines** end in ``\\n``, ``\\r\\n`` or ``\\r`` (as Model Monitor's CSV reader ends them; Batch
  Transform splits at ``\\n`` only, so the local transform refuses a lone ``\\r``: ``pipeline/local/records.py``);
  the last may lack one. Empty lines are skipped; any other line is a row (a line of spaces is a row
  with one blank field).
* **Fields** are separated by commas; a field may be quoted as RFC 4180 says (``"1"``; ``""`` for a
  quote inside), as SageMaker's CSV splitting does. A quoted field cannot span lines (Batch Transform
  splits records at line ends).
* **Values**: spaces and tabs around a value are ignored. An empty feature (``1,,4``) is a missing
  value (NaN to the model); a field of only spaces (``1, ,4``) is refused (:data:`BLANK_FIX`).
  Numbers are what :func:`number` reads: Python's ``float`` syntax in ASCII without ``_``
  (``1``, ``-2.5e3``, ``.5``, ``nan``, ``inf``).
* **Label-first rows**: the label, then at least one feature; the label is a number equal to 0 or 1
  (``1``, ``1.0``, ``"1"``, ``1e0``); every row of every file has as many fields as the very first row;
  features are numbers or empty (``numeric=False``: any text, for readers that type columns
  themselves, as the data-quality baseline does). A first row with no number in it is a header; a
  label ``True``/``yes`` is named as a label to write as 1/0.
* **label,score lines** (the transform's output): two fields, a label as above and a finite score in
  [0, 1], neither empty.
* **Text**: a file must be UTF-8 text; a compressed or binary file (gzip, zip, a ``.DS_Store``: any NUL
  or control byte) is refused by name (:func:`text_files.check_text`), as is a file of only whitespace. A UTF-8
  byte-order mark at the start of a file is ignored (pyarrow and pandas skip it too).
* **Errors** are one line: ``<the file as the caller shows it> line <n>: <problem>; <fix>``; a value
  quoted in a message is cut to 60 characters (:func:`shown_value`).

The scans here (:func:`scan_labelled`, :func:`scan_scored`) are the authority: the fast readers
(``fast_csv``) only take a shortcut on data the scans would accept, and fall back to them otherwise.
"""
from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from . import fast_csv
# The files layer, re-exported: the readers here and their callers name one module.
from .text_files import (DataError, check_text, files_sha256, iter_blocks, iter_line_batches,  # noqa: F401
                         list_files, shown_value, whole_lines)

LABEL_FIRST_FIX = "label-first data is lines 'label,feature,...' (label 0 or 1), without a header"
SCORED_FIX = "the transform output must be lines 'label,score' (see the pipeline's output_filter)"
BLANK_FIX = "write the value, or leave the field empty (',,') if it is missing"
QUOTE_FIX = "quote a whole field as \"...\", doubling any quote inside it, on one line"
LABEL_FIX = "labels must be binary 0/1"
BOOLEAN_FIX = "labels must be binary 0/1: write true/false as 1/0"
SCORE_FIX = "the model must output probabilities"

_BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "t", "f", "y", "n"})
# Python's float() syntax (ASCII, no "_"); pyarrow's float64 conversion reads exactly these.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE | re.ASCII)
_BLANK_FIELD = re.compile(rb"(?<![^,\r\n])[ \t]+(?![^,\r\n])")
# The first field of every line that has a second one.
_FIRST_FIELD = re.compile(rb"(?:^|(?<=\n)|(?<=\r)(?!\n))([^,\r\n]*),")


# --- fields and values --------------------------------------------------------------------------------


def number(text: str | bytes) -> float | None:
    """The value of a numeric field (spaces and tabs around it ignored), or None when it is not one.

    >>> [number(t) for t in (" 1 ", "-2.5e3", ".5", "1_0", "0x10", "", " ")]
    [1.0, -2500.0, 0.5, None, None, None, None]
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.strip(" \t")
    return float(text) if _NUMBER.fullmatch(text) else None


def is_blank(field: str) -> bool:
    """A field of only spaces and tabs: neither a value nor a missing one (an empty field)."""
    return bool(field) and not field.strip(" \t")


def split_fields(line: str) -> list[str] | str:
    """The fields of one line, RFC 4180 quotes removed; a one-line description when the quoting is broken.

    >>> split_fields('"1",2.5,"a""b"')
    ['1', '2.5', 'a"b']
    >>> print(split_fields('"1"2,3'))
    broken quoting (',' expected after '"')
    """
    if '"' not in line:
        return line.split(",")
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error as error:
        return f"broken quoting ({error})"


def screen(data: bytes) -> bool:
    """True when whole lines of label-first data surely pass the rules, widths aside (C-speed checks:
    quoting, blank fields, every label); False means: let :func:`scan_labelled` look closer."""
    plain = fast_csv.unquote(data)
    if plain is None or ((b" " in plain or b"\t" in plain) and _BLANK_FIELD.search(plain)):
        return False
    return all(number(label) in (0.0, 1.0) for label in set(_FIRST_FIELD.findall(plain)))


# --- the scans: the rules, line by line ----------------------------------------------------------------


def _rows(lines: Sequence[bytes], first: int, name: str) -> Iterator[tuple[str, str, list[str]]]:
    """(where, text, fields) of every non-empty line; :class:`DataError` at broken quoting."""
    for number_, raw in enumerate(lines, start=first):
        if not raw:
            continue
        where = f"{name} line {number_}"
        line = raw.decode("utf-8", errors="replace")
        fields = split_fields(line)
        if isinstance(fields, str):
            raise DataError(f"{where}: {fields} in {shown_value(line)}; {QUOTE_FIX}")
        yield where, line, fields


def looks_like_header(fields: Sequence[str]) -> bool:
    """A first row of names: no field is a number (``label,f1,f2``); a row with a bad label but
    numeric features (``True,0.5,2``) is data with a bad label, not a header.

    >>> looks_like_header(["label", "age", ""]), looks_like_header(["True", "0.5"]), looks_like_header(["yes", "a"])
    (True, False, False)
    """
    if fields and fields[0].strip(" \t").lower() in _BOOLEAN_WORDS:
        return False
    return not any(number(field) is not None for field in fields)


def _label_problem(field: str) -> str:
    """Why a label field is not a label, with the fix."""
    if field.strip(" \t").lower() in _BOOLEAN_WORDS:
        return f"label {shown_value(field)} is not 0 or 1; {BOOLEAN_FIX}"
    if number(field) is None and not field.strip(" \t"):
        return f"the label is empty; {LABEL_FIX}"
    return f"label {shown_value(field)} is not 0 or 1; {LABEL_FIX}"


def scan_labelled(lines: Sequence[bytes], first: int, name: str, width: int | None, *,
                  file_start: bool = True, numeric: bool = True) -> tuple[np.ndarray, int | None]:
    """(labels, width) of label-first lines, or :class:`DataError` at the first line that breaks a rule.

    ``lines`` are without their endings, empty ones included, the first being line ``first`` of the
    file shown as ``name``; ``width`` is the fields every row must have (None: as the first row);
    ``file_start``: these lines begin the file (its first row may be a header).

    >>> scan_labelled([b'"1",0.5,2', b"", b"0,,7"], 1, "t.csv", None)
    (array([1, 0], dtype=int8), 3)
    >>> scan_labelled([b"1,2,3", b"1, ,4"], 1, "t.csv", None)
    Traceback (most recent call last):
    ...
    processing_scripts.text_files.DataError: t.csv line 2: field 2 is blank (' '); write the value, or leave the field empty (',,') if it is missing
    """
    labels = []
    for where, line, fields in _rows(lines, first, name):
        if width is None:
            if len(fields) < 2:
                raise DataError(f"{where}: 1 field, expected a label and at least one feature; {LABEL_FIRST_FIX}")
            width = len(fields)
        if len(fields) != width:
            raise DataError(f"{where}: {len(fields)} fields, expected {width} (label + {width - 1} features, "
                            "as in the first row); every row needs the same columns")
        label, bad = number(fields[0]), None
        for column, field in enumerate(fields[1:], start=2):
            if is_blank(field):
                raise DataError(f"{where}: field {column} is blank ({shown_value(field)}); {BLANK_FIX}")
            if numeric and field and bad is None and number(field) is None:
                bad = field
        if label is None and file_start and not labels and looks_like_header(fields):
            raise DataError(f"{where}: header row {shown_value(line)} (the first line looks like a header); "
                            f"remove it: {LABEL_FIRST_FIX}")
        if label is None or label not in (0.0, 1.0):
            raise DataError(f"{where}: {_label_problem(fields[0])}")
        if bad is not None:
            raise DataError(f"{where}: non-numeric field {shown_value(bad)}; {LABEL_FIRST_FIX}")
        labels.append(label)
    return np.array(labels, dtype=np.int8), width


def check_file(path: Path, name: str, *, width: int | None = None, numeric: bool = True) -> int | None:
    """Scan a whole label-first file; its width (None: no rows), or :class:`DataError` at the first bad line."""
    file_start = True
    for first, lines in iter_line_batches(path, 100_000):
        labels, width = scan_labelled(lines, first, name, width, file_start=file_start, numeric=numeric)
        file_start = file_start and not len(labels)
    return width


def check_widths(path: Path, name: str) -> None:
    """:class:`DataError` at the first line of a CSV file (any values) whose field count differs from the
    first row's, or whose quoting is broken; nothing when every row has the same width.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = Path(folder, "d.csv").write_bytes(b"a,1\\n\\nb,2,3\\n")
    ...     check_widths(Path(folder, "d.csv"), "d.csv")
    Traceback (most recent call last):
    ...
    processing_scripts.text_files.DataError: d.csv line 3: 3 fields, expected 2 as in the first row; every row needs the same columns
    """
    width = None
    for first, lines in iter_line_batches(path, 100_000):
        for where, _, fields in _rows(lines, first, name):
            width = len(fields) if width is None else width
            if len(fields) != width:
                raise DataError(f"{where}: {len(fields)} field{'s' * (len(fields) != 1)}, expected {width} as in the first row; "
                                "every row needs the same columns")


def check_label_first(path: Path, name: str, *, block_bytes: int = 16 << 20) -> None:
    """:class:`DataError` when a label-first file with any kind of features breaks a rule; fast
    (:func:`screen`) on data that passes, the line scan on any suspicion. Rows' widths are left to
    the caller's parser (:func:`check_file` names the line when it refuses them)."""
    if not all(screen(bytes(block)) for block in iter_blocks(path, block_bytes)):
        check_file(path, name, numeric=False)


def scan_scored(lines: Sequence[bytes], first: int, name: str, *, file_start: bool = True) -> None:
    """:class:`DataError` at the first ``label,score`` line that breaks a rule (arguments as
    :func:`scan_labelled`'s); nothing when every line passes.

    >>> scan_scored([b"1,0.5", b"0,1.5"], 1, "p.out")
    Traceback (most recent call last):
    ...
    processing_scripts.text_files.DataError: p.out line 2: score '1.5' is outside [0, 1]; the model must output probabilities
    """
    for where, line, fields in _rows(lines, first, name):
        if len(fields) != 2:
            raise DataError(f"{where}: expected 2 fields (label,score), found {len(fields)}; {SCORED_FIX}")
        label, score = number(fields[0]), number(fields[1])
        if label is None and score is None and file_start and looks_like_header(fields):
            raise DataError(f"{where}: header row {shown_value(line)}; {SCORED_FIX}, without a header")
        file_start = False
        if label is None or label not in (0.0, 1.0):
            raise DataError(f"{where}: {_label_problem(fields[0])}")
        if score is None:
            what = "the score is empty" if not fields[1].strip(" \t") else f"non-numeric field {shown_value(fields[1])}"
            raise DataError(f"{where}: {what}: the score must be a probability in [0, 1]; check the model's output_fn")
        if not math.isfinite(score):
            raise DataError(f"{where}: score {shown_value(fields[1])} is not a finite number; fix the model's output")
        if not 0.0 <= score <= 1.0:
            raise DataError(f"{where}: score {shown_value(fields[1])} is outside [0, 1]; {SCORE_FIX}")


def check_scored_file(path: Path, name: str) -> None:
    """Scan a whole ``label,score`` file; :class:`DataError` at its first bad line."""
    file_start = True
    for first, lines in iter_line_batches(path, 100_000):
        scan_scored(lines, first, name, file_start=file_start)
        file_start = file_start and not any(lines)


# --- label-first rows, for scoring -------------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """Label-first rows of one file: all of it, or one batch of its lines."""

    labels: np.ndarray  # int8, one per row
    features: list[bytes]  # each row's text after its label field, as written, without the line end
    line_numbers: Sequence[int]  # each row's line in its file
    width: int  # fields per row, the label's included
    where: str  # "<file> lines <first>-<last>", for messages

    def body(self) -> bytes:
        """The rows' features as one ``text/csv`` payload, as Batch Transform's ``input_filter="$[1:]"``
        sends them."""
        return b"\n".join(self.features) + b"\n"


def iter_rows(files: Iterable[Path], *, batch_lines: int | None = 10000, shown: Callable[[Path], str] = str,
              engine: str = "auto") -> Iterator[Rows]:
    """The label-first rows of ``files`` in order, ``batch_lines`` lines at a time (None: a file at a time).

    Every row of every file must have the width of the very first; ``shown`` names a file in
    messages; ``engine`` picks the fast parser (:func:`fast_csv.engine`), every engine giving the
    same rows and errors.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = Path(folder, "t.csv").write_bytes(b'"1",0.5,2\\r\\n\\r\\n0,,7')
    ...     [rows] = iter_rows(list_files(folder, missing="-"), shown=lambda path: path.name)
    >>> rows.labels.tolist(), rows.features, list(rows.line_numbers), rows.where
    ([1, 0], [b'0.5,2', b',7'], [1, 3], 't.csv lines 1-3')
    """
    engine, width = fast_csv.engine(engine), None
    for file in files:
        name, file_start = shown(file), True
        check_text(file, name)
        for first, lines in iter_line_batches(file, batch_lines):
            rows = [line for line in lines if line] if b"" in lines else lines
            if not rows:
                continue
            parsed = fast_csv.labels_and_width(b"\n".join(rows), width, engine)
            labels, width = parsed or scan_labelled(lines, first, name, width, file_start=file_start)
            numbers = (range(first, first + len(lines)) if rows is lines
                       else [n for n, line in enumerate(lines, start=first) if line])
            yield Rows(labels, [row.partition(b",")[2] for row in rows], numbers, width,
                       f"{name} lines {first}-{first + len(lines) - 1}")
            file_start = False


@dataclass(frozen=True)
class LabelledData:
    """Every row of a label-first data set, for sending row by row (the endpoint evaluator)."""

    labels: np.ndarray  # int8, one per row
    features: list[bytes]  # as in Rows
    width: int
    files: tuple[str, ...]  # as shown to people
    sha256: str  # over the files' bytes, in the order read


def read_labelled(path: str | os.PathLike, *, missing: str, shown: Callable[[Path], str] = str,
                  engine: str = "auto") -> LabelledData:
    """Every row below ``path`` (:func:`list_files`, :func:`iter_rows`); :class:`DataError` when there are none."""
    files = list_files(path, missing=missing, shown=shown)
    parts = list(iter_rows(files, batch_lines=None, shown=shown, engine=engine))
    names = tuple(shown(file) for file in files)
    if not parts:
        where = names[0] if len(names) == 1 else f"{shown(Path(path))} ({len(names)} files)"
        raise DataError(f"{where}: no rows; {LABEL_FIRST_FIX}")
    return LabelledData(labels=np.concatenate([part.labels for part in parts]),
                        features=[row for part in parts for row in part.features], width=parts[-1].width,
                        files=names, sha256=files_sha256(files))

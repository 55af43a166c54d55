"""Data-quality baselines and drift checks in SageMaker Model Monitor's file layout.

Works without the Model Monitor service: :func:`build_statistics` and :func:`suggest_constraints` write
``statistics.json`` / ``constraints.json`` as Model Monitor's baselining job does, and :func:`check_drift`
compares new data with them, giving ``constraint_violations.json`` entries and a drift summary.

Input rules
-----------
* CSV without a header, one feature per column in model order (an optional leading label column is
  dropped); columns are named ``_c0``, ``_c1``, ... as Model Monitor names headerless CSV columns.
  An empty field is a missing value. Data Capture JSONL (``text/csv`` requests, ``CSV`` or ``BASE64``
  encoding, several rows per request allowed) is read by :func:`read_capture`.
* Type inference follows Model Monitor (Deequ): a column is numeric when every present value is a
  number (optional sign, digits, optional fraction and exponent, surrounding spaces ignored; ``nan``
  and ``inf`` are not numbers), ``Integral`` when every one is written as an integer, else
  ``Fractional``; anything else is ``String``; a column with no present value is ``Unknown``.

Statistics
----------
``std_dev`` is the population standard deviation (``ddof=0``, as Deequ computes it). The ten
``kll.buckets`` are ``np.histogram(values, bins=10)``'s: equal width between min and max, the last one
closed (a constant column gets ``min - 0.5 .. max + 0.5``, as numpy does). ``kll.sketch`` keeps the
parameters Model Monitor writes (``c=0.64, k=2048``) and one level of equal-weight items in
``data[0]``: every present value, sorted, when there are at most ``k``; otherwise the ``k`` values at
ranks ``floor((i + 0.5) * n / k)`` of the sorted column (a quantile summary whose CDF is within
``1/k`` of the data's). Categorical buckets hold every distinct value (at most
:data:`MAX_CATEGORIES`, most frequent first; the rest is counted as "other" in the drift check).

Drift statistics (``baseline_drift_check``)
-------------------------------------------
* PSI, population stability index ``sum((q - p) * ln(q / p))`` over the baseline's ten numeric
  buckets (the outer ones open-ended, so values outside the baseline range land in the end buckets)
  or over category shares; a share below ``psi_epsilon`` (1e-4) is raised to it so that an empty
  bin gives a finite, large term. Threshold ``psi_threshold`` (0.2).
* Kolmogorov-Smirnov distance, numeric features: the largest gap between the new data's empirical
  CDF and the baseline sketch's CDF (exactly ``scipy.stats.ks_2samp``'s statistic when the sketch
  holds every baseline value). Threshold: Model Monitor's ``comparison_threshold`` (0.1). With
  ``comparison_method`` "Robust" the distance must also be significant: asymptotic p-value below
  ``ks_significance_level`` (0.05), so small batches do not raise alarms on noise; "Simple" uses
  the distance alone.
"""
from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

try:  # optional: a much faster, multi-threaded CSV reader
    import pyarrow as pa
    import pyarrow.csv as pacsv
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    pa = pacsv = None

SKETCH_K = 2048
SKETCH_C = 0.64
N_BUCKETS = 10
MAX_CATEGORIES = 1000
PSI_THRESHOLD = 0.2
PSI_EPSILON = 1e-4
KS_SIGNIFICANCE_LEVEL = 0.05
COMPARISON_THRESHOLD = 0.1
NUMERIC_TYPES = ("Integral", "Fractional")
CHECK_TYPES = ("data_type_check", "completeness_check", "baseline_drift_check", "missing_column_check",
               "extra_column_check", "categorical_values_check")

_NUMBER = r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*"
_INTEGER = r"\s*[+-]?\d+\s*"


class DataError(ValueError):
    """Unusable input; the message is one line naming the problem and the fix."""


@dataclass
class Column:
    """One feature of a data set.

    ``numbers`` holds the present values that are numbers, sorted, as float64 (for a String column,
    only those of its values that parse as numbers); ``strings`` the present raw values of a String
    column; ``num_integral`` how many present values are written as integers.
    """

    name: str
    inferred_type: str
    num_present: int
    num_missing: int
    numbers: np.ndarray
    num_integral: int | None  # None: not counted yet (see integral_count)
    strings: np.ndarray | None = None


@dataclass
class Dataset:
    """Columns of equal length, in file order."""

    columns: list[Column]
    item_count: int
    sources: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------- columns

def column_from_strings(name: str, values: Sequence[Any]) -> Column:
    """Infer a column's type from its raw text (``None`` or ``""`` is missing).

    >>> column_from_strings("_c0", ["1", " 2", ""]).inferred_type
    'Integral'
    >>> column_from_strings("_c0", ["1", "2.5", None]).inferred_type
    'Fractional'
    >>> c = column_from_strings("_c0", ["1", "nan", "x"])
    >>> c.inferred_type, c.numbers.tolist(), c.num_integral
    ('String', [1.0], 1)
    """
    import pandas as pd  # imported when needed: a numeric CSV never needs it

    series = pd.Series(values, dtype=object)
    present = series[series.notna() & (series != "")].astype(str)
    n_present = len(present)
    numeric = present.str.fullmatch(_NUMBER).to_numpy(dtype=bool)
    integral = present.str.fullmatch(_INTEGER).to_numpy(dtype=bool)
    numbers = np.sort(present[numeric].astype(float).to_numpy(dtype=np.float64))
    if n_present == 0:
        kind = "Unknown"
    elif numeric.all():
        kind = "Integral" if integral.all() else "Fractional"
    else:
        kind = "String"
    return Column(name, kind, n_present, len(series) - n_present, numbers, int(integral.sum()),
                  present.to_numpy(dtype=object) if kind == "String" else None)


def column_from_numbers(name: str, values: np.ndarray, *, integral: bool, overwrite: bool = False) -> Column:
    """A numeric column from parsed values (NaN is missing); ``overwrite``: sort ``values`` in place.

    >>> column_from_numbers("_c1", np.array([2.0, np.nan, 1.0]), integral=False).numbers.tolist()
    [1.0, 2.0]
    """
    values = np.asarray(values, dtype=np.float64)
    if overwrite and values.flags.writeable:
        values.sort()
    else:
        values = np.sort(values)
    n = int(np.searchsorted(values, np.nan))  # NaN sorts last
    kind = "Unknown" if n == 0 else ("Integral" if integral else "Fractional")
    return Column(name, kind, n, len(values) - n, values[:n], n if integral else None)


def _merge(name: str, parts: list[Column]) -> Column:
    """One column from the same column of several files (all numeric parts here)."""
    if len(parts) == 1:
        return parts[0]
    present = [p for p in parts if p.num_present]
    kinds = {p.inferred_type for p in present}
    kind = "Unknown" if not kinds else ("Integral" if kinds == {"Integral"} else "Fractional")
    return Column(name, kind, sum(p.num_present for p in parts), sum(p.num_missing for p in parts),
                  np.sort(np.concatenate([p.numbers for p in parts])),
                  sum(p.num_present for p in parts) if kind == "Integral" else None)


# ----------------------------------------------------------------------------------------------- reading

def list_files(path: str | os.PathLike) -> list[Path]:
    """A file, or every file below a folder (recursively, in path order)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path} does not exist; pass a data file or a folder of data files")
    files = sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise DataError(f"{path} holds no files; put the data files there")
    return files


def _check_header(path: Path, head: bytes) -> None:
    """Refuse a first line of names above numbers: the data has no header."""
    lines = [r for r in csv.reader(io.StringIO(head.decode("utf-8", "replace"))) if r][:2]
    if len(lines) < 2 or len(lines[0]) != len(lines[1]):
        return
    number = re.compile(_NUMBER)
    first_text = all(v.strip() and not number.fullmatch(v) for v in lines[0])
    second_numbers = any(number.fullmatch(v) for v in lines[1])
    if first_text and second_numbers:
        raise DataError(f"{path}: the first line {','.join(lines[0])[:60]!r} looks like a header; "
                        "remove it (the data must have no header row)")


# Pieces of whole lines parsed one after the other (each by pyarrow on every core) keep Arrow's working
# memory at one piece, instead of a table as large as the data beside the float64 columns made from it.
READ_PIECE_BYTES = 16 << 20


class _LinePieces:
    """Successive pieces of whole lines of a file, read into two buffers used in turn.

    A piece's buffer is overwritten two pieces later, so a table parsed from it may be used until the
    next piece after it has been asked for.
    """

    def __init__(self, path: Path, size: int = READ_PIECE_BYTES) -> None:
        self._handle = open(path, "rb")
        size = max(min(size, os.fstat(self._handle.fileno()).st_size + 1), 1)  # small files, small buffers
        self._buffers = [bytearray(size), bytearray(size)]
        self._turn = 0
        self._rest = b""

    def next(self) -> memoryview | None:
        """The next piece (ending with a newline, unless it is the end of the file), or None at the end."""
        buffer = self._buffers[self._turn]
        filled = len(self._rest)
        if filled * 2 > len(buffer):
            buffer = self._grow(bytearray(), filled * 2)
        buffer[:filled] = self._rest
        while True:
            with memoryview(buffer) as view:
                read = self._handle.readinto(view[filled:])
            if not read:  # end of file: what is left is the last piece
                self._rest = b""
                return memoryview(buffer)[:filled] if filled else None
            filled += read
            cut = buffer.rfind(b"\n", 0, filled) + 1
            if cut:
                break
            buffer = self._grow(buffer[:filled], 2 * len(buffer))  # a line longer than the buffer
        self._rest = bytes(buffer[cut:filled])
        self._turn ^= 1
        return memoryview(buffer)[:cut]

    def _grow(self, start: bytearray, size: int) -> bytearray:
        # A new buffer rather than a resized one: a view of the old one may still be alive.
        buffer = bytearray(size)
        buffer[:len(start)] = start
        self._buffers[self._turn] = buffer
        return buffer

    def close(self) -> None:
        self._handle.close()


_NUMERIC_ARROW = ("int64", "double", "null")


class _Gathered:
    """One column's values gathered piece by piece: float64 in a growing buffer, or text pieces."""

    def __init__(self, capacity: int, text: bool) -> None:
        self.values = None if text else np.empty(capacity)
        self.text: list[np.ndarray] | None = [] if text else None
        self.kinds: set[str] = set()
        self.nulls = 0

    def add(self, array, start: int) -> None:
        if self.text is not None:
            self.text.append(array.to_numpy(zero_copy_only=False))
            return
        n, kind = len(array), str(array.type)
        self.kinds.add(kind)
        self.nulls += array.null_count
        if start + n > len(self.values):
            grown = np.empty(max(2 * len(self.values), start + n))
            grown[:start] = self.values[:start]
            self.values = grown
        out = self.values[start:start + n]
        if kind == "null":
            out.fill(np.nan)
            return
        # From the buffers themselves: Array.to_numpy would import pandas, a large part of a check's time.
        validity, data = array.buffers()[:2]
        out[:] = np.frombuffer(data, dtype="<f8" if kind == "double" else "<i8", count=n, offset=array.offset * 8)
        if array.null_count:
            bits = np.unpackbits(np.frombuffer(validity, np.uint8), count=array.offset + n, bitorder="little")
            out[bits[array.offset:] == 0] = np.nan


def _read_csv_arrow(path: Path, strings: set[int], piece_bytes: int = READ_PIECE_BYTES) -> tuple[list[Column], int]:
    """Typed columns of a CSV file; ``strings``: columns to read as text (known not to be numeric)."""
    size = max(path.stat().st_size, 1)
    pieces = _LinePieces(path, piece_bytes)
    names: list[str] | None = None
    pool = _memory_pool()

    def parse():
        piece = pieces.next()
        if piece is None:
            return None
        read = pacsv.ReadOptions(autogenerate_column_names=names is None, column_names=names)
        convert = pacsv.ConvertOptions(
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
            true_values=[], false_values=[],  # booleans are strings for Model Monitor
            column_types={f"f{i}": pa.string() for i in strings})
        try:
            return len(piece), pacsv.read_csv(pa.py_buffer(piece), read_options=read, convert_options=convert,
                                              memory_pool=pool)
        except pa.ArrowInvalid as error:
            message = str(error).splitlines()[0]
            if message == "Empty CSV file":  # a piece of blank lines
                return len(piece), None
            raise DataError(f"{path}: {message}; every row needs the same number of fields") from None

    gathered: list[_Gathered] = []
    rows, text = 0, set()
    try:
        # The next piece is parsed (GIL released) while this one is copied into the columns.
        with ThreadPoolExecutor(max_workers=1) as reader:
            future = reader.submit(parse)
            while (parsed := future.result()) is not None:
                length, table = parsed
                if table is not None and names is None:  # later pieces must have these columns
                    names = table.column_names
                    # Text in the first piece: read as text from the start (no second reading).
                    strings = strings | {i for i, column in enumerate(table.columns) if str(column.type) == "string"}
                    capacity = int(table.num_rows * size / length * 1.1) + 1024
                    gathered = [_Gathered(capacity, i in strings) for i in range(len(names))]
                future = reader.submit(parse)
                if table is None:
                    continue
                text = {i for i, column in enumerate(table.columns)
                        if i not in strings and str(column.type) not in _NUMERIC_ARROW}
                if text:  # not numbers after all
                    break
                for i, column in enumerate(table.columns):
                    start = rows
                    for chunk in column.chunks:
                        gathered[i].add(chunk, start)
                        start += len(chunk)
                rows += table.num_rows
                del table
            future.cancel()
    finally:
        pieces.close()
    if text:  # read again with these columns as text
        return _read_csv_arrow(path, strings | text, piece_bytes)
    if names is None:
        return [], 0

    def convert(i: int) -> Column | None:
        column, gathered[i] = gathered[i], None
        if column.text is not None:
            return column_from_strings(f"_c{i}", np.concatenate(column.text))
        parsed = column_from_numbers(f"_c{i}", column.values[:rows], integral="int64" in column.kinds and column.kinds <= {"int64", "null"},
                                     overwrite=True)
        values = parsed.numbers
        # Sorted: infinities sit at the ends, and a NaN that is not a missing (null) value came from "nan".
        if (len(values) and (np.isinf(values[0]) or np.isinf(values[-1]))) or parsed.num_missing != column.nulls:
            return None  # "nan" / "inf" are text to Model Monitor
        return parsed

    # Sorting releases the GIL: the columns are sorted on every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool_:
        columns = list(pool_.map(convert, range(len(gathered))))
    text = {i for i, column in enumerate(columns) if column is None}
    if text:
        return _read_csv_arrow(path, strings | text, piece_bytes)
    return columns, rows


def _memory_pool():
    # Arrow's default mimalloc pool spends far more time in page faults on large reads here than
    # jemalloc or the system allocator (benchmarks/drift.py).
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return pa.system_memory_pool()


def _read_csv_pandas(path: Path) -> tuple[list[Column], int]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        return [], 0
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: {str(error).splitlines()[0]}; every row needs the same number of fields") from None
    return [column_from_strings(f"_c{i}", frame[c].to_numpy(dtype=object)) for i, c in enumerate(frame.columns)], len(frame)


def read_csv(path: str | os.PathLike, *, label_column: str = "none") -> Dataset:
    """Read headerless CSV files (a file or a folder) into typed columns; drop a leading label if asked."""
    if label_column not in ("first", "none"):
        raise DataError(f"label column {label_column!r} is not 'first' or 'none'")
    per_file: list[tuple[Path, list[Column], int]] = []
    for file in list_files(path):
        with open(file, "rb") as handle:
            _check_header(file, handle.read(65536))
        columns, rows = _read_csv_arrow(file, set()) if pacsv is not None else _read_csv_pandas(file)
        if rows:
            per_file.append((file, columns, rows))
    if not per_file:
        raise DataError(f"{path} holds no rows; pass CSV data (no header, one row per record)")
    width = len(per_file[0][1])
    for file, columns, _ in per_file[1:]:
        if len(columns) != width:
            raise DataError(f"{file} has {len(columns)} columns but {per_file[0][0]} has {width}; "
                            "all files of a data set need the same columns")
    merged = []
    for i in range(width):
        parts = [columns[i] for _, columns, _ in per_file]
        if any(p.inferred_type == "String" for p in parts) and len(parts) > 1:
            # Numeric in one file, text in another: the column is String, so every raw value is needed.
            parts = [_strings_of(file, i) for file, _, _ in per_file]
            merged.append(column_from_strings(f"_c{i}", np.concatenate(parts)))
        else:
            merged.append(_merge(f"_c{i}", parts))
    dataset = Dataset(merged, sum(rows for _, _, rows in per_file), [str(f) for f, _, _ in per_file])
    return drop_label(dataset) if label_column == "first" else dataset


def _strings_of(file: Path, index: int) -> np.ndarray:
    import pandas as pd

    frame = pd.read_csv(file, header=None, dtype=str, keep_default_na=False, na_values=[""], usecols=[index])
    return frame.iloc[:, 0].to_numpy(dtype=object)


def drop_label(dataset: Dataset) -> Dataset:
    """Drop the first column and rename the rest ``_c0, _c1, ...``."""
    if len(dataset.columns) < 2:
        raise DataError("the data has only a label column; pass --label-column none or add the features")
    columns = []
    for i, column in enumerate(dataset.columns[1:]):
        column.name = f"_c{i}"
        columns.append(column)
    return Dataset(columns, dataset.item_count, dataset.sources)


def _capture_csv(path: Path, line_no: int, line: str) -> str:
    """The CSV text of one Data Capture record's endpoint input."""
    where = f"{path}:{line_no}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"{where}: not JSON ({error.msg}); each line must be one Data Capture record") from None
    capture = record.get("captureData") if isinstance(record, dict) else None
    endpoint_input = capture.get("endpointInput") if isinstance(capture, dict) else None
    if not isinstance(endpoint_input, dict):
        raise DataError(f"{where}: no captureData.endpointInput; this is not a SageMaker Data Capture record")
    content_type = str(endpoint_input.get("observedContentType", "text/csv"))
    if not content_type.split(";")[0].strip().lower() == "text/csv":
        raise DataError(f"{where}: observedContentType {content_type!r} is not text/csv; only CSV requests can be checked")
    data, encoding = endpoint_input.get("data"), endpoint_input.get("encoding")
    if not isinstance(data, str):
        raise DataError(f"{where}: captureData.endpointInput.data is missing or not a string")
    if encoding == "CSV":
        return data
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise DataError(f"{where}: BASE64 data does not decode to UTF-8 text ({error})") from None
    raise DataError(f"{where}: unknown encoding {encoding!r}; Data Capture encodings CSV and BASE64 are supported")


def read_capture(path: str | os.PathLike) -> Dataset:
    """Read the endpoint inputs of SageMaker Data Capture JSONL files (a file or a folder)."""
    rows: list[list[str]] = []
    width, first_where = None, None
    files = list_files(path)
    for file in files:
        with open(file, encoding="utf-8", errors="replace") as handle:
            for line_no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                for row in csv.reader(io.StringIO(_capture_csv(file, line_no, line))):
                    if not row:
                        continue
                    if width is None:
                        width, first_where = len(row), f"{file}:{line_no}"
                    elif len(row) != width:
                        raise DataError(f"{file}:{line_no}: a request has {len(row)} fields but {first_where} "
                                        f"has {width}; all requests need the same columns")
                    rows.append(row)
    if not rows:
        raise DataError(f"{path} holds no captured requests; pass Data Capture files with endpoint inputs")
    table = np.array(rows, dtype=object)
    columns = [column_from_strings(f"_c{i}", table[:, i]) for i in range(width)]
    return Dataset(columns, len(rows), [str(f) for f in files])


def sniff_format(path: str | os.PathLike) -> str:
    """"capture" when the first non-blank character of the first file is ``{``, else "csv"."""
    with open(list_files(path)[0], "rb") as handle:
        head = handle.read(4096).lstrip()
    return "capture" if head.startswith(b"{") else "csv"


def read_dataset(path: str | os.PathLike, *, data_format: str = "auto", label_column: str = "none") -> Dataset:
    """Read CSV or Data Capture input; ``data_format`` is "csv", "capture" or "auto"."""
    if data_format not in ("csv", "capture", "auto"):
        raise DataError(f"format {data_format!r} is not csv, capture or auto")
    if data_format == "auto":
        data_format = sniff_format(path)
    return read_capture(path) if data_format == "capture" else read_csv(path, label_column=label_column)


# -------------------------------------------------------------------------------------------- statistics

def histogram_edges(lo: float, hi: float, bins: int = N_BUCKETS) -> np.ndarray:
    """``np.histogram``'s equal-width edges between ``lo`` and ``hi``.

    >>> histogram_edges(0.0, 1.0, 4).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> histogram_edges(3.0, 3.0, 2).tolist()
    [2.5, 3.0, 3.5]
    """
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def bucket_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bucket ``[e_i, e_i+1)``, the end buckets open-ended: values below the first edge
    count in the first bucket and values above the last in the last (``np.histogram`` for values inside).

    >>> bucket_counts(np.array([-5.0, 0.0, 0.5, 1.0, 9.0]), np.array([0.0, 0.5, 1.0])).tolist()
    [2, 3]
    """
    inner = np.searchsorted(sorted_values, edges[1:-1], side="left")
    return np.diff(np.concatenate(([0], inner, [len(sorted_values)])))


def sketch_items(sorted_values: np.ndarray, k: int = SKETCH_K) -> np.ndarray:
    """Equal-weight items summarising a sorted column: all values if at most ``k``, else ``k`` quantiles.

    >>> sketch_items(np.arange(10.0), 4).tolist()
    [1.0, 3.0, 6.0, 8.0]
    """
    n = len(sorted_values)
    if n <= k:
        return sorted_values
    return sorted_values[((np.arange(k) + 0.5) * n / k).astype(np.int64)]


def _finite(value: float, what: str, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise DataError(f"feature {name}: {what} overflows a float64; rescale the feature")
    return value


def numerical_statistics(column: Column) -> dict[str, Any]:
    """Model Monitor's ``numerical_statistics`` of a numeric column."""
    values = column.numbers
    common = {"num_present": column.num_present, "num_missing": column.num_missing}
    edges = histogram_edges(values[0], values[-1])
    counts = bucket_counts(values, edges)
    return {
        "common": common,
        "mean": _finite(values.mean(), "the mean", column.name),
        "sum": _finite(values.sum(), "the sum", column.name),
        "std_dev": _finite(values.std(), "the standard deviation", column.name),
        "min": float(values[0]),
        "max": float(values[-1]),
        "distribution": {"kll": {
            "buckets": [{"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": int(counts[i])}
                        for i in range(len(counts))],
            "sketch": {"parameters": {"c": SKETCH_C, "k": float(SKETCH_K)},
                       "data": [sketch_items(values).tolist()]},
        }},
    }


def category_counts(strings: np.ndarray) -> list[tuple[str, int]]:
    """(value, count) pairs, most frequent first, ties by value."""
    if strings is None or len(strings) == 0:
        return []
    import pandas as pd

    counts = pd.Series(strings, dtype=object).value_counts(sort=False)
    pairs = sorted(zip(counts.index.tolist(), counts.tolist()), key=lambda p: (-p[1], p[0]))
    return [(str(v), int(c)) for v, c in pairs]


def string_statistics(column: Column) -> dict[str, Any]:
    """Model Monitor's ``string_statistics`` of a String (or Unknown) column."""
    pairs = category_counts(column.strings)
    return {
        "common": {"num_present": column.num_present, "num_missing": column.num_missing},
        "distinct_count": len(pairs),
        "distribution": {"categorical": {"buckets": [{"value": v, "count": c} for v, c in pairs[:MAX_CATEGORIES]]}},
    }


def build_statistics(dataset: Dataset) -> dict[str, Any]:
    """``statistics.json`` of a data set.

    >>> stats = build_statistics(Dataset([column_from_strings("_c0", ["1", "3"])], 2))
    >>> stats["features"][0]["numerical_statistics"]["mean"], stats["dataset"]
    (2.0, {'item_count': 2})
    """
    features = []
    for column in dataset.columns:
        feature = {"name": column.name, "inferred_type": column.inferred_type}
        if column.inferred_type in NUMERIC_TYPES:
            feature["numerical_statistics"] = numerical_statistics(column)
        else:
            feature["string_statistics"] = string_statistics(column)
        features.append(feature)
    return {"version": 0, "dataset": {"item_count": dataset.item_count}, "features": features}


def suggest_constraints(statistics: Mapping[str, Any], *, label_column: str = "none") -> dict[str, Any]:
    """``constraints.json`` suggested from ``statistics.json``, with our drift settings beside Model Monitor's.

    >>> c = suggest_constraints(build_statistics(Dataset([column_from_strings("_c0", ["a", ""])], 2)))
    >>> c["features"][0]
    {'name': '_c0', 'inferred_type': 'String', 'completeness': 0.5, 'string_constraints': {'domains': ['a']}}
    """
    item_count = statistics["dataset"]["item_count"]
    features = []
    for feature in statistics["features"]:
        stats = feature.get("numerical_statistics") or feature["string_statistics"]
        entry = {"name": feature["name"], "inferred_type": feature["inferred_type"],
                 "completeness": stats["common"]["num_present"] / item_count if item_count else 0.0}
        if "numerical_statistics" in feature:
            entry["num_constraints"] = {"is_non_negative": bool(stats["min"] >= 0)}
        elif feature["inferred_type"] == "String" and stats["distinct_count"] <= MAX_CATEGORIES:
            entry["string_constraints"] = {"domains": sorted(b["value"] for b in stats["distribution"]["categorical"]["buckets"])}
        features.append(entry)
    return {
        "version": 0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": COMPARISON_THRESHOLD,
                "comparison_method": "Robust",
                # Ours (see the module docstring): the statistics behind baseline_drift_check.
                "drift_statistics": ["population_stability_index", "kolmogorov_smirnov_distance"],
                "psi_threshold": PSI_THRESHOLD,
                "psi_epsilon": PSI_EPSILON,
                "ks_significance_level": KS_SIGNIFICANCE_LEVEL,
            },
        },
        "data_layout": {"header": False, "label_column": label_column, "feature_count": len(features)},
    }


# ------------------------------------------------------------------------------------------------ drift

def psi(expected: np.ndarray, actual: np.ndarray, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index between two count vectors over the same bins.

    >>> psi(np.array([50, 50]), np.array([50, 50]))
    0.0
    >>> round(psi(np.array([90, 10]), np.array([50, 50])), 4)
    0.8789
    """
    p = np.maximum(np.asarray(expected, float) / max(np.sum(expected), 1), epsilon)
    q = np.maximum(np.asarray(actual, float) / max(np.sum(actual), 1), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_distance(sketch: np.ndarray, sorted_values: np.ndarray) -> float:
    """Largest gap between the CDF of equal-weight sketch items and the empirical CDF of the values.

    >>> ks_distance(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    0.0
    >>> ks_distance(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    1.0
    """
    sketch = np.sort(np.asarray(sketch, dtype=np.float64))
    points = np.unique(sketch)
    k, m = len(sketch), len(sorted_values)
    # Both CDFs are step functions and the baseline's only steps at `points`: the largest gap is at a
    # point or just left of one (module docstring).
    base_le = np.searchsorted(sketch, points, side="right") / k
    base_lt = np.searchsorted(sketch, points, side="left") / k
    new_le = np.searchsorted(sorted_values, points, side="right") / m
    new_lt = np.searchsorted(sorted_values, points, side="left") / m
    return float(max(np.max(np.abs(new_le - base_le)), np.max(np.abs(new_lt - base_lt))))


def ks_pvalue(distance: float, n: int, m: int) -> float:
    """Asymptotic two-sample Kolmogorov-Smirnov p-value (Smirnov's limit distribution)."""
    if not n or not m:
        return 1.0
    x = math.sqrt(n * m / (n + m)) * distance
    if x < 0.2:  # the series converges slowly here, where the survival function is 1 to 1e-20
        return 1.0
    # Kolmogorov's survival function 2 sum (-1)^(k-1) exp(-2 k^2 x^2), as scipy.special.kolmogorov
    total = sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101))
    return float(min(max(2.0 * total, 0.0), 1.0))


@dataclass
class DriftSettings:
    """Thresholds of a check: constraints.json's values unless overridden."""

    evaluate_constraints: bool = True
    perform_comparison: bool = True
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    completeness_ratio: float = 1.0
    psi_threshold: float = PSI_THRESHOLD
    psi_epsilon: float = PSI_EPSILON
    ks_threshold: float = COMPARISON_THRESHOLD
    ks_significance_level: float | None = KS_SIGNIFICANCE_LEVEL  # None: "Simple" comparison

    @classmethod
    def from_constraints(cls, constraints: Mapping[str, Any], **overrides: float | None) -> "DriftSettings":
        config = constraints.get("monitoring_config", {})
        dist = config.get("distribution_constraints", {})
        settings = cls(
            evaluate_constraints=config.get("evaluate_constraints", "Enabled") == "Enabled",
            perform_comparison=dist.get("perform_comparison", "Enabled") == "Enabled",
            datatype_check_threshold=float(config.get("datatype_check_threshold", 1.0)),
            domain_content_threshold=float(config.get("domain_content_threshold", 1.0)),
            psi_threshold=float(dist.get("psi_threshold", PSI_THRESHOLD)),
            psi_epsilon=float(dist.get("psi_epsilon", PSI_EPSILON)),
            ks_threshold=float(dist.get("comparison_threshold", COMPARISON_THRESHOLD)),
            ks_significance_level=(float(dist.get("ks_significance_level", KS_SIGNIFICANCE_LEVEL))
                                   if dist.get("comparison_method", "Robust") == "Robust" else None),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        return settings


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


def _row(statistic: str, value: float | None, threshold: float | None, verdict: str) -> dict[str, Any]:
    return {"statistic": statistic, "value": value, "threshold": threshold, "verdict": verdict}


def integral_count(column: Column) -> int:
    """Present values that are integers (a parsed number counts when its fractional part is zero)."""
    if column.num_integral is None:
        column.num_integral = int(np.count_nonzero(column.numbers == np.trunc(column.numbers)))
    return column.num_integral


def _type_conformity(baseline_type: str, column: Column) -> float:
    """Fraction of present values that are of the baseline type (integers count as Fractional)."""
    if baseline_type == "Integral":
        return integral_count(column) / column.num_present
    if baseline_type == "Fractional":
        return len(column.numbers) / column.num_present
    return 1.0


def check_feature(baseline: Mapping[str, Any], constraint: Mapping[str, Any], column: Column,
                  item_count: int, settings: DriftSettings) -> dict[str, Any]:
    """Checks of one feature present in both data sets: its summary row, violations and plot data."""
    name, base_type = baseline["name"], baseline["inferred_type"]
    violations, rows, plot = [], [], None
    if settings.evaluate_constraints and column.num_present:
        conformity = _type_conformity(base_type, column)
        ok = conformity >= settings.datatype_check_threshold
        rows.append(_row("data_type_conformity", conformity, settings.datatype_check_threshold, "ok" if ok else "violation"))
        if not ok:
            violations.append(_violation(name, "data_type_check",
                f"data type check: baseline type {base_type}, new data {column.inferred_type}; {conformity:.2%} of "
                f"{column.num_present} present values are {base_type}, below datatype_check_threshold "
                f"{settings.datatype_check_threshold}"))
    if settings.evaluate_constraints:
        completeness = column.num_present / item_count if item_count else 0.0
        limit = float(constraint.get("completeness", 0.0)) * settings.completeness_ratio
        ok = completeness >= limit - 1e-12
        rows.append(_row("completeness", completeness, limit, "ok" if ok else "violation"))
        if not ok:
            violations.append(_violation(name, "completeness_check",
                f"completeness check: {completeness:.4f} of values present, baseline "
                f"{constraint.get('completeness'):.4f} x {settings.completeness_ratio} = {limit:.4f} required"))
    domains = constraint.get("string_constraints", {}).get("domains")
    if settings.evaluate_constraints and domains is not None and column.num_present:
        new_pairs = category_counts(column.strings if column.strings is not None else _as_text(column))
        known = set(domains)
        unknown = [(v, c) for v, c in new_pairs if v not in known]
        inside = 1.0 - sum(c for _, c in unknown) / column.num_present
        ok = inside >= settings.domain_content_threshold
        rows.append(_row("domain_content", inside, settings.domain_content_threshold, "ok" if ok else "violation"))
        if not ok:
            shown = ", ".join(repr(v) for v, _ in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            violations.append(_violation(name, "categorical_values_check",
                f"categorical values check: {len(unknown)} value(s) outside the baseline domain ({shown}); "
                f"{inside:.2%} of values are in it, below domain_content_threshold {settings.domain_content_threshold}"))
    if settings.perform_comparison:
        drift_rows, plot = _drift(baseline, column, settings)
        rows += drift_rows
        failed = [r for r in drift_rows if r["verdict"] == "violation"]
        if failed:
            violations.append(_violation(name, "baseline_drift_check", "baseline drift check: " + "; ".join(
                r["description"] for r in failed)))
        for r in drift_rows:
            r.pop("description", None)
    return {"name": name, "inferred_type": base_type, "new_inferred_type": column.inferred_type,
            "completeness": column.num_present / item_count if item_count else 0.0,
            "statistics": rows, "violations": [v["constraint_check_type"] for v in violations],
            "plot": plot, "_violations": violations}


def _as_text(column: Column) -> np.ndarray:
    # A numeric column compared with a String baseline: its values as text, integers without ".0".
    values = column.numbers
    if column.inferred_type == "Integral":
        return np.array([str(int(v)) for v in values], dtype=object)
    return np.array([repr(float(v)) for v in values], dtype=object)


def _drift(baseline: Mapping[str, Any], column: Column, settings: DriftSettings) -> tuple[list[dict], dict | None]:
    rows: list[dict] = []
    if "numerical_statistics" in baseline:
        stats = baseline["numerical_statistics"]
        values = column.numbers
        if not len(values):
            return rows, None
        buckets = stats["distribution"]["kll"]["buckets"]
        edges = np.array([b["lower_bound"] for b in buckets] + [buckets[-1]["upper_bound"]])
        base_counts = np.array([b["count"] for b in buckets])
        new_counts = bucket_counts(values, edges)
        value = psi(base_counts, new_counts, epsilon=settings.psi_epsilon)
        row = _row("population_stability_index", value, settings.psi_threshold,
                   "violation" if value > settings.psi_threshold else "ok")
        row["description"] = (f"population stability index (PSI) {value:.4f} > {settings.psi_threshold} over the "
                              f"baseline's {len(buckets)} numeric bins")
        rows.append(row)
        sketch = np.asarray(stats["distribution"]["kll"]["sketch"]["data"][0], dtype=np.float64)
        if len(sketch):
            distance = ks_distance(sketch, values)
            pvalue = ks_pvalue(distance, int(stats["common"]["num_present"]), len(values))
            alpha = settings.ks_significance_level
            drifted = distance > settings.ks_threshold and (alpha is None or pvalue < alpha)
            row = _row("kolmogorov_smirnov_distance", distance, settings.ks_threshold,
                       "violation" if drifted else "ok")
            row["p_value"] = pvalue
            row["description"] = (f"Kolmogorov-Smirnov distance {distance:.4f} > {settings.ks_threshold} "
                                  f"against the baseline sketch (p-value {pvalue:.3g}"
                                  + (f" < {alpha})" if alpha is not None else ")"))
            rows.append(row)
        plot = {"kind": "numeric", "labels": [f"{edges[i]:.4g}" for i in range(len(buckets))],
                "baseline": (base_counts / max(base_counts.sum(), 1)).tolist(),
                "new": (new_counts / max(new_counts.sum(), 1)).tolist()}
        return rows, plot
    if baseline["inferred_type"] != "String" or not column.num_present:
        return rows, None
    stats = baseline["string_statistics"]
    base = {b["value"]: b["count"] for b in stats["distribution"]["categorical"]["buckets"]}
    new = dict(category_counts(column.strings if column.strings is not None else _as_text(column)))
    base_other = stats["common"]["num_present"] - sum(base.values())  # categories beyond MAX_CATEGORIES
    unseen = [v for v in new if v not in base]
    categories = list(base) + unseen
    if base_other:  # unseen values may be among the uncounted baseline categories: pool them as "other"
        base_counts = np.array([base[v] for v in base] + [base_other])
        new_counts = np.array([new.get(v, 0) for v in base] + [sum(new[v] for v in unseen)])
    else:
        base_counts = np.array([base.get(v, 0) for v in categories])
        new_counts = np.array([new.get(v, 0) for v in categories])
    value = psi(base_counts, new_counts, epsilon=settings.psi_epsilon)
    row = _row("population_stability_index", value, settings.psi_threshold,
               "violation" if value > settings.psi_threshold else "ok")
    row["description"] = (f"population stability index (PSI) {value:.4f} > {settings.psi_threshold} over "
                          f"{len(base_counts)} category shares")
    rows.append(row)
    shown = categories[:20]
    plot = {"kind": "categorical", "labels": shown,
            "baseline": [base.get(v, 0) / max(stats["common"]["num_present"], 1) for v in shown],
            "new": [new.get(v, 0) / column.num_present for v in shown]}
    return rows, plot


@dataclass
class DriftResult:
    """What a check found: Model Monitor violations and our per-feature summary."""

    violations: list[dict[str, str]]
    summary: dict[str, Any]
    plots: dict[str, dict]


def check_drift(statistics: Mapping[str, Any], constraints: Mapping[str, Any], dataset: Dataset,
                *, psi_threshold: float | None = None, ks_threshold: float | None = None,
                completeness_ratio: float | None = None) -> DriftResult:
    """Compare a data set with a baseline (``statistics.json`` + ``constraints.json``)."""
    settings = DriftSettings.from_constraints(constraints, psi_threshold=psi_threshold, ks_threshold=ks_threshold,
                                              completeness_ratio=completeness_ratio)
    base_features = statistics["features"]
    constraint_by_name = {c["name"]: c for c in constraints.get("features", [])}
    violations: list[dict[str, str]] = []
    rows, plots = [], {}
    for i, baseline in enumerate(base_features):
        name = baseline["name"]
        if i >= len(dataset.columns):
            violations.append(_violation(name, "missing_column_check",
                f"missing column check: {name} is in the baseline ({len(base_features)} columns) but the data has "
                f"only {len(dataset.columns)} columns"))
            rows.append({"name": name, "inferred_type": baseline["inferred_type"], "new_inferred_type": None,
                         "completeness": None, "statistics": [], "violations": ["missing_column_check"]})
            continue
        result = check_feature(baseline, constraint_by_name.get(name, {}), dataset.columns[i],
                               dataset.item_count, settings)
        violations += result.pop("_violations")
        plot = result.pop("plot")
        if plot is not None:
            plots[name] = plot
        rows.append(result)
    for column in dataset.columns[len(base_features):]:
        violations.append(_violation(column.name, "extra_column_check",
            f"extra column check: {column.name} is not in the baseline, which has {len(base_features)} columns"))
        rows.append({"name": column.name, "inferred_type": None, "new_inferred_type": column.inferred_type,
                     "completeness": column.num_present / dataset.item_count, "statistics": [],
                     "violations": ["extra_column_check"]})
    summary = {
        "version": 0,
        "drift_detected": bool(violations),
        "violation_count": len(violations),
        "violations_by_check": {t: sum(v["constraint_check_type"] == t for v in violations)
                                for t in CHECK_TYPES},
        "dataset": {"item_count": dataset.item_count, "column_count": len(dataset.columns),
                    "baseline_item_count": statistics["dataset"]["item_count"],
                    "baseline_column_count": len(base_features)},
        "settings": {k: getattr(settings, k) for k in settings.__dataclass_fields__},
        "features": rows,
    }
    return DriftResult(violations, summary, plots)


def to_json_bytes(document: Any, *, pretty: bool = True) -> bytes:
    """JSON, indented unless ``pretty=False`` (much faster for large statistics); refuses NaN and infinities."""
    return (json.dumps(document, indent=2 if pretty else None, allow_nan=False) + "\n").encode("utf-8")


def iter_violation_lines(violations: Iterable[Mapping[str, str]]) -> Iterable[str]:
    """``feature: check: description`` lines for a terminal."""
    for v in violations:
        yield f"{v['feature_name']}: {v['constraint_check_type']}: {v['description']}"

"""Headerless CSV files into typed columns (:mod:`columns`), fast and in bounded memory.

One feature per column in model order; an optional leading label column is dropped
(``label_column="first"``, whose rows follow :mod:`labelled`'s rules). pyarrow parses pieces of
whole lines on every core when it is installed; pandas reads with the same type rule otherwise.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from . import labelled
from .columns import NUMBER, Column, DataError, Dataset, column_from_numbers, column_from_strings, merge_columns

try:  # optional: a much faster, multi-threaded CSV reader
    import pyarrow as pa
    import pyarrow.csv as pacsv
except ImportError:  # pragma: no cover - exercised by monkeypatching in the tests
    pa = pacsv = None


def _check_header(name: str, head: bytes) -> None:
    """Refuse a first line of names above numbers: the data has no header."""
    # splitlines first: csv.reader refuses a lone \r inside a line it was given.
    lines = [labelled.split_fields(line) for line in head.decode("utf-8", "replace").splitlines()[:3] if line]
    lines = [fields for fields in lines if isinstance(fields, list)][:2]
    if len(lines) < 2 or len(lines[0]) != len(lines[1]):
        return
    number = re.compile(NUMBER)
    first_text = all(v.strip() and not number.fullmatch(v) for v in lines[0])
    second_numbers = any(number.fullmatch(v) for v in lines[1])
    if first_text and second_numbers:
        raise DataError(f"{name}: the first line {labelled.shown_value(','.join(lines[0]))} looks like a header; "
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
            cut = labelled.whole_lines(buffer, filled)
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


def read_csv_arrow(path: Path, strings: set[int], piece_bytes: int = READ_PIECE_BYTES, *,
                   name: str | None = None) -> tuple[list[Column], int]:
    """Typed columns of a CSV file; ``strings``: columns to read as text (known not to be numeric);
    ``name``: the file in messages (default: ``path``)."""
    name = str(path) if name is None else name
    size = max(path.stat().st_size, 1)
    pieces = _LinePieces(path, piece_bytes)
    names: list[str] | None = None
    pool = _memory_pool()

    def parse():
        piece = pieces.next()
        if piece is None:
            return None
        convert = pacsv.ConvertOptions(
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
            true_values=[], false_values=[],  # booleans are strings for Model Monitor
            column_types={f"f{i}": pa.string() for i in strings})
        block = None  # pyarrow's default: blocks of 1 MB parsed on every core
        while True:
            read = pacsv.ReadOptions(autogenerate_column_names=names is None, column_names=names,
                                     **({} if block is None else {"block_size": block}))
            try:
                return len(piece), pacsv.read_csv(pa.py_buffer(piece), read_options=read, convert_options=convert,
                                                  memory_pool=pool)
            except pa.ArrowInvalid as error:
                message = str(error).splitlines()[0]
                if message == "Empty CSV file":  # a piece of blank lines
                    return len(piece), None
                if "straddl" in message and block is None:  # a line longer than a block: one block for the piece
                    block = len(piece) + 1
                    continue
                # pyarrow's message quotes the whole row: the line scan names the line instead.
                labelled.check_widths(path, name)
                raise DataError(f"{name}: {message[:120]}; every row needs the same number of fields") from None

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
        return read_csv_arrow(path, strings | text, piece_bytes, name=name)
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
        return read_csv_arrow(path, strings | text, piece_bytes, name=name)
    return columns, rows


def _memory_pool():
    # Arrow's default mimalloc pool spends far more time in page faults on large reads here than
    # jemalloc or the system allocator (benchmarks/drift.py).
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return pa.system_memory_pool()


def read_csv_pandas(path: Path, name: str | None = None) -> tuple[list[Column], int]:
    """As :func:`read_csv_arrow`, with pandas (every column read as text, then typed)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        return [], 0
    except pd.errors.ParserError as error:
        name = str(path) if name is None else name
        labelled.check_widths(path, name)
        raise DataError(f"{name}: {str(error).splitlines()[0][:120]}; every row needs the same number of fields") from None
    return [column_from_strings(f"_c{i}", frame[c].to_numpy(dtype=object)) for i, c in enumerate(frame.columns)], len(frame)


def data_files(path: str | os.PathLike, *, shown: Callable[[Path], str] = str) -> list[Path]:
    """A file, or every file below a folder (:func:`labelled.list_files`); a folder without files is an error."""
    files = labelled.list_files(path, missing="pass a data file or a folder of data files", shown=shown)
    if not files:
        raise DataError(f"{shown(Path(path))} holds no files; put the data files there")
    return files


def _read_file(file: Path, name: str, label_first: bool) -> tuple[list[Column], int]:
    """One file's typed columns; label-first data must pass :mod:`labelled`'s rules (any feature types)."""
    labelled.check_text(file, name)
    if label_first and pacsv is None:  # pandas pads a short row with missing values: the scan checks widths
        labelled.check_file(file, name, numeric=False)
    elif label_first:
        labelled.check_label_first(file, name)
    else:
        with open(file, "rb") as handle:
            _check_header(name, handle.read(65536))
    try:
        columns, rows = read_csv_arrow(file, set(), name=name) if pacsv is not None else read_csv_pandas(file, name)
    except DataError:
        if label_first:  # the line scan names the line
            labelled.check_file(file, name, numeric=False)
        raise
    if label_first and rows and len(columns) < 2:
        labelled.check_file(file, name, numeric=False)
    return columns, rows


def read_csv(path: str | os.PathLike, *, label_column: str = "none", shown: Callable[[Path], str] = str) -> Dataset:
    """Read headerless CSV files (a file or a folder) into typed columns; drop a leading label if asked.

    ``label_column="first"``: label-first data, read by the rules of :mod:`labelled` (labels 0/1,
    quoting, blank fields, one width for every row of every file). ``shown`` names a file in messages.
    """
    if label_column not in ("first", "none"):
        raise DataError(f"label column {label_column!r} is not 'first' or 'none'")
    label_first = label_column == "first"
    per_file: list[tuple[Path, list[Column], int]] = []
    files = data_files(path, shown=shown)
    for file in files:
        columns, rows = _read_file(file, shown(file), label_first)
        if rows:
            per_file.append((file, columns, rows))
    if not per_file:  # one file: its name (a container's input folder is not the user's name for it)
        empty = shown(files[0]) if len(files) == 1 else shown(Path(path))
        raise DataError(f"{empty} holds no rows; pass CSV data (no header, one row per record)")
    width = len(per_file[0][1])
    for file, columns, _ in per_file[1:]:
        if len(columns) != width:
            if label_first:  # as the scorer says it: the first row of this file has the wrong width
                labelled.check_file(file, shown(file), width=width, numeric=False)
            raise DataError(f"{shown(file)} has {len(columns)} columns but {shown(per_file[0][0])} has {width}; "
                            "all files of a data set need the same columns")
    merged = []
    for i in range(width):
        parts = [columns[i] for _, columns, _ in per_file]
        if any(p.inferred_type == "String" for p in parts) and len(parts) > 1:
            # Numeric in one file, text in another: the column is String, so every raw value is needed.
            parts = [_strings_of(file, i) for file, _, _ in per_file]
            merged.append(column_from_strings(f"_c{i}", np.concatenate(parts)))
        else:
            merged.append(merge_columns(f"_c{i}", parts))
    dataset = Dataset(merged, sum(rows for _, _, rows in per_file), [str(f) for f, _, _ in per_file])
    return drop_label(dataset) if label_first else dataset


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


"""CSV files into typed columns (:mod:`columns`), fast and in bounded memory.

One feature per column in model order. An optional leading label column (``label_column="first"``,
whose rows follow :mod:`labelled`'s rules) is dropped, or kept as column 0 with ``keep_label=True``
(Model Monitor's baselines keep the label as their first column). Columns are named ``_c0, _c1, ...``
(after a dropped label, the first feature is ``_c0``), or, with ``header=True`` (Model Monitor's
``csv(header=True)``), by line 1 of every file: the same header in every file, a blank name named
``_c<i>`` as Spark names it, no name twice. Without ``header=True`` a first line of names is refused.
pyarrow parses pieces of whole lines on every core when it is installed; pandas reads with the same
type rule otherwise. :func:`read_csv_arrow` and :func:`read_csv_pandas` also read CSV bytes in memory
(the rows :mod:`capture` gathers from Data Capture records).
"""
from __future__ import annotations

import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from . import labelled
from .text_files import BOM
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
                        f"{HEADER_FIX}")


HEADER_FIX = "pass --header if it names the columns, or remove it"


# Pieces of whole lines parsed one after the other (each by pyarrow on every core) keep Arrow's working
# memory at one piece, instead of a table as large as the data beside the float64 columns made from it.
READ_PIECE_BYTES = 16 << 20


class _LinePieces:
    """Successive pieces of whole lines of a file (from byte ``start``) or of bytes in memory, read
    into two buffers used in turn.

    A piece's buffer is overwritten two pieces later, so a table parsed from it may be used until the
    next piece after it has been asked for.
    """

    def __init__(self, source: Path | bytes, size: int = READ_PIECE_BYTES, *, start: int = 0) -> None:
        self._handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
        self._handle.seek(start)
        size = max(min(size, _source_size(source) - start + 1), 1)  # small files, small buffers
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


def _source_size(source: Path | bytes) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


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


def read_csv_arrow(path: Path | bytes, strings: set[int], piece_bytes: int = READ_PIECE_BYTES, *,
                   name: str | None = None, start: int = 0) -> tuple[list[Column], int]:
    """Typed columns of a CSV file (or of CSV bytes) from byte ``start``; ``strings``: columns to read
    as text (known not to be numeric); ``name``: the file in messages (default: ``path``)."""
    name = str(path) if name is None else name
    size = max(_source_size(path) - start, 1)
    pieces = _LinePieces(path, piece_bytes, start=start)
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
                if not isinstance(path, bytes):  # a header, if any, is the first row it compares
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
                    at = rows
                    for chunk in column.chunks:
                        gathered[i].add(chunk, at)
                        at += len(chunk)
                rows += table.num_rows
                del table
            future.cancel()
    finally:
        pieces.close()
    if text:  # read again with these columns as text
        return read_csv_arrow(path, strings | text, piece_bytes, name=name, start=start)
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
        return read_csv_arrow(path, strings | text, piece_bytes, name=name, start=start)
    return columns, rows


def _memory_pool():
    # Arrow's default mimalloc pool spends far more time in page faults on large reads here than
    # jemalloc or the system allocator (benchmarks/drift.py).
    try:
        return pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return pa.system_memory_pool()


def read_csv_pandas(path: Path | bytes, name: str | None = None, *, start: int = 0) -> tuple[list[Column], int]:
    """As :func:`read_csv_arrow`, with pandas (every column read as text, then typed)."""
    import pandas as pd

    try:
        with _open_at(path, start) as handle:
            frame = pd.read_csv(handle, header=None, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        return [], 0
    except pd.errors.ParserError as error:
        name = str(path) if name is None else name
        if not isinstance(path, bytes):  # a header, if any, is the first row it compares
            labelled.check_widths(path, name)
        raise DataError(f"{name}: {str(error).splitlines()[0][:120]}; every row needs the same number of fields") from None
    return [column_from_strings(f"_c{i}", frame[c].to_numpy(dtype=object)) for i, c in enumerate(frame.columns)], len(frame)


def _open_at(source: Path | bytes, start: int):
    """A binary handle on a file or on bytes, at byte ``start``."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    handle.seek(start)
    return handle


def data_files(path: str | os.PathLike, *, shown: Callable[[Path], str] = str) -> list[Path]:
    """A file, or every file below a folder (:func:`labelled.list_files`); a folder without files is an error."""
    files = labelled.list_files(path, missing="pass a data file or a folder of data files", shown=shown)
    if not files:
        raise DataError(f"{shown(Path(path))} holds no files; put the data files there")
    return files




def _first_line(file: Path) -> tuple[str, int, int]:
    """(line 1 without its ending, the byte where line 2 starts, bytes of a leading byte-order mark)."""
    head = b""
    with open(file, "rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            head += chunk
            ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
            # A \r at the end of what was read may be the first half of \r\n: read on.
            if ends and (min(ends) < len(head) - 1 or not chunk or head[min(ends)] == 0x0A):
                end = min(ends)
                after = end + 1 + (head[end:end + 2] == b"\r\n")
                break
            if not chunk:
                end = after = len(head)
                break
    bom = len(BOM) if head.startswith(BOM) else 0
    return head[bom:end].decode("utf-8", errors="replace"), after, bom


def _header(file: Path, name: str) -> tuple[list[str], str, int, int] | None:
    """(column names, line 1, the byte after it, the bytes of line 1 and its end) of a file whose
    first line names its columns; None when the file holds no line (nothing, or only line ends)."""
    line, after, bom = _first_line(file)
    if not line and file.stat().st_size <= 1 << 16 and not file.read_bytes().lstrip(BOM).strip(b"\r\n"):
        return None
    fields = labelled.split_fields(line)
    if isinstance(fields, str):
        raise DataError(f"{name} line 1: {fields} in the header {labelled.shown_value(line)}; {labelled.QUOTE_FIX}")
    if not line.strip():
        raise DataError(f"{name} line 1 is blank; with --header the first line must name the columns")
    if all(labelled.number(f) is not None for f in fields):
        raise DataError(f"{name} line 1: the header {labelled.shown_value(line)} holds only numbers, not column names; "
                        "drop --header if the data has no header row")
    names = [f if f else f"_c{i}" for i, f in enumerate(fields)]  # Spark names a nameless column so
    seen: set[str] = set()
    for column in names:
        if column in seen:
            raise DataError(f"{name} line 1: the header names {labelled.shown_value(column)} twice; "
                            "give every column its own name")
        seen.add(column)
    return names, line, after, after - bom


def _refuse_label_first_header(file: Path, name: str) -> None:
    """:mod:`labelled`'s header refusal (its first non-empty line), with ``--header`` as a fix."""
    for first, lines in labelled.iter_line_batches(file, 16, block_bytes=1 << 16):
        for number_, raw in enumerate(lines, start=first):
            if not raw:
                continue
            line = raw.decode("utf-8", errors="replace")
            fields = labelled.split_fields(line)
            if isinstance(fields, list) and labelled.number(fields[0]) is None and labelled.looks_like_header(fields):
                raise DataError(f"{name} line {number_}: header row {labelled.shown_value(line)} (the first line "
                                f"looks like a header); remove it: {labelled.LABEL_FIRST_FIX}; or pass --header "
                                "if it names the columns")
            return
        return


def _check_label_rows(file: Path, name: str, header_bytes: int | None) -> None:
    """Label-first rows by :mod:`labelled`'s rules; ``header_bytes``: line 1 is a header of that many
    bytes (byte-order mark excluded), and the rules start at line 2 (None: no header)."""
    if header_bytes is None:
        _refuse_label_first_header(file, name)
        if pacsv is None:  # pandas pads a short row with missing values: the scan checks widths
            labelled.check_file(file, name, numeric=False)
        else:
            labelled.check_label_first(file, name)
        return
    if pacsv is not None:
        blocks = (bytes(block)[header_bytes if i == 0 else 0:]
                  for i, block in enumerate(labelled.iter_blocks(file, READ_PIECE_BYTES)))
        if all(labelled.screen(block) for block in blocks):
            return
    _scan_label_rows(file, name)


def _scan_label_rows(file: Path, name: str) -> None:
    """The line scan of label-first rows below a header (line 1)."""
    width = None
    for first, lines in labelled.iter_line_batches(file, 100_000):
        if first == 1:
            lines, first = lines[1:], 2
        _, width = labelled.scan_labelled(lines, first, name, width, file_start=False, numeric=False)


def _read_file(file: Path, name: str, label_first: bool, header: bool
               ) -> tuple[tuple[list[str], str, int] | None, list[Column], int]:
    """(header, typed columns, rows) of one file; label-first data must pass :mod:`labelled`'s rules
    (any feature types). ``header``: line 1 names the columns (the header is None in a file of no line)."""
    labelled.check_text(file, name)
    names = _header(file, name) if header else None
    if header and names is None:
        return None, [], 0
    start = names[2] if names else 0
    if label_first:
        _check_label_rows(file, name, names[3] if names else None)
    elif not header:
        with open(file, "rb") as handle:
            _check_header(name, handle.read(65536))
    try:
        columns, rows = (read_csv_arrow(file, set(), name=name, start=start) if pacsv is not None
                         else read_csv_pandas(file, name, start=start))
    except DataError:
        if label_first:  # the line scan names the line
            _scan_label_rows(file, name) if names else labelled.check_file(file, name, numeric=False)
        raise
    if label_first and rows and len(columns) < 2:
        _scan_label_rows(file, name) if names else labelled.check_file(file, name, numeric=False)
    if names and rows and len(columns) != len(names[0]):
        raise DataError(f"{name}: the header names {len(names[0])} columns but the rows have {len(columns)} fields; "
                        "write one name per column")
    return names, columns, rows


def read_csv(path: str | os.PathLike, *, label_column: str = "none", header: bool = False, keep_label: bool = False,
             shown: Callable[[Path], str] = str) -> Dataset:
    """Read CSV files (a file or a folder) into typed columns; drop a leading label unless ``keep_label``.

    ``label_column="first"``: label-first data, read by the rules of :mod:`labelled` (labels 0/1,
    quoting, blank fields, one width for every row of every file). ``header``: line 1 of every file
    names the columns (the same line in every file). ``keep_label``: keep the label as column 0 (no
    effect without a label). ``shown`` names a file in messages.
    """
    if label_column not in ("first", "none"):
        raise DataError(f"label column {label_column!r} is not 'first' or 'none'")
    label_first = label_column == "first"
    per_file: list[tuple[Path, list[Column], int, int]] = []
    first_header: tuple[Path, list[str], str] | None = None
    files = data_files(path, shown=shown)
    for file in files:
        names, columns, rows = _read_file(file, shown(file), label_first, header)
        if names is not None:
            if first_header is None:
                first_header = (file, names[0], names[1])
            elif names[0] != first_header[1]:
                raise DataError(f"{shown(file)} line 1: header {labelled.shown_value(names[1])} differs from "
                                f"{shown(first_header[0])}'s {labelled.shown_value(first_header[2])}; every file of "
                                "a data set needs the same header")
        if rows:
            per_file.append((file, columns, rows, names[2] if names else 0))
    if not per_file:  # one file: its name (a container's input folder is not the user's name for it)
        empty = shown(files[0]) if len(files) == 1 else shown(Path(path))
        layout = "a header line, then one row per record" if header else "no header, one row per record"
        raise DataError(f"{empty} holds no rows; pass CSV data ({layout})")
    width = len(per_file[0][1])
    for file, columns, _, _ in per_file[1:]:
        if len(columns) != width:
            if label_first and not header:  # as the scorer says it: the first row of this file has the wrong width
                labelled.check_file(file, shown(file), width=width, numeric=False)
            raise DataError(f"{shown(file)} has {len(columns)} columns but {shown(per_file[0][0])} has {width}; "
                            "all files of a data set need the same columns")
    names = first_header[1] if first_header else [f"_c{i}" for i in range(width)]
    merged = []
    for i in range(width):
        parts = [columns[i] for _, columns, _, _ in per_file]
        if any(p.inferred_type == "String" for p in parts) and len(parts) > 1:
            # Numeric in one file, text in another: the column is String, so every raw value is needed.
            parts = [_strings_of(file, i, start) for file, _, _, start in per_file]
            merged.append(column_from_strings(names[i], np.concatenate(parts)))
        else:
            merged.append(merge_columns(names[i], parts))
            merged[-1].name = names[i]
    dataset = Dataset(merged, sum(rows for _, _, rows, _ in per_file), [str(f) for f, _, _, _ in per_file],
                      header=header)
    return drop_label(dataset) if label_first and not keep_label else dataset


def _strings_of(file: Path, index: int, start: int = 0) -> np.ndarray:
    import pandas as pd

    with _open_at(file, start) as handle:
        frame = pd.read_csv(handle, header=None, dtype=str, keep_default_na=False, na_values=[""], usecols=[index])
    return frame.iloc[:, 0].to_numpy(dtype=object)


def drop_label(dataset: Dataset) -> Dataset:
    """Drop the first column; without a header, rename the rest ``_c0, _c1, ...``."""
    if len(dataset.columns) < 2:
        raise DataError("the data has only a label column; pass --label-column none or add the features")
    columns = dataset.columns[1:]
    if not dataset.header:
        for i, column in enumerate(columns):
            column.name = f"_c{i}"
    return Dataset(columns, dataset.item_count, dataset.sources, header=dataset.header)

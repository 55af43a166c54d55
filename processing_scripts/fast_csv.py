"""Whole-block CSV parses (pyarrow, or pandas without it) that take a shortcut past ``labelled``'s line scans.

A shortcut answers only for text that cannot be read two ways, and returns None otherwise (the
caller then runs the scan, which accepts or names the bad line): simply quoted fields are unquoted
first (:func:`unquote`; any other quote → None); every column is converted as float64, whose pyarrow
conversion reads exactly ``labelled.number``'s syntax (pyarrow's type inference would read ``0x10``
as 16 and ``true`` as a boolean); pandas, whose float parser reads ``true`` as 1.0, is given plain
decimal text only. So every engine accepts and refuses the same data as the scans.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import re

import numpy as np

# A quoted field holding no quote, comma or line end, between field boundaries: `"1"`, `""`.
_SIMPLE_QUOTED = re.compile(rb'(?<![^,\r\n])"([^",\r\n]*)"(?![^,\r\n])')
_PLAIN = b"0123456789.+-eE, \t\r\n"  # what pandas is given: decimal numbers only
_LINE_END = re.compile(rb"[\r\n]")
_SPACE_LINE = re.compile(rb"(?<![^\r\n])[ \t]+(?![^\r\n])")  # pandas skips such a line; the rules refuse it
_QUOTE = re.compile(rb'"')  # re searches a memoryview without copying it; `in` would compare integers


def unquote(data: bytes | memoryview) -> bytes | memoryview | None:
    """``data`` with the quotes of simply quoted fields (``"1"``, ``""``) removed, or None when other
    quotes remain (a quote or comma inside a field: only the line scan reads those).

    >>> unquote(b'"1",2\\n0,""\\n'), unquote(b'"1,5",2\\n')
    (b'1,2\\n0,\\n', None)
    """
    if not _QUOTE.search(data):
        return data
    plain = _SIMPLE_QUOTED.sub(rb"\1", bytes(data))
    return None if b'"' in plain else plain


def engine(name: str = "auto") -> str:
    """"pyarrow" or "pandas"; "auto": pyarrow when importable."""
    if name == "auto":
        return "pyarrow" if importlib.util.find_spec("pyarrow") is not None else "pandas"
    if name not in ("pyarrow", "pandas"):
        raise ValueError(f"engine {name!r} is not one of 'auto', 'pyarrow', 'pandas'")
    return name


def _arrow_floats(data: bytes, width: int, keep: int) -> list[np.ndarray] | None:
    """The first ``keep`` of ``width`` columns as float64 (NaN where empty; every column must convert),
    or None when pyarrow refuses the text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"f{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, block_size=max(len(data) // 4 + 1, 1 << 20)),
            parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=True),
            # Only an empty field is missing: "NA" or "null" must reach the scan, which refuses them.
            convert_options=pacsv.ConvertOptions(column_types={n: pa.float64() for n in names}, null_values=[""],
                                                 strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError):
        return None
    if table.column(0).null_count:  # an empty label
        return None
    return [table.column(i).to_numpy() for i in range(keep)]


def _pandas_floats(data: bytes, width: int, keep: int) -> list[np.ndarray] | None:
    import pandas as pd

    data = bytes(data)
    if data.translate(None, _PLAIN):  # text pandas could read differently from the scan
        return None
    if (b" " in data or b"\t" in data) and _SPACE_LINE.search(data):
        return None
    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float64, engine="c", skip_blank_lines=True,
                            keep_default_na=False, na_values=[""], quoting=csv.QUOTE_NONE)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    values = frame.to_numpy()
    # pandas pads short rows with NaN: any NaN (an empty field or a short row) is left to the scan.
    if values.shape[1] != width or np.isnan(values).any():
        return None
    return [values[:, i] for i in range(keep)]


def _columns(data: bytes, width: int, engine_name: str, keep: int) -> list[np.ndarray] | None:
    return (_arrow_floats if engine_name == "pyarrow" else _pandas_floats)(data, width, keep)


def _binary(labels: np.ndarray) -> bool:
    return bool(((labels == 0) | (labels == 1)).all())


def labels_and_width(data: bytes, width: int | None, engine_name: str) -> tuple[np.ndarray, int] | None:
    """(int8 labels, fields per row) of label-first rows (no empty lines) with numeric features, or None.

    >>> labels_and_width(b'1,0.5,2\\n"0",,3\\n', None, "pyarrow")
    (array([1, 0], dtype=int8), 3)
    >>> labels_and_width(b"1,0x10\\n", None, "pyarrow") is None  # not a number: the scan says so
    True
    """
    plain = unquote(data)
    if plain is None:
        return None
    end = _LINE_END.search(plain)
    found = plain[: end.start() if end else len(plain)].count(b",") + 1
    if found < 2 or (width is not None and found != width):
        return None
    columns = _columns(plain, found, engine_name, 1)
    if columns is None or not _binary(columns[0]):
        return None
    return columns[0].astype(np.int8), found


def labels_and_scores(block: bytes | memoryview, engine_name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(int8 labels, float64 scores) of whole ``label,score`` lines, or None unless every line is valid.

    >>> labels_and_scores(b'0,0.25\\r\\n"1",1\\n\\n', "pandas")
    (array([0, 1], dtype=int8), array([0.25, 1.  ]))
    """
    plain = unquote(block)
    columns = None if plain is None else _columns(plain, 2, engine_name, 2)
    if columns is None:
        return None
    labels, scores = columns
    if not (_binary(labels) and np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()):
        return None
    return labels.astype(np.int8), scores

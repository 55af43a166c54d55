"""Typed columns of a data set, with Model Monitor's (Deequ's) type inference.

A column is numeric when every present value is a number (optional sign, digits, optional fraction
and exponent, surrounding spaces ignored; ``nan`` and ``inf`` are not numbers), ``Integral`` when
every one is written as an integer, else ``Fractional``; anything else is ``String``; a column with
no present value is ``Unknown``. An empty field is a missing value. Columns are named ``_c0``,
``_c1``, ... as Model Monitor names headerless CSV columns.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .labelled import DataError

__all__ = ["Column", "DataError", "Dataset", "INTEGER", "NUMBER", "NUMERIC_TYPES", "as_text", "column_from_numbers",
           "column_from_strings", "integral_count", "merge_columns", "bucket_counts", "category_counts"]

NUMERIC_TYPES = ("Integral", "Fractional")
NUMBER = r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*"  # a value Deequ reads as a number
INTEGER = r"\s*[+-]?\d+\s*"


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
    """Columns of equal length, in file order, and how they were read.

    ``output_width``: how many leading columns came from a capture's endpoint output (0: none, or not a
    capture); ``input_width``: how many from its endpoint input (None: not a capture); ``header``: the
    column names came from a CSV header; ``record_count``: capture records read, skipped ones included;
    ``skipped``: (``file:line``, reason) of each capture record left out; ``outside_window``: capture
    records not read because their inference time lies outside the checked window.
    """

    columns: list[Column]
    item_count: int
    sources: list[str] = field(default_factory=list)
    output_width: int = 0
    input_width: int | None = None
    header: bool = False
    record_count: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    outside_window: int = 0


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
    numeric = present.str.fullmatch(NUMBER).to_numpy(dtype=bool)
    integral = present.str.fullmatch(INTEGER).to_numpy(dtype=bool)
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


def merge_columns(name: str, parts: list[Column]) -> Column:
    """One column from the same column of several files (all numeric parts here)."""
    if len(parts) == 1:
        return parts[0]
    present = [p for p in parts if p.num_present]
    kinds = {p.inferred_type for p in present}
    kind = "Unknown" if not kinds else ("Integral" if kinds == {"Integral"} else "Fractional")
    return Column(name, kind, sum(p.num_present for p in parts), sum(p.num_missing for p in parts),
                  np.sort(np.concatenate([p.numbers for p in parts])),
                  sum(p.num_present for p in parts) if kind == "Integral" else None)


def integral_count(column: Column) -> int:
    """Present values that are integers (a parsed number counts when its fractional part is zero)."""
    if column.num_integral is None:
        column.num_integral = int(np.count_nonzero(column.numbers == np.trunc(column.numbers)))
    return column.num_integral


def as_text(column: Column) -> np.ndarray:
    """A numeric column's values as text (integers without ".0"), to compare it with a String baseline."""
    values = column.numbers
    if column.inferred_type == "Integral":
        return np.array([str(int(v)) for v in values], dtype=object)
    return np.array([repr(float(v)) for v in values], dtype=object)


def bucket_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bucket ``[e_i, e_i+1)``, the end buckets open-ended: values below the first edge
    count in the first bucket and values above the last in the last (``np.histogram`` for values inside).

    >>> bucket_counts(np.array([-5.0, 0.0, 0.5, 1.0, 9.0]), np.array([0.0, 0.5, 1.0])).tolist()
    [2, 3]
    """
    inner = np.searchsorted(sorted_values, edges[1:-1], side="left")
    return np.diff(np.concatenate(([0], inner, [len(sorted_values)])))


def category_counts(strings: np.ndarray) -> list[tuple[str, int]]:
    """(value, count) pairs, most frequent first, ties by value."""
    if strings is None or len(strings) == 0:
        return []
    import pandas as pd

    counts = pd.Series(strings, dtype=object).value_counts(sort=False)
    pairs = sorted(zip(counts.index.tolist(), counts.tolist()), key=lambda p: (-p[1], p[0]))
    return [(str(v), int(c)) for v, c in pairs]

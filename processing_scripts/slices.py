"""Slices of the test set where the model is significantly worse: the evaluation's slice findings.

A *slice* is the rows where one low-cardinality feature column takes one value (a missing value is a
level of its own). Columns are named as Model Monitor names headerless label-first data, and as the
drift report names them: the label ``_c0``, the features ``_c1``, ``_c2``, ...

- :func:`read_slice_columns` reads the label-first test CSV(s) the transform scored, in its order (row
  ``i`` of the predictions is row ``i`` of the files), and keeps the feature columns with at most
  ``max_levels`` distinct values, each as one small-integer code per row.
- :func:`slice_analysis` measures every slice: AUC with its DeLong interval, precision/recall/F1 at the
  decision threshold, and the one-sided test that its AUC is below the AUC of all the other rows
  (independent groups, DeLong standard errors); with the champion's scores on the same rows, also the
  paired DeLong test that the champion's AUC is above the challenger's on the slice. Each family of
  tests gets a Holm–Bonferroni correction across every slice tested (family-wise ``alpha``); a slice
  with fewer than ``min_rows`` rows or ``min_class_rows`` of a class (in it, or in the rest) is listed
  as not tested, never as a finding. Findings (``{finding, evidence, action, kind, ...}``) are raised
  for significant slices only.

Everything is vectorised: one sort of the scores per model, then per column a stable (radix) sort of
its codes, and per slice work proportional to the slice's rows; the DeLong statistics of "the rest"
come from the whole set's minus the slice's, in closed form (:func:`_delongs`). Results are
JSON-ready (``json.dumps(..., allow_nan=False)``): an undefined number is ``None``.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Callable, Sequence

import numpy as np

from . import fast_csv, labelled, metrics, paired, uncertainty
from .text_files import DataError, check_text, iter_blocks, shown_value

MAX_LEVELS = 20  # a column with more distinct values (missing counted as one) is not sliced
FAMILY_WISE_ALPHA = 0.05
MIN_ROWS = 50  # rows a slice (and the rest) needs to be tested
MIN_CLASS_ROWS = 20  # positives and negatives a slice (and the rest) needs: DeLong's normal approximation
MISSING = "missing"  # the level name of an empty (or nan) field
BLOCK_BYTES = 32 << 20  # test data is parsed this many bytes of whole lines at a time
# A text column with more raw spellings than this many times max_levels is taken as high-cardinality
# without normalising its spellings (" 1", "1.0" and "1" are one level).
_SPELLINGS_PER_LEVEL = 50
_LINE_END = re.compile(rb"[\r\n]")
_VISIBLE = re.compile(rb"[^ \t\r\n]")
_FIX = "pass the test data the transform scored (--test-data), the same files in the same order"


# --- reading the columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SliceColumn:
    """One low-cardinality feature column: a level code per row."""

    name: str  # "_c3": field 4 of a label-first row
    codes: np.ndarray  # int16, one per row, indexing ``levels``
    levels: tuple[str, ...]  # display names: numbers as written canonically ("2", "0.5"), text stripped, MISSING
    values: tuple  # JSON values of the levels: a number, a string, or None (missing)


@dataclass(frozen=True)
class SliceColumns:
    """The sliceable columns of a test set, row-aligned with its predictions."""

    columns: tuple[SliceColumn, ...]
    rows: int
    labels: np.ndarray  # int8, the test files' labels
    files: tuple[str, ...]  # as shown in messages
    skipped: tuple[tuple[str, str], ...]  # (column, why it is not sliced)
    max_levels: int


class _Levels:
    """One column's levels, gathered block by block; dead once it has more than ``max_levels``."""

    def __init__(self, index: int, max_levels: int) -> None:
        self.index, self.max_levels = index, max_levels
        self.ids: dict = {}  # level key -> id in order of appearance; key None is the missing level
        self.codes: list[np.ndarray] = []
        self.dead = False

    def add(self, series) -> None:
        import pandas as pd

        if self.dead:
            return
        kind = series.dtype.kind
        if kind in "iuf":
            codes, uniques = pd.factorize(series.to_numpy(dtype=np.float64, na_value=np.nan), use_na_sentinel=True)
            if len(uniques) > self.max_levels:
                return self._die()
            keys = [("n", float(u)) for u in uniques]
        else:  # text (or booleans): normalise each distinct spelling
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            if len(uniques) > _SPELLINGS_PER_LEVEL * self.max_levels:
                return self._die()
            keys = [_text_key(u) for u in uniques]
        lookup = np.array([self.ids.setdefault(key, len(self.ids)) for key in keys] or [0], dtype=np.int16)
        if (codes < 0).any():
            missing = self.ids.setdefault(None, len(self.ids))
            lookup = np.append(lookup, np.int16(missing))  # index -1: the missing level
        if len(self.ids) > self.max_levels:
            return self._die()
        self.codes.append(lookup[codes])

    def _die(self) -> None:
        self.dead, self.codes = True, []

    def column(self) -> SliceColumn | str:
        """The column, levels sorted (numbers, then text, then missing), or why it is not sliced."""
        if self.dead:
            return f"more than {self.max_levels} distinct values"
        if len(self.ids) < 2:
            return "one value on every row"
        keys = sorted(self.ids, key=lambda k: (2, 0, "") if k is None else (0, k[1], "") if k[0] == "n" else (1, 0, k[1]))
        remap = np.empty(len(keys), dtype=np.int16)
        for new, key in enumerate(keys):
            remap[self.ids[key]] = new
        codes = remap[np.concatenate(self.codes)]
        return SliceColumn(f"_c{self.index}", codes, tuple(_level_name(k) for k in keys),
                           tuple(_level_value(k) for k in keys))


def _text_key(value) -> tuple | None:
    if isinstance(value, (bool, np.bool_)):
        return ("s", str(bool(value)))
    text = str(value).strip(" \t")
    if not text:  # a field of spaces holds no value either
        return None
    number = labelled.number(text)
    if number is None:
        return ("s", text)
    return None if math.isnan(number) else ("n", number + 0.0)  # -0.0 is 0


def _level_name(key) -> str:
    if key is None:
        return MISSING
    if key[0] == "s":
        return key[1]
    value = key[1]
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _level_value(key):
    if key is None:
        return None
    if key[0] == "s" or not math.isfinite(key[1]):
        return _level_name(key) if key[0] == "n" else key[1]
    return int(key[1]) if key[1].is_integer() and abs(key[1]) < 2**53 else key[1]


def _parse(text: bytes, usecols: list[int] | None):
    import pandas as pd

    return pd.read_csv(io.BytesIO(text), header=None, usecols=usecols, keep_default_na=False, na_values=[""],
                       engine="c", low_memory=False, skip_blank_lines=True)


def _first_fields(text: bytes) -> int:
    """Fields of the first non-empty line (0: broken quoting there)."""
    start = len(text) - len(text.lstrip(b"\r\n"))
    end = _LINE_END.search(text, start)
    fields = labelled.split_fields(text[start:end.start() if end else len(text)].decode("utf-8", errors="replace"))
    return len(fields) if isinstance(fields, list) else 0


def read_slice_columns(test_files: Sequence[Path], *, expected_rows: int, max_levels: int = MAX_LEVELS,
                       shown: Callable[[Path], str] = str, expected_labels=None,
                       block_bytes: int = BLOCK_BYTES) -> SliceColumns:
    """The feature columns with at most ``max_levels`` distinct values of the label-first, headerless
    ``test_files`` (in the transform's order, as ``evaluate.test_data_files`` lists them).

    ``expected_rows`` is the predictions' row count, and ``expected_labels`` (optional) their labels:
    a test set that differs is a one-line :class:`DataError` naming the file and the fix, as is a row
    that breaks :mod:`labelled`'s rules (named by the line scan). ``shown`` names a file in messages.
    """
    if isinstance(max_levels, bool) or int(max_levels) != max_levels or not 2 <= max_levels <= 1000:
        raise ValueError(f"max_levels {max_levels!r} is not a whole number from 2 to 1000; pass e.g. {MAX_LEVELS}")
    width: int | None = None
    levels: list[_Levels] = []
    labels: list[np.ndarray] = []
    per_file: list[tuple[str, int]] = []
    for file in test_files:
        name = shown(file)
        check_text(file, name)
        rows_in_file, scanned = 0, False
        for block in iter_blocks(file, block_bytes):
            plain = fast_csv.unquote(block)
            text = bytes(block) if plain is None else bytes(plain)
            if not _VISIBLE.search(text):
                continue
            found = _first_fields(text)
            if width is None:
                width = found
                if width < 2:
                    labelled.check_file(file, name)
                    raise DataError(f"{name}: rows of {width} field; {labelled.LABEL_FIRST_FIX}")
                levels = [_Levels(i, int(max_levels)) for i in range(1, width)]
            live = [0] + [tracker.index for tracker in levels if not tracker.dead]
            try:
                frame = _parse(text, None if len(live) == width else live)
            except ValueError:  # pandas' tokenizer (ParserError): the line scan names the line
                frame = None
            # Every row must have `width` fields: with no quotes left, count the separators (pandas pads
            # a short row, and ignores a long one when given usecols); quoted commas: the line scan.
            if frame is None or found != width or (plain is not None and text.count(b",") != len(frame) * (width - 1)):
                _refuse(file, name, width, f"{name}: rows with other than {width} fields (as its first row); "
                                           "every row needs the same columns")
            if plain is None and not scanned:
                labelled.check_widths(file, name)
                scanned = True
            label = frame[0]
            values = label.to_numpy(dtype=np.float64, na_value=np.nan) if label.dtype.kind in "iuf" else None
            if values is None or not ((values == 0) | (values == 1)).all():
                _refuse(file, name, width, f"{name}: a label is not 0 or 1; {labelled.LABEL_FIRST_FIX}")
            labels.append(values.astype(np.int8))
            for tracker in levels:
                if not tracker.dead:
                    tracker.add(frame[tracker.index])
            rows_in_file += len(frame)
        per_file.append((name, rows_in_file))
    rows = sum(count for _, count in per_file)
    if rows != expected_rows:
        listed = ", ".join(f"{name} ({count} rows)" for name, count in per_file[:3])
        more = f" and {len(per_file) - 3} more files" if len(per_file) > 3 else ""
        raise DataError(f"test data {listed or '(no files)'}{more}: {rows} rows but the predictions have "
                        f"{expected_rows}; {_FIX}")
    all_labels = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int8)
    if expected_labels is not None:
        _check_labels(all_labels, np.asarray(expected_labels), per_file)
    columns, skipped = [], []
    for tracker in levels:
        column = tracker.column()
        if isinstance(column, str):
            skipped.append((f"_c{tracker.index}", column))
        else:
            columns.append(column)
    return SliceColumns(tuple(columns), rows, all_labels, tuple(name for name, _ in per_file), tuple(skipped),
                        int(max_levels))


def _refuse(file: Path, name: str, width: int, message: str) -> None:
    """Raise the line scan's message (it names the line), else ``message``."""
    labelled.check_file(file, name, width=width, numeric=False)
    raise DataError(message)


def _check_labels(labels: np.ndarray, expected: np.ndarray, per_file: list[tuple[str, int]]) -> None:
    if len(expected) != len(labels):
        raise DataError(f"{len(expected)} expected labels for {len(labels)} test rows; {_FIX}")
    differ = labels != expected
    if not differ.any():
        return
    i = int(np.argmax(differ))
    start = 0
    for name, count in per_file:
        if i < start + count:
            raise DataError(f"{name} row {i - start + 1}: label {int(labels[i])} but row {i + 1} of the predictions "
                            f"has label {int(expected[i])}: these are not the rows the transform scored; {_FIX}")
        start += count


# --- statistics ---------------------------------------------------------------------------------------


def _p_below(difference: float, standard_error: float) -> float:
    """One-sided p-value of H0: difference >= 0 against difference < 0 (normal approximation)."""
    if math.isnan(standard_error):
        return float("nan")
    if standard_error == 0:
        return 0.0 if difference < 0 else 1.0 if difference > 0 else 0.5
    return NormalDist().cdf(difference / standard_error)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control under any dependence).

    >>> [round(p, 4) for p in holm([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.09, 0.09, 0.5]
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


@dataclass(frozen=True)
class _Whole:
    """The whole set's score grid and the DeLong sums the rest of any slice is computed from."""

    table: metrics.ScoreTable
    grid: np.ndarray  # each row's index into table.values
    order: np.ndarray  # rows by ascending score (stable)
    nb: np.ndarray  # negatives below each grid value, ties half
    pa: np.ndarray  # positives above each grid value, ties half
    prefix_pos: np.ndarray  # length K+1 prefix sums of pos, pos*nb, neg, neg*pa
    prefix_pos_nb: np.ndarray
    prefix_neg: np.ndarray
    prefix_neg_pa: np.ndarray
    wins: float  # Σ pos·nb, Σ pos·nb², Σ neg·pa²
    q10: float
    q01: float

    @classmethod
    def of(cls, y: np.ndarray, s: np.ndarray) -> "_Whole":
        order = np.argsort(s, kind="stable")
        ordered = s[order]
        start = np.concatenate([[True], ordered[1:] != ordered[:-1]])
        grid = np.empty(len(s), dtype=np.int64)
        grid[order] = np.cumsum(start) - 1
        starts = np.flatnonzero(start)
        pos = np.add.reduceat(y[order].astype(np.int64), starts)
        neg = np.diff(np.append(starts, len(s))) - pos
        table = metrics.ScoreTable(ordered[starts], pos, neg)
        nb = (np.cumsum(neg) - neg) + neg / 2.0
        pa = (table.n_pos - np.cumsum(pos)) + pos / 2.0

        def prefix(values):
            return np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])

        return cls(table, grid, order, nb, pa, prefix(pos), prefix(pos * nb), prefix(neg), prefix(neg * pa),
                   _dot(pos, nb), _dot(pos, nb * nb), _dot(neg, pa * pa))


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b without BLAS (whose threads cost more than the sum on a busy machine)."""
    return float(np.einsum("i,i->", a, b, dtype=np.float64))


class _Steps:
    """Σ_i F[i]·h[i] over the whole grid, for F given by its prefix sums and h a step function that
    changes only at the slice's grid values ``g``: ``before`` below g[0], ``at[j]`` at g[j],
    ``between[j]`` strictly between g[j] and g[j+1] (or the grid's end). O(len(g)), not O(grid)."""

    def __init__(self, prefix: np.ndarray, g: np.ndarray) -> None:
        below, through = prefix[g], prefix[g + 1]
        self.first = float(below[0])  # Σ F below g[0]
        self.at = through - below  # F[g[j]]
        self.between = np.append(below[1:], prefix[-1]) - through  # Σ F strictly between g[j] and g[j+1]

    def sum(self, before: float, at: np.ndarray, between: np.ndarray) -> float:
        return before * self.first + _dot(at, self.at) + _dot(between, self.between)


def _delong_from_sums(m: int, n: int, wins: float, q10: float, q01: float) -> tuple[float, float]:
    """(AUC, DeLong standard error) from Σ pos·NB, Σ pos·NB², Σ neg·PA² of a group (NaN: no AUC, or too
    few rows of a class for a standard error)."""
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    auc = wins / (m * n)
    if m < 2 or n < 2:
        return auc, float("nan")
    s10 = max(q10 / (n * n) - m * auc * auc, 0.0) / (m - 1)
    s01 = max(q01 / (m * m) - n * auc * auc, 0.0) / (n - 1)
    return auc, math.sqrt(s10 / m + s01 / n)


def _delongs(whole: _Whole, g: np.ndarray, sp: np.ndarray, sn: np.ndarray, *, closed_form: bool | None = None
             ) -> tuple[tuple[float, float], tuple[float, float]]:
    """((AUC, DeLong standard error) of a slice, the same of every other row), from the slice's grid
    values ``g`` (ascending, distinct) and its positives ``sp`` and negatives ``sn`` at each; NaN where
    undefined (see :func:`_delong_from_sums`).

    The slice's own sums come from its cumulative counts. The rest's, in closed form (``closed_form=None``:
    when the slice holds at most half the rows, so that the rest's sums are not a small difference of
    large ones): its counts are the whole's minus the slice's, so its negatives-below are NB − NB_S,
    where NB_S is a step function changing only at the slice's values (:class:`_Steps`). Otherwise the
    rest's table is built on the whole grid and measured by :func:`uncertainty.delong`.
    """
    t = whole.table
    if not len(g):  # a level without rows (only in hand-built columns): the rest is every row
        return (float("nan"), float("nan")), uncertainty.delong(t)
    m_s, n_s = int(sp.sum()), int(sn.sum())
    m_r, n_r = t.n_pos - m_s, t.n_neg - n_s
    sp, sn = sp.astype(np.float64), sn.astype(np.float64)
    cum_neg, cum_pos = np.cumsum(sn), np.cumsum(sp)
    nbs_at, nbs_between = cum_neg - sn / 2, cum_neg  # the slice's negatives below each value, ties half
    pas_at, pas_between = (m_s - cum_pos) + sp / 2, m_s - cum_pos  # its positives above
    wins_s = _dot(sp, nbs_at)
    own = _delong_from_sums(m_s, n_s, wins_s, _dot(sp, nbs_at ** 2), _dot(sn, pas_at ** 2))
    if m_r == 0 or n_r == 0:
        return own, (float("nan"), float("nan"))
    if closed_form is None:
        closed_form = 2 * (m_s + n_s) <= t.n
    if not closed_form:
        pos, neg = t.pos.copy(), t.neg.copy()
        pos[g] -= sp.astype(np.int64)
        neg[g] -= sn.astype(np.int64)
        return own, uncertainty.delong(metrics.ScoreTable(t.values, pos, neg))
    nb_g, pa_g = whole.nb[g], whole.pa[g]
    pos_steps, pos_nb_steps = _Steps(whole.prefix_pos, g), _Steps(whole.prefix_pos_nb, g)
    neg_steps, neg_pa_steps = _Steps(whole.prefix_neg, g), _Steps(whole.prefix_neg_pa, g)
    # Σ pos_R·NB_R with pos_R = pos − pos_S and NB_R = NB − NB_S, expanded; likewise the squares.
    wins = whole.wins - pos_steps.sum(0.0, nbs_at, nbs_between) - _dot(sp, nb_g) + wins_s
    q10 = (whole.q10 - 2 * pos_nb_steps.sum(0.0, nbs_at, nbs_between)
           + pos_steps.sum(0.0, nbs_at ** 2, nbs_between ** 2)
           - _dot(sp, nb_g ** 2) + 2 * _dot(sp, nb_g * nbs_at) - _dot(sp, nbs_at ** 2))
    q01 = (whole.q01 - 2 * neg_pa_steps.sum(m_s, pas_at, pas_between)
           + neg_steps.sum(m_s * m_s, pas_at ** 2, pas_between ** 2)
           - _dot(sn, pa_g ** 2) + 2 * _dot(sn, pa_g * pas_at) - _dot(sn, pas_at ** 2))
    return own, _delong_from_sums(m_r, n_r, wins, q10, q01)


def _runs(grid_sorted: np.ndarray) -> np.ndarray:
    """Start of each run of equal values in a sorted array."""
    return np.flatnonzero(np.concatenate([[True], grid_sorted[1:] != grid_sorted[:-1]]))


def _placements(y_sorted: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """DeLong's structural component of each row of a group sorted by score (runs of ties at ``starts``):
    for a positive, the share of the group's negatives below it; for a negative, the share of its
    positives above it (ties half)."""
    counts = np.diff(np.append(starts, len(y_sorted)))
    pos = np.add.reduceat(y_sorted.astype(np.int64), starts)
    neg = counts - pos
    m, n = int(pos.sum()), int(neg.sum())
    v10 = ((np.cumsum(neg) - neg) + neg / 2.0) / max(n, 1)
    v01 = ((m - np.cumsum(pos)) + pos / 2.0) / max(m, 1)
    run = np.repeat(np.arange(len(starts)), counts)
    return np.where(y_sorted == 1, v10[run], v01[run])


def _interval(value: float, standard_error: float, low: float, high: float, level: float) -> tuple[float, float]:
    return uncertainty.normal_interval(value, standard_error, low=low, high=high, level=level)


def _number(value) -> float | None:
    """JSON: a finite float, or None."""
    return None if value is None or not math.isfinite(value) else float(value)


def _group(order: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rows grouped by level (ascending), each group in ``order`` (a stable radix sort of the codes)."""
    return order[np.argsort(codes[order], kind="stable")]


def slice_analysis(y_true, y_score, columns: SliceColumns, *, threshold: float, champion_scores=None,
                   alpha: float = FAMILY_WISE_ALPHA, min_rows: int = MIN_ROWS, min_class_rows: int = MIN_CLASS_ROWS,
                   level: float = uncertainty.CONFIDENCE_LEVEL) -> dict:
    """Every slice of ``columns`` measured and tested; findings for the significant ones (module docstring).

    ``y_true``/``y_score``: the challenger's labels and scores, row-aligned with ``columns``;
    ``champion_scores``: the champion's scores on the same rows (None: no champion comparison);
    ``threshold``: the decision threshold (precision/recall/F1 per slice). Intervals are at ``level``.
    Returns (numbers that are undefined are None)::

        {"method": one line, "family_wise_alpha", "min_rows", "min_class_rows", "max_levels",
         "overall": {"rows", "positives", "auc", "auc_lower", "auc_upper",
                     "champion": {"auc_challenger", "auc_champion", "difference", "standard_error",
                                  "lower", "upper"}},                         # with champion_scores
         "columns": [{"column": "_c2", "levels": ["0", "1", "missing"]}],
         "skipped_columns": [{"column": "_c5", "reason": "more than 20 distinct values"}],
         "tests": {"slice": slices tested, "champion_slice": slices compared with the champion},
         "slices": [{"column", "level", "value", "missing", "rows", "positives", "share_of_rows",
                     "auc", "auc_standard_error", "auc_lower", "auc_upper", "precision", "recall", "f1",
                     "rest": {"rows", "positives", "auc", "auc_lower", "auc_upper", "precision", "recall", "f1"},
                     "tested", "not_tested": why not (None when tested), "significant",
                     "difference": None, or {"value" (slice - rest), "standard_error", "lower", "upper",
                                             "p_value", "adjusted_p_value", "significant"},
                     "champion": {"tested", "not_tested", "significant", and when tested "auc_challenger",
                                  "auc_champion", "difference" (challenger - champion), "standard_error",
                                  "lower", "upper", "p_value", "adjusted_p_value"}}],  # with champion_scores
         "findings": [{"kind": "slice" | "champion_slice", "finding", "evidence", "action", "column",
                       "level", "value", "missing", "rows", "positives", "difference", "lower", "upper",
                       "p_value", "adjusted_p_value", and "auc", "auc_rest" (slice) or "auc_challenger",
                       "auc_champion" (champion_slice)}]}

    Findings come slice findings first, each kind by adjusted p-value. Raises ``metrics.InputError`` for
    labels or scores no AUC can be computed from, or a row count other than ``columns.rows``.
    """
    level = uncertainty.check_level(level)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha {alpha!r} is not between 0 and 1; pass e.g. {FAMILY_WISE_ALPHA}")
    if int(min_rows) != min_rows or int(min_class_rows) != min_class_rows or min_class_rows < 2 or min_rows < 4:
        raise ValueError(f"min_rows {min_rows!r} / min_class_rows {min_class_rows!r}: pass whole numbers, at "
                         "least 4 rows and 2 of each class (DeLong's variance needs two of each)")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold {threshold!r} is not a finite number; pass the decision threshold, e.g. 0.5")
    if champion_scores is None:
        y, s = metrics.check_binary_inputs(y_true, y_score)
        b = None
    else:
        y, s, b = paired.check_paired_inputs(y_true, y_score, champion_scores)
    if columns.rows != len(y):
        raise metrics.InputError(f"{columns.rows} test rows were sliced but there are {len(y)} predictions; {_FIX}")
    whole = _Whole.of(y, s)
    champion_whole = _Whole.of(y, b) if b is not None else None
    n = len(y)
    auc, se = uncertainty.delong(whole.table)
    overall = {"rows": n, "positives": whole.table.n_pos, "auc": _number(auc),
               "auc_lower": _number(_interval(auc, se, 0, 1, level)[0]),
               "auc_upper": _number(_interval(auc, se, 0, 1, level)[1])}
    if b is not None:
        overall["champion"] = _paired(y, b, whole.order, champion_whole.order, whole, champion_whole, level)
    tn_t, fp_t, fn_t, tp_t = metrics.confusion_counts(whole.table, threshold)
    scratch = np.empty(n) if b is not None else None

    slices = []
    for column in columns.columns:
        codes = column.codes
        grouped = _group(whole.order, codes)
        grouped_b = _group(champion_whole.order, codes) if b is not None else None
        bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(column.levels)))])
        for k, name in enumerate(column.levels):
            rows_k = grouped[bounds[k]:bounds[k + 1]]
            entry = _slice(column, k, rows_k, y, s, whole, threshold, (tn_t, fp_t, fn_t, tp_t), level,
                           min_rows, min_class_rows)
            if b is not None:
                entry["champion"] = _champion_slice(y, s, b, rows_k, grouped_b[bounds[k]:bounds[k + 1]], whole,
                                                    champion_whole, scratch, level, min_rows, min_class_rows)
            slices.append(entry)

    _adjust([e["difference"] for e in slices if e["tested"]], alpha)
    champion_tests = [e["champion"] for e in slices if b is not None and e["champion"]["tested"]]
    _adjust(champion_tests, alpha)
    for entry in slices:
        entry["significant"] = bool(entry["tested"] and entry["difference"]["significant"])
    tested = sum(e["tested"] for e in slices)
    findings = _findings(slices, tested, len(champion_tests), overall, threshold, level)
    return {
        "method": method_line(columns.max_levels, alpha, min_rows, min_class_rows, champion=b is not None),
        "family_wise_alpha": alpha, "min_rows": int(min_rows), "min_class_rows": int(min_class_rows),
        "max_levels": columns.max_levels,
        "overall": overall,
        "columns": [{"column": c.name, "levels": list(c.levels)} for c in columns.columns],
        "skipped_columns": [{"column": name, "reason": why} for name, why in columns.skipped],
        "tests": {"slice": tested, "champion_slice": len(champion_tests)},
        "slices": slices,
        "findings": findings,
    }


def method_line(max_levels: int, alpha: float, min_rows: int, min_class_rows: int, *, champion: bool) -> str:
    """The one line that says how the slices were tested."""
    line = (f"Slices: each value of every feature column with at most {max_levels} distinct values (missing is a "
            f"value); one-sided test that a slice's AUC is below the other rows' (independent groups, DeLong "
            f"standard errors)")
    if champion:
        line += "; one-sided paired DeLong test that the champion's AUC is above the challenger's on the slice"
    return (line + f"; Holm–Bonferroni across every slice tested, family-wise {alpha:.0%}; tested only with at "
            f"least {min_rows} rows and {min_class_rows} of each class in the slice and in the rest.")


def _not_tested(rows: int, m: int, where: str, min_rows: int, min_class_rows: int) -> str | None:
    if rows < min_rows:
        return f"{rows} rows {where}, fewer than {min_rows}"
    if m < min_class_rows:
        return f"{m} positives {where}, fewer than {min_class_rows}"
    if rows - m < min_class_rows:
        return f"{rows - m} negatives {where}, fewer than {min_class_rows}"
    return None


def _slice(column: SliceColumn, k: int, rows_k: np.ndarray, y: np.ndarray, s: np.ndarray, whole: _Whole,
           threshold: float, totals: tuple, level: float, min_rows: int, min_class_rows: int) -> dict:
    y_k, g_k = y[rows_k], whole.grid[rows_k]
    starts = _runs(g_k) if len(rows_k) else np.zeros(0, dtype=np.int64)
    counts = np.diff(np.append(starts, len(rows_k)))
    sp = np.add.reduceat(y_k.astype(np.int64), starts) if len(rows_k) else np.zeros(0, dtype=np.int64)
    sn = counts - sp
    g = g_k[starts]
    rows, m = len(rows_k), int(sp.sum())
    rest_rows, rest_m = whole.table.n - rows, whole.table.n_pos - m
    reason = (_not_tested(rows, m, "in the slice", min_rows, min_class_rows)
              or _not_tested(rest_rows, rest_m, "in the other rows", min_rows, min_class_rows))
    table = metrics.ScoreTable(whole.table.values[g], sp, sn)
    both = 0 < m < rows
    (auc, se), (rest_auc, rest_se) = _delongs(whole, g, sp, sn)
    tn, fp, fn, tp = metrics.confusion_counts(table, threshold)
    tn_t, fp_t, fn_t, tp_t = totals
    here = metrics.threshold_metrics(tn, fp, fn, tp)
    there = metrics.threshold_metrics(tn_t - tn, fp_t - fp, fn_t - fn, tp_t - tp)
    lo, hi = _interval(auc, se, 0, 1, level)
    rlo, rhi = _interval(rest_auc, rest_se, 0, 1, level)
    entry = {
        "column": column.name, "level": column.levels[k], "value": column.values[k],
        "missing": column.values[k] is None,
        "rows": rows, "positives": m, "share_of_rows": rows / whole.table.n,
        "auc": _number(auc) if both else None, "auc_standard_error": _number(se),
        "auc_lower": _number(lo) if both else None, "auc_upper": _number(hi) if both else None,
        "precision": float(here["precision"]), "recall": float(here["recall"]) if m else None,
        "f1": float(here["f1"]),
        "rest": {"rows": rest_rows, "positives": rest_m, "auc": _number(rest_auc),
                 "auc_lower": _number(rlo) if math.isfinite(rest_auc) else None,
                 "auc_upper": _number(rhi) if math.isfinite(rest_auc) else None,
                 "precision": float(there["precision"]), "recall": float(there["recall"]) if rest_m else None,
                 "f1": float(there["f1"])},
        "tested": reason is None, "not_tested": reason, "difference": None, "significant": False,
    }
    if reason is None:
        difference = auc - rest_auc
        error = math.sqrt(se * se + rest_se * rest_se)
        dlo, dhi = _interval(difference, error, -1, 1, level)
        entry["difference"] = {"value": difference, "standard_error": _number(error), "lower": dlo, "upper": dhi,
                               "p_value": _p_below(difference, error)}
    return entry


def _paired(y: np.ndarray, b: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray, whole: _Whole,
            champion_whole: _Whole, level: float, scratch: np.ndarray | None = None) -> dict:
    """Challenger-minus-champion AUC on a group of rows, paired DeLong (equal to
    :func:`paired.paired_auc_difference` on those rows); ``rows_a``/``rows_b``: the group by each
    model's ascending score."""
    scratch = np.empty(len(y)) if scratch is None else scratch
    y_a, y_b = y[rows_a], y[rows_b]
    a_place = _placements(y_a, _runs(whole.grid[rows_a]))
    scratch[rows_b] = _placements(y_b, _runs(champion_whole.grid[rows_b]))
    b_place = scratch[rows_a]
    positive = y_a == 1
    m, n = int(positive.sum()), int((~positive).sum())
    auc_a, auc_b = float(a_place[positive].mean()), float(b_place[positive].mean())
    difference = auc_a - auc_b
    if m < 2 or n < 2:
        error = float("nan")
    else:
        d10, d01 = a_place[positive] - b_place[positive], a_place[~positive] - b_place[~positive]
        error = math.sqrt(np.var(d10, ddof=1) / m + np.var(d01, ddof=1) / n)
    lo, hi = _interval(difference, error, -1, 1, level)
    return {"auc_challenger": auc_a, "auc_champion": auc_b, "difference": difference,
            "standard_error": _number(error), "lower": lo, "upper": hi}


def _champion_slice(y, s, b, rows_a, rows_b, whole, champion_whole, scratch, level, min_rows, min_class_rows) -> dict:
    m = int(y[rows_a].sum())
    reason = _not_tested(len(rows_a), m, "in the slice", min_rows, min_class_rows)
    if reason is not None:
        return {"tested": False, "not_tested": reason, "significant": False}
    result = _paired(y, b, rows_a, rows_b, whole, champion_whole, level, scratch)
    result["p_value"] = _p_below(result["difference"], float("nan") if result["standard_error"] is None
                                 else result["standard_error"])
    return {"tested": True, "not_tested": None, **result, "significant": False}


def _adjust(tests: list[dict], alpha: float) -> None:
    """Holm-adjusted p-values and significance, in place, across one family of tests."""
    p = [1.0 if math.isnan(t["p_value"]) else t["p_value"] for t in tests]
    for test, adjusted in zip(tests, holm(p) if p else []):
        test["p_value"] = _number(test["p_value"])
        test["adjusted_p_value"] = adjusted
        test["significant"] = adjusted <= alpha


# --- findings -----------------------------------------------------------------------------------------


def _where(entry: dict) -> str:
    if entry["missing"]:
        return f"{entry['column']} is missing"
    value = entry["value"]
    shown = entry["level"] if isinstance(value, (int, float)) and not isinstance(value, bool) else shown_value(entry["level"])
    return f"{entry['column']} = {shown}"


def _p(value: float) -> str:
    """``= 0.028``; below 1e-12, where a normal approximation's tail means nothing more, ``< 1e-12``."""
    return "< 1e-12" if value < 1e-12 else f"= {value:.2g}"


def _findings(slices: list[dict], tested: int, champion_tested: int, overall: dict, threshold: float,
              level: float) -> list[dict]:
    found = []
    for entry in slices:
        d = entry["difference"]
        if entry["tested"] and d["significant"]:
            found.append(_slice_finding(entry, tested, threshold, f"{level:.0%} CI"))
        c = entry.get("champion")
        if c is not None and c["tested"] and c["significant"]:
            found.append(_champion_finding(entry, champion_tested, overall, f"{level:.0%} CI"))
    return sorted(found, key=lambda f: (f["kind"] != "slice", f["adjusted_p_value"], f["difference"]))


def _slice_finding(entry: dict, tested: int, threshold: float, ci: str) -> dict:
    where, d, rest = _where(entry), entry["difference"], entry["rest"]
    recall = ""
    if entry["recall"] is not None and rest["recall"] is not None:
        recall = (f"; at the decision threshold {threshold:.3g} recall is {entry['recall']:.2f} there vs "
                  f"{rest['recall']:.2f} elsewhere")
    evidence = (f"{where}: AUC {entry['auc']:.3f} ({ci} {entry['auc_lower']:.3f}–{entry['auc_upper']:.3f}) on "
                f"{entry['rows']:,} rows ({entry['positives']:,} positive); the other {rest['rows']:,} rows: AUC "
                f"{rest['auc']:.3f} ({rest['auc_lower']:.3f}–{rest['auc_upper']:.3f}); difference {d['value']:+.3f} "
                f"({ci} {d['lower']:+.3f} to {d['upper']:+.3f}), one-sided DeLong test, Holm-adjusted "
                f"p {_p(d['adjusted_p_value'])} across {tested} slices{recall}.")
    if entry["missing"]:
        action = (f"Find out why {entry['column']} is missing on these {entry['rows']:,} rows; impute it or give "
                  f"the model a missing-value indicator for it, and check those rows' labels; then evaluate again "
                  f"and compare this slice's AUC.")
    else:
        action = (f"Collect more training rows where {where} (they are {entry['share_of_rows']:.1%} of the test "
                  f"rows), or give the model {entry['column']} as a feature, an interaction or a separate segment "
                  f"model; check those rows' labels and features for errors; then evaluate again and compare this "
                  f"slice's AUC.")
    return {"kind": "slice",
            "finding": f"The model ranks rows where {where} significantly worse than the rest: AUC "
                       f"{entry['auc']:.3f} against {rest['auc']:.3f}.",
            "evidence": evidence, "action": action,
            "column": entry["column"], "level": entry["level"], "value": entry["value"], "missing": entry["missing"],
            "rows": entry["rows"], "positives": entry["positives"], "auc": entry["auc"], "auc_rest": rest["auc"],
            "difference": d["value"], "lower": d["lower"], "upper": d["upper"], "p_value": d["p_value"],
            "adjusted_p_value": d["adjusted_p_value"]}


def _champion_finding(entry: dict, tested: int, overall: dict, ci: str) -> dict:
    where, c = _where(entry), entry["champion"]
    whole = overall.get("champion") or {}
    overall_text = ""
    if whole:
        overall_text = (f"; on all {overall['rows']:,} rows challenger minus champion is {whole['difference']:+.3f} "
                        f"({ci} {whole['lower']:+.3f} to {whole['upper']:+.3f})")
    evidence = (f"{where} ({entry['rows']:,} rows, {entry['positives']:,} positive): challenger AUC "
                f"{c['auc_challenger']:.3f}, champion {c['auc_champion']:.3f}; paired difference "
                f"{c['difference']:+.3f} ({ci} {c['lower']:+.3f} to {c['upper']:+.3f}), one-sided paired DeLong "
                f"test, Holm-adjusted p {_p(c['adjusted_p_value'])} across {tested} slices{overall_text}.")
    action = (f"Before replacing the champion, compare what changed for rows where {where} (training rows, "
              f"features, preprocessing): retrain the challenger with more such rows or with {entry['column']} "
              f"as a feature, or keep the champion for that segment; then evaluate again and compare this slice.")
    return {"kind": "champion_slice",
            "finding": f"The champion ranks rows where {where} significantly better than the challenger: AUC "
                       f"{c['auc_champion']:.3f} against {c['auc_challenger']:.3f}.",
            "evidence": evidence, "action": action,
            "column": entry["column"], "level": entry["level"], "value": entry["value"], "missing": entry["missing"],
            "rows": entry["rows"], "positives": entry["positives"], "auc_challenger": c["auc_challenger"],
            "auc_champion": c["auc_champion"], "difference": c["difference"], "lower": c["lower"],
            "upper": c["upper"], "p_value": c["p_value"], "adjusted_p_value": c["adjusted_p_value"]}

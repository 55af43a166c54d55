"""Uncertainty of the metrics: the bootstrap, DeLong's standard error of AUC, and the confidence level.

Every interval evaluation.json reports is at :data:`CONFIDENCE_LEVEL`: percentile bootstrap intervals
(:func:`bootstrap`, :func:`summarize_replicates`) and normal ones from a standard error
(:func:`normal_interval`, e.g. AUC by DeLong). A standard deviation that cannot be estimated is
``nan`` here and the string ``"NaN"`` in JSON. Pure numpy; everything works from the one
:class:`metrics.ScoreTable`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from . import metric_catalog
from .metrics import (ScoreTable, average_precision, best_constant_metrics, clipped, confusion_counts, roc_auc,
                      threshold_metrics)

CONFIDENCE_LEVEL = 0.95
# SageMaker estimates a standard deviation only from this many rows on.
MIN_ROWS_FOR_STD = 200
# Most bootstrap resamples: the replicates (one float per metric and resample) stay a few tens of MB,
# and percentile bounds stop moving long before this.
MAX_RESAMPLES = 100_000
# Resampled cell counts are drawn this many values at a time (float64: 8 MB), whatever the resample count.
CHUNK_VALUES = 1 << 20


def check_resamples(n_resamples: int) -> int:
    """``n_resamples`` when it is a whole number from 0 to MAX_RESAMPLES; ValueError naming the range.

    >>> check_resamples(10**11)
    Traceback (most recent call last):
    ...
    ValueError: 100000000000 bootstrap resamples: expected 0 to 100000
    """
    if isinstance(n_resamples, bool) or int(n_resamples) != n_resamples or not 0 <= n_resamples <= MAX_RESAMPLES:
        raise ValueError(f"{n_resamples!r} bootstrap resamples: expected 0 to {MAX_RESAMPLES}")
    return int(n_resamples)


def check_level(level: float) -> float:
    """``level`` as a float when it is strictly between 0 and 1; ValueError naming the fix otherwise.

    >>> check_level(1.5)
    Traceback (most recent call last):
    ...
    ValueError: level 1.5 is not between 0 and 1; pass e.g. level=0.95
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level {level!r} is not between 0 and 1; pass e.g. level={CONFIDENCE_LEVEL}")
    return float(level)


def normal_quantile(level: float = CONFIDENCE_LEVEL) -> float:
    """z such that ``value ± z * standard_error`` is a two-sided normal interval at ``level``.

    >>> round(normal_quantile(0.95), 6), round(normal_quantile(0.9), 6)
    (1.959964, 1.644854)
    """
    return NormalDist().inv_cdf(0.5 + check_level(level) / 2)


def normal_interval(value: float, standard_error: float, *, low: float, high: float,
                    level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """(lower, upper): ``value ± z * standard_error`` clipped to [low, high]; all of it when the
    standard error is NaN (nothing is known).

    >>> normal_interval(0.9, 0.1, low=0.0, high=1.0), normal_interval(0.9, float("nan"), low=0.0, high=1.0)
    ((0.7040036015459946, 1.0), (0.0, 1.0))
    """
    if math.isnan(standard_error):
        return low, high
    z = normal_quantile(level)
    return max(low, value - z * standard_error), min(high, value + z * standard_error)


def delong(table: ScoreTable) -> tuple[float, float]:
    """(AUC, its standard error) by DeLong's method, from the placement values of the distinct scores.

    >>> auc, se = delong(ScoreTable.from_arrays(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])))
    >>> auc, round(se, 4)
    (0.75, 0.3536)
    """
    m, n = table.n_pos, table.n_neg
    auc = roc_auc(table)
    if m < 2 or n < 2:
        return auc, float("nan")
    # v10: share of negatives each positive outranks; v01: share of positives outranking each negative.
    v10 = (2.0 * (n - table.fp[:-1]) + table.neg) / (2.0 * n)
    v01 = (2.0 * table.tp[1:] + table.pos) / (2.0 * m)
    s10 = np.dot(table.pos, (v10 - auc) ** 2) / (m - 1)
    s01 = np.dot(table.neg, (v01 - auc) ** 2) / (n - 1)
    return auc, float(np.sqrt(s10 / m + s01 / n))



@dataclass(frozen=True)
class Cells:
    """Rows grouped by (class, score bin): what the ranking/probability bootstrap resamples."""

    table: ScoreTable  # bins as a table: one "value" (mean score) per bin, positives and negatives
    pos_log: np.ndarray  # Σ -log(p) of the positives in each bin
    neg_log: np.ndarray  # Σ -log(1-p) of the negatives in each bin
    pos_sq: np.ndarray  # Σ (p-1)² of the positives in each bin
    neg_sq: np.ndarray  # Σ p² of the negatives in each bin
    exact: bool  # one bin per distinct score: resampled ranking metrics are exact


def score_cells(table: ScoreTable, *, max_bins: int = 1024) -> Cells:
    """Group the distinct scores into at most ``max_bins`` bins of about equal row counts.

    With at most ``max_bins`` distinct scores every score is its own bin (exact). Otherwise rows tied
    within a bin are treated as tied by the bootstrap: a histogram approximation.

    >>> score_cells(ScoreTable.from_arrays(np.array([0, 1, 1]), np.array([0.2, 0.7, 0.7]))).exact
    True
    """
    k = len(table.values)
    exact = k <= max_bins
    if exact:
        bin_of = np.arange(k)
    else:
        # Bin by the rank of each distinct score's first row: equal-count (quantile) bins.
        rows_before = np.cumsum(table.pos + table.neg) - (table.pos + table.neg)
        ids = rows_before * max_bins // table.n  # non-decreasing: number its distinct runs
        bin_of = np.concatenate([[0], np.cumsum(ids[1:] != ids[:-1])])
    bins = int(bin_of[-1]) + 1

    def per_bin(weights) -> np.ndarray:
        return np.bincount(bin_of, weights=weights, minlength=bins)

    p = clipped(table.values)
    pos, neg = per_bin(table.pos), per_bin(table.neg)
    mean_score = per_bin((table.pos + table.neg) * table.values) / (pos + neg)
    binned = ScoreTable(mean_score, pos.astype(np.int64), neg.astype(np.int64))
    return Cells(
        binned,
        per_bin(table.pos * -np.log(p)),
        per_bin(table.neg * -np.log1p(-p)),
        per_bin(table.pos * (table.values - 1.0) ** 2),
        per_bin(table.neg * table.values**2),
        exact,
    )


def _auc_from_counts(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUC per resample from per-bin counts (rows: resamples; bins ascending by score)."""
    neg_below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return wins / (pos.sum(axis=1) * neg.sum(axis=1))


def _ap_from_counts(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Average precision per resample from per-bin counts (bins ascending by score)."""
    tp = np.cumsum(pos[:, ::-1], axis=1)
    fp = np.cumsum(neg[:, ::-1], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        return (pos[:, ::-1] * precision).sum(axis=1) / tp[:, -1]


def _per_row(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def bootstrap(
    table: ScoreTable,
    threshold: float,
    *,
    n_resamples: int,
    seed: int,
    cells: Cells | None = None,
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of every metric, without resampling rows one by one.

    Threshold metrics depend only on the four confusion counts, whose bootstrap distribution is
    Multinomial(n, counts/n): drawn exactly. Ranking and probability metrics are drawn from the
    (class, score-bin) cell counts, Multinomial(n, cells/n): exact when bins are the distinct scores.
    With a histogram the replicates are shifted by (exact − binned) full-sample value so intervals
    centre on the exact metric. Replicates whose resample holds a single class are NaN.

    >>> t = ScoreTable.from_arrays(np.arange(400) % 2, np.linspace(0, 1, 400))
    >>> r = bootstrap(t, 0.5, n_resamples=50, seed=0)
    >>> r["auc"].shape, bool(np.all((r["auc"] > 0.4) & (r["auc"] < 0.6)))
    ((50,), True)
    """
    n_resamples = check_resamples(n_resamples)
    rng = np.random.default_rng(seed)
    n = table.n
    tn, fp, fn, tp = confusion_counts(table, threshold)
    draws = rng.multinomial(n, np.array([tn, fp, fn, tp], dtype=np.float64) / n, size=n_resamples)
    btn, bfp, bfn, btp = draws.T
    one_class = (btp + bfn == 0) | (btn + bfp == 0)
    replicates = {k: np.where(one_class, np.nan, v) for k, v in threshold_metrics(btn, bfp, bfn, btp).items()}
    for k, v in best_constant_metrics(btp + bfn, btn + bfp).items():
        replicates[metric_catalog.best_constant_name(k)] = np.where(one_class, np.nan, v)

    cells = cells or score_cells(table)
    binned = cells.table
    k = len(binned.values)
    shares = np.concatenate([binned.pos, binned.neg]) / n
    # In chunks of resamples, so memory stays bounded; consecutive draws are the one-call stream.
    step = max(1, CHUNK_VALUES // (2 * k))
    parts = [score_replicates(table, cells, np.zeros((0, k)), np.zeros((0, k)))]
    for start in range(0, n_resamples, step):
        drawn = rng.multinomial(n, shares, size=min(step, n_resamples - start)).astype(np.float64)
        parts.append(score_replicates(table, cells, drawn[:, :k], drawn[:, k:]))
    replicates.update({name: np.concatenate([part[name] for part in parts]) for name in parts[0]})
    return replicates


def score_replicates(table: ScoreTable, cells: Cells, pos: np.ndarray, neg: np.ndarray) -> dict[str, np.ndarray]:
    """Replicates of every metric_catalog SCORE metric from resampled cell counts ``pos``, ``neg``
    (rows: resamples; columns: ``cells``' bins, ascending by score)."""
    binned = cells.table
    single = (pos.sum(axis=1) == 0) | (neg.sum(axis=1) == 0)
    ranking = {
        "auc": (_auc_from_counts(pos, neg), roc_auc),
        "average_precision": (_ap_from_counts(pos, neg), average_precision),
    }
    replicates = {}
    for name, (values, exact_metric) in ranking.items():
        if not cells.exact:
            values = values + (exact_metric(table) - exact_metric(binned))
        replicates[name] = np.where(single, np.nan, values)
    # Losses are means of per-row terms: each resampled row carries its bin's mean term.
    n = table.n
    replicates["log_loss"] = (pos @ _per_row(cells.pos_log, binned.pos) + neg @ _per_row(cells.neg_log, binned.neg)) / n
    replicates["brier_score"] = (pos @ _per_row(cells.pos_sq, binned.pos) + neg @ _per_row(cells.neg_sq, binned.neg)) / n
    return replicates


def summarize_replicates(replicates: np.ndarray, *, level: float = CONFIDENCE_LEVEL) -> tuple[float, float, float]:
    """(standard deviation, lower, upper) of bootstrap replicates; NaN when any replicate is NaN.

    >>> sd, lo, hi = summarize_replicates(np.arange(101.0), level=0.9)
    >>> round(sd, 3), round(lo, 9), round(hi, 9)
    (29.3, 5.0, 95.0)
    """
    if len(replicates) < 2 or np.isnan(replicates).any():
        return float("nan"), float("nan"), float("nan")
    alpha = (1 - check_level(level)) / 2
    lower, upper = np.quantile(replicates, [alpha, 1 - alpha])
    return float(np.std(replicates, ddof=1)), float(lower), float(upper)


def replicate_intervals(replicates: dict[str, np.ndarray], *, level: float = CONFIDENCE_LEVEL) -> dict[str, dict]:
    """``{name: {"lower", "upper", "standard_deviation"}}`` of each metric's replicates (see
    :func:`summarize_replicates`): evaluation.json's ``confidence_intervals.metrics``."""
    intervals = {}
    for name, values in replicates.items():
        sd, lower, upper = summarize_replicates(values, level=level)
        intervals[name] = {"lower": lower, "upper": upper, "standard_deviation": sd}
    return intervals

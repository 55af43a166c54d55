"""Paired comparison of two binary classifiers scored on the SAME rows: challenger ``a``, champion ``b``.

Conventions as in :mod:`metrics` (scikit-learn's): ``y_true`` in {0, 1}, scores in [0, 1], a row is
predicted positive when ``score >= threshold``, a ratio with a zero denominator is 0.0. Differences are
always ``a - b``. Because both models see the same rows, their errors are correlated; a paired method
uses that correlation, and its interval on the difference is much narrower than one built from two
independent intervals.

- AUC: DeLong, DeLong & Clarke-Pearson (1988), paired variance of the difference from the two models'
  placement values (structural components), computed from midranks in O(n log n); ties count half.
- Threshold metrics: percentile bootstrap. Every threshold metric of both models is a function of the
  8 counts (label x prediction of a x prediction of b); resampling rows is resampling those counts,
  Multinomial(n, counts / n), which is drawn directly in O(resamples).

A standard error / deviation that cannot be estimated is ``nan`` (``"NaN"`` in JSON).
"""
from __future__ import annotations

import numpy as np

from . import metric_catalog, metrics, uncertainty
from .uncertainty import CONFIDENCE_LEVEL

# The threshold metrics compared with the champion's on the same rows.
PAIRED_THRESHOLD_METRICS = metric_catalog.names(kind=metric_catalog.THRESHOLD, compared=True)


def check_paired_inputs(y_true, score_a, score_b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate labels and both models' scores for the same rows; returns (int8, float64, float64).

    Each score vector goes through :func:`metrics.check_binary_inputs`; its message says which model.

    >>> check_paired_inputs([0, 1], [0.2, 0.8], [0.1, 0.7, 0.3])
    Traceback (most recent call last):
    ...
    ValueError: 2 labels, 2 scores of model a and 3 of model b: score both models on the same rows, in the same order
    >>> check_paired_inputs([0, 1], [0.2, 0.8], [0.1, 1.7])
    Traceback (most recent call last):
    ...
    processing_scripts.metrics.InputError: model b: row 2: score 1.7 is outside [0, 1]; the model must output probabilities
    """
    lengths = [len(np.asarray(v).reshape(-1)) for v in (y_true, score_a, score_b)]
    if len(set(lengths)) != 1:
        raise ValueError(
            f"{lengths[0]} labels, {lengths[1]} scores of model a and {lengths[2]} of model b: "
            "score both models on the same rows, in the same order"
        )
    checked = []
    for which, scores in (("a", score_a), ("b", score_b)):
        try:
            checked.append(metrics.check_binary_inputs(y_true, scores))
        except metrics.InputError as error:
            raise metrics.InputError(f"model {which}: {error}") from None
    (y, a), (_, b) = checked
    return y, a, b


def _midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of their ranks (scipy's ``rankdata(method="average")``).

    >>> _midranks(np.array([0.3, 0.1, 0.3, 0.2])).tolist()
    [3.5, 1.0, 3.5, 2.0]
    """
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    ends = np.append(starts[1:], len(values))  # exclusive
    # Positions start+1 .. end share their mean rank, (start + 1 + end) / 2.
    mean_rank = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = mean_rank
    return ranks


def _placements(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: for each positive, the share of negatives it outranks (ties
    half); for each negative, the share of positives that outrank it. Their means are the AUC."""
    positive = y == 1
    m, n = int(positive.sum()), int((~positive).sum())
    overall = _midranks(scores)
    pos_scores, neg_scores = scores[positive], scores[~positive]
    # A positive's overall midrank minus its midrank among positives counts the negatives below it
    # (ties half); likewise for the negatives.
    v10 = (overall[positive] - _midranks(pos_scores)) / n
    v01 = 1.0 - (overall[~positive] - _midranks(neg_scores)) / m
    return v10, v01


def paired_auc_difference(y_true, score_a, score_b, *, level: float = CONFIDENCE_LEVEL) -> dict:
    """AUC of each model, their difference ``a - b`` and its paired DeLong interval.

    Returns ``{"auc_a", "auc_b", "difference", "standard_error", "lower", "upper", "method"}``. The
    interval is the normal one, ``difference ± z * standard_error``, clipped to [-1, 1]. The standard
    error (and the interval) is NaN when a class has fewer than 2 rows. Identical scores give a
    difference and standard error of exactly 0.

    >>> r = paired_auc_difference([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9], [0.1, 0.5, 0.3, 0.6, 0.7, 0.9])
    >>> r["auc_a"], round(r["auc_b"], 4), round(r["difference"], 4), round(r["standard_error"], 4)
    (0.8888888888888888, 0.6667, 0.2222, 0.2485)
    >>> r["lower"] < 0 < r["difference"] < r["upper"], r["method"]
    (True, 'DeLong paired')
    >>> paired_auc_difference([0, 1, 0, 1], [0.2, 0.9, 0.3, 0.6], [0.2, 0.9, 0.3, 0.6])["standard_error"]
    0.0
    """
    level = uncertainty.check_level(level)
    y, a, b = check_paired_inputs(y_true, score_a, score_b)
    # Exact AUCs (integer numerators) as metrics.roc_auc computes them: equal to roc_auc_score.
    auc_a = metrics.roc_auc(metrics.ScoreTable.from_arrays(y, a))
    auc_b = auc_a if b is a else metrics.roc_auc(metrics.ScoreTable.from_arrays(y, b))
    difference = auc_a - auc_b
    m = int(np.count_nonzero(y))
    n = len(y) - m
    if m < 2 or n < 2:
        standard_error = lower = upper = float("nan")
    else:
        a10, a01 = _placements(y, a)
        b10, b01 = _placements(y, b)
        # Var(A - B) = (S10_aa + S10_bb - 2 S10_ab) / m + (S01 likewise) / n: the sample variance of the
        # per-row differences of the components, which is exactly 0 for identical scores.
        variance = np.var(a10 - b10, ddof=1) / m + np.var(a01 - b01, ddof=1) / n
        standard_error = float(np.sqrt(variance))
        lower, upper = uncertainty.normal_interval(difference, standard_error, low=-1.0, high=1.0, level=level)
    return {
        "auc_a": auc_a,
        "auc_b": auc_b,
        "difference": difference,
        "standard_error": standard_error,
        "lower": lower,
        "upper": upper,
        "method": "DeLong paired",
    }


def paired_cells(y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> np.ndarray:
    """Row counts by (label, prediction of a, prediction of b), shape (2, 2, 2), from 0/1 arrays.

    >>> paired_cells(np.array([1, 1, 0]), np.array([1, 0, 0]), np.array([1, 1, 0]))[1].tolist()
    [[0, 1], [0, 1]]
    """
    index = 4 * y.astype(np.int64) + 2 * pred_a.astype(np.int64) + pred_b.astype(np.int64)
    return np.bincount(index, minlength=8).reshape(2, 2, 2)


def _confusions(cells: np.ndarray) -> tuple[tuple, tuple]:
    """(tn, fp, fn, tp) of model a and of model b from cell counts of shape (..., 2, 2, 2)."""
    a = cells.sum(axis=-1)  # (..., label, pred_a)
    b = cells.sum(axis=-2)  # (..., label, pred_b)
    return tuple(
        (m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]) for m in (a, b)
    )


def paired_threshold_difference(
    y_true,
    score_a,
    score_b,
    *,
    threshold_a: float,
    threshold_b: float,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = CONFIDENCE_LEVEL,
) -> dict[str, dict]:
    """The compared threshold metrics of each model at its threshold, and the paired differences.

    Returns ``{metric: {"a", "b", "difference", "standard_deviation", "lower", "upper"}}`` for each of
    :data:`PAIRED_THRESHOLD_METRICS`; the last three describe the percentile bootstrap of ``a - b``
    (rows resampled jointly for both models). They are NaN below ``uncertainty.MIN_ROWS_FOR_STD`` rows,
    with fewer than 2 resamples, or when a resample holds a single class (as in :mod:`uncertainty`).

    >>> y = np.arange(400) % 2
    >>> s = np.linspace(0, 1, 400)
    >>> r = paired_threshold_difference(y, s, s, threshold_a=0.5, threshold_b=0.5, n_resamples=20)
    >>> r["f1"]["difference"], r["f1"]["standard_deviation"], r["f1"]["lower"], r["f1"]["upper"]
    (0.0, 0.0, 0.0, 0.0)
    >>> r = paired_threshold_difference([0, 1, 1], [0.2, 0.7, 0.4], [0.6, 0.7, 0.8], threshold_a=0.5, threshold_b=0.5)
    >>> r["recall"]["a"], r["recall"]["b"], r["recall"]["difference"], r["recall"]["standard_deviation"]
    (0.5, 1.0, -0.5, nan)
    """
    level = uncertainty.check_level(level)
    for name, value in (("threshold_a", threshold_a), ("threshold_b", threshold_b)):
        if not np.isfinite(value):
            raise ValueError(f"{name} {value!r} is not a finite number; pass the decision threshold, e.g. 0.5")
    if int(n_resamples) != n_resamples or n_resamples < 0:
        raise ValueError(f"n_resamples {n_resamples!r} is not a whole number >= 0; pass e.g. 1000")
    y, a, b = check_paired_inputs(y_true, score_a, score_b)
    cells = paired_cells(y, a >= threshold_a, b >= threshold_b)
    rows = len(y)
    (ta, tb) = _confusions(cells)
    point_a, point_b = metrics.threshold_metrics(*ta), metrics.threshold_metrics(*tb)

    if rows >= uncertainty.MIN_ROWS_FOR_STD and n_resamples >= 2:
        rng = np.random.default_rng(seed)
        draws = rng.multinomial(rows, cells.reshape(-1) / rows, size=int(n_resamples)).reshape(-1, 2, 2, 2)
        (ra, rb) = _confusions(draws)
        # A resample without one of the classes has no recall (nor a meaningful F1): NaN, as uncertainty.bootstrap.
        one_class = (draws[:, 1].sum(axis=(1, 2)) == 0) | (draws[:, 0].sum(axis=(1, 2)) == 0)
        rep_a, rep_b = metrics.threshold_metrics(*ra), metrics.threshold_metrics(*rb)
    result = {}
    for name in PAIRED_THRESHOLD_METRICS:
        value_a, value_b = float(point_a[name]), float(point_b[name])
        if rows >= uncertainty.MIN_ROWS_FOR_STD and n_resamples >= 2:
            replicates = np.where(one_class, np.nan, rep_a[name] - rep_b[name])
            sd, lower, upper = uncertainty.summarize_replicates(replicates, level=level)
        else:
            sd = lower = upper = float("nan")
        result[name] = {
            "a": value_a,
            "b": value_b,
            "difference": value_a - value_b,
            "standard_deviation": sd,
            "lower": lower,
            "upper": upper,
        }
    return result

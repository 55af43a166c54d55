"""Binary-classification metrics: exact point values, bootstrap and DeLong uncertainty. Pure numpy.

Conventions (as in scikit-learn's ``sklearn.metrics``):

- ``y_true`` holds labels in {0, 1}; ``y_score`` holds scores, P(y = 1), in [0, 1]; ``y_pred`` is labels.
- At a decision ``threshold`` a row is predicted positive when ``y_score >= threshold``.
- A ratio with a zero denominator is 0.0: what scikit-learn returns with its default
  ``zero_division="warn"`` (e.g. precision when nothing is predicted positive). Both classes must be
  present (see :func:`check_binary_inputs`), so recall, the rates and AUC are always defined.
- A standard deviation that cannot be estimated is ``nan`` here and the string ``"NaN"`` in JSON.

Everything works from one :class:`ScoreTable`: the distinct scores in ascending order with the number
of positive and negative rows at each. One sort builds it; every threshold metric, both curves, AUC,
average precision, DeLong's variance, the losses, calibration and the bootstrap cells are then linear
passes over that table, which is much shorter than the data whenever scores repeat.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# SageMaker estimates a standard deviation only from this many rows on.
MIN_ROWS_FOR_STD = 200
FBETAS = {"f0_5": 0.5, "f1": 1.0, "f2": 2.0}
THRESHOLD_METRICS = (
    "accuracy", "precision", "recall", "f0_5", "f1", "f2",
    "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate",
)
_SIGN = np.uint64(1 << 63)


class InputError(ValueError):
    """Input that no metric can be computed from; the message names the problem and the fix."""


def check_binary_inputs(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """The one validator: equal lengths, labels in {0, 1}, finite scores in [0, 1], both classes.

    Returns int8 labels and float64 scores (no copy when they already are).

    >>> y, s = check_binary_inputs([0, 1, 1.0], [0.1, 0.9, 0.4])
    >>> y.dtype, s.dtype
    (dtype('int8'), dtype('float64'))
    >>> check_binary_inputs([1, 1], [0.2, 0.3])
    Traceback (most recent call last):
    ...
    processing_scripts.metrics.InputError: only one class (label 1) in 2 rows: AUC and recall are undefined; evaluate on a test set with both classes
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != 1 or y_score.ndim != 1:
        raise InputError("labels and scores must be one-dimensional")
    if len(y_true) != len(y_score):
        raise InputError(f"{len(y_true)} labels but {len(y_score)} scores: every row needs both")
    if len(y_true) == 0:
        raise InputError("no rows to evaluate: the test set is empty")
    # Integer labels are checked as they are: a float copy of 100M labels would cost 800 MB.
    labels = y_true if y_true.dtype.kind in "iub" else y_true.astype(np.float64, copy=False)
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"row {i + 1}: label {y_true[i].item()!r} is not 0 or 1; labels must be binary 0/1")
    bad = ~np.isfinite(y_score)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"row {i + 1}: score {float(y_score[i])!r} is not a finite number; fix the model's output")
    bad = (y_score < 0) | (y_score > 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"row {i + 1}: score {float(y_score[i])!r} is outside [0, 1]; the model must output probabilities"
        )
    y = labels.astype(np.int8, copy=False)
    positives = int(np.count_nonzero(y))
    if positives in (0, len(y)):
        raise InputError(
            f"only one class (label {int(y[0])}) in {len(y)} rows: AUC and recall are undefined; "
            "evaluate on a test set with both classes"
        )
    return y, y_score


def _distinct(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs (one linear pass)."""
    if len(sorted_values) == 0:
        return sorted_values, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(sorted_values[1:] != sorted_values[:-1]) + 1
    starts = np.concatenate([[0], starts])
    return sorted_values[starts], np.diff(np.append(starts, len(sorted_values)))


def _sorted_by_class(y_true: np.ndarray, y_score: np.ndarray, *, chunk: int = 1 << 20):
    """(positives' scores, negatives' scores), each sorted, from ONE sort of a uint64 key.

    A non-negative float's bit pattern orders like the float, so the label goes in the (otherwise
    zero) sign bit: one sort groups the negatives, then the positives, each ascending. This avoids
    boolean-mask copies, which cost more than the sort itself. Keys are built in chunks so the
    temporaries stay small at any input size.
    """
    keys = np.empty(len(y_score), dtype=np.uint64)
    for start in range(0, len(y_score), chunk):
        block = keys[start:start + chunk]
        # Adding 0.0 turns -0.0 (sign bit set, yet a valid score) into +0.0.
        np.add(y_score[start:start + chunk], 0.0, out=block.view(np.float64))
        block |= y_true[start:start + chunk].astype(np.uint64) << np.uint64(63)
    keys.sort()
    split = int(np.searchsorted(keys, _SIGN))
    keys[split:] &= ~_SIGN
    floats = keys.view(np.float64)
    return floats[split:], floats[:split]


@dataclass(frozen=True)
class ScoreTable:
    """Every distinct score, ascending, with the number of positive and of negative rows at it.

    >>> t = ScoreTable.from_arrays(np.array([1, 0, 1, 0], dtype=np.int8), np.array([0.8, 0.4, 0.4, 0.1]))
    >>> t.values.tolist(), t.pos.tolist(), t.neg.tolist()
    ([0.1, 0.4, 0.8], [0, 1, 1], [1, 1, 0])
    """

    values: np.ndarray  # float64, strictly increasing
    pos: np.ndarray  # int64 positives at each value
    neg: np.ndarray  # int64 negatives at each value

    @classmethod
    def from_arrays(cls, y_true: np.ndarray, y_score: np.ndarray) -> "ScoreTable":
        """From validated arrays (see :func:`check_binary_inputs`)."""
        return cls.from_sorted(*_sorted_by_class(np.asarray(y_true), np.asarray(y_score, dtype=np.float64)))

    @classmethod
    def from_sorted(cls, positives: np.ndarray, negatives: np.ndarray) -> "ScoreTable":
        """From each class's scores, sorted ascending."""
        pos_values, pos_counts = _distinct(positives)
        neg_values, neg_counts = _distinct(negatives)
        merged = np.concatenate([pos_values, neg_values])
        merged.sort()
        values, _ = _distinct(merged)
        pos = np.zeros(len(values), dtype=np.int64)
        neg = np.zeros(len(values), dtype=np.int64)
        pos[np.searchsorted(values, pos_values)] = pos_counts
        neg[np.searchsorted(values, neg_values)] = neg_counts
        return cls(values, pos, neg)

    @cached_property
    def n_pos(self) -> int:
        return int(self.pos.sum())

    @cached_property
    def n_neg(self) -> int:
        return int(self.neg.sum())

    @property
    def n(self) -> int:
        return self.n_pos + self.n_neg

    @cached_property
    def tp(self) -> np.ndarray:
        """tp[i]: positives scored >= values[i]; one extra trailing 0 (threshold above every score)."""
        return np.append(np.cumsum(self.pos[::-1])[::-1], 0)

    @cached_property
    def fp(self) -> np.ndarray:
        """fp[i]: negatives scored >= values[i]; one extra trailing 0."""
        return np.append(np.cumsum(self.neg[::-1])[::-1], 0)

    def at_or_above(self, thresholds) -> tuple[np.ndarray, np.ndarray]:
        """(TP, FP): positives and negatives scored ``>= t`` for each threshold t."""
        i = np.searchsorted(self.values, np.asarray(thresholds, dtype=np.float64), side="left")
        return self.tp[i], self.fp[i]


def confusion_counts(table: ScoreTable, threshold: float) -> tuple[int, int, int, int]:
    """(TN, FP, FN, TP) at ``threshold``, in scikit-learn's ``confusion_matrix(...).ravel()`` order.

    >>> confusion_counts(ScoreTable.from_arrays(np.array([0, 1, 1]), np.array([0.5, 0.5, 0.2])), 0.5)
    (0, 1, 1, 1)
    """
    tp, fp = table.at_or_above([threshold])
    tp, fp = int(tp[0]), int(fp[0])
    return table.n_neg - fp, fp, table.n_pos - tp, tp


def _divide(numerator, denominator):
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(denominator == 0, 0.0, ratio)


def threshold_metrics(tn, fp, fn, tp) -> dict[str, np.ndarray]:
    """Every metric that depends only on the confusion counts (vectorised over count arrays).

    F-beta uses scikit-learn's form, (1 + b²)·TP / (b²·(TP + FN) + TP + FP).

    >>> m = threshold_metrics(5, 1, 2, 2)
    >>> round(float(m["accuracy"]), 3), round(float(m["precision"]), 3), round(float(m["f1"]), 3)
    (0.7, 0.667, 0.571)
    """
    tn, fp, fn, tp = (np.asarray(v, dtype=np.float64) for v in (tn, fp, fn, tp))
    recall = _divide(tp, tp + fn)
    metrics = {
        "accuracy": _divide(tp + tn, tp + tn + fp + fn),
        "precision": _divide(tp, tp + fp),
        "recall": recall,
        "true_positive_rate": recall,
        "true_negative_rate": _divide(tn, tn + fp),
        "false_positive_rate": _divide(fp, fp + tn),
        "false_negative_rate": _divide(fn, fn + tp),
    }
    for name, beta in FBETAS.items():
        b2 = beta * beta
        metrics[name] = _divide((1 + b2) * tp, b2 * (tp + fn) + tp + fp)
    return metrics


def best_constant_metrics(n_pos, n_neg) -> dict[str, np.ndarray]:
    """Metrics of the best constant classifier, for comparison (vectorised over count arrays).

    Accuracy: always predicting the majority class. Precision, recall and F-scores: always predicting
    positive, the constant that maximises them (always negative scores 0 on each).

    >>> m = best_constant_metrics(1, 3)
    >>> float(m["accuracy"]), float(m["recall"]), float(m["precision"])
    (0.75, 1.0, 0.25)
    """
    n_pos = np.asarray(n_pos, dtype=np.float64)
    n_neg = np.asarray(n_neg, dtype=np.float64)
    always_positive = threshold_metrics(0, n_neg, 0, n_pos)
    return {
        "accuracy": np.maximum(n_pos, n_neg) / (n_pos + n_neg),
        **{k: always_positive[k] for k in ("precision", "recall", "f0_5", "f1", "f2")},
    }


def roc_auc(table: ScoreTable) -> float:
    """Area under the ROC curve, ties counted half (equals ``roc_auc_score``).

    The numerator is an exact integer (twice the count of won pairs plus tied pairs), so the result
    is the correctly rounded AUC.

    >>> roc_auc(ScoreTable.from_arrays(np.array([1, 1, 0, 0]), np.array([0.4, 0.8, 0.1, 0.4])))
    0.875
    """
    neg_below = table.n_neg - table.fp[:-1]
    twice_wins = int(np.dot(table.pos, 2 * neg_below + table.neg))
    return twice_wins / (2 * table.n_pos * table.n_neg)


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


def _curve_indices(table: ScoreTable, max_points: int | None) -> np.ndarray:
    """Indices into ``table.values`` (ascending) at which to evaluate a curve: all, or a down-sample.

    The down-sample takes the scores at evenly spaced ranks of each class, so every point is an exact
    point of the curve, both ends are kept, and no step in either rate exceeds ~2/max_points.
    """
    k = len(table.values)
    if max_points is None or k <= max_points:
        return np.arange(k)
    chosen = [np.searchsorted(np.cumsum(counts), downsample_indices(int(counts.sum()), max_points // 2), side="right")
              for counts in (table.pos, table.neg)]
    return np.unique(np.concatenate(chosen))


def roc_curve_points(table: ScoreTable, *, max_points: int | None = None) -> dict[str, np.ndarray]:
    """(FPR, TPR, thresholds) at every distinct score, highest first, after a (0, 0) start.

    With all points this equals ``roc_curve(..., drop_intermediate=False)``, whose first threshold is
    ``inf``; ``max_points`` down-samples (see :func:`_curve_indices`).

    >>> r = roc_curve_points(ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.7])))
    >>> r["false_positive_rates"].tolist(), r["true_positive_rates"].tolist()
    ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0])
    """
    i = _curve_indices(table, max_points)[::-1]
    return {
        "false_positive_rates": np.concatenate([[0.0], table.fp[i] / table.n_neg]),
        "true_positive_rates": np.concatenate([[0.0], table.tp[i] / table.n_pos]),
        "thresholds": np.concatenate([[np.inf], table.values[i]]),
    }


def precision_recall_points(table: ScoreTable, *, max_points: int | None = None) -> dict[str, np.ndarray]:
    """(precision, recall, thresholds) as ``precision_recall_curve``: increasing thresholds, ending (1, 0).

    >>> p = precision_recall_points(ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.7])))
    >>> p["precisions"].tolist(), p["recalls"].tolist()
    ([0.5, 1.0, 1.0], [1.0, 1.0, 0.0])
    """
    i = _curve_indices(table, max_points)
    tp, fp = table.tp[i], table.fp[i]
    return {
        "precisions": np.append(_divide(tp, tp + fp), 1.0),
        "recalls": np.append(tp / table.n_pos, 0.0),
        "thresholds": table.values[i],
    }


def average_precision(table: ScoreTable) -> float:
    """Σ (Rₙ − Rₙ₋₁)·Pₙ over thresholds (equals ``average_precision_score``).

    Recall only changes at positive rows' scores, so only those thresholds contribute.

    >>> round(average_precision(ScoreTable.from_arrays(np.array([0, 1, 1, 0]), np.array([0.1, 0.4, 0.35, 0.8]))), 4)
    0.5833
    """
    has_pos = table.pos > 0
    tp, fp = table.tp[:-1][has_pos], table.fp[:-1][has_pos]
    return float(np.sum(table.pos[has_pos] / table.n_pos * (tp / (tp + fp))))


def _clipped(values: np.ndarray) -> np.ndarray:
    eps = np.finfo(np.float64).eps  # as sklearn.metrics.log_loss clips float64 scores
    return np.clip(values, eps, 1 - eps)


def log_loss(table: ScoreTable) -> float:
    """Mean cross-entropy, scores clipped to [eps, 1 − eps] as ``sklearn.metrics.log_loss`` does.

    >>> round(log_loss(ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.7]))), 6)
    0.289909
    """
    p = _clipped(table.values)
    return float((np.dot(table.pos, -np.log(p)) + np.dot(table.neg, -np.log1p(-p))) / table.n)


def brier_score(table: ScoreTable) -> float:
    """Mean squared difference between score and label (``brier_score_loss``).

    >>> round(brier_score(ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.7]))), 6)
    0.065
    """
    v = table.values
    return float((np.dot(table.pos, (v - 1.0) ** 2) + np.dot(table.neg, v**2)) / table.n)


def calibration_table(table: ScoreTable, *, n_bins: int = 10) -> dict:
    """Reliability bins of equal width on [0, 1] and the expected calibration error.

    Bin edges and membership follow ``sklearn.calibration.calibration_curve(strategy="uniform")``:
    bins are (lower, upper], the first [0, upper]. Empty bins are listed with ``count`` 0 and no rates.
    ECE = Σ (count / n)·|fraction positive − mean score| over the bins.

    >>> c = calibration_table(ScoreTable.from_arrays(np.array([0, 1, 1]), np.array([0.05, 0.95, 0.91])), n_bins=2)
    >>> [b["count"] for b in c["bins"]], round(c["expected_calibration_error"], 4)
    ([1, 2], 0.0633)
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], table.values, side="left")
    positives = np.bincount(ids, weights=table.pos, minlength=n_bins)
    count = positives + np.bincount(ids, weights=table.neg, minlength=n_bins)
    score_sum = np.bincount(ids, weights=(table.pos + table.neg) * table.values, minlength=n_bins)
    bins = []
    ece = 0.0
    for i in range(n_bins):
        row = {"lower": float(edges[i]), "upper": float(edges[i + 1]), "count": int(count[i])}
        if count[i]:
            mean_score = score_sum[i] / count[i]
            fraction = positives[i] / count[i]
            row.update(mean_predicted=float(mean_score), fraction_positive=float(fraction))
            ece += count[i] / table.n * abs(fraction - mean_score)
        bins.append(row)
    return {"strategy": "uniform", "bins": bins, "expected_calibration_error": float(ece)}


def operating_points(table: ScoreTable, *, recall_targets=(0.5, 0.8, 0.9, 0.95)) -> dict:
    """Thresholds worth knowing: maximum F1, maximum Youden's J (TPR − FPR), and the best precision
    at each recall target. Candidates are the distinct scores (predict positive when score >= it);
    ties go to the highest threshold.

    >>> ops = operating_points(ScoreTable.from_arrays(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])))
    >>> ops["max_f1"]["threshold"], ops["max_youden_j"]["threshold"]
    (0.4, 0.9)
    """
    tp, fp = table.tp[:-1][::-1], table.fp[:-1][::-1]  # descending thresholds
    thresholds = table.values[::-1]
    precision = tp / (tp + fp)  # never 0/0: every distinct score has a row at it
    recall = tp / table.n_pos
    fpr = fp / table.n_neg
    f1 = 2.0 * tp / (tp + fp + table.n_pos)
    youden = recall - fpr

    def point(i: int) -> dict:
        return {
            "threshold": float(thresholds[i]),
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "false_positive_rate": float(fpr[i]),
        }

    at_recall = []
    for target in recall_targets:
        # Recall rises as the threshold falls: the eligible thresholds are a suffix.
        first = int(np.searchsorted(recall, target, side="left"))
        if first < len(recall):
            best = first + int(np.argmax(precision[first:]))
            at_recall.append({"recall_at_least": target, **point(best)})
    best_j = int(np.argmax(youden))
    return {
        "max_f1": point(int(np.argmax(f1))),
        "max_youden_j": {**point(best_j), "youden_j": float(youden[best_j])},
        "precision_at_recall": at_recall,
    }


def downsample_indices(length: int, max_points: int) -> np.ndarray:
    """Up to ``max_points`` indices spread evenly over ``range(length)``, both ends included.

    >>> downsample_indices(10, 4).tolist()
    [0, 3, 6, 9]
    """
    if length <= max_points:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, max_points).round().astype(np.int64))


# --- bootstrap ------------------------------------------------------------------------------------------


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

    p = _clipped(table.values)
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
    rng = np.random.default_rng(seed)
    n = table.n
    tn, fp, fn, tp = confusion_counts(table, threshold)
    draws = rng.multinomial(n, np.array([tn, fp, fn, tp], dtype=np.float64) / n, size=n_resamples)
    btn, bfp, bfn, btp = draws.T
    one_class = (btp + bfn == 0) | (btn + bfp == 0)
    replicates = {k: np.where(one_class, np.nan, v) for k, v in threshold_metrics(btn, bfp, bfn, btp).items()}
    for k, v in best_constant_metrics(btp + bfn, btn + bfp).items():
        replicates[f"{k}_best_constant_classifier"] = np.where(one_class, np.nan, v)

    cells = cells or score_cells(table)
    binned = cells.table
    k = len(binned.values)
    drawn = rng.multinomial(n, np.concatenate([binned.pos, binned.neg]) / n, size=n_resamples).astype(np.float64)
    pos, neg = drawn[:, :k], drawn[:, k:]
    single = (pos.sum(axis=1) == 0) | (neg.sum(axis=1) == 0)
    ranking = {
        "auc": (_auc_from_counts(pos, neg), roc_auc),
        "average_precision": (_ap_from_counts(pos, neg), average_precision),
    }
    for name, (values, exact_metric) in ranking.items():
        if not cells.exact:
            values = values + (exact_metric(table) - exact_metric(binned))
        replicates[name] = np.where(single, np.nan, values)
    # Losses are means of per-row terms: each resampled row carries its bin's mean term.
    replicates["log_loss"] = (pos @ _per_row(cells.pos_log, binned.pos) + neg @ _per_row(cells.neg_log, binned.neg)) / n
    replicates["brier_score"] = (pos @ _per_row(cells.pos_sq, binned.pos) + neg @ _per_row(cells.neg_sq, binned.neg)) / n
    return replicates


def summarize_replicates(replicates: np.ndarray, *, level: float = 0.95) -> tuple[float, float, float]:
    """(standard deviation, lower, upper) of bootstrap replicates; NaN when any replicate is NaN.

    >>> sd, lo, hi = summarize_replicates(np.arange(101.0), level=0.9)
    >>> round(sd, 3), round(lo, 9), round(hi, 9)
    (29.3, 5.0, 95.0)
    """
    if len(replicates) < 2 or np.isnan(replicates).any():
        return float("nan"), float("nan"), float("nan")
    alpha = (1 - level) / 2
    lower, upper = np.quantile(replicates, [alpha, 1 - alpha])
    return float(np.std(replicates, ddof=1)), float(lower), float(upper)

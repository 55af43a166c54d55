"""Binary-classification point metrics, exact, from one :class:`ScoreTable`. Pure numpy.

Conventions (as in scikit-learn's ``sklearn.metrics``):

- ``y_true`` holds labels in {0, 1}; ``y_score`` holds scores, P(y = 1), in [0, 1]; ``y_pred`` is labels.
- At a decision ``threshold`` a row is predicted positive when ``y_score >= threshold``.
- A ratio with a zero denominator is 0.0: what scikit-learn returns with its default
  ``zero_division="warn"`` (e.g. precision when nothing is predicted positive). Both classes must be
  present (see :func:`check_binary_inputs`), so recall, the rates and AUC are always defined.

Everything works from one :class:`ScoreTable`: the distinct scores in ascending order with the number
of positive and negative rows at each. One sort builds it; every threshold metric, both curves, AUC,
average precision, the losses and calibration here, and DeLong's variance and the bootstrap cells
(uncertainty.py), are then linear passes over that table, which is much shorter than the data
whenever scores repeat. Which metrics evaluation.json reports, and how, is metric_catalog.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import metric_catalog

FBETAS = {"f0_5": 0.5, "f1": 1.0, "f2": 2.0}
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

    For the metrics metric_catalog marks ``best_constant``. Accuracy: always predicting the majority
    class. Precision, recall and F-scores: always predicting positive, the constant that maximises them
    (always negative scores 0 on each).

    >>> m = best_constant_metrics(1, 3)
    >>> float(m["accuracy"]), float(m["recall"]), float(m["precision"])
    (0.75, 1.0, 0.25)
    """
    n_pos = np.asarray(n_pos, dtype=np.float64)
    n_neg = np.asarray(n_neg, dtype=np.float64)
    always_positive = threshold_metrics(0, n_neg, 0, n_pos)
    always_positive["accuracy"] = np.maximum(n_pos, n_neg) / (n_pos + n_neg)
    return {name: always_positive[name] for name in metric_catalog.names(best_constant=True)}


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


def clipped(values: np.ndarray) -> np.ndarray:
    """Scores clipped to [eps, 1 - eps], so that their logarithms are finite."""
    eps = np.finfo(np.float64).eps  # as sklearn.metrics.log_loss clips float64 scores
    return np.clip(values, eps, 1 - eps)


def log_loss(table: ScoreTable) -> float:
    """Mean cross-entropy, scores clipped to [eps, 1 − eps] as ``sklearn.metrics.log_loss`` does.

    >>> round(log_loss(ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.7]))), 6)
    0.289909
    """
    p = clipped(table.values)
    return float((np.dot(table.pos, -np.log(p)) + np.dot(table.neg, -np.log1p(-p))) / table.n)


def brier_score(table: ScoreTable) -> float:
    """Mean squared difference between score and label (``brier_score_loss``).

    >>> round(brier_score(ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.7]))), 6)
    0.065
    """
    v = table.values
    return float((np.dot(table.pos, (v - 1.0) ** 2) + np.dot(table.neg, v**2)) / table.n)


def score_metrics(table: ScoreTable) -> dict[str, float]:
    """Every metric of the scores themselves (metric_catalog's SCORE kind), by name.

    >>> sorted(score_metrics(ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.7]))))
    ['auc', 'average_precision', 'brier_score', 'log_loss']
    """
    return {
        "auc": roc_auc(table),
        "log_loss": log_loss(table),
        "brier_score": brier_score(table),
        "average_precision": average_precision(table),
    }


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


def downsample_indices(length: int, max_points: int) -> np.ndarray:
    """Up to ``max_points`` indices spread evenly over ``range(length)``, both ends included.

    >>> downsample_indices(10, 4).tolist()
    [0, 3, 6, 9]
    """
    if length <= max_points:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, max_points).round().astype(np.int64))

"""Binary-classification metrics: exact point values, bootstrap and DeLong uncertainty. Pure numpy.

Conventions (as in scikit-learn's ``sklearn.metrics``):

- ``y_true`` holds labels in {0, 1}; ``y_score`` holds scores, P(y = 1), in [0, 1]; ``y_pred`` is labels.
- At a decision ``threshold`` a row is predicted positive when ``y_score >= threshold``.
- A ratio with a zero denominator is 0.0 (scikit-learn's ``zero_division="warn"`` result), except where
  the input makes it impossible: both classes must be present (see :func:`check_binary_inputs`).
- A standard deviation that cannot be estimated is ``nan`` here and the string ``"NaN"`` in JSON.

Everything works from the two classes' scores sorted separately: one sort serves every threshold
metric, the ROC and PR curves, AUC, average precision and DeLong's variance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# SageMaker estimates a standard deviation only from this many rows on.
MIN_ROWS_FOR_STD = 200
FBETAS = {"f0_5": 0.5, "f1": 1.0, "f2": 2.0}
THRESHOLD_METRICS = (
    "accuracy", "precision", "recall", "f0_5", "f1", "f2",
    "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate",
)


class InputError(ValueError):
    """Input that no metric can be computed from; the message names the problem and the fix."""


def check_binary_inputs(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """The one validator: equal lengths, labels in {0, 1}, finite scores in [0, 1], both classes.

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
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return sorted_values[starts], np.diff(np.r_[starts, len(sorted_values)])


@dataclass(frozen=True)
class ClassScores:
    """One class's scores as distinct ascending values with counts, and the running count below each."""

    values: np.ndarray
    counts: np.ndarray
    below: np.ndarray  # below[i] = number of rows scored < values[i]; below[-1] = total

    @classmethod
    def from_sorted(cls, sorted_values: np.ndarray) -> "ClassScores":
        values, counts = _distinct(sorted_values)
        return cls(values, counts, np.r_[0, np.cumsum(counts)])

    @property
    def total(self) -> int:
        return int(self.below[-1])

    def count_below(self, t, *, inclusive: bool = False) -> np.ndarray:
        """Rows scored ``< t`` (``<= t`` when inclusive), for each t."""
        return self.below[np.searchsorted(self.values, t, side="right" if inclusive else "left")]


@dataclass(frozen=True)
class SortedScores:
    """Scores of the positive and of the negative rows, each as a :class:`ClassScores` table.

    With ties (scores rounded by a CSV writer, say) the tables are much shorter than the data, and
    every ranking computation below runs on them.
    """

    positives: ClassScores
    negatives: ClassScores

    @classmethod
    def from_arrays(cls, y_true: np.ndarray, y_score: np.ndarray) -> "SortedScores":
        mask = y_true.astype(bool)
        pos, neg = y_score[mask], y_score[~mask]  # copies, so they can be sorted in place
        pos.sort()
        neg.sort()
        return cls(ClassScores.from_sorted(pos), ClassScores.from_sorted(neg))

    @property
    def n_pos(self) -> int:
        return self.positives.total

    @property
    def n_neg(self) -> int:
        return self.negatives.total

    def at_or_above(self, thresholds) -> tuple[np.ndarray, np.ndarray]:
        """(TP, FP): positives and negatives scored ``>= t`` for each threshold t."""
        t = np.asarray(thresholds, dtype=np.float64)
        return self.n_pos - self.positives.count_below(t), self.n_neg - self.negatives.count_below(t)

    def distinct_values(self) -> np.ndarray:
        """Every distinct score of either class, ascending."""
        merged = np.concatenate([self.positives.values, self.negatives.values])
        merged.sort(kind="stable")  # two sorted runs: a linear merge
        return _distinct(merged)[0]


def confusion_counts(scores: SortedScores, threshold: float) -> tuple[int, int, int, int]:
    """(TN, FP, FN, TP) at ``threshold``, in scikit-learn's ``confusion_matrix(...).ravel()`` order."""
    tp, fp = scores.at_or_above([threshold])
    tp, fp = int(tp[0]), int(fp[0])
    return scores.n_neg - fp, fp, scores.n_pos - tp, tp


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
    metrics = {
        "accuracy": _divide(tp + tn, tp + tn + fp + fn),
        "precision": _divide(tp, tp + fp),
        "recall": _divide(tp, tp + fn),
        "true_positive_rate": _divide(tp, tp + fn),
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


def _placements(scores: SortedScores) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values per distinct score: for each positive value, the share of negatives
    it outranks (ties half); for each negative value, the share of positives that outrank it."""
    pos, neg = scores.positives, scores.negatives
    v10 = (neg.count_below(pos.values) + neg.count_below(pos.values, inclusive=True)) / (2.0 * scores.n_neg)
    v01 = (2 * scores.n_pos - pos.count_below(neg.values) - pos.count_below(neg.values, inclusive=True)) / (
        2.0 * scores.n_pos
    )
    return v10, v01


def roc_auc(scores: SortedScores) -> float:
    """Area under the ROC curve, ties counted half (equals ``roc_auc_score``).

    >>> roc_auc(SortedScores.from_arrays(np.array([1, 1, 0, 0]), np.array([0.4, 0.8, 0.1, 0.4])))
    0.875
    """
    v10, _ = _placements(scores)
    return float(np.dot(v10, scores.positives.counts) / scores.n_pos)


def delong(scores: SortedScores) -> tuple[float, float]:
    """(AUC, its standard error) by DeLong's method, from the placement values of the distinct scores."""
    m, n = scores.n_pos, scores.n_neg
    v10, v01 = _placements(scores)
    auc = float(np.dot(v10, scores.positives.counts) / m)
    if m < 2 or n < 2:
        return auc, float("nan")
    s10 = np.dot(scores.positives.counts, (v10 - auc) ** 2) / (m - 1)
    s01 = np.dot(scores.negatives.counts, (v01 - np.dot(v01, scores.negatives.counts) / n) ** 2) / (n - 1)
    return auc, float(np.sqrt(s10 / m + s01 / n))


def _distinct_descending(scores: SortedScores) -> np.ndarray:
    return scores.distinct_values()[::-1]


def roc_curve_points(scores: SortedScores, *, thresholds=None) -> dict[str, np.ndarray]:
    """(FPR, TPR, thresholds) at every distinct score, highest first, after a (0, 0) start.

    With all distinct scores this equals ``roc_curve(..., drop_intermediate=False)``, whose first
    threshold is ``inf``. Passing ``thresholds`` evaluates the exact curve at those points only.
    """
    t = _distinct_descending(scores) if thresholds is None else np.sort(np.asarray(thresholds, dtype=np.float64))[::-1]
    tp, fp = scores.at_or_above(t)
    return {
        "false_positive_rates": np.concatenate([[0.0], fp / scores.n_neg]),
        "true_positive_rates": np.concatenate([[0.0], tp / scores.n_pos]),
        "thresholds": np.concatenate([[np.inf], t]),
    }


def precision_recall_points(scores: SortedScores, *, thresholds=None) -> dict[str, np.ndarray]:
    """(precision, recall, thresholds) as ``precision_recall_curve``: increasing thresholds, ending (1, 0)."""
    if thresholds is None:
        t = _distinct_descending(scores)
    else:
        t = np.sort(np.asarray(thresholds, dtype=np.float64))[::-1]
    tp, fp = scores.at_or_above(t)
    precision = _divide(tp, tp + fp)
    recall = tp / scores.n_pos
    return {
        "precisions": np.concatenate([precision[::-1], [1.0]]),
        "recalls": np.concatenate([recall[::-1], [0.0]]),
        "thresholds": t[::-1],
    }


def average_precision(scores: SortedScores) -> float:
    """Σ (Rₙ − Rₙ₋₁)·Pₙ over thresholds (equals ``average_precision_score``).

    Recall only changes at positive rows' scores, so only those thresholds contribute.
    """
    values, counts = scores.positives.values[::-1], scores.positives.counts[::-1]  # descending
    tp = np.cumsum(counts)
    fp = scores.n_neg - scores.negatives.count_below(values)
    precision = tp / (tp + fp)
    return float(np.sum(counts / scores.n_pos * precision))


def log_loss(scores: SortedScores) -> float:
    """Mean cross-entropy, scores clipped to [eps, 1 − eps] as ``sklearn.metrics.log_loss`` does."""
    eps = np.finfo(np.float64).eps
    pos, neg = scores.positives, scores.negatives
    total = np.dot(pos.counts, -np.log(np.clip(pos.values, eps, 1 - eps)))
    total += np.dot(neg.counts, -np.log(1 - np.clip(neg.values, eps, 1 - eps)))
    return float(total / (scores.n_pos + scores.n_neg))


def brier_score(scores: SortedScores) -> float:
    """Mean squared difference between score and label (``brier_score_loss``)."""
    pos, neg = scores.positives, scores.negatives
    total = np.dot(pos.counts, (pos.values - 1.0) ** 2) + np.dot(neg.counts, neg.values**2)
    return float(total / (scores.n_pos + scores.n_neg))


def calibration_table(scores: SortedScores, *, n_bins: int = 10) -> dict:
    """Reliability bins of equal width on [0, 1] and the expected calibration error.

    Bin edges and membership follow ``sklearn.calibration.calibration_curve(strategy="uniform")``:
    bins are (lower, upper], the first [0, upper]. Empty bins are listed with ``count`` 0 and no rates.
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    pos, neg = scores.positives, scores.negatives
    pos_ids = np.searchsorted(edges[1:-1], pos.values, side="left")
    neg_ids = np.searchsorted(edges[1:-1], neg.values, side="left")
    positive_sum = np.bincount(pos_ids, weights=pos.counts, minlength=n_bins)
    count = positive_sum + np.bincount(neg_ids, weights=neg.counts, minlength=n_bins)
    score_sum = np.bincount(pos_ids, weights=pos.counts * pos.values, minlength=n_bins)
    score_sum += np.bincount(neg_ids, weights=neg.counts * neg.values, minlength=n_bins)
    n = scores.n_pos + scores.n_neg
    bins = []
    ece = 0.0
    for i in range(n_bins):
        row = {"lower": float(edges[i]), "upper": float(edges[i + 1]), "count": int(count[i])}
        if count[i]:
            mean_score = score_sum[i] / count[i]
            fraction = positive_sum[i] / count[i]
            row.update(mean_predicted=float(mean_score), fraction_positive=float(fraction))
            ece += count[i] / n * abs(fraction - mean_score)
        bins.append(row)
    return {"strategy": "uniform", "bins": bins, "expected_calibration_error": float(ece)}


def operating_points(scores: SortedScores, *, recall_targets=(0.5, 0.8, 0.9, 0.95)) -> dict:
    """Thresholds worth knowing: maximum F1, maximum Youden's J, best precision at given recalls."""
    t = _distinct_descending(scores)
    tp, fp = scores.at_or_above(t)
    fn, tn = scores.n_pos - tp, scores.n_neg - fp
    m = threshold_metrics(tn, fp, fn, tp)

    def point(i: int) -> dict:
        return {
            "threshold": float(t[i]),
            "precision": float(m["precision"][i]),
            "recall": float(m["recall"][i]),
            "f1": float(m["f1"][i]),
            "false_positive_rate": float(m["false_positive_rate"][i]),
        }

    youden = m["true_positive_rate"] - m["false_positive_rate"]
    at_recall = []
    for target in recall_targets:
        eligible = np.flatnonzero(m["recall"] >= target)
        if len(eligible):
            best = eligible[np.argmax(m["precision"][eligible])]
            at_recall.append({"recall_at_least": target, **point(int(best))})
    return {
        "max_f1": point(int(np.argmax(m["f1"]))),
        "max_youden_j": {**point(int(np.argmax(youden))), "youden_j": float(youden.max())},
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


def curve_thresholds(scores: SortedScores, max_points: int) -> np.ndarray | None:
    """Thresholds for a down-sampled curve: evenly spaced ranks of each class's scores (None: keep all).

    Every point is an exact point of the curve; spreading over both classes keeps the shape where
    either class changes.
    """
    if scores.n_pos + scores.n_neg <= max_points:
        return None
    half = max_points // 2
    chosen = []
    for table in (scores.positives, scores.negatives):
        # Evenly spaced ranks of this class: the distinct value holding each chosen rank.
        ranks = downsample_indices(table.total, half)
        chosen.append(table.values[np.searchsorted(table.below, ranks, side="right") - 1])
    return np.unique(np.concatenate(chosen))


# --- bootstrap ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cells:
    """Rows grouped by (class, score bin): what the ranking/probability bootstrap resamples."""

    pos_count: np.ndarray
    neg_count: np.ndarray
    pos_log: np.ndarray  # Σ -log(p) of positives per bin
    neg_log: np.ndarray  # Σ -log(1-p) of negatives per bin
    pos_sq: np.ndarray  # Σ (p-1)² of positives per bin
    neg_sq: np.ndarray  # Σ p² of negatives per bin
    exact: bool  # one bin per distinct score: the resampled ranking is exact


def score_cells(scores: SortedScores, *, max_bins: int = 2048) -> Cells:
    """Bin both classes by score (distinct scores when few, else quantile edges), from the tables."""
    values = scores.distinct_values()
    exact = len(values) <= max_bins
    if exact:
        edges = values
    else:
        # Quantiles of all rows: the value at evenly spaced ranks of the merged distribution.
        counts = scores.positives.count_below(values, inclusive=True) + scores.negatives.count_below(values, inclusive=True)
        ranks = np.linspace(0, counts[-1] - 1, max_bins)
        edges = np.unique(values[np.searchsorted(counts, ranks, side="right")])

    def per_bin(table: ClassScores, contribution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Bin k holds values in [edges[k], edges[k+1]); running sums turn bin totals into differences.
        bounds = np.append(np.searchsorted(table.values, edges, side="left"), len(table.values))
        cumulative = np.r_[0.0, np.cumsum(contribution * table.counts)]
        return np.diff(table.below[bounds]), cumulative[bounds[1:]] - cumulative[bounds[:-1]]

    eps = np.finfo(np.float64).eps
    pos, neg = scores.positives, scores.negatives
    pos_count, pos_log = per_bin(pos, -np.log(np.clip(pos.values, eps, 1 - eps)))
    neg_count, neg_log = per_bin(neg, -np.log(1 - np.clip(neg.values, eps, 1 - eps)))
    _, pos_sq = per_bin(pos, (pos.values - 1.0) ** 2)
    _, neg_sq = per_bin(neg, neg.values**2)
    return Cells(pos_count, neg_count, pos_log, neg_log, pos_sq, neg_sq, exact)


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


def bootstrap(
    scores: SortedScores,
    threshold: float,
    *,
    n_resamples: int,
    seed: int,
    cells: Cells | None = None,
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of every metric, without resampling rows one by one.

    Threshold metrics depend only on the four confusion counts, whose bootstrap distribution is
    Multinomial(n, counts/n): drawn exactly. Ranking and probability metrics are drawn from the
    (class, score-bin) cell counts, Multinomial(n, cells/n): exact when bins are the distinct scores,
    otherwise a histogram approximation. Replicates with a single class are NaN.
    """
    rng = np.random.default_rng(seed)
    n = scores.n_pos + scores.n_neg
    tn, fp, fn, tp = confusion_counts(scores, threshold)
    draws = rng.multinomial(n, np.array([tn, fp, fn, tp], dtype=np.float64) / n, size=n_resamples)
    btn, bfp, bfn, btp = draws.T
    one_class = (btp + bfn == 0) | (btn + bfp == 0)
    replicates = {k: np.where(one_class, np.nan, v) for k, v in threshold_metrics(btn, bfp, bfn, btp).items()}
    for k, v in best_constant_metrics(btp + bfn, btn + bfp).items():
        replicates[f"{k}_best_constant_classifier"] = np.where(one_class, np.nan, v)

    cells = cells or score_cells(scores)
    k = len(cells.pos_count)
    p = np.concatenate([cells.pos_count, cells.neg_count]).astype(np.float64) / n
    drawn = rng.multinomial(n, p, size=n_resamples).astype(np.float64)
    pos, neg = drawn[:, :k], drawn[:, k:]
    with np.errstate(divide="ignore", invalid="ignore"):
        single = (pos.sum(axis=1) == 0) | (neg.sum(axis=1) == 0)
        mean_pos_log = np.where(cells.pos_count > 0, cells.pos_log / np.maximum(cells.pos_count, 1), 0.0)
        mean_neg_log = np.where(cells.neg_count > 0, cells.neg_log / np.maximum(cells.neg_count, 1), 0.0)
        mean_pos_sq = np.where(cells.pos_count > 0, cells.pos_sq / np.maximum(cells.pos_count, 1), 0.0)
        mean_neg_sq = np.where(cells.neg_count > 0, cells.neg_sq / np.maximum(cells.neg_count, 1), 0.0)
        replicates["auc"] = np.where(single, np.nan, _auc_from_counts(pos, neg))
        replicates["average_precision"] = np.where(single, np.nan, _ap_from_counts(pos, neg))
        replicates["log_loss"] = (pos @ mean_pos_log + neg @ mean_neg_log) / n
        replicates["brier_score"] = (pos @ mean_pos_sq + neg @ mean_neg_sq) / n
    return replicates


def summarize_replicates(replicates: np.ndarray, *, level: float = 0.95) -> tuple[float, float, float]:
    """(standard deviation, lower, upper) of bootstrap replicates; NaN when any replicate is NaN."""
    if len(replicates) < 2 or np.isnan(replicates).any():
        return float("nan"), float("nan"), float("nan")
    alpha = (1 - level) / 2
    lower, upper = np.quantile(replicates, [alpha, 1 - alpha])
    return float(np.std(replicates, ddof=1)), float(lower), float(upper)

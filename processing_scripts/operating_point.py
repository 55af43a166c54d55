"""Operating points: the thresholds worth knowing on the test set, and the decision threshold chosen
on a validation set (to be frozen and used on the test set).

Objectives (the ``ThresholdObjective`` pipeline parameter):

* ``max-f1``: the threshold with the highest F1;
* ``min-precision:P``: the highest recall among thresholds whose precision is at least P;
* ``min-recall:R``: the highest precision among thresholds whose recall is at least R;
* ``min-cost:fp=C1,fn=C2``: the lowest expected cost per row, ``(C1 x false positives + C2 x false
  negatives) / rows``, where a false positive costs C1 and a false negative C2 (any unit: only their
  ratio moves the threshold).

Candidates are the distinct scores (a row is positive when its score is at or above the threshold);
for ``min-cost`` also "no row positive" (the threshold just above the highest score, when that is below
1), which is the cheapest choice when false positives are costly enough. Ties go to the highest
threshold, the most conservative choice.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import metrics
from .text_files import shown_value

DEFAULT_OBJECTIVE = "max-f1"
OBJECTIVE_HELP = ("max-f1, min-precision:P (best recall with precision >= P), min-recall:R (best precision with "
                  "recall >= R) or min-cost:fp=C1,fn=C2 (lowest expected cost).")
DEFAULT_THRESHOLD = 0.5  # what the cost of the chosen threshold is compared with


def _parse_costs(text: str, target: str) -> tuple[float, float]:
    costs: dict[str, float] = {}
    for part in target.split(","):
        name, equals, value = part.strip().partition("=")
        name = name.strip().lower()
        if not equals or name not in ("fp", "fn") or name in costs:
            raise ValueError(f"threshold objective {shown_value(text)}: write the costs as min-cost:fp=C1,fn=C2 "
                             "(each once), e.g. min-cost:fp=1,fn=5")
        try:
            cost = float(value)
        except ValueError:
            cost = float("nan")
        if not (math.isfinite(cost) and cost >= 0):
            raise ValueError(f"threshold objective {shown_value(text)}: the {name} cost {shown_value(value.strip(), 20)} "
                             "is not a number of 0 or more")
        costs[name] = cost
    if set(costs) != {"fp", "fn"}:
        raise ValueError(f"threshold objective {shown_value(text)}: give both costs, e.g. min-cost:fp=1,fn=5")
    if costs["fp"] == costs["fn"] == 0:
        raise ValueError(f"threshold objective {shown_value(text)}: both costs are 0, so every threshold costs "
                         "nothing; give at least one a positive cost")
    return costs["fp"], costs["fn"]


def parse_objective(text: str) -> tuple[str, float | tuple[float, float] | None]:
    """``("max-f1", None)``, ``("min-precision", 0.9)``, ``("min-recall", 0.8)`` or
    ``("min-cost", (fp_cost, fn_cost))``.

    >>> parse_objective("min-precision:0.9"), parse_objective("min-cost:fp=1,fn=5")
    (('min-precision', 0.9), ('min-cost', (1.0, 5.0)))
    >>> parse_objective("best")
    Traceback (most recent call last):
    ...
    ValueError: threshold objective 'best' is not one of max-f1, min-precision:P (best recall with precision >= P), min-recall:R (best precision with recall >= R) or min-cost:fp=C1,fn=C2 (lowest expected cost).
    >>> parse_objective("min-precision:2")
    Traceback (most recent call last):
    ...
    ValueError: threshold objective 'min-precision:2': precision target '2' is not a number in (0, 1]; e.g. min-precision:0.9
    """
    kind, _, target = text.strip().partition(":")
    if kind == "max-f1" and not target:
        return kind, None
    if kind == "min-cost" and target:
        return kind, _parse_costs(text, target)
    if kind in ("min-precision", "min-recall") and target:
        try:
            value = float(target)
        except ValueError:
            value = float("nan")
        if 0.0 < value <= 1.0:
            return kind, value
        raise ValueError(f"threshold objective {shown_value(text)}: {kind[4:]} target {shown_value(target, 20)} is not a number in "
                         "(0, 1]; e.g. " + kind + ":0.9")
    raise ValueError(f"threshold objective {shown_value(text)} is not one of {OBJECTIVE_HELP}")


@dataclass(frozen=True)
class Candidates:
    """Every distinct score as a threshold, highest first, with the metrics it gives."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    false_positive_rate: np.ndarray

    @classmethod
    def of(cls, table: metrics.ScoreTable) -> "Candidates":
        tp, fp = table.tp[:-1][::-1], table.fp[:-1][::-1]  # descending thresholds
        return cls(
            thresholds=table.values[::-1],
            precision=tp / (tp + fp),  # never 0/0: every distinct score has a row at it
            recall=tp / table.n_pos,
            f1=2.0 * tp / (tp + fp + table.n_pos),
            false_positive_rate=fp / table.n_neg,
        )

    def point(self, i: int) -> dict:
        """The metrics at candidate ``i``, as evaluation.json's ``operating_points`` lists them."""
        return {
            "threshold": float(self.thresholds[i]),
            "precision": float(self.precision[i]),
            "recall": float(self.recall[i]),
            "f1": float(self.f1[i]),
            "false_positive_rate": float(self.false_positive_rate[i]),
        }


def operating_points(table: metrics.ScoreTable, *, recall_targets=(0.5, 0.8, 0.9, 0.95)) -> dict:
    """Thresholds worth knowing: maximum F1, maximum Youden's J (TPR − FPR), and the best precision
    at each recall target.

    >>> ops = operating_points(metrics.ScoreTable.from_arrays(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9])))
    >>> ops["max_f1"]["threshold"], ops["max_youden_j"]["threshold"]
    (0.4, 0.9)
    """
    at = Candidates.of(table)
    youden = at.recall - at.false_positive_rate
    at_recall = []
    for target in recall_targets:
        # Recall rises as the threshold falls: the eligible thresholds are a suffix.
        first = int(np.searchsorted(at.recall, target, side="left"))
        if first < len(at.recall):
            best = first + int(np.argmax(at.precision[first:]))
            at_recall.append({"recall_at_least": target, **at.point(best)})
    best_j = int(np.argmax(youden))
    return {
        "max_f1": at.point(int(np.argmax(at.f1))),
        "max_youden_j": {**at.point(best_j), "youden_j": float(youden[best_j])},
        "precision_at_recall": at_recall,
    }


def select_threshold(table: metrics.ScoreTable, objective: str = DEFAULT_OBJECTIVE) -> dict:
    """The threshold meeting ``objective`` on ``table``, with the validation metrics it gives.

    >>> t = metrics.ScoreTable.from_arrays(np.array([0, 0, 1, 1, 0, 1]), np.array([.1, .3, .35, .6, .7, .9]))
    >>> select_threshold(t, "max-f1")["threshold"]
    0.35
    >>> select_threshold(t, "min-precision:0.9")["threshold"], select_threshold(t, "min-recall:1")["threshold"]
    (0.9, 0.35)
    """
    kind, target = parse_objective(objective)
    if kind == "min-cost":
        return _min_cost(table, objective, *target)
    at = Candidates.of(table)
    precision, recall, f1 = at.precision, at.recall, at.f1
    if kind == "max-f1":
        best = int(np.argmax(f1))  # argmax takes the first: the highest threshold among ties
    else:
        constrained, goal = (precision, recall) if kind == "min-precision" else (recall, precision)
        eligible = np.flatnonzero(constrained >= target - 1e-12)
        if eligible.size == 0:
            what = "precision" if kind == "min-precision" else "recall"
            raise ValueError(
                f"no threshold reaches {what} >= {target} on the validation set (best {constrained.max():.4f}); "
                f"lower the target or use ThresholdObjective=max-f1"
            )
        best = int(eligible[np.argmax(goal[eligible])])
    return {
        "objective": objective,
        "threshold": float(at.thresholds[best]),
        "validation_precision": float(precision[best]),
        "validation_recall": float(recall[best]),
        "validation_f1": float(f1[best]),
        "validation_rows": table.n,
        "validation_positives": table.n_pos,
    }


MAX_COST_CURVE_POINTS = 200


def cost_candidates(table: metrics.ScoreTable, fp_cost: float, fn_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, expected cost per row), highest threshold first: every distinct score, and before them
    "no row positive" (just above the highest score) when that threshold is still at most 1.

    >>> t = metrics.ScoreTable.from_arrays(np.array([0, 1, 0, 1]), np.array([0.2, 0.4, 0.6, 0.8]))
    >>> [round(float(v), 4) for v in cost_candidates(t, 1.0, 5.0)[1]]
    [2.5, 1.25, 1.5, 0.25, 0.5]
    """
    tp, fp = table.tp[:-1][::-1], table.fp[:-1][::-1]  # at each distinct score, descending
    thresholds = table.values[::-1]
    costs = (fp_cost * fp + fn_cost * (table.n_pos - tp)) / table.n
    above = float(np.nextafter(thresholds[0], np.inf))
    if above <= 1.0:
        thresholds = np.concatenate([[above], thresholds])
        costs = np.concatenate([[fn_cost * table.n_pos / table.n], costs])
    return thresholds, costs


def expected_cost(table: metrics.ScoreTable, threshold: float, fp_cost: float, fn_cost: float) -> float:
    """Expected cost per row at ``threshold`` (a row is positive at or above it)."""
    _, fp, fn, _ = metrics.confusion_counts(table, threshold)
    return (fp_cost * fp + fn_cost * fn) / table.n


def _min_cost(table: metrics.ScoreTable, objective: str, fp_cost: float, fn_cost: float) -> dict:
    thresholds, costs = cost_candidates(table, fp_cost, fn_cost)
    best = int(np.argmin(costs))  # the first minimum: the highest threshold among ties
    threshold = float(thresholds[best])
    tn, fp, fn, tp = metrics.confusion_counts(table, threshold)
    step = max(1, math.ceil(len(thresholds) / MAX_COST_CURVE_POINTS))
    keep = np.unique(np.concatenate([np.arange(0, len(thresholds), step), [best, len(thresholds) - 1]]))
    return {
        "objective": objective,
        "threshold": threshold,
        "validation_precision": tp / (tp + fp) if tp + fp else 0.0,
        "validation_recall": tp / table.n_pos if table.n_pos else 0.0,
        "validation_f1": 2.0 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "validation_rows": table.n,
        "validation_positives": table.n_pos,
        "costs": {"false_positive": fp_cost, "false_negative": fn_cost},
        "validation_expected_cost": float(costs[best]),
        "validation_expected_cost_at_default": expected_cost(table, DEFAULT_THRESHOLD, fp_cost, fn_cost),
        "default_threshold": DEFAULT_THRESHOLD,
        "cost_curve": {"thresholds": thresholds[keep].tolist(), "expected_costs": costs[keep].tolist()},
    }

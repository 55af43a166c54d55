"""Choose the decision threshold on a validation set, to be frozen and used on the test set.

Objectives (the ``ThresholdObjective`` pipeline parameter):

* ``max-f1``: the threshold with the highest F1;
* ``min-precision:P``: the highest recall among thresholds whose precision is at least P;
* ``min-recall:R``: the highest precision among thresholds whose recall is at least R.

Candidates are the distinct validation scores (a row is positive when its score is at or above the
threshold); ties go to the highest threshold, the most conservative choice.
"""
from __future__ import annotations

import numpy as np

from . import metrics

DEFAULT_OBJECTIVE = "max-f1"
OBJECTIVE_HELP = "max-f1, min-precision:P (best recall with precision >= P) or min-recall:R (best precision with recall >= R)."


def parse_objective(text: str) -> tuple[str, float | None]:
    """``("max-f1", None)``, ``("min-precision", 0.9)`` or ``("min-recall", 0.8)``.

    >>> parse_objective("min-precision:0.9")
    ('min-precision', 0.9)
    >>> parse_objective("best")
    Traceback (most recent call last):
    ...
    ValueError: threshold objective 'best' is not one of max-f1, min-precision:P (best recall with precision >= P) or min-recall:R (best precision with recall >= R).
    """
    kind, _, target = text.strip().partition(":")
    if kind == "max-f1" and not target:
        return kind, None
    if kind in ("min-precision", "min-recall") and target:
        try:
            value = float(target)
        except ValueError:
            value = float("nan")
        if 0.0 < value <= 1.0:
            return kind, value
    raise ValueError(f"threshold objective {text!r} is not one of {OBJECTIVE_HELP}")


def select_threshold(table: metrics.ScoreTable, objective: str = DEFAULT_OBJECTIVE) -> dict:
    """The threshold meeting ``objective`` on ``table``, with the validation metrics it gives.

    >>> t = metrics.ScoreTable.from_arrays(np.array([0, 0, 1, 1, 0, 1]), np.array([.1, .3, .35, .6, .7, .9]))
    >>> select_threshold(t, "max-f1")["threshold"]
    0.35
    >>> select_threshold(t, "min-precision:0.9")["threshold"], select_threshold(t, "min-recall:1")["threshold"]
    (0.9, 0.35)
    """
    kind, target = parse_objective(objective)
    tp, fp = table.tp[:-1][::-1], table.fp[:-1][::-1]  # descending thresholds
    thresholds = table.values[::-1]
    precision = tp / (tp + fp)  # never 0/0: every distinct score has a row at it
    recall = tp / table.n_pos
    f1 = 2.0 * tp / (tp + fp + table.n_pos)
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
        "threshold": float(thresholds[best]),
        "validation_precision": float(precision[best]),
        "validation_recall": float(recall[best]),
        "validation_f1": float(f1[best]),
        "validation_rows": table.n,
        "validation_positives": table.n_pos,
    }

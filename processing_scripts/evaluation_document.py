"""The evaluation document: every metric, interval, curve and operating point of label,score pairs.

Its layout is SageMaker's model-quality ``evaluation.json`` (``binary_classification_metrics``), with
the extra sections this project adds; which metrics it holds, and where, is metric_catalog.py. The
numbers come from one :class:`metrics.ScoreTable` (point values, curves, calibration), uncertainty.py
(intervals) and operating_point.py. NaN stays NaN here; :func:`to_json` renders it as "NaN".
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from . import metric_catalog, metrics, operating_point, uncertainty

MAX_CURVE_POINTS = 1000


def _value(intervals: Mapping[str, dict], name: str, value: float, n_rows: int) -> dict:
    """``{"value", "standard_deviation"}``; the SD is NaN below SageMaker's minimum of rows."""
    sd = intervals.get(name, {}).get("standard_deviation", math.nan)
    return {"value": float(value), "standard_deviation": math.nan if n_rows < uncertainty.MIN_ROWS_FOR_STD else sd}


def build_document(
    y_true,
    y_score,
    *,
    threshold: float = 0.5,
    n_bootstrap: int = 1000,
    seed: int = 0,
    max_curve_points: int = MAX_CURVE_POINTS,
) -> dict[str, Any]:
    """The metrics of the evaluation document (numbers may be NaN; :func:`to_json` renders them as "NaN").

    >>> doc = build_document([0, 1, 0, 1], [0.2, 0.9, 0.6, 0.4], n_bootstrap=0)
    >>> doc["binary_classification_metrics"]["confusion_matrix"]
    {'0': {'0': 1, '1': 1}, '1': {'0': 1, '1': 1}}
    >>> doc["binary_classification_metrics"]["auc"]
    {'value': 0.75, 'standard_deviation': nan}
    """
    scores = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(y_true, y_score))
    return evaluate_scores(
        scores, threshold=threshold, n_bootstrap=n_bootstrap, seed=seed, max_curve_points=max_curve_points
    )


def evaluate_scores(
    scores: metrics.ScoreTable,
    *,
    threshold: float = 0.5,
    n_bootstrap: int = 1000,
    seed: int = 0,
    max_curve_points: int = MAX_CURVE_POINTS,
) -> dict[str, Any]:
    """:func:`build_document` from already sorted scores (the raw arrays can be freed first)."""
    n_pos, n_neg = scores.n_pos, scores.n_neg
    n = n_pos + n_neg
    tn, fp, fn, tp = metrics.confusion_counts(scores, threshold)
    point = {k: float(v) for k, v in metrics.threshold_metrics(tn, fp, fn, tp).items()}
    point.update(metrics.score_metrics(scores))
    auc_se = uncertainty.delong(scores)[1]
    cells = uncertainty.score_cells(scores)
    replicates = (
        uncertainty.bootstrap(scores, threshold, n_resamples=n_bootstrap, seed=seed, cells=cells)
        if n_bootstrap > 1 else {}
    )
    constant = {k: float(v) for k, v in metrics.best_constant_metrics(n_pos, n_neg).items()}
    intervals = uncertainty.replicate_intervals(replicates)

    body: dict[str, Any] = {
        "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
    }
    for name in metric_catalog.names(section=metric_catalog.BODY):
        body[name] = _value(intervals, name, point[name], n)
    for name in metric_catalog.names(best_constant=True):
        key = metric_catalog.best_constant_name(name)
        body[key] = _value(intervals, key, constant[name], n)
    roc = metrics.roc_curve_points(scores, max_points=max_curve_points)
    pr = metrics.precision_recall_points(scores, max_points=max_curve_points)
    body["receiver_operating_characteristic_curve"] = {
        "false_positive_rates": _close_roc(roc["false_positive_rates"]),
        "true_positive_rates": _close_roc(roc["true_positive_rates"]),
    }
    body["precision_recall_curve"] = precision_recall_curve(pr)

    auc_lower, auc_upper = uncertainty.normal_interval(point["auc"], auc_se, low=0.0, high=1.0)
    return {
        "version": 0.0,
        "binary_classification_metrics": body,
        "threshold": float(threshold),
        "dataset": {
            "item_count": n,  # Model Monitor's name for the rows evaluated
            "rows": n,
            "positives": n_pos,
            "negatives": n_neg,
            "prevalence": n_pos / n,
        },
        **{name: point[name] for name in metric_catalog.names(section=metric_catalog.TOP)},
        "confidence_intervals": {
            "level": uncertainty.CONFIDENCE_LEVEL,
            "method": (
                f"percentile bootstrap, {n_bootstrap} resamples (seed {seed}); threshold metrics from "
                "multinomial confusion counts (exact); ranking and probability metrics from "
                + ("per-score" if cells.exact else f"{len(cells.table.values)}-bin score histogram")
                + " cell counts"
            ),
            "resamples": n_bootstrap,
            "seed": seed,
            "metrics": intervals,
            "auc_delong": {"standard_deviation": auc_se, "lower": auc_lower, "upper": auc_upper},
        },
        "calibration": metrics.calibration_table(scores),
        "operating_points": operating_point.operating_points(scores),
    }


def precision_recall_curve(pr: Mapping[str, np.ndarray]) -> dict[str, list[float]]:
    """evaluation.json's ``precision_recall_curve`` from :func:`metrics.precision_recall_points`.

    Model Monitor lists the curve from the highest threshold down, as it lists the ROC curve: recalls
    ascending from 0.0 to 1.0 (its published binary_classification_metrics examples). scikit-learn's
    order, which ``precision_recall_points`` keeps, is the reverse (increasing thresholds, ending at
    recall 0), so the points are the same and only their order is turned round.

    >>> from processing_scripts.metrics import ScoreTable, precision_recall_points
    >>> precision_recall_curve(precision_recall_points(ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.7]))))
    {'precisions': [1.0, 1.0, 0.5], 'recalls': [0.0, 1.0, 1.0]}
    """
    return {"precisions": pr["precisions"][::-1].tolist(), "recalls": pr["recalls"][::-1].tolist()}


def _close_roc(values: np.ndarray) -> list[float]:
    # The curve always ends at (1, 1): the lowest threshold predicts every row positive.
    values = values.tolist()
    return values if values[-1] == 1.0 else values + [1.0]


def to_json(document: Any) -> Any:
    """JSON-safe copy: NaN and infinities become strings (JSON has no literal for them).

    >>> to_json({"a": float("nan"), "b": [np.float64(1.5), np.int64(2)], "_private": 1})
    {'a': 'NaN', 'b': [1.5, 2]}
    """
    if isinstance(document, dict):
        return {k: to_json(v) for k, v in document.items() if not k.startswith("_")}
    if isinstance(document, (list, tuple)):
        return [to_json(v) for v in document]
    if isinstance(document, (float, np.floating)):
        value = float(document)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(document, np.integer):
        return int(document)
    return document

"""Model-quality constraints: what a deployed model's labelled traffic must keep, derived from its evaluation.

``constraints.json`` is in Model Monitor's model-quality layout (``version``, then
``binary_classification_constraints``: ``{metric: {"threshold", "comparison_operator"}}``; a window
violates a constraint when ``<its metric> <comparison_operator> <threshold>`` holds, here
``LessThanThreshold``: the metric fell below the threshold). RegisterModel attaches it as the package's
``DriftCheckBaselines.ModelQuality.Constraints``, beside evaluation.json as its statistics.

Model Monitor's own baselining suggests the point value as the threshold, so half of the windows of a
model exactly as good as when it was registered alarm. Here the threshold allows for sampling noise
(:func:`constraint_threshold`): a window of as many rows as the test set, from traffic of the same
quality, falls below it about FALSE_ALARM_RATE (0.5%) of the time per metric, so that a window alarms on
any metric about 2.5-5% of the time (tests/test_model_quality_constraints.py measures it). Windows with
fewer rows than the test set are noisier, and alarm more often.

This module runs inside the processing container: no SDK, no AWS.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping

from . import uncertainty
from .metric_catalog import number, spec
from .parameters import GATE_PARAMETERS

# The metrics the monitor checks, each a "higher is better" metric of metric_catalog, in this order.
CONSTRAINED_METRICS: tuple[str, ...] = ("auc", "f1", "precision", "recall", "accuracy")
COMPARISON_OPERATOR = "LessThanThreshold"  # a violation: the window's metric < threshold
SECTION = "binary_classification_constraints"
CONSTRAINTS_FILE = "constraints.json"
# A window's estimate and the test set's are independent estimates of the same quality, each about as
# spread as the test set's interval says: their difference spreads sqrt(2) times as wide. Widened so,
# the lower half-width of the test set's interval (at uncertainty.CONFIDENCE_LEVEL) bounds a same-size
# window at that level; widened further to FALSE_ALARM_RATE, the share of same-quality windows that
# alarm on one metric, so that the few metrics together seldom alarm (a Bonferroni split of ~2.5%).
FALSE_ALARM_RATE = 0.005
WIDENING = (math.sqrt(2.0) * uncertainty.normal_quantile(1.0 - 2.0 * FALSE_ALARM_RATE)
            / uncertainty.normal_quantile(uncertainty.CONFIDENCE_LEVEL))

BASIS_INTERVAL = "interval"  # value - WIDENING * (value - lower bound)
BASIS_GATE = "gate"  # the gate's threshold, stricter than the interval's
BASIS_POINT = "point"  # no interval: the point value (fail closed: any drop alarms)


def constraint_threshold(*, value: float, lower_bound: float, gate_threshold: float | None = None) -> dict[str, Any]:
    """The threshold of one metric and its basis: the point value less WIDENING (about 1.86) times the
    evaluation's lower half-width (``value - lower_bound``), within [0, 1]; the gate's threshold
    instead when it is higher (the gate's minimum is the least quality ever accepted). With no lower
    bound (NaN: bootstrap off, too few rows, or a resample of one class) the noise is unknown, so the
    threshold is the point value itself: it fails closed (alarms) rather than pass a drop silently.

    >>> chosen = constraint_threshold(value=0.9, lower_bound=0.85)
    >>> round(chosen["threshold"], 4), chosen["basis"]
    (0.8071, 'interval')
    >>> constraint_threshold(value=0.9, lower_bound=0.85, gate_threshold=0.88)
    {'threshold': 0.88, 'basis': 'gate'}
    >>> constraint_threshold(value=0.9, lower_bound=float("nan"))
    {'threshold': 0.9, 'basis': 'point'}
    >>> constraint_threshold(value=0.1, lower_bound=0.0)["threshold"]
    0.0
    """
    if not math.isfinite(value):
        raise ValueError(f"metric value {value!r} is not a number: no constraint can be derived from it")
    if math.isnan(lower_bound):
        threshold, basis = value, BASIS_POINT
    else:
        # A percentile bound may lie above a skewed point value: no allowance is then no allowance.
        half_width = max(0.0, value - lower_bound)
        threshold, basis = min(1.0, max(0.0, value - WIDENING * half_width)), BASIS_INTERVAL
    if gate_threshold is not None and gate_threshold > threshold:
        threshold, basis = float(gate_threshold), BASIS_GATE
    return {"threshold": float(threshold), "basis": basis}


def gate_thresholds(document: Mapping[str, Any]) -> dict[str, float]:
    """``{metric: the gate's minimum}`` from evaluation.json's ``gate.settings`` (none without a gate).

    >>> gate_thresholds({"gate": {"settings": {"AucThreshold": 0.75, "F1Threshold": 0.6, "MinTestRows": 200}}})
    {'auc': 0.75, 'f1': 0.6}
    >>> gate_thresholds({})
    {}
    """
    settings = (document.get("gate") or {}).get("settings") or {}
    minimums = {p.field.removesuffix("_threshold"): p.name for p in GATE_PARAMETERS if p.field.endswith("_threshold")}
    return {metric: float(settings[name]) for metric, name in minimums.items()
            if metric in CONSTRAINED_METRICS and settings.get(name) is not None}


def _json_get(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for key in path.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def constraints_section(document: Mapping[str, Any]) -> dict[str, Any]:
    """evaluation.json's ``model_quality_constraints``: each metric's threshold with what it came from
    (value, lower bound, the gate's minimum, basis). constraints.json is written from it."""
    gates = gate_thresholds(document)
    metrics = {}
    for name in CONSTRAINED_METRICS:
        value = number(_json_get(document, spec(name).value_path))
        lower_path = spec(name).lower_bound_path
        lower = number(_json_get(document, lower_path))
        # An interval without a standard deviation is no evidence (DeLong's with too few of a class spans
        # all of [0, 1]): its bound is unknown, not 0.
        if math.isnan(number(_json_get(document, lower_path.removesuffix(".lower") + ".standard_deviation"))):
            lower = math.nan
        chosen = constraint_threshold(value=value, lower_bound=lower, gate_threshold=gates.get(name))
        metrics[name] = {**chosen, "value": value, "lower_bound": lower, "gate_threshold": gates.get(name)}
    return {
        "file": CONSTRAINTS_FILE,
        "comparison_operator": COMPARISON_OPERATOR,
        "rule": (f"a window violates a metric when it falls below value - {WIDENING:.3f} x (value - lower 95% bound), or "
                 "below the gate's minimum where that is higher, or below the point value when no bound was "
                 f"computed; for windows of at least {_json_get(document, 'dataset.rows')} rows (the test set's)"),
        "metrics": metrics,
    }


def constraints_document(section: Mapping[str, Any]) -> dict[str, Any]:
    """constraints.json's content (Model Monitor's layout) from :func:`constraints_section`'s section.

    >>> constraints_document({"metrics": {"auc": {"threshold": 0.8, "basis": "interval"}}})
    {'version': 0.0, 'binary_classification_constraints': {'auc': {'threshold': 0.8, 'comparison_operator': 'LessThanThreshold'}}}
    """
    return {
        "version": 0.0,
        SECTION: {name: {"threshold": float(entry["threshold"]), "comparison_operator": COMPARISON_OPERATOR}
                  for name, entry in section["metrics"].items()},
    }


def constraints_bytes(section: Mapping[str, Any]) -> bytes:
    """constraints.json as written (finite numbers only: a NaN threshold is refused, not written)."""
    return (json.dumps(constraints_document(section), indent=2, allow_nan=False) + "\n").encode()

"""The quality gate, defined once.

Every rule names the metric, where it lives in ``evaluation.json``, the pipeline parameter that
holds its threshold and that parameter's default.  The pipeline's ConditionStep, its FailStep
message, the evaluation report and the local runner are all derived from ``GATE_RULES``.

This module runs inside the processing container too, so it uses the standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class GateRule:
    """``metric >= threshold``, read from ``json_path`` of evaluation.json."""

    metric: str
    json_path: str
    parameter: str
    default: float
    description: str

    @property
    def cli_flag(self) -> str:
        """The evaluate.py flag that passes this rule's threshold, e.g. ``--auc-threshold``."""
        return f"--{self.metric.replace('_', '-')}-threshold"


GATE_RULES: tuple[GateRule, ...] = (
    GateRule(
        metric="auc",
        json_path="binary_classification_metrics.auc.value",
        parameter="AucThreshold",
        default=0.75,
        description="Minimum ROC AUC on the test set for the model to be registered.",
    ),
    GateRule(
        metric="f1",
        json_path="binary_classification_metrics.f1.value",
        parameter="F1Threshold",
        default=0.6,
        description="Minimum F1 at DecisionThreshold on the test set for the model to be registered.",
    ),
)


def json_get(document: Mapping[str, Any], path: str) -> Any:
    """Follow a dotted path the way SageMaker's ``Std:JsonGet`` does for plain keys.

    >>> json_get({"a": {"b": {"value": 0.5}}}, "a.b.value")
    0.5
    """
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(f"JSON path {path!r} not found (missing {key!r})")
        node = node[key]
    return node


def evaluate_gate(document: Mapping[str, Any], thresholds: Mapping[str, float]) -> list[dict]:
    """Check each rule whose metric has a threshold in ``thresholds`` (keyed by metric name).

    Returns one record per checked rule: metric, value, threshold, passed.

    >>> doc = {"binary_classification_metrics": {"auc": {"value": 0.8}, "f1": {"value": 0.5}}}
    >>> [(c["metric"], c["passed"]) for c in evaluate_gate(doc, {"auc": 0.75, "f1": 0.6})]
    [('auc', True), ('f1', False)]
    """
    checks = []
    for rule in GATE_RULES:
        if rule.metric not in thresholds:
            continue
        value = float(json_get(document, rule.json_path))
        threshold = float(thresholds[rule.metric])
        checks.append(
            {
                "metric": rule.metric,
                "value": value,
                "threshold": threshold,
                # NaN never passes: a comparison with NaN is False.
                "passed": bool(value >= threshold),
            }
        )
    return checks

"""Model Monitor's model-quality checks: a window's metrics against the registered constraints.

``constraints.json`` (model-quality layout) holds ``<problem>_constraints`` (e.g.
``binary_classification_constraints``): per metric a ``threshold`` and a ``comparison_operator``; the
metric violates it when ``value <operator> threshold`` holds (``LessThanThreshold``: the value fell below).
The statistics hold ``<problem>_metrics`` with ``value`` and ``standard_deviation``. Fail closed: a
constrained metric that the window could not measure (absent, NaN) is a violation too.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable, Mapping

from .labelled import DataError

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
}


def _value(metric: Any) -> float:
    try:
        value = float(metric["value"])
    except (KeyError, TypeError, ValueError):
        return math.nan
    return value


def check_quality(statistics: Mapping[str, Any], constraints: Mapping[str, Any], *,
                  where: str = "constraints.json") -> list[dict[str, str]]:
    """``constraint_violations.json`` entries of a window's statistics against model-quality constraints.

    >>> stats = {"binary_classification_metrics": {"auc": {"value": 0.7, "standard_deviation": 0.01}}}
    >>> rules = {"binary_classification_constraints": {"auc": {"threshold": 0.8,
    ...                                                        "comparison_operator": "LessThanThreshold"}}}
    >>> check_quality(stats, rules)[0]["description"]
    "Metric auc with 0.7 +/- 0.01 was LessThanThreshold '0.8'"
    """
    sections = [k for k in constraints if isinstance(k, str) and k.endswith("_constraints")]
    if not sections:
        raise DataError(f"{where} holds no model-quality constraints (e.g. binary_classification_constraints); "
                        "pass the constraints.json the evaluation registered")
    if not any(isinstance(constraints[k], Mapping) and constraints[k] for k in sections):
        raise DataError(f"{where}: {sections[0]} constrains no metric, so nothing could ever alarm; pass the "
                        "constraints.json the evaluation registered")
    violations = []
    for section in sections:
        rules = constraints[section]
        metrics = statistics.get(section[: -len("_constraints")] + "_metrics") or {}
        if not isinstance(rules, Mapping):
            raise DataError(f"{where}: {section} is not an object of metric constraints")
        for name, rule in rules.items():
            op = rule.get("comparison_operator") if isinstance(rule, Mapping) else None
            if op not in OPERATORS:
                raise DataError(f"{where}: {section}.{name}: comparison_operator {str(op)[:40]!r} is not one of "
                                f"{', '.join(OPERATORS)}")
            raw = rule.get("threshold")
            try:
                threshold = float(raw) if not isinstance(raw, bool) else math.nan
            except (TypeError, ValueError):
                threshold = math.nan
            if not math.isfinite(threshold):  # a NaN threshold would never alarm
                raise DataError(f"{where}: {section}.{name}: threshold {str(raw)[:40]!r} is missing or not a finite "
                                "number; pass the constraints.json the evaluation registered")
            value = _value(metrics.get(name))
            if math.isnan(value):
                violations.append({"constraint_check_type": op, "metric_name": name, "description":
                                   f"Metric {name} could not be computed on this window, so it is not known to meet "
                                   f"{op} '{threshold!r}'"})
            elif OPERATORS[op](value, threshold):
                spread = metrics[name].get("standard_deviation")
                shown = f"{value!r}" + (f" +/- {spread!r}" if isinstance(spread, (int, float)) else "")
                violations.append({"constraint_check_type": op, "metric_name": name,
                                   "description": f"Metric {name} with {shown} was {op} '{threshold!r}'"})
    return violations

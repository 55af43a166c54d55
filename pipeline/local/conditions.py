"""The conditions of a ConditionStep, evaluated as SageMaker does (its condition types)."""
from __future__ import annotations

import operator
from typing import Any, Callable, Mapping

from pipeline.local.execution import StepFailure
from pipeline.local.expressions import Scope, evaluate

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.ne,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}


def evaluate_condition(condition: Mapping[str, Any], scope: Scope) -> bool:
    """One condition of a ConditionStep; an order comparison of non-numbers fails the step.

    >>> evaluate_condition({"Type": "GreaterThanOrEqualTo", "LeftValue": 0.8, "RightValue": 0.75}, Scope({}, {}))
    True
    """
    kind = condition["Type"]
    if kind in _COMPARISONS:
        left = evaluate(condition["LeftValue"], scope)
        right = evaluate(condition["RightValue"], scope)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        if kind not in ("Equals", "NotEquals") and not numeric:
            raise StepFailure(f"condition {kind} cannot compare {left!r} with {right!r}: both must be numbers")
        return bool(_COMPARISONS[kind](left, right))
    if kind == "In":
        value = evaluate(condition["QueryValue"], scope)
        return value in evaluate(condition["Values"], scope)
    if kind == "Not":
        return not evaluate_condition(condition["Condition"], scope)
    if kind == "Or":
        return any(evaluate_condition(c, scope) for c in condition["Conditions"])
    raise StepFailure(f"unsupported condition type {kind!r}")

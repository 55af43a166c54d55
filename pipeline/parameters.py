"""Pipeline parameter overrides (``--param Name=Value``), checked against the definition's declarations.

Shared by upsert (which sends them to StartPipelineExecution) and the local runner (which resolves
``Get: Parameters.X`` with them), so both reject the same bad input the same way.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping

from steps.parameters import APPROVAL_STATUSES

# Values SageMaker would refuse at execution time, caught before anything is sent.
ALLOWED_VALUES: dict[str, tuple[str, ...]] = {"ModelApprovalStatus": APPROVAL_STATUSES}


class ParameterError(ValueError):
    """An override names an unknown parameter or has a value of the wrong type."""


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["A=1", "B=x"]`` → ``{"A": "1", "B": "x"}``; a repeated name is an error."""
    overrides: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ParameterError(f"bad --param {item!r}: use Name=Value")
        if name in overrides:
            raise ParameterError(f"--param {name} given twice")
        overrides[name] = value
    return overrides


def _convert(declared_type: str, name: str, text: str) -> object:
    if declared_type == "String":
        allowed = ALLOWED_VALUES.get(name)
        if allowed and text not in allowed:
            raise ParameterError(f"bad value {text!r} for {name}: expected one of {', '.join(allowed)}")
        return text
    if declared_type == "Integer":
        try:
            return int(text)
        except ValueError:
            raise ParameterError(f"bad value {text!r} for {name}: expected an integer") from None
    if declared_type == "Float":
        try:
            value = float(text)
        except ValueError:
            raise ParameterError(f"bad value {text!r} for {name}: expected a number") from None
        if not math.isfinite(value):
            raise ParameterError(f"bad value {text!r} for {name}: expected a finite number")
        return value
    if declared_type == "Boolean":
        if text.lower() not in ("true", "false"):
            raise ParameterError(f"bad value {text!r} for {name}: expected true or false")
        return text.lower() == "true"
    raise ParameterError(f"parameter {name} has unsupported type {declared_type}")


def resolve_parameters(declared: Iterable[Mapping], overrides: Mapping[str, str]) -> dict[str, object]:
    """Defaults from the definition's ``Parameters``, replaced by typed overrides.

    A parameter without a default and without an override is an error, as it is for SageMaker.
    """
    declared = list(declared)
    by_name = {p["Name"]: p for p in declared}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise ParameterError(
            f"unknown parameter {unknown[0]!r}: the pipeline's parameters are {', '.join(by_name)}"
        )
    values: dict[str, object] = {}
    for name, spec in by_name.items():
        if name in overrides:
            values[name] = _convert(spec["Type"], name, overrides[name])
        elif "DefaultValue" in spec:
            values[name] = spec["DefaultValue"]
        else:
            raise ParameterError(f"parameter {name} has no default: pass --param {name}=VALUE")
    return values


def execution_parameters(declared: Iterable[Mapping], overrides: Mapping[str, str]) -> list[dict[str, str]]:
    """StartPipelineExecution's ``PipelineParameters`` for the overrides (validated, as text)."""
    values = resolve_parameters(declared, overrides)
    return [
        {"Name": name, "Value": str(values[name]).lower() if isinstance(values[name], bool) else str(values[name])}
        for name in overrides
    ]

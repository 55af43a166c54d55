"""Pipeline parameter overrides (``--param Name=Value``), checked before anything runs or is sent.

Shared by upsert (which sends them to StartPipelineExecution or a schedule) and the local runner (which
resolves ``Get: Parameters.X`` with them), so both refuse the same bad input with the same words: the
parameter table's rule (``processing_scripts/parameters.py``: type, choices, range), exit code 2.
"""
from __future__ import annotations

import difflib

from typing import Iterable, Mapping

from processing_scripts.text_files import shown_value
from processing_scripts.parameters import FROM_SETTINGS, Parameter, ParameterError

__all__ = ["ParameterError", "check_overrides", "execution_parameters", "parse_overrides", "resolve_parameters"]


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["A=1", "B=x"]`` → ``{"A": "1", "B": "x"}``; a repeated name is an error.

    >>> parse_overrides(["AucThreshold=0.8"])
    {'AucThreshold': '0.8'}
    """
    overrides: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ParameterError(f"bad --param {item!r}: use Name=Value")
        if name in overrides:
            raise ParameterError(f"--param {name} given twice")
        overrides[name] = value
    return overrides


def check_overrides(table: Iterable[Parameter], overrides: Mapping[str, str]) -> dict[str, object]:
    """The typed overrides, each checked by its row of the pipeline's parameter table.

    >>> from processing_scripts.parameters import EVALUATION_PARAMETERS
    >>> check_overrides(EVALUATION_PARAMETERS, {"DecisionThreshold": "1.5"})
    Traceback (most recent call last):
    ...
    processing_scripts.parameters.ParameterError: bad value '1.5' for DecisionThreshold: expected a number from 0 to 1
    """
    rows = {p.name: p for p in table}
    unknown = sorted(set(overrides) - set(rows))
    if unknown:
        raise unknown_parameter(unknown[0], rows)
    return {name: rows[name].parse(value) for name, value in overrides.items()}


def unknown_parameter(name: str, known: Iterable[str]) -> ParameterError:
    """The error for a parameter the pipeline does not take: the closest name, or every name when
    they fit on the line, else where they are listed.

    >>> str(unknown_parameter("AucTreshold", ["AucThreshold", "F1Threshold"]))
    "unknown parameter 'AucTreshold': did you mean AucThreshold?"
    >>> str(unknown_parameter("Zzz", ["AucThreshold", "F1Threshold"]))
    "unknown parameter 'Zzz': the pipeline's parameters are AucThreshold, F1Threshold"
    """
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return ParameterError(f"unknown parameter {shown_value(name)}: did you mean {close[0]}?")
    listed = ", ".join(known)
    if len(listed) > 150:
        listed = f"in the README's parameter table ({len(known)} of them)"
    return ParameterError(f"unknown parameter {shown_value(name)}: the pipeline's parameters are {listed}")


def resolve_parameters(declared: Iterable[Mapping], overrides: Mapping[str, str]) -> dict[str, object]:
    """Defaults from a definition's ``Parameters``, replaced by overrides converted to the declared type.

    A parameter without a default and without an override is an error, as it is for SageMaker.
    """
    by_name = {p["Name"]: p for p in declared}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise unknown_parameter(unknown[0], by_name)
    values: dict[str, object] = {}
    for name, spec in by_name.items():
        if name in overrides:
            values[name] = Parameter(name, spec["Type"], FROM_SETTINGS, "").parse(overrides[name])
        elif "DefaultValue" in spec:
            values[name] = spec["DefaultValue"]
        else:
            raise ParameterError(f"parameter {name} has no default: pass --param {name}=VALUE")
    return values


def execution_parameters(table: Iterable[Parameter], overrides: Mapping[str, str]) -> list[dict[str, str]]:
    """StartPipelineExecution's (or a schedule's) ``PipelineParameters`` for the overrides, checked, as text."""
    values = check_overrides(table, overrides)
    return [{"Name": name, "Value": str(value).lower() if isinstance(value, bool) else str(value)}
            for name, value in values.items()]

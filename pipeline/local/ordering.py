"""The order steps run in: data dependencies (``Get Steps.X``) and ``DependsOn``, definition order among equals.

A condition step depends on whatever its branches read, so that the steps a branch needs have run before
the condition chooses it. An unknown step or a cycle is an :class:`ExpressionError`, as SageMaker rejects
such a definition.
"""
from __future__ import annotations

from typing import Any, Mapping

from pipeline.local.expressions import ExpressionError, referenced_steps


def _branches(step: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The steps of a condition's IfSteps then ElseSteps (none for other steps)."""
    if step["Type"] != "Condition":
        return []
    return step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", [])


def step_dependencies(step: Mapping[str, Any]) -> set[str]:
    """Steps whose results ``step`` (or, for a condition, any step in its branches) reads or names.

    >>> sorted(step_dependencies({"Name": "T", "Type": "Transform", "DependsOn": ["A"],
    ...                           "Arguments": {"ModelName": {"Get": "Steps.M.ModelName"}}}))
    ['A', 'M']
    """
    deps = set(step.get("DependsOn", [])) | referenced_steps(step.get("Arguments", {}))
    nested = _branches(step)
    for child in nested:
        deps |= step_dependencies(child)
    deps -= {child["Name"] for child in nested}
    deps.discard(step["Name"])
    return deps


def execution_order(steps: list[Mapping[str, Any]], known: set[str]) -> list[Mapping[str, Any]]:
    """Topological order by data dependencies and DependsOn, definition order among equals."""
    pending = list(steps)
    deps = {s["Name"]: step_dependencies(s) for s in steps}
    for name, needs in deps.items():
        unknown = sorted(needs - known)
        if unknown:
            raise ExpressionError(f"step {name!r} depends on unknown step {unknown[0]!r}")
    top_level = {s["Name"] for s in steps}
    done: set[str] = set()
    ordered = []
    while pending:
        ready = [s for s in pending if (deps[s["Name"]] & top_level) <= done]
        if not ready:
            raise ExpressionError(f"dependency cycle among steps {sorted(s['Name'] for s in pending)}")
        step = ready[0]
        ordered.append(step)
        done.add(step["Name"])
        pending.remove(step)
    return ordered


def all_step_names(steps: list[Mapping[str, Any]]) -> set[str]:
    """The names of every step, those inside condition branches included."""
    names = set()
    for step in steps:
        names.add(step["Name"])
        names |= all_step_names(_branches(step))
    return names

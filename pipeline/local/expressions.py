"""Evaluate the definition's expression language: ``Get``, ``Std:Join``, ``Std:JsonGet``.

Pure functions over a :class:`Scope`; no I/O except loading a property file through the scope. What
SageMaker would reject at run time (a reference to an unknown step or property, a JsonGet path that is
not in the file, an unknown function) raises :class:`ExpressionError` with the same diagnosis.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

_TOKEN = re.compile(r"\.?([A-Za-z0-9_\-:]+)|\['([^']*)'\]|\[(\d+)\]")


class ExpressionError(ValueError):
    """An expression cannot be evaluated; the message names it."""


def parse_path(path: str) -> list[str | int]:
    """Split a property path into keys and indices.

    >>> parse_path("ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri")
    ['ProcessingOutputConfig', 'Outputs', 'evaluation', 'S3Output', 'S3Uri']
    >>> parse_path("a.b[0].c")
    ['a', 'b', 0, 'c']
    """
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot parse path {path!r} at position {position}")
        name, quoted, index = match.groups()
        tokens.append(int(index) if index is not None else (quoted if quoted is not None else name))
        position = match.end()
    return tokens


def lookup(document: Any, path: str, *, what: str) -> Any:
    """Follow ``path`` into ``document``; a string key on a list selects the item with that ``*Name``.

    >>> lookup({"Outputs": [{"OutputName": "a", "Uri": "s3://x"}]}, "Outputs['a'].Uri", what="demo")
    's3://x'
    """
    node = document
    for token in parse_path(path):
        if isinstance(token, int):
            if not isinstance(node, list) or token >= len(node):
                raise ExpressionError(f"{what}: index [{token}] out of range in {path!r}")
            node = node[token]
        elif isinstance(node, Mapping):
            if token not in node:
                raise ExpressionError(f"{what}: {path!r} not found (no {token!r})")
            node = node[token]
        elif isinstance(node, list):
            named = [item for item in node if isinstance(item, Mapping)
                     and any(k.endswith("Name") and v == token for k, v in item.items())]
            if not named:
                raise ExpressionError(f"{what}: no item named {token!r} in {path!r}")
            node = named[0]
        else:
            raise ExpressionError(f"{what}: {path!r} not found ({token!r} of a {type(node).__name__})")
    return node


def to_text(value: Any) -> str:
    """How SageMaker renders a primitive inside ``Std:Join``.

    >>> [to_text(v) for v in (0.75, 1, True, "s")]
    ['0.75', '1', 'true', 's']
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


@dataclass
class Scope:
    """What expressions can see while a step runs."""

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    # Step name → its Describe*-shaped properties, for steps that have completed.
    steps: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # (step name, property file name) → a loader of the parsed JSON.
    property_files: dict[tuple[str, str], Callable[[], Any]] = field(default_factory=dict)
    known_steps: frozenset[str] = frozenset()

    def get(self, reference: str) -> Any:
        head, _, rest = reference.partition(".")
        if head == "Parameters":
            if rest not in self.parameters:
                raise ExpressionError(f"Get {reference!r}: the pipeline has no parameter {rest!r}")
            return self.parameters[rest]
        if head == "Execution":
            if rest not in self.execution:
                raise ExpressionError(f"Get {reference!r}: unknown execution variable {rest!r}")
            return self.execution[rest]
        if head == "Steps":
            step, _, path = rest.partition(".")
            if step not in self.known_steps:
                raise ExpressionError(f"Get {reference!r}: no step named {step!r} in the pipeline")
            if step not in self.steps:
                raise ExpressionError(f"Get {reference!r}: step {step!r} has not run")
            return lookup(self.steps[step], path, what=f"Get {reference!r}")
        raise ExpressionError(f"Get {reference!r}: unsupported reference root {head!r}")

    def property_file(self, reference: str) -> Any:
        match = re.fullmatch(r"Steps\.([^.]+)\.PropertyFiles\.([^.]+)", reference)
        if not match:
            raise ExpressionError(f"Std:JsonGet: {reference!r} is not a property file reference")
        step, name = match.groups()
        if step not in self.known_steps:
            raise ExpressionError(f"Std:JsonGet: no step named {step!r} in the pipeline")
        loader = self.property_files.get((step, name))
        if loader is None:
            raise ExpressionError(f"Std:JsonGet: step {step!r} declares no property file {name!r}")
        return loader()


def evaluate(expression: Any, scope: Scope) -> Any:
    """Replace every function in ``expression`` (recursively) by its value."""
    if isinstance(expression, list):
        return [evaluate(item, scope) for item in expression]
    if not isinstance(expression, dict):
        return expression
    if len(expression) == 1:
        (key, body), = expression.items()
        if key == "Get":
            return scope.get(body)
        if key == "Std:Join":
            values = evaluate(body["Values"], scope)
            return body.get("On", "").join(to_text(v) for v in values)
        if key == "Std:JsonGet":
            reference = body["PropertyFile"]["Get"]
            document = scope.property_file(reference)
            return lookup(document, body["Path"], what=f"Std:JsonGet {body['Path']!r} of {reference}")
        if key.startswith("Std:") or key.startswith("Get"):
            raise ExpressionError(f"unsupported function {key!r} in the definition")
    return {key: evaluate(value, scope) for key, value in expression.items()}


def referenced_steps(expression: Any) -> set[str]:
    """Names of the steps an expression reads from (its data dependencies)."""
    found: set[str] = set()
    if isinstance(expression, list):
        for item in expression:
            found |= referenced_steps(item)
    elif isinstance(expression, dict):
        for key, value in expression.items():
            if key == "Get" and isinstance(value, str) and value.startswith("Steps."):
                found.add(value.split(".")[1])
            else:
                found |= referenced_steps(value)
    return found

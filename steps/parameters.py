"""SDK pipeline parameters from the one parameter table (``processing_scripts/parameters.py``).

Studio shows each with its description; a step factory takes the parameters it reads by name.
"""
from __future__ import annotations

from typing import Any, Mapping

from sagemaker.core.workflow.parameters import (
    Parameter,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)

from processing_scripts.parameters import FROM_SETTINGS
from processing_scripts.parameters import Parameter as Declared

_CLASSES = {"Float": ParameterFloat, "Integer": ParameterInteger, "String": ParameterString,
            "Boolean": ParameterBoolean}


def described(parameter: Parameter, description: str) -> Parameter:
    """Attach a Description to a parameter's definition.

    The definition schema and Studio support ``Description``; the SDK's parameter classes do not
    emit it, so it is added at serialisation time without changing how the parameter is referenced.
    """
    to_request = parameter.to_request

    def to_request_with_description() -> dict:
        request = to_request()
        request["Description"] = description
        return request

    object.__setattr__(parameter, "to_request", to_request_with_description)
    return parameter


def create_parameters(table: tuple[Declared, ...], settings: Mapping[str, Any]) -> dict[str, Parameter]:
    """``{name: SDK parameter}`` in table order. ``settings`` gives the defaults the table leaves to the
    pipeline's settings (``FROM_SETTINGS``) and may not give any other; each default is checked by the
    table's rule."""
    needed = {p.name for p in table if p.default is FROM_SETTINGS}
    if set(settings) != needed:
        raise ValueError(f"settings must give exactly the defaults {sorted(needed)}, not {sorted(settings)}")
    return {
        p.name: described(_CLASSES[p.type](name=p.name, default_value=p.parse(settings.get(p.name, p.default))),
                          p.help)
        for p in table
    }

"""Validate a pipeline definition against the published JSON schema, plus the SDK's known extensions.

The published schema is stale: it rejects fields and functions the SDK (and the service) legitimately
use. Each gap is named below, with the minimal schema change that admits it; nothing else is relaxed,
so a misspelled key, a wrong type or an unknown step still fails.
"""
from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jsonschema

from processing_scripts import customer_metadata

SCHEMA_PATH = Path(__file__).with_name("schemas") / "pipeline-definition.schema.json"
ARGUMENT_VALUE_TYPES = ("StringArgumentValue", "IntegerArgumentValue", "FloatArgumentValue", "BooleanArgumentValue")


class DefinitionError(ValueError):
    """The definition does not match the schema; the message names the JSON path."""


@dataclass(frozen=True)
class Extension:
    name: str
    reason: str
    apply: Callable[[dict], None]


def _ref(name: str) -> dict:
    return {"$ref": f"#/definitions/{name}"}


def _closed(properties: dict) -> dict:
    """An object with exactly these properties, all required."""
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _function(name: str, arguments: dict) -> dict:
    """A definition function, ``{name: {arguments}}``."""
    return _closed({name: _closed(arguments)})


def _add_json_get(schema: dict) -> None:
    defs = schema["definitions"]
    defs["JsonGetFunction"] = _function("Std:JsonGet", {
        "PropertyFile": _ref("GetFunction"), "Path": {"type": "string", "minLength": 1}})
    for name in ARGUMENT_VALUE_TYPES:
        defs[name]["oneOf"].append(_ref("JsonGetFunction"))


def _add_join(schema: dict) -> None:
    defs = schema["definitions"]
    # The schema defines JoinFunction but never references it, and its shape is malformed.
    defs["JoinFunction"] = _function("Std:Join", {
        "On": {"type": "string"},
        "Values": {"type": "array", "items": {"oneOf": [
            {"type": ["string", "number", "boolean"]}, _ref("GetFunction"), _ref("JsonGetFunction")]}},
    })
    for name in ARGUMENT_VALUE_TYPES:
        defs[name]["oneOf"].append(_ref("JoinFunction"))


def _add_property_files(schema: dict) -> None:
    schema["definitions"]["ProcessingStep"]["properties"]["PropertyFiles"] = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "PropertyFileName": {"type": "string"},
                "OutputName": {"type": "string"},
                "FilePath": {"type": "string"},
            },
            "required": ["PropertyFileName", "OutputName", "FilePath"],
            "additionalProperties": False,
        },
    }


def _add_app_managed(schema: dict) -> None:
    inputs = schema["definitions"]["ProcessingArgs"]["properties"]["ProcessingInputs"]["items"]
    inputs["properties"]["AppManaged"] = _ref("BooleanArgumentValue")


def _register_args(schema: dict) -> dict:
    return schema["definitions"]["RegisterModelStep"]["properties"]["Arguments"]["properties"]


def _add_register_fields(schema: dict) -> None:
    args = _register_args(schema)
    args["ModelApprovalStatus"] = _ref("StringArgumentValue")
    args["SkipModelValidation"] = {"type": "string", "enum": ["None", "All"]}
    metrics_source = {
        "type": "object",
        "properties": {name: _ref("StringArgumentValue") for name in ("ContentType", "ContentDigest", "S3Uri")},
        "additionalProperties": False,
    }
    args["DriftCheckBaselines"] = {
        "type": "object",
        "properties": {
            section: {
                "type": "object",
                "patternProperties": {"^[A-Za-z]+$": metrics_source},
                "additionalProperties": False,
            }
            for section in ("Bias", "Explainability", "ModelQuality", "ModelDataQuality")
        },
        "additionalProperties": False,
    }
    # CreateModelPackage's key/value metadata, where the gate's decision record goes (keys: SageMaker's rule).
    args["CustomerMetadataProperties"] = {
        "type": "object",
        "propertyNames": {"pattern": customer_metadata.KEY_PATTERN},
        "additionalProperties": _ref("StringArgumentValue"),
        "maxProperties": customer_metadata.MAX_ENTRIES,
    }
    container = args["InferenceSpecification"]["properties"]["Containers"]["items"]
    container["properties"]["Environment"] = {
        "type": "object",
        "patternProperties": {".*": _ref("StringArgumentValue")},
    }


def _add_model_data_url_reference(schema: dict) -> None:
    container = schema["definitions"]["ContainerDefinition"]["properties"]
    literal = container["ModelDataUrl"]
    container["ModelDataUrl"] = {"oneOf": [literal, _ref("GetFunction"), _ref("JoinFunction")]}


def _add_top_level_configs(schema: dict) -> None:
    props = schema["properties"]
    props["PipelineExperimentConfig"] = {
        "type": ["object", "null"],
        "properties": {"ExperimentName": _ref("StringArgumentValue"), "TrialName": _ref("StringArgumentValue")},
        "additionalProperties": False,
    }
    props["MlflowConfig"] = {"type": ["object", "null"]}


# Order matters: Join may contain JsonGet.
EXTENSIONS: tuple[Extension, ...] = (
    Extension("Std:JsonGet", "property-file lookups in conditions and messages", _add_json_get),
    Extension("Std:Join", "JoinFunction is defined but never referenced by the schema", _add_join),
    Extension("PropertyFiles", "ProcessingStep property files", _add_property_files),
    Extension("AppManaged", "ProcessingInput.AppManaged", _add_app_managed),
    Extension(
        "ModelApprovalStatus/DriftCheckBaselines",
        "RegisterModel fields of CreateModelPackage the schema predates (with SkipModelValidation, "
        "CustomerMetadataProperties and the container Environment the serving container needs)",
        _add_register_fields,
    ),
    Extension("ModelDataUrl reference", "a model URL given as a pipeline parameter", _add_model_data_url_reference),
    Extension(
        "PipelineExperimentConfig/MlflowConfig",
        "top-level fields every SDK v3 definition carries",
        _add_top_level_configs,
    ),
)


def published_schema() -> dict:
    """The schema exactly as published."""
    return json.loads(SCHEMA_PATH.read_text())


@functools.lru_cache(maxsize=1)
def extended_schema() -> dict:
    """The published schema with only the named EXTENSIONS applied."""
    schema = copy.deepcopy(published_schema())
    for extension in EXTENSIONS:
        extension.apply(schema)
    return schema


def schema_errors(definition: dict, schema: dict | None = None) -> list[str]:
    """Every violation as ``path: message`` (the deepest cause of each)."""
    schema = extended_schema() if schema is None else schema
    validator = jsonschema.Draft7Validator(schema)
    messages = []
    for error in validator.iter_errors(definition):
        leaf = jsonschema.exceptions.best_match([error])
        while leaf.context:
            leaf = jsonschema.exceptions.best_match(leaf.context)
        path = "/".join(str(p) for p in leaf.absolute_path) or "(root)"
        messages.append(f"{path}: {leaf.message[:300]}")
    return messages


def validate_definition(definition: dict) -> None:
    """Raise DefinitionError naming the first violation of the extended schema."""
    errors = schema_errors(definition)
    if errors:
        raise DefinitionError(f"pipeline definition violates the schema at {errors[0]} ({len(errors)} error(s))")

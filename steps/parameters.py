"""Pipeline parameters: what a person may change per execution (Studio shows them with descriptions)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sagemaker.core.workflow.parameters import (
    Parameter,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)

from processing_scripts.gate import GATE_PARAMETERS, GateParameter
from processing_scripts.operating_point import DEFAULT_OBJECTIVE, OBJECTIVE_HELP

APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")


def _with_description(parameter: Parameter, description: str) -> Parameter:
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


@dataclass(frozen=True)
class PipelineParameters:
    """The pipeline's parameters, by role."""

    model_data_url: ParameterString
    test_data_url: ParameterString
    model_package_group_name: ParameterString
    decision_threshold: ParameterFloat
    model_approval_status: ParameterString
    transform_instance_type: ParameterString
    transform_instance_count: ParameterInteger
    processing_instance_type: ParameterString
    validation_data_url: ParameterString
    threshold_objective: ParameterString
    gate: Mapping[str, Parameter]  # by parameter name, in GATE_PARAMETERS order

    def all(self) -> list[Parameter]:
        """Every parameter, in the order Studio lists them."""
        return [
            self.model_data_url,
            self.test_data_url,
            self.model_package_group_name,
            *self.gate.values(),
            self.decision_threshold,
            self.validation_data_url,
            self.threshold_objective,
            self.model_approval_status,
            self.transform_instance_type,
            self.transform_instance_count,
            self.processing_instance_type,
        ]


def create_parameters(
    *,
    model_data_url: str,
    test_data_url: str,
    model_package_group_name: str,
    transform_instance_type: str,
    transform_instance_count: int,
    processing_instance_type: str,
    decision_threshold: float = 0.5,
    model_approval_status: str = "PendingManualApproval",
) -> PipelineParameters:
    """Build the parameters with their defaults; the gate's come from ``GATE_PARAMETERS``."""
    if model_approval_status not in APPROVAL_STATUSES:
        raise ValueError(f"model_approval_status must be one of {APPROVAL_STATUSES}")
    gate = {spec.name: gate_parameter(spec) for spec in GATE_PARAMETERS}
    return PipelineParameters(
        model_data_url=_with_description(
            ParameterString(name="ModelDataUrl", default_value=model_data_url),
            "S3 URI of model.tar.gz (model.joblib + code/inference.py) to evaluate.",
        ),
        test_data_url=_with_description(
            ParameterString(name="TestDataUrl", default_value=test_data_url),
            "S3 URI (file or prefix) of the held-out test CSV: no header, label in the first column.",
        ),
        model_package_group_name=_with_description(
            ParameterString(name="ModelPackageGroupName", default_value=model_package_group_name),
            "Model package group the model is registered into when it passes the gate.",
        ),
        decision_threshold=_with_description(
            ParameterFloat(name="DecisionThreshold", default_value=decision_threshold),
            "Score at or above which a row is predicted positive (for F1, precision, recall...), "
            "unless ValidationDataUrl chooses it.",
        ),
        validation_data_url=_with_description(
            ParameterString(name="ValidationDataUrl", default_value=""),
            "Optional S3 URI of a label-first validation CSV: the decision threshold is chosen on it "
            "(ThresholdObjective), frozen, and the test metrics are gated at it. Empty: DecisionThreshold.",
        ),
        threshold_objective=_with_description(
            ParameterString(name="ThresholdObjective", default_value=DEFAULT_OBJECTIVE),
            "How the threshold is chosen on ValidationDataUrl: " + OBJECTIVE_HELP,
        ),
        model_approval_status=_with_description(
            ParameterString(name="ModelApprovalStatus", default_value=model_approval_status),
            "Approval status given to the registered model package: " + ", ".join(APPROVAL_STATUSES) + ".",
        ),
        transform_instance_type=_with_description(
            ParameterString(name="TransformInstanceType", default_value=transform_instance_type),
            "Instance type of the batch transform job.",
        ),
        transform_instance_count=_with_description(
            ParameterInteger(name="TransformInstanceCount", default_value=transform_instance_count),
            "Number of instances of the batch transform job.",
        ),
        processing_instance_type=_with_description(
            ParameterString(name="ProcessingInstanceType", default_value=processing_instance_type),
            "Instance type of the evaluation processing job.",
        ),
        gate=gate,
    )


_PARAMETER_CLASSES = {"Float": ParameterFloat, "Integer": ParameterInteger, "String": ParameterString,
                      "Boolean": ParameterBoolean}


def gate_parameter(spec: GateParameter) -> Parameter:
    """The pipeline parameter for one gate setting, typed and described as GATE_PARAMETERS says."""
    description = spec.description
    if spec.choices:
        description += " One of: " + ", ".join(spec.choices) + "."
    return _with_description(_PARAMETER_CLASSES[spec.type](name=spec.name, default_value=spec.default), description)

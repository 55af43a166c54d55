"""Pipeline parameters: what a person may change per execution (Studio shows them with descriptions)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sagemaker.core.workflow.parameters import (
    Parameter,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)

from processing_scripts.gate import GATE_RULES

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
    gate_thresholds: Mapping[str, ParameterFloat]

    def all(self) -> list[Parameter]:
        """Every parameter, in the order Studio lists them."""
        return [
            self.model_data_url,
            self.test_data_url,
            self.model_package_group_name,
            *self.gate_thresholds.values(),
            self.decision_threshold,
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
    """Build the parameters with their defaults; gate thresholds come from ``GATE_RULES``."""
    if model_approval_status not in APPROVAL_STATUSES:
        raise ValueError(f"model_approval_status must be one of {APPROVAL_STATUSES}")
    gate = {
        rule.metric: _with_description(
            ParameterFloat(name=rule.parameter, default_value=rule.default), rule.description
        )
        for rule in GATE_RULES
    }
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
            "Score at or above which a row is predicted positive (for F1, precision, recall...).",
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
        gate_thresholds=gate,
    )

"""RegisterModel step: a model package version with its evaluation and gate decision attached."""
from __future__ import annotations

from typing import Mapping

from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.serve.model_builder import ModelBuilder

from steps.transform import CONTENT_TYPE


def create_register_step(
    *,
    name: str,
    model_builder: ModelBuilder,
    model_package_group_name: ParameterString,
    approval_status: ParameterString,
    evaluation_json_uri: Join,
    decision_record: Mapping[str, object],
    inference_instance_types: tuple[str, ...],
    transform_instance_types: tuple[str, ...],
    description: str,
) -> ModelStep:
    """Register the evaluated model; evaluation.json becomes its ModelQuality statistics and the gate's
    decision record its CustomerMetadataProperties (what Studio shows a reviewer)."""
    model_metrics = ModelMetrics(
        model_statistics=MetricsSource(s3_uri=evaluation_json_uri, content_type="application/json")
    )
    return ModelStep(
        name=name,
        step_args=model_builder.register(
            model_package_group_name=model_package_group_name,
            content_types=[CONTENT_TYPE],
            response_types=[CONTENT_TYPE],
            inference_instances=list(inference_instance_types),
            transform_instances=list(transform_instance_types),
            model_metrics=model_metrics,
            approval_status=approval_status,
            description=description,
            customer_metadata_properties=dict(decision_record),
        ),
    )

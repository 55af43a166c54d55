"""RegisterModel step: a model package version with its evaluation and gate decision attached."""
from __future__ import annotations

from typing import Mapping

from sagemaker.core.drift_check_baselines import DriftCheckBaselines
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.serve.model_builder import ModelBuilder

from steps.transform import CONTENT_TYPE


def create_register_step(
    *,
    name: str,
    display_name: str,
    model_builder: ModelBuilder,
    model_package_group_name: ParameterString,
    approval_status: ParameterString,
    evaluation_json_uri: Join,
    model_constraints_uri: Join,
    data_statistics_uri: Join,
    data_constraints_uri: Join,
    decision_record: Mapping[str, object],
    inference_instance_types: tuple[str, ...],
    transform_instance_types: tuple[str, ...],
    description: str,
) -> ModelStep:
    """Register the evaluated model.

    evaluation.json becomes its ModelQuality statistics and the evaluation's constraints.json its
    ModelQuality constraints (what the model's labelled traffic must keep), the test features'
    statistics.json and constraints.json its ModelDataQuality metrics; all are also its
    DriftCheckBaselines (what later quality and drift checks compare with); the gate's decision record
    becomes its CustomerMetadataProperties (what Studio shows a reviewer).
    """

    def source(uri: Join) -> MetricsSource:
        return MetricsSource(s3_uri=uri, content_type="application/json")

    model_metrics = ModelMetrics(
        model_statistics=source(evaluation_json_uri),
        model_constraints=source(model_constraints_uri),
        model_data_statistics=source(data_statistics_uri),
        model_data_constraints=source(data_constraints_uri),
    )
    baselines = DriftCheckBaselines(
        model_statistics=source(evaluation_json_uri),
        model_constraints=source(model_constraints_uri),
        model_data_statistics=source(data_statistics_uri),
        model_data_constraints=source(data_constraints_uri),
    )
    return ModelStep(
        name=name,
        display_name=display_name,
        description="Register the evaluated archive with its evaluation, baselines and decision record.",
        step_args=model_builder.register(
            model_package_group_name=model_package_group_name,
            content_types=[CONTENT_TYPE],
            response_types=[CONTENT_TYPE],
            inference_instances=list(inference_instance_types),
            transform_instances=list(transform_instance_types),
            model_metrics=model_metrics,
            drift_check_baselines=baselines,
            approval_status=approval_status,
            description=description,
            customer_metadata_properties=dict(decision_record),
        ),
    )

"""The evaluation pipeline: freeze the model, score the test set, measure, gate, register.

    FreezeModel ──► CreateModel ──► BatchTransform ──┐
        │                                            ▼
        ├──────────► FindChampion ─────────────► EvaluateModel ──► CheckQualityGate ──► RegisterModel
        └─ TestDataUrl ──► BaselineDataQuality ──────────────────────────────────┘   └─► QualityGateFailed
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.config import PipelineConfig
from pipeline.spec import LocalInput
from processing_scripts.parameters import EVALUATION_PARAMETERS

if TYPE_CHECKING:
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from steps.job import JobDefaults

# Step names are the contract with Studio, the local runner and the tests.
FREEZE_STEP = "FreezeModel"
CHAMPION_STEP = "FindChampion"
CREATE_MODEL_STEP = "CreateModel"
TRANSFORM_STEP = "BatchTransform"
BASELINE_STEP = "BaselineDataQuality"
EVALUATION_STEP = "EvaluateModel"
CONDITION_STEP = "CheckQualityGate"
REGISTER_STEP = "RegisterModel"
FAIL_STEP = "QualityGateFailed"

DESCRIPTION = "Evaluate a binary classifier and gate its registration."
PARAMETERS = EVALUATION_PARAMETERS
LOCAL_INPUTS = (
    LocalInput("model-data", "ModelDataUrl", "model.tar.gz file or s3:// URI in the local store"),
    # A folder of parts is what an S3Prefix TestDataUrl is: its files, in key order (Batch Transform's).
    LocalInput("test-data", "TestDataUrl", "test CSV file or folder of CSV parts (label first, no header) or "
               "s3:// URI", folder=True),
    LocalInput("validation-data", "ValidationDataUrl",
               "validation CSV file or folder (label first) to choose the decision threshold on", required=False,
               folder=True),
)


def pipeline_name(config: PipelineConfig) -> str:
    """The evaluation pipeline is the configured pipeline name."""
    return config.pipeline_name


def parameter_settings(config: PipelineConfig) -> dict[str, object]:
    """The defaults the parameter table leaves to the settings."""
    return {
        "ModelDataUrl": config.default_model_data_url,
        "TestDataUrl": config.default_test_data_url,
        "ModelPackageGroupName": config.model_package_group,
        "TransformInstanceType": config.transform_instance_type,
        "TransformInstanceCount": config.transform_instance_count,
        "ProcessingInstanceType": config.processing_instance_type,
    }


def create_pipeline(config: PipelineConfig, job: "JobDefaults") -> "Pipeline":
    """Wire the steps: FreezeModel → (FindChampion, CreateModel → BatchTransform) → EvaluateModel → gate →
    RegisterModel | Fail, with BaselineDataQuality (the test features' Model Monitor baseline) attached to
    the registration."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from processing_scripts.gate import RECORD_KEYS, RECORD_PATH, SUMMARY_PATH
    from steps.baseline import create_data_quality_baseline_step
    from steps.champion import create_champion_step
    from steps.condition import create_condition_step, evaluation_value
    from steps.evaluation import create_evaluation_step
    from steps.fail import create_fail_step
    from steps.freeze import create_freeze_step
    from steps.model import create_model_builder, create_model_step
    from steps.parameters import create_parameters
    from steps.register import create_register_step
    from steps.transform import create_transform_step

    params = create_parameters(PARAMETERS, parameter_settings(config))

    def execution_uri(*parts: str) -> Join:
        # Per-execution locations keep concurrent executions from overwriting each other.
        return Join(on="/", values=[config.s3_root, "executions", ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])

    freeze = create_freeze_step(job, name=FREEZE_STEP, display_name="Freeze-model-by-SHA256",
                                function_arn=config.freeze_function_arn, parameters=params,
                                output_prefix=config.frozen_models_prefix)
    # Only the frozen copy from here on: what is evaluated is what gets registered.
    model_builder = create_model_builder(job, model_data_url=freeze.model_data_url)
    from pipeline.pipelines.quality import history_uri

    champion = create_champion_step(job, name=CHAMPION_STEP, display_name="Find-champion",
                                    function_arn=config.champion_function_arn, parameters=params,
                                    output_uri=execution_uri("context"), monitoring_history_uri=history_uri(config))
    create_model = create_model_step(name=CREATE_MODEL_STEP, display_name="Create-model", model_builder=model_builder)
    transform = create_transform_step(job, name=TRANSFORM_STEP, display_name="Score-test-set", parameters=params,
                                      model_name=create_model.properties.ModelName,
                                      output_path=execution_uri("transform"), max_payload_mb=config.max_payload_mb)
    baseline = create_data_quality_baseline_step(job, name=BASELINE_STEP, display_name="Baseline-test-features",
                                                 parameters=params, output_uri=execution_uri("baseline"))
    evaluation = create_evaluation_step(
        job, name=EVALUATION_STEP, display_name="Evaluate-and-decide-gate", parameters=params,
        predictions_uri=transform.properties.TransformOutput.S3OutputPath, model_data_uri=freeze.model_data_url,
        model_sha256=freeze.sha256, context_uri=champion.context_uri, output_uri=execution_uri("evaluation"),
        bootstrap_resamples=config.bootstrap_resamples,
    )
    register = create_register_step(
        name=REGISTER_STEP,
        display_name="Register-model-version",
        model_builder=model_builder,
        model_package_group_name=params["ModelPackageGroupName"],
        approval_status=params["ModelApprovalStatus"],
        evaluation_json_uri=evaluation.evaluation_json_uri,
        model_constraints_uri=evaluation.constraints_uri,
        data_statistics_uri=baseline.statistics_uri,
        data_constraints_uri=baseline.constraints_uri,
        decision_record={
            **{key: evaluation_value(evaluation, f"{RECORD_PATH}.{key}") for key in RECORD_KEYS},
            "pipeline_execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
        },
        inference_instance_types=config.inference_instance_types,
        transform_instance_types=(config.transform_instance_type,),
        description=f"Registered by pipeline {config.pipeline_name} after passing its quality gate.",
    )
    fail = create_fail_step(name=FAIL_STEP, display_name="Quality-gate-failed",
                            summary=evaluation_value(evaluation, SUMMARY_PATH))
    gate = create_condition_step(name=CONDITION_STEP, display_name="Check-quality-gate", evaluation=evaluation,
                                 if_steps=[register], else_steps=[fail])
    return Pipeline(
        name=pipeline_name(config),
        parameters=list(params.values()),
        steps=[freeze.step, champion.step, create_model, transform, baseline.step, evaluation.step, gate],
        sagemaker_session=job.session,
    )

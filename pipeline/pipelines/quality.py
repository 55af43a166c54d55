"""The model-quality pipeline: is the deployed model still as good as when it was let in?

    ResolveMonitoredVersion ──► CheckModelQuality ──► QualityWithinConstraints ── verdict == "ok" ──► (succeeds)
    (Lambda: latest Approved      (quality.py: captures      └── otherwise ──► ModelQualityDegraded (FailStep naming
     version's constraints,        merged with ground truth,                   the verdict, metrics, window, rows
     history, window's captures)   quality_status.json,                         and report)
                                   history replaced)

A scheduled execution checks the last whole window (WindowHours, aligned on UTC midnight) that ended at
least LabelDelayHours before it started, so that the window's labels have arrived; WindowStart/WindowEnd
check a window of one's choosing instead.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline import limits
from pipeline.config import ConfigError, PipelineConfig
from pipeline.pipelines.monitoring import default_capture_data_url
from pipeline.spec import LocalInput
from processing_scripts.parameters import QUALITY_PARAMETERS

if TYPE_CHECKING:
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from steps.job import JobDefaults

# Step names are the contract with Studio, the local runner and the tests.
RESOLVE_STEP = "ResolveMonitoredVersion"
QUALITY_CHECK_STEP = "CheckModelQuality"
QUALITY_CONDITION_STEP = "QualityWithinConstraints"
QUALITY_FAIL_STEP = "ModelQualityDegraded"

QUALITY_SUFFIX = "-quality"
DESCRIPTION = ("Check the deployed model's quality on captured predictions merged with late ground truth, per "
               "time window, against its registered constraints.")
PARAMETERS = QUALITY_PARAMETERS
LOCAL_INPUTS = (
    LocalInput("capture", "CaptureDataUrl", "Data Capture JSONL of the endpoint: file, folder (its yyyy/mm/dd/hh "
               "layout kept) or s3:// URI in the local store", folder=True),
    LocalInput("ground-truth", "GroundTruthUrl", "ground-truth JSONL records: file, folder or s3:// URI in the "
               "local store", folder=True),
)


def pipeline_name(config: PipelineConfig) -> str:
    """``<pipeline name>-quality``, checked against SageMaker's pipeline-name limits (and, with tags, its
    ARN's)."""
    name = config.pipeline_name + QUALITY_SUFFIX
    most = limits.PIPELINE_NAME.max_length - len(QUALITY_SUFFIX)
    if len(name) > limits.PIPELINE_NAME.max_length:
        raise ConfigError(f"pipeline name {limits.shown(config.pipeline_name)} is too long for the model-quality "
                          f"pipeline <name>{QUALITY_SUFFIX} (at most {most} characters): use a shorter --pipeline-name")
    return config.check_pipeline_name(name, f"the model-quality pipeline is <name>{QUALITY_SUFFIX}: use a shorter "
                                            "--pipeline-name")


def quality_prefix(config: PipelineConfig) -> str:
    """Where the quality history lives: the check's second output replaces the object there each run."""
    return f"{config.s3_root}/monitoring/quality/"


def history_uri(config: PipelineConfig) -> str:
    """The one history object: one JSON line per checked window."""
    from steps.quality_check import HISTORY_FILE

    return quality_prefix(config) + HISTORY_FILE


def default_ground_truth_url(config: PipelineConfig) -> str:
    """Where ``GroundTruthUrl`` points unless overridden: upload the labels here (any key layout)."""
    return f"{config.s3_root}/monitoring/ground-truth/"


def parameter_settings(config: PipelineConfig) -> dict[str, object]:
    """The defaults the parameter table leaves to the settings."""
    return {
        "ModelPackageGroupName": config.model_package_group,
        "CaptureDataUrl": default_capture_data_url(config),
        "GroundTruthUrl": default_ground_truth_url(config),
        "ProcessingInstanceType": config.processing_instance_type,
    }


def create_pipeline(config: PipelineConfig, job: "JobDefaults") -> "Pipeline":
    """Wire ResolveMonitoredVersion → CheckModelQuality → QualityWithinConstraints → (nothing | ModelQualityDegraded)."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from steps.parameters import create_parameters
    from steps.quality_check import (
        create_monitored_version_step,
        create_quality_check_step,
        create_quality_condition_step,
        create_quality_fail_step,
    )

    params = create_parameters(PARAMETERS, parameter_settings(config))

    def execution_uri(part: str) -> Join:
        # One folder per execution: concurrent runs do not overwrite each other, a schedule keeps each report.
        return Join(on="/", values=[config.s3_root, "executions", ExecutionVariables.PIPELINE_EXECUTION_ID, part])

    staged = create_monitored_version_step(
        job, name=RESOLVE_STEP, display_name="Resolve-monitored-version",
        function_arn=config.monitored_version_function_arn, parameters=params,
        output_uri=execution_uri("quality-inputs"), history_uri=history_uri(config))
    check = create_quality_check_step(
        job, name=QUALITY_CHECK_STEP, display_name="Check-model-quality", parameters=params, staged=staged,
        output_uri=execution_uri("quality-check"), history_prefix=quality_prefix(config))
    fail = create_quality_fail_step(name=QUALITY_FAIL_STEP, display_name="Model-quality-degraded", quality_check=check)
    condition = create_quality_condition_step(name=QUALITY_CONDITION_STEP, display_name="Quality-within-constraints",
                                              quality_check=check, else_step=fail)
    return Pipeline(name=pipeline_name(config), parameters=list(params.values()),
                    steps=[staged.step, check.step, condition], sagemaker_session=job.session)

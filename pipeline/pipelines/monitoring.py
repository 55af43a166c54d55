"""The drift-check pipeline: check captured endpoint data (or a CSV batch) against a data-quality baseline.

    CheckDataDrift ──► NoDriftViolations ── violation_count == 0 ──► (execution succeeds)
    (monitor.py check:                     └── otherwise ──► DataDriftDetected (FailStep naming the
     drift_status.json)                                        drifted features, checks and report)

A scheduled execution checks the captures of the last whole window (WindowHours, aligned on UTC midnight)
before its start time; WindowStart/WindowEnd choose a window, WindowHours=0 checks every capture (CSV
data has no inference time: a scheduled window is ignored for it, an explicit one refused).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline import limits
from pipeline.config import ConfigError, PipelineConfig
from pipeline.spec import LocalInput
from processing_scripts.parameters import MONITORING_PARAMETERS

if TYPE_CHECKING:
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from steps.job import JobDefaults

# Step names are the contract with Studio, the local runner and the tests.
DRIFT_CHECK_STEP = "CheckDataDrift"
DRIFT_CONDITION_STEP = "NoDriftViolations"
DRIFT_FAIL_STEP = "DataDriftDetected"

MONITORING_SUFFIX = "-monitoring"
DESCRIPTION = "Check captured endpoint data (or a CSV batch) for drift against a data-quality baseline."
PARAMETERS = MONITORING_PARAMETERS
LOCAL_INPUTS = (
    LocalInput("baseline", "BaselineUrl", "folder with statistics.json and constraints.json (python -m pipeline.monitor "
               "baseline), or an s3:// prefix in the local store", folder=True,
               required_files=("statistics.json", "constraints.json")),
    LocalInput("data", "CaptureDataUrl", "data to check: Data Capture JSONL or headerless CSV; file, folder or s3:// "
               "URI", folder=True),
)


def pipeline_name(config: PipelineConfig) -> str:
    """``<pipeline name>-monitoring``, checked against SageMaker's pipeline-name limits (and, with tags, its
    ARN's)."""
    name = config.pipeline_name + MONITORING_SUFFIX
    most = limits.PIPELINE_NAME.max_length - len(MONITORING_SUFFIX)
    if len(name) > limits.PIPELINE_NAME.max_length:
        raise ConfigError(f"pipeline name {limits.shown(config.pipeline_name)} is too long for the monitoring "
                          f"pipeline <name>{MONITORING_SUFFIX} (at most {most} characters): use a shorter --pipeline-name")
    return config.check_pipeline_name(name, f"the monitoring pipeline is <name>{MONITORING_SUFFIX}: use a shorter "
                                            "--pipeline-name")


def default_baseline_url(config: PipelineConfig) -> str:
    """Where ``BaselineUrl`` points unless overridden: upload the baseline folder here."""
    return f"{config.s3_root}/monitoring/baseline/"


def default_capture_data_url(config: PipelineConfig) -> str:
    """Where ``CaptureDataUrl`` points unless overridden: the endpoint's Data Capture destination."""
    return f"{config.s3_root}/monitoring/data-capture/"


def parameter_settings(config: PipelineConfig) -> dict[str, object]:
    """The defaults the parameter table leaves to the settings."""
    return {
        "BaselineUrl": default_baseline_url(config),
        "CaptureDataUrl": default_capture_data_url(config),
        "ProcessingInstanceType": config.processing_instance_type,
    }


def create_pipeline(config: PipelineConfig, job: "JobDefaults") -> "Pipeline":
    """Wire CheckDataDrift → NoDriftViolations → (nothing | DataDriftDetected)."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from steps.drift_check import create_drift_check_step, create_drift_condition_step, create_drift_fail_step
    from steps.parameters import create_parameters

    params = create_parameters(PARAMETERS, parameter_settings(config))
    drift_check = create_drift_check_step(
        job, name=DRIFT_CHECK_STEP, display_name="Check-data-drift", parameters=params,
        # One folder per execution: a daily schedule keeps every day's report.
        output_uri=Join(on="/", values=[config.s3_root, "executions", ExecutionVariables.PIPELINE_EXECUTION_ID,
                                        "drift-check"]),
    )
    fail = create_drift_fail_step(name=DRIFT_FAIL_STEP, display_name="Data-drift-detected", drift_check=drift_check)
    condition = create_drift_condition_step(name=DRIFT_CONDITION_STEP, display_name="No-drift-violations",
                                            drift_check=drift_check, else_step=fail)
    return Pipeline(name=pipeline_name(config), parameters=list(params.values()),
                    steps=[drift_check.step, condition], sagemaker_session=job.session)

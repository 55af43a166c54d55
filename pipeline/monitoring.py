"""The drift-check pipeline: ``create_monitoring_pipeline(config)`` and its EventBridge Scheduler schedule.

    CheckDataDrift ──► NoDriftViolations ── violation_count == 0 ──► (execution succeeds)
    (monitor.py check:                     └── otherwise ──► DataDriftDetected (FailStep naming the
     drift_status.json)                                        drifted features, checks and report)

``python -m pipeline.monitoring [--out FILE]`` prints its definition JSON offline, as
``python -m pipeline.definition`` does for the evaluation pipeline. ``python -m pipeline.upsert
--monitoring`` creates or updates it in SageMaker (and its schedule); ``python -m pipeline.local
--monitoring`` runs it on this machine.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from typing import TYPE_CHECKING, Mapping, Sequence

from pipeline import limits
from pipeline.code_bundle import CodeBundle, processing_code_bundle
from pipeline.config import ConfigError, PipelineConfig
from pipeline.definition import (
    _offline_role_checks,
    build_parser as _definition_parser,
    config_from_args,
    create_session,
    definition_json,
    prepare_sdk_environment,
    quiet_sdk_logging,
    write_definition,
)

if TYPE_CHECKING:
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline

# Step names are the contract with Studio, the local runner and the tests.
DRIFT_CHECK_STEP = "CheckDataDrift"
DRIFT_CONDITION_STEP = "NoDriftViolations"
DRIFT_FAIL_STEP = "DataDriftDetected"

MONITORING_SUFFIX = "-monitoring"
MONITORING_DESCRIPTION = "Check captured endpoint data (or a CSV batch) for drift against a data-quality baseline."

# EventBridge Scheduler: every day at 06:00 UTC, for a schedule created without --schedule.
DEFAULT_SCHEDULE = "cron(0 6 * * ? *)"
_SCHEDULE_EXPRESSION_RE = re.compile(
    r"^(cron\(\S+( \S+){5}\)"
    r"|rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\)"
    r"|at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\))$"
)


def monitoring_pipeline_name(config: PipelineConfig) -> str:
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


def create_monitoring_pipeline(
    config: PipelineConfig,
    *,
    session: "PipelineSession | None" = None,
    code: CodeBundle | None = None,
) -> "Pipeline":
    """Wire CheckDataDrift → NoDriftViolations → (nothing | DataDriftDetected)."""
    name = monitoring_pipeline_name(config)
    session = session or create_session(config)
    code = code or processing_code_bundle()
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from steps.drift_check import (
        create_drift_check_step,
        create_drift_condition_step,
        create_drift_fail_step,
        create_monitoring_parameters,
    )
    from steps.model import sklearn_image_uri

    params = create_monitoring_parameters(
        baseline_url=default_baseline_url(config),
        capture_data_url=default_capture_data_url(config),
        processing_instance_type=config.processing_instance_type,
    )
    with _offline_role_checks():
        drift_check = create_drift_check_step(
            name=DRIFT_CHECK_STEP,
            display_name="Check-data-drift",
            # The evaluation step's image: monitor.py needs only numpy/pandas (and pyarrow if present).
            image_uri=sklearn_image_uri(region=config.region, version=config.sklearn_image_version),
            role_arn=config.role_arn,
            code_uri=config.code_uri(code.digest),
            baseline_uri=params.baseline_url,
            data_uri=params.capture_data_url,
            # One folder per execution: a daily schedule keeps every day's report.
            output_uri=Join(on="/", values=[config.s3_root, "executions", ExecutionVariables.PIPELINE_EXECUTION_ID,
                                            "drift-check"]),
            instance_type=params.processing_instance_type,
            psi_threshold=params.psi_threshold,
            ks_threshold=params.ks_threshold,
            volume_size_gb=config.processing_volume_gb,
            kms_key_id=config.kms_key_id,
            session=session,
        )
        fail = create_drift_fail_step(name=DRIFT_FAIL_STEP, display_name="Data-drift-detected", drift_check=drift_check)
        condition = create_drift_condition_step(name=DRIFT_CONDITION_STEP, display_name="No-drift-violations",
                                                drift_check=drift_check, else_step=fail)
    return Pipeline(name=name, parameters=params.all(), steps=[drift_check.step, condition], sagemaker_session=session)


def build_monitoring_definition(config: PipelineConfig, *, code: CodeBundle | None = None) -> dict:
    """``create_monitoring_pipeline(config)`` rendered to its definition JSON, offline (a fresh dict each call)."""
    return json.loads(_definition_text(config, code or processing_code_bundle()))


@functools.lru_cache(maxsize=8)
def _definition_text(config: PipelineConfig, code: CodeBundle) -> str:
    # Memoised: a pure function of (config, code) that costs about a second in the SDK.
    return json.dumps(definition_json(create_monitoring_pipeline(config, code=code)))


# ------------------------------------------------------------------------------------------- schedule

class ScheduleError(ValueError):
    """A schedule setting is malformed; the message says how to fix it."""


def schedule_name(pipeline_name: str) -> str:
    """The schedule's name: the pipeline's, shortened with a hash beyond Scheduler's 64 characters.

    >>> schedule_name("binary-classifier-evaluation-monitoring")
    'binary-classifier-evaluation-monitoring'
    >>> len(schedule_name("p" * 100))
    64
    """
    most = limits.SCHEDULE_NAME.max_length
    name = pipeline_name
    if len(name) > most:
        name = pipeline_name[:most - 9] + "-" + hashlib.sha256(pipeline_name.encode()).hexdigest()[:8]
    problem = limits.SCHEDULE_NAME.violation(name)
    if problem:
        raise ScheduleError(f"bad schedule name {name!r}: {problem} (it is the pipeline's name: rename the pipeline)")
    return name


def check_schedule_expression(expression: str) -> str:
    """An EventBridge Scheduler ``cron(...)``, ``rate(...)`` or ``at(...)`` expression, or ScheduleError.

    >>> check_schedule_expression("cron(0 6 * * ? *)")
    'cron(0 6 * * ? *)'
    """
    if not _SCHEDULE_EXPRESSION_RE.match(expression or "") or limits.SCHEDULE_EXPRESSION.violation(expression):
        raise ScheduleError(
            f"bad schedule {expression!r}: use cron(minutes hours day-of-month month day-of-week year), "
            "e.g. 'cron(0 6 * * ? *)', rate(N minutes|hours|days) or at(yyyy-mm-ddThh:mm:ss)"
        )
    return expression


def schedule_request(
    *,
    pipeline_name: str,
    pipeline_arn: str,
    role_arn: str,
    expression: str = DEFAULT_SCHEDULE,
    parameters: Sequence[Mapping[str, str]] = (),
    state: str = "ENABLED",
) -> dict:
    """The CreateSchedule/UpdateSchedule request that starts ``pipeline_arn`` (UTC, no flexible window).

    ``parameters`` (``[{"Name", "Value"}]``) are passed to every execution; the rest take their defaults.
    An update replaces the whole schedule, so this is every setting it has.
    """
    description = f"Starts SageMaker pipeline {pipeline_name}"
    problem = limits.SCHEDULE_DESCRIPTION.violation(description)
    if problem:
        raise ScheduleError(f"bad schedule description: {problem} (use a shorter --pipeline-name)")
    for parameter in parameters:
        problem = limits.SCHEDULE_PARAMETER_VALUE.violation(parameter["Value"])
        if problem:
            raise ScheduleError(f"bad scheduled value of {parameter['Name']}: {problem} (EventBridge Scheduler "
                                f"passes values of 1 to {limits.SCHEDULE_PARAMETER_VALUE.max_length} characters: "
                                f"leave {parameter['Name']} out of --param to take its default)")
    return {
        "Name": schedule_name(pipeline_name),
        "Description": description,
        "ScheduleExpression": check_schedule_expression(expression),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": state,
        "Target": {
            "Arn": pipeline_arn,
            "RoleArn": role_arn,
            "SageMakerPipelineParameters": {"PipelineParameterList": [dict(p) for p in parameters]},
            # A start that cannot be delivered within an hour is dropped: the next day's run follows.
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 5},
        },
    }


def read_schedule(scheduler, name: str) -> dict | None:
    """GetSchedule's answer for schedule ``name`` (default group), or None when there is none."""
    import botocore.exceptions

    try:
        return scheduler.get_schedule(Name=name)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return None


def scheduled_parameters(schedule: Mapping) -> list[dict[str, str]]:
    """The ``[{"Name", "Value"}]`` a schedule (GetSchedule's answer) passes to each execution."""
    target = schedule.get("Target", {})
    return [dict(p) for p in target.get("SageMakerPipelineParameters", {}).get("PipelineParameterList", [])]


def upsert_schedule(scheduler, request: Mapping, *, exists: bool) -> tuple[str, bool]:
    """Create the schedule, or update it in place when it ``exists``. Returns (schedule ARN, created)."""
    if exists:
        return scheduler.update_schedule(**request)["ScheduleArn"], False
    return scheduler.create_schedule(**request)["ScheduleArn"], True


# ------------------------------------------------------------------------------------------------ CLI

def main(argv: Sequence[str] | None = None) -> int:
    """Print the monitoring pipeline's definition JSON (no AWS credentials or network needed)."""
    parser = _definition_parser()
    parser.prog = "python -m pipeline.monitoring"
    parser.description = "Print the drift-check pipeline's definition JSON (no AWS credentials or network needed)."
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args, role_arn=args.role_arn)
        monitoring_pipeline_name(config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    prepare_sdk_environment(config.region)
    quiet_sdk_logging(args.verbose)
    write_definition(build_monitoring_definition(config), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

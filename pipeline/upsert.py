"""Create or update the pipeline in SageMaker, optionally start an execution and follow it.

    python -m pipeline.upsert --role-arn ARN [--lambda-role-arn ARN] [--region R] [--bucket B] [--tags K=V ...]
                              [--start [--wait]] [--param Name=Value ...]
    python -m pipeline.upsert --monitoring [--schedule EXPR] [--create-schedule | --print-schedule]
                              [--scheduler-role-arn ARN] ...   (the drift-check pipeline, pipeline/monitoring.py)

Steps, in order: check settings and parameters, build and validate the definition (offline), upload the
processing code to its content-addressed prefix, deploy the champion-resolving Lambda function (when its
code or settings changed), create or update the pipeline (idempotent), start.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from pipeline.code_bundle import CodeBundle, processing_code_bundle
from pipeline.config import ENV_VARS, PLACEHOLDER_ROLE_ARN, ROLE_ARN_RE, ConfigError, PipelineConfig
from pipeline.definition import (
    add_config_arguments,
    build_definition,
    config_from_args,
    prepare_sdk_environment,
    quiet_sdk_logging,
)
from pipeline.parameters import ParameterError, execution_parameters, parse_overrides
from pipeline.monitoring import DEFAULT_SCHEDULE, ScheduleError, check_schedule_expression
from pipeline.validation import DefinitionError, validate_definition

TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")
SCHEDULER_ROLE_ENV = "SCHEDULER_ROLE_ARN"


class UpsertError(RuntimeError):
    """A one-line, actionable failure."""


@dataclass(frozen=True)
class UpsertResult:
    pipeline_arn: str
    created: bool
    code_uri: str
    execution_arn: str | None = None
    execution_status: str | None = None


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def upload_code(s3, config: PipelineConfig, code: CodeBundle) -> str:
    """Upload the bundle under its digest; files already there (same key = same content) are skipped."""
    prefix = config.code_uri(code.digest)
    bucket, key_prefix = _split_s3(prefix)
    existing = {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix)
        for item in page.get("Contents", [])
    }
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.kms_key_id} if config.kms_key_id else {}
    for name, data in code.files:
        key = key_prefix + name
        if key not in existing:
            s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
    return prefix


def upsert_pipeline(
    sm, config: PipelineConfig, definition: dict, description: str, *, pipeline_name: str | None = None
) -> tuple[str, bool]:
    """Create the pipeline (default name: config's), or update it if it exists. Returns (ARN, created)."""
    import botocore.exceptions

    pipeline_name = pipeline_name or config.pipeline_name
    body = json.dumps(definition)
    try:
        sm.describe_pipeline(PipelineName=pipeline_name)
        exists = True
    except botocore.exceptions.ClientError as error:
        # SageMaker answers ResourceNotFound; some stand-ins answer a ValidationException instead.
        code = error.response.get("Error", {}).get("Code")
        message = error.response.get("Error", {}).get("Message", "")
        if code == "ResourceNotFound" or (code == "ValidationException" and "not find" in message):
            exists = False
        else:
            raise
    common = {
        "PipelineName": pipeline_name,
        "PipelineDefinition": body,
        "PipelineDescription": description,
        "RoleArn": config.role_arn,
    }
    if exists:
        response = sm.update_pipeline(**common)
    else:
        tags = [{"Key": k, "Value": v} for k, v in config.tags]
        response = sm.create_pipeline(**common, **({"Tags": tags} if tags else {}))
    return response["PipelineArn"], not exists


def follow_execution(
    sm,
    execution_arn: str,
    *,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 4 * 3600,
    emit: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll until the execution ends, printing each step's status changes. Returns the final status."""
    seen: dict[str, str] = {}
    deadline = clock() + timeout_seconds
    while True:
        status = sm.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        try:
            steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=execution_arn, SortOrder="Ascending")
        except NotImplementedError:  # some stand-ins for SageMaker do not list steps
            steps = {"PipelineExecutionSteps": []}
        for step in steps.get("PipelineExecutionSteps", []):
            name, step_status = step["StepName"], step["StepStatus"]
            if seen.get(name) != step_status:
                seen[name] = step_status
                reason = f": {step['FailureReason']}" if step.get("FailureReason") else ""
                emit(f"  {name}: {step_status}{reason}")
        overall = status["PipelineExecutionStatus"]
        if overall in TERMINAL_STATUSES:
            reason = f" ({status['FailureReason']})" if status.get("FailureReason") else ""
            emit(f"execution {overall}{reason}")
            return overall
        if clock() >= deadline:
            raise UpsertError(
                f"execution still {overall} after {timeout_seconds:.0f}s; follow it in Studio: {execution_arn}"
            )
        sleep(poll_seconds)


def run(
    config: PipelineConfig,
    *,
    overrides: dict[str, str],
    start: bool,
    wait: bool,
    boto_session=None,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 4 * 3600,
    emit: Callable[[str], None] = print,
    monitoring: bool = False,
) -> UpsertResult:
    """Everything ``python -m pipeline.upsert`` does, given a resolved config (``monitoring``: the drift check)."""
    import boto3
    import botocore.exceptions

    if config.role_arn == PLACEHOLDER_ROLE_ARN:
        raise UpsertError(f"no execution role: pass --role-arn or set {ENV_VARS['role_arn']}")
    code = processing_code_bundle()
    pipeline_name, description = config.pipeline_name, "Evaluate a binary classifier and gate its registration."
    if monitoring:
        from pipeline.monitoring import MONITORING_DESCRIPTION, build_monitoring_definition, monitoring_pipeline_name

        pipeline_name, description = monitoring_pipeline_name(config), MONITORING_DESCRIPTION
        definition = build_monitoring_definition(config, code=code)
    else:
        definition = build_definition(config, code=code)
    validate_definition(definition)
    # Fail on bad parameters before anything is uploaded or created.
    parameters = execution_parameters(definition["Parameters"], overrides)

    session = boto_session or boto3.Session(region_name=config.region)
    if session.get_credentials() is None:
        raise UpsertError(
            "no AWS credentials found: configure a profile, environment variables or an instance role"
        )
    s3 = session.client("s3")
    sm = session.client("sagemaker")
    try:
        code_uri = upload_code(s3, config, code)
        emit(f"code uploaded: {code_uri}")
        if not monitoring:
            from pipeline.functions import deploy_functions

            for function in deploy_functions(session.client("lambda"), config):
                emit(f"function {function.action}: {function.arn}")
        arn, created = upsert_pipeline(sm, config, definition, description=description, pipeline_name=pipeline_name)
        emit(f"pipeline {'created' if created else 'updated'}: {arn}")
        if not start:
            return UpsertResult(pipeline_arn=arn, created=created, code_uri=code_uri)
        execution = sm.start_pipeline_execution(
            PipelineName=pipeline_name,
            PipelineParameters=parameters,
            PipelineExecutionDisplayName=f"{pipeline_name}-{int(time.time())}",
        )
        execution_arn = execution["PipelineExecutionArn"]
        emit(f"execution started: {execution_arn}")
        status = None
        if wait:
            status = follow_execution(
                sm, execution_arn, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds, emit=emit
            )
        return UpsertResult(arn, created, code_uri, execution_arn, status)
    except botocore.exceptions.ClientError as error:
        info = error.response.get("Error", {})
        raise UpsertError(
            f"AWS refused {error.operation_name}: {info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip()
        ) from None
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as error:
        raise UpsertError(f"AWS credentials unusable: {error}") from None
    except botocore.exceptions.EndpointConnectionError as error:
        raise UpsertError(f"cannot reach AWS: {error}") from None


def check_scheduler_role(role_arn: str) -> str:
    """The scheduler's role ARN, or ScheduleError."""
    if not ROLE_ARN_RE.match(role_arn or ""):
        raise ScheduleError(f"bad scheduler role ARN {role_arn!r}: expected arn:aws:iam::<12-digit account>:role/<name> "
                            f"(--scheduler-role-arn or {SCHEDULER_ROLE_ENV})")
    return role_arn


def apply_schedule(
    config: PipelineConfig,
    *,
    pipeline_arn: str,
    expression: str,
    role_arn: str,
    overrides: dict[str, str],
    create: bool,
    boto_session=None,
    emit: Callable[[str], None] = print,
) -> dict:
    """The monitoring pipeline's EventBridge Scheduler request; created or updated in AWS when ``create``."""
    import boto3
    import botocore.exceptions

    from pipeline.monitoring import build_monitoring_definition, monitoring_pipeline_name, schedule_request, upsert_schedule

    parameters = execution_parameters(build_monitoring_definition(config)["Parameters"], overrides)
    request = schedule_request(pipeline_name=monitoring_pipeline_name(config), pipeline_arn=pipeline_arn,
                               role_arn=role_arn, expression=expression, parameters=parameters)
    if create:
        scheduler = (boto_session or boto3.Session(region_name=config.region)).client("scheduler")
        try:
            arn, created = upsert_schedule(scheduler, request)
        except botocore.exceptions.ClientError as error:
            info = error.response.get("Error", {})
            raise UpsertError(f"AWS refused {error.operation_name}: {info.get('Code', 'Error')}: "
                              f"{info.get('Message', '')}".rstrip()) from None
        emit(f"schedule {'created' if created else 'updated'}: {arn} ({expression}, UTC)")
    return request


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags (also used by tests that check buildspec.yml's commands)."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.upsert",
        description="Upload the evaluation code, create or update the SageMaker pipeline, optionally run it.",
    )
    add_config_arguments(parser)
    parser.add_argument("--role-arn", help=f"pipeline execution role (env {ENV_VARS['role_arn']})")
    parser.add_argument(
        "--lambda-role-arn",
        help=f"role of the champion-resolving Lambda function (env {ENV_VARS['lambda_role_arn']}; default "
        "--role-arn): trusts lambda.amazonaws.com, may read the Model Registry and the artifact bucket",
    )
    parser.add_argument("--start", action="store_true", help="start an execution after the upsert")
    parser.add_argument("--wait", action="store_true", help="with --start: wait for the execution, printing steps")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="execution parameter (repeatable)"
    )
    parser.add_argument("--poll-seconds", type=float, default=15.0, help="with --wait: seconds between polls")
    parser.add_argument("--timeout-seconds", type=float, default=4 * 3600, help="with --wait: give up after this")
    monitoring = parser.add_argument_group("drift-check pipeline (<pipeline name>-monitoring)")
    monitoring.add_argument("--monitoring", action="store_true",
                            help="upsert (and --start) the drift-check pipeline instead of the evaluation pipeline")
    monitoring.add_argument("--schedule", default=DEFAULT_SCHEDULE, metavar="EXPR",
                            help=f"EventBridge Scheduler expression, UTC (default {DEFAULT_SCHEDULE!r}: daily 06:00)")
    action = monitoring.add_mutually_exclusive_group()
    action.add_argument("--create-schedule", action="store_true",
                        help="create or update the schedule that starts the pipeline (--param values go with it)")
    action.add_argument("--print-schedule", action="store_true",
                        help="print the schedule's CreateSchedule request JSON instead of sending it")
    monitoring.add_argument("--scheduler-role-arn",
                            help=f"role EventBridge Scheduler assumes to start the pipeline (env {SCHEDULER_ROLE_ENV}; "
                                 "default the pipeline role): trusts scheduler.amazonaws.com, may "
                                 "sagemaker:StartPipelineExecution")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.wait and not args.start:
        parser.error("--wait needs --start")
    scheduling = args.create_schedule or args.print_schedule
    if args.param and not (args.start or scheduling):
        parser.error("--param needs --start or a schedule (parameters are given per execution)")
    if not args.monitoring and (scheduling or args.scheduler_role_arn or args.schedule != DEFAULT_SCHEDULE):
        parser.error("--schedule, --create-schedule, --print-schedule and --scheduler-role-arn need --monitoring")
    # With --print-schedule, standard output is the request JSON alone.
    emit = (lambda line: print(line, file=sys.stderr)) if args.print_schedule else print
    try:
        config = config_from_args(args, role_arn=args.role_arn, lambda_role_arn=args.lambda_role_arn)
        overrides = parse_overrides(args.param)
        scheduler_role_arn = None
        if scheduling:
            scheduler_role_arn = check_scheduler_role(args.scheduler_role_arn or os.environ.get(SCHEDULER_ROLE_ENV)
                                                      or config.role_arn)
            check_schedule_expression(args.schedule)
        prepare_sdk_environment(config.region)
        quiet_sdk_logging(args.verbose)
        result = run(
            config,
            overrides=overrides,
            start=args.start,
            wait=args.wait,
            poll_seconds=args.poll_seconds,
            timeout_seconds=args.timeout_seconds,
            emit=emit,
            monitoring=args.monitoring,
        )
        if scheduling:
            request = apply_schedule(config, pipeline_arn=result.pipeline_arn, expression=args.schedule,
                                     role_arn=scheduler_role_arn, overrides=overrides,
                                     create=args.create_schedule, emit=emit)
            if args.print_schedule:
                print(json.dumps(request, indent=2))
    except ScheduleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ConfigError, ParameterError, DefinitionError, UpsertError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, (ConfigError, ParameterError)) else 1
    if result.execution_status is not None and result.execution_status != "Succeeded":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

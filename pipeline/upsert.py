"""Create or update the pipeline in SageMaker, optionally start an execution and follow it.

    python -m pipeline.upsert --role-arn ARN [--region R] [--bucket B] [--tags K=V ...]
                              [--start [--wait]] [--param Name=Value ...]

Steps, in order: check settings and parameters, build and validate the definition (offline), upload the
processing code to its content-addressed prefix, create or update the pipeline (idempotent), start.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from pipeline.code_bundle import CodeBundle, processing_code_bundle
from pipeline.config import ENV_VARS, PLACEHOLDER_ROLE_ARN, ConfigError, PipelineConfig
from pipeline.definition import (
    add_config_arguments,
    build_definition,
    config_from_args,
    prepare_sdk_environment,
    quiet_sdk_logging,
)
from pipeline.parameters import ParameterError, execution_parameters, parse_overrides
from pipeline.validation import DefinitionError, validate_definition

TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")


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


def upsert_pipeline(sm, config: PipelineConfig, definition: dict, description: str) -> tuple[str, bool]:
    """Create the pipeline, or update it if it exists. Returns (ARN, created)."""
    import botocore.exceptions

    body = json.dumps(definition)
    try:
        sm.describe_pipeline(PipelineName=config.pipeline_name)
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
        "PipelineName": config.pipeline_name,
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
) -> UpsertResult:
    """Everything ``python -m pipeline.upsert`` does, given a resolved config."""
    import boto3
    import botocore.exceptions

    if config.role_arn == PLACEHOLDER_ROLE_ARN:
        raise UpsertError(f"no execution role: pass --role-arn or set {ENV_VARS['role_arn']}")
    code = processing_code_bundle()
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
        arn, created = upsert_pipeline(
            sm, config, definition, description="Evaluate a binary classifier and gate its registration."
        )
        emit(f"pipeline {'created' if created else 'updated'}: {arn}")
        if not start:
            return UpsertResult(pipeline_arn=arn, created=created, code_uri=code_uri)
        execution = sm.start_pipeline_execution(
            PipelineName=config.pipeline_name,
            PipelineParameters=parameters,
            PipelineExecutionDisplayName=f"{config.pipeline_name}-{int(time.time())}",
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


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags (also used by tests that check buildspec.yml's commands)."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.upsert",
        description="Upload the evaluation code, create or update the SageMaker pipeline, optionally run it.",
    )
    add_config_arguments(parser)
    parser.add_argument("--role-arn", help=f"pipeline execution role (env {ENV_VARS['role_arn']})")
    parser.add_argument("--start", action="store_true", help="start an execution after the upsert")
    parser.add_argument("--wait", action="store_true", help="with --start: wait for the execution, printing steps")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="execution parameter (repeatable)"
    )
    parser.add_argument("--poll-seconds", type=float, default=15.0, help="with --wait: seconds between polls")
    parser.add_argument("--timeout-seconds", type=float, default=4 * 3600, help="with --wait: give up after this")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.wait and not args.start:
        parser.error("--wait needs --start")
    if args.param and not args.start:
        parser.error("--param needs --start (parameters are given per execution)")
    try:
        config = config_from_args(args, role_arn=args.role_arn)
        overrides = parse_overrides(args.param)
        prepare_sdk_environment(config.region)
        quiet_sdk_logging(args.verbose)
        result = run(
            config,
            overrides=overrides,
            start=args.start,
            wait=args.wait,
            poll_seconds=args.poll_seconds,
            timeout_seconds=args.timeout_seconds,
        )
    except (ConfigError, ParameterError, DefinitionError, UpsertError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if isinstance(error, (ConfigError, ParameterError)) else 1
    if result.execution_status is not None and result.execution_status != "Succeeded":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

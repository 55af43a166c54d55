"""Create or update the pipeline in SageMaker, optionally start an execution and follow it.

    python -m pipeline.upsert --role-arn ARN [--lambda-role-arn ARN] [--region R] [--bucket B] [--tags K=V ...]
                              [--start [--wait]] [--param Name=Value ...]
    python -m pipeline.upsert --monitoring [--create-schedule | --print-schedule] [--schedule EXPR]
                              [--param Name=Value ... | --reset-params] [--scheduler-role-arn ARN] ...
                              (the drift-check pipeline, pipeline/monitoring.py)

Steps, in order: check settings and parameters, build and validate the definition (offline); read the
existing schedule (with --create-schedule: its parameters are kept, so they are checked against the new
definition before anything changes); upload the processing code to its content-addressed prefix, deploy the
Lambda functions (when their code or settings changed), create the model package group or add the tags it
lacks, create or update the pipeline (idempotent; tags it lacks added), create or update the schedule, start.
``--print-schedule`` stops after the offline checks and prints the schedule request: no credentials needed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from pipeline import limits
from pipeline.code_bundle import CodeBundle, processing_code_bundle
from pipeline.config import ENV_VARS, PLACEHOLDER_ROLE_ARN, ROLE_ARN_RE, ConfigError, PipelineConfig, check_limit
from pipeline.definition import (
    add_config_arguments,
    build_definition,
    config_from_args,
    prepare_sdk_environment,
    quiet_sdk_logging,
)
from pipeline.parameters import ParameterError, execution_parameters, parse_overrides
from pipeline.monitoring import (
    DEFAULT_SCHEDULE,
    ScheduleError,
    check_schedule_expression,
    read_schedule,
    upsert_schedule,
)
from pipeline.validation import DefinitionError, validate_definition

TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")
SCHEDULER_ROLE_ENV = "SCHEDULER_ROLE_ARN"
EVALUATION_DESCRIPTION = "Evaluate a binary classifier and gate its registration."


class UpsertError(RuntimeError):
    """A one-line, actionable failure."""


def refused(error) -> UpsertError:
    """A botocore ClientError as one line: which call AWS refused, its code and message."""
    info = error.response.get("Error", {})
    return UpsertError(f"AWS refused {error.operation_name}: {info.get('Code', 'Error')}: "
                       f"{info.get('Message', '')}".rstrip())


@dataclass(frozen=True)
class ScheduleOptions:
    """What was asked of the drift-check pipeline's schedule (``--create-schedule``/``--print-schedule``)."""

    role_arn: str
    # None: keep what an existing schedule has (a new one gets DEFAULT_SCHEDULE / no parameters).
    expression: str | None = None
    # Overrides as given by --param: the schedule passes exactly these ({} with --reset-params: none).
    parameters: Mapping[str, str] | None = None


@dataclass(frozen=True)
class UpsertResult:
    pipeline_arn: str
    created: bool
    code_uri: str
    execution_arn: str | None = None
    execution_status: str | None = None
    schedule_arn: str | None = None
    schedule_created: bool | None = None


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
    """Create the pipeline (default name: config's) with the config's tags, or update it if it exists and add
    the tags it lacks. Returns (ARN, created)."""
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
        arn = sm.update_pipeline(**common)["PipelineArn"]
        # UpdatePipeline takes no tags: a pipeline created before a tag was configured gets it here.
        if config.tags:
            ensure_tags(sm, arn, config.tags)
        return arn, False
    tags = _tag_list(config.tags)
    return sm.create_pipeline(**common, **({"Tags": tags} if tags else {}))["PipelineArn"], True


def _tag_list(tags: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags]


def ensure_tags(sm, arn: str, tags: Sequence[tuple[str, str]]) -> list[str]:
    """Give SageMaker resource ``arn`` each of ``tags`` it lacks or carries with another value (AddTags
    overwrites those); tags set by others stay. Returns the keys it set."""
    current: dict[str, str] = {}
    for page in sm.get_paginator("list_tags").paginate(ResourceArn=arn):
        current.update({tag["Key"]: tag.get("Value", "") for tag in page.get("Tags", [])})
    changed = [(key, value) for key, value in tags if current.get(key) != value]
    if changed:
        sm.add_tags(ResourceArn=arn, Tags=_tag_list(changed))
    return [key for key, _ in changed]


def group_description(config: PipelineConfig) -> str:
    """The model package group's description (checked against its limit)."""
    text = f"Model versions registered by SageMaker pipeline {config.pipeline_name} after passing its quality gate."
    return check_limit(limits.MODEL_PACKAGE_GROUP_DESCRIPTION, text, "model package group description",
                       "use a shorter --pipeline-name")


def ensure_model_package_group(sm, config: PipelineConfig) -> tuple[str, str]:
    """Create the config's model package group with its tags, or add the tags an existing one lacks, so a
    SageMaker project's views and deploy triggers find it. Returns (ARN, "created" | "tagged" | "unchanged")."""
    from pipeline.lambdas.champions import ChampionLookupError, group_exists

    group = config.model_package_group
    try:
        exists = group_exists(sm, group)
    except ChampionLookupError as error:
        raise UpsertError(f"AWS refused {error}") from None
    if not exists:
        tags = _tag_list(config.tags)
        response = sm.create_model_package_group(ModelPackageGroupName=group,
                                                 ModelPackageGroupDescription=group_description(config),
                                                 **({"Tags": tags} if tags else {}))
        return response["ModelPackageGroupArn"], "created"
    arn = sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
    added = ensure_tags(sm, arn, config.tags) if config.tags else []
    return arn, "tagged" if added else "unchanged"


def execution_display_name(pipeline_name: str, started: float) -> str:
    """PipelineExecutionDisplayName ``<pipeline name>-<unix time>``; a pipeline name too long for its 82
    characters is cut and followed by a hash of it, so different long names stay apart.

    >>> execution_display_name("binary-classifier-evaluation", 1767225600)
    'binary-classifier-evaluation-1767225600'
    >>> len(execution_display_name("p" * 256, 1767225600))
    82
    """
    stamp = str(int(started))
    name = f"{pipeline_name}-{stamp}"
    most = limits.EXECUTION_DISPLAY_NAME.max_length
    if len(name) > most:
        digest = hashlib.sha256(pipeline_name.encode()).hexdigest()[:8]
        name = f"{pipeline_name[:most - len(stamp) - len(digest) - 2]}-{digest}-{stamp}"
    return check_limit(limits.EXECUTION_DISPLAY_NAME, name, "execution display name", "a shorter pipeline name")


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
    schedule: ScheduleOptions | None = None,
    clock: Callable[[], float] = time.time,
) -> UpsertResult:
    """Everything ``python -m pipeline.upsert`` does, given a resolved config (``monitoring``: the drift check;
    ``schedule``: also create or update its schedule)."""
    import boto3
    import botocore.exceptions

    if schedule is not None and not monitoring:
        raise ConfigError("a schedule is only for the drift-check pipeline: add --monitoring")
    code = processing_code_bundle()
    pipeline_name, description, definition = _checked_definition(config, monitoring, code)
    # Fail on bad parameters before anything is read, uploaded or created.
    parameters = execution_parameters(definition["Parameters"], overrides)
    if schedule is not None:
        _plan_schedule(config, definition, schedule, existing=None)  # what can be checked without reading it

    session = boto_session or boto3.Session(region_name=config.region)
    if session.get_credentials() is None:
        raise UpsertError(
            "no AWS credentials found: configure a profile, environment variables or an instance role"
        )
    s3 = session.client("s3")
    sm = session.client("sagemaker")
    try:
        plan = None
        if schedule is not None:
            # Read before changing anything: the parameters it keeps must suit the new definition.
            scheduler = session.client("scheduler")
            plan = _plan_schedule(config, definition, schedule, read_schedule(scheduler, _schedule_name(config)))
        code_uri = upload_code(s3, config, code)
        emit(f"code uploaded: {code_uri}")
        if not monitoring:
            from pipeline.functions import deploy_functions

            for function in deploy_functions(session.client("lambda"), config):
                emit(f"function {function.action}: {function.arn}")
            group_arn, action = ensure_model_package_group(sm, config)
            emit(f"model package group {action}: {group_arn}")
        arn, created = upsert_pipeline(sm, config, definition, description=description, pipeline_name=pipeline_name)
        emit(f"pipeline {'created' if created else 'updated'}: {arn}")
        schedule_arn = schedule_created = None
        if plan is not None:
            _, schedule_arn, schedule_created = _write_schedule(scheduler, plan, arn, emit)
        if not start:
            return UpsertResult(arn, created, code_uri, schedule_arn=schedule_arn, schedule_created=schedule_created)
        execution = sm.start_pipeline_execution(
            PipelineName=pipeline_name,
            PipelineParameters=parameters,
            PipelineExecutionDisplayName=execution_display_name(pipeline_name, clock()),
        )
        execution_arn = execution["PipelineExecutionArn"]
        emit(f"execution started: {execution_arn}")
        status = None
        if wait:
            status = follow_execution(
                sm, execution_arn, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds, emit=emit
            )
        return UpsertResult(arn, created, code_uri, execution_arn, status, schedule_arn, schedule_created)
    except botocore.exceptions.ClientError as error:
        raise refused(error) from None
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError) as error:
        raise UpsertError(f"AWS credentials unusable: {error}") from None
    except botocore.exceptions.EndpointConnectionError as error:
        raise UpsertError(f"cannot reach AWS: {error}") from None


def _checked_definition(config: PipelineConfig, monitoring: bool, code: CodeBundle) -> tuple[str, str, dict]:
    """(pipeline name, description, definition), built and checked offline."""
    if config.role_arn == PLACEHOLDER_ROLE_ARN:
        raise ConfigError(f"no execution role: pass --role-arn or set {ENV_VARS['role_arn']}")
    if monitoring:
        from pipeline.monitoring import MONITORING_DESCRIPTION, build_monitoring_definition, monitoring_pipeline_name

        name, description = monitoring_pipeline_name(config), MONITORING_DESCRIPTION
        definition = build_monitoring_definition(config, code=code)
    else:
        name, description, definition = config.pipeline_name, EVALUATION_DESCRIPTION, build_definition(config, code=code)
    check_limit(limits.PIPELINE_DESCRIPTION, description, "pipeline description", "shorten it in pipeline/")
    validate_definition(definition)
    return name, description, definition


def check_scheduler_role(role_arn: str) -> str:
    """The scheduler's role ARN, or ScheduleError."""
    if not ROLE_ARN_RE.match(role_arn or ""):
        raise ScheduleError(f"bad scheduler role ARN {role_arn!r}: expected arn:aws:iam::<12-digit account>:role/<name> "
                            f"(--scheduler-role-arn or {SCHEDULER_ROLE_ENV})")
    return role_arn


def _schedule_name(config: PipelineConfig) -> str:
    from pipeline.monitoring import monitoring_pipeline_name, schedule_name

    return schedule_name(monitoring_pipeline_name(config))


@dataclass(frozen=True)
class SchedulePlan:
    """The schedule as it will be sent, but for the pipeline's ARN."""

    pipeline_name: str
    role_arn: str
    expression: str
    parameters: tuple[Mapping[str, str], ...]
    state: str
    exists: bool
    parameters_note: str

    def request(self, pipeline_arn: str) -> dict:
        from pipeline.monitoring import schedule_request

        return schedule_request(pipeline_name=self.pipeline_name, pipeline_arn=pipeline_arn, role_arn=self.role_arn,
                                expression=self.expression, parameters=self.parameters, state=self.state)


def _plan_schedule(config: PipelineConfig, definition: dict, options: ScheduleOptions,
                   existing: Mapping | None) -> SchedulePlan:
    """What the schedule becomes: ``options`` where given; otherwise what ``existing`` (GetSchedule's
    answer, None for a new schedule) has: its expression, its state and its parameters, which must still be
    parameters of ``definition``."""
    from pipeline.monitoring import DEFAULT_SCHEDULE, monitoring_pipeline_name, schedule_name, scheduled_parameters

    pipeline_name = monitoring_pipeline_name(config)
    declared = definition["Parameters"]
    if options.parameters is not None:
        parameters = execution_parameters(declared, dict(options.parameters))
        note = f"{len(parameters)} parameter(s), as given" if parameters else "no parameters"
    elif existing is None:
        parameters, note = [], "no parameters"
    else:
        kept = scheduled_parameters(existing)
        _check_kept_parameters(schedule_name(pipeline_name), pipeline_name, declared, kept)
        parameters = execution_parameters(declared, {p["Name"]: p["Value"] for p in kept})
        note = f"{len(parameters)} parameter(s) kept" if parameters else "no parameters"
    expression = options.expression or (existing or {}).get("ScheduleExpression") or DEFAULT_SCHEDULE
    state = (existing or {}).get("State") or "ENABLED"
    plan = SchedulePlan(pipeline_name, options.role_arn, expression, tuple(parameters), state, existing is not None,
                        note)
    plan.request(config.pipeline_arn(pipeline_name))  # every limit checked now, before anything changes
    return plan


def _check_kept_parameters(schedule: str, pipeline: str, declared: Sequence[Mapping],
                           kept: Sequence[Mapping[str, str]]) -> None:
    """ScheduleError when a parameter an existing schedule passes no longer suits the pipeline."""
    names = {p["Name"] for p in declared}
    fix = ("re-run with --param NAME=VALUE for each parameter the schedule should pass (they replace its list), "
           "or --reset-params")
    for parameter in kept:
        if parameter["Name"] not in names:
            raise ScheduleError(f"schedule {schedule} passes parameter {parameter['Name']!r}, which pipeline "
                                f"{pipeline} no longer declares: {fix}")
        try:
            execution_parameters(declared, {parameter["Name"]: parameter["Value"]})
        except ParameterError as error:
            raise ScheduleError(f"schedule {schedule} passes {parameter['Name']}={parameter['Value']!r}, which "
                                f"pipeline {pipeline} refuses ({error}): {fix}") from None


def _write_schedule(scheduler, plan: SchedulePlan, pipeline_arn: str,
                    emit: Callable[[str], None]) -> tuple[dict, str, bool]:
    """Create or update the planned schedule. Returns (request, schedule ARN, created)."""
    request = plan.request(pipeline_arn)
    arn, created = upsert_schedule(scheduler, request, exists=plan.exists)
    state = "" if request["State"] == "ENABLED" else f", {request['State']}"
    emit(f"schedule {'created' if created else 'updated'}: {arn} "
         f"({request['ScheduleExpression']}, UTC{state}; {plan.parameters_note})")
    return request, arn, created


def apply_schedule(
    config: PipelineConfig,
    *,
    pipeline_arn: str,
    expression: str | None,
    role_arn: str,
    overrides: Mapping[str, str] | None,
    create: bool,
    boto_session=None,
    emit: Callable[[str], None] = print,
) -> dict:
    """The schedule request that starts the drift-check pipeline ``pipeline_arn``; with ``create`` the schedule
    is created, or updated in place. ``expression`` or ``overrides`` None: an existing schedule keeps its
    expression or parameters (``overrides`` {}: it passes none). Without ``create`` nothing is read or sent."""
    import boto3
    import botocore.exceptions

    from pipeline.monitoring import build_monitoring_definition

    options = ScheduleOptions(role_arn=role_arn, expression=expression, parameters=overrides)
    definition = build_monitoring_definition(config)
    if not create:
        return _plan_schedule(config, definition, options, existing=None).request(pipeline_arn)
    scheduler = (boto_session or boto3.Session(region_name=config.region)).client("scheduler")
    try:
        plan = _plan_schedule(config, definition, options, read_schedule(scheduler, _schedule_name(config)))
        return _write_schedule(scheduler, plan, pipeline_arn, emit)[0]
    except botocore.exceptions.ClientError as error:
        raise refused(error) from None


def print_schedule_request(config: PipelineConfig, options: ScheduleOptions,
                           emit: Callable[[str], None] = print) -> dict:
    """The CreateSchedule request a new schedule would get, built offline: no credentials, no call, nothing
    uploaded or changed. The pipeline's ARN is the one SageMaker gives it (``PipelineConfig.pipeline_arn``)."""
    pipeline_name, _, _ = _checked_definition(config, True, processing_code_bundle())
    if options.parameters is None:
        emit("note: the request of a new schedule, read from nothing in AWS: --create-schedule keeps an existing "
             "schedule's parameters, expression and state")
    return apply_schedule(config, pipeline_arn=config.pipeline_arn(pipeline_name), expression=options.expression,
                          role_arn=options.role_arn, overrides=options.parameters, create=False, emit=emit)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags (also used by tests that check buildspec.yml's commands)."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.upsert",
        description="Upload the evaluation code, create or update the SageMaker pipeline, optionally run it.",
        epilog=f"In a SageMaker project ({ENV_VARS['project_name']} and {ENV_VARS['project_id']} set, as the "
               "project's CodeBuild sets them) the model package group is <project name>-<project id>, the "
               "pipelines and the group carry the tags sagemaker:project-name and sagemaker:project-id (the "
               "Lambda functions get them when created), and the pipeline name and prefix default to "
               "<project name>-evaluation and <project name>/evaluation.",
    )
    add_config_arguments(parser)
    parser.add_argument("--role-arn", help=f"pipeline execution role (env {ENV_VARS['role_arn']})")
    parser.add_argument(
        "--lambda-role-arn",
        help=f"role of the pipeline's Lambda functions (env {ENV_VARS['lambda_role_arn']}; default "
        "--role-arn): trusts lambda.amazonaws.com, may read the Model Registry and the artifact bucket",
    )
    parser.add_argument("--start", action="store_true", help="start an execution after the upsert")
    parser.add_argument("--wait", action="store_true", help="with --start: wait for the execution, printing steps")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="execution parameter (repeatable). With a schedule the schedule passes exactly the --param given, "
             "replacing its list; without --param, --create-schedule keeps the parameters it has",
    )
    parser.add_argument("--poll-seconds", type=float, default=15.0, help="with --wait: seconds between polls")
    parser.add_argument("--timeout-seconds", type=float, default=4 * 3600, help="with --wait: give up after this")
    monitoring = parser.add_argument_group("drift-check pipeline (<pipeline name>-monitoring)")
    monitoring.add_argument("--monitoring", action="store_true",
                            help="upsert (and --start) the drift-check pipeline instead of the evaluation pipeline")
    monitoring.add_argument("--schedule", metavar="EXPR",
                            help="EventBridge Scheduler expression, UTC (default: an existing schedule's; for a new "
                                 f"one {DEFAULT_SCHEDULE!r}, daily 06:00)")
    action = monitoring.add_mutually_exclusive_group()
    action.add_argument("--create-schedule", action="store_true",
                        help="create or update the schedule that starts the pipeline (an existing schedule keeps its "
                             "expression, state and parameters unless --schedule, --param or --reset-params say "
                             "otherwise)")
    action.add_argument("--print-schedule", action="store_true",
                        help="print a new schedule's CreateSchedule request JSON instead: offline, no credentials, "
                             "nothing uploaded or changed")
    monitoring.add_argument("--reset-params", action="store_true",
                            help="with a schedule: it passes no parameters (every execution takes the defaults)")
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
    schedule_flags = args.scheduler_role_arn or args.schedule is not None or args.reset_params
    if not args.monitoring and (scheduling or schedule_flags):
        parser.error("--schedule, --create-schedule, --print-schedule, --reset-params and --scheduler-role-arn "
                     "need --monitoring")
    if schedule_flags and not scheduling:
        parser.error("--schedule, --reset-params and --scheduler-role-arn need --create-schedule or --print-schedule")
    if args.reset_params and args.param:
        parser.error("--reset-params and --param contradict each other: the schedule passes exactly the --param given")
    if args.print_schedule and args.start:
        parser.error("--print-schedule changes nothing, so it cannot --start: drop one of them")
    # With --print-schedule, standard output is the request JSON alone.
    emit = (lambda line: print(line, file=sys.stderr)) if args.print_schedule else print
    result = None
    try:
        config = config_from_args(args, role_arn=args.role_arn, lambda_role_arn=args.lambda_role_arn)
        overrides = parse_overrides(args.param)
        schedule = None
        if scheduling:
            if args.schedule is not None:
                check_schedule_expression(args.schedule)
            schedule = ScheduleOptions(
                role_arn=check_scheduler_role(args.scheduler_role_arn or os.environ.get(SCHEDULER_ROLE_ENV)
                                              or config.role_arn),
                expression=args.schedule,
                parameters={} if args.reset_params else (overrides if args.param else None),
            )
        prepare_sdk_environment(config.region)
        quiet_sdk_logging(args.verbose)
        if args.print_schedule:
            assert schedule is not None
            print(json.dumps(print_schedule_request(config, schedule, emit=emit), indent=2))
            return 0
        result = run(
            config,
            overrides=overrides,
            start=args.start,
            wait=args.wait,
            poll_seconds=args.poll_seconds,
            timeout_seconds=args.timeout_seconds,
            emit=emit,
            monitoring=args.monitoring,
            schedule=schedule,
        )
    except (ConfigError, ParameterError, ScheduleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (DefinitionError, UpsertError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if result.execution_status is not None and result.execution_status != "Succeeded":
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Deploy a pipeline to SageMaker: upload the processing code, deploy the Lambda functions and the model
package group it needs, create or update the pipeline (and its schedule), start an execution and follow it.

Everything that can be checked offline is checked before the first call; every AWS refusal is one line.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from pipeline import limits
from pipeline.code_bundle import CodeBundle, processing_code_bundle
from pipeline.config import ENV_VARS, PLACEHOLDER_ROLE_ARN, ConfigError, PipelineConfig, check_limit
from pipeline.parameters import execution_parameters
from pipeline.spec import PipelineSpec

if TYPE_CHECKING:
    from pipeline.aws.schedule import ScheduleOptions

TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")


class UpsertError(RuntimeError):
    """A one-line, actionable failure."""


def refused(error) -> UpsertError:
    """A botocore ClientError as one line: which call AWS refused, its code and message."""
    info = error.response.get("Error", {})
    return UpsertError(f"AWS refused {error.operation_name}: {info.get('Code', 'Error')}: "
                       f"{info.get('Message', '')}".rstrip())


@dataclass(frozen=True)
class UpsertResult:
    pipeline_arn: str
    created: bool
    code_uri: str
    execution_arn: str | None = None
    execution_status: str | None = None
    schedule_arn: str | None = None
    schedule_created: bool | None = None


def upload_code(s3, config: PipelineConfig, code: CodeBundle) -> str:
    """Upload the bundle under its digest; files already there (same key = same content) are skipped."""
    prefix = config.code_uri(code.digest)
    bucket, _, key_prefix = prefix[len("s3://"):].partition("/")
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
    spec: PipelineSpec,
    *,
    overrides: dict[str, str],
    start: bool,
    wait: bool,
    boto_session=None,
    poll_seconds: float = 15.0,
    timeout_seconds: float = 4 * 3600,
    emit: Callable[[str], None] = print,
    schedule: "ScheduleOptions | None" = None,
    clock: Callable[[], float] = time.time,
) -> UpsertResult:
    """Everything ``python -m pipeline.upsert <pipeline>`` does, given a resolved config (``schedule``: also
    create or update the pipeline's schedule)."""
    import boto3
    import botocore.exceptions

    from pipeline.aws.schedule import plan_schedule, read_schedule, schedule_name, write_schedule

    if schedule is not None and not spec.schedulable:
        from pipeline.pipelines import SPECS

        scheduled = " or ".join(key for key, other in SPECS.items() if other.schedulable)
        raise ConfigError(f"the {spec.key} pipeline has no schedule: schedules are for "
                          f"python -m pipeline.upsert {scheduled}")
    code = processing_code_bundle()
    pipeline_name, definition = checked_definition(config, spec, code)
    # Fail on bad parameters before anything is read, uploaded or created.
    parameters = execution_parameters(spec.parameters, overrides)
    if schedule is not None:
        plan_schedule(config, spec, schedule, existing=None)  # what can be checked without reading it

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
            plan = plan_schedule(config, spec, schedule, read_schedule(scheduler, schedule_name(pipeline_name)))
        code_uri = upload_code(s3, config, code)
        emit(f"code uploaded: {code_uri}")
        if spec.functions:
            from pipeline.aws.functions import deploy_functions

            for function in deploy_functions(session.client("lambda"), config):
                emit(f"function {function.action}: {function.arn}")
            group_arn, action = ensure_model_package_group(sm, config)
            emit(f"model package group {action}: {group_arn}")
        arn, created = upsert_pipeline(sm, config, definition, description=spec.description,
                                       pipeline_name=pipeline_name)
        emit(f"pipeline {'created' if created else 'updated'}: {arn}")
        schedule_arn = schedule_created = None
        if plan is not None:
            _, schedule_arn, schedule_created = write_schedule(scheduler, plan, arn, emit)
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


def checked_definition(config: PipelineConfig, spec: PipelineSpec, code: CodeBundle) -> tuple[str, dict]:
    """(pipeline name, definition), built and checked offline."""
    from pipeline.aws.validation import validate_definition

    if config.role_arn == PLACEHOLDER_ROLE_ARN:
        raise ConfigError(f"no execution role: pass --role-arn or set {ENV_VARS['role_arn']}")
    name = spec.name(config)
    check_limit(limits.PIPELINE_DESCRIPTION, spec.description, "pipeline description", "shorten it in pipeline/")
    definition = spec.definition(config, code=code)
    validate_definition(definition)
    return name, definition

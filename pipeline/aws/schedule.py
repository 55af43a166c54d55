"""The EventBridge Scheduler schedule that starts a schedulable pipeline (the drift check and the model-quality check, daily).

Its request is built and checked offline (``--print-schedule``); an existing schedule keeps its
expression, state and parameters unless told otherwise, and the parameters it keeps are checked against
the new definition before anything changes.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from pipeline import limits
from pipeline.config import ROLE_ARN_RE, PipelineConfig
from pipeline.parameters import ParameterError, execution_parameters
from pipeline.spec import PipelineSpec
from processing_scripts.parameters import Parameter

SCHEDULER_ROLE_ENV = "SCHEDULER_ROLE_ARN"
# EventBridge Scheduler: every day at 06:00 UTC, for a schedule created without --schedule.
DEFAULT_SCHEDULE = "cron(0 6 * * ? *)"
_SCHEDULE_EXPRESSION_RE = re.compile(
    r"^(cron\(\S+( \S+){5}\)"
    r"|rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\)"
    r"|at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\))$"
)


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


@dataclass(frozen=True)
class ScheduleOptions:
    """What was asked of the drift-check pipeline's schedule (``--create-schedule``/``--print-schedule``)."""

    role_arn: str
    # None: keep what an existing schedule has (a new one gets DEFAULT_SCHEDULE / no parameters).
    expression: str | None = None
    # Overrides as given by --param: the schedule passes exactly these ({} with --reset-params: none).
    parameters: Mapping[str, str] | None = None


def check_scheduler_role(role_arn: str) -> str:
    """The scheduler's role ARN, or ScheduleError."""
    if not ROLE_ARN_RE.match(role_arn or ""):
        raise ScheduleError(f"bad scheduler role ARN {role_arn!r}: expected arn:aws:iam::<12-digit account>:role/<name> "
                            f"(--scheduler-role-arn or {SCHEDULER_ROLE_ENV})")
    return role_arn


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
        return schedule_request(pipeline_name=self.pipeline_name, pipeline_arn=pipeline_arn, role_arn=self.role_arn,
                                expression=self.expression, parameters=self.parameters, state=self.state)


def plan_schedule(config: PipelineConfig, spec: PipelineSpec, options: ScheduleOptions,
                  existing: Mapping | None) -> SchedulePlan:
    """What the schedule of ``spec``'s pipeline becomes: ``options`` where given; otherwise what ``existing``
    (GetSchedule's answer, None for a new schedule) has: its expression, its state and its parameters, which
    must still be parameters of the pipeline, with values its table accepts."""
    pipeline_name = spec.name(config)
    declared = spec.parameters
    if options.parameters is not None:
        parameters = execution_parameters(declared, dict(options.parameters))
        note = f"{len(parameters)} parameter(s), as given" if parameters else "no parameters"
    elif existing is None:
        parameters, note = [], "no parameters"
    else:
        kept = scheduled_parameters(existing)
        check_kept_parameters(schedule_name(pipeline_name), pipeline_name, declared, kept)
        parameters = execution_parameters(declared, {p["Name"]: p["Value"] for p in kept})
        note = f"{len(parameters)} parameter(s) kept" if parameters else "no parameters"
    expression = options.expression or (existing or {}).get("ScheduleExpression") or DEFAULT_SCHEDULE
    state = (existing or {}).get("State") or "ENABLED"
    plan = SchedulePlan(pipeline_name, options.role_arn, expression, tuple(parameters), state, existing is not None,
                        note)
    plan.request(config.pipeline_arn(pipeline_name))  # every limit checked now, before anything changes
    return plan


def check_kept_parameters(schedule: str, pipeline: str, declared: Sequence[Parameter],
                          kept: Sequence[Mapping[str, str]]) -> None:
    """ScheduleError when a parameter an existing schedule passes no longer suits the pipeline."""
    names = {p.name for p in declared}
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


def write_schedule(scheduler, plan: SchedulePlan, pipeline_arn: str,
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
    spec: PipelineSpec,
    *,
    pipeline_arn: str,
    options: ScheduleOptions,
    scheduler=None,
    emit: Callable[[str], None] = print,
) -> dict:
    """The schedule request that starts ``spec``'s pipeline ``pipeline_arn``. With a ``scheduler`` client the
    schedule is read, then created or updated in place; without one nothing is read or sent (the request a
    new schedule would get)."""
    if scheduler is None:
        return plan_schedule(config, spec, options, existing=None).request(pipeline_arn)
    plan = plan_schedule(config, spec, options, read_schedule(scheduler, schedule_name(spec.name(config))))
    return write_schedule(scheduler, plan, pipeline_arn, emit)[0]

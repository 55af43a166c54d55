"""Create or update a pipeline in SageMaker, optionally start an execution and follow it.

    python -m pipeline.upsert evaluation --role-arn ARN [--lambda-role-arn ARN] [--region R] [--bucket B]
                              [--tags K=V ...] [--start [--wait]] [--param Name=Value ...]
    python -m pipeline.upsert monitoring --role-arn ARN [--create-schedule | --print-schedule]
                              [--schedule EXPR] [--param Name=Value ... | --reset-params] [--scheduler-role-arn ARN]
    python -m pipeline.upsert quality --role-arn ARN [--lambda-role-arn ARN] [--create-schedule | --print-schedule] ...

Steps, in order: check settings and parameters, build and validate the definition (offline); read the
existing schedule (with --create-schedule: its parameters are kept, so they are checked against the new
definition before anything changes); upload the processing code to its content-addressed prefix, deploy the
Lambda functions (when their code or settings changed), create the model package group or add the tags it
lacks, create or update the pipeline (idempotent; tags it lacks added), create or update the schedule, start.
``--print-schedule`` stops after the offline checks and prints the schedule request: no credentials needed.
Exit codes: 0 done (and, with --wait, the execution succeeded); 1 AWS refused, the definition failed its
schema, or the execution did not succeed; 2 bad settings or parameters (nothing was sent).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from pipeline.arguments import OneLineParser, config_from_args, pipeline_subcommands, report, settings_parser
from pipeline.aws.schedule import (
    DEFAULT_SCHEDULE,
    SCHEDULER_ROLE_ENV,
    ScheduleError,
    ScheduleOptions,
    apply_schedule,
    check_schedule_expression,
    check_scheduler_role,
)
from pipeline.aws.upsert import UpsertError, checked_definition, run
from pipeline.aws.validation import DefinitionError
from pipeline.code_bundle import processing_code_bundle
from pipeline.pipelines import SPECS
from pipeline.config import ENV_VARS, ConfigError
from pipeline.parameters import ParameterError, parse_overrides
from pipeline.spec import PipelineSpec


def _schedule_arguments(parser: argparse.ArgumentParser, spec: PipelineSpec) -> None:
    if not spec.schedulable:
        return
    group = parser.add_argument_group("schedule (EventBridge Scheduler)")
    group.add_argument("--schedule", metavar="EXPR",
                       help="EventBridge Scheduler expression, UTC (default: an existing schedule's; for a new "
                            f"one {DEFAULT_SCHEDULE!r}, daily 06:00)")
    action = group.add_mutually_exclusive_group()
    action.add_argument("--create-schedule", action="store_true",
                        help="create or update the schedule that starts the pipeline (an existing schedule keeps its "
                             "expression, state and parameters unless --schedule, --param or --reset-params say "
                             "otherwise)")
    action.add_argument("--print-schedule", action="store_true",
                        help="print a new schedule's CreateSchedule request JSON instead: offline, no credentials, "
                             "nothing uploaded or changed")
    group.add_argument("--reset-params", action="store_true",
                       help="with a schedule: it passes no parameters (every execution takes the defaults)")
    group.add_argument("--scheduler-role-arn",
                       help=f"role EventBridge Scheduler assumes to start the pipeline (env {SCHEDULER_ROLE_ENV}; "
                            "default the pipeline role): trusts scheduler.amazonaws.com, may "
                            "sagemaker:StartPipelineExecution")


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags (also used by tests that check buildspec.yml's commands)."""
    parser = OneLineParser(
        prog="python -m pipeline.upsert",
        description="Upload the processing code, create or update a SageMaker pipeline, optionally run it.",
        epilog=f"In a SageMaker project ({ENV_VARS['project_name']} and {ENV_VARS['project_id']} set, as the "
               "project's CodeBuild sets them) the model package group is <project name>-<project id>, the "
               "pipelines and the group carry the tags sagemaker:project-name and sagemaker:project-id (the "
               "Lambda functions get them when created), and the pipeline name and prefix default to "
               "<project name>-evaluation and <project name>/evaluation.",
    )
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--role-arn", help=f"pipeline execution role (env {ENV_VARS['role_arn']})")
    options.add_argument(
        "--lambda-role-arn",
        help=f"role of the pipeline's Lambda functions (env {ENV_VARS['lambda_role_arn']}; default "
        "--role-arn): trusts lambda.amazonaws.com, may read the Model Registry and the artifact bucket",
    )
    options.add_argument("--start", action="store_true", help="start an execution after the upsert")
    options.add_argument("--wait", action="store_true", help="with --start: wait for the execution, printing steps")
    options.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="execution parameter (repeatable). With a schedule the schedule passes exactly the --param given, "
             "replacing its list; without --param, --create-schedule keeps the parameters it has",
    )
    options.add_argument("--poll-seconds", type=float, default=15.0, help="with --wait: seconds between polls")
    options.add_argument("--timeout-seconds", type=float, default=4 * 3600, help="with --wait: give up after this")
    pipeline_subcommands(parser, specs=SPECS, parents=[settings_parser(), options], add_arguments=_schedule_arguments,
                         describe=lambda spec: f"deploy the {spec.key} pipeline: {spec.description}")
    return parser


def _check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> bool:
    """argparse errors (exit 2) for flags that contradict each other; returns whether a schedule is asked for."""
    if args.wait and not args.start:
        parser.error("--wait needs --start")
    scheduling = getattr(args, "create_schedule", False) or getattr(args, "print_schedule", False)
    if args.param and not (args.start or scheduling):
        parser.error("--param needs --start or a schedule (parameters are given per execution)")
    if args.spec.schedulable:
        schedule_flags = args.scheduler_role_arn or args.schedule is not None or args.reset_params
        if schedule_flags and not scheduling:
            parser.error("--schedule, --reset-params and --scheduler-role-arn need --create-schedule or "
                         "--print-schedule")
        if args.reset_params and args.param:
            parser.error("--reset-params and --param contradict each other: the schedule passes exactly the --param "
                         "given")
        if args.print_schedule and args.start:
            parser.error("--print-schedule changes nothing, so it cannot --start: drop one of them")
    return scheduling


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    scheduling = _check_flags(parser, args)
    printing = getattr(args, "print_schedule", False)
    # With --print-schedule, standard output is the request JSON alone.
    emit = (lambda line: print(line, file=sys.stderr)) if printing else print
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
        from pipeline.sdk import prepare_sdk_environment, quiet_sdk_logging

        prepare_sdk_environment(config.region)
        quiet_sdk_logging(args.verbose)
        if printing:
            pipeline_name, _ = checked_definition(config, args.spec, processing_code_bundle())
            if schedule.parameters is None:
                emit("note: the request of a new schedule, read from nothing in AWS: --create-schedule keeps an "
                     "existing schedule's parameters, expression and state")
            request = apply_schedule(config, args.spec, pipeline_arn=config.pipeline_arn(pipeline_name),
                                     options=schedule)
            print(json.dumps(request, indent=2))
            return 0
        result = run(config, args.spec, overrides=overrides, start=args.start, wait=args.wait,
                     poll_seconds=args.poll_seconds, timeout_seconds=args.timeout_seconds, emit=emit,
                     schedule=schedule)
    except (ConfigError, ParameterError, ScheduleError) as error:
        report(error)
        return 2
    except (DefinitionError, UpsertError) as error:
        report(error)
        return 1
    if result.execution_status is not None and result.execution_status != "Succeeded":
        return 1
    return 0


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)

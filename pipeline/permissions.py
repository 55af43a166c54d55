"""Print the least-privilege IAM policies of the roles this project's code runs as (pipeline.aws.permissions).

    python -m pipeline.permissions --bucket B --region R --role-arn ARN [--lambda-role-arn ARN]
        [--scheduler-role-arn ARN] [--kms-key-id KEY] [--data-bucket NAME ...] [--endpoint NAME ...]
        [--role pipeline|function|codebuild|scheduler|operator] [--out-dir DIR]

Without ``--role`` or ``--out-dir``: one JSON object, each role's ARN, policy and trust policy. Exit 0,
or 2 with one line on stderr when the settings cannot make the policies.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from pipeline.aws.iam import PermissionsError
from pipeline.aws.permissions import ROLES, policy, shared_roles, trust_policy
from pipeline.aws.scope import Scope
from pipeline.config import ENV_VARS, ConfigError


def build_parser() -> argparse.ArgumentParser:
    from pipeline.arguments import settings_parser
    from pipeline.aws.schedule import SCHEDULER_ROLE_ENV

    parser = argparse.ArgumentParser(
        prog="python -m pipeline.permissions", parents=[settings_parser()],
        description="Print the least-privilege IAM policies (and trust policies) of the roles this project uses.",
    )
    parser.add_argument("--role-arn", help=f"pipeline execution role (env {ENV_VARS['role_arn']}); required")
    parser.add_argument("--lambda-role-arn", help=f"the functions' role (env {ENV_VARS['lambda_role_arn']}; "
                                                  "default --role-arn)")
    parser.add_argument("--scheduler-role-arn", help=f"the schedule's role (env {SCHEDULER_ROLE_ENV}; default --role-arn)")
    parser.add_argument("--retrain-pipeline", help="the model-build pipeline the retraining rules start (default: "
                                                   "any pipeline of the account may be described)")
    parser.add_argument("--retrain-role-arn", help="the role EventBridge assumes to start it (default the scheduler's)")
    parser.add_argument("--data-bucket", action="append", default=[], metavar="NAME",
                        help="a bucket holding ModelDataUrl, TestDataUrl, ValidationDataUrl or capture data outside "
                             "the artifact prefix (repeatable; read access to the whole bucket)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="NAME",
                        help="operator: endpoint pipeline.endpoint may invoke (repeatable; default any)")
    parser.add_argument("--role", choices=ROLES, help="print only this role's permissions policy")
    parser.add_argument("--out-dir", help="write <role>-policy.json and <role>-trust-policy.json files here")
    return parser


def scope_from_args(args: argparse.Namespace) -> Scope:
    """The Scope of parsed flags, then the environment, then defaults."""
    from pipeline.arguments import config_from_args
    from pipeline.aws.schedule import SCHEDULER_ROLE_ENV, check_scheduler_role

    config = config_from_args(args, role_arn=args.role_arn, lambda_role_arn=args.lambda_role_arn)
    scheduler = args.scheduler_role_arn or os.environ.get(SCHEDULER_ROLE_ENV) or config.role_arn
    return Scope(config, scheduler_role_arn=check_scheduler_role(scheduler),
                 data_buckets=tuple(sorted(set(args.data_bucket))), endpoints=tuple(sorted(set(args.endpoint))),
                 retrain_pipeline=args.retrain_pipeline, retrain_role_arn=args.retrain_role_arn)


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def write_files(scope: Scope, roles: Sequence[str], out_dir: Path) -> list[Path]:
    """One file per policy, atomically; returns the paths written."""
    from processing_scripts.outputs import write_text_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for role in roles:
        for suffix, document in (("policy", policy(role, scope)), ("trust-policy", trust_policy(role, scope))):
            if document is not None:
                path = out_dir / f"{role}-{suffix}.json"
                write_text_atomic(path, render(document))
                written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.aws.schedule import ScheduleError

    args = build_parser().parse_args(argv)
    try:
        scope = scope_from_args(args)
        roles = [args.role] if args.role else list(ROLES)
        from pipeline.sdk import prepare_sdk_environment, quiet_sdk_logging

        prepare_sdk_environment(scope.region)
        quiet_sdk_logging(args.verbose)
        for line in shared_roles(scope):
            print(f"note: {line}", file=sys.stderr)
        if args.out_dir:
            for path in write_files(scope, roles, Path(args.out_dir)):
                print(path)
        elif args.role:
            sys.stdout.write(render(policy(args.role, scope)))
        else:
            sys.stdout.write(render({role: {"RoleArn": scope.role_arns[role], "PolicyDocument": policy(role, scope),
                                            "AssumeRolePolicyDocument": trust_policy(role, scope)} for role in roles}))
    except (ConfigError, PermissionsError, ScheduleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)

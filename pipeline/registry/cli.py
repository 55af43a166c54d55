"""The registry CLI: list, describe, approve and reject model packages, and find a version's drift
baseline (``USAGE`` below is what ``python -m pipeline.registry --help`` shows).

Exit codes: 0 done, 2 bad usage or an unknown group/version/ARN or a review the policy refuses (one
line on stderr), 1 the AWS call failed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import boto3

from pipeline.arguments import OneLineParser
from pipeline.registry.base import VERSION_MAX, ModelRegistry, check_group, parse_arn
from pipeline.registry.errors import AwsError, RegistryError
from pipeline.registry.local import LocalRegistry
from pipeline.registry.review import check_request, check_reviewer, reviewer
from pipeline.registry.sagemaker import SageMakerRegistry

PROG = "python -m pipeline.registry"
COMMANDS = ("list", "describe", "approve", "reject", "baseline")
REVIEWS = ("approve", "reject")
DEFAULT_WORK_DIR = ".local-sagemaker"
LIST_COLUMNS = ("GROUP", "VERSION", "STATUS", "CREATED", "ARN")

USAGE = f"""{PROG} list     [--group G]
       {PROG} describe (--arn ARN | --group G [--version N])
       {PROG} approve  (--arn ARN | --group G --version N) [--reason TEXT] [--by WHO]
       {PROG} approve  (--arn ARN | --group G --version N) --force --reason TEXT [--by WHO]
       {PROG} reject   (--arn ARN | --group G --version N) [--reason TEXT] [--by WHO]
       {PROG} baseline (--arn ARN | --group G [--version N])
       common options: [--backend local|sagemaker] [--work-dir DIR] [--region R] [--output text|json]"""
_EPILOG = """\
commands:
  list       every version (of --group), one line each, under a header
  describe   one version's DescribeModelPackage record (--group alone: its latest version)
  approve    approve a version; one whose quality gate did not pass needs --force --reason (recorded)
  reject     reject a version
  baseline   the drift-check baseline folder of a version (--group alone: its latest Approved
             version), to pass to the drift check as BaselineUrl
"""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, usage=USAGE, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="List, describe, approve and reject model packages (local SQLite registry or "
                                 "SageMaker).")
    parser.add_argument("command", choices=COMMANDS, help="see commands below")
    parser.add_argument("--backend", choices=("local", "sagemaker"), default="local", help="default: local")
    parser.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                        help=f"local backend: the folder holding registry.db (default {DEFAULT_WORK_DIR})")
    parser.add_argument("--region", help="sagemaker backend: AWS region (default: AWS_REGION, else the AWS "
                                         "configuration's: AWS_DEFAULT_REGION or ~/.aws/config)")
    parser.add_argument("--group", help="model package group")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--version", type=int, help="version within --group (approve and reject need it; describe: "
                                                    "default the latest; baseline: default the latest Approved)")
    target.add_argument("--arn", help="model package ARN (instead of --group/--version)")
    parser.add_argument("--reason", help="approve/reject: why, stored in ApprovalDescription; optional, except "
                                         "with --force, which requires it")
    parser.add_argument("--by", help="approve/reject: who reviews (default: the AWS caller with --backend "
                                     "sagemaker, else the OS user)")
    parser.add_argument("--force", action="store_true",
                        help="approve only: approve a version whose quality gate did not pass or was not recorded "
                             "(requires --reason; the override is recorded on the package)")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="default: text")
    return parser


def open_registry(backend: str, *, work_dir: str | Path = DEFAULT_WORK_DIR, region: str | None = None,
                  readonly: bool = False) -> ModelRegistry:
    """The registry a command reads: SageMaker's in ``region``, or the SQLite file in ``work_dir`` (opened
    ``readonly`` by the commands that only read, so they work on a registry they cannot write)."""
    if backend == "sagemaker":
        region = region or os.environ.get("AWS_REGION") or boto3.session.Session().region_name
        if not region:
            raise RegistryError("--backend sagemaker needs --region (or AWS_REGION or AWS_DEFAULT_REGION)")
        return SageMakerRegistry(region=region)
    if region:
        raise RegistryError("--region applies to --backend sagemaker; the local registry keeps its own")
    db = Path(work_dir) / "registry.db"
    if not db.exists():
        raise RegistryError(f"no local registry at {db}: run python -m pipeline.local first or pass --work-dir")
    return LocalRegistry(db, readonly=readonly)


def check_group_exists(registry: ModelRegistry, group: str) -> None:
    if group not in registry.list_groups():
        raise RegistryError(f"no model package group {group!r}; see: {PROG} list")


def target_arn(registry: ModelRegistry, command: str, *, group: str | None = None, version: int | None = None,
               arn: str | None = None) -> str:
    """The ARN of the version ``command`` acts on: ``arn``, or ``group``'s ``version``, or the default
    version of ``command`` (describe: the latest; baseline: the latest Approved)."""
    if arn:
        if group:
            raise RegistryError("give --arn or --group/--version, not both")
        parse_arn(arn)
        return arn
    if not group:
        raise RegistryError(f"{command} needs --arn or --group")
    check_group_exists(registry, group)
    if version is not None:
        return registry.describe(f"{group}/{version}")["ModelPackageArn"]
    if command in REVIEWS:
        raise RegistryError(f"{command} needs an explicit --version (or --arn)")
    if command == "baseline":
        champion = registry.latest_approved(group)
        if champion is None:
            raise RegistryError(f"group {group!r} has no Approved version: pass --version")
        return champion["ModelPackageArn"]
    return registry.latest_version_arn(group)


def drift_baseline(package: Mapping[str, Any]) -> dict[str, str]:
    """The data-quality baseline a version was registered with (its DriftCheckBaselines).

    >>> drift_baseline({"ModelPackageArn": "arn", "DriftCheckBaselines": {"ModelDataQuality": {
    ...     "Statistics": {"S3Uri": "s3://b/run/baseline/statistics.json"},
    ...     "Constraints": {"S3Uri": "s3://b/run/baseline/constraints.json"}}}})["BaselineUrl"]
    's3://b/run/baseline/'
    """
    section = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    statistics = (section.get("Statistics") or {}).get("S3Uri")
    constraints = (section.get("Constraints") or {}).get("S3Uri")
    if not statistics or not constraints:
        raise RegistryError(
            f"{package['ModelPackageArn']} has no data-quality DriftCheckBaselines: register it with this pipeline, "
            "or write one with python -m pipeline.monitor baseline"
        )
    folder = statistics.rsplit("/", 1)[0] + "/"
    if constraints.rsplit("/", 1)[0] + "/" != folder:
        raise RegistryError(f"{package['ModelPackageArn']}: statistics and constraints are in different folders")
    return {"ModelPackageArn": package["ModelPackageArn"], "BaselineUrl": folder,
            "Statistics": statistics, "Constraints": constraints}


def listing(packages: Sequence[Mapping[str, Any]]) -> str:
    """One line a version under a header line, in aligned columns.

    >>> print(listing([{"ModelPackageGroupName": "churn", "ModelPackageVersion": 1, "ModelApprovalStatus":
    ...     "Approved", "CreationTime": "2026-01-01T00:00:00+00:00", "ModelPackageArn": "arn:...:churn/1"}]))
    GROUP  VERSION  STATUS    CREATED                    ARN
    churn  v1       Approved  2026-01-01T00:00:00+00:00  arn:...:churn/1
    """
    rows = [LIST_COLUMNS] + [
        (p["ModelPackageGroupName"], f"v{p['ModelPackageVersion']}", p["ModelApprovalStatus"], str(p["CreationTime"]),
         p["ModelPackageArn"]) for p in packages
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(LIST_COLUMNS) - 1)]
    return "\n".join("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]) for row in rows)


def record_text(record: Mapping[str, Any]) -> str:
    """A record as ``key  value`` lines (nested values as JSON)."""
    width = max(map(len, record), default=0)
    return "\n".join(
        f"{key:<{width}}  {value if isinstance(value, (str, int, float)) else json.dumps(value, default=str)}"
        for key, value in record.items()
    )


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of flags, before any registry is opened."""
    if args.version is not None and not 1 <= args.version <= VERSION_MAX:
        return f"--version {args.version} out of range: versions are 1-{VERSION_MAX}"
    if args.version is not None and not args.group:
        return "--version needs --group"
    if (args.reason is not None or args.by is not None or args.force) and args.command not in REVIEWS:
        return "--reason, --by and --force apply to approve and reject"
    if args.command == "list" and (args.version is not None or args.arn):
        return "list takes --group only; use describe for one version"
    return None


def _print(record: Any, output: str, text: str) -> None:
    print(json.dumps(record, indent=2, default=str) if output == "json" else text)


def _run(args: argparse.Namespace) -> None:
    """Carry out one parsed command (RegistryError or AwsError when it cannot)."""
    problem = _usage_problem(args)
    if problem:
        raise RegistryError(problem)
    if args.group:
        check_group(args.group)
    if args.command in REVIEWS:
        # The rules that need no package are checked before anything is looked up.
        check_request(approve=args.command == "approve", reason=args.reason, force=args.force)
        if args.by is not None:
            check_reviewer(args.by)
    registry = open_registry(args.backend, work_dir=args.work_dir, region=args.region,
                             readonly=args.command not in REVIEWS)
    if args.command == "list":
        if args.group:
            check_group_exists(registry, args.group)
        packages = registry.list_packages(args.group)
        _print({"ModelPackageSummaryList": packages}, args.output, listing(packages))
        return
    arn = target_arn(registry, args.command, group=args.group, version=args.version, arn=args.arn)
    if args.command == "describe":
        record = registry.describe(arn)
        _print(record, args.output, record_text(record))
    elif args.command == "baseline":
        found = drift_baseline(registry.describe(arn))
        _print(found, args.output, found["BaselineUrl"])
    else:
        by = args.by or reviewer(registry.caller_identity())
        record = registry.review(arn, approve=args.command == "approve", by=by, reason=args.reason, force=args.force)
        _print(record, args.output, f"{record['ModelPackageArn']}: {record['ModelApprovalStatus']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _run(args)
    except RegistryError as error:
        return _fail(error, 2)
    except AwsError as error:
        return _fail(error, 1)
    except Exception as error:  # botocore's credential/endpoint errors: one line, not a traceback
        if type(error).__module__.startswith("botocore"):
            return _fail(f"{type(error).__name__}: {error}", 1)
        raise
    return 0


def _fail(error: object, code: int) -> int:
    print("error: " + " ".join(str(error).split()), file=sys.stderr)  # one line, whatever the message held
    return code

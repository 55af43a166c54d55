"""The Model Registry, locally (SQLite) or in SageMaker (boto3), behind one interface and one CLI.

    python -m pipeline.registry list     [--group G] [--work-dir D | --backend sagemaker --region R]
    python -m pipeline.registry describe (--arn ARN | --group G [--version N]) [--output json]
    python -m pipeline.registry approve  (--arn ARN | --group G --version N) [--reason TEXT]
    python -m pipeline.registry reject   (--arn ARN | --group G --version N) [--reason TEXT]

Records use DescribeModelPackage's field names, so scripts work against either backend.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import re
import sqlite3
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from pipeline.config import MODEL_PACKAGE_GROUP_RE

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
LOCAL_ACCOUNT = "000000000000"
_ARN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:\d{12}:model-package/([^/]+)/(\d+)$")


class RegistryError(ValueError):
    """Unknown group/version, bad status or name; the message says which."""


def _clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    # The SDK emits empty sections ("Bias": {}); keep only sections that point at something.
    return {k: v for k, v in (metrics or {}).items() if v}


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(f"bad approval status {status!r}: use one of {', '.join(APPROVAL_STATUSES)}")


def _check_group(group: str) -> None:
    if not isinstance(group, str) or not MODEL_PACKAGE_GROUP_RE.match(group):
        raise RegistryError(f"bad model package group name {group!r}: letters, digits and hyphens, at most 63")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


class _Registry:
    """What both backends share; each implements register, describe, list_packages, list_groups and
    update_approval with the same signatures and DescribeModelPackage-shaped records."""

    def list_packages(self, group: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def latest_version_arn(self, group: str) -> str:
        packages = self.list_packages(group)
        if not packages:
            raise RegistryError(f"model package group {group!r} has no versions")
        return packages[-1]["ModelPackageArn"]

    def latest_approved(self, group: str) -> dict[str, Any] | None:
        approved = [p for p in self.list_packages(group) if p["ModelApprovalStatus"] == "Approved"]
        return approved[-1] if approved else None



class LocalRegistry(_Registry):
    """SQLite registry; versions are numbered per group inside one write transaction, so parallel
    registrations never share or skip a number."""

    def __init__(self, path: str | Path, *, region: str = "us-east-1") -> None:
        self.path = Path(path)
        self.region = region
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS groups (
                    name TEXT PRIMARY KEY, created REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS packages (
                    group_name TEXT NOT NULL REFERENCES groups(name),
                    version INTEGER NOT NULL,
                    approval_status TEXT NOT NULL,
                    approval_description TEXT,
                    description TEXT,
                    created REAL NOT NULL,
                    modified REAL NOT NULL,
                    model_data_url TEXT NOT NULL,
                    image TEXT NOT NULL,
                    environment TEXT NOT NULL,
                    content_types TEXT NOT NULL,
                    response_types TEXT NOT NULL,
                    model_metrics TEXT NOT NULL,
                    drift_check_baselines TEXT,
                    customer_metadata TEXT NOT NULL,
                    PRIMARY KEY (group_name, version));
                """
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: each statement commits, except inside the explicit BEGIN of register().
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 60000")
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    def _arn(self, group: str, version: int) -> str:
        return f"arn:aws:sagemaker:{self.region}:{LOCAL_ACCOUNT}:model-package/{group}/{version}"

    def register(
        self,
        group: str,
        *,
        model_data_url: str,
        image_uri: str,
        approval_status: str = "PendingManualApproval",
        model_metrics: Mapping[str, Any] | None = None,
        drift_check_baselines: Mapping[str, Any] | None = None,
        description: str | None = None,
        customer_metadata: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        content_types: Sequence[str] | None = None,
        response_types: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Add the next version of ``group`` (created if new); returns its description."""
        _check_group(group)
        _check_status(approval_status)
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # take the write lock before reading the last version
            db.execute("INSERT OR IGNORE INTO groups (name, created) VALUES (?, ?)", (group, now))
            (version,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM packages WHERE group_name = ?", (group,)
            ).fetchone()
            db.execute(
                "INSERT INTO packages VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    group, version, approval_status, description, now, now, model_data_url, image_uri,
                    json.dumps(dict(environment or {})), json.dumps(list(content_types or ["text/csv"])),
                    json.dumps(list(response_types or ["text/csv"])), json.dumps(_clean_metrics(model_metrics)),
                    json.dumps(_clean_metrics(drift_check_baselines)) if drift_check_baselines else None,
                    json.dumps(dict(customer_metadata or {})),
                ),
            )
            db.execute("COMMIT")
        return self.describe(self._arn(group, version))

    def _describe_row(self, row: sqlite3.Row) -> dict[str, Any]:
        record = {
            "ModelPackageGroupName": row["group_name"],
            "ModelPackageVersion": row["version"],
            "ModelPackageArn": self._arn(row["group_name"], row["version"]),
            "ModelPackageDescription": row["description"],
            "CreationTime": _iso(row["created"]),
            "LastModifiedTime": _iso(row["modified"]),
            "InferenceSpecification": {
                "Containers": [{
                    "Image": row["image"],
                    "ModelDataUrl": row["model_data_url"],
                    "Environment": json.loads(row["environment"]),
                }],
                "SupportedContentTypes": json.loads(row["content_types"]),
                "SupportedResponseMIMETypes": json.loads(row["response_types"]),
            },
            "ModelPackageStatus": "Completed",
            "ModelApprovalStatus": row["approval_status"],
            "ModelMetrics": json.loads(row["model_metrics"]),
            "CustomerMetadataProperties": json.loads(row["customer_metadata"]),
        }
        if row["approval_description"]:
            record["ApprovalDescription"] = row["approval_description"]
        if row["drift_check_baselines"]:
            record["DriftCheckBaselines"] = json.loads(row["drift_check_baselines"])
        return {k: v for k, v in record.items() if v is not None}

    def describe(self, arn: str) -> dict[str, Any]:
        group, version = parse_arn(arn)
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM packages WHERE group_name = ? AND version = ?", (group, version)
            ).fetchone()
        if row is None:
            raise RegistryError(f"no model package {arn}")
        return self._describe_row(row)

    def list_packages(self, group: str | None = None) -> list[dict[str, Any]]:
        """Every version (of ``group``, or of all groups), oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM packages WHERE (? IS NULL OR group_name = ?) ORDER BY group_name, version",
                (group, group),
            ).fetchall()
        return [self._describe_row(r) for r in rows]

    def list_groups(self) -> list[str]:
        with self._connect() as db:
            return [r["name"] for r in db.execute("SELECT name FROM groups ORDER BY name")]

    def update_approval(self, arn: str, status: str, description: str | None = None) -> dict[str, Any]:
        _check_status(status)
        group, version = parse_arn(arn)
        with self._connect() as db:
            changed = db.execute(
                "UPDATE packages SET approval_status = ?, approval_description = ?, modified = ? "
                "WHERE group_name = ? AND version = ?",
                (status, description, time.time(), group, version),
            ).rowcount
        if not changed:
            raise RegistryError(f"no model package {arn}")
        return self.describe(arn)


class SageMakerRegistry(_Registry):
    """The same interface over the SageMaker Model Registry (boto3)."""

    def __init__(self, client) -> None:
        self.client = client

    def register(
        self,
        group: str,
        *,
        model_data_url: str,
        image_uri: str,
        approval_status: str = "PendingManualApproval",
        model_metrics: Mapping[str, Any] | None = None,
        drift_check_baselines: Mapping[str, Any] | None = None,
        description: str | None = None,
        customer_metadata: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        content_types: Sequence[str] | None = None,
        response_types: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        _check_group(group)
        _check_status(approval_status)
        if group not in self.list_groups():
            self.client.create_model_package_group(ModelPackageGroupName=group)
        container = {"Image": image_uri, "ModelDataUrl": model_data_url}
        if environment:
            container["Environment"] = dict(environment)
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": approval_status,
            "InferenceSpecification": {
                "Containers": [container],
                "SupportedContentTypes": list(content_types or ["text/csv"]),
                "SupportedResponseMIMETypes": list(response_types or ["text/csv"]),
            },
        }
        if description:
            request["ModelPackageDescription"] = description
        if _clean_metrics(model_metrics):
            request["ModelMetrics"] = _clean_metrics(model_metrics)
        if drift_check_baselines:
            request["DriftCheckBaselines"] = _clean_metrics(drift_check_baselines)
        if customer_metadata:
            request["CustomerMetadataProperties"] = dict(customer_metadata)
        arn = self.client.create_model_package(**request)["ModelPackageArn"]
        return self.describe(arn)

    def describe(self, arn: str) -> dict[str, Any]:
        try:
            response = self.client.describe_model_package(ModelPackageName=arn)
        except self.client.exceptions.ClientError as error:
            raise RegistryError(f"no model package {arn} ({error.response['Error'].get('Message', '')})") from None
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    def list_packages(self, group: str | None = None) -> list[dict[str, Any]]:
        groups = [group] if group else self.list_groups()
        packages = []
        for name in groups:
            paginator = self.client.get_paginator("list_model_packages")
            for page in paginator.paginate(ModelPackageGroupName=name):
                packages += [self.describe(s["ModelPackageArn"]) for s in page["ModelPackageSummaryList"]]
        return sorted(packages, key=lambda p: (p["ModelPackageGroupName"], p["ModelPackageVersion"]))

    def list_groups(self) -> list[str]:
        paginator = self.client.get_paginator("list_model_package_groups")
        return sorted(
            g["ModelPackageGroupName"] for page in paginator.paginate() for g in page["ModelPackageGroupSummaryList"]
        )

    def update_approval(self, arn: str, status: str, description: str | None = None) -> dict[str, Any]:
        _check_status(status)
        self.describe(arn)
        request = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
        if description:
            request["ApprovalDescription"] = description
        self.client.update_model_package(**request)
        return self.describe(arn)


def parse_arn(arn: str) -> tuple[str, int]:
    """``arn:...:model-package/<group>/<version>`` → (group, version).

    >>> parse_arn("arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/3")
    ('churn', 3)
    """
    match = _ARN.match(arn or "")
    if not match:
        raise RegistryError(f"bad model package ARN {arn!r}: expected arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>")
    return match.group(1), int(match.group(2))


# --- CLI ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.registry", description="Inspect and approve model packages.")
    parser.add_argument("command", choices=("list", "describe", "approve", "reject"))
    parser.add_argument("--backend", choices=("local", "sagemaker"), default="local", help="default local")
    parser.add_argument("--work-dir", default=".local-sagemaker", help="local backend: folder of registry.db")
    parser.add_argument("--region", help="sagemaker backend: AWS region")
    parser.add_argument("--group", help="model package group")
    parser.add_argument("--version", type=int, help="version within --group (default: the latest)")
    parser.add_argument("--arn", help="model package ARN (instead of --group/--version)")
    parser.add_argument("--reason", help="approve/reject: why (stored as the approval description)")
    parser.add_argument("--output", choices=("text", "json"), default="text")
    return parser


def _open(args) -> LocalRegistry | SageMakerRegistry:
    if args.backend == "sagemaker":
        import boto3

        if not args.region:
            raise RegistryError("--backend sagemaker needs --region")
        return SageMakerRegistry(boto3.client("sagemaker", region_name=args.region))
    db = Path(args.work_dir) / "registry.db"
    if not db.exists():
        raise RegistryError(f"no local registry at {db}: run python -m pipeline.local first or pass --work-dir")
    return LocalRegistry(db)


def _target(args, registry) -> str:
    if args.arn:
        if args.group or args.version:
            raise RegistryError("give --arn or --group/--version, not both")
        return args.arn
    if not args.group:
        raise RegistryError(f"{args.command} needs --arn or --group")
    _check_group(args.group)
    if args.version is None:
        if args.command in ("approve", "reject"):
            raise RegistryError(f"{args.command} needs an explicit --version (or --arn)")
        return registry.latest_version_arn(args.group)
    region = getattr(registry, "region", None)
    if region:
        return f"arn:aws:sagemaker:{region}:{LOCAL_ACCOUNT}:model-package/{args.group}/{args.version}"
    packages = [p for p in registry.list_packages(args.group) if p["ModelPackageVersion"] == args.version]
    if not packages:
        raise RegistryError(f"group {args.group!r} has no version {args.version}")
    return packages[0]["ModelPackageArn"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.version is not None and args.version < 1:
            raise RegistryError("--version starts at 1")
        if args.group:
            _check_group(args.group)
        registry = _open(args)
        if args.command == "list":
            packages = registry.list_packages(args.group)
            if args.output == "json":
                print(json.dumps({"ModelPackageSummaryList": packages}, indent=2, default=str))
            else:
                for p in packages:
                    print(f"{p['ModelPackageGroupName']:<30} v{p['ModelPackageVersion']:<4} "
                          f"{p['ModelApprovalStatus']:<22} {p['CreationTime']}  {p['ModelPackageArn']}")
            return 0
        arn = _target(args, registry)
        if args.command == "describe":
            record = registry.describe(arn)
        else:
            status = "Approved" if args.command == "approve" else "Rejected"
            record = registry.update_approval(arn, status, args.reason)
        if args.output == "json" or args.command == "describe":
            print(json.dumps(record, indent=2, default=str))
        else:
            print(f"{record['ModelPackageArn']}: {record['ModelApprovalStatus']}")
        return 0
    except RegistryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The Model Registry, locally (SQLite) or in SageMaker (boto3), behind one interface and one CLI.

    python -m pipeline.registry list     [--group G] [--output text|json]
    python -m pipeline.registry describe (--arn ARN | --group G [--version N]) [--output text|json]
    python -m pipeline.registry approve  (--arn ARN | --group G --version N) [--reason TEXT]
    python -m pipeline.registry reject   (--arn ARN | --group G --version N) [--reason TEXT]
    common options: --backend local|sagemaker, --work-dir DIR (local, default .local-sagemaker), --region R

Records use DescribeModelPackage's field names (ModelPackageGroupName, ModelPackageVersion,
ModelPackageArn, ModelApprovalStatus, ...), so scripts work against either backend. Exit codes: 0 done,
2 bad usage or an unknown group/version/ARN (one line on stderr), 1 the AWS call failed.
"""
from __future__ import annotations

import abc
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
DEFAULT_REGION = "us-east-1"
DEFAULT_WORK_DIR = ".local-sagemaker"
# ModelMetrics sections and the reports each may hold (CreateModelPackage's MetricsSource fields).
METRIC_SECTIONS = {
    "ModelQuality": ("Statistics", "Constraints"),
    "ModelDataQuality": ("Statistics", "Constraints"),
    "Bias": ("Report", "PreTrainingReport", "PostTrainingReport"),
    "Explainability": ("Report",),
}
_ARN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:([a-z0-9\-]+):(\d{12}):model-package/([^/]+)/(\d+)$")
_GROUP_VERSION = re.compile(r"^([^/:]+)/(\d+)$")


class RegistryError(ValueError):
    """Unknown group/version, bad status or name; the message says which."""


def parse_arn(arn: str) -> tuple[str, int]:
    """``arn:...:model-package/<group>/<version>`` → (group, version).

    >>> parse_arn("arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/3")
    ('churn', 3)
    """
    match = _ARN.match(arn if isinstance(arn, str) else "")
    if not match:
        raise RegistryError(
            f"bad model package ARN {arn!r}: expected arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"
        )
    return match.group(3), int(match.group(4))


def _clean_metrics(metrics: Mapping[str, Any] | None, what: str = "ModelMetrics") -> dict[str, Any]:
    """Known sections with their reports ({ContentType, S3Uri}); empty sections (the SDK emits
    ``"Bias": {}``) are dropped."""
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise RegistryError(f"{what} must be a mapping of sections, not {type(metrics).__name__}")
    cleaned = {}
    for section, reports in metrics.items():
        if section not in METRIC_SECTIONS:
            raise RegistryError(f"unknown {what} section {section!r}: use {', '.join(METRIC_SECTIONS)}")
        reports = {k: v for k, v in (reports or {}).items() if v}
        for name, source in reports.items():
            if name not in METRIC_SECTIONS[section]:
                raise RegistryError(f"{what}.{section} has no {name!r}: use {', '.join(METRIC_SECTIONS[section])}")
            if not isinstance(source, Mapping) or not {"ContentType", "S3Uri"} <= set(source):
                raise RegistryError(f"{what}.{section}.{name} needs ContentType and S3Uri")
        if reports:
            cleaned[section] = {k: dict(v) for k, v in reports.items()}
    return cleaned


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(f"bad approval status {status!r}: use one of {', '.join(APPROVAL_STATUSES)}")


def _check_group(group: str) -> None:
    if not isinstance(group, str) or not MODEL_PACKAGE_GROUP_RE.match(group):
        raise RegistryError(f"bad model package group name {group!r}: letters, digits and hyphens, at most 63")


def _check_package(model_data_url: str, image_uri: str, customer_metadata: Mapping[str, str] | None) -> None:
    if not isinstance(model_data_url, str) or not re.match(r"^(s3|https)://[^/]+/.+", model_data_url):
        raise RegistryError(f"bad model data URL {model_data_url!r}: an s3:// (or https://) URL of model.tar.gz")
    if not isinstance(image_uri, str) or not image_uri.strip():
        raise RegistryError(f"bad image URI {image_uri!r}: the inference container image")
    for key, value in (customer_metadata or {}).items():
        if not (isinstance(key, str) and isinstance(value, str) and 1 <= len(key) <= 128 and len(value) <= 256):
            raise RegistryError(
                f"bad customer metadata {key!r}: {value!r}: keys and values are strings (1-128 and 0-256 characters)"
            )


def _metadata_text(text: str) -> str:
    """A CustomerMetadataProperties value: allowed characters only, 1-256 of them."""
    cleaned = re.sub(r"\s+", " ", re.sub(r"[^\w\s.:/=+\-@]", "", text)).strip()
    return cleaned[:256] or "unknown"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


class ModelRegistry(abc.ABC):
    """The interface of both backends; records are shaped like DescribeModelPackage's response."""

    @abc.abstractmethod
    def register(self, group: str, *, model_data_url: str, image_uri: str,
                 approval_status: str = "PendingManualApproval", model_metrics: Mapping[str, Any] | None = None,
                 drift_check_baselines: Mapping[str, Any] | None = None, description: str | None = None,
                 customer_metadata: Mapping[str, str] | None = None, environment: Mapping[str, str] | None = None,
                 content_types: Sequence[str] | None = None,
                 response_types: Sequence[str] | None = None) -> dict[str, Any]:
        """Add the next version to ``group`` (created if new); returns its description."""

    @abc.abstractmethod
    def create_group(self, group: str, description: str | None = None) -> dict[str, Any]:
        """Create an empty model package group (RegistryError if it exists)."""

    @abc.abstractmethod
    def list_groups(self) -> list[str]:
        """Names of every model package group, sorted."""

    @abc.abstractmethod
    def list_packages(self, group: str | None = None) -> list[dict[str, Any]]:
        """Every version (of ``group``, or of all groups), by group then version."""

    @abc.abstractmethod
    def describe(self, ref: str) -> dict[str, Any]:
        """One version, by ARN or ``"<group>/<version>"``."""

    @abc.abstractmethod
    def update_approval(self, ref: str, status: str, description: str | None = None,
                        metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Set ModelApprovalStatus (and ApprovalDescription; ``metadata`` is merged into
        CustomerMetadataProperties); returns the new description."""

    def review(self, ref: str, *, approve: bool, by: str, reason: str | None, force: bool = False) -> dict[str, Any]:
        """Approve or reject a version, recording who and why in its ApprovalDescription and metadata.

        Approval needs the version's recorded gate decision (``gate_passed=true``); ``force`` overrides a
        failed or missing decision, and then a reason is required and the override is recorded.
        """
        if not by or not by.strip():
            raise RegistryError("say who reviews: --by NAME")
        package = self.describe(ref)
        metadata = package.get("CustomerMetadataProperties") or {}
        gate_passed = metadata.get("gate_passed")
        forced = False
        if approve and gate_passed != "true":
            what = "failed its quality gate" if gate_passed == "false" else "has no recorded quality-gate decision"
            checks = f" ({metadata['gate_checks']})" if metadata.get("gate_checks") else ""
            if not force:
                raise RegistryError(
                    f"{package['ModelPackageArn']} {what}{checks}: not approved; to override, pass --force "
                    "with --reason (the override is recorded on the package)"
                )
            if not reason:
                raise RegistryError("--force needs --reason: say why the gate is overridden")
            forced = True
        if force and not forced:
            raise RegistryError("--force only applies to approving a version whose gate did not pass")
        verb = "Approved" if approve else "Rejected"
        text = f"{verb} by {by.strip()} at {_iso(time.time())}" + (f": {reason}" if reason else "")
        if forced:
            text += f" [FORCED: the quality gate did not pass: {metadata.get('gate_checks', 'no gate decision recorded')}]"
        return self.update_approval(
            package["ModelPackageArn"], verb if approve else "Rejected", text[:1024],
            metadata={"review_by": _metadata_text(by), "review_forced": "true" if forced else "false"},
        )

    def latest_version_arn(self, group: str) -> str:
        packages = self.list_packages(group)
        if not packages:
            raise RegistryError(f"model package group {group!r} has no versions")
        return packages[-1]["ModelPackageArn"]

    def latest_approved(self, group: str) -> dict[str, Any] | None:
        """The champion of ``group`` (or None), by the one definition the champion function uses."""
        from pipeline.lambdas import champions

        try:
            return champions.latest_approved(self.sagemaker_client(), group)
        except champions.ChampionLookupError as error:
            raise _AwsError(str(error)) from None

    @abc.abstractmethod
    def sagemaker_client(self):
        """A boto3-shaped ``sagemaker`` client over this registry (what the champion lookup reads)."""


# --- SQLite ------------------------------------------------------------------------------------------------


class LocalRegistry(ModelRegistry):
    """SQLite registry at ``path``. A version number is taken inside the write transaction that stores
    it (BEGIN IMMEDIATE), and (group, version) is the primary key, so parallel registrations from any
    number of processes never share, skip or lose a number."""

    def __init__(self, path: str | Path, *, region: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                db.execute(statement)
            if "description" not in {row["name"] for row in db.execute("PRAGMA table_info(groups)")}:
                db.execute("ALTER TABLE groups ADD COLUMN description TEXT")  # registries made by older versions
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('region', ?)", (region or DEFAULT_REGION,))
            (stored,) = db.execute("SELECT value FROM meta WHERE key = 'region'").fetchone()
            db.execute("COMMIT")
        if region and region != stored:
            raise RegistryError(f"{self.path} holds packages of region {stored}, not {region}; use another work dir")
        self.region = stored

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: each statement commits, except inside an explicit BEGIN.
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 60000")
            db.row_factory = sqlite3.Row
            yield db
        except sqlite3.DatabaseError as error:
            raise RegistryError(f"{self.path}: not a usable registry database ({error})") from None
        finally:
            db.close()

    def sagemaker_client(self):
        from pipeline.local.sagemaker_api import LocalSageMakerApi

        return LocalSageMakerApi(self)

    def _arn(self, group: str, version: int) -> str:
        return f"arn:aws:sagemaker:{self.region}:{LOCAL_ACCOUNT}:model-package/{group}/{version}"

    def _group_arn(self, group: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{LOCAL_ACCOUNT}:model-package-group/{group}"

    def _key(self, ref: str) -> tuple[str, int]:
        """(group, version) of an ARN of this registry or of ``"<group>/<version>"``."""
        match = _GROUP_VERSION.match(ref) if isinstance(ref, str) else None
        if match:
            return match.group(1), int(match.group(2))
        group, version = parse_arn(ref)
        region, account = _ARN.match(ref).group(1, 2)
        if (region, account) != (self.region, LOCAL_ACCOUNT):
            raise RegistryError(f"no model package {ref} (the local registry is {self.region}/{LOCAL_ACCOUNT})")
        return group, version

    def register(self, group: str, *, model_data_url: str, image_uri: str,
                 approval_status: str = "PendingManualApproval", model_metrics: Mapping[str, Any] | None = None,
                 drift_check_baselines: Mapping[str, Any] | None = None, description: str | None = None,
                 customer_metadata: Mapping[str, str] | None = None, environment: Mapping[str, str] | None = None,
                 content_types: Sequence[str] | None = None,
                 response_types: Sequence[str] | None = None) -> dict[str, Any]:
        _check_group(group)
        _check_status(approval_status)
        _check_package(model_data_url, image_uri, customer_metadata)
        metrics = json.dumps(_clean_metrics(model_metrics))
        baselines = _clean_metrics_like(drift_check_baselines)
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # the write lock first: nobody else can read the same last version
            try:
                db.execute("INSERT OR IGNORE INTO groups (name, created) VALUES (?, ?)", (group, now))
                (version,) = db.execute(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM packages WHERE group_name = ?", (group,)
                ).fetchone()
                db.execute(
                    "INSERT INTO packages (group_name, version, approval_status, description, created, modified, "
                    "model_data_url, image, environment, content_types, response_types, model_metrics, "
                    "drift_check_baselines, customer_metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        group, version, approval_status, description, now, now, model_data_url, image_uri,
                        json.dumps(dict(environment or {})), json.dumps(list(content_types or ["text/csv"])),
                        json.dumps(list(response_types or ["text/csv"])), metrics, baselines,
                        json.dumps(dict(customer_metadata or {})),
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return self.describe(self._arn(group, version))

    def create_group(self, group: str, description: str | None = None) -> dict[str, Any]:
        _check_group(group)
        with self._connect() as db:
            try:
                db.execute("INSERT INTO groups (name, created, description) VALUES (?, ?, ?)",
                           (group, time.time(), description))
            except sqlite3.IntegrityError:
                raise RegistryError(f"model package group {group!r} already exists") from None
        return self.describe_group(group)

    def describe_group(self, group: str) -> dict[str, Any]:
        """DescribeModelPackageGroup-shaped record of ``group``."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM groups WHERE name = ?", (group,)).fetchone()
        if row is None:
            raise RegistryError(f"no model package group {group!r}")
        record = {
            "ModelPackageGroupName": row["name"],
            "ModelPackageGroupArn": self._group_arn(row["name"]),
            "ModelPackageGroupDescription": row["description"],
            "CreationTime": _iso(row["created"]),
            "ModelPackageGroupStatus": "Completed",
        }
        return {k: v for k, v in record.items() if v is not None}

    def _describe_row(self, row: sqlite3.Row) -> dict[str, Any]:
        record = {
            "ModelPackageGroupName": row["group_name"],
            "ModelPackageVersion": row["version"],
            "ModelPackageArn": self._arn(row["group_name"], row["version"]),
            "ModelPackageName": row["group_name"],
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
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": False,
            "ModelApprovalStatus": row["approval_status"],
            "ApprovalDescription": row["approval_description"],
            "ModelMetrics": json.loads(row["model_metrics"]),
            "CustomerMetadataProperties": json.loads(row["customer_metadata"]),
            "DriftCheckBaselines": json.loads(row["drift_check_baselines"]) if row["drift_check_baselines"] else None,
        }
        return {k: v for k, v in record.items() if v is not None}

    def describe(self, ref: str) -> dict[str, Any]:
        group, version = self._key(ref)
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM packages WHERE group_name = ? AND version = ?", (group, version)
            ).fetchone()
        if row is None:
            raise RegistryError(f"no model package {self._arn(group, version)} (group {group!r} has no version {version})")
        return self._describe_row(row)

    def list_packages(self, group: str | None = None) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM packages WHERE (? IS NULL OR group_name = ?) ORDER BY group_name, version",
                (group, group),
            ).fetchall()
        return [self._describe_row(r) for r in rows]

    def list_groups(self) -> list[str]:
        with self._connect() as db:
            return [r["name"] for r in db.execute("SELECT name FROM groups ORDER BY name")]

    def update_approval(self, ref: str, status: str, description: str | None = None,
                        metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
        _check_status(status)
        group, version = self._key(ref)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # read-modify-write of the metadata under the write lock
            try:
                row = db.execute("SELECT customer_metadata FROM packages WHERE group_name = ? AND version = ?",
                                 (group, version)).fetchone()
                merged = {**json.loads(row["customer_metadata"]), **dict(metadata or {})} if row else {}
                changed = db.execute(
                    "UPDATE packages SET approval_status = ?, approval_description = ?, customer_metadata = ?, "
                    "modified = ? WHERE group_name = ? AND version = ?",
                    (status, description, json.dumps(merged), time.time(), group, version),
                ).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if not changed:
            raise RegistryError(f"no model package {self._arn(group, version)} (group {group!r} has no version {version})")
        return self.describe(self._arn(group, version))


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, created REAL NOT NULL, description TEXT)",
    """CREATE TABLE IF NOT EXISTS packages (
        group_name TEXT NOT NULL REFERENCES groups(name),
        version INTEGER NOT NULL CHECK (version >= 1),
        approval_status TEXT NOT NULL CHECK (approval_status IN ('Approved', 'Rejected', 'PendingManualApproval')),
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
        PRIMARY KEY (group_name, version))""",
)


def _clean_metrics_like(baselines: Mapping[str, Any] | None) -> str | None:
    # DriftCheckBaselines has its own sections (Bias, Explainability, ModelQuality, ModelDataQuality);
    # kept as given, minus empty sections.
    cleaned = {k: v for k, v in (baselines or {}).items() if v}
    return json.dumps(cleaned) if cleaned else None


# --- SageMaker ----------------------------------------------------------------------------------------------


class SageMakerRegistry(ModelRegistry):
    """The same interface over the SageMaker Model Registry (boto3 ``sagemaker`` client)."""

    def __init__(self, client=None, *, region: str | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("sagemaker", region_name=region)
        self.client = client

    def sagemaker_client(self):
        return self.client

    def _call(self, method: str, **request) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            response = getattr(self.client, method)(**request)
        except ClientError as error:
            detail = error.response.get("Error", {})
            raise _AwsError(f"{method}: {detail.get('Code', 'ClientError')}: {detail.get('Message', error)}") from None
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    def _arn(self, ref: str) -> str:
        match = _GROUP_VERSION.match(ref) if isinstance(ref, str) else None
        if not match:
            parse_arn(ref)
            return ref
        group, version = match.group(1), int(match.group(2))
        for package in self.list_packages(group):
            if package["ModelPackageVersion"] == version:
                return package["ModelPackageArn"]
        raise RegistryError(f"no model package {ref} (group {group!r} has no version {version})")

    def register(self, group: str, *, model_data_url: str, image_uri: str,
                 approval_status: str = "PendingManualApproval", model_metrics: Mapping[str, Any] | None = None,
                 drift_check_baselines: Mapping[str, Any] | None = None, description: str | None = None,
                 customer_metadata: Mapping[str, str] | None = None, environment: Mapping[str, str] | None = None,
                 content_types: Sequence[str] | None = None,
                 response_types: Sequence[str] | None = None) -> dict[str, Any]:
        _check_group(group)
        _check_status(approval_status)
        _check_package(model_data_url, image_uri, customer_metadata)
        metrics = _clean_metrics(model_metrics)
        if group not in self.list_groups():
            with contextlib.suppress(_AwsError):  # another process may create it first; that is fine
                self._call("create_model_package_group", ModelPackageGroupName=group)
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
        if metrics:
            request["ModelMetrics"] = metrics
        if baselines := {k: v for k, v in (drift_check_baselines or {}).items() if v}:
            request["DriftCheckBaselines"] = baselines
        if customer_metadata:
            request["CustomerMetadataProperties"] = dict(customer_metadata)
        arn = self._call("create_model_package", **request)["ModelPackageArn"]
        return self.describe(arn)

    def create_group(self, group: str, description: str | None = None) -> dict[str, Any]:
        _check_group(group)
        if group in self.list_groups():
            raise RegistryError(f"model package group {group!r} already exists")
        request = {"ModelPackageGroupName": group}
        if description:
            request["ModelPackageGroupDescription"] = description
        self._call("create_model_package_group", **request)
        return self._call("describe_model_package_group", ModelPackageGroupName=group)

    def describe(self, ref: str) -> dict[str, Any]:
        arn = self._arn(ref)
        try:
            return self._call("describe_model_package", ModelPackageName=arn)
        except _AwsError as error:
            raise RegistryError(f"no model package {arn} ({error})") from None

    def list_packages(self, group: str | None = None) -> list[dict[str, Any]]:
        packages = []
        for name in [group] if group else self.list_groups():
            paginator = self.client.get_paginator("list_model_packages")
            for page in paginator.paginate(ModelPackageGroupName=name):
                packages += [self.describe(s["ModelPackageArn"]) for s in page["ModelPackageSummaryList"]]
        return sorted(packages, key=lambda p: (p["ModelPackageGroupName"], p["ModelPackageVersion"]))

    def list_groups(self) -> list[str]:
        paginator = self.client.get_paginator("list_model_package_groups")
        return sorted(
            g["ModelPackageGroupName"] for page in paginator.paginate() for g in page["ModelPackageGroupSummaryList"]
        )

    def update_approval(self, ref: str, status: str, description: str | None = None,
                        metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
        _check_status(status)
        arn = self.describe(ref)["ModelPackageArn"]
        request: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
        if description:
            request["ApprovalDescription"] = description
        if metadata:
            request["CustomerMetadataProperties"] = dict(metadata)
        self._call("update_model_package", **request)
        return self.describe(arn)


class _AwsError(RuntimeError):
    """A SageMaker call failed (one line: operation, error code, message)."""


# --- CLI ----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.registry",
        description="List, describe, approve and reject model packages (local SQLite registry or SageMaker).",
    )
    parser.add_argument("command", choices=("list", "describe", "approve", "reject", "baseline"),
                        help="baseline: print the drift-check baseline folder of a version (default: the latest "
                             "Approved one), to pass to the drift check as BaselineUrl")
    parser.add_argument("--backend", choices=("local", "sagemaker"), default="local", help="default: local")
    parser.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                        help=f"local backend: the folder holding registry.db (default {DEFAULT_WORK_DIR})")
    parser.add_argument("--region", help="sagemaker backend: AWS region (default: the AWS configuration's)")
    parser.add_argument("--group", help="model package group")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--version", type=int, help="version within --group (describe: default the latest)")
    target.add_argument("--arn", help="model package ARN (instead of --group/--version)")
    parser.add_argument("--reason", help="approve/reject: why (stored in ApprovalDescription)")
    parser.add_argument("--by", help="approve/reject: who reviews (default: the AWS caller / the OS user)")
    parser.add_argument("--force", action="store_true",
                        help="approve a version whose quality gate did not pass (needs --reason; recorded)")
    parser.add_argument("--output", choices=("text", "json"), default="text", help="default: text")
    return parser


def _open(args) -> ModelRegistry:
    if args.backend == "sagemaker":
        import boto3

        region = args.region or boto3.session.Session().region_name
        if not region:
            raise RegistryError("--backend sagemaker needs --region (or AWS_DEFAULT_REGION)")
        return SageMakerRegistry(boto3.client("sagemaker", region_name=region))
    if args.region:
        raise RegistryError("--region applies to --backend sagemaker; the local registry keeps its own")
    db = Path(args.work_dir) / "registry.db"
    if not db.is_file():
        raise RegistryError(f"no local registry at {db}: run python -m pipeline.local first or pass --work-dir")
    return LocalRegistry(db)


def _target(args, registry: ModelRegistry) -> str:
    if args.arn:
        if args.group:
            raise RegistryError("give --arn or --group/--version, not both")
        parse_arn(args.arn)
        return args.arn
    if not args.group:
        raise RegistryError(f"{args.command} needs --arn or --group")
    if args.group not in registry.list_groups():
        raise RegistryError(f"no model package group {args.group!r}; see: python -m pipeline.registry list")
    if args.version is None:
        if args.command in ("approve", "reject"):
            raise RegistryError(f"{args.command} needs an explicit --version (or --arn)")
        if args.command == "baseline":
            champion = registry.latest_approved(args.group)
            if champion is None:
                raise RegistryError(f"group {args.group!r} has no Approved version: pass --version")
            return champion["ModelPackageArn"]
        return registry.latest_version_arn(args.group)
    return registry.describe(f"{args.group}/{args.version}")["ModelPackageArn"]


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


def _reviewer(args) -> str:
    """Who runs the command: the AWS caller's ARN for SageMaker, else the OS user."""
    if args.backend == "sagemaker":
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return boto3.client("sts", region_name=args.region).get_caller_identity()["Arn"]
        except (BotoCoreError, ClientError):
            pass  # no STS access: the OS user below still says who ran it
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise RegistryError("cannot tell who you are: pass --by NAME") from None


def _text(record: Mapping[str, Any]) -> str:
    width = max(map(len, record), default=0)
    return "\n".join(
        f"{key:<{width}}  {value if isinstance(value, (str, int, float)) else json.dumps(value, default=str)}"
        for key, value in record.items()
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.version is not None and args.version < 1:
            raise RegistryError("--version starts at 1")
        if args.version is not None and not args.group:
            raise RegistryError("--version needs --group")
        if (args.reason is not None or args.by is not None or args.force) and args.command not in ("approve", "reject"):
            raise RegistryError("--reason, --by and --force apply to approve and reject")
        if args.group:
            _check_group(args.group)
        registry = _open(args)
        if args.command == "list":
            if args.version is not None or args.arn:
                raise RegistryError("list takes --group only; use describe for one version")
            if args.group and args.group not in registry.list_groups():
                raise RegistryError(f"no model package group {args.group!r}; see: python -m pipeline.registry list")
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
            print(json.dumps(record, indent=2, default=str) if args.output == "json" else _text(record))
            return 0
        if args.command == "baseline":
            found = drift_baseline(registry.describe(arn))
            print(json.dumps(found, indent=2) if args.output == "json" else found["BaselineUrl"])
            return 0
        record = registry.review(arn, approve=args.command == "approve", by=args.by or _reviewer(args),
                                 reason=args.reason, force=args.force)
        if args.output == "json":
            print(json.dumps(record, indent=2, default=str))
        else:
            print(f"{record['ModelPackageArn']}: {record['ModelApprovalStatus']}")
        return 0
    except RegistryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except _AwsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # botocore's credential/endpoint errors: one line, not a traceback
        if type(error).__module__.startswith("botocore"):
            print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())

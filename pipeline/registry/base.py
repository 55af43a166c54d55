"""The registry interface both backends implement, and the values they share: the register request
(``PackageRequest``, checked once when built), ARNs, approval statuses and ModelMetrics sections.

Records use DescribeModelPackage's field names (ModelPackageGroupName, ModelPackageVersion,
ModelPackageArn, ModelApprovalStatus, ...), so callers work against either backend.
"""
from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from pipeline.config import MODEL_PACKAGE_GROUP_RE
from pipeline.lambdas import champions
from pipeline.registry import review as policy
from pipeline.registry.errors import AwsError, RegistryError
from processing_scripts import customer_metadata

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
PENDING = "PendingManualApproval"
DEFAULT_REGION = "us-east-1"
CONTENT_TYPE = "text/csv"  # what a package supports when the request names no content types
# ModelMetrics sections and the reports each may hold (CreateModelPackage's MetricsSource fields).
METRIC_SECTIONS = {
    "ModelQuality": ("Statistics", "Constraints"),
    "ModelDataQuality": ("Statistics", "Constraints"),
    "Bias": ("Report", "PreTrainingReport", "PostTrainingReport"),
    "Explainability": ("Report",),
}
PACKAGE_ARN_RE = re.compile(r"^arn:aws[a-z\-]*:sagemaker:([a-z0-9\-]+):(\d{12}):model-package/([^/]+)/(\d+)$")
GROUP_VERSION_RE = re.compile(r"^([^/:]+)/(\d+)$")
# ModelPackageVersion is an Integer in botocore's model (32 bits); a larger one names no version.
VERSION_MAX = 2**31 - 1


def check_version(version: int) -> int:
    """``version`` if it can be a ModelPackageVersion, else RegistryError.

    >>> check_version(2**40)
    Traceback (most recent call last):
    ...
    pipeline.registry.errors.RegistryError: version 1099511627776 out of range: versions are 1-2147483647
    """
    if not 1 <= version <= VERSION_MAX:
        raise RegistryError(f"version {version} out of range: versions are 1-{VERSION_MAX}")
    return version


def parse_arn(arn: str) -> tuple[str, int]:
    """``arn:...:model-package/<group>/<version>`` → (group, version).

    >>> parse_arn("arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/3")
    ('churn', 3)
    """
    match = PACKAGE_ARN_RE.match(arn if isinstance(arn, str) else "")
    if not match or any("\ud800" <= c <= "\udfff" for c in arn):
        raise RegistryError(
            f"bad model package ARN {arn!r}: expected arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"
        )
    return match.group(3), check_version(int(match.group(4)))


def parse_group_version(ref: str) -> tuple[str, int] | None:
    """``"<group>/<version>"`` → (group, version); None for anything else (an ARN, say).

    >>> parse_group_version("churn/2"), parse_group_version("churn")
    (('churn', 2), None)
    """
    match = GROUP_VERSION_RE.match(ref) if isinstance(ref, str) else None
    return (match.group(1), check_version(int(match.group(2)))) if match else None


def iso(timestamp: float) -> str:
    """A POSIX timestamp as the ISO 8601 UTC time the records show.

    >>> iso(0)
    '1970-01-01T00:00:00+00:00'
    """
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()


def check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(f"bad approval status {status!r}: use one of {', '.join(APPROVAL_STATUSES)}")


def check_approval_description(description: str | None) -> None:
    """What UpdateModelPackage takes as ApprovalDescription: refused, never cut, past SageMaker's limit."""
    if description is not None and len(description) > policy.APPROVAL_DESCRIPTION_MAX:
        raise RegistryError(f"the ApprovalDescription has {len(description)} characters, more than "
                            f"{policy.APPROVAL_DESCRIPTION_MAX}: shorten it")


def check_group(group: str) -> None:
    if not isinstance(group, str) or not MODEL_PACKAGE_GROUP_RE.match(group):
        raise RegistryError(f"bad model package group name {group!r}: letters, digits and hyphens, at most 63")


def clean_metrics(metrics: Mapping[str, Any] | None, what: str = "ModelMetrics") -> dict[str, Any]:
    """Known sections with their reports ({ContentType, S3Uri}); empty sections (the SDK emits
    ``"Bias": {}``) are dropped.

    >>> clean_metrics({"Bias": {}, "ModelQuality": {"Statistics": {"ContentType": "application/json",
    ...                                                            "S3Uri": "s3://b/e.json"}}})
    {'ModelQuality': {'Statistics': {'ContentType': 'application/json', 'S3Uri': 's3://b/e.json'}}}
    """
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


@dataclass(frozen=True)
class PackageRequest:
    """One new version of a model package group: what CreateModelPackage takes, checked and normalised
    when built (empty metric and baseline sections dropped, content types defaulting to text/csv), so a
    request that exists is one both backends accept."""

    group: str
    model_data_url: str
    image_uri: str
    approval_status: str = PENDING
    model_metrics: Mapping[str, Any] | None = None
    # DriftCheckBaselines has its own sections (Bias, Explainability, ModelQuality, ModelDataQuality);
    # kept as given, minus empty ones.
    drift_check_baselines: Mapping[str, Any] | None = None
    description: str | None = None
    customer_metadata: Mapping[str, str] | None = None
    environment: Mapping[str, str] | None = None
    content_types: Sequence[str] | None = None
    response_types: Sequence[str] | None = None
    # MetadataProperties.GeneratedBy: the pipeline execution ARN registering it. One package per group and
    # execution: registering again for the same execution returns the first.
    generated_by: str | None = None

    def __post_init__(self) -> None:
        check_group(self.group)
        check_status(self.approval_status)
        if not isinstance(self.model_data_url, str) or not re.match(r"^(s3|https)://[^/]+/.+", self.model_data_url):
            raise RegistryError(f"bad model data URL {self.model_data_url!r}: an s3:// (or https://) URL of model.tar.gz")
        if not isinstance(self.image_uri, str) or not self.image_uri.strip():
            raise RegistryError(f"bad image URI {self.image_uri!r}: the inference container image")
        problem = customer_metadata.problem(self.customer_metadata)
        if problem:
            raise RegistryError(problem)
        normalised = {
            "model_metrics": clean_metrics(self.model_metrics),
            "drift_check_baselines": {k: v for k, v in (self.drift_check_baselines or {}).items() if v},
            "customer_metadata": dict(self.customer_metadata or {}),
            "environment": dict(self.environment or {}),
            "content_types": tuple(self.content_types or (CONTENT_TYPE,)),
            "response_types": tuple(self.response_types or (CONTENT_TYPE,)),
        }
        for name, value in normalised.items():
            object.__setattr__(self, name, value)  # frozen: set once, here


class ModelRegistry(abc.ABC):
    """The interface of both backends; records are shaped like DescribeModelPackage's response."""

    def register(self, group: str, **fields: Any) -> dict[str, Any]:
        """Add the next version to ``group`` (created if new); ``fields`` are PackageRequest's
        (model_data_url, image_uri, approval_status, ...). Returns its description."""
        return self.add_package(PackageRequest(group, **fields))

    @abc.abstractmethod
    def add_package(self, request: PackageRequest) -> dict[str, Any]:
        """Store ``request`` as the next version of its group (created if new); returns its description."""

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

    @abc.abstractmethod
    def sagemaker_client(self):
        """A boto3-shaped ``sagemaker`` client over this registry (what the champion lookup reads)."""

    def caller_identity(self) -> str | None:
        """Who calls this backend as its service knows them (an AWS principal's ARN), if it knows."""
        return None

    def review(self, ref: str, *, approve: bool, by: str, reason: str | None, force: bool = False) -> dict[str, Any]:
        """Approve or reject a version by the review policy (``pipeline.registry.review``), recording
        who and why in its ApprovalDescription and metadata; returns the new description."""
        policy.check_reviewer(by)
        policy.check_request(approve=approve, reason=reason, force=force)
        package = self.describe(ref)
        decided = policy.decide(package, approve=approve, by=by, reason=reason, force=force)
        return self.update_approval(package["ModelPackageArn"], decided.status, decided.description,
                                    metadata=decided.metadata)

    def latest_version_arn(self, group: str) -> str:
        packages = self.list_packages(group)
        if not packages:
            raise RegistryError(f"model package group {group!r} has no versions")
        return packages[-1]["ModelPackageArn"]

    def latest_approved(self, group: str) -> dict[str, Any] | None:
        """The champion of ``group`` (or None), by the one definition the champion function uses."""
        try:
            return champions.latest_approved(self.sagemaker_client(), group)
        except champions.ChampionLookupError as error:
            raise AwsError(str(error)) from None

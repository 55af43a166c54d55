"""The review policy: who may approve or reject a version, when, and what is recorded on it.

* Approving needs the version's recorded quality-gate decision (``gate_passed=true`` in its
  CustomerMetadataProperties, written by the RegisterModel step from processing_scripts/gate.py).
* ``force`` overrides a failed or missing decision, and only that: it needs a reason, and the override
  is recorded (a FORCED note in ApprovalDescription, ``review_forced=true`` in the metadata).
* Otherwise a reason is optional, for approving and for rejecting.
* Every review records who (``review_by``) and when.
"""
from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from pipeline.registry.errors import RegistryError
from processing_scripts import customer_metadata

APPROVED, REJECTED = "Approved", "Rejected"
# UpdateModelPackage's ApprovalDescription holds at most this many characters (botocore's model).
APPROVAL_DESCRIPTION_MAX = 1024


@dataclass(frozen=True)
class Review:
    """What a review writes: UpdateModelPackage's status, ApprovalDescription and metadata to merge."""

    status: str
    description: str
    metadata: dict[str, str]


def reason_text(reason: str | None) -> str | None:
    """The reason as given, or None when it is missing or blank."""
    return reason.strip() if reason and reason.strip() else None


def check_reviewer(by: str | None) -> None:
    """A review says who made it."""
    if not by or not by.strip():
        raise RegistryError("say who reviews: --by NAME")


def check_request(*, approve: bool, reason: str | None, force: bool) -> None:
    """The rules that need no package: ``force`` only to approve, and only with a reason.

    >>> check_request(approve=False, reason=None, force=False)
    >>> check_request(approve=True, reason=" ", force=True)
    Traceback (most recent call last):
    ...
    pipeline.registry.errors.RegistryError: --force needs --reason: say why the gate is overridden
    """
    if force and not approve:
        raise RegistryError("--force only applies to approving a version whose gate did not pass")
    if force and not reason_text(reason):
        raise RegistryError("--force needs --reason: say why the gate is overridden")


def decide(package: Mapping[str, Any], *, approve: bool, by: str, reason: str | None, force: bool = False,
           now: datetime | None = None) -> Review:
    """The review of ``package`` (a DescribeModelPackage record), or RegistryError saying why not."""
    check_reviewer(by)
    check_request(approve=approve, reason=reason, force=force)
    reason = reason_text(reason)
    metadata = package.get("CustomerMetadataProperties") or {}
    gate_passed = metadata.get("gate_passed")
    forced = approve and gate_passed != "true"
    if forced and not force:
        what = "failed its quality gate" if gate_passed == "false" else "has no recorded quality-gate decision"
        checks = f" ({metadata['gate_checks']})" if metadata.get("gate_checks") else ""
        raise RegistryError(
            f"{package['ModelPackageArn']} {what}{checks}: not approved; to override, pass --force "
            "with --reason (the override is recorded on the package)"
        )
    if force and not forced:
        raise RegistryError("--force only applies to approving a version whose gate did not pass")
    status = APPROVED if approve else REJECTED
    when = (now or datetime.now(timezone.utc)).isoformat()
    text = f"{status} by {by.strip()} at {when}" + (f": {reason}" if reason else "")
    if forced:
        text += f" [FORCED: the quality gate did not pass: {metadata.get('gate_checks', 'no gate decision recorded')}]"
    return Review(status, text[:APPROVAL_DESCRIPTION_MAX], {
        "review_by": customer_metadata.value(by, empty="unknown"),
        "review_forced": "true" if forced else "false",
    })


def reviewer(identity: str | None = None) -> str:
    """Who reviews when ``--by`` is not given: the backend's caller ``identity`` (the AWS caller's ARN)
    when it has one, else the OS user."""
    if identity:
        return identity
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise RegistryError("cannot tell who you are: pass --by NAME") from None

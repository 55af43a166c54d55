"""The review policy: who may approve or reject a version, when, and what is recorded on it.

* Approving needs the version's recorded quality-gate decision (``gate_passed=true`` in its
  CustomerMetadataProperties, written by the RegisterModel step from processing_scripts/gate.py).
* ``force`` overrides a failed or missing decision, and only that: it needs a reason, and the override
  is recorded (a FORCED note in ApprovalDescription, ``review_forced=true`` in the metadata).
* Otherwise a reason is optional, for approving and for rejecting.
* Every review records who (``review_by``) and when.
* The record is never cut: ``--reason`` and ``--by`` are held to lengths that keep the whole
  ApprovalDescription (FORCED note included) within SageMaker's limit, and refused past them.
"""
from __future__ import annotations

import getpass
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from pipeline.registry.errors import RegistryError
from processing_scripts import customer_metadata

APPROVED, REJECTED = "Approved", "Rejected"
# UpdateModelPackage's ApprovalDescription holds at most this many characters (botocore's model).
APPROVAL_DESCRIPTION_MAX = 1024
# The longest --reason and --by taken: with the longest FORCED note (gate_checks is a metadata value, at
# most 256 characters) and the time, the description stays under APPROVAL_DESCRIPTION_MAX.
REASON_MAX = 400
BY_MAX = 200


@dataclass(frozen=True)
class Review:
    """What a review writes: UpdateModelPackage's status, ApprovalDescription and metadata to merge."""

    status: str
    description: str
    metadata: dict[str, str]


def clean_text(flag: str, text: str | None, longest: int) -> str | None:
    """``text`` with runs of whitespace made one space, None when missing or blank; RegistryError when it
    is not UTF-8 (undecodable argv bytes), holds control characters or is longer than ``longest``.

    >>> clean_text("--reason", "  risk\taccepted ", 20)
    'risk accepted'
    >>> clean_text("--by", "x" * 11, 10)
    Traceback (most recent call last):
    ...
    pipeline.registry.errors.RegistryError: --by has 11 characters, more than 10: shorten it
    """
    if text is None:
        return None
    if any("\ud800" <= c <= "\udfff" for c in text):
        raise RegistryError(f"{flag} is not valid UTF-8 text: pass it in UTF-8")
    text = " ".join(text.split())
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise RegistryError(f"{flag} has a control character: plain text only")
    if len(text) > longest:
        raise RegistryError(f"{flag} has {len(text)} characters, more than {longest}: shorten it")
    return text or None


def reason_text(reason: str | None) -> str | None:
    """The reason as recorded (whitespace runs made one space), or None when it is missing or blank."""
    return clean_text("--reason", reason, REASON_MAX)


def check_reviewer(by: str | None) -> None:
    """A review says who made it, in at most BY_MAX characters."""
    if not clean_text("--by", by, BY_MAX):
        raise RegistryError("say who reviews: --by NAME")


def check_request(*, approve: bool, reason: str | None, force: bool) -> None:
    """The rules that need no package: ``force`` only to approve, and only with a reason; a reason, when
    given, is not blank and fits.

    >>> check_request(approve=False, reason=None, force=False)
    >>> check_request(approve=True, reason=" ", force=True)
    Traceback (most recent call last):
    ...
    pipeline.registry.errors.RegistryError: --force needs --reason: say why the gate is overridden
    """
    if force and not approve:
        raise RegistryError("--force only applies to approving a version whose gate did not pass")
    text = reason_text(reason)
    if force and not text:
        raise RegistryError("--force needs --reason: say why the gate is overridden")
    if reason is not None and not text:
        raise RegistryError("--reason is blank: say why, or leave --reason out")


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
    text = f"{status} by {clean_text('--by', by, BY_MAX)} at {when}" + (f": {reason}" if reason else "")
    if forced:
        text += f" [FORCED: the quality gate did not pass: {metadata.get('gate_checks', 'no gate decision recorded')}]"
    if len(text) > APPROVAL_DESCRIPTION_MAX:  # never cut: the FORCED note is the end of it
        raise RegistryError(f"the ApprovalDescription would have {len(text)} characters, more than "
                            f"{APPROVAL_DESCRIPTION_MAX}: shorten --reason or --by")
    return Review(status, text, {
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

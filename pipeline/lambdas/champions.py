"""The one definition of the champion: the Approved version of a model package group with the highest
version number, found by reading every page of ListModelPackages.

Used by the champion function (``resolve_champion``), by ``python -m pipeline.registry baseline`` and,
through the local registry's SageMaker-shaped client, by the local runner. Standard library and boto3's
error shape only: this file is deployed inside the Lambda package.

Why every page: ListModelPackages filters *after* paging, so a page of a filtered listing may come back
empty (or short) while a NextToken says more follow; stopping at the first empty page would report "no
champion" and let a model skip the regression checks. Why the highest version: versions are numbered in
the order they were created, so it is the latest, and it is one number, not a timestamp to compare.
"""
from __future__ import annotations

from typing import Any, Mapping

PAGE_SIZE = 100  # ListModelPackages' largest MaxResults


class ChampionLookupError(RuntimeError):
    """The registry could not be read; the lookup must fail rather than report "no champion"."""


def _error(error: Exception) -> tuple[str, str]:
    detail = getattr(error, "response", {}).get("Error", {}) if hasattr(error, "response") else {}
    return str(detail.get("Code", "")), str(detail.get("Message", error))


def _is_missing_group(error: Exception) -> bool:
    code, message = _error(error)
    return code in ("ValidationException", "ResourceNotFound", "ResourceNotFoundException") and (
        "does not exist" in message or "not found" in message.lower()
    )


def group_exists(client, group: str) -> bool:
    """Whether ``group`` exists (DescribeModelPackageGroup); any error but "does not exist" is raised."""
    try:
        client.describe_model_package_group(ModelPackageGroupName=group)
    except Exception as error:  # botocore's ClientError, or the local client's equivalent
        if _is_missing_group(error):
            return False
        code, message = _error(error)
        raise ChampionLookupError(f"DescribeModelPackageGroup {group}: {code or type(error).__name__}: {message}") from None
    return True


def approved_summaries(client, group: str) -> list[Mapping[str, Any]]:
    """Every Approved ModelPackageSummary of ``group``, following NextToken to the end (empty pages too)."""
    summaries: list[Mapping[str, Any]] = []
    request: dict[str, Any] = {
        "ModelPackageGroupName": group, "ModelApprovalStatus": "Approved",
        "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": PAGE_SIZE,
    }
    seen_tokens: set[str] = set()
    while True:
        try:
            page = client.list_model_packages(**request)
        except Exception as error:
            # A group that does not exist yet may raise on AWS (moto lists nothing): no champion then.
            if not seen_tokens and not group_exists(client, group):
                return []
            code, message = _error(error)
            raise ChampionLookupError(f"ListModelPackages {group}: {code or type(error).__name__}: {message}") from None
        summaries += [s for s in page.get("ModelPackageSummaryList", []) if s.get("ModelApprovalStatus") == "Approved"]
        token = page.get("NextToken")
        if not token:
            return summaries
        if token in seen_tokens:
            raise ChampionLookupError(f"ListModelPackages {group}: NextToken repeated; the listing does not end")
        seen_tokens.add(token)
        request["NextToken"] = token


def choose_champion(summaries: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The summary with the highest ModelPackageVersion, or None.

    >>> choose_champion([{"ModelPackageVersion": 2}, {"ModelPackageVersion": 7}, {"ModelPackageVersion": 3}])
    {'ModelPackageVersion': 7}
    >>> choose_champion([]) is None
    True
    """
    return max(summaries, key=lambda s: int(s["ModelPackageVersion"]), default=None)


def latest_approved(client, group: str) -> dict[str, Any] | None:
    """DescribeModelPackage of the champion of ``group``; None when it has no Approved version or does
    not exist. ``client`` is a boto3 ``sagemaker`` client or the local registry's client."""
    best = choose_champion(approved_summaries(client, group))
    if best is None:
        return None
    try:
        package = client.describe_model_package(ModelPackageName=best["ModelPackageArn"])
    except Exception as error:
        code, message = _error(error)
        raise ChampionLookupError(f"DescribeModelPackage {best['ModelPackageArn']}: {code}: {message}") from None
    if package.get("ModelApprovalStatus") != "Approved":
        # Its approval was revoked between the listing and now: the listing is stale, so is any answer.
        raise ChampionLookupError(
            f"{best['ModelPackageArn']} stopped being Approved while the champion was looked up; run again"
        )
    return {k: v for k, v in package.items() if k != "ResponseMetadata"}

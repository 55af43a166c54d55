"""The local registry behind the slice of SageMaker's API the champion lookup calls, with SageMaker's
request shapes, paging and errors, so that ``pipeline/lambdas/champions.py`` runs unchanged over it."""
from __future__ import annotations

import base64
from typing import Any

from botocore.exceptions import ClientError

from pipeline.registry import LocalRegistry, RegistryError


def _validation(operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


class LocalSageMakerApi:
    """DescribeModelPackageGroup, ListModelPackages (MaxResults/NextToken) and DescribeModelPackage."""

    def __init__(self, registry: LocalRegistry, *, max_page: int = 100) -> None:
        self.registry = registry
        self.max_page = max_page

    def describe_model_package_group(self, *, ModelPackageGroupName: str) -> dict[str, Any]:
        try:
            return self.registry.describe_group(ModelPackageGroupName)
        except RegistryError:
            arn = self.registry.group_arn(ModelPackageGroupName)
            raise _validation("DescribeModelPackageGroup", f"ModelPackageGroup {arn} does not exist.") from None

    def list_model_packages(self, *, ModelPackageGroupName: str, ModelApprovalStatus: str | None = None,
                            SortBy: str = "CreationTime", SortOrder: str = "Ascending", MaxResults: int = 10,
                            NextToken: str | None = None) -> dict[str, Any]:
        if not 1 <= int(MaxResults) <= self.max_page:
            raise _validation("ListModelPackages", f"MaxResults must be between 1 and {self.max_page}")
        packages = [p for p in self.registry.list_packages(ModelPackageGroupName)
                    if ModelApprovalStatus is None or p["ModelApprovalStatus"] == ModelApprovalStatus]
        key = (lambda p: p["ModelPackageName"]) if SortBy == "Name" else (lambda p: (p["CreationTime"], p["ModelPackageVersion"]))
        packages.sort(key=key, reverse=SortOrder == "Descending")
        try:
            start = int(base64.b64decode(NextToken).decode()) if NextToken else 0
        except ValueError:
            raise _validation("ListModelPackages", "Invalid pagination token") from None
        page = packages[start:start + int(MaxResults)]
        response: dict[str, Any] = {"ModelPackageSummaryList": [{
            key: p[key] for key in ("ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                                    "CreationTime", "ModelPackageStatus", "ModelApprovalStatus") if key in p
        } for p in page]}
        if start + int(MaxResults) < len(packages):
            response["NextToken"] = base64.b64encode(str(start + int(MaxResults)).encode()).decode()
        return response

    def describe_model_package(self, *, ModelPackageName: str) -> dict[str, Any]:
        try:
            return self.registry.describe(ModelPackageName)
        except RegistryError:
            raise _validation("DescribeModelPackage", f"Model package {ModelPackageName} not found") from None

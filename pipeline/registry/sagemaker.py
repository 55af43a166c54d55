"""The registry interface over the SageMaker Model Registry (a boto3 ``sagemaker`` client)."""
from __future__ import annotations

import contextlib
from typing import Any, Mapping

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.registry.base import (
    ModelRegistry, PackageRequest, check_approval_description, check_group, check_status, parse_arn,
    parse_group_version,
)
from pipeline.registry.errors import AwsError, RegistryError
from processing_scripts import customer_metadata

# The error codes SageMaker answers a DescribeModelPackage of an unknown package with.
NOT_FOUND_CODES = ("ValidationException", "ResourceNotFound", "ResourceNotFoundException")


class SageMakerRegistry(ModelRegistry):
    """The same interface over the SageMaker Model Registry (boto3 ``sagemaker`` client)."""

    def __init__(self, client=None, *, region: str | None = None) -> None:
        self.client = client if client is not None else boto3.client("sagemaker", region_name=region)

    def sagemaker_client(self):
        return self.client

    def caller_identity(self) -> str | None:
        """The AWS caller's ARN (STS GetCallerIdentity), or None when STS cannot be asked."""
        try:
            return boto3.client("sts", region_name=self.client.meta.region_name).get_caller_identity()["Arn"]
        except (BotoCoreError, ClientError):
            return None  # no STS access: the review policy falls back to the OS user

    def _call(self, method: str, **request) -> dict[str, Any]:
        try:
            response = getattr(self.client, method)(**request)
        except ClientError as error:
            detail = error.response.get("Error", {})
            code = detail.get("Code", "ClientError")
            raise AwsError(f"{method}: {code}: {detail.get('Message', error)}", code) from None
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    def _arn(self, ref: str) -> str:
        found = parse_group_version(ref)
        if not found:
            parse_arn(ref)
            return ref
        group, version = found
        for package in self.list_packages(group):
            if package["ModelPackageVersion"] == version:
                return package["ModelPackageArn"]
        raise RegistryError(f"no model package {ref} (group {group!r} has no version {version})")

    def add_package(self, request: PackageRequest) -> dict[str, Any]:
        if request.generated_by and request.group in self.list_groups():
            for package in self.list_packages(request.group):  # this execution registered already
                if (package.get("MetadataProperties") or {}).get("GeneratedBy") == request.generated_by:
                    return package
        if request.group not in self.list_groups():
            with contextlib.suppress(AwsError):  # another process may create it first; that is fine
                self._call("create_model_package_group", ModelPackageGroupName=request.group)
        container = {"Image": request.image_uri, "ModelDataUrl": request.model_data_url}
        if request.environment:
            container["Environment"] = dict(request.environment)
        call: dict[str, Any] = {
            "ModelPackageGroupName": request.group,
            "ModelApprovalStatus": request.approval_status,
            "InferenceSpecification": {
                "Containers": [container],
                "SupportedContentTypes": list(request.content_types),
                "SupportedResponseMIMETypes": list(request.response_types),
            },
        }
        optional = {
            "ModelPackageDescription": request.description,
            "ModelMetrics": request.model_metrics,
            "DriftCheckBaselines": request.drift_check_baselines,
            "CustomerMetadataProperties": request.customer_metadata,
            "MetadataProperties": {"GeneratedBy": request.generated_by} if request.generated_by else None,
        }
        call.update({key: value for key, value in optional.items() if value})
        arn = self._call("create_model_package", **call)["ModelPackageArn"]
        return self.describe(arn)

    def create_group(self, group: str, description: str | None = None) -> dict[str, Any]:
        check_group(group)
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
        except AwsError as error:
            if error.code not in NOT_FOUND_CODES:
                raise  # access denied, throttled, ...: the call failed, not the caller's reference
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
        check_status(status)
        check_approval_description(description)
        package = self.describe(ref)
        problem = customer_metadata.problem({**(package.get("CustomerMetadataProperties") or {}), **(metadata or {})})
        if problem:
            raise RegistryError(problem)
        request: dict[str, Any] = {"ModelPackageArn": package["ModelPackageArn"], "ModelApprovalStatus": status}
        if description:
            request["ApprovalDescription"] = description
        if metadata:
            request["CustomerMetadataProperties"] = dict(metadata)
        self._call("update_model_package", **request)
        return self.describe(package["ModelPackageArn"])

"""Lambda function: find the champion and stage what the evaluation step needs to compare against it.

The processing container must not call AWS APIs itself, so this step (a SageMaker LambdaStep) looks the
champion up in the Model Registry — the latest Approved version of the model package group — and copies,
under ``OutputUri`` (a per-execution prefix the evaluation step downloads):

    context.json                  what was found (always written, so the prefix is never empty)
    champion/evaluation.json      the champion's ModelQuality statistics, when readable
    champion/model.tar.gz         the champion's model artifact, when readable (for the paired comparison)
    validation/...                the objects under ValidationDataUrl, when it is set

This file is deployed on its own (``resolve_champion.lambda_handler``): standard library and boto3 only.
The local runner calls :func:`resolve` with its SQLite registry and folder object store instead.
"""
from __future__ import annotations

import json
import time
from typing import Any, Mapping, Protocol

CONTEXT_FILE = "context.json"
CHAMPION_EVALUATION = "champion/evaluation.json"
CHAMPION_MODEL = "champion/model.tar.gz"
VALIDATION_PREFIX = "validation/"
OUTPUTS = ("ContextUri", "ChampionArn", "ChampionVersion")


class StagingError(RuntimeError):
    """An object could not be read or copied (the message says which and why)."""


class Registry(Protocol):
    def latest_approved(self, group: str) -> Mapping[str, Any] | None:
        """DescribeModelPackage of the latest Approved version of ``group``, or None."""


class Storage(Protocol):
    def copy(self, source_uri: str, target_uri: str) -> None:
        """Copy one object (StagingError when the source cannot be read)."""

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of the objects under a prefix (or the one object named)."""

    def put_text(self, uri: str, text: str) -> None:
        """Write one object."""


def _join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name


def _statistics_uri(package: Mapping[str, Any]) -> str | None:
    return (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")


def _model_data_url(package: Mapping[str, Any]) -> str | None:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    return containers[0].get("ModelDataUrl") if containers else None


def resolve(event: Mapping[str, Any], *, registry: Registry, storage: Storage) -> dict[str, str]:
    """Stage the champion (and validation data) under ``event["OutputUri"]``; return the step outputs.

    ``event``: ModelPackageGroupName, OutputUri, ValidationDataUrl (may be empty).
    A champion whose files cannot be read is still reported (with the errors), so the gate fails closed
    instead of treating the model as a first version.
    """
    group, output = event["ModelPackageGroupName"], event["OutputUri"]
    context: dict[str, Any] = {"model_package_group": group, "resolved_at": time.time(), "champion": None,
                               "validation": None}
    champion = registry.latest_approved(group)
    if champion is not None:
        entry: dict[str, Any] = {
            "arn": champion["ModelPackageArn"],
            "version": champion.get("ModelPackageVersion"),
            "creation_time": str(champion.get("CreationTime")),
            "model_data_url": _model_data_url(champion),
            "evaluation_uri": _statistics_uri(champion),
            "customer_metadata": dict(champion.get("CustomerMetadataProperties") or {}),
            "evaluation_staged": False,
            "model_staged": False,
            "errors": [],
        }
        for key, name, flag in (("evaluation_uri", CHAMPION_EVALUATION, "evaluation_staged"),
                                ("model_data_url", CHAMPION_MODEL, "model_staged")):
            if not entry[key]:
                entry["errors"].append(f"{key} not recorded on the package")
                continue
            try:
                storage.copy(entry[key], _join(output, name))
                entry[flag] = True
            except StagingError as error:  # reported in context.json; the gate then fails closed
                entry["errors"].append(str(error))
        context["champion"] = entry
    validation = (event.get("ValidationDataUrl") or "").strip()
    if validation:
        sources = storage.list(validation)
        if not sources:
            raise ValueError(f"ValidationDataUrl {validation} has no objects: upload the validation CSV or leave it empty")
        base = validation if validation.endswith("/") or len(sources) > 1 else validation.rsplit("/", 1)[0] + "/"
        for source in sources:
            relative = source[len(base):].lstrip("/") if source.startswith(base) else source.rsplit("/", 1)[-1]
            storage.copy(source, _join(output, VALIDATION_PREFIX + relative))
        context["validation"] = {"source": validation, "objects": len(sources)}
    storage.put_text(_join(output, CONTEXT_FILE), json.dumps(context, indent=2, default=str) + "\n")
    return {
        "ContextUri": output.rstrip("/") + "/",
        "ChampionArn": champion["ModelPackageArn"] if champion else "none",
        "ChampionVersion": str(champion.get("ModelPackageVersion")) if champion else "none",
    }


# --- AWS adapters -------------------------------------------------------------------------------------------


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class SageMakerChampions:
    """Registry over the SageMaker API."""

    def __init__(self, client) -> None:
        self.client = client

    def latest_approved(self, group: str) -> Mapping[str, Any] | None:
        page = self.client.list_model_packages(
            ModelPackageGroupName=group, ModelApprovalStatus="Approved",
            SortBy="CreationTime", SortOrder="Descending", MaxResults=1,
        )
        summaries = page.get("ModelPackageSummaryList", [])
        if not summaries:
            return None
        return self.client.describe_model_package(ModelPackageName=summaries[0]["ModelPackageArn"])


class S3Storage:
    """Storage over the S3 API (server-side copies: nothing passes through the function)."""

    def __init__(self, client) -> None:
        self.client = client

    def copy(self, source_uri: str, target_uri: str) -> None:
        from botocore.exceptions import ClientError

        (source_bucket, source_key), (bucket, key) = _split(source_uri), _split(target_uri)
        try:
            self.client.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key)
        except ClientError as error:
            raise StagingError(f"cannot copy {source_uri}: {error}") from None

    def list(self, prefix_uri: str) -> list[str]:
        bucket, prefix = _split(prefix_uri)
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
        return [f"s3://{bucket}/{key}" for key in sorted(keys)]

    def put_text(self, uri: str, text: str) -> None:
        bucket, key = _split(uri)
        self.client.put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json")


def lambda_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, str]:
    """The Lambda entry point (handler ``resolve_champion.lambda_handler``)."""
    import boto3

    return resolve(event, registry=SageMakerChampions(boto3.client("sagemaker")), storage=S3Storage(boto3.client("s3")))

"""Lambda function: find the champion and stage what the evaluation step needs to compare against it.

The processing container must not call AWS APIs itself, so this step (a SageMaker LambdaStep) looks the
champion up in the Model Registry — the latest Approved version of the model package group — and copies,
under ``OutputUri`` (a per-execution prefix the evaluation step downloads):

    context.json                  what was found (always written, so the prefix is never empty)
    champion/evaluation.json      the champion's ModelQuality statistics, when readable
    champion/model.tar.gz         the champion's model artifact, when readable (for the paired comparison)
    validation/...                the objects under ValidationDataUrl, when it is set
    monitoring/quality_history.jsonl  the deployed version's model-quality history (MonitoringHistoryUri),
                                  when it exists: the evaluation's findings quote its last window

Deployed as ``resolve_champion.lambda_handler`` with ``champions.py`` (which version is the champion) and
``storage.py``: standard library and boto3 only. The local runner calls :func:`resolve` with the local
registry's SageMaker-shaped client and its folder object store. The champion's ``model_sha256`` (recorded
in its decision record when it was registered) goes into context.json: the evaluation checks the staged
archive against it before comparing.
"""
from __future__ import annotations

import json
import time
from typing import Any, Mapping

try:  # in the repository
    from pipeline.lambdas import champions
    from pipeline.lambdas.storage import S3Storage, StagingError, Storage, join
except ImportError:  # flat in the Lambda package
    import champions  # type: ignore[no-redef]
    from storage import S3Storage, StagingError, Storage, join  # type: ignore[no-redef]

CONTEXT_FILE = "context.json"
CHAMPION_EVALUATION = "champion/evaluation.json"
CHAMPION_MODEL = "champion/model.tar.gz"
VALIDATION_PREFIX = "validation/"
MONITORING_HISTORY = "monitoring/quality_history.jsonl"
OUTPUTS = ("ContextUri", "ChampionArn", "ChampionVersion")


def _statistics_uri(package: Mapping[str, Any]) -> str | None:
    return (((package.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}).get("S3Uri")


def _model_data_url(package: Mapping[str, Any]) -> str | None:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    return containers[0].get("ModelDataUrl") if containers else None


def resolve(event: Mapping[str, Any], *, sagemaker, storage: Storage) -> dict[str, str]:
    """Stage the champion (and validation data) under ``event["OutputUri"]``; return the step outputs.

    ``event``: ModelPackageGroupName, OutputUri, ValidationDataUrl (may be empty), KmsKeyId (may be empty),
    MonitoringHistoryUri (may be empty or absent: the quality history to stage when it exists).
    ``sagemaker``: a boto3 ``sagemaker`` client (or the local registry's client of the same shape).
    A champion whose files cannot be read is still reported (with the errors), so the gate fails closed
    instead of treating the model as a first version; a registry that cannot be read fails the step.
    """
    group, output = event["ModelPackageGroupName"], event["OutputUri"]
    context: dict[str, Any] = {"model_package_group": group, "resolved_at": time.time(), "champion": None,
                               "validation": None}
    champion = champions.latest_approved(sagemaker, group)
    if champion is not None:
        entry: dict[str, Any] = {
            "arn": champion["ModelPackageArn"],
            "version": champion.get("ModelPackageVersion"),
            "creation_time": str(champion.get("CreationTime")),
            "model_data_url": _model_data_url(champion),
            "evaluation_uri": _statistics_uri(champion),
            "customer_metadata": dict(champion.get("CustomerMetadataProperties") or {}),
            "model_sha256": (champion.get("CustomerMetadataProperties") or {}).get("model_sha256"),
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
                storage.copy(entry[key], join(output, name))
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
            storage.copy(source, join(output, VALIDATION_PREFIX + relative))
        context["validation"] = {"source": validation, "base": base, "objects": len(sources)}
    history = (event.get("MonitoringHistoryUri") or "").strip()
    if history and history in storage.list(history):  # the exact object, not a longer key beginning with it
        storage.copy(history, join(output, MONITORING_HISTORY))
        context["monitoring"] = {"quality_history": history}
    storage.put_text(join(output, CONTEXT_FILE), json.dumps(context, indent=2, default=str) + "\n")
    return {
        "ContextUri": output.rstrip("/") + "/",
        "ChampionArn": champion["ModelPackageArn"] if champion else "none",
        "ChampionVersion": str(champion.get("ModelPackageVersion")) if champion else "none",
    }


def lambda_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, str]:
    """The Lambda entry point (handler ``resolve_champion.lambda_handler``)."""
    import boto3

    storage = S3Storage(boto3.client("s3"), kms_key_id=event.get("KmsKeyId"))
    return resolve(event, sagemaker=boto3.client("sagemaker"), storage=storage)

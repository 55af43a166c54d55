"""Lambda function: freeze the model under evaluation, so that what is evaluated is what gets registered.

``ModelDataUrl`` is whatever key the user uploaded to, and S3 keys are mutable: the next upload to the
same key would change the bytes behind an already registered (even approved) version, and a champion
read back from that key would be the challenger itself. So before anything is scored, this step hashes
the archive and copies exactly those bytes (the copy is conditional on the ETag that was read) to

    <OutputPrefix>/<sha256>/model.tar.gz

Every later step (CreateModel, the transform, the evaluation, RegisterModel) uses that copy, and the
evaluation checks its SHA-256 again before it records it in the decision record.

Event: ModelDataUrl, OutputPrefix, KmsKeyId (may be empty). Outputs: ModelDataUrl, ModelSha256.
Deployed as ``freeze_model.lambda_handler`` (standard library and boto3 only).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

try:  # in the repository
    from pipeline.lambdas.storage import S3Storage, StagingError, Storage, join, split_uri
except ImportError:  # flat in the Lambda package
    from storage import S3Storage, StagingError, Storage, join, split_uri  # type: ignore[no-redef]

OUTPUTS = ("ModelDataUrl", "ModelSha256")
ARCHIVE_NAME = "model.tar.gz"
_FROZEN = re.compile(r"/([0-9a-f]{64})/" + re.escape(ARCHIVE_NAME) + r"$")


def frozen_uri(prefix: str, sha256: str) -> str:
    """The content-addressed key of an archive.

    >>> frozen_uri("s3://b/p/models/sha256", "ab" * 32)[-30:]
    'babababababababab/model.tar.gz'
    """
    return join(join(prefix, sha256), ARCHIVE_NAME)


def sha256_in_uri(uri: str) -> str | None:
    """The SHA-256 a frozen archive's key names, or None for any other key.

    >>> sha256_in_uri("s3://b/p/models/sha256/" + "0" * 64 + "/model.tar.gz") == "0" * 64
    True
    >>> sha256_in_uri("s3://b/models/model.tar.gz") is None
    True
    """
    match = _FROZEN.search(uri or "")
    return match.group(1) if match else None


def freeze(event: Mapping[str, Any], *, storage: Storage) -> dict[str, str]:
    """Copy the archive at ``event["ModelDataUrl"]`` to its content-addressed key; return the outputs."""
    source = str(event.get("ModelDataUrl") or "").strip()
    prefix = str(event.get("OutputPrefix") or "").strip()
    split_uri(source)
    split_uri(join(prefix, "x"))
    if source.endswith("/"):
        raise StagingError(f"ModelDataUrl {source} is a prefix: point it at the model.tar.gz object")
    digest, version = storage.sha256(source)
    target = frozen_uri(prefix, digest)
    storage.copy_version(source, target, version)
    return {"ModelDataUrl": target, "ModelSha256": digest}


def lambda_handler(event: Mapping[str, Any], context: Any = None) -> dict[str, str]:
    """The Lambda entry point."""
    import boto3

    return freeze(event, storage=S3Storage(boto3.client("s3"), kms_key_id=event.get("KmsKeyId")))

"""The object storage the pipeline's Lambda functions use: its interface, and S3 behind it.

Standard library and boto3 only (deployed inside the Lambda package). The local runner implements the
same interface over its folder object store (``pipeline/local/functions.py``).
"""
from __future__ import annotations

import hashlib
from typing import Protocol

CHUNK = 8 << 20


class StagingError(RuntimeError):
    """An object could not be read, copied or written (the message says which and why)."""


class ChangedError(StagingError):
    """The source object changed between being hashed and being copied."""


class Storage(Protocol):
    def copy(self, source_uri: str, target_uri: str) -> None:
        """Copy one object (StagingError when the source cannot be read)."""

    def list(self, prefix_uri: str) -> list[str]:
        """URIs of the objects under a prefix (or the one object named)."""

    def put_text(self, uri: str, text: str) -> None:
        """Write one object."""

    def sha256(self, uri: str) -> tuple[str, str]:
        """(hex SHA-256 of the object's bytes, a version tag of exactly those bytes)."""

    def copy_version(self, source_uri: str, target_uri: str, version: str) -> None:
        """Copy the source only if it is still the version hashed (ChangedError otherwise)."""


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``.

    >>> split_uri("s3://b/a/m.tar.gz")
    ('b', 'a/m.tar.gz')
    """
    if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:]:
        raise StagingError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name


class S3Storage:
    """Storage over the S3 API. Every write carries SSE-KMS when a key is given (S3 would otherwise use the
    bucket's default, which a KMS-only bucket policy refuses)."""

    def __init__(self, client, *, kms_key_id: str | None = None) -> None:
        self.client = client
        self.kms_key_id = kms_key_id or None

    def _encryption(self) -> dict[str, str]:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}

    def _fail(self, what: str, uri: str, error: Exception) -> StagingError:
        detail = getattr(error, "response", {}).get("Error", {})
        text = f"{detail.get('Code')}: {detail.get('Message')}" if detail else str(error)
        return StagingError(f"cannot {what} {uri}: {text}")

    def copy(self, source_uri: str, target_uri: str) -> None:
        self._copy(source_uri, target_uri, {})

    def copy_version(self, source_uri: str, target_uri: str, version: str) -> None:
        self._copy(source_uri, target_uri, {"CopySourceIfMatch": version})

    def _copy(self, source_uri: str, target_uri: str, condition: dict[str, str]) -> None:
        from botocore.exceptions import ClientError

        (source_bucket, source_key), (bucket, key) = split_uri(source_uri), split_uri(target_uri)
        try:
            # Managed copy: server-side, multipart (UploadPartCopy) above 8 MB, so objects over 5 GB copy too.
            self.client.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key,
                             ExtraArgs={**condition, **self._encryption()})
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if condition and code in ("PreconditionFailed", "412"):
                raise ChangedError(f"{source_uri} changed while it was being frozen; run again") from None
            raise self._fail("copy", source_uri, error) from None

    def list(self, prefix_uri: str) -> list[str]:
        from botocore.exceptions import ClientError

        if not prefix_uri.startswith("s3://"):
            raise StagingError(f"not an s3:// URI: {prefix_uri!r}")
        bucket, _, prefix = prefix_uri[5:].partition("/")
        keys = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
        except ClientError as error:
            raise self._fail("list", prefix_uri, error) from None
        return [f"s3://{bucket}/{key}" for key in sorted(keys)]

    def put_text(self, uri: str, text: str) -> None:
        from botocore.exceptions import ClientError

        bucket, key = split_uri(uri)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=text.encode(), ContentType="application/json",
                                   **self._encryption())
        except ClientError as error:
            raise self._fail("write", uri, error) from None

    def sha256(self, uri: str) -> tuple[str, str]:
        from botocore.exceptions import ClientError

        bucket, key = split_uri(uri)
        digest = hashlib.sha256()
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            for chunk in iter(lambda: response["Body"].read(CHUNK), b""):
                digest.update(chunk)
        except ClientError as error:
            raise self._fail("read", uri, error) from None
        # The ETag names the bytes just read: copying on the condition that it still matches copies them.
        return digest.hexdigest(), response["ETag"]

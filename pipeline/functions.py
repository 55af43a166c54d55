"""Deploy the pipeline's Lambda functions (today: the champion resolver), idempotently and content-addressed.

The definition only names a function's ARN (``PipelineConfig.champion_function_arn``), so building it stays
offline; ``pipeline.upsert`` calls :func:`deploy_champion_function` before creating or updating the pipeline.
"""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import PipelineConfig

HANDLER = "resolve_champion.lambda_handler"
RUNTIME = "python3.12"
TIMEOUT_SECONDS = 900  # server-side copies of a large model artifact can take minutes
MEMORY_MB = 256
_SOURCE = Path(__file__).parent / "lambdas" / "resolve_champion.py"


@dataclass(frozen=True)
class FunctionDeployment:
    arn: str
    action: str  # "created" | "updated" | "unchanged"
    code_sha256: str


def function_zip() -> bytes:
    """The deployment package: the one handler file, with fixed timestamps so equal code gives equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("resolve_champion.py", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, _SOURCE.read_bytes())
    return buffer.getvalue()


def code_sha256(package: bytes) -> str:
    """Lambda's CodeSha256: base64 of the package's SHA-256."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def deploy_champion_function(client, config: PipelineConfig) -> FunctionDeployment:
    """Create the function, or update its code/configuration when they differ; returns what was done."""
    from botocore.exceptions import ClientError

    package = function_zip()
    digest = code_sha256(package)
    name = config.champion_function_name
    settings = {
        "Role": config.champion_function_role_arn,
        "Handler": HANDLER,
        "Runtime": RUNTIME,
        "Timeout": TIMEOUT_SECONDS,
        "MemorySize": MEMORY_MB,
        "Description": f"Finds the champion for pipeline {config.pipeline_name} (latest Approved model package).",
    }
    try:
        current = client.get_function(FunctionName=name)["Configuration"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        tags = dict(config.tags)
        response = client.create_function(
            FunctionName=name, Code={"ZipFile": package}, Publish=False, **settings, **({"Tags": tags} if tags else {})
        )
        return FunctionDeployment(response["FunctionArn"], "created", digest)
    action = "unchanged"
    if current.get("CodeSha256") != digest:
        client.update_function_code(FunctionName=name, ZipFile=package)
        _wait_updated(client, name)
        action = "updated"
    if any(current.get(key) != value for key, value in settings.items()):
        client.update_function_configuration(FunctionName=name, **settings)
        _wait_updated(client, name)
        action = "updated"
    return FunctionDeployment(current["FunctionArn"], action, digest)


def _wait_updated(client, name: str) -> None:
    # A function accepts one update at a time; wait until the last one has been applied.
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})

"""Deploy the pipeline's Lambda functions, idempotently and content-addressed.

One deployment package (every module of ``pipeline/lambdas/``, flat, and ``processing_scripts/windows.py``,
which the quality check's function shares with the container) serves every function; each has its own
handler. The definition only names the functions' ARNs (``PipelineConfig.function_arn``), so building
it stays offline; ``pipeline.upsert`` calls :func:`deploy_functions` before creating or updating the pipeline.
"""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import CHAMPION_FUNCTION, FREEZE_FUNCTION, MONITORED_VERSION_FUNCTION, PipelineConfig

RUNTIME = "python3.12"
# A LambdaStep may run for at most 10 minutes; a function allowed longer would be cut off by the step
# with a less clear error, so the function's own limit is the step's.
LAMBDA_STEP_LIMIT_SECONDS = 600
DESCRIPTION_LIMIT = 256  # Lambda's Description
_PACKAGE_DIR = Path(__file__).parents[1] / "lambdas"
# Modules of the processing scripts the functions import flat: standard library only, no relative imports
# (tests/test_upsert.py imports every handler from the package alone), so they are shipped, not copied.
SHARED_MODULES = (Path(__file__).parents[2] / "processing_scripts" / "windows.py",)


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function of the pipeline."""

    suffix: str  # name: <pipeline name>-<suffix>
    handler: str
    memory_mb: int
    what: str  # the Description's subject

    def description(self, config: PipelineConfig) -> str:
        text = f"{self.what} for SageMaker pipeline {config.pipeline_name}"
        # Pipeline names may be 256 characters; the Description may not.
        return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 3] + "..."


FUNCTIONS = (
    FunctionSpec(CHAMPION_FUNCTION, "resolve_champion.lambda_handler", 256,
                 "Finds the champion (latest Approved model package) and stages its files"),
    # Hashing streams the whole archive through the function: more memory gives more network bandwidth.
    FunctionSpec(FREEZE_FUNCTION, "freeze_model.lambda_handler", 1024,
                 "Copies the model under evaluation to its content-addressed key"),
    FunctionSpec(MONITORED_VERSION_FUNCTION, "resolve_monitored_version.lambda_handler", 256,
                 "Finds the deployed (latest Approved) model version and stages a quality check's inputs"),
)


@dataclass(frozen=True)
class FunctionDeployment:
    name: str
    arn: str
    action: str  # "created" | "updated" | "unchanged"
    code_sha256: str


def package_files() -> list[Path]:
    """The modules that go into the deployment package (no tests, no caches), in the order they are zipped."""
    return sorted([*(p for p in _PACKAGE_DIR.glob("*.py") if p.name != "__init__.py"), *SHARED_MODULES],
                  key=lambda p: p.name)


def function_zip() -> bytes:
    """The deployment package, with fixed timestamps so that equal code gives equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in package_files():
            info = zipfile.ZipInfo(path.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_sha256(package: bytes) -> str:
    """Lambda's CodeSha256: base64 of the package's SHA-256."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def function_settings(spec: FunctionSpec, config: PipelineConfig) -> dict[str, object]:
    """CreateFunction/UpdateFunctionConfiguration settings of one function."""
    return {
        "Role": config.champion_function_role_arn,
        "Handler": spec.handler,
        "Runtime": RUNTIME,
        "Timeout": LAMBDA_STEP_LIMIT_SECONDS,
        "MemorySize": spec.memory_mb,
        "Description": spec.description(config),
    }


def deploy_functions(client, config: PipelineConfig) -> list[FunctionDeployment]:
    """Create or update every function of the pipeline; returns what was done to each."""
    package = function_zip()
    return [_deploy(client, config, spec, package) for spec in FUNCTIONS]


def _deploy(client, config: PipelineConfig, spec: FunctionSpec, package: bytes) -> FunctionDeployment:
    from botocore.exceptions import ClientError

    digest = code_sha256(package)
    name = config.function_name(spec.suffix)
    settings = function_settings(spec, config)
    try:
        described = client.get_function(FunctionName=name)
        current = described["Configuration"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        tags = dict(config.tags)
        response = client.create_function(
            FunctionName=name, Code={"ZipFile": package}, Publish=False, **settings, **({"Tags": tags} if tags else {})
        )
        return FunctionDeployment(name, response["FunctionArn"], "created", digest)
    action = "unchanged"
    if current.get("CodeSha256") != digest:
        client.update_function_code(FunctionName=name, ZipFile=package)
        _wait_updated(client, name)
        action = "updated"
    if any(current.get(key) != value for key, value in settings.items()):
        client.update_function_configuration(FunctionName=name, **settings)
        _wait_updated(client, name)
        action = "updated"
    # A function created before the project's tags were configured gets them now (others' tags are kept).
    missing = {key: value for key, value in config.tags if (described.get("Tags") or {}).get(key) != value}
    if missing:
        client.tag_resource(Resource=current["FunctionArn"], Tags=missing)
        action = "updated"
    return FunctionDeployment(name, current["FunctionArn"], action, digest)


def _wait_updated(client, name: str) -> None:
    # A function accepts one update at a time; wait until the last one has been applied.
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})

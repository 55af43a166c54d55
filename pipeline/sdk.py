"""How this project drives the SageMaker SDK: the environment it needs, a session that records steps
instead of starting jobs, offline building (no IAM calls), quiet logging, and the definition JSON."""
from __future__ import annotations

import contextlib
import functools
import json
import os
from typing import TYPE_CHECKING, Iterator

from pipeline.config import PipelineConfig

if TYPE_CHECKING:
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline

# The SDK's switch for usage telemetry (a background HTTP call); see PipelineConfig.sdk_telemetry.
_TELEMETRY_OPT_OUT = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def prepare_sdk_environment(region: str) -> None:
    """Set what importing ``sagemaker.mlops``/``sagemaker.serve`` needs (they build a client at import)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)


@contextlib.contextmanager
def offline_building() -> Iterator[None]:
    """How the SDK must behave while a definition is built.

    * no IAM calls: the SDK validates roles unless told not to;
    * the session's config (our telemetry opt-out) checked against the SDK's config schema without
      re-checking that schema itself on every config lookup, which the SDK does some 70 times per build
      and which costs most of the build's time (about 6 s of 7); the config is still validated.
    """
    from sagemaker.core.config.config_manager import SageMakerConfig

    previous = os.environ.get("SAGEMAKER_VALIDATE_ROLE")
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    original = SageMakerConfig.__dict__["validate_sagemaker_config"]
    SageMakerConfig.validate_sagemaker_config = staticmethod(_config_validator().validate)
    try:
        yield
    finally:
        SageMakerConfig.validate_sagemaker_config = original
        if previous is None:
            os.environ.pop("SAGEMAKER_VALIDATE_ROLE", None)
        else:
            os.environ["SAGEMAKER_VALIDATE_ROLE"] = previous


@functools.lru_cache(maxsize=1)
def _config_validator():
    """A validator for the SDK's config schema; the schema is checked once, here."""
    import jsonschema
    from sagemaker.core.config.config_schema import SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA

    validator_class = jsonschema.validators.validator_for(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    validator_class.check_schema(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)
    return validator_class(SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA)


def create_session(config: PipelineConfig, boto_session: "boto3.Session | None" = None) -> "PipelineSession":
    """A PipelineSession that records step arguments instead of starting jobs."""
    prepare_sdk_environment(config.region)
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    boto_session = boto_session or boto3.Session(region_name=config.region)
    kwargs = {} if config.sdk_telemetry else {"sagemaker_config": _TELEMETRY_OPT_OUT}
    return PipelineSession(boto_session=boto_session, default_bucket=config.bucket, **kwargs)


def definition_json(pipeline: "Pipeline") -> dict:
    """The parsed definition JSON (what SageMaker stores and the local runner interprets)."""
    import warnings

    with offline_building(), warnings.catch_warnings():
        # The Lambda functions are deployed by upsert, not by the SDK: naming only their ARNs is intended.
        warnings.filterwarnings("ignore", message="Lambda function won't be updated")
        return json.loads(pipeline.definition())


def quiet_sdk_logging(verbose: bool = False) -> None:
    """The SDK logs INFO chatter and per-step warnings about fields it drops; keep CLIs readable."""
    import logging
    import warnings

    # Import first: the SDK configures its loggers at import time.
    import sagemaker.mlops.workflow.pipeline  # noqa: F401
    import sagemaker.serve.model_builder  # noqa: F401

    level = logging.INFO if verbose else logging.ERROR
    # The SDK sets levels on its own child loggers, so setting the parent is not enough.
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in ("sagemaker", "botocore", "boto3")]
    for name in ["sagemaker", *names]:
        logging.getLogger(name).setLevel(level)
    if not verbose:
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")

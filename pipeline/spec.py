"""One description of each pipeline, so that printing its definition, deploying it, running it locally
and scheduling it are written once for all of them (``pipeline/pipelines/`` lists them)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from pipeline.code_bundle import CodeBundle, processing_code_bundle
from pipeline.config import PipelineConfig
from processing_scripts.parameters import Parameter

if TYPE_CHECKING:
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from steps.job import JobDefaults


@dataclass(frozen=True)
class LocalInput:
    """A parameter the local runner takes as a local file or folder (``--<flag>``), copied into its store."""

    flag: str
    parameter: str
    help: str
    required: bool = True
    folder: bool = False  # a file, or a folder of files
    required_files: tuple[str, ...] = ()  # a folder must hold these


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline: its subcommand ``key``, description, name (from the settings), create function
    (settings + job defaults → SDK Pipeline), parameter table, and what upsert deploys with it
    (``functions``: the Lambda functions and the model package group; ``schedulable``: a schedule), and
    the parameters a local run takes as files (``local_inputs``)."""

    key: str
    description: str
    name: Callable[[PipelineConfig], str]
    create: Callable[[PipelineConfig, "JobDefaults"], "Pipeline"]
    parameters: tuple[Parameter, ...]
    functions: bool = False
    schedulable: bool = False
    local_inputs: tuple[LocalInput, ...] = ()
    # A monitoring pipeline's alarm: the FailStep that raises it and what it means (retraining rules match it).
    alarm_step: str | None = None
    alarm_kind: str | None = None

    def pipeline(self, config: PipelineConfig, *, session: "PipelineSession | None" = None,
                 code: CodeBundle | None = None) -> "Pipeline":
        """The SDK Pipeline, built offline (no IAM or network calls)."""
        from pipeline.sdk import create_session, offline_building

        session = session or create_session(config)
        with offline_building():
            return self.create(config, job_defaults(config, session, code or processing_code_bundle()))

    def definition(self, config: PipelineConfig, *, code: CodeBundle | None = None) -> dict:
        """The definition JSON SageMaker stores and the local runner interprets (a fresh dict each call)."""
        return json.loads(_definition_text(self, config, code or processing_code_bundle()))


@functools.lru_cache(maxsize=8)
def _definition_text(spec: PipelineSpec, config: PipelineConfig, code: CodeBundle) -> str:
    # Memoised: a pure function of (spec, config, code) that costs about a second in the SDK.
    from pipeline.sdk import definition_json

    return json.dumps(definition_json(spec.pipeline(config, code=code)))


def job_defaults(config: PipelineConfig, session: "PipelineSession", code: CodeBundle) -> "JobDefaults":
    """What every step of a pipeline shares, from the settings."""
    from pipeline.aws.functions import LAMBDA_STEP_LIMIT_SECONDS
    from steps.job import JobDefaults
    from steps.model import sklearn_image_uri

    return JobDefaults(
        session=session,
        role_arn=config.role_arn,
        # monitor.py needs only numpy/pandas, so the drift check runs in the evaluation's image too.
        image_uri=sklearn_image_uri(region=config.region, version=config.sklearn_image_version),
        code_uri=config.code_uri(code.digest),
        volume_size_gb=config.processing_volume_gb,
        kms_key_id=config.kms_key_id,
        function_timeout_seconds=LAMBDA_STEP_LIMIT_SECONDS,
    )

"""What every step of one pipeline shares, given once to each step factory (as TFX components get only
their inputs, our factories get their data dependencies and this)."""
from __future__ import annotations

from dataclasses import dataclass

from sagemaker.core.workflow.pipeline_context import PipelineSession


@dataclass(frozen=True)
class JobDefaults:
    """The session the steps are recorded in, the execution role, the processing image and code bundle,
    the jobs' volume size, the KMS key of volumes and outputs (None: the account's default), and how
    long a Lambda step may run."""

    session: PipelineSession
    role_arn: str
    image_uri: str
    code_uri: str
    volume_size_gb: int
    kms_key_id: str | None
    function_timeout_seconds: int

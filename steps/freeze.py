"""FreezeModel step: a LambdaStep that copies the model under evaluation to its content-addressed key.

Every later step takes the model from this step's ``ModelDataUrl`` output, never from the parameter, so
what is transformed, evaluated and registered is the archive whose SHA-256 is in its key (the function
is ``pipeline/lambdas/freeze_model.py``, deployed by ``pipeline.upsert``).
"""
from __future__ import annotations

from dataclasses import dataclass

from sagemaker.core.lambda_helper import Lambda
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import Properties
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep

MODEL_DATA_OUTPUT = "ModelDataUrl"
SHA256_OUTPUT = "ModelSha256"


@dataclass(frozen=True)
class FreezeStep:
    step: LambdaStep

    @property
    def model_data_url(self) -> Properties:
        """s3://.../<sha256>/model.tar.gz: the frozen copy every later step uses."""
        return self.step.properties.Outputs[MODEL_DATA_OUTPUT]

    @property
    def sha256(self) -> Properties:
        return self.step.properties.Outputs[SHA256_OUTPUT]


def create_freeze_step(
    *,
    name: str,
    display_name: str,
    function_arn: str,
    model_data_url: ParameterString,
    output_prefix: str,
    kms_key_id: str | None,
    timeout_seconds: int,
    session: PipelineSession,
) -> FreezeStep:
    """Invoke the (already deployed) freezing function; the definition only names its ARN."""
    step = LambdaStep(
        name=name,
        display_name=display_name,
        description="Copy ModelDataUrl to a key named by its SHA-256; later steps use only that copy.",
        lambda_func=Lambda(function_arn=function_arn, timeout=timeout_seconds, session=session),
        inputs={"ModelDataUrl": model_data_url, "OutputPrefix": output_prefix, "KmsKeyId": kms_key_id or ""},
        outputs=[
            LambdaOutput(output_name=output, output_type=LambdaOutputTypeEnum.String)
            for output in (MODEL_DATA_OUTPUT, SHA256_OUTPUT)
        ],
    )
    return FreezeStep(step=step)

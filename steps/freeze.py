"""FreezeModel step: a LambdaStep that copies the model under evaluation to its content-addressed key.

Every later step takes the model from this step's ``ModelDataUrl`` output, never from the parameter, so
what is transformed, evaluated and registered is the archive whose SHA-256 is in its key (the function
is ``pipeline/lambdas/freeze_model.py``, deployed by ``pipeline.upsert``).
"""
from __future__ import annotations

from dataclasses import dataclass

from typing import Mapping

from sagemaker.core.workflow.parameters import Parameter
from sagemaker.core.workflow.properties import Properties
from sagemaker.mlops.workflow.lambda_step import LambdaStep

from steps.function import function_step
from steps.job import JobDefaults

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
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    function_arn: str,
    parameters: Mapping[str, Parameter],
    output_prefix: str,
) -> FreezeStep:
    """Invoke the (already deployed) freezing function on ``ModelDataUrl``; the definition only names its ARN."""
    step = function_step(
        job,
        name=name,
        display_name=display_name,
        description="Copy ModelDataUrl to a key named by its SHA-256; later steps use only that copy.",
        function_arn=function_arn,
        inputs={"ModelDataUrl": parameters["ModelDataUrl"], "OutputPrefix": output_prefix,
                "KmsKeyId": job.kms_key_id or ""},
        outputs=(MODEL_DATA_OUTPUT, SHA256_OUTPUT),
    )
    return FreezeStep(step=step)

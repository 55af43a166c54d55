"""What the pipeline's Lambda steps share: invoking an already deployed function with string outputs."""
from __future__ import annotations

from typing import Mapping, Sequence

from sagemaker.core.lambda_helper import Lambda
from sagemaker.mlops.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep

from steps.job import JobDefaults


def function_step(
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    description: str,
    function_arn: str,
    inputs: Mapping[str, object],
    outputs: Sequence[str],
) -> LambdaStep:
    """A LambdaStep naming only the function's ARN (``pipeline.upsert`` deploys the code), so building the
    definition needs no AWS access; every output is a String."""
    return LambdaStep(
        name=name,
        display_name=display_name,
        description=description,
        lambda_func=Lambda(function_arn=function_arn, timeout=job.function_timeout_seconds, session=job.session),
        inputs=dict(inputs),
        outputs=[LambdaOutput(output_name=output, output_type=LambdaOutputTypeEnum.String) for output in outputs],
    )

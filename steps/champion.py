"""Champion lookup step: a LambdaStep that finds the latest Approved version and stages its files.

The processing container may not call AWS APIs, so the Model Registry is read here, by the function
in ``pipeline/lambdas/resolve_champion.py`` (deployed by ``pipeline.upsert``). Its ``ContextUri`` output
becomes an input of the evaluation step, so the data dependency is explicit in the definition.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import Parameter
from sagemaker.core.workflow.properties import Properties
from sagemaker.mlops.workflow.lambda_step import LambdaStep

from steps.function import function_step
from steps.job import JobDefaults

# The function's event keys and outputs (pipeline/lambdas/resolve_champion.py reads and writes these).
CONTEXT_OUTPUT = "ContextUri"
CHAMPION_ARN_OUTPUT = "ChampionArn"
CHAMPION_VERSION_OUTPUT = "ChampionVersion"


@dataclass(frozen=True)
class ChampionStep:
    step: LambdaStep

    @property
    def context_uri(self) -> Properties:
        """S3 prefix holding context.json, champion/ and validation/ for this execution."""
        return self.step.properties.Outputs[CONTEXT_OUTPUT]

    @property
    def champion_arn(self) -> Properties:
        return self.step.properties.Outputs[CHAMPION_ARN_OUTPUT]


def create_champion_step(
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    function_arn: str,
    parameters: Mapping[str, Parameter],
    output_uri: Join,
    monitoring_history_uri: str = "",
) -> ChampionStep:
    """Invoke the (already deployed) champion-resolving function for ``ModelPackageGroupName`` (staging
    ``ValidationDataUrl`` too, and the deployed version's quality history at ``monitoring_history_uri`` when it
    exists); the definition only names its ARN."""
    step = function_step(
        job,
        name=name,
        display_name=display_name,
        description="Find the champion (latest Approved version) and stage its evaluation and model.",
        function_arn=function_arn,
        inputs={
            "ModelPackageGroupName": parameters["ModelPackageGroupName"],
            "ValidationDataUrl": parameters["ValidationDataUrl"],
            "OutputUri": output_uri,
            "KmsKeyId": job.kms_key_id or "",
            "MonitoringHistoryUri": monitoring_history_uri,
        },
        outputs=(CONTEXT_OUTPUT, CHAMPION_ARN_OUTPUT, CHAMPION_VERSION_OUTPUT),
    )
    return ChampionStep(step=step)

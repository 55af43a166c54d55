"""Batch Transform step: score the test set, keeping each prediction on its label's line."""
from __future__ import annotations

from sagemaker.core.transformer import Transformer
from sagemaker.core.workflow.functions import Join
from typing import Mapping

from sagemaker.core.workflow.parameters import Parameter, ParameterInteger
from sagemaker.core.workflow.properties import Properties
from sagemaker.mlops.workflow.steps import TransformStep

from steps.job import JobDefaults

# Test CSV rows are `label,features...`: send only the features, join the score back onto the input
# row, keep `label,score`. This is what keeps predictions aligned with labels.
INPUT_FILTER = "$[1:]"
JOIN_SOURCE = "Input"
OUTPUT_FILTER = "$[0,-1]"
CONTENT_TYPE = "text/csv"


class _TransformStep(TransformStep):
    """TransformStep whose instance count is a pipeline parameter.

    The SDK v3 Transformer validates ``instance_count`` as a plain int (pydantic), although the
    service accepts a parameter reference there; the reference is put in after validation.
    """

    def __init__(self, *, instance_count: ParameterInteger, **kwargs):
        super().__init__(**kwargs)
        self._instance_count = instance_count

    @property
    def arguments(self):
        arguments = super().arguments
        arguments["TransformResources"]["InstanceCount"] = self._instance_count
        return arguments


def create_transform_step(
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    parameters: Mapping[str, Parameter],
    model_name: Properties,
    output_path: Join,
    max_payload_mb: int,
) -> TransformStep:
    """Transform ``TestDataUrl`` with the model, writing ``<file>.out`` lines ``label,score``
    (TransformInstanceType, TransformInstanceCount: the pipeline's parameters)."""
    transformer = Transformer(
        model_name=model_name,
        instance_type=parameters["TransformInstanceType"],
        instance_count=1,  # replaced by the parameter, see _TransformStep
        strategy="MultiRecord",
        max_payload=max_payload_mb,
        assemble_with="Line",
        accept=CONTENT_TYPE,
        output_path=output_path,
        output_kms_key=job.kms_key_id,
        volume_kms_key=job.kms_key_id,
        sagemaker_session=job.session,
    )
    return _TransformStep(
        name=name,
        display_name=display_name,
        description="Score every test row without its label; output lines 'label,score' in input order.",
        instance_count=parameters["TransformInstanceCount"],
        step_args=transformer.transform(
            data=parameters["TestDataUrl"],
            data_type="S3Prefix",
            content_type=CONTENT_TYPE,
            split_type="Line",
            input_filter=INPUT_FILTER,
            join_source=JOIN_SOURCE,
            output_filter=OUTPUT_FILTER,
        ),
    )

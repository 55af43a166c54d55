"""Evaluation step: run processing_scripts/evaluate.py on the transform output."""
from __future__ import annotations

from dataclasses import dataclass

from sagemaker.core.processing import Processor
from sagemaker.core.shapes import (
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import Properties, PropertyFile
from sagemaker.mlops.workflow.steps import ProcessingStep

from processing_scripts.gate import GATE_RULES

CONTAINER_ROOT = "/opt/ml/processing"
CODE_DIR = f"{CONTAINER_ROOT}/input/code"
PREDICTIONS_DIR = f"{CONTAINER_ROOT}/input/predictions"
EVALUATION_DIR = f"{CONTAINER_ROOT}/evaluation"
ENTRYPOINT_SCRIPT = "evaluate.py"

# Names other steps use to find this step's output and property file (never positions).
EVALUATION_OUTPUT = "evaluation"
EVALUATION_FILE = "evaluation.json"
PROPERTY_FILE_NAME = "EvaluationReport"


@dataclass(frozen=True)
class EvaluationStep:
    """The processing step plus the handles later steps read from it."""

    step: ProcessingStep
    report: PropertyFile

    @property
    def evaluation_json_uri(self) -> Join:
        """S3 URI of evaluation.json, looked up by output name."""
        output = self.step.properties.ProcessingOutputConfig.Outputs[EVALUATION_OUTPUT]
        return Join(on="/", values=[output.S3Output.S3Uri, EVALUATION_FILE])


def _as_text(value) -> Join:
    """Container arguments must be strings; Std:Join renders a numeric parameter as text."""
    return Join(on="", values=[value])


def create_evaluation_step(
    *,
    name: str,
    image_uri: str,
    role_arn: str,
    code_uri: str,
    predictions_uri: Properties,
    output_uri: Join,
    instance_type: ParameterString,
    decision_threshold: ParameterFloat,
    gate_thresholds: dict[str, ParameterFloat],
    bootstrap_resamples: int,
    volume_size_gb: int,
    kms_key_id: str | None,
    session: PipelineSession,
) -> EvaluationStep:
    """A ProcessingStep computing evaluation.json (declared as a PropertyFile) and the report."""
    processor = Processor(
        role=role_arn,
        image_uri=image_uri,
        instance_count=1,
        instance_type=instance_type,
        entrypoint=["python3", f"{CODE_DIR}/{ENTRYPOINT_SCRIPT}"],
        volume_size_in_gb=volume_size_gb,
        volume_kms_key=kms_key_id,
        output_kms_key=kms_key_id,
        # Python in the container must not buffer the progress lines CloudWatch shows.
        env={"PYTHONUNBUFFERED": "1"},
        sagemaker_session=session,
    )
    arguments = [
        "--predictions", PREDICTIONS_DIR,
        "--output-dir", EVALUATION_DIR,
        "--threshold", _as_text(decision_threshold),
        "--bootstrap", str(bootstrap_resamples),
    ]
    for rule in GATE_RULES:
        arguments += [rule.cli_flag, _as_text(gate_thresholds[rule.metric])]
    report = PropertyFile(
        name=PROPERTY_FILE_NAME, output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE
    )
    step = ProcessingStep(
        name=name,
        step_args=processor.run(
            inputs=[
                ProcessingInput(
                    input_name="predictions",
                    s3_input=ProcessingS3Input(
                        s3_uri=predictions_uri,
                        local_path=PREDICTIONS_DIR,
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
                ProcessingInput(
                    input_name="code",
                    s3_input=ProcessingS3Input(
                        s3_uri=code_uri,
                        local_path=CODE_DIR,
                        s3_data_type="S3Prefix",
                        s3_input_mode="File",
                    ),
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name=EVALUATION_OUTPUT,
                    s3_output=ProcessingS3Output(
                        s3_uri=output_uri,
                        local_path=EVALUATION_DIR,
                        s3_upload_mode="EndOfJob",
                    ),
                )
            ],
            arguments=arguments,
        ),
        property_files=[report],
    )
    return EvaluationStep(step=step, report=report)

"""Evaluation step: run processing_scripts/evaluate.py on the transform output and decide the gate."""
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
from sagemaker.core.workflow.parameters import Parameter, ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import Properties, PropertyFile
from sagemaker.mlops.workflow.steps import ProcessingStep

from processing_scripts.gate import GATE_PARAMETERS

CONTAINER_ROOT = "/opt/ml/processing"
CODE_DIR = f"{CONTAINER_ROOT}/input/code"
PREDICTIONS_DIR = f"{CONTAINER_ROOT}/input/predictions"
TEST_DATA_DIR = f"{CONTAINER_ROOT}/input/test"
MODEL_DIR = f"{CONTAINER_ROOT}/input/model"
CONTEXT_DIR = f"{CONTAINER_ROOT}/input/context"
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


def _s3_input(name: str, uri, local_path: str) -> ProcessingInput:
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(s3_uri=uri, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"),
    )


def create_evaluation_step(
    *,
    name: str,
    image_uri: str,
    role_arn: str,
    code_uri: str,
    predictions_uri: Properties,
    test_data_uri: ParameterString,
    model_data_uri: ParameterString,
    context_uri: Properties,
    output_uri: Join,
    instance_type: ParameterString,
    decision_threshold: ParameterFloat,
    threshold_objective: ParameterString,
    gate: dict[str, Parameter],
    bootstrap_resamples: int,
    volume_size_gb: int,
    kms_key_id: str | None,
    session: PipelineSession,
) -> EvaluationStep:
    """A ProcessingStep computing evaluation.json (declared as a PropertyFile), the gate decision and the report.

    Inputs by name: the transform's predictions, the code, the test data and the challenger's model (to
    score the champion on the same rows, and the challenger on validation data), and the champion
    context staged by the champion step.
    """
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
        "--test-data", TEST_DATA_DIR,
        "--model", MODEL_DIR,
        "--context", CONTEXT_DIR,
        "--output-dir", EVALUATION_DIR,
        "--threshold", _as_text(decision_threshold),
        "--threshold-objective", threshold_objective,
        "--bootstrap", str(bootstrap_resamples),
    ]
    for spec in GATE_PARAMETERS:
        arguments += [spec.cli_flag, _as_text(gate[spec.name])]
    report = PropertyFile(
        name=PROPERTY_FILE_NAME, output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE
    )
    step = ProcessingStep(
        name=name,
        step_args=processor.run(
            inputs=[
                _s3_input("predictions", predictions_uri, PREDICTIONS_DIR),
                _s3_input("code", code_uri, CODE_DIR),
                _s3_input("test-data", test_data_uri, TEST_DATA_DIR),
                _s3_input("model", model_data_uri, MODEL_DIR),
                _s3_input("context", context_uri, CONTEXT_DIR),
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

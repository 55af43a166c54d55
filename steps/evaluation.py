"""Evaluation step: run processing_scripts/evaluate.py on the transform output and decide the gate."""
from __future__ import annotations

from dataclasses import dataclass

from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import Parameter, ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import Properties, PropertyFile
from sagemaker.mlops.workflow.steps import ProcessingStep

from processing_scripts.gate import GATE_PARAMETERS
from steps.processing import CONTAINER_ROOT, as_text, code_input, s3_input, s3_output, script_processor

PREDICTIONS_DIR = f"{CONTAINER_ROOT}/input/predictions"
TEST_DATA_DIR = f"{CONTAINER_ROOT}/input/test"
MODEL_DIR = f"{CONTAINER_ROOT}/input/model"
CONTEXT_DIR = f"{CONTAINER_ROOT}/input/context"
EVALUATION_DIR = f"{CONTAINER_ROOT}/evaluation"
ENTRYPOINT_SCRIPT = "evaluate"

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


def create_evaluation_step(
    *,
    name: str,
    display_name: str,
    image_uri: str,
    role_arn: str,
    code_uri: str,
    predictions_uri: Properties,
    test_data_uri: ParameterString,
    model_data_uri: Properties,
    model_sha256: Properties,
    model_package_group_name: ParameterString,
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
    processor = script_processor(
        script=ENTRYPOINT_SCRIPT, image_uri=image_uri, role_arn=role_arn, instance_type=instance_type,
        volume_size_gb=volume_size_gb, kms_key_id=kms_key_id, session=session,
    )
    arguments = [
        "--predictions", PREDICTIONS_DIR,
        "--test-data", TEST_DATA_DIR,
        "--model", MODEL_DIR,
        "--context", CONTEXT_DIR,
        # What was evaluated, for the decision record and the report; the archive is checked against it.
        "--model-uri", model_data_uri,
        "--model-sha256", model_sha256,
        "--model-package-group", model_package_group_name,
        "--execution-id", ExecutionVariables.PIPELINE_EXECUTION_ID,
        "--evaluated-at", as_text(ExecutionVariables.START_DATETIME),
        "--output-dir", EVALUATION_DIR,
        "--threshold", as_text(decision_threshold),
        "--threshold-objective", threshold_objective,
        "--bootstrap", str(bootstrap_resamples),
    ]
    for spec in GATE_PARAMETERS:
        arguments += [spec.cli_flag, as_text(gate[spec.name])]
    report = PropertyFile(
        name=PROPERTY_FILE_NAME, output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE
    )
    step = ProcessingStep(
        name=name,
        display_name=display_name,
        description="Metrics with confidence intervals, champion comparison and the gate decision: evaluation.json, report.html.",
        step_args=processor.run(
            inputs=[
                s3_input("predictions", predictions_uri, PREDICTIONS_DIR),
                code_input(code_uri),
                s3_input("test-data", test_data_uri, TEST_DATA_DIR),
                s3_input("model", model_data_uri, MODEL_DIR),
                s3_input("context", context_uri, CONTEXT_DIR),
            ],
            outputs=[s3_output(EVALUATION_OUTPUT, output_uri, EVALUATION_DIR)],
            arguments=arguments,
        ),
        property_files=[report],
    )
    return EvaluationStep(step=step, report=report)

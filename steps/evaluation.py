"""Evaluation step: run processing_scripts/evaluate.py on the transform output and decide the gate."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import Parameter
from sagemaker.core.workflow.properties import Properties, PropertyFile
from sagemaker.mlops.workflow.steps import ProcessingStep

from processing_scripts.gate import GATE_PARAMETERS
from processing_scripts.model_quality_constraints import CONSTRAINTS_FILE
from steps.job import JobDefaults
from steps.processing import CONTAINER_ROOT, as_text, processing_step, s3_input, s3_output

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

    def _output_file(self, name: str) -> Join:
        output = self.step.properties.ProcessingOutputConfig.Outputs[EVALUATION_OUTPUT]
        return Join(on="/", values=[output.S3Output.S3Uri, name])

    @property
    def evaluation_json_uri(self) -> Join:
        """S3 URI of evaluation.json, looked up by output name."""
        return self._output_file(EVALUATION_FILE)

    @property
    def constraints_uri(self) -> Join:
        """S3 URI of the model-quality constraints.json written beside evaluation.json (same output, by name)."""
        return self._output_file(CONSTRAINTS_FILE)


def create_evaluation_step(
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    parameters: Mapping[str, Parameter],
    predictions_uri: Properties,
    model_data_uri: Properties,
    model_sha256: Properties,
    context_uri: Properties,
    output_uri: Join,
    bootstrap_resamples: int,
) -> EvaluationStep:
    """A ProcessingStep computing evaluation.json (declared as a PropertyFile), the gate decision and the report.

    Inputs by name: the transform's predictions, the code, the test data and the challenger's model (to
    score the champion on the same rows, and the challenger on validation data), and the champion
    context staged by the champion step. ``parameters``: the pipeline's, by name (TestDataUrl,
    ModelPackageGroupName, ProcessingInstanceType, DecisionThreshold, ThresholdObjective, the gate's).
    """
    arguments = [
        "--predictions", PREDICTIONS_DIR,
        "--test-data", TEST_DATA_DIR,
        "--model", MODEL_DIR,
        "--context", CONTEXT_DIR,
        # What was evaluated, for the decision record and the report; the archive is checked against it.
        "--model-uri", model_data_uri,
        "--model-sha256", model_sha256,
        "--model-package-group", parameters["ModelPackageGroupName"],
        "--execution-id", ExecutionVariables.PIPELINE_EXECUTION_ID,
        "--evaluated-at", as_text(ExecutionVariables.START_DATETIME),
        "--output-dir", EVALUATION_DIR,
        "--threshold", as_text(parameters["DecisionThreshold"]),
        "--threshold-objective", parameters["ThresholdObjective"],
        "--bootstrap", str(bootstrap_resamples),
    ]
    for spec in GATE_PARAMETERS:
        arguments += [spec.cli_flag, as_text(parameters[spec.name])]
    report = PropertyFile(
        name=PROPERTY_FILE_NAME, output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE
    )
    step = processing_step(
        job, name=name, display_name=display_name, script=ENTRYPOINT_SCRIPT,
        description="Metrics with confidence intervals, champion comparison and the gate decision: evaluation.json, report.html.",
        instance_type=parameters["ProcessingInstanceType"],
        inputs=[
            s3_input("predictions", predictions_uri, PREDICTIONS_DIR),
            s3_input("test-data", parameters["TestDataUrl"], TEST_DATA_DIR),
            s3_input("model", model_data_uri, MODEL_DIR),
            s3_input("context", context_uri, CONTEXT_DIR),
        ],
        outputs=[s3_output(EVALUATION_OUTPUT, output_uri, EVALUATION_DIR)],
        arguments=arguments,
        property_files=(report,),
    )
    return EvaluationStep(step=step, report=report)

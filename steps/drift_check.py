"""Drift check: run processing_scripts/monitor.py ``check`` against a baseline, then pass or fail the execution.

The processing job always exits 0 once its outputs are written (violations or not): a non-zero exit
would fail the step with only "AlgorithmError" as the reason. The ConditionStep reads
``drift_status.json`` by JSON path instead, and the FailStep's message names the drifted features.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sagemaker.core.workflow.conditions import ConditionEquals
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import Parameter
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.steps import ProcessingStep

from steps.job import JobDefaults
from steps.processing import CONTAINER_ROOT, as_text, processing_step, s3_input, s3_output

# Model Monitor's container layout, which monitor.py's defaults also follow; code where the evaluation step's is.
BASELINE_DIR = f"{CONTAINER_ROOT}/baseline"
DATA_DIR = f"{CONTAINER_ROOT}/input/endpoint"
RESULT_DIR = f"{CONTAINER_ROOT}/resultdata"
ENTRYPOINT_SCRIPT = "monitor"

# Names other steps use to find this step's output and property file (never positions).
DRIFT_OUTPUT = "drift_check"
STATUS_FILE = "drift_status.json"
REPORT_FILE = "drift_report.html"
VIOLATIONS_FILE = "constraint_violations.json"
PROPERTY_FILE_NAME = "DriftStatus"

# drift_status.json fields (written by processing_scripts/monitor.py drift_status()).
VIOLATION_COUNT_PATH = "violation_count"
DRIFTED_FEATURES_PATH = "drifted_features"
VIOLATED_CHECKS_PATH = "violated_checks"


@dataclass(frozen=True)
class DriftCheckStep:
    """The processing step plus the handles later steps read from it."""

    step: ProcessingStep
    status: PropertyFile

    def status_value(self, json_path: str) -> JsonGet:
        """A field of drift_status.json."""
        return JsonGet(step_name=self.step.name, property_file=self.status, json_path=json_path)

    @property
    def output_uri(self):
        """S3 URI of the results folder, looked up by output name."""
        return self.step.properties.ProcessingOutputConfig.Outputs[DRIFT_OUTPUT].S3Output.S3Uri


def create_drift_check_step(
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    parameters: Mapping[str, Parameter],
    output_uri: Join,
) -> DriftCheckStep:
    """A ProcessingStep running ``monitor.py check``; drift_status.json is its PropertyFile. ``parameters``:
    the pipeline's, by name (BaselineUrl, CaptureDataUrl, PsiThreshold, KsThreshold, WindowStart, WindowEnd,
    WindowHours, ProcessingInstanceType). A scheduled execution checks the window before its start time."""
    status = PropertyFile(name=PROPERTY_FILE_NAME, output_name=DRIFT_OUTPUT, path=STATUS_FILE)
    step = processing_step(
        job, name=name, display_name=display_name, script=ENTRYPOINT_SCRIPT,
        description="Compare the captured data with the baseline; Model Monitor violations, drift_status.json, report.",
        instance_type=parameters["ProcessingInstanceType"],
        inputs=[s3_input("baseline", parameters["BaselineUrl"], BASELINE_DIR),
                s3_input("data", parameters["CaptureDataUrl"], DATA_DIR)],
        outputs=[s3_output(DRIFT_OUTPUT, output_uri, RESULT_DIR)],
        # No --fail-on-violation: the job succeeds with its outputs and the condition decides.
        arguments=["check", "--baseline-dir", BASELINE_DIR, "--data", DATA_DIR, "--output-dir", RESULT_DIR,
                   "--psi-threshold", as_text(parameters["PsiThreshold"]),
                   "--ks-threshold", as_text(parameters["KsThreshold"]),
                   # Empty WindowStart/WindowEnd: the scheduled window before the execution's start.
                   "--start", parameters["WindowStart"], "--end", parameters["WindowEnd"],
                   "--run-start", ExecutionVariables.START_DATETIME,
                   "--window-hours", as_text(parameters["WindowHours"])],
        property_files=(status,),
    )
    return DriftCheckStep(step=step, status=status)


def create_drift_fail_step(*, name: str, display_name: str, drift_check: DriftCheckStep) -> FailStep:
    """Message: ``Data drift: 2 violation(s); features: _c1, _c4; checks: baseline_drift_check; report: s3://...``."""
    return FailStep(
        name=name,
        display_name=display_name,
        description="End the execution as Failed: the drifted features, the violated checks and the report.",
        error_message=Join(on="", values=[
            "Data drift: ", drift_check.status_value(VIOLATION_COUNT_PATH), " violation(s); features: ",
            drift_check.status_value(DRIFTED_FEATURES_PATH), "; checks: ",
            drift_check.status_value(VIOLATED_CHECKS_PATH), "; report: ",
            drift_check.output_uri, f"/{REPORT_FILE}",
        ]),
    )


def create_drift_condition_step(*, name: str, display_name: str, drift_check: DriftCheckStep,
                                else_step: FailStep) -> ConditionStep:
    """``violation_count == 0``: the execution succeeds; otherwise the FailStep ends it."""
    return ConditionStep(
        name=name,
        display_name=display_name,
        description="Succeed when drift_status.json counts no violation; otherwise fail with the reason.",
        conditions=[ConditionEquals(left=drift_check.status_value(VIOLATION_COUNT_PATH), right=0)],
        if_steps=[],
        else_steps=[else_step],
    )

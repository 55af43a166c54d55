"""Model-quality check: stage the deployed version's constraints and the window's captures (a LambdaStep),
run processing_scripts/quality.py on them with the ground truth, then pass or fail the execution.

The processing job exits 0 once its outputs are written, whatever the verdict (a non-zero exit would fail
the step with only "AlgorithmError" as the reason): the ConditionStep reads ``quality_status.json`` by
JSON path, and the FailStep's message names the verdict, the violated metrics, the window and the report.
The job also writes the updated history to a second output whose destination is the one history object
of the pipeline (``<s3_root>/monitoring/quality/quality_history.jsonl``), so each run replaces it with
its earlier lines plus this window's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sagemaker.core.workflow.conditions import ConditionEquals
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import Parameter
from sagemaker.core.workflow.properties import Properties, PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.lambda_step import LambdaStep
from sagemaker.mlops.workflow.steps import ProcessingStep

from steps.function import function_step
from steps.job import JobDefaults
from steps.processing import CONTAINER_ROOT, as_text, processing_step, s3_input, s3_output

# The function's outputs (pipeline/lambdas/resolve_monitored_version.py writes these).
CONTEXT_OUTPUT = "ContextUri"
PACKAGE_ARN_OUTPUT = "ModelPackageArn"
PACKAGE_VERSION_OUTPUT = "ModelPackageVersion"
CAPTURE_OBJECTS_OUTPUT = "CaptureObjects"
# What the function stages under ContextUri (the same names as in resolve_monitored_version).
CONSTRAINTS_FILE = "constraints.json"
STATISTICS_FILE = "evaluation.json"
CAPTURE_FOLDER = "capture"

STAGED_DIR = f"{CONTAINER_ROOT}/input/staged"
GROUND_TRUTH_DIR = f"{CONTAINER_ROOT}/input/ground_truth"
RESULT_DIR = f"{CONTAINER_ROOT}/resultdata"
HISTORY_DIR = f"{CONTAINER_ROOT}/history"
ENTRYPOINT_SCRIPT = "quality"

# Names other steps and the local summary use to find this step's outputs and property file.
QUALITY_OUTPUT = "quality_check"
HISTORY_OUTPUT = "quality_history"
STATUS_FILE = "quality_status.json"
REPORT_FILE = "quality_report.html"
HISTORY_FILE = "quality_history.jsonl"
PROPERTY_FILE_NAME = "QualityStatus"

# quality_status.json fields (written by processing_scripts/quality.py).
VERDICT_PATH = "verdict"
OK_VERDICT = "ok"
VIOLATED_METRICS_PATH = "violated_metrics"
MATCHED_PATH = "matched"
WINDOW_START_PATH = "window_start"
WINDOW_END_PATH = "window_end"
REASON_PATH = "reason"


@dataclass(frozen=True)
class MonitoredVersionStep:
    step: LambdaStep

    @property
    def context_uri(self) -> Properties:
        """S3 prefix holding context.json, constraints.json, evaluation.json, the history and capture/."""
        return self.step.properties.Outputs[CONTEXT_OUTPUT]


def create_monitored_version_step(
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    function_arn: str,
    parameters: Mapping[str, Parameter],
    output_uri: Join,
    history_uri: str,
) -> MonitoredVersionStep:
    """Invoke the (already deployed) function that finds the latest Approved version of
    ``ModelPackageGroupName`` and stages its constraints, the history and the window's captures. The
    window's inputs are the processing step's, RunStart included, so both compute the same window."""
    step = function_step(
        job,
        name=name,
        display_name=display_name,
        description="Find the deployed (latest Approved) version; stage its model-quality constraints and "
                    "statistics, the quality history and the Data Capture objects of the window.",
        function_arn=function_arn,
        inputs={
            "ModelPackageGroupName": parameters["ModelPackageGroupName"],
            "CaptureDataUrl": parameters["CaptureDataUrl"],
            "GroundTruthUrl": parameters["GroundTruthUrl"],
            "HistoryUri": history_uri,
            "OutputUri": output_uri,
            "WindowStart": parameters["WindowStart"],
            "WindowEnd": parameters["WindowEnd"],
            "RunStart": ExecutionVariables.START_DATETIME,
            "WindowHours": parameters["WindowHours"],
            "LabelDelayHours": parameters["LabelDelayHours"],
            "KmsKeyId": job.kms_key_id or "",
        },
        outputs=(CONTEXT_OUTPUT, PACKAGE_ARN_OUTPUT, PACKAGE_VERSION_OUTPUT, CAPTURE_OBJECTS_OUTPUT),
    )
    return MonitoredVersionStep(step=step)


@dataclass(frozen=True)
class QualityCheckStep:
    """The processing step plus the handles later steps read from it."""

    step: ProcessingStep
    status: PropertyFile

    def status_value(self, json_path: str) -> JsonGet:
        """A field of quality_status.json."""
        return JsonGet(step_name=self.step.name, property_file=self.status, json_path=json_path)

    @property
    def output_uri(self):
        """S3 URI of the results folder, looked up by output name."""
        return self.step.properties.ProcessingOutputConfig.Outputs[QUALITY_OUTPUT].S3Output.S3Uri


def create_quality_check_step(
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    parameters: Mapping[str, Parameter],
    staged: MonitoredVersionStep,
    output_uri: Join,
    history_prefix: str,
) -> QualityCheckStep:
    """A ProcessingStep running ``quality.py`` on what ``staged`` staged and on ``GroundTruthUrl``;
    quality_status.json is its PropertyFile; the updated history goes to ``history_prefix``."""
    status = PropertyFile(name=PROPERTY_FILE_NAME, output_name=QUALITY_OUTPUT, path=STATUS_FILE)
    step = processing_step(
        job, name=name, display_name=display_name, script=ENTRYPOINT_SCRIPT,
        description="Merge the window's captured predictions with the ground truth, measure, compare with the "
                    "registered constraints; quality_status.json, report, history.",
        instance_type=parameters["ProcessingInstanceType"],
        inputs=[s3_input("staged", staged.context_uri, STAGED_DIR),
                s3_input("ground_truth", parameters["GroundTruthUrl"], GROUND_TRUTH_DIR)],
        outputs=[s3_output(QUALITY_OUTPUT, output_uri, RESULT_DIR),
                 s3_output(HISTORY_OUTPUT, history_prefix, HISTORY_DIR)],
        # No --fail-on-violation: the job succeeds with its outputs and the condition decides.
        arguments=["--capture", f"{STAGED_DIR}/{CAPTURE_FOLDER}", "--ground-truth", GROUND_TRUTH_DIR,
                   "--constraints", f"{STAGED_DIR}/{CONSTRAINTS_FILE}",
                   "--baseline-statistics", f"{STAGED_DIR}/{STATISTICS_FILE}",
                   # The staged folder holds the history when there is one: a first run starts it.
                   "--history", STAGED_DIR, "--history-out", HISTORY_DIR, "--output-dir", RESULT_DIR,
                   "--start", parameters["WindowStart"], "--end", parameters["WindowEnd"],
                   "--run-start", ExecutionVariables.START_DATETIME,
                   "--window-hours", as_text(parameters["WindowHours"]),
                   "--label-delay-hours", as_text(parameters["LabelDelayHours"]),
                   # Empty: the registered evaluation's threshold (read from evaluation.json).
                   "--probability-threshold", parameters["ProbabilityThreshold"]],
        property_files=(status,),
    )
    return QualityCheckStep(step=step, status=status)


def create_quality_fail_step(*, name: str, display_name: str, quality_check: QualityCheckStep) -> FailStep:
    """Message: ``Model quality: violations; violated metrics: auc, f1; window: [2024-01-07T00:00:00Z,
    2024-01-08T00:00:00Z); matched rows: 812; <reason>; report: s3://...``."""
    value = quality_check.status_value
    return FailStep(
        name=name,
        display_name=display_name,
        description="End the execution as Failed: the verdict, the violated metrics, the window and the report.",
        error_message=Join(on="", values=[
            "Model quality: ", value(VERDICT_PATH), "; violated metrics: ", value(VIOLATED_METRICS_PATH),
            "; window: [", value(WINDOW_START_PATH), ", ", value(WINDOW_END_PATH), "); matched rows: ",
            value(MATCHED_PATH), "; ", value(REASON_PATH), "; report: ", quality_check.output_uri, f"/{REPORT_FILE}",
        ]),
    )


def create_quality_condition_step(*, name: str, display_name: str, quality_check: QualityCheckStep,
                                  else_step: FailStep) -> ConditionStep:
    """``verdict == "ok"``: the execution succeeds; otherwise (violations, not enough data) the FailStep ends it."""
    return ConditionStep(
        name=name,
        display_name=display_name,
        description="Succeed when quality_status.json's verdict is ok; otherwise fail with the reason.",
        conditions=[ConditionEquals(left=quality_check.status_value(VERDICT_PATH), right=OK_VERDICT)],
        if_steps=[],
        else_steps=[else_step],
    )

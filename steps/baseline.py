"""Data-quality baseline: run processing_scripts/monitor.py ``baseline`` on the test features.

The job writes ``statistics.json`` and ``constraints.json`` in Model Monitor's layout; the register step
attaches them to the model package (``DriftCheckBaselines`` and ``ModelDataQuality``), and the drift
check compares captured data with them.
"""
from __future__ import annotations

from dataclasses import dataclass

from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.steps import ProcessingStep

from steps.processing import CONTAINER_ROOT, code_input, s3_input, s3_output, script_processor

# Model Monitor's baselining container layout, which monitor.py's defaults also follow; code where the
# evaluation step's is.
DATA_DIR = f"{CONTAINER_ROOT}/input/baseline_dataset_input"
OUTPUT_DIR = f"{CONTAINER_ROOT}/output"
ENTRYPOINT_SCRIPT = "monitor"

# Names other steps use to find this step's output (never positions).
BASELINE_OUTPUT = "data_quality_baseline"
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"


@dataclass(frozen=True)
class BaselineStep:
    """The processing step plus the handles later steps read from it."""

    step: ProcessingStep

    @property
    def output_uri(self):
        """S3 URI of the baseline folder, looked up by output name."""
        return self.step.properties.ProcessingOutputConfig.Outputs[BASELINE_OUTPUT].S3Output.S3Uri

    @property
    def statistics_uri(self) -> Join:
        """S3 URI of statistics.json."""
        return Join(on="/", values=[self.output_uri, STATISTICS_FILE])

    @property
    def constraints_uri(self) -> Join:
        """S3 URI of constraints.json."""
        return Join(on="/", values=[self.output_uri, CONSTRAINTS_FILE])


def create_data_quality_baseline_step(
    *,
    name: str,
    display_name: str,
    image_uri: str,
    role_arn: str,
    code_uri: str,
    test_data_uri: ParameterString,
    output_uri: Join,
    instance_type: ParameterString,
    volume_size_gb: int,
    kms_key_id: str | None,
    session: PipelineSession,
) -> BaselineStep:
    """A ProcessingStep running ``monitor.py baseline --label-column first`` on the label-first test CSV.

    ``test_data_uri`` is the test set the model is evaluated on (a file or a prefix); its features,
    without the leading label, become the baseline that later data is checked against.
    """
    processor = script_processor(
        script=ENTRYPOINT_SCRIPT, image_uri=image_uri, role_arn=role_arn, instance_type=instance_type,
        volume_size_gb=volume_size_gb, kms_key_id=kms_key_id, session=session,
    )
    step = ProcessingStep(
        name=name,
        display_name=display_name,
        description="Model Monitor data-quality baseline (statistics.json, constraints.json) of the test features.",
        step_args=processor.run(
            inputs=[s3_input("test-data", test_data_uri, DATA_DIR), code_input(code_uri)],
            outputs=[s3_output(BASELINE_OUTPUT, output_uri, OUTPUT_DIR)],
            arguments=["baseline", "--data", DATA_DIR, "--output-dir", OUTPUT_DIR, "--label-column", "first"],
        ),
    )
    return BaselineStep(step=step)

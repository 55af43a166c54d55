"""Data-quality baseline: run processing_scripts/monitor.py ``baseline`` on the test features.

The job writes ``statistics.json`` and ``constraints.json`` in Model Monitor's layout; the register step
attaches them to the model package (``DriftCheckBaselines`` and ``ModelDataQuality``), and the drift
check compares captured data with them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import Parameter
from sagemaker.mlops.workflow.steps import ProcessingStep

from steps.job import JobDefaults
from steps.processing import CONTAINER_ROOT, processing_step, s3_input, s3_output

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
    job: JobDefaults,
    *,
    name: str,
    display_name: str,
    parameters: Mapping[str, Parameter],
    output_uri: Join,
) -> BaselineStep:
    """A ProcessingStep running ``monitor.py baseline --label-column first`` on the label-first test CSV.

    ``TestDataUrl`` is the test set the model is evaluated on (a file or a prefix). Its columns become the
    baseline in Model Monitor's layout: the label first (where captured data holds the endpoint's output;
    its monitoring is switched off in constraints.json), then the features.
    """
    step = processing_step(
        job, name=name, display_name=display_name, script=ENTRYPOINT_SCRIPT,
        description="Model Monitor data-quality baseline (statistics.json, constraints.json) of the test features.",
        instance_type=parameters["ProcessingInstanceType"],
        inputs=[s3_input("test-data", parameters["TestDataUrl"], DATA_DIR)],
        outputs=[s3_output(BASELINE_OUTPUT, output_uri, OUTPUT_DIR)],
        arguments=["baseline", "--data", DATA_DIR, "--output-dir", OUTPUT_DIR, "--label-column", "first"],
    )
    return BaselineStep(step=step)

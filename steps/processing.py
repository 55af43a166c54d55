"""What every processing step shares: the container layout, the processor running one of our scripts,
S3 inputs and outputs by name, and parameters rendered as container arguments."""
from __future__ import annotations

from sagemaker.core.processing import Processor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterString
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.steps import ProcessingStep

from steps.job import JobDefaults

CONTAINER_ROOT = "/opt/ml/processing"
# The content-addressed code bundle (the processing_scripts package) is downloaded here and put on
# PYTHONPATH, so the scripts run as ``python3 -m processing_scripts.<module>`` with relative imports.
CODE_DIR = f"{CONTAINER_ROOT}/input/code"
PACKAGE = "processing_scripts"


def script_processor(job: JobDefaults, *, script: str, instance_type: ParameterString) -> Processor:
    """A one-instance Processor running ``python3 -m processing_scripts.<script>`` in the job's image."""
    return Processor(
        role=job.role_arn,
        image_uri=job.image_uri,
        instance_count=1,
        instance_type=instance_type,
        entrypoint=["python3", "-m", f"{PACKAGE}.{script}"],
        volume_size_in_gb=job.volume_size_gb,
        volume_kms_key=job.kms_key_id,
        output_kms_key=job.kms_key_id,
        # Python in the container must not buffer the progress lines CloudWatch shows.
        env={"PYTHONUNBUFFERED": "1", "PYTHONPATH": CODE_DIR},
        sagemaker_session=job.session,
    )


def processing_step(job: JobDefaults, *, name: str, display_name: str, description: str, script: str,
                    instance_type: ParameterString, inputs: list[ProcessingInput], outputs: list[ProcessingOutput],
                    arguments: list, property_files: tuple[PropertyFile, ...] = ()) -> ProcessingStep:
    """A ProcessingStep running ``processing_scripts.<script>`` on ``inputs`` (the code bundle added last)."""
    processor = script_processor(job, script=script, instance_type=instance_type)
    return ProcessingStep(
        name=name,
        display_name=display_name,
        description=description,
        step_args=processor.run(inputs=[*inputs, code_input(job)], outputs=outputs, arguments=arguments),
        property_files=list(property_files),
    )


def s3_input(name: str, uri, local_path: str) -> ProcessingInput:
    """An S3 prefix (or object) downloaded to ``local_path`` before the script starts."""
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(s3_uri=uri, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"),
    )


def code_input(job: JobDefaults) -> ProcessingInput:
    """The job's code bundle (files named ``processing_scripts/...``), downloaded to CODE_DIR."""
    return s3_input("code", job.code_uri, CODE_DIR)


def s3_output(name: str, uri, local_path: str) -> ProcessingOutput:
    """``local_path`` uploaded to ``uri`` when the job ends; other steps find it by ``name``."""
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(s3_uri=uri, local_path=local_path, s3_upload_mode="EndOfJob"),
    )


def as_text(value) -> Join:
    """Container arguments must be strings; Std:Join renders a numeric or boolean parameter as text."""
    return Join(on="", values=[value])

"""CreateModel step: the scikit-learn serving container + the model under evaluation."""
from __future__ import annotations

import logging

from sagemaker.core import image_uris
from sagemaker.core.workflow.properties import Properties
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.serve.model_builder import ModelBuilder

from steps.job import JobDefaults

# model.tar.gz carries its handlers in code/inference.py, so the container needs no repack step.
SERVING_ENV = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    # A request without Accept (or with */*) asks for this; the container's own default is JSON, which
    # code/inference.py does not write, so such clients would get HTTP 500.
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
}


def sklearn_image_uri(*, region: str, version: str) -> str:
    """ECR URI of SageMaker's scikit-learn image (read from the SDK's bundled table, no network)."""
    return image_uris.retrieve(
        framework="sklearn",
        region=region,
        version=version,
        py_version="py3",
        instance_type="ml.m5.large",  # only selects cpu vs gpu; scikit-learn images are cpu-only
    )


def create_model_builder(job: JobDefaults, *, model_data_url: Properties) -> ModelBuilder:
    """The ModelBuilder shared by the CreateModel and RegisterModel steps (the job's image and role, the
    serving environment, ``model_data_url``)."""
    return ModelBuilder(
        image_uri=job.image_uri,
        s3_model_data_url=model_data_url,
        role_arn=job.role_arn,
        sagemaker_session=job.session,
        env_vars=dict(SERVING_ENV),
        # The SDK's default is a fresh /tmp/sagemaker/model-builder/<uuid> that build() creates and never
        # removes (and fails on when /tmp/sagemaker is not writable); an image with S3 model data needs no
        # local folder, and build() skips creating one when model_path is not a str (model_builder.py).
        model_path=None,
        # Its default, DEBUG, resets the SDK's shared utils logger on every build.
        log_level=logging.WARNING,
    )


def create_model_step(*, name: str, display_name: str, model_builder: ModelBuilder) -> ModelStep:
    """A ModelStep that creates the SageMaker Model the transform job uses."""
    return ModelStep(
        name=name,
        display_name=display_name,
        description="A SageMaker Model of the frozen archive in the scikit-learn 1.9-0 serving image.",
        step_args=model_builder.build(),
    )

"""Fixtures shared by the tests (the environment is set in the root conftest.py; helpers in tests/helpers.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

# The environment (no real AWS, a region for the SDK) is set in the root conftest.py: the doctests of
# pipeline/ and steps/ import the SDK too.

TEST_BUCKET = "test-artifacts-bucket"
TEST_ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerPipelineExecutionRole"


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> dict[str, Path]:
    """The bundled demo's files (``make run``'s): test.csv, validation.csv and the demo models."""
    from pipeline.demo import make_demo_files

    return make_demo_files(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def test_config():
    from pipeline.config import PipelineConfig

    return PipelineConfig(bucket=TEST_BUCKET, region="us-east-1", role_arn=TEST_ROLE_ARN)


@pytest.fixture(scope="session")
def definition(test_config) -> dict:
    """The real definition, built once per worker (building takes about a second)."""
    from pipeline.pipelines import EVALUATION
    from pipeline.sdk import quiet_sdk_logging

    quiet_sdk_logging()
    return EVALUATION.definition(test_config)


def create_execution_role(session) -> str:
    """TEST_ROLE_ARN in moto's IAM, trusted by SageMaker and Lambda (the champion function runs as it)."""
    import json

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["sagemaker.amazonaws.com", "lambda.amazonaws.com"]},
             "Action": "sts:AssumeRole"}
        ],
    }
    name = TEST_ROLE_ARN.rsplit("/", 1)[-1]
    return session.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

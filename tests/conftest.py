"""Test-wide environment: no real AWS can be reached, and the SDK imports without a configured region."""
from __future__ import annotations

import os

# Set before anything imports sagemaker.mlops/sagemaker.serve (they build a client at import).
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"  # moto lacks iam:SimulatePrincipalPolicy
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
    os.environ.pop(_var, None)


def deploy_settings_variables() -> set[str]:
    """Every variable a setting is read from (CodeBuild sets them for the deploy; a project name there
    would rename every pipeline the tests build), but the region, which the tests set themselves."""
    from pipeline.config import ENV_VARS
    from pipeline.aws.schedule import SCHEDULER_ROLE_ENV

    return {*ENV_VARS.values(), SCHEDULER_ROLE_ENV} - {"AWS_DEFAULT_REGION"}
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

import pytest  # noqa: E402

for _var in deploy_settings_variables():
    os.environ.pop(_var, None)

TEST_BUCKET = "test-artifacts-bucket"
TEST_ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerPipelineExecutionRole"


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

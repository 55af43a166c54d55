"""Test-wide environment, set before pytest imports any module (tests and the doctests of every package):
no real AWS can be reached, and the SDK imports without a configured region."""
from __future__ import annotations

import os

# Set before anything imports sagemaker.mlops/sagemaker.serve (they build a client at import).
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"  # moto lacks iam:SimulatePrincipalPolicy
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
    os.environ.pop(_var, None)

from tests.helpers import deploy_settings_variables  # noqa: E402  (imports pipeline: after the region)

for _var in deploy_settings_variables():
    os.environ.pop(_var, None)

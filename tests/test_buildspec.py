"""buildspec.yml: CodeBuild runs commands that exist, with flags the CLIs accept."""
from __future__ import annotations

import importlib
import os
import shlex
import string
from pathlib import Path

import pytest
import yaml

BUILDSPEC = Path(__file__).resolve().parents[1] / "buildspec.yml"
# What the CodeBuild project of a SageMaker MLOps project sets.
CODEBUILD_ENV = {
    "SAGEMAKER_PIPELINE_ROLE_ARN": "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole",
    "ARTIFACT_BUCKET": "sagemaker-project-p-abc123",
    "AWS_REGION": "eu-west-1",
    "SAGEMAKER_PROJECT_NAME": "churn",
    "SAGEMAKER_PROJECT_ID": "p-abc123",
}


def commands() -> list[str]:
    spec = yaml.safe_load(BUILDSPEC.read_text())
    assert str(spec["version"]) == "0.2"
    return [c for phase in ("install", "pre_build", "build") for c in spec["phases"][phase]["commands"]]


def expand(command: str) -> list[str]:
    # CodeBuild runs commands in a shell: expand the variables it would, then split like the shell.
    return shlex.split(string.Template(command).substitute(CODEBUILD_ENV))


def python_modules() -> list[tuple[str, list[str]]]:
    found = []
    for command in commands():
        argv = expand(command)
        if argv[:2] == ["python", "-m"]:
            found.append((argv[2], argv[3:]))
    return found


def test_buildspec_runs_the_tests_then_upserts():
    modules = [m for m, _ in python_modules()]
    assert modules.index("pytest") < modules.index("pipeline.upsert")
    assert "pip" in modules


@pytest.mark.parametrize("module, argv", [m for m in python_modules() if m[0].startswith("pipeline.")])
def test_buildspec_commands_exist_and_parse(module, argv):
    cli = importlib.import_module(module)
    args = cli.build_parser().parse_args(argv)
    assert args.role_arn == CODEBUILD_ENV["SAGEMAKER_PIPELINE_ROLE_ARN"]
    assert args.bucket == CODEBUILD_ENV["ARTIFACT_BUCKET"]
    assert args.region == CODEBUILD_ENV["AWS_REGION"]


def test_buildspec_upsert_config_is_valid():
    from pipeline.definition import config_from_args
    from pipeline.upsert import build_parser

    upserts = [argv for module, argv in python_modules() if module == "pipeline.upsert"]
    # The evaluation pipeline, then the drift-check pipeline with its schedule, from the same settings.
    assert [("--monitoring" in argv, "--create-schedule" in argv) for argv in upserts] == [(False, False), (True, True)]
    for argv in upserts:
        config = config_from_args(build_parser().parse_args(argv))
        assert config.pipeline_name == "churn-evaluation"
        assert config.model_package_group == "churn"
        assert dict(config.tags) == {"sagemaker:project-name": "churn", "sagemaker:project-id": "p-abc123"}


def test_pytest_invocation_matches_the_readme_test_command():
    makefile = (BUILDSPEC.parent / "Makefile").read_text()
    [(_, argv)] = [m for m in python_modules() if m[0] == "pytest"]
    assert " ".join(["-m", "pytest", *argv]) in makefile.replace("$(PY) ", "")
    assert os.path.exists(BUILDSPEC.parent / "setup.py")

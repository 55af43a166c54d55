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


def without_env_prefix(argv: list[str]) -> tuple[list[str], set[str]]:
    """``env -u A -u B cmd ...`` → (``cmd ...``, {A, B})."""
    unset: set[str] = set()
    if argv[:1] == ["env"]:
        argv = argv[1:]
        while argv[:1] == ["-u"]:
            unset.add(argv[1])
            argv = argv[2:]
    return argv, unset


def python_modules() -> list[tuple[str, list[str]]]:
    found = []
    for command in commands():
        argv, _ = without_env_prefix(expand(command))
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


@pytest.fixture
def codebuild_env(monkeypatch):
    """The environment CodeBuild gives the commands, and nothing else of ours."""
    from pipeline.config import ENV_VARS

    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    for var, value in CODEBUILD_ENV.items():
        monkeypatch.setenv(var, value)


def test_buildspec_settings_follow_the_sagemaker_project(codebuild_env):
    from pipeline.arguments import config_from_args

    deploys = [(m, argv) for m, argv in python_modules() if m in ("pipeline.definition", "pipeline.upsert")]
    # The definition artifact, the evaluation pipeline, then the drift-check and model-quality pipelines with
    # their schedules.
    assert [(m, argv[0], "--create-schedule" in argv) for m, argv in deploys] == [
        ("pipeline.definition", "evaluation", False), ("pipeline.upsert", "evaluation", False),
        ("pipeline.upsert", "monitoring", True), ("pipeline.upsert", "quality", True)]
    for module, argv in deploys:
        args = importlib.import_module(module).build_parser().parse_args(argv)
        config = config_from_args(args, role_arn=args.role_arn)
        # SageMaker Projects' conventions, derived from SAGEMAKER_PROJECT_NAME/ID in one place.
        assert config.model_package_group == "churn-p-abc123"
        assert dict(config.tags) == {"sagemaker:project-name": "churn", "sagemaker:project-id": "p-abc123"}
        assert (config.pipeline_name, config.prefix) == ("churn-evaluation", "churn/evaluation")
        # ... so no command restates them, and they cannot drift apart.
        assert not {"--pipeline-name", "--prefix", "--model-package-group", "--tags"} & set(argv), argv


def test_buildspec_keeps_the_schedules_parameters():
    scheduled = [argv for module, argv in python_modules() if module == "pipeline.upsert" and "--create-schedule" in argv]
    assert [argv[0] for argv in scheduled] == ["monitoring", "quality"]
    for argv in scheduled:
        # Without --param/--schedule/--reset-params, --create-schedule keeps what the schedule has on every push.
        assert not {"--param", "--schedule", "--reset-params"} & set(argv)


def test_the_suite_runs_without_the_deploy_settings():
    """CodeBuild gives the deploy its settings in the environment; the suite must not see them (a project
    name would rename every pipeline the tests build): the root conftest.py clears each variable a setting
    is read from, whoever runs the suite."""
    from pipeline.config import ENV_VARS
    from pipeline.aws.schedule import SCHEDULER_ROLE_ENV
    from tests.helpers import deploy_settings_variables

    assert deploy_settings_variables() == {*ENV_VARS.values(), SCHEDULER_ROLE_ENV} - {"AWS_DEFAULT_REGION"}
    assert not deploy_settings_variables() & set(os.environ)
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"


def test_pytest_invocation_matches_the_readme_test_command():
    makefile = (BUILDSPEC.parent / "Makefile").read_text()
    [(_, argv)] = [m for m in python_modules() if m[0] == "pytest"]
    assert " ".join(["-m", "pytest", *argv]) in makefile.replace("$(PY) ", "")
    assert os.path.exists(BUILDSPEC.parent / "setup.py")

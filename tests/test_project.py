"""SageMaker project settings: SAGEMAKER_PROJECT_NAME and SAGEMAKER_PROJECT_ID derive the model package group
(<name>-<id>, as the project templates name it), the project's tags and the default pipeline name and prefix,
in PipelineConfig.from_sources and nowhere else."""
from __future__ import annotations

import pytest

from pipeline.config import ConfigError, PipelineConfig
from tests.helpers import assert_one_line

BASE = {"bucket": "test-artifacts-bucket", "region": "eu-west-1"}
PROJECT = {"SAGEMAKER_PROJECT_NAME": "churn", "SAGEMAKER_PROJECT_ID": "p-abc123"}


def resolve(env: dict, **overrides) -> PipelineConfig:
    return PipelineConfig.from_sources({**BASE, **overrides}, env=env)


def test_a_project_derives_group_tags_pipeline_name_and_prefix():
    config = resolve(PROJECT)
    assert config.model_package_group == "churn-p-abc123"
    assert config.tags == (("sagemaker:project-name", "churn"), ("sagemaker:project-id", "p-abc123"))
    assert (config.pipeline_name, config.prefix) == ("churn-evaluation", "churn/evaluation")
    assert (config.project_name, config.project_id) == ("churn", "p-abc123")


def test_without_a_project_nothing_is_derived():
    config = resolve({})
    assert (config.model_package_group, config.tags, config.pipeline_name) == (
        "binary-classifier", (), "binary-classifier-evaluation")


def test_given_names_and_tags_are_kept_beside_the_projects():
    config = resolve(PROJECT, pipeline_name="churn-gate", prefix="ml/churn", tags=(("team", "ml"),))
    assert (config.pipeline_name, config.prefix) == ("churn-gate", "ml/churn")
    assert dict(config.tags) == {"team": "ml", "sagemaker:project-name": "churn", "sagemaker:project-id": "p-abc123"}
    # Restating the project's group or tags is harmless.
    same = resolve(PROJECT, model_package_group="churn-p-abc123", tags=(("sagemaker:project-id", "p-abc123"),))
    assert same.model_package_group == "churn-p-abc123" and len(same.tags) == 2


@pytest.mark.parametrize("env, overrides, message", [
    ({"SAGEMAKER_PROJECT_NAME": "churn"}, {}, "SAGEMAKER_PROJECT_NAME and SAGEMAKER_PROJECT_ID go together"),
    ({"SAGEMAKER_PROJECT_ID": "p-abc123"}, {}, "go together"),
    (PROJECT, {"model_package_group": "churn"},
     "model package group 'churn' is not project churn's 'churn-p-abc123' (<project name>-<project id>"),
    ({**PROJECT, "MODEL_PACKAGE_GROUP_NAME": "churn"}, {}, "drop --model-package-group and MODEL_PACKAGE_GROUP_NAME"),
    (PROJECT, {"tags": (("sagemaker:project-id", "p-other"),)},
     "tag sagemaker:project-id=p-other contradicts the project's sagemaker:project-id=p-abc123"),
    ({"SAGEMAKER_PROJECT_NAME": "churn_model", "SAGEMAKER_PROJECT_ID": "p-abc123"}, {}, "bad SageMaker project name"),
])
def test_inconsistent_project_settings_are_one_line_errors(env, overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as raised:
        resolve(env, **overrides)
    assert_one_line(str(raised.value))


def test_a_config_built_by_hand_cannot_drop_the_project_conventions():
    config = resolve(PROJECT)
    with pytest.raises(ConfigError, match="is not project churn's 'churn-p-abc123'"):
        config.with_overrides(model_package_group="other")
    with pytest.raises(ConfigError, match="tag sagemaker:project-name=churn is missing"):
        config.with_overrides(tags=())
    with pytest.raises(ConfigError, match="bad SageMaker project id ''"):
        PipelineConfig(bucket="test-artifacts-bucket", project_name="churn")

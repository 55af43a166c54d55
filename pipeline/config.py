"""The one frozen configuration object every pipeline setting comes from.

Values are resolved once, in this order: explicit argument (CLI flag) > environment variable > default.
Nothing below ``pipeline/`` reads the environment: step factories get typed arguments from here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from typing import Mapping

# Matches IAM role ARNs in every partition (aws, aws-cn, aws-us-gov), with optional role paths.
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
PIPELINE_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
INSTANCE_TYPE_RE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
MODEL_PACKAGE_GROUP_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")

# Suffixes of the pipeline's Lambda function names (pipeline/functions.py deploys them).
CHAMPION_FUNCTION = "champion"
FREEZE_FUNCTION = "freeze-model"

# A syntactically valid role for definitions that are only printed or run locally; upsert refuses it.
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/SageMakerPipelineExecutionRole"

# Environment variables CodeBuild/CodePipeline (buildspec.yml) and engineers set; one per setting.
ENV_VARS: dict[str, str] = {
    "pipeline_name": "PIPELINE_NAME",
    "region": "AWS_DEFAULT_REGION",
    "role_arn": "SAGEMAKER_PIPELINE_ROLE_ARN",
    "bucket": "ARTIFACT_BUCKET",
    "prefix": "ARTIFACT_PREFIX",
    "model_package_group": "MODEL_PACKAGE_GROUP_NAME",
    "kms_key_id": "KMS_KEY_ID",
    "lambda_role_arn": "LAMBDA_ROLE_ARN",
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that shapes the pipeline definition, in one place."""

    bucket: str
    region: str = "us-east-1"
    role_arn: str = PLACEHOLDER_ROLE_ARN
    pipeline_name: str = "binary-classifier-evaluation"
    prefix: str = "binary-classifier-evaluation"
    model_package_group: str = "binary-classifier"
    transform_instance_type: str = "ml.m5.large"
    transform_instance_count: int = 1
    processing_instance_type: str = "ml.m5.large"
    # The scikit-learn container that serves the model and runs evaluation; 1.9-0 ships scikit-learn 1.9.0,
    # which setup.py pins so that pickles made here unpickle there.
    sklearn_image_version: str = "1.9-0"
    # Real-time instance types the registered package declares it supports.
    inference_instance_types: tuple[str, ...] = ("ml.m5.large",)
    kms_key_id: str | None = None
    # Role of the champion-resolving Lambda function (trusts lambda.amazonaws.com; reads the Model Registry
    # and the artifact bucket). Default: role_arn, which then must trust Lambda too.
    lambda_role_arn: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    processing_volume_gb: int = 30
    max_payload_mb: int = 6
    bootstrap_resamples: int = 1000
    # The SDK sends usage telemetry from a background thread; off by default so that building a
    # definition stays free of network calls.
    sdk_telemetry: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first bad setting."""
        if not BUCKET_RE.match(self.bucket or ""):
            raise ConfigError(
                f"bad bucket name {self.bucket!r}: use a valid S3 bucket name "
                f"(--bucket or {ENV_VARS['bucket']})"
            )
        if not REGION_RE.match(self.region or ""):
            raise ConfigError(
                f"bad region {self.region!r}: use an AWS region such as us-east-1 "
                f"(--region or {ENV_VARS['region']})"
            )
        if not ROLE_ARN_RE.match(self.role_arn or ""):
            raise ConfigError(
                f"bad role ARN {self.role_arn!r}: expected arn:aws:iam::<12-digit account>:role/<name> "
                f"(--role-arn or {ENV_VARS['role_arn']})"
            )
        if self.lambda_role_arn is not None and not ROLE_ARN_RE.match(self.lambda_role_arn):
            raise ConfigError(
                f"bad Lambda role ARN {self.lambda_role_arn!r}: expected arn:aws:iam::<12-digit account>:role/<name> "
                f"(--lambda-role-arn or {ENV_VARS['lambda_role_arn']})"
            )
        if not PIPELINE_NAME_RE.match(self.pipeline_name or ""):
            raise ConfigError(
                f"bad pipeline name {self.pipeline_name!r}: letters, digits and single hyphens, "
                "at most 256 characters"
            )
        if not MODEL_PACKAGE_GROUP_RE.match(self.model_package_group or ""):
            raise ConfigError(
                f"bad model package group name {self.model_package_group!r}: letters, digits and hyphens, "
                f"at most 63 characters (--model-package-group or {ENV_VARS['model_package_group']})"
            )
        if not self.prefix or self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ConfigError(f"bad prefix {self.prefix!r}: a non-empty S3 key prefix without leading/trailing '/'")
        for name in ("transform_instance_type", "processing_instance_type"):
            value = getattr(self, name)
            if not INSTANCE_TYPE_RE.match(value):
                raise ConfigError(f"bad {name} {value!r}: expected an ml.* instance type such as ml.m5.large")
        if self.transform_instance_count < 1:
            raise ConfigError("transform_instance_count must be at least 1")
        for key, value in self.tags:
            if not key or len(key) > 128 or len(value) > 256:
                raise ConfigError(f"bad tag {key!r}={value!r}: keys 1-128 characters, values at most 256")

    # Derived locations: one S3 layout, used by the definition, upsert and the local runner.
    @property
    def s3_root(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}"

    def code_uri(self, digest: str) -> str:
        """Content-addressed S3 prefix of the processing code bundle."""
        return f"{self.s3_root}/code/{digest}/"

    @property
    def default_model_data_url(self) -> str:
        return f"{self.s3_root}/input/model.tar.gz"

    @property
    def default_test_data_url(self) -> str:
        return f"{self.s3_root}/input/test.csv"

    def function_name(self, suffix: str) -> str:
        """Name of one of the pipeline's Lambda functions, ``<pipeline name>-<suffix>`` (at most 64
        characters: a long pipeline name is shortened and made unique with a hash of it)."""
        name = f"{self.pipeline_name}-{suffix}"
        if len(name) <= 64:
            return name
        import hashlib

        digest = hashlib.sha256(self.pipeline_name.encode()).hexdigest()[:8]
        return f"{self.pipeline_name[:64 - len(suffix) - 10]}-{digest}-{suffix}"

    def function_arn(self, suffix: str) -> str:
        """Its ARN, in the role's partition and account (the definition names it; upsert deploys it)."""
        _, partition, _, _, account, _ = self.role_arn.split(":", 5)
        return f"arn:{partition}:lambda:{self.region}:{account}:function:{self.function_name(suffix)}"

    @property
    def champion_function_name(self) -> str:
        """The champion-resolving function."""
        return self.function_name(CHAMPION_FUNCTION)

    @property
    def champion_function_arn(self) -> str:
        return self.function_arn(CHAMPION_FUNCTION)

    @property
    def freeze_function_name(self) -> str:
        """The function that copies the model under evaluation to its content-addressed key."""
        return self.function_name(FREEZE_FUNCTION)

    @property
    def freeze_function_arn(self) -> str:
        return self.function_arn(FREEZE_FUNCTION)

    @property
    def frozen_models_prefix(self) -> str:
        """Where evaluated archives are kept, by SHA-256: ``<s3_root>/models/sha256``."""
        return f"{self.s3_root}/models/sha256"

    @property
    def champion_function_role_arn(self) -> str:
        return self.lambda_role_arn or self.role_arn

    def with_overrides(self, **changes: object) -> "PipelineConfig":
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)

    @classmethod
    def from_sources(
        cls, overrides: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None
    ) -> "PipelineConfig":
        """Resolve settings: ``overrides`` (non-None values) > environment > defaults."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for name, var in ENV_VARS.items():
            if env.get(var):
                values[name] = env[var]
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key] = value
        if "region" not in values and env.get("AWS_REGION"):
            values["region"] = env["AWS_REGION"]
        if "region" not in values:
            raise ConfigError(f"no AWS region: pass --region or set {ENV_VARS['region']}")
        if "bucket" not in values:
            raise ConfigError(
                f"no artifact bucket: pass --bucket or set {ENV_VARS['bucket']}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown settings {unknown}")
        return cls(**values)  # type: ignore[arg-type]


def parse_tags(items: list[str] | None) -> tuple[tuple[str, str], ...]:
    """Parse ``Key=Value`` strings.

    >>> parse_tags(["team=ml", "cost-center=42"])
    (('team', 'ml'), ('cost-center', '42'))
    """
    tags = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad tag {item!r}: use Key=Value")
        tags.append((key, value))
    return tuple(tags)

"""The one frozen configuration object every pipeline setting comes from.

Values are resolved once, in this order: explicit argument (CLI flag) > environment variable > default.
Nothing below ``pipeline/`` reads the environment: step factories get typed arguments from here.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from typing import Mapping

from pipeline import limits
from pipeline.limits import Limit, shown

# Matches IAM role ARNs in every partition (aws, aws-cn, aws-us-gov), with optional role paths.
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# The patterns only; the lengths are checked with pipeline.limits.
PIPELINE_NAME_RE = re.compile(f"^{limits.PIPELINE_NAME.pattern}$")
INSTANCE_TYPE_RE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")  # families such as m7i-flex
MODEL_PACKAGE_GROUP_RE = re.compile(f"^{limits.MODEL_PACKAGE_GROUP_NAME.pattern}$")
# S3's "safe characters" for object keys; anything else may need encoding somewhere along the way.
PREFIX_RE = re.compile(r"^[0-9a-zA-Z!_.*'()-]+(/[0-9a-zA-Z!_.*'()-]+)*$")

# The tags a SageMaker project finds its resources by (its views in Studio, its deploy triggers).
PROJECT_NAME_TAG = "sagemaker:project-name"
PROJECT_ID_TAG = "sagemaker:project-id"

# Suffixes of the pipeline's Lambda function names (pipeline/aws/functions.py deploys them).
CHAMPION_FUNCTION = "champion"
FREEZE_FUNCTION = "freeze-model"
MONITORED_VERSION_FUNCTION = "monitored-version"
FUNCTION_SUFFIXES = (CHAMPION_FUNCTION, FREEZE_FUNCTION, MONITORED_VERSION_FUNCTION)

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
    # Set by a SageMaker project's CodeBuild project; together they name the group and tag everything.
    "project_name": "SAGEMAKER_PROJECT_NAME",
    "project_id": "SAGEMAKER_PROJECT_ID",
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def check_limit(limit: Limit, value: str, what: str, fix: str) -> str:
    """``value``, or ConfigError naming it, the limit it breaks and ``fix``."""
    problem = limit.violation(value)
    if problem:
        raise ConfigError(f"bad {what} {shown(value)}: {problem} ({fix})")
    return value


def project_group_name(project_name: str, project_id: str) -> str:
    """The model package group of a SageMaker project, ``<project name>-<project id>``: the name the
    project templates' build code registers into and their deploy triggers watch."""
    return f"{project_name}-{project_id}"


def project_tags(project_name: str, project_id: str) -> tuple[tuple[str, str], ...]:
    return ((PROJECT_NAME_TAG, project_name), (PROJECT_ID_TAG, project_id))


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
    # The SageMaker project this is deployed for (both or neither): from_sources derives the model package
    # group (<name>-<id>), the project tags and the default pipeline name and prefix from them.
    project_name: str | None = None
    project_id: str | None = None
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
        if not limits.is_bucket_name(self.bucket or ""):
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
        # First: the project's name is where the pipeline name, group and tags come from.
        self._check_project()
        self.check_pipeline_name(self.pipeline_name, f"--pipeline-name or {ENV_VARS['pipeline_name']}")
        for suffix in FUNCTION_SUFFIXES:
            check_limit(limits.FUNCTION_NAME, self.function_name(suffix), "Lambda function name",
                        "a shorter --pipeline-name")
        check_limit(limits.MODEL_PACKAGE_GROUP_NAME, self.model_package_group or "", "model package group name",
                    f"letters, digits and hyphens: --model-package-group or {ENV_VARS['model_package_group']}")
        if not PREFIX_RE.match(self.prefix or ""):
            raise ConfigError(
                f"bad prefix {shown(self.prefix or '')}: an S3 key prefix of letters, digits and !_.*'()- "
                f"in '/'-separated parts, without leading or trailing '/' (--prefix or {ENV_VARS['prefix']})"
            )
        room = limits.S3_URI.max_length - limits.S3_KEY_ROOM
        if len(self.s3_root) > room:
            raise ConfigError(
                f"bad prefix {shown(self.prefix)}: s3://<bucket>/<prefix> is {len(self.s3_root)} characters, more "
                f"than {room} ({limits.S3_KEY_ROOM} of S3Uri's {limits.S3_URI.max_length} are kept for what the "
                f"pipeline writes below it): use a shorter --prefix"
            )
        for name in ("transform_instance_type", "processing_instance_type"):
            value = getattr(self, name)
            if not INSTANCE_TYPE_RE.match(value):
                raise ConfigError(f"bad {name} {value!r}: expected an ml.* instance type such as ml.m5.large")
        if self.transform_instance_count < 1:
            raise ConfigError("transform_instance_count must be at least 1")
        check_tags(self.tags)

    def check_pipeline_name(self, name: str, fix: str) -> str:
        """``name`` (the evaluation pipeline's or one derived from it) as SageMaker accepts it: the name's
        limit, and with tags its ARN's, since they are kept with AddTags/ListTags."""
        check_limit(limits.PIPELINE_NAME, name, "pipeline name", f"letters, digits and hyphens: {fix}")
        if self.tags:
            arn = self.pipeline_arn(name)
            most = limits.TAGGED_ARN.max_length - (len(arn) - len(name))
            check_limit(limits.TAGGED_ARN, arn, "pipeline ARN",
                        f"SageMaker's AddTags and ListTags take ARNs of at most {limits.TAGGED_ARN.max_length} "
                        f"characters: a tagged pipeline's name may have {most}; {fix}")
        return name

    def _check_project(self) -> None:
        if self.project_name is None and self.project_id is None:
            return
        fix = f"set both {ENV_VARS['project_name']} and {ENV_VARS['project_id']}, or neither"
        name = check_limit(limits.PROJECT_NAME, self.project_name or "", "SageMaker project name", fix)
        project_id = check_limit(limits.PROJECT_ID, self.project_id or "", "SageMaker project id", fix)
        group = project_group_name(name, project_id)
        if self.model_package_group != group:
            raise ConfigError(
                f"model package group {self.model_package_group!r} is not project {name}'s {group!r} "
                f"(<project name>-<project id>, where the project looks for it): drop --model-package-group "
                f"and {ENV_VARS['model_package_group']}"
            )
        given = dict(self.tags)
        for key, value in project_tags(name, project_id):
            if key not in given:
                raise ConfigError(f"the project's tag {key}={value} is missing: build the settings with "
                                  "PipelineConfig.from_sources, which adds it")
            if given[key] != value:
                raise ConfigError(f"tag {key}={given[key]} contradicts the project's {key}={value}: "
                                  "drop it from --tags")

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

    def _arn(self, service: str, resource: str) -> str:
        # The role's partition and account are the pipeline's: one place to read them.
        _, partition, _, _, account, _ = self.role_arn.split(":", 5)
        return f"arn:{partition}:{service}:{self.region}:{account}:{resource}"

    def function_arn(self, suffix: str) -> str:
        """Its ARN, in the role's partition and account (the definition names it; upsert deploys it)."""
        return self._arn("lambda", f"function:{self.function_name(suffix)}")

    def pipeline_arn(self, name: str | None = None) -> str:
        """The ARN SageMaker gives pipeline ``name`` (default: the evaluation pipeline): the role's partition
        and account, the name in lower case, as SageMaker writes names in ARNs. Known without any call."""
        return self._arn("sagemaker", f"pipeline/{(name or self.pipeline_name).lower()}")

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
    def monitored_version_function_name(self) -> str:
        """The function that finds the deployed (latest Approved) version and stages a quality check's inputs."""
        return self.function_name(MONITORED_VERSION_FUNCTION)

    @property
    def monitored_version_function_arn(self) -> str:
        return self.function_arn(MONITORED_VERSION_FUNCTION)

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
        _apply_project(values)
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


def _apply_project(values: dict[str, object]) -> None:
    """With a SageMaker project: its group and tags, and its pipeline name and prefix unless given."""
    name, project_id = values.get("project_name"), values.get("project_id")
    if not name and not project_id:
        return
    if not (name and project_id):
        raise ConfigError(f"{ENV_VARS['project_name']} and {ENV_VARS['project_id']} go together: set both or neither")
    assert isinstance(name, str) and isinstance(project_id, str)
    group = project_group_name(name, project_id)
    values.setdefault("model_package_group", group)  # validate() refuses another group
    values.setdefault("pipeline_name", f"{name}-evaluation")
    values.setdefault("prefix", f"{name}/evaluation")
    given = tuple(values.get("tags") or ())  # type: ignore[arg-type]
    keys = {key for key, _ in given}
    values["tags"] = given + tuple(tag for tag in project_tags(name, project_id) if tag[0] not in keys)


def check_tags(tags: tuple[tuple[str, str], ...]) -> None:
    """ConfigError for tags SageMaker or Lambda would refuse: too many, a repeated or reserved key, a key or
    value too long or with characters outside the tag character set."""
    if len(tags) > limits.TAGS_PER_RESOURCE:
        raise ConfigError(f"{len(tags)} tags: SageMaker and Lambda take at most {limits.TAGS_PER_RESOURCE} per "
                          "resource (a SageMaker project's 2 included): pass fewer --tags")
    seen: set[str] = set()
    for key, value in tags:
        check_limit(limits.TAG_KEY, key, "tag key", "--tags KEY=VALUE")
        check_limit(limits.TAG_VALUE, value, f"value of tag {key}", "--tags KEY=VALUE")
        if key.lower().startswith(limits.RESERVED_TAG_PREFIX):
            raise ConfigError(f"bad tag key {shown(key)}: the prefix {limits.RESERVED_TAG_PREFIX} is reserved for AWS; "
                              "use another key")
        if key in seen:
            raise ConfigError(f"tag {key} given twice: tag keys are unique per resource; pass it once")
        seen.add(key)


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

"""What a role's resources are made of: the configuration's partition, account, region, bucket, artifact
layout and KMS key, as ARNs (plus what the configuration cannot know: data buckets, endpoints)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

from pipeline.aws.iam import PermissionsError, Statement
from pipeline.config import ENV_VARS, PLACEHOLDER_ROLE_ARN, PipelineConfig
from pipeline.limits import is_bucket_name

# The parts of the artifact layout the roles read or write (Scope.folders says where each is).
CODE, INPUT, MODELS, EXECUTIONS, MONITORING = "code", "input", "models", "executions", "monitoring"
# Parts of MONITORING on their own, for a role that needs only them: the default Data Capture and ground-truth
# prefixes, and the model-quality history (the one object under MONITORING a job writes).
CAPTURE_DATA, GROUND_TRUTH, QUALITY_HISTORY = "capture-data", "ground-truth", "quality-history"

_KMS_KEY_ID_RE = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_KMS_ARN_RE = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)$")


@dataclass(frozen=True)
class Scope:
    """Everything the resources are made of: the configuration plus what it cannot know."""

    config: PipelineConfig
    scheduler_role_arn: str
    data_buckets: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    _definitions: tuple[dict, ...] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.config.role_arn == PLACEHOLDER_ROLE_ARN:
            raise PermissionsError(f"no pipeline role: pass --role-arn or set {ENV_VARS['role_arn']} "
                                   "(its account and partition name every resource)")
        for bucket in self.data_buckets:
            if not is_bucket_name(bucket):
                raise PermissionsError(f"bad --data-bucket {bucket!r}: a bucket name, without s3:// or a key")
        _ = self.kms_key  # a malformed key fails here, before anything is printed

    @property
    def partition(self) -> str:
        return self.config.role_arn.split(":")[1]

    @property
    def account(self) -> str:
        return self.config.role_arn.split(":")[4]

    @property
    def region(self) -> str:
        return self.config.region

    def arn(self, service: str, resource: str) -> str:
        """An ARN of the role's partition, account and the configured region."""
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"

    def sagemaker(self, kind: str, name: str, *rest: str) -> tuple[str, ...]:
        """SageMaker ARNs of a named resource (pipelines: PipelineConfig.pipeline_arn). SageMaker writes most
        names in ARNs in lower case; not knowing it for each kind, a name with capitals gets both spellings."""
        return tuple(sorted({self.arn("sagemaker", "/".join((kind, spelling, *rest)))
                             for spelling in (name, name.lower())}))

    def bucket_arn(self, bucket: str | None = None) -> str:
        return f"arn:{self.partition}:s3:::{bucket or self.config.bucket}"

    @cached_property
    def folders(self) -> dict[str, tuple[str, ...]]:
        """Each part of the layout: its key prefixes, read from where the layout is declared."""
        from pipeline.pipelines.monitoring import default_baseline_url, default_capture_data_url
        from pipeline.pipelines.quality import default_ground_truth_url, quality_prefix

        config = self.config

        def key(uri: str) -> str:
            return uri[len("s3://"):].partition("/")[2]

        return {
            CODE: (key(config.code_uri("*")).rpartition("*")[0],),
            INPUT: tuple(sorted({key(u).rpartition("/")[0] + "/"
                                 for u in (config.default_model_data_url, config.default_test_data_url)})),
            MODELS: (key(config.frozen_models_prefix) + "/",),
            # Per-execution outputs, as definition.py's and monitoring.py's steps name them.
            EXECUTIONS: (f"{config.prefix}/executions/",),
            MONITORING: (key(default_baseline_url(config)), key(default_capture_data_url(config)),
                         key(default_ground_truth_url(config)), key(quality_prefix(config))),
            CAPTURE_DATA: (key(default_capture_data_url(config)),),
            GROUND_TRUTH: (key(default_ground_truth_url(config)),),
            QUALITY_HISTORY: (key(quality_prefix(config)),),
        }

    def objects(self, *parts: str) -> tuple[str, ...]:
        """Object ARNs of everything under these parts of the artifact layout."""
        return tuple(f"{self.bucket_arn()}/{prefix}*" for part in parts for prefix in self.folders[part])

    def data_objects(self) -> tuple[str, ...]:
        return tuple(f"{self.bucket_arn(bucket)}/*" for bucket in self.data_buckets)

    def listing(self, sid: str, *parts: str, data: bool = True) -> list[Statement]:
        """ListBucket on the artifact bucket, only below these parts of the layout (and on the data buckets)."""
        prefixes = sorted(f"{prefix}*" for part in parts for prefix in self.folders[part])
        statements = [Statement(sid, ("s3:ListBucket",), (self.bucket_arn(),),
                                {"StringLike": {"s3:prefix": prefixes}})]
        if data and self.data_buckets:
            statements.append(Statement(f"{sid}DataBuckets", ("s3:ListBucket",),
                                        tuple(self.bucket_arn(b) for b in self.data_buckets)))
        return statements

    @cached_property
    def kms_key(self) -> tuple[str, dict[str, Any]] | None:
        """(resource, condition) of the configured KMS key, or None. An alias cannot be a resource of the
        key operations, so it becomes "any key of the account and region carrying this alias"."""
        key = self.config.kms_key_id
        if not key:
            return None
        match = _KMS_ARN_RE.match(key)
        if match:
            partition, region, account, kind, name = match.groups()
            if kind == "key":
                return key, {}
            return (f"arn:{partition}:kms:{region}:{account}:key/*",
                    {"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{name}"}})
        if key.startswith("alias/") and len(key) > len("alias/"):
            return self.arn("kms", "key/*"), {"ForAnyValue:StringEquals": {"kms:ResourceAliases": key}}
        if _KMS_KEY_ID_RE.match(key):
            return self.arn("kms", f"key/{key}"), {}
        raise PermissionsError(f"bad KMS key {key!r}: use a key ID, key ARN, alias/NAME or alias ARN "
                               f"(--kms-key-id or {ENV_VARS['kms_key_id']})")

    def kms(self, sid: str, actions: Sequence[str], *, via_s3: bool) -> list[Statement]:
        """The key's statement when a key is configured. ``via_s3``: only as S3 uses it for SSE-KMS."""
        if self.kms_key is None:
            return []
        resource, condition = self.kms_key
        condition = {op: dict(keys) for op, keys in condition.items()}
        if via_s3:
            condition.setdefault("StringEquals", {})["kms:ViaService"] = f"s3.{self.region}.amazonaws.com"
        return [Statement(sid, tuple(actions), (resource,), condition or None)]

    def pass_role(self, sid: str, role_arn: str, service: str) -> Statement:
        return Statement(sid, ("iam:PassRole",), (role_arn,), {"StringEquals": {"iam:PassedToService": service}})

    @property
    def definitions(self) -> tuple[dict, ...]:
        """Every pipeline's definition JSON (pipeline.pipelines.SPECS), built offline."""
        if self._definitions is None:
            from pipeline.pipelines import SPECS
            from pipeline.sdk import prepare_sdk_environment

            prepare_sdk_environment(self.region)
            object.__setattr__(self, "_definitions", tuple(spec.definition(self.config) for spec in SPECS.values()))
        return self._definitions  # type: ignore[return-value]

    @property
    def role_arns(self) -> dict[str, str | None]:
        """Each role's ARN where the configuration knows it (CodeBuild's is the project's own)."""
        return {"pipeline": self.config.role_arn, "function": self.config.champion_function_role_arn,
                "codebuild": None, "scheduler": self.scheduler_role_arn, "operator": None}

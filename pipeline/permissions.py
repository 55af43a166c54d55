"""Least-privilege IAM policies for the roles this project's code runs as, from one declaration.

    python -m pipeline.permissions --bucket B --region R --role-arn ARN [--lambda-role-arn ARN]
        [--scheduler-role-arn ARN] [--kms-key-id KEY] [--data-bucket NAME ...] [--endpoint NAME ...]
        [--role pipeline|function|codebuild|scheduler|operator] [--out-dir DIR]

Roles (``ROLES``), and the code each one runs:

* ``pipeline``  -- SageMaker runs both pipelines' steps as it (CreateModel, transform and processing jobs,
  RegisterModel, the Lambda steps' invocations) and the jobs' containers run as it. Its statements are
  made from the step types found in the two definitions, so a new step type fails here until declared.
* ``function``  -- the Lambda functions ``pipeline.functions.FUNCTIONS`` (champion lookup, model freezing).
* ``codebuild`` -- ``buildspec.yml``'s ``python -m pipeline.upsert`` runs (functions, pipelines, schedule).
* ``scheduler`` -- EventBridge Scheduler starting the drift-check pipeline.
* ``operator``  -- an engineer's identity policy for the CLIs that call AWS outside CodeBuild
  (``pipeline.registry --backend sagemaker``, ``pipeline.monitor --s3 aws``, ``pipeline.endpoint``).

Every resource is an ARN in the role's partition, account and region, and every S3 key is under
``s3://<bucket>/<prefix>/``; inputs the user may keep elsewhere need ``--data-bucket``. Actions are
never wildcards. ``tests/test_permissions.py`` checks this declaration against the code: each boto3 call
of each role's code, each step type and S3 location of the definitions, and (where moto enforces IAM)
the real handlers and upsert run under exactly these documents.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from pipeline.config import BUCKET_RE, ENV_VARS, PLACEHOLDER_ROLE_ARN, ConfigError, PipelineConfig

ROLES = ("pipeline", "function", "codebuild", "scheduler", "operator")
# The service each role is assumed by; the operator policy is attached to people, not assumed by a service.
TRUSTED_SERVICES = {
    "pipeline": "sagemaker.amazonaws.com",
    "function": "lambda.amazonaws.com",
    "codebuild": "codebuild.amazonaws.com",
    "scheduler": "scheduler.amazonaws.com",
}
# The code each role runs, as module:function entry points (the functions' handlers come from
# pipeline.functions.FUNCTIONS); tests/test_permissions.py checks every AWS call reachable from them.
ENTRY_POINTS = {
    "codebuild": ("pipeline.upsert:main",),
    "operator": ("pipeline.registry:main", "pipeline.monitor:main", "pipeline.endpoint.cli:main"),
}
POLICY_VERSION = "2012-10-17"
# A managed policy holds at most 6,144 characters (whitespace not counted); an inline one more.
MANAGED_POLICY_LIMIT = 6144
# Log groups SageMaker jobs write to, and the namespaces their instance metrics go to.
JOB_LOG_GROUPS = {"Processing": "/aws/sagemaker/ProcessingJobs", "Transform": "/aws/sagemaker/TransformJobs"}
JOB_METRIC_NAMESPACES = {"Processing": "/aws/sagemaker/ProcessingJobs", "Transform": "/aws/sagemaker/TransformJobs"}
# Jobs and models a pipeline execution creates are named pipelines-<execution id>-<step>-<suffix>.
PIPELINE_RESOURCE_PREFIX = "pipelines-"
# The parts of the artifact layout the roles read or write (Scope.folders says where each is).
CODE, INPUT, MODELS, EXECUTIONS, MONITORING = "code", "input", "models", "executions", "monitoring"

_KMS_KEY_ID_RE = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_KMS_ARN_RE = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)$")


class PermissionsError(ValueError):
    """The policies cannot be written for these settings; the message says what to change."""


@dataclass(frozen=True)
class Statement:
    """One IAM policy statement (always Allow)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, Any]] | None = None

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": sorted(set(self.actions)),
            "Resource": sorted(set(self.resources)),
        }
        if self.condition:
            body["Condition"] = {op: dict(sorted(keys.items())) for op, keys in sorted(self.condition.items())}
        return body


def policy_document(statements: Iterable[Statement]) -> dict[str, Any]:
    """A policy document; statements with the same Sid (from several steps) are merged."""
    merged: dict[str, Statement] = {}
    for statement in statements:
        seen = merged.get(statement.sid)
        if seen is None:
            merged[statement.sid] = statement
        elif seen.condition != statement.condition:
            raise AssertionError(f"statement {statement.sid} declared twice with different conditions")
        else:
            merged[statement.sid] = Statement(seen.sid, seen.actions + statement.actions,
                                              seen.resources + statement.resources, seen.condition)
    return {"Version": POLICY_VERSION, "Statement": [s.document() for s in merged.values()]}


@dataclass(frozen=True)
class Scope:
    """Everything the resources are made of: the configuration plus what it cannot know."""

    config: PipelineConfig
    scheduler_role_arn: str
    data_buckets: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    _definitions: tuple[dict, dict] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.config.role_arn == PLACEHOLDER_ROLE_ARN:
            raise PermissionsError(f"no pipeline role: pass --role-arn or set {ENV_VARS['role_arn']} "
                                   "(its account and partition name every resource)")
        for bucket in self.data_buckets:
            if not BUCKET_RE.match(bucket):
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
        from pipeline.monitoring import default_baseline_url, default_capture_data_url

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
            MONITORING: (key(default_baseline_url(config)), key(default_capture_data_url(config))),
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
    def definitions(self) -> tuple[dict, dict]:
        """The evaluation and drift-check pipelines' definition JSON, built offline."""
        if self._definitions is None:
            from pipeline.definition import build_definition, prepare_sdk_environment
            from pipeline.monitoring import build_monitoring_definition

            prepare_sdk_environment(self.region)
            object.__setattr__(self, "_definitions",
                               (build_definition(self.config), build_monitoring_definition(self.config)))
        return self._definitions  # type: ignore[return-value]

    @property
    def role_arns(self) -> dict[str, str | None]:
        """Each role's ARN where the configuration knows it (CodeBuild's is the project's own)."""
        return {"pipeline": self.config.role_arn, "function": self.config.champion_function_role_arn,
                "codebuild": None, "scheduler": self.scheduler_role_arn, "operator": None}


def entry_points(role: str) -> tuple[str, ...]:
    """``module:function`` entry points of the code ``role`` runs (none for pipeline and scheduler: AWS
    services act for them)."""
    if role == "function":
        from pipeline.functions import FUNCTIONS

        return tuple("pipeline.lambdas.{}:{}".format(*spec.handler.split(".")) for spec in FUNCTIONS)
    return ENTRY_POINTS.get(role, ())


# ----------------------------------------------------------------------------------------- pipeline role

def steps_of(definition: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """Every step of a definition, including those in condition branches."""
    for step in definition.get("Steps", []):
        yield step
        if step["Type"] == "Condition":
            yield from steps_of({"Steps": step["Arguments"].get("IfSteps", [])})
            yield from steps_of({"Steps": step["Arguments"].get("ElseSteps", [])})


def _image_repository(scope: Scope, image_uri: str) -> str:
    """The ECR repository ARN of ``<account>.dkr.ecr.<region>.<domain>/<name>:<tag>``."""
    match = re.match(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.[a-z0-9.]+/([^:@]+)", image_uri)
    if not match:
        raise PermissionsError(f"image {image_uri!r} is not an ECR image URI; declare its registry's permissions")
    account, region, name = match.groups()
    return f"arn:{scope.partition}:ecr:{region}:{account}:repository/{name}"


def _containers(scope: Scope, image: str, role: str) -> list[Statement]:
    """What SageMaker needs to start containers of ``image`` as ``role`` (a model's or a job's)."""
    return [
        Statement("PullScikitLearnImage", ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                                           "ecr:GetDownloadUrlForLayer"), (_image_repository(scope, image),)),
        # GetAuthorizationToken has no resource type: "*" is the only resource IAM accepts for it.
        Statement("GetEcrToken", ("ecr:GetAuthorizationToken",), ("*",)),
        scope.pass_role("PassPipelineRoleToJobs", role, "sagemaker.amazonaws.com"),
    ]


def _job_runtime(scope: Scope, job: str) -> list[Statement]:
    """What a running job's instances do as the role: logs, metrics, and the KMS key for data and volumes."""
    group = JOB_LOG_GROUPS[job]
    statements = [
        Statement(f"{job}JobLogs", ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                                    "logs:PutLogEvents"),
                  (scope.arn("logs", f"log-group:{group}"), scope.arn("logs", f"log-group:{group}:log-stream:*"))),
        # PutMetricData has no resource type; the namespace condition is what narrows it.
        Statement(f"{job}JobMetrics", ("cloudwatch:PutMetricData",), ("*",),
                  {"StringEquals": {"cloudwatch:namespace": JOB_METRIC_NAMESPACES[job]}}),
        # Jobs read what the functions wrote with the key (Decrypt), write their outputs with it (Encrypt,
        # GenerateDataKey); SageMaker checks the key (DescribeKey) before it uses it for a job.
        *scope.kms("UseKeyForJobData", ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
                   via_s3=False),
    ]
    # The volumes: SageMaker has EBS encrypt them with the key through a grant for the AWS resource.
    for grant in scope.kms("GrantKeyForJobVolumes", ("kms:CreateGrant",), via_s3=False):
        condition = {**(grant.condition or {}), "Bool": {"kms:GrantIsForAWSResource": "true"}}
        statements.append(Statement(grant.sid, grant.actions, grant.resources, condition))
    return statements


def _lambda_step(scope: Scope, step: Mapping[str, Any]) -> list[Statement]:
    return [Statement("InvokePipelineFunctions", ("lambda:InvokeFunction",), (step["FunctionArn"],))]


def _model_step(scope: Scope, step: Mapping[str, Any]) -> list[Statement]:
    args = step["Arguments"]
    return [Statement("CreateModels", ("sagemaker:AddTags", "sagemaker:CreateModel", "sagemaker:DescribeModel"),
                      (scope.arn("sagemaker", f"model/{PIPELINE_RESOURCE_PREFIX}*"),)),
            *_containers(scope, args["PrimaryContainer"]["Image"], args["ExecutionRoleArn"])]


def _transform_step(scope: Scope, step: Mapping[str, Any]) -> list[Statement]:
    # Its containers are the model's (image and role: the Model step's statements).
    return [Statement("RunTransformJobs", ("sagemaker:AddTags", "sagemaker:CreateTransformJob",
                                           "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"),
                      (scope.arn("sagemaker", f"transform-job/{PIPELINE_RESOURCE_PREFIX}*"),)),
            *_job_runtime(scope, "Transform")]


def _processing_step(scope: Scope, step: Mapping[str, Any]) -> list[Statement]:
    args = step["Arguments"]
    return [Statement("RunProcessingJobs", ("sagemaker:AddTags", "sagemaker:CreateProcessingJob",
                                            "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"),
                      (scope.arn("sagemaker", f"processing-job/{PIPELINE_RESOURCE_PREFIX}*"),)),
            *_containers(scope, args["AppSpecification"]["ImageUri"], args["RoleArn"]),
            *_job_runtime(scope, "Processing")]


def _register_step(scope: Scope, step: Mapping[str, Any]) -> list[Statement]:
    # CreateModelPackage is authorized on the new version and on its group; the group itself is upsert's
    # to create (with the project's tags), not the pipeline's.
    group = scope.config.model_package_group
    return [Statement("RegisterModelVersions", ("sagemaker:AddTags", "sagemaker:CreateModelPackage",
                                                "sagemaker:DescribeModelPackage"),
                      scope.sagemaker("model-package", group, "*") + scope.sagemaker("model-package-group", group))]


def _no_aws(scope: Scope, step: Mapping[str, Any]) -> list[Statement]:
    return []  # evaluated by SageMaker itself (a JsonGet reads the property file: see ReadPipelineArtifacts)


# What SageMaker does as the pipeline role for each step type of the definitions.
STEP_PERMISSIONS: dict[str, Callable[[Scope, Mapping[str, Any]], list[Statement]]] = {
    "Lambda": _lambda_step,
    "Model": _model_step,
    "Transform": _transform_step,
    "Processing": _processing_step,
    "RegisterModel": _register_step,
    "Condition": _no_aws,
    "Fail": _no_aws,
}


def pipeline_statements(scope: Scope) -> list[Statement]:
    """The pipeline role: the steps' needs, then the artifact layout its jobs read and write."""
    statements: list[Statement] = []
    for definition in scope.definitions:
        for step in steps_of(definition):
            declare = STEP_PERMISSIONS.get(step["Type"])
            if declare is None:
                raise PermissionsError(f"step {step['Name']} has type {step['Type']!r}, which has no permissions "
                                       "declared: add it to pipeline.permissions.STEP_PERMISSIONS")
            statements += declare(scope, step)
    return statements + [
        # Code, frozen models, test data and the monitoring baseline/capture defaults; executions' own
        # outputs (the transform's, the context staged by FindChampion, the property files read by JsonGet).
        Statement("ReadPipelineArtifacts", ("s3:GetObject",),
                  scope.objects(CODE, INPUT, MODELS, EXECUTIONS, MONITORING) + scope.data_objects()),
        Statement("WriteExecutionOutputs", ("s3:PutObject",), scope.objects(EXECUTIONS)),
        *scope.listing("ListPipelineArtifacts", CODE, INPUT, MODELS, EXECUTIONS, MONITORING),
    ]


# ----------------------------------------------------------------------------------------- function role

def function_statements(scope: Scope) -> list[Statement]:
    """The Lambda functions: read the registry, freeze ModelDataUrl, stage the champion and validation data."""
    group = scope.config.model_package_group
    return [
        # champions.latest_approved: the group, every page of its Approved versions, the newest one.
        Statement("FindChampion", ("sagemaker:DescribeModelPackageGroup",), scope.sagemaker("model-package-group", group)),
        Statement("ReadChampionVersions", ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"),
                  scope.sagemaker("model-package", group, "*")),
        # Sources: ModelDataUrl (default under input/), the champion's frozen archive and evaluation, the
        # validation data. A copy also reads the source's tags (S3 copies them by default).
        Statement("ReadSources", ("s3:GetObject", "s3:GetObjectTagging"),
                  scope.objects(INPUT, MODELS, EXECUTIONS) + scope.data_objects()),
        *scope.listing("ListSources", INPUT, MODELS, EXECUTIONS),
        # Targets: the content-addressed archive, the execution's staged context. Large copies are multipart
        # (UploadPartCopy), aborted on failure.
        Statement("WriteFrozenModelsAndContext", ("s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectTagging"),
                  scope.objects(MODELS, EXECUTIONS)),
        # SSE-KMS: reading needs Decrypt, writing GenerateDataKey (a multipart copy both).
        *scope.kms("UseKeyThroughS3", ("kms:Decrypt", "kms:GenerateDataKey"), via_s3=True),
    ]


# ---------------------------------------------------------------------------------------- codebuild role

def codebuild_statements(scope: Scope) -> list[Statement]:
    """``python -m pipeline.upsert`` (both pipelines, the functions, the schedule), as buildspec.yml runs it."""
    from pipeline.functions import FUNCTIONS
    from pipeline.monitoring import monitoring_pipeline_name, schedule_name

    config = scope.config
    pipelines = (config.pipeline_name, monitoring_pipeline_name(config))
    pipeline_arns = tuple(config.pipeline_arn(name) for name in pipelines)
    execution_arns = tuple(f"{arn}/execution/*" for arn in pipeline_arns)
    return [
        Statement("UploadProcessingCode", ("s3:PutObject",), scope.objects(CODE)),
        *scope.listing("ListProcessingCode", CODE, data=False),
        *scope.kms("EncryptProcessingCode", ("kms:GenerateDataKey",), via_s3=True),
        # Create (with the project's tags: AddTags) or update; ListTags to compare them.
        Statement("DeployPipelines", ("sagemaker:AddTags", "sagemaker:CreatePipeline", "sagemaker:DescribePipeline",
                                      "sagemaker:ListTags", "sagemaker:UpdatePipeline"), pipeline_arns),
        Statement("StartPipelines", ("sagemaker:StartPipelineExecution",), pipeline_arns),
        Statement("FollowExecutions", ("sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"),
                  execution_arns),
        Statement("DeployModelPackageGroup", ("sagemaker:AddTags", "sagemaker:CreateModelPackageGroup",
                                              "sagemaker:DescribeModelPackageGroup", "sagemaker:ListTags"),
                  scope.sagemaker("model-package-group", config.model_package_group)),
        Statement("DeployFunctions", ("lambda:CreateFunction", "lambda:GetFunction", "lambda:ListTags",
                                      "lambda:TagResource", "lambda:UpdateFunctionCode",
                                      "lambda:UpdateFunctionConfiguration"),
                  tuple(config.function_arn(spec.suffix) for spec in FUNCTIONS)),
        Statement("DeploySchedule", ("scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:UpdateSchedule"),
                  (scope.arn("scheduler", f"schedule/default/{schedule_name(monitoring_pipeline_name(config))}"),)),
        scope.pass_role("PassPipelineRole", config.role_arn, "sagemaker.amazonaws.com"),
        scope.pass_role("PassFunctionRole", config.champion_function_role_arn, "lambda.amazonaws.com"),
        scope.pass_role("PassSchedulerRole", scope.scheduler_role_arn, "scheduler.amazonaws.com"),
    ]


# ---------------------------------------------------------------------------------------- scheduler role

def scheduler_statements(scope: Scope) -> list[Statement]:
    """EventBridge Scheduler: start the drift-check pipeline, nothing else."""
    from pipeline.monitoring import monitoring_pipeline_name

    return [Statement("StartMonitoringPipeline", ("sagemaker:StartPipelineExecution",),
                      (scope.config.pipeline_arn(monitoring_pipeline_name(scope.config)),))]


# ----------------------------------------------------------------------------------------- operator

def operator_statements(scope: Scope) -> list[Statement]:
    """The CLIs engineers run against AWS: registry (review, baseline), monitor and the endpoint evaluator."""
    group = scope.config.model_package_group
    endpoints = scope.endpoints or ("*",)
    return [
        # ListModelPackageGroups has no resource type: "*" is the only resource IAM accepts for it.
        Statement("ListModelPackageGroups", ("sagemaker:ListModelPackageGroups",), ("*",)),
        Statement("DescribeModelPackageGroup", ("sagemaker:DescribeModelPackageGroup",),
                  scope.sagemaker("model-package-group", group)),
        Statement("ReviewModelVersions", ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages",
                                          "sagemaker:UpdateModelPackage"),
                  scope.sagemaker("model-package", group, "*")),
        # Without --endpoint every endpoint of the account and region: the configuration names none.
        Statement("InvokeEndpoints", ("sagemaker:InvokeEndpoint",),
                  tuple(a for name in endpoints for a in scope.sagemaker("endpoint", name))),
        Statement("ReadDataForChecks", ("s3:GetObject",),
                  scope.objects(INPUT, EXECUTIONS, MONITORING) + scope.data_objects()),
        *scope.listing("ListDataForChecks", INPUT, EXECUTIONS, MONITORING),
        *scope.kms("DecryptThroughS3", ("kms:Decrypt",), via_s3=True),
    ]


ROLE_STATEMENTS: dict[str, Callable[[Scope], list[Statement]]] = {
    "pipeline": pipeline_statements,
    "function": function_statements,
    "codebuild": codebuild_statements,
    "scheduler": scheduler_statements,
    "operator": operator_statements,
}


def policy(role: str, scope: Scope) -> dict[str, Any]:
    """The permissions policy document of ``role``."""
    return policy_document(ROLE_STATEMENTS[role](scope))


def trust_policy(role: str, scope: Scope) -> dict[str, Any] | None:
    """Who may assume ``role``: its service, and that of every other role configured as the same ARN
    (e.g. LAMBDA_ROLE_ARN unset: the pipeline role is the function's role too). None for the operator."""
    if role not in TRUSTED_SERVICES:
        return None
    arn = scope.role_arns[role]
    services = sorted({TRUSTED_SERVICES[other] for other, other_arn in scope.role_arns.items()
                       if other in TRUSTED_SERVICES and (other == role or (arn is not None and other_arn == arn))})
    statement: dict[str, Any] = {"Sid": "AssumedBy" + "".join(s.split(".")[0].capitalize() for s in services),
                                 "Effect": "Allow", "Principal": {"Service": services}, "Action": "sts:AssumeRole"}
    if services == ["scheduler.amazonaws.com"]:
        # Confused-deputy guard: only schedules of this account may use the role.
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": scope.account}}
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def shared_roles(scope: Scope) -> list[str]:
    """One line per role ARN that several roles share (their policies must all be attached to it)."""
    by_arn: dict[str, list[str]] = {}
    for role, arn in scope.role_arns.items():
        if arn:
            by_arn.setdefault(arn, []).append(role)
    return [f"{arn} is the {', '.join(roles)} role: attach each of their policies to it"
            for arn, roles in by_arn.items() if len(roles) > 1]


def policy_size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts against a policy's size limit (whitespace is not counted)."""
    return len(re.sub(r"\s", "", json.dumps(document)))


# ------------------------------------------------------------------------------------------------ CLI

def build_parser() -> argparse.ArgumentParser:
    from pipeline.definition import add_config_arguments
    from pipeline.upsert import SCHEDULER_ROLE_ENV

    parser = argparse.ArgumentParser(
        prog="python -m pipeline.permissions",
        description="Print the least-privilege IAM policies (and trust policies) of the roles this project uses.",
    )
    add_config_arguments(parser)
    parser.add_argument("--role-arn", help=f"pipeline execution role (env {ENV_VARS['role_arn']}); required")
    parser.add_argument("--lambda-role-arn", help=f"the functions' role (env {ENV_VARS['lambda_role_arn']}; "
                                                  "default --role-arn)")
    parser.add_argument("--scheduler-role-arn", help=f"the schedule's role (env {SCHEDULER_ROLE_ENV}; default --role-arn)")
    parser.add_argument("--data-bucket", action="append", default=[], metavar="NAME",
                        help="a bucket holding ModelDataUrl, TestDataUrl, ValidationDataUrl or capture data outside "
                             "the artifact prefix (repeatable; read access to the whole bucket)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="NAME",
                        help="operator: endpoint pipeline.endpoint may invoke (repeatable; default any)")
    parser.add_argument("--role", choices=ROLES, help="print only this role's permissions policy")
    parser.add_argument("--out-dir", help="write <role>-policy.json and <role>-trust-policy.json files here")
    return parser


def scope_from_args(args: argparse.Namespace) -> Scope:
    """The Scope of parsed flags, then the environment, then defaults."""
    from pipeline.definition import config_from_args
    from pipeline.upsert import SCHEDULER_ROLE_ENV, check_scheduler_role

    config = config_from_args(args, role_arn=args.role_arn, lambda_role_arn=args.lambda_role_arn)
    scheduler = args.scheduler_role_arn or os.environ.get(SCHEDULER_ROLE_ENV) or config.role_arn
    return Scope(config, scheduler_role_arn=check_scheduler_role(scheduler),
                 data_buckets=tuple(sorted(set(args.data_bucket))), endpoints=tuple(sorted(set(args.endpoint))))


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def write_files(scope: Scope, roles: Sequence[str], out_dir: Path) -> list[Path]:
    """One file per policy, atomically; returns the paths written."""
    from pipeline.atomic import write_text_atomic

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for role in roles:
        for suffix, document in (("policy", policy(role, scope)), ("trust-policy", trust_policy(role, scope))):
            if document is not None:
                path = out_dir / f"{role}-{suffix}.json"
                write_text_atomic(path, render(document))
                written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.monitoring import ScheduleError

    args = build_parser().parse_args(argv)
    try:
        scope = scope_from_args(args)
        roles = [args.role] if args.role else list(ROLES)
        from pipeline.definition import prepare_sdk_environment, quiet_sdk_logging

        prepare_sdk_environment(scope.region)
        quiet_sdk_logging(args.verbose)
        for line in shared_roles(scope):
            print(f"note: {line}", file=sys.stderr)
        if args.out_dir:
            for path in write_files(scope, roles, Path(args.out_dir)):
                print(path)
        elif args.role:
            sys.stdout.write(render(policy(args.role, scope)))
        else:
            sys.stdout.write(render({role: {"RoleArn": scope.role_arns[role], "PolicyDocument": policy(role, scope),
                                            "AssumeRolePolicyDocument": trust_policy(role, scope)} for role in roles}))
    except (ConfigError, PermissionsError, ScheduleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Least-privilege IAM policies for the roles this project's code runs as, from one declaration (printed
by ``python -m pipeline.permissions``).

Roles (``ROLES``), and the code each one runs:

* ``pipeline``  -- SageMaker runs every pipeline's steps as it (CreateModel, transform and processing jobs,
  RegisterModel, the Lambda steps' invocations) and the jobs' containers run as it. Its statements are
  made from the step types found in the definitions, so a new step type fails here until declared.
* ``function``  -- the Lambda functions ``pipeline.aws.functions.FUNCTIONS`` (champion lookup, model freezing,
  the quality check's inputs).
* ``codebuild`` -- ``buildspec.yml``'s ``python -m pipeline.upsert`` runs (functions, pipelines, schedules).
* ``scheduler`` -- EventBridge Scheduler starting the scheduled (drift-check, model-quality) pipelines.
* ``operator``  -- an engineer's identity policy for the CLIs that call AWS outside CodeBuild
  (``pipeline.registry --backend sagemaker``, ``pipeline.monitor --s3 aws``, ``pipeline.endpoint``).

Every resource is an ARN in the role's partition, account and region, and every S3 key is under
``s3://<bucket>/<prefix>/``; inputs the user may keep elsewhere need ``--data-bucket``. Actions are
never wildcards. ``tests/test_permissions.py`` checks this declaration against the code: each boto3 call
of each role's code, each step type and S3 location of the definitions, and (where moto enforces IAM)
the real handlers and upsert run under exactly these documents.
"""
from __future__ import annotations

from typing import Any, Callable

from pipeline.aws.iam import POLICY_VERSION, Statement, policy_document
from pipeline.aws.pipeline_role import pipeline_statements
from pipeline.aws.scope import (CAPTURE_DATA, CODE, EXECUTIONS, GROUND_TRUTH, INPUT, MODELS, MONITORING,
                                QUALITY_HISTORY, Scope)

ROLES = ("pipeline", "function", "codebuild", "scheduler", "operator")
# The service each role is assumed by; the operator policy is attached to people, not assumed by a service.
TRUSTED_SERVICES = {
    "pipeline": "sagemaker.amazonaws.com",
    "function": "lambda.amazonaws.com",
    "codebuild": "codebuild.amazonaws.com",
    "scheduler": "scheduler.amazonaws.com",
}
# The code each role runs, as module:function entry points (the functions' handlers come from
# pipeline.aws.functions.FUNCTIONS); tests/test_permissions.py checks every AWS call reachable from them.
ENTRY_POINTS = {
    "codebuild": ("pipeline.upsert:main",),
    "operator": ("pipeline.registry.cli:main", "pipeline.monitor:main", "pipeline.endpoint.cli:main"),
}


def entry_points(role: str) -> tuple[str, ...]:
    """``module:function`` entry points of the code ``role`` runs (none for pipeline and scheduler: AWS
    services act for them)."""
    if role == "function":
        from pipeline.aws.functions import FUNCTIONS

        return tuple("pipeline.lambdas.{}:{}".format(*spec.handler.split(".")) for spec in FUNCTIONS)
    return ENTRY_POINTS.get(role, ())


# ----------------------------------------------------------------------------------------- function role

def function_statements(scope: Scope) -> list[Statement]:
    """The Lambda functions: read the registry, freeze ModelDataUrl, stage the champion and validation data,
    and stage a quality check's inputs (constraints, history, the window's captures; list the labels)."""
    group = scope.config.model_package_group
    return [
        # champions.latest_approved: the group, every page of its Approved versions, the newest one.
        Statement("FindChampion", ("sagemaker:DescribeModelPackageGroup",), scope.sagemaker("model-package-group", group)),
        Statement("ReadChampionVersions", ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"),
                  scope.sagemaker("model-package", group, "*")),
        # Sources: ModelDataUrl (default under input/), the champion's frozen archive and evaluation, the
        # validation data, the deployed version's constraints, the quality history and Data Capture objects.
        # A copy also reads the source's tags (S3 copies them by default).
        Statement("ReadSources", ("s3:GetObject", "s3:GetObjectTagging"),
                  scope.objects(INPUT, MODELS, EXECUTIONS, CAPTURE_DATA, QUALITY_HISTORY) + scope.data_objects()),
        # ... and the ground truth is listed (that it exists), never read.
        *scope.listing("ListSources", INPUT, MODELS, EXECUTIONS, CAPTURE_DATA, GROUND_TRUTH, QUALITY_HISTORY),
        # Targets: the content-addressed archive, the execution's staged context. Large copies are multipart
        # (UploadPartCopy), aborted on failure.
        Statement("WriteFrozenModelsAndContext", ("s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectTagging"),
                  scope.objects(MODELS, EXECUTIONS)),
        # SSE-KMS: reading needs Decrypt, writing GenerateDataKey (a multipart copy both).
        *scope.kms("UseKeyThroughS3", ("kms:Decrypt", "kms:GenerateDataKey"), via_s3=True),
    ]


# ---------------------------------------------------------------------------------------- codebuild role

def codebuild_statements(scope: Scope) -> list[Statement]:
    """``python -m pipeline.upsert`` (every pipeline, the functions, the schedules), as buildspec.yml runs it."""
    from pipeline.aws.functions import FUNCTIONS
    from pipeline.aws.schedule import schedule_name
    from pipeline.pipelines import SPECS

    config = scope.config
    pipelines = tuple(spec.name(config) for spec in SPECS.values())
    schedules = tuple(scope.arn("scheduler", f"schedule/default/{schedule_name(spec.name(config))}")
                      for spec in SPECS.values() if spec.schedulable)
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
                  schedules),
        scope.pass_role("PassPipelineRole", config.role_arn, "sagemaker.amazonaws.com"),
        scope.pass_role("PassFunctionRole", config.champion_function_role_arn, "lambda.amazonaws.com"),
        scope.pass_role("PassSchedulerRole", scope.scheduler_role_arn, "scheduler.amazonaws.com"),
    ]


# ---------------------------------------------------------------------------------------- scheduler role

def scheduler_statements(scope: Scope) -> list[Statement]:
    """EventBridge Scheduler: start the scheduled pipelines (drift check, model quality), nothing else."""
    from pipeline.pipelines import SPECS

    return [Statement("StartMonitoringPipeline", ("sagemaker:StartPipelineExecution",),
                      tuple(scope.config.pipeline_arn(spec.name(scope.config)) for spec in SPECS.values()
                            if spec.schedulable))]


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


"""The pipeline role: what SageMaker does as it for each step type of the definitions, then the artifact
layout its jobs read and write. A step type not declared in ``STEP_PERMISSIONS`` is refused."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

from pipeline.aws.iam import PermissionsError, Statement
from pipeline.aws.scope import CODE, EXECUTIONS, INPUT, MODELS, MONITORING, QUALITY_HISTORY, Scope

# Log groups SageMaker jobs write to, and the namespaces their instance metrics go to.
JOB_LOG_GROUPS = {"Processing": "/aws/sagemaker/ProcessingJobs", "Transform": "/aws/sagemaker/TransformJobs"}
JOB_METRIC_NAMESPACES = {"Processing": "/aws/sagemaker/ProcessingJobs", "Transform": "/aws/sagemaker/TransformJobs"}
# Jobs and models a pipeline execution creates are named pipelines-<execution id>-<step>-<suffix>.
PIPELINE_RESOURCE_PREFIX = "pipelines-"


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
                                       "declared: add it to pipeline.aws.pipeline_role.STEP_PERMISSIONS")
            statements += declare(scope, step)
    return statements + [
        # Code, frozen models, test data and the monitoring baseline/capture defaults; executions' own
        # outputs (the transform's, the context staged by FindChampion, the property files read by JsonGet).
        Statement("ReadPipelineArtifacts", ("s3:GetObject",),
                  scope.objects(CODE, INPUT, MODELS, EXECUTIONS, MONITORING) + scope.data_objects()),
        Statement("WriteExecutionOutputs", ("s3:PutObject",), scope.objects(EXECUTIONS)),
        # The model-quality check replaces the one history object (its second output) on every run.
        Statement("WriteQualityHistory", ("s3:PutObject",), scope.objects(QUALITY_HISTORY)),
        *scope.listing("ListPipelineArtifacts", CODE, INPUT, MODELS, EXECUTIONS, MONITORING),
    ]

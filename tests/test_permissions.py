"""pipeline.aws.permissions against the code: every AWS call each role's code makes is in that role's policy.

* Statically (tests/aws_calls.py): each boto3 call reachable from a role's entry points, mapped to its IAM
  actions with botocore's service models, is granted; nothing is granted that no call needs; every call
  in the code runs as some role; the definitions' step types and S3 locations are covered.
* Under moto's IAM enforcement (an IAM user holding exactly the generated policy): the Lambda handlers and
  upsert succeed, and fail once any action moto checked is removed. moto checks the action of every
  request of the services used here (S3, SageMaker, Lambda, EventBridge Scheduler), and for S3 the bucket
  or object ARN as well; for the other services it authorizes against the resource "*", so those
  statements are widened to "*" for moto and their ARNs are checked against the resources created instead.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
from fnmatch import fnmatchcase

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from moto.iam import access_control

from pipeline import permissions as permissions_cli
from pipeline.aws import schedule, upsert
from pipeline.pipelines import EVALUATION, MONITORING, QUALITY
from pipeline.aws import permissions
from pipeline.aws.iam import MANAGED_POLICY_LIMIT, PermissionsError, policy_size
from pipeline.aws.pipeline_role import steps_of
from pipeline.aws.scope import Scope
from pipeline.config import PipelineConfig
from pipeline.lambdas import freeze_model, resolve_champion, resolve_monitored_version
from pipeline.lambdas.champions import ChampionLookupError
from pipeline.lambdas.storage import StagingError
from pipeline.registry import SageMakerRegistry
from tests import aws_calls
from tests.conftest import TEST_BUCKET, TEST_ROLE_ARN, create_execution_role
from tests.helpers import assert_one_line_error, run_main

REGION = "us-east-1"
FUNCTION_ROLE_ARN = "arn:aws:iam::123456789012:role/PipelineFunctionsRole"
SCHEDULER_ROLE_ARN = "arn:aws:iam::123456789012:role/DriftScheduleRole"
KMS_KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"
DATA_BUCKET = "user-data-bucket"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
ROLES_WITH_CODE = ("function", "codebuild", "operator")
# Code that calls AWS but runs as none of the roles, and why.
NOT_RUN_BY_ANY_ROLE = {
    ("pipeline.registry.sagemaker", "SageMakerRegistry.add_package"):
        "registering is the RegisterModel step's (pipeline role); the method serves the registry interface and tests",
    ("pipeline.registry.sagemaker", "SageMakerRegistry.create_group"):
        "upsert creates the group; the method serves the registry interface and tests",
}


@pytest.fixture(scope="module")
def config() -> PipelineConfig:
    return PipelineConfig(bucket=TEST_BUCKET, region=REGION, role_arn=TEST_ROLE_ARN, lambda_role_arn=FUNCTION_ROLE_ARN,
                          kms_key_id=KMS_KEY, tags=(("team", "ml"),))


@pytest.fixture(scope="module")
def scope(config) -> Scope:
    return Scope(config, scheduler_role_arn=SCHEDULER_ROLE_ARN, data_buckets=(DATA_BUCKET,))


@pytest.fixture(scope="module")
def policies(scope) -> dict[str, dict]:
    return {role: permissions.policy(role, scope) for role in permissions.ROLES}


def actions_of(document: dict) -> set[str]:
    return {action for statement in document["Statement"] for action in statement["Action"]}


def allowed(document: dict, action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    """Whether an identity policy allows ``action`` on ``resource`` (wildcards, the condition operators used)."""
    context = context or {}
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        if not any(fnmatchcase(action, pattern) for pattern in statement["Action"]):
            continue
        if not any(fnmatchcase(resource, pattern) for pattern in statement["Resource"]):
            continue
        if all(_holds(op, key, expected, context) for op, keys in statement.get("Condition", {}).items()
               for key, expected in keys.items()):
            return True
    return False


def _holds(operator: str, key: str, expected, context: dict[str, str]) -> bool:
    value = context.get(key)
    if value is None:
        return False
    expected = expected if isinstance(expected, list) else [expected]
    base = operator.split(":")[-1]
    if base == "StringEquals":
        return value in expected
    if base == "StringLike":
        return any(fnmatchcase(value, e) for e in expected)
    if base == "Bool":
        return str(value).lower() in [str(e).lower() for e in expected]
    raise AssertionError(f"condition operator {operator} not understood by this test")


def required(role: str, *, kms: bool) -> dict[str, list[aws_calls.Call]]:
    """IAM action -> the calls of ``role``'s code that need it."""
    needs: dict[str, list[aws_calls.Call]] = {}
    for call in aws_calls.reachable_calls(permissions.entry_points(role)):
        for action in call.actions | (call.kms_actions if kms else frozenset()):
            needs.setdefault(action, []).append(call)
    return needs


# --- static: the code's boto3 calls ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES_WITH_CODE)
def test_every_call_of_a_roles_code_is_granted_to_it(role, policies):
    needs = required(role, kms=True)
    assert needs, f"no AWS call found for the {role} role: the analysis lost its entry points"
    missing = {action: [c.where for c in calls] for action, calls in needs.items()
               if action not in actions_of(policies[role])}
    assert not missing, (f"the {role} policy lacks actions its code needs (add them to pipeline/aws/permissions.py): "
                         f"{json.dumps(missing, indent=1)}")


@pytest.mark.parametrize("role", ROLES_WITH_CODE)
def test_nothing_is_granted_that_the_code_does_not_call(role, policies):
    extra = actions_of(policies[role]) - set(required(role, kms=True))
    assert not extra, f"the {role} policy grants actions no call of its code needs: {sorted(extra)}"


def test_kms_actions_only_with_a_key_and_only_where_s3_encrypts(scope):
    plain = Scope(scope.config.with_overrides(kms_key_id=None), scheduler_role_arn=SCHEDULER_ROLE_ARN,
                  _definitions=scope.definitions)
    for role in ROLES_WITH_CODE:
        granted = {a for a in actions_of(permissions.policy(role, plain)) if a.startswith("kms:")}
        assert not granted, f"{role} has {granted} without a KMS key"
        with_key = {a for a in actions_of(permissions.policy(role, scope)) if a.startswith("kms:")}
        assert with_key == {a for a in required(role, kms=True) if a.startswith("kms:")}


def test_every_aws_call_in_the_code_runs_as_some_role():
    covered = {(c.module, c.function, c.line, c.operation) for role in ROLES_WITH_CODE
               for c in aws_calls.reachable_calls(permissions.entry_points(role))}
    orphans = [c.where for c in aws_calls.all_calls() if (c.module, c.function, c.line, c.operation) not in covered
               and (c.module, c.function) not in NOT_RUN_BY_ANY_ROLE]
    assert not orphans, ("AWS calls no role's entry point reaches: add their entry point to "
                         f"pipeline.aws.permissions.ENTRY_POINTS (or explain them here): {orphans}")
    listed = {(c.module, c.function) for c in aws_calls.all_calls()}
    assert set(NOT_RUN_BY_ANY_ROLE) <= listed, "NOT_RUN_BY_ANY_ROLE names code that makes no AWS call any more"


def test_processing_scripts_make_no_aws_call():
    for path in sorted((aws_calls.REPO / "processing_scripts").rglob("*.py")):
        imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
        assert not imported & {"boto3", "botocore", "sagemaker"}, f"{path} imports an AWS SDK"


SNIPPET = '''
import boto3

def new_feature(name):
    sm = boto3.client("sagemaker")
    sm.delete_pipeline(PipelineName=name)                      # an operation
    for page in boto3.client("s3").get_paginator("list_object_versions").paginate(Bucket=name):
        pass                                                    # a paginator
    boto3.client("lambda").get_waiter("function_active_v2").wait(FunctionName=name)
    boto3.client("s3").upload_file("/tmp/x", name, "k")         # an S3 transfer method
    getattr(sm, "delete_model_package")(ModelPackageName=name)  # dynamic dispatch by name
    sm.list_tags(ResourceArn=name)                              # sagemaker's ListTags, not lambda's
    "not an operation".split()
    _pattern.search("positional arguments: not a boto3 operation")
'''


def test_the_analysis_finds_each_form_of_call_a_new_feature_could_add(policies):
    services = frozenset({"s3", "sagemaker", "lambda"})
    found = {(c.service, c.operation) for c in aws_calls._calls_in(ast.parse(SNIPPET), "m", "new_feature",
                                                                   services, SNIPPET)}
    assert found == {("sagemaker", "DeletePipeline"), ("s3", "ListObjectVersions"), ("lambda", "GetFunction"),
                     ("s3", "PutObject"), ("s3", "CreateMultipartUpload"), ("s3", "UploadPart"),
                     ("s3", "CompleteMultipartUpload"), ("s3", "AbortMultipartUpload"),
                     ("sagemaker", "DeleteModelPackage"), ("sagemaker", "ListTags")}
    # Such calls in upsert would fail test_every_call_of_a_roles_code_is_granted_to_it:
    assert "sagemaker:DeletePipeline" not in actions_of(policies["codebuild"])


# --- static: the pipeline role and the definitions --------------------------------------------------------

# What SageMaker calls as the pipeline role for each step type (its Create and Describe, and Stop when an
# execution is stopped); the IAM actions follow as for the code's calls (dependent PassRole and AddTags).
STEP_OPERATIONS = {
    "Lambda": [("lambda", "Invoke")],
    "Model": [("sagemaker", "CreateModel"), ("sagemaker", "DescribeModel")],
    "Transform": [("sagemaker", "CreateTransformJob"), ("sagemaker", "DescribeTransformJob"),
                  ("sagemaker", "StopTransformJob")],
    "Processing": [("sagemaker", "CreateProcessingJob"), ("sagemaker", "DescribeProcessingJob"),
                   ("sagemaker", "StopProcessingJob")],
    "RegisterModel": [("sagemaker", "CreateModelPackage"), ("sagemaker", "DescribeModelPackage")],
    "Condition": [],
    "Fail": [],
}


def test_each_step_type_gets_what_sagemaker_does_for_it(scope, policies):
    pipeline = policies["pipeline"]
    for definition in scope.definitions:
        for step in steps_of(definition):
            assert step["Type"] in STEP_OPERATIONS, f"step type {step['Type']} unknown to this test"
            for service, operation in STEP_OPERATIONS[step["Type"]]:
                call = aws_calls.Call("definition", step["Name"], 0, service, operation, step["Type"],
                                      tagged=operation.startswith("Create"))
                missing = call.actions - actions_of(pipeline)
                assert not missing, f"step {step['Name']} ({step['Type']}): the pipeline role lacks {missing}"
            if step["Type"] == "Lambda":
                assert allowed(pipeline, "lambda:InvokeFunction", step["FunctionArn"])
            arguments = step.get("Arguments", {})
            for role in {arguments.get("RoleArn"), arguments.get("ExecutionRoleArn")} - {None}:
                assert allowed(pipeline, "iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"})
            image = (arguments.get("AppSpecification", {}).get("ImageUri")
                     or arguments.get("PrimaryContainer", {}).get("Image"))
            if image:
                account, region, name = re.match(r"(\d+)\.dkr\.ecr\.([^.]+)\.[^/]+/([^:]+)", image).groups()
                repository = f"arn:aws:ecr:{region}:{account}:repository/{name}"
                assert all(allowed(pipeline, a, repository) for a in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"))


def test_a_step_type_without_declared_permissions_is_refused(scope):
    definition = copy.deepcopy(scope.definitions[0])
    definition["Steps"].append({"Name": "Train", "Type": "Training", "Arguments": {}})
    odd = Scope(scope.config, scheduler_role_arn=SCHEDULER_ROLE_ARN,
                _definitions=(definition, scope.definitions[1]))
    with pytest.raises(PermissionsError, match="STEP_PERMISSIONS"):
        permissions.policy("pipeline", odd)


EXECUTION_ID = "execution-id"
FROZEN_SHA256 = "ab" * 32


def s3_locations(definition: dict, parameters: dict[str, str]) -> list[tuple[str, str, str]]:
    """(step, "read"|"write", s3 URI) of every S3 location the steps touch, expressions resolved."""
    steps = {step["Name"]: step for step in steps_of(definition)}
    defaults = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}

    def value(expression):
        if isinstance(expression, str):
            return expression
        if "Get" in expression:
            ref = expression["Get"]
            if ref.startswith("Parameters."):
                name = ref.split(".", 1)[1]
                return str(parameters.get(name, defaults[name]))
            if ref == "Execution.PipelineExecutionId":
                return EXECUTION_ID
            match = re.match(r"Steps\.(\w+)\.(.+)$", ref)
            step, path = steps[match.group(1)], match.group(2)
            if path == "OutputParameters['ModelDataUrl']":
                return f"{value(step['Arguments']['OutputPrefix'])}/{FROZEN_SHA256}/model.tar.gz"
            if path == "OutputParameters['ContextUri']":
                return value(step["Arguments"]["OutputUri"]) + "/"
            if path == "TransformOutput.S3OutputPath":
                return value(step["Arguments"]["TransformOutput"]["S3OutputPath"])
            output = re.match(r"ProcessingOutputConfig\.Outputs\['(\w+)'\]\.S3Output\.S3Uri$", path)
            if output:
                return value(next(o["S3Output"]["S3Uri"] for o in step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
                                  if o["OutputName"] == output.group(1)))
        if "Std:Join" in expression:
            join = expression["Std:Join"]
            return join["On"].join(value(v) for v in join["Values"])
        raise AssertionError(f"this test cannot resolve the S3 location {expression}: teach it, and grant it")

    found = []
    for name, step in steps.items():
        args = step.get("Arguments", {})
        if step["Type"] == "Lambda":
            for key, mode in (("ModelDataUrl", "read"), ("ValidationDataUrl", "read"), ("CaptureDataUrl", "read"),
                              ("GroundTruthUrl", "list"), ("HistoryUri", "read"),
                              ("OutputPrefix", "write"), ("OutputUri", "write")):
                if key in args:
                    found.append((name, mode, value(args[key])))
        elif step["Type"] == "Model":
            found.append((name, "read", value(args["PrimaryContainer"]["ModelDataUrl"])))
        elif step["Type"] == "Transform":
            found.append((name, "read", value(args["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])))
            found.append((name, "write", value(args["TransformOutput"]["S3OutputPath"])))
        elif step["Type"] == "Processing":
            found += [(name, "read", value(i["S3Input"]["S3Uri"])) for i in args["ProcessingInputs"]]
            found += [(name, "write", value(o["S3Output"]["S3Uri"])) for o in args["ProcessingOutputConfig"]["Outputs"]]
            # A property file is read by SageMaker (JsonGet) from the output it names.
            found += [(name, "read", value(o["S3Output"]["S3Uri"])) for o in args["ProcessingOutputConfig"]["Outputs"]
                      if any(p["OutputName"] == o["OutputName"] for p in step.get("PropertyFiles", []))]
    return [(step, mode, uri) for step, mode, uri in found if uri]


def _object(uri: str, mode: str) -> tuple[str, str, str]:
    """(bucket, key, object ARN) of an object read at ``uri`` or written below it (outputs are prefixes)."""
    bucket, _, key = uri[len("s3://"):].partition("/")
    if mode == "write" or key.endswith("/") or not key:
        key = f"{key.rstrip('/')}/part-0".lstrip("/")
    return bucket, key, f"arn:aws:s3:::{bucket}/{key}"


@pytest.mark.parametrize("parameters", [{}, {"ModelDataUrl": f"s3://{DATA_BUCKET}/a/model.tar.gz",
                                             "TestDataUrl": f"s3://{DATA_BUCKET}/b/test/",
                                             "ValidationDataUrl": f"s3://{DATA_BUCKET}/c/validation.csv",
                                             "BaselineUrl": f"s3://{DATA_BUCKET}/d/baseline/",
                                             "CaptureDataUrl": f"s3://{DATA_BUCKET}/e/capture/",
                                             "GroundTruthUrl": f"s3://{DATA_BUCKET}/f/labels/"}],
                         ids=["defaults", "user-data-bucket"])
def test_every_s3_location_of_the_definitions_is_granted_to_the_role_that_uses_it(scope, policies, parameters):
    checked = 0
    for definition in scope.definitions:
        known = {p["Name"] for p in definition["Parameters"]}
        for step, mode, uri in s3_locations(definition, {k: v for k, v in parameters.items() if k in known}):
            kind = next(s["Type"] for s in steps_of(definition) if s["Name"] == step)
            role = "function" if kind == "Lambda" else "pipeline"
            bucket, key, arn = _object(uri, "read" if mode == "list" else mode)
            action = "s3:GetObject" if mode == "read" else "s3:PutObject"
            if mode != "list":  # the quality function only lists the ground truth (that it exists)
                assert allowed(policies[role], action, arn), f"{step}: the {role} role may not {action} {uri}"
            if mode in ("read", "list"):  # S3Prefix inputs and the functions' listings
                assert allowed(policies[role], "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key}), \
                    f"{step}: the {role} role may not list {uri}"
            checked += 1
    assert checked >= 15


def test_writes_stay_inside_the_artifact_prefix(policies, config):
    for role in ("pipeline", "function", "codebuild"):
        for statement in policies[role]["Statement"]:
            if {"s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"} & set(statement["Action"]):
                assert all(r.startswith(f"arn:aws:s3:::{config.bucket}/{config.prefix}/") for r in statement["Resource"])
    assert not allowed(policies["function"], "s3:PutObject", f"arn:aws:s3:::{DATA_BUCKET}/a/model.tar.gz")
    assert not allowed(policies["pipeline"], "s3:PutObject", f"arn:aws:s3:::{config.bucket}/{config.prefix}/models/sha256/x")


def test_of_the_monitoring_prefix_jobs_write_only_the_quality_history(policies, config):
    monitoring = f"arn:aws:s3:::{config.bucket}/{config.prefix}/monitoring"
    assert allowed(policies["pipeline"], "s3:PutObject", f"{monitoring}/quality/quality_history.jsonl")
    for key in ("baseline/statistics.json", "data-capture/ep/x.jsonl", "ground-truth/labels.jsonl"):
        assert allowed(policies["pipeline"], "s3:GetObject", f"{monitoring}/{key}")
        assert not allowed(policies["pipeline"], "s3:PutObject", f"{monitoring}/{key}")
        assert not allowed(policies["function"], "s3:PutObject", f"{monitoring}/{key}")
    assert not allowed(policies["function"], "s3:PutObject", f"{monitoring}/quality/quality_history.jsonl")
    # The functions read captures and the history; they only list the labels and never see the baseline.
    for key, readable in (("data-capture/ep/x.jsonl", True), ("quality/quality_history.jsonl", True),
                          ("ground-truth/labels.jsonl", False), ("baseline/statistics.json", False)):
        assert allowed(policies["function"], "s3:GetObject", f"{monitoring}/{key}") == readable, key


def test_the_scheduler_role_may_start_the_scheduled_pipeline_only(scope, policies):
    from pipeline.aws.schedule import schedule_request

    for spec in (MONITORING, QUALITY):
        name = spec.name(scope.config)
        arn = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/{name}"
        request = schedule_request(pipeline_name=name, pipeline_arn=arn, role_arn=SCHEDULER_ROLE_ARN)
        assert allowed(policies["scheduler"], "sagemaker:StartPipelineExecution", request["Target"]["Arn"])
    assert not allowed(policies["scheduler"], "sagemaker:StartPipelineExecution", scope.config.pipeline_arn())
    assert actions_of(policies["scheduler"]) == {"sagemaker:StartPipelineExecution"}


# --- the documents ----------------------------------------------------------------------------------------


def test_documents_are_valid_iam_json(scope, policies):
    for role in permissions.ROLES:
        for document in (policies[role], permissions.trust_policy(role, scope)):
            if document is None:
                continue
            assert document["Version"] == "2012-10-17"
            sids = [s["Sid"] for s in document["Statement"]]
            assert len(sids) == len(set(sids)) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
            for statement in document["Statement"]:
                assert statement["Effect"] == "Allow"
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) for a in actions), actions  # no wildcards
                for resource in statement.get("Resource", []):
                    assert resource == "*" or resource.startswith(("arn:aws:", "arn:aws:s3:::")), resource
                    if resource.startswith("arn:aws:") and ":s3:" not in resource and ":ecr:" not in resource:
                        assert ":123456789012:" in resource, resource  # the role's account
            assert policy_size(document) <= MANAGED_POLICY_LIMIT


def test_star_resources_only_where_iam_has_no_resource_type(policies):
    stars = {a for document in policies.values() for s in document["Statement"] if "*" in s["Resource"]
             for a in s["Action"]}
    assert stars == {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData", "sagemaker:ListModelPackageGroups"}


def test_trust_policies_name_each_service_sharing_a_role(scope, config):
    trust = {role: permissions.trust_policy(role, scope) for role in permissions.ROLES}
    assert trust["operator"] is None
    services = {role: doc["Statement"][0]["Principal"]["Service"] for role, doc in trust.items() if doc}
    assert services == {"pipeline": ["sagemaker.amazonaws.com"], "function": ["lambda.amazonaws.com"],
                        "codebuild": ["codebuild.amazonaws.com"], "scheduler": ["scheduler.amazonaws.com"]}
    assert trust["scheduler"]["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    # Defaults: one role for the pipeline, the functions and the schedule, trusted by all three services.
    shared = Scope(config.with_overrides(lambda_role_arn=None), scheduler_role_arn=TEST_ROLE_ARN,
                   _definitions=scope.definitions)
    assert permissions.trust_policy("function", shared)["Statement"][0]["Principal"]["Service"] == [
        "lambda.amazonaws.com", "sagemaker.amazonaws.com", "scheduler.amazonaws.com"]
    assert permissions.shared_roles(shared) == [
        f"{TEST_ROLE_ARN} is the pipeline, function, scheduler role: attach each of their policies to it"]


@pytest.mark.parametrize("key, resource, condition", [
    (KMS_KEY, f"arn:aws:kms:{REGION}:123456789012:key/{KMS_KEY}", None),
    (f"arn:aws:kms:eu-west-1:111122223333:key/{KMS_KEY}", f"arn:aws:kms:eu-west-1:111122223333:key/{KMS_KEY}", None),
    ("alias/models", f"arn:aws:kms:{REGION}:123456789012:key/*", "alias/models"),
    ("arn:aws:kms:eu-west-1:111122223333:alias/models", "arn:aws:kms:eu-west-1:111122223333:key/*", "alias/models"),
])
def test_kms_key_forms(scope, key, resource, condition):
    keyed = Scope(scope.config.with_overrides(kms_key_id=key), scheduler_role_arn=SCHEDULER_ROLE_ARN,
                  _definitions=scope.definitions)
    statement = next(s for s in permissions.policy("function", keyed)["Statement"] if s["Sid"] == "UseKeyThroughS3")
    assert statement["Resource"] == [resource]
    assert statement["Condition"]["StringEquals"] == {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    assert statement["Condition"].get("ForAnyValue:StringEquals", {}).get("kms:ResourceAliases") == condition


# --- the command ------------------------------------------------------------------------------------------

BASE_ARGS = ["--bucket", TEST_BUCKET, "--region", REGION, "--role-arn", TEST_ROLE_ARN,
             "--lambda-role-arn", FUNCTION_ROLE_ARN, "--scheduler-role-arn", SCHEDULER_ROLE_ARN]


def test_out_dir_writes_one_file_per_document_and_the_same_bytes_each_time(tmp_path, capsys, monkeypatch):
    for var in ("KMS_KEY_ID", "ARTIFACT_PREFIX", "PIPELINE_NAME", "MODEL_PACKAGE_GROUP_NAME"):
        monkeypatch.delenv(var, raising=False)
    first, second = tmp_path / "a", tmp_path / "b"
    assert permissions_cli.main([*BASE_ARGS, "--kms-key-id", KMS_KEY, "--data-bucket", DATA_BUCKET,
                             "--out-dir", str(first)]) == 0
    assert permissions_cli.main([*BASE_ARGS, "--data-bucket", DATA_BUCKET, "--kms-key-id", KMS_KEY,
                             "--out-dir", str(second)]) == 0
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted([f"{r}-policy.json" for r in permissions.ROLES]
                           + [f"{r}-trust-policy.json" for r in permissions.TRUSTED_SERVICES])
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes()
        json.loads((first / name).read_text())
    assert capsys.readouterr().out.split() == [str(first / n) for n in _written_order()] + \
        [str(second / n) for n in _written_order()]


def _written_order() -> list[str]:
    return [f"{r}-{kind}.json" for r in permissions.ROLES for kind in ("policy", "trust-policy")
            if kind == "policy" or r in permissions.TRUSTED_SERVICES]


def test_role_prints_that_policy_alone(capsys, monkeypatch):
    monkeypatch.delenv("KMS_KEY_ID", raising=False)
    assert permissions_cli.main([*BASE_ARGS, "--role", "scheduler"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [s["Sid"] for s in document["Statement"]] == ["StartMonitoringPipeline"]


@pytest.mark.parametrize("args, message", [
    (["--bucket", TEST_BUCKET, "--region", REGION], "no pipeline role: pass --role-arn"),
    ([*BASE_ARGS, "--data-bucket", "s3://x/y"], "bad --data-bucket"),
    ([*BASE_ARGS, "--kms-key-id", "my key"], "bad KMS key"),
    ([*BASE_ARGS[:6], "--scheduler-role-arn", "nope"], "bad scheduler role ARN"),
])
def test_bad_usage_exits_2_with_one_line(args, message, capsys, monkeypatch):
    for var in ("SAGEMAKER_PIPELINE_ROLE_ARN", "KMS_KEY_ID", "SCHEDULER_ROLE_ARN"):
        monkeypatch.delenv(var, raising=False)
    assert_one_line_error(run_main(permissions_cli.main, args, capsys), message)


def test_console_script_and_readme_point_at_the_command():
    assert "sm-eval-permissions=pipeline.permissions:main" in (aws_calls.REPO / "setup.py").read_text()
    readme = (aws_calls.REPO / "README.md").read_text()
    assert "python -m pipeline.permissions" in readme


# --- moto's IAM enforcement -------------------------------------------------------------------------------


def moto_view(document: dict) -> dict:
    """The document as moto can evaluate it: moto authorizes non-S3 actions against the resource "*"."""
    view = copy.deepcopy(document)
    for statement in view["Statement"]:
        if not all(a.startswith("s3:") for a in statement["Action"]):
            statement["Resource"] = ["*"]
    return view


def without(document: dict, action: str) -> dict:
    trimmed = copy.deepcopy(document)
    for statement in trimmed["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    trimmed["Statement"] = [s for s in trimmed["Statement"] if s["Action"]]
    return trimmed


@pytest.fixture
def checked(monkeypatch) -> list[tuple[str, str]]:
    """Every (action, resource) moto authorizes; signatures are not what these tests are about (moto 5.2
    recomputes them wrongly for requests without a body, e.g. Lambda's GetFunction)."""
    seen: list[tuple[str, str]] = []
    original = access_control.IAMRequestBase.check_action_permitted

    def record(self, resource):
        seen.append((self._action, resource))
        return original(self, resource)

    monkeypatch.setattr(access_control.IAMRequestBase, "check_action_permitted", record)
    monkeypatch.setattr(access_control.IAMRequestBase, "check_signature", lambda self: None)
    return seen


def principal(session: boto3.Session, document: dict) -> dict[str, str]:
    """Access keys of a new IAM user holding exactly ``document`` (as moto evaluates it)."""
    iam = session.client("iam")
    name = f"code-under-test-{len(iam.list_users()['Users'])}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="generated", PolicyDocument=json.dumps(moto_view(document)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def enforced(function):
    """Run ``function`` with moto checking every request against the caller's policies."""
    return set_initial_no_auth_action_count(0)(function)()


def denied(error: BaseException) -> bool:
    return "AccessDenied" in str(error) or "403" in str(error)


# The functions: freeze a challenger kept in a user bucket, then stage the champion and validation data.

CHAMPION_MODEL = b"champion archive"
CHALLENGER_MODEL = b"c" * (9 << 20)  # above the 8 MB threshold: a multipart copy (UploadPartCopy)


def function_world(config: PipelineConfig) -> dict:
    admin = boto3.Session(region_name=REGION)
    s3 = admin.client("s3")
    for bucket in (config.bucket, DATA_BUCKET):
        s3.create_bucket(Bucket=bucket)
    digest = hashlib.sha256(CHAMPION_MODEL).hexdigest()
    model_key = f"{config.prefix}/models/sha256/{digest}/model.tar.gz"
    evaluation_key = f"{config.prefix}/executions/earlier/evaluation/evaluation.json"
    s3.put_object(Bucket=config.bucket, Key=model_key, Body=CHAMPION_MODEL)
    s3.put_object(Bucket=config.bucket, Key=evaluation_key, Body=b"{}")
    s3.put_object(Bucket=config.bucket, Key=f"{config.prefix}/input/validation.csv", Body=b"1,0.5\n")
    s3.put_object(Bucket=DATA_BUCKET, Key="challengers/model.tar.gz", Body=CHALLENGER_MODEL)
    # The quality check's inputs at their default prefixes: a capture of the scheduled window, labels, history.
    constraints_key = f"{config.prefix}/executions/earlier/evaluation/constraints.json"
    s3.put_object(Bucket=config.bucket, Key=constraints_key, Body=b"{}")
    monitoring = f"{config.prefix}/monitoring"
    s3.put_object(Bucket=config.bucket, Key=f"{monitoring}/data-capture/ep/AllTraffic/2024/01/07/10/c.jsonl", Body=b"{}")
    s3.put_object(Bucket=config.bucket, Key=f"{monitoring}/ground-truth/2024/01/08/00/labels.jsonl", Body=b"{}")
    s3.put_object(Bucket=config.bucket, Key=f"{monitoring}/quality/quality_history.jsonl", Body=b"{}\n")
    registry = SageMakerRegistry(admin.client("sagemaker"))
    source = {"ContentType": "application/json"}
    package = registry.register(
        config.model_package_group, model_data_url=f"s3://{config.bucket}/{model_key}", image_uri=IMAGE,
        model_metrics={"ModelQuality": {"Statistics": {**source, "S3Uri": f"s3://{config.bucket}/{evaluation_key}"},
                                        "Constraints": {**source, "S3Uri": f"s3://{config.bucket}/{constraints_key}"}}},
        customer_metadata={"model_sha256": digest})
    registry.update_approval(package["ModelPackageArn"], "Approved")
    return {"admin": admin, "champion": package["ModelPackageArn"]}


RUN_START = "2024-01-10T06:00:00Z"  # a scheduled quality check of 2024-01-07 (its labels 48 hours late)


def lambda_events(scope: Scope) -> dict[str, dict]:
    """Each Lambda step's event, as the pipelines send it (parameters set or defaulted, execution filled)."""
    given = {"ModelDataUrl": f"s3://{DATA_BUCKET}/challengers/model.tar.gz",
             "ValidationDataUrl": f"s3://{scope.config.bucket}/{scope.config.prefix}/input/validation.csv",
             "ModelPackageGroupName": scope.config.model_package_group}
    events = {}
    for definition in scope.definitions:
        parameters = {**{p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}, **given}

        def value(expression):
            if not isinstance(expression, dict):
                return expression
            if "Get" in expression:
                ref = expression["Get"]
                if ref.startswith("Parameters."):
                    return parameters[ref.split(".", 1)[1]]
                return {"Execution.PipelineExecutionId": EXECUTION_ID, "Execution.StartDateTime": RUN_START}[ref]
            join = expression["Std:Join"]
            return join["On"].join(str(value(v)) for v in join["Values"])

        events |= {step["FunctionArn"].rsplit(":", 1)[-1]: {k: value(v) for k, v in step["Arguments"].items()}
                   for step in steps_of(definition) if step["Type"] == "Lambda"}
    return events


def run_functions(scope: Scope, document: dict) -> tuple[bool, str]:
    """Both handlers as the function role (fresh moto state); (everything staged, what went wrong)."""
    config = scope.config
    with mock_aws(), pytest.MonkeyPatch.context() as env:
        world = function_world(config)
        keys = principal(world["admin"], document)
        env.setenv("AWS_ACCESS_KEY_ID", keys["aws_access_key_id"])
        env.setenv("AWS_SECRET_ACCESS_KEY", keys["aws_secret_access_key"])
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.setattr(boto3, "DEFAULT_SESSION", None)  # the handlers' own clients take the user's keys
        events = lambda_events(scope)

        def handlers():
            frozen = freeze_model.lambda_handler(events[config.freeze_function_name])
            staged = resolve_champion.lambda_handler(events[config.champion_function_name])
            monitored = resolve_monitored_version.lambda_handler(events[config.monitored_version_function_name])
            return frozen, staged, monitored

        try:
            frozen, staged, monitored = enforced(handlers)
        except (ClientError, StagingError, ChampionLookupError) as error:
            assert denied(error), error
            return False, str(error)
        s3 = world["admin"].client("s3")
        bucket, _, key = staged["ContextUri"][len("s3://"):].partition("/")
        context = json.loads(s3.get_object(Bucket=bucket, Key=key + "context.json")["Body"].read())
        assert frozen["ModelSha256"] == hashlib.sha256(CHALLENGER_MODEL).hexdigest()
        assert staged["ChampionArn"] == world["champion"]
        champion = context["champion"]
        ok = champion["evaluation_staged"] and champion["model_staged"] and context["validation"]["objects"] == 1
        bucket, _, key = monitored["ContextUri"][len("s3://"):].partition("/")
        quality = json.loads(s3.get_object(Bucket=bucket, Key=key + "context.json")["Body"].read())
        assert monitored["ModelPackageArn"] == world["champion"]
        ok = ok and quality["capture"]["objects_staged"] == 1 and quality["history"]["staged"]
        return ok, "; ".join(champion["errors"])


def test_the_functions_run_under_their_generated_policy_and_not_without_any_checked_action(
        scope, policies, checked):
    document = policies["function"]
    ok, problem = run_functions(scope, document)
    assert ok, problem
    services = {action.split(":")[0] for action, _ in checked}
    assert services == {"s3", "sagemaker"}, "moto enforced IAM for fewer services than the functions use"
    actions = sorted({action for action, _ in checked})
    assert set(actions) <= set(required("function", kms=True)), "moto checked an action the analysis does not map"
    for action in actions:
        checked.clear()
        ok, problem = run_functions(scope, without(document, action))
        assert not ok, f"the functions still work without {action}: it should not be granted"
        assert action in problem or "AccessDenied" in problem or "403" in problem, problem


def test_a_challenger_outside_the_prefix_needs_its_bucket_named(scope, checked):
    narrow = Scope(scope.config, scheduler_role_arn=SCHEDULER_ROLE_ARN, _definitions=scope.definitions)
    ok, problem = run_functions(scope, permissions.policy("function", narrow))
    assert not ok and DATA_BUCKET in problem and ("AccessDenied" in problem or "403" in problem), problem


# upsert as buildspec.yml runs it: the evaluation pipeline (started and followed), the drift-check pipeline
# and its schedule; then again, so that every update path runs.

def codebuild_world(admin: boto3.Session, config: PipelineConfig) -> None:
    admin.client("s3").create_bucket(Bucket=config.bucket)
    create_execution_role(admin)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "lambda.amazonaws.com"}}]}
    for arn in (FUNCTION_ROLE_ARN, SCHEDULER_ROLE_ARN):
        admin.client("iam").create_role(RoleName=arn.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps(trust))


def deploy(config: PipelineConfig, session: boto3.Session) -> dict[str, str]:
    quiet = {"emit": lambda line: None}
    evaluation = upsert.run(config, EVALUATION, overrides={}, start=True, wait=True, poll_seconds=0, boto_session=session, **quiet)
    monitoring = upsert.run(config, MONITORING, overrides={}, start=False, wait=False, boto_session=session,
                            schedule=schedule.ScheduleOptions(role_arn=SCHEDULER_ROLE_ARN), **quiet)
    return {"evaluation": evaluation.pipeline_arn, "execution": evaluation.execution_arn,
            "monitoring": monitoring.pipeline_arn, "schedule": monitoring.schedule_arn}


def run_upsert(config: PipelineConfig, document: dict) -> tuple[bool, str, dict]:
    with mock_aws():
        admin = boto3.Session(region_name=REGION)
        codebuild_world(admin, config)
        session = boto3.Session(region_name=REGION, **principal(admin, document))
        try:
            created = enforced(lambda: deploy(config, session))
            lam = admin.client("lambda")
            for function in (config.champion_function_name, config.freeze_function_name):  # force both updates
                lam.update_function_configuration(FunctionName=function, Timeout=3)
                lam.update_function_code(FunctionName=function, ZipFile=b"PK\x05\x06" + b"\0" * 18)
            enforced(lambda: deploy(config, session))
        except (upsert.UpsertError, ClientError) as error:
            assert denied(error), error
            return False, str(error), {}
        arns = {**created,
                "functions": [lam.get_function(FunctionName=f)["Configuration"]["FunctionArn"]
                              for f in (config.champion_function_name, config.freeze_function_name)],
                "group": admin.client("sagemaker").describe_model_package_group(
                    ModelPackageGroupName=config.model_package_group)["ModelPackageGroupArn"]}
        return True, "", arns


def test_upsert_runs_under_the_codebuild_policy_and_not_without_any_checked_action(scope, policies, checked):
    config = scope.config
    document = policies["codebuild"]
    ok, problem, arns = run_upsert(config, document)
    assert ok, problem
    services = {action.split(":")[0] for action, _ in checked}
    assert services == {"s3", "sagemaker", "lambda", "scheduler"}, "moto enforced IAM for fewer services"
    actions = sorted({action for action, _ in checked})
    assert set(actions) <= set(required("codebuild", kms=True)), "moto checked an action the analysis does not map"
    # moto saw "*" for the other services: the real ARNs of what was made are the policy's.
    for action, arn in [("sagemaker:UpdatePipeline", arns["evaluation"]), ("sagemaker:UpdatePipeline", arns["monitoring"]),
                        ("sagemaker:DescribePipelineExecution", arns["execution"]),
                        ("scheduler:UpdateSchedule", arns["schedule"]),
                        ("sagemaker:AddTags", arns["group"])] + \
            [("lambda:UpdateFunctionCode", arn) for arn in arns["functions"]]:
        assert allowed(document, action, arn), f"{action} on {arn} is not granted"
    for action in actions:
        checked.clear()
        ok, problem, _ = run_upsert(config, without(document, action))
        assert not ok, f"upsert still works without {action}: it should not be granted"


def test_codebuild_may_deploy_the_quality_pipeline_its_function_and_schedule(scope, policies):
    # upsert's calls are the same for every pipeline (run under moto above for two of them); the ARNs differ.
    config, document = scope.config, policies["codebuild"]
    name = QUALITY.name(config)
    for action in ("sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:StartPipelineExecution"):
        assert allowed(document, action, config.pipeline_arn(name)), action
    assert allowed(document, "sagemaker:DescribePipelineExecution", f"{config.pipeline_arn(name)}/execution/x")
    assert allowed(document, "lambda:UpdateFunctionCode", config.monitored_version_function_arn)
    schedule_arn = scope.arn("scheduler", f"schedule/default/{schedule.schedule_name(name)}")
    assert allowed(document, "scheduler:CreateSchedule", schedule_arn)


def test_upsert_cannot_write_outside_the_code_prefix(scope, policies, checked):
    document = policies["codebuild"]
    with mock_aws():
        admin = boto3.Session(region_name=REGION)
        codebuild_world(admin, scope.config)
        s3 = boto3.Session(region_name=REGION, **principal(admin, document)).client("s3")
        with pytest.raises(ClientError, match="AccessDenied"):
            enforced(lambda: s3.put_object(Bucket=scope.config.bucket, Key=f"{scope.config.prefix}/input/x", Body=b""))
        enforced(lambda: s3.put_object(Bucket=scope.config.bucket, Key=f"{scope.config.prefix}/code/d/x", Body=b""))

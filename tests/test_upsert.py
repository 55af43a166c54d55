"""python -m pipeline.upsert against moto: in-process (mock_aws) and over HTTP (ThreadedMotoServer)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from pipeline import upsert as upsert_cli
from pipeline.aws import upsert
from pipeline.pipelines import EVALUATION
from pipeline.code_bundle import processing_code_bundle
from tests.conftest import TEST_BUCKET, TEST_ROLE_ARN, create_execution_role
from tests.helpers import assert_one_line_error, run_main

REPO = Path(__file__).resolve().parents[1]

PIPELINE = "binary-classifier-evaluation"


@pytest.fixture
def aws():
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket=TEST_BUCKET)
        create_execution_role(session)
        yield session


def run(config, session, **kwargs):
    kwargs.setdefault("overrides", {})
    kwargs.setdefault("start", False)
    kwargs.setdefault("wait", False)
    return upsert.run(config, EVALUATION, boto_session=session, emit=lambda line: None, **kwargs)


def test_upsert_creates_pipeline_with_the_built_definition(aws, test_config, definition):
    result = run(test_config, aws)
    assert result.created
    sm = aws.client("sagemaker")
    described = sm.describe_pipeline(PipelineName=PIPELINE)
    assert described["PipelineArn"] == result.pipeline_arn
    assert json.loads(described["PipelineDefinition"]) == definition
    assert described["RoleArn"] == TEST_ROLE_ARN


def test_upsert_uploads_code_where_the_definition_points(aws, test_config, definition):
    result = run(test_config, aws)
    code_input = next(
        i["S3Input"]["S3Uri"]
        for step in definition["Steps"] if step["Type"] == "Processing"
        for i in step["Arguments"]["ProcessingInputs"] if i["InputName"] == "code"
    )
    assert result.code_uri == code_input
    s3 = aws.client("s3")
    bucket, _, prefix = code_input[len("s3://"):].partition("/")
    stored = {
        o["Key"][len(prefix):]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    }
    assert stored == dict(processing_code_bundle().files)
    assert "processing_scripts/evaluate.py" in stored


def test_upsert_is_idempotent(aws, test_config):
    first = run(test_config, aws)
    second = run(test_config, aws)
    sm = aws.client("sagemaker")
    assert (first.created, second.created) == (True, False)
    assert first.pipeline_arn == second.pipeline_arn
    summaries = sm.list_pipelines()["PipelineSummaries"]
    assert [p["PipelineName"] for p in summaries] == [PIPELINE]
    assert json.loads(sm.describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"]) == json.loads(
        sm.describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"]
    )
    keys = aws.client("s3").list_objects_v2(Bucket=TEST_BUCKET)["KeyCount"]
    run(test_config, aws)
    assert aws.client("s3").list_objects_v2(Bucket=TEST_BUCKET)["KeyCount"] == keys


def test_update_replaces_a_changed_definition(aws, test_config):
    run(test_config, aws)
    changed = test_config.with_overrides(model_package_group="other-group")
    assert not run(changed, aws).created
    stored = json.loads(aws.client("sagemaker").describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"])
    group = next(p for p in stored["Parameters"] if p["Name"] == "ModelPackageGroupName")
    assert group["DefaultValue"] == "other-group"


def test_tags_are_set_on_create(aws, test_config):
    result = run(test_config.with_overrides(tags=(("team", "ml"), ("env", "test"))), aws)
    tags = aws.client("sagemaker").list_tags(ResourceArn=result.pipeline_arn)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "ml", "env": "test"}


# --- SageMaker project conventions: the group <name>-<id> and the project's tags on everything -------------

PROJECT_ENV = {"SAGEMAKER_PROJECT_NAME": "churn", "SAGEMAKER_PROJECT_ID": "p-abc123"}
PROJECT_TAGS = {"sagemaker:project-name": "churn", "sagemaker:project-id": "p-abc123"}


def project_config(**overrides):
    from pipeline.config import PipelineConfig

    return PipelineConfig.from_sources({"bucket": TEST_BUCKET, "region": "us-east-1", "role_arn": TEST_ROLE_ARN,
                                        **overrides}, env=PROJECT_ENV)


def tags_of(sm, arn) -> list[tuple[str, str]]:
    # A list, not a dict: moto appends on AddTags, so a tag added twice would show twice.
    return sorted((t["Key"], t["Value"]) for t in sm.list_tags(ResourceArn=arn)["Tags"])


def test_a_project_deploy_creates_its_group_tagged_and_tags_every_resource(aws):
    config = project_config()
    result = run(config, aws)
    sm = aws.client("sagemaker")
    group = sm.describe_model_package_group(ModelPackageGroupName="churn-p-abc123")
    assert tags_of(sm, group["ModelPackageGroupArn"]) == sorted(PROJECT_TAGS.items())
    assert "churn-evaluation" in group["ModelPackageGroupDescription"]
    assert result.pipeline_arn.endswith(":pipeline/churn-evaluation")
    assert tags_of(sm, result.pipeline_arn) == sorted(PROJECT_TAGS.items())
    for name in (config.champion_function_name, config.freeze_function_name):
        arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        assert aws.client("lambda").list_tags(Resource=arn)["Tags"] == PROJECT_TAGS
    # The definition registers into the project's group by default.
    stored = json.loads(sm.describe_pipeline(PipelineName="churn-evaluation")["PipelineDefinition"])
    group_parameter = next(p for p in stored["Parameters"] if p["Name"] == "ModelPackageGroupName")
    assert group_parameter["DefaultValue"] == "churn-p-abc123"


def test_an_existing_group_and_pipeline_get_the_tags_they_lack_once(aws):
    sm = aws.client("sagemaker")
    # Made before the project's settings existed: an untagged pipeline, a group with someone else's tag.
    untagged = project_config().with_overrides(project_name=None, project_id=None, tags=())
    run(untagged, aws)
    group_arn = sm.describe_model_package_group(ModelPackageGroupName="churn-p-abc123")["ModelPackageGroupArn"]
    sm.add_tags(ResourceArn=group_arn, Tags=[{"Key": "owner", "Value": "ml-team"}])
    assert tags_of(sm, f"{untagged.pipeline_arn()}") == []

    lines: list[str] = []
    result = upsert.run(project_config(), EVALUATION, overrides={}, start=False, wait=False, boto_session=aws, emit=lines.append)
    assert "model package group tagged: " + group_arn in lines
    assert tags_of(sm, group_arn) == sorted([*PROJECT_TAGS.items(), ("owner", "ml-team")])
    assert tags_of(sm, result.pipeline_arn) == sorted(PROJECT_TAGS.items())

    lines.clear()
    upsert.run(project_config(), EVALUATION, overrides={}, start=False, wait=False, boto_session=aws, emit=lines.append)
    assert "model package group unchanged: " + group_arn in lines
    assert tags_of(sm, group_arn) == sorted([*PROJECT_TAGS.items(), ("owner", "ml-team")])  # nothing added twice
    assert tags_of(sm, result.pipeline_arn) == sorted(PROJECT_TAGS.items())


def test_ensure_tags_sends_only_missing_and_changed_tags_and_reads_every_page():
    sm = boto3.client("sagemaker", region_name="us-east-1")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn-p-abc123"
    stub = Stubber(sm)  # checks each request against SageMaker's real service model
    stub.add_response("list_tags", {"Tags": [{"Key": "owner", "Value": "ml-team"}], "NextToken": "t"},
                      {"ResourceArn": arn})
    stub.add_response("list_tags", {"Tags": [{"Key": "sagemaker:project-name", "Value": "churn"},
                                             {"Key": "sagemaker:project-id", "Value": "p-old"}]},
                      {"ResourceArn": arn, "NextToken": "t"})
    stub.add_response("add_tags", {"Tags": []},
                      {"ResourceArn": arn, "Tags": [{"Key": "sagemaker:project-id", "Value": "p-abc123"},
                                                     {"Key": "team", "Value": "ml"}]})
    with stub:
        added = upsert.ensure_tags(sm, arn, [*PROJECT_TAGS.items(), ("team", "ml")])
    stub.assert_no_pending_responses()
    assert added == ["sagemaker:project-id", "team"]
    stub.add_response("list_tags", {"Tags": [{"Key": k, "Value": v} for k, v in PROJECT_TAGS.items()]},
                      {"ResourceArn": arn})
    with stub:  # nothing to add: no AddTags at all
        assert upsert.ensure_tags(sm, arn, list(PROJECT_TAGS.items())) == []


def test_a_group_lookup_refused_for_another_reason_stops_the_deploy(test_config):
    sm = boto3.client("sagemaker", region_name="us-east-1")
    stub = Stubber(sm)
    stub.add_client_error("describe_model_package_group", "AccessDeniedException", "not authorized")
    with stub, pytest.raises(upsert.UpsertError, match="^AWS refused DescribeModelPackageGroup binary-classifier: "
                                                       "AccessDeniedException"):
        upsert.ensure_model_package_group(sm, test_config)


# --- execution display names -----------------------------------------------------------------------------

@pytest.mark.parametrize("length, hashed", [(1, False), (71, False), (72, True), (200, True), (256, True)])
def test_execution_display_names_are_always_valid(length, hashed):
    from pipeline import limits

    name = "p" + "-q" * ((length - 1) // 2) + "r" * ((length - 1) % 2)
    assert len(name) == length
    shown = upsert.execution_display_name(name, 1767225600.7)
    assert limits.EXECUTION_DISPLAY_NAME.violation(shown) is None
    assert shown.endswith("-1767225600") and (shown == f"{name}-1767225600") is not hashed
    assert upsert.execution_display_name(name + "x", 1767225600) != upsert.execution_display_name(name + "y", 1767225600)


def test_start_works_for_a_256_character_pipeline_name(aws, test_config):
    config = test_config.with_overrides(pipeline_name="p" * 256)
    result = run(config, aws, start=True, clock=lambda: 1767225600.0)
    execution = aws.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=result.execution_arn)
    assert len(execution["PipelineExecutionDisplayName"]) == 82
    assert execution["PipelineExecutionDisplayName"].endswith("-1767225600")


def test_start_passes_typed_parameters(aws, test_config):
    result = run(
        test_config,
        aws,
        start=True,
        wait=True,
        poll_seconds=0,
        overrides={"AucThreshold": "0.8", "TransformInstanceCount": "2", "ModelApprovalStatus": "Approved"},
    )
    sm = aws.client("sagemaker")
    executions = sm.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    assert [e["PipelineExecutionArn"] for e in executions] == [result.execution_arn]
    sent = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=result.execution_arn)
    assert {p["Name"]: p["Value"] for p in sent["PipelineParameters"]} == {
        "AucThreshold": "0.8",
        "TransformInstanceCount": "2",
        "ModelApprovalStatus": "Approved",
    }
    assert result.execution_status == "Succeeded"  # moto runs no steps and reports success


def test_follow_execution_prints_step_progress():
    sm = boto3.client("sagemaker", region_name="us-east-1")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc"
    stub = Stubber(sm)

    def poll(status, steps, reason=None):
        described = {"PipelineExecutionArn": arn, "PipelineExecutionStatus": status}
        if reason:
            described["FailureReason"] = reason
        stub.add_response("describe_pipeline_execution", described, {"PipelineExecutionArn": arn})
        stub.add_response(
            "list_pipeline_execution_steps",
            {"PipelineExecutionSteps": [{"StepName": n, "StepStatus": s, **({"FailureReason": r} if r else {})}
                                        for n, s, r in steps]},
            {"PipelineExecutionArn": arn, "SortOrder": "Ascending"},
        )

    poll("Executing", [("CreateModel", "Executing", None)])
    poll("Executing", [("CreateModel", "Succeeded", None), ("BatchTransform", "Executing", None)])
    poll("Executing", [("CreateModel", "Succeeded", None), ("BatchTransform", "Executing", None)])
    poll(
        "Failed",
        [("CreateModel", "Succeeded", None), ("BatchTransform", "Succeeded", None),
         ("QualityGateFailed", "Failed", "quality gate failed: auc=0.6")],
        reason="Step failure",
    )
    lines = []
    with stub:
        status = upsert.follow_execution(sm, arn, poll_seconds=0, emit=lines.append, sleep=lambda s: None)
    assert status == "Failed"
    assert lines == [
        "  CreateModel: Executing",
        "  CreateModel: Succeeded",
        "  BatchTransform: Executing",
        "  BatchTransform: Succeeded",
        "  QualityGateFailed: Failed: quality gate failed: auc=0.6",
        "execution Failed (Step failure)",
    ]


def test_follow_execution_times_out_with_a_pointer_to_studio():
    sm = boto3.client("sagemaker", region_name="us-east-1")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc"
    stub = Stubber(sm)
    stub.add_response("describe_pipeline_execution", {"PipelineExecutionStatus": "Executing"})
    stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": []})
    ticks = iter([0.0, 100.0])
    with stub, pytest.raises(upsert.UpsertError, match="still Executing after 10s"):
        upsert.follow_execution(sm, arn, timeout_seconds=10, emit=lambda line: None, clock=lambda: next(ticks))


# --- the CLI ---------------------------------------------------------------------------------------------

BASE = ["evaluation", "--bucket", TEST_BUCKET, "--region", "us-east-1"]


@pytest.mark.parametrize(
    "args, code, message",
    [
        (BASE + ["--role-arn", "not-an-arn"], 2, "bad role ARN"),
        (BASE + ["--role-arn", "arn:aws:iam::12345:role/x"], 2, "bad role ARN"),
        (BASE, 2, "no execution role"),
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "AucTreshold=0.8"], 2, "unknown parameter 'AucTreshold'"),
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "AucThreshold=high"], 2, "bad value 'high' for AucThreshold"),
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "AucThreshold=nan"], 2, "finite number"),
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "TransformInstanceCount=1.5"], 2, "expected an integer"),
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "ModelApprovalStatus=Yes"], 2, "expected one of"),
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "AucThreshold"], 2, "use Name=Value"),
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "F1Threshold=1", "--param", "F1Threshold=2"], 2, "given twice"),
        (["evaluation", "--bucket", TEST_BUCKET, "--role-arn", TEST_ROLE_ARN], 2, "no AWS region"),
        # Choices and ranges of the parameter table, refused before anything is read or sent.
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "FirstModelPolicy=bogus"], 2,
         "bad value 'bogus' for FirstModelPolicy: expected one of absolute-thresholds-only, reject"),
        # (tests/test_parameters.py tables every rule; here: upsert applies them before any call.)
        (BASE + ["--role-arn", TEST_ROLE_ARN, "--start", "--param", "ModelDataUrl=/tmp/model.tar.gz"], 2,
         "bad value '/tmp/model.tar.gz' for ModelDataUrl: expected an s3://bucket/key URI"),
    ],
)
def test_cli_bad_input(args, code, message, capsys, monkeypatch):
    for var in ("SAGEMAKER_PIPELINE_ROLE_ARN", "ARTIFACT_BUCKET", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    assert_one_line_error(run_main(upsert_cli.main, args, capsys), message, code=code)


@pytest.mark.parametrize("args", [["--wait"], ["--param", "AucThreshold=0.8"]])
def test_cli_flag_combinations(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        upsert_cli.main(BASE + ["--role-arn", TEST_ROLE_ARN, *args])
    assert exit_info.value.code == 2
    assert "needs --start" in capsys.readouterr().err


def test_cli_without_credentials(capsys, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    assert_one_line_error(run_main(upsert_cli.main, BASE + ["--role-arn", TEST_ROLE_ARN], capsys), code=1,
                          start="error: no AWS credentials found")


def test_cli_reports_aws_refusals_in_one_line(capsys):
    with mock_aws():  # no bucket: the code upload is refused
        ran = run_main(upsert_cli.main, BASE + ["--role-arn", TEST_ROLE_ARN], capsys)
    assert_one_line_error(ran, "NoSuchBucket", code=1, start="error: AWS refused")


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class _Endpoint:
    """A session whose clients talk to one endpoint (the moto server)."""

    def __init__(self, session, url):
        self.session, self.url = session, url

    def client(self, name):
        return self.session.client(name, endpoint_url=self.url)


def test_cli_end_to_end_against_moto_server(moto_server, definition):
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server}
    boto3.Session(region_name="us-east-1").client("s3", endpoint_url=moto_server).create_bucket(Bucket=TEST_BUCKET)
    create_execution_role(_Endpoint(boto3.Session(region_name="us-east-1"), moto_server))
    command = [sys.executable, "-m", "pipeline.upsert", *BASE, "--role-arn", TEST_ROLE_ARN]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    assert "pipeline created: arn:aws:sagemaker:us-east-1:" in first.stdout
    second = subprocess.run(
        command + ["--start", "--param", "F1Threshold=0.7"], env=env, capture_output=True, text=True, timeout=180
    )
    assert second.returncode == 0, second.stderr
    assert "pipeline updated" in second.stdout and "execution started" in second.stdout
    for name in (f"{PIPELINE}-champion", f"{PIPELINE}-freeze-model"):
        assert f"function created: arn:aws:lambda:us-east-1:123456789012:function:{name}" in first.stdout
        assert f"function unchanged: arn:aws:lambda:us-east-1:123456789012:function:{name}" in second.stdout
    sm = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=moto_server)
    assert [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]] == [PIPELINE]
    assert json.loads(sm.describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"]) == definition
    [execution] = sm.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    sent = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution["PipelineExecutionArn"])
    assert sent["PipelineParameters"] == [{"Name": "F1Threshold", "Value": "0.7"}]


# --- the champion function -----------------------------------------------------------------------------------


def test_functions_are_deployed_where_the_definition_points(aws, test_config, definition):
    run(test_config, aws)
    steps = {s["Name"]: s for s in definition["Steps"] if s["Type"] == "Lambda"}
    from pipeline.aws.functions import LAMBDA_STEP_LIMIT_SECONDS, code_sha256, function_zip

    for step_name, name, arn, handler in [
        ("FindChampion", test_config.champion_function_name, test_config.champion_function_arn,
         "resolve_champion.lambda_handler"),
        ("FreezeModel", test_config.freeze_function_name, test_config.freeze_function_arn,
         "freeze_model.lambda_handler"),
    ]:
        function = aws.client("lambda").get_function(FunctionName=name)["Configuration"]
        assert function["FunctionArn"] == steps[step_name]["FunctionArn"] == arn
        assert function["Handler"] == handler
        assert function["Role"] == TEST_ROLE_ARN
        assert function["CodeSha256"] == code_sha256(function_zip())
        # A LambdaStep is cut off after 10 minutes: the function may not be allowed longer.
        assert function["Timeout"] == LAMBDA_STEP_LIMIT_SECONDS == 600
        assert len(function["Description"]) <= 256


def test_the_package_holds_every_handler_module_and_imports_flat(tmp_path):
    import zipfile

    from pipeline.aws.functions import FUNCTIONS, function_zip

    (tmp_path / "package.zip").write_bytes(function_zip())
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        assert sorted(archive.namelist()) == ["champions.py", "freeze_model.py", "resolve_champion.py",
                                              "resolve_monitored_version.py", "storage.py", "windows.py"]
        archive.extractall(tmp_path / "flat")
    # The window module is the container's own file, shipped, not a copy.
    assert (tmp_path / "flat" / "windows.py").read_bytes() == (REPO / "processing_scripts" / "windows.py").read_bytes()
    # As Lambda loads it: the package's folder on sys.path, not this repository.
    for spec in FUNCTIONS:
        module = spec.handler.split(".")[0]
        probe = (f"import sys; sys.modules['pipeline'] = sys.modules['processing_scripts'] = None; "
                 f"sys.path.insert(0, {str(tmp_path / 'flat')!r}); "
                 f"import {module}; assert callable({spec.handler})")
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr


def test_function_deploy_is_idempotent_and_follows_code_changes(aws, test_config, monkeypatch, tmp_path):
    import shutil

    from pipeline.aws import functions

    client = aws.client("lambda")
    assert [d.action for d in functions.deploy_functions(client, test_config)] == ["created"] * 3
    assert [d.action for d in functions.deploy_functions(client, test_config)] == ["unchanged"] * 3
    assert functions.function_zip() == functions.function_zip()  # deterministic bytes: no spurious updates
    edited = tmp_path / "lambdas"
    shutil.copytree(functions._PACKAGE_DIR, edited)
    with open(edited / "champions.py", "a") as handle:
        handle.write("\n# an edit\n")
    monkeypatch.setattr(functions, "_PACKAGE_DIR", edited)
    deployed = functions.deploy_functions(client, test_config)
    assert [d.action for d in deployed] == ["updated"] * 3
    for item in deployed:
        assert client.get_function(FunctionName=item.name)["Configuration"]["CodeSha256"] == item.code_sha256
    assert sorted(f["FunctionName"] for f in client.list_functions()["Functions"]) == sorted(
        [test_config.champion_function_name, test_config.freeze_function_name,
         test_config.monitored_version_function_name])


def test_existing_functions_get_the_tags_they_lack_once(aws, test_config):
    from pipeline.aws import functions

    client = aws.client("lambda")
    functions.deploy_functions(client, test_config)  # untagged
    tagged = test_config.with_overrides(tags=(("sagemaker:project-name", "churn"), ("team", "ml")))
    assert [d.action for d in functions.deploy_functions(client, tagged)] == ["updated"] * 3
    assert [d.action for d in functions.deploy_functions(client, tagged)] == ["unchanged"] * 3
    for name in (tagged.champion_function_name, tagged.freeze_function_name, tagged.monitored_version_function_name):
        assert client.get_function(FunctionName=name)["Tags"] == {"sagemaker:project-name": "churn", "team": "ml"}


def test_long_pipeline_names_give_valid_function_names_and_descriptions(aws, test_config):
    from pipeline.aws import functions

    config = test_config.with_overrides(pipeline_name="p" + "-x" * 120)
    for spec in functions.FUNCTIONS:
        name = config.function_name(spec.suffix)
        assert len(name) <= 64 and name.endswith(spec.suffix)
        assert len(functions.function_settings(spec, config)["Description"]) <= 256
    assert len({config.function_name(spec.suffix) for spec in functions.FUNCTIONS}) == len(functions.FUNCTIONS)
    assert [d.action for d in functions.deploy_functions(aws.client("lambda"), config)] == ["created"] * 3


def test_a_lambda_role_lambda_cannot_assume_is_one_line(aws, test_config):
    config = test_config.with_overrides(lambda_role_arn="arn:aws:iam::123456789012:role/NoSuchRole")
    with pytest.raises(upsert.UpsertError, match="^AWS refused CreateFunction: .*cannot be assumed by Lambda"):
        run(config, aws)

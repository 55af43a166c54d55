"""The drift-check pipeline: its definition, local runs through the definition, upsert and schedule under moto."""
from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws

from pipeline import definition as definition_cli
from pipeline import upsert as upsert_cli
from pipeline.aws import schedule, upsert
from pipeline.pipelines import MONITORING, monitoring
from pipeline.code_bundle import processing_code_bundle
from pipeline.config import ConfigError
from pipeline.local.__main__ import main as local_main
from pipeline.aws.validation import DefinitionError, validate_definition
from processing_scripts import monitor as script
from tests.conftest import TEST_BUCKET, TEST_ROLE_ARN

MONITORING_PIPELINE = "binary-classifier-evaluation-monitoring"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/SchedulerRole"


@pytest.fixture(scope="module")
def mdef(test_config) -> dict:
    from pipeline.sdk import quiet_sdk_logging

    quiet_sdk_logging()
    return MONITORING.definition(test_config)


def steps_by_name(definition: dict) -> dict[str, dict]:
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            found |= steps_by_name({"Steps": step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]})
    return found


def json_get(path: str) -> dict:
    return {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.CheckDataDrift.PropertyFiles.DriftStatus"}, "Path": path}}


# ------------------------------------------------------------------------------------------ definition

def test_parameters_have_types_defaults_and_descriptions(mdef, test_config):
    params = {p["Name"]: p for p in mdef["Parameters"]}
    assert list(params) == ["BaselineUrl", "CaptureDataUrl", "PsiThreshold", "KsThreshold", "WindowStart", "WindowEnd",
                            "WindowHours", "ProcessingInstanceType"]
    root = f"s3://{TEST_BUCKET}/{test_config.prefix}"
    expected = {
        "BaselineUrl": ("String", f"{root}/monitoring/baseline/"),
        "CaptureDataUrl": ("String", f"{root}/monitoring/data-capture/"),
        "PsiThreshold": ("Float", 0.2),
        "KsThreshold": ("Float", 0.1),
        "WindowStart": ("String", ""),
        "WindowEnd": ("String", ""),
        "WindowHours": ("Integer", 24),
        "ProcessingInstanceType": ("String", "ml.m5.large"),
    }
    for name, (kind, default) in expected.items():
        assert (params[name]["Type"], params[name]["DefaultValue"]) == (kind, default), name
        assert len(params[name]["Description"]) > 20, name


def test_steps_and_branches(mdef):
    assert [(s["Name"], s["Type"]) for s in mdef["Steps"]] == [("CheckDataDrift", "Processing"),
                                                                 ("NoDriftViolations", "Condition")]
    condition = mdef["Steps"][1]["Arguments"]
    assert condition["Conditions"] == [{"Type": "Equals", "LeftValue": json_get("violation_count"), "RightValue": 0}]
    assert condition["IfSteps"] == []
    assert [(s["Name"], s["Type"]) for s in condition["ElseSteps"]] == [("DataDriftDetected", "Fail")]


def test_processing_step_runs_monitor_check_with_named_inputs_and_output(mdef, test_config):
    step = steps_by_name(mdef)["CheckDataDrift"]
    args = step["Arguments"]
    app = args["AppSpecification"]
    assert app["ContainerEntrypoint"] == ["python3", "-m", "processing_scripts.monitor"]
    container_args = app["ContainerArguments"]
    assert container_args[:7] == ["check", "--baseline-dir", "/opt/ml/processing/baseline",
                                  "--data", "/opt/ml/processing/input/endpoint",
                                  "--output-dir", "/opt/ml/processing/resultdata"]
    # Thresholds come from the parameters; no --fail-on-violation: the condition decides, not the exit code.
    for flag, parameter in (("--psi-threshold", "PsiThreshold"), ("--ks-threshold", "KsThreshold")):
        value = container_args[container_args.index(flag) + 1]
        assert value == {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{parameter}"}]}}
    assert "--fail-on-violation" not in container_args
    # The window: explicit bounds, or the scheduled window before the execution's start.
    for flag, parameter in (("--start", "WindowStart"), ("--end", "WindowEnd")):
        assert container_args[container_args.index(flag) + 1] == {"Get": f"Parameters.{parameter}"}
    assert container_args[container_args.index("--run-start") + 1] == {"Get": "Execution.StartDateTime"}
    assert container_args[container_args.index("--window-hours") + 1] == {
        "Std:Join": {"On": "", "Values": [{"Get": "Parameters.WindowHours"}]}}
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert inputs["baseline"]["S3Uri"] == {"Get": "Parameters.BaselineUrl"}
    assert inputs["data"]["S3Uri"] == {"Get": "Parameters.CaptureDataUrl"}
    assert inputs["code"]["S3Uri"] == test_config.code_uri(processing_code_bundle().digest)
    assert all(i["S3DataType"] == "S3Prefix" for i in inputs.values())
    assert args["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {"Get": "Parameters.ProcessingInstanceType"}
    [output] = args["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "drift_check"
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/resultdata"
    assert {"Get": "Execution.PipelineExecutionId"} in output["S3Output"]["S3Uri"]["Std:Join"]["Values"]
    assert step["PropertyFiles"] == [
        {"PropertyFileName": "DriftStatus", "OutputName": "drift_check", "FilePath": "drift_status.json"}
    ]


def test_same_image_as_the_evaluation_step(mdef, test_config):
    from steps.model import sklearn_image_uri

    image = steps_by_name(mdef)["CheckDataDrift"]["Arguments"]["AppSpecification"]["ImageUri"]
    assert image == sklearn_image_uri(region=test_config.region, version=test_config.sklearn_image_version)


def test_fail_message_names_count_features_checks_and_report(mdef):
    message = steps_by_name(mdef)["DataDriftDetected"]["Arguments"]["ErrorMessage"]["Std:Join"]
    assert message["On"] == ""
    values = message["Values"]
    for path in ("violation_count", "drifted_features", "violated_checks"):
        assert json_get(path) in values
    # The report is found by output name, never by position.
    assert {"Get": "Steps.CheckDataDrift.ProcessingOutputConfig.Outputs['drift_check'].S3Output.S3Uri"} in values
    assert values[-1] == "/drift_report.html"


def test_json_get_paths_exist_in_what_monitor_py_writes(mdef):
    status = script.drift_status([{"feature_name": "_c0", "constraint_check_type": "baseline_drift_check"}])
    paths = {v["Std:JsonGet"]["Path"] for v in _walk(mdef) if isinstance(v, dict) and "Std:JsonGet" in v}
    assert paths == {"violation_count", "drifted_features", "violated_checks"}
    assert paths <= set(status)


def _walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def test_definition_validates_against_the_schema(mdef):
    validate_definition(mdef)
    broken = json.loads(json.dumps(mdef))
    broken["Steps"][1]["Arguments"]["Conditions"][0]["Typo"] = 1
    with pytest.raises(DefinitionError):
        validate_definition(broken)


@pytest.mark.filterwarnings("ignore:Running within a PipelineSession")
def test_build_is_offline_memoised_and_returns_fresh_dicts(test_config, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("building the definition tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    config = test_config.with_overrides(pipeline_name="offline-check")
    first = MONITORING.definition(config)
    first["Steps"].clear()
    second = MONITORING.definition(config)
    assert [s["Name"] for s in second["Steps"]] == ["CheckDataDrift", "NoDriftViolations"]


def test_monitoring_pipeline_name_and_its_limit(test_config):
    assert monitoring.pipeline_name(test_config) == MONITORING_PIPELINE
    with pytest.raises(ConfigError, match="too long for the monitoring pipeline"):
        monitoring.pipeline_name(test_config.with_overrides(pipeline_name="p" * 250))


def test_definition_cli_prints_the_definition(capsys):
    assert definition_cli.main(["monitoring", "--bucket", TEST_BUCKET, "--region", "us-east-1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [s["Name"] for s in printed["Steps"]] == ["CheckDataDrift", "NoDriftViolations"]
    assert definition_cli.main(["monitoring", "--bucket", "Bad_Bucket", "--region", "us-east-1"]) == 2
    assert "bad bucket name" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ schedule

def test_schedule_request_shape():
    request = schedule.schedule_request(
        pipeline_name=MONITORING_PIPELINE,
        pipeline_arn=f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{MONITORING_PIPELINE}",
        role_arn=SCHEDULER_ROLE,
        parameters=[{"Name": "PsiThreshold", "Value": "0.3"}],
    )
    assert request == {
        "Name": MONITORING_PIPELINE,
        "Description": f"Starts SageMaker pipeline {MONITORING_PIPELINE}",
        "ScheduleExpression": "cron(0 6 * * ? *)",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{MONITORING_PIPELINE}",
            "RoleArn": SCHEDULER_ROLE,
            "SageMakerPipelineParameters": {"PipelineParameterList": [{"Name": "PsiThreshold", "Value": "0.3"}]},
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 5},
        },
    }


@pytest.mark.parametrize("expression, ok", [
    ("cron(0 6 * * ? *)", True),
    ("cron(15 10 ? * 6L 2026)", True),
    ("rate(1 day)", True),
    ("rate(12 hours)", True),
    ("at(2030-01-01T06:00:00)", True),
    ("cron(0 6 * * ?)", False),  # five fields: EventBridge needs six
    ("0 6 * * ? *", False),
    ("rate(0 days)", False),
    ("rate(1 week)", False),
    ("", False),
])
def test_schedule_expressions(expression, ok):
    if ok:
        assert schedule.check_schedule_expression(expression) == expression
    else:
        with pytest.raises(schedule.ScheduleError, match="bad schedule"):
            schedule.check_schedule_expression(expression)


def test_schedule_name_fits_eventbridge_rules():
    from pipeline.limits import SCHEDULE_NAME

    for name in (MONITORING_PIPELINE, "a" * 64, "a" * 65, "x-" * 120 + "monitoring", "p" * 256):
        scheduled = schedule.schedule_name(name)
        assert SCHEDULE_NAME.violation(scheduled) is None, scheduled
    assert schedule.schedule_name("a" * 64) == "a" * 64
    assert schedule.schedule_name("a" * 65) != schedule.schedule_name("a" * 64 + "b")


# ---------------------------------------------------------------------------------- upsert under moto

@pytest.fixture
def aws():
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket=TEST_BUCKET)
        yield session


UPSERT_ARGS = ["monitoring", "--bucket", TEST_BUCKET, "--region", "us-east-1", "--role-arn", TEST_ROLE_ARN]


def test_upsert_monitoring_creates_then_updates_the_pipeline(aws, test_config, mdef, capsys):
    first = upsert.run(test_config, MONITORING, overrides={}, start=False, wait=False, boto_session=aws, emit=lambda _: None)
    second = upsert.run(test_config, MONITORING, overrides={}, start=False, wait=False, boto_session=aws, emit=lambda _: None)
    assert (first.created, second.created) == (True, False)
    assert first.pipeline_arn == second.pipeline_arn
    assert first.pipeline_arn.endswith(f":pipeline/{MONITORING_PIPELINE}")
    sm = aws.client("sagemaker")
    assert [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]] == [MONITORING_PIPELINE]
    described = sm.describe_pipeline(PipelineName=MONITORING_PIPELINE)
    assert json.loads(described["PipelineDefinition"]) == mdef
    assert described["RoleArn"] == TEST_ROLE_ARN
    # The code the definition points at is uploaded, monitor.py among it.
    bucket, _, prefix = first.code_uri[len("s3://"):].partition("/")
    keys = {o["Key"][len(prefix):] for o in aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    assert {"processing_scripts/monitor.py", "processing_scripts/data_quality.py"} <= keys


def test_upsert_monitoring_schedule_created_once_then_updated(aws, capsys):
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule"]) == 0
    out = capsys.readouterr().out
    assert "pipeline created" in out and "schedule created" in out
    scheduler = aws.client("scheduler")
    created = scheduler.get_schedule(Name=MONITORING_PIPELINE)
    assert created["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert created["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert created["Target"]["Arn"].endswith(f":pipeline/{MONITORING_PIPELINE}")
    assert created["Target"]["RoleArn"] == TEST_ROLE_ARN  # default: the pipeline role

    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--schedule", "rate(12 hours)",
                                      "--scheduler-role-arn", SCHEDULER_ROLE, "--param", "PsiThreshold=0.3"]) == 0
    out = capsys.readouterr().out
    assert "pipeline updated" in out and "schedule updated" in out
    assert len(scheduler.list_schedules()["Schedules"]) == 1
    updated = scheduler.get_schedule(Name=MONITORING_PIPELINE)
    assert updated["ScheduleExpression"] == "rate(12 hours)"
    assert updated["Target"]["RoleArn"] == SCHEDULER_ROLE
    assert updated["Target"]["SageMakerPipelineParameters"] == {
        "PipelineParameterList": [{"Name": "PsiThreshold", "Value": "0.3"}]}


def nothing_was_created(session) -> bool:
    """No pipeline, schedule, function, group or uploaded object in moto's account."""
    return (session.client("sagemaker").list_pipelines()["PipelineSummaries"] == []
            and session.client("scheduler").list_schedules()["Schedules"] == []
            and session.client("lambda").list_functions()["Functions"] == []
            and session.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"] == []
            and session.client("s3").list_objects_v2(Bucket=TEST_BUCKET)["KeyCount"] == 0)


def test_print_schedule_changes_nothing(aws, capsys, monkeypatch):
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE)
    assert upsert_cli.main(UPSERT_ARGS + ["--print-schedule", "--param", "PsiThreshold=0.3"]) == 0
    captured = capsys.readouterr()
    request = json.loads(captured.out)  # standard output is the JSON alone
    assert request["Name"] == MONITORING_PIPELINE
    assert request["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert request["Target"]["RoleArn"] == SCHEDULER_ROLE
    assert request["Target"]["Arn"] == f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{MONITORING_PIPELINE}"
    assert request["Target"]["SageMakerPipelineParameters"] == {
        "PipelineParameterList": [{"Name": "PsiThreshold", "Value": "0.3"}]}
    assert nothing_was_created(aws)
    # The same request is what --create-schedule then sends for a new schedule.
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--param", "PsiThreshold=0.3"]) == 0
    created = aws.client("scheduler").get_schedule(Name=MONITORING_PIPELINE)
    assert created["Target"]["Arn"] == aws.client("sagemaker").describe_pipeline(
        PipelineName=MONITORING_PIPELINE)["PipelineArn"] == request["Target"]["Arn"]
    assert {k: created[k] for k in request if k != "Target"} == {k: v for k, v in request.items() if k != "Target"}
    assert {k: created["Target"][k] for k in request["Target"]} == request["Target"]


def test_print_schedule_needs_no_credentials_and_no_network(capsys, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "SCHEDULER_ROLE_ARN"):
        monkeypatch.delenv(var, raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError("--print-schedule opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    role = "arn:aws-cn:iam::210987654321:role/PipelineRole"
    assert upsert_cli.main(["monitoring", "--print-schedule", "--bucket", TEST_BUCKET, "--region", "cn-north-1",
                        "--role-arn", role, "--pipeline-name", "Churn-Eval"]) == 0
    captured = capsys.readouterr()
    request = json.loads(captured.out)
    # SageMaker writes pipeline names in ARNs in lower case; partition and account are the role's.
    assert request["Target"]["Arn"] == "arn:aws-cn:sagemaker:cn-north-1:210987654321:pipeline/churn-eval-monitoring"
    assert request["Target"]["RoleArn"] == role
    assert request["Target"]["SageMakerPipelineParameters"] == {"PipelineParameterList": []}
    assert "keeps an existing schedule's parameters" in captured.err


def test_print_schedule_needs_the_role_to_name_the_pipeline(capsys, monkeypatch):
    monkeypatch.delenv("SAGEMAKER_PIPELINE_ROLE_ARN", raising=False)
    assert upsert_cli.main(["monitoring", "--print-schedule", "--bucket", TEST_BUCKET, "--region", "us-east-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no execution role") and err.count("\n") == 1


def schedule_of(session) -> dict:
    return session.client("scheduler").get_schedule(Name=MONITORING_PIPELINE)


def parameters_of(session) -> list[dict]:
    return schedule_of(session)["Target"]["SageMakerPipelineParameters"]["PipelineParameterList"]


def test_a_redeploy_without_param_keeps_the_schedule_as_it_is(aws, capsys):
    # What buildspec.yml does on every push: --create-schedule without --param or --schedule.
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--schedule", "rate(12 hours)",
                                      "--param", "PsiThreshold=0.3", "--param", "CaptureDataUrl=s3://b/capture/"]) == 0
    scheduler = aws.client("scheduler")
    current = schedule_of(aws)
    scheduler.update_schedule(**{k: current[k] for k in ("Name", "ScheduleExpression", "FlexibleTimeWindow",
                                                         "Target")}, State="DISABLED")  # an operator paused it
    capsys.readouterr()
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule"]) == 0
    assert "schedule updated" in capsys.readouterr().out
    kept = schedule_of(aws)
    assert parameters_of(aws) == [{"Name": "PsiThreshold", "Value": "0.3"},
                                  {"Name": "CaptureDataUrl", "Value": "s3://b/capture/"}]
    assert kept["ScheduleExpression"] == "rate(12 hours)"
    assert kept["State"] == "DISABLED"


def test_param_gives_the_schedule_exactly_those_parameters(aws):
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--param", "PsiThreshold=0.3",
                                      "--param", "KsThreshold=0.2"]) == 0
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--param", "KsThreshold=0.15"]) == 0
    assert parameters_of(aws) == [{"Name": "KsThreshold", "Value": "0.15"}]
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--reset-params"]) == 0
    assert parameters_of(aws) == []
    assert schedule_of(aws)["ScheduleExpression"] == "cron(0 6 * * ? *)"


@pytest.mark.parametrize("stale, message", [
    ({"Name": "DriftThreshold", "Value": "0.2"},
     "passes parameter 'DriftThreshold', which pipeline binary-classifier-evaluation-monitoring no longer declares: "
     "re-run with --param NAME=VALUE"),
    ({"Name": "PsiThreshold", "Value": "high"}, "passes PsiThreshold='high', which pipeline"),
])
def test_a_kept_parameter_the_pipeline_no_longer_takes_stops_before_anything_changes(aws, capsys, stale, message):
    scheduler = aws.client("scheduler")
    before = dict(Name=MONITORING_PIPELINE, ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"},
                  Target={"Arn": f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{MONITORING_PIPELINE}",
                          "RoleArn": SCHEDULER_ROLE,
                          "SageMakerPipelineParameters": {"PipelineParameterList": [stale]}})
    scheduler.create_schedule(**before)
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: schedule binary-classifier-evaluation-monitoring ") and message in err
    assert err.count("\n") == 1
    assert parameters_of(aws) == [stale]  # untouched, and nothing deployed
    assert aws.client("sagemaker").list_pipelines()["PipelineSummaries"] == []
    assert aws.client("s3").list_objects_v2(Bucket=TEST_BUCKET)["KeyCount"] == 0
    # The fix the message names works.
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--reset-params"]) == 0
    assert parameters_of(aws) == []


@pytest.mark.parametrize("extra, message", [
    (["--create-schedule", "--schedule", "daily"], "bad schedule 'daily'"),
    (["--create-schedule", "--scheduler-role-arn", "not-a-role"], "bad scheduler role ARN"),
    (["--create-schedule", "--param", "NoSuchParameter=1"], "unknown parameter 'NoSuchParameter'"),
    (["--create-schedule", "--param", "PsiThreshold=high"], "expected a number"),
    (["--create-schedule", "--param", "CaptureDataUrl="], "bad value '' for CaptureDataUrl: expected an s3://bucket/key URI"),
    (["--print-schedule", "--param", "CaptureDataUrl=s3://b/" + "k" * 1018], "1025 characters, more than 1024"),
])
def test_upsert_monitoring_bad_input_is_one_line_exit_2(aws, capsys, extra, message):
    assert upsert_cli.main(UPSERT_ARGS + extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert nothing_was_created(aws)


@pytest.mark.parametrize("argv", [
    ["evaluation", "--create-schedule"],  # the evaluation pipeline has no schedule
    ["monitoring", "--create-schedule", "--print-schedule"],
    ["monitoring", "--param", "PsiThreshold=0.3"],  # neither --start nor a schedule
    ["monitoring", "--schedule", "rate(1 day)"],  # a schedule expression without a schedule
    ["monitoring", "--reset-params"],
    ["monitoring", "--create-schedule", "--reset-params", "--param", "PsiThreshold=0.3"],
    ["monitoring", "--print-schedule", "--start"],  # a dry run cannot start anything
    ["--create-schedule"],  # no pipeline named
])
def test_upsert_schedule_flag_misuse_is_a_usage_error(argv):
    with pytest.raises(SystemExit) as exit_:
        upsert_cli.main([*argv, "--bucket", TEST_BUCKET, "--region", "us-east-1", "--role-arn", TEST_ROLE_ARN])
    assert exit_.value.code == 2


# ------------------------------------------------------------------------------------------ local runs

@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Label-first CSV, its baseline, the same rows as Data Capture, and a copy with feature _c2 shifted."""
    folder = tmp_path_factory.mktemp("drift")
    rng = np.random.default_rng(7)
    n = 800
    rows = np.column_stack([rng.integers(0, 2, n), rng.normal(0, 1, n), rng.normal(5, 2, n), rng.integers(0, 10, n)])
    formats = ["%d", "%.6f", "%.6f", "%d"]
    np.savetxt(folder / "reference.csv", rows, delimiter=",", fmt=formats)
    shifted = rows.copy()
    shifted[:, 2] += 3.0  # column 2 of the file: _c2, the baseline keeping the label as _c0
    np.savetxt(folder / "shifted.csv", shifted, delimiter=",", fmt=formats)
    capture = folder / "capture" / "AllTraffic" / "2026" / "01" / "02" / "03"
    capture.mkdir(parents=True)
    with open(capture / "records.jsonl", "w") as handle:
        for i, row in enumerate(rows[:, 1:]):
            text = ",".join(fmt % v for fmt, v in zip(formats[1:], row))
            record = {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                        "data": base64.b64encode(text.encode()).decode(),
                                                        "encoding": "BASE64"}},
                      "eventMetadata": {"eventId": f"e{i}", "inferenceTime": f"2026-01-02T03:{i // 60 % 60:02d}:{i % 60:02d}Z"},
                      "eventVersion": "0"}
            handle.write(json.dumps(record) + "\n")
    assert script.main(["baseline", "--data", str(folder / "reference.csv"), "--output-dir", str(folder / "baseline"),
                        "--label-column", "first"]) == 0
    return {"baseline": folder / "baseline", "reference": folder / "reference.csv",
            "shifted": folder / "shifted.csv", "capture": folder / "capture"}


def run_local(tmp_path, *args: str) -> int:
    return local_main(["monitoring", "--work-dir", str(tmp_path / "work"), *args])


def test_local_identical_data_passes(data, tmp_path, capsys):
    code = run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(data["reference"]))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "NoDriftViolations" in out and "DataDriftDetected" not in out
    assert "no drift" in out
    report = Path(out.split("report: ")[1].splitlines()[0])
    assert report.name == "drift_report.html" and report.is_file()
    assert json.loads((report.parent / "constraint_violations.json").read_text()) == {"violations": []}


CAPTURE_DAY = ["--param", "WindowStart=2026-01-02T00:00:00Z", "--param", "WindowEnd=2026-01-03T00:00:00Z"]


def test_local_capture_data_passes_and_reports_json(data, tmp_path, capsys):
    code = run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(data["capture"]), "--output", "json",
                     *CAPTURE_DAY)
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert code == 0, captured.err
    assert document["PipelineExecutionStatus"] == "Succeeded"
    assert document["DriftStatus"]["violation_count"] == 0
    assert document["DriftStatus"]["drifted_features"] == "none"
    assert document["PipelineArn"].endswith(f":pipeline/{MONITORING_PIPELINE}")
    summary = json.loads((Path(document["DriftReport"]).parent / "drift_summary.json").read_text())
    assert summary["window"] == {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z", "outside_window": 0,
                                 "note": ""}


def test_local_window_parameters_choose_the_captures(data, tmp_path, capsys):
    # Every capture (WindowHours=0) is the whole day above; a window before it holds none of them.
    assert run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(data["capture"]),
                     "--param", "WindowHours=0", "--output", "json") == 0
    document = json.loads(capsys.readouterr().out)
    summary = json.loads((Path(document["DriftReport"]).parent / "drift_summary.json").read_text())
    assert summary["window"] == {"start": "-inf", "end": "+inf", "outside_window": 0, "note": ""}
    code = run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(data["capture"]),
                     "--param", "WindowStart=2025-12-01", "--param", "WindowEnd=2025-12-02", "--output", "json")
    document = json.loads(capsys.readouterr().out)
    assert code == 1 and document["PipelineExecutionStatus"] == "Failed", document
    assert "has an inference time in the window [2025-12-01T00:00:00Z, 2025-12-02T00:00:00Z)" in document["FailureReason"]


def test_local_shifted_data_fails_naming_the_feature(data, tmp_path, capsys):
    code = run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(data["shifted"]), "--output", "json")
    captured = capsys.readouterr()
    assert code == 1
    document = json.loads(captured.out)
    reason = document["FailureReason"]
    assert reason.startswith("Data drift: 1 violation(s); features: _c2; checks: baseline_drift_check; report: s3://")
    assert reason.endswith("/drift-check/drift_report.html")
    assert [(s["StepName"], s["StepStatus"]) for s in document["Steps"]] == [
        ("CheckDataDrift", "Succeeded"), ("NoDriftViolations", "Succeeded"), ("DataDriftDetected", "Failed")]
    violations = json.loads((Path(document["DriftReport"]).parent / "constraint_violations.json").read_text())
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]] == [
        ("_c2", "baseline_drift_check")]


def test_local_thresholds_are_parameters(data, tmp_path, capsys):
    code = run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(data["shifted"]),
                     "--param", "PsiThreshold=1000", "--param", "KsThreshold=1")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no drift" in out


def test_local_text_output_prints_the_reason(data, tmp_path, capsys):
    assert run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(data["shifted"])) == 1
    out = capsys.readouterr().out
    # The FailStep's reason, said once (on its step's line); the summary names the features.
    assert out.count("Data drift: 1 violation(s); features: _c2; checks: baseline_drift_check") == 1
    assert "drift: 1 violation(s) on _c2" in out


def test_local_inputs_from_the_store(data, tmp_path, capsys):
    # Stage once from files, then reuse the staged s3:// URIs, as a second run against the store would.
    run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(data["reference"]), "--output", "json")
    document = json.loads(capsys.readouterr().out)
    params = {p["Name"]: p["Value"] for p in document["PipelineParameters"]}
    code = run_local(tmp_path, "--baseline", params["BaselineUrl"], "--data", params["CaptureDataUrl"])
    assert code == 0, capsys.readouterr().out


def test_local_bad_data_fails_the_step_with_its_one_line_error(data, tmp_path, capsys):
    bad = tmp_path / "header.csv"
    bad.write_text("label,a,b,c\n" + data["reference"].read_text())
    assert run_local(tmp_path, "--baseline", str(data["baseline"]), "--data", str(bad)) == 1
    out = capsys.readouterr().out
    assert out.count("AlgorithmError: error:") == 1
    assert "failed: step CheckDataDrift failed (the reason above)" in out
    assert "header" in out


@pytest.mark.parametrize("make_args, message", [
    (lambda d, t: ["--baseline", str(d["reference"].parent), "--data", str(d["reference"])],
     "has no statistics.json"),
    (lambda d, t: ["--baseline", str(d["baseline"] / "statistics.json"), "--data", str(d["reference"])],
     "is a file; pass the folder"),
    (lambda d, t: ["--baseline", str(d["baseline"]), "--data", str(t / "missing.csv")], "is not a file or folder"),
    (lambda d, t: ["--baseline", "s3://local-sagemaker/nothing/", "--data", str(d["reference"])],
     "no statistics.json under s3://local-sagemaker/nothing/"),
    (lambda d, t: ["--baseline", str(d["baseline"]), "--data", "s3://local-sagemaker/nothing.csv"],
     "no object at s3://local-sagemaker/nothing.csv"),
    (lambda d, t: ["--baseline", str(d["baseline"]), "--data", str(d["reference"]), "--param", "BaselineUrl=s3://x/y"],
     "a local run takes it as --baseline"),
    (lambda d, t: ["--baseline", str(d["baseline"]), "--data", str(d["reference"]), "--param", "AucThreshold=0.9"],
     "unknown parameter 'AucThreshold'"),
    (lambda d, t: ["--baseline", str(d["baseline"]), "--data", str(d["reference"]), "--param", "KsThreshold=x"],
     "expected a number"),
])
def test_local_bad_usage_exits_2_with_one_line(data, tmp_path, capsys, make_args, message):
    assert run_local(tmp_path, *make_args(data, tmp_path)) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1
    assert not (tmp_path / "work" / "executions").exists()


def test_local_missing_required_flag_is_a_usage_error(data, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        run_local(tmp_path, "--data", str(data["reference"]))
    assert exit_.value.code == 2


def test_local_cli_names_every_pipeline(capsys):
    with pytest.raises(SystemExit):
        local_main(["--help"])
    assert "{evaluation,monitoring,quality}" in capsys.readouterr().out

def test_apply_schedule_creates_then_keeps_what_it_is_not_given(aws, test_config):
    monitoring_arn = upsert.run(test_config, MONITORING, overrides={}, start=False, wait=False, boto_session=aws,
                                emit=lambda _: None).pipeline_arn
    apply = dict(pipeline_arn=monitoring_arn, scheduler=aws.client("scheduler"), emit=lambda _: None)
    schedule.apply_schedule(test_config, MONITORING, options=schedule.ScheduleOptions(
        role_arn=SCHEDULER_ROLE, expression="rate(2 days)", parameters={"KsThreshold": "0.3"}), **apply)
    request = schedule.apply_schedule(test_config, MONITORING, options=schedule.ScheduleOptions(role_arn=SCHEDULER_ROLE),
                                      **apply)
    assert request["ScheduleExpression"] == schedule_of(aws)["ScheduleExpression"] == "rate(2 days)"
    assert parameters_of(aws) == [{"Name": "KsThreshold", "Value": "0.3"}]
    preview = schedule.apply_schedule(test_config, MONITORING, pipeline_arn=monitoring_arn,
                                      options=schedule.ScheduleOptions(role_arn=SCHEDULER_ROLE))
    assert preview["ScheduleExpression"] == "cron(0 6 * * ? *)"  # without create nothing is read: a new schedule


def test_schedule_settings_are_checked_before_credentials_or_any_call(capsys, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("a connection was opened"))
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--param", "CaptureDataUrl="]) == 2
    assert "bad value '' for CaptureDataUrl: expected an s3://bucket/key URI" in capsys.readouterr().err

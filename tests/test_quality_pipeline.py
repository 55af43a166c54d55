"""The model-quality pipeline: its definition, its function (under moto and locally), upsert and schedule
under moto, and local runs end to end on a model registered by the local evaluation pipeline."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pipeline import definition as definition_cli
from pipeline import upsert as upsert_cli
from pipeline.aws import upsert
from pipeline.aws.validation import DefinitionError, validate_definition
from pipeline.code_bundle import processing_code_bundle
from pipeline.config import ConfigError
from pipeline.lambdas import resolve_monitored_version as function
from pipeline.lambdas.storage import S3Storage
from pipeline.pipelines import QUALITY, quality
from pipeline.registry import SageMakerRegistry
from steps import quality_check
from tests.conftest import TEST_BUCKET, TEST_ROLE_ARN, create_execution_role

QUALITY_PIPELINE = "binary-classifier-evaluation-quality"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/SchedulerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"


@pytest.fixture(scope="module")
def qdef(test_config) -> dict:
    from pipeline.sdk import quiet_sdk_logging

    quiet_sdk_logging()
    return QUALITY.definition(test_config)


def steps_by_name(definition: dict) -> dict[str, dict]:
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        if step["Type"] == "Condition":
            found |= steps_by_name({"Steps": step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"]})
    return found


def json_get(path: str) -> dict:
    return {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.CheckModelQuality.PropertyFiles.QualityStatus"},
                            "Path": path}}


def argument(arguments: list, flag: str):
    return arguments[arguments.index(flag) + 1]


# ------------------------------------------------------------------------------------------ definition

def test_parameters_have_types_defaults_and_descriptions(qdef, test_config):
    params = {p["Name"]: p for p in qdef["Parameters"]}
    root = f"s3://{TEST_BUCKET}/{test_config.prefix}"
    expected = {
        "ModelPackageGroupName": ("String", test_config.model_package_group),
        "CaptureDataUrl": ("String", f"{root}/monitoring/data-capture/"),
        "GroundTruthUrl": ("String", f"{root}/monitoring/ground-truth/"),
        "WindowStart": ("String", ""),
        "WindowEnd": ("String", ""),
        "WindowHours": ("Integer", 24),
        "LabelDelayHours": ("Integer", 48),
        "ProbabilityThreshold": ("String", ""),
        "ProcessingInstanceType": ("String", "ml.m5.large"),
    }
    assert list(params) == list(expected)
    for name, (kind, default) in expected.items():
        assert (params[name]["Type"], params[name]["DefaultValue"]) == (kind, default), name
        assert len(params[name]["Description"]) > 20, name
    # The drift check's capture default is the same prefix: one endpoint, one capture destination.
    from pipeline.pipelines import monitoring

    assert monitoring.parameter_settings(test_config)["CaptureDataUrl"] == params["CaptureDataUrl"]["DefaultValue"]


def test_steps_and_branches(qdef):
    assert [(s["Name"], s["Type"]) for s in qdef["Steps"]] == [
        ("ResolveMonitoredVersion", "Lambda"), ("CheckModelQuality", "Processing"),
        ("QualityWithinConstraints", "Condition")]
    condition = qdef["Steps"][2]["Arguments"]
    assert condition["Conditions"] == [{"Type": "Equals", "LeftValue": json_get("verdict"), "RightValue": "ok"}]
    assert condition["IfSteps"] == []
    assert [(s["Name"], s["Type"]) for s in condition["ElseSteps"]] == [("ModelQualityDegraded", "Fail")]


def test_the_function_step_gets_the_windows_inputs_and_the_execution_start(qdef, test_config):
    step = steps_by_name(qdef)["ResolveMonitoredVersion"]
    assert step["FunctionArn"] == test_config.monitored_version_function_arn
    args = step["Arguments"]
    for name in ("ModelPackageGroupName", "CaptureDataUrl", "GroundTruthUrl", "WindowStart", "WindowEnd",
                 "WindowHours", "LabelDelayHours"):
        assert args[name] == {"Get": f"Parameters.{name}"}, name
    assert args["RunStart"] == {"Get": "Execution.StartDateTime"}
    assert args["HistoryUri"] == f"s3://{TEST_BUCKET}/{test_config.prefix}/monitoring/quality/quality_history.jsonl"
    assert {"Get": "Execution.PipelineExecutionId"} in args["OutputUri"]["Std:Join"]["Values"]
    assert [o["OutputName"] for o in step["OutputParameters"]] == list(function.OUTPUTS)


def test_processing_step_runs_quality_py_on_the_staged_prefix_and_the_labels(qdef, test_config):
    step = steps_by_name(qdef)["CheckModelQuality"]
    args = step["Arguments"]
    assert args["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "processing_scripts.quality"]
    container = args["AppSpecification"]["ContainerArguments"]
    staged = "/opt/ml/processing/input/staged"
    assert argument(container, "--capture") == f"{staged}/capture"
    assert argument(container, "--constraints") == f"{staged}/constraints.json"
    assert argument(container, "--baseline-statistics") == f"{staged}/evaluation.json"
    assert argument(container, "--history") == staged
    assert argument(container, "--ground-truth") == "/opt/ml/processing/input/ground_truth"
    assert argument(container, "--run-start") == {"Get": "Execution.StartDateTime"}
    assert argument(container, "--start") == {"Get": "Parameters.WindowStart"}
    assert argument(container, "--end") == {"Get": "Parameters.WindowEnd"}
    assert argument(container, "--probability-threshold") == {"Get": "Parameters.ProbabilityThreshold"}
    for flag, parameter in (("--window-hours", "WindowHours"), ("--label-delay-hours", "LabelDelayHours")):
        assert argument(container, flag) == {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{parameter}"}]}}
    assert "--fail-on-violation" not in container  # the condition decides, not the exit code
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert inputs["staged"]["S3Uri"] == {"Get": "Steps.ResolveMonitoredVersion.OutputParameters['ContextUri']"}
    assert inputs["staged"]["LocalPath"] == staged
    assert inputs["ground_truth"]["S3Uri"] == {"Get": "Parameters.GroundTruthUrl"}
    assert inputs["code"]["S3Uri"] == test_config.code_uri(processing_code_bundle().digest)
    outputs = {o["OutputName"]: o["S3Output"] for o in args["ProcessingOutputConfig"]["Outputs"]}
    assert set(outputs) == {"quality_check", "quality_history"}
    assert argument(container, "--output-dir") == outputs["quality_check"]["LocalPath"]
    assert {"Get": "Execution.PipelineExecutionId"} in outputs["quality_check"]["S3Uri"]["Std:Join"]["Values"]
    # The history output replaces the one history object the function stages from.
    assert argument(container, "--history-out") == outputs["quality_history"]["LocalPath"]
    assert outputs["quality_history"]["S3Uri"] + "quality_history.jsonl" == \
        steps_by_name(qdef)["ResolveMonitoredVersion"]["Arguments"]["HistoryUri"]
    assert step["PropertyFiles"] == [
        {"PropertyFileName": "QualityStatus", "OutputName": "quality_check", "FilePath": "quality_status.json"}]


def test_the_staged_layout_is_named_alike_by_the_function_and_the_step():
    assert (quality_check.CONSTRAINTS_FILE, quality_check.STATISTICS_FILE, quality_check.HISTORY_FILE,
            quality_check.CAPTURE_FOLDER + "/") == (function.CONSTRAINTS_FILE, function.STATISTICS_FILE,
                                                    function.HISTORY_FILE, function.CAPTURE_PREFIX)
    assert (quality_check.CONTEXT_OUTPUT, quality_check.PACKAGE_ARN_OUTPUT, quality_check.PACKAGE_VERSION_OUTPUT,
            quality_check.CAPTURE_OBJECTS_OUTPUT) == function.OUTPUTS


def test_fail_message_names_verdict_metrics_window_rows_and_report(qdef):
    values = steps_by_name(qdef)["ModelQualityDegraded"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    for path in ("verdict", "violated_metrics", "window_start", "window_end", "matched", "reason"):
        assert json_get(path) in values, path
    assert {"Get": "Steps.CheckModelQuality.ProcessingOutputConfig.Outputs['quality_check'].S3Output.S3Uri"} in values
    assert values[-1] == "/quality_report.html"


def test_definition_validates_against_the_schema(qdef):
    from pipeline.aws.validation import schema_errors

    assert schema_errors(qdef) == []
    validate_definition(qdef)
    broken = json.loads(json.dumps(qdef))
    broken["Steps"][2]["Arguments"]["Conditions"][0]["Typo"] = 1
    with pytest.raises(DefinitionError):
        validate_definition(broken)


def test_studio_shows_what_every_step_and_parameter_is(qdef):
    steps = list(steps_by_name(qdef).values())
    for step in steps:
        assert step.get("DisplayName"), step["Name"]
        assert 20 <= len(step.get("Description", "")) <= 4096, step["Name"]
    assert len({s["DisplayName"] for s in steps}) == len(steps)


@pytest.mark.filterwarnings("ignore:Running within a PipelineSession")
def test_build_is_offline(test_config, monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("a connection was opened"))
    built = QUALITY.definition(test_config.with_overrides(pipeline_name="offline-quality"))
    assert built["Steps"][0]["FunctionArn"].endswith(":function:offline-quality-monitored-version")


def test_pipeline_name_and_its_limit(test_config):
    assert quality.pipeline_name(test_config) == QUALITY_PIPELINE
    with pytest.raises(ConfigError, match="too long for the model-quality pipeline"):
        quality.pipeline_name(test_config.with_overrides(pipeline_name="p" * 250))


def test_definition_cli_prints_it(capsys):
    assert definition_cli.main(["quality", "--bucket", TEST_BUCKET, "--region", "us-east-1"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [s["Name"] for s in printed["Steps"]] == ["ResolveMonitoredVersion", "CheckModelQuality",
                                                     "QualityWithinConstraints"]


@pytest.mark.parametrize("name, value, message", [
    ("WindowStart", "yesterday", "bad value 'yesterday' for WindowStart"),
    ("WindowHours", "5", "a window of 5 hours does not tile days"),
    ("LabelDelayHours", "-1", "expected 0 or more"),
    ("ProbabilityThreshold", "1.5", "expected empty or a number from 0 to 1"),
    ("ProbabilityThreshold", "nan", "expected empty or a number from 0 to 1"),
])
def test_bad_window_parameters_are_refused_before_anything_runs(name, value, message):
    from pipeline.parameters import ParameterError, check_overrides

    with pytest.raises(ParameterError, match=message):
        check_overrides(QUALITY.parameters, {name: value})


# -------------------------------------------------------------------------------- the function's window

@pytest.mark.parametrize("event, expected", [
    ({"RunStart": "2024-01-10T01:00:00Z", "WindowHours": 24, "LabelDelayHours": 48},
     "[2024-01-07T00:00:00Z, 2024-01-08T00:00:00Z)"),
    ({"RunStart": "2024-01-10T13:20:00.123456+00:00", "WindowHours": 6, "LabelDelayHours": 0},
     "[2024-01-10T06:00:00Z, 2024-01-10T12:00:00Z)"),
    ({"WindowStart": "2024-01-03", "WindowEnd": "", "RunStart": "2024-01-10T01:00:00Z", "WindowHours": 24},
     "[2024-01-03T00:00:00Z, +inf)"),
    ({"RunStart": "2024-01-10T01:00:00Z", "WindowHours": 0, "LabelDelayHours": 48}, None),
])
def test_the_function_reads_the_window_as_the_container_does(event, expected):
    import argparse

    from processing_scripts import windows

    window = function.window_of({"WindowStart": "", "WindowEnd": "", "LabelDelayHours": 0, **event})
    assert (window.describe() if window else None) == expected
    # The container's reading of the same values (its argparse options, the same module).
    parser = argparse.ArgumentParser()
    windows.add_window_options(parser, label_delay=True)
    args = parser.parse_args([f"--start={event.get('WindowStart', '')}", f"--end={event.get('WindowEnd', '')}",
                              f"--run-start={event['RunStart']}", f"--window-hours={event['WindowHours']}",
                              f"--label-delay-hours={event.get('LabelDelayHours', 0)}"])
    assert windows.window_from_options(args) == window


def test_the_window_is_the_same_from_the_flat_lambda_package(tmp_path):
    import subprocess
    import sys
    import zipfile

    from pipeline.aws.functions import function_zip

    (tmp_path / "package.zip").write_bytes(function_zip())
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        archive.extractall(tmp_path / "flat")
    probe = ("import sys; sys.modules['pipeline'] = sys.modules['processing_scripts'] = None; "
             f"sys.path.insert(0, {str(tmp_path / 'flat')!r}); import resolve_monitored_version as f; "
             "print(f.window_of({'WindowStart': '', 'WindowEnd': '', 'RunStart': '2024-01-10T01:00:00Z', "
             "'WindowHours': 24, 'LabelDelayHours': 48}).describe())")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[2024-01-07T00:00:00Z, 2024-01-08T00:00:00Z)"


@pytest.mark.parametrize("event, message", [
    ({"WindowStart": "2024-01-08", "WindowEnd": "2024-01-07"}, "is not before its end"),
    ({"WindowStart": "soon"}, "not an ISO 8601"),
    ({"WindowHours": 7}, "does not tile days"),
])
def test_a_bad_window_fails_the_function_with_one_line(event, message):
    base = {"WindowStart": "", "WindowEnd": "", "RunStart": "2024-01-10T01:00:00Z", "WindowHours": 24,
            "LabelDelayHours": 48}
    with pytest.raises(function.QualityInputError, match=message) as error:
        function.window_of({**base, **event})
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------------- the function under moto

GROUP = "binary-classifier"
CAPTURE = f"s3://{TEST_BUCKET}/p/monitoring/data-capture/"
LABELS = f"s3://{TEST_BUCKET}/p/monitoring/ground-truth/"
HISTORY = f"s3://{TEST_BUCKET}/p/monitoring/quality/quality_history.jsonl"
OUTPUT = f"s3://{TEST_BUCKET}/p/executions/e1/quality-inputs"
HOURS = ["2024/01/06/23", "2024/01/07/00", "2024/01/07/12", "2024/01/07/23", "2024/01/08/00", "2024/01/08/01",
         "2024/01/08/02", "2024/01/09/05"]


def fill_store(put) -> None:
    """Captures in hour folders (and one object outside that layout), labels, a history and a decoy."""
    for hour in HOURS:
        put(f"{CAPTURE}ep/AllTraffic/{hour}/34-10-000-{hour.replace('/', '')}.jsonl", b"{}\n")
    put(f"{CAPTURE}ep/AllTraffic/replayed.jsonl", b"{}\n")
    put(f"{LABELS}2024/01/09/00/labels.jsonl", b"{}\n")
    put(HISTORY, b'{"window_start": "2024-01-06T00:00:00Z"}\n')
    put(HISTORY + ".old", b"a longer key is not the history\n")


def register(registry, *, constraints: bool = True, approve: bool = True) -> str:
    metrics = {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{TEST_BUCKET}/p/e0/evaluation.json"}}
    if constraints:
        metrics["Constraints"] = {"ContentType": "application/json", "S3Uri": f"s3://{TEST_BUCKET}/p/e0/constraints.json"}
    package = registry.register(GROUP, model_data_url=f"s3://{TEST_BUCKET}/p/models/model.tar.gz", image_uri=IMAGE,
                                model_metrics={"ModelQuality": metrics})
    if approve:
        registry.update_approval(package["ModelPackageArn"], "Approved")
    return package["ModelPackageArn"]


def event(**changes) -> dict:
    return {"ModelPackageGroupName": GROUP, "CaptureDataUrl": CAPTURE, "GroundTruthUrl": LABELS, "HistoryUri": HISTORY,
            "OutputUri": OUTPUT, "WindowStart": "2024-01-07T00:00:00Z", "WindowEnd": "2024-01-08T00:00:00Z",
            "RunStart": "2024-01-12T06:00:00Z", "WindowHours": 24, "LabelDelayHours": 48, "KmsKeyId": "", **changes}


@pytest.fixture
def moto_world():
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        s3 = session.client("s3")
        s3.create_bucket(Bucket=TEST_BUCKET)

        def put(uri: str, body: bytes) -> None:
            bucket, _, key = uri[len("s3://"):].partition("/")
            s3.put_object(Bucket=bucket, Key=key, Body=body)

        fill_store(put)
        put(f"s3://{TEST_BUCKET}/p/e0/evaluation.json", b'{"metrics": "registered"}')
        put(f"s3://{TEST_BUCKET}/p/e0/constraints.json", b'{"binary_classification_constraints": {}}')
        yield {"s3": s3, "sagemaker": session.client("sagemaker"), "put": put,
               "registry": SageMakerRegistry(session.client("sagemaker"))}


def staged_keys(s3, prefix: str = "p/executions/e1/quality-inputs/") -> list[str]:
    return sorted(o["Key"][len(prefix):] for o in s3.list_objects_v2(Bucket=TEST_BUCKET, Prefix=prefix).get("Contents", []))


def read(s3, relative: str) -> bytes:
    return s3.get_object(Bucket=TEST_BUCKET, Key=f"p/executions/e1/quality-inputs/{relative}")["Body"].read()


def resolve_on_moto(world, **changes) -> dict:
    return function.resolve(event(**changes), sagemaker=world["sagemaker"], storage=S3Storage(world["s3"]))


def test_the_function_stages_the_window_the_constraints_and_the_history(moto_world):
    arn = register(moto_world["registry"])
    outputs = resolve_on_moto(moto_world)
    assert outputs == {"ContextUri": OUTPUT + "/", "ModelPackageArn": arn, "ModelPackageVersion": "1",
                       "CaptureObjects": "6"}
    capture = [k for k in staged_keys(moto_world["s3"]) if k.startswith("capture/")]
    # From the window start's hour to its end's hour + 1, and the object outside the hour layout.
    assert capture == ["capture/ep/AllTraffic/" + hour + f"/34-10-000-{hour.replace('/', '')}.jsonl"
                       for hour in HOURS[1:6]] + ["capture/ep/AllTraffic/replayed.jsonl"]
    assert sorted(set(staged_keys(moto_world["s3"])) - set(capture)) == [
        "constraints.json", "context.json", "evaluation.json", "quality_history.jsonl"]
    assert read(moto_world["s3"], "constraints.json") == b'{"binary_classification_constraints": {}}'
    assert read(moto_world["s3"], "evaluation.json") == b'{"metrics": "registered"}'
    assert read(moto_world["s3"], "quality_history.jsonl") == b'{"window_start": "2024-01-06T00:00:00Z"}\n'
    context = json.loads(read(moto_world["s3"], "context.json"))
    assert context["model_package"]["arn"] == arn and context["error"] is None
    assert context["window"]["described"] == "[2024-01-07T00:00:00Z, 2024-01-08T00:00:00Z)"
    assert context["capture"] == {"source": CAPTURE, "objects_listed": 9, "objects_staged": 6}
    assert context["ground_truth"] == {"source": LABELS, "objects": 1}
    assert context["history"] == {"source": HISTORY, "staged": True}


@pytest.mark.parametrize("changes, hours", [
    ({"WindowStart": "", "WindowEnd": "", "RunStart": "2024-01-10T01:00:00Z"}, HOURS[1:6]),  # scheduled: the 7th
    ({"WindowStart": "", "WindowEnd": "", "WindowHours": 0}, HOURS),  # no window: every capture
    ({"WindowStart": "2024-01-08T00:30:00Z", "WindowEnd": ""}, HOURS[4:]),  # open end
    ({"WindowStart": "", "WindowEnd": "2024-01-07T00:00:00Z"}, HOURS[:2]),  # open start: up to the end hour + 1
])
def test_window_selection_of_capture_keys(moto_world, changes, hours):
    register(moto_world["registry"])
    resolve_on_moto(moto_world, **changes)
    staged = [k for k in staged_keys(moto_world["s3"]) if k.startswith("capture/") and "replayed" not in k]
    assert [k.split("/")[3:7] for k in staged] == [h.split("/") for h in hours]


def test_without_a_history_the_first_run_stages_none(moto_world):
    register(moto_world["registry"])
    moto_world["s3"].delete_object(Bucket=TEST_BUCKET, Key="p/monitoring/quality/quality_history.jsonl")
    resolve_on_moto(moto_world)
    assert "quality_history.jsonl" not in staged_keys(moto_world["s3"])  # the decoy .old is not taken for it
    assert json.loads(read(moto_world["s3"], "context.json"))["history"]["staged"] is False


@pytest.mark.parametrize("setup, changes, message", [
    (lambda registry: None, {}, "model package group binary-classifier has no Approved version"),
    (lambda registry: register(registry, approve=False), {}, "has no Approved version"),
    (lambda registry: register(registry, constraints=False), {}, "has no registered ModelQuality Constraints"),
    (register, {"GroundTruthUrl": LABELS + "none/"}, "GroundTruthUrl " + LABELS + "none/ has no objects"),
    (register, {"WindowStart": "2023-01-01", "WindowEnd": "2023-01-02", "CaptureDataUrl": CAPTURE + "ep/AllTraffic/2024/"},
     "has no Data Capture object in the hour folders of the window [2023-01-01T00:00:00Z, 2023-01-02T00:00:00Z)"),
    (register, {"CaptureDataUrl": CAPTURE + "elsewhere/", "WindowHours": 0, "WindowStart": "", "WindowEnd": ""},
     "has no Data Capture object at all"),
])
def test_the_function_fails_closed_with_one_line_and_says_why_in_context(moto_world, setup, changes, message):
    setup(moto_world["registry"])
    with pytest.raises(function.QualityInputError) as error:
        resolve_on_moto(moto_world, **changes)
    assert message in str(error.value) and "\n" not in str(error.value)
    context = json.loads(read(moto_world["s3"], "context.json"))  # written also when the step fails
    assert context["error"] == str(error.value)
    assert not [k for k in staged_keys(moto_world["s3"]) if k.startswith("capture/")]


def test_a_newer_approved_version_is_the_one_checked(moto_world):
    register(moto_world["registry"])
    newer = register(moto_world["registry"])
    register(moto_world["registry"], approve=False)  # pending: not deployed
    assert resolve_on_moto(moto_world)["ModelPackageArn"] == newer


# ------------------------------------------------------------------------------- the function locally

def test_the_function_runs_locally_over_the_registry_and_the_store(tmp_path):
    from pipeline.local.functions import local_functions
    from pipeline.local.staging import local_config
    from pipeline.local.store import LocalObjectStore
    from pipeline.registry import LocalRegistry

    store = LocalObjectStore(tmp_path)
    fill_store(store.put_bytes)
    store.put_bytes(f"s3://{TEST_BUCKET}/p/e0/evaluation.json", b"{}")
    store.put_bytes(f"s3://{TEST_BUCKET}/p/e0/constraints.json", b"{}")
    registry = LocalRegistry(tmp_path / "registry.db")
    arn = register(registry)
    config = local_config()
    outputs = local_functions(config, registry=registry, store=store)[config.monitored_version_function_arn](event())
    assert outputs["ModelPackageArn"] == arn and outputs["CaptureObjects"] == "6"
    staged = store.list(OUTPUT + "/")
    assert len([u for u in staged if "/capture/" in u]) == 6
    assert store.get_bytes(OUTPUT + "/quality_history.jsonl") == b'{"window_start": "2024-01-06T00:00:00Z"}\n'


# -------------------------------------------------------------------------------------- upsert and schedule

@pytest.fixture
def aws():
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        session.client("s3").create_bucket(Bucket=TEST_BUCKET)
        create_execution_role(session)
        yield session


UPSERT_ARGS = ["quality", "--bucket", TEST_BUCKET, "--region", "us-east-1", "--role-arn", TEST_ROLE_ARN]


def test_upsert_deploys_the_pipeline_its_function_and_the_group(aws, test_config, qdef):
    from pipeline.aws.functions import code_sha256, function_zip

    first = upsert.run(test_config, QUALITY, overrides={}, start=False, wait=False, boto_session=aws, emit=lambda _: None)
    second = upsert.run(test_config, QUALITY, overrides={}, start=False, wait=False, boto_session=aws, emit=lambda _: None)
    assert (first.created, second.created) == (True, False)
    assert first.pipeline_arn.endswith(f":pipeline/{QUALITY_PIPELINE}")
    sm = aws.client("sagemaker")
    assert json.loads(sm.describe_pipeline(PipelineName=QUALITY_PIPELINE)["PipelineDefinition"]) == qdef
    deployed = aws.client("lambda").get_function(FunctionName=test_config.monitored_version_function_name)
    assert deployed["Configuration"]["FunctionArn"] == steps_by_name(qdef)["ResolveMonitoredVersion"]["FunctionArn"]
    assert deployed["Configuration"]["Handler"] == "resolve_monitored_version.lambda_handler"
    assert deployed["Configuration"]["CodeSha256"] == code_sha256(function_zip())
    assert sm.describe_model_package_group(ModelPackageGroupName=test_config.model_package_group)
    bucket, _, prefix = first.code_uri[len("s3://"):].partition("/")
    keys = {o["Key"][len(prefix):] for o in aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    assert {"processing_scripts/quality.py", "processing_scripts/windows.py"} <= keys


def test_upsert_quality_schedule_created_then_updated(aws, capsys):
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule"]) == 0
    out = capsys.readouterr().out
    assert "pipeline created" in out and "schedule created" in out
    assert f"function created: arn:aws:lambda:us-east-1:123456789012:function:{QUALITY_PIPELINE[:-8]}-monitored-version" in out
    scheduler = aws.client("scheduler")
    created = scheduler.get_schedule(Name=QUALITY_PIPELINE)
    assert created["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert created["Target"]["Arn"].endswith(f":pipeline/{QUALITY_PIPELINE}")
    assert upsert_cli.main(UPSERT_ARGS + ["--create-schedule", "--scheduler-role-arn", SCHEDULER_ROLE,
                                          "--param", "LabelDelayHours=72", "--param", "WindowHours=12"]) == 0
    assert "schedule updated" in capsys.readouterr().out
    updated = scheduler.get_schedule(Name=QUALITY_PIPELINE)
    assert updated["Target"]["RoleArn"] == SCHEDULER_ROLE
    assert updated["Target"]["SageMakerPipelineParameters"] == {"PipelineParameterList": [
        {"Name": "LabelDelayHours", "Value": "72"}, {"Name": "WindowHours", "Value": "12"}]}


def test_print_schedule_is_offline_and_checks_the_parameters(capsys, monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("a connection was opened"))
    assert upsert_cli.main(UPSERT_ARGS + ["--print-schedule", "--param", "WindowHours=6"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["Name"] == QUALITY_PIPELINE
    assert request["Target"]["Arn"] == f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{QUALITY_PIPELINE}"
    assert request["Target"]["SageMakerPipelineParameters"] == {
        "PipelineParameterList": [{"Name": "WindowHours", "Value": "6"}]}
    assert upsert_cli.main(UPSERT_ARGS + ["--print-schedule", "--param", "WindowHours=5"]) == 2
    err = capsys.readouterr().err
    assert "bad value '5' for WindowHours" in err and err.count("\n") == 1


# ------------------------------------------------------------------------------------------ local runs

def write_traffic(root: Path, rows: list[tuple[int, float]], day: str, *, flip: float = 0.0, seed: int = 0) -> None:
    """One day of the rows (label, endpoint probability) as Data Capture (yyyy/mm/dd/hh folders by write
    time) and as ground truth that arrives later; ``flip``: the share of labels the model now gets wrong."""
    import numpy as np
    from datetime import datetime, timedelta, timezone

    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    rng = np.random.default_rng(seed)
    flipped = set(rng.choice(len(rows), int(flip * len(rows)), replace=False).tolist())
    labels = root / "labels" / day
    labels.mkdir(parents=True, exist_ok=True)
    for i, (label, score) in enumerate(rows):
        when = start + timedelta(seconds=i * 86399 // len(rows))
        folder = root / "capture" / "ep" / "AllTraffic" / when.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        event = f"{day}-{i}"
        record = {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                                    "data": "1.0,2.0", "encoding": "CSV"},
                                  "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                                     "data": repr(score), "encoding": "CSV"}},
                  "eventMetadata": {"eventId": event, "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
                  "eventVersion": "0"}
        with open(folder / "capture.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        truth = 1 - label if i in flipped else label
        with open(labels / "labels.jsonl", "a") as handle:
            handle.write(json.dumps({"groundTruthData": {"data": str(truth), "encoding": "CSV"},
                                     "eventMetadata": {"eventId": event}, "eventVersion": "0"}) + "\n")


@pytest.fixture(scope="module")
def deployed(demo, tmp_path_factory) -> dict:
    """A model registered (and approved) by the local evaluation pipeline, and traffic of two days scored by
    it: the test rows as they were evaluated (2024-01-07), then with a quarter of the labels flipped
    (2024-01-08: the model got worse on the world)."""
    from pipeline.local.__main__ import main as local_main

    work = tmp_path_factory.mktemp("quality-work")
    assert local_main(["evaluation", "--model-data", str(demo["better"]), "--test-data", str(demo["test"]),
                       "--work-dir", str(work), "--param", "ModelApprovalStatus=Approved", "--output", "json"]) == 0
    # The batch transform's output is what the endpoint answers for these rows: label, probability.
    [scored] = list((work / "s3").rglob("transform/*.out"))
    rows = [(int(float(label)), float(score)) for label, score in (line.split(",") for line in
                                                                   scored.read_text().splitlines())]
    traffic = tmp_path_factory.mktemp("traffic")
    write_traffic(traffic, rows, "2024-01-07")
    write_traffic(traffic, rows, "2024-01-08", flip=0.25)
    return {"work": work, "capture": traffic / "capture", "labels": traffic / "labels", "rows": len(rows)}


def run_quality(work: Path, deployed: dict, *params: str, output: str = "json") -> tuple[int, dict | str]:
    import contextlib
    import io

    from pipeline.local.__main__ import main as local_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = local_main(["quality", "--work-dir", str(work), "--capture", str(deployed["capture"]),
                           "--ground-truth", str(deployed["labels"]), "--output", output,
                           *[item for param in params for item in ("--param", param)]])
    return code, json.loads(out.getvalue()) if output == "json" else out.getvalue()


def day(date: str, following: str) -> tuple[str, str]:
    return f"WindowStart={date}T00:00:00Z", f"WindowEnd={following}T00:00:00Z"


def history_lines(work: Path) -> list[dict]:
    from pipeline.local.staging import local_config
    from pipeline.local.store import LocalObjectStore

    text = LocalObjectStore(work).get_bytes(quality.history_uri(local_config())).decode()
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def work(deployed, tmp_path) -> Path:
    import shutil

    copy = tmp_path / "work"
    shutil.copytree(deployed["work"], copy)  # each test starts from the registered model, without history
    return copy


def test_same_quality_traffic_passes_and_starts_the_history(work, deployed):
    code, document = run_quality(work, deployed, *day("2024-01-07", "2024-01-08"))
    assert code == 0, document.get("FailureReason")
    assert [(s["StepName"], s["StepStatus"]) for s in document["Steps"]] == [
        ("ResolveMonitoredVersion", "Succeeded"), ("CheckModelQuality", "Succeeded"),
        ("QualityWithinConstraints", "Succeeded")]
    status = document["QualityStatus"]
    assert (status["verdict"], status["violated_metrics"], status["matched"]) == ("ok", "none", deployed["rows"])
    assert (status["window_start"], status["window_end"]) == ("2024-01-07T00:00:00Z", "2024-01-08T00:00:00Z")
    assert Path(document["QualityReport"]).is_file()
    # ProbabilityThreshold empty: F1 & co. at the threshold the constraints were measured at, the registered one.
    summary = json.loads((Path(document["QualityReport"]).parent / "quality_summary.json").read_text())
    assert summary["settings"]["threshold_source"].startswith("the registered evaluation")
    # The function chose the window's hour folders (and the next day's first two), the registered version's files.
    [resolve] = [s for s in document["Steps"] if s["StepName"] == "ResolveMonitoredVersion"]
    outputs = {p["Name"]: p["Value"] for p in resolve["Metadata"]["Lambda"]["OutputParameters"]}
    assert outputs["ModelPackageArn"].endswith("model-package/binary-classifier/1")
    assert outputs["CaptureObjects"] == str(24 + 2)
    assert [line["window_start"] for line in history_lines(work)] == ["2024-01-07T00:00:00Z"]


def test_degraded_traffic_fails_naming_the_metrics_window_rows_and_report(work, deployed):
    code, document = run_quality(work, deployed, *day("2024-01-08", "2024-01-09"))
    assert code == 1
    reason = document["FailureReason"]
    assert reason.startswith("Model quality: violations; violated metrics: auc, f1, ")
    assert f"; window: [2024-01-08T00:00:00Z, 2024-01-09T00:00:00Z); matched rows: {deployed['rows']}; " in reason
    assert reason.endswith("/quality-check/quality_report.html") and "report: s3://" in reason
    assert [(s["StepName"], s["StepStatus"]) for s in document["Steps"]][-1] == ("ModelQualityDegraded", "Failed")
    violations = json.loads((Path(document["QualityReport"]).parent / "constraint_violations.json").read_text())
    assert {"auc", "f1"} <= {v["metric_name"] for v in violations["violations"]}


def test_the_history_grows_by_one_line_per_window_and_a_rerun_replaces_its_line(work, deployed):
    assert run_quality(work, deployed, *day("2024-01-07", "2024-01-08"))[0] == 0
    assert run_quality(work, deployed, *day("2024-01-08", "2024-01-09"))[0] == 1
    first = history_lines(work)
    assert [(line["window_start"], line["verdict"]) for line in first] == [
        ("2024-01-07T00:00:00Z", "ok"), ("2024-01-08T00:00:00Z", "violations")]
    code, text = run_quality(work, deployed, *day("2024-01-07", "2024-01-08"), output="text")
    assert code == 0 and "quality: ok on window [2024-01-07T00:00:00Z, 2024-01-08T00:00:00Z)" in text
    assert "history: " in text and "monitoring/quality/quality_history.jsonl" in text
    again = history_lines(work)
    assert [line["window_start"] for line in again] == ["2024-01-07T00:00:00Z", "2024-01-08T00:00:00Z"]
    assert again[1] == first[1]


def test_a_scheduled_run_checks_the_window_its_start_time_gives_in_the_function_and_the_job(work, deployed, tmp_path):
    from datetime import datetime, timedelta, timezone

    from pipeline.local.store import LocalObjectStore
    from processing_scripts import windows

    # Yesterday's and today's traffic: the run checks yesterday (LabelDelayHours=0), or today had midnight passed.
    today = datetime.now(timezone.utc).date()
    [scored] = list((deployed["work"] / "s3").rglob("transform/*.out"))
    rows = [(int(float(a)), float(b)) for a, b in (line.split(",") for line in scored.read_text().splitlines())]
    for date in (today - timedelta(days=1), today):
        write_traffic(tmp_path / "traffic", rows, date.isoformat())
    traffic = {"capture": tmp_path / "traffic" / "capture", "labels": tmp_path / "traffic" / "labels"}
    code, document = run_quality(work, traffic, "LabelDelayHours=0")
    assert code == 0, document.get("FailureReason")
    # CreationTime is the execution's StartDateTime, which both the function and the job were given.
    window = windows.scheduled_window(windows.parse_time(document["CreationTime"]), hours=24)
    expected = (windows.iso(window.start), windows.iso(window.end))
    status = document["QualityStatus"]
    assert (status["window_start"], status["window_end"]) == expected
    assert status["matched"] == deployed["rows"]
    [resolve] = [s for s in document["Steps"] if s["StepName"] == "ResolveMonitoredVersion"]
    context_uri = {p["Name"]: p["Value"] for p in resolve["Metadata"]["Lambda"]["OutputParameters"]}["ContextUri"]
    context = json.loads(LocalObjectStore(work).get_bytes(context_uri + "context.json"))
    assert (context["window"]["start"], context["window"]["end"]) == expected


def test_without_an_approved_version_the_function_step_fails_with_its_reason(deployed, tmp_path):
    code, document = run_quality(tmp_path / "empty-work", deployed, *day("2024-01-07", "2024-01-08"))
    assert code == 1
    assert [(s["StepName"], s["StepStatus"]) for s in document["Steps"]] == [("ResolveMonitoredVersion", "Failed")]
    assert "model package group binary-classifier has no Approved version" in document["FailureReason"]


@pytest.mark.parametrize("params, message", [
    (["GroundTruthUrl=s3://x/y/"], "a local run takes it as --ground-truth"),
    (["WindowHours=5"], "bad value '5' for WindowHours"),
    (["AucThreshold=0.9"], "unknown parameter 'AucThreshold'"),
])
def test_local_bad_usage_exits_2_with_one_line_before_any_step(deployed, tmp_path, capsys, params, message):
    from pipeline.local.__main__ import main as local_main

    argv = ["quality", "--work-dir", str(tmp_path / "w"), "--capture", str(deployed["capture"]),
            "--ground-truth", str(deployed["labels"]), *[x for p in params for x in ("--param", p)]]
    assert local_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "w" / "executions").exists()

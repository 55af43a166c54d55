"""The pipeline definition JSON: structure, references, and the schema (with the SDK's known extensions)."""
from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import threading

import pytest

from pipeline import definition as definition_cli
from pipeline import sdk
from pipeline.pipelines import EVALUATION
from pipeline.pipelines import evaluation as pdef
from pipeline.code_bundle import processing_code_bundle
from pipeline.aws.validation import (
    EXTENSIONS,
    DefinitionError,
    published_schema,
    schema_errors,
    validate_definition,
)
from pipeline.lambdas import freeze_model, resolve_champion
from processing_scripts.gate import GATE_PARAMETERS, RECORD_KEYS
from steps import champion as champion_step
from tests.conftest import TEST_BUCKET, TEST_ROLE_ARN

EVALUATION_PROPERTY_FILE = {"Get": f"Steps.{pdef.EVALUATION_STEP}.PropertyFiles.EvaluationReport"}


def steps_by_name(definition: dict) -> dict[str, dict]:
    """Every step, including those nested in condition branches."""
    found = {}

    def visit(steps):
        for step in steps:
            found[step["Name"]] = step
            if step["Type"] == "Condition":
                visit(step["Arguments"]["IfSteps"])
                visit(step["Arguments"]["ElseSteps"])

    visit(definition["Steps"])
    return found


def test_step_graph(definition):
    top = [(s["Name"], s["Type"]) for s in definition["Steps"]]
    assert top == [
        (pdef.FREEZE_STEP, "Lambda"),
        (pdef.CHAMPION_STEP, "Lambda"),
        (pdef.CREATE_MODEL_STEP, "Model"),
        (pdef.TRANSFORM_STEP, "Transform"),
        (pdef.BASELINE_STEP, "Processing"),
        (pdef.EVALUATION_STEP, "Processing"),
        (pdef.CONDITION_STEP, "Condition"),
    ]
    gate = steps_by_name(definition)[pdef.CONDITION_STEP]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in gate["IfSteps"]] == [(pdef.REGISTER_STEP, "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in gate["ElseSteps"]] == [(pdef.FAIL_STEP, "Fail")]


def test_parameters_and_defaults(definition):
    params = {p["Name"]: p for p in definition["Parameters"]}
    expected = {
        "ModelDataUrl": ("String", f"s3://{TEST_BUCKET}/binary-classifier-evaluation/input/model.tar.gz"),
        "TestDataUrl": ("String", f"s3://{TEST_BUCKET}/binary-classifier-evaluation/input/test.csv"),
        "ModelPackageGroupName": ("String", "binary-classifier"),
        "AucThreshold": ("Float", 0.75),
        "F1Threshold": ("Float", 0.6),
        "GateOnLowerBound": ("Boolean", True),
        "MaxAucRegression": ("Float", 0.01),
        "MaxF1Regression": ("Float", 0.01),
        "FirstModelPolicy": ("String", "absolute-thresholds-only"),
        "MinTestRows": ("Integer", 200),
        "MinPositives": ("Integer", 30),
        "DecisionThreshold": ("Float", 0.5),
        "ValidationDataUrl": ("String", ""),
        "ThresholdObjective": ("String", "max-f1"),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
        "TransformInstanceType": ("String", "ml.m5.large"),
        "TransformInstanceCount": ("Integer", 1),
        "ProcessingInstanceType": ("String", "ml.m5.large"),
    }
    assert {name: (p["Type"], p["DefaultValue"]) for name, p in params.items()} == expected
    for param in params.values():
        assert param["Description"], f"{param['Name']} has no description for Studio"
    for spec in GATE_PARAMETERS:  # the gate's parameters come from the one gate definition
        assert (params[spec.name]["Type"], params[spec.name]["DefaultValue"]) == (spec.type, spec.default)


def test_model_step_uses_sklearn_19_image_and_model_parameter(definition):
    container = steps_by_name(definition)[pdef.CREATE_MODEL_STEP]["Arguments"]["PrimaryContainer"]
    assert container["Image"].endswith("/sagemaker-scikit-learn:1.9-0-cpu-py3")
    # The frozen, content-addressed copy; never the mutable key the parameter names.
    assert container["ModelDataUrl"] == {"Get": f"Steps.{pdef.FREEZE_STEP}.OutputParameters['ModelDataUrl']"}
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert steps_by_name(definition)[pdef.CREATE_MODEL_STEP]["Arguments"]["ExecutionRoleArn"] == TEST_ROLE_ARN


def test_transform_keeps_predictions_aligned_with_labels(definition):
    args = steps_by_name(definition)[pdef.TRANSFORM_STEP]["Arguments"]
    assert args["ModelName"] == {"Get": f"Steps.{pdef.CREATE_MODEL_STEP}.ModelName"}
    assert args["TransformInput"]["SplitType"] == "Line"
    assert args["TransformInput"]["ContentType"] == "text/csv"
    assert args["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == {"Get": "Parameters.TestDataUrl"}
    assert args["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    assert args["TransformOutput"]["AssembleWith"] == "Line"
    assert args["BatchStrategy"] == "MultiRecord"
    assert args["TransformResources"] == {
        "InstanceType": {"Get": "Parameters.TransformInstanceType"},
        "InstanceCount": {"Get": "Parameters.TransformInstanceCount"},
    }
    output = args["TransformOutput"]["S3OutputPath"]["Std:Join"]
    assert {"Get": "Execution.PipelineExecutionId"} in output["Values"]


def test_evaluation_step_reads_transform_output_and_declares_property_file(definition, test_config):
    step = steps_by_name(definition)[pdef.EVALUATION_STEP]
    args = step["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert inputs["predictions"]["S3Uri"] == {"Get": f"Steps.{pdef.TRANSFORM_STEP}.TransformOutput.S3OutputPath"}
    assert inputs["predictions"]["LocalPath"] == "/opt/ml/processing/input/predictions"
    # The code is addressed by its content hash, so changing a script changes the definition.
    assert inputs["code"]["S3Uri"] == test_config.code_uri(processing_code_bundle().digest)
    assert inputs["code"]["S3DataType"] == "S3Prefix"
    assert args["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "processing_scripts.evaluate"]
    assert args["Environment"]["PYTHONPATH"] == "/opt/ml/processing/input/code"
    assert args["AppSpecification"]["ImageUri"].endswith("/sagemaker-scikit-learn:1.9-0-cpu-py3")
    container_args = args["AppSpecification"]["ContainerArguments"]
    flags = dict(zip(container_args[::2], container_args[1::2]))
    assert flags["--predictions"] == "/opt/ml/processing/input/predictions"
    assert flags["--output-dir"] == "/opt/ml/processing/evaluation"
    assert flags["--threshold"] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.DecisionThreshold"}]}}
    assert flags["--threshold-objective"] == {"Get": "Parameters.ThresholdObjective"}
    for spec in GATE_PARAMETERS:
        assert flags[spec.cli_flag] == {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{spec.name}"}]}}
    # The champion is scored on the same test rows; validation data is scored with the challenger's model.
    assert inputs["test-data"]["S3Uri"] == {"Get": "Parameters.TestDataUrl"}
    frozen = {"Get": f"Steps.{pdef.FREEZE_STEP}.OutputParameters['ModelDataUrl']"}
    assert inputs["model"]["S3Uri"] == frozen
    # What was evaluated is recorded, and the archive is checked against the SHA-256 it was frozen with.
    assert flags["--model-uri"] == frozen
    assert flags["--model-sha256"] == {"Get": f"Steps.{pdef.FREEZE_STEP}.OutputParameters['ModelSha256']"}
    assert flags["--model-package-group"] == {"Get": "Parameters.ModelPackageGroupName"}
    assert flags["--execution-id"] == {"Get": "Execution.PipelineExecutionId"}
    assert inputs["context"]["S3Uri"] == {"Get": f"Steps.{pdef.CHAMPION_STEP}.OutputParameters['ContextUri']"}
    assert (flags["--test-data"], flags["--model"], flags["--context"]) == tuple(
        inputs[name]["LocalPath"] for name in ("test-data", "model", "context")
    )
    outputs = args["ProcessingOutputConfig"]["Outputs"]
    assert [o["OutputName"] for o in outputs] == ["evaluation"]
    assert outputs[0]["S3Output"]["LocalPath"] == "/opt/ml/processing/evaluation"
    assert step["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]


def test_gate_branches_on_the_one_decision_in_evaluation_json(definition):
    conditions = steps_by_name(definition)[pdef.CONDITION_STEP]["Arguments"]["Conditions"]
    assert conditions == [
        {
            "Type": "Equals",
            "LeftValue": {"Std:JsonGet": {"PropertyFile": EVALUATION_PROPERTY_FILE, "Path": "gate.passed"}},
            "RightValue": True,
        }
    ]


def test_champion_step_invokes_the_deployed_function(definition, test_config):
    step = steps_by_name(definition)[pdef.CHAMPION_STEP]
    assert step["FunctionArn"] == test_config.champion_function_arn
    assert step["FunctionArn"] == f"arn:aws:lambda:us-east-1:{TEST_ROLE_ARN.split(':')[4]}:function:{test_config.champion_function_name}"
    assert step["Arguments"]["ModelPackageGroupName"] == {"Get": "Parameters.ModelPackageGroupName"}
    assert step["Arguments"]["ValidationDataUrl"] == {"Get": "Parameters.ValidationDataUrl"}
    assert {"Get": "Execution.PipelineExecutionId"} in step["Arguments"]["OutputUri"]["Std:Join"]["Values"]
    declared = [o["OutputName"] for o in step["OutputParameters"]]
    # The function (deployed on its own) and the step factory agree on the outputs.
    assert declared == list(resolve_champion.OUTPUTS) == [
        champion_step.CONTEXT_OUTPUT, champion_step.CHAMPION_ARN_OUTPUT, champion_step.CHAMPION_VERSION_OUTPUT
    ]


def test_freeze_step_copies_the_model_to_its_content_addressed_key(definition, test_config):
    step = steps_by_name(definition)[pdef.FREEZE_STEP]
    assert step["FunctionArn"] == test_config.freeze_function_arn
    assert step["Arguments"] == {"ModelDataUrl": {"Get": "Parameters.ModelDataUrl"},
                                 "OutputPrefix": test_config.frozen_models_prefix, "KmsKeyId": ""}
    assert [o["OutputName"] for o in step["OutputParameters"]] == list(freeze_model.OUTPUTS)
    # No other step reads the parameter: every use of the model goes through the frozen copy.
    others = [s for name, s in steps_by_name(definition).items() if name != pdef.FREEZE_STEP]
    assert "Parameters.ModelDataUrl" not in json.dumps(others)


def test_register_step_attaches_evaluation_as_model_metrics(definition):
    args = steps_by_name(definition)[pdef.REGISTER_STEP]["Arguments"]
    assert args["ModelPackageGroupName"] == {"Get": "Parameters.ModelPackageGroupName"}
    assert args["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    statistics = args["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": f"Steps.{pdef.EVALUATION_STEP}.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                "evaluation.json",
            ],
        }
    }
    # The test features' Model Monitor baseline: ModelDataQuality metrics and, with evaluation.json, the
    # package's DriftCheckBaselines.
    def baseline_file(name):
        return {"ContentType": "application/json", "S3Uri": {"Std:Join": {"On": "/", "Values": [
            {"Get": f"Steps.{pdef.BASELINE_STEP}.ProcessingOutputConfig.Outputs['data_quality_baseline'].S3Output.S3Uri"},
            name]}}}

    data_quality = {"Statistics": baseline_file("statistics.json"), "Constraints": baseline_file("constraints.json")}
    assert args["ModelMetrics"]["ModelDataQuality"] == data_quality
    # The evaluation's model-quality constraints.json, beside evaluation.json in the same output (found by name).
    model_constraints = args["ModelMetrics"]["ModelQuality"]["Constraints"]
    assert model_constraints == {"ContentType": "application/json", "S3Uri": {"Std:Join": {"On": "/", "Values": [
        {"Get": f"Steps.{pdef.EVALUATION_STEP}.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
        "constraints.json"]}}}
    assert args["DriftCheckBaselines"] == {"ModelQuality": {"Statistics": statistics, "Constraints": model_constraints},
                                           "ModelDataQuality": data_quality}
    container = args["InferenceSpecification"]["Containers"][0]
    # The frozen, content-addressed copy; never the mutable key the parameter names.
    assert container["ModelDataUrl"] == {"Get": f"Steps.{pdef.FREEZE_STEP}.OutputParameters['ModelDataUrl']"}
    assert container["Image"].endswith("/sagemaker-scikit-learn:1.9-0-cpu-py3")
    assert args["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]
    # The decision record: each key read from gate.record in evaluation.json, plus the execution id.
    metadata = dict(args["CustomerMetadataProperties"])  # a copy: the fixture is shared
    assert metadata.pop("pipeline_execution_id") == {"Get": "Execution.PipelineExecutionId"}
    assert metadata == {
        key: {"Std:JsonGet": {"PropertyFile": EVALUATION_PROPERTY_FILE, "Path": f"gate.record.{key}"}}
        for key in RECORD_KEYS
    }


def test_fail_message_quotes_the_failed_checks(definition):
    message = steps_by_name(definition)[pdef.FAIL_STEP]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert message == [
        "Model not registered: quality gate failed: ",
        {"Std:JsonGet": {"PropertyFile": EVALUATION_PROPERTY_FILE, "Path": "gate.summary"}},
    ]


def test_definition_is_deterministic(definition, test_config):
    assert EVALUATION.definition(test_config) == definition


def test_kms_key_reaches_jobs(test_config):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    built = EVALUATION.definition(test_config.with_overrides(kms_key_id=key))
    steps = steps_by_name(built)
    assert steps[pdef.TRANSFORM_STEP]["Arguments"]["TransformOutput"]["KmsKeyId"] == key
    assert steps[pdef.EVALUATION_STEP]["Arguments"]["ProcessingOutputConfig"]["KmsKeyId"] == key
    assert steps[pdef.EVALUATION_STEP]["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key


# --- schema ---------------------------------------------------------------------------------------------


def test_definition_validates_against_schema_with_known_extensions(definition):
    assert schema_errors(definition) == []
    validate_definition(definition)


def test_published_schema_alone_rejects_what_the_sdk_emits(definition):
    # If this starts passing, the schema caught up and EXTENSIONS can shrink.
    assert schema_errors(definition, published_schema())
    assert [e.name for e in EXTENSIONS][:3] == ["Std:JsonGet", "Std:Join", "PropertyFiles"]


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda d: d["Steps"][0].update(Typo=1), "Steps/0"),
        (lambda d: d["Steps"][0].update(FunctionArn=["not", "a", "string"]), "Steps/0"),
        (lambda d: d["Steps"][3].update(Type="Transformm"), "Steps/3"),
        (lambda d: d["Parameters"][0].update(Type="Strung"), "Parameters/0"),
        (lambda d: d["Steps"][3]["Arguments"]["TransformResources"].update(InstanceCount="two"), "Steps/3"),
        (lambda d: d["Steps"][5]["PropertyFiles"][0].pop("FilePath"), "Steps/5"),
        (lambda d: d["Steps"][4]["Arguments"]["ProcessingInputs"][0].update(Extra=1), "Steps/4"),
        (
            lambda d: d["Steps"][6]["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"].update(Extra="x"),
            "Steps/6",
        ),
        (lambda d: d["Steps"][6]["Arguments"]["IfSteps"][0]["Arguments"].update(Unknown=1), "Steps/6"),
        (
            lambda d: d["Steps"][6]["Arguments"]["IfSteps"][0]["Arguments"]["CustomerMetadataProperties"].update(
                {"bad key!": "x"}
            ),
            "Steps/6",
        ),
        (
            lambda d: d["Steps"][6]["Arguments"]["IfSteps"][0]["Arguments"]["DriftCheckBaselines"].update(Oops={}),
            "Steps/6",
        ),
        (lambda d: d.update(Surprise={}), "(root)"),
    ],
)
def test_extensions_admit_nothing_else(definition, mutate, where):
    broken = copy.deepcopy(definition)
    mutate(broken)
    errors = schema_errors(broken)
    assert errors and any(e.startswith(where) for e in errors), errors
    with pytest.raises(DefinitionError):
        validate_definition(broken)


# --- offline ---------------------------------------------------------------------------------------------


def test_building_the_definition_opens_no_connection(test_config, monkeypatch):
    attempts = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    before = set(threading.enumerate())
    built = EVALUATION.definition(test_config)
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)
    assert built["Steps"]
    assert attempts == []


def test_definition_cli_without_credentials(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "ARTIFACT_BUCKET": "cli-bucket",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    out = tmp_path / "definition.json"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.definition", "evaluation", "--out", str(out), "--pipeline-name", "cli-test"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    built = json.loads(out.read_text())
    assert schema_errors(built) == []
    model = steps_by_name(built)[pdef.CREATE_MODEL_STEP]["Arguments"]["PrimaryContainer"]
    assert model["Image"].startswith("141502667606.dkr.ecr.eu-west-1.amazonaws.com/")
    assert "s3://cli-bucket/" in json.dumps(built)


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--bucket", "Bad_Bucket", "--region", "us-east-1"], {}, "bad bucket name"),
        (["--region", "us-east-1"], {}, "no artifact bucket"),
        (["--bucket", "b-1"], {}, "no AWS region"),
        (["--bucket", "b-1", "--region", "mars"], {}, "bad region"),
        (["--bucket", "b-1", "--region", "us-east-1", "--role-arn", "admin"], {}, "bad role ARN"),
        (["--bucket", "b-1", "--region", "us-east-1", "--tags", "novalue"], {}, "bad tag"),
    ],
)
def test_definition_cli_bad_input(args, env, message, capsys, monkeypatch):
    for var in ("ARTIFACT_BUCKET", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    assert definition_cli.main(["evaluation", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_sdk_config_is_still_validated_while_building():
    """The build checks the SDK's config schema once instead of per lookup; configs are still validated."""
    import jsonschema
    from sagemaker.core.config.config_manager import SageMakerConfig

    original = SageMakerConfig.__dict__["validate_sagemaker_config"]
    with sdk.offline_building():
        SageMakerConfig.validate_sagemaker_config(sdk._TELEMETRY_OPT_OUT)
        with pytest.raises(jsonschema.ValidationError):
            SageMakerConfig.validate_sagemaker_config({"SchemaVersion": "1.0", "SageMaker": {"NoSuchKey": 1}})
    assert SageMakerConfig.__dict__["validate_sagemaker_config"] is original


@pytest.mark.parametrize("which", ["evaluation", "monitoring"])
def test_studio_shows_what_every_step_and_parameter_is(which, definition, test_config):
    from pipeline.pipelines import MONITORING
    from pipeline.aws.validation import validate_definition

    document = definition if which == "evaluation" else MONITORING.definition(test_config)
    validate_definition(document)  # DisplayName follows the published StepName pattern
    steps = list(steps_by_name(document).values())
    for step in steps:
        assert step.get("DisplayName"), f"{step['Name']} has no DisplayName"
        assert 20 <= len(step.get("Description", "")) <= 4096, f"{step['Name']} has no useful Description"
    assert len({s["DisplayName"] for s in steps}) == len(steps)
    for parameter in document["Parameters"]:
        assert parameter.get("Description"), f"parameter {parameter['Name']} has no Description"


@pytest.mark.parametrize("out, message", [
    (lambda tmp: tmp, "is a folder; pass the path of the file to write"),
    (lambda tmp: tmp / "a-file" / "definition.json", "cannot write it"),
])
def test_an_unwritable_out_is_one_line(tmp_path, capsys, out, message):
    from tests.helpers import assert_one_line_error, run_main

    (tmp_path / "a-file").write_text("x")
    target = out(tmp_path)
    result = run_main(definition_cli.main, ["evaluation", "--bucket", "my-bucket", "--region", "eu-west-1", "--out", str(target)],
                      capsys)
    assert_one_line_error(result, f"--out {target}", message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no temporary left


@pytest.mark.parametrize("bucket", ["my..bucket", "192.168.1.1", "xn--bucket", "bucket-s3alias", "ab", "Bucket"])
def test_a_bucket_name_s3_refuses_is_refused(bucket, capsys):
    from tests.helpers import assert_one_line_error, run_main

    result = run_main(definition_cli.main, ["evaluation", "--bucket", bucket, "--region", "eu-west-1"], capsys)
    assert_one_line_error(result, f"bad bucket name {bucket!r}")

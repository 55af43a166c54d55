"""End to end: the real definition, run by the local runner on real models and data."""
from __future__ import annotations

import contextlib
import copy
import io
import hashlib
import json
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from pipeline.pipelines import EVALUATION
from pipeline.pipelines import evaluation as pdef
from pipeline.local.__main__ import main
from pipeline.local.staging import local_config
from pipeline.local.functions import local_functions
from pipeline.local.runner import LocalRunner
from pipeline.local.store import LocalObjectStore
from pipeline.registry import LocalRegistry
from pipeline.registry import main as registry_main
from processing_scripts import model_quality_constraints as mqc


@pytest.fixture(scope="session")
def good_run(demo, tmp_path_factory):
    """One registered run of the good model, shared by the tests that inspect it."""
    work = tmp_path_factory.mktemp("work-good")
    code = main(["evaluation", "--model-data", str(demo["better"]), "--test-data", str(demo["test"]),
                 "--work-dir", str(work), "--output", "json"])
    return code, work


def run_cli(demo, work, *extra, model="better", output="json"):
    return main(["evaluation", "--model-data", str(demo[model]), "--test-data", str(demo["test"]),
                 "--work-dir", str(work), "--output", output, *extra])


def step_record(record: dict, name: str) -> dict:
    [step] = [s for s in record["Steps"] if s["StepName"] == name]
    return step


def only_execution(work: Path) -> dict:
    [record] = list((work / "executions").glob("*/execution.json"))
    return json.loads(record.read_text())


def test_good_model_is_registered_with_its_metrics(good_run, demo):
    code, work = good_run
    assert code == 0
    record = only_execution(work)
    assert record["PipelineExecutionStatus"] == "Succeeded"
    assert [(s["StepName"], s["StepStatus"]) for s in record["Steps"]] == [
        (pdef.FREEZE_STEP, "Succeeded"),
        (pdef.CHAMPION_STEP, "Succeeded"),
        (pdef.CREATE_MODEL_STEP, "Succeeded"),
        (pdef.TRANSFORM_STEP, "Succeeded"),
        (pdef.BASELINE_STEP, "Succeeded"),
        (pdef.EVALUATION_STEP, "Succeeded"),
        (pdef.CONDITION_STEP, "Succeeded"),
        (pdef.REGISTER_STEP, "Succeeded"),
    ]
    assert step_record(record, pdef.CONDITION_STEP)["Metadata"] == {"Condition": {"Outcome": "True"}}
    [package] = LocalRegistry(work / "registry.db").list_packages("binary-classifier")
    assert package["ModelPackageArn"] == record["ModelPackageArn"]
    assert package["ModelPackageVersion"] == 1
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    # Registered: the frozen copy of exactly the bytes evaluated, named and recorded by their SHA-256.
    digest = hashlib.sha256(demo["better"].read_bytes()).hexdigest()
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == f"s3://local-sagemaker/binary-classifier-evaluation/models/sha256/{digest}/model.tar.gz"
    assert LocalObjectStore(work).get_bytes(container["ModelDataUrl"]) == demo["better"].read_bytes()
    assert package["CustomerMetadataProperties"]["model_sha256"] == digest

    # The attached metrics are the evaluation of this model on this test set, equal to scikit-learn's.
    described = LocalRegistry(work / "registry.db").describe(package["ModelPackageArn"])
    uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    evaluation = json.loads(LocalObjectStore(work).get_bytes(uri))
    data = np.loadtxt(demo["test"], delimiter=",")
    y, X = data[:, 0].astype(int), data[:, 1:]
    scores = joblib.load(demo["better"].parent / "better.joblib").predict_proba(X)[:, 1]
    metrics = evaluation["binary_classification_metrics"]
    assert metrics["auc"]["value"] == pytest.approx(roc_auc_score(y, scores), abs=1e-9)
    assert metrics["f1"]["value"] == pytest.approx(f1_score(y, scores >= 0.5), abs=1e-9)
    assert metrics["auc"]["value"] > 0.95

    # The test features' baseline is attached as ModelDataQuality and as the drift-check baselines.
    statistics = json.loads(LocalObjectStore(work).get_bytes(
        described["ModelMetrics"]["ModelDataQuality"]["Statistics"]["S3Uri"]))
    assert statistics["dataset"]["item_count"] == len(y)
    assert len(statistics["features"]) == X.shape[1] + 1  # the label first, as in Model Monitor's baselines
    baselines = described["DriftCheckBaselines"]
    assert baselines["ModelDataQuality"] == described["ModelMetrics"]["ModelDataQuality"]
    assert baselines["ModelQuality"]["Statistics"]["S3Uri"] == uri


def test_registered_model_quality_constraints_are_the_file_the_evaluation_wrote(good_run):
    _, work = good_run
    store = LocalObjectStore(work)
    [package] = LocalRegistry(work / "registry.db").list_packages("binary-classifier")
    quality = package["DriftCheckBaselines"]["ModelQuality"]
    assert package["ModelMetrics"]["ModelQuality"] == quality
    constraints = quality["Constraints"]
    assert constraints["ContentType"] == "application/json"
    # Beside the evaluation.json registered as the statistics: the evaluation step's output.
    statistics_uri = quality["Statistics"]["S3Uri"]
    assert constraints["S3Uri"] == statistics_uri.rsplit("/", 1)[0] + "/constraints.json"
    [written] = [p for p in (work / "s3").rglob("evaluation/constraints.json")]
    assert store.get_bytes(constraints["S3Uri"]) == written.read_bytes()
    evaluation = json.loads(store.get_bytes(statistics_uri))
    assert evaluation["dataset"]["item_count"] == evaluation["dataset"]["rows"] > 0
    document = json.loads(written.read_bytes())
    assert document == mqc.constraints_document(evaluation["model_quality_constraints"])
    for name, constraint in document["binary_classification_constraints"].items():
        entry = evaluation["model_quality_constraints"]["metrics"][name]
        assert constraint == {"threshold": entry["threshold"], "comparison_operator": "LessThanThreshold"}
        assert entry["basis"] in ("interval", "gate") and constraint["threshold"] < entry["value"]
    # The review CLI shows it with the other baselines.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert registry_main(["describe", "--work-dir", str(work), "--group", "binary-classifier"]) == 0
    assert constraints["S3Uri"] in out.getvalue()


def test_the_registered_package_is_a_valid_create_model_package_request_under_moto(good_run):
    """botocore validates the request against CreateModelPackage's shape before moto sees it."""
    import boto3
    from moto import mock_aws

    from pipeline.registry import SageMakerRegistry

    _, work = good_run
    [package] = LocalRegistry(work / "registry.db").list_packages("binary-classifier")
    [container] = package["InferenceSpecification"]["Containers"]
    with mock_aws():
        registry = SageMakerRegistry(boto3.client("sagemaker", region_name="us-east-1"))
        added = registry.register(
            "binary-classifier", model_data_url=container["ModelDataUrl"], image_uri=container["Image"],
            environment=container.get("Environment"), model_metrics=package["ModelMetrics"],
            drift_check_baselines=package["DriftCheckBaselines"],
            customer_metadata=package["CustomerMetadataProperties"],
            content_types=package["InferenceSpecification"]["SupportedContentTypes"],
            response_types=package["InferenceSpecification"]["SupportedResponseMIMETypes"],
        )
    assert added["DriftCheckBaselines"]["ModelQuality"]["Constraints"] == \
        package["DriftCheckBaselines"]["ModelQuality"]["Constraints"]


def test_transform_output_keeps_labels_aligned(good_run, demo):
    _, work = good_run
    [out] = list((work / "s3").rglob("transform/*.out"))
    rows = [line.split(",") for line in out.read_text().splitlines()]
    labels = [line.split(",")[0] for line in demo["test"].read_text().splitlines()]
    assert [r[0] for r in rows] == labels
    assert all(len(r) == 2 and 0.0 <= float(r[1]) <= 1.0 for r in rows)


def test_weak_model_is_refused_and_nothing_registered(demo, tmp_path, capsys):
    assert run_cli(demo, tmp_path, model="weak", output="text") == 1
    out = capsys.readouterr().out
    record = only_execution(tmp_path)
    assert record["PipelineExecutionStatus"] == "Failed"
    assert "ModelPackageArn" not in record
    fail = record["Steps"][-1]
    assert (fail["StepName"], fail["StepStatus"]) == (pdef.FAIL_STEP, "Failed")
    assert fail["FailureReason"].startswith("Model not registered: quality gate failed: auc_threshold: auc lower 95% bound ")
    assert fail["FailureReason"].endswith("< 0.7500")
    assert step_record(record, pdef.CONDITION_STEP)["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert LocalRegistry(tmp_path / "registry.db").list_packages() == []
    assert "gate: FAILED (1 of 6 checks)" in out
    assert "  FAIL auc_threshold    auc lower 95% bound " in out
    assert "not registered: the quality gate refused it" in out
    assert out.count("Model not registered: quality gate failed:") == 1  # the reason, said once
    assert "execution Failed at step QualityGateFailed" in out


def test_a_relative_work_dir_runs_every_step(demo, tmp_path, monkeypatch, capsys):
    """As `make run` does it: --work-dir relative to the current folder (the jobs run in their own)."""
    monkeypatch.chdir(tmp_path)
    assert main(["evaluation", "--model-data", str(demo["better"]), "--test-data", str(demo["test"]),
                 "--work-dir", "work"]) == 0, capsys.readouterr().out
    assert "registered: " in capsys.readouterr().out


def test_json_output_carries_the_verdict_the_failed_checks_and_the_report(demo, tmp_path, capsys):
    assert run_cli(demo, tmp_path, model="weak", output="json") == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["Gate"]["Passed"] is False
    assert [c["Name"] for c in document["Gate"]["FailedChecks"]] == ["auc_threshold"]
    assert document["Gate"]["FailedChecks"][0]["Reason"].startswith("auc lower 95% bound ")
    assert document["Gate"]["Summary"].startswith("auc_threshold: ")
    assert Path(document["Report"]).name == "report.html" and Path(document["Report"]).is_file()
    assert "QualityGateFailed" in captured.err  # the step lines go to stderr with --output json


def test_threshold_parameter_moves_the_gate(demo, tmp_path):
    assert run_cli(demo, tmp_path, "--param", "AucThreshold=0.9999") == 1
    assert "auc_threshold: auc lower 95% bound " in only_execution(tmp_path)["FailureReason"]
    assert "< 0.9999" in only_execution(tmp_path)["FailureReason"]
    assert LocalRegistry(tmp_path / "registry.db").list_packages() == []


def test_approval_status_and_group_parameters_reach_the_registry(demo, tmp_path):
    assert run_cli(demo, tmp_path, "--param", "ModelApprovalStatus=Approved",
                   "--param", "ModelPackageGroupName=fraud") == 0
    [package] = LocalRegistry(tmp_path / "registry.db").list_packages("fraud")
    assert package["ModelApprovalStatus"] == "Approved"


def test_json_output_is_shaped_like_describe_pipeline_execution(demo, tmp_path, capsys):
    assert run_cli(demo, tmp_path) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["PipelineExecutionStatus"] == "Succeeded"
    assert document["ModelPackageArn"].startswith("arn:aws:sagemaker:us-east-1:000000000000:model-package/")
    assert {s["StepName"] for s in document["Steps"]} >= {pdef.EVALUATION_STEP, pdef.REGISTER_STEP}
    assert {p["Name"] for p in document["PipelineParameters"]} >= {"AucThreshold", "ModelDataUrl"}


# --- the definition is what is interpreted ---------------------------------------------------------------


@pytest.fixture
def staged(demo, tmp_path):
    """A work dir with inputs and code staged, and the overrides that point at them."""
    from pipeline.code_bundle import processing_code_bundle
    from pipeline.local.staging import stage_input

    config = local_config()
    store = LocalObjectStore(tmp_path)
    code = processing_code_bundle()
    for name, data in code.files:
        store.put_bytes(config.code_uri(code.digest) + name, data)
    overrides = {
        "ModelDataUrl": stage_input(store, config, str(demo["better"]), "model-data"),
        "TestDataUrl": stage_input(store, config, str(demo["test"]), "test-data"),
    }
    definition = EVALUATION.definition(config, code=code)
    registry = LocalRegistry(tmp_path / "registry.db")
    runner = LocalRunner(tmp_path, registry=registry, emit=lambda line: None,
                         functions=local_functions(config, registry=registry, store=store))
    return definition, runner, overrides


def top_step(definition, name):
    [step] = [s for s in definition["Steps"] if s["Name"] == name]
    return step


def gate_conditions(definition):
    return top_step(definition, pdef.CONDITION_STEP)["Arguments"]["Conditions"]


def test_a_wrong_json_get_path_fails_like_sagemaker(staged):
    definition, runner, overrides = staged
    broken = copy.deepcopy(definition)
    gate_conditions(broken)[0]["LeftValue"]["Std:JsonGet"]["Path"] = "gate.pased"
    result = runner.run(broken, pipeline_name="p", overrides=overrides)
    assert result.status == "Failed" and result.model_package_arn is None
    step = result.steps[-1]
    assert (step.name, step.status) == (pdef.CONDITION_STEP, "Failed")
    assert "gate.pased" in step.failure_reason and "not found" in step.failure_reason


def test_a_drift_check_baseline_naming_no_file_fails_registration(staged):
    definition, runner, overrides = staged
    broken = copy.deepcopy(definition)
    [register] = top_step(broken, pdef.CONDITION_STEP)["Arguments"]["IfSteps"]
    register["Arguments"]["DriftCheckBaselines"]["ModelQuality"]["Constraints"]["S3Uri"]["Std:Join"]["Values"][-1] = \
        "constraints-missing.json"
    result = runner.run(broken, pipeline_name="p", overrides=overrides)
    assert result.status == "Failed" and result.model_package_arn is None
    step = result.steps[-1]
    assert (step.name, step.status) == (pdef.REGISTER_STEP, "Failed")
    assert "drift-check baseline not found at " in step.failure_reason
    assert step.failure_reason.endswith("/constraints-missing.json")


def test_a_wrong_property_reference_fails_like_sagemaker(staged):
    definition, runner, overrides = staged
    broken = copy.deepcopy(definition)
    top_step(broken, pdef.TRANSFORM_STEP)["Arguments"]["ModelName"] = {"Get": f"Steps.{pdef.CREATE_MODEL_STEP}.ModelNam"}
    result = runner.run(broken, pipeline_name="p", overrides=overrides)
    assert [(s.name, s.status) for s in result.steps] == [
        (pdef.FREEZE_STEP, "Succeeded"), (pdef.CHAMPION_STEP, "Succeeded"), (pdef.CREATE_MODEL_STEP, "Succeeded"),
        (pdef.TRANSFORM_STEP, "Failed"),
    ]
    assert "ModelNam" in result.steps[-1].failure_reason


def test_a_parameter_without_default_must_be_given(staged):
    from pipeline.parameters import ParameterError

    definition, runner, overrides = staged
    broken = copy.deepcopy(definition)
    for parameter in broken["Parameters"]:
        if parameter["Name"] == "AucThreshold":
            del parameter["DefaultValue"]
    with pytest.raises(ParameterError, match="AucThreshold has no default"):
        runner.run(broken, pipeline_name="p", overrides=overrides)


def test_an_undeclared_parameter_reference_fails(staged):
    definition, runner, overrides = staged
    broken = copy.deepcopy(definition)
    top_step(broken, pdef.CHAMPION_STEP)["Arguments"]["ModelPackageGroupName"] = {"Get": "Parameters.ModelPackageGroupNme"}
    result = runner.run(broken, pipeline_name="p", overrides=overrides)
    assert result.status == "Failed"
    assert "no parameter 'ModelPackageGroupNme'" in result.steps[-1].failure_reason


def test_a_malformed_step_fails_that_step_and_registers_nothing(staged):
    definition, runner, overrides = staged
    broken = copy.deepcopy(definition)
    del top_step(broken, pdef.TRANSFORM_STEP)["Arguments"]["TransformInput"]
    result = runner.run(broken, pipeline_name="p", overrides=overrides)
    assert (result.steps[-1].name, result.steps[-1].status) == (pdef.TRANSFORM_STEP, "Failed")
    assert "malformed Transform step arguments (KeyError: 'TransformInput')" in result.steps[-1].failure_reason
    assert result.model_package_arn is None


def test_an_unsupported_step_type_is_named(staged):
    definition, runner, overrides = staged
    broken = copy.deepcopy(definition)
    broken["Steps"].insert(0, {"Name": "Tune", "Type": "Tuning", "Arguments": {}})
    result = runner.run(broken, pipeline_name="p", overrides=overrides)
    assert result.status == "Failed"
    assert "unsupported step type 'Tuning'" in result.failure_reason
    assert LocalRegistry(runner.work_dir / "registry.db").list_packages() == []


# --- bad input --------------------------------------------------------------------------------------------


def corrupt_archive(path: Path) -> Path:
    path.write_bytes(b"this is not a tar archive")
    return path


def archive_without_code(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("model.joblib")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (lambda d, t: ["--model-data", str(t / "missing.tar.gz"), "--test-data", str(d["test"])], "is not a file"),
        (lambda d, t: ["--model-data", str(d["better"]), "--test-data", str(t / "nope.csv")], "is not a file"),
        (lambda d, t: ["--model-data", str(corrupt_archive(t / "m.tar.gz")), "--test-data", str(d["test"])],
         "not a readable model.tar.gz"),
        (lambda d, t: ["--model-data", str(archive_without_code(t / "m.tar.gz")), "--test-data", str(d["test"])],
         "must contain model.joblib and code/inference.py"),
        (lambda d, t: ["--model-data", "s3://local-sagemaker/none.tar.gz", "--test-data", str(d["test"])],
         "no object at s3://local-sagemaker/none.tar.gz"),
        (lambda d, t: ["--model-data", str(d["better"]), "--test-data", str(d["test"]), "--param", "Nope=1"],
         "unknown parameter 'Nope'"),
        (lambda d, t: ["--model-data", str(d["better"]), "--test-data", str(d["test"]), "--param", "F1Threshold=x"],
         "bad value 'x' for F1Threshold"),
        (lambda d, t: ["--model-data", str(d["better"]), "--test-data", str(d["test"]), "--param", "ModelDataUrl=s3://x/y"],
         "a local run takes it as --model-data"),
        (lambda d, t: ["--model-data", str(d["better"]), "--test-data", str(d["test"]), "--pipeline-name", "bad name"],
         "bad pipeline name"),
        (lambda d, t: ["--model-data", str(d["better"]), "--test-data", str(d["test"]), "--model-package-group", "x" * 64],
         "bad model package group name"),
    ],
)
def test_cli_bad_input(demo, tmp_path, capsys, args, message):
    assert main(["evaluation", *args(demo, tmp_path), "--work-dir", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "work" / "registry.db").exists() or not LocalRegistry(
        tmp_path / "work" / "registry.db").list_packages()


def test_cli_work_dir_must_be_a_folder(demo, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert run_cli(demo, tmp_path / "file") == 2
    assert "is a file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["--model-data", "x"], ["--output", "yaml"]])
def test_cli_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_test_data_with_a_header_fails_the_evaluation_and_registers_nothing(demo, tmp_path):
    bad = tmp_path / "with-header.csv"
    bad.write_text("label," + ",".join(f"f{i}" for i in range(30)) + "\n" + demo["test"].read_text())
    assert main(["evaluation", "--model-data", str(demo["better"]), "--test-data", str(bad), "--work-dir", str(tmp_path / "w"),
                 "--output", "json"]) == 1
    record = only_execution(tmp_path / "w")
    failed = record["Steps"][-1]
    assert failed["StepStatus"] == "Failed"
    assert failed["StepName"] in (pdef.TRANSFORM_STEP, pdef.EVALUATION_STEP)
    assert LocalRegistry(tmp_path / "w" / "registry.db").list_packages() == []

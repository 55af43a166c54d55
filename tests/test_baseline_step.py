"""steps/baseline.py in isolation: a one-step pipeline's definition JSON, and a local run of it."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from pipeline.code_bundle import processing_code_bundle
from pipeline.local.expressions import Scope, evaluate
from pipeline.local.runner import LocalRunner
from pipeline.local.store import LocalObjectStore
from processing_scripts import data_quality as dq
from steps import baseline as baseline_step

STEP = "BaselineDataQuality"
PIPELINE = "baseline-step-only"


@pytest.fixture(scope="module")
def built(test_config):
    """(definition JSON, BaselineStep, code bundle) of a pipeline holding only the baseline step."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.mlops.workflow.pipeline import Pipeline

    from pipeline.sdk import create_session, definition_json, quiet_sdk_logging
    from pipeline.spec import job_defaults

    quiet_sdk_logging()
    session = create_session(test_config)
    code = processing_code_bundle()
    job = job_defaults(test_config.with_overrides(kms_key_id="alias/test-key"), session, code)
    test_data = ParameterString(name="TestDataUrl", default_value=test_config.default_test_data_url)
    instance_type = ParameterString(name="ProcessingInstanceType", default_value="ml.m5.large")
    step = baseline_step.create_data_quality_baseline_step(
        job,
        name=STEP,
        display_name="Baseline",
        parameters={"TestDataUrl": test_data, "ProcessingInstanceType": instance_type},
        output_uri=Join(on="/", values=[test_config.s3_root, "executions", ExecutionVariables.PIPELINE_EXECUTION_ID,
                                        "data-quality-baseline"]),
    )
    pipeline = Pipeline(name=PIPELINE, parameters=[test_data, instance_type], steps=[step.step],
                        sagemaker_session=session)
    return definition_json(pipeline), step, code


def test_definition_runs_monitor_baseline_on_the_label_first_test_data(built, test_config):
    definition, _, code = built
    [step] = definition["Steps"]
    assert (step["Name"], step["Type"]) == (STEP, "Processing")
    args = step["Arguments"]
    assert args["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "processing_scripts.monitor"]
    assert args["AppSpecification"]["ContainerArguments"] == [
        "baseline", "--data", "/opt/ml/processing/input/baseline_dataset_input",
        "--output-dir", "/opt/ml/processing/output", "--label-column", "first"]
    assert args["AppSpecification"]["ImageUri"].endswith("/sagemaker-scikit-learn:1.9-0-cpu-py3")
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert inputs["test-data"]["S3Uri"] == {"Get": "Parameters.TestDataUrl"}
    assert inputs["test-data"]["LocalPath"] == "/opt/ml/processing/input/baseline_dataset_input"
    assert inputs["code"]["S3Uri"] == test_config.code_uri(code.digest)
    assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert all(i["S3DataType"] == "S3Prefix" and i["S3InputMode"] == "File" for i in inputs.values())
    [output] = args["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == baseline_step.BASELINE_OUTPUT
    assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output"
    assert output["S3Output"]["S3Uri"] == {"Std:Join": {"On": "/", "Values": [
        test_config.s3_root, "executions", {"Get": "Execution.PipelineExecutionId"}, "data-quality-baseline"]}}
    assert args["ProcessingOutputConfig"]["KmsKeyId"] == "alias/test-key"
    assert args["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == "alias/test-key"
    assert args["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {"Get": "Parameters.ProcessingInstanceType"}
    assert args["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 30


def test_file_uris_find_the_output_by_name(built):
    _, step, _ = built
    output = {"Get": f"Steps.{STEP}.ProcessingOutputConfig.Outputs['{baseline_step.BASELINE_OUTPUT}'].S3Output.S3Uri"}
    assert step.statistics_uri.expr == {"Std:Join": {"On": "/", "Values": [output, "statistics.json"]}}
    assert step.constraints_uri.expr == {"Std:Join": {"On": "/", "Values": [output, "constraints.json"]}}


def test_local_run_writes_model_monitor_baseline_files(built, test_config, tmp_path):
    definition, step, code = built
    store = LocalObjectStore(tmp_path)
    for name, data in code.files:
        store.put_bytes(test_config.code_uri(code.digest) + name, data)
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.column_stack([y, X])
    test_uri = f"{test_config.s3_root}/input/test.csv"
    store.put_bytes(test_uri, "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in rows).encode())
    runner = LocalRunner(tmp_path, registry=None, emit=lambda line: None)
    result = runner.run(definition, pipeline_name=PIPELINE, overrides={"TestDataUrl": test_uri})
    assert result.status == "Succeeded", result.failure_reason

    scope = Scope(parameters=result.parameters, execution={}, steps=result.properties, known_steps=frozenset({STEP}))
    statistics_uri = evaluate(step.statistics_uri.expr, scope)
    constraints_uri = evaluate(step.constraints_uri.expr, scope)
    assert statistics_uri == (f"{test_config.s3_root}/executions/{result.execution_id}/data-quality-baseline/"
                              "statistics.json")
    statistics = json.loads(store.get_bytes(statistics_uri))
    constraints = json.loads(store.get_bytes(constraints_uri))

    # The label then the features (Model Monitor's layout), as the library computes them from the same file.
    expected = dq.build_statistics(dq.read_csv(store.path_for(test_uri), label_column="first", keep_label=True))
    assert statistics == json.loads(dq.to_json_bytes(expected))
    assert statistics["dataset"]["item_count"] == len(X) and len(statistics["features"]) == X.shape[1] + 1
    assert statistics["features"][0]["inferred_type"] == "Integral"  # the 0/1 label
    numeric = statistics["features"][1]["numerical_statistics"]
    assert numeric["common"] == {"num_present": len(X), "num_missing": 0}
    assert numeric["mean"] == pytest.approx(X[:, 0].mean(), rel=1e-5)
    assert len(numeric["distribution"]["kll"]["buckets"]) == dq.N_BUCKETS
    assert [f["name"] for f in constraints["features"]] == [f"_c{i}" for i in range(X.shape[1] + 1)]
    assert constraints["features"][0]["monitoring_config_overrides"] == {"evaluate_constraints": "Disabled"}
    assert constraints["data_layout"] == {"header": False, "label_column": "first", "feature_count": X.shape[1] + 1,
                                          "label_kept": True}
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] == 0.1

    # The drift check reads them: the same rows do not drift.
    same = dq.check_drift(statistics, constraints, dq.read_csv(store.path_for(test_uri), label_column="first",
                                                               keep_label=True))
    assert same.violations == []
    features_only = dq.check_drift(statistics, constraints, dq.read_csv(store.path_for(test_uri), label_column="first"))
    assert features_only.violations == []


def test_test_data_with_a_header_fails_the_step_and_writes_nothing(built, test_config, tmp_path):
    definition, _, code = built
    store = LocalObjectStore(tmp_path)
    for name, data in code.files:
        store.put_bytes(test_config.code_uri(code.digest) + name, data)
    store.put_bytes(f"{test_config.s3_root}/input/test.csv", b"label,f1\n0,1.5\n1,2.5\n")
    runner = LocalRunner(tmp_path, registry=None, emit=lambda line: None)
    result = runner.run(definition, pipeline_name=PIPELINE)
    assert result.status == "Failed"
    assert "looks like a header" in result.failure_reason
    assert not store.list(f"{test_config.s3_root}/executions/")

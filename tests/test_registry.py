"""Model registry: SQLite locally, SageMaker (under moto), one interface, one CLI."""
from __future__ import annotations

import json
import multiprocessing

import boto3
import pytest
from moto import mock_aws

from pipeline.registry import LocalRegistry, RegistryError, SageMakerRegistry, main

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
METRICS = {
    "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/eval/evaluation.json"}},
    "Bias": {},
    "Explainability": {},
}
DESCRIBE_FIELDS = {
    "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn", "CreationTime", "InferenceSpecification",
    "ModelPackageStatus", "ModelApprovalStatus", "ModelMetrics",
}


def register(registry, group="churn", **extra):
    options = {"model_data_url": "s3://b/model.tar.gz", "image_uri": IMAGE, "model_metrics": METRICS, **extra}
    return registry.register(group, **options)


@pytest.fixture(params=["local", "sagemaker"])
def registry(request, tmp_path):
    if request.param == "local":
        yield LocalRegistry(tmp_path / "registry.db")
    else:
        with mock_aws():
            yield SageMakerRegistry(boto3.client("sagemaker", region_name="us-east-1"))


def test_versions_count_up_per_group(registry):
    assert [register(registry)["ModelPackageVersion"] for _ in range(3)] == [1, 2, 3]
    assert register(registry, group="fraud")["ModelPackageVersion"] == 1
    assert registry.list_groups() == ["churn", "fraud"]
    assert [p["ModelPackageVersion"] for p in registry.list_packages("churn")] == [1, 2, 3]
    assert len(registry.list_packages()) == 4


def test_describe_uses_describe_model_package_fields(registry):
    package = register(registry, description="why", customer_metadata={"auc": "0.91"},
                       environment={"SAGEMAKER_PROGRAM": "inference.py"})
    described = registry.describe(package["ModelPackageArn"])
    assert DESCRIBE_FIELDS <= set(described)
    assert described["ModelPackageGroupName"] == "churn"
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelMetrics"] == {"ModelQuality": METRICS["ModelQuality"]}  # empty sections dropped
    assert described["CustomerMetadataProperties"] == {"auc": "0.91"}
    assert described["ModelPackageDescription"] == "why"
    container = described["InferenceSpecification"]["Containers"][0]
    assert (container["Image"], container["ModelDataUrl"]) == (IMAGE, "s3://b/model.tar.gz")


def test_approval_transitions(registry):
    first = register(registry)["ModelPackageArn"]
    second = register(registry)["ModelPackageArn"]
    assert registry.latest_approved("churn") is None
    approved = registry.update_approval(first, "Approved", "looks good")
    assert approved["ModelApprovalStatus"] == "Approved"
    assert registry.latest_approved("churn")["ModelPackageArn"] == first
    registry.update_approval(second, "Approved")
    assert registry.latest_approved("churn")["ModelPackageArn"] == second
    registry.update_approval(second, "Rejected", "regressed")
    assert registry.latest_approved("churn")["ModelPackageArn"] == first
    with pytest.raises(RegistryError, match="bad approval status"):
        registry.update_approval(first, "Maybe")


@pytest.mark.parametrize("group", ["", "has space", "x" * 64, "-lead"])
def test_bad_group_names(registry, group):
    with pytest.raises(RegistryError, match="bad model package group name"):
        register(registry, group=group)


def test_unknown_package(tmp_path):
    registry = LocalRegistry(tmp_path / "r.db")
    with pytest.raises(RegistryError, match="no model package"):
        registry.describe("arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/9")
    with pytest.raises(RegistryError, match="bad model package ARN"):
        registry.describe("churn/9")


def _register_in_process(path: str, count: int) -> list[int]:
    registry = LocalRegistry(path)
    return [register(registry)["ModelPackageVersion"] for _ in range(count)]


def test_parallel_registrations_never_collide(tmp_path):
    path = str(tmp_path / "registry.db")
    LocalRegistry(path)
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = pool.starmap(_register_in_process, [(path, 3)] * 8)
    versions = sorted(v for batch in results for v in batch)
    assert versions == list(range(1, 25))
    assert [p["ModelPackageVersion"] for p in LocalRegistry(path).list_packages("churn")] == list(range(1, 25))


# --- CLI -------------------------------------------------------------------------------------------------


@pytest.fixture
def work(tmp_path):
    registry = LocalRegistry(tmp_path / "registry.db")
    register(registry)
    register(registry)
    return tmp_path


def test_cli_list_and_describe(work, capsys):
    assert main(["list", "--work-dir", str(work), "--output", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in listed] == [1, 2]
    assert main(["describe", "--work-dir", str(work), "--group", "churn"]) == 0
    assert json.loads(capsys.readouterr().out)["ModelPackageVersion"] == 2  # latest by default
    assert main(["describe", "--work-dir", str(work), "--group", "churn", "--version", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["ModelPackageVersion"] == 1
    assert main(["list", "--work-dir", str(work)]) == 0
    assert "v2" in capsys.readouterr().out


def test_cli_approve_and_reject_record_the_reason(work, capsys):
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/1"
    assert main(["approve", "--work-dir", str(work), "--arn", arn, "--reason", "reviewed by ana"]) == 0
    assert capsys.readouterr().out.strip() == f"{arn}: Approved"
    assert LocalRegistry(work / "registry.db").describe(arn)["ApprovalDescription"] == "reviewed by ana"
    assert main(["reject", "--work-dir", str(work), "--group", "churn", "--version", "2", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["ModelApprovalStatus"] == "Rejected"


@pytest.mark.parametrize(
    "args, message",
    [
        (["describe", "--group", "nope"], "has no versions"),
        (["describe", "--group", "churn", "--version", "9"], "no model package"),
        (["describe", "--group", "churn", "--version", "0"], "--version starts at 1"),
        (["describe"], "needs --arn or --group"),
        (["approve", "--group", "churn"], "needs an explicit --version"),
        (["approve", "--arn", "x"], "bad model package ARN"),
        (["describe", "--arn", "arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/1", "--group", "churn"], "not both"),
        (["list", "--group", "bad name"], "bad model package group name"),
    ],
)
def test_cli_bad_input(work, capsys, args, message):
    assert main([*args, "--work-dir", str(work)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_cli_without_a_registry(tmp_path, capsys):
    assert main(["list", "--work-dir", str(tmp_path / "none")]) == 2
    assert "no local registry" in capsys.readouterr().err


def test_cli_sagemaker_backend(capsys):
    with mock_aws():
        registry = SageMakerRegistry(boto3.client("sagemaker", region_name="us-east-1"))
        arn = register(registry)["ModelPackageArn"]
        assert main(["approve", "--backend", "sagemaker", "--region", "us-east-1", "--arn", arn, "--reason", "ok"]) == 0
        assert registry.describe(arn)["ModelApprovalStatus"] == "Approved"
        assert main(["list", "--backend", "sagemaker", "--region", "us-east-1", "--output", "json"]) == 0
    assert "ModelPackageSummaryList" in capsys.readouterr().out
    assert main(["list", "--backend", "sagemaker"]) == 2

"""Model registry: SQLite locally, SageMaker under moto, one interface, one CLI."""
from __future__ import annotations

import json
import re
import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pipeline.registry import LocalRegistry, RegistryError, SageMakerRegistry, main

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
QUALITY = {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/eval/evaluation.json"}}
METRICS = {"ModelQuality": QUALITY, "Bias": {}, "Explainability": {}}
DESCRIBE_FIELDS = {
    "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn", "CreationTime", "InferenceSpecification",
    "ModelPackageStatus", "ModelApprovalStatus", "ModelMetrics",
}


# The decision records the pipeline's RegisterModel step writes (processing_scripts/gate.py RECORD_KEYS).
PASSED = {"gate_passed": "true", "gate_checks": "auc_threshold=pass f1_threshold=pass"}
FAILED = {"gate_passed": "false", "gate_checks": "auc_threshold=pass f1_regression=fail"}


def register(registry, group="churn", **extra):
    options = {"model_data_url": "s3://b/model.tar.gz", "image_uri": IMAGE, "model_metrics": METRICS, **extra}
    return registry.register(group, **options)


@pytest.fixture(scope="module")
def sagemaker_client():
    """One moto-backed client for the module (starting moto and building clients is the slow part)."""
    with mock_aws():
        yield boto3.client("sagemaker", region_name="us-east-1")


@pytest.fixture(params=["local", "sagemaker"])
def registry(request, tmp_path):
    if request.param == "local":
        return LocalRegistry(tmp_path / "registry.db")
    from moto.sagemaker.models import sagemaker_backends

    client = request.getfixturevalue("sagemaker_client")
    sagemaker_backends.reset()  # every test starts from an empty (fake) account
    return SageMakerRegistry(client)


def test_versions_count_up_per_group(registry):
    assert [register(registry)["ModelPackageVersion"] for _ in range(3)] == [1, 2, 3]
    assert register(registry, group="fraud")["ModelPackageVersion"] == 1
    assert registry.list_groups() == ["churn", "fraud"]
    assert [p["ModelPackageVersion"] for p in registry.list_packages("churn")] == [1, 2, 3]
    assert [(p["ModelPackageGroupName"], p["ModelPackageVersion"]) for p in registry.list_packages()] == [
        ("churn", 1), ("churn", 2), ("churn", 3), ("fraud", 1)]
    assert registry.list_packages("nobody") == []


def test_groups_can_be_created_explicitly(registry):
    created = registry.create_group("scoring", "credit scoring models")
    assert created["ModelPackageGroupName"] == "scoring"
    assert created["ModelPackageGroupArn"].endswith(":model-package-group/scoring")
    assert registry.list_groups() == ["scoring"] and registry.list_packages("scoring") == []
    assert register(registry, group="scoring")["ModelPackageVersion"] == 1
    with pytest.raises(RegistryError, match="'scoring' already exists"):
        registry.create_group("scoring")


def test_describe_uses_describe_model_package_fields(registry):
    package = register(registry, description="why", customer_metadata={"auc": "0.91", "git": "abc123"},
                       environment={"SAGEMAKER_PROGRAM": "inference.py"})
    for ref in (package["ModelPackageArn"], "churn/1"):
        described = registry.describe(ref)
        assert DESCRIBE_FIELDS <= set(described)
        assert described["ModelPackageArn"] == package["ModelPackageArn"]
        assert described["ModelPackageGroupName"] == "churn" and described["ModelPackageVersion"] == 1
        assert described["ModelApprovalStatus"] == "PendingManualApproval"
        assert described["ModelPackageStatus"] == "Completed"
        assert described["ModelMetrics"] == {"ModelQuality": QUALITY}  # empty sections dropped
        assert described["CustomerMetadataProperties"] == {"auc": "0.91", "git": "abc123"}
        assert described["ModelPackageDescription"] == "why"
        spec = described["InferenceSpecification"]
        assert spec["Containers"][0]["Image"] == IMAGE
        assert spec["Containers"][0]["ModelDataUrl"] == "s3://b/model.tar.gz"
        assert spec["Containers"][0]["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py"}
        assert spec["SupportedContentTypes"] == ["text/csv"] and spec["SupportedResponseMIMETypes"] == ["text/csv"]


def test_every_model_metrics_section_is_kept(registry):
    metrics = {
        "ModelQuality": {**QUALITY, "Constraints": {"ContentType": "application/json", "S3Uri": "s3://b/c.json"}},
        "ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/s.json"}},
        "Bias": {"Report": {"ContentType": "application/json", "S3Uri": "s3://b/bias.json"}},
        "Explainability": {"Report": {"ContentType": "application/json", "S3Uri": "s3://b/shap.json"}},
    }
    assert register(registry, model_metrics=metrics)["ModelMetrics"] == metrics


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"approval_status": "Maybe"}, "bad approval status 'Maybe'"),
        ({"model_metrics": {"Accuracy": QUALITY}}, "unknown ModelMetrics section 'Accuracy'"),
        ({"model_metrics": {"ModelQuality": {"Report": QUALITY["Statistics"]}}}, "ModelMetrics.ModelQuality has no 'Report'"),
        ({"model_metrics": {"ModelQuality": {"Statistics": {"S3Uri": "s3://b/x"}}}}, "needs ContentType and S3Uri"),
        ({"customer_metadata": {"auc": 0.91}}, "bad customer metadata 'auc'"),
        ({"model_data_url": "model.tar.gz"}, "bad model data URL 'model.tar.gz'"),
        ({"image_uri": ""}, "bad image URI"),
    ],
)
def test_bad_registrations_are_refused(registry, extra, message):
    with pytest.raises(RegistryError, match=None) as error:
        register(registry, **extra)
    assert message in str(error.value)
    assert registry.list_packages() == []


@pytest.mark.parametrize("group", ["", "has space", "x" * 64, "-lead", "under_score", None])
def test_bad_group_names(registry, group):
    with pytest.raises(RegistryError, match="bad model package group name"):
        register(registry, group=group)


@pytest.mark.parametrize(
    "steps, latest",
    [
        ([], None),
        ([(1, "Approved")], 1),
        ([(1, "Approved"), (2, "Approved")], 2),
        ([(1, "Approved"), (2, "Approved"), (2, "Rejected")], 1),
        ([(2, "Rejected"), (2, "Approved")], 2),
        ([(1, "Approved"), (1, "PendingManualApproval")], None),
        ([(1, "Rejected"), (2, "Rejected")], None),
    ],
)
def test_approval_transitions(registry, steps, latest):
    arns = [register(registry)["ModelPackageArn"] for _ in range(2)]
    for version, status in steps:
        updated = registry.update_approval(arns[version - 1], status, f"set {status}")
        assert updated["ModelApprovalStatus"] == status and updated["ApprovalDescription"] == f"set {status}"
    found = registry.latest_approved("churn")
    assert (found["ModelPackageArn"] if found else None) == (arns[latest - 1] if latest else None)


def test_approval_errors(registry):
    arn = register(registry)["ModelPackageArn"]
    with pytest.raises(RegistryError, match="bad approval status 'approved'"):
        registry.update_approval(arn, "approved")
    with pytest.raises(RegistryError, match="no model package"):
        registry.update_approval(arn.rsplit("/", 1)[0] + "/9", "Approved")
    assert registry.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"


def test_unknown_packages(registry):
    register(registry)
    for ref in ("churn/9", "nobody/1"):
        with pytest.raises(RegistryError, match="no model package"):
            registry.describe(ref)
    with pytest.raises(RegistryError, match="bad model package ARN"):
        registry.describe("churn")


def test_local_arns_and_region(tmp_path):
    path = tmp_path / "registry.db"
    registry = LocalRegistry(path, region="eu-west-1")
    arn = register(registry)["ModelPackageArn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:000000000000:model-package/churn/1"
    assert LocalRegistry(path).describe(arn)["ModelPackageArn"] == arn  # the region is the registry's
    with pytest.raises(RegistryError, match="holds packages of region eu-west-1, not us-east-1"):
        LocalRegistry(path, region="us-east-1")
    with pytest.raises(RegistryError, match="no model package"):
        registry.describe("arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/1")
    assert LocalRegistry(tmp_path / "other.db").register("churn", model_data_url="s3://b/m.tar.gz", image_uri=IMAGE)[
        "ModelPackageArn"] == "arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/1"


def test_a_file_that_is_not_a_registry(tmp_path):
    (tmp_path / "registry.db").write_text("not sqlite")
    with pytest.raises(RegistryError, match="not a usable registry database"):
        LocalRegistry(tmp_path / "registry.db")


def test_versions_are_unique_in_the_schema(tmp_path):
    """Even a writer that bypasses register() cannot store a version twice."""
    registry = LocalRegistry(tmp_path / "registry.db")
    register(registry)
    db = sqlite3.connect(tmp_path / "registry.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO packages SELECT * FROM packages WHERE version = 1")
    db.close()


def test_registering_twice_for_one_execution_returns_the_first_package(registry):
    """A retried execution (its first try interrupted after registering) registers nothing twice."""
    execution = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/a"
    first = register(registry, generated_by=execution)
    assert first["MetadataProperties"] == {"GeneratedBy": execution}
    assert register(registry, generated_by=execution)["ModelPackageArn"] == first["ModelPackageArn"]
    assert register(registry, generated_by=execution[:-1] + "b")["ModelPackageVersion"] == 2
    assert register(registry)["ModelPackageVersion"] == 3  # no execution: always a new version


def test_an_approval_description_past_sagemakers_limit_is_refused_not_cut(registry):
    arn = register(registry, customer_metadata=PASSED)["ModelPackageArn"]
    with pytest.raises(RegistryError, match="1025 characters, more than 1024"):
        registry.update_approval(arn, "Approved", "d" * 1025)
    assert registry.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"


def _register_in_process(path: str, count: int) -> list[int]:
    registry = LocalRegistry(path)
    return [register(registry)["ModelPackageVersion"] for _ in range(count)]


def test_parallel_registrations_never_collide(tmp_path):
    path = str(tmp_path / "registry.db")
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = pool.starmap(_register_in_process, [(path, 3)] * 8)
    versions = sorted(v for batch in results for v in batch)
    assert versions == list(range(1, 25))
    assert [p["ModelPackageVersion"] for p in LocalRegistry(path).list_packages("churn")] == list(range(1, 25))


# --- CLI -------------------------------------------------------------------------------------------------


@pytest.fixture
def work(tmp_path):
    registry = LocalRegistry(tmp_path / "registry.db")
    register(registry, description="first", customer_metadata=PASSED)
    register(registry, description="second", customer_metadata=FAILED)
    register(registry, group="fraud")  # no gate decision recorded
    return tmp_path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_list(work, capsys):
    code, out, _ = run(capsys, "list", "--work-dir", str(work), "--output", "json")
    listed = json.loads(out)["ModelPackageSummaryList"]
    assert code == 0 and [(p["ModelPackageGroupName"], p["ModelPackageVersion"]) for p in listed] == [
        ("churn", 1), ("churn", 2), ("fraud", 1)]
    code, out, _ = run(capsys, "list", "--work-dir", str(work), "--group", "churn")
    assert code == 0 and len(out.splitlines()) == 3  # a header, then one line a version
    assert out.splitlines()[0].split() == ["GROUP", "VERSION", "STATUS", "CREATED", "ARN"]
    assert out.splitlines()[2].split()[:3] == ["churn", "v2", "PendingManualApproval"]
    assert out.splitlines()[2].endswith("arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/2")
    # The columns line up under the header.
    header, *rows = out.splitlines()
    assert all(row.index("arn:") == header.index("ARN") for row in rows)


def test_cli_default_work_dir(work, capsys, monkeypatch):
    monkeypatch.chdir(work.parent)
    (work.parent / ".local-sagemaker").mkdir(exist_ok=True)
    (work / "registry.db").rename(work.parent / ".local-sagemaker" / "registry.db")
    assert run(capsys, "list")[0] == 0


def test_cli_describe(work, capsys):
    code, out, _ = run(capsys, "describe", "--work-dir", str(work), "--group", "churn", "--output", "json")
    assert code == 0 and json.loads(out)["ModelPackageVersion"] == 2  # the latest by default
    code, out, _ = run(capsys, "describe", "--work-dir", str(work), "--group", "churn", "--version", "1",
                       "--output", "json")
    described = json.loads(out)
    assert DESCRIBE_FIELDS <= set(described) and described["ModelPackageDescription"] == "first"
    arn = described["ModelPackageArn"]
    code, out, _ = run(capsys, "describe", "--work-dir", str(work), "--arn", arn)
    fields = dict(line.split(None, 1) for line in out.splitlines())
    assert code == 0 and fields["ModelPackageArn"] == arn and fields["ModelPackageVersion"] == "1"
    assert json.loads(fields["ModelMetrics"]) == {"ModelQuality": QUALITY}


def test_cli_approve_and_reject(work, capsys):
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/1"
    code, out, _ = run(capsys, "approve", "--work-dir", str(work), "--arn", arn, "--reason", "reviewed", "--by", "ana")
    assert code == 0 and out.strip() == f"{arn}: Approved"
    approved = LocalRegistry(work / "registry.db").describe(arn)
    assert re.fullmatch(r"Approved by ana at \S+: reviewed", approved["ApprovalDescription"])
    assert approved["CustomerMetadataProperties"] == {**PASSED, "review_by": "ana", "review_forced": "false"}
    code, out, _ = run(capsys, "reject", "--work-dir", str(work), "--group", "churn", "--version", "2", "--output", "json")
    assert code == 0 and json.loads(out)["ModelApprovalStatus"] == "Rejected"
    assert json.loads(out)["ApprovalDescription"].startswith("Rejected by ")
    assert LocalRegistry(work / "registry.db").latest_approved("churn")["ModelPackageArn"] == arn


@pytest.mark.parametrize("group, version, why", [("churn", "2", "failed its quality gate (auc_threshold=pass f1_regression=fail)"),
                                                  ("fraud", "1", "has no recorded quality-gate decision")])
def test_approving_past_the_gate_needs_force_and_is_recorded(work, capsys, group, version, why):
    target = ["--work-dir", str(work), "--group", group, "--version", version, "--by", "ana"]
    code, _, err = run(capsys, "approve", *target, "--reason", "looks fine")
    assert code == 2 and why in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert LocalRegistry(work / "registry.db").describe(f"{group}/{version}")["ModelApprovalStatus"] == "PendingManualApproval"
    code, _, err = run(capsys, "approve", *target, "--force")
    assert code == 2 and "--force needs --reason" in err
    code, out, _ = run(capsys, "approve", *target, "--force", "--reason", "urgent fix, risk accepted")
    assert code == 0
    record = LocalRegistry(work / "registry.db").describe(f"{group}/{version}")
    assert record["ModelApprovalStatus"] == "Approved"
    assert "urgent fix, risk accepted [FORCED: the quality gate did not pass" in record["ApprovalDescription"]
    assert record["CustomerMetadataProperties"]["review_forced"] == "true"


def test_force_is_refused_where_nothing_is_overridden(work, capsys):
    code, _, err = run(capsys, "approve", "--work-dir", str(work), "--group", "churn", "--version", "1",
                       "--by", "ana", "--force", "--reason", "x")
    assert code == 2 and "--force only applies" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["describe", "--group", "nope"], "no model package group 'nope'"),
        (["list", "--group", "nope"], "no model package group 'nope'"),
        (["describe", "--group", "churn", "--version", "9"], "group 'churn' has no version 9"),
        (["approve", "--group", "churn", "--version", "9"], "group 'churn' has no version 9"),
        (["describe", "--group", "churn", "--version", "0"], "--version 0 out of range: versions are 1-"),
        (["describe", "--version", "1"], "--version needs --group"),
        (["describe"], "describe needs --arn or --group"),
        (["approve", "--group", "churn"], "approve needs an explicit --version"),
        (["reject", "--group", "churn"], "reject needs an explicit --version"),
        (["approve", "--arn", "x"], "bad model package ARN 'x'"),
        (["approve", "--arn", "arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/7"], "no model package"),
        (["describe", "--arn", "arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/1", "--group", "churn"],
         "not both"),
        (["list", "--group", "bad name"], "bad model package group name"),
        (["list", "--reason", "why"], "--reason, --by and --force apply to approve and reject"),
        (["describe", "--group", "churn", "--force"], "--reason, --by and --force apply to approve and reject"),
        (["list", "--group", "churn", "--version", "1"], "list takes --group only"),
        (["list", "--region", "eu-west-1"], "--region applies to --backend sagemaker"),
    ],
)
def test_cli_bad_input(work, capsys, args, message):
    code, out, err = run(capsys, *args, "--work-dir", str(work))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "args",
    [
        ["promote"],
        ["list", "--output", "yaml"],
        ["list", "--backend", "azure"],
        ["describe", "--group", "churn", "--version", "one"],
        ["describe", "--version", "1", "--arn", "arn:aws:sagemaker:us-east-1:000000000000:model-package/churn/1"],
    ],
)
def test_cli_usage_errors_exit_2(work, capsys, args):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--work-dir", str(work)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "usage:" in err and err.startswith("error: ") and err.count("\n") == 1, err


def test_cli_without_a_registry(tmp_path, capsys):
    code, _, err = run(capsys, "list", "--work-dir", str(tmp_path / "none"))
    assert code == 2 and "no local registry at" in err and err.count("\n") == 1


@pytest.fixture
def fake_aws(sagemaker_client):
    """The module's moto mock, emptied: the CLI builds its own clients inside it."""
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends.reset()
    return sagemaker_client


def test_cli_sagemaker_backend(capsys, fake_aws):
    registry = SageMakerRegistry(boto3.client("sagemaker", region_name="eu-west-1"))
    arn = register(registry, customer_metadata=PASSED)["ModelPackageArn"]
    register(registry)
    backend = ["--backend", "sagemaker", "--region", "eu-west-1"]
    code, out, _ = run(capsys, "approve", *backend, "--arn", arn, "--reason", "ok")
    assert code == 0 and out.strip() == f"{arn}: Approved"
    approved = registry.describe(arn)
    # Who: the caller's identity from STS (moto's default user).
    assert re.fullmatch(r"Approved by arn:aws:sts::\d{12}:\S+ at \S+: ok", approved["ApprovalDescription"])
    assert approved["CustomerMetadataProperties"]["review_forced"] == "false"
    code, out, _ = run(capsys, "reject", *backend, "--group", "churn", "--version", "2", "--output", "json")
    assert code == 0 and json.loads(out)["ModelApprovalStatus"] == "Rejected"
    code, out, _ = run(capsys, "describe", *backend, "--group", "churn", "--output", "json")
    assert code == 0 and json.loads(out)["ModelPackageVersion"] == 2
    code, out, _ = run(capsys, "list", *backend, "--output", "json")
    assert [p["ModelApprovalStatus"] for p in json.loads(out)["ModelPackageSummaryList"]] == ["Approved", "Rejected"]
    code, _, err = run(capsys, "describe", *backend, "--group", "nope")
    assert code == 2 and "no model package group 'nope'" in err


def test_cli_sagemaker_backend_needs_a_region(capsys, monkeypatch, fake_aws):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    code, _, err = run(capsys, "list", "--backend", "sagemaker")
    assert code == 2 and "needs --region" in err


def test_module_runs_as_a_command(work):
    result = subprocess.run([sys.executable, "-m", "pipeline.registry", "list", "--work-dir", str(work)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 4, result.stderr  # header + 3 versions


def test_cli_baseline_of_the_approved_version(tmp_path, capsys):
    registry = LocalRegistry(tmp_path / "registry.db")
    baselines = {"ModelDataQuality": {
        "Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/runs/1/baseline/statistics.json"},
        "Constraints": {"ContentType": "application/json", "S3Uri": "s3://b/runs/1/baseline/constraints.json"},
    }}
    register(registry, customer_metadata=PASSED, drift_check_baselines=baselines)
    register(registry, customer_metadata=PASSED)  # newer, without baselines, and not approved
    work = ["--work-dir", str(tmp_path)]
    code, _, err = run(capsys, "baseline", *work, "--group", "churn")
    assert code == 2 and "has no Approved version: pass --version" in err
    registry.review("churn/1", approve=True, by="ana", reason="ok")
    code, out, _ = run(capsys, "baseline", *work, "--group", "churn")
    assert code == 0 and out == "s3://b/runs/1/baseline/\n"
    code, out, _ = run(capsys, "baseline", *work, "--group", "churn", "--version", "1", "--output", "json")
    assert json.loads(out)["Constraints"] == "s3://b/runs/1/baseline/constraints.json"
    code, _, err = run(capsys, "baseline", *work, "--group", "churn", "--version", "2")
    assert code == 2 and "has no data-quality DriftCheckBaselines" in err


# --- the register request, SageMaker's metadata rule, the review policy ---------------------------------


def test_the_register_request_is_declared_once(registry):
    from pipeline.registry import PackageRequest

    request = PackageRequest("churn", model_data_url="s3://b/model.tar.gz", image_uri=IMAGE, model_metrics=METRICS)
    assert request.model_metrics == {"ModelQuality": QUALITY} and request.content_types == ("text/csv",)
    with pytest.raises(AttributeError):
        request.group = "fraud"  # frozen
    added = registry.add_package(request)
    assert added["ModelMetrics"] == register(registry)["ModelMetrics"] == {"ModelQuality": QUALITY}
    with pytest.raises(TypeError, match="colour"):
        register(registry, colour="red")


@pytest.mark.parametrize(
    "metadata, message",
    [
        # The local registry stored these, which SageMaker refuses: the same rule now refuses them in both.
        ({"note": ""}, "the value has 0 characters, not 1-256"),
        ({"note": "a<b"}, "the value has '<'"),
        ({"": "x"}, "the key has 0 characters, not 1-128"),
        ({"k" * 129: "x"}, "the key has 129 characters"),
        ({"note": "v" * 257}, "the value has 257 characters"),
        ({f"k{i}": "v" for i in range(51)}, "51 entries, more than 50"),
    ],
)
def test_metadata_sagemaker_refuses_is_refused(registry, metadata, message):
    with pytest.raises(RegistryError, match=re.escape(message)):
        register(registry, customer_metadata=metadata)
    assert registry.list_packages() == []


def test_metadata_at_sagemakers_limits_is_kept(registry):
    metadata = {"k" * 128: "Évaluation ü 1 /=+-@_.:" + "v" * 233, **{f"k{i}": "v" for i in range(49)}}
    assert register(registry, customer_metadata=metadata)["CustomerMetadataProperties"] == metadata


def test_a_review_that_would_overflow_the_metadata_is_refused(registry):
    arn = register(registry, customer_metadata={**PASSED, **{f"k{i}": "v" for i in range(47)}})["ModelPackageArn"]
    with pytest.raises(RegistryError, match="51 entries, more than 50"):
        registry.review(arn, approve=True, by="ana", reason=None)  # + review_by, review_forced
    assert registry.describe(arn)["ModelApprovalStatus"] == "PendingManualApproval"


@pytest.mark.parametrize("by, recorded", [("ana <ana@example.com>", "ana ana@example.com"), ("!!!", "unknown"),
                                          ("  ana\tb  ", "ana b")])
def test_the_reviewer_is_recorded_as_metadata_sagemaker_accepts(registry, by, recorded):
    arn = register(registry, customer_metadata=PASSED)["ModelPackageArn"]
    approved = registry.review(arn, approve=True, by=by, reason=None)
    assert approved["CustomerMetadataProperties"]["review_by"] == recorded
    assert approved["ApprovalDescription"].startswith(f"Approved by {' '.join(by.split())} at ")


@pytest.mark.parametrize(
    "approve, passed, reason, force, outcome",
    [
        # (approve?, gate_passed, --reason, --force) -> the status set, or the error
        (True, "true", None, False, "Approved"),  # a reason is optional for a passing version
        (True, "true", "ok", False, "Approved"),
        (False, "true", None, False, "Rejected"),  # and for a rejection
        (False, "false", "bad", False, "Rejected"),
        (True, "false", "ok", False, "failed its quality gate"),
        (True, None, "ok", False, "has no recorded quality-gate decision"),
        (True, "false", None, True, "--force needs --reason"),
        (True, "false", "   ", True, "--force needs --reason"),  # a blank reason is none
        (True, "false", "risk accepted", True, "Approved"),
        (True, "true", "x", True, "--force only applies"),
        (False, "false", "x", True, "--force only applies"),
    ],
)
def test_review_policy(approve, passed, reason, force, outcome):
    from pipeline.registry import review

    metadata = {"gate_passed": passed, "gate_checks": "auc_threshold=fail"} if passed else {}
    package = {"ModelPackageArn": "arn:p/1", "CustomerMetadataProperties": metadata}
    if outcome not in ("Approved", "Rejected"):
        with pytest.raises(RegistryError, match=re.escape(outcome)):
            review.decide(package, approve=approve, by="ana", reason=reason, force=force)
        return
    decided = review.decide(package, approve=approve, by="ana", reason=reason, force=force)
    assert decided.status == outcome
    assert (f": {reason}" in decided.description) == bool(reason)
    assert ("[FORCED:" in decided.description) == force
    assert decided.metadata == {"review_by": "ana", "review_forced": "true" if force else "false"}


# --- CLI: the rules before any lookup, --help, one-line errors ------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        # Checked before the registry is read: version 9 does not exist, and that is not what is said.
        (["approve", "--group", "churn", "--version", "9", "--force"], "--force needs --reason"),
        (["approve", "--group", "churn", "--version", "9", "--force", "--reason", " "], "--force needs --reason"),
        (["reject", "--group", "churn", "--version", "9", "--force", "--reason", "x"], "--force only applies"),
    ],
)
def test_cli_review_rules_come_first(work, capsys, args, message):
    code, out, err = run(capsys, *args, "--work-dir", str(work))
    assert code == 2 and out == "" and message in err and err.count("\n") == 1, err


def test_cli_approve_of_a_passing_version_needs_no_reason(work, capsys):
    code, out, _ = run(capsys, "approve", "--work-dir", str(work), "--group", "churn", "--version", "1", "--by", "ana")
    assert code == 0 and out.strip().endswith(": Approved")
    approved = LocalRegistry(work / "registry.db").describe("churn/1")
    assert re.fullmatch(r"Approved by ana at \S+", approved["ApprovalDescription"])


def test_cli_help_says_where_reason_is_needed(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert exit_info.value.code == 0
    assert "why, stored in ApprovalDescription; optional, except with --force, which requires it" in text
    assert "approve only: approve a version whose quality gate did not pass" in text
    for command in ("list", "describe", "approve", "reject", "baseline"):
        assert f" {command} " in text


def test_cli_list_of_an_empty_registry_prints_the_header(tmp_path, capsys):
    LocalRegistry(tmp_path / "registry.db")
    code, out, _ = run(capsys, "list", "--work-dir", str(tmp_path))
    assert code == 0 and out.split() == ["GROUP", "VERSION", "STATUS", "CREATED", "ARN"]


def test_a_denied_aws_call_is_an_aws_failure_not_an_unknown_package(fake_aws, capsys, monkeypatch):
    from botocore.exceptions import ClientError

    from pipeline.registry import AwsError, cli

    arn = register(SageMakerRegistry(fake_aws))["ModelPackageArn"]

    def denied(**request):  # as for a role without sagemaker:DescribeModelPackage
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                          "DescribeModelPackage")

    monkeypatch.setattr(fake_aws, "describe_model_package", denied)
    refusing = SageMakerRegistry(fake_aws)
    with pytest.raises(AwsError, match="AccessDeniedException: not authorized"):
        refusing.describe(arn)
    monkeypatch.setattr(cli, "open_registry", lambda *args, **kwargs: refusing)
    code, _, err = run(capsys, "describe", "--backend", "sagemaker", "--arn", arn)
    assert code == 1 and "AccessDeniedException" in err and err.count("\n") == 1


def test_cli_sagemaker_backend_reads_aws_region(capsys, monkeypatch, fake_aws):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    register(SageMakerRegistry(boto3.client("sagemaker", region_name="eu-west-1")))
    code, out, _ = run(capsys, "list", "--backend", "sagemaker", "--output", "json")
    assert code == 0 and json.loads(out)["ModelPackageSummaryList"][0]["ModelPackageArn"].startswith(
        "arn:aws:sagemaker:eu-west-1:")

"""What is evaluated is what gets registered: the model is frozen by its SHA-256 before anything scores it,
the champion is checked against the SHA-256 it was registered with, and the champion lookup reads every
page and fails rather than reporting "no champion" when the registry cannot be read."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from pipeline.lambdas import champions, freeze_model
from pipeline.lambdas.storage import ChangedError, S3Storage, StagingError
from pipeline.local.__main__ import main
from pipeline.local.functions import LocalStorage
from pipeline.local.store import LocalObjectStore
from pipeline.registry import LocalRegistry, SageMakerRegistry

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
PREFIX = "s3://art/p/models/sha256"
GROUP = "binary-classifier"


def _run(work: Path, model: str, demo, *extra: str) -> tuple[int, dict]:
    code = main(["evaluation", "--model-data", model, "--test-data", str(demo["test"]), "--work-dir", str(work),
                 "--output", "json", *extra])
    [record] = sorted((work / "executions").glob("*/execution.json"), key=lambda p: p.stat().st_mtime)[-1:]
    return code, json.loads(record.read_text())


def _execution_id(record: dict) -> str:
    return record["PipelineExecutionArn"].rsplit("/", 1)[-1]


def _evaluation(work: Path, record: dict) -> dict:
    [path] = list((work / "s3").rglob(f"executions/{_execution_id(record)}/evaluation/evaluation.json"))
    return json.loads(path.read_text())


# --- the bypass of issue 10, reproduced ---------------------------------------------------------------------


def test_overwriting_the_champions_key_with_a_worse_model_does_not_get_it_registered(demo, tmp_path, capsys):
    store = LocalObjectStore(tmp_path)
    key = "s3://art/models/model.tar.gz"  # one fixed key, reused for every upload
    store.put_file(key, demo["champion"])
    code, first = _run(tmp_path, key, demo)
    assert code == 0
    registry = LocalRegistry(tmp_path / "registry.db")
    registry.update_approval(first["ModelPackageArn"], "Approved")
    champion = registry.describe(first["ModelPackageArn"])
    champion_url = champion["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert champion_url != key and champion_url.endswith(
        f"/{hashlib.sha256(demo['champion'].read_bytes()).hexdigest()}/model.tar.gz")

    store.put_file(key, demo["regressing"])  # the next challenger, uploaded to the same key
    code, second = _run(tmp_path, key, demo)
    assert code == 1 and "ModelPackageArn" not in second
    gate = _evaluation(tmp_path, second)["gate"]
    assert gate["champion"]["status"] == "paired"  # the real champion, not the challenger against itself
    assert gate["champion"]["metrics"]["auc"]["difference"] < -0.01
    # The report overlays the champion's own curves on these rows.
    curves = gate["champion"]["curves"]
    assert curves["receiver_operating_characteristic_curve"]["true_positive_rates"][-1] == 1.0
    [report] = list((tmp_path / "s3").rglob(f"executions/{_execution_id(second)}/evaluation/report.html"))
    html = report.read_text()
    assert "champion v1: curve on these test rows (AUC" in html and "champion v1: on these test rows (ECE" in html
    assert not {c["name"]: c for c in gate["checks"]}["auc_regression"]["passed"]
    # Approved v1 still serves the bytes it was evaluated and approved with.
    assert store.get_bytes(champion_url) == demo["champion"].read_bytes()
    assert [p["ModelPackageVersion"] for p in registry.list_packages(GROUP)] == [1]


def test_a_champion_archive_changed_after_registration_fails_the_regression_checks_closed(demo, tmp_path, capsys):
    store = LocalObjectStore(tmp_path)
    code, first = _run(tmp_path, str(demo["champion"]), demo)
    assert code == 0
    registry = LocalRegistry(tmp_path / "registry.db")
    registry.update_approval(first["ModelPackageArn"], "Approved")
    frozen = registry.describe(first["ModelPackageArn"])["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    store.put_file(frozen, demo["regressing"])  # someone rewrites the registered artifact in place

    code, second = _run(tmp_path, str(demo["better"]), demo)  # a genuinely better challenger
    assert code == 1 and "ModelPackageArn" not in second
    gate = _evaluation(tmp_path, second)["gate"]
    assert gate["champion"]["status"] == "unavailable"
    assert "overwritten" in gate["champion"]["reason"] and frozen in gate["champion"]["reason"]
    failed = {c["name"] for c in gate["checks"] if not c["passed"]}
    assert {"auc_regression", "f1_regression"} <= failed


def test_the_decision_record_names_the_sha256_of_the_bytes_evaluated(demo, tmp_path, capsys):
    code, record = _run(tmp_path, str(demo["better"]), demo)
    assert code == 0
    digest = hashlib.sha256(demo["better"].read_bytes()).hexdigest()
    evaluation = _evaluation(tmp_path, record)
    assert evaluation["subject"]["model_sha256"] == digest
    assert evaluation["subject"]["pipeline_execution_id"] == _execution_id(record)
    assert evaluation["subject"]["model_package_group"] == GROUP
    assert evaluation["subject"]["evaluated_at"] == record["CreationTime"]  # the execution's start
    assert evaluation["subject"]["model_uri"].endswith(f"/models/sha256/{digest}/model.tar.gz")
    package = LocalRegistry(tmp_path / "registry.db").describe(record["ModelPackageArn"])
    assert package["CustomerMetadataProperties"]["model_sha256"] == digest


def test_evaluate_refuses_an_archive_that_is_not_the_one_frozen(demo, tmp_path, capsys):
    from processing_scripts import evaluate

    predictions = tmp_path / "predictions.csv"
    predictions.write_text("".join(f"{i % 2},{0.2 + 0.6 * (i % 2)}\n" for i in range(40)))
    common = ["--predictions", str(predictions), "--model", str(demo["better"]), "--bootstrap", "0"]
    wrong = "0" * 64
    assert evaluate.main([*common, "--model-sha256", wrong, "--output-dir", str(tmp_path / "out")]) == 2
    assert "as frozen by the FreezeModel step" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    right = hashlib.sha256(demo["better"].read_bytes()).hexdigest()
    assert evaluate.main([*common, "--model-sha256", right, "--output-dir", str(tmp_path / "ok")]) == 0


# --- the freezing function ------------------------------------------------------------------------------


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="art")
        yield client


def test_freeze_copies_the_bytes_to_their_sha256_key_on_s3(s3):
    s3.put_object(Bucket="art", Key="models/model.tar.gz", Body=b"model bytes")
    event = {"ModelDataUrl": "s3://art/models/model.tar.gz", "OutputPrefix": PREFIX, "KmsKeyId": ""}
    outputs = freeze_model.freeze(event, storage=S3Storage(s3))
    digest = hashlib.sha256(b"model bytes").hexdigest()
    assert outputs == {"ModelDataUrl": f"{PREFIX}/{digest}/model.tar.gz", "ModelSha256": digest}
    assert s3.get_object(Bucket="art", Key=f"p/models/sha256/{digest}/model.tar.gz")["Body"].read() == b"model bytes"
    assert freeze_model.freeze(event, storage=S3Storage(s3)) == outputs  # idempotent
    assert freeze_model.sha256_in_uri(outputs["ModelDataUrl"]) == digest


def test_freeze_writes_with_sse_kms_when_a_key_is_configured(s3):
    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    s3.put_object(Bucket="art", Key="m.tar.gz", Body=b"x" * 100)
    outputs = freeze_model.freeze({"ModelDataUrl": "s3://art/m.tar.gz", "OutputPrefix": PREFIX},
                                  storage=S3Storage(s3, kms_key_id=key))
    head = s3.head_object(Bucket="art", Key=outputs["ModelDataUrl"][len("s3://art/"):])
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)
    S3Storage(s3, kms_key_id=key).put_text("s3://art/p/context.json", "{}")
    head = s3.head_object(Bucket="art", Key="p/context.json")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key)


@pytest.mark.parametrize("size", [1000, 20 << 20])  # one CopyObject; a multipart copy (UploadPartCopy)
def test_an_archive_replaced_while_it_is_frozen_is_not_copied(s3, size):
    s3.put_object(Bucket="art", Key="m.tar.gz", Body=b"a" * size)

    class Racing(S3Storage):
        def sha256(self, uri):
            answer = super().sha256(uri)
            s3.put_object(Bucket="art", Key="m.tar.gz", Body=b"b" * size)  # the next upload lands now
            return answer

    with pytest.raises(ChangedError, match="changed while it was being frozen"):
        freeze_model.freeze({"ModelDataUrl": "s3://art/m.tar.gz", "OutputPrefix": PREFIX}, storage=Racing(s3))
    assert s3.list_objects_v2(Bucket="art", Prefix="p/").get("KeyCount") == 0


def test_the_local_store_freezes_with_the_same_rules(tmp_path):
    store = LocalObjectStore(tmp_path)
    store.put_bytes("s3://art/m.tar.gz", b"local bytes")
    storage = LocalStorage(store)
    outputs = freeze_model.freeze({"ModelDataUrl": "s3://art/m.tar.gz", "OutputPrefix": PREFIX}, storage=storage)
    assert store.get_bytes(outputs["ModelDataUrl"]) == b"local bytes"
    digest, version = storage.sha256("s3://art/m.tar.gz")
    store.put_bytes("s3://art/m.tar.gz", b"other bytes")  # keys are mutable, as in S3
    with pytest.raises(ChangedError):
        storage.copy_version("s3://art/m.tar.gz", "s3://art/elsewhere", version)
    with pytest.raises(StagingError, match="no such object"):
        freeze_model.freeze({"ModelDataUrl": "s3://art/missing.tar.gz", "OutputPrefix": PREFIX}, storage=storage)


# --- one champion definition -----------------------------------------------------------------------------


def _register(registry, version_status: list[str], group: str = GROUP) -> list[dict]:
    packages = []
    for status in version_status:
        package = registry.register(group, model_data_url="s3://art/m.tar.gz", image_uri=IMAGE)
        if status != "PendingManualApproval":
            registry.update_approval(package["ModelPackageArn"], status)
        packages.append(package)
    return packages


@pytest.fixture(params=["moto", "local"])
def registry(request, tmp_path):
    if request.param == "local":
        yield LocalRegistry(tmp_path / "registry.db")
        return
    with mock_aws():
        yield SageMakerRegistry(boto3.client("sagemaker", region_name="us-east-1"))


def test_the_champion_is_the_highest_approved_version_even_when_newer_ones_are_pending(registry):
    packages = _register(registry, ["Approved", "Approved", "Rejected", "PendingManualApproval",
                                    "PendingManualApproval"])
    champion = champions.latest_approved(registry.sagemaker_client(), GROUP)
    assert champion["ModelPackageArn"] == packages[1]["ModelPackageArn"]
    # The registry CLI (`registry baseline`) asks the same question and gets the same answer.
    assert registry.latest_approved(GROUP)["ModelPackageArn"] == packages[1]["ModelPackageArn"]


def test_the_lookup_follows_every_page(registry):
    statuses = ["PendingManualApproval"] * (2 * champions.PAGE_SIZE + 5)
    statuses[2] = "Approved"  # an old champion, on the last page of a newest-first listing
    packages = _register(registry, statuses)
    calls = []
    client = registry.sagemaker_client()

    class Counting:
        def __getattr__(self, name):
            return getattr(client, name)

        def list_model_packages(self, **request):
            calls.append(request.get("NextToken"))
            return client.list_model_packages(**request)

    assert champions.latest_approved(Counting(), GROUP)["ModelPackageArn"] == packages[2]["ModelPackageArn"]


class _EmptyPagesFirst:
    """A listing whose first pages come back empty with a NextToken, as a filtered listing may."""

    def __init__(self, client, empty_pages: int) -> None:
        self.client, self.left = client, empty_pages

    def __getattr__(self, name):
        return getattr(self.client, name)

    def list_model_packages(self, **request):
        if self.left:
            self.left -= 1
            return {"ModelPackageSummaryList": [], "NextToken": f"empty-{self.left}"}
        request.pop("NextToken", None)
        return self.client.list_model_packages(**request)


def test_empty_pages_with_a_next_token_are_followed(registry):
    [package] = _register(registry, ["Approved"])
    client = _EmptyPagesFirst(registry.sagemaker_client(), empty_pages=3)
    assert champions.latest_approved(client, GROUP)["ModelPackageArn"] == package["ModelPackageArn"]


def test_a_group_that_does_not_exist_has_no_champion(registry):
    assert champions.latest_approved(registry.sagemaker_client(), "never-created") is None

    class RaisingLikeAws:  # AWS may refuse to list a group that does not exist yet
        def __init__(self, client):
            self.client = client

        def __getattr__(self, name):
            return getattr(self.client, name)

        def list_model_packages(self, **request):
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "group not found"}},
                              "ListModelPackages")

    assert champions.latest_approved(RaisingLikeAws(registry.sagemaker_client()), "never-created") is None


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException", "ValidationException"])
def test_any_other_registry_error_fails_the_lookup(registry, code):
    _register(registry, ["Approved"])

    class Refusing:
        def __init__(self, client):
            self.client = client

        def __getattr__(self, name):
            return getattr(self.client, name)

        def list_model_packages(self, **request):
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "ListModelPackages")

    # The group exists, so even a ValidationException is not "no champion".
    with pytest.raises(champions.ChampionLookupError, match=f"ListModelPackages {GROUP}: {code}"):
        champions.latest_approved(Refusing(registry.sagemaker_client()), GROUP)


def test_a_registry_that_cannot_be_read_fails_the_pipeline_not_the_regression_checks(demo, tmp_path, monkeypatch,
                                                                                      capsys):
    from pipeline.local import sagemaker_api

    assert _run(tmp_path, str(demo["champion"]), demo)[0] == 0  # the group exists from here on

    def refuse(self, **request):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "ListModelPackages")

    monkeypatch.setattr(sagemaker_api.LocalSageMakerApi, "list_model_packages", refuse)
    code, record = _run(tmp_path, str(demo["better"]), demo)
    assert code == 1 and "ModelPackageArn" not in record
    [step] = [s for s in record["Steps"] if s["StepName"] == "FindChampion"]
    assert step["StepStatus"] == "Failed" and "AccessDeniedException" in step["FailureReason"]

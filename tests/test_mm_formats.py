"""What we write is what Model Monitor writes and what AWS's tools read.

statistics.json / constraints.json against the real files of ../shared/reference/model-monitor/ (JSON
types field by field), in the SDK's Statistics / Constraints / ConstraintViolations classes, in the
shape AWS's published visualisation helper reads; the check's CloudWatch metrics against botocore's
PutMetricData input shape and under moto.
"""
from __future__ import annotations

import copy
import json
import re
import urllib.parse
from pathlib import Path

import boto3
import botocore.serialize
import botocore.session
import numpy as np
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from processing_scripts import cloudwatch as cw
from processing_scripts import data_quality as dq
from processing_scripts.columns import DataError

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "model-monitor"
if not REFERENCE.is_dir():  # the real AWS files live beside the repository (the project's shared folder)
    pytest.skip(f"{REFERENCE} is absent: the real Model Monitor files are needed", allow_module_level=True)

CHURN_CSV = REFERENCE / "churn-example" / "training-dataset-without-header.csv"
CHURN_TEST_CSV = REFERENCE / "churn-example" / "test-dataset.csv"
REAL_CHURN = REFERENCE / "reconstructed" / "churn_mm_baseline"
REAL_SMALL = REFERENCE / "sdk" / "pipeline" / "quality_check_step" / "data_quality"
REAL_STRINGS = REFERENCE / "sdk" / "monitor"  # string-feature statistics, real violations
HELPER_TYPES = {"Fractional", "Integral", "String"}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def written(document: dict) -> dict:
    """A document as the file we write holds it."""
    return json.loads(dq.to_json_bytes(document))


@pytest.fixture(scope="module")
def churn() -> tuple[dict, dict]:
    """Our baseline of the churn training set (label first, no header), as written."""
    statistics = dq.build_statistics(dq.read_csv(CHURN_CSV))
    return written(statistics), written(dq.suggest_constraints(statistics))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> tuple[dict, dict]:
    """A data set with every kind of column: integers, fractions, text, missing values, an empty column."""
    path = tmp_path_factory.mktemp("mixed") / "mixed.csv"
    path.write_text("".join(f"{i},{i * 0.5},{'abc'[i % 3]},,{'' if i % 4 else i}\n" for i in range(40)))
    statistics = dq.build_statistics(dq.read_csv(path))
    return written(statistics), written(dq.suggest_constraints(statistics))


# ------------------------------------------------------------------------------------------- JSON types

def json_types(document, path: str = "") -> dict[str, set[str]]:
    """Each field's JSON type by path (list items share the path ``[]``)."""
    if isinstance(document, dict):
        types: dict[str, set[str]] = {}
        for key, value in document.items():
            for p, t in json_types(value, f"{path}.{key}").items():
                types.setdefault(p, set()).update(t)
        return types
    if isinstance(document, list):
        types = {}
        for value in document:
            for p, t in json_types(value, f"{path}[]").items():
                types.setdefault(p, set()).update(t)
        return types
    return {path: {type(document).__name__}}


# Fields the real files have that a data set without them cannot show (a string feature's in REAL_STRINGS).
OUR_EXTENSIONS = re.compile(r"^\.data_layout\.|^\.monitoring_config\.distribution_constraints\.(?!perform_comparison$"
                            r"|comparison_threshold$|comparison_method$)")


@pytest.mark.parametrize("name", ["statistics.json", "constraints.json"])
def test_json_types_match_the_real_churn_baseline_field_by_field(churn, name):
    ours = json_types(churn[0] if name == "statistics.json" else churn[1])
    real = json_types(load(REAL_CHURN / name))
    assert set(real) <= set(ours), f"fields Model Monitor writes that we do not: {set(real) - set(ours)}"
    for path, types in real.items():
        assert ours[path] == types, f"{name} {path}: ours {ours[path]}, Model Monitor's {types}"
    extra = {p for p in set(ours) - set(real) if not OUR_EXTENSIONS.match(p)}
    assert not extra, f"fields Model Monitor does not write: {extra}"


def test_string_features_have_the_json_types_of_real_string_statistics(mixed):
    real = {p: t for p, t in json_types(load(REAL_STRINGS / "statistics.json")).items() if "string_statistics" in p}
    ours = json_types(mixed[0])
    for path, types in real.items():
        assert ours[path] == types, f"{path}: ours {ours[path]}, Model Monitor's {types}"


@pytest.mark.parametrize("path, expected", [
    (("version",), 0.0),
    (("features", 0, "numerical_statistics", "distribution", "kll", "buckets", 0, "count"), 2008.0),
    (("dataset", "item_count"), 2333),
    (("features", 0, "numerical_statistics", "common", "num_present"), 2333),
    (("features", 0, "numerical_statistics", "common", "num_missing"), 0),
])
def test_values_and_their_types_as_model_monitor_writes_them(churn, path, expected):
    value = churn[0]
    for key in path:
        value = value[key]
    assert value == expected and type(value) is type(expected)
    assert type(churn[1]["version"]) is float and churn[1]["version"] == 0.0


@pytest.mark.parametrize("field", ["mean", "sum", "std_dev", "min", "max", "common"])
def test_our_numbers_are_model_monitors(field):
    """The numbers of Model Monitor's own baseline of its 100-row file (the sketch holds every value)."""
    ours = dq.build_statistics(dq.read_csv(REAL_SMALL / "baseline_dataset.csv"))["features"]
    real = load(REAL_SMALL / "statistics.json")["features"]
    assert len(ours) == len(real)
    for mine, theirs in zip(ours, real):
        a, b = mine["numerical_statistics"], theirs["numerical_statistics"]
        assert a[field] == (pytest.approx(b[field], rel=1e-14) if field == "std_dev" else b[field]), mine["name"]
        buckets_a, buckets_b = a["distribution"]["kll"]["buckets"], b["distribution"]["kll"]["buckets"]
        assert [x["count"] for x in buckets_a] == [x["count"] for x in buckets_b]
        np.testing.assert_allclose([x["lower_bound"] for x in buckets_a], [x["lower_bound"] for x in buckets_b],
                                   rtol=1e-14, atol=1e-14)
        assert sorted(a["distribution"]["kll"]["sketch"]["data"][0]) == sorted(b["distribution"]["kll"]["sketch"]["data"][0])


# ------------------------------------------------------------------------------------- no Unknown anywhere

def strings_in(document):
    if isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from strings_in(value)
    elif isinstance(document, list):
        for value in document:
            yield from strings_in(value)
    elif isinstance(document, str):
        yield document


def test_an_empty_column_is_a_string_feature_without_categories(mixed):
    statistics, constraints = mixed
    assert statistics["features"][3] == {"name": "_c3", "inferred_type": "String", "string_statistics": {
        "common": {"num_present": 0, "num_missing": 40}, "distinct_count": 0.0,
        "distribution": {"categorical": {"buckets": []}}}}
    assert constraints["features"][3] == {"name": "_c3", "inferred_type": "String", "completeness": 0.0}
    assert [f["inferred_type"] for f in statistics["features"]] == ["Integral", "Fractional", "String", "String",
                                                                     "Integral"]


@pytest.mark.parametrize("document", ["statistics", "constraints"])
def test_no_unknown_anywhere(mixed, document):
    assert "Unknown" not in set(strings_in(mixed[document == "constraints"]))


def test_an_empty_column_read_from_numbers_is_a_string_feature_too():
    column = dq.column_from_numbers("_c0", np.full(3, np.nan), integral=False)
    statistics = dq.build_statistics(dq.Dataset([column], 3))
    assert statistics["features"][0]["inferred_type"] == "String"
    assert dq.suggest_constraints(statistics)["features"][0] == {"name": "_c0", "inferred_type": "String",
                                                                "completeness": 0.0}


# ------------------------------------------------------------------------- AWS's visualisation helper's view

def assert_helper_can_read(statistics: dict) -> None:
    """The facts of the statistics AWS's Model Monitor visualisation helper reads."""
    for feature in statistics["features"]:
        kind = feature["inferred_type"]
        assert kind in HELPER_TYPES, feature["name"]
        section, distribution = (("numerical_statistics", "kll") if kind in ("Fractional", "Integral")
                                 else ("string_statistics", "categorical"))
        stats = feature[section]
        assert {"num_present", "num_missing"} <= set(stats["common"])
        buckets = stats["distribution"][distribution]["buckets"]
        assert isinstance(buckets, list) and all("count" in b for b in buckets)
        if distribution == "kll":
            assert len(buckets) == dq.N_BUCKETS and all({"lower_bound", "upper_bound"} <= set(b) for b in buckets)
        else:
            assert all("value" in b for b in buckets)


@pytest.mark.parametrize("data", ["churn", "mixed"])
def test_the_visualisation_helper_can_read_our_statistics(data, request):
    assert_helper_can_read(request.getfixturevalue(data)[0])


def test_the_helper_facts_hold_for_the_real_files():
    """The assertions above are the helper's facts: Model Monitor's own files pass them."""
    for path in (REAL_CHURN / "statistics.json", REAL_SMALL / "statistics.json", REAL_STRINGS / "statistics.json"):
        assert_helper_can_read(load(path))
    with pytest.raises(AssertionError):
        assert_helper_can_read({"features": [{"name": "x", "inferred_type": "Unknown"}]})


# ------------------------------------------------------------------------------------------ the SDK's classes

def sdk_classes():
    from sagemaker.core.model_monitor import Constraints, ConstraintViolations, Statistics

    return Statistics, Constraints, ConstraintViolations


def test_the_sdk_loads_our_files(churn, tmp_path):
    Statistics, Constraints, ConstraintViolations = sdk_classes()
    statistics, constraints = churn
    # The constructors take the parsed body and its S3 location; nothing is read from S3.
    loaded = Statistics(body_dict=statistics, statistics_file_s3_uri="s3://b/baseline/statistics.json")
    assert loaded.body_dict["features"][0]["inferred_type"] == "Integral"
    assert Constraints(body_dict=constraints, constraints_file_s3_uri="s3://b/baseline/constraints.json").body_dict \
        == constraints
    shifted = dq.read_csv(CHURN_TEST_CSV)
    shifted.columns[1].numbers = shifted.columns[1].numbers * 1.5  # Account Length, 1.5x: a real shift
    violations = written({"violations": dq.check_drift(statistics, constraints, shifted).violations})
    assert violations["violations"], "the shifted feature should be a violation"
    report = ConstraintViolations(body_dict=violations, constraint_violations_file_s3_uri="s3://b/check/cv.json")
    real = load(REAL_STRINGS / "constraint_violations.json")
    assert json_types(report.body_dict) == json_types(real)
    assert {v["constraint_check_type"] for v in report.body_dict["violations"]} <= set(dq.CHECK_TYPES)


def set_monitoring_edit(constraints: dict, *args) -> dict:
    """What the SDK's Constraints.set_monitoring changes: the fields that differ afterwards."""
    _, Constraints, _ = sdk_classes()
    edited = Constraints(body_dict=copy.deepcopy(constraints), constraints_file_s3_uri="s3://b/c.json")
    edited.set_monitoring(*args)
    before, after = json_types_values(constraints), json_types_values(edited.body_dict)
    return {p: v for p, v in after.items() if before.get(p) != v}


def json_types_values(document, path: str = "") -> dict[str, object]:
    if isinstance(document, dict):
        return {p: v for key, value in document.items() for p, v in json_types_values(value, f"{path}.{key}").items()}
    if isinstance(document, list):
        return {p: v for i, value in enumerate(document) for p, v in json_types_values(value, f"{path}[{i}]").items()}
    return {path: document}


@pytest.mark.parametrize("args, expected", [
    ((False, "Account Length"), {".features[1].monitoring_config_overrides.evaluate_constraints": "Disabled"}),
    ((False, "Churn"), {".features[0].monitoring_config_overrides.evaluate_constraints": "Disabled"}),
    ((False,), {".monitoring_config.evaluate_constraints": "Disabled"}),
])
def test_set_monitoring_edits_our_file_as_it_edits_a_real_one(churn, args, expected):
    real = load(REAL_CHURN / "constraints.json")
    assert set_monitoring_edit(real, *args) == expected
    ours_args = args if len(args) == 1 else (False, {"Account Length": "_c1", "Churn": "_c0"}[args[1]])
    ours_expected = {p.replace("Account Length", "_c1"): v for p, v in expected.items()}
    assert set_monitoring_edit(churn[1], *ours_args) == ours_expected


def test_the_label_slot_is_switched_off_as_set_monitoring_does(churn):
    statistics, constraints = churn
    _, Constraints, _ = sdk_classes()
    expected = Constraints(body_dict=copy.deepcopy(constraints), constraints_file_s3_uri="s3://b/c.json")
    expected.set_monitoring(False, statistics["features"][0]["name"])
    expected.body_dict["data_layout"].update(label_column="first", label_kept=True)
    assert written(dq.suggest_constraints(statistics, label_column="first")) == expected.body_dict
    # The switch is on the feature itself, beside its own constraints, and on no other feature.
    labelled = dq.suggest_constraints(statistics, label_column="first")["features"]
    assert [f.get("monitoring_config_overrides") for f in labelled[:2]] == [{"evaluate_constraints": "Disabled"}, None]


@pytest.mark.parametrize("kwargs, layout", [
    ({}, {"header": False, "label_column": "none", "feature_count": 70, "label_kept": False}),
    ({"header": True}, {"header": True, "label_column": "none", "feature_count": 70, "label_kept": False}),
    ({"header": True, "label_column": "first"},
     {"header": True, "label_column": "first", "feature_count": 70, "label_kept": True}),
])
def test_data_layout_records_header_and_label_column(churn, kwargs, layout):
    constraints = dq.suggest_constraints(churn[0], **kwargs)
    assert constraints["data_layout"] == layout
    assert constraints["monitoring_config"]["emit_metrics"] == "Enabled"
    assert constraints["monitoring_config"]["distribution_constraints"] == dq.distribution_constraints()


def test_an_unknown_label_column_is_refused(churn):
    with pytest.raises(ValueError, match="label_column must be one of"):
        dq.suggest_constraints(churn[0], label_column="last")


# ------------------------------------------------------------------------------------------------ CloudWatch

PUT_METRIC_DATA = botocore.session.get_session().get_service_model("cloudwatch").operation_model("PutMetricData")
INPUT = PUT_METRIC_DATA.input_shape
DATUM = INPUT.members["MetricData"].member
DIMENSION = DATUM.members["Dimensions"].member
DIMENSIONS = cw.endpoint_dimensions("churn-endpoint", "churn-hourly")
TIME = "2026-12-02T13:00:00Z"


def assert_valid(request: dict) -> None:
    report = ParamValidator().validate(request, INPUT)
    assert not report.has_errors(), report.generate_report()


def numeric_statistics(names: list[str], *, total: float = 6.0, low: float = 1.0, high: float = 3.0) -> dict:
    feature = {"common": {"num_present": 3, "num_missing": 1}, "mean": total / 3, "sum": total, "min": low, "max": high}
    return {"version": 0.0, "dataset": {"item_count": 4},
            "features": [{"name": n, "inferred_type": "Fractional", "numerical_statistics": dict(feature)} for n in names]}


@pytest.mark.parametrize("ours, shape", [
    (cw.MAX_NAME, DATUM.members["MetricName"].metadata["max"]),
    (cw.MAX_NAME, INPUT.members["Namespace"].metadata["max"]),
    (cw.MAX_NAME, DIMENSION.members["Name"].metadata["max"]),
    (cw.MAX_DIMENSION_VALUE, DIMENSION.members["Value"].metadata["max"]),
    (cw.MAX_DIMENSIONS, DATUM.members["Dimensions"].metadata["max"]),
    # The entry limit is in the operation's documentation, not its shape.
    (cw.MAX_METRIC_DATA, int(re.search(r"no more than (\d+) metrics", INPUT.members["MetricData"].documentation)[1])),
    (cw.MAX_MAGNITUDE <= 2.0 ** 360, "2^360" in PUT_METRIC_DATA.documentation),
])
def test_our_limits_are_botocores(ours, shape):
    assert ours == shape


def test_churn_metrics_are_model_monitors_names_and_valid_requests(churn):
    statistics = churn[0]
    distances = {f["name"]: 0.05 for f in statistics["features"]}
    requests = cw.put_metric_data_requests(statistics, distances, dimensions=DIMENSIONS, timestamp=TIME)
    assert len(requests) == 1 and list(cw.metrics_files(requests)) == ["cloudwatch_metrics.json"]
    request = requests[0]
    assert_valid(request)
    assert request["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
    data = request["MetricData"]
    assert [d["MetricName"] for d in data[:3]] == ["feature_data__c0", "feature_non_null__c0",
                                                   "feature_baseline_drift__c0"]
    assert len(data) == 3 * len(statistics["features"])
    first = statistics["features"][1]["numerical_statistics"]
    assert data[3]["StatisticValues"] == {"SampleCount": 2333.0, "Sum": first["sum"], "Minimum": first["min"],
                                          "Maximum": first["max"]}
    assert all(d["Dimensions"] == [{"Name": "Endpoint", "Value": "churn-endpoint"},
                                   {"Name": "MonitoringSchedule", "Value": "churn-hourly"}] for d in data)
    assert all(d["Timestamp"] == TIME for d in data)
    assert data[4]["Value"] == 1.0 and data[5]["Value"] == 0.05


def test_string_and_empty_features_have_no_feature_data(mixed):
    requests = cw.put_metric_data_requests(mixed[0], {"_c2": 0.5})
    names = [d["MetricName"] for d in requests[0]["MetricData"]]
    assert names == ["feature_data__c0", "feature_non_null__c0", "feature_data__c1", "feature_non_null__c1",
                     "feature_non_null__c2", "feature_baseline_drift__c2", "feature_non_null__c3",
                     "feature_data__c4", "feature_non_null__c4"]
    assert "Dimensions" not in requests[0]["MetricData"][0] and "Timestamp" not in requests[0]["MetricData"][0]
    assert requests[0]["MetricData"][6]["Value"] == 0.0
    assert_valid(requests[0])


@pytest.mark.parametrize("features, sizes", [
    (333, [999]),
    (334, [1000, 2]),
    (800, [1000, 1000, 400]),
])
def test_requests_are_split_at_the_apis_entry_limit(features, sizes):
    names = [f"f{i}" for i in range(features)]
    requests = cw.put_metric_data_requests(numeric_statistics(names), {n: 0.1 for n in names})
    assert [len(r["MetricData"]) for r in requests] == sizes
    for request in requests:
        assert_valid(request)
    files = cw.metrics_files(requests)
    assert list(files) == ["cloudwatch_metrics.json"] + [f"cloudwatch_metrics-{i}.json" for i in range(2, len(sizes) + 1)]
    assert [json.loads(b) for b in files.values()] == requests


def serialized_sizes(request: dict) -> dict[str, int]:
    """The HTTP body's size in each protocol botocore may send PutMetricData in."""
    sizes = {}
    for protocol in PUT_METRIC_DATA.service_model.metadata.get("protocols", [PUT_METRIC_DATA.service_model.protocol]):
        body = botocore.serialize.create_serializer(protocol).serialize_to_request(request, PUT_METRIC_DATA)["body"]
        sizes[protocol] = len(urllib.parse.urlencode(body) if isinstance(body, dict) else body)
    return sizes


def test_requests_stay_under_the_apis_size_limit_with_the_largest_dimensions():
    dimensions = {f"{i:02d}" + "n" * 253: "v" * cw.MAX_DIMENSION_VALUE for i in range(cw.MAX_DIMENSIONS)}
    names = [f"f{i}" for i in range(30)]
    requests = cw.put_metric_data_requests(numeric_statistics(names), {n: 0.1 for n in names}, dimensions=dimensions,
                                           timestamp=TIME)
    assert len(requests) > 1 and sum(len(r["MetricData"]) for r in requests) == 90
    for request in requests:
        assert_valid(request)
        sizes = serialized_sizes(request)
        assert "query" in sizes and max(sizes.values()) <= 1_000_000, sizes


def test_long_and_non_ascii_feature_names_give_valid_distinct_metric_names():
    names = ["x" * 300, "x" * 299 + "y", "Größe", "Gr??e", "tab\there", "a" * 242]
    requests = cw.put_metric_data_requests(numeric_statistics(names), {n: 0.0 for n in names})
    assert_valid(requests[0])
    metric_names = [d["MetricName"] for d in requests[0]["MetricData"]]
    assert len(set(metric_names)) == len(metric_names) == 3 * len(names)
    assert all(len(m) <= 255 and re.fullmatch(r"[\x20-\x7e]+", m) for m in metric_names)
    assert "feature_data_Gr??e" in metric_names and "feature_data_" + "a" * 242 in metric_names  # 255: kept whole


@pytest.mark.parametrize("kwargs, message", [
    ({"namespace": ""}, "is empty"),
    ({"namespace": ":data"}, "starts with ':' or 'AWS/'"),
    ({"namespace": "AWS/SageMaker"}, "starts with ':' or 'AWS/'"),
    ({"namespace": "n" * 256}, "256 characters long"),
    ({"namespace": "métriques"}, "only ASCII"),
    ({"dimensions": {f"d{i}": "v" for i in range(31)}}, "31 CloudWatch dimensions"),
    ({"dimensions": {":Endpoint": "e"}}, "starts with ':'"),
    ({"dimensions": {"Endpoint": ""}}, "is empty"),
    ({"dimensions": {"Endpoint": "   "}}, "only spaces"),
    ({"dimensions": {"Endpoint": "e" * 1025}}, "1025 characters long"),
    ({"dimensions": {"Endpoint": "é"}}, "only ASCII"),
    ({"dimensions": {"End\tpoint": "e"}}, "control characters"),
    ({"dimensions": {"Endpoint": 3}}, "is not text"),
    ({"timestamp": "yesterday"}, "not an ISO 8601 time"),
    ({"timestamp": "2026-12-02T13:00:00"}, "with a time zone"),
])
def test_configuration_cloudwatch_refuses_is_refused_in_one_line(kwargs, message):
    with pytest.raises(DataError, match=re.escape(message)) as error:
        cw.put_metric_data_requests(numeric_statistics(["a"]), {}, **kwargs)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("statistics, distances, error, message", [
    (numeric_statistics(["a"], total=1e200, high=1e200), {}, DataError, "feature a: its sum 1e+200"),
    (numeric_statistics(["a"], low=-2.0 ** 400), {}, DataError, "feature a: its minimum"),
    (numeric_statistics(["a"]), {"a": float("nan")}, DataError, "feature a: its drift distance nan"),
    (numeric_statistics(["a"]), {"b": 0.1}, ValueError, "not in the statistics: ['b']"),
    (numeric_statistics(["a", "a"]), {}, DataError, "two features give the CloudWatch metric 'feature_data_a'"),
])
def test_values_cloudwatch_cannot_store_are_refused(statistics, distances, error, message):
    with pytest.raises(error, match=re.escape(message)):
        cw.put_metric_data_requests(statistics, distances)


def test_values_too_small_for_cloudwatch_are_written_as_zero():
    requests = cw.put_metric_data_requests(numeric_statistics(["a"], total=1e-200, low=0.0, high=1e-200), {"a": 1e-300})
    data = requests[0]["MetricData"]
    assert data[0]["StatisticValues"]["Sum"] == 0.0 and data[0]["StatisticValues"]["Maximum"] == 0.0
    assert data[2]["Value"] == 0.0


def test_timestamps_are_written_in_utc():
    request = cw.put_metric_data_requests(numeric_statistics(["a"]), {}, timestamp="2026-12-02T14:30:00.5+01:00")[0]
    assert {d["Timestamp"] for d in request["MetricData"]} == {"2026-12-02T13:30:00.500000Z"}


@mock_aws
def test_published_metrics_read_back_from_cloudwatch(churn, tmp_path):
    statistics = churn[0]
    distances = {f["name"]: 0.01 * i for i, f in enumerate(statistics["features"])}
    files = cw.metrics_files(cw.put_metric_data_requests(statistics, distances, dimensions=DIMENSIONS, timestamp=TIME))
    client = boto3.client("cloudwatch", region_name="us-east-1")
    for name, body in files.items():  # as `aws cloudwatch put-metric-data --cli-input-json file://<name>` reads it
        (tmp_path / name).write_bytes(body)
        client.put_metric_data(**json.loads((tmp_path / name).read_text()))
    metrics = [m for page in client.get_paginator("list_metrics").paginate(Namespace=cw.ENDPOINT_NAMESPACE)
               for m in page["Metrics"]]
    expected = {f"{prefix}{f['name']}" for f in statistics["features"]
                for prefix in ("feature_data_", "feature_non_null_", "feature_baseline_drift_")}
    assert {m["MetricName"] for m in metrics} == expected
    assert all(m["Dimensions"] == [{"Name": "Endpoint", "Value": "churn-endpoint"},
                                   {"Name": "MonitoringSchedule", "Value": "churn-hourly"}] for m in metrics)
    feature = statistics["features"][1]
    points = client.get_metric_statistics(
        Namespace=cw.ENDPOINT_NAMESPACE, MetricName=f"feature_data_{feature['name']}", Dimensions=metrics[0]["Dimensions"],
        StartTime="2026-12-02T12:00:00Z", EndTime="2026-12-02T14:00:00Z", Period=3600,
        Statistics=["Average", "Sum", "SampleCount", "Minimum", "Maximum"])["Datapoints"]
    stats = feature["numerical_statistics"]
    assert len(points) == 1
    assert {k: points[0][k] for k in ("SampleCount", "Sum", "Minimum", "Maximum")} == {
        "SampleCount": 2333.0, "Sum": stats["sum"], "Minimum": stats["min"], "Maximum": stats["max"]}
    assert points[0]["Average"] == pytest.approx(stats["mean"], rel=1e-12)

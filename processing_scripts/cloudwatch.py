"""The data-quality check's CloudWatch metrics, named as Model Monitor names them, as PutMetricData requests.

Model Monitor's container emits, for each feature of the data it checked (AWS documentation,
"model-monitor-interpreting-cloudwatch"):

* ``feature_data_{feature_name}``, numeric features: the statistic set of the present values
  (``SampleCount``, ``Sum``, ``Minimum``, ``Maximum``; CloudWatch derives ``Average``);
* ``feature_non_null_{feature_name}``, every feature: its completeness (present / items);
* ``feature_baseline_drift_{feature_name}``, every feature with a drift distance.

in the namespace :data:`ENDPOINT_NAMESPACE` (dimensions ``Endpoint`` and ``MonitoringSchedule``) for a
real-time endpoint, :data:`BATCH_NAMESPACE` (``MonitoringSchedule``) for batch transform.

Each request is a whole PutMetricData input, for ``aws cloudwatch put-metric-data --cli-input-json
file://cloudwatch_metrics.json`` or ``boto3.client("cloudwatch").put_metric_data(**request)``. The
API's limits (botocore's service model for PutMetricData and its documentation) and what is done here:

* at most 1,000 entries and 1 MB per request: the metrics are split over several requests;
* ``MetricName`` 1-255 characters (ASCII printable, as CloudWatch's metric-stream filters state):
  a feature name that does not fit is **cut**, characters outside ASCII 32-126 become ``_``, and
  ``~`` + 8 hex digits of the name's SHA-256 keep the metrics of distinct features apart. Refusing
  would lose every metric of a data set the check itself accepted, for a name only CloudWatch minds;
* dimensions (at most 30; names 1-255 and values 1-1,024 ASCII characters, no control characters,
  not only spaces, names not starting with ``:``) and the namespace (1-255 ASCII printable
  characters, not starting with ``:``, not ``AWS/``, which is reserved for AWS's services) are
  **refused** (:class:`DataError`): they are configuration, and a cut endpoint name would send the
  metrics where no dashboard or alarm looks;
* values must be finite with a magnitude at most :data:`MAX_MAGNITUDE`: a value beyond is
  **refused** naming the feature (a statistic cannot be cut without lying); a non-zero magnitude
  below :data:`MIN_MAGNITUDE`, which CloudWatch also rejects, is written 0.0, the nearest value it stores;
* ``Timestamp``: ISO 8601 with a time zone, written in UTC; without one (None) CloudWatch stamps
  the time it receives the data. How old or new a time CloudWatch accepts (two weeks back, two
  hours ahead) depends on when the request is sent, so the publisher checks that, not this module.
"""
from __future__ import annotations

import hashlib
import math
import re
import types
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from .data_profile import to_json_bytes
from .text_files import DataError, shown_value

ENDPOINT_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
BATCH_NAMESPACE = "aws/sagemaker/ModelMonitoring/data-metrics"
DATA_PREFIX, NON_NULL_PREFIX, DRIFT_PREFIX = "feature_data_", "feature_non_null_", "feature_baseline_drift_"

MAX_METRIC_DATA = 1000  # entries per request
MAX_REQUEST_BYTES = 1_000_000  # 1 MB per HTTP POST, less room for the request's own fields
MAX_NAME = 255  # MetricName, DimensionName and Namespace
MAX_DIMENSION_VALUE = 1024
MAX_DIMENSIONS = 30
# CloudWatch's documentation states the range as 2^-360..2^360 and as 8.515920e-109..1.174271e+108
# (2^-359..2^359): the narrower one is kept.
MAX_MAGNITUDE = 1.174271e+108
MIN_MAGNITUDE = 8.515920e-109

_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_DIGEST_CHARS = 9  # "~" and 8 hex digits
_NO_DIMENSIONS: Mapping[str, str] = types.MappingProxyType({})


def endpoint_dimensions(endpoint: str, schedule: str) -> dict[str, str]:
    """The dimensions of Model Monitor's metrics of an endpoint's monitoring schedule.

    >>> endpoint_dimensions("churn", "hourly")
    {'Endpoint': 'churn', 'MonitoringSchedule': 'hourly'}
    """
    return {"Endpoint": endpoint, "MonitoringSchedule": schedule}


def metric_name(prefix: str, feature: str) -> str:
    """``prefix + feature``, cut to CloudWatch's 255 ASCII-printable characters when it must be, a
    digest of the feature name then keeping distinct features' metrics distinct.

    >>> metric_name("feature_data_", "Account Length")
    'feature_data_Account Length'
    >>> name = metric_name("feature_data_", "x" * 300)
    >>> len(name), name[-9:] != metric_name("feature_data_", "x" * 299)[-9:]
    (255, True)
    >>> metric_name("feature_non_null_", "Größe")
    'feature_non_null_Gr__e~aedc3f80'
    """
    name = prefix + feature
    if len(name) <= MAX_NAME and _PRINTABLE.fullmatch(name):
        return name
    digest = hashlib.sha256(feature.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS - 1]
    return _UNPRINTABLE.sub("_", name)[:MAX_NAME - _DIGEST_CHARS] + "~" + digest


def _ascii_text(text: Any, what: str, limit: int) -> str:
    """``text`` when CloudWatch takes it as a dimension or namespace (see the module docstring)."""
    if not isinstance(text, str):
        raise DataError(f"{what} {text!r} is not text; give a string")
    problem = ("is empty or only spaces" if not text.strip() else
               f"is {len(text)} characters long, CloudWatch takes at most {limit}" if len(text) > limit else
               "holds characters CloudWatch refuses (only ASCII without control characters)"
               if not _PRINTABLE.fullmatch(text) else None)
    if problem:
        raise DataError(f"{what} {shown_value(text)} {problem}; change it")
    return text


def checked_namespace(namespace: str) -> str:
    """``namespace`` if CloudWatch accepts it for our metrics, else :class:`DataError`.

    >>> checked_namespace(ENDPOINT_NAMESPACE) == ENDPOINT_NAMESPACE
    True
    """
    _ascii_text(namespace, "the CloudWatch namespace", MAX_NAME)
    if namespace.startswith(":") or namespace.startswith("AWS/"):
        raise DataError(f"the CloudWatch namespace {shown_value(namespace)} starts with ':' or 'AWS/', which "
                        f"CloudWatch refuses or reserves for AWS; use e.g. {ENDPOINT_NAMESPACE}")
    return namespace


def checked_dimensions(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    """PutMetricData's ``Dimensions`` list, or :class:`DataError` naming what CloudWatch would refuse.

    >>> checked_dimensions({"Endpoint": "churn"})
    [{'Name': 'Endpoint', 'Value': 'churn'}]
    """
    if len(dimensions) > MAX_DIMENSIONS:
        raise DataError(f"{len(dimensions)} CloudWatch dimensions given, a metric takes at most {MAX_DIMENSIONS}; "
                        "give fewer")
    checked = []
    for name, value in dimensions.items():
        _ascii_text(name, "the CloudWatch dimension name", MAX_NAME)
        if name.startswith(":"):
            raise DataError(f"the CloudWatch dimension name {shown_value(name)} starts with ':', which CloudWatch "
                            "refuses; rename it")
        checked.append({"Name": name, "Value": _ascii_text(value, f"the value of CloudWatch dimension {name}",
                                                           MAX_DIMENSION_VALUE)})
    return checked


def checked_timestamp(timestamp: str) -> str:
    """An ISO 8601 time with its time zone, in UTC (``...Z``), or :class:`DataError`.

    >>> checked_timestamp("2026-12-02T15:00:00+02:00")
    '2026-12-02T13:00:00Z'
    """
    text = timestamp.strip() if isinstance(timestamp, str) else ""
    try:  # fromisoformat reads "Z" only from Python 3.11 on
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise DataError(f"the metrics' timestamp {shown_value(str(timestamp))} is not an ISO 8601 time with a time "
                        "zone; give e.g. 2026-12-02T13:00:00Z")
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def metric_value(value: Any, feature: str, what: str) -> float:
    """A value CloudWatch stores (see the module docstring), or :class:`DataError` naming the feature.

    >>> metric_value(3, "_c0", "sum"), metric_value(1e-200, "_c0", "sum")
    (3.0, 0.0)
    """
    number = float(value)
    if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
        raise DataError(f"feature {feature}: its {what} {number!r} is beyond what CloudWatch stores "
                        f"(magnitude at most {MAX_MAGNITUDE:g}); rescale the feature")
    return number if abs(number) >= MIN_MAGNITUDE else 0.0


def feature_metric_data(feature: Mapping[str, Any], item_count: int, drift_distance: float | None,
                        ) -> list[dict[str, Any]]:
    """The MetricData entries of one feature of ``statistics.json`` (without dimensions or time)."""
    name = feature["name"]
    stats = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
    present = stats.get("common", {}).get("num_present", 0)
    data = []
    if "numerical_statistics" in feature and present and all(k in stats for k in ("sum", "min", "max")):
        data.append({"MetricName": metric_name(DATA_PREFIX, name), "StatisticValues": {
            "SampleCount": metric_value(present, name, "count"), "Sum": metric_value(stats["sum"], name, "sum"),
            "Minimum": metric_value(stats["min"], name, "minimum"),
            "Maximum": metric_value(stats["max"], name, "maximum")}})
    if item_count:
        data.append({"MetricName": metric_name(NON_NULL_PREFIX, name),
                     "Value": metric_value(present / item_count, name, "completeness")})
    if drift_distance is not None:
        data.append({"MetricName": metric_name(DRIFT_PREFIX, name),
                     "Value": metric_value(drift_distance, name, "drift distance")})
    return data


def _query_bytes(value: Any, key: str) -> int:
    """Size of ``value`` as the query protocol (the largest of CloudWatch's encodings) sends it under ``key``;
    list positions are counted with 4 digits, the most a request of 1,000 entries needs."""
    if isinstance(value, Mapping):
        return sum(_query_bytes(v, f"{key}.{k}") for k, v in value.items())
    if isinstance(value, list):
        return sum(_query_bytes(v, f"{key}.member.1000") for v in value)
    text = repr(value) if isinstance(value, float) else str(value)
    # Percent-encoding triples at most every byte; ASCII letters and digits stay one byte.
    return len(key) + 2 + sum(1 if c.isalnum() and c.isascii() else 3 * len(c.encode("utf-8")) for c in text)


def split_requests(namespace: str, metric_data: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Whole PutMetricData requests of at most :data:`MAX_METRIC_DATA` entries and :data:`MAX_REQUEST_BYTES`."""
    budget = MAX_REQUEST_BYTES - _query_bytes(namespace, "Namespace")
    requests: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for datum in metric_data:
        datum_bytes = _query_bytes(datum, "MetricData.member.1000")
        if batch and (len(batch) == MAX_METRIC_DATA or size + datum_bytes > budget):
            requests.append({"Namespace": namespace, "MetricData": batch})
            batch, size = [], 0
        batch.append(datum)
        size += datum_bytes
    if batch:
        requests.append({"Namespace": namespace, "MetricData": batch})
    return requests


def put_metric_data_requests(statistics: dict, drift_distances: Mapping[str, float], *,
                             namespace: str = ENDPOINT_NAMESPACE, dimensions: Mapping[str, str] = _NO_DIMENSIONS,
                             timestamp: str | None = None) -> list[dict]:
    """The check's metrics as Model Monitor names them: PutMetricData requests (module docstring).

    ``statistics`` is the checked data's ``statistics.json``; ``drift_distances`` the drift distance
    of each compared feature by name (a feature without one, e.g. too few values to compare, has no
    ``feature_baseline_drift_`` metric). Features without present numbers have no ``feature_data_``.
    Unusable configuration or values raise :class:`DataError`; an unknown feature in
    ``drift_distances`` raises ValueError.

    >>> stats = {"dataset": {"item_count": 4}, "features": [{"name": "_c0", "inferred_type": "Integral",
    ...     "numerical_statistics": {"common": {"num_present": 2, "num_missing": 2}, "sum": 3.0, "min": 1.0, "max": 2.0}}]}
    >>> [(d["MetricName"], d.get("Value")) for d in put_metric_data_requests(stats, {"_c0": 0.25})[0]["MetricData"]]
    [('feature_data__c0', None), ('feature_non_null__c0', 0.5), ('feature_baseline_drift__c0', 0.25)]
    """
    checked_namespace(namespace)
    common: dict[str, Any] = {}
    if dimensions:
        common["Dimensions"] = checked_dimensions(dimensions)
    if timestamp is not None:
        common["Timestamp"] = checked_timestamp(timestamp)
    features = statistics["features"]
    names = [f["name"] for f in features]
    unknown = [name for name in drift_distances if name not in set(names)]
    if unknown:
        raise ValueError(f"drift distances of features not in the statistics: {unknown[:5]}")
    item_count = statistics["dataset"]["item_count"]
    metric_data = [{**datum, **common} for feature in features
                   for datum in feature_metric_data(feature, item_count, drift_distances.get(feature["name"]))]
    seen: set[str] = set()
    for datum in metric_data:
        if datum["MetricName"] in seen:  # repeated feature names would mix two features in one metric
            raise DataError(f"two features give the CloudWatch metric {shown_value(datum['MetricName'])}; "
                            "give the features distinct names")
        seen.add(datum["MetricName"])
    return split_requests(namespace, metric_data)


def metrics_files(requests: list[dict]) -> dict[str, bytes]:
    """The requests as files: ``cloudwatch_metrics.json``, then ``cloudwatch_metrics-2.json``, ... when split.

    >>> list(metrics_files([{"Namespace": "n", "MetricData": []}] * 3))
    ['cloudwatch_metrics.json', 'cloudwatch_metrics-2.json', 'cloudwatch_metrics-3.json']
    """
    return {("cloudwatch_metrics.json" if i == 1 else f"cloudwatch_metrics-{i}.json"): to_json_bytes(request)
            for i, request in enumerate(requests, start=1)}

"""A data set's profile in Model Monitor's layout: ``statistics.json``, and ``constraints.json`` suggested from it.

``std_dev`` is the population standard deviation (``ddof=0``, as Deequ computes it). The ten
``kll.buckets`` are ``np.histogram(values, bins=10)``'s: equal width between min and max, the last one
closed (a constant column gets ``min - 0.5 .. max + 0.5``, as numpy does). ``kll.sketch`` keeps the
parameters Model Monitor writes (``c=0.64, k=2048``) and one level of equal-weight items in
``data[0]``: every present value, sorted, when there are at most ``k``; otherwise the ``k`` values at
ranks ``floor((i + 0.5) * n / k)`` of the sorted column (a quantile summary whose CDF is within
``1/k`` of the data's). Categorical buckets hold every distinct value (at most
:data:`MAX_CATEGORIES`, most frequent first; the rest is counted as "other" in the drift check).

JSON types follow the files Model Monitor writes (``version`` 0.0, ``kll`` bucket counts and
``distinct_count`` as floats; ``item_count``, ``num_present``, ``num_missing`` and categorical bucket
counts as integers). A column with no present value, which type inference calls ``Unknown``, is
written as a ``String`` feature with no categories: AWS's visualisation helper and the SDK know
only ``Integral``, ``Fractional`` and ``String``.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping

import numpy as np

from . import drift
from .columns import NUMERIC_TYPES, Column, DataError, Dataset, bucket_counts, category_counts

SKETCH_K = 2048
SKETCH_C = 0.64
N_BUCKETS = 10
MAX_CATEGORIES = 1000
FORMAT_VERSION = 0.0  # statistics.json's and constraints.json's "version", as Model Monitor writes it
LABEL_COLUMNS = ("first", "none")


def histogram_edges(lo: float, hi: float, bins: int = N_BUCKETS) -> np.ndarray:
    """``np.histogram``'s equal-width edges between ``lo`` and ``hi``.

    >>> histogram_edges(0.0, 1.0, 4).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> histogram_edges(3.0, 3.0, 2).tolist()
    [2.5, 3.0, 3.5]
    """
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def sketch_items(sorted_values: np.ndarray, k: int = SKETCH_K) -> np.ndarray:
    """Equal-weight items summarising a sorted column: all values if at most ``k``, else ``k`` quantiles.

    >>> sketch_items(np.arange(10.0), 4).tolist()
    [1.0, 3.0, 6.0, 8.0]
    """
    n = len(sorted_values)
    if n <= k:
        return sorted_values
    return sorted_values[((np.arange(k) + 0.5) * n / k).astype(np.int64)]


def _finite(value: float, what: str, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise DataError(f"feature {name}: {what} overflows a float64; rescale the feature")
    return value


def numerical_statistics(column: Column) -> dict[str, Any]:
    """Model Monitor's ``numerical_statistics`` of a numeric column."""
    values = column.numbers
    common = {"num_present": column.num_present, "num_missing": column.num_missing}
    # Overflow is refused by _finite, in one line: numpy's own warning would add lines to stderr.
    with np.errstate(over="ignore", invalid="ignore"):
        edges = histogram_edges(_finite(values[0], "the minimum", column.name),
                                _finite(values[-1], "the maximum", column.name))
        counts = bucket_counts(values, edges)
        mean, total, std = values.mean(), values.sum(), values.std()
    return {
        "common": common,
        "mean": _finite(mean, "the mean", column.name),
        "sum": _finite(total, "the sum", column.name),
        "std_dev": _finite(std, "the standard deviation", column.name),
        "min": float(values[0]),
        "max": float(values[-1]),
        "distribution": {"kll": {
            "buckets": [{"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
                        for i in range(len(counts))],
            "sketch": {"parameters": {"c": SKETCH_C, "k": float(SKETCH_K)},
                       "data": [sketch_items(values).tolist()]},
        }},
    }


def string_statistics(column: Column) -> dict[str, Any]:
    """Model Monitor's ``string_statistics`` of a String column (or of an Unknown one: no categories).

    >>> from processing_scripts.columns import column_from_strings
    >>> string_statistics(column_from_strings("_c0", ["", ""]))
    {'common': {'num_present': 0, 'num_missing': 2}, 'distinct_count': 0.0, 'distribution': {'categorical': {'buckets': []}}}
    """
    pairs = category_counts(column.strings)
    return {
        "common": {"num_present": column.num_present, "num_missing": column.num_missing},
        "distinct_count": float(len(pairs)),
        "distribution": {"categorical": {"buckets": [{"value": v, "count": c} for v, c in pairs[:MAX_CATEGORIES]]}},
    }


def written_type(inferred_type: str) -> str:
    """The ``inferred_type`` a profile writes: ``Unknown`` (no present value) becomes ``String``.

    >>> written_type("Unknown"), written_type("Integral")
    ('String', 'Integral')
    """
    return "String" if inferred_type == "Unknown" else inferred_type


def build_statistics(dataset: Dataset) -> dict[str, Any]:
    """``statistics.json`` of a data set.

    >>> from processing_scripts.columns import column_from_strings
    >>> stats = build_statistics(Dataset([column_from_strings("_c0", ["1", "3"])], 2))
    >>> stats["features"][0]["numerical_statistics"]["mean"], stats["dataset"]
    (2.0, {'item_count': 2})
    """
    features = []
    for column in dataset.columns:
        feature = {"name": column.name, "inferred_type": written_type(column.inferred_type)}
        if column.inferred_type in NUMERIC_TYPES:
            feature["numerical_statistics"] = numerical_statistics(column)
        else:
            feature["string_statistics"] = string_statistics(column)
        features.append(feature)
    return {"version": FORMAT_VERSION, "dataset": {"item_count": dataset.item_count}, "features": features}


# Constraints.set_monitoring(False, name) of the SageMaker SDK writes exactly this on the feature.
MONITORING_DISABLED = {"evaluate_constraints": "Disabled"}


def feature_constraint(feature: Mapping[str, Any], item_count: int) -> dict[str, Any]:
    """One feature's suggested constraint: type, completeness and ``is_non_negative`` or ``domains``.

    A String feature without categories (an empty column) gets no ``domains``: an empty list would
    make every value of the next batch a categorical violation.
    """
    stats = feature.get("numerical_statistics") or feature["string_statistics"]
    entry = {"name": feature["name"], "inferred_type": written_type(feature["inferred_type"]),
             "completeness": stats["common"]["num_present"] / item_count if item_count else 0.0}
    if "numerical_statistics" in feature:
        entry["num_constraints"] = {"is_non_negative": bool(stats["min"] >= 0)}
    elif entry["inferred_type"] == "String" and 0 < stats["distinct_count"] <= MAX_CATEGORIES:
        entry["string_constraints"] = {"domains": sorted(b["value"] for b in stats["distribution"]["categorical"]["buckets"])}
    return entry


def suggest_constraints(statistics: Mapping[str, Any], *, label_column: str = "none",
                        header: bool = False) -> dict[str, Any]:
    """``constraints.json`` suggested from ``statistics.json``, with our drift settings (:mod:`drift`) beside Model Monitor's.

    ``label_column="first"``: the first feature is the label slot of Model Monitor's layout, where a
    check of captured data finds the endpoint's output (a probability, not the label), so its
    constraints are switched off as the SDK's ``Constraints.set_monitoring(False, name)`` does.
    ``header`` records that the baselined CSV had a header row (``data_layout``).

    >>> from processing_scripts.columns import column_from_strings
    >>> c = suggest_constraints(build_statistics(Dataset([column_from_strings("_c0", ["a", ""])], 2)))
    >>> c["features"][0]
    {'name': '_c0', 'inferred_type': 'String', 'completeness': 0.5, 'string_constraints': {'domains': ['a']}}
    >>> c = suggest_constraints(build_statistics(Dataset([column_from_strings("_c0", ["0.9", ""])], 2)),
    ...                         label_column="first")
    >>> c["features"][0]["monitoring_config_overrides"], c["data_layout"]
    ({'evaluate_constraints': 'Disabled'}, {'header': False, 'label_column': 'first', 'feature_count': 1, \
'label_kept': True})
    """
    if label_column not in LABEL_COLUMNS:
        raise ValueError(f"label_column must be one of {LABEL_COLUMNS}, not {label_column!r}")
    item_count = statistics["dataset"]["item_count"]
    features = [feature_constraint(feature, item_count) for feature in statistics["features"]]
    if label_column == "first" and features:
        features[0]["monitoring_config_overrides"] = dict(MONITORING_DISABLED)
    return {
        "version": FORMAT_VERSION,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",  # the check's metrics: module cloudwatch (cloudwatch_metrics.json)
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": drift.distribution_constraints(),
        },
        # label_kept: the label is the first feature (baselines before it was kept held features only).
        "data_layout": {"header": bool(header), "label_column": label_column, "feature_count": len(features),
                        "label_kept": label_column == "first"},
    }


def to_json_bytes(document: Any, *, pretty: bool = True) -> bytes:
    """JSON, indented unless ``pretty=False`` (much faster for large statistics); refuses NaN and infinities."""
    return (json.dumps(document, indent=2 if pretty else None, allow_nan=False) + "\n").encode("utf-8")



"""The drift statistics of ``baseline_drift_check``: what they are, their thresholds, and their rows.

Changing the drift statistic is a change to this file (plus the command-line flag in ``monitor.py``
and the pipeline parameter in ``steps/drift_check.py`` when its threshold is renamed): the checks
(:mod:`checks`), the profile (``constraints.json``) and the report take whatever rows it gives.

* PSI, population stability index ``sum((q - p) * ln(q / p))`` over the baseline's ten numeric
  buckets (the outer ones open-ended, so values outside the baseline range land in the end buckets)
  or over category shares; a share below ``psi_epsilon`` (1e-4) is raised to it so that an empty
  bin gives a finite, large term. Threshold ``psi_threshold`` (0.2).
* Kolmogorov-Smirnov distance, numeric features: the largest gap between the new data's empirical
  CDF and the baseline sketch's CDF (exactly ``scipy.stats.ks_2samp``'s statistic when the sketch
  holds every baseline value). Threshold: Model Monitor's ``comparison_threshold`` (0.1). With
  ``comparison_method`` "Robust" the distance must also be significant: asymptotic p-value below
  ``ks_significance_level`` (0.05), so small batches do not raise alarms on noise; "Simple" uses
  the distance alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .columns import Column, as_text, bucket_counts, category_counts

PSI_THRESHOLD = 0.2
PSI_EPSILON = 1e-4
KS_SIGNIFICANCE_LEVEL = 0.05
COMPARISON_THRESHOLD = 0.1


def psi(expected: np.ndarray, actual: np.ndarray, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index between two count vectors over the same bins.

    >>> psi(np.array([50, 50]), np.array([50, 50]))
    0.0
    >>> round(psi(np.array([90, 10]), np.array([50, 50])), 4)
    0.8789
    """
    p = np.maximum(np.asarray(expected, float) / max(np.sum(expected), 1), epsilon)
    q = np.maximum(np.asarray(actual, float) / max(np.sum(actual), 1), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_distance(sketch: np.ndarray, sorted_values: np.ndarray) -> float:
    """Largest gap between the CDF of equal-weight sketch items and the empirical CDF of the values.

    >>> ks_distance(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    0.0
    >>> ks_distance(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    1.0
    """
    sketch = np.sort(np.asarray(sketch, dtype=np.float64))
    points = np.unique(sketch)
    k, m = len(sketch), len(sorted_values)
    # Both CDFs are step functions and the baseline's only steps at `points`: the largest gap is at a
    # point or just left of one (module docstring).
    base_le = np.searchsorted(sketch, points, side="right") / k
    base_lt = np.searchsorted(sketch, points, side="left") / k
    new_le = np.searchsorted(sorted_values, points, side="right") / m
    new_lt = np.searchsorted(sorted_values, points, side="left") / m
    return float(max(np.max(np.abs(new_le - base_le)), np.max(np.abs(new_lt - base_lt))))


def ks_pvalue(distance: float, n: int, m: int) -> float:
    """Asymptotic two-sample Kolmogorov-Smirnov p-value (Smirnov's limit distribution)."""
    if not n or not m:
        return 1.0
    x = math.sqrt(n * m / (n + m)) * distance
    if x < 0.2:  # the series converges slowly here, where the survival function is 1 to 1e-20
        return 1.0
    # Kolmogorov's survival function 2 sum (-1)^(k-1) exp(-2 k^2 x^2), as scipy.special.kolmogorov
    total = sum((-1) ** (k - 1) * math.exp(-2.0 * k * k * x * x) for k in range(1, 101))
    return float(min(max(2.0 * total, 0.0), 1.0))


@dataclass
class DriftSettings:
    """Thresholds of a check: constraints.json's values unless overridden."""

    evaluate_constraints: bool = True
    perform_comparison: bool = True
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    completeness_ratio: float = 1.0
    psi_threshold: float = PSI_THRESHOLD
    psi_epsilon: float = PSI_EPSILON
    ks_threshold: float = COMPARISON_THRESHOLD
    ks_significance_level: float | None = KS_SIGNIFICANCE_LEVEL  # None: "Simple" comparison

    @classmethod
    def from_constraints(cls, constraints: Mapping[str, Any], **overrides: float | None) -> "DriftSettings":
        config = constraints.get("monitoring_config", {})
        dist = config.get("distribution_constraints", {})
        settings = cls(
            evaluate_constraints=config.get("evaluate_constraints", "Enabled") == "Enabled",
            perform_comparison=dist.get("perform_comparison", "Enabled") == "Enabled",
            datatype_check_threshold=float(config.get("datatype_check_threshold", 1.0)),
            domain_content_threshold=float(config.get("domain_content_threshold", 1.0)),
            psi_threshold=float(dist.get("psi_threshold", PSI_THRESHOLD)),
            psi_epsilon=float(dist.get("psi_epsilon", PSI_EPSILON)),
            ks_threshold=float(dist.get("comparison_threshold", COMPARISON_THRESHOLD)),
            ks_significance_level=(float(dist.get("ks_significance_level", KS_SIGNIFICANCE_LEVEL))
                                   if dist.get("comparison_method", "Robust") == "Robust" else None),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(settings, key, value)
        return settings


def distribution_constraints() -> dict[str, Any]:
    """``constraints.json``'s ``monitoring_config.distribution_constraints``: Model Monitor's comparison
    settings and ours (the statistics behind baseline_drift_check and their thresholds)."""
    return {
        "perform_comparison": "Enabled",
        "comparison_threshold": COMPARISON_THRESHOLD,
        "comparison_method": "Robust",
        "drift_statistics": ["population_stability_index", "kolmogorov_smirnov_distance"],
        "psi_threshold": PSI_THRESHOLD,
        "psi_epsilon": PSI_EPSILON,
        "ks_significance_level": KS_SIGNIFICANCE_LEVEL,
    }


def statistic_row(statistic: str, value: float | None, threshold: float | None, verdict: str) -> dict[str, Any]:
    """One row of a feature's checks in drift_summary.json."""
    return {"statistic": statistic, "value": value, "threshold": threshold, "verdict": verdict}


def _psi_row(base_counts: np.ndarray, new_counts: np.ndarray, settings: DriftSettings, over: str) -> dict[str, Any]:
    value = psi(base_counts, new_counts, epsilon=settings.psi_epsilon)
    row = statistic_row("population_stability_index", value, settings.psi_threshold,
                        "violation" if value > settings.psi_threshold else "ok")
    row["description"] = f"population stability index (PSI) {value:.4f} > {settings.psi_threshold} over {over}"
    return row


def _ks_row(stats: Mapping[str, Any], values: np.ndarray, settings: DriftSettings) -> dict[str, Any] | None:
    sketch = np.asarray(stats["distribution"]["kll"]["sketch"]["data"][0], dtype=np.float64)
    if not len(sketch):
        return None
    distance = ks_distance(sketch, values)
    pvalue = ks_pvalue(distance, int(stats["common"]["num_present"]), len(values))
    alpha = settings.ks_significance_level
    drifted = distance > settings.ks_threshold and (alpha is None or pvalue < alpha)
    row = statistic_row("kolmogorov_smirnov_distance", distance, settings.ks_threshold, "violation" if drifted else "ok")
    row["p_value"] = pvalue
    row["description"] = (f"Kolmogorov-Smirnov distance {distance:.4f} > {settings.ks_threshold} "
                          f"against the baseline sketch (p-value {pvalue:.3g}"
                          + (f" < {alpha})" if alpha is not None else ")"))
    return row


def _numeric_drift(stats: Mapping[str, Any], values: np.ndarray, settings: DriftSettings) -> tuple[list[dict], dict]:
    buckets = stats["distribution"]["kll"]["buckets"]
    edges = np.array([b["lower_bound"] for b in buckets] + [buckets[-1]["upper_bound"]])
    base_counts = np.array([b["count"] for b in buckets])
    new_counts = bucket_counts(values, edges)
    rows = [_psi_row(base_counts, new_counts, settings, f"the baseline's {len(buckets)} numeric bins")]
    ks = _ks_row(stats, values, settings)
    if ks is not None:
        rows.append(ks)
    plot = {"kind": "numeric", "labels": [f"{edges[i]:.4g}" for i in range(len(buckets))],
            "baseline": (base_counts / max(base_counts.sum(), 1)).tolist(),
            "new": (new_counts / max(new_counts.sum(), 1)).tolist()}
    return rows, plot


def _categorical_drift(stats: Mapping[str, Any], column: Column, settings: DriftSettings) -> tuple[list[dict], dict]:
    base = {b["value"]: b["count"] for b in stats["distribution"]["categorical"]["buckets"]}
    new = dict(category_counts(column.strings if column.strings is not None else as_text(column)))
    base_other = stats["common"]["num_present"] - sum(base.values())  # categories beyond MAX_CATEGORIES
    unseen = [v for v in new if v not in base]
    categories = list(base) + unseen
    if base_other:  # unseen values may be among the uncounted baseline categories: pool them as "other"
        base_counts = np.array([base[v] for v in base] + [base_other])
        new_counts = np.array([new.get(v, 0) for v in base] + [sum(new[v] for v in unseen)])
    else:
        base_counts = np.array([base.get(v, 0) for v in categories])
        new_counts = np.array([new.get(v, 0) for v in categories])
    rows = [_psi_row(base_counts, new_counts, settings, f"{len(base_counts)} category shares")]
    shown = categories[:20]
    plot = {"kind": "categorical", "labels": shown,
            "baseline": [base.get(v, 0) / max(stats["common"]["num_present"], 1) for v in shown],
            "new": [new.get(v, 0) / column.num_present for v in shown]}
    return rows, plot


def drift_rows(baseline: Mapping[str, Any], column: Column, settings: DriftSettings) -> tuple[list[dict], dict | None]:
    """The drift statistics of one feature against its baseline (rows with a ``description`` of a
    violation) and the plot data of its distribution (None, with no rows: nothing to compare)."""
    if "numerical_statistics" in baseline:
        if not len(column.numbers):
            return [], None
        return _numeric_drift(baseline["numerical_statistics"], column.numbers, settings)
    if baseline["inferred_type"] != "String" or not column.num_present:
        return [], None
    return _categorical_drift(baseline["string_statistics"], column, settings)

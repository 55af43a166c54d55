"""``baseline_drift_check``: Model Monitor's drift distance, our declared extension, and their settings.

Model Monitor's semantics (those of Deequ's ``Distance``, the library inside its container), applied
to every baseline, ours or AWS's:

* numeric features: the L-infinity distance between the baseline's CDF (its KLL sketch, every level
  weighted, :mod:`kll`) and the new data's; categorical (String) features with ``categorical_drift_method``
  "LInfinity" (the default): the largest difference between the two category shares.
* ``comparison_method`` "Robust" (the default) subtracts the two-sample Kolmogorov-Smirnov critical
  value ``c_alpha * sqrt((n + m) / (n * m))`` (``c_alpha`` 1.8, Deequ's, alpha about 0.003) from the
  distance, floored at 0, so that small samples do not raise alarms on noise; "Simple" uses it as is.
* a violation when the distance exceeds ``comparison_threshold`` (0.1), or for String features
  ``categorical_comparison_threshold`` when the constraints set it.
* ``categorical_drift_method`` "ChiSquared": Pearson's chi-squared test of the new category counts
  against the baseline's shares, small categories regrouped as Deequ does (expected counts of at least
  10 for two categories, 5 for at most 20% of them otherwise); a violation when its p-value is below the
  threshold (Deequ returns the p-value for this method; it is not a distance).

Ours, only where our own ``constraints.json`` declares it in ``distribution_constraints.drift_statistics``:

* population stability index ``sum((q - p) * ln(q / p))`` over the baseline's ten numeric buckets (the
  outer ones open-ended) or category shares, shares below ``psi_epsilon`` raised to it. A violation
  needs PSI above ``psi_threshold`` (0.2) *and* evidence: the chi-squared statistic of the same bins
  (merged until each expects 5 new values) significant at ``significance_level`` (0.05) after Holm's
  correction over every PSI tested in the check, so that many features on a small sample keep the
  chance of any false alarm near 5%.

Not enough data: with the Robust method, a feature whose new values are too few for any distance to
exceed the threshold (the correction alone reaches ``1 - threshold``) gets the verdict "not enough
data" instead of "ok"; our constraints also declare ``min_sample_size`` (30): fewer present values
than that, "not enough data" whatever the method.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping, Sequence

import numpy as np

from . import kll
from .columns import Column, as_text, bucket_counts, category_counts

COMPARISON_THRESHOLD = 0.1
C_ALPHA = 1.8  # Deequ's default c(alpha) of the Robust comparison
PSI_THRESHOLD = 0.2
PSI_EPSILON = 1e-4
SIGNIFICANCE_LEVEL = 0.05
MIN_SAMPLE_SIZE = 30
PSI = "population_stability_index"
MIN_EXPECTED = 5.0  # new values a merged bin must expect before the chi-squared approximation is trusted

NOT_ENOUGH_DATA = "not enough data"
NOT_COMPARED = "not compared"


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


def linf_numeric(base_values: np.ndarray, base_weights: np.ndarray, new_sorted: np.ndarray) -> float:
    """Largest gap between the baseline sketch's CDF and the new values' empirical CDF (Deequ's linf_simple).

    The baseline CDF only steps at its items, and between two items the new CDF only rises, so the
    largest gap is at an item or just left of one: a few thousand points however large the new data.

    >>> linf_numeric(np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.array([1.0, 2.0]))
    0.0
    >>> linf_numeric(np.array([1.0, 2.0]), np.array([1.0, 3.0]), np.array([3.0, 4.0]))
    1.0
    """
    if not len(base_values) or not len(new_sorted):
        return 0.0
    points = np.unique(base_values)
    base_le = kll.cdf_at(base_values, base_weights, points)
    base_lt = np.concatenate(([0.0], base_le[:-1]))
    m = len(new_sorted)
    new_le = np.searchsorted(new_sorted, points, side="right") / m
    new_lt = np.searchsorted(new_sorted, points, side="left") / m
    return float(max(np.max(np.abs(new_le - base_le)), np.max(np.abs(new_lt - base_lt))))


def linf_categorical(base: Mapping[str, float], new: Mapping[str, float]) -> float:
    """Largest difference between the category shares of two count maps.

    >>> linf_categorical({"a": 3, "b": 1}, {"a": 1, "b": 1})
    0.25
    """
    n, m = sum(base.values()), sum(new.values())
    if not n or not m:
        return 0.0
    return float(max(abs(base.get(k, 0) / n - new.get(k, 0) / m) for k in set(base) | set(new)))


def robust(distance: float, n: float, m: float, *, c_alpha: float = C_ALPHA) -> float:
    """Deequ's linf_robust: the distance less the Kolmogorov-Smirnov critical value, at least 0.

    >>> robust(0.5, 100, 100) == max(0.0, 0.5 - 1.8 * math.sqrt(0.02))
    True
    """
    if not n or not m:
        return 0.0
    return max(0.0, distance - c_alpha * math.sqrt((n + m) / (n * m)))


def chi2_pvalue(statistic: float, dof: int) -> float:
    """Upper tail of the chi-squared distribution: the regularized upper incomplete gamma Q(dof/2, x/2)
    (series below a + 1, Lentz's continued fraction above; importing scipy costs more than a check).

    >>> round(chi2_pvalue(3.841458820694124, 1), 6), round(chi2_pvalue(18.307038053275146, 10), 6)
    (0.05, 0.05)
    """
    if dof <= 0 or not statistic > 0:
        return 1.0
    a, x = dof / 2.0, statistic / 2.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:  # the lower series, P(a, x); Q = 1 - P
        term = total = 1.0 / a
        k = a
        while abs(term) > abs(total) * 1e-15:
            k += 1.0
            term *= x / k
            total += term
        return float(min(max(1.0 - total * math.exp(log_front), 0.0), 1.0))
    tiny = 1e-300
    b = x + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return float(min(max(math.exp(log_front) * h, 0.0), 1.0))


def chi_squared_pvalue(base: Mapping[str, float], new: Mapping[str, float]) -> float:
    """Deequ's chi-squared test of new category counts against the baseline's shares (NaN: fewer than
    two categories after regrouping). New categories unknown to the baseline are left out, as Deequ does.

    >>> round(chi_squared_pvalue({"a": 500, "b": 500}, {"a": 60, "b": 40}), 4)
    0.0455
    """
    sample_sum = sum(v for k, v in new.items() if k in base)
    base_sum = sum(base.values())
    if not base_sum:
        return math.nan
    expected = {k: v / base_sum * sample_sum for k, v in base.items()}
    observed = {k: float(new.get(k, 0)) for k in base}
    while len(expected) >= 2:
        limit, allowed = (10.0, 0) if len(expected) == 2 else (5.0, int(0.2 * len(expected)))
        if sum(v < limit for v in expected.values()) <= allowed:
            break
        smallest = min(expected, key=expected.get)
        e, o = expected.pop(smallest), observed.pop(smallest)
        second = min(expected, key=expected.get)
        expected[second] += e
        observed[second] += o
    if len(expected) < 2:
        return math.nan
    statistic = sum((observed[k] - e) ** 2 / e for k, e in expected.items() if e > 0)
    return chi2_pvalue(statistic, len(expected) - 1)


def binned_pvalue(base_counts: np.ndarray, new_counts: np.ndarray) -> float:
    """Chi-squared p-value of two count vectors over the same ordered bins, adjacent bins merged until
    each expects :data:`MIN_EXPECTED` new values (both samples' noise counted).

    >>> binned_pvalue(np.array([500, 500]), np.array([50, 50]))
    1.0
    >>> binned_pvalue(np.array([500, 500]), np.array([90, 10])) < 1e-10
    True
    """
    base_counts, new_counts = np.asarray(base_counts, float), np.asarray(new_counts, float)
    n, m = base_counts.sum(), new_counts.sum()
    if not n or not m:
        return 1.0
    groups, open_base, open_new = [], 0.0, 0.0
    for b, q in zip(base_counts, new_counts):
        open_base, open_new = open_base + b, open_new + q
        if open_base / n * m >= MIN_EXPECTED:
            groups.append((open_base, open_new))
            open_base = open_new = 0.0
    if open_base or open_new:
        if groups:
            last_base, last_new = groups.pop()
            groups.append((last_base + open_base, last_new + open_new))
        else:
            groups.append((open_base, open_new))
    if len(groups) < 2:
        return 1.0
    p = np.array([g[0] for g in groups]) / n
    q = np.array([g[1] for g in groups]) / m
    statistic = float(np.sum((q - p) ** 2 / p) / (1 / n + 1 / m))
    return chi2_pvalue(statistic, len(groups) - 1)


def holm(pvalues: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down rejections: the family-wise chance of any false rejection stays at most ``alpha``.

    >>> holm([0.01, 0.04, 0.03], 0.05)
    [True, False, False]
    >>> holm([0.001, 0.02], 0.05)
    [True, True]
    """
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if not pvalues[i] <= alpha / (len(pvalues) - rank):
            break
        rejected[i] = True
    return rejected


# -------------------------------------------------------------------------------------------- settings

# The numeric settings and their ranges (a NaN fails both comparisons, so it is refused too).
_RANGES = {
    "datatype_check_threshold": (0.0, 1.0), "domain_content_threshold": (0.0, 1.0),
    "comparison_threshold": (0.0, 1.0), "categorical_comparison_threshold": (0.0, 1.0),
    "psi_threshold": (0.0, 1e300), "psi_epsilon": (1e-300, 1.0), "significance_level": (0.0, 1.0),
    "min_sample_size": (0, 1e12),
}


def _enabled(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("enabled", "true")


@dataclass(frozen=True)
class DriftSettings:
    """The settings of a check: constraints.json's (file-wide, then a feature's overrides) unless the
    command line overrides them."""

    evaluate_constraints: bool = True
    perform_comparison: bool = True
    emit_metrics: bool = True
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    completeness_ratio: float = 1.0
    comparison_threshold: float = COMPARISON_THRESHOLD
    categorical_comparison_threshold: float | None = None
    comparison_method: str = "Robust"
    categorical_drift_method: str = "LInfinity"
    psi: bool = False
    psi_threshold: float = PSI_THRESHOLD
    psi_epsilon: float = PSI_EPSILON
    significance_level: float = SIGNIFICANCE_LEVEL
    min_sample_size: int = 0  # ours where our constraints declare it (MIN_SAMPLE_SIZE); AWS's files: none

    @classmethod
    def from_constraints(cls, constraints: Mapping[str, Any], **overrides: float | None) -> "DriftSettings":
        """File-wide settings; ``overrides`` (None: keep) replace them, e.g. ``comparison_threshold=0.2``."""
        settings = cls()._with(constraints.get("monitoring_config") or {})
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **given) if given else settings

    def for_feature(self, constraint: Mapping[str, Any]) -> "DriftSettings":
        """These settings with a feature's ``monitoring_config_overrides`` (as the SDK's
        ``Constraints.set_monitoring(False, name)`` writes them, at the feature or in its num/string
        constraints; ``monitoringConfigOverrides`` as AWS's documentation spells it)."""
        settings = self
        for holder in (constraint, constraint.get("num_constraints"), constraint.get("string_constraints")):
            if isinstance(holder, Mapping):
                for key in ("monitoring_config_overrides", "monitoringConfigOverrides"):
                    if key in holder and not isinstance(holder[key], Mapping):
                        raise ValueError(f"{key} is not an object of settings")
                    if isinstance(holder.get(key), Mapping):
                        settings = settings._with(holder[key])
        return settings

    def _with(self, config: Mapping[str, Any]) -> "DriftSettings":
        dist = config.get("distribution_constraints")
        dist = dist if isinstance(dist, Mapping) else {}
        merged = {**config, **dist}
        values: dict[str, Any] = {}
        for key in ("evaluate_constraints", "emit_metrics", "perform_comparison"):
            if key in merged:
                values[key] = _enabled(merged[key], getattr(self, key))
        if "enable_comparisons" in merged:  # the older layout (sdk/monitor/constraints.json)
            values["perform_comparison"] = _enabled(merged["enable_comparisons"], self.perform_comparison)
        for key, (low, high) in _RANGES.items():
            if key in merged and merged[key] is not None:
                value = merged[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                    raise ValueError(f"{key} {repr(value)[:40]} is not a number from {low} to {high}")
                values[key] = int(value) if key == "min_sample_size" else float(value)
        for key in ("comparison_method", "categorical_drift_method"):
            if isinstance(merged.get(key), str):
                values[key] = merged[key]
        if isinstance(merged.get("drift_statistics"), list):
            values["psi"] = PSI in merged["drift_statistics"]
        return replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_method(settings: DriftSettings) -> str | None:
    """None, or what is wrong with the comparison settings (the caller names the file)."""
    if settings.comparison_method not in ("Robust", "Simple"):
        return f"comparison_method {settings.comparison_method!r} is not Robust or Simple"
    if settings.categorical_drift_method not in ("LInfinity", "ChiSquared"):
        return f"categorical_drift_method {settings.categorical_drift_method!r} is not LInfinity or ChiSquared"
    return None


def distribution_constraints() -> dict[str, Any]:
    """``constraints.json``'s ``monitoring_config.distribution_constraints`` that our baselines write:
    Model Monitor's settings, then our declared extension and its settings."""
    return {
        "perform_comparison": "Enabled",
        "comparison_threshold": COMPARISON_THRESHOLD,
        "comparison_method": "Robust",
        "drift_statistics": [PSI],
        "psi_threshold": PSI_THRESHOLD,
        "psi_epsilon": PSI_EPSILON,
        "significance_level": SIGNIFICANCE_LEVEL,
        "min_sample_size": MIN_SAMPLE_SIZE,
    }


# ------------------------------------------------------------------------------------------------ rows

def statistic_row(statistic: str, value: float | None, threshold: float | None, verdict: str) -> dict[str, Any]:
    """One row of a feature's checks in drift_summary.json."""
    return {"statistic": statistic, "value": value, "threshold": threshold, "verdict": verdict}


def _number(value: float) -> str:
    return repr(float(value))


def _pvalue(value: float) -> str:
    return "< 1e-16" if value < 1e-16 else f"{value:.3g}"


def _distance_row(distance: float, simple: float, threshold: float, settings: DriftSettings,
                  what: str) -> dict[str, Any]:
    statistic = f"linf_{settings.comparison_method.lower()}"
    row = statistic_row(statistic, distance, threshold, "violation" if distance > threshold else "ok")
    row["linf_simple"] = simple
    row["summary"] = f"L-infinity distance of the {what} ({settings.comparison_method}) {distance:.4g} > {threshold}"
    row["description"] = (f"L-infinity distance of the {what} ({settings.comparison_method}). "
                          f"Baseline drift distance: {_number(distance)} exceeds threshold: {_number(threshold)}")
    return row


def _psi_row(base_counts: np.ndarray, new_counts: np.ndarray, settings: DriftSettings, over: str) -> dict[str, Any]:
    value = psi(base_counts, new_counts, epsilon=settings.psi_epsilon)
    row = statistic_row(PSI, value, settings.psi_threshold, "ok")
    row["p_value"] = binned_pvalue(base_counts, new_counts)
    row["over"] = over
    return row


@dataclass
class FeatureDrift:
    """A feature's drift rows (PSI verdicts wait for Holm's correction) and its plot data."""

    rows: list[dict[str, Any]]
    plot: dict[str, Any] | None
    distance: float | None = None  # Model Monitor's distance, for the metrics


def _numeric(stats: Mapping[str, Any], values: np.ndarray, settings: DriftSettings) -> FeatureDrift:
    distribution = stats.get("distribution") if isinstance(stats, Mapping) else None
    kll_doc = distribution.get("kll") if isinstance(distribution, Mapping) else None
    if not isinstance(kll_doc, Mapping) or not isinstance(kll_doc.get("sketch"), Mapping):
        return FeatureDrift([statistic_row("baseline_drift", None, None, NOT_COMPARED)
                             | {"reason": "the baseline has no KLL sketch for this feature"}], None)
    base_values, base_weights = kll.weighted_items(kll_doc["sketch"])
    if not base_weights.sum():
        return FeatureDrift([statistic_row("baseline_drift", None, None, NOT_COMPARED)
                             | {"reason": "the baseline's KLL sketch holds no items"}], None)
    n = float((stats.get("common") or {}).get("num_present") or base_weights.sum())
    simple = linf_numeric(base_values, base_weights, values)
    distance = robust(simple, n, len(values)) if settings.comparison_method == "Robust" else simple
    rows = [_distance_row(distance, simple, settings.comparison_threshold, settings, "CDFs")]
    plot = None
    buckets = kll_doc.get("buckets")
    if isinstance(buckets, list) and buckets:
        edges = np.array([b["lower_bound"] for b in buckets] + [buckets[-1]["upper_bound"]], dtype=float)
        base_counts = np.array([b["count"] for b in buckets], dtype=float)
        new_counts = bucket_counts(values, edges)
        if settings.psi:
            rows.append(_psi_row(base_counts, new_counts, settings, f"the baseline's {len(buckets)} numeric bins"))
        plot = {"kind": "numeric", "labels": [f"{edges[i]:.4g}" for i in range(len(buckets))],
                "baseline": (base_counts / max(base_counts.sum(), 1)).tolist(),
                "new": (new_counts / max(new_counts.sum(), 1)).tolist()}
    return FeatureDrift(rows, plot, distance)


def _categorical(stats: Mapping[str, Any], column: Column, settings: DriftSettings) -> FeatureDrift:
    distribution = stats.get("distribution") if isinstance(stats, Mapping) else None
    categorical = distribution.get("categorical") if isinstance(distribution, Mapping) else None
    if not isinstance(categorical, Mapping) or not isinstance(categorical.get("buckets"), list):
        return FeatureDrift([statistic_row("baseline_drift", None, None, NOT_COMPARED)
                             | {"reason": "the baseline has no category counts for this feature"}], None)
    base = {str(b["value"]): float(b["count"]) for b in categorical["buckets"]}
    new = dict(category_counts(column.strings if column.strings is not None else as_text(column)))
    threshold = settings.categorical_comparison_threshold
    threshold = settings.comparison_threshold if threshold is None else threshold
    if settings.categorical_drift_method == "ChiSquared":
        pvalue = chi_squared_pvalue(base, new)
        if math.isnan(pvalue):
            rows = [statistic_row("chi_squared_p_value", None, threshold, NOT_COMPARED)
                    | {"reason": "fewer than two categories after regrouping"}]
        else:
            row = statistic_row("chi_squared_p_value", pvalue, threshold, "violation" if pvalue < threshold else "ok")
            row["summary"] = f"chi-squared p-value of the category counts {_pvalue(pvalue)} < {threshold}"
            row["description"] = (f"Chi-squared test of the category counts: p-value {_number(pvalue)} "
                                  f"is below threshold: {_number(threshold)}")
            rows = [row]
        distance = None
    else:
        simple = linf_categorical(base, new)
        n = sum(base.values())
        distance = robust(simple, n, column.num_present) if settings.comparison_method == "Robust" else simple
        rows = [_distance_row(distance, simple, threshold, settings, "category shares")]
    base_present = float((stats.get("common") or {}).get("num_present") or sum(base.values()))
    base_other = base_present - sum(base.values())  # categories beyond the baseline's bucket list
    unseen = [v for v in new if v not in base]
    if base_other > 0:  # unseen values may be among the uncounted baseline categories: pool them as "other"
        base_counts = np.array([base[v] for v in base] + [base_other])
        new_counts = np.array([new.get(v, 0) for v in base] + [sum(new[v] for v in unseen)])
    else:
        base_counts = np.array([base[v] for v in base] + [0.0] * len(unseen))
        new_counts = np.array([new.get(v, 0) for v in base] + [new[v] for v in unseen])
    if settings.psi:
        # Ordered by baseline share so that merging for the chi-squared test pools the rare categories.
        order = np.argsort(-base_counts, kind="stable")
        rows.append(_psi_row(base_counts[order], new_counts[order], settings, f"{len(base_counts)} category shares"))
    shown = (list(base) + unseen)[:20]
    plot = {"kind": "categorical", "labels": shown,
            "baseline": [base.get(v, 0) / max(base_present, 1) for v in shown],
            "new": [new.get(v, 0) / column.num_present for v in shown]}
    return FeatureDrift(rows, plot, distance)


def feature_drift(baseline: Mapping[str, Any], declared_type: str, column: Column,
                  settings: DriftSettings) -> FeatureDrift:
    """The drift rows of one feature against its baseline statistics (``declared_type``: the type its
    constraint declares). Below ``min_sample_size`` present values: one "not enough data" row."""
    if column.num_present < max(settings.min_sample_size, 1):
        return FeatureDrift([statistic_row("baseline_drift", None, None, NOT_ENOUGH_DATA)
                             | {"reason": f"{column.num_present} present value(s); a drift verdict needs at least "
                                          f"{max(settings.min_sample_size, 1)}"}], None)
    stats = baseline.get("numerical_statistics") or baseline.get("string_statistics")
    n = (stats.get("common") or {}).get("num_present") if isinstance(stats, Mapping) else None
    threshold = settings.comparison_threshold
    if "numerical_statistics" not in baseline and settings.categorical_comparison_threshold is not None:
        threshold = settings.categorical_comparison_threshold
    if settings.comparison_method == "Robust" and isinstance(n, (int, float)) and n > 0 \
            and (settings.categorical_drift_method == "LInfinity" or "numerical_statistics" in baseline) \
            and robust(1.0, n, column.num_present) <= threshold:
        return FeatureDrift([statistic_row("baseline_drift", None, None, NOT_ENOUGH_DATA)
                             | {"reason": f"{column.num_present} present value(s): with the Robust correction no "
                                          f"distance could exceed {threshold}"}], None)
    if "numerical_statistics" in baseline and declared_type != "String":
        if not len(column.numbers):
            return FeatureDrift([statistic_row("baseline_drift", None, None, NOT_COMPARED)
                                 | {"reason": "no numbers in the new data"}], None)
        return _numeric(baseline["numerical_statistics"], column.numbers, settings)
    if "string_statistics" in baseline:
        return _categorical(baseline["string_statistics"], column, settings)
    return FeatureDrift([statistic_row("baseline_drift", None, None, NOT_COMPARED)
                         | {"reason": "the baseline has no statistics for this feature"}], None)


def decide_psi(features: Sequence[FeatureDrift], alpha: float) -> None:
    """Give every PSI row its verdict: above its threshold and significant after Holm's correction over
    all PSI rows of the check."""
    rows = [row for feature in features for row in feature.rows if row["statistic"] == PSI]
    significant = holm([row["p_value"] for row in rows], alpha)
    for row, evidence in zip(rows, significant):
        row["significant"] = evidence
        if row["value"] > row["threshold"] and evidence:
            row["verdict"] = "violation"
            significance = f"chi-squared p-value {_pvalue(row['p_value'])}, significant after Holm's correction at {alpha}"
            row["summary"] = f"population stability index {row['value']:.4g} > {row['threshold']} ({significance})"
            row["description"] = (f"Population stability index over {row['over']} ({significance}). Baseline drift "
                                  f"distance: {_number(row['value'])} exceeds threshold: {_number(row['threshold'])}")

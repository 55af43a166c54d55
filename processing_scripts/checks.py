"""The checks of Model Monitor's data-quality monitoring job: new data against a baseline.

Per feature: data type, completeness and categorical values (``constraints.json``'s thresholds),
and ``baseline_drift_check`` from the statistics of :mod:`drift`; per data set: missing and extra
columns. The result is ``constraint_violations.json`` entries and our per-feature summary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .columns import Column, Dataset, as_text, category_counts, integral_count
from .drift import DriftSettings, drift_rows, statistic_row

CHECK_TYPES = ("data_type_check", "completeness_check", "baseline_drift_check", "missing_column_check",
               "extra_column_check", "categorical_values_check")


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


def _type_conformity(baseline_type: str, column: Column) -> float:
    """Fraction of present values that are of the baseline type (integers count as Fractional)."""
    if baseline_type == "Integral":
        return integral_count(column) / column.num_present
    if baseline_type == "Fractional":
        return len(column.numbers) / column.num_present
    return 1.0


def check_feature(baseline: Mapping[str, Any], constraint: Mapping[str, Any], column: Column,
                  item_count: int, settings: DriftSettings) -> dict[str, Any]:
    """Checks of one feature present in both data sets: its summary row, violations and plot data."""
    name, base_type = baseline["name"], baseline["inferred_type"]
    violations, rows, plot = [], [], None
    if settings.evaluate_constraints and column.num_present:
        conformity = _type_conformity(base_type, column)
        ok = conformity >= settings.datatype_check_threshold
        rows.append(statistic_row("data_type_conformity", conformity, settings.datatype_check_threshold, "ok" if ok else "violation"))
        if not ok:
            violations.append(_violation(name, "data_type_check",
                f"data type check: baseline type {base_type}, new data {column.inferred_type}; {conformity:.2%} of "
                f"{column.num_present} present values are {base_type}, below datatype_check_threshold "
                f"{settings.datatype_check_threshold}"))
    if settings.evaluate_constraints:
        completeness = column.num_present / item_count if item_count else 0.0
        limit = float(constraint.get("completeness", 0.0)) * settings.completeness_ratio
        ok = completeness >= limit - 1e-12
        rows.append(statistic_row("completeness", completeness, limit, "ok" if ok else "violation"))
        if not ok:
            violations.append(_violation(name, "completeness_check",
                f"completeness check: {completeness:.4f} of values present, baseline "
                f"{constraint.get('completeness'):.4f} x {settings.completeness_ratio} = {limit:.4f} required"))
    domains = constraint.get("string_constraints", {}).get("domains")
    if settings.evaluate_constraints and domains is not None and column.num_present:
        new_pairs = category_counts(column.strings if column.strings is not None else as_text(column))
        known = set(domains)
        unknown = [(v, c) for v, c in new_pairs if v not in known]
        inside = 1.0 - sum(c for _, c in unknown) / column.num_present
        ok = inside >= settings.domain_content_threshold
        rows.append(statistic_row("domain_content", inside, settings.domain_content_threshold, "ok" if ok else "violation"))
        if not ok:
            shown = ", ".join(repr(v) for v, _ in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            violations.append(_violation(name, "categorical_values_check",
                f"categorical values check: {len(unknown)} value(s) outside the baseline domain ({shown}); "
                f"{inside:.2%} of values are in it, below domain_content_threshold {settings.domain_content_threshold}"))
    if settings.perform_comparison:
        statistics, plot = drift_rows(baseline, column, settings)
        rows += statistics
        failed = [r for r in statistics if r["verdict"] == "violation"]
        if failed:
            violations.append(_violation(name, "baseline_drift_check", "baseline drift check: " + "; ".join(
                r["description"] for r in failed)))
        for r in statistics:
            r.pop("description", None)
    return {"name": name, "inferred_type": base_type, "new_inferred_type": column.inferred_type,
            "completeness": column.num_present / item_count if item_count else 0.0,
            "statistics": rows, "violations": [v["constraint_check_type"] for v in violations],
            "plot": plot, "_violations": violations}


@dataclass
class DriftResult:
    """What a check found: Model Monitor violations and our per-feature summary."""

    violations: list[dict[str, str]]
    summary: dict[str, Any]
    plots: dict[str, dict]


def check_drift(statistics: Mapping[str, Any], constraints: Mapping[str, Any], dataset: Dataset,
                **overrides: float | None) -> DriftResult:
    """Compare a data set with a baseline (``statistics.json`` + ``constraints.json``); ``overrides``
    replace settings of :class:`drift.DriftSettings` (e.g. ``psi_threshold=0.3``; None: keep)."""
    settings = DriftSettings.from_constraints(constraints, **overrides)
    base_features = statistics["features"]
    constraint_by_name = {c["name"]: c for c in constraints.get("features", [])}
    violations: list[dict[str, str]] = []
    rows, plots = [], {}
    for i, baseline in enumerate(base_features):
        name = baseline["name"]
        if i >= len(dataset.columns):
            violations.append(_violation(name, "missing_column_check",
                f"missing column check: {name} is in the baseline ({len(base_features)} columns) but the data has "
                f"only {len(dataset.columns)} columns"))
            rows.append({"name": name, "inferred_type": baseline["inferred_type"], "new_inferred_type": None,
                         "completeness": None, "statistics": [], "violations": ["missing_column_check"]})
            continue
        result = check_feature(baseline, constraint_by_name.get(name, {}), dataset.columns[i],
                               dataset.item_count, settings)
        violations += result.pop("_violations")
        plot = result.pop("plot")
        if plot is not None:
            plots[name] = plot
        rows.append(result)
    for column in dataset.columns[len(base_features):]:
        violations.append(_violation(column.name, "extra_column_check",
            f"extra column check: {column.name} is not in the baseline, which has {len(base_features)} columns"))
        rows.append({"name": column.name, "inferred_type": None, "new_inferred_type": column.inferred_type,
                     "completeness": column.num_present / dataset.item_count, "statistics": [],
                     "violations": ["extra_column_check"]})
    summary = {
        "version": 0,
        "drift_detected": bool(violations),
        "violation_count": len(violations),
        "violations_by_check": {t: sum(v["constraint_check_type"] == t for v in violations)
                                for t in CHECK_TYPES},
        "dataset": {"item_count": dataset.item_count, "column_count": len(dataset.columns),
                    "baseline_item_count": statistics["dataset"]["item_count"],
                    "baseline_column_count": len(base_features)},
        "settings": {k: getattr(settings, k) for k in settings.__dataclass_fields__},
        "features": rows,
    }
    return DriftResult(violations, summary, plots)


def iter_violation_lines(violations: Iterable[Mapping[str, str]]) -> Iterable[str]:
    """``feature: check: description`` lines for a terminal."""
    for v in violations:
        yield f"{v['feature_name']}: {v['constraint_check_type']}: {v['description']}"

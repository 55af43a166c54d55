"""The checks of Model Monitor's data-quality monitoring job: new data against a baseline.

Per feature: data type (against the type its constraint declares), completeness and categorical values
(``constraints.json``'s thresholds, file-wide or the feature's ``monitoring_config_overrides``), and
``baseline_drift_check`` from :mod:`drift`; per data set: missing and extra columns. Descriptions use
Model Monitor's wording, which AWS's tools parse (``Value: X does not meet the constraint requirement! ``,
``Baseline drift distance: X exceeds threshold: Y``).

Columns line up with the baseline's features as Model Monitor lines them up: by name when the data has
a header, else by position, captured records being the endpoint's output fields then its input fields
(:mod:`capture`). A baseline of ours that keeps the label as its first column (``data_layout.label_kept``)
also accepts data without that column (features-only CSV, input-only captures): the features then line up
from its second column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .columns import Column, DataError, Dataset, NUMERIC_TYPES, integral_count
from .columns import as_text, category_counts
from .drift import (NOT_COMPARED, NOT_ENOUGH_DATA, PSI, DriftSettings, FeatureDrift, check_method, decide_psi,
                    feature_drift, statistic_row)

CHECK_TYPES = ("data_type_check", "completeness_check", "baseline_drift_check", "missing_column_check",
               "extra_column_check", "categorical_values_check")


def _violation(name: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": name, "constraint_check_type": check, "description": description}


def _percent(share: float) -> str:
    return repr(float(share) * 100)


def _requirement(share: float) -> str:
    return f"Value: {float(share)!r} does not meet the constraint requirement! "


def type_conformity(declared: str, column: Column) -> float:
    """Share of present values of the declared type, as Deequ counts them: integers are Fractional too;
    String counts values that are not numbers."""
    if declared == "Integral":
        return integral_count(column) / column.num_present
    if declared == "Fractional":
        return len(column.numbers) / column.num_present
    if declared == "String":
        return (column.num_present - len(column.numbers)) / column.num_present
    return 1.0


def _constraint_checks(name: str, declared: str, constraint: Mapping[str, Any], column: Column, item_count: int,
                       settings: DriftSettings) -> tuple[list[dict], list[dict]]:
    rows, violations = [], []
    if column.num_present and declared in NUMERIC_TYPES + ("String",):
        conformity = type_conformity(declared, column)
        ok = conformity >= settings.datatype_check_threshold
        rows.append(statistic_row("data_type_conformity", conformity, settings.datatype_check_threshold,
                                  "ok" if ok else "violation"))
        if not ok:
            violations.append(_violation(name, "data_type_check",
                f"Data type match requirement is not met. Expected data type: {declared}, Expected match: "
                f"{_percent(settings.datatype_check_threshold)}%. Observed: Only {_percent(conformity)}% of data "
                f"is {declared}."))
    completeness = column.num_present / item_count if item_count else 0.0
    required = float(constraint.get("completeness", 0.0) or 0.0) * settings.completeness_ratio
    ok = completeness >= required - 1e-12
    rows.append(statistic_row("completeness", completeness, required, "ok" if ok else "violation"))
    if not ok:
        violations.append(_violation(name, "completeness_check", _requirement(completeness)))
    string_constraints = constraint.get("string_constraints")
    domains = string_constraints.get("domains") if isinstance(string_constraints, Mapping) else None
    if isinstance(domains, list) and column.num_present:
        values = column.strings if column.strings is not None else as_text(column)
        known = {str(d) for d in domains}
        inside = sum(c for v, c in category_counts(values) if v in known) / column.num_present
        ok = inside >= settings.domain_content_threshold
        rows.append(statistic_row("domain_content", inside, settings.domain_content_threshold,
                                  "ok" if ok else "violation"))
        if not ok:
            violations.append(_violation(name, "categorical_values_check", _requirement(inside)))
    return rows, violations


@dataclass
class _Feature:
    baseline: Mapping[str, Any]
    constraint: Mapping[str, Any]
    column: Column | None
    settings: DriftSettings


@dataclass
class DriftResult:
    """What a check found: Model Monitor violations and our per-feature summary."""

    violations: list[dict[str, str]]
    summary: dict[str, Any]
    plots: dict[str, dict]
    distances: dict[str, float]  # Model Monitor's drift distance per compared feature (for the metrics)
    aligned: Dataset | None = None  # the data's columns under the baseline's names, then the extra ones


def _baseline_features(statistics: Mapping[str, Any], constraints: Mapping[str, Any], where: str) -> list[tuple[dict, dict]]:
    by_name = {}
    for c in constraints.get("features", []):
        if isinstance(c, Mapping) and isinstance(c.get("name"), str):
            by_name[c["name"]] = c
    pairs = []
    for i, feature in enumerate(statistics["features"]):
        if not isinstance(feature, Mapping) or not isinstance(feature.get("name"), str):
            raise DataError(f"{where}: feature {i + 1} has no name; rebuild the baseline")
        pairs.append((feature, by_name.get(feature["name"], {})))
    return pairs


def align(baseline_names: Sequence[str], dataset: Dataset, *, label_kept: bool, features_only: bool = False
          ) -> tuple[list[Column | None], list[Column]]:
    """The data's column for each baseline feature (None: missing), and the columns left over.

    ``label_kept``: the baseline's first feature is the label slot (features-only data may lack it);
    ``features_only``: the baseline holds features only (our baselines before the label was kept), so
    captured output fields are left out.
    """
    columns = list(dataset.columns)
    if features_only:
        columns = columns[dataset.output_width:]
    if dataset.header:
        by_name = {c.name: c for c in columns}
        matched = [by_name.pop(name, None) for name in baseline_names]
        return matched, [c for c in columns if c.name in by_name]
    start = 0
    if label_kept and len(columns) == len(baseline_names) - 1 and not dataset.output_width:
        start = 1  # features-only data against a baseline that keeps the label first
    matched: list[Column | None] = [None] * start
    matched += columns[:len(baseline_names) - start]
    matched += [None] * (len(baseline_names) - len(matched))
    return matched, columns[len(baseline_names) - start:]


def check_drift(statistics: Mapping[str, Any], constraints: Mapping[str, Any], dataset: Dataset, *,
                where: str = "constraints.json", statistics_where: str = "statistics.json",
                **overrides: float | None) -> DriftResult:
    """Compare a data set with a baseline (``statistics.json`` + ``constraints.json``); ``overrides``
    replace settings of :class:`drift.DriftSettings` (e.g. ``psi_threshold=0.3``; None: keep);
    ``where`` and ``statistics_where`` name the two files in messages."""
    try:
        settings = DriftSettings.from_constraints(constraints, **overrides)
    except ValueError as error:
        raise DataError(f"{where}: {error}") from None
    problem = check_method(settings)
    if problem:
        raise DataError(f"{where}: {problem}; fix monitoring_config.distribution_constraints")
    layout = constraints.get("data_layout") if isinstance(constraints.get("data_layout"), Mapping) else {}
    label_kept = bool(layout.get("label_kept"))
    pairs = _baseline_features(statistics, constraints, statistics_where)
    matched, extra = align([f["name"] for f, _ in pairs], dataset, label_kept=label_kept,
                           features_only=bool(layout) and not label_kept)
    features = []
    for (baseline, constraint), column in zip(pairs, matched):
        try:
            feature_settings = settings.for_feature(constraint)
        except ValueError as error:
            raise DataError(f"{where}: feature {baseline['name']}: {error}") from None
        declared = constraint.get("inferred_type", baseline.get("inferred_type"))
        if declared not in ("Integral", "Fractional", "String", "Unknown"):
            raise DataError(f"{where}: feature {baseline['name']}: inferred_type {str(declared)[:40]!r} is not "
                            "Integral, Fractional, String or Unknown")
        problem = check_method(feature_settings)
        if problem:
            raise DataError(f"{where}: feature {baseline['name']}: {problem}; fix its monitoring_config_overrides")
        features.append(_Feature(baseline, constraint, column, feature_settings))

    violations: list[dict[str, str]] = []
    rows, plots, distances, drifts = [], {}, {}, []
    # The label slot of a baseline that keeps the label may be absent: features-only data has no label.
    missing = {i for i, f in enumerate(features) if f.column is None and not (label_kept and i == 0)}
    present_columns = sum(c is not None for c in matched) + len(extra)
    for index, feature in enumerate(features):
        base, name = feature.baseline, feature.baseline["name"]
        declared = feature.constraint.get("inferred_type") or base.get("inferred_type")
        row = {"name": name, "inferred_type": declared, "new_inferred_type": None, "completeness": None,
               "statistics": [], "violations": [], "monitored": feature.settings.evaluate_constraints,
               "emit_metrics": feature.settings.emit_metrics}
        rows.append(row)
        drift = None
        if feature.column is None:
            if index in missing and feature.settings.evaluate_constraints:
                violation = _violation(name, "missing_column_check",
                    f"There are missing columns in current dataset. Number of columns in current dataset: "
                    f"{present_columns}, Number of columns in baseline constraints: {len(features)}")
                violations.append(violation)
                row["violations"].append("missing_column_check")
            drifts.append((feature, row, None))
            continue
        column = feature.column
        row["new_inferred_type"] = column.inferred_type
        row["completeness"] = column.num_present / dataset.item_count if dataset.item_count else 0.0
        if not feature.settings.evaluate_constraints:  # set_monitoring(False, feature): not monitored
            drifts.append((feature, row, None))
            continue
        checks, found = _constraint_checks(name, declared, feature.constraint, column, dataset.item_count,
                                           feature.settings)
        row["statistics"] += checks
        violations += found
        row["violations"] += [v["constraint_check_type"] for v in found]
        if feature.settings.perform_comparison:
            try:
                drift = feature_drift(base, declared, column, feature.settings)
            except (KeyError, TypeError, ValueError, AttributeError) as error:  # a hand-edited or foreign file
                detail = error if isinstance(error, DataError) else f"{type(error).__name__}: {error}"
                raise DataError(f"{statistics_where}: feature {name}: its distribution is malformed ({detail}); "
                                "rebuild the baseline") from None
            row["statistics"] += drift.rows
            if drift.plot is not None:
                plots[name] = drift.plot
            if drift.distance is not None:
                distances[name] = drift.distance
        drifts.append((feature, row, drift))
    decide_psi([d for _, _, d in drifts if d is not None], settings.significance_level)
    for feature, row, drift in drifts:
        if drift is None:
            continue
        failed = [r for r in drift.rows if r["verdict"] == "violation"]
        if failed:
            # One violation per feature; AWS's tools read the last "distance: X exceeds threshold: Y".
            primary = failed[0]  # Model Monitor's distance when it failed (the rows put it first)
            others = "; ".join(r["summary"] for r in failed[1:])
            violations.append(_violation(feature.baseline["name"], "baseline_drift_check",
                                         (f"Also {others}. " if others else "") + primary["description"]))
            row["violations"].append("baseline_drift_check")
        for r in drift.rows:
            for key in ("description", "summary", "over"):
                r.pop(key, None)
    for column in extra:
        if settings.evaluate_constraints:
            violations.append(_violation(column.name, "extra_column_check",
                f"There are extra columns in current dataset. Number of columns in current dataset: "
                f"{present_columns}, Number of columns in baseline constraints: {len(features)}"))
        rows.append({"name": column.name, "inferred_type": None, "new_inferred_type": column.inferred_type,
                     "completeness": column.num_present / dataset.item_count if dataset.item_count else 0.0,
                     "statistics": [], "violations": ["extra_column_check"] if settings.evaluate_constraints else [],
                     "monitored": settings.evaluate_constraints})
    position: dict[str, int] = {}  # violations in feature order, as the features are listed
    for name in [f.baseline["name"] for f in features] + [c.name for c in extra]:
        position.setdefault(name, len(position))
    violations.sort(key=lambda v: position.get(v["feature_name"], len(position)))
    not_enough = [r["name"] for r in rows if any(s["verdict"] == NOT_ENOUGH_DATA for s in r["statistics"])]
    summary = {
        "version": 0.0,
        "drift_detected": bool(violations),
        "violation_count": len(violations),
        "violations_by_check": {t: sum(v["constraint_check_type"] == t for v in violations) for t in CHECK_TYPES},
        "not_enough_data": not_enough,
        "not_compared": [r["name"] for r in rows if any(s["verdict"] == NOT_COMPARED for s in r["statistics"])],
        "not_monitored": [r["name"] for r in rows if not r["monitored"]],
        "dataset": {"item_count": dataset.item_count, "column_count": len(dataset.columns),
                    "baseline_item_count": statistics["dataset"]["item_count"],
                    "baseline_column_count": len(features)},
        "settings": settings.as_dict(),
        "features": rows,
    }
    named = []
    for feature, column in zip(features, matched):
        if column is not None:
            column.name = feature.baseline["name"]
            named.append(column)
    aligned = Dataset(named + list(extra), dataset.item_count, dataset.sources)
    return DriftResult(violations, summary, plots, distances, aligned)


def iter_violation_lines(violations: Iterable[Mapping[str, str]]) -> Iterable[str]:
    """``feature: check: description`` lines for a terminal."""
    for v in violations:
        yield f"{v['feature_name']}: {v['constraint_check_type']}: {v['description']}"


__all__ = ["CHECK_TYPES", "DriftResult", "align", "check_drift", "iter_violation_lines", "type_conformity", "PSI"]

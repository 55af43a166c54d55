"""The quality gate, defined once.

Every gate setting is a row of the parameter table (``parameters.GATE_PARAMETERS``: name, type,
default, range, the evaluate.py flag that receives it, the ``GateSettings`` attribute), and every rule
is a pure function of evaluation.json, the settings and the champion evidence. The evaluation step writes one decision into evaluation.json
(``gate.passed``, ``gate.checks``, ``gate.summary``, ``gate.record``); the pipeline's ConditionStep
branches on ``gate.passed``, its FailStep quotes ``gate.summary`` and the RegisterModel step copies
``gate.record`` into the package's CustomerMetadataProperties, so the rule lives only here.

This module runs inside the processing container too: no SDK, no AWS.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, make_dataclass
from dataclasses import field as dataclass_field
from typing import Any, Mapping, Sequence

from . import customer_metadata
from .metric_catalog import number, spec
from .parameters import FIRST_MODEL_POLICIES, GATE_PARAMETERS, ParameterError  # noqa: F401 (re-exported)

PASSED_PATH = "gate.passed"
SUMMARY_PATH = "gate.summary"
RECORD_PATH = "gate.record"


def _settings_class() -> type:
    """GateSettings: one frozen attribute per gate row of the parameter table, its default the table's."""

    def __post_init__(self) -> None:
        for parameter in GATE_PARAMETERS:
            parameter.parse(getattr(self, parameter.field))

    def by_parameter(self) -> dict[str, Any]:
        """``{"AucThreshold": 0.75, ...}``, as the pipeline names them."""
        return {p.name: getattr(self, p.field) for p in GATE_PARAMETERS}

    types = {"Float": float, "Integer": int, "String": str, "Boolean": bool}
    return make_dataclass(
        "GateSettings",
        [(p.field, types[p.type], dataclass_field(default=p.default)) for p in GATE_PARAMETERS],
        namespace={"__post_init__": __post_init__, "by_parameter": by_parameter,
                   "__doc__": "The gate's parameters for one execution (attributes and defaults: GATE_PARAMETERS).",
                   "__module__": __name__},
        frozen=True,
    )


GateSettings = _settings_class()


@dataclass(frozen=True)
class GateMetric:
    """A metric the gate thresholds and compares with the champion."""

    metric: str
    value_path: str
    lower_path: str  # the lower 95% confidence bound
    threshold: str  # GateSettings field
    max_regression: str  # GateSettings field


GATE_METRICS: tuple[GateMetric, ...] = (
    GateMetric("auc", spec("auc").value_path, spec("auc").lower_bound_path, "auc_threshold", "max_auc_regression"),
    GateMetric("f1", spec("f1").value_path, spec("f1").lower_bound_path, "f1_threshold", "max_f1_regression"),
)

RECORD_KEYS = (
    "gate_passed",
    "gate_checks",
    "gate_settings",
    "auc",
    "f1",
    "champion",
    "champion_comparison",
    "decision_threshold",
    "test_rows",
    "test_data_sha256",
    "model_sha256",
)


def json_get(document: Mapping[str, Any], path: str) -> Any:
    """Follow a dotted path the way SageMaker's ``Std:JsonGet`` does for plain keys.

    >>> json_get({"a": {"b": {"value": 0.5}}}, "a.b.value")
    0.5
    """
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(f"JSON path {path!r} not found (missing {key!r})")
        node = node[key]
    return node


def _fmt(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.4f}"


def _check(name: str, value: float, bound: float, threshold: float, passed: bool, reason: str) -> dict:
    return {"name": name, "value": value, "bound": bound, "threshold": threshold, "passed": bool(passed),
            "reason": reason}


def _at_least(name: str, value: float, bound: float, threshold: float, what: str) -> dict:
    # NaN never passes: a comparison with NaN is False.
    passed = bound >= threshold
    relation = ">=" if passed else "<"
    return _check(name, value, bound, threshold, passed, f"{what} {_fmt(bound)} {relation} {_fmt(threshold)}")


def evidence_checks(document: Mapping[str, Any], settings: GateSettings) -> list[dict]:
    """Minimum evidence: enough test rows and enough positives.

    >>> doc = {"dataset": {"rows": 150, "positives": 40}}
    >>> [(c["name"], c["passed"]) for c in evidence_checks(doc, GateSettings())]
    [('min_test_rows', False), ('min_positives', True)]
    """
    rows = int(json_get(document, "dataset.rows"))
    positives = int(json_get(document, "dataset.positives"))
    return [
        _check("min_test_rows", rows, rows, settings.min_test_rows, rows >= settings.min_test_rows,
               f"{rows} test rows {'>=' if rows >= settings.min_test_rows else '<'} MinTestRows "
               f"{settings.min_test_rows}"),
        _check("min_positives", positives, positives, settings.min_positives, positives >= settings.min_positives,
               f"{positives} positives {'>=' if positives >= settings.min_positives else '<'} MinPositives "
               f"{settings.min_positives}"),
    ]


def threshold_checks(document: Mapping[str, Any], settings: GateSettings) -> list[dict]:
    """Absolute thresholds, on the lower confidence bound when ``gate_on_lower_bound``.

    >>> doc = {"binary_classification_metrics": {"auc": {"value": 0.9}, "f1": {"value": 0.7}},
    ...        "confidence_intervals": {"auc_delong": {"lower": 0.8}, "metrics": {"f1": {"lower": 0.55}}}}
    >>> [(c["name"], c["bound"], c["passed"]) for c in threshold_checks(doc, GateSettings())]
    [('auc_threshold', 0.8, True), ('f1_threshold', 0.55, False)]
    >>> [c["passed"] for c in threshold_checks(doc, GateSettings(gate_on_lower_bound=False))]
    [True, True]
    """
    checks = []
    for rule in GATE_METRICS:
        value = number(json_get(document, rule.value_path))
        if settings.gate_on_lower_bound:
            try:
                bound, what = number(json_get(document, rule.lower_path)), f"{rule.metric} lower 95% bound"
            except KeyError:
                bound, what = math.nan, f"{rule.metric} lower 95% bound (not computed: bootstrap off)"
        else:
            bound, what = value, rule.metric
        checks.append(_at_least(f"{rule.metric}_threshold", value, bound, getattr(settings, rule.threshold), what))
    return checks


def champion_checks(champion: Mapping[str, Any] | None, settings: GateSettings) -> list[dict]:
    """Change against the champion: the challenger may not regress by more than the allowed amount.

    ``champion`` is evaluation.json's ``champion`` section: ``status`` is "none" (no approved version),
    "paired" (both models scored on this test set; differences have a paired CI), "recorded" (the
    champion's own evaluation.json, from another test set) or "unavailable" (neither could be read).

    >>> paired = {"status": "paired", "version": 3, "metrics": {
    ...     "auc": {"difference": -0.004, "lower": -0.02, "upper": 0.01},
    ...     "f1": {"difference": 0.01, "lower": -0.005, "upper": 0.03}}}
    >>> [(c["name"], c["passed"]) for c in champion_checks(paired, GateSettings())]
    [('auc_regression', False), ('f1_regression', True)]
    >>> [c["passed"] for c in champion_checks(paired, GateSettings(gate_on_lower_bound=False))]
    [True, True]
    >>> [c["passed"] for c in champion_checks({"status": "none"}, GateSettings(first_model_policy="reject"))]
    [False, False]
    """
    status = (champion or {}).get("status", "none")
    checks = []
    for rule in GATE_METRICS:
        name = f"{rule.metric}_regression"
        limit = -float(getattr(settings, rule.max_regression))
        if status == "none":
            first = settings.first_model_policy == "absolute-thresholds-only"
            checks.append(_check(name, math.nan, math.nan, limit, first,
                                 f"no approved champion; FirstModelPolicy={settings.first_model_policy}"))
            continue
        label = f"champion v{champion.get('version', '?')}"
        entry = (champion.get("metrics") or {}).get(rule.metric)
        if status not in ("paired", "recorded") or not entry:
            checks.append(_check(name, math.nan, math.nan, limit, False,
                                 f"{label}: {champion.get('reason') or 'no metrics to compare with'}"))
            continue
        difference = number(entry.get("difference"))
        if settings.gate_on_lower_bound and status == "paired":
            bound, what = number(entry.get("lower")), f"{rule.metric} change vs {label}, lower 95% bound"
        elif status == "paired":
            bound, what = difference, f"{rule.metric} change vs {label}"
        else:
            # Metrics recorded on another test set have no paired interval: compare point estimates.
            bound, what = difference, f"{rule.metric} change vs {label} (recorded metrics, other test set)"
        checks.append(_at_least(name, difference, bound, limit, what))
    return checks


def decide(
    document: Mapping[str, Any], settings: GateSettings, champion: Mapping[str, Any] | None = None
) -> dict:
    """The gate decision for an evaluation document: every check, and whether all passed.

    >>> doc = {"dataset": {"rows": 500, "positives": 100},
    ...        "binary_classification_metrics": {"auc": {"value": 0.9}, "f1": {"value": 0.7}},
    ...        "confidence_intervals": {"auc_delong": {"lower": 0.85}, "metrics": {"f1": {"lower": 0.65}}}}
    >>> decision = decide(doc, GateSettings())
    >>> decision["passed"], decision["summary"]
    (True, 'all 6 checks passed')
    >>> decide(doc, GateSettings(f1_threshold=0.66))["summary"]
    'f1_threshold: f1 lower 95% bound 0.6500 < 0.6600'
    """
    checks = [
        *evidence_checks(document, settings),
        *threshold_checks(document, settings),
        *champion_checks(champion, settings),
    ]
    failed = [c for c in checks if not c["passed"]]
    summary = "; ".join(f"{c['name']}: {c['reason']}" for c in failed) or f"all {len(checks)} checks passed"
    return {
        "passed": not failed,
        "summary": summary,
        "checks": checks,
        "settings": settings.by_parameter(),
        "champion": dict(champion) if champion else {"status": "none"},
    }


def decision_record(document: Mapping[str, Any], decision: Mapping[str, Any]) -> dict[str, str]:
    """What a reviewer needs on the registered version, keyed by RECORD_KEYS (CustomerMetadata-safe)."""
    champion = decision.get("champion") or {}
    body = document.get("binary_classification_metrics", {})
    operating_point = document.get("operating_point", {})
    dataset = document.get("dataset", {})

    def metric(rule: GateMetric) -> str:
        try:
            lower = number(json_get(document, rule.lower_path))
        except KeyError:
            lower = math.nan
        text = f"value={_fmt(number(body.get(rule.metric, {}).get('value')))} lower95={_fmt(lower)}"
        entry = (champion.get("metrics") or {}).get(rule.metric)
        if entry:
            text += f" change={_fmt(number(entry.get('difference')))}"
            if champion.get("status") == "paired":
                text += f" change_lower95={_fmt(number(entry.get('lower')))}"
        return text

    record = {
        "gate_passed": "true" if decision["passed"] else "false",
        "gate_checks": " ".join(f"{c['name']}={'pass' if c['passed'] else 'fail'}" for c in decision["checks"]),
        "gate_settings": " ".join(
            f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in decision["settings"].items()
        ),
        "auc": metric(GATE_METRICS[0]),
        "f1": metric(GATE_METRICS[1]),
        "champion": champion.get("arn") or "none",
        "champion_comparison": champion.get("status", "none"),
        "decision_threshold": (
            f"{number(document.get('threshold')):.6g} source={operating_point.get('source', 'parameter')}"
            + (f" objective={operating_point['objective']}" if operating_point.get("objective") else "")
        ),
        "test_rows": str(dataset.get("rows", "none")),
        # The raw test data's checksum when the step read it; else the predictions' (labels and scores).
        "test_data_sha256": str(dataset.get("test_data_sha256") or dataset.get("sha256") or "none"),
        # The evaluated archive's identity: the next run checks the champion's archive against it.
        "model_sha256": str((document.get("subject") or {}).get("model_sha256") or "none"),
    }
    assert tuple(record) == RECORD_KEYS
    return {key: customer_metadata.value(value) for key, value in record.items()}


def parse_settings(values: Mapping[str, Any]) -> GateSettings:
    """GateSettings from ``{"AucThreshold": "0.8", ...}`` (text as a pipeline passes it, or typed).

    >>> parse_settings({"GateOnLowerBound": "false", "MinPositives": "10"}).gate_on_lower_bound
    False
    """
    return GateSettings(**{
        p.field: p.parse(values[p.name]) for p in GATE_PARAMETERS if values.get(p.name) is not None
    })


def settings_flags(settings: GateSettings) -> Sequence[str]:
    """evaluate.py arguments for ``settings`` (tests and the endpoint evaluator use them)."""
    flags: list[str] = []
    for parameter in GATE_PARAMETERS:
        value = getattr(settings, parameter.field)
        flags += [parameter.cli_flag, ("true" if value else "false") if isinstance(value, bool) else str(value)]
    return flags

"""Findings: what to do about a model, each computed from the user's data and shown only when the
evidence supports it (evaluation.json's ``improvements``: ``{finding, evidence, action, kind}``).

Each check returns its measurement (kept in evaluation.json's ``improvement_checks`` whether or not it
finds anything, so a reader sees why nothing was said) and at most one finding:

* ``calibration``: expected calibration error with its bootstrap interval and the reliability bins with
  Wilson intervals; the test log loss a sigmoid recalibration fitted on the validation data would reach
  (without validation data: cross-fitted on the test rows, 5 folds). A finding when the recalibrated log
  loss is lower by at least MIN_RELATIVE_GAIN and the paired bootstrap interval of the reduction lies
  above 0.
* ``threshold``: for ``max-f1`` and ``min-cost`` objectives, the test F1 (or expected cost) at the decision
  threshold against a threshold chosen for the objective on data other than the rows measured
  (validation data, else 2-fold cross-fitting on the test rows); a finding when the gain's paired
  bootstrap interval lies above 0 and the gain is at least MIN_RELATIVE_GAIN.
* ``prevalence``: the validation set's share of positives against the test set's (two-proportion z-test at
  1%, and a relative difference of at least MIN_PREVALENCE_SHIFT).
* ``monitoring``: the deployed version's last monitored windows (quality history, drift status) when a
  monitoring result is at hand.
* slices (slices.py): feature values where the model, or the champion against it, is significantly worse.
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import metrics, operating_point, paired, recalibration, uncertainty
from .calibrated_inference import calibrate

MIN_RELATIVE_GAIN = 0.02  # a gain smaller than 2% is not worth a change, however significant
MIN_PREVALENCE_SHIFT = 0.10  # relative
PREVALENCE_ALPHA = 0.01
N_RESAMPLES = 500  # bootstrap resamples of the count-based intervals (cheap at any size)
# Above this many test rows, the row-level estimates (recalibrated log loss, cross-fitted thresholds) use a
# seeded random subset of this many rows: their intervals are those of the subset (honest, a little wider),
# and the evaluation's cost stays flat however large the test set.
MAX_CHECK_ROWS = 200_000
Z = uncertainty.normal_quantile(uncertainty.CONFIDENCE_LEVEL)


def _finding(kind: str, finding: str, evidence: str, action: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "finding": finding, "evidence": evidence, "action": action, **fields}


def _log_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    clipped = metrics.clipped(p)  # as metrics.log_loss (and scikit-learn's) clip: the same log loss everywhere
    return -(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))


def _mean_interval(values: np.ndarray) -> tuple[float, float]:
    """Normal-theory 95% interval of the mean of per-row values (paired: one value per row of both models)."""
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    half = Z * float(np.std(values, ddof=1)) / math.sqrt(n)
    mean = float(np.mean(values))
    return mean - half, mean + half


def _subset(y: np.ndarray, p: np.ndarray, *, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(labels, scores, how they were drawn): every row, or MAX_CHECK_ROWS of them at random."""
    if len(y) <= MAX_CHECK_ROWS:
        return y, p, ""
    keep = np.sort(np.random.default_rng(seed).choice(len(y), MAX_CHECK_ROWS, replace=False))
    return y[keep], p[keep], f" (on a random {MAX_CHECK_ROWS:,} of the {len(y):,} test rows)"


def _wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _ece_interval(y: np.ndarray, p: np.ndarray, *, seed: int) -> tuple[float, float]:
    """Bootstrap interval of the 10-bin expected calibration error (cells: bin x label)."""
    bins = np.searchsorted(np.linspace(0.0, 1.0, 11)[1:-1], p, side="left")  # metrics.calibration_table's bins
    cell = bins * 2 + y
    cells = np.bincount(cell, minlength=20).astype(np.float64).reshape(10, 2)
    sums = np.bincount(cell, weights=p, minlength=20).reshape(10, 2)
    n = len(y)
    rng = np.random.default_rng(seed)
    flat = cells.reshape(-1)
    mean_score = np.divide(sums.reshape(-1), flat, out=np.zeros_like(flat), where=flat > 0)
    draws = rng.multinomial(n, flat / n, size=N_RESAMPLES)  # cell counts; each cell's mean score kept
    values = []
    for draw in draws:
        counts = draw.reshape(10, 2)
        total = counts.sum(axis=1)
        scored = (draw * mean_score).reshape(10, 2).sum(axis=1)
        used = total > 0
        values.append(float(np.sum(np.abs(counts[used, 1] - scored[used])) / n))
    alpha = (1 - uncertainty.CONFIDENCE_LEVEL) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def calibration_check(y_true: np.ndarray, y_score: np.ndarray, *, validation: tuple[np.ndarray, np.ndarray] | None,
                      reliability: Mapping[str, Any] | None = None,
                      seed: int = 0) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(measurement, finding or None): is the model badly calibrated, and what would recalibrating give?
    ``reliability``: the rows' metrics.calibration_table when already computed (evaluation.json's)."""
    y, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_score, dtype=np.float64)
    reliability = copy.deepcopy(dict(reliability if reliability is not None
                                     else metrics.calibration_table(metrics.ScoreTable.from_arrays(y, p))))
    for entry in reliability["bins"]:
        if entry["count"]:
            positives = round(entry["fraction_positive"] * entry["count"])
            entry["fraction_positive_lower"], entry["fraction_positive_upper"] = _wilson(positives, entry["count"])
    ece_lower, ece_upper = _ece_interval(y, p, seed=seed)
    ys, ps, drawn = _subset(y, p, seed=seed)
    if validation is not None and len(np.unique(validation[0])) == 2:
        fitted = recalibration.fit_sigmoid(*validation)
        recalibrated, source = calibrate(ps, fitted), "a sigmoid map fitted on the validation data"
    else:
        fitted, recalibrated = None, recalibration.cross_fitted_sigmoid(ys, ps, seed=seed)
        source = "a sigmoid map cross-fitted on the test rows (5 folds; no validation data)"
    source += drawn
    if fitted is not None and not recalibration.keeps_ranking(fitted):  # the validation data disagrees with the model
        fitted, recalibrated = None, ps
        source += "; the map fitted would invert the ranking, so none is applied"
    before, after = _log_losses(ys, ps), _log_losses(ys, recalibrated)
    reduction = before - after
    lower, upper = _mean_interval(reduction)
    measured = {
        "expected_calibration_error": reliability["expected_calibration_error"],
        "expected_calibration_error_interval": [ece_lower, ece_upper],
        "reliability_bins": reliability["bins"],
        "log_loss": float(before.mean()),
        "recalibrated_log_loss": float(after.mean()),
        "recalibrated_by": source,
        "recalibration": fitted,
        "log_loss_reduction_interval": [lower, upper],
    }
    relative = float(reduction.mean() / before.mean()) if before.mean() > 0 else 0.0
    if not (lower > 0 and relative >= MIN_RELATIVE_GAIN):
        return measured, None
    return measured, _finding(
        "calibration", "The predicted probabilities are miscalibrated.",
        f"Expected calibration error {reliability['expected_calibration_error']:.4f} (95% interval {ece_lower:.4f} to "
        f"{ece_upper:.4f}); {source} lowers the test log loss from {before.mean():.4f} to {after.mean():.4f} "
        f"({relative:.1%}; 95% interval of the reduction {lower:.4f} to {upper:.4f}).",
        "Recalibrate with the model frozen: python -m pipeline.improve calibrate --model model.tar.gz "
        "--validation-data validation.csv --out calibrated.tar.gz, then evaluate the calibrated challenger.",
        relative_gain=relative)


def _cross_fitted_predictions(y: np.ndarray, p: np.ndarray, objective: str, *, seed: int) -> np.ndarray:
    """Each half's rows predicted at the threshold the other half chose for ``objective``."""
    rng = np.random.default_rng(seed)
    half = np.zeros(len(y), dtype=bool)
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        half[rng.permutation(rows)[: len(rows) // 2]] = True
    predicted = np.zeros(len(y), dtype=bool)
    for chooser, measured in ((half, ~half), (~half, half)):
        table = metrics.ScoreTable.from_arrays(y[chooser], p[chooser])
        predicted[measured] = p[measured] >= operating_point.select_threshold(table, objective)["threshold"]
    return predicted


def threshold_check(y_true: np.ndarray, y_score: np.ndarray, *, threshold: float, objective: str,
                    point: Mapping[str, Any], validation: tuple[np.ndarray, np.ndarray] | None,
                    seed: int = 0) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(measurement or None, finding or None): would a threshold chosen for the objective do better?"""
    kind, target = operating_point.parse_objective(objective)
    if kind not in ("max-f1", "min-cost") or point.get("source") == "validation":
        return None, None  # chosen for the objective already, or an objective without one number to compare
    y, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_score, dtype=np.float64)
    if min(int(y.sum()), len(y) - int(y.sum())) < 20:
        return None, None
    if validation is not None and len(np.unique(validation[0])) == 2:
        chosen = operating_point.select_threshold(metrics.ScoreTable.from_arrays(*validation), objective)["threshold"]
        predicted, source = p >= chosen, f"threshold {chosen:.4g} chosen on the validation data"
    else:
        y, p, drawn = _subset(y, p, seed=seed)
        chosen, predicted = None, _cross_fitted_predictions(y, p, objective, seed=seed)
        source = "thresholds cross-fitted on the test rows (each half predicted at the other half's choice)" + drawn
    current = p >= threshold
    if kind == "max-f1":
        result = paired.paired_threshold_difference(y, predicted.astype(float), current.astype(float),
                                                    threshold_a=0.5, threshold_b=0.5, n_resamples=N_RESAMPLES, seed=seed)
        f1 = result["f1"]
        gain, lower, upper = f1["difference"], f1["lower"], f1["upper"]
        relative = gain / f1["b"] if f1["b"] > 0 else math.inf
        text = (f"test F1 {f1['b']:.4f} at the decision threshold {threshold:g}; {f1['a']:.4f} with the {source} "
                f"(difference {gain:+.4f}, 95% interval {lower:+.4f} to {upper:+.4f})")
    else:
        fp_cost, fn_cost = target
        unit = max(fp_cost, fn_cost)  # computed in units of the larger cost: huge costs cannot overflow
        per_row = lambda pred: (fp_cost / unit) * (pred & (y == 0)) + (fn_cost / unit) * (~pred & (y == 1))  # noqa: E731
        saving = per_row(current) - per_row(predicted)
        gain = float(saving.mean()) * unit
        lower, upper = (bound * unit for bound in _mean_interval(saving.astype(np.float64)))
        base = float(per_row(current).mean()) * unit
        relative = gain / base if base > 0 else 0.0
        text = (f"expected test cost {base:.4f} per row at the decision threshold {threshold:g}; {base - gain:.4f} with "
                f"the {source} (saving {gain:.4f}, 95% interval {lower:.4f} to {upper:.4f})")
    measured = {"objective": objective, "decision_threshold": threshold, "better_threshold": chosen,
                "chosen_by": source, "gain": gain, "gain_interval": [lower, upper]}
    if not (lower > 0 and relative >= MIN_RELATIVE_GAIN):
        return measured, None
    return measured, _finding(
        "threshold", f"The decision threshold {threshold:g} is far from the best one for {objective}.",
        text[0].upper() + text[1:] + ".",
        "Choose the threshold on validation data and freeze it: pass ValidationDataUrl (python -m pipeline.local "
        f"evaluation ... --validation-data validation.csv) with ThresholdObjective={objective}"
        + (f", or set DecisionThreshold={chosen:.4g}" if chosen is not None else "") + ".",
        relative_gain=relative)


def prevalence_check(y_test: np.ndarray, y_validation: np.ndarray | None) -> tuple[dict | None, dict | None]:
    """(measurement or None, finding or None): do validation and test data hold the same share of positives?"""
    if y_validation is None or not len(y_validation):
        return None, None
    n1, n2 = len(y_validation), len(y_test)
    p1, p2 = float(np.mean(y_validation)), float(np.mean(y_test))
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) if 0 < pooled < 1 else 0.0
    z = (p2 - p1) / se if se > 0 else 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2))
    diff_se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    interval = [p2 - p1 - Z * diff_se, p2 - p1 + Z * diff_se]
    relative = abs(p2 - p1) / p1 if p1 > 0 else math.inf
    measured = {"validation_prevalence": p1, "validation_rows": n1, "test_prevalence": p2, "test_rows": n2,
                "difference_interval": interval, "p_value": p_value}
    if not (p_value < PREVALENCE_ALPHA and relative >= MIN_PREVALENCE_SHIFT):
        return measured, None
    return measured, _finding(
        "prevalence", "The test set's share of positives differs from the validation set's.",
        f"Prevalence {p2:.4f} in {n2:,} test rows against {p1:.4f} in {n1:,} validation rows (difference "
        f"{p2 - p1:+.4f}, 95% interval {interval[0]:+.4f} to {interval[1]:+.4f}; two-proportion z-test p = {p_value:.2g}).",
        "A threshold or calibration fitted on the validation data assumes its prevalence: check that both sets come "
        "from the same population and period; if deployment looks like the test set, draw validation data from it "
        "(or shift the calibration's intercept by the log ratio of the prior odds) and evaluate again.")


def read_monitoring(folder: str | Path | None) -> dict[str, Any]:
    """What a monitoring result at hand says: the last quality-history window and any drift/quality status
    (files directly in ``folder``). A file that cannot be read as what it should be is named under
    ``unreadable`` and used for nothing: a finding is never guessed from it."""
    from . import quality_history

    found: dict[str, Any] = {}
    if folder is None or not Path(folder).is_dir():
        return found
    history = Path(folder) / quality_history.HISTORY_FILE
    if history.is_file():
        try:
            lines = quality_history.read(history.read_text(encoding="utf-8"), name=history.name)
            if lines:
                found["quality"] = lines[-1]
        except (ValueError, UnicodeDecodeError):  # DataError is a ValueError
            found.setdefault("unreadable", []).append(history.name)
    for name in ("drift_status.json", "quality_status.json"):
        path = Path(folder) / name
        if not path.is_file():
            continue
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            value = None
        if isinstance(value, dict):
            found[name.split("_")[0] + "_status"] = value
        else:
            found.setdefault("unreadable", []).append(name)
    return found


def monitoring_check(monitoring: Mapping[str, Any]) -> tuple[dict | None, list[dict]]:
    """(measurement or None, findings): violations of the deployed version where a monitoring result is at hand."""
    if not monitoring:
        return None, []
    findings = []
    quality = monitoring.get("quality") or {}
    status = monitoring.get("quality_status") or {}
    violated = quality.get("violated_metrics") or [m for m in str(status.get("violated_metrics", "none")).split(", ")
                                                  if m and m != "none"]
    if violated:
        window = f"{quality.get('window_start', status.get('window_start'))} to {quality.get('window_end', status.get('window_end'))}"
        values = ", ".join(f"{name} {(quality.get('metrics', {}).get(name) or {}).get('value', '?')}" for name in violated)
        findings.append(_finding(
            "monitoring", "The deployed version's quality fell below its registered constraints.",
            f"Window {window}: {values} ({quality.get('item_count', status.get('matched', '?'))} labelled predictions) "
            f"violated {', '.join(violated)}.",
            "Retrain on recent labelled traffic (the windows that alarmed), evaluate the new model against this one, and "
            "compare both on the recent rows before replacing the deployed version."))
    drift = monitoring.get("drift_status") or {}
    if drift.get("drift_detected"):
        findings.append(_finding(
            "monitoring", "The deployed version's input data drifted from its baseline.",
            f"{drift.get('violation_count')} drift violation(s); features: {drift.get('drifted_features')}; checks: "
            f"{drift.get('violated_checks')}.",
            "Check the drifted features' pipeline upstream (units, encodings, new categories); if the change is real, "
            "retrain on data that includes it and rebuild the drift baseline from the new training data."))
    return dict(monitoring), findings


def improvements(checks: Sequence[tuple[dict | None, Any]]) -> list[dict[str, Any]]:
    """The findings of every check (each gives one, none or a list), in the order given."""
    out: list[dict[str, Any]] = []
    for _, found in checks:
        if isinstance(found, list):
            out += found
        elif found is not None:
            out.append(found)
    return out

"""The evaluation's plots (inline SVG, see charts.py) and its self-contained HTML report.

No plotting library is needed, so the report is the same locally and in the processing container.
The champion is overlaid where evaluation.json knows it: scored on the same test rows (a paired
comparison), its operating point and confusion matrix; from its recorded evaluation.json (another test
set), its recorded curves. Each legend says which.
"""
from __future__ import annotations

import html
import math
from typing import Any, Mapping

from . import charts, metric_catalog
from .metric_catalog import number

PLOTS = ("roc", "pr", "confusion_matrix", "calibration")  # always drawn
OPTIONAL_PLOTS = ("cost",)  # drawn when the evaluation has what they show
NOT_RECORDED = "not recorded"
SUBJECT_FIELDS = (
    ("model_package_group", "Model package group"),
    ("pipeline_execution_id", "Pipeline execution id"),
    ("model_uri", "Model"),
    ("model_sha256", "Model SHA-256"),
    ("evaluated_at", "Evaluated at"),
)


def _fmt(value: Any) -> str:
    """A number for the report: four decimals; NaN (cannot be estimated) as in evaluation.json.

    >>> _fmt(0.123456), _fmt(float("nan")), _fmt("<b>")
    ('0.1235', 'NaN', '&lt;b&gt;')
    """
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4f}"
    return html.escape(str(value))


def _get(document: Any, *keys: str) -> Any:
    """``document[k1][k2]...``, or None where a level is missing (a champion's file may be partial)."""
    for key in keys:
        if not isinstance(document, Mapping) or key not in document:
            return None
        document = document[key]
    return document


def paired_cells(section: Mapping[str, Any], dataset: Mapping[str, Any]) -> list[list[int]] | None:
    """The champion's confusion matrix on the challenger's test rows, from the paired comparison.

    Its recall and accuracy on these rows (whose positives and negatives are known) fix every cell.

    >>> section = {"status": "paired", "metrics": {"recall": {"champion": 0.75}, "accuracy": {"champion": 0.8}}}
    >>> paired_cells(section, {"rows": 10, "positives": 4})
    [[5, 1], [1, 3]]
    """
    if section.get("status") != "paired":
        return None
    recall = number(_get(section, "metrics", "recall", "champion"))
    accuracy = number(_get(section, "metrics", "accuracy", "champion"))
    rows, positives = int(dataset["rows"]), int(dataset["positives"])
    if math.isnan(recall) or math.isnan(accuracy):
        return None
    tp = round(recall * positives)
    tn = round(accuracy * rows) - tp
    negatives = rows - positives
    return [[tn, negatives - tn], [positives - tp, tp]]


def champion_view(document: Mapping[str, Any], recorded: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """What can be drawn of the champion: ``label``, ``same_rows`` (its operating point and cells on
    these test rows) and ``recorded`` (its own evaluation.json); None without a usable comparison.

    ``recorded`` is drawn only when the gate compared with the champion ("paired" or "recorded"): a
    champion the gate could not use is not shown as if it had been.
    """
    section = _get(document, "gate", "champion") or {}
    if section.get("status") not in ("paired", "recorded"):
        return None
    view: dict[str, Any] = {"label": f"champion v{section.get('version', '?')}", "same_rows": None, "recorded": None,
                            "auc": _get(section, "metrics", "auc", "champion")}
    cells = paired_cells(section, document["dataset"])
    if cells is not None:
        (tn, fp), (fn, tp) = cells
        view["same_rows"] = {
            "threshold": number(section.get("champion_threshold", document["threshold"])),
            "cells": cells,
            "fpr": fp / (fp + tn) if fp + tn else 0.0,
            "tpr": tp / (tp + fn) if tp + fn else 0.0,
            "precision": number(_get(section, "metrics", "precision", "champion")),
            "curves": section.get("curves") if isinstance(section.get("curves"), Mapping) else None,
        }
    if isinstance(recorded, Mapping) and isinstance(recorded.get("binary_classification_metrics"), Mapping):
        view["recorded"] = recorded
    return view


def _threshold_text(value: float) -> str:
    return f"{value:.4g}"


def roc_svg(document: Mapping[str, Any], champion: Mapping[str, Any] | None) -> str:
    """ROC curve, the decision threshold's point, the champion's, and the chance diagonal."""
    body = document["binary_classification_metrics"]
    threshold = _threshold_text(document["threshold"])
    xs, ys, score = _curve(body, "roc", auc=body["auc"]["value"], average_precision=None)
    series = [
        charts.Series(f"challenger ({score})", xs, ys),
        charts.Series(f"challenger at its decision threshold {threshold}",
                      [number(body["false_positive_rate"]["value"])], [number(body["true_positive_rate"]["value"])],
                      line=False, marker="circle", tips=[f"challenger at threshold {threshold}"]),
    ]
    series += _champion_curve(champion, "roc")
    chance = charts.Series("chance (AUC 0.5)", [0, 1], [0, 1], colour=charts.GREY, dash="4 4", width=1)
    return charts.unit_chart("roc", title="ROC curve", description=_describe("ROC curve", series + [chance]),
                             x_label="False positive rate", y_label="True positive rate", series=series,
                             references=[chance])


def pr_svg(document: Mapping[str, Any], champion: Mapping[str, Any] | None) -> str:
    """Precision-recall curve, the decision threshold's point, the champion's, and the prevalence line."""
    body = document["binary_classification_metrics"]
    threshold = _threshold_text(document["threshold"])
    xs, ys, score = _curve(body, "pr", auc=None, average_precision=document.get("average_precision"))
    series = [
        charts.Series(f"challenger ({score})", xs, ys),
        charts.Series(f"challenger at its decision threshold {threshold}", [number(body["recall"]["value"])],
                      [number(body["precision"]["value"])], line=False, marker="circle",
                      tips=[f"challenger at threshold {threshold}"]),
    ]
    series += _champion_curve(champion, "pr")
    prevalence = float(document["dataset"]["prevalence"])
    chance = charts.Series(f"chance: prevalence {prevalence:.4f}", [0, 1], [prevalence, prevalence],
                           colour=charts.GREY, dash="4 4", width=1)
    return charts.unit_chart("pr", title="Precision-recall curve",
                             description=_describe("Precision-recall curve", series + [chance]),
                             x_label="Recall", y_label="Precision", series=series, references=[chance])


def cost_svg(point: Mapping[str, Any]) -> str:
    """Expected cost per row on the validation set against the threshold (``ThresholdObjective=min-cost``),
    as a share of the highest cost on the curve, with the chosen and the default thresholds marked."""
    curve = point["cost_curve"]
    xs, costs = list(curve["thresholds"]), list(curve["expected_costs"])
    top = max(costs) or 1.0
    ys = [c / top for c in costs]
    chosen, default = float(point["threshold"]), float(point["default_threshold"])
    at_default = float(point["validation_expected_cost_at_default"])
    series = [
        charts.Series(f"expected cost per row (share of the highest, {top:.4g})", xs, ys),
        charts.Series(f"chosen threshold {_threshold_text(chosen)}: cost {point['validation_expected_cost']:.4g}",
                      [min(chosen, 1.0)], [point["validation_expected_cost"] / top], line=False, marker="circle",
                      tips=[f"threshold {chosen:.4g}: expected cost {point['validation_expected_cost']:.4g} per row"]),
        charts.Series(f"default threshold {default:g}: cost {at_default:.4g}", [default], [at_default / top],
                      line=False, marker="square", colour=charts.ORANGE,
                      tips=[f"threshold {default:g}: expected cost {at_default:.4g} per row"]),
    ]
    costs_text = point["costs"]
    return charts.unit_chart(
        "cost", title="Expected cost on validation data",
        description=_describe(f"Expected cost per row with a false positive costing {costs_text['false_positive']:g} "
                              f"and a false negative {costs_text['false_negative']:g}", series),
        x_label="Decision threshold", y_label="Expected cost / highest", series=series)


def calibration_svg(document: Mapping[str, Any], champion: Mapping[str, Any] | None) -> str:
    """Reliability diagram: fraction positive against mean score per bin, and the perfect diagonal."""
    calibration = document["calibration"]
    ece = _fmt(number(calibration["expected_calibration_error"]))
    series = [_calibration_series(calibration, f"challenger (ECE {ece})", charts.BLUE, "", "circle")]
    same = ((champion or {}).get("same_rows") or {}).get("curves") or {}
    if isinstance(same.get("calibration"), Mapping):
        series.append(_calibration_series(
            same["calibration"], f"{champion['label']}: on these test rows "
                                 f"(ECE {_fmt(number(same['calibration'].get('expected_calibration_error')))})",
            charts.ORANGE, "2 3", "square"))
    recorded = (champion or {}).get("recorded")
    if recorded is not None and isinstance(recorded.get("calibration"), Mapping):
        theirs = recorded["calibration"]
        series.append(_calibration_series(
            theirs, f"{champion['label']}: recorded bins, its own test set "
                    f"(ECE {_fmt(number(theirs.get('expected_calibration_error')))})", charts.ORANGE, "6 4",
            "square"))
    perfect = charts.Series("perfectly calibrated", [0, 1], [0, 1], colour=charts.GREY, dash="4 4", width=1)
    return charts.unit_chart("calibration", title="Calibration (reliability diagram)",
                             description=_describe("Reliability diagram", series + [perfect]),
                             x_label="Mean predicted score (10 equal-width bins)", y_label="Fraction positive",
                             series=series, references=[perfect])


def confusion_svg(document: Mapping[str, Any], champion: Mapping[str, Any] | None) -> str:
    """The confusion matrix at the decision threshold, with the champion's counts when known."""
    cells = _cells(document["binary_classification_metrics"]["confusion_matrix"])
    theirs, label = None, ""
    if champion and champion["same_rows"]:
        theirs = champion["same_rows"]["cells"]
        label = (f"{champion['label']}: scored on these test rows, at its threshold "
                 f"{_threshold_text(champion['same_rows']['threshold'])}")
    elif champion and champion["recorded"]:
        try:
            theirs = _cells(_get(champion["recorded"], "binary_classification_metrics", "confusion_matrix"))
            label = f"{champion['label']}: recorded on its own test set ({sum(map(sum, theirs)):,} rows)"
        except (KeyError, TypeError, ValueError):
            theirs = None
    threshold = _threshold_text(document["threshold"])
    description = (f"Confusion matrix at threshold {threshold}: {cells[0][0]} true negatives, {cells[0][1]} false "
                   f"positives, {cells[1][0]} false negatives, {cells[1][1]} true positives"
                   + (f"; {label}: {theirs}" if theirs else ""))
    return charts.confusion_chart("confusion_matrix", title=f"Confusion matrix at threshold {threshold}",
                                  description=description, cells=cells, champion_cells=theirs, champion_label=label)


def _cells(matrix: Mapping[str, Mapping[str, Any]]) -> list[list[int]]:
    """evaluation.json's ``{"0": {"0": TN, "1": FP}, "1": {...}}`` as rows actual, columns predicted."""
    return [[int(matrix[a][b]) for b in "01"] for a in "01"]


def _champion_curve(champion: Mapping[str, Any] | None, kind: str) -> list[charts.Series]:
    """The champion on a ROC ("roc") or precision-recall ("pr") chart: its point on these rows, its
    recorded curve from its own test set."""
    if not champion:
        return []
    out = []
    same = champion["same_rows"]
    if same is not None:
        x, y = (same["fpr"], same["tpr"]) if kind == "roc" else (same["tpr"], same["precision"])
        label = f"{champion['label']} at its threshold {_threshold_text(same['threshold'])}, scored on these test rows"
        out.append(charts.Series(label, [x], [y], colour=charts.ORANGE, line=False, marker="square", tips=[label]))
        curves = same.get("curves") or {}
        xs, ys, score = _curve(curves, kind, auc=_get(champion, "auc"), average_precision=curves.get("average_precision"))
        if xs and ys:
            out.append(charts.Series(f"{champion['label']}: curve on these test rows ({score})", xs, ys,
                                     colour=charts.ORANGE, dash="2 3"))
    recorded = champion["recorded"]
    if recorded is not None:
        body = recorded["binary_classification_metrics"]
        xs, ys, score = _curve(body, kind, auc=_get(body, "auc", "value"),
                               average_precision=recorded.get("average_precision"))
        if xs and ys:
            out.append(charts.Series(f"{champion['label']}: recorded curve, its own test set ({score})", xs, ys,
                                     colour=charts.ORANGE, dash="6 4"))
    return out


def _curve(section: Mapping[str, Any], kind: str, *, auc: Any, average_precision: Any) -> tuple[list, list, str]:
    """(x, y, score text) of the ROC ("roc") or precision-recall ("pr") curve in a metrics section."""
    if kind == "roc":
        curve = section.get("receiver_operating_characteristic_curve") or {}
        return (curve.get("false_positive_rates") or [], curve.get("true_positive_rates") or [],
                f"AUC {_fmt(number(auc))}")
    curve = section.get("precision_recall_curve") or {}
    return curve.get("recalls") or [], curve.get("precisions") or [], f"average precision {_fmt(number(average_precision))}"


def _calibration_series(calibration: Mapping[str, Any], label: str, colour: str, dash: str,
                        marker: str) -> charts.Series:
    bins = [b for b in calibration.get("bins") or [] if isinstance(b, Mapping) and b.get("count")]
    tips = [f"scores {number(b.get('lower')):.1f}-{number(b.get('upper')):.1f}: {b['count']:,} rows, mean score "
            f"{_fmt(number(b.get('mean_predicted')))}, fraction positive {_fmt(number(b.get('fraction_positive')))}"
            for b in bins]
    return charts.Series(label, [b.get("mean_predicted") for b in bins], [b.get("fraction_positive") for b in bins],
                         colour=colour, dash=dash, marker=marker, tips=tips)


def _describe(what: str, series: list[charts.Series]) -> str:
    return f"{what}: " + "; ".join(s.label for s in series)


def render_plots(document: Mapping[str, Any], champion_evaluation: Mapping[str, Any] | None = None) -> dict[str, str]:
    """SVG text per plot name (:data:`PLOTS`); ``champion_evaluation`` is the champion's recorded
    evaluation.json when it was staged."""
    champion = champion_view(document, champion_evaluation)
    plots = {
        "roc": roc_svg(document, champion),
        "pr": pr_svg(document, champion),
        "confusion_matrix": confusion_svg(document, champion),
        "calibration": calibration_svg(document, champion),
    }
    point = document.get("operating_point") or {}
    if "cost_curve" in point:
        plots["cost"] = cost_svg(point)
    return plots


def plot_files(plots: Mapping[str, str]) -> dict[str, bytes]:
    """``{"roc.svg": bytes, ...}``: each plot as a standalone file beside report.html."""
    return {f"{name}.svg": charts.standalone(svg) for name, svg in plots.items()}


def _subject_html(document: Mapping[str, Any]) -> str:
    """What was evaluated: group, execution, model and its SHA-256, when; "not recorded" where unknown."""
    subject = document.get("subject") or {}
    rows = []
    for key, label in SUBJECT_FIELDS:
        value = subject.get(key)
        if value in (None, "", "none"):
            shown = f'<span class="missing">{NOT_RECORDED}</span>'
        elif key == "evaluated_at":
            shown = f'<time datetime="{html.escape(str(value))}">{html.escape(str(value))}</time>'
        else:
            shown = f"<code>{html.escape(str(value))}</code>"
        rows.append(f"<tr><th scope=\"row\">{label}</th><td>{shown}</td></tr>")
    return f'<table class="subject"><caption>What was evaluated</caption>{"".join(rows)}</table>'


def _verdict_html(gate: Mapping[str, Any] | None) -> str:
    """The banner: PASSED or FAILED in words and a symbol, not by colour alone."""
    if not gate:
        return ('<section class="verdict none" role="status"><p class="mark">Quality gate: NOT DECIDED</p>'
                "<p>No gate settings were given to this evaluation, so it decides nothing.</p></section>")
    failed = [c for c in gate["checks"] if not c["passed"]]
    if gate["passed"]:
        return ('<section class="verdict passed" role="status"><p class="mark">&#10004; Quality gate: PASSED</p>'
                f"<p>The model may be registered: all {len(gate['checks'])} checks passed.</p></section>")
    return ('<section class="verdict failed" role="alert"><p class="mark">&#10008; Quality gate: FAILED</p>'
            f"<p>The model will not be registered: {len(failed)} of {len(gate['checks'])} checks failed "
            f"({html.escape(', '.join(c['name'] for c in failed))}).</p></section>")


def _checks_html(gate: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr class="{"passed" if c["passed"] else "failed"}"><td>{html.escape(c["name"])}</td>'
        f'<td class="outcome">{"&#10004; passed" if c["passed"] else "&#10008; FAILED"}</td>'
        f"<td>{html.escape(c['reason'])}</td></tr>"
        for c in gate["checks"]
    )
    return ('<h2>Quality gate checks</h2><table class="checks"><tr><th>check</th><th>outcome</th><th>why</th></tr>'
            f"{rows}</table>")


STYLE = """body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em;max-width:72em;color:#111}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th[scope=row]{text-align:left}
.verdict{border:3px solid;border-radius:6px;padding:.6em 1em;margin:1em 0}
.verdict .mark{font-size:1.8em;font-weight:bold;margin:.1em 0}.verdict p{margin:.3em 0}
.verdict.passed{background:#e8f5e9;border-color:#1b7f3b;color:#0f4d24}
.verdict.failed{background:#fdecea;border-color:#b42318;color:#7a1109}
.verdict.none{background:#f3f4f6;border-color:#6b7280}
caption{text-align:left;font-weight:bold;padding:.2em 0}
table.subject td{text-align:left}table.subject code{word-break:break-all}.missing{color:#6b7280;font-style:italic}
table.checks td,table.checks th{text-align:left}tr.failed{background:#fdecea;font-weight:bold}
tr.failed .outcome{color:#b42318}tr.passed .outcome{color:#1b7f3b}
.plots{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;border:1px solid #e5e7eb}
figcaption{font-size:.85em;padding:.2em .5em;color:#374151}
li.finding{margin:.6em 0}li.finding p{margin:.2em 0}"""


def render_html(document: Mapping[str, Any], plots: Mapping[str, str]) -> str:
    """One HTML file: the verdict and what was evaluated first, then the checks, dataset, metrics with
    their confidence intervals, operating points, and the plots inline."""
    metrics = document["binary_classification_metrics"]
    level = f"{float(document['confidence_intervals']['level']) * 100:.4g}%"  # e.g. "95%"
    intervals = document["confidence_intervals"]["metrics"]
    rows = []
    for name, entry in metrics.items():
        if not isinstance(entry, dict) or "value" not in entry:
            continue
        ci = intervals.get(name, {})
        interval = f"[{_fmt(ci['lower'])}, {_fmt(ci['upper'])}]" if "lower" in ci else "n/a"
        rows.append(f"<tr><td>{name}</td><td>{_fmt(entry['value'])}</td><td>{_fmt(entry['standard_deviation'])}</td><td>{interval}</td></tr>")
    for name in metric_catalog.names(section=metric_catalog.TOP):
        ci = intervals.get(name, {})
        interval = f"[{_fmt(ci['lower'])}, {_fmt(ci['upper'])}]" if "lower" in ci else "n/a"
        rows.append(f"<tr><td>{name}</td><td>{_fmt(document[name])}</td><td></td><td>{interval}</td></tr>")
    gate = document.get("gate")
    gate_html = _checks_html(gate) + _champion_html(gate.get("champion") or {}, level) if gate else ""
    dataset = document["dataset"]
    ops = document["operating_points"]
    op_rows = [f"<tr><td>max F1</td>{_op(ops['max_f1'])}</tr>", f"<tr><td>max Youden J</td>{_op(ops['max_youden_j'])}</tr>"]
    op_rows += [f"<tr><td>recall &ge; {p['recall_at_least']}</td>{_op(p)}</tr>" for p in ops["precision_at_recall"]]
    figures = "".join(
        f'<figure>{plots[name]}<figcaption>also as <a href="{name}.svg">{name}.svg</a></figcaption></figure>'
        for name in PLOTS + OPTIONAL_PLOTS if name in plots
    )
    delong = document["confidence_intervals"]["auc_delong"]
    verdict = "not decided" if not gate else ("PASSED" if gate["passed"] else "FAILED")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Model evaluation: quality gate {verdict}</title>
<style>{STYLE}</style></head><body>
<h1>Binary classifier evaluation</h1>
{_verdict_html(gate)}
{_subject_html(document)}
<p>{dataset['rows']:,} rows, {dataset['positives']:,} positives (prevalence {dataset['prevalence']:.4f}),
decision threshold {document['threshold']} ({html.escape(str(document.get('operating_point', {}).get('source', 'parameter')))}), input sha256 <code>{html.escape(str(dataset.get('sha256', NOT_RECORDED)))}</code></p>
{gate_html}
<h2>Metrics</h2>
<table><tr><th>metric</th><th>value</th><th>standard deviation</th><th>{level} interval</th></tr>{''.join(rows)}</table>
<p>AUC by DeLong: standard error {_fmt(delong['standard_deviation'])}, {level} interval [{_fmt(delong['lower'])}, {_fmt(delong['upper'])}].
Intervals: {html.escape(document['confidence_intervals']['method'])}.</p>
<h2>Operating points</h2>
<table><tr><th></th><th>threshold</th><th>precision</th><th>recall</th><th>F1</th><th>FPR</th></tr>{''.join(op_rows)}</table>
{_cost_html(document.get("operating_point") or {})}
{improvements_html(document)}
<h2>Plots</h2><div class="plots">{figures}</div>
</body></html>
"""


def _champion_html(champion: Mapping[str, Any], level: str) -> str:
    """The comparison with the champion: what was compared, and each difference with its interval."""
    status = champion.get("status", "none")
    if status == "none":
        return "<p>No approved champion in the model package group.</p>"
    head = f"<h3>Against the champion (v{html.escape(str(champion.get('version')))}, {html.escape(status)})</h3>"
    head += f"<p>{html.escape(str(champion.get('reason', '')))}</p>"
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{_fmt(entry.get('challenger', math.nan))}</td>"
        f"<td>{_fmt(entry.get('champion', math.nan))}</td><td>{_fmt(entry.get('difference', math.nan))}</td>"
        f"<td>{'[' + _fmt(entry['lower']) + ', ' + _fmt(entry['upper']) + ']' if 'lower' in entry else 'n/a'}</td></tr>"
        for name, entry in (champion.get("metrics") or {}).items()
    )
    if not rows:
        return head
    return head + ("<table><tr><th>metric</th><th>challenger</th><th>champion</th><th>difference</th>"
                   f"<th>{level} interval</th></tr>{rows}</table>")


def _interval(pair: Any, digits: int = 4) -> str:
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return "n/a"
    return f"[{_fmt(pair[0])}, {_fmt(pair[1])}]"


def improvements_html(document: Mapping[str, Any]) -> str:
    """"What to improve": each finding with its evidence and action, then what every check measured."""
    found = document.get("improvements")
    checks = document.get("improvement_checks") or {}
    if found is None:
        return ""
    items = "".join(f'<li class="finding"><p><b>{html.escape(f["finding"])}</b></p><p>{html.escape(f["evidence"])}</p>'
                    f'<p>What to do: {html.escape(f["action"])}</p></li>' for f in found)
    head = (f"<ol>{items}</ol>" if found else
            "<p>No finding: none of the checks below found evidence that a change would do better.</p>")
    rows = []
    calibration = checks.get("calibration")
    if calibration:
        rows.append(f"<tr><td>calibration</td><td>ECE {_fmt(calibration['expected_calibration_error'])} "
                    f"{_interval(calibration['expected_calibration_error_interval'])}; log loss "
                    f"{_fmt(calibration['log_loss'])}, recalibrated {_fmt(calibration['recalibrated_log_loss'])} "
                    f"(reduction {_interval(calibration['log_loss_reduction_interval'])}; "
                    f"{html.escape(calibration['recalibrated_by'])})</td></tr>")
    threshold = checks.get("threshold")
    if threshold:
        rows.append(f"<tr><td>decision threshold</td><td>{html.escape(threshold['objective'])}: gain "
                    f"{_fmt(threshold['gain'])} {_interval(threshold['gain_interval'])} with "
                    f"{html.escape(threshold['chosen_by'])}</td></tr>")
    prevalence = checks.get("prevalence")
    if prevalence:
        rows.append(f"<tr><td>prevalence</td><td>validation {_fmt(prevalence['validation_prevalence'])}, test "
                    f"{_fmt(prevalence['test_prevalence'])} (difference {_interval(prevalence['difference_interval'])}, "
                    f"p = {prevalence['p_value']:.2g})</td></tr>")
    slices = checks.get("slices")
    if slices:
        tested = [row for row in slices.get("slices", []) if row.get("tested", True)]
        rows.append(f"<tr><td>slices</td><td>{len(tested)} slice(s) of {len({r.get('column') for r in tested})} "
                    f"low-cardinality column(s) tested; {html.escape(str(slices.get('method', '')))}</td></tr>")
    if "monitoring" in checks:
        rows.append(f"<tr><td>monitoring</td><td>{html.escape(', '.join(sorted(checks['monitoring'])) or 'nothing')} "
                    "at hand</td></tr>")
    table = (f'<table class="checks"><tr><th>check</th><th>measured</th></tr>{"".join(rows)}</table>' if rows else "")
    return f"<h2>What to improve</h2>{head}{table}"


def _cost_html(point: Mapping[str, Any]) -> str:
    """The expected cost of the chosen threshold against the default one (``min-cost`` objectives)."""
    if "costs" not in point:
        return ""
    costs = point["costs"]
    test = ""
    if "test_expected_cost" in point:
        test = (f" On the test set: {_fmt(point['test_expected_cost'])} per row at the chosen threshold, "
                f"{_fmt(point['test_expected_cost_at_default'])} at {point['default_threshold']:g}.")
    return (f"<p>Decision threshold chosen on the validation set for the lowest expected cost, a false positive "
            f"costing {costs['false_positive']:g} and a false negative {costs['false_negative']:g}: threshold "
            f"{_fmt(point['threshold'])}, expected cost {_fmt(point['validation_expected_cost'])} per row "
            f"({_fmt(point['validation_expected_cost_at_default'])} at the default threshold "
            f"{point['default_threshold']:g}).{test}</p>")


def _op(point: Mapping[str, Any]) -> str:
    return "".join(f"<td>{_fmt(point[k])}</td>" for k in ("threshold", "precision", "recall", "f1", "false_positive_rate"))

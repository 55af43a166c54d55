"""Plots (PNG) and a self-contained HTML report of an evaluation document.

matplotlib is optional: without it the report is written with its tables and a note instead of plots.
"""
from __future__ import annotations

import base64
import html
import io
import math
import threading
from typing import Any, Mapping

PLOTS = ("roc", "pr", "confusion_matrix", "calibration")


def _matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display in a processing container
        import matplotlib.pyplot as plt

        return plt
    except ImportError:
        return None


def preload() -> threading.Thread:
    """Import matplotlib in the background: it takes a noticeable share of a run and overlaps well
    with reading the predictions (the CSV parser releases the GIL)."""
    thread = threading.Thread(target=_matplotlib, name="preload-matplotlib", daemon=True)
    thread.start()
    return thread


def render_plots(document: Mapping[str, Any]) -> dict[str, bytes]:
    """PNG bytes per plot name; empty when matplotlib is not installed."""
    plt = _matplotlib()
    if plt is None:
        return {}
    metrics = document["binary_classification_metrics"]
    pngs = {}

    def save(fig) -> bytes:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        return buffer.getvalue()

    roc = metrics["receiver_operating_characteristic_curve"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(roc["false_positive_rates"], roc["true_positive_rates"], lw=2, label=f"AUC = {metrics['auc']['value']:.4f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    pngs["roc"] = save(fig)

    pr = metrics["precision_recall_curve"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ap = document.get("average_precision")
    ax.plot(pr["recalls"], pr["precisions"], lw=2, label=f"AP = {ap:.4f}" if isinstance(ap, float) else None)
    ax.axhline(document["dataset"]["prevalence"], ls="--", c="grey", lw=1, label="prevalence")
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall curve", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower left")
    pngs["pr"] = save(fig)

    cm = metrics["confusion_matrix"]
    cells = [[cm["0"]["0"], cm["0"]["1"]], [cm["1"]["0"], cm["1"]["1"]]]
    fig, ax = plt.subplots(figsize=(4, 3.6))
    ax.imshow(cells, cmap="Blues")
    for i in range(2):
        for j in range(2):
            dark = cells[i][j] > max(map(max, cells)) / 2  # white on the dark cells, black on the light
            ax.text(j, i, f"{cells[i][j]:,}", ha="center", va="center", fontsize=12, color="white" if dark else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="Predicted", ylabel="Actual",
           title=f"Confusion matrix (threshold {document['threshold']})")
    pngs["confusion_matrix"] = save(fig)

    bins = [b for b in document["calibration"]["bins"] if b["count"]]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.plot([b["mean_predicted"] for b in bins], [b["fraction_positive"] for b in bins], marker="o", lw=2)
    ax.set(xlabel="Mean predicted score", ylabel="Fraction positive", xlim=(0, 1), ylim=(0, 1),
           title=f"Calibration (ECE {document['calibration']['expected_calibration_error']:.4f})")
    pngs["calibration"] = save(fig)
    return pngs


def _fmt(value: Any) -> str:
    """A number for the report: four decimals; NaN (cannot be estimated) as in evaluation.json.

    >>> _fmt(0.123456), _fmt(float("nan")), _fmt("<b>")
    ('0.1235', 'NaN', '&lt;b&gt;')
    """
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4f}"
    return html.escape(str(value))


def render_html(document: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    """One HTML file: dataset, gate outcome, metrics with 95% intervals, operating points, plots inline."""
    metrics = document["binary_classification_metrics"]
    intervals = document["confidence_intervals"]["metrics"]
    rows = []
    for name, entry in metrics.items():
        if not isinstance(entry, dict) or "value" not in entry:
            continue
        ci = intervals.get(name, {})
        interval = f"[{_fmt(ci['lower'])}, {_fmt(ci['upper'])}]" if "lower" in ci else "n/a"
        rows.append(f"<tr><td>{name}</td><td>{_fmt(entry['value'])}</td><td>{_fmt(entry['standard_deviation'])}</td><td>{interval}</td></tr>")
    for name in ("log_loss", "brier_score", "average_precision"):
        ci = intervals.get(name, {})
        interval = f"[{_fmt(ci['lower'])}, {_fmt(ci['upper'])}]" if "lower" in ci else "n/a"
        rows.append(f"<tr><td>{name}</td><td>{_fmt(document[name])}</td><td></td><td>{interval}</td></tr>")
    gate = document.get("gate")
    gate_html = ""
    if gate:
        checks = "".join(
            f"<tr><td>{html.escape(c['name'])}</td><td>{'passed' if c['passed'] else '<b>failed</b>'}</td>"
            f"<td>{html.escape(c['reason'])}</td></tr>"
            for c in gate["checks"]
        )
        verdict = "PASSED: the model may be registered" if gate["passed"] else "FAILED: the model will not be registered"
        gate_html = (
            f"<h2>Quality gate: {verdict}</h2><table><tr><th>check</th><th>outcome</th><th>why</th></tr>{checks}</table>"
            + _champion_html(gate.get("champion") or {})
        )
    dataset = document["dataset"]
    ops = document["operating_points"]
    op_rows = [f"<tr><td>max F1</td>{_op(ops['max_f1'])}</tr>", f"<tr><td>max Youden J</td>{_op(ops['max_youden_j'])}</tr>"]
    op_rows += [f"<tr><td>recall &ge; {p['recall_at_least']}</td>{_op(p)}</tr>" for p in ops["precision_at_recall"]]
    images = "".join(
        f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(pngs[name]).decode()}">' for name in PLOTS if name in pngs
    ) or "<p>(plots unavailable: matplotlib is not installed)</p>"
    delong = document["confidence_intervals"]["auc_delong"]
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Model evaluation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}td:first-child{{text-align:left}}
img{{margin:.5em;border:1px solid #eee}}</style></head><body>
<h1>Binary classifier evaluation</h1>
<p>{dataset['rows']:,} rows, {dataset['positives']:,} positives (prevalence {dataset['prevalence']:.4f}),
decision threshold {document['threshold']} ({html.escape(str(document.get('operating_point', {}).get('source', 'parameter')))}), input sha256 <code>{dataset['sha256']}</code></p>
{gate_html}
<h2>Metrics</h2>
<table><tr><th>metric</th><th>value</th><th>standard deviation</th><th>95% interval</th></tr>{''.join(rows)}</table>
<p>AUC by DeLong: standard error {_fmt(delong['standard_deviation'])}, 95% interval [{_fmt(delong['lower'])}, {_fmt(delong['upper'])}].
Intervals: {html.escape(document['confidence_intervals']['method'])}.</p>
<h2>Operating points</h2>
<table><tr><th></th><th>threshold</th><th>precision</th><th>recall</th><th>F1</th><th>FPR</th></tr>{''.join(op_rows)}</table>
<h2>Plots</h2>{images}
</body></html>
"""


def _champion_html(champion: Mapping[str, Any]) -> str:
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
                   f"<th>95% interval</th></tr>{rows}</table>")


def _op(point: Mapping[str, Any]) -> str:
    return "".join(f"<td>{_fmt(point[k])}</td>" for k in ("threshold", "precision", "recall", "f1", "false_positive_rate"))

"""``quality_report.html``: a self-contained page of a model-quality check (verdict, each constrained
metric with its interval and threshold, the merge's accounting, and the trend across windows as inline
SVG; no plotting library, nothing fetched)."""
from __future__ import annotations

import html
import math
from typing import Any, Mapping, Sequence

from . import quality_history

VERDICT_TEXT = {"ok": "within constraints", "violations": "constraints violated",
                "not_enough_data": "not enough labelled data"}
ACCOUNTING_TEXT = (
    ("capture_records", "capture records read"),
    ("outside_window", "outside the window (not checked)"),
    ("skipped_captures", "malformed capture records (skipped)"),
    ("captured_requests", "captured requests in the window"),
    ("captured_predictions", "captured predictions in the window"),
    ("duplicate_captures", "requests captured twice (counted once)"),
    ("ground_truth_records", "ground-truth records read"),
    ("skipped_ground_truth", "malformed ground-truth records (skipped)"),
    ("labelled_requests", "requests with a label"),
    ("duplicate_labels", "labels sent twice (counted once)"),
    ("conflicting_labels", "requests given different labels (left out)"),
    ("matched", "predictions matched with their label (measured)"),
    ("unmatched_predictions", "predictions without a label yet"),
    ("label_count_mismatch", "predictions whose request's label count differs (left out)"),
    ("labels_without_capture", "labels of requests not captured in the window"),
)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def _fmt(value: Any, digits: int = 4) -> str:
    number = _number(value)
    return "-" if math.isnan(number) else f"{number:.{digits}f}"


def _banner(summary: Mapping[str, Any]) -> str:
    if summary["violations"]:  # each is listed in full below
        names = list(dict.fromkeys(v["metric_name"] for v in summary["violations"]))
        return f"{', '.join(names)} below the registered constraint{'s' * (len(names) > 1)}"
    return summary["reason"]


def _metrics_rows(summary: Mapping[str, Any], document: Mapping[str, Any] | None,
                  baseline: Mapping[str, Any] | None) -> str:
    rules = next((v for k, v in summary["constraints"].items() if k.endswith("_constraints")), {})
    body = (document or {}).get("binary_classification_metrics", {})
    intervals = (document or {}).get("confidence_intervals", {}).get("metrics", {})
    registered = (baseline or {}).get("binary_classification_metrics", {})
    violated = {v["metric_name"] for v in summary["violations"]}
    rows = []
    for name, rule in rules.items():
        metric = body.get(name) or {}
        interval = intervals.get(name) or {}
        if name in violated:
            state = "violation"
        elif document is None:
            state = "not measured"
        else:
            state = "ok"
        shown_interval = (f"{_fmt(interval.get('lower'))} to {_fmt(interval.get('upper'))}"
                          if not math.isnan(_number(interval.get("lower"))) else "-")
        rows.append(f'<tr class="{state.replace(" ", "-")}"><td>{html.escape(name)}</td><td>{_fmt(metric.get("value"))}</td>'
                    f'<td>{_fmt(metric.get("standard_deviation"))}</td><td>{shown_interval}</td>'
                    f'<td>{_fmt((registered.get(name) or {}).get("value"))}</td>'
                    f'<td>{html.escape(str(rule.get("comparison_operator")))} {_fmt(rule.get("threshold"))}</td>'
                    f'<td>{state}</td></tr>')
    return "".join(rows)


def _trend(trend: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], baseline: Mapping[str, Any] | None) -> str:
    if not trend:
        return ""
    rules = next((v for k, v in summary["constraints"].items() if k.endswith("_constraints")), {})
    registered = (baseline or {}).get("binary_classification_metrics", {})
    charts = []
    for metric in quality_history.TREND_METRICS:
        value = _number((registered.get(metric) or {}).get("value"))
        threshold = _number((rules.get(metric) or {}).get("threshold"))
        charts.append(f"<figure>{quality_history.trend_svg(trend, metric, baseline=None if math.isnan(value) else value, threshold=None if math.isnan(threshold) else threshold)}</figure>")
    rows = "".join(
        f'<tr class="{html.escape(str(e.get("verdict", "")).replace("_", "-"))}"><td>{html.escape(str(e.get("window_start")))}</td>'
        f'<td>{html.escape(str(e.get("window_end")))}</td><td>{html.escape(str(e.get("item_count")))}</td>'
        + "".join(f'<td>{_fmt((e["metrics"].get(m) or {}).get("value"))}</td>' for m in quality_history.TREND_METRICS)
        + f'<td>{html.escape(VERDICT_TEXT.get(str(e.get("verdict")), str(e.get("verdict", "-"))))}'
        + (f': {html.escape(", ".join(e.get("violated_metrics") or []))}' if e.get("violated_metrics") else "")
        + "</td></tr>" for e in trend)
    heads = "".join(f"<th>{m}</th>" for m in quality_history.TREND_METRICS)
    return (f"<h2>Over time ({len(trend)} window(s))</h2>{''.join(charts)}"
            f"<table><tr><th>window start</th><th>window end</th><th>labelled rows</th>{heads}<th>verdict</th></tr>"
            f"{rows}</table>")


def render_report(summary: Mapping[str, Any], document: Mapping[str, Any] | None, *,
                  trend: Sequence[Mapping[str, Any]] = (), baseline: Mapping[str, Any] | None = None) -> str:
    """The page of one check: ``summary`` is quality_summary.json's content, ``document`` the evaluation
    document of the matched rows (None when not measured), ``trend`` the history including this window,
    ``baseline`` the registered evaluation.json (or None)."""
    verdict = summary["verdict"]
    window = summary["window"]
    accounting = summary["accounting"]
    account_rows = "".join(f"<tr><td>{html.escape(text)}</td><td>{accounting.get(key, 0)}</td></tr>"
                           for key, text in ACCOUNTING_TEXT if key in accounting)
    violations = "".join(f"<li><b>{html.escape(v['metric_name'])}</b>: {html.escape(v['description'])}</li>"
                         for v in summary["violations"]) or "<li>none</li>"
    skipped = summary.get("skipped_records") or []
    skipped_html = ("<p>Malformed records skipped (first " + str(len(skipped)) + "):</p><ul>"
                    + "".join(f"<li>{html.escape(s['where'])}: {html.escape(s['reason'])}</li>" for s in skipped[:10])
                    + "</ul>") if skipped else ""
    settings = summary["settings"]
    data = summary["dataset"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Model quality report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:72em}}table{{border-collapse:collapse;margin:0.5em 0}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}tr.violation td,tr.violations td{{background:#fde2e1}}
tr.not-measured td,tr.not-enough-data td{{background:#f3f3f3}}figure{{display:inline-block;margin:8px}}
.verdict{{font-size:1.2em;padding:6px 10px;display:inline-block}}.ok{{background:#dcfce7}}
.violations{{background:#fde2e1}}.not_enough_data{{background:#f3f3f3}}</style></head><body>
<h1>Model quality report</h1>
<p>Window [{html.escape(window["start"])}, {html.escape(window["end"])}) of captured inference times:
{data["item_count"]} labelled prediction(s) ({data["positives"]} positive, {data["negatives"]} negative).</p>
<p class="verdict {html.escape(verdict)}"><b>{html.escape(VERDICT_TEXT.get(verdict, verdict))}</b>:
{html.escape(_banner(summary))}</p>
<h2>Violations</h2><ul>{violations}</ul>
<h2>Constrained metrics</h2>
<p>Measured on the predictions that have a label, at probability threshold {settings["probability_threshold"]:g}
({html.escape(settings["threshold_source"])}), with the evaluation's own engine: standard deviations and 95%
intervals from {settings["bootstrap"]} bootstrap resamples. Constraints: {html.escape(settings["constraints"])}.</p>
<table><tr><th>metric</th><th>value</th><th>standard deviation</th><th>95% interval</th><th>registered value</th>
<th>constraint (violated when)</th><th>status</th></tr>{_metrics_rows(summary, document, baseline)}</table>
<h2>Merge of captures and ground truth</h2>
<table>{account_rows}</table>
{skipped_html}
{_trend(trend, summary, baseline)}
</body></html>
"""

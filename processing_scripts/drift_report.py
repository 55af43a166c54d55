"""``drift_report.html``: a self-contained page of a drift check (table of every feature's checks and
baseline/new histogram overlays as inline SVG; no plotting library, nothing fetched)."""
from __future__ import annotations

import html
import math
from typing import Any, Mapping

from .checks import DriftResult


def _svg_overlay(plot: Mapping[str, Any], width: int = 360, height: int = 150) -> str:
    """Baseline and new shares per bin as overlaid bars, inline SVG (no plotting library needed)."""
    labels, base, new = plot["labels"], plot["baseline"], plot["new"]
    n = max(len(labels), 1)
    top = max(max(base, default=0), max(new, default=0), 1e-12)
    bar, inner = width / n, height - 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i in range(len(labels)):
        for share, colour, inset in ((base[i], "#4c78a8", 0.1), (new[i], "#f58518", 0.3)):
            h = inner * share / top
            parts.append(f'<rect x="{i * bar + bar * inset:.1f}" y="{inner - h:.1f}" width="{bar * 0.6:.1f}" '
                         f'height="{h:.1f}" fill="{colour}" fill-opacity="0.7"><title>{html.escape(str(labels[i]))}: '
                         f'baseline {base[i]:.3f}, new {new[i]:.3f}</title></rect>')
    parts.append(f'<text x="0" y="{height - 4}" font-size="10">{html.escape(str(labels[0]))[:14] if labels else ""}'
                 f'</text><text x="{width}" y="{height - 4}" font-size="10" text-anchor="end">'
                 f'{html.escape(str(labels[-1]))[:14] if labels else ""}</text></svg>')
    return "".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    return html.escape("" if value is None else str(value))


def render_report(result: DriftResult) -> str:
    """A self-contained HTML drift report: per-feature table and baseline/new histogram overlays."""
    summary = result.summary
    rows = []
    for feature in summary["features"]:
        empty = "not monitored" if not feature.get("monitored", True) else "-"
        stats = feature["statistics"] or [{"statistic": empty, "value": None, "threshold": None, "verdict": "-"}]
        for j, stat in enumerate(stats):
            head = (f'<td rowspan="{len(stats)}">{html.escape(feature["name"])}</td>'
                    f'<td rowspan="{len(stats)}">{_cell(feature["inferred_type"])} → {_cell(feature["new_inferred_type"])}</td>'
                    if j == 0 else "")
            verdict = stat["verdict"]
            note = stat.get("reason") or (f"simple distance {stat['linf_simple']:.4g}" if "linf_simple" in stat else "")
            if "p_value" in stat:
                shown = "< 1e-16" if stat["p_value"] < 1e-16 else f"{stat['p_value']:.3g}"
                note = f"chi-squared p-value {shown}" + ("" if stat.get("significant", True)
                                                                        else ", not significant after Holm")
            rows.append(f'<tr class="{verdict.replace(" ", "-")}">{head}<td>{html.escape(stat["statistic"])}</td>'
                        f'<td>{_cell(stat["value"])}</td><td>{_cell(stat["threshold"])}</td><td>{html.escape(verdict)}'
                        f'</td><td>{html.escape(note)}</td></tr>')
    violations = "".join(f"<li><b>{html.escape(v['feature_name'])}</b> {html.escape(v['constraint_check_type'])}: "
                         f"{html.escape(v['description'])}</li>" for v in result.violations) or "<li>none</li>"
    plots = "".join(f'<figure><figcaption>{html.escape(name)} ({plot["kind"]})</figcaption>{_svg_overlay(plot)}</figure>'
                    for name, plot in result.plots.items())
    data = summary["dataset"]
    notes = []
    for key, text in (("not_enough_data", "not enough data for a drift verdict"),
                      ("not_compared", "not compared (the baseline has no distribution to compare with)"),
                      ("not_monitored", "not monitored (switched off in constraints.json)")):
        if summary.get(key):
            names = ", ".join(summary[key][:20]) + (f" and {len(summary[key]) - 20} more" if len(summary[key]) > 20 else "")
            notes.append(f"<li>{len(summary[key])} feature(s) {text}: {html.escape(names)}</li>")
    skipped = summary.get("skipped_records") or []
    if data.get("records_skipped"):
        first = skipped[0] if skipped else {"where": "?", "reason": "?"}
        notes.append(f"<li>{data['records_skipped']} malformed record(s) skipped; the first, "
                     f"{html.escape(first['where'])}: {html.escape(first['reason'])}</li>")
    notes_html = f"<ul>{''.join(notes)}</ul>" if notes else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Data drift report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:2px 8px;text-align:left}}tr.violation td{{background:#fde2e1}}tr.not-enough-data td{{background:#f3f3f3}}figure{{display:inline-block;margin:8px}}
.key span{{display:inline-block;width:12px;height:12px;margin:0 4px}}</style></head><body>
<h1>Data drift report</h1>
<p>{data["item_count"]} rows and {data["column_count"]} columns checked against a baseline of
{data["baseline_item_count"]} rows and {data["baseline_column_count"]} columns:
<b>{summary["violation_count"]} violation(s)</b>.</p>
{notes_html}
<p>Drift is Model Monitor's distance: the L-infinity distance between the baseline's and the new data's
CDFs (numeric) or category shares, less the Kolmogorov-Smirnov critical value with the Robust method; the
population stability index is checked too where the baseline declares it, and counts only when significant.</p>
<h2>Violations</h2><ul>{violations}</ul>
<h2>Features</h2>
<table><tr><th>feature</th><th>type (baseline → new)</th><th>statistic</th><th>value</th><th>threshold</th><th>verdict</th><th>note</th></tr>
{"".join(rows)}</table>
<h2>Distributions</h2>
<p class="key"><span style="background:#4c78a8"></span>baseline <span style="background:#f58518"></span>new data
(shares per baseline bin; values outside the baseline range count in the end bins)</p>
{plots}
</body></html>
"""

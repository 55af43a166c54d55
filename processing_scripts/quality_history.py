"""The model-quality history: one JSON line per checked window, and its trend chart.

Each scheduled quality check appends its window's metrics (value and standard deviation), item count
and violation count to ``quality_history.jsonl`` under the monitoring prefix; a rerun of a window
replaces that window's line, so the history holds each window once, oldest first. The trend chart shows
AUC or F1 per window with a band of +/- 1.96 standard deviations, against the value the version was
registered with.
"""
from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

from . import charts
from .labelled import DataError

HISTORY_FILE = "quality_history.jsonl"
TREND_METRICS = ("auc", "f1")
Z = 1.959963984540054  # the two-sided 95% normal quantile: the band drawn around each value


def entry(*, window_start: str | None, window_end: str | None, statistics: Mapping[str, Any],
          violations: Sequence[Mapping[str, Any]], accounting: Mapping[str, int]) -> dict[str, Any]:
    """One history line from a check's statistics.json (Model Monitor's model-quality layout)."""
    metrics = statistics.get("binary_classification_metrics") or {}
    kept = {}
    for name, value in metrics.items():
        if isinstance(value, Mapping) and "value" in value:
            kept[name] = {"value": value["value"], "standard_deviation": value.get("standard_deviation")}
    return {"window_start": window_start, "window_end": window_end,
            "item_count": (statistics.get("dataset") or {}).get("item_count"),
            "metrics": kept, "violation_count": len(violations),
            "violated_metrics": sorted({str(v.get("metric_name")) for v in violations}),
            "accounting": dict(accounting)}


def read(text: str, *, name: str = "quality_history.jsonl") -> list[dict[str, Any]]:
    """The lines of a history file (one-line error naming the line when one is not a history entry)."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{name}:{number}: not JSON ({error.msg}); remove the line or restore the file") from None
        if not isinstance(value, dict) or not isinstance(value.get("metrics"), dict):
            raise DataError(f"{name}:{number}: not a quality-history entry; remove the line or restore the file")
        lines.append(value)
    return lines


def updated(text: str, new: Mapping[str, Any], *, name: str = "quality_history.jsonl") -> bytes:
    """The history with ``new`` in place of its window's earlier line (if any), ordered by window start.

    >>> one = {"window_start": "2024-01-01T00:00:00Z", "window_end": "2024-01-02T00:00:00Z", "metrics": {}}
    >>> again = dict(one, item_count=5)
    >>> [json.loads(line)["item_count"] if "item_count" in line else None
    ...  for line in updated(updated("", one).decode(), again).decode().splitlines()]
    [5]
    """
    key = (new.get("window_start"), new.get("window_end"))
    kept = [e for e in read(text, name=name) if (e.get("window_start"), e.get("window_end")) != key]
    kept.append(dict(new))
    kept.sort(key=lambda e: (e.get("window_start") or "", e.get("window_end") or ""))
    return "".join(json.dumps(e, allow_nan=False, sort_keys=True) + "\n" for e in kept).encode("utf-8")


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def trend_svg(history: Sequence[Mapping[str, Any]], metric: str, *, baseline: float | None,
              threshold: float | None = None) -> str:
    """``metric`` per window (oldest left) with its 95% band, against the registered ``baseline`` value
    and the constraint's ``threshold`` (below it: a violation)."""
    count = len(history)
    positions = [i / (count - 1) if count > 1 else 0.5 for i in range(count)]
    xs, values, lower, upper, tips = [], [], [], [], []
    for x, e in zip(positions, history):  # windows without the metric (not enough labels) are not drawn
        value = _number((e["metrics"].get(metric) or {}).get("value"))
        if math.isnan(value):
            continue
        spread = _number((e["metrics"].get(metric) or {}).get("standard_deviation"))
        low, high = (value - Z * spread, value + Z * spread) if not math.isnan(spread) else (value, value)
        xs.append(x), values.append(value), lower.append(low), upper.append(high)
        tips.append(f"{e.get('window_start') or '?'} .. {e.get('window_end') or '?'}: {metric} {value:.4f}"
                    + (f" (95% {low:.4f} to {high:.4f})" if not math.isnan(spread) else "")
                    + f", {e.get('item_count')} labelled rows")
    series = [charts.Series(f"{metric} per window", xs, values, marker="circle", tips=tips),
              charts.Series("lower 95% bound", xs, lower, colour=charts.GREY, dash="2 3", width=1.0),
              charts.Series("upper 95% bound", xs, upper, colour=charts.GREY, dash="6 2", width=1.0)]
    references = []
    if baseline is not None and math.isfinite(baseline):
        references.append(charts.Series(f"registered {metric} {baseline:.4f}", [0, 1], [baseline, baseline],
                                        colour=charts.ORANGE, dash="6 4"))
    if threshold is not None and math.isfinite(threshold):
        references.append(charts.Series(f"constraint threshold {threshold:.4f}", [0, 1], [threshold, threshold],
                                        colour="#b91c1c", dash="1 3", width=1.5))
    first = history[0].get("window_start") if history else None
    last = history[-1].get("window_start") if history else None
    return charts.unit_chart(
        f"trend-{metric}", title=f"{metric.upper()} per window", x_label=f"window ({first} .. {last})",
        y_label=metric, series=series, references=references,
        description=f"{metric} of each of {count} monitored windows with its 95% interval"
                    + (f", against the registered value {baseline:.4f}" if baseline is not None
                       and math.isfinite(baseline) else "")
                    + (f" and the constraint threshold {threshold:.4f}" if threshold is not None
                       and math.isfinite(threshold) else ""))

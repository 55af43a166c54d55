"""Drift demo: baseline one period of a time-stamped data set, then check a quiet period and a drifted one.

    python -m pipeline.drift_demo [--work-dir .demo/drift] [--rows 20000] [--seed 0]    (make drift-demo)

The data: scikit-learn's bundled data sets have no time column (and at most 1,797 rows: two samples
of one population that small differ by a PSI of about (bins - 1)(1/n + 1/m) ~ 0.1 over ten bins, so
thirty features would raise false alarms), so the demo generates a time-stamped sensor log with
``sklearn.datasets.make_classification`` (nothing is downloaded). Each row is a machine's reading at a
random time in 2023-2024 (uniform, independent of the values) with a label "failed within a day";
the columns are label, temperature (°C), pressure (kPa), vibration (mm/s), load (%), cycle time
(whole seconds) and site (text). The process is the same all the time except for two documented
events on 2024-07-01:

* a firmware update makes the temperature sensors report degrees Fahrenheit (``32 + 1.8 x``);
* a new site, ``plant-d``, comes online and sends 30% of the readings.

The log is split by its time column into three consecutive periods, and each is written as a
headerless, label-first CSV: the **reference** period (2023) is baselined; the **holdout** period
(2024-01-01 to 2024-06-30) comes later but before the events, so it must show no violation; the
**later** period (2024-07-01 onwards) must show violations on exactly the temperature and site
features. The checks run through ``python -m pipeline.monitor`` (the same code as the pipeline's
processing steps); each writes ``drift_report.html``.
Exit 0 when both outcomes are as described, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

START = np.datetime64("2023-01-01T00:00:00")
END = np.datetime64("2025-01-01T00:00:00")
HOLDOUT_START = np.datetime64("2024-01-01T00:00:00")
CHANGE = np.datetime64("2024-07-01T00:00:00")  # the firmware update and the new site
# The CSV's feature columns after the label, in order; Model Monitor names the columns _c0 (the label,
# the baseline's first column), _c1, ...
FEATURES = ("temperature", "pressure", "vibration", "load", "cycle_time", "site")
SITES = ("plant-a", "plant-b", "plant-c")
SITE_SHARES = (0.5, 0.3, 0.2)
NEW_SITE, NEW_SITE_SHARE = "plant-d", 0.3
DRIFTED = ("temperature", "site")  # what the events change


@dataclass(frozen=True)
class SensorLog:
    """The generated log: one row per reading, sorted by time."""

    time: np.ndarray  # datetime64[s]
    label: np.ndarray  # 0/1
    numbers: np.ndarray  # (rows, 5) float: temperature .. cycle_time
    site: np.ndarray  # object


def make_sensor_log(rows: int = 20_000, *, seed: int = 0) -> SensorLog:
    """The time-stamped log described in the module docstring (deterministic for a seed)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=5, n_informative=3, n_redundant=1,
                               weights=[0.85], random_state=seed)
    rng = np.random.default_rng(seed)
    span = int((END - START) / np.timedelta64(1, "s"))
    stamps = START + rng.integers(0, span, rows).astype("timedelta64[s]")
    numbers = np.column_stack([
        21.0 + 2.5 * X[:, 0],  # temperature, °C
        101.0 + 1.5 * X[:, 1],  # pressure, kPa
        np.exp(0.3 * X[:, 2]),  # vibration, mm/s (positive, skewed)
        np.clip(60.0 + 10.0 * X[:, 3], 0.0, 100.0),  # load, %
        np.round(30.0 + 5.0 * X[:, 4]),  # cycle time, whole seconds
    ])
    site = np.array(SITES, dtype=object)[rng.choice(len(SITES), size=rows, p=SITE_SHARES)]
    after = stamps >= CHANGE
    numbers[after, 0] = 32.0 + 1.8 * numbers[after, 0]  # the firmware update: °F from now on
    site[after & (rng.random(rows) < NEW_SITE_SHARE)] = NEW_SITE
    order = np.argsort(stamps, kind="stable")
    return SensorLog(stamps[order], y[order], numbers[order], site[order])


def split_by_time(log: SensorLog) -> dict[str, np.ndarray]:
    """Row masks of the reference, holdout and later periods, by the time column alone."""
    return {"reference": log.time < HOLDOUT_START,
            "holdout": (log.time >= HOLDOUT_START) & (log.time < CHANGE),
            "later": log.time >= CHANGE}


def write_period(path: Path, log: SensorLog, mask: np.ndarray) -> Path:
    """A headerless, label-first CSV of the rows in ``mask``."""
    from processing_scripts.outputs import write_text_atomic

    lines = [f"{label},{t:.4f},{p:.4f},{v:.4f},{load:.2f},{int(c)},{s}"
             for label, (t, p, v, load, c), s in zip(log.label[mask], log.numbers[mask], log.site[mask])]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def drifted_features(violations_file: Path) -> dict[str, list[str]]:
    """Feature name → its violated checks, from constraint_violations.json."""
    found: dict[str, list[str]] = {}
    for v in json.loads(violations_file.read_text())["violations"]:
        found.setdefault(FEATURES[int(v["feature_name"][2:]) - 1], []).append(v["constraint_check_type"])
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.drift_demo", description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", default=".demo/drift", help="where the data, baseline and reports go")
    parser.add_argument("--rows", type=int, default=20_000, help="readings over the two years (default 20000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rows < 5_000:
        parser.error("--rows must be at least 5000 (in smaller samples, some of the six features drift by chance)")
    from pipeline import monitor

    started = time.perf_counter()
    work = Path(args.work_dir)
    log = make_sensor_log(args.rows, seed=args.seed)
    periods = split_by_time(log)
    paths, spans = {}, {}
    print(f"sensor log: {len(log.time)} readings, {log.time[0]} to {log.time[-1]}; columns: label, "
          f"{', '.join(FEATURES)}; on {CHANGE.astype('datetime64[D]')}: temperature in °F, new site {NEW_SITE}")
    for period, mask in periods.items():
        paths[period] = write_period(work / "data" / f"{period}.csv", log, mask)
        spans[period] = f"{log.time[mask][0].astype('datetime64[D]')} .. {log.time[mask][-1].astype('datetime64[D]')}"
        print(f"  {period:<9} {int(mask.sum()):>6} rows  {spans[period]}  {paths[period]}")

    print("\n== baseline of the reference period: python -m pipeline.monitor baseline --label-column first")
    baseline = work / "baseline"
    if monitor.main(["baseline", "--data", str(paths["reference"]), "--output-dir", str(baseline),
                     "--label-column", "first"]) != 0:
        return 1
    outcomes, reports = {}, {}
    for period in ("holdout", "later"):
        print(f"\n== check the {period} period: python -m pipeline.monitor check")
        out = work / f"check-{period}"
        if monitor.main(["check", "--baseline", str(baseline), "--data", str(paths[period]),
                         "--output-dir", str(out)]) == 2:
            return 1
        outcomes[period] = drifted_features(out / "constraint_violations.json")
        reports[period] = (out / "drift_report.html").resolve()

    print("\n== outcome (expected: no violations, then violations on temperature and site only)")
    for period, found in outcomes.items():
        text = "; ".join(f"{name} ({', '.join(checks)})" for name, checks in found.items())
        print(f"  {period:<7} {spans[period]}: {'violations: ' + text if found else 'no violations'}")
    print(f"  drift report: {reports['later']}")
    print(f"  (holdout report: {reports['holdout']}; {time.perf_counter() - started:.1f}s)")
    if outcomes["holdout"] or set(outcomes["later"]) != set(DRIFTED):
        print(f"error: unexpected outcome (holdout: {sorted(outcomes['holdout']) or 'none'}; later: "
              f"{sorted(outcomes['later']) or 'none'}; expected none and {sorted(DRIFTED)})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)

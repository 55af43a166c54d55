"""Benchmark: evaluate.py end to end vs scikit-learn's point metrics alone, measured in one run.

    python -m benchmarks.evaluate --rows 10000000 [--repeats 3] [--bootstrap 1000]

Numerator: median wall time of ``python processing_scripts/evaluate.py`` on a generated predictions file
(read + every metric + bootstrap + plots + JSON + report). Denominator: median time scikit-learn takes
for the point metrics only (accuracy, precision, recall, f1, fbeta x2, confusion_matrix, roc_auc_score,
roc_curve, precision_recall_curve, average_precision_score) on in-memory arrays. Targets: ratio <= 0.3
from 10M rows (below, the interpreter's start dominates the ratio); peak RSS of the evaluation <= 2 GB
up to 10M rows, <= 6 GB up to 100M. Exit 0 when every target is met, 1 when one is missed, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.targets import Measured, ratio, verdict

SCRIPT = ["-m", "processing_scripts.evaluate"]  # as the container runs it
RATIO_TARGET, RATIO_FROM_ROWS = 0.3, 10_000_000
RSS_TARGETS_MB = ((10_000_000, 2048), (100_000_000, 6144))  # (up to this many rows, peak RSS at most)


def make_data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.3).astype(np.int8)
    s = 1 / (1 + np.exp(-(rng.normal(size=rows) + 1.2 * y - 0.6)))
    return y, np.round(s, 6)  # six decimals, as a CSV writer typically leaves them


def write_csv(path: Path, y: np.ndarray, s: np.ndarray, chunk: int = 5_000_000) -> None:
    """Lines ``label,score`` without a header, as the Batch Transform join writes them."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = pacsv.WriteOptions(include_header=False)
    with pacsv.CSVWriter(str(path), pa.schema([("label", pa.int8()), ("score", pa.float64())]), write_options=options) as writer:
        for start in range(0, len(y), chunk):
            writer.write_table(pa.table({"label": y[start:start + chunk], "score": s[start:start + chunk]}))


def sklearn_point_metrics(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn import metrics

    started = time.perf_counter()
    pred = (s >= 0.5).astype(np.int8)
    metrics.accuracy_score(y, pred)
    metrics.precision_score(y, pred)
    metrics.recall_score(y, pred)
    metrics.f1_score(y, pred)
    metrics.fbeta_score(y, pred, beta=0.5)
    metrics.fbeta_score(y, pred, beta=2)
    metrics.confusion_matrix(y, pred)
    metrics.roc_auc_score(y, s)
    metrics.roc_curve(y, s)
    metrics.precision_recall_curve(y, s)
    metrics.average_precision_score(y, s)
    return time.perf_counter() - started


def run_evaluate(predictions: Path, out: Path, bootstrap: int) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one evaluate.py process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *SCRIPT, "--predictions", str(predictions), "--output-dir", str(out),
         "--bootstrap", str(bootstrap)],
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"evaluate.py failed with status {status}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KiB


def check_targets(rows: int, seconds: float, baseline_seconds: float | None, peak_rss_mb: float) -> int:
    """Exit code of a run: 0 when its targets are met, 1 when one is missed (no ratio without a baseline).

    >>> check_targets(10_000_000, 2.0, 11.0, 800)
    ratio (evaluate.py / scikit-learn): 0.182  (target <= 0.3: met)
    peak RSS of evaluate.py: 800 MB  (target <= 2,048 MB: met)
    every target met
    0
    """
    rss_limit = next((limit for up_to, limit in RSS_TARGETS_MB if rows <= up_to), None)
    measured = [Measured("peak RSS of evaluate.py", peak_rss_mb, rss_limit, " MB",
                         untargeted=f"no target above {RSS_TARGETS_MB[-1][0]:,} rows")]
    if baseline_seconds is not None:
        measured.insert(0, Measured("ratio (evaluate.py / scikit-learn)", ratio(seconds, baseline_seconds),
                                    RATIO_TARGET if rows >= RATIO_FROM_ROWS else None,
                                    untargeted=f"no target below {RATIO_FROM_ROWS:,} rows"))
    return verdict(measured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--skip-baseline", action="store_true", help="only time evaluate.py (e.g. at 100M rows)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeats < 1 or args.bootstrap < 0:
        parser.error("--rows and --repeats must be positive, --bootstrap at least 0")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        y, s = make_data(args.rows)
        predictions = tmp / "predictions.csv.out"
        write_csv(predictions, y, s)
        print(f"rows: {args.rows:,}  file: {predictions.stat().st_size / 1e6:.0f} MB  repeats: {args.repeats}")
        baseline = []
        if not args.skip_baseline:
            baseline = [sklearn_point_metrics(y, s) for _ in range(args.repeats)]
        del y, s
        runs = [run_evaluate(predictions, tmp / f"out{i}", args.bootstrap) for i in range(args.repeats)]
    ours = statistics.median(t for t, _ in runs)
    peak = max(rss for _, rss in runs)
    print(f"evaluate.py end to end: median {ours:.2f}s  (runs: {', '.join(f'{t:.2f}' for t, _ in runs)})")
    base = statistics.median(baseline) if baseline else None
    if baseline:
        print(f"scikit-learn point metrics only: median {base:.2f}s  (runs: {', '.join(f'{t:.2f}' for t in baseline)})")
    return check_targets(args.rows, ours, base, peak)


if __name__ == "__main__":
    sys.exit(main())

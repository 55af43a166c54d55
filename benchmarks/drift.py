"""Benchmark: the drift check end to end vs pandas computing the same per-feature histograms, in one run.

    python -m benchmarks.drift --rows 1000000 --features 50 [--repeats 3] [--baseline-rows 200000]

Data: ``--features`` columns (every tenth Integral, the rest Fractional with four decimals), no header;
the new batch has half of its features shifted so the check finds drift. The baseline is built once,
untimed, from ``--baseline-rows`` rows of the unshifted distribution.
Numerator: median wall time of ``python processing_scripts/monitor.py check`` on the new batch (read,
type inference, every check, PSI + KS, the new data's statistics.json, JSON + HTML outputs).
Denominator: median wall time of a ``python -c`` process doing ``pandas.read_csv`` of the same file
and ``np.histogram`` of every column over the baseline's bucket edges (the histograms alone, no
PSI/KS/sketch/outputs); both are whole processes, so both pay interpreter start and imports. The runs
are interleaved so that both see the same machine load.
Target ratio <= 1.0. Peak RSS is the check process's (``ru_maxrss`` from ``os.wait4``).
Exit 0 when the target is met, 1 when it is missed, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.targets import Measured, ratio, verdict

SCRIPT = ["-m", "processing_scripts.monitor"]  # as the container runs it
RATIO_TARGET = 1.0


def make_matrix(rows: int, features: int, *, shift: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(rows, features)) * np.arange(1, features + 1) + np.arange(features)
    if shift:
        data[:, ::2] += 0.5 * np.arange(1, features + 1)[::2]  # half the features move by half an SD
    data[:, ::10] = np.floor(data[:, ::10])
    return np.round(data, 4)


def write_csv(path: Path, matrix: np.ndarray, chunk: int = 200_000) -> None:
    """Headerless CSV via pyarrow (the integral columns without a decimal point)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"f{i}" for i in range(matrix.shape[1])]
    integral = set(range(0, matrix.shape[1], 10))
    schema = pa.schema([(n, pa.int64() if i in integral else pa.float64()) for i, n in enumerate(names)])
    with pacsv.CSVWriter(str(path), schema, write_options=pacsv.WriteOptions(include_header=False)) as writer:
        for start in range(0, len(matrix), chunk):
            block = matrix[start:start + chunk]
            writer.write_table(pa.table([block[:, i].astype(np.int64) if i in integral else block[:, i]
                                         for i in range(matrix.shape[1])], schema=schema))


def write_data(folder: Path, rows: int, baseline_rows: int, features: int) -> None:
    write_csv(folder / "baseline.csv", make_matrix(baseline_rows, features, shift=False, seed=0))
    write_csv(folder / "new.csv", make_matrix(rows, features, shift=True, seed=1))


def run_script(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one monitor.py process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *SCRIPT, *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


PANDAS_HISTOGRAMS = """
import json, sys
import numpy as np, pandas as pd
edges = [np.array(e) for e in json.load(open(sys.argv[2]))]
frame = pd.read_csv(sys.argv[1], header=None)
counts = []
for i, column in enumerate(frame.columns):
    values = frame[column].to_numpy(dtype=np.float64)
    counts.append(np.histogram(values[~np.isnan(values)], bins=edges[i])[0])
"""


def run_pandas(data: Path, edges: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a pandas process: read_csv + np.histogram per column."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", PANDAS_HISTOGRAMS, str(data), str(edges)])
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the pandas baseline failed")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def check_targets(check_seconds: float, pandas_seconds: float) -> int:
    """Exit code of a run: 0 when the check is within the target ratio to pandas' histograms, else 1.

    >>> check_targets(1.28, 1.46)
    ratio (check / pandas histograms): 0.877  (target <= 1: met)
    every target met
    0
    """
    return verdict([Measured("ratio (check / pandas histograms)", ratio(check_seconds, pandas_seconds), RATIO_TARGET)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drift", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--baseline-rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.features < 1 or args.baseline_rows < 1 or args.repeats < 1:
        parser.error("--rows, --features, --baseline-rows and --repeats must be positive")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Generated in a fresh interpreter: a child's peak RSS counts its parent's pages at fork time,
        # so this process must stay small for the RSS figures to be the measured processes' own.
        writer = multiprocessing.get_context("spawn").Process(
            target=write_data, args=(tmp, args.rows, min(args.baseline_rows, args.rows), args.features))
        writer.start()
        writer.join()
        if writer.exitcode != 0:
            raise SystemExit("generating the data failed")
        size = (tmp / "new.csv").stat().st_size / 1e6
        print(f"rows: {args.rows:,}  features: {args.features}  file: {size:.0f} MB  repeats: {args.repeats}")
        seconds, rss, status = run_script(["baseline", "--data", str(tmp / "baseline.csv"), "--output-dir", str(tmp / "bl")])
        if status != 0:
            raise SystemExit(f"monitor.py baseline failed with status {status}")
        print(f"baseline ({min(args.baseline_rows, args.rows):,} rows, untimed in the ratio): {seconds:.2f}s, peak RSS {rss:,.0f} MB")
        stats = json.loads((tmp / "bl" / "statistics.json").read_text())
        edges = [[b["lower_bound"] for b in f["numerical_statistics"]["distribution"]["kll"]["buckets"]]
                 + [f["numerical_statistics"]["distribution"]["kll"]["buckets"][-1]["upper_bound"]]
                 for f in stats["features"]]
        (tmp / "edges.json").write_text(json.dumps(edges))
        base, runs = [], []
        for i in range(args.repeats):  # interleaved, so that both see the same machine load
            base.append(run_pandas(tmp / "new.csv", tmp / "edges.json"))
            seconds, rss, status = run_script(["check", "--baseline-dir", str(tmp / "bl"), "--data", str(tmp / "new.csv"),
                                               "--output-dir", str(tmp / f"out{i}")])
            if status not in (0, 1):
                raise SystemExit(f"monitor.py check failed with status {status}")
            runs.append((seconds, rss))
        violations = json.loads((tmp / "out0" / "constraint_violations.json").read_text())["violations"]
    ours, peak = statistics.median(t for t, _ in runs), max(r for _, r in runs)
    denominator = statistics.median(t for t, _ in base)
    print(f"monitor.py check: median {ours:.2f}s  (runs: {', '.join(f'{t:.2f}' for t, _ in runs)}); "
          f"{len(violations)} violations; peak RSS {peak:,.0f} MB")
    print(f"pandas read_csv + np.histogram per column: median {denominator:.2f}s  "
          f"(runs: {', '.join(f'{t:.2f}' for t, _ in base)}); peak RSS {max(r for _, r in base):,.0f} MB")
    return check_targets(ours, denominator)


if __name__ == "__main__":
    sys.exit(main())

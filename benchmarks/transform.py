"""Benchmark: the local Batch Transform vs a bare read CSV + predict_proba + write CSV, in one run.

    python -m benchmarks.transform --rows 1000000 [--features 20] [--repeats 5]

Numerator: median wall time of ``run_transform`` with the pipeline's settings (SplitType=Line,
MultiRecord, MaxPayloadInMB=6, input_filter "$[1:]", join_source Input, output_filter "$[0,-1]"),
handlers loaded from a model.tar.gz built by ``pipeline.package`` (loading included). It is measured
with MaxConcurrentTransforms = CPU count, at most 4, and with one request at a time (SageMaker's
default, which the pipeline's job uses). Denominator: median time of ``pandas.read_csv`` (which itself parses on every core) +
``predict_proba`` + writing the same ``label,score`` lines, for the same rows and model. Runs are
interleaved so machine noise hits both alike. Target: ratio <= 1.3 with the default concurrency (one
request at a time is shown, with no target). The outputs are checked to agree. Exit 0 when the target
is met, 1 when it is missed, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np

from benchmarks.targets import Measured, ratio, verdict

RATIO_TARGET = 1.3
PIPELINE_SETTINGS = {
    "content_type": "text/csv", "accept": "text/csv", "split_type": "Line", "batch_strategy": "MultiRecord",
    "max_payload_mb": 6, "input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]",
    "assemble_with": "Line",
}


def make_inputs(folder: Path, rows: int, features: int, seed: int = 0) -> tuple[Path, Path, object]:
    """A label-first CSV (no header) and a fitted LogisticRegression packaged as model.tar.gz."""
    from sklearn.linear_model import LogisticRegression

    from pipeline.package import build_model_archive

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    y = (X[:, 0] + rng.normal(size=rows) > 0).astype(int)
    model = LogisticRegression().fit(X[:10_000], y[:10_000])
    joblib.dump(model, folder / "model.joblib")
    archive = build_model_archive(folder / "model.joblib", folder / "model.tar.gz")
    data = folder / "input" / "test.csv"
    data.parent.mkdir()
    with open(data, "w") as handle:
        for start in range(0, rows, 200_000):
            block = np.column_stack([y[start:start + 200_000], X[start:start + 200_000]])
            np.savetxt(handle, block, fmt=["%d"] + ["%.6f"] * features, delimiter=",")
    return archive, data, model


def bare(data: Path, model, out: Path) -> float:
    """read CSV + predict_proba + write 'label,score' lines (labels as written, scores with repr)."""
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(data, header=None, dtype=np.float64)
    scores = model.predict_proba(frame.iloc[:, 1:].to_numpy())[:, 1]
    labels = frame.iloc[:, 0].astype(np.int64).astype(str)
    with open(out, "w") as handle:
        handle.write("\n".join(labels + "," + pd.Series(scores).map(repr)) + "\n")
    return time.perf_counter() - started


def emulated(archive: Path, data: Path, folder: Path, run: str, workers: int) -> float:
    """Load the model's handlers from the archive and run the local Batch Transform over ``data``."""
    from pipeline.local.model_archive import load_serving_handlers
    from pipeline.local.transform import run_transform
    from pipeline.local.transform_spec import TransformSpec

    for leftover in (folder / f"model-{run}", folder / f"out-{run}"):
        shutil.rmtree(leftover, ignore_errors=True)
    started = time.perf_counter()
    handlers = load_serving_handlers(archive, folder / f"model-{run}")
    spec = TransformSpec(**PIPELINE_SETTINGS, max_concurrent_transforms=workers)
    run_transform(spec, handlers, [data], folder / f"out-{run}", input_root=data.parent)
    return time.perf_counter() - started


def check_agreement(expected: Path, produced: Path) -> float:
    """Labels identical, scores equal up to BLAS rounding; returns the largest score difference."""
    import pandas as pd

    a = pd.read_csv(expected, header=None, dtype={0: str, 1: np.float64})
    b = pd.read_csv(produced, header=None, dtype={0: str, 1: np.float64})
    if len(a) != len(b) or not (a[0] == b[0]).all():
        raise SystemExit(f"the transform's output does not match the baseline's ({len(b)} vs {len(a)} rows)")
    difference = float(np.max(np.abs(a[1].to_numpy() - b[1].to_numpy()))) if len(a) else 0.0
    if difference > 1e-12:
        raise SystemExit(f"scores differ by up to {difference}")
    return difference


def check_targets(concurrent_seconds: float, single_seconds: float, bare_seconds: float, workers: int) -> int:
    """Exit code of a run: 0 when the transform with the default concurrency is within the target, else 1.

    >>> check_targets(1.15, 1.58, 1.41, workers=2)
    ratio (transform / bare), 2 concurrent requests: 0.816  (target <= 1.3: met)
    ratio (transform / bare), 1 request at a time: 1.121  (no target)
    every target met
    0
    """
    return verdict([
        Measured(f"ratio (transform / bare), {workers} concurrent requests", ratio(concurrent_seconds, bare_seconds),
                 RATIO_TARGET),
        Measured("ratio (transform / bare), 1 request at a time", ratio(single_seconds, bare_seconds), None),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transform", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.features < 1 or args.repeats < 1:
        parser.error("--rows, --features and --repeats must be positive")
    default_workers = min(os.cpu_count() or 1, 4)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive, data, model = make_inputs(folder, args.rows, args.features)
        print(f"rows: {args.rows:,}  features: {args.features}  file: {data.stat().st_size / 1e6:.0f} MB  "
              f"cores: {os.cpu_count()}  repeats: {args.repeats}")
        times: dict[str, list[float]] = {"bare": [], "concurrent": [], "single": []}
        for _ in range(args.repeats):  # interleaved, so machine noise hits every variant alike
            times["bare"].append(bare(data, model, folder / "bare.out"))
            times["concurrent"].append(emulated(archive, data, folder, "concurrent", default_workers))
            times["single"].append(emulated(archive, data, folder, "single", 1))
        difference = max(check_agreement(folder / "bare.out", folder / f"out-{run}" / "test.csv.out")
                         for run in ("concurrent", "single"))
    base = statistics.median(times["bare"])

    def show(label: str, key: str) -> None:
        runs = ", ".join(f"{t:.2f}" for t in times[key])
        print(f"{label:<48} median {statistics.median(times[key]):6.2f}s  (runs: {runs})")

    show("bare read_csv + predict_proba + write:", "bare")
    show(f"local transform, {default_workers} concurrent requests:", "concurrent")
    show("local transform, 1 request at a time:", "single")
    print(f"outputs agree (largest score difference {difference:.1e}, BLAS rounding)")
    return check_targets(statistics.median(times["concurrent"]), statistics.median(times["single"]), base,
                         default_workers)


if __name__ == "__main__":
    sys.exit(main())

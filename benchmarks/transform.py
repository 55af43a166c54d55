"""Benchmark: the local Batch Transform vs a bare read CSV + predict_proba + write CSV, in one run.

    python -m benchmarks.transform --rows 1000000 [--features 20] [--repeats 3]

Numerator: median wall time of ``run_transform`` with the pipeline's settings (SplitType=Line,
MultiRecord, MaxPayloadInMB=6, input_filter "$[1:]", join_source Input, output_filter "$[0,-1]"),
handlers loaded from a model.tar.gz built by ``pipeline.package``. Denominator: median time of
pandas.read_csv + predict_proba + writing "label,score" lines for the same rows and model. Target <= 1.3.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np


def make_inputs(folder: Path, rows: int, features: int, seed: int = 0) -> tuple[Path, Path, object]:
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
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(data, header=None, dtype=np.float64)
    scores = model.predict_proba(frame.iloc[:, 1:].to_numpy())[:, 1]
    labels = frame.iloc[:, 0].astype(np.int64).astype(str)
    with open(out, "w") as handle:
        handle.write("\n".join(labels + "," + pd.Series(scores).map(repr)) + "\n")
    return time.perf_counter() - started


def emulated(archive: Path, data: Path, folder: Path, run: int) -> float:
    from pipeline.local.model_archive import load_serving_handlers
    from pipeline.local.transform import run_transform

    started = time.perf_counter()
    handlers = load_serving_handlers(archive, folder / f"model{run}")
    run_transform(
        handlers, [data], folder / f"out{run}", input_root=data.parent, split_type="Line",
        batch_strategy="MultiRecord", max_payload_mb=6, input_filter="$[1:]", join_source="Input",
        output_filter="$[0,-1]", assemble_with="Line",
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transform", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archive, data, model = make_inputs(folder, args.rows, args.features)
        print(f"rows: {args.rows:,}  features: {args.features}  file: {data.stat().st_size / 1e6:.0f} MB")
        ours, base = [], []
        for run in range(args.repeats):  # interleaved, so machine noise hits both alike
            base.append(bare(data, model, folder / f"bare{run}.out"))
            ours.append(emulated(archive, data, folder, run))
        produced = (folder / "out0" / "test.csv.out").read_text().splitlines()
        assert len(produced) == args.rows, "the transform lost rows"
    print(f"local transform: median {statistics.median(ours):.2f}s  (runs: {', '.join(f'{t:.2f}' for t in ours)})")
    print(f"bare read+predict_proba+write: median {statistics.median(base):.2f}s  (runs: {', '.join(f'{t:.2f}' for t in base)})")
    print(f"ratio (transform / bare): {statistics.median(ours) / statistics.median(base):.3f}  (target <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

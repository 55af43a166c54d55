"""Benchmark: the model-quality check end to end vs pandas + scikit-learn's point metrics, in one run.

    python -m benchmarks.model_quality --records 2000000 [--repeats 3]

Data: ``--records`` Data Capture records of one day in one JSONL file, as a SageMaker endpoint writes
them (``endpointInput`` five CSV features, ``endpointOutput`` one probability written as Python's repr
writes a float, ``eventMetadata`` with ``eventId``, ``inferenceTime`` and, on 30% of them, the caller's
``inferenceId``), and as many ground-truth lines (``groundTruthData`` CSV label, ``eventMetadata.eventId``
the inference id where there is one), in another order. Every record is labelled.
Numerator: median wall time of ``python -m processing_scripts.quality`` (as the container runs it) with
the day as an explicit window: read the captures and ground truth, merge by event id, the evaluation's
metrics with their standard deviations (bootstrap), the violations, every output file.
Denominator: median wall time of a ``python -c`` process doing ``pandas.read_json(lines=True)`` of both
files, taking the merge id (inference id, else event id) and the probability out of the nested
columns, merging on it, and scikit-learn's point metrics (roc_auc_score, f1_score, precision_score,
recall_score, accuracy_score: no uncertainty, no window, no accounting). Both are whole processes, so both
pay interpreter start and imports; the runs are interleaved so both see the same machine load.
Target ratio <= 0.3. Peak RSS is each process's own (``ru_maxrss`` from ``os.wait4``).
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

SCRIPT = ["-m", "processing_scripts.quality"]  # as the container runs it
RATIO_TARGET = 0.3
DAY = "2024-03-01"
WINDOW = ["--start", f"{DAY}T00:00:00Z", "--end", "2024-03-02T00:00:00Z"]
INFERENCE_ID_SHARE = 0.3
CHUNK = 100_000


def _uuids(rng: np.random.Generator, count: int) -> list[str]:
    """Version-4 UUID strings (random), fast enough for millions."""
    words = rng.integers(0, 2**32, size=(count, 4), dtype=np.uint64)
    return [f"{a:08x}-{b >> 16:04x}-4{b & 0xfff:03x}-{0x8000 | (c >> 16) & 0x3fff:04x}-{c & 0xffff:04x}{d:08x}"
            for a, b, c, d in words.tolist()]


def write_data(folder: Path, records: int, seed: int = 0) -> None:
    """``capture.jsonl``, ``ground_truth.jsonl`` and ``constraints.json`` in ``folder`` (module docstring)."""
    from processing_scripts.model_quality_constraints import constraints_document

    rng = np.random.default_rng(seed)
    order = rng.permutation(records)  # the order the labels come back in
    merge_ids: list[str] = []
    labels = np.empty(records, dtype=np.int8)
    with open(folder / "capture.jsonl", "w") as capture:
        for start in range(0, records, CHUNK):
            n = min(CHUNK, records - start)
            y = (rng.random(n) < 0.3).astype(np.int8)
            scores = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * y - 0.8)))
            features = np.round(rng.normal(size=(n, 5)) * (15, 20, 1, 0.4, 1) + (30, 70, 1.4, 2.3, 1), 2)
            seconds = (start + np.arange(n)) * 86_400 // records  # in time order through the day
            event_ids = _uuids(rng, n)
            with_id = rng.random(n) < INFERENCE_ID_SHARE
            lines = []
            for i in range(n):
                t = int(seconds[i])
                metadata = f'"eventId":"{event_ids[i]}","inferenceTime":"{DAY}T{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z"'
                if with_id[i]:
                    metadata += f',"inferenceId":"req-{start + i:09d}"'
                f = features[i]
                lines.append(
                    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
                    f'{int(abs(f[0]))},{f[1]:.2f},{int(abs(f[2]))},{f[3]:.2f},{int(abs(f[4])) % 3}\\n","encoding":"CSV"}},'
                    '"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"'
                    f'{float(scores[i])!r}\\n","encoding":"CSV"}}}},"eventMetadata":{{{metadata}}},"eventVersion":"0"}}\n')
                merge_ids.append(f"req-{start + i:09d}" if with_id[i] else event_ids[i])
            labels[start:start + n] = y
            capture.write("".join(lines))
    with open(folder / "ground_truth.jsonl", "w") as truth:
        for start in range(0, records, CHUNK):
            truth.write("".join(
                f'{{"groundTruthData":{{"data":"{labels[j]}","encoding":"CSV"}},"eventMetadata":{{"eventId":"{merge_ids[j]}"}},'
                f'"eventVersion":"0"}}\n' for j in order[start:start + CHUNK].tolist()))
    document = constraints_document({"metrics": {name: {"threshold": 0.5} for name in ("auc", "f1", "precision",
                                                                                        "recall", "accuracy")}})
    (folder / "constraints.json").write_text(json.dumps(document, indent=2) + "\n")


PANDAS_BASELINE = """
import sys
import pandas as pd
from sklearn import metrics
captures = pd.read_json(sys.argv[1], lines=True)
truth = pd.read_json(sys.argv[2], lines=True, dtype=False)
meta = captures["eventMetadata"]
ids = meta.map(lambda m: m.get("inferenceId") or m["eventId"])
score = captures["captureData"].map(lambda c: float(c["endpointOutput"]["data"]))
predicted = pd.DataFrame({"id": ids, "score": score})
labels = pd.DataFrame({"id": truth["eventMetadata"].map(lambda m: m["eventId"]),
                       "label": truth["groundTruthData"].map(lambda g: int(g["data"]))})
joined = predicted.merge(labels, on="id", how="inner")
y, s = joined["label"].to_numpy(), joined["score"].to_numpy()
pred = (s >= 0.5).astype(int)
metrics.roc_auc_score(y, s)
metrics.f1_score(y, pred)
metrics.precision_score(y, pred)
metrics.recall_score(y, pred)
metrics.accuracy_score(y, pred)
print(len(joined))
"""


def _wait(process: subprocess.Popen, started: float) -> tuple[float, float, int]:
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def run_check(folder: Path, out: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one quality.py process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, *SCRIPT, "--capture", str(folder / "capture.jsonl"),
                                "--ground-truth", str(folder / "ground_truth.jsonl"),
                                "--constraints", str(folder / "constraints.json"), *WINDOW,
                                "--output-dir", str(out)], stdout=subprocess.DEVNULL)
    return _wait(process, started)


def run_pandas(folder: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, matched rows) of the pandas + scikit-learn process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", PANDAS_BASELINE, str(folder / "capture.jsonl"),
                                str(folder / "ground_truth.jsonl")], stdout=subprocess.PIPE, text=True)
    printed = process.stdout.read()
    seconds, rss, status = _wait(process, started)
    if status != 0:
        raise SystemExit("the pandas baseline failed")
    return seconds, rss, int(printed.strip())


def check_targets(check_seconds: float, pandas_seconds: float) -> int:
    """Exit code of a run: 0 when the check is within the target ratio to the pandas baseline, else 1.

    >>> check_targets(3.0, 12.0)
    ratio (quality check / pandas + scikit-learn): 0.250  (target <= 0.3: met)
    every target met
    0
    """
    return verdict([Measured("ratio (quality check / pandas + scikit-learn)", ratio(check_seconds, pandas_seconds),
                             RATIO_TARGET)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model_quality", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeats < 1:
        parser.error("--records and --repeats must be positive")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Generated in a fresh interpreter: a child's peak RSS counts its parent's pages at fork time,
        # so this process must stay small for the RSS figures to be the measured processes' own.
        writer = multiprocessing.get_context("spawn").Process(target=write_data, args=(tmp, args.records))
        writer.start()
        writer.join()
        if writer.exitcode != 0:
            raise SystemExit("generating the data failed")
        sizes = [(tmp / name).stat().st_size / 1e6 for name in ("capture.jsonl", "ground_truth.jsonl")]
        print(f"records: {args.records:,}  captures: {sizes[0]:,.0f} MB  ground truth: {sizes[1]:,.0f} MB  "
              f"repeats: {args.repeats}")
        base, runs = [], []
        for i in range(args.repeats):  # interleaved, so that both see the same machine load
            base.append(run_pandas(tmp))
            seconds, rss, status = run_check(tmp, tmp / f"out{i}")
            if status not in (0, 1):
                raise SystemExit(f"quality.py failed with status {status}")
            runs.append((seconds, rss))
        status = json.loads((tmp / "out0" / "quality_status.json").read_text())
    if status["matched"] != base[0][2]:
        raise SystemExit(f"the check matched {status['matched']:,} rows but pandas {base[0][2]:,}: they disagree")
    ours, peak = statistics.median(t for t, _ in runs), max(r for _, r in runs)
    denominator = statistics.median(t for t, _, _ in base)
    print(f"quality.py: median {ours:.2f}s  (runs: {', '.join(f'{t:.2f}' for t, _ in runs)}); "
          f"{status['matched']:,} matched, verdict {status['verdict']}; peak RSS {peak:,.0f} MB")
    print(f"pandas read_json + merge + scikit-learn point metrics: median {denominator:.2f}s  "
          f"(runs: {', '.join(f'{t:.2f}' for t, _, _ in base)}); peak RSS {max(r for _, r, _ in base):,.0f} MB")
    return check_targets(ours, denominator)


if __name__ == "__main__":
    sys.exit(main())

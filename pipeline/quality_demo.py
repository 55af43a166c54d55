"""Model-quality demo: a deployed model's traffic replayed over several days, labels arriving late, and a
concept drift on a later day, each day's window checked as a scheduled run would check it.

    python -m pipeline.quality_demo [--work-dir .demo/quality] [--days 7] [--requests 3500] [--seed 0]
                                                                                     (make monitor-demo)

The model: a churn classifier (scikit-learn logistic regression on tenure in months, monthly charge,
support calls in the last month, weekly usage hours and a region code 0-2), trained on generated
customers (``numpy``, nothing is downloaded) and evaluated on a held-out test set by
``processing_scripts.evaluate`` itself, so ``constraints.json`` is the evaluation's (thresholds from
its own uncertainty, model_quality_constraints.py), not written by hand.

The traffic, from 2024-03-01 (day 0) on, ``--requests`` requests a day at random times: most hold one
customer, some several (a CSV body of several lines, one probability per line back). Each request is
captured as SageMaker Data Capture writes it (``captureData.endpointInput`` the CSV features,
``endpointOutput`` the model's probabilities, ``eventMetadata`` with ``eventId``, ``inferenceTime`` and,
for the callers that pass one, ``inferenceId``) into hourly files under Data Capture's key layout,
``datacapture/<endpoint>/AllTraffic/yyyy/mm/dd/hh/mm-ss-fff-<uuid>.jsonl``. The labels (did the customer
leave?) come back later as ground-truth JSON lines keyed by the inference id (else the event id), one
label per captured record in record order: most 24-48 hours after the request, a few within hours, some
never; a few are sent twice. Each is written under ``ground-truth/yyyy/mm/dd/hh/`` of its arrival hour.

The event: from day ``--days - 2`` on, a competitor's offer in region 2 (about a third of the customers)
makes long-standing customers leave instead of stay: tenure's relation to churn flips for that segment,
the features' distribution does not change (a data-drift check would see nothing), and the model's
quality drops.

The checks run through ``python -m pipeline.monitor quality`` (the code of the pipeline's step) on the
files that exist at the run's time. First, on day 1 at 01:00, day 0 is checked without waiting for its
labels: few have arrived, so it says "not enough labelled data" (why the schedule waits). Then the
schedule: every day at 01:00 the window ending 48 hours earlier (windows.scheduled_window: the run of
day d + 3 checks day d), with ``--history`` so quality_history.jsonl grows and the last report shows the
trend. Expected: the days before the event pass (no false alarm), the days from the event on fail, AUC
among the violated metrics. Exit 0 when the outcomes are as described, 1 otherwise. A rerun replaces
the folders an earlier run wrote (marked by ``.quality-demo``); folders it did not write are refused.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

DAY0 = datetime(2024, 3, 1, tzinfo=timezone.utc)  # the endpoint's first day of traffic
ENDPOINT = "churn-endpoint"
FEATURES = ("tenure_months", "monthly_charge", "support_calls", "usage_hours", "region")
CHANGED_REGION = 2  # the segment whose concept flips on the event day
RUN_HOUR = 1  # the schedule runs every day at 01:00 UTC
WINDOW_HOURS, LABEL_DELAY_HOURS = 24, 48  # what the schedule checks: the day that ended 48 h before the run
# Request sizes (customers per request) and their shares; the callers' share that passes an inference id.
REQUEST_SIZES, REQUEST_SIZE_SHARES = (1, 2, 3, 5), (0.85, 0.08, 0.05, 0.02)
INFERENCE_ID_SHARE = 0.3
# Ground truth: the share never labelled, labelled within hours, sent twice; the others arrive in 24-48 h.
UNLABELLED_SHARE, FAST_LABEL_SHARE, DUPLICATE_LABEL_SHARE = 0.04, 0.03, 0.02
TRAIN_ROWS, TEST_ROWS = 8_000, 3_000
WORK_PARTS = ("evaluation-input", "evaluation", "datacapture", "ground-truth", "checks", "monitoring")
MARKER = ".quality-demo"  # in the work folder: its WORK_PARTS are the demo's, replaced on each run


# --- the world: customers and the relation of their features to churn ------------------------------


def make_customers(rows: int, rng: np.random.Generator, *, changed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(features as the endpoint receives them, churn labels) of ``rows`` customers; ``changed``: after
    the event (region CHANGED_REGION's long-standing customers leave). The features' distribution is
    the same either way."""
    z = rng.normal(size=(rows, 4))
    tenure = np.clip(np.round(30.0 + 15.0 * z[:, 0]), 1, 120)
    charge = np.round(np.clip(70.0 + 20.0 * z[:, 1], 15.0, 200.0), 2)
    calls = rng.poisson(np.exp(0.2 + 0.5 * z[:, 2]))
    usage = np.round(np.exp(2.3 + 0.4 * z[:, 3]), 1)
    region = rng.choice(3, size=rows, p=(0.35, 0.32, 0.33))
    tenure_effect = np.full(rows, -1.3)
    if changed:
        tenure_effect[region == CHANGED_REGION] = +1.3
    logit = (-1.0 + tenure_effect * (tenure - 30.0) / 15.0 + 0.7 * (charge - 70.0) / 20.0
             + 0.6 * (calls - 1.4) - 0.6 * (np.log(usage) - 2.3) / 0.4)
    labels = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return np.column_stack([tenure, charge, calls, usage, region]), labels


def csv_row(features: np.ndarray) -> str:
    """One customer's features as the caller sends them (the CSV the capture holds)."""
    tenure, charge, calls, usage, region = features
    return f"{int(tenure)},{charge:.2f},{int(calls)},{usage:.1f},{int(region)}"


def train_and_evaluate(work: Path, rng: np.random.Generator):
    """Fit the model on generated customers and evaluate it on a held-out test set with
    ``processing_scripts.evaluate`` (its evaluation.json and constraints.json, in ``work/evaluation``).
    Returns the fitted model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from processing_scripts import evaluate
    from processing_scripts.outputs import write_text_atomic

    X, y = make_customers(TRAIN_ROWS + TEST_ROWS, rng)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[:TRAIN_ROWS], y[:TRAIN_ROWS])
    scores = model.predict_proba(X[TRAIN_ROWS:])[:, 1]
    predictions = write_text_atomic(work / "evaluation-input" / "test.csv.out", "".join(
        f"{label},{float(score)!r}\n" for label, score in zip(y[TRAIN_ROWS:], scores)))
    if evaluate.main(["--predictions", str(predictions), "--output-dir", str(work / "evaluation")]) != 0:
        raise SystemExit("error: the evaluation of the demo's model failed")
    return model


# --- the traffic: captured requests and the labels that follow them --------------------------------


@dataclass(frozen=True)
class Request:
    """One captured request: when, its ids, its customers' features, the model's probabilities, their labels."""

    time: datetime
    event_id: str
    inference_id: str | None
    rows: tuple[str, ...]  # CSV lines
    scores: tuple[float, ...]
    labels: tuple[int, ...]

    @property
    def merge_id(self) -> str:
        """The id ground truth names (Model Monitor merges on the inference id when the caller gave one)."""
        return self.inference_id or self.event_id


def make_traffic(model, days: int, requests_per_day: int, change_day: int, rng: np.random.Generator) -> list[Request]:
    """Every request of ``days`` days from DAY0, in time order; the concept changes from ``change_day``."""
    traffic = []
    for day in range(days):
        sizes = rng.choice(REQUEST_SIZES, size=requests_per_day, p=REQUEST_SIZE_SHARES)
        X, y = make_customers(int(sizes.sum()), rng, changed=day >= change_day)
        scores = model.predict_proba(X)[:, 1]
        offsets = np.sort(rng.integers(0, 86_400_000, requests_per_day))  # milliseconds into the day
        with_id = rng.random(requests_per_day) < INFERENCE_ID_SHARE
        start = 0
        for i, size in enumerate(sizes):
            rows = slice(start, start + size)
            start += size
            traffic.append(Request(
                time=DAY0 + timedelta(days=day, milliseconds=int(offsets[i])),
                event_id=str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63)), version=4)),
                inference_id=f"order-{day:02d}-{i:06d}" if with_id[i] else None,
                rows=tuple(csv_row(r) for r in X[rows]), scores=tuple(float(s) for s in scores[rows]),
                labels=tuple(int(v) for v in y[rows])))
    return traffic


def capture_time(moment: datetime) -> str:
    """``2024-03-01T10:30:00Z``: Data Capture's ``inferenceTime`` (whole seconds, UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def capture_line(request: Request) -> str:
    """The request as a Data Capture record (one JSON line)."""
    metadata = {"eventId": request.event_id, "inferenceTime": capture_time(request.time)}
    if request.inference_id is not None:
        metadata["inferenceId"] = request.inference_id
    return json.dumps({
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                              "data": "\n".join(request.rows) + "\n", "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                               "data": "\n".join(repr(s) for s in request.scores) + "\n", "encoding": "CSV"}},
        "eventMetadata": metadata, "eventVersion": "0"}, separators=(",", ":"))


def ground_truth_line(request: Request) -> str:
    """The request's labels as a ground-truth record (one label per captured record, in record order)."""
    return json.dumps({"groundTruthData": {"data": "\n".join(map(str, request.labels)), "encoding": "CSV"},
                       "eventMetadata": {"eventId": request.merge_id}, "eventVersion": "0"})


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def hour_key(moment: datetime) -> str:
    """``yyyy/mm/dd/hh``: the hour folder of Data Capture's and ground truth's key layouts."""
    return moment.strftime("%Y/%m/%d/%H")


@dataclass(frozen=True)
class File:
    """A file the replay writes once its hour is over (a capture file, or a batch of labels)."""

    ready: datetime  # the end of its hour: a run at or after this time sees it
    path: str  # relative to the work folder
    lines: tuple[str, ...]


def capture_files(traffic: Sequence[Request], rng: np.random.Generator) -> list[File]:
    """The captures, one file per hour of traffic, named as Data Capture names them."""
    hours: dict[datetime, list[Request]] = {}
    for request in traffic:
        hours.setdefault(hour_of(request.time), []).append(request)
    files = []
    for hour, requests in sorted(hours.items()):
        first = requests[0].time
        name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{uuid.UUID(int=int(rng.integers(0, 2**63)), version=4)}.jsonl"
        files.append(File(hour + timedelta(hours=1), f"datacapture/{ENDPOINT}/AllTraffic/{hour_key(hour)}/{name}",
                          tuple(capture_line(r) for r in requests)))
    return files


def label_files(traffic: Sequence[Request], rng: np.random.Generator) -> list[File]:
    """The ground truth: per request, never (UNLABELLED_SHARE), within 1-6 hours (FAST_LABEL_SHARE), else
    24-48 hours later; DUPLICATE_LABEL_SHARE of the labelled sent again a few hours after. One file per
    arrival hour."""
    arrivals: list[tuple[datetime, str]] = []
    for request in traffic:
        draw = rng.random()
        if draw < UNLABELLED_SHARE:
            continue
        delay_hours = rng.uniform(1, 6) if draw < UNLABELLED_SHARE + FAST_LABEL_SHARE else rng.uniform(24, 48)
        arrival = request.time + timedelta(hours=delay_hours)
        arrivals.append((arrival, ground_truth_line(request)))
        if rng.random() < DUPLICATE_LABEL_SHARE:
            arrivals.append((arrival + timedelta(hours=rng.uniform(1, 12)), ground_truth_line(request)))
    hours: dict[datetime, list[tuple[datetime, str]]] = {}
    for arrival, line in sorted(arrivals):
        hours.setdefault(hour_of(arrival), []).append((arrival, line))
    return [File(hour + timedelta(hours=1), f"ground-truth/{hour_key(hour)}/labels-{hour:%Y%m%d%H}.jsonl",
                 tuple(line for _, line in lines)) for hour, lines in sorted(hours.items())]


def publish(files: Sequence[File], work: Path, until: datetime, written: set[str]) -> int:
    """Write the files ready by ``until`` that are not written yet; how many were written."""
    from processing_scripts.outputs import write_text_atomic

    count = 0
    for file in files:
        if file.ready <= until and file.path not in written:
            target = work / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(target, "\n".join(file.lines) + "\n")
            written.add(file.path)
            count += 1
    return count


# --- the runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One check: when it runs, the window it checks, and what for."""

    at: datetime
    window_start: datetime
    expected: str  # "ok", "violations" or "not_enough_data"
    note: str = ""


def schedule(days: int, change_day: int) -> Iterator[Run]:
    """The early run (day 0, checked on day 1 without waiting for labels), then the scheduled runs that
    check each day of traffic once its labels have had LABEL_DELAY_HOURS to arrive."""
    from processing_scripts.windows import scheduled_window

    early = DAY0 + timedelta(days=1, hours=RUN_HOUR)
    yield Run(early, scheduled_window(early, hours=WINDOW_HOURS).start, "not_enough_data", "too early: no label delay")
    for day in range(days):
        at = DAY0 + timedelta(days=day + 1 + LABEL_DELAY_HOURS // 24, hours=RUN_HOUR)
        window = scheduled_window(at, hours=WINDOW_HOURS, delay_hours=LABEL_DELAY_HOURS)
        assert window.start == DAY0 + timedelta(days=day), "the schedule checks each day once"
        yield Run(at, window.start, "ok" if day < change_day else "violations")


@dataclass(frozen=True)
class Outcome:
    """What one check found (from its quality_status.json and statistics.json)."""

    verdict: str
    violated: list[str]
    matched: int
    auc: float | None
    auc_sd: float | None
    f1: float | None
    reason: str
    report: Path


def read_outcome(out: Path) -> Outcome:
    status = json.loads((out / "quality_status.json").read_text())
    metrics = json.loads((out / "statistics.json").read_text()).get("binary_classification_metrics") or {}

    def value(name: str, key: str = "value") -> float | None:
        found = (metrics.get(name) or {}).get(key)
        return float(found) if isinstance(found, (int, float)) else None

    violated = [] if status["violated_metrics"] == "none" else [m.strip() for m in status["violated_metrics"].split(",")]
    return Outcome(status["verdict"], violated, int(status["matched"]), value("auc"), value("auc", "standard_deviation"),
                   value("f1"), status.get("reason", ""), (out / "quality_report.html").resolve())


def line(run: Run, outcome: Outcome) -> str:
    """One printed line per window: window, run time, matched rows, AUC ± sd, F1, verdict."""
    auc = (f"AUC {outcome.auc:.3f} ± {outcome.auc_sd:.3f}" if outcome.auc is not None and outcome.auc_sd is not None
           else f"AUC {outcome.auc:.3f}" if outcome.auc is not None else "AUC -")
    f1 = f"F1 {outcome.f1:.3f}" if outcome.f1 is not None else "F1 -"
    verdict = {"ok": "ok", "violations": f"VIOLATIONS: {', '.join(outcome.violated)}",
               "not_enough_data": "not enough labelled data"}.get(outcome.verdict, outcome.verdict)
    note = f"  ({run.note})" if run.note else ""
    return (f"  {run.window_start:%Y-%m-%d}  run {run.at:%m-%d %H:%M}  matched {outcome.matched:>6}  {auc:<21}  "
            f"{f1:<8}  {verdict}{note}")


def prepare_work_dir(work: Path) -> None:
    """Empty the demo's folders in ``work`` when an earlier run of the demo left them (a replay adds files as
    time passes: an earlier run's files would be read as this one's); FileExistsError when such a folder is
    there but the demo did not make it."""
    found = [part for part in WORK_PARTS if (work / part).exists()]
    if found and not (work / MARKER).is_file():
        raise FileExistsError(f"{work} holds {', '.join(found)} that the demo did not write; pass another --work-dir")
    for part in found:
        shutil.rmtree(work / part)
    work.mkdir(parents=True, exist_ok=True)
    (work / MARKER).write_text("python -m pipeline.quality_demo writes and replaces the folders here\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.quality_demo", description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", default=".demo/quality", help="where the model, captures, labels and checks go")
    parser.add_argument("--days", type=int, default=7, help="days of traffic (default 7; the last two after the event)")
    parser.add_argument("--requests", type=int, default=3500, help="requests a day (default 3500)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.days < 3:
        parser.error("--days must be at least 3 (a day of each kind, plus the event's two)")
    if args.requests < 1000:
        parser.error("--requests must be at least 1000 (smaller windows than the test set's alarm by chance)")
    from pipeline import monitor

    started = time.perf_counter()
    work = Path(args.work_dir)
    try:
        prepare_work_dir(work)
    except FileExistsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    rng = np.random.default_rng(args.seed)
    change_day = args.days - 2
    model = train_and_evaluate(work, rng)
    constraints = work / "evaluation" / "constraints.json"
    thresholds = json.loads(constraints.read_text())["binary_classification_constraints"]
    evaluation = json.loads((work / "evaluation" / "evaluation.json").read_text())
    registered_auc = evaluation["binary_classification_metrics"]["auc"]["value"]
    print(f"model: logistic regression on {', '.join(FEATURES)}; test AUC {registered_auc:.3f} on {TEST_ROWS} rows")
    print(f"constraints (processing_scripts.evaluate): {constraints}")
    print("  " + ", ".join(f"{name} >= {rule['threshold']:.3f}" for name, rule in thresholds.items()))

    traffic = make_traffic(model, args.days, args.requests, change_day, rng)
    files = capture_files(traffic, rng) + label_files(traffic, rng)
    records = sum(len(r.rows) for r in traffic)
    print(f"traffic: {len(traffic):,} requests ({records:,} records) over {args.days} days from {DAY0:%Y-%m-%d}; "
          f"from {DAY0 + timedelta(days=change_day):%Y-%m-%d} on, tenure's relation to churn flips in region "
          f"{CHANGED_REGION}")
    print(f"  captures: {work / 'datacapture' / ENDPOINT / 'AllTraffic'}/yyyy/mm/dd/hh/*.jsonl")
    print(f"  labels:   {work / 'ground-truth'}/yyyy/mm/dd/hh/*.jsonl (most 24-48 h after the request)")

    print(f"\n== each window through python -m pipeline.monitor quality (daily at {RUN_HOUR:02d}:00, window = the day "
          f"that ended {LABEL_DELAY_HOURS} h before)")
    history = work / "monitoring" / "quality_history.jsonl"
    written: set[str] = set()
    results: list[tuple[Run, Outcome]] = []
    for run in schedule(args.days, change_day):
        publish(files, work, run.at, written)
        out = work / "checks" / f"{run.window_start:%Y-%m-%d}-run-{run.at:%m%d%H%M}"
        command = ["quality", "--capture", str(work / "datacapture" / ENDPOINT),
                   "--ground-truth", str(work / "ground-truth"), "--constraints", str(constraints),
                   "--start", f"{run.window_start:%Y-%m-%dT%H:%M:%SZ}",
                   "--end", f"{run.window_start + timedelta(hours=WINDOW_HOURS):%Y-%m-%dT%H:%M:%SZ}",
                   "--baseline-statistics", str(work / "evaluation" / "evaluation.json"),
                   "--history", str(history), "--output-dir", str(out)]
        if not results:
            print("  e.g. python -m pipeline.monitor " + " ".join(command))
        with contextlib.redirect_stdout(io.StringIO()):  # its summary is the line below (errors still show)
            code = monitor.main(command)
        if code == 2:
            return 1
        results.append((run, read_outcome(out)))
        print(line(*results[-1]))
    report = results[-1][1].report
    print(f"\n  quality report (with the trend of every window): {report}")
    print(f"  history: {history.resolve()}  ({time.perf_counter() - started:.1f}s)")
    wrong = [(run, outcome) for run, outcome in results
             if outcome.verdict != run.expected or (run.expected == "violations" and "auc" not in outcome.violated)]
    if wrong:
        for run, outcome in wrong:
            print(f"error: {run.window_start:%Y-%m-%d}: verdict {outcome.verdict} ({', '.join(outcome.violated) or 'none'}), "
                  f"expected {run.expected}{' naming auc' if run.expected == 'violations' else ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)

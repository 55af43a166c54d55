"""Evaluate a deployed SageMaker endpoint on a labelled test set: the pipeline's evaluation, live.

    python -m pipeline.evaluate_endpoint --endpoint-name NAME --test-data FILE|DIR|s3://...
        [--batch-size 500] [--concurrency 4] [--output-dir endpoint-evaluation] [--threshold 0.5]
        [--bootstrap 1000] [--seed 0] [--max-retries 8]
        [--region R] [--endpoint-url URL] [--s3 local|aws] [--work-dir .local-sagemaker]

The test data is what the pipeline's Batch Transform reads: label-first CSV rows without a header
(a file, or every file below a folder in path order; ``s3://`` is read from the local object store
``<work-dir>/s3/...`` or, with ``--s3 aws``, from S3). Each row's features (its text after the label,
verbatim, as the transform's ``input_filter="$[1:]"`` sends them) go to the endpoint with
``InvokeEndpoint`` (``text/csv`` in and out), ``--batch-size`` rows per request and ``--concurrency``
requests in flight; the response is one score, P(class 1), per row. The label,score pairs then go
through ``processing_scripts/evaluate.py`` itself (its ``main``, on a temporary predictions file), so
``evaluation.json``, the plots and ``report.html`` are those of the pipeline's EvaluateModel step.

Throttling and transient failures (ThrottlingException, HTTP 429, 5xx, ModelNotReadyException,
connection errors and timeouts) are retried with exponential backoff and full jitter, up to
``--max-retries`` retries per request; any other error (ValidationError such as an unknown endpoint,
ModelError) stops at once. Exit 0: outputs written; 1: the endpoint or AWS failed; 2: bad usage or
input. Errors are one line on stderr, and nothing is written on failure.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pipeline import monitor
from processing_scripts import evaluate

CSV = "text/csv"
DEFAULT_OUTPUT_DIR = "endpoint-evaluation"
DEFAULT_BATCH_SIZE = 500
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_RETRIES = 8
MAX_CONCURRENCY = 64
# Backoff of retry k: U(0, min(CAP, BASE * 2**k)) seconds.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 20.0
# AWS advises a socket timeout above the 60 s a model may take to answer.
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 70
# Error codes worth another try; any HTTP 429 or 5xx is too (see is_retryable).
RETRYABLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "ModelNotReadyException", "InternalFailure", "ServiceUnavailable",
    "InternalDependencyException", "RequestTimeout", "RequestTimeoutException",
})


class UsageError(ValueError):
    """Bad arguments or test data; exit code 2."""


class EndpointError(RuntimeError):
    """The endpoint (or AWS) failed; exit code 1. The message is one line naming the endpoint."""


# --- pure core: batching, retry policy, responses ----------------------------------------------------


def batch_bounds(n_rows: int, batch_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` row ranges of at most ``batch_size`` rows, in order; the last may be shorter.

    >>> batch_bounds(5, 2)
    [(0, 2), (2, 4), (4, 5)]
    >>> batch_bounds(0, 3)
    []
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be 1 or more, not {batch_size}")
    return [(start, min(start + batch_size, n_rows)) for start in range(0, n_rows, batch_size)]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: retry ``k`` (0-based) waits ``U(0, min(cap, base * 2**k))``.

    >>> policy = RetryPolicy(max_retries=3, base=0.5, cap=2.0)
    >>> [policy.delay(k, 1.0) for k in range(4)]
    [0.5, 1.0, 2.0, 2.0]
    >>> policy.delay(1, 0.25)
    0.25
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    base: float = BACKOFF_BASE_SECONDS
    cap: float = BACKOFF_CAP_SECONDS

    def delay(self, retry: int, rand: float) -> float:
        """Seconds to wait before retry number ``retry``; ``rand`` is uniform in [0, 1)."""
        return rand * min(self.cap, self.base * 2.0 ** retry)


def is_retryable(code: str | None, status: int | None) -> bool:
    """Whether an error with this AWS error code and HTTP status is worth another try.

    >>> is_retryable("ThrottlingException", 400), is_retryable("ValidationError", 400)
    (True, False)
    >>> is_retryable(None, 503), is_retryable("ModelError", 424), is_retryable("Whatever", 429)
    (True, False, True)
    """
    return code in RETRYABLE_CODES or status == 429 or (status is not None and status >= 500)


@dataclass(frozen=True)
class Failure:
    """One failed attempt, described: may it be retried, and what to say if it is the last."""

    retryable: bool
    message: str


class Cancelled(Exception):
    """Another request failed for good: this one stops retrying."""


def call_with_retries(
    call: Callable[[], Any],
    *,
    policy: RetryPolicy,
    classify: Callable[[BaseException], Failure | None],
    sleep: Callable[[float], Any] = time.sleep,
    rand: Callable[[], float] = random.random,
    stop: threading.Event | None = None,
    on_retry: Callable[[Failure], None] | None = None,
) -> Any:
    """``call()``, retried on the failures ``classify`` marks retryable, at most ``policy.max_retries`` times.

    ``classify`` returns None for exceptions that are not request failures (they propagate as they are).
    A final failure raises :class:`EndpointError` with its message and the number of attempts.

    >>> answers = iter([OSError("busy"), OSError("busy"), "ok"])
    >>> def call():
    ...     answer = next(answers)
    ...     if isinstance(answer, Exception):
    ...         raise answer
    ...     return answer
    >>> waits = []
    >>> call_with_retries(call, policy=RetryPolicy(max_retries=2, base=1.0),
    ...                   classify=lambda e: Failure(True, str(e)), sleep=waits.append, rand=lambda: 0.5)
    'ok'
    >>> waits
    [0.5, 1.0]
    """
    retry = 0
    while True:
        if stop is not None and stop.is_set():
            raise Cancelled
        try:
            return call()
        except Exception as error:  # classify decides; anything it does not know propagates
            failure = classify(error)
            if failure is None:
                raise
            if not failure.retryable:
                raise EndpointError(failure.message) from None
            if retry >= policy.max_retries:
                attempts = retry + 1
                raise EndpointError(
                    f"{failure.message}; gave up after {attempts} attempt{'s' if attempts > 1 else ''} "
                    "(lower --concurrency or --batch-size, or raise --max-retries)"
                ) from None
            if on_retry is not None:
                on_retry(failure)
            sleep(policy.delay(retry, rand()))
            retry += 1


def parse_scores(body: bytes, n_rows: int) -> np.ndarray:
    """The scores of a ``text/csv`` response: one number in [0, 1] per line, exactly ``n_rows`` lines.

    >>> parse_scores(b"0.25\\n1.0\\n", 2)
    array([0.25, 1.  ])
    >>> parse_scores(b"0.25\\n", 2)
    Traceback (most recent call last):
    ...
    ValueError: 1 scores for 2 rows; the model must return one score per row
    >>> parse_scores(b"0.5\\nyes\\n", 2)
    Traceback (most recent call last):
    ...
    ValueError: line 2 of the response is 'yes', not a number; the model must return P(class 1), one per line
    """
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()  # the final newline
    if len(lines) != n_rows:
        raise ValueError(f"{len(lines)} scores for {n_rows} rows; the model must return one score per row")
    scores = np.empty(n_rows, dtype=np.float64)
    for i, line in enumerate(lines):
        try:
            if b"_" in line:  # float() accepts "1_0"; no CSV writer produces it
                raise ValueError
            scores[i] = float(line)
        except ValueError:
            shown = line.decode("utf-8", errors="replace")[:40]
            raise ValueError(
                f"line {i + 1} of the response is {shown!r}, not a number; "
                "the model must return P(class 1), one per line"
            ) from None
    bad = ~np.isfinite(scores) | (scores < 0.0) | (scores > 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"line {i + 1} of the response is {lines[i].decode('utf-8', errors='replace')[:40]!r}, "
            "not a probability in [0, 1]; the model must return P(class 1)"
        )
    return scores


@dataclass(frozen=True)
class ScoringResult:
    scores: np.ndarray
    requests: int  # every attempt, retries included
    retries: int


def score_rows(
    invoke: Callable[[bytes], bytes],
    rows: Sequence[bytes],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    policy: RetryPolicy = RetryPolicy(),
    classify: Callable[[BaseException], Failure | None],
    sleep: Callable[[float], Any] | None = None,
    rand: Callable[[], float] = random.random,
    progress: Callable[[int, int], None] | None = None,
    describe: Callable[[int, int], str] = lambda start, stop: f"rows {start + 1}-{stop}",
) -> ScoringResult:
    """Score every row (feature text, no newline) through ``invoke(payload) -> response body``.

    Batches of ``batch_size`` rows, ``concurrency`` in flight; scores land at their rows' positions,
    so the order is the input's whatever order the answers come back in. The first request that fails
    for good stops the rest (their retries are cancelled) and raises :class:`EndpointError`. ``sleep``
    waits between retries; by default a wait that a failure elsewhere cuts short.

    >>> def invoke(payload):  # a "model" scoring each row as its first feature / 10
    ...     return b"".join(b"%r\\n" % (float(line.split(b",")[0]) / 10) for line in payload.splitlines())
    >>> result = score_rows(invoke, [b"1,0", b"2,0", b"3,0"], batch_size=2, concurrency=2, classify=lambda e: None)
    >>> result.scores.tolist(), result.requests, result.retries
    ([0.1, 0.2, 0.3], 2, 0)
    """
    total = len(rows)
    scores = np.empty(total, dtype=np.float64)
    stop = threading.Event()
    sleep = sleep or stop.wait
    lock = threading.Lock()
    counts = {"requests": 0, "retries": 0}

    def attempt(payload: bytes) -> bytes:
        with lock:
            counts["requests"] += 1
        return invoke(payload)

    def on_retry(_: Failure) -> None:
        with lock:
            counts["retries"] += 1

    def one_batch(start: int, end: int) -> int:
        payload = b"\n".join(rows[start:end]) + b"\n"
        where = describe(start, end)

        def tagged(error: BaseException) -> Failure | None:
            failure = classify(error)
            return None if failure is None else Failure(failure.retryable, f"{failure.message} ({where})")

        body = call_with_retries(lambda: attempt(payload), policy=policy, classify=tagged, sleep=sleep,
                                 rand=rand, stop=stop, on_retry=on_retry)
        try:
            scores[start:end] = parse_scores(body, end - start)
        except ValueError as error:
            raise EndpointError(f"bad response for {where}: {error}") from None
        return end - start

    done = 0
    if progress:
        progress(0, total)
    bounds = iter(batch_bounds(total, batch_size))
    # At most `concurrency` batches are submitted at a time: a failure leaves little to cancel, and
    # payloads are built only when their request is about to go.
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="invoke") as pool:
        pending = set()
        try:
            for start, end in bounds:
                pending.add(pool.submit(one_batch, start, end))
                if len(pending) < concurrency:
                    continue
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                done += _collect(finished)
                if progress:
                    progress(done, total)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                done += _collect(finished)
                if progress:
                    progress(done, total)
        except BaseException:
            stop.set()  # in-flight requests finish their attempt but retry no more
            for future in pending:
                future.cancel()
            raise
    return ScoringResult(scores=scores, requests=counts["requests"], retries=counts["retries"])


def _collect(finished) -> int:
    # A real failure wins over the Cancelled of requests it stopped.
    errors = [f.exception() for f in finished if f.exception() is not None]
    real = [e for e in errors if not isinstance(e, Cancelled)]
    if real or errors:
        raise (real or errors)[0]
    return sum(f.result() for f in finished)


# --- test data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestData:
    labels: np.ndarray  # int8, one per row
    rows: list[bytes]  # each row's feature text (after the label), without the line ending
    n_features: int
    files: tuple[str, ...]  # as shown to people (s3:// URIs for downloaded objects)
    sha256: str  # over the files' bytes, in the order read

    __test__ = False  # not a pytest test class


def list_test_files(path: Path) -> list[Path]:
    """``path`` itself, or every regular file below it, in path order (as the transform reads a prefix)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    raise UsageError(f"--test-data {path} does not exist: pass a CSV file, a folder or an s3:// URI")


def _is_number(field: str) -> bool:
    if "_" in field:  # float() accepts "1_0"; CSV readers do not
        return False
    try:
        float(field)
    except ValueError:
        return False
    return True


def _first_problem(name: str, lines: list[tuple[int, bytes]], width: int | None) -> tuple[str, list[int]]:
    """Check rows one by one: (one-line problem or "", their labels). ``width``: columns every row must have.

    >>> _first_problem("t.csv", [(1, b"label,x"), (2, b"1,2")], None)[0]
    "t.csv line 1: header row 'label,x'; the test data has no header"
    >>> _first_problem("t.csv", [(1, b"1,2"), (3, b"0,,4")], None)[0]
    't.csv line 3: 3 fields, the rows above have 2; every row needs the label and the same features'
    """
    labels = []
    for index, (number, raw) in enumerate(lines):
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        fields = line.split(",")
        if index == 0 and not all(_is_number(f) or not f.strip() for f in fields):
            return f"{name} line {number}: header row {line[:60]!r}; the test data has no header", labels
        if len(fields) < 2:
            return f"{name} line {number}: one field {line[:60]!r}; rows are label,feature1,feature2,...", labels
        if width is not None and len(fields) != width:
            return (f"{name} line {number}: {len(fields)} fields, the rows above have {width}; "
                    "every row needs the label and the same features"), labels
        width = len(fields)
        if not _is_number(fields[0]) or float(fields[0]) not in (0.0, 1.0):
            return f"{name} line {number}: label {fields[0][:30]!r} is not 0 or 1; labels must be binary 0/1", labels
        for column, field in enumerate(fields[1:], start=2):
            # An empty field is a missing value: the model decides whether it accepts NaN (as input_fn does).
            if field.strip() and not _is_number(field):
                return (f"{name} line {number}: column {column} is {field[:30]!r}, not a number; "
                        "features must be numbers (empty for missing)"), labels
        labels.append(int(float(fields[0])))
    return "", labels


def _fast_labels(data: bytes, n_lines: int) -> tuple[np.ndarray, int] | None:
    """Labels and width when pandas parses the file cleanly (no NaN, labels 0/1); None: look closer."""
    import io

    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, dtype=np.float64, engine="c", skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    values = frame.to_numpy()
    if values.shape[0] != n_lines or values.shape[1] < 2 or np.isnan(values).any():
        return None
    labels = values[:, 0]
    if ((labels != 0.0) & (labels != 1.0)).any():
        return None
    return labels.astype(np.int8), values.shape[1]


def read_test_data(path: str | Path, *, shown: Callable[[Path], str] = str) -> TestData:
    """Read label-first CSV rows (no header); a one-line :class:`UsageError` names file and line.

    Blank lines are not rows; ``\\r\\n`` line endings are accepted; empty feature fields are missing
    values (sent as they are). Refused: a header row, non-numeric fields, labels other than 0/1 (``1.0``
    is 1), rows of different widths (within and across files), a row without features, no rows at all.
    """
    files = list_test_files(Path(path))
    digest = hashlib.sha256()
    labels: list[np.ndarray] = []
    rows: list[bytes] = []
    width: int | None = None
    for file in files:
        name = shown(file)
        data = file.read_bytes()
        digest.update(data)
        numbered = [(i, line) for i, line in enumerate(data.splitlines(), start=1) if line.strip()]
        fast = _fast_labels(data, len(numbered)) if numbered else None
        if fast is not None and (width is None or fast[1] == width):
            file_labels, file_width = fast
        else:
            problem, slow = _first_problem(name, numbered, width)
            if problem:
                raise UsageError(problem)
            if not numbered:
                continue
            file_labels, file_width = np.asarray(slow, dtype=np.int8), len(numbered[0][1].split(b","))
        width = file_width  # the slow scan has refused any other width
        labels.append(file_labels)
        rows.extend(line.partition(b",")[2].rstrip(b"\r") for _, line in numbered)
    shown_files = tuple(shown(f) for f in files)
    if not rows:
        where = shown_files[0] if len(shown_files) == 1 else f"{shown(Path(path))} ({len(files)} files)"
        raise UsageError(f"{where}: no rows; the test data must be label-first CSV rows (label,feature1,...)")
    all_labels = np.concatenate(labels)
    positives = int(np.count_nonzero(all_labels))
    if positives in (0, len(all_labels)):
        raise UsageError(
            f"{', '.join(shown_files)[:200]}: every one of the {len(all_labels)} labels is {int(all_labels[0])}; "
            "AUC and recall are undefined: evaluate on a test set with both classes"
        )
    return TestData(labels=all_labels, rows=rows, n_features=width - 1, files=shown_files, sha256=digest.hexdigest())


# --- AWS adapter -------------------------------------------------------------------------------------


def make_client(*, region: str | None, endpoint_url: str | None, concurrency: int):
    """A ``sagemaker-runtime`` client that never retries by itself (we do), with bounded timeouts."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        max_pool_connections=max(concurrency, 10),
    )
    # A session of its own: credentials and region are read now, not cached from an earlier client.
    session = boto3.session.Session(region_name=region)
    return session.client("sagemaker-runtime", endpoint_url=endpoint_url, config=config)


def runtime_invoker(client, endpoint_name: str) -> Callable[[bytes], bytes]:
    """``payload -> response body`` through ``InvokeEndpoint`` (CSV in, CSV out)."""

    def invoke(payload: bytes) -> bytes:
        response = client.invoke_endpoint(EndpointName=endpoint_name, Body=payload, ContentType=CSV, Accept=CSV)
        return response["Body"].read()

    return invoke


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:300]


_HINTS = {
    "ValidationError": "check --endpoint-name, --region and that the endpoint is InService",
    "ModelError": "the model's container refused the request; see the endpoint's CloudWatch logs",
    "AccessDeniedException": "the credentials may not call sagemaker:InvokeEndpoint on this endpoint",
    "UnrecognizedClientException": "check the AWS credentials",
    "InvalidSignatureException": "check the AWS credentials and --region",
}


def aws_classifier(endpoint_name: str) -> Callable[[BaseException], Failure | None]:
    """Describe botocore's exceptions as :class:`Failure` (retryable or not), naming the endpoint."""
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

    def classify(error: BaseException) -> Failure | None:
        if isinstance(error, ClientError):
            detail = error.response.get("Error", {})
            code = detail.get("Code") or "ClientError"
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = _one_line(detail.get("Message") or f"HTTP {status}")
            hint = _HINTS.get(code)
            return Failure(
                is_retryable(code, status),
                f"endpoint {endpoint_name}: {code}: {message}" + (f"; {hint}" if hint else ""),
            )
        if isinstance(error, (ConnectionError, HTTPClientError)):  # refused, reset, timed out
            return Failure(True, f"endpoint {endpoint_name}: {_one_line(error)}")
        if isinstance(error, BotoCoreError):  # no credentials, bad parameters: another try will not help
            return Failure(False, f"endpoint {endpoint_name}: {_one_line(error)}")
        return None

    return classify


# --- outputs ---------------------------------------------------------------------------------------


def format_pairs(labels: np.ndarray, scores: np.ndarray) -> bytes:
    """``label,score`` lines, as the pipeline's transform writes them (every digit of the score kept).

    >>> format_pairs(np.array([1, 0], dtype=np.int8), np.array([0.1 + 0.2, 1.0]))
    b'1,0.30000000000000004\\n0,1.0\\n'
    """
    return "".join(f"{label},{score!r}\n" for label, score in zip(labels.tolist(), scores.tolist())).encode()


def evaluate_pairs(
    data: TestData,
    scores: np.ndarray,
    *,
    output_dir: Path,
    threshold: float,
    n_bootstrap: int,
    seed: int,
    endpoint: dict[str, Any],
) -> int:
    """Run ``processing_scripts/evaluate.py`` on the label,score pairs, then write its outputs to ``output_dir``.

    The script runs exactly as the pipeline's EvaluateModel step runs it (same code, same arguments), so
    the metrics, plots and report are the pipeline's. Its ``dataset.sha256`` is that of the pairs;
    ``dataset.files`` is made the test data's, with ``dataset.test_data_sha256`` and an ``endpoint``
    section added. Every file lands at once (evaluate.write_outputs); 2 if the script refused the input.
    """
    with tempfile.TemporaryDirectory(prefix="evaluate-endpoint-") as scratch:
        pairs = Path(scratch) / "predictions" / "endpoint.csv.out"
        pairs.parent.mkdir()
        pairs.write_bytes(format_pairs(data.labels, scores))
        staged = Path(scratch) / "evaluation"
        code = evaluate.main(["--predictions", str(pairs), "--output-dir", str(staged), "--threshold", repr(threshold),
                              "--bootstrap", str(n_bootstrap), "--seed", str(seed)])
        if code != 0:  # it has printed its one-line reason
            return code
        outputs = {path.name: path.read_bytes() for path in sorted(staged.iterdir()) if path.is_file()}
    document = json.loads(outputs["evaluation.json"])
    document["dataset"].update(files=list(data.files), test_data_sha256=data.sha256)
    document["endpoint"] = endpoint
    outputs["evaluation.json"] = (json.dumps(document, indent=2, allow_nan=False) + "\n").encode()
    evaluate.write_outputs(output_dir, outputs)
    return 0


# --- command line ------------------------------------------------------------------------------------


def progress_printer(stream) -> Callable[[int, int], None] | None:
    """A ``rows done / total`` bar on ``stream`` when it is a terminal (like the local runner's)."""
    if not stream.isatty():
        return None
    last = {"percent": -1}

    def show(done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        if percent != last["percent"] or done == total:
            last["percent"] = percent
            bar = "#" * (percent // 4)
            stream.write(f"\r  invoke [{bar:<25}] {percent:3d}% {done:,}/{total:,} rows")
            if done >= total:
                stream.write("\n")
            stream.flush()

    return show


def build_parser() -> argparse.ArgumentParser:
    parser = evaluate._Parser(prog="python -m pipeline.evaluate_endpoint",
                              description="Evaluate a deployed SageMaker endpoint on a labelled test set.")
    parser.add_argument("--endpoint-name", required=True, help="the endpoint to invoke")
    parser.add_argument("--test-data", required=True,
                        help="label-first CSV without a header: a file, a folder or an s3:// URI")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help=f"rows per request (default {DEFAULT_BATCH_SIZE})")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"requests in flight (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--max-retries", type=int, default=DEFAULT_MAX_RETRIES,
                        help=f"retries per request on throttling and transient errors (default {DEFAULT_MAX_RETRIES})")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                        help=f"where evaluation.json, plots and report.html go (default {DEFAULT_OUTPUT_DIR})")
    parser.add_argument("--threshold", type=float, default=0.5, help="predict positive when score >= this")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no uncertainty)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed (0 or more)")
    parser.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    parser.add_argument("--endpoint-url", help="SageMaker runtime URL (default: AWS's for the region)")
    parser.add_argument("--s3", choices=("local", "aws"), default="local",
                        help="where s3:// test data is read: the local store or AWS S3 (boto3)")
    parser.add_argument("--work-dir", default=monitor.DEFAULT_WORK_DIR,
                        help=f"local store: s3://b/k is <work-dir>/s3/b/k (default {monitor.DEFAULT_WORK_DIR})")
    return parser


def _check_arguments(args: argparse.Namespace) -> None:
    for flag, value, low in (("--batch-size", args.batch_size, 1), ("--concurrency", args.concurrency, 1),
                             ("--max-retries", args.max_retries, 0)):
        if value < low:
            raise UsageError(f"{flag} {value} must be {low} or more")
    if args.concurrency > MAX_CONCURRENCY:
        raise UsageError(f"--concurrency {args.concurrency} must be at most {MAX_CONCURRENCY}")
    if not args.endpoint_name.strip():
        raise UsageError("--endpoint-name is empty")
    if args.output_dir.startswith("s3://"):
        raise UsageError(f"--output-dir {args.output_dir} must be a local folder")
    # The same rules, and words, as evaluate.py's.
    try:
        evaluate.check_evaluation_options(threshold=args.threshold, bootstrap=args.bootstrap, seed=args.seed)
    except evaluate.UsageError as error:
        raise UsageError(str(error)) from None


def _shown_names(location: str, local_root: Path) -> Callable[[Path], str]:
    """How a downloaded file is named in messages: its object's URI (S3Prefix layout, see monitor.resolve)."""
    if not location.startswith("s3://"):
        return str

    def shown(path: Path) -> str:
        if path == local_root:
            return location
        relative = path.relative_to(local_root).as_posix()
        if location.rsplit("/", 1)[-1] == relative:  # an object named exactly
            return location
        return f"{location.rstrip('/')}/{relative}"

    return shown


def main(argv: Sequence[str] | None = None) -> int:
    """0: outputs written; 1: the endpoint or AWS failed; 2: bad usage or input."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help
        return 2 if exit_.code else 0
    except evaluate.UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        try:
            _check_arguments(args)
            local = monitor.resolve(args.test_data, stack, args)
            data = read_test_data(local, shown=_shown_names(args.test_data, Path(local)))
        except (UsageError, monitor.InputError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"error: cannot read --test-data {args.test_data}: {error.strerror or error}", file=sys.stderr)
            return 2
    try:
        from botocore.exceptions import BotoCoreError, NoRegionError

        client = make_client(region=args.region, endpoint_url=args.endpoint_url, concurrency=args.concurrency)
    except NoRegionError:
        print("error: no AWS region: pass --region or set AWS_DEFAULT_REGION", file=sys.stderr)
        return 2
    except (BotoCoreError, ValueError) as error:  # e.g. a malformed --endpoint-url
        print(f"error: cannot create the SageMaker runtime client: {_one_line(error)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        result = score_rows(
            runtime_invoker(client, args.endpoint_name),
            data.rows,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            policy=RetryPolicy(max_retries=args.max_retries, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS),
            classify=aws_classifier(args.endpoint_name),
            progress=progress_printer(sys.stderr),
        )
    except EndpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: interrupted; nothing written to {args.output_dir}", file=sys.stderr)
        return 130
    elapsed = time.monotonic() - started
    output_dir = Path(args.output_dir)
    try:
        code = evaluate_pairs(data, result.scores, output_dir=output_dir, threshold=args.threshold,
                              n_bootstrap=args.bootstrap, seed=args.seed,
                              endpoint={"name": args.endpoint_name, "region": client.meta.region_name})
    except OSError as error:
        print(f"error: cannot write the outputs to {args.output_dir}: {error.strerror or error}; "
              "pass a writable --output-dir", file=sys.stderr)
        return 2
    if code != 0:
        return code
    document = json.loads((output_dir / "evaluation.json").read_text())
    for line in summary_lines(document, result, elapsed, output_dir):
        print(line)
    return 0


def summary_lines(document: dict[str, Any], result: ScoringResult, elapsed: float, output_dir: Path) -> list[str]:
    body = document["binary_classification_metrics"]
    rows = document["dataset"]["rows"]
    lines = [
        f"endpoint {document['endpoint']['name']}: {rows:,} rows scored in {result.requests:,} requests "
        f"({result.retries:,} retries) in {elapsed:.1f} s",
        f"auc {body['auc']['value']:.4f}  f1 {body['f1']['value']:.4f}  accuracy {body['accuracy']['value']:.4f} "
        f"at threshold {document['threshold']}",
    ]
    lines.append(f"report: {output_dir / 'report.html'} (evaluation.json and plots beside it)")
    return lines


if __name__ == "__main__":
    sys.exit(main())

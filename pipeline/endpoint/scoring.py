"""Scoring rows through an endpoint: batches of rows, several requests in flight, answers in row order."""
from __future__ import annotations

import random
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from pipeline.endpoint.errors import EndpointError
from pipeline.endpoint.retry import Cancelled, Failure, RetryPolicy, call_with_retries
from processing_scripts.score_response import parse_scores

DEFAULT_BATCH_SIZE = 500
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64


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
            scores[start:end] = parse_scores(body, end - start, row_name=lambda i: f"row {start + i + 1}")
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

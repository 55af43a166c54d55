"""Retrying a request: which failures are worth another try, and how long to wait before it.

Exponential backoff with full jitter (retry ``k`` waits ``U(0, min(cap, base * 2**k))``), the policy
AWS recommends for throttling; a final failure is an :class:`EndpointError` with its message and the
number of attempts.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from pipeline.endpoint.errors import EndpointError

DEFAULT_MAX_RETRIES = 8
# Backoff of retry k: U(0, min(CAP, BASE * 2**k)) seconds.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 20.0
# Error codes worth another try; any HTTP 429 or 5xx is too (see is_retryable).
RETRYABLE_CODES = frozenset({
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "ModelNotReadyException", "InternalFailure", "ServiceUnavailable",
    "InternalDependencyException", "RequestTimeout", "RequestTimeoutException",
})


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

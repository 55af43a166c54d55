"""The endpoint evaluator's two kinds of failure, each with its exit code."""
from __future__ import annotations


class UsageError(ValueError):
    """Bad arguments or test data; exit code 2."""

    exit_code = 2


class EndpointError(RuntimeError):
    """The endpoint (or AWS) failed; exit code 1. The message is one line naming the endpoint."""

    exit_code = 1

"""The registry's two kinds of failure: what the caller asked is wrong (the CLI exits 2), or the AWS
call failed (exit 1). Each message is one line that says which."""
from __future__ import annotations


class RegistryError(ValueError):
    """Unknown group/version/ARN, a bad status, name or package, or a review the policy refuses."""


class AwsError(RuntimeError):
    """A SageMaker call failed: operation, error code and message (``code`` holds the code)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code

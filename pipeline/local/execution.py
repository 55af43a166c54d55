"""The record of a local pipeline execution, shaped as SageMaker describes one.

:class:`ExecutionResult` is DescribePipelineExecution and ListPipelineExecutionSteps as one document
(``to_json``), with a :class:`StepRecord` per step; the runner writes it to
``<work dir>/executions/<id>/execution.json``. A step that fails raises :class:`StepFailure`, whose
message becomes its FailureReason.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

ACCOUNT = "000000000000"  # the local runner's account in every ARN it makes
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class StepFailure(RuntimeError):
    """A step failed; the message becomes the step's FailureReason."""


def arn(region: str, resource: str) -> str:
    """A SageMaker ARN in the local account.

    >>> arn("eu-west-1", "model/m-1")
    'arn:aws:sagemaker:eu-west-1:000000000000:model/m-1'
    """
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:{resource}"


def iso(timestamp: float) -> str | None:
    """An ISO 8601 UTC time, None for 0 (not yet).

    >>> iso(0), iso(86400.5)
    (None, '1970-01-02T00:00:00.500000+00:00')
    """
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat() if timestamp else None


def new_execution_id() -> str:
    """12 lowercase alphanumerics, like SageMaker's execution ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def _param_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _with_optional(document: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """``document`` with the ``optional`` members that are set (Describe* responses omit the others)."""
    document.update((name, value) for name, value in optional.items() if value)
    return document


@dataclass
class StepRecord:
    """One row of ListPipelineExecutionSteps."""

    name: str
    type: str
    status: str = "Executing"
    started: float = 0.0
    ended: float = 0.0
    failure_reason: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The row as ListPipelineExecutionSteps returns it."""
        times = {"StartTime": iso(self.started), "EndTime": iso(self.ended)}
        row = {"StepName": self.name, "StepType": self.type, "StepStatus": self.status, **times,
               "Metadata": self.metadata}
        return _with_optional(row, FailureReason=self.failure_reason)


@dataclass
class ExecutionResult:
    """DescribePipelineExecution + ListPipelineExecutionSteps, as one document."""

    pipeline_name: str
    execution_id: str
    region: str
    parameters: dict[str, Any]
    status: str = "Executing"
    failure_reason: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    model_package_arn: str | None = None
    started: float = field(default_factory=time.time)
    ended: float = 0.0
    # Step name → Describe*-shaped properties of the steps that ran (not part of the JSON record).
    properties: dict[str, Any] = field(default_factory=dict)
    pipeline_arn: str = field(init=False)
    execution_arn: str = field(init=False)

    def __post_init__(self) -> None:
        self.pipeline_arn = arn(self.region, f"pipeline/{self.pipeline_name}")
        self.execution_arn = f"{self.pipeline_arn}/execution/{self.execution_id}"

    @property
    def failed_step(self) -> str | None:
        """The step that failed (its record holds the reason), or None."""
        return next((step.name for step in self.steps if step.status == "Failed"), None)

    def job_name(self, step_name: str) -> str:
        """The name of the job (model, transform, processing) a step of this execution creates.

        >>> ExecutionResult("p", "abc", "us-east-1", {}).job_name("Score")
        'p-Score-abc'
        """
        return f"{self.pipeline_name}-{step_name}-{self.execution_id}"[:63]

    def to_json(self) -> dict[str, Any]:
        """The execution as DescribePipelineExecution returns it, with its steps."""
        document = {
            "PipelineArn": self.pipeline_arn,
            "PipelineExecutionArn": self.execution_arn,
            "PipelineExecutionStatus": self.status,
            "CreationTime": iso(self.started),
            "LastModifiedTime": iso(self.ended or time.time()),
            "PipelineParameters": [{"Name": k, "Value": _param_text(v)} for k, v in self.parameters.items()],
            "Steps": [step.to_json() for step in self.steps],
        }
        return _with_optional(document, FailureReason=self.failure_reason, ModelPackageArn=self.model_package_arn)

"""FailStep: stop the execution and say which gate checks failed."""
from __future__ import annotations

from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.mlops.workflow.fail_step import FailStep


def create_fail_step(*, name: str, display_name: str, summary: JsonGet) -> FailStep:
    """Message: ``Model not registered: quality gate failed: f1_threshold: f1 lower 95% bound 0.55 < 0.6; ...``.

    ``summary`` is evaluation.json's ``gate.summary``: every failed check with its bound and threshold.
    """
    return FailStep(
        name=name,
        display_name=display_name,
        description="Stop without registering; the message lists every failed gate check with its bound.",
        error_message=Join(on="", values=["Model not registered: quality gate failed: ", summary]),
    )

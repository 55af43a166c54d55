"""FailStep: stop the execution and say which gate numbers fell short."""
from __future__ import annotations

from typing import Mapping

from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat
from sagemaker.mlops.workflow.fail_step import FailStep

from processing_scripts.gate import GATE_RULES


def create_fail_step(
    *,
    name: str,
    values: Mapping[str, JsonGet],
    thresholds: Mapping[str, ParameterFloat],
) -> FailStep:
    """Message: ``Model not registered: quality gate failed: auc=0.71 (required >= 0.75); f1=...``."""
    parts: list = ["Model not registered: quality gate failed: "]
    for i, rule in enumerate(GATE_RULES):
        separator = "; " if i < len(GATE_RULES) - 1 else ""
        parts += [
            f"{rule.metric}=", values[rule.metric],
            " (required >= ", thresholds[rule.metric], f"){separator}",
        ]
    return FailStep(name=name, error_message=Join(on="", values=parts))

"""Quality-gate ConditionStep: register only if the evaluation step's gate decision says so.

The rules themselves live in processing_scripts/gate.py and run inside the evaluation step, which writes
``gate.passed`` into evaluation.json; this step only branches on it, so the rule exists in one place.
"""
from __future__ import annotations

from typing import Sequence

from sagemaker.core.workflow.conditions import ConditionEquals
from sagemaker.core.workflow.functions import JsonGet
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.steps import Step

from processing_scripts.gate import PASSED_PATH
from steps.evaluation import EvaluationStep


def evaluation_value(evaluation: EvaluationStep, json_path: str) -> JsonGet:
    """A value read from the evaluation step's evaluation.json (its PropertyFile) by JSON path."""
    return JsonGet(step_name=evaluation.step.name, property_file=evaluation.report, json_path=json_path)


def create_condition_step(
    *,
    name: str,
    display_name: str,
    evaluation: EvaluationStep,
    if_steps: Sequence[Step],
    else_steps: Sequence[Step],
) -> ConditionStep:
    """``gate.passed == true`` → ``if_steps``, else ``else_steps``."""
    return ConditionStep(
        name=name,
        display_name=display_name,
        description="Register only if evaluation.json says gate.passed == true (the rules run in the evaluation).",
        conditions=[ConditionEquals(left=evaluation_value(evaluation, PASSED_PATH), right=True)],
        if_steps=list(if_steps),
        else_steps=list(else_steps),
    )

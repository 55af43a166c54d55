"""Quality-gate ConditionStep: register only if every rule in GATE_RULES holds."""
from __future__ import annotations

from typing import Mapping, Sequence

from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.core.workflow.functions import JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.steps import Step

from processing_scripts.gate import GATE_RULES
from steps.evaluation import EvaluationStep


def gate_values(evaluation: EvaluationStep) -> dict[str, JsonGet]:
    """The measured value of each gate metric, read from evaluation.json by its JSON path."""
    return {
        rule.metric: JsonGet(
            step_name=evaluation.step.name,
            property_file=evaluation.report,
            json_path=rule.json_path,
        )
        for rule in GATE_RULES
    }


def create_condition_step(
    *,
    name: str,
    evaluation: EvaluationStep,
    thresholds: Mapping[str, ParameterFloat],
    if_steps: Sequence[Step],
    else_steps: Sequence[Step],
) -> ConditionStep:
    """``metric >= threshold`` for every gate rule; the list of conditions is ANDed by SageMaker."""
    values = gate_values(evaluation)
    return ConditionStep(
        name=name,
        conditions=[
            ConditionGreaterThanOrEqualTo(left=values[rule.metric], right=thresholds[rule.metric])
            for rule in GATE_RULES
        ],
        if_steps=list(if_steps),
        else_steps=list(else_steps),
    )

"""The local runner's expression evaluator and step ordering (pure parts, table-driven)."""
from __future__ import annotations

import pytest

from pipeline.local.expressions import ExpressionError, Scope, evaluate, lookup, parse_path, referenced_steps
from pipeline.local.conditions import evaluate_condition
from pipeline.local.execution import StepFailure
from pipeline.local.ordering import execution_order, step_dependencies

PROPERTIES = {
    "Eval": {
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "other", "S3Output": {"S3Uri": "s3://b/other"}},
                {"OutputName": "evaluation", "S3Output": {"S3Uri": "s3://b/eval"}},
            ]
        }
    },
    "Model": {"ModelName": "m-1"},
}
REPORT = {"binary_classification_metrics": {"auc": {"value": 0.91}, "f1": {"value": 0.5}}, "list": [{"x": 3}]}


def scope() -> Scope:
    return Scope(
        parameters={"AucThreshold": 0.75, "Name": "abc", "Count": 2, "Flag": True},
        execution={"PipelineExecutionId": "exec123"},
        steps=dict(PROPERTIES),
        property_files={("Eval", "Report"): lambda: REPORT},
        known_steps=frozenset({"Eval", "Model", "Later"}),
    )


def json_get(path: str) -> dict:
    return {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"}, "Path": path}}


@pytest.mark.parametrize(
    "expression, expected",
    [
        ({"Get": "Parameters.AucThreshold"}, 0.75),
        ({"Get": "Execution.PipelineExecutionId"}, "exec123"),
        ({"Get": "Steps.Model.ModelName"}, "m-1"),
        ({"Get": "Steps.Eval.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}, "s3://b/eval"),
        ({"Get": "Steps.Eval.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"}, "s3://b/other"),
        ({"Std:Join": {"On": "/", "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}]}}, "s3://b/exec123"),
        ({"Std:Join": {"On": "", "Values": [{"Get": "Parameters.AucThreshold"}]}}, "0.75"),
        ({"Std:Join": {"On": " ", "Values": [{"Get": "Parameters.Count"}, {"Get": "Parameters.Flag"}]}}, "2 true"),
        (json_get("binary_classification_metrics.auc.value"), 0.91),
        (json_get("list[0].x"), 3),
        ({"Std:Join": {"On": "=", "Values": ["auc", json_get("binary_classification_metrics.auc.value")]}}, "auc=0.91"),
        ({"A": [{"Get": "Parameters.Name"}, 1], "B": {"C": "plain"}}, {"A": ["abc", 1], "B": {"C": "plain"}}),
    ],
)
def test_evaluate(expression, expected):
    assert evaluate(expression, scope()) == expected


@pytest.mark.parametrize(
    "expression, message",
    [
        ({"Get": "Parameters.Missing"}, "no parameter 'Missing'"),
        ({"Get": "Execution.Nope"}, "unknown execution variable"),
        ({"Get": "Steps.Ghost.ModelName"}, "no step named 'Ghost'"),
        ({"Get": "Steps.Later.ModelName"}, "has not run"),
        ({"Get": "Steps.Model.ModelNam"}, "not found"),
        ({"Get": "Steps.Eval.ProcessingOutputConfig.Outputs['evalu'].S3Output.S3Uri"}, "no item named 'evalu'"),
        ({"Get": "Things.X"}, "unsupported reference root"),
        (json_get("binary_classification_metrics.auc.val"), "not found"),
        (json_get("list[3].x"), "out of range"),
        ({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Other"}, "Path": "a"}}, "no property file 'Other'"),
        ({"Std:Select": {"Values": []}}, "unsupported function 'Std:Select'"),
    ],
)
def test_evaluate_errors_name_the_problem(expression, message):
    with pytest.raises(ExpressionError, match=message):
        evaluate(expression, scope())


def test_parse_path_rejects_garbage():
    with pytest.raises(ExpressionError):
        parse_path("a..b[")


def test_lookup_requires_matching_name():
    with pytest.raises(ExpressionError):
        lookup({"Outputs": [{"OutputName": "a"}]}, "Outputs['b']", what="t")


@pytest.mark.parametrize(
    "condition, expected",
    [
        ({"Type": "GreaterThanOrEqualTo", "LeftValue": json_get("binary_classification_metrics.auc.value"),
          "RightValue": {"Get": "Parameters.AucThreshold"}}, True),
        ({"Type": "GreaterThanOrEqualTo", "LeftValue": 0.75, "RightValue": 0.75}, True),
        ({"Type": "GreaterThan", "LeftValue": 0.75, "RightValue": 0.75}, False),
        ({"Type": "LessThan", "LeftValue": 1, "RightValue": 2}, True),
        ({"Type": "LessThanOrEqualTo", "LeftValue": 3, "RightValue": 2}, False),
        ({"Type": "Equals", "LeftValue": "a", "RightValue": "a"}, True),
        ({"Type": "NotEquals", "LeftValue": "a", "RightValue": "b"}, True),
        ({"Type": "In", "QueryValue": {"Get": "Parameters.Name"}, "Values": ["x", "abc"]}, True),
        ({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}, False),
        ({"Type": "Or", "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                                       {"Type": "Equals", "LeftValue": 2, "RightValue": 2}]}, True),
    ],
)
def test_conditions(condition, expected):
    assert evaluate_condition(condition, scope()) is expected


@pytest.mark.parametrize(
    "condition, message",
    [
        ({"Type": "GreaterThanOrEqualTo", "LeftValue": "NaN", "RightValue": 0.5}, "both must be numbers"),
        ({"Type": "Between", "LeftValue": 1, "RightValue": 2}, "unsupported condition type 'Between'"),
    ],
)
def test_condition_errors(condition, message):
    with pytest.raises(StepFailure, match=message):
        evaluate_condition(condition, scope())


def step(name, type_="Processing", args=None, depends=None):
    s = {"Name": name, "Type": type_, "Arguments": args or {}}
    if depends:
        s["DependsOn"] = depends
    return s


def test_order_follows_data_dependencies_then_definition_order():
    steps = [
        step("Evaluate", args={"In": {"Get": "Steps.Transform.TransformOutput.S3OutputPath"}}),
        step("Transform", args={"ModelName": {"Get": "Steps.Model.ModelName"}}),
        step("Model"),
        step("Audit", depends=["Model"]),
    ]
    names = {s["Name"] for s in steps}
    assert [s["Name"] for s in execution_order(steps, names)] == ["Model", "Transform", "Evaluate", "Audit"]


def test_condition_depends_on_what_its_branches_read():
    gate = step("Gate", "Condition", {
        "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}],
        "IfSteps": [step("Register", "RegisterModel", {"Uri": {"Get": "Steps.Eval.X"}})],
        "ElseSteps": [step("Fail", "Fail", {"ErrorMessage": {"Get": "Steps.Model.ModelName"}})],
    })
    assert step_dependencies(gate) == {"Eval", "Model"}


@pytest.mark.parametrize(
    "steps, message",
    [
        ([step("A", args={"x": {"Get": "Steps.B.Y"}}), step("B", args={"x": {"Get": "Steps.A.Y"}})], "dependency cycle"),
        ([step("A", depends=["Nope"])], "unknown step 'Nope'"),
    ],
)
def test_order_errors(steps, message):
    with pytest.raises(ExpressionError, match=message):
        execution_order(steps, {s["Name"] for s in steps})


def test_referenced_steps_ignores_parameters():
    expression = {"a": [{"Get": "Parameters.P"}, {"Get": "Steps.S.X"}], "b": json_get("x")}
    assert referenced_steps(expression) == {"S", "Eval"}

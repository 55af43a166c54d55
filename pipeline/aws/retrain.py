"""Retraining on alarms: an EventBridge rule that starts a model-build pipeline when a monitoring pipeline's
FailStep fails (drift or model quality), passing the reason as a pipeline parameter.

The rule matches SageMaker's "Pipeline Execution Step Status Change" events of the monitoring pipeline
whose FailStep (``DataDriftDetected``, ``ModelQualityDegraded``) reached ``Failed``: an execution that failed
for another reason (a job error, no Approved version) is not an alarm and starts nothing. Its target is
the model-build pipeline, started by EventBridge with a role allowed sagemaker:StartPipelineExecution on
it. EventBridge passes SageMaker pipeline parameters as fixed values, so the reason is the alarm's kind and
source (``model quality: <pipeline> step ModelQualityDegraded failed``): the execution's own failure
reason (the violated metrics, the window) stays in the monitoring execution.

Idempotent: the rule and its target are read first; what already matches is left alone ("unchanged").
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pipeline import limits
from pipeline.config import ROLE_ARN_RE, PipelineConfig

EVENT_SOURCE = "aws.sagemaker"
STEP_EVENT = "SageMaker Model Building Pipeline Execution Step Status Change"
RULE_SUFFIX = "-retrain"
TARGET_ID = "retrain-pipeline"
REASON_PARAMETER = "RetrainReason"
RETRAIN_ROLE_ENV = "RETRAIN_ROLE_ARN"


class RetrainError(ValueError):
    """The retraining rule cannot be set up as asked; the message says how to fix it."""


@dataclass(frozen=True)
class Alarm:
    """What a monitoring pipeline's failure means: its name, the FailStep that raises the alarm, the kind."""

    pipeline_name: str
    fail_step: str
    kind: str  # "data drift" | "model quality"

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.pipeline_name} step {self.fail_step} failed"


def rule_name(pipeline_name: str) -> str:
    """``<monitoring pipeline>-retrain``, shortened with a hash beyond EventBridge's 64 characters.

    >>> rule_name("churn-monitoring"), len(rule_name("p" * 100))
    ('churn-monitoring-retrain', 64)
    """
    name = pipeline_name + RULE_SUFFIX
    most = limits.RULE_NAME.max_length
    if len(name) > most:
        name = name[: most - 9] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    problem = limits.RULE_NAME.violation(name)
    if problem:
        raise RetrainError(f"bad rule name {name!r}: {problem} (it is the monitoring pipeline's name: rename it)")
    return name


def event_pattern(config: PipelineConfig, alarm: Alarm) -> dict[str, Any]:
    """The events of ``alarm``'s FailStep failing in its pipeline."""
    return {
        "source": [EVENT_SOURCE],
        "detail-type": [STEP_EVENT],
        "detail": {
            "pipelineArn": [config.pipeline_arn(alarm.pipeline_name)],
            "stepName": [alarm.fail_step],
            "currentStepStatus": ["Failed"],
        },
    }


def rule_request(config: PipelineConfig, alarm: Alarm) -> dict[str, Any]:
    """The PutRule request (compact JSON pattern, as EventBridge stores it)."""
    description = f"Starts retraining when {alarm.pipeline_name} fails for {alarm.kind} ({alarm.fail_step})"
    problem = limits.RULE_DESCRIPTION.violation(description)
    if problem:
        description = description[: limits.RULE_DESCRIPTION.max_length - 3] + "..."
    return {"Name": rule_name(alarm.pipeline_name), "EventPattern": json.dumps(event_pattern(config, alarm),
                                                                                separators=(",", ":")),
            "State": "ENABLED", "Description": description}


def target_request(alarm: Alarm, *, retrain_pipeline_arn: str, role_arn: str,
                   reason_parameter: str | None) -> dict[str, Any]:
    """The PutTargets request: start the model-build pipeline, with the reason when it takes one."""
    target: dict[str, Any] = {"Id": TARGET_ID, "Arn": retrain_pipeline_arn, "RoleArn": role_arn,
                              "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 5}}
    if reason_parameter:
        value = alarm.reason
        if limits.RETRAIN_PARAMETER_VALUE.violation(value):
            value = value[: limits.RETRAIN_PARAMETER_VALUE.max_length]
        target["SageMakerPipelineParameters"] = {"PipelineParameterList": [{"Name": reason_parameter, "Value": value}]}
    return {"Rule": rule_name(alarm.pipeline_name), "Targets": [target]}


def check_role(role_arn: str | None) -> str:
    if not ROLE_ARN_RE.match(role_arn or ""):
        raise RetrainError(f"bad retraining role ARN {role_arn!r}: expected arn:aws:iam::<12-digit account>:role/<name> "
                           f"allowed sagemaker:StartPipelineExecution on the model-build pipeline (--retrain-role-arn "
                           f"or {RETRAIN_ROLE_ENV})")
    return role_arn


def check_retrain_pipeline(sagemaker, name: str, reason_parameter: str | None) -> str:
    """The model-build pipeline's ARN, after checking it exists and declares ``reason_parameter``."""
    import botocore.exceptions

    problem = limits.PIPELINE_NAME.violation(name)
    if problem:
        raise RetrainError(f"bad --retrain-pipeline {limits.shown(name)}: {problem}")
    try:
        described = sagemaker.describe_pipeline(PipelineName=name)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("ResourceNotFound", "ValidationException"):
            raise RetrainError(f"--retrain-pipeline {name}: no such SageMaker pipeline in this account and region; "
                               "create the model-build pipeline first") from None
        raise
    if reason_parameter:
        try:
            declared = json.loads(described.get("PipelineDefinition") or "{}").get("Parameters", [])
        except json.JSONDecodeError:
            declared = []
        types = {p.get("Name"): p.get("Type") for p in declared if isinstance(p, dict)}
        if types.get(reason_parameter) != "String":
            raise RetrainError(f"pipeline {name} declares no String parameter {reason_parameter}, so it cannot be told why "
                               f"it was started: add ParameterString('{reason_parameter}', default_value='') to it, or "
                               "pass --reason-parameter NAME (one it declares) or --reason-parameter none")
    return described["PipelineArn"]


def _current(events, name: str) -> tuple[dict | None, list[dict]]:
    """(DescribeRule's answer or None, the rule's targets)."""
    import botocore.exceptions

    try:
        rule = events.describe_rule(Name=name)
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return None, []
    return rule, events.list_targets_by_rule(Rule=name).get("Targets", [])


def _same_rule(existing: Mapping | None, request: Mapping) -> bool:
    if existing is None:
        return False
    try:
        pattern = json.loads(existing.get("EventPattern") or "null")
    except json.JSONDecodeError:
        return False
    return (pattern == json.loads(request["EventPattern"]) and existing.get("State") == request["State"]
            and existing.get("Description") == request["Description"])


def apply_retrain_rule(config: PipelineConfig, alarm: Alarm, *, retrain_pipeline: str, role_arn: str | None,
                       reason_parameter: str | None = REASON_PARAMETER, events=None, sagemaker=None,
                       emit: Callable[[str], None] = print) -> dict[str, Any]:
    """Create or update the rule that retrains on ``alarm``. Without clients nothing is read or sent: the
    requests are returned as they would be sent (the pipeline's ARN derived, not looked up)."""
    role_arn = check_role(role_arn)
    if reason_parameter is not None and limits.RETRAIN_PARAMETER_NAME.violation(reason_parameter):
        raise RetrainError(f"bad --reason-parameter {limits.shown(reason_parameter)}: "
                           f"{limits.RETRAIN_PARAMETER_NAME.violation(reason_parameter)}")
    arn = (check_retrain_pipeline(sagemaker, retrain_pipeline, reason_parameter) if sagemaker is not None
           else config.pipeline_arn(retrain_pipeline))
    rule, targets = rule_request(config, alarm), target_request(alarm, retrain_pipeline_arn=arn, role_arn=role_arn,
                                                                 reason_parameter=reason_parameter)
    requests = {"rule": rule, "targets": targets}
    if events is None:
        return requests
    existing, current_targets = _current(events, rule["Name"])
    wanted = targets["Targets"][0]
    if _same_rule(existing, rule) and [t for t in current_targets if t.get("Id") == TARGET_ID] == [wanted] \
            and len(current_targets) == 1:
        emit(f"retraining rule unchanged: {existing['Arn']} (starts {retrain_pipeline} on {alarm.kind})")
        return requests
    created = existing is None
    rule_arn = events.put_rule(**rule)["RuleArn"]
    stale = [t["Id"] for t in current_targets if t.get("Id") != TARGET_ID]
    if stale:  # a target added by hand would also fire on every alarm: this rule has one target, ours
        events.remove_targets(Rule=rule["Name"], Ids=stale)
    response = events.put_targets(**targets)
    if response.get("FailedEntryCount"):
        entry = response["FailedEntries"][0]
        raise RetrainError(f"EventBridge refused the target of {rule['Name']}: {entry.get('ErrorCode')}: "
                           f"{entry.get('ErrorMessage')}")
    emit(f"retraining rule {'created' if created else 'updated'}: {rule_arn} (starts {retrain_pipeline} when "
         f"{alarm.pipeline_name} fails for {alarm.kind}"
         + (f", {reason_parameter}={wanted['SageMakerPipelineParameters']['PipelineParameterList'][0]['Value']!r}"
            if reason_parameter else "") + ")")
    return requests

"""Retraining on alarms (pipeline/aws/retrain.py) under moto: the EventBridge rule, its target and its pattern."""
from __future__ import annotations

import json

import boto3
import botocore.session
import pytest
from botocore.validate import validate_parameters
from moto import mock_aws

from pipeline.aws import retrain
from pipeline.pipelines.monitoring import DRIFT_FAIL_STEP, pipeline_name
from tests.conftest import TEST_ROLE_ARN

RETRAIN = "churn-model-build"
EVENTS_ROLE = "arn:aws:iam::123456789012:role/EventBridgeStartsRetraining"


def alarm(config) -> retrain.Alarm:
    return retrain.Alarm(pipeline_name(config), DRIFT_FAIL_STEP, "data drift")


def create_build_pipeline(session, parameters=({"Name": "RetrainReason", "Type": "String", "DefaultValue": ""},)):
    definition = {"Version": "2020-12-01", "Parameters": list(parameters), "Steps": []}
    return session.client("sagemaker").create_pipeline(
        PipelineName=RETRAIN, PipelineDefinition=json.dumps(definition), RoleArn=TEST_ROLE_ARN)["PipelineArn"]


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def step_event(config, *, pipeline: str, step: str, status: str) -> dict:
    arn = config.pipeline_arn(pipeline)
    return {"version": "0", "id": "1", "detail-type": retrain.STEP_EVENT, "source": "aws.sagemaker",
            "account": "123456789012", "time": "2024-01-10T06:10:00Z", "region": "us-east-1", "resources": [arn],
            "detail": {"stepName": step, "stepType": "Fail", "currentStepStatus": status, "pipelineArn": arn,
                       "pipelineExecutionArn": arn + "/execution/abc", "failureReason": "Data drift: 2 violation(s)"}}


def test_the_rule_starts_the_build_pipeline_with_the_reason_and_is_idempotent(aws, test_config):
    events, sagemaker = aws.client("events"), aws.client("sagemaker")
    build_arn = create_build_pipeline(aws)
    lines = []
    requests = retrain.apply_retrain_rule(test_config, alarm(test_config), retrain_pipeline=RETRAIN, role_arn=EVENTS_ROLE,
                                          events=events, sagemaker=sagemaker, emit=lines.append)
    assert lines[-1].startswith("retraining rule created: ") and "RetrainReason='data drift: " in lines[-1]
    name = retrain.rule_name(pipeline_name(test_config))
    rule = events.describe_rule(Name=name)
    assert rule["State"] == "ENABLED" and json.loads(rule["EventPattern"]) == json.loads(requests["rule"]["EventPattern"])
    (target,) = events.list_targets_by_rule(Rule=name)["Targets"]
    assert target["Arn"] == build_arn and target["RoleArn"] == EVENTS_ROLE
    assert target["SageMakerPipelineParameters"]["PipelineParameterList"] == [
        {"Name": "RetrainReason", "Value": f"data drift: {pipeline_name(test_config)} step {DRIFT_FAIL_STEP} failed"}]
    retrain.apply_retrain_rule(test_config, alarm(test_config), retrain_pipeline=RETRAIN, role_arn=EVENTS_ROLE,
                               events=events, sagemaker=sagemaker, emit=lines.append)
    assert lines[-1].startswith("retraining rule unchanged: ")
    # A target added by hand is removed: the rule starts exactly the build pipeline.
    events.put_targets(Rule=name, Targets=[{"Id": "extra", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}])
    retrain.apply_retrain_rule(test_config, alarm(test_config), retrain_pipeline=RETRAIN, role_arn=EVENTS_ROLE,
                               events=events, sagemaker=sagemaker, emit=lines.append)
    assert lines[-1].startswith("retraining rule updated: ")
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]] == [retrain.TARGET_ID]


def test_the_pattern_matches_only_the_failstep_failing_in_the_monitoring_pipeline(aws, test_config):
    events, sqs = aws.client("events"), aws.client("sqs")
    pattern = retrain.rule_request(test_config, alarm(test_config))["EventPattern"]
    monitoring = pipeline_name(test_config)
    # The same pattern routed to a queue: what EventBridge delivers is what the rule would start retraining on.
    queue = sqs.create_queue(QueueName="alarms")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="probe", EventPattern=pattern)
    events.put_targets(Rule="probe", Targets=[{"Id": "q", "Arn": queue_arn}])

    def matches(**kwargs) -> bool:
        event = step_event(test_config, **kwargs)
        events.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"],
                                    "Detail": json.dumps(event["detail"]), "Resources": event["resources"]}])
        return bool(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages"))

    assert not matches(pipeline=monitoring, step=DRIFT_FAIL_STEP, status="Executing")
    assert not matches(pipeline=monitoring, step="CheckDataDrift", status="Failed")  # a job error is no alarm
    assert not matches(pipeline="another-pipeline", step=DRIFT_FAIL_STEP, status="Failed")
    assert matches(pipeline=monitoring, step=DRIFT_FAIL_STEP, status="Failed")


def test_requests_satisfy_botocores_models(test_config):
    requests = retrain.apply_retrain_rule(test_config, alarm(test_config), retrain_pipeline=RETRAIN, role_arn=EVENTS_ROLE)
    model = botocore.session.get_session().get_service_model("events")
    validate_parameters(requests["rule"], model.operation_model("PutRule").input_shape)
    validate_parameters(requests["targets"], model.operation_model("PutTargets").input_shape)
    assert len(requests["rule"]["Name"]) <= 64


@pytest.mark.parametrize("setup,kwargs,fragment", [
    (lambda s: None, {}, "no such SageMaker pipeline"),
    (lambda s: create_build_pipeline(s, parameters=()), {}, "declares no String parameter RetrainReason"),
    (lambda s: create_build_pipeline(s), {"role_arn": "not-a-role"}, "bad retraining role ARN"),
    (lambda s: create_build_pipeline(s), {"reason_parameter": "bad name!"}, "bad --reason-parameter"),
])
def test_unusable_settings_are_refused_before_anything_changes(aws, test_config, setup, kwargs, fragment):
    setup(aws)
    options = {"retrain_pipeline": RETRAIN, "role_arn": EVENTS_ROLE, **kwargs}
    with pytest.raises(retrain.RetrainError, match=None) as error:
        retrain.apply_retrain_rule(test_config, alarm(test_config), events=aws.client("events"),
                                   sagemaker=aws.client("sagemaker"), emit=lambda line: None, **options)
    assert fragment in str(error.value) and "\n" not in str(error.value)
    assert aws.client("events").list_rules()["Rules"] == []


def test_a_build_pipeline_without_a_reason_parameter_can_still_be_started(aws, test_config):
    create_build_pipeline(aws, parameters=())
    retrain.apply_retrain_rule(test_config, alarm(test_config), retrain_pipeline=RETRAIN, role_arn=EVENTS_ROLE,
                               reason_parameter=None, events=aws.client("events"), sagemaker=aws.client("sagemaker"),
                               emit=lambda line: None)
    (target,) = aws.client("events").list_targets_by_rule(Rule=retrain.rule_name(pipeline_name(test_config)))["Targets"]
    assert "SageMakerPipelineParameters" not in target

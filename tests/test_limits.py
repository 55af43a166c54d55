"""pipeline/limits.py says what botocore's service models say, and every setting is checked against it:
each limit with a value just within and one just over, through the code that enforces it."""
from __future__ import annotations

import re
import sys
from datetime import datetime, timezone

import botocore.loaders
import pytest

from pipeline import limits
from pipeline.aws import schedule as monitoring
from pipeline.aws import upsert
from pipeline.pipelines import monitoring as monitoring_pipeline
from pipeline.config import ConfigError, PipelineConfig, check_limit
from pipeline.aws.schedule import ScheduleError
from pipeline.registry import PackageRequest, RegistryError, review
from processing_scripts import customer_metadata
from tests.helpers import assert_one_line

BUCKET = "test-artifacts-bucket"
LIMITS = {name: value for name, value in vars(limits).items() if isinstance(value, limits.Limit)}


def shape(service: str, name: str) -> dict:
    return botocore.loaders.Loader().load_service_model(service, "service-2")["shapes"][name]


def charset_of(pattern: str) -> limits.Charset:
    """``([\\p{L}\\p{Z}_.\\-]*)`` → Charset("LZ", "_.-")."""
    match = re.fullmatch(r"\(?\[((?:\\p\{\w\})*)(.*)\]\*\)?", pattern)
    assert match, pattern
    return limits.Charset("".join(re.findall(r"\\p\{(\w)\}", match.group(1))), match.group(2).replace("\\", ""))


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_limit_is_what_botocore_declares(name):
    limit = LIMITS[name]
    declared = shape(limit.service, limit.shape)
    assert declared["type"] == "string"
    if limit is limits.FUNCTION_NAME:
        # The shape takes ARNs too; its documentation limits a bare name, and its pattern ends in the name part.
        documentation = shape("lambda", "CreateFunctionRequest")["members"]["FunctionName"]["documentation"]
        assert "only the function name, it is limited to 64 characters" in documentation
        assert f"(function:)?({limit.pattern})" in declared["pattern"]
        return
    assert (declared.get("min", 0), declared.get("max")) == (limit.min_length, limit.max_length)
    if limit.charset is not None:
        assert charset_of(declared["pattern"]) == limit.charset
    else:
        assert declared.get("pattern") == limit.pattern


def test_tag_limits_are_the_same_in_sagemaker_and_lambda():
    for key in ("TagKey", "TagValue"):
        assert shape("lambda", key) == shape("sagemaker", key)
    assert shape("sagemaker", "TagList")["max"] == limits.TAGS_PER_RESOURCE
    assert shape("sagemaker", "CreateModelPackageGroupInput")["members"]["Tags"]["shape"] == "TagList"


def test_each_request_field_uses_the_shape_its_limit_names():
    # Which shape a request field has, so the limit above is the one that applies to what we send.
    fields = [
        ("sagemaker", "CreatePipelineRequest", "PipelineName", limits.PIPELINE_NAME),
        ("sagemaker", "CreatePipelineRequest", "PipelineDescription", limits.PIPELINE_DESCRIPTION),
        ("sagemaker", "StartPipelineExecutionRequest", "PipelineExecutionDisplayName", limits.EXECUTION_DISPLAY_NAME),
        ("sagemaker", "CreateModelPackageGroupInput", "ModelPackageGroupName", limits.MODEL_PACKAGE_GROUP_NAME),
        ("sagemaker", "CreateModelPackageGroupInput", "ModelPackageGroupDescription",
         limits.MODEL_PACKAGE_GROUP_DESCRIPTION),
        ("sagemaker", "AddTagsInput", "ResourceArn", limits.TAGGED_ARN),
        ("sagemaker", "ListTagsInput", "ResourceArn", limits.TAGGED_ARN),
        ("sagemaker", "Tag", "Key", limits.TAG_KEY),
        ("sagemaker", "Tag", "Value", limits.TAG_VALUE),
        ("sagemaker", "CreateProjectInput", "ProjectName", limits.PROJECT_NAME),
        ("sagemaker", "ProcessingS3Input", "S3Uri", limits.S3_URI),
        ("lambda", "CreateFunctionRequest", "FunctionName", limits.FUNCTION_NAME),
        ("scheduler", "CreateScheduleInput", "Name", limits.SCHEDULE_NAME),
        ("scheduler", "CreateScheduleInput", "Description", limits.SCHEDULE_DESCRIPTION),
        ("scheduler", "CreateScheduleInput", "ScheduleExpression", limits.SCHEDULE_EXPRESSION),
        ("scheduler", "SageMakerPipelineParameter", "Value", limits.SCHEDULE_PARAMETER_VALUE),
    ]
    for service, request, member, limit in fields:
        assert shape(service, request)["members"][member]["shape"] == limit.shape, (request, member)
    assert shape("sagemaker", "DescribeProjectOutput")["members"]["ProjectId"]["shape"] == limits.PROJECT_ID.shape


def test_customer_metadata_rules_are_what_botocore_declares():
    key, value, properties = (shape("sagemaker", f"CustomerMetadata{n}") for n in ("Key", "Value", "Map"))
    assert (key["min"], key["max"]) == (1, customer_metadata.KEY_MAX)
    assert (value["min"], value["max"]) == (1, customer_metadata.VALUE_MAX)
    assert properties["max"] == customer_metadata.MAX_ENTRIES
    assert (properties["key"]["shape"], properties["value"]["shape"]) == ("CustomerMetadataKey", "CustomerMetadataValue")
    for request in ("CreateModelPackageInput", "UpdateModelPackageInput"):
        assert shape("sagemaker", request)["members"]["CustomerMetadataProperties"]["shape"] == "CustomerMetadataMap"
    allowed = {charset_of(re.sub(r"\$\{1,\d+\}$", "", s["pattern"])) for s in (key, value)}
    assert allowed == {limits.Charset("LZN", customer_metadata.EXTRA_CHARACTERS)}
    # CHARACTER, a Python regex (no \p{...} there), admits exactly those characters, over all of Unicode.
    [charset] = allowed
    one = re.compile(customer_metadata.CHARACTER)
    wrong = [hex(c) for c in range(sys.maxunicode + 1) if bool(one.fullmatch(chr(c))) != charset.allows(chr(c))]
    assert not wrong, wrong[:20]


def test_approval_descriptions_fit_what_botocore_allows_and_are_never_cut():
    declared = shape("sagemaker", shape("sagemaker", "UpdateModelPackageInput")["members"]["ApprovalDescription"]["shape"])
    assert declared["max"] == review.APPROVAL_DESCRIPTION_MAX
    # The longest --reason and --by over the longest gate record still leave the FORCED note whole.
    checks = "c" * customer_metadata.VALUE_MAX
    package = {"ModelPackageArn": "arn", "CustomerMetadataProperties": {"gate_passed": "false", "gate_checks": checks}}
    decided = review.decide(package, approve=True, by="b" * review.BY_MAX, reason="r" * review.REASON_MAX,
                            force=True, now=datetime.now(timezone.utc))
    assert len(decided.description) <= review.APPROVAL_DESCRIPTION_MAX
    assert decided.description.endswith(f"[FORCED: the quality gate did not pass: {checks}]")
    with pytest.raises(RegistryError, match="more than 400"):
        review.decide(package, approve=True, by="ana", reason="r" * (review.REASON_MAX + 1), force=True)


def package(metadata: dict) -> PackageRequest:
    """A register request carrying ``metadata``: where both registries enforce SageMaker's rule."""
    return PackageRequest("churn", model_data_url="s3://b/model.tar.gz", image_uri="image", customer_metadata=metadata)


@pytest.mark.parametrize("metadata, message", [
    ({"gate passed:/=+-@_.": "Évaluation 2026 ü 1 /=+-@_.:"}, None),  # letters, spaces, digits, _.:/=+-@
    ({"gate!": "true"}, "the key has '!': only letters, digits, spaces and _.:/=+-@ are allowed"),
    ({"gate": "auc<=0.7;"}, "the value has ';<'"),
    ({"gate": "a\tb"}, "the value has '\\t'"),  # a tab is no space to SageMaker
    ({"gate": "combining\u0301"}, "the value has"),  # marks (category M) are not letters
    ({"gate": 1}, "the value is not a string (int)"),
    ({2: "x"}, "the key is not a string (int)"),
])
def test_customer_metadata_characters(metadata, message):
    if message is None:
        package(metadata)
    else:
        with pytest.raises(RegistryError, match=re.escape(message)):
            package(metadata)


@pytest.mark.parametrize("text, expected", [
    ("auc>=0.75 (lower bound); ok", "auc=0.75 lower bound ok"),
    ("line one\n\tline two  ", "line one line two"),  # whitespace runs become one space
    ("a < b", "a b"),
    ("Évaluation ü", "Évaluation ü"),
    ("", "none"),
    ("<>;", "none"),
    ("x" * 300, "x" * 256),
    (0.75, "0.75"),
])
def test_metadata_values_are_made_to_fit(text, expected):
    made = customer_metadata.value(text)
    assert made == expected
    assert customer_metadata.problem({"key": made}) is None


def config(**settings) -> PipelineConfig:
    return PipelineConfig(bucket=BUCKET, **settings)


def project(name: str = "churn", project_id: str = "p-abc123", tags: tuple = ()) -> PipelineConfig:
    return PipelineConfig.from_sources({"bucket": BUCKET, "region": "us-east-1", "tags": tags},
                                       env={"SAGEMAKER_PROJECT_NAME": name, "SAGEMAKER_PROJECT_ID": project_id})


def name_of(length: int) -> str:
    return "p" * length


# The pipeline's ARN in us-east-1 with the placeholder role's account, less the name.
ARN_HEAD = len("arn:aws:sagemaker:us-east-1:000000000000:pipeline/")
PROJECT_TAGS = 2

# (what, check given a length, the longest accepted, the error it raises, a phrase of its message)
LENGTHS = [
    ("pipeline name", lambda n: config(pipeline_name=name_of(n)), 256, ConfigError, "more than 256"),
    ("tagged pipeline name (AddTags/ListTags ARN)",
     lambda n: config(pipeline_name=name_of(n), tags=(("team", "ml"),)), 256 - ARN_HEAD, ConfigError,
     f"a tagged pipeline's name may have {256 - ARN_HEAD}"),
    ("monitoring pipeline name", lambda n: monitoring_pipeline.pipeline_name(config(pipeline_name=name_of(n))),
     256 - len("-monitoring"), ConfigError, "too long for the monitoring pipeline"),
    ("tagged monitoring pipeline name",
     lambda n: monitoring_pipeline.pipeline_name(config(pipeline_name=name_of(n), tags=(("team", "ml"),))),
     256 - ARN_HEAD - len("-monitoring"), ConfigError, "AddTags and ListTags"),
    ("model package group", lambda n: config(model_package_group="g" * n), 63, ConfigError, "more than 63"),
    ("project name", lambda n: project(name="n" * n), 32, ConfigError, "bad SageMaker project name"),
    ("project id", lambda n: project(project_id="i" * n), 20, ConfigError, "bad SageMaker project id"),
    ("tag key", lambda n: config(tags=(("k" * n, "v"),)), 128, ConfigError, "bad tag key"),
    ("tag value", lambda n: config(tags=(("k", "v" * n),)), 256, ConfigError, "bad value of tag k"),
    ("tags per resource", lambda n: config(tags=tuple((f"k{i}", "v") for i in range(n))), 50, ConfigError,
     "51 tags"),
    ("tags per resource with a project's two",
     lambda n: project(tags=tuple((f"k{i}", "v") for i in range(n))), 50 - PROJECT_TAGS, ConfigError, "51 tags"),
    ("prefix (s3://bucket/prefix within S3Uri less the room kept)",
     lambda n: config(prefix="x" * n), 1024 - 256 - len(f"s3://{BUCKET}/"), ConfigError, "use a shorter --prefix"),
    ("pipeline description", lambda n: check_limit(limits.PIPELINE_DESCRIPTION, "d" * n, "pipeline description", ""),
     3072, ConfigError, "more than 3072"),
    ("model package group description",
     lambda n: check_limit(limits.MODEL_PACKAGE_GROUP_DESCRIPTION, "d" * n, "description", ""), 1024, ConfigError,
     "more than 1024"),
    ("scheduled parameter value",
     lambda n: monitoring.schedule_request(pipeline_name="p", pipeline_arn="arn", role_arn="r",
                                           parameters=[{"Name": "CaptureDataUrl", "Value": "v" * n}]),
     1024, ScheduleError, "more than 1024"),
    ("schedule expression", lambda n: monitoring.check_schedule_expression(f"rate(1{'0' * (n - 12)} days)"), 256,
     ScheduleError, "bad schedule"),
    ("customer metadata key", lambda n: package({"k" * n: "v"}), 128, RegistryError,
     "the key has 129 characters, not 1-128"),
    ("customer metadata value", lambda n: package({"k": "v" * n}), 256, RegistryError,
     "the value has 257 characters, not 1-256"),
    ("customer metadata entries", lambda n: package({f"k{i}": "v" for i in range(n)}), 50, RegistryError,
     "51 entries, more than 50"),
]


@pytest.mark.parametrize("what, check, longest, error, message", LENGTHS, ids=[row[0] for row in LENGTHS])
def test_each_length_limit_just_within_and_just_over(what, check, longest, error, message):
    check(longest)
    with pytest.raises(error, match=re.escape(message)) as raised:
        check(longest + 1)
    assert_one_line(str(raised.value))


@pytest.mark.parametrize("what, check, shortest, error, message", [
    ("scheduled parameter value",
     lambda n: monitoring.schedule_request(pipeline_name="p", pipeline_arn="arn", role_arn="r",
                                           parameters=[{"Name": "CaptureDataUrl", "Value": "v" * n}]),
     1, ScheduleError, "empty"),
    ("tag key", lambda n: config(tags=(("k" * n, "v"),)), 1, ConfigError, "bad tag key ''"),
    ("pipeline name", lambda n: config(pipeline_name="p" * n), 1, ConfigError, "bad pipeline name ''"),
    ("model package group", lambda n: config(model_package_group="g" * n), 1, ConfigError, "empty"),
    ("customer metadata key", lambda n: package({"k" * n: "v"}), 1, RegistryError, "the key has 0 characters"),
    ("customer metadata value", lambda n: package({"k": "v" * n}), 1, RegistryError, "the value has 0 characters"),
])
def test_each_minimum_just_within_and_just_under(what, check, shortest, error, message):
    check(shortest)
    with pytest.raises(error, match=re.escape(message)):
        check(shortest - 1)


@pytest.mark.parametrize("settings, message", [
    ({"tags": (("team name", "ML: évaluation/2026 +@=_.-"),)}, None),  # letters, spaces, digits, _.:/=+-@
    ({"tags": (("team!", "ml"),)}, "has '!': only letters, spaces, digits and _ . : / = + - @"),
    ({"tags": (("team", "ml#1"),)}, "has '#'"),
    ({"tags": (("aws:team", "ml"),)}, "the prefix aws: is reserved"),
    ({"tags": (("team", "a"), ("team", "b"))}, "tag team given twice"),
    ({"pipeline_name": "churn--eval"}, None),
    ({"pipeline_name": "churn_eval"}, "not of the form"),
    ({"pipeline_name": "-churn"}, "not of the form"),
    ({"model_package_group": "churn.models"}, "not of the form"),
    ({"prefix": "team/churn-1/eval_2"}, None),
    ({"prefix": "team//churn"}, "bad prefix"),
    ({"prefix": "team/churn/"}, "bad prefix"),
    ({"prefix": "team churn"}, "bad prefix"),
])
def test_characters(settings, message):
    if message is None:
        config(**settings)
    else:
        with pytest.raises(ConfigError, match=re.escape(message)):
            config(**settings)


@pytest.mark.parametrize("length", [1, 40, 63, 64, 65, 100, 200, 256])
def test_derived_names_are_valid_for_every_pipeline_name_length(length):
    """Function, schedule and execution display names are shortened with a hash, so they always fit."""
    pipeline = config(pipeline_name="p" * length)
    for name in (pipeline.champion_function_name, pipeline.freeze_function_name):
        assert limits.FUNCTION_NAME.violation(name) is None
    if length <= 256 - len("-monitoring"):
        assert limits.SCHEDULE_NAME.violation(monitoring.schedule_name(monitoring_pipeline.pipeline_name(pipeline))) \
            is None
    assert limits.EXECUTION_DISPLAY_NAME.violation(upsert.execution_display_name(pipeline.pipeline_name, 1.0e9)) is None


def test_a_name_over_a_limit_is_shown_short_in_the_one_line_error():
    with pytest.raises(ConfigError) as raised:
        config(pipeline_name="p" * 300)
    message = str(raised.value)
    assert "(300 characters)" in message and len(message) < 200

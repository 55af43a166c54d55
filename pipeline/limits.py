"""Limits of the AWS requests this project sends, as botocore's service models declare them.

Each limit names its service and shape (``botocore/data/<service>/<version>/service-2.json``), and
``tests/test_limits.py`` reads those models and fails when one no longer says the same, so nothing here is
remembered rather than read. The settings are checked against them when the configuration is built
(``PipelineConfig.validate``, the schedule and ``pipeline.upsert``), before any request is sent.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Charset:
    """A character class written with Unicode categories (``[\\p{L}\\p{N}_.]``), which Python's ``re``
    cannot express: ``categories`` are general-category initials (L letters, M marks, N numbers,
    P punctuation, S symbols, Z separators), ``extra`` the characters allowed besides."""

    categories: str
    extra: str = ""

    def allows(self, char: str) -> bool:
        return unicodedata.category(char)[0] in self.categories or char in self.extra

    def describe(self) -> str:
        names = {"L": "letters", "M": "marks", "N": "digits", "P": "punctuation", "S": "symbols", "Z": "spaces"}
        text = ", ".join(names[c] for c in self.categories)
        return f"{text} and {' '.join(self.extra)}" if self.extra else text


@dataclass(frozen=True)
class Limit:
    """One string shape: its length bounds and either botocore's ``pattern`` (matched in full) or a
    ``charset`` (for patterns made of Unicode categories)."""

    service: str
    shape: str
    max_length: int
    min_length: int = 0
    pattern: str | None = None
    charset: Charset | None = None

    def violation(self, value: str) -> str | None:
        """Why ``value`` is refused (a phrase for an error message), or None."""
        if len(value) < self.min_length:
            return "empty" if self.min_length == 1 else f"shorter than {self.min_length} characters"
        if len(value) > self.max_length:
            return f"{len(value)} characters, more than {self.max_length}"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"not of the form {self.pattern}"
        if self.charset is not None:
            bad = sorted({c for c in value if not self.charset.allows(c)})
            if bad:
                return f"has {''.join(bad)!r}: only {self.charset.describe()} are allowed"
        return None


# SageMaker (service "sagemaker")
_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9])"
PIPELINE_NAME = Limit("sagemaker", "PipelineName", 256, 1, _NAME + "{0,255}")
EXECUTION_DISPLAY_NAME = Limit("sagemaker", "PipelineExecutionName", 82, 1, _NAME + "{0,81}")
PIPELINE_DESCRIPTION = Limit("sagemaker", "PipelineDescription", 3072, 0, ".*")
MODEL_PACKAGE_GROUP_NAME = Limit("sagemaker", "EntityName", 63, 1, _NAME + "{0,62}")
MODEL_PACKAGE_GROUP_DESCRIPTION = Limit("sagemaker", "EntityDescription", 1024, 0, charset=Charset("LMZSNP"))
PROJECT_NAME = Limit("sagemaker", "ProjectEntityName", 32, 1, _NAME + "{0,31}")
PROJECT_ID = Limit("sagemaker", "ProjectId", 20, 1, _NAME + "*")
# AddTags and ListTags take the resource's ARN, and only this long.
TAGGED_ARN = Limit("sagemaker", "ResourceArn", 256, 0, r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:.+")
S3_URI = Limit("sagemaker", "S3Uri", 1024, 0, r"(https|s3)://([^/]+)/?(.*)")
# Tags: the same key and value shapes in SageMaker and Lambda.
TAG_CHARS = Charset("LZN", "_.:/=+-@")
TAG_KEY = Limit("sagemaker", "TagKey", 128, 1, charset=TAG_CHARS)
TAG_VALUE = Limit("sagemaker", "TagValue", 256, 0, charset=TAG_CHARS)
# sagemaker TagList's max; Lambda's quota is the same 50 per function (its model states no maximum).
TAGS_PER_RESOURCE = 50
# AWS reserves this key prefix for its own tags (AWS tagging rules; not in the models).
RESERVED_TAG_PREFIX = "aws:"

# Lambda: FunctionName's 140 characters are for an ARN; its documentation limits a bare name to 64, and its
# pattern's name part is this character class.
FUNCTION_NAME = Limit("lambda", "FunctionName", 64, 1, r"[a-zA-Z0-9-_]+")

# EventBridge Scheduler (service "scheduler")
SCHEDULE_NAME = Limit("scheduler", "Name", 64, 1, r"[0-9a-zA-Z-_.]+")
SCHEDULE_DESCRIPTION = Limit("scheduler", "Description", 512)
SCHEDULE_EXPRESSION = Limit("scheduler", "ScheduleExpression", 256, 1)
SCHEDULE_PARAMETER_VALUE = Limit("scheduler", "SageMakerPipelineParameterValue", 1024, 1)

# EventBridge (service "events"): the retraining rule and its SageMaker pipeline target
RULE_NAME = Limit("events", "RuleName", 64, 1, r"[\.\-_A-Za-z0-9]+")
RULE_DESCRIPTION = Limit("events", "RuleDescription", 512)
RETRAIN_PARAMETER_NAME = Limit("events", "SageMakerPipelineParameterName", 256, 1, r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
RETRAIN_PARAMETER_VALUE = Limit("events", "SageMakerPipelineParameterValue", 1024)

# The longest S3 URI below the artifact prefix that the pipeline writes is about 100 characters
# (<prefix>/models/sha256/<64 hex>/model.tar.gz); SageMaker adds execution ids and file names below it.
# Leaving 256 characters for all of that keeps every derived URI within S3Uri's 1024.
S3_KEY_ROOM = 256


def shown(value: str, width: int = 60) -> str:
    """``repr(value)``, shortened for a one-line error message when it is long."""
    if len(value) <= width:
        return repr(value)
    return f"{value[:width - 20]!r}...({len(value)} characters)"


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}")


def is_bucket_name(name: str) -> bool:
    """S3's general-purpose bucket naming rules: 3-63 lowercase letters, digits, '.' and '-', beginning
    and ending with a letter or digit, no '..', not an IP address, none of the reserved affixes.

    >>> [is_bucket_name(n) for n in ("my-bucket", "my..bucket", "192.168.1.1", "xn--a", "ab", "a.b-c")]
    [True, False, False, False, False, True]
    """
    return (bool(_BUCKET.fullmatch(name)) and ".." not in name and not _IP_ADDRESS.fullmatch(name)
            and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
            and not name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")))

"""Every pipeline parameter, declared once: name, type, default, description, choices and range.

One table a pipeline builds its SDK parameters from (``steps/parameters.py``), checks every
``--param`` against before anything runs (``pipeline/parameters.py``), and, for the gate's rows, the
``GateSettings`` and ``evaluate.py`` flags with (``gate.py``). Parsing and checking a value is one rule
(:meth:`Parameter.parse`), whether the text comes from a command line, from StartPipelineExecution or
from the container arguments SageMaker renders.

This module runs inside the processing container too, so it uses the standard library only.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from .drift import COMPARISON_THRESHOLD as KS_THRESHOLD
from .drift import PSI_THRESHOLD
from .operating_point import DEFAULT_OBJECTIVE, OBJECTIVE_HELP, parse_objective
from .text_files import shown_value
from .windows import parse_time, scheduled_window

TYPES = ("String", "Integer", "Float", "Boolean")
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")
FIRST_MODEL_POLICIES = ("absolute-thresholds-only", "reject")
# What the settings supply: a default that depends on the bucket, prefix, group or instance settings.
FROM_SETTINGS = None


class ParameterError(ValueError):
    """A parameter value that SageMaker, or the step reading it, would refuse; the message says why."""


@dataclass(frozen=True)
class Parameter:
    """One pipeline parameter. ``default`` None: the pipeline's settings give it (``FROM_SETTINGS``).

    ``minimum``/``maximum`` are inclusive; ``pattern`` must match a String's whole value (``expected``
    says what it wants); ``validate``
    raises ValueError for a value the container would refuse (its message is kept); ``field`` names the
    ``GateSettings`` attribute of a gate setting.

    >>> p = Parameter("AucThreshold", "Float", 0.75, "Minimum ROC AUC.", minimum=0, maximum=1)
    >>> p.parse("0.8"), p.cli_flag
    (0.8, '--auc-threshold')
    >>> p.parse("1.5")
    Traceback (most recent call last):
    ...
    processing_scripts.parameters.ParameterError: bad value '1.5' for AucThreshold: expected a number from 0 to 1
    """

    name: str
    type: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    expected: str = ""
    validate: Callable[[str], Any] | None = None
    field: str | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"parameter {self.name}: type {self.type!r} is not one of {', '.join(TYPES)}")
        if self.default is not FROM_SETTINGS:
            self.parse(self.default)

    @property
    def cli_flag(self) -> str:
        """The container script's flag, e.g. ``--auc-threshold`` for AucThreshold."""
        return "--" + re.sub(r"(?<!^)(?=[A-Z])", "-", self.name).lower()

    @property
    def help(self) -> str:
        """The description, with the allowed values (what Studio and ``--help`` show)."""
        text = self.description
        if self.choices:
            text += " One of: " + ", ".join(self.choices) + "."
        elif self.minimum is not None or self.maximum is not None:
            text += f" Allowed: {self._range()}."
        return text

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw`` (text, or a value of the parameter's type), checked; ParameterError."""
        value = self._typed(raw)
        self._check(value, raw)
        return value

    def _typed(self, raw: Any) -> Any:
        if self.type == "Boolean":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in ("true", "false"):
                raise self.error(raw, "expected true or false")
            return text == "true"
        if self.type == "String":
            return str(raw)
        if isinstance(raw, bool):
            raise self.error(raw, "expected a number")
        if self.type == "Integer":
            if isinstance(raw, int):
                return raw
            try:
                return int(str(raw).strip())
            except ValueError:
                raise self.error(raw, "expected an integer") from None
        try:
            value = float(raw if isinstance(raw, (int, float)) else str(raw).strip())
        except ValueError:
            raise self.error(raw, "expected a number") from None
        if not math.isfinite(value):
            raise self.error(raw, "expected a finite number")
        return value

    def _check(self, value: Any, raw: Any) -> None:
        if self.choices and value not in self.choices:
            raise self.error(raw, "expected one of " + ", ".join(self.choices))
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise self.error(raw, f"expected {self.expected}")
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise self.error(raw, f"expected {self._range()}")
        if self.validate is not None:
            try:
                self.validate(value)
            except ValueError as error:
                raise self.error(raw, str(error)) from None

    def _range(self) -> str:
        kind = "an integer" if self.type == "Integer" else "a number"
        low, high = (_shown(bound) for bound in (self.minimum, self.maximum))
        if self.maximum is None:
            return f"{kind} >= {low}" if self.minimum else f"{low} or more"
        return f"{kind} from {low} to {high}"

    def error(self, raw: Any, expected: str) -> ParameterError:
        """``bad value 'x' for Name: expected ...``: the one wording of a refused value."""
        shown = shown_value(raw) if isinstance(raw, str) else repr(raw)  # a 5,000-character value is cut
        return ParameterError(f"bad value {shown} for {self.name}: {expected}")


def _shown(bound: float | None) -> str:
    return "" if bound is None else (str(int(bound)) if float(bound).is_integer() else str(bound))


def by_name(table: tuple[Parameter, ...]) -> dict[str, Parameter]:
    """``{name: Parameter}`` in table order."""
    return {parameter.name: parameter for parameter in table}


_S3_URI = r"s3://[a-z0-9][a-z0-9.\-]*(/.*)?"  # the bucket name itself is S3's to check
_INSTANCE_TYPE = r"ml\.[a-z0-9-]+\.[a-z0-9]+"  # families such as m7i-flex
_GROUP_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"


_S3_EXPECTED = "an s3://bucket/key URI"


def _url(name: str, what: str) -> Parameter:
    return Parameter(name, "String", FROM_SETTINGS, f"S3 URI of {what}", pattern=_S3_URI, expected=_S3_EXPECTED)


def _instance_type(name: str, job: str) -> Parameter:
    return Parameter(name, "String", FROM_SETTINGS, f"Instance type of the {job}.", pattern=_INSTANCE_TYPE,
                     expected="an instance type such as ml.m5.large")


# The gate's rows: GateSettings has one attribute per row (``field``) and evaluate.py one flag.
GATE_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("AucThreshold", "Float", 0.75, "Minimum ROC AUC on the test set.", minimum=0, maximum=1,
              field="auc_threshold"),
    Parameter("F1Threshold", "Float", 0.6, "Minimum F1 at the decision threshold on the test set.",
              minimum=0, maximum=1, field="f1_threshold"),
    Parameter("GateOnLowerBound", "Boolean", True,
              "Apply the AUC/F1 thresholds and regression limits to the lower 95% confidence bound "
              "instead of the point estimate.", field="gate_on_lower_bound"),
    Parameter("MaxAucRegression", "Float", 0.01,
              "Largest AUC drop allowed against the champion (latest Approved version of the group).",
              minimum=0, maximum=1, field="max_auc_regression"),
    Parameter("MaxF1Regression", "Float", 0.01,
              "Largest F1 drop allowed against the champion (latest Approved version of the group).",
              minimum=0, maximum=1, field="max_f1_regression"),
    Parameter("FirstModelPolicy", "String", "absolute-thresholds-only",
              "With no approved champion: absolute-thresholds-only, or reject.", choices=FIRST_MODEL_POLICIES,
              field="first_model_policy"),
    Parameter("MinTestRows", "Integer", 200, "Fewest test rows the gate accepts as evidence.", minimum=0,
              field="min_test_rows"),
    Parameter("MinPositives", "Integer", 30, "Fewest positive test rows the gate accepts as evidence.", minimum=0,
              field="min_positives"),
)

# The evaluation pipeline's parameters, in the order Studio lists them.
EVALUATION_PARAMETERS: tuple[Parameter, ...] = (
    _url("ModelDataUrl", "model.tar.gz (model.joblib + code/inference.py) to evaluate."),
    _url("TestDataUrl", "the held-out test CSV (file or prefix): no header, label in the first column."),
    Parameter("ModelPackageGroupName", "String", FROM_SETTINGS,
              "Model package group the model is registered into when it passes the gate.",
              pattern=_GROUP_NAME, expected="a model package group name: 1-63 letters, digits and hyphens"),
    *GATE_PARAMETERS,
    Parameter("DecisionThreshold", "Float", 0.5,
              "Score at or above which a row is predicted positive (for F1, precision, recall...), "
              "unless ValidationDataUrl chooses it.", minimum=0, maximum=1),
    Parameter("ValidationDataUrl", "String", "",
              "Optional S3 URI of a label-first validation CSV: the decision threshold is chosen on it "
              "(ThresholdObjective), frozen, and the test metrics are gated at it. Empty: DecisionThreshold.",
              pattern=f"({_S3_URI})?", expected="empty or " + _S3_EXPECTED),
    Parameter("ThresholdObjective", "String", DEFAULT_OBJECTIVE,
              "How the threshold is chosen on ValidationDataUrl: " + OBJECTIVE_HELP, validate=parse_objective),
    Parameter("ModelApprovalStatus", "String", "PendingManualApproval",
              "Approval status given to the registered model package.", choices=APPROVAL_STATUSES),
    _instance_type("TransformInstanceType", "batch transform job"),
    Parameter("TransformInstanceCount", "Integer", FROM_SETTINGS, "Number of instances of the batch transform job.",
              minimum=1),
    _instance_type("ProcessingInstanceType", "evaluation and baseline processing jobs"),
)

def _optional_time(text: str) -> None:
    if text.strip():  # empty: not given (a scheduled run)
        parse_time(text, what="the time")


def _optional_fraction(text: str) -> None:
    if text.strip():
        try:
            value = float(text)
        except ValueError:
            raise ValueError("expected empty or a number from 0 to 1") from None
        if not 0 <= value <= 1:  # NaN fails too
            raise ValueError("expected empty or a number from 0 to 1")


def _tiling_hours(hours: int) -> None:
    if hours:  # 0: no window
        scheduled_window(parse_time("2000-01-01"), hours=hours)  # the rule the container applies


def _window_parameters(what: str, *, no_window: str) -> tuple[Parameter, ...]:
    """WindowStart, WindowEnd, WindowHours: which captures a run checks (processing_scripts/windows.py)."""
    bound = "empty or an ISO 8601 time such as 2024-01-07T00:00:00Z"
    return (
        Parameter("WindowStart", "String", "",
                  f"Check {what} with inferenceTime at or after this ISO 8601 time (UTC unless a zone is given). "
                  "Empty (with WindowEnd empty): the scheduled window before the execution's start.",
                  expected=bound, validate=_optional_time),
        Parameter("WindowEnd", "String", "",
                  f"Check {what} with inferenceTime before this ISO 8601 time. Empty (with WindowStart empty): "
                  "the scheduled window.", expected=bound, validate=_optional_time),
        Parameter("WindowHours", "Integer", 24,
                  "Length in hours of the scheduled window, aligned on UTC midnight (a divisor or multiple of 24), "
                  f"used when WindowStart and WindowEnd are empty; {no_window}.", minimum=0,
                  validate=_tiling_hours),
    )


def _group_name(description: str) -> Parameter:
    return Parameter("ModelPackageGroupName", "String", FROM_SETTINGS, description, pattern=_GROUP_NAME,
                     expected="a model package group name: 1-63 letters, digits and hyphens")


# The drift-check pipeline's parameters.
MONITORING_PARAMETERS: tuple[Parameter, ...] = (
    _url("BaselineUrl", "the prefix holding statistics.json and constraints.json (python -m pipeline.monitor "
                        "baseline)."),
    _url("CaptureDataUrl", "the prefix (or object) of the data to check: endpoint Data Capture JSONL or a "
                           "headerless CSV batch."),
    Parameter("PsiThreshold", "Float", PSI_THRESHOLD,
              "Population stability index above which a feature has drifted (replaces constraints.json's "
              "psi_threshold).", minimum=0),
    Parameter("KsThreshold", "Float", KS_THRESHOLD,
              "Model Monitor's drift distance (L-infinity distance of the CDFs or category shares, less the "
              "Kolmogorov-Smirnov critical value with the Robust method) above which a feature has drifted "
              "(replaces constraints.json's comparison_threshold; a feature's own override still applies).",
              minimum=0, maximum=1),
    *_window_parameters("captures", no_window="0 checks every capture (and CSV data, which has no inference time)"),
    _instance_type("ProcessingInstanceType", "drift-check processing job"),
)

# The model-quality pipeline's parameters.
QUALITY_PARAMETERS: tuple[Parameter, ...] = (
    _group_name("Model package group whose latest Approved version (the deployed model) is checked against its "
                "registered model-quality constraints."),
    _url("CaptureDataUrl", "the endpoint's Data Capture prefix (yyyy/mm/dd/hh folders of JSONL)."),
    _url("GroundTruthUrl", "the prefix of the ground-truth JSONL records (groundTruthData + eventMetadata.eventId) "
                           "merged with the captures by event id."),
    *_window_parameters("captured predictions", no_window="0 checks every capture"),
    Parameter("LabelDelayHours", "Integer", 48,
              "A scheduled window ends at least this many hours before the execution's start, so that its "
              "ground truth has arrived.", minimum=0),
    # Empty by default: F1, precision and recall are measured at the threshold the constraints were measured
    # at (the registered evaluation's, perhaps chosen on validation data), not at a fixed 0.5.
    Parameter("ProbabilityThreshold", "String", "",
              "Probability at or above which a captured prediction counts as positive (F1, precision, recall...). "
              "Empty: the registered evaluation's decision threshold, at which its constraints were measured.",
              expected="empty or a number from 0 to 1", validate=_optional_fraction),
    _instance_type("ProcessingInstanceType", "model-quality processing job"),
)

"""The one parameter table: it builds the SDK parameters and GateSettings, and every --param is checked
by it before any step runs, with the same words the container would use."""
from __future__ import annotations

import pytest

from pipeline.local.__main__ import main as local_main
from pipeline.pipelines import SPECS
from processing_scripts import gate
from processing_scripts.parameters import (
    EVALUATION_PARAMETERS,
    FROM_SETTINGS,
    GATE_PARAMETERS,
    MONITORING_PARAMETERS,
    Parameter,
    ParameterError,
    by_name,
)
from tests.conftest import TEST_BUCKET
from tests.helpers import assert_one_line_error, run_main

# (parameter, value, what the refusal says): the list, and one row per kind of rule.
REFUSED = [
    ("FirstModelPolicy", "bogus", "expected one of absolute-thresholds-only, reject"),
    ("ThresholdObjective", "best", "threshold objective 'best' is not one of"),
    ("DecisionThreshold", "1.5", "expected a number from 0 to 1"),
    ("MinTestRows", "-1", "expected 0 or more"),
    ("AucThreshold", "-1", "expected a number from 0 to 1"),
    ("AucThreshold", "nan", "expected a finite number"),
    ("GateOnLowerBound", "1", "expected true or false"),
    ("TransformInstanceCount", "0", "expected an integer >= 1"),
    ("MinPositives", "2.5", "expected an integer"),
    ("ModelApprovalStatus", "approved", "expected one of PendingManualApproval, Approved, Rejected"),
    ("ValidationDataUrl", "validation.csv", "expected empty or an s3://bucket/key URI"),
    ("ProcessingInstanceType", "m5.large", "expected an instance type such as ml.m5.large"),
]


@pytest.mark.parametrize("table", [EVALUATION_PARAMETERS, MONITORING_PARAMETERS])
def test_every_row_is_declared_once_with_a_valid_default(table):
    names = [p.name for p in table]
    assert len(names) == len(set(names))
    for row in table:
        assert row.description and row.help.startswith(row.description)
        if row.default is not FROM_SETTINGS:
            assert row.parse(row.default) == row.default


@pytest.mark.parametrize("key", sorted(SPECS))
def test_the_definition_declares_exactly_the_table(key, test_config):
    spec = SPECS[key]
    declared = spec.definition(test_config)["Parameters"]
    assert [(p["Name"], p["Type"], p["Description"]) for p in declared] == [
        (row.name, row.type, row.help) for row in spec.parameters]
    for p in declared:
        row = by_name(spec.parameters)[p["Name"]]
        row.parse(p["DefaultValue"])  # the settings' defaults obey the table too
        if row.default is not FROM_SETTINGS:
            assert p["DefaultValue"] == row.default


def test_gate_settings_are_the_gate_rows():
    settings = gate.GateSettings()
    assert settings.by_parameter() == {p.name: p.default for p in GATE_PARAMETERS}
    assert [p.field for p in GATE_PARAMETERS] == list(vars(settings))
    with pytest.raises(ParameterError, match="bad value -0.5 for MaxF1Regression"):
        gate.GateSettings(max_f1_regression=-0.5)


@pytest.mark.parametrize("name, value, message", REFUSED)
def test_a_value_is_refused_with_the_same_words_everywhere(name, value, message):
    row = by_name(EVALUATION_PARAMETERS)[name]
    with pytest.raises(ParameterError) as refused:
        row.parse(value)
    assert str(refused.value).startswith(f"bad value {value!r} for {name}: ") and message in str(refused.value)
    if row.field:  # the container reads the gate's rows with the same rule
        with pytest.raises(ParameterError) as in_container:
            gate.parse_settings({name: value})
        assert str(in_container.value) == str(refused.value)


@pytest.mark.parametrize("name, value, message", [r for r in REFUSED if r[0] != "ValidationDataUrl"])  # a flag
def test_a_bad_param_stops_a_local_run_before_any_step(name, value, message, tmp_path, capsys):
    # The inputs do not even exist: the parameter is refused before they are looked at or any step runs.
    work = tmp_path / "work"
    result = run_main(local_main, ["evaluation", "--model-data", str(tmp_path / "missing.tar.gz"),
                                   "--test-data", str(tmp_path / "missing.csv"), "--work-dir", str(work),
                                   "--param", f"{name}={value}"], capsys)
    assert_one_line_error(result, f"bad value {value!r} for {name}", message, code=2)
    assert not work.exists()


def test_a_bad_param_of_the_drift_check_is_refused_before_it_runs(tmp_path, capsys):
    result = run_main(local_main, ["monitoring", "--baseline", str(tmp_path), "--data", str(tmp_path),
                                   "--work-dir", str(tmp_path / "w"), "--param", "KsThreshold=2"], capsys)
    assert_one_line_error(result, "bad value '2' for KsThreshold: expected a number from 0 to 1")


def test_a_url_parameter_wants_an_s3_uri():
    row = Parameter("SomeUrl", "String", "", "S3 URI of something.", pattern=r"(s3://.+)?", expected="an s3:// URI")
    assert row.parse("s3://bucket/key") == "s3://bucket/key"
    with pytest.raises(ParameterError, match="bad value 'bucket/key' for SomeUrl: expected an s3:// URI"):
        row.parse("bucket/key")
    assert TEST_BUCKET  # the suite's bucket is a valid S3 name


@pytest.mark.parametrize("row, shape", [("ProcessingInstanceType", "ProcessingInstanceType"),
                                        ("TransformInstanceType", "TransformInstanceType")])
def test_every_instance_type_sagemaker_accepts_is_accepted(row, shape):
    """botocore's service model lists the values SageMaker takes: the table's pattern refuses none of them."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    allowed = model.shape_for(shape).enum
    assert allowed
    from pipeline.config import INSTANCE_TYPE_RE

    for value in allowed:
        assert by_name(EVALUATION_PARAMETERS)[row].parse(value) == value
        assert INSTANCE_TYPE_RE.match(value), value  # the settings' --transform/processing instance types too


def test_a_long_value_or_name_is_cut_in_the_message():
    from pipeline.parameters import check_overrides
    from processing_scripts.parameters import EVALUATION_PARAMETERS, ParameterError

    for overrides in ({"AucThreshold": "9" * 5000}, {"FirstModelPolicy": "x" * 5000}, {"A" * 5000: "1"}):
        with pytest.raises(ParameterError) as refused:
            check_overrides(EVALUATION_PARAMETERS, overrides)
        assert len(str(refused.value)) < 300, str(refused.value)[:400]

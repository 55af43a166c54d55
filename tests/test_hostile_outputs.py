"""Issue 12, hostile input to the outputs, the parameters and evaluate.py's resources: each refusal is
exit 2 with one short line, before any step runs, with the registry and the previous outputs unchanged
and nothing partial left (tests/hostile.py's assertions); an interrupted write never passes for a whole
output set, and the next run cleans up after it."""
from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import upsert as upsert_cli
from pipeline.local.__main__ import main as local_main
from pipeline.local.execution import StepFailure
from pipeline.local.processing import upload_output_set
from pipeline.local.store import LocalObjectStore
from pipeline.pipelines import SPECS
from processing_scripts import evaluate, outputs, uncertainty
from processing_scripts import monitor as monitor_script
from processing_scripts.text_files import shown_value
from processing_scripts.parameters import (EVALUATION_PARAMETERS, GATE_PARAMETERS, MONITORING_PARAMETERS,
                                           QUALITY_PARAMETERS, Parameter, ParameterError, by_name)
from tests.conftest import TEST_BUCKET, TEST_ROLE_ARN
from tests.helpers import run_main
from tests.hostile import ROOT, assert_refused, leftovers, snapshot, tree

TABLES = {"evaluation": EVALUATION_PARAMETERS, "monitoring": MONITORING_PARAMETERS, "quality": QUALITY_PARAMETERS}

# What each numeric row must allow, stated independently of the table: probabilities and KS distances
# in [0, 1], regressions of a [0, 1] metric in [0, 1], counts >= 0 (a minimum of none) or >= 1 (instances),
# PSI >= 0 (unbounded above).
RANGES = {
    "AucThreshold": (0, 1), "F1Threshold": (0, 1), "DecisionThreshold": (0, 1), "KsThreshold": (0, 1),
    "MaxAucRegression": (0, 1), "MaxF1Regression": (0, 1), "MinTestRows": (0, None), "MinPositives": (0, None),
    "TransformInstanceCount": (1, None), "PsiThreshold": (0, None), "LabelDelayHours": (0, None),
}

# A String row's probes, by what it expects (inside, outside).
STRING_PROBES = {
    "an s3://bucket/key URI": (["s3://bucket/key", "s3://b.c-d/"], ["/tmp/model.tar.gz", "S3://bucket/k", "s3://", ""]),
    "empty or an s3://bucket/key URI": (["", "s3://bucket/validation.csv"], ["validation.csv", "s3:/bucket/v.csv"]),
    "an instance type such as ml.m5.large": (["ml.m5.large", "ml.m7i-flex.large"], ["m5.large", "ml.m5", ""]),
    "a model package group name: 1-63 letters, digits and hyphens":
        (["a", "a" * 63, "churn-p-abc123", "a--b"], ["bad_group!", "a" * 64, "-a", "a-", ""]),
}
OBJECTIVE_PROBES = (["max-f1", "min-precision:0.9", "min-recall:1", "min-recall:5e-324", "min-cost:fp=1,fn=5",
                     "min-cost:fn=0,fp=2.5"],
                    ["best", "min-precision:1.5", "min-recall:0", "min-precision:", "min-cost:fp=1",
                     "min-cost:fp=0,fn=0", "min-cost:fp=-1,fn=1"])
_TIME_PROBES = (["", "2024-01-07", "2024-01-07T00:00:00Z", "2024-01-07T12:00+02:00", "2024-01-07T10:30:00.123456789Z"],
                ["yesterday", "2024-13-01", "2024-01-07T25:00", "07/01/2024"])
# Rows whose own rule (``validate``) is more than a range or a pattern: their probes, by name.
RULE_PROBES = {
    "ThresholdObjective": OBJECTIVE_PROBES,
    "WindowStart": _TIME_PROBES,
    "WindowEnd": _TIME_PROBES,
    # 0: no window; otherwise a divisor or a multiple of 24 (windows tile days).
    "WindowHours": (["0", "1", "6", "24", "48", "168"], ["-1", "5", "7", "25", "1.5", "x"]),
    "ProbabilityThreshold": (["", "0", "0.5", "1", "5e-324"], ["-5e-324", "1.0000000000000002", "nan", "inf", "x"]),
}


def _number(value: float, kind: str) -> str:
    return str(int(value)) if kind == "Integer" else repr(float(value))


def probes(row: Parameter) -> tuple[list[str], list[str]]:
    """Values just inside and just outside what ``row`` allows (KeyError: a row of a new kind)."""
    if row.name in RULE_PROBES:
        return RULE_PROBES[row.name]
    if row.type in ("Float", "Integer"):
        low, high = RANGES[row.name]
        assert (row.minimum, row.maximum) == (low, high), f"{row.name}: range {row.minimum}..{row.maximum}"
        step = (lambda v, d: v + d) if row.type == "Integer" else (lambda v, d: math.nextafter(v, d * math.inf))
        inside, outside = [low, step(low, 1)], [step(low, -1)]
        inside += [high, step(high, -1)] if high is not None else [10 ** 6]
        outside += [step(high, 1)] if high is not None else []
        bad = ["nan", "inf", "x"] if row.type == "Float" else ["1.5", "x"]
        return [_number(v, row.type) for v in inside], [_number(v, row.type) for v in outside] + bad
    if row.type == "Boolean":
        return ["true", "false", "True"], ["1", "yes", ""]
    if row.choices:
        return list(row.choices), [row.choices[0].upper(), row.choices[0] + " ", ""]
    return STRING_PROBES[row.expected]


def _cases(outside: bool) -> list:
    return [pytest.param(key, row.name, value, id=f"{key}-{row.name}={value}")
            for key, table in TABLES.items() for row in table for value in probes(row)[outside]]


@pytest.mark.parametrize("key, name, value", _cases(outside=False))
def test_every_row_takes_values_just_inside_its_range(key, name, value):
    by_name(TABLES[key])[name].parse(value)


@pytest.mark.parametrize("key, name, value", _cases(outside=True))
def test_every_row_refuses_values_just_outside_its_range(key, name, value):
    row = by_name(TABLES[key])[name]
    with pytest.raises(ParameterError) as refused:
        row.parse(value)
    # The words of the table's rule, or of the container's own check (``validate``).
    assert str(refused.value).startswith(f"bad value {shown_value(value)} for {name}: " + ("" if row.validate else "expected "))


def test_the_group_name_is_sagemakers_entity_name():
    """botocore's service model: CreateModelPackageGroup's ModelPackageGroupName is an EntityName."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateModelPackageGroup").input_shape.members["ModelPackageGroupName"]
    row = by_name(EVALUATION_PARAMETERS)["ModelPackageGroupName"]
    assert row.pattern == shape.metadata["pattern"] and shape.metadata["max"] == 63 == len(probes(row)[0][1])


# --- every refused value, through every command that takes it --------------------------------------------


@pytest.fixture(scope="module")
def work(demo, tmp_path_factory) -> Path:
    """A local work dir with a registry holding one version (the demo champion's run)."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("hostile-outputs") / "work"
    with contextlib.redirect_stdout(io.StringIO()):
        assert local_main(["evaluation", "--model-data", str(demo["champion"]), "--test-data", str(demo["test"]),
                           "--work-dir", str(folder)]) == 0
    return folder


def _local_argv(key: str, demo, work: Path, tmp_path: Path) -> list[str]:
    if key == "evaluation":
        return ["evaluation", "--model-data", str(demo["champion"]), "--test-data", str(demo["test"])]
    if key == "quality":
        return ["quality", "--capture", str(demo["test"]), "--ground-truth", str(demo["test"])]
    (tmp_path / "baseline").mkdir()
    return ["monitoring", "--baseline", str(tmp_path / "baseline"), "--data", str(demo["test"])]


@pytest.mark.parametrize("command", ["local", "upsert"])
@pytest.mark.parametrize("key, name, value", _cases(outside=True))
def test_a_refused_value_stops_every_command_before_anything_runs(command, key, name, value, demo, work, tmp_path,
                                                                  capsys):
    flags = {item.parameter: item.flag for item in SPECS[key].local_inputs}
    if command == "local":
        argv = [*_local_argv(key, demo, work, tmp_path), "--work-dir", str(work), "--param", f"{name}={value}"]
        main = local_main
        expected = f"--param {name}: a local run takes it as --{flags[name]}" if name in flags else f"bad value {shown_value(value)} for {name}"
    else:
        argv = [key, "--bucket", TEST_BUCKET, "--region", "us-east-1", "--role-arn", TEST_ROLE_ARN, "--start",
                "--param", f"{name}={value}"]
        main, expected = upsert_cli.main, f"bad value {shown_value(value)} for {name}"
    before = snapshot(work / "registry.db", [work])
    result = run_main(main, argv, capsys)
    assert_refused(result, expected, before=before, after=snapshot(work / "registry.db", [work]), clean=[work])


# --- the container flags of evaluate.py and monitor.py ----------------------------------------------------

# evaluate.py's flags for the rows it reads besides the gate's (whose flags are the rows' cli_flag).
EVALUATE_FLAGS = {"DecisionThreshold": "--threshold", "ThresholdObjective": "--threshold-objective",
                  **{row.name: row.cli_flag for row in GATE_PARAMETERS}}
MONITOR_FLAGS = {"PsiThreshold": "--psi-threshold", "KsThreshold": "--ks-threshold"}


@pytest.fixture
def evaluated(tmp_path) -> tuple[Path, Path]:
    """(predictions file, an output folder holding a previous run's set)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    scores = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("".join(f"{label},{float(score)!r}\n" for label, score in zip(y, scores)))
    out = tmp_path / "out"
    assert evaluate.main(["--predictions", str(predictions), "--output-dir", str(out), "--bootstrap", "0"]) == 0
    return predictions, out


def _container_cases() -> list:
    cases = []
    for name, flag in EVALUATE_FLAGS.items():
        cases += [pytest.param("evaluate", flag, value, id=f"evaluate{flag}={value}")
                  for value in probes(by_name(EVALUATION_PARAMETERS)[name])[1] if value]
    for name, flag in MONITOR_FLAGS.items():
        cases += [pytest.param("monitor", flag, value, id=f"monitor{flag}={value}")
                  for value in probes(by_name(MONITORING_PARAMETERS)[name])[1] if value]
    return cases + [
        pytest.param("evaluate", "--bootstrap", "99999999999", id="evaluate--bootstrap=99999999999"),
        pytest.param("evaluate", "--bootstrap", str(uncertainty.MAX_RESAMPLES + 1), id="evaluate--bootstrap=max+1"),
        pytest.param("evaluate", "--bootstrap", "-1", id="evaluate--bootstrap=-1"),
        pytest.param("evaluate", "--seed", "-1", id="evaluate--seed=-1"),
        # Above 1, completeness could never be met, not even by the baseline's own data.
        *[pytest.param("monitor", "--completeness-ratio", value, id=f"monitor--completeness-ratio={value}")
          for value in ("1.5", "2", "-0.1", "nan", "inf")],
    ]


@pytest.mark.parametrize("script, flag, value", _container_cases())
def test_a_container_flag_out_of_range_is_one_line_and_writes_nothing(script, flag, value, evaluated, capsys):
    predictions, out = evaluated
    if script == "evaluate":
        main, argv = evaluate.main, ["--predictions", str(predictions), "--output-dir", str(out), f"{flag}={value}"]
    else:  # --flag=value: argparse takes "-5e-324" after a flag for another flag
        main, argv = monitor_script.main, ["check", "--baseline-dir", str(out), "--data", str(predictions),
                                           "--output-dir", str(out), f"{flag}={value}"]
    before = snapshot(outputs=[out])
    result = run_main(main, argv, capsys)
    assert_refused(result, flag if flag in ("--bootstrap", "--seed", "--threshold") else value,
                   before=before, after=snapshot(outputs=[out]), clean=[out])
    assert leftovers(out) == []


@pytest.mark.parametrize("flag, value", [(flag, value) for name, flag in EVALUATE_FLAGS.items()
                                         for value in probes(by_name(EVALUATION_PARAMETERS)[name])[0][:2]]
                         + [("--bootstrap", str(uncertainty.MAX_RESAMPLES)), ("--bootstrap", "0")])
def test_a_container_flag_just_inside_its_range_is_taken(flag, value, evaluated, capsys, monkeypatch):
    predictions, out = evaluated
    if flag == "--bootstrap":  # the bound itself is taken; the document builder is not run 100000 times here
        monkeypatch.setattr(evaluate, "_evaluate", lambda args, scratch: evaluate.Evaluation({}, {}))
    result = run_main(evaluate.main, ["--predictions", str(predictions), "--output-dir", str(out), flag, value,
                                      "--bootstrap" if flag != "--bootstrap" else "--seed", "0"], capsys)
    assert result.returncode == 0, result.stderr


_DEFAULT_RNG = np.random.default_rng


class _RecordingRng:
    """A numpy Generator that records how many values each multinomial draw holds."""

    def __init__(self, seed: int) -> None:
        self.rng, self.sizes, self.drawn = _DEFAULT_RNG(seed), [], []

    def multinomial(self, n, pvals, size):
        self.sizes.append(size * len(pvals))
        self.drawn.append(self.rng.multinomial(n, pvals, size=size))
        return self.drawn[-1]


@pytest.mark.parametrize("n_resamples", [300, 1000])
def test_the_bootstrap_draws_in_bounded_chunks_of_one_random_stream(n_resamples, monkeypatch):
    """Whatever the resample count, no draw of cell counts holds more than CHUNK_VALUES values, and the
    chunks are one random stream: the replicates equal one unchunked draw's."""
    from processing_scripts.metrics import ScoreTable

    rng = np.random.default_rng(1)
    table = ScoreTable.from_arrays(rng.integers(0, 2, 5000), rng.random(5000))
    recorders = []
    monkeypatch.setattr(uncertainty.np.random, "default_rng", lambda seed: recorders.append(_RecordingRng(seed))
                        or recorders[-1])
    monkeypatch.setattr(uncertainty, "CHUNK_VALUES", 10 ** 9)
    whole = uncertainty.bootstrap(table, 0.5, n_resamples=n_resamples, seed=3)
    monkeypatch.setattr(uncertainty, "CHUNK_VALUES", 2048 * 60)
    chunked = uncertainty.bootstrap(table, 0.5, n_resamples=n_resamples, seed=3)
    unchunked, recorder = recorders
    assert recorder.sizes[0] == 4 * n_resamples  # the confusion counts: four a resample
    assert len(recorder.sizes) > 2 and max(recorder.sizes[1:]) <= uncertainty.CHUNK_VALUES
    assert np.array_equal(np.concatenate(unchunked.drawn[1:]), np.concatenate(recorder.drawn[1:]))
    # The same resamples; sums of a different batch size may differ in the last bit.
    assert all(np.allclose(whole[name], chunked[name], rtol=0, atol=1e-12, equal_nan=True) for name in whole)


def test_too_many_resamples_are_refused_before_any_draw():
    from processing_scripts.metrics import ScoreTable

    table = ScoreTable.from_arrays(np.array([0, 1]), np.array([0.2, 0.8]))
    with pytest.raises(ValueError, match="expected 0 to 100000"):
        uncertainty.bootstrap(table, 0.5, n_resamples=uncertainty.MAX_RESAMPLES + 1, seed=0)


# --- a failed or interrupted write of the output set ------------------------------------------------------


def test_a_failure_on_one_file_leaves_the_previous_set(evaluated, capsys):
    """report.html cannot be replaced (a folder is in the way): exit 2, and evaluation.json is still the
    previous run's (it used to be replaced before the failure)."""
    predictions, out = evaluated
    (out / "report.html").unlink()
    (out / "report.html").mkdir()
    (out / "report.html" / "keep").write_text("x")
    before = snapshot(outputs=[out])
    result = run_main(evaluate.main, ["--predictions", str(predictions), "--output-dir", str(out),
                                      "--threshold", "0.3", "--bootstrap", "0"], capsys)
    assert_refused(result, "cannot write the outputs to", "Is a directory", before=before,
                   after=snapshot(outputs=[out]), clean=[out])


KILLER = """
import os, signal, sys
from processing_scripts import evaluate, outputs
point, calls, real = sys.argv[1], [], os.replace

def replace(source, target):
    calls.append(target)
    if point.startswith("rename-") and len(calls) == int(point[7:]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(source, target)

def subject(args):
    os.kill(os.getpid(), getattr(signal, point))

os.replace = replace
if point.startswith("SIG"):
    evaluate.evaluated_subject = subject
sys.exit(evaluate.main(sys.argv[2:]))
"""


def _run(point: str, argv: list[str], tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", KILLER, point, *argv], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


# The rename that is killed: 1 marks the staging folder; 2-7 set the 6 previous files aside; 8-13 move
# the new ones in.
@pytest.mark.parametrize("kill_at", [1, 2, 7, 8, 12, 13])
def test_a_kill_while_the_set_is_replaced_never_passes_for_a_whole_set(kill_at, evaluated, tmp_path):
    predictions, out = evaluated
    previous = tree(out)
    (tmp_path / "tmp").mkdir()
    argv = ["--predictions", str(predictions), "--output-dir", str(out), "--threshold", "0.3", "--bootstrap", "0"]
    killed = _run(f"rename-{kill_at}", argv, tmp_path / "tmp")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = LocalObjectStore(tmp_path / "store")
    if kill_at == 1:  # nothing moved yet: the previous set is whole, and it is what a reader gets
        assert tree(out).items() >= previous.items()
        assert upload_output_set(store, out, "s3://bucket-1/evaluation", "evaluation")
    else:
        with pytest.raises(outputs.IncompleteOutputs):
            outputs.check_output_set(out)
        with pytest.raises(StepFailure, match="output 'evaluation': the output set is incomplete"):
            upload_output_set(store, out, "s3://bucket-1/evaluation", "evaluation")
        assert store.list("s3://bucket-1/") == []
    # The next run replaces the whole set and removes the killed run's leftovers.
    expected = tmp_path / "expected"
    assert evaluate.main([*argv[:3], str(expected), *argv[4:]]) == 0
    assert _run("none", argv, tmp_path / "tmp").returncode == 0
    assert tree(out) == tree(expected) and leftovers(out) == [] and outputs.check_output_set(out)


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_scratch_is_removed_at_exit_or_by_the_next_run(stop, evaluated, tmp_path):
    predictions, out = evaluated
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    other = tmp / "evaluate-1-someone-elses"  # a live process's (pid 1): kept
    other.mkdir()
    argv = ["--predictions", str(predictions), "--output-dir", str(out), "--bootstrap", "0"]
    stopped = _run(stop, argv, tmp)
    assert stopped.returncode == (-signal.SIGKILL if stop == "SIGKILL" else 128 + signal.SIGTERM), stopped.stderr
    left = sorted(p.name for p in tmp.glob(f"{evaluate.SCRATCH_PREFIX}*") if p != other)
    assert len(left) == (1 if stop == "SIGKILL" else 0)
    assert _run("none", argv, tmp).returncode == 0
    assert sorted(tmp.glob(f"{evaluate.SCRATCH_PREFIX}*")) == [other]
    shutil.rmtree(other)

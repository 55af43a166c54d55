"""Hostile input to the registry and to the local runner's run, registration and records (issue 12).

Every refused case (one table, ``CASES``) asserts: the exit code, one short line naming the problem and
the fix, the registry as it was, no execution record (nothing ran), no partial files. Then what must
hold whatever happens: a failed gate is not approved without --force, reviews are never cut, the run
summary survives a missing evaluation.json, a registry that cannot be written can still be read, and
kill -9 at any moment leaves a sound registry in which every package has its evaluation and its
execution record, and a retry registers nothing twice.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from pipeline.local.__main__ import main as local_main
from pipeline.registry import LocalRegistry
from pipeline.registry import main as registry_main
from tests.helpers import run_main
from tests.hostile import ROOT, assert_refused, integrity_ok, make_read_only, registry_state, run_cli

GROUP = "churn"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PASSED = {"gate_passed": "true", "gate_checks": "auc_threshold=pass"}
FAILED = {"gate_passed": "false", "gate_checks": "auc_threshold=fail"}
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NOT_UTF8 = os.fsdecode(b"risk \xff\xfe accepted")  # what Python makes of argv bytes that are not UTF-8


def seed(work: Path) -> Path:
    """A registry with a passed (v1) and a failed (v2) version of GROUP."""
    registry = LocalRegistry(work / "registry.db")
    for metadata in (PASSED, FAILED):
        registry.register(GROUP, model_data_url="s3://b/model.tar.gz", image_uri=IMAGE, customer_metadata=metadata)
    return work / "registry.db"


# --- what a case does to the work folder first -------------------------------------------------------------


def corrupt(work: Path, stack) -> None:
    (work / "registry.db").write_bytes(b"this is not an SQLite database" * 100)


def truncate(work: Path, stack) -> None:
    db = work / "registry.db"
    db.write_bytes(db.read_bytes()[:3000])  # the header and part of the first pages


def empty_db(work: Path, stack) -> None:
    (work / "registry.db").write_bytes(b"")


def folder_db(work: Path, stack) -> None:
    (work / "registry.db").unlink()
    (work / "registry.db").mkdir()


def other_region(work: Path, stack) -> None:
    with sqlite3.connect(work / "registry.db") as db:
        db.execute("UPDATE meta SET value = 'eu-west-1' WHERE key = 'region'")


def read_only_db(work: Path, stack) -> None:
    make_read_only(stack, work / "registry.db")


def read_only_registry(work: Path, stack) -> None:
    make_read_only(stack, work / "registry.db", work)


def read_only_work(work: Path, stack) -> None:
    make_read_only(stack, work)


def escaping_symlink(work: Path, stack) -> None:
    """The store's bucket is a symlink to a folder outside the store."""
    outside = work.parent / "outside"
    outside.mkdir()
    (work / "s3").mkdir()
    (work / "s3" / "local-sagemaker").symlink_to(outside)


def nothing(work: Path, stack) -> None:
    pass


# --- the table ------------------------------------------------------------------------------------------------


def review(*argv: str) -> Callable[[Path, dict], list[str]]:
    return lambda work, demo: [*argv, "--work-dir", str(work)]


def run(*argv: str, work_dir: Callable[[Path], Path] = lambda work: work) -> Callable[[Path, dict], list[str]]:
    """pipeline.local evaluation on the demo's better model; ``argv`` may override --test-data."""
    def build(work: Path, demo: dict) -> list[str]:
        test = [] if "--test-data" in argv else ["--test-data", str(demo["test"])]
        return ["evaluation", "--model-data", str(demo["better"]), *test, *argv, "--work-dir", str(work_dir(work))]
    return build


def backslash_file(work: Path, demo: dict) -> list[str]:
    named = work.parent / "a\\b.csv"
    named.write_bytes(Path(demo["test"]).read_bytes())
    return run("--test-data", str(named))(work, demo)


@dataclass(frozen=True)
class Case:
    cli: str  # "registry" or "local"
    argv: Callable[[Path, dict], list[str]]
    fragments: tuple[str, ...]
    prepare: Callable = nothing
    code: int = 2


LONG_REASON, LONG_BY = "r" * 950, "b" * 5000
APPROVE_FAILED = ("approve", "--group", GROUP, "--version", "2")
CASES = {
    # Item 1: the override record always survives: over-long values and blank reasons are refused up front.
    "forced-reason-over-limit": Case("registry", review(*APPROVE_FAILED, "--force", "--reason", LONG_REASON),
                                     ("--reason has 950 characters, more than 400",)),
    "by-over-limit": Case("registry", review(*APPROVE_FAILED, "--force", "--reason", "ok", "--by", LONG_BY),
                          ("--by has 5000 characters, more than 200",)),
    "blank-reason-forced": Case("registry", review(*APPROVE_FAILED, "--force", "--reason", "   "),
                                ("--force needs --reason",)),
    "blank-reason": Case("registry", review("reject", "--group", GROUP, "--version", "1", "--reason", " \t "),
                         ("--reason is blank",)),
    "blank-by": Case("registry", review("reject", "--group", GROUP, "--version", "1", "--by", "  "),
                     ("say who reviews",)),
    # Item 2: numbers, bytes and files that broke the CLI.
    "huge-version": Case("registry", review("approve", "--group", GROUP, "--version", "9" * 23),
                         ("out of range: versions are 1-2147483647",)),
    "huge-version-in-arn": Case("registry", review(
        "describe", "--arn", f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{GROUP}/{'9' * 23}"),
        ("out of range",)),
    "reason-not-utf8": Case("registry", review("reject", "--group", GROUP, "--version", "1", "--reason", NOT_UTF8),
                            ("--reason is not valid UTF-8",)),
    "by-not-utf8": Case("registry", review("reject", "--group", GROUP, "--version", "1", "--by", NOT_UTF8),
                        ("--by is not valid UTF-8",)),
    "control-character": Case("registry", review("reject", "--group", GROUP, "--version", "1", "--reason", "a\x1bb"),
                              ("--reason has a control character",)),
    "corrupt-db-list": Case("registry", review("list"), ("not a usable registry database", "move it aside"),
                            prepare=corrupt),
    "truncated-db-describe": Case("registry", review("describe", "--group", GROUP),
                                  ("not a usable registry database", "move it aside"), prepare=truncate),
    "folder-db-list": Case("registry", review("list"), ("is a folder, not a registry database", "move it aside"),
                           prepare=folder_db),
    "read-only-db-approve": Case("registry", review("approve", "--group", GROUP, "--version", "1"),
                                 ("is read-only", "make it and its folder writable"), prepare=read_only_registry),
    # Item 9: a failed gate is not approved without --force.
    "failed-gate-unforced": Case("registry", review(*APPROVE_FAILED, "--reason", "looks fine"),
                                 ("failed its quality gate", "pass --force")),
    # Items 2-3: a registry the run cannot use is refused before any step.
    "local-corrupt-db": Case("local", run(), ("not a usable registry database", "move it aside"), prepare=corrupt),
    "local-truncated-db": Case("local", run(), ("not a usable registry database",), prepare=truncate),
    "local-folder-db": Case("local", run(), ("is a folder, not a registry database",), prepare=folder_db),
    # An empty file is a new database to SQLite: the champion would be gone and the next model the first.
    "local-empty-db": Case("local", run(), ("is empty (0 bytes)", "restore it from a backup"), prepare=empty_db),
    "empty-db-list": Case("registry", review("list"), ("is empty (0 bytes)",), prepare=empty_db),
    "local-registry-refuses-region": Case("local", run(), ("holds packages of region eu-west-1", "another work dir"),
                                          prepare=other_region),
    "local-read-only-db": Case("local", run(), ("is read-only", "writable"), prepare=read_only_db),
    # Item 4: an unwritable work folder, before any step.
    "local-read-only-work-dir": Case("local", run(), ("cannot write there", "pass a folder you can write"),
                                     prepare=read_only_work),
    "local-work-dir-below-a-file": Case("local", run(work_dir=lambda work: work / "registry.db" / "sub"),
                                        ("cannot write there (Not a directory)",)),
    # Item 5: URIs the store refuses (none ever escapes it).
    "local-dotdot-uri": Case("local", run("--test-data", "s3://local-sagemaker/a/../../../etc/passwd"),
                             ("--test-data:", "would escape the store")),
    "local-double-slash-uri": Case("local", run("--test-data", "s3://local-sagemaker//test.csv"),
                                   ("--test-data:", "empty path segments")),
    "local-bad-bucket": Case("local", run("--test-data", "s3://Bad_Bucket/test.csv"),
                             ("--test-data:", "bad bucket name")),
    "local-backslash-file-name": Case("local", backslash_file, ("--test-data:", "cannot hold a backslash")),
    "local-symlink-escapes-store": Case("local", run(), ("--model-data:", "resolves outside the store"),
                                        prepare=escaping_symlink),
    # Item 7: a retry names an execution that exists.
    "local-retry-unknown": Case("local", run("--retry", "nosuchexec12"), ("--retry", "no such execution")),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_input_is_refused_in_one_line(name, tmp_path, demo, capsys):
    case = CASES[name]
    work = tmp_path / "work"
    work.mkdir()
    db = seed(work)
    with contextlib.ExitStack() as stack:
        case.prepare(work, stack)
        before = (registry_state(db), sorted((work / "executions").glob("*")))
        result = run_main(registry_main if case.cli == "registry" else local_main, case.argv(work, demo), capsys)
        after = (registry_state(db), sorted((work / "executions").glob("*")))
    assert_refused(result, *case.fragments, code=case.code, clean=[tmp_path])
    assert after == before, "the registry changed, or a step ran"
    assert result.stdout == ""
    assert not (tmp_path / "outside").exists() or not any((tmp_path / "outside").iterdir()), "wrote outside the store"


def test_invalid_utf8_argv_bytes_are_one_line(tmp_path):
    """The same refusal from a real command line, whose argv holds the bytes themselves."""
    db = seed(tmp_path)
    before = registry_state(db)
    done = run_cli("pipeline.registry", "reject", "--group", GROUP, "--version", "1", "--reason", NOT_UTF8,
                   "--work-dir", str(tmp_path))
    assert_refused(done, "--reason is not valid UTF-8")
    assert registry_state(db) == before


# --- what must hold -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["r" * 400, "why " * 100])
def test_a_forced_approval_at_the_limits_keeps_its_whole_record(tmp_path, capsys, reason):
    db = seed(tmp_path)
    by = "b" * 200
    result = run_main(registry_main, [*APPROVE_FAILED, "--force", "--reason", reason, "--by", by,
                                      "--work-dir", str(tmp_path)], capsys)
    assert result.returncode == 0, result.stderr
    package = LocalRegistry(db).describe(f"{GROUP}/2")
    assert package["ApprovalDescription"].endswith(f": {reason.strip()} [FORCED: the quality gate did not pass: "
                                                   f"{FAILED['gate_checks']}]")
    assert package["CustomerMetadataProperties"]["review_forced"] == "true"


@pytest.mark.parametrize("frozen", [("registry.db",), (".",), ("registry.db", ".")], ids=["file", "folder", "both"])
@pytest.mark.parametrize("command", [["list"], ["describe", "--group", GROUP], ["baseline", "--group", GROUP]])
def test_a_registry_that_cannot_be_written_can_be_read(tmp_path, capsys, command, frozen):
    seed(tmp_path)
    with contextlib.ExitStack() as stack:
        make_read_only(stack, *(tmp_path / name for name in frozen))
        result = run_main(registry_main, [*command, "--work-dir", str(tmp_path)], capsys)
    if command[0] == "baseline":  # nothing approved: refused, but for that reason, not the file's
        assert_refused(result, "has no Approved version")
    else:
        assert result.returncode == 0 and GROUP in result.stdout, result.stderr


@pytest.mark.parametrize("argv, code", [
    (["list", "--backend", "sagemaker", "--region", "us-east-1"], 1),  # the AWS call fails: what is said
    (["approve", "--backend", "sagemaker", "--region", "us-east-1", "--arn",
      "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/1"], 1),
    (["approve", "--group", GROUP, "--version", "2", "--reason", "x" * 401], 2),
])
def test_credentials_are_never_echoed(tmp_path, argv, code):
    seed(tmp_path)
    done = run_cli("pipeline.registry", *argv, "--work-dir", str(tmp_path), env={
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": SECRET,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"})  # nothing listens there
    line = assert_refused(done, code=code)
    assert SECRET not in done.stdout + line and "AKIAIOSFODNN7EXAMPLE" not in done.stdout + line, line


# --- item 6: the summary when EvaluateModel wrote no evaluation.json -----------------------------------------


def no_evaluation_json(keep_property_file: bool):
    """A prepare_definition that makes EvaluateModel a job that writes nothing (exit 0)."""
    from pipeline.local import __main__ as local_cli
    from pipeline.pipelines.evaluation import EVALUATION_STEP

    real = local_cli.prepare_definition

    def prepare(*args, **kwargs):
        definition = real(*args, **kwargs)
        [step] = [s for s in definition["Steps"] if s["Name"] == EVALUATION_STEP]
        step["Arguments"]["AppSpecification"] = {"ImageUri": step["Arguments"]["AppSpecification"]["ImageUri"],
                                                 "ContainerEntrypoint": ["python3", "-c", "pass"]}
        if not keep_property_file:
            step.pop("PropertyFiles", None)  # the step succeeds; the gate's JsonGet then finds nothing
        return definition
    return prepare


@pytest.mark.parametrize("keep_property_file, failed_step", [(True, "EvaluateModel"), (False, "CheckQualityGate")])
def test_no_evaluation_json_is_a_step_failure_not_a_crash(demo, tmp_path, capsys, monkeypatch, keep_property_file,
                                                          failed_step):
    from pipeline.local import __main__ as local_cli

    monkeypatch.setattr(local_cli, "prepare_definition", no_evaluation_json(keep_property_file))
    result = run_main(local_main, run()(tmp_path, demo), capsys)
    assert result.returncode == 1, result.stderr
    assert f"execution Failed at step {failed_step}" in result.stdout
    assert f"not registered: step {failed_step} failed" in result.stdout
    assert LocalRegistry(tmp_path / "registry.db").list_packages() == []


# --- items 7-8: kill -9, retries, parallel runs -----------------------------------------------------------------


# A run that kills itself (SIGKILL) the instant the registry has committed its package, before the run
# can record it: the window that lost records, hit every time rather than by a polling race.
KILLED_AT_REGISTRATION = """
import os, runpy, signal, sys
from pipeline.registry import LocalRegistry
committed = LocalRegistry.register
def register(self, *args, **kwargs):
    committed(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
LocalRegistry.register = register
sys.argv = ["pipeline.local", *sys.argv[1:]]
runpy.run_module("pipeline.local", run_name="__main__", alter_sys=True)
"""


def start_run(demo: dict, work: Path, *extra: str, killed_at_registration: bool = False) -> subprocess.Popen:
    entry = ["-c", KILLED_AT_REGISTRATION] if killed_at_registration else ["-m", "pipeline.local"]
    return subprocess.Popen([sys.executable, *entry, *run(*extra)(work, demo)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def records(work: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (work / "executions").glob("*/execution.json")}


def packages(work: Path) -> list[dict]:
    db = work / "registry.db"
    return LocalRegistry(db, readonly=True).list_packages() if db.is_file() and registry_state(db) else []


def steps_done(work: Path, count: int) -> Callable[[], bool]:
    return lambda: any(len(r["Steps"]) >= count for r in records(work).values()
                       if r["PipelineExecutionStatus"] == "Executing")


# The moments of the kills: the record just written, mid-transform, evaluating; then the instant the
# package is committed (KILLED_AT_REGISTRATION).
MOMENTS = {
    "started": lambda work, known: len(records(work)) > known,
    "transforming": lambda work, known: steps_done(work, 4)(),
    "evaluating": lambda work, known: steps_done(work, 6)(),
}


def kill_when(process: subprocess.Popen, moment: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not moment():
        assert process.poll() is None, "the run ended before the moment came"
        assert time.monotonic() < deadline, "the moment never came"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_kill_9_at_any_moment_leaves_a_sound_registry_and_a_retry_registers_nothing_twice(demo, tmp_path):
    from pipeline.local.journal import INTERRUPTED

    work = tmp_path / "work"
    for moment in MOMENTS.values():
        known = len(records(work))
        kill_when(start_run(demo, work), lambda: moment(work, known))
    at_registration = start_run(demo, work, killed_at_registration=True)
    assert at_registration.wait(timeout=120) == -signal.SIGKILL
    killed = records(work)
    assert len(killed) == len(MOMENTS) + 1
    [package] = packages(work)
    execution_id = package["MetadataProperties"]["GeneratedBy"].rsplit("/", 1)[-1]
    # Each run marked the one killed before it; the last is still Executing: its record was written first.
    assert sorted(r["PipelineExecutionStatus"] for r in killed.values()) == ["Executing"] + ["Failed"] * 3
    assert killed[execution_id]["PipelineExecutionStatus"] == "Executing"

    retried = subprocess.run([sys.executable, "-m", "pipeline.local", *run("--retry", execution_id)(work, demo)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert retried.returncode == 0, retried.stderr
    assert f"registered: {package['ModelPackageArn']}" in retried.stdout
    assert retried.stdout.count("was interrupted") == 1  # the retried one, marked before it runs again

    db = work / "registry.db"
    assert integrity_ok(db)
    final = packages(work)
    assert [p["ModelPackageArn"] for p in final] == [package["ModelPackageArn"]], "a retry registered a duplicate"
    store = work / "s3"
    for each in final:  # every package has its evaluation and its execution record
        uri = each["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        assert (store / uri[len("s3://"):]).is_file()
        record = records(work)[each["MetadataProperties"]["GeneratedBy"].rsplit("/", 1)[-1]]
        assert record["PipelineExecutionStatus"] == "Succeeded"
        assert record["ModelPackageArn"] == each["ModelPackageArn"]
    others = [r for i, r in records(work).items() if i != execution_id]
    assert [(r["PipelineExecutionStatus"], r["FailureReason"]) for r in others] == [("Failed", INTERRUPTED)] * 3
    # The killed runs' job folders went with the next runs: nothing of theirs is left in the scratch folder.
    assert sorted(p.name for p in (work / "tmp").iterdir()) == []


def test_a_retry_of_a_running_or_succeeded_execution_is_refused(demo, tmp_path, capsys):
    assert run_main(local_main, run()(tmp_path, demo), capsys).returncode == 0
    [execution_id] = records(tmp_path)
    before = registry_state(tmp_path / "registry.db")
    result = run_main(local_main, run("--retry", execution_id)(tmp_path, demo), capsys)
    assert_refused(result, f"--retry {execution_id}: it succeeded")
    assert registry_state(tmp_path / "registry.db") == before


def _run_in_process(work: str, definition: dict, overrides: dict) -> str:
    """One local run (the runner, registry and functions the CLI wires up); returns its stdout lines."""
    from pipeline.local.functions import local_functions
    from pipeline.local.runner import LocalRunner
    from pipeline.local.staging import local_config
    from pipeline.local.store import LocalObjectStore

    config, lines = local_config(), []
    registry = LocalRegistry(Path(work) / "registry.db", region=config.region)
    runner = LocalRunner(Path(work), registry=registry, region=config.region, emit=lines.append,
                         functions=local_functions(config, registry=registry, store=LocalObjectStore(work)))
    result = runner.run(definition, pipeline_name=config.pipeline_name, overrides=overrides)
    return "\n".join([*lines, result.model_package_arn or "not registered"])


@pytest.mark.slow
def test_eight_parallel_local_runs_get_versions_one_to_eight(demo, tmp_path):
    """Eight processes running the pipeline into one work folder at once (the definition is built once:
    building it is the slow part, and the same for each)."""
    import multiprocessing

    from pipeline.local.__main__ import prepare_definition
    from pipeline.local.staging import local_config, stage_input
    from pipeline.local.store import LocalObjectStore
    from pipeline.pipelines import EVALUATION

    config, store = local_config(), LocalObjectStore(tmp_path)
    overrides = {"ModelDataUrl": stage_input(store, config, str(demo["better"]), "model-data"),
                 "TestDataUrl": stage_input(store, config, str(demo["test"]), "test-data")}
    definition = prepare_definition(config, EVALUATION, store=store, overrides=overrides, verbose=False)
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        outputs = pool.starmap(_run_in_process, [(str(tmp_path), definition, overrides)] * 8)
    assert not any("database is locked" in out for out in outputs), outputs
    assert all(out.endswith(tuple(f"/{v}" for v in range(1, 9))) for out in outputs), outputs
    assert sorted(p["ModelPackageVersion"] for p in packages(tmp_path)) == list(range(1, 9))
    assert integrity_ok(tmp_path / "registry.db")


def test_a_package_the_registry_refuses_fails_its_step_in_one_line(demo, tmp_path, capsys, monkeypatch):
    """A refusal only the registry can make (here: one it makes at registration) fails RegisterModel:
    the step's line says why, exit 1, no traceback, nothing registered."""
    from pipeline.registry import RegistryError

    def refuse(self, request):
        raise RegistryError(f"bad model package group name {request.group!r}: refused by the registry")

    monkeypatch.setattr(LocalRegistry, "add_package", refuse)
    result = run_main(local_main, run()(tmp_path, demo), capsys)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    [line] = [ln for ln in result.stdout.splitlines() if ln.lstrip().startswith("RegisterModel")]
    assert "Failed" in line and "refused by the registry" in line
    assert "execution Failed at step RegisterModel" in result.stdout
    assert LocalRegistry(tmp_path / "registry.db").list_packages() == []


def test_a_retry_reruns_the_executions_own_parameters(demo, tmp_path, capsys):
    """SageMaker's RetryPipelineExecution takes no parameters: a retry with other inputs or thresholds
    would register, under a refused execution's id, what its gate refused."""
    weak = ["evaluation", "--model-data", str(demo["weak"]), "--test-data", str(demo["test"]),
            "--work-dir", str(tmp_path)]
    assert run_main(local_main, weak, capsys).returncode == 1  # the gate refuses the weak model
    [execution_id] = records(tmp_path)
    before = registry_state(tmp_path / "registry.db")
    for extra, named in [(["--param", "AucThreshold=0.1"], "AucThreshold was '0.75', not '0.1'"),
                         (["--param", "F1Threshold=0.1"], "F1Threshold was"),
                         (["--model-data", str(demo["better"])], "ModelDataUrl was")]:
        result = run_main(local_main, [*weak, *extra, "--retry", execution_id], capsys)
        assert_refused(result, f"--retry {execution_id}: {named}", "leave it out, or start a new run")
        assert registry_state(tmp_path / "registry.db") == before
    again = run_main(local_main, [*weak, "--param", "AucThreshold=0.750", "--retry", execution_id], capsys)
    assert again.returncode == 1 and registry_state(tmp_path / "registry.db") == before
    assert list(records(tmp_path)) == [execution_id]


def test_a_locked_registry_is_not_called_corrupt():
    """Busy past the timeout is a healthy registry in use: "move it aside" would lose it."""
    from pipeline.registry.local import database_problem

    message = database_problem(Path("w/registry.db"), sqlite3.OperationalError("database is locked"))
    assert "is locked by another process" in message and "move it aside" not in message


def test_ctrl_c_mid_run_is_one_line_and_exit_130(demo, tmp_path):
    """The user's own Ctrl-C: one line (no traceback), exit 130, a record the next run marks interrupted."""
    work = tmp_path / "work"
    process = subprocess.Popen([sys.executable, "-m", "pipeline.local", *run()(work, demo)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))
    deadline = time.monotonic() + 60
    while not steps_done(work, 4)():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith("error: interrupted (Ctrl-C): its record in")
    assert packages(work) == []


LONG = "d" * 300  # one path component over the 255 bytes a Linux file name may have


@pytest.mark.parametrize("module, argv", [
    ("pipeline.local", lambda demo, tmp: ["evaluation", "--model-data", str(demo["better"]), "--test-data",
                                          str(demo["test"]), "--work-dir", str(tmp / LONG)]),
    ("pipeline.local", lambda demo, tmp: ["evaluation", "--model-data", f"/{LONG}", "--test-data", str(demo["test"]),
                                          "--work-dir", str(tmp / "w")]),
    ("pipeline.registry", lambda demo, tmp: ["list", "--work-dir", str(tmp / LONG)]),
    ("pipeline.package", lambda demo, tmp: ["--estimator", str(tmp / "x.joblib"), "--out", str(tmp / LONG / "m.tar.gz")]),
], ids=["local-work-dir", "local-model-data", "registry-list", "package-out"])
def test_a_path_the_system_refuses_is_one_line(demo, tmp_path, module, argv):
    result = run_cli(module, *argv(demo, tmp_path))
    assert_refused(result, "File name too long" if module != "pipeline.package" else "")
    assert packages(tmp_path / "w") == []


def test_a_folder_of_test_parts_is_what_an_s3_prefix_is(demo, tmp_path, capsys):
    rows = demo["test"].read_text().splitlines(keepends=True)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "a.csv").write_text("".join(rows[:100]))
    (parts / "b.csv").write_text("".join(rows[100:]))
    verdicts = []
    for name, test in (("file", demo["test"]), ("folder", parts)):
        result = run_main(local_main, ["evaluation", "--model-data", str(demo["better"]), "--test-data", str(test),
                                       "--work-dir", str(tmp_path / name), "--output", "json"], capsys)
        assert result.returncode == 0, result.stderr
        verdicts.append(json.loads(result.stdout)["Gate"])
    assert verdicts[0] == verdicts[1]


def test_a_bucket_without_a_key_is_not_test_data(demo, tmp_path, capsys):
    result = run_main(local_main, run("--test-data", "s3://local-sagemaker")(tmp_path, demo), capsys)
    assert_refused(result, "--test-data: s3://local-sagemaker names a bucket, not data")
    assert packages(tmp_path) == []

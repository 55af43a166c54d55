"""Hostile model code and model archives (issue 12), one table row per case.

Model code is foreign: its ``sys.exit``, KeyboardInterrupt and prints must fail the step (or stay in the
step's log), never end the command, register nothing or mix with ``--output json``. Archives must not
escape the model folder, expand without bound, or be refused for the ``tar -C dir .`` layout. A
definition build must leave nothing under /tmp/sagemaker.
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from pipeline.local.__main__ import main as local_main
from pipeline.package import main as package_main
from pipeline.registry import LocalRegistry
from processing_scripts import model_archive, scoring
from tests.helpers import run_main
from tests.hostile import ROOT, assert_refused, assert_step_failed, snapshot

# Appended to the demo's inference.py: the originals stay reachable, so an override can call through.
KEEP = "_model_fn, _input_fn, _predict_fn, _output_fn = model_fn, input_fn, predict_fn, output_fn\n"
EXIT0, EXIT3, CTRL_C = "__import__('sys').exit(0)", "__import__('sys').exit(3)", "raise KeyboardInterrupt"
OS_EXIT0, ABORT = "__import__('os')._exit(0)", "__import__('os').abort()"
KILL_SELF_9 = "__import__('os').kill(__import__('os').getpid(), 9)"
KILL_PARENT = "__import__('os').kill(__import__('os').getppid(), 15)"
PRINTS = ("print('model says hi'); print('model warns', file=__import__('sys').stderr); "
          "__import__('os').write(1, b'fd one\\n'); __import__('os').write(2, b'fd two\\n')")


def override(handler: str, body: str) -> str:
    arguments = {"model_fn": "d", "input_fn": "b, c", "predict_fn": "x, m", "output_fn": "p, a"}[handler]
    return f"{KEEP}def {handler}({arguments}):\n    {body}\n    return _{handler}({arguments})\n"


def demo_members(demo) -> dict[str, bytes]:
    with tarfile.open(demo["champion"]) as tar:
        return {member.name: tar.extractfile(member).read() for member in tar.getmembers() if member.isfile()}


def write_archive(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None,
                  dirs: tuple[str, ...] = ()) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def model_with(demo, folder: Path, code_tail: str) -> Path:
    members = demo_members(demo)
    members["code/inference.py"] += b"\n" + code_tail.encode()
    return write_archive(folder / "hostile-model.tar.gz", members)


def run_local(demo, work: Path, model: Path, capfd, *extra: str):
    return run_main(local_main, ["evaluation", "--model-data", str(model), "--test-data", str(demo["test"]),
                                 "--work-dir", str(work), "--output", "json", *extra], capfd)


def transform_scratch(work: Path) -> list[str]:
    return sorted(path.name for path in (work / "tmp").glob("sm-eval-job-*"))


# --- model code that exits, interrupts or prints: the step fails, the command goes on -----------------------

CODE_CASES = [  # (id, appended to inference.py, what the failure reason names)
    ("import-exit-0", f"{EXIT0}\n", ["SystemExit(0) in code/inference.py at import"]),
    ("import-exit-3", f"{EXIT3}\n", ["SystemExit(3) in code/inference.py at import"]),
    ("import-ctrl-c", f"{CTRL_C}\n", ["KeyboardInterrupt() in code/inference.py at import"]),
    ("model_fn-exit-0", override("model_fn", EXIT0), ["SystemExit(0) in model_fn"]),
    ("model_fn-ctrl-c", override("model_fn", CTRL_C), ["KeyboardInterrupt() in model_fn"]),
    ("input_fn-exit-0", override("input_fn", EXIT0), ["answered nothing", "SystemExit(0) in input_fn"]),
    ("predict_fn-exit-3", override("predict_fn", EXIT3), ["records 1-", "SystemExit(3) in predict_fn"]),
    ("predict_fn-ctrl-c", override("predict_fn", CTRL_C), ["KeyboardInterrupt() in predict_fn"]),
    ("output_fn-exit-0", override("output_fn", EXIT0), ["SystemExit(0) in output_fn"]),
    ("prints-then-exits", override("predict_fn", f"{PRINTS}; {EXIT0}"), ["SystemExit(0) in predict_fn"]),
    # Calls that end the process without an exception: refused while model code runs.
    ("import-os-_exit-0", f"{OS_EXIT0}\n", ["called os._exit(0) in code/inference.py at import"]),
    ("from-os-import-_exit", "from os import _exit\n" + override("model_fn", "_exit(0)"), ["os._exit(0) in model_fn"]),
    ("posix-_exit", override("model_fn", "__import__('posix')._exit(0)"), ["called os._exit(0) in model_fn"]),
    ("model_fn-os-_exit-0", override("model_fn", OS_EXIT0), ["called os._exit(0) in model_fn"]),
    ("model_fn-abort", override("model_fn", ABORT), ["called os.abort() in model_fn"]),
    ("input_fn-os-_exit-0", override("input_fn", OS_EXIT0), ["answered nothing", "os._exit(0) in input_fn"]),
    ("predict_fn-os-_exit-0", override("predict_fn", OS_EXIT0), ["records 1-", "os._exit(0) in predict_fn"]),
    ("predict_fn-kill-self-9", override("predict_fn", KILL_SELF_9), ["called os.kill(", ", 9) in predict_fn"]),
    ("predict_fn-kill-group", override("predict_fn", "__import__('os').kill(0, 15)"), ["os.kill(0, 15) in predict_fn"]),
    ("output_fn-raise-signal", override("output_fn", "__import__('signal').raise_signal(9)"),
     ["called signal.raise_signal(9) in output_fn"]),
    ("model_fn-alarm", override("model_fn", "__import__('signal').alarm(1)"), ["signal.alarm(1) in model_fn"]),
]


@pytest.mark.parametrize("tail, fragments", [case[1:] for case in CODE_CASES], ids=[case[0] for case in CODE_CASES])
def test_model_code_that_exits_fails_the_transform_step(demo, tmp_path, capfd, tail, fragments):
    work = tmp_path / "work"
    LocalRegistry(work / "registry.db")
    model = model_with(demo, tmp_path, tail)
    before = snapshot(work / "registry.db")
    result = run_local(demo, work, model, capfd)
    reason = assert_step_failed(result, "Step failure: BatchTransform: ClientError:", *fragments,
                                before=before, after=snapshot(work / "registry.db"), clean=[work])
    assert "model says" not in result.stdout + result.stderr and "fd " not in result.stdout + result.stderr
    [record] = list(work.glob("executions/*/execution.json"))
    assert json.loads(record.read_text())["FailureReason"] == reason
    assert transform_scratch(work) == []
    assert str(tmp_path) not in reason and "sha256" not in reason, reason  # no store or scratch path


def test_model_code_killing_its_parent_fails_the_step(demo, tmp_path):
    """``os.kill(os.getppid(), SIGTERM)`` would end the user's shell or CI job; here the parent is a
    throwaway python, so a guard that failed kills only it (exit -15, not 1)."""
    work = tmp_path / "work"
    LocalRegistry(work / "registry.db")
    before = snapshot(work / "registry.db")
    parent = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"
    model = model_with(demo, tmp_path, override("model_fn", KILL_PARENT))
    result = subprocess.run([sys.executable, "-c", parent, sys.executable, "-m", "pipeline.local", "evaluation",
                             "--model-data", str(model), "--test-data", str(demo["test"]), "--work-dir", str(work),
                             "--output", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert_step_failed(result, "called os.kill(", ", 15) in model_fn", before=before,
                       after=snapshot(work / "registry.db"), clean=[work])


LOAD_CASES = [  # (id, members changed, what the failure reason names)
    ("model-joblib-corrupt", {"model.joblib": b"not a pickle"},
     ["model.tar.gz member code/inference.py: model_fn failed (", ") at line "]),
    ("import-name-error", {"code/inference.py": b"import os\nundefined_name\n"},
     ["model.tar.gz member code/inference.py failed to import (NameError: name 'undefined_name'", ") at line 2"]),
    ("syntax-error", {"code/inference.py": b"def model_fn(d:\n"},
     ["model.tar.gz member code/inference.py failed to import (SyntaxError: ", ") at line 1"]),
    ("model_fn-raises", {"code/inference.py": b"def model_fn(d):\n    raise RuntimeError('x' * 900)\n"},
     ["model.tar.gz member code/inference.py: model_fn failed (RuntimeError: xxx", "...) at line 2"]),
    ("model_fn-opens-missing", {"code/inference.py": b"def model_fn(d):\n    return open(d + '/gone.joblib')\n"},
     ["model_fn failed (FileNotFoundError: ", "'gone.joblib'", ") at line 2"]),
]


@pytest.mark.parametrize("changed, fragments", [case[1:] for case in LOAD_CASES], ids=[case[0] for case in LOAD_CASES])
def test_a_model_that_fails_to_load_is_named_as_the_user_knows_it(demo, tmp_path, capfd, changed, fragments):
    work = tmp_path / "work"
    LocalRegistry(work / "registry.db")
    model = write_archive(tmp_path / "hostile-model.tar.gz", {**demo_members(demo), **changed})
    before = snapshot(work / "registry.db")
    result = run_local(demo, work, model, capfd)
    reason = assert_step_failed(result, "Step failure: BatchTransform: ClientError:", *fragments,
                                before=before, after=snapshot(work / "registry.db"), clean=[work])
    assert len(reason) < 300 and str(tmp_path) not in reason and "sha256" not in reason, reason


def test_model_output_goes_to_the_step_log_not_the_commands_output(demo, tmp_path, capfd):
    work = tmp_path / "work"
    result = run_local(demo, work, model_with(demo, tmp_path, override("predict_fn", PRINTS)), capfd)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # nothing ahead of the JSON record
    assert not {"model says", "model warns", "fd one", "fd two"} & set(result.stderr.splitlines())
    [log] = list(work.glob("executions/*/BatchTransform.log"))
    assert {"model says hi", "model warns", "fd one", "fd two"} <= set(log.read_text().splitlines())


# --- archives: refused at --model-data, one line, nothing written ------------------------------------------

ARCHIVE_CASES = [  # (id, archive built by, MODEL_ARCHIVE_MAX_BYTES, what the message names)
    ("escape-dotdot", lambda m: dict(members={**m, "../escaped.txt": b"x"}), None, ["'../escaped.txt'", "outside"]),
    ("escape-absolute", lambda m: dict(members={**m, "/tmp/escaped.txt": b"x"}), None, ["'/tmp/escaped.txt'", "outside"]),
    ("escape-dot-slash-dotdot", lambda m: dict(members={**m, "./code/../../escaped.txt": b"x"}), None, ["outside"]),
    ("symlink", lambda m: dict(members=m, links={"code/helper.py": "/etc/passwd"}), None, ["link or special file"]),
    ("over-the-cap", lambda m: dict(members=m), "1000", ["its files expand to", "over the 1000 bytes", "MODEL_ARCHIVE_MAX_BYTES"]),
    ("cap-not-a-number", lambda m: dict(members=m), "4G", ["MODEL_ARCHIVE_MAX_BYTES='4G'", "whole number of bytes"]),
    ("cap-zero", lambda m: dict(members=m), "0", ["MODEL_ARCHIVE_MAX_BYTES='0'"]),
]


@pytest.mark.parametrize("build, cap, fragments", [case[1:] for case in ARCHIVE_CASES],
                         ids=[case[0] for case in ARCHIVE_CASES])
def test_a_hostile_archive_is_refused_before_any_step(demo, tmp_path, capfd, monkeypatch, build, cap, fragments):
    if cap is not None:
        monkeypatch.setenv(model_archive.MAX_BYTES_VARIABLE, cap)
    work = tmp_path / "work"
    LocalRegistry(work / "registry.db")
    model = write_archive(tmp_path / "model.tar.gz", **build(demo_members(demo)))
    before = snapshot(work / "registry.db", outputs=[work / "s3"])
    result = run_local(demo, work, model, capfd)
    assert_refused(result, *fragments, code=2, before=before, after=snapshot(work / "registry.db", outputs=[work / "s3"]),
                   clean=[work])
    assert not list(tmp_path.parent.rglob("escaped.txt")) and not Path("/tmp/escaped.txt").exists()
    assert not list(work.glob("executions/*"))


EXTRACT_CASES = [  # (id, MODEL_ARCHIVE_MAX_BYTES, free bytes on the disk, what the error names)
    ("over-the-cap", "1000", None, ["its files expand to", "over the 1000 bytes", "MODEL_ARCHIVE_MAX_BYTES"]),
    ("over-the-free-disk", None, 1000, ["its files expand to", "only 1000 bytes of disk is free", "free some disk space"]),
]


@pytest.mark.parametrize("cap, free, fragments", [case[1:] for case in EXTRACT_CASES],
                         ids=[case[0] for case in EXTRACT_CASES])
def test_extraction_is_refused_before_writing(demo, tmp_path, monkeypatch, cap, free, fragments):
    """The container's champion and validation scoring extract with the same function."""
    if cap is not None:
        monkeypatch.setenv(model_archive.MAX_BYTES_VARIABLE, cap)
    if free is not None:
        usage = model_archive.shutil.disk_usage(tmp_path)
        monkeypatch.setattr(model_archive.shutil, "disk_usage", lambda _: usage._replace(free=free))
    with pytest.raises(model_archive.ModelArchiveError) as refused:
        model_archive.load_serving_handlers(demo["champion"], tmp_path / "champion-model")
    message = str(refused.value)
    assert "\n" not in message and all(fragment in message for fragment in fragments), message
    assert not (tmp_path / "champion-model").exists()


# --- the container's scoring: model code that exits is an error, not the end of evaluate.py ------------------

CONTAINER_CASES = [  # (id, appended to inference.py, the error it gives, its text)
    ("import-exit-0", f"{EXIT0}\n", model_archive.ModelArchiveError, "SystemExit(0) in code/inference.py at import"),
    ("model_fn-ctrl-c", override("model_fn", CTRL_C), model_archive.ModelArchiveError, "KeyboardInterrupt() in model_fn"),
    ("predict_fn-exit-3", override("predict_fn", EXIT3), scoring.ScoringError, "SystemExit(3) in predict_fn"),
    ("output_fn-ctrl-c", override("output_fn", CTRL_C), scoring.ScoringError, "KeyboardInterrupt() in output_fn"),
    ("import-os-_exit-0", f"{OS_EXIT0}\n", model_archive.ModelArchiveError, "os._exit(0) in code/inference.py at import"),
    ("model_fn-kill-self-9", override("model_fn", KILL_SELF_9), model_archive.ModelArchiveError, ", 9) in model_fn"),
    ("predict_fn-os-_exit-0", override("predict_fn", OS_EXIT0), scoring.ScoringError, "os._exit(0) in predict_fn"),
]


@pytest.mark.parametrize("tail, error, text", [case[1:] for case in CONTAINER_CASES],
                         ids=[case[0] for case in CONTAINER_CASES])
def test_container_scoring_turns_an_exit_into_an_error(demo, tmp_path, tail, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        handlers = model_archive.load_serving_handlers(model_with(demo, tmp_path, tail), tmp_path / "model")
        scoring.score_files(handlers, [demo["test"]])


# --- tar -C dir . (members ./model.joblib, ./code/inference.py) is a valid archive everywhere ---------------


def test_an_archive_made_with_tar_c_dir_dot_is_accepted(demo, tmp_path, capfd):
    members = {f"./{name}": data for name, data in demo_members(demo).items()}
    model = write_archive(tmp_path / "dot-model.tar.gz", members, dirs=("./", "./code/"))
    assert {"model.joblib", "code/inference.py"} <= model_archive.archive_members(model)
    handlers = model_archive.load_serving_handlers(model, tmp_path / "champion-model")  # the container's loading
    scores = scoring.score_files(handlers, [demo["test"]]).y_score
    assert len(scores) and np.all((scores >= 0) & (scores <= 1))
    work = tmp_path / "work"
    stale = work / "tmp" / "sm-eval-job-999999999-killed"  # a killed run's scratch (no such pid)
    (stale / "model").mkdir(parents=True)
    foreign = work / "tmp" / "someone-elses"
    foreign.mkdir()
    result = run_local(demo, work, model, capfd)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ModelPackageArn"].endswith("/1")
    assert not stale.exists() and foreign.is_dir() and transform_scratch(work) == []


# --- scratch left by killed runs: only ours, only when no live run holds it ----------------------------------

SCRATCH_CASES = [  # (id, folder name, how it is left, removed)
    ("dead-pid-no-lock", "sm-eval-job-999999999-a", "no lock", True),
    ("lock-not-held", f"sm-eval-job-{os.getpid()}-b", "lock free", True),
    ("lock-held", f"sm-eval-job-{os.getpid()}-c", "lock held", False),
    ("live-pid-no-lock-yet", f"sm-eval-job-{os.getpid()}-d", "no lock", False),
    ("not-our-name", "tmp8f3kq2", "no lock", False),
    ("our-prefix-not-our-pid", "sm-eval-job-notapid", "no lock", False),
]


@pytest.mark.parametrize("name, state, removed", [case[1:] for case in SCRATCH_CASES],
                         ids=[case[0] for case in SCRATCH_CASES])
def test_sweep_removes_only_abandoned_transform_scratch(tmp_path, name, state, removed):
    from pipeline.local.scratch import LOCK, sweep

    folder = tmp_path / name
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "model.joblib").write_bytes(b"x")
    holder = None
    if state != "no lock":
        holder = open(folder / LOCK, "w")
        if state == "lock held":
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            holder.close()
    try:
        sweep(tmp_path)
    finally:
        if holder is not None:
            holder.close()
    assert folder.exists() is not removed


# --- python -m pipeline.package: the estimator's pickle is foreign code too -----------------------------------


class Exits:
    def __init__(self, raised: BaseException) -> None:
        self.raised = raised

    def __setstate__(self, state: dict) -> None:
        raise state["raised"]


class Prints(LogisticRegression):
    def __setstate__(self, state: dict) -> None:
        print("unpickled!")
        os.write(1, b"fd one\n")
        os.write(2, b"fd two\n")
        super().__setstate__(state)


class EndsProcess:
    def __init__(self, call: str) -> None:
        self.call = call

    def __setstate__(self, state: dict) -> None:
        eval(state["call"])


PACKAGE_CASES = [  # (id, the object pickled, what the message names)
    ("pickle-exit-0", Exits(SystemExit(0)), "SystemExit(0) in the estimator file"),
    ("pickle-exit-3", Exits(SystemExit(3)), "SystemExit(3) in the estimator file"),
    ("pickle-ctrl-c", Exits(KeyboardInterrupt()), "KeyboardInterrupt() in the estimator file"),
    ("pickle-os-_exit-0", EndsProcess(OS_EXIT0), "called os._exit(0) in the estimator file"),
    ("pickle-kill-self-9", EndsProcess(KILL_SELF_9), ", 9) in the estimator file"),
]


@pytest.mark.parametrize("pickled, fragment", [case[1:] for case in PACKAGE_CASES], ids=[case[0] for case in PACKAGE_CASES])
def test_a_pickle_that_exits_is_refused_by_package(tmp_path, capfd, pickled, fragment):
    import joblib

    estimator = tmp_path / "estimator.joblib"
    joblib.dump(pickled, estimator)
    out = tmp_path / "out" / "model.tar.gz"
    result = run_main(package_main, ["--estimator", str(estimator), "--out", str(out)], capfd)
    assert_refused(result, str(estimator), fragment, code=2, clean=[tmp_path])
    assert not out.exists() and not result.stdout


def test_what_a_pickle_prints_stays_out_of_package_output(tmp_path, capfd):
    import joblib

    estimator = tmp_path / "estimator.joblib"
    joblib.dump(Prints().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]), estimator)
    out = tmp_path / "model.tar.gz"
    result = run_main(package_main, ["--estimator", str(estimator), "--out", str(out)], capfd)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{out}\n", "")


# --- a definition build: the SDK's ModelBuilder scratch --------------------------------------------------------


def test_a_definition_build_writes_nothing_under_tmp_sagemaker(monkeypatch, tmp_path):
    """The real SDK, with /tmp/sagemaker unwritable: every directory it would create there is refused."""
    import tempfile

    from pipeline.config import PipelineConfig
    from pipeline.pipelines import EVALUATION

    real_makedirs, refused = os.makedirs, []

    def makedirs(name, *args, **kwargs):
        if os.fspath(name).startswith("/tmp/sagemaker"):
            refused.append(os.fspath(name))
            raise PermissionError(13, "Permission denied", os.fspath(name))
        return real_makedirs(name, *args, **kwargs)

    monkeypatch.setattr(os, "makedirs", makedirs)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # anything else the SDK writes would land here
    # A bucket of its own: the build is memoised per configuration, and this one must really run.
    definition = EVALUATION.definition(PipelineConfig(bucket="hostile-sdk-scratch", region="us-east-1"))
    assert "CreateModel" in {step["Name"] for step in definition["Steps"]}
    assert refused == [] and list(tmp_path.iterdir()) == []


# --- Ctrl-C: the model's KeyboardInterrupt fails the step, the user's own still interrupts ---------------------


def _raises_keyboard_interrupt() -> None:
    raise KeyboardInterrupt


def _user_presses_ctrl_c() -> None:
    import time

    # From another process, as a terminal's Ctrl-C comes: model code's own os.kill of itself is refused.
    subprocess.run([sys.executable, "-c", f"import os, signal; os.kill({os.getpid()}, signal.SIGINT)"], check=True)
    time.sleep(5)  # the signal interrupts this at once


INTERRUPT_CASES = [  # (id, the model code, what the caller gets)
    ("raised-by-the-model", _raises_keyboard_interrupt, "ModelCodeError"),
    ("sigint-from-the-user", _user_presses_ctrl_c, "KeyboardInterrupt"),
]


@pytest.mark.parametrize("code, outcome", [case[1:] for case in INTERRUPT_CASES], ids=[case[0] for case in INTERRUPT_CASES])
def test_only_the_models_own_keyboard_interrupt_becomes_a_step_failure(code, outcome):
    import signal
    import threading

    from processing_scripts.model_code import ModelCodeError, guarded, user_interrupt

    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("needs Python's own SIGINT handler in the main thread")
    with pytest.raises((ModelCodeError, KeyboardInterrupt)) as caught:
        guarded(code, "predict_fn")()
    assert type(caught.value).__name__ == outcome and user_interrupt(caught.value) is (outcome == "KeyboardInterrupt")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

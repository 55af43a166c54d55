"""Issue 12, hostile data files: every reader of user data refuses a bad file with one short line naming the
file (and line), the problem and the fix, changes nothing, and gives the verdict the rows deserve however
they are written.

Three tables: the same rows written every way the transform accepts (one verdict, paired with the champion
each time); bad files through every command that reads them (one message per file, whichever command);
bad test data through the local pipeline (the step that reads it first fails the run, nothing registered).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pipeline import monitor as monitor_cli
from pipeline.endpoint import cli as endpoint_cli
from pipeline.local.__main__ import main as local_main
from pipeline.local.store import LocalObjectStore
from pipeline.registry import LocalRegistry
from processing_scripts import champion, evaluate, gate
from processing_scripts import monitor as monitor_script
from tests.helpers import run_main
from tests.hostile import MESSAGE_LIMIT, assert_refused, partial_files, registry_rows, snapshot

LOCAL_BUCKET = "s3://local-sagemaker"
TEN_MB = 10 << 20


# --- one verdict, however the rows are written ------------------------------------------------------------


def _quote_labels(lines):
    return ['"{}",{}'.format(*line.split(",", 1)) for line in lines]


# Each writes the demo's test rows (lines without endings) another way the transform accepts.
SPELLINGS = {
    "quoted labels": lambda lines: "\n".join(_quote_labels(lines)) + "\n",
    "every field quoted": lambda lines: "\n".join(",".join(f'"{v}"' for v in line.split(",")) for line in lines) + "\n",
    "CRLF": lambda lines: "\r\n".join(lines) + "\r\n",
    "no final newline": lambda lines: "\n".join(lines),
    "spaces around numbers": lambda lines: "\n".join(", ".join(f" {v} " for v in line.split(",")) for line in lines) + "\n",
    "blank lines": lambda lines: "\n\n".join(lines) + "\n\n",
    "labels written 1.0": lambda lines: "\n".join(f"{float(line.split(',', 1)[0])},{line.split(',', 1)[1]}"
                                                 for line in lines) + "\n",
    "byte-order mark": lambda lines: "\ufeff" + "\n".join(lines) + "\n",
}


def _run(demo, work, model, test_data):
    code = local_main(["evaluation", "--model-data", str(demo[model]), "--test-data", test_data,
                       "--work-dir", str(work), "--output", "json"])
    return code


def _verdict(work: Path, out: str) -> tuple[str | None, dict]:
    execution = json.loads(out)
    run_id = execution["PipelineExecutionArn"].rsplit("/", 1)[-1]
    [path] = list(work.glob(f"s3/**/executions/{run_id}/evaluation/evaluation.json"))
    return execution.get("FailureReason"), json.loads(path.read_text())["gate"]["champion"]


@pytest.fixture(scope="module")
def champion_work(demo, tmp_path_factory):
    """A work dir whose group has v1 (the 'champion' demo model) Approved, and the verdict on the demo's
    own test.csv for the regressing challenger: (work, failure reason, champion section)."""
    work = tmp_path_factory.mktemp("champion")
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert _run(demo, work, "champion", str(demo["test"])) == 0
    LocalRegistry(work / "registry.db").review("binary-classifier/1", approve=True, by="tester", reason="champion")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert _run(demo, work, "regressing", str(demo["test"])) == 1
    reason, section = _verdict(work, out.getvalue())
    assert section["status"] == "paired" and "auc_regression" in reason
    return work, reason, section


def _same_rows_as(demo, work: Path, spelling: str) -> str:
    """The demo's test rows written as ``spelling``: a local file, or a prefix of parts in the local store."""
    lines = demo["test"].read_text().splitlines()
    if spelling == "a folder of parts":
        store = LocalObjectStore(work)
        for name, part in (("part-0.csv", lines[:100]), ("part-1.csv", lines[100:])):
            store.put_bytes(f"{LOCAL_BUCKET}/hostile/parts/{name}", ("\n".join(part) + "\n").encode())
        return f"{LOCAL_BUCKET}/hostile/parts/"
    path = work / f"test-{spelling.replace(' ', '-')}.csv"
    path.write_bytes(SPELLINGS[spelling](lines).encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("spelling", [*SPELLINGS, "a folder of parts"])
def test_the_same_rows_written_another_way_get_the_same_verdict(demo, champion_work, capsys, spelling):
    """Issue 11's wrong verdict: quoting the labels made the champion's scorer refuse the rows, and the
    gate fell back to recorded metrics from another test set. Every spelling the transform accepts must be
    paired with the champion on the very rows, with the same numbers and the same refusal."""
    work, reason, section = champion_work
    before = snapshot(work / "registry.db")
    assert _run(demo, work, "regressing", _same_rows_as(demo, work, spelling)) == 1
    got_reason, got = _verdict(work, capsys.readouterr().out)
    assert got["status"] == "paired", got["reason"]
    assert got["metrics"] == section["metrics"] and got_reason == reason
    assert snapshot(work / "registry.db") == before


# --- a champion that cannot be scored on the challenger's rows fails the gate closed -------------------------


def _context(tmp_path: Path, demo, *, model: bytes | None = None) -> champion.Context:
    """A staged champion (its model, a recorded evaluation from another test set) for champion_section."""
    folder = tmp_path / "context"
    (folder / "champion").mkdir(parents=True)
    archive = demo["champion"].read_bytes() if model is None else model
    (folder / "champion" / "model.tar.gz").write_bytes(archive)
    recorded = {"threshold": 0.5, "binary_classification_metrics": {"auc": {"value": 0.5}, "f1": {"value": 0.1}}}
    (folder / "champion" / "evaluation.json").write_text(json.dumps(recorded))
    (folder / "context.json").write_text(json.dumps({"champion": {
        "arn": "arn:aws:sagemaker:us-east-1:1:model-package/g/1", "version": 1, "model_staged": True,
        "evaluation_staged": True, "errors": [], "model_sha256": hashlib.sha256(archive).hexdigest()}}))
    return champion.read_context(folder)


@pytest.mark.parametrize("test_rows, cause", [
    (lambda lines: lines[:5] + ["1, ," + lines[5].split(",", 2)[2]] + lines[6:], "line 6: field 2 is blank"),
    (lambda lines: [line.rsplit(",", 1)[0] for line in lines], "the model's handlers failed"),
])
def test_a_champion_that_cannot_score_the_challengers_rows_fails_the_gate_closed(demo, tmp_path, test_rows, cause):
    """Not 'recorded' (the champion's metrics from its own test set): the rows the challenger was scored on
    cannot be paired, whether the test data or the champion's handlers refuse them."""
    lines = demo["test"].read_text().splitlines()
    test = tmp_path / "test.csv"
    test.write_text("\n".join(test_rows(lines)) + "\n")
    y = np.array([int(line.split(",")[0]) for line in lines], dtype=np.int8)
    scores = np.clip(y * 0.6 + 0.2, 0, 1)
    document = {"threshold": 0.5, "binary_classification_metrics": {"auc": {"value": 0.9}, "f1": {"value": 0.8}}}
    section = champion.champion_section(
        _context(tmp_path, demo), document=document, y_true=y, y_score=scores, test_files=[test],
        scratch=tmp_path / "scratch", n_resamples=200, seed=0, shown=lambda path: path.name)
    assert section["status"] == "unavailable" and cause in section["reason"], section["reason"]
    assert section["reason"].startswith("cannot compare: its model cannot score the test data (test.csv")
    checks = gate.champion_checks(section, gate.GateSettings())
    assert checks and not any(check["passed"] for check in checks)


# --- bad files through every command that reads them: one message each ------------------------------------


def _label_first(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _scored(lines: list[str]) -> bytes:
    """The transform's output for label-first lines: 'label,score'."""
    return "".join(f"{line.split(',', 1)[0]},0.25\n" for line in lines).encode()


def _zip(data: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("test.csv", data)
    return buffer.getvalue()


DS_STORE = b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00\x00\x00\x08\x00"
# id -> (the file from the demo's test lines: label-first bytes, label,score bytes) and what every message says.
BAD_FILES = {
    "gzip": (lambda lines: (gzip.compress(_label_first(lines)), gzip.compress(_scored(lines))),
             ("is gzip-compressed, not CSV text; decompress it (gunzip)",)),
    "zip": (lambda lines: (_zip(_label_first(lines)), _zip(_scored(lines))), ("is a zip archive, not CSV text; unzip it",)),
    "binary": (lambda lines: (b"1,2\n" + DS_STORE, b"1,0\n" + DS_STORE),
               ("is not text (binary byte 0x00 at offset 4)", "remove it, or export it as CSV")),
    "not UTF-8": (lambda lines: (_label_first(lines[:3]) + b"1,\xe9t\xe9\n", _scored(lines[:3]) + b"1,0.\xe9\n"),
                  ("is not UTF-8 text (byte 0xe9 at offset", "save it as UTF-8")),
    "whitespace only": (lambda lines: (b"  \n\t\n", b" \n \n"), ("holds only whitespace, no rows",)),
    "True/False labels": (lambda lines: (_label_first(["True," + line.split(",", 1)[1] for line in lines]),
                                         b"True,0.5\nFalse,0.25\n"),
                          ("line 1: label 'True' is not 0 or 1; labels must be binary 0/1: write true/false as 1/0",)),
    "10 MB label": (lambda lines: (_label_first(lines[:2] + ["7" * TEN_MB + "," + lines[0].split(",", 1)[1]]),
                                   _scored(lines[:2]) + b"7" * TEN_MB + b",0.5\n"),
                    ("line 3: label '7777777", "'... is not 0 or 1")),
}
SCORED_ONLY = {  # bad transform output that label-first data cannot have
    "text scores": (b"0,high\n1,low\n", ("line 1: non-numeric field 'high': the score must be a probability in [0, 1]",)),
    "10 MB score": (b"0,0.5\n1,1." + b"5" * TEN_MB + b"\n", ("line 2: score '1.55555", "'... is outside [0, 1]")),
}


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


@pytest.fixture(scope="module")
def baseline(demo, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("baseline") / "baseline"
    assert monitor_cli.main(["baseline", "--data", str(demo["test"]), "--output-dir", str(folder),
                             "--label-column", "first"]) == 0
    return folder


# command -> (how it reads the label-first file, whether its message names the file as given (else relative
# to its --data, as the container names what it downloaded)).
COMMANDS = {
    "python -m pipeline.monitor baseline": (
        lambda data, out, _: (monitor_cli.main, ["baseline", "--data", str(data), "--output-dir", str(out),
                                                 "--label-column", "first"])),
    "python -m pipeline.monitor baseline (features only)": (
        lambda data, out, _: (monitor_cli.main, ["baseline", "--data", str(data), "--output-dir", str(out)])),
    "python -m pipeline.monitor check": (
        lambda data, out, base: (monitor_cli.main, ["check", "--baseline", str(base), "--data", str(data),
                                                    "--output-dir", str(out)])),
    "monitor.py baseline (the BaselineDataQuality container)": (
        lambda data, out, _: (monitor_script.main, ["baseline", "--data", str(data.parent), "--output-dir", str(out),
                                                    "--label-column", "first"])),
    "python -m pipeline.endpoint": (
        lambda data, out, _: (endpoint_cli.main, ["--endpoint-name", "churn-prod", "--test-data", str(data),
                                                  "--output-dir", str(out)])),
}
FEATURES_ONLY = "python -m pipeline.monitor baseline (features only)"
LABEL_ONLY_CASES = {"True/False labels", "10 MB label"}  # with no label column, these are text features


@pytest.mark.parametrize("case, command", [
    (case, command) for case in BAD_FILES for command in COMMANDS
    # Without a label column the first field is a feature: any text is a String value there.
    if not (command == FEATURES_ONLY and case in LABEL_ONLY_CASES)])
def test_a_bad_data_file_is_refused_in_one_line_by_every_reader(demo, baseline, tmp_path, capsys, case, command):
    make, fragments = BAD_FILES[case]
    data = _write(tmp_path / "data", "test.csv", make(demo["test"].read_text().splitlines())[0])
    out = tmp_path / "out"
    main, argv = COMMANDS[command](data, out, baseline)
    before = snapshot(outputs=[out])
    result = run_main(main, argv, capsys)
    assert_refused(result, "test.csv", *fragments, before=before, after=snapshot(outputs=[out]), clean=[tmp_path])
    assert str(tmp_path / "data") not in result.stderr or "container" not in command


@pytest.mark.parametrize("case", [*BAD_FILES, *SCORED_ONLY])
def test_bad_transform_output_gets_the_same_message_from_evaluate(demo, tmp_path, capsys, case):
    """evaluate.py --predictions reads through the same rules and words as the test-data readers."""
    if case in SCORED_ONLY:
        content, fragments = SCORED_ONLY[case]
    else:
        make, fragments = BAD_FILES[case]
        content = make(demo["test"].read_text().splitlines())[1]
    predictions = _write(tmp_path / "predictions", "test.csv.out", content)
    out = tmp_path / "out"
    result = run_main(evaluate.main, ["--predictions", str(predictions.parent), "--output-dir", str(out)], capsys)
    assert_refused(result, "test.csv.out", *fragments, before=snapshot(outputs=[out]),
                   after=snapshot(outputs=[out]), clean=[tmp_path])


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != FEATURES_ONLY])
def test_a_stray_binary_file_in_a_data_folder_is_named_not_skipped(demo, baseline, tmp_path, capsys, command):
    """An S3Prefix input reads every object below it as data: a .DS_Store is refused by name."""
    data = _write(tmp_path / "data", "test.csv", demo["test"].read_bytes())
    _write(tmp_path / "data", ".DS_Store", DS_STORE)
    out = tmp_path / "out"
    main, argv = COMMANDS[command](data.parent / "test.csv", out, baseline)
    argv = [str(data.parent) if arg == str(data) else arg for arg in argv]
    result = run_main(main, argv, capsys)
    assert_refused(result, ".DS_Store is not text (binary byte 0x00 at offset 0)", before=snapshot(outputs=[out]),
                   after=snapshot(outputs=[out]), clean=[tmp_path])


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_cr_line_endings_are_read_by_the_data_quality_readers(demo, tmp_path, capsys, ending):
    """Model Monitor's CSV reader (Spark's) ends lines at \\r too: the monitor and the endpoint evaluator
    read old-Mac files; only the transform refuses them (SplitType=Line splits at \\n, see below)."""
    data = _write(tmp_path, "test.csv", demo["test"].read_text().replace("\n", ending).encode())
    assert monitor_cli.main(["baseline", "--data", str(data), "--output-dir", str(tmp_path / "b"),
                             "--label-column", "first"]) == 0
    statistics = json.loads((tmp_path / "b" / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == len(demo["test"].read_text().splitlines())
    assert monitor_cli.main(["baseline", "--data", str(data), "--output-dir", str(tmp_path / "c")]) == 0
    capsys.readouterr()


# --- bad test data through the local pipeline ---------------------------------------------------------------


def _test_data(demo, work: Path, case: str) -> str:
    lines = demo["test"].read_text().splitlines()
    if case == "a .DS_Store beside the test data":
        store = LocalObjectStore(work)
        store.put_bytes(f"{LOCAL_BUCKET}/hostile/data/test.csv", demo["test"].read_bytes())
        store.put_bytes(f"{LOCAL_BUCKET}/hostile/data/.DS_Store", DS_STORE)
        return f"{LOCAL_BUCKET}/hostile/data/"
    content = {
        "gzip": gzip.compress(demo["test"].read_bytes()),
        "binary": DS_STORE * 20,
        "CR-only line endings": "\r".join(lines).encode() + b"\r",
        "True/False labels": _label_first(["True," + line.split(",", 1)[1] for line in lines]),
        "whitespace only": b"  \n \n",
    }[case]
    return str(_write(work / "user", "test.csv", content))


PIPELINE_CASES = {
    "gzip": ("BatchTransform", "test.csv: record 1: the object is gzip-compressed (binary byte 0x1f), not CSV text: "
                               "decompress it (gunzip)"),
    "binary": ("BatchTransform", "test.csv: record 1: the record is binary (binary byte 0x00), not CSV text"),
    "a .DS_Store beside the test data": ("BatchTransform", ".DS_Store: record 1: the record is binary (binary byte 0x00)"),
    "CR-only line endings": ("BatchTransform", "test.csv: record 1: a line ends with a lone carriage return"),
    "True/False labels": ("BaselineDataQuality", "error: test.csv line 1: label 'True' is not 0 or 1; labels must be "
                                                 "binary 0/1: write true/false as 1/0"),
    "whitespace only": ("BaselineDataQuality", "error: test.csv holds only whitespace, no rows"),
}


@pytest.mark.parametrize("case", PIPELINE_CASES)
def test_bad_test_data_fails_the_local_pipeline_at_the_step_that_reads_it(demo, tmp_path, capsys, case):
    step, message = PIPELINE_CASES[case]
    test_data = _test_data(demo, tmp_path, case)
    assert _run(demo, tmp_path, "better", test_data) == 1
    reason = json.loads(capsys.readouterr().out)["FailureReason"]
    assert reason.startswith(f"Step failure: {step}: ") and message in reason, reason
    shown = reason.split(" (exit code")[0]
    assert len(shown) <= MESSAGE_LIMIT and str(tmp_path / "tmp") not in shown and "/opt/ml" not in shown, shown
    rows = registry_rows(tmp_path / "registry.db")
    assert rows is None or (rows["groups"], rows["packages"]) == ([], [])  # nothing registered
    assert partial_files(tmp_path / "s3") == []


@pytest.mark.parametrize("label_column", ["none", "first"])
def test_a_line_longer_than_pyarrows_block_is_read_not_straddling(demo, tmp_path, capsys, label_column):
    """A 2 MB text value (a String feature to Model Monitor) once gave pyarrow's "straddling object
    straddles two block boundaries"; the piece is now parsed as one block."""
    lines = demo["test"].read_text().splitlines()
    fields = lines[1].split(",")
    lines[1] = ",".join([fields[0], "x" * (2 << 20), *fields[2:]])
    data = _write(tmp_path, "test.csv", _label_first(lines))
    out = tmp_path / "out"
    assert monitor_cli.main(["baseline", "--data", str(data), "--output-dir", str(out),
                             "--label-column", label_column]) == 0, capsys.readouterr().err
    features = json.loads((out / "statistics.json").read_text())["features"]
    assert features[1]["inferred_type"] == "String"  # the label stays the first column either way
    assert len(features) == len(fields)

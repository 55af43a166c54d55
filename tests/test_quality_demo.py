"""python -m pipeline.quality_demo: traffic replayed with late labels and a concept drift, each window checked."""
from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from pipeline import quality_demo as demo
from processing_scripts.capture import read_predictions
from processing_scripts.ground_truth import read_ground_truth

REPO = Path(__file__).resolve().parents[1]
DAYS, REQUESTS, SEED = 4, 1500, 1  # smaller than the demo's default; days 2 and 3 after the event


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("quality-demo")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = demo.main(["--work-dir", str(work), "--days", str(DAYS), "--requests", str(REQUESTS),
                          "--seed", str(SEED)])
    return code, work, out.getvalue()


def window_lines(printed: str) -> dict[str, str]:
    """Printed line per window (the early run's under "early")."""
    found = {}
    for line in printed.splitlines():
        match = re.match(r"  (\d{4}-\d{2}-\d{2})  run (\d{2}-\d{2} \d{2}:\d{2})  matched +(\d+)  ", line)
        if match:
            found["early" if "too early" in line else match.group(1)] = line
    return found


def test_same_quality_days_pass_and_the_changed_days_fail_naming_auc(run):
    code, work, printed = run
    assert code == 0, printed
    lines = window_lines(printed)
    assert set(lines) == {"early", "2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"}
    for day in ("2024-03-01", "2024-03-02"):
        assert lines[day].endswith("  ok"), lines[day]
    for day in ("2024-03-03", "2024-03-04"):
        assert re.search(r"VIOLATIONS: .*\bauc\b", lines[day]), lines[day]
    # The line's AUC is the check's statistics.json, and it dropped after the event.
    aucs = {}
    for out in (work / "checks").iterdir():
        status = json.loads((out / "quality_status.json").read_text())
        statistics = json.loads((out / "statistics.json").read_text())
        if status["verdict"] != "not_enough_data":
            aucs[status["window_start"][:10]] = statistics["binary_classification_metrics"]["auc"]["value"]
            assert f"AUC {aucs[status['window_start'][:10]]:.3f} ± " in lines[status["window_start"][:10]]
            assert status["matched"] == statistics["dataset"]["item_count"] > REQUESTS
    assert max(aucs["2024-03-03"], aucs["2024-03-04"]) < min(aucs["2024-03-01"], aucs["2024-03-02"]) - 0.05


def test_a_day_checked_before_its_labels_arrived_has_not_enough_labelled_data(run):
    _, work, printed = run
    early = window_lines(printed)["early"]
    assert early.startswith("  2024-03-01  run 03-02 01:00") and "not enough labelled data" in early
    matched = int(re.search(r"matched +(\d+)", early).group(1))
    assert 0 < matched < 200  # the few labels that came back within hours, not the day's
    status = json.loads((work / "checks" / "2024-03-01-run-03020100" / "quality_status.json").read_text())
    assert status["verdict"] == "not_enough_data" and status["matched"] == matched


def test_the_history_holds_each_window_once_and_the_last_report_shows_the_trend(run):
    _, work, printed = run
    history = [json.loads(line) for line in (work / "monitoring" / "quality_history.jsonl").read_text().splitlines()]
    # The early run's line for day 0 was replaced by the scheduled run's.
    assert [entry["window_start"][:10] for entry in history] == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    assert [entry["violation_count"] > 0 for entry in history] == [False, False, True, True]
    last = sorted((work / "checks").iterdir())[-1] / "quality_report.html"
    assert f"quality report (with the trend of every window): {last.resolve()}" in printed
    assert "trend-auc" in last.read_text()


def test_the_constraints_are_the_evaluations(run):
    _, work, _ = run
    evaluation = json.loads((work / "evaluation" / "evaluation.json").read_text())
    constraints = json.loads((work / "evaluation" / "constraints.json").read_text())
    section = evaluation["model_quality_constraints"]["metrics"]
    assert {name: rule["threshold"] for name, rule in constraints["binary_classification_constraints"].items()} == {
        name: entry["threshold"] for name, entry in section.items()}
    assert evaluation["dataset"]["item_count"] == demo.TEST_ROWS


def test_captures_are_laid_out_and_read_as_data_capture_writes_them(run):
    _, work, _ = run
    root = work / "datacapture" / demo.ENDPOINT
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jsonl"))
    assert len(files) == DAYS * 24
    for name in files:
        assert re.fullmatch(r"AllTraffic/2024/03/0\d/\d\d/\d\d-\d\d-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                            r"[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl", name), name
        hour = name.split("/")[1:5]
        for record in map(json.loads, (root / name).read_text().splitlines()):
            assert record["eventMetadata"]["inferenceTime"].startswith(f"{hour[0]}-{hour[1]}-{hour[2]}T{hour[3]}:")
    predictions = read_predictions(root)
    sizes = [len(scores) for scores in predictions.scores]
    assert predictions.skipped == [] and max(sizes) > 1 and np.mean(np.array(sizes) == 1) > 0.8
    ids = predictions.event_ids
    assert len(set(ids)) == len(ids) == DAYS * REQUESTS
    assert 0.2 < np.mean([i.startswith("order-") for i in ids]) < 0.4  # callers' inference ids


def test_labels_arrive_late_under_their_arrival_hour_with_gaps_and_duplicates():
    rng = np.random.default_rng(0)

    class Model:  # scores need no model here
        @staticmethod
        def predict_proba(X):
            return np.column_stack([1 - X[:, 4] / 3, X[:, 4] / 3])

    traffic = demo.make_traffic(Model(), 2, 2000, 1, rng)
    by_id = {r.merge_id: r for r in traffic}
    files = demo.label_files(traffic, rng)
    arrived, lines = [], []
    for file in files:
        hour = file.ready - timedelta(hours=1)
        assert file.path.startswith(f"ground-truth/{hour:%Y/%m/%d/%H}/")
        for text in file.lines:
            record = json.loads(text)
            request = by_id[record["eventMetadata"]["eventId"]]
            assert request.time < file.ready
            assert record["groundTruthData"]["data"] == "\n".join(map(str, request.labels))
            arrived.append((file.ready - request.time).total_seconds() / 3600)
            lines.append(text)
    assert np.mean(np.array(arrived) > 24) > 0.9  # most labels a day or more after their request
    assert 0 < np.mean(np.array(arrived) < 7) < 0.06  # a few within hours
    truth_ids = [json.loads(line)["eventMetadata"]["eventId"] for line in lines]
    assert 0.02 < 1 - len(set(truth_ids)) / len(traffic) < 0.06  # some requests never labelled
    assert len(truth_ids) - len(set(truth_ids)) > 0  # some labelled twice


def test_the_event_flips_tenure_for_one_region_and_leaves_the_features_alone():
    before_x, before_y = demo.make_customers(40_000, np.random.default_rng(2))
    after_x, after_y = demo.make_customers(40_000, np.random.default_rng(2), changed=True)
    assert np.array_equal(before_x, after_x)  # the same customers: only the labels' relation changed
    long_standing = before_x[:, 0] > 45
    for region in range(3):
        segment = long_standing & (before_x[:, 4] == region)
        if region == demo.CHANGED_REGION:
            assert after_y[segment].mean() > before_y[segment].mean() + 0.3
        else:
            assert np.array_equal(after_y[segment], before_y[segment])


def test_a_rerun_replaces_the_demos_folders_but_not_foreign_ones(tmp_path):
    for part in demo.WORK_PARTS:
        (tmp_path / "mine" / part).mkdir(parents=True)
        (tmp_path / "mine" / part / "old.jsonl").write_text("{}\n")
    (tmp_path / "mine" / demo.MARKER).write_text("")
    (tmp_path / "mine" / "notes.txt").write_text("kept")
    demo.prepare_work_dir(tmp_path / "mine")
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == [demo.MARKER, "notes.txt"]
    (tmp_path / "theirs" / "datacapture").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="holds datacapture that the demo did not write"):
        demo.prepare_work_dir(tmp_path / "theirs")
    assert (tmp_path / "theirs" / "datacapture").is_dir() and not (tmp_path / "theirs" / demo.MARKER).exists()


def test_a_work_dir_with_foreign_captures_is_refused(tmp_path, capsys):
    (tmp_path / "ground-truth").mkdir()
    assert demo.main(["--work-dir", str(tmp_path)]) == 1
    assert "holds ground-truth that the demo did not write" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [(["--days", "2"], "--days must be at least 3"),
                                           (["--requests", "10"], "--requests must be at least 1000")])
def test_bad_usage_exits_2_before_writing(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--work-dir", str(tmp_path), *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_makefile_target_runs_the_demo_after_installing():
    text = (REPO / "Makefile").read_text()
    assert re.search(r"^monitor-demo: \$\(STAMP\)\n\t\$\(PY\) -m pipeline\.quality_demo$", text, re.M)
    assert re.search(r"^\.PHONY:.*\bmonitor-demo\b", text, re.M)

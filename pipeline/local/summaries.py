"""What a local run tells its user: the outcome of each pipeline, as lines for people and as fields of
the ``--output json`` document (the failure reason is said once)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


def output_folder(runner, result, step: str, output: str) -> Path | None:
    """The local folder of a processing step's output (by output name), or None if the step did not run."""
    properties = result.properties.get(step)
    if not properties:
        return None
    [item] = [o for o in properties["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == output]
    return Path(runner.store.path_for(item["S3Output"]["S3Uri"]))


def _read_json(path: Path) -> dict[str, Any]:
    """A step's JSON output, or {} when the step did not write it (or wrote something else): the
    summary then says what failed, from the execution record, instead of failing itself."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def evaluation_outcome(runner, result) -> tuple[list[str], dict[str, Any]]:
    """The gate's checks, the report, and what was registered (or why not)."""
    from pipeline.pipelines.evaluation import EVALUATION_STEP
    from steps.evaluation import EVALUATION_FILE, EVALUATION_OUTPUT

    lines: list[str] = []
    fields: dict[str, Any] = {}
    gate = None
    folder = output_folder(runner, result, EVALUATION_STEP, EVALUATION_OUTPUT)
    if folder is not None:
        gate = _read_json(folder / EVALUATION_FILE).get("gate")
        if gate:
            failed = [c for c in gate["checks"] if not c["passed"]]
            verdict = "passed" if gate["passed"] else f"FAILED ({len(failed)} of {len(gate['checks'])} checks)"
            lines.append(f"gate: {verdict}")
            lines += [f"  {'ok  ' if c['passed'] else 'FAIL'} {c['name']:<16} {c['reason']}" for c in gate["checks"]]
            fields["Gate"] = {"Passed": gate["passed"], "Summary": gate["summary"],
                              "FailedChecks": [{"Name": c["name"], "Reason": c["reason"]} for c in failed]}
        if (folder / "report.html").exists():
            lines.append(f"report: {folder / 'report.html'}")
            fields["Report"] = str(folder / "report.html")
    if result.model_package_arn:
        lines.append(f"registered: {result.model_package_arn}")
    elif gate and not gate["passed"]:
        lines.append("not registered: the quality gate refused it (the FAIL checks above)")
    else:
        lines.append(f"not registered: {_failed_step(result)}")
    return lines, fields


def _failed_step(result) -> str:
    """Which step failed, its reason being on that step's line above (or the reason, if no step failed)."""
    return (f"step {result.failed_step} failed (the reason above)" if result.failed_step
            else str(result.failure_reason))


def monitoring_outcome(runner, result) -> tuple[list[str], dict[str, Any]]:
    """Drift or not, which features, and the report."""
    from pipeline.pipelines.monitoring import DRIFT_CHECK_STEP
    from steps.drift_check import DRIFT_OUTPUT, REPORT_FILE, STATUS_FILE

    fields: dict[str, Any] = {}
    folder = output_folder(runner, result, DRIFT_CHECK_STEP, DRIFT_OUTPUT)
    if folder is not None:
        fields["DriftStatus"] = _read_json(folder / STATUS_FILE) or None
        fields["DriftReport"] = str(folder / REPORT_FILE)
    if result.status == "Succeeded":
        lines = ["no drift"]
    else:
        status = fields.get("DriftStatus") or {}
        if status.get("drift_detected"):
            lines = [f"drift: {status.get('violation_count')} violation(s) on {status.get('drifted_features')}"]
        else:
            lines = [f"failed: {_failed_step(result)}"]
    if folder is not None:
        lines.append(f"report: {folder / REPORT_FILE}")
    return lines, fields


def quality_outcome(runner, result) -> tuple[list[str], dict[str, Any]]:
    """The verdict, the window and its matched rows, the violated metrics, the report and the history."""
    from pipeline.pipelines.quality import QUALITY_CHECK_STEP
    from steps.quality_check import HISTORY_FILE, HISTORY_OUTPUT, QUALITY_OUTPUT, REPORT_FILE, STATUS_FILE

    fields: dict[str, Any] = {}
    folder = output_folder(runner, result, QUALITY_CHECK_STEP, QUALITY_OUTPUT)
    status: dict[str, Any] = {}
    if folder is not None:
        status = _read_json(folder / STATUS_FILE)
        fields["QualityStatus"] = status or None
        fields["QualityReport"] = str(folder / REPORT_FILE)
    history = output_folder(runner, result, QUALITY_CHECK_STEP, HISTORY_OUTPUT)
    if status:
        window = f"[{status.get('window_start')}, {status.get('window_end')})"
        lines = [f"quality: {status.get('verdict')} on window {window}, {status.get('matched')} matched rows; "
                 f"violated metrics: {status.get('violated_metrics')}"]
    else:
        lines = [f"failed: {_failed_step(result)}"]
    if folder is not None:
        lines.append(f"report: {folder / REPORT_FILE}")
    if history is not None:  # the step's second output: the pipeline's one history object
        path = history / HISTORY_FILE
        fields["QualityHistory"] = str(path)
        lines.append(f"history: {path}")
    return lines, fields


def generic_outcome(runner, result) -> tuple[list[str], dict[str, Any]]:
    """A pipeline without its own summary: its status, and why it failed."""
    return [result.status if result.status == "Succeeded" else f"failed: {_failed_step(result)}"], {}


OUTCOMES: dict[str, Callable] = {"evaluation": evaluation_outcome, "monitoring": monitoring_outcome,
                                 "quality": quality_outcome}
# What exit code 0 means for each pipeline: registered, or no drift.
SUCCEEDED: dict[str, Callable] = {"evaluation": lambda result: result.status == "Succeeded"
                                  and bool(result.model_package_arn)}


def outcome(key: str, runner, result) -> tuple[list[str], dict[str, Any], bool]:
    """(lines, JSON fields, success) for the pipeline named ``key``."""
    lines, fields = OUTCOMES.get(key, generic_outcome)(runner, result)
    lines.append(f"record: {runner.work_dir / 'executions' / result.execution_id / 'execution.json'}")
    succeeded = SUCCEEDED.get(key, lambda r: r.status == "Succeeded")(result)
    return lines, fields, succeeded

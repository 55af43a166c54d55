"""Model-quality check, as a processing-container script: captured predictions merged with late ground
truth, for one time window, against the model-quality constraints registered with the model.

    python quality.py --capture DIR_OR_FILE --ground-truth DIR_OR_FILE --constraints FILE_OR_DIR --output-dir DIR
                      [--start ISO8601] [--end ISO8601] [--run-start ISO8601 --window-hours 24 --label-delay-hours 0]
                      [--probability-threshold P] [--min-labelled-rows 200] [--history FILE_OR_DIR]
                      [--history-out DIR] [--baseline-statistics FILE_OR_DIR] [--max-skipped-share 0.05]
                      [--fail-on-violation]

Captures (capture.read_predictions) are kept when their ``inferenceTime`` lies in the window (an explicit
``[start, end)``, or the last whole window before ``--run-start`` that ended ``--label-delay-hours``
earlier, so its labels have had time to arrive); ground truth (ground_truth.py) is read whole, as labels
arrive after their requests. They are merged by event id (the inference id where the caller gave one).
The matched rows are measured by the evaluation's own engine (evaluation_document.evaluate_scores: the
same metrics and standard deviations as evaluation.json) and checked against ``constraints.json``
(quality_check.py). With fewer than ``--min-labelled-rows`` matched rows, or fewer than MIN_CLASS_ROWS of
either class, the verdict is "not enough labelled data": no metric is guessed.

Outputs (written together, or none): statistics.json (Model Monitor's model-quality layout),
constraint_violations.json, quality_summary.json (window, merge accounting, settings, verdict),
quality_report.html and quality_status.json (primitives a pipeline reads by JSON path); with
``--history-out``, quality_history.jsonl updated with this window (quality_history.py).
Exit 0 when the outputs are written (any verdict; ``--fail-on-violation``: 1 unless the verdict is ok),
2 with one line on stderr and nothing written when input or arguments are unusable.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import metrics, quality_fast, quality_history, uncertainty
from .capture import MAX_SKIPPED_SHARE
from .columns import DataError
from .evaluation_document import evaluate_scores, to_json
from .ground_truth import Joined
from .monitor import Parser  # one one-line argparse for the container scripts
from .monitor import parse as monitor_parse
from .outputs import write_outputs
from .quality_check import check_quality
from .quality_report import render_report
from .text_files import relative_names, shown_value
from .windows import Window, add_window_options, iso, window_from_options

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2
VERDICT_OK, VERDICT_VIOLATIONS, VERDICT_NOT_ENOUGH = "ok", "violations", "not_enough_data"
# Fewer matched rows than this leave the standard deviations undefined (SageMaker's minimum for them):
# a verdict without its uncertainty could not tell a drop from noise.
MIN_LABELLED_ROWS = uncertainty.MIN_ROWS_FOR_STD
MIN_CLASS_ROWS = 10  # of each class: AUC, recall and precision need both, and more than a handful
DEFAULT_THRESHOLD = 0.5
N_BOOTSTRAP, SEED = 1000, 0  # as evaluate.py's defaults: the same engine, the same uncertainty
STATUS_LIST_LIMIT = 20
BINARY_CONSTRAINTS = "binary_classification_constraints"
HISTORY_FILE = quality_history.HISTORY_FILE


@dataclass
class QualityResult:
    """A check's verdict and the files it writes."""

    verdict: str
    violations: list[dict[str, str]]
    summary: dict[str, Any]
    status: dict[str, Any]
    files: dict[str, bytes]


def _json_file(path: str | Path, default_name: str, *, shown: Callable[[Path], str], what: str) -> tuple[dict, str]:
    """(document, its name in messages) of a JSON file, or of ``default_name`` in a folder."""
    path = Path(path)
    if path.is_dir():
        path = path / default_name
    name = shown(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{name} does not exist; pass {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{name} is not JSON ({error}); pass {what}") from None
    if not isinstance(document, dict):
        raise DataError(f"{name} is not a JSON object; pass {what}")
    return document, name


def _history_text(path: str | Path | None, *, shown: Callable[[Path], str]) -> tuple[str, str]:
    """(text, name) of an earlier history; a folder without the file, or a missing file, is an empty history."""
    if path is None:
        return "", HISTORY_FILE
    path = Path(path)
    if path.is_dir():
        path = path / HISTORY_FILE
    try:
        return path.read_text(encoding="utf-8"), shown(path)
    except FileNotFoundError:
        return "", shown(path)
    except UnicodeDecodeError:
        raise DataError(f"{shown(path)} is not UTF-8 text; restore the history file or remove it") from None


def _enough(joined: Joined, min_rows: int) -> str | None:
    """Why the matched rows cannot be judged, or None."""
    n = len(joined.labels)
    positives = int(joined.labels.sum())
    if not joined.accounting["captured_predictions"]:
        return ("not enough labelled data: no captured prediction has an inference time in the window; check the "
                "window, the capture prefix, or that the endpoint had traffic then")
    if n < min_rows:
        return (f"not enough labelled data: {n} captured prediction(s) in the window have a label, fewer than "
                f"{min_rows}; send ground truth for more of them or check a longer window")
    if min(positives, n - positives) < MIN_CLASS_ROWS:
        return (f"not enough labelled data: the {n} labelled predictions hold {positives} positive and {n - positives} "
                f"negative label(s); at least {MIN_CLASS_ROWS} of each are needed")
    return None


def _short(items: Sequence[str]) -> str:
    unique = list(dict.fromkeys(items))
    if not unique:
        return "none"
    return ", ".join(unique[:STATUS_LIST_LIMIT]) + (f" and {len(unique) - STATUS_LIST_LIMIT} more"
                                                    if len(unique) > STATUS_LIST_LIMIT else "")


def quality_status(verdict: str, violations: Sequence[Mapping[str, str]], *, matched: int, window: Window | None,
                   reason: str) -> dict[str, Any]:
    """The small document a pipeline reads by JSON path (primitives only: Std:JsonGet yields them).

    >>> quality_status("violations", [{"metric_name": "auc"}], matched=500, window=None, reason="r")["violated_metrics"]
    'auc'
    """
    return {
        "version": 0,
        "verdict": verdict,
        "violation_count": len(violations),
        "violated_metrics": _short([str(v["metric_name"]) for v in violations]),
        "matched": matched,
        "window_start": iso(window.start) if window and window.start else "-inf",
        "window_end": iso(window.end) if window and window.end else "+inf",
        "reason": reason,
    }


def _reason(verdict: str, violations: Sequence[Mapping[str, str]], enough: str | None, matched: int) -> str:
    if verdict == VERDICT_NOT_ENOUGH:
        return enough or "not enough labelled data"
    if verdict == VERDICT_VIOLATIONS:
        return "; ".join(v["description"] for v in violations[:5]) + (
            f" and {len(violations) - 5} more" if len(violations) > 5 else "")
    return f"every constrained metric of the {matched} labelled predictions meets its constraint"


def check_files(capture: str | Path, ground_truth: str | Path, constraints: str | Path, *,
                window: Window | None = None, threshold: float | None = None,
                min_labelled_rows: int = MIN_LABELLED_ROWS, history: str | Path | None = None,
                baseline_statistics: str | Path | None = None, max_skipped_share: float = MAX_SKIPPED_SHARE,
                n_bootstrap: int = N_BOOTSTRAP,
                shown: Mapping[str, Callable[[Path], str]] | None = None) -> QualityResult:
    """Run the check; returns the verdict and the output files (not yet written). ``shown`` names files in
    messages, by input ("capture", "ground_truth", "constraints", "history", "baseline")."""
    shown = dict(shown or {})
    name = lambda key: shown.get(key, str)  # noqa: E731
    rules, rules_name = _json_file(constraints, "constraints.json", shown=name("constraints"),
                                   what="the model-quality constraints.json registered with the model")
    check_quality({}, rules, where=rules_name)  # a malformed constraints file is refused before any data is read
    other = [k for k in rules if isinstance(k, str) and k.endswith("_constraints") and k != BINARY_CONSTRAINTS]
    if other:  # the matched rows are measured as a binary classifier's: other metrics would "fail" unmeasured
        raise DataError(f"{rules_name} holds {other[0]}: constraints of another problem type; this check measures "
                        "binary classifiers: pass the binary_classification constraints.json the evaluation registered")
    baseline, baseline_name = (None, None)
    if baseline_statistics is not None:
        baseline, baseline_name = _json_file(baseline_statistics, "evaluation.json", shown=name("baseline"),
                                             what="the evaluation.json registered with the model")
    threshold_source = "--probability-threshold"
    if threshold is None:
        registered = baseline.get("threshold") if baseline else None
        if isinstance(registered, (int, float)) and not isinstance(registered, bool) and 0 <= registered <= 1:
            threshold, threshold_source = float(registered), f"the registered evaluation ({baseline_name})"
        else:
            threshold, threshold_source = DEFAULT_THRESHOLD, "default"
    history_text, history_name = _history_text(history, shown=name("history"))
    earlier = quality_history.read(history_text, name=history_name)

    # quality_fast: the same readers and merge (same results, skips and errors), fast on the lines SageMaker writes.
    predictions = quality_fast.read_predictions(capture, window=window, shown=name("capture"),
                                                max_skipped_share=max_skipped_share)
    truth = quality_fast.read_ground_truth(ground_truth, shown=name("ground_truth"), max_skipped_share=max_skipped_share)
    joined = quality_fast.join(predictions.event_ids, predictions.scores, truth)
    accounting = {"capture_records": predictions.record_count, "outside_window": predictions.outside_window,
                  "skipped_captures": len(predictions.skipped), **joined.accounting}

    enough = _enough(joined, min_labelled_rows)
    statistics: dict[str, Any] = {"version": 0.0, "dataset": {"item_count": len(joined.labels)}}
    violations: list[dict[str, str]] = []
    document = None
    if enough is None:
        table = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(joined.labels, joined.scores))
        document = evaluate_scores(table, threshold=threshold, n_bootstrap=n_bootstrap, seed=SEED)
        statistics["binary_classification_metrics"] = document["binary_classification_metrics"]
        violations = check_quality(to_json(statistics), rules, where=rules_name)
        verdict = VERDICT_VIOLATIONS if violations else VERDICT_OK
    else:
        verdict = VERDICT_NOT_ENOUGH
    reason = _reason(verdict, violations, enough, len(joined.labels))
    status = quality_status(verdict, violations, matched=len(joined.labels), window=window, reason=reason)
    entry = quality_history.entry(window_start=status["window_start"], window_end=status["window_end"],
                                  statistics=to_json(statistics), violations=violations, accounting=accounting)
    entry["verdict"] = verdict
    history_bytes = quality_history.updated(history_text, entry, name=history_name)
    trend = quality_history.read(history_bytes.decode("utf-8"))
    summary = {
        "version": 0,
        "verdict": verdict,
        "reason": reason,
        "window": {"start": status["window_start"], "end": status["window_end"]},
        "accounting": accounting,
        "skipped_records": [{"where": w, "reason": r} for w, r in (predictions.skipped + truth.skipped)[:100]],
        "settings": {"probability_threshold": threshold, "threshold_source": threshold_source,
                     "min_labelled_rows": min_labelled_rows, "min_class_rows": MIN_CLASS_ROWS,
                     "max_skipped_share": max_skipped_share, "constraints": rules_name, "bootstrap": n_bootstrap},
        "dataset": {"item_count": len(joined.labels), "positives": int(joined.labels.sum()),
                    "negatives": int(len(joined.labels) - joined.labels.sum())},
        "constraints": rules,
        "violations": violations,
        "history": {"windows": len(trend), "earlier": len(earlier)},
    }
    files = {
        "statistics.json": _dump(to_json(statistics)),
        "constraint_violations.json": _dump({"violations": violations}),
        "quality_summary.json": _dump(to_json(summary)),
        "quality_status.json": _dump(status),
        "quality_report.html": render_report(summary, document, trend=trend, baseline=baseline).encode("utf-8"),
    }
    return QualityResult(verdict, violations, summary, status, {**files, HISTORY_FILE: history_bytes})


def _dump(document: Any) -> bytes:
    return (json.dumps(document, indent=2, allow_nan=False) + "\n").encode("utf-8")


# -------------------------------------------------------------------------------------------------- CLI

def _fraction(flag: str, *, low: float = 0.0, high: float = 1.0):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {shown_value(text, 40)} is not a number") from None
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"{flag} {text[:40]} must be a number from {low:g} to {high:g}")
        return value
    return parse


def _count(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {shown_value(text, 40)} is not a whole number") from None
        if value < 2 * MIN_CLASS_ROWS:
            raise argparse.ArgumentTypeError(f"{flag} {value} is below {2 * MIN_CLASS_ROWS} ({MIN_CLASS_ROWS} of each "
                                             "class are needed anyway)")
        return value
    return parse


def _optional_fraction(flag: str):
    parse = _fraction(flag)
    # A pipeline's empty String parameter: not given (the registered threshold), as for --start/--end.
    return lambda text: None if not text.strip() else parse(text)


def add_quality_options(parser: argparse.ArgumentParser) -> None:
    """Options this script and the user CLI's quality command share (not the inputs' locations)."""
    add_window_options(parser, label_delay=True)
    parser.add_argument("--probability-threshold", type=_optional_fraction("--probability-threshold"),
                        help="a probability at or above this predicts the positive class (default: the registered "
                             f"evaluation's threshold with --baseline-statistics, else {DEFAULT_THRESHOLD})")
    parser.add_argument("--min-labelled-rows", type=_count("--min-labelled-rows"), default=MIN_LABELLED_ROWS,
                        help=f"fewer matched rows: not enough labelled data (default {MIN_LABELLED_ROWS})")
    parser.add_argument("--max-skipped-share", type=_fraction("--max-skipped-share"), default=MAX_SKIPPED_SHARE,
                        help=f"fail when more than this share of records is malformed (default {MAX_SKIPPED_SHARE})")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="quality.py", description="Model-quality check of captured predictions against late labels.")
    parser.add_argument("--capture", default="/opt/ml/processing/input/capture", help="Data Capture file or folder")
    parser.add_argument("--ground-truth", default="/opt/ml/processing/input/ground_truth",
                        help="ground-truth JSON lines file or folder")
    parser.add_argument("--constraints", default="/opt/ml/processing/input/baseline",
                        help="model-quality constraints.json, or its folder")
    parser.add_argument("--output-dir", default="/opt/ml/processing/resultdata", help="where the results go")
    parser.add_argument("--history", help="earlier quality_history.jsonl, or a folder that may hold it")
    parser.add_argument("--history-out", help=f"folder for the updated {HISTORY_FILE}")
    parser.add_argument("--baseline-statistics", help="the registered evaluation.json, or its folder (trend reference)")
    add_quality_options(parser)
    parser.add_argument("--fail-on-violation", action="store_true", help="exit 1 unless the verdict is ok")
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace | int:
    """Parsed arguments, or the exit code when parsing ended the run (monitor.py's rule)."""
    return monitor_parse(argv, build=build_parser)


def run(args: argparse.Namespace, *, shown: Mapping[str, Callable[[Path], str]] | None = None,
        ) -> tuple[int, QualityResult | None]:
    """Run a parsed command and write its outputs; (exit code, result or None)."""
    try:
        window = window_from_options(args)
    except ValueError as error:  # an empty window, or hours that do not tile days
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT, None
    try:
        result = check_files(args.capture, args.ground_truth, args.constraints, window=window,
                             threshold=args.probability_threshold, min_labelled_rows=args.min_labelled_rows,
                             history=args.history, baseline_statistics=args.baseline_statistics,
                             max_skipped_share=args.max_skipped_share, shown=shown)
    except (DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT, None
    files = dict(result.files)
    history = files.pop(HISTORY_FILE)
    for flag, folder in (("--output-dir", args.output_dir), ("--history-out", args.history_out)):
        if folder and Path(folder).exists() and not Path(folder).is_dir():  # before anything is written
            print(f"error: {flag} {folder} is a file; pass a folder", file=sys.stderr)
            return EXIT_BAD_INPUT, None
    try:
        write_outputs(Path(args.output_dir), files)
        if args.history_out:
            write_outputs(Path(args.history_out), {HISTORY_FILE: history})
    except OSError as error:
        print(f"error: cannot write the outputs: {error.strerror or error}; pass writable folders", file=sys.stderr)
        return EXIT_BAD_INPUT, None
    if result.verdict != VERDICT_OK and getattr(args, "fail_on_violation", True):
        return EXIT_VIOLATIONS, result
    return EXIT_OK, result


def describe(result: QualityResult) -> list[str]:
    """The lines a run prints: the verdict, then each violation."""
    status = result.status
    head = f"window [{status['window_start']}, {status['window_end']}): {status['matched']} labelled prediction(s): "
    if result.verdict == VERDICT_VIOLATIONS:
        return [head + f"{len(result.violations)} violation(s)"] + [f"  {v['description']}" for v in result.violations]
    return [head + status["reason"]]


def main(argv: Sequence[str] | None = None) -> int:
    """Container entry point: 0 outputs written, 1 not ok with --fail-on-violation, 2 unusable input."""
    args = parse(argv)
    if isinstance(args, int):
        return args
    # Name files as written below the inputs' S3 URIs, not by the container's download paths.
    shown = {"capture": relative_names(args.capture), "ground_truth": relative_names(args.ground_truth),
             "constraints": relative_names(args.constraints)}
    code, result = run(args, shown=shown)
    if result is not None:
        print("\n".join(describe(result)))
        print(f"outputs in {args.output_dir}")
    return code


if __name__ == "__main__":
    sys.exit(main())

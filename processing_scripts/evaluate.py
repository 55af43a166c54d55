"""Evaluate binary-classifier predictions: evaluation.json (SageMaker model-quality layout), plots, report.

    python evaluate.py --predictions DIR_OR_FILE --output-dir DIR [--threshold 0.5] [--bootstrap 1000]
                       [--seed 0] [--test-data DIR] [--model DIR] [--context DIR]
                       [--threshold-objective max-f1] [gate settings: --auc-threshold X --f1-threshold Y ...]

Input: every file under ``--predictions`` (Batch Transform ``.out`` files, read in path order, hidden
files included), lines ``label,score`` without a header; labels may be written ``1`` or ``1.0``, lines
may end in ``\r\n``, empty lines are skipped. A row is predicted positive when ``score >= --threshold``;
a ratio with a zero denominator is 0.0, as scikit-learn's default ``zero_division`` gives (see metrics.py).

The gate (processing_scripts/gate.py) is decided here when any gate setting or ``--context`` is given:
``--context`` is the folder the champion step staged (context.json, champion/evaluation.json,
champion/model.tar.gz, validation/...). With the champion's model, both models are scored on the same
test rows (``--test-data``, label-first CSV in the transform's input order) and the differences get a
paired confidence interval; with only its evaluation.json, the recorded metrics are compared. With
validation data and the challenger's ``--model``, the decision threshold is chosen on the validation
set (``--threshold-objective``) and frozen before the test metrics are computed.

Exit 0 with the outputs written (whatever the gate says: the pipeline's ConditionStep branches on
``gate.passed``); exit 2 with one line on stderr, and nothing written, when the input or arguments are
unusable.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import champion, gate, metrics, model_archive, operating_point, predictions, report, scoring
from .outputs import write_outputs

MAX_CURVE_POINTS = 1000
CONFIDENCE_LEVEL = 0.95


def _value(intervals: Mapping[str, dict], name: str, value: float, n_rows: int) -> dict:
    """``{"value", "standard_deviation"}``; the SD is NaN below SageMaker's minimum of rows."""
    sd = intervals.get(name, {}).get("standard_deviation", math.nan)
    return {"value": float(value), "standard_deviation": math.nan if n_rows < metrics.MIN_ROWS_FOR_STD else sd}


def build_document(
    y_true,
    y_score,
    *,
    threshold: float = 0.5,
    n_bootstrap: int = 1000,
    seed: int = 0,
    max_curve_points: int = MAX_CURVE_POINTS,
) -> dict[str, Any]:
    """The evaluation document (numbers may be NaN; :func:`to_json` renders them as "NaN").

    >>> doc = build_document([0, 1, 0, 1], [0.2, 0.9, 0.6, 0.4], n_bootstrap=0)
    >>> doc["binary_classification_metrics"]["confusion_matrix"]
    {'0': {'0': 1, '1': 1}, '1': {'0': 1, '1': 1}}
    >>> doc["binary_classification_metrics"]["auc"]
    {'value': 0.75, 'standard_deviation': nan}
    """
    scores = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(y_true, y_score))
    return evaluate_scores(
        scores, threshold=threshold, n_bootstrap=n_bootstrap, seed=seed, max_curve_points=max_curve_points
    )


def evaluate_scores(
    scores: metrics.ScoreTable,
    *,
    threshold: float = 0.5,
    n_bootstrap: int = 1000,
    seed: int = 0,
    max_curve_points: int = MAX_CURVE_POINTS,
) -> dict[str, Any]:
    """:func:`build_document` from already sorted scores (the raw arrays can be freed first)."""
    n_pos, n_neg = scores.n_pos, scores.n_neg
    n = n_pos + n_neg
    tn, fp, fn, tp = metrics.confusion_counts(scores, threshold)
    point = {k: float(v) for k, v in metrics.threshold_metrics(tn, fp, fn, tp).items()}
    auc, auc_se = metrics.delong(scores)  # the same AUC as roc_auc(), with its DeLong standard error
    extra = {
        "log_loss": metrics.log_loss(scores),
        "brier_score": metrics.brier_score(scores),
        "average_precision": metrics.average_precision(scores),
    }
    cells = metrics.score_cells(scores)
    replicates = (
        metrics.bootstrap(scores, threshold, n_resamples=n_bootstrap, seed=seed, cells=cells) if n_bootstrap > 1 else {}
    )
    constant = {k: float(v) for k, v in metrics.best_constant_metrics(n_pos, n_neg).items()}
    intervals = {}
    for name, values in replicates.items():
        sd, lower, upper = metrics.summarize_replicates(values, level=CONFIDENCE_LEVEL)
        intervals[name] = {"lower": lower, "upper": upper, "standard_deviation": sd}

    body: dict[str, Any] = {
        "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
    }
    for name in ("accuracy", "precision", "recall", "f0_5", "f1", "f2"):
        body[name] = _value(intervals, name, point[name], n)
    body["auc"] = _value(intervals, "auc", auc, n)
    for name in ("true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate"):
        body[name] = _value(intervals, name, point[name], n)
    for name in ("accuracy", "precision", "recall", "f0_5", "f1", "f2"):
        key = f"{name}_best_constant_classifier"
        body[key] = _value(intervals, key, constant[name], n)
    roc = metrics.roc_curve_points(scores, max_points=max_curve_points)
    pr = metrics.precision_recall_points(scores, max_points=max_curve_points)
    body["receiver_operating_characteristic_curve"] = {
        "false_positive_rates": _close_roc(roc["false_positive_rates"]),
        "true_positive_rates": _close_roc(roc["true_positive_rates"]),
    }
    body["precision_recall_curve"] = {"precisions": pr["precisions"].tolist(), "recalls": pr["recalls"].tolist()}

    z = 1.959963984540054
    return {
        "version": 0.0,
        "binary_classification_metrics": body,
        "threshold": float(threshold),
        "dataset": {
            "rows": n,
            "positives": n_pos,
            "negatives": n_neg,
            "prevalence": n_pos / n,
        },
        **extra,
        "confidence_intervals": {
            "level": CONFIDENCE_LEVEL,
            "method": (
                f"percentile bootstrap, {n_bootstrap} resamples (seed {seed}); threshold metrics from "
                "multinomial confusion counts (exact); ranking and probability metrics from "
                + ("per-score" if cells.exact else f"{len(cells.table.values)}-bin score histogram")
                + " cell counts"
            ),
            "resamples": n_bootstrap,
            "seed": seed,
            "metrics": intervals,
            "auc_delong": {
                "standard_deviation": auc_se,
                "lower": max(0.0, auc - z * auc_se),
                "upper": min(1.0, auc + z * auc_se),
            },
        },
        "calibration": metrics.calibration_table(scores),
        "operating_points": metrics.operating_points(scores),
    }


def _close_roc(values: np.ndarray) -> list[float]:
    # The curve always ends at (1, 1): the lowest threshold predicts every row positive.
    values = values.tolist()
    return values if values[-1] == 1.0 else values + [1.0]


def to_json(document: Any) -> Any:
    """JSON-safe copy: NaN and infinities become strings (JSON has no literal for them).

    >>> to_json({"a": float("nan"), "b": [np.float64(1.5), np.int64(2)], "_private": 1})
    {'a': 'NaN', 'b': [1.5, 2]}
    """
    if isinstance(document, dict):
        return {k: to_json(v) for k, v in document.items() if not k.startswith("_")}
    if isinstance(document, (list, tuple)):
        return [to_json(v) for v in document]
    if isinstance(document, (float, np.floating)):
        value = float(document)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(document, np.integer):
        return int(document)
    return document


class UsageError(ValueError):
    """Unusable command-line arguments."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and the message on two lines
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="evaluate.py", description="Evaluate binary-classifier predictions.")
    parser.add_argument("--predictions", default="/opt/ml/processing/input/predictions",
                        help="transform output: a file or a folder of label,score files")
    parser.add_argument("--output-dir", default="/opt/ml/processing/evaluation", help="where evaluation.json goes")
    parser.add_argument("--threshold", type=float, default=0.5, help="predict positive when score >= this")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no uncertainty)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed (0 or more)")
    parser.add_argument("--test-data", help="the label-first test CSV(s) the transform read (to score the champion)")
    parser.add_argument("--model", help="the challenger's model.tar.gz, or a folder holding it (to score validation data)")
    parser.add_argument("--context", help="the champion step's staged folder (context.json, champion/, validation/)")
    parser.add_argument("--model-sha256", help="SHA-256 the FreezeModel step gave --model; the archive must match it")
    parser.add_argument("--model-uri", help="where the evaluated model.tar.gz is kept (recorded, not read)")
    parser.add_argument("--model-package-group", help="the group it would be registered in (recorded)")
    parser.add_argument("--execution-id", help="the pipeline execution (recorded)")
    parser.add_argument("--evaluated-at", help="when it was evaluated, e.g. the execution's start (recorded; the "
                                               "outputs stay a function of the inputs, so no clock is read)")
    parser.add_argument("--threshold-objective", default=operating_point.DEFAULT_OBJECTIVE,
                        help="with validation data: " + operating_point.OBJECTIVE_HELP)
    for spec in gate.GATE_PARAMETERS:
        parser.add_argument(spec.cli_flag, dest=f"gate_{spec.field}", metavar=spec.type.upper(),
                            help=f"gate: {spec.description.replace('%', '%%')} (default {spec.default})")
    return parser


def check_evaluation_options(*, threshold: float, bootstrap: int, seed: int) -> None:
    """UsageError for a threshold outside [0, 1], a negative resample count or seed (shared with the
    endpoint evaluator, so both say the same thing)."""
    if not math.isfinite(threshold) or not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold {threshold} must be between 0 and 1")
    if bootstrap < 0:
        raise UsageError(f"--bootstrap {bootstrap} must be 0 or more")
    if seed < 0:
        raise UsageError(f"--seed {seed} must be 0 or more")


def _check_arguments(args: argparse.Namespace) -> "gate.GateSettings | None":
    """Raise UsageError for unusable values; return the gate settings (None: no gate asked for)."""
    check_evaluation_options(threshold=args.threshold, bootstrap=args.bootstrap, seed=args.seed)
    try:
        operating_point.parse_objective(args.threshold_objective)
    except ValueError as error:
        raise UsageError(f"--threshold-objective: {error}") from None
    given = {spec.name: getattr(args, f"gate_{spec.field}") for spec in gate.GATE_PARAMETERS}
    given = {name: value for name, value in given.items() if value is not None}
    if not given and args.context is None:
        return None
    try:
        return gate.parse_settings(given)
    except ValueError as error:
        raise UsageError(f"gate settings: {error}") from None


def _model_archive(path: str | None) -> Path:
    """The challenger's model.tar.gz: the path itself, or the one .tar.gz file in a folder."""
    if path is None:
        raise UsageError("validation data needs the challenger's --model to score it")
    folder = Path(path)
    if folder.is_file():
        return folder
    archives = sorted(folder.rglob("*.tar.gz")) if folder.is_dir() else []
    if len(archives) != 1:
        raise UsageError(f"--model {path}: expected one model.tar.gz, found {len(archives)}")
    return archives[0]


def test_data_files(path: str | None) -> list[Path]:
    """Label-first test files in the order the transform's ``<file>.out`` outputs sort."""
    if path is None:
        return []
    root = Path(path)
    files = predictions.list_prediction_files(root)
    return sorted(files, key=lambda p: p.parent / (p.name + ".out"))


def evaluated_subject(args: argparse.Namespace) -> dict[str, Any]:
    """What is being evaluated: ``subject`` in evaluation.json. With ``--model-sha256`` the archive in
    ``--model`` must have exactly that SHA-256 (it is the frozen copy the transform served)."""
    sha256 = None
    if args.model is not None:
        sha256 = model_archive.archive_sha256(_model_archive(args.model))
    expected = (args.model_sha256 or "").strip().lower() or None
    if expected is not None:
        if sha256 is None:
            raise UsageError("--model-sha256 needs the --model it describes")
        if sha256 != expected:
            raise ValueError(
                f"--model {args.model}: the archive's SHA-256 is {sha256}, not {expected} as frozen by the "
                "FreezeModel step: it changed after it was frozen; run the pipeline again (nothing is registered)"
            )
    return {
        "model_package_group": args.model_package_group or None,
        "pipeline_execution_id": args.execution_id or None,
        "model_uri": args.model_uri or None,
        "model_sha256": sha256,
        "evaluated_at": args.evaluated_at or None,
    }


def choose_operating_point(args: argparse.Namespace, context, scratch: Path) -> dict[str, Any]:
    """The decision threshold: chosen on validation data when staged, else the --threshold given."""
    files = context.validation_files if context is not None else []
    if not files:
        return {"source": "parameter", "threshold": args.threshold}
    from_validation = scoring.score_files(
        model_archive.load_serving_handlers(_model_archive(args.model), scratch / "challenger-model"), files
    )
    table = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(from_validation.y_true, from_validation.y_score))
    chosen = operating_point.select_threshold(table, args.threshold_objective)
    return {"source": "validation", "validation_sha256": predictions.files_sha256(files), **chosen}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; 0 when the outputs are written (gate passed or not), 2 on unusable input."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help
        return 2 if exit_.code else 0
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="evaluate-"))
    try:
        settings = _check_arguments(args)
        subject = evaluated_subject(args)
        context = champion.read_context(args.context) if args.context else None
        point = choose_operating_point(args, context, scratch)
        threshold = point["threshold"]
        tests = test_data_files(args.test_data)
        data = predictions.read_predictions(args.predictions)
        files, sha256 = list(data.files), data.sha256
        y_true, y_score = metrics.check_binary_inputs(data.y_true, data.y_score)
        scores = metrics.ScoreTable.from_arrays(y_true, y_score)
        del data
        # The raw arrays are kept only for a paired comparison with the champion's scores.
        keep = context is not None and context.champion_model is not None
        if not keep:
            y_true = y_score = None
        document = evaluate_scores(scores, threshold=threshold, n_bootstrap=args.bootstrap, seed=args.seed)
        document["operating_point"] = point
        document["subject"] = subject
        document["dataset"].update(files=files, sha256=sha256)
        if tests:
            document["dataset"]["test_data_sha256"] = predictions.files_sha256(tests)
        if settings is not None:
            section = champion.champion_section(
                context, document=document, y_true=y_true, y_score=y_score, test_files=tests, scratch=scratch,
                n_resamples=max(args.bootstrap, 200), seed=args.seed,
            )
            decision = gate.decide(document, settings, section)
            decision["record"] = gate.decision_record(document, decision)
            document["gate"] = decision
    except (ValueError, OSError) as error:  # UsageError, InputError, ContextError... are ValueErrors
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # The champion's recorded curves can be overlaid when its evaluation.json was staged.
    recorded = champion.read_champion_evaluation(context)[0] if context is not None else None
    plots = report.render_plots(document, recorded)
    outputs = {"evaluation.json": (json.dumps(to_json(document), indent=2, allow_nan=False) + "\n").encode()}
    outputs.update(report.plot_files(plots))
    outputs["report.html"] = report.render_html(document, plots).encode()
    try:
        write_outputs(Path(args.output_dir), outputs)
    except OSError as error:
        print(f"error: cannot write the outputs to {args.output_dir}: {error.strerror or error}; "
              "pass a writable --output-dir", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

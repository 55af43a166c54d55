"""Evaluate binary-classifier predictions: evaluation.json (SageMaker model-quality layout), plots, report.

    python evaluate.py --predictions DIR_OR_FILE --output-dir DIR [--threshold 0.5] [--bootstrap 1000]
                       [--seed 0] [--auc-threshold X] [--f1-threshold Y]

Input: every file under ``--predictions`` (Batch Transform ``.out`` files, read in path order, hidden
files included), lines ``label,score`` without a header; labels may be written ``1`` or ``1.0``, lines
may end in ``\r\n``, empty lines are skipped. A row is predicted positive when ``score >= --threshold``;
a ratio with a zero denominator is 0.0, as scikit-learn's default ``zero_division`` gives (see metrics.py).
Exit 0 with the outputs written (whatever the gate says: the pipeline's ConditionStep decides); exit 2
with one line on stderr, and nothing written, when the input or arguments are unusable.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

try:  # imported as part of the repository's package
    from processing_scripts import gate, metrics, predictions, report
except ImportError:  # run as a script inside the processing container, siblings on sys.path
    import gate
    import metrics
    import predictions
    import report

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


def write_outputs(output_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write every file to a staging folder first, then move each into place: no half-written output.

    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_outputs(Path(folder), {"a.json": b"{}"})
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['a.json']
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=output_dir))
    try:
        for name, data in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for name in files:
            os.replace(staging / name, output_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    for rule in gate.GATE_RULES:
        parser.add_argument(rule.cli_flag, type=float, dest=f"gate_{rule.metric}",
                            help=f"gate: {rule.description} (recorded in evaluation.json)")
    return parser


def _check_arguments(args: argparse.Namespace) -> dict[str, float]:
    """Raise UsageError for unusable values; return the gate thresholds that were given."""
    if not math.isfinite(args.threshold) or not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold {args.threshold} must be between 0 and 1")
    if args.bootstrap < 0:
        raise UsageError(f"--bootstrap {args.bootstrap} must be 0 or more")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} must be 0 or more")
    thresholds = {}
    for rule in gate.GATE_RULES:
        value = getattr(args, f"gate_{rule.metric}")
        if value is not None and not math.isfinite(value):
            raise UsageError(f"{rule.cli_flag} {value} must be a finite number")
        if value is not None:
            thresholds[rule.metric] = value
    return thresholds


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; 0 when the outputs are written (gate passed or not), 2 on unusable input."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help
        return 2 if exit_.code else 0
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        thresholds = _check_arguments(args)
        plotting = report.preload()
        data = predictions.read_predictions(args.predictions)
        files, sha256 = list(data.files), data.sha256
        scores = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(data.y_true, data.y_score))
        del data  # only the score table is needed from here on
        document = evaluate_scores(scores, threshold=args.threshold, n_bootstrap=args.bootstrap, seed=args.seed)
    except (ValueError, OSError) as error:  # UsageError, InputError and PredictionsError are ValueErrors
        print(f"error: {error}", file=sys.stderr)
        return 2
    document["dataset"].update(files=files, sha256=sha256)
    if thresholds:
        checks = gate.evaluate_gate(document, thresholds)
        document["gate"] = {"passed": all(c["passed"] for c in checks), "checks": checks}
    plotting.join()
    pngs = report.render_plots(document)
    outputs = {"evaluation.json": (json.dumps(to_json(document), indent=2, allow_nan=False) + "\n").encode()}
    outputs.update({f"{name}.png": data for name, data in pngs.items()})
    outputs["report.html"] = report.render_html(document, pngs).encode()
    try:
        write_outputs(Path(args.output_dir), outputs)
    except OSError as error:
        print(f"error: cannot write the outputs to {args.output_dir}: {error.strerror or error}; "
              "pass a writable --output-dir", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

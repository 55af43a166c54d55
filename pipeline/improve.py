"""Improve a model from what its evaluation measured.

    python -m pipeline.improve calibrate --model model.tar.gz --validation-data validation.csv
                                         [--method auto|sigmoid|isotonic] [--seed 0] --out calibrated.tar.gz

``calibrate`` fits a calibrator on the validation data with the model frozen (pipeline/calibrate.py),
packages it with the same serving contract, and prints the validation log loss, Brier score and
expected calibration error before and after (after: on the rows it was fitted on, and cross-validated,
the honest estimate). The result is an ordinary challenger: run it through the evaluation pipeline and
its gate (``python -m pipeline.local evaluation --model-data calibrated.tar.gz ...``).
Validation data: label-first CSV without a header, as the pipeline's ValidationDataUrl.
Exit 0 written, 2 bad usage or input (one line on stderr, nothing written).
"""
from __future__ import annotations

import sys
from typing import Sequence

from pipeline.arguments import OneLineParser
from pipeline.calibrate import CV_FOLDS, METHODS, Calibration, CalibrationError, calibrate_model
from processing_scripts.labelled import DataError
from processing_scripts.model_archive import ModelArchiveError, archive_sha256

QUALITY_NAMES = (("log_loss", "log loss"), ("brier_score", "Brier score"), ("expected_calibration_error", "ECE"))


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m pipeline.improve", description="Improve a model from its evaluation.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    calibrate = commands.add_parser("calibrate", help="fit a calibrator on validation data; write a calibrated challenger")
    calibrate.add_argument("--model", required=True, help="the model.tar.gz to calibrate")
    calibrate.add_argument("--validation-data", required=True, help="label-first CSV file or folder, no header")
    calibrate.add_argument("--method", choices=METHODS, default="auto",
                           help="auto (by cross-validated log loss; isotonic only with 1000+ rows), sigmoid or isotonic")
    calibrate.add_argument("--seed", type=int, default=0, help="seed of the cross-validation folds")
    calibrate.add_argument("--out", required=True, help="the calibrated model.tar.gz to write")
    return parser


def table(result: Calibration) -> list[str]:
    """The before/after lines the command prints."""
    lines = [f"{'validation (' + format(result.rows, ',') + ' rows)':<34}" + "".join(f"{name:>13}" for _, name in QUALITY_NAMES)]
    rows = [("before (the model as it is)", result.before), ("after (fitted on these rows)", result.after)]
    method = result.calibration["method"]
    if method in result.cross_validated:
        rows.append((f"after ({CV_FOLDS}-fold cross-validated)", result.cross_validated[method]))
    for label, values in rows:
        lines.append(f"{label:<34}" + "".join(f"{values[key]:>13.4f}" for key, _ in QUALITY_NAMES))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = calibrate_model(args.model, args.validation_data, args.out, method=args.method, seed=args.seed)
    except (CalibrationError, ModelArchiveError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"method: {result.reason}")
    print("\n".join(table(result)))
    if result.cross_validated[result.calibration["method"]]["log_loss"] >= result.before["log_loss"]:
        print("note: calibration does not lower the cross-validated log loss: the model is about as well calibrated "
              "as the validation data can tell")
    print(f"written: {args.out} (sha256 {archive_sha256(args.out)}); evaluate it as a challenger, e.g. python -m "
          f"pipeline.local evaluation --model-data {args.out} --test-data test.csv")
    return 0


if __name__ == "__main__":
    from pipeline.command import run_command

    run_command(main)

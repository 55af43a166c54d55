"""Data-quality baseline and drift check, as a processing-container script (Model Monitor file layout).

    python monitor.py baseline --data DIR_OR_FILE --output-dir DIR [--label-column first|none] [--header]
    python monitor.py check --baseline-dir DIR --data DIR_OR_FILE --output-dir DIR [--format csv|capture|auto]
                            [--label-column first|none] [--header] [--psi-threshold 0.2] [--ks-threshold 0.1]
                            [--completeness-ratio 1.0] [--max-skipped-share 0.05] [--endpoint-name E]
                            [--schedule-name S] [--start ISO8601] [--end ISO8601]
                            [--run-start ISO8601 [--window-hours 24]] [--fail-on-violation]

baseline writes statistics.json and constraints.json. check writes constraint_violations.json,
statistics.json and constraints.json (of the new data, as Model Monitor's monitoring job does),
cloudwatch_metrics.json (Model Monitor's metrics as a PutMetricData request, unless constraints.json
disables emit_metrics), drift_summary.json, drift_report.html and drift_status.json (a few fields a
pipeline's ConditionStep and FailStep read).
Rules and statistics: see data_quality.py (the map of the parts). Windows (windows.py): only the captures
whose inference time lies in ``[--start, --end)``, or in the last whole window of ``--window-hours``
before ``--run-start`` (a scheduled run), are checked; CSV rows have no time (an explicit window is
refused for them, a scheduled one does not apply). Exit 0 when the outputs are written
(with or without violations, so that a pipeline step can decide; ``--fail-on-violation`` exits 1 on
violations instead), 2 with one line on stderr and nothing written when input or arguments are unusable.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .capture import MAX_SKIPPED_SHARE, read_dataset
from .cloudwatch import metrics_files, put_metric_data_requests
from .checks import DriftResult, check_drift, iter_violation_lines
from .columns import DataError
from .csv_dataset import read_csv
from .data_profile import build_statistics, suggest_constraints, to_json_bytes
from .drift_report import render_report
from .text_files import relative_names, shown_value
from .outputs import write_outputs
from .windows import Window, add_window_options, iso, window_from_options
from .parameters import MONITORING_PARAMETERS, ParameterError, by_name

EXIT_OK, EXIT_VIOLATIONS, EXIT_BAD_INPUT = 0, 1, 2


def baseline_files(data: str | os.PathLike, *, label_column: str = "none", header: bool = False,
                   shown: Callable[[Path], str] = str) -> dict[str, bytes]:
    """statistics.json and constraints.json of a CSV data set; ``shown`` names its files in messages.

    A leading label column stays the baseline's first feature, as in Model Monitor's baselines (its
    monitoring switched off in constraints.json: captured data holds the model's output there)."""
    statistics = build_statistics(read_csv(data, label_column=label_column, header=header,
                                           keep_label=label_column == "first", shown=shown))
    constraints = suggest_constraints(statistics, label_column=label_column, header=header)
    return {"statistics.json": to_json_bytes(statistics, pretty=False), "constraints.json": to_json_bytes(constraints)}


def load_baseline(baseline_dir: str | os.PathLike, *, shown: Callable[[Path], str] = str) -> tuple[dict, dict]:
    """(statistics, constraints) from a baseline folder, with one-line errors naming ``shown(file)``."""
    documents = []
    for name in ("statistics.json", "constraints.json"):
        path = Path(baseline_dir) / name
        try:
            documents.append(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise DataError(f"{shown(path)} does not exist; pass the output folder of 'monitor.py baseline'") from None
        except NotADirectoryError:
            raise DataError(f"{shown(Path(baseline_dir))} is a file; pass the baseline's folder (statistics.json and "
                            "constraints.json, as 'monitor.py baseline' writes them)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(f"{shown(path)} is not JSON ({error}); rebuild the baseline") from None
    statistics, constraints = documents
    if not isinstance(statistics, dict) or not isinstance(statistics.get("features"), list) \
            or "item_count" not in statistics.get("dataset", {}):
        raise DataError(f"{shown(Path(baseline_dir) / 'statistics.json')} lacks dataset.item_count or features; rebuild the baseline")
    if not isinstance(constraints, dict) or not isinstance(constraints.get("features"), list):
        raise DataError(f"{shown(Path(baseline_dir) / 'constraints.json')} lacks features; rebuild the baseline")
    return statistics, constraints


def check_files(baseline_dir: str | os.PathLike, data: str | os.PathLike, *, data_format: str = "auto",
                label_column: str | None = None, header: bool | None = None, psi_threshold: float | None = None,
                ks_threshold: float | None = None, completeness_ratio: float | None = None,
                max_skipped_share: float | None = None, dimensions: Mapping[str, str] | None = None,
                shown: Callable[[Path], str] = str, baseline_shown: Callable[[Path], str] = str,
                window: Window | None = None, scheduled: bool = False,
                ) -> tuple[DriftResult, dict[str, bytes]]:
    """Run the drift check; returns the result and the output files (not yet written). ``shown`` and
    ``baseline_shown`` name the data's and the baseline's files in messages; ``dimensions`` go on the
    CloudWatch metrics (e.g. Endpoint, MonitoringSchedule); ``window``: check only the captures whose
    inference time lies in it (``scheduled``: it was derived from a run's start, so CSV data, which has
    no times, is checked whole rather than refused)."""
    statistics, constraints = load_baseline(baseline_dir, shown=baseline_shown)
    layout = constraints.get("data_layout") if isinstance(constraints.get("data_layout"), dict) else {}
    if label_column is None:  # the baseline's layout, for CSV in the same layout as its input
        label_column = layout.get("label_column", "none")
    if header is None:
        header = bool(layout.get("header", False))
    options = {} if max_skipped_share is None else {"max_skipped_share": max_skipped_share}
    dataset = read_dataset(data, data_format=data_format, label_column=label_column, header=header,
                           keep_label=bool(layout.get("label_kept")), shown=shown, window=window,
                           scheduled=scheduled, **options)
    result = check_drift(statistics, constraints, dataset, where=baseline_shown(Path(baseline_dir) / "constraints.json"),
                         statistics_where=baseline_shown(Path(baseline_dir) / "statistics.json"),
                         psi_threshold=psi_threshold, comparison_threshold=ks_threshold,
                         completeness_ratio=completeness_ratio)
    skipped = dataset.skipped
    result.summary["dataset"]["records_skipped"] = len(skipped)
    applies = window is not None and dataset.input_width is not None  # captures, not CSV
    result.summary["window"] = {"start": iso(window.start) if applies and window.start else "-inf",
                                "end": iso(window.end) if applies and window.end else "+inf",
                                "outside_window": dataset.outside_window,
                                "note": "" if applies or window is None else
                                "CSV rows have no inference time: the scheduled window does not apply"}
    result.summary["skipped_records"] = [{"where": where, "reason": reason} for where, reason in skipped[:100]]
    new_statistics = build_statistics(result.aligned)
    files = {
        "constraint_violations.json": to_json_bytes({"violations": result.violations}),
        "statistics.json": to_json_bytes(new_statistics, pretty=False),
        "constraints.json": to_json_bytes(suggest_constraints(new_statistics, header=header)),
        "drift_summary.json": to_json_bytes(result.summary),
        "drift_report.html": render_report(result).encode("utf-8"),
        "drift_status.json": to_json_bytes(drift_status(result.violations, result.summary)),
    }
    if result.summary["settings"]["emit_metrics"]:  # and per feature, its monitoring_config_overrides
        emitted = {row["name"] for row in result.summary["features"] if row.get("emit_metrics", True)}
        measured = dict(new_statistics, features=[f for f in new_statistics["features"] if f["name"] in emitted])
        files.update(metrics_files(put_metric_data_requests(
            measured, {k: v for k, v in result.distances.items() if k in emitted}, dimensions=dimensions or {})))
    return result, files


# A pipeline's FailStep puts these lists in its message: keep it short whatever the feature count.
STATUS_LIST_LIMIT = 20


def _short_list(items: Sequence[str], limit: int = STATUS_LIST_LIMIT) -> str:
    unique = list(dict.fromkeys(items))
    if not unique:
        return "none"
    shown = ", ".join(unique[:limit])
    return shown + (f" and {len(unique) - limit} more" if len(unique) > limit else "")


def drift_status(violations: Sequence[Mapping[str, str]], summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The small document a pipeline reads by JSON path: count, drifted features and check types.

    Lists are text (Std:JsonGet yields primitives), in first-violation order, without repeats.

    >>> drift_status([{"feature_name": "_c1", "constraint_check_type": "baseline_drift_check"},
    ...               {"feature_name": "_c1", "constraint_check_type": "completeness_check"}])
    {'version': 0, 'drift_detected': True, 'violation_count': 2, 'drifted_features': '_c1', \
'violated_checks': 'baseline_drift_check, completeness_check', 'not_enough_data': 'none'}
    >>> drift_status([])["drifted_features"]
    'none'
    """
    return {
        "version": 0,
        "drift_detected": bool(violations),
        "violation_count": len(violations),
        "drifted_features": _short_list([v["feature_name"] for v in violations]),
        "violated_checks": _short_list([v["constraint_check_type"] for v in violations]),
        "not_enough_data": _short_list((summary or {}).get("not_enough_data", [])),
    }


# -------------------------------------------------------------------------------------------------- CLI

class UsageError(ValueError):
    """Unusable command-line arguments."""


class Parser(argparse.ArgumentParser):
    """argparse with a one-line :class:`UsageError` instead of usage text and exit 2."""

    def error(self, message: str):  # argparse would print usage and the message on two lines
        raise UsageError(f"{message} (see --help)")


def _fraction(flag: str):
    """A number from 0 to 1: a completeness ratio above 1 could never be met, even by the baseline itself."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {shown_value(text, 40)} is not a number") from None
        if not 0 <= value <= 1:
            raise argparse.ArgumentTypeError(f"{flag} {text[:40]} must be a number from 0 to 1")
        return value
    return parse


def _table_value(name: str):
    """The argparse type of the flag receiving pipeline parameter ``name``: the parameter table's rule."""
    row = by_name(MONITORING_PARAMETERS)[name]

    def parse(text: str):
        try:
            return row.parse(text)
        except ParameterError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


def add_check_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by this script and the user CLI's check command."""
    parser.add_argument("--format", dest="data_format", choices=("csv", "capture", "auto"), default="auto",
                        help="CSV batch or SageMaker Data Capture JSONL (auto: sniff the first file)")
    parser.add_argument("--label-column", choices=("first", "none"),
                        help="CSV only: leading label column (default: as the baseline's input)")
    parser.add_argument("--psi-threshold", type=_table_value("PsiThreshold"),
                        help="PSI above this is drift (default: constraints.json, 0.2)")
    parser.add_argument("--ks-threshold", type=_table_value("KsThreshold"),
                        help="Kolmogorov-Smirnov distance above this is drift (default: comparison_threshold, 0.1)")
    parser.add_argument("--completeness-ratio", type=_fraction("--completeness-ratio"),
                        help="completeness below baseline x this is a violation (default 1.0)")
    parser.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                        help="CSV only: the first line of each file names the columns, as Model Monitor's "
                             "csv(header=True) (default: as the baseline's input)")
    parser.add_argument("--max-skipped-share", type=_fraction("--max-skipped-share"),
                        help=f"captures: fail when more than this share of records is malformed "
                             f"(default {MAX_SKIPPED_SHARE}); fewer are skipped and reported")
    parser.add_argument("--endpoint-name", help="Endpoint dimension of the CloudWatch metrics file")
    parser.add_argument("--schedule-name", help="MonitoringSchedule dimension of the CloudWatch metrics file")
    add_window_options(parser, label_delay=False)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="monitor.py", description="Data-quality baseline and drift check (Model Monitor layout).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    baseline = commands.add_parser("baseline", help="write statistics.json and constraints.json")
    baseline.add_argument("--data", default="/opt/ml/processing/input/baseline_dataset_input",
                          help="CSV file or folder, no header")
    baseline.add_argument("--output-dir", default="/opt/ml/processing/output", help="where the baseline goes")
    baseline.add_argument("--label-column", choices=("first", "none"), default="none",
                          help="'first': a leading label column (kept as the first feature, not monitored)")
    baseline.add_argument("--header", action="store_true",
                          help="the first line of each file names the columns (Model Monitor's csv(header=True))")
    check = commands.add_parser("check", help="compare data with a baseline; write constraint_violations.json")
    check.add_argument("--baseline-dir", default="/opt/ml/processing/baseline",
                       help="folder with statistics.json and constraints.json")
    check.add_argument("--data", default="/opt/ml/processing/input/endpoint",
                       help="CSV or Data Capture file or folder")
    check.add_argument("--output-dir", default="/opt/ml/processing/resultdata", help="where the results go")
    add_check_options(check)
    check.add_argument("--fail-on-violation", action="store_true", help="exit 1 when there are violations")
    return parser


def parse(argv: Sequence[str] | None, *, build: Callable[[], argparse.ArgumentParser] | None = None,
          ) -> argparse.Namespace | int:
    """Parsed arguments, or the exit code when parsing ended the run (--help or an error); ``build``: the
    script's parser (default this script's)."""
    try:
        return (build or build_parser)().parse_args(argv)
    except SystemExit as exit_:  # --help
        return EXIT_BAD_INPUT if exit_.code else EXIT_OK
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def dimensions(args: argparse.Namespace) -> dict[str, str]:
    """The CloudWatch dimensions given on the command line (Model Monitor's names)."""
    given = {"Endpoint": getattr(args, "endpoint_name", None), "MonitoringSchedule": getattr(args, "schedule_name", None)}
    return {k: v for k, v in given.items() if v}


def run(args: argparse.Namespace, *, shown: Callable[[Path], str] = str,
        baseline_shown: Callable[[Path], str] = str) -> tuple[int, DriftResult | None]:
    """Run a parsed command and write its outputs; (exit code, check result or None). ``shown`` and
    ``baseline_shown`` name the files of ``--data`` and of the baseline in messages."""
    result = None
    try:
        window = window_from_options(args) if args.command == "check" else None
    except ValueError as error:  # an empty window, or hours that do not tile days
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT, None
    scheduled = args.command == "check" and args.start is None and args.end is None
    try:
        if args.command == "baseline":
            files = baseline_files(args.data, label_column=args.label_column, header=args.header, shown=shown)
        else:
            result, files = check_files(args.baseline_dir, args.data, data_format=args.data_format,
                                        label_column=args.label_column, header=args.header,
                                        psi_threshold=args.psi_threshold, ks_threshold=args.ks_threshold,
                                        completeness_ratio=args.completeness_ratio,
                                        max_skipped_share=args.max_skipped_share,
                                        dimensions=dimensions(args), shown=shown, baseline_shown=baseline_shown,
                                        window=window, scheduled=scheduled)
    except (DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT, None
    try:
        write_outputs(Path(args.output_dir), files)
        if args.command == "check":  # an earlier run's metrics must not be published as this run's
            for stale in Path(args.output_dir).glob("cloudwatch_metrics*.json"):
                if stale.name not in files:
                    stale.unlink()
    except OSError as error:
        print(f"error: cannot write the outputs to {args.output_dir}: {error.strerror or error}; "
              "pass a writable --output-dir", file=sys.stderr)
        return EXIT_BAD_INPUT, None
    if result is not None and result.violations and getattr(args, "fail_on_violation", True):
        return EXIT_VIOLATIONS, result
    return EXIT_OK, result


def main(argv: Sequence[str] | None = None) -> int:
    """Container entry point: 0 outputs written, 1 violations with --fail-on-violation, 2 unusable input."""
    args = parse(argv)
    if isinstance(args, int):
        return args
    # Name files as written below the input's S3 URI, not by the container's download path.
    names = {"shown": relative_names(args.data)}
    if args.command == "check":
        names["baseline_shown"] = relative_names(args.baseline_dir)
    code, result = run(args, **names)
    if result is not None:
        print(f"{len(result.violations)} violation(s); outputs in {args.output_dir}")
        for line in iter_violation_lines(result.violations):
            print(line)
    return code


if __name__ == "__main__":
    sys.exit(main())

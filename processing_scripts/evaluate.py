"""Evaluate binary-classifier predictions: evaluation.json (SageMaker model-quality layout), constraints.json
(Model Monitor's model-quality constraints, model_quality_constraints.py), plots, report.

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
unusable. The output set replaces the previous one in ``--output-dir`` as a whole, or not at all
(``outputs.write_outputs``). Model archives are extracted into a scratch folder ``<tmp>/evaluate-<pid>-*``,
removed at exit (SIGTERM included); one a killed run left is removed by the next run.

From Python, :func:`evaluate` turns labels and scores (arrays) and :class:`EvaluationSettings` into the
same document and files (``pipeline.endpoint`` evaluates a live endpoint's scores with it).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import (champion, findings, gate, metrics, model_archive, model_quality_constraints, operating_point,
               predictions, report, scoring, text_files, uncertainty)
from .evaluation_document import build_document, to_json
from .outputs import scratch_folder, write_outputs


class UsageError(ValueError):
    """Unusable command-line arguments."""


@dataclass(frozen=True)
class EvaluationSettings:
    """How the label,score pairs are evaluated: the decision threshold and the bootstrap."""

    threshold: float = 0.5  # predict positive when score >= threshold
    n_bootstrap: int = 1000  # resamples; 0 or 1: no bootstrap intervals
    seed: int = 0

    def check(self) -> None:
        """UsageError for a threshold outside [0, 1], a resample count outside [0, MAX_RESAMPLES] or a
        negative seed, in the words of the flags (``--threshold``, ``--bootstrap``, ``--seed``) every evaluating command shares.

        >>> EvaluationSettings(threshold=1.5).check()
        Traceback (most recent call last):
        ...
        processing_scripts.evaluate.UsageError: --threshold 1.5 must be between 0 and 1
        """
        if not math.isfinite(self.threshold) or not 0.0 <= self.threshold <= 1.0:
            raise UsageError(f"--threshold {self.threshold} must be between 0 and 1")
        if self.n_bootstrap < 0:
            raise UsageError(f"--bootstrap {self.n_bootstrap} must be 0 or more")
        if self.n_bootstrap > uncertainty.MAX_RESAMPLES:
            raise UsageError(f"--bootstrap {self.n_bootstrap} is more than {uncertainty.MAX_RESAMPLES}; pass at most "
                             f"{uncertainty.MAX_RESAMPLES} (1000 is the default)")
        if self.seed < 0:
            raise UsageError(f"--seed {self.seed} must be 0 or more")


@dataclass(frozen=True)
class Evaluation:
    """An evaluation's document (numbers may be NaN) and the files that show it."""

    document: dict[str, Any]
    files: dict[str, bytes]  # evaluation.json, constraints.json, the plots, report.html

    def write(self, output_dir: Path) -> None:
        """Replace the output set in ``output_dir`` as a whole (no half-written or mixed set); OSError when it
        cannot, with the previous set as it was."""
        write_outputs(output_dir, self.files)


def evaluate(
    y_true,
    y_score,
    settings: EvaluationSettings,
    *,
    dataset: Mapping[str, Any],
    threshold_choice: Mapping[str, Any] | None = None,
    subject: Mapping[str, Any] | None = None,
    sections: Mapping[str, Any] | None = None,
    decide_gate: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    champion_evaluation: Mapping[str, Any] | None = None,
    objective: str = operating_point.DEFAULT_OBJECTIVE,
    validation: tuple[Any, Any] | None = None,
    monitoring: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Evaluate labels and scores (arrays, one pair a row): evaluation.json, constraints.json (the
    model-quality constraints, see model_quality_constraints.py), the plots and report.html.

    ``dataset`` is added to the document's ``dataset`` (``files``, ``sha256``: where the pairs came
    from); ``threshold_choice`` says where the threshold came from (evaluation.json's
    ``operating_point``; default: the parameter); ``subject`` what was evaluated (default: nothing
    recorded); ``sections`` are added to evaluation.json as they are (the report shows the standard
    sections only). ``decide_gate(document)`` returns the ``gate`` section; ``champion_evaluation`` is
    the champion's recorded evaluation.json, overlaid on the plots. ``objective`` is the threshold
    objective, ``validation`` the validation set's (labels, scores) when it was scored, ``monitoring``
    what findings.read_monitoring found: the findings (``improvements``, findings.py) use them. Raises
    ``metrics.InputError`` (a ValueError) for pairs no metric can be computed from.

    >>> result = evaluate([0, 1, 0, 1], [0.2, 0.9, 0.6, 0.4], EvaluationSettings(n_bootstrap=0), dataset={})
    >>> sorted(result.files), result.document["subject"]["model_sha256"]
    (['calibration.svg', 'confusion_matrix.svg', 'constraints.json', 'evaluation.json', 'pr.svg', 'report.html', 'roc.svg'], None)
    """
    document = build_document(y_true, y_score, threshold=settings.threshold, n_bootstrap=settings.n_bootstrap,
                              seed=settings.seed)
    document["operating_point"] = dict(threshold_choice or {"source": "parameter", "threshold": settings.threshold})
    costs = document["operating_point"].get("costs")
    if costs:  # the cost the frozen threshold gives on the test set, against the default threshold's
        labels, scores = np.asarray(y_true, dtype=np.float64), np.asarray(y_score, dtype=np.float64)
        for key, threshold in (("test_expected_cost", settings.threshold),
                               ("test_expected_cost_at_default", operating_point.DEFAULT_THRESHOLD)):
            positive = scores >= threshold
            fp, fn = int(np.sum(positive & (labels == 0))), int(np.sum(~positive & (labels == 1)))
            document["operating_point"][key] = (costs["false_positive"] * fp + costs["false_negative"] * fn) / len(labels)
    document["subject"] = dict(subject or {key: None for key, _ in report.SUBJECT_FIELDS})
    document["dataset"].update(dataset)
    document.update(sections or {})
    if decide_gate is not None:
        document["gate"] = decide_gate(document)
    # After the gate: its minimums are part of the constraints.
    document["model_quality_constraints"] = model_quality_constraints.constraints_section(document)
    document["improvement_checks"], document["improvements"] = improvement_checks(
        y_true, y_score, document, objective=objective, validation=validation, monitoring=monitoring, seed=settings.seed)
    return Evaluation(document, output_files(document, champion_evaluation))


def improvement_checks(y_true, y_score, document: Mapping[str, Any], *, objective: str,
                       validation: tuple[Any, Any] | None, monitoring: Mapping[str, Any] | None,
                       seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(what each check measured, the findings the evidence supports): see findings.py."""
    y, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_score, dtype=np.float64)
    pair = None if validation is None else (np.asarray(validation[0], dtype=np.int64),
                                            np.asarray(validation[1], dtype=np.float64))
    results = {
        "calibration": findings.calibration_check(y, p, validation=pair, reliability=document.get("calibration"),
                                                  seed=seed),
        "threshold": findings.threshold_check(y, p, threshold=float(document["threshold"]), objective=objective,
                                              point=document["operating_point"], validation=pair, seed=seed),
        "prevalence": findings.prevalence_check(y, None if pair is None else pair[0]),
        "monitoring": findings.monitoring_check(monitoring or {}),
    }
    measured = {name: result[0] for name, result in results.items() if result[0] is not None}
    return measured, findings.improvements(list(results.values()))


def output_files(document: Mapping[str, Any], champion_evaluation: Mapping[str, Any] | None = None) -> dict[str, bytes]:
    """evaluation.json (NaN as "NaN"), constraints.json (from its ``model_quality_constraints``, when it has
    them), each plot as an SVG file, and report.html, by file name."""
    plots = report.render_plots(document, champion_evaluation)
    files = {"evaluation.json": (json.dumps(to_json(document), indent=2, allow_nan=False) + "\n").encode()}
    section = document.get("model_quality_constraints")
    if section is not None:
        files[model_quality_constraints.CONSTRAINTS_FILE] = model_quality_constraints.constraints_bytes(section)
    files.update(report.plot_files(plots))
    files["report.html"] = report.render_html(document, plots).encode()
    return files


class UsageParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one-line UsageErrors (argparse prints usage and the message on
    two lines, and exits)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see --help)")

    def parse_or_exit_code(self, argv: Sequence[str] | None) -> argparse.Namespace | int:
        """The parsed arguments, or the exit code when there is nothing to run: 0 after ``--help``, 2
        (the one-line error printed on stderr) for unusable arguments."""
        try:
            return self.parse_args(argv)
        except SystemExit as exit_:  # --help
            return 2 if exit_.code else 0
        except UsageError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2


def build_parser() -> UsageParser:
    parser = UsageParser(prog="evaluate.py", description="Evaluate binary-classifier predictions.")
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
    parser.add_argument("--monitoring", help="a folder of monitoring results of the deployed version "
                                             "(quality_history.jsonl, drift_status.json): findings from them")
    for spec in gate.GATE_PARAMETERS:
        parser.add_argument(spec.cli_flag, dest=f"gate_{spec.field}", metavar=spec.type.upper(),
                            help=f"gate: {spec.description.replace('%', '%%')} (default {spec.default})")
    return parser


def _check_arguments(args: argparse.Namespace) -> "gate.GateSettings | None":
    """Raise UsageError for unusable values; return the gate settings (None: no gate asked for)."""
    EvaluationSettings(threshold=args.threshold, n_bootstrap=args.bootstrap, seed=args.seed).check()
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


def choose_operating_point(args: argparse.Namespace, context, scratch: Path) -> tuple[dict[str, Any], tuple | None]:
    """(the decision threshold: chosen on validation data when staged, else the --threshold given; the
    validation set's labels and the challenger's scores, or None)."""
    files = context.validation_files if context is not None else []
    if not files:
        return {"source": "parameter", "threshold": args.threshold}, None
    from_validation = scoring.score_files(
        model_archive.load_serving_handlers(_model_archive(args.model), scratch / "challenger-model"), files,
        shown=context.validation_name,
    )
    table = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(from_validation.y_true, from_validation.y_score))
    chosen = operating_point.select_threshold(table, args.threshold_objective)
    return ({"source": "validation", "validation_sha256": predictions.files_sha256(files), **chosen},
            (from_validation.y_true, from_validation.y_score))


# Where the model archives are extracted: <tmp>/evaluate-<pid>-*, removed at exit (a killed run's by the next).
SCRATCH_PREFIX = "evaluate-"


@contextlib.contextmanager
def _stop_as_exit() -> Iterator[None]:
    """SIGTERM (how SageMaker stops a job) raises SystemExit, so ``finally`` blocks clean up (scratch)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; 0 when the outputs are written (gate passed or not), 2 on unusable input."""
    args = build_parser().parse_or_exit_code(argv)
    if isinstance(args, int):
        return args
    try:
        with _stop_as_exit(), scratch_folder(SCRATCH_PREFIX) as scratch:
            evaluation = _evaluate(args, scratch)
    except (ValueError, OSError) as error:  # UsageError, InputError, ContextError... are ValueErrors
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        evaluation.write(Path(args.output_dir))
    except OSError as error:
        print(f"error: cannot write the outputs to {args.output_dir}: {error.strerror or error}; "
              "pass a writable --output-dir", file=sys.stderr)
        return 2
    return 0


def _evaluate(args: argparse.Namespace, scratch: Path) -> Evaluation:
    """The evaluation the arguments ask for, gate included; nothing is written."""
    gate_settings = _check_arguments(args)
    subject = evaluated_subject(args)
    context = champion.read_context(args.context) if args.context else None
    point, validation = choose_operating_point(args, context, scratch)
    tests = test_data_files(args.test_data)
    data = predictions.read_predictions(args.predictions, shown=text_files.relative_names(args.predictions))
    dataset = {"files": list(data.files), "sha256": data.sha256}
    if tests:
        dataset["test_data_sha256"] = predictions.files_sha256(tests)
    # The raw arrays are compared with the champion's scores only when its model was staged.
    paired = context is not None and context.champion_model is not None

    def decide_gate(document: dict[str, Any]) -> dict[str, Any]:
        section = champion.champion_section(
            context, document=document, y_true=data.y_true if paired else None,
            y_score=data.y_score if paired else None, test_files=tests, scratch=scratch,
            n_resamples=max(args.bootstrap, 200), seed=args.seed, shown=text_files.relative_names(args.test_data) if args.test_data else str,
        )
        decision = gate.decide(document, gate_settings, section)
        decision["record"] = gate.decision_record(document, decision)
        return decision

    # The champion's recorded curves can be overlaid when its evaluation.json was staged.
    recorded = champion.read_champion_evaluation(context)[0] if context is not None else None
    settings = EvaluationSettings(threshold=point["threshold"], n_bootstrap=args.bootstrap, seed=args.seed)
    monitoring = findings.read_monitoring(args.monitoring or (context.monitoring_dir if context is not None else None))
    return evaluate(data.y_true, data.y_score, settings, dataset=dataset, threshold_choice=point, subject=subject,
                    decide_gate=decide_gate if gate_settings is not None else None, champion_evaluation=recorded,
                    objective=args.threshold_objective, validation=validation, monitoring=monitoring)


if __name__ == "__main__":
    sys.exit(main())

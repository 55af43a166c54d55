"""The challenger against the champion: read what the champion step staged, and compare.

The champion step (a Lambda function outside the container) writes into the evaluation step's
``context`` input folder::

    context.json                {"champion": null | {arn, version, model_data_url, evaluation_uri,
                                 evaluation_staged, model_staged, errors}, "validation": null | {...}}
    champion/evaluation.json    the champion's recorded evaluation, when readable
    champion/model.tar.gz       the champion's model, when readable
    validation/...              validation data, when ValidationDataUrl is set

With the model, both models are scored on the same test rows and compared with paired intervals
("paired"); with only the recorded evaluation, point estimates from another test set are compared
("recorded"); with neither, the comparison is "unavailable" and the gate fails closed. So is it when
the champion's model loads but cannot score the rows the challenger was scored on (the test data or
its handlers): those rows cannot be paired, and metrics from another test set would hide why.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import labelled, metric_catalog, metrics, model_archive, paired, scoring
from .evaluation_document import precision_recall_curve

CONTEXT_FILE = "context.json"
COMPARED_METRICS = metric_catalog.COMPARED_METRICS


class ContextError(ValueError):
    """The staged context is missing or malformed (one line, with the fix)."""


@dataclass(frozen=True)
class Context:
    folder: Path
    champion: Mapping[str, Any] | None
    validation: Mapping[str, Any] | None

    @property
    def champion_model(self) -> Path | None:
        path = self.folder / "champion" / "model.tar.gz"
        return path if self.champion and self.champion.get("model_staged") and path.is_file() else None

    @property
    def champion_evaluation(self) -> Path | None:
        path = self.folder / "champion" / "evaluation.json"
        return path if self.champion and self.champion.get("evaluation_staged") and path.is_file() else None

    @property
    def monitoring_dir(self) -> Path | None:
        """The deployed version's monitoring results the champion step staged (quality history), if any."""
        path = self.folder / "monitoring"
        return path if path.is_dir() else None

    @property
    def validation_files(self) -> list[Path]:
        folder = self.folder / "validation"
        if not self.validation or not folder.is_dir():
            return []
        return labelled.list_files(folder, missing="re-run the champion step")

    def validation_name(self, file: Path) -> str:
        """A staged validation file as the user named it: its object's URI (``base`` + its key below it).

        >>> Context(Path("/c"), None, {"source": "s3://b/v/", "base": "s3://b/v/"}).validation_name(Path("/c/validation/a.csv"))
        's3://b/v/a.csv'
        """
        folder = self.folder / "validation"
        base = (self.validation or {}).get("base")
        if isinstance(base, str) and file.is_relative_to(folder):
            return base + file.relative_to(folder).as_posix()
        return str(file)


def read_context(folder: str | Path) -> Context:
    """Parse ``context.json`` in ``folder``."""
    folder = Path(folder)
    path = folder / CONTEXT_FILE
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ContextError(f"{path} is missing: the champion step must run before the evaluation step") from None
    except ValueError as error:
        raise ContextError(f"{path} is not valid JSON ({error}); re-run the champion step") from None
    if not isinstance(document, dict) or "champion" not in document:
        raise ContextError(f"{path} has no 'champion' entry; re-run the champion step")
    return Context(folder=folder, champion=document.get("champion"), validation=document.get("validation"))


def _identity(champion: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "arn": champion.get("arn"),
        "version": champion.get("version"),
        "model_data_url": champion.get("model_data_url"),
        "evaluation_uri": champion.get("evaluation_uri"),
    }


def _recorded_value(document: Mapping[str, Any], metric: str) -> float:
    try:
        return float(document["binary_classification_metrics"][metric]["value"])
    except (KeyError, TypeError, ValueError):
        return math.nan


def recorded_comparison(
    challenger: Mapping[str, Any], champion_document: Mapping[str, Any]
) -> dict[str, dict[str, float]]:
    """Point differences (challenger − champion) against the champion's recorded evaluation.

    >>> doc = lambda auc, f1: {"binary_classification_metrics": {"auc": {"value": auc}, "f1": {"value": f1}}}
    >>> recorded_comparison(doc(0.9, 0.7), doc(0.85, 0.75))["f1"]["difference"]
    -0.05
    """
    out = {}
    for metric in COMPARED_METRICS:
        mine, theirs = _recorded_value(challenger, metric), _recorded_value(champion_document, metric)
        if math.isnan(theirs):
            continue
        out[metric] = {"challenger": mine, "champion": theirs, "difference": round(mine - theirs, 12)}
    return out


def paired_comparison(
    y_true: np.ndarray,
    challenger_scores: np.ndarray,
    champion_scores: np.ndarray,
    *,
    challenger_threshold: float,
    champion_threshold: float,
    n_resamples: int,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Both models on the same rows: AUC by paired DeLong, threshold metrics by paired bootstrap."""
    auc = paired.paired_auc_difference(y_true, challenger_scores, champion_scores)
    out = {
        "auc": {
            "challenger": auc["auc_a"],
            "champion": auc["auc_b"],
            "difference": auc["difference"],
            "standard_error": auc["standard_error"],
            "lower": auc["lower"],
            "upper": auc["upper"],
            "method": auc["method"],
        }
    }
    differences = paired.paired_threshold_difference(
        y_true, challenger_scores, champion_scores, threshold_a=challenger_threshold,
        threshold_b=champion_threshold, n_resamples=n_resamples, seed=seed,
    )
    for metric, entry in differences.items():
        out[metric] = {
            "challenger": entry["a"],
            "champion": entry["b"],
            "difference": entry["difference"],
            "standard_deviation": entry["standard_deviation"],
            "lower": entry["lower"],
            "upper": entry["upper"],
            "method": f"paired percentile bootstrap, {n_resamples} resamples",
        }
    return out


def champion_curves(y_true: np.ndarray, scores: np.ndarray, *, max_points: int = 1000) -> dict[str, Any]:
    """The champion's ROC and precision-recall curves and reliability bins on the challenger's test rows,
    from the same engine as the challenger's (so the report can overlay them point for point)."""
    table = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(y_true, scores))
    roc = metrics.roc_curve_points(table, max_points=max_points)
    pr = metrics.precision_recall_points(table, max_points=max_points)
    return {
        "receiver_operating_characteristic_curve": {"false_positive_rates": roc["false_positive_rates"].tolist(),
                                                    "true_positive_rates": roc["true_positive_rates"].tolist()},
        "precision_recall_curve": precision_recall_curve(pr),
        "average_precision": metrics.average_precision(table),
        "calibration": metrics.calibration_table(table),
    }


def read_champion_evaluation(context: Context) -> tuple[dict | None, str | None]:
    """The champion's recorded evaluation.json, or (None, why not)."""
    path = context.champion_evaluation
    if path is None:
        return None, "its evaluation.json could not be staged"
    try:
        document = json.loads(path.read_text())
    except ValueError as error:
        return None, f"its evaluation.json is not valid JSON ({error})"
    if not isinstance(document, dict) or "binary_classification_metrics" not in document:
        return None, "its evaluation.json has no binary_classification_metrics"
    return document, None


def verify_champion_archive(context: Context, recorded: Mapping[str, Any] | None) -> str | None:
    """None when the staged champion archive is the one registered (its SHA-256 as recorded then).

    Otherwise why not: ``"changed: ..."`` when the bytes differ from the record (the registered artifact
    was overwritten: the gate must fail closed, not fall back), or a reason it cannot be checked (no
    SHA-256 was recorded: then only the champion's recorded metrics may be used).
    """
    archive = context.champion_model
    if archive is None:
        return "its model artifact could not be staged"
    expected = (context.champion or {}).get("model_sha256") or ((recorded or {}).get("subject") or {}).get("model_sha256")
    if not expected or expected == "none":
        return "no SHA-256 of its model was recorded when it was registered, so its archive cannot be trusted"
    actual = model_archive.archive_sha256(archive)
    if actual != expected:
        return (f"changed: its model.tar.gz at {context.champion.get('model_data_url')} has SHA-256 {actual}, "
                f"not {expected} as recorded when it was registered (the registered artifact was overwritten)")
    return None


@dataclass(frozen=True)
class ChampionScores:
    """The champion's scores on the challenger's test rows, or why there are none."""

    labels: np.ndarray | None = None
    scores: np.ndarray | None = None
    why_not: str | None = None
    # Its model loaded but these rows could not be scored (the test data or its handlers): the rows the
    # challenger was scored on cannot be paired, so the gate fails closed rather than fall back to the
    # champion's metrics from another test set.
    unpaired: bool = False


def score_champion(context: Context, test_files: Sequence[Path], scratch: Path, *,
                   shown: Callable[[Path], str] = str) -> ChampionScores:
    """The champion's labels and scores on the test files, or why not; ``shown`` names a test file in messages."""
    archive = context.champion_model
    if archive is None:
        return ChampionScores(why_not="its model artifact could not be staged")
    if not test_files:
        return ChampionScores(why_not="no test data was given to score it on")
    try:
        handlers = model_archive.load_serving_handlers(archive, scratch / "champion-model")
    except model_archive.ModelArchiveError as error:
        # Messages name the archive by file name (its path is the staged copy's): the reason names the champion.
        return ChampionScores(why_not=f"its model cannot be loaded ({str(error).removeprefix(f'{Path(archive).name}: ')})")
    try:
        scored = scoring.score_files(handlers, test_files, shown=shown)
    except scoring.ScoringError as error:
        return ChampionScores(why_not=f"its model cannot score the test data ({error})", unpaired=True)
    return ChampionScores(scored.y_true, scored.y_score)


def champion_section(
    context: Context | None,
    *,
    document: Mapping[str, Any],
    y_true: np.ndarray | None,
    y_score: np.ndarray | None,
    test_files: Sequence[Path],
    scratch: Path,
    n_resamples: int,
    seed: int,
    shown: Callable[[Path], str] = str,
) -> dict[str, Any]:
    """evaluation.json's ``champion`` section: status none | paired | recorded | unavailable (``shown``
    names a test file in messages)."""
    if context is None or not context.champion:
        return {"status": "none", "reason": "no approved version in the model package group"}
    section = _identity(context.champion)
    problems = list(context.champion.get("errors") or [])
    recorded, why_not = read_champion_evaluation(context)
    if why_not:
        problems.append(why_not)
    if y_true is not None and y_score is not None:
        tampered = verify_champion_archive(context, recorded)
        if tampered is not None and tampered.startswith("changed:"):
            return {
                **section,
                "status": "unavailable",
                "reason": "cannot compare: " + tampered[len("changed:"):].strip() + "; restore it or reject the champion",
                "notes": [*problems, tampered],
            }
        champion = ChampionScores(why_not=tampered) if tampered is not None else \
            score_champion(context, test_files, scratch, shown=shown)
        labels, scores, why_not = champion.labels, champion.scores, champion.why_not
        if champion.unpaired:
            return {
                **section,
                "status": "unavailable",
                "reason": f"cannot compare: {why_not}; the challenger was scored on these rows, so the champion "
                          "must be too: fix the test data (or reject the champion)",
                "notes": [*problems, why_not],
            }
        if why_not is None:
            if len(labels) != len(y_true) or not np.array_equal(labels, y_true):
                raise ContextError(
                    f"the test data ({len(labels)} rows) does not line up with the transform output "
                    f"({len(y_true)} rows): pass the same TestDataUrl the transform read"
                )
            # The champion operates at its own recorded threshold; the challenger's when none is recorded.
            champion_threshold = float((recorded or document).get("threshold", document["threshold"]))
            return {
                **section,
                "status": "paired",
                "reason": "both models scored on this test set",
                "champion_threshold": champion_threshold,
                "metrics": paired_comparison(
                    y_true, y_score, scores, challenger_threshold=float(document["threshold"]),
                    champion_threshold=champion_threshold, n_resamples=n_resamples, seed=seed,
                ),
                "curves": champion_curves(labels, scores),
                "notes": problems,
            }
        problems.append(why_not)
    if recorded is not None:
        return {
            **section,
            "status": "recorded",
            "reason": "compared with the champion's recorded metrics from its own test set ("
            + "; ".join(problems or ["no model artifact"]) + ")",
            "metrics": recorded_comparison(document, recorded),
            "notes": problems,
        }
    return {
        **section,
        "status": "unavailable",
        "reason": "cannot compare: " + "; ".join(problems or ["nothing was staged"]) + "; fix or reject the champion",
        "notes": problems,
    }

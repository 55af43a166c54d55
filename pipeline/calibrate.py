"""A calibrated challenger: the model's probabilities remapped by a calibrator fitted on validation data.

The model is frozen: it is scored on the validation rows through its own serving handlers (the archive's
``code/inference.py``, as the endpoint would score them), and only a map from its probability to a
calibrated one is fitted (``sigmoid``: Platt scaling of the log-odds; ``isotonic``: a monotone step
fit). The calibrated archive keeps every original member, moves ``code/inference.py`` to
``code/uncalibrated_inference.py``, and adds ``processing_scripts/calibrated_inference.py`` as
``code/inference.py`` with ``calibration.json``: the same serving contract, calibrated outputs. It is
an ordinary challenger: evaluate it with the pipeline like any other model.

``auto`` picks the method by cross-validated log loss on the validation rows (5 folds, stratified):
isotonic only with at least MIN_ISOTONIC_ROWS rows (with fewer it overfits: its steps follow the noise)
and only when it beats sigmoid's cross-validated log loss.
"""
from __future__ import annotations

import gzip
import io
import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.code_bundle import PROCESSING_SCRIPTS_DIR
from pipeline.package import tar_member
from processing_scripts import calibrated_inference, metrics, model_archive, scoring
from processing_scripts.recalibration import fit_sigmoid
from processing_scripts.outputs import write_bytes_atomic

METHODS = ("auto", "sigmoid", "isotonic")
MIN_ISOTONIC_ROWS = 1000
CV_FOLDS = 5
WRAPPER_SOURCE = PROCESSING_SCRIPTS_DIR / "calibrated_inference.py"
ENTRY, ORIGINAL = "code/inference.py", f"code/{calibrated_inference.ORIGINAL_PROGRAM}"


class CalibrationError(ValueError):
    """The model or data cannot be calibrated; the message says why and what to do."""


def fit_isotonic(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, Any]:
    """scikit-learn's IsotonicRegression (clipped outside the fitted range): ``{"method": "isotonic", "x", "y"}``."""
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(y_score, y_true)
    return {"method": "isotonic", "x": model.X_thresholds_.tolist(), "y": model.y_thresholds_.tolist()}


FITS = {"sigmoid": fit_sigmoid, "isotonic": fit_isotonic}


def quality(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """Log loss, Brier score and expected calibration error (10 equal-width bins), as evaluation.json's."""
    table = metrics.ScoreTable.from_arrays(y_true, y_score)
    return {"log_loss": metrics.log_loss(table), "brier_score": metrics.brier_score(table),
            "expected_calibration_error": metrics.calibration_table(table)["expected_calibration_error"]}


def cross_validated(y_true: np.ndarray, y_score: np.ndarray, method: str, *, seed: int = 0) -> np.ndarray:
    """Out-of-fold calibrated probabilities (each row's from a calibrator fitted without it)."""
    from sklearn.model_selection import StratifiedKFold

    out = np.empty(len(y_true), dtype=np.float64)
    for train, held_out in StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed).split(y_score, y_true):
        out[held_out] = calibrated_inference.calibrate(y_score[held_out], FITS[method](y_true[train], y_score[train]))
    return out


@dataclass
class Calibration:
    """What was fitted, why, and how the validation rows' probabilities changed."""

    calibration: dict[str, Any]
    reason: str
    rows: int
    before: dict[str, float]
    after: dict[str, float]  # on the rows it was fitted on (optimistic)
    cross_validated: dict[str, dict[str, float]] = field(default_factory=dict)  # per method considered


def choose(y_true: np.ndarray, y_score: np.ndarray, method: str = "auto", *, seed: int = 0) -> Calibration:
    """Fit the calibrator ``method`` asks for (``auto``: the module's rule) on all the rows."""
    if method not in METHODS:
        raise CalibrationError(f"--method {method!r} is not one of {', '.join(METHODS)}")
    n, positives = len(y_true), int(np.sum(y_true))
    if min(positives, n - positives) < CV_FOLDS:
        raise CalibrationError(f"the validation data holds {positives} positive and {n - positives} negative rows; "
                               f"calibration needs at least {CV_FOLDS} of each (more: hundreds)")
    considered = ["sigmoid", "isotonic"] if method == "auto" else [method]
    if method == "auto" and n < MIN_ISOTONIC_ROWS:
        considered = ["sigmoid"]
    cv = {name: quality(y_true, cross_validated(y_true, y_score, name, seed=seed)) for name in considered}
    if method != "auto":
        chosen, reason = method, f"{method}, as asked"
    elif len(considered) == 1:
        chosen = "sigmoid"
        reason = (f"auto: sigmoid, as {n} validation rows are fewer than the {MIN_ISOTONIC_ROWS} isotonic needs not to "
                  "overfit")
    else:
        chosen = min(considered, key=lambda name: cv[name]["log_loss"])
        reason = (f"auto: {chosen}, the lower {CV_FOLDS}-fold cross-validated log loss (sigmoid "
                  f"{cv['sigmoid']['log_loss']:.4f}, isotonic {cv['isotonic']['log_loss']:.4f})")
    fitted = FITS[chosen](y_true, y_score)
    return Calibration(fitted, reason, n, quality(y_true, y_score),
                       quality(y_true, calibrated_inference.calibrate(y_score, fitted)), cv)


def _members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    """The original archive's regular files (checked as the evaluation checks archives)."""
    with tempfile.TemporaryDirectory(prefix="calibrate-") as folder:
        root = model_archive.extract_model(archive, Path(folder) / "model")
        files = sorted(p for p in root.rglob("*") if p.is_file())
        return [tar_member(p.relative_to(root).as_posix(), p.read_bytes()) for p in files]


def calibrated_archive_bytes(archive: Path, calibration: dict[str, Any]) -> bytes:
    """The calibrated model.tar.gz (deterministic: sorted members, fixed metadata, no gzip timestamp)."""
    members = _members(archive)
    names = {info.name for info, _ in members}
    if ENTRY not in names:
        raise CalibrationError(f"{archive.name} has no {ENTRY}; package the model with python -m pipeline.package")
    if ORIGINAL in names or calibrated_inference.CALIBRATION_FILE in names:
        raise CalibrationError(f"{archive.name} is calibrated already; calibrate the original model instead")
    renamed = [tar_member(ORIGINAL, data) if info.name == ENTRY else (info, data) for info, data in members]
    renamed += [tar_member(ENTRY, WRAPPER_SOURCE.read_bytes()),
                tar_member(calibrated_inference.CALIBRATION_FILE,
                           (json.dumps(calibration, indent=2, allow_nan=False) + "\n").encode())]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in sorted(renamed, key=lambda member: member[0].name):
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)


def _score(archive: Path, validation: Path, scratch: Path) -> scoring.ScoredRows:
    handlers = model_archive.load_serving_handlers(archive, scratch, name=archive.name)
    return scoring.score_files(handlers, validation)


def calibrate_model(archive: str | Path, validation: str | Path, out: str | Path, *, method: str = "auto",
                    seed: int = 0) -> Calibration:
    """Score ``validation`` with ``archive``, fit the calibrator, write the calibrated archive to ``out``
    (atomically) after checking that it serves the calibrated probabilities; returns what was fitted."""
    archive, validation, out = Path(archive), Path(validation), Path(out)
    if out.is_dir():
        raise CalibrationError(f"--out {out} is a folder: pass the archive's file name, e.g. {out / 'calibrated.tar.gz'}")
    if out.exists() and out.resolve() == archive.resolve():
        raise CalibrationError(f"--out {out} would overwrite the model being calibrated; pick another file")
    with tempfile.TemporaryDirectory(prefix="calibrate-") as folder:
        scored = _score(archive, validation, Path(folder) / "original")
        result = choose(scored.y_true, scored.y_score, method, seed=seed)
        data = calibrated_archive_bytes(archive, result.calibration)
        candidate = Path(folder) / "calibrated.tar.gz"
        candidate.write_bytes(data)
        # What is written must serve what was fitted: score the validation rows through the new archive.
        served = _score(candidate, validation, Path(folder) / "calibrated").y_score
        expected = calibrated_inference.calibrate(scored.y_score, result.calibration)
        if not np.allclose(served, expected, rtol=0, atol=1e-9):
            worst = int(np.argmax(np.abs(served - expected)))
            raise CalibrationError(f"the calibrated archive serves {served[worst]!r} for validation row {worst + 1}, not "
                                   f"the calibrated {expected[worst]!r}; its serving code changes the probabilities "
                                   "after predict_fn, which calibration cannot wrap")
    write_bytes_atomic(out, data)
    return result

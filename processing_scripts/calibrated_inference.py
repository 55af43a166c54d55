"""Serving handlers of a calibrated model: the original model's handlers, with its probabilities mapped
through a calibrator fitted on validation data (``python -m pipeline.improve calibrate``).

Packed into the calibrated ``model.tar.gz`` as ``code/inference.py``; the original ``code/inference.py``
is kept beside it as ``code/uncalibrated_inference.py`` and ``calibration.json`` at the archive's root
holds the calibrator, so the original serving contract (its input_fn and output_fn, whatever they are)
is unchanged and only the probabilities change:

* ``sigmoid``: ``p' = 1 / (1 + exp(-(a * logit(p) + b)))`` (Platt scaling of the log-odds; a = 1, b = 0
  leaves the model as it was);
* ``isotonic``: ``p'`` interpolated linearly between the fitted points (scikit-learn's
  ``IsotonicRegression.predict`` with ``out_of_bounds="clip"``).

The original predict_fn's result must be one probability per row (a 1-D array) or scikit-learn's two
columns (P(class 0), P(class 1)); anything else is refused at request time (the container answers 500).
Only the standard library and numpy are used: nothing from the repository.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np

CALIBRATION_FILE = "calibration.json"
ORIGINAL_PROGRAM = "uncalibrated_inference.py"
EPSILON = 1e-12  # probabilities of exactly 0 or 1 have no finite log-odds


def _load_original():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), ORIGINAL_PROGRAM)
    if not os.path.isfile(path):  # this file in the repository, not in a calibrated archive
        return None
    spec = importlib.util.spec_from_file_location("_uncalibrated_inference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pickled objects of the original module find it by name
    spec.loader.exec_module(module)
    return module


_original = _load_original()


class CalibratedModel:
    """What model_fn returns: the original model and the calibrator."""

    def __init__(self, model, calibration: dict) -> None:
        self.model = model
        self.calibration = calibration


def calibrate(probabilities, calibration: dict) -> np.ndarray:
    """Calibrated probabilities of the positive class (same shape as the 1-D input).

    >>> calibrate(np.array([0.2, 0.5]), {"method": "sigmoid", "a": 1.0, "b": 0.0}).round(6).tolist()
    [0.2, 0.5]
    >>> calibrate(np.array([0.0, 0.3, 1.0]), {"method": "isotonic", "x": [0.1, 0.5], "y": [0.05, 0.6]}).round(6).tolist()
    [0.05, 0.325, 0.6]
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if calibration["method"] == "sigmoid":
        clipped = np.clip(p, EPSILON, 1.0 - EPSILON)
        logit = np.log(clipped) - np.log1p(-clipped)
        return 1.0 / (1.0 + np.exp(-(calibration["a"] * logit + calibration["b"])))
    if calibration["method"] == "isotonic":
        return np.interp(p, np.asarray(calibration["x"], dtype=np.float64), np.asarray(calibration["y"], dtype=np.float64))
    raise ValueError(f"{CALIBRATION_FILE}: unknown method {calibration['method']!r}")


def model_fn(model_dir: str) -> CalibratedModel:
    with open(os.path.join(model_dir, CALIBRATION_FILE), encoding="utf-8") as handle:
        calibration = json.load(handle)
    if _original is None:
        raise FileNotFoundError(f"code/{ORIGINAL_PROGRAM} is missing: calibrate the model with python -m pipeline.improve "
                                "calibrate")
    return CalibratedModel(_original.model_fn(model_dir), calibration)


def predict_fn(data, model: CalibratedModel):
    original = getattr(_original, "predict_fn", None)
    raw = original(data, model.model) if original is not None else model.model.predict(data)
    array = np.asarray(raw, dtype=np.float64)
    if array.ndim == 1:
        return calibrate(array, model.calibration)
    if array.ndim == 2 and array.shape[1] == 2:
        positive = calibrate(array[:, 1], model.calibration)
        return np.column_stack([1.0 - positive, positive])
    raise ValueError(f"the calibrated model's predict_fn returned shape {array.shape}; it calibrates one probability "
                     "per row or two columns (P(class 0), P(class 1))")


# The original's decoding and encoding, or (when it has none) the container's defaults.
for _name in ("input_fn", "output_fn"):
    if _original is not None and hasattr(_original, _name):
        globals()[_name] = getattr(_original, _name)

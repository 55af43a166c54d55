"""Platt scaling of the log-odds, fitted by Newton's method (numpy only: the evaluation container and the
calibrate command fit the same map; calibrated_inference.py applies it)."""
from __future__ import annotations

import numpy as np

from .calibrated_inference import EPSILON, calibrate


def logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    return np.log(clipped) - np.log1p(-clipped)


def fit_sigmoid(y_true: np.ndarray, y_score: np.ndarray, *, iterations: int = 100) -> dict:
    """``{"method": "sigmoid", "a", "b"}`` maximising the likelihood of ``y_true`` under
    ``sigmoid(a * logit(score) + b)`` (unpenalised logistic regression on one feature).

    >>> rng = np.random.default_rng(0); p = rng.random(5000); y = (rng.random(5000) < p).astype(int)
    >>> fitted = fit_sigmoid(y, p); round(fitted["a"], 1), abs(round(fitted["b"], 1))
    (1.0, 0.0)
    """
    x = logit(y_score)
    y = np.asarray(y_true, dtype=np.float64)
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        w = np.maximum(p * (1.0 - p), 1e-12)
        gradient = np.array([np.dot(x, y - p), np.sum(y - p)])
        hessian = np.array([[np.dot(w * x, x), np.dot(w, x)], [np.dot(w, x), np.sum(w)]])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:  # separable or constant scores: keep the last finite fit
            break
        # Halve the step while it lowers the likelihood (separable data would diverge otherwise).
        current = _log_likelihood(y, x, a, b)
        scale = 1.0
        while scale > 1e-6 and _log_likelihood(y, x, a + scale * step[0], b + scale * step[1]) < current:
            scale /= 2
        a, b = a + scale * step[0], b + scale * step[1]
        if np.max(np.abs(scale * step)) < 1e-10:
            break
    return {"method": "sigmoid", "a": float(a), "b": float(b)}


def _log_likelihood(y: np.ndarray, x: np.ndarray, a: float, b: float) -> float:
    z = a * x + b
    return float(np.sum(y * z - np.logaddexp(0.0, z)))


def cross_fitted_sigmoid(y_true: np.ndarray, y_score: np.ndarray, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each row recalibrated by a map fitted on the other folds (stratified by label): an honest estimate of
    what recalibration would do on new rows."""
    y = np.asarray(y_true)
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        fold[rows] = rng.permutation(len(rows)) % folds
    out = np.empty(len(y), dtype=np.float64)
    for k in range(folds):
        held = fold == k
        out[held] = calibrate(y_score[held], fit_sigmoid(y[~held], y_score[~held]))
    return out

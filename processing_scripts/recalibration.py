"""Platt scaling of the log-odds, fitted by Newton's method (numpy only: the evaluation container and the
calibrate command fit the same map; calibrated_inference.py applies it)."""
from __future__ import annotations

import numpy as np

from .calibrated_inference import EPSILON, calibrate


def logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(p, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    return np.log(clipped) - np.log1p(-clipped)


MAX_FIT_ROWS = 200_000  # two parameters: more rows do not change the fit that matters, only its cost
MAX_STEP = 4.0  # a Newton step larger than this (separable data) is shortened: a trust region


def fit_sigmoid(y_true: np.ndarray, y_score: np.ndarray, *, iterations: int = 50, seed: int = 0) -> dict:
    """``{"method": "sigmoid", "a", "b"}`` maximising the likelihood of ``y_true`` under
    ``sigmoid(a * logit(score) + b)`` (unpenalised logistic regression on one feature; above
    MAX_FIT_ROWS rows, on a seeded random subset of that many).

    >>> rng = np.random.default_rng(0); p = rng.random(5000); y = (rng.random(5000) < p).astype(int)
    >>> fitted = fit_sigmoid(y, p); round(fitted["a"], 1), abs(round(fitted["b"], 1))
    (1.0, 0.0)
    """
    scores, y = np.asarray(y_score, dtype=np.float64), np.asarray(y_true, dtype=np.float64)
    if len(y) > MAX_FIT_ROWS:
        keep = np.random.default_rng(seed).choice(len(y), MAX_FIT_ROWS, replace=False)
        scores, y = scores[keep], y[keep]
    x = logit(scores)
    a, b = 1.0, 0.0  # the identity map: a calibrated model stays as it is
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        w = p * (1.0 - p)
        residual = y - p
        gradient = np.array([np.dot(x, residual), residual.sum()])
        wx = w * x
        hessian = np.array([[np.dot(wx, x), wx.sum()], [wx.sum(), w.sum()]])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:  # constant scores or one class: keep the last fit
            break
        largest = float(np.max(np.abs(step)))
        if not np.isfinite(largest):
            break
        if largest > MAX_STEP:
            step *= MAX_STEP / largest
        a, b = a + step[0], b + step[1]
        if largest < 1e-10:
            break
    return {"method": "sigmoid", "a": float(a), "b": float(b)}


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
        out[held] = calibrate(y_score[held], fit_sigmoid(y[~held], y_score[~held], seed=seed + k))
    return out

"""The distribution a Model Monitor ``kll.sketch`` stands for: every level, each item with its weight.

A KLL sketch (Deequ's, inside Model Monitor) keeps ``data`` as a list of levels; an item of level ``i``
stands for ``2**i`` values of the column. Below ~2,050 rows there is one level holding every value (in
file order); above, the lower levels hold the last rows and the upper levels the compacted earlier ones,
so reading ``data[0]`` alone reads the end of the file. The CDF is the weight of the items at or below
a value over the total weight, as Deequ's rank map computes it.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .labelled import DataError


class SketchError(DataError):
    """A sketch that does not hold a list of levels of numbers."""


def weighted_items(sketch: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted item values, their weights) of a ``kll.sketch`` object.

    >>> values, weights = weighted_items({"data": [[3.0, 1.0], [2.0]]})
    >>> values.tolist(), weights.tolist()
    ([1.0, 2.0, 3.0], [1.0, 2.0, 1.0])
    """
    levels = sketch.get("data") if isinstance(sketch, Mapping) else None
    if not isinstance(levels, list) or not all(isinstance(level, list) for level in levels):
        raise SketchError("kll.sketch.data is not a list of levels")
    try:
        values = np.concatenate([np.asarray(level, dtype=np.float64) for level in levels] or [np.empty(0)])
    except (TypeError, ValueError):
        raise SketchError("kll.sketch.data holds something that is not a number") from None
    weights = np.concatenate([np.full(len(level), 2.0 ** i) for i, level in enumerate(levels)] or [np.empty(0)])
    if not np.isfinite(values).all():
        raise SketchError("kll.sketch.data holds a value that is not a finite number")
    order = np.argsort(values, kind="stable")
    return values[order], weights[order]


def cdf_at(values: np.ndarray, weights: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Share of the weight at or below each of ``points`` (``values`` sorted).

    >>> cdf_at(np.array([1.0, 2.0]), np.array([1.0, 3.0]), np.array([0.0, 1.0, 5.0])).tolist()
    [0.0, 0.25, 1.0]
    """
    total = float(weights.sum())
    if not total:
        return np.zeros(len(points))
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    return cumulative[np.searchsorted(values, points, side="right")] / total

"""ThresholdObjective=min-cost:fp=C1,fn=C2: the threshold of the lowest expected cost on validation data,
against a brute-force search over every threshold."""
from __future__ import annotations

import numpy as np
import pytest

from processing_scripts import metrics, operating_point as op


def brute_force(y, s, fp_cost, fn_cost):
    """Every distinct score, and "no row positive" when a threshold above the highest is at most 1; the
    highest threshold among ties."""
    candidates = sorted(set(s.tolist()), reverse=True)
    above = float(np.nextafter(max(candidates), np.inf))
    if above <= 1.0:
        candidates = [above] + candidates
    best = None
    for t in candidates:
        predicted = s >= t
        cost = (fp_cost * np.sum(predicted & (y == 0)) + fn_cost * np.sum(~predicted & (y == 1))) / len(y)
        if best is None or cost < best[1] - 1e-15:
            best = (t, cost)
    return best


CASES = [(seed, n, fp, fn) for seed, n in ((0, 50), (1, 500), (2, 7), (3, 2000)) for fp, fn in
         ((1, 1), (1, 5), (5, 1), (0, 1), (1, 0), (1, 1000), (1000, 1))]


@pytest.mark.parametrize("seed,n,fp_cost,fn_cost", CASES)
def test_min_cost_equals_a_brute_force_search(seed, n, fp_cost, fn_cost):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    y[:2] = (0, 1)
    s = np.round(np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1), 2)  # ties, and scores of exactly 0 and 1
    table = metrics.ScoreTable.from_arrays(y, s)
    chosen = op.select_threshold(table, f"min-cost:fp={fp_cost},fn={fn_cost}")
    threshold, cost = brute_force(y, s, fp_cost, fn_cost)
    assert chosen["threshold"] == threshold
    assert chosen["validation_expected_cost"] == pytest.approx(cost, abs=1e-12)
    predicted = s >= 0.5
    at_default = (fp_cost * np.sum(predicted & (y == 0)) + fn_cost * np.sum(~predicted & (y == 1))) / n
    assert chosen["validation_expected_cost_at_default"] == pytest.approx(at_default, abs=1e-12)
    assert chosen["validation_expected_cost"] <= at_default + 1e-12
    curve = chosen["cost_curve"]
    assert len(curve["thresholds"]) <= op.MAX_COST_CURVE_POINTS + 2
    assert min(curve["expected_costs"]) == pytest.approx(cost)


def test_costly_false_positives_choose_no_positive_row_and_costly_false_negatives_every_row():
    y, s = np.array([0, 1, 0, 1, 0]), np.array([0.1, 0.4, 0.5, 0.6, 0.9])
    table = metrics.ScoreTable.from_arrays(y, s)
    none = op.select_threshold(table, "min-cost:fp=1000,fn=1")
    assert none["threshold"] > 0.9 and none["validation_recall"] == 0.0
    every = op.select_threshold(table, "min-cost:fn=1000,fp=1")  # either order
    assert every["threshold"] == 0.4 and every["validation_recall"] == 1.0


@pytest.mark.parametrize("text,fragment", [
    ("min-cost:", "is not one of"), ("min-cost:fp=1", "give both costs"), ("min-cost:fp=1,fp=2", "each once"),
    ("min-cost:fp=-1,fn=2", "fp cost '-1' is not a number of 0 or more"), ("min-cost:fp=1,fn=nan", "fn cost"),
    ("min-cost:fp=0,fn=0", "both costs are 0"), ("min-cost:tp=1,fn=1", "min-cost:fp=C1,fn=C2"),
])
def test_unusable_costs_are_refused_saying_how_to_write_them(text, fragment):
    with pytest.raises(ValueError, match=None) as error:
        op.parse_objective(text)
    assert fragment in str(error.value) and "\n" not in str(error.value)

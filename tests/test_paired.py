"""processing_scripts.paired: paired DeLong AUC difference and paired bootstrap of threshold metrics.

Point values are checked against scikit-learn; DeLong's paired variance against a naive O(n²)
implementation written here from the definition; the multinomial bootstrap against a brute-force
bootstrap that resamples row indices.
"""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from sklearn import metrics as skm

from processing_scripts import metrics, paired, uncertainty


def _scores(rng, y, *, decimals=None, shift=0.3):
    s = np.clip(rng.normal(0.35 + shift * y, 0.2), 0, 1)
    return np.round(s, decimals) if decimals is not None else s


def _naive_delong(y, a, b):
    """DeLong's paired variance from the definition: the full pairwise kernel, covariance matrices."""
    pos, neg = y == 1, y == 0
    components = []
    for s in (a, b):
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)  # positives × negatives
        components.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    (auc_a, a10, a01), (auc_b, b10, b01) = components
    m, n = pos.sum(), neg.sum()
    s10 = np.cov(np.vstack([a10, b10]))
    s01 = np.cov(np.vstack([a01, b01]))
    contrast = np.array([1.0, -1.0])
    variance = contrast @ s10 @ contrast / m + contrast @ s01 @ contrast / n
    return auc_a, auc_b, math.sqrt(max(variance, 0.0))


def _auc_case(seed, n, *, decimals, prevalence=0.5, relation="independent"):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    y[:2], y[-2:] = 0, 1  # at least two of each class
    a = _scores(rng, y, decimals=decimals)
    if relation == "identical":
        b = a.copy()
    elif relation == "correlated":  # a noisy copy: the case where pairing matters
        b = np.clip(np.round(a + rng.normal(0, 0.05, n), decimals or 12), 0, 1)
    elif relation == "reversed":
        b = 1.0 - a
    else:
        b = _scores(rng, y, decimals=decimals, shift=0.15)
    return pytest.param(y, a, b, id=f"seed{seed}-n{n}-d{decimals}-p{prevalence}-{relation}")


AUC_CASES = [
    _auc_case(seed, n, decimals=d, prevalence=p, relation=r)
    for seed, (n, d, p, r) in enumerate(
        [
            (4, 1, 0.5, "independent"),
            (5, 1, 0.5, "correlated"),
            (7, None, 0.3, "independent"),
            (10, 1, 0.5, "identical"),
            (12, 0, 0.5, "independent"),  # scores 0/1 only: massive ties
            (20, 1, 0.2, "correlated"),
            (33, 2, 0.5, "reversed"),
            (50, 1, 0.5, "independent"),
            (64, None, 0.5, "identical"),
            (80, 2, 0.1, "correlated"),
            (101, 1, 0.7, "independent"),
            (150, None, 0.5, "correlated"),
            (200, 2, 0.4, "independent"),
            (257, 1, 0.5, "reversed"),
            (300, 3, 0.05, "correlated"),
            (400, 1, 0.5, "identical"),
        ]
    )
] + [
    pytest.param(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]), np.array([0.9, 0.8, 0.2, 0.1]),
                 id="perfect-vs-perfectly-wrong"),
    pytest.param(np.array([0, 1, 0, 1, 0, 1]), np.full(6, 0.5), np.array([0.5, 0.5, 0.2, 0.8, 0.5, 0.5]),
                 id="all-tied-vs-some"),
    pytest.param(np.array([1, 0, 1, 0]), np.array([0.0, 1.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0, 1.0]),
                 id="scores-at-bounds"),
]


@pytest.mark.parametrize("y, a, b", AUC_CASES)
def test_auc_difference_matches_sklearn_and_naive_delong(y, a, b):
    result = paired.paired_auc_difference(y, a, b)
    assert result["auc_a"] == pytest.approx(skm.roc_auc_score(y, a), abs=1e-12)
    assert result["auc_b"] == pytest.approx(skm.roc_auc_score(y, b), abs=1e-12)
    assert result["difference"] == result["auc_a"] - result["auc_b"]
    naive_a, naive_b, naive_se = _naive_delong(y, a, b)
    assert result["auc_a"] == pytest.approx(naive_a, abs=1e-12)
    assert result["standard_error"] == pytest.approx(naive_se, rel=1e-9, abs=1e-12)
    z = NormalDist().inv_cdf(0.975)
    assert result["lower"] == max(-1.0, result["difference"] - z * result["standard_error"])
    assert result["upper"] == min(1.0, result["difference"] + z * result["standard_error"])
    assert -1.0 <= result["lower"] <= result["difference"] <= result["upper"] <= 1.0
    assert result["method"] == "DeLong paired"
    if np.array_equal(a, b):
        assert result["difference"] == 0.0 and result["standard_error"] == 0.0
        assert result["lower"] == result["upper"] == 0.0


def test_pairing_narrows_the_interval():
    """Correlated models: the paired SE is far below the SE of two independent AUCs combined."""
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.4).astype(int)
    a = _scores(rng, y)
    b = np.clip(a + rng.normal(0, 0.03, len(y)), 0, 1)
    result = paired.paired_auc_difference(y, a, b)
    unpaired = math.hypot(uncertainty.delong(metrics.ScoreTable.from_arrays(y, a))[1],
                          uncertainty.delong(metrics.ScoreTable.from_arrays(y, b))[1])
    assert 0 < result["standard_error"] < unpaired / 3


def test_level_sets_the_width_and_clipping():
    y, a, b = np.array([0, 0, 1, 1, 0, 1]), np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9]), np.array([0.9, 0.5, 0.3, 0.2, 0.7, 0.1])
    narrow = paired.paired_auc_difference(y, a, b, level=0.5)
    wide = paired.paired_auc_difference(y, a, b, level=0.999)
    assert narrow["standard_error"] == wide["standard_error"]
    assert wide["lower"] < narrow["lower"] < narrow["upper"] and wide["upper"] == 1.0  # clipped
    for level in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            paired.paired_auc_difference(y, a, b, level=level)


@pytest.mark.parametrize("y", [[0, 1, 1, 1], [1, 0, 0, 0, 0]])
def test_auc_standard_error_is_nan_with_one_row_of_a_class(y):
    a = np.linspace(0.1, 0.9, len(y))
    result = paired.paired_auc_difference(y, a, a[::-1])
    assert result["auc_a"] == skm.roc_auc_score(y, a)
    assert all(math.isnan(result[k]) for k in ("standard_error", "lower", "upper"))


# --- threshold metrics ---------------------------------------------------------------------------


def _sk_point(y, s, threshold):
    pred = (s >= threshold).astype(int)
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0.0),
        "recall": skm.recall_score(y, pred, zero_division=0.0),
        "f1": skm.f1_score(y, pred, zero_division=0.0),
    }


def _threshold_case(seed, n, ta, tb, *, decimals=2, prevalence=0.5):
    rng = np.random.default_rng(100 + seed)
    y = (rng.random(n) < prevalence).astype(int)
    y[0], y[-1] = 0, 1
    return pytest.param(y, _scores(rng, y, decimals=decimals), _scores(rng, y, decimals=decimals, shift=0.1), ta, tb,
                        id=f"seed{seed}-n{n}-t{ta}-{tb}-p{prevalence}")


THRESHOLD_CASES = [
    _threshold_case(0, 10, 0.5, 0.5),
    _threshold_case(1, 50, 0.3, 0.7),
    _threshold_case(2, 199, 0.5, 0.4, prevalence=0.1),
    _threshold_case(3, 200, 0.5, 0.5, decimals=1),  # thresholds equal to tied scores
    _threshold_case(4, 500, 1.01, 0.5),  # a predicts nothing positive: precision 0 by the policy
    _threshold_case(5, 500, 0.0, 0.99),  # a predicts everything positive, b almost nothing
    _threshold_case(6, 1000, 0.45, 0.45, prevalence=0.9),
]


@pytest.mark.parametrize("y, a, b, ta, tb", THRESHOLD_CASES)
def test_threshold_points_match_sklearn(y, a, b, ta, tb):
    result = paired.paired_threshold_difference(y, a, b, threshold_a=ta, threshold_b=tb, n_resamples=50)
    expected_a, expected_b = _sk_point(y, a, ta), _sk_point(y, b, tb)
    assert set(result) == set(paired.PAIRED_THRESHOLD_METRICS)
    for name, r in result.items():
        assert set(r) == {"a", "b", "difference", "standard_deviation", "lower", "upper"}
        assert r["a"] == pytest.approx(expected_a[name], abs=1e-12)
        assert r["b"] == pytest.approx(expected_b[name], abs=1e-12)
        assert r["difference"] == r["a"] - r["b"]
        if len(y) < uncertainty.MIN_ROWS_FOR_STD:
            assert all(math.isnan(r[k]) for k in ("standard_deviation", "lower", "upper"))
        else:
            assert r["standard_deviation"] >= 0 and r["lower"] <= r["upper"]


def _brute_force(y, a, b, ta, tb, *, n_resamples, seed):
    """The paired bootstrap by definition: resample row indices, recompute both models' metrics
    (vectorised over resamples; the formulas are scikit-learn's with zero_division=0, whose point
    values the test above checks)."""
    rows = np.random.default_rng(seed).integers(0, len(y), (n_resamples, len(y)))
    ya = y[rows] == 1

    def scores(pred):
        p = pred[rows]
        tp, fp, fn = (ya & p).sum(1), (~ya & p).sum(1), (ya & ~p).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "accuracy": (p == ya).mean(1),
                "precision": np.where(tp + fp > 0, tp / (tp + fp), 0.0),
                "recall": np.where(tp + fn > 0, tp / (tp + fn), 0.0),
                "f1": np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
            }

    ra, rb = scores(a >= ta), scores(b >= tb)
    return {name: ra[name] - rb[name] for name in paired.PAIRED_THRESHOLD_METRICS}


# R resamples estimate an SD with relative standard error about 1/sqrt(2R) (near-normal replicates),
# so two independent estimates differ by about 1/sqrt(R) relative: 1.6% at R = 4000; tolerance 8% is
# 5 such errors. A 2.5% quantile from R draws has standard error about sqrt(0.025 * 0.975 / R) / pdf(z)
# = 0.042 SD, so two differ by about 0.06 SD; tolerance 0.3 SD is 5 of those, plus one step 1/n of the
# lattice the replicates live on (accuracy differences are multiples of 1/n, so quantiles jump).
# Seeds are fixed, so the test is deterministic; the margins say it does not pass by luck.
R = 4000
SD_REL_TOL = 0.08
BOUND_TOL_IN_SD = 0.3


@pytest.mark.parametrize(
    "seed, n, ta, tb, prevalence",
    [(0, 300, 0.5, 0.5, 0.5), (1, 600, 0.4, 0.6, 0.3), (2, 250, 0.5, 0.3, 0.15), (3, 2000, 0.6, 0.6, 0.5)],
)
def test_multinomial_bootstrap_matches_row_resampling(seed, n, ta, tb, prevalence):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    a = _scores(rng, y)
    b = np.clip(a + rng.normal(0, 0.15, n), 0, 1)  # correlated, as a champion and challenger are
    result = paired.paired_threshold_difference(y, a, b, threshold_a=ta, threshold_b=tb, n_resamples=R, seed=seed)
    brute = _brute_force(y, a, b, ta, tb, n_resamples=R, seed=seed + 1000)
    for name, values in brute.items():
        sd = np.std(values, ddof=1)
        lower, upper = np.quantile(values, [0.025, 0.975])
        r = result[name]
        assert r["standard_deviation"] == pytest.approx(sd, rel=SD_REL_TOL), name
        assert abs(r["lower"] - lower) < BOUND_TOL_IN_SD * sd + 1 / n, name
        assert abs(r["upper"] - upper) < BOUND_TOL_IN_SD * sd + 1 / n, name
    # Accuracy's difference is a mean of per-row d = correct_a - correct_b: its bootstrap SD is
    # sqrt(var(d) / n) exactly, estimated here from R resamples (relative error 1/sqrt(2R) = 1.1%).
    d = ((a >= ta) == y).astype(float) - ((b >= tb) == y).astype(float)
    assert result["accuracy"]["standard_deviation"] == pytest.approx(np.std(d) / math.sqrt(n), rel=0.08)


def test_bootstrap_is_reproducible_with_the_seed():
    y, a, b, ta, tb = THRESHOLD_CASES[-1].values
    first = paired.paired_threshold_difference(y, a, b, threshold_a=ta, threshold_b=tb, n_resamples=200, seed=7)
    again = paired.paired_threshold_difference(y, a, b, threshold_a=ta, threshold_b=tb, n_resamples=200, seed=7)
    other = paired.paired_threshold_difference(y, a, b, threshold_a=ta, threshold_b=tb, n_resamples=200, seed=8)
    assert first == again
    assert first["f1"]["standard_deviation"] != other["f1"]["standard_deviation"]
    assert all(first[k]["difference"] == other[k]["difference"] for k in first)


@pytest.mark.parametrize("n", [50, 250, 1000])
def test_identical_models_differ_by_exactly_zero(n):
    rng = np.random.default_rng(n)
    y = (rng.random(n) < 0.4).astype(int)
    y[0], y[-1] = 0, 1
    s = _scores(rng, y, decimals=2)
    for name, r in paired.paired_threshold_difference(y, s, s.copy(), threshold_a=0.5, threshold_b=0.5).items():
        assert r["a"] == r["b"] and r["difference"] == 0.0, name
        if n >= uncertainty.MIN_ROWS_FOR_STD:
            assert r["standard_deviation"] == r["lower"] == r["upper"] == 0.0, name
    result = paired.paired_auc_difference(y, s, s.copy())
    assert result["difference"] == result["standard_error"] == 0.0


def test_resamples_with_a_single_class_make_the_deviation_nan():
    y = np.zeros(300, dtype=int)
    y[0] = 1  # one positive: about e^-1 of the resamples have none, and no recall
    s = np.linspace(0, 1, 300)
    result = paired.paired_threshold_difference(y, s, s[::-1], threshold_a=0.5, threshold_b=0.5, n_resamples=100)
    assert math.isnan(result["recall"]["standard_deviation"]) and not math.isnan(result["recall"]["difference"])


def test_too_few_resamples_give_nan_not_an_error():
    y, a, b, ta, tb = THRESHOLD_CASES[-1].values
    for n_resamples in (0, 1):
        result = paired.paired_threshold_difference(y, a, b, threshold_a=ta, threshold_b=tb, n_resamples=n_resamples)
        assert math.isnan(result["f1"]["standard_deviation"]) and not math.isnan(result["f1"]["a"])


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["auc", "threshold"])
@pytest.mark.parametrize(
    "y, a, b, message",
    [
        ([0, 1, 0], [0.1, 0.9], [0.1, 0.9, 0.2], "3 labels, 2 scores of model a and 3 of model b: score both models"),
        ([0, 1], [0.1, 0.9], [0.1, 0.9, 0.2], "2 labels, 2 scores of model a and 3 of model b"),
        ([0, 2], [0.1, 0.9], [0.1, 0.9], "model a: row 2: label 2 is not 0 or 1"),
        ([0, 1], [0.1, 0.9], [0.1, float("nan")], "model b: row 2: score nan is not a finite number"),
        ([0, 1], [-0.1, 0.9], [0.1, 0.9], "model a: row 1: score -0.1 is outside [0, 1]"),
        ([1, 1], [0.1, 0.9], [0.1, 0.9], "model a: only one class"),
        ([], [], [], "no rows to evaluate"),
    ],
)
def test_bad_inputs_are_one_line_value_errors(function, y, a, b, message):
    call = (
        (lambda: paired.paired_auc_difference(y, a, b))
        if function == "auc"
        else (lambda: paired.paired_threshold_difference(y, a, b, threshold_a=0.5, threshold_b=0.5))
    )
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"threshold_a": float("nan"), "threshold_b": 0.5}, "threshold_a nan is not a finite number"),
        ({"threshold_a": 0.5, "threshold_b": float("inf")}, "threshold_b inf is not a finite number"),
        ({"threshold_a": 0.5, "threshold_b": 0.5, "n_resamples": -1}, "n_resamples -1 is not a whole number"),
        ({"threshold_a": 0.5, "threshold_b": 0.5, "n_resamples": 2.5}, "n_resamples 2.5 is not a whole number"),
        ({"threshold_a": 0.5, "threshold_b": 0.5, "level": 95}, "level 95 is not between 0 and 1"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        paired.paired_threshold_difference([0, 1], [0.2, 0.8], [0.3, 0.7], **options)

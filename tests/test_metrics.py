"""Every metric equals scikit-learn's on the same input: table-driven over random and degenerate cases."""
from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from processing_scripts import metrics, uncertainty
from processing_scripts.evaluation_document import build_document

TOL = 1e-9


def _case(name, y, s, threshold=0.5):
    return pytest.param(np.asarray(y), np.asarray(s, dtype=np.float64), threshold, id=name)


def _random(seed, n, *, prevalence=0.5, decimals=None, threshold=0.5):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    y[0], y[-1] = 0, 1  # both classes always present
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    if decimals is not None:
        s = np.round(s, decimals)
    return _case(f"seed{seed}-n{n}-p{prevalence}-d{decimals}-t{threshold}", y, s, threshold)


CASES = [
    _case("two-rows", [0, 1], [0.2, 0.8]),
    _case("two-rows-inverted", [1, 0], [0.2, 0.8]),
    _case("all-equal-scores", [0, 1, 0, 1, 1], [0.5] * 5),
    _case("all-predicted-negative", [0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]),
    _case("all-predicted-positive", [0, 1, 0, 1], [0.6, 0.7, 0.8, 0.9]),
    _case("perfect", [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]),
    _case("perfectly-wrong", [1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]),
    _case("ties-across-classes", [0, 1, 0, 1, 0, 1], [0.3, 0.3, 0.7, 0.7, 0.5, 0.5]),
    _case("scores-at-bounds", [0, 1, 0, 1], [0.0, 1.0, 1.0, 0.0]),
    _case("threshold-on-a-score", [0, 1, 1, 0], [0.25, 0.5, 0.75, 0.5], 0.5),
    _case("threshold-zero", [0, 1, 1, 0], [0.25, 0.5, 0.75, 0.1], 0.0),
    _case("threshold-one", [0, 1, 1, 0], [0.25, 1.0, 0.75, 0.1], 1.0),
    _case("one-positive", [0] * 99 + [1], np.linspace(0, 1, 100)),
    _case("one-negative", [1] * 99 + [0], np.linspace(0, 1, 100)),
    *[_random(seed, n) for seed, n in [(0, 3), (1, 10), (2, 57), (3, 200), (4, 1000), (5, 10_000), (6, 100_000)]],
    *[_random(seed, 2000, decimals=d) for seed, d in [(7, 0), (8, 1), (9, 2), (10, 3)]],
    *[_random(seed, 5000, prevalence=p) for seed, p in [(11, 0.001), (12, 0.01), (13, 0.99), (14, 0.999)]],
    *[_random(seed, 3000, threshold=t) for seed, t in [(15, 0.1), (16, 0.35), (17, 0.9)]],
]


@pytest.mark.parametrize("y, s, threshold", CASES)
def test_point_metrics_equal_sklearn(y, s, threshold):
    doc = build_document(y, s, threshold=threshold, n_bootstrap=0)
    m = doc["binary_classification_metrics"]
    pred = (s >= threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    assert m["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "f0_5": skm.fbeta_score(y, pred, beta=0.5, zero_division=0),
        "f1": skm.f1_score(y, pred, zero_division=0),
        "f2": skm.fbeta_score(y, pred, beta=2, zero_division=0),
        "auc": skm.roc_auc_score(y, s),
        "true_positive_rate": skm.recall_score(y, pred, zero_division=0),
        "true_negative_rate": skm.recall_score(y, pred, pos_label=0, zero_division=0),
        "false_positive_rate": fp / (fp + tn),
        "false_negative_rate": fn / (fn + tp),
    }
    for name, value in expected.items():
        assert m[name]["value"] == pytest.approx(value, abs=TOL), name
    assert doc["average_precision"] == pytest.approx(skm.average_precision_score(y, s), abs=TOL)
    assert doc["log_loss"] == pytest.approx(skm.log_loss(y, s), abs=TOL)
    assert doc["brier_score"] == pytest.approx(skm.brier_score_loss(y, s), abs=TOL)


@pytest.mark.parametrize("y, s, threshold", CASES)
def test_best_constant_classifier_is_the_best_constant(y, s, threshold):
    m = build_document(y, s, threshold=threshold, n_bootstrap=0)["binary_classification_metrics"]
    constants = [np.zeros_like(y), np.ones_like(y)]
    scorers = {
        "accuracy": skm.accuracy_score,
        "precision": lambda a, b: skm.precision_score(a, b, zero_division=0),
        "recall": lambda a, b: skm.recall_score(a, b, zero_division=0),
        "f0_5": lambda a, b: skm.fbeta_score(a, b, beta=0.5, zero_division=0),
        "f1": lambda a, b: skm.f1_score(a, b, zero_division=0),
        "f2": lambda a, b: skm.fbeta_score(a, b, beta=2, zero_division=0),
    }
    for name, scorer in scorers.items():
        best = max(scorer(y, c) for c in constants)
        assert m[f"{name}_best_constant_classifier"]["value"] == pytest.approx(best, abs=TOL), name


@pytest.mark.parametrize("y, s, threshold", CASES)
def test_full_curves_equal_sklearn(y, s, threshold):
    scores = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(y, s))
    fpr, tpr, thr = skm.roc_curve(y, s, drop_intermediate=False)
    roc = metrics.roc_curve_points(scores)
    np.testing.assert_allclose(roc["false_positive_rates"], fpr, atol=TOL)
    np.testing.assert_allclose(roc["true_positive_rates"], tpr, atol=TOL)
    np.testing.assert_array_equal(roc["thresholds"], thr)
    precision, recall, pr_thr = skm.precision_recall_curve(y, s)
    pr = metrics.precision_recall_points(scores)
    np.testing.assert_allclose(pr["precisions"], precision, atol=TOL)
    np.testing.assert_allclose(pr["recalls"], recall, atol=TOL)
    np.testing.assert_array_equal(pr["thresholds"], pr_thr)


@pytest.mark.parametrize("y, s, threshold", CASES)
def test_json_curves_are_exact_points_and_small(y, s, threshold):
    m = build_document(y, s, threshold=threshold, n_bootstrap=0)["binary_classification_metrics"]
    roc = m["receiver_operating_characteristic_curve"]
    fpr, tpr = np.array(roc["false_positive_rates"]), np.array(roc["true_positive_rates"])
    assert len(fpr) == len(tpr) <= 1002
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    full_fpr, full_tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    on_curve = {(round(a, 12), round(b, 12)) for a, b in zip(full_fpr, full_tpr)}
    assert all((round(a, 12), round(b, 12)) in on_curve for a, b in zip(fpr, tpr))
    pr = m["precision_recall_curve"]
    assert len(pr["precisions"]) == len(pr["recalls"]) <= 1002
    # Model Monitor's order: from the highest threshold down, recalls ascending from (recall 0, precision 1).
    assert pr["recalls"][0] == 0.0 and pr["precisions"][0] == 1.0
    assert np.all(np.diff(pr["recalls"]) >= 0) and pr["recalls"][-1] == 1.0
    full_precision, full_recall, _ = skm.precision_recall_curve(y, s)
    on_pr = {(round(a, 12), round(b, 12)) for a, b in zip(full_precision, full_recall)}
    assert all((round(a, 12), round(b, 12)) in on_pr for a, b in zip(pr["precisions"], pr["recalls"]))


@pytest.mark.parametrize("y, s, threshold", CASES)
def test_calibration_bins_equal_sklearn(y, s, threshold):
    table = metrics.calibration_table(metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(y, s)))
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    filled = [b for b in table["bins"] if b["count"]]
    np.testing.assert_allclose([b["fraction_positive"] for b in filled], prob_true, atol=TOL)
    np.testing.assert_allclose([b["mean_predicted"] for b in filled], prob_pred, atol=TOL)
    assert sum(b["count"] for b in table["bins"]) == len(y)
    expected_ece = sum(b["count"] / len(y) * abs(b["fraction_positive"] - b["mean_predicted"]) for b in filled)
    assert table["expected_calibration_error"] == pytest.approx(expected_ece, abs=TOL)


SMALL_CASES = [c for c in CASES if len(np.unique(c.values[1])) <= 300]


@pytest.mark.parametrize("y, s, threshold", SMALL_CASES)
def test_operating_points_are_the_best_thresholds(y, s, threshold):
    # Brute force over every distinct score with scikit-learn: only for cases with few distinct scores.
    points = build_document(y, s, threshold=threshold, n_bootstrap=0)["operating_points"]
    candidates = np.unique(s)
    f1s = [skm.f1_score(y, s >= t, zero_division=0) for t in candidates]
    assert points["max_f1"]["f1"] == pytest.approx(max(f1s), abs=TOL)
    assert skm.f1_score(y, s >= points["max_f1"]["threshold"], zero_division=0) == pytest.approx(max(f1s), abs=TOL)
    fpr, tpr, _ = skm.roc_curve(y, s)
    assert points["max_youden_j"]["youden_j"] == pytest.approx(np.max(tpr - fpr), abs=TOL)
    for point in points["precision_at_recall"]:
        eligible = [skm.precision_score(y, s >= t, zero_division=0) for t in candidates
                    if skm.recall_score(y, s >= t) >= point["recall_at_least"]]
        assert point["precision"] == pytest.approx(max(eligible), abs=TOL)


def test_delong_matches_the_textbook_formula():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    s = np.round(rng.random(400) * 0.5 + 0.3 * y, 2)
    scores = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(y, s))
    auc, se = uncertainty.delong(scores)
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    expected = math.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    assert auc == pytest.approx(skm.roc_auc_score(y, s), abs=TOL)
    assert se == pytest.approx(expected, rel=1e-12)


def noisy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Balanced labels and scores that separate the classes a little."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)


def test_bootstrap_sd_of_accuracy_is_close_to_the_binomial_sd():
    n = 5000
    y, s = noisy(n, 0)
    doc = build_document(y, s, n_bootstrap=2000, seed=1)
    accuracy = doc["binary_classification_metrics"]["accuracy"]
    binomial_sd = math.sqrt(accuracy["value"] * (1 - accuracy["value"]) / n)
    assert accuracy["standard_deviation"] == pytest.approx(binomial_sd, rel=0.1)
    auc = doc["binary_classification_metrics"]["auc"]
    assert auc["standard_deviation"] == pytest.approx(doc["confidence_intervals"]["auc_delong"]["standard_deviation"], rel=0.15)
    ci = doc["confidence_intervals"]["metrics"]["auc"]
    assert ci["lower"] < auc["value"] < ci["upper"]


def test_histogram_bootstrap_is_close_to_row_resampling():
    rng = np.random.default_rng(5)
    n = 20_000
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.4 + 0.15 * y, 0.2), 0, 1)  # ~20k distinct scores: histogram method
    doc = build_document(y, s, n_bootstrap=400, seed=2)
    assert "bin score histogram" in doc["confidence_intervals"]["method"]
    replicate_aucs = []
    for _ in range(200):
        i = rng.integers(0, n, n)
        replicate_aucs.append(skm.roc_auc_score(y[i], s[i]))
    assert doc["binary_classification_metrics"]["auc"]["standard_deviation"] == pytest.approx(np.std(replicate_aucs, ddof=1), rel=0.2)


def test_bootstrap_is_reproducible_and_seeded():
    y = np.r_[np.zeros(300), np.ones(300)].astype(int)
    s = np.linspace(0, 1, 600)
    a = build_document(y, s, n_bootstrap=100, seed=4)
    b = build_document(y, s, n_bootstrap=100, seed=4)
    c = build_document(y, s, n_bootstrap=100, seed=5)
    assert a["confidence_intervals"] == b["confidence_intervals"]
    assert a["confidence_intervals"] != c["confidence_intervals"]


@pytest.mark.parametrize("n", [1, 2, 199])
def test_standard_deviation_is_nan_below_200_rows(n):
    y = np.arange(max(n, 2)) % 2
    s = np.linspace(0.1, 0.9, len(y))
    m = build_document(y, s, n_bootstrap=100)["binary_classification_metrics"]
    assert all(math.isnan(v["standard_deviation"]) for v in m.values() if isinstance(v, dict) and "standard_deviation" in v)


def test_standard_deviation_is_nan_when_a_resample_can_have_one_class():
    y = np.zeros(500, dtype=int)
    y[0] = 1  # P(a resample has no positive) = (1 - 1/500)^500 ≈ 37%
    s = np.linspace(0, 1, 500)
    m = build_document(y, s, n_bootstrap=200)["binary_classification_metrics"]
    assert math.isnan(m["auc"]["standard_deviation"]) and math.isnan(m["recall"]["standard_deviation"])


@pytest.mark.parametrize(
    "y, s, message",
    [
        ([], [], "no rows"),
        ([0, 1], [0.5], "2 labels but 1 scores"),
        ([1, 1, 1], [0.1, 0.5, 0.9], "only one class (label 1)"),
        ([0, 0], [0.1, 0.5], "only one class (label 0)"),
        ([0, 2], [0.1, 0.5], "row 2: label 2"),
        ([0, 1], [0.1, float("nan")], "row 2: score nan is not a finite number"),
        ([0, 1], [float("inf"), 0.2], "row 1: score inf"),
        ([0, 1], [0.1, 1.5], "outside [0, 1]"),
        ([0, 1], [-0.1, 0.5], "outside [0, 1]"),
    ],
)
def test_validator_rejects_degenerate_input(y, s, message):
    with pytest.raises(metrics.InputError) as error:
        metrics.check_binary_inputs(y, s)
    assert message in str(error.value) and "\n" not in str(error.value)


def _sklearn_reference(y, s, threshold):
    """Every point metric as scikit-learn computes it, with its default zero_division behaviour."""
    import warnings

    pred = (s >= threshold).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning: the value is still scikit-learn's 0.0
        tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
        return {
            "confusion": (tn, fp, fn, tp),
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred),
            "recall": skm.recall_score(y, pred),
            "f0_5": skm.fbeta_score(y, pred, beta=0.5),
            "f1": skm.f1_score(y, pred),
            "f2": skm.fbeta_score(y, pred, beta=2),
            "auc": skm.roc_auc_score(y, s),
            "true_negative_rate": skm.recall_score(y, pred, pos_label=0),
            "average_precision": skm.average_precision_score(y, s),
            "log_loss": skm.log_loss(y, s),
            "brier_score": skm.brier_score_loss(y, s),
            "roc": skm.roc_curve(y, s, drop_intermediate=False),
            "pr": skm.precision_recall_curve(y, s),
        }


@pytest.mark.parametrize("seed", range(60))
def test_many_random_inputs_equal_sklearn_defaults(seed):
    # Random size, prevalence, rounding (ties) and threshold per seed; scikit-learn's default arguments.
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.choice([2, 3, 5, 17, 100, 999, 4000]))
    y = (rng.random(n) < rng.choice([0.02, 0.3, 0.5, 0.9])).astype(int)
    y[rng.integers(n)] = 0
    y[(np.flatnonzero(y == 0)[0] + 1) % n] = 1  # both classes, wherever they fall
    s = rng.beta(2, 2, n) * 0.5 + 0.4 * y
    s = np.round(s, int(rng.integers(1, 8))) if rng.random() < 0.7 else s
    threshold = float(rng.choice([0.0, 0.3, 0.5, float(s[0]), 1.0]))
    ref = _sklearn_reference(y, s, threshold)
    doc = build_document(y, s, threshold=threshold, n_bootstrap=0)
    m = doc["binary_classification_metrics"]
    tn, fp, fn, tp = ref["confusion"]
    assert m["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    for name in ("accuracy", "precision", "recall", "f0_5", "f1", "f2", "auc", "true_negative_rate"):
        assert m[name]["value"] == pytest.approx(ref[name], abs=TOL), name
    assert m["true_positive_rate"]["value"] == pytest.approx(ref["recall"], abs=TOL)
    assert m["false_positive_rate"]["value"] == pytest.approx(1 - ref["true_negative_rate"], abs=TOL)
    assert m["false_negative_rate"]["value"] == pytest.approx(1 - ref["recall"], abs=TOL)
    for name in ("average_precision", "log_loss", "brier_score"):
        assert doc[name] == pytest.approx(ref[name], abs=TOL), name
    table = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(y, s))
    roc, pr = metrics.roc_curve_points(table), metrics.precision_recall_points(table)
    for ours, theirs in zip((roc["false_positive_rates"], roc["true_positive_rates"], roc["thresholds"]), ref["roc"]):
        np.testing.assert_allclose(ours, theirs, atol=TOL)
    for ours, theirs in zip((pr["precisions"], pr["recalls"], pr["thresholds"]), ref["pr"]):
        np.testing.assert_allclose(ours, theirs, atol=TOL)


@pytest.mark.parametrize("seed", range(20))
def test_score_table_counts_every_row(seed):
    # The one-sort construction (label in the sign bit) against a plain per-class np.unique.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 3000))
    y = rng.integers(0, 2, n).astype(np.int8)
    y[:2] = [0, 1]
    s = np.round(rng.random(n), int(rng.integers(0, 4)))
    s[rng.random(n) < 0.05] = -0.0  # a valid score whose sign bit is set
    table = metrics.ScoreTable.from_arrays(*metrics.check_binary_inputs(y, s))
    values = np.unique(s)
    np.testing.assert_array_equal(table.values, values)
    for label, counts in ((1, table.pos), (0, table.neg)):
        expected = np.array([np.count_nonzero((s == v) & (y == label)) for v in values])
        np.testing.assert_array_equal(counts, expected)
    assert not np.signbit(table.values).any()


def test_negative_zero_ties_with_zero():
    y, s = np.array([1, 0, 0, 1]), np.array([-0.0, 0.0, 0.3, 0.7])
    m = build_document(y, s, n_bootstrap=0)["binary_classification_metrics"]
    assert m["auc"]["value"] == skm.roc_auc_score(y, s) == 0.625


def test_extreme_imbalance_at_100k_rows():
    rng = np.random.default_rng(9)
    n = 100_000
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, 3, replace=False)] = 1
    s = rng.random(n)
    ref = _sklearn_reference(y, s, 0.5)
    doc = build_document(y, s, n_bootstrap=200)
    m = doc["binary_classification_metrics"]
    for name in ("accuracy", "precision", "recall", "f1", "auc"):
        assert m[name]["value"] == pytest.approx(ref[name], abs=TOL), name
    assert doc["average_precision"] == pytest.approx(ref["average_precision"], abs=TOL)
    # 3 positives: many resamples hold none, so no SD can be estimated.
    assert math.isnan(m["auc"]["standard_deviation"]) and math.isnan(m["recall"]["standard_deviation"])


def test_histogram_bootstrap_is_centred_on_the_exact_value():
    y, s = noisy(50_000, 11)
    doc = build_document(y, s, n_bootstrap=500, seed=3)
    assert "-bin score histogram" in doc["confidence_intervals"]["method"]
    for name in ("auc", "average_precision", "log_loss", "brier_score"):
        value = doc["binary_classification_metrics"][name]["value"] if name == "auc" else doc[name]
        ci = doc["confidence_intervals"]["metrics"][name]
        half_width = (ci["upper"] - ci["lower"]) / 2
        assert abs((ci["upper"] + ci["lower"]) / 2 - value) < 0.2 * half_width, name


# --- the metric catalog: one declaration, the formulas agree with it -------------------------------------


def test_every_declared_metric_has_a_formula_and_every_formula_is_declared():
    from processing_scripts import metric_catalog as catalog

    table = metrics.ScoreTable.from_arrays(np.array([0, 1, 1, 0]), np.array([0.2, 0.7, 0.4, 0.5]))
    assert set(metrics.threshold_metrics(1, 1, 1, 1)) == set(catalog.names(kind=catalog.THRESHOLD))
    assert set(metrics.score_metrics(table)) == set(catalog.names(kind=catalog.SCORE))
    assert set(metrics.best_constant_metrics(2, 2)) == set(catalog.names(best_constant=True))
    assert len({m.name for m in catalog.METRICS}) == len(catalog.METRICS)


def test_the_document_and_its_intervals_hold_exactly_the_declared_metrics():
    from processing_scripts import metric_catalog as catalog

    doc = build_document(*noisy(400, 8), n_bootstrap=20)
    body = doc["binary_classification_metrics"]
    constants = [catalog.best_constant_name(n) for n in catalog.names(best_constant=True)]
    scalars = [k for k, v in body.items() if isinstance(v, dict) and "value" in v]
    assert scalars == [*catalog.names(section=catalog.BODY), *constants]  # in the declared order
    assert all(isinstance(doc[name], float) for name in catalog.names(section=catalog.TOP))
    assert set(doc["confidence_intervals"]["metrics"]) == {m.name for m in catalog.METRICS} | set(constants)
    for spec in catalog.METRICS:  # the paths the gate reads exist
        for path in (spec.value_path, spec.lower_bound_path):
            node = doc
            for key in path.split("."):
                node = node[key]
            assert isinstance(node, float), path


def test_the_delong_interval_uses_the_declared_confidence_level():
    doc = build_document(*noisy(300, 9), n_bootstrap=0)
    auc, delong = doc["binary_classification_metrics"]["auc"]["value"], doc["confidence_intervals"]["auc_delong"]
    z = NormalDist().inv_cdf(0.5 + uncertainty.CONFIDENCE_LEVEL / 2)
    assert doc["confidence_intervals"]["level"] == uncertainty.CONFIDENCE_LEVEL
    assert delong["lower"] == auc - z * delong["standard_deviation"]
    assert delong["upper"] == auc + z * delong["standard_deviation"]


@pytest.mark.parametrize("level, z", [(0.95, 1.959963984540054), (0.9, 1.6448536269514722), (0.99, 2.5758293035489)])
def test_normal_quantile_follows_the_level(level, z):
    assert uncertainty.normal_quantile(level) == pytest.approx(z, rel=1e-12)

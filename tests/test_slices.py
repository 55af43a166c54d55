"""processing_scripts.slices: the slice findings.

Per-slice numbers against scikit-learn and the project's own DeLong (uncertainty.delong, paired), the
closed-form "rest" against the direct computation, the Holm correction on random (independent) slice
columns, planted bad slices and a champion better on one slice, degenerate inputs, and the reader's
levels and one-line errors.
"""
from __future__ import annotations

import gzip
import json
from statistics import NormalDist

import numpy as np
import pytest
from sklearn import metrics as skm

from processing_scripts import metrics, paired, slices, uncertainty
from processing_scripts.text_files import DataError
from tests.helpers import assert_one_line


def _write(path, y, features, *, missing=()):
    """A label-first CSV: label, then each feature column (integers; NaN written as an empty field)."""
    columns = [np.asarray(y).astype(int).astype(str)]
    for values in features:
        text = np.array([("" if np.isnan(v) else f"{v:g}") for v in np.asarray(values, dtype=float)])
        columns.append(text)
    path.write_text("\n".join(",".join(row) for row in zip(*columns)) + "\n")
    return path


def _data(seed, n=3000, *, columns=4, levels=4, prevalence=0.4, decimals=None):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int8)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    if decimals is not None:
        s = np.round(s, decimals)
    features = [rng.integers(0, levels, n).astype(float) for _ in range(columns)]
    return rng, y, s, features


def _read(tmp_path, y, features, **options):
    path = _write(tmp_path / "test.csv", y, features)
    return slices.read_slice_columns([path], expected_rows=len(y), shown=lambda p: p.name, **options)


def _analyse(tmp_path, y, s, features, **options):
    return slices.slice_analysis(y, s, _read(tmp_path, y, features), threshold=0.5, **options)


# --- the numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [
    dict(seed=0),
    dict(seed=1, decimals=1),  # heavy ties
    dict(seed=2, prevalence=0.1, n=4000),
    dict(seed=3, levels=2),
])
def test_per_slice_numbers_equal_scikit_learn_and_delong(tmp_path, case):
    seed = case.pop("seed")
    _, y, s, features = _data(seed, columns=2, **case)
    features[1][::7] = np.nan  # a missing level
    result = _analyse(tmp_path, y, s, features)
    assert result["slices"], result
    z = NormalDist().inv_cdf(0.975)
    for entry in result["slices"]:
        column = features[int(entry["column"][2:]) - 1]
        rows = np.isnan(column) if entry["missing"] else column == float(entry["level"])
        assert entry["rows"] == rows.sum() and entry["positives"] == y[rows].sum()
        assert entry["auc"] == pytest.approx(skm.roc_auc_score(y[rows], s[rows]), abs=1e-12)
        assert entry["rest"]["auc"] == pytest.approx(skm.roc_auc_score(y[~rows], s[~rows]), abs=1e-12)
        auc, se = uncertainty.delong(metrics.ScoreTable.from_arrays(y[rows], s[rows]))
        rest_auc, rest_se = uncertainty.delong(metrics.ScoreTable.from_arrays(y[~rows], s[~rows]))
        assert entry["auc_standard_error"] == pytest.approx(se, rel=1e-9)
        assert entry["auc_lower"] == pytest.approx(max(0, auc - z * se), abs=1e-9)
        predicted = s[rows] >= 0.5
        assert entry["recall"] == pytest.approx(skm.recall_score(y[rows], predicted))
        assert entry["precision"] == pytest.approx(skm.precision_score(y[rows], predicted, zero_division=0))
        assert entry["f1"] == pytest.approx(skm.f1_score(y[rows], predicted, zero_division=0))
        assert entry["rest"]["recall"] == pytest.approx(skm.recall_score(y[~rows], s[~rows] >= 0.5))
        d = entry["difference"]
        assert entry["tested"] and d["value"] == pytest.approx(auc - rest_auc, abs=1e-12)
        assert d["standard_error"] == pytest.approx(np.hypot(se, rest_se), rel=1e-9)
        assert d["p_value"] == pytest.approx(NormalDist().cdf(d["value"] / d["standard_error"]), rel=1e-9)
    # Holm: the adjusted p-values are the step-down maxima of (m - i + 1) p_(i).
    raw = sorted(e["difference"]["p_value"] for e in result["slices"])
    m = len(raw)
    expected = np.minimum(1, np.maximum.accumulate([(m - i) * p for i, p in enumerate(raw)]))
    assert sorted(e["difference"]["adjusted_p_value"] for e in result["slices"]) == pytest.approx(expected)
    json.dumps(result, allow_nan=False)


@pytest.mark.parametrize("share, decimals", [(0.01, None), (0.2, 2), (0.5, 1), (0.7, None), (0.97, 2)])
def test_closed_form_rest_equals_the_direct_computation(share, decimals):
    rng = np.random.default_rng(int(share * 100))
    n = 2000
    y = (rng.random(n) < 0.3).astype(np.int8)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
    s = np.round(s, decimals) if decimals else s
    inside = rng.random(n) < share
    whole = slices._Whole.of(y, s)
    rows = whole.order[inside[whole.order]]
    g_all = whole.grid[rows]
    starts = slices._runs(g_all)
    sp = np.add.reduceat(y[rows].astype(np.int64), starts)
    sn = np.diff(np.append(starts, len(rows))) - sp
    own, closed = slices._delongs(whole, g_all[starts], sp, sn, closed_form=True)
    _, direct = slices._delongs(whole, g_all[starts], sp, sn, closed_form=False)
    expected = uncertainty.delong(metrics.ScoreTable.from_arrays(y[~inside], s[~inside]))
    assert closed == pytest.approx(direct, rel=1e-7) and direct == pytest.approx(expected, rel=1e-12)
    assert own == pytest.approx(uncertainty.delong(metrics.ScoreTable.from_arrays(y[inside], s[inside])), rel=1e-9)


def test_champion_differences_equal_the_paired_delong(tmp_path):
    rng, y, s, features = _data(4, decimals=2)
    b = np.clip(np.round(s + rng.normal(0, 0.1, len(y)), 2), 0, 1)
    result = _analyse(tmp_path, y, s, features, champion_scores=b)
    whole = paired.paired_auc_difference(y, s, b)
    assert result["overall"]["champion"]["difference"] == pytest.approx(whole["difference"], abs=1e-12)
    assert result["overall"]["champion"]["standard_error"] == pytest.approx(whole["standard_error"], rel=1e-9)
    for entry in result["slices"]:
        rows = features[int(entry["column"][2:]) - 1] == float(entry["level"])
        expected = paired.paired_auc_difference(y[rows], s[rows], b[rows])
        c = entry["champion"]
        assert c["tested"] and c["auc_champion"] == pytest.approx(expected["auc_b"], abs=1e-12)
        assert c["difference"] == pytest.approx(expected["difference"], abs=1e-12)
        assert (c["lower"], c["upper"]) == pytest.approx((expected["lower"], expected["upper"]), abs=1e-9)
        assert c["p_value"] == pytest.approx(NormalDist().cdf(c["difference"] / c["standard_error"]), rel=1e-9)
    assert result["tests"]["champion_slice"] == len(result["slices"])


# --- findings -------------------------------------------------------------------------------------------


def test_random_slice_columns_give_no_finding(tmp_path):
    """20 columns independent of everything, 8 seeds: Holm keeps the family-wise error at 5%, while
    uncorrected one-sided tests at 5% would flag some slice in every seed."""
    seeds_with_findings, smallest_raw = 0, []
    for seed in range(8):
        _, y, s, features = _data(100 + seed, n=2000, columns=20, levels=3)
        result = _analyse(tmp_path, y, s, features)
        assert result["tests"]["slice"] == 60
        seeds_with_findings += bool(result["findings"])
        smallest_raw.append(min(e["difference"]["p_value"] for e in result["slices"]))
    assert seeds_with_findings <= 1
    assert sum(p < 0.05 for p in smallest_raw) >= 6  # without the correction these would be findings


def test_a_planted_bad_slice_is_found_with_its_column_and_level(tmp_path):
    rng, y, s, features = _data(15, n=4000, columns=5, levels=5)
    bad = features[1] == 3  # _c2 = 3: the model's scores are noise there
    s[bad] = rng.random(bad.sum())
    result = _analyse(tmp_path, y, s, features)
    [finding] = result["findings"]
    assert (finding["kind"], finding["column"], finding["level"], finding["value"]) == ("slice", "_c2", "3", 3)
    assert finding["auc"] < 0.6 < finding["auc_rest"] and finding["adjusted_p_value"] < 1e-6
    entry = next(e for e in result["slices"] if (e["column"], e["level"]) == ("_c2", "3"))
    assert finding["evidence"].startswith(f"_c2 = 3: AUC {entry['auc']:.3f} (95% CI ")
    assert f"on {entry['rows']:,} rows" in finding["evidence"] and "Holm-adjusted p < 1e-12" in finding["evidence"]
    assert "where _c2 = 3" in finding["action"] and set(finding) >= {"finding", "evidence", "action"}
    assert result["tests"]["slice"] == 25


def test_a_bad_missing_slice_says_missing(tmp_path):
    rng, y, s, features = _data(6, n=3000, columns=2)
    features[0][:600] = np.nan
    s[:600] = rng.random(600)
    result = _analyse(tmp_path, y, s, features)
    [finding] = result["findings"]
    assert (finding["column"], finding["level"], finding["value"], finding["missing"]) == ("_c1", "missing", None, True)
    assert finding["evidence"].startswith("_c1 is missing: AUC") and "why _c1 is missing" in finding["action"]


def test_a_champion_better_on_one_slice_is_found(tmp_path):
    """The challenger ranks better than the champion everywhere but on _c4 = 1, where it lost its ranking."""
    rng, y, s, features = _data(7, n=4000, columns=4, levels=6)
    champion = np.clip(s + rng.normal(0, 0.15, len(y)), 0, 1)
    challenger = s.copy()
    worse = features[3] == 1
    challenger[worse] = np.clip(s[worse] + rng.normal(0, 0.5, worse.sum()), 0, 1)
    result = _analyse(tmp_path, y, challenger, features, champion_scores=champion)
    kinds = {(f["kind"], f["column"], f["level"]) for f in result["findings"]}
    assert ("champion_slice", "_c4", "1") in kinds and all(f[1:] == ("_c4", "1") for f in kinds), kinds
    finding = next(f for f in result["findings"] if f["kind"] == "champion_slice")
    assert finding["auc_champion"] > finding["auc_challenger"] and finding["upper"] < 0
    assert "paired DeLong" in finding["evidence"] and "keep the champion" in finding["action"]
    # The same model as its own champion: no difference anywhere.
    same = _analyse(tmp_path, y, champion, features, champion_scores=champion)
    assert not [f for f in same["findings"] if f["kind"] == "champion_slice"]
    assert all(e["champion"]["difference"] == 0 for e in same["slices"])


# --- degenerate inputs ----------------------------------------------------------------------------------


def test_small_and_one_class_slices_are_listed_not_tested(tmp_path):
    rng, y, s, features = _data(8, n=2000, columns=1, levels=3)
    features[0][y == 1] = np.where(features[0][y == 1] == 2, 1, features[0][y == 1])  # level 2: negatives only
    features[0][:30] = 7  # 30 rows
    s[features[0] == 2] = rng.random((features[0] == 2).sum())
    result = _analyse(tmp_path, y, s, features)
    by_level = {e["level"]: e for e in result["slices"]}
    assert by_level["2"]["positives"] == 0 and by_level["2"]["auc"] is None and by_level["2"]["recall"] is None
    assert not by_level["2"]["tested"] and "0 positives in the slice" in by_level["2"]["not_tested"]
    assert by_level["7"]["not_tested"] == "30 rows in the slice, fewer than 50"
    assert by_level["0"]["tested"] and result["tests"]["slice"] == 2 and not result["findings"]
    json.dumps(result, allow_nan=False)


def test_columns_that_cannot_be_sliced_are_skipped_with_the_reason(tmp_path):
    rng, y, s, _ = _data(9, n=500)
    constant, wide, allowed = np.ones(500), rng.normal(size=500).round(3), rng.integers(0, 19, 500).astype(float)
    allowed[::50] = np.nan  # 19 values + missing: 20 levels, the most allowed
    too_many = rng.integers(0, 20, 500).astype(float)
    too_many[::50] = np.nan  # 21 levels
    columns = _read(tmp_path, y, [constant, wide, allowed, too_many])
    assert [c.name for c in columns.columns] == ["_c3"] and len(columns.columns[0].levels) == 20
    assert dict(columns.skipped) == {"_c1": "one value on every row", "_c2": "more than 20 distinct values",
                                     "_c4": "more than 20 distinct values"}
    none = slices.slice_analysis(y, s, _read(tmp_path, y, [wide]), threshold=0.5)
    assert (none["slices"], none["findings"], none["tests"]) == ([], [], {"slice": 0, "champion_slice": 0})
    assert none["skipped_columns"] == [{"column": "_c1", "reason": "more than 20 distinct values"}]
    assert none["method"].startswith("Slices: ") and "\n" not in none["method"]


def test_the_rows_must_match_the_predictions():
    column = slices.SliceColumn("_c1", np.zeros(3, dtype=np.int16), ("0",), (0,))
    columns = slices.SliceColumns((column,), 3, np.zeros(3, dtype=np.int8), ("t.csv",), (), 20)
    with pytest.raises(ValueError, match="3 test rows were sliced but there are 4 predictions"):
        slices.slice_analysis([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], columns, threshold=0.5)


# --- the reader -----------------------------------------------------------------------------------------


def test_levels_are_values_not_spellings(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'1,1,red, a\r\n\r\n0,1.0,blue,b\n1," 1",red,\n0,2,,a\n1,-0,red,nan\n0,0,blue,b\n1,0, ,a\n')
    columns = slices.read_slice_columns([path], expected_rows=7, shown=lambda p: p.name)
    c1, c2, c3 = columns.columns
    assert (c1.levels, c1.values, c1.codes.tolist()) == (("0", "1", "2"), (0, 1, 2), [1, 1, 1, 2, 0, 0, 0])
    assert (c2.levels, c2.values, c2.codes.tolist()) == (("blue", "red", "missing"), ("blue", "red", None),
                                                         [1, 0, 1, 2, 1, 0, 2])
    assert c3.levels == ("a", "b", "missing") and c3.codes.tolist() == [0, 1, 2, 0, 2, 1, 0]
    assert columns.labels.tolist() == [1, 0, 1, 0, 1, 0, 1] and columns.files == ("t.csv",)


def test_files_are_read_in_order_block_by_block(tmp_path):
    rng, y, _, features = _data(10, n=3000, columns=3, levels=5)
    features[2][2500:] = rng.integers(0, 100, 500)  # high-cardinality only after the first blocks
    _write(tmp_path / "a.csv", y[:1000], [f[:1000] for f in features])
    _write(tmp_path / "b.csv", y[1000:], [f[1000:] for f in features])
    files = [tmp_path / "a.csv", tmp_path / "b.csv"]
    columns = slices.read_slice_columns(files, expected_rows=3000, expected_labels=y, block_bytes=4096)
    assert [c.name for c in columns.columns] == ["_c1", "_c2"] and columns.skipped == (("_c3", "more than 20 distinct values"),)
    assert columns.columns[1].codes.tolist() == features[1].astype(int).tolist()
    assert columns.labels.tolist() == y.tolist()


def test_a_row_count_that_differs_is_one_line_naming_the_file_and_fix(tmp_path):
    _, y, _, features = _data(11, n=100)
    path = _write(tmp_path / "test.csv", y, features)
    with pytest.raises(DataError) as error:
        slices.read_slice_columns([path], expected_rows=101, shown=lambda p: p.name)
    assert_one_line(str(error.value), "test.csv (100 rows)", "100 rows but the predictions have 101",
                    "the same files in the same order")


def test_labels_that_differ_name_the_file_and_row(tmp_path):
    _, y, _, features = _data(12, n=100)
    _write(tmp_path / "a.csv", y[:60], [f[:60] for f in features])
    _write(tmp_path / "b.csv", y[60:], [f[60:] for f in features])
    expected = y.copy()
    expected[70] = 1 - expected[70]
    with pytest.raises(DataError) as error:
        slices.read_slice_columns([tmp_path / "a.csv", tmp_path / "b.csv"], expected_rows=100,
                                  expected_labels=expected, shown=lambda p: p.name)
    assert_one_line(str(error.value), "b.csv row 11: label", "row 71 of the predictions", "not the rows the transform scored")


@pytest.mark.parametrize("content, fragments", [
    (b"label,a,b\n1,2,3\n", ("t.csv line 1", "header")),
    (b"1,2,3\n0,4,5,6\n", ("t.csv line 2", "4 fields, expected 3")),
    (b"1,2,3\n0,4\n", ("t.csv line 2", "2 fields, expected 3")),
    (b'1,2,3\n0,"4,5",6,7\n', ("t.csv line 2", "4 fields, expected 3")),
    (b"1,2,3\n2,4,5\n", ("t.csv line 2", "label '2' is not 0 or 1")),
    (gzip.compress(b"1,2,3\n", mtime=0), ("t.csv is gzip-compressed",)),
], ids=["header", "long row", "short row", "quoted long row", "label", "gzip"])
def test_bad_test_data_is_one_line_naming_the_line(tmp_path, content, fragments):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        slices.read_slice_columns([path], expected_rows=2, shown=lambda p: p.name)
    assert_one_line(str(error.value), *fragments)


@pytest.mark.parametrize("options, message", [
    (dict(alpha=0.0), "alpha 0.0 is not between 0 and 1"),
    (dict(min_class_rows=1), "at least 4 rows and 2 of each class"),
    (dict(threshold=float("nan")), "threshold nan is not a finite number"),
])
def test_unusable_settings_are_refused(options, message):
    column = slices.SliceColumn("_c1", np.array([0, 1, 0, 1], dtype=np.int16), ("0", "1"), (0, 1))
    columns = slices.SliceColumns((column,), 4, np.array([0, 1, 0, 1], dtype=np.int8), ("t.csv",), (), 20)
    with pytest.raises(ValueError, match=message):
        slices.slice_analysis([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.4], columns, **{"threshold": 0.5, **options})

"""Drift gate against independent answers: scipy's tests, and PSI worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from mlgate.config import DriftSettings
from mlgate.gates import drift_measurement, feature_drift
from mlgate.gates._drift import _smirnov_sf

SETTINGS = DriftSettings()
REL = 1e-9


def close(mine: float | None, theirs: float) -> bool:
    return mine is not None and math.isclose(mine, float(theirs), rel_tol=REL, abs_tol=1e-300)


def one(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    name: str = "x",
    *,
    kind: str = "numeric",
    settings: DriftSettings = SETTINGS,
):
    numeric, categorical = ([name], []) if kind == "numeric" else ([], [name])
    return feature_drift(reference, current, numeric, categorical, settings, workers=1)[0]


# --------------------------------------------------------------------------- KS vs scipy


@pytest.mark.parametrize(
    ("seed", "n_ref", "n_cur", "shift", "decimals"),
    [
        (0, 40, 55, 0.0, 1),  # exact p-value, heavy ties
        (1, 300, 200, -0.4, 2),  # current below the reference
        (2, 3000, 2000, 0.05, None),
        (3, 9000, 10000, 0.1, 1),  # largest sizes scipy still does exactly
        (4, 12000, 15000, 0.0, None),  # asymptotic, Pelz-Good branch
        (5, 12000, 15000, 0.06, None),  # asymptotic, Smirnov series branch (vectorised here)
        (6, 20000, 11000, 0.03, 2),  # asymptotic with ties
        (7, 15000, 30000, 1.5, None),  # p-value underflows to 0
    ],
)
def test_ks_matches_scipy(seed: int, n_ref: int, n_cur: int, shift: float, decimals: int | None) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.normal(0, 1, n_ref)
    cur = rng.normal(shift, 1.1, n_cur)
    if decimals is not None:
        ref, cur = np.round(ref, decimals), np.round(cur, decimals)
    ref[:3] = np.nan  # dropped by the gate
    expected = stats.ks_2samp(ref[3:], cur)
    fd = one(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}))
    assert close(fd.ks_statistic, expected.statistic)
    assert close(fd.ks_pvalue, expected.pvalue), (fd.ks_pvalue, expected.pvalue)
    assert (fd.reference_rows, fd.current_rows) == (n_ref - 3, n_cur)


def test_ks_cases_cover_the_smirnov_branch() -> None:
    """Case 5 above must land where scipy sums the O(n) Smirnov series (2.2 <= N D^2 < 370)."""
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(0, 1, 12000), rng.normal(0.06, 1.1, 15000)
    d = stats.ks_2samp(ref, cur).statistic
    n = round(12000 * 15000 / 27000)
    assert 2.2 <= n * d * d < 354


def test_ks_with_signed_zeros_and_integers() -> None:
    ref = pd.Series([-0.0, 0.0, 1, 2, 2, 3] * 2000, dtype="float64")
    cur = pd.Series([0, 0, 0, 1, 2, 5, 5] * 2000, dtype="Int64")  # nullable integers
    cur[:10] = pd.NA
    expected = stats.ks_2samp(ref.to_numpy(), cur.dropna().to_numpy(dtype=float))
    fd = one(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}))
    assert close(fd.ks_statistic, expected.statistic)
    assert close(fd.ks_pvalue, expected.pvalue)


@pytest.mark.parametrize(
    ("n", "n_d2"),
    [(2001, 2.2), (2001, 350.0), (30000, 2.2), (30000, 9.0), (30000, 100.0), (30000, 350.0), (250000, 9.0)],
)
def test_smirnov_series_matches_scipy(n: int, n_d2: float) -> None:
    x = math.sqrt(n_d2 / n)
    assert math.isclose(_smirnov_sf(n, x), special.smirnov(n, x), rel_tol=REL)


# --------------------------------------------------------------------------- chi2 vs scipy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chi2_matches_scipy_with_unseen_category(seed: int) -> None:
    rng = np.random.default_rng(seed)
    levels = np.array(["a", "b", "c", "d"], dtype=object)
    ref = pd.Series(levels[rng.choice(4, 900, p=[0.4, 0.3, 0.2, 0.1])])
    cur = pd.Series(levels[rng.choice(3, 700, p=[0.3, 0.4, 0.3])])  # "d" absent from current
    cur[:25] = "new"  # unseen in the reference
    cur[25:30] = "newer"
    cur[30:34] = None  # missing: dropped
    ref[:6] = np.nan

    table = pd.crosstab(
        np.r_[np.zeros(ref.notna().sum()), np.ones(cur.notna().sum())],
        np.r_[ref.dropna().to_numpy(), cur.dropna().to_numpy()],
    ).to_numpy()
    expected = stats.chi2_contingency(table, correction=False)
    fd = one(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}), "c", kind="categorical")
    assert table.shape == (2, 6)
    assert close(fd.chi2_statistic, expected.statistic)
    assert close(fd.chi2_pvalue, expected.pvalue)
    assert fd.unseen_categories == ["new", "newer"]
    assert fd.unseen_count == 30
    assert fd.unseen_distinct == 2
    assert (fd.reference_rows, fd.current_rows) == (894, 696)
    assert fd.ks_statistic is None
    assert fd.ks_pvalue is None


def test_chi2_on_category_dtype_and_integers() -> None:
    rng = np.random.default_rng(7)
    ref = pd.Series(rng.integers(0, 5, 2000)).astype("category")
    cur = pd.Series(rng.integers(1, 7, 1500)).astype("category")  # 0 gone, 5 and 6 new
    table = pd.crosstab(np.r_[np.zeros(2000), np.ones(1500)], np.r_[ref.to_numpy(), cur.to_numpy()])
    expected = stats.chi2_contingency(table.to_numpy(), correction=False)
    fd = one(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}), "c", kind="categorical")
    assert close(fd.chi2_statistic, expected.statistic)
    assert close(fd.chi2_pvalue, expected.pvalue)
    assert sorted(fd.unseen_categories) == ["5", "6"]


def test_unseen_list_is_capped_but_counted() -> None:
    ref = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50})
    new = [f"n{i:02d}" for i in range(25) for _ in range(i + 1)]  # n24 most frequent
    cur = pd.DataFrame({"c": ["a"] * 40 + new})
    fd = one(ref, cur, "c", kind="categorical")
    assert len(fd.unseen_categories) == 20
    assert fd.unseen_categories[:2] == ["n24", "n23"]
    assert fd.unseen_distinct == 25
    assert fd.unseen_count == len(new)


def test_single_category_has_nothing_to_test() -> None:
    fd = one(pd.DataFrame({"c": ["a"] * 10}), pd.DataFrame({"c": ["a"] * 7}), "c", kind="categorical")
    assert (fd.chi2_statistic, fd.chi2_pvalue, fd.psi) == (0.0, 1.0, 0.0)


# --------------------------------------------------------------------------- PSI by hand


def test_psi_by_hand() -> None:
    """psi_bins=4 on a reference 1..8.

    Cut points: np.quantile at 0.25/0.5/0.75, virtual index (8-1)*q = 1.75, 3.5, 5.25, so
    2 + 0.75 = 2.75, 4 + 0.5 = 4.5, 6 + 0.25 = 6.25. Bins (-inf, 2.75], (2.75, 4.5],
    (4.5, 6.25], (6.25, inf): reference 2/2/2/2 rows -> shares .25 each; current
    [1, 1, 2, 2, 3, 5, 9, 9] -> 4/1/1/2 rows -> .5, .125, .125, .25. With e = 1e-4:
        0.25 * ln(.5001/.2501)            = 0.173236810...
      + 2 * (-0.125) * ln(.1251/.2501)    = 2 * 0.086593427...
      + 0                                 = 0.346423665...
    """
    settings = DriftSettings(psi_bins=4, psi_epsilon=1e-4)
    ref = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8]})
    cur = pd.DataFrame({"x": [1.0, 1, 2, 2, 3, 5, 9, 9]})
    fd = one(ref, cur, settings=settings)
    by_hand = 0.25 * math.log(0.5001 / 0.2501) + 2 * (-0.125) * math.log(0.1251 / 0.2501)
    assert fd.psi == pytest.approx(by_hand, rel=1e-12)
    assert fd.psi == pytest.approx(0.346423665, abs=1e-9)
    assert fd.bins == 4
    assert fd.drifted  # 0.35 > 0.2


def test_value_on_a_cut_point_goes_to_the_bin_below() -> None:
    """psi_bins=2, reference [1, 2, 2, 3]: the median 2 is the cut point, bins (-inf, 2], (2, inf).

    Reference 3/1 rows -> .75/.25; current [2, 2, 3, 3] -> 2/2 -> .5/.5 (left-closed bins would
    put both 2s in the upper bin: 0/4).
    """
    settings = DriftSettings(psi_bins=2, psi_epsilon=1e-4)
    fd = one(pd.DataFrame({"x": [1.0, 2, 2, 3]}), pd.DataFrame({"x": [2.0, 2, 3, 3]}), settings=settings)
    by_hand = (0.5 - 0.75) * math.log(0.5001 / 0.7501) + (0.5 - 0.25) * math.log(0.5001 / 0.2501)
    assert fd.psi == pytest.approx(by_hand, rel=1e-12)


def test_psi_empty_bin_is_smoothed() -> None:
    """All current rows in the top bin: (1-.25)ln(1.0001/.2501) + 3 * (-.25)ln(.0001/.2501)."""
    settings = DriftSettings(psi_bins=4, psi_epsilon=1e-4)
    ref = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8]})
    cur = pd.DataFrame({"x": [100.0] * 5})
    fd = one(ref, cur, settings=settings)
    by_hand = 0.75 * math.log(1.0001 / 0.2501) + 3 * (-0.25) * math.log(0.0001 / 0.2501)
    assert fd.psi == pytest.approx(by_hand, rel=1e-12)
    assert math.isfinite(fd.psi)


def test_psi_few_distinct_values_get_few_bins() -> None:
    """A 0/1 column: repeated cut points merge; PSI is that of the two values' shares."""
    ref = pd.DataFrame({"x": [0.0] * 700 + [1.0] * 300})
    cur = pd.DataFrame({"x": [0.0] * 500 + [1.0] * 500})
    fd = one(ref, cur)
    e = SETTINGS.psi_epsilon
    by_hand = (0.5 - 0.7) * math.log((0.5 + e) / (0.7 + e)) + (0.5 - 0.3) * math.log((0.5 + e) / (0.3 + e))
    assert fd.bins <= 4
    assert fd.psi == pytest.approx(by_hand, rel=1e-12)


def test_categorical_psi_by_hand() -> None:
    """Shares a/b: reference .5/.5, current .25/.75; plus an unseen c at .0 -> .0 (absent)."""
    ref = pd.DataFrame({"c": ["a", "b"] * 4})
    cur = pd.DataFrame({"c": ["a", "b", "b", "b"] * 2})
    fd = one(ref, cur, "c", kind="categorical")
    e = 1e-4
    by_hand = (0.25 - 0.5) * math.log((0.25 + e) / (0.5 + e)) + (0.75 - 0.5) * math.log((0.75 + e) / (0.5 + e))
    assert fd.psi == pytest.approx(by_hand, rel=1e-12)


def test_nan_rows_are_dropped_not_binned() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=500), rng.normal(0.3, size=400)
    with_nan = one(pd.DataFrame({"x": np.r_[ref, [np.nan] * 50]}), pd.DataFrame({"x": np.r_[[np.nan] * 9, cur]}))
    clean = one(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}))
    assert with_nan.psi == clean.psi
    assert with_nan.ks_pvalue == clean.ks_pvalue
    assert (with_nan.reference_rows, with_nan.current_rows) == (500, 400)
    assert "50 reference, 9 current" in with_nan.notes[0]


def test_threads_do_not_change_results() -> None:
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=3000) for i in range(5)} | {"c": rng.choice(list("abc"), 3000)})
    cur = pd.DataFrame(
        {f"x{i}": rng.normal(0.1 * i, size=2000) for i in range(5)} | {"c": rng.choice(list("abd"), 2000)}
    )
    names = [f"x{i}" for i in range(5)]
    serial = feature_drift(ref, cur, names, ["c"], SETTINGS, workers=1)
    threaded = feature_drift(ref, cur, names, ["c"], SETTINGS, workers=3)
    assert [fd.as_dict() for fd in serial] == [fd.as_dict() for fd in threaded]
    assert [fd.feature for fd in serial] == [*names, "c"]


def test_missing_column_and_empty_column_raise() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="'y' is not a column of the reference data"):
        feature_drift(frame, frame, ["y"], [], SETTINGS)
    with pytest.raises(ValueError, match="no non-missing value in the current data"):
        one(frame, pd.DataFrame({"x": [np.nan, np.nan]}))


# --------------------------------------------------------------------------- measurements


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(11)
    n = 4000
    ref = pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, n),
            "age": rng.uniform(18, 90, n),
            "score": rng.normal(size=n),
            "city": rng.choice(list("abcd"), n),
            "plan": rng.choice(list("xy"), n),
        }
    )
    cur = pd.DataFrame(
        {
            "income": rng.lognormal(10.6, 0.5, n),
            "age": rng.uniform(18, 90, n),
            "score": rng.normal(0.05, size=n),
            "city": rng.choice(list("abcd"), n, p=[0.1, 0.1, 0.4, 0.4]),
            "plan": rng.choice(list("xy"), n),
        }
    )
    return feature_drift(ref, cur, ["income", "age", "score"], ["city", "plan"], SETTINGS)


def test_psi_measurement_names_the_worst_feature(table) -> None:
    m = drift_measurement(table, "psi", None, SETTINGS)
    worst = max(table, key=lambda f: f.psi)
    assert worst.feature == "income"
    assert m.value == worst.psi
    assert m.error is None
    assert "on 'income'" in m.explanation
    assert "2 of 5 features drifted" in m.explanation  # income and city
    psis = [f["psi"] for f in m.details["features"]]
    assert psis == sorted(psis, reverse=True)


def test_measurements_over_kinds(table) -> None:
    numeric = [f for f in table if f.kind == "numeric"]
    categorical = [f for f in table if f.kind == "categorical"]
    assert drift_measurement(table, "ks_statistic", None, SETTINGS).value == max(f.ks_statistic for f in numeric)
    assert drift_measurement(table, "ks_pvalue", None, SETTINGS).value == min(f.ks_pvalue for f in numeric)
    assert drift_measurement(table, "chi2_pvalue", None, SETTINGS).value == min(f.chi2_pvalue for f in categorical)
    assert drift_measurement(table, "drifted_share", None, SETTINGS).value == pytest.approx(2 / 5)
    only = drift_measurement(table, "drifted_share", ["age", "score", "plan"], SETTINGS)
    assert only.value == 0.0


def test_measurement_failures(table) -> None:
    m = drift_measurement(table, "psi", ["income", "salary"], SETTINGS)
    assert m.value is None
    assert "'salary'" in m.error
    m = drift_measurement(table, "ks_pvalue", ["city", "plan"], SETTINGS)
    assert m.error == "no numeric features to test"
    m = drift_measurement(table, "chi2_pvalue", ["income"], SETTINGS)
    assert m.error == "no categorical features to test"

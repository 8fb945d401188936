"""Fairness gate against fairlearn's own functions, and group handling on known inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm
from pydantic import ValidationError
from sklearn.metrics import accuracy_score

from mlgate.config import FairnessRule, PerformanceRule, SensitiveFeature, json_schemas, rule_id
from mlgate.gates import GroupTable, fairness_measurement, group_table, intersect, sensitive_groups

AGE = SensitiveFeature(name="age", bins=[0, 25, 45, 65, 120], labels=["under 25", "25-44", "45-64", "65+"])
SEX = SensitiveFeature(name="sex")
ALL_METRICS = [
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "selection_rate_difference",
    "false_positive_rate_difference",
    "error_rate_difference",
]


def error_rate(y_true, y_pred) -> float:
    return 1.0 - accuracy_score(y_true, y_pred)


def fairlearn_value(metric: str, y_true, y_pred, groups) -> float:
    """The metric as fairlearn computes it (its functions, else MetricFrame)."""
    if hasattr(flm, metric):
        return float(getattr(flm, metric)(y_true, y_pred, sensitive_features=groups))
    base, how = {
        "equal_opportunity_difference": (flm.true_positive_rate, "difference"),
        "equal_opportunity_ratio": (flm.true_positive_rate, "ratio"),
        "selection_rate_difference": (flm.selection_rate, "difference"),
        "false_positive_rate_difference": (flm.false_positive_rate, "difference"),
        "error_rate_difference": (error_rate, "difference"),
    }[metric]
    frame = flm.MetricFrame(metrics=base, y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    return float(getattr(frame, how)())


def random_case(seed: int, n: int = 1500):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "race": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "age": rng.uniform(16, 80, n).round(),
        }
    )
    y_true = rng.random(n) < 0.45
    bias = frame["race"].map({"a": 0.0, "b": 0.1, "c": 0.2, "d": -0.1}).to_numpy()
    y_pred = rng.random(n) < np.where(y_true, 0.7, 0.25) + bias
    return frame, y_true, y_pred


# --------------------------------------------------------------------------- vs fairlearn


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("metric", ALL_METRICS)
def test_every_metric_matches_fairlearn(seed: int, metric: str) -> None:
    frame, y_true, y_pred = random_case(seed)
    groups = sensitive_groups(frame, SensitiveFeature(name="race"))
    table = group_table(y_true, y_pred, groups, min_group_size=1)
    m = fairness_measurement([table], metric)
    expected = fairlearn_value(metric, y_true.astype(int), y_pred.astype(int), frame["race"].to_numpy())
    assert m.error is None
    assert m.value == pytest.approx(expected, abs=1e-12)
    assert len(table.rows) == 4


def test_bucketed_age_matches_fairlearn_on_pd_cut() -> None:
    frame, y_true, y_pred = random_case(2)
    groups = sensitive_groups(frame, AGE)
    cut = pd.cut(frame["age"], AGE.bins, right=False, labels=AGE.labels).astype(str).to_numpy()
    assert (groups.astype(str).to_numpy() == cut).all()
    table = group_table(y_true, y_pred, groups, min_group_size=30)
    for metric in ("equalized_odds_ratio", "demographic_parity_difference"):
        expected = fairlearn_value(metric, y_true.astype(int), y_pred.astype(int), cut)
        assert fairness_measurement([table], metric).value == pytest.approx(expected, abs=1e-12)


def test_group_table_counts_and_rates() -> None:
    frame, y_true, y_pred = random_case(3, n=600)
    table = group_table(y_true, y_pred, sensitive_groups(frame, SensitiveFeature(name="race")), 1)
    data = pd.DataFrame({"g": frame["race"], "t": y_true, "p": y_pred})
    for row in table.rows:
        part = data[data.g == row["group"]]
        assert row["count"] == len(part)
        assert row["positives"] == part.t.sum()
        assert row["selection_rate"] == pytest.approx(part.p.mean(), abs=1e-15)
        assert row["recall"] == pytest.approx(part.p[part.t].mean(), abs=1e-15)
        assert row["false_positive_rate"] == pytest.approx(part.p[~part.t].mean(), abs=1e-15)
        assert row["error_rate"] == pytest.approx((part.p != part.t).mean(), abs=1e-15)
        assert row["excluded"] is None
    assert table.feature == "race"


# --------------------------------------------------------------------------- groups


def test_age_buckets_are_right_open() -> None:
    frame = pd.DataFrame({"age": [0, 24.9, 25, 44, 45, 64.99, 65, 119.9, 120, -1, np.nan]})
    groups = sensitive_groups(frame, AGE)
    assert groups.astype(str).tolist() == [
        "under 25",
        "under 25",
        "25-44",
        "25-44",
        "45-64",
        "45-64",
        "65+",
        "65+",
        "out of range",
        "out of range",
        "(missing)",
    ]
    assert groups.name == "age"
    unnamed = sensitive_groups(frame, SensitiveFeature(name="age", bins=[0, 25, 120]))
    assert unnamed.astype(str).tolist()[:3] == ["[0, 25)", "[0, 25)", "[25, 120)"]


def test_unnamed_buckets_never_share_a_name() -> None:
    """Edges that ``:g`` rounds alike (1e+06) are written exactly: no two buckets are merged."""
    frame = pd.DataFrame({"income": [1_000_000.5, 1_000_001.5]})
    feature = SensitiveFeature(name="income", bins=[1_000_000, 1_000_001, 1_000_002])
    groups = sensitive_groups(frame, feature)
    assert groups.astype(str).tolist() == ["[1000000, 1000001)", "[1000001, 1000002)"]


def test_categorical_labels_are_strings() -> None:
    frame = pd.DataFrame({"sex": [1.0, 0.0, np.nan, 1.0]})
    groups = sensitive_groups(frame, SensitiveFeature(name="sex"))
    assert groups.astype(str).tolist() == ["1", "0", "(missing)", "1"]


def test_intersection_labels_and_counts() -> None:
    frame = pd.DataFrame({"sex": ["f", "m", "f", "m", "f"], "age": [20, 30, 30, 70, np.nan]})
    both = intersect(sensitive_groups(frame, SEX), sensitive_groups(frame, AGE))
    assert both.name == "sex & age"
    assert both.astype(str).tolist() == ["f & under 25", "m & 25-44", "f & 25-44", "m & 65+", "f & (missing)"]
    table = group_table(np.ones(5, bool), np.ones(5, bool), both, 1)
    assert {r["group"]: r["count"] for r in table.rows} == {
        "f & under 25": 1,
        "f & 25-44": 1,
        "f & (missing)": 1,
        "m & 25-44": 1,
        "m & 65+": 1,
    }


# --------------------------------------------------------------------------- exclusions and failures


def test_small_groups_are_kept_but_excluded() -> None:
    frame, y_true, y_pred = random_case(4, n=1200)
    frame.loc[frame.index[:12], "race"] = "tiny"
    groups = sensitive_groups(frame, SensitiveFeature(name="race"))
    table = group_table(y_true, y_pred, groups, min_group_size=30)
    tiny = next(r for r in table.rows if r["group"] == "tiny")
    assert tiny["excluded"] == "12 rows < min_group_size 30"
    assert tiny["count"] == 12
    keep = frame["race"].to_numpy() != "tiny"
    m = fairness_measurement([table], "demographic_parity_difference")
    expected = flm.demographic_parity_difference(
        y_true[keep], y_pred[keep], sensitive_features=frame["race"].to_numpy()[keep]
    )
    assert m.value == pytest.approx(expected, abs=1e-12)
    assert "'tiny'" in m.explanation
    assert "12 rows" in m.explanation


def test_one_class_group_fails_metrics_that_need_both_classes() -> None:
    groups = pd.Series(["a"] * 40 + ["b"] * 40 + ["c"] * 40, name="g")
    y_true = np.array([True, False] * 20 + [True, False] * 20 + [False] * 40)  # c: no positives
    y_pred = np.array([True, True, False, False] * 30)
    table = group_table(y_true, y_pred, groups, min_group_size=30)
    assert table.rows[2]["recall"] is None
    for metric in (
        "equal_opportunity_difference",
        "equal_opportunity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    ):
        m = fairness_measurement([table], metric)
        assert m.value is None
        assert m.error is not None
        assert "group 'c'" in m.error
        assert "no positive labels" in m.error
    assert fairness_measurement([table], "false_positive_rate_difference").error is None
    for metric in ("demographic_parity_ratio", "selection_rate_difference", "error_rate_difference"):
        assert fairness_measurement([table], metric).value is not None


def test_group_without_negatives_fails_fpr() -> None:
    groups = pd.Series(["a"] * 30 + ["b"] * 30, name="g")
    y_true = np.array([True, False] * 15 + [True] * 30)
    y_pred = np.array([True, False, False] * 20)
    m = fairness_measurement([group_table(y_true, y_pred, groups, 30)], "false_positive_rate_difference")
    assert m.value is None
    assert "group 'b'" in m.error
    assert "no negative labels" in m.error


def test_fewer_than_two_groups_fail() -> None:
    groups = pd.Series(["a"] * 50 + ["b"] * 5, name="g")
    y = np.tile([True, False], 55 // 2 + 1)[:55]
    m = fairness_measurement([group_table(y, y, groups, 30)], "demographic_parity_difference")
    assert m.value is None
    assert "fewer than two groups" in m.error
    assert "'b' (5 rows)" in m.error


def test_zero_over_zero_ratio_fails_difference_works() -> None:
    groups = pd.Series(["a"] * 30 + ["b"] * 30, name="g")
    y_true = np.tile([True, False], 30)
    y_pred = np.zeros(60, bool)
    table = group_table(y_true, y_pred, groups, 30)
    assert fairness_measurement([table], "demographic_parity_ratio").error is not None
    assert fairness_measurement([table], "demographic_parity_difference").value == 0.0


def test_worst_over_sensitive_features() -> None:
    frame, y_true, y_pred = random_case(5)
    tables = [
        group_table(y_true, y_pred, sensitive_groups(frame, SensitiveFeature(name="race")), 30),
        group_table(y_true, y_pred, sensitive_groups(frame, AGE), 30),
    ]
    for metric, pick in (("demographic_parity_difference", max), ("equalized_odds_ratio", min)):
        each = [fairness_measurement([t], metric).value for t in tables]
        m = fairness_measurement(tables, metric)
        assert m.value == pick(each)
        worst = tables[each.index(pick(each))].feature
        assert f"on '{worst}'" in m.explanation
        assert set(m.details["groups"]) == {"race", "age"}
    m = fairness_measurement(tables, "demographic_parity_ratio")
    assert " vs " in m.explanation
    assert "(ratio " in m.explanation


def test_unknown_metric_and_no_tables() -> None:
    assert fairness_measurement([GroupTable("g", [])], "nonsense").error is not None
    assert fairness_measurement([], "demographic_parity_ratio").error is not None


# --------------------------------------------------------------------------- issue #23: fail closed, reference caps


def _three_groups(small: int) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Groups a (60 rows), b (60), c (``small``): c is selected far less often, so leaving it out flatters."""
    groups = pd.Series(["a"] * 60 + ["b"] * 60 + ["c"] * small, name="g")
    y_true = np.tile([True, False], (120 + small) // 2 + 1)[: 120 + small]
    y_pred = np.r_[np.tile([True, False], 30), np.tile([True, True, False], 20), np.zeros(small, bool)]
    return groups, y_true, y_pred


@pytest.mark.parametrize("named", [["a", "b", "c"], ["a", "c"]])
def test_a_named_group_below_min_group_size_fails_closed(named: list[str]) -> None:
    """Issue #23: with three named groups a small one was dropped and the rule passed on the other two."""
    groups, y_true, y_pred = _three_groups(12)
    table = group_table(y_true, y_pred, groups, min_group_size=30)
    m = fairness_measurement([table], "demographic_parity_difference", groups=named)
    assert m.value is None
    assert m.error == (
        "demographic_parity_difference: named group 'c' (12 rows < min_group_size 30) of 'g' is too small to compare"
    )
    # named as the reference group, it fails alike
    m = fairness_measurement([table], "demographic_parity_ratio", groups=named, reference_group="c")
    assert "named group 'c' (12 rows < min_group_size 30)" in m.error
    # large enough, the same rule measures all the named groups: c's selection rate 0 is the worst
    big = group_table(*_three_groups(40)[1:], _three_groups(40)[0], min_group_size=30)
    assert fairness_measurement([big], "demographic_parity_difference", groups=named).value == pytest.approx(
        2 / 3 if "b" in named else 0.5
    )


def test_a_group_the_rule_does_not_name_is_still_left_out_with_a_note() -> None:
    groups, y_true, y_pred = _three_groups(12)
    table = group_table(y_true, y_pred, groups, min_group_size=30)
    m = fairness_measurement([table], "demographic_parity_difference")
    assert m.error is None
    assert m.value == pytest.approx(2 / 3 - 1 / 2)
    assert "left out, below min_group_size: 'c' of 'g' (12 rows)" in m.explanation


def test_a_real_missing_category_stays_apart_from_blank_rows() -> None:
    """Issue #23: a category called "missing" merged with the rows without a value."""
    frame = pd.DataFrame({"answer": ["yes", "missing", None, "missing", np.nan, "no"]})
    groups = sensitive_groups(frame, SensitiveFeature(name="answer"))
    assert groups.astype(str).tolist() == ["yes", "missing", "(missing)", "missing", "(missing)", "no"]
    table = group_table(np.ones(6, bool), np.ones(6, bool), groups, 1)
    assert {r["group"]: r["count"] for r in table.rows} == {"missing": 2, "(missing)": 2, "no": 1, "yes": 1}


def test_a_real_value_named_like_the_blank_group_is_refused() -> None:
    frame = pd.DataFrame({"answer": ["yes", "(missing)", None]})
    with pytest.raises(ValueError, match=r"has the value '\(missing\)', the name of the group of rows without a value"):
        sensitive_groups(frame, SensitiveFeature(name="answer"))


def test_a_max_on_a_ratio_against_the_reference_judges_the_most_favoured_group() -> None:
    """Issue #23: a group selected 1.3 times as often as the reference could not be capped."""
    frame, y_true, y_pred = random_case(6)
    groups = sensitive_groups(frame, SensitiveFeature(name="race"))
    table = group_table(y_true, y_pred, groups, min_group_size=30)
    rates = flm.MetricFrame(
        metrics=flm.selection_rate, y_true=y_true, y_pred=y_pred, sensitive_features=frame["race"]
    ).by_group
    ratios = rates.drop(index="a") / rates["a"]
    assert ratios.max() > 1 > ratios.min()
    low = fairness_measurement([table], "demographic_parity_ratio", reference_group="a")
    high = fairness_measurement([table], "demographic_parity_ratio", reference_group="a", highest=True)
    assert low.value == pytest.approx(ratios.min(), abs=1e-12)
    assert high.value == pytest.approx(ratios.max(), abs=1e-12)
    assert f"for '{ratios.idxmax()}' vs" in high.explanation
    assert "reference 'a'" in high.explanation
    # equalized odds: the largest of the TPR and FPR ratios
    by = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=frame["race"],
    ).by_group
    largest = max((by.drop(index="a")[k] / by.loc["a", k]).max() for k in ("tpr", "fpr"))
    eo = fairness_measurement([table], "equalized_odds_ratio", reference_group="a", highest=True)
    assert eo.value == pytest.approx(largest, abs=1e-12)
    # without a reference a ratio is min/max whatever the bound: highest changes nothing
    plain = fairness_measurement([table], "demographic_parity_ratio", highest=True)
    assert plain.value == pytest.approx(rates.min() / rates.max(), abs=1e-12)


def _rule(**fields: object) -> FairnessRule:
    return FairnessRule.model_validate(fields)


def test_the_policy_schema_allows_a_max_above_1_only_against_a_reference() -> None:
    """A ratio against a reference group lies in [0, inf); one without lies in [0, 1]."""
    capped = _rule(metric="demographic_parity_ratio", max=1.25, reference_group="a", sensitive_features=["g"])
    assert capped.threshold == 1.25
    assert _rule(metric="demographic_parity_ratio", min=1.1, reference_group="a", sensitive_features=["g"]).min == 1.1
    with pytest.raises(ValidationError, match="a ratio against a reference_group has no upper bound") as info:
        _rule(metric="demographic_parity_ratio", max=1.25)
    assert "'demographic_parity_ratio' is always between 0 and 1, so max 1.25 is always met" in str(info.value)
    with pytest.raises(ValidationError, match="is always at least 0"):
        _rule(metric="equalized_odds_ratio", min=-0.1, reference_group="a", sensitive_features=["g"])
    with pytest.raises(ValidationError, match="'demographic_parity_difference' is always between 0 and 1"):
        _rule(metric="demographic_parity_difference", max=1.5, reference_group="a", sensitive_features=["g"])


def test_class_applies_to_precision_recall_and_f1_only_and_names_the_rule() -> None:
    """``class:`` picks one class of precision/recall/F1; elsewhere it is refused at its key."""
    rule = PerformanceRule.model_validate({"metric": "recall", "class": "mlops", "min": 0.5})
    assert rule.class_ == "mlops"
    assert rule_id("performance", rule) == "performance.recall.mlops"
    plain = PerformanceRule.model_validate({"metric": "recall", "min": 0.5})
    assert rule_id("performance", plain) == "performance.recall"
    with pytest.raises(ValidationError, match="'class' applies to precision, recall, f1; roc_auc is not measured per"):
        PerformanceRule.model_validate({"metric": "roc_auc", "class": "mlops", "min": 0.5})
    schema = json.dumps(json_schemas()["policy"])
    assert "one-vs-rest" in schema
    assert "above 1 for a group favoured over it: min judges the smallest ratio, max the largest" in schema

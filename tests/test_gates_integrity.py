"""Integrity gate: native metrics against hand-computed answers and deepchecks' own checks.

Every small frame below is written out so its answer can be counted by eye; where deepchecks
has a check with the same definition (DataDuplicates, ConflictingLabels, TrainTestSamplesMix)
the native value is also compared with what that check computes on the same rows.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlgate.gates import integrity
from mlgate.gates.integrity import (
    IntegrityData,
    deepchecks_available,
    deepchecks_problem,
    deepchecks_results,
    integrity_measurement,
)
from mlgate.gates.integrity import deepchecks as suites_runner

CREDIT = Path(__file__).resolve().parents[1] / "data" / "german_credit.csv"
CREDIT_NUMERIC = ["credit_amount", "duration", "age", "job"]
CREDIT_CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]
CATEGORIES = {"PASS", "WARN", "FAIL", "ERROR"}


def make(
    train: dict[str, list[Any]],
    holdout: dict[str, list[Any]],
    numeric: list[str],
    categorical: list[str],
    signature: list[tuple[str, str]] | None = None,
) -> IntegrityData:
    return IntegrityData(
        train=pd.DataFrame(train),
        holdout=pd.DataFrame(holdout),
        numeric=numeric,
        categorical=categorical,
        target="y",
        signature=signature,
    )


def stacked(data: IntegrityData) -> pd.DataFrame:
    return pd.concat([data.train, data.holdout], ignore_index=True)


# --------------------------------------------------------------------------- null_fraction


def test_null_fraction_names_the_worst_column() -> None:
    data = make(
        {"a": [1.0, None, None, 4.0], "b": ["x", "y", None, "x"], "y": [0, 1, 0, 1]},
        {"a": [None, 2.0, 3.0, 4.0], "b": ["x", "x", "y", "y"], "y": [1, 0, 1, 0]},
        numeric=["a"],
        categorical=["b"],
    )
    measured = integrity_measurement("null_fraction", data)
    # 'a': 2 nulls in train + 1 in holdout over 8 rows; 'b': 1 of 8; the target none.
    assert measured.value == pytest.approx(3 / 8)
    assert measured.error is None
    assert "'a'" in measured.explanation
    assert "3 of 8 rows" in measured.explanation
    table = {row["column"]: row for row in measured.details["columns"]}
    assert {c: row["fraction"] for c, row in table.items()} == {"a": 3 / 8, "b": 1 / 8, "y": 0.0}
    assert (table["a"]["train_nulls"], table["a"]["holdout_nulls"]) == (2, 1)


def test_null_fraction_counts_the_target_and_zero_when_clean() -> None:
    clean = make({"a": [1, 2], "y": [0, 1]}, {"a": [3, 4], "y": [1, 0]}, ["a"], [])
    assert integrity_measurement("null_fraction", clean).value == 0.0
    target_nulls = make({"a": [1, 2], "y": [0, None]}, {"a": [3, 4], "y": [None, 0]}, ["a"], [])
    measured = integrity_measurement("null_fraction", target_nulls)
    assert measured.value == pytest.approx(2 / 4)
    assert "'y'" in measured.explanation


# --------------------------------------------------------------------------- duplicate_rows


def duplicates_data() -> IntegrityData:
    return make(
        # train row 3 repeats train row 0
        {"n": [1, 2, 3, 1], "c": ["a", "b", "c", "a"], "y": [0, 1, 0, 0]},
        # holdout row 0 repeats train row 1 (2 read as 2.0: a NaN makes the holdout column
        # float); holdout row 2 has train row 0's features but another label: not a duplicate;
        # holdout row 4 repeats holdout row 3, NaN included
        {
            "n": [2.0, 5.0, 1.0, np.nan, np.nan],
            "c": ["b", "e", "a", "f", "f"],
            "y": [1, 0, 1, 0, 0],
        },
        numeric=["n"],
        categorical=["c"],
    )


def test_duplicate_rows_counts_exact_copies_across_splits() -> None:
    data = duplicates_data()
    measured = integrity_measurement("duplicate_rows", data)
    assert measured.value == pytest.approx(3 / 9)
    assert measured.value == pytest.approx(stacked(data).duplicated().mean())
    details = measured.details
    assert (details["duplicate_rows"], details["in_train"], details["in_holdout"]) == (3, 1, 2)
    assert details["repeated_rows"] == 3
    assert "3 of 9 rows" in measured.explanation


def test_duplicate_rows_zero_when_labels_differ() -> None:
    data = make({"n": [1, 1], "y": [0, 1]}, {"n": [1], "y": [2]}, ["n"], [])
    measured = integrity_measurement("duplicate_rows", data)
    assert measured.value == 0.0
    assert "no duplicate rows" in measured.explanation


def test_negative_zero_and_nan_payloads_compare_equal() -> None:
    odd_nan = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), dtype=np.float64)[0]
    data = make({"n": [0.0, np.nan], "y": [0, 0]}, {"n": [-0.0, odd_nan], "y": [0, 0]}, ["n"], [])
    assert integrity_measurement("duplicate_rows", data).value == pytest.approx(2 / 4)
    assert integrity_measurement("train_holdout_overlap", data).value == 1.0


# --------------------------------------------------------------------------- constant_columns


def test_constant_columns_lists_single_valued_features() -> None:
    data = make(
        {
            "a": [1, 2, 3, 4],
            "z": [5.0, 5.0, None, 5.0],  # one value and a null: constant, as deepchecks says
            "k": ["x", "x", "x", "x"],
            "e": [None, None, None, None],  # no value at all
            "y": [0, 1, 0, 1],
        },
        # the holdout varies: only train matters
        {"a": [1, 2], "z": [1.0, 2.0], "k": ["x", "q"], "e": ["u", "v"], "y": [0, 1]},
        numeric=["a", "z"],
        categorical=["k", "e"],
    )
    measured = integrity_measurement("constant_columns", data)
    assert measured.value == 3
    assert measured.details["columns"] == ["z", "k", "e"]
    assert "'k' (always 'x')" in measured.explanation
    assert "'e' (all null)" in measured.explanation
    assert "'a'" not in measured.explanation


def test_constant_columns_sees_a_late_second_value() -> None:
    values = ["x"] * 5000 + ["w"]  # past the 1000-row head the quick look checks
    data = make({"k": values, "y": [0] * 5001}, {"k": ["x"], "y": [0]}, [], ["k"])
    assert integrity_measurement("constant_columns", data).value == 0


# --------------------------------------------------------------------------- unseen_categories


def test_unseen_categories_counts_rows_and_lists_values() -> None:
    data = make(
        {
            "c1": ["a", "b", "a", "b"],
            "c2": ["x", "y", "x", "y"],
            "n": [1, 2, 3, 4],
            "y": [0, 1, 0, 1],
        },
        {
            "c1": ["a", "c", "d", None, "c"],  # a null is not a new category
            "c2": ["x", "x", "z", "y", "x"],
            "n": [1, 2, 3, 4, 5],
            "y": [0, 1, 0, 1, 0],
        },
        numeric=["n"],
        categorical=["c1", "c2"],
    )
    measured = integrity_measurement("unseen_categories", data)
    # holdout rows 1 ('c'), 2 ('d' and 'z') and 4 ('c'): 3 of 5
    assert measured.value == pytest.approx(3 / 5)
    columns = {row["column"]: row for row in measured.details["columns"]}
    assert columns["c1"] == {"column": "c1", "rows": 3, "new_values": 2, "values": ["c", "d"]}
    assert columns["c2"] == {"column": "c2", "rows": 1, "new_values": 1, "values": ["z"]}
    assert "'c1'" in measured.explanation


def test_unseen_categories_lists_at_most_ten_values() -> None:
    new = [f"v{i:02d}" for i in range(12)]
    data = make({"c": ["a"] * 3, "y": [0] * 3}, {"c": new, "y": [0] * 12}, [], ["c"])
    measured = integrity_measurement("unseen_categories", data)
    assert measured.value == 1.0
    (row,) = measured.details["columns"]
    assert row["new_values"] == 12
    assert len(row["values"]) == 10


def test_unseen_categories_without_categorical_features() -> None:
    data = make({"n": [1], "y": [0]}, {"n": [2], "y": [1]}, ["n"], [])
    assert integrity_measurement("unseen_categories", data).value == 0.0


# --------------------------------------------------------------------------- schema_mismatch

SIGNATURE = [("n", "long"), ("x", "double"), ("c", "string"), ("m", "long")]
TRAIN_SCHEMA = {
    "n": [1, 2, 3],
    "x": [0.5, 1.5, 2.5],
    "c": ["a", "b", "c"],
    "m": [1, 2, 3],
    "y": [0, 1, 0],
}


def test_schema_mismatch_against_the_signature() -> None:
    data = make(
        TRAIN_SCHEMA,
        {
            "n": [1.0, 1.5, np.nan],  # long column receiving 1.5
            "x": [1, 2, 3],  # ints fit a double
            "c": [1, 2, 3],  # numbers fit a string column
            "y": [0, 1, 0],  # 'm' is missing
        },
        numeric=["n", "x", "m"],
        categorical=["c"],
        signature=SIGNATURE,
    )
    measured = integrity_measurement("schema_mismatch", data)
    assert measured.value == 2
    problems = {row["column"]: row["problem"] for row in measured.details["mismatches"]}
    assert set(problems) == {"n", "m"}
    assert "1.5" in problems["n"]
    assert "missing" in problems["m"]
    assert measured.details["source"] == "model signature"


def test_schema_whole_floats_fit_a_long_column() -> None:
    holdout = {"n": [1.0, np.nan, 3.0], "x": [0.1, 0.2, 0.3], "c": ["a", "b", None], "m": [1, 2, 3]}
    data = make(TRAIN_SCHEMA, holdout | {"y": [0, 1, 0]}, ["n", "x", "m"], ["c"], SIGNATURE)
    measured = integrity_measurement("schema_mismatch", data)
    assert measured.value == 0
    assert "all 4 columns fit" in measured.explanation


def test_schema_text_in_a_numeric_column_and_a_feature_the_signature_lacks() -> None:
    holdout = {"n": [1, 2, 3], "x": ["1.0", "abc", None], "c": ["a", "b", "c"], "m": [1, 2, 3]}
    data = make(
        TRAIN_SCHEMA | {"extra": [1, 2, 3]},
        holdout | {"extra": [1, 2, 3], "y": [0, 1, 0]},
        numeric=["n", "x", "m", "extra"],
        categorical=["c"],
        signature=SIGNATURE,
    )
    measured = integrity_measurement("schema_mismatch", data)
    assert measured.value == 2
    problems = {row["column"]: row["problem"] for row in measured.details["mismatches"]}
    assert "'abc'" in problems["x"]
    assert "signature does not list" in problems["extra"]


def test_schema_unknown_signature_types_are_not_counted() -> None:
    data = make({"n": [1], "y": [0]}, {"n": [1], "y": [0]}, ["n"], [], signature=[("n", "Array(long)")])
    measured = integrity_measurement("schema_mismatch", data)
    assert measured.value == 0
    assert measured.details["unchecked"] == [{"column": "n", "expected": "Array(long)"}]


def test_schema_without_signature_compares_with_train_types() -> None:
    data = make(
        {"n": [1, 2, 3], "c": ["a", "b", "c"], "y": [0, 1, 0]},
        {"n": [2.5, 1.0, 3.0], "c": [1, 2, 3], "y": [0, 1, 0]},
        numeric=["n"],
        categorical=["c"],
        signature=None,
    )
    measured = integrity_measurement("schema_mismatch", data)
    assert measured.value == 1
    assert measured.explanation.startswith("no model signature")
    assert measured.details["source"] == "train dtypes"
    assert [row["column"] for row in measured.details["mismatches"]] == ["n"]


# --------------------------------------------------------------------------- conflicting_labels


def conflicts_data() -> IntegrityData:
    return make(
        {"f1": [1, 1, 2, 3], "f2": ["a", "a", "b", "c"], "y": [0, 1, 0, 0]},
        {"f1": [1, 2, 4], "f2": ["a", "b", "d"], "y": [1, 0, 1]},
        numeric=["f1"],
        categorical=["f2"],
    )


def test_conflicting_labels_counts_every_row_of_an_ambiguous_group() -> None:
    data = conflicts_data()
    measured = integrity_measurement("conflicting_labels", data)
    # (1, 'a') occurs with labels 0, 1, 1 (3 rows); (2, 'b') twice with 0: consistent
    assert measured.value == pytest.approx(3 / 7)
    frame = stacked(data)
    labels_per_row = frame.groupby(["f1", "f2"])["y"].transform("nunique")
    assert measured.value == pytest.approx((labels_per_row > 1).mean())
    assert measured.details["groups"] == 1
    assert measured.details["examples"] == [{"row": "train row 0", "rows": 3, "labels": ["0", "1"]}]


# --------------------------------------------------------------------------- train_holdout_overlap


def overlap_data() -> IntegrityData:
    return make(
        {"f": [1, 2, 3, 4], "c": ["a", "b", "c", "d"], "y": [0, 1, 0, 1]},
        {
            "f": [1.0, 2.0, 3.0, 9.0, 1.0],
            "c": ["a", "b", "x", "d", "a"],
            # rows 0 and 4 repeat train row 0; row 1 has train row 1's features, another label
            "y": [0, 0, 0, 1, 0],
        },
        numeric=["f"],
        categorical=["c"],
    )


def test_train_holdout_overlap_counts_leaked_holdout_rows() -> None:
    measured = integrity_measurement("train_holdout_overlap", overlap_data())
    assert measured.value == pytest.approx(2 / 5)
    assert measured.details["overlapping_rows"] == 2
    assert measured.details["same_features_rows"] == 3
    assert measured.details["examples"] == ["holdout row 0", "holdout row 4"]
    assert "2 of 5 holdout rows" in measured.explanation


# --------------------------------------------------------------------------- errors


def test_unknown_metric_is_an_error() -> None:
    data = conflicts_data()
    with pytest.raises(ValueError, match="unknown integrity metric 'nulls'"):
        integrity_measurement("nulls", data)
    with pytest.raises(ValueError, match="deepchecks_results"):
        integrity_measurement("deepchecks", data)


@pytest.mark.parametrize("metric", integrity.NATIVE_METRICS)
def test_a_missing_column_fails_the_measurement(metric: str) -> None:
    data = make(
        {"n": [1, 2], "c": ["a", "b"], "y": [0, 1]},
        {"c": ["a", "b"], "y": [0, 1]},
        numeric=["n"],
        categorical=["c"],
    )
    measured = integrity_measurement(metric, data)
    if metric in ("constant_columns", "unseen_categories"):  # they do not read holdout 'n'
        assert measured.error is None
    elif metric == "schema_mismatch":  # a missing column is what it counts
        assert measured.value == 1
    else:
        assert measured.value is None
        assert measured.error == "column 'n' missing from the holdout data"


def test_an_empty_holdout_fails_holdout_metrics() -> None:
    data = make({"n": [1], "y": [0]}, {"n": [], "y": []}, ["n"], [])
    assert integrity_measurement("train_holdout_overlap", data).error is not None
    assert integrity_measurement("duplicate_rows", data).value == 0.0


def random_data(seed: int) -> IntegrityData:
    """Few distinct values (so rows repeat): 0.0, -0.0, NaN, an int column read as float, None."""
    rng = np.random.default_rng(seed)

    def part(rows: int, as_float: bool) -> dict[str, Any]:
        a = rng.choice([0.0, -0.0, 1.0, 2.0, np.nan], rows)
        return {
            "a": a if as_float else np.nan_to_num(a).astype(int),
            "b": rng.choice(np.array(["x", "y", None], dtype=object), rows),
            "c": pd.Categorical(rng.choice(["p", "q"], rows)),
            "y": rng.integers(0, 2, rows),
        }

    train, holdout = int(rng.integers(0, 60)), int(rng.integers(1, 40))
    return make(part(train, seed % 2 == 0), part(holdout, True), ["a"], ["b", "c"])


@pytest.mark.parametrize("seed", range(20))
def test_row_comparisons_agree_with_pandas(seed: int) -> None:
    """duplicate_rows, conflicting_labels and train_holdout_overlap compare rows as pandas does."""
    data = random_data(seed)
    frame = stacked(data)
    rows = len(frame)
    assert integrity_measurement("duplicate_rows", data).details["duplicate_rows"] == frame.duplicated().sum()

    features = frame.groupby(["a", "b", "c"], dropna=False, observed=True)
    ambiguous = features["y"].transform("nunique") > 1
    assert integrity_measurement("conflicting_labels", data).value == pytest.approx(ambiguous.sum() / rows)

    in_train = np.arange(rows) < len(data.train)
    whole = frame.groupby(["a", "b", "c", "y"], dropna=False, observed=True).ngroup().to_numpy()
    leaked = np.flatnonzero(~in_train & np.isin(whole, whole[in_train])) - len(data.train)
    measured = integrity_measurement("train_holdout_overlap", data)
    assert measured.details["overlapping_rows"] == len(leaked)
    assert measured.details["examples"] == [f"holdout row {i}" for i in leaked[:5]]
    same = features.ngroup().to_numpy()
    assert measured.details["same_features_rows"] == int((~in_train & np.isin(same, same[in_train])).sum())


def test_details_are_plain_json_types() -> None:
    import json

    for metric in integrity.NATIVE_METRICS:
        measured = integrity_measurement(metric, duplicates_data())
        json.dumps(measured.details, allow_nan=False)  # no numpy scalars, no NaN


# --------------------------------------------------------------------------- deepchecks


def run_check(check: Any, *datasets: Any) -> Any:
    with warnings.catch_warnings():  # deepchecks' own pandas deprecations
        warnings.simplefilter("ignore")
        return check.run(*datasets).value


def dataset(frame: pd.DataFrame, categorical: list[str]) -> Any:
    from deepchecks.tabular import Dataset

    return Dataset(frame, label="y", cat_features=categorical, label_type="binary")


@pytest.mark.usefixtures("deepchecks_ok")
def test_native_definitions_match_deepchecks_checks() -> None:
    from deepchecks.tabular.checks import ConflictingLabels, DataDuplicates, TrainTestSamplesMix

    dups = duplicates_data()
    expected = run_check(DataDuplicates(), dataset(stacked(dups), ["c"]))
    assert integrity_measurement("duplicate_rows", dups).value == pytest.approx(expected)

    conflicts = conflicts_data()
    expected = run_check(ConflictingLabels(), dataset(stacked(conflicts), ["f2"]))
    measured = integrity_measurement("conflicting_labels", conflicts)
    assert measured.value == pytest.approx(expected["percent_of_conflicting_samples"])

    overlap = overlap_data()
    train, holdout = dataset(overlap.train, ["c"]), dataset(overlap.holdout, ["c"])
    expected = run_check(TrainTestSamplesMix(), train, holdout)
    assert integrity_measurement("train_holdout_overlap", overlap).value == pytest.approx(expected["ratio"])


@pytest.fixture(scope="module")
def credit() -> IntegrityData:
    """German credit, every fourth row held out, prepared as mlgate.data prepares it."""
    frame = pd.read_csv(CREDIT)
    for column in CREDIT_CATEGORICAL:
        frame[column] = frame[column].astype(str)
    holdout = frame.index % 4 == 0
    return IntegrityData(
        train=frame[~holdout].reset_index(drop=True),
        holdout=frame[holdout].reset_index(drop=True),
        numeric=CREDIT_NUMERIC,
        categorical=CREDIT_CATEGORICAL,
        target="risk",
        signature=None,
    )


def check_outcomes(
    outcomes: list[integrity.DeepchecksOutcome],
) -> dict[str, integrity.DeepchecksOutcome]:
    assert outcomes
    for outcome in outcomes:
        assert outcome.check
        assert outcome.condition
        assert outcome.category in CATEGORIES
        assert outcome.passed == (outcome.category == "PASS")
        assert "\n" not in outcome.details
    return {o.check: o for o in outcomes}


@pytest.mark.usefixtures("deepchecks_ok")
def test_train_test_validation_on_credit(credit: IntegrityData, capfd: pytest.CaptureFixture[str]) -> None:
    outcomes = deepchecks_results("train_test_validation", credit, None, "classification")
    by_check = check_outcomes(outcomes)
    assert {
        "Train Test Samples Mix",
        "New Category Train Test",
        "Feature Drift",
        "Label Drift",
    } <= set(by_check)
    # every condition is reported, the two of Feature Label Correlation Change included
    assert sum(o.check == "Feature Label Correlation Change" for o in outcomes) == 2
    # no datetime or index column: deepchecks' date and index leakage checks do not apply
    assert not any("Date" in o.check or "Index" in o.check for o in outcomes)
    assert by_check["Train Test Samples Mix"].passed  # the credit rows are distinct
    assert capfd.readouterr() == ("", "")  # no progress bars, no log lines


@pytest.mark.usefixtures("deepchecks_ok")
def test_data_integrity_on_credit(credit: IntegrityData, capfd: pytest.CaptureFixture[str]) -> None:
    outcomes = deepchecks_results("data_integrity", credit, None, "classification")
    by_check = check_outcomes(outcomes)
    for check in ("Single Value in Column", "Mixed Nulls", "Data Duplicates", "Conflicting Labels"):
        assert by_check[f"{check} - Train Dataset"].passed
        assert by_check[f"{check} - Test Dataset"].passed
    assert capfd.readouterr() == ("", "")


@pytest.mark.usefixtures("deepchecks_ok")
def test_deepchecks_fails_conditions_on_broken_data(credit: IntegrityData) -> None:
    train = credit.train.copy()
    train["branch"] = "berlin"  # a feature with one value
    train.loc[:99, "saving_accounts"] = None  # two spellings of "missing" in one column
    train.loc[100:199, "saving_accounts"] = "N/A"
    holdout = pd.concat([credit.holdout, credit.train.iloc[200:260]], ignore_index=True)  # leaked
    holdout["branch"] = "berlin"
    broken = IntegrityData(train, holdout, CREDIT_NUMERIC, [*CREDIT_CATEGORICAL, "branch"], "risk", None)
    by_check = check_outcomes(deepchecks_results("data_integrity", broken, None, "classification"))
    for check in ("Single Value in Column - Train Dataset", "Mixed Nulls - Train Dataset"):
        assert by_check[check].category == "FAIL"
        assert not by_check[check].passed
    assert "branch" in by_check["Single Value in Column - Train Dataset"].details
    assert by_check["Mixed Nulls - Test Dataset"].passed

    by_check = check_outcomes(deepchecks_results("train_test_validation", broken, None, "classification"))
    mix = by_check["Train Test Samples Mix"]
    assert mix.category == "FAIL"
    # the native metric sees the same leak: 60 of 310 holdout rows
    assert integrity_measurement("train_holdout_overlap", broken).value == pytest.approx(60 / 310)


@pytest.mark.usefixtures("deepchecks_ok")
def test_model_evaluation_on_credit(credit: IntegrityData) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), CREDIT_NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CREDIT_CATEGORICAL),
        ]
    )
    model = Pipeline([("features", features), ("estimator", LogisticRegression(max_iter=500))])
    model.fit(credit.train[credit.features], credit.train[credit.target])
    outcomes = deepchecks_results("model_evaluation", credit, model, "classification")
    by_check = check_outcomes(outcomes)
    assert "ROC Report - Test Dataset" in by_check
    assert "Simple Model Comparison" in by_check
    # regression-only and boosting-only checks do not apply to a logistic regression
    assert not any("Regression" in o.check or "Boosting" in o.check for o in outcomes)


@pytest.fixture
def custom_suite(deepchecks_ok: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Replace the data_integrity suite with one made of the given checks."""
    from deepchecks.tabular import Suite, suites

    def install(*checks: Any) -> None:
        monkeypatch.setattr(suites, "data_integrity", lambda: Suite("custom", *checks))

    return install


def custom_checks() -> tuple[Any, Any]:
    from deepchecks.core.errors import DatasetValidationError
    from deepchecks.tabular import SingleDatasetCheck

    class CrashingCheck(SingleDatasetCheck):
        def run_logic(self, context: Any, dataset_kind: Any) -> Any:
            raise RuntimeError("boom\nsecond line")

    class DatetimeOnlyCheck(SingleDatasetCheck):
        def run_logic(self, context: Any, dataset_kind: Any) -> Any:
            raise DatasetValidationError("Dataset does not contain a datetime")

    crashing = CrashingCheck().add_condition("Never crashes", lambda value: True)
    datetime_only = DatetimeOnlyCheck().add_condition("Dates are fine", lambda value: True)
    return crashing, datetime_only


def test_a_crashing_check_is_an_error_and_an_inapplicable_one_is_left_out(
    custom_suite: Any, credit: IntegrityData
) -> None:
    custom_suite(*custom_checks())
    outcomes = deepchecks_results("data_integrity", credit, None, "classification")
    assert [(o.check, o.condition, o.category, o.passed) for o in outcomes] == [
        ("Crashing Check - Train Dataset", "Never crashes", "ERROR", False),
        ("Crashing Check - Test Dataset", "Never crashes", "ERROR", False),
    ]
    assert outcomes[0].details == "the check failed: RuntimeError: boom second line"


def test_a_suite_with_nothing_applicable_is_an_error(custom_suite: Any, credit: IntegrityData) -> None:
    custom_suite(custom_checks()[1])
    (outcome,) = deepchecks_results("data_integrity", credit, None, "classification")
    assert (outcome.category, outcome.passed) == ("ERROR", False)
    assert "no condition" in outcome.details


def test_model_evaluation_without_a_model_is_an_error_outcome(deepchecks_ok: None, credit: IntegrityData) -> None:
    (outcome,) = deepchecks_results("model_evaluation", credit, None, "classification")
    assert (outcome.category, outcome.passed) == ("ERROR", False)
    assert "needs the fitted model" in outcome.details


def test_unknown_suite_is_an_error(credit: IntegrityData) -> None:
    with pytest.raises(ValueError, match="unknown deepchecks suite 'full'"):
        deepchecks_results("full", credit, None, "classification")


@pytest.fixture
def fresh_probe() -> Any:
    suites_runner._deepchecks_problem.cache_clear()
    yield
    suites_runner._deepchecks_problem.cache_clear()


def test_deepchecks_missing(monkeypatch: pytest.MonkeyPatch, fresh_probe: None, credit: IntegrityData) -> None:
    monkeypatch.setitem(sys.modules, "deepchecks.tabular.suites", None)
    assert not deepchecks_available()
    assert "not installed" in str(deepchecks_problem())
    with pytest.raises(RuntimeError, match=r"pip install 'mlgate\[deepchecks\]'"):
        deepchecks_results("data_integrity", credit, None, "classification")


def test_deepchecks_with_a_known_breaking_pandas(
    monkeypatch: pytest.MonkeyPatch, fresh_probe: None, deepchecks_ok: None
) -> None:
    real = suites_runner._version
    monkeypatch.setattr(suites_runner, "_version", lambda dist: (3, 0) if dist == "pandas" else real(dist))
    assert not deepchecks_available()
    assert "does not work with pandas" in str(deepchecks_problem())

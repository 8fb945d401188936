"""Reason codes (`mlgate.gates.explainer`): each method's defining property, on real fitted models.

- scikit-learn tree ensembles: shap's TreeExplainer on the fitted trees, one-hot columns summed back
  into their input column; equal to TreeExplainer summed by hand to 1e-9, and base + contributions
  equal the model's probability to 1e-9;
- XGBoost and LightGBM: their own pred_contrib, which sums to the raw margin;
- the fallback (baseline substitution): exact for a model additive in its inputs, zero for a feature
  at its reference value or one the model never reads.

The credit forest that `mlgate train` registers is checked the same way through `mlgate score`
(tests/test_score.py) and `mlgate serve` (tests/test_serve.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlgate.exceptions import InvalidInput, MissingExtra
from mlgate.gates import Reasons, explainer, global_explanation

NUMERIC = ["amount", "months", "age"]
CATEGORICAL = ["housing", "purpose"]
FEATURES = NUMERIC + CATEGORICAL


def rows(n: int = 600, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    """Applications with a label that depends on amount, months, housing and an interaction."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 1500.0, n).round(0),
            "months": rng.integers(4, 72, n),
            "age": rng.integers(19, 75, n),
            "housing": rng.choice(["own", "rent", "free"], n).astype(object),
            "purpose": rng.choice(["car", "tv", "education", "business"], n).astype(object),
        }
    )
    x.loc[rng.choice(n, 20, replace=False), "housing"] = np.nan  # missing categories, as read_csv gives them
    score = -x["amount"] / 3000 - x["months"] / 30 + (x["housing"] == "own") + 0.5 * (x["purpose"] == "car")
    y = pd.Series((score + rng.normal(0, 0.5, n) > -1.5).astype(int), name="risk")
    return x, y


def preprocessing(passthrough: bool = False) -> ColumnTransformer:
    """mlgate train's preprocessing (impute + scale, impute + one-hot), or train/income.py's (passthrough + one-hot)."""
    if passthrough:
        return ColumnTransformer(
            [
                ("numeric", "passthrough", NUMERIC),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ]
        )
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    return ColumnTransformer([("numeric", numeric, NUMERIC), ("categorical", categorical, CATEGORICAL)])


def by_input(values: np.ndarray, names: list[str]) -> np.ndarray:
    """Encoded-column contributions summed per input feature, from the encoded columns' names (by hand)."""
    out = np.zeros((values.shape[0], len(FEATURES)))
    for at, name in enumerate(names):
        source = name.split("__", 1)[1]
        owner = next(f for f in FEATURES if source == f or source.startswith(f + "_"))
        out[:, FEATURES.index(owner)] += values[:, at]
    return out


def test_a_forest_pipeline_equals_tree_explainer_and_adds_up_to_the_probability() -> None:
    import shap

    x, y = rows()
    model = Pipeline(
        [("features", preprocessing()), ("estimator", RandomForestClassifier(60, max_depth=6, random_state=0))]
    ).fit(x, y)
    reasons = explainer(model, FEATURES, task="classification", classes=[0, 1], positive=1).explain(x)
    assert (reasons.method, reasons.output, reasons.additive) == ("tree_shap", "probability", True)
    tree = shap.TreeExplainer(model[-1])
    encoded = model[:-1].transform(x)
    expected = by_input(tree.shap_values(encoded)[:, :, 1], list(model[:-1].get_feature_names_out()))
    np.testing.assert_allclose(reasons.contributions, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(reasons.base, tree.expected_value[1], rtol=0, atol=1e-12)
    total = reasons.base + reasons.contributions.sum(axis=1)
    np.testing.assert_allclose(total, model.predict_proba(x)[:, 1], rtol=0, atol=1e-9)
    # the one-hot columns of housing and purpose were summed into them: every input feature, no encoded one
    assert reasons.features == FEATURES
    assert reasons.contributions.shape == (len(x), 5)
    assert reasons.toward == [1] * len(x)
    # toward the other class: every contribution flips sign (a forest's two probabilities sum to 1)
    other = explainer(model, FEATURES, task="classification", classes=[0, 1], positive=0).explain(x)
    np.testing.assert_allclose(other.contributions, -reasons.contributions, rtol=0, atol=1e-9)
    np.testing.assert_allclose(other.base + other.contributions.sum(axis=1), model.predict_proba(x)[:, 0], atol=1e-9)


def test_gradient_boosting_explains_its_margin_toward_the_positive_class() -> None:
    x, y = rows()
    model = Pipeline([("features", preprocessing()), ("estimator", GradientBoostingClassifier(random_state=0))]).fit(
        x, y
    )
    reasons = explainer(model, FEATURES, task="classification", classes=[0, 1], positive=1).explain(x)
    assert (reasons.method, reasons.output) == ("tree_shap", "margin")
    margin = model.decision_function(x)
    np.testing.assert_allclose(reasons.base + reasons.contributions.sum(axis=1), margin, rtol=0, atol=1e-9)


def test_a_multiclass_forest_explains_each_rows_decided_class() -> None:
    x, _ = rows()
    y = pd.cut(x["months"], [0, 20, 40, 80], labels=["short", "medium", "long"]).astype(str)
    model = Pipeline([("features", preprocessing()), ("estimator", RandomForestClassifier(40, random_state=0))]).fit(
        x, y
    )
    classes = list(model.classes_)
    proba = model.predict_proba(x)
    decided = np.asarray(classes)[proba.argmax(axis=1)]
    reasons = explainer(model, FEATURES, task="classification", classes=classes, positive=None).explain(x, decided)
    assert reasons.toward == decided.tolist()
    chosen = proba[np.arange(len(x)), proba.argmax(axis=1)]
    np.testing.assert_allclose(reasons.base + reasons.contributions.sum(axis=1), chosen, rtol=0, atol=1e-9)
    # months decides the class: it is every row's first reason
    assert {row[0]["feature"] for row in reasons.top(x, 1)} == {"months"}


def test_xgboost_pred_contrib_sums_to_the_raw_margin() -> None:
    from xgboost import XGBClassifier

    x, y = rows()
    model = Pipeline(  # as train/income.py builds the demo's income model
        [("features", preprocessing(passthrough=True)), ("xgboost", XGBClassifier(n_estimators=40, max_depth=4))]
    ).fit(x, y)
    reasons = explainer(model, FEATURES, task="classification", classes=[0, 1], positive=1).explain(x)
    assert (reasons.method, reasons.output, reasons.additive) == ("xgboost_pred_contrib", "margin", True)
    margin = model[-1].predict(model[:-1].transform(x), output_margin=True)
    # XGBoost computes in float32: its contributions add up to its float32 margin to float32's precision
    np.testing.assert_allclose(reasons.base + reasons.contributions.sum(axis=1), margin, rtol=1e-5, atol=1e-5)
    toward_bad = explainer(model, FEATURES, task="classification", classes=[0, 1], positive=0).explain(x)
    np.testing.assert_allclose(toward_bad.base + toward_bad.contributions.sum(axis=1), -margin, rtol=1e-5, atol=1e-5)


def test_xgboost_multiclass_contributions_sum_to_the_decided_class_margin() -> None:
    from xgboost import XGBClassifier

    x, _ = rows()
    y = pd.cut(x["amount"], [-1, 2000, 4000, 1e9], labels=False).astype(int)
    numbers = x[NUMERIC]
    model = XGBClassifier(n_estimators=30, max_depth=3).fit(numbers, y)
    decided = model.predict(numbers)
    reasons = explainer(model, NUMERIC, task="classification", classes=[0, 1, 2]).explain(numbers, decided)
    margin = model.predict(numbers, output_margin=True)[np.arange(len(x)), decided]
    np.testing.assert_allclose(reasons.base + reasons.contributions.sum(axis=1), margin, rtol=1e-5, atol=1e-5)


def test_lightgbm_pred_contrib_sums_to_the_raw_margin_for_the_classifier_and_its_booster() -> None:
    from lightgbm import LGBMClassifier

    x, y = rows()
    model = Pipeline(
        [("features", preprocessing()), ("lgbm", LGBMClassifier(n_estimators=40, verbose=-1, random_state=0))]
    ).fit(x, y)
    reasons = explainer(model, FEATURES, task="classification", classes=[0, 1], positive=1).explain(x)
    assert (reasons.method, reasons.output) == ("lightgbm_pred_contrib", "margin")
    encoded = model[:-1].transform(x)
    raw = model[-1].predict(encoded, raw_score=True)
    np.testing.assert_allclose(reasons.base + reasons.contributions.sum(axis=1), raw, rtol=0, atol=1e-9)
    # a bare Booster (mlflow.lightgbm's lightgbm-text format) on the encoded columns
    booster = model[-1].booster_
    names = [f"c{i}" for i in range(encoded.shape[1])]
    frame = pd.DataFrame(encoded, columns=names)
    bare = explainer(booster, names, task="classification", classes=[0, 1], positive=1).explain(frame)
    np.testing.assert_allclose(bare.base + bare.contributions.sum(axis=1), raw, rtol=0, atol=1e-9)


def test_the_fallback_is_exact_for_a_model_additive_in_its_inputs() -> None:
    x, _ = rows()
    y = 3 * x["amount"] / 1000 - x["months"] + 5 * (x["housing"] == "own")
    model = Pipeline([("features", preprocessing()), ("ridge", Ridge(alpha=1e-6))]).fit(x, y)
    reasons = explainer(model, FEATURES, task="regression").explain(x)
    assert (reasons.method, reasons.output, reasons.additive) == ("baseline_substitution", "value", False)
    # no interactions: each feature's move from its reference adds up exactly
    np.testing.assert_allclose(reasons.base + reasons.contributions.sum(axis=1), model.predict(x), rtol=0, atol=1e-9)
    # the reference values are the model's own imputers' (the training rows' median and mode)
    assert reasons.base[0] == pytest.approx(model.predict(_reference_row(model))[0], abs=1e-12)


def _reference_row(model: Any) -> pd.DataFrame:
    numeric = model[0].named_transformers_["numeric"][0].statistics_
    categorical = model[0].named_transformers_["categorical"][0].statistics_
    return pd.DataFrame([dict(zip(FEATURES, [*numeric, *categorical], strict=True))])


def test_the_fallback_gives_zero_to_a_feature_at_its_reference_or_unread_by_the_model() -> None:
    x, y = rows()
    reads = ["amount", "months", "housing"]
    features = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                reads[:2],
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), ["housing"]),
        ]
    )
    model = Pipeline([("features", features), ("logistic", LogisticRegression(max_iter=1000))]).fit(x, y)
    explain = explainer(model, FEATURES, task="classification", classes=[0, 1], positive=1, reference=x)
    reasons = explain.explain(x)
    assert reasons.method == "baseline_substitution"
    # age and purpose never reach the model: their contribution is zero on every row
    unread = reasons.contributions[:, [FEATURES.index("age"), FEATURES.index("purpose")]]
    assert np.abs(unread).max() == 0.0
    # a row whose amount is the reference's (the evaluation rows' median) gets nothing for it
    median = float(x["amount"].median())
    at_reference = x.assign(amount=median)
    again = explain.explain(at_reference)
    assert np.abs(again.contributions[:, 0]).max() == 0.0
    # ...and the others still move: a logistic model is not additive in probability, so no sum is promised
    assert np.abs(reasons.contributions[:, 1]).max() > 0.01


def test_the_fallback_without_reference_values_is_exit_2_naming_the_features() -> None:
    x, y = rows()
    model = Pipeline(
        [("features", preprocessing(passthrough=True)), ("logistic", LogisticRegression(max_iter=2000))]
    ).fit(x.fillna({"housing": "own"}), y)
    with pytest.raises(InvalidInput) as err:
        explainer(model, FEATURES, task="classification", classes=[0, 1], positive=1)
    assert err.value.exit_code == 2
    assert "none is known for amount, months, age, housing, purpose" in err.value.message


def test_preprocessing_that_mixes_input_columns_takes_the_fallback() -> None:
    x, y = rows()
    numbers = x[NUMERIC]
    model = Pipeline(
        [
            ("features", ColumnTransformer([("pca", PCA(2), NUMERIC)])),
            ("estimator", RandomForestClassifier(20, random_state=0)),
        ]
    ).fit(numbers, y)
    reasons = explainer(model, NUMERIC, task="classification", classes=[0, 1], positive=1, reference=numbers).explain(
        numbers
    )
    assert reasons.method == "baseline_substitution"  # a PCA component comes from every input: no exact split


def test_top_reasons_are_ordered_by_size_and_carry_the_rows_values() -> None:
    reasons = Reasons(
        "tree_shap",
        "probability",
        ["a", "b", "c"],
        np.array([0.5, 0.5]),
        np.array([[0.1, -0.3, 0.2], [0.0, 0.0, -0.05]]),
        [1, 1],
        True,
    )
    frame = pd.DataFrame({"a": [1, 2], "b": ["own", np.nan], "c": [2.5, np.int64(7)]})
    top = reasons.top(frame, 2)
    assert top[0] == [
        {"feature": "b", "value": "own", "contribution": -0.3},
        {"feature": "c", "value": 2.5, "contribution": 0.2},
    ]
    # a missing value is null, numpy scalars are Python's; ties keep the feature order
    assert top[1] == [
        {"feature": "c", "value": 7.0, "contribution": -0.05},
        {"feature": "a", "value": 2, "contribution": 0.0},
    ]
    assert reasons.top(frame, 9)[0][-1]["feature"] == "a"  # k past the features: every feature once
    assert [r["feature"] for r in reasons.mean_abs()] == ["b", "c", "a"]


def test_the_global_explanation_and_a_missing_shap(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = rows(3000)
    model = Pipeline(
        [("features", preprocessing()), ("estimator", RandomForestClassifier(30, max_depth=5, random_state=0))]
    ).fit(x, y)
    block = global_explanation(model, x, task="classification", classes=[0, 1], positive=1, seed=42)
    assert (block["method"], block["output"], block["toward"]) == ("tree_shap", "probability", 1)
    assert (block["rows"], block["of_rows"]) == (2000, 3000)  # capped, a seeded sample
    assert block["features"][0]["feature"] == "months"  # the label's strongest input (months / 30 per unit)
    assert {f["feature"] for f in block["features"]} == set(FEATURES)
    sizes = [f["mean_abs_contribution"] for f in block["features"]]
    assert sizes == sorted(sizes, reverse=True)
    assert len(sizes) == 5
    again = global_explanation(model, x, task="classification", classes=[0, 1], positive=1, seed=42)
    assert again == block  # seeded
    # without shap: a tree ensemble's reasons are exit 2 naming the extra; the gate's evidence says why instead
    monkeypatch.setitem(sys.modules, "shap", None)
    with pytest.raises(MissingExtra) as err:
        explainer(model, FEATURES, task="classification", classes=[0, 1], positive=1)
    assert err.value.exit_code == 2
    assert "pip install 'mlgate[shap]'" in err.value.hint
    skipped = global_explanation(model, x, task="classification", classes=[0, 1], positive=1, seed=42)
    assert "shap" in skipped["skipped"]
    assert "pip install 'mlgate[shap]'" in skipped["skipped"]


def test_shap_is_pinned_and_installed_by_setup_venv() -> None:
    root = Path(__file__).resolve().parents[1]
    constraints = (root / "constraints.txt").read_text()
    for pin in ("shap==0.51.0", "numba==", "llvmlite==", "slicer=="):
        assert pin in constraints, pin
    setup = (root / "scripts" / "setup-venv").read_text()
    assert "(shap|slicer|numba|llvmlite)==" in setup


class _Broken:
    """A model whose output cannot be read: its contributions fail, the gate must not."""

    classes_ = np.array([0, 1])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        raise ValueError("this model cannot score today")


def test_a_model_whose_contributions_fail_leaves_the_gate_a_skipped_explanation() -> None:
    x, _ = rows(50)
    block = global_explanation(_Broken(), x, task="classification", classes=[0, 1], positive=1, seed=1)
    assert block == {
        "skipped": "the contributions could not be computed: ValueError: this model cannot score today",
        "rows": 50,
    }

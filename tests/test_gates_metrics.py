"""The sort-once performance metrics against scikit-learn, to 1e-12, on many random cases.

The reference is scikit-learn called exactly as mlgate called it before the metrics were derived
from one sort: any case where the two disagree (a value, NaN, or one of them raising) fails.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from mlgate.gates import classification_metrics, metrics, regression_metrics

TOL = 1e-12


def sklearn_classification(
    y_true: Any, proba: np.ndarray | None, classes: list[Any], pos: Any, predicted: Any = None
) -> dict[str, float]:
    """mlgate's classification metrics as scikit-learn computed them, one call per metric."""
    from sklearn import metrics as m

    y = np.asarray(y_true)
    if predicted is None:
        predicted = np.asarray(classes)[proba.argmax(axis=1)]
    predicted = np.asarray(predicted)
    binary = len(classes) == 2
    average: dict[str, Any] = {"pos_label": pos} if binary else {"average": "macro"}
    out = {
        "accuracy": m.accuracy_score(y, predicted),
        "balanced_accuracy": m.balanced_accuracy_score(y, predicted),
        "precision": m.precision_score(y, predicted, zero_division=0, **average),
        "recall": m.recall_score(y, predicted, zero_division=0, **average),
        "f1": m.f1_score(y, predicted, zero_division=0, **average),
    }
    if proba is None:
        return {k: float(v) for k, v in out.items()}
    out["log_loss"] = m.log_loss(y, proba, labels=classes)
    if binary:
        score = proba[:, classes.index(pos)]
        hit = y == pos
        out |= {
            "roc_auc": m.roc_auc_score(hit, score),
            "pr_auc": m.average_precision_score(hit, score),
            "brier": m.brier_score_loss(hit, score),
        }
    else:
        onehot = (y[:, None] == np.asarray(classes)[None, :]).astype(float)
        out |= {
            "roc_auc": m.roc_auc_score(y, proba, multi_class="ovr", labels=classes),
            "pr_auc": m.average_precision_score(onehot, proba, average="macro"),
            "brier": float(np.mean(np.sum((onehot - proba) ** 2, axis=1))),
        }
    return {k: float(v) for k, v in out.items()}


def sklearn_regression(y_true: Any, predicted: Any) -> dict[str, float]:
    """mlgate's regression metrics as scikit-learn computed them."""
    from sklearn import metrics as m

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(predicted, dtype=float)
    nonzero = y != 0
    mape = float(np.mean(np.abs((y[nonzero] - p[nonzero]) / y[nonzero])) * 100) if nonzero.any() else float("nan")
    return {
        "r2": float(m.r2_score(y, p)),
        "rmse": float(np.sqrt(m.mean_squared_error(y, p))),
        "mae": float(m.mean_absolute_error(y, p)),
        "mape": mape,
    }


def outcome(fn: Any, *args: Any, **kwargs: Any) -> dict[str, float] | type[Exception]:
    """The metrics, or the class of the exception raised (warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except ValueError:
            return ValueError


def outcome_or_type_error(fn: Any, *args: Any) -> dict[str, float] | type[Exception]:
    """:func:`outcome`, with a TypeError as its class too."""
    try:
        return outcome(fn, *args)
    except TypeError:
        return TypeError


def assert_same(mine: dict[str, float] | type, theirs: dict[str, float] | type, case: str) -> None:
    """Equal keys, each value within 1e-12 (NaN where scikit-learn gives NaN), or both raise ValueError."""
    if not isinstance(theirs, dict) or not isinstance(mine, dict):
        assert mine is theirs, f"{case}: mlgate {mine!r}, scikit-learn {theirs!r}"
        return
    assert mine.keys() == theirs.keys(), case
    for key, expected in theirs.items():
        got = mine[key]
        assert isinstance(got, float), (case, key)
        if math.isnan(expected):
            assert math.isnan(got), f"{case} {key}: mlgate {got!r}, scikit-learn NaN"
        else:
            assert abs(got - expected) <= TOL, f"{case} {key}: mlgate {got!r}, scikit-learn {expected!r}"


def scores(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Positive-class scores in [0, 1] of one shape: continuous, tied, constant or at the extremes."""
    if kind == "continuous":
        return rng.random(n)
    if kind == "ties":
        return np.round(rng.random(n), int(rng.integers(0, 3)))
    if kind == "constant":
        return np.full(n, rng.choice([0.0, 0.3, 0.5, 1.0]))
    return rng.choice([0.0, 1.0, 0.5, 1e-300, 1 - 1e-16], n)  # "extremes": log loss clips


SIZES = [1, 2, 3, 4, 7, 20, 100, 1000]
KINDS = ["continuous", "ties", "constant", "extremes"]


@pytest.mark.parametrize("seed", range(120))
def test_binary_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.choice(SIZES))
    kind = KINDS[seed % len(KINDS)]
    s = scores(rng, n, kind)
    labels: list[Any] = ["no", "yes"] if seed % 3 == 0 else [0, 1]
    shape = seed % 5  # 0: single class (all negative), 1: all positive, else mixed (informative or not)
    if shape == 0:
        hit = np.zeros(n, dtype=bool)
    elif shape == 1:
        hit = np.ones(n, dtype=bool)
    else:
        hit = rng.random(n) < (s if shape == 2 else 0.3)
    y = np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[hit.astype(int)]
    pos = labels[1] if seed % 7 else labels[0]  # sometimes the smaller label is the positive one
    proba = np.empty((n, 2))
    proba[:, labels.index(pos)] = s
    proba[:, 1 - labels.index(pos)] = 1.0 - s
    threshold = rng.choice([None, 0.5, 0.2, 0.9])
    predicted = None
    if threshold is not None:
        other = labels[1 - labels.index(pos)]
        predicted = np.where(s >= threshold, pos, other)
    case = f"seed {seed}: n={n} {kind} labels={labels} pos={pos!r} threshold={threshold}"
    mine = outcome(classification_metrics, y, proba, labels, pos, predicted)
    assert_same(mine, outcome(sklearn_classification, y, proba, labels, pos, predicted), case)


@pytest.mark.parametrize("seed", range(60))
def test_multiclass_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.choice(SIZES))
    k = int(rng.integers(3, 6))
    classes: list[Any] = [f"c{i}" for i in range(k)] if seed % 2 else list(range(k))
    if seed % 3 == 0:  # ties: every row's probabilities are one of a few rows
        rows = rng.dirichlet(np.ones(k), 3)
        proba = rows[rng.integers(0, 3, n)]
    else:
        proba = rng.dirichlet(np.full(k, 0.5), n)
    present = k if seed % 4 else int(rng.integers(1, k))  # some classes absent from the labels
    codes = np.where(rng.random(n) < 0.6, proba[:, :present].argmax(axis=1), rng.integers(0, present, n))
    y = np.asarray(classes, dtype=object if seed % 2 else None)[codes]
    predicted = None if seed % 5 else np.asarray(classes)[rng.integers(0, k, n)]
    case = f"seed {seed}: n={n} k={k} present={present}"
    mine = outcome(classification_metrics, y, proba, classes, classes[-1], predicted)
    assert_same(mine, outcome(sklearn_classification, y, proba, classes, classes[-1], predicted), case)


@pytest.mark.parametrize("seed", range(40))
def test_decided_labels_only_equal_sklearn(seed: int) -> None:
    """No probabilities (a rules engine's decisions), decided labels that may include one no class has."""
    rng = np.random.default_rng(2000 + seed)
    n = int(rng.choice(SIZES))
    k = 2 if seed % 2 else int(rng.integers(3, 5))
    classes = list(range(k))
    y = rng.integers(0, k, n)
    decided_from = k + 1 if seed % 5 == 0 else k  # an unknown decided label: binary raises as sklearn does
    predicted = rng.integers(0, decided_from, n)
    mine = outcome(classification_metrics, y, None, classes, 1, predicted)
    assert_same(mine, outcome(sklearn_classification, y, None, classes, 1, predicted), f"seed {seed} n={n} k={k}")


def test_large_binary_with_ties_equals_sklearn() -> None:
    rng = np.random.default_rng(7)
    n = 200_000
    s = np.round(rng.beta(2, 3, n), 3)  # ~1000 distinct scores: many ties
    y = (rng.random(n) < s).astype(np.int64)
    proba = np.column_stack([1.0 - s, s])
    assert_same(classification_metrics(y, proba, [0, 1], 1), sklearn_classification(y, proba, [0, 1], 1), "large")


@pytest.mark.parametrize(
    ("message", "y", "proba"),
    [
        ("contains NaN", [0, 1, 0], [[0.5, 0.5], [np.nan, 0.2], [0.1, 0.9]]),
        ("contains infinity", [0, 1, 0], [[0.5, 0.5], [np.inf, 0.2], [0.1, 0.9]]),
        ("greater than 1", [0, 1, 0], [[-0.2, 1.2], [0.4, 0.6], [0.5, 0.5]]),
        ("lower than 0", [0, 1, 0], [[0.5, 0.5], [0.4, 0.6], [1.0, -0.1]]),
        ("Target is multiclass", [0, 2, 0], [[0.5, 0.5], [0.4, 0.6], [0.5, 0.5]]),
        ("not belonging to the passed labels", [0, 3, 0], [[0.5, 0.2, 0.3], [0.4, 0.3, 0.3], [0.1, 0.1, 0.8]]),
        ("sum up to 1.0", [0, 1, 2], [[0.5, 0.2, 0.3], [0.4, 0.3, 0.3], [0.1, 0.1, 0.7]]),
    ],
)
def test_invalid_input_raises_as_sklearn(message: str, y: list[int], proba: list[list[float]]) -> None:
    p = np.asarray(proba)
    classes = list(range(p.shape[1]))
    theirs = outcome(sklearn_classification, np.asarray(y), p, classes, 1)
    assert theirs is ValueError, message
    with pytest.raises(ValueError, match=message):
        classification_metrics(np.asarray(y), p, classes, 1)


def test_nan_labels_and_mixed_label_types_raise_as_sklearn() -> None:
    for y, predicted, message in [
        (np.array([0.0, np.nan, 1.0]), np.array([0.0, 1.0, 1.0]), "NaN"),
        (np.array(["a", None, "b"], dtype=object), np.array(["a", "b", "b"], dtype=object), "NaN"),
        (np.array(["a", "b", "b"], dtype=object), np.array([0, 1, 1]), "Mix of label input types"),
    ]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = outcome_or_type_error(sklearn_classification, y, None, [0, 1], 1, predicted)
        assert theirs in (ValueError, TypeError)  # scikit-learn: TypeError sorting None among strings
        with pytest.raises(ValueError, match=message):
            classification_metrics(y, None, [0, 1], 1, predicted)


@pytest.mark.parametrize("seed", range(40))
def test_regression_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(3000 + seed)
    n = int(rng.choice(SIZES))
    y = rng.normal(10, 5, n)
    if seed % 4 == 0:
        y = np.round(y) * (rng.random(n) < 0.5)  # zeros (MAPE skips them), ties
    if seed % 7 == 0:
        y = np.full(n, 3.0)  # constant truth: R² is 1 for a perfect fit, else 0
    p = y + rng.normal(0, 2, n) if seed % 5 else y.copy()
    assert_same(outcome(regression_metrics, y, p), outcome(sklearn_regression, y, p), f"seed {seed} n={n}")


def test_regression_nan_raises_as_sklearn() -> None:
    y, p = np.array([1.0, np.nan, 2.0]), np.array([1.0, 2.0, 2.0])
    assert outcome(sklearn_regression, y, p) is ValueError
    with pytest.raises(ValueError, match="NaN"):
        regression_metrics(y, p)


def test_aggregates_alone_give_the_row_metrics() -> None:
    """What another engine hands over (counts per score, confusion counts, sums) gives the same numbers."""
    rng = np.random.default_rng(11)
    n = 5000
    s = np.round(rng.random(n), 2)
    y = (rng.random(n) < s).astype(np.int64)
    decided = (s >= 0.4).astype(np.int64)
    expected = outcome(sklearn_classification, y, np.column_stack([1 - s, s]), [0, 1], 1, decided)
    # the aggregates built without ScoreCounts.of / Confusion.of, as a GROUP BY would build them
    distinct = np.unique(s)
    table = metrics.ScoreCounts(
        distinct,
        np.array([np.sum(y[s == v]) for v in distinct]),
        np.array([np.sum(1 - y[s == v]) for v in distinct]),
    )
    built = metrics.ScoreCounts.of(y == 1, s)
    for field in ("scores", "positives", "negatives"):
        assert np.array_equal(getattr(table, field), getattr(built, field)), field
    pairs = [[np.sum((y == a) & (decided == b)) for b in (0, 1)] for a in (0, 1)]
    confusion = metrics.Confusion([0, 1], np.array(pairs))
    values, counts = np.unique(np.where(y == 1, s, 1 - s), return_counts=True)
    aggregated = metrics.threshold_metrics(confusion, 1) | {
        "roc_auc": metrics.roc_auc(table),
        "pr_auc": metrics.average_precision(table),
        "brier": metrics.brier(table),
        "log_loss": metrics.log_loss(values, counts),
    }
    assert_same(aggregated, expected, "aggregates")
    p = y + rng.normal(0, 1, n)
    mean = y.mean()
    sums = metrics.RegressionSums(
        rows=n,
        squared_error=float(np.sum((y - p) ** 2)),
        absolute_error=float(np.sum(np.abs(y - p))),
        squared_deviation=float(np.sum((y - mean) ** 2)),
        percentage_error=float(np.sum(np.abs((y - p)[y != 0] / y[y != 0]))),
        nonzero=int(np.sum(y != 0)),
    )
    assert_same(metrics.regression_from_sums(sums), sklearn_regression(y, p), "regression sums")


@pytest.mark.parametrize("seed", range(30))
def test_curves_and_class_report_equal_sklearn(seed: int) -> None:
    """The evidence's curves and per-class table: scikit-learn's arrays, element for element."""
    from sklearn import metrics as m

    rng = np.random.default_rng(4000 + seed)
    n = int(rng.choice([2, 5, 30, 500, 3000]))
    s = scores(rng, n, KINDS[seed % len(KINDS)])
    hit = rng.random(n) < 0.4
    hit[:2] = [True, False]  # both classes present: the curves are defined
    table = metrics.ScoreCounts.of(hit, s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fpr, tpr, _ = m.roc_curve(hit, s)
        precision, recall, _ = m.precision_recall_curve(hit, s)
    curves = (*metrics.roc_points(table), *metrics.pr_points(table))
    for mine, theirs in zip(curves, (fpr, tpr, precision, recall), strict=True):
        assert len(mine) == len(theirs)
        assert np.max(np.abs(mine - theirs)) <= TOL, seed
    classes = [0, 1, 2]
    y = rng.integers(0, 4, n)  # label 3: no class of the model
    decided = rng.integers(0, 4 if seed % 2 else 3, n)
    report = metrics.class_report(metrics.Confusion.of(y, decided), classes)
    assert np.array_equal(report.matrix, m.confusion_matrix(y, decided, labels=classes))
    expected = m.precision_recall_fscore_support(y, decided, labels=classes, zero_division=0)
    for got, want in zip((report.precision, report.recall, report.f1, report.support), expected, strict=True):
        assert np.max(np.abs(got - want)) <= TOL, seed

"""Holdout performance metrics, shared by training and the performance gate.

Binary classification uses the spec's positive label; multiclass uses macro averages and
one-vs-rest ROC AUC. Regression MAPE skips rows whose true value is 0 (it is undefined there).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def positive_label(classes: list[Any], configured: Any) -> Any:
    """The favourable class: the configured one, else the larger label."""
    return configured if configured is not None else max(classes)


def classification_metrics(
    y_true: Any,
    proba: NDArray[Any] | None,
    classes: list[Any],
    pos: Any,
    predicted: Any = None,
    sample_weight: NDArray[Any] | None = None,
) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall, F1, ROC AUC, PR AUC, log loss, Brier.

    ``predicted``: the decided labels, when they are not the most probable class (a score cut
    at a threshold other than 0.5). Without ``proba`` (decided labels only, e.g. a rules
    engine's output) the metrics that need scores (ROC AUC, PR AUC, log loss, Brier) are left out.
    ``sample_weight``: each row stands for that many rows (an aggregated table: the Spark engine
    hands one row per distinct (label, decision, probabilities) with its count); the metrics
    equal those of the expanded rows (integer weights: the same sums, the same distinct thresholds).
    """
    from sklearn import metrics as m

    y = np.asarray(y_true)
    if predicted is None:
        assert proba is not None, "decided labels or probabilities are needed"
        predicted = np.asarray(classes)[proba.argmax(axis=1)]
    predicted = np.asarray(predicted)
    binary = len(classes) == 2
    average: dict[str, Any] = {"pos_label": pos} if binary else {"average": "macro"}
    w = {"sample_weight": sample_weight}
    out = {
        "accuracy": m.accuracy_score(y, predicted, **w),
        "balanced_accuracy": m.balanced_accuracy_score(y, predicted, **w),
        "precision": m.precision_score(y, predicted, zero_division=0, **average, **w),
        "recall": m.recall_score(y, predicted, zero_division=0, **average, **w),
        "f1": m.f1_score(y, predicted, zero_division=0, **average, **w),
    }
    if proba is None:
        return {k: float(v) for k, v in out.items()}
    out["log_loss"] = m.log_loss(y, proba, labels=classes, **w)
    if binary:
        score = proba[:, classes.index(pos)]
        hit = y == pos
        out |= {
            "roc_auc": m.roc_auc_score(hit, score, **w),
            "pr_auc": m.average_precision_score(hit, score, **w),
            "brier": m.brier_score_loss(hit, score, **w),
        }
    else:
        onehot = (y[:, None] == np.asarray(classes)[None, :]).astype(float)
        out |= {
            "roc_auc": m.roc_auc_score(y, proba, multi_class="ovr", labels=classes, **w),
            "pr_auc": m.average_precision_score(onehot, proba, average="macro", **w),
            "brier": float(np.average(np.sum((onehot - proba) ** 2, axis=1), weights=sample_weight)),
        }
    return {k: float(v) for k, v in out.items()}


def regression_metrics(y_true: Any, predicted: Any, sample_weight: NDArray[Any] | None = None) -> dict[str, float]:
    """R², RMSE, MAE and MAPE (in percent); ``sample_weight`` as in :func:`classification_metrics`."""
    from sklearn import metrics as m

    y = np.asarray(y_true, dtype=float)
    p = np.asarray(predicted, dtype=float)
    nonzero = y != 0
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)[nonzero]
    errors = np.abs((y[nonzero] - p[nonzero]) / y[nonzero])
    mape = float(np.average(errors, weights=weights) * 100) if nonzero.any() else float("nan")
    w = {"sample_weight": sample_weight}
    return {
        "r2": float(m.r2_score(y, p, **w)),
        "rmse": float(np.sqrt(m.mean_squared_error(y, p, **w))),
        "mae": float(m.mean_absolute_error(y, p, **w)),
        "mape": mape,
    }


def evaluate(model: Any, frame: Any, features: list[str], target: str, task: str, pos: Any) -> dict[str, float]:
    """Metrics of a fitted pipeline on ``frame``."""
    x, y = frame[features], frame[target]
    if task == "classification":
        classes = list(model.classes_)
        return classification_metrics(y, model.predict_proba(x), classes, positive_label(classes, pos))
    return regression_metrics(y, model.predict(x))

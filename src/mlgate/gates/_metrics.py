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
    y_true: Any, proba: NDArray[Any] | None, classes: list[Any], pos: Any, predicted: Any = None
) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall, F1, ROC AUC, PR AUC, log loss, Brier.

    ``predicted``: the decided labels, when they are not the most probable class (a score cut
    at a threshold other than 0.5). Without ``proba`` (decided labels only, e.g. a rules
    engine's output) the metrics that need scores (ROC AUC, PR AUC, log loss, Brier) are left out.
    """
    from sklearn import metrics as m

    y = np.asarray(y_true)
    if predicted is None:
        assert proba is not None, "decided labels or probabilities are needed"
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


def regression_metrics(y_true: Any, predicted: Any) -> dict[str, float]:
    """R², RMSE, MAE and MAPE (in percent)."""
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


def evaluate(model: Any, frame: Any, features: list[str], target: str, task: str, pos: Any) -> dict[str, float]:
    """Metrics of a fitted pipeline on ``frame``."""
    x, y = frame[features], frame[target]
    if task == "classification":
        classes = list(model.classes_)
        return classification_metrics(y, model.predict_proba(x), classes, positive_label(classes, pos))
    return regression_metrics(y, model.predict(x))

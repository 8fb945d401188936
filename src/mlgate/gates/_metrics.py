"""Holdout performance metrics, shared by training, the performance gate and monitoring.

Binary classification uses the spec's positive label; multiclass uses macro averages and
one-vs-rest ROC AUC. Regression MAPE skips rows whose true value is 0 (it is undefined there).

Every value equals scikit-learn's (``roc_auc_score``, ``average_precision_score``,
``accuracy_score``, ``balanced_accuracy_score``, ``precision/recall/f1_score`` with
``zero_division=0``, ``log_loss``, ``brier_score_loss``, ``r2_score``...) to 1e-12, but the rows
are scanned and sorted once instead of once per metric: the formulas work on two small
aggregates, which another engine (Spark) can build and hand to the same functions, so each
formula has one source.

The aggregates and the functions on them, reached as ``mlgate.gates.metrics.<name>`` (names stable:
the Spark engine calls them):

- :class:`ScoreCounts` — the distinct scores of one class's score column (ascending) with the number
  of positive and negative rows at each score (``ScoreCounts.of(hit, score)`` builds it from rows);
  :func:`roc_auc` (scikit-learn's trapezoid over the ROC curve, ties as one step, which is the
  Mann-Whitney rank statistic), :func:`average_precision` (scikit-learn's step sum, no
  interpolation) and :func:`brier` (binary) read it.
- :class:`Confusion` — the labels present in the true or decided labels (sorted, as scikit-learn's
  ``unique_labels``) and the count of rows per (true, decided) pair (``Confusion.of(y, decided)``);
  :func:`threshold_metrics` gives accuracy, balanced accuracy, precision, recall and F1 from it
  (for ``pos``: binary, else macro over the present labels); :func:`class_report` the per-class table
  of the evidence. :func:`roc_points` and :func:`pr_points` are the curves themselves.
- :func:`log_loss` — the mean of ``-log(clip(p))`` over the probabilities given to each row's true
  class (``p`` and optional counts per distinct value); :data:`PROBABILITY_EPS` is the clip.
- :class:`RegressionSums` and :func:`regression_from_sums` — R², RMSE, MAE and MAPE from sums
  (two passes: the mean of y first, then the sums), for an engine that aggregates.

:func:`classification_metrics` and :func:`regression_metrics` are the row-level entry points.
Invalid input raises :class:`ValueError` where scikit-learn would (NaN or infinite scores,
probabilities outside [0, 1], true labels that are not classes, string and number labels mixed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlgate.config import PER_CLASS_METRICS

PROBABILITY_EPS = float(np.finfo(np.float64).eps)
"""Log loss clips probabilities to [eps, 1 - eps] (scikit-learn's clip for float64)."""


def positive_label(classes: list[Any], configured: Any) -> Any:
    """The favourable class: the configured one, else the larger label."""
    return configured if configured is not None else max(classes)


# --------------------------------------------------------------------------- aggregates


@dataclass(frozen=True)
class ScoreCounts:
    """The distinct values of a score (ascending) and how many positive and negative rows have each.

    What the ranking metrics need of a binary (or one-vs-rest) problem: everything else about the
    rows is irrelevant to them, so another engine can build this with one ``GROUP BY score``.
    """

    scores: NDArray[np.float64]
    positives: NDArray[np.int64]
    negatives: NDArray[np.int64]

    @classmethod
    def of(cls, hit: Any, score: Any) -> ScoreCounts:
        """The counts of rows: ``hit`` (true where the row is of the positive class) and ``score``.

        One sort of the scores; the score must be finite (a :class:`ValueError` says otherwise).
        """
        s = _finite(np.asarray(score, dtype=np.float64).ravel())
        h = np.asarray(hit, dtype=bool).ravel()
        if len(s) != len(h):
            raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(h)}, {len(s)}]")
        if not len(s):
            empty = np.zeros(0, dtype=np.int64)
            return cls(np.zeros(0), empty, empty)
        order = np.argsort(s, kind="stable")
        ordered = s[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        positives = np.add.reduceat(h[order].astype(np.int64), starts)
        sizes = np.diff(np.r_[starts, len(s)])
        return cls(ordered[starts], positives, sizes - positives)

    @property
    def rows(self) -> int:
        """How many rows the counts describe."""
        return int(self.positives.sum() + self.negatives.sum())


def _curve(table: ScoreCounts) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Cumulative (false positives, true positives) at each distinct threshold, highest score first.

    scikit-learn's ``_binary_clf_curve``: its cumulative sums over sorted rows taken at the last row
    of each distinct score are these sums of the per-score counts (exact integers in float64).
    """
    fps = np.cumsum(table.negatives[::-1].astype(np.float64))
    tps = np.cumsum(table.positives[::-1].astype(np.float64))
    return fps, tps


def roc_points(table: ScoreCounts) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The ROC curve's (false positive rates, true positive rates): scikit-learn's ``roc_curve``.

    One point per distinct threshold, highest first, after (0, 0); collinear points dropped as
    ``drop_intermediate`` does. Both classes must be present (see :func:`roc_auc`).
    """
    fps, tps = _curve(table)
    if len(fps) > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    return fps / fps[-1], tps / tps[-1]


def roc_auc(table: ScoreCounts) -> float:
    """Area under the ROC curve (scikit-learn's ``roc_auc_score``): NaN unless both classes are present.

    The curve's points are the distinct thresholds (tied scores make one diagonal step, worth half a
    pair each: the Mann-Whitney statistic), integrated by the trapezoid rule in scikit-learn's order
    of operations.
    """
    if not table.positives.sum() or not table.negatives.sum():
        return float("nan")
    fpr, tpr = roc_points(table)
    return float((np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0).sum())


def pr_points(table: ScoreCounts) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The precision-recall curve's (precisions, recalls): scikit-learn's ``precision_recall_curve``.

    Recall descending from the lowest threshold, ending at (precision 1, recall 0). Without
    positives recall is taken as 1 at every threshold (scikit-learn's convention).
    """
    fps, tps = _curve(table)
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=ps != 0)
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    return np.r_[precision[::-1], 1], np.r_[recall[::-1], 0]


def average_precision(table: ScoreCounts) -> float:
    """Average precision (scikit-learn's ``average_precision_score``): the step sum of precision over recall.

    Without positives it is 0 (recall never moves); without rows NaN.
    """
    if not len(table.scores):
        return float("nan")
    precision, recall = pr_points(table)
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def brier(table: ScoreCounts) -> float:
    """Mean squared difference between the positive class's score and the outcome (binary Brier score)."""
    s = table.scores
    total = np.sum(table.positives * (1.0 - s) ** 2 + table.negatives * s**2)
    return float(total / table.rows)


def log_loss(p_true: Any, counts: Any = None) -> float:
    """Mean of ``-log(p)`` over the probability each row gives its true class, clipped to [eps, 1 - eps].

    ``counts``: how many rows have each value of ``p_true`` (an engine's aggregate); None: one row each.
    """
    p = np.clip(np.asarray(p_true, dtype=np.float64), PROBABILITY_EPS, 1 - PROBABILITY_EPS)
    loss = -np.log(p)
    if counts is None:
        return float(np.mean(loss))
    weights = np.asarray(counts, dtype=np.float64)
    return float(np.sum(loss * weights) / np.sum(weights))


@dataclass(frozen=True)
class Confusion:
    """Rows per (true label, decided label): ``counts[i, j]`` rows are ``labels[i]`` decided as ``labels[j]``.

    ``labels`` are those present in either column, sorted (scikit-learn's ``unique_labels``).
    """

    labels: list[Any]
    counts: NDArray[np.int64]

    @classmethod
    def of(cls, y_true: Any, predicted: Any) -> Confusion:
        """The confusion counts of rows (one hash pass per column, no sort of the rows)."""
        return _encode(y_true, predicted)[0]

    @property
    def rows(self) -> int:
        """How many rows the counts describe."""
        return int(self.counts.sum())


def _encode(y_true: Any, predicted: Any) -> tuple[Confusion, NDArray[np.intp]]:
    """The confusion counts, and each row's true label as an index into ``labels``."""
    y, p = np.asarray(y_true).ravel(), np.asarray(predicted).ravel()
    if len(y) != len(p):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(y)}, {len(p)}]")
    y_codes, y_uniques = pd.factorize(y, use_na_sentinel=False)
    p_codes, p_uniques = pd.factorize(p, use_na_sentinel=False)
    present = [*np.asarray(y_uniques).tolist(), *np.asarray(p_uniques).tolist()]
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in present):
        raise ValueError("Input contains NaN.")
    if len({isinstance(v, str) for v in present}) > 1:
        raise ValueError("Mix of label input types (string and number)")
    labels = sorted(set(present))
    where = {label: i for i, label in enumerate(labels)}
    y_index = np.array([where[v] for v in np.asarray(y_uniques).tolist()], dtype=np.intp)[y_codes]
    p_index = np.array([where[v] for v in np.asarray(p_uniques).tolist()], dtype=np.intp)[p_codes]
    k = len(labels)
    counts = np.bincount(y_index * k + p_index, minlength=k * k).reshape(k, k)
    return Confusion(labels, counts), y_index


def _ratio(numerator: NDArray[Any], denominator: NDArray[Any]) -> NDArray[np.float64]:
    """``numerator / denominator``, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    den = np.asarray(denominator, dtype=np.float64).copy()
    zero = den == 0
    den[zero] = 1
    out = np.asarray(numerator, dtype=np.float64) / den
    out[zero] = 0.0
    return out


def _prf(
    tp: NDArray[Any], true_sum: NDArray[Any], pred_sum: NDArray[Any]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Precision, recall and F1 per label (scikit-learn's ``precision_recall_fscore_support``, F1 as its F-beta)."""
    f1 = _ratio(2.0 * tp.astype(np.float64), 1.0 * true_sum.astype(np.float64) + pred_sum.astype(np.float64))
    return _ratio(tp, pred_sum), _ratio(tp, true_sum), f1


def threshold_metrics(confusion: Confusion, pos: Any = None) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall and F1 of decided labels.

    ``pos``: the positive label of a binary problem (precision, recall and F1 of that label; more
    than two labels present, or two without ``pos``, is a :class:`ValueError` as in scikit-learn);
    None: their macro average over the present labels. ``zero_division=0``.
    """
    counts, labels = confusion.counts, confusion.labels
    rows = confusion.rows
    diag = np.diag(counts)
    true_sum, pred_sum = counts.sum(axis=1), counts.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = diag / true_sum
    per_class = per_class[~np.isnan(per_class)]
    tp = diag
    if pos is not None:
        if len(labels) > 2:
            raise ValueError(
                "Target is multiclass but average='binary'. Please choose another average setting, "
                "one of [None, 'micro', 'macro', 'weighted']."
            )
        if pos not in labels and len(labels) >= 2:
            raise ValueError(f"pos_label={pos!r} is not a valid label. It should be one of {labels}")
        at = [labels.index(pos)] if pos in labels else []
        none = np.zeros(1, dtype=np.int64)
        tp, true_sum, pred_sum = (a[at] if at else none for a in (diag, true_sum, pred_sum))
    precision, recall, f1 = _prf(tp, true_sum, pred_sum)
    return {
        "accuracy": float(diag.sum() / rows) if rows else float("nan"),
        "balanced_accuracy": float(np.mean(per_class)) if len(per_class) else float("nan"),
        "precision": float(np.average(precision)),
        "recall": float(np.average(recall)),
        "f1": float(np.average(f1)),
    }


@dataclass(frozen=True)
class ClassReport:
    """Per class of ``classes`` (in that order): the confusion matrix and precision, recall, F1, support.

    scikit-learn's ``confusion_matrix(..., labels=classes)`` and ``precision_recall_fscore_support(...,
    labels=classes, zero_division=0)``: rows whose labels are not among ``classes`` count only in the
    sums that include them (a decision for another label is no class's true positive).
    """

    matrix: NDArray[np.int64]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    f1: NDArray[np.float64]
    support: NDArray[np.int64]


def per_class_metrics(confusion: Confusion, classes: list[Any]) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 of each of ``classes``, one-vs-rest: metric → ``str(class)`` → value.

    Keyed by the class as text, as a policy's ``class:`` names it (YAML gives ``1`` or ``"1"``).
    """
    report = class_report(confusion, classes)
    return {
        name: {str(c): float(v) for c, v in zip(classes, getattr(report, name), strict=True)}
        for name in PER_CLASS_METRICS
    }


def class_report(confusion: Confusion, classes: list[Any]) -> ClassReport:
    """The :class:`ClassReport` of ``classes`` from the confusion counts."""
    where = {label: i for i, label in enumerate(confusion.labels)}
    at = np.array([where.get(c, -1) for c in classes], dtype=np.intp)
    # a class no row has: a zero row and column, appended so that index -1 reads it
    k = len(confusion.labels)
    padded = np.zeros((k + 1, k + 1), dtype=np.int64)
    padded[:k, :k] = confusion.counts
    true_sum, pred_sum = padded.sum(axis=1)[at], padded.sum(axis=0)[at]
    tp = padded[at, at]
    precision, recall, f1 = _prf(tp, true_sum, pred_sum)
    return ClassReport(padded[np.ix_(at, at)], precision, recall, f1, true_sum)


# --------------------------------------------------------------------------- rows


def _finite(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``values``, or a :class:`ValueError` as scikit-learn's ``check_array`` raises on NaN or infinity."""
    if not np.isfinite(values).all():
        if np.isnan(values).any():
            raise ValueError("Input contains NaN.")
        raise ValueError("Input contains infinity or a value too large for dtype('float64').")
    return values


def _probabilities(proba: Any) -> NDArray[np.float64]:
    """The probability matrix, checked as scikit-learn's ``log_loss`` checks it."""
    p = _finite(np.asarray(proba, dtype=np.float64))
    if p.size and p.max() > 1:
        raise ValueError(f"y_prob contains values greater than 1: {p.max()}")
    if p.size and p.min() < 0:
        raise ValueError(f"y_prob contains values lower than 0: {p.min()}")
    return p


def classification_metrics(
    y_true: Any, proba: NDArray[Any] | None, classes: list[Any], pos: Any, predicted: Any = None
) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall, F1, ROC AUC, PR AUC, log loss, Brier.

    ``predicted``: the decided labels, when they are not the most probable class (a score cut
    at a threshold other than 0.5). Without ``proba`` (decided labels only, e.g. a rules
    engine's output) the metrics that need scores (ROC AUC, PR AUC, log loss, Brier) are left out.
    ``proba``'s columns are ``classes`` in order. The labels are hashed once and each class's
    score column sorted once (see the module docstring for the aggregates).
    """
    if predicted is None:
        assert proba is not None, "decided labels or probabilities are needed"
        predicted = np.asarray(classes)[np.asarray(proba).argmax(axis=1)]
    binary = len(classes) == 2
    confusion, truth = _encode(y_true, predicted)
    out = threshold_metrics(confusion, pos if binary else None)
    if proba is None:
        return out
    p = _probabilities(proba)
    if len(p) != len(truth):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(truth)}, {len(p)}]")
    if len(set(classes)) < 2:
        raise ValueError(f"The labels array needs to contain at least two labels, got {classes}.")
    if p.ndim != 2 or p.shape[1] != len(classes):
        raise ValueError(f"The number of classes in labels is different from that in y_prob: {classes}")
    column = {c: i for i, c in enumerate(classes)}
    outside = {v for v in confusion.labels if v not in column and (truth == confusion.labels.index(v)).any()}
    if outside:
        raise ValueError(f"y_true contains values {outside} not belonging to the passed labels {classes}.")
    # each row's true class as a column of proba (a label present only among the decisions maps to -1, unused)
    to_column = np.array([column.get(v, -1) for v in confusion.labels], dtype=np.intp)
    true_column = to_column[truth]
    out["log_loss"] = log_loss(p[np.arange(len(p)), true_column])
    if binary:
        at = confusion.labels.index(pos) if pos in confusion.labels else -1
        table = ScoreCounts.of(truth == at, p[:, classes.index(pos)])
        out |= {"roc_auc": roc_auc(table), "pr_auc": average_precision(table), "brier": brier(table)}
        return out
    if not np.allclose(1, p.sum(axis=1)):
        raise ValueError(
            "Target scores need to be probabilities for multiclass roc_auc, i.e. they should sum up to 1.0 over classes"
        )
    if list(classes) != sorted(classes):
        raise ValueError("'labels' must be ordered")
    tables = [ScoreCounts.of(true_column == c, p[:, c]) for c in range(len(classes))]
    onehot = true_column[:, None] == np.arange(len(classes))[None, :]
    out |= {
        "roc_auc": float(np.average([roc_auc(t) for t in tables])),
        "pr_auc": float(np.average([average_precision(t) for t in tables])),
        "brier": float(np.mean(np.sum((onehot - p) ** 2, axis=1))),
    }
    return out


# --------------------------------------------------------------------------- regression


@dataclass(frozen=True)
class RegressionSums:
    """What the regression metrics need of the rows, as an engine aggregates it.

    ``squared_deviation`` is the sum of ``(y - mean(y))**2`` (a second pass once the mean is known);
    ``percentage_error`` the sum of ``|(y - p) / y|`` over the ``nonzero`` rows with ``y != 0``.
    """

    rows: int
    squared_error: float
    absolute_error: float
    squared_deviation: float
    percentage_error: float
    nonzero: int


def regression_from_sums(sums: RegressionSums) -> dict[str, float]:
    """R², RMSE, MAE and MAPE (in percent) from :class:`RegressionSums` (scikit-learn's conventions).

    R² is NaN below two rows; with constant true values it is 1 for a perfect fit, else 0.
    """
    n = sums.rows
    if n < 2:
        r2 = float("nan")
    elif sums.squared_error == 0:
        r2 = 1.0
    elif sums.squared_deviation == 0:
        r2 = 0.0
    else:
        r2 = float(1 - sums.squared_error / sums.squared_deviation)
    return {
        "r2": r2,
        "rmse": float(np.sqrt(sums.squared_error / n)) if n else float("nan"),
        "mae": float(sums.absolute_error / n) if n else float("nan"),
        "mape": float(sums.percentage_error / sums.nonzero * 100) if sums.nonzero else float("nan"),
    }


def regression_metrics(y_true: Any, predicted: Any) -> dict[str, float]:
    """R², RMSE, MAE and MAPE (in percent); NaN or infinite values are a :class:`ValueError`."""
    y = _finite(np.asarray(y_true, dtype=float).ravel())
    p = _finite(np.asarray(predicted, dtype=float).ravel())
    if len(y) != len(p):
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{len(y)}, {len(p)}]")
    # column vectors, summed along the rows, as scikit-learn's regression metrics do (the same rounding)
    yc, pc = y.reshape(-1, 1), p.reshape(-1, 1)
    residual = yc - pc
    squared = residual**2
    mean = np.average(yc, axis=0) if len(y) else np.zeros(1)
    nonzero = y != 0
    return regression_from_sums(
        RegressionSums(
            rows=len(y),
            squared_error=float(np.sum(1.0 * squared, axis=0)[0]),
            absolute_error=float(np.sum(np.abs(pc - yc), axis=0)[0]),
            squared_deviation=float(np.sum(1.0 * (yc - mean) ** 2, axis=0)[0]),
            percentage_error=float(np.sum(np.abs(residual[nonzero, 0] / y[nonzero]))),
            nonzero=int(nonzero.sum()),
        )
    )


def evaluate(model: Any, frame: Any, features: list[str], target: str, task: str, pos: Any) -> dict[str, float]:
    """Metrics of a fitted pipeline on ``frame``."""
    x, y = frame[features], frame[target]
    if task == "classification":
        classes = list(model.classes_)
        return classification_metrics(y, model.predict_proba(x), classes, positive_label(classes, pos))
    return regression_metrics(y, model.predict(x))

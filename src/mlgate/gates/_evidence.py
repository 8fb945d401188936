"""Evidence a reviewer reads next to the gate table: informational, it never changes a rule.

Everything here is computed once, by ``mlgate gate``, from what the gates already have — the
holdout rows and :class:`~mlgate.gates._run.Scored` — and stored in the verdict's ``evidence``
block, so ``mlgate report`` renders it later without a registry or a model:

- ``params``: the model's ``params.yaml`` section against the base commit's, with ``dvc params
  diff`` semantics (dotted key paths, only changed keys, added and removed keys shown);
- ``classification``: confusion matrix (labels in the model's class order), per-class precision,
  recall, F1 and support, and for a binary model ROC and PR curves downsampled to at most
  :data:`MAX_CURVE_POINTS` points each (AUC and average precision from all points);
- ``importance``: permutation importance of the spec's input columns (top :data:`TOP_FEATURES`).
  It is the one piece that calls the model again: shuffled copies of a column are scored, so the
  importance is of the raw columns a reviewer knows (not of one-hot encoded ones, as a pipeline's
  native ``feature_importances_`` would be) and works for any model with ``predict``/``predict_proba``.
  Bounded: at most :data:`IMPORTANCE_ROWS` rows, :data:`IMPORTANCE_REPEATS` seeded shuffles per
  column, scored in one call per column;
- ``base_model`` (filled in by mlgate.gates.run): the base branch's model on the same rows when
  no champion holds the production alias yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlgate.config import flatten_params
from mlgate.gates import _metrics as metrics

MAX_CURVE_POINTS = 101
TOP_FEATURES = 15
IMPORTANCE_ROWS = 2000
IMPORTANCE_REPEATS = 3
DIGITS = 6  # curve coordinates and importances: enough for a chart, compact in the JSON


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold (class labels are often numpy ints)."""
    return value.item() if isinstance(value, np.generic) else value


# ----------------------------------------------------------------------------- params diff


def params_diff(base: dict[str, Any] | None, head: dict[str, Any]) -> list[dict[str, Any]]:
    """Changed keys of a model's params between base and head: ``param, base, head, change``.

    ``change`` is ``modified``, ``added`` (``base`` is None) or ``removed`` (``head`` is None),
    so a key whose value is YAML ``null`` is still told apart from a missing one.
    """
    old, new = flatten_params(base or {}), flatten_params(head or {})
    rows = []
    for key in sorted(old.keys() | new.keys()):
        if key in old and key in new:
            if old[key] == new[key] and type(old[key]) is type(new[key]):
                continue
            change = "modified"
        else:
            change = "added" if key in new else "removed"
        rows.append({"param": key, "base": old.get(key), "head": new.get(key), "change": change})
    return rows


# ----------------------------------------------------------------------------- classification


def downsample(*columns: NDArray[Any], points: int = MAX_CURVE_POINTS) -> list[list[float]]:
    """Every column at ≤ ``points`` evenly spaced indices, first and last kept (curve endpoints)."""
    n = len(columns[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, points)).round().astype(int)) if n else np.array([], dtype=int)
    return [[round(float(v), DIGITS) for v in np.asarray(col)[keep]] for col in columns]


def classification_evidence(
    y_true: Any, predicted: Any, proba: NDArray[Any] | None, classes: list[Any], pos: Any
) -> dict[str, Any]:
    """Confusion matrix, per-class metrics, and (binary, with probabilities) ROC and PR curves.

    From the aggregates of :mod:`mlgate.gates._metrics` (the labels hashed once, the positive
    score sorted once): scikit-learn's ``confusion_matrix``, ``precision_recall_fscore_support``,
    ``roc_curve`` and ``precision_recall_curve`` values without a scan or sort per function.
    """
    confusion = metrics.Confusion.of(y_true, predicted)
    report = metrics.class_report(confusion, classes)
    out: dict[str, Any] = {
        "classes": [plain(c) for c in classes],
        "confusion": {"labels": [plain(c) for c in classes], "matrix": report.matrix.tolist()},
        "per_class": [
            {
                "class": plain(c),
                "precision": float(report.precision[i]),
                "recall": float(report.recall[i]),
                "f1": float(report.f1[i]),
                "support": int(report.support[i]),
            }
            for i, c in enumerate(classes)
        ],
    }
    if proba is not None and len(classes) == 2 and pos in classes:
        hit = np.asarray(y_true) == pos
        table = metrics.ScoreCounts.of(hit, np.asarray(proba)[:, classes.index(pos)])
        if 0 < table.positives.sum() < table.rows:  # both classes present: the curves are defined
            fpr, tpr = metrics.roc_points(table)
            prec, rec = metrics.pr_points(table)
            fpr_s, tpr_s = downsample(fpr, tpr)
            rec_s, prec_s = downsample(rec[::-1], prec[::-1])  # recall ascending, as it is drawn
            out["positive_label"] = plain(pos)
            out["roc"] = {"fpr": fpr_s, "tpr": tpr_s, "auc": metrics.roc_auc(table), "points": len(fpr)}
            out["pr"] = {
                "recall": rec_s,
                "precision": prec_s,
                "average_precision": metrics.average_precision(table),
                "prevalence": float(hit.mean()),
                "points": len(rec),
            }
    return out


# ----------------------------------------------------------------------------- feature importance


def _scorer(task: str, classes: list[Any] | None, pos: Any) -> tuple[str, Callable[[Any, Any], float]]:
    """The score whose drop measures a column's importance (higher is better for each)."""
    from sklearn import metrics as m

    if task == "classification" and classes is not None and len(classes) == 2:
        # scikit-learn's roc_auc_score from one sort (mlgate.gates._metrics), called once per shuffled copy
        return "roc_auc", lambda y, p: metrics.roc_auc(
            metrics.ScoreCounts.of(np.asarray(y) == pos, p[:, classes.index(pos)])
        )
    if task == "classification":
        labels = np.asarray(classes)
        return "accuracy", lambda y, p: float(m.accuracy_score(y, labels[p.argmax(axis=1)]))
    return "neg_mae", lambda y, p: -float(m.mean_absolute_error(y, p))


class FeatureImportance(TypedDict):
    """One row of the permutation-importance table: mean and spread of the score's drop."""

    feature: str
    importance: float
    std: float


def permutation_importance(
    model: Any,
    x: pd.DataFrame,
    y: pd.Series,
    task: str,
    classes: list[Any] | None,
    pos: Any,
    seed: int,
) -> dict[str, Any]:
    """Mean drop of the model's score when one input column is shuffled, top :data:`TOP_FEATURES`.

    The score is ROC AUC (binary), accuracy (multiclass) or −MAE (regression); each column is
    shuffled :data:`IMPORTANCE_REPEATS` times (seeded) on at most :data:`IMPORTANCE_ROWS` rows,
    and the shuffled copies go to the model in one call per column.
    """
    rng = np.random.default_rng(seed)
    if len(x) > IMPORTANCE_ROWS:
        keep = np.sort(rng.choice(len(x), IMPORTANCE_ROWS, replace=False))
        x, y = x.iloc[keep], y.iloc[keep]
    x, y = x.reset_index(drop=True), y.reset_index(drop=True)
    name, score = _scorer(task, classes, pos)
    predict = model.predict_proba if task == "classification" else model.predict
    baseline = score(y, np.asarray(predict(x)))
    rows: list[FeatureImportance] = []
    n = len(x)
    for column in x.columns:
        copies = pd.concat([x] * IMPORTANCE_REPEATS, ignore_index=True)
        shuffled = np.concatenate([x[column].to_numpy()[rng.permutation(n)] for _ in range(IMPORTANCE_REPEATS)])
        copies[column] = shuffled
        out = np.asarray(predict(copies))
        drops = [baseline - score(y, out[i * n : (i + 1) * n]) for i in range(IMPORTANCE_REPEATS)]
        rows.append(
            {
                "feature": str(column),
                "importance": round(float(np.mean(drops)), DIGITS),
                "std": round(float(np.std(drops)), DIGITS),
            }
        )
    rows.sort(key=lambda r: -r["importance"])
    return {
        "method": "permutation",
        "score": name,
        "baseline": baseline,
        "rows": n,
        "repeats": IMPORTANCE_REPEATS,
        "features": rows[:TOP_FEATURES],
        "of": len(rows),
    }

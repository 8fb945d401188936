"""Performance estimated without labels: confidence-based performance estimation (CBPE).

Labels arrive late (a loan defaults months after the decision); a binary classifier's own
probabilities already say how often it should be right, *if they are calibrated*. CBPE, as
NannyML documents it, takes each row's positive-class probability ``p_i`` as the chance that
its label is positive:

- **accuracy**: a row decided positive (``d_i``, ``p_i >= threshold``: the spec's
  ``decision.threshold``, else 0.5) is right with probability ``p_i``, a row decided negative
  with ``1 - p_i``; the expected accuracy is the mean of those chances.
- **ROC AUC**: at every threshold ``t`` (each distinct ``p_i``) the expected confusion counts
  are ``E[TP(t)] = sum_{p_i >= t} p_i`` and ``E[FP(t)] = sum_{p_i >= t} (1 - p_i)``; divided by
  ``sum p_i`` (expected positives) and ``sum (1 - p_i)`` (expected negatives) they give the
  expected TPR and FPR, and the area under that curve (trapezoids, from (0, 0) to (1, 1)) is
  the estimate.

Assumptions, said wherever the numbers are shown: the probabilities are **calibrated** on the
production population (a forest's raw votes are only roughly so), and there is **no concept
drift** — ``P(y | x)`` is what it was in training; only ``P(x)`` may have moved. Under covariate
shift alone the estimate follows the true performance; when the relation between inputs and
outcome changes, only labels show it. Measured on the repo's test data (tests/test_monitor.py):
on held-back labels of >= 1000 rows of a calibrated model the estimate is within
:data:`TOLERANCE` of the realised accuracy and ROC AUC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHOD = "cbpe"
TOLERANCE = 0.05
"""|estimated - realised| the tests hold CBPE to (accuracy and ROC AUC, >= 1000 rows, calibrated model)."""


@dataclass(frozen=True)
class Estimate:
    """Expected accuracy and ROC AUC of a binary classifier from its positive-class probabilities."""

    accuracy: float
    roc_auc: float
    rows: int

    def as_dict(self) -> dict[str, object]:
        """The verdict's ``estimated`` block."""
        return {
            "method": METHOD,
            "accuracy": self.accuracy,
            "roc_auc": self.roc_auc,
            "rows": self.rows,
            "assumes": "calibrated probabilities and no concept drift",
        }


def expected_accuracy(p: np.ndarray, threshold: float) -> float:
    """Mean chance each decision is right: ``p_i`` when decided positive, else ``1 - p_i``."""
    decided = p >= threshold
    return float(np.mean(np.where(decided, p, 1.0 - p)))


def expected_roc_auc(p: np.ndarray) -> float:
    """Area under the expected ROC curve (NaN when all probabilities are 0 or all 1: no curve)."""
    positives, negatives = float(p.sum()), float((1.0 - p).sum())
    if positives <= 0 or negatives <= 0:
        return float("nan")
    order = np.sort(p)[::-1]
    # one point per distinct threshold: the counts at p >= t are the cumulative sums up to the last tie
    tp, fp = np.cumsum(order), np.cumsum(1.0 - order)
    last_of_tie = np.r_[order[1:] != order[:-1], True]
    tpr = np.r_[0.0, tp[last_of_tie] / positives]
    fpr = np.r_[0.0, fp[last_of_tie] / negatives]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)  # trapezoids (np.trapz left numpy 2)


def estimate(p: np.ndarray, threshold: float = 0.5) -> Estimate | None:
    """CBPE of accuracy and ROC AUC from positive-class probabilities (None without rows)."""
    p = np.asarray(p, dtype=np.float64)
    p = p[~np.isnan(p)]
    if p.size == 0:
        return None
    return Estimate(expected_accuracy(p, threshold), expected_roc_auc(p), int(p.size))

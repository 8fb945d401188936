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

**Calibration**, as NannyML's CBPE does by default (0.13: ``cbpe.py`` ``_fit_binary``,
``calibration.py`` ``needs_calibration`` and ``IsotonicCalibrator``): the raw scores are first
mapped to probabilities by an isotonic regression (``out_of_bounds="clip"``, increasing) fitted on
the **labelled reference** rows' scores and labels, when the reference shows the scores need it:
10 stratified shuffle splits (10% test, ``random_state=42``) each fit the calibrator on 90% and
calibrate the rest; the expected calibration error over 10 equal-count bins of all those test
rows, before and after, must fall. No calibration when the reference has one class only, its ROC
AUC exceeds 0.999, or it has no labels (a named reference without the target). The decisions stay
the raw score's (``score >= threshold``); only the chance that each is right is the calibrated one.
A forest's votes are far from probabilities (the demo's: 0.662 estimated uncalibrated vs 0.769
realised); calibrated, the estimate follows the realised AUC.

Assumptions, said wherever the numbers are shown: the (calibrated) probabilities hold on the
production population, and there is **no concept drift** — ``P(y | x)`` is what it was in training;
only ``P(x)`` may have moved. Under covariate shift alone the estimate follows the true performance;
when the relation between inputs and outcome changes, only labels show it. Measured on the repo's
test data (tests/test_monitor.py): on held-back labels of >= 1000 rows of a calibrated model the
estimate is within :data:`TOLERANCE` of the realised accuracy and ROC AUC.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

METHOD = "cbpe"
TOLERANCE = 0.05
"""|estimated - realised| the tests hold CBPE to (accuracy and ROC AUC, >= 1000 rows, calibrated model)."""
SPLITS, TEST_SHARE, SEED, BINS = 10, 0.1, 42, 10
"""NannyML 0.13's ``needs_calibration`` defaults: shuffle splits, their test share and seed, ECE bins."""
SEPARATES = 0.999
"""Above this reference ROC AUC NannyML does not calibrate (the scores already separate the classes)."""


@dataclass(frozen=True)
class Calibration:
    """How CBPE reads a raw score as a probability: the isotonic map fitted on the reference, or as it is.

    ``knots`` and ``values``: the fitted regression's ``X_thresholds_`` and ``y_thresholds_``; a score
    is clipped to the knots' range and interpolated linearly between them (what scikit-learn's
    ``IsotonicRegression.predict`` does), so an engine can apply the map in SQL.
    """

    applied: bool
    reason: str
    rows: int = 0
    knots: tuple[float, ...] = field(default=(), repr=False)
    values: tuple[float, ...] = field(default=(), repr=False)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """The probabilities CBPE reads from ``scores``."""
        if not self.applied:
            return scores
        x = np.asarray(self.knots)
        if len(x) == 1:
            return np.full(len(scores), self.values[0])
        return np.interp(np.clip(scores, x[0], x[-1]), x, np.asarray(self.values))

    def as_dict(self) -> dict[str, object]:
        """The ``calibration`` of the verdict's ``estimated`` block."""
        return {"method": "isotonic" if self.applied else "none", "reason": self.reason, "reference_rows": self.rows}


NOT_CALIBRATED = Calibration(False, "no labelled reference scores to calibrate on")


def _ece(truth: np.ndarray, p: np.ndarray) -> float:
    """Expected calibration error over equal-count bins of the sorted scores (NannyML's, bins halved when few rows)."""
    n = len(p)
    bins = BINS if n > 2 * BINS else n // 2
    width = n // bins
    edges = np.asarray(range(0, n + 1, width))
    edges[-1] = n
    order = p.argsort()  # numpy's default sort, as NannyML's (ties fall into bins the same way)
    p, truth = p[order], truth[order]
    terms = [(b - a) / n * abs(np.mean(p[a:b]) - np.mean(truth[a:b])) for a, b in itertools.pairwise(edges)]
    return float(np.sum(terms))


def calibration(scores: np.ndarray, positive: np.ndarray) -> Calibration:
    """NannyML's decision and fit: isotonic calibration on the reference when it lowers the cross-validated ECE.

    ``scores``: the version's raw positive-class score of each reference row; ``positive``: whether
    that row's label is the positive class. Rows without a score are left out.
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit

    s = np.asarray(scores, dtype=np.float64)
    keep = ~np.isnan(s)
    s, truth = s[keep], np.asarray(positive, dtype=np.int64)[keep]
    if len(np.unique(truth)) < 2:
        return Calibration(False, "the reference's labels hold one class only", len(s))
    if roc_auc_score(truth, s) > SEPARATES:
        return Calibration(False, f"the reference's ROC AUC exceeds {SEPARATES}: nothing to calibrate", len(s))
    tested, before, after = [], [], []
    splits = StratifiedShuffleSplit(n_splits=SPLITS, test_size=TEST_SHARE, random_state=SEED)
    try:
        for train, test in splits.split(s, truth):
            fitted = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(s[train], truth[train])
            tested.append(truth[test])
            before.append(s[test])
            after.append(fitted.predict(s[test]))
    except ValueError as err:  # too few rows of a class to split (where NannyML raises)
        return Calibration(False, f"too few labelled reference rows to test calibration: {err}", len(s))
    if sum(len(t) for t in tested) < 4:
        return Calibration(False, f"{len(s)} labelled reference rows are too few to test calibration", len(s))
    truth_t = np.concatenate(tested)
    ece_before, ece_after = _ece(truth_t, np.concatenate(before)), _ece(truth_t, np.concatenate(after))
    if not ece_before > ece_after:
        return Calibration(
            False, f"the reference's scores are calibrated (ECE {ece_before:.4g}, isotonic {ece_after:.4g})", len(s)
        )
    fitted = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(s, truth)
    knots = tuple(float(v) for v in fitted.X_thresholds_)
    values = tuple(float(v) for v in fitted.y_thresholds_)
    reason = f"isotonic on {len(s)} reference rows lowers the ECE from {ece_before:.4g} to {ece_after:.4g}"
    return Calibration(True, reason, len(s), knots, values)


@dataclass(frozen=True)
class Estimate:
    """Expected accuracy and ROC AUC of a binary classifier from its positive-class probabilities."""

    accuracy: float
    roc_auc: float
    rows: int
    calibration: Calibration = NOT_CALIBRATED

    def as_dict(self) -> dict[str, object]:
        """The verdict's ``estimated`` block."""
        return {
            "method": METHOD,
            "accuracy": self.accuracy,
            "roc_auc": self.roc_auc,
            "rows": self.rows,
            "calibration": self.calibration.as_dict(),
            "assumes": "probabilities calibrated as on the reference, and no concept drift",
        }


def expected_accuracy(p: np.ndarray, threshold: float, decided: np.ndarray | None = None) -> float:
    """Mean chance each decision is right: ``p_i`` when decided positive, else ``1 - p_i``.

    ``decided``: the decisions when they are not ``p >= threshold`` (a calibrated ``p``: the raw score decides).
    """
    decided = p >= threshold if decided is None else decided
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


def estimate(scores: np.ndarray, threshold: float = 0.5, calibrated: Calibration = NOT_CALIBRATED) -> Estimate | None:
    """CBPE of accuracy and ROC AUC from positive-class scores (None without rows).

    The raw score decides (``score >= threshold``); ``calibrated`` maps it to the probability
    each decision is right with. The ROC curve of calibrated probabilities ordered by them is the
    one ordered by the raw score (the map is monotone, and rows it ties are collinear steps).
    """
    raw = np.asarray(scores, dtype=np.float64)
    raw = raw[~np.isnan(raw)]
    if raw.size == 0:
        return None
    p = calibrated.apply(raw)
    return Estimate(expected_accuracy(p, threshold, raw >= threshold), expected_roc_auc(p), int(p.size), calibrated)

"""Degenerate decisions: the built-in performance rules every policy has for a classifier.

Ranking metrics (ROC AUC, PR AUC) do not depend on the decision threshold; a pull request may
move ``decision.threshold`` (a model field) so far that everyone is approved, and a fairness
ratio of selection rates then reads a perfect 1.0. These two rules judge the decisions
themselves, on the evaluation rows, whatever the policy file lists:

* ``degenerate-decisions.class-share``: the share of rows the most decided class covers, at most
  ``settings.degenerate_decisions.max_class_share`` (0.98);
* ``degenerate-decisions.selection-rate``: for every class of the labels, the rows decided as it
  over the rows that hold it, at least ``min_rate_ratio`` (0.1). For two classes with base rate
  ``b`` this is the selection-rate band ``[b * r, 1 - (1 - b) * r]``: each class is decided for
  at least a tenth of its own rate. Moving a threshold for cost or capacity shifts the rate by
  far less; deciding a class for under a tenth of the rows that hold it is not using it.

A regressor makes no decisions: the rules are absent from its verdict. ``enabled: false`` in
the policy's settings removes them (the judged policy: on a pull request, the base branch's).
Measuring is here; :func:`mlgate.gates.verdict.judge` compares, like every other rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray

from mlgate.config import BUILTIN_RULE_PREFIX, DegenerateDecisions, ModelSpec
from mlgate.gates import Measurement

PREFIX = BUILTIN_RULE_PREFIX
"""Rule ids starting with this are the built-in rules' (defined in the catalog: policy loading refuses it)."""
CLASS_SHARE = f"{PREFIX}.class-share"
SELECTION_RATE = f"{PREFIX}.selection-rate"


@dataclass(frozen=True)
class BuiltinRule:
    """A built-in rule, with what :func:`mlgate.gates.verdict.judge` reads of a policy rule."""

    rule_id: str
    metric: str
    comparison: str  # "min" or "max"
    threshold: float
    description: str
    severity: str = "block"


def builtin_rules(settings: DegenerateDecisions) -> list[BuiltinRule]:
    """The built-in rules under ``settings`` (a policy's ``settings.degenerate_decisions``); none if disabled."""
    if not settings.enabled:
        return []
    return [
        BuiltinRule(
            CLASS_SHARE,
            "decided_class_share",
            "max",
            settings.max_class_share,
            "built-in: no decided class covers (nearly) every row (settings.degenerate_decisions)",
        ),
        BuiltinRule(
            SELECTION_RATE,
            "decided_rate_ratio",
            "min",
            settings.min_rate_ratio,
            "built-in: every class is decided for at least this share of its base rate (settings.degenerate_decisions)",
        ),
    ]


def decided_by(spec: ModelSpec) -> str:
    """How the spec turns scores into the decisions judged, in words (``threshold 0.2``)."""
    if spec.decision is not None:
        return f"threshold {spec.decision.threshold:g}"
    predictions = spec.predictions
    if predictions is not None:
        if predictions.score_column is None:
            return f"the predictions file's {predictions.output_column}"
        return f"{predictions.score_column} >= {float(predictions.threshold or 0.0):g}"
    if spec.output is not None and spec.output.score_column:
        return f"score threshold {spec.output.decision_threshold:g}"
    return "the most probable class"


def _label(value: Any) -> str:
    return str(value.item() if isinstance(value, np.generic) else value)


def _counts(values: NDArray[Any], weights: NDArray[Any] | None) -> tuple[NDArray[Any], NDArray[Any]]:
    """Distinct values (sorted) and how many rows hold each; ``weights``: rows each entry stands for."""
    labels, inverse = np.unique(values, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(labels))
    return labels, np.rint(counts).astype(np.int64)


def class_share(y_true: Any, predicted: Any, how: str, weights: NDArray[Any] | None = None) -> Measurement:
    """The share of rows the most decided class covers (``how``: :func:`decided_by`).

    ``weights``: how many rows each entry stands for (the Spark engine's aggregated table); None: one each.
    """
    decided = np.asarray(predicted)
    labels, counts = _counts(decided, weights)
    rows = int(counts.sum())
    if rows == 0:
        return Measurement.failed("no evaluation rows: the decisions cannot be judged")
    top = int(np.argmax(counts))
    # count / rows exactly, so a share at the bound (49 of 50 for 0.98) compares as equal
    share = int(counts[top]) / rows
    shares = {_label(label): int(count) / rows for label, count in zip(labels, counts, strict=True)}
    return Measurement(
        value=share,
        explanation=f"{how} decides {_label(labels[top])} for {share:.1%} of rows ({counts[top]} of {rows})",
        details={"decided_shares": shares, "rows": rows},
    )


# One class of the rate-ratio table in the report details ("class" is a keyword: functional form).
ClassRate = TypedDict("ClassRate", {"class": str, "base_rate": float, "decided_rate": float, "ratio": float})


def rate_ratio(
    y_true: Any, predicted: Any, how: str, min_ratio: float, weights: NDArray[Any] | None = None
) -> Measurement:
    """The smallest ratio, over the classes of ``y_true``, of rows decided as a class to rows holding it.

    ``weights``: as in :func:`class_share`.
    """
    actual, decided = np.asarray(y_true), np.asarray(predicted)
    w = np.ones(len(actual), dtype=np.int64) if weights is None else np.rint(np.asarray(weights)).astype(np.int64)
    rows = int(w.sum())
    if rows == 0:
        return Measurement.failed("no evaluation rows: the decisions cannot be judged")
    table: list[ClassRate] = []
    for label in np.unique(actual):
        holds, chosen = int(w[actual == label].sum()), int(w[decided == label].sum())
        # chosen / holds: the rows cancel, so a ratio at the bound (5 of 50 for 0.1) compares as equal
        table.append(
            {"class": _label(label), "base_rate": holds / rows, "decided_rate": chosen / rows, "ratio": chosen / holds}
        )
    worst = min(table, key=lambda row: row["ratio"])
    explanation = (
        f"{how} decides {worst['class']} for {worst['decided_rate']:.1%} of rows, where {worst['base_rate']:.1%} "
        f"are {worst['class']} (ratio {worst['ratio']:.3g})"
    )
    if len(table) == 2:  # both classes' floors as one band on this class's rate
        low, high = worst["base_rate"] * min_ratio, 1 - (1 - worst["base_rate"]) * min_ratio
        explanation += f"; {worst['class']}'s rate must lie in [{low:.1%}, {high:.1%}]"
    return Measurement(value=worst["ratio"], explanation=explanation, details={"classes": table})

"""Every metric a policy rule can name, once: its family, task, direction and range.

The policy schema's metric types (``PerformanceMetric``...), the threshold range checks, the
metric lists per task, ``LOWER_IS_BETTER`` and the common aliases offered for a mistyped name
are all derived from :data:`METRICS`. The code that computes the metrics (``gates/metrics.py``,
``fairness.py``, ``drift.py``, ``integrity/native.py``) is checked against this table by
``tests/test_catalog.py``: every metric here is computed, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Task = Literal["classification", "regression"]
GateFamily = Literal["performance", "fairness", "drift", "integrity", "documentation"]
GATE_FAMILIES: tuple[str, ...] = get_args(GateFamily)
"""The rule families of a policy's ``gates:``, in verdict order (here, not in the schema: verdicts need no pydantic)."""
Family = Literal["performance", "fairness", "drift", "integrity", "monitoring"]
Better = Literal["higher", "lower"]
Range = tuple[float | None, float | None]

UNIT: Range = (0.0, 1.0)
NON_NEGATIVE: Range = (0.0, None)


@dataclass(frozen=True)
class Metric:
    """One metric a rule can name.

    ``task`` is the model task a performance metric applies to (None: any task). ``better``
    says which way is an improvement (None: no direction, e.g. a deepchecks suite). ``range``
    is where the values lie (None for a bound: unbounded); a ``min`` or ``max`` outside it is
    always or never met, so a policy giving one is rejected. Drift and integrity metrics have
    no range on purpose: a never-met ``max: -1`` there is how a policy forces a family to fail.
    ``aliases`` are common other names of the metric, suggested when a policy uses one.
    """

    name: str
    family: Family
    better: Better | None
    task: Task | None = None
    range: Range | None = None
    aliases: tuple[str, ...] = ()


def _classification(name: str, better: Better, range_: Range, *aliases: str) -> Metric:
    return Metric(name, "performance", better, "classification", range_, aliases)


def _regression(name: str, better: Better, range_: Range, *aliases: str) -> Metric:
    return Metric(name, "performance", better, "regression", range_, aliases)


def _fairness(name: str) -> Metric:
    # differences and ratios of rates: both in [0, 1]; a ratio of 1 and a difference of 0 are fair
    return Metric(name, "fairness", "higher" if name.endswith("_ratio") else "lower", range=UNIT)


# Order matters: it is the order of the policy JSON Schema's enums and of error messages.
METRICS: tuple[Metric, ...] = (
    _classification("accuracy", "higher", UNIT, "acc"),
    _classification("balanced_accuracy", "higher", UNIT),
    _classification("precision", "higher", UNIT),
    _classification("recall", "higher", UNIT),
    _classification("f1", "higher", UNIT, "f1_score"),
    _classification("roc_auc", "higher", UNIT, "auc", "auroc", "roc"),
    _classification("pr_auc", "higher", UNIT, "average_precision", "auprc", "aupr"),
    _classification("log_loss", "lower", NON_NEGATIVE, "logloss", "cross_entropy"),
    # multiclass Brier (sum over classes of squared errors) reaches 2; binary stays within 1
    _classification("brier", "lower", (0.0, 2.0), "brier_score"),
    _regression("r2", "higher", (None, 1.0), "r2_score"),
    _regression("rmse", "lower", NON_NEGATIVE, "mse", "root_mean_squared_error"),
    _regression("mae", "lower", NON_NEGATIVE, "mean_absolute_error"),
    _regression("mape", "lower", NON_NEGATIVE, "mean_absolute_percentage_error"),
    _fairness("demographic_parity_difference"),
    _fairness("demographic_parity_ratio"),
    _fairness("equalized_odds_difference"),
    _fairness("equalized_odds_ratio"),
    _fairness("equal_opportunity_difference"),
    _fairness("equal_opportunity_ratio"),
    _fairness("selection_rate_difference"),
    _fairness("false_positive_rate_difference"),
    _fairness("error_rate_difference"),
    Metric("psi", "drift", "lower"),
    Metric("ks_statistic", "drift", "lower"),
    Metric("ks_pvalue", "drift", "higher"),  # a small p-value: the distributions differ
    Metric("chi2_pvalue", "drift", "higher"),
    Metric("drifted_share", "drift", "lower"),
    Metric("oov_rate", "drift", "lower"),  # text features: share of current words the reference never used
    Metric("null_fraction", "integrity", "lower"),
    Metric("duplicate_rows", "integrity", "lower"),
    Metric("constant_columns", "integrity", "lower"),
    Metric("unseen_categories", "integrity", "lower"),
    Metric("schema_mismatch", "integrity", "lower"),
    Metric("conflicting_labels", "integrity", "lower"),
    Metric("train_holdout_overlap", "integrity", "lower"),
    Metric("deepchecks", "integrity", None),  # runs a deepchecks suite: one result per condition
    # what only production shows (mlgate monitor): the model's outputs, the traffic, the performance
    # estimated before labels arrive, and how much of the traffic the labels cover yet
    Metric("prediction_psi", "monitoring", "lower"),  # PSI of the positive-class score (or the value)
    Metric("prediction_ks_statistic", "monitoring", "lower"),
    Metric("volume", "monitoring", "higher", range=NON_NEGATIVE),  # rows seen in the window
    Metric("estimated_accuracy", "monitoring", "higher", range=UNIT),  # confidence-based, without labels
    Metric("estimated_roc_auc", "monitoring", "higher", range=UNIT),
    Metric("label_coverage", "monitoring", "higher", range=UNIT),  # share of rows with a label yet
)
BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}


def names(family: Family, task: str | None = None) -> tuple[str, ...]:
    """The names of ``family``'s metrics (of one ``task`` only, when given), in catalog order."""
    return tuple(m.name for m in METRICS if m.family == family and (task is None or m.task == task))


CLASSIFICATION_METRICS = names("performance", "classification")
REGRESSION_METRICS = names("performance", "regression")
NATIVE_INTEGRITY_METRICS = tuple(name for name in names("integrity") if name != "deepchecks")
LOWER_IS_BETTER = frozenset(m.name for m in METRICS if m.better == "lower")
"""Metrics where smaller is better: for these a regression is a rise, for the rest a drop."""
METRIC_RANGES: dict[str, Range] = {m.name: m.range for m in METRICS if m.range is not None}
METRIC_ALIASES: dict[str, str] = {alias: m.name for m in METRICS for alias in m.aliases}
"""Common names of metrics that difflib would not map to ours (it finds 'pr_auc' for 'auc')."""

BUILTIN_RULE_PREFIX = "degenerate-decisions"
"""Rule ids of the built-in rules (:mod:`mlgate.gates.decisions`) start with this: no policy rule may."""

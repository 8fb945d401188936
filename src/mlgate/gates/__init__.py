"""Gate families: pure functions from data and predictions to measurements.

One module per family (``performance``, ``fairness``, ``drift``, ``integrity``,
``documentation``). None of them knows about thresholds or severities: they measure, and
:mod:`mlgate.gates.verdict` compares the measurements with the policy's rules. That split keeps the
statistics testable against reference implementations (scipy, fairlearn) on their own.
``judging`` loads a model as the gates judge it (the base branch's judging fields);
``governance`` is the governance check of a pull request. ``explainer`` gives a model's reason codes
(per-row, per-feature contributions: ``score --reasons``, ``serve ?reasons=K``, the model card's
global explanation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate._lazy import lazy_surface
from mlgate.outcome import Failed

if TYPE_CHECKING:
    from mlgate.gates import _decisions as decisions
    from mlgate.gates import _documentation as documentation
    from mlgate.gates import _drift as drift
    from mlgate.gates import _evidence as evidence
    from mlgate.gates import _fairness as fairness
    from mlgate.gates import _metrics as metrics
    from mlgate.gates import _performance as performance
    from mlgate.gates import _verdict as verdict
    from mlgate.gates._adapter import adapt, apply_decision, decide
    from mlgate.gates._drift import FeatureDrift, drift_measurement, feature_drift
    from mlgate.gates._fairness import GroupTable, fairness_measurement, group_table, intersect, sensitive_groups
    from mlgate.gates._governance import GovernanceReview, review_governance
    from mlgate.gates._judging import evaluation_paths, judge_model, judging_changes, materialise, policy_changes
    from mlgate.gates._metrics import classification_metrics, evaluate, positive_label, regression_metrics
    from mlgate.gates._reasons import MAX_REASONS, Explainer, Reasons, explainer, global_explanation
    from mlgate.gates._run import run_gates
    from mlgate.gates._verdict import (
        FAILED,
        READABLE,
        SCHEMA,
        FamilyStatus,
        RuleResult,
        RuleStatus,
        Status,
        Verdict,
        failed_first,
        judge,
        overall_status,
        rule_counts,
    )


@dataclass
class Measurement:
    """What one rule's metric came to.

    ``value`` is None when it could not be computed; ``error`` then says why (a group with
    one label class, a column missing from the data...) and the rule's status is ``error``.
    ``details`` carries tables for the report (per-group rates, per-feature drift).
    """

    value: float | None
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def failed(cls, reason: str, details: dict[str, Any] | None = None) -> Measurement:
        """A measurement that could not be made, and why (the rule's status is then ``error``)."""
        return cls(value=None, explanation=reason, details=details or {}, error=reason)


@dataclass(frozen=True)
class Skip:
    """A rule that does not apply here, and why (reported as ``skipped``, never as a pass).

    Beside it, :class:`~mlgate.outcome.Failed` is a result that should have been had and could not
    (a rule measured on it is an ``error``): a function returns ``X | Skip`` or ``X | Failed``, never ``X | str``.
    """

    reason: str


__all__ = [
    "FAILED",
    "MAX_REASONS",
    "READABLE",
    "SCHEMA",
    "Explainer",
    "Failed",
    "FamilyStatus",
    "FeatureDrift",
    "GovernanceReview",
    "GroupTable",
    "Measurement",
    "Reasons",
    "RuleResult",
    "RuleStatus",
    "Skip",
    "Status",
    "Verdict",
    "adapt",
    "apply_decision",
    "classification_metrics",
    "decide",
    "decisions",
    "documentation",
    "drift",
    "drift_measurement",
    "evaluate",
    "evaluation_paths",
    "evidence",
    "explainer",
    "failed_first",
    "fairness",
    "fairness_measurement",
    "feature_drift",
    "global_explanation",
    "group_table",
    "intersect",
    "judge",
    "judge_model",
    "judging_changes",
    "materialise",
    "metrics",
    "overall_status",
    "performance",
    "policy_changes",
    "positive_label",
    "regression_metrics",
    "review_governance",
    "rule_counts",
    "run_gates",
    "sensitive_groups",
    "verdict",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "Explainer": "_reasons:Explainer",
    "FAILED": "_verdict:FAILED",
    "FamilyStatus": "_verdict:FamilyStatus",
    "FeatureDrift": "_drift:FeatureDrift",
    "GovernanceReview": "_governance:GovernanceReview",
    "GroupTable": "_fairness:GroupTable",
    "MAX_REASONS": "_reasons:MAX_REASONS",
    "READABLE": "_verdict:READABLE",
    "Reasons": "_reasons:Reasons",
    "RuleResult": "_verdict:RuleResult",
    "RuleStatus": "_verdict:RuleStatus",
    "SCHEMA": "_verdict:SCHEMA",
    "Status": "_verdict:Status",
    "Verdict": "_verdict:Verdict",
    "adapt": "_adapter:adapt",
    "apply_decision": "_adapter:apply_decision",
    "classification_metrics": "_metrics:classification_metrics",
    "decide": "_adapter:decide",
    "decisions": "_decisions",
    "documentation": "_documentation",
    "drift": "_drift",
    "drift_measurement": "_drift:drift_measurement",
    "evaluate": "_metrics:evaluate",
    "evaluation_paths": "_judging:evaluation_paths",
    "evidence": "_evidence",
    "explainer": "_reasons:explainer",
    "failed_first": "_verdict:failed_first",
    "fairness": "_fairness",
    "fairness_measurement": "_fairness:fairness_measurement",
    "feature_drift": "_drift:feature_drift",
    "global_explanation": "_reasons:global_explanation",
    "group_table": "_fairness:group_table",
    "intersect": "_fairness:intersect",
    "judge": "_verdict:judge",
    "judge_model": "_judging:judge_model",
    "judging_changes": "_judging:judging_changes",
    "materialise": "_judging:materialise",
    "metrics": "_metrics",
    "overall_status": "_verdict:overall_status",
    "performance": "_performance",
    "policy_changes": "_judging:policy_changes",
    "positive_label": "_metrics:positive_label",
    "regression_metrics": "_metrics:regression_metrics",
    "review_governance": "_governance:review_governance",
    "rule_counts": "_verdict:rule_counts",
    "run_gates": "_run:run_gates",
    "sensitive_groups": "_fairness:sensitive_groups",
    "verdict": "_verdict",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)

"""The monitoring verdict (``mlgate.monitoring/1``): the policy's ``monitoring`` rules on production.

Each rule is judged by :func:`mlgate.gates.verdict.judge` under the family its metric belongs to
(``catalog.BY_NAME[metric].family``: drift, integrity, performance or monitoring), so its result
reads exactly like a gate's; counts and the overall status are the gate verdict's own
(:func:`~mlgate.gates.verdict.rule_counts`, :func:`~mlgate.gates.verdict.overall_status`). Every
rule can block (there is no stage filter: the stage is the one being watched). A performance rule
with no labelled row yet is ``skipped`` with the reason and the delay, never passed silently.

The spec's ``monitoring.retrain_when`` is evaluated on the same metrics: ``retrain.triggered``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlgate.config import BY_NAME, RetrainWhen, rule_id
from mlgate.gates import RuleResult, Skip, Status, failed_first, judge, overall_status, rule_counts
from mlgate.monitoring._measure import Measurements

SCHEMA = "mlgate.monitoring/1"
"""The ``schema`` field of a monitoring verdict's JSON."""


def evaluate_rules(rules: list[Any], measurements: Measurements) -> list[RuleResult]:
    """Each monitoring rule of the policy, measured and judged (every rule may block)."""
    results = []
    for rule in rules:
        family = BY_NAME[rule.metric].family
        measured = measurements.measure(rule.metric, rule.features)
        rid = rule_id("monitoring", rule)
        if isinstance(measured, Skip):
            results.append(judge(family, rule, rid, None, required=True, skip_reason=measured.reason))
        else:
            results.append(judge(family, rule, rid, measured, required=True))
    return results


def retrain(when: RetrainWhen | None, metrics: dict[str, float]) -> dict[str, Any]:
    """``{"triggered", "reason", "when"}``: whether ``monitoring.retrain_when`` holds on these metrics."""
    if when is None:
        return {"triggered": False, "reason": "the spec sets no monitoring.retrain_when", "when": None}
    spec = when.model_dump(mode="json", exclude_none=True)
    value = metrics.get(when.metric)
    if value is None:
        return {"triggered": False, "reason": f"{when.metric} was not measured in this window", "when": spec}
    if when.min is not None and value < when.min:
        return {"triggered": True, "reason": f"{when.metric} {value:.4g} is below {when.min:g}", "when": spec}
    if when.max is not None and value > when.max:
        return {"triggered": True, "reason": f"{when.metric} {value:.4g} is above {when.max:g}", "when": spec}
    bound = f"min {when.min:g}" if when.min is not None else f"max {when.max:g}"
    return {"triggered": False, "reason": f"{when.metric} {value:.4g} is within {bound}", "when": spec}


@dataclass
class MonitoringVerdict:
    """What ``mlgate monitor`` found about one model's stage in one window."""

    model: str
    stage: str
    version: int
    run_id: str
    window: dict[str, str]
    sources: list[dict[str, Any]]
    reference: dict[str, Any]
    rows: int
    metrics: dict[str, float]
    features: list[dict[str, Any]]
    prediction: dict[str, Any] | None
    labels: dict[str, Any] | None
    estimated: dict[str, Any] | None
    rules: list[RuleResult]
    retrain: dict[str, Any]
    evaluated_at: str
    mlgate_version: str
    monitoring_run_id: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    other_versions: dict[int, int] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """As a gate verdict's: ``fail`` when a blocking rule fails or errors, ``warn``, else ``pass``."""
        return overall_status(self.rules)

    @property
    def exit_code(self) -> int:
        """1 when a blocking rule failed or errored, else 0."""
        return 1 if self.status == Status.FAIL else 0

    def as_dict(self) -> dict[str, Any]:
        """The verdict JSON (schema :data:`SCHEMA`), failed rules first."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "stage": self.stage,
            "version": self.version,
            "run_id": self.run_id,
            "status": self.status,
            "counts": rule_counts(self.rules),
            "window": self.window,
            "sources": self.sources,
            "other_versions": {str(v): n for v, n in sorted(self.other_versions.items())},
            "reference": self.reference,
            "rows": self.rows,
            "metrics": self.metrics,
            "features": self.features,
            "prediction": self.prediction,
            "labels": self.labels,
            "estimated": self.estimated,
            "rules": [r.as_dict() for r in failed_first(self.rules)],
            "retrain": self.retrain,
            "monitoring_run_id": self.monitoring_run_id,
            "evaluated_at": self.evaluated_at,
            "mlgate_version": self.mlgate_version,
            "seconds": self.seconds,
        }

"""Rules against measurements: one structured verdict per model version (DESIGN.md contract).

Status of a rule: ``pass``, ``fail``, ``error`` (the metric could not be computed: fail closed)
or ``skipped`` (nothing to compare with, e.g. no champion yet — said, never a silent pass).
The overall status is ``fail`` when a blocking rule fails or errors, ``warn`` when only
``warn``-severity rules do, else ``pass``. With a stage, only the families that stage requires
can block; the others are still evaluated and reported, as warnings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from mlgate.config import GATE_FAMILIES
from mlgate.gates import Measurement

SCHEMA = "mlgate.verdict/2"
"""The ``schema`` field of a verdict's JSON; readers refuse a file with one not in :data:`READABLE`."""
READABLE = frozenset({"mlgate.verdict/1", SCHEMA})
"""Schemas a report renders: /2 adds ``evidence``, which /1 verdicts lack (their reports omit it)."""


class RuleStatus(StrEnum):
    """How one rule came out (serialised as its value, e.g. ``"pass"``)."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # the metric could not be computed: fails closed
    SKIPPED = "skipped"  # nothing to compare with: said, never a silent pass


class Status(StrEnum):
    """A verdict's overall status."""

    PASS = "pass"
    WARN = "warn"  # only warn-severity (or not required) rules failed
    FAIL = "fail"  # a blocking rule failed or errored


class FamilyStatus(StrEnum):
    """One gate family's status in a verdict."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NONE = "none"  # the policy has no rule in that family


FAILED = frozenset({RuleStatus.FAIL, RuleStatus.ERROR})
"""Rule statuses that count against a version: blocking or a warning, by severity and stage."""


@dataclass
class RuleResult:
    """One rule of the policy, evaluated."""

    family: str
    rule_id: str
    metric: str
    observed: float | None
    threshold: float | None
    comparison: str
    severity: str
    status: RuleStatus
    explanation: str
    description: str = ""
    blocking: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The result as the verdict JSON lists it under ``rules``."""
        return asdict(self)


def compare(comparison: str, observed: float, threshold: float) -> bool:
    """``min``: observed ≥ threshold; ``max`` and ``max_regression``: observed ≤ threshold."""
    if comparison == "min":
        return observed >= threshold
    return observed <= threshold


def judge(
    family: str,
    rule: Any,
    rule_id: str,
    measured: Measurement | None,
    *,
    required: bool,
    skip_reason: str = "",
) -> RuleResult:
    """Compare one measurement with its rule."""
    comparison = getattr(rule, "comparison", "present")
    threshold = getattr(rule, "threshold", None)
    metric = getattr(rule, "metric", None) or getattr(rule, "field", "")
    base = {
        "family": family,
        "rule_id": rule_id,
        "metric": metric,
        "threshold": threshold,
        "comparison": comparison,
        "severity": rule.severity,
        "description": rule.description,
    }
    if measured is None:
        return RuleResult(**base, observed=None, status=RuleStatus.SKIPPED, explanation=skip_reason)
    if measured.error is not None or measured.value is None or math.isnan(measured.value):
        reason = measured.error or f"{metric} is undefined (NaN) on this data"
        status, explanation, observed = RuleStatus.ERROR, reason, None
    else:
        observed = float(measured.value)
        if comparison == "present":  # a documentation rule: no threshold
            ok = observed >= 1.0
        elif threshold is None:  # every Rule with a comparison has one (mlgate.config.schema.Rule.threshold)
            raise ValueError(f"rule {rule_id}: comparison {comparison} without a threshold")
        else:
            ok = compare(comparison, observed, float(threshold))
        status, explanation = (RuleStatus.PASS if ok else RuleStatus.FAIL), measured.explanation
        if not ok and comparison != "present":
            sign = "≥" if comparison == "min" else "≤"
            explanation += f"; needs {sign} {threshold:g}"
    blocking = status in FAILED and rule.severity == "block" and required
    return RuleResult(
        **base,
        observed=observed,
        status=status,
        explanation=explanation,
        blocking=blocking,
        details=measured.details,
    )


@dataclass
class Verdict:
    """The gate result of one model version under one policy."""

    model: str
    version: int | None  # None when the subject is a predictions file
    run_id: str | None
    stage: str | None
    commit: str
    policy: dict[str, Any]
    data: list[dict[str, str]]
    trained_on: dict[str, str]
    metrics: dict[str, float]
    champion: dict[str, Any] | None
    rules: list[RuleResult]
    required_families: list[str]
    evaluated_at: str
    mlgate_version: str
    seconds: dict[str, float] = field(default_factory=dict)
    # what judged: the base commit, the judging fields the PR changes, which rows were scored
    judging: dict[str, Any] = field(default_factory=dict)
    # what a report shows about the version: its mlgate.* tags and run link (mlgate.gates.run.lineage)
    lineage: dict[str, Any] = field(default_factory=dict)
    # what was judged: a registered version ("model_version") or a predictions file ("predictions",
    # described by ``predictions``: path, md5, columns, threshold, positive_label; no version or run)
    subject: str = "model_version"
    predictions: dict[str, Any] | None = None
    # what a reviewer looks at besides the rules, informational (mlgate.gates.evidence)
    evidence: dict[str, Any] = field(default_factory=dict)
    # the digest of the bytes the gates loaded ({digest, files}: mlgate.registry.ArtifactDigest);
    # None for a predictions file. A promotion compares it with the digest release.yaml pins.
    artifact: dict[str, Any] | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Rules per status, plus ``blocking`` and ``warnings`` (see :func:`rule_counts`)."""
        return rule_counts(self.rules)

    @property
    def status(self) -> Status:
        """``fail`` if a rule blocks, ``warn`` if another failed or errored, else ``pass``."""
        return overall_status(self.rules)

    def family_status(self, family: str) -> FamilyStatus:
        """``pass`` / ``warn`` / ``fail`` for one family; ``none`` if the policy has no rule there."""
        rules = [r for r in self.rules if r.family == family]
        if not rules:
            return FamilyStatus.NONE
        if any(r.status in FAILED and r.severity == "block" for r in rules):
            return FamilyStatus.FAIL
        if any(r.status in FAILED for r in rules):
            return FamilyStatus.WARN
        return FamilyStatus.PASS

    def as_dict(self) -> dict[str, Any]:
        """The verdict JSON (schema :data:`SCHEMA`), failed rules first."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "subject": self.subject,
            "version": self.version,
            "run_id": self.run_id,
            "predictions": self.predictions,
            "stage": self.stage,
            "status": self.status,
            "counts": self.counts,
            "families": {f: self.family_status(f) for f in GATE_FAMILIES},
            "required_families": self.required_families,
            "commit": self.commit,
            "policy": self.policy,
            "judging": self.judging,
            "data": self.data,
            "trained_on": self.trained_on,
            "lineage": self.lineage,
            "metrics": self.metrics,
            "champion": self.champion,
            # failures first: that is what a reviewer needs to see
            "rules": [r.as_dict() for r in failed_first(self.rules)],
            "evaluated_at": self.evaluated_at,
            "mlgate_version": self.mlgate_version,
            "seconds": self.seconds,
            "evidence": self.evidence,
            "artifact": self.artifact,
        }


def rule_counts(rules: list[RuleResult]) -> dict[str, int]:
    """Rules per status, plus ``blocking`` and ``warnings`` (failed, errored, not blocking).

    Shared by the gate verdict and the monitoring verdict (mlgate.monitoring): one way to count.
    """
    counts = {status.value: 0 for status in RuleStatus} | {"warnings": 0, "blocking": 0}
    for rule in rules:
        counts[rule.status] += 1
        if rule.blocking:
            counts["blocking"] += 1
        elif rule.status in FAILED:
            counts["warnings"] += 1
    return counts


def overall_status(rules: list[RuleResult]) -> Status:
    """``fail`` if a rule blocks, ``warn`` if another failed or errored, else ``pass``."""
    counts = rule_counts(rules)
    if counts["blocking"]:
        return Status.FAIL
    return Status.WARN if counts["warnings"] else Status.PASS


def failed_first(rules: list[RuleResult]) -> list[RuleResult]:
    """The rules as a verdict lists them: blocking failures first, then by status (fail, error, skipped, pass)."""
    return sorted(rules, key=_rule_order)


def _rule_order(rule: RuleResult) -> tuple[int, int]:
    order = (RuleStatus.FAIL, RuleStatus.ERROR, RuleStatus.SKIPPED, RuleStatus.PASS)
    rank = order.index(rule.status)
    return (0 if rule.blocking else 1, rank)

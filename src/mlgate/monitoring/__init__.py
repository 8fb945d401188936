"""Models in production: what `mlgate monitor` measures and judges, the alerts, the retraining PRs.

``sources`` reads the serve audit store and ``mlgate score``'s partitions; ``reference`` the
version's training rows (or a named set); ``labels`` joins outcomes as they arrive; ``measure``
computes drift, data quality, prediction drift, volume, performance and the CBPE estimate
(``estimate``); ``verdict`` judges the policy's ``monitoring`` rules; ``run`` ties them together
and records the verdict in MLflow. ``alerts`` keeps one GitHub issue per model and stage and opens
the post-deployment reviews; ``retrain`` opens the retraining pull request; ``schedule`` says
which models are due (``mlgate monitored``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.monitoring._alerts import (
        IssueAction,
        IssueSync,
        OpenAlert,
        figures,
        github_login,
        open_alerts,
        review_issues,
        sync_issue,
    )
    from mlgate.monitoring._canary import CanaryAction, CanaryChange
    from mlgate.monitoring._canary import pr_body as canary_pr_body
    from mlgate.monitoring._canary import pr_title as canary_pr_title
    from mlgate.monitoring._command import CompareOutcome, MonitorOutcome, compare_arms, custody_alert, monitor
    from mlgate.monitoring._compare import Arm as CompareArm
    from mlgate.monitoring._compare import (
        Check,
        CheckStatus,
        CompareResult,
        CompareState,
        CompareVerdict,
        compare,
        mcnemar,
        paired_decision_rate_check,
        paired_scores,
        two_proportions,
    )
    from mlgate.monitoring._compare import decide as compare_state
    from mlgate.monitoring._estimate import (
        METHOD,
        NOT_CALIBRATED,
        TOLERANCE,
        Calibration,
        Estimate,
        calibration,
        estimate,
        expected_accuracy,
        expected_roc_auc,
    )
    from mlgate.monitoring._labels import LABEL, Labelled
    from mlgate.monitoring._measure import Measurements, Subject
    from mlgate.monitoring._pushdown import PushedAudit, PushedMeasurements
    from mlgate.monitoring._reference import load_reference
    from mlgate.monitoring._retrain import RetrainAction, branch_name, propose
    from mlgate.monitoring._run import MonitoringResult, run
    from mlgate.monitoring._schedule import due, monitored_models
    from mlgate.monitoring._sources import AT, SCORE, Served, SourceReport, Traffic, probability_column
    from mlgate.monitoring._verdict import SCHEMA, MonitoringVerdict
    from mlgate.monitoring._window import Window, duration, resolve


__all__ = [
    "AT",
    "LABEL",
    "METHOD",
    "NOT_CALIBRATED",
    "SCHEMA",
    "SCORE",
    "TOLERANCE",
    "Calibration",
    "CanaryAction",
    "CanaryChange",
    "Check",
    "CheckStatus",
    "CompareArm",
    "CompareOutcome",
    "CompareResult",
    "CompareState",
    "CompareVerdict",
    "Estimate",
    "IssueAction",
    "IssueSync",
    "Labelled",
    "Measurements",
    "MonitorOutcome",
    "MonitoringResult",
    "MonitoringVerdict",
    "OpenAlert",
    "PushedAudit",
    "PushedMeasurements",
    "RetrainAction",
    "Served",
    "SourceReport",
    "Subject",
    "Traffic",
    "Window",
    "branch_name",
    "calibration",
    "canary_pr_body",
    "canary_pr_title",
    "compare",
    "compare_arms",
    "compare_state",
    "custody_alert",
    "due",
    "duration",
    "estimate",
    "expected_accuracy",
    "expected_roc_auc",
    "figures",
    "github_login",
    "load_reference",
    "mcnemar",
    "monitor",
    "monitored_models",
    "open_alerts",
    "paired_decision_rate_check",
    "paired_scores",
    "probability_column",
    "propose",
    "resolve",
    "review_issues",
    "run",
    "sync_issue",
    "two_proportions",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "CompareArm": "_compare:Arm",
    "compare_state": "_compare:decide",
    "mcnemar": "_compare:mcnemar",
    "paired_decision_rate_check": "_compare:paired_decision_rate_check",
    "paired_scores": "_compare:paired_scores",
    "two_proportions": "_compare:two_proportions",
    "canary_pr_body": "_canary:pr_body",
    "canary_pr_title": "_canary:pr_title",
    "CanaryAction": "_canary:CanaryAction",
    "CanaryChange": "_canary:CanaryChange",
    "CompareOutcome": "_command:CompareOutcome",
    "compare_arms": "_command:compare_arms",
    "Check": "_compare:Check",
    "CheckStatus": "_compare:CheckStatus",
    "CompareResult": "_compare:CompareResult",
    "CompareState": "_compare:CompareState",
    "CompareVerdict": "_compare:CompareVerdict",
    "compare": "_compare:compare",
    "AT": "_sources:AT",
    "Calibration": "_estimate:Calibration",
    "Estimate": "_estimate:Estimate",
    "IssueAction": "_alerts:IssueAction",
    "IssueSync": "_alerts:IssueSync",
    "OpenAlert": "_alerts:OpenAlert",
    "LABEL": "_labels:LABEL",
    "Labelled": "_labels:Labelled",
    "METHOD": "_estimate:METHOD",
    "NOT_CALIBRATED": "_estimate:NOT_CALIBRATED",
    "Measurements": "_measure:Measurements",
    "MonitorOutcome": "_command:MonitorOutcome",
    "MonitoringResult": "_run:MonitoringResult",
    "MonitoringVerdict": "_verdict:MonitoringVerdict",
    "RetrainAction": "_retrain:RetrainAction",
    "SCHEMA": "_verdict:SCHEMA",
    "SCORE": "_sources:SCORE",
    "probability_column": "_sources:probability_column",
    "SourceReport": "_sources:SourceReport",
    "Subject": "_measure:Subject",
    "TOLERANCE": "_estimate:TOLERANCE",
    "Traffic": "_sources:Traffic",
    "Window": "_window:Window",
    "PushedAudit": "_pushdown:PushedAudit",
    "PushedMeasurements": "_pushdown:PushedMeasurements",
    "Served": "_sources:Served",
    "branch_name": "_retrain:branch_name",
    "custody_alert": "_command:custody_alert",
    "due": "_schedule:due",
    "duration": "_window:duration",
    "calibration": "_estimate:calibration",
    "estimate": "_estimate:estimate",
    "expected_accuracy": "_estimate:expected_accuracy",
    "expected_roc_auc": "_estimate:expected_roc_auc",
    "figures": "_alerts:figures",
    "github_login": "_alerts:github_login",
    "open_alerts": "_alerts:open_alerts",
    "load_reference": "_reference:load_reference",
    "monitor": "_command:monitor",
    "monitored_models": "_schedule:monitored_models",
    "propose": "_retrain:propose",
    "resolve": "_window:resolve",
    "review_issues": "_alerts:review_issues",
    "run": "_run:run",
    "sync_issue": "_alerts:sync_issue",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)

"""Models in production: what `mlgate monitor` measures and judges, the alerts, the retraining PRs.

``sources`` reads the serve audit store and ``mlgate score``'s partitions; ``reference`` the
version's training rows (or a named set); ``labels`` joins outcomes as they arrive; ``measure``
computes drift, data quality, prediction drift, volume, performance and the CBPE estimate
(``estimate``); ``verdict`` judges the policy's ``monitoring`` rules; ``run`` ties them together
and records the verdict in MLflow. ``alerts`` keeps one GitHub issue per model and stage and opens
the post-deployment reviews; ``retrain`` opens the retraining pull request; ``schedule`` says
which models are due (``mlgate monitored``).
"""

from mlgate.monitoring.estimate import METHOD, TOLERANCE, Estimate, estimate, expected_accuracy, expected_roc_auc
from mlgate.monitoring.labels import LABEL, Labelled
from mlgate.monitoring.measure import Measurements, Subject
from mlgate.monitoring.run import MonitoringResult, run
from mlgate.monitoring.sources import AT, SCORE, SourceReport, Traffic
from mlgate.monitoring.verdict import SCHEMA, MonitoringVerdict
from mlgate.monitoring.window import Window, duration, resolve

__all__ = [
    "AT",
    "LABEL",
    "METHOD",
    "SCHEMA",
    "SCORE",
    "TOLERANCE",
    "Estimate",
    "Labelled",
    "Measurements",
    "MonitoringResult",
    "MonitoringVerdict",
    "SourceReport",
    "Subject",
    "Traffic",
    "Window",
    "duration",
    "estimate",
    "expected_accuracy",
    "expected_roc_auc",
    "resolve",
    "run",
]

"""The MLflow tracking server and model registry: the only package that imports MLflow.

``mlflow`` holds the :class:`Registry` adapter; ``audit`` the promotion audit log kept in it;
``flavours`` which model formats load, and how (nothing that runs code unless a policy trusts it).
"""

from mlgate.registry.flavours import CODE_FORMATS, SAFE_FORMATS, Serialization, classify
from mlgate.registry.mlflow import (
    MODEL_ARTIFACT,
    MONITORING_EXPERIMENT,
    MONITORING_TAG,
    TAG_PREFIX,
    TRUSTED_EXACT_TYPES,
    TRUSTED_TYPE_PREFIXES,
    VERDICT_TAG,
    IncompleteVerdict,
    LoadedModel,
    LoggedModelRef,
    ModelVersion,
    MonitoringRun,
    RegisteredVersion,
    Registry,
    Run,
    RunFacts,
    is_embedded,
    load_skops,
    metric_name,
    outage_reason,
    tracking_uri,
    trusted_types,
)

__all__ = [
    "CODE_FORMATS",
    "MODEL_ARTIFACT",
    "MONITORING_EXPERIMENT",
    "MONITORING_TAG",
    "SAFE_FORMATS",
    "TAG_PREFIX",
    "TRUSTED_EXACT_TYPES",
    "TRUSTED_TYPE_PREFIXES",
    "VERDICT_TAG",
    "IncompleteVerdict",
    "LoadedModel",
    "LoggedModelRef",
    "ModelVersion",
    "MonitoringRun",
    "RegisteredVersion",
    "Registry",
    "Run",
    "RunFacts",
    "Serialization",
    "classify",
    "is_embedded",
    "load_skops",
    "metric_name",
    "outage_reason",
    "tracking_uri",
    "trusted_types",
]

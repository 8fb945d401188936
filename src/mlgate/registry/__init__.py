"""The MLflow tracking server and model registry: the only package that imports MLflow.

``mlflow`` holds the :class:`Registry` adapter; ``audit`` the promotion audit log kept in it;
``flavours`` which model formats load, and how (nothing that runs code unless a policy trusts it).
"""

from __future__ import annotations

from mlgate.registry import _audit as audit
from mlgate.registry import _spark as spark
from mlgate.registry._audit import Record, RecordState
from mlgate.registry._flavours import (
    CODE_FORMATS,
    OUTPUT_HINT,
    SAFE_FORMATS,
    Serialization,
    XGBoostBooster,
    classify,
    output_problem,
)
from mlgate.registry._mlflow import (
    ARTIFACT_DIGEST_TAG,
    ARTIFACT_FILES_TAG,
    DIGEST_PATTERN,
    MODEL_ARTIFACT,
    MONITORING_EXPERIMENT,
    MONITORING_TAG,
    TAG_PREFIX,
    TRUSTED_EXACT_TYPES,
    TRUSTED_TYPE_PREFIXES,
    VERDICT_TAG,
    ArtifactDigest,
    IncompleteVerdict,
    LoadedModel,
    LoggedModelRef,
    ModelVersion,
    MonitoringRun,
    RegisteredVersion,
    Registry,
    Run,
    RunFacts,
    folder_digest,
    is_embedded,
    load_skops,
    manifest_of,
    metric_name,
    outage_reason,
    tampered,
    tracking_uri,
    trusted_types,
)

__all__ = [
    "ARTIFACT_DIGEST_TAG",
    "ARTIFACT_FILES_TAG",
    "CODE_FORMATS",
    "DIGEST_PATTERN",
    "MODEL_ARTIFACT",
    "MONITORING_EXPERIMENT",
    "MONITORING_TAG",
    "OUTPUT_HINT",
    "SAFE_FORMATS",
    "TAG_PREFIX",
    "TRUSTED_EXACT_TYPES",
    "TRUSTED_TYPE_PREFIXES",
    "VERDICT_TAG",
    "ArtifactDigest",
    "IncompleteVerdict",
    "LoadedModel",
    "LoggedModelRef",
    "ModelVersion",
    "MonitoringRun",
    "Record",
    "RecordState",
    "RegisteredVersion",
    "Registry",
    "Run",
    "RunFacts",
    "Serialization",
    "XGBoostBooster",
    "audit",
    "classify",
    "folder_digest",
    "is_embedded",
    "load_skops",
    "manifest_of",
    "metric_name",
    "outage_reason",
    "output_problem",
    "spark",
    "tampered",
    "tracking_uri",
    "trusted_types",
]

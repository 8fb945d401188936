"""The MLflow tracking server and model registry: the only package that imports MLflow.

``mlflow`` holds the :class:`Registry` adapter; ``audit`` the promotion audit log kept in it.
"""

from mlgate.registry.mlflow import (
    MODEL_ARTIFACT,
    TAG_PREFIX,
    TRUSTED_EXACT_TYPES,
    TRUSTED_TYPE_PREFIXES,
    VERDICT_TAG,
    IncompleteVerdict,
    LoadedModel,
    LoggedModelRef,
    ModelVersion,
    RegisteredVersion,
    Registry,
    Run,
    RunFacts,
    is_embedded,
    load_skops,
    outage_reason,
    tracking_uri,
    trusted_types,
)

__all__ = [
    "MODEL_ARTIFACT",
    "TAG_PREFIX",
    "TRUSTED_EXACT_TYPES",
    "TRUSTED_TYPE_PREFIXES",
    "VERDICT_TAG",
    "IncompleteVerdict",
    "LoadedModel",
    "LoggedModelRef",
    "ModelVersion",
    "RegisteredVersion",
    "Registry",
    "Run",
    "RunFacts",
    "is_embedded",
    "load_skops",
    "outage_reason",
    "tracking_uri",
    "trusted_types",
]

"""The governed repo's files: specs, policies, releases, read and cross-checked (no data, no model).

``yamlio`` reads YAML with locations, ``schema`` holds the pydantic models of specs, policies
and releases, ``policies`` resolves ``extends:`` chains, ``workspace`` finds the repo and loads a
model's context, ``release`` edits ``release.yaml``, ``affected`` lists the models a change
touches (the propose matrix). What loading needs to know about rules lives here too, so config
imports no layer above it: ``catalog`` (every metric a rule can name), ``estimators`` (which
estimator classes and params a spec may name), ``lineage`` (tag names and content hashes).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.config import _catalog as catalog
    from mlgate.config import _schema as schema
    from mlgate.config import _yamlio as yamlio
    from mlgate.config._affected import EVERYTHING, affected_models, gate_only, matches
    from mlgate.config._catalog import (
        BUILTIN_RULE_PREFIX,
        BY_NAME,
        GATE_FAMILIES,
        LOWER_IS_BETTER,
        NATIVE_INTEGRITY_METRICS,
        names,
    )
    from mlgate.config._estimators import DEFAULT_ESTIMATOR_MODULES, make_estimator, recorded_params
    from mlgate.config._lineage import (
        EXTERNAL_PREFIX,
        LINEAGE_COMMAND,
        LINEAGE_EXTERNAL,
        LINEAGE_MLGATE,
        LINEAGE_TAG,
        OBSERVED_LINEAGES,
        TRAIN_COMPLETE_TAG,
        canonical_hash,
        incomplete_reason,
    )
    from mlgate.config._policies import load_policy, no_champion_stage, rule_id
    from mlgate.config._release import commit_of, entry_at, release_path, revisions, set_stage
    from mlgate.config._schema import (
        CHAMPION_ALIAS,
        DATA_FORMATS,
        NAME_PATTERN,
        TEXT_MIN_ROWS,
        TEXT_TOKEN_PATTERN,
        Approvers,
        Decision,
        DegenerateDecisions,
        DocumentationRule,
        DriftRule,
        DriftSettings,
        FairnessMetric,
        FairnessRule,
        FairnessSettings,
        Features,
        Governance,
        IntegrityRule,
        ModelSpec,
        Output,
        PerformanceRule,
        Policy,
        Promotion,
        Readiness,
        Release,
        RetrainWhen,
        SensitiveFeature,
        StageRequirement,
        TrustedFormat,
        data_format_error,
        display_path,
        json_schemas,
        load_model_spec,
        load_release,
        repo_relative,
    )
    from mlgate.config._schema import parse as parse_model
    from mlgate.config._workspace import (
        MODELS_DIR,
        PARAMS_FILE,
        POLICIES_DIR,
        RELEASE_FILE,
        SPEC_FILE,
        ModelContext,
        PolicySource,
        Settings,
        Workspace,
        load_model_context,
        load_params,
        model_names,
        refuse_predictions,
        spec_path,
    )
    from mlgate.config._yamlio import Document, load, replace_scalar
    from mlgate.config._yamlio import parse as parse_yaml


__all__ = [
    "BUILTIN_RULE_PREFIX",
    "BY_NAME",
    "CHAMPION_ALIAS",
    "DATA_FORMATS",
    "DEFAULT_ESTIMATOR_MODULES",
    "EVERYTHING",
    "EXTERNAL_PREFIX",
    "GATE_FAMILIES",
    "LINEAGE_COMMAND",
    "LINEAGE_EXTERNAL",
    "LINEAGE_MLGATE",
    "LINEAGE_TAG",
    "LOWER_IS_BETTER",
    "MODELS_DIR",
    "NAME_PATTERN",
    "NATIVE_INTEGRITY_METRICS",
    "OBSERVED_LINEAGES",
    "PARAMS_FILE",
    "POLICIES_DIR",
    "RELEASE_FILE",
    "SPEC_FILE",
    "TEXT_MIN_ROWS",
    "TEXT_TOKEN_PATTERN",
    "TRAIN_COMPLETE_TAG",
    "Approvers",
    "Decision",
    "DegenerateDecisions",
    "Document",
    "DocumentationRule",
    "DriftRule",
    "DriftSettings",
    "FairnessMetric",
    "FairnessRule",
    "FairnessSettings",
    "Features",
    "Governance",
    "IntegrityRule",
    "ModelContext",
    "ModelSpec",
    "Output",
    "PerformanceRule",
    "Policy",
    "PolicySource",
    "Promotion",
    "Readiness",
    "Release",
    "RetrainWhen",
    "SensitiveFeature",
    "Settings",
    "StageRequirement",
    "TrustedFormat",
    "Workspace",
    "affected_models",
    "canonical_hash",
    "catalog",
    "commit_of",
    "data_format_error",
    "display_path",
    "entry_at",
    "gate_only",
    "incomplete_reason",
    "json_schemas",
    "load",
    "load_model_context",
    "load_model_spec",
    "load_params",
    "load_policy",
    "load_release",
    "make_estimator",
    "matches",
    "model_names",
    "names",
    "no_champion_stage",
    "parse_model",
    "parse_yaml",
    "recorded_params",
    "refuse_predictions",
    "release_path",
    "replace_scalar",
    "repo_relative",
    "revisions",
    "rule_id",
    "schema",
    "set_stage",
    "spec_path",
    "yamlio",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "Approvers": "_schema:Approvers",
    "BUILTIN_RULE_PREFIX": "_catalog:BUILTIN_RULE_PREFIX",
    "BY_NAME": "_catalog:BY_NAME",
    "CHAMPION_ALIAS": "_schema:CHAMPION_ALIAS",
    "DATA_FORMATS": "_schema:DATA_FORMATS",
    "DEFAULT_ESTIMATOR_MODULES": "_estimators:DEFAULT_ESTIMATOR_MODULES",
    "Decision": "_schema:Decision",
    "DegenerateDecisions": "_schema:DegenerateDecisions",
    "Document": "_yamlio:Document",
    "DocumentationRule": "_schema:DocumentationRule",
    "DriftRule": "_schema:DriftRule",
    "DriftSettings": "_schema:DriftSettings",
    "EVERYTHING": "_affected:EVERYTHING",
    "EXTERNAL_PREFIX": "_lineage:EXTERNAL_PREFIX",
    "FairnessMetric": "_schema:FairnessMetric",
    "FairnessRule": "_schema:FairnessRule",
    "FairnessSettings": "_schema:FairnessSettings",
    "Features": "_schema:Features",
    "GATE_FAMILIES": "_catalog:GATE_FAMILIES",
    "Governance": "_schema:Governance",
    "IntegrityRule": "_schema:IntegrityRule",
    "LINEAGE_COMMAND": "_lineage:LINEAGE_COMMAND",
    "LINEAGE_EXTERNAL": "_lineage:LINEAGE_EXTERNAL",
    "LINEAGE_MLGATE": "_lineage:LINEAGE_MLGATE",
    "LINEAGE_TAG": "_lineage:LINEAGE_TAG",
    "LOWER_IS_BETTER": "_catalog:LOWER_IS_BETTER",
    "MODELS_DIR": "_workspace:MODELS_DIR",
    "ModelContext": "_workspace:ModelContext",
    "ModelSpec": "_schema:ModelSpec",
    "NAME_PATTERN": "_schema:NAME_PATTERN",
    "NATIVE_INTEGRITY_METRICS": "_catalog:NATIVE_INTEGRITY_METRICS",
    "OBSERVED_LINEAGES": "_lineage:OBSERVED_LINEAGES",
    "Output": "_schema:Output",
    "PARAMS_FILE": "_workspace:PARAMS_FILE",
    "POLICIES_DIR": "_workspace:POLICIES_DIR",
    "PerformanceRule": "_schema:PerformanceRule",
    "Policy": "_schema:Policy",
    "PolicySource": "_workspace:PolicySource",
    "Promotion": "_schema:Promotion",
    "RELEASE_FILE": "_workspace:RELEASE_FILE",
    "Readiness": "_schema:Readiness",
    "Release": "_schema:Release",
    "RetrainWhen": "_schema:RetrainWhen",
    "SPEC_FILE": "_workspace:SPEC_FILE",
    "SensitiveFeature": "_schema:SensitiveFeature",
    "Settings": "_workspace:Settings",
    "StageRequirement": "_schema:StageRequirement",
    "TEXT_MIN_ROWS": "_schema:TEXT_MIN_ROWS",
    "TEXT_TOKEN_PATTERN": "_schema:TEXT_TOKEN_PATTERN",
    "TRAIN_COMPLETE_TAG": "_lineage:TRAIN_COMPLETE_TAG",
    "TrustedFormat": "_schema:TrustedFormat",
    "Workspace": "_workspace:Workspace",
    "affected_models": "_affected:affected_models",
    "canonical_hash": "_lineage:canonical_hash",
    "catalog": "_catalog",
    "commit_of": "_release:commit_of",
    "data_format_error": "_schema:data_format_error",
    "display_path": "_schema:display_path",
    "entry_at": "_release:entry_at",
    "gate_only": "_affected:gate_only",
    "incomplete_reason": "_lineage:incomplete_reason",
    "json_schemas": "_schema:json_schemas",
    "load": "_yamlio:load",
    "load_model_context": "_workspace:load_model_context",
    "load_model_spec": "_schema:load_model_spec",
    "load_params": "_workspace:load_params",
    "load_policy": "_policies:load_policy",
    "load_release": "_schema:load_release",
    "make_estimator": "_estimators:make_estimator",
    "matches": "_affected:matches",
    "model_names": "_workspace:model_names",
    "names": "_catalog:names",
    "no_champion_stage": "_policies:no_champion_stage",
    "parse_model": "_schema:parse",
    "parse_yaml": "_yamlio:parse",
    "recorded_params": "_estimators:recorded_params",
    "refuse_predictions": "_workspace:refuse_predictions",
    "release_path": "_release:release_path",
    "replace_scalar": "_yamlio:replace_scalar",
    "repo_relative": "_schema:repo_relative",
    "revisions": "_release:revisions",
    "rule_id": "_policies:rule_id",
    "schema": "_schema",
    "set_stage": "_release:set_stage",
    "spec_path": "_workspace:spec_path",
    "yamlio": "_yamlio",
}


def __getattr__(name: str) -> Any:
    """Import a public name's private module on first use (PEP 562): the package imports lightly."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = _LAZY[name].partition(":")
    value = import_module(f"{__name__}.{module}")
    if attr:
        value = getattr(value, attr)
    globals()[name] = value  # once: the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    """The module's globals and its public names, imported or not."""
    return sorted({*globals(), *__all__})

"""What a trained version records: its lineage, the run's params, its tags, and how it is registered.

Shared by both ways of training (:mod:`mlgate.training.train` fits a declarative pipeline,
:mod:`mlgate.training._command` runs the spec's own command), so neither imports the other's module
for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mlgate import __version__
from mlgate.config import LINEAGE_MLGATE, LINEAGE_TAG, TRAIN_COMPLETE_TAG, ModelContext, canonical_hash
from mlgate.data import ModelData
from mlgate.exceptions import RegistryUnavailable
from mlgate.git import GitState
from mlgate.registry import TAG_PREFIX, RegisteredVersion, Registry


@dataclass
class TrainResult:
    """What `mlgate train` produced (written by ``--json``)."""

    model: str
    version: int
    run_id: str
    model_uri: str
    tracking_uri: str
    metrics: dict[str, float]
    lineage: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The result as ``mlgate train --json`` writes it."""
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "model_uri": self.model_uri,
            "tracking_uri": self.tracking_uri,
            "metrics": self.metrics,
            "lineage": self.lineage,
            "seconds": self.seconds,
        }


def lineage(ctx: ModelContext, data: ModelData, git: GitState, params: dict[str, Any]) -> dict[str, Any]:
    """Provenance recorded on the run and the registered version."""
    return {
        "git_commit": git.commit,
        "git_dirty": git.dirty,
        "git_branch": git.branch,
        "spec_file": f"models/{ctx.name}/model.yaml",
        "spec_sha256": canonical_hash(ctx.spec.model_dump(mode="json", by_alias=True)),
        "params_sha256": canonical_hash(params),
        "policy_file": ctx.policy.file,
        "policy_files": list(ctx.policy.files),
        "policy_sha256": ctx.policy.sha256,
        "data": [f.as_dict() for f in data.files],
        "rows": {"train": len(data.train), "holdout": len(data.holdout)},
        "mlgate_version": __version__,
        "lineage": LINEAGE_MLGATE,
        "ci_run_url": ci_run_url(),
    }


def ci_run_url() -> str | None:
    """The GitHub Actions run training runs in (``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID``).

    Recorded as ``mlgate.ci.run_url``: the builder an evidence bundle's provenance names. Like every
    lineage tag it is what the training job says (forgeable by a job with registry write access).
    """
    server, repo, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run_id:
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return None


def version_tags(info: dict[str, Any]) -> dict[str, str]:
    """Lineage as flat ``mlgate.*`` tags (registry tags are strings)."""
    tags = {
        "git.commit": info["git_commit"],
        "git.dirty": str(info["git_dirty"]).lower(),
        "git.branch": info["git_branch"],
        "spec.sha256": info["spec_sha256"],
        "params.sha256": info["params_sha256"],
        "policy.file": info["policy_file"],
        "policy.sha256": info["policy_sha256"],
        "version": info["mlgate_version"],
    }
    if info.get("ci_run_url"):
        tags["ci.run_url"] = info["ci_run_url"]
    for item in info["data"]:
        tags[f"data.{item['role']}.path"] = item["path"]
        tags[f"data.{item['role']}.md5"] = item["md5"]
    return {TAG_PREFIX + key: str(value) for key, value in tags.items()} | {
        LINEAGE_TAG: info.get("lineage", LINEAGE_MLGATE)
    }


def run_params(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """What the run records as params: the estimator's (or the command's) params, task, features, split.

    The split settings are what the gates rebuild a version's training rows from (honest rows).
    """
    split = ctx.spec.dataset.split
    logged = {f"estimator.{k}": v for k, v in sorted(params.items())}
    if ctx.spec.estimator is not None:
        logged["estimator.class"] = ctx.spec.estimator.class_
    if ctx.spec.train is not None:
        logged = {f"train.params.{k}": v for k, v in sorted(params.items())} | {"train.command": ctx.spec.train.shown}
    logged |= {
        "task": ctx.spec.task,
        "target": ctx.spec.target,
        "features.numeric": ",".join(ctx.spec.inputs.numeric),
        "features.categorical": ",".join(ctx.spec.inputs.categorical),
    }
    if ctx.spec.inputs.text:
        logged["features.text"] = ",".join(ctx.spec.inputs.text)
    if split is not None:
        logged |= {f"split.{k}": v for k, v in split.model_dump().items()}
    return logged


def register_complete(registry: Registry, ctx: ModelContext, model_uri: str, tags: dict[str, str]) -> RegisteredVersion:
    """Register ``model_uri`` with its lineage ``tags`` (one request), its digest, then ``mlgate.train.complete`` last.

    A version without the complete tag was cut short by an outage: gate and promote refuse it.
    """
    registered = registry.register_model(ctx.name, model_uri, tags)
    try:
        registry.set_model_description(ctx.name, ctx.spec.description)
        # the digest of the files as stored: what a promotion pins and every load compares with
        registry.record_artifact(ctx.name, registered.version)
        registry.set_version_tags(ctx.name, registered.version, {TRAIN_COMPLETE_TAG: "true"})  # last
    except RegistryUnavailable as err:
        raise RegistryUnavailable(
            f"{ctx.name} v{registered.version} was registered but not marked complete "
            f"({TRAIN_COMPLETE_TAG}), so it cannot be gated: {err.message}",
            hint=f"re-run `mlgate train {ctx.name}` once MLflow answers",
        ) from err
    return registered

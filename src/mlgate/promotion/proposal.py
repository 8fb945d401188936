"""`mlgate propose-promotion` and `mlgate pin`: the release.yaml edit and the pull request that carries it.

Both write the digest of the version's files that mlgate computed itself, from its own download
(:meth:`mlgate.registry.Registry.artifact_digest`): the PR pins the bytes its plan gates, and
score, serve and monitor later load nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate.config.release import release_path, set_stage
from mlgate.config.workspace import load_model_context, refuse_predictions
from mlgate.exceptions import InvalidInput
from mlgate.git import run_git
from mlgate.github import GitHub
from mlgate.registry import ARTIFACT_DIGEST_TAG, Registry, manifest_of
from mlgate.registry.mlflow import tampered


def version_digest(registry: Registry, model: str, version: int) -> str:
    """The digest of ``model`` v``version``'s files, downloaded now; refused when it is not what registration recorded.

    Pinning bytes that changed since registration would promote files no training run produced.
    """
    known = {v.version: v for v in registry.versions(model)}
    if version not in known:
        raise InvalidInput(
            f"{model} has no version {version} in {registry.uri}",
            hint=f"registered versions: {', '.join(map(str, sorted(known))) or 'none'}",
        )
    found = registry.artifact_digest(model, version)
    recorded = known[version].tags.get(ARTIFACT_DIGEST_TAG)
    if recorded and recorded != found.digest:
        raise tampered(
            f"{model} v{version}",
            recorded,
            found,
            manifest_of(known[version].tags),
            f"its registration ({ARTIFACT_DIGEST_TAG})",
        )
    return found.digest


def pr_text(
    model: str, stage: str, old: int | None, new: int | None, *, rollback: bool = False, digest: str | None = None
) -> tuple[str, str]:
    """Title and body of a pull request moving ``model``'s ``stage`` from ``old`` to ``new``."""
    verb = "Roll back" if rollback else "Promote"
    title = f"{verb} {model} to v{new} in {stage}" if new is not None else f"Empty {stage} of {model}"
    body = "\n".join(
        [
            f"`models/{model}/release.yaml`: **{stage}** v{old or '—'} → **v{new or '—'}**"
            + (f" (files pinned: `{digest}`)." if digest else "."),
            "",
            "The `promote` workflow posts the plan on this pull request: the version must exist and not be",
            "archived, its verdict must pass the gate families the base branch's policy requires for",
            f"{stage} (re-run when stale), the stage order must hold, and the approvals the policy asks",
            "for must be on the head commit. Merging moves the MLflow aliases and writes the audit record.",
            *(["", f"Rollback: v{old} was promoted after v{new}; see `mlgate history {model}`."] if rollback else []),
        ]
    )
    return title, body


def propose(
    root: Path, model: str, version: int, stage: str, *, open_pr: bool = False, base_branch: str = "main"
) -> dict[str, Any]:
    """Edit release.yaml (stage checked against the model's policy); optionally push and open the PR."""
    ctx = load_model_context(root, model)
    refuse_predictions(ctx, "be promoted")
    stages = ctx.policy.policy.promotion.stages
    if stage not in stages:
        raise InvalidInput(
            f"stage '{stage}' is not defined in {ctx.policy.file} (stages: {', '.join(stages) or 'none'})"
        )
    digest = version_digest(Registry(root), model, version)
    previous, _text = set_stage(root, model, stage, version, digest)
    title, body = pr_text(model, stage, previous, version, digest=digest)
    result: dict[str, Any] = {
        "model": model,
        "stage": stage,
        "version": version,
        "previous": previous,
        "digest": digest,
        "release": str(release_path(root, model).relative_to(root)),
        "title": title,
        "body": body,
    }
    if open_pr:
        branch = f"promote/{model}-{stage}-v{version}"
        run_git(root, "switch", "-c", branch)
        run_git(root, "add", result["release"])
        run_git(root, "commit", "-m", title)
        run_git(root, "push", "-u", "origin", branch)

        with GitHub() as github:
            pull = github.create_pull_request(title=title, body=body, head=branch, base=base_branch)
        result |= {"branch": branch, "pr": pull["number"], "pr_url": pull["html_url"]}
    return result


def pin(root: Path, model: str, stage: str | None = None) -> list[dict[str, Any]]:
    """Write the digest of each version release.yaml names without one (``stage``: only that stage).

    For a normal pull request that migrates a legacy ``stage: N`` release: the version stays, its
    files' digest is added; a stage already pinned is left as it is. Returns one row per stage.
    """
    ctx = load_model_context(root, model)
    refuse_predictions(ctx, "be pinned")
    if ctx.release is None:
        raise InvalidInput(f"models/{model}/release.yaml does not exist: nothing to pin")
    if stage is not None and stage not in ctx.release.stages:
        raise InvalidInput(
            f"models/{model}/release.yaml names no stage '{stage}' (stages: {', '.join(ctx.release.stages) or 'none'})"
        )
    registry = Registry(root)
    rows = []
    for name, entry in ctx.release.stages.items():
        if stage is not None and name != stage:
            continue
        if entry is None or entry.digest is not None:
            rows.append(
                {
                    "stage": name,
                    "version": entry.version if entry else None,
                    "digest": entry.digest if entry else None,
                    "pinned": False,
                }
            )
            continue
        digest = version_digest(registry, model, entry.version)
        set_stage(root, model, name, entry.version, digest)
        rows.append({"stage": name, "version": entry.version, "digest": digest, "pinned": True})
    return rows

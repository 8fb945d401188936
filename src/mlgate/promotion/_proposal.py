"""`mlgate propose-promotion` and `mlgate pin`: the release.yaml edit and the pull request that carries it.

Both write the digest of the version's files that mlgate computed itself, from its own download
(:meth:`mlgate.registry.Registry.artifact_digest`): the PR pins the bytes its plan gates, and
score, serve and monitor later load nothing else.

With ``--open-pr`` the edit is made, committed and pushed in a scratch checkout of the base branch
(:func:`mlgate.git.scratch_worktree`): the user's checkout — branch, index, work tree — is left
as it was, whatever fails. A retry finds the pull request already open from the branch and opens
no second one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.config import Workspace, load_model_context, refuse_predictions, release_path, set_stage
from mlgate.exceptions import InvalidInput
from mlgate.registry import ARTIFACT_DIGEST_TAG, Registry, manifest_of, tampered


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


def branch_name(model: str, stage: str, version: int) -> str:
    """The branch a promotion pull request comes from: one per model, stage and version."""
    return f"promote/{model}-{stage}-v{version}"


def base_commit(root: Path, remote: str, base: str) -> str:
    """The commit a proposal starts from: the local ``base`` branch, else ``remote``'s as last fetched."""
    found = git.branch_commit(root, remote, base)
    if found is None:
        raise InvalidInput(
            f"the base branch '{base}' is neither a local branch nor {remote}/{base} in {root}",
            hint=f"git fetch {remote} {base} (or pass --base with the branch the pull request targets)",
        )
    return found


def propose(
    root: Path | Workspace,
    model: str,
    version: int,
    stage: str,
    *,
    open_pr: bool = False,
    base_branch: str = "main",
    remote: str = "origin",
) -> dict[str, Any]:
    """Edit release.yaml (stage checked against the model's policy); optionally push and open the PR.

    Without ``open_pr`` the edit is made in ``root``'s work tree, for the user to commit. With it,
    the edit is made on ``base_branch`` in a scratch checkout, committed there, pushed to
    ``remote`` and proposed; ``root``'s checkout is not touched.
    """
    ws = Workspace.of(root)
    root = ws.root
    ctx = load_model_context(root, model)
    refuse_predictions(ctx, "be promoted")
    stages = ctx.policy.policy.promotion.stages
    if stage not in stages:
        raise InvalidInput(
            f"stage '{stage}' is not defined in {ctx.policy.file} (stages: {', '.join(stages) or 'none'})"
        )
    digest = version_digest(ws.registry, model, version)
    release = release_path(root, model).relative_to(root).as_posix()
    if not open_pr:
        previous, _text = set_stage(root, model, stage, version, digest)
        return _proposal(model, stage, version, previous, digest, release)

    branch = branch_name(model, stage, version)
    github = ws.github
    existing = github.open_pull_requests(branch)
    if existing:  # a retry after the pull request was opened: never a second one
        pull = existing[0]
        result = _proposal(model, stage, version, None, digest, release)
        return result | {"branch": branch, "pr": pull.number, "pr_url": pull.html_url, "action": "exists"}
    start = base_commit(root, remote, base_branch)
    with git.scratch_worktree(root, start) as scratch:
        previous, _text = set_stage(scratch, model, stage, version, digest)
        result = _proposal(model, stage, version, previous, digest, release)
        git.stage(scratch, [release])
        result["commit"] = git.commit(scratch, result["title"])
        # mlgate's own branch, no pull request open from it: an earlier attempt's push is replaced
        git.push_head(scratch, remote, branch, replace=True)
    pull = github.create_pull_request(title=result["title"], body=result["body"], head=branch, base=base_branch)
    return result | {"branch": branch, "pr": pull.number, "pr_url": pull.html_url, "action": "opened"}


def _proposal(model: str, stage: str, version: int, previous: int | None, digest: str, release: str) -> dict[str, Any]:
    title, body = pr_text(model, stage, previous, version, digest=digest)
    return {
        "model": model,
        "stage": stage,
        "version": version,
        "previous": previous,
        "digest": digest,
        "release": release,
        "title": title,
        "body": body,
    }


def pin(root: Path | Workspace, model: str, stage: str | None = None) -> list[dict[str, Any]]:
    """Write the digest of each version release.yaml names without one (``stage``: only that stage).

    For a normal pull request that migrates a legacy ``stage: N`` release: the version stays, its
    files' digest is added; a stage already pinned is left as it is. Returns one row per stage.
    """
    ws = Workspace.of(root)
    root = ws.root
    ctx = load_model_context(root, model)
    refuse_predictions(ctx, "be pinned")
    if ctx.release is None:
        raise InvalidInput(f"models/{model}/release.yaml does not exist: nothing to pin")
    if stage is not None and stage not in ctx.release.stages:
        raise InvalidInput(
            f"models/{model}/release.yaml names no stage '{stage}' (stages: {', '.join(ctx.release.stages) or 'none'})"
        )
    registry = ws.registry
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

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
from mlgate.config import (
    ArmKind,
    ModelContext,
    Workspace,
    load_model_context,
    refuse_predictions,
    release_path,
    set_candidate,
    set_stage,
)
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


def candidate_pr_text(
    model: str, stage: str, kind: ArmKind, version: int, stable: int, traffic: float | None, digest: str
) -> tuple[str, str]:
    """Title and body of a pull request starting a canary (or shadow) of ``version`` beside ``stage``'s ``stable``."""
    if kind == ArmKind.CANARY and traffic is not None:
        title = f"Canary {model} v{version} at {traffic:.0%} beside {stage} v{stable}"
        what = (
            f"answers {traffic:.0%} of the callers (the same callers every time: a hash of the caller's id), "
            f"v{stable} the rest"
        )
        section = f"canary -> {stage}"
    else:
        title = f"Shadow {model} v{version} beside {stage} v{stable}"
        what = f"scores every request beside v{stable} and is audited; callers only ever get v{stable}'s answer"
        section = f"shadow -> {stage}"
    body = "\n".join(
        [
            f"`models/{model}/release.yaml`: **{section}** v{version} (files pinned: `{digest}`),",
            f"beside **{stage}** v{stable}.",
            "",
            f"v{version} {what}. The `promote` workflow posts the plan on this pull request: v{version} must pass",
            f"the gates and approvals the base branch's policy asks for a candidate beside {stage}",
            f"(`promotion.stages.{stage}.canary`, else the stage's own), have been in the stage before {stage},",
            f"and have the pinned files. Merging sets the MLflow alias `{stage}-{kind}` and writes the audit record;",
            f"{stage} itself stays v{stable}. `mlgate monitor {model} --stage {stage} --compare` judges the",
            "candidate; completing it (the stage set to it, the candidate removed) or aborting it (the candidate",
            "removed) is another pull request.",
        ]
    )
    return title, body


def branch_name(model: str, stage: str, version: int, kind: ArmKind = ArmKind.STABLE) -> str:
    """The branch a promotion pull request comes from: one per model, stage (or candidate) and version."""
    verb = "promote" if kind == ArmKind.STABLE else str(kind)
    return f"{verb}/{model}-{stage}-v{version}"


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
    canary: float | None = None,
    shadow: bool = False,
) -> dict[str, Any]:
    """Edit release.yaml (stage checked against the model's policy); optionally push and open the PR.

    Without ``open_pr`` the edit is made in ``root``'s work tree, for the user to commit. With it,
    the edit is made on ``base_branch`` in a scratch checkout, committed there, pushed to
    ``remote`` and proposed; ``root``'s checkout is not touched.

    ``canary`` (a share of the callers, e.g. 0.10) or ``shadow`` write a candidate beside the
    stage instead (``canary: {production: {version, digest, traffic}}``), replacing any candidate
    there; the stage keeps its version.
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
    if canary is not None and shadow:
        raise InvalidInput("a candidate is a canary or a shadow, not both: pass --canary SHARE or --shadow")
    kind = ArmKind.CANARY if canary is not None else ArmKind.SHADOW if shadow else ArmKind.STABLE
    stable = _candidate_allowed(ctx, stage, version, kind, canary) if kind != ArmKind.STABLE else None
    digest = version_digest(ws.registry, model, version)
    release = release_path(root, model).relative_to(root).as_posix()

    def edit(where: Path) -> dict[str, Any]:
        if stable is None:
            previous, _text = set_stage(where, model, stage, version, digest)
            return _proposal(model, stage, version, previous, digest, release)
        before = ctx.release.candidate(stage) if ctx.release else None
        set_candidate(where, model, stage, kind, version, digest, canary)
        previous = before.version if before is not None else None
        return _candidate_proposal(model, stage, kind, version, stable, canary, digest, release, previous)

    if not open_pr:
        return edit(root)

    branch = branch_name(model, stage, version, kind)
    github = ws.github
    existing = github.open_pull_requests(branch)
    if existing:  # a retry after the pull request was opened: never a second one
        pull = existing[0]
        if stable is None:
            result = _proposal(model, stage, version, None, digest, release)
        else:
            result = _candidate_proposal(model, stage, kind, version, stable, canary, digest, release, None)
        return result | {"branch": branch, "pr": pull.number, "pr_url": pull.html_url, "action": "exists"}
    start = base_commit(root, remote, base_branch)
    with git.scratch_worktree(root, start) as scratch:
        result = edit(scratch)
        git.stage(scratch, [release])
        result["commit"] = git.commit(scratch, result["title"])
        # mlgate's own branch, no pull request open from it: an earlier attempt's push is replaced
        git.push_head(scratch, remote, branch, replace=True)
    pull = github.create_pull_request(title=result["title"], body=result["body"], head=branch, base=base_branch)
    return result | {"branch": branch, "pr": pull.number, "pr_url": pull.html_url, "action": "opened"}


def _candidate_allowed(ctx: ModelContext, stage: str, version: int, kind: ArmKind, traffic: float | None) -> int:
    """The stable version a candidate would run beside, once the policy and release.yaml allow it (else exit 2)."""
    requirement = ctx.policy.policy.promotion.stages[stage]
    settings = requirement.canary
    if settings is None:
        raise InvalidInput(
            f"{ctx.policy.file} allows no canary or shadow beside {stage}",
            hint=f"add promotion.stages.{stage}.canary to the policy (a governance change, its own pull request)",
        )
    if traffic is not None and not 0 < traffic < 1:
        raise InvalidInput(f"--canary {traffic:g}: the canary's share of the callers is between 0 and 1, e.g. 0.10")
    if traffic is not None and traffic > settings.max_traffic:
        raise InvalidInput(
            f"--canary {traffic:g} is more than {ctx.policy.file} allows beside {stage} "
            f"(promotion.stages.{stage}.canary.max_traffic: {settings.max_traffic:g})"
        )
    entry = ctx.release.stages.get(stage) if ctx.release else None
    if entry is None:
        raise InvalidInput(
            f"models/{ctx.name}/release.yaml holds no version in {stage}: a {kind} runs beside one",
            hint=f"promote a version first: mlgate propose-promotion {ctx.name} --version N --stage {stage}",
        )
    if entry.version == version:
        raise InvalidInput(f"v{version} already holds {stage}: a {kind} is another version")
    return entry.version


def _candidate_proposal(
    model: str,
    stage: str,
    kind: ArmKind,
    version: int,
    stable: int,
    traffic: float | None,
    digest: str,
    release: str,
    previous: int | None,
) -> dict[str, Any]:
    title, body = candidate_pr_text(model, stage, kind, version, stable, traffic, digest)
    return {
        "model": model,
        "stage": stage,
        "arm": str(kind),
        "traffic": traffic,
        "version": version,
        "previous": previous,  # the candidate it replaces (None: none)
        "stable": stable,
        "digest": digest,
        "release": release,
        "title": title,
        "body": body,
    }


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

"""`mlgate propose-promotion`: the release.yaml edit and the pull request that carries it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate.config.release import release_path, set_stage
from mlgate.config.workspace import load_model_context, refuse_predictions
from mlgate.exceptions import InvalidInput
from mlgate.git import run_git


def pr_text(model: str, stage: str, old: int | None, new: int | None, *, rollback: bool = False) -> tuple[str, str]:
    """Title and body of a pull request moving ``model``'s ``stage`` from ``old`` to ``new``."""
    verb = "Roll back" if rollback else "Promote"
    title = f"{verb} {model} to v{new} in {stage}" if new is not None else f"Empty {stage} of {model}"
    body = "\n".join(
        [
            f"`models/{model}/release.yaml`: **{stage}** v{old or '—'} → **v{new or '—'}**.",
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
    previous, _text = set_stage(root, model, stage, version)
    title, body = pr_text(model, stage, previous, version)
    result: dict[str, Any] = {
        "model": model,
        "stage": stage,
        "version": version,
        "previous": previous,
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
        from mlgate.github import GitHub

        with GitHub() as github:
            pull = github.create_pull_request(title=title, body=body, head=branch, base=base_branch)
        result |= {"branch": branch, "pr": pull["number"], "pr_url": pull["html_url"]}
    return result

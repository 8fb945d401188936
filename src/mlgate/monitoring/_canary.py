"""What a comparison verdict asks for, as pull requests and an issue: never a registry change.

``mlgate monitor --compare --propose`` turns the verdict (``mlgate.compare/1``) into the edit of
``release.yaml`` a person would make, on its own branch, as a pull request a human merges:

- ``promote`` of a canary → "Complete canary: production → v4": ``production: {version: 4, digest}``
  (the canary's pinned digest) and the canary entry removed; of a shadow → "Promote shadow: …";
- ``abort`` → "Abort canary: production stays on v3" (the candidate entry removed), plus one issue
  with the evidence (``--alert``); an open completion pull request of the same candidate is closed
  with a comment (its evidence is contradicted);
- ``hold`` / ``pending`` → nothing.

One pull request per (model, stage, candidate version, action), found by its branch
(``mlgate/canary-<action>-<model>-<stage>-v<N>``) as retraining pull requests are: a re-run updates
the open one's body with the new comparison (``updated``; ``unchanged`` when the body is the same),
never opens a second. The issue is found by a hidden marker (as monitoring alerts are) and its body
rewritten when the evidence changes. Merging goes through the normal promotion path: the promote
workflow plans and gates the change, ``mlgate promote --apply`` moves the aliases on the merge.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from mlgate import git
from mlgate.config import Workspace, release_at, release_path, remove_candidate, set_stage
from mlgate.exceptions import InvalidInput
from mlgate.github import GitHub
from mlgate.report import compare_table, render_compare_markdown

Progress = Callable[[str], None]

BRANCH_PREFIX = "mlgate/canary-"
LABELS = ("mlgate", "canary")
MAX_BODY = 65_000


class CanaryAction(StrEnum):
    """What was done about a pull request or the issue."""

    NONE = "none"  # the verdict asks for nothing (hold, pending)
    OPENED = "opened"
    UPDATED = "updated"  # an open one got the new comparison
    UNCHANGED = "unchanged"  # an open one already says it
    CLOSED = "closed"  # a contradicted completion pull request
    GONE = "gone"  # release.yaml on the base no longer has this candidate: nothing to change


@dataclass(frozen=True)
class CanaryChange:
    """One pull request or issue: what was done, its number and address, the branch (a pull request's)."""

    kind: str  # complete | abort | issue | close
    action: CanaryAction
    number: int | None = None
    url: str | None = None
    branch: str | None = None
    title: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """``{"kind", "action", "number", "url", "branch", "title"}``."""
        return {
            "kind": self.kind,
            "action": str(self.action),
            "number": self.number,
            "url": self.url,
            "branch": self.branch,
            "title": self.title,
        }


def branch_name(action: str, model: str, stage: str, version: int) -> str:
    """The branch of a candidate's completion (``complete``) or abort (``abort``) pull request."""
    return f"{BRANCH_PREFIX}{action}-{model}-{stage}-v{int(version)}"


def issue_marker(model: str, stage: str, version: int) -> str:
    """The hidden marker of the one abort issue of ``model``'s candidate ``version`` in ``stage``."""
    return f"<!-- mlgate:canary-abort model={model} stage={stage} version={int(version)} -->"


def _pr_marker(action: str, model: str, stage: str, version: int) -> str:
    return f"<!-- mlgate:canary-{action} model={model} stage={stage} version={int(version)} -->"


def pr_title(verdict: dict[str, Any], action: str) -> str:
    """``Complete canary: production → v4``, ``Promote shadow: …``, ``Abort canary: production stays on v3``."""
    kind, stage = verdict["kind"], verdict["stage"]
    candidate, stable = verdict["candidate"]["version"], verdict["stable"]["version"]
    if action == "complete":
        verb = "Complete canary" if kind == "canary" else "Promote shadow"
        return f"{verb}: {stage} → v{candidate}"
    return f"Abort {kind}: {stage} stays on v{stable} (v{candidate} removed)"


def pr_body(verdict: dict[str, Any], action: str) -> str:
    """The pull request's text: what changes, the comparison table, who merges and what the merge does."""
    model, stage, kind = verdict["model"], verdict["stage"], verdict["kind"]
    candidate, stable = verdict["candidate"], verdict["stable"]
    rel = f"models/{model}/release.yaml"
    if action == "complete":
        change = (
            f"`{rel}`: **{stage}** v{stable['version']} → **v{candidate['version']}** (files pinned: "
            f"`{candidate.get('digest')}`, the {kind}'s), and the `{kind}` entry of {stage} removed."
        )
        why = f"`mlgate monitor --compare` says **promote**: the {kind} holds against the stable version."
    else:
        change = (
            f"`{rel}`: the `{kind}` entry of **{stage}** (v{candidate['version']}) removed; "
            f"{stage} stays on v{stable['version']}."
        )
        why = f"`mlgate monitor --compare` says **abort**: the {kind} does significant harm against the stable version."
    lines = [
        change,
        "",
        why,
        "",
        *(f"- {r}" for r in verdict.get("reasons") or []),
        "",
        compare_table(verdict),
        "",
        (
            f"Window {verdict['window']['from']} → {verdict['window']['to']}; comparison run "
            f"`{verdict.get('compare_run_id') or 'not recorded'}`, evaluated {verdict['evaluated_at']}."
        ),
    ]
    server, repo, run = (os.environ.get(f"GITHUB_{k}", "") for k in ("SERVER_URL", "REPOSITORY", "RUN_ID"))
    if server and repo and run:
        lines.append(f"Found by workflow run {server}/{repo}/actions/runs/{run}.")
    lines += [
        "",
        "## What happens next",
        "",
        "**A human must review and merge this pull request: mlgate never merges it.** The merge goes through",
        "the normal promotion path: the promote workflow posts the plan here (the version must pass the gate",
        f"families and approvals the base branch's policy requires for {stage}), and `mlgate promote --apply`",
        "on the merge moves the MLflow aliases and writes the audit record.",
        "",
        "mlgate keeps one pull request per candidate and outcome: later comparisons update this text.",
        "",
        _pr_marker(action, model, stage, int(candidate["version"])),
    ]
    return "\n".join(lines)[:MAX_BODY]


def act(
    ws: Workspace,
    verdict: dict[str, Any],
    *,
    propose: bool,
    alert: bool,
    base: str = "main",
    remote: str = "origin",
    progress: Progress = lambda _m: None,
) -> list[CanaryChange]:
    """The pull requests (``propose``) and the issue (``alert``) the verdict's state asks for."""
    state = verdict["state"]
    if state not in ("promote", "abort") or not (propose or alert):
        return []
    github = ws.github
    changes: list[CanaryChange] = []
    action = "complete" if state == "promote" else "abort"
    if propose:
        changes.append(_pull_request(ws.root, github, verdict, action, base=base, remote=remote, progress=progress))
        if action == "abort":
            changes += _close_completion(github, verdict, progress)
    if alert and action == "abort":
        changes.append(_issue(github, verdict))
    return changes


def _pull_request(
    root: Path, github: GitHub, verdict: dict[str, Any], action: str, *, base: str, remote: str, progress: Progress
) -> CanaryChange:
    model, stage = verdict["model"], verdict["stage"]
    candidate = verdict["candidate"]
    version = int(candidate["version"])
    branch = branch_name(action, model, stage, version)
    title, body = pr_title(verdict, action), pr_body(verdict, action)
    existing = github.open_pull_requests(branch)
    if existing:
        pull = existing[0]
        if pull.body == body and pull.title == title:
            return CanaryChange(action, CanaryAction.UNCHANGED, pull.number, pull.html_url or None, branch, title)
        progress(f"{model}@{stage}: updating pull request #{pull.number} with the new comparison")
        github.update_pull_request(pull.number, title=title, body=body)
        return CanaryChange(action, CanaryAction.UPDATED, pull.number, pull.html_url or None, branch, title)
    start = git.branch_commit(root, remote, base)
    if start is None:
        raise InvalidInput(
            f"the base branch '{base}' is neither a local branch nor {remote}/{base} in {root}",
            hint=f"git fetch {remote} {base} (or pass --base with the branch the pull request targets)",
        )
    rel = release_path(root, model).relative_to(root).as_posix()
    with git.scratch_worktree(root, start) as scratch:
        release = release_at(scratch, model, "HEAD")
        found = release.candidate(stage) if release is not None else None
        if found is None or found.version != version or str(found.kind) != verdict["kind"]:
            progress(f"{model}@{stage}: {base} no longer has {verdict['kind']} v{version}; nothing to propose")
            return CanaryChange(action, CanaryAction.GONE, branch=branch, title=title)
        remove_candidate(scratch, model, stage)  # first: release.yaml never holds one version twice in a stage
        if action == "complete":
            set_stage(scratch, model, stage, version, found.digest)
        git.stage(scratch, [rel])
        git.commit(scratch, title)
        progress(f"pushing {branch} to {remote}")
        git.push_head(scratch, remote, branch, replace=True)  # mlgate's own branch, no pull request open from it
    pull = github.create_pull_request(title=title, body=body, head=branch, base=base)
    progress(f"{model}@{stage}: opened pull request #{pull.number}: {title}")
    return CanaryChange(action, CanaryAction.OPENED, pull.number, pull.html_url or None, branch, title)


def _close_completion(github: GitHub, verdict: dict[str, Any], progress: Progress) -> list[CanaryChange]:
    """An open completion pull request of the aborted candidate is closed: its evidence no longer holds."""
    model, stage, version = verdict["model"], verdict["stage"], int(verdict["candidate"]["version"])
    branch = branch_name("complete", model, stage, version)
    out = []
    for pull in github.open_pull_requests(branch):
        progress(f"{model}@{stage}: closing completion pull request #{pull.number} (the comparison now says abort)")
        github.comment_on_issue(
            pull.number,
            "Closed by mlgate: a later comparison says **abort** for this candidate.\n\n" + compare_table(verdict),
            marker=f"<!-- mlgate:canary-closed model={model} stage={stage} version={version} -->",
        )
        github.update_pull_request(pull.number, state="closed")
        out.append(CanaryChange("close", CanaryAction.CLOSED, pull.number, pull.html_url or None, branch))
    return out


def _issue(github: GitHub, verdict: dict[str, Any]) -> CanaryChange:
    """The one issue with the abort's evidence: opened, or its body rewritten when the evidence changed."""
    model, stage, kind = verdict["model"], verdict["stage"], verdict["kind"]
    version = int(verdict["candidate"]["version"])
    marker = issue_marker(model, stage, version)
    failed = [c for c in verdict.get("checks") or [] if c.get("status") == "fail"]
    headline = failed[0]["name"] if failed else "significant harm"
    title = f"{model}@{stage}: {kind} v{version} aborted — {headline}" + (
        f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
    )
    body = "\n".join(
        [
            (
                f"`mlgate monitor --compare` found that the {kind} v{version} of **{model}** in **{stage}** does "
                f"significant harm against the stable v{verdict['stable']['version']}. The pull request removing it "
                "is opened beside this issue; merging it is a human's call."
            ),
            "",
            render_compare_markdown(verdict),
            "",
            (
                "_mlgate keeps this issue: later comparisons of the same candidate rewrite this text; "
                "discuss in the comments._"
            ),
            "",
            marker,
        ]
    )[:MAX_BODY]
    found = github.find_issue(marker, state="open", labels=(LABELS[0],))
    if found is None:
        created = github.create_issue(
            title,
            body,
            labels=[*LABELS, "blocking"],
            assignees=[],
            lookup=lambda: github.find_issue(marker, state="open", labels=(LABELS[0],)),
        )
        return CanaryChange("issue", CanaryAction.OPENED, created.number, created.html_url or None, title=title)
    if _evidence(found.body) == _evidence(body) and found.title == title:
        return CanaryChange("issue", CanaryAction.UNCHANGED, found.number, found.html_url or None, title=title)
    github.update_issue(found.number, title=title, body=body)
    return CanaryChange("issue", CanaryAction.UPDATED, found.number, found.html_url or None, title=title)


def _evidence(body: str | None) -> str:
    """The part of an issue body whose change is news: the table rows (the window moves on every run)."""
    return "\n".join(line for line in (body or "").splitlines() if line.startswith("| `"))

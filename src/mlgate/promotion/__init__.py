"""Merge to promote: release.yaml is desired state, the registry follows it.

``plan`` checks and applies promotions, ``proposal`` writes the release.yaml edit and its pull
request, ``comment`` posts the plan on the pull request, ``hooks`` tells deploy tooling what changed
(outputs, repository_dispatch, GTO tags), ``readiness`` checks what must be in place before a stage;
``check`` holds what plan, readiness and comment share (a precondition, how a version is shown).
"""

from mlgate.promotion.check import Check, version_label
from mlgate.promotion.hooks import EVENT_TYPE, HookFailed, Hooks
from mlgate.promotion.plan import (
    ApplyResult,
    Change,
    ChangeOutcome,
    Plan,
    Promotion,
    PullRequest,
    StatusRow,
    SyncState,
    apply,
    fetch_pull_request,
    history,
    make_plan,
    pr_from_commit_message,
    promote,
    rollback,
    rollback_target,
    status,
)

__all__ = [
    "EVENT_TYPE",
    "ApplyResult",
    "Change",
    "ChangeOutcome",
    "Check",
    "HookFailed",
    "Hooks",
    "Plan",
    "Promotion",
    "PullRequest",
    "StatusRow",
    "SyncState",
    "apply",
    "fetch_pull_request",
    "history",
    "make_plan",
    "pr_from_commit_message",
    "promote",
    "rollback",
    "rollback_target",
    "status",
    "version_label",
]

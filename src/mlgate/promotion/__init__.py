"""Merge to promote: release.yaml is desired state, the registry follows it.

``plan`` checks and applies promotions, ``proposal`` writes the release.yaml edit and its pull
request, ``comment`` posts the plan on the pull request.
"""

from mlgate.promotion.plan import (
    ApplyResult,
    Change,
    Check,
    Plan,
    Promotion,
    PullRequest,
    apply,
    fetch_pull_request,
    history,
    make_plan,
    pr_from_commit_message,
    promote,
    rollback,
    rollback_target,
    status,
    version_label,
)

__all__ = [
    "ApplyResult",
    "Change",
    "Check",
    "Plan",
    "Promotion",
    "PullRequest",
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

"""Merge to promote: release.yaml is desired state, the registry follows it.

``plan`` checks and applies promotions, ``proposal`` writes the release.yaml edit and its pull
request, ``comment`` posts the plan on the pull request, ``hooks`` tells deploy tooling what changed
(outputs, repository_dispatch, GTO tags), ``readiness`` checks what must be in place before a stage;
``check`` holds what plan, readiness and comment share (a precondition, how a version is shown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.promotion import _readiness as readiness
    from mlgate.promotion._check import Check, version_label
    from mlgate.promotion._comment import publish
    from mlgate.promotion._gto import GtoArtifact, GtoView, StageAssignment, gto_view
    from mlgate.promotion._hooks import EVENT_TYPE, HookFailed, Hooks, change_output
    from mlgate.promotion._plan import (
        ApplyResult,
        Change,
        ChangeOutcome,
        Plan,
        Promotion,
        PullRequest,
        StatusFacts,
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
        status_facts,
    )
    from mlgate.promotion._proposal import pin, propose, version_digest


__all__ = [
    "EVENT_TYPE",
    "ApplyResult",
    "Change",
    "ChangeOutcome",
    "Check",
    "GtoArtifact",
    "GtoView",
    "HookFailed",
    "Hooks",
    "Plan",
    "Promotion",
    "PullRequest",
    "StageAssignment",
    "StatusFacts",
    "StatusRow",
    "SyncState",
    "apply",
    "change_output",
    "fetch_pull_request",
    "gto_view",
    "history",
    "make_plan",
    "pin",
    "pr_from_commit_message",
    "promote",
    "propose",
    "publish",
    "readiness",
    "rollback",
    "rollback_target",
    "status",
    "status_facts",
    "version_digest",
    "version_label",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "ApplyResult": "_plan:ApplyResult",
    "Change": "_plan:Change",
    "ChangeOutcome": "_plan:ChangeOutcome",
    "Check": "_check:Check",
    "GtoArtifact": "_gto:GtoArtifact",
    "GtoView": "_gto:GtoView",
    "StageAssignment": "_gto:StageAssignment",
    "gto_view": "_gto:gto_view",
    "EVENT_TYPE": "_hooks:EVENT_TYPE",
    "HookFailed": "_hooks:HookFailed",
    "Hooks": "_hooks:Hooks",
    "Plan": "_plan:Plan",
    "Promotion": "_plan:Promotion",
    "PullRequest": "_plan:PullRequest",
    "StatusFacts": "_plan:StatusFacts",
    "StatusRow": "_plan:StatusRow",
    "SyncState": "_plan:SyncState",
    "apply": "_plan:apply",
    "change_output": "_hooks:change_output",
    "fetch_pull_request": "_plan:fetch_pull_request",
    "history": "_plan:history",
    "make_plan": "_plan:make_plan",
    "pin": "_proposal:pin",
    "pr_from_commit_message": "_plan:pr_from_commit_message",
    "promote": "_plan:promote",
    "propose": "_proposal:propose",
    "publish": "_comment:publish",
    "readiness": "_readiness",
    "rollback": "_plan:rollback",
    "rollback_target": "_plan:rollback_target",
    "status": "_plan:status",
    "status_facts": "_plan:status_facts",
    "version_digest": "_proposal:version_digest",
    "version_label": "_check:version_label",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)

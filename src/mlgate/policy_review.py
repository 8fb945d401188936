"""The "policy change" check: a PR that edits ``policies/`` is not green until someone reviews it.

Gates on a PR always judge with the base branch's policies, so a loosened rule cannot let its
own PR through. The change itself still needs a human: this check fails while the PR changes
``policies/`` and no collaborator other than the author has approved its head commit, and
passes once one has. The ``policy-review`` workflow re-runs it when a review is submitted or
dismissed, so the check turns green without retraining anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.affected import changed_files
from mlgate.approvals import ApprovalCount, count_approvals

CHECK_NAME = "mlgate / policy change"
# Reviews from people without write access show on the PR but never count (as on github.com).
WRITE_ACCESS = {"OWNER", "MEMBER", "COLLABORATOR"}


@dataclass
class PolicyReview:
    changed: list[str]
    conclusion: str  # success | failure
    title: str
    approvals: ApprovalCount = field(default_factory=ApprovalCount)
    check_run_url: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed, "conclusion": self.conclusion, "title": self.title,
            **self.approvals.as_dict(), "check_run_url": self.check_run_url,
        }


def _write_access(review: dict[str, Any]) -> str | None:
    association = review.get("author_association", "NONE")
    return None if association in WRITE_ACCESS else f"has no write access ({association.lower()})"


def judge(changed: list[str], reviews: list[dict[str, Any]], author: str, head_sha: str) -> PolicyReview:
    """The check's outcome from the changed files and the PR's reviews."""
    if not changed:
        return PolicyReview([], "success", "no policy change")
    approvals = count_approvals(reviews, author=author, head_sha=head_sha, allowed=_write_access)
    files = ", ".join(changed)
    if approvals.approvers:
        return PolicyReview(changed, "success", f"policy change approved by {', '.join(approvals.approvers)}: {files}", approvals)
    return PolicyReview(
        changed, "failure",
        f"policy change needs an approving review of {head_sha[:12]} by a collaborator other than {author}: {files}",
        approvals,
    )


def summary(result: PolicyReview) -> str:
    lines = [f"**{result.title}**", ""]
    if result.changed:
        lines += ["Gates on this PR judge with the base branch's policies; the change itself needs a review.", ""]
        lines += [f"- `{name}`" for name in result.changed]
    for login, reason in sorted(result.approvals.ignored.items()):
        lines.append(f"- review by @{login} does not count: {reason}")
    return "\n".join(lines) + "\n"


def review_policy_change(root: Path, base: str, head: str, pr: int, *, post: bool = True) -> PolicyReview:
    """Judge the PR's policy change from GitHub's reviews; create the check run on ``head``."""
    from mlgate.github import GitHub

    changed = [name for name in changed_files(root, base, head) if name.startswith("policies/")]
    with GitHub() as github:
        author = github.pull_request(pr)["user"]["login"]
        reviews = github.pull_request_reviews(pr) if changed else []
        result = judge(changed, reviews, author, head)
        if post:
            run = github.create_or_update_check_run(
                name=CHECK_NAME, head_sha=head, conclusion=result.conclusion,
                title=result.title[:255], summary=summary(result), annotations=[],
            )
            result.check_run_url = str(run.get("url") or "")
    return result

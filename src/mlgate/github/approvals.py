"""Which reviews of a pull request count as approvals.

GitHub's own rules, made explicit so a promotion or a policy change can rely on them:
- only a reviewer's latest *state-changing* review counts (APPROVED, CHANGES_REQUESTED or
  DISMISSED; a later COMMENTED review leaves an approval standing, as on github.com);
- a dismissed approval does not count; an approval superseded by "changes requested" does not;
- the PR author's own approval never counts (GitHub forbids it, but a bypass must not slip in);
- with ``head_sha``, an approval given on an older commit of the PR does not count
  (the policy's ``dismiss_stale_approvals``);
- with ``allowed``, only reviews it accepts count (the stage's approvers; write access):
  :func:`named_approvers` builds one from a list of users and teams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

STATE_CHANGING = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


@dataclass
class ApprovalCount:
    """Who approved, and every reviewer whose review did not count, with the reason."""

    approvers: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Approvers and ignored reviewers, as the governance check's JSON lists them."""
        return {"approvers": self.approvers, "ignored": self.ignored}


def latest_reviews(reviews: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Reviewer login → their latest state-changing review (the API lists reviews oldest first)."""
    latest: dict[str, dict[str, Any]] = {}
    ordered = sorted(enumerate(reviews), key=lambda item: (item[1].get("submitted_at") or "", item[0]))
    for _, review in ordered:
        login = (review.get("user") or {}).get("login")
        if login and str(review.get("state", "")).upper() in STATE_CHANGING:
            latest[login] = review
    return latest


def count_approvals(
    reviews: Iterable[dict[str, Any]],
    *,
    author: str,
    head_sha: str | None = None,
    allowed: Callable[[dict[str, Any]], str | None] | None = None,
) -> ApprovalCount:
    """The approvals that count, per the rules in this module's docstring.

    ``allowed(review)`` returns None to accept the review, or the reason it does not count.
    """
    result = ApprovalCount()
    for login, review in sorted(latest_reviews(reviews).items()):
        state = str(review.get("state", "")).upper()
        if state != "APPROVED":
            result.ignored[login] = f"latest review is {state.lower().replace('_', ' ')}"
        elif login.lower() == author.lower():
            result.ignored[login] = "the pull request's author cannot approve it"
        elif head_sha and review.get("commit_id") != head_sha:
            result.ignored[login] = f"approved an older commit ({str(review.get('commit_id'))[:12]}), not the head"
        elif allowed is not None and (refused := allowed(review)):
            result.ignored[login] = refused
        else:
            result.approvers.append(login)
    return result


# Reviews from people without write access show on a PR but never count (as on github.com).
WRITE_ACCESS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})


def write_access(review: dict[str, Any]) -> str | None:
    """``allowed`` for :func:`count_approvals`: the reviewer has write access to the repository."""
    association = str(review.get("author_association") or "NONE")
    return None if association in WRITE_ACCESS else f"has no write access ({association.lower()})"


def named_approvers(
    users: Iterable[str],
    teams: Iterable[str] = (),
    in_team: Callable[[str, str], str | None] | None = None,
) -> Callable[[dict[str, Any]], str | None]:
    """``allowed`` for :func:`count_approvals`: the reviewer is a named approver.

    Named: one of ``users`` (any case) or, with ``in_team``, a member of one of ``teams`` (``org/slug``).
    ``in_team(team, login)`` returns None for an active member, else why not (not a member, a
    pending invitation, or the membership could not be read).
    """
    allowed_users = {u.lower() for u in users}
    team_list = list(teams)

    def allowed(review: dict[str, Any]) -> str | None:
        login = str((review.get("user") or {}).get("login") or "")
        if login.lower() in allowed_users:
            return None
        reasons = []
        for team in team_list:
            if in_team is None:
                reasons.append(f"team {team} not checked")
                continue
            refused = in_team(team, login)
            if refused is None:
                return None
            reasons.append(refused)
        return "not a named approver" + (f" ({'; '.join(reasons)})" if reasons else "")

    return allowed

"""Which reviews of a pull request count as approvals.

GitHub's own rules, made explicit so a promotion or a policy change can rely on them:
- only a reviewer's latest *state-changing* review counts (APPROVED, CHANGES_REQUESTED or
  DISMISSED; a later COMMENTED review leaves an approval standing, as on github.com);
- a dismissed approval does not count; an approval superseded by "changes requested" does not;
- the PR author's own approval never counts (GitHub forbids it, but a bypass must not slip in);
- with ``head_sha``, an approval given on an older commit of the PR does not count
  (the policy's ``dismiss_stale_approvals``);
- with ``allowed``, only reviews it accepts count: :func:`writers` (any account with write
  access) or :func:`named_approvers` (one of the named users or teams, *and* write access) —
  the one rule both promotion and governance use.

Write access is what GitHub answers now, not what a review says: ``author_association`` (OWNER,
MEMBER, COLLABORATOR) is only a cheap first filter, since an organisation member may have read
access only. The reviewer's permission is read from ``GET /repos/{owner}/{repo}/collaborators/
{username}/permission`` (``admin`` or ``write``: GitHub maps maintain to write), and the account
it answers for must have the review's user id: a login that was renamed and taken by someone else
does not inherit the old account's standing. Each counted approval records the user id and the
review id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlgate.github._objects import Review
from mlgate.outcome import Failed

STATE_CHANGING = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


Allowed = Callable[[Review], str | None]
"""``allowed(review)``: None to accept the review, or the reason it does not count."""


@dataclass(frozen=True)
class Approval:
    """One approval that counts: who (login and the account's id) and which review."""

    login: str
    user_id: int | None
    review_id: int | None

    def as_dict(self) -> dict[str, Any]:
        """The approval as the plan and the governance check record it."""
        return {"login": self.login, "user_id": self.user_id, "review_id": self.review_id}


@dataclass
class ApprovalCount:
    """Who approved, and every reviewer whose review did not count, with the reason."""

    approvers: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)
    approvals: list[Approval] = field(default_factory=list)  # the approvers' accounts and reviews, in order

    def as_dict(self) -> dict[str, Any]:
        """Approvers (with their user and review ids) and ignored reviewers, as the JSON lists them."""
        return {
            "approvers": self.approvers,
            "approvals": [a.as_dict() for a in self.approvals],
            "ignored": self.ignored,
        }


def latest_reviews(reviews: Iterable[Review]) -> dict[str, Review]:
    """Reviewer login → their latest state-changing review (the API lists reviews oldest first)."""
    latest: dict[str, Review] = {}
    ordered = sorted(enumerate(reviews), key=lambda item: (item[1].submitted_at or "", item[0]))
    for _, review in ordered:
        # a deleted account's review (user null) names nobody who could count
        if review.user is not None and review.state.upper() in STATE_CHANGING:
            latest[review.user.login] = review
    return latest


def count_approvals(
    reviews: Iterable[Review],
    *,
    author: str,
    head_sha: str | None = None,
    allowed: Allowed | None = None,
) -> ApprovalCount:
    """The approvals that count, per the rules in this module's docstring.

    ``allowed(review)`` returns None to accept the review, or the reason it does not count.
    """
    result = ApprovalCount()
    for login, review in sorted(latest_reviews(reviews).items()):
        state = review.state.upper()
        if state != "APPROVED":
            result.ignored[login] = f"latest review is {state.lower().replace('_', ' ')}"
        elif login.lower() == author.lower():
            result.ignored[login] = "the pull request's author cannot approve it"
        elif head_sha and review.commit_id != head_sha:
            result.ignored[login] = f"approved an older commit ({str(review.commit_id)[:12]}), not the head"
        elif allowed is not None and (refused := allowed(review)):
            result.ignored[login] = refused
        else:
            result.approvers.append(login)
            result.approvals.append(Approval(login, review.user.id if review.user else None, review.id))
    return result


# Reviews from people without write access show on a PR but never count (as on github.com). An
# association outside these means no write access for sure; one inside them still needs GitHub's answer.
WRITE_ACCESS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
# GitHub's legacy base roles that can push (maintain is answered as write, triage as read).
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})


@dataclass(frozen=True)
class Access:
    """A login's access to the repository, as GitHub answers it now."""

    permission: str  # admin | write | read | none
    user_id: int | None  # the account the login names today
    role: str = ""  # role_name: maintain, triage or a custom role


class People(Protocol):
    """What GitHub says about people: repository access and team membership."""

    def access(self, login: str) -> Access | Failed:
        """The login's access, or why it could not be read."""
        ...

    def in_team(self, team: str, login: str) -> str | None:
        """None for an active member of ``team`` (``org/slug``), else why not."""
        ...


def writers(people: People | None) -> Allowed:
    """``allowed`` for :func:`count_approvals`: the reviewer has write, maintain or admin access.

    ``author_association`` first (no request for a reviewer it rules out); then GitHub's answer
    for the login, whose account must be the review's (same user id). Without ``people`` nobody
    passes: access that cannot be checked is not assumed.
    """

    def allowed(review: Review) -> str | None:
        association = review.author_association or "NONE"
        if association not in WRITE_ACCESS:
            return f"has no write access ({association.lower()})"
        login = review.user.login if review.user else ""
        user_id = review.user.id if review.user else None
        if people is None:
            return "write access not checked (GitHub not read)"
        access = people.access(login)
        if isinstance(access, Failed):
            return f"write access could not be read: {access.reason}"
        if user_id is None or access.user_id != user_id:
            return (
                f"the login {login} names another account now (the review's user id {user_id}, "
                f"GitHub's for the login {access.user_id})"
            )
        if access.permission not in WRITE_PERMISSIONS:
            return f"has no write access ({access.role or access.permission})"
        return None

    return allowed


def named_approvers(
    users: Iterable[Any],
    teams: Iterable[str] = (),
    people: People | None = None,
    *,
    role: str = "a named approver",
) -> Allowed:
    """``allowed`` for :func:`count_approvals`: a named approver who has write access.

    Named: one of ``users`` (logins, any case; an entry with ``login`` and ``id`` — the policy's
    pinned form — must also be that account) or an active member of one of ``teams``
    (``org/slug``, read with ``people``). Then :func:`writers`: being named in a policy never
    stands in for access to the repository. ``role`` words the refusal ("not {role}").
    """
    # login -> the account id the policy pins it to (None: the login alone names the approver)
    allowed_users: dict[str, int | None] = {}
    for user in users:
        login = user if isinstance(user, str) else str(user.login)
        allowed_users[login.lower()] = None if isinstance(user, str) else int(user.id)
    team_list = list(teams)
    has_write = writers(people)

    def named(login: str, user_id: int | None) -> str | None:
        if login.lower() in allowed_users:
            pinned = allowed_users[login.lower()]
            if pinned is None or pinned == user_id:
                return None
            return f"not {role}: the policy names {login} as account id {pinned}, the reviewer's id is {user_id}"
        reasons = []
        for team in team_list:
            if people is None:
                reasons.append(f"team {team} not checked")
                continue
            refused = people.in_team(team, login)
            if refused is None:
                return None
            reasons.append(refused)
        return f"not {role}" + (f" ({'; '.join(reasons)})" if reasons else "")

    def allowed(review: Review) -> str | None:
        user = review.user
        return named(user.login if user else "", user.id if user else None) or has_write(review)

    return allowed

"""Who may approve, as GitHub answers it: repository access and team membership (cached per run).

Both the promotion plan and the governance check count approvals with
:func:`mlgate.github._approvals.named_approvers` over this. A token in ``MLGATE_ORG_TOKEN`` (one
that can read the organisation's teams: a GitHub App token with ``members: read``) is used for
team memberships; without it, ``GITHUB_TOKEN`` is (which cannot read teams on github.com).
"""

from __future__ import annotations

from mlgate.exceptions import InvalidInput
from mlgate.github._approvals import Access
from mlgate.github._client import GitHub
from mlgate.outcome import Failed


class GitHubPeople:
    """:class:`~mlgate.github._approvals.People` over GitHub's REST API, each answer read once.

    Requests go through the open clients given: ``github`` for repository access, ``teams`` (default:
    ``github``) for team memberships; the command's :class:`~mlgate.config.Workspace`
    opens them (``GITHUB_TOKEN``; ``MLGATE_ORG_TOKEN`` for teams when set).
    An outage is raised (exit 3); a refusal (403, 404) is an answer: the review does not count.
    """

    def __init__(self, github: GitHub, teams: GitHub | None = None) -> None:
        """People of the repository ``github`` serves; ``teams`` reads memberships (default: ``github``)."""
        self._github = github
        self._teams = teams if teams is not None else github
        self._access: dict[str, Access | Failed] = {}
        self._membership: dict[tuple[str, str], str | None] = {}

    def access(self, login: str) -> Access | Failed:
        """``login``'s access to the repository now, or why it could not be read."""
        key = login.lower()
        if key not in self._access:
            try:
                answer = self._github.collaborator_permission(login)
            except InvalidInput as err:  # a 403 (the token may not read it) or a login GitHub refuses
                self._access[key] = Failed(err.message)
            else:
                if answer is None:
                    self._access[key] = Access("none", None)
                else:
                    self._access[key] = Access(
                        answer.permission, answer.user.id if answer.user else None, answer.role_name
                    )
        return self._access[key]

    def in_team(self, team: str, login: str) -> str | None:
        """None for an active member of ``team`` (``org/slug``), else why not."""
        key = (team.lower(), login.lower())
        if key not in self._membership:
            org, _, slug = team.partition("/")
            try:
                membership = self._teams.team_membership(org, slug, login)
            except InvalidInput as err:
                self._membership[key] = f"membership of team {team} could not be read: {err.message}"
            else:
                state = membership.state if membership is not None else None
                self._membership[key] = (
                    None
                    if state == "active"
                    else (
                        f"not a member of team {team}"
                        if membership is None
                        else f"membership of team {team} is {state}"
                    )
                )
        return self._membership[key]

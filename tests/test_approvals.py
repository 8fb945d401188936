"""Which reviews count as approvals (mlgate.github.approvals), on the captured review shape."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest

from conftest import PROJECT, github_stand_in
from mlgate.config import Settings, Workspace
from mlgate.github import GitHub, GitHubPeople, GitHubUnavailable, Review, count_approvals, named_approvers, writers
from mlgate_devkit.github_stand_in import FakeGitHub

TEMPLATE = json.loads(
    (
        PROJECT
        / "devkit/mlgate_devkit/github_stand_in/rest-responses/github-owners-bot__reviews__reviews.35.approved.json"
    ).read_text()
)[0]
HEAD, OLD = "a" * 40, "b" * 40


def people_of_env() -> GitHubPeople:
    """People as a command reads them: the workspace's clients (GITHUB_TOKEN; MLGATE_ORG_TOKEN for teams)."""
    ws = Workspace(settings=Settings.from_env())
    return GitHubPeople(ws.github, ws.teams)


def review(login: str, state: str, at: str, commit: str = HEAD, association: str = "MEMBER") -> Review:
    r = copy.deepcopy(TEMPLATE)
    r["user"]["login"], r["state"], r["submitted_at"] = login, state, at
    r["commit_id"], r["author_association"] = commit, association
    return Review.parse(r)


def test_latest_state_changing_review_per_reviewer_counts() -> None:
    reviews = [
        review("ana", "APPROVED", "2026-01-01T10:00:00Z"),
        review("ana", "COMMENTED", "2026-01-01T11:00:00Z"),  # a comment leaves the approval standing
        review("bo", "APPROVED", "2026-01-01T10:00:00Z"),
        review("bo", "CHANGES_REQUESTED", "2026-01-01T12:00:00Z"),  # superseded
        review("cy", "CHANGES_REQUESTED", "2026-01-01T10:00:00Z"),
        review("cy", "APPROVED", "2026-01-01T12:00:00Z"),  # changed their mind
        review("di", "DISMISSED", "2026-01-01T12:00:00Z"),
    ]
    result = count_approvals(reviews, author="eve")
    assert result.approvers == ["ana", "cy"]
    assert result.ignored == {"bo": "latest review is changes requested", "di": "latest review is dismissed"}


def test_order_comes_from_submitted_at_not_list_position() -> None:
    reviews = [
        review("bo", "CHANGES_REQUESTED", "2026-01-02T00:00:00Z"),
        review("bo", "APPROVED", "2026-01-01T00:00:00Z"),
    ]
    assert count_approvals(reviews, author="eve").approvers == []


def test_author_approval_never_counts() -> None:
    result = count_approvals([review("Eve", "APPROVED", "2026-01-01T10:00:00Z")], author="eve")
    assert result.approvers == []
    assert "author" in result.ignored["Eve"]


@pytest.mark.parametrize(("head", "expected"), [(HEAD, ["ana"]), (None, ["ana", "bo"])])
def test_stale_approvals_count_only_without_head(head: str | None, expected: list[str]) -> None:
    reviews = [review("ana", "APPROVED", "2026-01-01T10:00:00Z"), review("bo", "APPROVED", "2026-01-01T10:00:00Z", OLD)]
    result = count_approvals(reviews, author="eve", head_sha=head)
    assert result.approvers == expected
    if head:
        assert result.ignored["bo"].startswith("approved an older commit (bbbbbbbbbbbb)")


def test_allowed_filters_with_a_reason() -> None:
    reviews = [review("ana", "APPROVED", "2026-01-01T10:00:00Z"), review("zed", "APPROVED", "2026-01-01T10:00:00Z")]
    result = count_approvals(reviews, author="eve", allowed=lambda r: None if r.user.login == "ana" else "not listed")
    assert result.approvers == ["ana"]
    assert result.ignored == {"zed": "not listed"}


# --------------------------------------------------------------------------- who may approve (GitHub's answer)

TOKEN, REPO = "ghs_FAKE_approvals_token_00000000000", "octo-org/models"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    monkeypatch.delenv("MLGATE_ORG_TOKEN", raising=False)
    with github_stand_in(monkeypatch, TOKEN, REPO) as fake:
        yield fake


def reviewed(github: FakeGitHub, login: str, *, user_id: int | None = None, association: str = "MEMBER") -> Review:
    github.set_pull(1, author="eve", head_sha=HEAD)
    return Review.parse(
        github.add_review(
            1,
            login=login,
            commit_id=HEAD,
            association=association,
            user_id=user_id,
            submitted_at="2026-01-01T10:00:00Z",
        )
    )


def test_named_approvers_need_push_access_and_the_same_account(github: FakeGitHub) -> None:
    github.grant("ana", "write")
    github.grant("bo", "read")
    github.grant("cy", "admin")
    github.grant("di", "write")
    github.grant("tm", "maintain")
    github.add_team_member("octo-org/risk", "tm")
    reviews = [reviewed(github, login) for login in ("ana", "bo", "cy", "tm")]
    reviews.append(reviewed(github, "di", user_id=12345))  # the login now names another account
    people = people_of_env()
    result = count_approvals(
        reviews, author="eve", allowed=named_approvers(["ana", "bo", "di"], ["octo-org/risk"], people)
    )
    assert result.approvers == ["ana", "tm"]
    assert result.ignored == {
        "bo": "has no write access (read)",
        "cy": "not a named approver (not a member of team octo-org/risk)",
        "di": f"the login di names another account now (the review's user id 12345, GitHub's for the login "
        f"{github.user_id('di')})",
    }
    ids = {r.user.login: r.id for r in reviews if r.user}
    assert [a.as_dict() for a in result.approvals] == [
        {"login": "ana", "user_id": github.user_id("ana"), "review_id": ids["ana"]},
        {"login": "tm", "user_id": github.user_id("tm"), "review_id": ids["tm"]},
    ]
    # each login's access is asked once however often it is needed
    count_approvals(reviews, author="eve", allowed=named_approvers(["ana", "bo", "di"], ["octo-org/risk"], people))
    asked = [r["path"] for r in github.requests if "/collaborators/" in r["path"]]
    assert sorted(asked) == sorted(f"/repos/{REPO}/collaborators/{u}/permission" for u in ("ana", "bo", "di", "tm"))


def test_access_github_refuses_to_tell_does_not_count_and_an_outage_is_exit_3(github: FakeGitHub) -> None:
    github.grant("ana", "write")
    review = reviewed(github, "ana")
    github.fail_next(403, body={"message": "Resource not accessible by integration"}, method="GET")
    result = count_approvals([review], author="eve", allowed=writers(people_of_env()))
    assert result.approvers == []
    assert result.ignored["ana"].startswith("write access could not be read: GitHub refused GET")
    assert "metadata: read" in result.ignored["ana"]
    github.fail_next(503, times=10, method="GET")
    with pytest.raises(GitHubUnavailable):
        count_approvals([review], author="eve", allowed=writers(GitHubPeople(GitHub(retries=1, backoff=0))))


def test_without_github_no_review_counts() -> None:
    result = count_approvals([review("ana", "APPROVED", "2026-01-01T10:00:00Z")], author="eve", allowed=writers(None))
    assert result.ignored == {"ana": "write access not checked (GitHub not read)"}


def test_a_pinned_promotion_approver_counts_only_as_that_account(github: FakeGitHub) -> None:
    from mlgate.config import Approvers

    github.grant("ro", "write")
    approvers = Approvers.model_validate({"users": [{"login": "ro", "id": github.user_id("ro")}, "bo"]})
    reviews = [reviewed(github, "ro"), reviewed(github, "bo")]
    allowed = named_approvers(approvers.users, approvers.teams, people_of_env(), role="an approver for production")
    result = count_approvals(reviews, author="eve", allowed=allowed)
    assert (result.approvers, result.ignored) == (["ro"], {"bo": "has no write access (none)"})
    other = Approvers.model_validate({"users": [{"login": "ro", "id": 1}]})
    allowed = named_approvers(other.users, other.teams, people_of_env(), role="an approver for production")
    assert count_approvals(reviews[:1], author="eve", allowed=allowed).ignored == {
        "ro": f"not an approver for production: the policy names ro as account id 1, the reviewer's id is "
        f"{github.user_id('ro')}"
    }


def test_team_memberships_are_read_with_the_org_token(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLGATE_ORG_TOKEN (when set) asks for teams; GITHUB_TOKEN asks for repository access."""
    org_token = "ghs_FAKE_org_token_the_stand_in_does_not_know"
    monkeypatch.setenv("MLGATE_ORG_TOKEN", org_token)
    github.grant("tm", "write")
    github.add_team_member("octo-org/risk", "tm")
    allowed = named_approvers([], ["octo-org/risk"], people_of_env(), role="an approver for production")
    result = count_approvals([reviewed(github, "tm")], author="eve", allowed=allowed)
    reason = result.ignored["tm"]
    assert reason.startswith("not an approver for production (membership of team octo-org/risk could not be read:")
    assert "rejected the token (401)" in reason
    assert org_token not in reason
    assert github.violations == ["GET /orgs/octo-org/teams/risk/memberships/tm: bad Authorization header"]
    github.violations.clear()  # the stand-in knows only GITHUB_TOKEN: the refusal shows which token asked

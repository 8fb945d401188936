"""Typed results: GitHub's JSON parsed into mlgate.github.objects, StrEnums in JSON, Failed vs Skip."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from conftest import PROJECT
from mlgate import jsonout
from mlgate.exceptions import ExternalServiceError
from mlgate.gates import Failed, RuleStatus, Skip
from mlgate.github import (
    Action,
    CheckRun,
    CollaboratorPermission,
    Comment,
    GitHub,
    GitHubPayloadError,
    GitRef,
    Issue,
    PostedCheckRun,
    PostedComment,
    PullRequest,
    PullRequestFile,
    Review,
    TagResult,
    TeamMembership,
)
from mlgate.monitoring import IssueAction, RetrainAction
from mlgate.registry import RecordState
from mlgate_devkit.github_stand_in import FakeGitHub

CAPTURED = PROJECT / "devkit/mlgate_devkit/github_stand_in/rest-responses"
TOKEN, REPO = "ghs_FAKE_objects_token_0000000000000", "octo-org/models"


def captured(name: str) -> Any:
    return json.loads((CAPTURED / f"github-owners-bot__{name}.json").read_text())


def without(data: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of ``data`` with the dotted ``path`` removed."""
    out = copy.deepcopy(data)
    *parents, last = path.split(".")
    inner = out
    for key in parents:
        inner = inner[key]
    del inner[last]
    return out


# --------------------------------------------------------------------------- GitHub's captured answers


def test_a_captured_pull_request_parses_to_the_fields_mlgate_reads() -> None:
    data = captured("pulls__pull_request.35")
    pull = PullRequest.parse(data)
    assert pull.number == 35
    assert (pull.user.login, pull.user.id, pull.user.type) == ("ampprojectbot", 23269078, "User")
    assert pull.head.sha == data["head"]["sha"]
    assert pull.head.ref == data["head"]["ref"]
    assert pull.base.ref == data["base"]["ref"]
    assert pull.html_url == data["html_url"]
    merger = data["merged_by"]
    assert (pull.merged_by.login if pull.merged_by else None) == (merger["login"] if merger else None)


def test_a_captured_review_and_file_parse() -> None:
    [data] = captured("reviews__reviews.35.approved")
    review = Review.parse(data)
    assert (review.id, review.state, review.author_association) == (208194465, "APPROVED", "OWNER")
    assert review.user is not None
    assert (review.user.login, review.user.id) == ("erwinmombay", 354746)
    assert review.commit_id == "9272f18514cbd3fa935b3ced62ae1c2bf6efa76d"
    assert review.submitted_at == "2019-02-26T20:39:13Z"
    files = [PullRequestFile.parse(f) for f in captured("files__files.35.multiple")]
    assert [(f.filename, f.status) for f in files] == [
        (d["filename"], d["status"]) for d in captured("files__files.35.multiple")
    ]


@pytest.mark.parametrize(
    ("parse", "name", "field"),
    [
        (PullRequest.parse, "pulls__pull_request.35", "number"),
        (PullRequest.parse, "pulls__pull_request.35", "head.sha"),
        (PullRequest.parse, "pulls__pull_request.35", "user.login"),
        (PullRequest.parse, "pulls__pull_request.35", "base"),
        (Review.parse, "reviews__reviews.35.approved", "id"),
        (Review.parse, "reviews__reviews.35.approved", "state"),
        (PullRequestFile.parse, "files__files.35.multiple", "filename"),
    ],
)
def test_a_missing_required_field_is_a_clear_error_naming_it(parse: Any, name: str, field: str) -> None:
    data = captured(name)
    data = data[0] if isinstance(data, list) else data
    with pytest.raises(GitHubPayloadError) as info:
        parse(without(data, field))
    # the nested object's own field is named (``user.login`` → ``'login'`` of the pull request user)
    assert repr(field.rsplit(".", 1)[-1]) in info.value.message
    assert isinstance(info.value, ExternalServiceError)
    assert info.value.exit_code == 3


def test_a_mistyped_field_is_refused_and_unknown_fields_are_ignored() -> None:
    data = captured("pulls__pull_request.35")
    with pytest.raises(GitHubPayloadError, match=r"pull request has 'number' of type str, not int"):
        PullRequest.parse({**data, "number": "35"})
    with pytest.raises(GitHubPayloadError, match=r"'number' of type bool"):
        PullRequest.parse({**data, "number": True})
    with pytest.raises(GitHubPayloadError, match="is not a JSON object"):
        Review.parse(["not", "an", "object"])
    assert PullRequest.parse({**data, "a_field_github_adds_later": {"x": 1}}) == PullRequest.parse(data)


def test_nullable_users_and_bodies() -> None:
    [data] = captured("reviews__reviews.35.approved")
    assert Review.parse({**data, "user": None}).user is None  # a deleted account
    comment = Comment.parse({"id": 1, "body": None, "user": None})
    assert (comment.body, comment.user) == ("", None)
    with pytest.raises(GitHubPayloadError, match="comment user has no 'id'"):
        Comment.parse({"id": 1, "user": {"login": "x"}})


def test_the_smaller_objects_parse_and_name_their_missing_fields() -> None:
    assert GitRef.parse({"ref": "refs/tags/a#b#1", "object": {"sha": "c" * 40, "type": "commit"}}).sha == "c" * 40
    with pytest.raises(GitHubPayloadError, match=r"git ref has no 'object\.sha'"):
        GitRef.parse({"ref": "refs/tags/a", "object": {}})
    assert TeamMembership.parse({"state": "pending", "role": "member", "url": "u"}).state == "pending"
    with pytest.raises(GitHubPayloadError, match="team membership has no 'state'"):
        TeamMembership.parse({"role": "member"})
    perm = CollaboratorPermission.parse(
        {"permission": "write", "role_name": "maintain", "user": {"login": "a", "id": 7}}
    )
    assert (perm.permission, perm.role_name, perm.user.id if perm.user else None) == ("write", "maintain", 7)
    with pytest.raises(GitHubPayloadError, match="collaborator permission has no 'permission'"):
        CollaboratorPermission.parse({"role_name": "read"})
    with pytest.raises(GitHubPayloadError, match="check run has no 'id'"):
        CheckRun.parse({"name": "mlgate"})
    with pytest.raises(GitHubPayloadError, match="issue has no 'title'"):
        Issue.parse({"number": 1, "state": "open"})


# --------------------------------------------------------------------------- the stand-in's answers


@pytest.fixture
def server() -> Any:
    fake = FakeGitHub(TOKEN, REPO).start()
    yield fake
    fake.stop()
    assert fake.violations == []


def test_the_stand_ins_answers_parse_as_the_client_returns_them(server: FakeGitHub) -> None:
    """Every object comes from an answer the stand-in validated against GitHub's OpenAPI."""
    issue_data = server.add_issue("drift", "body", labels=["mlgate", "monitoring"], user=server.bot)
    comment_data = server.add_comment(issue_data["number"], "hello", login="ana")
    server.add_pull(35)
    server.add_review(35)
    server.add_team_member("octo-org/risk", "tm", state="pending")
    server.grant("ana", "write")
    with GitHub(TOKEN, server.url, REPO, retries=0) as gh:
        issue = gh.issue(issue_data["number"])
        assert issue == Issue.parse(issue_data)
        assert (issue.labels, issue.pull_request, issue.state) == (("mlgate", "monitoring"), False, "open")
        assert gh.issue_comments(issue_data["number"]) == [Comment.parse(comment_data)]
        pull = gh.pull_request(35)
        assert isinstance(pull, PullRequest)
        assert pull.number == 35
        [review] = gh.pull_request_reviews(35)
        assert isinstance(review, Review)
        assert review.id == server.reviews[35][0]["id"]
        assert gh.team_membership("octo-org", "risk", "tm") == TeamMembership("pending", "member")
        assert gh.team_membership("octo-org", "risk", "nobody") is None
        access = gh.collaborator_permission("ana")
        assert access is not None
        assert (access.permission, access.user.id if access.user else None) == ("write", server.user_id("ana"))
        run = gh.create_or_update_check_run("mlgate", "e" * 40, "success", "ok", "fine", [])
        assert run == PostedCheckRun(run.id, run.url, "success", 0, 1)
        assert run.url is not None


def test_a_malformed_answer_is_exit_3_naming_the_field(server: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy that drops fields: the error says which, not a KeyError in the promotion plan."""
    server.add_pull(35)
    stored = server.pulls[35]
    del stored["head"]["sha"]
    with GitHub(TOKEN, server.url, REPO, retries=0) as gh, pytest.raises(GitHubPayloadError) as info:
        gh.pull_request(35)
    assert info.value.message == "GitHub's pull request head has no 'sha'"
    assert info.value.exit_code == 3
    server.violations.clear()  # the stand-in reports the invalid answer it was made to send


# --------------------------------------------------------------------------- StrEnums and Failed


@pytest.mark.parametrize(
    "value",
    [
        Action.CREATED,
        IssueAction.NOT_DUE,
        RetrainAction.NO_RECIPE,
        RecordState.DUPLICATE,
        RuleStatus.SKIPPED,
    ],
)
def test_a_strenum_is_its_value_in_json_and_reads_back(value: Any) -> None:
    text = jsonout.dumps({"action": value})
    assert text == json.dumps({"action": value.value}, indent=2, sort_keys=True)
    assert type(value)(json.loads(text)["action"]) is value
    assert jsonout.compact([value]) == f'["{value.value}"]'


def test_mlgates_own_write_results_keep_their_json() -> None:
    assert PostedComment(3, "https://x/3", Action.UPDATED).as_dict() == {
        "id": 3,
        "url": "https://x/3",
        "action": "updated",
    }
    assert jsonout.compact(TagResult("m#production#1", "a" * 40, Action.EXISTS).as_dict()) == (
        '{"action":"exists","sha":"' + "a" * 40 + '","tag":"m#production#1"}'
    )


def test_failed_and_skip_are_told_apart_by_type_not_by_str() -> None:
    failed, skipped = Failed("no rows"), Skip("no rows")
    assert not isinstance(failed, str)
    assert failed != skipped  # the same words: a failure is never taken for a skip
    assert str(failed) == "no rows"
    with pytest.raises(AttributeError):
        failed.reason = "other"  # type: ignore[misc]


def test_only_the_tokens_own_identity_owns_a_comment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deleted account (user null) or a person named like the bot never owns mlgate's marker comment."""
    monkeypatch.delenv("MLGATE_GITHUB_LOGIN", raising=False)
    gh = GitHub(TOKEN, "http://127.0.0.1:9", REPO)
    bot = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
    assert gh.is_own(Comment.parse({"id": 1, "user": bot}))
    assert not gh.is_own(Comment.parse({"id": 2, "user": None}))
    assert not gh.is_own(Comment.parse({"id": 3, "user": {**bot, "type": "User"}}))
    assert not gh.is_own(Issue.parse({"number": 4, "title": "t", "state": "open", "user": {**bot, "login": "eve"}}))
    gh.close()


def test_a_deleted_reviewers_review_counts_for_nobody() -> None:
    from mlgate.github import count_approvals

    [data] = captured("reviews__reviews.35.approved")
    gone = Review.parse({**data, "user": None})
    result = count_approvals([gone], author="eve")
    assert (result.approvers, result.ignored) == ([], {})

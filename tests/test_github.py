"""mlgate.github against a fake GitHub that validates everything against GitHub's OpenAPI."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from mlgate.exceptions import ExternalServiceError, InvalidInput
from mlgate.github import Action, Comment, GitHub, GitHubUnavailable, Issue, PostedComment, TagResult
from mlgate_devkit.github_stand_in import FakeGitHub

TOKEN = "ghs_FAKE_t0ken_3b9c1e7a_DO_NOT_LEAK"
REPO = "octo-org/models"
MARKER = "<!-- mlgate:report -->"
SHA = "e0da784dc5a4c2dfbf3fc8846d474687cbc82d3a"


@pytest.fixture
def server():
    fake = FakeGitHub(TOKEN, REPO).start()
    yield fake
    fake.stop()
    assert fake.violations == []


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def gh(server, sleeps):
    client = GitHub(TOKEN, server.url, REPO, retries=3, backoff=0.5, sleep=sleeps.append)
    yield client
    client.close()


def _annotations(n, level="warning"):
    return [
        {
            "path": "models/churn/spec.yaml",
            "start_line": i + 1,
            "end_line": i + 1,
            "annotation_level": level,
            "message": f"finding {i}",
        }
        for i in range(n)
    ]


def _no_token(exc):
    for text in (str(exc), repr(exc), exc.message, exc.hint, repr(exc.args)):
        assert TOKEN not in text


def test_sticky_comment_created_then_updated_on_page_3(server, gh):
    server.page_size_cap = 10  # 25 other comments → the marker sits on page 3
    for i in range(25):
        server.add_comment(7, f"unrelated comment {i}")
    first = gh.upsert_comment(7, "## mlgate report v1", MARKER)
    assert first.action == "created"
    second = gh.upsert_comment(7, "## mlgate report v2", MARKER)
    assert second == replace(first, action=Action.UPDATED)
    ours = [c for c in server.comments[7] if MARKER in c["body"]]
    assert len(ours) == 1
    assert "v2" in ours[0]["body"]
    assert len(server.comments[7]) == 26
    pages = [r["query"].get("page", ["1"])[0] for r in server.requests if r["method"] == "GET"]
    assert pages == ["1", "2", "3", "1", "2", "3"]
    assert [r["method"] for r in server.requests if r["method"] != "GET"] == ["POST", "PATCH"]


def test_check_run_batches_annotations(server, gh):
    result = gh.create_or_update_check_run("mlgate", SHA, "failure", "2 gates failed", "summary", _annotations(120))
    run = server.check_runs[result.id]
    assert [len(r["output"].get("annotations", [])) for r in run["requests"]] == [50, 50, 20]
    assert [r["method"] for r in server.requests] == ["POST", "PATCH", "PATCH"]
    assert run["public"]["output"]["annotations_count"] == 120
    assert result.conclusion == "failure"


def test_check_run_without_annotations(server, gh):
    result = gh.create_or_update_check_run("mlgate", SHA, "success", "ok", "all green", [])
    assert result.requests == 1
    assert server.check_runs[result.id]["public"]["conclusion"] == "success"


def test_pull_request_reviews_files(server, gh):
    server.page_size_cap = 2
    server.add_pull(35)
    for _ in range(3):
        server.add_review(35)
    for i in range(5):
        server.add_file(35, f"models/m{i}.yaml")
    assert gh.pull_request(35).number == 35
    assert len(gh.pull_request_reviews(35)) == 3
    assert [f.filename for f in gh.pull_request_files(35)] == [f"models/m{i}.yaml" for i in range(5)]


def test_retry_after_502(server, gh, sleeps):
    server.fail_next(502)
    assert gh.upsert_comment(1, "hello", MARKER).action == "created"
    assert sleeps == [0.5]


def test_429_retry_after_honoured(server, gh, sleeps):
    server.fail_next(429, headers={"Retry-After": "7"})
    gh.upsert_comment(1, "hello", MARKER)
    assert sleeps == [7.0]


def test_retry_after_capped(server, gh, sleeps):
    server.fail_next(429, headers={"Retry-After": "86400"})
    gh.upsert_comment(1, "hello", MARKER)
    assert sleeps == [60.0]


def test_secondary_rate_limit_403_retried(server, gh, sleeps):
    server.fail_next(403, times=2)  # default body: "You have exceeded a secondary rate limit"
    gh.upsert_comment(1, "hello", MARKER)
    assert sleeps == [0.5, 1.0]


def test_403_with_retry_after_is_rate_limit(server, gh, sleeps):
    server.add_pull(35)
    server.fail_next(403, headers={"Retry-After": "3"}, body={"message": "Forbidden"})
    assert gh.pull_request_files(35) == []
    assert sleeps == [3.0]


def test_next_link_to_foreign_host_is_refused(server, gh):
    server.page_size_cap = 1
    server.add_comment(4, "a")
    server.add_comment(4, "b")
    real_url, server.url = server.url, "http://evil.example"
    try:
        with pytest.raises(GitHubUnavailable, match="outside"):
            gh.upsert_comment(4, "x", MARKER)
    finally:
        server.url = real_url
    assert len(server.requests) == 1


def test_ratelimit_reset_honoured(server, gh, sleeps):
    import time

    reset = int(time.time()) + 20
    server.fail_next(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        body={"message": "API rate limit exceeded"},
    )
    gh.upsert_comment(1, "hello", MARKER)
    assert len(sleeps) == 1
    assert 15 <= sleeps[0] <= 21


def test_outage_is_exit_3(server, gh, sleeps):
    server.fail_next(503, times=100, body={"message": "Service Unavailable"})
    with pytest.raises(GitHubUnavailable) as info:
        gh.pull_request(35)
    assert isinstance(info.value, ExternalServiceError)
    assert info.value.exit_code == 3
    assert "4 attempt(s)" in str(info.value)
    assert "HTTP 503: Service Unavailable" in str(info.value)
    assert len([r for r in server.requests]) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    _no_token(info.value)


def test_connection_error_retried_then_exit_3(sleeps):
    gh = GitHub(TOKEN, "http://127.0.0.1:9", REPO, retries=2, backoff=0.1, sleep=sleeps.append)
    with pytest.raises(GitHubUnavailable) as info:
        gh.pull_request(1)
    assert sleeps == [0.1, 0.2]
    _no_token(info.value)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, None, "GitHub rejected the token (401): check GITHUB_TOKEN"),
        (404, None, "found no pull request #35"),
        (403, {"message": "Resource not accessible by integration"}, "pull-requests: write"),
        (
            422,
            {
                "message": "Validation Failed",
                "errors": [{"resource": "IssueComment", "field": "body", "code": "too_long"}],
            },
            "IssueComment body too_long",
        ),
    ],
)
def test_client_errors_are_exit_2_without_retry(server, gh, sleeps, status, body, expected):
    server.fail_next(status, times=5, body=body)
    with pytest.raises(InvalidInput) as info:
        gh.upsert_comment(35, "x", MARKER)
    assert info.value.exit_code == 2
    assert expected in str(info.value)
    assert sleeps == []
    assert len(server.requests) == 1
    _no_token(info.value)
    server._faults.clear()


def test_403_check_runs_names_checks_write(server, gh):
    server.fail_next(403, body={"message": "Resource not accessible by integration"})
    with pytest.raises(InvalidInput, match="checks: write"):
        gh.create_or_update_check_run("mlgate", SHA, "success", "t", "s", [])


def test_token_never_in_messages(server, sleeps, caplog):
    # an error message echoing the token back must be redacted
    gh = GitHub(TOKEN, server.url, REPO, retries=1, backoff=0, sleep=sleeps.append)
    assert TOKEN not in repr(gh)
    assert TOKEN not in str(vars(gh).get("api_url"))
    server.fail_next(500, times=2, body={"message": f"boom {TOKEN}"})
    with pytest.raises(GitHubUnavailable) as info:
        gh.pull_request(1)
    _no_token(info.value)
    assert "***" in str(info.value)
    server.fail_next(401, body={"message": f"Bad credentials {TOKEN}"})
    with pytest.raises(InvalidInput) as info2:
        gh.pull_request(1)
    _no_token(info2.value)
    assert TOKEN not in caplog.text
    gh.close()


def test_token_from_env(server, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    with GitHub(repo=REPO) as gh:
        assert gh.upsert_comment(3, "x", MARKER).action == "created"


def test_missing_token_is_exit_2(monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(InvalidInput, match="GITHUB_TOKEN"):
        GitHub(repo=REPO)


def test_server_validation_catches_bad_annotation_level(server, gh):
    with pytest.raises(InvalidInput, match="annotation_level"):
        gh.create_or_update_check_run("mlgate", SHA, "failure", "t", "s", _annotations(1, level="error"))
    assert any("annotation_level" in v and "'error' is not one of" in v for v in server.violations)
    server.violations.clear()


def test_server_rejects_missing_auth(server):
    import httpx

    r = httpx.get(f"{server.url}/repos/{REPO}/pulls/1")
    assert r.status_code == 401
    assert server.violations
    server.violations.clear()


# ---------------------------------------------------------------- lost answers to creates


@pytest.mark.parametrize("how", ["close", "502"])
def test_lost_answer_to_a_comment_create_is_not_duplicated(server, gh, sleeps, how):
    server.add_comment(7, "unrelated")
    server.lose_next(1, how)  # the comment is created, its answer never arrives
    result = gh.upsert_comment(7, "## mlgate report v1", MARKER)
    ours = [c for c in server.comments[7] if MARKER in c["body"]]
    assert len(ours) == 1
    assert result == PostedComment(ours[0]["id"], ours[0]["html_url"], Action.CREATED)
    assert [r["method"] for r in server.requests] == ["GET", "POST", "GET"]  # looked up, not re-posted
    assert sleeps == [0.5]
    assert gh.upsert_comment(7, "## mlgate report v2", MARKER) == replace(result, action=Action.UPDATED)
    assert len(server.comments[7]) == 2


@pytest.mark.parametrize("how", ["close", "502"])
def test_lost_answer_to_a_check_run_create_is_not_duplicated(server, gh, sleeps, how):
    server.lose_next(1, how)
    result = gh.create_or_update_check_run(
        "mlgate / credit", SHA, "failure", "2 gates failed", "summary", _annotations(120), key="credit"
    )
    [(run_id, run)] = server.check_runs.items()
    assert result.id == run_id
    assert result.conclusion == "failure"
    assert run["public"]["output"]["annotations_count"] == 120  # the POST's 50, then two PATCHes
    assert run["public"]["external_id"].startswith(f"mlgate:credit:{SHA}:")
    assert [r["method"] for r in server.requests] == ["POST", "GET", "PATCH", "PATCH"]
    lookup = server.requests[1]
    assert lookup["path"] == f"/repos/{REPO}/commits/{SHA}/check-runs"
    assert lookup["query"]["check_name"] == ["mlgate / credit"]
    assert lookup["query"]["filter"] == ["all"]
    assert sleeps == [0.5]


def test_an_earlier_jobs_check_run_is_not_taken_for_this_one(server, gh):
    earlier = gh.create_or_update_check_run("mlgate / credit", SHA, "failure", "old", "old", [])
    server.fail_next(502)  # refused before anything was created: the lookup finds nothing of ours
    result = gh.create_or_update_check_run("mlgate / credit", SHA, "success", "new", "new", [])
    assert result.id != earlier.id
    assert len(server.check_runs) == 2
    assert server.check_runs[result.id]["public"]["conclusion"] == "success"
    assert [r["method"] for r in server.requests] == ["POST", "POST", "GET", "POST"]


def test_lookup_pages_through_many_check_runs(server, gh):
    server.page_size_cap = 2
    for i in range(5):
        gh.create_or_update_check_run("mlgate / credit", SHA, "neutral", f"run {i}", "s", [])
    server.requests.clear()
    server.lose_next(1, "close")
    result = gh.create_or_update_check_run("mlgate / credit", SHA, "success", "mine", "s", [])
    assert len(server.check_runs) == 6
    assert server.check_runs[result.id]["public"]["output"]["title"] == "mine"
    pages = [r["query"].get("page", ["1"])[0] for r in server.requests if r["method"] == "GET"]
    assert pages == ["1"]  # newest first: this call's run is on the first page


def test_no_second_create_when_github_cannot_say_whether_the_first_happened(server, sleeps):
    gh = GitHub(TOKEN, server.url, REPO, retries=2, backoff=0.5, sleep=sleeps.append)
    server.lose_next(1, "502")
    server.fail_next(503, times=100, body={"message": f"down {TOKEN}"}, method="GET")  # the lookups fail
    with pytest.raises(GitHubUnavailable) as info:
        gh.create_or_update_check_run("mlgate / credit", SHA, "success", "t", "s", [])
    assert [r["method"] for r in server.requests].count("POST") == 1
    assert len(server.check_runs) == 1
    assert f"POST /repos/{REPO}/check-runs may have taken effect (HTTP 502: Bad Gateway)" in str(info.value)
    assert "HTTP 503: down ***" in str(info.value)
    _no_token(info.value)
    server._faults.clear()
    gh.close()


SHA = "a" * 40
OTHER = "b" * 40


def test_tag_ref_created_then_found_never_moved(server, gh):
    created = gh.create_tag_ref("credit#production#1", SHA)
    assert created == TagResult("credit#production#1", SHA, Action.CREATED)
    assert created.as_dict() == {"tag": "credit#production#1", "sha": SHA, "action": "created"}
    assert server.refs == {"refs/tags/credit#production#1": SHA}
    # the same tag at the same commit again (a retried run): success, nothing new
    assert gh.create_tag_ref("credit#production#1", SHA).action == "exists"
    # the same name at another commit: an error, the tag stays where it was
    with pytest.raises(InvalidInput, match=r"already exists at aaaaaaaaaaaa, not at bbbbbbbbbbbb") as err:
        gh.create_tag_ref("credit#production#1", OTHER)
    _no_token(err.value)
    assert server.refs == {"refs/tags/credit#production#1": SHA}
    # listing by prefix: '#' travels percent-encoded, the slash in the ref name is part of the path
    assert [(r.ref, r.sha) for r in gh.matching_refs("tags/credit#")] == [("refs/tags/credit#production#1", SHA)]
    assert gh.matching_refs("tags/income#") == []
    assert server.violations == []


@pytest.mark.parametrize("how", ["close", "502"])
def test_tag_ref_whose_answer_was_lost_is_created_once(server, gh, sleeps, how):
    server.lose_next(1, how=how)
    assert gh.create_tag_ref("credit#staging#2", SHA).action == "created"
    assert server.refs == {"refs/tags/credit#staging#2": SHA}
    assert [r["method"] for r in server.requests].count("POST") == 1  # found by the lookup, not posted again
    assert server.violations == []


def test_dispatch_payload_is_validated_and_retried_at_least_once(server, gh, sleeps):
    payload = {"model": "credit", "stage": "production", "version": 3, "key": "k" * 32}
    gh.dispatch("mlgate-promoted", payload)
    assert server.dispatches == [{"event_type": "mlgate-promoted", "client_payload": payload}]
    # GitHub keeps nothing to look a dispatch up by: a lost answer is retried (receivers dedupe by key)
    server.lose_next(1, how="502")
    gh.dispatch("mlgate-promoted", payload)
    assert len(server.dispatches) == 3
    assert server.violations == []
    with pytest.raises(InvalidInput, match="at most 10 top-level keys"):
        gh.dispatch("mlgate-promoted", {f"k{i}": i for i in range(11)})
    assert len(server.dispatches) == 3


def test_stand_in_refuses_a_dispatch_payload_github_would_refuse(server):
    import httpx

    too_many = {"event_type": "mlgate-promoted", "client_payload": {f"k{i}": i for i in range(11)}}
    response = httpx.post(
        f"{server.url}/repos/{REPO}/dispatches",
        json=too_many,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    assert response.status_code == 422
    assert any("client_payload" in v and "properties" in v for v in server.violations)
    server.violations.clear()


# ---------------------------------------------------------------- issues

ISSUE_MARKER = "<!-- mlgate:monitoring model=credit stage=production -->"


def test_find_issue_pages_by_marker_state_and_label(server, gh):
    server.page_size_cap = 2
    for i in range(4):
        server.add_issue(f"other {i}", f"unrelated {i}", labels=["mlgate"])
    server.add_issue("closed one", f"old alert\n{ISSUE_MARKER}", labels=["mlgate"], state="closed", user=server.bot)
    # a person's issue with the marker and the labels, opened before mlgate's: not mlgate's
    server.add_issue("pasted by a person", f"look\n{ISSUE_MARKER}", labels=["mlgate", "monitoring"])
    ours = server.add_issue("open one", f"alert\n{ISSUE_MARKER}", labels=["mlgate", "monitoring"], user=server.bot)
    server.add_issue("copy without the label", f"pasted {ISSUE_MARKER}", labels=["bug"], user=server.bot)
    found = gh.find_issue(ISSUE_MARKER, labels=["mlgate"])
    assert found is not None
    assert found.number == ours["number"]
    lists = [r for r in server.requests if r["method"] == "GET"]
    assert [r["query"].get("page", ["1"])[0] for r in lists] == ["1", "2", "3"]
    assert all(r["query"]["labels"] == ["mlgate"] and r["query"]["state"] == ["open"] for r in lists)
    assert gh.find_issue(ISSUE_MARKER, state="all", labels=["mlgate"]).title == "closed one"  # oldest first
    assert gh.find_issue(ISSUE_MARKER, state="closed", labels=["mlgate", "monitoring"]) is None
    assert gh.find_issue("<!-- nowhere -->", state="all") is None
    with pytest.raises(InvalidInput, match="open, closed or all"):
        gh.find_issue(ISSUE_MARKER, state="opened")


def test_issue_numbers_share_one_sequence_with_pull_requests(server, gh):
    server.add_pull(1)
    first = gh.create_issue("t", f"b {ISSUE_MARKER}", labels=["mlgate"], lookup=lambda: None)
    pr = gh.create_pull_request(title="p", body="b", head="feature", base="main")
    assert (first.number, pr.number) == (2, 3)
    assert gh.issue(2).title == "t"
    assert gh.find_issue(ISSUE_MARKER).number == 2  # the pull requests are not listed as issues


@pytest.mark.parametrize("how", ["close", "502"])
def test_lost_answer_to_an_issue_create_is_not_duplicated(server, gh, sleeps, how):
    server.lose_next(1, how)
    issue = gh.create_issue(
        "credit@production: monitoring breach",
        f"figures\n{ISSUE_MARKER}",
        labels=["mlgate", "monitoring"],
        assignees=["alice"],
        lookup=lambda: gh.find_issue(ISSUE_MARKER, labels=["mlgate"]),
    )
    [stored] = server.issues.values()
    assert issue == Issue.parse(stored)
    assert issue.assignees == ("alice",)
    assert [a["login"] for a in stored["assignees"]] == ["alice"]
    assert [r["method"] for r in server.requests] == ["POST", "GET"]
    assert sleeps == [0.5]


def test_update_comment_and_close_an_issue(server, gh, sleeps):
    issue = gh.create_issue("t", ISSUE_MARKER, labels=["mlgate"], lookup=lambda: None)
    n = issue.number
    updated = gh.update_issue(n, title="t2", labels=["mlgate", "blocking"], assignees=["bob"])
    assert updated.title == "t2"
    assert updated.labels == ("mlgate", "blocking")
    assert updated.assignees == ("bob",)
    with pytest.raises(InvalidInput, match="not \\['milestone'\\]"):
        gh.update_issue(n, milestone=1)
    # a comment whose answer was lost is found by its hidden per-comment marker, not posted twice
    server.lose_next(1, "502")
    comment = gh.comment_on_issue(n, "figures changed")
    assert [Comment.parse(c) for c in server.comments[n]] == [comment]
    assert re.search(r"<!-- mlgate:comment [0-9a-f]{12} -->$", comment.body)
    assert server.issues[n]["comments"] == 1
    # with the caller's marker the comment is idempotent: a re-run job finds it
    keyed = gh.comment_on_issue(n, "update for run 7", marker="<!-- mlgate:update key=7 -->")
    assert gh.comment_on_issue(n, "update for run 7", marker="<!-- mlgate:update key=7 -->") == keyed
    assert len(server.comments[n]) == 2
    closed = gh.close_issue(n, "recovered")
    assert (closed.state, closed.state_reason, closed.closed_at is not None) == ("closed", "completed", True)
    assert server.comments[n][-1]["body"].startswith("recovered\n\n<!-- mlgate:comment ")
    assert server.open_issues() == []


def test_an_assignee_github_refuses_is_dropped_not_the_issue(server, gh, sleeps):
    server.assignable = {"alice"}
    issue = gh.create_issue("t", ISSUE_MARKER, labels=["mlgate"], assignees=["mallory"], lookup=lambda: None)
    assert issue.assignees == ()
    assert [r["body"].get("assignees") for r in server.requests if r["method"] == "POST"] == [["mallory"], None]
    assert len(server.issues) == 1
    assert sleeps == []


def test_other_issue_422_is_exit_2(server, gh, sleeps):
    server.fail_next(
        422,
        body={
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "title", "code": "missing"}],
            "documentation_url": "https://docs.github.com/rest",
        },
    )
    with pytest.raises(InvalidInput, match="Issue title missing") as info:
        gh.create_issue("t", "b", assignees=["alice"], lookup=lambda: None)
    assert info.value.exit_code == 2
    assert server.issues == {}
    _no_token(info.value)


def test_403_on_issues_names_issues_write(server, gh):
    server.fail_next(403, body={"message": "Resource not accessible by integration"})
    with pytest.raises(InvalidInput, match="permissions: issues: write") as info:
        gh.create_issue("t", "b", lookup=lambda: None)
    _no_token(info.value)
    server.fail_next(403, body={"message": "Resource not accessible by integration"})
    with pytest.raises(InvalidInput, match="issues: write for issues"):
        gh.update_issue(1, state="closed")


def test_issue_outage_is_exit_3_without_token(server, sleeps):
    gh = GitHub(TOKEN, server.url, REPO, retries=1, backoff=0.5, sleep=sleeps.append)
    server.fail_next(503, times=10, body={"message": f"down {TOKEN}"})
    with pytest.raises(GitHubUnavailable) as info:
        gh.find_issue(ISSUE_MARKER)
    assert info.value.exit_code == 3
    _no_token(info.value)
    server._faults.clear()
    gh.close()


# ---------------------------------------------------------------- whose marker comment is adopted


def test_a_marker_comment_by_the_pr_author_is_not_adopted(server, gh, monkeypatch):
    """Anyone can paste mlgate's hidden marker; only the token's own comment is edited."""
    monkeypatch.delenv("MLGATE_GITHUB_LOGIN", raising=False)
    forged = server.add_comment(7, f"## mlgate report: all gates pass\n\n{MARKER}", login="mallory")
    lookalike = server.add_comment(
        7,
        f"fake bot {MARKER}",
        user=server._simple_user("github-actions[bot]"),  # a person's account type
    )
    first = gh.upsert_comment(7, "## mlgate report v1", MARKER)
    assert first.action == "created"
    assert first.id not in (forged["id"], lookalike["id"])
    second = gh.upsert_comment(7, "## mlgate report v2", MARKER)
    assert second == replace(first, action=Action.UPDATED)
    bodies = {c["id"]: c["body"] for c in server.comments[7]}
    assert bodies[forged["id"]] == f"## mlgate report: all gates pass\n\n{MARKER}"  # left alone
    assert bodies[lookalike["id"]] == f"fake bot {MARKER}"
    assert bodies[first.id].startswith("## mlgate report v2")
    [mine] = [c for c in server.comments[7] if c["id"] == first.id]
    assert (mine["user"]["login"], mine["user"]["type"]) == ("github-actions[bot]", "Bot")
    assert not [r for r in server.requests if r["method"] == "PATCH" and r["path"].endswith(str(forged["id"]))]


def test_the_identity_of_a_personal_token_is_configured(server, monkeypatch):
    """With MLGATE_GITHUB_LOGIN the token's comments are that login's: its marker comment is adopted."""
    theirs = server.add_comment(7, f"## old report\n\n{MARKER}")  # the captured sender: Codertocat
    monkeypatch.setenv("MLGATE_GITHUB_LOGIN", "Codertocat")
    with GitHub(TOKEN, server.url, REPO) as client:
        assert client.upsert_comment(7, "## mlgate report v2", MARKER) == PostedComment(
            theirs["id"], theirs["html_url"], Action.UPDATED
        )
    monkeypatch.setenv("MLGATE_GITHUB_LOGIN", "someone-else")
    with GitHub(TOKEN, server.url, REPO) as client:
        assert client.upsert_comment(7, "## mlgate report v3", MARKER).action == "created"


def test_a_keyed_issue_comment_by_someone_else_does_not_stop_mlgates(server, gh, monkeypatch):
    monkeypatch.delenv("MLGATE_GITHUB_LOGIN", raising=False)
    n = server.add_issue("drift on credit", "body")["number"]
    key = "<!-- mlgate:update key=7 -->"
    server.add_comment(n, f"already said {key}", login="mallory")
    mine = gh.comment_on_issue(n, "update for run 7", marker=key)
    assert mine.body.startswith("update for run 7")
    assert gh.comment_on_issue(n, "update for run 7", marker=key) == mine  # its own: idempotent
    assert len(server.comments[n]) == 2

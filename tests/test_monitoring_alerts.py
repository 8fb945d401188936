"""Monitoring alerts against the GitHub stand-in: one issue per model and stage, no noise, reviews once."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mlgate.exceptions import InvalidInput
from mlgate.github import GitHub
from mlgate.monitoring import (
    IssueAction,
    IssueSync,
    OpenAlert,
    custody_alert,
    figures,
    github_login,
    open_alerts,
    review_issues,
    sync_issue,
)
from mlgate_devkit.github_stand_in import FakeGitHub

TOKEN = "ghs_FAKE_alerts_t0ken_77c1_DO_NOT_LEAK"
REPO = "octo-org/models"
MARKER = "<!-- mlgate:monitoring model=credit stage=production -->"


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


def _rule(rule_id, metric, observed, threshold, comparison="max", severity="block", status="pass", family="drift"):
    failed = status in ("fail", "error")
    return {
        "family": family,
        "rule_id": rule_id,
        "metric": metric,
        "observed": observed,
        "threshold": threshold,
        "comparison": comparison,
        "severity": severity,
        "status": status,
        "explanation": f"{metric} {observed} vs {threshold}",
        "blocking": failed and severity == "block",
    }


def verdict(drifted_share=0.1, *, run="mon-run-1", version=2, psi=0.05, auc=0.82, null_share_status="pass"):
    """A realistic mlgate.monitoring/1 verdict: drift share fails above 0.3, AUC warns below 0.75."""
    drift_status = "fail" if drifted_share is not None and drifted_share > 0.3 else "pass"
    auc_status = "fail" if auc < 0.75 else "pass"
    rules = [
        _rule("drift-share", "drifted_share", drifted_share, 0.3, status=drift_status),
        _rule("max-psi", "psi_max", psi, 0.25, status="fail" if psi > 0.25 else "pass"),
        _rule("auc-floor", "auc", auc, 0.75, "min", "warn", status=auc_status, family="performance"),
        _rule("nulls", "null_share", None, 0.05, status=null_share_status, family="quality"),
    ]
    failed = [r for r in rules if r["status"] in ("fail", "error")]
    status = "fail" if any(r["blocking"] for r in failed) else ("warn" if failed else "pass")
    return {
        "schema": "mlgate.monitoring/1",
        "model": "credit",
        "stage": "production",
        "version": version,
        "run_id": "4f1c0ffee",
        "status": status,
        "counts": {"pass": len(rules) - len(failed), "fail": len(failed)},
        "window": {"from": "2026-03-01T00:00:00Z", "to": "2026-03-08T00:00:00Z"},
        "rows": 5120,
        "metrics": {"drifted_share": drifted_share, "psi_max": psi, "auc": auc},
        "features": [
            {"feature": "income", "kind": "numeric", "psi": psi, "drifted": psi > 0.25, "unseen_categories": []},
            {"feature": "purpose", "kind": "categorical", "psi": 0.02, "drifted": False, "unseen_categories": []},
        ],
        "rules": rules,
        "retrain": {"triggered": False, "reason": "", "when": None},
        "monitoring_run_id": run,
        "evaluated_at": "2026-03-08T06:00:00Z",
    }


def _posts(server, suffix):
    return [r for r in server.requests if r["method"] == "POST" and r["path"] == f"/repos/{REPO}{suffix}"]


def _stored(issue):
    return json.loads(re.search(r"<!-- mlgate:figures (\{.*?\}) -->", issue["body"]).group(1))


# ---------------------------------------------------------------------- the done-when cases


def test_no_breach_no_issue(server, gh):
    assert sync_issue(gh, verdict(0.1), owner="@alice") == IssueSync(IssueAction.NONE)
    assert server.issues == {}
    assert [(r["method"], r["path"]) for r in server.requests] == [("GET", f"/repos/{REPO}/issues")]
    assert server.requests[0]["query"] == {
        "state": ["open"],
        "sort": ["created"],
        "direction": ["asc"],
        "per_page": ["100"],
        "labels": ["mlgate"],
    }


def test_breach_opens_one_issue_with_labels_and_assignee(server, gh):
    result = sync_issue(gh, verdict(0.4213), owner="@alice", details_url="https://ci.example/runs/9")
    [issue] = server.issues.values()
    assert result.as_dict() == {"action": "opened", "number": issue["number"], "url": issue["html_url"]}
    assert issue["title"] == "credit@production: monitoring breach — drifted_share 0.42 > 0.3"
    assert [label["name"] for label in issue["labels"]] == ["mlgate", "monitoring", "blocking"]
    assert [a["login"] for a in issue["assignees"]] == ["alice"]
    assert MARKER in issue["body"]
    assert "| `drift-share` | drifted_share | 0.42 | ≤ 0.3 | block | fail |" in issue["body"]
    assert "Owner: @alice" in issue["body"]
    assert "Details: https://ci.example/runs/9" in issue["body"]
    assert _stored(issue) == {
        "version": 2,
        "status": "fail",
        "rules": {
            "drift-share": {
                "metric": "drifted_share",
                "observed": 0.42,
                "threshold": 0.3,
                "comparison": "max",
                "severity": "block",
                "status": "fail",
                "blocking": True,
            }
        },
    }
    assert server.comments.get(issue["number"], []) == []


def test_same_drift_again_same_issue_no_comment_no_edit(server, gh):
    first = sync_issue(gh, verdict(0.4213, run="r1"), owner="alice")
    [issue] = server.issues.values()
    updated_at, body, title = issue["updated_at"], issue["body"], issue["title"]
    server.requests.clear()
    # the next run: a new window, the same drift to 2 significant digits (0.4187 → 0.42)
    again = sync_issue(gh, verdict(0.4187, run="r2"), owner="alice")
    assert again == replace(first, action=IssueAction.UNCHANGED)
    assert len(server.issues) == 1
    assert server.comments.get(issue["number"], []) == []
    assert issue["comments"] == 0
    assert (issue["updated_at"], issue["body"], issue["title"]) == (updated_at, body, title)
    assert [r["method"] for r in server.requests] == ["GET"]  # looked, wrote nothing


def test_worse_drift_one_update_comment(server, gh):
    first = sync_issue(gh, verdict(0.42, run="r1"), owner="alice")
    number = first.number
    worse = sync_issue(gh, verdict(0.55, run="r2"), owner="alice")
    assert worse == replace(first, action=IssueAction.COMMENTED)
    assert len(server.issues) == 1
    [comment] = server.comments[number]
    assert "**worse**: `drift-share` drifted_share 0.42 → 0.55 (must be ≤ 0.3)" in comment["body"]
    assert "run `r2`" in comment["body"]
    issue = server.issues[number]
    assert issue["title"] == "credit@production: monitoring breach — drifted_share 0.55 > 0.3"
    assert _stored(issue)["rules"]["drift-share"]["observed"] == 0.55
    # the same worse drift once more: nothing new
    assert sync_issue(gh, verdict(0.551, run="r3"), owner="alice").action == "unchanged"
    assert len(server.comments[number]) == 1
    # a re-run of the job that commented (same run, same figures) does not comment twice
    issue["body"] = issue["body"].replace('"observed":0.55', '"observed":0.42')  # as if its edit had failed
    assert sync_issue(gh, verdict(0.55, run="r2"), owner="alice").action == "commented"
    assert len(server.comments[number]) == 1


def test_new_and_resolved_rules_and_labels_follow(server, gh):
    first = sync_issue(gh, verdict(0.1, auc=0.70), owner="alice")  # only a warning fails
    issue = server.issues[first.number]
    assert issue["title"] == "credit@production: monitoring breach — auc 0.7 < 0.75"
    assert [label["name"] for label in issue["labels"]] == ["mlgate", "monitoring"]
    # a human adds a label; drift appears, the AUC recovers
    server.issues[first.number]["labels"].append(server.label("triage"))
    assert sync_issue(gh, verdict(0.35, psi=0.31, auc=0.8, run="r2"), owner="alice").action == "commented"
    [comment] = server.comments[first.number]
    assert "**new**: `drift-share` drifted_share 0.35 > 0.3 (must be ≤ 0.3)" in comment["body"]
    assert "**new**: `max-psi` psi_max 0.31 > 0.25 (must be ≤ 0.25)" in comment["body"]
    assert "**resolved**: `auc-floor` passes now" in comment["body"]
    assert "**verdict** warn → fail" in comment["body"]
    assert [label["name"] for label in issue["labels"]] == ["mlgate", "monitoring", "triage", "blocking"]
    # worst blocking rule first: psi 0.31 is 24% past its threshold, the share 17%
    assert issue["title"] == "credit@production: monitoring breach — psi_max 0.31 > 0.25 (+1 more)"


def test_an_error_is_a_breach(server, gh):
    result = sync_issue(gh, verdict(0.1, null_share_status="error"), owner=None)
    issue = server.issues[result.number]
    assert issue["title"] == "credit@production: monitoring breach — null_share could not be evaluated"
    assert issue["assignees"] == []
    assert "Owner: none named" in issue["body"]


def test_recovery_closes_with_a_comment(server, gh):
    opened = sync_issue(gh, verdict(0.42, run="r1"), owner="alice")
    closed = sync_issue(gh, verdict(0.12, run="r2"), owner="alice")
    assert closed == replace(opened, action=IssueAction.CLOSED)
    issue = server.issues[opened.number]
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    [comment] = server.comments[opened.number]
    assert comment["body"].startswith("**Recovered**: every monitoring rule passes in run `r2`")
    # healthy afterwards: nothing; a new breach opens a new issue (the closed one stays closed)
    assert sync_issue(gh, verdict(0.1, run="r3"), owner="alice").action == "none"
    again = sync_issue(gh, verdict(0.5, run="r4"), owner="alice")
    assert again.action == "opened"
    assert again.number != opened.number
    assert [i["number"] for i in server.open_issues()] == [again.number]


@pytest.mark.parametrize("how", ["close", "502"])
def test_lost_answer_to_the_create_still_one_issue(server, gh, sleeps, how):
    server.lose_next(1, how)  # GitHub creates the issue; its answer never arrives
    result = sync_issue(gh, verdict(0.42), owner="alice")
    [issue] = server.issues.values()
    assert result.as_dict() == {"action": "opened", "number": issue["number"], "url": issue["html_url"]}
    assert len(_posts(server, "/issues")) == 1  # looked up, not posted again
    assert [r["method"] for r in server.requests] == ["GET", "POST", "GET", "GET"]  # find, create, lookup, twins
    assert sleeps == [0.5]
    assert sync_issue(gh, verdict(0.42, run="r2"), owner="alice").action == "unchanged"
    assert len(server.open_issues()) == 1


def test_502_before_the_create_then_success_one_issue(server, gh, sleeps):
    server.fail_next(502, method="POST")  # refused before anything was created
    result = sync_issue(gh, verdict(0.42), owner="alice")
    [issue] = server.issues.values()
    assert result.number == issue["number"]
    # find; refused; looked up: none → posted; twins
    assert [r["method"] for r in server.requests] == ["GET", "POST", "GET", "POST", "GET"]
    assert sleeps == [0.5]


def test_two_runs_at_once_leave_one_open_issue(server, gh, monkeypatch):
    # the other run opened its issue after this run looked and before it created its own
    other = server.add_issue("the other run's", f"figures\n{MARKER}", labels=["mlgate", "monitoring"], user=server.bot)
    real, calls = gh.find_issue, []

    def looked_too_early(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(gh, "find_issue", looked_too_early)
    result = sync_issue(gh, verdict(0.42), owner="alice")
    assert result.as_dict() == {"action": "opened", "number": other["number"], "url": other["html_url"]}
    assert [i["number"] for i in server.open_issues()] == [other["number"]]
    [ours] = [i for i in server.issues.values() if i["number"] != other["number"]]
    assert (ours["state"], ours["state_reason"]) == ("closed", "duplicate")
    assert server.comments[ours["number"]][0]["body"].startswith(f"Duplicate of #{other['number']}: ")


def test_a_second_model_and_stage_gets_its_own_issue(server, gh):
    one = sync_issue(gh, verdict(0.42), owner="alice")
    staging = {**verdict(0.42), "stage": "staging"}
    two = sync_issue(gh, staging, owner="alice")
    assert two.action == "opened"
    assert two.number != one.number
    assert sync_issue(gh, verdict(0.42), owner="alice").action == "unchanged"
    assert len(server.open_issues()) == 2


def test_an_issue_a_person_opened_with_the_marker_and_labels_is_not_ours(server, gh):
    pasted = server.add_issue("lookalike", f"someone pasted the marker {MARKER}", labels=["mlgate", "monitoring"])
    assert pasted["user"]["type"] != "Bot"
    result = sync_issue(gh, verdict(0.42), owner="alice")
    assert result.action == "opened"
    assert result.number != pasted["number"]
    assert server.issues[pasted["number"]]["body"] == f"someone pasted the marker {MARKER}"  # left as it was


def test_an_issue_without_the_mlgate_label_is_not_ours(server, gh):
    server.add_issue("copied by hand", f"someone pasted the marker {MARKER}", labels=["bug"])
    assert sync_issue(gh, verdict(0.42), owner="alice").action == "opened"
    assert len(server.open_issues()) == 2


@pytest.mark.parametrize(
    ("owner", "line"),
    [
        ("Jane Doe", "Owner: Jane Doe — not a GitHub login"),
        ("jane.doe", "Owner: jane.doe — not a GitHub login"),
        ("jane@example.com", "Owner: jane@example.com — not a GitHub login"),
        ("@octo-org/risk-models", "Owner: @octo-org/risk-models (a team: a team cannot be assigned"),
    ],
)
def test_an_owner_that_is_not_a_login_is_mentioned_not_assigned(server, gh, owner, line):
    result = sync_issue(gh, verdict(0.42), owner=owner)
    issue = server.issues[result.number]
    assert issue["assignees"] == []
    assert "assignees" not in _posts(server, "/issues")[0]["body"]
    assert line in issue["body"]


def test_an_owner_github_refuses_to_assign_still_gets_the_issue(server, gh, sleeps):
    server.assignable = {"alice"}
    result = sync_issue(gh, verdict(0.42), owner="@mallory")
    issue = server.issues[result.number]
    assert issue["assignees"] == []
    assert "Owner: @mallory" in issue["body"]  # mentioned: notified all the same
    assert [p["body"].get("assignees") for p in _posts(server, "/issues")] == [["mallory"], None]
    assert sleeps == []


def test_github_login():
    assert github_login("@alice") == "alice"
    assert github_login(" data-team-lead ") == "data-team-lead"
    for not_a_login in ("Jane Doe", "jane.doe", "a@b.c", "@org/team", "", None, "-x", "x--y"):
        assert github_login(not_a_login) is None


def test_figures_round_to_two_significant_digits():
    assert figures(verdict(0.4213))["rules"]["drift-share"]["observed"] == 0.42
    assert figures(verdict(0.4187))["rules"]["drift-share"]["observed"] == 0.42
    assert figures(verdict(0.455))["rules"]["drift-share"]["observed"] == 0.46
    assert figures(verdict(0.1))["rules"] == {}
    nan = verdict(0.42)
    nan["rules"][0]["observed"] = float("nan")
    assert figures(nan)["rules"]["drift-share"]["observed"] is None


def test_a_verdict_of_another_schema_is_refused(gh):
    with pytest.raises(InvalidInput, match=r"mlgate.monitoring/1 verdict, got 'mlgate.verdict/2'"):
        sync_issue(gh, {**verdict(0.42), "schema": "mlgate.verdict/2"}, owner=None)


def test_report_markdown_is_folded_and_cut_to_fit(server, gh):
    result = sync_issue(gh, verdict(0.42), owner="alice", report_markdown="# report\n" + "x" * 100_000)
    body = server.issues[result.number]["body"]
    assert "<details><summary>Full report</summary>" in body
    assert "report cut to fit" in body
    assert len(body) <= 65_536
    assert body.endswith("-->")  # the marker and the figures survive the cut


# ---------------------------------------------------------------------- post-deployment reviews

PROMOTED = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)


def _reviews(gh, now, days=(30, 90, 180), version=2, owner="@alice"):
    return review_issues(
        gh,
        model="credit",
        stage="production",
        version=version,
        promoted_at=PROMOTED,
        days=list(days),
        now=now,
        owner=owner,
    )


def test_reviews_not_due_open_nothing(server, gh):
    out = _reviews(gh, PROMOTED + timedelta(days=29, hours=23))
    assert [r.action for r in out] == ["not_due", "not_due", "not_due"]
    assert server.issues == {}
    assert server.requests == []


def test_a_due_review_opens_once(server, gh):
    out = _reviews(gh, PROMOTED + timedelta(days=30))
    [issue] = server.issues.values()
    assert [r.as_dict() for r in out] == [
        {"day": 30, "action": "opened", "number": issue["number"], "url": issue["html_url"]},
        {"day": 90, "action": "not_due", "number": None, "url": None},
        {"day": 180, "action": "not_due", "number": None, "url": None},
    ]
    assert issue["title"] == "credit@production v2: 30-day post-deployment review"
    assert [label["name"] for label in issue["labels"]] == ["mlgate", "review"]
    assert [a["login"] for a in issue["assignees"]] == ["alice"]
    assert "<!-- mlgate:review model=credit stage=production version=2 day=30 -->" in issue["body"]
    assert "due on 2026-02-09" in issue["body"]
    again = _reviews(gh, PROMOTED + timedelta(days=31))
    assert again[0] == replace(out[0], action=IssueAction.EXISTS)
    assert len(server.issues) == 1


def test_a_closed_review_is_never_reopened_nor_duplicated(server, gh):
    [first, *_] = _reviews(gh, PROMOTED + timedelta(days=45))
    gh.close_issue(first.number, "reviewed: keep")
    later = _reviews(gh, PROMOTED + timedelta(days=200))
    assert [(r.day, r.action) for r in later] == [(30, "exists"), (90, "opened"), (180, "opened")]
    assert server.issues[first.number]["state"] == "closed"
    assert len(server.issues) == 3
    assert _reviews(gh, PROMOTED + timedelta(days=201)) == [replace(r, action=IssueAction.EXISTS) for r in later]
    assert len(server.issues) == 3


def test_a_new_version_has_its_own_reviews(server, gh):
    _reviews(gh, PROMOTED + timedelta(days=30), days=[30])
    out = _reviews(gh, PROMOTED + timedelta(days=30), days=[30], version=3)
    assert out[0].action == "opened"
    assert sorted(i["title"] for i in server.issues.values()) == [
        "credit@production v2: 30-day post-deployment review",
        "credit@production v3: 30-day post-deployment review",
    ]


@pytest.mark.parametrize("how", ["close", "502"])
def test_a_review_whose_answer_was_lost_opens_once(server, gh, how):
    server.lose_next(1, how)
    out = _reviews(gh, PROMOTED + timedelta(days=30), days=[30], owner="Jane Doe")
    [issue] = server.issues.values()
    assert [r.as_dict() for r in out] == [
        {"day": 30, "action": "opened", "number": issue["number"], "url": issue["html_url"]}
    ]
    assert issue["assignees"] == []
    assert len(_posts(server, "/issues")) == 1


def test_naive_datetimes_are_utc(server, gh):
    out = review_issues(
        gh,
        model="credit",
        stage="production",
        version=2,
        promoted_at=datetime(2026, 1, 10, 9, 30),
        days=[30],
        now=datetime(2026, 2, 9, 9, 29),
        owner=None,
    )
    assert out[0].action == "not_due"


# ---------------------------------------------------------------------- custody: one reader of the stored figures

CUSTODY_BLOCK = re.compile(r"<!-- mlgate:custody-figures (.*?) -->", re.DOTALL)
STORED = '[["credit","production","Tampered",3,3],["credit","staging","MovedOutOfBand",4,2]]'


def _status_row(stage, status, desired, actual, detail=""):
    """One row of `mlgate status --json`, as `mlgate status --check --alert` hands it to the custody issue."""
    return {
        "model": "credit",
        "stage": stage,
        "desired": desired,
        "actual": actual,
        "digest": "sha256:" + "ab" * 32,
        "status": status,
        "detail": detail,
        "arm": "stable",
        "traffic": None,
    }


# as `Registry.verified_folder` words it: two digests, then the files that differ
TAMPERED_DETAIL = (
    f"credit v3: its files have digest sha256:{'cd' * 32}, release.yaml pins sha256:{'ab' * 32}; "
    "file(s) that differ from the registered ones: model.skops"
)


def _custody_rows():
    return [
        _status_row("production", "Tampered", 3, 3, TAMPERED_DETAIL),
        _status_row("staging", "MovedOutOfBand", 4, 2, "the alias points at v2"),
        _status_row("champion", "Synced", 3, 3),
    ]


@pytest.fixture
def custody(server, gh, monkeypatch):
    """The custody issue as mlgate opened it for two stages out of sync: (issue, the sync that opened it)."""
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    opened = custody_alert(_custody_rows(), gh)
    assert opened.action == IssueAction.OPENED
    issue = server.issues[opened.number]
    assert CUSTODY_BLOCK.search(issue["body"]).group(1) == STORED
    assert f"| credit | production | **Tampered** | v3 | v3 | {TAMPERED_DETAIL} |" in issue["body"], "the files named"
    assert "| credit | staging | **MovedOutOfBand** | v4 | v2 | the alias points at v2 |" in issue["body"]
    return issue, opened


def test_the_stored_custody_figures_name_each_alert_and_an_unchanged_check_writes_nothing(server, gh, custody):
    issue, opened = custody
    title, url = issue["title"], issue["html_url"]
    assert title == "mlgate custody: 2 stage(s) differ from release.yaml"
    assert open_alerts(gh) == [
        OpenAlert("credit", "production", "custody", opened.number, title, url),
        OpenAlert("credit", "staging", "custody", opened.number, title, url),
    ]
    server.requests.clear()
    assert custody_alert(_custody_rows(), gh) == IssueSync(IssueAction.UNCHANGED, opened.number, url)
    assert [r["method"] for r in server.requests] == ["GET"]
    assert server.comments.get(opened.number, []) == []


@pytest.mark.parametrize(
    ("block", "listed"),
    [
        ('[["credit","production","Tampered",3,3],["credit","staging"', []),  # cut short: not JSON
        ('[{"model":"credit","stage":"production"}]', []),  # JSON, not mlgate's rows
        ('{"credit":"production"}', []),  # JSON, not a list (the pattern wants a [: no block at all)
        ('[["credit","production","Tampered",3,3],["credit","staging","MovedOutOfBand","4",2]]', ["production"]),
        ('[["credit","production","Tampered",3,3],["credit","staging"]]', ["production"]),
        ('[["credit","production","Tampered",3,3],["credit",null,"MovedOutOfBand",4,2]]', ["production"]),
        (None, []),  # the block deleted
    ],
    ids=["not-json", "objects", "not-a-list", "a-version-as-text", "a-short-row", "a-null-stage", "deleted"],
)
def test_hand_edited_custody_figures_are_read_the_same_way_by_the_sync_and_the_site(server, gh, custody, block, listed):
    """Unreadable stored figures: the site lists the stages of the rows that read; the sync says so, rewrites them."""
    issue, opened = custody
    title, url = issue["title"], issue["html_url"]
    found = CUSTODY_BLOCK.search(issue["body"])
    if block is None:
        issue["body"] = issue["body"][: found.start()] + issue["body"][found.end() :]
    else:
        issue["body"] = issue["body"][: found.start(1)] + block + issue["body"][found.end(1) :]
    # the site: no crash; one alert per stored row that reads, nothing for the rest
    assert open_alerts(gh) == [OpenAlert("credit", stage, "custody", opened.number, title, url) for stage in listed]
    # the sync: the stored figures count as missing; the current ones are posted and stored again
    assert custody_alert(_custody_rows(), gh) == IssueSync(IssueAction.COMMENTED, opened.number, url)
    [comment] = server.comments[opened.number]
    key = hashlib.sha256(json.dumps(json.loads(STORED)).encode()).hexdigest()[:12]
    assert comment["body"] == (
        "### The stored figures were unreadable\n\nThe `mlgate:custody-figures` block of this issue's body is "
        "missing or not mlgate's (was the body edited by hand?), so this check could not be compared with the last "
        "one; the body is written again from this check.\n\nNow: credit production: Tampered, "
        "credit staging: MovedOutOfBand\n\n"
        f"<!-- mlgate:custody-unreadable key={key} -->"
    )
    assert CUSTODY_BLOCK.search(issue["body"]).group(1) == STORED
    assert issue["title"] == title
    assert [label["name"] for label in issue["labels"]] == ["mlgate", "custody", "blocking"]
    # read again: the same figures, nothing written; both stages listed
    assert custody_alert(_custody_rows(), gh).action == IssueAction.UNCHANGED
    assert len(server.comments[opened.number]) == 1
    assert [a.stage for a in open_alerts(gh)] == ["production", "staging"]


def test_changed_custody_figures_that_read_are_a_change_not_unreadable(server, gh, custody):
    issue, opened = custody
    rows = [_status_row("production", "Tampered", 3, 3, "model.skops: sha256 differs")]
    assert custody_alert(rows, gh).action == IssueAction.COMMENTED
    [comment] = server.comments[opened.number]
    assert comment["body"].startswith("### The stages changed\n\nNow: credit production: Tampered\n\n")
    assert "<!-- mlgate:custody-update key=" in comment["body"]
    assert CUSTODY_BLOCK.search(issue["body"]).group(1) == '[["credit","production","Tampered",3,3]]'
    assert [(a.model, a.stage) for a in open_alerts(gh)] == [("credit", "production")]

"""Which reviews count as approvals (mlgate.github.approvals), on the captured review shape."""

from __future__ import annotations

import copy
import json

import pytest

from conftest import PROJECT
from mlgate.github.approvals import count_approvals

TEMPLATE = json.loads(
    (
        PROJECT
        / "devkit/mlgate_devkit/github_stand_in/rest-responses/github-owners-bot__reviews__reviews.35.approved.json"
    ).read_text()
)[0]
HEAD, OLD = "a" * 40, "b" * 40


def review(login: str, state: str, at: str, commit: str = HEAD, association: str = "MEMBER") -> dict:
    r = copy.deepcopy(TEMPLATE)
    r["user"]["login"], r["state"], r["submitted_at"] = login, state, at
    r["commit_id"], r["author_association"] = commit, association
    return r


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
    result = count_approvals(
        reviews, author="eve", allowed=lambda r: None if r["user"]["login"] == "ana" else "not listed"
    )
    assert result.approvers == ["ana"]
    assert result.ignored == {"zed": "not listed"}

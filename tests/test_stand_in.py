"""The GitHub stand-in as a program users run (issue #23): `python -m mlgate_devkit.github_stand_in`.

A real process on 127.0.0.1, started as the README's "Try it" says; mlgate commands run as real
processes pointed at it by the export lines it prints; the assertions read what it recorded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import PROJECT, copy_repo, git, invoke
from test_monitoring_report import verdict as monitoring_verdict

DEVKIT = PROJECT / "devkit"
MLGATE = [str(Path(sys.executable).with_name("mlgate"))]


@contextmanager
def stand_in(*flags: str, record: Path, checkout: Path) -> Iterator[dict[str, str]]:
    """The stand-in started with ``flags``; yields the environment its export lines give, then Ctrl-C."""
    env = {**os.environ, "PYTHONPATH": str(DEVKIT)}
    args = [sys.executable, "-m", "mlgate_devkit.github_stand_in", *flags, "--record", str(record)]
    proc = subprocess.Popen(args, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    exported: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip().startswith("export "):
                key, _, value = line.strip().removeprefix("export ").partition("=")
                exported[key] = value
            if line.startswith("Ctrl-C to stop"):
                break
        assert set(exported) == {"GITHUB_API_URL", "GITHUB_TOKEN", "GITHUB_REPOSITORY"}, exported
        yield exported
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("stopped"), out


def recorded(record: Path) -> dict[str, Any]:
    return json.loads(record.read_text())


@pytest.fixture
def governed(tmp_path: Path) -> tuple[Path, str]:
    """An `mlgate init` repo whose base policy names risk-officer and team acme/model-risk as governance
    approvers, and a branch changing a policy (a governance change); (repo, base commit)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    result = invoke(CliRunner(), "init", "--approver", "risk-officer", cwd=repo)
    assert result.exit_code == 0, result.output
    base = repo / "policies/base.yaml"
    governance = "\n  approvers:\n    users: [risk-officer]\n"
    assert base.read_text().count(governance) == 1
    base.write_text(base.read_text().replace(governance, governance + "    teams: [acme/model-risk]\n"))
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "governed", cwd=repo)
    sha = git("rev-parse", "HEAD", cwd=repo).strip()
    git("switch", "-qc", "laxer", cwd=repo)
    default = repo / "policies/default.yaml"
    default.write_text(default.read_text().replace("min: 0.70", "min: 0.50"))
    git("commit", "-qam", "a laxer AUC bound", cwd=repo)
    return repo, sha


def governance(repo: Path, env: dict[str, str], base: str, pr: int) -> subprocess.CompletedProcess[str]:
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    args = [*MLGATE, "governance", "--base", base, "--head", head, "--pr", str(pr)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env = {**clean, **env}
    return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_help_lists_the_flags() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlgate_devkit.github_stand_in", "--help"],
        env={**os.environ, "PYTHONPATH": str(DEVKIT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for flag in ("--repo", "--approver", "--team", "--author", "--checkout", "--port", "--token", "--record"):
        assert flag in done.stdout, flag


@pytest.mark.parametrize("bad", [["--team", "model-risk"], ["--repo", "no-slash"]])
def test_bad_flags_exit_2(bad: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlgate_devkit.github_stand_in", *bad],
        env={**os.environ, "PYTHONPATH": str(DEVKIT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert bad[0] in done.stderr


def test_a_governance_change_is_red_without_an_approver_and_green_with_one(
    governed: tuple[Path, str], tmp_path: Path
) -> None:
    repo, base = governed
    head = git("rev-parse", "HEAD", cwd=repo).strip()
    record = tmp_path / "github.json"
    with stand_in("--repo", "acme/models", record=record, checkout=repo) as env:
        blocked = governance(repo, env, base, pr=7)
    assert blocked.returncode == 1, blocked.stderr
    assert "policies/default.yaml" in blocked.stderr
    state = recorded(record)
    assert state["violations"] == []
    [pull] = state["pulls"]
    assert (pull["number"], pull["head"]["sha"], pull["head"]["ref"]) == (7, head, "laxer")
    assert pull["user"]["login"] == "data-scientist"
    [run] = state["check_runs"]
    assert (run["name"], run["head_sha"], run["conclusion"]) == ("mlgate / governance", head, "failure")

    with stand_in("--approver", "risk-officer", record=record, checkout=repo) as env:
        approved = governance(repo, env, base, pr=7)
    assert approved.returncode == 0, approved.stderr
    state = recorded(record)
    assert state["violations"] == []
    assert [r["user"]["login"] for r in state["reviews"]["7"]] == ["risk-officer"]
    [run] = state["check_runs"]
    assert (run["head_sha"], run["conclusion"]) == (head, "success")


def test_a_team_member_approves_and_someone_else_does_not_count(governed: tuple[Path, str], tmp_path: Path) -> None:
    repo, base = governed
    record = tmp_path / "github.json"
    flags = ("--team", "model-risk:ana", "--approver", "ana")  # ana is in acme/model-risk and approves
    with stand_in(*flags, record=record, checkout=repo) as env:
        assert governance(repo, env, base, pr=3).returncode == 0
    assert recorded(record)["check_runs"][0]["conclusion"] == "success"
    with stand_in("--team", "other-team:bo", "--approver", "bo", record=record, checkout=repo) as env:
        refused = governance(repo, env, base, pr=3)
    assert refused.returncode == 1, refused.stderr
    assert "review by bo does not count" in refused.stderr
    assert recorded(record)["check_runs"][0]["conclusion"] == "failure"


def test_monitor_opens_its_alert_issue_and_retraining_pull_request_on_the_stand_in(
    template_repo: Path, tmp_path: Path
) -> None:
    """`mlgate monitor --alert --propose-retrain` on a drifted verdict: one issue, one pull request, one branch."""
    repo = copy_repo(template_repo, tmp_path / "repo")
    origin = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    git("remote", "add", "origin", str(origin), cwd=repo)
    git("push", "-q", "origin", "HEAD:main", cwd=repo)
    (repo / "refresh.py").write_text("open('params.yaml', 'a').write('# refreshed\\n')\n")
    spec = repo / "models/credit/model.yaml"
    spec.write_text(
        spec.read_text().replace(
            "  rollback_procedure:", f"  retrain:\n    command: {sys.executable} refresh.py\n  rollback_procedure:"
        )
    )
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "retrain recipe", cwd=repo)
    git("push", "-q", "origin", "HEAD:main", cwd=repo)
    verdict = tmp_path / "monitoring.json"
    verdict.write_text(json.dumps(monitoring_verdict()))  # drift failed, retraining triggered
    record = tmp_path / "github.json"
    with stand_in("--repo", "acme/credit-models", "--approver", "risk-officer", record=record, checkout=repo) as env:
        args = ["monitor", "credit", "--stage", "production", "--from-verdict", str(verdict)]
        done = run_mlgate(repo, env, *args, "--alert", "--propose-retrain")
    assert done.returncode in (0, 1), done.stderr
    state = recorded(record)
    assert state["violations"] == []
    [issue] = state["issues"]
    assert "credit" in issue["title"]
    assert issue["state"] == "open"
    assert "mlgate" in [label["name"] for label in issue["labels"]]
    assert "ana.lima" in issue["body"]  # the spec's monitoring.owner (not a login: mentioned, not assigned)
    [pull] = state["pulls"]
    assert pull["head"]["ref"] == "mlgate/retrain-credit"
    assert pull["base"]["ref"] == "main"
    branch = git("rev-parse", "mlgate/retrain-credit", cwd=origin).strip()
    assert git("show", f"{branch}:params.yaml", cwd=origin).endswith("# refreshed\n")


def run_mlgate(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``mlgate ARGS`` as a process in ``repo``, GitHub's environment from the stand-in only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [*MLGATE, *args], cwd=repo, env={**clean, **env}, capture_output=True, text=True, timeout=300, check=False
    )

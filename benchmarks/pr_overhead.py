"""Benchmark: mlgate's own overhead on a pull request — validate, gate, report + publish.

Takes an existing governed repo (``--repo``, e.g. the demo's: ``python -m mlgate_devkit.demo
--no-pr --workdir /tmp/demo`` then ``--repo /tmp/demo/repo``) whose model already has a
registered version: training is not part of the overhead, and nothing is built here. It runs the
three commands of the propose workflow's model job, each in its own process as the workflow does::

    mlgate validate
    mlgate gate MODEL --base BASE --json verdict.json --github-output FILE
    mlgate report MODEL --verdict verdict.json --markdown … --html … --summary … \\
        --pr N --check-run-sha SHA --github-output FILE

``report`` posts the sticky comment and the check run to the local GitHub stand-in
(``mlgate_devkit.github_stand_in.FakeGitHub``, started here on 127.0.0.1; GITHUB_API_URL,
GITHUB_TOKEN and GITHUB_REPOSITORY point at it). ``gate`` attaches its verdict to the version, as
in the workflow, so the repo's registry gains one verdict per run. Each command's wall time is
the best of ``--repeat``; a command that fails (gate: any exit but 0 pass/warn and 1 blocked), a
missing comment or check run, or a request the stand-in found invalid exits 1. Last line::

    validate_s=… gate_s=… report_s=… total_s=…

    python benchmarks/pr_overhead.py --repo /tmp/demo/repo [--model credit] [--base REF] [--repeat 3]

mlgate is run as ``sys.executable -c 'from mlgate.cli import main; main()'``: it is imported
from this interpreter's path (``PYTHONPATH=src`` runs a source tree's code).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "devkit"))

from mlgate_devkit.github_stand_in import FakeGitHub

MLGATE = [sys.executable, "-c", "import sys; from mlgate.cli import main; sys.exit(main())"]
TOKEN = "ghs_benchmark_token"
GITHUB_REPO = "acme/pr-overhead"
PR_NUMBER = 7


def git(repo: Path, *args: str) -> str:
    """``git ARGS`` in ``repo``: its stdout."""
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def timed(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    """Wall seconds of one command (its own process); exits if it fails."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in ok:
        sys.stderr.write(f"{' '.join(cmd[3:])} exited {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-4000:]}\n")
        sys.exit(1)
    return seconds


def main() -> int:
    """Time validate, gate and report as the propose workflow runs them; print one line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, type=Path, help="a governed repo with a registered version of MODEL")
    parser.add_argument("--model", default="credit")
    parser.add_argument("--base", default="HEAD", help="the PR's base commit (gate --base); default HEAD")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the best counts")
    args = parser.parse_args()
    repo = args.repo.resolve()
    base = git(repo, "rev-parse", args.base)
    head = git(repo, "rev-parse", "HEAD")

    github = FakeGitHub(TOKEN, GITHUB_REPO).start()
    github.add_pull(PR_NUMBER)
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_EVENT_PATH", "GITHUB_STEP_SUMMARY")}
    env |= {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": GITHUB_REPO}
    best: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="mlgate-pr-overhead-") as tmp:
            out = Path(tmp)
            verdict, outputs = out / "verdict.json", out / "github-output"
            steps = {
                "validate": ([*MLGATE, "validate"], (0,)),
                "gate": (
                    [
                        *MLGATE,
                        "gate",
                        args.model,
                        "--base",
                        base,
                        "--json",
                        str(verdict),
                        "--github-output",
                        str(outputs),
                    ],
                    (0, 1),
                ),
                "report": (
                    [
                        *MLGATE,
                        "report",
                        args.model,
                        "--verdict",
                        str(verdict),
                        "--markdown",
                        str(out / "report.md"),
                        "--html",
                        str(out / "report.html"),
                        "--summary",
                        str(out / "summary.md"),
                        "--html-artifact",
                        f"the mlgate-report-{args.model} artifact of this run",
                        "--pr",
                        str(PR_NUMBER),
                        "--check-run-sha",
                        head,
                        "--github-output",
                        str(outputs),
                    ],
                    (0,),
                ),
            }
            for _ in range(max(1, args.repeat)):
                for name, (cmd, ok) in steps.items():
                    seconds = timed(cmd, repo, env, ok)
                    best[name] = min(seconds, best.get(name, seconds))
                    print(f"  {name}: {seconds:.2f}s", file=sys.stderr)
    finally:
        github.stop()
    problems = list(github.violations)
    if not github.comments.get(PR_NUMBER):
        problems.append(f"no comment on pull request #{PR_NUMBER}")
    if not github.check_runs:
        problems.append("no check run")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    total = sum(best.values())
    print(" ".join(f"{name}_s={seconds:.2f}" for name, seconds in best.items()) + f" total_s={total:.2f}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

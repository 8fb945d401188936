"""Benchmark: mlgate's cold overhead on a pull request, vs a cold MLflow process scoring the model.

Takes an existing governed repo (``--repo``, e.g. the demo's: ``python -m mlgate_devkit.demo
--no-pr --workdir /tmp/demo`` then ``--repo /tmp/demo/repo``) whose model already has a
registered version: training is not part of the overhead, and nothing is built here.

**Measured**: the PR journey of one model (:func:`pr_commands`, the one place that lists it),
each command a fresh process as the workflow runs it; a measurement is their summed wall time.
``--journey check`` (the default) is the one-process command::

    mlgate check MODEL --base BASE --summary … --pr N --check-run-sha SHA --github-output FILE

``--journey steps`` is the same work as three processes (the propose workflow's model job)::

    mlgate validate
    mlgate gate MODEL --base BASE --json verdict.json --github-output FILE
    mlgate report MODEL --verdict verdict.json --markdown … --html … --summary … \\
        --pr N --check-run-sha SHA --github-output FILE

Both post the sticky comment and the check run to the local GitHub stand-in
(``mlgate_devkit.github_stand_in.FakeGitHub``, started here on 127.0.0.1; GITHUB_API_URL,
GITHUB_TOKEN and GITHUB_REPOSITORY point at it). The verdict is attached to the version, as
in the workflow, so the repo's registry gains one verdict per run.

**Anchor**: one fresh ``python -c`` process that imports mlflow and scikit-learn, loads the
model's ``production`` version (``models:/MODEL@production``; the newest version when no alias is
set, as in a freshly trained test repo) with ``mlflow.pyfunc.load_model`` and predicts every row
of the spec's data file (its signature's columns): the least any MLflow-based check of a model
does in a fresh process.

Both run alternately (``--pairs`` times, after one warm-up of each; see ``cold.py``). A command
that fails (gate: any exit but 0 pass/warn and 1 blocked), a missing comment or check run, or a
request the stand-in found invalid exits 1. Last line (medians; see benchmarks/README.md)::

    check_s=… overhead_s=… overhead_mb=… overhead_self_mb=…      (--journey steps: validate_s= gate_s= report_s=)
    anchor_s=… anchor_mb=… anchor_self_mb=… ratio=…   (one line)

    python benchmarks/pr_overhead.py --repo /tmp/demo/repo [--model credit] [--base REF] [--pairs 3] \\
        [--journey check|steps]

mlgate runs as a user runs it (``cold.mlgate_command``: the ``mlgate`` script beside this
interpreter), so ``PYTHONPATH=src`` runs a source tree's code.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "devkit"))

import cold  # benchmarks/cold.py: fresh processes, tree peak RSS, interleaved pairs

from mlgate_devkit.github_stand_in import FakeGitHub

TOKEN = "ghs_benchmark_token"
GITHUB_REPO = "acme/pr-overhead"
PR_NUMBER = 7
ANCHOR = """
import sys
import mlflow
import mlflow.pyfunc
import pandas as pd
import sklearn

model = mlflow.pyfunc.load_model(sys.argv[1])
frame = pd.read_csv(sys.argv[2])
predicted = model.predict(frame[model.metadata.get_input_schema().input_names()])
print(len(predicted))
"""


def git(repo: Path, *args: str) -> str:
    """``git ARGS`` in ``repo``: its stdout."""
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def pr_commands(
    model: str, base: str, head: str, out: Path, journey: str = "check"
) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    """The PR overhead: step name -> (argv, accepted exit codes), run in this order (the one list).

    ``check``: one process validates, gates and reports; ``steps``: validate, gate, report apart.
    Exit 1 (blocked) is a verdict all the same.
    """
    mlgate = cold.mlgate_command()
    verdict, outputs = out / "verdict.json", out / "github-output"
    if journey == "check":
        return {
            "check": (
                [
                    *mlgate,
                    "check",
                    model,
                    "--base",
                    base,
                    "--summary",
                    str(out / "summary.md"),
                    "--html-artifact",
                    f"the mlgate-report-{model} artifact of this run",
                    "--pr",
                    str(PR_NUMBER),
                    "--check-run-sha",
                    head,
                    "--github-output",
                    str(outputs),
                ],
                (0, 1),
            )
        }
    return {
        "validate": ([*mlgate, "validate"], (0,)),
        "gate": (
            [*mlgate, "gate", model, "--base", base, "--json", str(verdict), "--github-output", str(outputs)],
            (0, 1),  # 1: blocked, a verdict all the same
        ),
        "report": (
            [
                *mlgate,
                "report",
                model,
                "--verdict",
                str(verdict),
                "--markdown",
                str(out / "report.md"),
                "--html",
                str(out / "report.html"),
                "--summary",
                str(out / "summary.md"),
                "--html-artifact",
                f"the mlgate-report-{model} artifact of this run",
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


def anchor_target(repo: Path, model: str, env: dict[str, str]) -> tuple[str, Path]:
    """(model URI, data file) the anchor scores: the production version, else the newest one."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from mlgate.config import load

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
    try:
        version = client.get_model_version_by_alias(model, "production").version
    except MlflowException:
        version = max(int(mv.version) for mv in client.search_model_versions(f"name = '{model}'"))
    spec = load(repo / "models" / model / "model.yaml").data
    return f"models:/{model}/{version}", repo / spec["data"]["path"]


def main() -> int:
    """Time the PR commands cold against the anchor, alternately; print one line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", required=True, type=Path, help="a governed repo with a registered version of MODEL")
    parser.add_argument("--model", default="credit")
    parser.add_argument("--base", default="HEAD", help="the PR's base commit (gate --base); default HEAD")
    parser.add_argument("--pairs", type=int, default=3, help="timed (overhead, anchor) pairs; medians reported")
    parser.add_argument(
        "--journey",
        choices=["check", "steps"],
        default="check",
        help="one `mlgate check` process (default) or validate, gate and report as three processes",
    )
    args = parser.parse_args()
    repo = args.repo.resolve()
    base = git(repo, "rev-parse", args.base)
    head = git(repo, "rev-parse", "HEAD")

    github = FakeGitHub(TOKEN, GITHUB_REPO).start()
    github.add_pull(PR_NUMBER)
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_EVENT_PATH", "GITHUB_STEP_SUMMARY")}
    env |= {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": GITHUB_REPO}
    # the store mlgate uses (MLFLOW_TRACKING_URI, else the repo's embedded SQLite store), for both sides
    env.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{repo / 'mlflow.db'}")
    env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"  # MLflow's loader refuses skops models without it
    uri, data = anchor_target(repo, args.model, env)
    anchor_cmd = [sys.executable, "-c", ANCHOR, uri, str(data)]
    steps: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="mlgate-pr-overhead-") as tmp:
            commands = pr_commands(args.model, base, head, Path(tmp), args.journey)

            def overhead() -> cold.Sample:
                runs = []
                for name, (cmd, ok) in commands.items():
                    runs.append(cold.checked(name, cold.run(cmd, repo, env), ok))
                    steps.setdefault(name, []).append(runs[-1].seconds)
                return cold.sample(runs)

            def anchor() -> cold.Sample:
                return cold.sample([cold.checked("anchor", cold.run(anchor_cmd, repo, env))])

            print(f"anchor: {uri} predicting {data.name}", file=sys.stderr)
            ours, theirs = cold.interleaved(args.pairs, overhead, anchor)
    finally:
        github.stop()
    problems = list(github.violations)
    if not github.comments.get(PR_NUMBER):
        problems.append(f"no comment on pull request #{PR_NUMBER}")
    if not github.check_runs:
        problems.append("no check run")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    # per-step medians over the kept pairs (the warm-up's times are the first of each list)
    per_step = " ".join(f"{name}_s={statistics.median(times[1:]):.2f}" for name, times in steps.items())
    print(
        f"{per_step} {cold.summary('overhead', ours)} {cold.summary('anchor', theirs)} "
        f"ratio={cold.ratio(ours, theirs):.2f}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: `mlgate status` and `mlgate promote --plan` over many models against a loopback server.

Starts a real ``mlflow server`` on 127.0.0.1 (SQLite backend, proxied artifacts) in a temporary
directory, registers ``--models`` models with two versions each (one tiny model is logged once,
every version points at it) and sets their ``staging`` (v2), ``production`` and ``champion`` (v1)
aliases, then builds a governed git repo with one spec and one release.yaml per model (the
example ``models/insurance`` renamed) that asks for exactly that: every stage is Synced.

It then times, in this process, :func:`mlgate.promotion.status` and :func:`mlgate.promotion.make_plan`
(best of ``--repeat``), checks that every row is Synced and the plan has no change (exit 1
otherwise), and prints one machine-readable line last (seconds; see benchmarks/README.md)::

    models=100 status_s=… plan_s=…

    python benchmarks/registry.py --models 100 [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
TEMPLATE = "insurance"
STAGES = {"staging": 2, "production": 1}

sys.path.insert(0, str(PROJECT / "devkit"))  # the server start/stop shared with the tests
from mlgate_devkit.mlflow_server import start_mlflow_server, stop_mlflow_server

# --------------------------------------------------------------------------- the fixtures


def names(count: int) -> list[str]:
    """The model names of a benchmark repo with ``count`` models."""
    return [f"bench{i:04d}" for i in range(count)]


def build_repo(repo: Path, models: list[str]) -> None:
    """A governed git repo: policies/, params.yaml, data pointers, one spec + release per model."""
    repo.mkdir(parents=True)
    shutil.copytree(PROJECT / "policies", repo / "policies")
    (repo / "data").mkdir()
    shutil.copy2(PROJECT / "data" / f"{TEMPLATE}.csv.dvc", repo / "data")
    spec = (PROJECT / "models" / TEMPLATE / "model.yaml").read_text()
    params = (PROJECT / "params.yaml").read_text()
    section = re.search(rf"^{TEMPLATE}:\n(?:[ \t]+.*\n)+", params, re.MULTILINE)
    assert section, f"params.yaml has no {TEMPLATE}: section"
    lines = ["# Estimator params per model (benchmark copies of the insurance example)."]
    for name in models:
        folder = repo / "models" / name
        folder.mkdir(parents=True)
        (folder / "model.yaml").write_text(spec.replace(f"name: {TEMPLATE}", f"name: {name}", 1))
        release = [f"model: {name}", "stages:", *(f"  {stage}: {version}" for stage, version in STAGES.items())]
        (folder / "release.yaml").write_text("\n".join(release) + "\n")
        lines.append(section.group(0).replace(f"{TEMPLATE}:", f"{name}:", 1).rstrip("\n"))
    (repo / "params.yaml").write_text("\n".join(lines) + "\n")
    env = os.environ | {
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@mlgate.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@mlgate.invalid",
    }
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "governed repo"]):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True, capture_output=True)


def fill_registry(url: str, models: list[str]) -> None:
    """Log one tiny model, then two versions per model pointing at it, with the stage aliases."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    experiment = client.create_experiment("bench")
    run = client.create_run(experiment)
    client.log_text(run.info.run_id, "a stand-in model: status and plan never load it", "model/README.txt")
    client.set_terminated(run.info.run_id)
    source = f"{run.info.artifact_uri}/model"
    for name in models:
        client.create_registered_model(name)
        for _ in range(2):
            client.create_model_version(name, source, run_id=run.info.run_id, await_creation_for=0)
        for stage, version in STAGES.items():
            client.set_registered_model_alias(name, stage, str(version))
        client.set_registered_model_alias(name, "champion", str(STAGES["production"]))


def best_of(repeat: int, func: Callable[[], Any]) -> tuple[float, Any]:
    """The best wall time of ``repeat`` calls of ``func``, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Build a repo of many models and versions, time the registry commands on it; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100, help="how many models (2 stages each)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each, best reported")
    parser.add_argument("--keep", type=Path, help="build in DIR and keep it (default: a temp dir, removed)")
    args = parser.parse_args(argv)

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    base = args.keep or Path(tempfile.mkdtemp(prefix="mlgate-bench-registry-"))
    base.mkdir(parents=True, exist_ok=True)
    models = names(args.models)
    started = time.perf_counter()
    url, proc = start_mlflow_server(base / "server")
    try:
        print(f"mlflow server at {url} ({time.perf_counter() - started:.1f} s to start)", flush=True)
        started = time.perf_counter()
        fill_registry(url, models)
        build_repo(base / "repo", models)
        print(
            f"{len(models)} models x 2 versions, aliases {', '.join(STAGES)} + champion, "
            f"repo with {len(models)} specs and releases ({time.perf_counter() - started:.1f} s)",
            flush=True,
        )

        from mlgate import promotion
        from mlgate.registry import Registry

        repo = base / "repo"
        registry = Registry(repo, url)
        status_s, rows = best_of(args.repeat, lambda: promotion.status(repo, registry))
        plan_s, plan = best_of(args.repeat, lambda: promotion.make_plan(repo, registry))
        wrong = [r for r in rows if r.status != "Synced"]
        ok = len(rows) == 2 * len(models) and not wrong and not plan.changes and len(plan.synced) == 2 * len(models)
        print(
            f"status: {len(rows)} rows, {len(rows) - len(wrong)} Synced; plan: {len(plan.changes)} change(s), "
            f"{len(plan.synced)} synced",
            flush=True,
        )
        if not ok:
            print(f"NOT IN SYNC: {wrong[:3]} {[c.as_dict() for c in plan.changes[:3]]}", file=sys.stderr)
        print(f"models={len(models)} status_s={status_s:.2f} plan_s={plan_s:.2f}")
        return 0 if ok else 1
    finally:
        stop_mlflow_server(proc)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

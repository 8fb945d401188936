"""Benchmark: a cold `mlgate status` over many models against a loopback server, vs an MLflow anchor.

Starts a real ``mlflow server`` on 127.0.0.1 (SQLite backend, proxied artifacts) in a temporary
directory, registers ``--models`` models with two versions each (one tiny model is logged once,
every version points at it) and sets their ``staging`` (v2), ``production`` and ``champion`` (v1)
aliases, then builds a governed git repo with one spec and one release.yaml per model (the
example ``models/insurance`` renamed) that asks for exactly that: every stage is Synced.

It then runs, each in a fresh process (see ``cold.py``), alternately ``--pairs`` times after one
warm-up of each:

* ``mlgate status --check --json FILE`` in the repo (MLFLOW_TRACKING_URI at the server), as a
  user runs it; every row must be Synced (exit 1 otherwise);
* the anchor: ``python -c`` importing mlflow and listing every registered model with its aliases
  (``MlflowClient().search_registered_models``, all pages) — the least a script reading the same
  registry facts does.

Last line (medians; see benchmarks/README.md)::

    models=100 status_s=… status_mb=… status_self_mb=… anchor_s=… anchor_mb=… anchor_self_mb=… ratio=…

    python benchmarks/registry.py --models 100 [--pairs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
TEMPLATE = "insurance"
STAGES = {"staging": 2, "production": 1}

sys.path.insert(0, str(PROJECT / "devkit"))  # the server start/stop shared with the tests
import cold  # benchmarks/cold.py: fresh processes, tree peak RSS, interleaved pairs

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


ANCHOR = """
import sys
from mlflow import MlflowClient

client, token, found = MlflowClient(), None, {}
while True:
    page = client.search_registered_models(max_results=1000, page_token=token)
    found.update({model.name: dict(model.aliases) for model in page})
    token = page.token
    if not token:
        break
print(len(found), sum(len(aliases) for aliases in found.values()))
"""


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Build a repo of many models and versions, time cold `mlgate status` against the anchor; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100, help="how many models (2 stages each)")
    parser.add_argument("--pairs", type=int, default=3, help="timed (status, anchor) pairs; medians reported")
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
        repo = base / "repo"
        build_repo(repo, models)
        print(
            f"{len(models)} models x 2 versions, aliases {', '.join(STAGES)} + champion, "
            f"repo with {len(models)} specs and releases ({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        env = os.environ | {"MLFLOW_TRACKING_URI": url}
        rows_json = base / "status.json"
        status_cmd = [*cold.mlgate_command(), "status", "--check", "--json", str(rows_json)]
        anchor_cmd = [sys.executable, "-c", ANCHOR]
        wrong: list[dict[str, Any]] = []

        def status() -> cold.Sample:
            done = cold.checked("mlgate status", cold.run(status_cmd, repo, env), ok=(0, 1))
            rows = json.loads(rows_json.read_text())
            wrong.extend(r for r in rows if r["status"] != "Synced")
            if len(rows) != 2 * len(models):
                wrong.append({"rows": len(rows)})
            return cold.sample([done])

        def anchor() -> cold.Sample:
            done = cold.checked("anchor", cold.run(anchor_cmd, repo, env))
            if done.stdout.split() != [str(len(models)), str(3 * len(models))]:
                sys.exit(
                    f"anchor listed {done.stdout.strip()!r}, expected {len(models)} models, {3 * len(models)} aliases"
                )
            return cold.sample([done])

        ours, theirs = cold.interleaved(args.pairs, status, anchor)
        if wrong:
            print(f"NOT IN SYNC: {wrong[:3]}", file=sys.stderr)
        print(f"status: {2 * len(models)} rows, all Synced: {not wrong}", flush=True)
        print(
            f"models={len(models)} {cold.summary('status', ours)} {cold.summary('anchor', theirs)} "
            f"ratio={cold.ratio(ours, theirs):.2f}"
        )
        return 1 if wrong else 0
    finally:
        stop_mlflow_server(proc)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

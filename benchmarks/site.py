"""Benchmark: a cold `mlgate site` (full build, and an incremental rebuild) over many models vs `mlgate status`.

Builds what ``registry.py`` builds — a real ``mlflow server`` on 127.0.0.1 (SQLite backend,
proxied artifacts), ``--models`` models with two versions each and the ``staging`` (v2),
``production`` and ``champion`` (v1) aliases, and a governed git repo whose release.yaml files ask
for exactly that — and adds what the site shows beyond status: per model one run holding a gate
verdict artifact per version, and the version tags a gated version carries (the ``mlgate.gates``
record naming the artifact and its sha256, the git commit, data md5s).

It then runs, each in a fresh process as a user runs it (``cold.py``: start-up and imports
included; peak memory of the whole process tree), one warm-up of each and then ``--rounds``
rounds of, in turn:

* the anchor ``mlgate status --check --json FILE`` (every row must be Synced);
* ``mlgate site --output DIR --full --json FILE``: every model rendered, every verdict downloaded;
* ``mlgate site --output DIR --json FILE`` after one model changed (a new tag on one of its
  versions, written between the runs): exactly that model must be re-rendered, the others reused.

Last line (medians; see benchmarks/README.md)::

    models=100 status_s=… status_mb=… status_self_mb=… full_s=… full_mb=… full_self_mb=…
    incremental_s=… incremental_mb=… incremental_self_mb=… full_ratio=… ratio=…   (one line)

``ratio`` is incremental / status (the goal: ≤ 1.0), ``full_ratio`` full / status.

    python benchmarks/site.py --models 100 [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "devkit"))  # the server start/stop shared with the tests
import cold  # benchmarks/cold.py: fresh processes, tree peak RSS
from registry import STAGES, build_repo, names  # the status benchmark's fixtures

from mlgate_devkit.mlflow_server import start_mlflow_server, stop_mlflow_server

FAMILIES = ("documentation", "drift", "fairness", "governance", "integrity", "performance")
VERDICT_DIR = "mlgate/verdicts"  # where `mlgate gate` keeps a version's verdicts on its run


def verdict(name: str, version: int, commit: str) -> dict:
    """A small gate verdict as `mlgate gate` writes it (the fields the site reads)."""
    rules = [
        {
            "family": "performance",
            "rule_id": f"performance.mae.{i}",
            "metric": "mae",
            "observed": 2500.0 + i,
            "threshold": 4000.0,
            "comparison": "max",
            "severity": "block",
            "status": "pass",
            "description": "",
            "explanation": "",
        }
        for i in range(8)
    ]
    return {
        "schema": "mlgate.verdict/2",
        "model": name,
        "version": version,
        "stage": None,
        "status": "pass",
        "counts": {"pass": len(rules), "fail": 0, "error": 0, "skipped": 0},
        "families": {f: "pass" for f in FAMILIES},
        "commit": commit,
        "policy": {"sha256": "0" * 64},
        "rules": rules,
        "lineage": {"tags": {}, "run_url": None},
        "evaluated_at": "2026-01-01T00:00:00Z",
    }


def fill_registry(url: str, models: list[str], commit: str) -> None:
    """Per model: a run holding a stand-in model file and a verdict per version, two gated versions, the aliases.

    Status and the site never load a model: the stand-in is one small text file.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    experiment = client.create_experiment("bench")
    for name in models:
        info = client.create_run(experiment).info
        run, source = info.run_id, f"{info.artifact_uri}/model"
        client.log_text(run, "a stand-in model: status and the site never load it", "model/README.txt")
        client.create_registered_model(name)
        for version in (1, 2):
            payload = json.dumps(verdict(name, version, commit), indent=2)
            sha = hashlib.sha256(payload.encode()).hexdigest()
            artifact = f"{VERDICT_DIR}/20260101T000000Z-all-{sha[:12]}.json"
            client.log_text(run, payload, artifact)
            record = {
                "verdict": artifact,
                "sha256": sha,
                "status": "pass",
                "stage": "all",
                "policy_sha256": "0" * 64,
                "evaluated_at": "2026-01-01T00:00:00Z",
                "families": {f: "pass" for f in FAMILIES},
                "data": {"dataset": "d" * 32},
            }
            tags = {
                "mlgate.gates": json.dumps(record, sort_keys=True, separators=(",", ":")),
                "mlgate.git.commit": commit,
                "mlgate.data.dataset.md5": "d" * 32,
            }
            client.create_model_version(name, source, run_id=run, tags=tags, await_creation_for=0)
        client.set_terminated(run)
        for stage, version in STAGES.items():
            client.set_registered_model_alias(name, stage, str(version))
        client.set_registered_model_alias(name, "champion", str(STAGES["production"]))


def main(argv: list[str] | None = None) -> int:
    """Build a registry and repo of many models, time cold `mlgate site` against `mlgate status`; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=100, help="how many models (2 stages each)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (status, full, incremental)")
    parser.add_argument("--keep", type=Path, help="build in DIR and keep it (default: a temp dir, removed)")
    args = parser.parse_args(argv)

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "GITHUB_TOKEN"):
        os.environ.pop(var, None)
    base = args.keep or Path(tempfile.mkdtemp(prefix="mlgate-bench-site-"))
    base.mkdir(parents=True, exist_ok=True)
    models = names(args.models)
    started = time.perf_counter()
    url, proc = start_mlflow_server(base / "server")
    try:
        repo = base / "repo"
        build_repo(repo, models)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
        commit = head.stdout.strip()
        fill_registry(url, models, commit)
        print(
            f"{len(models)} models x 2 gated versions, aliases {', '.join(STAGES)} + champion "
            f"({time.perf_counter() - started:.1f} s to set up)",
            flush=True,
        )
        env = os.environ | {"MLFLOW_TRACKING_URI": url}
        site_dir = base / "site"
        status_json, site_json = base / "status.json", base / "site.json"
        status_cmd = [*cold.mlgate_command(), "status", "--check", "--json", str(status_json)]
        site_cmd = [*cold.mlgate_command(), "site", "--output", str(site_dir), "--json", str(site_json)]
        problems: list[str] = []
        changes = iter(range(1_000_000))

        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=url, registry_uri=url)

        def status() -> cold.Sample:
            done = cold.checked("mlgate status", cold.run(status_cmd, repo, env), ok=(0, 1))
            rows = json.loads(status_json.read_text())
            if len(rows) != 2 * len(models) or any(r["status"] != "Synced" for r in rows):
                problems.append(f"status: {len(rows)} rows, not all Synced")
            return cold.sample([done])

        def full() -> cold.Sample:
            done = cold.checked("mlgate site --full", cold.run([*site_cmd, "--full"], repo, env))
            result = json.loads(site_json.read_text())
            if sorted(result["rendered"]) != models:
                problems.append(f"full build rendered {len(result['rendered'])} of {len(models)} models")
            return cold.sample([done])

        def incremental() -> cold.Sample:
            changed = models[next(changes) % len(models)]
            client.set_model_version_tag(changed, "2", "mlgate.bench.touched", str(time.time()))
            done = cold.checked("mlgate site", cold.run(site_cmd, repo, env))
            result = json.loads(site_json.read_text())
            if result["rendered"] != [changed] or len(result["reused"]) != len(models) - 1:
                problems.append(f"incremental build rendered {result['rendered']}, expected [{changed}]")
            return cold.sample([done])

        for side in (status, full, incremental):  # warm-up, not kept
            side()
        rounds: dict[str, list[cold.Sample]] = {"status": [], "full": [], "incremental": []}
        for _ in range(args.rounds):
            rounds["status"].append(status())
            rounds["full"].append(full())
            rounds["incremental"].append(incremental())
        pages = json.loads(site_json.read_text())["pages"]
        if problems:
            print("PROBLEMS: " + "; ".join(problems[:3]), file=sys.stderr)
        print(f"site: {pages} pages; status, full and incremental builds all as expected: {not problems}", flush=True)
        median = {side: statistics.median(s.seconds for s in samples) for side, samples in rounds.items()}
        print(
            f"models={len(models)} {cold.summary('status', rounds['status'])} {cold.summary('full', rounds['full'])} "
            f"{cold.summary('incremental', rounds['incremental'])} "
            f"full_ratio={median['full'] / median['status']:.2f} ratio={median['incremental'] / median['status']:.2f}"
        )
        return 1 if problems else 0
    finally:
        stop_mlflow_server(proc)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

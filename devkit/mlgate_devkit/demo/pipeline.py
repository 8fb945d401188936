"""The demo's DVC pipeline journey: a repo shaped like example-get-started, governed by mlgate.

The team already has a pipeline (prepare → featurize → train → evaluate, ``params.yaml``,
``dvc repro``, ``dvc.lock`` committed); governing it adds only ``models/classifier/model.yaml``
(``train: {dvc_stage: train}``) and a policy. The journey:

1. ``dvc repro`` as the team runs it, committed: every stage is cached;
2. ``mlgate train classifier``: the cached ``train`` stage still runs (forced), in mlgate's MLflow run;
3. a pull request that only changes ``train.n_est`` in ``params.yaml``: ``mlgate affected`` names the
   classifier for that key, and ``mlgate check`` gates it and writes the PR comment with the params
   diff (``dvc params diff`` semantics) and the pipeline's ``eval/metrics.json`` base → head.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgate import api
from mlgate_devkit.pipeline_example import MODEL, dvc, git, make_pipeline_repo, pipeline_env

Log = Callable[[str], None]
PARAM_EDIT = ("n_est: 50", "n_est: 80")


def run_pipeline(workdir: Path, log: Log) -> dict[str, Any]:
    """Govern the example pipeline in ``workdir/pipeline``; return what was trained, affected and reported."""
    repo = make_pipeline_repo(workdir / "pipeline", workdir / "pipeline-dvc-remote")
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    env = pipeline_env(uri)
    dvc(repo, "repro", "-q", env=env)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dvc repro")
    log(f"  {repo}: dvc repro ran prepare, featurize, train, evaluate; dvc.lock committed (every stage cached)")

    ws = api.workspace(repo, tracking_uri=uri)
    trained = api.train(ws, api.TrainOptions(name=MODEL))
    recorded = sorted(k for k in trained.as_dict().get("lineage", {}) if k.startswith("dvc"))
    log(f"  mlgate train {MODEL}: the cached stage ran again, forced, and registered {trained.model_uri}")

    git(repo, "checkout", "-q", "-b", "more-trees")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace(*PARAM_EDIT, 1))
    dvc(repo, "repro", "-q", env=env)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "train: 80 trees")
    found = api.affected(ws, api.AffectedOptions(base="main")).found
    log(f"  PR 'train: 80 trees' (params.yaml only): mlgate affected -> {found}")

    reports = workdir / "reports" / "pipeline"
    checked = api.check(ws, api.CheckOptions(models=(MODEL,), base="main", reports=reports))
    verdict = checked.checked[0].verdict
    changes = verdict.evidence["params"]["changes"]
    shown = ", ".join(f"{c['path']} {c['param']} {c['base']} -> {c['head']}" for c in changes)
    log(f"  mlgate check --base main: {verdict.status}; params diff: {shown}; comment {reports / (MODEL + '.md')}")
    git(repo, "checkout", "-q", "main")
    return {
        "repo": str(repo),
        "trained": trained.as_dict(),
        "lineage_dvc_keys": recorded,
        "affected": found,
        "status": verdict.status,
        "params_changes": changes,
        "report": str(reports / f"{MODEL}.md"),
    }

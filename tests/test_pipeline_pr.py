"""A DVC pipeline repo shaped like example-get-started, governed by mlgate: pull requests on it.

The repo is devkit's pipeline_example (prepare → featurize → train → evaluate, ``params.yaml``,
directory outs, ``eval/metrics.json``), unchanged except for the mlgate spec and policy. The team
works as DVC's docs have it: ``dvc repro`` and commit ``dvc.lock`` and the metrics. A params-only
pull request and one that edits upstream code are each affected, trained (``train: {dvc_stage:
train}``), gated against the real ``mlflow server`` and diffed in the report as ``dvc params diff``
and ``dvc metrics diff`` would show them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import invoke
from mlgate_devkit.pipeline_example import MODEL, dvc, git, make_pipeline_repo, pipeline_env

pytestmark = pytest.mark.server


@pytest.fixture
def pipeline(tmp_path: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The governed pipeline repo on ``main``, reproduced and committed (dvc.lock, eval/metrics.json)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    repo = make_pipeline_repo(tmp_path / "pipeline")
    dvc(repo, "repro", "-q", env=pipeline_env(mlflow_server))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dvc repro")
    assert (repo / "eval/metrics.json").is_file()
    return repo


def pull_request(repo: Path, mlflow_server: str, rel: str, old: str, new: str) -> None:
    """A branch that edits ``rel``, reproduced by its author and committed, as DVC's workflow has it."""
    git(repo, "checkout", "-q", "-b", "change")
    path = repo / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    dvc(repo, "repro", "-q", env=pipeline_env(mlflow_server))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"edit {rel}")


def affected(repo: Path, tmp_path: Path) -> dict[str, list[str]]:
    out = tmp_path / "affected.json"
    result = invoke(CliRunner(), "affected", "--base", "main", "--json", str(out), cwd=repo)
    assert result.exit_code == 0, result.output
    found: dict[str, list[str]] = json.loads(out.read_text())
    return found


def train_and_check(repo: Path, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """``mlgate train`` then ``mlgate check --base main``: the verdict and the PR comment."""
    result = invoke(CliRunner(), "train", MODEL, cwd=repo)
    assert result.exit_code == 0, result.output
    reports = tmp_path / "reports"
    result = invoke(CliRunner(), "check", "--base", "main", "--reports", str(reports), cwd=repo)
    assert result.exit_code in (0, 1), result.output  # gated: pass, or a blocking rule failed
    verdict = json.loads((reports / f"{MODEL}.verdict.json").read_text())
    return verdict, (reports / f"{MODEL}.md").read_text()


def metrics_at(repo: Path, ref: str | None) -> dict[str, float]:
    """eval/metrics.json as committed at ``ref`` (None: the workspace)."""
    if ref is None:
        return json.loads((repo / "eval/metrics.json").read_text())
    return json.loads(git(repo, "show", f"{ref}:eval/metrics.json"))


def test_a_params_only_pr_is_affected_gated_and_diffed(pipeline: Path, mlflow_server: str, tmp_path: Path) -> None:
    pull_request(pipeline, mlflow_server, "params.yaml", "n_est: 50", "n_est: 80")
    found = affected(pipeline, tmp_path)
    # dvc.lock: the author's `dvc repro` recorded the new param and outs (any dvc.lock change re-gates)
    assert found == {MODEL: ["dvc.lock", "params.yaml (train.n_est)"]}

    verdict, comment = train_and_check(pipeline, tmp_path)
    assert verdict["model"] == MODEL
    assert verdict["rules"], "the policy's rules ran"
    params = verdict["evidence"]["params"]
    upstream = ["data/data.tsv.dvc", "featurize", "prepare"]  # the input, tracked by `dvc add`, is a stage too
    assert params["dvc"] == {"targets": ["train"], "upstream": upstream, "downstream": ["evaluate"]}
    assert params["changes"] == [
        {"param": "train.n_est", "path": "params.yaml", "base": 50, "head": 80, "change": "modified"}
    ]
    assert "| params.yaml | train.n_est | 50 | 80 | modified |" in comment
    assert "No params changed" not in comment
    # evaluate's metrics, downstream of train: the committed base against the reproduced head
    base, head = metrics_at(pipeline, "main"), metrics_at(pipeline, None)
    assert base != head, "80 trees instead of 50 score the test rows differently"
    rows = {r["metric"]: r for r in params["metrics"]["rows"]}
    assert set(rows) == set(head) == {"avg_prec", "roc_auc", "accuracy"}
    for name, row in rows.items():
        assert (row["file"], row["base"], row["head"]) == ("eval/metrics.json", base[name], head[name])
        assert row["change"] == pytest.approx(head[name] - base[name])
    assert "#### Pipeline metrics (`eval/metrics.json`)" in comment
    assert f"| eval/metrics.json | roc_auc | {base['roc_auc']:.4g} | {head['roc_auc']:.4g} |" in comment


def test_an_upstream_code_pr_is_affected_gated_and_diffed(pipeline: Path, mlflow_server: str, tmp_path: Path) -> None:
    # featurize, one stage above train: 12 words instead of max_features (200) changes the feature matrices
    edit = ('CountVectorizer(max_features=params["max_features"]', "CountVectorizer(max_features=12")
    assert edit[0] in (pipeline / "src/featurization.py").read_text()
    pull_request(pipeline, mlflow_server, "src/featurization.py", *edit)
    found = affected(pipeline, tmp_path)
    assert found == {MODEL: ["dvc.lock", "src/featurization.py"]}

    verdict, comment = train_and_check(pipeline, tmp_path)
    assert verdict["model"] == MODEL
    params = verdict["evidence"]["params"]
    assert params["changes"] == []
    assert "No params changed." in comment
    assert [r["metric"] for r in params["metrics"]["rows"]] == ["accuracy", "avg_prec", "roc_auc"]

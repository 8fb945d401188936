"""`mlgate train` against the embedded SQLite MLflow: lineage tags, loadable models, reproducibility."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from conftest import copy_repo, git, invoke
from mlgate.registry import ModelVersion, Registry


def train(repo: Path, model: str, out: Path) -> dict[str, Any]:
    result = invoke(CliRunner(), "train", model, "--json", str(out), cwd=repo)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def trained(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One repo, the credit model trained twice and the insurance model once."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("trained") / "repo")
    first = train(repo, "credit", repo.parent / "credit-1.json")
    second = train(repo, "credit", repo.parent / "credit-2.json")
    insurance = train(repo, "insurance", repo.parent / "insurance-1.json")
    return {"repo": repo, "first": first, "second": second, "insurance": insurance}


def dvc_md5(repo: Path, rel: str) -> str:
    return yaml.safe_load((repo / f"{rel}.dvc").read_text())["outs"][0]["md5"]


def test_json_result_names_run_version_metrics_and_lineage(trained: dict[str, Any]) -> None:
    first, repo = trained["first"], trained["repo"]
    assert first["model"] == "credit"
    assert first["version"] == 1
    assert first["tracking_uri"] == f"sqlite:///{repo / 'mlflow.db'}"
    assert set(first["metrics"]) >= {"roc_auc", "accuracy", "f1", "log_loss", "brier"}
    assert 0.6 < first["metrics"]["roc_auc"] < 1.0
    lineage = first["lineage"]
    assert lineage["git_commit"] == git("rev-parse", "HEAD", cwd=repo).strip()
    assert lineage["git_dirty"] is False
    assert lineage["policy_files"] == ["policies/base.yaml", "policies/credit.yaml"]
    [data] = lineage["data"]
    assert data["md5"] == dvc_md5(repo, "data/german_credit.csv")
    assert data["tracked_by"] == "data/german_credit.csv.dvc"


def test_version_tags_carry_commit_data_md5_and_hashes(trained: dict[str, Any]) -> None:
    repo, first = trained["repo"], trained["first"]
    version = Registry(repo).version("credit", first["version"])
    assert isinstance(version, ModelVersion)  # mlgate's own value, not MLflow's entity
    assert (version.name, version.version) == ("credit", first["version"])
    tags = version.tags
    assert tags["mlgate.git.commit"] == first["lineage"]["git_commit"]
    assert tags["mlgate.git.dirty"] == "false"
    assert tags["mlgate.data.path.md5"] == dvc_md5(repo, "data/german_credit.csv")
    assert tags["mlgate.params.sha256"] == first["lineage"]["params_sha256"]
    assert tags["mlgate.spec.sha256"] == first["lineage"]["spec_sha256"]
    assert tags["mlgate.policy.sha256"] == first["lineage"]["policy_sha256"]
    assert tags["mlgate.version"]
    assert version.run_id == first["run_id"]


def test_retraining_unchanged_inputs_gives_the_same_metrics(trained: dict[str, Any]) -> None:
    first, second = trained["first"], trained["second"]
    assert second["version"] == first["version"] + 1
    assert second["metrics"] == first["metrics"]
    assert second["lineage"]["params_sha256"] == first["lineage"]["params_sha256"]


def test_run_has_params_holdout_metrics_and_governance_artifacts(trained: dict[str, Any]) -> None:
    registry = Registry(trained["repo"])
    run = registry.client.get_run(trained["first"]["run_id"])
    assert run.data.params["estimator.class"] == "sklearn.ensemble.RandomForestClassifier"
    assert run.data.params["estimator.random_state"] == "42"
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(trained["first"]["metrics"]["roc_auc"])
    names = {a.path for a in registry.client.list_artifacts(run.info.run_id, "mlgate")}
    assert names == {"mlgate/model.yaml", "mlgate/policy.json", "mlgate/lineage.json"}


@pytest.mark.parametrize("which", ["first", "insurance"])
def test_registered_model_loads_with_mlgate_allow_list_and_predicts(trained: dict[str, Any], which: str) -> None:
    repo, result = trained["repo"], trained[which]
    model = Registry(repo).load_model(result["model"], result["version"])
    spec = yaml.safe_load((repo / "models" / result["model"] / "model.yaml").read_text())
    rel = spec["data"].get("path") or spec["data"]["train"]
    frame = pd.read_csv(repo / rel)
    features = spec["features"]["numeric"] + spec["features"]["categorical"]
    predictions = model.predict(frame[features].head(20))
    assert len(predictions) == 20
    assert type(model).__name__ == "Pipeline"


def test_model_has_signature_input_example_and_explicit_requirements(
    trained: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow.models import Model

    repo, first = trained["repo"], trained["first"]
    mlflow.set_tracking_uri(first["tracking_uri"])
    uri = f"models:/credit/{first['version']}"
    info = Model.load(uri)
    assert info.signature is not None
    assert [c.name for c in info.signature.inputs.inputs][:2] == ["credit_amount", "duration"]
    assert info.saved_input_example_info is not None
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(repo.parent / "dl")))
    requirements = (local / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements
    assert "skops==" in requirements
    # The generic pyfunc path works too (MLflow reads the trusted types from the MLmodel file).
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    pyfunc = mlflow.pyfunc.load_model(uri)
    example = pd.read_csv(repo / "data/german_credit.csv").head(3)
    assert len(pyfunc.predict(example[[c.name for c in info.signature.inputs.inputs]])) == 3


def test_uncommitted_spec_change_is_recorded_as_dirty(governed_repo: Path, tmp_path: Path) -> None:
    spec = governed_repo / "models/insurance/model.yaml"
    spec.write_text(spec.read_text() + "\n# local edit\n")
    result = train(governed_repo, "insurance", tmp_path / "out.json")
    assert result["lineage"]["git_dirty"] is True
    # another repo trained insurance earlier in this process: each repo keeps its own store
    assert result["version"] == 1
    assert result["tracking_uri"] == f"sqlite:///{governed_repo / 'mlflow.db'}"
    assert "MLFLOW_TRACKING_URI" not in os.environ
    tags = Registry(governed_repo).version("insurance", result["version"]).tags
    assert tags["mlgate.git.dirty"] == "true"


def test_changed_params_change_params_hash_and_dvc_sees_them(governed_repo: Path, tmp_path: Path) -> None:
    from conftest import dvc

    before = train(governed_repo, "insurance", tmp_path / "before.json")
    params = governed_repo / "params.yaml"
    data = yaml.safe_load(params.read_text())
    data["insurance"]["n_estimators"] = data["insurance"].get("n_estimators", 100) + 7
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    diff = dvc("params", "diff", "--json", cwd=governed_repo)
    assert "insurance.n_estimators" in json.loads(diff)["params.yaml"]
    after = train(governed_repo, "insurance", tmp_path / "after.json")
    assert after["lineage"]["params_sha256"] != before["lineage"]["params_sha256"]


def test_missing_data_is_pulled_from_the_dvc_remote(governed_repo: Path, tmp_path: Path) -> None:
    (governed_repo / "data/insurance.csv").unlink()
    cache = governed_repo / ".dvc" / "cache"
    if cache.exists():
        import shutil

        shutil.rmtree(cache)  # force a real fetch from the directory remote
    result = train(governed_repo, "insurance", tmp_path / "out.json")
    assert (governed_repo / "data/insurance.csv").exists()
    assert result["lineage"]["data"][0]["md5"] == dvc_md5(governed_repo, "data/insurance.csv")

"""The same code against a real `mlflow server` over HTTP, and what an outage looks like."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import invoke
from mlgate.registry import Registry

pytestmark = pytest.mark.server


def test_train_registers_on_mlflow_server(
    governed_repo: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    out = tmp_path / "train.json"
    result = invoke(CliRunner(), "train", "credit", "--json", str(out), cwd=governed_repo)
    assert result.exit_code == 0, result.output
    trained = json.loads(out.read_text())
    assert trained["tracking_uri"] == mlflow_server
    assert not (governed_repo / "mlflow.db").exists(), "nothing may go to the embedded store"
    registry = Registry(governed_repo)
    version = registry.version("credit", trained["version"])
    assert version.tags["mlgate.git.commit"] == trained["lineage"]["git_commit"]
    model = registry.load_model("credit", trained["version"])
    assert hasattr(model, "predict_proba")


def test_unreachable_tracking_server_exits_3_with_reason(
    governed_repo: Path, monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    dead = f"http://127.0.0.1:{refused_port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    result = invoke(CliRunner(), "train", "credit", cwd=governed_repo)
    assert result.exit_code == 3, result.output
    assert f"MLflow at {dead} did not answer" in result.output
    assert "Traceback" not in result.output

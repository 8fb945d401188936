"""A DVC pipeline repo shaped like iterative's example-get-started, governed by mlgate.

The repo is ``mlgate_devkit.pipeline_example`` (prepare → featurize → train → evaluate, params.yaml,
directory outs, a header-less TSV input), unchanged except for the mlgate spec and policy. Its own
``dvc repro`` runs first, so every stage is cached; ``mlgate train`` must still train the
``train`` stage (``train: {dvc_stage: train}``), in mlgate's MLflow run, and record dvc.lock.
Everything is real: git, DVC with a directory remote, the session's `mlflow server`.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

from conftest import git, invoke
from mlgate.config import load_model_context
from mlgate.data import load_model_data, read_table, stage_lock, stage_upstream, write_rows
from mlgate.exceptions import SpecError
from mlgate.registry import Registry
from mlgate.training import TrainResult, train
from mlgate_devkit.pipeline_example import FILES, MLGATE_FILES, MODEL, make_pipeline_repo, pipeline_env

COLUMNS = ["id", "label", "text", "age", "hours_per_week", "sex"]


def _copy(repo: Path, dest: Path) -> Path:
    shutil.copytree(repo, dest, symlinks=True)
    return dest


def _set_spec(repo: Path, old: str, new: str) -> None:
    path = repo / "models" / MODEL / "model.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example repo after the team's own `dvc repro` (MLflow in a local file of theirs), committed: all cached."""
    base = tmp_path_factory.mktemp("pipeline")
    repo = make_pipeline_repo(base / "repo")
    user_mlflow = f"sqlite:///{base / 'user-mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "dvc", "repro"],
        cwd=repo,
        env=pipeline_env(user_mlflow),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "dvc repro", cwd=repo)
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert "Data and pipelines are up to date" in status.stdout, status.stdout
    return repo


# --------------------------------------------------------------------------- the template


def test_governing_the_pipeline_adds_only_the_spec_and_policy(cached: Path) -> None:
    """The second commit of the template is mlgate's; the first is the pipeline as its team has it."""
    first, governed = git("rev-list", "--reverse", "HEAD", cwd=cached).split()[:2]
    changed = git("diff", "--name-only", first, governed, cwd=cached).split()
    assert changed
    assert {path.split("/")[0] for path in changed} == set(MLGATE_FILES)
    pipeline = git("ls-tree", "-r", "--name-only", first, cwd=cached).split()
    assert {"dvc.yaml", "params.yaml", "data/data.tsv.dvc", "src/train.py", "src/featurization.py"} <= set(pipeline)
    assert not any(path.startswith(MLGATE_FILES) for path in pipeline)
    stages = yaml.safe_load((FILES / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["prepare", "featurize", "train", "evaluate"]
    assert stages["evaluate"]["metrics"] == [{"eval/metrics.json": {"cache": False}}]


def test_the_stage_graph_is_read_from_dvc(cached: Path) -> None:
    assert set(stage_upstream(cached, "train")) == {"prepare", "featurize"}
    assert set(stage_upstream(cached, "evaluate")) == {"prepare", "featurize", "train"}
    assert stage_upstream(cached, "prepare") == ()
    with pytest.raises(LookupError):
        stage_upstream(cached, "tarin")


# --------------------------------------------------------------------------- a cached stage trains


@pytest.fixture(scope="module")
def trained(
    cached: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, TrainResult, str]:
    """`mlgate train classifier` on a copy of the cached repo (the stage's output captured)."""
    repo = _copy(cached, tmp_path_factory.mktemp("trained") / "repo")
    lines: list[str] = []
    result = train(repo, MODEL, tracking_uri=mlflow_server, output=lines.append)
    return repo, result, "".join(lines)


@pytest.mark.server
@pytest.mark.slow
def test_a_cached_stage_trains_and_its_dvc_lock_is_recorded(
    trained: tuple[Path, TrainResult, str], cached: Path, mlflow_server: str
) -> None:
    repo, result, output = trained
    # upstream stages as dvc repro decides (cached: skipped), the stage itself run although cached
    assert "Stage 'prepare' didn't change, skipping" in output
    assert "Stage 'featurize' didn't change, skipping" in output
    assert "Running stage 'train':" in output
    assert "> python src/train.py data/features model.pkl" in output
    lock = stage_lock(repo, "train")
    assert lock is not None
    before = stage_lock(cached, "train")
    assert before is not None
    assert lock.deps == before.deps  # same inputs: the features the cached run made
    recorded = result.lineage["dvc"]
    assert recorded["stage"] == "train"
    assert recorded["deps"] == lock.deps
    assert recorded["outs"] == lock.outs
    assert recorded["params"] == {"params.yaml": {"train.min_split": 0.01, "train.n_est": 50, "train.seed": 20170428}}
    assert set(recorded["upstream"]) == {"prepare", "featurize"}
    assert recorded["deps"]["data/features"].endswith(".dir")
    registry = Registry(repo, mlflow_server)
    tags = registry.version(MODEL, result.version).tags
    assert tags["mlgate.dvc.stage"] == "train"
    assert tags["mlgate.dvc.dep.data/features"] == lock.deps["data/features"]
    assert tags["mlgate.dvc.dep.src/train.py"] == lock.deps["src/train.py"]
    assert tags["mlgate.dvc.out.model.pkl"] == lock.outs["model.pkl"]
    assert tags["mlgate.train.complete"] == "true"
    assert tags["mlgate.lineage"] == "command"
    assert tags["mlgate.data.holdout.path"] == "data/prepared/test.tsv"
    params = registry.run_params(result.run_id)
    assert params["dvc.train.n_est"] == "50"
    assert params["train.n_est"] == "50"  # what the stage's own script logged: the run is the one mlgate opened


@pytest.mark.server
@pytest.mark.slow
def test_the_featurizer_inside_the_model_takes_raw_rows(
    trained: tuple[Path, TrainResult, str], mlflow_server: str, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gates score raw holdout rows through the logged pipeline: the same ROC AUC the evaluate stage computed."""
    repo, result, _ = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    gated = invoke(cli, "gate", MODEL, "--version", str(result.version), "--json", "-", cwd=repo)
    assert gated.exit_code == 0, gated.output
    verdict = json.loads(gated.stdout)
    [auc] = [r for r in verdict["rules"] if r["rule_id"] == "performance.roc_auc"]
    # the pipeline's own evaluation: model.pkl (the classifier alone) on test.pkl (the featurized test rows)
    with (repo / "model.pkl").open("rb") as handle:
        classifier = pickle.load(handle)
    with (repo / "data" / "features" / "test.pkl").open("rb") as handle:
        matrix, labels = pickle.load(handle)
    assert auc["observed"] == pytest.approx(roc_auc_score(labels, classifier.predict_proba(matrix)[:, 1]), abs=1e-9)
    metrics = json.loads((repo / "eval" / "metrics.json").read_text())
    assert auc["observed"] == pytest.approx(metrics["roc_auc"], abs=1e-9)  # forced retrain, same seed, same model
    assert {d["path"] for d in verdict["data"]} == {"data/prepared/train.tsv", "data/prepared/test.tsv"}
    verdict_file = repo.parent / "verdict.json"
    verdict_file.write_text(gated.stdout)
    report = invoke(cli, "report", MODEL, "--verdict", str(verdict_file), "--format", "markdown", cwd=repo)
    assert report.exit_code == 0, report.output
    [line] = [line for line in report.stdout.splitlines() if line.startswith("**Evaluation data.**")]
    assert "data/prepared/test.tsv" in line
    assert "train.tsv" not in line


@pytest.mark.server
def test_dvc_repro_as_a_command_on_a_cached_stage_names_the_fix(
    cached: Path, mlflow_server: str, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`train: {command: dvc repro train}` ran nothing on a cached stage; the hint used to blame log_model."""
    repo = _copy(cached, tmp_path / "repo")
    _set_spec(repo, "  dvc_stage: train\n", f"  command: {sys.executable} -m dvc repro train\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    result = invoke(cli, "train", MODEL, cwd=repo)
    assert result.exit_code == 2, result.output
    assert "it logged 0: none" in result.stderr
    assert "Stage 'train' didn't change, skipping" in result.stderr
    assert "dvc_stage" in result.stderr
    assert "log_model" not in result.stderr


@pytest.mark.server
@pytest.mark.slow
def test_a_changed_upstream_stage_reruns_and_a_stage_logging_nothing_gets_the_right_hint(
    cached: Path, mlflow_server: str, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """featurize's params changed: DVC reruns it (prepare stays cached); a train.py that logs no model is named."""
    repo = _copy(cached, tmp_path / "repo")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("max_features: 200", "max_features: 100"))
    script = repo / "src" / "train.py"
    text = script.read_text()
    assert "with mlflow.start_run():" in text
    script.write_text(text[: text.index("with mlflow.start_run():")])  # trains, saves model.pkl, logs nothing
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    result = invoke(cli, "train", MODEL, cwd=repo)
    assert result.exit_code == 2, result.output
    assert "Stage 'prepare' didn't change, skipping" in result.stderr
    assert "Running stage 'featurize':" in result.stderr
    assert "Running stage 'train':" in result.stderr
    before, after = stage_lock(cached, "featurize"), stage_lock(repo, "featurize")
    assert before is not None
    assert after is not None
    assert after.params == {"params.yaml": {"featurize.max_features": 100, "featurize.ngrams": 2}}
    assert after.outs["data/features"] != before.outs["data/features"]
    assert "it logged 0: none" in result.stderr
    assert "the stage's cmd in dvc.yaml must call one mlflow.<flavour>.log_model(...)" in result.stderr
    assert "dvc_stage" not in result.stderr.split("hint:")[-1]  # it is one already


# --------------------------------------------------------------------------- bad input: exit 2, file:line:key


@pytest.mark.parametrize(
    ("train_block", "line", "key", "expected"),
    [
        ("train:\n  dvc_stage: train\n  command: python src/train.py\n", 21, "train -> dvc_stage", "not both"),
        ("train:\n  timeout_minutes: 5\n", 21, "train", "got neither"),
        ("train:\n  dvc_stage: 'train; rm -rf /'\n", 21, "train -> dvc_stage", "is not a stage name"),
    ],
)
def test_a_malformed_train_block_is_exit_2_at_its_key(
    tmp_path: Path, cli: CliRunner, train_block: str, line: int, key: str, expected: str
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FILES, repo)
    _set_spec(repo, "train:\n  dvc_stage: train\n", train_block)
    result = invoke(cli, "validate", cwd=repo)
    assert result.exit_code == 2, result.output
    assert f"models/{MODEL}/model.yaml:{line}" in result.stderr
    assert f"{key}: " in result.stderr
    assert expected in result.stderr


@pytest.mark.server
@pytest.mark.parametrize(("stage", "expected"), [("tarin", "tarin"), ("evaluate@x", "evaluate@x")])
def test_an_unknown_stage_is_exit_2_before_anything_runs(
    cached: Path,
    mlflow_server: str,
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    stage: str,
    expected: str,
) -> None:
    repo = _copy(cached, tmp_path / "repo")
    _set_spec(repo, "  dvc_stage: train\n", f"  dvc_stage: {stage}\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    registry = Registry(repo, mlflow_server)
    before = len(registry.versions(MODEL))
    result = invoke(cli, "train", MODEL, cwd=repo)
    assert result.exit_code == 2, result.output
    assert f"models/{MODEL}/model.yaml:21:" in result.stderr
    assert "train -> dvc_stage: " in result.stderr
    assert expected in result.stderr
    assert len(registry.versions(MODEL)) == before
    assert "Running stage" not in result.stderr  # refused before DVC ran anything


def test_validate_names_a_stage_dvc_yaml_lacks(cached: Path, cli: CliRunner, tmp_path: Path) -> None:
    repo = _copy(cached, tmp_path / "repo")
    _set_spec(repo, "  dvc_stage: train\n", "  dvc_stage: tarin\n")
    result = invoke(cli, "validate", cwd=repo)
    assert result.exit_code == 2, result.output
    assert f"models/{MODEL}/model.yaml:21:14: train -> dvc_stage: Stage 'tarin' not found" in result.stderr
    assert "tarin" in result.stderr
    _set_spec(repo, "  dvc_stage: tarin\n", "  dvc_stage: train\n")
    assert invoke(cli, "validate", cwd=repo).exit_code == 0


def test_a_foreach_group_must_name_one_item(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text("stages:\n  train:\n    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)
    with pytest.raises(LookupError, match="names 2: train@a, train@b"):
        stage_upstream(repo, "train")
    assert stage_upstream(repo, "train@a") == ()


# --------------------------------------------------------------------------- header-less TSV/CSV: data.columns


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_a_header_less_file_is_read_with_the_spec_columns(tmp_path: Path, suffix: str) -> None:
    sep = "\t" if suffix == ".tsv" else ","
    rows = [["1", "0", "a b", "30", "40", "Male"], ["2", "1", "c d", "41", "50", "Female"]]
    path = _write(tmp_path / f"rows{suffix}", "".join(sep.join(r) + "\n" for r in rows))
    frame = read_table(path, f"data/rows{suffix}", columns=COLUMNS)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 2  # the first row is data, not a header
    assert frame["age"].tolist() == [30, 41]
    # without columns, the first row would have been taken as the header (what happened before)
    assert list(read_table(path, f"data/rows{suffix}").columns) == rows[0]


def test_a_column_count_mismatch_names_the_file_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "test.tsv", "1\t0\ta b\t30\t40\tMale\n2\t1\tc d\t41\t50\n")
    with pytest.raises(SpecError) as caught:
        read_table(path, "data/prepared/test.tsv", columns=COLUMNS)
    [problem] = caught.value.problems
    assert str(problem).startswith(
        "data/prepared/test.tsv:2: data -> columns: row has 5 fields but data.columns names 6"
    )
    path = _write(tmp_path / "wide.tsv", "1\t0\ta b\t30\t40\tMale\textra\n")
    with pytest.raises(SpecError) as caught:
        read_table(path, "data/prepared/wide.tsv", columns=COLUMNS)
    assert str(caught.value.problems[0]).startswith("data/prepared/wide.tsv:1: data -> columns: row has 7 fields")


def test_a_file_with_a_header_is_not_read_as_a_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "test.tsv", "\t".join(COLUMNS) + "\n1\t0\ta b\t30\t40\tMale\n")
    with pytest.raises(SpecError, match="first row is a header"):
        read_table(path, "data/test.tsv", columns=COLUMNS)


@pytest.mark.parametrize(
    ("columns", "key", "expected"),
    [("[id, label, id]", "data -> columns -> 2", "named twice"), ("[]", "data -> columns", "name the columns")],
)
def test_bad_data_columns_are_exit_2_at_their_key(
    tmp_path: Path, cli: CliRunner, columns: str, key: str, expected: str
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FILES, repo)
    _set_spec(repo, "  columns: [id, label, text, age, hours_per_week, sex]\n", f"  columns: {columns}\n")
    result = invoke(cli, "validate", cwd=repo)
    assert result.exit_code == 2, result.output
    assert f"models/{MODEL}/model.yaml:12:" in result.stderr
    assert f"{key}: " in result.stderr
    assert expected in result.stderr


def test_the_training_rows_of_a_header_less_file_are_written_header_less(tmp_path: Path) -> None:
    """MLGATE_DATA_TRAIN of a split header-less file: the same format, so the script reads it as it reads the source."""
    lines = [f"{i}\t{i % 2}\tw{i} x\t{30 + i}\t40\tMale\n" for i in range(1, 6)]
    source = _write(tmp_path / "data.tsv", "".join(lines))
    dest = tmp_path / "rows.tsv"
    write_rows(source, "data/data.tsv", np.array([0, 3, 4]), dest, columns=COLUMNS)
    assert dest.read_text() == lines[0] + lines[3] + lines[4]


def test_parquet_keeps_its_own_column_names(tmp_path: Path) -> None:
    """A stage writing Parquet needs no data.columns: the names travel in the file (data.columns is for CSV/TSV)."""
    path = tmp_path / "train.parquet"
    pd.DataFrame({"label": [0, 1], "text": ["a b", "c d"], "age": [30, 41]}).to_parquet(path, index=False)
    frame = read_table(path, "data/prepared/train.parquet", columns=COLUMNS)
    assert list(frame.columns) == ["label", "text", "age"]
    assert frame["age"].tolist() == [30, 41]


def test_the_pipeline_data_loads_with_its_columns(cached: Path) -> None:
    """The prepare stage's header-less outputs, checked against dvc.lock and loaded by the spec's names."""
    ctx = load_model_context(cached, MODEL)
    data = load_model_data(ctx.spec, ctx.spec_doc, cached)
    assert {f.tracked_by for f in data.files} == {"dvc.lock:prepare"}
    raw: dict[str, Any] = {
        role: pd.read_csv(cached / "data" / "prepared" / name, sep="\t", header=None, names=COLUMNS)
        for role, name in (("train", "train.tsv"), ("holdout", "test.tsv"))
    }
    assert len(data.train) == len(raw["train"])
    assert len(data.holdout) == len(raw["holdout"])
    assert data.holdout["id"].tolist() == raw["holdout"]["id"].tolist()

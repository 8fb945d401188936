"""Bring your own training: declarative xgboost/lightgbm/meta-estimators, `train.command`, `mlgate register`.

Everything runs against the session's real `mlflow server`, a real git + DVC repo, and real user
scripts (this module writes `train_byo.py`, run by `mlgate train` as the spec's command, directly
and through a `dvc.yaml` stage).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import copy_repo, dvc, git, invoke
from conftest import promoted as pin_release
from mlgate.config import load_model_context
from mlgate.data import ModelData, load_model_data, prepare_columns, split_positions, write_rows
from mlgate.exceptions import UnsafeModel
from mlgate.promotion import make_plan
from mlgate.registry import Registry, audit, load_skops
from mlgate.training import command_env, train

pytestmark = pytest.mark.server

PY = sys.executable
SCRIPT = '''"""A team's own training script: reads what mlgate passes, logs one model into mlgate's run."""
import json, os, sys

import mlflow
import pandas as pd
kind = sys.argv[1]
if kind == "fail":
    print("about to fail", file=sys.stderr)
    print("boom: the training data is cursed", file=sys.stderr)
    sys.exit(3)
features = json.loads(os.environ["MLGATE_FEATURES"])
assert sorted(features) == ["categorical", "numeric", "text"], features  # every kind, even when empty
target = os.environ["MLGATE_TARGET"]
received = os.environ["MLGATE_DATA_TRAIN"]  # the training rows only: the holdout is not handed over
train = pd.read_csv(received)
for column in features["categorical"]:
    train[column] = train[column].astype(str)
X, y = train[features["numeric"]], train[target]
params = json.loads(os.environ["MLGATE_PARAMS"])
seed = int(os.environ["MLGATE_SEED"])
if kind == "touch":
    with open(os.path.join(os.environ["MLGATE_REPO"], "data", "german_credit.csv"), "a") as handle:
        handle.write("\\n")
expected_run = os.environ["MLFLOW_RUN_ID"]  # start_run() resumes it (and takes it out of the environment)
with mlflow.start_run() as run:
    assert run.info.run_id == expected_run
    mlflow.log_metric("train_rows", len(X))
    # what the script was given, for the tests to compare with mlgate's split
    mlflow.log_params({
        "seen.data_vars": ",".join(sorted(k for k in os.environ if k.startswith("MLGATE_DATA_"))),
        "seen.train_file": received,
        "seen.split": os.environ.get("MLGATE_SPLIT", ""),
    })
    mlflow.log_artifact(received, "seen")
    if kind == "sklearn":
        import skops.io
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        cols = features["numeric"] + features["categorical"]
        prep = ColumnTransformer(
            [("num", "passthrough", features["numeric"]),
             ("cat", OneHotEncoder(handle_unknown="ignore"), features["categorical"])]
        )
        model = Pipeline([("prep", prep), ("rf", RandomForestClassifier(random_state=seed, **params))])
        model.fit(train[cols], y)
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        mlflow.sklearn.log_model(
            model, name="model", serialization_format="skops", skops_trusted_types=trusted,
            input_example=train[cols].head(3),
        )
    elif kind == "xgboost":
        from xgboost import XGBClassifier

        mlflow.xgboost.log_model(XGBClassifier(n_estimators=20, max_depth=3).fit(X, y), name="model")
    elif kind == "lightgbm":
        from lightgbm import LGBMClassifier

        mlflow.lightgbm.log_model(LGBMClassifier(n_estimators=20, verbose=-1).fit(X, y), name="model")
    elif kind == "two":
        from sklearn.linear_model import LogisticRegression

        for name in ("a", "b"):
            mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name=name)
    elif kind in ("none", "touch"):
        pass
'''
DVC_YAML = f"""stages:
  train_xgb:
    cmd: {PY} train_byo.py xgboost
    deps: [train_byo.py, data/german_credit.csv]
  train_lgbm:
    cmd: {PY} train_byo.py lightgbm
    deps: [train_byo.py, data/german_credit.csv]
"""
ESTIMATOR = "estimator:\n  class: sklearn.ensemble.RandomForestClassifier\n"
COMMAND_MODELS = {
    "byo-skl": f"{PY} train_byo.py sklearn",
    "byo-xgb": f"{PY} train_byo.py xgboost",
    "byo-lgbm": f"{PY} train_byo.py lightgbm",
    "byo-xgb-dvc": f"{PY} -m dvc repro train_xgb",
    "byo-lgbm-dvc": f"{PY} -m dvc repro train_lgbm",
    "byo-fail": f"{PY} train_byo.py fail",
    "byo-two": f"{PY} train_byo.py two",
    "byo-none": f"{PY} train_byo.py none",
    "byo-touch": f"{PY} train_byo.py touch",
}
DECLARATIVE_MODELS = {
    "dec-xgb": ("xgboost.XGBClassifier", "  n_estimators: 60\n  max_depth: 3\n  learning_rate: 0.1\n"),
    "dec-lgbm": ("lightgbm.LGBMClassifier", "  n_estimators: 60\n  num_leaves: 8\n  verbose: -1\n"),
    "dec-stack": (
        "sklearn.ensemble.StackingClassifier",
        (
            "  estimators:\n"
            "    - name: rf\n      class: sklearn.ensemble.RandomForestClassifier\n"
            "      params: {n_estimators: 30, max_depth: 5}\n"
            "    - name: xgb\n      class: xgboost.XGBClassifier\n      params: {n_estimators: 30, max_depth: 3}\n"
            "  final_estimator:\n    class: sklearn.linear_model.LogisticRegression\n"
        ),
    ),
    "dec-vote": (
        "sklearn.ensemble.VotingClassifier",
        (
            "  voting: soft\n  estimators:\n"
            "    - name: rf\n      class: sklearn.ensemble.RandomForestClassifier\n      params: {n_estimators: 30}\n"
            "    - name: lgbm\n      class: lightgbm.LGBMClassifier\n      params: {n_estimators: 30, verbose: -1}\n"
        ),
    ),
    "ext": ("sklearn.ensemble.RandomForestClassifier", "  n_estimators: 30\n"),
}


def add_model(repo: Path, name: str, *, command: str | None = None, cls: str = "", params: str = "") -> None:
    """A copy of the credit spec named ``name``, trained by ``command`` or declaring ``cls`` (+ params)."""
    spec = (repo / "models" / "credit" / "model.yaml").read_text()
    spec = spec.replace("name: credit\n", f"name: {name}\n")
    if command is not None:
        spec = spec.replace(ESTIMATOR, f"train:\n  command: {command}\n  timeout_minutes: 5\n")
    else:
        spec = spec.replace("sklearn.ensemble.RandomForestClassifier", cls)
    (repo / "models" / name).mkdir()
    (repo / "models" / name / "model.yaml").write_text(spec)
    section = params or ("  n_estimators: 60\n  max_depth: 6\n" if name == "byo-skl" else "")
    if section:
        with (repo / "params.yaml").open("a") as handle:
            handle.write(f"{name}:\n{section}")


@pytest.fixture(scope="module")
def byo(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example repo with the user script, a dvc.yaml of two training stages and the specs above."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("byo") / "repo")
    (repo / "models" / "credit" / "release.yaml").unlink()
    (repo / "train_byo.py").write_text(SCRIPT)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    for name, command in COMMAND_MODELS.items():
        add_model(repo, name, command=command)
    for name, (cls, params) in DECLARATIVE_MODELS.items():
        add_model(repo, name, cls=cls, params=params)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "bring your own training", cwd=repo)
    return repo


@pytest.fixture
def server_env(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    return mlflow_server


def head(repo: Path) -> str:
    return git("rev-parse", "HEAD", cwd=repo).strip()


def versions(registry: Registry, name: str) -> list[int]:
    return [v.version for v in registry.versions(name)]


def failed_runs(registry: Registry, name: str) -> list[str]:
    return [
        r.tags.get("mlgate.train.refused", "")
        for r in registry.search_runs(f"mlgate/{name}", "")
        if r.status == "FAILED"
    ]


# --------------------------------------------------------------------------- train.command


def test_a_command_trained_sklearn_model_is_gated_reported_and_promoted(
    byo: Path, server_env: str, cli: CliRunner, tmp_path: Path
) -> None:
    result = invoke(cli, "train", "byo-skl", "--json", "-", cwd=byo)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # stdout holds the JSON alone; the script's output went to stderr
    assert payload["lineage"]["lineage"] == "command"
    registry = Registry(byo, server_env)
    mv = registry.version("byo-skl", payload["version"])
    assert mv.tags["mlgate.lineage"] == "command"
    assert mv.tags["mlgate.git.commit"] == head(byo)
    assert mv.tags["mlgate.git.dirty"] == "false"
    assert mv.tags["mlgate.train.complete"] == "true"
    assert mv.tags["mlgate.train.command"] == COMMAND_MODELS["byo-skl"]
    assert mv.tags["mlgate.data.path.md5"] == payload["lineage"]["data"][0]["md5"]
    facts = registry.run_facts(mv.run_id)
    assert facts.status == "FINISHED"
    assert (facts.params["split.seed"], facts.params["train.params.n_estimators"]) == ("42", "60")
    assert payload["metrics"]["train_rows"] == 750  # logged by the script: the train part of the split

    verdict_path = tmp_path / "verdict.json"
    gated = invoke(cli, "gate", "byo-skl", "--stage", "staging", "--json", str(verdict_path), cwd=byo)
    verdict = json.loads(verdict_path.read_text())
    roc = next(r for r in verdict["rules"] if r["metric"] == "roc_auc" and r["comparison"] == "min")
    assert 0.7 < roc["observed"] < 1.0, roc
    assert roc["status"] == "pass", roc
    assert gated.exit_code in (0, 1)
    assert (gated.exit_code == 1) == (verdict["status"] == "fail")
    assert verdict["lineage"]["tags"]["mlgate.lineage"] == "command"
    report = invoke(
        cli, "report", "byo-skl", "--verdict", str(verdict_path), "--markdown", str(tmp_path / "r.md"), cwd=byo
    )
    assert report.exit_code == 0, report.output
    assert f"trained by its own command `{COMMAND_MODELS['byo-skl']}`" in (tmp_path / "r.md").read_text()

    pin_release(byo, registry.uri, "byo-skl", "staging", 1, alias=False)  # as propose-promotion writes it
    promoted = invoke(cli, "promote", "--apply", "--no-github", "--json", "-", cwd=byo)
    assert promoted.exit_code == 0, promoted.output
    assert registry.alias_version("byo-skl", "staging") == 1


XGB_LGBM = ("byo-xgb", "byo-lgbm", "byo-xgb-dvc", "byo-lgbm-dvc")


@dataclass
class Trained:
    """One command-trained version and what its command printed."""

    version: int
    lines: list[str]


@pytest.fixture(scope="module")
def xgb_lgbm(byo: Path, mlflow_server: str) -> dict[str, Trained]:
    """The xgboost and lightgbm scripts trained once, directly and through `dvc repro` (shared: ~8 s each)."""
    trained = {}
    for name in XGB_LGBM:
        lines: list[str] = []
        result = train(byo, name, tracking_uri=mlflow_server, output=lines.append)
        trained[name] = Trained(result.version, lines)
    return trained


def mlgate_split(repo: Path, name: str) -> ModelData:
    """The train and holdout rows mlgate's own split gives for ``name``'s spec (what the gates score on)."""
    ctx = load_model_context(repo, name)
    return load_model_data(ctx.spec, ctx.spec_doc, repo)


@pytest.mark.parametrize("name", XGB_LGBM)
def test_xgboost_and_lightgbm_scripts_register_complete_versions(
    byo: Path, server_env: str, xgb_lgbm: dict[str, Trained], name: str, tmp_path: Path
) -> None:
    """Directly and as a dvc.yaml stage (`dvc repro` passes MLFLOW_RUN_ID on): one complete version each."""
    registry = Registry(byo, server_env)
    mv = registry.version(name, xgb_lgbm[name].version)
    assert (mv.tags["mlgate.lineage"], mv.tags["mlgate.train.complete"]) == ("command", "true")
    assert mv.tags["mlgate.git.commit"] == head(byo)
    assert mv.tags["mlgate.git.dirty"] == "false"
    facts = registry.run_facts(mv.run_id)
    assert facts.status == "FINISHED"
    flavour = "xgboost" if "xgb" in name else "lightgbm"
    from mlflow.models import get_model_info

    assert flavour in get_model_info(f"models:/{name}/{mv.version}").flavors
    if name.endswith("-dvc"):
        assert any("Running stage" in line for line in xgb_lgbm[name].lines), xgb_lgbm[name].lines
        stage = "train_xgb" if flavour == "xgboost" else "train_lgbm"
        assert f"  {stage}:\n" in (byo / "dvc.lock").read_text()

    # the command saw the training rows of mlgate's split and nothing else, from a file deleted afterwards
    assert facts.params["seen.data_vars"] == "MLGATE_DATA_TRAIN"
    assert json.loads(facts.params["seen.split"]) == {"holdout_fraction": 0.25, "seed": 42, "stratify": True}
    received = Path(facts.params["seen.train_file"])
    assert received.name == "german_credit.train.csv"
    assert not received.exists()
    seen = registry._mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path="seen", dst_path=str(tmp_path))
    expected = mlgate_split(byo, name).train
    got = prepare_columns(pd.read_csv(Path(seen) / received.name), load_model_context(byo, name).spec)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert (len(got), len(expected)) == (750, 750)


@pytest.mark.parametrize("name", XGB_LGBM)
def test_xgboost_and_lightgbm_versions_are_gated_and_reported(
    byo: Path, server_env: str, xgb_lgbm: dict[str, Trained], cli: CliRunner, name: str, tmp_path: Path
) -> None:
    """The verdict's ROC AUC is sklearn's on the same holdout rows, from the model as MLflow itself loads it."""
    import mlflow
    from sklearn.metrics import roc_auc_score

    version = xgb_lgbm[name].version
    out = tmp_path / "verdict.json"
    gated = invoke(cli, "gate", name, "--version", str(version), "--stage", "staging", "--json", str(out), cwd=byo)
    assert gated.exit_code in (0, 1), gated.output
    verdict = json.loads(out.read_text())
    assert (verdict["version"], verdict["lineage"]["tags"]["mlgate.lineage"]) == (version, "command")
    assert (gated.exit_code == 1) == (verdict["status"] == "fail")
    holdout = mlgate_split(byo, name).holdout
    assert verdict["judging"]["evaluation"] == {"holdout_rows": 250, "excluded_rows": 0, "reason": ""}
    assert len(holdout) == 250

    mlflow.set_tracking_uri(server_env)
    flavour = mlflow.xgboost if "xgb" in name else mlflow.lightgbm
    reference = flavour.load_model(f"models:/{name}/{version}")
    assert type(reference).__name__ == ("XGBClassifier" if "xgb" in name else "LGBMClassifier")
    numeric = load_model_context(byo, name).spec.features.numeric
    score = reference.predict_proba(holdout[numeric])[:, list(reference.classes_).index(1)]
    expected = roc_auc_score(holdout["risk"], score)
    roc = next(r for r in verdict["rules"] if r["metric"] == "roc_auc" and r["comparison"] == "min")
    assert roc["observed"] == pytest.approx(expected, abs=1e-9)
    assert verdict["metrics"]["roc_auc"] == pytest.approx(expected, abs=1e-9)
    assert roc["status"] == ("pass" if expected >= 0.70 else "fail")

    report = invoke(cli, "report", name, "--verdict", str(out), "--markdown", str(tmp_path / "r.md"), cwd=byo)
    assert report.exit_code == 0, report.output
    assert f"trained by its own command `{COMMAND_MODELS[name]}`" in (tmp_path / "r.md").read_text()


@pytest.mark.parametrize("name", ["byo-xgb", "byo-lgbm-dvc"])
def test_a_command_trained_xgboost_or_lightgbm_version_is_promoted(
    byo: Path, server_env: str, xgb_lgbm: dict[str, Trained], cli: CliRunner, name: str, tmp_path: Path
) -> None:
    """Plan, then apply: the promotion verifies the command lineage, moves the alias and writes the audit record."""
    repo = copy_repo(byo, tmp_path / "repo")  # its own commits: other tests keep byo's HEAD
    # the scripts fit the four numeric features only (ROC AUC about 0.68): this team's policy asks 0.60
    policy = repo / "policies" / "credit.yaml"
    policy.write_text(
        policy.read_text().replace(
            "    - metric: roc_auc\n      min: 0.70\n", "    - metric: roc_auc\n      min: 0.60\n"
        )
    )
    git("commit", "-q", "-am", "numeric-only models are acceptable here", cwd=repo)
    version = xgb_lgbm[name].version
    pin_release(repo, server_env, name, "staging", version, alias=False)  # as propose-promotion writes it
    registry = Registry(repo, server_env)
    plan = invoke(cli, "promote", "--plan", "--no-github", "--json", str(tmp_path / "plan.json"), cwd=repo)
    assert plan.exit_code == 0, plan.output
    [change] = [c for c in json.loads((tmp_path / "plan.json").read_text())["changes"] if c["model"] == name]
    checks = {c["check"]: c for c in change["checks"]}
    assert change["ok"], change
    assert checks["lineage"]["ok"], checks["lineage"]
    assert f"trained at {head(byo)[:12]}, which the base branch holds" in checks["lineage"]["detail"]
    assert registry.alias_version(name, "staging") is None  # a plan moves nothing

    applied = invoke(cli, "promote", "--apply", "--no-github", "--json", str(tmp_path / "apply.json"), cwd=repo)
    assert applied.exit_code == 0, applied.output
    [change] = [c for c in json.loads((tmp_path / "apply.json").read_text())["changes"] if c["model"] == name]
    assert (change["stage"], change["desired"], change["outcome"]) == ("staging", version, "applied")
    assert registry.alias_version(name, "staging") == version
    mv = registry.version(name, version)
    assert mv.tags["mlgate.lineage"] == "command"
    assert mv.tags["mlgate.commit"] == head(repo)
    [record] = audit.history(registry, name)
    assert (record.stage, record.previous, record.version, record.state) == ("staging", None, version, "done")
    assert record.commit == head(repo)
    assert record.verdict_status in ("pass", "warn")


@pytest.mark.parametrize("suffix", [".tsv", ".parquet"])
def test_the_training_rows_file_keeps_the_source_format_and_values(suffix: str, tmp_path: Path) -> None:
    """Values reach the script as the file has them: '007' stays text, 'NA' is no missing value (TSV)."""
    rows = [{"id": f"{i:03d}", "note": "NA" if i % 3 else "ok", "risk": i % 2} for i in range(40)]
    frame = pd.DataFrame(rows)
    source = tmp_path / f"in{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(source, index=False)
    else:
        frame.to_csv(source, sep="\t", index=False)
    spec = load_model_context(Path(__file__).parent.parent, "credit").spec.model_copy(update={"target": "risk"})
    train_rows, _ = split_positions(frame, spec)
    out = tmp_path / f"out{suffix}"
    write_rows(source, f"data/in{suffix}", train_rows, out)
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(out), frame.iloc[train_rows].reset_index(drop=True))
    else:
        lines = source.read_text().splitlines()
        assert out.read_text().splitlines() == [lines[0], *(lines[1 + i] for i in train_rows)]
    assert len(train_rows) == 30


def test_a_train_holdout_layout_hands_over_the_train_file_only(byo: Path, tmp_path: Path) -> None:
    """With data.train + data.holdout the command gets the train file as it is; the holdout file not at all."""
    repo = copy_repo(byo, tmp_path / "layout")
    frame = pd.read_csv(repo / "data" / "german_credit.csv")
    frame.iloc[:700].to_csv(repo / "data" / "train.csv", index=False)
    frame.iloc[700:].to_csv(repo / "data" / "holdout.csv", index=False)
    dvc("add", "-q", "data/train.csv", "data/holdout.csv", cwd=repo)
    spec = repo / "models" / "byo-xgb" / "model.yaml"
    text = spec.read_text()
    split_block = text[text.index("  path: data/german_credit.csv\n") : text.index("target:")]
    spec.write_text(text.replace(split_block, "  train: data/train.csv\n  holdout: data/holdout.csv\n"))
    ctx = load_model_context(repo, "byo-xgb")
    data = load_model_data(ctx.spec, ctx.spec_doc, repo)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = command_env(ctx, data, "http://mlflow.invalid", "run", scratch)
    assert {k for k in env if k.startswith("MLGATE_DATA_")} == {"MLGATE_DATA_TRAIN"}
    assert env["MLGATE_DATA_TRAIN"] == str((repo / "data" / "train.csv").resolve())
    assert "MLGATE_SPLIT" not in env  # nothing is split
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("byo-fail", "failed with exit code 3; its last lines:"),
        ("byo-two", "must log exactly one model into run"),
        ("byo-none", "it logged 0: none"),
        ("byo-touch", "changed its declared inputs: data/german_credit.csv"),
    ],
)
def test_a_failed_command_registers_nothing(
    byo: Path, server_env: str, cli: CliRunner, name: str, expected: str, tmp_path: Path
) -> None:
    repo = copy_repo(byo, tmp_path / "repo") if name == "byo-touch" else byo  # it changes the data
    result = invoke(cli, "train", name, "--json", "-", cwd=repo)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert json.loads(result.stdout)["ok"] is False
    if name == "byo-fail":
        assert "  | boom: the training data is cursed" in result.stderr
    registry = Registry(byo, server_env)
    assert versions(registry, name) == []
    [reason] = failed_runs(registry, name)
    assert expected in reason


# --------------------------------------------------------------------------- declarative estimators


@pytest.mark.parametrize("name", ["dec-xgb", "dec-lgbm", "dec-stack", "dec-vote"])
def test_declarative_xgboost_lightgbm_and_meta_estimators_train_and_gate(
    byo: Path, server_env: str, cli: CliRunner, name: str, tmp_path: Path
) -> None:
    trained = invoke(cli, "train", name, "--json", "-", cwd=byo)
    assert trained.exit_code == 0, trained.output
    version = json.loads(trained.stdout)["version"]
    out = tmp_path / "verdict.json"
    gated = invoke(cli, "gate", name, "--version", str(version), "--no-attach", "--json", str(out), cwd=byo)
    verdict = json.loads(out.read_text())
    roc = next(r for r in verdict["rules"] if r["metric"] == "roc_auc" and r["comparison"] == "min")
    assert 0.6 < roc["observed"] < 1.0, roc
    assert (roc["status"] == "pass") == (roc["observed"] >= 0.70)
    assert gated.exit_code == (1 if verdict["status"] == "fail" else 0)
    if name in ("dec-xgb", "dec-lgbm"):
        # the same model file is refused without the policy's estimator modules: trust comes from mlgate
        registry = Registry(byo, server_env)
        skops_file = Path(registry._download(name, version, tmp_path / "dl")[1]) / "model.skops"
        with pytest.raises(UnsafeModel, match=r"xgboost|lightgbm"):
            load_skops(skops_file)
        assert load_skops(skops_file, ("xgboost.", "lightgbm.")) is not None


def test_a_stricter_policy_blocks_a_declarative_xgboost_model(
    byo: Path, server_env: str, cli: CliRunner, tmp_path: Path
) -> None:
    repo = copy_repo(byo, tmp_path / "strict")
    policy = repo / "policies" / "credit.yaml"
    policy.write_text(policy.read_text().replace("      min: 0.70\n", "      min: 0.99\n", 1))
    git("commit", "-q", "-am", "stricter", cwd=repo)
    assert invoke(cli, "train", "dec-xgb", cwd=repo).exit_code == 0
    out = tmp_path / "v.json"
    gated = invoke(cli, "gate", "dec-xgb", "--no-attach", "--json", str(out), cwd=repo)
    assert gated.exit_code == 1, gated.output
    roc = next(r for r in json.loads(out.read_text())["rules"] if r["metric"] == "roc_auc" and r["comparison"] == "min")
    assert roc["status"] == "fail"
    assert 0.6 < roc["observed"] < 0.99


def test_a_module_outside_the_allow_list_is_refused_unimported(byo: Path, cli: CliRunner, tmp_path: Path) -> None:
    repo = copy_repo(byo, tmp_path / "refused")
    spec = repo / "models" / "credit" / "model.yaml"
    spec.write_text(spec.read_text().replace("sklearn.ensemble.RandomForestClassifier", "antigravity.Fly"))
    assert "antigravity" not in sys.modules
    result = invoke(cli, "train", "credit", cwd=repo)
    assert result.exit_code == 2, result.output
    assert (
        "models/credit/model.yaml:25:10: estimator -> class: 'antigravity.Fly' is not under an allowed" in result.stderr
    )
    assert "antigravity" not in sys.modules  # importing it would have opened a web browser
    assert not (repo / "mlflow.db").exists()


def test_a_policy_adds_an_estimator_module(byo: Path, cli: CliRunner, tmp_path: Path) -> None:
    repo = copy_repo(byo, tmp_path / "added")
    package = repo / "acme_models"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n\n\nclass Scorecard(LogisticRegression):\n    pass\n"
    )
    spec = repo / "models" / "credit" / "model.yaml"
    spec.write_text(spec.read_text().replace("sklearn.ensemble.RandomForestClassifier", "acme_models.Scorecard"))
    params = repo / "params.yaml"
    params.write_text(
        params.read_text().replace("  n_estimators: 200\n  max_depth: 6\n  min_samples_leaf: 5\n", "  C: 0.5\n")
    )
    sys.path.insert(0, str(repo))
    try:
        refused = invoke(cli, "validate", "--no-data", cwd=repo)
        assert refused.exit_code == 2
        assert "'acme_models.Scorecard' is not under an allowed" in refused.stderr
        policy = repo / "policies" / "credit.yaml"
        policy.write_text(policy.read_text() + "training:\n  estimator_modules: [acme_models.]\n")
        allowed = invoke(cli, "validate", "--no-data", cwd=repo)
        assert allowed.exit_code == 0, allowed.output
    finally:
        sys.path.remove(str(repo))
        sys.modules.pop("acme_models", None)


# --------------------------------------------------------------------------- mlgate register


def _elsewhere_model(tracking_uri: str, byo: Path, tmp_path: Path) -> tuple[str, Path]:
    """A pipeline trained outside mlgate: logged to another experiment (runs:/ URI) and saved to a folder."""
    import mlflow
    import pandas as pd
    import skops.io
    from sklearn.ensemble import RandomForestClassifier

    frame = pd.read_csv(byo / "data" / "german_credit.csv")
    numeric = ["credit_amount", "duration", "age", "job"]
    model = RandomForestClassifier(n_estimators=30, random_state=0).fit(frame[numeric], frame["risk"])
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    mlflow.set_tracking_uri(tracking_uri)
    exported = os.environ.get("MLFLOW_EXPERIMENT_ID")
    mlflow.set_experiment("somewhere-else")  # MLflow 3 also exports MLFLOW_EXPERIMENT_ID: undone below
    try:
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(
                model,
                name="rf",
                serialization_format="skops",
                skops_trusted_types=trusted,
                input_example=frame[numeric].head(3),
            )
    finally:
        if exported is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = exported
    folder = tmp_path / "saved"
    mlflow.sklearn.save_model(
        model, folder, serialization_format="skops", skops_trusted_types=trusted, input_example=frame[numeric].head(3)
    )
    return f"runs:/{run.info.run_id}/rf", folder


def test_an_external_model_is_refused_at_promotion_unless_the_policy_allows_it(
    byo: Path, server_env: str, cli: CliRunner, tmp_path: Path
) -> None:
    repo = copy_repo(byo, tmp_path / "ext")
    uri, folder = _elsewhere_model(server_env, repo, tmp_path)
    registered = invoke(
        cli,
        "register",
        "ext",
        "--model-uri",
        uri,
        "--commit",
        head(repo),
        "--data",
        "train=data/german_credit.csv",
        "--json",
        "-",
        cwd=repo,
    )
    assert registered.exit_code == 0, registered.output
    payload = json.loads(registered.stdout)
    registry = Registry(repo, server_env)
    mv = registry.version("ext", payload["version"])
    assert mv.tags["mlgate.lineage"] == "external"
    assert mv.tags["mlgate.external.commit"] == head(repo)
    assert mv.tags["mlgate.external.data.train.path"] == "data/german_credit.csv"
    assert mv.tags["mlgate.train.complete"] == "true"
    assert not any(k.startswith(("mlgate.git.", "mlgate.data.")) for k in mv.tags)  # claims are never observations
    again = invoke(cli, "register", "ext", "--model-uri", uri, "--json", "-", cwd=repo)
    assert json.loads(again.stdout)["existed"] is True
    assert versions(registry, "ext") == [payload["version"]]
    local = invoke(cli, "register", "ext", "--model-uri", str(folder), "--json", "-", cwd=repo)
    assert local.exit_code == 0, local.output
    local_mv = registry.version("ext", json.loads(local.stdout)["version"])
    assert local_mv.tags["mlgate.lineage"] == "external"
    assert registry.run_status(local_mv.run_id) == "FINISHED"

    (repo / "models" / "ext" / "release.yaml").write_text(f"model: ext\nstages:\n  staging: {payload['version']}\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "promote ext", cwd=repo)
    lineage = {c.name: c for c in make_plan(repo, registry).changes[0].checks}["lineage"]
    assert not lineage.ok
    assert "promotion -> stages -> staging -> allow_external" in lineage.detail
    assert "policies/credit.yaml" in lineage.detail

    policy = repo / "policies" / "credit.yaml"
    policy.write_text(
        policy.read_text() + "promotion:\n  stages:\n    staging:\n      require_gates: [performance]\n"
        "      allow_external: true\n"
    )
    git("commit", "-q", "-am", "this policy lets external models into staging", cwd=repo)
    lineage = {c.name: c for c in make_plan(repo, registry).changes[0].checks}["lineage"]
    assert lineage.ok, lineage.detail
    assert f"states commit {head(repo)[:12]}" not in lineage.detail  # the stated commit was the one before
    assert "external, allowed into staging" in lineage.detail


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/model", "is not one of: runs:/<run id>/<path>"),
        ("runs:/", "is not one of"),
        ("no/such/folder", "is not one of"),
        ("runs:/0123456789abcdef0123456789abcdef/model", "run 0123456789abcdef0123456789abcdef does not exist"),
        ("models:/m-0123456789abcdef", "no logged model m-0123456789abcdef"),
        ("models:/credit/7", "credit has no version 7"),
    ],
)
def test_a_malformed_model_uri_is_exit_2(byo: Path, server_env: str, cli: CliRunner, uri: str, expected: str) -> None:
    before = versions(Registry(byo, server_env), "ext")
    result = invoke(cli, "register", "ext", "--model-uri", uri, cwd=byo)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert versions(Registry(byo, server_env), "ext") == before


def test_the_command_finds_the_python_mlgate_runs_with_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # `python train.py` must import mlflow and the model's libraries even when mlgate was started
    # as .venv/bin/mlgate without activating the venv (a PATH whose python lacks them)
    from mlgate.training import child_env

    monkeypatch.setenv("PATH", os.pathsep.join(["/usr/bin", "/bin", str(Path(sys.executable).parent)]))
    monkeypatch.setenv("MLGATE_DATA_HOLDOUT", "/somewhere/holdout.csv")
    env = child_env({"MLGATE_MODEL": "m"})
    assert env["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), "/usr/bin", "/bin"]
    assert "MLGATE_DATA_HOLDOUT" not in env, "an inherited data variable could name the holdout"
    assert env["MLGATE_MODEL"] == "m"

"""Own training scripts whose sklearn pipeline needs extra skops types (issue #23).

MLflow 3.17 saves scikit-learn models with skops and refuses, at ``log_model``, any type skops
does not trust by default (``lightgbm.basic.Booster`` in a pipeline, ``operator.itemgetter`` as a
FunctionTransformer's func) unless ``skops_trusted_types`` lists it: the README's script shows it.
mlgate then loads the model with its own allow-list, never the list in the MLmodel file: a type
outside it is refused with the exact policy setting that trusts it. Real `mlflow server`, git, DVC.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PROJECT, copy_repo, git, invoke

pytestmark = pytest.mark.server

SCRIPT = '''"""A team's own script: column selection by operator.itemgetter, then LightGBM, in one pipeline."""
import json, operator, os

import mlflow
import pandas as pd
import skops.io
from lightgbm import LGBMClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

features = json.loads(os.environ["MLGATE_FEATURES"])["numeric"]
train = pd.read_csv(os.environ["MLGATE_DATA_TRAIN"])
model = Pipeline([
    ("select", FunctionTransformer(operator.itemgetter(features))),
    ("lgbm", LGBMClassifier(n_estimators=30, num_leaves=8, verbose=-1)),
])
model.fit(train[features], train[os.environ["MLGATE_TARGET"]])
with mlflow.start_run():
    mlflow.sklearn.log_model(
        model,
        name="model",
        # MLflow refuses to save types skops does not trust by default: name the ones this model holds
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        input_example=train[features].head(3),
    )
'''


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path) -> Path:
    """The example repo with a `picky` model trained by the script above."""
    repo = copy_repo(template_repo, tmp_path / "repo")
    (repo / "train_picky.py").write_text(SCRIPT)
    spec = (repo / "models/credit/model.yaml").read_text().replace("name: credit\n", "name: picky\n")
    spec = spec.replace(
        "estimator:\n  class: sklearn.ensemble.RandomForestClassifier\n",
        f"train:\n  command: {sys.executable} train_picky.py\n  timeout_minutes: 5\n",
    )
    (repo / "models/picky").mkdir()
    (repo / "models/picky/model.yaml").write_text(spec)
    (repo / "models/credit/release.yaml").unlink(missing_ok=True)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "picky", cwd=repo)
    return repo


def test_the_readme_script_passes_skops_trusted_types() -> None:
    """The README's train.command snippet shows what MLflow 3.17 needs for a pipeline of tree models."""
    readme = (PROJECT / "README.md").read_text()
    section = readme[readme.index("### Your own training: `train.command`") :]
    section = section[: section.index("\n### ", 5)]
    assert "skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model))" in section
    assert "lightgbm.basic.Booster" in section


def test_an_untrusted_stdlib_type_names_the_setting_that_trusts_it(
    repo: Path, mlflow_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    cli = CliRunner()
    trained = invoke(cli, "train", "picky", "--json", "-", cwd=repo)
    assert trained.exit_code == 0, trained.output
    version = json.loads(trained.stdout)["version"]

    refused = invoke(cli, "gate", "picky", "--json", str(tmp_path / "refused.json"), cwd=repo)
    assert refused.exit_code == 2, refused.output
    # lightgbm.* is trusted by default (an estimator module): only the stdlib helper is foreign
    assert "the model holds types outside mlgate's allow-list: operator.itemgetter\n" in refused.stderr
    assert "lightgbm" not in refused.stderr.split("allow-list:")[1].splitlines()[0]
    hint = "add `training: {skops_trusted_types: [operator.itemgetter]}` to policies/credit.yaml on the base branch"
    assert hint in refused.stderr

    policy = repo / "policies/credit.yaml"
    policy.write_text(policy.read_text() + "\ntraining:\n  skops_trusted_types: [operator.itemgetter]\n")
    git("commit", "-qam", "trust operator.itemgetter", cwd=repo)
    out = tmp_path / "verdict.json"
    gated = invoke(cli, "gate", "picky", "--json", str(out), cwd=repo)
    assert gated.exit_code in (0, 1), gated.output
    verdict = json.loads(out.read_text())
    assert verdict["version"] == version
    roc = next(r for r in verdict["rules"] if r["metric"] == "roc_auc" and r["comparison"] == "min")
    # measured (not an error): the trusted pipeline was loaded and scored on the holdout
    assert isinstance(roc["observed"], float), roc
    assert 0.55 < roc["observed"] < 1.0, roc
    assert roc["status"] == ("pass" if roc["observed"] >= roc["threshold"] else "fail"), roc
    assert not [r["rule_id"] for r in verdict["rules"] if r["status"] == "error"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("builtins.eval", "'builtins.eval' is never trusted"),
        ("os.system", "'os.system' is never trusted"),
        ("operator.methodcaller", "'operator.methodcaller' is never trusted"),
        ("operator.", "'operator.' is not a type name"),
    ],
)
def test_a_type_that_runs_code_is_never_trusted(template_repo: Path, tmp_path: Path, name: str, message: str) -> None:
    repo = copy_repo(template_repo, tmp_path / "repo")
    policy = repo / "policies/credit.yaml"
    lines = policy.read_text().splitlines()
    policy.write_text("\n".join([*lines, "training:", f"  skops_trusted_types: [operator.itemgetter, {name}]", ""]))
    result = invoke(CliRunner(), "validate", "--no-data", cwd=repo)
    assert result.exit_code == 2, result.output
    assert f"policies/credit.yaml:{len(lines) + 2}:" in result.stderr
    assert f"training -> skops_trusted_types -> 1: {message}" in result.stderr


def test_trusted_type_names_are_exact() -> None:
    from mlgate.exceptions import UnsafeModel
    from mlgate.registry import trusted_types

    assert trusted_types(["operator.itemgetter"], ("lightgbm.", "operator.itemgetter")) == ["operator.itemgetter"]
    for near in ("operator.attrgetter", "operator.itemgetterx"):
        with pytest.raises(UnsafeModel, match=f"allow-list: {near}$"):
            trusted_types([near], ("lightgbm.", "operator.itemgetter"), policy="policies/p.yaml")

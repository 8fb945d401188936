"""Gates on any MLflow model: XGBoost, LightGBM, a custom PythonModel, a pickled scikit-learn model.

Versions are logged and registered by hand with MLflow itself (as a team's own training would)
on the session's `mlflow server`, trained on the repo's German credit data. Formats that run no
code on load (XGBoost ubj, LightGBM text and skops) are gated without further ado; cloudpickle and
pickle are refused (exit 2, nothing attached) until the judged policy's ``trust.formats`` names
them. Every metric the gate reports is checked against scikit-learn's on the same predictions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn import metrics

from conftest import copy_repo, edit, git, invoke
from mlgate.config import TrustedFormat, load_model_context
from mlgate.data import load_model_data
from mlgate.registry import CODE_FORMATS, VERDICT_TAG, Registry, classify

pytestmark = pytest.mark.server

NAME = "flv-credit"
SPEC = f"models/{NAME}/model.yaml"
FEATURES = ["credit_amount", "duration", "age", "job"]
TRUSTING = "policies/trusting.yaml"


@dataclass
class Setup:
    repo: Path
    base: str  # the commit everything is gated against
    server: str
    x: pd.DataFrame  # holdout features
    y: np.ndarray  # holdout target
    versions: dict[str, int]
    models: dict[str, Any]  # the in-memory models the versions were logged from


def register(log: Callable[[], Any]) -> int:
    """Log a model in a fresh run with ``log`` and register it as a new version of NAME."""
    import mlflow

    with mlflow.start_run():
        info = log()
    return int(mlflow.register_model(info.model_uri, NAME).version)


@pytest.fixture(scope="module")
def setup(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A governed repo with model ``flv-credit`` (numeric features) and five hand-registered versions."""
    import lightgbm
    import mlflow
    import mlflow.lightgbm
    import mlflow.pyfunc
    import mlflow.sklearn
    import mlflow.xgboost
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from xgboost import XGBClassifier

    repo = copy_repo(template_repo, tmp_path_factory.mktemp("flavours") / "repo")
    git("mv", "models/credit", f"models/{NAME}", cwd=repo)
    edit(repo, SPEC, "name: credit", f"name: {NAME}")
    edit(repo, SPEC, "  categorical: [housing, saving_accounts, checking_account, purpose]\n", "")
    spec_text = (repo / SPEC).read_text()  # the example's decision block goes: these tests decide by output:
    (repo / SPEC).write_text(spec_text[: spec_text.index("# How mlgate score and mlgate serve")])
    edit(repo, f"models/{NAME}/release.yaml", "model: credit", f"model: {NAME}")
    edit(repo, "params.yaml", "\ncredit:", f"\n{NAME}:")
    (repo / TRUSTING).write_text("extends: credit.yaml\ntrust:\n  formats: [cloudpickle, pickle]\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "flv-credit: numeric features; a trusting policy", cwd=repo)
    base = git("rev-parse", "HEAD", cwd=repo).strip()

    ctx = load_model_context(repo, NAME)
    data = load_model_data(ctx.spec, ctx.spec_doc, repo)
    x_train, y_train = data.train[FEATURES], data.train["risk"].to_numpy()
    x, y = data.holdout[FEATURES], data.holdout["risk"].to_numpy()

    xgb = XGBClassifier(n_estimators=20, max_depth=3, random_state=0).fit(x_train, y_train)
    lgbm = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1, random_state=0).fit(x_train, y_train)
    booster = lightgbm.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 0}, lightgbm.Dataset(x_train, y_train), 20
    )
    logistic = LogisticRegression(max_iter=1000).fit(x_train, y_train)

    class Scorer(mlflow.pyfunc.PythonModel):  # defined here: cloudpickle stores it by value
        def __init__(self, model: Any) -> None:
            self.model = model

        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
            score = self.model.predict_proba(model_input[FEATURES])[:, 1]
            return pd.DataFrame({"rank": np.argsort(np.argsort(-score)), "score": score})

    signature = infer_signature(x_train, y_train)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        mlflow.set_tracking_uri(mlflow_server)
        mlflow.set_registry_uri(mlflow_server)
        versions = {
            "xgboost": register(
                lambda: mlflow.xgboost.log_model(xgb, name="model", signature=signature, pip_requirements=["xgboost"])
            ),
            "lightgbm": register(
                lambda: mlflow.lightgbm.log_model(
                    lgbm, name="model", signature=signature, pip_requirements=["lightgbm"]
                )
            ),
            "booster": register(
                lambda: mlflow.lightgbm.log_model(
                    booster, name="model", signature=signature, pip_requirements=["lightgbm"]
                )
            ),
            "pyfunc": register(
                lambda: mlflow.pyfunc.log_model(
                    name="model",
                    python_model=Scorer(logistic),
                    signature=infer_signature(x_train, Scorer(logistic).predict(None, x_train)),
                    pip_requirements=["scikit-learn"],
                )
            ),
            "pickle": register(
                lambda: mlflow.sklearn.log_model(
                    logistic,
                    name="model",
                    serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
                    signature=signature,
                    pip_requirements=["scikit-learn"],
                )
            ),
        }
        models = {"xgboost": xgb, "lightgbm": lgbm, "booster": booster, "pyfunc": logistic, "pickle": logistic}
        yield Setup(repo, base, mlflow_server, x, y, versions, models)


def variant(setup: Setup, tmp_path: Path, spec_edits: dict[str, str] | None = None) -> Path:
    """A copy of the repo with the spec edited (``old: new``) and committed."""
    repo = copy_repo(setup.repo, tmp_path / "repo")
    for old, new in (spec_edits or {}).items():
        edit(repo, SPEC, old, new)
    if spec_edits:
        git("commit", "-q", "-am", "spec edits", cwd=repo)
    return repo


def gate(repo: Path, version: int, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    out = repo.parent / f"verdict-{version}-{len(list(repo.parent.glob('verdict-*')))}.json"
    result = invoke(CliRunner(), "gate", NAME, "--version", str(version), "--json", str(out), *args, cwd=repo)
    verdict = json.loads(out.read_text()) if out.exists() and result.exit_code in (0, 1) else None
    return result.exit_code, verdict, result.output


def assert_metrics(verdict: dict[str, Any], y: np.ndarray, score: np.ndarray, decided: np.ndarray) -> None:
    """The gate's metrics equal scikit-learn's on the same positive-class scores and decisions."""
    hit = y == 1
    want = {
        "roc_auc": metrics.roc_auc_score(hit, score),
        "pr_auc": metrics.average_precision_score(hit, score),
        "brier": metrics.brier_score_loss(hit, score),
        "log_loss": metrics.log_loss(y, np.column_stack([1 - score, score]), labels=[0, 1]),
        "accuracy": metrics.accuracy_score(y, decided),
        "recall": metrics.recall_score(y, decided, pos_label=1),
        "precision": metrics.precision_score(y, decided, pos_label=1),
    }
    got = {k: verdict["metrics"][k] for k in want}
    assert got == pytest.approx(want, abs=1e-9)


def assert_consistent_exit(code: int, verdict: dict[str, Any] | None, output: str) -> dict[str, Any]:
    assert verdict is not None, output
    assert code == (1 if verdict["status"] == "fail" else 0), output
    return verdict


def test_the_policy_key_lists_exactly_the_code_executing_formats() -> None:
    assert set(get_args(TrustedFormat)) == set(CODE_FORMATS)


@pytest.mark.parametrize(
    ("flavours", "expected"),
    [
        ({"xgboost": {"model_format": "ubj", "model_class": "xgboost.sklearn.XGBClassifier", "data": "m.ubj"}}, ()),
        # the MLmodel names the class MLflow's loader would import and call: not one of mlgate's
        ({"xgboost": {"model_format": "json", "model_class": "os.system", "data": "m.json"}}, ("other",)),
        (
            {"lightgbm": {"model_class": "lightgbm.sklearn.LGBMClassifier", "serialization_format": "cloudpickle"}},
            ("cloudpickle",),
        ),
        ({"sklearn": {"pickled_model": "model.pkl"}}, ("pickle",)),  # MLflow's default before skops
        ({"sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"}}, ()),
        (
            {"python_function": {"loader_module": "mlflow.pyfunc.model", "python_model": "p.pkl", "code": "code"}},
            ("cloudpickle", "code"),
        ),
        ({"python_function": {"loader_module": "mlflow.pyfunc.model", "model_code_path": "model.py"}}, ("code",)),
        ({"pytorch": {"model_data": "data"}, "python_function": {"loader_module": "mlflow.pytorch"}}, ("pytorch",)),
        ({"python_function": {"loader_module": "my_company.loader"}}, ("other",)),
    ],
    ids=[
        "xgboost-ubj",
        "xgboost-foreign-class",
        "lightgbm-pickle",
        "sklearn-pickle",
        "sklearn-skops",
        "pyfunc-code-paths",
        "models-from-code",
        "pytorch",
        "unknown-loader",
    ],
)
def test_mlmodel_classification(flavours: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert classify({"flavors": flavours}).needs == expected


def test_xgboost_ubj_is_gated_without_trust_and_reported(setup: Setup, tmp_path: Path) -> None:
    repo = variant(setup, tmp_path)
    version = setup.versions["xgboost"]
    code, verdict, output = gate(repo, version)
    verdict = assert_consistent_exit(code, verdict, output)
    proba = setup.models["xgboost"].predict_proba(setup.x)
    assert_metrics(verdict, setup.y, proba[:, 1], proba.argmax(axis=1))
    assert verdict["judging"]["evaluation"]["holdout_rows"] == len(setup.y)
    assert VERDICT_TAG in Registry(repo, setup.server).version(NAME, version).tags
    markdown = tmp_path / "report.md"
    verdict_file = max(repo.parent.glob("verdict-*.json"))
    result = invoke(CliRunner(), "report", NAME, "--verdict", str(verdict_file), "--markdown", str(markdown), cwd=repo)
    assert result.exit_code == 0, result.output
    assert f"model `{NAME}` v{version}" in markdown.read_text()


@pytest.mark.parametrize("kind", ["lightgbm", "booster"])
def test_lightgbm_skops_and_text_booster_are_gated_without_trust(setup: Setup, tmp_path: Path, kind: str) -> None:
    code, verdict, output = gate(variant(setup, tmp_path), setup.versions[kind], "--no-attach")
    verdict = assert_consistent_exit(code, verdict, output)
    model = setup.models[kind]
    # a Booster's predict is the positive class's score (1-D, in [0, 1]): read at threshold 0.5
    if kind == "lightgbm":
        proba = model.predict_proba(setup.x)
        score, decided = proba[:, 1], proba.argmax(axis=1)
    else:
        score = model.predict(setup.x)
        decided = (score >= 0.5).astype(int)
    assert_metrics(verdict, setup.y, score, decided)


SCORE_OUTPUT = {
    "policy: policies/credit.yaml\n": "policy: policies/credit.yaml\noutput:\n  score_column: score\n  threshold: 0.4\n"
}


@pytest.mark.parametrize(
    ("kind", "described"),
    [
        ("pyfunc", "cloudpickle (flavour python_function, python_model.pkl)"),
        ("pickle", "pickle (flavour sklearn, model.pkl)"),
    ],
)
def test_code_executing_formats_are_refused_without_trust(
    setup: Setup, tmp_path: Path, kind: str, described: str
) -> None:
    repo = variant(setup, tmp_path, SCORE_OUTPUT)
    version = setup.versions[kind]
    code, _, output = gate(repo, version)
    assert code == 2, output
    fmt = described.split()[0]
    assert f"{NAME} v{version} is stored as {described}: loading it runs code" in output
    assert f"policies/credit.yaml does not trust {fmt}" in output
    assert f"trust: {{formats: [{fmt}]}}" in output
    assert VERDICT_TAG not in Registry(repo, setup.server).version(NAME, version).tags, "nothing attached"


def test_a_trusted_python_model_is_gated_by_its_score_column(setup: Setup, tmp_path: Path) -> None:
    repo = variant(setup, tmp_path, {**SCORE_OUTPUT, "policies/credit.yaml\n": f"{TRUSTING}\n"})
    version = setup.versions["pyfunc"]
    code, verdict, output = gate(repo, version)
    verdict = assert_consistent_exit(code, verdict, output)
    score = setup.models["pyfunc"].predict_proba(setup.x)[:, 1]
    decided = (score >= 0.4).astype(int)
    assert (decided != (score >= 0.5)).any(), "the threshold must matter on this data"
    assert_metrics(verdict, setup.y, score, decided)
    assert VERDICT_TAG in Registry(repo, setup.server).version(NAME, version).tags


def test_a_trusted_sklearn_pickle_is_gated_by_predict_proba(setup: Setup, tmp_path: Path) -> None:
    repo = variant(setup, tmp_path, {"policies/credit.yaml\n": f"{TRUSTING}\n"})
    code, verdict, output = gate(repo, setup.versions["pickle"], "--no-attach")
    verdict = assert_consistent_exit(code, verdict, output)
    proba = setup.models["pickle"].predict_proba(setup.x)
    assert_metrics(verdict, setup.y, proba[:, 1], proba.argmax(axis=1))


def test_a_pull_request_cannot_trust_its_own_model(setup: Setup, tmp_path: Path) -> None:
    """trust: comes from the base's policy: a PR adding it to the policy does not get its pickle loaded."""
    repo = variant(setup, tmp_path)
    git("checkout", "-q", "-b", "pr", cwd=repo)
    edit(repo, "policies/credit.yaml", "extends: base.yaml\n", "extends: base.yaml\ntrust:\n  formats: [cloudpickle]\n")
    edit(repo, SPEC, *next(iter(SCORE_OUTPUT.items())))
    git("commit", "-q", "-am", "trust my model", cwd=repo)
    code, verdict, output = gate(repo, setup.versions["pyfunc"], "--no-attach")
    assert_consistent_exit(code, verdict, output)  # without --base the PR's own policy judges: loaded
    code, _, output = gate(repo, setup.versions["pyfunc"], "--no-attach", "--base", setup.base)
    assert code == 2, output
    assert "policies/credit.yaml does not trust cloudpickle" in output


def test_output_that_does_not_fit_is_located_at_the_output_key(setup: Setup, tmp_path: Path) -> None:
    spec_edit = {
        "policy: policies/credit.yaml\n": f"policy: {TRUSTING}\noutput:\n  probabilities: [p_bad, p_good]\n",
    }
    repo = variant(setup, tmp_path, spec_edit)
    version = setup.versions["pyfunc"]
    code, _, output = gate(repo, version, "--no-attach")
    assert code == 2, output
    rows = len(setup.y)
    assert (
        f"{SPEC}:49:18: output -> probabilities: {NAME} v{version}: column 'p_bad' not in what predict returned: "
        f"a DataFrame of {rows} rows with columns ['rank', 'score']"
    ) in output


def test_an_xgboost_model_without_the_byo_extra_is_exit_2_naming_it(setup: Setup, tmp_path: Path) -> None:
    # xgboost is removed from a real `mlgate gate` process (tests/test_extras.py's blocker): loading
    # the ubj model imports it, and the missing package is the user's to install, not a bug (70)
    import os
    import subprocess
    import sys

    from test_extras import BLOCKER

    repo = variant(setup, tmp_path)
    before = Registry(repo, setup.server).version(NAME, setup.versions["xgboost"]).tags.get(VERDICT_TAG)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "MLGATE_TEST_UNINSTALLED": "xgboost", "PYTHONPATH": str(site)}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("mlgate")), "gate", NAME, "--version", str(setup.versions["xgboost"])],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "'xgboost'" in done.stderr
    assert "pip install 'mlgate[byo]'" in done.stderr
    # nothing attached: the verdict tag is what it was (an earlier test may have gated this version)
    assert Registry(repo, setup.server).version(NAME, setup.versions["xgboost"]).tags.get(VERDICT_TAG) == before

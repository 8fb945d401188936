"""Plain MLflow on what mlgate registers: ``pyfunc.load_model``, ``spark_udf`` and ``mlflow models serve``.

A team's other tools read mlgate's versions with MLflow alone, through an alias. Every model flavour
mlgate registers is made here the way mlgate makes it: ``mlgate train`` of the example's declarative
specs (a scikit-learn classifier and a regressor, skops), ``mlgate train`` of a spec whose own command
logs the model (the repo's shipped ``train/income.py``: an XGBoost pipeline, skops; a native
``mlflow.xgboost`` model), and ``mlgate register`` of folders saved by MLflow (LightGBM's scikit-learn
class, a LightGBM Booster, a ``PythonModel``, a pickled scikit-learn model). Each is then called by
plain MLflow and the answer compared with the model's own ``predict`` on the same rows.

A signature whose output is not what pyfunc ``predict`` returns (the ``predict_proba`` tensor on a
model whose pyfunc returns labels: ``spark_udf`` fails on it with "iteration over a 0-d array") is
refused by ``mlgate train`` and ``mlgate register`` before a version exists; versions registered
with such a signature before keep loading in mlgate, custody digest checked.

Spark runs ``local[*]`` in one session for the module (skipped without pyspark or Java, failed under
``CI=true``); one ``mlflow models serve`` process per flavour, started and stopped by its test. Both are
marked ``slow`` (minutes on a busy 2-core machine); ``-m "not slow"`` keeps the registration, the
``pyfunc.load_model`` checks and the refusals (about 30 s on a quiet machine).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import PROJECT, copy_repo, git, invoke, spark_ready
from mlgate.config import load_model_context
from mlgate.data import load_model_data, model_input
from mlgate.registry import Registry, output_problem, tracking_uri
from mlgate.training import register_external, train
from mlgate_devkit.mlflow_server import UVICORN_STARTED, log_size, wait_healthy, wait_reported_url

ALIAS = "production"
PY = sys.executable
ESTIMATOR = "estimator:\n  class: sklearn.ensemble.RandomForestClassifier\n"
NUMERIC = ["credit_amount", "duration", "age", "job"]
XGB_SCRIPT = '''"""A team's own script: a native XGBoost classifier, its signature the labels (or the proba)."""
import json, os, sys

import mlflow
import mlflow.xgboost
import pandas as pd
from mlflow.models import infer_signature
from xgboost import XGBClassifier

features = json.loads(os.environ["MLGATE_FEATURES"])["numeric"]
train = pd.read_csv(os.environ["MLGATE_DATA_TRAIN"])
model = XGBClassifier(n_estimators=20, max_depth=3, random_state=0).fit(train[features], train["risk"])
example = train[features].head(20)
output = model.predict_proba(example) if sys.argv[1] == "proba" else pd.Series(model.predict(example))
with mlflow.start_run():
    mlflow.xgboost.log_model(model, name="model", signature=infer_signature(example, output),
                             input_example=example.head(3), pip_requirements=["xgboost"])
'''


@dataclass
class Flavour:
    """One registered model as plain MLflow sees it, and what its own ``predict`` answers on ``rows``."""

    name: str
    rows: pd.DataFrame  # the model input: the signature's columns, typed as the signature says
    expected: Any  # the model's own predict on rows (an array, or a frame for the PythonModel)


@dataclass
class Plain:
    repo: Path
    uri: str  # the tracking store, as MLFLOW_TRACKING_URI for plain MLflow
    flavours: dict[str, Flavour]


def add_model(repo: Path, name: str, command: str) -> None:
    """A copy of the credit spec named ``name``, trained by ``command`` (params from its own section)."""
    spec = (repo / "models" / "credit" / "model.yaml").read_text()
    spec = spec.replace("name: credit\n", f"name: {name}\n")
    spec = spec.replace(ESTIMATOR, f"train:\n  command: {command}\n  timeout_minutes: 5\n")
    (repo / "models" / name).mkdir()
    (repo / "models" / name / "model.yaml").write_text(spec)


def add_params(repo: Path, name: str, section: str) -> None:
    with (repo / "params.yaml").open("a") as handle:
        handle.write(f"{name}:\n{section}")


def holdout_rows(repo: Path, name: str, columns: list[tuple[str, str]], count: int = 60) -> pd.DataFrame:
    """``count`` holdout rows of ``name`` as a model of that signature is called with them."""
    ctx = load_model_context(repo, name)
    data = load_model_data(ctx.spec, ctx.spec_doc, repo)
    return model_input(data.holdout.head(count), columns)


def native(registry: Registry, name: str, version: int, modules: tuple[str, ...] = ()) -> Any:
    """The version as mlgate loads it (no MLflow loader); its ``LoadedModel``."""
    return registry.load_version(name, version, trust=("cloudpickle", "pickle"), trusted_modules=modules)


def save_folder(base: Path, save: Callable[[Path], None]) -> Path:
    folder = base / f"folder-{len(list(base.glob('folder-*')))}"
    save(folder)
    return folder


@pytest.fixture(scope="module")
def plain(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plain]:
    """Every flavour registered by mlgate in one repo's store, each with the alias ``production``."""
    import lightgbm
    import mlflow.lightgbm
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    base = tmp_path_factory.mktemp("plain")
    repo = copy_repo(template_repo, base / "repo")
    (repo / "models" / "credit" / "release.yaml").unlink()
    (repo / "train").mkdir()
    shutil.copy2(PROJECT / "train" / "income.py", repo / "train" / "income.py")  # the shipped example script
    (repo / "train_xgb.py").write_text(XGB_SCRIPT)
    add_model(repo, "own-income", f"{PY} train/income.py")
    add_params(repo, "own-income", "  n_estimators: 30\n  max_depth: 3\n")
    add_model(repo, "own-xgb", f"{PY} train_xgb.py labels")
    add_model(repo, "own-proba", f"{PY} train_xgb.py proba")
    for name in ("ext-lgbm", "ext-booster", "ext-pyfunc", "ext-pickle", "ext-proba"):
        add_model(repo, name, f"{PY} -c pass")  # governed here, registered from a folder
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "every flavour", cwd=repo)
    uri = tracking_uri(repo)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)  # plain MLflow, its Spark workers and `mlflow models serve` read it
        mp.chdir(repo)
        registry = Registry(repo)
        versions = {name: train(repo, name).version for name in ("credit", "insurance", "own-income", "own-xgb")}

        ctx = load_model_context(repo, "credit")
        data = load_model_data(ctx.spec, ctx.spec_doc, repo)
        x, y = data.train[NUMERIC], data.train["risk"].to_numpy()
        lgbm = lightgbm.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1, random_state=0).fit(x, y)
        booster = lightgbm.train(
            {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 0}, lightgbm.Dataset(x, y), 20
        )
        logistic = LogisticRegression(max_iter=1000).fit(x, y)

        class Scorer(mlflow.pyfunc.PythonModel):  # defined here: cloudpickle stores it by value
            def __init__(self, model: Any) -> None:
                self.model = model

            def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
                score = self.model.predict_proba(model_input[NUMERIC])[:, 1]
                return pd.DataFrame({"label": (score >= 0.5).astype(int), "score": score})  # row by row

        example = x.head(20)

        def sig(output: Any) -> Any:
            return infer_signature(example, output)

        folders = {
            "ext-lgbm": lambda f: mlflow.lightgbm.save_model(
                lgbm, f, signature=sig(pd.Series(lgbm.predict(example))), pip_requirements=["lightgbm"]
            ),
            "ext-booster": lambda f: mlflow.lightgbm.save_model(
                booster, f, signature=sig(pd.Series(booster.predict(example))), pip_requirements=["lightgbm"]
            ),
            "ext-pyfunc": lambda f: mlflow.pyfunc.save_model(
                f,
                python_model=Scorer(logistic),
                signature=sig(Scorer(logistic).predict(None, example)),
                pip_requirements=["scikit-learn"],
            ),
            "ext-pickle": lambda f: mlflow.sklearn.save_model(
                logistic,
                f,
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
                signature=sig(pd.Series(logistic.predict(example))),
                pip_requirements=["scikit-learn"],
            ),
        }
        for name, save in folders.items():
            versions[name] = register_external(repo, name, str(save_folder(base, save))).version
        for name, version in versions.items():
            registry.client.set_registered_model_alias(name, ALIAS, str(version))

        flavours: dict[str, Flavour] = {}
        for name in ("credit", "insurance", "own-income", "own-xgb"):
            modules = ("xgboost.",) if name == "own-income" else ()
            loaded = native(registry, name, versions[name], modules)
            assert loaded.signature is not None, name
            rows = holdout_rows(repo, name, loaded.signature)
            flavours[name] = Flavour(name, rows, loaded.model.predict(rows))
        rows = holdout_rows(repo, "credit", [(c, "long") for c in NUMERIC])
        own = {"ext-lgbm": lgbm.predict, "ext-booster": booster.predict, "ext-pickle": logistic.predict}
        for name, predict in own.items():
            flavours[name] = Flavour(name, rows, predict(rows))
        flavours["ext-pyfunc"] = Flavour("ext-pyfunc", rows, Scorer(logistic).predict(None, rows))
        yield Plain(repo, uri, flavours)


FLAVOURS = ["credit", "insurance", "own-income", "own-xgb", "ext-lgbm", "ext-booster", "ext-pyfunc", "ext-pickle"]


def assert_same(got: Any, flavour: Flavour) -> None:
    """Plain MLflow's answer equals the model's own predict: labels exactly, scores to 1e-6 (float32 models)."""
    want = flavour.expected
    if isinstance(want, pd.DataFrame):
        got = pd.DataFrame(got)[list(want.columns)]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False, rtol=0, atol=1e-6)
        return
    got, want = np.asarray(got).reshape(-1), np.asarray(want).reshape(-1)
    assert got.shape == want.shape == (len(flavour.rows),), flavour.name
    if want.dtype.kind in "iub" or flavour.name in ("credit", "own-income", "own-xgb", "ext-lgbm", "ext-pickle"):
        assert got.tolist() == want.tolist(), flavour.name
    else:
        np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=0, atol=1e-6)


def test_every_flavour_is_logged_with_the_output_pyfunc_returns(plain: Plain) -> None:
    """The registered MLmodel says one column (not a tensor) wherever pyfunc returns one value per row."""
    registry = Registry(plain.repo)
    for name in FLAVOURS:
        mlmodel = registry.logged_mlmodel(f"models:/{name}@{ALIAS}")
        assert output_problem(mlmodel) == "", name
        outputs = json.loads(mlmodel["signature"]["outputs"])
        if name == "ext-pyfunc":
            assert [o["name"] for o in outputs] == ["label", "score"]
        else:
            assert len(outputs) == 1, (name, outputs)
            assert outputs[0]["type"] != "tensor", (name, outputs)
    # mlgate's own pipelines: a classifier's labels (long, as risk is), a regressor's values
    assert json.loads(registry.logged_mlmodel(f"models:/credit@{ALIAS}")["signature"]["outputs"])[0]["type"] == "long"
    assert (
        json.loads(registry.logged_mlmodel(f"models:/insurance@{ALIAS}")["signature"]["outputs"])[0]["type"] == "double"
    )


@pytest.mark.parametrize("name", FLAVOURS)
def test_pyfunc_load_model_predicts_what_the_model_predicts(plain: Plain, name: str) -> None:
    import mlflow.pyfunc

    flavour = plain.flavours[name]
    model = mlflow.pyfunc.load_model(f"models:/{name}@{ALIAS}")
    assert_same(model.predict(flavour.rows), flavour)


@pytest.fixture(scope="module")
def spark() -> Any:
    """mlgate's Spark session (``local[*]``, one per process: shared with any other Spark test)."""
    spark_ready()
    from mlgate.registry import spark as adapter

    return adapter.session()


@pytest.mark.slow  # the JVM and Spark's Python workers start once (about 30 s), then a few seconds per flavour
@pytest.mark.parametrize("name", FLAVOURS)
def test_spark_udf_predicts_what_the_model_predicts(plain: Plain, spark: Any, name: str) -> None:
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    flavour = plain.flavours[name]
    rows = flavour.rows.assign(__row=range(len(flavour.rows)))
    frame = spark.createDataFrame(rows)
    udf = mlflow.pyfunc.spark_udf(spark, f"models:/{name}@{ALIAS}", env_manager="local")
    columns = [F.col(c) for c in flavour.rows.columns]  # a struct: the model gets a frame of named columns
    scored = frame.withColumn("out", udf(F.struct(*columns))).orderBy("__row").toPandas()
    got = scored["out"]
    if name == "ext-pyfunc":  # two output columns: a struct per row
        got = pd.DataFrame([r if isinstance(r, dict) else r.asDict() for r in got])
    assert_same(got, flavour)


@pytest.fixture
def plain_mlflow(plain: Plain, monkeypatch: pytest.MonkeyPatch) -> Plain:
    """Plain MLflow (in process and in child processes) pointed at the fixture's store.

    The ``plain`` fixture sets MLFLOW_TRACKING_URI only while it builds; in a full run other tests'
    registries point MLflow's globals and environment at their own stores in between.
    """
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", plain.uri)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    # set_experiment below exports MLFLOW_EXPERIMENT_ID into os.environ (MLflow 3); set here so that
    # monkeypatch removes it afterwards: a leaked id sends later tests' child processes (a user's own
    # `dvc repro` logging to its own store) to an experiment their store does not have
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mlflow.set_tracking_uri(plain.uri)
    mlflow.set_registry_uri(plain.uri)
    mlflow.set_experiment("plain-mlflow")
    return plain


def start_mlflow_serve(plain: Plain, name: str, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """``mlflow models serve -m models:/NAME@production --env-manager local`` on a port it binds; waited for."""
    cmd = [PY, "-m", "mlflow", "models", "serve", "-m", f"models:/{name}@{ALIAS}", "--env-manager", "local"]
    cmd += ["--host", "127.0.0.1", "--port", "0"]  # uvicorn logs the port it bound
    # mlflow starts `uvicorn` by name: this interpreter's scripts folder goes first on PATH
    env = os.environ | {"PATH": os.pathsep.join((str(Path(PY).parent), os.environ.get("PATH", "")))}
    offset = log_size(log)
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=plain.repo, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = wait_reported_url(log, offset, proc, UVICORN_STARTED, "mlflow models serve", 180)
        wait_healthy(url, proc, log, "mlflow models serve", 180)
    except RuntimeError:
        proc.kill()
        proc.wait()
        raise
    return url, proc


@pytest.mark.slow  # one process per flavour, about 15 s each on a busy 2-core machine
@pytest.mark.parametrize("name", FLAVOURS)
@pytest.mark.usefixtures("plain_mlflow")
def test_mlflow_models_serve_answers_what_the_model_predicts(plain: Plain, tmp_path: Path, name: str) -> None:
    flavour = plain.flavours[name]
    url, proc = start_mlflow_serve(plain, name, tmp_path / "serve.log")
    try:
        body = {"dataframe_split": json.loads(flavour.rows.to_json(orient="split", index=False))}
        request = urllib.request.Request(
            f"{url}/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as resp:
            answer = json.loads(resp.read())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert_same(answer["predictions"], flavour)


def test_a_script_logging_the_predict_proba_signature_is_refused(plain: Plain) -> None:
    """The command logs XGBClassifier with ``infer_signature(X, predict_proba(X))``: exit 2, no version, run FAILED."""
    registry = Registry(plain.repo)
    done = invoke(CliRunner(), "train", "own-proba", cwd=plain.repo)
    assert done.exit_code == 2, done.output
    assert "tensor float32 [-1, 2]" in done.output
    assert "it calls the model's predict, one value per row" in done.output
    assert "infer_signature(X, pandas.Series(model.predict(X)))" in done.output
    assert registry.versions("own-proba") == []
    refused = [r for r in registry.search_runs("mlgate/own-proba", "") if r.status == "FAILED"]
    assert len(refused) == 1
    assert "not what mlflow.pyfunc predict returns" in refused[0].tags["mlgate.train.refused"]


@pytest.mark.usefixtures("plain_mlflow")
def test_register_refuses_a_folder_with_the_predict_proba_signature(plain: Plain, tmp_path: Path) -> None:
    """A scikit-learn folder whose signature is the probabilities: exit 2 before any run or version is made."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rows = plain.flavours["ext-pickle"].rows
    model = LogisticRegression(max_iter=1000).fit(rows, np.arange(len(rows)) % 2)
    folder = tmp_path / "proba"
    mlflow.sklearn.save_model(
        model, folder, signature=infer_signature(rows, model.predict_proba(rows)), pip_requirements=["scikit-learn"]
    )
    registry = Registry(plain.repo)
    done = invoke(CliRunner(), "register", "ext-proba", "--model-uri", str(folder), cwd=plain.repo)
    assert done.exit_code == 2, done.output
    assert "tensor float64 [-1, 2]" in done.output, done.output
    assert registry.versions("ext-proba") == []
    assert registry.search_runs("mlgate/ext-proba", "") == []
    # the same MLmodel logged into a run: refused by its models:/<id> and runs:/ URIs (only the MLmodel is read)
    import mlflow

    with mlflow.start_run() as run:
        logged = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(rows, model.predict_proba(rows)), pip_requirements=[]
        )
    for uri in (logged.model_uri, f"runs:/{run.info.run_id}/model"):
        done = invoke(CliRunner(), "register", "ext-proba", "--model-uri", uri, cwd=plain.repo)
        assert done.exit_code == 2, (uri, done.output)
        assert "tensor float64 [-1, 2]" in done.output, done.output
    assert registry.versions("ext-proba") == []
    # the same model logged with what pyfunc returns is registered
    good = tmp_path / "labels"
    mlflow.sklearn.save_model(
        model,
        good,
        signature=infer_signature(rows, pd.Series(model.predict(rows))),
        pip_requirements=["scikit-learn"],
    )
    done = invoke(CliRunner(), "register", "ext-proba", "--model-uri", str(good), cwd=plain.repo)
    assert done.exit_code == 0, done.output
    assert [v.version for v in registry.versions("ext-proba")] == [1]


@pytest.mark.usefixtures("plain_mlflow")
def test_a_version_registered_with_the_old_probability_signature_still_loads_with_its_digest(plain: Plain) -> None:
    """Versions mlgate registered before (output: the predict_proba tensor) load in mlgate; custody still holds."""
    import mlflow
    import mlflow.sklearn
    import skops.io
    from mlflow.models import infer_signature

    registry = Registry(plain.repo)
    old = native(registry, "credit", registry.alias_version("credit", ALIAS) or 0).model
    rows = plain.flavours["credit"].rows
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            old,
            name="model",
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(old)),
            signature=infer_signature(rows, old.predict_proba(rows.head(5))),  # what mlgate logged before
            pip_requirements=["scikit-learn"],
        )
    version = int(mlflow.register_model(info.model_uri, "old-credit").version)
    digest = registry.record_artifact("old-credit", version).digest
    assert output_problem(registry.logged_mlmodel(f"models:/old-credit/{version}")) != ""
    loaded = registry.load_version("old-credit", version, expected=digest, expected_from="release.yaml")
    assert loaded.signature == native(registry, "credit", registry.alias_version("credit", ALIAS) or 0).signature
    np.testing.assert_array_equal(loaded.model.predict_proba(rows), old.predict_proba(rows))


SKLEARN = {"sklearn": {"serialization_format": "skops"}, "python_function": {"loader_module": "mlflow.sklearn"}}
PROBA_FN = {"sklearn": {}, "python_function": {"loader_module": "mlflow.sklearn", "predict_fn": "predict_proba"}}
XGB = {"xgboost": {"model_class": "xgboost.sklearn.XGBClassifier", "model_format": "ubj", "data": "model.ubj"}}
LGBM = {"lightgbm": {"model_class": "lightgbm.sklearn.LGBMClassifier", "serialization_format": "skops"}}
BOOSTER = {"lightgbm": {"model_class": "lightgbm.basic.Booster"}}
PYFUNC = {"python_function": {"loader_module": "mlflow.pyfunc.model", "python_model": "python_model.pkl"}}


def tensor(*shape: Any, dtype: str = "float64") -> str:
    return json.dumps([{"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": list(shape)}}])


LONG = json.dumps([{"type": "long", "required": True}])
TWO = json.dumps([{"type": "long", "name": "label"}, {"type": "double", "name": "score"}])


@pytest.mark.parametrize(
    ("flavours", "outputs", "refused"),
    [
        (SKLEARN, tensor(-1, 2), True),  # the bug: predict_proba's tensor, pyfunc returns labels
        (SKLEARN, LONG, False),
        (SKLEARN, tensor(-1, dtype="int64"), False),  # a 1-D tensor is one value per row (an array of one in Spark)
        (SKLEARN, tensor(-1, 1), False),
        (SKLEARN, tensor(-1, -1), True),  # a row of any width is not one value
        (SKLEARN, TWO, True),
        (SKLEARN, None, False),  # no signature: nothing it could contradict
        (PROBA_FN, tensor(-1, 2), False),  # pyfunc_predict_fn="predict_proba": the tensor is right
        (PROBA_FN, LONG, True),
        (XGB, tensor(-1, 3), True),
        (XGB, LONG, False),
        (LGBM, tensor(-1, 2), True),
        (BOOSTER, tensor(-1, 2), False),  # a multiclass Booster returns a row of scores: not told from the MLmodel
        (PYFUNC, TWO, False),  # a PythonModel returns what its author wrote
        (SKLEARN, tensor(-1, "two"), True),  # an author's odd shape is a variable width, never a crash
        (SKLEARN, "not json", True),
        ({"sklearn": "a string"}, tensor(-1, 2), False),  # no pyfunc conf: not told
    ],
)
def test_output_problem_reads_what_pyfunc_returns_from_the_mlmodel(
    flavours: dict[str, Any], outputs: str | None, refused: bool
) -> None:
    mlmodel: dict[str, Any] = {"flavors": flavours}
    if outputs is not None:
        mlmodel["signature"] = {"inputs": "[]", "outputs": outputs}
    problem = output_problem(mlmodel)
    assert bool(problem) is refused, problem
    if refused:
        assert "mlflow.pyfunc predict" in problem or "not JSON" in problem

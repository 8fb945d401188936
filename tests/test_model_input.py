"""One model input frame: train, gate, score (both engines), serve and monitor call the model alike.

A pipeline that imputes (``SimpleImputer``: median for numbers, most frequent for categories) is
trained for real by ``mlgate train`` on a file with blanks: 320 blank categorical cells and 80
blank numeric ones in 1,000 rows (the shape of issue #20's reproduction, small). Every path must
give the probabilities of the same MLflow model loaded with ``mlflow.pyfunc.load_model`` and called
on the file as ``pandas.read_csv`` reads it (a blank category is NaN), to 1e-12. The same rows with
``None`` for a blank category (what the paths gave the model before) are shown to change the
answer, so these checks can fail.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result
from sklearn import metrics
from sklearn.model_selection import train_test_split

from conftest import copy_repo, dvc, git, invoke
from mlgate.data import frame_columns, model_input
from mlgate.registry import Registry
from mlgate_devkit.release import promoted
from mlgate_devkit.serve_process import start_serve

pytestmark = pytest.mark.server

NAME = "loans"
NUMERIC = ["credit_amount", "duration", "age", "job"]
CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]
FEATURES = NUMERIC + CATEGORICAL
BLANKS = {"saving_accounts": 130, "checking_account": 130, "housing": 60, "credit_amount": 40, "duration": 40}
"""Blank cells written into the file per column: 320 categorical, 80 numeric."""
TOKEN = "alice-token-5b1e8c2d7a9f4e60"
ROLLBACK = "  rollback_procedure: revert the promotion PR; mlgate moves the production alias back\n"
TODAY = datetime.now(UTC).strftime("%Y-%m-%d")


@pytest.fixture(scope="module")
def trained(
    template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """``loans`` (the credit spec, renamed) trained on a file with blanks; staging at its version.

    Also: the version as a pyfunc whose ``predict`` returns class probabilities (its MLmodel's
    ``predict_fn`` set to ``predict_proba``, as the Spark engine loads it), and the file as pandas reads it.
    """
    base = tmp_path_factory.mktemp("model-input")
    repo = copy_repo(template_repo, base / "repo")
    data = repo / "data" / "german_credit.csv"
    frame = pd.read_csv(data)
    rng = np.random.default_rng(20)
    for column, count in BLANKS.items():
        if frame[column].dtype.kind in "iu":
            frame[column] = frame[column].astype("float64")
        frame.loc[rng.choice(len(frame), size=count, replace=False), column] = np.nan
    frame.to_csv(data, index=False)  # NaN is written as an empty cell
    spec = (repo / "models" / "credit" / "model.yaml").read_text()
    assert "name: credit\n" in spec
    assert ROLLBACK in spec
    spec = spec.replace("name: credit\n", f"name: {NAME}\n")
    spec = spec.replace(ROLLBACK, ROLLBACK + "  sources:\n    scores: scores\n")  # what mlgate monitor reads
    (repo / "models" / NAME).mkdir()
    (repo / "models" / NAME / "model.yaml").write_text(spec)
    params = repo / "params.yaml"
    params.write_text(params.read_text() + f"{NAME}:\n  n_estimators: 60\n  max_depth: 6\n  min_samples_leaf: 5\n")
    dvc("add", "-q", "data/german_credit.csv", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "loans: the credit model on data with blanks", cwd=repo)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        done = invoke(CliRunner(), "train", NAME, "--json", "-", cwd=repo)
        assert done.exit_code == 0, done.output
        result = json.loads(done.stdout)
        version = result["version"]
        registry = Registry(repo, mlflow_server)
        promoted(repo, mlflow_server, NAME, "staging", version)  # score, serve and monitor act on what is pinned
        pyfunc = _proba_pyfunc(mlflow_server, version, base / "pyfunc", mp)
    raw = pd.read_csv(data)  # as pandas reads the file: a blank category is NaN in an object column
    _, held = train_test_split(np.arange(len(raw)), test_size=0.25, random_state=42, stratify=raw["risk"])
    yield {
        "repo": repo,
        "base": base,
        "uri": mlflow_server,
        "version": version,
        "train_metrics": result["metrics"],
        "pyfunc": pyfunc,
        "raw": raw,
        "holdout": raw.iloc[held].reset_index(drop=True),
    }
    registry.delete_alias(NAME, "staging")


def _proba_pyfunc(uri: str, version: int, folder: Path, mp: pytest.MonkeyPatch) -> Any:
    """``models:/loans/<version>`` loaded by ``mlflow.pyfunc.load_model``, ``predict`` giving probabilities."""
    import mlflow.artifacts
    import mlflow.pyfunc

    uri_of = f"models:/{NAME}/{version}"
    local = Path(mlflow.artifacts.download_artifacts(uri_of, dst_path=str(folder), tracking_uri=uri))
    mlmodel = local / "MLmodel"
    meta = yaml.safe_load(mlmodel.read_text())
    meta["flavors"]["python_function"]["predict_fn"] = "predict_proba"
    mlmodel.write_text(yaml.safe_dump(meta, sort_keys=False))
    mp.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")  # MLflow's own switch for a skops/pickle load
    return mlflow.pyfunc.load_model(str(local))


def proba(trained: dict[str, Any], rows: pd.DataFrame) -> np.ndarray:
    """The positive class's probability by the version's pyfunc ``predict`` (schema enforced by MLflow)."""
    return np.asarray(trained["pyfunc"].predict(rows[FEATURES]))[:, 1]


def with_none(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with None for a blank category: what the model was given before one input frame."""
    out = rows[FEATURES].copy()
    for column in CATEGORICAL:
        out[column] = out[column].astype("object").where(out[column].notna(), None)
    return out


def test_the_file_has_the_blanks_and_none_changes_the_models_answer(trained: dict[str, Any]) -> None:
    raw = trained["raw"]
    assert raw[CATEGORICAL].isna().sum().sum() == 320
    assert raw[NUMERIC].isna().sum().sum() == 80
    assert pd.api.types.is_string_dtype(raw["saving_accounts"].dtype)  # object (pandas 2) or str (pandas 3)
    assert isinstance(raw["saving_accounts"].dropna().iloc[0], str)
    nan_rows = proba(trained, raw)
    none_rows = proba(trained, with_none(raw))
    blank = raw[CATEGORICAL].isna().any(axis=1).to_numpy()
    gap = np.abs(nan_rows - none_rows)
    assert gap[~blank].max() == 0  # rows without a blank category are the same either way
    assert gap[blank].max() > 1e-3  # None skips the imputer: the checks below would fail on it


def test_model_input_matches_pandas_read_csv() -> None:
    raw = pd.DataFrame(
        {"n": ["1.5", None, "2"], "i": ["3", "4", "5"], "c": ["x", None, "y"], "all_blank": [None, None, None]},
        dtype=object,
    )
    x = model_input(raw, [("c", "string"), ("n", "double"), ("i", "long"), ("all_blank", "string")])
    assert list(x.columns) == ["c", "n", "i", "all_blank"]  # the signature's order
    assert x.dtypes.astype(str).to_dict() == {"c": "object", "n": "float64", "i": "int64", "all_blank": "object"}
    assert x["c"].iloc[0] == "x"
    assert isinstance(x["c"].iloc[1], float)
    assert np.isnan(x["c"].iloc[1])
    assert x["all_blank"].map(lambda v: isinstance(v, float) and np.isnan(v)).all()  # NaN, never None
    # a long column with a blank stays float64 with NaN, as read_csv gives it (score and serve refuse it before)
    assert model_input(pd.DataFrame({"i": [1.0, np.nan]}), [("i", "long")])["i"].dtype == "float64"
    assert model_input(pd.DataFrame({"i": [1.0, 2.0]}), [("i", "long")])["i"].dtype == "int64"
    frame = pd.DataFrame({"a": [1, 2], "b": [1.5, np.nan], "c": ["u", None]})
    assert frame_columns(frame, ["c", "a", "b"], ["c"]) == [("c", "string"), ("a", "long"), ("b", "double")]


def test_training_fitted_on_the_pandas_read_frame(trained: dict[str, Any]) -> None:
    holdout = trained["holdout"]
    p = proba(trained, holdout)
    y = (holdout["risk"] == 1).to_numpy()
    assert trained["train_metrics"]["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, p), abs=1e-12)


def gate(trained: dict[str, Any], repo: Path | None = None) -> dict[str, Any]:
    """The gate's verdict on the trained version (not attached), from ``repo`` (default the trained repo)."""
    repo = repo or trained["repo"]
    out = repo.parent / f"verdict-{repo.name}.json"
    os.environ["MLFLOW_TRACKING_URI"] = trained["uri"]
    try:
        done = invoke(
            CliRunner(),
            *("gate", NAME, "--version", str(trained["version"]), "--json", str(out), "--no-attach"),
            cwd=repo,
        )
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert done.exit_code in (0, 1), done.output  # the blanks may fail null_fraction: the metrics stand
    return json.loads(out.read_text())


def test_the_gates_metrics_are_the_models_on_the_pandas_read_holdout(trained: dict[str, Any]) -> None:
    verdict = gate(trained)
    holdout = trained["holdout"]
    p = proba(trained, holdout)
    y = (holdout["risk"] == 1).to_numpy()
    decided = p >= 0.5  # the spec's decision threshold
    want = {
        "roc_auc": metrics.roc_auc_score(y, p),
        "brier": metrics.brier_score_loss(y, p),
        "log_loss": metrics.log_loss(y, np.column_stack([1 - p, p]), labels=[False, True]),
        "accuracy": metrics.accuracy_score(y, decided),
    }
    assert {k: verdict["metrics"][k] for k in want} == pytest.approx(want, abs=1e-12)
    assert verdict["metrics"]["roc_auc"] == pytest.approx(trained["train_metrics"]["roc_auc"], abs=1e-12)
    none_auc = metrics.roc_auc_score(y, np.asarray(trained["pyfunc"].predict(with_none(holdout)))[:, 1])
    assert abs(none_auc - want["roc_auc"]) > 1e-6  # the old frame would have failed this test


def score(trained: dict[str, Any], source: Path, out: Path, *args: str) -> Result:
    os.environ["MLFLOW_TRACKING_URI"] = trained["uri"]
    try:
        return invoke(
            CliRunner(),
            *("score", NAME, "--stage", "staging", "--input", str(source), "--output", str(out)),
            *("--id-column", "application_id", "--date", TODAY, "--json", "-", *args),
            cwd=trained["repo"],
        )
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


@pytest.fixture(scope="module")
def inputs(trained: dict[str, Any]) -> Path:
    """The file's features with an id, as CSV (blank cells) and Parquet (nulls)."""
    folder = trained["base"] / "inputs"
    folder.mkdir()
    frame = trained["raw"][FEATURES].copy()
    frame.insert(0, "application_id", [f"L{i:04d}" for i in range(len(frame))])
    frame.to_csv(folder / "batch.csv", index=False)
    frame.to_parquet(folder / "batch.parquet", index=False)
    return folder


def scored(out: Path) -> pd.DataFrame:
    part = out / f"model={NAME}" / "stage=staging" / f"date={TODAY}"
    return pd.read_parquet(part).sort_values("application_id").reset_index(drop=True)


@pytest.mark.parametrize("source", ["batch.csv", "batch.parquet"])
def test_mlgate_score_gives_the_models_probabilities_on_the_pandas_read_file(
    trained: dict[str, Any], inputs: Path, source: str
) -> None:
    out = trained["base"] / f"out-{source}"
    done = score(trained, inputs / source, out)
    assert done.exit_code == 0, done.output
    got = scored(out)
    read = pd.read_csv(inputs / "batch.csv")  # the pandas-read file, whichever format was scored
    p = proba(trained, read)
    np.testing.assert_allclose(got["probability_1"].to_numpy(), p, rtol=0, atol=1e-12)
    assert (got["prediction"].to_numpy() == np.where(p >= 0.5, 1, 0)).all()
    assert (got["needs_review"].to_numpy() == ((p >= 0.4) & (p <= 0.6))).all()


def test_the_spark_engine_builds_the_same_input(trained: dict[str, Any], inputs: Path) -> None:
    _spark_ready()
    out = trained["base"] / "out-spark"
    done = score(trained, inputs / "batch.csv", out, "--engine", "spark")
    assert done.exit_code == 0, done.output
    got = scored(out)
    p = proba(trained, pd.read_csv(inputs / "batch.csv"))
    np.testing.assert_allclose(got["probability_1"].to_numpy(), p, rtol=0, atol=1e-12)
    assert (got["prediction"].to_numpy() == np.where(p >= 0.5, 1, 0)).all()


def _spark_ready() -> None:
    """pyspark and Java are there, or (outside CI) the Spark test is skipped."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("pyspark is required under CI")
        pytest.skip("pyspark is not installed (pip install 'mlgate[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("CI") == "true":
            pytest.fail("Java is required for the Spark engine under CI")
        pytest.skip("Java is not installed")


def test_mlgate_serve_answers_a_null_category_as_the_model_answers_nan(trained: dict[str, Any]) -> None:
    raw = trained["raw"]
    rows = raw.head(300)
    assert rows[CATEGORICAL].isna().any(axis=1).sum() >= 50  # dozens of null categories among them
    assert rows[NUMERIC].isna().any(axis=1).sum() >= 10  # and missing numbers (double columns: null)
    body = json.loads(rows[FEATURES].to_json(orient="records"))  # a blank cell is null
    assert any(r["saving_accounts"] is None for r in body)
    assert any(r["credit_amount"] is None for r in body)
    env = {"MLFLOW_TRACKING_URI": trained["uri"], "MLGATE_SERVE_TOKENS": f"alice {TOKEN}"}
    audit = f"sqlite:///{trained['base'] / 'audit.db'}"
    proc = start_serve(
        trained["repo"],
        NAME,
        "staging",
        trained["base"] / "serve.log",
        "--audit-url",
        audit,
        "--max-rows",
        "500",
        env=env,
    )
    try:
        answer = httpx.post(
            proc.url + "/predict", json={"rows": body}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        )
    finally:
        proc.stop()
    assert answer.status_code == 200, answer.text
    got = np.array([row["probabilities"]["1"] for row in answer.json()["predictions"]])
    np.testing.assert_allclose(got, proba(trained, rows), rtol=0, atol=1e-12)


def test_mlgate_monitor_scores_its_reference_as_the_model_does(trained: dict[str, Any]) -> None:
    holdout = trained["holdout"]
    folder = trained["base"] / "monitor-inputs"
    folder.mkdir()
    frame = holdout[FEATURES].copy()
    frame.insert(0, "application_id", [f"H{i:04d}" for i in range(len(frame))])
    frame.to_csv(folder / "holdout.csv", index=False)
    done = score(trained, folder / "holdout.csv", trained["repo"] / "scores")
    assert done.exit_code == 0, done.output
    os.environ["MLFLOW_TRACKING_URI"] = trained["uri"]
    try:
        watched = invoke(
            CliRunner(), "monitor", NAME, "--stage", "staging", "--since", "1d", "--json", "-", cwd=trained["repo"]
        )
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert watched.exit_code in (0, 1), watched.output  # the blanks may fail null_fraction: the scores stand
    verdict = json.loads(watched.stdout)
    p = proba(trained, holdout)
    # the reference is the rows the version's split held out: the monitor scores them itself
    assert verdict["reference"]["scored_rows"] == len(holdout)
    assert verdict["prediction"]["reference_mean"] == pytest.approx(float(p.mean()), abs=1e-12)
    assert verdict["prediction"]["current_mean"] == pytest.approx(float(p.mean()), abs=1e-12)
    assert verdict["metrics"]["prediction_psi"] == pytest.approx(0, abs=1e-12)
    none_mean = float(np.asarray(trained["pyfunc"].predict(with_none(holdout)))[:, 1].mean())
    assert abs(none_mean - p.mean()) > 1e-6


@pytest.mark.usefixtures("deepchecks_ok")
def test_the_gates_deepchecks_model_evaluation_calls_the_model_on_the_model_input(trained: dict[str, Any]) -> None:
    """The suite calls the model on train and holdout itself, given the model input frame: it runs, AUC the model's.

    deepchecks reports two decimals, which do not tell None from NaN on these rows (0.7351 vs 0.7339):
    this checks that the gate hands the suite the converted frames and the suite runs on them.
    """
    repo = copy_repo(trained["repo"], trained["base"] / "deepchecks")
    policy = repo / "policies" / "credit.yaml"
    suite = "  integrity:\n    - metric: deepchecks\n      suite: model_evaluation\n      max: 0\n"
    suite += "      severity: warn\n"
    policy.write_text(policy.read_text().replace("gates:\n", "gates:\n" + suite, 1))
    git("commit", "-qam", "the model evaluation suite", cwd=repo)
    verdict = gate(trained, repo)
    rules = {r["rule_id"]: r for r in verdict["rules"] if r["metric"] == "deepchecks:model_evaluation"}
    assert not [r for r in rules.values() if r["status"] == "error"]
    holdout = trained["holdout"]
    y = (holdout["risk"] == 1).to_numpy()
    auc = metrics.roc_auc_score(y, proba(trained, holdout))
    # deepchecks says two decimals: the model's own AUC on the pandas-read holdout
    roc = rules["integrity.deepchecks/ROC Report - Test Dataset"]
    assert f"minimum AUC found is {auc:.2f} for class" in roc["explanation"]

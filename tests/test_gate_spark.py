"""`mlgate gate --engine spark`: the same verdict as pandas, every metric equal to 1e-9, and honest skips.

The credit model is trained for real (`mlgate train`, the real `mlflow server`) on a few thousand
Parquet rows drawn from the example data with noise (train and holdout files tracked by DVC, the
holdout shifted so drift has something to measure), under a policy that holds a rule for every
performance, fairness and drift metric a binary classifier has and every native integrity metric.
Its spec sets ``data.engine: spark``, so the Spark gate runs without ``--engine`` (the spec's
default) and the pandas gate with ``--engine pandas``. One SparkSession (the process's) serves
the module. Under ``CI=true`` a missing pyspark or Java fails instead of skipping.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import copy_repo, dvc, git, invoke, spark_ready

TOLERANCE = 1e-9
ROWS = 3000
SPARK_ONLY_SKIPS = {"constant_columns", "unseen_categories"}
POLICY = """extends: base.yaml
description: Credit decisions, with a rule for every metric a binary classifier has (both engines measure them).
gates:
  performance:
    - {metric: roc_auc, min: 0.6}
    - {id: roc-auc-vs-champion, metric: roc_auc, max_regression: 0.02}
    - {metric: balanced_accuracy, min: 0.5}
    - {metric: accuracy, min: 0.5}
    - {metric: precision, min: 0.5}
    - {metric: recall, min: 0.5}
    - {metric: f1, min: 0.5}
    - {metric: pr_auc, min: 0.5}
    - {metric: log_loss, max: 2}
    - {metric: brier, max: 0.5}
    - {metric: recall, class: 0, min: 0}
    - {id: f1-good-vs-champion, metric: f1, class: 1, max_regression: 1}
  fairness:
    - {id: four-fifths, metric: demographic_parity_ratio, min: 0.5}
    - {metric: equalized_odds_difference, max: 1, sensitive_features: [sex]}
    - {metric: demographic_parity_difference, max: 1, intersection: true, sensitive_features: [sex, age]}
    - {metric: equal_opportunity_ratio, min: 0, sensitive_features: [age]}
    - {metric: false_positive_rate_difference, max: 1}
    - {metric: error_rate_difference, max: 1, reference_group: male, sensitive_features: [sex]}
    - {id: dp-ratio-cap, metric: demographic_parity_ratio, max: 10, reference_group: male, sensitive_features: [sex]}
  drift:
    - {metric: psi, max: 100}
    - {metric: ks_statistic, max: 1}
    - {metric: ks_pvalue, min: 0}
    - {metric: chi2_pvalue, min: 0}
    - {metric: drifted_share, max: 1, features: [age, housing]}
  integrity:
    - {metric: constant_columns, max: 1}
    - {metric: unseen_categories, max: 1}
"""


def _noisy(frame: pd.DataFrame, rng: np.random.Generator, rows: int, shift: float) -> pd.DataFrame:
    """``rows`` rows drawn from ``frame`` with noise on the numbers (``shift`` moves credit_amount)."""
    out = frame.sample(rows, replace=True, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
    out["credit_amount"] = (out["credit_amount"] * rng.uniform(0.9, 1.1, rows) * (1 + shift)).round(2)
    out["duration"] = (out["duration"] + rng.integers(-2, 3, rows)).clip(lower=1)
    out["age"] = (out["age"] + rng.integers(-1, 2, rows)).clip(lower=19)
    return out


@pytest.fixture(scope="module")
def gated(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both verdicts of one trained credit version on the same Parquet data: pandas's and Spark's."""
    spark_ready()
    base = tmp_path_factory.mktemp("gate-spark")
    repo = copy_repo(template_repo, base / "repo")
    source = pd.read_csv(repo / "data" / "german_credit.csv")
    rng = np.random.default_rng(7)
    train = _noisy(source, rng, ROWS, 0.0)
    holdout = _noisy(source, rng, ROWS, 0.15)
    train.to_parquet(repo / "data" / "credit_train.parquet", index=False)
    holdout.to_parquet(repo / "data" / "credit_holdout.parquet", index=False)
    dvc("add", "-q", "data/credit_train.parquet", "data/credit_holdout.parquet", cwd=repo)
    spec = repo / "models" / "credit" / "model.yaml"
    text = spec.read_text()
    split = "  split:\n    holdout_fraction: 0.25\n    seed: 42\n    stratify: true\n"
    old = "data:\n  path: data/german_credit.csv\n" + split
    assert old in text
    layout = "data:\n  train: data/credit_train.parquet\n  holdout: data/credit_holdout.parquet\n  engine: spark\n"
    spec.write_text(text.replace(old, layout))
    (repo / "policies" / "credit.yaml").write_text(POLICY)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "credit on Parquet, gated on Spark", cwd=repo)
    runner = CliRunner()
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    try:
        trained = invoke(runner, "train", "credit", "--json", "-", cwd=repo)
        assert trained.exit_code == 0, trained.output
        verdicts = {}
        for engine, args in (("pandas", ["--engine", "pandas"]), ("spark", [])):
            out = base / f"{engine}.json"
            done = invoke(runner, "gate", "credit", "--no-attach", "--json", str(out), *args, cwd=repo)
            assert done.exit_code in (0, 1), done.output
            verdicts[engine] = json.loads(out.read_text())
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    return {
        "repo": repo,
        "uri": mlflow_server,
        "base": base,
        "pandas": verdicts["pandas"],
        "spark": verdicts["spark"],
        "train": train,
        "holdout": holdout,
    }


@pytest.fixture(scope="module")
def refreshed(gated: dict[str, Any]) -> dict[str, Any]:
    """Both verdicts after the holdout is replaced by one that holds 400 of the version's training rows."""
    repo, base = gated["repo"], gated["base"]
    holdout = pd.concat([gated["holdout"].iloc[:2600], gated["train"].iloc[:400]], ignore_index=True)
    holdout.to_parquet(repo / "data" / "credit_holdout.parquet", index=False)
    dvc("add", "-q", "data/credit_holdout.parquet", cwd=repo)
    git("commit", "-qam", "a new holdout, 400 rows of which the model trained on", cwd=repo)
    runner = CliRunner()
    os.environ["MLFLOW_TRACKING_URI"] = gated["uri"]
    try:
        verdicts = {}
        for engine in ("pandas", "spark"):
            out = base / f"refreshed-{engine}.json"
            done = invoke(runner, "gate", "credit", "--no-attach", "--json", str(out), "--engine", engine, cwd=repo)
            assert done.exit_code in (0, 1), done.output
            verdicts[engine] = json.loads(out.read_text())
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    return verdicts


def _close(a: Any, b: Any, where: str) -> None:
    """``a`` equals ``b``: numbers to 1e-9 (relative for large ones), everything else exactly."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        assert a == b, f"{where}: {a!r} != {b!r}"
        return
    if math.isnan(a) or math.isnan(b):
        assert math.isnan(a), f"{where}: {a!r} != {b!r}"
        assert math.isnan(b), f"{where}: {a!r} != {b!r}"
        return
    assert abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b)), f"{where}: {a!r} != {b!r} (|d| = {abs(a - b):.3g})"


def _rules(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["rule_id"]: rule for rule in verdict["rules"]}


def test_the_spec_makes_spark_the_default_engine(gated: dict[str, Any]) -> None:
    assert gated["spark"]["evidence"]["engine"] == "spark"
    assert "--engine pandas" in gated["spark"]["evidence"]["skipped"]
    assert "classification" in gated["pandas"]["evidence"]  # the pandas run was pandas: it has the evidence
    assert gated["spark"]["judging"]["evaluation"]["holdout_rows"] == ROWS


def test_every_metric_and_rule_equal_between_engines(gated: dict[str, Any]) -> None:
    pandas_verdict, spark_verdict = gated["pandas"], gated["spark"]
    assert set(pandas_verdict["metrics"]) == set(spark_verdict["metrics"])
    assert len(pandas_verdict["metrics"]) == 9  # accuracy ... brier: a binary classifier's every metric
    for name, value in pandas_verdict["metrics"].items():
        _close(value, spark_verdict["metrics"][name], f"metrics.{name}")
    pandas_rules, spark_rules = _rules(pandas_verdict), _rules(spark_verdict)
    assert set(pandas_rules) == set(spark_rules)
    compared = {"performance": 0, "fairness": 0, "drift": 0, "integrity": 0}
    for rid, rule in pandas_rules.items():
        other = spark_rules[rid]
        if rule["family"] == "integrity" and rule["metric"] in SPARK_ONLY_SKIPS:
            continue  # the next test
        assert other["status"] == rule["status"], f"{rid}: {rule['status']} vs {other['status']}: {other}"
        _close(rule["observed"], other["observed"], f"{rid}.observed")
        if rule["observed"] is not None:
            compared[rule["family"]] = compared.get(rule["family"], 0) + 1
        if rule["family"] == "drift":
            spark_features = {f["feature"]: f for f in other["details"]["features"]}
            for feature in rule["details"]["features"]:
                theirs = spark_features[feature["feature"]]
                for key, value in feature.items():
                    if key != "unseen_categories":  # ties of equal counts may list in another order
                        _close(value, theirs[key], f"{rid}.{feature['feature']}.{key}")
        if rule["family"] == "fairness" or rid.startswith("degenerate-decisions"):
            _close_tree(rule["details"], other["details"], rid)  # group tables, rates, shares
    # every family measured something on both engines (not a comparison of skips)
    assert compared["performance"] >= 9, compared
    assert compared["fairness"] >= 5, compared
    assert compared["drift"] >= 5, compared
    assert compared["integrity"] >= 4, compared  # null_fraction, duplicate_rows, conflicting_labels, overlap
    assert pandas_verdict["counts"]["blocking"] == spark_verdict["counts"]["blocking"]


def test_per_class_rules_and_a_capped_reference_ratio_on_both_engines(gated: dict[str, Any]) -> None:
    """Issue #23: ``class:`` and ``max`` on a ratio against a reference group, measured alike by both engines."""
    holdout = gated["holdout"]
    for engine in ("pandas", "spark"):
        rules = _rules(gated[engine])
        recall = rules["performance.recall.0"]
        assert recall["status"] == "pass", recall
        assert recall["details"]["class"] == 0
        assert recall["explanation"].startswith("recall of class 0 (one-vs-rest) = ")
        assert recall["observed"] != pytest.approx(gated[engine]["metrics"]["recall"], abs=1e-6), "not class 1's"
        cap = rules["dp-ratio-cap"]
        assert cap["status"] == "pass", cap
        rates = {row["group"]: row["selection_rate"] for row in cap["details"]["groups"]["sex"]}
        assert set(rates) == set(holdout["sex"].unique()) == {"male", "female"}
        assert cap["observed"] == pytest.approx(rates["female"] / rates["male"], rel=1e-12)
    _close(
        _rules(gated["pandas"])["dp-ratio-cap"]["observed"], _rules(gated["spark"])["dp-ratio-cap"]["observed"], "cap"
    )


def _close_tree(a: Any, b: Any, where: str) -> None:
    """Nested tables equal, numbers to 1e-9."""
    if isinstance(a, dict):
        assert isinstance(b, dict), f"{where}: {b!r}"
        assert set(a) == set(b), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            _close_tree(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list), f"{where}: {b!r}"
        assert len(a) == len(b), f"{where}: {a} vs {b}"
        for at, (x, y) in enumerate(zip(a, b, strict=True)):
            _close_tree(x, y, f"{where}[{at}]")
    else:
        _close(a, b, where)


def test_the_verdict_is_the_same(gated: dict[str, Any]) -> None:
    pandas_rules = _rules(gated["pandas"])
    skipped_here = [r for r in pandas_rules.values() if r["metric"] in SPARK_ONLY_SKIPS]
    # the rules Spark skips pass on pandas here, so the verdicts must agree
    assert all(r["status"] in ("pass", "skipped") for r in skipped_here), skipped_here
    assert gated["pandas"]["status"] == gated["spark"]["status"]
    assert gated["pandas"]["metrics"]["roc_auc"] > 0.6  # a real model, not a constant


def test_rules_that_need_rows_are_skipped_with_the_reason(gated: dict[str, Any]) -> None:
    spark_rules = [r for r in gated["spark"]["rules"] if r["family"] == "integrity" and r["metric"] in SPARK_ONLY_SKIPS]
    assert {r["metric"] for r in spark_rules} == SPARK_ONLY_SKIPS
    for rule in spark_rules:
        assert rule["status"] == "skipped", rule
        assert rule["observed"] is None
        assert "needs rows on the driver: run with --engine pandas" in rule["explanation"], rule
    pandas_rules = [r for r in gated["pandas"]["rules"] if r["metric"] in SPARK_ONLY_SKIPS]
    assert all(r["observed"] is not None for r in pandas_rules)  # pandas measured them: Spark did not pretend to


def test_drift_found_the_shift_on_both_engines(gated: dict[str, Any]) -> None:
    for engine in ("pandas", "spark"):
        psi = next(r for r in gated[engine]["rules"] if r["metric"] == "psi")
        worst = psi["details"]["features"][0]
        assert worst["feature"] == "credit_amount", worst
        assert worst["psi"] > 0.01, worst


def _refused(repo: Path, engine: str) -> tuple[str, int]:
    """``mlgate validate``'s output on the credit spec with ``data.engine: ENGINE`` added, and that line's number."""
    spec = repo / "models" / "credit" / "model.yaml"
    text = spec.read_text().replace("    stratify: true\n", f"    stratify: true\n  engine: {engine}\n", 1)
    spec.write_text(text)
    line = text.splitlines().index(f"  engine: {engine}") + 1
    done = invoke(CliRunner(), "validate", cwd=repo)
    assert done.exit_code == 2, done.output
    return done.output, line


def test_engine_spark_on_a_split_data_file_is_refused_at_its_line(governed_repo: Path) -> None:
    output, _ = _refused(governed_repo, "spark")
    assert "models/credit/model.yaml:" in output
    assert "engine spark reads 'train' and 'holdout' Parquet datasets" in output


def test_an_unknown_engine_is_refused_at_its_line(governed_repo: Path) -> None:
    output, line = _refused(governed_repo, "dask")
    assert f"models/credit/model.yaml:{line}:" in output
    assert "data -> engine: expected 'pandas' or 'spark'" in output


def test_rows_the_version_trained_on_are_left_out_alike(refreshed: dict[str, Any]) -> None:
    pandas_run, spark_run = refreshed["pandas"]["judging"]["evaluation"], refreshed["spark"]["judging"]["evaluation"]
    assert pandas_run["excluded_rows"] >= 400  # the 400 copied rows (and any holdout row equal to a training row)
    assert spark_run["excluded_rows"] == pandas_run["excluded_rows"]
    assert spark_run["holdout_rows"] == pandas_run["holdout_rows"] == 3000 - pandas_run["excluded_rows"]
    assert "leaving out" not in spark_run["reason"]
    assert "was trained on" in spark_run["reason"]
    for name, value in refreshed["pandas"]["metrics"].items():
        _close(value, refreshed["spark"]["metrics"][name], f"metrics.{name}")
    pandas_rules, spark_rules = _rules(refreshed["pandas"]), _rules(refreshed["spark"])
    for rid, rule in pandas_rules.items():
        if rule["metric"] not in SPARK_ONLY_SKIPS:
            _close(rule["observed"], spark_rules[rid]["observed"], f"{rid}.observed")


def _gate_credit(repo: Path, uri: str, *args: str) -> Any:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        return invoke(CliRunner(), "gate", "credit", "--no-attach", *args, cwd=repo)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


def test_the_pandas_engine_refuses_more_rows_than_its_limit(gated: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setenv("MLGATE_PANDAS_MAX_ROWS", "5000")  # train + holdout: 6,000 Parquet rows
    done = _gate_credit(gated["repo"], gated["uri"], "--engine", "pandas")
    assert done.exit_code == 2, done.output
    assert "6,000 rows" in done.output
    assert "--engine spark" in done.output
    monkeypatch.setenv("MLGATE_PANDAS_MAX_ROWS", "lots")
    done = _gate_credit(gated["repo"], gated["uri"], "--engine", "pandas")
    assert done.exit_code == 2, done.output
    assert "MLGATE_PANDAS_MAX_ROWS='lots'" in done.output


def test_without_pyspark_the_spark_engine_names_the_extra(gated: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pyspark", None)  # import pyspark now fails
    done = _gate_credit(gated["repo"], gated["uri"])  # the spec's data.engine: spark
    assert done.exit_code == 2, done.output
    assert "pip install 'mlgate[spark]'" in done.output


def test_without_java_the_spark_engine_says_so(gated: dict[str, Any], monkeypatch: Any, tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    found = shutil.which("git")  # what the gate needs on PATH besides Java (dvc: this interpreter's folder)
    assert found is not None
    (tools / "git").symlink_to(found)
    monkeypatch.setenv("PATH", os.pathsep.join([str(tools), str(Path(__import__("sys").executable).parent)]))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    done = _gate_credit(gated["repo"], gated["uri"], "--engine", "spark")
    assert done.exit_code == 2, done.output
    assert "needs Java" in done.output

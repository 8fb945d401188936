"""The verdict's evidence block on real gated versions (real git repo, DVC data, `mlflow server`).

Numbers are recomputed here, independently, with sklearn on the same holdout rows: the confusion
matrix, per-class metrics, ROC/PR curves and the base-branch model's metrics must agree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn import metrics as m

from conftest import copy_repo, git
from mlgate.config import load_model_context
from mlgate.data import load_model_data
from mlgate.gates import SCHEMA, evidence, run_gates
from mlgate.registry import Registry
from mlgate.report import ReportInput, render_html, render_markdown
from mlgate.training import train

pytestmark = pytest.mark.server


def holdout_xy(repo: Path, name: str) -> tuple[Any, Any, Any]:
    ctx = load_model_context(repo, name)
    holdout = load_model_data(ctx.spec, ctx.spec_doc, repo).holdout
    return ctx, holdout[ctx.spec.features.all], holdout[ctx.spec.target]


@pytest.fixture(scope="module")
def pr(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A PR-like history: credit v1 trained on the base commit, v2 on a branch that retunes it.

    The server is shared by the session: a model name of this module's own keeps it apart.
    """
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("evidence") / "repo")
    spec = repo / "models/credit/model.yaml"
    spec.write_text(spec.read_text().replace("name: credit", "name: evcredit"))
    release = repo / "models/credit/release.yaml"
    release.write_text(release.read_text().replace("model: credit", "model: evcredit"))
    (repo / "models/credit").rename(repo / "models/evcredit")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["evcredit"] = params.pop("credit")
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "evcredit", cwd=repo)
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    v1 = train(repo, "evcredit", tracking_uri=mlflow_server).version
    git("checkout", "-qb", "retune", cwd=repo)
    params["evcredit"] = {"n_estimators": 200, "max_depth": 4, "class_weight": "balanced"}  # max_depth, ±1 key
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    git("commit", "-qam", "retune evcredit", cwd=repo)
    v2 = train(repo, "evcredit", tracking_uri=mlflow_server).version
    no_champion = run_gates(repo, "evcredit", version=v2, policy_ref=base, tracking_uri=mlflow_server, attach=False)
    Registry(repo, mlflow_server).set_alias("evcredit", "production", v1)
    with_champion = run_gates(repo, "evcredit", version=v2, policy_ref=base, tracking_uri=mlflow_server, attach=False)
    return {
        "repo": repo,
        "url": mlflow_server,
        "base": base,
        "versions": (v1, v2),
        "no_champion": json.loads(json.dumps(no_champion.as_dict(), default=str)),
        "with_champion": json.loads(json.dumps(with_champion.as_dict(), default=str)),
    }


def test_params_diff_has_dvc_semantics(pr: dict[str, Any]) -> None:
    params = pr["no_champion"]["evidence"]["params"]
    assert params["base"] == pr["base"]
    assert params["new"] is False
    assert params["changes"] == [
        {"param": "class_weight", "base": None, "head": "balanced", "change": "added"},
        {"param": "max_depth", "base": 6, "head": 4, "change": "modified"},
        {"param": "min_samples_leaf", "base": 5, "head": None, "change": "removed"},
    ]


def test_classification_evidence_equals_sklearn(pr: dict[str, Any]) -> None:
    verdict = pr["no_champion"]
    assert verdict["schema"] == SCHEMA
    _, x, y = holdout_xy(pr["repo"], "evcredit")
    assert verdict["judging"]["evaluation"]["holdout_rows"] == len(y)
    model = Registry(pr["repo"], pr["url"]).load_model("evcredit", pr["versions"][1])
    classes = list(model.classes_)
    proba = model.predict_proba(x)
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    found = verdict["evidence"]["classification"]
    assert found["confusion"]["labels"] == classes == [0, 1]
    assert found["confusion"]["matrix"] == m.confusion_matrix(y, predicted, labels=classes).tolist()
    p, r, f, s = m.precision_recall_fscore_support(y, predicted, labels=classes, zero_division=0)
    assert [row["precision"] for row in found["per_class"]] == pytest.approx(p)
    assert [row["recall"] for row in found["per_class"]] == pytest.approx(r)
    assert [row["f1"] for row in found["per_class"]] == pytest.approx(f)
    assert [row["support"] for row in found["per_class"]] == s.tolist()
    hit, score = y.to_numpy() == 1, proba[:, 1]
    roc, pr_curve = found["roc"], found["pr"]
    assert roc["auc"] == pytest.approx(m.roc_auc_score(hit, score)) == pytest.approx(verdict["metrics"]["roc_auc"])
    assert len(roc["fpr"]) <= evidence.MAX_CURVE_POINTS
    assert len(pr_curve["recall"]) <= evidence.MAX_CURVE_POINTS
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert m.auc(roc["fpr"], roc["tpr"]) == pytest.approx(roc["auc"], abs=0.01), "downsampled curve"
    assert pr_curve["average_precision"] == pytest.approx(m.average_precision_score(hit, score))
    assert (pr_curve["recall"][0], pr_curve["recall"][-1]) == (0, 1)
    assert pr_curve["precision"][-1] == pytest.approx(hit.mean(), abs=1e-6), "all predicted positive"
    assert pr_curve["prevalence"] == pytest.approx(hit.mean())


def test_feature_importance_ranks_the_input_columns_quickly(pr: dict[str, Any]) -> None:
    verdict = pr["no_champion"]
    importance = verdict["evidence"]["importance"]
    ctx, _, _ = holdout_xy(pr["repo"], "evcredit")
    assert importance["score"] == "roc_auc"
    assert importance["baseline"] == pytest.approx(verdict["metrics"]["roc_auc"])
    assert importance["of"] == len(ctx.spec.features.all)
    names = [f["feature"] for f in importance["features"]]
    assert set(names) == set(ctx.spec.features.all)
    values = [f["importance"] for f in importance["features"]]
    assert values == sorted(values, reverse=True)
    assert values[0] > 0.01, "shuffling the most important column must hurt ROC AUC"
    assert importance["seconds"] < 5, importance
    assert verdict["seconds"]["evidence"] < 5


def test_base_model_is_compared_only_without_a_champion(pr: dict[str, Any]) -> None:
    v1, v2 = pr["versions"]
    base_model = pr["no_champion"]["evidence"]["base_model"]
    assert (base_model["version"], base_model["commit"]) == (v1, pr["base"])
    _, x, y = holdout_xy(pr["repo"], "evcredit")
    old = Registry(pr["repo"], pr["url"]).load_model("evcredit", v1)
    assert base_model["metrics"]["roc_auc"] == pytest.approx(m.roc_auc_score(y == 1, old.predict_proba(x)[:, 1]))
    assert pr["no_champion"]["champion"] is None
    text = render_markdown(report_input(pr["repo"], pr["no_champion"])).text
    assert f"Challenger v{v2} vs the base branch's model v{v1}" in text
    assert "| max_depth | 6 | 4 |" in text
    # with a production champion the champion is the comparison; the base model is not looked up
    with_champion = pr["with_champion"]
    assert with_champion["champion"]["version"] == v1
    assert "base_model" not in with_champion["evidence"]
    assert with_champion["evidence"]["params"]["changes"] == pr["no_champion"]["evidence"]["params"]["changes"]
    text = render_markdown(report_input(pr["repo"], with_champion)).text
    assert f"Challenger v{v2} vs champion v{v1}" in text
    assert "base branch's model" not in text


def report_input(repo: Path, verdict: dict[str, Any]) -> ReportInput:
    from mlgate.config import load_model_spec

    name = verdict["model"]
    return ReportInput(verdict=verdict, spec=load_model_spec(repo / "models" / name / "model.yaml", repo)[0])


CHARTS = """(() => ({
  curves: [...document.querySelectorAll('svg.curve')].map(s => {
    const box = s.getBoundingClientRect();
    return {width: box.width, height: box.height, points: s.querySelector('polyline').points.numberOfItems};
  }),
  bars: [...document.querySelectorAll('svg rect')].filter(r => r.closest('svg:not(.curve)')).length,
  confusion: [...document.querySelectorAll('table.confusion tbody tr')].map(
    tr => [...tr.querySelectorAll('td')].slice(0, -1).map(td => Number(td.textContent))),
}))()"""


def test_html_shows_curves_confusion_and_importance_in_chromium(pr: dict[str, Any], tmp_path: Path) -> None:
    from browser import render, require_chromium

    require_chromium()
    verdict = pr["no_champion"]
    html = render_html(report_input(pr["repo"], verdict))
    assert "https://" not in html.split("<body>", 1)[1].replace("http://www.w3.org/2000/svg", "")
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shown = render(page, tmp_path / "shots", 1280, 900, measure={"charts": CHARTS})
    assert shown.console_errors == []
    assert shown.network_requests == []
    charts = shown.values["charts"]
    found = verdict["evidence"]["classification"]
    assert [c["points"] for c in charts["curves"]] == [len(found["roc"]["fpr"]), len(found["pr"]["recall"])]
    assert all(c["width"] > 250 and c["height"] > 250 for c in charts["curves"]), charts["curves"]
    assert charts["confusion"] == found["confusion"]["matrix"]
    shown_bars = len(verdict["evidence"]["importance"]["features"])
    assert charts["bars"] >= shown_bars > 0, "one bar per feature (plus the fairness charts' bars)"
    assert "Feature importance" in (shown.text or "")


# ----------------------------------------------------------------------------- multiclass


REGION_SPEC = """name: region
description: Guesses a customer's US region from their insurance record (a multiclass example).
owners: [pricing-team]
task: classification
data:
  path: data/insurance.csv
  split: {holdout_fraction: 0.25, seed: 3, stratify: true}
target: region
features:
  numeric: [age, bmi, children, charges]
  categorical: [sex, smoker]
sensitive_features:
  - name: sex
estimator:
  class: sklearn.ensemble.RandomForestClassifier
model_card:
  intended_use: Tests of multiclass evidence.
  limitations: Region is barely predictable from these columns.
  ethical_considerations: None beyond the insurance model's.
monitoring:
  owner: pricing-team
  retraining_trigger: never
  rollback_procedure: revert the promotion PR
policy: policies/region.yaml
"""
REGION_POLICY = """extends: base.yaml
description: Multiclass example.
gates:
  performance:
    - metric: accuracy
      min: 0.1
    - metric: recall
      class: southeast
      min: 0.05
    - id: f1-northwest
      metric: f1
      class: northwest
      min: 0
    - id: precision-of-a-typo
      metric: precision
      class: south-east
      min: 0
      severity: warn
"""


@pytest.fixture(scope="module")
def region(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 4-class model on the insurance data (target: region), trained and gated."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("evidence-region") / "repo")
    (repo / "models/region").mkdir()
    (repo / "models/region/model.yaml").write_text(REGION_SPEC)
    (repo / "policies/region.yaml").write_text(REGION_POLICY)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["region"] = {"n_estimators": 50, "max_depth": 5}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "region", cwd=repo)
    version = train(repo, "region", tracking_uri=mlflow_server).version
    verdict = run_gates(repo, "region", version=version, tracking_uri=mlflow_server, attach=False)
    return {"repo": repo, "url": mlflow_server, "version": version, "verdict": verdict.as_dict()}


def test_multiclass_confusion_and_per_class_equal_sklearn(region: dict[str, Any]) -> None:
    verdict = region["verdict"]
    _, x, y = holdout_xy(region["repo"], "region")
    model = Registry(region["repo"], region["url"]).load_model("region", region["version"])
    classes = list(model.classes_)
    predicted = np.asarray(classes)[model.predict_proba(x).argmax(axis=1)]
    found = verdict["evidence"]["classification"]
    assert found["confusion"]["labels"] == classes == ["northeast", "northwest", "southeast", "southwest"]
    matrix = m.confusion_matrix(y, predicted, labels=classes)
    assert found["confusion"]["matrix"] == matrix.tolist()
    assert sum(map(sum, found["confusion"]["matrix"])) == len(y)
    p, r, f, s = m.precision_recall_fscore_support(y, predicted, labels=classes, zero_division=0)
    assert [(c["class"], c["precision"], c["recall"], c["f1"], c["support"]) for c in found["per_class"]] == [
        (c, pytest.approx(p[i]), pytest.approx(r[i]), pytest.approx(f[i]), int(s[i])) for i, c in enumerate(classes)
    ]
    assert "roc" not in found, "curves are drawn for binary models only"
    assert "pr" not in found
    assert verdict["evidence"]["importance"]["score"] == "accuracy"
    assert "params" not in verdict["evidence"], "no --base: nothing to diff against"
    assert "base_model" not in verdict["evidence"]
    text = render_markdown(ReportInput(verdict=verdict, spec=load_model_context(region["repo"], "region").spec)).text
    assert "| **southwest** |" in text, "a confusion-matrix row per class"
    row = next(line for line in text.splitlines() if line.startswith("| southeast |"))
    assert row.split("|")[-2].strip() == str(int(s[2])), "per-class support"


def test_per_class_rules_judge_one_class_one_vs_rest(region: dict[str, Any]) -> None:
    """Issue #23: ``class: <label>`` on precision/recall/F1 of a multiclass model, as scikit-learn computes it."""
    verdict = region["verdict"]
    _, x, y = holdout_xy(region["repo"], "region")
    model = Registry(region["repo"], region["url"]).load_model("region", region["version"])
    predicted = np.asarray(model.classes_)[model.predict_proba(x).argmax(axis=1)]
    rules = {r["rule_id"]: r for r in verdict["rules"]}
    recall = rules["performance.recall.southeast"]
    expected = m.recall_score(y, predicted, labels=["southeast"], average=None)[0]
    assert recall["observed"] == pytest.approx(expected, abs=1e-12)
    assert recall["observed"] != pytest.approx(verdict["metrics"]["recall"], abs=1e-6), "not the macro average"
    assert recall["status"] == "pass"
    assert recall["explanation"].startswith("recall of class 'southeast' (one-vs-rest) = ")
    assert recall["details"]["class"] == "southeast"
    f1 = rules["f1-northwest"]
    assert f1["observed"] == pytest.approx(m.f1_score(y, predicted, labels=["northwest"], average=None)[0], abs=1e-12)
    typo = rules["precision-of-a-typo"]
    assert typo["status"] == "error"
    assert typo["explanation"] == (
        "no class 'south-east' among the model's classes ('northeast', 'northwest', 'southeast', 'southwest')"
    )
    text = render_markdown(ReportInput(verdict=verdict, spec=load_model_context(region["repo"], "region").spec)).text
    assert "| `f1-northwest` | f1 of class northwest |" in text


# ----------------------------------------------------------------------------- pure functions


def test_params_diff_flattens_nested_keys_and_tells_null_from_missing() -> None:
    base = {"a": 1, "nested": {"x": 1, "y": [1, 2]}, "gone": None, "same": "s"}
    head = {"a": 1.0, "nested": {"x": 2, "y": [1, 2], "z": True}, "same": "s", "new": None}
    assert evidence.params_diff(base, head) == [
        {"param": "a", "base": 1, "head": 1.0, "change": "modified"},  # 1 → 1.0 changes the YAML
        {"param": "gone", "base": None, "head": None, "change": "removed"},
        {"param": "nested.x", "base": 1, "head": 2, "change": "modified"},
        {"param": "nested.z", "base": None, "head": True, "change": "added"},
        {"param": "new", "base": None, "head": None, "change": "added"},
    ]
    assert evidence.params_diff(None, {"k": 1}) == [{"param": "k", "base": None, "head": 1, "change": "added"}]


def test_downsample_keeps_endpoints_and_bounds_points() -> None:
    xs = np.linspace(0, 1, 1000)
    (small,) = evidence.downsample(xs)
    assert len(small) == evidence.MAX_CURVE_POINTS
    assert (small[0], small[-1]) == (0.0, 1.0)
    assert evidence.downsample(np.array([0.0, 1.0])) == [[0.0, 1.0]]

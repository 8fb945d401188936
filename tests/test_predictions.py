"""A predictions spec: gate the outputs of a system mlgate did not train (issue #15, part 3).

The repo is real (git + DVC with a directory remote); the predictions file is a logistic score
of UCI Adult's test rows (tests/data/predictions/SOURCES.md). Every expected number is computed
here, from the same file and threshold, with fairlearn and scikit-learn; mlgate's must equal
them to 1e-12. No MLflow is involved: the tracking URI points at a closed port, and a child
process shows mlflow is never even imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, average_precision_score, balanced_accuracy_score, roc_auc_score

from conftest import copy_repo, dvc, git, invoke
from mlgate.gates import SCHEMA

DATA = Path(__file__).resolve().parent / "data" / "predictions"
SCORES, REFERENCE = "data/adult_scores.csv", "data/adult_reference.csv"
THRESHOLD = 0.4
SPEC = "models/vendor/model.yaml"
POLICY = "policies/vendor.yaml"
NAMED = ["White", "Black", "Other"]

SPEC_TEXT = f"""\
name: vendor
description: A vendor's income score, audited before we rely on it.
owners: [risk-team]
task: classification
predictions:
  path: {SCORES}
  label_column: income
  score_column: score
  threshold: {THRESHOLD}
positive_label: ">50K"
data:
  reference: {REFERENCE}
features:
  numeric: [age, education_num, hours_per_week]
  categorical: [sex]
sensitive_features:
  - name: sex
  - name: race
model_card:
  intended_use: Audit of an external score before it informs decisions.
policy: {POLICY}
"""

POLICY_TEXT = """\
description: Audit of a vendor's score.
gates:
  performance:
    - metric: roc_auc
      min: 0.7
    - metric: accuracy
      min: 0.7
    - id: auc-vs-champion
      metric: roc_auc
      max_regression: 0.02
  fairness:
    - id: four-fifths-sex
      metric: demographic_parity_ratio
      min: 0.8
      sensitive_features: [sex]
      severity: warn
    - id: dp-race-named
      metric: demographic_parity_difference
      max: 1
      sensitive_features: [race]
      groups: [White, Black, Other]
    - id: eo-race
      metric: equalized_odds_difference
      max: 1
      sensitive_features: [race]
    - id: eo-ratio-race-named
      metric: equalized_odds_ratio
      min: 0
      sensitive_features: [race]
      groups: [White, Black]
    - id: dp-ratio-vs-white
      metric: demographic_parity_ratio
      min: 0
      sensitive_features: [race]
      groups: [White, Black, Other]
      reference_group: White
    - id: eo-vs-white
      metric: equalized_odds_difference
      max: 1
      sensitive_features: [race]
      reference_group: White
    - id: dp-ratio-vs-white-cap
      metric: demographic_parity_ratio
      max: 5
      sensitive_features: [race]
      reference_group: White
  drift:
    - metric: drifted_share
      max: 1
  integrity:
    - metric: null_fraction
      max: 0.05
    - metric: train_holdout_overlap
      max: 0.01
  documentation:
    - field: model_card.intended_use
promotion:
  order: [staging]
  stages:
    staging:
      require_gates: [performance, fairness]
"""


@pytest.fixture(scope="session")
def predictions_template(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example repo plus a DVC-tracked predictions file, its spec and policy, committed."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("predictions") / "repo")
    for rel in (SCORES, REFERENCE):
        shutil.copy2(DATA / Path(rel).name, repo / rel)
    dvc("add", "-q", SCORES, REFERENCE, cwd=repo)
    dvc("push", "-q", cwd=repo)
    (repo / SPEC).parent.mkdir(parents=True)
    (repo / SPEC).write_text(SPEC_TEXT)
    (repo / POLICY).write_text(POLICY_TEXT)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "audit the vendor's score", cwd=repo)
    return repo


@pytest.fixture
def predictions_repo(predictions_template: Path, tmp_path: Path) -> Path:
    """A fresh copy for a test that edits the repo."""
    return copy_repo(predictions_template, tmp_path / "repo")


@pytest.fixture
def no_tracking_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any MLflow call would fail: the tracking URI is a port nothing listens on."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")


def gate_json(cli: CliRunner, repo: Path, *args: str, code: int = 0) -> dict[str, Any]:
    out = repo.parent / "verdict.json"
    result = invoke(cli, "gate", "vendor", "--json", str(out), *args, cwd=repo)
    assert result.exit_code == code, result.output
    assert not (repo / "mlflow.db").exists()
    assert not (repo / "mlartifacts").exists()
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def verdict(predictions_template: Path) -> dict[str, Any]:
    """The verdict of the vendor spec, gated once (with no tracking server reachable)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
        return gate_json(CliRunner(), predictions_template)


def rule(verdict: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in verdict["rules"] if r["rule_id"] == rule_id)


@pytest.fixture(scope="session")
def frame() -> pd.DataFrame:
    scores = pd.read_csv(DATA / "adult_scores.csv")
    scores["y_true"] = scores["income"] == ">50K"
    scores["y_pred"] = scores["score"] >= THRESHOLD
    return scores


# --------------------------------------------------------------------------- the verdict


def test_verdict_names_the_predictions_not_a_version(verdict: dict[str, Any], predictions_template: Path) -> None:
    from mlgate.data import file_md5

    assert verdict["schema"] == SCHEMA
    assert verdict["subject"] == "predictions"
    assert verdict["version"] is None
    assert verdict["run_id"] is None
    md5 = file_md5(predictions_template / SCORES)
    assert verdict["predictions"] == {
        "path": SCORES,
        "label_column": "income",
        "score_column": "score",
        "prediction_column": None,
        "threshold": THRESHOLD,
        "md5": md5,
        "tracked_by": f"{SCORES}.dvc",
        "positive_label": ">50K",
    }
    assert {d["role"]: d["md5"] for d in verdict["data"]} == {
        "predictions": md5,
        "reference": file_md5(predictions_template / REFERENCE),
    }
    assert verdict["judging"]["evaluation"] == {"holdout_rows": 15060, "excluded_rows": 0, "reason": ""}
    assert verdict["trained_on"] == {}
    assert verdict["lineage"] == {}
    assert verdict["champion"] is None
    # the four-fifths rule on sex is a warning here: the verdict passes with warnings
    assert verdict["status"] == "warn"
    assert rule(verdict, "four-fifths-sex")["status"] == "fail"


def test_performance_equals_sklearn_on_the_score_and_threshold(verdict: dict[str, Any], frame: pd.DataFrame) -> None:
    metrics = verdict["metrics"]
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(frame.y_true, frame.score), abs=1e-12)
    # decided at 0.4, not at 0.5 (the most probable class): the threshold is the spec's
    assert metrics["accuracy"] == pytest.approx(accuracy_score(frame.y_true, frame.y_pred), abs=1e-12)
    assert metrics["accuracy"] != pytest.approx(accuracy_score(frame.y_true, frame.score >= 0.5), abs=1e-6)
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(frame.y_true, frame.y_pred), abs=1e-12)
    assert rule(verdict, "performance.roc_auc")["observed"] == pytest.approx(metrics["roc_auc"], abs=0)
    skipped = rule(verdict, "auc-vs-champion")
    assert skipped["status"] == "skipped"
    assert "no registered champion" in skipped["explanation"]


def test_fairness_equals_fairlearn_with_and_without_named_groups(verdict: dict[str, Any], frame: pd.DataFrame) -> None:
    y, p = frame.y_true, frame.y_pred
    expected = demographic_parity_ratio(y, p, sensitive_features=frame.sex)
    assert rule(verdict, "four-fifths-sex")["observed"] == pytest.approx(expected, abs=1e-12)
    assert expected < 0.8  # the rule fails for a reason fairlearn agrees with
    expected = equalized_odds_difference(y, p, sensitive_features=frame.race)
    assert rule(verdict, "eo-race")["observed"] == pytest.approx(expected, abs=1e-12)
    named = frame[frame.race.isin(NAMED)]
    expected = demographic_parity_difference(named.y_true, named.y_pred, sensitive_features=named.race)
    assert rule(verdict, "dp-race-named")["observed"] == pytest.approx(expected, abs=1e-12)
    # naming groups changes the answer: all five race groups give another difference
    assert expected != pytest.approx(demographic_parity_difference(y, p, sensitive_features=frame.race), abs=1e-6)
    two = frame[frame.race.isin(["White", "Black"])]
    expected = equalized_odds_ratio(two.y_true, two.y_pred, sensitive_features=two.race)
    assert rule(verdict, "eo-ratio-race-named")["observed"] == pytest.approx(expected, abs=1e-12)


def test_reference_group_numbers_from_fairlearn_by_group(verdict: dict[str, Any], frame: pd.DataFrame) -> None:
    rates = {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate}
    by_group = MetricFrame(
        metrics=rates, y_true=frame.y_true, y_pred=frame.y_pred, sensitive_features=frame.race
    ).by_group
    white = by_group.loc["White"]
    others = by_group.loc[["Black", "Other"], "selection_rate"]
    assert rule(verdict, "dp-ratio-vs-white")["observed"] == pytest.approx(
        (others / white.selection_rate).min(), abs=1e-12
    )
    rest = by_group.drop(index="White")
    worst = max((rest.tpr - white.tpr).abs().max(), (rest.fpr - white.fpr).abs().max())
    result = rule(verdict, "eo-vs-white")
    assert result["observed"] == pytest.approx(worst, abs=1e-12)
    assert "reference 'White'" in result["explanation"]
    assert result["details"]["reference_group"] == "White"


def test_a_ratio_against_the_reference_is_capped_by_its_largest(verdict: dict[str, Any], frame: pd.DataFrame) -> None:
    """Issue #23: ``max`` on a ratio against a reference group was refused as "always between 0 and 1"."""
    by_group = MetricFrame(
        metrics=selection_rate, y_true=frame.y_true, y_pred=frame.y_pred, sensitive_features=frame.race
    ).by_group
    ratios = by_group.drop(index="White") / by_group["White"]
    assert ratios.max() > 1, "a group is selected more often than White: the cap has something to judge"
    result = rule(verdict, "dp-ratio-vs-white-cap")
    assert result["status"] == "pass"
    assert result["observed"] == pytest.approx(ratios.max(), abs=1e-12)
    assert f"for '{ratios.idxmax()}' vs" in result["explanation"]


def test_overall_rates_and_the_selected_class(verdict: dict[str, Any], frame: pd.DataFrame) -> None:
    details = rule(verdict, "four-fifths-sex")["details"]
    assert details["positive_label"] == ">50K"
    overall = details["overall"]
    assert overall["count"] == len(frame)
    assert overall["selection_rate"] == pytest.approx(frame.y_pred.mean(), abs=1e-12)
    assert overall["recall"] == pytest.approx(true_positive_rate(frame.y_true, frame.y_pred), abs=1e-12)
    assert "overall selection rate" in rule(verdict, "four-fifths-sex")["explanation"]
    # the group tables stay whole when a rule compares only some groups
    assert {g["group"] for g in rule(verdict, "dp-race-named")["details"]["groups"]["race"]} == set(frame.race)


def test_drift_and_integrity_on_the_predictions_file(verdict: dict[str, Any]) -> None:
    drift = rule(verdict, "drift.drifted_share")
    assert drift["status"] == "pass"
    assert {f["feature"] for f in drift["details"]["features"]} == {"age", "education_num", "hours_per_week", "sex"}
    assert rule(verdict, "integrity.null_fraction")["status"] == "pass"
    overlap = rule(verdict, "integrity.train_holdout_overlap")
    assert overlap["status"] == "skipped"
    assert "training data" in overlap["explanation"]


def test_report_shows_overall_rates_and_selected_class(
    verdict: dict[str, Any], predictions_template: Path, cli: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(verdict))
    md, html = tmp_path / "r.md", tmp_path / "r.html"
    args = ("report", "vendor", "--verdict", str(path), "--markdown", str(md), "--html", str(html))
    result = invoke(cli, *args, cwd=predictions_template)
    assert result.exit_code == 0, result.output
    text = md.read_text()
    assert f"predictions `{SCORES}`" in text.splitlines()[0]
    assert "| **overall** | 15,060 |" in text
    # user values are HTML-escaped in Markdown (GitHub renders &gt; as >)
    assert "Selected = predicted **&gt;50K** (the spec's positive_label)." in text
    assert "decision: score &gt;= 0.4 selects '&gt;50K'" in text
    page = html.read_text()
    assert "<strong>overall</strong>" in page
    assert "vendor predictions" in page
    # the rows are the audited file's, all of them: no "holdout" (a training split) anywhere but a rule's name
    rule_names = ("train_holdout_overlap", "train_<wbr>holdout_<wbr>overlap")
    for shown in (text, page):
        assert "holdout" not in shown.replace(rule_names[0], "").replace(rule_names[1], "")
    assert f"#### Classification on 15060 audit rows (all rows of `{SCORES}`)" in text
    assert f"**Evaluation data.** All rows of `{SCORES}`" in text
    assert "**Training data.** _none: the predictions were made elsewhere_" in text
    assert "<dt>Training data</dt><dd>none: the predictions were made elsewhere</dd>" in page
    assert f"on the 15060 audit rows (all rows of {SCORES})" in rule(verdict, "performance.roc_auc")["explanation"]
    assert f"(15060 rows, all rows of {SCORES})" in rule(verdict, "integrity.null_fraction")["explanation"]


# --------------------------------------------------------------------------- no MLflow at all


def test_gate_never_imports_mlflow(predictions_template: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    code = (
        "import sys\n"
        "from mlgate.cli import main\n"
        "try:\n"
        f"    main(['gate', 'vendor', '--json', {str(out)!r}], standalone_mode=False)\n"
        "finally:\n"
        "    print('MLFLOW_IMPORTED=' + str('mlflow' in sys.modules))\n"
    )
    env = os.environ | {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=predictions_template, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "MLFLOW_IMPORTED=False" in done.stdout
    assert json.loads(out.read_text())["subject"] == "predictions"


# --------------------------------------------------------------------------- blocked, train, promote


def test_a_blocking_fairness_rule_blocks(predictions_repo: Path, cli: CliRunner, no_tracking_server: None) -> None:
    policy = predictions_repo / POLICY
    policy.write_text(policy.read_text().replace("      severity: warn\n", ""))
    git("commit", "-qam", "four-fifths blocks", cwd=predictions_repo)
    verdict = gate_json(cli, predictions_repo, code=1)
    assert verdict["status"] == "fail"
    assert rule(verdict, "four-fifths-sex")["blocking"] is True
    assert "needs ≥ 0.8" in rule(verdict, "four-fifths-sex")["explanation"]


def test_unknown_group_is_an_error_naming_the_groups_found(
    predictions_repo: Path, cli: CliRunner, no_tracking_server: None
) -> None:
    policy = predictions_repo / POLICY
    policy.write_text(policy.read_text().replace("groups: [White, Black]", "groups: [White, Blak]"))
    git("commit", "-qam", "typo", cwd=predictions_repo)
    verdict = gate_json(cli, predictions_repo, code=1)
    result = rule(verdict, "eo-ratio-race-named")
    assert result["status"] == "error"
    assert result["explanation"] == (
        "equalized_odds_ratio: no group 'Blak' in 'race' "
        "(groups found: Amer-Indian-Eskimo, Asian-Pac-Islander, Black, Other, White)"
    )


def test_a_named_group_below_min_group_size_is_an_error_naming_its_size(
    predictions_repo: Path, cli: CliRunner, no_tracking_server: None
) -> None:
    """Issue #23: 'Other' (122 rows) under min_group_size 130 was dropped and three named groups passed on two."""
    policy = predictions_repo / POLICY
    policy.write_text(policy.read_text() + "settings:\n  fairness:\n    min_group_size: 130\n")
    git("commit", "-qam", "larger groups only", cwd=predictions_repo)
    verdict = gate_json(cli, predictions_repo, code=1)
    for rule_id in ("dp-race-named", "dp-ratio-vs-white"):
        result = rule(verdict, rule_id)
        assert result["status"] == "error", result
        assert "'Other' (122 rows < min_group_size 130)" in result["explanation"]
    # a rule naming no group still leaves the small group out, and says so
    assert rule(verdict, "eo-race")["status"] == "pass"
    assert "left out, below min_group_size: 'Other' of 'race' (122 rows)" in rule(verdict, "eo-race")["explanation"]


@pytest.mark.parametrize(
    ("args", "doing"),
    [
        (("train", "vendor"), "be trained"),
        (("propose-promotion", "vendor", "--version", "1", "--stage", "staging"), "be promoted"),
    ],
)
def test_train_and_promote_refuse_a_predictions_spec(
    predictions_template: Path, cli: CliRunner, args: tuple[str, ...], doing: str
) -> None:
    result = invoke(cli, *args, cwd=predictions_template)
    assert result.exit_code == 2, result.output
    assert "a predictions spec has nothing to train or promote" in result.stderr
    assert f"cannot {doing}" in result.stderr
    assert not (predictions_template / "mlflow.db").exists()


# --------------------------------------------------------------------------- judged at the base


def test_base_commit_predictions_judge_a_pull_request(
    predictions_repo: Path, cli: CliRunner, no_tracking_server: None, frame: pd.DataFrame
) -> None:
    base = git("rev-parse", "HEAD", cwd=predictions_repo).strip()
    git("checkout", "-qb", "pr", cwd=predictions_repo)
    flattered = pd.read_csv(predictions_repo / SCORES)
    flattered["score"] = np.where(flattered["income"] == ">50K", 0.9, 0.1)  # perfect predictions
    flattered.to_csv(predictions_repo / SCORES, index=False)
    dvc("add", "-q", SCORES, cwd=predictions_repo)
    git("commit", "-qam", "better numbers", cwd=predictions_repo)
    head = gate_json(cli, predictions_repo, code=1)  # perfect: no false positives, so FPR ratios are 0/0
    assert head["metrics"]["roc_auc"] == 1.0
    judged = gate_json(cli, predictions_repo, "--base", base)
    assert judged["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(frame.y_true, frame.score), abs=1e-12)
    assert [c["field"] for c in judged["judging"]["changes"]] == ["predictions.path (content)"]


def test_governance_counts_the_predictions_file_as_evaluation_data() -> None:
    from mlgate.gates import evaluation_paths, judging_changes

    spec = {"predictions": {"path": SCORES, "label_column": "income"}, "data": {"reference": REFERENCE}}
    assert evaluation_paths(spec) == {"data.reference": REFERENCE, "predictions.path": SCORES}
    moved = {**spec, "predictions": {**spec["predictions"], "threshold": 0.1}}
    assert [c.field for c in judging_changes(spec, moved)] == ["predictions"]
    changes = judging_changes(spec, spec, {"predictions.path": "a"}, {"predictions.path": "b"})
    assert [c.field for c in changes] == ["predictions.path (content)"]


# --------------------------------------------------------------------------- malformed: exit 2, file:line


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


SPEC_LINE = {
    key: line_of(SPEC_TEXT, key) for key in ("predictions:", "threshold:", "score_column:", "data:", "name: vendor")
}
POLICY_LINE = {
    "groups": line_of(POLICY_TEXT, "groups: [White, Black, Other"),
    "reference": line_of(POLICY_TEXT, "reference_group: White"),
    "eo-groups": line_of(POLICY_TEXT, "groups: [White, Black]"),
}

MALFORMED = [
    pytest.param(
        SPEC,
        ("  threshold: 0.4\n", ""),
        f"{SPEC}:{SPEC_LINE['predictions:'] + 1}:3: predictions -> threshold: required with 'score_column': "
        "a score >= threshold decides positive_label",
        id="score-without-threshold",
    ),
    pytest.param(
        SPEC,
        ("  score_column: score\n", "  score_column: score\n  prediction_column: score\n"),
        f"{SPEC}:{SPEC_LINE['predictions:'] + 1}:3: predictions: give exactly one of 'score_column' "
        "(with 'threshold') or 'prediction_column'",
        id="score-and-prediction-columns",
    ),
    pytest.param(
        SPEC,
        ("  threshold: 0.4\n", "  treshold: 0.4\n"),
        f"{SPEC}:{SPEC_LINE['threshold:']}:3: predictions -> treshold: unknown key (did you mean 'threshold'?)",
        id="unknown-key",
    ),
    pytest.param(
        SPEC,
        ("  threshold: 0.4\n", "  threshold: 40\n"),
        f"{SPEC}:{SPEC_LINE['threshold:']}:14: predictions -> threshold: threshold 40 is outside the scores of 'score' "
        f"in {SCORES} (0.000414 to 1): every row would be below it; give the threshold in the score's own units",
        id="threshold-above-the-scores",
    ),
    pytest.param(
        SPEC,
        ("  threshold: 0.4\n", '  threshold: "0.4"\n'),
        f"{SPEC}:{SPEC_LINE['threshold:']}:14: predictions -> threshold: expected a number, got string '0.4'",
        id="threshold-string",
    ),
    pytest.param(
        SPEC,
        ("  score_column: score\n", "  score_column: income\n"),
        f"{SPEC}:{SPEC_LINE['score_column:']}:17: predictions -> score_column: 'income' is also the "
        "label_column: the outcome cannot judge itself",
        id="score-is-label",
    ),
    pytest.param(
        SPEC,
        ("policy:", "estimator:\n  class: sklearn.linear_model.LogisticRegression\npolicy:"),
        f"{SPEC}:{SPEC_LINE['predictions:'] + 1}:3: predictions: say how the model comes to be with exactly one of "
        "'estimator' (mlgate fits a scikit-learn pipeline), 'train: {command: ...}' (your own command) or "
        "'predictions' (made elsewhere), got both 'estimator' and 'predictions'",
        id="estimator-and-predictions",
    ),
    pytest.param(
        SPEC,
        ("data:\n", "target: income\ndata:\n"),
        f"{SPEC}:{SPEC_LINE['data:']}:9: target: a predictions spec names its outcome in predictions.label_column",
        id="target-in-predictions-spec",
    ),
    pytest.param(
        SPEC,
        ("data:\n", "data:\n  holdout: data/german_credit.csv\n"),
        f"{SPEC}:{SPEC_LINE['data:'] + 1}:12: data -> holdout: a predictions spec is evaluated on predictions.path: "
        "data may give only 'reference' (drift), not 'holdout'",
        id="holdout-in-predictions-spec",
    ),
    pytest.param(
        SPEC,
        ("  path: data/adult_scores.csv\n", "  path: ../adult_scores.csv\n"),
        f"{SPEC}:{SPEC_LINE['predictions:'] + 1}:9: predictions -> path: must be a relative path to a file in this "
        "repository, got '../adult_scores.csv'",
        id="path-outside-repo",
    ),
    pytest.param(
        SPEC,
        ("  score_column: score\n", "  score_column: scor\n"),
        f"{SPEC}:{SPEC_LINE['score_column:']}:17: predictions -> score_column: column 'scor' not found in "
        f"{SCORES} (did you mean 'score'?)",
        id="score-column-not-in-file",
    ),
    pytest.param(
        POLICY,
        ("groups: [White, Black, Other]", "groups: White"),
        f"{POLICY}:{POLICY_LINE['groups']}:15: gates -> fairness -> 1 -> groups: expected a list, got string 'White'",
        id="groups-not-a-list",
    ),
    pytest.param(
        POLICY,
        ("groups: [White, Black]", "groups: []"),
        f"{POLICY}:{POLICY_LINE['eo-groups']}:15: gates -> fairness -> 3 -> groups: list should have at least 1 "
        "item after validation, not 0",
        id="groups-empty",
    ),
    pytest.param(
        POLICY,
        ("reference_group: White", "reference_group: Asian-Pac-Islander"),
        f"{POLICY}:{POLICY_LINE['reference']}:24: gates -> fairness -> 4 -> reference_group: 'Asian-Pac-Islander' is "
        "not one of groups (White, Black, Other)",
        id="reference-group-not-in-groups",
    ),
    pytest.param(
        POLICY,
        ("groups: [White, Black]", "groups: [White, White]"),
        f"{POLICY}:{POLICY_LINE['eo-groups']}:23: gates -> fairness -> 3 -> groups -> 1: group 'White' is listed twice",
        id="groups-twice",
    ),
    pytest.param(
        POLICY,
        ("      groups: [White, Black]\n", "      groups: [White, Black]\n      intersection: true\n"),
        f"{POLICY}:{POLICY_LINE['eo-groups']}:15: gates -> fairness -> 3 -> groups: 'groups' names groups of one "
        "sensitive feature: give sensitive_features: [<one name>] (and no intersection)",
        id="groups-with-intersection",
    ),
]


@pytest.mark.parametrize(("file", "edit", "expected"), MALFORMED)
def test_malformed_predictions_input_exits_2_with_file_and_line(
    predictions_repo: Path, cli: CliRunner, no_tracking_server: None, file: str, edit: tuple[str, str], expected: str
) -> None:
    path = predictions_repo / file
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1))
    result = invoke(cli, "gate", "vendor", cwd=predictions_repo)
    assert result.exit_code == 2, result.output
    lines = [line.removeprefix("error: ") for line in result.stderr.splitlines()]
    assert expected in lines, result.stderr


def test_a_missing_score_is_located_in_the_data_file(
    predictions_repo: Path, cli: CliRunner, no_tracking_server: None
) -> None:
    scores = pd.read_csv(predictions_repo / SCORES)
    scores.loc[6, "score"] = np.nan
    scores.to_csv(predictions_repo / SCORES, index=False)
    dvc("add", "-q", SCORES, cwd=predictions_repo)
    result = invoke(cli, "gate", "vendor", cwd=predictions_repo)
    assert result.exit_code == 2, result.output
    assert f"{SCORES}:8: score: no score here (1 row like this): every row needs its score" in result.stderr


# --------------------------------------------------------------------------- a score on its own scale (#23)

DECILES = "data/deciles.csv"
DECILE_POLICY_RULES = """\
    - metric: log_loss
      max: 0.6
    - metric: brier
      max: 0.2
    - metric: pr_auc
      min: 0.3
"""


def decile_repo(repo: Path, frame: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The vendor's score as a COMPAS-style decile 1-10, decided at ``threshold`` deciles; committed."""
    deciles = frame[["age", "education_num", "hours_per_week", "sex", "race", "income"]].assign(
        decile=np.clip(np.ceil(frame.score * 10), 1, 10).astype(int)
    )
    deciles.to_csv(repo / DECILES, index=False)
    dvc("add", "-q", DECILES, cwd=repo)
    spec = repo / SPEC
    text = spec.read_text().replace(f"path: {SCORES}", f"path: {DECILES}")
    spec.write_text(
        text.replace("  score_column: score\n  threshold: 0.4\n", f"  score_column: decile\n  threshold: {threshold}\n")
    )
    policy = repo / POLICY
    policy.write_text(policy.read_text().replace("  fairness:\n", DECILE_POLICY_RULES + "  fairness:\n", 1))
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "the vendor's deciles", cwd=repo)
    return deciles.assign(y_true=frame.y_true)


def test_a_decile_score_is_audited_in_its_own_units(
    predictions_repo: Path, cli: CliRunner, frame: pd.DataFrame, no_tracking_server: None
) -> None:
    deciles = decile_repo(predictions_repo, frame, 5)
    verdict = gate_json(cli, predictions_repo)  # four-fifths on sex fails (a warning) as with the probability
    decided = deciles.decile >= 5
    metrics = verdict["metrics"]
    assert metrics["accuracy"] == pytest.approx(accuracy_score(deciles.y_true, decided), abs=1e-12)
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(deciles.y_true, decided), abs=1e-12)
    # ranking metrics hold on any scale: the deciles' ties make them differ from the raw score's
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(deciles.y_true, deciles.decile), abs=1e-12)
    assert metrics["roc_auc"] != pytest.approx(roc_auc_score(frame.y_true, frame.score), abs=1e-4)
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(deciles.y_true, deciles.decile), abs=1e-12)
    assert rule(verdict, "performance.pr_auc")["status"] == "pass"
    assert verdict["evidence"]["classification"]["roc"]["auc"] == metrics["roc_auc"]  # the report's curve: deciles
    # probability metrics would read 7 as a probability: skipped, with the reason, and absent from the metrics
    for metric in ("log_loss", "brier"):
        assert metric not in metrics
        skipped = rule(verdict, f"performance.{metric}")
        assert skipped["status"] == "skipped"
        assert (
            f"{metric} needs probabilities in [0, 1]; score_column 'decile' ranges from 1 to 10"
            in (skipped["explanation"])
        )
    # the decisions the fairness rules judge are the deciles' own
    expected = demographic_parity_ratio(deciles.y_true, decided, sensitive_features=deciles.sex)
    assert rule(verdict, "four-fifths-sex")["observed"] == pytest.approx(expected, abs=1e-12)
    assert verdict["predictions"]["threshold"] == 5


def test_a_probability_score_still_measures_log_loss_and_brier(verdict: dict[str, Any], frame: pd.DataFrame) -> None:
    from sklearn.metrics import brier_score_loss, log_loss

    assert verdict["metrics"]["log_loss"] == pytest.approx(log_loss(frame.y_true, frame.score), abs=1e-9)
    assert verdict["metrics"]["brier"] == pytest.approx(brier_score_loss(frame.y_true, frame.score), abs=1e-12)


@pytest.mark.parametrize(("threshold", "side"), [(0.5, "at or above"), (11, "below")])
def test_a_threshold_outside_the_scores_is_refused_at_its_line(
    predictions_repo: Path,
    cli: CliRunner,
    frame: pd.DataFrame,
    no_tracking_server: None,
    threshold: float,
    side: str,
) -> None:
    decile_repo(predictions_repo, frame, threshold)
    result = invoke(cli, "gate", "vendor", cwd=predictions_repo)
    assert result.exit_code == 2, result.output
    assert (
        f"{SPEC}:{SPEC_LINE['threshold:']}:14: predictions -> threshold: threshold {threshold:g} is outside the scores "
        f"of 'decile' in {DECILES} (1 to 10): every row would be {side} it; give the threshold in the score's own units"
    ) in result.stderr


def test_spark_refuses_a_predictions_spec_naming_the_setting(
    predictions_repo: Path, cli: CliRunner, frame: pd.DataFrame, no_tracking_server: None
) -> None:
    decile_repo(predictions_repo, frame, 5)
    result = invoke(cli, "gate", "vendor", "--engine", "spark", cwd=predictions_repo)
    assert result.exit_code == 2, result.output
    assert (
        "'vendor' is a predictions spec (its 'predictions:' audits a file): --engine spark gates registered models "
        "only; gate it with --engine pandas"
    ) in result.stderr


def test_validate_pull_and_affected_know_the_predictions_file(predictions_repo: Path, cli: CliRunner) -> None:
    assert invoke(cli, "validate", cwd=predictions_repo).exit_code == 0
    (predictions_repo / SCORES).unlink()
    pulled = invoke(cli, "pull", "vendor", "--json", "-", cwd=predictions_repo)
    assert pulled.exit_code == 0, pulled.output
    assert {f["path"]: f["action"] for f in json.loads(pulled.stdout)["vendor"]} == {
        REFERENCE: "present",
        SCORES: "pulled",
    }
    base = git("rev-parse", "HEAD", cwd=predictions_repo).strip()
    scores = pd.read_csv(predictions_repo / SCORES)
    scores.loc[0, "score"] = 0.5
    scores.to_csv(predictions_repo / SCORES, index=False)
    dvc("add", "-q", SCORES, cwd=predictions_repo)
    git("commit", "-qam", "new scores", cwd=predictions_repo)
    outputs = predictions_repo / "github_output"
    affected = invoke(
        cli, "affected", "--base", base, "--json", "-", "--github-output", str(outputs), cwd=predictions_repo
    )
    assert affected.exit_code == 0, affected.output
    assert f"{SCORES}.dvc" in json.loads(affected.stdout)["vendor"]
    # propose.yml skips the train step of a predictions spec: nothing to train, only to gate
    assert 'gate-only=["vendor"]' in outputs.read_text().splitlines()


def test_decided_labels_without_scores(predictions_repo: Path, cli: CliRunner, frame: pd.DataFrame) -> None:
    decisions = frame[["sex", "race", "income"]].assign(decision=np.where(frame.y_pred, ">50K", "<=50K"))
    decisions.to_csv(predictions_repo / "data/decisions.csv", index=False)
    dvc("add", "-q", "data/decisions.csv", cwd=predictions_repo)
    spec = predictions_repo / SPEC
    text = spec.read_text().replace(f"path: {SCORES}", "path: data/decisions.csv")
    text = text.replace("  score_column: score\n  threshold: 0.4\n", "  prediction_column: decision\n")
    features = "features:\n  numeric: [age, education_num, hours_per_week]\n  categorical: [sex]\n"
    spec.write_text(text.replace(features, ""))
    git("add", "-A", cwd=predictions_repo)
    git("commit", "-qm", "a rules engine's decisions", cwd=predictions_repo)
    verdict = gate_json(cli, predictions_repo, code=1)
    assert verdict["predictions"]["prediction_column"] == "decision"
    assert verdict["metrics"]["accuracy"] == pytest.approx(accuracy_score(frame.y_true, frame.y_pred), abs=1e-12)
    assert "roc_auc" not in verdict["metrics"]  # decisions carry no ranking
    assert rule(verdict, "performance.roc_auc")["status"] == "error"
    assert rule(verdict, "performance.roc_auc")["explanation"] == (
        "roc_auc needs scores; this model gives decided labels only: no scores"
    )
    named = frame[frame.race.isin(NAMED)]
    expected = demographic_parity_difference(named.y_true, named.y_pred, sensitive_features=named.race)
    assert rule(verdict, "dp-race-named")["observed"] == pytest.approx(expected, abs=1e-12)
    # no features listed: drift fails closed instead of measuring nothing
    drift = rule(verdict, "drift.drifted_share")
    assert drift["status"] == "error"
    assert "lists no features" in drift["explanation"]

"""`mlgate gate` end to end on a real registry: verdict content, champion comparison, stages."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import mean_absolute_error

from conftest import copy_repo, edit, invoke
from mlgate.config import load_model_context
from mlgate.data import load_model_data
from mlgate.gates import SCHEMA
from mlgate.registry import Registry


def run(repo: Path, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    out = repo.parent / f"verdict-{len(list(repo.parent.glob('verdict-*')))}.json"
    result = invoke(CliRunner(), *args, "--json", str(out), cwd=repo)
    payload = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, payload, result.output


def by_id(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule_id"]: r for r in verdict["rules"]}


@pytest.fixture(scope="module")
def credit(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("gate-credit") / "repo")
    code, trained, output = run(repo, "train", "credit")
    assert code == 0, output
    code, verdict, output = run(repo, "gate", "credit")
    return {"repo": repo, "trained": trained, "verdict": verdict, "code": code, "output": output}


def test_verdict_has_the_contract_fields(credit: dict[str, Any]) -> None:
    verdict, trained = credit["verdict"], credit["trained"]
    assert verdict["schema"] == SCHEMA
    assert (verdict["model"], verdict["version"], verdict["run_id"]) == ("credit", 1, trained["run_id"])
    assert verdict["policy"]["files"] == ["policies/base.yaml", "policies/credit.yaml"]
    assert verdict["policy"]["sha256"] == trained["lineage"]["policy_sha256"]
    assert verdict["commit"] == trained["lineage"]["git_commit"]
    assert verdict["status"] in ("pass", "warn", "fail")
    assert credit["code"] == (1 if verdict["status"] == "fail" else 0), credit["output"]
    keys = {"family", "rule_id", "metric", "observed", "threshold", "comparison", "severity", "status", "explanation"}
    for rule in verdict["rules"]:
        assert keys <= set(rule)
        assert rule["status"] in ("pass", "fail", "error", "skipped")
        assert rule["explanation"], rule
    families = {r["family"] for r in verdict["rules"]}
    assert families == {"performance", "fairness", "drift", "integrity", "documentation"}


def test_holdout_metrics_equal_the_training_run(credit: dict[str, Any]) -> None:
    assert credit["verdict"]["metrics"] == pytest.approx(credit["trained"]["metrics"])
    roc = by_id(credit["verdict"])["performance.roc_auc"]
    assert roc["observed"] == pytest.approx(credit["trained"]["metrics"]["roc_auc"])
    assert roc["status"] == "pass"


def test_relative_rule_is_skipped_without_a_champion(credit: dict[str, Any]) -> None:
    rule = by_id(credit["verdict"])["roc-auc-vs-champion"]
    assert rule["status"] == "skipped"
    assert "no champion yet" in rule["explanation"]
    assert credit["verdict"]["champion"] is None


def test_credit_verdict_has_group_tables_for_sex_and_age_buckets(credit: dict[str, Any]) -> None:
    rule = by_id(credit["verdict"])["four-fifths"]
    groups = rule["details"]["groups"]
    assert set(groups) >= {"sex", "age"}
    assert {row["group"] for row in groups["age"]} == {"under 25", "25 and over"}
    assert {row["group"] for row in groups["sex"]} == {"female", "male"}
    holdout = load_model_data(*_spec(credit["repo"]), credit["repo"]).holdout
    assert sum(row["count"] for row in groups["sex"]) == len(holdout)


def _spec(repo: Path) -> tuple[Any, Any]:
    ctx = load_model_context(repo, "credit")
    return ctx.spec, ctx.spec_doc


def test_verdict_is_attached_to_the_version(credit: dict[str, Any]) -> None:
    repo, verdict = credit["repo"], credit["verdict"]
    registry = Registry(repo)
    tags = registry.version("credit", 1).tags
    assert not [k for k in tags if k.startswith("mlgate.gates.")], "one tag, not one per field"
    record = json.loads(tags["mlgate.gates"])
    assert record["status"] == verdict["status"]
    assert record["stage"] == "all"
    assert record["policy_sha256"] == verdict["policy"]["sha256"]
    assert record["families"] == verdict["families"]
    assert record["verdict"].startswith("mlgate/verdicts/")
    assert record["verdict"].endswith(".json")
    stored = Path(registry.client.download_artifacts(verdict["run_id"], record["verdict"], str(repo.parent)))
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == record["sha256"]
    assert json.loads(stored.read_text())["rules"] == verdict["rules"]
    assert registry.read_verdict("credit", 1) == verdict


def test_verdict_carries_the_lineage_a_report_shows(credit: dict[str, Any]) -> None:
    lineage = credit["verdict"]["lineage"]
    tags = Registry(credit["repo"]).version("credit", 1).tags
    assert lineage["tags"] == {k: v for k, v in tags.items() if k.startswith("mlgate.") and k != "mlgate.gates"}
    assert lineage["tags"]["mlgate.params.sha256"] == credit["trained"]["lineage"]["params_sha256"]
    assert lineage["run_url"] is None, "the embedded store has no page to link to"


def test_report_renders_from_the_verdict_without_mlflow(credit: dict[str, Any], tmp_path: Path) -> None:
    """Same text as from the registry's metadata (verdicts without lineage), MLflow never imported."""
    from mlgate.report import report_model

    repo, verdict = credit["repo"], credit["verdict"]
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(verdict))
    script = (
        "import sys; from pathlib import Path; from mlgate.report import report_model; "
        f"text = report_model(Path({str(repo)!r}), 'credit', Path({str(path)!r}), text_format='markdown').text; "
        "print('mlflow' in sys.modules); sys.stdout.write(text)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    imported, text = done.stdout.split("\n", 1)
    assert imported == "False"
    assert f"| Params sha256 | `{verdict['lineage']['tags']['mlgate.params.sha256']}` |" in text
    older = tmp_path / "older.json"
    older.write_text(json.dumps({k: v for k, v in verdict.items() if k != "lineage"}))
    assert report_model(repo, "credit", older, text_format="markdown").text == text
    without_registry = report_model(repo, "credit", older, text_format="markdown", registry=False).text
    assert "| Params sha256 | `—` |" in without_registry


@pytest.fixture
def insurance_repo(template_repo: Path, tmp_path: Path) -> Path:
    return copy_repo(template_repo, tmp_path / "repo")


def test_challenger_worse_than_champion_is_blocked(insurance_repo: Path) -> None:
    repo = insurance_repo
    assert run(repo, "train", "insurance")[0] == 0
    Registry(repo).client.set_registered_model_alias("insurance", "production", "1")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["insurance"] |= {"n_estimators": 3, "max_depth": 1}  # a much weaker challenger
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert run(repo, "train", "insurance")[0] == 0
    code, verdict, output = run(repo, "gate", "insurance")
    assert verdict is not None
    assert code == 1, output
    assert verdict["status"] == "fail"
    assert verdict["champion"]["version"] == 1
    # the champion's MAE recomputed here, independently, on the same holdout rows
    ctx = load_model_context(repo, "insurance")
    holdout = load_model_data(ctx.spec, ctx.spec_doc, repo).holdout
    x, y = holdout[ctx.spec.features.all], holdout[ctx.spec.target]
    registry = Registry(repo)
    champion_mae = mean_absolute_error(y, registry.load_model("insurance", 1).predict(x))
    challenger_mae = mean_absolute_error(y, registry.load_model("insurance", 2).predict(x))
    rule = by_id(verdict)["mae-vs-champion"]
    assert rule["status"] == "fail"
    assert rule["blocking"] is True
    assert rule["observed"] == pytest.approx(challenger_mae - champion_mae)
    assert verdict["champion"]["metrics"]["mae"] == pytest.approx(champion_mae)
    # gating the champion itself: no other champion to compare with
    code, own, _ = run(repo, "gate", "insurance", "--version", "1")
    assert by_id(own)["mae-vs-champion"]["status"] == "skipped"


def _rename_last_stage(repo: Path, new: str) -> None:
    """The policy's (and every release's) last stage renamed from ``production`` to ``new``."""
    edit(repo, "policies/base.yaml", "order: [staging, production]", f"order: [staging, {new}]")
    edit(repo, "policies/base.yaml", "    production:\n      require_gates", f"    {new}:\n      require_gates")
    for release in repo.glob("models/*/release.yaml"):
        edit(repo, release.relative_to(repo).as_posix(), "  production: null", f"  {new}: null")


def test_the_champion_is_the_holder_of_the_policys_last_stage(insurance_repo: Path) -> None:
    """A policy whose last stage is ``prod``: its holder is the champion, a ``production`` alias is nobody's."""
    repo = insurance_repo
    _rename_last_stage(repo, "prod")
    assert run(repo, "train", "insurance")[0] == 0
    registry = Registry(repo)
    registry.set_alias("insurance", "production", 1)  # not a stage of this policy: no champion
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["insurance"] |= {"n_estimators": 3, "max_depth": 1}  # a much weaker challenger
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    assert run(repo, "train", "insurance")[0] == 0
    _, verdict, output = run(repo, "gate", "insurance")
    assert verdict is not None, output
    rule = by_id(verdict)["mae-vs-champion"]
    assert rule["status"] == "skipped"
    assert "no version of 'insurance' holds the 'prod' alias" in rule["explanation"]
    registry.set_alias("insurance", "prod", 1)
    code, verdict, output = run(repo, "gate", "insurance")
    assert verdict is not None, output
    assert verdict["champion"]["version"] == 1
    assert verdict["champion"]["alias"] == "prod"
    assert by_id(verdict)["mae-vs-champion"]["status"] == "fail"  # compared with v1, and much worse
    assert code == 1, output


def test_no_stage_order_means_no_champion_said_by_gate_and_validate(insurance_repo: Path) -> None:
    """No ``promotion.order``: max_regression is skipped with the reason, and validate warns (exit 0)."""
    repo = insurance_repo
    edit(repo, "policies/base.yaml", "  order: [staging, production]\n", "")
    assert run(repo, "train", "insurance")[0] == 0
    Registry(repo).set_alias("insurance", "production", 1)
    _, verdict, output = run(repo, "gate", "insurance", "--version", "1")
    assert verdict is not None, output
    rule = by_id(verdict)["mae-vs-champion"]
    assert rule["status"] == "skipped"
    assert "no champion stage" in rule["explanation"]
    assert "policies/default.yaml" in rule["explanation"]
    result = invoke(CliRunner(), "validate", "--no-data", cwd=repo)
    assert result.exit_code == 0, result.output
    assert "warning" in result.output
    assert "no champion stage" in result.output
    assert "insurance" in result.output


def test_stage_limits_blocking_to_its_required_families(insurance_repo: Path) -> None:
    repo = insurance_repo
    assert run(repo, "train", "insurance")[0] == 0
    # drift is required for production but not for staging (policies/base.yaml)
    edit(repo, "policies/base.yaml", "metric: drifted_share\n      max: 0.3", "metric: drifted_share\n      max: -1")
    code, staging, _ = run(repo, "gate", "insurance", "--stage", "staging")
    assert by_id(staging)["drift.drifted_share"]["status"] == "fail"
    assert by_id(staging)["drift.drifted_share"]["blocking"] is False
    assert staging["required_families"] == ["performance", "integrity", "documentation"]
    code_prod, production, _ = run(repo, "gate", "insurance", "--stage", "production")
    assert code_prod == 1
    assert by_id(production)["drift.drifted_share"]["blocking"] is True
    code, _, output = run(repo, "gate", "insurance", "--stage", "canary")
    assert code == 2
    assert "stage 'canary' is not defined in policies/default.yaml" in output


def test_no_registered_version_says_to_train(insurance_repo: Path) -> None:
    code, payload, output = run(insurance_repo, "gate", "insurance")
    assert code == 2
    assert "has no registered version" in output
    assert "mlgate train insurance" in output
    assert payload is not None
    assert payload["ok"] is False


def test_unknown_version_is_an_input_error(insurance_repo: Path) -> None:
    assert run(insurance_repo, "train", "insurance")[0] == 0
    code, _, output = run(insurance_repo, "gate", "insurance", "--version", "7")
    assert code == 2
    assert "has no version 7 (versions: 1)" in output


def test_deepchecks_required_but_not_installed_exits_2_with_hint(insurance_repo: Path) -> None:
    edit(
        insurance_repo,
        "policies/default.yaml",
        "gates:\n",
        "gates:\n  integrity:\n    - metric: deepchecks\n      suite: data_integrity\n      max: 0\n",
    )
    # deepchecks is installed here; a None entry in sys.modules makes its import fail exactly
    # as it does where the extra is missing.
    script = "import sys; sys.modules['deepchecks'] = None; from mlgate.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", script, "gate", "insurance"],
        cwd=insurance_repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert (
        "requires deepchecks suites (data_integrity) but deepchecks is not usable: deepchecks is not installed"
        in done.stderr
    )
    assert "pip install 'mlgate[deepchecks]'" in done.stderr


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "performance:\n  performance:\n    - metric: roc_auc\n      min: 0.5\n",
            "metric 'roc_auc' does not apply to regression model 'insurance'",
        ),
        (
            "fairness:\n    - metric: demographic_parity_ratio\n      min: 0.8\n      sensitive_features: [gender]\n",
            "gender",
        ),
        ("drift:\n    - metric: psi\n      max: 0.2\n      features: [income]\n", "income"),
        ("integrity:\n    - metric: deepchecks\n      max: 0\n", "'suite' is required with metric 'deepchecks'"),
        ("documentation:\n    - field: model_card.purpose\n", "model_card.purpose"),
    ],
    ids=["performance", "fairness", "drift", "integrity", "documentation"],
)
def test_malformed_rule_in_each_family_exits_2(insurance_repo: Path, rule: str, expected: str) -> None:
    if rule.startswith("performance:\n  performance:"):  # add to the existing performance list
        edit(insurance_repo, "policies/default.yaml", "  performance:\n", rule.split("\n", 1)[1])
    else:
        edit(insurance_repo, "policies/default.yaml", "gates:\n", "gates:\n  " + rule)
    code, _, output = run(insurance_repo, "gate", "insurance")
    assert code == 2, output
    assert "policies/default.yaml:" in output
    assert expected in output
    assert not (insurance_repo / "mlflow.db").exists(), "bad policy: nothing may touch the registry"


def test_fairness_on_a_regressor_is_an_error_rule_not_a_crash(insurance_repo: Path) -> None:
    edit(
        insurance_repo,
        "policies/default.yaml",
        "gates:\n",
        "gates:\n  fairness:\n    - metric: demographic_parity_ratio\n      min: 0.8\n      severity: warn\n",
    )
    assert run(insurance_repo, "train", "insurance")[0] == 0
    _code, verdict, _ = run(insurance_repo, "gate", "insurance")
    rule = by_id(verdict)["fairness.demographic_parity_ratio"]
    assert rule["status"] == "error"
    assert "regressor" in rule["explanation"]
    assert np.isfinite(verdict["metrics"]["mae"])


@pytest.mark.usefixtures("deepchecks_ok")
def test_deepchecks_suite_conditions_become_rule_results(insurance_repo: Path) -> None:
    edit(
        insurance_repo,
        "policies/default.yaml",
        "gates:\n",
        "gates:\n  integrity:\n    - metric: deepchecks\n      suite: data_integrity\n      max: 0\n"
        "      severity: warn\n",
    )
    assert run(insurance_repo, "train", "insurance")[0] == 0
    _code, verdict, output = run(insurance_repo, "gate", "insurance")
    assert verdict is not None, output
    suite_rules = [r for r in verdict["rules"] if r["metric"] == "deepchecks:data_integrity"]
    assert len(suite_rules) >= 3
    ids = [r["rule_id"] for r in suite_rules]
    assert len(ids) == len(set(ids)), "rule ids must stay unique"
    assert all(r["rule_id"].startswith("integrity.deepchecks/") for r in suite_rules)
    assert all(r["status"] in ("pass", "fail", "error") for r in suite_rules)
    assert not any(r["blocking"] for r in suite_rules), "warn-severity suites never block"


def test_conflicting_labels_is_skipped_for_a_regressor(insurance_repo: Path) -> None:
    """Two rows with equal features and different charges are normal for a regression target."""
    assert run(insurance_repo, "train", "insurance")[0] == 0
    code, verdict, _ = run(insurance_repo, "gate", "insurance")
    rule = by_id(verdict)["integrity.conflicting_labels"]
    assert rule["status"] == "skipped"
    assert "regressor" in rule["explanation"]
    assert rule["blocking"] is False
    assert (code, verdict["status"]) == (0, "pass"), "nothing else blocks the example regressor"


def test_a_pr_cannot_loosen_the_policy_that_judges_it(governed_repo: Path) -> None:
    """The attack: loosen the four-fifths rule and propose a model that passes only that."""
    from conftest import git

    repo = governed_repo
    base = git("rev-parse", "HEAD", cwd=repo).strip()
    assert run(repo, "train", "credit")[0] == 0
    edit(repo, "policies/credit.yaml", "      min: 0.8\n", "      min: 0.5\n")
    git("commit", "-qam", "loosen four-fifths", cwd=repo)
    loosened = run(repo, "gate", "credit", "--no-attach")
    assert by_id(loosened[1])["four-fifths"]["status"] == "pass", "the PR's own policy would pass it"
    code, verdict, output = run(repo, "gate", "credit", "--policy-ref", base, "--no-attach")
    assert code == 1, output
    assert by_id(verdict)["four-fifths"]["status"] == "fail"
    assert verdict["policy"]["ref"] == base
    assert [c["file"] for c in verdict["policy"]["changed"]] == ["policies/credit.yaml"]
    assert "-      min: 0.8" in verdict["policy"]["changed"][0]["diff"]
    # pointing the spec at a new, looser policy file does not help either
    (repo / "policies/lenient.yaml").write_text("description: anything goes\n")
    edit(repo, "models/credit/model.yaml", "policy: policies/credit.yaml", "policy: policies/lenient.yaml")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "use a lenient policy", cwd=repo)
    code, verdict, _ = run(repo, "gate", "credit", "--policy-ref", base, "--no-attach")
    assert code == 1
    assert verdict["policy"]["files"] == ["policies/base.yaml", "policies/credit.yaml"]
    from mlgate.config import load_model_spec
    from mlgate.report import ReportInput, render_markdown

    spec, _ = load_model_spec(repo / "models/credit/model.yaml", repo)
    text = render_markdown(ReportInput(verdict=verdict, spec=spec)).text
    assert "**This pull request changes policy files**" in text
    assert "policies/lenient.yaml" in text

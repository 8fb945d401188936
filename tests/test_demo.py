"""The demo end to end, as a newcomer runs it: a scratch repo, validate, two trained models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from conftest import PROJECT, git
from mlgate.registry import Registry
from mlgate_devkit.demo.__main__ import main as demo_main

pytestmark = pytest.mark.slow

# The console script next to this interpreter (the venv need not be activated).


def demo(*args: str) -> object:
    """The demo's own command (a script of the repository, not an mlgate subcommand)."""
    return CliRunner().invoke(demo_main, list(args), catch_exceptions=False)


def test_demo_builds_a_governed_repo_and_registers_its_models(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    out = tmp_path / "demo.json"
    result = demo("--workdir", str(workdir), "--json", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    repo = Path(summary["outputs"]["repo"])
    # a real git repo with a clean tree and a real DVC remote holding the data
    assert git("status", "--porcelain", cwd=repo).strip() == ""
    first = git("rev-list", "--max-parents=0", "HEAD", cwd=repo).strip()
    remote = Path(summary["outputs"]["dvc_remote"])
    for name in ("credit", "insurance", "income"):
        trained = summary["trained"][name]
        assert trained["version"] == 1
        tags = Registry(repo, summary["outputs"]["mlflow_tracking_uri"]).version(name, 1).tags
        assert tags["mlgate.git.commit"] == first
        assert tags["mlgate.params.sha256"] == trained["lineage"]["params_sha256"]
        rel = tags["mlgate.data.path.path"]
        md5 = yaml.safe_load((repo / f"{rel}.dvc").read_text())["outs"][0]["md5"]
        assert tags["mlgate.data.path.md5"] == md5
        assert (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file(), "data must be in the remote"
    # income was trained by the repo's own script (train.command), not by mlgate's pipeline
    income = Registry(repo, summary["outputs"]["mlflow_tracking_uri"]).version("income", 1).tags
    assert income["mlgate.lineage"] == "command"
    assert income["mlgate.train.command"] == "python train/income.py"
    # every model gated, verdicts written; the credit verdict has per-group fairness tables
    for name in ("credit", "insurance", "income"):
        verdict = json.loads(Path(summary["outputs"]["verdicts"][name]).read_text())
        assert verdict["model"] == name
        assert verdict["status"] == summary["gated"][name]["status"]
    credit = json.loads(Path(summary["outputs"]["verdicts"]["credit"]).read_text())
    tables = {}
    for rule in credit["rules"]:
        if rule["family"] == "fairness":
            tables |= rule["details"]["groups"]
    assert {row["group"] for row in tables["age"]} == {"under 25", "25 and over"}
    assert {row["group"] for row in tables["sex"]} == {"female", "male"}
    # income: passes its blocking rules; the selection rate by sex (the census pay gap) warns
    assert summary["gated"]["income"]["status"] == "warn"
    income_verdict = json.loads(Path(summary["outputs"]["verdicts"]["income"]).read_text())
    [warned] = [r for r in income_verdict["rules"] if r["status"] == "fail"]
    assert warned["rule_id"] == "selection-rate-by-sex"
    assert (
        "trained by its own command `python train/income.py`"
        in Path(summary["outputs"]["reports"]["income"]["markdown"]).read_text()
    )
    for name in ("credit", "insurance", "income"):
        reports = summary["outputs"]["reports"][name]
        assert Path(reports["markdown"]).read_text().endswith(f"<!-- mlgate:report model={name} -->\n")
        assert Path(reports["html"]).read_text().startswith("<!DOCTYPE html>")
        assert reports["html"] in result.output
    # the PR journey: act ran propose.yml for a branch that retunes credit; the workflow trained
    # credit v2 from the PR head into the same registry, gated it, and posted one comment and a
    # check run whose conclusion matches the job's outcome
    pr = summary["pull_request"]
    comment = Path(pr["comment"]).read_text()
    assert "<!-- mlgate:report model=credit -->" in comment
    assert "model `credit` v2" in comment.splitlines()[0]
    [check] = pr["check_runs"]
    assert check["name"] == "mlgate / credit"
    assert (check["conclusion"] == "failure") == pr["workflow_failed"]
    v2 = Registry(repo, summary["outputs"]["mlflow_tracking_uri"]).version("credit", 2).tags
    assert v2["mlgate.git.commit"] == pr["head"]
    assert comment.splitlines()[0] in result.output  # the demo shows the comment
    # the promotion journey: v2 to staging and production (approved), v3 retrained and gated
    # against the champion v2, promoted, then rolled back to v2; the registry follows git
    promotions = summary["promotions"]
    assert promotions["v3"]["champion"] == 2
    # the refused attack: forged "pass" tags on the blocked v1; the plan ran the gates itself
    attack = promotions["attack"]
    assert not attack["plan_ok"]
    assert not attack["gates"]["ok"]
    assert "fairness=fail" in attack["gates"]["detail"]
    assert attack["aliases_after"] == attack["aliases_before"] == {"staging": None, "production": None}
    assert promotions["production_v2"]["plan_ok"]  # after risk-officer's approval
    pinned = Registry(repo, summary["outputs"]["mlflow_tracking_uri"]).artifact_digest("credit", 2).digest
    assert f'production: {{version: 2, digest: "{pinned}"}}' in promotions["release_yaml"]
    assert pinned in result.output  # the demo shows the pinned line
    assert [c["outcome"] for c in promotions["production_v2"]["applied"]] == ["applied"]
    registry = Registry(repo, summary["outputs"]["mlflow_tracking_uri"])
    v3 = promotions["v3"]["version"]
    assert [(c["stage"], c["desired"]) for c in promotions["staging_v3"]["applied"]] == [("staging", v3)]
    assert registry.alias_version("credit", "staging") == v3 + 2  # the canary step staged v4, then v5
    assert promotions["income_staging"]["plan_ok"], "command lineage verified like mlgate's own"
    assert registry.alias_version("income", "staging") == 1
    assert {row["status"] for row in promotions["status_after_rollback"]} == {"Synced"}
    history = promotions["history_after_rollback"]
    assert [(r["stage"], r["version"]) for r in history] == [
        ("staging", 2),
        ("production", 2),
        ("staging", 3),
        ("production", 3),
        ("production", 2),
    ]
    assert all(r["approvers"] == ["risk-officer"] for r in history if r["stage"] == "production")
    assert [(c["stage"], c["desired"], c["outcome"]) for c in promotions["rollback"]["applied"]] == [
        ("production", 2, "applied")
    ]
    # after the merge: a file scored by the production alias (v2 after the rollback), then the
    # audited service on that alias, which follows the promotion of v3 without a restart
    serving = summary["serving"]
    batch = serving["batch"]
    assert (batch["stage"], batch["version"], batch["rows"]) == ("production", 2, 200)
    # the refused attack after the merge: v1's bytes under production's version number
    attack = serving["attack"]
    assert attack["exit_code"] == 1
    assert "model.skops" in attack["message"]
    assert not attack["scored"]
    scored = pd.read_parquet(batch["partition"])
    assert len(scored) == 200
    assert scored["application_id"].is_unique
    assert set(scored["mlgate_version"]) == {2}
    proba = scored["probability_1"]
    # the example spec's decision block: approve at 0.5, review 0.4 to 0.6
    assert (scored["prediction"] == (proba >= 0.5).astype(int)).all()
    assert (scored["needs_review"] == proba.between(0.4, 0.6)).all()
    assert int(scored["needs_review"].sum()) == batch["needs_review"] > 0
    requests = serving["requests"]
    assert serving["started"]["version"] == 2
    assert requests["before"]["version"] == 2
    assert requests["missing_token"]["status"] == 401
    assert requests["malformed"]["status"] == 422
    # one decision with its top 3 reasons (shap's TreeExplainer on the forest), audited like the others
    explained = requests["reasons"]
    assert explained["reasons"]["method"] == "tree_shap"
    assert [len(p["reasons"]) for p in explained["predictions"]] == [3]
    assert explained["request_id"] in set(serving["audit"]["request_ids"])
    assert [p["field"] for p in requests["malformed"]["detail"]] == ["dataframe_records[0].credit_amount"]
    assert [(c["stage"], c["current"], c["desired"], c["outcome"]) for c in serving["promotion"]["applied"]] == [
        ("production", 2, v3, "applied")
    ]
    assert serving["followed"]["version"] == v3
    assert requests["after"]["version"] == v3
    assert serving["same_process"], "followed the alias without a restart"
    assert f'mlgate_serve_model_version{{alias="production",model="credit"}} {float(v3)}' in serving["metrics"]
    # every answered row audited, refused requests not; the token never in the service's log
    audit = serving["audit"]
    assert audit["callers"] == ["loan-desk"]
    assert audit["versions"][str(v3)] == 1 + 3  # the first answer from v3 while waiting, then the last request
    assert audit["rows"] == sum(audit["versions"].values()) >= 3 + 4
    assert {requests["before"]["request_id"], requests["after"]["request_id"]} <= set(audit["request_ids"])
    assert not serving["token_in_log"]
    assert 'mlgate_serve_model_version{alias="production",model="credit"}' in result.output
    # watch it: drifted traffic through the service; mlgate monitor fails on drift, opens the
    # model's monitoring issue and the retraining pull request, whose branch was pushed
    monitoring = summary["monitoring"]
    verdict = monitoring["verdict"]
    assert monitoring["exit_code"] == 1
    assert (verdict["status"], verdict["version"]) == ("fail", v3)
    assert verdict["rows"] >= monitoring["sent"] == 250
    assert {f["feature"] for f in verdict["features"] if f["drifted"]} == {"credit_amount", "duration", "age"}
    assert verdict["retrain"]["triggered"] is True
    issue = monitoring["issue"]
    assert monitoring["alert"]["action"] == "opened"
    assert issue["state"] == "open"
    assert {label["name"] for label in issue["labels"]} >= {"mlgate", "monitoring"}
    assert "<!-- mlgate:monitoring model=credit stage=production -->" in issue["body"]
    pr = monitoring["retrain_pr"]
    assert (pr["action"], pr["branch"]) == ("opened", "mlgate/retrain-credit")
    assert monitoring["pull"]["head"]["ref"] == "mlgate/retrain-credit"
    assert monitoring["branch_changes"] == ["models/credit/model.yaml"]
    pushed_spec = git("show", "mlgate/retrain-credit:models/credit/model.yaml", cwd=Path(monitoring["origin"]))
    assert "path: data/snapshots/german_credit-2026-11.csv" in pushed_spec
    assert git("status", "--porcelain", cwd=repo).strip() == ""  # back on main, clean
    assert git("branch", "--show-current", cwd=repo).strip() == "main"
    markdown = Path(monitoring["reports"]["markdown"]).read_text()
    assert markdown.startswith("❌")
    assert "<!-- mlgate:monitoring-report model=credit stage=production -->" in markdown
    assert Path(monitoring["reports"]["html"]).read_text().startswith("<!DOCTYPE html>")
    assert f"issue #{issue['number']} opened" in result.output
    # progressive delivery: a canary of v4 at 10% beside v3, compared live (hold before its
    # min_duration, then promote), completed by the PR compare opened; a drifting v5 aborted
    canary = summary["canary"]
    v4, v5 = canary["versions"]["complete"], canary["versions"]["abort"]
    assert (canary["versions"]["stable"], v4, v5) == (v3, v3 + 1, v3 + 2)
    assert "min_duration 1m" in canary["governance"]["message"]
    assert [(c["stage"], c["desired"]) for c in canary["canary"]["applied"]] == [("production-canary", v4)]
    assert canary["canary_alias"] == v4
    answered = canary["traffic"]["answered"]
    assert sum(answered.values()) == 4000
    assert 300 <= answered[f"v{v4}"] <= 500, answered  # ~10% on the canary
    assert canary["early"]["state"] == "hold"
    assert any("min_duration" in reason for reason in canary["early"]["verdict"]["reasons"])
    assert canary["compare_promote"]["state"] == "promote"
    assert canary["compare_promote"]["verdict"]["duration"]["seconds"] >= 60
    # the requests carried sex beside the inputs: the service audited it, compare judged the rule per arm
    checks = {c["name"]: c["status"] for c in canary["compare_promote"]["verdict"]["checks"]}
    assert checks["fairness:four-fifths"] == "pass"
    assert sorted((c["stage"], c["current"], c["desired"]) for c in canary["complete"]["applied"]) == [
        ("production", v3, v4),
        ("production-canary", v4, None),
    ]
    assert canary["production"] == registry.alias_version("credit", "production") == v4
    assert canary["canary_alias_after_complete"] is None
    assert canary["stable_archived"] == "true"  # the old stable is archived
    assert canary["compare_abort"]["state"] == "abort"
    assert canary["compare_abort"]["exit_code"] == 1
    assert {c["kind"]: c["action"] for c in canary["compare_abort"]["changes"]} == {
        "abort": "opened",
        "issue": "opened",
    }
    assert [(c["stage"], c["current"], c["desired"]) for c in canary["abort"]["applied"]] == [
        ("production-canary", v5, None)
    ]
    assert canary["production_after_abort"] == v4
    assert canary["canary_alias_after_abort"] is None
    assert registry.alias_version("credit", "production-canary") is None
    titles = sorted(canary["pulls"].values())
    assert [t for t in titles if t.startswith("Complete canary")] == [f"Complete canary: production → v{v4}"]
    assert len([t for t in titles if t.startswith("Abort canary")]) == 1
    assert len(canary["issues"]) == 1
    assert f"canary v{v5} aborted" in next(iter(canary["issues"].values()))
    arms = canary["arms"]
    assert arms["production-canary"][str(v4)] >= 300
    assert arms["production-canary"][str(v5)] >= 300
    assert arms["production"][str(v4)] >= 3000  # v4 answered the stable arm once it was production
    # a DVC pipeline governed: the cached train stage trained; a params-only PR affected and diffed
    pipeline = summary["pipeline"]
    assert pipeline["trained"]["version"] == 1
    assert pipeline["pr_version"] == pipeline["gated_version"] == 2  # the branch's model is the one judged
    assert pipeline["dvc_tags"]["mlgate.dvc.stage"] == "train"
    assert any(key.startswith("mlgate.dvc.dep.") for key in pipeline["dvc_tags"])
    assert pipeline["affected"] == {"classifier": ["dvc.lock", "params.yaml (train.n_est)"]}
    assert pipeline["params_changes"] == [
        {"param": "train.n_est", "path": "params.yaml", "base": 50, "head": 80, "change": "modified"}
    ]
    assert "| params.yaml | train.n_est | 50 | 80 | modified |" in Path(pipeline["report"]).read_text()
    assert summary["outputs"]["pipeline_report"] == pipeline["report"]
    # for auditors: the governance site lists every model × stage with the versions release.yaml
    # asks for and the aliases hold, as a reader sees it in Chromium; the signed evidence bundle
    # of production credit verifies against the registry and the repo
    auditors = summary["auditors"]
    index = Path(summary["outputs"]["site"])
    assert index == Path(auditors["site"]["index"])
    assert index.is_file()
    assert sorted(auditors["site"]["models"]) == ["credit", "income", "insurance"]
    shown = site_rows(index, tmp_path / "site-shots")
    expected = {}
    for name in ("credit", "insurance", "income"):
        release = yaml.safe_load((repo / "models" / name / "release.yaml").read_text()) or {}
        for stage, entry in (release.get("stages") or {}).items():
            desired = entry["version"] if isinstance(entry, dict) else entry
            expected[(name, stage)] = (desired, registry.alias_version(name, stage))
    assert expected[("credit", "production")] == (v4, v4)
    assert {k: v for k, v in shown.items() if k in expected} == expected
    assert expected.keys() <= shown.keys()
    bundle = Path(summary["outputs"]["evidence"])
    assert bundle.name == f"credit-v{v4}-evidence.tar.gz"
    assert bundle.is_file()
    assert auditors["evidence"]["signed"] is True
    assert auditors["verify"]["ok"] is True, auditors["verify"]
    assert auditors["verify"]["mismatches"] == []
    assert str(index) in result.output
    assert str(bundle) in result.output
    # it says where its outputs are
    assert str(repo) in result.output
    assert "mlflow ui --backend-store-uri" in result.output


def site_rows(index: Path, shots: Path) -> dict[tuple[str, str], tuple[int | None, int | None]]:
    """(model, stage) → (desired, actual) versions as the site's index shows them in Chromium."""
    from browser import render

    shown = render(
        index,
        shots,
        width=1280,
        measure={
            "rows": "Array.from(document.querySelectorAll('#models tbody tr')).map(r => [r.dataset.model, "
            "r.dataset.stage, r.querySelector('.desired').textContent, r.querySelector('.actual').textContent])"
        },
    )
    assert shown.console_errors == [], shown.console_errors
    assert all(url.startswith("file://") for url in shown.network_requests), shown.network_requests

    def number(text: str) -> int | None:
        digits = "".join(ch for ch in text if ch.isdigit())
        return int(digits) if digits else None

    return {(m, s): (number(d), number(a)) for m, s, d, a in shown.values["rows"]}


def test_demo_reruns_in_the_same_workdir(tmp_path: Path) -> None:
    """A second run starts from scratch instead of failing on the first run's leftovers.

    Run as separate processes, the way people run it (MLflow caches its SQLite engine per
    process, and the demo deletes and recreates that database).
    """
    workdir = tmp_path / "demo"
    for _ in range(2):
        done = subprocess.run(  # what scripts/demo runs once the venv is set up
            [sys.executable, "-m", "mlgate_devkit.demo", "--no-pr", "--workdir", str(workdir)],
            capture_output=True,
            text=True,
            check=False,
            env=os.environ
            | {"PYTHONPATH": os.pathsep.join([str(PROJECT / "devkit"), os.environ.get("PYTHONPATH", "")])},
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert "demo finished" in done.stderr + done.stdout


def test_demo_refuses_a_workdir_that_is_not_a_demo(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = demo("--workdir", str(precious))
    assert result.exit_code == 2
    assert (precious / "thesis.tex").read_text() == "years of work"

"""Decisions that decide everyone alike never pass: the built-in degenerate-decisions rules.

The attack: ``decision:`` is a model field, so a pull request may move credit's threshold to
0.2. Every applicant is then approved, the four-fifths ratio reads a perfect 1.0 and ROC AUC
(which ignores thresholds) is unchanged: before these rules, the blocked credit v1 passed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import copy_repo, edit, git, invoke
from mlgate.config import DegenerateDecisions, load_model_spec
from mlgate.gates import RuleStatus, decisions, judge
from mlgate.report import ReportInput, render_html, render_markdown

THRESHOLD = "decision:\n  threshold: 0.5\n  review_band: [0.4, 0.6]\n"
LOWERED = "decision:\n  threshold: 0.2\n  review_band: [0.1, 0.3]\n"
OPT_OUT = "settings:\n  degenerate_decisions:\n    enabled: false\n"
BUILTIN = (decisions.CLASS_SHARE, decisions.SELECTION_RATE)


def run(repo: Path, *args: str) -> tuple[int, dict[str, Any] | None, Any]:
    out = repo.parent / f"out-{len(list(repo.parent.glob('out-*')))}.json"
    result = invoke(CliRunner(), *args, "--json", str(out), cwd=repo)
    payload = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, payload, result


def commit(repo: Path, message: str) -> str:
    git("commit", "-qam", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def rules(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule_id"]: r for r in verdict["rules"]}


# ----------------------------------------------------------------------------- the rules on constructed data


def judged(rule_id: str, y_true: np.ndarray, predicted: np.ndarray, **settings: Any) -> Any:
    [rule] = [r for r in decisions.builtin_rules(DegenerateDecisions(**settings)) if r.rule_id == rule_id]
    if rule_id == decisions.CLASS_SHARE:
        measured = decisions.class_share(y_true, predicted, "threshold 0.2")
    else:
        measured = decisions.rate_ratio(y_true, predicted, "threshold 0.2", rule.threshold)
    return judge("performance", rule, rule.rule_id, measured, required=True)


def test_a_class_decided_for_exactly_the_share_passes_one_row_more_blocks() -> None:
    y = np.array([0, 1] * 25)  # 50 rows, half of each
    at_bound = np.array([1] * 49 + [0])  # 49 of 50 = 0.98 exactly
    result = judged(decisions.CLASS_SHARE, y, at_bound)
    assert (result.status, result.observed, result.threshold) == (RuleStatus.PASS, 0.98, 0.98)
    over = judged(decisions.CLASS_SHARE, y, np.ones(50, dtype=int))
    assert (over.status, over.blocking, over.severity) == (RuleStatus.FAIL, True, "block")
    assert over.explanation == "threshold 0.2 decides 1 for 100.0% of rows (50 of 50); needs ≤ 0.98"
    assert over.details["decided_shares"] == {"1": 1.0}
    # a configured share moves the bound: 49 of 50 is over 0.95
    assert judged(decisions.CLASS_SHARE, y, at_bound, max_class_share=0.95).status == RuleStatus.FAIL


def test_the_selection_rate_band_around_the_base_rate() -> None:
    """Base rate 0.5 and r = 0.1: the rate of 1 must lie in [5%, 95%] (5 and 95 of 100 rows)."""
    y = np.array([1] * 50 + [0] * 50)
    low = np.array([1] * 5 + [0] * 95)  # 1 decided for 5 rows, 50 hold it: ratio 0.1 exactly
    result = judged(decisions.SELECTION_RATE, y, low)
    assert (result.status, result.observed) == (RuleStatus.PASS, 0.1)
    below = judged(decisions.SELECTION_RATE, y, np.array([1] * 4 + [0] * 96))
    assert (below.status, below.observed, below.blocking) == (RuleStatus.FAIL, 0.08, True)
    assert "decides 1 for 4.0% of rows, where 50.0% are 1 (ratio 0.08)" in below.explanation
    assert "1's rate must lie in [5.0%, 95.0%]" in below.explanation
    high = judged(decisions.SELECTION_RATE, y, np.array([1] * 95 + [0] * 5))  # 0 decided for 5 of 50
    assert (high.status, high.observed) == (RuleStatus.PASS, 0.1)
    above = judged(decisions.SELECTION_RATE, y, np.array([1] * 96 + [0] * 4))
    assert (above.status, above.observed) == (RuleStatus.FAIL, 0.08)
    assert "decides 0 for 4.0% of rows" in above.explanation
    # 96% of rows decided alike passes the class share (0.98) but not the band: the band is the tighter one here
    assert judged(decisions.CLASS_SHARE, y, np.array([1] * 96 + [0] * 4)).status == RuleStatus.PASS


def test_a_rare_class_keeps_its_own_band() -> None:
    """Base rate 0.05: selecting 2% (a cautious threshold) passes, selecting none or 97% does not."""
    y = np.array([1] * 5 + [0] * 95)
    cautious = np.array([1] * 2 + [0] * 98)
    assert judged(decisions.SELECTION_RATE, y, cautious).status == RuleStatus.PASS
    assert judged(decisions.SELECTION_RATE, y, np.zeros(100, dtype=int)).observed == 0.0
    almost_all = np.array([1] * 97 + [0] * 3)  # passes 0.98, but 0 is decided for 3 of its 95 rows
    assert judged(decisions.CLASS_SHARE, y, almost_all).status == RuleStatus.PASS
    assert judged(decisions.SELECTION_RATE, y, almost_all).status == RuleStatus.FAIL


def test_disabled_settings_give_no_rules() -> None:
    assert [r.rule_id for r in decisions.builtin_rules(DegenerateDecisions())] == list(BUILTIN)
    assert decisions.builtin_rules(DegenerateDecisions(enabled=False)) == []


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('enabled: "no"', "enabled: expected true or false, got string 'no'"),
        ("max_class_share: 0.5", "max_class_share: input should be greater than 0.5"),
        ("min_rate_ratio: 1", "min_rate_ratio: input should be less than 1"),
        ("min_rate_ratio: .nan", "min_rate_ratio: expected a finite number, got number nan"),
        ("max_share: 0.9", "max_share: unknown key (did you mean 'max_class_share'?)"),
    ],
)
def test_bad_settings_exit_2_naming_file_line_and_key(
    governed_repo: Path, cli: CliRunner, setting: str, expected: str
) -> None:
    path = governed_repo / "policies/base.yaml"
    lines = path.read_text().splitlines()
    at = lines.index("settings:") + 1
    path.write_text("\n".join([*lines[:at], "  degenerate_decisions:", f"    {setting}", *lines[at:]]) + "\n")
    result = invoke(cli, "validate", cwd=governed_repo)
    assert result.exit_code == 2, result.output
    column = 5 if "unknown key" in expected else len(setting.split(":")[0]) + 7
    line = f"error: policies/base.yaml:{at + 2}:{column}: settings -> degenerate_decisions -> {expected}"
    assert line in result.stderr.splitlines(), result.stderr


def test_a_policy_rule_cannot_take_a_built_in_id(governed_repo: Path, cli: CliRunner) -> None:
    reserved = "- id: degenerate-decisions.class-share"
    edit(governed_repo, "policies/credit.yaml", "- id: balanced-accuracy-floor", reserved)
    result = invoke(cli, "validate", cwd=governed_repo)
    assert result.exit_code == 2, result.output
    lines = (governed_repo / "policies/credit.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "degenerate-decisions.class-share" in text)
    assert f"policies/credit.yaml:{line}:11: gates -> performance -> 3 -> id: rule id " in result.stderr


def test_the_setting_is_in_the_policy_schema(cli: CliRunner, tmp_path: Path) -> None:
    result = invoke(cli, "schema", "--kind", "policy", "--json", str(tmp_path / "policy.json"))
    assert result.exit_code == 0, result.output
    schema = json.loads((tmp_path / "policy.json").read_text())
    fields = schema["$defs"]["DegenerateDecisions"]["properties"]
    assert set(fields) == {"enabled", "max_class_share", "min_rate_ratio"}
    assert fields["max_class_share"]["default"] == 0.98
    assert "built-in" in schema["$defs"]["Settings"]["properties"]["degenerate_decisions"]["description"]


# ----------------------------------------------------------------------------- the attack, end to end


@pytest.fixture(scope="module")
def credit(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """credit v1 trained on the base commit: blocked by the four-fifths rule on age."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("degenerate") / "repo")
    code, _, result = run(repo, "train", "credit")
    assert code == 0, result.output
    return repo, git("rev-parse", "HEAD", cwd=repo).strip()


@pytest.fixture
def pr(credit: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    """A branch off the base (the registry comes along: v1 is the version gated)."""
    repo, base = credit
    return copy_repo(repo, tmp_path / "repo"), base


def test_a_threshold_that_approves_everyone_is_blocked(pr: tuple[Path, str]) -> None:
    repo, base = pr
    code, before, _ = run(repo, "gate", "credit", "--no-attach")
    assert code == 1
    assert [r["rule_id"] for r in before["rules"] if r["blocking"]] == ["four-fifths"]
    assert all(rules(before)[rid]["status"] == "pass" for rid in BUILTIN)
    edit(repo, "models/credit/model.yaml", THRESHOLD, LOWERED)
    commit(repo, "credit: approve at 0.2")
    code, verdict, result = run(repo, "gate", "credit", "--policy-ref", base, "--no-attach")
    assert code == 1, result.output
    by_id = rules(verdict)
    # what the attack bought: the fairness ratio is perfect once everyone is approved
    assert by_id["four-fifths"]["status"] == "pass"
    assert by_id["four-fifths"]["observed"] == 1.0
    share = by_id[decisions.CLASS_SHARE]
    assert (share["family"], share["metric"], share["status"], share["blocking"]) == (
        "performance",
        "decided_class_share",
        "fail",
        True,
    )
    assert (share["observed"], share["threshold"], share["comparison"]) == (1.0, 0.98, "max")
    rows = verdict["judging"]["evaluation"]["holdout_rows"]
    assert share["explanation"] == f"threshold 0.2 decides 1 for 100.0% of rows ({rows} of {rows}); needs ≤ 0.98"
    rate = by_id[decisions.SELECTION_RATE]
    assert (rate["status"], rate["observed"], rate["blocking"]) == ("fail", 0.0, True)
    assert "threshold 0.2 decides 0 for 0.0% of rows, where 30.0% are 0" in rate["explanation"]
    # the policy's threshold-dependent floor blocks too (balanced accuracy 0.5: everyone alike)
    assert by_id["balanced-accuracy-floor"]["observed"] == 0.5
    assert {r["rule_id"] for r in verdict["rules"] if r["blocking"]} == {*BUILTIN, "balanced-accuracy-floor"}
    # the decision change is in the verdict, not among the governance changes: a model field
    assert verdict["judging"]["changes"] == []
    change = verdict["judging"]["decision"]
    assert change["base"] == {"threshold": 0.5, "review_band": [0.4, 0.6]}
    assert change["head"] == {"threshold": 0.2, "review_band": [0.1, 0.3]}
    # the comment shows it at the top, before the gate table
    spec, _ = load_model_spec(repo / "models/credit/model.yaml", repo)
    text = render_markdown(ReportInput(verdict=verdict, spec=spec)).text
    lines = text.splitlines()
    said = "⚖️ **This pull request changes the decision**: threshold 0.5 → 0.2 (review band [0.4, 0.6] → [0.1, 0.3])."
    [at] = [i for i, line in enumerate(lines) if said in line]
    assert at < lines.index("| | Family | Rule | Metric | Observed | Threshold | Explanation |")
    assert at <= 3, lines[:5]
    page = render_html(ReportInput(verdict=verdict, spec=spec))
    assert "changes the decision</strong>: threshold 0.5 → 0.2 (review band [0.4, 0.6] → [0.1, 0.3])" in page
    assert page.index("changes the decision") < page.index("<h2>Gates</h2>")


def test_the_prs_own_opt_out_does_not_judge_it(pr: tuple[Path, str]) -> None:
    """The PR adds `enabled: false` and drops the floor: the base's policy judges, the rules stay."""
    repo, base = pr
    edit(repo, "models/credit/model.yaml", THRESHOLD, LOWERED)
    edit(repo, "policies/credit.yaml", "description: Consumer credit", OPT_OUT + "description: Consumer credit")
    commit(repo, "credit: approve at 0.2, without the built-in rules")
    code, own, _ = run(repo, "gate", "credit", "--no-attach")
    assert not set(BUILTIN) & set(rules(own)), "its own policy would drop them"
    code, verdict, result = run(repo, "gate", "credit", "--policy-ref", base, "--no-attach")
    assert code == 1, result.output
    assert [rules(verdict)[rid]["status"] for rid in BUILTIN] == ["fail", "fail"]


def test_an_opt_out_line_on_the_base_is_honoured(pr: tuple[Path, str]) -> None:
    repo, _ = pr
    edit(repo, "policies/credit.yaml", "description: Consumer credit", OPT_OUT + "description: Consumer credit")
    base = commit(repo, "credit policy: no built-in degenerate-decisions rules")
    edit(repo, "models/credit/model.yaml", THRESHOLD, LOWERED)
    commit(repo, "credit: approve at 0.2")
    code, verdict, result = run(repo, "gate", "credit", "--policy-ref", base, "--no-attach")
    assert not set(BUILTIN) & set(rules(verdict))
    # what is left blocking is the policy's own threshold-dependent floor
    assert [r["rule_id"] for r in verdict["rules"] if r["blocking"]] == ["balanced-accuracy-floor"]
    assert code == 1, result.output


def test_a_regressor_has_no_built_in_decision_rules(governed_repo: Path) -> None:
    code, _, result = run(governed_repo, "train", "insurance")
    assert code == 0, result.output
    code, verdict, result = run(governed_repo, "gate", "insurance", "--no-attach")
    assert code == 0, result.output
    assert verdict["rules"], "the regressor's own rules are judged"
    assert not [r for r in verdict["rules"] if r["rule_id"].startswith(decisions.PREFIX)]


def test_a_stage_that_leaves_out_performance_does_not_opt_out(pr: tuple[Path, str]) -> None:
    repo, _ = pr
    edit(
        repo,
        "policies/base.yaml",
        "require_gates: [performance, integrity, documentation]",
        "require_gates: [integrity, documentation]",
    )
    base = commit(repo, "staging: integrity and documentation only")
    edit(repo, "models/credit/model.yaml", THRESHOLD, LOWERED)
    commit(repo, "credit: approve at 0.2")
    code, verdict, result = run(repo, "gate", "credit", "--stage", "staging", "--policy-ref", base, "--no-attach")
    assert verdict["required_families"] == ["integrity", "documentation"]
    by_id = rules(verdict)
    assert (by_id["balanced-accuracy-floor"]["status"], by_id["balanced-accuracy-floor"]["blocking"]) == ("fail", False)
    assert [r["rule_id"] for r in verdict["rules"] if r["blocking"]] == list(BUILTIN)
    assert (code, verdict["status"]) == (1, "fail"), result.output

"""Attacks on the pull-request gates, each of which the code before the trust model accepted.

A PR author controls the head of the branch: the spec, the data pointers, the split. The gates
must judge with what the base branch holds (its judging spec fields, policies and evaluation
data), and a champion must never be compared on rows it trained on. credit v1, trained on the
base commit, is blocked by the four-fifths rule on age: every evasion below must keep it so.
The model file is the PR's too: it may hold only the types of mlgate's skops allow-list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import copy_repo, dvc, edit, git, invoke
from mlgate.exceptions import UnsafeModel
from mlgate.registry import Registry, load_skops


def run(repo: Path, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    out = repo.parent / f"out-{len(list(repo.parent.glob('out-*')))}.json"
    result = invoke(CliRunner(), *args, "--json", str(out), cwd=repo)
    payload = json.loads(out.read_text()) if out.exists() else None
    return result.exit_code, payload, result.output


def commit(repo: Path, message: str) -> str:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def rule(verdict: dict[str, Any], rule_id: str) -> dict[str, Any]:
    [found] = [r for r in verdict["rules"] if r["rule_id"] == rule_id]
    return found


@pytest.fixture(scope="module")
def base_repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """credit v1 trained on the base commit (embedded SQLite registry inside the repo)."""
    repo = copy_repo(template_repo, tmp_path_factory.mktemp("trust") / "repo")
    code, _, output = run(repo, "train", "credit")
    assert code == 0, output
    return repo, git("rev-parse", "HEAD", cwd=repo).strip()


@pytest.fixture
def pr(base_repo: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    """A copy of the repo on a PR branch cut from the base commit."""
    repo = copy_repo(base_repo[0], tmp_path / "repo")
    git("checkout", "-q", "-b", "pr", cwd=repo)
    return repo, base_repo[1]


def test_v1_is_blocked_by_the_four_fifths_rule_on_age(base_repo: tuple[Path, str]) -> None:
    repo, base = base_repo
    code, verdict, output = run(repo, "gate", "credit", "--version", "1", "--no-attach", "--policy-ref", base)
    assert code == 1, output
    assert rule(verdict, "four-fifths")["status"] == "fail"
    assert "age" in json.dumps(rule(verdict, "four-fifths")["details"])
    assert verdict["judging"]["changes"] == []


SPEC_EVASIONS = {
    "drop-age": ('  - name: age\n    bins: [0, 25, 120]\n    labels: ["under 25", "25 and over"]\n', ""),
    # the young become a group too small to count; the rest compare well with each other
    "rebin-age": ("bins: [0, 25, 120]", "bins: [0, 21, 40, 120]"),
}


@pytest.mark.parametrize("evasion", SPEC_EVASIONS, ids=SPEC_EVASIONS.keys())
def test_editing_judging_fields_on_the_pr_does_not_unblock(pr: tuple[Path, str], evasion: str) -> None:
    repo, base = pr
    old, new = SPEC_EVASIONS[evasion]
    if evasion == "rebin-age":
        edit(
            repo,
            "models/credit/model.yaml",
            'labels: ["under 25", "25 and over"]',
            'labels: ["under 21", "21-39", "40+"]',
        )
    edit(repo, "models/credit/model.yaml", old, new)
    commit(repo, f"PR: {evasion}")
    # What the code before the trust model did: judge with the head's spec, which passes.
    code, verdict, output = run(repo, "gate", "credit", "--version", "1", "--no-attach")
    assert code == 0, output
    # With the base commit named (as the propose workflow does), the base's judging fields judge.
    code, verdict, output = run(repo, "gate", "credit", "--version", "1", "--no-attach", "--policy-ref", base)
    assert code == 1, output
    assert rule(verdict, "four-fifths")["status"] == "fail"
    changed = [c["field"] for c in verdict["judging"]["changes"]]
    assert changed == ["sensitive_features"]
    assert "age" in verdict["judging"]["changes"][0]["diff"]


def test_a_new_split_seed_is_judged_on_the_base_split_without_the_rows_it_trained_on(pr: tuple[Path, str]) -> None:
    repo, base = pr
    edit(repo, "models/credit/model.yaml", "    seed: 42\n    stratify", "    seed: 7\n    stratify")
    commit(repo, "PR: another split seed")
    code, trained, output = run(repo, "train", "credit")
    assert code == 0, output
    code, verdict, output = run(repo, "gate", "credit", "--version", "2", "--no-attach", "--policy-ref", base)
    # still blocked: on the rows v2 did not train on, too few under-25s remain to show it fair,
    # and the fairness gate fails closed
    assert code == 1, output
    assert rule(verdict, "four-fifths")["status"] == "error"
    evaluation = verdict["judging"]["evaluation"]
    assert evaluation["excluded_rows"] > 0, evaluation
    assert "seed 7" in evaluation["reason"]
    assert "seed 42" in evaluation["reason"]
    assert evaluation["holdout_rows"] + evaluation["excluded_rows"] == 250  # the base split's holdout
    assert [c["field"] for c in verdict["judging"]["changes"]] == ["data"]
    # v2's holdout metric from training was measured on its own split; the gate's is not
    assert verdict["metrics"]["roc_auc"] != pytest.approx(trained["metrics"]["roc_auc"])


def test_flipped_labels_in_the_pr_data_do_not_reach_the_evaluation(pr: tuple[Path, str]) -> None:
    repo, base = pr
    frame = pd.read_csv(repo / "data/german_credit.csv")
    young = frame["age"] < 25
    frame.loc[young, "risk"] = 1  # every applicant under 25 becomes a good risk
    frame.to_csv(repo / "data/german_credit.csv", index=False)
    dvc("add", "-q", "data/german_credit.csv", cwd=repo)
    commit(repo, "PR: relabel the young")
    base_md5 = git("show", f"{base}:data/german_credit.csv.dvc", cwd=repo).split("md5: ")[1].split()[0]
    code, _, output = run(repo, "train", "credit")
    assert code == 0, output
    code, verdict, output = run(repo, "gate", "credit", "--version", "2", "--no-attach", "--policy-ref", base)
    assert code == 1, output
    four_fifths = rule(verdict, "four-fifths")
    assert four_fifths["status"] == "error"
    assert "excluded: 'under 25'" in four_fifths["explanation"]
    assert [d["md5"] for d in verdict["data"]] == [base_md5]
    assert [c["field"] for c in verdict["judging"]["changes"]] == ["data.path (content)"]
    # same split, other content: the rows v2 trained on (relabelled) are left out of the base holdout
    assert verdict["judging"]["evaluation"]["excluded_rows"] > 0


def test_champion_trained_on_another_split_is_not_compared_on_leaked_rows(pr: tuple[Path, str]) -> None:
    repo, _ = pr
    Registry(repo).set_alias("credit", "production", 1)  # v1, held out on seed 42, is the champion
    edit(repo, "models/credit/model.yaml", "    seed: 42\n    stratify", "    seed: 7\n    stratify")
    commit(repo, "split seed 7, merged")
    assert run(repo, "train", "credit")[0] == 0
    # judged as it is now (seed 7): v1 trained on some of these holdout rows
    _code, verdict, _output = run(repo, "gate", "credit", "--version", "2", "--no-attach")
    relative = rule(verdict, "roc-auc-vs-champion")
    assert relative["status"] == "skipped", relative
    assert "champion v1 was held out on other rows" in relative["explanation"]
    assert verdict["champion"] is None


# --------------------------------------------------------------------------- the model file


class Foreign:
    """A type outside mlgate's skops allow-list (sklearn, numpy, scipy, builtins, collections)."""

    def __init__(self) -> None:
        self.payload = "anything"


def _fitted(tmp_path: Path) -> tuple[Path, Any]:
    import skops.io
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(x, [0, 0, 1, 1])
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    return path, x


def test_a_model_of_allowed_types_loads_with_one_audit(tmp_path: Path) -> None:
    path, x = _fitted(tmp_path)
    assert list(load_skops(path).predict(x)) == [0, 0, 1, 1]


@pytest.mark.parametrize("foreign", ["object", "function", "builtin"])
def test_a_model_holding_a_type_outside_the_allow_list_is_refused(tmp_path: Path, foreign: str) -> None:
    import builtins
    import os

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "model.skops"
    held = {
        "function": FunctionTransformer(func=os.system),
        "builtin": FunctionTransformer(func=builtins.exec),  # a builtin that runs code
        "object": {"model": Foreign()},
    }[foreign]
    skops.io.dump(held, path)
    with pytest.raises(UnsafeModel, match={"function": "system", "builtin": "exec", "object": "Foreign"}[foreign]):
        load_skops(path)


def test_a_type_the_quick_scan_misses_falls_back_to_skops_own_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema scan only proposes types to trust; skops' audit decides, as before the scan."""
    import os

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    monkeypatch.setattr("mlgate.registry._mlflow._named_types", lambda _schema: set())
    path, x = _fitted(tmp_path)
    assert list(load_skops(path).predict(x)) == [0, 0, 1, 1]
    skops.io.dump(FunctionTransformer(func=os.system), path)
    with pytest.raises(UnsafeModel, match="system"):
        load_skops(path)

"""`mlgate affected` on real git history: the propose workflow's matrix."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from conftest import git, invoke


def commit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    git("commit", "-qam", f"edit {rel}", cwd=repo)


def affected(repo: Path, base: str, tmp_path: Path) -> tuple[dict[str, list[str]], str]:
    out, outputs = tmp_path / "a.json", tmp_path / "github_output"
    outputs.write_text("")
    result = invoke(CliRunner(), "affected", "--base", base, "--json", str(out), "--github-output", str(outputs), cwd=repo)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), outputs.read_text()


def test_each_kind_of_change_selects_the_right_models(governed_repo: Path, tmp_path: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    found, outputs = affected(governed_repo, base, tmp_path)
    assert found == {}
    assert "any=false" in outputs
    commit(governed_repo, "params.yaml", "insurance:", "insurance:\n  # tuned\n")  # comment only
    assert affected(governed_repo, base, tmp_path)[0] == {}, "a comment changes no params"
    commit(governed_repo, "policies/credit.yaml", "min: 0.70", "min: 0.72")
    found, outputs = affected(governed_repo, base, tmp_path)
    assert found == {"credit": ["policies/credit.yaml"]}
    assert 'models=["credit"]' in outputs
    assert "any=true" in outputs
    commit(governed_repo, "policies/base.yaml", "max: 0.05", "max: 0.04")
    assert set(affected(governed_repo, base, tmp_path)[0]) == {"credit", "insurance"}


def test_data_change_selects_the_models_reading_it(governed_repo: Path, tmp_path: Path) -> None:
    base = git("rev-parse", "HEAD", cwd=governed_repo).strip()
    pointer = governed_repo / "data/insurance.csv.dvc"
    pointer.write_text(pointer.read_text() + "# touched\n")
    git("commit", "-qam", "touch pointer", cwd=governed_repo)
    found, _ = affected(governed_repo, base, tmp_path)
    assert found == {"insurance": ["data/insurance.csv.dvc"]}


def test_unknown_base_says_to_fetch_history(governed_repo: Path) -> None:
    result = invoke(CliRunner(), "affected", "--base", "0" * 40, cwd=governed_repo)
    assert result.exit_code == 2
    assert "fetch-depth: 0" in result.output

"""`mlgate pull`: fetch the DVC-tracked data a model needs, from a real directory remote."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from conftest import invoke


def test_pull_fetches_missing_data_and_checks_what_is_there(
    cli: CliRunner, governed_repo: Path, tmp_path: Path
) -> None:
    data = governed_repo / "data" / "german_credit.csv"
    original = data.read_bytes()
    data.unlink()
    out = tmp_path / "pull.json"
    result = invoke(cli, "pull", "credit", "--json", str(out), cwd=governed_repo)
    assert result.exit_code == 0, result.output
    [entry] = json.loads(out.read_text())["credit"]
    assert (entry["path"], entry["action"], entry["tracked_by"]) == (
        "data/german_credit.csv",
        "pulled",
        "data/german_credit.csv.dvc",
    )
    assert data.read_bytes() == original

    result = invoke(cli, "pull", "--json", str(out), cwd=governed_repo)  # every model
    assert result.exit_code == 0, result.output
    pulled = json.loads(out.read_text())
    assert sorted(pulled) == ["credit", "insurance"]
    assert {e["action"] for files in pulled.values() for e in files} == {"present"}


def test_pull_never_overwrites_a_changed_file(cli: CliRunner, governed_repo: Path) -> None:
    data = governed_repo / "data" / "german_credit.csv"
    data.write_text(data.read_text() + data.read_text().splitlines()[1] + "\n")
    result = invoke(cli, "pull", "credit", cwd=governed_repo)
    assert result.exit_code == 2, result.output
    assert "german_credit.csv" in result.output
    assert "dvc checkout" in result.output


def test_pull_unknown_model_is_invalid_input(cli: CliRunner, governed_repo: Path) -> None:
    result = invoke(cli, "pull", "nope", cwd=governed_repo)
    assert result.exit_code == 2
    assert "no spec for nope" in result.output
    assert "credit, insurance" in result.output

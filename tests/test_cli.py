"""The command line contract: --help everywhere, --json everywhere, exit codes per DESIGN.md."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import PROJECT, invoke
from mlgate import __version__
from mlgate.cli import main

COMMANDS = sorted(main.commands)


def test_version() -> None:
    result = invoke(CliRunner(), "--version")
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_json(command: str) -> None:
    result = invoke(CliRunner(), command, "--help")
    assert result.exit_code == 0
    assert "--json" in result.output, f"`mlgate {command}` must offer --json"
    for param in main.commands[command].params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help, f"`mlgate {command} {param.opts[0]}` has no help text"


def test_top_level_help_lists_commands_and_exit_codes() -> None:
    result = invoke(CliRunner(), "--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert (command in result.output) != main.commands[command].hidden, command
    text = " ".join(result.output.split())
    assert "Exit codes: 0 ok, 1 blocked" in text
    assert "3 an external service" in text


def test_validate_json_on_stdout(tmp_path: Path) -> None:
    result = invoke(CliRunner(), "validate", str(PROJECT), "--no-data", "--json", "-")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["ok"] is True


def test_errors_go_to_json_too(governed_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "err.json"
    result = invoke(CliRunner(), "train", "nosuch", "--json", str(out), cwd=governed_repo)
    assert result.exit_code == 2
    payload = json.loads(out.read_text())
    assert payload["ok"] is False
    assert payload["exit_code"] == 2
    assert "nosuch" in payload["error"]


def test_outside_a_governed_repo_says_where_it_looked(tmp_path: Path) -> None:
    result = invoke(CliRunner(), "validate", cwd=tmp_path)
    assert result.exit_code == 2
    assert "models/" in result.output

# --------------------------------------------------------------------------- validate: the extends chain


def test_validate_checks_rules_inherited_from_a_base_policy(governed_repo: Path, tmp_path: Path) -> None:
    base = governed_repo / "policies/base.yaml"
    text = base.read_text()
    assert "\ngates:\n" in text
    base.write_text(text.replace("\ngates:\n", "\ngates:\n  fairness:\n    - id: by-race\n      metric: demographic_parity_ratio\n"
                                 "      min: 0.8\n      sensitive_features: [race]\n", 1))
    line = base.read_text().splitlines().index("      sensitive_features: [race]") + 1
    out = tmp_path / "v.json"
    result = invoke(CliRunner(), "validate", "--no-data", "--json", str(out), cwd=governed_repo)
    assert result.exit_code == 2, result.output
    for model in ("credit", "insurance"):  # both extend base.yaml; neither has `race`
        assert f"policies/base.yaml:{line}:" in result.stderr
        assert f"'race' is not a sensitive feature of model '{model}'" in result.stderr
    problems = json.loads(out.read_text())["problems"]
    assert {p["file"] for p in problems} == {"policies/base.yaml"}, problems

    # a rule the model's own policy replaces (same id) is not the one in effect: not reported
    credit = governed_repo / "policies/credit.yaml"
    credit.write_text(credit.read_text().replace("  fairness:\n", "  fairness:\n    - id: by-race\n      metric: demographic_parity_ratio\n"
                                                 "      min: 0.8\n      sensitive_features: [sex]\n", 1))
    result = invoke(CliRunner(), "validate", "--no-data", cwd=governed_repo)
    assert result.exit_code == 2
    assert "model 'credit'" not in result.stderr
    assert "'race' is not a sensitive feature of model 'insurance'" in result.stderr

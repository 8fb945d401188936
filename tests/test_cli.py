"""The command line contract: --help everywhere, --json everywhere, exit codes per DESIGN.md."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import PROJECT, copy_repo, git, invoke
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


# --------------------------------------------------------------------------- `--json -` is pure


@pytest.fixture(scope="module")
def registry_repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A governed repo with a registry (embedded SQLite): insurance v1 then v2 promoted to staging."""
    from mlgate import jsonout
    from mlgate.gates.run import run_gates
    from mlgate.promotion import apply
    from mlgate.registry import Registry
    from mlgate.training.train import train

    repo = copy_repo(template_repo, tmp_path_factory.mktemp("registry") / "repo")
    for version in (1, 2):
        assert train(repo, "insurance").version == version
        release(repo, f"Merge pull request #{version} from octo/staging", staging=version)
        apply(repo, Registry(repo), pull=None)
    verdict = run_gates(repo, "insurance", version=2, attach=False)
    jsonout.write(repo.parent / "verdict.json", verdict.as_dict())
    return repo


def release(repo: Path, message: str, **stages: int | None) -> None:
    """release.yaml with each version pinned to its files' digest (what a promotion's plan requires), committed."""
    from mlgate.registry import Registry

    registry = Registry(repo)
    entry = {
        s: "null" if v is None else f'{{version: {v}, digest: "{registry.artifact_digest("insurance", v).digest}"}}'
        for s, v in stages.items()
    }
    lines = ["model: insurance", "stages:", *(f"  {s}: {e}" for s, e in entry.items())]
    (repo / "models/insurance/release.yaml").write_text("\n".join(lines) + "\n")
    git("commit", "-q", "-am", message, cwd=repo)


JSON_COMMANDS: dict[str, tuple[list[str], set[int]]] = {
    "validate": (["validate"], {0}),
    "schema": (["schema", "--kind", "policy"], {0}),
    "pull": (["pull", "insurance"], {0}),
    "train": (["train", "insurance"], {0}),
    "gate": (["gate", "insurance", "--version", "2", "--no-attach"], {0, 1}),
    "report": (["report", "insurance", "--verdict", "{verdict}"], {0}),
    "affected": (["affected", "--base", "HEAD~1"], {0}),
    "governance": (["governance", "--base", "HEAD~1", "--head", "HEAD", "--pr", "7", "--no-post"], {0, 1, 2}),
    "propose-promotion": (["propose-promotion", "insurance", "--version", "1", "--stage", "staging"], {0}),
    "promote": (["promote", "--plan"], {0, 1}),
    "status": (["status"], {0}),
    "pin": (["pin", "insurance"], {0}),
    "history": (["history", "insurance"], {0}),
    "rollback": (["rollback", "insurance", "--stage", "staging"], {0}),
    "register": (["register", "insurance", "--model-uri", "models:/insurance/1"], {0}),
    "init": (["init"], {0}),
    "monitored": (["monitored", "--stage", "staging", "--all"], {0}),
    # the target passed through as an id column: every column is then the signature's or an id
    "score": (
        [
            *("score", "insurance", "--stage", "staging", "--input", "data/insurance.csv"),
            *("--output", "scores", "--id-column", "charges"),
        ],
        {0},
    ),
}
TABLES = {"status": "desired", "history": "approvers", "rollback": "Roll back", "propose-promotion": "Promote"}
NOT_RUN = {
    "check": "tests/test_cli.py::test_check_* reads its --json - (invalid, blocked, passing)",
    "monitor": "tests/test_monitor.py reads its --json - (verdicts, errors)",
    "score": "tests/test_score.py reads its --json -",
    "serve": "runs until stopped: tests/test_serve.py reads its --json start record",
}


def test_every_command_with_json_is_checked_for_pure_json() -> None:
    assert set(JSON_COMMANDS) | set(NOT_RUN) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(JSON_COMMANDS))
def test_json_dash_prints_the_json_alone_on_stdout(
    command: str,
    registry_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    args, codes = JSON_COMMANDS[command]
    args = [a.replace("{verdict}", str(registry_repo.parent / "verdict.json")) for a in args]
    cwd = tmp_path if command == "init" else registry_repo
    result = invoke(CliRunner(), *args, "--json", "-", cwd=cwd)
    assert result.exit_code in codes, result.output
    json.loads(result.stdout)  # `mlgate ... --json - | jq` works: nothing else on stdout
    if command in TABLES:  # the table people read is still shown, on stderr
        assert TABLES[command] in result.stderr, result.stderr


def test_json_dash_on_error_prints_the_error_json_alone(governed_repo: Path) -> None:
    result = invoke(CliRunner(), "train", "nosuch", "--json", "-", cwd=governed_repo)
    assert result.exit_code == 2
    assert json.loads(result.stdout)["ok"] is False


def test_tables_go_to_stdout_without_json_dash(registry_repo: Path) -> None:
    result = invoke(CliRunner(), "status", cwd=registry_repo)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == ["model", "stage", "desired", "actual", "pinned", "status"]


def test_report_format_and_json_dash_both_on_stdout_is_refused(registry_repo: Path) -> None:
    result = invoke(
        CliRunner(),
        "report",
        "insurance",
        "--verdict",
        str(registry_repo.parent / "verdict.json"),
        "--no-registry",
        "--format",
        "summary",
        "--json",
        "-",
        cwd=registry_repo,
    )
    assert result.exit_code == 2
    assert json.loads(result.stdout)["ok"] is False
    assert "--format summary and --json - both print to stdout" in result.stderr


# --------------------------------------------------------------------------- promote --no-github


def test_apply_of_a_merge_naming_a_pr_without_a_token_says_what_to_do(
    registry_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlgate.registry import Registry

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    repo = copy_repo(registry_repo, tmp_path / "repo")
    release(repo, "Merge pull request #7 from octo/back-to-v1", staging=1)
    result = invoke(CliRunner(), "promote", "--apply", cwd=repo)
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert "PR #7 (named by the merge commit's message)" in text
    assert "set GITHUB_TOKEN" in text
    assert "--no-github" in text
    assert Registry(repo).alias_version("insurance", "staging") == 2, "nothing was changed"

    out = tmp_path / "apply.json"
    result = invoke(CliRunner(), "promote", "--apply", "--no-github", "--json", str(out), cwd=repo)
    assert result.exit_code == 0, result.output
    assert "--no-github: the reviews of PR #7 are not read; approvals count as absent" in result.stderr
    assert json.loads(out.read_text())["github"] == {
        "read": False,
        "pr": 7,
        "approvals": "counted as absent (--no-github)",
    }
    assert Registry(repo).alias_version("insurance", "staging") == 1

    # a stage that needs approvals: absent approvals block it (exit 1), the registry is untouched
    release(repo, "Merge pull request #8 from octo/production", staging=1, production=1)
    result = invoke(CliRunner(), "promote", "--apply", "--no-github", cwd=repo)
    assert result.exit_code == 1, result.output
    assert "approvals count as absent" in result.stderr
    assert "production needs 1 approval(s)" in result.stderr
    assert Registry(repo).alias_version("insurance", "production") is None


def test_no_github_cannot_post(governed_repo: Path) -> None:
    result = invoke(CliRunner(), "promote", "--plan", "--post", "--pr", "3", "--no-github", cwd=governed_repo)
    assert result.exit_code == 2
    assert "--post publishes to GitHub" in result.stderr


# --------------------------------------------------------------------------- validate: the extends chain


def test_validate_checks_rules_inherited_from_a_base_policy(governed_repo: Path, tmp_path: Path) -> None:
    base = governed_repo / "policies/base.yaml"
    text = base.read_text()
    assert "\ngates:\n" in text
    base.write_text(
        text.replace(
            "\ngates:\n",
            "\ngates:\n  fairness:\n    - id: by-race\n      metric: demographic_parity_ratio\n"
            "      min: 0.8\n      sensitive_features: [race]\n",
            1,
        )
    )
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
    credit.write_text(
        credit.read_text().replace(
            "  fairness:\n",
            "  fairness:\n    - id: by-race\n      metric: demographic_parity_ratio\n"
            "      min: 0.8\n      sensitive_features: [sex]\n",
            1,
        )
    )
    result = invoke(CliRunner(), "validate", "--no-data", cwd=governed_repo)
    assert result.exit_code == 2
    assert "model 'credit'" not in result.stderr
    assert "'race' is not a sensitive feature of model 'insurance'" in result.stderr

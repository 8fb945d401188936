"""The command line contract: --help everywhere, --json everywhere, exit codes per DESIGN.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _leaves(name: str, command: click.Command) -> list[tuple[list[str], click.Command]]:
    """The command, or each subcommand of a group (``evidence build``, ``evidence verify``), with its words."""
    if isinstance(command, click.Group):
        return [([name, sub], cmd) for sub, cmd in sorted(command.commands.items())]
    return [([name], command)]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_json(command: str) -> None:
    for words, leaf in _leaves(command, main.commands[command]):
        result = invoke(CliRunner(), *words, "--help")
        assert result.exit_code == 0
        assert "--json" in result.output, f"`mlgate {' '.join(words)}` must offer --json"
        for param in leaf.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"`mlgate {' '.join(words)} {param.opts[0]}` has no help text"


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
    from mlgate.gates import run_gates
    from mlgate.promotion import apply
    from mlgate.registry import Registry
    from mlgate.training import train

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
    "gto": (["gto"], {0}),
    "rollback": (["rollback", "insurance", "--stage", "staging"], {0}),
    "register": (["register", "insurance", "--model-uri", "models:/insurance/1"], {0}),
    "init": (["init"], {0}),
    "monitored": (["monitored", "--stage", "staging", "--all"], {0}),
    "site": (["site", "--output", "../site-out"], {0}),
    # v1 was promoted (audit records) but never gated on its own: a bundle without a verdict
    "evidence": (["evidence", "insurance", "--version", "1", "--output", "{verdict}.evidence.tar.gz"], {0}),
    # the target passed through as an id column: every column is then the signature's or an id
    "score": (
        [
            *("score", "insurance", "--stage", "staging", "--input", "data/insurance.csv"),
            *("--output", "scores", "--id-column", "charges"),
        ],
        {0},
    ),
}
TABLES = {
    "gto": "latest",
    "status": "desired",
    "history": "approvers",
    "rollback": "Roll back",
    "propose-promotion": "Promote",
    "site": "site: ",
}
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
    assert result.stdout.splitlines()[0].split() == ["model", "stage", "arm", "desired", "actual", "pinned", "status"]


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


def test_policy_review_is_gone() -> None:
    """The deprecated duplicate of `mlgate governance` was removed: click refuses it like any unknown command."""
    result = invoke(CliRunner(), "policy-review", "--base", "HEAD~1", "--head", "HEAD", "--pr", "7")
    assert result.exit_code == 2
    assert "No such command 'policy-review'" in result.stderr
    assert "policy-review" not in COMMANDS


def test_the_facade_imports_no_library_module() -> None:
    """api.py imports the library inside each function: importing it (the CLI does) loads no stack."""
    script = "import sys, mlgate.api; print(sorted(m for m in sys.modules if m.startswith('mlgate')))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(["mlgate", "mlgate.api", "mlgate.exceptions"])


@pytest.mark.parametrize(
    ("args", "heavy"),
    [
        # status and history read the registry (MLflow imports scipy) and resolve each spec's estimator
        (["affected", "--base", "HEAD"], {"mlflow", "fastapi", "uvicorn", "sqlalchemy"}),
        (["schema", "--kind", "release"], {"sklearn", "scipy", "mlflow", "pandas", "fastapi", "sqlalchemy"}),
    ],
)
def test_commands_import_only_what_they_use(args: list[str], heavy: set[str], governed_repo: Path) -> None:
    """A command does not pay for another's imports; one that never opens the registry never imports MLflow."""
    script = (
        "import sys\n"
        "from mlgate.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & " + repr(heavy) + "), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=governed_repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_affected_needs_no_registry_and_no_token(governed_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workspace builds its registry and GitHub client on first use: a command that needs neither never connects."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9/")  # nothing listens on the discard port
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    result = invoke(CliRunner(), "affected", "--base", "HEAD", "--json", "-", cwd=governed_repo)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {}


def test_check_invalid_repo_exits_2_and_gates_nothing(registry_repo: Path, tmp_path: Path) -> None:
    repo = copy_repo(registry_repo, tmp_path / "repo")
    spec = repo / "models/insurance/model.yaml"
    spec.write_text(spec.read_text().replace("task: regression", "task: regresion"))
    result = invoke(CliRunner(), "check", "insurance", "--no-attach", "--json", "-", cwd=repo)
    assert result.exit_code == 2, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "invalid"
    assert payload["validation"]["problems"]
    assert payload["models"] == []


def test_check_gates_and_reports_in_one_process(registry_repo: Path, tmp_path: Path) -> None:
    """Validate, gate and report: the verdict equals `mlgate gate`'s, the reports are `mlgate report`'s."""
    repo = copy_repo(registry_repo, tmp_path / "repo")
    reports = tmp_path / "reports"
    result = invoke(
        CliRunner(), "check", "insurance", "--no-attach", "--reports", str(reports), "--json", "-", cwd=repo
    )
    gated = invoke(CliRunner(), "gate", "insurance", "--no-attach", "--json", "-", cwd=repo)
    assert result.exit_code == gated.exit_code, result.output  # 1 exactly when the verdict failed
    payload = json.loads(result.stdout)
    verdict = json.loads(gated.stdout)
    assert [m["model"] for m in payload["models"]] == ["insurance"]
    checked = payload["models"][0]
    assert checked["status"] == verdict["status"]
    assert checked["version"] == verdict["version"]  # the latest registered version, as `gate` picks it
    assert [r["rule_id"] for r in checked["verdict"]["rules"]] == [r["rule_id"] for r in verdict["rules"]]
    assert payload["status"] == ("fail" if verdict["status"] == "fail" else "pass")
    assert "insurance" in (reports / "insurance.md").read_text()
    assert json.loads((reports / "insurance.verdict.json").read_text())["model"] == "insurance"
    assert (reports / "insurance.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_check_posts_the_sticky_comment_and_check_run_as_report_does(
    registry_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PR journey in one process: `check --pr --check-run-sha --summary` posts what `report` posts, once."""
    from conftest import github_stand_in

    repo = copy_repo(registry_repo, tmp_path / "repo")
    token, sha = "ghs_mlgateCHECKtoken00000000000000000", "b" * 40
    summary = tmp_path / "summary.md"
    args = ["check", "insurance", "--no-attach", "--pr", "7", "--check-run-sha", sha, "--summary", str(summary)]
    with github_stand_in(monkeypatch, token, "octo-org/models") as github:
        github.add_pull(7)
        first = invoke(CliRunner(), *args, "--json", "-", cwd=repo)
        [run] = github.check_runs.values()
        again = invoke(CliRunner(), *args, "--json", "-", cwd=repo)
        verdict = json.loads(first.stdout)["models"][0]["verdict"]
        assert first.exit_code == (1 if verdict["status"] == "fail" else 0), first.output
        assert again.exit_code == first.exit_code
        mine = [c for c in github.comments[7] if "<!-- mlgate:report model=insurance -->" in c["body"]]
        assert len(mine) == 1, "the sticky comment is updated, never duplicated"
        assert run["public"]["head_sha"] == sha
        assert (run["public"]["conclusion"] == "failure") == (verdict["status"] == "fail")
        assert github.violations == []
    checked = json.loads(first.stdout)["models"][0]
    assert checked["reports"]["comment-url"] == json.loads(again.stdout)["models"][0]["reports"]["comment-url"]
    assert summary.read_text().count("insurance") >= 2, "each run appends its step summary"
    assert token not in first.output + again.output


def test_check_without_models_gates_what_the_change_affects(registry_repo: Path, tmp_path: Path) -> None:
    repo = copy_repo(registry_repo, tmp_path / "repo")
    result = invoke(CliRunner(), "check", "--base", "HEAD", "--no-attach", "--json", "-", cwd=repo)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["affected"], payload["models"], payload["status"]) == ({}, [], "pass")
    refused = invoke(CliRunner(), "check", "--json", "-", cwd=repo)
    assert refused.exit_code == 2
    assert "--base" in json.loads(refused.stdout)["error"]


def test_check_exits_1_when_a_verdict_fails(registry_repo: Path, tmp_path: Path) -> None:
    """An r2 floor no model reaches: the verdict fails and `check` is blocked, like `gate`."""
    repo = copy_repo(registry_repo, tmp_path / "repo")
    policy = repo / "policies/default.yaml"
    policy.write_text(policy.read_text().replace("min: 0.75", "min: 0.9999"))
    result = invoke(CliRunner(), "check", "insurance", "--no-attach", "--json", "-", cwd=repo)
    assert result.exit_code == 1, result.output
    payload = json.loads(result.stdout)
    assert (payload["status"], payload["models"][0]["status"]) == ("fail", "fail")
    failed = [r["rule_id"] for r in payload["models"][0]["verdict"]["rules"] if r["status"] == "fail"]
    assert any("r2" in rule for rule in failed), failed
    assert "blocked: insurance" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["promote", "--plan", "--no-github"], ["status"], ["gate", "insurance", "--no-attach"], ["history", "insurance"]],
)
def test_one_workspace_and_one_registry_per_command(
    args: list[str], registry_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI builds the command's workspace once and every library call below it shares its registry."""
    from mlgate import api
    from mlgate.registry import Registry

    built: list[str] = []
    original_init, original_workspace = Registry.__init__, api.workspace

    def registry(self: Any, *a: Any, **k: Any) -> None:
        built.append("Registry")
        original_init(self, *a, **k)

    def workspace(*a: Any, **k: Any) -> Any:
        built.append("Workspace")
        return original_workspace(*a, **k)

    monkeypatch.setattr(Registry, "__init__", registry)
    monkeypatch.setattr(api, "workspace", workspace)
    result = invoke(CliRunner(), *args, "--json", "-", cwd=registry_repo)
    assert result.exit_code in (0, 1), result.output
    assert sorted(built) == ["Registry", "Workspace"], built

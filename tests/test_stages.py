"""Stage names: the champion stage comes from the policy's order, and names MLflow refuses never reach it.

A stage is an MLflow alias. ``latest`` and ``v<digits>`` are MLflow's own (``set_alias`` refuses them,
which used to crash ``promote --apply`` with exit 70 half-way); ``champion`` is the alias mlgate
moves with the last stage of ``promotion.order``. An empty ``--stage`` is refused by every command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import edit, invoke
from mlgate.cli import main
from mlgate.config import Promotion


def _stage_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every (sub)command path whose command takes ``--stage``."""
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from _stage_commands(command, path)
        elif any("--stage" in getattr(p, "opts", ()) for p in command.params):
            yield path


STAGE_COMMANDS = list(_stage_commands(main))


def test_the_commands_taking_a_stage_are_found() -> None:
    """The walk finds the commands (an empty list would make the next test pass vacuously)."""
    found = {path[-1] for path in STAGE_COMMANDS}
    assert {"gate", "score", "serve", "monitor", "propose-promotion", "rollback", "history", "pin"} <= found


@pytest.mark.parametrize("path", STAGE_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_stage_is_refused_by_every_command(path: tuple[str, ...], empty: str, tmp_path: Path) -> None:
    """``--stage ''`` (an unset variable in a workflow): exit 2 naming the option, before anything is read."""
    result = invoke(CliRunner(), *path, "--stage", empty, cwd=tmp_path)  # not a governed repo: nothing to read
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--stage': a stage name cannot be empty" in result.output


@pytest.mark.parametrize(
    ("order", "champion"),
    [(["staging", "production"], "production"), (["staging", "prod"], "prod"), (["live"], "live"), ([], None)],
)
def test_the_champion_stage_is_the_last_of_the_order(order: list[str], champion: str | None) -> None:
    stages = {name: {} for name in order} | {"staging": {}}
    promotion = Promotion.model_validate({"order": order, "stages": stages})
    assert promotion.champion_stage == champion


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("latest", "stage name 'latest' is reserved: MLflow reserves 'latest' and 'v<digits>'"),
        ("v7", "stage name 'v7' is reserved: MLflow reserves 'latest' and 'v<digits>'"),
        ("champion", "stage name 'champion' is reserved: mlgate's 'champion' alias follows the last stage"),
    ],
)
def test_validate_refuses_a_reserved_stage_name_with_file_line_and_key(
    governed_repo: Path, name: str, expected: str
) -> None:
    edit(
        governed_repo, "policies/base.yaml", "    production:\n      require_gates", f"    {name}:\n      require_gates"
    )
    result = invoke(CliRunner(), "validate", "--no-data", cwd=governed_repo)
    assert result.exit_code == 2, result.output
    assert f"policies/base.yaml:35:5: promotion -> stages -> {name}: {expected}" in result.output


def test_validate_accepts_names_that_only_look_reserved(governed_repo: Path) -> None:
    """``v2-canaryeu`` and ``latest-eu`` are ordinary aliases to MLflow: no false refusal.

    (A name *ending* in ``-canary`` is refused: it is a candidate's arm alias.)
    """
    for old, new in (("production", "latest-eu"), ("staging", "v2-canaryeu")):
        edit(
            governed_repo, "policies/base.yaml", f"    {old}:\n      require_gates", f"    {new}:\n      require_gates"
        )
    edit(governed_repo, "policies/base.yaml", "order: [staging, production]", "order: [v2-canaryeu, latest-eu]")
    for release in governed_repo.glob("models/*/release.yaml"):
        edit(
            governed_repo,
            release.relative_to(governed_repo).as_posix(),
            "  staging: null\n  production: null",
            "  latest-eu: null",
        )
    result = invoke(CliRunner(), "validate", "--no-data", cwd=governed_repo)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output  # the order has a last stage: a champion stage resolves

"""All terminal output: data to stdout, messages and progress to stderr.

Scripts and GitHub Actions read stdout (JSON or a single value); people read stderr. While a
command writes ``--json -``, stdout carries that JSON alone: tables and text meant for people
(:func:`data`, :func:`table`) go to stderr instead, so ``mlgate ... --json - | jq`` always parses.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from mlgate import jsonout
from mlgate.exceptions import mask_secrets
from mlgate.gates import RuleStatus


class _Stdout:
    """Who owns stdout during one command: its ``--json -`` output, or the human results."""

    json_only = False
    json_written = False


_stdout = _Stdout()


@contextmanager
def json_on_stdout(active: bool) -> Iterator[None]:
    """While ``active`` (the command got ``--json -``), stdout is reserved for the JSON."""
    previous = (_stdout.json_only, _stdout.json_written)
    _stdout.json_only, _stdout.json_written = active, False
    try:
        yield
    finally:
        _stdout.json_only, _stdout.json_written = previous


def json_written() -> bool:
    """Whether this command already printed its JSON to stdout."""
    return _stdout.json_written


def _echo(text: str, err: bool = True) -> None:
    """Every line mlgate prints passes here: URL credentials masked (mlgate.exceptions.mask_secrets)."""
    click.echo(mask_secrets(text), err=err)


def data(text: str) -> None:
    """A result: stdout, or stderr while ``--json -`` owns stdout."""
    _echo(text, err=_stdout.json_only)


def info(text: str) -> None:
    """Print a plain message for people (stderr)."""
    _echo(text)


def step(index: int, total: int, text: str) -> None:
    """Progress of a long command, one line per step."""
    _echo(click.style(f"[{index}/{total}] ", fg="cyan") + text)


def progress(text: str) -> None:
    """Progress of a command whose number of steps is not known up front."""
    _echo(click.style("… ", fg="cyan") + text)


def success(text: str) -> None:
    """Print a message that something worked, with a green tick (stderr)."""
    _echo(click.style("✔ ", fg="green") + text)


def warn(text: str) -> None:
    """Print a warning (stderr)."""
    _echo(click.style("warning: ", fg="yellow") + text)


def error(text: str, hint: str = "") -> None:
    """Print an error and, if given, a hint on how to fix it (stderr)."""
    _echo(click.style("error: ", fg="red", bold=True) + text)
    if hint:
        _echo(click.style("hint: ", fg="yellow") + hint)


def table(headers: list[str], rows: list[list[str]]) -> None:
    """An aligned plain-text table: a result people read, on stdout unless ``--json -`` owns it."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        data(click.style(line, bold=True) if index == 0 else line)


def write_json(target: str | None, payload: Any) -> None:
    """``--json -`` prints to stdout; ``--json PATH`` writes a file; None does nothing."""
    if target is None:
        return
    if target == "-":
        click.echo(jsonout.dumps(payload))  # masked by jsonout
        _stdout.json_written = True
        return
    jsonout.write(Path(target), payload)


ICONS = {
    RuleStatus.PASS: ("✔", "green"),
    RuleStatus.FAIL: ("✘", "red"),
    RuleStatus.ERROR: ("!", "red"),
    RuleStatus.SKIPPED: ("–", "yellow"),
}


def rule_lines(rules: list[dict[str, Any]]) -> None:
    """One aligned line per evaluated rule: icon, family, rule id, observed vs threshold, why."""
    width = max((len(r["rule_id"]) for r in rules), default=0)
    for rule in rules:
        icon, colour = ICONS[rule["status"]]
        if rule["status"] == RuleStatus.FAIL and not rule["blocking"]:
            colour = "yellow"
        observed = "—" if rule["observed"] is None else f"{rule['observed']:.4g}"
        limit = "" if rule["threshold"] is None else f" ({rule['comparison']} {rule['threshold']:g})"
        head = click.style(f"{icon} {rule['status']:<7}", fg=colour)
        _echo(f"{head} {rule['family']:<13} {rule['rule_id']:<{width}}  {observed}{limit}  {rule['explanation']}")


def write_outputs(target: str | None, outputs: dict[str, Any]) -> None:
    """Append ``key=value`` lines to a GitHub Actions output file (``$GITHUB_OUTPUT``)."""
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as out:
        for key, value in outputs.items():
            text = mask_secrets(str(value))
            if "\n" in text:  # GitHub's heredoc syntax, ended by a delimiter no value can guess and contain
                end = f"MLGATE_EOF_{secrets.token_hex(16)}"
                out.write(f"{key}<<{end}\n{text}\n{end}\n")
            else:
                out.write(f"{key}={text}\n")


class StageName(click.ParamType):
    """A ``--stage`` value: an empty one is refused here (exit 2), before any file or service is read.

    ``--stage ''`` (an unset variable in a workflow) would otherwise mean "no stage" to the
    commands whose ``--stage`` is optional, and name an alias MLflow refuses in the others.
    """

    name = "stage"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """``value`` unchanged, unless it is empty or blank."""
        text = str(value)
        if not text.strip():
            self.fail("a stage name cannot be empty (an unset variable?): give one, e.g. --stage staging", param, ctx)
        return text


STAGE = StageName()
"""The click type of every ``--stage`` option."""

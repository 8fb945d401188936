"""All terminal output: data to stdout, messages and progress to stderr.

Scripts and GitHub Actions read stdout (JSON or a single value); people read stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def data(text: str) -> None:
    """A result for scripts: stdout."""
    click.echo(text)


def info(text: str) -> None:
    click.echo(text, err=True)


def step(index: int, total: int, text: str) -> None:
    """Progress of a long command, one line per step."""
    click.echo(click.style(f"[{index}/{total}] ", fg="cyan") + text, err=True)


def success(text: str) -> None:
    click.echo(click.style("✔ ", fg="green") + text, err=True)


def warn(text: str) -> None:
    click.echo(click.style("warning: ", fg="yellow") + text, err=True)


def error(text: str, hint: str = "") -> None:
    click.echo(click.style("error: ", fg="red", bold=True) + text, err=True)
    if hint:
        click.echo(click.style("hint: ", fg="yellow") + hint, err=True)


def write_json(target: str | None, payload: Any) -> None:
    """``--json -`` prints to stdout; ``--json PATH`` writes a file; None does nothing."""
    if target is None:
        return
    text = json.dumps(payload, indent=2, sort_keys=True, default=str)
    if target == "-":
        data(text)
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")

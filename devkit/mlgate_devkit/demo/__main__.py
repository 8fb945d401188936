"""``python -m mlgate_devkit.demo``: the end-to-end demo (``scripts/demo`` runs it)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlgate.cli import handled, ui

JSON_HELP = "Also write the result as JSON to PATH ('-' for stdout)."


@click.command(name="demo")
@click.option(
    "--workdir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("mlgate-demo"),
    show_default=True,
    help="Where to build the scratch governed repo (emptied first if it holds a demo).",
)
@click.option("--no-pr", is_flag=True, help="Skip the pull-request journey (the propose workflow under act).")
@click.option(
    "--source",
    metavar="CLONE",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The mlgate clone whose example repo is copied (default: the one holding this script).",
)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def main(workdir: Path, no_pr: bool, source: Path | None, json_path: str | None) -> None:
    """Build a scratch governed repo and run every journey that exists so far."""
    from mlgate_devkit.demo import run_demo

    result = run_demo(workdir.resolve(), progress=ui.step, log=ui.info, pull_request=not no_pr, source=source)
    ui.write_json(json_path, result)
    ui.success("demo finished")
    ui.info(json.dumps(result["outputs"], indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()

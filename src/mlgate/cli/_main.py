"""The ``mlgate`` command group: global options and process setup; the commands live in ``cli/commands/``.

Each command module (one per command group, DVC's habit) parses its options into a frozen
dataclass, makes one :mod:`mlgate.api` call through the edge (:mod:`mlgate.cli._base`: the one place
that maps results and exceptions to exit codes) and shows the result.
"""

from __future__ import annotations

import atexit
import gc
import os

import click

from mlgate.cli.commands import COMMANDS

# A command imports ~350k long-lived objects (pandas, scikit-learn, MLflow, SQLAlchemy) and ends
# seconds later. With CPython's default thresholds (700, 10, 10) the cyclic collector walks that
# growing heap over and over while it is imported (0.8 s of `mlgate gate` on the demo repo), and
# once more when the interpreter exits (0.9 s). So a command collects young objects less often,
# and freezes the heap as its last exit handler: the exit then skips the walk (the process is
# ending; every other exit handler has run).
GC_THRESHOLDS = (10_000, 10, 10)


def _command_gc() -> None:
    """Garbage collection for a short-lived command process (see GC_THRESHOLDS)."""
    gc.set_threshold(*GC_THRESHOLDS)
    atexit.unregister(gc.freeze)  # once, however many commands one process runs (tests)
    atexit.register(gc.freeze)  # before the command imports MLflow: runs after MLflow's handlers


def _traceback(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        os.environ["MLGATE_TRACEBACK"] = "1"


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``, as click's version_option prints it, reading the version only when asked."""
    if value and not ctx.resilient_parsing:
        from mlgate import __version__

        click.echo(f"mlgate, version {__version__}")
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Show the version and exit.",
)
@click.option(
    "--traceback",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_traceback,
    help="Show the full traceback of unexpected errors.",
)
def main() -> None:
    """Govern ML models with GitOps: specs and policies in git, gates on PRs, promotion by merge.

    Exit codes: 0 ok, 1 blocked by a gate or promotion rule, 2 invalid input,
    3 an external service (MLflow, DVC remote, GitHub) failed after retries.
    """
    from mlgate.exceptions import mask_logs

    mask_logs()  # MLflow's and urllib3's log lines may quote the tracking URI
    _command_gc()


for _command in COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()

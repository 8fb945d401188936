"""``serve``: online decisions over HTTP, following a stage's alias."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import REF_HELP, REPO_HELP, UNPINNED_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace


@click.command()
@click.argument("model")
@click.option("--stage", type=ui.STAGE, required=True, metavar="STAGE", help="Serve models:/MODEL@STAGE and follow it.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a container).")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8080,
    show_default=True,
    help="TCP port (0: any free port; the one bound is logged and written by --json).",
)
@click.option(
    "--audit-url",
    metavar="URL",
    help="Audit database (sqlite:////abs/path.db, postgresql://host/db; no password). "
    "Default: the spec's serving.audit_url, else sqlite in the repo folder.",
)
@click.option(
    "--poll-seconds", type=click.FloatRange(min=0.1), default=30.0, show_default=True, help="Alias polling interval."
)
@click.option("--max-rows", type=click.IntRange(min=1), default=1000, show_default=True, help="Rows per request.")
@click.option(
    "--max-body-bytes", type=click.IntRange(min=1), default=1 << 20, show_default=True, help="Request body limit."
)
@click.option("--tokens-env", metavar="NAME", help="Variable with the callers' tokens (default MLGATE_SERVE_TOKENS).")
@click.option("--tokens-file", metavar="PATH", help="File with the callers' tokens (a mounted secret).")
@click.option(
    "--audit-timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds an audit write waits.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (each loads the version and follows the alias; one audit store; a dead one is restarted).",
)
@click.option(
    "--arm-key",
    metavar="COLUMN",
    help="Column whose value routes each row to the canary or the stable version (sticky per entity; a column "
    "outside the signature is taken out of the row). Default: the spec's serving.arm_key, else the request id.",
)
@click.option("--ref", default="HEAD", show_default=True, metavar="REF", help=REF_HELP + " Re-read at each poll.")
@click.option("--allow-unpinned", is_flag=True, help=UNPINNED_HELP)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help="Write what is served (version, URL, audit store) at start.")
@edge(api.ServeOptions, writes_json=False)
def serve(ws: Workspace, opts: api.ServeOptions) -> api.Served:
    """Serve decisions of the version MODEL's STAGE alias points at, over HTTP; follow the alias.

    Only the version release.yaml (committed, at --ref) asks for, with the files it pins: refuses to
    start otherwise (exit 1); while running, a disagreeing alias or tampered files keep the last
    verified version serving, reported by /ready and /metrics.

    Every prediction is written to the audit store before it is answered (503 when it cannot be).
    Callers send Authorization: Bearer <token>; tokens are lines 'CALLER_ID TOKEN|sha256:HEX [MODEL,...]'.
    """
    # the start record is written once everything checked out, while the server runs
    return api.serve(ws, opts, started=lambda facts: ui.write_json(opts.json_path, facts))


COMMANDS = [serve]

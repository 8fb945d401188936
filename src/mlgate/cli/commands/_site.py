"""``site``: the static governance site (every model × stage, version, verdict, approval, trend)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import FEEDBACK, JSON_HELP, REPO_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace
    from mlgate.site import SiteResult


def _show_site(result: SiteResult, _opts: api.SiteOptions) -> None:
    n, r, u = len(result.models), len(result.rendered), len(result.reused)
    ui.data(f"site: {result.index} ({n} models: {r} rendered, {u} unchanged)")


@click.command()
@click.option("--output", "-o", required=True, metavar="DIR", help="Folder to write the site into (created if absent).")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option(
    "--full", is_flag=True, help="Ignore the incremental cache: re-render every model, download every verdict."
)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.SiteOptions, show=_show_site)
def site(ws: Workspace, opts: api.SiteOptions) -> SiteResult:
    """Build the static governance site in DIR: open DIR/index.html (works from file:// and GitHub Pages).

    The index lists every model × stage: desired (release.yaml) vs actual (alias) version, sync
    state, the held version's verdict, monitoring state, open alerts (with GITHUB_TOKEN) and any
    canary or shadow. Each model has a page (versions, promotion history with approvers, monitoring
    trends, model card, lineage) and each version one (rule table, approvals, lineage tags).

    Incremental: only models whose inputs changed (files at HEAD, registry facts) are re-rendered;
    verdicts are cached under DIR/.mlgate-site. Nothing is fetched by the pages: no CDN, no framework.
    """
    return api.site(ws, opts, FEEDBACK)


COMMANDS = [site]

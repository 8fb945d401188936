"""``governance``: the check a pull request that changes governed files must pass."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import GITHUB_OUTPUT_HELP, JSON_HELP, REPO_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace


def _show(result: api.Governed, opts: api.GovernanceOptions) -> None:
    review = result.review
    ui.write_outputs(opts.github_output, {"conclusion": review.conclusion, "check-run-url": review.check_run_url})
    for change in review.changes:
        ui.info(f"{change.path}{f' ({change.field})' if change.field else ''}: {change.reason}")
    for login, reason in sorted(review.approvals.ignored.items()):
        ui.info(f"review by {login} does not count: {reason}")
    if result.blocked:
        ui.error(review.title, f"ask {review.approvers_rule} to review the change and approve the PR's head commit")
    else:
        ui.success(review.title)


@click.command("governance")
@click.option("--base", required=True, metavar="REF", help="The PR's base commit (its policy names the approvers).")
@click.option("--head", required=True, metavar="SHA", help="The PR's head commit (the check run goes there).")
@click.option("--pr", type=int, required=True, metavar="N", help="The pull request (its author and reviews).")
@click.option("--no-post", is_flag=True, help="Only print the outcome; create no check run.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@edge(api.GovernanceOptions, show=_show)
def governance(ws: Workspace, opts: api.GovernanceOptions) -> api.Governed:
    """Fail the "mlgate / governance" check until a PR's governance change is approved.

    A governance change: policies/, a judging field of a spec (or its evaluation data's DVC md5),
    a new model, an evaluation data pointer, .github/workflows/, .github/actions/, action/,
    constraints.txt, pyproject.toml, CODEOWNERS, .gitattributes, .dvc/config, and src/ where the
    base's action/setup installs mlgate from the repository; added, edited, deleted or renamed.
    Passes when there is none, or when an approver named in the base policy's `governance:`
    section (else: any collaborator) with write access, other than the author, approved the head
    commit (latest review per reviewer; dismissed and stale approvals do not count).
    """
    return api.governance(ws, opts)


COMMANDS = [governance]

"""``monitor`` and ``monitored``: what a stage saw in production, and which models are due."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import FEEDBACK, GITHUB_OUTPUT_HELP, JSON_HELP, REF_HELP, REPO_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _show_compare(result: api.Compared, opts: api.MonitorOptions) -> None:
    outcome = result.outcome
    verdict = outcome.result.verdict
    ui.table(
        ["check", "stable", verdict["kind"], "statistic", "p-value", "threshold", "status"],
        [
            [
                c["name"],
                *(_figure(c[k]) for k in ("stable", "candidate", "statistic", "p_value", "threshold")),
                c["status"],
            ]
            for c in verdict["checks"]
        ],
    )
    for change in outcome.changes:
        ui.info(f"{change.kind}: {change.action}" + (f" {change.url}" if change.url else ""))
    if outcome.result.recording_error is not None:
        raise outcome.result.recording_error  # after the JSON and the pull requests: exit 3
    summary = (
        f"{opts.model}@{opts.stage} {verdict['kind']} v{verdict['candidate']['version']} "
        f"vs v{verdict['stable']['version']}: "
        f"{verdict['state']} — {'; '.join(verdict['reasons'])}"
    )
    if result.blocked:
        ui.error(summary, "the abort pull request removes the candidate (--propose); a human merges it")
        return
    (ui.success if verdict["state"] == "promote" else ui.warn)(summary)
    ui.info(f"recorded as run {verdict['compare_run_id']} of the mlgate-monitoring experiment")


def _show_monitor(result: api.Monitored | api.Compared, opts: api.MonitorOptions) -> None:
    if isinstance(result, api.Compared):
        _show_compare(result, opts)
        return
    outcome = result.outcome
    verdict = outcome.result.verdict
    ui.rule_lines(verdict["rules"])
    for note in outcome.notes:
        ui.info(note)
    if outcome.alert is not None:
        ui.info(f"monitoring issue: {outcome.alert.action}" + (f" {outcome.alert.url}" if outcome.alert.url else ""))
    for review in outcome.reviews:
        if review.action == "opened":
            ui.info(f"post-deployment review at day {review.day} opened: {review.url}")
    if outcome.retrain_pr is not None:
        pr = outcome.retrain_pr
        ui.info(f"retraining pull request: {pr.action}" + (f" {pr.url}" if pr.url else ""))
    if outcome.result.recording_error is not None:
        raise outcome.result.recording_error  # after the JSON and the actions: the verdict was not recorded (exit 3)
    counts = verdict["counts"]
    summary = (
        f"{opts.model}@{opts.stage} v{verdict['version']}: {verdict['status']} on {verdict['rows']} rows — "
        f"{counts['pass']} passed, {counts['blocking']} blocking, {counts['warnings']} warning(s), "
        f"{counts['skipped']} skipped"
    )
    if verdict["retrain"]["triggered"]:
        ui.warn(f"retraining triggered: {verdict['retrain']['reason']}")
    if result.blocked:
        ui.error(summary, "look at the drifted features and failing rules above; retrain or roll back")
        return
    (ui.warn if verdict["status"] == "warn" else ui.success)(summary)
    ui.info(f"recorded as run {verdict['monitoring_run_id']} of the mlgate-monitoring experiment")


@click.command()
@click.argument("model")
@click.option(
    "--stage", type=ui.STAGE, required=True, metavar="STAGE", help="Monitor the version models:/MODEL@STAGE points at."
)
@click.option(
    "--since",
    metavar="DURATION",
    help="Read the last DURATION (30m, 24h, 7d, 2w). Default: the spec's monitoring.frequency (weekly: 7d).",
)
@click.option(
    "--window",
    metavar="FROM..TO",
    help="Read this UTC window instead: ISO dates or datetimes (a date as TO includes that day).",
)
@click.option("--tracking-uri", metavar="URI", help="MLflow tracking server (default: MLFLOW_TRACKING_URI).")
@click.option("--ref", default="HEAD", show_default=True, metavar="REF", help=REF_HELP)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help="Write the monitoring verdict JSON to PATH ('-' for stdout).")
@click.option("--markdown", metavar="PATH", help="Write the report as Markdown (Mermaid trend charts) to PATH.")
@click.option("--html", metavar="PATH", help="Write the report as standalone HTML (SVG trend charts) to PATH.")
@click.option(
    "--alert",
    is_flag=True,
    help="Open, update or close the model's monitoring issue on GitHub, and open the post-deployment reviews due "
    "(GITHUB_TOKEN with issues: write, GITHUB_REPOSITORY).",
)
@click.option(
    "--propose-retrain",
    is_flag=True,
    help="When the verdict triggers retraining, open the pull request the spec's monitoring.retrain describes "
    "(pushes mlgate/retrain-MODEL; contents: write, pull-requests: write).",
)
@click.option(
    "--from-verdict",
    metavar="PATH",
    help="Act (--alert, --propose-retrain, reports) on this verdict file instead of measuring again.",
)
@click.option(
    "--compare",
    is_flag=True,
    help="Judge the stage's canary or shadow against its stable version on the window (decision rate, score "
    "PSI, fairness, performance) instead: pending, promote, hold or abort.",
)
@click.option(
    "--propose",
    is_flag=True,
    help="With --compare: open or update the pull request the verdict asks for (promote: complete the canary; "
    "abort: remove it); contents: write, pull-requests: write. --alert opens the abort issue.",
)
@click.option("--base", default="main", show_default=True, metavar="BRANCH", help="Base of the retraining PR.")
@click.option(
    "--remote", default="origin", show_default=True, metavar="NAME", help="Git remote the branch is pushed to."
)
@edge(api.MonitorOptions, show=_show_monitor)
def monitor(ws: Workspace, opts: api.MonitorOptions) -> api.Monitored | api.Compared:
    """Measure what MODEL's STAGE saw in production against its reference; judge the policy's monitoring rules.

    Reads the spec's monitoring.sources (the serve audit store, mlgate score's partitions), records
    the verdict in the mlgate-monitoring MLflow experiment. Exit 1 when a blocking rule fails.
    """
    return api.monitor(ws, opts, FEEDBACK)


def _show_monitored(result: api.Rows, opts: api.MonitoredOptions) -> None:
    due = [r["model"] for r in result.rows if r["due"]]
    candidates = [r["model"] for r in result.rows if r.get("candidate")]
    ui.write_outputs(
        opts.github_output,
        {
            "models": json.dumps(due, separators=(",", ":")),
            "any": str(bool(due)).lower(),
            "candidates": json.dumps(candidates, separators=(",", ":")),
            "any-candidate": str(bool(candidates)).lower(),
        },
    )
    ui.table(
        ["model", "version", "frequency", "due", "why"],
        [
            [r["model"], f"v{r['version']}", r["frequency"] or "—", "yes" if r["due"] else "no", r["reason"]]
            for r in result.rows
        ],
    )
    if not result.rows:
        ui.info(f"no model's release.yaml sets a version for {opts.stage}")


@click.command()
@click.option(
    "--stage",
    type=ui.STAGE,
    required=True,
    metavar="STAGE",
    help="The stage whose models are monitored (e.g. production).",
)
@click.option(
    "--due-on",
    "due_on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Decide who is due on this date [default: today, UTC].",
)
@click.option("--all", "every", is_flag=True, help="Every model is due (a run on demand).")
@click.option("--model", "models", multiple=True, metavar="MODEL", help="Only this model (repeatable).")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@edge(api.MonitoredOptions, show=_show_monitored)
def monitored(ws: Workspace, opts: api.MonitoredOptions) -> api.Rows:
    """List the models whose release.yaml sets STAGE, and whether each is due for monitoring.

    monitoring.frequency decides: hourly and daily are due on every run, weekly on Mondays,
    monthly on the 1st; an empty or unknown frequency is watched weekly. Step outputs: `models`
    (JSON list of the due models, for a matrix) and `any` ('true' when one is due); `candidates`
    (the models with a canary or shadow beside STAGE: compared on every run) and `any-candidate`.
    """
    return api.monitored(ws, opts)


COMMANDS = [monitor, monitored]

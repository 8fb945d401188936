"""``gate``, ``report``, ``affected`` and ``check``: judging a model on a pull request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import FEEDBACK, GITHUB_OUTPUT_HELP, JSON_HELP, REPO_HELP, edge
from mlgate.gates import Status

if TYPE_CHECKING:
    from mlgate.config import Workspace

BASE_HELP = "Judge with this commit's policies, judging spec fields and evaluation data (on a PR: the base)."


def _summary(model: str, verdict: dict[str, Any]) -> str:
    """One line per verdict: status and counts (a predictions spec has no registered version)."""
    counts = verdict["counts"]
    subject = f"v{verdict['version']}" if verdict["version"] is not None else "predictions"
    return (
        f"{model} {subject}: {verdict['status']} — {counts['pass']} passed, "
        f"{counts['blocking']} blocking, {counts['warnings']} warning(s), {counts['skipped']} skipped"
    )


def _show_gate(result: api.Gated, opts: api.GateOptions) -> None:
    verdict = result.verdict
    payload = verdict.as_dict()
    ui.write_outputs(
        opts.github_output,
        {"status": verdict.status, "model-version": verdict.version or "", "verdict-path": opts.json_path or ""},
    )
    ui.rule_lines(payload["rules"])
    summary = _summary(opts.model, payload)
    if result.blocked:
        ui.error(summary, "fix the blocking rules above (or the model), retrain, and gate again")
        return
    (ui.warn if verdict.status == Status.WARN else ui.success)(summary)
    if verdict.version is None:
        ui.info("predictions verdict: nothing registered to store it on; keep the --json file")
    elif not opts.no_attach:
        ui.info(f"verdict stored on {opts.model} v{verdict.version} (tag mlgate.gates)")


@click.command()
@click.argument("model")
@click.option("--version", "version", type=click.IntRange(min=1), help="Registered version (default: the latest).")
@click.option("--stage", type=ui.STAGE, metavar="STAGE", help="Only the gate families this stage requires can block.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--no-attach", is_flag=True, help="Do not store the verdict on the model version.")
@click.option("--base", "--policy-ref", "policy_ref", metavar="REF", help=BASE_HELP)
@click.option("--json", "json_path", metavar="PATH", help="Write the verdict JSON to PATH ('-' for stdout).")
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@click.option(
    "--engine",
    type=click.Choice(["pandas", "spark"]),
    help="pandas (in memory) or spark (Parquet datasets, Spark aggregations); default: data.engine, else pandas.",
)
@click.option(
    "--spark-master", metavar="URL", help="Spark master for --engine spark (default local[*]; SPARK_REMOTE wins)."
)
@edge(api.GateOptions, show=_show_gate)
def gate(ws: Workspace, opts: api.GateOptions) -> api.Gated:
    """Evaluate every rule of MODEL's policy against a registered version (exit 1 if blocked).

    For a predictions spec: against its predictions file (no registry is opened).
    """
    return api.gate(ws, opts, FEEDBACK)


def _show_report(result: Any, opts: api.ReportOptions) -> None:
    if opts.markdown_path and result.markdown is not None:
        ui.success(f"Markdown ({len(result.markdown.text):,} characters) -> {opts.markdown_path}")
        if result.markdown.cut:
            ui.warn(f"shortened to fit a GitHub comment: left out {', '.join(result.markdown.cut)}")
    if opts.html_path:
        ui.success(f"HTML -> {opts.html_path}")
    if opts.summary_path:
        ui.success(f"step summary -> {opts.summary_path}")
    if result.text is not None:
        ui.data(result.text.rstrip("\n"))
    if result.posted is not None:
        ui.write_outputs(opts.github_output, result.posted.as_dict())
        if result.posted.skipped:
            ui.warn(result.posted.skipped)
        for what, url in (("comment", result.posted.comment_url), ("check run", result.posted.check_run_url)):
            if url:
                ui.success(f"{what}: {url}")


@click.command()
@click.argument("model")
@click.option(
    "--verdict",
    "verdict_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Verdict JSON written by `mlgate gate --json`.",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the PR-comment Markdown here.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the self-contained HTML report here.",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the step summary here (in Actions: $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "html", "summary"]),
    help="Print this format to stdout (default: markdown when no file is asked for).",
)
@click.option(
    "--html-artifact",
    default="the HTML report artifact of this run",
    show_default=True,
    help="Where a shortened comment tells readers to find the full report.",
)
@click.option(
    "--no-registry",
    is_flag=True,
    help="Never read MLflow: only a verdict from before `gate` recorded lineage needs it for tags and run links.",
)
@click.option(
    "--pr",
    type=int,
    metavar="N",
    help=(
        "Create or update the sticky report comment on pull request N "
        "(GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL)."
    ),
)
@click.option(
    "--check-run-sha",
    metavar="SHA",
    help="Create a check run for this commit, with annotations on the policy lines of failed rules.",
)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.ReportOptions, show=_show_report)
def report(ws: Workspace, opts: api.ReportOptions) -> Any:
    """Render MODEL's verdict as PR-comment Markdown, standalone HTML and a step summary, and publish it.

    One call reads the verdict, the spec and the registry once, writes every file asked for, and
    (with --pr / --check-run-sha) posts the sticky comment and the check run.
    """
    return api.report(ws, opts)


def _show_affected(result: api.Affected, opts: api.AffectedOptions) -> None:
    outputs = {"models": json.dumps(sorted(result.found)), "any": str(bool(result.found)).lower()}
    outputs["gate-only"] = json.dumps(result.gate_only)
    ui.write_outputs(opts.github_output, outputs)
    for name, reasons in result.found.items():
        ui.info(f"{name}: {', '.join(reasons)}")
    if not result.found:
        ui.info("no model is affected by this change")


@click.command()
@click.option("--base", required=True, metavar="REF", help="The PR's base commit.")
@click.option("--head", default="HEAD", show_default=True, metavar="REF", help="The PR's head commit.")
@click.option(
    "--everything",
    "everything",
    multiple=True,
    metavar="PATTERN",
    help="A changed file matching PATTERN (a folder ending in '/', or a glob) affects every model; "
    "repeatable. [default: constraints.txt]",
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@edge(api.AffectedOptions, show=_show_affected)
def affected(ws: Workspace, opts: api.AffectedOptions) -> api.Affected:
    """List the models a change affects (spec, params section, data, policy chain, --everything files)."""
    return api.affected(ws, opts)


def _show_check(result: api.Checked, opts: api.CheckOptions) -> None:
    report = result.validation.report
    for problem in report.problems:
        ui.error(str(problem))
    if result.invalid:
        ui.info(f"{len(report.problems)} problem(s): fix them and run `mlgate check` again (nothing was gated)")
        return
    ui.success(f"valid: {len(report.models)} model(s), {len(report.policies)} policy file(s)")
    failed = [m.model for m in result.models if m.verdict.status == Status.FAIL]
    ui.write_outputs(
        opts.github_output,
        {
            "models": json.dumps([m.model for m in result.models]),
            "status": result.as_dict()["status"],
            "failed": json.dumps(failed),
        },
    )
    if not result.models:
        ui.info("no model is affected by this change")
    for checked in result.models:
        payload = checked.verdict.as_dict()
        ui.info(f"{checked.model}:")
        ui.rule_lines(payload["rules"])
        line = _summary(checked.model, payload)
        status = checked.verdict.status
        (ui.error if status == Status.FAIL else ui.warn if status == Status.WARN else ui.success)(line)
        for kind, path in checked.reports.items():
            if isinstance(path, str):  # files; what was posted shows under --json
                ui.info(f"  {kind} -> {path}")
    if failed:
        ui.error(
            f"blocked: {', '.join(failed)}", "fix the blocking rules above (or the model), retrain, and check again"
        )


@click.command()
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option("--base", metavar="REF", help=BASE_HELP + " Without MODELs: gate the models the change affects.")
@click.option("--head", default="HEAD", show_default=True, metavar="REF", help="The PR's head commit.")
@click.option("--stage", type=ui.STAGE, metavar="STAGE", help="Only the gate families this stage requires can block.")
@click.option("--no-attach", is_flag=True, help="Do not store the verdicts on the model versions.")
@click.option("--no-data", is_flag=True, help="Validate without reading data files (header and value checks).")
@click.option(
    "--reports",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write each model's verdict JSON, PR-comment Markdown and HTML report into DIR.",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append each model's step summary here (in Actions: $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--html-artifact",
    default="the HTML report artifact of this run",
    show_default=True,
    help="Where a shortened comment tells readers to find the full report.",
)
@click.option(
    "--pr",
    type=int,
    metavar="N",
    help="Create or update each model's sticky report comment on pull request N (as `mlgate report --pr`).",
)
@click.option(
    "--check-run-sha",
    metavar="SHA",
    help="Create each model's check run for this commit (as `mlgate report --check-run-sha`).",
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@edge(api.CheckOptions, show=_show_check)
def check(ws: Workspace, opts: api.CheckOptions) -> api.Checked:
    """Validate, then gate and report MODELs (or those --base affects) in one process: a PR's whole check.

    The same library calls as `mlgate validate`, `affected`, `gate` and `report`, with the repo loaded
    once. Exit 2 when the repo does not validate (nothing is gated), 1 when a verdict failed.
    """
    return api.check(ws, opts, FEEDBACK)


COMMANDS = [gate, report, affected, check]

"""``validate``, ``init``, ``schema``: the governed repo's files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import JSON_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace


def _show_validate(result: api.Validated, _opts: api.ValidateOptions) -> None:
    report = result.report
    for problem in report.problems:
        ui.error(str(problem))
    for warning in report.warnings:
        ui.warn(str(warning))
    summary = f"{len(report.models)} model(s), {len(report.policies)} policy file(s) in {result.root}"
    if report.problems:
        ui.info(f"{len(report.problems)} problem(s) in {summary}: fix them and run `mlgate validate` again")
    else:
        ui.success(f"valid: {summary}")


@click.command()
@click.argument("repo", metavar="PATH", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-data", is_flag=True, help="Skip reading data files (header and value checks).")
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.ValidateOptions, show=_show_validate)
def validate(ws: Workspace, opts: api.ValidateOptions) -> api.Validated:
    """Validate every spec, policy and release under PATH and their cross-references."""
    return api.validate(ws, opts)


def _show_init(result: Any, opts: api.InitOptions) -> None:
    for rel in result.created:
        ui.info(f"  created   {rel}")
    for rel in result.appended:
        ui.info(f"  appended  {rel}")
    for command in result.ran:
        ui.info(f"  ran       {command}")
    for note in result.notes:
        ui.info(note)
    ui.success(f"governed repo scaffolded in {result.root}")
    if "<owner>/<repo>" in opts.actions:
        ui.info(
            "next: in .github/workflows/mlgate-*.yml, replace <owner>/<repo> with where mlgate's actions live "
            "(or re-run with --actions)"
        )
    if result.model and (opts.score_column or opts.prediction_column):
        ui.info(
            f"next: fill in model_card in models/{result.model}/model.yaml, then `mlgate validate`, "
            f"`mlgate gate {result.model}` and commit"
        )
    elif result.model:
        ui.info(
            f"next: fill in model_card and monitoring in models/{result.model}/model.yaml, then "
            f"`mlgate validate`, `mlgate train {result.model}` and commit"
        )
        ui.info("next: give DVC a remote the runners can reach (`dvc remote add -d NAME URL`) and `dvc push`")
    else:
        ui.info("next: `mlgate init --data PATH --target COL` adds a model, or write models/<name>/model.yaml")


@click.command()
@click.option("--model", metavar="NAME", help="The model to scaffold (default: the data file's name).")
@click.option("--data", metavar="PATH", help="CSV the model learns from, inside this folder (it is put under DVC).")
@click.option("--target", metavar="COL", help="The column to predict (left out of the features).")
@click.option(
    "--task", type=click.Choice(["classification", "regression"]), help="Default: inferred from the target column."
)
@click.option(
    "--approver",
    "approvers",
    multiple=True,
    metavar="LOGIN",
    help="GitHub login who approves production promotions and governance changes (repeatable).",
)
@click.option(
    "--actions",
    default="<owner>/<repo>@v1",
    show_default=True,
    metavar="OWNER/REPO@REF",
    help="Where the workflows take mlgate's actions from.",
)
@click.option(
    "--score-column",
    metavar="COL",
    help="The data holds predictions made elsewhere: COL is their probability of the positive label "
    "(a predictions spec, audited by policies/predictions.yaml; nothing is trained).",
)
@click.option(
    "--prediction-column", metavar="COL", help="Like --score-column, for decided labels (or predicted values)."
)
@click.option(
    "--threshold", type=float, default=0.5, show_default=True, help="With --score-column: a score >= it decides."
)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.InitOptions, show=_show_init, workspace=False)
def init(opts: api.InitOptions) -> Any:
    """Scaffold a governed repo in the current folder: spec, policies, params, workflows, git and DVC.

    Features come from the CSV header (numbers numeric, the rest categorical). Existing files
    are never overwritten: if one is in the way, nothing is written (exit 2).
    """
    return api.init(opts)


@click.command()
@click.option(
    "--kind",
    type=click.Choice(["model", "policy", "release", "all"]),
    default="all",
    show_default=True,
    help="Which schema to print.",
)
@click.option("--json", "json_path", metavar="PATH", default="-", help=JSON_HELP + " [default: -]")
@edge(api.SchemaOptions, workspace=False)
def schema(opts: api.SchemaOptions) -> api.Document:
    """Print the JSON Schema of model specs, policies and releases."""
    return api.schema(opts)


COMMANDS = [validate, init, schema]

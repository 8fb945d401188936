"""``pull``, ``train``, ``register``: data in, registered versions out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import FEEDBACK, GITHUB_OUTPUT_HELP, JSON_HELP, REPO_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace


def _show_pull(result: api.Pulled, _opts: api.PullOptions) -> None:
    entries = [e for files in result.files.values() for e in files]
    for entry in entries:
        ui.info(f"  {entry['action']:>7}  {entry['path']}  md5 {entry['md5']}")
    pulled = sum(e["action"] == "pulled" for e in entries)
    ui.success(f"data ready for {', '.join(result.files)}: {pulled} file(s) pulled from the DVC remote")


@click.command()
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.PullOptions, show=_show_pull)
def pull(ws: Workspace, opts: api.PullOptions) -> api.Pulled:
    """Fetch from the DVC remote the data files MODELs need (all models when none are named).

    Files already in the workspace are checked against their DVC md5, never overwritten.
    """
    return api.pull(ws, opts, FEEDBACK)


def _show_train(result: Any, opts: api.TrainOptions) -> None:
    ui.write_outputs(
        opts.github_output,
        {"model-version": result.version, "run-id": result.run_id, "model-uri": result.model_uri},
    )
    shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
    ui.success(f"registered {result.model_uri} (run {result.run_id}) in {result.seconds['total']:.1f}s")
    if shown:
        ui.info(f"{'holdout' if result.lineage.get('lineage') == 'mlgate' else 'logged by the command'}: {shown}")
    ui.info(f"next: mlgate gate {opts.model} --version {result.version}")


@click.command()
@click.argument("model")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@edge(api.TrainOptions, show=_show_train)
def train(ws: Workspace, opts: api.TrainOptions) -> Any:
    """Train MODEL from its spec and register a new version in MLflow.

    A spec with `estimator:` is fitted by mlgate; one with `train: {command: ...}` runs that
    command (its output goes to stderr) in an MLflow run mlgate created, then registers the one
    model the command logged.
    """
    return api.train(ws, opts, FEEDBACK)


def _show_register(result: Any, opts: api.RegisterOptions) -> None:
    verb = "already registered as" if result.existed else "registered"
    ui.success(f"{verb} {result.model_uri} (lineage external) from {result.source}")
    ui.info(f"next: mlgate gate {opts.model} --version {result.version}; promotion needs allow_external in the policy")


@click.command()
@click.argument("model")
@click.option(
    "--model-uri",
    required=True,
    metavar="URI|PATH",
    help="runs:/<run id>/<path>, models:/<model id>, models:/<name>/<version>, or a folder with an MLmodel file.",
)
@click.option("--commit", metavar="SHA", help="The git commit the model was trained from, as you state it.")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="ROLE=PATH",
    help="A data file in this repo the model was trained on (repeatable); its md5 is recorded.",
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.RegisterOptions, show=_show_register)
def register(ws: Workspace, opts: api.RegisterOptions) -> Any:
    """Register a model trained elsewhere as a new version of MODEL, with lineage 'external'.

    What you state (--commit, --data) is recorded under mlgate.external.* tags. Promotion refuses
    external versions unless the policy sets promotion.stages.<stage>.allow_external: true.
    """
    return api.register(ws, opts)


COMMANDS = [pull, train, register]

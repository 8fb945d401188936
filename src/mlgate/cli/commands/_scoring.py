"""``score``: batch decisions with the version a stage's alias points at."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mlgate import api
from mlgate.cli import _ui as ui
from mlgate.cli._base import FEEDBACK, JSON_HELP, REF_HELP, REPO_HELP, UNPINNED_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace


def _show(result: Any, opts: api.ScoreOptions) -> None:
    review = f", {result.needs_review} need review" if result.needs_review else ""
    ui.success(
        f"scored {result.rows} rows with {opts.model} v{result.version} ({opts.stage}){review} into {result.partition}"
    )


@click.command()
@click.argument("model")
@click.option(
    "--stage", type=ui.STAGE, required=True, metavar="STAGE", help="Score with models:/MODEL@STAGE (a promotion stage)."
)
@click.option("--input", "inputs", required=True, metavar="PATH|GLOB", help="CSV or Parquet file(s) to score.")
@click.option("--output", required=True, metavar="DIR", help="Writes DIR/model=M/stage=S/date=D/part-*.parquet.")
@click.option("--id-column", "id_columns", multiple=True, metavar="COL", help="Column passed through (repeatable).")
@click.option(
    "--engine",
    type=click.Choice(["pandas", "spark"]),
    default="pandas",
    show_default=True,
    help="pandas streams batches on this machine; spark runs the same job on Spark (mlgate[spark]).",
)
@click.option("--date", "on", metavar="YYYY-MM-DD", help="The partition to replace (default: today, UTC).")
@click.option("--spark-master", metavar="URL", help="Spark master (default local[*]; SPARK_REMOTE for Spark Connect).")
@click.option(
    "--batch-rows", type=click.IntRange(min=1), default=100_000, show_default=True, help="pandas engine batch size."
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another run writing the same partition (then exit 3).",
)
@click.option(
    "--reasons",
    type=click.IntRange(min=1, max=50),
    default=None,
    metavar="K",
    help="Add each row's top K reasons: reason_<i>_feature/_value/_contribution (sklearn trees: mlgate[shap]).",
)
@click.option("--ref", default="HEAD", show_default=True, metavar="REF", help=REF_HELP)
@click.option("--allow-unpinned", is_flag=True, help=UNPINNED_HELP)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.ScoreOptions, show=_show)
def score(ws: Workspace, opts: api.ScoreOptions) -> Any:
    """Score files with the version MODEL's STAGE alias points at; replace that date's partition.

    release.yaml (committed, at --ref) must ask for that version, and its files must have the digest
    it pins (exit 1 otherwise). The input is checked against the version's signature first (exit 2,
    nothing written); decisions follow the spec's decision: block, as the gates judged them.
    """
    return api.score(ws, opts, FEEDBACK)


COMMANDS = [score]

"""The `mlgate` command line: parse arguments, make one library call, print the result.

Errors are caught here, once: an :class:`~mlgate.exceptions.MlgateError` prints its message
(and a hint) to stderr and exits with its own code — 1 blocked, 2 invalid input, 3 external
service. Anything else is a bug in mlgate: exit 70 with a pointer to ``--traceback``.
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mlgate.cli import ui
from mlgate.exceptions import InvalidInput, MlgateError, SpecError, missing_extra

EXIT_BUG = 70
# A command imports ~350k long-lived objects (pandas, scikit-learn, MLflow, SQLAlchemy) and ends
# seconds later. With CPython's default thresholds (700, 10, 10) the cyclic collector walks that
# growing heap over and over while it is imported (0.8 s of `mlgate gate` on the demo repo), and
# once more when the interpreter exits (0.9 s). So a command collects young objects less often,
# and freezes the heap as its last exit handler: the exit then skips the walk (the process is
# ending; every other exit handler has run).
GC_THRESHOLDS = (10_000, 10, 10)

JSON_HELP = "Write the result as JSON to PATH ('-' for stdout)."
GITHUB_OUTPUT_HELP = "Append step outputs (key=value) to this file; in Actions: $GITHUB_OUTPUT."
REPO_HELP = "The governed repo (default: the nearest folder with models/ from here up)."


def _error_payload(err: MlgateError) -> dict[str, Any]:
    payload: dict[str, Any] = {"ok": False, "exit_code": err.exit_code, "error": err.message}
    if isinstance(err, SpecError):
        payload["problems"] = [p.as_dict() for p in err.problems]
    return payload


def handled(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into messages and exit codes (DESIGN.md contract)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # `--json -`: stdout carries the JSON alone; tables and text for people go to stderr
        with ui.json_on_stdout(kwargs.get("json_path") == "-"):
            return _run(func, *args, **kwargs)

    return wrapper


def _run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one command; library errors become a message (and error JSON) and an exit code."""
    try:
        try:
            return func(*args, **kwargs)
        except ModuleNotFoundError as err:
            # an optional dependency not installed is the user's to fix (exit 2 naming the extra), not a bug
            missing = missing_extra(err, f"`mlgate {func.__name__.replace('_', '-')}`")
            if missing is None:
                raise
            raise missing from err
    except MlgateError as err:
        if not ui.json_written():  # never a second JSON document on stdout
            ui.write_json(kwargs.get("json_path"), _error_payload(err))
        ui.error(err.message, err.hint)
        sys.exit(err.exit_code)
    except Exception as err:
        if os.environ.get("MLGATE_TRACEBACK") == "1":
            raise
        ui.error(
            f"unexpected {type(err).__name__}: {err}",
            "this is a bug in mlgate: re-run with --traceback and report it",
        )
        sys.exit(EXIT_BUG)


REF_HELP = "Act on release.yaml as committed at this git ref of the governed repo (never a working-tree edit)."
UNPINNED_HELP = "Accept a release.yaml stage with no digest (warns; the alias must still agree with release.yaml)."


def _root(repo: str | None) -> Path:
    from mlgate.config.workspace import find_root

    return find_root(Path(repo) if repo else None)


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


@main.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-data", is_flag=True, help="Skip reading data files (header and value checks).")
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def validate(path: Path | None, no_data: bool, json_path: str | None) -> None:
    """Validate every spec, policy and release under PATH and their cross-references."""
    from mlgate.data.validate import validate_repo

    root = _root(str(path) if path else None)
    report = validate_repo(root, check_data=not no_data)
    ui.write_json(json_path, report.as_dict())
    for problem in report.problems:
        ui.error(str(problem))
    for warning in report.warnings:
        ui.warn(str(warning))
    summary = f"{len(report.models)} model(s), {len(report.policies)} policy file(s) in {root}"
    if report.problems:
        ui.info(f"{len(report.problems)} problem(s) in {summary}: fix them and run `mlgate validate` again")
        sys.exit(2)
    ui.success(f"valid: {summary}")


@main.command()
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
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def init(
    model: str | None,
    data: str | None,
    target: str | None,
    task: str | None,
    approvers: tuple[str, ...],
    actions: str,
    json_path: str | None,
) -> None:
    """Scaffold a governed repo in the current folder: spec, policies, params, workflows, git and DVC.

    Features come from the CSV header (numbers numeric, the rest categorical). Existing files
    are never overwritten: if one is in the way, nothing is written (exit 2).
    """
    from mlgate.data.scaffold import init_repo

    result = init_repo(
        Path.cwd(), model=model, data=data, target=target, task=task, approvers=approvers, actions=actions
    )
    ui.write_json(json_path, result.as_dict())
    for rel in result.created:
        ui.info(f"  created   {rel}")
    for rel in result.appended:
        ui.info(f"  appended  {rel}")
    for command in result.ran:
        ui.info(f"  ran       {command}")
    for note in result.notes:
        ui.info(note)
    ui.success(f"governed repo scaffolded in {result.root}")
    if "<owner>/<repo>" in actions:
        ui.info(
            "next: in .github/workflows/mlgate-*.yml, replace <owner>/<repo> with where mlgate's actions live "
            "(or re-run with --actions)"
        )
    if result.model:
        ui.info(
            f"next: fill in model_card and monitoring in models/{result.model}/model.yaml, then "
            f"`mlgate validate`, `mlgate train {result.model}` and commit"
        )
        ui.info("next: give DVC a remote the runners can reach (`dvc remote add -d NAME URL`) and `dvc push`")
    else:
        ui.info("next: `mlgate init --data PATH --target COL` adds a model, or write models/<name>/model.yaml")


@main.command()
@click.option(
    "--kind",
    type=click.Choice(["model", "policy", "release", "all"]),
    default="all",
    show_default=True,
    help="Which schema to print.",
)
@click.option("--json", "json_path", metavar="PATH", default="-", help=JSON_HELP + " [default: -]")
@handled
def schema(kind: str, json_path: str) -> None:
    """Print the JSON Schema of model specs, policies and releases."""
    from mlgate.config.schema import json_schemas

    schemas = json_schemas()
    ui.write_json(json_path, schemas if kind == "all" else schemas[kind])


@main.command()
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def pull(models: tuple[str, ...], repo: str | None, json_path: str | None) -> None:
    """Fetch from the DVC remote the data files MODELs need (all models when none are named).

    Files already in the workspace are checked against their DVC md5, never overwritten.
    """
    from mlgate.data import pull as pull_data

    result = pull_data(_root(repo), models, progress=ui.step)
    for entry in (e for files in result.values() for e in files):
        ui.info(f"  {entry['action']:>7}  {entry['path']}  md5 {entry['md5']}")
    ui.write_json(json_path, result)
    pulled = sum(e["action"] == "pulled" for files in result.values() for e in files)
    ui.success(f"data ready for {', '.join(result)}: {pulled} file(s) pulled from the DVC remote")


@main.command()
@click.argument("model")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@handled
def train(model: str, repo: str | None, json_path: str | None, github_output: str | None) -> None:
    """Train MODEL from its spec and register a new version in MLflow.

    A spec with `estimator:` is fitted by mlgate; one with `train: {command: ...}` runs that
    command (its output goes to stderr) in an MLflow run mlgate created, then registers the one
    model the command logged.
    """
    from mlgate.training.train import train as train_model

    steps = iter(range(1, 5))
    result = train_model(_root(repo), model, progress=lambda msg: ui.step(next(steps), 4, msg))
    ui.write_json(json_path, result.as_dict())
    ui.write_outputs(
        github_output, {"model-version": result.version, "run-id": result.run_id, "model-uri": result.model_uri}
    )
    shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
    ui.success(f"registered {result.model_uri} (run {result.run_id}) in {result.seconds['total']:.1f}s")
    if shown:
        ui.info(f"{'holdout' if result.lineage.get('lineage') == 'mlgate' else 'logged by the command'}: {shown}")
    ui.info(f"next: mlgate gate {model} --version {result.version}")


@main.command()
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
@handled
def register(
    model: str, model_uri: str, commit: str | None, data: tuple[str, ...], repo: str | None, json_path: str | None
) -> None:
    """Register a model trained elsewhere as a new version of MODEL, with lineage 'external'.

    What you state (--commit, --data) is recorded under mlgate.external.* tags. Promotion refuses
    external versions unless the policy sets promotion.stages.<stage>.allow_external: true.
    """
    from mlgate.training.register import register_external

    stated: dict[str, str] = {}
    for item in data:
        role, sep, path = item.partition("=")
        if not sep or not role or not path:
            raise InvalidInput(f"--data {item!r}: expected ROLE=PATH, e.g. --data train=data/train.csv")
        stated[role] = path
    result = register_external(_root(repo), model, model_uri, commit=commit, data=stated)
    ui.write_json(json_path, result.as_dict())
    verb = "already registered as" if result.existed else "registered"
    ui.success(f"{verb} {result.model_uri} (lineage external) from {result.source}")
    ui.info(f"next: mlgate gate {model} --version {result.version}; promotion needs allow_external in the policy")


@main.command()
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
@click.option("--ref", default="HEAD", show_default=True, metavar="REF", help=REF_HELP)
@click.option("--allow-unpinned", is_flag=True, help=UNPINNED_HELP)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def score(
    model: str,
    stage: str,
    inputs: str,
    output: str,
    id_columns: tuple[str, ...],
    engine: str,
    on: str | None,
    spark_master: str | None,
    batch_rows: int,
    ref: str,
    allow_unpinned: bool,
    repo: str | None,
    json_path: str | None,
) -> None:
    """Score files with the version MODEL's STAGE alias points at; replace that date's partition.

    release.yaml (committed, at --ref) must ask for that version, and its files must have the digest
    it pins (exit 1 otherwise). The input is checked against the version's signature first (exit 2,
    nothing written); decisions follow the spec's decision: block, as the gates judged them.
    """
    from mlgate.scoring import score as run_score

    result = run_score(
        _root(repo),
        model,
        stage=stage,
        inputs=inputs,
        output=Path(output),
        id_columns=id_columns,
        engine=engine,
        on=on,
        spark_master=spark_master,
        batch_rows=batch_rows,
        progress=ui.progress,
        ref=ref,
        allow_unpinned=allow_unpinned,
        warn=ui.warn,
    )
    ui.write_json(json_path, result.as_dict())
    review = f", {result.needs_review} need review" if result.needs_review else ""
    ui.success(f"scored {result.rows} rows with {model} v{result.version} ({stage}){review} into {result.partition}")


@main.command()
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
@click.option("--base", default="main", show_default=True, metavar="BRANCH", help="Base of the retraining PR.")
@click.option(
    "--remote", default="origin", show_default=True, metavar="NAME", help="Git remote the branch is pushed to."
)
@handled
def monitor(
    model: str,
    stage: str,
    since: str | None,
    window: str | None,
    tracking_uri: str | None,
    ref: str,
    repo: str | None,
    json_path: str | None,
    markdown: str | None,
    html: str | None,
    alert: bool,
    propose_retrain: bool,
    from_verdict: str | None,
    base: str,
    remote: str,
) -> None:
    """Measure what MODEL's STAGE saw in production against its reference; judge the policy's monitoring rules.

    Reads the spec's monitoring.sources (the serve audit store, mlgate score's partitions), records
    the verdict in the mlgate-monitoring MLflow experiment. Exit 1 when a blocking rule fails.
    """
    from mlgate.monitoring.command import monitor as run_monitor

    outcome = run_monitor(
        _root(repo),
        model,
        stage,
        since=since,
        window=window,
        tracking_uri=tracking_uri,
        markdown=Path(markdown) if markdown else None,
        html=Path(html) if html else None,
        alert=alert,
        propose_retrain=propose_retrain,
        base=base,
        remote=remote,
        progress=ui.progress,
        from_verdict=Path(from_verdict) if from_verdict else None,
        ref=ref,
    )
    result = outcome.result
    verdict = result.verdict
    ui.write_json(json_path, outcome.as_dict())
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
    if result.recording_error is not None:
        raise result.recording_error
    counts = verdict["counts"]
    summary = (
        f"{model}@{stage} v{verdict['version']}: {verdict['status']} on {verdict['rows']} rows — "
        f"{counts['pass']} passed, {counts['blocking']} blocking, {counts['warnings']} warning(s), "
        f"{counts['skipped']} skipped"
    )
    if verdict["retrain"]["triggered"]:
        ui.warn(f"retraining triggered: {verdict['retrain']['reason']}")
    if result.exit_code == 1:
        ui.error(summary, "look at the drifted features and failing rules above; retrain or roll back")
        sys.exit(1)
    (ui.warn if verdict["status"] == "warn" else ui.success)(summary)
    ui.info(f"recorded as run {verdict['monitoring_run_id']} of the mlgate-monitoring experiment")


@main.command()
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
@click.option("--ref", default="HEAD", show_default=True, metavar="REF", help=REF_HELP + " Re-read at each poll.")
@click.option("--allow-unpinned", is_flag=True, help=UNPINNED_HELP)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help="Write what is served (version, URL, audit store) at start.")
@handled
def serve(
    model: str,
    stage: str,
    host: str,
    port: int,
    audit_url: str | None,
    poll_seconds: float,
    max_rows: int,
    max_body_bytes: int,
    tokens_env: str | None,
    tokens_file: str | None,
    audit_timeout: float,
    ref: str,
    allow_unpinned: bool,
    repo: str | None,
    json_path: str | None,
) -> None:
    """Serve decisions of the version MODEL's STAGE alias points at, over HTTP; follow the alias.

    Only the version release.yaml (committed, at --ref) asks for, with the files it pins: refuses to
    start otherwise (exit 1); while running, a disagreeing alias or tampered files keep the last
    verified version serving, reported by /ready and /metrics.

    Every prediction is written to the audit store before it is answered (503 when it cannot be).
    Callers send Authorization: Bearer <token>; tokens are lines 'CALLER_ID TOKEN|sha256:HEX [MODEL,...]'.
    """
    from mlgate.serving.server import Options
    from mlgate.serving.server import serve as run_serve

    options = Options(
        host=host,
        port=port,
        audit_url=audit_url,
        poll_seconds=poll_seconds,
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
        tokens_env=tokens_env,
        tokens_file=tokens_file,
        audit_timeout=audit_timeout,
        ref=ref,
        allow_unpinned=allow_unpinned,
    )
    run_serve(_root(repo), model, stage, options, started=lambda facts: ui.write_json(json_path, facts))


@main.command()
@click.argument("model")
@click.option("--version", "version", type=click.IntRange(min=1), help="Registered version (default: the latest).")
@click.option("--stage", type=ui.STAGE, metavar="STAGE", help="Only the gate families this stage requires can block.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--no-attach", is_flag=True, help="Do not store the verdict on the model version.")
@click.option(
    "--base",
    "--policy-ref",
    "policy_ref",
    metavar="REF",
    help="Judge with this commit's policies, judging spec fields and evaluation data (on a PR: the base).",
)
@click.option("--json", "json_path", metavar="PATH", help="Write the verdict JSON to PATH ('-' for stdout).")
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@handled
def gate(
    model: str,
    version: int | None,
    stage: str | None,
    repo: str | None,
    no_attach: bool,
    policy_ref: str | None,
    json_path: str | None,
    github_output: str | None,
) -> None:
    """Evaluate every rule of MODEL's policy against a registered version (exit 1 if blocked).

    For a predictions spec: against its predictions file (no registry is opened).
    """
    from mlgate.gates.run import run_gates
    from mlgate.gates.verdict import Status

    verdict = run_gates(
        _root(repo),
        model,
        version=version,
        stage=stage,
        attach=not no_attach,
        progress=ui.progress,
        policy_ref=policy_ref,
    )
    payload = verdict.as_dict()
    ui.write_json(json_path, payload)
    ui.write_outputs(
        github_output,
        {"status": verdict.status, "model-version": verdict.version or "", "verdict-path": json_path or ""},
    )
    ui.rule_lines(payload["rules"])
    counts = payload["counts"]
    # a predictions spec has no registered version: its verdict is the --json file only
    subject = f"v{verdict.version}" if verdict.version is not None else "predictions"
    summary = (
        f"{model} {subject}: {payload['status']} — {counts['pass']} passed, "
        f"{counts['blocking']} blocking, {counts['warnings']} warning(s), {counts['skipped']} skipped"
    )
    if verdict.status == Status.FAIL:
        ui.error(summary, "fix the blocking rules above (or the model), retrain, and gate again")
        sys.exit(1)
    (ui.warn if verdict.status == Status.WARN else ui.success)(summary)
    if verdict.version is None:
        ui.info("predictions verdict: nothing registered to store it on; keep the --json file")
    elif not no_attach:
        ui.info(f"verdict stored on {model} v{verdict.version} (tag mlgate.gates)")


@main.command()
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
@handled
def report(
    model: str,
    verdict_path: Path,
    markdown_path: Path | None,
    html_path: Path | None,
    summary_path: Path | None,
    fmt: str | None,
    html_artifact: str,
    no_registry: bool,
    pr: int | None,
    check_run_sha: str | None,
    github_output: str | None,
    repo: str | None,
    json_path: str | None,
) -> None:
    """Render MODEL's verdict as PR-comment Markdown, standalone HTML and a step summary, and publish it.

    One call reads the verdict, the spec and the registry once, writes every file asked for, and
    (with --pr / --check-run-sha) posts the sticky comment and the check run.
    """
    from mlgate.report import report_model

    if fmt and json_path == "-":
        raise InvalidInput(
            f"--format {fmt} and --json - both print to stdout",
            hint="write one of them to a file (--markdown/--html/--summary PATH or --json PATH)",
        )
    shown = fmt or (None if markdown_path or html_path or summary_path or json_path == "-" else "markdown")
    result = report_model(
        _root(repo),
        model,
        verdict_path,
        markdown_path=markdown_path,
        html_path=html_path,
        summary_path=summary_path,
        text_format=shown,
        html_artifact=html_artifact,
        registry=not no_registry,
        pr=pr,
        check_run_sha=check_run_sha,
    )
    if markdown_path and result.markdown is not None:
        ui.success(f"Markdown ({len(result.markdown.text):,} characters) -> {markdown_path}")
        if result.markdown.cut:
            ui.warn(f"shortened to fit a GitHub comment: left out {', '.join(result.markdown.cut)}")
    if html_path:
        ui.success(f"HTML -> {html_path}")
    if summary_path:
        ui.success(f"step summary -> {summary_path}")
    if result.text is not None:
        ui.data(result.text.rstrip("\n"))
    if result.posted is not None:
        ui.write_outputs(github_output, result.posted.as_dict())
        if result.posted.skipped:
            ui.warn(result.posted.skipped)
        for what, url in (("comment", result.posted.comment_url), ("check run", result.posted.check_run_url)):
            if url:
                ui.success(f"{what}: {url}")
    ui.write_json(json_path, result.as_dict())


@main.command()
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
@handled
def affected(
    base: str,
    head: str,
    everything: tuple[str, ...],
    repo: str | None,
    json_path: str | None,
    github_output: str | None,
) -> None:
    """List the models a change affects (spec, params section, data, policy chain, --everything files)."""
    from mlgate.config.affected import EVERYTHING, affected_models, gate_only

    found = affected_models(_root(repo), base, head, everything or EVERYTHING)
    ui.write_json(json_path, found)
    outputs = {"models": json.dumps(sorted(found)), "any": str(bool(found)).lower()}
    # predictions specs have nothing to train: the workflow skips its train step for them
    outputs["gate-only"] = json.dumps(gate_only(_root(repo), found))
    ui.write_outputs(github_output, outputs)
    for name, reasons in found.items():
        ui.info(f"{name}: {', '.join(reasons)}")
    if not found:
        ui.info("no model is affected by this change")


def _governance(
    root: Path, base: str, head: str, pr: int, post: bool, json_path: str | None, github_output: str | None
) -> None:
    from mlgate.gates.governance import review_governance

    result = review_governance(root, base, head, pr, post=post)
    ui.write_json(json_path, result.as_dict())
    ui.write_outputs(github_output, {"conclusion": result.conclusion, "check-run-url": result.check_run_url})
    for change in result.changes:
        ui.info(f"{change.path}{f' ({change.field})' if change.field else ''}: {change.reason}")
    for login, reason in sorted(result.approvals.ignored.items()):
        ui.info(f"review by {login} does not count: {reason}")
    if result.conclusion != "success":
        ui.error(result.title, f"ask {result.approvers_rule} to review the change and approve the PR's head commit")
        sys.exit(1)
    ui.success(result.title)


@main.command("governance")
@click.option("--base", required=True, metavar="REF", help="The PR's base commit (its policy names the approvers).")
@click.option("--head", required=True, metavar="SHA", help="The PR's head commit (the check run goes there).")
@click.option("--pr", type=int, required=True, metavar="N", help="The pull request (its author and reviews).")
@click.option("--no-post", is_flag=True, help="Only print the outcome; create no check run.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@handled
def governance(
    base: str,
    head: str,
    pr: int,
    no_post: bool,
    repo: str | None,
    json_path: str | None,
    github_output: str | None,
) -> None:
    """Fail the "mlgate / governance" check until a PR's governance change is approved.

    A governance change: policies/, a judging field of a spec (or its evaluation data's DVC md5),
    a new model, an evaluation data pointer, .github/workflows/, .github/actions/, action/,
    constraints.txt, pyproject.toml, CODEOWNERS, .gitattributes, .dvc/config, and src/ where the
    base's action/setup installs mlgate from the repository; added, edited, deleted or renamed.
    Passes when there is none, or when an approver named in the base policy's `governance:`
    section (else: any collaborator) with write access, other than the author, approved the head
    commit (latest review per reviewer; dismissed and stale approvals do not count).
    """
    _governance(_root(repo), base, head, pr, not no_post, json_path, github_output)


@main.command("policy-review", hidden=True, deprecated=True)
@click.option("--base", required=True, metavar="REF", help="The PR's base commit.")
@click.option("--head", required=True, metavar="SHA", help="The PR's head commit (the check run goes there).")
@click.option("--pr", type=int, required=True, metavar="N", help="The pull request (its author and reviews).")
@click.option(
    "--no-check-run", "--no-post", "no_post", is_flag=True, help="Only print the outcome; create no check run."
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@handled
def policy_review(
    base: str,
    head: str,
    pr: int,
    no_post: bool,
    repo: str | None,
    json_path: str | None,
    github_output: str | None,
) -> None:
    """Deprecated: use `mlgate governance` (same check, same options)."""
    _governance(_root(repo), base, head, pr, not no_post, json_path, github_output)


@main.command("propose-promotion")
@click.argument("model")
@click.option("--version", "version", type=click.IntRange(min=1), required=True, help="Registered version to promote.")
@click.option(
    "--stage",
    type=ui.STAGE,
    required=True,
    metavar="STAGE",
    help="Stage to promote it to (defined in the model's policy).",
)
@click.option(
    "--open-pr",
    is_flag=True,
    help="Commit on a new branch, push it to origin and open the pull request (GITHUB_TOKEN).",
)
@click.option("--base", "base_branch", default="main", show_default=True, help="Branch the pull request targets.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def propose_promotion(
    model: str,
    version: int,
    stage: str,
    open_pr: bool,
    base_branch: str,
    repo: str | None,
    json_path: str | None,
) -> None:
    """Write STAGE: VERSION into models/MODEL/release.yaml (comments kept) and print the PR text."""
    from mlgate.promotion.proposal import propose

    result = propose(_root(repo), model, version, stage, open_pr=open_pr, base_branch=base_branch)
    ui.write_json(json_path, result)
    ui.success(f"{result['release']}: {stage}: v{result['previous'] or '—'} → v{version} (digest {result['digest']})")
    ui.data(f"{result['title']}\n\n{result['body']}")
    if result.get("pr_url"):
        ui.success(f"pull request: {result['pr_url']}")
    else:
        ui.info("next: commit this on a branch and open a pull request with the text above (or pass --open-pr)")


@main.command()
@click.argument("model")
@click.option(
    "--stage", type=ui.STAGE, metavar="STAGE", help="Only this stage [default: every stage release.yaml names]."
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def pin(model: str, stage: str | None, repo: str | None, json_path: str | None) -> None:
    """Add the digest of each version models/MODEL/release.yaml names without one (for a normal PR).

    Migrates `stage: N` to `stage: {version: N, digest: "sha256:…"}` from mlgate's own download of
    the version; the versions do not change, and a stage already pinned is left as it is.
    """
    from mlgate.promotion.proposal import pin as pin_release

    rows = pin_release(_root(repo), model, stage)
    ui.write_json(json_path, rows)
    for row in rows:
        what = f"v{row['version']} pinned to {row['digest']}" if row["pinned"] else "left as it is"
        ui.info(f"models/{model}/release.yaml {row['stage']}: {what}")
    if any(row["pinned"] for row in rows):
        ui.success(f"commit models/{model}/release.yaml on a branch and open a pull request: the plan checks it")
    else:
        ui.success("nothing to pin")


@main.command()
@click.option("--plan", "mode", flag_value="plan", help="Show and check what merging would change (on a PR).")
@click.option(
    "--apply", "mode", flag_value="apply", help="Reconcile the registry with every release.yaml (after the merge)."
)
@click.option("--base", metavar="REF", help="--plan: judge with the policies of this commit (the PR's base).")
@click.option(
    "--pr",
    type=int,
    metavar="N",
    help="The pull request whose reviews count (--apply: default from the merge commit's message).",
)
@click.option(
    "--post", is_flag=True, help="--plan: upsert the plan comment on --pr and a check run on its head commit."
)
@click.option(
    "--no-github", is_flag=True, help="Do not read the PR from GitHub (no token needed): its approvals count as absent."
)
@click.option(
    "--actor", metavar="LOGIN", help="--apply: who promoted (default: the PR's merger, GITHUB_ACTOR, or the OS user)."
)
@click.option(
    "--dispatch",
    is_flag=True,
    help="--apply: send a repository_dispatch 'mlgate-promoted' per change (also: policy promotion.notify.dispatch).",
)
@click.option(
    "--gto-tags",
    is_flag=True,
    help="--apply: tag the merge commit <model>#<stage>#<n> per change, GTO naming (or: promotion.notify.gto_tags).",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan as Markdown here (e.g. $GITHUB_STEP_SUMMARY).",
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@click.option("--github-output", metavar="PATH", envvar="MLGATE_GITHUB_OUTPUT", help=GITHUB_OUTPUT_HELP)
@handled
def promote(
    mode: str | None,
    base: str | None,
    pr: int | None,
    post: bool,
    no_github: bool,
    actor: str | None,
    dispatch: bool,
    gto_tags: bool,
    markdown_path: Path | None,
    repo: str | None,
    json_path: str | None,
    github_output: str | None,
) -> None:
    """Plan or apply promotions: move MLflow aliases to what release.yaml asks for (exit 1 if not allowed).

    --apply outputs each change its commit made; a deploy hook that fails after the registry moved
    exits 3 and says so (re-running --apply re-runs only the hooks).
    """
    from mlgate import jsonout, promotion

    if mode is None:
        raise InvalidInput("say --plan (on a pull request) or --apply (after the merge)")
    if post and no_github:
        raise InvalidInput("--post publishes to GitHub: drop --no-github, or drop --post")
    if (dispatch or gto_tags) and mode != "apply":
        raise InvalidInput("--dispatch and --gto-tags run after the registry moved: they go with --apply")
    result = promotion.promote(
        _root(repo),
        mode=mode,
        base=base,
        pr=pr,
        post=post,
        read_github=not no_github,
        actor=actor,
        hooks=promotion.Hooks(dispatch=dispatch, gto_tags=gto_tags),
        markdown_path=markdown_path,
        progress=ui.progress,
        warn=ui.warn,
    )
    plan = result.plan
    if result.posted:
        ui.write_outputs(github_output, result.posted)
    ui.write_json(json_path, result.payload)
    ui.write_outputs(
        github_output,
        {
            "ok": str(plan.ok).lower(),
            "changes": jsonout.compact(result.changes),
            "change-count": len(result.changes),
        },
    )
    for change in plan.changes:
        marks = ", ".join(f"{'ok' if c.ok else 'MISSING'} {c.name}" for c in change.checks)
        ui.info(
            f"{change.model} {change.stage}: {promotion.version_label(change.current)} → "
            f"{promotion.version_label(change.desired)} [{change.outcome_text}] {marks}"
        )
    for done in result.changes if mode == "apply" else []:
        ui.info(f"changed by this commit: {done['model']} {done['stage']} → {done['model_uri'] or '(stage emptied)'}")
    result.raise_hook_error()  # after the outputs: the promotion is done, a deploy hook is not (exit 3)
    if not plan.changes:
        ui.success("in sync: every release.yaml matches the registry")
    elif not plan.ok:
        for line in plan.missing():
            ui.error(line)
        ui.error("promotion not allowed", "fix what is missing above; the registry was not changed")
        sys.exit(1)
    else:
        ui.success(f"{len(plan.changes)} change(s) {'applied' if mode == 'apply' else 'ready: merging applies them'}")


@main.command()
@click.option("--check", is_flag=True, help="Exit 1 when any stage is not Synced.")
@click.option(
    "--alert",
    is_flag=True,
    help="Open, update or close the one custody issue on GitHub (GITHUB_TOKEN with issues: write, GITHUB_REPOSITORY).",
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def status(check: bool, alert: bool, repo: str | None, json_path: str | None) -> None:
    """Desired (git) vs actual (registry) per model and stage: Synced, OutOfSync, Missing, MovedOutOfBand, Tampered.

    Pinned stages are downloaded and their files' digest compared with release.yaml.
    """
    from mlgate import promotion
    from mlgate.promotion.plan import SyncState

    rows = promotion.status(_root(repo))
    ui.write_json(json_path, [r.as_dict() for r in rows])
    ui.table(
        ["model", "stage", "desired", "actual", "pinned", "status"],
        [
            [
                r.model,
                r.stage,
                promotion.version_label(r.desired),
                promotion.version_label(r.actual),
                r.digest[:19] + "…" if r.digest else "no",
                r.status,
            ]
            for r in rows
        ],
    )
    for row in rows:
        if row.detail:
            ui.warn(f"{row.model} {row.stage} {row.status}: {row.detail}")
    if alert:
        from mlgate.monitoring.command import custody_alert

        done = custody_alert([r.as_dict() for r in rows])
        ui.info(f"custody issue: {done.action}" + (f" #{done.number}" if done.number else ""))
    drift = [r for r in rows if r.status != SyncState.SYNCED]
    if drift and check:
        custody = [r for r in drift if r.status in (SyncState.TAMPERED, SyncState.MOVED_OUT_OF_BAND)]
        ui.error(
            f"{len(drift)} stage(s) not in sync"
            + (f" ({len(custody)} tampered or moved outside a promotion)" if custody else ""),
            "merge or revert the release.yaml change, or run `mlgate promote --apply` (it puts a moved alias back); "
            "restore tampered files from a backup or promote another version",
        )
        sys.exit(1)


@main.command()
@click.argument("model")
@click.option("--stage", type=ui.STAGE, metavar="STAGE", help="Only this stage.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def history(model: str, stage: str | None, repo: str | None, json_path: str | None) -> None:
    """Who promoted which version of MODEL to which stage, when, by which PR and commit, approved by whom."""
    from mlgate.promotion import history as promotions
    from mlgate.promotion import version_label

    records = promotions(_root(repo), model, stage)
    ui.write_json(json_path, [r.as_dict() for r in records])
    ui.table(
        ["when", "stage", "version", "previous", "by", "PR", "commit", "approvers", "gates", "state"],
        [
            [
                r.promoted_at,
                r.stage,
                version_label(r.version),
                version_label(r.previous),
                r.promoted_by,
                f"#{r.pr}" if r.pr else "—",
                r.commit[:12],
                ", ".join(r.approvers) or "—",
                f"{r.verdict_status} ({r.verdict_sha256[:8]})" if r.verdict_status else "—",
                r.state,
            ]
            for r in records
        ],
    )
    if not records:
        ui.info(f"no promotion of {model} recorded yet")


@main.command()
@click.argument("model")
@click.option("--stage", type=ui.STAGE, required=True, metavar="STAGE", help="The stage to roll back.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@handled
def rollback(model: str, stage: str, repo: str | None, json_path: str | None) -> None:
    """Write the version STAGE held before into release.yaml, for a rollback pull request."""
    from mlgate.promotion import rollback as roll_back

    result = roll_back(_root(repo), model, stage)
    ui.write_json(json_path, result)
    ui.success(f"models/{model}/release.yaml: {stage}: v{result['from']} → v{result['to']}")
    ui.data(f"{result['title']}\n\n{result['body']}")
    ui.info("next: commit on a branch and open the pull request; merging it applies the rollback")


@main.command()
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
@handled
def monitored(
    stage: str,
    due_on: Any,
    every: bool,
    models: tuple[str, ...],
    repo: str | None,
    json_path: str | None,
    github_output: str | None,
) -> None:
    """List the models whose release.yaml sets STAGE, and whether each is due for monitoring.

    monitoring.frequency decides: hourly and daily are due on every run, weekly on Mondays,
    monthly on the 1st; an empty or unknown frequency is watched weekly. Step outputs: `models`
    (JSON list of the due models, for a matrix) and `any` ('true' when one is due).
    """
    from mlgate.monitoring.schedule import monitored_models

    if every and due_on is not None:
        raise InvalidInput("give --due-on or --all, not both")
    rows = monitored_models(_root(repo), stage, due_on=due_on.date() if due_on else None, every=every, only=models)
    ui.write_json(json_path, rows)
    due = [r["model"] for r in rows if r["due"]]
    ui.write_outputs(github_output, {"models": json.dumps(due, separators=(",", ":")), "any": str(bool(due)).lower()})
    ui.table(
        ["model", "version", "frequency", "due", "why"],
        [
            [r["model"], f"v{r['version']}", r["frequency"] or "—", "yes" if r["due"] else "no", r["reason"]]
            for r in rows
        ],
    )
    if not rows:
        ui.info(f"no model's release.yaml sets a version for {stage}")


if __name__ == "__main__":  # pragma: no cover
    main()

"""``propose-promotion``, ``pin``, ``promote``, ``status``, ``history``, ``rollback``, ``gto``: promotion."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlgate import api, jsonout
from mlgate.cli import _ui as ui
from mlgate.cli._base import FEEDBACK, GITHUB_OUTPUT_HELP, JSON_HELP, REPO_HELP, edge

if TYPE_CHECKING:
    from mlgate.config import Workspace


def _label(version: int | None) -> str:
    """How every message and table shows a version (imported here: the api call already loaded it)."""
    from mlgate.promotion import version_label

    return version_label(version)


def _show_propose(result: api.Document, opts: api.ProposeOptions) -> None:
    done = result.document
    arm = done.get("arm")
    where = opts.stage if arm is None else f"{arm} beside {opts.stage} (v{done['stable']})"
    share = f" at {done['traffic']:.0%} of callers" if done.get("traffic") is not None else ""
    ui.success(
        f"{done['release']}: {where}: v{done['previous'] or '—'} → v{opts.version}{share} (digest {done['digest']})"
    )
    ui.data(f"{done['title']}\n\n{done['body']}")
    if done.get("pr_url"):
        ui.success(f"pull request: {done['pr_url']}")
    else:
        ui.info("next: commit this on a branch and open a pull request with the text above (or pass --open-pr)")


@click.command("propose-promotion")
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
    "--canary",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    metavar="SHARE",
    help="Run it as a canary beside STAGE for this share of the callers (e.g. 0.10); STAGE keeps its version.",
)
@click.option(
    "--shadow",
    is_flag=True,
    help="Run it as a shadow beside STAGE: scored on every request and audited, never answering.",
)
@click.option(
    "--open-pr",
    is_flag=True,
    help="Commit on a new branch, push it to origin and open the pull request (GITHUB_TOKEN).",
)
@click.option("--base", "base_branch", default="main", show_default=True, help="Branch the pull request targets.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.ProposeOptions, show=_show_propose)
def propose_promotion(ws: Workspace, opts: api.ProposeOptions) -> api.Document:
    """Write STAGE: VERSION into models/MODEL/release.yaml (comments kept) and print the PR text.

    With --canary SHARE or --shadow, write a candidate beside STAGE instead (canary:/shadow: in release.yaml).
    """
    return api.propose_promotion(ws, opts)


def _show_pin(result: api.Rows, opts: api.PinOptions) -> None:
    for row in result.rows:
        what = f"v{row['version']} pinned to {row['digest']}" if row["pinned"] else "left as it is"
        ui.info(f"models/{opts.model}/release.yaml {row['stage']}: {what}")
    if any(row["pinned"] for row in result.rows):
        ui.success(f"commit models/{opts.model}/release.yaml on a branch and open a pull request: the plan checks it")
    else:
        ui.success("nothing to pin")


@click.command()
@click.argument("model")
@click.option(
    "--stage", type=ui.STAGE, metavar="STAGE", help="Only this stage [default: every stage release.yaml names]."
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.PinOptions, show=_show_pin)
def pin(ws: Workspace, opts: api.PinOptions) -> api.Rows:
    """Add the digest of each version models/MODEL/release.yaml names without one (for a normal PR).

    Migrates `stage: N` to `stage: {version: N, digest: "sha256:…"}` from mlgate's own download of
    the version; the versions do not change, and a stage already pinned is left as it is.
    """
    return api.pin(ws, opts)


def _show_promote(result: api.Promoted, opts: api.PromoteOptions) -> None:
    done = result.promotion
    plan = done.plan
    if done.posted:
        ui.write_outputs(opts.github_output, done.posted)
    ui.write_outputs(
        opts.github_output,
        {"ok": str(plan.ok).lower(), "changes": jsonout.compact(done.changes), "change-count": len(done.changes)},
    )
    for change in plan.changes:
        marks = ", ".join(f"{'ok' if c.ok else 'MISSING'} {c.name}" for c in change.checks)
        ui.info(
            f"{change.model} {change.stage}: {_label(change.current)} → {_label(change.desired)} "
            f"[{change.outcome_text}] {marks}"
        )
    for made in done.changes if done.mode == "apply" else []:
        emptied = "(stage emptied)" if made.get("arm", "stable") == "stable" else "(candidate removed)"
        ui.info(f"changed by this commit: {made['model']} {made['stage']} → {made['model_uri'] or emptied}")
    done.raise_hook_error()  # after the outputs: the promotion is done, a deploy hook is not (exit 3)
    if not plan.changes:
        ui.success("in sync: every release.yaml matches the registry")
    elif result.blocked:
        for line in plan.missing():
            ui.error(line)
        ui.error("promotion not allowed", "fix what is missing above; the registry was not changed")
    else:
        ui.success(
            f"{len(plan.changes)} change(s) {'applied' if done.mode == 'apply' else 'ready: merging applies them'}"
        )


@click.command()
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
@edge(api.PromoteOptions, show=_show_promote)
def promote(ws: Workspace, opts: api.PromoteOptions) -> api.Promoted:
    """Plan or apply promotions: move MLflow aliases to what release.yaml asks for (exit 1 if not allowed).

    --apply outputs each change its commit made; a deploy hook that fails after the registry moved
    exits 3 and says so (re-running --apply re-runs only the hooks).
    """
    return api.promote(ws, opts, FEEDBACK)


def _show_status(result: api.Status, _opts: api.StatusOptions) -> None:
    ui.table(
        ["model", "stage", "arm", "desired", "actual", "pinned", "status"],
        [
            [
                r.model,
                r.stage,
                f"canary {r.traffic:.0%}" if r.traffic is not None else str(r.arm),
                _label(r.desired),
                _label(r.actual),
                r.digest[:19] + "…" if r.digest else "no",
                r.status,
            ]
            for r in result.rows
        ],
    )
    for row in result.rows:
        if row.detail:
            ui.warn(f"{row.model} {row.stage} {row.status}: {row.detail}")
    if result.alerted is not None:
        done = result.alerted
        ui.info(f"custody issue: {done.action}" + (f" #{done.number}" if done.number else ""))
    if result.blocked:
        from mlgate.promotion import SyncState

        custody = [r for r in result.drift if r.status in (SyncState.TAMPERED, SyncState.MOVED_OUT_OF_BAND)]
        ui.error(
            f"{len(result.drift)} stage(s) not in sync"
            + (f" ({len(custody)} tampered or moved outside a promotion)" if custody else ""),
            "merge or revert the release.yaml change, or run `mlgate promote --apply` (it puts a moved alias back); "
            "restore tampered files from a backup or promote another version",
        )


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 when any stage is not Synced.")
@click.option(
    "--alert",
    is_flag=True,
    help="Open, update or close the one custody issue on GitHub (GITHUB_TOKEN with issues: write, GITHUB_REPOSITORY).",
)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.StatusOptions, show=_show_status)
def status(ws: Workspace, opts: api.StatusOptions) -> api.Status:
    """Desired (git) vs actual (registry) per model and stage: Synced, OutOfSync, Missing, MovedOutOfBand, Tampered.

    Pinned stages are downloaded and their files' digest compared with release.yaml.
    """
    return api.status(ws, opts)


def _show_history(result: api.History, opts: api.HistoryOptions) -> None:
    ui.table(
        ["when", "stage", "version", "previous", "by", "PR", "commit", "approvers", "gates", "state"],
        [
            [
                r.promoted_at,
                r.stage,
                _label(r.version),
                _label(r.previous),
                r.promoted_by,
                f"#{r.pr}" if r.pr else "—",
                r.commit[:12],
                ", ".join(r.approvers) or "—",
                f"{r.verdict_status} ({r.verdict_sha256[:8]})" if r.verdict_status else "—",
                r.state,
            ]
            for r in result.records
        ],
    )
    if not result.records:
        ui.info(f"no promotion of {opts.model} recorded yet")


@click.command()
@click.argument("model")
@click.option("--stage", type=ui.STAGE, metavar="STAGE", help="Only this stage.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.HistoryOptions, show=_show_history)
def history(ws: Workspace, opts: api.HistoryOptions) -> api.History:
    """Who promoted which version of MODEL to which stage, when, by which PR and commit, approved by whom."""
    return api.history(ws, opts)


def _show_rollback(result: api.Document, opts: api.RollbackOptions) -> None:
    done = result.document
    ui.success(f"models/{opts.model}/release.yaml: {opts.stage}: v{done['from']} → v{done['to']}")
    ui.data(f"{done['title']}\n\n{done['body']}")
    ui.info("next: commit on a branch and open the pull request; merging it applies the rollback")


@click.command()
@click.argument("model")
@click.option("--stage", type=ui.STAGE, required=True, metavar="STAGE", help="The stage to roll back.")
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.RollbackOptions, show=_show_rollback)
def rollback(ws: Workspace, opts: api.RollbackOptions) -> api.Document:
    """Write the version STAGE held before into release.yaml, for a rollback pull request."""
    return api.rollback(ws, opts)


def _show_gto(result: api.GtoView, _opts: api.GtoOptions) -> None:
    ui.table(
        ["name", "latest", *(f"#{stage}" for stage in result.stages)],
        [[a.name, a.latest or "-", *(a.holds(stage) or "-" for stage in result.stages)] for a in result.artifacts],
    )
    for artifact in result.artifacts:
        if artifact.model is not None and artifact.model != artifact.name:
            path = (artifact.artifact or {}).get("path")
            ui.info(f"{artifact.name}: mlgate model '{artifact.model}' (its DVC stage writes {path})")
    if result.ignored:
        ui.warn(f"not GTO tags (GTO's grammar refuses them): {', '.join(result.ignored)}")


@click.command()
@click.argument("name", required=False)
@click.option("--repo", metavar="DIR", help=REPO_HELP)
@click.option("--json", "json_path", metavar="PATH", help=JSON_HELP)
@edge(api.GtoOptions, show=_show_gto)
def gto(ws: Workspace, opts: api.GtoOptions) -> api.GtoView:
    """Show the registry as `gto show` does: each artifact's latest version and what each stage holds.

    Read from git alone: `<model>#<stage>#<n>` tags (`mlgate promote --apply --gto-tags`, lightweight
    ones included), `<name>@vX.Y.Z` registrations, and `artifacts:` of dvc.yaml. A stage's version is
    what models/<model>/release.yaml asks for at the tag's commit. NAME: one artifact or model.
    """
    return api.gto(ws, opts)


COMMANDS = [propose_promotion, pin, promote, status, history, rollback, gto]

"""``mlgate monitor`` end to end: the verdict, its reports, the alert issue, reviews and the retraining PR.

:func:`mlgate.monitoring.run.run` measures and records; this module does what follows from the
verdict, each step opt-in and each on GitHub only when asked (``--alert``, ``--propose-retrain``):

1. the reports (Markdown for the issue, standalone HTML) with trend charts over the recorded runs;
2. the model's one monitoring issue opened, updated or closed (:mod:`~mlgate.monitoring._alerts`),
   and the post-deployment reviews due for the version in the last stage of ``promotion.order``;
3. the retraining pull request, when the verdict triggers it (:mod:`~mlgate.monitoring._retrain`).

A registry that failed while recording the verdict is still exit 3, but only after the alert went
out: an outage of MLflow must not silence a breach.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from mlgate.config import ModelContext, Workspace, load_model_context
from mlgate.exceptions import InvalidInput, MlgateError, excerpt
from mlgate.github import GitHub
from mlgate.monitoring._alerts import IssueSync, ReviewIssue, review_issues, sync_custody_issue, sync_issue
from mlgate.monitoring._canary import CanaryChange, act
from mlgate.monitoring._compare import CompareResult, CompareState, compare
from mlgate.monitoring._retrain import RetrainResult, propose
from mlgate.monitoring._run import MonitoringResult, run
from mlgate.monitoring._verdict import SCHEMA
from mlgate.registry import Registry, audit
from mlgate.report import (
    render_compare_html,
    render_compare_markdown,
    render_monitoring_html,
    render_monitoring_markdown,
)

Progress = Callable[[str], None]
DEFAULT_REVIEW_DAYS = (30, 90, 180)
"""Post-deployment reviews when the spec's ``monitoring.reviews`` does not list its own."""


@dataclass
class MonitorOutcome:
    """What ``mlgate monitor`` did: the verdict, where the reports went, and the GitHub actions taken."""

    result: MonitoringResult
    reports: dict[str, str] = field(default_factory=dict)
    alert: IssueSync | None = None
    reviews: list[ReviewIssue] = field(default_factory=list)
    retrain_pr: RetrainResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The verdict's: 3 when it could not be recorded, 1 on a blocking breach, else 0."""
        return self.result.exit_code

    def as_dict(self) -> dict[str, Any]:
        """The verdict JSON (``mlgate.monitoring/1``) with what followed from it under ``actions``."""
        actions = {
            "reports": self.reports,
            "alert": self.alert.as_dict() if self.alert is not None else None,
            "reviews": [r.as_dict() for r in self.reviews],
            "retrain_pr": self.retrain_pr.as_dict() if self.retrain_pr is not None else None,
            "notes": self.notes,
        }
        return self.result.verdict | {"actions": actions}


def monitor(
    root: Path | Workspace,
    name: str,
    stage: str,
    *,
    since: str | None = None,
    window: str | None = None,
    tracking_uri: str | None = None,
    markdown: Path | None = None,
    html: Path | None = None,
    alert: bool = False,
    propose_retrain: bool = False,
    base: str = "main",
    remote: str = "origin",
    progress: Progress = lambda _msg: None,
    now: datetime | None = None,
    from_verdict: Path | None = None,
    ref: str = "HEAD",
) -> MonitorOutcome:
    """Monitor ``models:/NAME@STAGE``, then write the reports and act on GitHub as asked.

    ``from_verdict``: act on a verdict an earlier step of the same workflow run wrote, instead of
    measuring and recording again (the retrain job: one verdict, one point on the trend charts).
    """
    ws = Workspace.of(root, tracking_uri)
    root = ws.root
    now = now or datetime.now(UTC)
    if from_verdict is not None:
        result = MonitoringResult(_read_verdict(from_verdict, name, stage))
    else:
        result = run(
            ws,
            name,
            stage,
            since=since,
            window=window,
            progress=progress,
            now=now,
            ref=ref,
        )
    outcome = MonitorOutcome(result)
    verdict = result.verdict
    registry = ws.registry
    history = _history(registry, name, stage, outcome) if (markdown or html or alert) else []
    report_markdown = None
    if markdown or html or alert:
        with _verdict_file_problem(from_verdict):
            report_markdown = render_monitoring_markdown(verdict, history, root=root)
            page = render_monitoring_html(verdict, history, root=root) if html else None
        if markdown:
            _write(markdown, report_markdown)
            outcome.reports["markdown"] = str(markdown)
        if html and page is not None:
            _write(html, page)
            outcome.reports["html"] = str(html)
    if not (alert or propose_retrain):
        return outcome
    ctx = load_model_context(root, name)
    github = ws.github
    if alert:
        progress(f"bringing the monitoring issue of {name}@{stage} in line with the verdict ({verdict['status']})")
        owner = ctx.spec.monitoring.owner or None
        outcome.alert = sync_issue(github, verdict, owner=owner, details_url=run_url(), report_markdown=report_markdown)
        entered = _entered_stage(registry, name, stage, int(verdict["version"]), ctx, outcome)
        if entered is not None:
            days = list(ctx.spec.monitoring.reviews or DEFAULT_REVIEW_DAYS)
            outcome.reviews = review_issues(
                github,
                model=name,
                stage=stage,
                version=int(verdict["version"]),
                promoted_at=entered,
                days=days,
                now=now,
                owner=owner,
            )
    if propose_retrain:
        outcome.retrain_pr = propose(root, name, verdict, github, remote=remote, base=base, progress=progress)
    return outcome


@dataclass
class CompareOutcome:
    """What ``mlgate monitor --compare`` did: the comparison, its reports, the pull requests and issue."""

    result: CompareResult
    reports: dict[str, str] = field(default_factory=dict)
    changes: list[CanaryChange] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """3 when the verdict could not be recorded, 1 on ``abort`` (a red job is the signal), else 0."""
        if self.result.recording_error is not None:
            return self.result.recording_error.exit_code
        return 1 if self.result.state == CompareState.ABORT else 0

    def as_dict(self) -> dict[str, Any]:
        """The comparison JSON (``mlgate.compare/1``) with what followed from it under ``actions``."""
        actions = {"reports": self.reports, "changes": [c.as_dict() for c in self.changes]}
        return self.result.verdict | {"actions": actions}


def compare_arms(
    root: Path | Workspace,
    name: str,
    stage: str,
    *,
    since: str | None = None,
    window: str | None = None,
    markdown: Path | None = None,
    html: Path | None = None,
    propose: bool = False,
    alert: bool = False,
    base: str = "main",
    remote: str = "origin",
    progress: Progress = lambda _msg: None,
    now: datetime | None = None,
    ref: str = "HEAD",
) -> CompareOutcome:
    """Compare ``stage``'s candidate with its stable version; write the reports; open what the verdict asks for.

    ``propose``: the completion or abort pull request; ``alert``: the abort issue. A verdict that
    could not be recorded (exit 3) still opens them: an MLflow outage must not keep a harmful canary.
    """
    ws = Workspace.of(root)
    result = compare(ws, name, stage, since=since, window=window, progress=progress, now=now, ref=ref)
    outcome = CompareOutcome(result)
    verdict = result.verdict
    if markdown:
        _write(markdown, render_compare_markdown(verdict))
        outcome.reports["markdown"] = str(markdown)
    if html:
        _write(html, render_compare_html(verdict))
        outcome.reports["html"] = str(html)
    outcome.changes = act(ws, verdict, propose=propose, alert=alert, base=base, remote=remote, progress=progress)
    return outcome


def _read_verdict(path: Path, name: str, stage: str) -> dict[str, Any]:
    """A monitoring verdict file of ``name``@``stage`` (exit 2 for anything else)."""
    try:
        verdict = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidInput(f"--from-verdict {path}: cannot be read ({err.strerror})") from None
    except ValueError as err:
        raise InvalidInput(f"--from-verdict {path}: not JSON ({err})") from None
    if not isinstance(verdict, dict) or verdict.get("schema") != SCHEMA:
        found = verdict.get("schema") if isinstance(verdict, dict) else type(verdict).__name__
        raise InvalidInput(f"--from-verdict {path}: not a monitoring verdict (schema {found!r}, expected {SCHEMA!r})")
    if (verdict.get("model"), verdict.get("stage")) != (name, stage):
        raise InvalidInput(
            f"--from-verdict {path}: the verdict is about {verdict.get('model')}@{verdict.get('stage')}, "
            f"not {name}@{stage}"
        )
    return {k: v for k, v in verdict.items() if k != "actions"}  # what followed last time is not this run's


@contextlib.contextmanager
def _verdict_file_problem(path: Path | None) -> Iterator[None]:
    """A verdict read from ``path`` that the reports cannot render is bad input (exit 2), not a crash.

    :func:`_read_verdict` checks the schema, model and stage; a file with those right but edited or
    cut short (a feature without ``unseen_count``, a rule without ``status``) fails only where the
    templates read the missing field, so that failure is turned into the file's problem here.
    """
    if path is None:
        yield
        return
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError, jinja2.TemplateError) as err:
        raise InvalidInput(
            f"--from-verdict {path}: an incomplete or altered monitoring verdict "
            f"({type(err).__name__}: {excerpt(str(err))})",
            hint="pass the file an earlier `mlgate monitor --json FILE` of this run wrote, unedited",
        ) from None


def _history(registry: Registry, name: str, stage: str, outcome: MonitorOutcome) -> list[dict[str, Any]]:
    """The recorded runs for the trend charts; none (said in the notes) when the registry cannot tell."""
    try:
        return [asdict(r) for r in registry.monitoring_history(name, stage)]
    except MlgateError as err:
        outcome.notes.append(f"no trend charts: the monitoring history could not be read ({err.message})")
        return []


def _entered_stage(
    registry: Registry, name: str, stage: str, version: int, ctx: ModelContext, outcome: MonitorOutcome
) -> datetime | None:
    """When ``version`` entered ``stage`` by a promotion on record, for the last stage of the order only.

    Reviews follow a version into production (the last stage of ``promotion.order``): a staging
    version is not reviewed after deployment. No record (an alias set by hand) → no reviews, said.
    """
    if stage != ctx.policy.policy.promotion.champion_stage:  # None without an order: no stage is reviewed
        return None
    records = [
        r for r in audit.history(registry, name, stage) if r.state == audit.RecordState.DONE and r.version == version
    ]
    if not records:
        outcome.notes.append(f"no reviews: no promotion of v{version} into {stage} is on record")
        return None
    return datetime.fromisoformat(records[-1].promoted_at)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def custody_alert(rows: list[dict[str, Any]], github: GitHub) -> IssueSync:
    """Bring the one custody issue in line with ``mlgate status`` rows, through ``github``; what was done."""
    return sync_custody_issue(github, rows, details_url=run_url())


def run_url() -> str | None:
    """The Actions run this job is part of (what the issue links to), when running in GitHub Actions."""
    server, repo, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run_id:
        return f"{server}/{repo}/actions/runs/{run_id}"
    return None

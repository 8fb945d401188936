"""Merge to promote: every ``release.yaml`` is desired state, the MLflow registry follows it.

Like a GitOps controller (Argo CD, Flux) following manifests:

- ``plan`` compares, per model and stage, the version git asks for with the version the
  registry's alias points at, and checks each change against the policy's promotion rules
  for that stage: the version exists and is not archived, its recorded verdict passed every
  gate family the stage requires under the current policy and data (else the gates are run
  again), the stage order, and the approvals on the pull request.
- ``apply`` re-checks all of that at merge time (a merge that bypassed review must not
  promote), validates every change before the first write, then reconciles: stage aliases
  (``champion`` follows ``production``), legacy stages where the server has them, the previous
  holder archived, promotion tags on the version, and an audit record (mlgate.audit) written
  *before* the alias moves and finished after. Before each change it re-reads the alias
  (compare-and-set), so two applies racing cannot undo each other, and an apply of an older
  commit never overwrites what a newer one promoted.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlgate import audit
from mlgate.approvals import count_approvals
from mlgate.data import dvc_record
from mlgate.exceptions import Blocked, InvalidInput
from mlgate.lineage import git_state, run_git
from mlgate.registry import TAG_PREFIX, Registry
from mlgate.release import release_path
from mlgate.spec import StageRequirement
from mlgate.workspace import ModelContext, load_model_context, model_names

Progress = Callable[[str], None]
CHAMPION = "champion"
CHAMPION_STAGE = "production"
LEGACY_STAGES = {"staging": "Staging", "production": "Production"}
ARCHIVED_TAG = TAG_PREFIX + "archived"
PASSING = ("pass", "warn", "none")  # "none": the policy has no rule in that family


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Change:
    """One stage of one model whose alias differs from what release.yaml asks for."""

    model: str
    stage: str
    current: int | None
    desired: int | None
    archive: int | None = None
    checks: list[Check] = field(default_factory=list)
    approvers: list[str] = field(default_factory=list)
    outcome: str = "planned"  # planned | applied | already applied | superseded

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def action(self) -> str:
        return "demote" if self.desired is None else "promote"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "stage": self.stage, "current": self.current, "desired": self.desired,
            "archive": self.archive, "action": self.action, "ok": self.ok, "approvers": self.approvers,
            "checks": [c.as_dict() for c in self.checks], "outcome": self.outcome,
        }


@dataclass
class Plan:
    commit: str
    pr: int | None
    policy_ref: str | None
    changes: list[Change] = field(default_factory=list)
    synced: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.changes)

    def missing(self) -> list[str]:
        return [f"{c.model} {c.stage} v{c.desired}: {k.name}: {k.detail}" for c in self.changes for k in c.checks if not k.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit, "pr": self.pr, "policy_ref": self.policy_ref, "ok": self.ok,
            "changes": [c.as_dict() for c in self.changes], "synced": self.synced, "missing": self.missing(),
        }


@dataclass
class PullRequest:
    """What the approvals check needs from GitHub about the PR behind a change."""

    number: int
    author: str
    head_sha: str
    merged_by: str | None
    reviews: list[dict[str, Any]]


def fetch_pull_request(number: int) -> PullRequest:
    from mlgate.github import GitHub

    with GitHub() as github:
        pull = github.pull_request(number)
        reviews = github.pull_request_reviews(number)
    return PullRequest(
        number=number, author=pull["user"]["login"], head_sha=pull["head"]["sha"],
        merged_by=(pull.get("merged_by") or {}).get("login"), reviews=reviews,
    )


def pr_from_commit_message(root: Path, commit: str = "HEAD") -> int | None:
    """The PR a merge commit came from: "Merge pull request #12 …" or a squash "… (#12)"."""
    import re

    message = run_git(root, "log", "-1", "--format=%B", commit)
    found = re.search(r"Merge pull request #(\d+)", message) or re.search(r"\(#(\d+)\)\s*$", message.splitlines()[0] if message else "")
    return int(found.group(1)) if found else None


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    done = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=root, capture_output=True, check=False)
    return done.returncode == 0


# --------------------------------------------------------------------------- desired vs actual


def releases(root: Path, policy_ref: str | None, into: Path) -> dict[str, tuple[ModelContext, dict[str, int | None]]]:
    """Every model with a release.yaml: its context (policy from ``policy_ref``) and stages."""
    from mlgate.gate import base_policies

    orphans = sorted(p.parent.name for p in (root / "models").glob("*/release.yaml") if not (p.parent / "model.yaml").is_file())
    if orphans:
        raise InvalidInput(
            f"release.yaml without a model spec: {', '.join(f'models/{n}/release.yaml' for n in orphans)}",
            hint="add models/<name>/model.yaml or remove the release; nothing was changed in the registry",
        )
    found = {}
    for name in model_names(root):
        if not release_path(root, name).is_file():
            continue
        source = None
        if policy_ref:
            (into / name).mkdir(parents=True)
            source = base_policies(root, name, policy_ref, into / name)
        ctx = load_model_context(root, name, source)  # release stages vs policy: exit 2 if unknown
        found[name] = (ctx, dict(ctx.release.stages) if ctx.release else {})
    return found


def actual(registry: Registry, name: str, stages: list[str]) -> dict[str, int | None]:
    return {stage: registry.alias_version(name, stage) for stage in stages}


# --------------------------------------------------------------------------- checks


def _version_or_invalid(registry: Registry, ctx: ModelContext, version: int) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return registry.version(ctx.name, version)
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            known = [int(v.version) for v in registry.versions(ctx.name)] if ctx.name in registry.registered_models() else []
            raise InvalidInput(
                f"{release_path(ctx.root, ctx.name).relative_to(ctx.root)} asks for {ctx.name} v{version}, "
                f"which is not registered (registered: {', '.join(map(str, known)) or 'none'})",
                hint="fix the version in release.yaml; nothing was changed in the registry",
            ) from err
        raise


def _held_before(registry: Registry, name: str, stage: str, version: int) -> bool:
    return any(r.version == version and r.state == "done" for r in audit.history(registry, name, stage))


def _archived_check(registry: Registry, ctx: ModelContext, stage: str, mv: Any) -> Check:
    archived = mv.tags.get(ARCHIVED_TAG) == "true" or getattr(mv, "current_stage", "") == "Archived"
    if not archived:
        return Check("not archived", True, f"v{mv.version} is live")
    if _held_before(registry, ctx.name, stage, int(mv.version)):
        return Check("not archived", True, f"v{mv.version} is archived but held {stage} before: a rollback")
    return Check("not archived", False, f"v{mv.version} is archived and never held {stage}")


def _data_md5s(ctx: ModelContext) -> dict[str, str]:
    md5s = {}
    for role, rel in ctx.spec.data.files().items():
        record = dvc_record(rel, ctx.root)
        md5s[role] = record[0] if record else ""
    return md5s


def _stale_reason(ctx: ModelContext, tags: dict[str, str]) -> str:
    prefix = TAG_PREFIX + "gates."
    if prefix + "status" not in tags:
        return "no recorded verdict"
    if tags.get(prefix + "stage", "all") != "all":
        return f"the recorded verdict covers stage {tags[prefix + 'stage']} only"
    if tags.get(prefix + "policy.sha256") != ctx.policy.sha256:
        return "the policy changed since the verdict"
    for role, md5 in _data_md5s(ctx).items():
        if tags.get(f"{prefix}data.{role}.md5") != md5:
            return f"the {role} data changed since the verdict (or its md5 was not recorded)"
    return ""


def _gates_check(
    registry: Registry, ctx: ModelContext, requirement: StageRequirement, mv: Any,
    policy_ref: str | None, regate: bool, progress: Progress,
) -> Check:
    from mlgate.gate import run_gates

    version, tags = int(mv.version), dict(mv.tags)
    stale = _stale_reason(ctx, tags)
    note = "recorded verdict"
    if stale:
        if not regate:
            return Check("gates", False, f"{stale}; run `mlgate gate {ctx.name} --version {version}`")
        progress(f"{ctx.name} v{version}: {stale}: running the gates again")
        verdict = run_gates(ctx.root, ctx.name, version=version, policy_ref=policy_ref, tracking_uri=registry.uri, progress=progress)
        tags = {f"{TAG_PREFIX}gates.{f}": verdict.family_status(f) for f in requirement.require_gates}
        note = f"gates re-run ({stale})"
    families = {f: tags.get(f"{TAG_PREFIX}gates.{f}", "missing") for f in requirement.require_gates}
    failed = [f"{f}={s}" for f, s in families.items() if s not in PASSING]
    shown = ", ".join(f"{f} {s}" for f, s in families.items()) or "no family required"
    if failed:
        return Check("gates", False, f"{note}: {', '.join(failed)} (required: {shown})")
    return Check("gates", True, f"{note}: {shown}")


def _order_check(registry: Registry, ctx: ModelContext, stage: str, version: int, now: dict[str, int | None]) -> Check | None:
    order = ctx.policy.policy.promotion.order
    if stage not in order or order.index(stage) == 0:
        return None
    before = order[order.index(stage) - 1]
    if now.get(before) == version or _held_before(registry, ctx.name, before, version):
        return Check("stage order", True, f"v{version} has been in {before}")
    return Check("stage order", False, f"v{version} must be in {before} before {stage} (order: {' → '.join(order)})")


def _approvals_check(requirement: StageRequirement, pull: PullRequest | None, stage: str) -> tuple[Check | None, list[str]]:
    if requirement.approvals == 0:
        return None, []
    if pull is None:
        return Check("approvals", False, f"{stage} needs {requirement.approvals} approval(s) on a pull request, and this change has none"), []
    users = {u.lower() for u in requirement.approvers.users}
    teams = requirement.approvers.teams

    def allowed(review: dict[str, Any]) -> str | None:
        login = review["user"]["login"]
        if login.lower() in users:
            return None
        extra = f"; team membership ({', '.join(teams)}) is not checked — list the login under approvers.users" if teams else ""
        return f"not an approver for {stage}{extra}"

    head = pull.head_sha if requirement.dismiss_stale_approvals else None
    counted = count_approvals(pull.reviews, author=pull.author, head_sha=head, allowed=allowed)
    ignored = "; ".join(f"{login}: {why}" for login, why in sorted(counted.ignored.items()))
    detail = f"{len(counted.approvers)}/{requirement.approvals} from {', '.join(counted.approvers) or 'nobody'}"
    detail += f" (not counted: {ignored})" if ignored else ""
    return Check("approvals", len(counted.approvers) >= requirement.approvals, detail), counted.approvers


# --------------------------------------------------------------------------- plan


def make_plan(
    root: Path, registry: Registry, *, policy_ref: str | None = None, pull: PullRequest | None = None,
    regate: bool = True, progress: Progress = lambda _m: None,
) -> Plan:
    """Desired vs actual for every release, with the checks of each change."""
    plan = Plan(commit=git_state(root).commit, pr=pull.number if pull else None, policy_ref=policy_ref)
    with tempfile.TemporaryDirectory() as tmp:
        wanted = releases(root, policy_ref, Path(tmp))
    # Bad input first, before anything is read or written: every named version must exist.
    named = {
        (name, version): _version_or_invalid(registry, ctx, version)
        for name, (ctx, stages) in wanted.items()
        for version in {v for v in stages.values() if v is not None}
    }
    for name, (ctx, stages) in wanted.items():
        now = actual(registry, name, list(stages))
        for stage, desired in stages.items():
            if now[stage] == desired:
                plan.synced.append({"model": name, "stage": stage, "version": desired})
                continue
            change = Change(name, stage, now[stage], desired, archive=_to_archive(now[stage], stage, stages))
            requirement = ctx.policy.policy.promotion.stages[stage]
            progress(f"checking {name} {stage}: {version_label(now[stage])} → {version_label(desired)}")
            if desired is not None:
                mv = named[(name, desired)]
                change.checks.append(Check("exists", True, f"{name} v{desired} is registered (run {mv.run_id})"))
                change.checks.append(_archived_check(registry, ctx, stage, mv))
                change.checks.append(_gates_check(registry, ctx, requirement, mv, policy_ref, regate, progress))
                order = _order_check(registry, ctx, stage, desired, now)
                if order:
                    change.checks.append(order)
            approvals, change.approvers = _approvals_check(requirement, pull, stage)
            if approvals:
                change.checks.append(approvals)
            plan.changes.append(change)
    return plan


def version_label(version: int | None) -> str:
    """``v3``, or ``—`` for an empty stage: how every message and table shows a version."""
    return "—" if version is None else f"v{version}"


def _to_archive(current: int | None, stage: str, stages: dict[str, int | None]) -> int | None:
    """The previous holder is archived unless release.yaml still wants it in another stage."""
    if current is None or any(v == current for s, v in stages.items() if s != stage):
        return None
    return current


# --------------------------------------------------------------------------- apply


@dataclass
class ApplyResult:
    plan: Plan
    records: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.plan.as_dict() | {"audit": self.records}


def apply(
    root: Path, registry: Registry, *, pull: PullRequest | None, actor: str | None = None,
    progress: Progress = lambda _m: None,
) -> ApplyResult:
    """Reconcile the registry with every release.yaml; refuse (exit 1) if any check fails."""
    plan = make_plan(root, registry, pull=pull, progress=progress)
    if not plan.ok:
        raise Blocked(
            "promotion refused, the registry was not changed: " + "; ".join(plan.missing()),
            hint="fix what is missing (gates, order, approvals on the PR), then re-run `mlgate promote --apply`",
        )
    result = ApplyResult(plan)
    who = actor or (pull.merged_by if pull else None) or os.environ.get("GITHUB_ACTOR") or _user()
    for change in plan.changes:
        record = _apply_change(root, registry, change, plan, who, progress)
        if record is not None:
            result.records.append(record.as_dict())
    return result


def _user() -> str:
    import getpass

    return getpass.getuser()


def _promoted_commit(registry: Registry, name: str, version: int, stage: str) -> str:
    return dict(registry.version(name, version).tags).get(f"{TAG_PREFIX}promoted.{stage}.commit", "")


def _apply_change(root: Path, registry: Registry, change: Change, plan: Plan, who: str, progress: Progress) -> audit.Record | None:
    name, stage = change.model, change.stage
    now = registry.alias_version(name, stage)  # compare-and-set: what is there *now*
    record = audit.Record(
        model=name, stage=stage, version=change.desired, previous=now, action=change.action,
        commit=plan.commit, pr=plan.pr, approvers=change.approvers, promoted_by=who,
        promoted_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    if now == change.desired:
        pending = audit.find(registry, record.key)
        if pending is None or pending.state == "done":
            change.outcome = "already applied"
            return None
        record = pending  # an interrupted apply of this very commit: finish its steps
    elif now is not None:
        # Only a descendant of the commit that promoted the holder may replace it: a late apply
        # of an older merge must not undo a newer one (a revert is a descendant, so it may).
        holder = _promoted_commit(registry, name, now, stage)
        if holder and holder != plan.commit and not is_ancestor(root, holder, plan.commit):
            change.outcome = f"superseded: v{now} was promoted by {holder[:12]}, newer than {plan.commit[:12]}"
            progress(f"{name} {stage}: {change.outcome}")
            return None
    record = audit.begin(registry, record)  # write-ahead: the record exists before the alias moves
    if record.state == "duplicate":
        change.outcome = "already being applied by a concurrent run"
        progress(f"{name} {stage}: {change.outcome}")
        return None
    progress(f"{name} {stage}: {version_label(record.previous)} → {version_label(record.version)}")
    _move(registry, record, change)
    audit.finish(registry, record)
    change.outcome = "applied"
    return record


def _move(registry: Registry, record: audit.Record, change: Change) -> None:
    """Every step is idempotent, so a re-run after an outage can repeat them all."""
    name, stage, version, previous = record.model, record.stage, record.version, record.previous
    if version is None:
        registry.delete_alias(name, stage)
        if stage == CHAMPION_STAGE:
            registry.delete_alias(name, CHAMPION)
    else:
        registry.set_alias(name, stage, version)
        if stage == CHAMPION_STAGE:
            registry.set_alias(name, CHAMPION, version)
        registry.delete_version_tag(name, version, ARCHIVED_TAG)
        if stage in LEGACY_STAGES:
            registry.set_legacy_stage(name, version, LEGACY_STAGES[stage])
        registry.set_version_tags(name, version, {
            f"{TAG_PREFIX}promoted_by": record.promoted_by,
            f"{TAG_PREFIX}pr": str(record.pr or ""),
            f"{TAG_PREFIX}commit": record.commit,
            f"{TAG_PREFIX}approvers": ",".join(record.approvers),
            f"{TAG_PREFIX}promoted_at": record.promoted_at,
            f"{TAG_PREFIX}stage": stage,
            f"{TAG_PREFIX}promoted.{stage}.commit": record.commit,
            f"{TAG_PREFIX}promoted.{stage}.at": record.promoted_at,
        })
    # The plan keeps the previous holder when release.yaml still wants it in another stage.
    keep = previous == change.current and change.archive is None and version is not None
    if previous is not None and previous != version and not keep:
        registry.set_version_tags(name, previous, {ARCHIVED_TAG: "true", f"{TAG_PREFIX}archived_at": record.promoted_at})
        registry.set_legacy_stage(name, previous, "Archived")


# --------------------------------------------------------------------------- status, rollback


def status(root: Path, registry: Registry) -> list[dict[str, Any]]:
    """Per model and stage: desired (git), actual (registry), Synced / OutOfSync / Missing."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wanted = releases(root, None, Path(tmp))
    registered = set(registry.registered_models())
    for name, (_ctx, stages) in wanted.items():
        versions = {int(v.version) for v in registry.versions(name)} if name in registered else set()
        for stage, desired in stages.items():
            now = registry.alias_version(name, stage) if name in registered else None
            if desired is not None and desired not in versions:
                state = "Missing"
            elif now == desired:
                state = "Synced"
            else:
                state = "OutOfSync"
            rows.append({"model": name, "stage": stage, "desired": desired, "actual": now, "status": state})
    return rows


def rollback_target(registry: Registry, name: str, stage: str) -> tuple[int | None, int]:
    """(version now in ``stage``, the version it replaced), from the audit history."""
    now = registry.alias_version(name, stage)
    if now is None:
        raise InvalidInput(f"{name} has no version in {stage}: nothing to roll back")
    for record in reversed(audit.history(registry, name, stage)):
        if record.version == now and record.state == "done":
            if record.previous is None:
                break
            return now, record.previous
    raise InvalidInput(
        f"no earlier version of {name} held {stage} (mlgate history {name}): nothing to roll back to",
        hint=f"edit models/{name}/release.yaml by hand to choose a version",
    )

"""Readiness before a stage (production): what a pre-deployment checklist asks that mlgate can verify.

The judged policy lists, per stage, which checks apply (``promotion.stages.<stage>.readiness``);
``promote --plan`` and ``--apply`` add one :class:`~mlgate.promotion._check.Check` per listed
check to every change that moves a version into that stage. Each check reads the spec the
promotion judges (and, for the rollback rehearsal, release.yaml's git history and the audit log) and says what it
found or which key to set:

- ``decision`` — the spec's ``decision`` block gives a ``threshold`` and a ``review_band``
  (the band of scores a person reviews). The block is defined on another branch; it is read
  defensively here (attribute or mapping, any missing part a failed check, never a crash);
- ``audit_store`` — ``serving.audit_url`` names a durable database (the schema refuses
  in-memory, relative or temporary SQLite and URLs with a password: config.schema.Serving);
- ``monitoring_owner`` — ``monitoring.owner`` names one person: a GitHub login (``@jane``) or
  an e-mail address, not a team (``org/team``), a list or a role word (``team``, ``group``…);
- ``retraining_trigger`` — ``monitoring.retrain_when`` is a metric threshold a job can evaluate
  (``{metric: roc_auc, min: 0.7}``), not only the free-text ``retraining_trigger``;
- ``rollback_rehearsed`` — release.yaml's history on the base branch (git, first parent) moves
  the policy's ``rollback_stage`` (default ``staging``) back to a version it had asked for before,
  and the audit log holds the finished record of applying that very commit (``mlgate rollback`` +
  merge + ``promote --apply`` does exactly that). Git decides that the rollback was asked for and
  reviewed; the audit record only confirms it was applied (an ``mlgate-audit`` run alone, which
  anyone with registry credentials can write, proves nothing);
- ``reviews_scheduled`` — ``monitoring.reviews`` (days after deployment) includes every day the
  policy's ``reviews`` lists (default 30, 90 and 180).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from mlgate.config import ModelContext, Readiness
from mlgate.promotion._check import Check
from mlgate.registry import Registry, audit

Asked = tuple[tuple[str, dict[str, int | None]], ...]
"""release.yaml's revisions on the base branch, newest first: (commit, {stage: version})."""

_LOGIN = re.compile(r"^@?[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")  # GitHub's login rules
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
# words that name a group of people or a role, not a person who answers when the model misbehaves
_GROUP_WORDS = frozenset({"team", "group", "squad", "dept", "department", "ops", "org", "committee", "owners"})


def checks(ctx: ModelContext, registry: Registry, stage: str, readiness: Readiness, asked: Asked = ()) -> list[Check]:
    """One check per readiness item the policy lists for ``stage``, in the policy's order.

    ``asked`` is release.yaml's history on the base branch, newest first: (commit, {stage: version}).
    """
    spec_file = f"models/{ctx.name}/model.yaml"
    out = []
    for name in readiness.checks:
        ok, detail = _CHECKS[name](ctx, registry, readiness, spec_file, asked)
        out.append(Check(f"readiness: {name}", ok, detail))
    return out


ReadinessCheck = Callable[["ModelContext", Registry, "Readiness", str, "Asked"], tuple[bool, str]]
"""One readiness check: (ctx, registry, readiness settings, spec file, release history) → (ok, detail)."""


def _field(value: Any, key: str) -> Any:
    """``value.key`` or ``value[key]``: the spec's ``decision`` block as either branch models it."""
    if isinstance(value, dict):
        return value.get(key)
    return getattr(value, key, None)


def _decision(
    ctx: ModelContext, _registry: Registry, _r: Readiness, spec_file: str, _asked: Asked = ()
) -> tuple[bool, str]:
    block = getattr(ctx.spec, "decision", None)
    if block is None:
        return False, f"{spec_file}: decision: no decision block (set decision: {{threshold, review_band}})"
    threshold, band = _field(block, "threshold"), _field(block, "review_band")
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not math.isfinite(threshold):
        return False, f"{spec_file}: decision -> threshold: not set to a number"
    if band is None or (isinstance(band, list | tuple | dict) and len(band) == 0):
        return False, f"{spec_file}: decision -> review_band: not defined"
    return True, f"decision threshold {threshold}, review band {_show(band)}"


def _show(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    return str(value)


def _audit_store(
    ctx: ModelContext, _registry: Registry, _r: Readiness, spec_file: str, _asked: Asked = ()
) -> tuple[bool, str]:
    serving = ctx.spec.serving
    if serving is None:
        return False, f"{spec_file}: serving -> audit_url: not set (a durable database the service logs decisions to)"
    scheme = serving.audit_url.split("://", 1)[0]
    return True, f"the service logs to a durable {scheme} audit store (serving.audit_url)"


def _monitoring_owner(
    ctx: ModelContext, _registry: Registry, _r: Readiness, spec_file: str, _asked: Asked = ()
) -> tuple[bool, str]:
    owner = ctx.spec.monitoring.owner.strip()
    where = f"{spec_file}: monitoring -> owner"
    if not owner:
        return False, f"{where}: not set (name the person who watches the model: @login or e-mail)"
    if "/" in owner:
        return False, f"{where}: '{owner}' is a team; name one person (@login or e-mail) who is accountable"
    words = {w for w in re.split(r"[^a-z]+", owner.lower()) if w}
    if words & _GROUP_WORDS:
        return False, f"{where}: '{owner}' names a group or role; name one person (@login or e-mail)"
    if not (_LOGIN.match(owner) or _EMAIL.match(owner)):
        return False, f"{where}: '{owner}' is not one GitHub login or e-mail address"
    return True, f"monitoring owner {owner}"


def _retraining_trigger(
    ctx: ModelContext, _registry: Registry, _r: Readiness, spec_file: str, _asked: Asked = ()
) -> tuple[bool, str]:
    when = ctx.spec.monitoring.retrain_when
    if when is None:
        said = ctx.spec.monitoring.retraining_trigger
        text = f" ('{said}' is text a job cannot evaluate)" if said else ""
        return False, f"{spec_file}: monitoring -> retrain_when: not set{text}; e.g. {{metric: roc_auc, min: 0.7}}"
    bound = f"< {when.min}" if when.min is not None else f"> {when.max}"
    return True, f"retrain when {when.metric} {bound}"


def _rollbacks_asked(asked: Asked, stage: str) -> list[tuple[str, int, int]]:
    """(commit, from, to) of each revision that moved ``stage`` back to a version an earlier revision asked for."""
    found = []
    held: set[int] = set()
    previous: int | None = None
    for commit, versions in reversed(asked):  # oldest first
        version = versions.get(stage)
        if version is not None and previous is not None and version != previous and version in held:
            found.append((commit, previous, version))
        if version is not None:
            held.add(version)
        previous = version
    return found


def _rollback_rehearsed(
    ctx: ModelContext, registry: Registry, readiness: Readiness, _s: str, asked: Asked
) -> tuple[bool, str]:
    stage = readiness.rollback_stage
    applied = {
        (r.commit, r.previous, r.version): r
        for r in audit.history(registry, ctx.name, stage)
        if r.state == audit.RecordState.DONE
    }
    for commit, before, after in reversed(_rollbacks_asked(asked, stage)):  # the newest first
        record = applied.get((commit, before, after))
        if record is not None:
            return True, (
                f"rolled back in {stage}: v{before} → v{after} at {record.promoted_at} "
                f"by commit {commit[:12]} (release.yaml on the base branch; audit run {record.run_id})"
            )
    return False, (
        f"no rollback of {ctx.name} in {stage} is on record: rehearse one (`mlgate rollback {ctx.name} --stage "
        f"{stage}`, merge its PR) before this stage"
    )


def _reviews_scheduled(
    ctx: ModelContext, _registry: Registry, readiness: Readiness, spec_file: str, _asked: Asked = ()
) -> tuple[bool, str]:
    days = ctx.spec.monitoring.reviews or []
    missing = [d for d in readiness.reviews if d not in days]
    wanted = ", ".join(map(str, readiness.reviews))
    if missing:
        return False, (
            f"{spec_file}: monitoring -> reviews: no review at day {', '.join(map(str, missing))} after deployment "
            f"(the policy asks for days {wanted})"
        )
    return True, f"post-deployment reviews at days {', '.join(map(str, days))}"


_CHECKS: dict[str, ReadinessCheck] = {
    "decision": _decision,
    "audit_store": _audit_store,
    "monitoring_owner": _monitoring_owner,
    "retraining_trigger": _retraining_trigger,
    "rollback_rehearsed": _rollback_rehearsed,
    "reviews_scheduled": _reviews_scheduled,
}

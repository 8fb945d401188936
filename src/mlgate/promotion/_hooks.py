"""Deploy hooks: what ``promote --apply`` tells other systems once the registry has moved.

Per change the apply outputs model, stage, version, previous version and model URI (JSON and
``$GITHUB_OUTPUT``). A policy (``promotion.notify``) or ``--dispatch``/``--gto-tags`` also:

- sends a ``repository_dispatch`` event ``mlgate-promoted`` whose ``client_payload`` is the change
  (at most 10 top-level keys: GitHub's limit), so a ``deploy.yml`` can act on it;
- creates a git tag per assignment in GTO's naming, so GTO-based tooling can read mlgate's state:
  ``<model>#<stage>#<n>`` for an assignment, ``<model>#<stage>!#<n>`` for an emptied stage, at the
  merge commit. A canary or shadow is a stage of its own for GTO, named by its alias:
  ``<model>#production-canary#<n>`` when it starts or moves, ``<model>#production-canary!#<n>`` when
  it is removed (``mlgate gto`` resolves its version from release.yaml's ``canary:``/``shadow:``).
  ``n`` follows GTO (``gto/tag.py`` ``name_tag``): one more than the largest counter of any tag of
  that model, across stages. GTO names are ``[a-z][a-z0-9-/]*[a-z0-9]``: a model or
  stage name outside that (``_``, one character) gets no tag and the hook says so.

The changes are this commit's **finished audit records** (``mlgate.registry.audit``), not this
run's moves: a re-run of ``promote --apply`` after a hook failed finds the registry in sync and
still reports and notifies the same changes. Every hook is re-runnable: a tag that exists at the
merge commit is success (one at another commit is an error, a tag is never moved), and a dispatch
that GitHub accepted is marked on the audit record (``mlgate.audit.dispatched``) and not sent again.
A dispatch whose answer was lost is retried (at-least-once): GitHub keeps nothing to look it up by,
so the payload carries the record's ``key`` for receivers to deduplicate.

A hook that fails never undoes the promotion: :class:`HookFailed` (exit 3) says the registry moved
and which hook failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.config import split_alias
from mlgate.exceptions import ExternalServiceError, MlgateError
from mlgate.github import Action, GitHub, TagResult
from mlgate.registry import Registry, audit

if TYPE_CHECKING:
    from mlgate.github import GitHub

EVENT_TYPE = "mlgate-promoted"
DISPATCHED_TAG = audit.PREFIX + "dispatched"
_GTO_NAME = re.compile(r"^[a-z][a-z0-9-/]*[a-z0-9]$")  # gto/constants.py `name`
_GTO_COUNTER = re.compile(r"#(\d+)$")


class HookFailed(ExternalServiceError):
    """The promotion took effect, and a deploy hook (dispatch, tag) failed after it."""

    hint = "the registry is already promoted; fix the cause and re-run `mlgate promote --apply`: only the hooks run"


@dataclass
class Hooks:
    """Which hooks to run: the policy's ``promotion.notify`` or the CLI's flags."""

    dispatch: bool = False
    gto_tags: bool = False

    def __bool__(self) -> bool:
        """Whether any hook runs."""
        return self.dispatch or self.gto_tags


@dataclass
class HookReport:
    """What the hooks did: tags created or found, dispatches sent or already sent, what failed."""

    tags: list[TagResult] = field(default_factory=list)
    dispatched: list[str] = field(default_factory=list)  # audit keys sent now
    already_dispatched: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as ``promote --json`` lists it under ``hooks``."""
        return {
            "tags": [t.as_dict() for t in self.tags],
            "dispatched": self.dispatched,
            "already_dispatched": self.already_dispatched,
            "errors": self.errors,
        }


def model_uri(name: str, version: int | None) -> str | None:
    """``models:/<name>/<version>``: the URI MLflow loads that exact version by (None: stage emptied)."""
    return None if version is None else f"models:/{name}/{version}"


def change_output(record: audit.Record) -> dict[str, Any]:
    """One change as the apply outputs it, and as the dispatch's ``client_payload`` (10 keys: GitHub's limit).

    ``stage`` is the alias that moved (``production``, ``production-canary``), ``arm`` its kind
    (``stable``, ``canary``, ``shadow``): a deploy job routes a candidate's change to its arm.
    """
    return {
        "model": record.model,
        "stage": record.stage,
        "arm": str(split_alias(record.stage)[1]),
        "version": record.version,
        "previous": record.previous,
        "model_uri": model_uri(record.model, record.version),
        "action": record.action,
        "commit": record.commit,
        "pr": record.pr,
        "key": record.key,
    }


def applied_by(registry: Registry, commit: str) -> list[audit.Record]:
    """The finished audit records of ``commit``: the changes it made, whichever run made them."""
    return [r for r in audit.of_commit(registry, commit) if r.state == audit.RecordState.DONE]


def gto_tag(record: audit.Record, counter: int) -> str:
    """GTO's tag for the record: ``<model>#<stage>#<n>``, or ``<model>#<stage>!#<n>`` for an emptied stage."""
    cancel = "!" if record.version is None else ""
    return f"{record.model}#{record.stage}{cancel}#{counter}"


def run(
    records: list[audit.Record], hooks: dict[str, Hooks], registry: Registry, github: Callable[[], GitHub]
) -> HookReport:
    """Run each model's hooks for its records; collect failures rather than stop at the first.

    ``github`` opens the workspace's client, called only when a hook runs (no token needed otherwise).
    """
    report = HookReport()
    wanted = [r for r in records if hooks.get(r.model)]
    if not wanted:
        return report
    try:
        client = github()
    except MlgateError as err:
        report.errors.append(f"GitHub: {err.message}")
        return report
    for record in wanted:
        chosen = hooks[record.model]
        if chosen.gto_tags:
            _tag(client, record, report)
        if chosen.dispatch:
            _dispatch(client, registry, record, report)
    return report


def _tag(github: GitHub, record: audit.Record, report: HookReport) -> None:
    bad = [n for n in (record.model, record.stage) if not _GTO_NAME.match(n)]
    if bad:
        report.errors.append(
            f"GTO tag for {record.model} {record.stage}: {', '.join(repr(b) for b in bad)} is not a GTO name "
            "([a-z][a-z0-9-/]*[a-z0-9]); no tag written"
        )
        return
    prefix = f"refs/tags/{record.model}#"
    try:
        existing = [r for r in github.matching_refs(f"tags/{record.model}#") if r.ref.startswith(prefix)]
        head = f"{prefix}{record.stage}{'!' if record.version is None else ''}#"
        for ref in existing:  # this assignment's tag from an earlier run: nothing to create
            if ref.ref.startswith(head) and ref.sha == record.commit:
                report.tags.append(TagResult(ref.ref.removeprefix("refs/tags/"), record.commit, Action.EXISTS))
                return
        counters = [int(m.group(1)) for r in existing if (m := _GTO_COUNTER.search(r.ref))]
        tag = gto_tag(record, max(counters, default=0) + 1)
        report.tags.append(github.create_tag_ref(tag, record.commit))
    except MlgateError as err:
        report.errors.append(f"GTO tag for {record.model} {record.stage}: {err.message}")


def _dispatch(github: GitHub, registry: Registry, record: audit.Record, report: HookReport) -> None:
    if record.dispatched:
        report.already_dispatched.append(record.key)
        return
    try:
        github.dispatch(EVENT_TYPE, change_output(record))
        registry.set_run_tags(record.run_id, {DISPATCHED_TAG: "true"})
    except MlgateError as err:
        report.errors.append(f"dispatch {EVENT_TYPE} for {record.model} {record.stage}: {err.message}")
        return
    report.dispatched.append(record.key)

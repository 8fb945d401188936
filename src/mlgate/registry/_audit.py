"""The promotion audit log, kept where the registry lives: one MLflow run per stage change.

MLflow has no audit trail for alias or stage moves (mlflow/mlflow#2169, open since 2019), so
mlgate writes its own into the same tracking server: experiment ``mlgate-audit``, one run per
change, every field a ``mlgate.audit.*`` tag, so it is queryable with MLflow's own search
(``tags.`mlgate.audit.model` = 'credit'``), backed up with the registry, and readable in the
MLflow UI.

Each record is written *before* the registry changes (the run is left RUNNING: "started") and
finished after (FINISHED: "done"). An outage in between leaves a started record, never an
alias that moved without one; the next apply finds it by its key and completes it. Records are
only ever added and finished — mlgate never edits or deletes one; the one tag added later is
``mlgate.audit.dispatched`` (the deploy hook's ``repository_dispatch`` for the change was accepted,
so a re-run does not send it again).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from mlgate.registry._mlflow import Registry, Run

EXPERIMENT = "mlgate-audit"
PREFIX = "mlgate.audit."


class RecordState(StrEnum):
    """Where a promotion's audit record stands: begun, finished, or a twin of a finished one (killed)."""

    STARTED = "started"
    DONE = "done"
    DUPLICATE = "duplicate"


@dataclass
class Record:
    """One promotion, rollback or demotion as the audit log records it (an MLflow run)."""

    model: str
    stage: str
    version: int | None  # None: the stage was emptied
    previous: int | None
    action: str  # promote | demote | rollback
    commit: str
    pr: int | None
    approvers: list[str]
    promoted_by: str
    promoted_at: str
    state: RecordState = RecordState.STARTED
    run_id: str = ""
    # the verdict this promotion ran itself (artifact verdict.json on the record's run)
    verdict_status: str = ""
    verdict_sha256: str = ""
    digest: str = ""  # the artifact digest of the files the promotion gated (= what release.yaml pins)
    dispatched: bool = False  # set by the deploy hook after GitHub accepted the dispatch

    @property
    def key(self) -> str:
        """Same change from the same commit = same record (what makes apply idempotent)."""
        raw = f"{self.model}|{self.stage}|{self.version}|{self.commit}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def tags(self) -> dict[str, str]:
        """The record as the run tags it is stored and searched by."""
        fields = asdict(self)
        fields.pop("run_id")
        fields.pop("state")
        fields.pop("dispatched")  # written only by the hook that dispatched
        out = {
            PREFIX + k: ("" if v is None else ",".join(v) if isinstance(v, list) else str(v)) for k, v in fields.items()
        }
        return out | {PREFIX + "key": self.key}

    def as_dict(self) -> dict[str, Any]:
        """The record as ``mlgate history --json`` prints it."""
        return asdict(self)


def _int(text: str) -> int | None:
    return int(text) if text else None


def _from_run(run: Run) -> Record:
    tags = run.tags

    def get(key: str) -> str:
        return tags.get(PREFIX + key, "")

    return Record(
        model=get("model"),
        stage=get("stage"),
        version=_int(get("version")),
        previous=_int(get("previous")),
        action=get("action"),
        commit=get("commit"),
        pr=_int(get("pr")),
        approvers=[a for a in get("approvers").split(",") if a],
        promoted_by=get("promoted_by"),
        promoted_at=get("promoted_at"),
        state=RecordState.DONE if run.status == "FINISHED" else RecordState.STARTED,
        run_id=run.run_id,
        verdict_status=get("verdict_status"),
        verdict_sha256=get("verdict_sha256"),
        digest=get("digest"),
        dispatched=get("dispatched") == "true",
    )


def _quote(value: str) -> str:
    return value.replace("'", "")


VERDICT_ARTIFACT = "verdict.json"


def begin(registry: Registry, record: Record, verdict: str = "") -> Record:
    """Write the record as started (or find the started one from an interrupted apply).

    Two applies racing may both write one: the earliest record wins, and the other run marks
    its own record ``duplicate`` (MLflow status KILLED) and leaves the change to the winner.
    """
    found = find(registry, record.key)
    if found is not None:
        return found
    name = f"{record.action} {record.model} {record.stage} -> v{record.version}"
    if verdict:
        record.verdict_sha256 = hashlib.sha256(verdict.encode()).hexdigest()
    record.run_id = registry.create_run(EXPERIMENT, name, record.tags())
    if verdict:
        # before the alias moves: a record never lacks the verdict that justified it
        registry.attach_json(record.run_id, verdict, VERDICT_ARTIFACT)
    rivals = _runs(registry, record.key)
    if rivals and rivals[0].run_id != record.run_id:
        registry.finish_run(record.run_id, {PREFIX + "state": str(RecordState.DUPLICATE)}, status="KILLED")
        record.state = RecordState.DUPLICATE
    return record


def finish(registry: Registry, record: Record) -> None:
    """Mark the record's run done: the promotion it records has taken effect."""
    if record.state != RecordState.DONE:
        registry.finish_run(record.run_id, {PREFIX + "state": str(RecordState.DONE)})
        record.state = RecordState.DONE


def _runs(registry: Registry, key: str) -> list[Run]:
    """The live records with ``key``, earliest first (duplicates from a lost race left out)."""
    runs = registry.search_runs(EXPERIMENT, f"tags.`{PREFIX}key` = '{_quote(key)}'")
    live = [run for run in runs if run.status != "KILLED"]
    return sorted(live, key=lambda run: (run.start_time, run.run_id))


def find(registry: Registry, key: str) -> Record | None:
    """The live record with ``key`` (the first one, if a race left two), or None."""
    runs = _runs(registry, key)
    return _from_run(runs[0]) if runs else None


def _oldest_first(runs: list[Run]) -> list[Record]:
    """The live records of ``runs``, oldest first.

    ``promoted_at`` has whole seconds: two promotions applied in the same second (staging, then
    production, by one merge) are ordered by when their runs began (milliseconds), never by name.
    """
    live = [run for run in runs if run.status != "KILLED"]
    ordered = sorted(live, key=lambda run: (run.tags.get(PREFIX + "promoted_at", ""), run.start_time))
    return [_from_run(run) for run in ordered]


def history(registry: Registry, model: str, stage: str | None = None) -> list[Record]:
    """Every record for ``model`` (and ``stage``), oldest first."""
    query = f"tags.`{PREFIX}model` = '{_quote(model)}'"
    if stage:
        query += f" and tags.`{PREFIX}stage` = '{_quote(stage)}'"
    return _oldest_first(registry.search_runs(EXPERIMENT, query))


def every(registry: Registry) -> list[Record]:
    """Every live record of every model, oldest first: one search (``mlgate site`` groups them by model)."""
    return _oldest_first(registry.search_runs(EXPERIMENT, ""))


def of_commit(registry: Registry, commit: str) -> list[Record]:
    """Every live record written for changes ``commit`` made, oldest first."""
    query = f"tags.`{PREFIX}commit` = '{_quote(commit)}'"
    return _oldest_first(registry.search_runs(EXPERIMENT, query))

"""The audit's group commit: concurrent requests' records in one transaction, all or nothing, on a real SQLite file.

Another connection holds SQLite's write lock while 24 requests hand their records over, so the
batching is forced, not hoped for: the first transaction waits on the lock, the others queue and
go together once it is released. Held past the store's timeout, every waiting request is told its
write failed (the service answers each 503) and none of their rows is in the file.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mlgate.serving import AuditStore, GroupCommit, Record


class Counting(AuditStore):
    """A real store that remembers how many records each transaction held."""

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(url, timeout=timeout)
        self.batches: list[int] = []

    def write_many(self, records: list[Record]) -> None:
        self.batches.append(len(records))
        super().write_many(records)


def record(rows: int) -> Record:
    pairs = [({"age": i}, {"decision": 1}) for i in range(rows)]
    return Record(uuid.uuid4().hex, datetime.now(UTC), "alice", "credit", 1, "staging", "r", 1.0, pairs)


def stored(db: Path) -> list[tuple[str, int]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT request_id, row FROM mlgate_predictions").fetchall()
    finally:
        conn.close()


def hold_lock(db: Path, seconds: float, held: threading.Event) -> None:
    conn = sqlite3.connect(db, timeout=10)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(seconds)
        conn.rollback()
    finally:
        conn.close()


def run(tmp_path: Path, hold: float, timeout: float) -> tuple[Counting, list[Record], list[Any]]:
    db = tmp_path / "audit.db"
    store = Counting(f"sqlite:///{db}", timeout)
    store.create()
    writer = GroupCommit(store)
    writer.start()
    records = [record(1 + i % 3) for i in range(24)]
    held = threading.Event()
    locker = threading.Thread(target=hold_lock, args=(db, hold, held))
    locker.start()
    held.wait(10)

    def write(item: Record) -> Any:
        try:
            writer.write(item)
        except Exception as err:  # noqa: BLE001 — the outcome is what is compared
            return err
        return "ok"

    try:
        with ThreadPoolExecutor(max_workers=24) as pool:
            outcomes = list(pool.map(write, records))
    finally:
        locker.join()
        writer.stop()
        store.close()
    return store, records, outcomes


def test_requests_waiting_on_the_lock_are_committed_together_each_exactly_once(tmp_path: Path) -> None:
    store, records, outcomes = run(tmp_path, hold=1.0, timeout=10)
    assert outcomes == ["ok"] * 24
    assert sum(store.batches) == 24
    assert len(store.batches) <= 3  # the first waited on the lock; the rest queued behind it and went together
    assert max(store.batches) >= 12
    expected = sorted((r.request_id, i) for r in records for i in range(len(r.rows)))
    assert sorted(stored(tmp_path / "audit.db")) == expected


def test_a_batch_that_cannot_commit_fails_every_request_in_it_and_records_none(tmp_path: Path) -> None:
    from mlgate.serving import audit

    AuditUnavailable = audit.AuditUnavailable

    store, _records, outcomes = run(tmp_path, hold=3.0, timeout=0.5)
    assert all(isinstance(o, AuditUnavailable) for o in outcomes), outcomes
    assert all("locked" in str(o) for o in outcomes)
    assert stored(tmp_path / "audit.db") == []
    assert sum(store.batches) == 24


def test_a_stopped_writer_refuses_instead_of_hanging(tmp_path: Path) -> None:
    from mlgate.serving import audit

    AuditUnavailable = audit.AuditUnavailable

    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.create()
    writer = GroupCommit(store)
    writer.start()
    writer.write(record(2))
    writer.stop()
    with pytest.raises(AuditUnavailable, match="not running"):
        writer.write(record(1))
    store.close()
    assert len(stored(tmp_path / "audit.db")) == 2

"""The audit store's typed inputs: what serve writes, how an older store is migrated, what a window costs.

Real SQLite files, a real PostgreSQL cluster (the ``postgres`` fixture) and a real MariaDB server
(the ``mariadb`` fixture); no MLflow: the monitor's
store side (:class:`mlgate.monitoring.PushedAudit`) is driven directly with a made-up signature.
"""

from __future__ import annotations

import multiprocessing
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from mlgate.exceptions import InvalidInput
from mlgate.monitoring import PushedAudit, Served, Window
from mlgate.serving import AuditStore, Record, inputs_of
from mlgate_devkit.mariadb import Server
from mlgate_devkit.postgres import Cluster

SIGNATURE = [("amount", "double"), ("count", "long"), ("city", "string"), ("flag", "boolean")]
START = datetime(2025, 5, 1, tzinfo=UTC)
WINDOW = Window(START, START + timedelta(days=1), "window 2025-05-01..2025-05-01")
SERVED = Served("production", 3, SIGNATURE, "classification", 1)


def rows(n: int, seed: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``n`` (features, outputs) pairs as serve records them; a few gaps."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        p = float(rng.random())
        features = {
            "amount": None if i % 50 == 7 else round(float(rng.lognormal(8, 1)), 2),
            "count": int(rng.integers(0, 9)),
            "city": None if i % 40 == 3 else ["paris", "lyon", "nice"][int(rng.integers(0, 3))],
            "flag": bool(rng.random() < 0.3),
        }
        outputs = {"decision": int(p >= 0.5), "needs_review": False, "probabilities": {"0": 1 - p, "1": p}}
        out.append((features, outputs))
    return out


def write(url: str, n: int, *, typed: bool, seed: int = 0, per_request: int = 500) -> None:
    """``n`` rows of model ``m`` v3 at alias production on 2025-05-01: typed (today's serve) or JSON only (older)."""
    store = AuditStore(url)
    inputs = inputs_of(SIGNATURE, "classification", 1) if typed else None
    pairs = rows(n, seed)
    try:
        store.create()
        for k, first in enumerate(range(0, n, per_request)):
            at = START + timedelta(seconds=k + 1)
            part = pairs[first : first + per_request]
            store.write(Record(uuid.uuid4().hex, at, "alice", "m", 3, "production", "r" * 32, 1.0, part, inputs))
    finally:
        store.close()


def connect(url: str) -> sa.Engine:
    """An engine on the store as the service's (its driver, MYSQL_PWD for MariaDB)."""
    return AuditStore(url).engine


def count(url: str, sql: str) -> int:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def typed_table(url: str) -> str:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT table_name FROM mlgate_input_tables WHERE model = 'm'")).scalar())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty audit store: a SQLite file, or a fresh database in the PostgreSQL cluster or MariaDB server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    if request.param == "mysql":
        server: Server = request.getfixturevalue("mariadb")
        yield server.new_database()
        return
    name = "audit_" + uuid.uuid4().hex[:12]
    cluster: Cluster = request.getfixturevalue("postgres")
    admin = sa.create_engine(
        cluster.url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield cluster.url.rsplit("/", 1)[0] + "/" + name


def test_serve_writes_the_typed_row_beside_the_json_row(url: str) -> None:
    write(url, 120, typed=True)
    table = typed_table(url)
    assert count(url, "SELECT count(*) FROM mlgate_predictions") == 120
    assert count(url, f"SELECT count(*) FROM {table}") == 120
    # the typed columns hold the values sent, the score is the positive class's probability
    assert count(url, f"SELECT count(*) FROM {table} WHERE f0 IS NULL") == 3  # amount missing in rows 7, 57, 107
    assert count(url, f"SELECT count(*) FROM {table} WHERE f2 IS NULL") == 3  # city missing in rows 3, 43, 83
    assert count(url, f"SELECT count(*) FROM {table} WHERE score IS NULL OR score < 0 OR score > 1") == 0
    assert count(url, "SELECT count(*) FROM mlgate_audit_meta WHERE value = '2'") == 1


def test_an_older_store_is_migrated_once_even_by_two_processes_at_once(url: str) -> None:
    write(url, 3000, typed=False)  # written by a serve without typed inputs (schema 1: no meta, no typed table)
    assert count(url, "SELECT count(*) FROM mlgate_predictions") == 3000
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        copied = pool.map(_open_window, [url, url])
    table = typed_table(url)
    assert count(url, f"SELECT count(*) FROM {table}") == 3000  # each row once, whoever copied it
    assert sum(copied) >= 3000  # both may have copied a row; the key kept one
    assert _open_window(url) == 0  # idempotent: nothing left to copy
    # rows written JSON-only after the migration (an old serve still running) are copied on the next read
    write(url, 200, typed=False, seed=1)
    assert _open_window(url) == 200
    assert count(url, f"SELECT count(*) FROM {table}") == 3200


def _open_window(url: str) -> int:
    pushed = PushedAudit(url, "m", SERVED, WINDOW)
    try:
        return pushed.migrated
    finally:
        pushed.close()


def test_migrated_rows_aggregate_like_typed_ones(url: str, tmp_path: Path) -> None:
    write(url, 1000, typed=False, seed=4)
    old = PushedAudit(url, "m", SERVED, WINDOW)
    other = f"sqlite:///{tmp_path / 'typed.db'}"
    write(other, 1000, typed=True, seed=4)
    new = PushedAudit(other, "m", SERVED, WINDOW)
    try:
        assert old.migrated == 1000
        assert new.migrated == 0
        assert (
            (old.rows, old.unfit, old.nonnull)
            == (new.rows, new.unfit, new.nonnull)
            == (1000, 0, [980, 1000, 975, 1000])
        )
        thresholds = [100.0, 1000.0, 2980.96, 5000.0]
        assert old.window.cells(0, thresholds) == new.window.cells(0, thresholds)
        assert sorted(old.window.value_counts(2)) == sorted(new.window.value_counts(2))
        assert old.window.score_sums(0.5) == pytest.approx(new.window.score_sums(0.5), rel=1e-12)
        assert old.window.duplicates([1, 3]) == new.window.duplicates([1, 3])
    finally:
        old.close()
        new.close()


def test_a_store_of_a_newer_schema_is_refused_with_exit_2(url: str) -> None:
    write(url, 10, typed=True)
    engine = connect(url)
    with engine.begin() as conn:  # its one row ("key" is a reserved word of MySQL's)
        conn.execute(sa.text("UPDATE mlgate_audit_meta SET value = '3'"))
    engine.dispose()
    with pytest.raises(InvalidInput, match="schema version 3; this mlgate reads up to 2") as caught:
        PushedAudit(url, "m", SERVED, WINDOW)
    assert caught.value.exit_code == 2


def test_cells_count_below_on_and_between_thresholds_exactly(url: str) -> None:
    write(url, 1000, typed=True, seed=2)
    pushed = PushedAudit(url, "m", SERVED, WINDOW)
    try:
        counts = [pair[0]["count"] for pair in rows(1000, 2)]
        thresholds = [0.0, 2.0, 2.5, 8.0]
        got = pushed.window.cells(1, thresholds)
        values = np.asarray(counts, dtype=float)
        want = [int((values < 0).sum())]
        for j, t in enumerate(thresholds):
            want.append(int((values == t).sum()))
            upper = thresholds[j + 1] if j + 1 < len(thresholds) else np.inf
            want.append(int(((values > t) & (values < upper)).sum()))
        assert got == want
        assert sum(got) == 1000
    finally:
        pushed.close()


def test_aggregating_a_window_ten_times_larger_takes_no_more_memory(tmp_path: Path) -> None:
    peaks = []
    for n in (20_000, 200_000):
        url = f"sqlite:///{tmp_path / f'audit-{n}.db'}"
        write(url, n, typed=True, seed=n, per_request=1000)
        pushed = PushedAudit(url, "m", SERVED, WINDOW)
        try:
            tracemalloc.start()
            pushed.window.profile(4)
            pushed.window.cells(0, sorted({float(v) for v in np.random.default_rng(0).lognormal(8, 1, 5000)}))
            pushed.window.value_counts(2)
            pushed.window.score_sums(0.5)
            pushed.window.expected_roc_parts()
            pushed.window.duplicates([1, 2, 3])
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        finally:
            pushed.close()
    assert peaks[1] < 1.5 * peaks[0] + 256 * 1024, peaks  # flat: what leaves the store is bounded by the thresholds


def test_one_scan_counts_every_column_as_it_would_alone(url: str) -> None:
    """Cells of two numeric columns and the score, values of a text and a boolean column: one query, the rows' truth."""
    write(url, 1000, typed=True, seed=4)
    pushed = PushedAudit(url, "m", SERVED, WINDOW)
    pairs = rows(1000, 4)
    try:
        amounts = np.asarray([f["amount"] for f, _ in pairs if f["amount"] is not None], dtype=float)
        counts = np.asarray([f["count"] for f, _ in pairs], dtype=float)
        scores = np.asarray([o["probabilities"]["1"] for _, o in pairs], dtype=float)
        wanted = {
            0: sorted({float(v) for v in amounts[::7]}),
            1: [0.0, 2.0, 2.5, 8.0],
            "score": sorted({float(v) for v in scores[::50]}),
        }
        cells, values = pushed.window.counts(wanted, [2, 3])
        for which, data in ((0, amounts), (1, counts), ("score", scores)):
            thresholds = wanted[which]
            want = [int((data < thresholds[0]).sum())]
            for j, t in enumerate(thresholds):
                upper = thresholds[j + 1] if j + 1 < len(thresholds) else np.inf
                want += [int((data == t).sum()), int(((data > t) & (data < upper)).sum())]
            assert cells[which] == want, which
        cities: dict[Any, int] = {}
        flags: dict[Any, int] = {}
        for f, _ in pairs:
            if f["city"] is not None:
                cities[f["city"]] = cities.get(f["city"], 0) + 1
            flags[f["flag"]] = flags.get(f["flag"], 0) + 1
        assert dict(values[2]) == cities
        assert dict(values[3]) == flags
        assert {type(v) for v, _ in values[3]} == {bool}  # typed as the column holds them (SQLite stores 0/1)
        assert pushed.window.cells(1, wanted[1]) == cells[1]
        assert sorted(pushed.window.value_counts(2)) == sorted(values[2])
    finally:
        pushed.close()


def write_rows(url: str, features: list[dict[str, Any]]) -> None:
    """One request of ``features`` rows (the same outputs each) written to the store at ``url``, model m v3."""
    outputs = {"decision": 1, "needs_review": False, "probabilities": {"0": 0.4, "1": 0.6}}
    store = AuditStore(url)
    try:
        store.create()
        inputs = inputs_of(SIGNATURE, "classification", 1)
        pairs = [(row, outputs) for row in features]
        store.write(Record(uuid.uuid4().hex, START, "alice", "m", 3, "production", "r" * 32, 1.0, pairs, inputs))
    finally:
        store.close()


def test_constant_columns_are_told_apart_by_min_and_max(url: str) -> None:
    """A constant number, an all-null column, two texts, a constant boolean: distinct counts 1, 0, 2, 1."""
    write_rows(url, [{"amount": 5.0, "count": None, "city": ["b", "a"][i % 2], "flag": True} for i in range(30)])
    pushed = PushedAudit(url, "m", SERVED, WINDOW)
    try:
        assert pushed.window.distinct(4) == [(1, 5.0), (0, None), (2, "a"), (1, True)]
    finally:
        pushed.close()


def test_non_whole_values_of_integer_columns_are_counted_in_one_scan(url: str) -> None:
    """``count`` (long) holding 2.5 and 4.25 among whole numbers and gaps; ``amount`` (double) read as an integer."""
    counts = [1, 2.5, 3, None, 4.25, -7, 4.25]
    write_rows(url, [{"amount": 1.5, "count": c, "city": "a", "flag": False} for c in counts])
    pushed = PushedAudit(url, "m", SERVED, WINDOW)
    try:
        assert pushed.window.fractional_all([0, 1]) == {0: (7, 1.5), 1: (3, 2.5)}
        assert pushed.window.fractional(1) == (3, 2.5)
        assert pushed.window.fractional_all([]) == {}
    finally:
        pushed.close()


def test_texts_differing_in_case_or_trailing_spaces_are_counted_apart(url: str) -> None:
    """MySQL compares text case-blind and space-padded by default; the store's tables must not (no-pad binary)."""
    cities = ["a", "A", "a ", "a"]
    write_rows(url, [{"amount": 1.0, "count": 1, "city": c, "flag": False} for c in cities])
    pushed = PushedAudit(url, "m", SERVED, WINDOW)
    try:
        assert sorted(pushed.window.value_counts(2)) == [("A", 1), ("a", 2), ("a ", 1)]
        assert pushed.window.rows_outside({2: ["a"]}) == 2
        assert pushed.window.duplicates([2]) == (1, 1, 2)
    finally:
        pushed.close()

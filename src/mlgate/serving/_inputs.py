"""The audit store's typed inputs: one table per served version, so ``mlgate monitor`` aggregates in SQL.

``mlgate_predictions`` keeps each request as it came (features and outputs as JSON: the audit of
record). Beside it, each (model, version) gets a table ``mlgate_inputs_<hash>`` with one typed
column per signature column (``f0``, ``f1``... in signature order: a feature's name never becomes
an identifier) and the row's score (positive-class probability, or predicted value), keyed
``[request_id, row]`` and indexed on ``(alias, at)``. The catalog ``mlgate_input_tables`` maps a
version to its table and signature; ``mlgate_audit_meta`` holds the schema version (2). A store
written before (schema 1: JSON only) gains these tables on first use, and the monitor copies the
JSON rows it needs into them (:func:`copy_missing`): idempotent (``ON CONFLICT DO NOTHING``), two
processes at once are safe (PostgreSQL: an advisory lock around the DDL; SQLite: one writer).

:class:`TypedWindow` runs the aggregate queries over one version's rows in a window: counts, null
counts, bucket counts against given thresholds, value counts, duplicate counts, the CBPE sums.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import mysql as my
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sq
from sqlalchemy.exc import SQLAlchemyError

from mlgate.exceptions import ExternalServiceError, InvalidInput

SCHEMA_VERSION = 2
"""1: ``mlgate_predictions`` alone (JSON); 2: plus the typed input tables, their catalog and this meta table."""
META = "mlgate_audit_meta"
CATALOG = "mlgate_input_tables"
_NUMBERS = frozenset({"double", "float", "long", "integer"})
_SURROGATE = re.compile("[\ud800-\udfff]")  # text json.loads keeps but no encoder writes
STREAM_GROUPS = 20_000
"""Result rows of :meth:`TypedWindow.counts` read per fetch on PostgreSQL."""
_LOCK_KEY = 0x6D6C6761  # "mlga": the advisory lock that serialises DDL on PostgreSQL

TIME = sa.DateTime(timezone=True).with_variant(my.DATETIME(fsp=6), "mysql", "mariadb")
"""A row's time: MySQL's DATETIME keeps whole seconds unless given its fractional digits (6: microseconds)."""
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
"""MySQL tables: any text, compared byte for byte (the default collation is case-blind: "A" would count as "a").

The collation is refined when a table is created (:func:`byte_exact`): ``utf8mb4_bin`` still pads
(``'a'`` equals ``'a '``), so MariaDB gets ``utf8mb4_nopad_bin`` and MySQL 8 ``utf8mb4_0900_bin``.
"""


def _no_pad(target: sa.Table, connection: sa.Connection, **_kw: Any) -> None:
    dialect = connection.dialect
    if dialect.name != "mysql":
        return
    if getattr(dialect, "is_mariadb", False):
        collate = "utf8mb4_nopad_bin"
    elif (dialect.server_version_info or (0,)) >= (8, 0):
        collate = "utf8mb4_0900_bin"
    else:
        collate = "utf8mb4_bin"  # MySQL 5.7 has no binary collation without padding
    target.dialect_options["mysql"]["collate"] = collate


def byte_exact(table: sa.Table) -> sa.Table:
    """``table``, created on MySQL with a binary collation that does not pad (trailing spaces count)."""
    sa.event.listen(table, "before_create", _no_pad)
    return table


_shared = sa.MetaData()
meta = sa.Table(
    META,
    _shared,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    **MYSQL_TABLE,
)
byte_exact(meta)
catalog = sa.Table(
    CATALOG,
    _shared,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("table_name", sa.String(63), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("task", sa.String(20), nullable=False),
    sa.Column("positive", sa.Text),
    **MYSQL_TABLE,
)
byte_exact(catalog)


@dataclass(frozen=True)
class Inputs:
    """What a version's typed rows hold: its signature, task and positive class (how the score is read)."""

    signature: tuple[tuple[str, str], ...]
    task: str
    positive: str | None  # the positive class as text (binary classifier); None otherwise

    def score(self, outputs: Any) -> float | None:
        """The row's score from its outputs as ``mlgate serve`` writes them (None when it has none)."""
        if not isinstance(outputs, dict):
            return None
        if self.task != "classification":
            value = outputs.get("prediction")
        else:
            probabilities = outputs.get("probabilities")
            value = probabilities.get(self.positive) if isinstance(probabilities, dict) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None


def inputs_of(features: Sequence[tuple[str, str]], task: str, positive: Any) -> Inputs:
    """The :class:`Inputs` of a served plan (its signature, task and positive class)."""
    return Inputs(tuple((str(c), str(t)) for c, t in features), task, None if positive is None else str(positive))


def typed(value: Any, kind: str) -> tuple[Any, bool]:
    """(value as the typed column holds it, whether it fit): numbers as floats, booleans, text; else None."""
    if value is None:
        return None, True
    if kind in _NUMBERS:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an integer beyond float64
                return None, False
            return (number, True) if math.isfinite(number) else (None, False)
        return None, False
    if kind == "boolean":
        return (value, True) if isinstance(value, bool) else (None, False)
    if isinstance(value, str) and not _SURROGATE.search(value):
        return value, True
    return None, False


def table_name(model: str, version: int) -> str:
    """``mlgate_inputs_<16 hex>``: a fixed-length identifier whatever the model's name."""
    return "mlgate_inputs_" + hashlib.sha256(f"{model}\0{version}".encode()).hexdigest()[:16]


def column(i: int) -> str:
    """The typed column of the ``i``-th signature column."""
    return f"f{i}"


def input_table(name: str, signature: Sequence[tuple[str, str]]) -> sa.Table:
    """The typed table's definition (its own MetaData: tables come and go with versions)."""
    columns = [
        sa.Column(column(i), sa.Double if kind in _NUMBERS else sa.Boolean if kind == "boolean" else sa.Text)
        for i, (_name, kind) in enumerate(signature)
    ]
    table = sa.Table(
        name,
        sa.MetaData(),
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("row", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("alias", sa.String(100), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("score", sa.Double),
        sa.Column("unfit", sa.Boolean, nullable=False),
        *columns,
        sa.Index(f"{name}_alias_at", "alias", "at"),
        **MYSQL_TABLE,
    )
    return byte_exact(table)


def rows_of(
    inputs: Inputs,
    request_id: str,
    alias: str,
    at: datetime,
    pairs: Sequence[tuple[dict[str, Any], Any]],
    numbers: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """The typed rows of one request (``pairs``: features and outputs per row; ``numbers``: their rows, or 0, 1...)."""
    out = []
    for i, (features, outputs) in zip(numbers if numbers is not None else range(len(pairs)), pairs, strict=True):
        row: dict[str, Any] = {"request_id": request_id, "row": i, "alias": alias, "at": at}
        unfit = not isinstance(features, dict)
        given = features if isinstance(features, dict) else {}
        for k, (name, kind) in enumerate(inputs.signature):
            value, fits = typed(given.get(name), kind)
            row[column(k)] = value
            unfit = unfit or not fits
        row["score"], row["unfit"] = inputs.score(outputs), unfit
        out.append(row)
    return out


def insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, skipping keys already there (a copy run twice, or by two processes at once)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(pg.insert(table).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        conn.execute(sq.insert(table).on_conflict_do_nothing(), rows)
    else:
        conn.execute(table.insert().prefix_with("IGNORE"), rows)  # MySQL


class SchemaTooNew(Exception):
    """The store was written by a newer mlgate (its schema version is above :data:`SCHEMA_VERSION`)."""


def ensure_schema(engine: sa.Engine, model: str, version: int, inputs: Inputs) -> sa.Table:
    """The version's typed table, created (with the meta and catalog tables) when missing.

    Idempotent and safe when several processes start at once: on PostgreSQL the DDL runs under a
    transaction-scoped advisory lock; elsewhere a create that lost the race is retried once the
    winner's tables exist. A catalog entry whose signature differs (a version re-registered?) keeps
    the first one: a version's signature never changes in MLflow.
    """
    name = table_name(model, version)
    table = input_table(name, inputs.signature)
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
                _shared.create_all(conn, checkfirst=True)
                table.create(conn, checkfirst=True)
                found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
                if found is None:
                    insert_ignoring_duplicates(conn, meta, [{"key": "schema_version", "value": str(SCHEMA_VERSION)}])
                elif int(found) > SCHEMA_VERSION:
                    raise SchemaTooNew(
                        f"the audit store has schema version {found}, this mlgate knows up to {SCHEMA_VERSION}: "
                        "upgrade mlgate"
                    )
                entry = {
                    "model": model,
                    "version": version,
                    "table_name": name,
                    "signature": json.dumps([list(pair) for pair in inputs.signature]),
                    "task": inputs.task,
                    "positive": inputs.positive,
                }
                insert_ignoring_duplicates(conn, catalog, [entry])
            return table
        except SchemaTooNew:
            raise
        except SQLAlchemyError:
            if attempt == 2:
                raise
            time.sleep(0.1 * (attempt + 1))  # another process created the same tables meanwhile
    raise AssertionError("unreachable")


def schema_version(conn: sa.Connection) -> int:
    """1 for a store without the meta table (written before typed inputs), else the version recorded."""
    if not sa.inspect(conn).has_table(META):
        return 1
    found = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(found) if found is not None else 1


# --------------------------------------------------------------------------- migration


def copy_missing(
    engine: sa.Engine,
    predictions: sa.Table,
    table: sa.Table,
    inputs: Inputs,
    where: Any,
    decode: Callable[[list[str], list[str]], list[dict[str, Any]]],
    chunk_rows: int,
) -> int:
    """Copy the JSON audit rows matching ``where`` that have no typed row yet; the number copied.

    An anti-join finds them (rows written by an older ``mlgate serve``, schema 1), streamed
    ``chunk_rows`` at a time; ``decode(features_json, outputs_json)`` types a chunk (the monitor's
    pyarrow decoder), and each chunk is inserted in its own transaction, ignoring keys already
    there: stopping half way, running twice or two processes at once leave each row copied once.
    """
    p, t = predictions.c, table.c
    missing = sa.select(p.request_id, p.row, p.alias, p.at, sa.cast(p.features, sa.Text), sa.cast(p.outputs, sa.Text))
    missing = missing.where(where).where(~sa.exists().where(sa.and_(t.request_id == p.request_id, t.row == p.row)))
    copied = 0
    with engine.connect() as reader:
        result = reader.execution_options(stream_results=True, yield_per=chunk_rows).execute(missing)
        for part in result.partitions(chunk_rows):
            request_ids, rows, aliases, ats, features, outputs = (list(col) for col in zip(*part, strict=True))
            values = decode(features, outputs)
            for i, row in enumerate(values):
                row.update(request_id=request_ids[i], row=int(rows[i]), alias=aliases[i], at=ats[i])
            with engine.begin() as writer:
                insert_ignoring_duplicates(writer, table, values)
            copied += len(values)
    return copied


# --------------------------------------------------------------------------- aggregates


Column = int | str
"""A signature column by position, or ``"score"``."""


class TypedWindow:
    """Aggregate queries over one version's typed rows of an alias in ``[start, end)``.

    Each query runs on its own pooled connection and returns plain Python values; a failure is
    exit 3 (:func:`outage`) naming the store, never the SQL.
    """

    def __init__(self, engine: sa.Engine, table: sa.Table, alias: str, start: datetime, end: datetime) -> None:
        """Queries run on ``engine``; every one is filtered to the window (the ``(alias, at)`` index)."""
        self.engine, self.table = engine, table
        c = table.c
        self.where = sa.and_(c.alias == alias, c.at >= start, c.at < end)
        self.postgres = engine.dialect.name == "postgresql"
        self.mysql = engine.dialect.name in ("mysql", "mariadb")
        self.shown = engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    def _col(self, which: Column) -> sa.ColumnElement[Any]:
        return self.table.c[column(which) if isinstance(which, int) else which]

    def _run(self, work: Callable[[sa.Connection], Any]) -> Any:
        try:
            with self.engine.connect() as conn:
                return work(conn)
        except SQLAlchemyError as err:
            raise outage("aggregating the audit store", self.shown, err) from err

    def profile(self, columns: int) -> tuple[int, int, list[int]]:
        """(rows, rows with an unfit value, non-null count per column) in one scan."""
        c = self.table.c
        query = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((c.unfit, 1), else_=0)), 0),
            *(sa.func.count(self._col(i)) for i in range(columns)),
        ).where(self.where)
        found = self._run(lambda conn: conn.execute(query).one())
        return int(found[0]), int(found[1]), [int(n) for n in found[2:]]

    def counts(
        self, cells: dict[Column, list[float]], values: Sequence[Column]
    ) -> tuple[dict[Column, list[int]], dict[Column, list[tuple[Any, int]]]]:
        """Every column's cell counts (:meth:`cells`) and value counts (:meth:`value_counts`) in one scan.

        ``cells`` maps a column to its thresholds (sorted, distinct), ``values`` lists the columns
        counted per value. PostgreSQL groups by ``GROUPING SETS``, one set per column (its bucket
        or its value), hashed in one pass over the window; SQLite runs one aggregate per column
        (registered on the connection) in a single ``SELECT``; MySQL (no grouping sets) groups each
        column by itself, one query per column, its bucket found by ``INTERVAL`` (the binary
        search ``width_bucket`` does). Only the counts leave the store.
        """
        if not cells and not values:
            return {}, {}
        if self.postgres:
            return self._counts_postgres(cells, values)
        if self.mysql:
            return self._counts_mysql(cells, values)
        return self._counts_sqlite(cells, values)

    def _counts_mysql(
        self, cells: dict[Column, list[float]], values: Sequence[Column]
    ) -> tuple[dict[Column, list[int]], dict[Column, list[tuple[Any, int]]]]:
        # INTERVAL(x, b1, b2, ...) = how many of the sorted bounds are <= x: width_bucket's bucket
        bounds = {which: _bounds(thresholds) for which, thresholds in cells.items()}
        found: dict[Column, list[tuple[Any, int]]] = {which: [] for which in values}
        per_bucket = {which: np.zeros(b.size + 1, dtype=np.int64) for which, b in bounds.items()}

        def read(conn: sa.Connection) -> None:
            for which, b in bounds.items():
                value = self._col(which)
                listed: sa.ColumnElement[Any] = sa.literal_column(", ".join(repr(float(v)) for v in b))
                bucket = (sa.func.interval(value, listed) if b.size else sa.literal(0)).label("b")
                query = sa.select(bucket, sa.func.count()).where(self.where, value.is_not(None)).group_by(bucket)
                for key, n in conn.execute(query):
                    per_bucket[which][int(key)] += int(n)
            for which in values:
                value = self._col(which)
                query = sa.select(value, sa.func.count()).where(self.where, value.is_not(None)).group_by(value)
                found[which] = [(key, int(n)) for key, n in conn.execute(query)]

        self._run(read)
        return {which: _cells_from_buckets(cells[which], bounds[which], per_bucket[which]) for which in cells}, found

    def _counts_postgres(
        self, cells: dict[Column, list[float]], values: Sequence[Column]
    ) -> tuple[dict[Column, list[int]], dict[Column, list[tuple[Any, int]]]]:
        # width_bucket(x, bounds) = how many bounds are <= x, so the buckets count "x < bound". The
        # bounds are each threshold and the float just above it ("x <= t" is "x < the float above
        # t"): nothing per row but the binary search. The array is inlined as a constant (a bound
        # array parameter is re-read per row: 5x slower at 150,000 thresholds), and the buckets are
        # computed once per row in a subquery before grouping.
        bounds: dict[Column, np.ndarray] = {}
        columns: list[sa.ColumnElement[Any]] = []
        for n, (which, thresholds) in enumerate(cells.items()):
            bounds[which] = _bounds(thresholds)
            text = "'{" + ",".join(repr(float(v)) for v in bounds[which]) + "}'::float8[]"
            columns.append(sa.func.width_bucket(self._col(which), sa.literal_column(text)).label(f"b{n}"))
        columns += [self._col(which).label(f"v{n}") for n, which in enumerate(values)]
        inner = sa.select(*columns).where(self.where).subquery()
        keys = list(inner.c)
        # a row of set k has grouping(key k) = 0 (the others 1); a NULL key there is the column's NULLs: skipped
        query = sa.select(*keys, *(sa.func.grouping(key) for key in keys), sa.func.count()).group_by(
            sa.func.grouping_sets(*keys)
        )
        width = len(keys)
        per_bucket = {which: np.zeros(b.size + 1, dtype=np.int64) for which, b in bounds.items()}
        found: dict[Column, list[tuple[Any, int]]] = {which: [] for which in values}
        order = [*cells, *values]

        def read(conn: sa.Connection) -> None:
            # streamed (a server-side cursor): the refined pass returns up to ~2 rows per threshold of
            # every column at once, which held as one list costs ~100 MB at 1M window rows
            result = conn.execution_options(stream_results=True, yield_per=STREAM_GROUPS).execute(query)
            for part in result.partitions(STREAM_GROUPS):
                for row in part:
                    k = next(i for i in range(width) if row[width + i] == 0)
                    key, n = row[k], int(row[-1])
                    if key is None:
                        continue
                    if k < len(cells):
                        per_bucket[order[k]][int(key)] += n
                    else:
                        found[order[k]].append((key, n))

        self._run(read)
        return {which: _cells_from_buckets(cells[which], bounds[which], per_bucket[which]) for which in cells}, found

    def _counts_sqlite(
        self, cells: dict[Column, list[float]], values: Sequence[Column]
    ) -> tuple[dict[Column, list[int]], dict[Column, list[tuple[Any, int]]]]:
        # one Python aggregate per column, each fed its column's value per row: one scan for them all
        results: dict[str, Any] = {}

        def cell_counter(name: str, thresholds: list[float]) -> type:
            class Cells:
                def __init__(self) -> None:
                    self.counts = [0] * (2 * len(thresholds) + 1)

                def step(self, x: float | None) -> None:
                    if x is not None:
                        b = bisect.bisect_right(thresholds, x)
                        self.counts[2 * b - 1 if b and thresholds[b - 1] == x else 2 * b] += 1

                def finalize(self) -> int:
                    results[name] = self.counts
                    return 0

            return Cells

        def value_counter(name: str) -> type:
            class Values:
                def __init__(self) -> None:
                    self.counts: dict[Any, int] = {}

                def step(self, x: Any) -> None:
                    if x is not None:
                        self.counts[x] = self.counts.get(x, 0) + 1

                def finalize(self) -> int:
                    results[name] = self.counts
                    return 0

            return Values

        aggregates = {f"mlgate_cells_{n}": cell_counter(f"mlgate_cells_{n}", t) for n, t in enumerate(cells.values())}
        aggregates |= {f"mlgate_values_{n}": value_counter(f"mlgate_values_{n}") for n in range(len(values))}
        calls = [getattr(sa.func, f"mlgate_cells_{n}")(self._col(which)) for n, which in enumerate(cells)]
        calls += [getattr(sa.func, f"mlgate_values_{n}")(self._col(which)) for n, which in enumerate(values)]
        query = sa.select(*calls).where(self.where)

        def read(conn: sa.Connection) -> None:
            raw = conn.connection.driver_connection
            for name, aggregate in aggregates.items():
                # SQLAlchemy types driver_connection as Any | None; on this SQLite-only path it is sqlite3.Connection
                raw.create_aggregate(name, 1, aggregate)  # type: ignore[union-attr]
            conn.execute(query).one()

        self._run(read)
        counted = {which: results[f"mlgate_cells_{n}"] for n, which in enumerate(cells)}
        found: dict[Column, list[tuple[Any, int]]] = {}
        for n, which in enumerate(values):
            # the raw value as SQLAlchemy would type it (SQLite hands booleans over as 0/1)
            process = (
                self._col(which).type.dialect_impl(self.engine.dialect).result_processor(self.engine.dialect, None)
            )
            pairs = results[f"mlgate_values_{n}"].items()
            found[which] = [(process(v) if process else v, int(c)) for v, c in pairs]
        return counted, found

    def cells(self, which: Column, thresholds: list[float]) -> list[int]:
        """Counts of the column's non-null values in the cells of ``thresholds`` (sorted, distinct).

        ``2 * len(thresholds) + 1`` counts: below ``t[0]``, equal to ``t[0]``, strictly between
        ``t[0]`` and ``t[1]``, ..., above ``t[-1]``. PostgreSQL finds a value's cell with
        ``width_bucket`` (a binary search in the server); SQLite with ``bisect`` in an aggregate
        registered on the connection. One column of :meth:`counts`.
        """
        return self.counts({which: thresholds}, [])[0][which]

    def values(self, which: Column, limit: int) -> list[Any] | None:
        """The column's non-null values when there are at most ``limit``, else None."""
        expression = self._col(which)
        query = sa.select(expression).where(self.where, expression.is_not(None)).limit(limit + 1)
        found = [row[0] for row in self._run(lambda conn: conn.execute(query).all())]
        return found if len(found) <= limit else None

    def value_counts(self, which: Column) -> list[tuple[Any, int]]:
        """(value, rows) per distinct non-null value (one column of :meth:`counts`)."""
        return self.counts({}, [which])[1][which]

    def rows_outside(self, allowed: dict[int, list[Any]]) -> int:
        """Rows holding, in any of the given columns, a non-null value not in that column's list."""
        conditions = [
            sa.and_(self._col(i).is_not(None), self._col(i).not_in(values) if values else sa.true())
            for i, values in allowed.items()
        ]
        if not conditions:
            return 0
        query = sa.select(sa.func.count()).where(self.where, sa.or_(*conditions))
        return int(self._run(lambda conn: conn.execute(query).scalar()) or 0)

    def distinct(self, columns: int) -> list[tuple[int, Any]]:
        """(distinct non-null values capped at 2, min) per column, in one scan.

        Whether a column is constant is all that is asked, so ``min = max`` answers it: no
        ``COUNT(DISTINCT)``, which sorts every column (a third of the monitor's time at 200,000 rows).
        """
        parts: list[Any] = []
        for i in range(columns):
            value = self._col(i)
            if self.postgres and isinstance(value.type, sa.Boolean):  # PostgreSQL has no min/max of booleans
                low, high = sa.func.bool_and(value, type_=sa.Boolean), sa.func.bool_or(value, type_=sa.Boolean)
            else:
                low, high = sa.func.min(value), sa.func.max(value)
            parts += [sa.func.count(value), low, high]
        found = self._run(lambda conn: conn.execute(sa.select(*parts).where(self.where)).one())
        out = []
        for i in range(columns):
            n, low, high = found[3 * i : 3 * i + 3]
            out.append((0 if not n else 1 if low == high else 2, low))
        return out

    def duplicates(self, columns: list[int]) -> tuple[int, int, int]:
        """(rows equal to an earlier row, groups of equal rows, largest group's rows) over ``columns``; NULLs equal."""
        keys = [self._col(i) for i in columns]
        groups = (
            sa.select(sa.func.count().label("n")).where(self.where).group_by(*keys).having(sa.func.count() > 1)
        ).subquery()
        query = sa.select(
            sa.func.coalesce(sa.func.sum(groups.c.n - 1), 0),
            sa.func.count(),
            sa.func.coalesce(sa.func.max(groups.c.n), 0),
        )
        found = self._run(lambda conn: conn.execute(query).one())
        return int(found[0]), int(found[1]), int(found[2])

    def fractional(self, i: int) -> tuple[int, float | None]:
        """(values of column ``i`` that are not whole numbers, one of them): one column of :meth:`fractional_all`."""
        return self.fractional_all([i])[i]

    def fractional_all(self, columns: list[int]) -> dict[int, tuple[int, float | None]]:
        """Per column: (values that are not whole numbers, the smallest of them), every column in one scan."""
        if not columns:
            return {}
        parts: list[Any] = []
        for i in columns:
            value = self._col(i)
            whole: sa.ColumnElement[Any]
            if self.postgres:
                whole = sa.func.trunc(value)
            elif self.mysql:  # CAST AS SIGNED rounds on MySQL and stops at 2**63
                whole = sa.func.truncate(value, 0)
            else:
                whole = sa.cast(value, sa.Integer)
            odd = sa.and_(value.is_not(None), value != whole)
            parts += [sa.func.sum(sa.case((odd, 1), else_=0)), sa.func.min(sa.case((odd, value), else_=None))]
        found = self._run(lambda conn: conn.execute(sa.select(*parts).where(self.where)).one())
        return {i: (int(found[2 * k] or 0), found[2 * k + 1]) for k, i in enumerate(columns)}

    def score_sums(self, threshold: float, knots: Knots | None = None) -> tuple[int, float, float]:
        """(scored rows, sum of scores, sum of each decision's chance of being right at ``threshold``).

        ``knots``: the calibration map CBPE reads the score through (:func:`_calibrated`); the raw score decides.
        """
        s = self.table.c.score
        p = _calibrated(s, knots)
        right = sa.case((s >= threshold, p), else_=1.0 - p)
        query = sa.select(sa.func.count(s), sa.func.sum(s), sa.func.sum(right)).where(self.where, s.is_not(None))
        found = self._run(lambda conn: conn.execute(query).one())
        return int(found[0]), float(found[1] or 0.0), float(found[2] or 0.0)

    def expected_roc_parts(self, knots: Knots | None = None) -> tuple[float, float, float]:
        """(sum over thresholds of dFP * (TP + TP_prev), expected positives, expected negatives).

        The expected ROC curve of CBPE (:mod:`mlgate.monitoring._estimate`): one point per distinct
        score ``t``, ``TP(t) = sum_{s >= t} p``, ``FP(t) = sum_{s >= t} (1 - p)``, summed in SQL
        with window functions over the scores grouped by value; ``p`` is the score read through
        ``knots`` (monotone, so ordering by the raw score orders ``p``).
        """
        s = self.table.c.score
        grouped = (
            sa.select(s.label("s"), sa.func.count().label("c")).where(self.where, s.is_not(None)).group_by(s)
        ).subquery()
        p = _calibrated(grouped.c.s, knots)
        tp = sa.func.sum(p * grouped.c.c).over(order_by=grouped.c.s.desc(), rows=(None, 0))
        fp = sa.func.sum((1.0 - p) * grouped.c.c).over(order_by=grouped.c.s.desc(), rows=(None, 0))
        running = sa.select(grouped.c.s, tp.label("tp"), fp.label("fp")).subquery()
        lagged = sa.select(
            running.c.tp,
            running.c.fp,
            sa.func.coalesce(sa.func.lag(running.c.tp).over(order_by=running.c.s.desc()), 0.0).label("tp0"),
            sa.func.coalesce(sa.func.lag(running.c.fp).over(order_by=running.c.s.desc()), 0.0).label("fp0"),
        ).subquery()
        query = sa.select(
            sa.func.sum((lagged.c.fp - lagged.c.fp0) * (lagged.c.tp + lagged.c.tp0)),
            sa.func.max(lagged.c.tp),
            sa.func.max(lagged.c.fp),
        )
        found = self._run(lambda conn: conn.execute(query).one())
        return float(found[0] or 0.0), float(found[1] or 0.0), float(found[2] or 0.0)

    def stream(self, which: list[str], chunk_rows: int) -> Iterator[list[tuple[Any, ...]]]:
        """The window's rows of the named columns, ``chunk_rows`` at a time (a server-side cursor on PostgreSQL)."""
        query = sa.select(*(self.table.c[name] for name in which)).where(self.where)
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
                for part in result.partitions(chunk_rows):
                    yield [tuple(row) for row in part]
        except SQLAlchemyError as err:
            raise outage("reading the audit store", self.shown, err) from err


Knots = tuple[tuple[float, ...], tuple[float, ...]]
"""A monotone piecewise-linear map: ascending knots and the values there (an isotonic calibration)."""


def _calibrated(score: Any, knots: Knots | None) -> Any:
    """``score`` read through ``knots`` in SQL: clipped to their range, linear between them (as ``np.interp``)."""
    if knots is None:
        return score
    x, y = knots
    if len(x) == 1:
        return sa.literal(y[0])
    steps = [(score <= x[0], sa.literal(y[0]))]
    for i in range(1, len(x)):
        slope = (y[i] - y[i - 1]) / (x[i] - x[i - 1])
        steps.append((score <= x[i], sa.literal(y[i - 1]) + (score - x[i - 1]) * slope))
    return sa.case(*steps, else_=sa.literal(y[-1]))


def _bounds(thresholds: list[float]) -> np.ndarray:
    """Each threshold and the float just above it, sorted: "x <= t" is "x < the float above t"."""
    given = np.asarray(thresholds, dtype=np.float64)
    return np.unique(np.concatenate([given, np.nextafter(given, np.inf)]))


def _cells_from_buckets(thresholds: list[float], bounds: np.ndarray, per_bucket: np.ndarray) -> list[int]:
    """The ``2 * len(thresholds) + 1`` cell counts from counts per ``width_bucket`` bucket of ``bounds``."""
    given = np.asarray(thresholds, dtype=np.float64)
    below = np.cumsum(per_bucket)  # below[k]: values < bounds[k]
    lt = below[np.searchsorted(bounds, given)]
    le = below[np.searchsorted(bounds, np.nextafter(given, np.inf))]
    total = int(per_bucket.sum())
    out = np.empty(2 * len(thresholds) + 1, dtype=np.int64)
    out[0] = lt[0] if len(thresholds) else total
    out[1::2] = le - lt
    out[2:-1:2] = lt[1:] - le[:-1]
    if len(thresholds):
        out[-1] = total - le[-1]
    return [int(v) for v in out]


def catalog_entry(conn: sa.Connection, model: str, version: int) -> tuple[str, list[tuple[str, str]]] | None:
    """(table name, signature) of a version's typed rows, None when it has none (or the store is schema 1)."""
    if not sa.inspect(conn).has_table(CATALOG):
        return None
    found = conn.execute(
        sa.select(catalog.c.table_name, catalog.c.signature).where(
            catalog.c.model == model, catalog.c.version == version
        )
    ).first()
    if found is None:
        return None
    return str(found[0]), [(str(a), str(b)) for a, b in json.loads(found[1])]


def refuse_newer(conn: sa.Connection, shown: str) -> None:
    """Exit 2 when the store's schema is newer than this mlgate's."""
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise InvalidInput(
            f"audit store {shown} has schema version {found}; this mlgate reads up to {SCHEMA_VERSION}",
            hint="upgrade mlgate",
        )


def outage(what: str, shown: str, err: SQLAlchemyError) -> ExternalServiceError:
    """An audit-store failure as exit 3, the driver's first line and no SQL."""
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()
    first = text[0] if text else "no message"
    return ExternalServiceError(f"{what}: {shown} failed ({type(orig).__name__}: {first})"[:400])

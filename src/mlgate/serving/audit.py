"""The audit store of ``mlgate serve``: one row per prediction, written before the answer leaves.

SQLAlchemy Core on one table, ``mlgate_predictions``, created when missing: SQLite (a file; WAL
journal, ``synchronous=FULL`` so a committed row survives a power cut) or PostgreSQL
(``postgresql://`` is driven by psycopg 3). :meth:`AuditStore.write` commits a request's rows in
one transaction; any failure is :class:`AuditUnavailable`, and the service then answers 503
without the predictions: there is never a prediction without its record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from mlgate.exceptions import ExternalServiceError, InvalidInput

TABLE = "mlgate_predictions"
_metadata = sa.MetaData()
predictions = sa.Table(
    TABLE,
    _metadata,
    sa.Column("request_id", sa.String(32), primary_key=True),
    sa.Column("row", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("caller", sa.String(100), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
)


class AuditUnavailable(Exception):
    """The audit store could not record a request (the service answers 503)."""


@dataclass(frozen=True)
class Record:
    """What one request adds: the shared columns and one (features, outputs) pair per row."""

    request_id: str
    at: datetime
    caller: str
    model: str
    version: int
    alias: str
    run_id: str
    latency_ms: float
    rows: list[tuple[dict[str, Any], dict[str, Any]]]


def engine_url(url: str) -> sa.URL:
    """The SQLAlchemy URL; ``postgresql://`` gets psycopg 3 (the driver mlgate pins), a password is refused."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(
            "--audit-url: not a database URL (expected e.g. sqlite:////var/lib/mlgate/audit.db)"
        ) from None
    if parsed.password is not None:
        raise InvalidInput(
            "--audit-url holds a password, which would show in process listings and logs",
            hint="give it through the driver's environment (PGPASSWORD) instead",
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql", "mysql"):
        raise InvalidInput(f"--audit-url: {parsed.drivername} is not supported (sqlite, postgresql, mysql)")
    return parsed


def shown_url(url: str) -> str:
    """``url`` as the spec gives it, checked as :func:`engine_url` checks it, any password hidden: what reports name."""
    engine_url(url)
    return make_url(url).render_as_string(hide_password=True)


class AuditStore:
    """The audit table behind an engine; ``timeout`` bounds how long a write waits (lock or connect)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        """Connect lazily to ``url`` (see :func:`engine_url`)."""
        self.url = engine_url(url)
        backend = self.url.get_backend_name()
        connect_args: dict[str, Any] = {}
        if backend == "sqlite":
            connect_args["timeout"] = timeout  # how long a write waits for another writer's lock
        elif backend == "postgresql":
            connect_args["connect_timeout"] = max(1, round(timeout))
        self.engine = sa.create_engine(self.url, connect_args=connect_args, pool_pre_ping=True)
        if backend == "sqlite":
            event.listen(self.engine, "connect", _sqlite_durable)

    @property
    def shown(self) -> str:
        """The URL as logs and /ready show it (no password can be in it; see :func:`engine_url`)."""
        return self.url.render_as_string(hide_password=True)

    def create(self) -> None:
        """Create the table if missing; AuditUnavailable when the store cannot be reached."""
        try:
            _metadata.create_all(self.engine)
        except SQLAlchemyError as err:
            raise AuditUnavailable(reason(err)) from err

    def write(self, record: Record) -> None:
        """Commit one row per prediction of ``record`` in one transaction, or raise AuditUnavailable."""
        shared = {
            "request_id": record.request_id,
            "at": record.at,
            "caller": record.caller,
            "model": record.model,
            "version": record.version,
            "alias": record.alias,
            "run_id": record.run_id,
            "latency_ms": record.latency_ms,
        }
        rows = [{**shared, "row": i, "features": f, "outputs": o} for i, (f, o) in enumerate(record.rows)]
        try:
            with self.engine.begin() as conn:
                conn.execute(predictions.insert(), rows)
        except SQLAlchemyError as err:
            raise AuditUnavailable(reason(err)) from err

    def ping(self) -> str:
        """'' when the store answers a query, else why not (for /ready)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(sa.func.count()).select_from(predictions).where(sa.false()))
        except SQLAlchemyError as err:
            return reason(err)
        return ""

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()


def reason(err: BaseException) -> str:
    """The first line of the driver's message: what /ready, 503 bodies and logs say (no SQL, no parameters)."""
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else 'no message'}"[:300]


def _sqlite_durable(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets /ready read while a request writes; FULL makes a committed row survive a power cut."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


# --------------------------------------------------------------------------- reading (mlgate monitor)

READ_ATTEMPTS = 3
"""Tries of a read that failed to connect: a database restarting answers a few seconds later."""
READ_CHUNK_ROWS = 50_000
"""Audit rows fetched per chunk: the reader's memory is bounded by a chunk's JSON text, not the window."""


@dataclass(frozen=True)
class AuditChunk:
    """Audit rows as stored: key, time, version and the features and outputs as JSON text.

    The JSON stays text here, so the caller decodes a whole chunk in one call (pyarrow's JSON
    reader) instead of one ``json.loads`` per row.
    """

    request_id: list[str]
    row: list[int]
    at: list[datetime]
    features: list[str]
    outputs: list[str]


def _reader(url: str, timeout: float) -> sa.Engine:
    """An engine for reading; SQLite is refused when its file is missing (connecting would create it)."""
    parsed = engine_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            raise InvalidInput(
                f"audit store {parsed.render_as_string(hide_password=True)}: no such SQLite file",
                hint="point monitoring.sources.audit_url (or serving.audit_url) at the database mlgate serve writes",
            )
    connect_args: dict[str, Any] = {"connect_timeout": max(1, round(timeout))} if backend == "postgresql" else {}
    return sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)


def _shown(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _attempts(engine: sa.Engine, what: str, read: Any) -> Any:
    """``read(connection)`` retried on a connection failure; an outage after the last try is exit 3."""
    for attempt in range(READ_ATTEMPTS):
        try:
            with engine.connect() as conn:
                return read(conn)
        except sa.exc.OperationalError as err:
            if attempt == READ_ATTEMPTS - 1:
                raise ExternalServiceError(
                    f"{what}: {_shown(engine)} did not answer after {READ_ATTEMPTS} tries ({reason(err)})",
                    hint="check that the database is up and reachable (PGPASSWORD for a password), then re-run",
                ) from err
            time.sleep(0.5 * (attempt + 1))
        except SQLAlchemyError as err:
            raise ExternalServiceError(f"{what}: {_shown(engine)} failed ({reason(err)})") from err
    raise AssertionError("unreachable")


def _window(model: str, alias: str, start: datetime, end: datetime) -> Any:
    """The rows of one model's alias in ``[start, end)`` (the ``at`` index serves the time bound)."""
    c = predictions.c
    return sa.and_(c.model == model, c.alias == alias, c.at >= start, c.at < end)


def _require_table(conn: sa.Connection, shown: str) -> None:
    if not sa.inspect(conn).has_table(TABLE):
        raise InvalidInput(
            f"audit store {shown} has no table {TABLE}: mlgate serve has not written there",
            hint="point monitoring.sources.audit_url (or serving.audit_url) at the database mlgate serve writes",
        )


def version_counts(
    url: str, model: str, alias: str, start: datetime, end: datetime, timeout: float = 5.0
) -> dict[int, int]:
    """Rows per served version of ``model``'s ``alias`` in ``[start, end)`` (one GROUP BY query)."""
    engine = _reader(url, timeout)

    def read(conn: sa.Connection) -> dict[int, int]:
        _require_table(conn, _shown(engine))
        query = (
            sa.select(predictions.c.version, sa.func.count())
            .where(_window(model, alias, start, end))
            .group_by(predictions.c.version)
        )
        return {int(version): int(n) for version, n in conn.execute(query)}

    try:
        return _attempts(engine, "reading the audit store", read)
    finally:
        engine.dispose()


def read_predictions(
    url: str,
    model: str,
    alias: str,
    version: int,
    start: datetime,
    end: datetime,
    *,
    chunk_rows: int = READ_CHUNK_ROWS,
    timeout: float = 5.0,
) -> Iterator[AuditChunk]:
    """The audit rows of one version of ``model@alias`` in ``[start, end)``, ``chunk_rows`` at a time.

    The JSON columns are read as text (cast in SQL: no per-row decoding by SQLAlchemy), and the
    rows are streamed (a server-side cursor on PostgreSQL), so memory is bounded by a chunk.
    """
    engine = _reader(url, timeout)
    c = predictions.c
    query = sa.select(c.request_id, c.row, c.at, sa.cast(c.features, sa.Text), sa.cast(c.outputs, sa.Text)).where(
        _window(model, alias, start, end), c.version == version
    )
    started = False  # once a chunk went out, a failure is not retried: a caller never sees a row twice
    try:
        for attempt in range(READ_ATTEMPTS):
            try:
                with engine.connect() as conn:
                    _require_table(conn, _shown(engine))
                    result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
                    for part in result.partitions(chunk_rows):
                        request_ids, rows, ats, features, outputs = (list(col) for col in zip(*part, strict=True))
                        started = True
                        yield AuditChunk(request_ids, [int(r) for r in rows], ats, features, outputs)
                return
            except sa.exc.OperationalError as err:
                if attempt == READ_ATTEMPTS - 1 or started:
                    raise ExternalServiceError(
                        f"reading the audit store: {_shown(engine)} did not answer after {attempt + 1} tries "
                        f"({reason(err)})",
                        hint="check that the database is up and reachable (PGPASSWORD for a password), then re-run",
                    ) from err
                time.sleep(0.5 * (attempt + 1))
            except SQLAlchemyError as err:
                raise ExternalServiceError(f"reading the audit store: {_shown(engine)} failed ({reason(err)})") from err
    finally:
        engine.dispose()


def read_table_columns(url: str, table: str, columns: list[str], timeout: float = 5.0) -> dict[str, list[Any]]:
    """Every row of ``columns`` of ``table`` (``schema.table`` allowed): where outcomes arrive by SQL.

    A missing table or column is bad input (exit 2) naming it; an outage is exit 3.
    """
    engine = _reader(url, timeout)
    schema, _, name = table.rpartition(".")

    def read(conn: sa.Connection) -> dict[str, list[Any]]:
        inspector = sa.inspect(conn)
        if not inspector.has_table(name, schema=schema or None):
            raise InvalidInput(f"labels table {table!r} does not exist in {_shown(engine)}")
        known = {col["name"] for col in inspector.get_columns(name, schema=schema or None)}
        missing = [column for column in columns if column not in known]
        if missing:
            raise InvalidInput(
                f"labels table {table!r} has no column(s) {', '.join(missing)} (columns: {', '.join(sorted(known))})"
            )
        reflected = sa.table(name, *(sa.column(column) for column in columns), schema=schema or None)
        rows = conn.execute(sa.select(*reflected.c)).all()
        return {column: [row[i] for row in rows] for i, column in enumerate(columns)}

    try:
        return _attempts(engine, f"reading labels table {table}", read)
    finally:
        engine.dispose()

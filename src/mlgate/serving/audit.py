"""The audit store of ``mlgate serve``: one row per prediction, written before the answer leaves.

SQLAlchemy Core on one table, ``mlgate_predictions``, created when missing: SQLite (a file; WAL
journal, ``synchronous=FULL`` so a committed row survives a power cut) or PostgreSQL
(``postgresql://`` is driven by psycopg 3). :meth:`AuditStore.write` commits a request's rows in
one transaction; any failure is :class:`AuditUnavailable`, and the service then answers 503
without the predictions: there is never a prediction without its record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from mlgate.exceptions import InvalidInput

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

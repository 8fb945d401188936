"""The audit store of ``mlgate serve``: one row per prediction, written before the answer leaves.

SQLAlchemy Core on one table, ``mlgate_predictions``, created when missing: SQLite (a file; WAL
journal, ``synchronous=FULL`` so a committed row survives a power cut), PostgreSQL
(``postgresql://`` is driven by psycopg 3) or MySQL/MariaDB (``mysql://`` is driven by PyMySQL,
``mlgate[mysql]``; the password comes from ``MYSQL_PWD``). :meth:`AuditStore.write` commits a request's rows in
one transaction; any failure is :class:`AuditUnavailable`, and the service then answers 503
without the predictions: there is never a prediction without its record.

Each row names the arm that scored it (``arm``: stable, canary, shadow; ``alias``: the arm alias,
``production``, ``production-canary``, ``production-shadow``) and the key it was routed by
(``arm_key``; null: the request id). A shadow scores the rows the stable version answered, so
the key is ``(request_id, row, arm)``. A table written before arms (key ``(request_id, row)``, no
``arm`` column) is migrated when the service starts (:func:`migrate_arms`): its rows become arm
``stable``; an older ``mlgate serve`` may keep writing to it (``arm`` defaults to ``stable``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from mlgate.exceptions import ExternalServiceError, InvalidInput
from mlgate.serving._inputs import (
    _LOCK_KEY,
    MYSQL_TABLE,
    TIME,
    Inputs,
    SchemaTooNew,
    TypedWindow,
    byte_exact,
    catalog_entry,
    copy_missing,
    ensure_schema,
    outage,
    refuse_newer,
    rows_of,
)

log = logging.getLogger("mlgate.serve")
TABLE = "mlgate_predictions"
_metadata = sa.MetaData()
predictions = sa.Table(
    TABLE,
    _metadata,
    sa.Column("request_id", sa.String(32), primary_key=True),
    sa.Column("row", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("arm", sa.String(10), primary_key=True, server_default="stable"),
    sa.Column("at", TIME, nullable=False, index=True),
    sa.Column("caller", sa.String(100), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("outputs", sa.JSON, nullable=False),
    sa.Column("latency_ms", sa.Float().with_variant(sa.Double(), "mysql", "mariadb"), nullable=False),
    sa.Column("arm_key", sa.String(200), nullable=True),
    **MYSQL_TABLE,
)
byte_exact(predictions)
ARM_COLUMNS = ("arm", "arm_key")
"""The columns a table written before canary and shadow arms lacks (:func:`migrate_arms` adds them)."""


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
    inputs: Inputs | None = None
    """The served version's signature and score reading: given, the rows are also written typed
    (:mod:`mlgate.serving._inputs`, what ``mlgate monitor`` aggregates in SQL); None writes JSON only."""
    arm: str = "stable"
    """The arm that scored these rows (``stable``, ``canary``, ``shadow``); ``alias`` is its arm alias."""
    numbers: tuple[int, ...] | None = None
    """Each row's position in the request (a canary answers some rows of a request); None: 0, 1, 2..."""
    keys: tuple[str | None, ...] | None = None
    """Each row's arm key (None: routed by the request id); None: no key for any row."""


def engine_url(url: str) -> sa.URL:
    """The SQLAlchemy URL; ``postgresql://`` gets psycopg 3, ``mysql://`` PyMySQL (the drivers mlgate pins).

    A password in the URL is refused.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(
            "--audit-url: not a database URL (expected e.g. sqlite:////var/lib/mlgate/audit.db)"
        ) from None
    if parsed.password is not None:
        raise InvalidInput(
            "--audit-url holds a password, which would show in process listings and logs",
            hint="give it through the driver's environment (PGPASSWORD, MYSQL_PWD) instead",
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "mysql":
        parsed = parsed.set(drivername="mysql+pymysql")
    if parsed.get_backend_name() not in ("sqlite", "postgresql", "mysql"):
        raise InvalidInput(f"--audit-url: {parsed.drivername} is not supported (sqlite, postgresql, mysql)")
    return parsed


def shown_url(url: str) -> str:
    """``url`` as the spec gives it, checked as :func:`engine_url` checks it, any password hidden: what reports name."""
    engine_url(url)
    return make_url(url).render_as_string(hide_password=True)


class AuditStore:
    """The audit table behind an engine; ``timeout`` bounds how long a write waits (lock or connect).

    A SQLite file is watched: before and after each write (and each ``/ready`` probe) the path
    must still name the file the connection opened (``os.stat`` against the identity recorded
    when it connected) and the database, ``-wal`` and ``-shm`` files must be writable
    (``os.access``: opening them would drop SQLite's POSIX locks). A file removed or renamed
    away (rotated) makes that request :class:`AuditUnavailable` (503, nothing predicted); the
    store then checkpoints the moved file's WAL into it and reopens the path (see
    :meth:`_finish_move`). SQLite uses are serialized by a lock (SQLite has one writer at a
    time anyway), so every connection is in the pool when the store closes them.
    """

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        """Connect lazily to ``url`` (see :func:`engine_url`)."""
        self.url = engine_url(url)
        backend = self.url.get_backend_name()
        connect_args = _connect_args(backend, timeout)
        if backend == "sqlite":
            connect_args["timeout"] = timeout  # how long a write waits for another writer's lock
        self.engine = sa.create_engine(self.url, connect_args=connect_args, pool_pre_ping=True)
        database = self.url.database or ""
        self.file = database if backend == "sqlite" and database and database != ":memory:" else None
        self._guard: Any = threading.Lock() if backend == "sqlite" else contextlib.nullcontext()
        self._moved: dict[str, _Identity | None] | None = None  # the files of a moved database, until reopened
        self._typed: dict[tuple[str, int], sa.Table] = {}  # typed input tables known to exist
        if backend == "sqlite":
            event.listen(self.engine, "do_connect", self._refuse_read_only)
            event.listen(self.engine, "connect", self._opened)

    @property
    def shown(self) -> str:
        """The URL as logs and /ready show it (no password can be in it; see :func:`engine_url`)."""
        return self.url.render_as_string(hide_password=True)

    def create(self) -> None:
        """Create the table if missing, migrate one written before arms; AuditUnavailable when unreachable."""
        with self._guard:
            try:
                self._checked_files()
                _metadata.create_all(self.engine)
                migrate_arms(self.engine)
            except SQLAlchemyError as err:
                raise AuditUnavailable(reason(err)) from err

    def write(self, record: Record) -> None:
        """Commit one row per prediction of ``record`` in one transaction, or raise AuditUnavailable."""
        self.write_many([record])

    def write_many(self, records: list[Record]) -> None:
        """Commit the rows of all ``records`` in one transaction (one commit: serve's group commit), or raise.

        All or nothing: AuditUnavailable means none of them was recorded. A record with ``inputs``
        also gets its typed rows (its version's table), in the same transaction.
        """
        rows = []
        typed: dict[str, tuple[sa.Table, list[dict[str, Any]]]] = {}
        for record in records:
            if not record.rows:
                continue  # an arm that took none of a request's rows
            shared = {
                "request_id": record.request_id,
                "arm": record.arm,
                "at": record.at,
                "caller": record.caller,
                "model": record.model,
                "version": record.version,
                "alias": record.alias,
                "run_id": record.run_id,
                "latency_ms": record.latency_ms,
            }
            numbers = record.numbers if record.numbers is not None else range(len(record.rows))
            keys = record.keys if record.keys is not None else (None,) * len(record.rows)
            rows += [
                {**shared, "row": i, "features": f, "outputs": o, "arm_key": k}
                for i, (f, o), k in zip(numbers, record.rows, keys, strict=True)
            ]
            if record.inputs is not None:
                table = self._typed_table(record.model, record.version, record.inputs)
                entry = typed.setdefault(table.name, (table, []))
                entry[1].extend(
                    rows_of(record.inputs, record.request_id, record.alias, record.at, record.rows, record.numbers)
                )

        if not rows:
            return

        def work(conn: sa.Connection) -> None:
            conn.execute(predictions.insert(), rows)
            for table, values in typed.values():  # the same transaction: never one without the other
                conn.execute(table.insert(), values)

        self._transaction(work, commit=True)

    def typed_table(self, model: str, version: int, inputs: Inputs) -> sa.Table:
        """The version's typed input table (created when missing): what bulk loaders fill beside the JSON rows."""
        return self._typed_table(model, version, inputs)

    def _typed_table(self, model: str, version: int, inputs: Inputs) -> sa.Table:
        """The version's typed table, created on its first write (then remembered: no DDL per request)."""
        key = (model, version)
        table = self._typed.get(key)
        if table is None:
            with self._guard:
                try:
                    self._checked_files()
                    table = ensure_schema(self.engine, model, version, inputs)
                except SchemaTooNew as err:
                    raise AuditUnavailable(str(err)) from None
                except SQLAlchemyError as err:
                    raise AuditUnavailable(reason(err)) from err
            self._typed[key] = table
        return table

    def ping(self) -> str:
        """'' when a write would be recorded now, else why not (for /ready).

        A real write probe: a row inserted in a transaction that is rolled back (it takes the
        write lock and needs writable files, as a request's rows do), on SQLite with the file
        checks of :meth:`write`.
        """
        probe = {
            "request_id": "ready-probe-" + uuid.uuid4().hex[:20],
            "row": 0,
            "arm": "stable",
            "at": datetime.now(UTC),
            "caller": "-",
            "model": "-",
            "version": 0,
            "alias": "-",
            "run_id": "-",
            "features": {},
            "outputs": {},
            "latency_ms": 0.0,
        }
        try:
            self._transaction(lambda conn: conn.execute(predictions.insert(), [probe]), commit=False)
        except AuditUnavailable as err:
            return str(err)
        return ""

    def close(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

    def _transaction(self, work: Any, *, commit: bool) -> None:
        """``work(connection)`` in one transaction (committed or rolled back), the SQLite file watched around it."""
        with self._guard:
            try:
                self._checked_files()
                with self.engine.connect() as conn:
                    opened = conn.connection.info.get(_OPENED)
                    self._same_file(opened)
                    transaction = conn.begin()
                    try:
                        work(conn)
                    except BaseException:
                        transaction.rollback()
                        raise
                    if commit:
                        transaction.commit()
                    else:
                        transaction.rollback()
                    self._same_file(opened)  # the rows went to the file the path names: none lost to a moved one
            except _Moved as moved:
                self._close_moved(moved.files)
                raise AuditUnavailable(str(moved)) from None
            except SQLAlchemyError as err:
                raise AuditUnavailable(reason(err)) from err
            except OSError as err:  # unlinking a moved database's emptied -wal/-shm
                raise AuditUnavailable(f"{type(err).__name__}: {err}") from err

    def _checked_files(self) -> None:
        """SQLite: refuse read-only files; after a move, finish it (see :meth:`_finish_move`) before any use."""
        if self.file is None:
            return
        _writable(self.file)
        if self._moved is not None:
            self._finish_move(self.file, self._moved)

    def _finish_move(self, file: str, moved: dict[str, _Identity | None]) -> None:
        """Bring the moved file's rows home, then reopen the path.

        SQLite does not checkpoint a moved database when its last connection closes, and its
        ``-wal`` and ``-shm`` stay at the old names, where a new database at the path would read
        them as its own. So, through a connection still open on the moved file (the guard held:
        all are in the pool), the WAL is checkpointed into it and truncated; then every
        connection closes, those emptied files are unlinked (only if they still are the moved
        database's) and the path is opened afresh: the file found there, or a new one, the table
        created. A checkpoint blocked by another process reading the moved file is retried on
        the next use (503 meanwhile).
        """
        with self.engine.connect() as conn:
            if conn.connection.info.get(_OPENED) == moved:
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
                if busy is not None and busy[0]:
                    raise AuditUnavailable(
                        f"the audit file {self.file} was moved and another process still reads it: its last rows "
                        "are checkpointed into the moved file first; retried on the next request"
                    )
        self.engine.dispose()
        for suffix in ("-wal", "-shm"):
            old = moved.get(suffix)
            if old is not None and _identity(file + suffix) == old:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(file + suffix)
        self._moved = None
        self._typed.clear()  # a new file has no typed tables yet: the next write creates them
        _metadata.create_all(self.engine)  # a new file gets the table; a file moved in keeps its rows
        log.warning("audit store reopened on %s", self.file)

    def _same_file(self, opened: dict[str, _Identity | None] | None) -> None:
        if self.file is None or opened is None:
            return
        now = _identity(self.file)
        if now != opened[""]:
            what = "removed or renamed" if now is None else "replaced by another file"
            raise _Moved(
                f"the audit file {self.file} was {what} since it was opened (rotated?): nothing predicted; "
                "the service reopens the path",
                opened,
            )

    def _close_moved(self, files: dict[str, _Identity | None]) -> None:
        """Remember the moved file and try to reopen the path at once (the guard is held)."""
        log.error("audit file %s was removed or replaced while open: reopening the path", self.file)
        self._moved = files
        if self.file is None:  # only a SQLite file can move
            return
        with contextlib.suppress(AuditUnavailable, SQLAlchemyError, OSError):
            self._finish_move(self.file, files)  # else the next use tries again

    def _refuse_read_only(self, _dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        """Before SQLite opens the file, refuse read-only files with their name.

        SQLite would otherwise fall back to a read-only ``-shm`` mapping and say only "attempt to
        write a readonly database"; a service opening new connections that way under concurrent
        requests died of SIGBUS once here (``tests/test_serve.py``, read-only ``-wal``/``-shm``).
        """
        if self.file is not None:
            try:
                _writable(self.file)
            except AuditUnavailable as err:
                raise sqlite3.OperationalError(str(err)) from None

    def _opened(self, dbapi_connection: Any, record: Any) -> None:
        """A new SQLite connection: WAL, FULL sync, no mmap, and the identity of the files it opened."""
        _sqlite_durable(dbapi_connection, record)
        if self.file is not None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT count(*) FROM sqlite_master").fetchall()  # opens the -wal and -shm files
            cursor.close()
            record.info[_OPENED] = {suffix: _identity(self.file + suffix) for suffix in ("", "-wal", "-shm")}


def migrate_arms(engine: sa.Engine) -> bool:
    """Give a table written before arms the ``arm`` and ``arm_key`` columns and the key ``(request_id, row, arm)``.

    Existing rows become arm ``stable`` (the only arm there was), ``arm_key`` null. One
    transaction: PostgreSQL adds the columns (no rewrite: a constant default) and swaps the
    primary key, under the advisory lock the typed tables' DDL takes (two services starting at
    once migrate once); SQLite cannot change a key, so the table is rebuilt (rows copied into a
    new table, then renamed: as long as a copy of the table takes). MySQL: one ``ALTER TABLE``
    (an online rebuild of the table), under a named lock (``GET_LOCK``). True when it migrated.
    """
    with engine.connect() as conn:
        if _has_arm(conn):
            return False
    backend = engine.dialect.name
    if backend == "sqlite":
        _rebuild_sqlite(engine)
    else:
        quote = engine.dialect.identifier_preparer.quote
        with engine.begin() as conn:
            if backend == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            elif backend == "mysql":  # a session's lock: DDL commits at once on MySQL, so released below
                conn.execute(sa.text("SELECT GET_LOCK(:key, 60)"), {"key": _MYSQL_LOCK})
            try:
                if _has_arm(conn):  # another process migrated while this one waited
                    return False
                key = sa.inspect(conn).get_pk_constraint(TABLE).get("name")
                drop = "DROP PRIMARY KEY" if backend == "mysql" else f"DROP CONSTRAINT {quote(key or TABLE + '_pkey')}"
                # MySQL: the table as this mlgate makes it (microseconds kept, text compared byte for byte)
                more = ", MODIFY COLUMN at DATETIME(6) NOT NULL" if backend == "mysql" else ""
                conn.exec_driver_sql(
                    f"ALTER TABLE {TABLE} ADD COLUMN arm VARCHAR(10) NOT NULL DEFAULT 'stable', "
                    f"ADD COLUMN arm_key VARCHAR(200) NULL, {drop}, "
                    f"ADD PRIMARY KEY (request_id, {quote('row')}, arm){more}"
                )
            finally:
                if backend == "mysql":
                    conn.execute(sa.text("SELECT RELEASE_LOCK(:key)"), {"key": _MYSQL_LOCK})
    log.warning("audit store: %s migrated to the key (request_id, row, arm) for canary and shadow arms", TABLE)
    return True


_REACHABLE = "check that the database is up and reachable (PGPASSWORD or MYSQL_PWD for a password), then re-run"
_MYSQL_LOCK = "mlgate_audit_ddl"
"""The named lock (``GET_LOCK``) that serialises the arms migration on MySQL."""


def _connect_args(backend: str, timeout: float) -> dict[str, Any]:
    """The driver's arguments: a connect timeout; PyMySQL gets ``MYSQL_PWD`` (libmysqlclient reads it, PyMySQL not)."""
    if backend == "postgresql":
        return {"connect_timeout": max(1, round(timeout))}
    if backend == "mysql":
        found: dict[str, Any] = {"connect_timeout": max(1, round(timeout)), "charset": "utf8mb4"}
        if os.environ.get("MYSQL_PWD"):
            found["password"] = os.environ["MYSQL_PWD"]
        return found
    return {}


def _has_arm(conn: sa.Connection) -> bool:
    return "arm" in {column["name"] for column in sa.inspect(conn).get_columns(TABLE)}


def _rebuild_sqlite(engine: sa.Engine) -> None:
    """SQLite: the table rebuilt with the new key in one transaction (BEGIN IMMEDIATE: no other writer meanwhile)."""
    old = f"{TABLE}_before_arms"
    columns = ", ".join(f'"{c.name}"' for c in predictions.columns if c.name not in ARM_COLUMNS)
    statements = [
        *(f'DROP INDEX IF EXISTS "{index.name}"' for index in predictions.indexes),
        f'ALTER TABLE "{TABLE}" RENAME TO "{old}"',
        str(sa.schema.CreateTable(predictions).compile(dialect=engine.dialect)),
        *(str(sa.schema.CreateIndex(index).compile(dialect=engine.dialect)) for index in predictions.indexes),
        f'INSERT INTO "{TABLE}" ({columns}) SELECT {columns} FROM "{old}"',
        f'DROP TABLE "{old}"',
    ]
    raw = engine.raw_connection()
    try:
        db: Any = raw.driver_connection  # sqlite3.Connection: its own transaction control
        db.commit()
        db.execute("BEGIN IMMEDIATE")
        try:
            found = {row[1] for row in db.execute(f'PRAGMA table_info("{TABLE}")')}
            if "arm" not in found:  # else another process migrated before this one took the lock
                for statement in statements:
                    db.execute(statement)
            db.commit()
        except BaseException:
            db.rollback()
            raise
    finally:
        raw.close()


_OPENED = "mlgate_opened_files"
_Identity = tuple[int, int]


class _Moved(Exception):
    """The path no longer names the SQLite file a connection opened."""

    def __init__(self, message: str, files: dict[str, _Identity | None]) -> None:
        super().__init__(message)
        self.files = files


def _identity(path: str) -> _Identity | None:
    """(device, inode) of ``path``, None when nothing is there (``stat`` opens nothing: SQLite's locks stay)."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _writable(path: str) -> None:
    """AuditUnavailable naming the first of the database, ``-wal`` and ``-shm`` files that exists and is not writable.

    ``os.access`` and not ``open``: closing another descriptor of the database would drop the
    POSIX locks SQLite holds on it. An immutable file (``chattr +i``) is not writable even for root.
    """
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name) and not os.access(name, os.W_OK):
            raise AuditUnavailable(
                f"{name} is read-only: the audit store needs to write the database and its -wal and -shm files"
            )


def reason(err: BaseException) -> str:
    """The first line of the driver's message: what /ready, 503 bodies and logs say (no SQL, no parameters)."""
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else 'no message'}"[:300]


def _sqlite_durable(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (mlgate monitor) read while the service writes; FULL: a committed row survives a power cut.

    ``mmap_size=0``: pages are read, never mapped, so a database file truncated under the service
    is an I/O error rather than SIGBUS.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA mmap_size=0")
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
    return sa.create_engine(parsed, connect_args=_connect_args(backend, timeout), pool_pre_ping=True)


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
                    hint=_REACHABLE,
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
                        hint=_REACHABLE,
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


def typed_window(
    url: str,
    model: str,
    alias: str,
    version: int,
    start: datetime,
    end: datetime,
    inputs: Inputs,
    decode: Callable[[list[str], list[str]], list[dict[str, Any]]],
    *,
    expected: int | None = None,
    chunk_rows: int = READ_CHUNK_ROWS,
    timeout: float = 5.0,
) -> tuple[TypedWindow, int]:
    """The version's typed rows of ``model@alias`` in ``[start, end)`` to aggregate, and how many were migrated.

    Opening migrates: the store gains the typed tables when it has none (schema 1 → 2), and the
    window's JSON rows without a typed copy (written by an older ``mlgate serve``) are copied
    (:func:`mlgate.serving._inputs.copy_missing`, ``decode`` typing them). A store of a newer
    schema is exit 2; an outage is retried, then exit 3. ``expected``: the version's JSON rows in
    the window (:func:`version_counts`); when the typed rows number as many, the anti-join is skipped.
    """
    engine = _reader(url, timeout)
    shown = _shown(engine)

    def check(conn: sa.Connection) -> None:
        _require_table(conn, shown)
        refuse_newer(conn, shown)
        found = catalog_entry(conn, model, version)
        if found is not None and [tuple(pair) for pair in found[1]] != list(inputs.signature):
            raise InvalidInput(
                f"audit store {shown}: {model} v{version}'s typed rows were written with another signature "
                f"({', '.join(c for c, _ in found[1])})",
                hint="a version's signature does not change: was the registry replaced under the store?",
            )

    try:
        _attempts(engine, "reading the audit store", check)
        try:
            table = ensure_schema(engine, model, version, inputs)
            where = sa.and_(_window(model, alias, start, end), predictions.c.version == version)
            copied = 0
            # each typed row has its JSON twin (one transaction): equal counts mean nothing to copy
            if expected is None or _typed_rows(engine, table, alias, start, end) < expected:
                copied = copy_missing(engine, predictions, table, inputs, where, decode, chunk_rows)
        except SchemaTooNew as err:
            raise InvalidInput(f"audit store {shown}: {err}") from None
        except SQLAlchemyError as err:
            raise outage("migrating the audit store", shown, err) from err
    except BaseException:
        engine.dispose()
        raise
    return TypedWindow(engine, table, alias, start, end), copied


def _typed_rows(engine: sa.Engine, table: sa.Table, alias: str, start: datetime, end: datetime) -> int:
    """Typed rows of ``alias`` in ``[start, end)`` (the ``(alias, at)`` index)."""
    c = table.c
    query = sa.select(sa.func.count()).where(c.alias == alias, c.at >= start, c.at < end)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)

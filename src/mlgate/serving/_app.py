"""The HTTP service: FastAPI routes, bearer auth, input limits, audit-before-answer, Prometheus metrics.

Routes: ``POST /invocations`` (MLflow's scoring formats: ``dataframe_split``,
``dataframe_records``, ``instances``), ``POST /predict`` (``{"rows": [...]}``, its request model
generated from the signature: see ``/docs``), ``GET /health`` (the process is up), ``GET /ready``
(a version is loaded and the audit store takes a write: a probe rolled back; 503 otherwise;
``problems`` says what is wrong even while it serves), ``GET /metrics`` (Prometheus text).

A prediction request goes: size limit (413) → bearer token (401, 403) → JSON and rows checked
against the served version's signature (422 naming the field) → the version's decision →
audit rows committed (503 if that fails, without the predictions) → the answer. Any other error
is a 500 with the request id only: the traceback goes to the log, never to the caller.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import json
import logging
import math
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError, create_model
from pydantic_core import from_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlgate.config import ArmKind, arm_alias
from mlgate.data import model_input
from mlgate.exceptions import InvalidInput, excerpt
from mlgate.gates import MAX_REASONS
from mlgate.serving._arms import arm_of, key_text
from mlgate.serving._audit import AuditStore, AuditUnavailable, Record
from mlgate.serving._inputs import inputs_of
from mlgate.serving._model import Arm, Follower, Served
from mlgate.serving._tokens import Caller, Tokens

log = logging.getLogger("mlgate.serve")
FORMATS = ("dataframe_split", "dataframe_records", "instances")
"""MLflow's scoring formats for tabular input that /invocations accepts."""
_Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]  # an int is taken too (2**70 is a finite float)
# The signature's ranges, checked here: pandas would wrap 2**63 to -2**63 in an int64 column (and
# the audit would keep 2**63), or fail on 2**70. MLflow's `integer` is int32, `long` int64.
_Long = Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
_Integer = Annotated[int, Strict(), Field(ge=-(2**31), le=2**31 - 1)]
_Text = Annotated[str, Strict()] | None  # null: a missing value (NaN in the model input, as training saw it)
# null in a double column: a missing number, NaN in the model input as a blank cell is for `mlgate
# score` and for training (a pipeline's imputer fills it); an int column cannot hold one (its signature
# says the training data had none)
_FIELD_TYPES: dict[str, Any] = {
    "double": _Number | None,
    "float": _Number | None,
    "long": _Long,
    "integer": _Integer,
    "boolean": Annotated[bool, Strict()],
    "string": _Text,
    "binary": _Text,  # JSON carries these as text (base64, ISO 8601)
    "datetime": _Text,
}


def _not_int(value: Any) -> Any:
    """An int reaching the float member of :data:`_SCALAR` is one ``_Long`` refused: refused, not made a float."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError("an integer outside int64")  # noqa: TRY004 — pydantic reports ValueError, not TypeError
    return value


_SCALAR = (
    Annotated[str, Strict()] | Annotated[bool, Strict()] | _Long | Annotated[_Number, BeforeValidator(_not_int)] | None
)
"""Any other type: one JSON scalar, never a list or an object (nothing nested reaches the model or the audit)."""
_MAX_DEPTH = 200
"""Nesting the JSON parser allows (pydantic-core's jiter); a valid body nests 5 deep at most."""
_SURROGATE = re.compile("[\ud800-\udfff]")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Rejected(Exception):
    """A request refused with ``status`` and ``detail`` (a JSON-able message or list of field problems)."""

    def __init__(self, status: int, detail: Any, reason: str, headers: dict[str, str] | None = None) -> None:
        """``reason`` labels the error counter (auth, invalid, too_large, audit...)."""
        super().__init__(str(detail))
        self.status, self.detail, self.reason, self.headers = status, detail, reason, headers or {}


def list_of(row: type[BaseModel]) -> Any:
    """``list[row]`` for pydantic, of a row model built at run time (so no static type: Any)."""
    return list[row]  # type: ignore[valid-type]  # row is a class value, made from the served signature


def row_model(model: str, version: int, features: list[tuple[str, str]]) -> type[BaseModel]:
    """The pydantic model of one input row: a field per signature column (its name as alias), nothing else."""
    fields: dict[str, Any] = {}
    for index, (column, kind) in enumerate(features):
        fields[f"f{index}"] = (_FIELD_TYPES.get(kind, _SCALAR), Field(alias=column))
    config = ConfigDict(extra="forbid", populate_by_name=False, title=f"{model} v{version} input row")
    return create_model(f"{model.title().replace('-', '')}Row", __config__=config, **fields)


def validate_rows(
    features: list[tuple[str, str]],
    records: list[Any],
    where: str,
    adapter: TypeAdapter[Any] | None = None,
    *,
    fast: bool = True,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """``records`` checked against the signature ``features``: the model's frame and the rows as checked (the audit's).

    The common case takes a vectorised path (:func:`_fast_columns`: one pass per column, the
    frame's arrays built directly, about 20 times faster than pydantic's per-row models); any row
    it does not accept plainly goes through pydantic (``adapter``, else the signature's
    :func:`row_model`), which accepts or names the problem, so the answers and the 422 messages are
    the same either way (``fast=False`` takes pydantic's path only: the tests compare the two).
    """
    names = [c for c, _ in features]
    columns = _fast_columns(records, features) if fast else None
    if columns is not None:
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        arrays = {name: _ARRAYS[kind](columns[name]) for name, kind in features}
        return pd.DataFrame(arrays, index=pd.RangeIndex(len(records))), rows
    if adapter is None:
        adapter = TypeAdapter(list_of(row_model("model", 0, features)))
    try:
        checked = adapter.validate_python(records)
    except ValidationError as err:
        problems = [_problem(where + _path(e["loc"]), e["msg"]) for e in err.errors(include_input=False)[:20]]
        raise Rejected(422, problems, "invalid") from None
    rows = [r.model_dump(by_alias=True) for r in checked]
    # the frame mlgate train fitted on (mlgate.data.model_input): a null category is NaN, not None
    return model_input(pd.DataFrame.from_records(rows, columns=names), features), rows


_EXACT_FLOAT = 2**53
"""Integers up to this size are floats exactly, the same by Python's float() as by pydantic's conversion."""


def _doubles(values: list[Any]) -> list[Any] | None:
    out: list[Any] = []
    for value in values:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):  # 1e400 parses to inf: pydantic says "finite number"
                return None
            out.append(value)
        elif kind is int and -_EXACT_FLOAT <= value <= _EXACT_FLOAT:
            out.append(float(value))  # as pydantic's strict float dumps an int: 30 -> 30.0
        elif value is None:
            out.append(None)
        else:
            return None
    return out


def _ints(low: int, high: int) -> Callable[[list[Any]], list[Any] | None]:
    def check(values: list[Any]) -> list[Any] | None:
        for value in values:
            if type(value) is not int or not low <= value <= high:  # bool is not int here, as in strict mode
                return None
        return values

    return check


def _texts(values: list[Any]) -> list[Any] | None:
    for value in values:
        if value is not None and type(value) is not str:
            return None
    return values


def _booleans(values: list[Any]) -> list[Any] | None:
    for value in values:
        if type(value) is not bool:
            return None
    return values


_CHECKS: dict[str, Callable[[list[Any]], list[Any] | None]] = {
    "double": _doubles,
    "float": _doubles,
    "long": _ints(-(2**63), 2**63 - 1),
    "integer": _ints(-(2**31), 2**31 - 1),
    "boolean": _booleans,
    "string": _texts,
    "binary": _texts,
    "datetime": _texts,
}
"""The vectorised checks: a column's values as the row model dumps them, or None (pydantic then decides)."""


def _object_nan(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = [np.nan if v is None else v for v in values]  # a missing category is NaN, as read_csv gives training
    return array


# the arrays mlgate.data.model_input builds from these values (tests compare the two frames)
_ARRAYS: dict[str, Callable[[list[Any]], np.ndarray]] = {
    "double": lambda v: np.array(v, dtype=np.float64),  # None -> NaN
    "float": lambda v: np.array(v, dtype=np.float64),
    "long": lambda v: np.array(v, dtype=np.int64),
    "integer": lambda v: np.array(v, dtype=np.int64),
    "boolean": lambda v: np.array(v, dtype=bool),
    "string": _object_nan,
    "binary": lambda v: pd.Series(v, dtype=object).to_numpy(),
    "datetime": lambda v: pd.Series(v, dtype=object).to_numpy(),
}


def _fast_columns(records: list[Any], features: list[tuple[str, str]]) -> dict[str, list[Any]] | None:
    """Each signature column's values (as the row model dumps them) when every row plainly fits, else None."""
    names = {c for c, _ in features}
    for row in records:
        if type(row) is not dict or row.keys() != names:  # not an object, a missing or an extra key
            return None
    columns: dict[str, list[Any]] = {}
    for name, kind in features:
        check = _CHECKS.get(kind)
        values = check([row[name] for row in records]) if check is not None else None
        if values is None:
            return None
        columns[name] = values
    return columns


CUSTODY_REASONS = ("alias", "digest", "unpinned", "release")
"""Why the follower refused what the registry holds (mlgate.serving.model.Follower._violation)."""


class Metrics:
    """The service's Prometheus metrics, in a registry of its own; with several workers, summed across them.

    ``multiprocess_dir`` (``mlgate serve --workers N``, N > 1): prometheus_client's multiprocess
    mode (``PROMETHEUS_MULTIPROC_DIR``, set before the workers start): each worker writes its
    samples to files there and ``/metrics``, whichever worker answers, reads them all. Counters and
    the latency histogram are sums over the workers, those that exited included (a counter never
    goes back); the version gauges are per live worker (label ``pid``): a promotion shows as every
    worker's ``mlgate_serve_model_version`` moving. The gauges are set after each poll of the alias
    (not read at scrape time: another worker's values cannot be).
    """

    def __init__(self, follower: Follower, multiprocess_dir: str | None = None) -> None:
        """Counters, the latency histogram and the served version's gauges."""
        self.registry = CollectorRegistry()
        self.follower, self.multiprocess_dir = follower, multiprocess_dir
        labels = {"model": follower.ctx.name, "alias": follower.stage}
        self.requests = Counter(
            "mlgate_serve_requests", "HTTP requests by route and status", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "mlgate_serve_request_seconds",
            "request latency by route (auth, checks, model, audit write)",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "mlgate_serve_errors", "refused or failed requests by reason", ["reason"], registry=self.registry
        )
        self.predictions = Counter(
            "mlgate_serve_predictions", "rows predicted and audited", ["version"], registry=self.registry
        )

        def gauge(name: str, doc: str, names: list[str]) -> Gauge:
            # liveall: one series per live worker (pid label), dropped when the worker is marked dead
            return Gauge(name, doc, names, registry=self.registry, multiprocess_mode="liveall")

        self.version = gauge("mlgate_serve_model_version", "version served", list(labels)).labels(**labels)
        self.alias = gauge(
            "mlgate_serve_alias_version", "version the alias points at (last poll)", list(labels)
        ).labels(**labels)
        self.failed = gauge("mlgate_serve_model_load_failures", "failed loads of a new version", [])
        self.desired = gauge(
            "mlgate_serve_release_version",
            "version release.yaml asks for at the served git ref (last poll; 0: none)",
            list(labels),
        ).labels(**labels)
        # alias: moved outside a merged promotion; digest: files differ from the pin; unpinned; release: unreadable
        self.custody = Counter(
            "mlgate_serve_custody_violations",
            "discrepancies between release.yaml and the registry (the last verified version kept serving)",
            ["reason"],
            registry=self.registry,
        )
        for reason in CUSTODY_REASONS:
            self.custody.labels(reason)
        follower.on_violation = lambda reason: self.custody.labels(reason).inc()
        # the arms: stable, and the canary or shadow release.yaml asks for beside it
        self.arm_rows = Counter(
            "mlgate_serve_arm_rows",
            "rows scored per arm and version (shadow rows are scored and audited, never answered)",
            ["arm", "version"],
            registry=self.registry,
        )
        self.arm_requests = Counter(
            "mlgate_serve_arm_requests", "requests with rows scored by the arm", ["arm"], registry=self.registry
        )
        self.arm_seconds = Histogram(
            "mlgate_serve_arm_model_seconds",
            "time the arm's model took on a request's rows (shadow: off the answer's path)",
            ["arm"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.arm_errors = Counter(
            "mlgate_serve_arm_errors",
            "candidate failures (canary rows then answered by the stable version; shadow rows then not scored; "
            "shadow_skipped: the shadow's queue was full)",
            ["arm", "reason"],
            registry=self.registry,
        )
        self.arm_custody = Counter(
            "mlgate_serve_arm_custody_violations",
            "discrepancies between release.yaml and the registry for the candidate (then not served: all stable)",
            ["arm", "reason"],
            registry=self.registry,
        )
        arm_labels = ["model", "arm", "alias"]
        self.arm_version = gauge("mlgate_serve_arm_version", "version each arm serves (0: none)", arm_labels)
        self.arm_release = gauge(
            "mlgate_serve_arm_release_version", "version release.yaml asks for per arm (last poll; 0: none)", arm_labels
        )
        self.canary_traffic = gauge(
            "mlgate_serve_canary_traffic",
            "fraction of keys the canary answers (0: no canary served)",
            ["model", "stage"],
        ).labels(follower.ctx.name, follower.stage)
        for kind in ArmKind:
            self.arm_requests.labels(kind.value)
        follower.candidate.on_violation = lambda arm, reason: self.arm_custody.labels(arm, reason).inc()
        follower.on_poll = self.refresh
        self.refresh()

    def refresh(self) -> None:
        """Set the gauges from the follower's last poll."""
        follower = self.follower
        self.version.set(follower.current.version)
        self.alias.set(follower.alias_version or 0)
        self.failed.set(follower.failed_loads)
        self.desired.set(follower.release_version or 0)
        name, stage, candidate = follower.ctx.name, follower.stage, follower.candidate
        arm = candidate.arm
        for kind in ArmKind:
            alias = arm_alias(stage, kind)
            if kind == ArmKind.STABLE:
                served, asked = follower.current.version, follower.release_version or 0
            else:
                served = arm.served.version if arm is not None and arm.kind == kind else 0
                wanted = candidate.wanted if candidate.kind == kind else None
                asked = (wanted.version if wanted is not None else None) or 0
            self.arm_version.labels(name, kind.value, alias).set(served)
            self.arm_release.labels(name, kind.value, alias).set(asked or 0)
        self.canary_traffic.set(arm.traffic if arm is not None and arm.kind == ArmKind.CANARY else 0.0)

    def exposition(self) -> bytes:
        """The Prometheus text: this process's registry, or every worker's samples in multiprocess mode."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self.multiprocess_dir)
        return generate_latest(merged)

    def worker_exited(self) -> None:
        """The worker stops: its per-worker gauges go (its counts stay in the sums)."""
        if self.multiprocess_dir is not None:
            multiprocess.mark_process_dead(os.getpid(), self.multiprocess_dir)


COMPUTE_THREADS = 2
"""Requests checked and decided at once in one worker (the model's C code may use a second core)."""


class GroupCommit:
    """Audit writes of concurrent requests committed together: one transaction, one commit (and fsync) per batch.

    A request's thread hands its record to the writer thread and waits for the outcome of the
    transaction that holds it: it answers only once its rows are committed, and a failed commit
    fails every request of that batch (each is 503, nothing of the batch recorded). Alone, a
    request is written at once (no waiting for company); under load, the requests that arrive
    while a commit runs go together in the next one. A SQLite commit with ``synchronous=FULL``
    waits for the disk (milliseconds; tens on a busy disk), which is what this shares.
    """

    MAX_ROWS = 10_000
    """Rows per transaction at most (a batch is cut between requests, never inside one)."""

    def __init__(self, audit: AuditStore, lock_file: str | None = None) -> None:
        """Write to ``audit``; the writer thread starts with :meth:`start`.

        ``lock_file`` (several workers on one SQLite file): each transaction is taken under an
        exclusive ``flock`` of it, so the workers' writers queue in the kernel, which wakes the
        next one the moment the lock is free, instead of in SQLite's busy handler, which polls
        with sleeps of up to 100 ms.
        """
        self.audit, self.lock_file = audit, lock_file
        self._lock_fd: int | None = None
        self._pending: list[tuple[list[Record], Future[None]]] = []
        self._ready = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="mlgate-audit-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        if self.lock_file is not None:
            self._lock_fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        self._thread.start()

    def stop(self) -> None:
        """Write what is pending, then stop the writer thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write(self, *records: Record) -> None:
        """Return once ``records`` (one request's, an arm each) are committed together; else AuditUnavailable."""
        done: Future[None] = Future()
        with self._ready:
            if self._stopping or not self._thread.is_alive():
                raise AuditUnavailable("the audit writer is not running (the service is stopping)")
            self._pending.append((list(records), done))
            self._ready.notify()
        done.result()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._stopping:
                    self._ready.wait()
                if not self._pending:
                    return  # stopping, nothing left
                batch: list[tuple[list[Record], Future[None]]] = []
                rows = 0
                while self._pending and (not batch or rows + _rows(self._pending[0][0]) <= self.MAX_ROWS):
                    item = self._pending.pop(0)
                    batch.append(item)
                    rows += _rows(item[0])
            try:
                self._commit([record for records, _ in batch for record in records])
            except BaseException as err:  # noqa: BLE001 — whatever failed, every request of the batch is told
                failure = err if isinstance(err, AuditUnavailable) else AuditUnavailable(f"{type(err).__name__}: {err}")
                for _, done in batch:
                    done.set_exception(failure)
                # each request re-raises it, adding its frames (and the version they served) to its
                # traceback: kept in this frame until the next failure, it kept a swapped-out version alive
                del failure, batch
            else:
                for _, done in batch:
                    done.set_result(None)

    def _commit(self, records: list[Record]) -> None:
        if self._lock_fd is None:
            self.audit.write_many(records)
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # held for one transaction (bounded by the store's timeout)
        try:
            self.audit.write_many(records)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


def _rows(records: list[Record]) -> int:
    return sum(len(record.rows) for record in records)


class Service:
    """What the routes share: the follower, the audit store, the tokens, the limits, the metrics."""

    def __init__(
        self,
        follower: Follower,
        audit: AuditStore,
        tokens: Tokens,
        *,
        max_rows: int,
        max_body_bytes: int,
        multiprocess_dir: str | None = None,
        write_lock: str | None = None,
        arm_key: str | None = None,
    ) -> None:
        """See :func:`create_app`."""
        self.follower, self.audit, self.tokens, self.arm_key = follower, audit, tokens, arm_key
        self.max_rows, self.max_body_bytes = max_rows, max_body_bytes
        self.metrics = Metrics(follower, multiprocess_dir)
        self.writer = GroupCommit(audit, write_lock)
        self.shadow = Shadow(self)
        # Checks and model in at most this many threads at once: more only share one GIL (round-robin
        # switching made every request as slow as the slowest); the rest wait their turn, in order
        self._computing = threading.BoundedSemaphore(COMPUTE_THREADS)
        self._adapters: dict[int, TypeAdapter[Any]] = {}

    def caller(self, request: Request) -> Caller:
        """The authenticated caller of ``request``: 401 without a valid bearer token, 403 if not granted this model."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="mlgate"'}
        if scheme.lower() != "bearer" or not token.strip():
            raise Rejected(401, "missing bearer token (Authorization: Bearer <token>)", "auth", challenge)
        caller = self.tokens.check(token.strip())
        if caller is None:
            raise Rejected(401, "invalid bearer token", "auth", challenge)
        model = self.follower.ctx.name
        if not caller.may_call(model):
            log.warning("caller %s refused: not granted model %s", caller.id, model)
            raise Rejected(403, f"caller {caller.id} is not granted model {model}", "forbidden")
        return caller

    def rows(self, served: Served, records: list[Any], where: str) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
        """Check ``records`` against ``served``'s signature: the typed frame and the rows as given (for the audit)."""
        if len(records) > self.max_rows:
            raise Rejected(
                422, [_problem(where, f"{len(records)} rows; at most {self.max_rows} per request")], "invalid"
            )
        if not records:
            raise Rejected(422, [_problem(where, "no rows")], "invalid")
        adapter = self._adapters.get(served.version)
        if adapter is None:
            adapter = TypeAdapter(
                list_of(row_model(served.plan.lineage["mlgate_model"], served.version, served.plan.features))
            )
            self._adapters = {served.version: adapter}  # one version at a time: the old one is gone
        return validate_rows(served.plan.features, records, where, adapter)

    def keys(self, served: Served, records: list[Any], where: str) -> tuple[list[Any], list[str | None] | None]:
        """The records to check and each row's arm key (None: no ``--arm-key``/``serving.arm_key``).

        A key column of the signature is read from the checked rows (:meth:`feature_keys`); any
        other is taken out of each row here (the model never sees it). A row without it, or with
        null, is routed by the request id; a key that is not a string or a number is 422.
        """
        column = self.arm_key
        if column is None or any(name == column for name, _ in served.plan.features):
            return records, None
        kept, keys = [], []
        for at, record in enumerate(records):
            value = None
            if type(record) is dict and column in record:
                value = record[column]
                record = {k: v for k, v in record.items() if k != column}
            try:
                keys.append(key_text(value))
            except ValueError as err:
                raise Rejected(422, [_problem(f"{where}[{at}].{column}", str(err))], "invalid") from None
            kept.append(record)
        return kept, keys

    def sensitive(self, served: Served, records: list[Any]) -> tuple[list[Any], list[dict[str, Any]] | None]:
        """Take the spec's sensitive features outside the signature out of each row, to audit beside it.

        A client may send them so ``mlgate monitor --compare`` can judge the fairness rules per arm;
        the model never sees them. None when no row carries one.
        """
        known = {name for name, _ in served.plan.features}
        names = [f.name for f in self.follower.ctx.spec.sensitive_features if f.name not in known]
        if not names or not any(type(r) is dict and any(n in r for n in names) for r in records):
            return records, None
        kept: list[Any] = []
        beside: list[dict[str, Any]] = []
        for record in records:
            if type(record) is not dict:
                kept.append(record)
                beside.append({})
                continue
            beside.append({n: record[n] for n in names if n in record})
            kept.append({k: v for k, v in record.items() if k not in names})
        return kept, beside

    def predict(
        self, caller: Caller, records: list[Any], where: str, started: float, reasons: int | None = None
    ) -> dict[str, Any]:
        """Decide ``records`` with the arms served now, audit them, and the answer (runs in a worker thread).

        Canary: each row goes to the arm :func:`mlgate.serving.arm_of` gives its key (the request
        id without one); the canary's rows are decided by it, the others by the stable version,
        and the answer keeps the request's order, each row naming its arm and version. A canary
        that fails on its rows (its signature refuses them, its model raises) has them decided by
        the stable version, counted and logged. Shadow: the stable version answers; once its rows
        are audited, the shadow scores the same rows off the answer's path (:class:`Shadow`).
        ``reasons``: each answered row's output also holds its top reasons, by the version that decided
        it (answered and audited alike; shadow rows carry none).
        """
        served = self.follower.current  # taken once: an alias swap during this request does not affect it
        arm = self.follower.candidate.arm  # the candidate too (a drained one finishes this request)
        request_id = uuid.uuid4().hex
        model, stage = self.follower.ctx.name, self.follower.stage
        with self._computing:  # the CPU-bound part, a few requests at a time (the audit wait is outside)
            records, keys = self.keys(served, records, where)
            records, beside = self.sensitive(served, records)
            frame, rows = self.rows(served, records, where)
            if beside is not None:  # audited with the row (compare's fairness per arm), never given to the model
                rows = [row | extra for row, extra in zip(rows, beside, strict=True)]
            if keys is None and self.arm_key is not None:  # the key is a feature: its value as checked
                keys = [_feature_key(row[self.arm_key]) for row in rows]
            picked: list[int] = []
            if arm is not None and arm.kind == ArmKind.CANARY:
                canary_arm = ArmKind.CANARY
                if keys is None:  # the request id: every row on one arm
                    whole = arm_of(model, stage, request_id, arm.traffic) == canary_arm
                    picked = list(range(len(rows))) if whole else []
                else:
                    picked = [
                        i
                        for i, k in enumerate(keys)
                        if arm_of(model, stage, k or request_id, arm.traffic) == canary_arm
                    ]
            canary: list[dict[str, Any]] | None = None
            if picked and arm is not None:
                canary = self._canary(arm, served, frame, records, picked, where)
                if canary is None:
                    picked = []  # the canary failed on them: decided by the stable version below
            if picked:
                chosen = set(picked)
                stable_rows = [i for i in range(len(rows)) if i not in chosen]
                outputs = self._timed(ArmKind.STABLE, served, frame.iloc[stable_rows]) if stable_rows else []
            else:
                stable_rows = list(range(len(rows)))
                outputs = self._timed(ArmKind.STABLE, served, frame)
            explained = None  # the answer's `reasons` block: the stable rows' method, else the canary's
            if reasons and stable_rows:
                explained = _add_reasons(served, frame.iloc[stable_rows], outputs, reasons)
            if reasons and picked and arm is not None and canary is not None:  # the canary explains its own rows
                mine = candidate_frame(arm.served, served, frame.iloc[picked], [records[i] for i in picked], where)
                by_canary = _add_reasons(arm.served, mine, canary, reasons)
                explained = explained or by_canary
        at = datetime.now(UTC)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        stable = self._record(request_id, at, caller, served, ArmKind.STABLE, self.follower.stage, latency_ms)
        records_out = [
            replace_rows(stable, [(rows[i], o) for i, o in zip(stable_rows, outputs, strict=True)], stable_rows, keys)
        ]
        if not stable_rows:
            records_out = []  # the canary took every row
        if picked and arm is not None and canary is not None:
            record = self._record(request_id, at, caller, arm.served, ArmKind.CANARY, arm.alias, latency_ms)
            records_out.append(
                replace_rows(record, [(rows[i], o) for i, o in zip(picked, canary, strict=True)], picked, keys)
            )
        try:
            self.writer.write(*records_out)
        except AuditUnavailable as err:
            log.error("request %s refused: audit store unavailable: %s", request_id, err)
            raise Rejected(
                503, f"audit store unavailable, nothing predicted: {err}", "audit", {"Retry-After": "5"}
            ) from None
        self.metrics.predictions.labels(str(served.version)).inc(len(rows))
        answers: list[dict[str, Any]] = [{} for _ in rows]
        for record in records_out:
            self.metrics.arm_rows.labels(record.arm, str(record.version)).inc(len(record.rows))
            self.metrics.arm_requests.labels(record.arm).inc()
            extra = {"arm": record.arm, "version": record.version}
            for i, (_, out) in zip(record.numbers or (), record.rows, strict=True):
                answers[i] = {**out, **extra}
        if arm is not None and arm.kind == ArmKind.SHADOW:
            self.shadow.submit(arm, served, request_id, at, caller.id, frame, rows, records, keys, where)
        return {
            "request_id": request_id,
            "model": model,
            "alias": stage,
            "version": served.version,
            "predictions": answers,
        } | ({"reasons": explained} if explained else {})

    def _timed(self, kind: ArmKind, served: Served, frame: pd.DataFrame) -> list[dict[str, Any]]:
        began = time.perf_counter()
        outputs = served.predict(frame)
        self.metrics.arm_seconds.labels(kind.value).observe(time.perf_counter() - began)
        return outputs

    def _canary(
        self, arm: Arm, served: Served, frame: pd.DataFrame, records: list[Any], picked: list[int], where: str
    ) -> list[dict[str, Any]] | None:
        """The canary's outputs for the rows ``picked``, or None when it failed on them (counted, logged)."""
        try:
            rows = candidate_frame(arm.served, served, frame.iloc[picked], [records[i] for i in picked], where)
            return self._timed(ArmKind.CANARY, arm.served, rows)
        except Rejected:
            self.metrics.arm_errors.labels("canary", "invalid").inc()
            log.error(
                "canary v%s refused rows its signature does not take: the stable version decided them",
                arm.served.version,
            )
        except Exception:
            self.metrics.arm_errors.labels("canary", "model").inc()
            log.exception("canary v%s failed: the stable version decided its rows", arm.served.version)
        return None

    def _record(
        self,
        request_id: str,
        at: datetime,
        caller: Caller,
        served: Served,
        kind: ArmKind,
        alias: str,
        latency_ms: float,
    ) -> Record:
        return Record(
            request_id=request_id,
            at=at,
            caller=caller.id,
            model=self.follower.ctx.name,
            version=served.version,
            alias=alias,
            run_id=served.run_id,
            latency_ms=latency_ms,
            rows=[],
            inputs=inputs_of(served.plan.features, served.plan.task, served.plan.positive),  # typed for monitor
            arm=kind.value,
        )


def _add_reasons(served: Served, frame: pd.DataFrame, outputs: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Each row's top ``k`` reasons in its output, and how; 501 naming what is missing when this version has none."""
    try:
        return served.add_reasons(frame, outputs, k)
    except InvalidInput as err:  # shap not installed (MissingExtra), no reference values for the fallback
        hint = f" ({err.hint})" if err.hint else ""
        why = f"reason codes are not available for v{served.version}: {err.message}{hint}"
        raise Rejected(501, why, "reasons") from None
    except Exception:
        log.exception("reason codes of v%s failed", served.version)
        raise


REASONS_PARAMETER = {
    "name": "reasons",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_REASONS},
    "description": "Add each row's top K reasons, [{feature, value, contribution}] by |contribution|; audited too.",
}
"""``?reasons=K`` on /predict and /invocations, as the OpenAPI document shows it."""


def _reasons_asked(request: Request) -> int | None:
    """``?reasons=K`` (checked after the token, like the body): 1 to :data:`MAX_REASONS`, else 422."""
    raw = request.query_params.get("reasons")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_REASONS:
        raise Rejected(422, [_problem("reasons", f"expected an integer from 1 to {MAX_REASONS}")], "invalid")
    return int(raw)


def _feature_key(value: Any) -> str | None:
    """A signature column's checked value as an arm key (a value that cannot be one: the request id keys the row)."""
    try:
        return key_text(value)
    except ValueError:
        return None


def candidate_frame(
    candidate: Served, stable: Served, frame: pd.DataFrame, records: list[Any], where: str
) -> pd.DataFrame:
    """``frame`` (checked against the stable signature) as the candidate takes it: checked again if it differs."""
    if candidate.plan.features == stable.plan.features:
        return frame
    return validate_rows(candidate.plan.features, records, where)[0]


SHADOW_QUEUE = 64
"""Requests waiting for the shadow at most; more are not shadow-scored (counted: ``shadow_skipped``)."""


@dataclass(frozen=True)
class _ShadowJob:
    arm: Arm
    stable: Served
    request_id: str
    at: datetime
    caller: str
    frame: pd.DataFrame
    rows: list[dict[str, Any]]
    records: list[Any]
    keys: list[str | None] | None
    where: str


class Shadow:
    """Scores each request's rows with the shadow version after the stable answer, off the answer's path.

    One thread takes the requests in order from a queue of :data:`SHADOW_QUEUE`: a request hands
    its rows over (after its own audit rows are committed) and answers without waiting, so the
    shadow's latency never adds to the caller's, and its failures never reach the caller. The
    bounded cost: one more thread computing beside the request threads, and at most
    ``SHADOW_QUEUE`` requests' rows held; a request arriving at a full queue is not shadow-scored.
    Each failure (rows the shadow's signature refuses, its model raising, its audit write failing,
    the queue full) is counted in ``mlgate_serve_arm_errors{arm="shadow"}`` and logged. The
    shadow's audit rows (arm ``shadow``, its alias, its version; ``latency_ms`` its own scoring
    time) are committed in their own transaction.
    """

    def __init__(self, service: Service) -> None:
        """Score for ``service`` (its writer, metrics and model name); the thread starts with :meth:`start`."""
        self.service = service
        self._queue: queue.Queue[_ShadowJob | None] = queue.Queue(SHADOW_QUEUE)
        self._thread = threading.Thread(target=self._run, name="mlgate-shadow", daemon=True)

    def start(self) -> None:
        """Start the shadow's thread."""
        self._thread.start()

    def stop(self) -> None:
        """Score what is queued, then stop (before the audit writer stops)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)

    def submit(
        self,
        arm: Arm,
        stable: Served,
        request_id: str,
        at: datetime,
        caller: str,
        frame: pd.DataFrame,
        rows: list[dict[str, Any]],
        records: list[Any],
        keys: list[str | None] | None,
        where: str,
    ) -> None:
        """Queue one request's rows for the shadow (never blocks: a full queue skips it, counted)."""
        try:
            self._queue.put_nowait(_ShadowJob(arm, stable, request_id, at, caller, frame, rows, records, keys, where))
        except queue.Full:
            self.service.metrics.arm_errors.labels("shadow", "shadow_skipped").inc()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            self.score(job)

    def score(self, job: _ShadowJob) -> None:
        """Score and audit one request's rows with the shadow; count and log any failure (never raises)."""
        metrics, served = self.service.metrics, job.arm.served
        began = time.perf_counter()
        try:
            frame = candidate_frame(served, job.stable, job.frame, job.records, job.where)
            outputs = served.predict(frame)
        except Rejected:
            metrics.arm_errors.labels("shadow", "invalid").inc()
            log.error("shadow v%s refused request %s's rows (its signature differs)", served.version, job.request_id)
            return
        except Exception:
            metrics.arm_errors.labels("shadow", "model").inc()
            log.exception("shadow v%s failed on request %s", served.version, job.request_id)
            return
        seconds = time.perf_counter() - began
        metrics.arm_seconds.labels("shadow").observe(seconds)
        record = Record(
            request_id=job.request_id,
            at=job.at,
            caller=job.caller,
            model=self.service.follower.ctx.name,
            version=served.version,
            alias=job.arm.alias,
            run_id=served.run_id,
            latency_ms=round(seconds * 1000, 3),
            rows=list(zip(job.rows, outputs, strict=True)),
            inputs=inputs_of(served.plan.features, served.plan.task, served.plan.positive),
            arm=ArmKind.SHADOW.value,
            keys=tuple(job.keys) if job.keys is not None else None,
        )
        try:
            self.service.writer.write(record)
        except AuditUnavailable as err:
            metrics.arm_errors.labels("shadow", "audit").inc()
            log.error("shadow rows of request %s not recorded: audit store unavailable: %s", job.request_id, err)
            return
        metrics.arm_rows.labels("shadow", str(served.version)).inc(len(record.rows))
        metrics.arm_requests.labels("shadow").inc()


def replace_rows(
    record: Record, rows: list[tuple[dict[str, Any], dict[str, Any]]], numbers: list[int], keys: list[str | None] | None
) -> Record:
    """``record`` holding ``rows`` (the request's rows ``numbers``) and their arm keys."""
    picked = tuple(keys[i] for i in numbers) if keys is not None else None
    return dataclasses.replace(record, rows=rows, numbers=tuple(numbers), keys=picked)


def create_app(
    follower: Follower,
    audit: AuditStore,
    tokens: Tokens,
    *,
    max_rows: int = 1000,
    max_body_bytes: int = 1 << 20,
    multiprocess_dir: str | None = None,
    write_lock: str | None = None,
    arm_key: str | None = None,
) -> FastAPI:
    """The FastAPI application serving ``follower``'s model; ``/predict``'s schema is the current signature's.

    Its lifespan starts the alias follower when the server starts and, at shutdown (after the
    requests in flight were answered), stops it and closes the audit store's connections.
    ``multiprocess_dir``: one of several workers (see :class:`Metrics`); ``write_lock``: the file
    their audit writers take turns on (SQLite; see :class:`GroupCommit`); ``arm_key``: the column
    whose value routes a row to the canary or the stable version (None: the request id).
    """
    service = Service(
        follower,
        audit,
        tokens,
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
        multiprocess_dir=multiprocess_dir,
        write_lock=write_lock,
        arm_key=arm_key,
    )
    # the version served at start, by number: a closure holding its Served would keep that version's
    # model and downloaded folder alive after the follower swapped it out, until the process ended
    first = follower.current.version
    features = follower.current.plan.features
    name = follower.ctx.name

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.writer.start()
        service.shadow.start()
        follower.start()
        log.info("worker %d started: %s v%s, polling every %g s", os.getpid(), name, first, follower.interval)
        try:
            yield
        finally:
            follower.stop()
            service.shadow.stop()  # the shadow's queued rows are scored and audited first
            service.writer.stop()  # uvicorn answered the requests in flight first: nothing is pending
            audit.close()
            follower.close()  # no request holds a version any more: its downloaded files go
            service.metrics.worker_exited()
            log.info("worker %d stopped", os.getpid())

    app = FastAPI(
        lifespan=lifespan,
        title=f"mlgate serve {name}@{follower.stage}",
        description=(
            f"Decisions of models:/{name}@{follower.stage} (the alias is followed; the version answers in each "
            "response). Every prediction is audited before it is answered. Bearer token required."
        ),
        version=str(first),
    )
    app.state.service = service
    row = row_model(name, first, features)
    request_model = create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        rows=(list_of(row), Field(min_length=1, max_length=max_rows)),
    )
    predict_schema = TypeAdapter(request_model).json_schema(ref_template="#/components/schemas/{model}")
    components = predict_schema.pop("$defs", {})

    app.add_middleware(_Measure, service=service, max_body_bytes=max_body_bytes)

    @app.exception_handler(Rejected)
    async def rejected(_request: Request, err: Rejected) -> Response:
        return _refusal(err, service)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError) -> Response:
        problems = [_problem(_path(e["loc"]).lstrip("."), e["msg"]) for e in err.errors()[:20]]
        return _refusal(Rejected(422, problems, "invalid"), service)

    @app.exception_handler(Exception)
    async def failed(request: Request, err: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        service.metrics.errors.labels("internal").inc()
        return JSONResponse({"detail": "internal error (see the service log)"}, status_code=500)

    @app.post(
        "/invocations",
        summary="MLflow scoring formats: dataframe_split, dataframe_records, instances",
        openapi_extra={"parameters": [REASONS_PARAMETER]},
    )
    async def invocations(request: Request) -> Response:
        caller = service.caller(request)
        reasons = _reasons_asked(request)
        body = await _json(request, max_body_bytes)
        records, where = _mlflow_records(body)
        # a JSONResponse of plain JSON types: FastAPI's encoder walk of every row would cost more than the model
        return JSONResponse(
            await run_in_threadpool(service.predict, caller, records, where, request.state.started, reasons)
        )

    @app.post(
        "/predict",
        summary="Typed rows (the signature of the version served at start; the served version checks)",
        openapi_extra={
            "parameters": [REASONS_PARAMETER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": predict_schema}}},
        },
    )
    async def predict(request: Request) -> Response:
        caller = service.caller(request)
        reasons = _reasons_asked(request)
        body = await _json(request, max_body_bytes)
        if not isinstance(body, dict) or set(body) != {"rows"} or not isinstance(body["rows"], list):
            raise Rejected(422, [_problem("rows", 'expected {"rows": [{column: value, ...}, ...]}')], "invalid")
        return JSONResponse(
            await run_in_threadpool(service.predict, caller, body["rows"], "rows", request.state.started, reasons)
        )

    @app.get("/health", summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: a version is loaded and the audit store takes a write (probe rolled back)")
    def ready() -> Response:
        state = follower.state()
        audit_problem = audit.ping()
        state["audit_store"] = audit.shown
        if audit_problem:
            state["problems"].append(f"audit store unavailable: {audit_problem}")
        state["ready"] = not audit_problem
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    def metrics() -> Response:
        return PlainTextResponse(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return schema

    # FastAPI's documented way to extend the generated schema is to replace app.openapi
    app.openapi = openapi  # type: ignore[method-assign]
    return app


class _Measure:
    """Counts and times every request, refuses a declared body over the limit (413) before anything reads it.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` (BaseHTTPMiddleware) runs
    each request through an extra task and memory streams, a cost measured per request here.
    """

    def __init__(self, app: ASGIApp, service: Service, max_body_bytes: int) -> None:
        """Wrap ``app``; ``service`` holds the metrics."""
        self.app, self.service, self.limit = app, service, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (other scopes, lifespan included, pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        route = path if path in _ROUTES else "other"
        status = 500  # unless a response starts: an error no handler answered

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                refusal = _refusal(Rejected(413, f"body over {self.limit} bytes", "too_large"), self.service)
                await refusal(scope, receive, sent)
            else:
                scope.setdefault("state", {})["started"] = started  # request.state.started
                await self.app(scope, receive, sent)
        finally:
            self.service.metrics.requests.labels(route, str(status)).inc()
            self.service.metrics.latency.labels(route).observe(time.perf_counter() - started)


_ROUTES = {"/invocations", "/predict", "/health", "/ready", "/metrics", "/docs", "/openapi.json"}


def _refusal(err: Rejected, service: Service) -> JSONResponse:
    service.metrics.errors.labels(err.reason).inc()
    return JSONResponse({"detail": err.detail}, status_code=err.status, headers=err.headers)


async def _json(request: Request, limit: int) -> Any:
    """The body parsed as JSON; 413 past ``limit`` bytes (also without a Content-Length), 422 when not JSON."""
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, f"body over {limit} bytes", "too_large")
        chunks.append(chunk)
    return parse_body(b"".join(chunks))


def parse_body(raw: bytes) -> Any:
    """``raw`` as JSON, strictly: UTF-8, no NaN/Infinity, no lone surrogate, at most 200 levels deep; else 422.

    pydantic-core's parser (jiter) refuses all of these itself, and is faster than ``json.loads``
    (which would accept ``"\\ud800"``, a string the audit store and ``mlgate monitor`` cannot hold, and
    NaN, and recurse until RecursionError). Integers stay exact Python ints, so the signature's range
    check sees ``2**70`` as sent. Only a refused body is parsed again, leniently, to name the field.
    """
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark: allowed before JSON text (RFC 8259)
        raw = raw[3:]
    try:
        return from_json(raw, allow_inf_nan=False)
    except ValueError as err:
        if "recursion limit" in str(err):
            problem = _problem("body", f"nested deeper than {_MAX_DEPTH} levels (a row holds JSON scalars only)")
        else:
            field, why = _locate(raw)
            problem = _problem(field, why or f"not JSON ({err})")
        raise Rejected(422, [problem], "invalid") from None


def _locate(raw: bytes) -> tuple[str, str]:
    """Where a body the strict parser refused holds text that is not Unicode: (field, message), else ("body", "")."""
    try:
        # invalid UTF-8 bytes become lone surrogates too; NaN parses but finds no surrogate
        body = json.loads(raw.decode("utf-8", errors="surrogateescape"))
    except (ValueError, RecursionError):
        return "body", ""
    found = _surrogate_at(body, "")
    if found is None:
        return "body", ""
    field, in_key = found
    cell = re.fullmatch(r"\.dataframe_split\.data\[(\d+)\]\[(\d+)\](.*)", field)
    split = body.get("dataframe_split") if cell and isinstance(body, dict) else None
    columns = split.get("columns") if isinstance(split, dict) else None
    if cell and isinstance(columns, list) and int(cell[2]) < len(columns) and isinstance(columns[int(cell[2])], str):
        field = f".dataframe_split.data[{cell[1]}].{columns[int(cell[2])]}{cell[3]}"  # named as the row checks name it
    what = "a key" if in_key else "the value"
    return field.lstrip(".") or "body", f"{what} is not Unicode text (a lone surrogate or a byte that is not UTF-8)"


def _surrogate_at(value: Any, at: str) -> tuple[str, bool] | None:
    """The path of the first string (or key: then True) holding a lone surrogate, iteratively (no recursion limit)."""
    stack: list[tuple[Any, str]] = [(value, at)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return where, False
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                if _SURROGATE.search(key):
                    return where, True
                stack.append((inner, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]") for i, inner in reversed(list(enumerate(item))))
    return None


def _mlflow_records(body: Any) -> tuple[list[Any], str]:
    """Rows (dicts) from one of MLflow's formats, and the field name errors are located under."""
    keys = sorted(set(body) & set(FORMATS)) if isinstance(body, dict) else []
    if len(keys) != 1 or set(body) - {keys[0], "params"}:
        raise Rejected(
            422, [_problem("body", f"expected an object with exactly one of {', '.join(FORMATS)}")], "invalid"
        )
    key = keys[0]
    value = body[key]
    _check_params(body.get("params"))
    if key in ("dataframe_records", "instances"):
        if not isinstance(value, list):
            raise Rejected(422, [_problem(key, "expected a list of {column: value} objects")], "invalid")
        return value, key
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("columns"), list)
        or not isinstance(value.get("data"), list)
    ):
        raise Rejected(422, [_problem(key, 'expected {"columns": [...], "data": [[...], ...]}')], "invalid")
    columns = value["columns"]
    if set(value) - {"columns", "data", "index"}:
        raise Rejected(
            422,
            [_problem(key, f"unexpected key(s) {_excerpts(sorted(set(value) - {'columns', 'data', 'index'}))}")],
            "invalid",
        )
    for at, column in enumerate(columns):
        if not isinstance(column, str):
            raise Rejected(422, [_problem(f"{key}.columns[{at}]", "a column name must be a string")], "invalid")
    if len(set(columns)) != len(columns):
        counted: collections.Counter[str] = collections.Counter(columns)
        twice = sorted(c for c, n in counted.items() if n > 1)[:10]
        raise Rejected(422, [_problem(f"{key}.columns", f"column(s) named twice: {_excerpts(twice)}")], "invalid")
    index = value.get("index")
    if index is not None and (not isinstance(index, list) or any(isinstance(i, (list, dict)) for i in index)):
        raise Rejected(422, [_problem(f"{key}.index", "expected a list of labels (JSON scalars)")], "invalid")
    records = []
    for at, row in enumerate(value["data"]):
        if not isinstance(row, list) or len(row) != len(columns):
            raise Rejected(
                422,
                [_problem(f"{key}.data[{at}]", f"expected a list of {len(columns)} values (one per column)")],
                "invalid",
            )
        records.append(dict(zip(columns, row, strict=True)))
    return records, f"{key}.data"


def _check_params(params: Any) -> None:
    """MLflow's ``params``: an object of scalars or lists of scalars (mlgate's models take none: checked, not kept)."""
    if params is None:
        return
    if not isinstance(params, dict):
        raise Rejected(422, [_problem("params", "expected an object {name: value}")], "invalid")
    for name, value in params.items():
        inner = value if isinstance(value, list) else [value]
        if any(isinstance(v, (list, dict)) for v in inner):
            raise Rejected(422, [_problem(f"params.{name}", "expected a JSON scalar or a list of them")], "invalid")


def _path(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc if p != "body")


def _excerpts(names: list[str]) -> str:
    """Names from a request body as a 422 lists them: at most ten, each bounded (:func:`mlgate.exceptions.excerpt`)."""
    return "[" + ", ".join(excerpt(n) for n in names[:10]) + "]"


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}

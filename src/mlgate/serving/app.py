"""The HTTP service: FastAPI routes, bearer auth, input limits, audit-before-answer, Prometheus metrics.

Routes: ``POST /invocations`` (MLflow's scoring formats: ``dataframe_split``,
``dataframe_records``, ``instances``), ``POST /predict`` (``{"rows": [...]}``, its request model
generated from the signature: see ``/docs``), ``GET /health`` (the process is up), ``GET /ready``
(a version is loaded and the audit store answers; 503 otherwise; ``problems`` says what is wrong
even while it serves), ``GET /metrics`` (Prometheus text).

A prediction request goes: size limit (413) → bearer token (401, 403) → JSON and rows checked
against the served version's signature (422 naming the field) → the version's decision →
audit rows committed (503 if that fails, without the predictions) → the answer. Any other error
is a 500 with the request id only: the traceback goes to the log, never to the caller.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter, ValidationError, create_model

from mlgate.serving.audit import AuditStore, AuditUnavailable, Record
from mlgate.serving.model import Follower, Served
from mlgate.serving.tokens import Caller, Tokens

log = logging.getLogger("mlgate.serve")
FORMATS = ("dataframe_split", "dataframe_records", "instances")
"""MLflow's scoring formats for tabular input that /invocations accepts."""
_DTYPES = {"double": "float64", "float": "float64", "long": "int64", "integer": "int64", "boolean": "bool"}
_Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
_FIELD_TYPES: dict[str, Any] = {
    "double": _Number,
    "float": _Number,
    "long": Annotated[int, Strict()],
    "integer": Annotated[int, Strict()],
    "boolean": Annotated[bool, Strict()],
    "string": Annotated[str, Strict()] | None,  # None: a missing category, as mlgate train saw it
}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Rejected(Exception):
    """A request refused with ``status`` and ``detail`` (a JSON-able message or list of field problems)."""

    def __init__(self, status: int, detail: Any, reason: str, headers: dict[str, str] | None = None) -> None:
        """``reason`` labels the error counter (auth, invalid, too_large, audit...)."""
        super().__init__(str(detail))
        self.status, self.detail, self.reason, self.headers = status, detail, reason, headers or {}


def row_model(model: str, version: int, features: list[tuple[str, str]]) -> type[BaseModel]:
    """The pydantic model of one input row: a field per signature column (its name as alias), nothing else."""
    fields: dict[str, Any] = {}
    for index, (column, kind) in enumerate(features):
        fields[f"f{index}"] = (_FIELD_TYPES.get(kind, Any), Field(alias=column))
    config = ConfigDict(extra="forbid", populate_by_name=False, title=f"{model} v{version} input row")
    return create_model(f"{model.title().replace('-', '')}Row", __config__=config, **fields)


CUSTODY_REASONS = ("alias", "digest", "unpinned", "release")
"""Why the follower refused what the registry holds (mlgate.serving.model.Follower._violation)."""


class Metrics:
    """The service's Prometheus metrics, in a registry of its own."""

    def __init__(self, follower: Follower) -> None:
        """Counters, the latency histogram and the served version's gauges."""
        self.registry = CollectorRegistry()
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
        version = Gauge("mlgate_serve_model_version", "version served", list(labels), registry=self.registry)
        version.labels(**labels).set_function(lambda: follower.current.version)
        alias = Gauge(
            "mlgate_serve_alias_version",
            "version the alias points at (last poll)",
            list(labels),
            registry=self.registry,
        )
        alias.labels(**labels).set_function(lambda: follower.alias_version or 0)
        failed = Gauge("mlgate_serve_model_load_failures", "failed loads of a new version", registry=self.registry)
        failed.set_function(lambda: follower.failed_loads)
        desired = Gauge(
            "mlgate_serve_release_version",
            "version release.yaml asks for at the served git ref (last poll; 0: none)",
            list(labels),
            registry=self.registry,
        )
        desired.labels(**labels).set_function(lambda: follower.release_version or 0)
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


class Service:
    """What the routes share: the follower, the audit store, the tokens, the limits, the metrics."""

    def __init__(
        self, follower: Follower, audit: AuditStore, tokens: Tokens, *, max_rows: int, max_body_bytes: int
    ) -> None:
        """See :func:`create_app`."""
        self.follower, self.audit, self.tokens = follower, audit, tokens
        self.max_rows, self.max_body_bytes = max_rows, max_body_bytes
        self.metrics = Metrics(follower)
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
                list[row_model(served.plan.lineage["mlgate_model"], served.version, served.plan.features)]
            )
            self._adapters = {served.version: adapter}  # one version at a time: the old one is gone
        try:
            checked = adapter.validate_python(records)
        except ValidationError as err:
            problems = [_problem(where + _path(e["loc"]), e["msg"]) for e in err.errors(include_input=False)[:20]]
            raise Rejected(422, problems, "invalid") from None
        rows = [r.model_dump(by_alias=True) for r in checked]
        frame = pd.DataFrame.from_records(rows, columns=[c for c, _ in served.plan.features])
        for column, kind in served.plan.features:
            if kind in _DTYPES:
                frame[column] = frame[column].astype(_DTYPES[kind])
        return frame, rows

    def predict(self, caller: Caller, records: list[Any], where: str, started: float) -> dict[str, Any]:
        """Decide ``records`` with the version served now, audit them, and the answer (runs in a worker thread)."""
        served = self.follower.current  # taken once: an alias swap during this request does not affect it
        frame, rows = self.rows(served, records, where)
        outputs = served.predict(frame)
        request_id = uuid.uuid4().hex
        latency_ms = (time.perf_counter() - started) * 1000
        record = Record(
            request_id=request_id,
            at=datetime.now(UTC),
            caller=caller.id,
            model=self.follower.ctx.name,
            version=served.version,
            alias=self.follower.stage,
            run_id=served.run_id,
            latency_ms=round(latency_ms, 3),
            rows=list(zip(rows, outputs, strict=True)),
        )
        try:
            self.audit.write(record)
        except AuditUnavailable as err:
            log.error("request %s refused: audit store unavailable: %s", request_id, err)
            raise Rejected(
                503, f"audit store unavailable, nothing predicted: {err}", "audit", {"Retry-After": "5"}
            ) from None
        self.metrics.predictions.labels(str(served.version)).inc(len(rows))
        return {
            "request_id": request_id,
            "model": self.follower.ctx.name,
            "alias": self.follower.stage,
            "version": served.version,
            "predictions": outputs,
        }


def create_app(
    follower: Follower, audit: AuditStore, tokens: Tokens, *, max_rows: int = 1000, max_body_bytes: int = 1 << 20
) -> FastAPI:
    """The FastAPI application serving ``follower``'s model; ``/predict``'s schema is the current signature's."""
    service = Service(follower, audit, tokens, max_rows=max_rows, max_body_bytes=max_body_bytes)
    served = follower.current
    name = follower.ctx.name
    app = FastAPI(
        title=f"mlgate serve {name}@{follower.stage}",
        description=(
            f"Decisions of models:/{name}@{follower.stage} (the alias is followed; the version answers in each "
            "response). Every prediction is audited before it is answered. Bearer token required."
        ),
        version=str(served.version),
    )
    app.state.service = service
    row = row_model(name, served.version, served.plan.features)
    request_model = create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        rows=(list[row], Field(min_length=1, max_length=max_rows)),
    )
    predict_schema = TypeAdapter(request_model).json_schema(ref_template="#/components/schemas/{model}")
    components = predict_schema.pop("$defs", {})

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        route = request.url.path if request.url.path in _ROUTES else "other"
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body_bytes):
            response: Response = _refusal(Rejected(413, f"body over {max_body_bytes} bytes", "too_large"), service)
        else:
            request.state.started = started
            response = await call_next(request)
        service.metrics.requests.labels(route, str(response.status_code)).inc()
        service.metrics.latency.labels(route).observe(time.perf_counter() - started)
        return response

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

    @app.post("/invocations", summary="MLflow scoring formats: dataframe_split, dataframe_records, instances")
    async def invocations(request: Request) -> Response:
        caller = service.caller(request)
        body = await _json(request, max_body_bytes)
        records, where = _mlflow_records(body)
        # a JSONResponse of plain JSON types: FastAPI's encoder walk of every row would cost more than the model
        return JSONResponse(await run_in_threadpool(service.predict, caller, records, where, request.state.started))

    @app.post(
        "/predict",
        summary="Typed rows (the signature of the version served at start; the served version checks)",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": predict_schema}}}},
    )
    async def predict(request: Request) -> Response:
        caller = service.caller(request)
        body = await _json(request, max_body_bytes)
        if not isinstance(body, dict) or set(body) != {"rows"} or not isinstance(body["rows"], list):
            raise Rejected(422, [_problem("rows", 'expected {"rows": [{column: value, ...}, ...]}')], "invalid")
        return JSONResponse(
            await run_in_threadpool(service.predict, caller, body["rows"], "rows", request.state.started)
        )

    @app.get("/health", summary="Liveness: the process answers")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: a version is loaded and the audit store answers")
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
        return PlainTextResponse(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


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
    try:
        return json.loads(b"".join(chunks), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise Rejected(422, [_problem("body", f"not JSON ({err})")], "invalid") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _mlflow_records(body: Any) -> tuple[list[Any], str]:
    """Rows (dicts) from one of MLflow's formats, and the field name errors are located under."""
    keys = sorted(set(body) & set(FORMATS)) if isinstance(body, dict) else []
    if len(keys) != 1 or set(body) - {keys[0], "params"}:
        raise Rejected(
            422, [_problem("body", f"expected an object with exactly one of {', '.join(FORMATS)}")], "invalid"
        )
    key = keys[0]
    value = body[key]
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
            422, [_problem(key, f"unexpected key(s) {sorted(set(value) - {'columns', 'data', 'index'})}")], "invalid"
        )
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


def _path(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc if p != "body")


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}

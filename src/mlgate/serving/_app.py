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
import json
import logging
import re
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
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError, create_model
from pydantic_core import from_json

from mlgate.data import model_input
from mlgate.serving._audit import AuditStore, AuditUnavailable, Record
from mlgate.serving._inputs import inputs_of
from mlgate.serving._model import Follower, Served
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
        features = served.plan.features
        adapter = self._adapters.get(served.version)
        if adapter is None:
            adapter = TypeAdapter(
                list_of(row_model(served.plan.lineage["mlgate_model"], served.version, served.plan.features))
            )
            self._adapters = {served.version: adapter}  # one version at a time: the old one is gone
        try:
            checked = adapter.validate_python(records)
        except ValidationError as err:
            problems = [_problem(where + _path(e["loc"]), e["msg"]) for e in err.errors(include_input=False)[:20]]
            raise Rejected(422, problems, "invalid") from None
        rows = [r.model_dump(by_alias=True) for r in checked]
        # the frame mlgate train fitted on (mlgate.data.model_input): a null category is NaN, not None
        frame = model_input(pd.DataFrame.from_records(rows, columns=[c for c, _ in features]), features)
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
            inputs=inputs_of(served.plan.features, served.plan.task, served.plan.positive),  # typed for monitor
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
        rows=(list_of(row), Field(min_length=1, max_length=max_rows)),
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
        return PlainTextResponse(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    original = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return schema

    # FastAPI's documented way to extend the generated schema is to replace app.openapi
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
            422, [_problem(key, f"unexpected key(s) {sorted(set(value) - {'columns', 'data', 'index'})}")], "invalid"
        )
    for at, column in enumerate(columns):
        if not isinstance(column, str):
            raise Rejected(422, [_problem(f"{key}.columns[{at}]", "a column name must be a string")], "invalid")
    if len(set(columns)) != len(columns):
        counted: collections.Counter[str] = collections.Counter(columns)
        twice = sorted(c for c, n in counted.items() if n > 1)[:10]
        raise Rejected(422, [_problem(f"{key}.columns", f"column(s) named twice: {twice}")], "invalid")
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


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}

"""`mlgate serve`: a real uvicorn process, a real `mlflow server`, SQLite and a real PostgreSQL audit store.

One credit model (decision block: threshold 0.6, review band [0.45, 0.75]) is trained twice for
real; ``staging`` starts at v1. The service reaches MLflow through a FaultyProxy, so the
registry can be "down" while it serves. PostgreSQL is Debian's, started by the test in a temp
folder; without it the PostgreSQL tests skip, and fail under ``CI=true``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import copy_repo, credit_decides_at_0_6, invoke, promoted
from faulty_proxy import FaultyProxy
from mlgate.registry import Registry
from mlgate_devkit.postgres import Cluster
from mlgate_devkit.serve_process import ServeProcess, start_serve

pytestmark = pytest.mark.server

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
ALICE = "alice-token-3f9c0a7d5e1b4c2a"  # plain in the source: hashed on reading
BOB = "bob-token-8d2e6f1a9c7b3e50"  # given hashed, and granted insurance only
TOKENS = f"alice {ALICE}; bob sha256:{hashlib.sha256(BOB.encode()).hexdigest()} insurance"
POLL = 1.0
MAX_ROWS = 100


@pytest.fixture(scope="module")
def trained(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """credit v1 and v2 trained for real with a decision block; staging at v1 (pinned in release.yaml)."""
    base = tmp_path_factory.mktemp("serve")
    repo = copy_repo(template_repo, base / "repo")
    credit_decides_at_0_6(repo)
    versions = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        for _ in range(2):
            done = invoke(CliRunner(), "train", "credit", "--json", "-", cwd=repo)
            assert done.exit_code == 0, done.output
            versions.append(json.loads(done.stdout)["version"])
    promoted(repo, mlflow_server, "credit", "staging", versions[0])
    data = pd.read_csv(repo / "data" / "german_credit.csv")[FEATURES]
    rows = json.loads(data.iloc[:150].to_json(orient="records"))  # missing categories are null
    return {"repo": repo, "base": base, "uri": mlflow_server, "versions": versions, "rows": rows, "data": data}


@pytest.fixture(scope="module")
def proxy(mlflow_server: str) -> Iterator[FaultyProxy]:
    with FaultyProxy(mlflow_server) as fp:
        yield fp


def serve(trained: dict[str, Any], name: str, audit_url: str, tracking: str, *args: str) -> ServeProcess:
    log = trained["base"] / f"{name}.log"
    env = {"MLFLOW_TRACKING_URI": tracking, "MLGATE_SERVE_TOKENS": TOKENS}
    return start_serve(
        trained["repo"],
        "credit",
        "staging",
        log,
        "--audit-url",
        audit_url,
        "--poll-seconds",
        str(POLL),
        "--max-rows",
        str(MAX_ROWS),
        "--max-body-bytes",
        "200000",
        *args,
        env=env,
    )


@pytest.fixture(scope="module")
def service(trained: dict[str, Any], proxy: FaultyProxy) -> Iterator[dict[str, Any]]:
    """The service on SQLite, reaching MLflow through the proxy."""
    db = trained["base"] / "audit.db"
    started = trained["base"] / "started.json"
    proc = serve(trained, "sqlite", f"sqlite:///{db}", proxy.url, "--audit-timeout", "1", "--json", str(started))
    try:
        yield {"url": proc.url, "proc": proc, "db": db, "log": proc.log, "started": started}
    finally:
        proc.stop()


def post(url: str, path: str, body: Any, token: str | None = ALICE, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(url + path, json=body, headers=headers, timeout=30, **kwargs)


def audit_rows(engine_url: str) -> pd.DataFrame:
    engine = sa.create_engine(engine_url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text("SELECT * FROM mlgate_predictions ORDER BY at, request_id, row"), conn)
    finally:
        engine.dispose()


def sqlite_rows(service: dict[str, Any]) -> pd.DataFrame:
    return audit_rows(f"sqlite:///{service['db']}")


def expected(trained: dict[str, Any], version: int, rows: list[dict[str, Any]]) -> np.ndarray:
    model = Registry(trained["repo"], trained["uri"]).load_model("credit", version)
    frame = pd.DataFrame(rows)[FEATURES]
    for column in ("housing", "saving_accounts", "checking_account", "purpose"):
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    return model.predict_proba(frame)


def test_the_start_record_names_version_url_and_audit_store(trained: dict[str, Any], service: dict[str, Any]) -> None:
    facts = json.loads(service["started"].read_text())
    assert facts["version"] == trained["versions"][0]
    assert facts["url"] == service["url"]
    assert facts["audit_store"] == f"sqlite:///{service['db']}"
    assert facts["callers"] == 2


def test_no_token_a_wrong_token_and_a_caller_not_granted_the_model_are_refused(service: dict[str, Any]) -> None:
    body = {"instances": [{}]}
    missing = post(service["url"], "/invocations", body, token=None)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert post(service["url"], "/invocations", body, token=ALICE + "x").status_code == 401
    assert post(service["url"], "/invocations", body, token="Basic").status_code == 401
    forbidden = post(service["url"], "/invocations", body, token=BOB)
    assert forbidden.status_code == 403
    assert "bob" in forbidden.json()["detail"]


def test_the_three_mlflow_formats_answer_the_versions_decisions_and_each_row_is_audited(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    rows = trained["rows"][:40]
    split = pd.DataFrame(rows)
    bodies = {
        "dataframe_split": {"dataframe_split": json.loads(split.to_json(orient="split", index=False))},
        "dataframe_records": {"dataframe_records": rows},
        "instances": {"instances": rows},
    }
    before = len(sqlite_rows(service))
    answers = {}
    for name, body in bodies.items():
        got = post(service["url"], "/invocations", body)
        assert got.status_code == 200, got.text
        answers[name] = got.json()
    proba = expected(trained, trained["versions"][0], rows)[:, 1]
    for answer in answers.values():
        assert answer["version"] == trained["versions"][0]
        assert answer["alias"] == "staging"
        got = np.array([p["probabilities"]["1"] for p in answer["predictions"]])
        np.testing.assert_allclose(got, proba, rtol=0, atol=1e-12)
        assert [p["decision"] for p in answer["predictions"]] == np.where(proba >= 0.6, 1, 0).tolist()
        review = [p["needs_review"] for p in answer["predictions"]]
        assert review == ((proba >= 0.45) & (proba <= 0.75)).tolist()
        assert 0 < sum(review) < len(review)  # the band catches some rows, not all: the check can fail
    ids = {a["request_id"] for a in answers.values()}
    assert len(ids) == 3
    audited = sqlite_rows(service).iloc[before:]
    assert len(audited) == 3 * len(rows)
    assert set(audited["request_id"]) == ids
    assert set(audited["caller"]) == {"alice"}
    assert set(audited["version"]) == {trained["versions"][0]}
    assert set(audited["alias"]) == {"staging"}
    assert set(audited["model"]) == {"credit"}
    assert (audited["latency_ms"] > 0).all()
    one = audited[audited["request_id"] == answers["instances"]["request_id"]].sort_values("row")
    assert [json.loads(f) for f in one["features"]] == rows  # the features as sent, row by row
    assert [json.loads(o) for o in one["outputs"]] == answers["instances"]["predictions"]


def test_predict_is_typed_from_the_signature_and_documented(trained: dict[str, Any], service: dict[str, Any]) -> None:
    spec = httpx.get(service["url"] + "/openapi.json", timeout=10).json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    row = spec["components"]["schemas"][body["properties"]["rows"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(row["properties"]) == set(FEATURES)
    assert row["additionalProperties"] is False
    assert body["properties"]["rows"]["maxItems"] == MAX_ROWS
    assert httpx.get(service["url"] + "/docs", timeout=10).status_code == 200
    rows = trained["rows"][:3]
    typed = post(service["url"], "/predict", {"rows": rows})
    assert typed.status_code == 200, typed.text
    mlflow_way = post(service["url"], "/invocations", {"dataframe_records": rows}).json()
    assert typed.json()["predictions"] == mlflow_way["predictions"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"dataframe_records": [{"age": 30}]}, "dataframe_records[0].credit_amount", "required"),
        ("age-as-text", "dataframe_records[1].age", "valid integer"),
        ("extra-column", "dataframe_records[0].colour", "Extra"),
        ("too-many-rows", "dataframe_records", f"at most {MAX_ROWS}"),
        ({"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}, "dataframe_split.data[0]", "1 values"),
        ({"rows": []}, "body", "exactly one of"),
        ({"instances": [], "dataframe_records": []}, "body", "exactly one of"),
        ("nan", "body", "not JSON"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_nothing_is_audited(
    trained: dict[str, Any], service: dict[str, Any], body: Any, field: str, words: str
) -> None:
    rows = trained["rows"]
    if body == "age-as-text":
        body = {"dataframe_records": [rows[0], {**rows[1], "age": "31"}]}
    elif body == "extra-column":
        body = {"dataframe_records": [{**rows[0], "colour": "red"}]}
    elif body == "too-many-rows":
        body = {"dataframe_records": rows[: MAX_ROWS + 1]}
    before = len(sqlite_rows(service))
    if body == "nan":
        got = httpx.post(
            service["url"] + "/invocations",
            content=b'{"instances": [{"age": NaN}]}',
            headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"},
            timeout=30,
        )
    else:
        got = post(service["url"], "/invocations", body)
    assert got.status_code == 422, got.text
    problems = got.json()["detail"]
    assert any(p["field"] == field and words in p["message"] for p in problems), problems
    assert "Traceback" not in got.text
    assert 'File "' not in got.text
    assert len(sqlite_rows(service)) == before


def test_a_body_over_the_limit_is_413_with_or_without_content_length(service: dict[str, Any]) -> None:
    big = b'{"instances": [' + b" " * 250_000 + b"]}"
    headers = {"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"}
    assert httpx.post(service["url"] + "/invocations", content=big, headers=headers, timeout=30).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        yield b'{"instances": ['
        for _ in range(50):
            yield b" " * 5000
        yield b"]}"

    chunked = httpx.post(service["url"] + "/invocations", content=chunks(), headers=headers, timeout=30)
    assert chunked.status_code == 413


def test_audit_store_down_is_503_and_no_prediction_leaves_unaudited(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    before = len(sqlite_rows(service))
    lock = sqlite3.connect(service["db"], timeout=1)
    try:
        lock.execute("BEGIN EXCLUSIVE")  # another writer holds the database: the service's write times out
        got = post(service["url"], "/invocations", {"instances": trained["rows"][:5]})
    finally:
        lock.rollback()
        lock.close()
    assert got.status_code == 503, got.text
    assert "audit store unavailable" in got.json()["detail"]
    assert "predictions" not in got.json()
    assert len(sqlite_rows(service)) == before
    again = post(service["url"], "/invocations", {"instances": trained["rows"][:5]})
    assert again.status_code == 200
    assert len(sqlite_rows(service)) == before + 5


def test_metrics_count_requests_latency_errors_and_the_served_version(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    assert post(service["url"], "/invocations", {"instances": trained["rows"][:2]}).status_code == 200
    assert post(service["url"], "/invocations", {"instances": []}, token=None).status_code == 401
    text = httpx.get(service["url"] + "/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values['mlgate_serve_requests_total{route="/invocations",status="200"}'] >= 1
    assert values['mlgate_serve_requests_total{route="/invocations",status="401"}'] >= 1
    assert values['mlgate_serve_errors_total{reason="auth"}'] >= 1
    assert values['mlgate_serve_request_seconds_count{route="/invocations"}'] >= 2
    assert values['mlgate_serve_request_seconds_bucket{le="+Inf",route="/invocations"}'] >= 2
    assert values['mlgate_serve_model_version{alias="staging",model="credit"}'] in trained["versions"]
    assert values[f'mlgate_serve_predictions_total{{version="{trained["versions"][0]}"}}'] >= 2


def wait_for(check: Any, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


def test_a_promotion_is_served_within_the_interval_without_a_restart(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    v1, v2 = trained["versions"]
    rows = trained["rows"][:3]
    assert post(service["url"], "/invocations", {"instances": rows}).json()["version"] == v1
    promoted(trained["repo"], trained["uri"], "credit", "staging", v2)
    took = wait_for(lambda: post(service["url"], "/invocations", {"instances": rows}).json()["version"] == v2, 30)
    assert took < POLL + 10  # one poll, then the load of v2 (about a second here)
    assert service["proc"].proc.poll() is None
    ready = httpx.get(service["url"] + "/ready", timeout=10).json()
    assert ready["version"] == ready["alias_version"] == v2
    assert ready["problems"] == []
    assert f"now serving v{v2} (was v{v1};" in service["log"].read_text()
    audited = sqlite_rows(service)
    assert set(audited["version"]) == {v1, v2}


def test_a_version_that_fails_to_load_leaves_the_old_one_serving_and_ready_says_why(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    registry = Registry(trained["repo"], trained["uri"])
    v2 = trained["versions"][1]
    good = registry.version("credit", v2)
    # registered from v2's own files, with mlgate's lineage but no training-complete mark: refused
    broken = registry.register_model("credit", good.source, {"mlgate.git.commit": "0" * 40}).version
    promoted(trained["repo"], trained["uri"], "credit", "staging", broken)
    try:
        wait_for(lambda: httpx.get(service["url"] + "/ready", timeout=10).json()["problems"], 30)
        ready = httpx.get(service["url"] + "/ready", timeout=10)
        assert ready.status_code == 200  # it still serves: ready, and says what is wrong
        state = ready.json()
        assert state["version"] == v2
        assert state["alias_version"] == broken
        assert f"loading v{broken} failed, still serving v{v2}" in state["problems"][0]
        assert post(service["url"], "/invocations", {"instances": trained["rows"][:2]}).json()["version"] == v2
        assert f"loading v{broken} failed" in service["log"].read_text()
    finally:
        promoted(trained["repo"], trained["uri"], "credit", "staging", v2)
    wait_for(lambda: httpx.get(service["url"] + "/ready", timeout=10).json()["problems"] == [], 30)


def test_registry_down_keeps_the_loaded_version_serving_and_ready_says_why(
    trained: dict[str, Any], service: dict[str, Any], proxy: FaultyProxy
) -> None:
    proxy.fail(r".")
    try:
        wait_for(lambda: httpx.get(service["url"] + "/ready", timeout=10).json()["problems"], 60)
        state = httpx.get(service["url"] + "/ready", timeout=10).json()
        assert state["problems"][0].startswith("registry unreachable since")
        got = post(service["url"], "/invocations", {"instances": trained["rows"][:2]})
        assert got.status_code == 200
        assert got.json()["version"] == trained["versions"][1]
        assert proxy.failed  # the service did ask, and was refused
    finally:
        proxy.disarm()
    wait_for(lambda: httpx.get(service["url"] + "/ready", timeout=10).json()["problems"] == [], 60)
    assert "registry reachable again" in service["log"].read_text()


def test_tokens_never_appear_in_the_log_or_the_audit(service: dict[str, Any]) -> None:
    log = service["log"].read_text()
    assert "1 caller" not in log
    assert "2 caller(s)" in log
    for token in (ALICE, BOB):
        assert token not in log
        assert not sqlite_rows(service).astype(str).apply(lambda c, t=token: c.str.contains(t)).any().any()


# --- PostgreSQL -------------------------------------------------------------------------------


def test_postgresql_audit_store_records_every_row_and_a_stopped_database_is_503(
    trained: dict[str, Any], postgres: Cluster, mlflow_server: str
) -> None:
    promoted(trained["repo"], trained["uri"], "credit", "staging", trained["versions"][1])
    proc = serve(trained, "postgres", postgres.url, mlflow_server, "--audit-timeout", "2")
    url = postgres.url.replace("postgresql://", "postgresql+psycopg://")
    try:
        rows = trained["rows"][:25]
        got = post(proc.url, "/invocations", {"dataframe_records": rows})
        assert got.status_code == 200, got.text
        audited = audit_rows(url)
        assert len(audited) == 25
        assert set(audited["request_id"]) == {got.json()["request_id"]}
        assert audited.sort_values("row")["features"].tolist() == rows  # JSON column: read back as objects
        assert audited["outputs"].tolist() == got.json()["predictions"]
        postgres.stop()
        try:
            down = post(proc.url, "/invocations", {"dataframe_records": rows})
            assert down.status_code == 503
            assert "predictions" not in down.json()
            ready = httpx.get(proc.url + "/ready", timeout=10)
            assert ready.status_code == 503
            assert any(p.startswith("audit store unavailable") for p in ready.json()["problems"])
        finally:
            postgres.start()
        back = post(proc.url, "/invocations", {"dataframe_records": rows})
        assert back.status_code == 200
        assert len(audit_rows(url)) == 50  # the refused request left no row
    finally:
        proc.stop()


def test_a_request_in_flight_during_a_swap_finishes_on_the_old_version(
    trained: dict[str, Any], postgres: Cluster, mlflow_server: str
) -> None:
    """A request that took v1 is answered and audited as v1 although v2 was swapped in meanwhile.

    The request is held in its audit write by a table lock taken in PostgreSQL itself (no test
    hook in the service): while it waits, the alias moves and the service swaps v2 in; released,
    the held request finishes on the version it started with, and the next one gets v2.
    """
    v1, v2 = trained["versions"]
    promoted(trained["repo"], trained["uri"], "credit", "staging", v1)
    proc = serve(trained, "postgres-swap", postgres.url, mlflow_server, "--audit-timeout", "60")
    engine = sa.create_engine(postgres.url.replace("postgresql://", "postgresql+psycopg://"))
    rows = trained["rows"][:5]
    try:
        assert post(proc.url, "/invocations", {"instances": rows}).json()["version"] == v1
        with engine.connect() as locker, ThreadPoolExecutor(max_workers=1) as pool:
            held = locker.begin()
            locker.execute(sa.text("LOCK TABLE mlgate_predictions IN EXCLUSIVE MODE"))  # inserts wait
            in_flight = pool.submit(post, proc.url, "/invocations", {"instances": rows})

            def waiting() -> bool:
                with engine.connect() as conn:
                    return conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar() == 1

            wait_for(waiting, 30)  # the request decided with v1 and waits to write its audit rows
            promoted(trained["repo"], trained["uri"], "credit", "staging", v2)
            swapped = f'mlgate_serve_model_version{{alias="staging",model="credit"}} {float(v2)}'
            wait_for(lambda: swapped in httpx.get(proc.url + "/metrics", timeout=10).text, 30)
            assert not in_flight.done()
            held.rollback()  # the lock goes; the held request writes and answers
            answer = in_flight.result(timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == v1
        assert post(proc.url, "/invocations", {"instances": rows}).json()["version"] == v2
        audited = audit_rows(str(engine.url.render_as_string(hide_password=False)))
        held_rows = audited[audited["request_id"] == answer.json()["request_id"]]
        assert len(held_rows) == len(rows)
        assert set(held_rows["version"]) == {v1}
    finally:
        engine.dispose()
        proc.stop()

"""`mlgate serve`: a real uvicorn process, a real `mlflow server`, SQLite and a real PostgreSQL audit store.

One credit model (decision block: threshold 0.6, review band [0.45, 0.75]) is trained twice for
real; ``staging`` starts at v1. The service reaches MLflow through a FaultyProxy, so the
registry can be "down" while it serves. PostgreSQL is Debian's, started by the test in a temp
folder; without it the PostgreSQL tests skip, and fail under ``CI=true``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
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
from mlgate.serving import AuditStore
from mlgate_devkit.mariadb import Server
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
    (base / "tmp").mkdir()  # the services' TMPDIR: their mlgate-serve-* folders
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
    env = {"MLFLOW_TRACKING_URI": tracking, "MLGATE_SERVE_TOKENS": TOKENS, "TMPDIR": str(trained["base"] / "tmp")}
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
    # started with --port 0: the record and the log line (where the harness read the URL) name the port bound
    assert facts["url"] == service["url"]
    assert re.fullmatch(r"http://127\.0\.0\.1:[1-9]\d*", facts["url"]), facts["url"]
    assert httpx.get(facts["url"] + "/health", timeout=10).status_code == 200
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
    answered = answers["instances"]["predictions"]
    assert {(p.pop("arm"), p.pop("version")) for p in answered} == {("stable", trained["versions"][0])}
    assert [json.loads(o) for o in one["outputs"]] == answered  # the outputs; the arm and version are columns


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


def test_reasons_are_answered_audited_and_equal_tree_explainer(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    import shap

    rows = trained["rows"][:25]
    before = len(sqlite_rows(service))
    got = post(service["url"], "/predict?reasons=3", {"rows": rows})
    assert got.status_code == 200, got.text
    answer = got.json()
    assert answer["reasons"] == {"per_row": 3, "method": "tree_shap", "output": "probability", "additive": True}
    # what the served version's trees say, by shap itself, summed from one-hot columns into the input columns
    model = Registry(trained["repo"], trained["uri"]).load_model("credit", trained["versions"][0])
    frame = pd.DataFrame(rows)[FEATURES]
    for column in ("housing", "saving_accounts", "checking_account", "purpose"):
        frame[column] = frame[column].astype("object").where(frame[column].notna(), np.nan)
    tree = shap.TreeExplainer(model[-1])
    values = tree.shap_values(np.asarray(model[:-1].transform(frame), dtype=np.float32))[:, :, 1]
    names = [n.split("__", 1)[1] for n in model[:-1].get_feature_names_out()]
    per_input = {
        f: values[:, [i for i, n in enumerate(names) if n == f or n.startswith(f + "_")]].sum(axis=1) for f in FEATURES
    }
    proba = expected(trained, trained["versions"][0], rows)[:, 1]
    for i, prediction in enumerate(answer["predictions"]):
        reasons = prediction["reasons"]
        assert len(reasons) == 3
        ranked = sorted(FEATURES, key=lambda f: -abs(per_input[f][i]))[:3]
        assert [r["feature"] for r in reasons] == ranked
        for reason in reasons:
            assert reason["contribution"] == pytest.approx(per_input[reason["feature"]][i], abs=1e-9)
            assert reason["value"] == rows[i][reason["feature"]]  # the value as sent (null when missing)
        total = tree.expected_value[1] + sum(per_input[f][i] for f in FEATURES)
        assert total == pytest.approx(proba[i], abs=1e-9)
    # the audit row's outputs hold the reasons exactly as answered
    audited = sqlite_rows(service).iloc[before:].sort_values("row")
    stored = [{k: v for k, v in p.items() if k not in ("arm", "version")} for p in answer["predictions"]]
    assert [json.loads(o) for o in audited["outputs"]] == stored  # the arm and version are columns
    # MLflow's formats take the same query parameter; without it nothing changes
    records = post(service["url"], "/invocations?reasons=1", {"dataframe_records": rows[:2]}).json()
    assert [p["reasons"] for p in records["predictions"]] == [p["reasons"][:1] for p in answer["predictions"][:2]]
    plain = post(service["url"], "/predict", {"rows": rows[:2]}).json()
    assert all("reasons" not in p for p in plain["predictions"])
    assert "reasons" not in plain


def test_reasons_without_shap_are_501_naming_the_extra_and_decisions_still_answer(
    trained: dict[str, Any], mlflow_server: str
) -> None:
    from test_extras import BLOCKER

    site = trained["base"] / "no-shap-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    db = trained["base"] / "no-shap.db"
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))
    env = {"MLFLOW_TRACKING_URI": mlflow_server, "MLGATE_SERVE_TOKENS": TOKENS}
    env |= {"MLGATE_TEST_UNINSTALLED": "shap", "PYTHONPATH": path}
    proc = start_serve(
        trained["repo"], "credit", "staging", trained["base"] / "no-shap.log", "--audit-url", f"sqlite:///{db}", env=env
    )
    try:
        rows = trained["rows"][:2]
        refused = post(proc.url, "/predict?reasons=2", {"rows": rows})
        assert refused.status_code == 501, refused.text
        assert "'shap'" in refused.json()["detail"]
        assert "pip install 'mlgate[shap]'" in refused.json()["detail"]
        assert post(proc.url, "/predict", {"rows": rows}).status_code == 200  # decisions without reasons go on
        assert 'mlgate_serve_errors_total{reason="reasons"} 1.0' in httpx.get(proc.url + "/metrics", timeout=10).text
    finally:
        proc.stop()
    assert len(audit_rows(f"sqlite:///{db}")) == 2  # the refused request left no row


@pytest.mark.parametrize("asked", ["0", "51", "three", "-1"])
def test_a_bad_reasons_parameter_is_422_and_documented(service: dict[str, Any], asked: str) -> None:
    got = post(service["url"], f"/predict?reasons={asked}", {"rows": []})
    assert got.status_code == 422
    assert got.json()["detail"] == [{"field": "reasons", "message": "expected an integer from 1 to 50"}]
    assert post(service["url"], f"/predict?reasons={asked}", {"rows": []}, token=None).status_code == 401  # auth first
    spec = httpx.get(service["url"] + "/openapi.json", timeout=10).json()
    for path in ("/predict", "/invocations"):
        (parameter,) = spec["paths"][path]["post"]["parameters"]
        assert parameter["name"] == "reasons"
        assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": 50}


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
    # v1's downloaded copy went with it (nothing kept the swapped-out version: its model, its folder)
    wait_for(lambda: len(folders_of(trained["base"] / "tmp", service["proc"].proc.pid)) == 1, 10)
    [held] = folders_of(trained["base"] / "tmp", service["proc"].proc.pid)
    assert f"model_version: '{v2}'" in (held / "model" / "registered_model_meta").read_text()


def folders_of(temp: Path, pid: int) -> list[Path]:
    """The mlgate-serve-* folders in ``temp`` that the process ``pid`` made (its lock file names it)."""
    return [
        p for p in temp.glob("mlgate-serve-*") if (p / ".owner.lock").read_text().startswith(f"mlgate serve pid {pid} ")
    ]


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
        answered = got.json()["predictions"]
        assert {(p.pop("arm"), p.pop("version")) for p in answered} == {("stable", trained["versions"][1])}
        assert audited["outputs"].tolist() == answered
        refused_while_stopped(proc, rows, postgres)
        back = post(proc.url, "/invocations", {"dataframe_records": rows})
        assert back.status_code == 200
        assert len(audit_rows(url)) == 50  # the refused request left no row
    finally:
        proc.stop()


def refused_while_stopped(proc: Any, rows: list[dict[str, Any]], database: Cluster | Server) -> None:
    """Audit database stopped: a request is 503 without predictions, /ready names the store; then it restarts."""
    database.stop()
    try:
        down = post(proc.url, "/invocations", {"dataframe_records": rows})
        assert down.status_code == 503
        assert "predictions" not in down.json()
        ready = httpx.get(proc.url + "/ready", timeout=10)
        assert ready.status_code == 503
        assert any(p.startswith("audit store unavailable") for p in ready.json()["problems"])
    finally:
        database.start()


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


# --- MySQL (MariaDB) -----------------------------------------------------------------------------


def test_mysql_audit_store_records_every_row_and_a_stopped_database_is_503(
    trained: dict[str, Any], mariadb: Server, mlflow_server: str
) -> None:
    """``mysql://`` (PyMySQL), the password from MYSQL_PWD: every column written, microseconds kept, 503 while down."""
    promoted(trained["repo"], trained["uri"], "credit", "staging", trained["versions"][1])
    url = mariadb.new_database()
    proc = serve(trained, "mysql", url, mlflow_server, "--audit-timeout", "2")
    engine = AuditStore(url).engine
    try:
        rows = trained["rows"][:25]
        got = post(proc.url, "/invocations", {"dataframe_records": rows})
        assert got.status_code == 200, got.text
        with engine.connect() as conn:
            audited = pd.read_sql(sa.text("SELECT * FROM mlgate_predictions ORDER BY `row`"), conn)
        assert len(audited) == 25
        assert set(audited["request_id"]) == {got.json()["request_id"]}
        assert audited["row"].tolist() == list(range(25))
        assert set(audited["arm"]) == {"stable"}
        assert set(audited["version"]) == {trained["versions"][1]}
        assert set(audited["model"]) == {"credit"}
        assert set(audited["alias"]) == {"staging"}
        assert set(audited["caller"]) == {"alice"}
        assert [json.loads(f) for f in audited["features"]] == rows  # MariaDB's JSON is text
        answered = got.json()["predictions"]
        assert {(p.pop("arm"), p.pop("version")) for p in answered} == {("stable", trained["versions"][1])}
        assert [json.loads(o) for o in audited["outputs"]] == answered
        assert (audited["latency_ms"] > 0).all()
        precision = (
            "SELECT datetime_precision FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = 'mlgate_predictions' AND column_name = 'at'"
        )
        with engine.connect() as conn:
            assert conn.execute(sa.text(precision)).scalar() == 6  # DATETIME(6): microseconds kept
        refused_while_stopped(proc, rows, mariadb)
        back = post(proc.url, "/invocations", {"dataframe_records": rows})
        assert back.status_code == 200
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM mlgate_predictions")).scalar() == 50
    finally:
        engine.dispose()
        proc.stop()


# --- Edges: values the signature cannot hold, the audit file moved or read-only, tokens shared --------------


def raw_post(url: str, body: bytes, token: str = ALICE) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx.post(url + "/invocations", content=body, headers=headers, timeout=30)


def records_body(rows: list[dict[str, Any]], **changes: Any) -> bytes:
    """``{"dataframe_records": rows}`` with ``changes`` (JSON text) spliced into the first row's values."""
    first = {key: json.dumps(value) for key, value in rows[0].items()} | changes
    row = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in first.items()) + "}"
    rest = "".join(", " + json.dumps(r) for r in rows[1:])
    return f'{{"dataframe_records": [{row}{rest}]}}'.encode()


EDGE_BODIES: dict[str, tuple[Any, str, str]] = {
    # name: (body: bytes, or a function of the rows; field; words in the message)
    "int64 + 1": (
        lambda r: records_body(r, duration=str(2**63)),
        "dataframe_records[0].duration",
        "less than or equal",
    ),
    "int64 - 1": (
        lambda r: records_body(r, age=str(-(2**63) - 1)),
        "dataframe_records[0].age",
        "greater than or equal",
    ),
    "2**70": (lambda r: records_body(r, credit_amount=str(2**70)), "dataframe_records[0].credit_amount", "less than"),
    "1e400": (lambda r: records_body(r, duration="1e400"), "dataframe_records[0].duration", "valid integer"),
    "a list value": (lambda r: records_body(r, age="[[[30]]]"), "dataframe_records[0].age", "valid integer"),
    "an object value": (lambda r: records_body(r, housing='{"a": 1}'), "dataframe_records[0].housing", "valid string"),
    "lone surrogate value": (
        lambda r: records_body(r, housing='"own\\ud800"'),
        "dataframe_records[0].housing",
        "not Unicode",
    ),
    "lone surrogate key": (
        lambda r: records_body(r).replace(b'"housing"', b'"hous\\udc00ing"', 1),
        "dataframe_records[0]",
        "a key is not Unicode",
    ),
    "bytes not UTF-8": (
        lambda r: records_body(r, purpose='"radio\xff"').replace(b"\xc3\xbf", b"\xff"),
        "dataframe_records[0].purpose",
        "not Unicode",
    ),
    "NaN": (lambda r: records_body(r, duration="NaN"), "body", "not JSON"),
    "Infinity": (lambda r: records_body(r, duration="-Infinity"), "body", "not JSON"),
    "nested 300 deep": (b'{"instances": [{"age": ' + b"[" * 300 + b"]" * 300 + b"}]}", "body", "deeper than 200"),
    "a list as a column name": (
        b'{"dataframe_split": {"columns": ["age", ["duration"]], "data": [[30, 12]]}}',
        "dataframe_split.columns[1]",
        "must be a string",
    ),
    "a column named twice": (
        b'{"dataframe_split": {"columns": ["age", "age"], "data": [[30, 12]]}}',
        "dataframe_split.columns",
        "named twice",
    ),
    "a surrogate in a split cell": (
        b'{"dataframe_split": {"columns": ["housing", "age"], "data": [["\\ud800", 1]]}}',
        "dataframe_split.data[0].housing",
        "not Unicode",
    ),
    "nested params": (
        lambda r: json.dumps({"dataframe_records": r, "params": {"x": [[1]]}}).encode(),
        "params.x",
        "scalar",
    ),
    "rows as lists": (b'{"instances": [[1, 2, 3]]}', "instances[0]", "valid dictionary"),
}


@pytest.mark.parametrize("case", list(EDGE_BODIES))
def test_values_the_signature_cannot_hold_are_422_naming_the_field_never_500(
    trained: dict[str, Any], service: dict[str, Any], case: str
) -> None:
    make, field, words = EDGE_BODIES[case]
    body = make(trained["rows"][:2]) if callable(make) else make
    before = len(sqlite_rows(service))
    got = raw_post(service["url"], body)
    assert got.status_code == 422, got.text
    problems = got.json()["detail"]
    assert any(p["field"] == field and words in p["message"] for p in problems), problems
    assert len(sqlite_rows(service)) == before
    assert service["proc"].proc.poll() is None


def test_predict_refuses_the_same_bodies_at_the_rows_field(trained: dict[str, Any], service: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"}
    for column, text, words in (
        ("duration", str(2**63), "less than or equal"),
        ("housing", '"\\ud800"', "not Unicode"),
    ):
        rest = json.dumps({k: v for k, v in trained["rows"][0].items() if k != column})[:-1]
        body = f'{{"rows": [{rest}, "{column}": {text}}}]}}'.encode()
        got = httpx.post(service["url"] + "/predict", content=body, headers=headers, timeout=30)
        assert got.status_code == 422, got.text
        assert [p["field"] for p in got.json()["detail"]] == [f"rows[0].{column}"]
        assert words in got.json()["detail"][0]["message"]


def test_the_widest_values_the_signature_holds_are_answered_and_audited_as_sent(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    """int64's ends, text beyond ASCII (an emoji, a NUL) and a missing category: answered, audited exactly."""
    edge = [
        {**trained["rows"][0], "duration": 2**63 - 1, "housing": "ünïcödé 😀"},
        {**trained["rows"][1], "credit_amount": -(2**63), "purpose": "nul\u0000byte", "housing": None},
    ]
    got = post(service["url"], "/invocations", {"dataframe_records": edge})
    assert got.status_code == 200, got.text
    audited = sqlite_rows(service)
    mine = audited[audited["request_id"] == got.json()["request_id"]].sort_values("row")
    assert [json.loads(f) for f in mine["features"]] == edge  # 2**63 - 1 stays 2**63 - 1: nothing wrapped


def test_integer_is_int32_and_double_finite_in_the_generated_row_model() -> None:
    from pydantic import ValidationError

    from mlgate.serving import row_model

    model = row_model("m", 1, [("i", "integer"), ("d", "double"), ("t", "datetime"), ("x", "unknown-type")])
    ok = {"i": 2**31 - 1, "d": 2**70, "t": "2025-01-01T00:00:00Z", "x": "text"}
    assert model.model_validate(ok).model_dump(by_alias=True)["d"] == float(2**70)
    for bad, where in (
        ({**ok, "i": 2**31}, "i"),
        ({**ok, "d": float("inf")}, "d"),
        ({**ok, "d": 10**400}, "d"),
        ({**ok, "t": 5}, "t"),
        ({**ok, "x": [1]}, "x"),
        ({**ok, "x": 2**64}, "x"),
    ):
        with pytest.raises(ValidationError) as err:
            model.model_validate(bad)
        assert {e["loc"][0] for e in err.value.errors()} == {where}


@pytest.fixture(scope="module")
def edge_service(trained: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A service of its own on SQLite (its audit file is moved and made read-only), straight to MLflow."""
    folder = trained["base"] / "edges"
    folder.mkdir()
    db = folder / "audit.db"
    proc = serve(trained, "edges", f"sqlite:///{db}", trained["uri"], "--audit-timeout", "1")
    try:
        yield {"url": proc.url, "proc": proc, "db": db, "log": proc.log}
    finally:
        proc.stop()


def count_rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM mlgate_predictions").fetchone()[0]
    finally:
        conn.close()


def test_an_audit_file_removed_while_serving_is_503_then_reopened(
    trained: dict[str, Any], edge_service: dict[str, Any]
) -> None:
    url, db = edge_service["url"], edge_service["db"]
    rows = trained["rows"][:3]
    assert post(url, "/invocations", {"instances": rows}).status_code == 200
    db.unlink()  # -wal and -shm stay: SQLite would read them as the new file's
    refused = post(url, "/invocations", {"instances": rows})
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"]
    assert "predictions" not in refused.json()
    assert "was removed or renamed since it was opened" in refused.json()["detail"]
    back = post(url, "/invocations", {"instances": rows})
    assert back.status_code == 200, back.text
    assert count_rows(db) == 3  # a new file, the table created: the answered request's rows only
    assert httpx.get(url + "/ready", timeout=10).status_code == 200
    assert "audit store reopened on" in edge_service["log"].read_text()


def test_an_audit_file_rotated_while_serving_keeps_its_rows_and_the_path_is_reopened(
    trained: dict[str, Any], edge_service: dict[str, Any]
) -> None:
    url, db = edge_service["url"], edge_service["db"]
    rows = trained["rows"][:4]
    assert post(url, "/invocations", {"instances": rows}).status_code == 200
    before = count_rows(db)
    rotated = db.with_name("audit.db.1")
    db.rename(rotated)  # as logrotate does; the rows still in the -wal are not in audit.db.1 yet
    db.touch()  # logrotate's `create`: an empty file at the path
    not_ready = httpx.get(url + "/ready", timeout=10)  # the probe's write finds the move first
    assert not_ready.status_code == 503, not_ready.text
    assert any("was replaced by another file since it was opened" in p for p in not_ready.json()["problems"])
    ready = httpx.get(url + "/ready", timeout=10)  # the store reopened the path: ready again
    assert ready.status_code == 200, ready.text
    assert post(url, "/invocations", {"instances": rows}).status_code == 200
    assert count_rows(rotated) == before  # every row answered before the rotation is in the rotated file
    assert count_rows(db) == len(rows)


def make_read_only(paths: list[Path]) -> None:
    """Read-only even for root: the immutable attribute (root ignores modes); a plain user: mode 0444."""
    for path in paths:
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()}")
        else:
            path.chmod(0o444)


def make_writable(paths: list[Path]) -> None:
    for path in paths:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)
        else:
            path.chmod(0o644)


def test_read_only_wal_and_shm_are_503_and_not_ready_never_a_crash(
    trained: dict[str, Any], edge_service: dict[str, Any]
) -> None:
    """Concurrent requests on a read-only -wal and -shm: 503 naming the file, never a crash.

    Before the store checked its files, new pooled connections opened under this load answered
    SQLite's bare "attempt to write a readonly database", and in one run of several the process
    died of SIGBUS.
    """
    url, db = edge_service["url"], edge_service["db"]
    rows = trained["rows"][:2]
    assert post(url, "/invocations", {"instances": rows}).status_code == 200
    files = [Path(f"{db}-wal"), Path(f"{db}-shm")]
    before = count_rows(db)
    make_read_only(files)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: post(url, "/invocations", {"instances": rows}), range(48)))
            ready = list(pool.map(lambda _: httpx.get(url + "/ready", timeout=10), range(8)))
        assert edge_service["proc"].proc.poll() is None  # alive
        assert {a.status_code for a in answers} == {503}
        assert all(f"{db}-wal is read-only" in a.json()["detail"] for a in answers)
        assert all("predictions" not in a.json() for a in answers)
        assert {r.status_code for r in ready} == {503}
        assert all(any("read-only" in p for p in r.json()["problems"]) for r in ready)
    finally:
        make_writable(files)
    assert count_rows(db) == before
    assert post(url, "/invocations", {"instances": rows}).status_code == 200
    assert httpx.get(url + "/ready", timeout=10).status_code == 200


def run_serve(trained: dict[str, Any], tokens: str, audit_url: str, port: int = 1) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MLFLOW_TRACKING_URI": trained["uri"], "MLGATE_SERVE_TOKENS": tokens}
    cmd = [sys.executable, "-c", "from mlgate.cli import main; main()", "serve", "credit", "--stage", "staging"]
    cmd += ["--port", str(port), "--audit-url", audit_url]
    return subprocess.run(cmd, cwd=trained["repo"], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_service_started_on_a_read_only_shm_exits_3_naming_it(trained: dict[str, Any]) -> None:
    folder = trained["base"] / "read-only-start"
    folder.mkdir()
    db = folder / "audit.db"
    holder = sqlite3.connect(db)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("SELECT count(*) FROM t").fetchall()
    shm = Path(f"{db}-shm")
    make_read_only([shm])
    try:
        done = run_serve(trained, TOKENS, f"sqlite:///{db}")
    finally:
        make_writable([shm])
        holder.close()
    assert done.returncode == 3, (done.returncode, done.stderr[-2000:])
    assert f"{shm} is read-only" in done.stderr


def test_a_port_in_use_exits_2_naming_it(trained: dict[str, Any]) -> None:
    """Another process listens on the port: a clear exit 2 once everything else checked out, never a hang."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_serve(trained, TOKENS, f"sqlite:///{trained['base'] / 'port-in-use.db'}", port)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "--port (0: any free port" in done.stderr


@pytest.mark.parametrize("second", ["same token", "same token hashed"])
def test_two_callers_with_one_token_exit_2_naming_the_entries_never_the_token(
    trained: dict[str, Any], second: str
) -> None:
    given = ALICE if second == "same token" else f"sha256:{hashlib.sha256(ALICE.encode()).hexdigest()}"
    done = run_serve(trained, f"alice {ALICE}; carol {given}", f"sqlite:///{trained['base'] / 'never.db'}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "entry 2 (carol): the same token as entry 1 (alice)" in done.stderr
    assert ALICE not in done.stdout + done.stderr
    assert hashlib.sha256(ALICE.encode()).hexdigest() not in done.stdout + done.stderr


ODD_FEATURES: list[Any] = [
    {"duration": 2**70},  # beyond int64, stored as JSON text by a writer that did not check
    {"credit_amount": 10**400},  # beyond float64
    {"age": "31", "job": True},  # a string and a boolean where numbers belong
    {"age": None, "housing": None, "purpose": None},  # NULL features
    {"housing": "\ud800", "purpose": "ünïcödé 😀"},  # a lone surrogate (main accepted it), text beyond ASCII
    {"purpose": {"nested": [1, [2]]}, "ünï": "😀"},  # nested, an unknown column
    None,  # features JSON null
]
ODD_OUTPUTS: list[Any] = [{}, {"probabilities": None}, {"probabilities": {"1": "x"}}, None, {"prediction": 2**70}]


def test_monitor_reads_every_row_the_service_accepted_and_odd_rows_stored_beside_them(
    trained: dict[str, Any], edge_service: dict[str, Any], mlflow_server: str
) -> None:
    """What serve accepts (int64's ends, emoji, NUL, missing categories), then odd rows written directly: verdicts.

    The first window holds the service's rows only (pyarrow's one-call decoding); the second adds
    the odd rows (decoded row by row: values the signature cannot hold are read as missing, said
    in the source's notes). Both are verdicts (exit 0: the odd rows are too few to fail a rule).
    """
    from datetime import UTC, datetime, timedelta

    from conftest import git
    from mlgate.serving import AuditStore, Record

    url, db = edge_service["url"], edge_service["db"]
    start = datetime.now(UTC)
    rows = trained["rows"]
    for part in (rows[:75], rows[75:150]):
        assert post(url, "/invocations", {"dataframe_records": part}).status_code == 200
    widest = [
        {**rows[0], "duration": 2**63 - 1, "housing": "ünïcödé 😀"},
        {**rows[1], "credit_amount": -(2**63), "purpose": "nul\u0000byte", "housing": None},
    ]
    accepted = post(url, "/invocations", {"dataframe_records": widest})
    assert accepted.status_code == 200, accepted.text
    version = accepted.json()["version"]
    middle = datetime.now(UTC)
    time.sleep(0.01)
    store = AuditStore(f"sqlite:///{db}")
    try:
        for i, features in enumerate(ODD_FEATURES):
            sent = None if features is None else {**rows[i], **features}
            outputs = ODD_OUTPUTS[i % len(ODD_OUTPUTS)]
            at = datetime.now(UTC)
            store.write(Record(uuid.uuid4().hex, at, "odd", "credit", version, "staging", "r", 1.0, [(sent, outputs)]))
    finally:
        store.close()
    end = datetime.now(UTC) + timedelta(seconds=1)
    repo = copy_repo(trained["repo"], trained["base"] / "monitor-edges")
    spec = repo / "models" / "credit" / "model.yaml"
    rollback = "  rollback_procedure: revert the promotion PR; mlgate moves the production alias back\n"
    spec.write_text(spec.read_text().replace(rollback, rollback + f"  sources:\n    audit_url: sqlite:///{db}\n"))
    git("commit", "-qam", "monitor the edge service", cwd=repo)

    def monitor(first: datetime, last: datetime) -> tuple[int, dict[str, Any]]:
        window = f"{first.isoformat()}..{last.isoformat()}"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
            done = invoke(
                CliRunner(), "monitor", "credit", "--stage", "staging", "--window", window, "--json", "-", cwd=repo
            )
        assert done.exit_code in (0, 1), done.output  # a verdict, never 70
        return done.exit_code, json.loads(done.stdout)

    code, served = monitor(start, middle)
    assert (code, served["status"]) == (0, "pass"), served["rules"]
    assert served["version"] == version
    assert served["rows"] == 152
    assert served["sources"][0]["notes"] == []
    code, odd = monitor(start, end)
    assert (code, odd["status"]) == (0, "pass"), odd["rules"]
    assert odd["rows"] == 152 + len(ODD_FEATURES)
    # 10**400, "31" and True, "\ud800", a nested value, a null row: 5 rows; 2**70 is a float64, None is missing
    assert any(
        note.startswith("5 row(s) hold features the signature cannot hold") for note in odd["sources"][0]["notes"]
    )
    assert odd["metrics"]["null_fraction"] > served["metrics"]["null_fraction"]  # read as missing, and counted


def serve_in(trained: dict[str, Any], temp: Path, name: str) -> ServeProcess:
    """``mlgate serve`` with ``temp`` as its temp folder (TMPDIR): its mlgate-serve-* folders are made there."""
    env = {"MLFLOW_TRACKING_URI": trained["uri"], "MLGATE_SERVE_TOKENS": TOKENS, "TMPDIR": str(temp)}
    audit = f"sqlite:///{trained['base'] / 'leftovers.db'}"
    return start_serve(
        trained["repo"], "credit", "staging", trained["base"] / f"{name}.log", "--audit-url", audit, env=env
    )


def serve_folders(temp: Path) -> set[str]:
    return {p.name for p in temp.glob("mlgate-serve-*")}


def orphan(folder: Path) -> Path:
    """A folder as a killed serve leaves it: a lock file nobody holds, and a file."""
    folder.mkdir()
    (folder / ".owner.lock").write_text("mlgate serve pid 1 since 2026-01-01T00:00:00+00:00\n")
    (folder / "MLmodel").write_text("flavors: {}\n")
    return folder


def test_a_killed_serves_folder_is_removed_by_the_next_start_and_a_live_serves_is_not(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    first = serve_in(trained, temp, "leftover-first")
    try:
        firsts = serve_folders(temp)
        assert len(firsts) == 1, firsts  # the served version's download
        (held,) = firsts
        assert (temp / held / "model" / "MLmodel").is_file()
        assert (temp / held / ".owner.lock").read_text().startswith(f"mlgate serve pid {first.proc.pid} since ")
        second = serve_in(trained, temp, "leftover-second")
        try:
            seconds = serve_folders(temp) - firsts
            assert len(seconds) == 1, seconds
            # the live serve's folder survived the second start, and it still answers from it
            assert (temp / held / "model" / "MLmodel").is_file()
            assert post(first.url, "/predict", {"rows": trained["rows"][:2]}).status_code == 200
            os.killpg(first.proc.pid, signal.SIGKILL)
            first.proc.wait()
            assert serve_folders(temp) == firsts | seconds  # the kill left its folder
            third = serve_in(trained, temp, "leftover-third")
            third.stop()
            assert serve_folders(temp) == seconds  # the killed serve's folder went; the live one's stayed
            log = third.log.read_text()
            assert f"removed 1 folder(s) left by serve processes that exited: {temp / held}" in log, log[-3000:]
        finally:
            second.stop()
    finally:
        first.stop()
    assert serve_folders(temp) == set()  # stopped normally: each removed its own


def test_a_start_removes_only_this_users_unlocked_serve_folders_never_a_link_or_another_name(
    trained: dict[str, Any], tmp_path: Path
) -> None:
    """What a starting serve must leave alone, beside an orphan it removes; checked by a start that then exits 2."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    stale = orphan(temp / "mlgate-serve-stale")
    other_name = orphan(temp / "mlgate-scored-stale")  # an orphan's contents under another name
    target = orphan(tmp_path / "elsewhere")
    link = temp / "mlgate-serve-link"
    link.symlink_to(target, target_is_directory=True)
    locked_link = temp / "mlgate-serve-locklink"  # the lock file is a link to a file nobody holds
    locked_link.mkdir()
    (locked_link / ".owner.lock").symlink_to(target / ".owner.lock")
    unlocked = temp / "mlgate-serve-nolock"  # an older mlgate's folder, or one being made: whose is unknown
    unlocked.mkdir()
    (unlocked / "MLmodel").write_text("flavors: {}\n")
    foreign = None
    if os.getuid() == 0:  # only root can make a folder of another user
        foreign = orphan(temp / "mlgate-serve-foreign")
        for path in (foreign, foreign / ".owner.lock", foreign / "MLmodel"):
            os.chown(path, 65534, 65534)
    env = os.environ | {"MLFLOW_TRACKING_URI": trained["uri"], "TMPDIR": str(temp)}
    env.pop("MLGATE_SERVE_TOKENS", None)
    cmd = [sys.executable, "-c", "from mlgate.cli import main; main()", "serve", "credit", "--stage", "staging"]
    done = subprocess.run(cmd, cwd=trained["repo"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])  # no callers: refused after the cleanup
    assert f"removed 1 folder(s) left by serve processes that exited: {stale}" in done.stderr
    assert not stale.exists()
    assert (other_name / "MLmodel").is_file()
    assert link.is_symlink()
    assert (target / "MLmodel").is_file()
    assert (target / ".owner.lock").is_file()
    assert (locked_link / ".owner.lock").is_symlink()
    assert (unlocked / "MLmodel").is_file()
    if foreign is not None:
        assert (foreign / "MLmodel").is_file()
    assert "not removed" not in done.stderr
    assert "not checked" not in done.stderr

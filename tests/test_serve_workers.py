"""`mlgate serve --workers 2`: real uvicorn worker processes, a real `mlflow server`, one SQLite audit store.

credit is trained twice for real; ``staging`` starts at v1. Two workers serve it: every request is
answered and audited exactly once, a promotion reaches both workers within the poll interval, a
worker killed is replaced while the other keeps serving, SIGTERM stops all of them, and no token
reaches a command line or a world-readable file. Throughput per worker count is measured by
``benchmarks/serve.py``, not here.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from click.testing import CliRunner

from conftest import copy_repo, credit_decides_at_0_6, invoke, promoted
from mlgate_devkit.serve_process import start_serve

pytestmark = pytest.mark.server

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
ALICE = "alice-token-3f9c0a7d5e1b4c2a"
BOB = "bob-token-8d2e6f1a9c7b3e50"
TOKENS = f"alice {ALICE}; bob sha256:{hashlib.sha256(BOB.encode()).hexdigest()} insurance"
POLL = 1.0


@pytest.fixture(scope="module")
def trained(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """credit v1 and v2 trained for real; staging at v1 (pinned in release.yaml)."""
    import pandas as pd

    base = tmp_path_factory.mktemp("workers")
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
    rows = json.loads(data.iloc[:50].to_json(orient="records"))
    return {"repo": repo, "base": base, "uri": mlflow_server, "versions": versions, "rows": rows}


@pytest.fixture(scope="module")
def workers(trained: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Two workers on one SQLite audit store."""
    db = trained["base"] / "audit.db"
    started = trained["base"] / "started.json"
    env = {"MLFLOW_TRACKING_URI": trained["uri"], "MLGATE_SERVE_TOKENS": TOKENS}
    args = ["--audit-url", f"sqlite:///{db}", "--poll-seconds", str(POLL), "--workers", "2", "--json", str(started)]
    proc = start_serve(trained["repo"], "credit", "staging", trained["base"] / "serve.log", *args, env=env)
    try:
        yield {"url": proc.url, "proc": proc, "db": db, "log": proc.log, "started": started}
    finally:
        proc.stop()


def post(url: str, rows: list[dict[str, Any]], token: str = ALICE) -> httpx.Response:
    # a new connection per request: the kernel hands each to whichever worker accepts it
    return httpx.post(
        url + "/invocations", json={"dataframe_records": rows}, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def audited(db: Path) -> list[tuple[str, int, int]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT request_id, row, version FROM mlgate_predictions").fetchall()
    finally:
        conn.close()


def gauges(url: str, name: str) -> dict[int, float]:
    """A per-worker gauge from /metrics: {pid: value}."""
    found = {}
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line.rsplit(" ", 1)
            pid = int(labels.split('pid="', 1)[1].split('"', 1)[0])
            found[pid] = float(value)
    return found


def wait_for(check: Any, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def test_two_workers_start_and_the_start_record_names_them(workers: dict[str, Any]) -> None:
    facts = json.loads(workers["started"].read_text())
    assert facts["workers"] == 2
    assert sorted(facts["worker_pids"]) == workers["proc"].worker_pids()
    assert len(set(facts["worker_pids"])) == 2
    assert os.getpid() not in facts["worker_pids"]
    assert workers["proc"].proc.pid not in facts["worker_pids"]  # the supervisor serves nothing itself
    log = workers["log"].read_text()
    for pid in facts["worker_pids"]:
        assert f"worker {pid} started: credit v" in log
    assert set(gauges(workers["url"], "mlgate_serve_model_version")) == set(facts["worker_pids"])


def test_every_request_answered_by_either_worker_is_audited_exactly_once(
    trained: dict[str, Any], workers: dict[str, Any]
) -> None:
    before = len(audited(workers["db"]))
    rows = trained["rows"]
    sizes = [1 + i % 7 for i in range(120)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda n: post(workers["url"], rows[:n]), sizes))
    assert [a.status_code for a in answers] == [200] * len(sizes), {a.text for a in answers if a.status_code != 200}
    ids = [a.json()["request_id"] for a in answers]
    assert len(set(ids)) == len(ids)
    records = audited(workers["db"])[before:]
    assert len(records) == sum(sizes)  # no row lost, none written twice (the key is (request_id, row))
    per_request: dict[str, list[int]] = {}
    for request_id, row, _version in records:
        per_request.setdefault(request_id, []).append(row)
    assert set(per_request) == set(ids)
    for request_id, n in zip(ids, sizes, strict=True):
        assert sorted(per_request[request_id]) == list(range(n))
    # the counters are summed over the workers: every answered row is counted once
    text = httpx.get(workers["url"] + "/metrics", timeout=10).text
    predicted = sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("mlgate_serve_predictions_total")
    )
    assert predicted == len(audited(workers["db"]))


def test_tokens_reach_the_workers_as_digests_in_a_private_file_never_on_a_command_line(
    workers: dict[str, Any],
) -> None:
    pids = [workers["proc"].proc.pid, *workers["proc"].worker_pids()]
    for pid in pids:
        command = " ".join(psutil.Process(pid).cmdline())
        assert ALICE not in command
        assert hashlib.sha256(ALICE.encode()).hexdigest() not in command
    config_path = Path(psutil.Process(pids[1]).environ()["MLGATE_SERVE_CONFIG"])
    assert stat.S_IMODE(config_path.parent.stat().st_mode) == 0o700
    config = json.loads(config_path.read_text())
    for path in (config_path, Path(config["tokens_file"])):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert ALICE not in path.read_text()
        assert BOB not in path.read_text()
    callers = Path(config["tokens_file"]).read_text()
    assert f"alice sha256:{hashlib.sha256(ALICE.encode()).hexdigest()}\n" in callers
    assert f"bob sha256:{hashlib.sha256(BOB.encode()).hexdigest()} insurance\n" in callers
    # the grants survive the hand-over: bob is refused credit by every worker
    refused = [post(workers["url"], [], token=BOB).status_code for _ in range(6)]
    assert refused == [403] * 6


def test_a_promotion_reaches_every_worker_within_the_poll_interval(
    trained: dict[str, Any], workers: dict[str, Any]
) -> None:
    v1, v2 = trained["versions"]
    pids = workers["proc"].worker_pids()
    assert set(gauges(workers["url"], "mlgate_serve_model_version").values()) == {float(v1)}
    promoted(trained["repo"], trained["uri"], "credit", "staging", v2)

    def both_moved() -> bool:
        served = gauges(workers["url"], "mlgate_serve_model_version")
        return set(served) == set(pids) and set(served.values()) == {float(v2)}

    took = wait_for(both_moved, 60)
    assert took < POLL + 30  # one poll, then each worker's load of v2 (seconds on two busy cores)
    assert workers["log"].read_text().count(f"now serving v{v2} (was v{v1};") == 2  # once per worker
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: post(workers["url"], trained["rows"][:2]), range(24)))
    assert {a.json()["version"] for a in answers} == {v2}
    assert {version for _, _, version in audited(workers["db"])} == {v1, v2}


def test_a_killed_worker_is_replaced_and_the_other_keeps_serving(
    trained: dict[str, Any], workers: dict[str, Any]
) -> None:
    before = workers["proc"].worker_pids()
    victim, survivor = before
    os.kill(victim, signal.SIGKILL)
    # meanwhile the survivor answers (connections refused by nobody: the socket stays open in the supervisor)
    answers = [post(workers["url"], trained["rows"][:1]).status_code for _ in range(10)]
    assert answers == [200] * 10
    wait_for(lambda: f"worker {victim} exited (exit code -9)" in workers["log"].read_text(), 60)
    wait_for(lambda: len(workers["proc"].worker_pids()) == 2 and victim not in workers["proc"].worker_pids(), 60)
    (replacement,) = set(workers["proc"].worker_pids()) - {survivor}
    assert f"replaced by worker {replacement}" in workers["log"].read_text()
    wait_for(lambda: set(gauges(workers["url"], "mlgate_serve_model_version")) == {survivor, replacement}, 120)
    assert victim not in gauges(workers["url"], "mlgate_serve_model_version")  # the dead worker's gauges are gone
    assert workers["proc"].proc.poll() is None


def test_sigterm_stops_every_worker_after_its_requests_and_the_service_exits_0(
    trained: dict[str, Any], workers: dict[str, Any]
) -> None:
    pids = workers["proc"].worker_pids()
    with ThreadPoolExecutor(max_workers=4) as pool:
        in_flight = [pool.submit(post, workers["url"], trained["rows"][:50]) for _ in range(4)]
        time.sleep(0.5)
        code = workers["proc"].stop()  # SIGTERM to the supervisor only: it stops the workers
        answers = [f.result(timeout=60) for f in in_flight]
    assert code == 0, workers["log"].read_text()[-3000:]
    assert [a.status_code for a in answers] == [200] * 4  # accepted requests were answered, not cut
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    log = workers["log"].read_text()
    for pid in pids:
        assert f"worker {pid} stopped" in log  # its lifespan ran: follower stopped, audit store closed

"""`mlgate serve` with a canary or a shadow beside the stable version: a real uvicorn process, a real `mlflow server`.

credit v1 (stable in ``staging``) and v2 (the candidate) are trained for real; the policy lets
``staging`` take a candidate. One service on SQLite follows release.yaml as the tests commit it:
a canary at 0.10 keyed by ``customer_id`` (a column the rows carry beside the features), the
canary removed (drained), a canary whose alias disagrees (not served), a shadow. PostgreSQL and
SQLite audit stores written before arms are migrated on start.

The candidate's alias (``staging-canary``, ``staging-shadow``) is set here through the registry
adapter directly, as ``mlgate promote --apply`` will once the promotion part of issue #24 moves
candidate aliases: this file tests serving, not the promotion.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import copy_repo, credit_decides_at_0_6, git, invoke, promoted
from mlgate.config import ArmKind, remove_candidate, set_candidate
from mlgate.registry import Registry
from mlgate.serving import AuditStore, Record, arm_of
from mlgate_devkit.mariadb import Server
from mlgate_devkit.postgres import Cluster
from mlgate_devkit.serve_process import ServeProcess, start_serve

pytestmark = pytest.mark.server

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
ALICE = "alice-token-5b1e7c9d3a2f4e60"
TOKENS = f"alice {ALICE}"
POLL = 1.0
STAGE = "staging"
CANARY_ALIAS, SHADOW_ALIAS = "staging-canary", "staging-shadow"


@pytest.fixture(scope="module")
def trained(template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """credit v1, v2 and v3 (no `purpose`) trained for real; staging at v1; staging may take a candidate."""
    base = tmp_path_factory.mktemp("arms")
    repo = copy_repo(template_repo, base / "repo")
    credit_decides_at_0_6(repo)
    policy = repo / "policies" / "base.yaml"
    text = policy.read_text()
    stage_line = "    staging:\n      require_gates: [performance, integrity, documentation]\n"
    assert stage_line in text
    if "canary:" not in text.split("    production:")[0]:
        policy.write_text(text.replace(stage_line, stage_line + "      canary:\n        max_traffic: 0.25\n"))
        git("commit", "-qam", "staging takes a canary or a shadow", cwd=repo)
    params = repo / "params.yaml"  # a forest of 20 trees: 5,000 one-row requests cost the model little
    assert "credit:\n  n_estimators: 200\n" in params.read_text()
    params.write_text(params.read_text().replace("credit:\n  n_estimators: 200\n", "credit:\n  n_estimators: 20\n"))
    git("commit", "-qam", "credit: 20 trees", cwd=repo)
    versions = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        for _ in range(2):
            done = invoke(CliRunner(), "train", "credit", "--json", "-", cwd=repo)
            assert done.exit_code == 0, done.output
            versions.append(json.loads(done.stdout)["version"])
        # v3 without `purpose`: a candidate whose signature refuses the rows the stable version takes
        spec = repo / "models" / "credit" / "model.yaml"
        full = spec.read_text()
        spec.write_text(full.replace("checking_account, purpose]", "checking_account]"))
        git("commit", "-qam", "credit without purpose", cwd=repo)
        done = invoke(CliRunner(), "train", "credit", "--json", "-", cwd=repo)
        assert done.exit_code == 0, done.output
        versions.append(json.loads(done.stdout)["version"])
        spec.write_text(full)
        git("commit", "-qam", "credit with purpose again", cwd=repo)
    promoted(repo, mlflow_server, "credit", STAGE, versions[0])
    data = pd.read_csv(repo / "data" / "german_credit.csv")[FEATURES]
    rows = json.loads(data.iloc[:100].to_json(orient="records"))  # missing categories are null
    return {"repo": repo, "base": base, "uri": mlflow_server, "versions": versions, "rows": rows}


def serve(
    trained: dict[str, Any], name: str, audit_url: str, *args: str, env: dict[str, str] | None = None
) -> ServeProcess:
    env = {"MLFLOW_TRACKING_URI": trained["uri"], "MLGATE_SERVE_TOKENS": TOKENS, **(env or {})}
    log = trained["base"] / f"{name}.log"
    return start_serve(
        trained["repo"], "credit", STAGE, log, "--audit-url", audit_url, "--poll-seconds", str(POLL), *args, env=env
    )


def commit_release(repo: Path, message: str) -> None:
    git("add", "models/credit/release.yaml", cwd=repo)
    git("commit", "-qm", message, cwd=repo)


def ask_for(
    trained: dict[str, Any], kind: ArmKind, traffic: float | None = None, *, alias: int | None = -1, version: int = 0
) -> None:
    """release.yaml asks for v2 (or ``version``) as ``kind`` beside staging, committed; its alias set (-1: to it)."""
    repo, v2 = trained["repo"], version or trained["versions"][1]
    registry = Registry(repo, trained["uri"])
    digest = registry.artifact_digest("credit", v2).digest
    set_candidate(repo, "credit", STAGE, kind, v2, digest, traffic)
    commit_release(repo, f"{kind} v{v2} beside {STAGE}")
    # what `mlgate promote --apply` does for a candidate (the promotion part of issue #24): set directly here
    target = v2 if alias == -1 else alias
    for other in (CANARY_ALIAS, SHADOW_ALIAS):
        registry.delete_alias("credit", other)
    if target is not None:
        registry.set_alias("credit", f"{STAGE}-{kind.value}", target)


def no_candidate(trained: dict[str, Any]) -> None:
    remove_candidate(trained["repo"], "credit", STAGE)
    commit_release(trained["repo"], "no candidate")


def ready(url: str) -> dict[str, Any]:
    return httpx.get(url + "/ready", timeout=10).json()


def candidate_state(url: str) -> dict[str, Any] | None:
    arms = ready(url)["arms"]
    return arms[1] if len(arms) > 1 else None


def wait_for(check: Any, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def serving(url: str, kind: str, version: int) -> bool:
    state = candidate_state(url)
    return state is not None and state["arm"] == kind and state["version"] == version and state["serving"]


def post(client: httpx.Client, url: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    got = client.post(
        url + "/invocations", json={"dataframe_records": rows}, headers={"Authorization": f"Bearer {ALICE}"}
    )
    assert got.status_code == 200, got.text
    return got.json()


def audit(url: str, where: str = "1=1") -> pd.DataFrame:
    engine = AuditStore(url).engine  # the service's driver and connect arguments (MYSQL_PWD for MariaDB)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text(f"SELECT * FROM mlgate_predictions WHERE {where}"), conn)
    finally:
        engine.dispose()


def metric(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def probabilities(trained: dict[str, Any], version: int, rows: list[dict[str, Any]]) -> np.ndarray:
    model = Registry(trained["repo"], trained["uri"]).load_model("credit", version)
    frame = pd.DataFrame(rows)[FEATURES]
    for column in ("housing", "saving_accounts", "checking_account", "purpose"):
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    return model.predict_proba(frame)[:, 1]


@pytest.fixture(scope="module")
def service(trained: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One service on SQLite keyed by customer_id, started while release.yaml asks for a canary at 0.10."""
    ask_for(trained, ArmKind.CANARY, 0.10)
    db = trained["base"] / "audit.db"
    started = trained["base"] / "started.json"
    proc = serve(trained, "sqlite", f"sqlite:///{db}", "--arm-key", "customer_id", "--json", str(started))
    try:
        yield {"url": proc.url, "proc": proc, "db": f"sqlite:///{db}", "log": proc.log, "started": started}
    finally:
        proc.stop()


def test_arm_of_is_the_contracts_hash() -> None:
    for key in ("c1", "42", "é", ""):
        share = int(hashlib.sha256(f"credit:production:{key}".encode()).hexdigest()[:16], 16) / 2**64
        assert arm_of("credit", "production", key, 0.10) == (ArmKind.CANARY if share < 0.10 else ArmKind.STABLE)
        assert arm_of("credit", "production", key, 0.0) == ArmKind.STABLE
        assert arm_of("credit", "production", key, 1.0) == ArmKind.CANARY
    # raising the traffic only adds keys: a key on the canary at 5 % stays there at 10 %
    keys = [f"c{i}" for i in range(2000)]
    at5 = {k for k in keys if arm_of("credit", "production", k, 0.05) == ArmKind.CANARY}
    at10 = {k for k in keys if arm_of("credit", "production", k, 0.10) == ArmKind.CANARY}
    assert at5 < at10


def test_a_canary_at_ten_percent_takes_ten_percent_of_5000_ids_each_id_on_one_arm_both_audited(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    url, (v1, v2, _) = service["url"], trained["versions"]
    facts = json.loads(service["started"].read_text())
    assert facts["arm_key"] == "customer_id"
    assert facts["arms"][1] == {**facts["arms"][1], "arm": "canary", "alias": CANARY_ALIAS, "version": v2}
    rows = trained["rows"]
    n = 5000
    ids = [f"c{i}" for i in range(n)]
    started = time.monotonic()
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda i: post(client, url, [{**rows[i % len(rows)], "customer_id": ids[i]}]), range(n))
        )
    took = time.monotonic() - started
    arms = [a["predictions"][0]["arm"] for a in answers]
    share = arms.count("canary") / n
    print(f"canary share over {n} requests: {share:.4f} ({took:.1f} s)")
    assert abs(share - 0.10) <= 0.02
    # exactly the contract's hash of each id
    assert arms == [str(arm_of("credit", STAGE, i, 0.10)) for i in ids]
    for answer, arm in zip(answers, arms, strict=True):
        assert answer["version"] == v1  # the answer's version is the stable one
        assert answer["predictions"][0]["version"] == (v2 if arm == "canary" else v1)
    # sticky: the same ids again (three at a time, mixed arms in one request) land where they did
    again = {}
    with httpx.Client(timeout=30) as client:
        for start in range(0, 300, 3):
            batch = [{**rows[j % len(rows)], "customer_id": ids[j]} for j in range(start, start + 3)]
            for j, prediction in zip(range(start, start + 3), post(client, url, batch)["predictions"], strict=True):
                again[j] = prediction["arm"]
    assert [again[j] for j in range(300)] == arms[:300]
    # both arms audited: the arm alias, the arm, the version, the key, the request's row
    audited = audit(service["db"])
    counted = Counter(zip(audited["arm"], audited["alias"], audited["version"], strict=True))
    assert counted[("canary", CANARY_ALIAS, v2)] == arms.count("canary") + list(again.values()).count("canary")
    assert counted[("stable", STAGE, v1)] == arms.count("stable") + list(again.values()).count("stable")
    assert set(counted) == {("canary", CANARY_ALIAS, v2), ("stable", STAGE, v1)}
    one = audited[audited["request_id"] == answers[0]["request_id"]]
    assert one["arm_key"].tolist() == ["c0"]
    assert "customer_id" not in json.loads(one["features"].iloc[0])  # the key is not a feature: not the model's
    # the canary's decisions are v2's own
    canary_rows = [i for i in range(200) if arms[i] == "canary"]
    assert canary_rows
    got = np.array([answers[i]["predictions"][0]["probabilities"]["1"] for i in canary_rows])
    want = probabilities(trained, v2, [rows[i % len(rows)] for i in canary_rows])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # /metrics per arm
    text = httpx.get(url + "/metrics", timeout=10).text
    assert (
        f'mlgate_serve_arm_rows_total{{arm="canary",version="{v2}"}} {float(counted[("canary", CANARY_ALIAS, v2)])}'
        in text
    )
    assert f'mlgate_serve_arm_version{{alias="{CANARY_ALIAS}",arm="canary",model="credit"}} {float(v2)}' in text
    assert f'mlgate_serve_arm_version{{alias="{STAGE}",arm="stable",model="credit"}} {float(v1)}' in text
    assert 'mlgate_serve_canary_traffic{model="credit",stage="staging"} 0.1' in text
    assert metric(url, 'mlgate_serve_arm_model_seconds_count{arm="canary"}') >= 1


def test_reasons_of_a_split_request_come_from_the_version_that_decided_each_row(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    from mlgate.gates import explainer

    url, (v1, v2, _) = service["url"], trained["versions"]
    rows = trained["rows"][:40]
    body = {"dataframe_records": [{**row, "customer_id": f"c{i}"} for i, row in enumerate(rows)]}
    got = httpx.post(
        url + "/invocations?reasons=2", json=body, headers={"Authorization": f"Bearer {ALICE}"}, timeout=60
    )
    assert got.status_code == 200, got.text
    answer = got.json()
    arms = [p["arm"] for p in answer["predictions"]]
    assert set(arms) == {"canary", "stable"}  # c0..c39 at 10 %: both arms in one request
    assert answer["reasons"]["method"] == "tree_shap"
    frame = pd.DataFrame(rows)[FEATURES]
    for column in ("housing", "saving_accounts", "checking_account", "purpose"):
        frame[column] = frame[column].astype("object").where(frame[column].notna(), np.nan)
    registry = Registry(trained["repo"], trained["uri"])
    for arm, version in (("stable", v1), ("canary", v2)):
        model = registry.load_model("credit", version)
        mine = [i for i, a in enumerate(arms) if a == arm]
        x = frame.iloc[mine].reset_index(drop=True)
        reasons = explainer(model, FEATURES, task="classification", classes=[0, 1], positive=1).explain(x)
        want = reasons.top(x, 2)
        for i, expected in zip(mine, want, strict=True):
            answered = answer["predictions"][i]["reasons"]
            assert [r["feature"] for r in answered] == [r["feature"] for r in expected]
            np.testing.assert_allclose(
                [r["contribution"] for r in answered], [r["contribution"] for r in expected], rtol=0, atol=1e-12
            )
    # each arm's audit row keeps its reasons
    stored = audit(service["db"], f"request_id = '{answer['request_id']}'")
    assert all("reasons" in json.loads(o) for o in stored["outputs"])


def test_without_a_key_a_row_is_routed_by_the_request_id_and_a_key_that_is_no_scalar_is_422(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    url, rows = service["url"], trained["rows"]
    wait_for(lambda: serving(url, "canary", trained["versions"][1]), 30)
    with httpx.Client(timeout=30) as client:
        answer = post(client, url, rows[:4])  # no customer_id: the request id keys every row
        want = str(arm_of("credit", STAGE, answer["request_id"], 0.10))
        assert [p["arm"] for p in answer["predictions"]] == [want] * 4
        bad = client.post(
            url + "/invocations",
            json={"dataframe_records": [{**rows[0], "customer_id": {"nested": 1}}]},
            headers={"Authorization": f"Bearer {ALICE}"},
        )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "dataframe_records[0].customer_id"


def test_a_sensitive_feature_beside_the_inputs_is_audited_never_given_to_the_model_any_other_column_is_422(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    """``sex`` is a sensitive feature of credit, not an input: sent beside a row, it is kept for the comparison."""
    url, rows = service["url"], trained["rows"]
    sent = [{**rows[i], "sex": sex, "customer_id": f"s{i}"} for i, sex in enumerate(["female", "male", "female"])]
    with httpx.Client(timeout=30) as client:
        answer = post(client, url, sent)
        plain = post(client, url, [{**row, "customer_id": f"s{i}"} for i, row in enumerate(rows[:3])])
        other = client.post(
            url + "/invocations",
            json={"dataframe_records": [{**rows[0], "nickname": "x"}]},
            headers={"Authorization": f"Bearer {ALICE}"},
        )
    # the model never saw sex: the same rows without it get the same probabilities
    assert [p["probabilities"] for p in answer["predictions"]] == [p["probabilities"] for p in plain["predictions"]]
    stored = audit(service["db"], f"request_id = '{answer['request_id']}'").sort_values("row")
    assert [json.loads(f)["sex"] for f in stored["features"]] == ["female", "male", "female"]
    assert other.status_code == 422
    assert other.json()["detail"][0]["field"].endswith("nickname")


def test_a_canary_removed_from_release_yaml_drains_within_the_poll_interval(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    url, rows = service["url"], trained["rows"]
    wait_for(lambda: serving(url, "canary", trained["versions"][1]), 30)
    no_candidate(trained)  # the alias is still there: the merge's apply has not run yet
    took = wait_for(lambda: candidate_state(url) is None, 30)
    print(f"canary drained {took:.2f} s after the commit (poll interval {POLL} s)")
    assert took <= POLL + 1.5  # the next poll, plus its own git and registry reads
    with httpx.Client(timeout=30) as client:
        arms = {
            p["arm"]
            for i in range(0, 200, 4)
            for p in post(client, url, [{**rows[j % len(rows)], "customer_id": f"c{j}"} for j in range(i, i + 4)])[
                "predictions"
            ]
        }
    assert arms == {"stable"}  # ids the canary answered before go to the stable version now
    assert 'mlgate_serve_canary_traffic{model="credit",stage="staging"} 0.0' in httpx.get(url + "/metrics").text
    assert "drained (release.yaml asks for no candidate any more)" in service["log"].read_text()


def test_a_canary_whose_alias_disagrees_with_release_yaml_is_not_served_and_ready_and_metrics_say_so(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    url, (v1, v2, _) = service["url"], trained["versions"]
    before = metric(url, 'mlgate_serve_arm_custody_violations_total{arm="canary",reason="alias"}')
    ask_for(trained, ArmKind.CANARY, 0.25, alias=v1)  # release.yaml asks for v2; the alias says v1
    # the aliases were deleted, then set: wait for the poll that saw the alias at v1
    wait_for(lambda: f"points at v{v1}" in (candidate_state(url) or {}).get("problem", ""), 30)
    state = ready(url)
    candidate = state["arms"][1]
    assert candidate["serving"] is False
    assert candidate["version"] is None
    assert (candidate["alias_version"], candidate["release_version"]) == (v1, v2)
    assert (
        f"asks for v{v2} in {CANARY_ALIAS}, but models:/credit@{CANARY_ALIAS} points at v{v1}" in candidate["problem"]
    )
    assert any(p.startswith(f"canary {CANARY_ALIAS}: ") for p in state["problems"])
    assert state["ready"] is True  # the stable version serves
    assert metric(url, 'mlgate_serve_arm_custody_violations_total{arm="canary",reason="alias"}') == before + 1
    assert metric(url, f'mlgate_serve_arm_version{{alias="{CANARY_ALIAS}",arm="canary",model="credit"}}') == 0
    assert metric(url, f'mlgate_serve_arm_release_version{{alias="{CANARY_ALIAS}",arm="canary",model="credit"}}') == v2
    with httpx.Client(timeout=30) as client:
        answers = [post(client, url, [{**trained["rows"][0], "customer_id": f"c{i}"}]) for i in range(100)]
    assert {a["predictions"][0]["arm"] for a in answers} == {"stable"}  # 25 % would have gone to the canary
    # the alias put back where release.yaml says: served at the next poll
    Registry(trained["repo"], trained["uri"]).set_alias("credit", CANARY_ALIAS, v2)
    wait_for(lambda: serving(url, "canary", v2), 30)
    assert ready(url)["problems"] == []


def test_a_shadow_answers_nothing_and_both_versions_are_audited(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    url, (v1, v2, _), rows = service["url"], trained["versions"], trained["rows"]
    ask_for(trained, ArmKind.SHADOW)
    wait_for(lambda: serving(url, "shadow", v2), 30)
    ids = []
    with httpx.Client(timeout=30) as client:
        for start in range(0, 60, 6):
            answer = post(client, url, [{**rows[j], "customer_id": f"c{j}"} for j in range(start, start + 6)])
            assert answer["version"] == v1
            assert {(p["arm"], p["version"]) for p in answer["predictions"]} == {("stable", v1)}
            ids.append(answer["request_id"])
    where = "request_id IN ({})".format(", ".join(f"'{i}'" for i in ids))
    wait_for(lambda: len(audit(service["db"], where)) == 2 * 60, 30)  # the shadow writes after the answer
    audited = audit(service["db"], where)
    shadow = audited[audited["arm"] == "shadow"].sort_values(["request_id", "row"])
    stable = audited[audited["arm"] == "stable"].sort_values(["request_id", "row"])
    assert set(zip(shadow["alias"], shadow["version"], strict=True)) == {(SHADOW_ALIAS, v2)}
    assert set(zip(stable["alias"], stable["version"], strict=True)) == {(STAGE, v1)}
    # the same rows, keyed (request_id, row, arm)
    assert shadow[["request_id", "row"]].to_numpy().tolist() == stable[["request_id", "row"]].to_numpy().tolist()
    assert shadow["features"].tolist() == stable["features"].tolist()
    scores = [json.loads(o)["probabilities"]["1"] for o in shadow["outputs"]]
    request = {i: k for k, i in enumerate(ids)}  # the k-th request sent rows 6k..6k+5
    shadow_rows = [rows[request[q] * 6 + int(r)] for q, r in zip(shadow["request_id"], shadow["row"], strict=True)]
    np.testing.assert_allclose(scores, probabilities(trained, v2, shadow_rows), rtol=0, atol=1e-12)
    assert metric(url, 'mlgate_serve_arm_requests_total{arm="shadow"}') >= len(ids)
    assert metric(url, 'mlgate_serve_arm_errors_total{arm="shadow",reason="model"}') == 0
    no_candidate(trained)
    wait_for(lambda: candidate_state(url) is None, 30)


def test_a_candidate_that_fails_on_the_rows_never_fails_the_answer_its_failures_are_counted(
    trained: dict[str, Any], service: dict[str, Any]
) -> None:
    """v3 has no `purpose`: its signature refuses every row the stable version takes (an extra column)."""
    url, (v1, _, v3), rows = service["url"], trained["versions"], trained["rows"]
    ask_for(trained, ArmKind.SHADOW, version=v3)
    wait_for(lambda: serving(url, "shadow", v3), 30)
    before = metric(url, 'mlgate_serve_arm_errors_total{arm="shadow",reason="invalid"}')
    with httpx.Client(timeout=30) as client:
        answers = [post(client, url, rows[i : i + 5]) for i in range(0, 50, 5)]
    assert {(p["arm"], p["version"]) for a in answers for p in a["predictions"]} == {("stable", v1)}
    where = "request_id IN ({})".format(", ".join(f"'{a['request_id']}'" for a in answers))
    wait_for(lambda: metric(url, 'mlgate_serve_arm_errors_total{arm="shadow",reason="invalid"}') == before + 10, 30)
    assert set(audit(service["db"], where)["arm"]) == {"stable"}  # nothing the shadow could not score
    # a canary taking every row (traffic 0.25 of ids chosen on it) that refuses them: the stable version decides
    ask_for(trained, ArmKind.CANARY, 0.25, version=v3)
    wait_for(lambda: serving(url, "canary", v3), 30)
    on_canary = [f"c{i}" for i in range(400) if arm_of("credit", STAGE, f"c{i}", 0.25) == ArmKind.CANARY][:20]
    before = metric(url, 'mlgate_serve_arm_errors_total{arm="canary",reason="invalid"}')
    with httpx.Client(timeout=30) as client:
        answers = [post(client, url, [{**rows[0], "customer_id": key}]) for key in on_canary]
    assert {(a["predictions"][0]["arm"], a["predictions"][0]["version"]) for a in answers} == {("stable", v1)}
    assert metric(url, 'mlgate_serve_arm_errors_total{arm="canary",reason="invalid"}') == before + len(on_canary)
    no_candidate(trained)
    wait_for(lambda: candidate_state(url) is None, 30)


def test_two_workers_each_follow_the_canary_and_route_each_id_alike(trained: dict[str, Any]) -> None:
    """``--workers 2``: each worker loads the canary itself; an id lands on the same arm whichever worker answers."""
    v1, v2, _ = trained["versions"]
    ask_for(trained, ArmKind.CANARY, 0.25)
    db = trained["base"] / "workers.db"
    proc = serve(trained, "workers", f"sqlite:///{db}", "--workers", "2", "--arm-key", "customer_id")
    try:
        ids = [f"w{i}" for i in range(200)]
        with ThreadPoolExecutor(max_workers=8) as pool:  # a fresh connection per request: both workers answer
            answers = list(
                pool.map(
                    lambda key: httpx.post(
                        proc.url + "/invocations",
                        json={"dataframe_records": [{**trained["rows"][0], "customer_id": key}]},
                        headers={"Authorization": f"Bearer {ALICE}"},
                        timeout=30,
                    ).json(),
                    ids,
                )
            )
        arms = [a["predictions"][0]["arm"] for a in answers]
        assert arms == [str(arm_of("credit", STAGE, key, 0.25)) for key in ids]
        audited = audit(f"sqlite:///{db}")
        assert Counter(audited["arm"]) == Counter(arms)
        assert set(audited[audited["arm"] == "canary"]["version"]) == {v2}
        gauges = [
            line
            for line in httpx.get(proc.url + "/metrics", timeout=10).text.splitlines()
            if line.startswith("mlgate_serve_arm_version{") and 'arm="canary"' in line
        ]
        assert len(gauges) == 2  # one per worker (pid label), each serving v2
        assert all(line.endswith(f" {float(v2)}") for line in gauges)
        assert v1 in set(audited["version"])
    finally:
        proc.stop()
        no_candidate(trained)


# --- audit stores written before arms: migrated on start ------------------------------------------


OLD_TABLE = """CREATE TABLE mlgate_predictions (
    request_id VARCHAR(32) NOT NULL, "row" INTEGER NOT NULL, at TIMESTAMP {tz} NOT NULL, caller VARCHAR(100) NOT NULL,
    model VARCHAR(200) NOT NULL, version INTEGER NOT NULL, alias VARCHAR(100) NOT NULL, run_id VARCHAR(64) NOT NULL,
    features {json} NOT NULL, outputs {json} NOT NULL, latency_ms FLOAT NOT NULL, PRIMARY KEY (request_id, "row"))"""
OLD_ROW = (
    "INSERT INTO mlgate_predictions VALUES ('old', 0, '2026-01-01 00:00:00', 'alice', 'credit', 1, 'staging', 'r', "
    "'{}', '{}', 1.0)"
)


def record(arm: str, version: int) -> Record:
    return Record("old", datetime.now(UTC), "alice", "credit", version, f"staging-{arm}", "r", 1.0, [({}, {})], arm=arm)


def test_a_sqlite_store_written_before_arms_is_migrated_and_takes_shadow_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute(OLD_TABLE.format(tz="", json="JSON"))
        conn.execute("CREATE INDEX ix_mlgate_predictions_at ON mlgate_predictions (at)")
        conn.execute(OLD_ROW)
    store = AuditStore(f"sqlite:///{db}")
    try:
        store.create()
        store.write(record("shadow", 2))  # the same request and row as the old one, another arm
        store.create()  # again: nothing to do
    finally:
        store.close()
    rows = audit(f"sqlite:///{db}", "1=1 ORDER BY arm")
    assert rows[["request_id", "row", "arm", "version"]].to_numpy().tolist() == [
        ["old", 0, "shadow", 2],
        ["old", 0, "stable", 1],
    ]
    with sqlite3.connect(db) as conn:
        key = [r[1] for r in sorted(conn.execute("PRAGMA table_info(mlgate_predictions)"), key=lambda r: r[5]) if r[5]]
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(mlgate_predictions)")}
        # an older mlgate serve (no arm column in its insert) still writes: the default is stable
        conn.execute(
            OLD_ROW.replace("'old'", "'older'").replace(
                "VALUES",
                "(request_id, row, at, caller, model, version, alias, run_id, features, outputs, latency_ms) VALUES",
            )
        )
        assert conn.execute("SELECT arm FROM mlgate_predictions WHERE request_id = 'older'").fetchone() == ("stable",)
    assert key == ["request_id", "row", "arm"]
    assert "ix_mlgate_predictions_at" in indexes
    assert not any(name.endswith("_before_arms") for name in indexes)


def both_arms_audited(proc: Any, trained: dict[str, Any], url: str) -> None:
    """Once the shadow serves, one request of 5 rows is audited twice in the store at ``url``: stable and shadow."""
    wait_for(lambda: serving(proc.url, "shadow", trained["versions"][1]), 30)
    with httpx.Client(timeout=30) as client:
        answer = post(client, proc.url, trained["rows"][:5])
    where = f"request_id = '{answer['request_id']}'"
    wait_for(lambda: len(audit(url, where)) == 10, 30)
    both = audit(url, where)
    assert Counter(both["arm"]) == {"stable": 5, "shadow": 5}
    assert set(both[both["arm"] == "shadow"]["alias"]) == {SHADOW_ALIAS}


def test_a_postgresql_store_written_before_arms_is_migrated_on_start_and_holds_both_arms(
    trained: dict[str, Any], postgres: Cluster
) -> None:
    url = postgres.url.replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS mlgate_predictions")
        conn.exec_driver_sql(OLD_TABLE.format(tz="WITH TIME ZONE", json="JSON"))
        conn.exec_driver_sql(OLD_ROW)
    ask_for(trained, ArmKind.SHADOW)
    proc = serve(trained, "postgres", postgres.url)
    try:
        with engine.connect() as conn:
            key = sa.inspect(conn).get_pk_constraint("mlgate_predictions")["constrained_columns"]
        assert key == ["request_id", "row", "arm"]
        assert audit(url, "request_id = 'old'")["arm"].tolist() == ["stable"]
        both_arms_audited(proc, trained, url)
    finally:
        proc.stop()
        engine.dispose()
        no_candidate(trained)


def test_a_mysql_store_written_before_arms_is_migrated_on_start_and_holds_both_arms(
    trained: dict[str, Any], mariadb: Server
) -> None:
    """The ALTER TABLE path on MariaDB: the table as an mlgate before arms made it there (DATETIME, JSON)."""
    url = mariadb.new_database()
    engine = AuditStore(url).engine
    with engine.begin() as conn:
        old = OLD_TABLE.replace('"row"', "`row`").replace("TIMESTAMP {tz}", "DATETIME").format(json="JSON")
        conn.exec_driver_sql(old)
        conn.exec_driver_sql("CREATE INDEX ix_mlgate_predictions_at ON mlgate_predictions (at)")
        conn.exec_driver_sql(OLD_ROW)
    ask_for(trained, ArmKind.SHADOW)
    proc = serve(trained, "mysql", url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            key = inspector.get_pk_constraint("mlgate_predictions")["constrained_columns"]
            at = next(c for c in inspector.get_columns("mlgate_predictions") if c["name"] == "at")
            indexes = {i["name"] for i in inspector.get_indexes("mlgate_predictions")}
        assert key == ["request_id", "row", "arm"]
        assert getattr(at["type"], "fsp", None) == 6  # microseconds kept from now on
        assert "ix_mlgate_predictions_at" in indexes
        assert audit(url, "request_id = 'old'")["arm"].tolist() == ["stable"]
        both_arms_audited(proc, trained, url)
        # an older mlgate serve (no arm column in its insert) still writes: the default is stable
        with engine.begin() as conn:
            conn.exec_driver_sql(
                OLD_ROW.replace("'old'", "'older'").replace(
                    "VALUES",
                    "(request_id, `row`, at, caller, model, version, alias, run_id, features, outputs, latency_ms) "
                    "VALUES",
                )
            )
        assert audit(url, "request_id = 'older'")["arm"].tolist() == ["stable"]
    finally:
        proc.stop()
        engine.dispose()
        no_candidate(trained)


def test_an_arm_key_option_naming_another_column_than_the_spec_exits_2_before_anything_starts(
    governed_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = governed_repo / "models" / "credit" / "model.yaml"
    db = Path("/var/lib/mlgate-serve24-never/audit.db")  # the spec takes no temporary folder; never created
    spec.write_text(spec.read_text() + f"serving:\n  audit_url: sqlite:///{db}\n  arm_key: customer_id\n")
    monkeypatch.setenv("MLGATE_SERVE_TOKENS", TOKENS)
    done = invoke(CliRunner(), "serve", "credit", "--stage", "staging", "--arm-key", "applicant", cwd=governed_repo)
    assert done.exit_code == 2, done.output
    assert "--arm-key 'applicant', but models/credit/model.yaml:" in done.output
    assert "serving.arm_key is 'customer_id'" in done.output
    assert not db.exists()  # refused before the audit store was touched


def test_a_stopped_service_leaves_no_downloaded_model_files_behind(trained: dict[str, Any], tmp_path: Path) -> None:
    """uvicorn re-raises SIGTERM after its graceful shutdown (no exit handler runs): the service removes them itself."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = serve(trained, "cleanup", f"sqlite:///{tmp_path / 'audit.db'}", env={"TMPDIR": str(scratch)})
    try:
        held = [p.name for p in scratch.iterdir() if p.name.startswith("mlgate-serve-")]
        assert held, "the served version's files are downloaded into the temp folder"
    finally:
        proc.stop()
    assert [p.name for p in scratch.iterdir() if p.name.startswith("mlgate-serve-")] == []

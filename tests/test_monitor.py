"""`mlgate monitor`: production traffic against the reference, judged by the policy's monitoring rules.

The credit model is trained for real against the session's `mlflow server` and set as
``production`` directly (promotion is other tests' business). Its holdout rows reach a SQLite audit
store through a real `mlgate serve` process; drifted rows, other versions' rows and the PostgreSQL
store are written with the audit store's own API (the code serve writes with), at fixed times so
each scenario reads its own window. Outcomes arrive as a DVC-tracked CSV. PostgreSQL is Debian's,
started in a temp folder: without it the PostgreSQL test skips, and fails under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result
from sklearn.model_selection import train_test_split

from conftest import PROJECT, copy_repo, dvc, git, github_stand_in, invoke, promoted
from faulty_proxy import FaultyProxy
from mlgate.monitoring import TOLERANCE, estimate, resolve
from mlgate.registry import Registry
from mlgate.serving import AuditStore, Record
from mlgate_devkit.mariadb import Server
from mlgate_devkit.postgres import Cluster
from mlgate_devkit.serve_process import start_serve

pytestmark = pytest.mark.server

FEATURES = ["credit_amount", "duration", "age", "job", "housing", "saving_accounts", "checking_account", "purpose"]
CATEGORICAL = ["housing", "saving_accounts", "checking_account", "purpose"]
ALICE = "alice-token-3f9c0a7d5e1b4c2a"
ROLLBACK = "  rollback_procedure: revert the promotion PR; mlgate moves the production alias back\n"
OLD_OUTCOME = "0" * 32  # an outcome of a request outside every window: the file exists before ours arrive
DRIFT_DAY = "2025-01-10"
POSTGRES_DAY = "2025-02-03"


def monitoring_block(
    audit: str | None = None, scores: str | None = None, labels: bool = True, labels_url: str | None = None
) -> str:
    """The spec's monitoring additions: sources, outcomes (30 days late, a file or a table), a retraining trigger."""
    lines = ["  sources:"]
    if audit:
        lines.append(f"    audit_url: {audit}")
    if scores:
        lines.append(f"    scores: {scores}")
    if labels_url:
        lines += ["  labels:", f"    url: {labels_url}", "    table: outcomes", "    id_columns: [request_id, row]"]
        lines += ["    label_column: risk"]
    elif labels:
        lines += [
            "  labels:",
            "    path: data/outcomes.csv",
            "    id_columns: [request_id, row]",
            "    label_column: risk",
            "    delay_days: 30",
        ]
    lines += ["  retrain_when:", "    metric: drifted_share", "    max: 0.3"]
    return "\n".join(lines) + "\n"


def set_monitoring(repo: Path, block: str) -> None:
    """Replace the spec's monitoring additions (everything after rollback_procedure up to policy:) and commit."""
    spec = repo / "models" / "credit" / "model.yaml"
    text = spec.read_text()
    start = text.index(ROLLBACK) + len(ROLLBACK)
    end = text.index("policy: ")
    spec.write_text(text[:start] + block + text[end:])
    git("commit", "-qam", "monitoring sources", cwd=repo)


def write_outcomes(repo: Path, rows: pd.DataFrame) -> None:
    """data/outcomes.csv (request_id, row, risk) tracked by DVC and committed: outcomes arriving."""
    old = pd.DataFrame({"request_id": [OLD_OUTCOME], "row": [0], "risk": [1]})
    pd.concat([old, rows[["request_id", "row", "risk"]]]).to_csv(repo / "data" / "outcomes.csv", index=False)
    dvc("add", "-q", "data/outcomes.csv", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "outcomes arrived", cwd=repo)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON objects, as a client sends them (a missing category is null)."""
    return json.loads(frame[FEATURES].to_json(orient="records"))


@pytest.fixture(scope="module")
def trained(
    template_repo: Path, mlflow_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """credit trained for real with monitoring sources (a SQLite audit store) and outcomes; production at v1."""
    base = tmp_path_factory.mktemp("monitor")
    repo = copy_repo(template_repo, base / "repo")
    db = base / "audit.db"
    write_outcomes(repo, pd.DataFrame(columns=["request_id", "row", "risk"]))
    set_monitoring(repo, monitoring_block(audit=f"sqlite:///{db}"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        done = invoke(CliRunner(), "train", "credit", "--json", "-", cwd=repo)
        assert done.exit_code == 0, done.output
    version = json.loads(done.stdout)["version"]
    promoted(repo, mlflow_server, "credit", "production", version)
    registry = Registry(repo, mlflow_server)
    data = pd.read_csv(repo / "data" / "german_credit.csv")
    _, held = train_test_split(np.arange(len(data)), test_size=0.25, random_state=42, stratify=data["risk"])
    holdout = data.iloc[held].reset_index(drop=True)
    model = registry.load_model("credit", version)
    yield {
        "repo": repo,
        "base": base,
        "uri": mlflow_server,
        "db": db,
        "version": version,
        "holdout": holdout,
        "model": model,
        "registry": registry,
    }
    # the session's registry is shared: later modules expect credit's production alias unset
    registry.delete_alias("credit", "production")


def proba(trained: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    x = frame[FEATURES].copy()
    for column in CATEGORICAL:
        x[column] = x[column].astype("object").where(x[column].notna(), None)
    return trained["model"].predict_proba(x)[:, 1]


def audit_record(trained: dict[str, Any], frame: pd.DataFrame, at: datetime, version: int | None = None) -> Record:
    """One request of ``frame``'s rows as mlgate serve records it (outputs from the real model)."""
    p = proba(trained, frame)
    outputs = [
        {"decision": int(pi >= 0.5), "needs_review": bool(0.4 <= pi <= 0.6), "probabilities": {"0": 1 - pi, "1": pi}}
        for pi in p.tolist()
    ]
    return Record(
        request_id=uuid.uuid4().hex,
        at=at,
        caller="alice",
        model="credit",
        version=version or trained["version"],
        alias="production",
        run_id="r" * 32,
        latency_ms=1.0,
        rows=list(zip(records(frame), outputs, strict=True)),
    )


def monitor(trained: dict[str, Any], *args: str, repo: Path | None = None) -> Result:
    os.environ["MLFLOW_TRACKING_URI"] = trained["uri"]
    try:
        return invoke(
            CliRunner(), "monitor", "credit", "--stage", "production", "--json", "-", *args, cwd=repo or trained["repo"]
        )
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


def rule(verdict: dict[str, Any], metric: str) -> dict[str, Any]:
    return next(r for r in verdict["rules"] if r["metric"] == metric)


def variant(trained: dict[str, Any], name: str, block: str) -> Path:
    """A copy of the trained repo whose spec reads other sources (same registry)."""
    repo = copy_repo(trained["repo"], trained["base"] / name)
    set_monitoring(repo, block)
    return repo


# --- (a) the holdout through a real mlgate serve: no drift ------------------------------------


@pytest.fixture(scope="module")
def served(trained: dict[str, Any]) -> pd.DataFrame:
    """The holdout posted to a real `mlgate serve` (SQLite audit store): request ids, rows, outcomes, scores."""
    env = {"MLFLOW_TRACKING_URI": trained["uri"], "MLGATE_SERVE_TOKENS": f"alice {ALICE}"}
    log = trained["base"] / "serve.log"
    proc = start_serve(
        trained["repo"], "credit", "production", log, "--audit-url", f"sqlite:///{trained['db']}", env=env
    )
    answers = []
    try:
        holdout = trained["holdout"]
        for start in range(0, len(holdout), 50):
            part = holdout.iloc[start : start + 50]
            got = httpx.post(
                proc.url + "/invocations",
                json={"dataframe_records": records(part)},
                headers={"Authorization": f"Bearer {ALICE}"},
                timeout=60,
            )
            assert got.status_code == 200, got.text
            body = got.json()
            for row, (risk, prediction) in enumerate(zip(part["risk"], body["predictions"], strict=True)):
                answers.append(
                    {"request_id": body["request_id"], "row": row, "risk": risk, "p": prediction["probabilities"]["1"]}
                )
    finally:
        proc.stop()
    return pd.DataFrame(answers)


@pytest.fixture(scope="module")
def no_drift(trained: dict[str, Any], served: pd.DataFrame) -> dict[str, Any]:
    done = monitor(trained, "--since", "1h")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_holdout_traffic_passes_with_every_metric_measured(trained: dict[str, Any], no_drift: dict[str, Any]) -> None:
    verdict = no_drift
    assert verdict["schema"] == "mlgate.monitoring/1"
    failing = [(r["metric"], r["observed"]) for r in verdict["rules"] if r["status"] not in ("pass", "skipped")]
    assert verdict["status"] == "pass", failing
    assert (verdict["model"], verdict["stage"], verdict["version"]) == ("credit", "production", trained["version"])
    assert verdict["rows"] == 250
    assert verdict["sources"] == [{"kind": "audit", "where": f"sqlite:///{trained['db']}", "rows": 250, "notes": []}]
    assert verdict["reference"]["kind"] == "training"
    assert verdict["reference"]["rows"] == 750
    assert (
        verdict["reference"]["md5"]
        == trained["registry"].version("credit", trained["version"]).tags["mlgate.data.path.md5"]
    )
    assert {f["feature"] for f in verdict["features"]} == set(FEATURES)
    assert not any(f["drifted"] for f in verdict["features"])
    metrics = verdict["metrics"]
    assert metrics["volume"] == 250
    assert metrics["null_fraction"] == 0
    assert metrics["unseen_categories"] == 0
    assert metrics["schema_mismatch"] == 0
    # the reference's scores are those of the split's held-out rows: exactly what was served
    assert metrics["prediction_psi"] == pytest.approx(0, abs=1e-9)
    assert verdict["prediction"]["current_mean"] == pytest.approx(verdict["prediction"]["reference_mean"])
    assert 0.5 < metrics["estimated_roc_auc"] <= 1
    assert verdict["estimated"]["method"] == "cbpe"
    assert verdict["retrain"]["triggered"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", verdict["window"]["from"])


def test_performance_is_skipped_with_the_delay_before_outcomes_arrive(no_drift: dict[str, Any]) -> None:
    roc = rule(no_drift, "roc_auc")
    assert roc["status"] == "skipped"
    assert "30 day(s)" in roc["explanation"]
    assert "0 of 250 rows are old enough" in roc["explanation"]
    assert no_drift["labels"] == {
        "rows": 0,
        "coverage": 0.0,
        "delay_days": 30,
        "eligible_rows": 0,
        "source": no_drift["labels"]["source"],
    }
    assert no_drift["labels"]["source"].startswith("data/outcomes.csv (md5 ")


# --- (b) injected drift ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def drifted(trained: dict[str, Any]) -> tuple[Result, dict[str, Any]]:
    """The holdout with credit_amount x 3, duration x 2 and a purpose nobody trained on, plus another version's rows."""
    frame = trained["holdout"].copy()
    frame["credit_amount"] = frame["credit_amount"] * 3
    frame["duration"] = frame["duration"] * 2
    frame.loc[frame.index % 5 < 2, "purpose"] = "crypto"
    store = AuditStore(f"sqlite:///{trained['db']}")
    at = datetime.fromisoformat(f"{DRIFT_DAY}T12:00:00+00:00")
    try:
        for start in range(0, len(frame), 100):
            store.write(audit_record(trained, frame.iloc[start : start + 100], at))
        store.write(audit_record(trained, trained["holdout"].iloc[:7], at, version=999))
    finally:
        store.close()
    done = monitor(trained, "--window", f"{DRIFT_DAY}..{DRIFT_DAY}")
    return done, json.loads(done.stdout)


def test_injected_drift_fails_and_names_the_drifted_features(drifted: tuple[Result, dict[str, Any]]) -> None:
    done, verdict = drifted
    assert done.exit_code == 1, done.output
    assert verdict["status"] == "fail"
    assert verdict["window"] == {"from": f"{DRIFT_DAY}T00:00:00Z", "to": "2025-01-11T00:00:00Z"}
    drifted_features = {f["feature"] for f in verdict["features"] if f["drifted"]}
    assert drifted_features == {"credit_amount", "duration", "purpose"}
    purpose = next(f for f in verdict["features"] if f["feature"] == "purpose")
    assert purpose["unseen_categories"] == ["crypto"]
    assert purpose["unseen_count"] == 100
    share = rule(verdict, "drifted_share")
    assert share["status"] == "fail"
    assert share["blocking"] is True
    assert share["observed"] == pytest.approx(3 / 8)
    assert "'credit_amount'" in share["explanation"]
    assert verdict["rules"][0]["metric"] == "drifted_share"  # failures first
    assert verdict["metrics"]["unseen_categories"] == pytest.approx(100 / 250)
    assert verdict["retrain"] == {
        "triggered": True,
        "reason": "drifted_share 0.375 is above 0.3",
        "when": {"metric": "drifted_share", "max": 0.3},
    }
    assert "blocking" in done.stderr


def test_other_versions_in_the_window_are_counted_not_measured(
    trained: dict[str, Any], drifted: tuple[Result, dict[str, Any]]
) -> None:
    _, verdict = drifted
    assert verdict["rows"] == 250
    assert verdict["other_versions"] == {"999": 7}
    assert verdict["sources"][0]["notes"] == [
        f"rows of other versions in the window, not measured (only v{trained['version']}, which the alias holds "
        + "now): v999: 7",
        # written by the JSON-only path (Record without inputs), copied into the typed table on this first read
        "250 row(s) stored as JSON only (an older mlgate serve) were copied into the typed input table",
    ]


# --- (c) outcomes arriving later ------------------------------------------------------------


def test_outcomes_arriving_later_turn_performance_rules_on(trained: dict[str, Any], served: pd.DataFrame) -> None:
    from sklearn.metrics import roc_auc_score

    repo = copy_repo(trained["repo"], trained["base"] / "labelled")
    write_outcomes(repo, served)
    done = monitor(trained, "--since", "1h", repo=repo)
    assert done.exit_code in (0, 1), done.output
    verdict = json.loads(done.stdout)
    roc = rule(verdict, "roc_auc")
    assert roc["status"] in ("pass", "fail")
    realised = roc_auc_score(served["risk"], served["p"])
    assert roc["observed"] == pytest.approx(realised, abs=1e-9)
    assert verdict["metrics"]["roc_auc"] == pytest.approx(realised, abs=1e-9)
    assert verdict["labels"]["rows"] == 250
    assert verdict["labels"]["coverage"] == 1.0
    assert verdict["metrics"]["label_coverage"] == 1.0
    assert "250 labelled production rows" in roc["explanation"]


def test_an_outcome_that_is_not_a_class_of_the_model_is_an_error_not_a_skip(
    trained: dict[str, Any], served: pd.DataFrame
) -> None:
    """Fail closed: a labels file whose outcome the model cannot have (7) never lets a rule read as not applying."""
    repo = copy_repo(trained["repo"], trained["base"] / "bad-outcomes")
    write_outcomes(repo, served.assign(risk=7))
    done = monitor(trained, "--since", "1h", repo=repo)
    verdict = json.loads(done.stdout)
    roc = rule(verdict, "roc_auc")
    assert roc["status"] == "error", roc
    assert "outcome 7 is not a class of the model" in roc["explanation"]
    assert done.exit_code == 1, done.output


# --- (d) PostgreSQL audit store -------------------------------------------------------------


def audit_with_outcomes(trained: dict[str, Any], url: str, at: datetime) -> None:
    """250 holdout rows audited at ``at`` in the store at ``url``, and its ``outcomes`` table: the first 200 labels."""
    store = AuditStore(url)
    holdout = trained["holdout"]
    outcomes = []
    try:
        store.create()
        for start in range(0, 250, 60):
            record = audit_record(trained, holdout.iloc[start : start + 60], at)
            store.write(record)
            outcomes += [
                {"request_id": record.request_id, "row": i, "risk": int(risk)}
                for i, risk in enumerate(holdout["risk"].iloc[start : start + 60])
            ]
        pd.DataFrame(outcomes[:200]).to_sql("outcomes", store.engine, index=False)  # 50 have not arrived yet
    finally:
        store.close()


def read_like_sqlite(trained: dict[str, Any], url: str, name: str) -> None:
    """``mlgate monitor`` reads the store and labels table at ``url`` (variant repo ``name``) as from SQLite."""
    from sklearn.metrics import roc_auc_score

    holdout = trained["holdout"]
    repo = variant(trained, name, monitoring_block(audit=url, labels_url=url))
    done = monitor(trained, "--window", f"{POSTGRES_DAY}T00:00:00Z..{POSTGRES_DAY}T23:59:59Z", repo=repo)
    assert done.exit_code in (0, 1), done.output
    verdict = json.loads(done.stdout)
    assert verdict["rows"] == 250
    assert verdict["sources"][0]["where"] == url
    assert not any(f["drifted"] for f in verdict["features"])
    assert verdict["metrics"]["prediction_psi"] == pytest.approx(0, abs=1e-9)
    assert verdict["labels"]["rows"] == 200
    assert verdict["labels"]["coverage"] == pytest.approx(0.8)
    assert verdict["labels"]["source"] == f"{url} table outcomes"
    realised = roc_auc_score(holdout["risk"].iloc[:200], proba(trained, holdout.iloc[:200]))
    assert rule(verdict, "roc_auc")["observed"] == pytest.approx(realised, abs=1e-9)


def test_a_postgresql_audit_store_and_a_labels_table_are_read_like_sqlite(
    trained: dict[str, Any], postgres: Cluster
) -> None:
    audit_with_outcomes(trained, postgres.url, datetime.fromisoformat(f"{POSTGRES_DAY}T08:30:00+00:00"))
    read_like_sqlite(trained, postgres.url, "postgres")


def test_a_mysql_audit_store_and_a_labels_table_are_read_like_sqlite(trained: dict[str, Any], mariadb: Server) -> None:
    url = mariadb.new_database()  # the password comes from MYSQL_PWD (the fixture sets it), never from the URL
    audit_with_outcomes(trained, url, datetime.fromisoformat(f"{POSTGRES_DAY}T08:30:00.123456+00:00"))
    read_like_sqlite(trained, url, "mysql")


# --- (e) mlgate score's partitions ----------------------------------------------------------


def test_scored_partitions_are_monitored_and_a_vanished_input_is_said(trained: dict[str, Any]) -> None:
    repo = variant(trained, "scores", monitoring_block(scores="scores", labels=False))
    inputs = trained["base"] / "score-inputs"
    inputs.mkdir()
    frame = trained["holdout"][FEATURES].copy()
    frame.insert(0, "application_id", [f"A{i:04d}" for i in range(len(frame))])
    for column in CATEGORICAL:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    frame.to_parquet(inputs / "batch.parquet", index=False)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    os.environ["MLFLOW_TRACKING_URI"] = trained["uri"]
    try:
        scored = invoke(
            CliRunner(),
            *("score", "credit", "--stage", "production", "--input", str(inputs / "batch.parquet")),
            *("--output", str(repo / "scores"), "--id-column", "application_id", "--date", today),
            cwd=repo,
        )
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert scored.exit_code == 0, scored.output
    done = monitor(trained, "--since", "1d", repo=repo)
    assert done.exit_code == 0, done.output
    verdict = json.loads(done.stdout)
    assert verdict["sources"] == [{"kind": "scores", "where": str(repo / "scores"), "rows": 250, "notes": []}]
    assert len(verdict["features"]) == 8
    assert verdict["metrics"]["prediction_psi"] == pytest.approx(0, abs=1e-9)

    shutil.move(inputs / "batch.parquet", inputs / "moved.parquet")
    gone = monitor(trained, "--since", "1d", repo=repo)
    verdict = json.loads(gone.stdout)
    assert gone.exit_code == 1  # drifted_share cannot be measured: fails closed
    assert verdict["sources"][0]["notes"] == [
        f"input {inputs / 'batch.parquet'} is gone: its rows give prediction drift and volume only"
    ]
    assert rule(verdict, "drifted_share")["status"] == "error"
    assert verdict["metrics"]["volume"] == 250
    assert "prediction_psi" in verdict["metrics"]
    assert verdict["features"] == []


def test_a_named_reference_is_used_and_an_untracked_one_exits_2(trained: dict[str, Any], served: pd.DataFrame) -> None:
    block = monitoring_block(audit=f"sqlite:///{trained['db']}", labels=False)
    repo = variant(trained, "named", block + "  reference: data/german_credit.csv\n")
    done = monitor(trained, "--since", "1h", repo=repo)
    assert done.exit_code == 0, done.output
    verdict = json.loads(done.stdout)
    assert verdict["reference"]["kind"] == "named"
    assert verdict["reference"]["rows"] == 1000
    assert verdict["reference"]["scored"] == "the named reference rows"
    assert verdict["estimated"]["calibration"]["reference_rows"] == 1000  # CBPE's calibration: on its labelled rows
    assert verdict["rows"] == 250

    trained["holdout"].to_csv(repo / "data" / "reference.csv", index=False)
    set_monitoring(repo, block + "  reference: data/reference.csv\n")
    untracked = monitor(trained, "--since", "1h", repo=repo)
    assert untracked.exit_code == 2, untracked.output
    assert re.search(r"model\.yaml:\d+:\d+: monitoring -> reference: data file data/reference.csv", untracked.stderr)
    assert "is not tracked by DVC" in untracked.stderr


# --- (f) bad input and outages ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--since", "7d", "--window", "2025-01-01..2025-01-02"), "give --since or --window, not both"),
        (("--since", "7x"), "--since '7x': expected a positive whole number"),
        (("--since", "0d"), "--since '0d'"),
        (("--window", "2025-02-01..2025-01-01"), "is not after the start"),
        (("--window", "2025-02-01"), "expected FROM..TO"),
        (("--window", "yesterday..today"), "is not an ISO date or datetime"),
    ],
)
def test_malformed_windows_exit_2_naming_the_problem(trained: dict[str, Any], args: tuple[str, ...], said: str) -> None:
    done = monitor(trained, *args)
    assert done.exit_code == 2, done.output
    assert said in done.stderr
    assert json.loads(done.stdout)["exit_code"] == 2


def test_an_unknown_stage_exits_2(trained: dict[str, Any]) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = trained["uri"]
    try:
        done = invoke(CliRunner(), "monitor", "credit", "--stage", "canary", cwd=trained["repo"])
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert done.exit_code == 2
    assert "--stage 'canary' is not a stage of policies/credit.yaml" in done.stderr


def test_a_spec_without_sources_exits_2_with_the_hint(template_repo: Path, tmp_path: Path) -> None:
    repo = copy_repo(template_repo, tmp_path / "repo")
    done = invoke(CliRunner(), "monitor", "credit", "--stage", "production", cwd=repo)
    assert done.exit_code == 2
    assert "names no production data to monitor" in done.stderr
    assert "monitoring.sources" in done.stderr


def test_an_audit_store_that_does_not_answer_exits_3(trained: dict[str, Any], refused_port: int) -> None:
    url = f"postgresql://postgres@127.0.0.1:{refused_port}/postgres"  # nothing listens there
    repo = variant(trained, "down", monitoring_block(audit=url, labels=False))
    done = monitor(trained, "--since", "1h", repo=repo)
    assert done.exit_code == 3, done.output
    assert "did not answer after 3 tries" in done.stderr
    assert json.loads(done.stdout)["exit_code"] == 3


@pytest.mark.parametrize(
    ("since", "window", "frequency", "expected"),
    [
        (None, None, "weekly", ("2025-03-03T12:00:00Z", "2025-03-10T12:00:00Z")),
        (None, None, "Hourly", ("2025-03-10T11:00:00Z", "2025-03-10T12:00:00Z")),
        (None, None, "", ("2025-03-03T12:00:00Z", "2025-03-10T12:00:00Z")),  # no frequency: 7d
        ("30m", None, "daily", ("2025-03-10T11:30:00Z", "2025-03-10T12:00:00Z")),
        (None, "2025-01-01..2025-01-31", "daily", ("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z")),
        (None, "2025-01-01T06:00:00+02:00..2025-01-01T09:00", "", ("2025-01-01T04:00:00Z", "2025-01-01T09:00:00Z")),
    ],
)
def test_the_window_defaults_to_the_specs_frequency_and_reads_utc(
    since: str | None, window: str | None, frequency: str, expected: tuple[str, str]
) -> None:
    span = resolve(since, window, frequency, datetime(2025, 3, 10, 12, 0, tzinfo=UTC))
    assert (span.as_dict()["from"], span.as_dict()["to"]) == expected


# --- (g) what MLflow records -------------------------------------------------------------


def test_each_verdict_is_a_monitoring_run_linked_from_the_version(
    trained: dict[str, Any], no_drift: dict[str, Any], drifted: tuple[Result, dict[str, Any]]
) -> None:
    registry: Registry = trained["registry"]
    _, failed = drifted
    history = registry.monitoring_history("credit", "production")
    ids = [run.run_id for run in history]
    assert no_drift["monitoring_run_id"] in ids
    assert failed["monitoring_run_id"] in ids
    assert [r.evaluated_at for r in history] == sorted(r.evaluated_at for r in history)
    assert len(registry.monitoring_history("credit", "production", limit=2)) == 2
    by_id = {run.run_id: run for run in history}
    bad = by_id[failed["monitoring_run_id"]]
    assert bad.status == "fail"
    assert bad.version == trained["version"]
    assert bad.metrics["psi.credit_amount"] > 0.2
    assert bad.metrics["drifted_share"] == pytest.approx(3 / 8)
    assert by_id[no_drift["monitoring_run_id"]].metrics["psi.credit_amount"] < 0.2
    stored = json.loads(registry.read_artifact(bad.run_id, "monitoring.json") or b"{}")
    assert stored["monitoring_run_id"] == bad.run_id
    assert stored["status"] == "fail"
    tags = registry.version("credit", trained["version"]).tags
    latest = max(history, key=lambda r: (r.evaluated_at, r.run_id))
    assert tags["mlgate.monitoring.last_run"] in ids
    assert tags["mlgate.monitoring.status"] in ("pass", "warn", "fail")
    assert tags["mlgate.monitoring.at"] == latest.evaluated_at


# --- (h) CBPE against the realised metrics ------------------------------------------------


def test_cbpe_estimates_accuracy_and_roc_auc_within_the_documented_tolerance() -> None:
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score

    x, y = make_classification(n_samples=6000, n_features=8, n_informative=4, flip_y=0.05, random_state=7)
    model = LogisticRegression(max_iter=1000).fit(x[:3000], y[:3000])
    for threshold in (0.5, 0.35):
        p = model.predict_proba(x[3000:])[:, 1]  # 3000 rows whose labels are held back from the estimate
        est = estimate(p, threshold)
        assert est is not None
        realised_accuracy = accuracy_score(y[3000:], p >= threshold)
        realised_auc = roc_auc_score(y[3000:], p)
        assert abs(est.accuracy - realised_accuracy) <= TOLERANCE
        assert abs(est.roc_auc - realised_auc) <= TOLERANCE
    design = (PROJECT / "docs" / "design.md").read_text()
    assert f"within {TOLERANCE:g}" in design
    assert "calibrated" in design


# mlgate's CBPE against NannyML's own CBPE (calibration on), to 1e-6: tests/test_nannyml.py


def test_a_registry_failing_while_recording_exits_3_after_writing_the_verdict(
    trained: dict[str, Any], no_drift: dict[str, Any]
) -> None:
    with FaultyProxy(trained["uri"]) as proxy:
        proxy.fail(r"/runs/create")  # the registry answers reads, then fails the monitoring run
        done = monitor({**trained, "uri": proxy.url}, "--since", "1h")
    assert done.exit_code == 3, done.output
    verdict = json.loads(done.stdout)  # the verdict, not an error document: it was measured
    assert verdict["schema"] == "mlgate.monitoring/1"
    assert verdict["status"] == "pass"
    assert verdict["monitoring_run_id"] is None
    assert "did not answer" in done.stderr


# --- alerts end to end: mlgate monitor --alert against the validating GitHub stand-in -----------

ALERT_DAYS = {"calm": "2025-03-01", "drift": "2025-03-02", "worse": "2025-03-03", "recovered": "2025-03-04"}


def write_day(trained: dict[str, Any], day: str, frame: pd.DataFrame) -> None:
    """``frame``'s rows audited at noon of ``day``, as mlgate serve writes them."""
    store = AuditStore(f"sqlite:///{trained['db']}")
    store.create()  # as mlgate serve does at start (this test may run before any service did)
    try:
        for start in range(0, len(frame), 100):
            store.write(
                audit_record(trained, frame.iloc[start : start + 100], datetime.fromisoformat(f"{day}T12:00:00+00:00"))
            )
    finally:
        store.close()


@pytest.fixture(scope="module")
def alert_days(trained: dict[str, Any]) -> dict[str, str]:
    """Four days: the holdout; 3 of 8 features drifted (drifted_share 0.375 > 0.3); 5 of 8; the holdout again."""
    calm = trained["holdout"]
    drift = calm.assign(credit_amount=calm["credit_amount"] * 3, duration=calm["duration"] * 2, age=calm["age"] + 25)
    worse = drift.assign(checking_account="little")
    worse.loc[worse.index % 5 < 2, "purpose"] = "crypto"
    for name, frame in (("calm", calm), ("drift", drift), ("worse", worse), ("recovered", calm)):
        write_day(trained, ALERT_DAYS[name], frame)
    return ALERT_DAYS


def alert_run(trained: dict[str, Any], day: str) -> tuple[Result, dict[str, Any]]:
    done = monitor(trained, "--window", f"{day}..{day}", "--alert")
    assert done.exit_code in (0, 1), done.output
    return done, json.loads(done.stdout)


def test_alerts_follow_the_model_from_calm_to_breach_to_worse_to_recovery(
    trained: dict[str, Any], alert_days: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with github_stand_in(monkeypatch, "ghs_monitorAlert0123456789abcdefghijklmn", "acme/credit-models") as github:
        done, calm = alert_run(trained, alert_days["calm"])
        assert (done.exit_code, calm["actions"]["alert"]["action"]) == (0, "none")
        assert github.issues == {}

        done, breach = alert_run(trained, alert_days["drift"])
        assert done.exit_code == 1
        assert breach["actions"]["alert"]["action"] == "opened"
        [issue] = github.issues.values()
        assert issue["state"] == "open"
        assert {label["name"] for label in issue["labels"]} >= {"mlgate", "monitoring"}
        assert "<!-- mlgate:monitoring model=credit stage=production -->" in issue["body"]
        assert "drifted_share" in issue["title"]
        assert issue["assignees"] == []  # the owner "ana.lima" is no GitHub login: named in the body instead
        assert "ana.lima" in issue["body"]
        comments = len(github.comments.get(issue["number"], []))

        done, again = alert_run(trained, alert_days["drift"])  # the same traffic, the same figures
        assert again["actions"]["alert"] == breach["actions"]["alert"] | {"action": "unchanged"}
        assert len(github.comments.get(issue["number"], [])) == comments
        assert len(github.issues) == 1

        done, worse = alert_run(trained, alert_days["worse"])
        assert worse["actions"]["alert"]["action"] == "commented"
        assert worse["metrics"]["drifted_share"] > breach["metrics"]["drifted_share"]
        assert len(github.comments[issue["number"]]) == comments + 1
        assert "purpose" in github.comments[issue["number"]][-1]["body"]

        done, recovered = alert_run(trained, alert_days["recovered"])
        assert (done.exit_code, recovered["actions"]["alert"]["action"]) == (0, "closed")
        assert github.issues[issue["number"]]["state"] == "closed"
        assert len(github.comments[issue["number"]]) == comments + 2
        assert len(github.issues) == 1


def test_a_lost_answer_to_the_issue_create_still_leaves_one_issue(
    trained: dict[str, Any], alert_days: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with github_stand_in(monkeypatch, "ghs_monitorLost0123456789abcdefghijklmnop", "acme/credit-models") as github:
        github.lose_next(1, "502")  # GitHub creates the issue; the proxy answers 502
        done, breach = alert_run(trained, alert_days["drift"])
        assert done.exit_code == 1
        assert breach["actions"]["alert"]["action"] == "opened"
        assert len(github.issues) == 1
        [issue] = github.issues.values()
        assert breach["actions"]["alert"]["number"] == issue["number"]


def test_from_verdict_acts_on_a_written_verdict_without_measuring_again(
    trained: dict[str, Any], no_drift: dict[str, Any], tmp_path: Path
) -> None:
    """The retrain job's path: the monitor job's verdict, not a second measurement and MLflow run."""
    path = tmp_path / "verdict.json"
    path.write_text(json.dumps(no_drift | {"actions": {"alert": {"action": "opened"}}}))
    recorded = len(trained["registry"].monitoring_history("credit", "production", limit=1000))
    done = monitor(trained, "--from-verdict", str(path), "--markdown", str(tmp_path / "report.md"))
    assert done.exit_code == 0, done.output
    acted = json.loads(done.stdout)
    assert acted["monitoring_run_id"] == no_drift["monitoring_run_id"]
    assert acted["actions"]["alert"] is None  # what followed the earlier run is not carried over
    assert len(trained["registry"].monitoring_history("credit", "production", limit=1000)) == recorded
    assert "<!-- mlgate:monitoring-report model=credit stage=production -->" in (tmp_path / "report.md").read_text()
    path.write_text(json.dumps(no_drift | {"model": "insurance"}))
    wrong = monitor(trained, "--from-verdict", str(path))
    assert wrong.exit_code == 2
    assert "is about insurance@production, not credit@production" in wrong.output
    path.write_text("{not json")
    assert monitor(trained, "--from-verdict", str(path)).exit_code == 2
    # the right schema, model and stage, but cut short: the report cannot be drawn from it (was exit 70)
    features = [{k: v for k, v in f.items() if k != "unseen_count"} for f in no_drift["features"]]
    assert features
    assert any("unseen_count" in f for f in no_drift["features"])
    path.write_text(json.dumps(no_drift | {"features": features}))
    cut = monitor(trained, "--from-verdict", str(path), "--markdown", str(tmp_path / "cut.md"))
    assert cut.exit_code == 2, cut.output
    assert f"--from-verdict {path}: an incomplete or altered monitoring verdict" in cut.output
    assert not (tmp_path / "cut.md").exists()


# --- a regressor: prediction drift on the predicted value, performance once outcomes arrive --------


def test_a_regressor_is_monitored_on_its_predicted_values_and_its_outcomes(
    trained: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """insurance (gradient boosting, charges in USD): the same sources, rules and verdict as a classifier."""
    repo = copy_repo(trained["repo"], tmp_path / "repo")
    db = tmp_path / "audit.db"
    spec = repo / "models" / "insurance" / "model.yaml"
    text = spec.read_text()
    anchor = "  rollback_procedure:"
    assert anchor in text
    sources = (
        f"  sources:\n    audit_url: sqlite:///{db}\n"
        "  labels:\n    path: data/charges.csv\n    id_columns: [request_id, row]\n    label_column: charges\n"
    )
    spec.write_text(text.replace(anchor, sources + anchor, 1))
    policy = repo / "policies" / "default.yaml"
    policy.write_text(
        policy.read_text() + "monitoring:\n  - metric: drifted_share\n    max: 0.4\n  - metric: mae\n    max: 6000\n"
    )
    pd.DataFrame(columns=["request_id", "row", "charges"]).to_csv(repo / "data" / "charges.csv", index=False)
    dvc("add", "-q", "data/charges.csv", cwd=repo)  # tracked before any outcome arrived
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "insurance: monitoring", cwd=repo)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    done = invoke(CliRunner(), "train", "insurance", "--json", "-", cwd=repo)
    assert done.exit_code == 0, done.output
    version = json.loads(done.stdout)["version"]
    promoted(repo, trained["uri"], "insurance", "production", version)
    registry = Registry(repo, trained["uri"])
    try:
        data = pd.read_csv(repo / "data" / "insurance.csv")
        _, held = train_test_split(np.arange(len(data)), test_size=0.25, random_state=42)
        holdout = data.iloc[held].reset_index(drop=True)
        model = registry.load_model("insurance", version)
        columns = ["age", "bmi", "children", "sex", "smoker", "region"]

        def write(frame: pd.DataFrame, day: str) -> list[tuple[str, int, float]]:
            store = AuditStore(f"sqlite:///{db}")
            store.create()
            keys = []
            try:
                for start in range(0, len(frame), 100):
                    part = frame.iloc[start : start + 100]
                    values = model.predict(part[columns])
                    request = uuid.uuid4().hex
                    rows = json.loads(part[columns].to_json(orient="records"))
                    outputs = [{"prediction": float(v)} for v in values]
                    at = datetime.fromisoformat(f"{day}T12:00:00+00:00")
                    pairs = list(zip(rows, outputs, strict=True))
                    store.write(Record(request, at, "alice", "insurance", version, "production", "r" * 32, 1.0, pairs))
                    keys += [(request, i, float(c)) for i, c in enumerate(part["charges"])]
            finally:
                store.close()
            return keys

        calm_keys = write(holdout, "2025-04-01")
        old = holdout.assign(age=holdout["age"] + 30, bmi=holdout["bmi"] * 1.5, children=holdout["children"] + 3)
        write(old, "2025-04-02")

        def run(day: str) -> tuple[int, dict[str, Any]]:
            got = invoke(
                CliRunner(),
                "monitor",
                "insurance",
                "--stage",
                "production",
                "--window",
                f"{day}..{day}",
                "--json",
                "-",
                cwd=repo,
            )
            assert got.exit_code in (0, 1), got.output
            return got.exit_code, json.loads(got.stdout)

        code, calm = run("2025-04-01")
        assert (code, calm["status"]) == (0, "pass")
        assert calm["rows"] == len(holdout)
        assert calm["prediction"]["current_mean"] == pytest.approx(float(np.mean(model.predict(holdout[columns]))))
        assert rule(calm, "mae")["status"] == "skipped"  # no outcomes yet
        assert calm["estimated"] is None  # CBPE needs class probabilities
        code, aged = run("2025-04-02")
        assert (code, aged["status"]) == (1, "fail")
        assert {f["feature"] for f in aged["features"] if f["drifted"]} == {"age", "bmi", "children"}
        assert aged["metrics"]["prediction_psi"] > 0.2  # older, heavier clients: higher predicted charges
        outcomes = pd.DataFrame(calm_keys, columns=["request_id", "row", "charges"])
        outcomes.to_csv(repo / "data" / "charges.csv", index=False)
        dvc("add", "-q", "data/charges.csv", cwd=repo)
        git("add", "-A", cwd=repo)
        git("commit", "-qm", "outcomes arrived", cwd=repo)
        code, labelled = run("2025-04-01")
        realised = float(np.mean(np.abs(model.predict(holdout[columns]) - holdout["charges"])))
        assert rule(labelled, "mae")["status"] == "pass"
        assert labelled["metrics"]["mae"] == pytest.approx(realised)
        assert labelled["labels"]["rows"] == len(holdout)
    finally:
        registry.delete_alias("insurance", "production")


# --- (g) monitoring pushed down into the store: the same numbers as reading the rows ----------

PUSHDOWN_DAY = "2025-03-04"
PUSHDOWN_ROWS = 12_000  # above scipy's exact-KS limit (10,000): the asymptotic test from cell counts


def signature_of(trained: dict[str, Any]) -> list[tuple[str, str]]:
    import mlflow

    mlflow.set_tracking_uri(trained["uri"])
    info = mlflow.models.get_model_info(f"models:/credit/{trained['version']}")
    return [(c["name"], c["type"]) for c in info.signature.inputs.to_dict()]


def production_like(trained: dict[str, Any], rows: int, seed: int) -> pd.DataFrame:
    """``rows`` holdout rows drawn with replacement, shifted, with gaps, an unseen category and exact copies."""
    rng = np.random.default_rng(seed)
    frame = trained["holdout"].sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    frame["credit_amount"] = (frame["credit_amount"] * rng.uniform(0.9, 1.4, rows)).round().astype(int)
    frame["duration"] = frame["duration"] + rng.integers(-3, 4, rows)
    frame.loc[rng.random(rows) < 0.03, "purpose"] = "crypto"
    frame["age"] = frame["age"].astype(float)
    frame.loc[rng.random(rows) < 0.02, "age"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "housing"] = None
    return frame


def write_production(store: AuditStore, trained: dict[str, Any], frame: pd.DataFrame, day: str, typed: bool) -> None:
    """``frame`` in requests of 200 rows over ``day``; ``typed``: as today's serve writes (typed inputs too),
    else as an older serve did (JSON only: the monitor migrates those)."""
    from mlgate.serving import inputs_of

    inputs = inputs_of(signature_of(trained), "classification", "1") if typed else None
    for n, start in enumerate(range(0, len(frame), 200)):
        at = datetime.fromisoformat(f"{day}T00:00:00+00:00") + timedelta(seconds=7 * n)
        record = audit_record(trained, frame.iloc[start : start + 200], at)
        store.write(Record(**{**record.__dict__, "inputs": inputs}))


def run_both(trained: dict[str, Any], repo: Path, day: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The verdict read row by row, then pushed down (which migrates the JSON-only rows first)."""
    from mlgate.monitoring import run

    window = f"{day}..{day}"
    rows = run(repo, "credit", "production", window=window, tracking_uri=trained["uri"], pushdown=False)
    pushed = run(repo, "credit", "production", window=window, tracking_uri=trained["uri"], pushdown=True)
    return rows.verdict, pushed.verdict


def assert_same_numbers(rows: dict[str, Any], pushed: dict[str, Any]) -> None:
    """Every metric, every feature's statistics, prediction drift, CBPE and each rule equal to 1e-9."""
    assert pushed["rows"] == rows["rows"]
    assert pushed["metrics"].keys() == rows["metrics"].keys()
    for metric, value in rows["metrics"].items():
        assert pushed["metrics"][metric] == pytest.approx(value, rel=1e-9, abs=1e-12), metric
    by_name = {f["feature"]: f for f in pushed["features"]}
    assert by_name.keys() == {f["feature"] for f in rows["features"]}
    for want in rows["features"]:
        got = by_name[want["feature"]]
        for key in ("psi", "ks_statistic", "ks_pvalue", "chi2_statistic", "chi2_pvalue"):
            if want[key] is None:
                assert got[key] is None, (want["feature"], key)
            else:
                assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-300), (want["feature"], key)
        for key in ("drifted", "reference_rows", "current_rows", "unseen_count", "unseen_distinct", "bins", "notes"):
            assert got[key] == want[key], (want["feature"], key)
        assert set(got["unseen_categories"]) == set(want["unseen_categories"])
    for block in ("prediction", "estimated"):
        for key, value in rows[block].items():
            if isinstance(value, float):
                assert pushed[block][key] == pytest.approx(value, rel=1e-9), (block, key)
            else:
                assert pushed[block][key] == value, (block, key)
    assert pushed["labels"] == rows["labels"]
    assert [(r["metric"], r["status"]) for r in pushed["rules"]] == [(r["metric"], r["status"]) for r in rows["rules"]]
    for got, want in zip(pushed["rules"], rows["rules"], strict=True):
        if want["observed"] is not None:
            assert got["observed"] == pytest.approx(want["observed"], rel=1e-9, abs=1e-12), want["metric"]
    assert pushed["status"] == rows["status"]


def test_pushed_down_equals_row_by_row_on_sqlite_with_migrated_and_typed_rows(trained: dict[str, Any]) -> None:
    import sqlalchemy as sa

    db = trained["base"] / "pushdown.db"
    store = AuditStore(f"sqlite:///{db}")
    frame = production_like(trained, PUSHDOWN_ROWS, seed=3)
    frame = pd.concat([frame, frame.iloc[:40]], ignore_index=True)  # 40 exact copies: duplicate_rows > 0
    try:
        store.create()
        write_production(store, trained, frame.iloc[:5000], PUSHDOWN_DAY, typed=False)  # an older serve: JSON only
        write_production(store, trained, frame.iloc[5000:], PUSHDOWN_DAY, typed=True)
    finally:
        store.close()
    repo = variant(trained, "pushdown-sqlite", monitoring_block(audit=f"sqlite:///{db}", labels=False))
    rows, pushed = run_both(trained, repo, PUSHDOWN_DAY)
    assert rows["rows"] == len(frame)
    assert rows["metrics"]["duplicate_rows"] > 0
    assert rows["metrics"]["null_fraction"] > 0
    assert rows["metrics"]["unseen_categories"] > 0
    # the forest's votes need calibration: the store applies the reference's isotonic map in SQL, equal to the rows'
    assert rows["estimated"]["calibration"]["method"] == "isotonic"
    assert rows["estimated"]["calibration"]["reference_rows"] == rows["reference"]["scored_rows"]
    assert_same_numbers(rows, pushed)
    assert "5000 row(s) stored as JSON only" in pushed["sources"][0]["notes"][0]
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            tables = conn.execute(sa.text("SELECT table_name FROM mlgate_input_tables")).scalars().all()
            assert len(tables) == 1
            assert conn.execute(sa.text(f"SELECT count(*) FROM {tables[0]}")).scalar() == len(frame)
            assert conn.execute(sa.text("SELECT value FROM mlgate_audit_meta")).scalar() == "2"
    finally:
        engine.dispose()
    # a second pushed-down read migrates nothing and gives the same verdict: the migration is idempotent
    from mlgate.monitoring import run

    again = run(repo, "credit", "production", window=f"{PUSHDOWN_DAY}..{PUSHDOWN_DAY}", tracking_uri=trained["uri"])
    assert not any("JSON only" in note for note in again.verdict["sources"][0]["notes"])
    assert_same_numbers(rows, again.verdict)


def test_pushed_down_equals_row_by_row_on_a_small_window(
    trained: dict[str, Any], served: pd.DataFrame, drifted: tuple[Result, dict[str, Any]]
) -> None:
    # 250 rows: scipy's exact KS on the values themselves, as the gates do below 10,000 rows
    rows, pushed = run_both(trained, trained["repo"], DRIFT_DAY)
    assert rows["rows"] == 250
    assert_same_numbers(rows, pushed)


def test_pushed_down_equals_row_by_row_on_postgresql(trained: dict[str, Any], postgres: Cluster) -> None:
    store = AuditStore(postgres.url)
    frame = production_like(trained, PUSHDOWN_ROWS, seed=5)
    day = "2025-03-05"
    try:
        store.create()
        write_production(store, trained, frame.iloc[:3000], day, typed=False)
        write_production(store, trained, frame.iloc[3000:], day, typed=True)
    finally:
        store.close()
    repo = variant(trained, "pushdown-postgres", monitoring_block(audit=postgres.url, labels=False))
    rows, pushed = run_both(trained, repo, day)
    assert rows["rows"] == len(frame)
    assert_same_numbers(rows, pushed)


def test_pushed_down_equals_row_by_row_on_mysql(trained: dict[str, Any], mariadb: Server) -> None:
    """MariaDB: JSON rows copied, every aggregate pushed into it (INTERVAL for the cells), equal to row by row."""
    url = mariadb.new_database()
    store = AuditStore(url)
    frame = production_like(trained, PUSHDOWN_ROWS, seed=5)
    day = "2025-03-05"
    try:
        store.create()
        write_production(store, trained, frame.iloc[:3000], day, typed=False)
        write_production(store, trained, frame.iloc[3000:], day, typed=True)
    finally:
        store.close()
    repo = variant(trained, "pushdown-mysql", monitoring_block(audit=url, labels=False))
    rows, pushed = run_both(trained, repo, day)
    assert rows["rows"] == len(frame)
    assert_same_numbers(rows, pushed)


# --- (h) a multiclass model: prediction drift per class probability (issue #23) -------------------

REGION_COLUMNS = ["age", "bmi", "children", "charges", "sex", "smoker"]
REGION_SPEC = """name: region
description: Guesses a customer's US region from their insurance record (a multiclass example).
owners: [pricing-team]
task: classification
data:
  path: data/insurance.csv
  split: {holdout_fraction: 0.25, seed: 3, stratify: true}
target: region
features:
  numeric: [age, bmi, children, charges]
  categorical: [sex, smoker]
estimator:
  class: sklearn.ensemble.RandomForestClassifier
model_card:
  intended_use: Tests of multiclass monitoring.
monitoring:
  owner: pricing-team
  retraining_trigger: never
  rollback_procedure: revert the promotion PR
  sources:
    audit_url: sqlite:///AUDIT
    scores: scores
policy: policies/region.yaml
"""
REGION_POLICY = """extends: base.yaml
description: Multiclass monitoring.
monitoring:
  - id: prediction-psi
    metric: prediction_psi
    max: 0.2
  - metric: prediction_ks_statistic
    max: 1
"""


def assert_close(got: Any, want: Any, where: str = "") -> None:
    """Equal structures, the floats to 1e-9 (pytest.approx does not nest into lists of dicts)."""
    if isinstance(want, dict):
        assert got.keys() == want.keys(), where
        for key, value in want.items():
            assert_close(got[key], value, f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), where
    else:
        assert got == want, where


def region_outputs(p: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    """A multiclass model's outputs as mlgate serve writes them: decision and every class's probability."""
    return [
        {"decision": classes[int(row.argmax())], "probabilities": dict(zip(classes, row.tolist(), strict=True))}
        for row in p
    ]


def test_a_multiclass_model_has_prediction_drift_per_class_on_every_path(
    trained: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #23: prediction_psi of a multiclass model errored "no non-missing value"; now PSI per class
    probability, the rule on the largest, equal row by row, pushed down and from scored partitions."""
    from mlgate.monitoring import run

    repo = copy_repo(trained["repo"], tmp_path / "repo")
    db = tmp_path / "audit.db"
    (repo / "models/region").mkdir()
    (repo / "models/region/model.yaml").write_text(REGION_SPEC.replace("AUDIT", str(db)))
    (repo / "policies/region.yaml").write_text(REGION_POLICY)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["region"] = {"n_estimators": 50, "max_depth": 5}
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "region, monitored", cwd=repo)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["uri"])
    done = invoke(CliRunner(), "train", "region", "--json", "-", cwd=repo)
    assert done.exit_code == 0, done.output
    version = json.loads(done.stdout)["version"]
    promoted(repo, trained["uri"], "region", "production", version)
    registry = Registry(repo, trained["uri"])
    try:
        model = registry.load_model("region", version)
        classes = [str(c) for c in model.classes_]
        assert len(classes) == 4
        data = pd.read_csv(repo / "data" / "insurance.csv")
        calm = data.sample(600, random_state=1).reset_index(drop=True)
        heavier = calm.assign(bmi=calm["bmi"] * 1.4, charges=calm["charges"] * 2.5)
        store = AuditStore(f"sqlite:///{db}")
        store.create()
        try:
            for day, frame in (("2025-05-01", calm), ("2025-05-02", heavier)):
                outputs = region_outputs(model.predict_proba(frame[REGION_COLUMNS]), classes)
                pairs = list(zip(json.loads(frame[REGION_COLUMNS].to_json(orient="records")), outputs, strict=True))
                at = datetime.fromisoformat(f"{day}T12:00:00+00:00")
                store.write(
                    Record(uuid.uuid4().hex, at, "alice", "region", version, "production", "r" * 32, 1.0, pairs)
                )
        finally:
            store.close()
        spec = repo / "models/region/model.yaml"
        spec.write_text(spec.read_text().replace("    scores: scores\n", ""))  # the audit store alone: pushable
        git("commit", "-qam", "audit only", cwd=repo)
        verdicts = {}
        for day in ("2025-05-01", "2025-05-02"):
            window = f"{day}..{day}"
            rows = run(repo, "region", "production", window=window, tracking_uri=trained["uri"], pushdown=False)
            pushed = run(repo, "region", "production", window=window, tracking_uri=trained["uri"], pushdown=True)
            verdicts[day] = rows.verdict
            assert_close(pushed.verdict["prediction"], rows.verdict["prediction"], "prediction")
            assert_close(pushed.verdict["metrics"], rows.verdict["metrics"], "metrics")
            assert [(r["rule_id"], r["status"]) for r in pushed.verdict["rules"]] == [
                (r["rule_id"], r["status"]) for r in rows.verdict["rules"]
            ]
        quiet, moved = verdicts["2025-05-01"], verdicts["2025-05-02"]
        for verdict, frame in ((quiet, calm), (moved, heavier)):
            block = verdict["prediction"]
            assert [c["class"] for c in block["classes"]] == classes
            means = model.predict_proba(frame[REGION_COLUMNS]).mean(axis=0)
            assert [c["current_mean"] for c in block["classes"]] == pytest.approx(means.tolist(), rel=1e-9)
            assert block["psi"] == max(c["psi"] for c in block["classes"])
            assert verdict["metrics"]["prediction_psi"] == block["psi"]
            assert verdict["metrics"]["prediction_ks_statistic"] == max(c["ks_statistic"] for c in block["classes"])
        judged = next(r for r in moved["rules"] if r["rule_id"] == "prediction-psi")
        assert judged["status"] == "fail"
        worst = max(moved["prediction"]["classes"], key=lambda c: c["psi"])
        assert f"of the probability of '{worst['class']}', the largest of 4 classes" in judged["explanation"]
        assert next(r for r in quiet["rules"] if r["rule_id"] == "prediction-psi")["status"] == "pass"
        from mlgate.report import monitoring as monitoring_report

        text = monitoring_report.render_markdown(moved, [])
        shown = next(line for line in text.splitlines() if line.startswith(f"| {worst['class']} |"))
        assert shown.startswith(f"| {worst['class']} | {worst['psi']:.3g} |")
        assert f"<td>{worst['class']}</td>" in monitoring_report.render_html(moved, [])
        # the same rows scored by `mlgate score` into Parquet partitions: the same per-class drift
        spec.write_text(spec.read_text().replace(f"    audit_url: sqlite:///{db}\n", "    scores: scores\n"))
        git("commit", "-qam", "scored partitions only", cwd=repo)
        batch = tmp_path / "batch.parquet"
        heavier[REGION_COLUMNS].assign(customer=[f"C{i}" for i in range(len(heavier))]).to_parquet(batch)
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        scored = invoke(
            CliRunner(),
            *("score", "region", "--stage", "production", "--input", str(batch), "--output", str(repo / "scores")),
            *("--id-column", "customer", "--date", today),
            cwd=repo,
        )
        assert scored.exit_code == 0, scored.output
        from_scores = run(repo, "region", "production", since="1d", tracking_uri=trained["uri"]).verdict
        assert_close(from_scores["prediction"], moved["prediction"], "prediction")
    finally:
        registry.delete_alias("region", "production")


def test_multiclass_prediction_drift_is_each_class_probabilitys_own_psi() -> None:
    """Per class, the PSI and KS of that class's probability alone (the binary path's numbers on one column)."""
    from mlgate.config import DriftSettings, Features
    from mlgate.gates import drift
    from mlgate.monitoring import AT, SCORE, Measurements, Subject, Traffic, probability_column

    rng = np.random.default_rng(11)
    classes = ["a", "b", "c"]
    reference = rng.dirichlet([2, 2, 2], 800)
    current = rng.dirichlet([4, 2, 1], 500)  # class a gains, c loses: a and c drift, b barely
    rows = pd.DataFrame({probability_column(c): current[:, i] for i, c in enumerate(classes)})
    rows[SCORE] = np.nan
    rows[AT] = pd.Timestamp("2025-01-01", tz="UTC")
    subject = Subject("classification", classes, None, 0.5, Features(numeric=["x"]), [("x", "double")])
    settings = DriftSettings()
    traffic = Traffic(rows, None, [], {})
    measured = Measurements(
        subject, pd.DataFrame({"x": [0.0]}), np.full(800, np.nan), traffic, None, settings, reference
    )
    expected = [
        drift.feature_drift(
            pd.DataFrame({"p": reference[:, i]}), pd.DataFrame({"p": current[:, i]}), ["p"], [], settings
        )[0]
        for i in range(3)
    ]
    psi = measured.measure("prediction_psi")
    assert psi.value == pytest.approx(max(e.psi for e in expected), rel=1e-12)
    assert [c["psi"] for c in psi.details["classes"]] == pytest.approx([e.psi for e in expected], rel=1e-12)
    assert [c["class"] for c in psi.details["classes"]] == classes
    ks = measured.measure("prediction_ks_statistic")
    assert ks.value == pytest.approx(max(e.ks_statistic for e in expected), rel=1e-12)
    # a class production never reports (an output without it) fails closed, naming the column
    gone = Traffic(rows.drop(columns=[probability_column("b")]), None, [], {})
    broken = Measurements(subject, pd.DataFrame({"x": [0.0]}), np.full(800, np.nan), gone, None, settings, reference)
    failed = broken.measure("prediction_psi")
    assert failed.error is not None
    assert "probability of 'b'" in failed.error

"""The after-the-merge journey of the demo: batch scoring by alias, the audited service, a promotion it follows.

Runs after the promotion journey, which left credit production at v2 (rolled back) and staging
at v3. It scores a file of applications with ``models:/credit@production`` (the pandas engine,
the same library call ``mlgate score`` makes), starts ``mlgate serve credit --stage production``
as a real uvicorn process on the demo's SQLite MLflow with a SQLite audit store, sends it a
request with a token, one without and one malformed, promotes v3 to production again through a
merged pull request and waits for the service to answer with v3 — no restart — then reads the
audit rows and the ``/metrics`` line of the served version.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from mlgate.config import load_model_spec
from mlgate.exceptions import TamperedModel
from mlgate.promotion import propose
from mlgate.scoring import score
from mlgate_devkit.demo.promotions import Journey
from mlgate_devkit.serve_process import ServeProcess, start_serve

CALLER = "loan-desk"  # the caller id the audit log names; its token is made per run and never printed
POLL_SECONDS = 1.0  # how often the service asks the registry where the alias points
FOLLOW_TIMEOUT = 60.0  # the demo fails if the service has not followed the promotion by then
SCORED_ROWS = 200
ID_COLUMN = "application_id"


@dataclass
class Service:
    """The running ``mlgate serve credit --stage production`` of the demo, and how to call it."""

    process: ServeProcess
    token: str
    audit_db: Path
    started: dict[str, Any]
    features: list[str]

    @property
    def url(self) -> str:
        """Where it listens."""
        return self.process.url


@contextlib.contextmanager
def credit_service(j: Journey, workdir: Path) -> Iterator[Service]:
    """``mlgate serve credit --stage production`` as a real uvicorn process for the ``with`` block.

    SQLite audit store in the demo's folder, a caller token made for this run, the alias polled
    every second. The token reaches the service through its environment, never an argument.
    """
    folder = workdir / "serving"
    folder.mkdir(parents=True, exist_ok=True)
    spec, _ = load_model_spec(j.repo / "models" / "credit" / "model.yaml", j.repo)
    token = secrets.token_hex(16)
    audit_db = folder / "audit.db"
    started_file = folder / "started.json"
    j.log(f"  mlgate serve credit --stage production --audit-url sqlite:///{audit_db} --poll-seconds {POLL_SECONDS:g}")
    process = start_serve(
        j.repo,
        "credit",
        "production",
        folder / "serve.log",
        "--audit-url",
        f"sqlite:///{audit_db}",
        "--poll-seconds",
        str(POLL_SECONDS),
        "--json",
        str(started_file),
        env={"MLFLOW_TRACKING_URI": j.uri, "MLGATE_SERVE_TOKENS": f"{CALLER} {token}"},
    )
    try:
        started = json.loads(started_file.read_text())
        features = [*spec.features.numeric, *spec.features.categorical]
        yield Service(process, token, audit_db, started, features)
    finally:
        process.stop()


def run_serving(j: Journey, workdir: Path, service: Service) -> dict[str, Any]:
    """Score by the production alias; ask the service; promote again and show it following."""
    folder = workdir / "serving"
    features = service.features
    out: dict[str, Any] = {"batch": _score_a_file(j, folder, features)}
    out["attack"] = _replaced_bytes_attack(j, folder, Path(out["batch"]["input"]))
    token, proc = service.token, service.process
    started = service.started
    j.log(f"  serving credit v{started['version']} on {service.url} (pid {proc.proc.pid}), docs at /docs")
    applications = pd.read_csv(j.repo / "data" / "german_credit.csv")[features].head(3)
    rows = json.loads(applications.to_json(orient="records"))
    out["started"] = started
    out["requests"] = requests = {}
    requests["before"] = _predict(j, service.url, token, rows, "3 applications")
    requests["reasons"] = _explained(j, service.url, token, rows[:1])
    requests["missing_token"] = _refused(j, service.url, None, rows[:1], "no token")
    malformed = [dict(rows[0], credit_amount="a lot")]
    requests["malformed"] = _refused(j, service.url, token, malformed, "credit_amount = 'a lot'")

    now, desired = j.registry.alias_version("credit", "production"), j.registry.alias_version("credit", "staging")
    j.log(f"  promote again while it serves: credit production v{now} → v{desired} (staging's, gated and approved)")
    out["promotion"] = j.pull_request(
        f"Promote credit to v{desired} in production",
        lambda: propose(j.repo, "credit", desired, "production"),
        approve=True,
    )
    out["followed"] = _wait_for_version(j, service.url, token, rows, desired)
    requests["after"] = _predict(j, service.url, token, rows, "the same 3 applications")
    out["same_process"] = proc.proc.poll() is None
    out["metrics"] = _metrics_lines(service.url)
    for line in out["metrics"]:
        j.log(f"  /metrics: {line}")
    out["audit"] = _audit_rows(j, service.audit_db)
    out["service_log"] = str(proc.log)
    out["token_in_log"] = token in proc.log.read_text(encoding="utf-8", errors="replace")
    return out


def _score_a_file(j: Journey, folder: Path, features: list[str]) -> dict[str, Any]:
    """``mlgate score credit --stage production`` on 200 applications; show a few scored rows."""
    data = pd.read_csv(j.repo / "data" / "german_credit.csv")[features].tail(SCORED_ROWS).reset_index(drop=True)
    data.insert(0, ID_COLUMN, [f"A{n:05d}" for n in range(1, len(data) + 1)])
    incoming = folder / "incoming" / "applications.csv"
    incoming.parent.mkdir(parents=True, exist_ok=True)
    data.to_csv(incoming, index=False)
    j.log(f"  mlgate score credit --stage production --input {incoming} --id-column {ID_COLUMN}")
    result = score(
        j.repo,
        "credit",
        stage="production",
        inputs=str(incoming),
        output=folder / "scores",
        id_columns=(ID_COLUMN,),
        tracking_uri=j.uri,
    ).as_dict()
    j.log(
        f"  scored {result['rows']} rows with credit v{result['version']} ({result['model_uri']}) in "
        f"{result['seconds']:.1f}s: decided {result['decided']}, {result['needs_review']} flagged needs_review "
        f"→ {result['partition']}"
    )
    table = pd.read_parquet(result["partition"])
    shown = [c for c in (ID_COLUMN, "probability_1", "prediction", "needs_review", "mlgate_version") if c in table]
    for line in table[shown].head(4).to_string(index=False).splitlines():
        j.log(f"  │ {line}")
    return result | {"columns": list(table.columns), "input": str(incoming)}


def _replaced_bytes_attack(j: Journey, folder: Path, incoming: Path) -> dict[str, Any]:
    """The refused attack after the merge: v1's model.skops copied over production's in the artifact store.

    Anyone with write access to the artifact store can do this; release.yaml pins the digest of the
    promoted files, so ``mlgate score`` refuses (exit 1) naming the file, before anything is loaded.
    The file is put back afterwards.
    """
    production = j.registry.alias_version("credit", "production")
    target, source = _stored_model(j, production), _stored_model(j, 1)
    saved = target.read_bytes()
    shutil.copyfile(source, target)
    j.log(f"  attack: v1's model.skops copied over v{production}'s in {j.repo / 'mlartifacts'}")
    try:
        score(j.repo, "credit", stage="production", inputs=str(incoming), output=folder / "refused", tracking_uri=j.uri)
    except TamperedModel as err:
        refused = {"exit_code": err.exit_code, "message": err.message, "scored": (folder / "refused").exists()}
    else:
        raise RuntimeError("mlgate score scored files that differ from the digest release.yaml pins")
    finally:
        target.write_bytes(saved)
    # the message names the version, both digests and the file; long hex is cut for the screen, not the log
    shown = re.sub(r"sha256:([0-9a-f]{12})[0-9a-f]{52}", r"sha256:\1…", refused["message"])
    j.log(f"  mlgate score credit --stage production: exit {refused['exit_code']}: {shown}")
    j.log(f"  restored v{production}'s model.skops")
    return refused


def _stored_model(j: Journey, version: int) -> Path:
    """Where the demo's artifact store keeps ``credit`` v``version``'s model.skops."""
    model_id = j.registry.version("credit", version).source.removeprefix("models:/")
    [found] = [p for p in (j.repo / "mlartifacts").rglob("model.skops") if model_id in p.parts]
    return found


def post(url: str, token: str | None, rows: list[dict[str, Any]]) -> httpx.Response:
    """POST ``rows`` to /invocations as ``dataframe_records``, with the bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/invocations", json={"dataframe_records": rows}, headers=headers, timeout=30)


def _predict(j: Journey, url: str, token: str, rows: list[dict[str, Any]], what: str) -> dict[str, Any]:
    answer = post(url, token, rows)
    answer.raise_for_status()
    body = answer.json()
    shown = ", ".join(f"{p['decision']}{' (review)' if p['needs_review'] else ''}" for p in body["predictions"])
    j.log(f"  POST /invocations, {what}: 200 from v{body['version']}, decisions [{shown}], id {body['request_id']}")
    return {"status": answer.status_code} | body


def _explained(j: Journey, url: str, token: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One decision with its top 3 reasons (``?reasons=3``): what drove it, stored in its audit row too."""
    answer = httpx.post(
        f"{url}/invocations?reasons=3",
        json={"dataframe_records": rows},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    answer.raise_for_status()
    body = answer.json()
    first = body["predictions"][0]
    why = ", ".join(f"{r['feature']}={r['value']} ({r['contribution']:+.3f})" for r in first["reasons"])
    j.log(
        f"  POST /invocations?reasons=3: decision {first['decision']} from v{body['version']} "
        f"(P(repaid) {first['probabilities']['1']:.3f}, {body['reasons']['method']}); reasons: {why}"
    )
    return {"status": answer.status_code} | body


def _refused(j: Journey, url: str, token: str | None, rows: list[dict[str, Any]], what: str) -> dict[str, Any]:
    answer = post(url, token, rows)
    detail = answer.json().get("detail")
    j.log(f"  POST /invocations, {what}: {answer.status_code} {json.dumps(detail)[:160]}")
    return {"status": answer.status_code, "detail": detail}


def _wait_for_version(j: Journey, url: str, token: str, rows: list[dict[str, Any]], version: int) -> dict[str, Any]:
    """Ask the service until it answers with ``version``; how long after the alias moved that took."""
    start = time.monotonic()
    while True:
        body = post(url, token, rows[:1]).json()
        if body.get("version") == version:
            seconds = round(time.monotonic() - start, 1)
            j.log(f"  the service answers with v{version} {seconds}s after the alias moved, without a restart")
            return {"version": version, "seconds": seconds}
        if time.monotonic() - start > FOLLOW_TIMEOUT:
            served = body.get("version")
            raise RuntimeError(f"the service still answers v{served} {FOLLOW_TIMEOUT:g}s after the alias moved")
        time.sleep(0.25)


def _metrics_lines(url: str) -> list[str]:
    """The Prometheus lines of the version served and the version the alias points at."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    wanted = ("mlgate_serve_model_version{", "mlgate_serve_alias_version{")
    return [line for line in text.splitlines() if line.startswith(wanted)]


def _audit_rows(j: Journey, audit_db: Path) -> dict[str, Any]:
    """Every audited prediction (one row each): counts by version and caller, and the last few rows shown."""
    with sqlite3.connect(audit_db) as conn:
        frame = pd.read_sql_query(
            "SELECT request_id, at, caller, model, version, alias, row, outputs, latency_ms "
            "FROM mlgate_predictions ORDER BY at, request_id, row",
            conn,
        )
    j.log(f"  audit store {audit_db}: {len(frame)} prediction rows")
    shown = frame.assign(
        request_id=frame["request_id"].str[:8],
        decision=[json.loads(o)["decision"] for o in frame["outputs"]],
        latency_ms=frame["latency_ms"].round(1),
    )[["at", "request_id", "caller", "version", "alias", "row", "decision", "latency_ms"]]
    for line in shown.tail(6).to_string(index=False).splitlines():
        j.log(f"  │ {line}")
    return {
        "path": str(audit_db),
        "rows": len(frame),
        "versions": {int(v): int(n) for v, n in frame["version"].value_counts().sort_index().items()},
        "callers": sorted(frame["caller"].unique()),
        "request_ids": sorted(frame["request_id"].unique()),
    }

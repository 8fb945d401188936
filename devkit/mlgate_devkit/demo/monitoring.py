"""The demo's last journey: drifted traffic reaches the service, `mlgate monitor` alerts and proposes retraining.

Runs while the serving journey's `mlgate serve credit --stage production` is still up (v3 served).
The credit spec learns where production traffic is (the service's audit store), when to retrain
(drifted_share above 0.3) and how (the newest DVC-tracked snapshot of the data); a newer extract
of the data is added with `dvc add` and pushed, and the repo gets a bare `origin` to push branches
to. Then 250 applications whose amount, duration and age moved are sent to the service, and
`mlgate monitor credit --stage production --alert --propose-retrain` (the same library call)
judges the last hour: it fails on drift, opens the model's monitoring issue on the GitHub
stand-in, and opens the retraining pull request from `mlgate/retrain-credit`, which would go
through the usual gates.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from mlgate.git import run_git
from mlgate.monitoring import monitor
from mlgate_devkit.demo.promotions import Journey
from mlgate_devkit.demo.serving import Service, post

SNAPSHOT = "data/snapshots/german_credit-2026-11.csv"
ROLLBACK = "  rollback_procedure: revert the promotion PR; mlgate moves the production alias back\n"
DRIFTED_ROWS = 250


def run_monitoring(j: Journey, workdir: Path, service: Service) -> dict[str, Any]:
    """Drifted traffic to the service, then mlgate monitor with --alert and --propose-retrain."""
    origin = _origin(j, workdir)
    _watch_credit(j, service.audit_db)
    sent = _drifted_traffic(j, service)
    reports = workdir / "monitoring"
    j.log("  mlgate monitor credit --stage production --since 1h --alert --propose-retrain")
    outcome = monitor(
        j.repo,
        "credit",
        "production",
        since="1h",
        tracking_uri=j.uri,
        markdown=reports / "credit.md",
        html=reports / "credit.html",
        alert=True,
        propose_retrain=True,
        progress=lambda msg: j.log(f"    {msg}"),
    )
    verdict = outcome.result.verdict
    drifted = sorted((f for f in verdict["features"] if f["drifted"]), key=lambda f: -f["psi"])
    j.log(
        f"  {verdict['status']} on {verdict['rows']} rows of v{verdict['version']} (exit {outcome.exit_code}): "
        + ", ".join(f"{f['feature']} PSI {f['psi']:.2f}" for f in drifted)
    )
    for rule in verdict["rules"]:
        if rule["status"] in ("fail", "error"):
            j.log(f"    {rule['severity']:<5} {rule['rule_id']}: {rule['explanation']}")
    assert outcome.alert is not None  # the breach opens the issue
    issue = j.github.issues[outcome.alert.number]
    j.log(f'  issue #{issue["number"]} {outcome.alert.action}: "{issue["title"]}"')
    j.log(f"    labels {', '.join(label['name'] for label in issue['labels'])}; {outcome.alert.url}")
    for line in [line for line in issue["body"].splitlines() if line.strip()][:4]:
        j.log(f"    │ {line[:150]}")
    pr = outcome.retrain_pr.as_dict() if outcome.retrain_pr is not None else {}
    pull = j.github.pulls.get(pr.get("number") or -1, {})
    j.log(f'  retraining PR #{pr.get("number")} {pr.get("action")}: "{pull.get("title", "")}" from {pr.get("branch")}')
    pushed = run_git(origin, "log", "-1", "--format=%s", pr["branch"]) if pr.get("action") == "opened" else ""
    changed = run_git(origin, "diff", "--name-only", "main", pr["branch"]).splitlines() if pushed else []
    j.log(f"    pushed to {origin}: {pushed!r}, changing {', '.join(changed)}")
    j.log(f"  reports: {reports / 'credit.md'}, {reports / 'credit.html'}")
    return {
        "sent": sent,
        "exit_code": outcome.exit_code,
        "verdict": verdict,
        "alert": outcome.alert.as_dict(),
        "issue": issue,
        "retrain_pr": pr,
        "pull": pull,
        "origin": str(origin),
        "branch_commit": pushed,
        "branch_changes": changed,
        "reports": outcome.reports,
    }


def _origin(j: Journey, workdir: Path) -> Path:
    """Pushes to ``origin`` land in a bare repository: GitHub's git side, which the API stand-in does not serve."""
    origin = workdir / "origin.git"
    run_git(workdir, "init", "-q", "--bare", "-b", "main", str(origin))
    run_git(j.repo, "remote", "set-url", "--push", "origin", str(origin))
    run_git(j.repo, "push", "-q", "origin", "main")
    return origin


def _watch_credit(j: Journey, audit_db: Path) -> None:
    """The spec says where traffic is, when to retrain and how; a newer data extract is tracked and pushed."""
    from dvc.repo import Repo

    spec = j.repo / "models" / "credit" / "model.yaml"
    text = spec.read_text()
    block = (
        f"  sources:\n    audit_url: sqlite:///{audit_db}\n"
        "  retrain_when:\n    metric: drifted_share\n    max: 0.3\n"
        "  retrain:\n    snapshots: data/snapshots/german_credit-*.csv\n"
    )
    spec.write_text(text.replace(ROLLBACK, ROLLBACK + block, 1))
    snapshot = j.repo / SNAPSHOT
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(j.repo / "data" / "german_credit.csv", snapshot)  # the newest extract (here: re-exported)
    with Repo(str(j.repo)) as dvc, contextlib.redirect_stdout(sys.stderr):
        dvc.add([str(snapshot)])
        dvc.push()
    run_git(j.repo, "add", "-A")
    run_git(j.repo, "commit", "-q", "-m", "credit: monitoring reads the service's audit store; retrain from snapshots")
    run_git(j.repo, "push", "-q", "origin", "main")
    j.log("  credit's spec: monitoring.sources.audit_url (the service's), retrain_when drifted_share > 0.3,")
    j.log(f"  retrain.snapshots data/snapshots/german_credit-*.csv; {SNAPSHOT} added with dvc add and pushed")


def _drifted_traffic(j: Journey, service: Service) -> int:
    """250 applications whose amounts tripled, durations doubled and applicants aged 25 years, in 100-row requests."""
    data = pd.read_csv(j.repo / "data" / "german_credit.csv")[service.features].tail(DRIFTED_ROWS)
    moved = data.assign(credit_amount=data["credit_amount"] * 3, duration=data["duration"] * 2, age=data["age"] + 25)
    rows = json.loads(moved.to_json(orient="records"))  # a missing category is null, as a client sends it
    for start in range(0, len(rows), 100):
        post(service.url, service.token, rows[start : start + 100]).raise_for_status()
    j.log(f"  sent {len(rows)} drifted applications to the service (amount x3, duration x2, age +25)")
    return len(rows)

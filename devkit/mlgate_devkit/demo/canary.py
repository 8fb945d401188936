"""The demo's progressive delivery: a canary beside production, compared live, completed; a second one aborted.

Runs while the serving journey's ``mlgate serve credit --stage production --arm-key application_id``
is still up (v3 stable). A governance commit shortens the canary's ``min_duration`` to 1m and its
``min_samples`` to 300 so the step runs in a minute (a bank keeps hours and hundreds of rows).
Credit v4 (retrained) goes beside production at 10% by a pull request ``mlgate propose-promotion
--canary 0.10`` writes; the merge sets the ``production-canary`` alias and the service follows both
arms. Applications with ids go to the service; ``mlgate monitor credit --stage production
--compare --propose --alert`` (the same library call) first holds (the canary has not run its
minute), then says ``promote`` and opens "Complete canary: production → v4", which is approved,
merged and applied. Then v5 goes beside v4; the applications its callers send have moved, compare
says ``abort``, opens the abort pull request and the issue; the merge removes the canary alias.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlgate.config import ArmKind
from mlgate.git import run_git
from mlgate.monitoring import compare_arms
from mlgate.promotion import propose
from mlgate.registry import audit
from mlgate.serving import arm_of
from mlgate.training import train
from mlgate_devkit.demo.promotions import Journey
from mlgate_devkit.demo.serving import ID_COLUMN, Service, post

TRAFFIC = 0.10
MIN_DURATION, MIN_SAMPLES = "1m", 300
ROWS = 4000  # ~400 on the canary at 10%: enough for min_samples, and for the tests to tell 5 points apart
BATCH = 500
CANARY_ALIAS = "production-canary"
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def run_canary(j: Journey, workdir: Path, service: Service) -> dict[str, Any]:
    """Governance commit, canary v4 → compare → complete; canary v5 with moved traffic → compare → abort."""
    out: dict[str, Any] = {"governance": _shorten(j)}
    _renumber(j)
    stable = j.registry.alias_version("credit", "production")
    params = j.repo / "params.yaml"
    params.write_text(params.read_text().replace("n_estimators: 300", "n_estimators: 400", 1))
    run_git(j.repo, "commit", "-q", "-am", "credit: 400 trees")
    v4 = train(j.repo, "credit", tracking_uri=j.uri).version
    j.log(f"  credit v{v4} retrained (400 trees) → staging first: the canary beside production needs it there")
    out["staging_v4"] = j.pull_request(
        f"Promote credit to v{v4} in staging", lambda: propose(j.repo, "credit", v4, "staging"), approve=False
    )
    j.log(f"  mlgate propose-promotion credit --version {v4} --stage production --canary {TRAFFIC:.2f}")
    out["canary"] = j.pull_request(
        f"Canary credit v{v4} beside production v{stable} at {TRAFFIC:.0%}",
        lambda: propose(j.repo, "credit", v4, "production", canary=TRAFFIC),
        approve=True,
    )
    out["canary_alias"] = j.registry.alias_version("credit", CANARY_ALIAS)
    began = _started(j)
    out["traffic"] = _send(j, service, v4, "first", moved=False)
    out["early"] = _compare(j, workdir, began, "before its minute")
    v5 = _train_while_waiting(j, began)
    out["complete"] = _land_proposal(j, out, "promote", began, workdir)
    out["production"] = j.registry.alias_version("credit", "production")
    out["canary_alias_after_complete"] = j.registry.alias_version("credit", CANARY_ALIAS)
    out["stable_archived"] = j.registry.version("credit", stable).tags.get("mlgate.archived")

    j.log(f"  a second canary: credit v{v5} beside production v{out['production']} at {TRAFFIC:.0%}")
    out["canary2"] = j.pull_request(
        f"Canary credit v{v5} beside production v{out['production']} at {TRAFFIC:.0%}",
        lambda: propose(j.repo, "credit", v5, "production", canary=TRAFFIC),
        approve=True,
    )
    began2 = _started(j)
    out["traffic2"] = _send(j, service, v5, "second", moved=True)
    out["abort"] = _land_proposal(j, out, "abort", began2, workdir)
    out["production_after_abort"] = j.registry.alias_version("credit", "production")
    out["canary_alias_after_abort"] = j.registry.alias_version("credit", CANARY_ALIAS)
    out["arms"] = _arm_rows(j, service.audit_db)
    out["pulls"] = {n: p["title"] for n, p in sorted(j.github.pulls.items()) if "anary" in p.get("title", "")}
    out["issues"] = {n: i["title"] for n, i in sorted(j.github.issues.items()) if "anary" in i.get("title", "")}
    out["versions"] = {"stable": stable, "complete": v4, "abort": v5}
    return out


def _renumber(j: Journey) -> None:
    """The demo's own pull requests are numbered after what the stand-in numbered (monitoring's, compare's)."""
    j.next_pr = max(j.next_pr, max([*j.github.pulls, *j.github.issues], default=0) + 1)


def _shorten(j: Journey) -> dict[str, str]:
    """The visible governance commit: min_duration 30m → 1m, min_samples 500 → 300 in policies/base.yaml."""
    policy = j.repo / "policies" / "base.yaml"
    text = policy.read_text()
    changed = text.replace("min_duration: 30m", f"min_duration: {MIN_DURATION}", 1).replace(
        "min_samples: 500", f"min_samples: {MIN_SAMPLES}", 1
    )
    if changed == text:
        raise RuntimeError("policies/base.yaml no longer holds the canary's min_duration: 30m / min_samples: 500")
    policy.write_text(changed)
    message = f"governance: canary min_duration {MIN_DURATION}, min_samples {MIN_SAMPLES} (the demo's own repo)"
    run_git(j.repo, "commit", "-q", "-am", message)
    j.log(
        f"  governance commit: the demo shortens the canary's min_duration to {MIN_DURATION} and min_samples to "
        f"{MIN_SAMPLES} so it runs in minutes; a bank keeps 24h and thousands of rows"
    )
    return {"commit": run_git(j.repo, "rev-parse", "--short", "HEAD"), "message": message}


def _started(j: Journey) -> datetime:
    """When the canary alias was set: its audit record (what compare measures min_duration from)."""
    record = audit.history(j.registry, "credit", CANARY_ALIAS)[-1]
    moment = datetime.fromisoformat(record.promoted_at)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _send(j: Journey, service: Service, version: int, tag: str, *, moved: bool) -> dict[str, Any]:
    """ROWS applications with ids, 500 a request; ``moved``: those the hash sends to the canary have drifted."""
    # the sensitive feature rides beside the model's inputs: compare judges the fairness rules per arm
    data = pd.read_csv(j.repo / "data" / "german_credit.csv")[[*service.features, "sex"]]
    rows = json.loads(pd.concat([data] * (ROWS // len(data) + 1)).head(ROWS).to_json(orient="records"))
    answered: dict[str, int] = {}
    waited = _follows(service, rows[0], version)
    j.log(f"  the service follows {CANARY_ALIAS} v{version} {waited:.1f}s after the merge (it polls the alias)")
    for n, row in enumerate(rows):
        row[ID_COLUMN] = f"{tag[0].upper()}{n:05d}"
        if moved and arm_of("credit", "production", row[ID_COLUMN], TRAFFIC) == ArmKind.CANARY:
            row.update(credit_amount=row["credit_amount"] * 3, duration=row["duration"] * 2, age=row["age"] + 25)
    for start in range(0, len(rows), BATCH):
        answer = post(service.url, service.token, rows[start : start + BATCH])
        answer.raise_for_status()
        for p in answer.json()["predictions"]:
            answered[f"v{p['version']}"] = answered.get(f"v{p['version']}", 0) + 1
    said = ", ".join(f"{n} by {v}" for v, n in sorted(answered.items()))
    drift = " (the canary's callers' applications moved: amount x3, duration x2, age +25)" if moved else ""
    j.log(f"  sent {len(rows)} applications with {ID_COLUMN}s{drift}: answered {said}")
    return {"rows": len(rows), "answered": answered, "canary_version": version}


def _follows(service: Service, row: dict[str, Any], version: int) -> float:
    """Ask with an application the hash sends to the canary until ``version`` answers it; how long that took."""
    probe = next(f"P{n:05d}" for n in range(10_000) if arm_of("credit", "production", f"P{n:05d}", TRAFFIC) == "canary")
    start = time.monotonic()
    while True:
        answer = post(service.url, service.token, [dict(row, **{ID_COLUMN: probe})])
        answer.raise_for_status()
        if answer.json()["predictions"][0]["version"] == version:
            return time.monotonic() - start
        if time.monotonic() - start > 60:
            raise RuntimeError(f"the service still answers the canary's callers without v{version} after 60s")
        time.sleep(0.25)


def _compare(j: Journey, workdir: Path, began: datetime, when: str) -> dict[str, Any]:
    """``mlgate monitor credit --stage production --compare --propose --alert`` over the canary's life so far."""
    end = datetime.now(UTC) + timedelta(seconds=1)  # the window is [from, to) to the second: this second's rows in
    window = f"{began.strftime(STAMP)}..{end.strftime(STAMP)}"
    j.log(f"  mlgate monitor credit --stage production --compare --window {window} --propose --alert  ({when})")
    outcome = compare_arms(
        j.repo,
        "credit",
        "production",
        window=window,
        markdown=workdir / "monitoring" / "compare.md",
        propose=True,
        alert=True,
    )
    verdict = outcome.result.verdict
    j.log(
        f"  {verdict['state']}: stable v{verdict['stable']['version']} {verdict['stable']['rows']} rows, canary "
        f"v{verdict['candidate']['version']} {verdict['candidate']['rows']} rows (exit {outcome.exit_code})"
    )
    for check in verdict["checks"]:
        j.log(f"    {check['status']:<12} {check['name']}: {check['explanation'][:140]}")
    for reason in verdict["reasons"]:
        j.log(f"    → {reason[:160]}")
    changes = [c.as_dict() for c in outcome.changes]
    for c in changes:
        j.log(f'  {c["kind"]} #{c["number"]} {c["action"]}: "{c["title"] or ""}"')
    return {"state": verdict["state"], "exit_code": outcome.exit_code, "verdict": verdict, "changes": changes}


def _train_while_waiting(j: Journey, began: datetime) -> int:
    """Train v5 (the second canary) while the first runs its minute, then wait out what is left of it."""
    params = j.repo / "params.yaml"
    params.write_text(params.read_text().replace("n_estimators: 400", "n_estimators: 250", 1))
    run_git(j.repo, "commit", "-q", "-am", "credit: 250 trees")
    v5 = train(j.repo, "credit", tracking_uri=j.uri).version
    j.log(f"  meanwhile credit v{v5} is trained (250 trees) and goes to staging")
    j.pull_request(
        f"Promote credit to v{v5} in staging", lambda: propose(j.repo, "credit", v5, "staging"), approve=False
    )
    left = 60 - (datetime.now(UTC) - began).total_seconds() + 1
    j.log(f"  waiting {max(left, 0):.0f}s more for the canary's minute (its min_duration)")
    if left > 0:
        time.sleep(left)
    return v5


def _land_proposal(j: Journey, out: dict[str, Any], state: str, began: datetime, workdir: Path) -> dict[str, Any]:
    """Compare until it says ``state``; the pull request it opened is fetched, approved, merged and applied."""
    key = "compare_promote" if state == "promote" else "compare_abort"
    out[key] = result = _compare(j, workdir, began, f"the canary has run {_age(began)}")
    if result["state"] != state:
        raise RuntimeError(f"the comparison says {result['state']}, the demo expected {state}")
    kind = "complete" if state == "promote" else "abort"
    [pr] = [c for c in result["changes"] if c["kind"] == kind]
    _renumber(j)
    origin = run_git(j.repo, "remote", "get-url", "--push", "origin")  # the bare repo the branch was pushed to
    run_git(j.repo, "fetch", "-q", origin, f"{pr['branch']}:{pr['branch']}")
    base = run_git(j.repo, "rev-parse", "HEAD")
    return j.land(pr["number"], pr["branch"], base, pr["title"], approve=True)


def _age(began: datetime) -> str:
    return f"{(datetime.now(UTC) - began).total_seconds():.0f}s"


def _arm_rows(j: Journey, audit_db: Path) -> dict[str, dict[int, int]]:
    """Audit rows per arm alias and version: both arms answered and were audited."""
    with sqlite3.connect(audit_db) as conn:
        frame = pd.read_sql_query("SELECT alias, version, COUNT(*) AS n FROM mlgate_predictions GROUP BY 1, 2", conn)
    out: dict[str, dict[int, int]] = {}
    for alias, version, n in frame.itertuples(index=False):
        out.setdefault(alias, {})[int(version)] = int(n)
    shown = "; ".join(f"{a}: " + ", ".join(f"v{v} {n}" for v, n in sorted(vs.items())) for a, vs in sorted(out.items()))
    j.log(f"  audit store: rows by arm alias — {shown}")
    return out

"""The promotion journey of the demo: merge to promote, status, history, rollback.

Runs on the scratch repo after the pull-request journey merged the retuned credit model (v2).
Each promotion is a branch that edits ``release.yaml``, a pull request on the local GitHub API
stand-in (its reviews are the approvals), the plan posted as the PR's comment, a merge commit
("Merge pull request #N …"), and ``promote --apply`` as the push workflow runs it. The same
library calls the CLI makes; the registry is the demo's SQLite MLflow.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlgate.config import set_stage
from mlgate.gates import run_gates
from mlgate.git import run_git
from mlgate.github import GitHub
from mlgate.promotion import (
    apply,
    fetch_pull_request,
    make_plan,
    propose,
    publish,
    rollback_target,
    status,
    version_digest,
)
from mlgate.promotion import version_label as _v
from mlgate.registry import Registry, audit
from mlgate.training import train
from mlgate_devkit.demo.pull_request import REPOSITORY, harness

Log = Callable[[str], None]
AUTHOR, APPROVER = "data-scientist", "risk-officer"  # risk-officer: the credit policy's approver


@contextlib.contextmanager
def github_env(url: str, token: str) -> Iterator[None]:
    """Point mlgate.github at the stand-in for the journey, then put the environment back."""
    wanted = {"GITHUB_API_URL": url, "GITHUB_TOKEN": token, "GITHUB_REPOSITORY": REPOSITORY}
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Journey:
    """The demo's promotions against one repo, registry and GitHub stand-in, logged as they go."""

    def __init__(self, repo: Path, uri: str, github: Any, log: Log) -> None:
        """Work in ``repo`` with the registry at ``uri``; pull requests are numbered from 20."""
        self.repo, self.uri, self.github, self.log = repo, uri, github, log
        self.registry = Registry(repo, uri)
        self.next_pr = 20
        github.grant(APPROVER, "write")  # an approval counts only from an account that can push

    def pull_request(self, title: str, edit: Callable[[], None], *, approve: bool) -> dict[str, Any]:
        """Branch, edit, PR, plan (+ approval), merge, apply: one promotion end to end."""
        number, self.next_pr = self.next_pr, self.next_pr + 1
        base = run_git(self.repo, "rev-parse", "HEAD")
        branch = f"release-{number}"
        run_git(self.repo, "switch", "-q", "-c", branch)
        edit()
        run_git(self.repo, "commit", "-q", "-am", title)
        return self.land(number, branch, base, title, approve=approve)

    def land(self, number: int, branch: str, base: str, title: str, *, approve: bool) -> dict[str, Any]:
        """Plan PR ``number`` (``branch`` against ``base``), approve it if asked and needed, merge, apply."""
        run_git(self.repo, "switch", "-q", branch)  # the plan reads the pull request's checkout
        head = run_git(self.repo, "rev-parse", "HEAD")
        self.github.set_pull(number, author=AUTHOR, head_sha=head)
        plan = make_plan(self.repo, self.registry, policy_ref=base, pull=fetch_pull_request(number, GitHub())).as_dict()
        publish(plan, number, head, GitHub())
        self.log(f'  PR #{number} "{title}": plan {"ok" if plan["ok"] else "blocked: " + "; ".join(plan["missing"])}')
        if approve and not plan["ok"]:
            self.github.add_review(number, login=APPROVER, commit_id=head, association="MEMBER")
            plan = make_plan(
                self.repo, self.registry, policy_ref=base, pull=fetch_pull_request(number, GitHub())
            ).as_dict()
            publish(plan, number, head, GitHub())
            self.log(f"  PR #{number}: {APPROVER} approves → plan {'ok' if plan['ok'] else 'still blocked'}")
        run_git(self.repo, "switch", "-q", "main")
        run_git(self.repo, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{number} from acme/{branch}", branch)
        result = apply(self.repo, self.registry, pull=fetch_pull_request(number, GitHub()), actor="merge-bot").as_dict()
        for change in result["changes"]:
            self.log(
                f"  merged → {change['model']} {change['stage']}: "
                f"{_v(change['current'])} → {_v(change['desired'])} ({change['outcome']})"
            )
        return {
            "pr": number,
            "plan_ok": plan["ok"],
            "applied": result["changes"],
            "comment": self.github.comments[number][0]["body"],
        }

    def forged_tags_attack(self) -> dict[str, Any]:
        """The refused attack: forged 'pass' tags on credit v1 and a PR asking for production.

        v1 is blocked by the four-fifths rule; the plan runs the gates itself, so it stays
        blocked, and nothing is written to the registry.
        """
        forged = {
            f"mlgate.gates.{f}": "pass"
            for f in ("status", "performance", "fairness", "drift", "integrity", "documentation")
        }
        self.registry.set_version_tags("credit", 1, forged)  # what any job with registry credentials can do
        aliases = {s: self.registry.alias_version("credit", s) for s in ("staging", "production")}
        number, self.next_pr = self.next_pr, self.next_pr + 1
        base = run_git(self.repo, "rev-parse", "HEAD")
        run_git(self.repo, "switch", "-q", "-c", f"attack-{number}")
        propose(self.repo, "credit", 1, "production")
        run_git(self.repo, "commit", "-q", "-am", "Promote credit to v1 in production")
        self.github.set_pull(number, author=AUTHOR, head_sha=run_git(self.repo, "rev-parse", "HEAD"))
        plan = make_plan(self.repo, self.registry, policy_ref=base, pull=fetch_pull_request(number, GitHub()))
        run_git(self.repo, "switch", "-q", "main")
        [change] = plan.changes
        gates = next(c for c in change.checks if c.name == "gates")
        after = {s: self.registry.alias_version("credit", s) for s in ("staging", "production")}
        self.log(f"  attack: forged mlgate.gates.*=pass tags on credit v1, PR #{number} asks for production")
        self.log(f"  PR #{number}: plan {'ok' if plan.ok else 'blocked'} — {gates.detail[:150]}")
        self.log(
            f"  registry untouched: aliases {after}, "
            f"{len(audit.history(self.registry, 'credit'))} audit records; PR closed unmerged"
        )
        return {
            "pr": number,
            "plan_ok": plan.ok,
            "gates": gates.as_dict(),
            "aliases_before": aliases,
            "aliases_after": after,
        }

    def show_status(self) -> list[dict[str, Any]]:
        """Log and return ``mlgate status``: desired and actual version per model and stage."""
        rows = status(self.repo, self.registry)
        for row in rows:
            self.log(
                f"  status {row.model:<10} {row.stage:<11} desired {_v(row.desired)}  "
                f"actual {_v(row.actual)}  {row.status}"
            )
        return [row.as_dict() for row in rows]

    def show_history(self, model: str) -> list[dict[str, Any]]:
        """Log and return the promotion audit records of ``model``."""
        records = [r.as_dict() for r in audit.history(self.registry, model)]
        for r in records:
            self.log(
                f"  history {r['promoted_at']} {model} {r['stage']}: {_v(r['previous'])} → {_v(r['version'])} "
                f"PR #{r['pr']} by {r['promoted_by']}, approved by {', '.join(r['approvers']) or '—'}"
            )
        return records


@contextlib.contextmanager
def journey(source: Path, repo: Path, uri: str, log: Log) -> Iterator[Journey]:
    """A :class:`Journey` on a GitHub API stand-in that lives as long as the ``with`` block."""
    _runner, fake_github = harness(source)
    github = fake_github(os.urandom(20).hex(), REPOSITORY).start()
    try:
        with github_env(github.url, github.token):
            yield Journey(repo, uri, github, log)
    finally:
        github.stop()


def run_promotions(j: Journey) -> dict[str, Any]:
    """Credit v2 → staging → production; v3 retrained, gated vs the champion, promoted; income → staging; rollback."""
    out: dict[str, Any] = {}

    def release(stage: str, version: int) -> Callable[[], None]:
        return lambda: propose(j.repo, "credit", version, stage)

    out["attack"] = j.forged_tags_attack()
    j.log("  credit v2 (the merged PR) → staging, then production (needs risk-officer's approval)")
    out["staging_v2"] = j.pull_request("Promote credit to v2 in staging", release("staging", 2), approve=False)
    out["production_v2"] = j.pull_request("Promote credit to v2 in production", release("production", 2), approve=True)
    out["release_yaml"] = (j.repo / "models" / "credit" / "release.yaml").read_text()
    pinned = next(line for line in out["release_yaml"].splitlines() if line.strip().startswith("production:"))
    j.log(f"  models/credit/release.yaml pins the files promoted:{pinned}")

    j.log("  credit v3: retrained with new params, gated against the champion (v2)")
    params = j.repo / "params.yaml"
    params.write_text(params.read_text().replace("n_estimators: 200", "n_estimators: 300", 1))
    run_git(j.repo, "commit", "-q", "-am", "credit: 300 trees")
    v3 = train(j.repo, "credit", tracking_uri=j.uri).version
    verdict = run_gates(j.repo, "credit", version=v3, tracking_uri=j.uri)
    champion = verdict.champion or {}
    j.log(
        f"  v{v3}: {verdict.status}; roc_auc {verdict.metrics.get('roc_auc', float('nan')):.4f} vs champion "
        f"v{champion.get('version')} {champion.get('metrics', {}).get('roc_auc', float('nan')):.4f}"
    )
    out["v3"] = {"version": v3, "status": verdict.status, "champion": champion.get("version")}
    out["staging_v3"] = j.pull_request(f"Promote credit to v{v3} in staging", release("staging", v3), approve=False)
    out["production_v3"] = j.pull_request(
        f"Promote credit to v{v3} in production", release("production", v3), approve=True
    )
    j.log("  income v1 (trained by the repo's own train/income.py) → staging: its command lineage is verified too")
    out["income_staging"] = j.pull_request(
        "Promote income to v1 in staging", lambda: propose(j.repo, "income", 1, "staging"), approve=False
    )
    out["status"] = j.show_status()
    out["history"] = j.show_history("credit")

    now, previous = rollback_target(j.registry, "credit", "production")
    j.log(f"  rollback: mlgate rollback credit --stage production → v{now} back to v{previous}")
    out["rollback"] = j.pull_request(
        f"Roll back credit to v{previous} in production",
        lambda: set_stage(j.repo, "credit", "production", previous, version_digest(j.registry, "credit", previous)),
        approve=True,
    )
    out["status_after_rollback"] = j.show_status()
    out["history_after_rollback"] = j.show_history("credit")
    return out

"""Put a rendered report where reviewers see it: the sticky PR comment and a check run.

A pull request from a fork gets a read-only token: nothing can be posted, and that is not an
error — the gate still ran, the step summary and the artifact hold the report, and the message
says why no comment appeared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config import GATE_FAMILIES, load, rule_id
from mlgate.gates import FAILED, Status
from mlgate.github import Conclusion, GitHub

if TYPE_CHECKING:
    from mlgate.github import GitHub

CONCLUSION = {Status.PASS: Conclusion.SUCCESS, Status.WARN: Conclusion.NEUTRAL, Status.FAIL: Conclusion.FAILURE}


@dataclass
class Published:
    """Where the report went: the comment and check run URLs, or why nothing was posted."""

    comment_url: str = ""
    check_run_url: str = ""
    skipped: str = ""  # why nothing was posted, if so

    def as_dict(self) -> dict[str, str]:
        """The URLs and skip reason under the names the report action's outputs use."""
        return {"comment-url": self.comment_url, "check-run-url": self.check_run_url, "skipped": self.skipped}


def rule_locations(root: Path, files: list[str]) -> dict[str, tuple[str, int]]:
    """Rule id → (policy file, line) for every rule of the given policy files (last file wins)."""
    found: dict[str, tuple[str, int]] = {}
    for rel in files:
        path = root / rel
        if not path.is_file():
            continue
        doc = load(path, rel)
        gates = (doc.data or {}).get("gates") or {}
        for family in GATE_FAMILIES:
            for index, raw in enumerate(gates.get(family) or []):
                rule = type("Raw", (), {"id": raw.get("id"), "metric": raw.get("metric"), "field": raw.get("field")})
                line, _ = doc.mark(("gates", family, index))
                found[rule_id(family, rule)] = (rel, line)
    return found


def rule_annotations(root: Path, verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """One annotation per failed or errored rule, on the policy line that defines it."""
    where = rule_locations(root, verdict["policy"]["files"])
    spec = f"models/{verdict['model']}/model.yaml"
    out = []
    for rule in verdict["rules"]:
        if rule["status"] not in FAILED:
            continue
        base_id = rule["rule_id"].split("/")[0]
        path, line = where.get(base_id, (spec, 1))
        out.append(
            {
                "path": path,
                "start_line": line,
                "end_line": line,
                "annotation_level": "failure" if rule["blocking"] else "warning",
                "title": f"{rule['family']}: {rule['rule_id']}"[:255],
                "message": rule["explanation"][:64000] or rule["status"],
            }
        )
    return out


def check_outcome(verdict: dict[str, Any]) -> tuple[Conclusion, str]:
    """(conclusion, title prefix): a PR that changes how models are judged is never green on its own.

    Policies and judging fields changed by the PR did not judge it (the base's did); the
    ``mlgate / governance`` check holds the change until a named approver approves it.
    """
    conclusion = CONCLUSION[verdict["status"]]
    changed = [c["file"] for c in (verdict["policy"].get("changed") or [])]
    changed += [f"judging field {c['field']}" for c in ((verdict.get("judging") or {}).get("changes") or [])]
    if changed and conclusion == Conclusion.SUCCESS:
        return Conclusion.NEUTRAL, f"governance change needs review ({', '.join(changed)}) — "
    return conclusion, ""


def is_fork_pr(event_path: str | None) -> bool:
    """True when the triggering pull_request comes from another repository (read-only token)."""
    import json

    if not event_path or not Path(event_path).is_file():
        return False
    event = json.loads(Path(event_path).read_text())
    pr = event.get("pull_request") or {}
    head = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
    base = ((pr.get("base") or {}).get("repo") or {}).get("full_name")
    return bool(head and base and head != base)


def publish(
    root: Path,
    verdict: dict[str, Any],
    markdown: str,
    marker: str,
    *,
    pr: int | None,
    head_sha: str | None,
    check_name: str | None = None,
    github: Callable[[], GitHub] | None = None,
) -> Published:
    """Upsert the sticky comment (with ``pr``) and create the check run (with ``head_sha``).

    ``github`` opens the workspace's client; None (no ``GITHUB_TOKEN``) posts nothing and says why.
    """
    if is_fork_pr(os.environ.get("GITHUB_EVENT_PATH")):
        return Published(
            skipped="pull request from a fork: its token is read-only, so no comment or check "
            "run was posted; the report is in the step summary and the artifact"
        )
    if github is None:
        return Published(skipped="no GITHUB_TOKEN: nothing posted; pass `github-token` to post the comment")
    result = Published()
    client = github()
    if pr is not None:
        result.comment_url = client.upsert_comment(pr, markdown, marker).url or ""
    if head_sha:
        counts = verdict["counts"]
        conclusion, prefix = check_outcome(verdict)
        run = client.create_or_update_check_run(
            name=check_name or f"mlgate / {verdict['model']}",
            head_sha=head_sha,
            conclusion=conclusion,
            title=(
                f"{prefix}{verdict['model']} {_subject(verdict)}: {verdict['status']} — "
                f"{counts['pass']} passed, {counts['blocking']} blocking, {counts['warnings']} warning(s)"
            ),
            summary=markdown[:65000],
            annotations=rule_annotations(root, verdict),
            key=str(verdict["model"]),
        )
        result.check_run_url = run.url or ""
    return result


def _subject(verdict: dict[str, Any]) -> str:
    """``v3``, or ``predictions`` for a verdict on a predictions file (no registered version)."""
    return "predictions" if verdict.get("version") is None else f"v{verdict['version']}"

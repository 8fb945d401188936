"""The promotion plan as a sticky PR comment and a check run (``mlgate promote --plan``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlgate.github import Conclusion, GitHub
from mlgate.promotion._check import version_label

if TYPE_CHECKING:
    from mlgate.github import GitHub

MARKER = "<!-- mlgate:promotion -->"
CHECK_NAME = "mlgate / promotion"


def markdown(plan: dict[str, Any]) -> str:
    """Headline, then one table row per change (current → desired, archived) and its checks."""
    changes = plan["changes"]
    if not changes:
        head = "✅ **in sync** — every release.yaml matches the registry; merging changes nothing"
    elif plan["ok"]:
        head = f"✅ **ready to promote** — {len(changes)} change(s); merging applies them"
    else:
        head = f"❌ **promotion blocked** — {len(plan['missing'])} requirement(s) missing"
    lines = [head, ""]
    if changes:
        lines += ["| Model | Stage | Current → desired | Archived on merge | Checks |", "|---|---|---|---|---|"]
        for c in changes:
            checks = "<br>".join(f"{'✅' if k['ok'] else '❌'} {k['check']}: {k['detail']}" for k in c["checks"]) or "—"
            stage, moved = _arm_cells(c)
            lines.append(f"| `{c['model']}` | {stage} | {moved} | {version_label(c['archive'])} | {checks} |")
        lines.append("")
    if plan["missing"]:
        lines += ["**Missing:**", *[f"- {m}" for m in plan["missing"]], ""]
    if plan.get("policy_ref"):
        lines.append(f"Checked against the policies of the base commit `{plan['policy_ref'][:12]}`.")
    lines += ["", MARKER]
    return "\n".join(lines) + "\n"


def _arm_cells(change: dict[str, Any]) -> tuple[str, str]:
    """The stage and ``current → desired`` cells: ``production canary`` and ``— → **v4** (10% of callers)``."""
    moved = f"{version_label(change['current'])} → **{version_label(change['desired'])}**"
    arm = change.get("arm", "stable")
    if arm == "stable":
        return change["stage"], moved
    stage = change["stage"].removesuffix(f"-{arm}")
    if change["desired"] is None:
        return f"{stage} {arm}", f"{moved} (removed: {stage}'s version answers every caller)"
    if arm == "canary" and change.get("traffic") is not None:
        return f"{stage} {arm}", f"{moved} ({change['traffic']:.0%} of callers)"
    return f"{stage} {arm}", f"{moved} (scores every request, answers none)"


def publish(plan: dict[str, Any], pr: int | None, head_sha: str | None, github: GitHub) -> dict[str, str]:
    """Upsert the plan comment on ``pr`` and a check run on ``head_sha`` (conclusion from the plan) via ``github``."""
    body = markdown(plan)
    posted: dict[str, str] = {}
    if pr is not None:
        posted["comment-url"] = github.upsert_comment(pr, body, MARKER).url or ""
    if head_sha:
        run = github.create_or_update_check_run(
            name=CHECK_NAME,
            head_sha=head_sha,
            conclusion=Conclusion.SUCCESS if plan["ok"] else Conclusion.FAILURE,
            title=body.splitlines()[0].replace("**", "")[:255],
            summary=body[:65000],
        )
        posted["check-run-url"] = run.url or ""
    return posted

"""Alerts that behave like a good colleague: one GitHub issue per model and stage, and reviews.

:func:`sync_issue` turns a monitoring verdict (``mlgate.monitoring/1``) into at most one open
issue per model and stage:

- no breach, no open issue → nothing (one listing request, no write);
- a breach, no open issue → an issue is opened: the figures of the broken rules, the link to the
  run, the owner assigned (or mentioned), labels ``mlgate``, ``monitoring`` (and ``blocking``);
- a breach, an open issue, the same figures → nothing: no comment, no edit (no noise);
- a breach, an open issue, other figures → one comment saying what got worse, better, new or
  resolved, and the issue's title and stored figures are brought up to date;
- no breach, an open issue → a closing comment ("recovered"), then closed as completed.

The issue is found by a hidden marker in its body (``<!-- mlgate:monitoring model=… stage=… -->``,
like the sticky PR comment's), among the issues labelled ``mlgate``. Its figures are stored in
the body too, as hidden JSON (``<!-- mlgate:figures {…} -->``), so a run needs nothing but GitHub to
know what the last alert said.

:func:`review_issues` opens the post-deployment review issues (``monitoring.reviews``: e.g. 30,
90 and 180 days after a version entered production), each once, ever.

Every write goes through :class:`mlgate.github.GitHub`: retries, and the lost-response rule —
a create whose answer was lost is looked up by its marker before it is retried, so a 502 after
GitHub committed the issue never opens a second one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mlgate.exceptions import InvalidInput

if TYPE_CHECKING:
    from mlgate.github import GitHub, Issue


class IssueAction(StrEnum):
    """What a sync did to an issue (the ``action`` of :func:`sync_issue`, :func:`review_issues`, custody)."""

    NONE = "none"  # no breach and no issue: nothing written
    OPENED = "opened"
    COMMENTED = "commented"  # the figures changed: one comment, title and stored figures updated
    UNCHANGED = "unchanged"  # same figures: nothing written
    CLOSED = "closed"  # recovered: a comment, then closed as completed
    EXISTS = "exists"  # a review issue opened before (open or closed): never again
    NOT_DUE = "not_due"  # a review whose day has not come


@dataclass(frozen=True)
class IssueSync:
    """What a sync did to the one issue it keeps (monitoring or custody): the action, and the issue if any."""

    action: IssueAction
    number: int | None = None
    url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """``{"action", "number", "url"}`` as the monitoring verdict's ``actions.alert`` records it."""
        return {"action": self.action, "number": self.number, "url": self.url}


@dataclass(frozen=True)
class ReviewIssue:
    """One post-deployment review: its day, what was done, and its issue if there is one."""

    day: int
    action: IssueAction
    number: int | None = None
    url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """``{"day", "action", "number", "url"}`` as ``actions.reviews`` lists it."""
        return {"day": self.day, "action": self.action, "number": self.number, "url": self.url}


SCHEMA = "mlgate.monitoring/1"
LABEL = "mlgate"  # every issue mlgate keeps carries it: the listing that finds them is narrowed to it
MONITORING_LABELS = ("mlgate", "monitoring")
BLOCKING_LABEL = "blocking"
REVIEW_LABELS = ("mlgate", "review")
MAX_BODY = 65_000  # GitHub refuses an issue body or comment over 65,536 characters
_FIGURES = re.compile(r"<!-- mlgate:figures (\{.*?\}) -->", re.DOTALL)
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_TEAM = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][\w.-]*")
_BREACH = ("fail", "error")


def monitoring_marker(model: str, stage: str) -> str:
    """The hidden marker of the one monitoring issue of ``model`` in ``stage``."""
    return f"<!-- mlgate:monitoring model={model} stage={stage} -->"


def review_marker(model: str, stage: str, version: int, day: int) -> str:
    """The hidden marker of the ``day``-day review of ``model`` version ``version`` in ``stage``."""
    return f"<!-- mlgate:review model={model} stage={stage} version={int(version)} day={int(day)} -->"


def github_login(owner: str | None) -> str | None:
    """``owner`` as a GitHub login (a leading ``@`` stripped), or None when it cannot be one.

    ``monitoring.owner`` is free text: ``@alice`` and ``alice`` are logins; ``Jane Doe``,
    ``jane.doe`` or ``jane@example.com`` (a space, a dot, an at sign) and ``@org/team`` (teams
    cannot be assigned an issue) are not — they are mentioned in the body instead.
    """
    text = (owner or "").strip()
    text = text.removeprefix("@")
    return text if _LOGIN.fullmatch(text) else None


# ---------------------------------------------------------------------- figures


def _sig2(value: Any) -> float | None:
    """``value`` rounded to 2 significant digits (None when it is no finite number)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(f"{value:.2g}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _broken(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The verdict's rules with status ``fail`` or ``error``, by rule id (``id#2`` for a second result)."""
    out: dict[str, dict[str, Any]] = {}
    for rule in verdict.get("rules") or []:
        if not isinstance(rule, dict) or rule.get("status") not in _BREACH:
            continue
        rid = str(rule.get("rule_id") or f"{rule.get('family', 'monitoring')}:{rule.get('metric', '?')}")
        key, n = rid, 1
        while key in out:  # two results under one id (one per feature): keep both
            n += 1
            key = f"{rid}#{n}"
        out[key] = rule
    return out


def figures(verdict: dict[str, Any]) -> dict[str, Any]:
    """What an alert says, and what decides whether a later run has something new to say.

    The broken rules (status ``fail`` or ``error``) by rule id, with the observed value **rounded
    to 2 significant digits**, the rule's status, and the verdict's version and status. Rounding
    is what keeps an alert quiet: a drift share of 0.4213 today and 0.4187 tomorrow is the same
    drift (both 0.42) — no comment; 0.42 becoming 0.55 is worse drift — one comment. Two digits
    are what a reader compares anyway; finer noise from a new window of rows is not news.
    """
    rules: dict[str, dict[str, Any]] = {}
    for key, rule in _broken(verdict).items():
        rules[key] = {
            "metric": str(rule.get("metric") or ""),
            "observed": _sig2(rule.get("observed")),
            "threshold": _number(rule.get("threshold")),
            "comparison": rule.get("comparison") if rule.get("comparison") in ("min", "max") else None,
            "severity": str(rule.get("severity") or ""),
            "status": rule["status"],
            "blocking": bool(rule.get("blocking")),
        }
    return {"version": verdict.get("version"), "status": verdict.get("status"), "rules": dict(sorted(rules.items()))}


def _signature(fig: dict[str, Any]) -> tuple[Any, ...]:
    """The part of the figures whose change is news: version, status, each rule's observed and status."""
    rules = fig.get("rules") or {}
    return (
        fig.get("version"),
        fig.get("status"),
        sorted((rid, r.get("observed"), r.get("status")) for rid, r in rules.items() if isinstance(r, dict)),
    )


def _stored_json(block: re.Pattern[str], body: str | None) -> Any:
    """The JSON an issue body stores in ``block`` (its first group); None when missing or not JSON (hand-edited)."""
    match = block.search(body or "")
    if not match:
        return None
    try:
        return json.loads(match.group(1))
    except ValueError:
        return None


def _stored_figures(body: str | None) -> dict[str, Any] | None:
    data = _stored_json(_FIGURES, body)
    return data if isinstance(data, dict) else None


def _excess(rule: dict[str, Any]) -> float:
    """How far past its threshold a rule is, relative to the threshold (0 when unknown)."""
    observed, threshold = rule.get("observed"), rule.get("threshold")
    if observed is None or threshold is None:
        return 0.0
    over = observed - threshold if rule.get("comparison") == "max" else threshold - observed
    return over / max(abs(threshold), 1e-12)


def _worst_first(fig: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Broken rules, the worst first: blocking before warnings, failures before errors, then by excess."""
    return sorted(
        (fig.get("rules") or {}).items(),
        key=lambda item: (not item[1]["blocking"], item[1]["status"] != "fail", -_excess(item[1]), item[0]),
    )


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _bound(rule: dict[str, Any]) -> str:
    """The threshold as the condition a passing value meets: ``≤ 0.3`` (max) or ``≥ 0.8`` (min)."""
    sign = {"max": "≤ ", "min": "≥ "}.get(rule.get("comparison") or "", "")
    return f"{sign}{_fmt(rule.get('threshold'))}"


def _headline(rule: dict[str, Any]) -> str:
    """``drifted_share 0.42 > 0.3``, or ``auc could not be evaluated``."""
    if rule["status"] != "fail" or rule.get("observed") is None:
        return f"{rule['metric']} could not be evaluated"
    sign = {"max": ">", "min": "<"}.get(rule.get("comparison") or "", "vs")
    return f"{rule['metric']} {_fmt(rule['observed'])} {sign} {_fmt(rule.get('threshold'))}"


def _title(verdict: dict[str, Any], fig: dict[str, Any]) -> str:
    worst = _worst_first(fig)
    more = f" (+{len(worst) - 1} more)" if len(worst) > 1 else ""
    return f"{verdict['model']}@{verdict['stage']}: monitoring breach — {_headline(worst[0][1])}{more}"


def _cell(text: Any, limit: int = 160) -> str:
    one_line = " ".join(str(text or "").split()).replace("|", "\\|")
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


# ---------------------------------------------------------------------- bodies


def _table(verdict: dict[str, Any], fig: dict[str, Any]) -> list[str]:
    explanations = {key: rule.get("explanation") for key, rule in _broken(verdict).items()}
    lines = [
        "| rule | metric | observed | threshold | severity | status | explanation |",
        "|---|---|---|---|---|---|---|",
    ]
    for rid, rule in _worst_first(fig):
        lines.append(
            f"| `{_cell(rid)}` | {_cell(rule['metric'])} | {_fmt(rule['observed'])} | {_bound(rule)} "
            f"| {_cell(rule['severity'])} | {rule['status']} | {_cell(explanations.get(rid))} |"
        )
    return lines


def _owner_line(owner: str | None) -> str:
    login = github_login(owner)
    text = (owner or "").strip()
    if login:
        return f"Owner: @{login}"
    if not text:
        return "Owner: none named — set `monitoring.owner` in the model spec to a GitHub login to have alerts assigned."
    if _TEAM.fullmatch(text):
        return f"Owner: {text} (a team: a team cannot be assigned an issue, so it is mentioned)."
    return (
        f"Owner: {_cell(text, 100)} — not a GitHub login (a login has no space, dot or at sign), so the issue "
        "is not assigned; set `monitoring.owner` to a login to have it assigned."
    )


def _run_text(verdict: dict[str, Any]) -> str:
    run = verdict.get("monitoring_run_id")
    return f"run `{run}`" if run else f"the run of {verdict.get('evaluated_at', '?')}"


def _issue_body(
    verdict: dict[str, Any],
    fig: dict[str, Any],
    *,
    owner: str | None,
    details_url: str | None,
    report_markdown: str | None,
) -> str:
    model, stage = verdict["model"], verdict["stage"]
    window = verdict.get("window") or {}
    n = len(fig["rules"])
    lines = [
        f"## {model}@{stage}: monitoring breach",
        "",
        (
            f"`mlgate monitor` found {n} monitoring rule{'s' if n != 1 else ''} broken for **{model}** version "
            f"{verdict.get('version')} in **{stage}** — {_run_text(verdict)}, evaluated "
            f"{verdict.get('evaluated_at', '?')}; window {window.get('from', '?')} → {window.get('to', '?')}, "
            f"{verdict.get('rows', '?')} rows."
        ),
        "",
        *_table(verdict, fig),
        "",
    ]
    drifted = [str(f.get("feature")) for f in verdict.get("features") or [] if f.get("drifted")]
    if drifted:
        lines += [f"Drifted features: {', '.join(f'`{_cell(f, 80)}`' for f in drifted)}.", ""]
    retrain = verdict.get("retrain") or {}
    if retrain.get("triggered"):
        lines += [f"Retraining triggered: {_cell(retrain.get('reason'), 300)}.", ""]
    lines.append(_owner_line(owner))
    if details_url:
        lines += ["", f"Details: {details_url}"]
    lines += [
        "",
        (
            "_mlgate keeps this issue: one comment when the figures change, closed when every monitoring rule "
            "passes again. Its body is rewritten on each change; discuss in the comments._"
        ),
        "",
        monitoring_marker(model, stage),
        f"<!-- mlgate:figures {json.dumps(fig, sort_keys=True, separators=(',', ':'))} -->",
    ]
    body = "\n".join(lines)
    if report_markdown:
        room = MAX_BODY - len(body) - 200
        report = report_markdown
        if len(report) > room:
            report = report[: max(room, 0)] + "\n\n… (report cut to fit GitHub's limit on an issue body)"
        body = body.replace(
            "\n\n_mlgate keeps this issue",
            f"\n\n<details><summary>Full report</summary>\n\n{report}\n\n</details>\n\n_mlgate keeps this issue",
            1,
        )
    return body


def _changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """What got worse, better, new or resolved between the stored figures and the new ones."""
    if old is None:
        return ["the figures stored in the issue were missing or unreadable; here are the current ones"]
    out = []
    if old.get("version") != new.get("version"):
        out.append(f"**version** {old.get('version')} → {new.get('version')}")
    if old.get("status") != new.get("status"):
        out.append(f"**verdict** {old.get('status')} → {new.get('status')}")
    before, after = old.get("rules") or {}, new.get("rules") or {}
    for rid, rule in _worst_first(new):
        was = before.get(rid)
        if not isinstance(was, dict):
            out.append(f"**new**: `{rid}` {_headline(rule)} (must be {_bound(rule)})")
        elif was.get("status") != rule["status"]:
            out.append(f"**{was.get('status')} → {rule['status']}**: `{rid}` {_headline(rule)}")
        elif was.get("observed") != rule["observed"]:
            a, b = was.get("observed"), rule["observed"]
            higher_is_worse = rule.get("comparison") != "min"
            word = "changed" if a is None or b is None else ("worse" if (b > a) == higher_is_worse else "better")
            out.append(f"**{word}**: `{rid}` {rule['metric']} {_fmt(a)} → {_fmt(b)} (must be {_bound(rule)})")
    for rid in sorted(set(before) - set(after)):
        out.append(f"**resolved**: `{rid}` passes now")
    return out


def _key(verdict: dict[str, Any], fig: dict[str, Any]) -> str:
    """A key of this run's message: a re-run of the same job finds its comment instead of repeating it."""
    run = verdict.get("monitoring_run_id") or verdict.get("evaluated_at") or ""
    text = json.dumps([str(run), fig], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check(verdict: dict[str, Any]) -> None:
    if not isinstance(verdict, dict) or verdict.get("schema") != SCHEMA:
        got = verdict.get("schema") if isinstance(verdict, dict) else type(verdict).__name__
        raise InvalidInput(f"a monitoring alert needs a {SCHEMA} verdict, got {got!r}")
    for key in ("model", "stage"):
        if not isinstance(verdict.get(key), str) or not verdict[key]:
            raise InvalidInput(f"the monitoring verdict has no {key!r}")
    if not isinstance(verdict.get("rules"), list):
        raise InvalidInput("the monitoring verdict has no 'rules' list")


def _label_names(issue: Issue) -> list[str]:
    return list(issue.labels)


# ---------------------------------------------------------------------- the monitoring issue


def sync_issue(
    client: GitHub,
    verdict: dict[str, Any],
    *,
    owner: str | None,
    details_url: str | None = None,
    report_markdown: str | None = None,
) -> IssueSync:
    """Bring the model's monitoring issue in line with ``verdict``: what was done, to which issue.

    ``action``: ``none`` (no breach, no issue), ``opened``, ``commented`` (the figures changed:
    one comment, the title and stored figures updated), ``unchanged`` (same figures: nothing
    written), ``closed`` (recovered: a comment, then closed as completed). A breach is any rule
    whose status is ``fail`` or ``error``. ``owner`` (``monitoring.owner``) is assigned when it
    is a GitHub login (see :func:`github_login`), mentioned otherwise.

    Never two open issues: the open issue is looked up first, and the create goes through the
    client's lost-response rule with the same lookup.
    """
    _check(verdict)
    model, stage = verdict["model"], verdict["stage"]
    marker = monitoring_marker(model, stage)
    fig = figures(verdict)
    breach = bool(fig["rules"])
    issue = client.find_issue(marker, state="open", labels=(LABEL,))

    if issue is None and not breach:
        return IssueSync(IssueAction.NONE)

    if issue is None:
        labels = [*MONITORING_LABELS] + ([BLOCKING_LABEL] if any(r["blocking"] for r in fig["rules"].values()) else [])
        login = github_login(owner)
        created = client.create_issue(
            _title(verdict, fig),
            _issue_body(verdict, fig, owner=owner, details_url=details_url, report_markdown=report_markdown),
            labels=labels,
            assignees=[login] if login else [],
            lookup=lambda: client.find_issue(marker, state="open", labels=(LABEL,)),
        )
        # Two runs at once (no `concurrency:` group) can both find nothing and both open one: the
        # oldest stays, a younger twin is closed as its duplicate — by whichever run sees it.
        twins = client.find_issues(marker, state="open", labels=(LABEL,))
        kept = twins[0] if twins else created
        for twin in twins[1:]:
            if twin.number == created.number:
                client.close_issue(
                    twin.number,
                    f"Duplicate of #{kept.number}: another mlgate run opened it at the same time.",
                    state_reason="duplicate",
                    marker=f"<!-- mlgate:duplicate of={kept.number} -->",
                )
        return IssueSync(IssueAction.OPENED, kept.number, kept.html_url or None)

    number, url = issue.number, issue.html_url or None
    if not breach:
        window = verdict.get("window") or {}
        text = (
            f"**Recovered**: every monitoring rule passes in {_run_text(verdict)} "
            f"(version {verdict.get('version')}, evaluated {verdict.get('evaluated_at', '?')}; window "
            f"{window.get('from', '?')} → {window.get('to', '?')}, {verdict.get('rows', '?')} rows). "
            "Closed by mlgate; a new breach opens a new issue."
        )
        if details_url:
            text += f"\n\nDetails: {details_url}"
        client.close_issue(
            number,
            text,
            state_reason="completed",
            marker=f"<!-- mlgate:recovered model={model} stage={stage} key={_key(verdict, fig)} -->",
        )
        return IssueSync(IssueAction.CLOSED, number, url)

    old = _stored_figures(issue.body)
    if old is not None and _signature(old) == _signature(fig):
        return IssueSync(IssueAction.UNCHANGED, number, url)

    changes = _changes(old, fig)
    lines = [
        f"### The figures changed — {_run_text(verdict)}, evaluated {verdict.get('evaluated_at', '?')}",
        "",
        *(f"- {c}" for c in changes),
        "",
        *_table(verdict, fig),
    ]
    if details_url:
        lines += ["", f"Details: {details_url}"]
    # the comment first: if the edit fails after it, the next run says it again (rather than never)
    client.comment_on_issue(
        number,
        "\n".join(lines),
        marker=f"<!-- mlgate:update model={model} stage={stage} key={_key(verdict, fig)} -->",
    )
    names = _label_names(issue)
    blocking = any(r["blocking"] for r in fig["rules"].values())
    wanted = [n for n in names if n != BLOCKING_LABEL] + ([BLOCKING_LABEL] if blocking else [])
    fields: dict[str, Any] = {
        "title": _title(verdict, fig),
        "body": _issue_body(verdict, fig, owner=owner, details_url=details_url, report_markdown=report_markdown),
    }
    if wanted != names:
        fields["labels"] = wanted
    client.update_issue(number, **fields)
    return IssueSync(IssueAction.COMMENTED, number, url)


# ---------------------------------------------------------------------- post-deployment reviews


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def review_issues(
    client: GitHub,
    *,
    model: str,
    stage: str,
    version: int,
    promoted_at: datetime,
    days: list[int],
    now: datetime,
    owner: str | None,
) -> list[ReviewIssue]:
    """Open each post-deployment review that is due, once: one :class:`ReviewIssue` per day.

    A review ``d`` is due when ``promoted_at + d days <= now`` (naive datetimes are UTC). It belongs
    to the version that entered the stage (``promoted_at``: its audit record); a new version
    starts its own reviews. Each is found by its marker among *all* issues — open or closed — so
    a review someone closed is never reopened nor opened again. ``action``: ``opened``,
    ``exists`` or ``not_due``. Reviews overdue together (monitoring began late) open together.
    """
    promoted, current = _aware(promoted_at), _aware(now)
    login = github_login(owner)
    out: list[ReviewIssue] = []
    for day in sorted(set(days or [])):
        due = promoted + timedelta(days=day)
        if due > current:
            out.append(ReviewIssue(day, IssueAction.NOT_DUE))
            continue
        marker = review_marker(model, stage, version, day)

        def find(marker: str = marker) -> Issue | None:
            return client.find_issue(marker, state="all", labels=(LABEL,))

        found = find()
        if found is not None:
            out.append(ReviewIssue(day, IssueAction.EXISTS, found.number, found.html_url or None))
            continue
        title = f"{model}@{stage} v{version}: {day}-day post-deployment review"
        body = "\n".join(
            [
                f"## {title}",
                "",
                (
                    f"Version {version} of **{model}** entered **{stage}** on {promoted:%Y-%m-%d %H:%M} UTC; the "
                    f"{day}-day review was due on {due:%Y-%m-%d} (the spec's `monitoring.reviews`)."
                ),
                "",
                "- [ ] the latest `mlgate monitor` verdicts: performance, drift, data quality",
                "- [ ] fairness across the spec's groups still holds on production traffic",
                "- [ ] the model card (intended use, limitations) still describes how the model is used",
                "- [ ] decide: keep, retrain or retire — and write the decision here",
                "",
                _owner_line(owner),
                "",
                "_Close this issue when the review is done. mlgate opens each review once and never reopens it._",
                "",
                marker,
            ]
        )
        created = client.create_issue(
            title, body, labels=list(REVIEW_LABELS), assignees=[login] if login else [], lookup=find
        )
        out.append(ReviewIssue(day, IssueAction.OPENED, created.number, created.html_url or None))
    return out


# ---------------------------------------------------------------------- custody (mlgate status --check --alert)

CUSTODY_MARKER = "<!-- mlgate:custody -->"
CUSTODY_LABELS = ("mlgate", "custody")
_CUSTODY_FIGURES = re.compile(r"<!-- mlgate:custody-figures (\[.*?\]) -->", re.DOTALL)
_CUSTODY_BLOCKING = ("Tampered", "MovedOutOfBand")
_CUSTODY_DETAIL_CHARS = 600  # a stage's detail cell, cut beyond this (160 cut a Tampered stage's file names)


def _custody_figures(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The stages not in sync, as the issue stores and compares them: [model, stage, status, desired, actual]."""
    drift = [r for r in rows if str(r["status"]) != "Synced"]
    return sorted([r["model"], r["stage"], str(r["status"]), r["desired"], r["actual"]] for r in drift)


def _stored_custody_figures(body: str | None) -> list[list[Any] | None] | None:
    """The stages the custody issue's body stores, as :func:`_custody_figures` wrote them; the one reader of them.

    None when the figures block is missing or is not a JSON list (a hand-edited body); within the
    list, None for each entry that is not a row ``[model, stage, status, desired, actual]`` (model,
    stage and status strings, desired and actual a version number or null). The sync compares the
    figures only when every row reads; the site lists the stages of the rows that do.
    """
    data = _stored_json(_CUSTODY_FIGURES, body)
    if not isinstance(data, list):
        return None

    def row(entry: Any) -> list[Any] | None:
        if not isinstance(entry, list) or len(entry) != 5:
            return None
        names_ok = all(isinstance(v, str) for v in entry[:3])
        versions_ok = all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in entry[3:])
        return entry if names_ok and versions_ok else None

    return [row(entry) for entry in data]


def _custody_body(rows: list[dict[str, Any]], figures_: list[list[Any]], details_url: str | None) -> str:
    details = {(r["model"], r["stage"]): r.get("detail") or "" for r in rows}
    lines = [
        CUSTODY_MARKER,
        "What the registry holds differs from what `release.yaml` asks for (`mlgate status --check`):",
        "",
        "| model | stage | status | release.yaml | alias | detail |",
        "|---|---|---|---|---|---|",
    ]
    for model, stage, state, desired, actual in figures_:
        shown = [f"v{v}" if v is not None else "—" for v in (desired, actual)]
        # a Tampered stage's detail holds two sha256 digests before the files that differ: room for those
        detail = _cell(details[(model, stage)], _CUSTODY_DETAIL_CHARS)
        lines.append(f"| {model} | {stage} | **{state}** | {shown[0]} | {shown[1]} | {detail} |")
    lines += [
        "",
        (
            "- **Tampered**: the version's files in the artifact store differ from the digest release.yaml pins — "
            "score and serve refuse them; restore the files from a backup, or promote another version."
        ),
        (
            "- **MovedOutOfBand**: the alias was moved outside a merged promotion — `mlgate promote --apply` on the "
            "default branch puts it back; find who moved it in the registry's logs."
        ),
        "- **OutOfSync** / **Missing**: a merged change is not applied yet, or names a version the registry lacks.",
    ]
    if details_url:
        lines += ["", f"Details: {details_url}"]
    lines += ["", f"<!-- mlgate:custody-figures {json.dumps(figures_, separators=(',', ':'))} -->"]
    return "\n".join(lines)[:MAX_BODY]


def sync_custody_issue(client: GitHub, rows: list[dict[str, Any]], *, details_url: str | None = None) -> IssueSync:
    """One open issue while any stage is not in sync (``mlgate status`` rows): what was done, to which issue.

    The same lifecycle as :func:`sync_issue`: opened on drift, a comment only when the stages or
    their states change (``unchanged`` otherwise: no noise), closed as completed once every stage
    is Synced again. Labelled ``mlgate``, ``custody`` and, for a tampered or moved stage, ``blocking``.
    """
    figures_ = _custody_figures(rows)
    issue = client.find_issue(CUSTODY_MARKER, state="open", labels=(LABEL,))
    if issue is None and not figures_:
        return IssueSync(IssueAction.NONE)
    blocking = any(f[2] in _CUSTODY_BLOCKING for f in figures_)
    title = f"mlgate custody: {len(figures_)} stage(s) differ from release.yaml"
    if issue is None:
        created = client.create_issue(
            title,
            _custody_body(rows, figures_, details_url),
            labels=[*CUSTODY_LABELS] + ([BLOCKING_LABEL] if blocking else []),
            assignees=[],
            lookup=lambda: client.find_issue(CUSTODY_MARKER, state="open", labels=(LABEL,)),
        )
        return IssueSync(IssueAction.OPENED, created.number, created.html_url or None)
    number, url = issue.number, issue.html_url or None
    key = hashlib.sha256(json.dumps(figures_).encode()).hexdigest()[:12]
    if not figures_:
        client.close_issue(
            number,
            "**In sync again**: every stage's alias and files match release.yaml. Closed by mlgate.",
            state_reason="completed",
            marker=f"<!-- mlgate:custody-recovered key={key} -->",
        )
        return IssueSync(IssueAction.CLOSED, number, url)
    stored = _stored_custody_figures(issue.body)
    readable = stored is not None and None not in stored
    if readable and stored == figures_:
        return IssueSync(IssueAction.UNCHANGED, number, url)
    now = ", ".join(f"{m} {s}: {state}" for m, s, state, _d, _a in figures_)
    if readable:
        client.comment_on_issue(
            number, f"### The stages changed\n\nNow: {now}", marker=f"<!-- mlgate:custody-update key={key} -->"
        )
    else:  # a hand-edited body: nothing to compare with, so the current figures are posted and stored again
        client.comment_on_issue(
            number,
            (
                "### The stored figures were unreadable\n\nThe `mlgate:custody-figures` block of this issue's body is "
                "missing or not mlgate's (was the body edited by hand?), so this check could not be compared with "
                f"the last one; the body is written again from this check.\n\nNow: {now}"
            ),
            marker=f"<!-- mlgate:custody-unreadable key={key} -->",
        )
    names = _label_names(issue)
    wanted = [n for n in names if n != BLOCKING_LABEL] + ([BLOCKING_LABEL] if blocking else [])
    fields: dict[str, Any] = {"title": title, "body": _custody_body(rows, figures_, details_url)}
    if wanted != names:
        fields["labels"] = wanted
    client.update_issue(number, **fields)
    return IssueSync(IssueAction.COMMENTED, number, url)


# ---------------------------------------------------------------------- open alerts (mlgate site)

_MONITORING_MARKER = re.compile(r"<!-- mlgate:monitoring model=(\S+) stage=(\S+) -->")


@dataclass(frozen=True)
class OpenAlert:
    """An open issue mlgate keeps about a model: a monitoring alert (one stage) or the custody issue."""

    model: str
    stage: str
    kind: str  # monitoring | custody
    number: int
    title: str
    url: str


def open_alerts(client: GitHub) -> list[OpenAlert]:
    """Every open monitoring and custody issue mlgate keeps, per model and stage: one listing of the ``mlgate`` label.

    A monitoring issue names its model and stage in its marker; the custody issue names each stage
    it is about in its stored figures. Issues another identity opened are not mlgate's (:meth:`GitHub.is_own`).
    """
    found: list[OpenAlert] = []
    for issue in client.find_issues("<!-- mlgate:", state="open", labels=(LABEL,)):
        match = _MONITORING_MARKER.search(issue.body)
        if match:
            found.append(OpenAlert(match[1], match[2], "monitoring", issue.number, issue.title, issue.html_url))
            continue
        if CUSTODY_MARKER not in issue.body:
            continue
        for row in _stored_custody_figures(issue.body) or []:  # unreadable figures name no stage: none listed
            if row is not None:
                found.append(OpenAlert(row[0], row[1], "custody", issue.number, issue.title, issue.html_url))
    return found

"""Render a comparison verdict (``mlgate.compare/1``): the candidate arm against the stable one.

The same figures three ways: :func:`compare_table` (the Markdown table of checks the pull request
and the issue carry), :func:`render_compare_markdown` (a whole report: state, arms, reasons,
checks and a Mermaid bar chart of the two score distributions) and :func:`render_compare_html`
(a standalone page, inline CSS and SVG, no script, no network fetch).
"""

from __future__ import annotations

import html
from typing import Any

from mlgate.exceptions import mask_secrets

SCHEMA = "mlgate.compare/1"
STATE_ICONS = {"promote": "✅", "hold": "⏸️", "abort": "❌", "pending": "⏳"}
STATUS_ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "❔", "skipped": "⏭️"}
STATE_WORDS = {
    "promote": "promote: the candidate holds against the stable version",
    "hold": "hold: keep the candidate running, the evidence is not conclusive yet",
    "abort": "abort: the candidate does significant harm against the stable version",
    "pending": "pending: too little traffic to judge",
}
STABLE_COLOUR = "#4c78a8"
CANDIDATE_COLOUR = "#f58518"


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _cell(text: Any, limit: int = 300) -> str:
    one = " ".join(str(text or "").split()).replace("|", "\\|")
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _arm_name(verdict: dict[str, Any]) -> str:
    return str(verdict.get("kind") or "candidate")


def title(verdict: dict[str, Any]) -> str:
    """``credit@production canary v4 vs v3: promote``."""
    stable, candidate = verdict["stable"], verdict["candidate"]
    return (
        f"{verdict['model']}@{verdict['stage']} {_arm_name(verdict)} v{candidate['version']} "
        f"vs v{stable['version']}: {verdict['state']}"
    )


def compare_table(verdict: dict[str, Any]) -> str:
    """The checks as a Markdown table: name, stable, candidate, statistic, p-value, threshold, status."""
    arm = _arm_name(verdict)
    lines = [
        (
            f"| check | stable v{verdict['stable']['version']} | {arm} v{verdict['candidate']['version']} "
            "| change | statistic | p-value | threshold | status |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for check in verdict.get("checks") or []:
        icon = STATUS_ICONS.get(str(check["status"]), "")
        lines.append(
            f"| `{_cell(check['name'], 80)}` | {_num(check['stable'])} | {_num(check['candidate'])} "
            f"| {_num(check.get('change'))} | {_num(check['statistic'])} | {_num(check['p_value'], 3)} "
            f"| {_num(check['threshold'])} | {icon} {check['status']} |"
        )
    if not verdict.get("checks"):
        lines.append("| — | | | | | | | nothing judged: too little traffic |")
    return "\n".join(lines)


def _arms(verdict: dict[str, Any]) -> list[str]:
    stable, candidate = verdict["stable"], verdict["candidate"]
    settings = verdict.get("settings") or {}
    traffic = candidate.get("traffic")
    share = f", {traffic:.0%} of the traffic" if isinstance(traffic, float) and traffic > 0 else ""
    needed = verdict.get("needed") or {}
    duration = verdict.get("duration") or {}
    started = duration.get("started_at") or "not on record"
    return [
        "| arm | alias | version | rows in the window | labelled | still needed |",
        "|---|---|---|---|---|---|",
        (
            f"| stable | `{stable['alias']}` | v{stable['version']} | {_num(stable['rows'])} "
            f"| {_num(stable.get('labelled'))} | {_num(needed.get(stable['alias'], 0))} |"
        ),
        (
            f"| {_arm_name(verdict)}{share} | `{candidate['alias']}` | v{candidate['version']} "
            f"| {_num(candidate['rows'])} | {_num(candidate.get('labelled'))} "
            f"| {_num(needed.get(candidate['alias'], 0))} |"
        ),
        "",
        (
            f"Window {verdict['window']['from']} → {verdict['window']['to']}; minimum sample "
            f"{_num(settings.get('min_samples'))} rows per arm, alpha {_num(settings.get('alpha'))}; the "
            f"{_arm_name(verdict)} started {started} (min_duration {settings.get('min_duration', '—')})."
        ),
    ]


def _mermaid(verdict: dict[str, Any]) -> list[str]:
    charts = verdict.get("histograms")
    if not charts:
        return []
    edges = charts["edges"]
    labels = ", ".join(f'"{edges[i]:.2f}"' for i in range(len(edges) - 1))
    top = max([*charts["stable"], *charts["candidate"], 0.01])
    return [
        "```mermaid",
        "xychart-beta",
        '    title "Score distribution per arm (share of rows per bin)"',
        f"    x-axis [{labels}]",
        f'    y-axis "share of rows" 0 --> {top * 1.1:.3f}',
        f"    bar [{', '.join(f'{v:.4f}' for v in charts['stable'])}]",
        f"    line [{', '.join(f'{v:.4f}' for v in charts['candidate'])}]",
        "```",
        f"Bars: stable v{verdict['stable']['version']}; line: {_arm_name(verdict)} v{verdict['candidate']['version']}.",
    ]


def render_compare_markdown(verdict: dict[str, Any]) -> str:
    """The comparison as Markdown (what a pull request, an issue or a job summary shows)."""
    state = str(verdict["state"])
    lines = [
        f"## {STATE_ICONS.get(state, '')} {title(verdict)}",
        "",
        f"**{STATE_WORDS.get(state, state)}**",
        "",
        *(f"- {_cell(r, 500)}" for r in verdict.get("reasons") or []),
        "",
        *_arms(verdict),
        "",
        compare_table(verdict),
        "",
    ]
    explained = [c for c in verdict.get("checks") or [] if c.get("explanation")]
    if explained:
        lines += ["<details><summary>What each check found</summary>", ""]
        lines += [f"- `{c['name']}` ({c.get('test') or 'check'}): {_cell(c['explanation'], 500)}" for c in explained]
        lines += ["", "</details>", ""]
    lines += _mermaid(verdict)
    run = verdict.get("compare_run_id")
    if run:
        lines += [
            "",
            f"Recorded as run `{run}` of the mlgate-monitoring experiment, evaluated {verdict['evaluated_at']}.",
        ]
    return mask_secrets("\n".join(lines).rstrip() + "\n")


def svg_distributions(verdict: dict[str, Any]) -> str:
    """The two arms' score distributions as inline SVG: one bar pair per bin, shares of each arm's rows."""
    charts = verdict.get("histograms")
    if not charts:
        return ""
    edges, stable, candidate = charts["edges"], charts["stable"], charts["candidate"]
    left, plot_w, plot_h, top = 56, 520, 180, 40
    width, height = left + plot_w + 20, top + plot_h + 44
    n = len(stable)
    high = max([*stable, *candidate, 0.01]) * 1.1
    slot = plot_w / n
    bar = slot * 0.4

    def y(value: float) -> float:
        return top + plot_h * (1 - value / high)

    arm = html.escape(f"{_arm_name(verdict)} v{verdict['candidate']['version']}")
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="distributions" role="img" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" aria-label="Score distribution per arm">'
        ),
        '<text x="0" y="14" font-weight="bold" font-size="13">Score distribution per arm</text>',
        f'<rect x="{left}" y="22" width="12" height="10" fill="{STABLE_COLOUR}"/>',
        f'<text x="{left + 16}" y="31" font-size="11">stable v{verdict["stable"]["version"]}</text>',
        f'<rect x="{left + 110}" y="22" width="12" height="10" fill="{CANDIDATE_COLOUR}"/>',
        f'<text x="{left + 126}" y="31" font-size="11">{arm}</text>',
    ]
    for k in range(5):
        value = high * k / 4
        parts += [
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}" stroke="#eaeef2"/>',
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="10">{value:.2f}</text>',
        ]
    for i in range(n):
        x0 = left + slot * i + slot * 0.1
        for j, (values, colour, name) in enumerate(
            ((stable, STABLE_COLOUR, "stable"), (candidate, CANDIDATE_COLOUR, _arm_name(verdict)))
        ):
            value = values[i]
            tip = html.escape(f"{name}: {value:.1%} of rows in [{edges[i]:.3g}, {edges[i + 1]:.3g})")
            parts.append(
                f'<rect class="bar {"stable" if j == 0 else "candidate"}" x="{x0 + bar * j:.1f}" y="{y(value):.1f}" '
                f'width="{bar:.1f}" height="{top + plot_h - y(value):.1f}" fill="{colour}"><title>{tip}</title></rect>'
            )
        if i % max(1, n // 5) == 0 or i == n - 1:
            parts.append(
                f'<text x="{left + slot * i:.1f}" y="{top + plot_h + 14}" font-size="10">{edges[i]:.2f}</text>'
            )
    parts += [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#8c959f"/>',
        (
            f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle" font-size="11">'
            "score (positive-class probability)</text>"
        ),
        "</svg>",
    ]
    return "".join(parts)


def render_compare_html(verdict: dict[str, Any]) -> str:
    """One standalone HTML page: the state, the arms, the checks and the score distributions (SVG)."""
    state = str(verdict["state"])
    e = html.escape
    rows = []
    for check in verdict.get("checks") or []:
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{e(v)}</td>"
                for v in (
                    check["name"],
                    _num(check["stable"]),
                    _num(check["candidate"]),
                    _num(check.get("change")),
                    _num(check["statistic"]),
                    _num(check["p_value"], 3),
                    _num(check["threshold"]),
                )
            )
            + f'<td class="{e(str(check["status"]))}">{e(STATUS_ICONS.get(str(check["status"]), ""))} '
            f"{e(str(check['status']))}</td><td>{e(check.get('explanation') or '')}</td></tr>"
        )
    stable, candidate = verdict["stable"], verdict["candidate"]
    reasons = "".join(f"<li>{e(r)}</li>" for r in verdict.get("reasons") or [])
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title(verdict))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #1f2328; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }}
td.fail {{ background: #ffebe9; }} td.pass {{ background: #dafbe1; }} td.inconclusive {{ background: #fff8c5; }}
</style></head><body>
<h1>{e(STATE_ICONS.get(state, ""))} {e(title(verdict))}</h1>
<p><strong>{e(STATE_WORDS.get(state, state))}</strong></p>
<ul>{reasons}</ul>
<table><tr><th>arm</th><th>alias</th><th>version</th><th>rows</th><th>labelled</th></tr>
<tr><td>stable</td><td>{e(stable["alias"])}</td><td>v{stable["version"]}</td><td>{_num(stable["rows"])}</td>
<td>{_num(stable.get("labelled"))}</td></tr>
<tr><td>{e(_arm_name(verdict))}</td><td>{e(candidate["alias"])}</td><td>v{candidate["version"]}</td>
<td>{_num(candidate["rows"])}</td><td>{_num(candidate.get("labelled"))}</td></tr></table>
<p>Window {e(verdict["window"]["from"])} → {e(verdict["window"]["to"])}.</p>
<table><tr><th>check</th><th>stable</th><th>{e(_arm_name(verdict))}</th><th>change</th><th>statistic</th>
<th>p-value</th><th>threshold</th><th>status</th><th>explanation</th></tr>
{"".join(rows)}</table>
{svg_distributions(verdict)}
</body></html>
"""
    return mask_secrets(page)

"""Render a gate verdict (plus the spec and registry metadata) as Markdown, HTML or a summary.

Reports are rendered from the verdict JSON only — never by re-running a gate — so a report can
be re-rendered later, elsewhere. Templates are jinja2 files in ``mlgate/resources/templates``;
a governed repo may override any of them by placing a file of the same name in
``.mlgate/templates/``.

GitHub refuses comments over 65,536 characters. When the Markdown is longer, whole sections
are cut from the least important up (``CUT_ORDER``) and the report says which, pointing to the
HTML artifact; the status line and the gate table always stay (the table itself drops passed
rules last of all).
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.config import LOWER_IS_BETTER, ModelSpec, Workspace, load_model_spec, spec_path
from mlgate.exceptions import InvalidInput, mask_secrets
from mlgate.gates import READABLE, SCHEMA, RuleStatus, Status
from mlgate.registry import tracking_uri as default_uri
from mlgate.report._checks import Published, publish

COMMENT_LIMIT = 65_536
SUMMARY_LIMIT = 1024 * 1024
OVERRIDE_DIR = ".mlgate/templates"
MAX_BARS = 12
TOP_DRIFT = 10
MAX_MD_CLASSES = 12  # a bigger confusion matrix is unreadable in a comment: the HTML report has it
MAX_MD_FEATURES = 5  # feature importance in the comment: one line naming the top ones
# Least important first: the first section here is the first to go when a comment is too long.
CUT_ORDER = ("model_card", "drift", "importance", "classification", "fairness", "lineage", "params", "champion")
STATUS = {
    Status.PASS: ("✅", "passed"),
    Status.WARN: ("⚠️", "passed with warnings"),
    Status.FAIL: ("❌", "blocked"),
}
RULE_ICONS = {RuleStatus.PASS: "✅", RuleStatus.FAIL: "❌", RuleStatus.ERROR: "💥", RuleStatus.SKIPPED: "⏭️"}


def marker(model: str) -> str:
    """The hidden line a sticky PR comment is found by."""
    return f"<!-- mlgate:report model={model} -->"


# ----------------------------------------------------------------------------- escaping


def md_cell(value: Any) -> str:
    """User text made safe inside a Markdown table cell (and inert as HTML)."""
    text = " ".join(str(value if value is not None else "").split())
    text = html.escape(text, quote=False)
    return text.replace("|", "\\|").replace("`", "\\`")


def md_text(value: Any) -> str:
    """User text made inert outside tables: no raw HTML, no code spans breaking out."""
    text = html.escape(str(value if value is not None else "").strip(), quote=False)
    return text.replace("`", "\\`")


def mermaid_label(value: Any) -> str:
    """A label inside a Mermaid string: no quotes or brackets that end it early."""
    return re.sub(r"[\"\[\]`<>{}]", "", str(value))[:40]


def fmt(value: Any, digits: int = 4) -> str:
    """A value for a report cell: ``—`` for None, ints grouped, floats to ``digits`` digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def param_value(value: Any) -> str:
    """A params.yaml value as ``dvc params diff`` prints it: strings bare, the rest as JSON."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


def soft_breaks(value: Any) -> Any:
    """Escaped text with a line-break opportunity after each ``.``, ``_`` and ``:`` (HTML ``<wbr>``).

    Metric names like ``model_card.ethical_considerations`` have no spaces: in a table they would
    set the column's minimum width; with these they wrap at their own separators, never mid-word.
    """
    from markupsafe import Markup

    return Markup(re.sub(r"([._:])", r"\1<wbr>", html.escape(str(value if value is not None else ""))))


# ----------------------------------------------------------------------------- context


@dataclass
class ReportInput:
    """Everything a report is made from."""

    verdict: dict[str, Any]
    spec: ModelSpec
    metadata: dict[str, Any] = field(default_factory=dict)  # registry: run_url, tracking_uri, tags
    html_artifact: str = "the HTML report artifact of this run"


def headline(verdict: dict[str, Any]) -> str:
    """The report's first line: status, rule counts, model version and run."""
    counts = verdict["counts"]
    icon, word = STATUS[verdict["status"]]
    failed_block = counts["blocking"]
    parts = [f"{counts['pass']} passed"]
    if failed_block:
        parts.append(f"{failed_block} failed (block)")
    parts.append(f"{counts['warnings']} warning{'s' if counts['warnings'] != 1 else ''}")
    parts.append(f"{counts['skipped']} skipped")
    return f"{icon} **{word}** — {', '.join(parts)} · model `{verdict['model']}` {subject(verdict)}"


def subject(verdict: dict[str, Any]) -> str:
    """What was judged, in Markdown: ``v3 · run `abc…``` or the predictions file and its md5."""
    predictions = verdict.get("predictions")
    if verdict.get("subject") == "predictions" and isinstance(predictions, dict):
        return f"predictions `{md_cell(predictions.get('path'))}` (md5 `{str(predictions.get('md5'))[:12]}`)"
    return f"v{verdict['version']} · run `{str(verdict['run_id'])[:12]}`"


def decision_rule(verdict: dict[str, Any]) -> str:
    """How a predictions file's decisions were made (plain text), or ``""`` for a model version."""
    p = verdict.get("predictions")
    if verdict.get("subject") != "predictions" or not isinstance(p, dict):
        return ""
    selected = p.get("positive_label")
    if p.get("score_column"):
        return f"decision: {p['score_column']} >= {p.get('threshold')} selects {selected!r}"
    return f"decision: {p.get('prediction_column')} as given; {selected!r} counts as selected"


def _decision_part(block: Any, key: str) -> str:
    value = block.get(key) if isinstance(block, dict) else None
    if key == "threshold":
        return "none (the most probable class)" if value is None else fmt(value)
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return "none"


def decision_change(verdict: dict[str, Any]) -> str:
    """The PR's change of the spec's ``decision:`` (plain text), or ``""`` when it changes none.

    ``threshold 0.5 → 0.2 (review band [0.4, 0.6] → none)``: from the verdict's ``judging.decision``.
    """
    change = (verdict.get("judging") or {}).get("decision")
    if not isinstance(change, dict):
        return ""
    old, new = change.get("base"), change.get("head")
    threshold = f"threshold {_decision_part(old, 'threshold')} → {_decision_part(new, 'threshold')}"
    band_old, band_new = _decision_part(old, "review_band"), _decision_part(new, "review_band")
    band = f"review band {band_old} → {band_new}" if band_old != band_new else f"review band {band_old}, unchanged"
    return f"{threshold} ({band})"


def comparison_rows(metrics: dict[str, float], other: dict[str, float]) -> list[dict[str, Any]]:
    """One row per metric of the challenger and another model: values, delta, whether it got better."""
    rows = []
    for metric, new in sorted(metrics.items()):
        old = other.get(metric)
        if old is None or new is None:
            continue
        delta = new - old
        better = (delta < 0) if metric in LOWER_IS_BETTER else (delta > 0)
        arrow = "➖" if abs(delta) < 1e-12 else ("🔼" if better else "🔽")
        rows.append(
            {"metric": metric, "challenger": new, "champion": old, "delta": delta, "arrow": arrow, "better": better}
        )
    return rows


def champion_rows(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """Challenger against the champion, metric by metric (empty without a compared champion)."""
    champion = verdict.get("champion")
    return comparison_rows(verdict["metrics"], champion["metrics"]) if champion else []


def base_model(verdict: dict[str, Any]) -> dict[str, Any]:
    """The base branch's model compared when there is no champion: its version, rows, or why not."""
    found = dict((verdict.get("evidence") or {}).get("base_model") or {})
    if found.get("metrics"):
        found["rows"] = comparison_rows(verdict["metrics"], found["metrics"])
    return found


def confusion_rows(classification: dict[str, Any]) -> list[dict[str, Any]]:
    """The confusion matrix by actual class: counts, and each count's share of its row (for shading)."""
    confusion = classification.get("confusion") or {}
    rows = []
    for label, counts in zip(confusion.get("labels", []), confusion.get("matrix", []), strict=True):
        total = sum(counts) or 1
        rows.append({"label": label, "cells": [{"count": c, "share": c / total} for c in counts], "total": sum(counts)})
    return rows


def gate_rows(rules: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rules a reviewer must read first (blocking, then warnings, then skipped) and those that passed."""

    def rank(rule: dict[str, Any]) -> int:
        failed = rule["status"] in (RuleStatus.FAIL, RuleStatus.ERROR)
        if failed:
            return (0 if rule["status"] == RuleStatus.FAIL else 1) if rule.get("blocking") else 2
        return 3

    attention = sorted((r for r in rules if r["status"] != RuleStatus.PASS), key=rank)
    return {"attention": attention, "passed": [r for r in rules if r["status"] == RuleStatus.PASS]}


def fairness_tables(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """Per sensitive feature: the group table (first rule that computed it wins)."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for rule in verdict["rules"]:
        if rule["family"] == "fairness":
            for feature, rows in (rule.get("details") or {}).get("groups", {}).items():
                seen.setdefault(feature, rows)
    overall: dict[str, Any] | None = None
    selected: Any = None
    for rule in verdict["rules"]:
        details = (rule.get("details") or {}) if rule["family"] == "fairness" else {}
        if overall is None and details.get("overall"):
            overall, selected = details["overall"], details.get("positive_label")
    tables = []
    for feature, rows in seen.items():
        kept = [r for r in rows if not r.get("excluded")]
        bars = sorted(kept, key=lambda r: -(r.get("selection_rate") or 0))[:MAX_BARS]
        # overall rates (every row) next to the group rates, and the class counted as selected
        tables.append({"feature": feature, "rows": rows, "bars": bars, "overall": overall, "selected": selected})
    return tables


def drift_features(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-feature drift table of the first drift rule that has one, most drifted first."""
    for rule in verdict["rules"]:
        if rule["family"] == "drift" and (rule.get("details") or {}).get("features"):
            features = rule["details"]["features"]
            return sorted(features, key=lambda f: -(f.get("psi") or 0))
    return []


def context(data: ReportInput) -> dict[str, Any]:
    """The variables the report templates render."""
    verdict, spec = data.verdict, data.spec
    rules = verdict["rules"]
    drift = drift_features(verdict)
    evidence = verdict.get("evidence") or {}  # absent from mlgate.verdict/1 files
    classification = evidence.get("classification") or {}
    importance = evidence.get("importance") or {}
    explanation = evidence.get("explanation") or {}  # the global explanation (mlgate.gates._reasons)
    return {
        "v": verdict,
        "spec": spec,
        "meta": data.metadata,
        "marker": marker(verdict["model"]),
        "headline": headline(verdict),
        "subject": subject(verdict),
        "decision_rule": decision_rule(verdict),
        "decision_change": decision_change(verdict),
        "rules": rules,
        "champion_rows": champion_rows(verdict),
        "base_model": base_model(verdict),
        "params": evidence.get("params") or {},
        "classification": classification,
        "confusion": confusion_rows(classification),
        "importance": importance,
        "importance_top": (importance.get("features") or [])[:MAX_MD_FEATURES],
        "explanation": explanation,
        "explanation_top": (explanation.get("features") or [])[:MAX_MD_FEATURES],
        "max_md_classes": MAX_MD_CLASSES,
        "gates": gate_rows(rules),
        "fairness": fairness_tables(verdict),
        "drift": drift,
        "drift_top": drift[:TOP_DRIFT],
        "drift_bars": drift[:MAX_BARS],
        "html_artifact": data.html_artifact,
        "icons": RULE_ICONS,
        "status_icon": STATUS[verdict["status"]][0],
        "status_word": STATUS[verdict["status"]][1],
    }


# ----------------------------------------------------------------------------- rendering


def environment(root: Path | None, *, autoescape: bool) -> Any:
    """The jinja2 environment for ``root``'s templates (overrides first), kept for the process.

    Kept so the comment and the step summary share one compiled ``report.md.j2``; jinja2 checks
    a kept template's file for changes before reusing it, and a file added to or removed from the
    override folder gives a new environment.
    """
    override = root / OVERRIDE_DIR if root is not None else None
    if override is None or not override.is_dir():
        return _environment(None, (), autoescape)
    return _environment(override, tuple(sorted(p.name for p in override.iterdir())), autoescape)


EVALUATION_ROLES = ("path", "holdout", "predictions")
"""Data roles whose rows the gates score (a split file's holdout, a holdout file, a predictions file):
what "Evaluation data" lists; a train/holdout layout's training file and the drift inputs are not."""


@functools.lru_cache(maxsize=16)
def _environment(override: Path | None, _files: tuple[str, ...], autoescape: bool) -> Any:
    import jinja2

    loaders: list[Any] = []
    if override is not None:
        loaders.append(jinja2.FileSystemLoader(str(override)))
    loaders.append(jinja2.PackageLoader("mlgate", "resources/templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters |= {
        "cell": md_cell,
        "text": md_text,
        "label": mermaid_label,
        "fmt": fmt,
        "param": param_value,
        "soft_breaks": soft_breaks,
    }
    env.globals["svg_bars"] = svg_bars
    env.globals["EVALUATION_ROLES"] = EVALUATION_ROLES
    env.globals["svg_curve"] = svg_curve
    return env


@dataclass
class Rendered:
    """A rendered report, the sections cut to fit and the rule rows dropped."""

    text: str
    cut: list[str]
    rows_dropped: int = 0


def render_markdown(
    data: ReportInput, root: Path | None = None, *, limit: int = COMMENT_LIMIT, with_marker: bool = True
) -> Rendered:
    """Markdown for a PR comment, cut section by section until it fits ``limit`` characters."""
    template = environment(root, autoescape=False).get_template("report.md.j2")
    base = context(data)
    include = list(CUT_ORDER)
    cut: list[str] = []
    rules = list(base["rules"])
    dropped = 0
    while True:
        text = mask_secrets(  # a run link or tracking URI in the metadata never shows its password
            template.render(
                **base | {"rules": rules}, include=include, cut=cut, rows_dropped=dropped, with_marker=with_marker
            )
        )
        if len(text) <= limit:
            return Rendered(text=text, cut=cut, rows_dropped=dropped)
        if include:
            cut.append(include.pop(0))
            continue
        # every optional section is gone: drop passed rules from the table's end (enough of
        # them at once to cover the excess, estimated from the average row), then any rule
        if not rules:
            return Rendered(text=text[:limit], cut=cut, rows_dropped=dropped)
        per_row = max(1, len(text) // (len(rules) + 10))
        for _ in range(min(len(rules), (len(text) - limit) // per_row + 1)):
            passed = [i for i, r in enumerate(rules) if r["status"] == RuleStatus.PASS]
            rules.pop(passed[-1] if passed else len(rules) - 1)
            dropped += 1


def render_html(data: ReportInput, root: Path | None = None) -> str:
    """One self-contained HTML file: inline CSS and SVG, no network fetches."""
    template = environment(root, autoescape=True).get_template("report.html.j2")
    return mask_secrets(template.render(**context(data)))


def render_card_html(
    spec: ModelSpec,
    verdict: dict[str, Any] | None,
    *,
    model: str,
    version: int,
    commit: str,
    basis: str,
    which: str = "the verdict",
    root: Path | None = None,
) -> str:
    """One version's model card as a self-contained HTML page: inline CSS and SVG, no script, no network fetch.

    The gate report's own card and feature-importance sections (``model_card.html.j2``,
    ``importance.html.j2``) under a heading that says where the card was read (``commit``:
    ``basis``), and ``verdict``'s documentation rules (``which`` names the verdict); ``verdict``
    None for a version without one. Rendered from its arguments only: the same ones, the same bytes.
    """
    evidence = (verdict or {}).get("evidence") or {}
    template = environment(root, autoescape=True).get_template("model_card_page.html.j2")
    return mask_secrets(
        template.render(
            model=model,
            version=version,
            spec=spec,
            spec_file=f"models/{model}/model.yaml",
            commit=commit,
            basis=basis,
            which=which,
            v=verdict,
            decision_rule=decision_rule(verdict) if verdict is not None else "",
            explanation=evidence.get("explanation") or {},
            importance=evidence.get("importance") or {},
            documentation=[r for r in (verdict or {}).get("rules") or [] if r.get("family") == "documentation"],
            status_word=STATUS[verdict["status"]][1] if verdict is not None and verdict.get("status") in STATUS else "",
        )
    )


def render_summary(data: ReportInput, root: Path | None = None) -> Rendered:
    """Markdown for ``$GITHUB_STEP_SUMMARY`` (GitHub's limit there is 1 MiB)."""
    return render_markdown(data, root, limit=SUMMARY_LIMIT // 4, with_marker=False)


# ----------------------------------------------------------------------------- SVG charts


def svg_bars(
    title: str,
    labels: list[Any],
    values: list[float | None],
    *,
    max_value: float | None = None,
    threshold: float | None = None,
    limit: int = MAX_BARS,
) -> Any:
    """A horizontal bar chart as inline SVG (escaped labels; no scripts, no external refs)."""
    from markupsafe import Markup

    pairs = [(str(label), float(v)) for label, v in zip(labels, values, strict=True) if v is not None][:limit]
    top = max_value if max_value is not None else max([v for _, v in pairs] + [1e-12])
    row, label_w, bar_w = 22, 180, 360
    height = 30 + row * len(pairs) + 10
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + bar_w + 80}" '
            f'height="{height}" aria-label="{html.escape(title)}">'
        ),
        f'<text x="0" y="16" font-weight="bold" font-size="13">{html.escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(pairs):
        y = 30 + i * row
        width = 0 if top <= 0 else max(1.0, bar_w * value / top)
        parts += [
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">{html.escape(label[:28])}</text>',
            f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row - 6}" fill="#4c78a8"/>',
            f'<text x="{label_w + width + 4:.1f}" y="{y + 14}" font-size="12">{value:.3g}</text>',
        ]
    if threshold is not None and top > 0:
        x = label_w + bar_w * min(threshold / top, 1.0)
        parts.append(
            f'<line x1="{x:.1f}" y1="26" x2="{x:.1f}" y2="{height - 6}" stroke="#d62728" stroke-dasharray="4 3"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def svg_curve(
    title: str,
    xs: list[float],
    ys: list[float],
    *,
    x_label: str,
    y_label: str,
    reference: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> Any:
    """A curve on the unit square as inline SVG: axes at 0, 0.5 and 1, an optional dashed reference line.

    For ROC (reference: the diagonal of a random ranking) and precision-recall (reference: the
    prevalence); the points come downsampled from the verdict, so the path stays small.
    """
    from markupsafe import Markup

    left, top, size = 44, 28, 240
    width, height = left + size + 16, top + size + 40

    def at(x: float, y: float) -> str:
        return f"{left + size * x:.1f},{top + size * (1 - y):.1f}"

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="curve" role="img" width="{width}" height="{height}" '
            f'aria-label="{html.escape(title)}">'
        ),
        f'<text x="0" y="16" font-weight="bold" font-size="13">{html.escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#8c959f"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        px, py = left + size * tick, top + size * (1 - tick)
        parts += [
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + size}" stroke="#eaeef2"/>',
            f'<line x1="{left}" y1="{py:.1f}" x2="{left + size}" y2="{py:.1f}" stroke="#eaeef2"/>',
            f'<text x="{px:.1f}" y="{top + size + 14}" text-anchor="middle" font-size="11">{tick:g}</text>',
            f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">{tick:g}</text>',
        ]
    parts += [
        (
            f'<text x="{left + size / 2}" y="{height - 6}" text-anchor="middle" font-size="12">'
            f"{html.escape(x_label)}</text>"
        ),
        (
            f'<text x="12" y="{top + size / 2}" text-anchor="middle" font-size="12" '
            f'transform="rotate(-90 12 {top + size / 2})">{html.escape(y_label)}</text>'
        ),
    ]
    if reference is not None:
        (x1, y1), (x2, y2) = reference
        a, b = at(x1, y1).split(","), at(x2, y2).split(",")
        parts.append(f'<line x1="{a[0]}" y1="{a[1]}" x2="{b[0]}" y2="{b[1]}" stroke="#8c959f" stroke-dasharray="4 3"/>')
    points = " ".join(at(float(x), float(y)) for x, y in zip(xs, ys, strict=True))
    parts += [f'<polyline points="{points}" fill="none" stroke="#4c78a8" stroke-width="2"/>', "</svg>"]
    return Markup("".join(parts))


def load_input(
    root: Path | Workspace,
    model: str,
    verdict_path: Path,
    *,
    registry: bool = True,
    html_artifact: str = "",
    tracking_uri: str | None = None,
) -> ReportInput:
    """The verdict file, the model's spec, and what the report shows about the version.

    That is the verdict's ``lineage`` (the version's mlgate tags and run link, recorded by
    ``mlgate gate``), so rendering needs no registry. Only a verdict written before gates recorded
    lineage is completed from the registry, unless ``registry`` is False.
    """
    import json

    ws = Workspace.of(root, tracking_uri)
    root = ws.root

    try:
        verdict = json.loads(verdict_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InvalidInput(f"{verdict_path}:{err.lineno}:{err.colno}: not valid JSON ({err.msg})") from None
    if not isinstance(verdict, dict) or verdict.get("schema") not in READABLE:
        raise InvalidInput(
            f"{verdict_path} is not an mlgate verdict (schema {SCHEMA})",
            hint="write one with: mlgate gate MODEL --json PATH",
        )
    if verdict.get("model") != model:
        raise InvalidInput(f"{verdict_path} is the verdict of model '{verdict.get('model')}', not '{model}'")
    spec, _ = load_model_spec(spec_path(root, model), root)
    metadata: dict[str, Any] = {}
    lineage = verdict.get("lineage")
    if isinstance(lineage, dict):  # written by `mlgate gate` since it records lineage: no registry needed
        # a function of the repo and the environment: MLflow is not imported
        metadata = {
            "tracking_uri": tracking_uri or default_uri(root),
            "tags": dict(lineage.get("tags") or {}),
            "run_url": lineage.get("run_url"),
        }
    elif registry and verdict.get("version") is not None:  # a predictions verdict has no version to look up
        metadata = ws.registry.version_metadata(model, int(verdict["version"]))
    return ReportInput(
        verdict=verdict, spec=spec, metadata=metadata, html_artifact=html_artifact or ReportInput.html_artifact
    )


# ----------------------------------------------------------------------------- one report, end to end


@dataclass
class ReportResult:
    """What :func:`report_model` wrote, rendered and posted."""

    model: str
    version: int | None  # None for a predictions verdict
    status: str
    markdown: Rendered | None = None  # the comment, when it was rendered
    written: dict[str, Path] = field(default_factory=dict)  # markdown | html | summary -> file
    text: str | None = None  # the format asked for as text (``text_format``)
    posted: Published | None = None  # when a comment or check run was asked for

    def as_dict(self) -> dict[str, Any]:
        """The result as ``mlgate report --json`` prints it."""
        out: dict[str, Any] = {"model": self.model, "version": self.version, "status": self.status}
        if "markdown" in self.written and self.markdown is not None:
            out |= {
                "markdown": str(self.written["markdown"]),
                "characters": len(self.markdown.text),
                "cut_sections": self.markdown.cut,
            }
        out |= {kind: str(path) for kind, path in self.written.items() if kind != "markdown"}
        if self.posted is not None:
            out |= self.posted.as_dict()
        return out


def _write(path: Path, text: str, *, append: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as out:
        out.write(text)


def report_model(
    root: Path | Workspace,
    model: str,
    verdict_path: Path,
    *,
    markdown_path: Path | None = None,
    html_path: Path | None = None,
    summary_path: Path | None = None,
    text_format: str | None = None,
    html_artifact: str = "",
    registry: bool = True,
    pr: int | None = None,
    check_run_sha: str | None = None,
) -> ReportResult:
    """Render ``model``'s verdict file, write each file asked for, and publish it.

    The verdict, the spec and the registry are read once and the comment is rendered once.
    ``summary_path`` is appended to (``$GITHUB_STEP_SUMMARY``); ``text_format`` (markdown, html
    or summary) is also returned as text; with ``pr`` / ``check_run_sha`` the sticky comment and
    the check run are posted (mlgate.report.checks).
    """
    ws = Workspace.of(root)
    root = ws.root
    data = load_input(ws, model, verdict_path, registry=registry, html_artifact=html_artifact)
    result = ReportResult(model=model, version=data.verdict["version"], status=data.verdict["status"])

    def comment() -> Rendered:
        if result.markdown is None:
            result.markdown = render_markdown(data, root)
        return result.markdown

    if markdown_path:
        _write(markdown_path, comment().text)
        result.written["markdown"] = markdown_path
    if html_path:
        _write(html_path, render_html(data, root))
        result.written["html"] = html_path
    if summary_path:
        _write(summary_path, render_summary(data, root).text.rstrip("\n") + "\n", append=True)
        result.written["summary"] = summary_path
    if text_format is not None:
        result.text = {
            "markdown": lambda: comment().text,
            "summary": lambda: render_summary(data, root).text,
            "html": lambda: render_html(data, root),
        }[text_format]()
    if pr is not None or check_run_sha:
        github = (lambda: ws.github) if ws.settings.github_token else None
        result.posted = publish(
            root, data.verdict, comment().text, marker(model), pr=pr, head_sha=check_run_sha, github=github
        )
    return result

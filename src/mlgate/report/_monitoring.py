"""Render a monitoring verdict (``mlgate.monitoring/1``) and the past monitoring runs.

``mlgate monitor`` measures what a production model saw and judges it by the policy's
``monitoring:`` rules; this module turns that verdict, plus the history of earlier monitoring
runs, into the Markdown of a GitHub issue comment and a standalone HTML page.

Both are rendered from the same context (:func:`context`): the rules needing attention first,
per-feature drift, prediction drift, volume and data quality, performance (realised once labels
arrive, estimated before) and trend charts over the last ``MAX_RUNS`` runs: Mermaid
``xychart-beta`` line charts in the Markdown (GitHub renders them), inline SVG in the HTML (no
script, no external resource). A chart draws each rule's threshold on its metric as a flat line.

The Markdown must fit a GitHub comment: above ``MONITORING_LIMIT`` characters, parts are cut
from the least important up (``CUT_ORDER``: per-feature trends, passed rules, features beyond
the top 5, then failing rules from the end of the table) and the comment says what was left out.
It ends with :func:`monitoring_marker`, the hidden line the issue comment is found by.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlgate.config import BY_NAME
from mlgate.exceptions import mask_secrets
from mlgate.gates import RuleStatus
from mlgate.report._render import RULE_ICONS, environment, fmt, gate_rows, mermaid_label, svg_bars

SCHEMA = "mlgate.monitoring/1"
MONITORING_LIMIT = 60_000  # below GitHub's 65,536-character comment limit, with room to spare
MAX_RUNS = 20  # trend charts show the last runs only
TOP_FEATURES = 15  # feature rows in the comment (the HTML report has every feature)
FEW_FEATURES = 5  # ... when the comment is too long
SPARK_FEATURES = 8  # per-feature PSI trends in the comment
HTML_SPARK_FEATURES = 30  # features with a sparkline in the HTML table
MAX_UNSEEN = 3  # unseen categories named per feature
MAX_CELL = 300  # characters of free text (explanations, notes) in a comment cell
MAX_NOTES = 5
MAX_THRESHOLDS = 3  # flat lines per chart
MAX_JUDGED = 3  # rules named beside a value
# Least important first: the first is the first to go when the comment is too long.
CUT_ORDER = ("feature_trends", "passed_rules", "features")
CUT_WORDS = {
    "feature_trends": "the per-feature PSI trends",
    "passed_rules": "the passed and skipped rules",
    "features": f"the features beyond the top {FEW_FEATURES}",
}
STATUS = {
    "pass": ("✅", "monitoring ok"),
    "warn": ("⚠️", "monitoring warning"),
    "fail": ("❌", "monitoring breach"),
}
COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2")
THRESHOLD_COLOUR = "#d62728"
SPARKS = "▁▂▃▄▅▆▇█"
ESTIMATE_CAVEAT = (
    "Estimates read the model's scores as probabilities, calibrated on the labelled reference when they need it "
    "(isotonic, as NannyML's CBPE): if the relation between inputs and outcome changed in production, they "
    "miss it. Labelled performance, once outcomes arrive, decides."
)


def monitoring_marker(model: str, stage: str) -> str:
    """The hidden line the monitoring issue comment is found by."""
    return f"<!-- mlgate:monitoring-report model={model} stage={stage} -->"


# ----------------------------------------------------------------------------- small formatting


def num(value: Any, digits: int = 4) -> str:
    """A number as the report shows it: :func:`fmt`, with whole floats (row counts) grouped."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) >= 1:
        return fmt(int(value))
    return fmt(value, digits)


def percent(value: Any) -> str:
    """A share as a percentage, ``—`` when unknown."""
    return "—" if value is None else f"{100 * float(value):.1f}%"


def clip(value: Any, limit: int = MAX_CELL) -> str:
    """Free text shortened to ``limit`` characters (escaping is the template's business)."""
    text = " ".join(str(value if value is not None else "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset), or None when it is not one."""
    try:
        return datetime.fromisoformat(str(value))  # Python 3.11 reads a trailing Z
    except ValueError:
        return None


def window_text(window: dict[str, Any] | None) -> str:
    """``2026-11-22 → 2026-11-29``; with hours and minutes when either end is not midnight."""
    if not window:
        return "no window"
    ends = [when(window.get("from")), window.get("from")], [when(window.get("to")), window.get("to")]
    times = [t for t, _ in ends]
    if any(t is None for t in times):
        return f"{clip(window.get('from'), 40)} → {clip(window.get('to'), 40)}"
    midnight = all((t.hour, t.minute, t.second) == (0, 0, 0) for t in times if t)
    shape = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"
    return " → ".join(t.strftime(shape) for t in times if t) + ("" if midnight else " UTC")


def plain_number(value: float) -> str:
    """A number as Mermaid parses it: fixed notation, no exponent, no grouping."""
    text = f"{round(float(value), 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at or above ``value`` (> 0): a chart's top."""
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value * (1 - 1e-12))


# ----------------------------------------------------------------------------- the runs charted


def run_metric(run: dict[str, Any], name: str) -> float | None:
    """A run's metric as a finite float, or None."""
    value = (run.get("metrics") or {}).get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def current_run(verdict: dict[str, Any]) -> dict[str, Any]:
    """The verdict as a history entry: its metrics and each feature's PSI as ``psi.<feature>``."""
    metrics = dict(verdict.get("metrics") or {})
    for feature in verdict.get("features") or []:
        metrics.setdefault(f"psi.{feature.get('feature')}", feature.get("psi"))
    return {
        "run_id": verdict.get("monitoring_run_id"),
        "evaluated_at": verdict.get("evaluated_at"),
        "version": verdict.get("version"),
        "status": verdict.get("status"),
        "metrics": metrics,
    }


def trend_runs(verdict: dict[str, Any], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last ``MAX_RUNS`` runs, oldest first, the current one last.

    ``history`` normally ends with the current run; when it does not (the run was not recorded,
    or the history was read before it was), the verdict is added, so every chart shows today.
    """

    def moment(run: dict[str, Any]) -> float:
        t = when(run.get("evaluated_at"))
        return t.timestamp() if t else -math.inf

    runs = sorted(history, key=moment)  # stable: runs without a time keep their order, first
    current = current_run(verdict)
    known = any(
        (current["run_id"] is not None and r.get("run_id") == current["run_id"])
        or (r.get("evaluated_at") == current["evaluated_at"])
        for r in runs
    )
    if not known:
        runs.append(current)
    return runs[-MAX_RUNS:]


def run_labels(runs: list[dict[str, Any]]) -> list[str]:
    """Short x-axis labels (``Nov 22``), with the time when a day has several runs and the version when it changed."""
    times = [when(r.get("evaluated_at")) for r in runs]
    days = [
        t.strftime("%b %d") if t else str(r.get("evaluated_at") or "?")[:10] for t, r in zip(times, runs, strict=True)
    ]
    labels = []
    for i, (t, day) in enumerate(zip(times, days, strict=True)):
        label = f"{day} {t.strftime('%H:%M')}" if t and days.count(day) > 1 else day
        if i and runs[i].get("version") is not None and runs[i].get("version") != runs[i - 1].get("version"):
            label += f" v{runs[i]['version']}"
        labels.append(label)
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):  # Mermaid merges equal categories: keep each run its own
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} #{seen[label]}"
    return [mermaid_label(label) for label in labels]


@dataclass
class Line:
    """One series of a trend chart."""

    name: str
    metric: str
    values: list[float | None]
    colour: str

    @property
    def points(self) -> int:
        """How many runs have the metric."""
        return sum(v is not None for v in self.values)


@dataclass
class Threshold:
    """A rule's threshold on a charted metric: a flat line."""

    value: float
    metric: str
    comparison: str
    rule_id: str
    severity: str

    @property
    def label(self) -> str:
        """``psi max 0.25``."""
        return f"{self.metric} {self.comparison} {num(self.value)}"


@dataclass
class Trend:
    """A trend chart over the runs: its lines, the thresholds drawn across it, its y range."""

    key: str
    title: str
    y_label: str
    labels: list[str]
    lines: list[Line]
    thresholds: list[Threshold] = field(default_factory=list)
    unit: bool = False  # a share or a score in [0, 1]
    versions: list[Any] = field(default_factory=list)

    @property
    def points(self) -> int:
        """The points of the fullest line."""
        return max((line.points for line in self.lines), default=0)

    def y_range(self) -> tuple[float, float]:
        """From 0 (or the lowest value) to a round number above the highest; scores near 1 zoomed in."""
        values = [v for line in self.lines for v in line.values if v is not None]
        values += [t.value for t in self.thresholds]
        top, bottom = max(values, default=1.0), min(values, default=0.0)
        if self.unit and bottom >= 0.5:  # scores near 1: zoom in, a drop of 0.02 must show
            low = math.floor((bottom - 0.02) * 20) / 20
            return max(0.0, low), min(1.0, math.ceil((top + 0.01) * 20) / 20)
        low = min(0.0, bottom)
        high = nice_ceiling(top * 1.1) if top > 0 else 1.0
        if self.unit and top <= 1.0:
            high = min(1.0, high)
        return low, high if high > low else low + 1.0

    def mermaid(self) -> dict[str, Any]:
        """The Mermaid block's lines and what the caption says about them.

        Mermaid draws a line through every x: a run without the metric cannot be left out of
        one line only. The x axis is the runs of the fullest line; a line missing from some of
        them is not drawn, and the caption says so (the HTML chart draws it).
        """
        fullest = max(self.lines, key=lambda line: line.points)
        xs = [i for i, v in enumerate(fullest.values) if v is not None]
        drawn = [line for line in self.lines if all(line.values[i] is not None for i in xs)]
        left_out = [line for line in self.lines if line not in drawn and line.points]
        flat = [t for t in self.thresholds if t.metric in {line.metric for line in drawn}]
        low, high = self.y_range()
        body = [
            "xychart-beta",
            f'    title "{mermaid_label(self.title)}"',
            "    x-axis [" + ", ".join(f'"{self.labels[i]}"' for i in xs) + "]",
            f'    y-axis "{mermaid_label(self.y_label)}" {plain_number(low)} --> {plain_number(high)}',
        ]
        for line in drawn:  # a drawn line has a value at every x: the filter drops nothing, it narrows the type
            values = [value for value in (line.values[i] for i in xs) if value is not None]
            body.append("    line [" + ", ".join(plain_number(value) for value in values) + "]")
        body += ["    line [" + ", ".join([plain_number(t.value)] * len(xs)) + "]" for t in flat]
        return {"code": "\n".join(body), "drawn": drawn, "left_out": left_out, "thresholds": flat}


# Each chart: key, title, y-axis label, (line name, metric) pairs, unit range. The performance
# chart falls back to accuracy when no ROC AUC was measured.
CHARTS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...], bool], ...] = (
    ("drift", "Feature drift", "share / PSI", (("drifted share", "drifted_share"), ("max PSI", "psi")), False),
    ("prediction", "Prediction drift", "PSI", (("prediction PSI", "prediction_psi"),), False),
    (
        "performance",
        "ROC AUC: estimated vs realised",
        "ROC AUC",
        (("estimated ROC AUC", "estimated_roc_auc"), ("realised ROC AUC", "roc_auc")),
        True,
    ),
    (
        "performance",
        "Accuracy: estimated vs realised",
        "accuracy",
        (("estimated accuracy", "estimated_accuracy"), ("realised accuracy", "accuracy")),
        True,
    ),
    ("volume", "Volume", "rows", (("rows", "volume"),), False),
)


def thresholds(rules: list[dict[str, Any]], metrics: list[str]) -> list[Threshold]:
    """One flat line per distinct threshold the rules set on ``metrics``."""
    found: dict[tuple[str, str, float], Threshold] = {}
    for rule in rules:
        value = rule.get("threshold")
        if rule.get("metric") in metrics and isinstance(value, int | float) and not isinstance(value, bool):
            key = (rule["metric"], str(rule.get("comparison")), float(value))
            found.setdefault(
                key,
                Threshold(
                    float(value),
                    rule["metric"],
                    str(rule.get("comparison")),
                    str(rule.get("rule_id")),
                    str(rule.get("severity")),
                ),
            )
    # a chart draws at most MAX_THRESHOLDS: the blocking ones first
    return sorted(found.values(), key=lambda t: t.severity != "block")[:MAX_THRESHOLDS]


def trends(verdict: dict[str, Any], runs: list[dict[str, Any]]) -> list[Trend]:
    """The trend charts with at least one value (one performance chart: ROC AUC, else accuracy)."""
    labels = run_labels(runs)
    out: list[Trend] = []
    for key, title, y_label, series, unit in CHARTS:
        if any(t.key == key for t in out):
            continue
        lines = [
            Line(name, metric, [run_metric(r, metric) for r in runs], COLOURS[i % len(COLOURS)])
            for i, (name, metric) in enumerate(series)
        ]
        lines = [line for line in lines if line.points]
        if not lines:
            continue
        out.append(
            Trend(
                key,
                title,
                y_label,
                labels,
                lines,
                thresholds(verdict.get("rules") or [], [line.metric for line in lines]),
                unit,
                [r.get("version") for r in runs],
            )
        )
    return out


# ----------------------------------------------------------------------------- SVG


def svg_trend(trend: Trend) -> Any:
    """A line chart over the runs as inline SVG: axes, labelled ticks, a legend, dashed thresholds.

    Each line is one ``polyline.series`` with a point per run that has the metric (a missing run
    is skipped, not drawn as zero); a dotted line marks where the monitored version changed.
    """
    from markupsafe import Markup

    left, plot_w, plot_h = 64, 480, 170
    width = left + plot_w + 24
    # the legend: lines, then dashed thresholds, wrapped onto as many rows as the width needs
    entries = [(line.name, line.colour, "") for line in trend.lines]
    entries += [(t.label, THRESHOLD_COLOUR, ' stroke-dasharray="4 3"') for t in trend.thresholds]
    legend, at_x, row = [], 0.0, 0
    for name, colour, dash in entries:
        size = 30 + 6.5 * len(name)
        if at_x and at_x + size > width:
            at_x, row = 0.0, row + 1
        legend.append((at_x, 30 + 15 * row, name, colour, dash))
        at_x += size
    top = 48 + 15 * row
    height = top + plot_h + 46
    n = len(trend.labels)
    low, high = trend.y_range()

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    title = html.escape(trend.title)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" data-chart="{trend.key}" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-label="{title}">'
        ),
        f"<title>{title}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13">{title}</text>',
    ]
    for lx, ly, name, colour, dash in legend:
        parts += [
            f'<line x1="{lx:.0f}" y1="{ly}" x2="{lx + 18:.0f}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/>',
            f'<text x="{lx + 22:.0f}" y="{ly + 4}" font-size="11">{html.escape(name)}</text>',
        ]
    for k in range(5):  # grid and y ticks
        value = low + (high - low) * k / 4
        py = y(value)
        parts += [
            f'<line x1="{left}" y1="{py:.1f}" x2="{left + plot_w}" y2="{py:.1f}" stroke="#eaeef2"/>',
            (
                f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">'
                f"{html.escape(num(value, 3))}</text>"
            ),
        ]
    parts += [
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#8c959f"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#8c959f"/>',
        (
            f'<text x="12" y="{top + plot_h / 2}" text-anchor="middle" font-size="12" '
            f'transform="rotate(-90 12 {top + plot_h / 2})">{html.escape(trend.y_label)}</text>'
        ),
    ]
    step = max(1, math.ceil(n / 8))  # at most 8 x labels: they stay legible
    for i, label in enumerate(trend.labels):
        if i % step == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11">'
                f"{html.escape(label)}</text>"
            )
        if i and trend.versions[i] is not None and trend.versions[i] != trend.versions[i - 1]:
            parts += [
                (
                    f'<line class="version" x1="{x(i):.1f}" y1="{top}" x2="{x(i):.1f}" y2="{top + plot_h}" '
                    'stroke="#6e7781" stroke-dasharray="1 3"/>'
                ),
                (
                    f'<text x="{x(i) + 3:.1f}" y="{top + 10}" font-size="10" fill="#57606a">'
                    f"v{html.escape(str(trend.versions[i]))}</text>"
                ),
            ]
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" font-size="12">monitoring run</text>'
    )
    for t in trend.thresholds:
        py = y(t.value)
        parts.append(
            f'<line class="threshold" x1="{left}" y1="{py:.1f}" x2="{left + plot_w}" y2="{py:.1f}" '
            f'stroke="{THRESHOLD_COLOUR}" stroke-dasharray="6 4"><title>{html.escape(t.label)} '
            f"(rule {html.escape(t.rule_id)}, {html.escape(t.severity)})</title></line>"
        )
        parts.append(  # which threshold this is, at its right end
            f'<text x="{left + plot_w - 2}" y="{py - 3:.1f}" text-anchor="end" font-size="10" '
            f'fill="{THRESHOLD_COLOUR}" paint-order="stroke" stroke="#fff" stroke-width="3">'
            f"{html.escape(t.label)}</text>"
        )
    for line in trend.lines:
        points = [(i, v) for i, v in enumerate(line.values) if v is not None]
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
        parts.append(
            f'<polyline class="series" data-metric="{html.escape(line.metric)}" points="{coords}" fill="none" '
            f'stroke="{line.colour}" stroke-width="2"/>'
        )
        for i, v in points:
            tip = html.escape(f"{trend.labels[i]}: {line.name} {num(v)}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{line.colour}"><title>{tip}</title></circle>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def svg_sparkline(values: list[float | None], top: float, threshold: float | None = None) -> Any:
    """A feature's PSI over the runs, on the table's shared scale ``0..top`` (threshold dashed)."""
    from markupsafe import Markup

    width, height, pad = 120, 26, 3
    n = len(values)
    points = [(i, v) for i, v in enumerate(values) if v is not None]

    def at(i: int, v: float) -> tuple[float, float]:
        px = pad + ((width - 2 * pad) * i / (n - 1) if n > 1 else (width - 2 * pad) / 2)
        return px, height - pad - (height - 2 * pad) * min(v / top, 1.0) if top > 0 else height - pad

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" height="{height}" aria-hidden="true">'
    ]
    if threshold is not None and top > 0:
        ty = at(0, threshold)[1]
        parts.append(
            f'<line x1="0" y1="{ty:.1f}" x2="{width}" y2="{ty:.1f}" stroke="{THRESHOLD_COLOUR}" '
            'stroke-dasharray="3 2"/>'
        )
    coords = [at(i, v) for i, v in points]
    parts.append(
        '<polyline points="'
        + " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
        + f'" fill="none" stroke="{COLOURS[0]}" stroke-width="1.5"/>'
    )
    if coords:
        parts.append(f'<circle cx="{coords[-1][0]:.1f}" cy="{coords[-1][1]:.1f}" r="2.5" fill="{COLOURS[0]}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def text_sparkline(values: list[float | None], top: float) -> str:
    """A feature's PSI over the runs in block characters (``·`` for a run without it)."""
    if top <= 0:
        return "".join(SPARKS[0] if v is not None else "·" for v in values)
    return "".join(
        "·" if v is None else SPARKS[min(len(SPARKS) - 1, int(len(SPARKS) * max(v, 0.0) / top))] for v in values
    )


# ----------------------------------------------------------------------------- context


def feature_rows(verdict: dict[str, Any], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every feature, most drifted first: its test, statistic, p-value, unseen categories, PSI over the runs."""
    rows = []
    for f in sorted(verdict.get("features") or [], key=lambda f: -(f.get("psi") or 0.0)):
        categorical = f.get("kind") == "categorical"
        test = "χ²" if categorical else ("KS (length)" if f.get("kind") == "text" else "KS")
        unseen = [clip(u, 40) for u in (f.get("unseen_categories") or [])]
        distinct = max(int(f.get("unseen_distinct") or 0), len(unseen))
        rows.append(
            f
            | {
                "test": test,
                "statistic": f.get("chi2_statistic") if categorical else f.get("ks_statistic"),
                "pvalue": f.get("chi2_pvalue") if categorical else f.get("ks_pvalue"),
                "unseen_few": unseen[:MAX_UNSEEN],
                "unseen_more": distinct - len(unseen[:MAX_UNSEEN]),
                "unseen_all": unseen,
                "unseen_all_more": distinct - len(unseen),
                "history": [run_metric(r, f"psi.{f.get('feature')}") for r in runs],
            }
        )
    return rows


def trending(features: list[dict[str, Any]], threshold: float | None) -> list[dict[str, Any]]:
    """The features whose PSI trend the comment shows: drifted, or above half the ``psi`` rule's threshold."""
    near = [f for f in features if f.get("drifted") or (threshold is not None and (f.get("psi") or 0) >= threshold / 2)]
    return near[:SPARK_FEATURES]


def performance_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The verdict's metrics of the catalog's performance family (measured on labelled rows)."""
    return {
        k: v
        for k, v in sorted(metrics.items())
        if k in BY_NAME and BY_NAME[k].family == "performance" and v is not None
    }


QUALITY = ("null_fraction", "duplicate_rows", "constant_columns", "unseen_categories", "schema_mismatch")


def rule_state(rules: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """The rules judging ``metric``, to show beside its value: the failed ones first."""
    return sorted((r for r in rules if r.get("metric") == metric), key=lambda r: r.get("status") == RuleStatus.PASS)


def context(
    verdict: dict[str, Any], history: list[dict[str, Any]], html_artifact: str = "the HTML monitoring report"
) -> dict[str, Any]:
    """The variables the monitoring templates render."""
    rules = verdict.get("rules") or []
    ordered = gate_rows(rules)
    attention = [r for r in ordered["attention"] if r["status"] in (RuleStatus.FAIL, RuleStatus.ERROR)]
    quiet = ordered["passed"] + [r for r in ordered["attention"] if r["status"] == RuleStatus.SKIPPED]
    runs = trend_runs(verdict, history)
    charts = trends(verdict, runs)
    features = feature_rows(verdict, runs)
    psi_rules = thresholds(rules, ["psi"])
    psi_threshold = min((t.value for t in psi_rules), default=None)
    spark_top = max(
        [v for f in features[:HTML_SPARK_FEATURES] for v in f["history"] if v is not None]
        + ([psi_threshold] if psi_threshold is not None else [])
        + [0.0]
    )
    metrics = verdict.get("metrics") or {}
    icon, word = STATUS.get(str(verdict.get("status")), ("❔", f"monitoring {verdict.get('status')}"))
    counts = verdict.get("counts") or {}
    return {
        "v": verdict,
        "marker": monitoring_marker(str(verdict.get("model")), str(verdict.get("stage"))),
        "status_icon": icon,
        "status_word": word,
        "counts": counts,
        "window": window_text(verdict.get("window")),
        "icons": RULE_ICONS,
        "attention": attention,
        "quiet": quiet,
        "runs": runs,
        "charts": charts,
        "features": features,
        "drifted": [f for f in features if f.get("drifted")],
        "trending": trending(features, psi_threshold),
        "psi_threshold": psi_threshold,
        "spark_top": spark_top,
        "metrics": metrics,
        "sources": [
            {
                "kind": s.get("kind"),
                "where": clip(s.get("where"), 160),
                "rows": s.get("rows"),
                "notes": [clip(n, 200) for n in (s.get("notes") or [])[:MAX_NOTES]],
                "notes_more": max(0, len(s.get("notes") or []) - MAX_NOTES),
            }
            for s in verdict.get("sources") or []
        ],
        "quality": {k: metrics[k] for k in QUALITY if metrics.get(k) is not None},
        "performance": performance_metrics(metrics),
        "estimate_caveat": ESTIMATE_CAVEAT,
        "html_artifact": html_artifact,
        "rules_for": lambda metric: rule_state(rules, metric),
        "clip": clip,
        "num": num,
        "percent": percent,
        "svg_trend": svg_trend,
        "svg_sparkline": svg_sparkline,
        "svg_bars": svg_bars,
        "text_sparkline": text_sparkline,
        "html_spark_features": HTML_SPARK_FEATURES,
        "max_judged": MAX_JUDGED,
    }


# ----------------------------------------------------------------------------- rendering


def render_markdown(
    verdict: dict[str, Any],
    history: list[dict[str, Any]],
    *,
    limit: int = MONITORING_LIMIT,
    root: Path | None = None,
    html_artifact: str = "the HTML monitoring report",
) -> str:
    """Markdown for the monitoring issue comment, cut part by part until it fits ``limit`` characters.

    ``root``: a governed repo whose ``.mlgate/templates/monitoring.md.j2`` overrides the packaged one.
    """
    template = environment(root, autoescape=False).get_template("monitoring.md.j2")
    base = context(verdict, history, html_artifact)
    attention = base["attention"]
    include = list(CUT_ORDER)
    cut: list[str] = []
    shown = len(attention)
    while True:
        text = mask_secrets(  # a source URL in the verdict never shows its password
            template.render(
                **base | {"attention": attention[:shown]},
                include=include,
                cut=[CUT_WORDS[c] for c in cut],
                top_features=TOP_FEATURES if "features" in include else FEW_FEATURES,
                rules_dropped=len(attention) - shown,
            )
        )
        if len(text) <= limit:
            return text
        if include:
            cut.append(include.pop(0))
            continue
        if shown == 0:  # nothing left to cut: keep the start and the marker
            tail = "\n\n" + base["marker"] + "\n"
            return text[: limit - len(tail)] + tail
        per_row = max(1, len(text) // (shown + 20))
        shown = max(0, shown - ((len(text) - limit) // per_row + 1))


def render_html(
    verdict: dict[str, Any],
    history: list[dict[str, Any]],
    *,
    root: Path | None = None,
) -> str:
    """One standalone HTML page: inline CSS and SVG, no script, no network fetch."""
    template = environment(root, autoescape=True).get_template("monitoring.html.j2")
    return mask_secrets(template.render(**context(verdict, history)))

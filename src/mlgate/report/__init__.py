"""Reports: a gate verdict's PR comment, HTML and step summary; a monitoring verdict's issue comment and HTML.

A comparison of arms (``mlgate monitor --compare``) renders as Markdown and HTML too (``_compare``).

The monitoring report (``mlgate.report.monitoring``) also charts the past monitoring runs;
``checks`` posts the sticky report comment and check runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.report import _monitoring as monitoring
    from mlgate.report._checks import check_outcome
    from mlgate.report._compare import compare_table, render_compare_html, render_compare_markdown
    from mlgate.report._monitoring import MAX_RUNS, MONITORING_LIMIT, TOP_FEATURES, monitoring_marker, svg_trend
    from mlgate.report._monitoring import render_html as render_monitoring_html
    from mlgate.report._monitoring import render_markdown as render_monitoring_markdown
    from mlgate.report._monitoring import trends as monitoring_trends
    from mlgate.report._render import (
        COMMENT_LIMIT,
        SUMMARY_LIMIT,
        Rendered,
        ReportInput,
        ReportResult,
        load_input,
        marker,
        render_card_html,
        render_html,
        render_markdown,
        render_summary,
        report_model,
    )


__all__ = [
    "COMMENT_LIMIT",
    "MAX_RUNS",
    "MONITORING_LIMIT",
    "SUMMARY_LIMIT",
    "TOP_FEATURES",
    "Rendered",
    "ReportInput",
    "ReportResult",
    "check_outcome",
    "compare_table",
    "load_input",
    "marker",
    "monitoring",
    "monitoring_marker",
    "monitoring_trends",
    "render_card_html",
    "render_compare_html",
    "render_compare_markdown",
    "render_html",
    "render_markdown",
    "render_monitoring_html",
    "render_monitoring_markdown",
    "render_summary",
    "report_model",
    "svg_trend",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "COMMENT_LIMIT": "_render:COMMENT_LIMIT",
    "MAX_RUNS": "_monitoring:MAX_RUNS",
    "MONITORING_LIMIT": "_monitoring:MONITORING_LIMIT",
    "Rendered": "_render:Rendered",
    "ReportInput": "_render:ReportInput",
    "ReportResult": "_render:ReportResult",
    "SUMMARY_LIMIT": "_render:SUMMARY_LIMIT",
    "TOP_FEATURES": "_monitoring:TOP_FEATURES",
    "check_outcome": "_checks:check_outcome",
    "compare_table": "_compare:compare_table",
    "render_compare_html": "_compare:render_compare_html",
    "render_compare_markdown": "_compare:render_compare_markdown",
    "load_input": "_render:load_input",
    "marker": "_render:marker",
    "monitoring": "_monitoring",
    "monitoring_marker": "_monitoring:monitoring_marker",
    "monitoring_trends": "_monitoring:trends",
    "svg_trend": "_monitoring:svg_trend",
    "render_card_html": "_render:render_card_html",
    "render_html": "_render:render_html",
    "render_markdown": "_render:render_markdown",
    "render_monitoring_html": "_monitoring:render_html",
    "render_monitoring_markdown": "_monitoring:render_markdown",
    "render_summary": "_render:render_summary",
    "report_model": "_render:report_model",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)

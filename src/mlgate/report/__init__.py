"""Reports: a gate verdict's PR comment, HTML and step summary; a monitoring verdict's issue comment and HTML.

The monitoring report (``mlgate.report.monitoring``) also charts the past monitoring runs;
``checks`` posts the sticky report comment and check runs.
"""

from mlgate.report.monitoring import MONITORING_LIMIT, monitoring_marker
from mlgate.report.monitoring import render_html as render_monitoring_html
from mlgate.report.monitoring import render_markdown as render_monitoring_markdown
from mlgate.report.render import (
    COMMENT_LIMIT,
    SUMMARY_LIMIT,
    Rendered,
    ReportInput,
    ReportResult,
    load_input,
    marker,
    render_html,
    render_markdown,
    render_summary,
    report_model,
)

__all__ = [
    "COMMENT_LIMIT",
    "MONITORING_LIMIT",
    "SUMMARY_LIMIT",
    "Rendered",
    "ReportInput",
    "ReportResult",
    "load_input",
    "marker",
    "monitoring_marker",
    "render_html",
    "render_markdown",
    "render_monitoring_html",
    "render_monitoring_markdown",
    "render_summary",
    "report_model",
]

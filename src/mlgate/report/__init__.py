"""Reports rendered from a gate verdict: PR-comment Markdown, standalone HTML, step summary."""

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
    "SUMMARY_LIMIT",
    "Rendered",
    "ReportInput",
    "ReportResult",
    "load_input",
    "marker",
    "render_html",
    "render_markdown",
    "render_summary",
    "report_model",
]

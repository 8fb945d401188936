"""Reports: golden Markdown, the comment-size cut, escaping of user text, HTML, CLI."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import PROJECT, invoke
from mlgate.config import ModelSpec, load
from mlgate.config import parse_model as parse
from mlgate.report import (
    COMMENT_LIMIT,
    ReportInput,
    marker,
    render_card_html,
    render_html,
    render_markdown,
    render_summary,
)

DATA = Path(__file__).parent / "data"
META = {"tags": {"mlgate.params.sha256": "9" * 64}, "run_url": None, "tracking_uri": "sqlite:///x"}


def verdict() -> dict[str, Any]:
    return json.loads((DATA / "verdict-credit.json").read_text())


def spec(**changes: Any) -> ModelSpec:
    base = parse(ModelSpec, load(PROJECT / "models/credit/model.yaml"))
    return base.model_copy(update=changes)


def report_input(v: dict[str, Any] | None = None, s: ModelSpec | None = None) -> ReportInput:
    return ReportInput(verdict=v or verdict(), spec=s or spec(), metadata=META, html_artifact="artifact `report-html`")


def test_markdown_matches_the_golden_file() -> None:
    text = render_markdown(report_input()).text
    golden = DATA / "report-credit.md"
    if os.environ.get("MLGATE_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text(), "run with MLGATE_UPDATE_GOLDEN=1 and review the diff"


def test_first_line_is_status_and_counts_and_marker_is_present() -> None:
    text = render_markdown(report_input()).text
    first = text.splitlines()[0]
    assert first.startswith("❌ **blocked** — 14 passed, 1 failed (block), 0 warnings, 1 skipped")
    assert "model `credit` v2" in first
    assert marker("credit") in text.splitlines()
    assert "```mermaid\nxychart-beta" in text
    # failures first in the gate table
    rows = [line for line in text.splitlines() if line.startswith(("| ❌", "| ✅"))]
    assert rows[0].startswith("| ❌")


def test_champion_table_has_deltas_and_arrows() -> None:
    text = render_markdown(report_input()).text
    assert "Challenger v2 vs champion v1" in text
    assert re.search(r"\| roc_auc \| 0\.7822 \| 0\.7666 \| 🔼 \+0\.01564 \|", text), text
    assert re.search(r"\| log_loss \| .* \| 🔽 \+", text), "a higher log loss is worse"
    no_champion = verdict() | {"champion": None}
    assert "No champion yet" in render_markdown(report_input(no_champion)).text


def many_rules(count: int) -> dict[str, Any]:
    v = verdict()
    template = next(r for r in v["rules"] if r["status"] == "pass")
    for i in range(count):
        rule = copy.deepcopy(template)
        rule["rule_id"] = f"generated-rule-{i:04d}"
        rule["explanation"] = "a long explanation that fills the comment " * 4
        v["rules"].append(rule)
    return v


def test_long_report_is_cut_by_whole_sections_least_important_first() -> None:
    rendered = render_markdown(report_input(many_rules(300)))
    assert len(rendered.text) <= COMMENT_LIMIT
    assert rendered.cut[0] == "model_card"
    assert "This comment was shortened to fit" in rendered.text
    assert "artifact `report-html`" in rendered.text
    assert "<summary><b>Model card</b></summary>" not in rendered.text
    # the status line, the failure and the marker survive
    assert rendered.text.startswith("❌ **blocked**")
    assert "`four-fifths`" in rendered.text
    assert marker("credit") in rendered.text


def test_very_long_report_drops_passed_rows_but_never_failures() -> None:
    rendered = render_markdown(report_input(many_rules(900)))
    assert len(rendered.text) <= COMMENT_LIMIT
    assert rendered.cut == [
        "model_card",
        "drift",
        "importance",
        "classification",
        "fairness",
        "lineage",
        "params",
        "champion",
    ]
    assert rendered.rows_dropped > 0
    assert "`four-fifths`" in rendered.text
    assert f"{rendered.rows_dropped} passed rule(s) dropped" in rendered.text


def test_short_report_is_not_cut() -> None:
    rendered = render_markdown(report_input())
    assert rendered.cut == []
    assert "shortened" not in rendered.text


HOSTILE = "Scores | applicants <script>alert('x')</script> with `backticks` and a\nnewline"


def test_user_text_cannot_break_tables_or_inject_html() -> None:
    v = verdict()
    v["rules"][0]["explanation"] = HOSTILE
    s = spec(description=HOSTILE, owners=["a|b", "<img src=x onerror=alert(1)>"])
    text = render_markdown(report_input(v, s)).text
    assert "<script>" not in text
    assert "<img" not in text
    assert "&lt;script&gt;" in text
    table_line = next(line for line in text.splitlines() if "alert(&#x27;x&#x27;)" in line or "alert('x')" in line)
    # the cell's pipe is escaped: the row keeps its 8 real column separators
    assert len(re.findall(r"(?<!\\)\|", table_line)) == 8
    assert "\\`backticks\\`" in text
    html = render_html(report_input(v, s))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<img src=x" not in html


def test_the_card_page_of_a_version_without_a_verdict_says_so_and_escapes_the_spec() -> None:
    s = spec(description=HOSTILE)
    page = render_card_html(
        s, None, model="credit", version=3, commit="c" * 40, basis="the training commit", which="no verdict"
    )
    assert (
        f"<p>From <code>models/credit/model.yaml</code> at commit <code>{'c' * 40}</code> (the training commit).</p>"
        in page
    )
    assert "The version has no gate verdict" in page
    for fact in ("Metrics", "Evaluation data", "Training data"):
        assert f"<dt>{fact}</dt><dd>no gate verdict</dd>" in page
    assert "<dt>Global explanation</dt><dd>not computed</dd>" in page
    assert "Documentation gate" not in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    # with the verdict: the report's own card section, byte for byte
    v = verdict()
    with_verdict = render_card_html(s, v, model="credit", version=3, commit="c" * 40, basis="b", which="the verdict")
    card = with_verdict[with_verdict.index("<dl>") : with_verdict.index("</dl>")]
    report = render_html(report_input(v, s))
    assert card == report[report.index("<dl>") : report.index("</dl>")]
    assert "<h2>Documentation gate</h2>" in with_verdict


EXPLANATION = {
    "method": "tree_shap",
    "output": "probability",
    "toward": 1,
    "rows": 250,
    "of_rows": 250,
    "base_value": 0.7005,
    "additive": True,
    "features": [
        {"feature": "checking_account", "mean_abs_contribution": 0.0936},
        {"feature": "saving_accounts", "mean_abs_contribution": 0.0312},
        {"feature": "<b>duration</b>", "mean_abs_contribution": 0.028},
        {"feature": "credit_amount", "mean_abs_contribution": 0.023},
        {"feature": "age", "mean_abs_contribution": 0.0199},
        {"feature": "housing", "mean_abs_contribution": 0.0187},
    ],
    "seconds": 1.2,
}


def test_the_model_card_shows_the_global_explanation_as_a_table_and_a_chart() -> None:
    v = verdict()
    v["schema"] = "mlgate.verdict/2"
    v["evidence"] = {"explanation": EXPLANATION}
    text = render_markdown(report_input(v)).text
    assert (
        "**Global explanation** (mean absolute contribution to the probability, `tree_shap`, 250 holdout rows): "
        "`checking_account` 0.0936, `saving_accounts` 0.0312"
    ) in text
    assert "; 1 more in the HTML report." in text
    html = render_html(report_input(v))
    card = html[html.index("<h2>Model card</h2>") :]
    assert "<dt>Global explanation</dt>" in card
    assert 'aria-label="Mean |contribution| (probability)"' in card
    assert '<td>checking_account</td><td class="num">0.0936</td>' in card
    assert "&lt;b&gt;duration&lt;/b&gt;" in card  # a column name is text, never markup
    assert "<b>duration</b>" not in card
    # without shap the gate records why; the card says so instead of a chart
    v["evidence"]["explanation"] = {"skipped": "shap is not installed (pip install 'mlgate[shap]')", "rows": 250}
    assert "not computed: shap is not installed" in render_html(report_input(v))
    assert "_Not computed: shap is not installed" in render_markdown(report_input(v)).text


def test_html_is_self_contained() -> None:
    html = render_html(report_input())
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html
    assert not re.search(r"""(src|href)=["']?https?://""", html), "no network fetches"
    assert "<link" not in html
    assert "@media print" in html
    assert "25 and over" in html


def test_summary_has_no_marker_and_fits() -> None:
    rendered = render_summary(report_input(many_rules(300)))
    assert marker("credit") not in rendered.text
    assert len(rendered.text.encode()) <= 1024 * 1024


def test_repo_template_overrides_the_packaged_one(governed_repo: Path, tmp_path: Path) -> None:
    override = governed_repo / ".mlgate" / "templates"
    override.mkdir(parents=True)
    (override / "report.md.j2").write_text("custom {{ v.model }} {{ headline }}\n")
    text = render_markdown(report_input(), governed_repo).text
    assert text.startswith("custom credit ❌")


def test_cli_renders_markdown_html_and_json(governed_repo: Path, tmp_path: Path) -> None:
    out_md, out_html = tmp_path / "r.md", tmp_path / "r.html"
    result = invoke(
        CliRunner(),
        "report",
        "credit",
        "--verdict",
        str(DATA / "verdict-credit.json"),
        "--no-registry",
        "--markdown",
        str(out_md),
        "--html",
        str(out_html),
        "--json",
        str(tmp_path / "r.json"),
        cwd=governed_repo,
    )
    assert result.exit_code == 0, result.output
    assert out_md.read_text().startswith("❌ **blocked**")
    assert f"| Params sha256 | `{'9' * 64}` |" in out_md.read_text(), "from the verdict's lineage"
    assert out_html.read_text().startswith("<!DOCTYPE html>")
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["cut_sections"] == []
    printed = invoke(
        CliRunner(),
        "report",
        "credit",
        "--verdict",
        str(DATA / "verdict-credit.json"),
        "--no-registry",
        "--format",
        "summary",
        cwd=governed_repo,
    )
    assert printed.stdout.startswith("❌ **blocked**")
    assert marker("credit") not in printed.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "other"}', "is not an mlgate verdict"),
    ],
)
def test_cli_rejects_bad_verdicts(governed_repo: Path, tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = invoke(CliRunner(), "report", "credit", "--verdict", str(bad), "--no-registry", cwd=governed_repo)
    assert result.exit_code == 2
    assert message in result.output


def test_cli_rejects_a_verdict_of_another_model(governed_repo: Path) -> None:
    result = invoke(
        CliRunner(),
        "report",
        "insurance",
        "--verdict",
        str(DATA / "verdict-credit.json"),
        "--no-registry",
        cwd=governed_repo,
    )
    assert result.exit_code == 2
    assert "is the verdict of model 'credit', not 'insurance'" in result.output


def test_html_report_in_a_real_headless_browser(tmp_path: Path) -> None:
    """Chromium loads the report: not blank, no console errors, no network requests."""
    from browser import is_blank, png_stats, render, require_chromium

    require_chromium()
    page = tmp_path / "report.html"
    page.write_text(render_html(report_input()), encoding="utf-8")
    shown = render(page, tmp_path / "shots")
    assert shown.console_errors == []
    assert shown.network_requests == []
    assert not is_blank(shown.screenshot)
    assert png_stats(shown.screenshot).ink > 0.01, "the page should show tables and charts"


def test_cli_writes_every_format_in_one_call(governed_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")  # $GITHUB_STEP_SUMMARY is appended to, never replaced
    verdict_path = str(DATA / "verdict-credit.json")
    result = invoke(
        CliRunner(),
        "report",
        "credit",
        "--verdict",
        verdict_path,
        "--no-registry",
        "--markdown",
        str(out / "report.md"),
        "--html",
        str(out / "report.html"),
        "--summary",
        str(summary),
        "--html-artifact",
        "the mlgate-report-credit artifact",
        "--json",
        "-",
        cwd=governed_repo,
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # nothing but the JSON on stdout
    assert payload["markdown"] == str(out / "report.md")
    assert payload["html"] == str(out / "report.html")
    assert payload["summary"] == str(summary)
    assert (out / "report.md").read_text().startswith("❌ **blocked**")
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    printed = invoke(
        CliRunner(),
        "report",
        "credit",
        "--verdict",
        verdict_path,
        "--no-registry",
        "--format",
        "summary",
        cwd=governed_repo,
    )
    assert summary.read_text() == "earlier step\n" + printed.stdout, "the same text as --format summary"


GATES = """(() => {
  const heading = [...document.querySelectorAll('h2')].find(e => e.textContent === 'Gates');
  let height = 0;
  for (let n = heading.nextElementSibling; n && n.tagName !== 'H2'; n = n.nextElementSibling) {
    height += n.getBoundingClientRect().height;
  }
  const ids = [...document.querySelectorAll('table.gates td.rule code')];
  return {
    height,
    lines: ids.map(c => c.getClientRects().length),
    id_heights: ids.map(c => c.getBoundingClientRect().height),
    line_height: parseFloat(getComputedStyle(ids[0].closest('td')).lineHeight),
    first: document.querySelector('table.gates td.rule').textContent,
    overflow: Math.max(...[...document.querySelectorAll('table.gates')].map(
      t => t.getBoundingClientRect().right - heading.getBoundingClientRect().right)),
    summary: document.querySelector('details.passed summary').textContent,
  };
})()"""


def test_gate_table_is_compact_and_ids_unbroken_at_1280px(tmp_path: Path) -> None:
    """The credit verdict's gate table in Chromium at 1280x900: failures on top, passed rules folded.

    Measured with the former table (every rule a row, ids broken anywhere): 1831 px tall, rule-id
    cells up to 8 lines high. Now: 152 px folded and 880 px with the passed rules unfolded.
    """
    from browser import render, require_chromium

    require_chromium()
    page = tmp_path / "report.html"
    page.write_text(render_html(report_input()), encoding="utf-8")
    unfold = "document.querySelectorAll('details.passed').forEach(d => d.open = true); "
    shown = render(page, tmp_path / "shots", 1280, 900, measure={"folded": GATES, "unfolded": unfold + GATES})
    assert shown.console_errors == []
    folded, unfolded = shown.values["folded"], shown.values["unfolded"]
    assert folded["height"] < 300, folded
    assert unfolded["height"] < 1000, unfolded
    assert folded["first"] == "four-fifths", "the failed rule comes first"
    assert folded["summary"] == "14 rules passed"
    assert len(unfolded["lines"]) == len(verdict()["rules"])
    assert set(unfolded["lines"]) == {1}, "no rule id wraps"
    assert unfolded["overflow"] <= 0, "the table fits the page's width: the explanation column wraps instead"
    # each id is one line box (code's own padding aside): never taller than one line of the cell
    assert max(unfolded["id_heights"]) <= unfolded["line_height"] + 2, unfolded


def test_the_model_card_names_the_fairness_section_only_when_it_is_there() -> None:
    """Issue #23: "per-group rates under 'Fairness by group'" was written with no such section."""
    with_tables = render_markdown(report_input()).text
    assert "#### Fairness by group" in with_tables
    assert 'per-group rates under "Fairness by group"' in with_tables
    v = verdict()
    v["rules"] = [r for r in v["rules"] if r["family"] != "fairness"]
    without = render_markdown(report_input(v)).text
    assert "Fairness by group" not in without
    assert "no per-group rates: no fairness rule measured the sensitive features" in without
    none_declared = render_markdown(report_input(v, spec(sensitive_features=[]))).text
    assert "no per-group rates: no sensitive features declared" in none_declared


DVC_PARAMS = {
    "file": "dvc.yaml",
    "section": "train",
    "base": "a" * 40,
    "dvc": {"targets": ["train"], "upstream": ["featurize", "prepare"], "downstream": ["evaluate"]},
    "new": False,
    "changes": [
        {"param": "ngrams.max", "path": "features.yaml", "base": None, "head": 3, "change": "added"},
        {"param": "train.n_est", "path": "params.yaml", "base": 50, "head": 100, "change": "modified"},
        {"param": "train.seed", "path": "params.yaml", "base": 1, "head": None, "change": "removed"},
    ],
    "metrics": {
        "files": ["eval/metrics.json"],
        "rows": [
            {"file": "eval/metrics.json", "metric": "avg_prec", "base": 0.5, "head": 0.625, "change": 0.125},
            {"file": "eval/metrics.json", "metric": "roc_auc", "base": None, "head": 0.75, "change": None},
        ],
        "errors": {"eval/extra.json (base)": "not found"},
    },
}


def test_a_dvc_stage_models_params_and_pipeline_metrics_are_shown_as_dvc_shows_them() -> None:
    v = verdict() | {"evidence": {"params": DVC_PARAMS}}
    text = render_markdown(report_input(v)).text
    assert "#### Params vs base `aaaaaaaaaaaa` (DVC stage `train` and upstream `featurize`, `prepare`" in text
    assert "| Path | Param | Base | Head | Change |" in text
    assert "| params.yaml | train.n_est | 50 | 100 | modified |" in text
    assert "| features.yaml | ngrams.max | — | 3 | added |" in text
    assert "| params.yaml | train.seed | 1 | — | removed |" in text
    assert "No params changed" not in text
    assert "#### Pipeline metrics (`eval/metrics.json`)" in text
    assert "| eval/metrics.json | avg_prec | 0.5 | 0.625 | +0.125 |" in text
    assert "| eval/metrics.json | roc_auc | — | 0.75 | — |" in text
    assert "- `eval/extra.json (base)`: not found" in text
    html = render_html(report_input(v))
    assert "<td><code>params.yaml</code></td><td><code>train.n_est</code></td><td>50</td><td>100</td>" in html
    assert "<td><code>avg_prec</code></td><td>0.5</td><td>0.625</td><td>+0.125</td>" in html
    unchanged = copy.deepcopy(DVC_PARAMS) | {"changes": []}
    text = render_markdown(report_input(verdict() | {"evidence": {"params": unchanged}})).text
    assert "No params changed." in text


def test_evaluation_data_lists_the_holdout_file_not_the_training_file() -> None:
    """A train/holdout layout (a DVC pipeline's prepared outputs): the gates scored the holdout file only."""
    v = verdict()
    v["data"] = [
        {"role": "train", "path": "data/prepared/train.tsv", "md5": "a" * 32, "tracked_by": "dvc.lock:prepare"},
        {"role": "holdout", "path": "data/prepared/test.tsv", "md5": "b" * 32, "tracked_by": "dvc.lock:prepare"},
        {"role": "reference", "path": "data/reference.csv", "md5": "c" * 32, "tracked_by": "data/reference.csv.dvc"},
    ]
    text = render_markdown(report_input(v)).text
    [line] = [line for line in text.splitlines() if line.startswith("**Evaluation data.**")]
    assert line == f"**Evaluation data.** Holdout of `data/prepared/test.tsv` (md5 `{'b' * 32}`)."
    html = render_html(report_input(v))
    [listed] = re.findall(r"<dt>Evaluation data</dt><dd>(.*?)</dd>", html)
    assert "data/prepared/test.tsv" in listed
    assert "train.tsv" not in listed
    assert "reference.csv" not in listed


def test_dvc_params_and_metrics_tables_in_a_real_headless_browser(tmp_path: Path) -> None:
    """The DVC-stage report's params and pipeline-metrics tables render in Chromium without errors."""
    from browser import is_blank, render, require_chromium

    require_chromium()
    page = tmp_path / "report.html"
    page.write_text(render_html(report_input(verdict() | {"evidence": {"params": DVC_PARAMS}})), encoding="utf-8")
    shown = render(page, tmp_path / "shots")
    assert shown.console_errors == []
    assert shown.network_requests == []
    assert not is_blank(shown.screenshot)
    html = page.read_text()
    assert html.count('<table class="dvc-params">') == 1
    assert html.count('<table class="dvc-metrics">') == 1

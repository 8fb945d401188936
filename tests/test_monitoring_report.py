"""The monitoring report: the issue-comment Markdown (Mermaid trends, size cap) and the HTML page (SVG trends)."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlgate.report import MAX_RUNS, MONITORING_LIMIT, TOP_FEATURES, monitoring, monitoring_marker

render_markdown, render_html = monitoring.render_markdown, monitoring.render_html

NUMERIC = ["credit_amount", "duration", "age", "income", "installment_rate", "residence_since", "existing_credits"]
CATEGORICAL = [
    "purpose",
    "housing",
    "employment",
    "checking_status",
    "savings",
    "job",
    "personal_status",
    "property",
    "telephone",
    "foreign_worker",
    "other_payment_plans",
]
# PSI this run: credit_amount and purpose drifted, the rest is calm
PSI = {"credit_amount": 0.412, "purpose": 0.318, "duration": 0.187, "age": 0.061} | {
    name: round(0.004 + 0.003 * i, 4) for i, name in enumerate(NUMERIC[3:] + CATEGORICAL[1:])
}


def feature(name: str) -> dict[str, Any]:
    categorical = name in CATEGORICAL
    psi = PSI[name]
    return {
        "feature": name,
        "kind": "categorical" if categorical else "numeric",
        "psi": psi,
        "ks_statistic": None if categorical else round(0.35 * psi + 0.01, 4),
        "ks_pvalue": None if categorical else (1.2e-9 if psi > 0.1 else 0.43),
        "chi2_statistic": round(900 * psi, 2) if categorical else None,
        "chi2_pvalue": (3.1e-12 if psi > 0.1 else 0.71) if categorical else None,
        "unseen_categories": ["crypto", "green_energy", "solar_panels", "boat", "festival"]
        if name == "purpose"
        else [],
        "unseen_count": 37 if name == "purpose" else 0,
        "drifted": psi > 0.2,
        "reference_rows": 8000,
        "current_rows": 1204,
        "unseen_distinct": 5 if name == "purpose" else 0,
        "bins": 10 if not categorical else 6,
        "notes": [],
        "oov_rate": None,
        "reference_vocabulary": 0,
    }


def rule(rule_id: str, metric: str, observed: float | None, threshold: float, comparison: str, **extra: Any):
    status = extra.pop("status", None) or (
        "fail" if (observed > threshold if comparison == "max" else observed < threshold) else "pass"
    )
    severity = extra.pop("severity", "block")
    return {
        "family": extra.pop("family", "monitoring"),
        "rule_id": rule_id,
        "metric": metric,
        "observed": observed,
        "threshold": threshold,
        "comparison": comparison,
        "severity": severity,
        "status": status,
        "explanation": extra.pop(
            "explanation", f"{metric} {observed} {'above' if comparison == 'max' else 'below'} {threshold}"
        ),
        "description": extra.pop("description", ""),
        "blocking": severity == "block" and status in ("fail", "error"),
        "details": extra.pop("details", {}),
    }


def verdict() -> dict[str, Any]:
    features = [feature(n) for n in NUMERIC + CATEGORICAL]
    rules = [
        rule("psi-max", "psi", 0.412, 0.25, "max", family="drift", explanation="credit_amount PSI 0.412 > max 0.25"),
        rule("drift-share", "drifted_share", 0.1111, 0.3, "max", family="drift"),
        rule(
            "prediction-psi",
            "prediction_psi",
            0.2318,
            0.2,
            "max",
            severity="warn",
            explanation="prediction PSI 0.2318 > max 0.2: scores moved up",
        ),
        rule("volume-min", "volume", 1204.0, 500.0, "min"),
        rule("nulls", "null_fraction", 0.012, 0.05, "max", family="integrity"),
        rule("est-auc", "estimated_roc_auc", 0.771, 0.7, "min"),
        rule(
            "auc-min",
            "roc_auc",
            None,
            0.72,
            "min",
            family="performance",
            status="skipped",
            explanation="no labels yet: outcomes arrive after 30 days",
        ),
    ]
    return {
        "schema": "mlgate.monitoring/1",
        "model": "credit",
        "stage": "production",
        "version": 2,
        "run_id": "8f14e45fceea167a5a36dedd4bea2543",
        "status": "fail",
        "counts": {"pass": 4, "fail": 2, "error": 0, "skipped": 1, "warnings": 1, "blocking": 1},
        "window": {"from": "2026-11-22T00:00:00Z", "to": "2026-11-29T00:00:00Z"},
        "sources": [
            {
                "kind": "audit",
                "where": "postgresql://mlgate@db/audit",
                "rows": 1204,
                "notes": ["41 refused requests left out"],
            }
        ],
        "reference": {
            "kind": "training",
            "path": "data/credit.csv",
            "md5": "c4ca4238a0b923820dcc509a6f75849b",
            "rows": 8000,
        },
        "rows": 1204,
        "metrics": {
            "drifted_share": 0.1111,
            "psi": 0.412,
            "ks_statistic": 0.1542,
            "chi2_pvalue": 3.1e-12,
            "null_fraction": 0.012,
            "prediction_psi": 0.2318,
            "prediction_ks_statistic": 0.1473,
            "volume": 1204.0,
            "label_coverage": 0.0,
            "estimated_accuracy": 0.8123,
            "estimated_roc_auc": 0.771,
        },
        "features": features,
        "prediction": {"psi": 0.2318, "ks_statistic": 0.1473, "reference_mean": 0.214, "current_mean": 0.287},
        "labels": {"rows": 0, "coverage": 0.0, "delay_days": 30, "source": "data/outcomes.csv"},
        "estimated": {
            "method": "confidence",
            "accuracy": 0.8123,
            "roc_auc": 0.771,
            "calibration": {"method": "isotonic", "reason": "lowers the ECE", "reference_rows": 2000},
        },
        "rules": rules,
        "retrain": {
            "triggered": True,
            "reason": "drifted_share 0.1111 is below max 0.1? no: psi 0.412 above max 0.3",
            "when": {"metric": "psi", "max": 0.3},
        },
        "monitoring_run_id": "d3d9446802a44259755d38e6d163e820",
        "evaluated_at": "2026-11-29T06:00:12Z",
        "mlgate_version": "0.9.0",
        "seconds": {"read": 1.2, "drift": 0.4, "total": 2.1},
    }


def history(runs: int = 12, *, labelled: bool = True) -> list[dict[str, Any]]:
    """``runs`` weekly runs ending with the verdict's run; v1 until the 6th, then v2; drift growing."""
    end = datetime(2026, 11, 29, 6, 0, 12, tzinfo=UTC)
    out = []
    for i in range(runs):
        age = runs - 1 - i
        share = round(0.02 + 0.01 * i, 4) if age else 0.1111
        top = round(0.05 + 0.03 * i, 4) if age else 0.412
        metrics = {
            "drifted_share": share,
            "psi": top,
            "prediction_psi": round(0.03 + 0.015 * i, 4) if age else 0.2318,
            "volume": float(1100 + 17 * i) if age else 1204.0,
            "estimated_roc_auc": round(0.80 - 0.003 * i, 4) if age else 0.771,
            "estimated_accuracy": round(0.83 - 0.002 * i, 4) if age else 0.8123,
        }
        if labelled:  # realised AUC: known for the runs whose outcomes have arrived (30 days)
            metrics["roc_auc"] = round(0.79 - 0.004 * i, 4)
        metrics |= {f"psi.{name}": round(value * (i + 1) / runs, 4) for name, value in PSI.items()}
        out.append(
            {
                "run_id": "d3d9446802a44259755d38e6d163e820" if not age else f"{i:032x}",
                "evaluated_at": (end - timedelta(days=7 * age)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "version": 1 if i < 5 else 2,
                "status": "fail" if not age else ("warn" if i > 8 else "pass"),
                "metrics": metrics,
            }
        )
    return out


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```", text, flags=re.DOTALL)


def line_values(block: str) -> list[list[str]]:
    return [m.split(", ") for m in re.findall(r"^    line \[(.*)\]$", block, flags=re.MULTILINE)]


# ----------------------------------------------------------------------------- Markdown


def test_first_line_states_status_model_stage_version_rows_and_window() -> None:
    text = render_markdown(verdict(), history())
    lines = text.splitlines()
    assert lines[0] == "❌ **monitoring breach** — credit@production v2 · 1,204 rows · 2026-11-22 → 2026-11-29"
    assert lines[2].startswith("1 failed (block) · 1 warning · 4 passed · 1 skipped · 🔁 **retraining triggered**")
    assert lines[-1] == monitoring_marker("credit", "production")
    assert lines[-1] == "<!-- mlgate:monitoring-report model=credit stage=production -->"


def test_failed_rules_come_first_and_passed_ones_are_folded() -> None:
    text = render_markdown(verdict(), history())
    rows = [line for line in text.splitlines() if line.startswith(("| ❌", "| ✅", "| ⏭️"))]
    assert rows[0] == "| ❌ | `psi-max` | psi | 0.412 | max 0.25 | credit_amount PSI 0.412 &gt; max 0.25 |"
    assert rows[1].startswith("| ❌ (warn) | `prediction-psi` | prediction_psi | 0.2318 | max 0.2 |")
    first_table = text.index("#### Rules that failed")
    details = text.index("<details><summary>4 rule(s) passed, 1 skipped</summary>")
    assert first_table < details < text.index("| ✅ | `volume-min` | volume | 1,204 | min 500 |")
    assert "| ⏭️ | `auc-min` | roc_auc | — | min 0.72 | no labels yet" in text


def test_feature_table_is_sorted_by_psi_marks_drift_and_is_bounded() -> None:
    text = render_markdown(verdict(), history())
    rows = [line for line in text.splitlines() if re.match(r"^\| (⚠️)? \| \w+ \| (numeric|categorical) \|", line)]
    assert len(rows) == TOP_FEATURES
    assert rows[0] == "| ⚠️ | credit_amount | numeric | **0.412** | KS | 0.154 | 1.2e-09 | — |"
    assert rows[1] == (
        "| ⚠️ | purpose | categorical | **0.318** | χ² | 286 | 3.1e-12 | "
        "37 rows: crypto, green_energy, solar_panels +2 more |"
    )
    assert rows[2].startswith("|  | duration | numeric | 0.187 |"), "not drifted: PSI below the threshold"
    psis = [float(r.split(" | ")[3].strip("*")) for r in rows]
    assert psis == sorted(psis, reverse=True)
    assert "#### Feature drift: 2 of 18 features drifted" in text
    assert "3 more feature(s), none drifted: in the HTML monitoring report." in text


def test_sections_say_prediction_drift_volume_labels_and_estimates_plainly() -> None:
    text = render_markdown(verdict(), history())
    assert "PSI **0.232** · KS statistic 0.147 · mean score 0.214 (reference) → 0.287 (production)" in text
    assert "❌ rule `prediction-psi` max 0.2 (warn)" in text
    assert "1,204 rows in the window 2026-11-22 → 2026-11-29 · ✅ rule `volume-min` min 500." in text
    assert "| audit | postgresql://mlgate@db/audit | 1,204 | 41 refused requests left out |" in text
    assert "Reference: the version's training data `data/credit.csv` (md5 `c4ca4238a0b9`, 8,000 rows)." in text
    assert "Data quality: null_fraction 0.012 ✅ rule `nulls` max 0.05." in text
    assert "**No labels yet**: none of the 1,204 rows has an outcome (outcomes arrive after 30 days" in text
    assert "**Estimated without labels** (method `confidence`): accuracy 0.812, ROC AUC 0.771 ✅ rule `est-auc`" in text
    assert "calibrated on the labelled reference when they need it (isotonic, as NannyML's CBPE)" in text
    assert "Scores calibrated (isotonic, as NannyML) on 2000 labelled reference rows." in text
    uncalibrated = verdict()
    uncalibrated["estimated"]["calibration"] = {"method": "none", "reason": "calibrated", "reference_rows": 2000}
    assert "Scores calibrated" not in render_markdown(uncalibrated, history())
    assert "Scores calibrated (isotonic, as NannyML) on 2000 labelled reference rows." in render_html(verdict(), [])
    assert "🔁 **Retraining triggered**" in text
    assert "(trigger: `psi` max 0.3)" in text
    assert (
        "Monitoring run `d3d9446802a44259755d38e6d163e820` · training run `8f14e45fceea167a5a36dedd4bea2543` (v2)"
        in text
    )


def test_labelled_performance_shows_coverage_and_delay() -> None:
    v = verdict()
    v["labels"] = {"rows": 512, "coverage": 0.4252, "delay_days": 30, "source": "data/outcomes.csv"}
    v["metrics"] |= {"roc_auc": 0.7481, "accuracy": 0.801, "label_coverage": 0.4252}
    v["rules"][-1] = rule("auc-min", "roc_auc", 0.7481, 0.72, "min", family="performance")
    text = render_markdown(v, history())
    assert (
        "**Labelled**: 512 rows have an outcome (coverage 42.5%; outcomes arrive after 30 days, from "
        "`data/outcomes.csv`): accuracy 0.801, roc_auc 0.748 ✅ rule `auc-min` min 0.72." in text
    )
    v["labels"] = None
    assert "**No labels yet**: no label source is configured" in render_markdown(v, history())


def test_mermaid_trends_have_one_value_per_run_and_draw_the_thresholds() -> None:
    runs = history(12)
    text = render_markdown(verdict(), runs)
    blocks = mermaid_blocks(text)
    titles = [re.search(r'title "(.*)"', b).group(1) for b in blocks]
    assert titles == ["Feature drift", "Prediction drift", "ROC AUC: estimated vs realised", "Volume"]
    for block in blocks:
        assert block.startswith("xychart-beta\n")
        labels = re.search(r"x-axis \[(.*)\]", block).group(1).split(", ")
        assert len(labels) == len(runs)
        assert all(re.fullmatch(r'"[A-Za-z0-9 :#]+"', label) for label in labels), labels
        assert re.search(r'^    y-axis "[^"]+" -?[\d.]+ --> [\d.]+$', block, flags=re.MULTILINE)
        for values in line_values(block):
            assert len(values) == len(runs)
            assert all(re.fullmatch(r"-?\d+(\.\d+)?", value) for value in values), values
    drift, prediction, auc, volume = (line_values(b) for b in blocks)
    # drifted share, max PSI, then the flat thresholds of `psi-max` (0.25) and `drift-share` (0.3)
    assert len(drift) == 4
    assert drift[1][-1] == "0.412"
    assert drift[0][-1] == "0.1111"
    assert set(drift[2]) == {"0.25"}
    assert set(drift[3]) == {"0.3"}
    assert len(prediction) == 2
    assert set(prediction[1]) == {"0.2"}
    assert len(auc) == 4, "estimated, realised, est-auc's min 0.7 and auc-min's 0.72"
    assert set(auc[2]) == {"0.7"}
    assert set(auc[3]) == {"0.72"}
    assert volume[0][-1] == "1204"
    assert set(volume[1]) == {"500"}
    assert '"Nov 29"' in blocks[0]
    assert '"Sep 13"' in blocks[0]
    assert '"Oct 18 v2"' in blocks[0], "the run where the monitored version changed says so"
    assert "lines in order: drifted share, max PSI; flat: psi max 0.25 (rule `psi-max`)" in text
    assert "Status per run, oldest → newest: ✅ ✅ ✅ ✅ ✅ ✅ ✅ ✅ ✅ ⚠️ ⚠️ ❌" in text


def test_trends_keep_the_last_runs_and_add_the_current_run_when_missing() -> None:
    runs = history(30)
    blocks = mermaid_blocks(render_markdown(verdict(), runs))
    assert all(len(v) == MAX_RUNS for b in blocks for v in line_values(b))
    # history read before this run was recorded: the verdict is the last point
    earlier = history(5)[:-1]
    blocks = mermaid_blocks(render_markdown(verdict(), earlier))
    assert [len(v) for v in line_values(blocks[0])] == [5, 5, 5, 5]
    assert line_values(blocks[0])[1][-1] == "0.412"


def test_a_line_missing_from_some_runs_is_not_drawn_in_mermaid_but_said() -> None:
    runs = history(8)
    for run in runs[-4:]:  # the outcomes of the last 4 runs have not arrived
        del run["metrics"]["roc_auc"]
    text = render_markdown(verdict(), runs)
    auc = next(b for b in mermaid_blocks(text) if "ROC AUC" in b)
    assert len(line_values(auc)) == 2, "estimated and its threshold only: realised and its threshold are left out"
    assert "flat: estimated_roc_auc min 0.7 (rule `est-auc`)." in text
    assert "Not drawn: realised ROC AUC, known for 4 of 8 runs (the HTML report draws it)." in text


@pytest.mark.parametrize("runs", [[], "one"])
def test_first_run_says_the_trend_starts_with_the_second(runs: Any) -> None:
    history_ = history(1) if runs == "one" else []
    text = render_markdown(verdict(), history_)
    assert mermaid_blocks(text) == []
    assert "The first monitoring run of credit@production: trend from the second run on." in text
    assert "PSI per run of the features" not in text


def test_per_feature_psi_trend_sparklines_share_a_scale() -> None:
    text = render_markdown(verdict(), history(12))
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| (\w+) \| `([▁▂▃▄▅▆▇█·]+)` \| ", text, flags=re.MULTILINE)}
    assert list(rows) == ["credit_amount", "purpose", "duration"], "drifted, or above half of psi-max's 0.25"
    assert rows["credit_amount"] == "▁▂▃▃▄▅▅▆▇▇██"
    assert len(rows["duration"]) == 12
    assert rows["duration"] == "▁▁▁▂▂▂▃▃▃▄▄▄", "a calmer feature stays lower on the shared scale"
    assert "shared scale 0 – 0.412" in text


def test_warn_and_pass_headlines() -> None:
    v = verdict() | {"status": "pass"}
    assert render_markdown(v, []).startswith("✅ **monitoring ok** — credit@production v2")
    v = verdict() | {"status": "warn", "window": {"from": "2026-11-28T06:00:00Z", "to": "2026-11-29T06:00:00Z"}}
    assert render_markdown(v, []).startswith(
        "⚠️ **monitoring warning** — credit@production v2 · 1,204 rows · 2026-11-28 06:00 → 2026-11-29 06:00 UTC"
    )


HOSTILE = "<script>alert(1)</script>"


def hostile_verdict() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    v = verdict()
    by_name = {f["feature"]: f for f in v["features"]}
    by_name["credit_amount"]["feature"] = HOSTILE
    by_name["purpose"]["feature"] = 'evil"] line [9 | `x`'
    by_name["purpose"]["unseen_categories"] = ["<img src=x onerror=alert(2)>", "a|b"]
    v["rules"][0]["explanation"] = f"{HOSTILE} | broke ``` the table"
    v["sources"][0]["notes"] = [HOSTILE]
    runs = history(6)
    for run in runs:
        run["metrics"][f"psi.{HOSTILE}"] = run["metrics"].pop("psi.credit_amount")
    return v, runs


def test_hostile_feature_names_are_escaped_and_break_nothing() -> None:
    v, runs = hostile_verdict()
    text = render_markdown(v, runs)
    assert "<script" not in text
    assert "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for block in mermaid_blocks(text):  # feature names never reach a chart
        assert "script" not in block
        assert "evil" not in block
        assert all(line.startswith(("xychart-beta", "    ")) for line in block.splitlines())
    assert text.count("```mermaid") == text.count("\n```\n") == 4, "every block closed, none added"
    row = next(line for line in text.splitlines() if "&lt;script&gt;" in line and "numeric" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 9, "8 columns: the escaped pipe is no separator"
    evil = next(line for line in text.splitlines() if line.startswith("| ⚠️ | evil"))
    assert len(re.findall(r"(?<!\\)\|", evil)) == 9
    html = render_html(v, runs)
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def huge_verdict(rules: int, features: int) -> dict[str, Any]:
    v = verdict()
    template = v["rules"][0]
    v["rules"] += [
        copy.deepcopy(template)
        | {
            "rule_id": f"generated-{i:04d}",
            "explanation": "a long explanation " * 40,
            "status": ("pass", "fail")[i % 2],
        }
        for i in range(rules)
    ]
    v["features"] += [
        feature("age") | {"feature": f"feature_{i:05d}_" + "x" * 60, "psi": 0.3, "drifted": True}
        for i in range(features)
    ]
    return v


@pytest.mark.parametrize(("rules", "features"), [(300, 50), (3000, 2000)])
def test_markdown_stays_under_the_cap_and_keeps_what_matters(rules: int, features: int) -> None:
    v = huge_verdict(rules, features)
    full = render_markdown(v, history(), limit=10**9)
    assert len(full) > MONITORING_LIMIT, "the case must need cutting"
    text = render_markdown(v, history())
    assert len(text) <= MONITORING_LIMIT
    assert text.startswith("❌ **monitoring breach** — credit@production v2")
    assert "> ✂️ Shortened to fit a GitHub comment: the per-feature PSI trends, the passed and skipped rules" in text
    assert "| ❌ | `psi-max` |" in text, "the first failed rule stays"
    assert text.rstrip("\n").endswith(monitoring_marker("credit", "production"))
    assert "```mermaid" in text, "the trends stay"
    if rules == 3000:
        dropped = re.search(r"… and (\d+) more failing rule\(s\)", text)
        assert dropped
        assert int(dropped.group(1)) > 0
    assert len(render_markdown(verdict(), history())) < 20_000, "a normal report is far from the cap"
    assert "Shortened" not in render_markdown(verdict(), history())


# ----------------------------------------------------------------------------- HTML


def svg(html: str, chart: str) -> str:
    return re.search(rf'<svg [^>]*data-chart="{chart}".*?</svg>', html, flags=re.DOTALL).group(0)


def polyline_points(chart: str) -> dict[str, int]:
    return {
        m.group(1): len(m.group(2).split())
        for m in re.finditer(r'<polyline class="series" data-metric="([^"]+)" points="([^"]*)"', chart)
    }


def test_html_is_standalone_with_svg_trends_one_point_per_run() -> None:
    runs = history(12)
    html = render_html(verdict(), runs)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no network fetches"
    assert "<title>mlgate monitoring — credit@production v2: monitoring breach</title>" in html
    assert polyline_points(svg(html, "drift")) == {"drifted_share": 12, "psi": 12}
    assert polyline_points(svg(html, "prediction")) == {"prediction_psi": 12}
    assert polyline_points(svg(html, "performance")) == {"estimated_roc_auc": 12, "roc_auc": 12}
    assert polyline_points(svg(html, "volume")) == {"volume": 12}
    drift = svg(html, "drift")
    assert drift.count('class="threshold"') == 2
    assert "psi max 0.25" in drift
    assert "drifted_share max 0.3" in drift
    assert "share / PSI" in drift
    assert "Nov 29" in drift
    assert drift.count('class="version"') == 1, "v1 → v2 is marked"
    # a line missing from some runs: only its known points
    for run in runs[-4:]:
        del run["metrics"]["roc_auc"]
    assert polyline_points(svg(render_html(verdict(), runs), "performance")) == {"estimated_roc_auc": 12, "roc_auc": 8}


def test_html_threshold_line_sits_at_the_threshold_value() -> None:
    chart = svg(render_html(verdict(), history(12)), "volume")
    ticks = {
        float(m.group(2).replace(",", "")): float(m.group(1))
        for m in re.finditer(r'<text x="58" y="([\d.]+)" text-anchor="end" font-size="11">([\d,.]+)</text>', chart)
    }
    (low, y_low), (high, y_high) = min(ticks.items()), max(ticks.items())
    threshold_y = float(re.search(r'class="threshold" x1="\d+" y1="([\d.]+)"', chart).group(1))
    expected = y_low + (500 - low) * (y_high - y_low) / (high - low) - 4  # tick labels sit 4 px below their line
    assert threshold_y == pytest.approx(expected, abs=0.2)


def test_html_feature_table_has_every_feature_and_sparklines_for_the_top() -> None:
    html = render_html(verdict(), history(12))
    table = re.search(r'<table class="features">.*?</table>', html, flags=re.DOTALL).group(0)
    names = re.findall(r'<td class="feature">(.*?)</td>', table)
    assert len(names) == 18
    assert names[:3] == ["credit_amount", "purpose", "duration"]
    sparks = re.findall(r'<svg [^>]*class="spark".*?</svg>', table, flags=re.DOTALL)
    assert len(sparks) == 18
    assert len(re.search(r'points="([^"]*)"', sparks[0]).group(1).split()) == 12
    assert "crypto, green_energy, solar_panels" in table
    assert html.count('<tr class="drifted">') == 2


def test_html_first_run_says_trend_from_the_second_run_on() -> None:
    html = render_html(verdict(), [])
    assert "trend from the second run on" in html
    assert '<polyline class="series"' not in html


# ----------------------------------------------------------------------------- in a browser


PAGE = """(() => {
  const doc = document.documentElement;
  const charts = [...document.querySelectorAll('svg.trend')].map(s => {
    const r = s.getBoundingClientRect();
    return {chart: s.dataset.chart, width: r.width, height: r.height, right: r.right};
  });
  return {
    overflow: doc.scrollWidth - doc.clientWidth,
    charts,
    first: document.querySelector('table.gates td.rule').textContent,
    status: document.querySelector('p.status').textContent,
  };
})()"""


def test_html_monitoring_report_in_a_real_headless_browser(tmp_path: Path) -> None:
    """Chromium at 1280 px: no errors, no requests, no horizontal overflow, every trend chart visible."""
    from browser import is_blank, png_stats, render, require_chromium

    require_chromium()
    page = tmp_path / "monitoring.html"
    v, runs = hostile_verdict()
    page.write_text(render_html(v, runs), encoding="utf-8")
    shown = render(page, tmp_path / "shots", 1280, 2000, measure={"page": PAGE})
    assert shown.console_errors == []
    assert shown.network_requests == []
    assert not is_blank(shown.screenshot)
    assert png_stats(shown.screenshot).ink > 0.02, "tables and charts"
    values = shown.values["page"]
    assert values["overflow"] <= 0, values
    assert [c["chart"] for c in values["charts"]] == ["drift", "prediction", "performance", "volume"]
    assert all(c["width"] > 400 and c["height"] > 200 and c["right"] <= 1280 for c in values["charts"]), values
    assert values["first"] == "psi-max"
    assert values["status"].startswith("fail monitoring breach")
    assert HOSTILE in shown.text, "shown as text, never run"

"""Judging measurements against rules, and the overall status: pure, no data needed."""

from __future__ import annotations

import pytest

from mlgate.config import DocumentationRule, PerformanceRule
from mlgate.gates import Measurement, Verdict, documentation, judge, performance


def rule(**kwargs: object) -> PerformanceRule:
    return PerformanceRule.model_validate({"metric": "roc_auc", **kwargs})


@pytest.mark.parametrize(
    ("given", "observed", "status"),
    [
        ({"min": 0.7}, 0.71, "pass"),
        ({"min": 0.7}, 0.7, "pass"),  # thresholds are inclusive
        ({"min": 0.7}, 0.69, "fail"),
        ({"max": 0.2}, 0.2, "pass"),
        ({"max": 0.2}, 0.21, "fail"),
        ({"max_regression": 0.02}, 0.019, "pass"),
        ({"max_regression": 0.02}, 0.021, "fail"),
    ],
)
def test_comparisons(given: dict[str, float], observed: float, status: str) -> None:
    result = judge("performance", rule(**given), "r", Measurement(observed, "x"), required=True)
    assert result.status == status
    assert result.blocking is (status == "fail")


def test_failed_warn_rule_does_not_block() -> None:
    result = judge("performance", rule(min=0.9, severity="warn"), "r", Measurement(0.5, "x"), required=True)
    assert (result.status, result.blocking) == ("fail", False)
    assert "needs ≥ 0.9" in result.explanation


def test_error_fails_closed_and_nan_is_an_error() -> None:
    errored = judge("performance", rule(min=0.5), "r", Measurement.failed("one class"), required=True)
    assert (errored.status, errored.blocking, errored.explanation) == ("error", True, "one class")
    nan = judge("performance", rule(min=0.5), "r", Measurement(float("nan"), "x"), required=True)
    assert nan.status == "error"
    assert "NaN" in nan.explanation


def test_missing_measurement_is_skipped_with_its_reason() -> None:
    result = judge("performance", rule(max_regression=0.1), "r", None, required=True, skip_reason="no champion yet")
    assert (result.status, result.blocking, result.explanation) == ("skipped", False, "no champion yet")


def test_family_not_required_for_the_stage_cannot_block() -> None:
    result = judge("performance", rule(min=0.9), "r", Measurement(0.5, "x"), required=False)
    assert (result.status, result.blocking) == ("fail", False)


def verdict(*results: object) -> Verdict:
    return Verdict(
        model="m",
        version=1,
        run_id="r",
        stage=None,
        commit="c",
        policy={},
        data=[],
        trained_on={},
        metrics={},
        champion=None,
        rules=list(results),
        required_families=[],
        evaluated_at="t",
        mlgate_version="0",
    )


def test_overall_status_and_counts() -> None:
    ok = judge("performance", rule(min=0.5), "a", Measurement(0.6, "x"), required=True)
    warn = judge("performance", rule(min=0.9, severity="warn"), "b", Measurement(0.6, "x"), required=True)
    block = judge("fairness", rule(min=0.9), "c", Measurement(0.6, "x"), required=True)
    skipped = judge("performance", rule(max_regression=0.1), "d", None, required=True, skip_reason="none")
    assert verdict(ok).status == "pass"
    assert verdict(ok, warn, skipped).status == "warn"
    both = verdict(ok, warn, block, skipped)
    assert both.status == "fail"
    assert both.counts == {"pass": 1, "fail": 2, "error": 0, "skipped": 1, "warnings": 1, "blocking": 1}
    assert both.family_status("fairness") == "fail"
    assert both.family_status("performance") == "warn"
    assert both.family_status("drift") == "none"
    rules = both.as_dict()["rules"]
    assert rules[0]["rule_id"] == "c", "blocking failures come first"


def test_regression_direction_depends_on_the_metric() -> None:
    up = performance.regression("roc_auc", {"roc_auc": 0.80}, {"roc_auc": 0.83}, 1)
    assert up.value == pytest.approx(0.03)
    down = performance.regression("rmse", {"rmse": 10.0}, {"rmse": 12.0}, 1)
    assert down.value == pytest.approx(-2.0)
    assert "no worse" in down.explanation


def test_documentation_field_must_be_non_blank(tmp_path) -> None:
    from conftest import PROJECT
    from mlgate.config import ModelSpec, load
    from mlgate.config import parse_model as parse

    spec = parse(ModelSpec, load(PROJECT / "models/credit/model.yaml"))
    assert documentation.documented(spec, "monitoring.owner").value == 1.0
    blank = spec.model_copy(update={"monitoring": spec.monitoring.model_copy(update={"owner": "  "})})
    measured = documentation.documented(blank, "monitoring.owner")
    assert measured.value == 0.0
    assert "models/credit/model.yaml" in measured.explanation
    result = judge("documentation", DocumentationRule(field="monitoring.owner"), "d", measured, required=True)
    assert result.status == "fail"


def test_statuses_serialise_as_plain_strings() -> None:
    """The enums are StrEnums: the verdict JSON holds their values, as before they existed."""
    import json

    from mlgate import jsonout

    ok = judge("performance", rule(min=0.5), "a", Measurement(0.6, "x"), required=True)
    block = judge("fairness", rule(min=0.9), "c", Measurement(0.6, "x"), required=True)
    payload = verdict(ok, block).as_dict()
    text = jsonout.dumps(payload)
    loaded = json.loads(text)
    assert (loaded["status"], loaded["families"]["fairness"], loaded["families"]["drift"]) == ("fail", "fail", "none")
    assert sorted(rule["status"] for rule in loaded["rules"]) == ["fail", "pass"]
    assert "Status." not in text
    assert text == jsonout.dumps(json.loads(text)), "same JSON as from plain strings"
    assert [type(k) for k in payload["counts"]] == [str] * len(payload["counts"])

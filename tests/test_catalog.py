"""The metric catalog is the one list of metrics: the computing code matches it, both ways."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest

from mlgate.config import catalog, schema
from mlgate.gates import classification_metrics, drift, fairness, regression_metrics
from mlgate.gates.integrity import native

RNG = np.random.default_rng(0)


def binary() -> tuple[dict[str, float], dict[str, float]]:
    """Metrics of a perfect and of a poor binary classifier."""
    y = np.array([0, 1] * 20)
    perfect = np.column_stack([1.0 - y, y.astype(float)]) * 0.9 + 0.05
    p = RNG.uniform(0.3, 0.7, len(y))
    poor = np.column_stack([p, 1 - p])
    return (classification_metrics(y, perfect, [0, 1], 1), classification_metrics(y, poor, [0, 1], 1))


def multiclass() -> dict[str, float]:
    y = np.array([0, 1, 2] * 10)
    proba = RNG.dirichlet(np.ones(3), len(y))
    return classification_metrics(y, proba, [0, 1, 2], None)


def regression() -> tuple[dict[str, float], dict[str, float]]:
    y = RNG.uniform(1, 10, 50)
    return regression_metrics(y, y + RNG.normal(0, 0.01, 50)), regression_metrics(y, y[::-1])


def test_every_performance_metric_is_computed_and_nothing_else() -> None:
    good, _ = binary()
    assert set(good) == set(catalog.CLASSIFICATION_METRICS)
    assert set(multiclass()) == set(catalog.CLASSIFICATION_METRICS)
    assert set(regression()[0]) == set(catalog.REGRESSION_METRICS)


def test_the_other_families_compute_exactly_the_catalog() -> None:
    assert set(fairness._METRICS) == set(catalog.names("fairness"))
    assert set(drift._DRIFT_METRICS) == set(catalog.names("drift"))
    assert set(native._MEASURES) == set(catalog.NATIVE_INTEGRITY_METRICS)
    assert set(catalog.names("integrity")) - set(catalog.NATIVE_INTEGRITY_METRICS) == {"deepchecks"}


def test_directions_and_ranges_hold_for_computed_values() -> None:
    """A good model beats a poor one in the catalog's direction; every value lies in range."""
    for good, poor in (binary(), regression()):
        for name, value in good.items():
            metric = catalog.BY_NAME[name]
            better = value < poor[name] if metric.better == "lower" else value > poor[name]
            assert better, f"{name}: {value} vs {poor[name]}, {metric.better} should be better"
            for computed in (value, poor[name]):
                low, high = metric.range or (None, None)
                assert low is None or computed >= low, name
                assert high is None or computed <= high, name


def test_the_policy_schema_and_tables_are_derived_from_the_catalog() -> None:
    assert get_args(schema.PerformanceMetric) == catalog.CLASSIFICATION_METRICS + catalog.REGRESSION_METRICS
    assert get_args(schema.FairnessMetric) == catalog.names("fairness")
    assert get_args(schema.DriftMetric) == catalog.names("drift")
    assert get_args(schema.IntegrityMetric) == catalog.names("integrity")
    lower = catalog.LOWER_IS_BETTER & set(catalog.names("performance"))
    assert lower == {"log_loss", "brier", "rmse", "mae", "mape"}
    bounded_monitoring = {"volume", "estimated_accuracy", "estimated_roc_auc", "label_coverage"}
    assert set(catalog.METRIC_RANGES) == set(catalog.names("performance") + catalog.names("fairness")) | (
        bounded_monitoring
    )
    assert set(get_args(schema.MonitoringMetric)) >= set(catalog.names("monitoring")) | set(catalog.names("drift"))
    assert catalog.METRIC_ALIASES["auc"] == "roc_auc"
    assert len(catalog.BY_NAME) == len(catalog.METRICS), "a metric name is listed twice"


@pytest.mark.parametrize("alias", sorted(catalog.METRIC_ALIASES))
def test_an_alias_is_no_metric_name(alias: str) -> None:
    assert alias not in catalog.BY_NAME


def test_mlgate_monitor_computes_every_metric_a_monitoring_rule_can_name() -> None:
    """Every monitoring-family metric, and the drift, quality and performance ones a rule may name."""
    import pandas as pd

    from mlgate.config import DriftSettings, Features
    from mlgate.monitoring import AT, LABEL, SCORE, Labelled, Measurements, Subject, Traffic

    rows = 400
    reference = pd.DataFrame({"x": RNG.normal(size=rows), "c": RNG.choice(["a", "b"], rows)})
    current = pd.DataFrame({"x": RNG.normal(0.5, 1, rows), "c": RNG.choice(["a", "b", "new"], rows)})
    score = RNG.uniform(0, 1, rows)
    at = pd.Series(pd.Timestamp("2025-01-01", tz="UTC"), index=range(rows))
    traffic = Traffic(pd.DataFrame({SCORE: score, AT: at}), current, [], {})
    outcomes = pd.DataFrame({SCORE: score, AT: at, LABEL: (RNG.uniform(0, 1, rows) < score).astype(int)})
    labelled = Labelled(outcomes, rows, rows, 0, "test")
    subject = Subject(
        "classification", [0, 1], 1, 0.5, Features(numeric=["x"], categorical=["c"]), [("x", "double"), ("c", "string")]
    )
    measured = Measurements(subject, reference, RNG.uniform(0, 1, rows), traffic, labelled, DriftSettings())
    computed = set(measured.all_metrics())
    assert set(catalog.names("monitoring")) <= computed
    not_here = {"oov_rate"} | set(catalog.REGRESSION_METRICS)  # no text feature; a classifier
    assert computed == set(schema.MONITORING_METRICS) - not_here

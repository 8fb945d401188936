"""mlgate's CBPE estimate against NannyML 0.13's own ``CBPE`` (calibration on, its default), to 1e-6.

nannyml itself is installed by ``scripts/setup-venv`` with ``--no-deps`` (it declares lightgbm<4.6
and Python <3.13, neither of which its CBPE needs); the packages ``import nannyml`` needs are in the
``test`` extra. Its usage analytics (Segment) are off: ``NML_DISABLE_USAGE_LOGGING`` is the variable
``nannyml/usage_logging.py`` (``UsageLogger.log``) reads before each event, and every test checks
that no event reached Segment's client.

One NannyML chunk is the whole analysis window (``chunk_number=1``: one chunk of all rows), the
window ``mlgate monitor`` estimates over; the decisions are the model's (``score >= threshold``, as
mlgate decides), given to NannyML as ``y_pred``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from conftest import PROJECT
from mlgate.monitoring import TOLERANCE, calibration, estimate

pytestmark = [
    # one chunk is the whole analysis window on purpose (NannyML warns below 6 chunks)
    pytest.mark.filterwarnings("ignore:The resulting number of chunks is too low:UserWarning"),
    # pandas 3 deprecations (e.g. dropna(inplace=True)) raised from NannyML's own code
    pytest.mark.filterwarnings(r"ignore::DeprecationWarning:nannyml\..*"),
]

ADULT = PROJECT / "tests" / "data" / "predictions" / "adult_scores.csv"  # UCI Adult's test rows (SOURCES.md)


@pytest.fixture(scope="module")
def nannyml() -> Iterator[ModuleType]:
    """NannyML 0.13, its usage analytics off; skipped when not installed, and a failure under ``CI=true``."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NML_DISABLE_USAGE_LOGGING", "1")
        try:
            import nannyml
        except ImportError as err:
            hint = f"nannyml is not installed ({err}); scripts/setup-venv test installs it"
            if os.environ.get("CI") == "true":
                pytest.fail(hint)
            pytest.skip(hint)
        assert nannyml.__version__.startswith("0.13."), nannyml.__version__
        yield nannyml


def no_usage_event_sent() -> bool:
    """True while NannyML has tracked nothing: Segment's client is created by the first event it tracks."""
    import segment.analytics

    return segment.analytics.default_client is None


def nannyml_cbpe(
    nannyml: ModuleType, reference: np.ndarray, reference_y: np.ndarray, analysis: np.ndarray, threshold: float
) -> tuple[bool, float, float]:
    """(calibrated?, estimated ROC AUC, estimated accuracy) of NannyML's CBPE on one chunk of the analysis rows."""
    cbpe = nannyml.CBPE(
        y_pred_proba="score",
        y_pred="decided",
        y_true="label",
        problem_type="classification_binary",
        metrics=["roc_auc", "accuracy"],
        chunk_number=1,
    )
    cbpe.fit(pd.DataFrame({"score": reference, "decided": (reference >= threshold).astype(int), "label": reference_y}))
    result = cbpe.estimate(pd.DataFrame({"score": analysis, "decided": (analysis >= threshold).astype(int)}))
    chunks = result.filter(period="analysis").to_df()
    assert len(chunks) == 1  # the whole window is one chunk
    assert (chunks["chunk", "start_index"].item(), chunks["chunk", "end_index"].item()) == (0, len(analysis) - 1)
    return bool(cbpe.needs_calibration), chunks["roc_auc", "value"].item(), chunks["accuracy", "value"].item()


Scores = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def forest() -> Scores:
    """(reference scores, their labels, analysis scores, their labels) of the demo's kind of model on UCI Adult.

    A RandomForestClassifier with scikit-learn's defaults (the credit spec names only the class),
    fitted on 5,000 rows; the reference and the analysis window are 5,000 and 5,060 other rows.
    """
    from sklearn.ensemble import RandomForestClassifier

    adult = pd.read_csv(ADULT)
    x = pd.get_dummies(adult[["age", "education_num", "hours_per_week", "sex", "race"]], dtype=float)
    y = (adult["income"] == ">50K").to_numpy().astype(int)
    rows = np.random.default_rng(42).permutation(len(adult))
    train, reference, analysis = rows[:5000], rows[5000:10000], rows[10000:]
    model = RandomForestClassifier(random_state=42, n_jobs=1).fit(x.iloc[train], y[train])
    score = model.predict_proba(x)[:, 1]
    return score[reference], y[reference], score[analysis], y[analysis]


@pytest.mark.parametrize("threshold", [0.5, 0.35])
def test_cbpe_equals_nannyml_on_a_forest_it_calibrates(nannyml: ModuleType, forest: Scores, threshold: float) -> None:
    reference, reference_y, analysis, analysis_y = forest
    calibrated, nannyml_auc, nannyml_accuracy = nannyml_cbpe(nannyml, reference, reference_y, analysis, threshold)
    fitted = calibration(reference, reference_y == 1)
    assert calibrated is fitted.applied is True  # a forest's votes are not probabilities: both calibrate
    est = estimate(analysis, threshold, fitted)
    assert est is not None
    assert est.rows == len(analysis)
    assert est.roc_auc == pytest.approx(nannyml_auc, abs=1e-6)
    assert est.accuracy == pytest.approx(nannyml_accuracy, abs=1e-6)
    assert no_usage_event_sent()
    # calibrated, the estimate follows the realised metrics; read as probabilities, the raw votes do not
    assert abs(est.roc_auc - roc_auc_score(analysis_y, analysis)) <= TOLERANCE
    assert abs(est.accuracy - accuracy_score(analysis_y, analysis >= threshold)) <= TOLERANCE
    raw = estimate(analysis, threshold)
    assert raw is not None
    assert abs(raw.roc_auc - roc_auc_score(analysis_y, analysis)) > TOLERANCE
    assert est.as_dict()["calibration"] == {
        "method": "isotonic",
        "reason": fitted.reason,
        "reference_rows": len(reference),
    }
    assert "lowers the ECE" in fitted.reason


def test_cbpe_equals_nannyml_on_scores_it_leaves_uncalibrated(nannyml: ModuleType) -> None:
    from nannyml.calibration import IsotonicCalibrator, needs_calibration
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    # a well-specified logistic model: for some samples isotonic calibration does not lower NannyML's
    # cross-validated ECE, so NannyML keeps the scores; the first such seed is the case
    for seed in range(20):
        x, y = make_classification(n_samples=6000, n_features=6, n_informative=3, flip_y=0, random_state=seed)
        model = LogisticRegression(max_iter=1000).fit(x[:2000], y[:2000])
        reference, analysis = model.predict_proba(x[2000:4000])[:, 1], model.predict_proba(x[4000:])[:, 1]
        if not needs_calibration(y[2000:4000], reference, IsotonicCalibrator()):
            break
    else:
        pytest.fail("no seed gave a reference NannyML leaves uncalibrated")
    calibrated, nannyml_auc, nannyml_accuracy = nannyml_cbpe(nannyml, reference, y[2000:4000], analysis, 0.5)
    fitted = calibration(reference, y[2000:4000] == 1)
    assert calibrated is fitted.applied is False
    assert "are calibrated" in fitted.reason
    est = estimate(analysis, 0.5, fitted)
    assert est is not None
    assert est.roc_auc == pytest.approx(nannyml_auc, abs=1e-6)
    assert est.accuracy == pytest.approx(nannyml_accuracy, abs=1e-6)
    assert no_usage_event_sent()


def test_the_calibration_decision_is_nannyml_s(nannyml: ModuleType, forest: Scores) -> None:
    from nannyml.calibration import IsotonicCalibrator, needs_calibration

    reference = forest[0]
    # labels drawn from the scores themselves: calibrated in truth, so whether isotonic lowers the
    # cross-validated ECE is down to the draw; each draw, mlgate decides as NannyML does
    decided = []
    for seed in range(6):
        truth = (np.random.default_rng(seed).random(len(reference)) < reference).astype(int)
        fitted = calibration(reference, truth == 1)
        assert fitted.applied is bool(needs_calibration(truth, reference, IsotonicCalibrator())), seed
        decided.append(fitted.applied)
    assert set(decided) == {True, False}
    # one class, or a perfect ranking: neither calibrates (nannyml/calibration.py needs_calibration)
    for truth, reason in [(np.zeros(len(reference), dtype=int), "one class"), (reference > 0.5, "exceeds 0.999")]:
        fitted = calibration(reference, truth == 1)
        assert fitted.applied is bool(needs_calibration(truth.astype(int), reference, IsotonicCalibrator())) is False
        assert reason in fitted.reason

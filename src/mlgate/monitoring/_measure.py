"""Every monitoring metric, measured with the pull-request gates' own code (one implementation).

- input drift: :func:`mlgate.gates.drift.feature_drift` on the reference and the production
  features, read out by :func:`~mlgate.gates.drift.drift_measurement` (PSI, KS, chi², drifted share);
- data quality: the native integrity functions (:func:`mlgate.gates.integrity.integrity_measurement`)
  on the production rows — ``null_fraction`` and ``duplicate_rows`` over them alone,
  ``constant_columns`` within them, ``unseen_categories`` and ``schema_mismatch`` against the
  reference and the version's signature;
- prediction drift: the same numeric PSI and KS on the positive-class probability (binary classifier)
  or the predicted value (regressor), reference scored by the version against production's scores;
  for a multiclass model on each class's probability (one-vs-rest), reported per class, a rule
  judging the largest over the classes (the class whose scores moved most);
- ``volume`` (rows measured), ``label_coverage``, performance on labelled rows
  (:mod:`mlgate.gates._metrics`) and the CBPE estimate (:mod:`mlgate.monitoring.estimate`).

Production rows have no target; the integrity functions compare rows on features and target,
so a constant stand-in column (:data:`NO_TARGET`) takes its place: it changes neither a null
fraction nor which rows are duplicates, and it is left out of the tables the verdict shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlgate.config import BY_NAME, DriftSettings, Features, names
from mlgate.exceptions import excerpt
from mlgate.gates import FeatureDrift, Measurement, Skip, classification_metrics, drift, integrity, regression_metrics
from mlgate.monitoring._estimate import NOT_CALIBRATED, Calibration, Estimate, estimate
from mlgate.monitoring._labels import LABEL, Labelled
from mlgate.monitoring._sources import SCORE, Traffic, probability_column
from mlgate.outcome import Failed

NO_TARGET = "__no_target"
QUALITY_METRICS = ("null_fraction", "duplicate_rows", "constant_columns", "unseen_categories", "schema_mismatch")
DRIFT_METRICS = names("drift")
PERFORMANCE_METRICS = names("performance")


@dataclass
class Subject:
    """What is measured: the version's task, classes, decision threshold, features and signature."""

    task: str
    classes: list[Any]
    positive: Any
    threshold: float  # decides the positive class (the spec's decision.threshold, else 0.5)
    features: Features
    signature: list[tuple[str, str]]
    calibration: Calibration = field(default=NOT_CALIBRATED)  # CBPE's map of scores to probabilities

    @property
    def binary(self) -> bool:
        """Whether probabilities of a positive class exist (CBPE, prediction drift on probabilities)."""
        return self.task == "classification" and len(self.classes) == 2

    @property
    def multiclass(self) -> bool:
        """A classifier of more than two classes: prediction drift is measured on each class's probability."""
        return self.task == "classification" and len(self.classes) > 2


def class_feature(label: Any) -> str:
    """How prediction drift names the probability of class ``label``."""
    return f"probability of {label!r}"


class Measurements:
    """Measures each monitoring metric once, on demand, from the reference and the traffic."""

    def __init__(
        self,
        subject: Subject,
        reference: pd.DataFrame,
        reference_scores: np.ndarray,
        traffic: Traffic,
        labelled: Labelled | None,
        settings: DriftSettings,
        reference_proba: np.ndarray | None = None,
    ) -> None:
        """Nothing is computed yet: each metric when first asked for, then cached.

        ``reference_proba``: a multiclass model's probability of each class on the reference rows (rows × classes).
        """
        self.subject, self.reference, self.reference_scores = subject, reference, reference_scores
        self.reference_proba = reference_proba
        self.traffic, self.labelled, self.settings = traffic, labelled, settings
        self._by_class: list[FeatureDrift] | Failed | None = None
        self.scores = traffic.rows[SCORE].to_numpy(dtype=float) if len(traffic.rows) else np.empty(0)
        self._drift: list[FeatureDrift] | Failed | None = None
        self._prediction: FeatureDrift | Failed | None = None
        self._performance: dict[str, float] | Skip | Failed | None = None
        self._estimate: Estimate | Skip | None = None
        self._estimated = False  # None is an answer (no scores), so a flag says whether it was computed

    # -- what production gave
    @property
    def current(self) -> pd.DataFrame | None:
        """The production features (None: no source gave them)."""
        return self.traffic.features

    @property
    def rows(self) -> int:
        """Rows of the measured version in the window."""
        return len(self.traffic.rows)

    def score_mean(self) -> float:
        """Mean production score (NaN without scores)."""
        return float(np.nanmean(self.scores)) if self.scores.size and not np.isnan(self.scores).all() else float("nan")

    def _columns(self, wanted: list[str] | None) -> Features:
        spec = self.subject.features
        keep = set(wanted) if wanted is not None else None

        def pick(listed: list[str]) -> list[str]:
            return [n for n in listed if keep is None or n in keep]

        return Features.model_construct(
            numeric=pick(spec.numeric), categorical=pick(spec.categorical), text=pick(spec.text)
        )

    # -- input drift
    def feature_table(self) -> list[FeatureDrift] | Failed:
        """Per-feature drift of production against the reference (or why there is none)."""
        if self._drift is None:
            if self.current is None or not len(self.current):
                self._drift = Failed("no production input features in the window (see the sources' notes)")
            else:
                f = self.subject.features
                try:
                    self._drift = drift.feature_drift(
                        self.reference, self.current, f.numeric, f.categorical, self.settings, text=f.text
                    )
                except ValueError as err:
                    self._drift = Failed(f"drift could not be computed: {err}")
        return self._drift

    def drift(self, metric: str, features: list[str] | None) -> Measurement:
        """One drift metric over the selected features (:func:`mlgate.gates.drift.drift_measurement`)."""
        table = self.feature_table()
        if isinstance(table, Failed):
            return Measurement.failed(table.reason)
        return drift.drift_measurement(table, metric, features, self.settings)

    # -- data quality
    def quality(self, metric: str, features: list[str] | None) -> Measurement:
        """A native integrity metric of the production rows (see the module docstring for which data)."""
        current = self.current
        if current is None or not len(current):
            return Measurement.failed("no production input features in the window (see the sources' notes)")
        unknown = [n for n in features or [] if n not in self.subject.features.all]
        if unknown:
            known = ", ".join(self.subject.features.all)
            return Measurement.failed(f"rule names feature(s) the model does not have: {', '.join(unknown)} ({known})")
        f = self._columns(features)
        current = current.assign(**{NO_TARGET: 0})
        reference = self.reference.assign(**{NO_TARGET: 0})
        none = current.iloc[0:0]
        train, holdout = {
            "null_fraction": (none, current),
            "duplicate_rows": (none, current),
            "constant_columns": (current, none),
        }.get(metric, (reference, current))
        data = integrity.IntegrityData(
            train=train,
            holdout=holdout,
            numeric=f.numeric,
            categorical=f.categorical,
            text=f.text,
            target=NO_TARGET,
            signature=self.subject.signature if metric == "schema_mismatch" else None,
            scope="production",
        )
        measured = integrity.integrity_measurement(metric, data)
        table = measured.details.get("columns")
        if isinstance(table, list):
            shown = [r for r in table if not (isinstance(r, dict) and r.get("column") == NO_TARGET)]
            measured.details["columns"] = shown
        return measured

    # -- prediction drift
    def class_probabilities(self) -> np.ndarray:
        """Production's probability of each class (rows × classes; NaN where an output lacks it)."""
        rows = self.traffic.rows
        columns = [probability_column(c) for c in self.subject.classes]
        if not len(rows):
            return np.empty((0, len(columns)))
        return np.column_stack(
            [rows[c].to_numpy(dtype=float) if c in rows else np.full(len(rows), np.nan) for c in columns]
        )

    def prediction_by_class(self) -> list[FeatureDrift] | Failed:
        """A multiclass model's prediction drift: PSI and KS of each class's probability, reference vs production."""
        if self._by_class is None:
            current = self.class_probabilities()
            if not current.size or np.isnan(current).all():
                self._by_class = Failed("no production class probabilities in the window")
            elif self.reference_proba is None:
                self._by_class = Failed("the version gives no class probabilities on the reference data")
            else:
                names = [class_feature(c) for c in self.subject.classes]
                try:
                    self._by_class = drift.feature_drift(
                        pd.DataFrame(self.reference_proba, columns=names),
                        pd.DataFrame(current, columns=names),
                        names,
                        [],
                        self.settings,
                    )
                except ValueError as err:
                    self._by_class = Failed(f"prediction drift could not be computed: {err}")
        return self._by_class

    def class_summary(self, table: list[FeatureDrift]) -> list[dict[str, Any]]:
        """Per class: its PSI, KS statistic and mean probability on the reference and in production."""
        current = self.class_probabilities()
        reference = self.reference_proba if self.reference_proba is not None else np.empty((0, len(table)))
        return [
            {
                "class": label,
                "psi": fd.psi,
                "ks_statistic": fd.ks_statistic,
                "reference_mean": _mean(reference[:, at]),
                "current_mean": _mean(current[:, at]),
            }
            for at, (label, fd) in enumerate(zip(self.subject.classes, table, strict=True))
        ]

    def prediction(self) -> FeatureDrift | Failed:
        """PSI and KS of the model's score: reference (scored by the version) against production.

        A multiclass model's: the class whose probability drifted most (largest PSI; see :meth:`prediction_by_class`).
        """
        if self.subject.multiclass:
            table = self.prediction_by_class()
            return table if isinstance(table, Failed) else max(table, key=lambda fd: fd.psi)
        if self._prediction is None:
            if not self.scores.size or np.isnan(self.scores).all():
                self._prediction = Failed("no production scores in the window")
            else:
                what = "positive-class probability" if self.subject.task == "classification" else "predicted value"
                try:
                    self._prediction = drift.feature_drift(
                        pd.DataFrame({what: self.reference_scores}),
                        pd.DataFrame({what: self.scores}),
                        [what],
                        [],
                        self.settings,
                    )[0]
                except ValueError as err:
                    self._prediction = Failed(f"prediction drift could not be computed: {err}")
        return self._prediction

    def prediction_metric(self, metric: str) -> Measurement:
        """``prediction_psi`` or ``prediction_ks_statistic`` (a multiclass model's: the largest over its classes)."""
        if self.subject.multiclass:
            return self._class_prediction_metric(metric)
        found = self.prediction()
        if isinstance(found, Failed):
            return Measurement.failed(found.reason)
        value = found.psi if metric == "prediction_psi" else float(found.ks_statistic or 0.0)
        label = "PSI" if metric == "prediction_psi" else "KS statistic"
        text = (
            f"{label} {value:.3g} of the {found.feature} (reference mean {np.nanmean(self.reference_scores):.3g}, "
            f"production mean {self.score_mean():.3g}, {found.current_rows} rows)"
        )
        return Measurement(value=value, explanation=text, details={"prediction": found.as_dict()})

    def _class_prediction_metric(self, metric: str) -> Measurement:
        table = self.prediction_by_class()
        if isinstance(table, Failed):
            return Measurement.failed(table.reason)

        def value(fd: FeatureDrift) -> float:
            return fd.psi if metric == "prediction_psi" else float(fd.ks_statistic or 0.0)

        worst = max(table, key=value)
        label = "PSI" if metric == "prediction_psi" else "KS statistic"
        others = ", ".join(f"{fd.feature} {value(fd):.3g}" for fd in table if fd is not worst)
        text = (
            f"{label} {value(worst):.3g} of the {worst.feature}, the largest of {len(table)} classes "
            f"({worst.current_rows} rows; {others})"
        )
        details = {"prediction": worst.as_dict(), "classes": self.class_summary(table)}
        return Measurement(value=value(worst), explanation=text, details=details)

    # -- labels and performance
    def performance(self) -> dict[str, float] | Skip | Failed:
        """Performance metrics on the labelled rows; Skip while no outcome arrived, Failed when not computable."""
        if self._performance is None:
            self._performance = self._compute_performance()
        return self._performance

    def _compute_performance(self) -> dict[str, float] | Skip | Failed:
        labelled = self.labelled
        if labelled is None:
            return Skip("the spec names no monitoring.labels: performance needs outcomes")
        if not len(labelled.frame):
            return Skip(
                f"no production row has its outcome yet (outcomes take {labelled.delay_days} day(s); "
                f"{labelled.eligible} of {labelled.rows} rows are old enough; source {labelled.source})"
            )
        frame = labelled.frame
        score = frame[SCORE].to_numpy(dtype=float)
        subject = self.subject
        if subject.task != "classification":
            return regression_metrics(pd.to_numeric(frame[LABEL], errors="coerce"), score)
        if not subject.binary:
            # a multiclass model: realised performance is not measured here yet (the rule does not apply)
            return Skip("performance from the audit's positive-class probability needs a binary classifier")
        by_text = {str(c): c for c in subject.classes}
        y = frame[LABEL].map(lambda v: by_text.get(_text(v)))
        if y.isna().any():
            bad = frame[LABEL][y.isna()].iloc[0]
            known = ", ".join(map(str, subject.classes))
            return Failed(f"outcome {excerpt(bad)} is not a class of the model ({known})")
        pos, other = subject.positive, next(c for c in subject.classes if c != subject.positive)
        proba = np.empty((len(score), 2))
        proba[:, subject.classes.index(pos)] = score
        proba[:, subject.classes.index(other)] = 1.0 - score
        predicted = np.where(score >= subject.threshold, pos, other)
        return classification_metrics(y.to_numpy(), proba, subject.classes, pos, predicted)

    def performance_metric(self, metric: str) -> Measurement | Skip:
        """One performance metric on labelled rows; skipped (with the delay) when none has its outcome."""
        found = self.performance()
        if isinstance(found, Skip):
            return found
        if isinstance(found, Failed):  # outcomes that cannot be scored fail closed: the rule is an error
            return Measurement.failed(found.reason)
        if metric not in found:
            return Measurement.failed(f"{metric} is not computed for a {self.subject.task} model")
        value = found[metric]
        rows = len(self.labelled.frame) if self.labelled else 0
        return Measurement(value=value, explanation=f"{metric} = {value:.4g} on {rows} labelled production rows")

    def coverage(self) -> Measurement | Skip:
        """Share of the window's rows whose outcome arrived."""
        if self.labelled is None:
            return Skip("the spec names no monitoring.labels")
        coverage = self.labelled.coverage
        if coverage is None:
            return Measurement.failed("no production rows in the window")
        labelled = self.labelled
        text = (
            f"{len(labelled.frame)} of {labelled.rows} rows have their outcome ({coverage:.1%}); "
            f"{labelled.eligible} are older than the {labelled.delay_days}-day delay"
        )
        return Measurement(value=coverage, explanation=text)

    # -- estimated performance
    def estimated(self) -> Estimate | Skip | None:
        """CBPE of the production scores (None without rows; Skip for a model it does not apply to)."""
        if not self._estimated:
            if not self.subject.binary:
                self._estimate = Skip("confidence-based estimation needs a binary classifier's probabilities")
            else:
                self._estimate = estimate(self.scores, self.subject.threshold, self.subject.calibration)
            self._estimated = True
        return self._estimate

    def estimated_metric(self, metric: str) -> Measurement | Skip:
        """``estimated_accuracy`` or ``estimated_roc_auc`` (CBPE; assumes calibration, no concept drift)."""
        found = self.estimated()
        if isinstance(found, Skip):
            return found
        if found is None:
            return Measurement.failed("no production scores in the window")
        value = found.accuracy if metric == "estimated_accuracy" else found.roc_auc
        calibrated = "scores calibrated on the reference" if found.calibration.applied else "scores as probabilities"
        text = (
            f"{metric} = {value:.4g} by CBPE on {found.rows} rows ({calibrated}; "
            "assumes they hold in production and no concept drift)"
        )
        return Measurement(value=value, explanation=text)

    def volume(self) -> Measurement:
        """Rows of the measured version in the window."""
        rows = self.rows
        return Measurement(value=float(rows), explanation=f"{rows} predictions of the measured version in the window")

    # -- one entry point
    def measure(self, metric: str, features: list[str] | None = None) -> Measurement | Skip:
        """The measurement of ``metric`` (a monitoring rule's), by the family that computes it."""
        family = BY_NAME[metric].family
        if family == "drift":
            return self.drift(metric, features)
        if family == "integrity":
            return self.quality(metric, features)
        if family == "performance":
            return self.performance_metric(metric)
        if metric in ("prediction_psi", "prediction_ks_statistic"):
            return self.prediction_metric(metric)
        if metric == "volume":
            return self.volume()
        if metric == "label_coverage":
            return self.coverage()
        return self.estimated_metric(metric)

    def all_metrics(self) -> dict[str, float]:
        """Every metric that could be measured here (the verdict's ``metrics``, the MLflow run's)."""
        wanted = [*DRIFT_METRICS, *QUALITY_METRICS, *names("monitoring")]
        performance = self.performance()
        if isinstance(performance, dict):
            wanted += [m for m in PERFORMANCE_METRICS if m in performance]
        out: dict[str, float] = {}
        for metric in wanted:
            measured = self.measure(metric)
            if isinstance(measured, Measurement) and measured.error is None and measured.value is not None:
                out[metric] = float(measured.value)
        return out


def _mean(values: np.ndarray) -> float | None:
    """The mean of the values that are there (None when none is)."""
    return float(np.nanmean(values)) if values.size and not np.isnan(values).all() else None


def _text(value: Any) -> str:
    """An outcome as text, a whole float without ``.0`` (a CSV column with gaps reads as float)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)

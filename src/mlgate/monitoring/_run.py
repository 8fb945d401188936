"""``mlgate monitor MODEL --stage STAGE``: production traffic against the reference, judged by the policy.

1. The spec, the policy and the stage are checked (exit 2), the window resolved and the sources
   required, all before anything is opened;
2. ``models:/MODEL@STAGE`` is resolved once and loaded the governed way, as ``mlgate score`` and
   ``mlgate serve`` load it (:func:`mlgate.scoring.load_alias_version`, :func:`~mlgate.scoring.model_plan`);
3. the sources are read (:mod:`~mlgate.monitoring._sources`), the reference loaded and scored by that
   version (:mod:`~mlgate.monitoring._reference`), outcomes joined (:mod:`~mlgate.monitoring._labels`);
4. every metric is measured with the gates' code (:mod:`~mlgate.monitoring._measure`) and the policy's
   ``monitoring`` rules judged (:mod:`~mlgate.monitoring._verdict`);
5. the verdict is recorded as a run of the ``mlgate-monitoring`` experiment and linked from the
   version's tags. A registry that fails there is exit 3, but the verdict is returned to be written.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mlgate import __version__, jsonout
from mlgate.config import Workspace, load_model_context, refuse_predictions
from mlgate.data import model_input
from mlgate.exceptions import ExternalServiceError
from mlgate.gates import Status, decide
from mlgate.monitoring._estimate import NOT_CALIBRATED, Calibration, Estimate, calibration
from mlgate.monitoring._labels import join_label_chunks, join_labels
from mlgate.monitoring._measure import Measurements, Subject
from mlgate.monitoring._pushdown import PushedAudit, PushedMeasurements
from mlgate.monitoring._reference import load_reference
from mlgate.monitoring._sources import Served, configured, read_traffic
from mlgate.monitoring._verdict import MonitoringVerdict, evaluate_rules, retrain
from mlgate.monitoring._window import iso, resolve
from mlgate.outcome import Failed
from mlgate.registry import Registry
from mlgate.scoring import Plan, check_stage, custody, load_alias_version, model_plan

Progress = Callable[[str], None]


@dataclass
class MonitoringResult:
    """A monitoring verdict (its JSON), and whether recording it failed (then exit 3)."""

    verdict: dict[str, Any]
    recording_error: ExternalServiceError | None = None

    @property
    def status(self) -> str:
        """``pass``, ``warn`` or ``fail``."""
        return str(self.verdict["status"])

    @property
    def exit_code(self) -> int:
        """3 when the verdict could not be recorded, 1 when a blocking rule failed, else 0."""
        if self.recording_error is not None:
            return self.recording_error.exit_code
        return 1 if self.status == Status.FAIL else 0


class _Holder:
    """Keeps the downloaded model folder (``.name``, what :meth:`Registry.verified_folder` takes)."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)


def run(
    root: Path | Workspace,
    name: str,
    stage: str,
    *,
    since: str | None = None,
    window: str | None = None,
    tracking_uri: str | None = None,
    progress: Progress = lambda _msg: None,
    now: datetime | None = None,
    ref: str = "HEAD",
    pushdown: bool = True,
) -> MonitoringResult:
    """Monitor ``models:/NAME@STAGE`` over a window and record the verdict (see the module docstring).

    A stage whose alias disagrees with release.yaml at git ``ref`` is not judged (exit 1): the
    verdict would describe a version no merged promotion put there. A pinned digest is checked on load.
    With an audit store as the only source (and no text feature), the window is aggregated in the
    store (:mod:`~mlgate.monitoring._pushdown`); ``pushdown=False`` reads it row by row instead
    (the reference path the tests compare with).
    """
    started = time.perf_counter()
    ws = Workspace.of(root, tracking_uri)
    root = ws.root
    now = now or datetime.now(UTC)
    ctx = load_model_context(root, name)
    refuse_predictions(ctx, "monitor")
    check_stage(ctx, stage)
    span = resolve(since, window, ctx.spec.monitoring.frequency, now)
    audit_url, scores_folder = configured(ctx)
    pushable = pushdown and audit_url is not None and scores_folder is None and not ctx.spec.inputs.text
    registry = ws.registry
    # an unpinned stage is still judged (monitoring reports, it serves nothing); the alias must agree
    mv, wanted = custody.resolve(registry, root, name, stage, ref=ref, allow_unpinned=True)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mlgate-monitor-") as tmp:
        progress(f"models:/{name}@{stage} is v{mv.version}: loading it as {ctx.policy.file} trusts")
        folder = Path(tmp) / "model"
        folder.mkdir()
        loaded, _ = load_alias_version(registry, ctx, mv, stage, _Holder(folder), wanted)
        plan, model = model_plan(ctx, mv, stage, loaded)
        served = Served(stage, mv.version, list(plan.features), plan.task, plan.positive, tuple(plan.classes))
        mark = time.perf_counter()
        pushed: PushedAudit | None = None
        if pushable and audit_url is not None:
            progress(f"aggregating the audit store: {name}@{stage} v{mv.version}, {span.asked}")
            pushed = PushedAudit(audit_url, name, served, span)
            traffic = pushed.traffic()
        else:
            traffic = read_traffic(ctx, served, span, progress)
        seconds["sources"] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()
        progress("loading the reference data and scoring it with the same version")
        reference = load_reference(ctx, mv, registry.run_facts(mv.run_id).params, Path(tmp) / "reference")
        reference_scores, reference_proba = _scores(model, plan, reference.scored)
        seconds["reference"] = round(time.perf_counter() - mark, 3)
    mark = time.perf_counter()
    threshold = ctx.spec.decision.threshold if ctx.spec.decision is not None else 0.5
    subject = Subject(plan.task, list(plan.classes), plan.positive, threshold, ctx.spec.inputs, list(plan.features))
    if reference.scored_unseen:
        subject.calibration = _calibration(subject, reference.scored, reference_scores, ctx.spec.target)
    elif subject.binary:  # a model's scores on rows it learned are over-confident: a map fitted there is biased
        subject.calibration = Calibration(False, "the reference scores are the version's own training rows")
    settings = ctx.policy.policy.settings.drift
    measurements: Measurements
    try:
        if pushed is not None:
            progress(
                f"measuring {pushed.rows} production rows in the store against {len(reference.frame)} reference rows"
            )
            labelled = join_label_chunks(ctx, pushed.key_chunks(), span.end)
            measurements = PushedMeasurements(
                subject, reference.frame, reference_scores, pushed, labelled, settings, reference_proba
            )
        else:
            progress(f"measuring {len(traffic.rows)} production rows against {len(reference.frame)} reference rows")
            labelled = join_labels(ctx, traffic.rows, span.end)
            measurements = Measurements(
                subject, reference.frame, reference_scores, traffic, labelled, settings, reference_proba
            )
        rules = evaluate_rules(list(ctx.policy.policy.monitoring or []), measurements)
        metrics = measurements.all_metrics()
        table = measurements.feature_table()
        prediction = _prediction_block(measurements)
        estimated = _estimated_block(measurements)
    finally:
        if pushed is not None:
            pushed.close()
    seconds["measure"] = round(time.perf_counter() - mark, 3)
    verdict = MonitoringVerdict(
        model=name,
        stage=stage,
        version=mv.version,
        run_id=mv.run_id,
        window=span.as_dict(),
        sources=[s.as_dict() for s in traffic.sources],
        other_versions=traffic.other_versions,
        reference=reference.as_dict(),
        rows=measurements.rows,
        metrics=metrics,
        features=[] if isinstance(table, Failed) else [fd.as_dict() for fd in table],
        prediction=prediction,
        labels=labelled.as_dict() if labelled is not None else None,
        estimated=estimated,
        rules=rules,
        retrain=retrain(ctx.spec.monitoring.retrain_when, metrics),
        evaluated_at=iso(now),
        mlgate_version=__version__,
        seconds=seconds,
    )
    progress(f"recording the verdict ({verdict.status}) in the mlgate-monitoring experiment")
    error = _record(registry, verdict, span.asked, table)
    verdict.seconds["total"] = round(time.perf_counter() - started, 3)
    return MonitoringResult(verdict.as_dict(), error)


def _scores(model: Any, plan: Plan, frame: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The version's score of each reference row, and a multiclass model's probability of each class.

    The score is the positive-class probability (binary classifier) or the predicted value (regressor);
    the class probabilities are rows × classes (None for a model that is not multiclass).
    The rows reach the model as they reach it in production (:func:`mlgate.data.model_input`).
    """
    x = model_input(frame, plan.features)
    if plan.task != "classification":
        return np.asarray(model.predict(x), dtype=float), None
    _predicted, proba = decide(model, x)
    if proba is None:
        return np.full(len(x), np.nan), None
    if len(plan.classes) != 2:
        return np.full(len(x), np.nan), np.asarray(proba, dtype=float)
    return np.asarray(proba, dtype=float)[:, plan.classes.index(plan.positive)], None


def _calibration(subject: Subject, scored: Any, scores: np.ndarray, target: str | None) -> Calibration:
    """CBPE's calibration fitted on the scored reference rows' labels (NannyML's; none without labels)."""
    if not subject.binary:
        return NOT_CALIBRATED
    if target is None or target not in scored.columns:
        return Calibration(False, f"the reference has no '{target}' column to calibrate the scores on")
    labels = scored[target]
    known = labels.notna().to_numpy()
    return calibration(scores[known], (labels[known] == subject.positive).to_numpy())


def _prediction_block(measurements: Measurements) -> dict[str, Any] | None:
    found = measurements.prediction()
    if isinstance(found, Failed):
        return None
    if measurements.subject.multiclass:
        table = measurements.prediction_by_class()
        assert not isinstance(table, Failed)  # prediction() is its worst class
        return {
            "psi": max(fd.psi for fd in table),
            "ks_statistic": max(float(fd.ks_statistic or 0.0) for fd in table),
            "reference_mean": None,
            "current_mean": None,
            "classes": measurements.class_summary(table),
        }
    return {
        "psi": found.psi,
        "ks_statistic": found.ks_statistic,
        "reference_mean": float(np.nanmean(measurements.reference_scores)),
        "current_mean": measurements.score_mean(),
    }


def _estimated_block(measurements: Measurements) -> dict[str, Any] | None:
    found = measurements.estimated()
    return found.as_dict() if isinstance(found, Estimate) else None


def _record(registry: Registry, verdict: MonitoringVerdict, asked: str, table: Any) -> ExternalServiceError | None:
    """Store the verdict as a monitoring run; an outage is returned (exit 3 after the JSON is written)."""
    metrics = dict(verdict.metrics)
    if not isinstance(table, Failed):
        metrics |= {f"psi.{fd.feature}": fd.psi for fd in table}
    if verdict.prediction is not None and verdict.prediction["current_mean"] is not None:
        metrics["prediction_mean"] = verdict.prediction["current_mean"]

    def render(run_id: str) -> str:
        verdict.monitoring_run_id = run_id
        return jsonout.dumps(verdict.as_dict())

    try:
        verdict.monitoring_run_id = registry.record_monitoring(
            verdict.model,
            verdict.stage,
            verdict.version,
            evaluated_at=verdict.evaluated_at,
            status=str(verdict.status),
            params={"window": f"{verdict.window['from']}..{verdict.window['to']}", "asked": asked},
            metrics=metrics,
            verdict_json=render,
        )
    except ExternalServiceError as err:
        verdict.monitoring_run_id = None
        return err
    return None

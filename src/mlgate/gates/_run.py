"""`mlgate gate`: evaluate every rule of a model's policy against a registered version.

Everything the verdict depends on is loaded and checked first (spec, policy, data and its DVC
hashes, the version, the champion, optional deepchecks); then each family measures, the
verdict module judges, and the verdict is attached to the version (a JSON artifact on its
run plus ``mlgate.gates.*`` tags) so a promotion can later check what passed under which policy.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlgate import __version__, jsonout
from mlgate.config import (
    GATE_FAMILIES,
    MISSING,
    PARAMS_FILE,
    WORKSPACE,
    ArmKind,
    DocumentationRule,
    DriftRule,
    FairnessRule,
    IntegrityRule,
    ModelContext,
    ModelSpec,
    PerformanceRule,
    Workspace,
    canonical_hash,
    changed_params,
    compare,
    dvc_targets,
    incomplete_reason,
    load,
    metrics_diff,
    no_champion_stage,
    rule_id,
    split_alias,
)
from mlgate.data import (
    HeldOut,
    ModelData,
    Unseen,
    evaluation_held_out,
    frame_columns,
    leave_out,
    load_model_data,
    load_predictions_data,
    model_input,
    training_file,
    training_rows,
    version_held_out,
)
from mlgate.exceptions import InvalidInput, SpecError
from mlgate.gates import Measurement, Skip, integrity
from mlgate.gates import _decisions as decisions
from mlgate.gates import _documentation as documentation
from mlgate.gates import _drift as drift
from mlgate.gates import _evidence as evidence
from mlgate.gates import _fairness as fairness
from mlgate.gates import _performance as performance
from mlgate.gates import _spark as spark_gates
from mlgate.gates._adapter import adapt, decide, own_columns
from mlgate.gates._judging import Judged, judge_model
from mlgate.gates._metrics import (
    Confusion,
    ScoreCounts,
    average_precision,
    classification_metrics,
    per_class_metrics,
    positive_label,
    regression_metrics,
    roc_auc,
)
from mlgate.gates._performance import ByClass
from mlgate.gates._reasons import global_explanation
from mlgate.gates._verdict import RuleResult, RuleStatus, Verdict, judge
from mlgate.git import git_state, is_ancestor, show
from mlgate.registry import (
    ARTIFACT_DIGEST_TAG,
    TAG_PREFIX,
    VERDICT_DIR,
    VERDICT_TAG,
    LoadedModel,
    ModelVersion,
    Registry,
    RunFacts,
)

Progress = Callable[[str], None]
BASE_SEARCH = 20  # newest versions searched for the base branch's model: one tag read each, bounded


@dataclass
class Scored:
    """A model's holdout predictions and metrics: what every gate family reads.

    ``predicted`` holds the decided label (classification) or value (regression) per row;
    ``proba`` the class probabilities (rows × ``classes``) when the model gives them. Gates never
    call the model themselves, so a model of any flavour, or a predictions file, fits here.
    """

    metrics: dict[str, float]
    predicted: NDArray[Any]
    proba: NDArray[Any] | None = None
    classes: list[Any] | None = None
    by_class: ByClass | None = None  # per-class precision/recall/F1; None: from ``predicted`` when asked
    not_measured: dict[str, str] = field(default_factory=dict)
    """metric → why it is not measured here (a rule on it is ``skipped`` with that reason)."""


def model_columns(spec: ModelSpec, holdout: pd.DataFrame, features: list[tuple[str, str]] | None) -> pd.DataFrame:
    """The holdout as the model is called with it (:func:`mlgate.data.model_input`, what training fitted on).

    ``features`` are the model's own ``(column, type)`` (its signature), so an older version with
    other features is scored on what it expects; None: the spec's features, typed as training types them.
    """
    columns = features or frame_columns(holdout, spec.inputs.all, [*spec.inputs.categorical, *spec.inputs.text])
    return model_input(holdout, columns)


def _score(model: Any, ctx: ModelContext, data: ModelData, features: list[tuple[str, str]] | None = None) -> Scored:
    """Holdout metrics and predictions of ``model`` (as :func:`mlgate.gates._adapter.adapt` gives it).

    ``features``: the model's own input columns and their types (see :func:`model_columns`).
    """
    spec = ctx.spec
    x, y = model_columns(spec, data.holdout, features), data.holdout[spec.target]
    if spec.task == "classification":
        classes = list(model.classes_)
        predicted, proba = decide(model, x, ctx)
        pos = positive_label(classes, spec.positive_label)
        return Scored(classification_metrics(y, proba, classes, pos, predicted), predicted, proba, classes)
    predicted = np.asarray(model.predict(x))
    return Scored(regression_metrics(y, predicted), predicted)


PROBABILITY_METRICS = ("log_loss", "brier")
"""Metrics that read a score as a probability: measured on a predictions file's score only within [0, 1]."""
PREDICTIONS_NO_CHAMPION = (
    "predictions made elsewhere have no registered champion to compare with: relative rules do not apply"
)
NEEDS_TRAINING_DATA = frozenset({"constant_columns", "unseen_categories", "schema_mismatch", "train_holdout_overlap"})
"""Integrity metrics that compare with the training data (or the model's signature)."""
NEEDS_FEATURES = frozenset({"duplicate_rows", "conflicting_labels"})
"""Integrity metrics that compare rows by their feature values."""


def score_predictions(spec: ModelSpec, frame: pd.DataFrame) -> Scored:
    """:class:`Scored` from a predictions file: what a model's scoring would give the gates.

    A score column gives the decisions ``s >= threshold`` (in the score's own units) and the
    columns ``[1 - s, s]`` (``s`` that of ``positive_label``). A score on any scale ranks rows, so
    ROC AUC and PR AUC hold; log loss and Brier read it as a probability, so they are measured only
    when every score is in [0, 1] (else :attr:`Scored.not_measured` says why). A prediction column
    gives the decided labels only (no scores: the metrics that need them are not computed).
    """
    predictions = spec.predictions
    assert predictions is not None
    y = frame[spec.target].to_numpy()
    classes = np.unique(y).tolist()
    pos = positive_label(classes, spec.positive_label)
    if predictions.score_column is None:
        decided = frame[predictions.output_column].to_numpy()
        return Scored(classification_metrics(y, None, classes, pos, decided), decided, None, classes)
    score = frame[predictions.score_column].to_numpy(dtype=np.float64)
    other = next(c for c in classes if c != pos)
    proba = np.empty((len(score), 2))
    proba[:, classes.index(pos)] = score
    proba[:, classes.index(other)] = 1.0 - score  # read only as a probability, i.e. when the score is one
    chosen = np.where(score >= float(predictions.threshold or 0.0), classes.index(pos), classes.index(other))
    decided = np.asarray(classes)[chosen]
    low, high = (float(score.min()), float(score.max())) if len(score) else (0.0, 1.0)
    if low >= 0.0 and high <= 1.0:
        return Scored(classification_metrics(y, proba, classes, pos, decided), decided, proba, classes)
    measured = classification_metrics(y, None, classes, pos, decided)
    table = ScoreCounts.of(y == pos, score)
    measured |= {"roc_auc": roc_auc(table), "pr_auc": average_precision(table)}
    why = (
        f"needs probabilities in [0, 1]; score_column '{predictions.score_column}' ranges from {low:g} to {high:g} "
        "(ROC AUC and PR AUC, which need only the ranking, are measured)"
    )
    unmeasured = {metric: f"{metric} {why}" for metric in PROBABILITY_METRICS}
    return Scored(measured, decided, proba, classes, not_measured=unmeasured)


def _load(
    registry: Registry, ctx: ModelContext, data: ModelData, mv: ModelVersion, expected: str | None = None
) -> tuple[Any, LoadedModel]:
    """Version ``mv`` loaded as the judged policy's ``trust`` allows, and adapted for the gates.

    Its files must have the digest ``expected`` (a promotion's pinned digest), else the digest its
    registration recorded, checked before anything is loaded (:class:`~mlgate.exceptions.TamperedModel`).
    """
    trust = ctx.policy.policy.trust
    source = "release.yaml" if expected is not None else f"its registration ({ARTIFACT_DIGEST_TAG})"
    loaded = registry.load_version(
        ctx.name,
        mv.version,
        trust.formats if trust else (),
        ctx.policy.file,
        ctx.skops_trusted,
        expected=expected or mv.tags.get(ARTIFACT_DIGEST_TAG),
        expected_from=source,
    )
    target = pd.concat([data.train[ctx.spec.target], data.holdout[ctx.spec.target]])
    return adapt(loaded.model, ctx, target, f"{ctx.name} v{mv.version}"), loaded


def _resolve_version(registry: Registry, name: str, version: int | None) -> tuple[ModelVersion, RunFacts]:
    """The version to gate (default: the latest) and its run, refused if training did not complete."""
    known = [v.version for v in registry.versions(name)]
    if not known:
        raise InvalidInput(
            f"model '{name}' has no registered version in {registry.shown_uri}",
            hint=f"train one first: mlgate train {name}",
        )
    wanted = version or known[-1]
    if wanted not in known:
        raise InvalidInput(f"model '{name}' has no version {wanted} (versions: {', '.join(map(str, sorted(known)))})")

    mv = registry.version(name, wanted)
    run = registry.run_facts(mv.run_id)
    reason = incomplete_reason(mv.tags, run.status)  # '' if hand-registered
    if reason:
        raise InvalidInput(f"{name} v{wanted} is incomplete ({reason})", hint=f"retrain with `mlgate train {name}`")
    return mv, run


def lineage(mv: ModelVersion, run: RunFacts) -> dict[str, Any]:
    """What a report shows about the version besides the verdict: its mlgate tags and run link.

    Carried in the verdict so ``mlgate report`` renders without opening the registry. The
    verdict tag itself (:data:`VERDICT_TAG`, written after this verdict) is left out.
    """
    tags = {k: v for k, v in sorted(mv.tags.items()) if k.startswith(TAG_PREFIX) and k != VERDICT_TAG}
    return {"tags": tags, "run_url": run.url}


def _required_families(ctx: ModelContext, stage: str | None) -> list[str]:
    if stage is None:
        return list(GATE_FAMILIES)
    stages = ctx.policy.policy.promotion.stages
    base, kind = split_alias(stage)  # a candidate's alias (production-canary): what its policy block requires
    if base not in stages:
        known = ", ".join(stages) or "none"
        raise InvalidInput(f"stage '{stage}' is not defined in {ctx.policy.file} (stages: {known})")
    if kind == ArmKind.STABLE:
        return list(stages[stage].require_gates)
    if stages[base].canary is None:
        raise InvalidInput(
            f"{ctx.policy.file} allows no canary or shadow beside {base}, so '{stage}' has no gates to run",
            hint=f"add promotion.stages.{base}.canary to the policy (a governance change) to allow one",
        )
    return list(stages[base].candidate_requirement().require_gates)


def _check_deepchecks(ctx: ModelContext) -> None:
    wanted = [r for r in ctx.policy.policy.gates.integrity if r.metric == "deepchecks"]
    if wanted and not integrity.deepchecks_available():
        suites = ", ".join(sorted({str(r.suite) for r in wanted}))
        reason = integrity.deepchecks_problem() or "it cannot be imported"
        raise InvalidInput(
            f"{ctx.policy.file} requires deepchecks suites ({suites}) but deepchecks is not usable: {reason}",
            hint=integrity.DEEPCHECKS_HINT,
        )


class Evaluation:
    """Measures every rule of one policy on one model version (cached per family)."""

    def __init__(
        self,
        ctx: ModelContext,
        data: ModelData,
        model: Any,
        scored: Scored,
        champion: tuple[int, Scored] | None,
        signature: list[tuple[str, str]] | None,
        champion_skip: str = "",
    ) -> None:
        """Measure ``model`` (scored on ``data``), against ``champion`` (version, scores) if any."""
        self.ctx, self.data, self.model, self.scored, self.champion = ctx, data, model, scored, champion
        self.signature = signature
        self.champion_skip = champion_skip
        self._drift: list[drift.FeatureDrift] | None = None
        self._groups: dict[str, pd.Series] = {}
        self._integrity: integrity.IntegrityData | None = None

    @property
    def rows_said(self) -> str:
        """What the evaluated rows are, as explanations name them: a held-out split, or a whole audited file."""
        predictions = self.ctx.spec.predictions
        if predictions is None:
            return "the holdout set"
        return f"the {len(self.data.holdout)} audit rows (all rows of {predictions.path})"

    # -- performance
    def performance(self, rule: PerformanceRule) -> Measurement | Skip:
        """The rule's holdout metric, or its worsening against the champion (skipped if none)."""
        label = rule.class_
        if rule.metric in self.scored.not_measured:
            return Skip(self.scored.not_measured[rule.metric])
        if rule.comparison != "max_regression":
            why = performance.not_computed(rule.metric, self.ctx.spec.task)
            by_class = self._by_class(self.scored) if label is not None else None
            return performance.absolute(
                rule.metric, self.scored.metrics, self.rows_said, why, label=label, by_class=by_class
            )
        if self.champion_skip:
            return Skip(self.champion_skip)
        if self.champion is None:
            name, stage = self.ctx.name, self.ctx.policy.policy.promotion.champion_stage
            return Skip(f"no champion yet: no version of '{name}' holds the '{stage}' alias")
        version, champ = self.champion
        tables = (self._by_class(self.scored), self._by_class(champ)) if label is not None else (None, None)
        return performance.regression(
            rule.metric, self.scored.metrics, champ.metrics, version, label=label, by_class=tables
        )

    def _by_class(self, scored: Scored) -> ByClass | None:
        """Per-class precision, recall and F1 of ``scored`` on the holdout (None: a regressor)."""
        if scored.by_class is not None:
            return scored.by_class
        if self.ctx.spec.task != "classification" or not scored.classes:
            return None
        y_true = self.data.holdout[self.ctx.spec.target].to_numpy()
        scored.by_class = per_class_metrics(Confusion.of(y_true, scored.predicted), list(scored.classes))
        return scored.by_class

    def builtin_rules(self) -> list[decisions.BuiltinRule]:
        """The built-in degenerate-decisions rules: a classifier's, unless the judged policy disables them."""
        if self.ctx.spec.task != "classification":  # a regressor decides nothing: the rules are absent
            return []
        return decisions.builtin_rules(self.ctx.policy.policy.settings.degenerate_decisions)

    def decided(self, rule: decisions.BuiltinRule) -> Measurement:
        """The built-in rule's measure of the decided labels against the evaluation labels."""
        y_true = self.data.holdout[self.ctx.spec.target].to_numpy()
        how = decisions.decided_by(self.ctx.spec)
        if rule.rule_id == decisions.CLASS_SHARE:
            return decisions.class_share(y_true, self.scored.predicted, how)
        return decisions.rate_ratio(y_true, self.scored.predicted, how, rule.threshold)

    # -- fairness
    def _group(self, name: str) -> pd.Series:
        """The group label of every holdout row for sensitive feature ``name`` (:func:`fairness.sensitive_groups`)."""
        if name not in self._groups:
            feature = next(f for f in self.ctx.spec.sensitive_features if f.name == name)
            self._groups[name] = fairness.sensitive_groups(self.data.holdout, feature)
        return self._groups[name]

    def _fairness_names(self, rule: FairnessRule) -> list[str] | Measurement:
        """The rule's sensitive features, or the failed measurement saying why there are none to judge."""
        spec = self.ctx.spec
        if spec.task != "classification":
            return Measurement.failed("fairness metrics need a classifier's decisions; this model is a regressor")
        names = rule.sensitive_features or [f.name for f in spec.sensitive_features]
        if not names:
            return Measurement.failed(f"models/{spec.name}/model.yaml lists no sensitive_features")
        return names

    def fairness(self, rule: FairnessRule) -> Measurement | Skip:
        """The fairness metric over the groups of the rule's sensitive features."""
        names = self._fairness_names(rule)
        if isinstance(names, Measurement):
            return names
        spec = self.ctx.spec
        pos = positive_label(self.scored.classes or [], spec.positive_label)
        y_true = self.data.holdout[spec.target].to_numpy() == pos
        y_pred = np.asarray(self.scored.predicted == pos, dtype=bool)
        try:
            series = [self._group(n) for n in names]
        except ValueError as err:  # e.g. a real value named like the group of blank rows: fail closed, say why
            return Measurement.failed(str(err))
        return self._fairness_of(rule, series, y_true, y_pred, pos)

    def _fairness_of(
        self,
        rule: FairnessRule,
        series: list[pd.Series],
        y_true: NDArray[Any],
        y_pred: NDArray[Any],
        pos: Any,
        weights: NDArray[Any] | None = None,
    ) -> Measurement:
        """The rule's measurement from group labels, outcomes, decisions (``weights``: rows each entry stands for)."""
        if rule.intersection and len(series) > 1:
            combined = series[0]
            for other in series[1:]:
                combined = fairness.intersect(combined, other)
            series = [*series, combined]
        minimum = self.ctx.policy.policy.settings.fairness.min_group_size
        tables = [fairness.group_table(y_true, y_pred, s, minimum, weights) for s in series]
        return fairness.fairness_measurement(
            tables,
            rule.metric,
            groups=rule.groups,
            reference_group=rule.reference_group,
            overall=fairness.overall_rates(y_true, y_pred, weights),
            positive_label=pos.item() if isinstance(pos, np.generic) else pos,
            highest=rule.comparison == "max",
        )

    # -- drift
    def _drift_problem(self) -> Measurement | None:
        """Why no drift can be measured for this spec (a failed measurement), else None."""
        spec = self.ctx.spec
        if spec.is_predictions and not (spec.data and spec.data.reference):
            return Measurement.failed("a predictions spec needs data.reference to measure drift against")
        if not spec.inputs.all:
            return Measurement.failed(f"models/{spec.name}/model.yaml lists no features to measure drift on")
        return None

    def drift(self, rule: DriftRule) -> Measurement | Skip:
        """The drift statistic of the rule, from the per-feature drift table (computed once)."""
        settings = self.ctx.policy.policy.settings.drift
        problem = self._drift_problem()
        if problem is not None:
            return problem
        if self._drift is None:
            feats = self.ctx.spec.inputs
            try:
                self._drift = drift.feature_drift(
                    self.data.reference, self.data.current, feats.numeric, feats.categorical, settings, text=feats.text
                )
            except ValueError as err:  # e.g. a column with no values at all: fail closed, say why
                return Measurement.failed(f"drift could not be computed: {err}")
        return drift.drift_measurement(self._drift, rule.metric, rule.features, settings)

    def _model_sees(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its model input columns as :func:`model_columns` builds them (missing: NaN); others kept."""
        known = [c for c in self.signature or [] if c[0] in frame.columns]
        x = model_columns(self.ctx.spec, frame, known or None)
        out = frame.reset_index(drop=True)
        return out.assign(**{column: x[column].to_numpy() for column in x.columns})

    # -- integrity
    def integrity_data(self) -> integrity.IntegrityData:
        """The integrity gate's view of the data: train, holdout, features, target, signature.

        One for every integrity rule: it keeps the stacked rows and their hashes between the metrics.
        """
        if self._integrity is not None:
            return self._integrity
        spec = self.ctx.spec
        self._integrity = integrity.IntegrityData(
            train=self.data.train,
            holdout=self.data.holdout,
            numeric=spec.inputs.numeric,
            categorical=spec.inputs.categorical,
            text=spec.inputs.text,
            target=spec.target_column,
            signature=self.signature,
        )
        if spec.predictions is not None:  # no training rows: every row is the audited file's
            self._integrity.scope = f"all rows of {spec.predictions.path}"
        return self._integrity

    def _integrity_problem(self, rule: IntegrityRule) -> Measurement | Skip | None:
        """Why the rule does not apply (Skip) or cannot be measured (failed) for this spec, else None."""
        if rule.metric == "conflicting_labels" and self.ctx.spec.task == "regression":
            # equal features with different continuous targets are expected, not a data error
            return Skip("conflicting labels apply to classification targets; this model is a regressor")
        spec = self.ctx.spec
        if spec.is_predictions and rule.metric in NEEDS_TRAINING_DATA:
            return Skip(f"{rule.metric} compares with training data; predictions made elsewhere come with none")
        if rule.metric in NEEDS_FEATURES and not spec.inputs.all:
            # rows would be compared on the label alone: fail closed rather than measure nothing
            return Measurement.failed(f"models/{spec.name}/model.yaml lists no features to compare rows on")
        return None

    def integrity(self, rule: IntegrityRule) -> Measurement | Skip:
        """The native integrity metric of the rule (conflicting labels: skipped for a regressor)."""
        problem = self._integrity_problem(rule)
        if problem is not None:
            return problem
        return integrity.integrity_measurement(rule.metric, self.integrity_data())

    def deepchecks(self, rule: IntegrityRule, rid: str, required: bool) -> list[RuleResult]:
        """One result per deepchecks condition: a failed condition is a failed rule."""
        if self.model is None:
            why = "deepchecks suites run on a model; a predictions spec has none"
            return [judge("integrity", rule, rid, None, required=required, skip_reason=why)]
        suite = rule.suite
        if suite is None:  # IntegrityRule requires it with metric deepchecks
            raise ValueError(f"rule {rid}: metric deepchecks without a suite")
        data = self.integrity_data()
        if suite == "model_evaluation":  # the suite calls the model: on the frame it was fitted on
            data = replace(data, train=self._model_sees(data.train), holdout=self._model_sees(data.holdout))
        outcomes = integrity.deepchecks_results(suite, data, self.model, self.ctx.spec.task)
        results = []
        seen: dict[str, int] = {}
        for outcome in outcomes:
            # one check may carry several conditions: number them so rule ids stay unique
            seen[outcome.check] = seen.get(outcome.check, 0) + 1
            suffix = f"#{seen[outcome.check]}" if seen[outcome.check] > 1 else ""
            status = (
                RuleStatus.PASS
                if outcome.passed
                else (RuleStatus.ERROR if outcome.category == "ERROR" else RuleStatus.FAIL)
            )
            severity = "warn" if outcome.category == "WARN" else rule.severity
            results.append(
                RuleResult(
                    family="integrity",
                    rule_id=f"{rid}/{outcome.check}{suffix}",
                    metric=f"deepchecks:{rule.suite}",
                    observed=None,
                    threshold=None,
                    comparison="condition",
                    severity=severity,
                    status=status,
                    explanation=f"{outcome.check}: {outcome.condition} ({outcome.details})",
                    description=rule.description,
                    blocking=status != RuleStatus.PASS and severity == "block" and required,
                )
            )
        return results

    def documentation(self, rule: DocumentationRule) -> Measurement:
        """Whether the spec field the rule names is filled in."""
        return documentation.documented(self.ctx.spec, rule.field)


class SparkEvaluation(Evaluation):
    """Measures the rules from Spark aggregates (mlgate.gates._spark); what needs rows is skipped with the reason.

    ``data`` holds no rows here (its frames are empty): every measure reads ``spark_data`` (the
    Parquet datasets) or ``spark_scored`` (the scored holdout, cached by Spark).
    """

    def __init__(
        self,
        ctx: ModelContext,
        data: ModelData,
        model: Any,
        scored: Scored,
        champion: tuple[int, Scored] | None,
        signature: list[tuple[str, str]] | None,
        champion_skip: str,
        spark_data: spark_gates.SparkData,
        spark_scored: spark_gates.SparkScored,
    ) -> None:
        """As :class:`Evaluation`, with the Spark datasets and the scored holdout."""
        super().__init__(ctx, data, model, scored, champion, signature, champion_skip)
        self.spark_data, self.spark_scored = spark_data, spark_scored

    def decided(self, rule: decisions.BuiltinRule) -> Measurement:
        """The built-in rule, from rows per (label, decision)."""
        y_true, predicted, rows = spark_gates.decision_table(self.spark_scored, self.ctx.spec.target_column)
        how = decisions.decided_by(self.ctx.spec)
        if rule.rule_id == decisions.CLASS_SHARE:
            return decisions.class_share(y_true, predicted, how, rows)
        return decisions.rate_ratio(y_true, predicted, how, rule.threshold, rows)

    def fairness(self, rule: FairnessRule) -> Measurement | Skip:
        """The fairness metric, from rows per (group values, outcome, decision)."""
        names = self._fairness_names(rule)
        if isinstance(names, Measurement):
            return names
        spec = self.ctx.spec
        features = [next(f for f in spec.sensitive_features if f.name == n) for n in names]
        pos = positive_label(self.scored.classes or [], spec.positive_label)
        try:
            groups, y_true, y_pred, rows = spark_gates.fairness_table(
                self.spark_scored, features, spec.target_column, pos
            )
        except ValueError as err:
            return Measurement.failed(str(err))
        return self._fairness_of(rule, [groups[n] for n in names], y_true, y_pred, pos, rows)

    def drift(self, rule: DriftRule) -> Measurement | Skip:
        """The drift statistic from Spark counts; a rule over a text feature is skipped (words need the rows)."""
        problem = self._drift_problem()
        if problem is not None:
            return problem
        feats = self.ctx.spec.inputs
        text = [f for f in (rule.features or feats.all) if f in feats.text]
        if text:
            return Skip(f"drift of text feature(s) {', '.join(text)} (words per row) {spark_gates.PANDAS_ONLY}")
        settings = self.ctx.policy.policy.settings.drift
        if self._drift is None:
            try:
                self._drift = spark_gates.feature_drift(self.spark_data, feats.numeric, feats.categorical, settings)
            except ValueError as err:
                return Measurement.failed(f"drift could not be computed: {err}")
        return drift.drift_measurement(self._drift, rule.metric, rule.features, settings)

    def integrity(self, rule: IntegrityRule) -> Measurement | Skip:
        """``null_fraction``, ``duplicate_rows``, ``conflicting_labels``, ``train_holdout_overlap`` from Spark counts.

        The other native metrics (constant columns, unseen categories, schema) are skipped with the reason.
        """
        problem = self._integrity_problem(rule)
        if problem is not None:
            return problem
        if rule.metric not in spark_gates.SPARK_INTEGRITY:
            return Skip(f"{rule.metric} is measured on pandas only: it {spark_gates.PANDAS_ONLY}")
        columns = [*self.ctx.spec.inputs.all, self.ctx.spec.target_column]
        scope = integrity.IntegrityData.scope
        spec = self.ctx.spec
        if rule.metric == "null_fraction":
            nulls, rows = spark_gates.null_counts(self.spark_data, columns)
            return integrity.native.null_fraction(nulls, rows, scope)
        if rule.metric == "conflicting_labels":
            return spark_gates.conflicting_measurement(self.spark_data, spec.inputs.all, spec.target_column, scope)
        if rule.metric == "train_holdout_overlap":
            return spark_gates.overlap_measurement(self.spark_data, spec.inputs.all, spec.target_column)
        return spark_gates.duplicate_measurement(spark_gates.duplicate_counts(self.spark_data, columns), scope)

    def deepchecks(self, rule: IntegrityRule, rid: str, required: bool) -> list[RuleResult]:
        """Skipped: a deepchecks suite runs on pandas frames."""
        why = f"deepchecks suites run on pandas frames: {rid} {spark_gates.PANDAS_ONLY}"
        return [judge("integrity", rule, rid, None, required=required, skip_reason=why)]


def evaluate_rules(evaluation: Evaluation, required: list[str], progress: Progress) -> list[RuleResult]:
    """Judge every rule of the policy, family by family (a deepchecks rule: one per condition)."""
    policy = evaluation.ctx.policy.policy
    results: list[RuleResult] = []
    for family in GATE_FAMILIES:
        rules = policy.gates.rules(family)
        # the built-in rules are performance rules (the family's status), blocking at every stage:
        # only the judged policy's `enabled: false` turns them off, not a stage's require_gates
        builtin = evaluation.builtin_rules() if family == "performance" else []
        if not rules and not builtin:
            continue
        progress(f"{family}: {len(rules)} rule(s)" + (f" and {len(builtin)} built-in" if builtin else ""))
        for rule in rules:
            rid = rule_id(family, rule)
            is_required = family in required
            if family == "integrity" and rule.metric == "deepchecks":
                results += evaluation.deepchecks(rule, rid, is_required)
                continue
            measured = getattr(evaluation, family)(rule)
            if isinstance(measured, Skip):
                results.append(judge(family, rule, rid, None, required=is_required, skip_reason=measured.reason))
            else:
                results.append(judge(family, rule, rid, measured, required=is_required))
        for extra in builtin:
            measured = evaluation.decided(extra)
            results.append(judge(family, extra, extra.rule_id, measured, required=True))
    return results


@dataclass
class Champion:
    """The version holding the champion alias, scored on the same rows, or why it is not.

    ``holder`` is the alias's version even when it is not compared (it is the challenger, or it
    was held out on other rows): the base-branch comparison is only for models with no champion.
    """

    scored: tuple[int, Scored] | None = None
    skip: str = ""
    holder: int | None = None


def _same_rows_score(
    registry: Registry, ctx: ModelContext, data: ModelData, mv: ModelVersion, evaluated: HeldOut, who: str
) -> Scored | Skip:
    """``mv`` scored on the evaluation rows, or why it is not compared (Skip): it was held out on other rows.

    A version held out on other rows may have trained on rows scored here; its score would look
    better than it is, so it is not compared at all.
    """
    held = version_held_out(mv.tags, registry.run_params(mv.run_id))
    if held is None or not held.same_as(evaluated):
        was = held.describe() if held else "no mlgate lineage"
        return Skip(
            f"{who} v{mv.version} was held out on other rows ({was}; evaluation: {evaluated.describe()}): "
            "its score here would include rows it trained on, so it is not compared"
        )
    model, loaded = _load(registry, ctx, data, mv)
    return _score(model, ctx, data, _input_columns(loaded, ctx.spec, data))


def _champion(
    registry: Registry,
    ctx: ModelContext,
    data: ModelData,
    version: int,
    evaluated: HeldOut,
) -> Champion:
    stage = ctx.policy.policy.promotion.champion_stage
    if stage is None:  # mlgate validate warns about such a policy
        return Champion(skip=no_champion_stage(ctx.policy.file))
    number = registry.alias_version(ctx.name, stage)
    if number is None or number == version:
        return Champion(holder=number)
    scored = _same_rows_score(registry, ctx, data, registry.version(ctx.name, number), evaluated, "champion")
    if isinstance(scored, Skip):
        return Champion(skip=scored.reason, holder=number)
    return Champion((number, scored), holder=number)


def _base_model(
    registry: Registry,
    root: Path,
    ctx: ModelContext,
    data: ModelData,
    version: int,
    evaluated: HeldOut,
    base: str,
) -> dict[str, Any]:
    """The base branch's model on the challenger's rows: informational, no rule reads it.

    The newest of the last :data:`BASE_SEARCH` versions (other than the challenger) trained by
    mlgate, completely and from a clean tree, on ``base`` or one of its ancestors.
    """
    searched = [mv for mv in reversed(registry.versions(ctx.name)) if mv.version != version][:BASE_SEARCH]
    for mv in searched:
        tags = mv.tags
        commit = tags.get(TAG_PREFIX + "git.commit", "")
        if not commit or tags.get(TAG_PREFIX + "git.dirty") != "false":
            continue
        if tags.get(TAG_PREFIX + "train.complete") != "true":
            continue
        if commit != base and not is_ancestor(root, commit, base):
            continue
        found = {"version": mv.version, "commit": commit, "base": base}
        scored = _same_rows_score(registry, ctx, data, mv, evaluated, "base model")
        if isinstance(scored, Skip):
            return found | {"skip": scored.reason}
        return found | {"metrics": scored.metrics}
    return {
        "base": base,
        "skip": (
            f"none of the newest {len(searched)} other version(s) of '{ctx.name}' was trained from a clean "
            f"tree on {base[:12]} or an ancestor of it"
        ),
    }


def _params_evidence(root: Path, ctx: ModelContext, base: str, scratch: Path) -> dict[str, Any]:
    """The model's params.yaml section, head against ``base`` (read from git, parsed as governed YAML).

    A model trained by a DVC stage: the params that stage and its upstream stages track instead,
    and the ``metrics:`` files of the stage and of the stages downstream of it (:func:`_pipeline_evidence`).
    """
    targets = dvc_targets(ctx.spec, ctx.spec_doc.data)
    if targets:
        return _pipeline_evidence(root, targets, base)
    out: dict[str, Any] = {"file": PARAMS_FILE, "section": ctx.name, "base": base}
    text = show(root, base, PARAMS_FILE)
    section = None
    if text is not None:
        path = scratch / "base-params.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            doc = load(path, f"{base[:12]}:{PARAMS_FILE}").data
        except SpecError as err:  # informational: say why, the gates do not depend on it
            return out | {"error": str(err).splitlines()[0]}
        found = doc.get(ctx.name) if isinstance(doc, dict) else None
        section = found if isinstance(found, dict) else None
    return out | {"new": section is None, "changes": evidence.params_diff(section, ctx.params)}


def _pipeline_evidence(root: Path, targets: list[str], base: str) -> dict[str, Any]:
    """``dvc params diff`` and ``dvc metrics diff`` of a DVC-stage model: the workspace against ``base``.

    Params: every key the target stages and their upstream stages track, at either side (dotted
    keys per params file; ``added``/``removed``/``modified``), read by DVC's loader. Metrics: the
    ``metrics:`` files of the targets and of their downstream stages (``evaluate``), every value,
    as the workspace holds them after ``dvc repro`` against the base commit's.
    """
    out: dict[str, Any] = {"file": "dvc.yaml", "section": ", ".join(targets), "base": base}
    try:
        old, new = compare(root, base, WORKSPACE, targets)
    except InvalidInput as err:  # informational: say why, the gates do not depend on it
        return out | {"error": str(err).splitlines()[0]}
    changes = [
        {
            "param": key,
            "path": file,
            "base": None if was is MISSING else was,
            "head": None if now is MISSING else now,
            "change": "added" if was is MISSING else ("removed" if now is MISSING else "modified"),
        }
        for file, key, was, now in changed_params(old, new)
    ]
    files = sorted(set(old.metrics_files()) | set(new.metrics_files()))
    rows, errors = metrics_diff(root, base, files)
    stages = [name for name in new.stages if name not in targets]
    return out | {
        "dvc": {"targets": targets, "upstream": sorted(stages), "downstream": sorted(new.downstream)},
        "new": not old.stages,
        "changes": changes,
        "metrics": {"files": files, "rows": [r.as_dict() for r in rows], "errors": errors},
    }


def _evidence(
    evaluation: Evaluation,
    extra: dict[str, Any],
    features: list[tuple[str, str]] | None,
) -> dict[str, Any]:
    """The verdict's ``evidence`` block (mlgate.gates.evidence): what a reviewer looks at."""
    ctx, scored, holdout = evaluation.ctx, evaluation.scored, evaluation.data.holdout
    spec = ctx.spec
    out = dict(extra)
    y = holdout[spec.target]
    pos = None
    if spec.task == "classification" and scored.classes is not None:
        pos = positive_label(scored.classes, spec.positive_label)
        out["classification"] = evidence.classification_evidence(y, scored.predicted, scored.proba, scored.classes, pos)
    if evaluation.model is None:  # a predictions file: no model to shuffle columns through
        return out
    start = time.perf_counter()
    x = model_columns(spec, holdout, features)
    out["importance"] = evidence.permutation_importance(
        evaluation.model, x, y, spec.task, scored.classes, pos, spec.seed
    ) | {"seconds": round(time.perf_counter() - start, 3)}
    start = time.perf_counter()
    # the model card's global explanation: mean |reason-code contribution| per input feature (mlgate.gates._reasons)
    out["explanation"] = global_explanation(
        evaluation.model, x, task=spec.task, classes=scored.classes, positive=pos, seed=spec.seed
    ) | {"seconds": round(time.perf_counter() - start, 3)}
    return out


def _input_columns(loaded: LoadedModel, spec: ModelSpec, data: ModelData) -> list[tuple[str, str]] | None:
    """The ``(column, type)`` the version is called with: its signature's, else the columns it was fitted on.

    None (the spec's features) when it names neither, or names a column the evaluation data lacks.
    Without a signature the types are those training gives the columns (:func:`mlgate.data.frame_columns`).
    """
    if loaded.signature:
        return list(loaded.signature)
    own = own_columns(loaded.model)
    if not own or not all(c in data.holdout.columns for c in own):
        return None
    return frame_columns(data.holdout, own, [*spec.inputs.categorical, *spec.inputs.text])


def _trained_on(tags: dict[str, str]) -> dict[str, str]:
    prefix = TAG_PREFIX + "data."
    return {
        k.removeprefix(prefix).removesuffix(".md5"): v
        for k, v in tags.items()
        if k.startswith(prefix) and k.endswith(".md5")
    }


def _unseen_rows(
    judged: Judged,
    data: ModelData,
    mv: ModelVersion,
    run: RunFacts,
    scratch: Path,
    progress: Progress,
) -> Unseen:
    """The evaluation data minus what this version trained on (see mlgate.data.holdout)."""
    ctx, tags = judged.ctx, mv.tags
    evaluated = evaluation_held_out(ctx.spec, data)
    held = version_held_out(tags, run.params)
    if held is None:
        return Unseen(data, 0, "the version has no mlgate lineage: its training rows are unknown")
    if held.same_as(evaluated):
        return Unseen(data, 0, "")
    why = f"v{mv.version} was trained on {held.describe()}; the evaluation uses {evaluated.describe()}"
    progress(f"{why}: leaving out the rows it trained on")
    commit = tags.get(TAG_PREFIX + "git.commit", "")
    trained = training_rows(held, ctx.spec, judged.ctx.root, commit, judged.at, scratch)
    return leave_out(data, ctx.spec, trained, why)


def run_gates(
    root: Path | Workspace,
    name: str,
    *,
    version: int | None = None,
    policy_ref: str | None = None,
    stage: str | None = None,
    tracking_uri: str | None = None,
    progress: Progress = lambda _msg: None,
    attach: bool = True,
    with_evidence: bool = True,
    expected_digest: str | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
) -> Verdict:
    """Evaluate ``name``'s policy against one registered version and return the verdict.

    ``engine``: ``pandas`` or ``spark`` (default: the spec's ``data.engine``, else pandas); on Spark
    the evaluation data are Parquet datasets measured by Spark aggregations (:class:`SparkEvaluation`),
    on ``spark_master`` (default ``local[*]``; ``SPARK_REMOTE`` wins).

    With ``policy_ref`` (a PR's base commit, or the branch a promotion lands on) the judging
    fields of the spec, the policies and the evaluation data all come from that commit
    (mlgate.gates.judging); the model fields from the working tree. ``with_evidence=False``
    leaves the verdict's ``evidence`` empty: a promotion decides from the rules alone and need
    not load the base branch's model or shuffle columns. ``expected_digest`` (what release.yaml
    pins, for a promotion) must be the digest of the version's files, else the one its registration
    recorded; a mismatch raises :class:`~mlgate.exceptions.TamperedModel` before anything is loaded.
    The verdict's ``artifact`` is the digest of the bytes the gates loaded.
    """
    start = time.perf_counter()
    ws = Workspace.of(root, tracking_uri)
    root = ws.root
    with tempfile.TemporaryDirectory() as tmp:
        judged = judge_model(root, name, policy_ref, Path(tmp))
        ctx = judged.ctx
        required = _required_families(ctx, stage)
        _check_deepchecks(ctx)
        where = f" as of {judged.base[:12]}" if judged.base else ""
        chosen = engine or (ctx.spec.data.engine if ctx.spec.data else None) or "pandas"
        if chosen not in spark_gates.ENGINES:
            raise InvalidInput(f"--engine {chosen!r}: expected one of {', '.join(spark_gates.ENGINES)}")
        if chosen == "spark":
            if ctx.spec.is_predictions:
                # the audit reads one CSV in memory; a second engine would be a second reading of predictions.*
                raise InvalidInput(
                    f"'{name}' is a predictions spec (its 'predictions:' audits a file): "
                    "--engine spark gates registered models only; gate it with --engine pandas"
                )
            on_spark = _SparkRun(ws, judged, required, stage, Path(tmp), progress, with_evidence, expected_digest)
            verdict = on_spark.gate(version, spark_master, start)
            if attach:
                progress(f"attaching the verdict to {name} v{verdict.version}")
                attach_verdict(ws.registry, verdict)
            return verdict
        if ctx.spec.is_predictions:  # nothing registered: no registry is opened at all
            if version is not None:
                raise InvalidInput(f"'{name}' is a predictions spec: it has no registered versions (drop --version)")
            progress(f"loading the DVC-tracked predictions file{where}")
            data = load_predictions_data(ctx.spec, ctx.spec_doc, root, judged.at)
            return _gate_predictions(root, judged, data, required, stage, start, progress, with_evidence)
        progress(f"loading DVC-tracked evaluation data{where}")
        data = load_model_data(ctx.spec, ctx.spec_doc, root, judged.at, gate=True)
        registry = ws.registry
        mv, run = _resolve_version(registry, name, version)
        number = mv.version
        unseen = _unseen_rows(judged, data, mv, run, Path(tmp) / "trained", progress)
        data = unseen.data
        progress(f"scoring v{number} (and the champion, if any) on {len(data.holdout)} holdout rows")
        model, challenger = _load(registry, ctx, data, mv, expected_digest)
        signature = challenger.signature
        columns = _input_columns(challenger, ctx.spec, data)
        scored = _score(model, ctx, data, columns)
        evaluated = evaluation_held_out(ctx.spec, data)
        champion = _champion(registry, ctx, data, number, evaluated)
        extra: dict[str, Any] = {}
        if judged.base and with_evidence:
            extra["params"] = _params_evidence(root, ctx, judged.base, Path(tmp))
            if champion.holder is None:
                progress(f"scoring the base branch's model ({judged.base[:12]} or an ancestor), for comparison")
                extra["base_model"] = _base_model(registry, root, ctx, data, number, evaluated, judged.base)
    loaded = time.perf_counter()
    evaluation = Evaluation(ctx, data, model, scored, champion.scored, signature, champion.skip)
    rules = evaluate_rules(evaluation, required, progress)
    judged_at = time.perf_counter()
    evidence_block: dict[str, Any] = {}
    if with_evidence:
        progress("evidence: confusion matrix, curves, feature importance, global explanation")
        evidence_block = _evidence(evaluation, extra, columns)
    verdict = _verdict(
        judged,
        mv,
        run,
        name=name,
        root=root,
        stage=stage,
        files=[f.as_dict() for f in data.files],
        unseen=unseen.as_dict(),
        metrics=scored.metrics,
        champion=champion,
        rules=rules,
        required=required,
        seconds=_seconds(start, loaded, judged_at),
        evidence=evidence_block,
        artifact=challenger.artifact.as_dict() if challenger.artifact else None,
    )
    if attach:
        progress(f"attaching the verdict to {name} v{number}")
        attach_verdict(registry, verdict)
    return verdict


@dataclass
class _SparkRun:
    """One ``gate --engine spark``: the Parquet datasets, the version and champion scored on Spark, the rules."""

    ws: Workspace
    judged: Judged
    required: list[str]
    stage: str | None
    scratch: Path
    progress: Progress
    with_evidence: bool
    expected_digest: str | None

    def gate(self, version: int | None, master: str | None, start: float) -> Verdict:
        """The verdict, as :func:`run_gates` builds it on pandas (no rows on the driver)."""
        ctx, judged, progress = self.judged.ctx, self.judged, self.progress
        spark = spark_gates.session(master)
        progress("reading the Parquet datasets with Spark" + (f" as of {judged.base[:12]}" if judged.base else ""))
        data = spark_gates.load_data(spark, ctx, ctx.root, judged.at)
        registry = self.ws.registry
        mv, run = _resolve_version(registry, ctx.name, version)
        frames = ModelData(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), files=data.files)
        evaluated = evaluation_held_out(ctx.spec, frames)
        held = version_held_out(mv.tags, run.params)
        reason, excluded = (
            "" if held is not None else "the version has no mlgate lineage: its training rows are unknown",
            0,
        )
        if held is not None and not held.same_as(evaluated):
            reason = f"v{mv.version} was trained on {held.describe()}; the evaluation uses {evaluated.describe()}"
            if held.layout != "files":
                raise InvalidInput(f"{reason}: rebuilding its split to leave out the rows {spark_gates.PANDAS_ONLY}")
            progress(f"{reason}: leaving out the rows it trained on")
            commit = mv.tags.get(TAG_PREFIX + "git.commit", "")
            trained = training_file(held, ctx.root, commit, judged.at, self.scratch / "trained")
            data, excluded = spark_gates.leave_out(spark, ctx, data, trained, held.train_path)
        source = "release.yaml" if self.expected_digest is not None else f"its registration ({ARTIFACT_DIGEST_TAG})"
        loaded, model, scored = self._scored(mv, self.expected_digest or mv.tags.get(ARTIFACT_DIGEST_TAG), source, data)
        progress(f"scored v{mv.version} on {scored.rows} holdout rows with Spark")
        champion = self._champion(mv.version, evaluated, data)
        at_loaded = time.perf_counter()
        as_scored = Scored(scored.metrics, np.empty(0), None, scored.classes or None, by_class=scored.by_class)
        evaluation = SparkEvaluation(
            ctx, frames, model, as_scored, champion.scored, loaded.signature, champion.skip, data, scored
        )
        rules = evaluate_rules(evaluation, self.required, progress)
        scored.release()
        judged_at = time.perf_counter()
        evidence_block: dict[str, Any] = {}
        if self.with_evidence:
            evidence_block = {
                "engine": "spark",
                "skipped": (
                    "confusion matrix, curves, permutation importance and the global explanation "
                    f"{spark_gates.PANDAS_ONLY}"
                ),
            }
        unseen = {"holdout_rows": scored.rows, "excluded_rows": excluded, "reason": reason}
        return _verdict(
            judged,
            mv,
            run,
            name=ctx.name,
            root=ctx.root,
            stage=self.stage,
            files=[f.as_dict() for f in data.files],
            unseen=unseen,
            metrics=scored.metrics,
            champion=champion,
            rules=rules,
            required=self.required,
            seconds=_seconds(start, at_loaded, judged_at),
            evidence=evidence_block,
            artifact=loaded.artifact.as_dict() if loaded.artifact else None,
        )

    def _scored(
        self, mv: ModelVersion, expected: str | None, source: str, data: spark_gates.SparkData
    ) -> tuple[LoadedModel, Any, spark_gates.SparkScored]:
        """Version ``mv`` verified (digest ``expected``), adapted, and scored on Spark."""
        ctx = self.judged.ctx
        trust = ctx.policy.policy.trust
        holder = self.scratch / f"v{mv.version}"
        holder.mkdir(parents=True, exist_ok=True)
        loaded, folder = self.ws.registry.verified_folder(
            ctx.name,
            mv.version,
            _Holder(holder),
            trust.formats if trust else (),
            ctx.policy.file,
            ctx.skops_trusted,
            expected=expected,
            expected_from=source,
        )
        model = adapt(loaded.model, ctx, [], f"{ctx.name} v{mv.version}")
        scored = spark_gates.score(ctx, data, loaded, model, folder, holder / "spark-model")
        return loaded, model, scored

    def _champion(self, version: int, evaluated: HeldOut, data: spark_gates.SparkData) -> Champion:
        """The champion scored on Spark on the same rows, or why it is not compared (as :func:`_champion`)."""
        ctx, registry = self.judged.ctx, self.ws.registry
        stage = ctx.policy.policy.promotion.champion_stage
        if stage is None:
            return Champion(skip=no_champion_stage(ctx.policy.file))
        number = registry.alias_version(ctx.name, stage)
        if number is None or number == version:
            return Champion(holder=number)
        mv = registry.version(ctx.name, number)
        held = version_held_out(mv.tags, registry.run_params(mv.run_id))
        if held is None or not held.same_as(evaluated):
            was = held.describe() if held else "no mlgate lineage"
            why = (
                f"champion v{number} was held out on other rows ({was}; evaluation: {evaluated.describe()}): "
                "its score here would include rows it trained on, so it is not compared"
            )
            return Champion(skip=why, holder=number)
        _, _, scored = self._scored(
            mv, mv.tags.get(ARTIFACT_DIGEST_TAG), f"its registration ({ARTIFACT_DIGEST_TAG})", data
        )
        scored.release()
        as_scored = Scored(scored.metrics, np.empty(0), None, scored.classes or None, by_class=scored.by_class)
        return Champion((number, as_scored), holder=number)


class _Holder:
    """A folder's keeper with ``.name`` (what :meth:`Registry.verified_folder` takes); removed with the scratch."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)


def _verdict(
    judged: Judged,
    mv: ModelVersion,
    run: RunFacts,
    *,
    name: str,
    root: Path,
    stage: str | None,
    files: list[dict[str, Any]],
    unseen: dict[str, Any],
    metrics: dict[str, float],
    champion: Champion,
    rules: list[RuleResult],
    required: list[str],
    seconds: dict[str, float],
    evidence: dict[str, Any],
    artifact: dict[str, Any] | None,
) -> Verdict:
    """The verdict of version ``mv`` of ``name`` (repo ``root``), whichever engine measured it: one record for both."""
    return Verdict(
        model=name,
        version=mv.version,
        run_id=mv.run_id,
        stage=stage,
        commit=git_state(root).commit,
        policy=_policy_record(judged),
        judging=_judging_record(judged, unseen),
        data=files,
        trained_on=_trained_on(mv.tags),
        lineage=lineage(mv, run),
        metrics=metrics,
        champion=None
        if champion.scored is None
        else {
            "version": champion.scored[0],
            "alias": judged.ctx.policy.policy.promotion.champion_stage,
            "metrics": champion.scored[1].metrics,
        },
        rules=rules,
        required_families=required,
        evaluated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        mlgate_version=__version__,
        seconds=seconds,
        evidence=evidence,
        artifact=artifact,
    )


def _seconds(start: float, loaded: float, judged_at: float) -> dict[str, float]:
    """The verdict's ``seconds``: loading (data, model), judging the rules, the evidence (until now)."""
    return {
        "load": round(loaded - start, 3),
        "gates": round(judged_at - loaded, 3),
        "evidence": round(time.perf_counter() - judged_at, 3),
    }


def _policy_record(judged: Judged) -> dict[str, Any]:
    """The verdict's ``policy``: the files that judged, their hash, the base and what the PR changes."""
    policy = judged.ctx.policy
    return {
        "file": policy.file,
        "files": list(policy.files),
        "sha256": policy.sha256,
        "ref": judged.base,
        "changed": judged.policy_changes,
    }


def _judging_record(judged: Judged, evaluation: dict[str, Any]) -> dict[str, Any]:
    """The verdict's ``judging``: base commit, judging-field changes, judged spec hash, rows scored.

    ``decision``: the PR's change of the spec's ``decision:`` block (base, head), or None. A model
    field, judged as the head gives it, so not among the governance ``changes``; reports show it first.
    """
    return {
        "base": judged.base,
        "spec_sha256": canonical_hash(judged.ctx.spec.model_dump(mode="json", by_alias=True)),
        "changes": [c.as_dict() for c in judged.changes],
        "decision": judged.decision.as_dict() if judged.decision else None,
        "evaluation": evaluation,
    }


def _gate_predictions(
    root: Path,
    judged: Judged,
    data: ModelData,
    required: list[str],
    stage: str | None,
    start: float,
    progress: Progress,
    with_evidence: bool = True,
) -> Verdict:
    """The verdict of a predictions spec: the same rules on a predictions file, no registry.

    Every row of the file is evaluation data (mlgate trained nothing, so no row is left out);
    there is no champion, so ``max_regression`` rules are skipped with the reason. The verdict's
    ``subject`` is ``predictions``: ``version`` and ``run_id`` are null, and ``predictions`` names
    the file, its md5 and the columns and threshold that made the decisions.
    """
    ctx = judged.ctx
    assert ctx.spec.predictions is not None
    progress(f"scoring {len(data.holdout)} predictions from {ctx.spec.predictions.path}")
    scored = score_predictions(ctx.spec, data.holdout)
    loaded = time.perf_counter()
    evaluation = Evaluation(ctx, data, None, scored, None, None, PREDICTIONS_NO_CHAMPION)
    rules = evaluate_rules(evaluation, required, progress)
    judged_at = time.perf_counter()
    evidence_block = _evidence(evaluation, {}, None) if with_evidence else {}
    predictions_file = next(f for f in data.files if f.role == "predictions")
    classes = scored.classes or []
    pos = positive_label(classes, ctx.spec.positive_label)
    return Verdict(
        model=ctx.name,
        version=None,
        run_id=None,
        subject="predictions",
        predictions=ctx.spec.predictions.model_dump(mode="json")
        | {"md5": predictions_file.md5, "tracked_by": predictions_file.tracked_by, "positive_label": pos},
        stage=stage,
        commit=git_state(root).commit,
        policy=_policy_record(judged),
        judging=_judging_record(judged, {"holdout_rows": len(data.holdout), "excluded_rows": 0, "reason": ""}),
        data=[f.as_dict() for f in data.files],
        trained_on={},
        lineage={},
        metrics=scored.metrics,
        champion=None,
        rules=rules,
        required_families=required,
        evaluated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        mlgate_version=__version__,
        seconds=_seconds(start, loaded, judged_at),
        evidence=evidence_block,
    )


def verdict_tags(verdict: Verdict, artifact: str, sha256: str) -> dict[str, str]:
    """The ONE version tag a verdict is recorded under (:data:`VERDICT_TAG`), as compact JSON.

    It names the verdict artifact and the sha256 of its bytes, and repeats what a reader needs
    without downloading it (status, stage, policy hash, family statuses, data md5s); readers
    check the two agree with :meth:`~mlgate.registry.Registry.read_verdict`. A few hundred chars.
    """
    import json

    record = {
        "verdict": artifact,
        "sha256": sha256,
        "status": verdict.status,
        "stage": verdict.stage or "all",
        "policy_sha256": verdict.policy["sha256"],
        "evaluated_at": verdict.evaluated_at,
        "families": {family: verdict.family_status(family) for family in GATE_FAMILIES},
        "data": {item["role"]: item["md5"] for item in verdict.data},
    }
    return {VERDICT_TAG: json.dumps(record, sort_keys=True, separators=(",", ":"))}


def verdict_artifact(verdict: Verdict, sha256: str = "") -> str:
    """``mlgate/verdicts/<time>-<stage>[-<sha256 prefix>].json`` on the version's run.

    With the content hash in the name, a later verdict never overwrites one a tag points at.
    """
    stamp = verdict.evaluated_at.replace("-", "").replace(":", "")
    suffix = f"-{sha256[:12]}" if sha256 else ""
    return f"{VERDICT_DIR}/{stamp}-{verdict.stage or 'all'}{suffix}.json"


def attach_verdict(registry: Registry, verdict: Verdict) -> str:
    """Store the verdict artifact, then point the single :data:`VERDICT_TAG` at it; its path.

    One tag write is the commit point: an outage before it leaves the previous verdict's tag
    (and artifact) in place and consistent; the orphaned new artifact is never read.
    """
    import hashlib

    payload = jsonout.dumps(verdict.as_dict())
    digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    artifact = verdict_artifact(verdict, digest)
    if verdict.run_id is None or verdict.version is None:  # a predictions file is no registered version
        raise ValueError(f"the verdict of {verdict.model} judges no model version: nothing to attach it to")
    registry.attach_json(verdict.run_id, payload, artifact)
    registry.set_version_tags(verdict.model, verdict.version, verdict_tags(verdict, artifact, digest))
    return artifact

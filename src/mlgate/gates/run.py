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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlgate import __version__, jsonout
from mlgate.config.judging import Judged, judge_model
from mlgate.config.policies import rule_id
from mlgate.config.schema import GATE_FAMILIES
from mlgate.config.workspace import ModelContext
from mlgate.data import (
    HeldOut,
    ModelData,
    Unseen,
    evaluation_held_out,
    leave_out,
    load_model_data,
    training_rows,
    version_held_out,
)
from mlgate.exceptions import InvalidInput
from mlgate.gates import Measurement, Skip, documentation, drift, fairness, integrity, performance
from mlgate.gates.metrics import classification_metrics, positive_label, regression_metrics
from mlgate.gates.verdict import RuleResult, RuleStatus, Verdict, judge
from mlgate.git import git_state
from mlgate.registry import TAG_PREFIX, VERDICT_TAG, ModelVersion, Registry, RunFacts
from mlgate.training.lineage import canonical_hash

Progress = Callable[[str], None]
CHAMPION_ALIAS = "production"
VERDICT_DIR = "mlgate/verdicts"


@dataclass
class Scored:
    """A model's holdout predictions and metrics: what every gate family reads.

    ``predicted`` holds the decided label (classification) or value (regression) per row;
    ``proba`` the class probabilities (rows × ``classes``) when the model gives them. Gates never
    call the model themselves, so a model of any flavour, or a predictions file, fits here.
    """

    metrics: dict[str, float]
    predicted: np.ndarray
    proba: np.ndarray | None = None
    classes: list[Any] | None = None


def _score(model: Any, ctx: ModelContext, data: ModelData, features: list[str] | None = None) -> Scored:
    """Holdout metrics and predictions of ``model``.

    ``features`` are the model's own input columns (its signature), so an older version with
    other features is scored on what it expects.
    """
    spec = ctx.spec
    columns = features or spec.features.all
    x, y = data.holdout[columns], data.holdout[spec.target]
    if spec.task == "classification":
        classes = list(model.classes_)
        proba = np.asarray(model.predict_proba(x))
        metrics = classification_metrics(y, proba, classes, positive_label(classes, spec.positive_label))
        return Scored(metrics, np.asarray(classes)[proba.argmax(axis=1)], proba, classes)
    predicted = np.asarray(model.predict(x))
    return Scored(regression_metrics(y, predicted), predicted)


def _resolve_version(registry: Registry, name: str, version: int | None) -> tuple[ModelVersion, RunFacts]:
    """The version to gate (default: the latest) and its run, refused if training did not complete."""
    known = [v.version for v in registry.versions(name)]
    if not known:
        raise InvalidInput(
            f"model '{name}' has no registered version in {registry.uri}",
            hint=f"train one first: mlgate train {name}",
        )
    wanted = version or known[-1]
    if wanted not in known:
        raise InvalidInput(f"model '{name}' has no version {wanted} (versions: {', '.join(map(str, sorted(known)))})")
    from mlgate.training.lineage import incomplete_reason

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
    if stage not in stages:
        known = ", ".join(stages) or "none"
        raise InvalidInput(f"stage '{stage}' is not defined in {ctx.policy.file} (stages: {known})")
    return list(stages[stage].require_gates)


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

    # -- performance
    def performance(self, rule: Any) -> Measurement | Skip:
        """The rule's holdout metric, or its worsening against the champion (skipped if none)."""
        if rule.comparison != "max_regression":
            return performance.absolute(rule.metric, self.scored.metrics)
        if self.champion_skip:
            return Skip(self.champion_skip)
        if self.champion is None:
            name = self.ctx.name
            return Skip(f"no champion yet: no version of '{name}' holds the '{CHAMPION_ALIAS}' alias")
        version, champ = self.champion
        return performance.regression(rule.metric, self.scored.metrics, champ.metrics, version)

    # -- fairness
    def _group(self, name: str) -> pd.Series:
        if name not in self._groups:
            feature = next(f for f in self.ctx.spec.sensitive_features if f.name == name)
            self._groups[name] = fairness.sensitive_groups(self.data.holdout, feature)
        return self._groups[name]

    def fairness(self, rule: Any) -> Measurement:
        """The fairness metric over the groups of the rule's sensitive features."""
        spec = self.ctx.spec
        if spec.task != "classification":
            return Measurement.failed("fairness metrics need a classifier's decisions; this model is a regressor")
        names = rule.sensitive_features or [f.name for f in spec.sensitive_features]
        if not names:
            return Measurement.failed(f"models/{spec.name}/model.yaml lists no sensitive_features")
        classes = self.scored.classes or []
        pos = positive_label(classes, spec.positive_label)
        y_true = self.data.holdout[spec.target].to_numpy() == pos
        y_pred = self.scored.predicted == pos
        series = [self._group(n) for n in names]
        if rule.intersection and len(series) > 1:
            combined = series[0]
            for other in series[1:]:
                combined = fairness.intersect(combined, other)
            series = [*series, combined]
        minimum = self.ctx.policy.policy.settings.fairness.min_group_size
        tables = [fairness.group_table(y_true, y_pred, s, minimum) for s in series]
        return fairness.fairness_measurement(tables, rule.metric)

    # -- drift
    def drift(self, rule: Any) -> Measurement:
        """The drift statistic of the rule, from the per-feature drift table (computed once)."""
        settings = self.ctx.policy.policy.settings.drift
        if self._drift is None:
            feats = self.ctx.spec.features
            try:
                self._drift = drift.feature_drift(
                    self.data.reference, self.data.current, feats.numeric, feats.categorical, settings
                )
            except ValueError as err:  # e.g. a column with no values at all: fail closed, say why
                return Measurement.failed(f"drift could not be computed: {err}")
        return drift.drift_measurement(self._drift, rule.metric, rule.features, settings)

    # -- integrity
    def integrity_data(self) -> integrity.IntegrityData:
        """The integrity gate's view of the data: train, holdout, features, target, signature."""
        spec = self.ctx.spec
        return integrity.IntegrityData(
            train=self.data.train,
            holdout=self.data.holdout,
            numeric=spec.features.numeric,
            categorical=spec.features.categorical,
            target=spec.target,
            signature=self.signature,
        )

    def integrity(self, rule: Any) -> Measurement | Skip:
        """The native integrity metric of the rule (conflicting labels: skipped for a regressor)."""
        if rule.metric == "conflicting_labels" and self.ctx.spec.task == "regression":
            # equal features with different continuous targets are expected, not a data error
            return Skip("conflicting labels apply to classification targets; this model is a regressor")
        return integrity.integrity_measurement(rule.metric, self.integrity_data())

    def deepchecks(self, rule: Any, rid: str, required: bool) -> list[RuleResult]:
        """One result per deepchecks condition: a failed condition is a failed rule."""
        outcomes = integrity.deepchecks_results(rule.suite, self.integrity_data(), self.model, self.ctx.spec.task)
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

    def documentation(self, rule: Any) -> Measurement:
        """Whether the spec field the rule names is filled in."""
        return documentation.documented(self.ctx.spec, rule.field)


def evaluate_rules(evaluation: Evaluation, required: list[str], progress: Progress) -> list[RuleResult]:
    """Judge every rule of the policy, family by family (a deepchecks rule: one per condition)."""
    policy = evaluation.ctx.policy.policy
    results: list[RuleResult] = []
    for family in GATE_FAMILIES:
        rules = policy.gates.rules(family)
        if not rules:
            continue
        progress(f"{family}: {len(rules)} rule(s)")
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
    return results


@dataclass
class Champion:
    """The version holding the champion alias, scored on the same rows, or why it is not."""

    scored: tuple[int, Scored] | None = None
    skip: str = ""


def _champion(
    registry: Registry,
    ctx: ModelContext,
    data: ModelData,
    version: int,
    evaluated: HeldOut,
) -> Champion:
    number = registry.alias_version(ctx.name, CHAMPION_ALIAS)
    if number is None or number == version:
        return Champion()
    mv = registry.version(ctx.name, number)
    held = version_held_out(mv.tags, registry.run_params(mv.run_id))
    if held is None or not held.same_as(evaluated):
        was = held.describe() if held else "no mlgate lineage"
        return Champion(
            skip=(
                f"champion v{number} was held out on other rows ({was}; evaluation: {evaluated.describe()}): "
                "its score here would include rows it trained on, so it is not compared"
            )
        )
    loaded = registry.load_version(ctx.name, number, ctx.estimator_modules)  # judged policy: what skops may load
    return Champion((number, _score(loaded.model, ctx, data, _signature_features(loaded.signature))))


def _signature_features(signature: list[tuple[str, str]] | None) -> list[str] | None:
    return [column for column, _ in signature] if signature else None


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
    root: Path,
    name: str,
    *,
    version: int | None = None,
    policy_ref: str | None = None,
    stage: str | None = None,
    tracking_uri: str | None = None,
    progress: Progress = lambda _msg: None,
    attach: bool = True,
) -> Verdict:
    """Evaluate ``name``'s policy against one registered version and return the verdict.

    With ``policy_ref`` (a PR's base commit, or the branch a promotion lands on) the judging
    fields of the spec, the policies and the evaluation data all come from that commit
    (mlgate.config.judging); the model fields from the working tree.
    """
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        judged = judge_model(root, name, policy_ref, Path(tmp))
        ctx = judged.ctx
        required = _required_families(ctx, stage)
        _check_deepchecks(ctx)
        where = f" as of {judged.base[:12]}" if judged.base else ""
        progress(f"loading DVC-tracked evaluation data{where}")
        data = load_model_data(ctx.spec, ctx.spec_doc, root, judged.at)
        registry = Registry(root, tracking_uri)
        mv, run = _resolve_version(registry, name, version)
        number = mv.version
        unseen = _unseen_rows(judged, data, mv, run, Path(tmp) / "trained", progress)
        data = unseen.data
        progress(f"scoring v{number} (and the champion, if any) on {len(data.holdout)} holdout rows")
        challenger = registry.load_version(name, number, ctx.estimator_modules)
        model, signature = challenger.model, challenger.signature
        scored = _score(model, ctx, data, _signature_features(signature))
        champion = _champion(registry, ctx, data, number, evaluation_held_out(ctx.spec, data))
    loaded = time.perf_counter()
    evaluation = Evaluation(ctx, data, model, scored, champion.scored, signature, champion.skip)
    rules = evaluate_rules(evaluation, required, progress)
    verdict = Verdict(
        model=name,
        version=number,
        run_id=mv.run_id,
        stage=stage,
        commit=git_state(root).commit,
        policy={
            "file": ctx.policy.file,
            "files": list(ctx.policy.files),
            "sha256": ctx.policy.sha256,
            "ref": judged.base,
            "changed": judged.policy_changes,
        },
        judging={
            "base": judged.base,
            "spec_sha256": canonical_hash(ctx.spec.model_dump(mode="json", by_alias=True)),
            "changes": [c.as_dict() for c in judged.changes],
            "evaluation": unseen.as_dict(),
        },
        data=[f.as_dict() for f in data.files],
        trained_on=_trained_on(mv.tags),
        lineage=lineage(mv, run),
        metrics=scored.metrics,
        champion=None
        if champion.scored is None
        else {
            "version": champion.scored[0],
            "alias": CHAMPION_ALIAS,
            "metrics": champion.scored[1].metrics,
        },
        rules=rules,
        required_families=required,
        evaluated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        mlgate_version=__version__,
        seconds={"load": round(loaded - start, 3), "gates": round(time.perf_counter() - loaded, 3)},
    )
    if attach:
        progress(f"attaching the verdict to {name} v{number}")
        attach_verdict(registry, verdict)
    return verdict


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
    registry.attach_json(verdict.run_id, payload, artifact)
    registry.set_version_tags(verdict.model, verdict.version, verdict_tags(verdict, artifact, digest))
    return artifact

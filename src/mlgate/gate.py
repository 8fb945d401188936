"""`mlgate gate`: evaluate every rule of a model's policy against a registered version.

Everything the verdict depends on is loaded and checked first (spec, policy, data and its DVC
hashes, the version, the champion, optional deepchecks); then each family measures, the
verdict module judges, and the verdict is attached to the version (a JSON artifact on its
run plus ``mlgate.gates.*`` tags) so a promotion can later check what passed under which policy.
"""

from __future__ import annotations

import subprocess
import tarfile
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
from mlgate.data import ModelData, load_model_data
from mlgate.exceptions import GitError, InvalidInput
from mlgate.gates import Measurement, Skip, documentation, drift, fairness, integrity, performance
from mlgate.lineage import git_state
from mlgate.metrics import evaluate, positive_label
from mlgate.policies import rule_id
from mlgate.registry import TAG_PREFIX, Registry
from mlgate.spec import GATE_FAMILIES
from mlgate.verdict import RuleResult, Verdict, judge
from mlgate.workspace import ModelContext, PolicySource, load_model_context

Progress = Callable[[str], None]
CHAMPION_ALIAS = "production"
VERDICT_DIR = "mlgate/verdicts"


@dataclass
class Scored:
    """A model's holdout predictions and metrics."""

    metrics: dict[str, float]
    predicted: np.ndarray


def _score(model: Any, ctx: ModelContext, data: ModelData) -> Scored:
    spec = ctx.spec
    metrics = evaluate(model, data.holdout, spec.features.all, spec.target, spec.task, spec.positive_label)
    return Scored(metrics=metrics, predicted=np.asarray(model.predict(data.holdout[spec.features.all])))


def _resolve_version(registry: Registry, name: str, version: int | None) -> Any:
    latest = registry.latest_version(name)
    if latest is None:
        raise InvalidInput(
            f"model '{name}' has no registered version in {registry.uri}",
            hint=f"train one first: mlgate train {name}",
        )
    wanted = version or latest
    known = {int(v.version) for v in registry.versions(name)}
    if wanted not in known:
        raise InvalidInput(
            f"model '{name}' has no version {wanted} (versions: {', '.join(map(str, sorted(known)))})"
        )
    return registry.version(name, wanted)


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
        self, ctx: ModelContext, data: ModelData, model: Any, scored: Scored,
        champion: tuple[int, Scored] | None, signature: list[tuple[str, str]] | None,
    ) -> None:
        self.ctx, self.data, self.model, self.scored, self.champion = ctx, data, model, scored, champion
        self.signature = signature
        self._drift: list[drift.FeatureDrift] | None = None
        self._groups: dict[str, pd.Series] = {}

    # -- performance
    def performance(self, rule: Any) -> Measurement | Skip:
        if rule.comparison != "max_regression":
            return performance.absolute(rule.metric, self.scored.metrics)
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
        spec = self.ctx.spec
        if spec.task != "classification":
            return Measurement.failed("fairness metrics need a classifier's decisions; this model is a regressor")
        names = rule.sensitive_features or [f.name for f in spec.sensitive_features]
        if not names:
            return Measurement.failed(f"models/{spec.name}/model.yaml lists no sensitive_features")
        classes = list(self.model.classes_)
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
            status = "pass" if outcome.passed else ("error" if outcome.category == "ERROR" else "fail")
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
                    blocking=status != "pass" and severity == "block" and required,
                )
            )
        return results

    def documentation(self, rule: Any) -> Measurement:
        return documentation.documented(self.ctx.spec, rule.field)


def evaluate_rules(evaluation: Evaluation, required: list[str], progress: Progress) -> list[RuleResult]:
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


def _champion(registry: Registry, ctx: ModelContext, data: ModelData, version: int) -> tuple[int, Scored] | None:
    champion = registry.alias_version(ctx.name, CHAMPION_ALIAS)
    if champion is None or champion == version:
        return None
    return champion, _score(registry.load_model(ctx.name, champion), ctx, data)


def _trained_on(tags: dict[str, str]) -> dict[str, str]:
    prefix = TAG_PREFIX + "data."
    return {
        k.removeprefix(prefix).removesuffix(".md5"): v
        for k, v in tags.items()
        if k.startswith(prefix) and k.endswith(".md5")
    }


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
    """Evaluate ``name``'s policy against one registered version and return the verdict."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        source = base_policies(root, name, policy_ref, Path(tmp)) if policy_ref else None
        ctx = load_model_context(root, name, source)
    required = _required_families(ctx, stage)
    _check_deepchecks(ctx)
    progress("loading DVC-tracked data")
    data = load_model_data(ctx.spec, ctx.spec_doc, root)
    registry = Registry(root, tracking_uri)
    mv = _resolve_version(registry, name, version)
    number = int(mv.version)
    progress(f"scoring v{number} (and the champion, if any) on {len(data.holdout)} holdout rows")
    model = registry.load_model(name, number)
    scored = _score(model, ctx, data)
    champion = _champion(registry, ctx, data, number)
    signature = registry.signature_columns(name, number)
    loaded = time.perf_counter()
    evaluation = Evaluation(ctx, data, model, scored, champion, signature)
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
            "ref": policy_ref,
            "changed": policy_changes(root, policy_ref) if policy_ref else [],
        },
        data=[f.as_dict() for f in data.files],
        trained_on=_trained_on(dict(mv.tags)),
        metrics=scored.metrics,
        champion=None if champion is None else {"version": champion[0], "alias": CHAMPION_ALIAS, "metrics": champion[1].metrics},
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


def verdict_tags(verdict: Verdict) -> dict[str, str]:
    """What a promotion reads back: overall and per-family status, under which policy and data."""
    tags = {
        "gates.status": verdict.status,
        "gates.stage": verdict.stage or "all",
        "gates.policy.sha256": verdict.policy["sha256"],
        "gates.evaluated_at": verdict.evaluated_at,
        "gates.verdict": verdict_artifact(verdict),
    }
    tags |= {f"gates.{family}": verdict.family_status(family) for family in GATE_FAMILIES}
    tags |= {f"gates.data.{item['role']}.md5": item["md5"] for item in verdict.data}
    return {TAG_PREFIX + key: value for key, value in tags.items()}


def verdict_artifact(verdict: Verdict) -> str:
    stamp = verdict.evaluated_at.replace("-", "").replace(":", "")
    return f"{VERDICT_DIR}/{stamp}-{verdict.stage or 'all'}.json"


def attach_verdict(registry: Registry, verdict: Verdict) -> None:
    """Artifact first, then tags: the tags never point at a verdict that was not stored."""
    registry.attach_json(verdict.run_id, jsonout.dumps(verdict.as_dict()), verdict_artifact(verdict))
    registry.set_version_tags(verdict.model, verdict.version, verdict_tags(verdict))


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)


def base_policies(root: Path, name: str, ref: str, into: Path) -> PolicySource:
    """Materialise ``policies/`` and the model's spec as of ``ref`` (the PR's base commit)."""
    if _git(root, "rev-parse", "--verify", f"{ref}^{{commit}}").returncode != 0:
        raise InvalidInput(f"policy ref '{ref}' is not a commit in {root}",
                           hint="fetch the base branch (actions/checkout with fetch-depth: 0)")
    archive = _git(root, "archive", "--format=tar", ref, "policies", f"models/{name}/model.yaml")
    if archive.returncode != 0:  # the model may be new in this PR: take the policies only
        archive = _git(root, "archive", "--format=tar", ref, "policies")
    if archive.returncode != 0:
        raise GitError(f"git archive {ref} policies failed: {archive.stderr.decode().strip()}")
    tar_path = into / "base.tar"
    tar_path.write_bytes(archive.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    import yaml

    base_spec = into / "models" / name / "model.yaml"
    policy_file = None
    if base_spec.is_file():
        policy_file = (yaml.safe_load(base_spec.read_text()) or {}).get("policy")
    return PolicySource(root=into, policy_file=policy_file, ref=ref)


def policy_changes(root: Path, ref: str) -> list[dict[str, str]]:
    """Policy files that differ between ``ref`` and the working tree, with their diffs."""
    names = _git(root, "diff", "--name-only", ref, "--", "policies").stdout.decode().split()
    return [
        {"file": file, "diff": _git(root, "diff", ref, "--", file).stdout.decode(errors="replace")}
        for file in names
    ]

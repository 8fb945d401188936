"""``mlgate monitor MODEL --stage STAGE --compare``: the candidate arm judged against the stable one.

A stage of ``release.yaml`` may carry one candidate beside its stable version: a **canary** (a share
of the live traffic answered by the candidate) or a **shadow** (every request also scored by the
candidate, never answered with). ``mlgate serve`` audits each arm's rows under the arm's alias
(``production``, ``production-canary``, ``production-shadow``); this module reads one window of both
(the ``--since`` / ``--window`` of ``mlgate monitor``) and compares them:

- **decision rate** — the share of rows decided positive (score at or above the spec's decision
  threshold, 0.5 without one): the absolute change against ``compare.max_decision_rate_change``,
  tested with the two-proportion z-test (pooled, two-sided); a shadow's rows, which pair with the
  stable arm's by ``(request_id, row)``, with McNemar's exact test on the paired decisions;
- **score distribution** — PSI of the positive-class probability (a regressor's prediction) of the
  candidate's rows against the stable arm's quantile bins (the gates' drift code, ``settings.drift``
  bins and smoothing) against ``compare.max_score_psi``, with the two-sample Kolmogorov–Smirnov test;
- **fairness** — each ``fairness`` rule of the policy measured on each arm's rows with the gates'
  code (:mod:`mlgate.gates.fairness`), where the rule's sensitive features are in the audit rows
  (metrics beyond the selection rate need outcomes: the labelled rows only);
- **performance** — the primary metric (the policy's first ``performance`` rule measurable on
  production rows; ROC AUC or RMSE without one) on each arm's labelled rows (``monitoring.labels``),
  its drop against ``compare.max_performance_drop``, with a paired-bootstrap p-value (1,000 resamples,
  fixed seed) that the candidate is worse.

Each check is a :class:`Check` row with a status: ``pass`` (within the threshold), ``fail`` (beyond
it **and** significant at ``compare.alpha``; fairness: the candidate breaks a rule the stable arm
meets), ``inconclusive`` (beyond it without significance, or not decidable) or ``skipped`` (does not
apply: no labels, no sensitive feature in the rows). The verdict (:class:`CompareState`):

- ``pending`` — an arm has fewer than ``compare.min_samples`` rows: nothing is judged, the verdict
  says how many more each arm needs;
- ``abort`` — a check failed (also while the canary is younger than ``min_duration``: significant
  harm is not left serving to wait out the clock);
- ``hold`` — a check is inconclusive, or the canary has not run ``min_duration`` yet (since its alias
  was set, from the registry's audit record), or its start is not on record;
- ``promote`` — enough sample, enough duration, and every check passed (or does not apply).

The verdict is recorded as a run of the ``mlgate-monitoring`` experiment (``compare.json``, tags
``mlgate.compare.*``) and linked from the candidate version's tags.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlgate import __version__, jsonout
from mlgate.config import (
    BY_NAME,
    ArmKind,
    DriftSettings,
    ModelContext,
    Workspace,
    arm_alias,
    load_model_context,
    refuse_predictions,
    release_at,
)
from mlgate.exceptions import ExternalServiceError, InvalidInput
from mlgate.gates import Measurement, classification_metrics, drift, fairness, regression_metrics
from mlgate.monitoring._labels import labels_for
from mlgate.monitoring._sources import AT, SCORE, Served, SourceReport, configured, read_audit
from mlgate.monitoring._window import Window, iso, resolve
from mlgate.registry import Registry, audit
from mlgate.scoring import check_stage, custody, load_alias_version, model_plan

Progress = Callable[[str], None]

SCHEMA = "mlgate.compare/1"
"""The ``schema`` field of a comparison verdict's JSON."""
BOOTSTRAP = 1000
"""Resamples of the performance check's bootstrap (seeded: the same rows give the same p-value)."""
HISTOGRAM_BINS = 20
"""Bins of the score histograms the report draws (equal width over the scores of both arms)."""


class CompareState(StrEnum):
    """What the comparison says should happen to the candidate."""

    PENDING = "pending"  # too little traffic in an arm: no verdict yet
    PROMOTE = "promote"  # complete the canary / promote the shadow (by pull request)
    HOLD = "hold"  # inconclusive, or too young: keep it running
    ABORT = "abort"  # significant harm: remove the candidate (by pull request)


class CheckStatus(StrEnum):
    """One comparison check's outcome."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One row of the comparison: the value on each arm, the test, the threshold and the status."""

    name: str
    stable: float | None
    candidate: float | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    status: CheckStatus
    explanation: str
    test: str = ""
    change: float | None = None  # what the threshold bounds: |rate change|, PSI, the performance drop

    def as_dict(self) -> dict[str, Any]:
        """The check as the verdict's ``checks`` lists it."""
        return {
            "name": self.name,
            "stable": self.stable,
            "candidate": self.candidate,
            "change": self.change,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "status": str(self.status),
            "test": self.test,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Arm:
    """One arm's rows in the window: its alias, version, features and outcomes."""

    alias: str
    version: int
    rows: pd.DataFrame  # request_id, row, SCORE, AT
    features: pd.DataFrame  # the signature's columns, row for row
    labels: pd.Series | None  # the outcome of each row (None where none arrived); None without monitoring.labels
    source: SourceReport

    @property
    def n(self) -> int:
        """Rows of the arm's version in the window."""
        return len(self.rows)


@dataclass
class CompareVerdict:
    """What ``mlgate monitor --compare`` found about a stage's candidate in one window."""

    model: str
    stage: str
    kind: str  # canary | shadow
    stable: dict[str, Any]
    candidate: dict[str, Any]
    window: dict[str, str]
    settings: dict[str, Any]
    duration: dict[str, Any]
    checks: list[Check]
    state: CompareState
    reasons: list[str]
    needed: dict[str, int]
    histograms: dict[str, Any] | None
    evaluated_at: str
    mlgate_version: str
    compare_run_id: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The verdict JSON (schema :data:`SCHEMA`)."""
        return {
            "schema": SCHEMA,
            "model": self.model,
            "stage": self.stage,
            "kind": self.kind,
            "state": str(self.state),
            "reasons": list(self.reasons),
            "needed": dict(self.needed),
            "stable": self.stable,
            "candidate": self.candidate,
            "window": self.window,
            "settings": self.settings,
            "duration": self.duration,
            "checks": [c.as_dict() for c in self.checks],
            "histograms": self.histograms,
            "compare_run_id": self.compare_run_id,
            "evaluated_at": self.evaluated_at,
            "mlgate_version": self.mlgate_version,
            "seconds": self.seconds,
        }


@dataclass
class CompareResult:
    """A comparison verdict (its JSON), and whether recording it failed (then exit 3)."""

    verdict: dict[str, Any]
    recording_error: ExternalServiceError | None = None

    @property
    def state(self) -> CompareState:
        """The verdict's state."""
        return CompareState(self.verdict["state"])


# --------------------------------------------------------------------------- statistics


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p) of the pooled two-proportion z-test of ``x1/n1`` against ``x2/n2``.

    Both proportions 0 or both 1 (no variance): z 0, p 1 — the arms decide alike.
    """
    from scipy.stats import norm

    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / se
    return float(z), float(2 * norm.sf(abs(z)))


def score_drift(stable: np.ndarray, candidate: np.ndarray, bins: int, epsilon: float) -> tuple[float, float, float]:
    """(PSI of ``candidate`` in ``stable``'s quantile bins, KS statistic, KS p-value): the gates' drift code."""
    settings = DriftSettings(psi_bins=bins, psi_epsilon=epsilon)
    found = drift.feature_drift(
        pd.DataFrame({"score": stable}), pd.DataFrame({"score": candidate}), ["score"], [], settings, workers=1
    )[0]
    return (
        float(found.psi),
        float(found.ks_statistic or 0.0),
        float(found.ks_pvalue if found.ks_pvalue is not None else 1.0),
    )


def histograms(stable: np.ndarray, candidate: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict[str, Any] | None:
    """Equal-width bins over both arms' scores and each arm's share per bin (what the report charts)."""
    both = np.concatenate([stable, candidate])
    both = both[np.isfinite(both)]
    if not both.size:
        return None
    low, high = float(both.min()), float(both.max())
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)

    def shares(values: np.ndarray) -> list[float]:
        values = values[np.isfinite(values)]
        counts, _ = np.histogram(values, bins=edges)
        return [float(c) / values.size if values.size else 0.0 for c in counts]

    return {"edges": [float(e) for e in edges], "stable": shares(stable), "candidate": shares(candidate)}


# --------------------------------------------------------------------------- checks


def decision_rate_check(
    stable: np.ndarray, candidate: np.ndarray, threshold: float, max_change: float, alpha: float
) -> Check:
    """The share of rows decided positive on each arm: the change, and the two-proportion z-test."""
    s, c = stable[np.isfinite(stable)], candidate[np.isfinite(candidate)]
    if not s.size or not c.size:
        why = "an arm's audit rows hold no score (no probabilities in the outputs): nothing to compare"
        return Check("decision_rate", None, None, None, None, max_change, CheckStatus.INCONCLUSIVE, why)
    x1, x2 = int((s >= threshold).sum()), int((c >= threshold).sum())
    r1, r2 = x1 / s.size, x2 / c.size
    z, p = two_proportions(x1, s.size, x2, c.size)
    change = abs(r2 - r1)
    status = _judged(change > max_change, p, alpha)
    text = (
        f"decided positive (score ≥ {threshold:g}): stable {r1:.2%} of {s.size}, candidate {r2:.2%} of {c.size}; "
        f"change {r2 - r1:+.2%} (max {max_change:.2%}), z {z:.3f}, p {p:.3g}"
    )
    return Check(
        "decision_rate", r1, r2, z, p, max_change, status, text + _said(status, alpha), "two-proportion z-test", change
    )


def mcnemar(stable: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """(chi-square, exact two-sided p) of McNemar's test on paired decisions (the same requests on both arms).

    Only the discordant pairs count: ``b`` decided positive by the stable version alone, ``c`` by
    the candidate alone; p is the exact binomial test of ``min(b, c)`` in ``b + c`` at one half.
    """
    from scipy.stats import binomtest

    b = int((stable & ~candidate).sum())
    c = int((~stable & candidate).sum())
    if b + c == 0:
        return 0.0, 1.0
    return float((b - c) ** 2 / (b + c)), float(binomtest(min(b, c), b + c, 0.5).pvalue)


def paired_decision_rate_check(
    stable: np.ndarray, candidate: np.ndarray, threshold: float, max_change: float, alpha: float
) -> Check:
    """A shadow's decisions on the very requests the stable version decided: the change, and McNemar's test."""
    known = np.isfinite(stable) & np.isfinite(candidate)
    s, c = stable[known] >= threshold, candidate[known] >= threshold
    if not s.size:
        why = "no request holds a score on both arms: nothing to compare"
        return Check("decision_rate", None, None, None, None, max_change, CheckStatus.INCONCLUSIVE, why)
    r1, r2 = float(s.mean()), float(c.mean())
    chi2, p = mcnemar(s, c)
    change = abs(r2 - r1)
    status = _judged(change > max_change, p, alpha)
    text = (
        f"decided positive (score ≥ {threshold:g}) on the same {s.size} requests: stable {r1:.2%}, shadow "
        f"{r2:.2%}; change {r2 - r1:+.2%} (max {max_change:.2%}); {int((s != c).sum())} decided differently, "
        f"McNemar chi-square {chi2:.3f}, exact p {p:.3g}"
    )
    return Check(
        "decision_rate", r1, r2, chi2, p, max_change, status, text + _said(status, alpha), "McNemar (paired)", change
    )


def paired_scores(stable: Arm, candidate: Arm) -> tuple[np.ndarray, np.ndarray] | None:
    """Both arms' scores of the requests both scored (a shadow's), or None when most rows do not pair."""
    keys = ["request_id", "row"]
    joined = stable.rows[[*keys, SCORE]].merge(candidate.rows[[*keys, SCORE]], on=keys, suffixes=("_s", "_c"))
    if len(joined) < 0.9 * min(stable.n, candidate.n):
        return None
    return joined[f"{SCORE}_s"].to_numpy(dtype=float), joined[f"{SCORE}_c"].to_numpy(dtype=float)


def score_check(
    stable: np.ndarray, candidate: np.ndarray, max_psi: float, alpha: float, bins: int, epsilon: float
) -> Check:
    """PSI of the candidate's scores in the stable arm's bins, and the two-sample KS test."""
    s, c = stable[np.isfinite(stable)], candidate[np.isfinite(candidate)]
    if not s.size or not c.size:
        why = "an arm's audit rows hold no score (no probabilities in the outputs): nothing to compare"
        return Check("score_psi", None, None, None, None, max_psi, CheckStatus.INCONCLUSIVE, why)
    psi, ks, p = score_drift(s, c, bins, epsilon)
    status = _judged(psi > max_psi, p, alpha)
    text = (
        f"score PSI {psi:.4f} (max {max_psi:g}); mean stable {float(np.mean(s)):.4f}, candidate "
        f"{float(np.mean(c)):.4f}; KS {ks:.4f}, p {p:.3g}"
    )
    return Check(
        "score_psi",
        float(np.mean(s)),
        float(np.mean(c)),
        ks,
        p,
        max_psi,
        status,
        text + _said(status, alpha),
        "PSI + two-sample Kolmogorov-Smirnov",
        psi,
    )


def _judged(beyond: bool, p: float, alpha: float) -> CheckStatus:
    if not beyond:
        return CheckStatus.PASS
    return CheckStatus.FAIL if p < alpha else CheckStatus.INCONCLUSIVE


def _said(status: CheckStatus, alpha: float) -> str:
    if status == CheckStatus.FAIL:
        return f" — beyond the threshold, significant at alpha {alpha:g}"
    if status == CheckStatus.INCONCLUSIVE:
        return f" — beyond the threshold but not significant at alpha {alpha:g}: more traffic decides"
    return ""


def primary_metric(ctx: ModelContext) -> str:
    """The metric the performance check compares: the policy's first performance rule measurable in production.

    Production rows carry a score and an outcome, so a metric of the model's task is computable
    (per-class rules are left out). Without such a rule: ROC AUC (classifier), RMSE (regressor).
    """
    task = ctx.spec.task
    for rule in ctx.policy.policy.gates.rules("performance"):
        metric = str(rule.metric)
        known = BY_NAME.get(metric)
        if known is not None and known.task in (None, task) and getattr(rule, "class_", None) is None:
            return metric
    return "roc_auc" if task == "classification" else "rmse"


def _metric_of(
    metric: str, task: str, y: np.ndarray, score: np.ndarray, classes: list[Any], positive: Any, cut: float
) -> float | None:
    """``metric`` on labelled rows (None when it cannot be computed there, e.g. one class only)."""
    try:
        if task == "classification" and metric == "roc_auc":
            return _roc_auc(y == positive, score)
        if task != "classification":
            return regression_metrics(y.astype(float), score).get(metric)
        other = next(c for c in classes if c != positive)
        proba = np.empty((len(score), 2))
        proba[:, classes.index(positive)] = score
        proba[:, classes.index(other)] = 1.0 - score
        predicted = np.where(score >= cut, positive, other)
        found = classification_metrics(y, proba, classes, positive, predicted).get(metric)
    except (ValueError, ZeroDivisionError, StopIteration):
        return None
    return None if found is None or not math.isfinite(found) else float(found)


def _roc_auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC as the Mann-Whitney U of the scores (average ranks for ties): sklearn's value, without its overhead.

    The bootstrap computes it thousands of times; None when the rows hold one class only.
    """
    from scipy.stats import rankdata

    truth = np.asarray(truth, dtype=bool)
    positives = int(truth.sum())
    negatives = truth.size - positives
    if not positives or not negatives:
        return None
    ranks = rankdata(score)
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def performance_check(
    ctx: ModelContext, arms: tuple[Arm, Arm], served: Served, cut: float, max_drop: float, alpha: float
) -> Check:
    """The primary metric on each arm's labelled rows; its drop, and a bootstrap p-value that the candidate is worse."""
    metric = primary_metric(ctx)
    name = f"performance:{metric}"
    if ctx.spec.monitoring.labels is None:
        return _skipped(name, max_drop, "the spec names no monitoring.labels: performance needs outcomes")
    if served.task == "classification" and len(served.classes) != 2:
        return _skipped(name, max_drop, "the performance comparison needs a binary classifier's probabilities")
    labelled: list[tuple[np.ndarray, np.ndarray]] = []
    for arm in arms:
        known = arm.labels.notna().to_numpy() if arm.labels is not None else np.zeros(arm.n, dtype=bool)
        outcomes = arm.labels[known] if arm.labels is not None else pd.Series(dtype=object)
        y = _typed_labels(outcomes, served)
        if y is None:
            why = f"an outcome of {arm.alias} is not a class of the model ({', '.join(map(str, served.classes))})"
            return Check(name, None, None, None, None, max_drop, CheckStatus.INCONCLUSIVE, why, "bootstrap")
        labelled.append((y, arm.rows[SCORE].to_numpy(dtype=float)[known]))
    if min(len(y) for y, _ in labelled) < 2:
        counts = ", ".join(f"{arm.alias} {len(y)}" for arm, (y, _) in zip(arms, labelled, strict=True))
        return _skipped(name, max_drop, f"too few rows have their outcome yet ({counts} labelled)")
    values = [_metric_of(metric, served.task, y, s, list(served.classes), served.positive, cut) for y, s in labelled]
    if any(v is None for v in values):
        return Check(
            name,
            values[0],
            values[1],
            None,
            None,
            max_drop,
            CheckStatus.INCONCLUSIVE,
            f"{metric} cannot be computed on an arm's labelled rows (one class of outcome only?)",
            "bootstrap",
        )
    higher = BY_NAME[metric].better != "lower" if metric in BY_NAME else True
    stable_value, candidate_value = float(values[0] or 0.0), float(values[1] or 0.0)
    drop = (stable_value - candidate_value) if higher else (candidate_value - stable_value)
    rng = np.random.default_rng(0)
    worse = 0
    done = 0
    for _ in range(BOOTSTRAP):
        picks = [rng.integers(0, len(y), len(y)) for y, _ in labelled]
        again = [
            _metric_of(metric, served.task, y[i], s[i], list(served.classes), served.positive, cut)
            for (y, s), i in zip(labelled, picks, strict=True)
        ]
        if again[0] is None or again[1] is None:
            continue
        done += 1
        d = (again[0] - again[1]) if higher else (again[1] - again[0])
        worse += d <= 0
    p = (worse + 1) / (done + 1) if done else 1.0  # one-sided: the share of resamples where the candidate is not worse
    status = _judged(drop > max_drop, p, alpha)
    text = (
        f"{metric} on labelled rows: stable {stable_value:.4f} ({len(labelled[0][0])} rows), candidate "
        f"{candidate_value:.4f} ({len(labelled[1][0])} rows); drop {drop:+.4f} (max {max_drop:g}), bootstrap p {p:.3g}"
    )
    return Check(
        name, stable_value, candidate_value, drop, p, max_drop, status, text + _said(status, alpha), "bootstrap", drop
    )


def _typed_labels(labels: pd.Series, served: Served) -> np.ndarray | None:
    """Outcomes as the model's classes (None when one is not a class), or as floats for a regressor."""
    if served.task != "classification":
        return pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
    by_text = {str(c): c for c in served.classes}
    mapped = [by_text.get(_text(v)) for v in labels]
    if any(m is None for m in mapped):
        return None
    return np.asarray(mapped, dtype=object)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _skipped(name: str, threshold: float | None, why: str) -> Check:
    return Check(name, None, None, None, None, threshold, CheckStatus.SKIPPED, why)


_SELECTION_ONLY = ("demographic_parity_difference", "demographic_parity_ratio", "selection_rate_difference")


def fairness_checks(ctx: ModelContext, arms: tuple[Arm, Arm], served: Served, cut: float) -> list[Check]:
    """Each fairness rule of the policy on each arm's rows (the gates' code); judged on the candidate."""
    spec = ctx.spec
    out: list[Check] = []
    if spec.task != "classification" or len(served.classes) != 2:
        return out
    minimum = ctx.policy.policy.settings.fairness.min_group_size
    for rule in ctx.policy.policy.gates.rules("fairness"):
        name = f"fairness:{rule.id or rule.metric}"
        names = rule.sensitive_features or [f.name for f in spec.sensitive_features]
        missing = [n for n in names if n not in arms[0].features.columns or n not in arms[1].features.columns]
        if not names or missing:
            out.append(
                _skipped(
                    name,
                    rule.threshold,
                    f"the sensitive feature(s) {', '.join(missing) or '—'} are not in the audit rows",
                )
            )
            continue
        needs_labels = str(rule.metric) not in _SELECTION_ONLY
        values: list[Measurement] = []
        why = ""
        for arm in arms:
            rows = np.ones(arm.n, dtype=bool)
            if needs_labels:
                if arm.labels is None:
                    why = f"{rule.metric} needs outcomes and the spec names no monitoring.labels"
                    break
                rows = arm.labels.notna().to_numpy()
                if not rows.any():
                    why = f"{rule.metric} needs outcomes: none has arrived yet for {arm.alias}"
                    break
            score = arm.rows[SCORE].to_numpy(dtype=float)[rows]
            y_pred = score >= cut
            if needs_labels and arm.labels is not None:
                typed = _typed_labels(arm.labels[rows], served)
                if typed is None:
                    why = "an outcome is not a class of the model"
                    break
                y_true = typed == served.positive
            else:
                y_true = np.zeros(len(score), dtype=bool)
            frame = arm.features.loc[rows].reset_index(drop=True)
            series = []
            try:
                for n in names:
                    feature = next(f for f in spec.sensitive_features if f.name == n)
                    series.append(fairness.sensitive_groups(frame, feature))
            except (ValueError, StopIteration) as err:
                why = str(err) or f"a sensitive feature of {rule.metric} is not in the spec"
                break
            if rule.intersection and len(series) > 1:
                combined = series[0]
                for other in series[1:]:
                    combined = fairness.intersect(combined, other)
                series = [*series, combined]
            tables = [fairness.group_table(y_true, y_pred, s, minimum) for s in series]
            values.append(
                fairness.fairness_measurement(
                    tables,
                    str(rule.metric),
                    groups=rule.groups,
                    reference_group=rule.reference_group,
                    highest=rule.comparison == "max",
                )
            )
        if why:
            out.append(_skipped(name, rule.threshold, why))
            continue
        out.append(_fairness_row(name, rule, values[0], values[1]))
    return out


def _meets(rule: Any, value: float) -> bool:
    return value >= rule.threshold if rule.comparison == "min" else value <= rule.threshold


def _fairness_row(name: str, rule: Any, stable: Measurement, candidate: Measurement) -> Check:
    bound = f"{'≥' if rule.comparison == 'min' else '≤'} {rule.threshold:g}"
    if candidate.value is None:
        return Check(
            name,
            stable.value,
            None,
            None,
            None,
            rule.threshold,
            CheckStatus.INCONCLUSIVE,
            f"{rule.metric} cannot be measured on the candidate's rows: {candidate.explanation}",
            "policy rule per arm",
        )
    change = None if stable.value is None else candidate.value - stable.value
    if _meets(rule, candidate.value):
        status, text = CheckStatus.PASS, f"{rule.metric} {candidate.value:.4f} on the candidate meets {bound}"
    elif stable.value is not None and not _meets(rule, stable.value):
        status = CheckStatus.INCONCLUSIVE
        text = f"{rule.metric} breaks {bound} on both arms (candidate {candidate.value:.4f}, stable {stable.value:.4f})"
    else:
        status = CheckStatus.FAIL
        text = f"{rule.metric} {candidate.value:.4f} on the candidate breaks {bound}, which the stable arm meets"
    return Check(
        name, stable.value, candidate.value, None, None, rule.threshold, status, text, "policy rule per arm", change
    )


# --------------------------------------------------------------------------- the verdict


def decide(
    checks: list[Check], needed: dict[str, int], age: float | None, min_seconds: float
) -> tuple[CompareState, list[str]]:
    """The state from the checks, the sample still needed and the candidate's age (seconds; None: unknown)."""
    if any(needed.values()):
        more = ", ".join(f"{alias} {n} more row(s)" for alias, n in needed.items() if n)
        return CompareState.PENDING, [f"too little traffic to judge: {more}"]
    failed = [c for c in checks if c.status == CheckStatus.FAIL]
    if failed:
        return CompareState.ABORT, [f"{c.name}: {c.explanation}" for c in failed]
    reasons = [f"{c.name}: {c.explanation}" for c in checks if c.status == CheckStatus.INCONCLUSIVE]
    if age is None:
        reasons.append("the candidate's start is not on record (no audit record of its alias): its duration is unknown")
    elif age < min_seconds:
        reasons.append(f"the candidate has run {_span(age)} of the {_span(min_seconds)} min_duration")
    if reasons:
        return CompareState.HOLD, reasons
    return CompareState.PROMOTE, ["every check holds with enough traffic and duration"]


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 60:.0f}m"


def started_at(registry: Registry, name: str, alias: str, version: int) -> datetime | None:
    """When ``alias`` was last set to ``version`` by an applied change (its audit record), or None."""
    records = [r for r in audit.history(registry, name, alias) if r.state == audit.RecordState.DONE]
    if not records or records[-1].version != version:
        return None
    moment = datetime.fromisoformat(records[-1].promoted_at)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _Holder:
    def __init__(self, path: Path) -> None:
        self.name = str(path)


def compare(
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
) -> CompareResult:
    """Compare ``stage``'s candidate with its stable version over a window; record the verdict (module docstring)."""
    started = time.perf_counter()
    ws = Workspace.of(root, tracking_uri)
    root = ws.root
    now = now or datetime.now(UTC)
    ctx = load_model_context(root, name)
    refuse_predictions(ctx, "monitor")
    check_stage(ctx, stage)
    release = release_at(root, name, ref)
    candidate = release.candidate(stage) if release is not None else None
    if candidate is None:
        raise InvalidInput(
            f"models/{name}/release.yaml has no canary or shadow for {stage}: there is nothing to compare",
            hint=f"add `canary: {{{stage}: {{version: N, digest: ..., traffic: 0.1}}}}` by pull request "
            "(or drop --compare)",
        )
    policy = ctx.policy.policy.promotion.stages[stage].canary
    if policy is None:
        raise InvalidInput(f"{ctx.policy.file}: promotion.stages.{stage} has no canary settings to compare with")
    settings = policy.compare
    span = resolve(since, window, ctx.spec.monitoring.frequency, now)
    audit_url, _scores = configured(ctx)
    if audit_url is None:
        raise InvalidInput(
            f"models/{name}/model.yaml names no audit store: the arms are compared on mlgate serve's audit rows",
            hint="set monitoring.sources.audit_url (or serving.audit_url) to the database mlgate serve writes",
        )
    registry = ws.registry
    kind = str(candidate.kind)
    aliases = (stage, arm_alias(stage, candidate.kind))
    seconds: dict[str, float] = {}
    arms: list[Arm] = []
    served_of: list[Served] = []
    with tempfile.TemporaryDirectory(prefix="mlgate-compare-") as tmp:
        for alias in aliases:
            mv, wanted = custody.resolve(registry, root, name, alias, ref=ref, allow_unpinned=True)
            progress(f"models:/{name}@{alias} is v{mv.version}: loading it as {ctx.policy.file} trusts")
            folder = Path(tmp) / alias
            folder.mkdir()
            loaded, _ = load_alias_version(registry, ctx, mv, alias, _Holder(folder), wanted)
            plan, _model = model_plan(ctx, mv, alias, loaded)
            signature = list(plan.features)
            # a request may carry the sensitive features beside the model's inputs: fairness per arm reads them
            known = {column for column, _kind in signature}
            signature += [
                (f.name, "double" if f.bins else "string") for f in ctx.spec.sensitive_features if f.name not in known
            ]
            served = Served(alias, mv.version, signature, plan.task, plan.positive, tuple(plan.classes))
            mark = time.perf_counter()
            progress(f"reading the audit store: {name}@{alias} v{mv.version}, {span.asked}")
            rows, features, report = read_audit(audit_url, ctx, served, span)
            labels = labels_for(ctx, rows) if ctx.spec.monitoring.labels is not None else None
            seconds[f"read.{alias}"] = round(time.perf_counter() - mark, 3)
            arms.append(Arm(alias, mv.version, rows, features, labels, report))
            served_of.append(served)
    stable_arm, candidate_arm = arms
    if candidate_arm.version != candidate.version:
        raise InvalidInput(
            f"models:/{name}@{aliases[1]} is v{candidate_arm.version}, release.yaml asks for v{candidate.version}"
        )
    served = served_of[1]
    cut = ctx.spec.decision.threshold if ctx.spec.decision is not None else 0.5
    needed = {arm.alias: max(0, settings.min_samples - arm.n) for arm in arms}
    mark = time.perf_counter()
    checks: list[Check] = []
    charts = None
    if not any(needed.values()):
        s, c = (arm.rows[SCORE].to_numpy(dtype=float) for arm in arms)
        binning = ctx.policy.policy.settings.drift
        if served.task == "classification" and len(served.classes) == 2:
            # a shadow scores the very requests the stable version answered: its decisions are paired
            pairs = paired_scores(stable_arm, candidate_arm) if candidate.kind == ArmKind.SHADOW else None
            if pairs is not None:
                rate = paired_decision_rate_check(*pairs, cut, settings.max_decision_rate_change, settings.alpha)
            else:
                rate = decision_rate_check(s, c, cut, settings.max_decision_rate_change, settings.alpha)
            checks.append(rate)
        checks.append(score_check(s, c, settings.max_score_psi, settings.alpha, binning.psi_bins, binning.psi_epsilon))
        checks += fairness_checks(ctx, (stable_arm, candidate_arm), served, cut)
        checks.append(
            performance_check(
                ctx, (stable_arm, candidate_arm), served, cut, settings.max_performance_drop, settings.alpha
            )
        )
        charts = histograms(s, c)
    seconds["judge"] = round(time.perf_counter() - mark, 3)
    began = started_at(registry, name, aliases[1], candidate_arm.version)
    age = (now - began).total_seconds() if began is not None else None
    state, reasons = decide(checks, needed, age, policy.min_duration_seconds)
    verdict = CompareVerdict(
        model=name,
        stage=stage,
        kind=kind,
        stable=_arm_block(stable_arm),
        candidate=_arm_block(candidate_arm) | {"digest": candidate.digest, "traffic": candidate.traffic},
        window=span.as_dict(),
        settings=settings.model_dump(mode="json") | {"min_duration": policy.min_duration},
        duration={
            "started_at": iso(began) if began is not None else None,
            "seconds": round(age, 1) if age is not None else None,
            "min_seconds": policy.min_duration_seconds,
        },
        checks=checks,
        state=state,
        reasons=reasons,
        needed=needed,
        histograms=charts,
        evaluated_at=iso(now),
        mlgate_version=__version__,
        seconds=seconds,
    )
    progress(f"recording the comparison ({state}) in the mlgate-monitoring experiment")
    error = _record(registry, verdict, span)
    verdict.seconds["total"] = round(time.perf_counter() - started, 3)
    return CompareResult(verdict.as_dict(), error)


def _arm_block(arm: Arm) -> dict[str, Any]:
    rows = arm.rows
    labelled = int(arm.labels.notna().sum()) if arm.labels is not None else None
    return {
        "alias": arm.alias,
        "version": arm.version,
        "rows": arm.n,
        "labelled": labelled,
        "first": iso(rows[AT].min().to_pydatetime()) if arm.n else None,
        "last": iso(rows[AT].max().to_pydatetime()) if arm.n else None,
        "source": arm.source.as_dict(),
    }


def _record(registry: Registry, verdict: CompareVerdict, span: Window) -> ExternalServiceError | None:
    """Store the verdict as a run (tags, metrics, ``compare.json``); an outage is returned (exit 3 after the JSON)."""
    metrics: dict[str, float] = {
        "rows.stable": float(verdict.stable["rows"]),
        "rows.candidate": float(verdict.candidate["rows"]),
    }
    for check in verdict.checks:
        for key, value in (("stable", check.stable), ("candidate", check.candidate), ("p_value", check.p_value)):
            if value is not None and math.isfinite(value):
                metrics[f"{check.name}.{key}"] = float(value)

    def render(run_id: str) -> str:
        verdict.compare_run_id = run_id
        return jsonout.dumps(verdict.as_dict())

    try:
        verdict.compare_run_id = registry.record_comparison(
            verdict.model,
            verdict.stage,
            verdict.kind,
            int(verdict.stable["version"]),
            int(verdict.candidate["version"]),
            evaluated_at=verdict.evaluated_at,
            state=str(verdict.state),
            params={"window": f"{verdict.window['from']}..{verdict.window['to']}", "asked": span.asked},
            metrics=metrics,
            verdict_json=render,
        )
    except ExternalServiceError as err:
        verdict.compare_run_id = None
        return err
    return None

"""The version release.yaml asks for in a stage, held for requests and swapped when a promotion lands.

:class:`Served` is one loaded version (loaded through :func:`mlgate.scoring.load_alias_version`
and decided by :meth:`mlgate.scoring.Plan.outcome`, as ``mlgate score`` does). :class:`Follower`
holds the current one and polls every ``interval`` seconds in a background thread: it re-reads
release.yaml as committed at its git ref, reads the alias, and loads a new version only when both
agree and its files have the digest release.yaml pins (:mod:`mlgate.scoring.custody`). The new
version is loaded beside the old one and swapped in by one reference assignment, so a request
that already took the old one finishes on it. An alias that disagrees with release.yaml, files
that fail the digest, a failed load or a registry that does not answer keep the last verified
version serving and are reported by :meth:`Follower.state` (``/ready``), the custody counter
(``/metrics``) and the log.

Beside the stable version, :class:`Candidate` follows the canary or shadow release.yaml asks for
in the stage (``canary:``/``shadow:``), under its arm alias (``production-canary``,
``production-shadow``) and with the same custody (alias agrees, files have the pinned digest). It
is served only while all of that holds: a candidate removed from release.yaml, its alias moved or
deleted, files that fail the digest or a failed load make :attr:`Candidate.arm` None at the next
poll (every row goes to the stable version), never a fallback to bytes nobody verified.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlgate.config import ArmKind, ModelContext, arm_alias, commit_of, release_at
from mlgate.exceptions import MlgateError, TamperedModel
from mlgate.gates import Explainer, decide, explainer
from mlgate.registry import Registry
from mlgate.scoring import Plan, custody, load_alias_version, model_plan
from mlgate.serving._scratch import Scratch

log = logging.getLogger("mlgate.serve")


@dataclass
class Served:
    """One loaded version: its plan (signature, classes, decision, lineage) and adapted model."""

    version: int
    run_id: str
    plan: Plan
    model: Any
    loaded_at: str
    holder: Any = field(repr=False)  # keeps the downloaded folder (a trusted pyfunc reads from it)
    digest: str = ""  # the digest of the files it was loaded from (what release.yaml pinned)
    explainer: Explainer | None = field(default=None, repr=False)  # built at the first request for reasons
    _explaining: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def predict(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """One output dict per row: the decision, class probabilities and needs_review (classifier), or the value."""
        plan = self.plan
        x = frame[[c for c, _ in plan.features]]
        if plan.task != "classification":
            return [{"prediction": float(v)} for v in np.asarray(self.model.predict(x), dtype=float)]
        predicted, proba = decide(self.model, x)
        labels, proba, review = plan.outcome(proba, predicted)
        # Python values by tolist() once per array, not numpy scalars converted cell by cell
        decided, flagged = labels.tolist(), review.astype(bool).tolist()
        if proba is None:
            return [{"decision": d, "needs_review": r} for d, r in zip(decided, flagged, strict=True)]
        names = [str(c) for c in plan.classes]
        return [
            {"decision": d, "needs_review": r, "probabilities": dict(zip(names, p, strict=True))}
            for d, r, p in zip(decided, flagged, np.asarray(proba, dtype=float).tolist(), strict=True)
        ]

    def add_reasons(self, frame: pd.DataFrame, outputs: list[dict[str, Any]], k: int) -> dict[str, Any]:
        """Add each row's top ``k`` reasons to its output (``reasons``); how they were computed (the answer's).

        The explainer (:func:`mlgate.gates.explainer`) is built once per version, at its first
        request for reasons: a missing shap or a model without reference values raises then
        (:class:`~mlgate.exceptions.InvalidInput`), and the caller refuses that request.
        """
        plan = self.plan
        names = [c for c, _ in plan.features]
        with self._explaining:
            if self.explainer is None:
                self.explainer = explainer(
                    self.model, names, task=plan.task, classes=plan.classes, positive=plan.positive
                )
        x = frame[names]
        decided = [o.get("decision") for o in outputs] if plan.task == "classification" else None
        reasons = self.explainer.explain(x, decided)
        for out, top in zip(outputs, reasons.top(x, k), strict=True):
            out["reasons"] = top
        return {
            "per_row": min(k, len(names)),
            "method": reasons.method,
            "output": reasons.output,
            "additive": reasons.additive,
        }


def load(registry: Registry, ctx: ModelContext, stage: str, version: int, wanted: custody.Desired) -> Served:
    """Load ``version`` the governed way, its files checked against the digest ``wanted`` pins."""
    mv = registry.version(ctx.name, version)
    holder = Scratch("model")  # mlgate-serve-*, removed by the next serve's start if this process dies holding it
    try:
        loaded, _folder = load_alias_version(registry, ctx, mv, stage, holder, wanted)
        plan, model = model_plan(ctx, mv, stage, loaded)
    except BaseException:
        holder.cleanup()
        raise
    digest = loaded.artifact.digest if loaded.artifact else ""
    return Served(mv.version, mv.run_id, plan, model, datetime.now(UTC).isoformat(timespec="seconds"), holder, digest)


class Follower:
    """The served version of one model's stage, following release.yaml and the alias in a background thread."""

    def __init__(
        self,
        registry: Registry,
        ctx: ModelContext,
        stage: str,
        interval: float,
        *,
        root: Path | None = None,
        ref: str = custody.DEFAULT_REF,
        allow_unpinned: bool = False,
    ) -> None:
        """Load what release.yaml at ``ref`` asks for (errors propagate: the service does not start).

        The alias must agree with release.yaml and the files have its pinned digest (exit 1
        otherwise); ``allow_unpinned`` accepts a stage release.yaml names without a digest.
        """
        self.registry, self.ctx, self.stage, self.interval = registry, ctx, stage, interval
        self.root, self.ref, self.allow_unpinned = root or ctx.root, ref, allow_unpinned
        mv, wanted = custody.resolve(
            registry, self.root, ctx.name, stage, ref=ref, allow_unpinned=allow_unpinned, warn=log.warning
        )
        self.current = load(registry, ctx, stage, mv.version, wanted)
        self.alias_version: int | None = self.current.version
        self.release_version: int | None = wanted.version
        self.release_commit = wanted.commit
        self.registry_error = ""
        self.registry_error_since = ""
        self.load_error = ""
        self.custody_error = ""  # what release.yaml asks for and what the registry holds disagree
        self.violations: Counter[str] = Counter()  # per reason: alias, digest, unpinned, release
        self.last_poll = ""
        self.failed_loads = 0
        self.on_swap: Any = lambda served: None
        self.on_violation: Any = lambda reason: None  # the service counts them (/metrics)
        self.on_poll: Any = lambda: None  # after each poll: the service sets its gauges (/metrics)
        # the canary or shadow beside the stage: read once now (never raises: a bad candidate is not served)
        self.candidate = Candidate(registry, ctx, stage, root=self.root, ref=ref, allow_unpinned=allow_unpinned)
        self.candidate.poll()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlgate-alias-follower", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (the current version keeps serving until the process ends)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def close(self) -> None:
        """Remove the downloaded folders of the versions held now (after :meth:`stop`, at shutdown).

        Each is a copy of a model version's files (megabytes): left to the interpreter's exit, the
        copies of a stopped worker stayed in the temp folder, one per version per start.
        """
        arm = self.candidate.arm
        for served in (self.current, arm.served if arm is not None else None):
            if served is not None:
                served.holder.cleanup()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
            self.candidate.poll()
            self.on_poll()

    def _violation(self, reason: str, message: str) -> None:
        """Keep serving the last verified version; report a discrepancy once per change (log, counter)."""
        message = f"{message}; still serving v{self.current.version}"
        if message != self.custody_error:
            self.violations[reason] += 1
            self.on_violation(reason)
            log.error("custody (%s): %s", reason, message)
        self.custody_error = message

    def poll(self) -> None:
        """Re-read release.yaml at the ref and the alias; load and swap in a version both agree on. Never raises."""
        name, stage = self.ctx.name, self.stage
        try:
            wanted = custody.desired(self.root, name, stage, self.ref)
        except Exception as err:  # noqa: BLE001 — a release.yaml that does not parse at the ref: keep serving
            why = err.message if isinstance(err, MlgateError) else f"{type(err).__name__}: {err}"
            self._violation("release", f"release.yaml at {self.ref} cannot be read: {why}")
            return
        self.release_version, self.release_commit = wanted.version, wanted.commit
        try:
            number = self.registry.alias_version(name, stage)
        except Exception as err:  # noqa: BLE001 — an outage of any kind: keep serving, say so
            why = err.message if isinstance(err, MlgateError) else f"{type(err).__name__}: {err}"
            if not self.registry_error:
                self.registry_error_since = _now()
                log.warning("registry unreachable, still serving %s v%s: %s", name, self.current.version, why)
            self.registry_error = why
            return
        if self.registry_error:
            log.info("registry reachable again (unreachable since %s)", self.registry_error_since)
        self.registry_error = self.registry_error_since = ""
        self.last_poll = _now()
        self.alias_version = number
        problem = wanted.disagreement(number)
        if problem:
            self._violation("alias", problem)
            return
        if number is None:
            self._violation("alias", f"{wanted.source} asks for no version in {stage} and the alias points nowhere")
            return
        if wanted.digest is None and not self.allow_unpinned:
            self._violation("unpinned", f"{wanted.source} does not pin the digest of v{number}'s files")
            return
        if number == self.current.version and wanted.digest in (None, self.current.digest):
            self.load_error = self.custody_error = ""
            return
        started = time.perf_counter()
        try:
            served = load(self.registry, self.ctx, stage, number, wanted)
        except TamperedModel as err:
            self.failed_loads += 1
            self._violation("digest", err.message)
            return
        except Exception as err:  # noqa: BLE001 — whatever broke the load, the old version keeps serving
            self.failed_loads += 1
            message = err.message if isinstance(err, MlgateError) else f"{type(err).__name__}: {err}"
            self.load_error = f"loading v{number} failed, still serving v{self.current.version}: {message}"
            log.error("%s@%s moved to v%s; %s", name, stage, number, self.load_error)
            return
        old, self.current = self.current, served  # one assignment: requests that took `old` finish on it
        self.load_error = self.custody_error = ""
        self.on_swap(served)
        log.info(
            "%s@%s moved: now serving v%s (was v%s; loaded in %.1f s)",
            name,
            stage,
            served.version,
            old.version,
            time.perf_counter() - started,
        )
        # Unreferenced, the old version's model and downloaded folder go (its Scratch's finalizer). A
        # request refused while it served may have left it in a reference cycle (an exception's
        # traceback holding the request's frame): collected now, not at some later full collection
        del old
        gc.collect()

    def state(self) -> dict[str, Any]:
        """What /ready reports about the model: version served, the alias's and release.yaml's, and any problem."""
        problems = []
        if self.registry_error:
            problems.append(f"registry unreachable since {self.registry_error_since}: {self.registry_error}")
        if self.custody_error:
            problems.append(self.custody_error)
        if self.load_error:
            problems.append(self.load_error)
        candidate = self.candidate.state()
        if candidate is not None and candidate["problem"]:
            problems.append(f"{candidate['arm']} {candidate['alias']}: {candidate['problem']}")
        stable = {"arm": ArmKind.STABLE.value, "alias": self.stage, "version": self.current.version}
        return {
            "model": self.ctx.name,
            "alias": self.stage,
            "version": self.current.version,
            "digest": self.current.digest,
            "run_id": self.current.run_id,
            "loaded_at": self.current.loaded_at,
            "alias_version": self.alias_version,
            "release_version": self.release_version,
            "release_commit": self.release_commit,
            "last_poll": self.last_poll,
            "poll_seconds": self.interval,
            "arms": [stable] if candidate is None else [stable, candidate],
            "problems": problems,
        }


@dataclass(frozen=True)
class Arm:
    """The candidate served now beside the stable version: what a request takes, read once (one reference)."""

    kind: ArmKind  # CANARY or SHADOW
    alias: str  # the arm alias: production-canary, production-shadow
    traffic: float  # canary: the fraction of keys it answers; shadow: 0.0
    served: Served


class Candidate:
    """The canary or shadow release.yaml asks for beside a stage, served only while its custody holds.

    :meth:`poll` (at start, then after each poll of the stable version) re-reads release.yaml at
    the ref and the arm alias, and sets :attr:`arm`: the loaded candidate, or None (every row to the
    stable version) when release.yaml asks for none, the alias disagrees with it, the entry is not
    pinned, the files fail the digest or the load fails. A registry that does not answer keeps a
    loaded candidate only while release.yaml still asks for that very version and digest.
    """

    def __init__(
        self, registry: Registry, ctx: ModelContext, stage: str, *, root: Path, ref: str, allow_unpinned: bool
    ) -> None:
        """Nothing is read until :meth:`poll`."""
        self.registry, self.ctx, self.stage = registry, ctx, stage
        self.root, self.ref, self.allow_unpinned = root, ref, allow_unpinned
        self.arm: Arm | None = None
        self.wanted: custody.Desired | None = None  # what release.yaml asks for (None: no candidate)
        self.kind: ArmKind | None = None
        self.traffic = 0.0
        self.alias_version: int | None = None
        self.problem = ""
        self.failed_loads = 0
        self.violations: Counter[tuple[str, str]] = Counter()  # (arm, reason)
        self.on_violation: Any = lambda kind, reason: None  # the service counts them (/metrics)

    @property
    def alias(self) -> str | None:
        """The arm alias release.yaml's candidate is followed under (None: no candidate)."""
        return arm_alias(self.stage, self.kind) if self.kind is not None else None

    def poll(self) -> None:
        """Re-read release.yaml and the arm alias; load, keep, or stop serving the candidate. Never raises."""
        name = self.ctx.name
        try:
            commit = commit_of(self.root, self.ref)
            release = release_at(self.root, name, commit)
            asked = release.candidate(self.stage) if release is not None else None
        except Exception as err:  # noqa: BLE001 — release.yaml unreadable at the ref: serve no candidate
            why = err.message if isinstance(err, MlgateError) else f"{type(err).__name__}: {err}"
            self._refuse("release", f"release.yaml at {self.ref} cannot be read: {why}")
            return
        if asked is None:
            self.wanted, self.kind, self.traffic, self.alias_version, self.problem = None, None, 0.0, None, ""
            self._drain("release.yaml asks for no candidate any more")
            return
        kind = ArmKind(asked.kind)
        alias = arm_alias(self.stage, kind)
        wanted = custody.Desired(name, alias, asked.version, asked.digest, self.ref, commit)
        self.wanted, self.kind, self.traffic = wanted, kind, float(asked.traffic) if kind == ArmKind.CANARY else 0.0
        current = self.arm
        if current is not None and (current.kind, current.served.version) != (kind, asked.version):
            self._drain(f"release.yaml now asks for {kind} v{asked.version}")
            current = None
        try:
            number = self.registry.alias_version(name, alias)
        except Exception as err:  # noqa: BLE001 — an outage: a candidate verified for this very entry keeps serving
            why = err.message if isinstance(err, MlgateError) else f"{type(err).__name__}: {err}"
            self.problem = f"registry unreachable: {why}"
            if current is not None and asked.digest == current.served.digest:
                self.arm = replace(current, traffic=self.traffic)
            else:
                self._drain("the registry does not answer and nothing verified matches release.yaml")
            return
        self.alias_version = number
        problem = wanted.disagreement(number)
        if problem:
            self._refuse("alias", problem)
            return
        if wanted.digest is None and not self.allow_unpinned:
            self._refuse("unpinned", f"{wanted.source} does not pin the digest of {kind} v{number}'s files")
            return
        assert number is not None  # it agrees with release.yaml, which names a version
        if current is not None and wanted.digest in (None, current.served.digest):
            served = current.served
        else:
            started = time.perf_counter()
            try:
                served = load(self.registry, self.ctx, alias, number, wanted)
            except TamperedModel as err:
                self.failed_loads += 1
                self._refuse("digest", err.message)
                return
            except Exception as err:  # noqa: BLE001 — whatever broke the load, the candidate is not served
                self.failed_loads += 1
                why = err.message if isinstance(err, MlgateError) else f"{type(err).__name__}: {err}"
                self._refuse("load", f"loading {kind} v{number} failed: {why}")
                return
            log.info(
                "%s@%s: %s v%s loaded in %.1f s, now served beside the stable version%s",
                name,
                alias,
                kind,
                number,
                time.perf_counter() - started,
                f" at traffic {self.traffic:g}" if kind == ArmKind.CANARY else " (shadow: scored, never answered)",
            )
        if current is not None and current.traffic != self.traffic:
            log.info("%s@%s: canary traffic %g -> %g", name, alias, current.traffic, self.traffic)
        self.arm = Arm(kind, alias, self.traffic, served)
        self.problem = ""

    def _drain(self, why: str) -> None:
        """Stop giving the candidate new rows (requests that took it finish on it)."""
        if self.arm is not None:
            old, self.arm = self.arm, None
            log.warning(
                "%s@%s: %s v%s drained (%s): every row goes to the stable version",
                self.ctx.name,
                old.alias,
                old.kind,
                old.served.version,
                why,
            )

    def _refuse(self, reason: str, message: str) -> None:
        """Serve no candidate; report a discrepancy once per change (log, counter), as the stable follower does."""
        self._drain(reason if reason != "load" else "its load failed")
        message = f"{message}; not served (every row goes to the stable version)"
        if message != self.problem:
            if reason != "load":
                arm = str(self.kind) if self.kind is not None else "candidate"
                self.violations[(arm, reason)] += 1
                self.on_violation(arm, reason)
            log.error("custody (%s, %s): %s", self.alias or "candidate", reason, message)
        self.problem = message

    def state(self) -> dict[str, Any] | None:
        """What /ready reports about the candidate (None: release.yaml asks for none)."""
        if self.wanted is None and not self.problem:
            return None
        arm = self.arm
        return {
            "arm": str(self.kind) if self.kind is not None else "candidate",
            "alias": self.alias,
            "version": arm.served.version if arm is not None else None,
            "digest": arm.served.digest if arm is not None else None,
            "loaded_at": arm.served.loaded_at if arm is not None else None,
            "traffic": self.traffic,
            "serving": arm is not None,
            "alias_version": self.alias_version,
            "release_version": self.wanted.version if self.wanted is not None else None,
            "problem": self.problem,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

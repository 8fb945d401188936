"""The version a stage's alias points at, held for requests and swapped when the alias moves.

:class:`Served` is one loaded version (loaded through :func:`mlgate.scoring.load_alias_version`
and decided by :meth:`mlgate.scoring.Plan.outcome`, as ``mlgate score`` does). :class:`Follower`
holds the current one and polls the registry every ``interval`` seconds in a background thread:
a new version is loaded beside the old one and swapped in by one reference assignment, so a
request that already took the old one finishes on it. A failed load, or a registry that does not
answer, keeps the old version serving and is reported by :meth:`Follower.state` (``/ready``) and
the log.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from mlgate.config.workspace import ModelContext
from mlgate.exceptions import MlgateError
from mlgate.gates.adapter import decide
from mlgate.registry import Registry
from mlgate.scoring import Plan, load_alias_version, model_plan

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

    def predict(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """One output dict per row: the decision, class probabilities and needs_review (classifier), or the value."""
        plan = self.plan
        x = frame[[c for c, _ in plan.features]]
        if plan.task != "classification":
            return [{"prediction": float(v)} for v in np.asarray(self.model.predict(x), dtype=float)]
        predicted, proba = decide(self.model, x)
        labels, proba, review = plan.outcome(proba, predicted)
        out = []
        for i, label in enumerate(labels.tolist()):
            row: dict[str, Any] = {"decision": label, "needs_review": bool(review[i])}
            if proba is not None:
                row["probabilities"] = {str(c): float(proba[i, k]) for k, c in enumerate(plan.classes)}
            out.append(row)
        return out


def load(registry: Registry, ctx: ModelContext, stage: str, version: int | None = None) -> Served:
    """Resolve ``models:/NAME@STAGE`` (or take ``version``, what a poll saw) and load it the governed way."""
    mv = registry.resolve_alias(ctx.name, stage) if version is None else registry.version(ctx.name, version)
    holder = tempfile.TemporaryDirectory(prefix="mlgate-serve-")
    try:
        loaded, _folder = load_alias_version(registry, ctx, mv, stage, holder)
        plan, model = model_plan(ctx, mv, stage, loaded)
    except BaseException:
        holder.cleanup()
        raise
    return Served(mv.version, mv.run_id, plan, model, datetime.now(UTC).isoformat(timespec="seconds"), holder)


class Follower:
    """The served version of one model's alias, following the alias in a background thread."""

    def __init__(self, registry: Registry, ctx: ModelContext, stage: str, interval: float) -> None:
        """Load the version the alias points at now (errors propagate: the service does not start)."""
        self.registry, self.ctx, self.stage, self.interval = registry, ctx, stage, interval
        self.current = load(registry, ctx, stage)
        self.alias_version: int | None = self.current.version
        self.registry_error = ""
        self.registry_error_since = ""
        self.load_error = ""
        self.last_poll = ""
        self.failed_loads = 0
        self.on_swap: Any = lambda served: None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlgate-alias-follower", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (the current version keeps serving until the process ends)."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        """Look at the alias once; load and swap in a version it moved to. Never raises."""
        name, stage = self.ctx.name, self.stage
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
        if number is None:
            self.load_error = f"models:/{name}@{stage} points at no version; still serving v{self.current.version}"
            return
        if number == self.current.version:
            self.load_error = ""
            return
        started = time.perf_counter()
        try:
            served = load(self.registry, self.ctx, stage, number)
        except Exception as err:  # noqa: BLE001 — whatever broke the load, the old version keeps serving
            self.failed_loads += 1
            message = err.message if isinstance(err, MlgateError) else f"{type(err).__name__}: {err}"
            self.load_error = f"loading v{number} failed, still serving v{self.current.version}: {message}"
            log.error("%s@%s moved to v%s; %s", name, stage, number, self.load_error)
            return
        old, self.current = self.current, served  # one assignment: requests that took `old` finish on it
        self.load_error = ""
        self.on_swap(served)
        log.info(
            "%s@%s moved: now serving v%s (was v%s; loaded in %.1f s)",
            name,
            stage,
            served.version,
            old.version,
            time.perf_counter() - started,
        )

    def state(self) -> dict[str, Any]:
        """What /ready reports about the model: version served, the alias's version, and any problem."""
        problems = []
        if self.registry_error:
            problems.append(f"registry unreachable since {self.registry_error_since}: {self.registry_error}")
        if self.load_error:
            problems.append(self.load_error)
        return {
            "model": self.ctx.name,
            "alias": self.stage,
            "version": self.current.version,
            "run_id": self.current.run_id,
            "loaded_at": self.current.loaded_at,
            "alias_version": self.alias_version,
            "last_poll": self.last_poll,
            "poll_seconds": self.interval,
            "problems": problems,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

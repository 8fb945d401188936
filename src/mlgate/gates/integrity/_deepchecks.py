"""Integrity gate, the optional ``deepchecks`` metric: one of deepchecks' tabular suites.

Returns one :class:`DeepchecksOutcome` per condition. deepchecks is imported lazily
(``mlgate[deepchecks]``) and kept quiet: no progress bars, no log lines, no warnings, no
anonymous telemetry.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from mlgate.gates.integrity._native import IntegrityData, _missing_columns, _stacked

DEEPCHECKS_HINT = "pip install 'mlgate[deepchecks]'"
SUITES = ("data_integrity", "train_test_validation", "model_evaluation")


@dataclass
class DeepchecksOutcome:
    """One condition of a deepchecks suite, evaluated."""

    check: str
    condition: str
    passed: bool
    category: str  # PASS, WARN, FAIL or ERROR (deepchecks' ConditionCategory)
    details: str


# deepchecks 0.19.x crashes with these (np.Inf at import; DataFrame.applymap, sklearn tags
# at run time): the extra pins the working set, and a newer deepchecks may lift the limit.
_KNOWN_BREAKAGE = (("numpy", (2, 0)), ("pandas", (3, 0)), ("scikit-learn", (1, 8)))
_LAST_CHECKED_DEEPCHECKS = (0, 19)


def _version(dist: str) -> tuple[int, ...]:
    """(major, minor) of an installed distribution; '1.8rc1' is (1, 8)."""
    parts = metadata.version(dist).split(".")[:2]
    return tuple(int(re.sub(r"\D.*", "", part) or 0) for part in parts)


@functools.cache
def _deepchecks_problem() -> str | None:
    """Why deepchecks cannot be used here, or None when it can."""
    try:
        with _quiet():
            import deepchecks.tabular.suites  # noqa: F401
    except ImportError as err:
        return f"deepchecks is not installed ({err})"
    except Exception as err:  # noqa: BLE001 - AttributeError (np.Inf) with numpy 2, or any crash
        return f"deepchecks fails to import: {type(err).__name__}: {err}"
    try:
        if _version("deepchecks") <= _LAST_CHECKED_DEEPCHECKS:
            for dist, broken in _KNOWN_BREAKAGE:
                if _version(dist) >= broken:
                    found = metadata.version(dist)
                    ours = metadata.version("deepchecks")
                    return f"deepchecks {ours} does not work with {dist} {found}"
    except metadata.PackageNotFoundError:  # not installed as a distribution: trust the import
        return None
    return None


def deepchecks_available() -> bool:
    """Whether deepchecks imports, with library versions it is known to run with."""
    return _deepchecks_problem() is None


def deepchecks_problem() -> str | None:
    """Why deepchecks is not available (not installed, crashes on import, known-bad versions)."""
    return _deepchecks_problem()


@contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars, log lines, warnings or telemetry from deepchecks in this block.

    deepchecks shows progress bars while its logger is at INFO, logs to stderr, warns from its
    own code and from pandas/numpy/sklearn deprecations it triggers, and on first import
    phones home (api.deepchecks.com) unless DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY is set.
    """
    os.environ.setdefault("DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY", "true")
    logger = logging.getLogger("deepchecks")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _label_type(data: IntegrityData, task: str) -> str:
    if task == "regression":
        return "regression"
    labels = _stacked(data, data.target).nunique()
    return "binary" if labels <= 2 else "multiclass"


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def deepchecks_results(suite: str, data: IntegrityData, model: Any, task: str) -> list[DeepchecksOutcome]:
    """Run a deepchecks suite and return one outcome per condition, passed or not.

    ``data_integrity`` runs on train and holdout (deepchecks names its checks "... - Train
    Dataset" and "... - Test Dataset"), ``train_test_validation`` compares them and
    ``model_evaluation`` also scores ``model`` (a fitted Pipeline taking the raw feature frame).
    Checks deepchecks reports as not applicable (no datetime or index column, regression-only
    checks on a classifier, boosting-only checks...) are left out; a check that crashes gives
    an ``ERROR`` outcome for each of its conditions, and so does a suite that cannot start.
    """
    if suite not in SUITES:
        raise ValueError(f"unknown deepchecks suite '{suite}' (known: {', '.join(SUITES)})")
    problem = _deepchecks_problem()
    if problem is not None:
        raise RuntimeError(f"{problem}: {DEEPCHECKS_HINT}")
    if suite == "model_evaluation" and model is None:
        return [_error(suite, "the model_evaluation suite needs the fitted model")]
    missing = _missing_columns(data, data.columns)
    if missing is not None:
        return [_error(suite, str(missing.error))]
    with _quiet():
        from deepchecks.core import CheckFailure
        from deepchecks.core.errors import (
            DatasetValidationError,
            DeepchecksBaseError,
            DeepchecksNotSupportedError,
            ModelValidationError,
        )
        from deepchecks.tabular import Dataset
        from deepchecks.tabular import suites as factories

        not_applicable = (DatasetValidationError, DeepchecksNotSupportedError, ModelValidationError)
        label_type = _label_type(data, task)
        try:
            train, holdout = (
                Dataset(
                    frame[data.columns],
                    label=data.target,
                    features=data.features,
                    cat_features=list(data.categorical),
                    label_type=label_type,
                )
                for frame in (data.train, data.holdout)
            )
            result = getattr(factories, suite)().run(
                train_dataset=train,
                test_dataset=holdout,
                model=model if suite == "model_evaluation" else None,
                with_display=False,
            )
        except DeepchecksBaseError as err:
            return [_error(suite, f"{type(err).__name__}: {err}")]
    outcomes = []
    for res in result.results:
        if isinstance(res, CheckFailure):
            if isinstance(res.exception, not_applicable):
                continue
            reason = f"the check failed: {type(res.exception).__name__}: {res.exception}"
            conditions = getattr(res.check, "_conditions", {})
            outcomes += [
                DeepchecksOutcome(res.get_header(), cond.name, False, "ERROR", _one_line(reason))
                for cond in conditions.values()
            ]
            continue
        for cond in res.conditions_results:
            category = str(cond.category.value)
            outcomes.append(
                DeepchecksOutcome(
                    check=res.get_header(),
                    condition=_one_line(cond.name),
                    passed=category == "PASS",
                    category=category,
                    details=_one_line(cond.details),
                )
            )
    if not outcomes:
        return [_error(suite, "no condition of the suite applied to this data and model")]
    return outcomes


def _error(suite: str, reason: str) -> DeepchecksOutcome:
    return DeepchecksOutcome(
        check=f"deepchecks {suite}",
        condition="the suite runs",
        passed=False,
        category="ERROR",
        details=_one_line(reason),
    )

"""Integrity gate: is the data the model was trained and judged on fit for that purpose?

Two kinds of rule: the native metrics (:mod:`~mlgate.gates.integrity.native`, vectorised pandas
that follows deepchecks' definitions where it has the same check) and the optional ``deepchecks``
metric, which runs one of deepchecks' tabular suites (:mod:`~mlgate.gates.integrity.deepchecks`,
``mlgate[deepchecks]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.gates.integrity import _deepchecks as deepchecks
    from mlgate.gates.integrity import _native as native
    from mlgate.gates.integrity._deepchecks import (
        DEEPCHECKS_HINT,
        SUITES,
        DeepchecksOutcome,
        deepchecks_available,
        deepchecks_problem,
        deepchecks_results,
    )
    from mlgate.gates.integrity._native import NATIVE_METRICS, IntegrityData, integrity_measurement


__all__ = [
    "DEEPCHECKS_HINT",
    "NATIVE_METRICS",
    "SUITES",
    "DeepchecksOutcome",
    "IntegrityData",
    "deepchecks",
    "deepchecks_available",
    "deepchecks_problem",
    "deepchecks_results",
    "integrity_measurement",
    "native",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "DEEPCHECKS_HINT": "_deepchecks:DEEPCHECKS_HINT",
    "DeepchecksOutcome": "_deepchecks:DeepchecksOutcome",
    "IntegrityData": "_native:IntegrityData",
    "NATIVE_METRICS": "_native:NATIVE_METRICS",
    "SUITES": "_deepchecks:SUITES",
    "deepchecks": "_deepchecks",
    "deepchecks_available": "_deepchecks:deepchecks_available",
    "deepchecks_problem": "_deepchecks:deepchecks_problem",
    "deepchecks_results": "_deepchecks:deepchecks_results",
    "integrity_measurement": "_native:integrity_measurement",
    "native": "_native",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)

"""Integrity gate: is the data the model was trained and judged on fit for that purpose?

Two kinds of rule: the native metrics (:mod:`~mlgate.gates.integrity.native`, vectorised pandas
that follows deepchecks' definitions where it has the same check) and the optional ``deepchecks``
metric, which runs one of deepchecks' tabular suites (:mod:`~mlgate.gates.integrity.deepchecks`,
``mlgate[deepchecks]``).
"""

from mlgate.gates.integrity.deepchecks import (
    DEEPCHECKS_HINT,
    SUITES,
    DeepchecksOutcome,
    deepchecks_available,
    deepchecks_problem,
    deepchecks_results,
)
from mlgate.gates.integrity.native import NATIVE_METRICS, IntegrityData, integrity_measurement

__all__ = [
    "DEEPCHECKS_HINT",
    "NATIVE_METRICS",
    "SUITES",
    "DeepchecksOutcome",
    "IntegrityData",
    "deepchecks_available",
    "deepchecks_problem",
    "deepchecks_results",
    "integrity_measurement",
]

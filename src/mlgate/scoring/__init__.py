"""Scoring by alias: the governed version a stage's alias points at, on files (`mlgate score`) or requests.

``batch`` validates the input against the version's signature, scores it in bounded batches
(pandas) or on Spark (:mod:`mlgate.registry.spark`), and replaces one date's Parquet partition
atomically; the decision comes from the spec's ``decision:`` block, as the gates judged it.
``mlgate serve`` (:mod:`mlgate.serving`) loads versions and decides through the same functions
(:func:`load_alias_version`, :func:`model_plan`, :meth:`Plan.outcome`).
"""

from mlgate.scoring.batch import (
    ENGINES,
    LINEAGE_COLUMNS,
    Plan,
    ScoreResult,
    check_stage,
    load_alias_version,
    model_plan,
    score,
)

__all__ = [
    "ENGINES",
    "LINEAGE_COLUMNS",
    "Plan",
    "ScoreResult",
    "check_stage",
    "load_alias_version",
    "model_plan",
    "score",
]

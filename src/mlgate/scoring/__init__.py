"""Scoring by alias: the governed version a stage's alias points at, on files (`mlgate score`) or requests.

``batch`` validates the input against the version's signature, scores it in bounded batches
(pandas) or on Spark (:mod:`mlgate.registry.spark`), and replaces one date's Parquet partition
atomically; the decision comes from the spec's ``decision:`` block, as the gates judged it.
``mlgate serve`` (:mod:`mlgate.serving`) loads versions and decides through the same functions
(:func:`load_alias_version`, :func:`model_plan`, :meth:`Plan.outcome`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.scoring import _custody as custody
    from mlgate.scoring._batch import (
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
    "custody",
    "load_alias_version",
    "model_plan",
    "score",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "ENGINES": "_batch:ENGINES",
    "LINEAGE_COLUMNS": "_batch:LINEAGE_COLUMNS",
    "Plan": "_batch:Plan",
    "ScoreResult": "_batch:ScoreResult",
    "check_stage": "_batch:check_stage",
    "custody": "_custody",
    "load_alias_version": "_batch:load_alias_version",
    "model_plan": "_batch:model_plan",
    "score": "_batch:score",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)

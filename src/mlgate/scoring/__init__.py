"""Batch scoring by alias (`mlgate score`): the governed version a stage's alias points at, on files.

``batch`` validates the input against the version's signature, scores it in bounded batches
(pandas) or on Spark (:mod:`mlgate.registry.spark`), and replaces one date's Parquet partition
atomically; the decision comes from the spec's ``decision:`` block, as the gates judged it.
"""

from mlgate.scoring.batch import ENGINES, LINEAGE_COLUMNS, ScoreResult, score

__all__ = ["ENGINES", "LINEAGE_COLUMNS", "ScoreResult", "score"]

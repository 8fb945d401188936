"""Outcomes arriving after the predictions (``monitoring.labels``), joined to the production rows.

The outcomes come from a DVC-tracked file (``path``: checked against its DVC record, as every
data file: a file changed without ``dvc add`` is exit 2) or a database table (``url`` +
``table``, read through :mod:`mlgate.serving.audit`). They join the production rows on
``id_columns``, compared as text (a CSV's ``7`` meets the audit store's integer row 7): audit rows
carry ``request_id`` and ``row``, scored rows the id columns scoring passed through. A row whose
outcome has not arrived is simply unlabelled; ``delay_days`` says how long outcomes take, so the
verdict states how many rows are old enough that their outcome should be known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from mlgate.config import ModelContext
from mlgate.data import read_table, resolve_file
from mlgate.exceptions import SpecError
from mlgate.monitoring._sources import AT, SCORE

LABEL = "__label"


@dataclass
class Labelled:
    """The production rows that have an outcome: their score and label, and the coverage facts."""

    frame: pd.DataFrame  # SCORE, AT, LABEL of the labelled rows
    rows: int  # production rows in the window
    eligible: int  # of those, old enough (delay_days) that their outcome should have arrived
    delay_days: int
    source: str

    @property
    def coverage(self) -> float | None:
        """Labelled rows / production rows (None without rows)."""
        return len(self.frame) / self.rows if self.rows else None

    def as_dict(self) -> dict[str, Any]:
        """The verdict's ``labels`` block."""
        return {
            "rows": len(self.frame),
            "coverage": self.coverage,
            "delay_days": self.delay_days,
            "eligible_rows": self.eligible,
            "source": self.source,
        }


def join_labels(ctx: ModelContext, rows: pd.DataFrame, end: datetime) -> Labelled | None:
    """The production ``rows`` joined to their outcomes; None when the spec names no labels."""
    return join_label_chunks(ctx, [rows], end)


def join_label_chunks(ctx: ModelContext, chunks: Iterable[pd.DataFrame], end: datetime) -> Labelled | None:
    """:func:`join_labels` over production rows given a chunk at a time (the outcomes read once).

    Memory is bounded by the outcomes and the labelled rows, not by the window: the pushed-down
    monitor streams the window's keys and scores through here.
    """
    spec = ctx.spec.monitoring.labels
    if spec is None:
        return None
    outcomes, source = _outcomes(ctx)
    keys = list(spec.id_columns)
    right = outcomes.assign(**{k: _as_text(outcomes[k]) for k in keys}) if all(k in outcomes for k in keys) else None
    if right is not None:
        right = right.drop_duplicates(subset=keys, keep="last").rename(columns={spec.label_column: LABEL})
    total, eligible, parts = 0, 0, []
    cutoff = pd.Timestamp(end - timedelta(days=spec.delay_days))
    for rows in chunks:
        total += len(rows)
        eligible += int((rows[AT] <= cutoff).sum()) if len(rows) else 0
        present = [k for k in keys if k in rows.columns]
        if len(present) < len(keys) or not len(rows) or right is None:
            parts.append(
                pd.DataFrame({SCORE: pd.Series(dtype=float), AT: rows[AT].iloc[:0], LABEL: pd.Series(dtype=object)})
            )
            continue
        left = rows[[*keys, SCORE, AT]].dropna(subset=keys)
        left = left.assign(**{k: _as_text(left[k]) for k in keys})
        joined = left.merge(right[[*keys, LABEL]], on=keys, how="inner")
        parts.append(joined.loc[joined[LABEL].notna(), [SCORE, AT, LABEL]])
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({SCORE: [], AT: [], LABEL: []})
    return Labelled(frame.reset_index(drop=True), total, eligible, spec.delay_days, source)


def labels_for(ctx: ModelContext, rows: pd.DataFrame) -> pd.Series:
    """The outcome of each of ``rows`` (aligned with them; missing where none arrived), joined on ``id_columns``.

    For a comparison of arms: every row keeps its place (its features and score stay beside it).
    Outcomes are not held back by ``delay_days`` here: an outcome that arrived is an outcome.
    """
    spec = ctx.spec.monitoring.labels
    assert spec is not None
    keys = list(spec.id_columns)
    empty = pd.Series([None] * len(rows), index=rows.index, dtype=object)
    if not len(rows) or any(k not in rows.columns for k in keys):
        return empty
    outcomes, _source = _outcomes(ctx)
    if any(k not in outcomes.columns for k in keys):
        return empty
    right = outcomes.assign(**{k: _as_text(outcomes[k]) for k in keys}).drop_duplicates(subset=keys, keep="last")
    right = right.rename(columns={spec.label_column: LABEL})[[*keys, LABEL]]
    left = rows[keys].assign(**{k: _as_text(rows[k]) for k in keys}).reset_index(drop=True)
    joined = left.merge(right, on=keys, how="left")
    found = joined[LABEL].to_numpy(dtype=object)
    return pd.Series([v if pd.notna(v) else None for v in found], index=rows.index, dtype=object)


def _as_text(values: pd.Series) -> pd.Series:
    """Join keys as text; whole floats lose their ``.0`` (an integer key read back as float)."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            return values.map(lambda v: v if pd.isna(v) else str(int(v)))
    return values.astype(str)


def _outcomes(ctx: ModelContext) -> tuple[pd.DataFrame, str]:
    """The outcomes table (id columns and the label column) and where it came from."""
    spec = ctx.spec.monitoring.labels
    assert spec is not None
    wanted = [*spec.id_columns, spec.label_column]
    if spec.path is not None:
        found = resolve_file("labels", spec.path, ctx.root, ctx.spec_doc, ("monitoring", "labels", "path"))
        frame = read_table(ctx.root / found.path, found.path, allow_no_rows=True)  # none arrived yet
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            key = "label_column" if spec.label_column in missing else "id_columns"
            message = f"{spec.path} has no column(s) {', '.join(missing)} (columns: {', '.join(frame.columns)})"
            raise SpecError([ctx.spec_doc.problem(("monitoring", "labels", key), message)])
        return frame[wanted], f"{found.path} (md5 {found.md5})"
    from mlgate.serving import read_table_columns, shown_url

    assert spec.url is not None
    assert spec.table is not None
    columns = read_table_columns(spec.url, spec.table, wanted)
    shown = shown_url(spec.url)
    return pd.DataFrame(columns), f"{shown} table {spec.table}"

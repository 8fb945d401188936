"""What production is compared with: the version's training rows, or a named reference set.

- ``monitoring.reference`` (a DVC-tracked file, checked against its DVC record as every data
  file is: not tracked or changed is exit 2 at that key) when the spec names one;
- otherwise the rows the version trained on, rebuilt from its lineage exactly as the gates do
  (:func:`mlgate.data.training_rows`): the data file with the md5 on the version, read through DVC
  at its training commit when the workspace holds another, and split with the seed and fraction
  its run logged. A version without mlgate lineage needs a named reference.

Prediction drift compares the measured version's scores (loaded as ``mlgate score`` loads it) on
reference rows with its scores in production. A model scores the rows it trained on too well (a
forest's probabilities there are near 0 and 1), so with the training rows as reference the scores'
reference is the rows its split **held out**, which it never saw; a named reference set is scored
as it is. (A version trained on separate train and holdout files: its training rows, said in
``scored``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlgate.config import ModelContext
from mlgate.data import prepare_columns, read_table, resolve_file, version_held_out, version_rows
from mlgate.exceptions import InvalidInput, SpecError
from mlgate.registry import TAG_PREFIX, ModelVersion

REFERENCE_KEY = ("monitoring", "reference")


@dataclass
class Reference:
    """The reference rows and where they came from (the verdict's ``reference`` block)."""

    kind: str  # "training" | "named"
    path: str
    md5: str
    frame: pd.DataFrame  # input drift and data quality compare production with these rows
    scored: pd.DataFrame  # prediction drift compares the version's scores on these rows
    scored_what: str
    scored_unseen: bool = True  # False: ``scored`` is rows the version trained on (CBPE does not calibrate on them)

    def as_dict(self) -> dict[str, Any]:
        """``{"kind", "path", "md5", "rows"}``."""
        return {
            "kind": self.kind,
            "path": self.path,
            "md5": self.md5,
            "rows": len(self.frame),
            "scored_rows": len(self.scored),
            "scored": self.scored_what,
        }


def load_reference(ctx: ModelContext, mv: ModelVersion, run_params: dict[str, str], scratch: Path) -> Reference:
    """The named reference when the spec gives one, else the version's training rows."""
    named = ctx.spec.monitoring.reference
    if named is not None:
        return _named(ctx, named)
    return _training(ctx, mv, run_params, scratch)


def _named(ctx: ModelContext, rel: str) -> Reference:
    found = resolve_file("reference", rel, ctx.root, ctx.spec_doc, REFERENCE_KEY)
    frame = read_table(ctx.root / found.path, found.path, columns=ctx.spec.dataset.columns)
    missing = [c for c in ctx.spec.inputs.all if c not in frame.columns]
    if missing:
        message = f"{rel} lacks the model's feature column(s) {', '.join(missing)}"
        raise SpecError([ctx.spec_doc.problem(REFERENCE_KEY, message)])
    prepared = prepare_columns(frame, ctx.spec)
    return Reference("named", found.path, found.md5, prepared, prepared, "the named reference rows")


def _training(ctx: ModelContext, mv: ModelVersion, run_params: dict[str, str], scratch: Path) -> Reference:
    held = version_held_out(mv.tags, run_params)
    if held is None:
        raise InvalidInput(
            f"{ctx.name} v{mv.version} has no mlgate data lineage: its training rows are unknown",
            hint=f"name a DVC-tracked reference set in models/{ctx.name}/model.yaml: monitoring.reference",
        )
    commit = mv.tags.get(TAG_PREFIX + "git.commit", "")
    train, held_out = version_rows(held, ctx.spec, ctx.root, commit, None, scratch)
    train = train.reset_index(drop=True)
    if held_out is None:
        return Reference("training", held.train_path, held.train_md5, train, train, "the training rows", False)
    what = "the rows the version's split held out (it never trained on them)"
    return Reference("training", held.train_path, held.train_md5, train, held_out.reset_index(drop=True), what)

"""Which rows a model has not trained on: the honest holdout of a gate and a comparison.

The gates score a version on the evaluation data the judging spec names (on a pull request:
the base commit's data and split). A version trained on other data or with another split may
have seen some of those rows, and its scores there would flatter it. So:

- the **challenger** is scored on the evaluation holdout minus every row it trained on; its
  training rows are rebuilt from its lineage (data md5 on the version, split on its run);
- the **champion** is compared only when it was held out on exactly these rows (same data md5
  and split, or the same holdout file); otherwise the relative rules are ``skipped`` with the
  reason, never compared on leaked rows.

Rows are recognised by a hash of their feature and target values (:func:`mlgate.data.row_keys`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlgate.config import ModelSpec
from mlgate.data._dvc import DataAt, ModelData, fetch_at, prepare_columns, read_table, row_keys, split, split_settings
from mlgate.exceptions import DvcError, InvalidInput
from mlgate.git import has_commit
from mlgate.registry import TAG_PREFIX


@dataclass(frozen=True)
class HeldOut:
    """What a model was held out on: one split file (md5 + split settings) or a holdout file."""

    layout: str  # "split" | "files"
    train_path: str
    train_md5: str
    holdout_md5: str = ""
    split: dict[str, Any] | None = None

    def same_as(self, other: HeldOut) -> bool:
        """Whether ``other`` held out the same rows: same data and split, or same holdout file."""
        if self.layout != other.layout:
            return False
        if self.layout == "split":
            return self.train_md5 == other.train_md5 and self.split == other.split
        return self.holdout_md5 == other.holdout_md5

    def describe(self) -> str:
        """The holdout in words, for a skip reason or a log line."""
        if self.layout == "split":
            s = self.split or {}
            return (
                f"{self.train_path} md5 {self.train_md5[:8]}, split seed {s.get('seed')} "
                f"holdout {s.get('holdout_fraction')} stratify {str(s.get('stratify')).lower()}"
            )
        return f"holdout file md5 {self.holdout_md5[:8]}"


def _as_bool(value: str) -> bool:
    return value.strip().lower() == "true"


def version_held_out(tags: dict[str, str], params: dict[str, str]) -> HeldOut | None:
    """From a version's lineage tags and its run's params; None without mlgate lineage."""
    data = TAG_PREFIX + "data."
    if f"{data}path.md5" in tags:
        split_of = {"holdout_fraction": 0.25, "seed": 42, "stratify": True}
        try:
            if "split.holdout_fraction" in params:
                split_of["holdout_fraction"] = float(params["split.holdout_fraction"])
            if "split.seed" in params:
                split_of["seed"] = int(params["split.seed"])
            if "split.stratify" in params:
                split_of["stratify"] = _as_bool(params["split.stratify"])
        except ValueError:
            return None
        return HeldOut("split", tags.get(f"{data}path.path", ""), tags[f"{data}path.md5"], split=split_of)
    if f"{data}train.md5" in tags and f"{data}holdout.md5" in tags:
        return HeldOut("files", tags.get(f"{data}train.path", ""), tags[f"{data}train.md5"], tags[f"{data}holdout.md5"])
    return None


def evaluation_held_out(spec: ModelSpec, data: ModelData) -> HeldOut:
    """What the spec's data holds out today: the split of its data file, or its holdout file."""
    md5s = data.md5s
    if spec.dataset.path:
        return HeldOut("split", spec.dataset.path, md5s.get("path", ""), split=split_settings(spec))
    return HeldOut("files", spec.dataset.train or "", md5s.get("train", ""), md5s.get("holdout", ""))


def training_file(held: HeldOut, root: Path, commit: str, at: DataAt | None, scratch: Path) -> Path:
    """The version's training file, by its md5: workspace, base commit or its own commit."""
    refs = [r for r in (at.ref if at else None, commit if has_commit(root, commit) else None) if r]
    for ref in refs or ["HEAD"]:
        try:
            return fetch_at(held.train_path, root, ref, held.train_md5, scratch)
        except DvcError:
            continue
    raise InvalidInput(
        f"cannot tell which evaluation rows this version trained on: {held.train_path} with md5 "
        f"{held.train_md5} is in neither the workspace, the base commit nor its training commit {commit[:12]}",
        hint="fetch the version's training commit (fetch-depth: 0) and make sure the DVC remote holds its data",
    )


def training_rows(
    held: HeldOut,
    spec: ModelSpec,
    root: Path,
    commit: str,
    at: DataAt | None,
    scratch: Path,
) -> Any:
    """The rows the version trained on, rebuilt from its lineage."""
    return version_rows(held, spec, root, commit, at, scratch)[0]


def version_rows(
    held: HeldOut,
    spec: ModelSpec,
    root: Path,
    commit: str,
    at: DataAt | None,
    scratch: Path,
) -> tuple[Any, Any]:
    """(rows the version trained on, rows its split held out or None), rebuilt from its lineage.

    The held-out rows are known for a split file only (a holdout file is named by md5 alone).
    """
    local = training_file(held, root, commit, at, scratch)
    frame = prepare_columns(read_table(local, held.train_path, columns=spec.dataset.columns), spec)
    if held.layout == "split":
        return split(frame, spec, held.split)
    return frame, None


@dataclass
class Unseen:
    """The evaluation after leaving out what the challenger trained on."""

    data: ModelData
    excluded: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """How many holdout rows were judged, how many were left out, and why (for the verdict)."""
        return {"holdout_rows": len(self.data.holdout), "excluded_rows": self.excluded, "reason": self.reason}


def leave_out(data: ModelData, spec: ModelSpec, trained: Any, why: str) -> Unseen:
    """``data`` with every holdout row that appears in ``trained`` removed.

    The challenger's own training rows then stand for "training data" in the integrity and
    drift families too: that is what the model learnt from.
    """
    columns = [c for c in [*spec.inputs.all, spec.target_column] if c in data.holdout.columns and c in trained.columns]
    seen = set(row_keys(trained, columns))
    keep = ~row_keys(data.holdout, columns).isin(seen).to_numpy()
    holdout = data.holdout[keep].reset_index(drop=True)
    if spec.task == "classification" and holdout[spec.target].nunique() < 2:
        raise InvalidInput(
            f"after leaving out the rows this version trained on ({why}), the evaluation holdout "
            f"has {len(holdout)} rows and fewer than two classes: nothing honest can be measured",
            hint="train with the base branch's data and split, or get the data/split change approved and merged first",
        )
    explicit_current = spec.dataset.current is not None
    explicit_reference = spec.dataset.reference is not None
    updated = replace(
        data,
        train=trained.reset_index(drop=True),
        holdout=holdout,
        current=data.current if explicit_current else holdout,
        reference=data.reference if explicit_reference else trained.reset_index(drop=True),
    )
    return Unseen(updated, int((~keep).sum()), why)

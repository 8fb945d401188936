"""Provenance of a model version: content hashes, lineage tags, completeness.

Everything here is recorded as ``mlgate.*`` tags on the registered version so a production
model can be traced back to the commit, data, params and policy behind it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_hash(obj: Any) -> str:
    """sha256 of a JSON value with sorted keys, so equal content gives an equal hash."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Written last by `mlgate train`, once the run is FINISHED and every other tag is in place: a
# version without it carries mlgate lineage that may be partial (training was interrupted).
TRAIN_COMPLETE_TAG = "mlgate.train.complete"
# Who recorded the lineage: "mlgate" (`mlgate train` fitted a declarative pipeline), "command"
# (`mlgate train` ran the spec's own command in a run it created) or "external" (`mlgate register`:
# the lineage is what the user stated, under mlgate.external.*).
LINEAGE_TAG = "mlgate.lineage"
LINEAGE_MLGATE = "mlgate"
LINEAGE_COMMAND = "command"
LINEAGE_EXTERNAL = "external"
OBSERVED_LINEAGES = (LINEAGE_MLGATE, LINEAGE_COMMAND)
"""Lineages whose commit, tree state and data hashes mlgate saw itself (promotion verifies them alike)."""
EXTERNAL_PREFIX = "mlgate.external."
"""Tags holding what a user stated about an external model (never the trusted mlgate.git.* names)."""
_COMMIT_TAG = "mlgate.git.commit"
# What training and registration write once and nothing rewrites: the commit and tree state, the
# spec/params/policy hashes, the data hashes, the DVC stage, the CI run, the artifact digest, the
# completeness mark, a user's statement about an external model, the mlgate version. Gates,
# promotions, monitoring and comparisons write other tags (mlgate.gates, mlgate.stage, …), which
# legitimately change over a version's life. `mlgate evidence verify` holds a bundle's lineage
# tags against the registry's: one that changed since the bundle was built was rewritten by hand.
WRITTEN_ONCE_PREFIXES = (
    "mlgate.git.",
    "mlgate.spec.",
    "mlgate.params.",
    "mlgate.policy.",
    "mlgate.data.",
    "mlgate.dvc.",
    "mlgate.ci.",
    "mlgate.artifact.",
    "mlgate.train.",
    EXTERNAL_PREFIX,
)
WRITTEN_ONCE_TAGS = (LINEAGE_TAG, "mlgate.version")


def is_lineage_tag(key: str) -> bool:
    """Whether ``key`` is a tag training or registration writes once (see ``WRITTEN_ONCE_PREFIXES``)."""
    return key in WRITTEN_ONCE_TAGS or key.startswith(WRITTEN_ONCE_PREFIXES)


def incomplete_reason(version_tags: dict[str, str], run_status: str) -> str:
    """Why a version trained by mlgate cannot be trusted yet ('' when it can).

    Versions without mlgate lineage (registered by hand: no ``mlgate.lineage`` and no
    ``mlgate.git.commit`` tag, or another lineage) have nothing to complete and give ''.
    """
    lineage = version_tags.get(LINEAGE_TAG) or ("mlgate" if _COMMIT_TAG in version_tags else "")
    if lineage == LINEAGE_EXTERNAL:  # its run (if any) is the user's: only mlgate's own record must be whole
        if version_tags.get(TRAIN_COMPLETE_TAG) != "true":
            return f"no {TRAIN_COMPLETE_TAG} tag: registration was interrupted"
        return ""
    if lineage not in OBSERVED_LINEAGES:
        return ""
    if run_status != "FINISHED":
        return f"training did not finish: run status {run_status or 'unknown'}"
    if version_tags.get(TRAIN_COMPLETE_TAG) != "true":
        return f"no {TRAIN_COMPLETE_TAG} tag: training was interrupted"
    return ""

"""Provenance of a model version: git state, content hashes, tool versions.

Everything here is recorded as ``mlgate.*`` tags on the registered version so a production
model can be traced back to the commit, data, params and policy behind it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.exceptions import GitError


def canonical_hash(obj: Any) -> str:
    """sha256 of a JSON value with sorted keys, so equal content gives an equal hash."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    """md5 of a file's bytes: what DVC 3 records for a file output."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class GitState:
    """Where the repo stands: commit, whether tracked files differ from it, branch."""

    commit: str
    dirty: bool
    branch: str

    @classmethod
    def unknown(cls) -> GitState:
        return cls(commit="unknown", dirty=True, branch="")


def run_git(root: Path, *args: str) -> str:
    """``git ARGS`` in ``root``: its stdout, stripped; a failure is a GitError with git's message."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=60
        )
    except FileNotFoundError as err:
        raise GitError("git is not installed", hint="install git and re-run") from err
    except subprocess.CalledProcessError as err:
        raise GitError(f"git {' '.join(args)} failed: {err.stderr.strip()}") from err
    return done.stdout.strip()


def git_state(root: Path) -> GitState:
    """The repo's git state; ``unknown`` outside a repository or before the first commit."""
    try:
        commit = run_git(root, "rev-parse", "--verify", "HEAD")
    except GitError:
        return GitState.unknown()
    # Untracked files (mlflow.db, caches) do not make a model unreproducible; edits do.
    dirty = bool(run_git(root, "status", "--porcelain", "--untracked-files=no"))
    branch = run_git(root, "rev-parse", "--abbrev-ref", "HEAD")
    return GitState(commit=commit, dirty=dirty, branch=branch)


# Written last by `mlgate train`, once the run is FINISHED and every other tag is in place: a
# version without it carries mlgate lineage that may be partial (training was interrupted).
TRAIN_COMPLETE_TAG = "mlgate.train.complete"
# Who recorded the lineage: "mlgate" for `mlgate train` (room for "external" later).
LINEAGE_TAG = "mlgate.lineage"
_COMMIT_TAG = "mlgate.git.commit"


def incomplete_reason(version_tags: dict[str, str], run_status: str) -> str:
    """Why a version trained by mlgate cannot be trusted yet ('' when it can).

    Versions without mlgate lineage (registered by hand: no ``mlgate.lineage`` and no
    ``mlgate.git.commit`` tag, or another lineage) have nothing to complete and give ''.
    """
    lineage = version_tags.get(LINEAGE_TAG) or ("mlgate" if _COMMIT_TAG in version_tags else "")
    if lineage != "mlgate":
        return ""
    if run_status != "FINISHED":
        return f"training did not finish: run status {run_status or 'unknown'}"
    if version_tags.get(TRAIN_COMPLETE_TAG) != "true":
        return f"no {TRAIN_COMPLETE_TAG} tag: training was interrupted"
    return ""

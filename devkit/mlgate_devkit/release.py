"""The promoted state without a promotion PR, for tests and benchmarks whose subject comes after the merge.

``mlgate score``, ``serve`` and ``monitor`` act only on what release.yaml asks for, as committed,
with the alias agreeing: :func:`promoted` writes ``stage: {version, digest}`` (the digest of the
version's files, as ``mlgate propose-promotion`` computes it), commits it and sets the alias, as a
merged promotion and ``mlgate promote --apply`` would leave them; :func:`canary_running` does the
same for a canary beside a stage. Promotion itself is tested in tests/test_promote.py.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path


def promoted(repo: Path, uri: str | None, model: str, stage: str, version: int, *, alias: bool = True) -> str:
    """Pin ``version`` for ``stage`` in release.yaml, commit it, set the alias (unless ``alias=False``); the digest."""
    from mlgate.config import set_stage
    from mlgate.registry import Registry

    registry = Registry(repo, uri)
    digest = registry.artifact_digest(model, version).digest
    set_stage(repo, model, stage, version, digest)
    rel = f"models/{model}/release.yaml"
    changed = subprocess.run(["git", "status", "--porcelain", rel], cwd=repo, check=True, capture_output=True)
    if changed.stdout.strip():  # else release.yaml already asks for it, committed: nothing to merge
        _commit(repo, rel, f"promote {model} v{version} to {stage}")
    if alias:
        registry.set_alias(model, stage, version)
    return digest


def canary_running(
    repo: Path, uri: str | None, model: str, stage: str, version: int, traffic: float, started_at: datetime
) -> str:
    """``version`` a canary at ``traffic`` beside ``stage`` since ``started_at``; the digest pinned.

    As the merged canary pull request and its ``promote --apply`` leave it: release.yaml's
    ``canary: {stage: {version, digest, traffic}}`` committed, the arm alias (``production-canary``)
    set, and its audit record done, dated ``started_at`` (what ``min_duration`` is counted from).
    """
    from mlgate.config import ArmKind, arm_alias, set_candidate
    from mlgate.registry import Registry, audit

    registry = Registry(repo, uri)
    digest = registry.artifact_digest(model, version).digest
    set_candidate(repo, model, stage, ArmKind.CANARY, version, digest, traffic)
    _commit(repo, f"models/{model}/release.yaml", f"canary: {model} v{version} at {traffic:.0%} beside {stage}")
    alias = arm_alias(stage, ArmKind.CANARY)
    registry.set_alias(model, alias, version)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True)
    record = audit.Record(
        model=model,
        stage=alias,
        version=version,
        previous=None,
        action="promote",
        commit=head.stdout.strip(),
        pr=None,
        approvers=[],
        promoted_by="test",
        promoted_at=started_at.isoformat(),
    )
    audit.finish(registry, audit.begin(registry, record))
    return digest


def _commit(repo: Path, rel: str, message: str) -> None:
    for args in (["add", rel], ["commit", "-qm", message]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

"""The promoted state without a promotion PR, for tests and benchmarks whose subject comes after the merge.

``mlgate score``, ``serve`` and ``monitor`` act only on what release.yaml asks for, as committed,
with the alias agreeing: :func:`promoted` writes ``stage: {version, digest}`` (the digest of the
version's files, as ``mlgate propose-promotion`` computes it), commits it and sets the alias, as a
merged promotion and ``mlgate promote --apply`` would leave them. Promotion itself is tested in
tests/test_promote.py.
"""

from __future__ import annotations

import subprocess
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
        for args in (["add", rel], ["commit", "-qm", f"promote {model} v{version} to {stage}"]):
            subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    if alias:
        registry.set_alias(model, stage, version)
    return digest

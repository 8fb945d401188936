"""After the merge: act only on what git asks for (``mlgate score``, ``serve`` and ``monitor``).

The registry's alias is a pointer anyone with registry credentials can move, and an artifact
store's files can be replaced under a version number. So these commands read the version and
the digest of its files from ``models/<name>/release.yaml`` **as committed** at ``--ref``
(default ``HEAD``: never a working-tree edit), require the alias to agree with it, and load the
version only if its downloaded files have that digest (:meth:`mlgate.registry.Registry.verified_folder`
checks before anything is read or unpickled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlgate.config import commit_of, entry_at, release_path
from mlgate.exceptions import CustodyViolation, GitError, InvalidInput
from mlgate.registry import ModelVersion, Registry

DEFAULT_REF = "HEAD"


@dataclass(frozen=True)
class Desired:
    """What release.yaml at a commit asks for in one stage: the version and the digest of its files."""

    model: str
    stage: str
    version: int | None  # None: the stage is to be empty (or release.yaml does not name it)
    digest: str | None  # None: unpinned (legacy ``stage: N``)
    ref: str
    commit: str

    @property
    def source(self) -> str:
        """``models/credit/release.yaml at HEAD (1a2b3c4d5e6f)``: where the fact was read, for messages."""
        return f"models/{self.model}/release.yaml at {self.ref} ({self.commit[:12]})"

    def disagreement(self, alias: int | None) -> str:
        """Why the alias does not match (an out-of-band move), or '' when it does."""
        if alias == self.version:
            return ""
        asked = f"v{self.version}" if self.version is not None else "no version"
        found = f"v{alias}" if alias is not None else "no version"
        return (
            f"{self.source} asks for {asked} in {self.stage}, but models:/{self.model}@{self.stage} points at {found}: "
            "the alias was moved outside a merged promotion (or the merge's `mlgate promote --apply` has not run)"
        )


FIX_ALIAS = (
    "run `mlgate promote --apply` on the default branch to put the alias back where release.yaml says "
    "(`mlgate status --check` shows every stage); to change the version, open a release.yaml pull request"
)
FIX_UNPINNED = (
    "pin the files: `mlgate pin MODEL --stage STAGE` writes the digest into release.yaml for a pull request "
    "(or pass --allow-unpinned to accept any bytes under that version number)"
)


def desired(root: Path, name: str, stage: str, ref: str = DEFAULT_REF) -> Desired:
    """What release.yaml at ``ref`` asks for in ``stage`` (exit 2 for a ref git does not know)."""
    try:
        commit = commit_of(root, ref)
    except GitError:
        raise InvalidInput(
            f"--ref {ref}: not a commit of the repository at {root}",
            hint="score, serve and monitor read release.yaml as committed: run them in the governed repo's checkout",
        ) from None
    entry = entry_at(root, name, stage, commit)
    return Desired(name, stage, entry.version if entry else None, entry.digest if entry else None, ref, commit)


def resolve(
    registry: Registry,
    root: Path,
    name: str,
    stage: str,
    *,
    ref: str = DEFAULT_REF,
    allow_unpinned: bool = False,
    warn: Callable[[str], None] = lambda _m: None,
) -> tuple[ModelVersion, Desired]:
    """The version to load, and what release.yaml asks for: the alias must agree, and the entry be pinned.

    An alias that disagrees is :class:`CustodyViolation` (exit 1) naming both sides and the fix; an
    unpinned entry too, unless ``allow_unpinned`` (then ``warn`` says the bytes are not checked).
    """
    wanted = desired(root, name, stage, ref)
    alias = registry.alias_version(name, stage)
    if alias is None and wanted.version is None:
        raise InvalidInput(
            f"models:/{name}@{stage} points at no version in {registry.uri}, and {wanted.source} asks for none",
            hint=f"promote a version to {stage} first (a promotion PR editing {_rel(root, name)})",
        )
    problem = wanted.disagreement(alias)
    if problem:
        raise CustodyViolation(problem, hint=FIX_ALIAS)
    assert alias is not None
    if wanted.digest is None:
        message = f"{wanted.source} does not pin the digest of v{alias}'s files for {stage}"
        if not allow_unpinned:
            raise CustodyViolation(message, hint=FIX_UNPINNED.replace("MODEL", name).replace("STAGE", stage))
        warn(f"{message}: --allow-unpinned, so any bytes stored as v{alias} are loaded")
    return registry.version(name, alias), wanted


def _rel(root: Path, name: str) -> str:
    return release_path(root, name).relative_to(root).as_posix()

"""GTO's view of the repo: ``gto show`` read from mlgate's tags, ``dvc.yaml`` artifacts and releases.

GTO (iterative's Git Tag Ops) keeps a model registry in git tags: ``<name>@vX.Y.Z`` registers a
version (``!`` after it deregisters), ``<name>#<stage>#<n>`` assigns a stage (``<name>#<stage>!#<n>``
unassigns it; ``<name>#<stage>`` is the simple form without a counter), and ``dvc.yaml``'s
``artifacts:`` section declares the artifacts (``path``, ``type: model``, ``desc``, ``labels``).
``mlgate promote --apply --gto-tags`` writes the assignment tags at the merge commit
(mlgate.promotion._hooks), and mlgate's versions are MLflow's: the version an assignment names is
the one ``models/<name>/release.yaml`` asks for in that stage at the tag's commit.

:func:`gto_view` is what ``gto show`` would print for those tags — one row per artifact with its
latest version and the version each stage holds — read offline from git (no registry, no token).
It reads lightweight tags too: the refs API mlgate writes through creates those, and GTO's own
reader skips them. An artifact of ``dvc.yaml`` is related to an mlgate model by name, or by its
``path`` being an output of the DVC stage that trains the model (``train: {dvc_stage: ...}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.config import WORKSPACE, dvc_targets, entry_at, load_model_context, model_names, read_pipeline
from mlgate.exceptions import InvalidInput
from mlgate.git import Tag, tags

_NAME = r"[a-z][a-z0-9-/]*[a-z0-9]"  # gto/constants.py: artifact and stage names
_VERSION_TAG = re.compile(rf"^(?P<name>{_NAME})@(?P<version>v\d+\.\d+\.\d+)(?P<deregistered>!)?$")
_STAGE_TAG = re.compile(rf"^(?P<name>{_NAME})#(?P<stage>{_NAME})(?P<cancel>!)?(?:#(?P<counter>\d+))?$")


@dataclass(frozen=True)
class StageAssignment:
    """The tag that decides what a stage holds: its latest assignment or unassignment."""

    stage: str
    tag: str
    commit: str
    counter: int
    version: int | None  # the MLflow version release.yaml asks for there; None: unassigned, or no mlgate model
    annotated: bool

    def as_dict(self) -> dict[str, Any]:
        """The assignment as ``gto show --json`` lists a stage, plus mlgate's version and the commit."""
        return {
            "tag": self.tag,
            "commit": self.commit,
            "counter": self.counter,
            "version": self.version,
            "annotated": self.annotated,
        }


@dataclass(frozen=True)
class GtoArtifact:
    """One row of ``gto show``: an artifact, its latest version, and what each stage holds."""

    name: str
    model: str | None  # the mlgate model it is
    latest: str | None  # the greatest registered semver (``@vX.Y.Z``), else mlgate's greatest assigned ``vN``
    stages: dict[str, StageAssignment]  # stage → its deciding tag (an unassigned stage has version None)
    registered: list[str] = field(default_factory=list)  # semver versions, registration tags not deregistered
    artifact: dict[str, Any] | None = None  # dvc.yaml: path, type, desc, labels, and the file declaring it

    def holds(self, stage: str) -> str | None:
        """What ``gto show`` prints in the stage's column (``v7``, a semver, or None when empty)."""
        assigned = self.stages.get(stage)
        if assigned is None or assigned.version is None:
            return None
        return f"v{assigned.version}"

    def as_dict(self) -> dict[str, Any]:
        """The row as ``mlgate gto --json`` holds it."""
        return {
            "name": self.name,
            "model": self.model,
            "latest": self.latest,
            "stages": {stage: a.as_dict() for stage, a in sorted(self.stages.items())},
            "registered": self.registered,
            "artifact": self.artifact,
        }


@dataclass(frozen=True)
class GtoView:
    """``gto show`` of the repo: the artifacts (by name) and the stage columns in their order."""

    artifacts: list[GtoArtifact]
    stages: list[str]
    ignored: list[str]  # tags with a GTO marker (``@``, ``#``) that GTO's grammar does not accept

    def as_dict(self) -> dict[str, Any]:
        """The view as ``--json`` holds it."""
        return {"stages": self.stages, "artifacts": [a.as_dict() for a in self.artifacts], "ignored": self.ignored}


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.removeprefix("v").split("."))


def _dvc_artifacts(root: Path) -> dict[str, dict[str, Any]]:
    """``artifacts:`` of every ``dvc.yaml``, read by DVC (name → path, type, desc, labels, dvcfile)."""
    if not (root / "dvc.yaml").is_file():
        return {}
    import contextlib

    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with contextlib.chdir(root), Repo(str(root)) as repo:
            declared = repo.artifacts.read()
    except DvcException as err:
        raise InvalidInput(f"dvc.yaml: DVC cannot read its artifacts: {err}") from None
    found = {}
    for dvcfile, artifacts in declared.items():
        for name, artifact in artifacts.items():
            found[name] = {
                "path": artifact.path,
                "type": artifact.type,
                "desc": artifact.desc,
                "labels": list(artifact.labels or []),
                "dvcfile": str(dvcfile),
            }
    return found


def _stage_outputs(root: Path, name: str) -> set[str]:
    """The outputs of the DVC stage that trains mlgate model ``name`` (none for a model mlgate fits)."""
    ctx = load_model_context(root, name, check_estimator=False)
    targets = dvc_targets(ctx.spec, ctx.spec_doc.data)
    if not targets:
        return set()
    pipeline = read_pipeline(root, WORKSPACE, targets)
    return {out for target in targets if target in pipeline.stages for out in pipeline.stages[target].outs}


def gto_view(root: Path) -> GtoView:
    """What ``gto show`` shows for the repo's tags, with mlgate's versions and ``dvc.yaml``'s artifacts."""
    models = set(model_names(root))
    declared = _dvc_artifacts(root)
    registrations: dict[str, list[tuple[str, bool]]] = {}
    assignments: dict[str, dict[str, list[tuple[int, Tag, bool]]]] = {}
    ignored = []
    for tag in tags(root):
        if found := _VERSION_TAG.match(tag.name):
            registrations.setdefault(found["name"], []).append((found["version"], bool(found["deregistered"])))
        elif found := _STAGE_TAG.match(tag.name):
            counter = int(found["counter"] or 0)
            per_stage = assignments.setdefault(found["name"], {}).setdefault(found["stage"], [])
            per_stage.append((counter, tag, bool(found["cancel"])))
        elif "#" in tag.name or "@" in tag.name:
            ignored.append(tag.name)
    # an artifact of dvc.yaml that is an output of a model's training stage is that model
    owner: dict[str, str] = {name: name for name in declared if name in models}
    for trained in sorted(models - set(declared)):
        outputs = _stage_outputs(root, trained)
        for name, artifact in declared.items():
            if name not in owner and artifact["path"] in outputs:
                owner[name] = trained
    # a model an artifact stands for is listed under the artifact's name (its tags name the model)
    listed = {trained for name, trained in owner.items() if name != trained}
    names = sorted(set(declared) | ((set(registrations) | set(assignments) | models) - listed))
    rows = []
    for name in names:
        model: str | None = owner.get(name, name if name in models else None)
        tag_name = name if name in assignments or model is None else model  # mlgate tags name the model
        stages = {}
        for stage, candidates in assignments.get(tag_name, {}).items():
            counter, tag, cancelled = max(candidates, key=lambda c: (c[0], c[1].name))  # the latest decides
            version = None
            if not cancelled and model is not None:
                pinned = entry_at(root, model, stage, tag.commit)
                version = pinned.version if pinned is not None else None
            stages[stage] = StageAssignment(stage, tag.name, tag.commit, counter, version, tag.annotated)
        live = sorted({v for v, gone in registrations.get(tag_name, []) if not gone}, key=_semver)
        gone = {v for v, dead in registrations.get(tag_name, []) if dead}
        live = [v for v in live if v not in gone]
        assigned = [a.version for a in stages.values() if a.version is not None]
        latest = live[-1] if live else (f"v{max(assigned)}" if assigned else None)
        rows.append(GtoArtifact(name, model, latest, stages, live, declared.get(name)))
    columns = sorted({stage for row in rows for stage in row.stages})
    return GtoView(rows, columns, sorted(ignored))

"""``models/<name>/release.yaml``: the desired registry version (and its pinned digest) per stage.

The one reader of the file as git holds it (:func:`release_at`, :func:`entry_at`, :func:`revisions`:
validated like the working-tree file, problems located as ``file@ref:line``) and its one writer
(:func:`set_stage`). Edits keep the file's comments, key order and style (ruamel round-trip), so a
promotion PR's diff is the one line that changes: ``production: {version: 3, digest: "sha256:…"}``.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from mlgate.config._schema import ArmKind, Candidate, PinnedVersion, Release, parse
from mlgate.config._workspace import RELEASE_FILE, model_names, spec_path
from mlgate.config._yamlio import load
from mlgate.exceptions import InvalidInput, SpecError
from mlgate.git import first_parent_commits, resolve_commit, show


def release_path(root: Path, name: str) -> Path:
    """``models/<name>/release.yaml`` under ``root``."""
    return spec_path(root, name).with_name(RELEASE_FILE)


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments and order survive
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # a pinned entry stays one line, so the pull request's diff is that line
    # an empty stage stays written as `null`, as people write it (ruamel would leave it blank)
    yaml.representer.add_representer(
        type(None), lambda rep, _none: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def set_stage(
    root: Path, name: str, stage: str, version: int | None, digest: str | None = None
) -> tuple[int | None, str]:
    """Write ``stage: version`` (with ``digest``: ``{version: N, digest: "sha256:…"}``); (old version, new text)."""
    if not spec_path(root, name).is_file():
        raise InvalidInput(
            f"no spec for model '{name}'", hint=f"models in this repo: {', '.join(model_names(root)) or 'none'}"
        )
    path = release_path(root, name)
    yaml = _yaml()
    if path.is_file():
        doc = yaml.load(path.read_text(encoding="utf-8"))
    else:
        doc = yaml.load(
            f"# Desired registry state: merging a change here moves the MLflow aliases.\nmodel: {name}\nstages: {{}}\n"
        )
    stages = doc.setdefault("stages", {})
    if stages is None:
        doc["stages"] = stages = {}
    old = stages.get(stage)
    if isinstance(old, dict):
        old = old.get("version")
    stages[stage] = version if version is None or digest is None else _pinned(version, digest)
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return (int(old) if isinstance(old, int) else None), buffer.getvalue()


def _load_doc(root: Path, name: str) -> tuple[YAML, Path, Any]:
    path = release_path(root, name)
    if not path.is_file():
        raise InvalidInput(
            f"{path.relative_to(root)} does not exist: a candidate runs beside a stage release.yaml already holds",
            hint=f"promote a version first: mlgate propose-promotion {name} --version N --stage STAGE",
        )
    yaml = _yaml()
    return yaml, path, yaml.load(path.read_text(encoding="utf-8"))


def _dump(yaml: YAML, path: Path, doc: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return buffer.getvalue()


def set_candidate(
    root: Path, name: str, stage: str, kind: ArmKind, version: int, digest: str, traffic: float | None = None
) -> str:
    """Write a canary (``traffic`` required) or shadow beside ``stage``, replacing any candidate there; the new text.

    The entry is one flow-style line (``production: {version: 4, digest: "sha256:…", traffic: 0.1}``)
    so the pull request's diff is that line.
    """
    if kind == ArmKind.STABLE:
        raise InvalidInput("a candidate is a canary or a shadow; the stable version is set with set_stage")
    if (kind == ArmKind.CANARY) != (traffic is not None):
        raise InvalidInput("a canary needs its traffic share, a shadow has none")
    yaml, path, doc = _load_doc(root, name)
    for other in (ArmKind.CANARY, ArmKind.SHADOW):
        section = doc.get(other.value)
        if section and stage in section:
            del section[stage]
            if not section:
                del doc[other.value]
    entry = _pinned(version, digest)
    if traffic is not None:
        entry["traffic"] = traffic
    section = doc.get(kind.value)
    if section is None:
        doc[kind.value] = section = CommentedMap()
    section[stage] = entry
    return _dump(yaml, path, doc)


def remove_candidate(root: Path, name: str, stage: str) -> tuple[Candidate | None, str]:
    """Remove the canary or shadow beside ``stage`` (the abort, or half of a completion); (what it was, new text)."""
    yaml, path, doc = _load_doc(root, name)
    before = parse(Release, load(path, path.relative_to(root).as_posix())).candidate(stage)
    for kind in (ArmKind.CANARY, ArmKind.SHADOW):
        section = doc.get(kind.value)
        if section and stage in section:
            del section[stage]
            if not section:
                del doc[kind.value]
    return before, _dump(yaml, path, doc)


def _pinned(version: int, digest: str) -> CommentedMap:
    """``{version: N, digest: "sha256:…"}`` on one line, so the promotion's diff stays one line."""
    entry = CommentedMap([("version", version), ("digest", DoubleQuotedScalarString(digest))])
    entry.fa.set_flow_style()
    return entry


def release_at(root: Path, name: str, ref: str) -> Release | None:
    """The release as git ``ref`` holds it, validated (None when the file is not there at ``ref``).

    Never the working tree's file: what score, serve and monitor act on must be committed. A file
    that does not validate is :class:`~mlgate.exceptions.SpecError` (exit 2) located at
    ``models/<name>/release.yaml@<ref>:line``.
    """
    rel = release_path(root, name).relative_to(root).as_posix()
    text = show(root, ref, rel)
    if text is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mlgate-release-") as tmp:
        copy = Path(tmp) / RELEASE_FILE
        copy.write_text(text, encoding="utf-8")
        return parse(Release, load(copy, f"{rel}@{ref}"))  # located as the reader knows it, not the copy


def entry_at(root: Path, name: str, stage: str, ref: str) -> PinnedVersion | None:
    """What release.yaml at ``ref`` asks for in ``stage`` (None: nothing, or the file is not there).

    ``stage`` may be a candidate's alias (``production-canary``): its version and pinned digest.

    A file that does not validate exits 2, naming ``models/<name>/release.yaml@<ref>``.
    """
    release = release_at(root, name, ref)
    return release.entry(stage) if release is not None else None


def commit_of(root: Path, ref: str) -> str:
    """The commit ``ref`` names (what a served or scored release was read from)."""
    return resolve_commit(root, ref)


def revisions(root: Path, name: str, ref: str) -> list[tuple[str, Release]]:
    """Every revision of the release on ``ref``'s first-parent history, newest first: (commit, release).

    A revision that does not validate is left out: a file nobody could apply asked for nothing.
    """
    rel = release_path(root, name).relative_to(root).as_posix()
    commits = first_parent_commits(root, ref, rel)
    found = []
    for commit in commits:
        try:
            release = release_at(root, name, commit)
        except SpecError:
            continue
        if release is not None:
            found.append((commit, release))
    return found

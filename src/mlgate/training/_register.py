"""`mlgate register`: a model trained elsewhere enters governance, marked as such.

The version is registered with ``mlgate.lineage=external``. What the user states about it (the
commit it came from, the data it read) is recorded under ``mlgate.external.*`` — never under the
``mlgate.git.*``/``mlgate.data.*`` names mlgate writes from what it saw itself — so no reader
mistakes a claim for an observation. Promotion refuses external versions unless the judged policy
sets ``promotion.stages.<stage>.allow_external`` (mlgate.promotion.plan).

The source is one of ``runs:/<run id>/<path>``, ``models:/<model id>``, ``models:/<name>/<version>``
or a local MLflow model folder (a folder with an ``MLmodel`` file), which is copied into a new
run of experiment ``mlgate/<name>`` as it is: nothing in it is loaded or run (its ``MLmodel`` is read:
a signature whose output is not what ``mlflow.pyfunc`` predict returns is refused, exit 2). Registering the same
source again returns the version it made the first time (completing it if that was interrupted).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.config import (
    EXTERNAL_PREFIX,
    LINEAGE_EXTERNAL,
    LINEAGE_TAG,
    TRAIN_COMPLETE_TAG,
    Workspace,
    load_model_context,
    refuse_predictions,
    repo_relative,
)
from mlgate.data import file_md5
from mlgate.exceptions import InvalidInput, RegistryUnavailable
from mlgate.registry import OUTPUT_HINT, Registry, output_problem

_RUNS = re.compile(r"^runs:/([A-Za-z0-9_-]+)/(\S+)$")
_MODEL_ID = re.compile(r"^models:/(m-[0-9a-f]+)$")
_MODEL_VERSION = re.compile(r"^models:/([^/@\s]+)/([1-9][0-9]{0,9})$")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")
SOURCE_TAG = EXTERNAL_PREFIX + "source"
SHA_TAG = EXTERNAL_PREFIX + "sha256"
URI_HELP = "runs:/<run id>/<path>, models:/<model id>, models:/<name>/<version>, or a folder with an MLmodel file"


@dataclass
class RegisterResult:
    """What `mlgate register` produced (written by ``--json``)."""

    model: str
    version: int
    run_id: str
    model_uri: str
    source: str
    tags: dict[str, str]
    existed: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The result as ``mlgate register --json`` writes it."""
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "model_uri": self.model_uri,
            "source": self.source,
            "lineage": LINEAGE_EXTERNAL,
            "tags": self.tags,
            "existed": self.existed,
        }


@dataclass(frozen=True)
class Source:
    """A checked ``--model-uri``: an MLflow URI, or a local model folder and its content hash."""

    uri: str
    folder: Path | None = None
    sha256: str = ""


def parse_source(value: str, cwd: Path) -> Source:
    """Check ``--model-uri`` before anything is written (exit 2 when it is none of the accepted forms)."""
    if _RUNS.match(value) or _MODEL_ID.match(value) or _MODEL_VERSION.match(value):
        return Source(value)
    if re.match(r"^[a-z][a-z0-9+.-]*:/", value):
        raise InvalidInput(f"--model-uri {value!r} is not one of: {URI_HELP}")
    folder = (cwd / value).resolve()
    if not (folder / "MLmodel").is_file():
        raise InvalidInput(
            f"--model-uri {value!r} is not one of: {URI_HELP}",
            hint="a local model is the folder mlflow.<flavour>.save_model wrote (it holds an MLmodel file)",
        )
    return Source(folder.as_uri(), folder, _folder_sha256(folder))


def _folder_sha256(folder: Path) -> str:
    """sha256 over the folder's relative file names and bytes (what the version was made from)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def stated_tags(root: Path, source: Source, commit: str | None, data: dict[str, str]) -> dict[str, str]:
    """The version's tags: lineage ``external`` and what the user stated, under ``mlgate.external.*``."""
    tags = {LINEAGE_TAG: LINEAGE_EXTERNAL, SOURCE_TAG: source.uri, "mlgate.version": __version__}
    if source.sha256:
        tags[SHA_TAG] = source.sha256
    if commit is not None:
        if not _COMMIT.match(commit):
            raise InvalidInput(f"--commit {commit!r} is not a git commit sha (7 to 40 lowercase hex digits)")
        tags[EXTERNAL_PREFIX + "commit"] = commit
    for role, rel in sorted(data.items()):
        if not _ROLE.match(role):
            raise InvalidInput(f"--data {role}={rel}: the role must match [a-z][a-z0-9_]*, e.g. train=data/x.csv")
        if not repo_relative(rel) or not (root / rel).is_file():
            raise InvalidInput(f"--data {role}={rel}: not a file inside the repository {root}")
        tags[f"{EXTERNAL_PREFIX}data.{role}.path"] = rel
        tags[f"{EXTERNAL_PREFIX}data.{role}.md5"] = file_md5(root / rel)  # what the file holds now, not a claim
    return tags


def _same_source(tags: dict[str, str], source: Source) -> bool:
    if tags.get(LINEAGE_TAG) != LINEAGE_EXTERNAL:
        return False
    if source.folder is not None:
        return tags.get(SHA_TAG) == source.sha256
    return tags.get(SOURCE_TAG) == source.uri


def _check_exists(registry: Registry, uri: str) -> None:
    """The run, logged model or version ``uri`` names exists (before anything is written), else exit 2."""
    runs, model_id, model_version = _RUNS.match(uri), _MODEL_ID.match(uri), _MODEL_VERSION.match(uri)
    if runs and not registry.run_exists(runs.group(1)):
        raise InvalidInput(f"--model-uri {uri}: run {runs.group(1)} does not exist in {registry.shown_uri}")
    if model_id and not registry.logged_model_exists(model_id.group(1)):
        raise InvalidInput(f"--model-uri {uri}: no logged model {model_id.group(1)} in {registry.shown_uri}")
    if model_version:
        name, number = model_version.group(1), int(model_version.group(2))
        if number not in [v.version for v in registry.versions(name)]:
            raise InvalidInput(f"--model-uri {uri}: {name} has no version {number} in {registry.shown_uri}")


def _check_output(registry: Registry, source: Source) -> None:
    """Refuse (exit 2) a model whose signature's output is not what ``mlflow.pyfunc`` predict returns.

    Plain MLflow types its results by that output (``spark_udf``, ``mlflow models serve``); a
    ``predict_proba`` tensor on a model whose pyfunc returns labels makes ``spark_udf`` fail on every
    row. Only the ``MLmodel`` YAML is read (:func:`mlgate.registry.output_problem`): nothing is loaded.
    """
    where = str(source.folder) if source.folder is not None else source.uri
    problem = output_problem(registry.logged_mlmodel(where))
    if problem:
        raise InvalidInput(f"--model-uri {source.uri}: {problem}", hint=OUTPUT_HINT)


def register_external(
    root: Path | Workspace,
    name: str,
    model_uri: str,
    *,
    commit: str | None = None,
    data: dict[str, str] | None = None,
    tracking_uri: str | None = None,
    cwd: Path | None = None,
) -> RegisterResult:
    """Register a model trained elsewhere as a new version of ``name`` with external lineage."""
    ws = Workspace.of(root, tracking_uri)
    root = ws.root
    ctx = load_model_context(root, name)  # the model must be governed here: its spec judges the version
    refuse_predictions(ctx, "register a model")
    source = parse_source(model_uri, cwd or Path.cwd())
    tags = stated_tags(root, source, commit, data or {})
    registry = ws.registry
    for mv in reversed(registry.versions(name)):  # a retry: the version the first attempt made
        if _same_source(mv.tags, source):
            if mv.tags.get(TRAIN_COMPLETE_TAG) != "true":
                registry.record_artifact(name, mv.version)
                registry.set_version_tags(name, mv.version, {TRAIN_COMPLETE_TAG: "true"})
            return RegisterResult(name, mv.version, mv.run_id, f"models:/{name}/{mv.version}", source.uri, tags, True)
    if source.folder is None:
        _check_exists(registry, source.uri)
    _check_output(registry, source)
    uri = source.uri
    if source.folder is not None:
        run_id = registry.create_run(f"mlgate/{name}", f"register-{name}", tags)
        uri = registry.log_model_folder(run_id, source.folder)
        registry.finish_run(run_id, {})
    registered = registry.register_model(name, uri, tags)
    try:
        registry.set_model_description(name, ctx.spec.description)
        registry.record_artifact(name, registered.version)  # the stored files' digest, before complete
        registry.set_version_tags(name, registered.version, {TRAIN_COMPLETE_TAG: "true"})  # last
    except RegistryUnavailable as err:
        raise RegistryUnavailable(
            f"{name} v{registered.version} was registered but not marked complete "
            f"({TRAIN_COMPLETE_TAG}): {err.message}",
            hint=f"re-run the same `mlgate register {name} --model-uri ...`: it completes that version",
        ) from err
    return RegisterResult(
        name, registered.version, registered.run_id, registered.model_uri, source.uri, tags, existed=False
    )

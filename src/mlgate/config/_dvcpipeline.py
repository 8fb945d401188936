"""A model's DVC pipeline, read with DVC's own loader at a git revision.

A model trained by a stage of ``dvc.yaml`` (``train: {dvc_stage: train}``, or a ``train.command``
of ``dvc repro <stage>``) depends on what DVC would re-run that stage for: the stage's and every
upstream stage's ``deps``, tracked ``params`` (keys of any params file, or whole files) and
``cmd``. Those come from DVC's stage graph (``dvc.repo.Repo(root, rev=...)``, the loader, the
interpolation of ``vars`` and the graph DVC itself uses for ``dvc repro``), not from a second
parser: what DVC re-runs and what mlgate re-gates cannot disagree.

Params are read as ``dvc params diff`` reads them: flattened with dots (``train.n_est``), per
params file, only the keys a stage tracks (all of a file tracked whole).

The one reader of the stage graph: affected-ness and the params/metrics diff (:func:`read_pipeline`,
at a revision) and ``train: {dvc_stage: S}`` (:func:`stage_upstream`, which stages ``dvc repro``
runs first, in the workspace) open the repo and walk a stage's ancestors with the same functions.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.config._yamlio import Document, parse
from mlgate.exceptions import InvalidInput, SpecError
from mlgate.git import show

if TYPE_CHECKING:
    from mlgate.config._schema import ModelSpec

WORKSPACE = "workspace"
"""The ``rev`` that reads the working tree (as DVC names it in ``dvc params diff``)."""


def dvc_targets(spec: ModelSpec, spec_data: Any = None) -> list[str]:
    """The ``dvc.yaml`` stages a model is trained by: ``train.dvc_stage``, or the targets of ``dvc repro``.

    ``spec_data`` (the spec file's mapping) is read too, so ``dvc_stage`` is found leniently
    whichever way the spec schema holds it.
    """
    stage = getattr(spec.train, "dvc_stage", None)
    if stage is None and isinstance(spec_data, dict) and isinstance(spec_data.get("train"), dict):
        stage = spec_data["train"].get("dvc_stage")
    if isinstance(stage, str) and stage:
        return [stage]
    command = getattr(spec.train, "command", None)
    if not isinstance(command, str):
        return []
    argv = shlex.split(command)
    if argv[:2] != ["dvc", "repro"]:
        return []
    # every target, whatever the flags: with --single-item DVC would skip the upstream stages, but a
    # change there still changes what the stage reads; more re-gating is the safe side
    return [arg for arg in argv[2:] if not arg.startswith("-")]


@dataclass(frozen=True)
class ParamsEntry:
    """One ``params:`` entry of a stage: a params file and the keys tracked (none: the whole file)."""

    path: str
    keys: tuple[str, ...]
    values: dict[str, Any] = field(compare=False)  # flattened, as read at the revision


@dataclass(frozen=True)
class PipelineStage:
    """One stage of ``dvc.yaml`` as DVC loaded it: paths relative to the repo root."""

    name: str
    dvcfile: str
    cmd: str
    deps: tuple[str, ...]
    params: tuple[ParamsEntry, ...]
    outs: tuple[str, ...]
    metrics: tuple[str, ...]
    in_pipeline: bool = True  # a stage of a dvc.yaml; False: a .dvc file's (``dvc add``: a pipeline's input)

    @property
    def target(self) -> str:
        """The name `dvc repro` takes from the repo root: ``train``, ``sub/dvc.yaml:train``, a ``.dvc`` file's path."""
        if not self.in_pipeline or self.dvcfile == "dvc.yaml":
            return self.name
        return f"{self.dvcfile}:{self.name}"

    def definition(self) -> dict[str, Any]:
        """What DVC re-runs the stage for, apart from the files' contents: cmd, deps, params keys, outs."""
        return {
            "cmd": self.cmd,
            "deps": list(self.deps),
            "params": {p.path: list(p.keys) for p in self.params},
            "outs": sorted([*self.outs, *self.metrics]),
        }


@dataclass(frozen=True)
class Pipeline:
    """The target stages of a model, every stage upstream of them, and the metrics files downstream."""

    rev: str
    targets: tuple[str, ...]
    stages: dict[str, PipelineStage]  # the targets and their upstream stages, by PipelineStage.target
    downstream: dict[str, PipelineStage]  # stages that read a target's outputs (evaluate), by target
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # params files, whole, flattened

    def params(self) -> dict[tuple[str, str], Any]:
        """``(params file, dotted key)`` → value of every param the stages track."""
        out: dict[tuple[str, str], Any] = {}
        for stage in self.stages.values():
            for entry in stage.params:
                out |= {(entry.path, key): value for key, value in entry.values.items()}
        return out

    def metrics_files(self) -> list[str]:
        """The ``metrics:`` files of the target stages and of the stages downstream of them."""
        own = {m for name in self.targets if name in self.stages for m in self.stages[name].metrics}
        return sorted(own | {m for s in self.downstream.values() for m in s.metrics})


def flatten_params(values: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``a.b.c`` keys, as ``dvc params diff`` names them; lists stay values.

    The one flattener of params and metrics: the pipeline's params diff, DVC metrics and the verdict's
    params diff of ``params.yaml`` name a key alike.
    """
    if not isinstance(values, dict):
        return {prefix: values} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out |= flatten_params(value, path)
        else:
            out[path] = value
    return out


def _check_yaml(root: Path, rev: str) -> Document | None:
    """``dvc.yaml`` at ``rev`` parsed as governed YAML (errors name file, line and key); None when absent."""
    if rev == WORKSPACE:
        path = root / "dvc.yaml"
        if not path.is_file():
            return None
        text, where = path.read_text(encoding="utf-8"), "dvc.yaml"
    else:
        found = show(root, rev, "dvc.yaml")
        if found is None:
            return None
        text, where = found, f"dvc.yaml (at {rev[:12]})"
    return parse(text, where, allow_empty=True)


def _refused(doc: Document, err: Exception) -> InvalidInput:
    """DVC's refusal of ``dvc.yaml`` as bad input: each schema error located (file:line:col: key: message)."""
    cause = err.__cause__
    errors = getattr(cause, "errors", None) or ([cause] if hasattr(cause, "path") else [])
    problems = []
    for invalid in errors:
        path = tuple(getattr(invalid, "path", ()))
        problems.append(doc.problem(path, f"{getattr(invalid, 'msg', invalid)} (DVC's dvc.yaml schema)", key=True))
    if problems:
        return SpecError(problems)
    return InvalidInput(f"{doc.display}: {err}")


def read_pipeline(
    root: Path, rev: str, targets: list[str], *, also: tuple[str, ...] = (), params_files: tuple[str, ...] = ()
) -> Pipeline:
    """The pipeline of ``targets`` in ``dvc.yaml`` at git revision ``rev`` (or :data:`WORKSPACE`).

    A target the revision does not define (a stage a pull request adds) has no stages there.
    ``also``: more stages to read where they exist (the other revision's pipeline, to compare);
    ``files`` holds every params file the stages name and ``params_files``, read whole and flattened. A
    ``dvc.yaml`` DVC cannot load is bad input naming the file and the revision.
    """
    doc = _check_yaml(root, rev)
    if doc is None:
        return Pipeline(rev, tuple(targets), {}, {})
    from dvc.exceptions import DvcException, NotDvcRepoError

    try:
        with _opened(root, rev) as repo:
            return _collect(repo, rev, doc, targets, also, params_files)
    except NotDvcRepoError:  # a dvc.yaml without `dvc init` (the change that adds DVC): no graph there
        return Pipeline(rev, tuple(targets), {}, {})
    except DvcException as err:  # opening only: _collect reports DVC's errors as bad dvc.yaml
        raise InvalidInput(f"{doc.display}: DVC cannot open the repo: {err}") from None


@contextlib.contextmanager
def _opened(root: Path, rev: str) -> Iterator[Any]:
    """DVC's repo of ``root`` at git revision ``rev`` (or :data:`WORKSPACE`), the current directory at ``root``.

    DVC resolves a stage target against the current directory (its CLI runs inside the repo): from
    inside another DVC repo, "train" would be that repo's stage. DVC's errors propagate as raised.
    """
    from dvc.repo import Repo

    with contextlib.chdir(root), Repo(str(root)) if rev == WORKSPACE else Repo(str(root), rev=rev) as repo:
        yield repo


def _lineage(repo: Any, target: str, *, upstream: bool = True) -> tuple[list[Any], list[Any]]:
    """The stages ``target`` names, and those with every stage upstream of them, as ``dvc repro`` walks DVC's graph.

    Raises DVC's ``StageNotFound`` when the target names no stage.
    """
    own = repo.stage.collect(target)
    return own, (repo.stage.collect(target, with_deps=True) if upstream else own)


def _collect(
    repo: Any, rev: str, doc: Document, targets: list[str], also: tuple[str, ...], params_files: tuple[str, ...]
) -> Pipeline:
    """:func:`read_pipeline` in the opened ``repo``."""
    from dvc.exceptions import DvcException
    from dvc.stage.exceptions import StageNotFound

    try:
        stages: dict[str, Any] = {}
        found: list[Any] = []
        for target in [*targets, *also]:
            try:
                own, lineage = _lineage(repo, target, upstream=target in targets)
            except StageNotFound:
                continue
            if target in targets:
                found += own
            stages |= {stage.addressing: stage for stage in lineage}
        downstream = {s.addressing: s for s in _downstream(repo.index.graph, found)}
        read = {name: _stage(repo, s) for name, s in stages.items()}
        paths = {p.path for s in read.values() for p in s.params} | set(params_files)
        return Pipeline(
            rev,
            tuple(targets),
            {s.target: s for s in read.values()},
            {s.target: s for s in (_stage(repo, d) for key, d in downstream.items() if key not in stages)},
            {path: _read_params_file(repo, path) for path in sorted(paths)},
        )
    except DvcException as err:
        raise _refused(doc, err) from None


def stage_upstream(root: Path, name: str) -> tuple[str, ...]:
    """The pipeline stages of ``root``'s ``dvc.yaml`` that stage ``name`` depends on, read by DVC itself.

    Its ancestors in DVC's stage graph (outputs of one are deps of the next), by the name ``dvc
    repro`` takes from the repo root (``sub/dvc.yaml:prepare`` for a stage of a sub-folder's
    ``dvc.yaml``); ``.dvc`` files (data sources) are left out. Raises ``LookupError`` saying why when
    DVC finds no single pipeline stage of that name (``train`` of a ``foreach`` names several:
    ``train@credit`` names one) or cannot read ``dvc.yaml``.
    """
    if not (root / "dvc.yaml").is_file():
        raise LookupError("this repository has no dvc.yaml")
    from dvc.exceptions import DvcException

    try:
        with _opened(root, WORKSPACE) as repo:
            # "dvc.yaml:" pins the top dvc.yaml: a bare name could also be a path (a .dvc file's stage)
            named, lineage = _lineage(repo, f"dvc.yaml:{name}")
            own = [_stage(repo, s, values=False) for s in named]
            if len(own) != 1 or not own[0].in_pipeline:
                found = ", ".join(s.target for s in own) or "none"
                raise LookupError(f"'{name}' must name one stage of dvc.yaml; it names {len(own)}: {found}")
            ancestors = (_stage(repo, s, values=False) for s in lineage)
            return tuple(s.target for s in ancestors if s.in_pipeline and s.target != own[0].target)
    except DvcException as err:
        raise LookupError(str(err).strip() or type(err).__name__) from None


def _downstream(graph: Any, stages: list[Any]) -> list[Any]:
    """Every stage that reads, directly or not, an output of ``stages`` (DVC's edges point at the stage read)."""
    seen: dict[Any, None] = {}
    todo = list(stages)
    while todo:
        for reader in graph.predecessors(todo.pop()):
            if reader not in seen:
                seen[reader] = None
                todo.append(reader)
    return list(seen)


def _read_params_file(repo: Any, path: str) -> dict[str, Any]:
    """A params file at the repo's revision, whole and flattened (empty when it does not exist there)."""
    from dvc.utils.serialize import load_path

    fs_path = repo.fs.join(repo.root_dir, path)
    if not repo.fs.isfile(fs_path):
        return {}
    return flatten_params(load_path(fs_path, repo.fs))


def _stage(repo: Any, stage: Any, *, values: bool = True) -> PipelineStage:
    """DVC's ``stage`` as mlgate holds it; ``values=False``: the params' values not read (naming only).

    Naming a stage reads no params file: a broken ``params.yaml`` is ``dvc repro``'s error, not the name's.
    """
    from dvc.dependency.param import ParamsDependency
    from dvc.stage import PipelineStage as DvcPipelineStage

    def rel(fs_path: str) -> str:
        return str(repo.fs.relpath(fs_path, repo.root_dir))

    params, deps = [], []
    for dep in stage.deps:
        if isinstance(dep, ParamsDependency):
            read = flatten_params(dep.read_params()) if values else {}
            params.append(ParamsEntry(rel(dep.fs_path), tuple(dep.params), read))
        else:
            deps.append(rel(dep.fs_path))
    cmd = stage.cmd if isinstance(stage.cmd, str) else "\n".join(stage.cmd or [])
    return PipelineStage(
        # a stage of a .dvc file (``dvc add``, ``dvc import``: a pipeline's input) has no name but its file
        name=getattr(stage, "name", None) or rel(stage.path),
        dvcfile=rel(stage.path),
        cmd=cmd,
        deps=tuple(deps),
        params=tuple(params),
        outs=tuple(rel(o.fs_path) for o in stage.outs if not o.metric),
        metrics=tuple(rel(o.fs_path) for o in stage.outs if o.metric),
        in_pipeline=isinstance(stage, DvcPipelineStage),
    )


def _touches(path: str, dep: str) -> bool:
    """A changed file is the dep, lies under it (a directory dep), or is its ``.dvc`` pointer (git holds only that)."""
    dep = dep.rstrip("/")
    path = path.removesuffix(".dvc")
    return path == dep or path.startswith(dep + "/")


def compare(root: Path, base: str, head: str, targets: list[str]) -> tuple[Pipeline, Pipeline]:
    """The pipelines of ``targets`` at ``base`` and at ``head``, each also reading the other's stages and files."""
    first_old, first_new = read_pipeline(root, base, targets), read_pipeline(root, head, targets)
    # a stage or params file on one side only (a stage added upstream, a file newly tracked) is read on
    # the other side too, so a value is compared with the same key's value there, tracked or not
    return _reread(root, base, targets, first_old, first_new), _reread(root, head, targets, first_new, first_old)


def _reread(root: Path, rev: str, targets: list[str], first: Pipeline, other: Pipeline) -> Pipeline:
    """``first`` (read at ``rev``) read again with the stages and params files only ``other`` has."""
    also = tuple(sorted(set(other.stages) - set(first.stages)))
    return read_pipeline(root, rev, targets, also=also, params_files=tuple(sorted(other.files)))


MISSING = object()


def changed_params(old: Pipeline, new: Pipeline) -> list[tuple[str, str, Any, Any]]:
    """``(file, key, base value, head value)`` of every param either side tracks whose value differs.

    A value is read from the file at each side whether or not that side tracks it (:data:`MISSING`
    where the key is absent), so untracking a key in the same change that edits it still shows the edit.
    """
    rows = []
    for file, key in sorted(old.params().keys() | new.params().keys()):
        was, now = old.files.get(file, {}).get(key, MISSING), new.files.get(file, {}).get(key, MISSING)
        if was is MISSING and now is MISSING:
            continue  # tracked, but in neither file: DVC reads nothing either
        if was is MISSING or now is MISSING or _differs(was, now):
            rows.append((file, key, was, now))
    return rows


def pipeline_reasons(root: Path, base: str, head: str, targets: list[str], files: list[str]) -> list[str]:
    """Why a change between ``base`` and ``head`` affects the model trained by the ``targets`` stages.

    Read at both revisions, so a pull request that drops a dep or a param from ``dvc.yaml`` is
    affected by that edit itself (the stage's definition changed) and by a change to what it dropped:
    a changed file under a dep of either side; a tracked param (``params.yaml (train.n_est)``) whose
    value differs; a stage whose ``cmd``, deps, tracked keys or outs differ (``dvc.yaml (stage train)``).
    """
    old, new = compare(root, base, head, targets)
    reasons: set[str] = set()
    deps = {d for p in (old, new) for s in p.stages.values() for d in s.deps}
    reasons |= {f for f in files if any(_touches(f, d) for d in deps)}
    reasons |= {f"{file} ({key})" for file, key, _, _ in changed_params(old, new)}
    for name in old.stages.keys() | new.stages.keys():
        was, now = old.stages.get(name), new.stages.get(name)
        stage = now or was  # the name is a key of one of the two, so one of them is a stage
        if stage is not None and (was is None or now is None or was.definition() != now.definition()):
            reasons.add(f"{stage.dvcfile} (stage {name})")
    return sorted(reasons)


def _differs(old: Any, new: Any) -> bool:
    """Values differ, ``1`` and ``1.0`` and ``true`` included (YAML types are part of the value)."""
    return bool(old != new or type(old) is not type(new))


@dataclass(frozen=True)
class MetricRow:
    """One metric of a DVC ``metrics:`` file, as ``dvc metrics diff`` shows it: base, head and the change."""

    file: str
    metric: str
    base: Any  # None: the base has no such value
    head: Any  # None: the head has no such value

    def as_dict(self) -> dict[str, Any]:
        """The row as the verdict's evidence holds it (``change``: head − base for two numbers)."""
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (self.base, self.head))
        change = self.head - self.base if numbers else None
        return {"file": self.file, "metric": self.metric, "base": self.base, "head": self.head, "change": change}


def metrics_diff(root: Path, base: str, files: list[str]) -> tuple[list[MetricRow], dict[str, str]]:
    """The ``files`` (DVC metrics) in the workspace against ``base``, read by DVC (``dvc metrics show``).

    Every metric is listed (unchanged ones too: the reviewer reads them beside mlgate's own); a file
    DVC cannot read at a side is reported in the second value (``file (side)`` → the error), not raised:
    the evidence is informational.
    """
    if not files:
        return [], {}
    from dvc.exceptions import DvcException

    try:
        with _opened(root, WORKSPACE) as repo:  # targets resolve against the cwd
            shown = repo.metrics.show(targets=files, revs=[base], hide_workspace=False)
    except DvcException as err:
        return [], {"metrics": str(err).splitlines()[0]}
    sides: dict[str, dict[str, dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    for side, rev in (("base", base), ("head", WORKSPACE)):
        found = shown.get(rev, {})
        if "error" in found:
            errors[f"metrics ({side})"] = _error_text(found["error"])
            continue
        for file, entry in found.get("data", {}).items():
            if "error" in entry:
                errors[f"{file} ({side})"] = _error_text(entry["error"])
            else:
                sides.setdefault(file, {})[side] = flatten_params(entry.get("data", {}))
    rows = []
    for file in sorted(sides):
        old, new = sides[file].get("base", {}), sides[file].get("head", {})
        rows += [MetricRow(file, key, old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys())]
    return rows, errors


def _error_text(err: Any) -> str:
    """A DVC read error in a line: a file missing at a side is the common, expected case."""
    if isinstance(err, FileNotFoundError):
        return "not found"
    return str(err).splitlines()[0] if str(err) else type(err).__name__

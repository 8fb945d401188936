"""A model's DVC pipeline, read with DVC's own loader at a git revision.

A model trained by a stage of ``dvc.yaml`` (``train: {dvc_stage: train}``, or a ``train.command``
of ``dvc repro <stage>``) depends on what DVC would re-run that stage for: the stage's and every
upstream stage's ``deps``, tracked ``params`` (keys of any params file, or whole files) and
``cmd``. Those come from DVC's stage graph (``dvc.repo.Repo(root, rev=...)``, the loader, the
interpolation of ``vars`` and the graph DVC itself uses for ``dvc repro``), not from a second
parser: what DVC re-runs and what mlgate re-gates cannot disagree.

Params are read as ``dvc params diff`` reads them: flattened with dots (``train.n_est``), per
params file, only the keys a stage tracks (all of a file tracked whole).
"""

from __future__ import annotations

import contextlib
import shlex
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
    stages: dict[str, PipelineStage]  # the targets and their upstream stages
    downstream: dict[str, PipelineStage]  # stages that read a target's outputs (evaluate)
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


def _flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``a.b.c`` keys, as ``dvc params diff`` names them; lists stay values."""
    if not isinstance(values, dict):
        return {prefix: values} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out |= _flatten(value, path)
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
    from dvc.repo import Repo

    where = "dvc.yaml" if rev == WORKSPACE else f"dvc.yaml (at {rev[:12]})"
    # DVC resolves a stage target against the current directory (its CLI runs inside the repo): from
    # inside another DVC repo, "train" would be that repo's stage
    with contextlib.chdir(root):
        try:
            repo = Repo(str(root)) if rev == WORKSPACE else Repo(str(root), rev=rev)
        except NotDvcRepoError:  # a dvc.yaml without `dvc init` (the change that adds DVC): no graph there
            return Pipeline(rev, tuple(targets), {}, {})
        except DvcException as err:
            raise InvalidInput(f"{where}: DVC cannot open the repo: {err}") from None
        return _collect(repo, rev, doc, targets, also, params_files)


def _collect(
    repo: Any, rev: str, doc: Document, targets: list[str], also: tuple[str, ...], params_files: tuple[str, ...]
) -> Pipeline:
    """:func:`read_pipeline` in the opened ``repo`` (closed on return)."""
    from dvc.exceptions import DvcException
    from dvc.stage.exceptions import StageNotFound

    with repo:
        try:
            stages: dict[str, Any] = {}
            found: list[Any] = []
            for target in [*targets, *also]:
                try:
                    own = repo.stage.collect(target)
                except StageNotFound:
                    continue
                if target in targets:
                    found += own
                for stage in repo.stage.collect(target, with_deps=target in targets):
                    stages[stage.addressing] = stage
            downstream = {s.addressing: s for s in _downstream(repo.index.graph, found)}
            read = {name: _stage(repo, s) for name, s in stages.items()}
            paths = {p.path for s in read.values() for p in s.params} | set(params_files)
            return Pipeline(
                rev,
                tuple(targets),
                {s.name: s for s in read.values()},
                {s.name: _stage(repo, s) for key, s in downstream.items() if key not in stages},
                {path: _read_params_file(repo, path) for path in sorted(paths)},
            )
        except DvcException as err:
            raise _refused(doc, err) from None


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
    return _flatten(load_path(fs_path, repo.fs))


def _stage(repo: Any, stage: Any) -> PipelineStage:
    from dvc.dependency.param import ParamsDependency

    def rel(fs_path: str) -> str:
        return str(repo.fs.relpath(fs_path, repo.root_dir))

    params, deps = [], []
    for dep in stage.deps:
        if isinstance(dep, ParamsDependency):
            params.append(ParamsEntry(rel(dep.fs_path), tuple(dep.params), _flatten(dep.read_params())))
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
    old = read_pipeline(
        root,
        base,
        targets,
        also=tuple(sorted(set(first_new.stages) - set(first_old.stages))),
        params_files=tuple(sorted(first_new.files)),
    )
    new = read_pipeline(
        root,
        head,
        targets,
        also=tuple(sorted(set(first_old.stages) - set(first_new.stages))),
        params_files=tuple(sorted(first_old.files)),
    )
    return old, new


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
    from dvc.repo import Repo

    try:
        with contextlib.chdir(root), Repo(str(root)) as repo:  # targets resolve against the cwd (read_pipeline)
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
                sides.setdefault(file, {})[side] = _flatten(entry.get("data", {}))
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

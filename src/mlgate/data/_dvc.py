"""DVC-backed datasets: find each input's DVC hash, fetch it, load and check it.

A model version must point at exact data. For every file a spec names we look up the md5 DVC
recorded (``<file>.dvc`` or a stage output in ``dvc.lock``), fetch the file from the DVC remote
when the workspace lacks it, and refuse to continue when the workspace copy differs from what
git says DVC tracks: training on data nobody committed would break the lineage.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
import logging
import math
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from mlgate.config import (
    DATA_FORMATS,
    TEXT_MIN_ROWS,
    Document,
    ModelSpec,
    data_format_error,
    load,
    load_model_spec,
    model_names,
    spec_path,
)
from mlgate.exceptions import (
    S3_CREDENTIALS_HINT,
    DvcError,
    ExternalServiceError,
    InvalidInput,
    MlgateError,
    Problem,
    SpecError,
    excerpt,
    s3_refusal,
)


@dataclass(frozen=True)
class DataFile:
    """One input file of a model and the DVC record behind it."""

    role: str
    path: str
    md5: str
    tracked_by: str

    def as_dict(self) -> dict[str, str]:
        """The file as the verdict's ``data`` list and the training lineage record it."""
        return {"role": self.role, "path": self.path, "md5": self.md5, "tracked_by": self.tracked_by}


@dataclass
class ModelData:
    """Train and holdout frames (plus drift reference/current) and where they came from."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    reference: pd.DataFrame
    current: pd.DataFrame
    files: list[DataFile] = field(default_factory=list)

    @property
    def md5s(self) -> dict[str, str]:
        """Role → md5 of every input file."""
        return {f.role: f.md5 for f in self.files}


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    """md5 of a file's bytes, read in chunks: what DVC 3 records for a file output (``hash: md5``).

    The one md5 of mlgate: data records, scored input files and monitoring's re-read inputs all
    compare against what DVC (or scoring) wrote, so they must hash the same way.
    """
    digest = hashlib.md5(usedforsecurity=False)  # DVC's content address, not a security check
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def bytes_md5(raw: bytes) -> str:
    """md5 of bytes in memory, as :func:`file_md5` hashes a file (a DVC directory listing's ``.dir`` md5)."""
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def _out(outs: list[dict[str, Any]] | None, name: str) -> dict[str, Any] | None:
    for out in outs or []:
        if isinstance(out, dict) and out.get("path") == name and out.get("md5"):
            return out
    return None


def _yaml(path: Path, root: Path) -> dict[str, Any]:
    """A DVC file (``.dvc`` pointer, ``dvc.lock``, ``dvc.yaml``) through the governance reader; ``{}`` when absent."""
    if not path.is_file():
        return {}
    return load(path, path.relative_to(root).as_posix(), allow_empty=True).data


@dataclass(frozen=True)
class _Owner:
    """A DVC record that covers a file: its own output, or a directory output holding it."""

    tracked_by: str  # "<path>.dvc" or "dvc.lock:<stage>"
    out: dict[str, Any]  # the ``outs`` entry
    inner: str  # the file's path inside the directory output ("" when the output is the file)
    folder: str  # the directory output's path ("" when the output is the file)

    @property
    def hash_name(self) -> str:
        """DVC 3 outputs say ``hash: md5``; older (DVC 2) ones hash text files with dos2unix."""
        return "md5" if self.out.get("hash") == "md5" else "md5-dos2unix"


def _owners(rel: str, root: Path) -> list[_Owner]:
    """Every DVC record of ``root`` covering ``rel``, nearest first.

    ``rel.dvc``; the ``.dvc`` file of a folder above it (``dvc add data/dir``); a ``dvc.lock``
    stage output that is the file or a folder above it (``outs`` of ``dvc.yaml``).
    """
    parts = PurePosixPath(rel).parts
    folders = ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
    found = []
    for path in (rel, *folders):
        out = _out(_yaml(root / f"{path}.dvc", root).get("outs"), PurePosixPath(path).name)
        if out:
            inner = "" if path == rel else rel[len(path) + 1 :]
            found.append(_Owner(f"{path}.dvc", out, inner, "" if path == rel else path))
    stages = _yaml(root / "dvc.lock", root).get("stages") or {}
    for stage, body in stages.items() if isinstance(stages, dict) else ():
        for path in (rel, *folders):
            out = _out((body or {}).get("outs") if isinstance(body, dict) else None, path)
            if out:
                inner = "" if path == rel else rel[len(path) + 1 :]
                found.append(_Owner(f"dvc.lock:{stage}", out, inner, "" if path == rel else path))
    return found


_MANIFESTS: dict[tuple[str, str], dict[str, str]] = {}


def dir_manifest(dir_md5: str, hash_name: str, objects: Path) -> dict[str, str]:
    """Path inside the folder → md5 of each file of a DVC directory output (its ``.dir`` object).

    Read with DVC's own object databases (``dvc_data``), from the cache of the DVC repository
    ``objects`` or else from its default remote, and checked against ``dir_md5`` (the ``.dir``
    object is the md5 of its own bytes), so a remote cannot substitute another listing.
    """
    key = (str(objects.resolve()), dir_md5)
    if key in _MANIFESTS:
        return _MANIFESTS[key]
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc_data.hashfile.tree import Tree

    raw: bytes | None = None
    try:
        with Repo(str(objects)) as repo:
            cache = repo.cache.legacy if hash_name == "md5-dos2unix" else repo.cache.repo
            for odb in (cache, None):
                if odb is None:
                    odb = repo.cloud.get_remote_odb(None, "fetch", hash_name=hash_name)
                obj = odb.get(dir_md5)
                if obj.fs.exists(obj.path):
                    with obj.fs.open(obj.path, "rb") as handle:
                        raw = handle.read()
                    break
    except (DvcException, OSError) as err:
        raise DvcError(f"cannot read the listing of a DVC directory (md5 {dir_md5}): {err}") from err
    if raw is None:
        raise DvcError(
            f"the listing of a DVC directory (md5 {dir_md5}) is neither in the DVC cache nor on the remote",
            hint="run `dvc push` where the directory was added, then `dvc pull`",
        )
    if bytes_md5(raw) != dir_md5.removesuffix(".dir"):
        raise DvcError(
            f"the listing of a DVC directory does not match its md5 {dir_md5}: the cache or remote is corrupt"
        )
    tree = Tree.from_list(json.loads(raw), hash_name=hash_name)
    files = {"/".join(key): info.value for key, _meta, info in tree if info is not None and info.value}
    _MANIFESTS[key] = files
    return files


def dvc_record(rel: str, root: Path, objects: Path | None = None) -> tuple[str, str] | None:
    """(md5, tracked_by) DVC recorded for ``rel``, or None if DVC does not track it.

    ``root`` holds the records (``*.dvc``, ``dvc.lock``: the workspace, or a commit's tree); a
    file inside a tracked directory gets its md5 from the directory's listing, read from the
    DVC repository ``objects`` (default ``root``). ``tracked_by`` names the record: the ``.dvc``
    file or ``dvc.lock:<stage>``.
    """
    for owner in _owners(rel, root):
        md5 = str(owner.out["md5"])
        if not owner.inner:
            return md5, owner.tracked_by
        if md5.endswith(".dir"):
            inner = dir_manifest(md5, owner.hash_name, objects or root).get(owner.inner)
            if inner:
                return inner, owner.tracked_by
    return None


def _untracked_hint(rel: str, root: Path) -> str:
    """What makes DVC track ``rel``, in a form DVC accepts (``dvc add`` refuses files inside outputs)."""
    owners = _owners(rel, root)
    if owners:
        owner = owners[0]
        if owner.tracked_by.startswith("dvc.lock:"):
            stage = owner.tracked_by.removeprefix("dvc.lock:")
            return (
                f"it is inside {owner.folder}, an output of stage '{stage}': "
                f"run `dvc repro {stage}` and commit dvc.lock"
            )
        return (
            f"it is inside {owner.folder}, which DVC tracks ({owner.tracked_by}) without this file: "
            f"run `dvc add {owner.folder}` and commit {owner.tracked_by}"
        )
    declared = _declared_stage(rel, root)
    if declared:
        return f"it is an output of stage '{declared}' in dvc.yaml: run `dvc repro {declared}` and commit dvc.lock"
    return f"track it with `dvc add {rel}` and commit the .dvc file"


def _declared_stage(rel: str, root: Path) -> str | None:
    """The ``dvc.yaml`` stage whose ``outs`` are ``rel`` or a folder holding it, if any."""
    stages = _yaml(root / "dvc.yaml", root).get("stages") or {}
    for stage, body in stages.items() if isinstance(stages, dict) else ():
        for out in (body or {}).get("outs") or [] if isinstance(body, dict) else []:
            path = next(iter(out), "") if isinstance(out, dict) else str(out)
            if rel == path or rel.startswith(f"{path.rstrip('/')}/"):
                return str(stage)
    return None


def _changed_hint(rel: str, root: Path) -> str:
    """How to record, or undo, a workspace change of ``rel``: DVC's commands for its kind of record."""
    owner = next(iter(_owners(rel, root)), None)
    if owner and owner.tracked_by.startswith("dvc.lock:"):
        stage = owner.tracked_by.removeprefix("dvc.lock:")
        return (
            f"run `dvc repro {stage}` (or `dvc commit {stage}`) and commit dvc.lock, or `dvc checkout {rel}` to restore"
        )
    target = owner.folder if owner and owner.folder else rel
    return f"run `dvc add {target}` and commit to record the change, or `dvc checkout {target}` to restore"


class _Failures(logging.Handler):
    """Collects the exceptions DVC logs while it works (it logs a remote's refusal and raises a summary)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


def dvc_pull(rel: str, root: Path) -> None:
    """Fetch ``rel`` from the repo's default DVC remote into the workspace.

    DVC logs why a remote failed (S3's refusal of a key, as botocore raised it) and raises only
    "N files failed to download": the logged errors are read too, so that a refused key says which
    variables to check (exit 3), never their values.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    failures = _Failures()
    loggers = [logging.getLogger(name) for name in ("dvc", "dvc_data", "dvc_objects")]
    for logger in loggers:
        logger.addHandler(failures)
    try:
        with Repo(str(root)) as repo:
            repo.pull(targets=[str(root / rel)])
    except DvcException as err:
        refused = next(filter(None, (s3_refusal(e) for e in [err, *failures.errors])), "")
        if refused:
            raise DvcError(f"dvc pull {rel} failed: {refused}", hint=S3_CREDENTIALS_HINT) from err
        raise DvcError(f"dvc pull {rel} failed: {err}") from err
    finally:
        for logger in loggers:
            logger.removeHandler(failures)


def stage_upstream(root: Path, name: str) -> tuple[str, ...]:
    """The pipeline stages of ``root``'s ``dvc.yaml`` that stage ``name`` depends on, read by DVC itself.

    Its ancestors in DVC's stage graph (outputs of one are deps of the next), by the name ``dvc
    repro`` takes; ``.dvc`` files (data sources) are left out. Raises ``LookupError`` saying why
    when DVC finds no single pipeline stage of that name (``train`` of a ``foreach`` names several:
    ``train@credit`` names one) or cannot read ``dvc.yaml``.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    top = root / "dvc.yaml"
    if not top.is_file():
        raise LookupError("this repository has no dvc.yaml")

    def named_as(stage: Any) -> str:  # as `dvc repro` run from the repo root takes it (DVC's own is cwd-relative)
        path = Path(stage.path).resolve()
        return stage.name if path == top.resolve() else f"{path.relative_to(root.resolve()).as_posix()}:{stage.name}"

    target = f"{top}:{name}"  # a bare name would be looked up in the dvc.yaml of the current directory
    try:
        with Repo(str(root)) as repo:
            named = repo.stage.collect(target)
            if len(named) != 1 or not isinstance(named[0], PipelineStage):
                found = ", ".join(named_as(s) for s in named) or "none"
                raise LookupError(f"'{name}' must name one stage of dvc.yaml; it names {len(named)}: {found}")
            ancestors = repo.stage.collect(target, with_deps=True)
            own = named_as(named[0])
            return tuple(named_as(s) for s in ancestors if isinstance(s, PipelineStage) and named_as(s) != own)
    except DvcException as err:
        raise LookupError(str(err).strip() or type(err).__name__) from None


@dataclass(frozen=True)
class StageLock:
    """What ``dvc.lock`` records of one stage after it ran: its command, deps, params and outs."""

    stage: str
    cmd: str
    deps: dict[str, str]  # path -> md5 (a directory's ends in .dir)
    params: dict[str, dict[str, Any]]  # params file -> key -> value
    outs: dict[str, str]  # path -> md5

    def as_dict(self) -> dict[str, Any]:
        """The record as the version's lineage (``lineage.json``, ``mlgate train --json``) holds it."""
        return {"stage": self.stage, "cmd": self.cmd, "deps": self.deps, "params": self.params, "outs": self.outs}


def stage_lock(root: Path, name: str) -> StageLock | None:
    """Stage ``name``'s entry of ``root``'s ``dvc.lock`` (``None`` when it has none)."""
    entry = (_yaml(root / "dvc.lock", root).get("stages") or {}).get(name)
    if not isinstance(entry, dict):
        return None

    def hashes(items: Any) -> dict[str, str]:
        return {
            str(item["path"]): str(item.get("md5") or item.get("etag") or item.get("checksum") or "")
            for item in items or []
            if isinstance(item, dict) and "path" in item
        }

    cmd = entry.get("cmd")
    params = entry.get("params") or {}
    return StageLock(
        stage=name,
        cmd=" && ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or ""),
        deps=hashes(entry.get("deps")),
        params={str(f): dict(v) for f, v in params.items() if isinstance(v, dict)},
        outs=hashes(entry.get("outs")),
    )


def _dvc(root: Path, args: list[str], error: type[MlgateError], hint: str = "") -> None:
    """``dvc ARGS`` in ``root``, in a child process as a user would run it; a failure raises ``error``."""
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        reason = said[-1] if said else f"exit {done.returncode}"
        raise error(f"`dvc {' '.join(args)}` failed in {root}: {reason}", hint=hint)


def dvc_init(root: Path, *, subdir: bool = False) -> None:
    """``dvc init`` in ``root`` (``--subdir`` when ``root`` is below the git repository's top)."""
    _dvc(root, ["init", "-q", *(["--subdir"] if subdir else [])], ExternalServiceError)


def dvc_add(root: Path, rel: str, hint: str = "") -> None:
    """``dvc add`` the file ``rel``: DVC tracks it and writes ``rel.dvc`` (a refusal is bad input)."""
    _dvc(root, ["add", "-q", rel], InvalidInput, hint)


def dvc_push(root: Path, targets: list[str]) -> None:
    """``dvc push TARGETS`` to the default remote (the data a retraining pull request's job pulls).

    A remote that refuses or does not answer is an outage (exit 3): the commit naming the data must
    not reach a pull request whose job cannot fetch it.
    """
    if targets:
        _dvc(root, ["push", "-q", *targets], DvcError)


def share_workspace(source: Path, scratch: Path) -> None:
    """Let the DVC project in ``scratch`` (a scratch checkout of ``source``'s repository) use ``source``'s setup.

    Its cache (so data ``source`` holds is checked out without a download, and data made there is
    there for ``dvc push``), its local configuration (remote credentials), and its remotes at the
    paths ``source`` resolves (a relative ``url`` in ``.dvc/config`` is relative to that file, and a
    scratch checkout sits elsewhere). Written to the scratch checkout's ``.dvc/config.local`` only.
    """
    from dvc.repo import Repo

    local = source / ".dvc" / "config.local"
    if local.is_file():
        shutil.copyfile(local, scratch / ".dvc" / "config.local")
    with Repo(str(source)) as repo:
        cache = repo.cache.local_cache_dir
        remotes = {name: str(conf.get("url", "")) for name, conf in (repo.config.get("remote") or {}).items()}
    _dvc(scratch, ["cache", "dir", "--local", str(cache)], DvcError)
    for name, url in remotes.items():
        if url and "://" not in url:  # a local folder: the path as ``source`` resolved it
            _dvc(scratch, ["remote", "modify", "--local", name, "url", url], DvcError)


def dvc_checkout_all(root: Path) -> str:
    """``dvc checkout``: the data every pointer records, from the cache; '' or what could not be checked out."""
    try:
        _dvc(root, ["checkout", "-q"], DvcError)
    except DvcError as err:  # data missing from the cache: the command that needs it says so itself
        return err.message
    return ""


def pull_model_data(root: Path, spec: ModelSpec, spec_doc: Document) -> list[dict[str, str]]:
    """Fetch every input ``spec`` names that the workspace lacks, and check each against git.

    What a CI job runs before training. A file already present is never overwritten: when it
    differs from what DVC tracks, this stops with the hint to run ``dvc checkout``. Returns,
    per file, its DVC record and what was done: ``pulled`` or ``present``.
    """
    done: dict[str, dict[str, str]] = {}
    for role, rel in spec.input_files().items():
        if rel not in done:
            present = (root / rel).exists()
            done[rel] = resolve_file(role, rel, root, spec_doc, spec.file_key(role)).as_dict() | {
                "action": "present" if present else "pulled"
            }
    return list(done.values())


def pull(
    root: Path,
    models: Sequence[str] = (),
    progress: Callable[[int, int, str], None] = lambda _i, _n, _m: None,
) -> dict[str, list[dict[str, str]]]:
    """Fetch from the DVC remote the data files ``models`` need (every model when none is named).

    Per model, what :func:`pull_model_data` did for each file; ``progress(index, total, text)``
    before each model. An unknown model is bad input, and nothing is fetched.
    """
    names = list(models) or model_names(root)
    unknown = [n for n in names if not spec_path(root, n).is_file()]
    if unknown:
        raise InvalidInput(
            f"no spec for {', '.join(unknown)} (models/<name>/model.yaml)",
            hint=f"known models: {', '.join(model_names(root)) or 'none'}",
        )
    result: dict[str, list[dict[str, str]]] = {}
    for index, name in enumerate(names, start=1):
        progress(index, len(names), f"data for {name}")
        spec, doc = load_model_spec(spec_path(root, name), root)
        result[name] = pull_model_data(root, spec, doc)
    return result


def resolve_file(role: str, rel: str, root: Path, spec_doc: Document, loc: tuple | None = None) -> DataFile:
    """Locate one input, pulling it from the DVC remote if needed, and check its hash.

    ``loc`` is the spec key naming the file (default ``data.<role>``).
    """
    loc = loc or ("data", role)
    path = root / rel
    if not path.resolve().is_relative_to(root.resolve()):  # a symlink out of the repo
        message = f"data file {rel} is a link to a file outside this repository: track the file itself"
        raise SpecError([spec_doc.problem(loc, message)])
    if path.is_dir():  # a DVC-tracked directory of Parquet files: Spark reads it (resolve_dataset)
        message = f"{rel} is a directory of Parquet files: gate it with --engine spark (or data.engine: spark)"
        raise SpecError([spec_doc.problem(loc, message)])
    record = dvc_record(rel, root)
    if record is None:
        problem = "is not tracked by DVC" if path.exists() else "does not exist"
        raise SpecError([spec_doc.problem(loc, f"data file {rel} {problem}: {_untracked_hint(rel, root)}")])
    md5, tracked_by = record
    if not path.exists():
        dvc_pull(rel, root)
    actual = file_md5(path)
    if actual != md5:
        message = f"{rel} differs from what {tracked_by} records (md5 {actual} vs {md5}): {_changed_hint(rel, root)}"
        raise SpecError([spec_doc.problem(loc, message)])
    return DataFile(role=role, path=rel, md5=md5, tracked_by=tracked_by)


def _ragged_rows(path: Path, display: str, delimiter: str = ",", columns: Sequence[str] | None = None) -> list[Problem]:
    """The first row whose field count differs from the header's (pandas pads short rows silently).

    With ``columns`` (a header-less file, ``data.columns``) every row, the first included, must
    have as many fields as ``columns`` names. Counted with the csv module (pandas' default quoting
    rules; about 0.6 s per million rows); a file it cannot read is left to pandas, which says why.
    """
    ragged: list[tuple[int, int]] = []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            if columns is None:
                header = next(reader, None)
                if header is None:
                    return []
                width = len(header)
            else:
                width = len(columns)
            start = reader.line_num + 1
            for row in reader:
                if row and len(row) != width:  # an empty row is a blank line: pandas skips it
                    ragged.append((start, len(row)))
                start = reader.line_num + 1
    except (csv.Error, UnicodeDecodeError):
        return []
    if not ragged:
        return []
    line, fields = ragged[0]
    separator = "a tab" if delimiter == "\t" else "a comma"
    fix = f"quote values that contain {separator}" if fields > width else "give every column a value, empty if unknown"
    if columns is not None:
        message = (
            f"row has {fields} fields but data.columns names {width} ({', '.join(columns)}): name every column "
            f"of the file in data.columns, in file order, or {fix} ({_rows(len(ragged))} like this)"
        )
    else:
        message = f"row has {fields} fields but the header has {width}: {fix} ({_rows(len(ragged))} like this)"
    return [Problem(display, line, 0, ("data", "columns") if columns is not None else (), message)]


def data_format(display: str) -> str:
    """The format of a data file by its extension (``DATA_FORMATS``); another extension is a located problem."""
    error = data_format_error(display)
    if error:
        raise SpecError([Problem(display, 0, 0, (), error)])
    return DATA_FORMATS[PurePosixPath(display).suffix.lower()]


def read_table(
    path: Path, display: str, *, allow_no_rows: bool = False, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Read a data input by the extension of ``display`` (its repository path): CSV, TSV or Parquet.

    ``path`` is where the bytes are (the workspace, or a copy fetched from DVC at a commit, whose
    name may differ); ``display`` names the file in problems. An empty or unreadable file, or a
    row of the wrong width, is a located problem; so is a header without rows, unless
    ``allow_no_rows`` (an outcomes file before the first outcome arrived). ``columns`` (a spec's
    ``data.columns``) names the fields of a header-less CSV/TSV file; a Parquet file keeps its own.
    """
    kind = data_format(display)
    if kind == "parquet":
        return _read_parquet(path, display, allow_no_rows)
    delimiter = "\t" if kind == "tsv" else ","
    ragged = _ragged_rows(path, display, delimiter, columns)
    if ragged:
        raise SpecError(ragged)
    name = kind.upper()
    try:
        if columns is None:
            frame = pd.read_csv(path, sep=delimiter, low_memory=False)
        else:
            frame = pd.read_csv(path, sep=delimiter, low_memory=False, header=None, names=list(columns))
    except pd.errors.EmptyDataError:
        expected = "rows" if columns is not None else f"a {name} header"
        raise SpecError([Problem(display, 1, 0, (), f"file is empty: expected {expected}")]) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise SpecError([Problem(display, 0, 0, (), f"not a readable {name}: {err}")]) from None
    if columns is not None and len(frame) and [str(v) for v in frame.iloc[0]] == list(columns):
        message = "the first row is a header naming the columns: drop data.columns from the spec (or the header row)"
        raise SpecError([Problem(display, 1, 0, ("data", "columns"), message)])
    if frame.empty and not allow_no_rows:
        where = (1, "no data rows") if columns is not None else (2, "no data rows below the header")
        raise SpecError([Problem(display, where[0], 0, (), where[1])])
    return frame


def _read_parquet(path: Path, display: str, allow_no_rows: bool = False) -> pd.DataFrame:
    """A Parquet input as pandas reads it (pyarrow); a file pyarrow refuses is a problem naming it."""
    import pyarrow as pa

    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (pa.ArrowException, OSError, ValueError) as err:
        message = f"not a readable Parquet file: {err} (write it with pandas' to_parquet or pyarrow)"
        raise SpecError([Problem(display, 0, 0, (), message)]) from None
    if frame.empty and not allow_no_rows:
        raise SpecError([Problem(display, 0, 0, (), "the Parquet file holds no rows")])
    if not all(isinstance(c, str) for c in frame.columns):
        raise SpecError([Problem(display, 0, 0, (), "column names must be strings to be named in a spec")])
    return frame.reset_index(drop=True)


def _missing_column(spec_doc: Document, loc: tuple, column: str, frame: pd.DataFrame, shown: str) -> Problem:
    close = difflib.get_close_matches(column, list(frame.columns), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (columns: {', '.join(frame.columns)})"
    return spec_doc.problem(loc, f"column '{column}' not found in {shown}{hint}")


def _target_loc(spec: ModelSpec) -> tuple:
    """Where the spec names the outcome: ``target``, or a predictions spec's ``label_column``."""
    return ("predictions", "label_column") if spec.is_predictions else ("target",)


def _spec_columns(spec: ModelSpec) -> list[tuple[tuple, str]]:
    """(spec location, column) of every column the spec needs."""
    cols: list[tuple[tuple, str]] = [(_target_loc(spec), spec.target_column)]
    for kind in ("numeric", "categorical", "text"):
        for i, name in enumerate(getattr(spec.features, kind)):
            cols.append((("features", kind, i), name))
    for i, sensitive in enumerate(spec.sensitive_features):
        cols.append((("sensitive_features", i, "name"), sensitive.name))
    return cols


def _numeric_problems(frame: pd.DataFrame, columns: list[str], shown: str) -> list[Problem]:
    """Cells of numeric columns that are not numbers, or not finite ones (``inf``, ``1e999``)."""
    problems = []
    for column in columns:
        if column not in frame:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            first = int(bad.to_numpy().argmax())
            line = first + 2  # header is line 1
            message = (
                f"non-numeric value {excerpt(frame[column].iloc[first])} in a numeric column "
                f"({_rows(int(bad.sum()))} like this)"
            )
            problems.append(Problem(shown, line, 0, (column,), message))
            continue
        infinite = np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan))
        if infinite.any():
            first = int(infinite.argmax())
            message = (
                f"infinite value '{values.iloc[first]}' in a numeric column ({_rows(int(infinite.sum()))} like this)"
            )
            problems.append(Problem(shown, first + 2, 0, (column,), message))
    return problems


def _empty_columns(frame: pd.DataFrame, columns: list[str], shown: str) -> list[Problem]:
    """Feature columns without a single value: the imputer would drop them without a word."""
    message = "the column is empty: no row has a value, so it cannot be a feature"
    return [
        Problem(shown, 1, 0, (column,), message)
        for column in columns
        if column in frame and len(frame) and frame[column].isna().all()
    ]


def _unique_categories(frame: pd.DataFrame, spec: ModelSpec, spec_doc: Document, shown: str) -> list[Problem]:
    """Categorical columns with a distinct value in every row: free text or an id, never a category.

    One-hot encoding such a column gives each holdout row a category no training row had, so
    the model learns nothing from it and says nothing about it (a review column trains to AUC 0.5).
    """
    problems = []
    for i, column in enumerate(spec.inputs.categorical):
        if column not in frame:
            continue
        values = frame[column].dropna()
        if len(values) >= TEXT_MIN_ROWS and values.nunique() == len(values):
            message = (
                f"column '{column}' of {shown} has a different value in each of its {len(values)} rows, so no "
                "category repeats: declare it under features.text if it is free text, or drop it if it is an id"
            )
            problems.append(spec_doc.problem(("features", "categorical", i), message))
    return problems


def check_frame(frame: pd.DataFrame, spec: ModelSpec, spec_doc: Document, shown: str) -> None:
    """Columns the spec names exist, numeric ones are numeric, the target is usable."""
    problems = [
        _missing_column(spec_doc, loc, col, frame, shown)
        for loc, col in _spec_columns(spec)
        if col not in frame.columns
    ]
    numeric = [*spec.inputs.numeric, *(s.name for s in spec.sensitive_features if s.bins)]
    if spec.task == "regression":
        numeric.append(spec.target_column)
    problems += _numeric_problems(frame, numeric, shown)
    binned = [s.name for s in spec.sensitive_features if s.bins and s.name not in spec.inputs.all]
    problems += _empty_columns(frame, [*spec.inputs.all, *binned], shown)
    problems += _unique_categories(frame, spec, spec_doc, shown)
    if spec.target_column in frame.columns:
        target = frame[spec.target_column]
        if target.isna().any():
            line = int(target.isna().to_numpy().argmax()) + 2
            problems.append(Problem(shown, line, 0, (spec.target_column,), "the target is empty here"))
        elif spec.task == "classification" and target.nunique() < 2:
            message = (
                f"the target '{spec.target_column}' has one class ({excerpt(target.iloc[:1].tolist()[0])}) in {shown}: "
                "a classifier needs at least two"
            )
            problems.append(spec_doc.problem(_target_loc(spec), message))
        elif spec.positive_label is not None and spec.positive_label not in set(target.unique()):
            labels = ", ".join(excerpt(v) for v in sorted(target.unique().tolist(), key=str)[:20])
            message = f"positive_label {spec.positive_label!r} is not a class of the target ({labels})"
            problems.append(spec_doc.problem(("positive_label",), message))
    if problems:
        raise SpecError(problems)


def prepare_columns(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Give every column the type the spec declares (categorical columns as strings).

    Numeric columns keep integer dtypes when the file holds integers: the model signature is
    inferred from these frames, and MLflow refuses to score int64 input against a double
    column ("can not safely convert"), so casting here would reject the very file we trained on.
    The result is a new frame; a column it leaves as it was shares its memory with ``frame`` (every
    caller passes a frame it just read, and a million-row copy costs half a second).
    """
    out = frame.copy(deep=False)
    for column in spec.inputs.numeric:
        out[column] = pd.to_numeric(out[column])
    for column in [*spec.inputs.categorical, *spec.inputs.text]:  # missing text stays None: integrity counts it
        out[column] = _as_strings(out[column])
    return out


def _as_strings(values: pd.Series) -> pd.Series:
    """``values`` as Python strings, missing values as None (``str(v)`` of each present value).

    The common columns skip the per-value Python call: strings are already themselves, and an
    integer or boolean column has one text per distinct value (converted once per value, then
    taken). Any other column (floats, where -0.0 and 0.0 are equal but print apart; mixed
    objects) is converted value by value.
    """
    present = values.notna()
    # pandas-stubs has no overload for where(..., None); pandas puts None where the mask is False
    objects = values.astype("object").where(present, None)  # type: ignore[call-overload]
    dtype = values.dtype
    if dtype == object and pd.api.types.infer_dtype(objects, skipna=True) in ("string", "empty"):
        if all(type(v) is str for v in pd.unique(objects[present])):  # not a str subclass: str(v) is v
            return objects
    elif (
        (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
        and dtype != object
        and not isinstance(dtype, pd.CategoricalDtype)
    ):
        codes, uniques = pd.factorize(objects, use_na_sentinel=True)
        texts = np.array([str(v) for v in uniques] + [None], dtype=object)
        return pd.Series(texts[codes], index=values.index, name=values.name)
    return objects.map(lambda v: v if v is None else str(v))


def split_settings(spec: ModelSpec) -> dict[str, Any]:
    """The split a spec asks for (defaults made explicit): what decides which rows are held out."""
    plan = spec.dataset.split
    if plan is None:
        return {"holdout_fraction": 0.25, "seed": 42, "stratify": True}
    return {"holdout_fraction": plan.holdout_fraction, "seed": plan.seed, "stratify": plan.stratify}


def check_split(frame: pd.DataFrame, spec: ModelSpec, spec_doc: Document, shown: str) -> None:
    """The split leaves rows on both sides: enough for one of each class when stratified.

    Counted as scikit-learn does (holdout ``ceil(fraction * rows)``), so a fraction such as
    1e-300 or 0.999999 is reported here, at the spec, instead of failing inside train_test_split.
    """
    chosen = split_settings(spec)
    fraction, rows = chosen["holdout_fraction"], len(frame)
    held = math.ceil(fraction * rows)
    kept = rows - held
    need, why = 1, "one row"
    if chosen["stratify"] and spec.task == "classification":
        # said here, not in scikit-learn's words (which change between its versions)
        counts = frame[spec.target].value_counts()
        alone = sorted(counts[counts < 2].index.tolist(), key=str)  # Python values: a numpy 2 repr says np.int64(2)
        if alone:
            message = (
                f"cannot split {shown} into train and holdout: class(es) {', '.join(map(repr, alone))} of "
                f"'{spec.target}' have a single row, and stratify: true needs each class on both sides "
                "(add rows of that class, or set stratify: false)"
            )
            raise SpecError([spec_doc.problem(("data", "split"), message)])
        classes = int(frame[spec.target].nunique())
        need, why = classes, f"one row of each of the {classes} classes of '{spec.target}' (stratify: true)"
    if min(kept, held) < need:
        message = (
            f"holdout_fraction {fraction:g} of the {rows} rows of {shown} leaves {kept} to train on "
            f"and {held} to hold out: each side needs at least {why}"
        )
        raise SpecError([spec_doc.problem(("data", "split", "holdout_fraction"), message)])


def split_positions(
    frame: pd.DataFrame, spec: ModelSpec, settings: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions (train, holdout) of the seeded split of one file, stratified by the target when asked.

    The one place the split is decided: :func:`split` takes these rows, and a training command's
    ``MLGATE_DATA_TRAIN`` file (:func:`write_rows`) holds exactly the train positions. Only the
    row count and the target column matter, so the raw and the prepared frame split alike.
    """
    from sklearn.model_selection import train_test_split

    chosen = settings or split_settings(spec)
    strata = frame[spec.target] if chosen["stratify"] and spec.task == "classification" else None
    train, holdout = train_test_split(
        np.arange(len(frame)), test_size=chosen["holdout_fraction"], random_state=chosen["seed"], stratify=strata
    )
    return train, holdout


def split(
    frame: pd.DataFrame, spec: ModelSpec, settings: dict[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded train/holdout split of one file (:func:`split_positions`), in the split's row order."""
    train, holdout = split_positions(frame, spec, settings)
    return frame.iloc[train].reset_index(drop=True), frame.iloc[holdout].reset_index(drop=True)


def write_rows(
    source: Path, display: str, positions: np.ndarray, dest: Path, *, columns: Sequence[str] | None = None
) -> None:
    """Write the rows at ``positions`` of the data file ``source`` to ``dest``, in the same format.

    CSV and TSV fields are read and written as text (no type inference, no NA conversion), so
    each value reaches the reader as the file spells it; Parquet keeps its column types. A
    header-less file (``columns``, the spec's ``data.columns``) is written header-less.
    """
    kind = data_format(display)
    if kind == "parquet":
        pd.read_parquet(source, engine="pyarrow").iloc[positions].to_parquet(dest, engine="pyarrow", index=False)
        return
    delimiter = "\t" if kind == "tsv" else ","
    frame = pd.read_csv(
        source,
        sep=delimiter,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        low_memory=False,
        header=None if columns is not None else "infer",
    )
    frame.iloc[positions].to_csv(dest, sep=delimiter, index=False, header=columns is None)


def row_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A hash per row over ``columns``: how rows are recognised across two loads of the data."""
    return pd.util.hash_pandas_object(frame[columns].astype(str), index=False)


def fetch_at(rel: str, root: Path, ref: str, md5: str, scratch: Path) -> Path:
    """A local copy of ``rel`` as DVC tracked it at commit ``ref``, checked against ``md5``.

    The workspace copy when it has that md5 (the common case: the PR did not touch the data);
    otherwise DVC streams the content of that commit's pointer from the cache or the remote
    (``dvc.api.open``), so judging never depends on what a pull request put in the workspace.
    """
    local = root / rel
    if local.is_file() and file_md5(local) == md5:
        return local
    import dvc.api
    from dvc.exceptions import DvcException

    target = scratch / f"{md5}-{Path(rel).name}"
    if not target.is_file():
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            with dvc.api.open(rel, repo=str(root), rev=ref, mode="rb") as src, target.open("wb") as out:
                while block := src.read(1 << 20):
                    out.write(block)
        except (DvcException, OSError) as err:
            target.unlink(missing_ok=True)
            raise DvcError(f"cannot read {rel} as of {ref[:12]} from DVC: {err}") from err
    if file_md5(target) != md5:
        raise DvcError(f"{rel} as of {ref[:12]} does not match the md5 git records ({md5})")
    return target


@dataclass(frozen=True)
class DataAt:
    """Where the data a spec names comes from: DVC records of ``records_root`` at commit ``ref``.

    ``None`` everywhere means the workspace (its pointers, its files): how ``train`` reads.
    """

    records_root: Path
    ref: str
    scratch: Path


def _resolve(
    role: str, rel: str, root: Path, spec_doc: Document, at: DataAt | None, loc: tuple | None = None
) -> tuple[DataFile, Path]:
    if at is None:
        found = resolve_file(role, rel, root, spec_doc, loc)
        return found, root / found.path
    record = dvc_record(rel, at.records_root, objects=root)
    if record is None:
        message = f"data file {rel} is not tracked by DVC at the base commit {at.ref[:12]}"
        raise SpecError([spec_doc.problem(loc or ("data", role), message)])
    md5, tracked_by = record
    return DataFile(role=role, path=rel, md5=md5, tracked_by=tracked_by), fetch_at(rel, root, at.ref, md5, at.scratch)


PANDAS_MAX_ROWS = 5_000_000
"""Rows of Parquet input (all files of a spec together) above which the in-memory (pandas) gate refuses.

Measured by benchmarks/scale.py on credit-like data: the pandas gate's process tree peaks at about
1 KB per input row (1,054 MB for 1.05M rows: the frames, the model input, the scores, the sorts
of drift), so 5M rows take ~5 GB, what a 7 GB CI runner still holds; beyond, it would swap (or be
killed) rather than fail clearly. ``MLGATE_PANDAS_MAX_ROWS`` sets another limit (0: none); above
it, ``--engine spark`` measures the same rules from aggregates."""


def _refuse_too_large(resolved: list[tuple[DataFile, Path]]) -> None:
    """Exit 2 before loading when the Parquet inputs hold more rows than the pandas engine takes."""
    import os

    raw = os.environ.get("MLGATE_PANDAS_MAX_ROWS", "").strip()
    try:
        limit = int(raw) if raw else PANDAS_MAX_ROWS
    except ValueError:
        raise InvalidInput(f"MLGATE_PANDAS_MAX_ROWS={raw!r}: expected a whole number of rows (0: no limit)") from None
    if limit <= 0:
        return
    import pyarrow.parquet as pq

    rows = 0
    for data_file, local in resolved:
        if data_format(data_file.path) == "parquet":
            with pq.ParquetFile(local) as reader:
                rows += reader.metadata.num_rows
    if rows > limit:
        raise InvalidInput(
            f"the evaluation data holds {rows:,} rows, more than the pandas engine loads into memory ({limit:,}, "
            "MLGATE_PANDAS_MAX_ROWS)",
            hint="run with --engine spark (or data.engine: spark in the spec): the same rules from Spark aggregations",
        )


def load_model_data(
    spec: ModelSpec, spec_doc: Document, root: Path, at: DataAt | None = None, *, gate: bool = False
) -> ModelData:
    """Resolve, verify, load and check every input of ``spec`` (from the base commit with ``at``).

    ``gate``: for the pandas gate, Parquet inputs of more than :data:`PANDAS_MAX_ROWS` rows together
    are refused before anything is read (its hint: ``--engine spark``).
    """
    resolved = [_resolve(role, rel, root, spec_doc, at) for role, rel in spec.dataset.files().items()]
    if gate:
        _refuse_too_large(resolved)
    files = [f for f, _ in resolved]
    frames = {}
    for data_file, local in resolved:
        frame = read_table(local, data_file.path, columns=spec.dataset.columns)
        check_frame(frame, spec, spec_doc, data_file.path)
        frames[data_file.role] = prepare_columns(frame, spec)
    if "path" in frames:
        shown = spec.dataset.path or ""
        check_split(frames["path"], spec, spec_doc, shown)
        try:
            train, holdout = split(frames["path"], spec)
        except ValueError as err:  # e.g. a class with a single row cannot be stratified
            message = f"cannot split {shown} into train and holdout: {err}"
            raise SpecError([spec_doc.problem(("data", "split"), message)]) from None
    else:
        train, holdout = frames["train"], frames["holdout"]
    if spec.task == "classification" and train[spec.target].nunique() < 2:
        message = "the training split holds one class only: use a larger holdout_fraction or more data"
        raise SpecError([spec_doc.problem(("data",), message)])
    return ModelData(
        train=train,
        holdout=holdout,
        reference=frames.get("reference", train),
        current=frames.get("current", holdout),
        files=files,
    )


def resolve_dataset(
    role: str, rel: str, root: Path, spec_doc: Document, at: DataAt | None = None
) -> tuple[DataFile, list[Path]]:
    """A Parquet dataset the Spark engine reads in place: a DVC-tracked file, or a DVC-tracked directory of them.

    A file is resolved (and, with ``at``, fetched) as :func:`load_model_data` resolves it. A
    directory must be a DVC output (its ``.dvc`` file or a ``dvc.lock`` stage; with ``at``: the
    record of that commit): every file of its listing is checked against the md5 the listing
    records, and a file the listing does not name is refused (Spark would read it). The files
    returned are the ``.parquet`` files, sorted. Nothing is loaded into memory.
    """
    loc = ("data", role)
    if not (root / rel).is_dir():
        data_file, local = _resolve(role, rel, root, spec_doc, at)
        if data_format(rel) != "parquet":
            message = f"{rel} is not Parquet: the Spark engine reads Parquet datasets (a file or a directory of them)"
            raise SpecError([spec_doc.problem(loc, message)])
        return data_file, [local]
    records = at.records_root if at is not None else root
    owner = next((o for o in _owners(rel, records) if not o.inner and str(o.out["md5"]).endswith(".dir")), None)
    if owner is None:
        where = f" at the base commit {at.ref[:12]}" if at is not None else ""
        message = f"data directory {rel} is not tracked by DVC{where}: {_untracked_hint(rel, root)}"
        raise SpecError([spec_doc.problem(loc, message)])
    md5 = str(owner.out["md5"])
    listing = dir_manifest(md5, owner.hash_name, root)
    folder = root / rel
    present = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    missing = sorted(set(listing) - set(present))
    if missing:
        dvc_pull(rel, root)
        present = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    problems = [f"{name} is missing" for name in sorted(set(listing) - set(present))]
    problems += [f"{name} is not in the DVC listing" for name in sorted(set(present) - set(listing))]
    changed = [name for name in sorted(listing) if name in present and file_md5(present[name]) != listing[name]]
    problems += [f"{name} differs from the listing" for name in changed]
    if problems:
        message = f"data directory {rel} differs from what {owner.tracked_by} records: {'; '.join(problems[:5])}"
        raise SpecError([spec_doc.problem(loc, message + f" ({_changed_hint(rel, root)})")])
    parquet = sorted(p for name, p in present.items() if name.endswith((".parquet", ".pq")))
    if not parquet:
        raise SpecError([spec_doc.problem(loc, f"data directory {rel} holds no Parquet file (*.parquet)")])
    return DataFile(role=role, path=rel, md5=md5, tracked_by=owner.tracked_by), parquet


PREDICTIONS_ROLE = "predictions"


def _predictions_problems(frame: pd.DataFrame, spec: ModelSpec, spec_doc: Document, shown: str) -> list[Problem]:
    """Every score is a number (on any scale) cut inside its range; the decided labels are classes of the outcome."""
    predictions = spec.predictions
    assert predictions is not None
    column = predictions.output_column
    if column not in frame.columns or spec.target not in frame.columns:
        return []
    labels = frame[spec.target]
    if predictions.score_column is not None:
        problems = _numeric_problems(frame, [column], shown)
        if problems:
            return problems
        values = pd.to_numeric(frame[column])
        if values.isna().any():
            first = int(values.isna().to_numpy().argmax())
            message = f"no score here ({_rows(int(values.isna().sum()))} like this): every row needs its score"
            return [Problem(shown, first + 2, 0, (column,), message)]
        if labels.nunique() != 2:
            message = (
                f"a score column needs a binary outcome; '{spec.target}' has {labels.nunique()} classes in {shown}"
            )
            return [spec_doc.problem(("predictions", "label_column"), message)]
        low, high, threshold = float(values.min()), float(values.max()), float(predictions.threshold or 0.0)
        if not low <= threshold <= high:
            # a cut outside the scores decides every row alike: a scale mistake (0.5 on deciles, 5 on probabilities)
            side = "at or above" if threshold < low else "below"
            message = (
                f"threshold {threshold:g} is outside the scores of '{column}' in {shown} ({low:g} to {high:g}): "
                f"every row would be {side} it; give the threshold in the score's own units"
            )
            return [spec_doc.problem(("predictions", "threshold"), message)]
        return []
    decided = frame[column]
    if decided.isna().any():
        line = int(decided.isna().to_numpy().argmax()) + 2
        return [Problem(shown, line, 0, (column,), "no decided label here")]
    unknown = sorted(set(decided.unique().tolist()) - set(labels.unique().tolist()), key=str)
    if unknown:
        known = ", ".join(excerpt(v) for v in sorted(labels.unique().tolist(), key=str)[:20])
        message = (
            f"decided labels {', '.join(excerpt(v) for v in unknown[:5])} are not classes of "
            f"'{spec.target}' ({known}) in {shown}"
        )
        return [spec_doc.problem(("predictions", "prediction_column"), message)]
    return []


def load_predictions_data(spec: ModelSpec, spec_doc: Document, root: Path, at: DataAt | None = None) -> ModelData:
    """The predictions file of a predictions spec as evaluation data (from the base commit with ``at``).

    The file is resolved and md5-checked like any data file (role ``predictions``, located at
    ``predictions.path``) and is the holdout and the drift's current data; ``data.reference``,
    when given, is the drift reference. There is no training data: ``train`` is empty (and
    ``reference`` too when not given; the gates say what they cannot measure without it).
    """
    predictions = spec.predictions
    assert predictions is not None
    loc = spec.file_key(PREDICTIONS_ROLE)
    found, local = _resolve(PREDICTIONS_ROLE, predictions.path, root, spec_doc, at, loc)
    frame = read_table(local, found.path)
    check_frame(frame, spec, spec_doc, found.path)
    problems = []
    if predictions.output_column not in frame.columns:
        key = "score_column" if predictions.score_column else "prediction_column"
        problems.append(_missing_column(spec_doc, ("predictions", key), predictions.output_column, frame, found.path))
    problems += _predictions_problems(frame, spec, spec_doc, found.path)
    if problems:
        raise SpecError(problems)
    holdout = prepare_columns(frame, spec)
    files = [found]
    empty = holdout.iloc[0:0]
    reference = empty
    if spec.data is not None and spec.data.reference:
        ref_file, ref_local = _resolve("reference", spec.data.reference, root, spec_doc, at)
        ref_frame = read_table(ref_local, ref_file.path, columns=spec.dataset.columns)
        missing = [
            _missing_column(spec_doc, ("features", kind, i), name, ref_frame, ref_file.path)
            for kind in ("numeric", "categorical")
            for i, name in enumerate(getattr(spec.features, kind))
            if name not in ref_frame.columns
        ]
        if missing:
            raise SpecError(missing)
        number_problems = _numeric_problems(ref_frame, spec.inputs.numeric, ref_file.path)
        if number_problems:
            raise SpecError(number_problems)
        reference = prepare_columns(ref_frame, spec)
        files.append(ref_file)
    return ModelData(train=empty, holdout=holdout, reference=reference, current=holdout, files=files)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"

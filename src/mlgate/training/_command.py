"""`mlgate train` for a spec with ``train: {command: ...}``: the team's own script or ``dvc repro``.

The one module besides mlgate.git and mlgate.data that starts a child process: the command the
spec names (tests/test_architecture.py allows it). Order, for "nothing is lost":

1. spec, policy, params and data are loaded and every data file checked against DVC (train.py);
2. the MLflow run is created in experiment ``mlgate/<name>`` with the lineage tags
   (``mlgate.lineage=command``) and the split params the gates rebuild training rows from;
3. the command runs from the repo root, without a shell (``shlex.split``: no pipes, globs or
   variable expansion — use ``sh -c '...'`` or a script for those), its output streamed, with
   ``MLFLOW_TRACKING_URI``, ``MLFLOW_RUN_ID`` and the ``MLGATE_*`` variables (:func:`command_env`);
   ``mlflow.start_run()`` in the script resumes mlgate's run. ``dvc repro <stage>`` passes the
   environment on to the stage;
4. mlgate finds the models logged into that run and refuses anything but exactly one, re-checks
   the declared data (a command that changed its inputs is refused) and refuses a signature whose
   output is not what ``mlflow.pyfunc`` predict returns (a ``predict_proba`` tensor on a model whose
   pyfunc returns labels: plain ``spark_udf`` fails on it; :func:`mlgate.registry.output_problem`),
   then registers the model with the lineage tags in one request and writes ``mlgate.train.complete`` last.

Any failure ends the run FAILED with ``mlgate.train.refused`` saying why, and registers nothing.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.config import LINEAGE_COMMAND, PARAMS_FILE, ModelContext, canonical_hash
from mlgate.data import (
    ModelData,
    StageLock,
    file_md5,
    read_table,
    split_positions,
    split_settings,
    stage_lock,
    stage_upstream,
    write_rows,
)
from mlgate.exceptions import RegistryUnavailable, SpecError, TrainingFailed, UnsafeModel, mask_secrets, missing_extra
from mlgate.registry import OUTPUT_HINT, TAG_PREFIX, Registry, output_problem
from mlgate.training._record import TrainResult, register_complete, run_params, version_tags

Progress = Callable[[str], None]
TAIL_LINES = 20
# Python's message for a failed import, as the command's last lines show it
_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
"""Lines of the command's output quoted when it fails."""
REFUSED_TAG = TAG_PREFIX + "train.refused"
COMMAND_TAG = TAG_PREFIX + "train.command"
DVC_TAG_PREFIX = TAG_PREFIX + "dvc."
"""Tags of a ``dvc_stage`` version: ``mlgate.dvc.stage``, ``.params.sha256``, ``.dep.<path>``/``.out.<path>`` (md5)."""
_TAG_KEY = re.compile(r"^[/\w.\- ]{1,250}$")
"""A tag key MLflow takes on every platform (a path with other characters stays in lineage.json only)."""
_SKIPPED = "didn't change, skipping"
"""What ``dvc repro`` prints for a stage it did not run (unchanged deps and params)."""


DATA_ENV_PREFIX = "MLGATE_DATA_"
WITHHELD_ROLES = ("path", "holdout")
"""Data roles never passed to the command: the whole split file and the holdout file hold the rows the gates score."""


def data_env(ctx: ModelContext, data: ModelData, scratch: Path) -> dict[str, str]:
    """``MLGATE_DATA_<ROLE>``: the files the command may train on, as absolute paths.

    ``MLGATE_DATA_TRAIN`` is the training rows only: with ``data.path`` + ``split``, mlgate writes
    exactly the train rows of its own split (:func:`mlgate.data.split_positions`, the rows ``mlgate
    train`` fits on) to a file in ``scratch``, same format as the source; with a train/holdout
    layout it is the train file. ``MLGATE_DATA_PATH`` and ``MLGATE_DATA_HOLDOUT`` are never given:
    they hold the rows the gates evaluate on, and a script that read them could train on them.
    ``REFERENCE`` and ``CURRENT`` (drift inputs) are passed as they are.
    """
    root = ctx.root.resolve()
    env: dict[str, str] = {}
    for item in data.files:
        if item.role == "path":
            source = root / item.path
            columns = ctx.spec.dataset.columns
            train, _ = split_positions(read_table(source, item.path, columns=columns), ctx.spec)
            name = Path(item.path)
            rows = scratch / f"{name.stem}.train{name.suffix}"
            write_rows(source, item.path, train, rows, columns=columns)
            env[f"{DATA_ENV_PREFIX}TRAIN"] = str(rows)
        elif item.role not in WITHHELD_ROLES:
            env[f"{DATA_ENV_PREFIX}{item.role.upper()}"] = str(root / item.path)
    return env


def command_env(ctx: ModelContext, data: ModelData, tracking_uri: str, run_id: str, scratch: Path) -> dict[str, str]:
    """The variables the command gets on top of mlgate's own environment (documented in the README).

    The data files are :func:`data_env`'s (``scratch`` holds the training rows mlgate writes);
    ``MLGATE_SPLIT`` (JSON) says, for information, which split of ``data.path`` they come from.
    """
    root = ctx.root.resolve()
    spec = ctx.spec
    env = {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_RUN_ID": run_id,
        "MLGATE_MODEL": ctx.name,
        "MLGATE_REPO": str(root),
        "MLGATE_TASK": spec.task,
        "MLGATE_TARGET": spec.target_column,
        "MLGATE_FEATURES": json.dumps(
            {"numeric": spec.inputs.numeric, "categorical": spec.inputs.categorical, "text": spec.inputs.text}
        ),
        "MLGATE_SEED": str(spec.seed),
        "MLGATE_PARAMS_FILE": str(root / PARAMS_FILE),
        "MLGATE_PARAMS": json.dumps(ctx.params, sort_keys=True, default=str),
    }
    env |= data_env(ctx, data, scratch)
    if spec.dataset.path:
        env["MLGATE_SPLIT"] = json.dumps(split_settings(spec), sort_keys=True)
    return env


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """Our own environment plus ``extra``, minus inherited ``MLGATE_DATA_*`` (one could name the holdout)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(DATA_ENV_PREFIX)}
    return inherited | extra | {"PATH": interpreter_path()}


def interpreter_path() -> str:
    """``PATH`` with the folder of the Python running mlgate first, as if its virtualenv were active.

    ``python train.py`` and ``dvc repro`` then run with the packages mlgate runs with (mlflow,
    the model's libraries), also when mlgate was started as ``.venv/bin/mlgate`` without activating.
    """
    folder = str(Path(sys.executable).parent)
    rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != folder]
    return os.pathsep.join([folder, *rest])


def echo_masked(line: str) -> None:
    """Stream one line of a training command's output to stderr, with secrets masked."""
    sys.stderr.write(mask_secrets(line))  # the command may print the MLFLOW_TRACKING_URI it was given
    sys.stderr.flush()


def run_command(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float, output: Progress
) -> tuple[int | None, list[str]]:
    """Run ``argv`` (no shell), streaming its output (stderr merged into stdout) to ``output``.

    Returns the exit code (None when it was killed for running past ``timeout`` seconds) and its
    last :data:`TAIL_LINES` lines. The command runs in its own process group, so a timeout also
    ends what it started (``dvc repro`` runs the stage's own command as a child).
    """
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as err:
        raise TrainingFailed(f"cannot start the training command {shlex.join(argv)}: {err.strerror or err}") from None
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            output(line)
        code = process.wait()
    finally:
        timer.cancel()
    return (None if timed_out.is_set() else code), list(tail)


def _extra_hint(tail: list[str]) -> str:
    """The install hint when the command died importing a module one of mlgate's extras brings ('' otherwise)."""
    for line in reversed(tail):
        found = _NO_MODULE.search(line)
        if found:
            missing = missing_extra(ModuleNotFoundError(name=found.group(1)), "the training command")
            if missing is not None:
                return f"the command could not import '{missing.module}': {missing.hint}"
    return ""


def dvc_repro_argv(*args: str) -> list[str]:
    """``dvc repro ARGS`` with the DVC of the Python running mlgate (a dependency of mlgate)."""
    return [sys.executable, "-m", "dvc", "repro", *args]


def reproduce_upstream(ctx: ModelContext, progress: Progress, output: Progress | None) -> tuple[str, ...]:
    """For ``train: {dvc_stage: S}``: reproduce the stages S depends on as ``dvc repro`` would (not forced).

    Their outputs (``data/prepared``, ...) are then what dvc.lock records, so the spec's data (often
    one of them) is checked and loaded as the stage will see it; a stage whose deps and params are
    unchanged is skipped, or restored from DVC's run cache, as DVC decides. Returns the upstream
    stages (DVC's names). The stage itself runs later, forced, in the run mlgate opens.
    """
    assert ctx.spec.train is not None
    assert ctx.spec.train.dvc_stage is not None
    stage = ctx.spec.train.dvc_stage
    try:
        upstream = stage_upstream(ctx.root, stage)
    except LookupError as err:
        raise SpecError([ctx.spec_doc.problem(("train", "dvc_stage"), f"{err}")]) from None
    if not upstream:
        progress("loading DVC-tracked data")
        return upstream
    argv = dvc_repro_argv(*upstream)
    progress(f"reproducing what stage {stage} depends on as `dvc repro` would ({', '.join(upstream)}), loading data")
    minutes = ctx.spec.train.timeout_minutes
    code, tail = run_command(argv, ctx.root, child_env({}), minutes * 60, output or echo_masked)
    shown = f"dvc repro {' '.join(upstream)}"
    if code is None:
        raise TrainingFailed(f"`{shown}` (the stages {stage} depends on) ran past train.timeout_minutes ({minutes})")
    if code != 0:
        quoted = "\n".join(f"  | {line}" for line in tail)
        message = f"`{shown}` (the stages {stage} depends on) failed with exit code {code}; its last lines:\n{quoted}"
        raise TrainingFailed(message, hint=_extra_hint(tail) or TrainingFailed.hint)
    return upstream


def dvc_tags(lock: StageLock) -> dict[str, str]:
    """The version tags of what dvc.lock records of the stage that trained it (md5 of every dep and out)."""
    tags = {
        DVC_TAG_PREFIX + "stage": lock.stage,
        DVC_TAG_PREFIX + "params.sha256": canonical_hash(lock.params),
    }
    for kind, hashes in (("dep", lock.deps), ("out", lock.outs)):
        for path, md5 in hashes.items():
            key = f"{DVC_TAG_PREFIX}{kind}.{path}"
            if _TAG_KEY.match(key) and ".." not in PurePosixPath(path).parts:
                tags[key] = md5
    return tags


def dvc_params(lock: StageLock) -> dict[str, Any]:
    """The stage's params as run params: ``dvc.<key>`` (params.yaml) or ``dvc.<file>:<key>`` (another file)."""
    logged: dict[str, Any] = {}
    for file, values in lock.params.items():
        for key, value in values.items():
            logged[f"dvc.{key}" if file == PARAMS_FILE else f"dvc.{file}:{key}"] = value
    return logged


def _no_model_hint(ctx: ModelContext, tail: list[str]) -> str:
    """Why a command logged no model: a stage DVC skipped, or a missing ``log_model`` (the usual case)."""
    assert ctx.spec.train is not None
    skipped = next((line for line in tail if _SKIPPED in line), "")
    if ctx.spec.train.command is not None and skipped:
        return (
            f"`dvc repro` ran nothing ({skipped.strip()}): it skips a stage whose deps and params are unchanged. "
            "Name the stage as `train: {dvc_stage: <stage>}` and mlgate runs it even when it is cached"
        )
    where = "the stage's cmd in dvc.yaml" if ctx.spec.train.dvc_stage is not None else "the command"
    return (
        f"{where} must call one mlflow.<flavour>.log_model(...) inside `with mlflow.start_run():` (it resumes "
        "mlgate's run from MLFLOW_RUN_ID, which `dvc repro` passes on to the stage)"
    )


def _refuse(registry: Registry, run_id: str, message: str, *, hint: str = "") -> TrainingFailed:
    """End the run FAILED with the reason as a tag; the error to raise."""
    with contextlib.suppress(RegistryUnavailable):  # an outage here must not hide why training failed
        registry.finish_run(run_id, {REFUSED_TAG: message[:5000]}, status="FAILED")
    return TrainingFailed(message, hint=hint) if hint else TrainingFailed(message)


def _changed_inputs(ctx: ModelContext, data: ModelData) -> list[str]:
    """The declared data files whose bytes the command changed (md5 before vs now)."""
    changed = []
    for item in data.files:
        path = ctx.root / item.path
        now = file_md5(path) if path.is_file() else "(missing)"
        if now != item.md5:
            changed.append(f"{item.path} (md5 {item.md5[:8]} before, {now[:8]} after)")
    return changed


def train_with_command(
    ctx: ModelContext,
    data: ModelData,
    info: dict[str, Any],
    params: dict[str, Any],
    progress: Progress,
    registry: Registry,
    output: Progress | None,
    timings: dict[str, float],
    start: float,
    ctx_upstream: tuple[str, ...] = (),
) -> Any:
    """Run the spec's ``train.command`` in a run mlgate created in ``registry``; register the one model it logged.

    With ``train.dvc_stage`` the command is ``dvc repro --force --single-item <stage>`` (``ctx_upstream``:
    the stages :func:`reproduce_upstream` ran before), and dvc.lock's record of the stage joins the lineage.
    """
    assert ctx.spec.train is not None
    stage = ctx.spec.train.dvc_stage
    if stage is not None:  # run even when cached (--force skips DVC's run cache too); its upstream ran before
        argv = dvc_repro_argv("--force", "--single-item", stage)
        command = shlex.join(["dvc", "repro", "--force", "--single-item", stage])
        info = info | {"lineage": LINEAGE_COMMAND, "command": command, "dvc_stage": stage}
    else:
        assert ctx.spec.train.command is not None
        command = ctx.spec.train.command
        argv = shlex.split(command)  # checked when the spec was parsed
        info = info | {"lineage": LINEAGE_COMMAND, "command": command}
    tags = version_tags(info) | {"mlflow.source.git.commit": info["git_commit"], COMMAND_TAG: command}
    run_id = registry.create_run(f"mlgate/{ctx.name}", f"train-{ctx.name}", tags)
    registry.log_params_to(run_id, run_params(ctx, params))
    registry.attach_json(run_id, json.dumps(info, indent=2), "mlgate/lineage.json")
    progress(f"running `{command}` in {ctx.root} (run {run_id})")
    timeout = ctx.spec.train.timeout_minutes * 60
    with tempfile.TemporaryDirectory(prefix="mlgate-train-") as scratch:  # the training rows, deleted after
        try:
            env = child_env(command_env(ctx, data, registry.uri, run_id, Path(scratch)))
        except OSError as err:  # writing the training rows: the run must not stay RUNNING
            raise _refuse(registry, run_id, f"cannot write the training rows for `{command}`: {err}") from None
        code, tail = run_command(argv, ctx.root, env, timeout, output or echo_masked)
    timings["command"] = time.perf_counter() - start - timings["load"]
    quoted = "\n".join(f"  | {line}" for line in tail)
    if code is None:
        raise _refuse(
            registry, run_id, f"`{command}` ran past train.timeout_minutes ({ctx.spec.train.timeout_minutes})"
        )
    if code != 0:
        failed = f"`{command}` failed with exit code {code}; its last lines:\n{quoted}"
        raise _refuse(registry, run_id, failed, hint=_extra_hint(tail))
    progress(f"registering the model `{command}` logged, after re-checking the declared data")
    status = registry.run_status(run_id)
    if status not in ("RUNNING", "FINISHED"):
        raise _refuse(registry, run_id, f"`{command}` exited 0 but left run {run_id} {status}")
    changed = _changed_inputs(ctx, data)
    if changed:
        message = (
            f"`{command}` changed its declared inputs: {', '.join(changed)}; a training command must only read them"
        )
        raise _refuse(registry, run_id, message)
    logged = [m for m in registry.logged_models(run_id) if m.status == "READY"]
    if len(logged) != 1:
        found = ", ".join(f"{m.name or '?'} ({m.model_id})" for m in logged) or "none"
        raise _refuse(
            registry,
            run_id,
            f"`{command}` must log exactly one model into run {run_id}; it logged {len(logged)}: {found}",
            hint=_no_model_hint(ctx, tail),
        )
    try:
        problem = output_problem(registry.logged_mlmodel(logged[0].uri))
    except UnsafeModel as err:
        raise _refuse(registry, run_id, err.message) from None
    if problem:  # plain MLflow (spark_udf, mlflow models serve) would fail on the version: refused before it exists
        raise _refuse(registry, run_id, f"`{command}` logged {logged[0].uri}: {problem}", hint=OUTPUT_HINT)
    if stage is not None:  # what the stage ran with, as DVC recorded it after the run
        lock = stage_lock(ctx.root, stage)
        if lock is None:
            raise _refuse(registry, run_id, f"`{command}` exited 0 but dvc.lock has no entry for stage {stage}")
        info = info | {"dvc": lock.as_dict() | {"upstream": list(ctx_upstream)}}
        tags = tags | dvc_tags(lock)
        registry.log_params_to(run_id, dvc_params(lock))
        registry.attach_json(run_id, json.dumps(info, indent=2), "mlgate/lineage.json")
    if status == "RUNNING":  # the script did not end the run (no `with`): it is complete now
        registry.finish_run(run_id, {})
    registered = register_complete(registry, ctx, logged[0].uri, tags)
    timings["log"] = time.perf_counter() - start - timings["load"] - timings["command"]
    timings["total"] = time.perf_counter() - start
    return TrainResult(
        model=ctx.name,
        version=registered.version,
        run_id=registered.run_id,
        model_uri=registered.model_uri,
        tracking_uri=registered.tracking_uri,
        metrics=registry.run_metrics(run_id),
        lineage=info,
        seconds={k: round(v, 3) for k, v in timings.items()},
    )

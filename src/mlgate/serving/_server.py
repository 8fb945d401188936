"""``mlgate serve``: check everything, load the alias's version, then run uvicorn until stopped.

Nothing listens until the spec, policy, stage, tokens, audit store and model all check out:
a bad argument exits 2, an audit store or registry that does not answer exits 3.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from prometheus_client import multiprocess
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from mlgate.config import Workspace, load_model_context, refuse_predictions
from mlgate.exceptions import ExternalServiceError, InvalidInput, MlgateError, mask_logs
from mlgate.scoring import check_stage
from mlgate.serving import _tokens as token_source
from mlgate.serving._app import create_app
from mlgate.serving._audit import AuditStore, AuditUnavailable
from mlgate.serving._model import Follower
from mlgate.serving._scratch import Scratch, hold, remove_orphans

log = logging.getLogger("mlgate.serve")
DEFAULT_AUDIT_FILE = "mlgate-audit.db"
"""SQLite file in the repository folder when neither --audit-url nor the spec's serving.audit_url names a store."""


@dataclass(frozen=True)
class Options:
    """How ``mlgate serve`` runs (the command line's options)."""

    host: str = "127.0.0.1"
    port: int = 8080
    audit_url: str | None = None
    poll_seconds: float = 30.0
    max_rows: int = 1000
    max_body_bytes: int = 1 << 20
    tokens_env: str | None = None
    tokens_file: str | None = None
    audit_timeout: float = 5.0
    tracking_uri: str | None = None
    ref: str = "HEAD"  # release.yaml is read as committed at this git ref (re-read at each poll)
    allow_unpinned: bool = False
    workers: int = 1  # uvicorn worker processes (see _run_workers)
    arm_key: str | None = None  # the column routing rows to the canary (the spec's serving.arm_key wins; see arm_key)


def serve(
    root: Path | Workspace,
    name: str,
    stage: str,
    options: Options,
    started: Callable[[dict[str, Any]], None] = lambda _: None,
) -> None:
    """Serve ``models:/NAME@STAGE`` until the process is stopped (SIGINT/SIGTERM end it cleanly).

    ``started`` gets what is served (model, alias, version, URL, audit store, workers) once
    everything checked out and, with several workers, every worker answers.
    """
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    mask_logs()  # a registry outage logged while serving may quote the tracking URI
    ws = Workspace.of(root, options.tracking_uri)
    root = ws.root
    ctx = load_model_context(root, name)
    refuse_predictions(ctx, "serve")
    check_stage(ctx, stage)
    if options.poll_seconds <= 0:
        raise InvalidInput(f"--poll-seconds {options.poll_seconds}: must be positive")
    if options.workers < 1:
        raise InvalidInput(f"--workers {options.workers}: must be at least 1")
    remove_orphans()  # the mlgate-serve-* folders of serve processes that were killed (never raises)
    spec_serving = ctx.spec.serving
    tokens = token_source.load(
        options.tokens_env or (spec_serving.tokens_env if spec_serving else None),
        options.tokens_file or (spec_serving.tokens_file if spec_serving else None),
    )
    url = options.audit_url or (spec_serving.audit_url if spec_serving else None)
    url = url or f"sqlite:///{(root / DEFAULT_AUDIT_FILE).resolve()}"
    line, _col = ctx.spec_doc.mark(("serving", "arm_key"))
    key = arm_key(spec_serving.arm_key if spec_serving else None, options.arm_key, f"{ctx.spec_doc.display}:{line}")
    options = replace(options, arm_key=key)
    audit = AuditStore(url, timeout=options.audit_timeout)
    try:
        audit.create()  # once, here: workers creating the table at once would race
    except AuditUnavailable as err:
        raise ExternalServiceError(f"audit store {audit.shown} does not answer: {err}") from None
    # the version is loaded here even with several workers: what does not check out exits before anything listens
    follower = Follower(
        ws.registry,
        ctx,
        stage,
        options.poll_seconds,
        root=root,
        ref=options.ref,
        allow_unpinned=options.allow_unpinned,
    )
    sock = listen(options.host, options.port)
    port = int(sock.getsockname()[1])  # the port bound: --port 0 asks the kernel for any free one
    host = f"[{options.host}]" if ":" in options.host else options.host
    facts = {
        "model": name,
        "alias": stage,
        "version": follower.current.version,
        "digest": follower.current.digest,
        "release_commit": follower.release_commit,
        "run_id": follower.current.run_id,
        "url": f"http://{host}:{port}",
        "audit_store": audit.shown,
        "callers": len(tokens),
        "poll_seconds": options.poll_seconds,
        "workers": options.workers,
        "arm_key": key,
        "arms": follower.state()["arms"],
    }

    def announce(pids: list[int]) -> None:
        log.info(
            "serving %s v%s (models:/%s@%s) on %s; %d worker(s); audit store %s; %d caller(s) from %s; "
            "polling every %g s",
            name,
            facts["version"],
            name,
            stage,
            facts["url"],
            options.workers,
            audit.shown,
            len(tokens),
            tokens.source,
            options.poll_seconds,
        )
        started({**facts, "worker_pids": pids})

    try:
        if options.workers == 1:
            app = create_app(
                follower,
                audit,
                tokens,
                max_rows=options.max_rows,
                max_body_bytes=options.max_body_bytes,
                arm_key=key,
            )
            config = uvicorn.Config(
                app, host=options.host, port=port, access_log=False, log_level="info", log_config=None, lifespan="on"
            )
            announce([os.getpid()])
            uvicorn.Server(config).run(sockets=[sock])  # the lifespan starts and stops the follower
        else:
            follower.current.holder.cleanup()  # the workers load their own copy
            if follower.candidate.arm is not None:
                follower.candidate.arm.served.holder.cleanup()
            audit.close()
            del follower
            _run_workers(ws, name, stage, url, tokens, options, sock, announce)
    finally:
        sock.close()


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONFIG_ENV = "MLGATE_SERVE_CONFIG"
"""The variable naming a worker's configuration file (see :func:`worker_app`)."""
WORKER_START_SECONDS = 300.0
"""How long each worker may take to load its version and answer, at start."""


def _run_workers(
    ws: Workspace,
    name: str,
    stage: str,
    audit_url: str,
    tokens: token_source.Tokens,
    options: Options,
    sock: socket.socket,
    announce: Callable[[list[int]], None],
) -> None:
    """Run ``options.workers`` uvicorn worker processes on ``sock`` until SIGINT/SIGTERM; restart any that dies.

    The workers are fresh interpreters (uvicorn's spawn): each builds the app with
    :func:`worker_app` from a configuration file of mode 0600 in a private folder (0700) that
    this process writes and removes: the caller tokens as digests only, the tracking URI (which may
    hold credentials) in the file, never on a command line or in a variable.
    """
    scratch = Scratch()  # mkdtemp: mode 0700; the workers hold its lock too (worker_app)
    folder = scratch.name
    try:
        tokens_file = Path(folder) / "callers"
        _private(tokens_file, tokens.digests_text())
        metrics_dir = Path(folder) / "metrics"
        metrics_dir.mkdir(mode=0o700)
        config_file = Path(folder) / "config.json"
        config = {
            "root": str(ws.root),
            "model": name,
            "stage": stage,
            "tracking_uri": ws.settings.tracking_uri,
            "audit_url": audit_url,
            "audit_timeout": options.audit_timeout,
            "tokens_file": str(tokens_file),
            "poll_seconds": options.poll_seconds,
            "max_rows": options.max_rows,
            "max_body_bytes": options.max_body_bytes,
            "ref": options.ref,
            "allow_unpinned": options.allow_unpinned,
            "arm_key": options.arm_key,
            "metrics_dir": str(metrics_dir),
            "write_lock": str(Path(folder) / "audit-write.lock"),  # used on SQLite only
        }
        _private(config_file, json.dumps(config))
        # inherited by the spawned workers; prometheus_client reads its variable when it is imported there
        os.environ[CONFIG_ENV] = str(config_file)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        uv_config = uvicorn.Config(
            f"{__package__}:worker_app",
            factory=True,
            host=options.host,
            port=int(sock.getsockname()[1]),
            workers=options.workers,
            access_log=False,
            log_level="info",
            log_config=None,
            lifespan="on",
        )
        supervisor = _Workers(uv_config, [sock], str(metrics_dir), announce)
        supervisor.run()
        if supervisor.failed:
            raise ExternalServiceError(
                f"a worker did not start within {WORKER_START_SECONDS:g} s or exited while starting (its error is "
                "logged above): the service stopped"
            )
    finally:
        scratch.cleanup()


def _private(path: Path, text: str) -> None:
    """Write ``text`` to a new file only its owner can read (0600 from creation: no window with wider rights)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


class _Workers(Multiprocess):
    """uvicorn's process supervisor, with a start that waits for every worker and a restart that is logged.

    At start, the service is announced (start line, ``--json``) only once every worker answers
    uvicorn's health ping as started; a worker failing then stops the service (exit 3). Later, a
    worker that exits or stops answering is killed, logged as an error with its exit code, its
    per-worker gauges dropped, and a new one started in its place; the others keep serving.
    SIGINT/SIGTERM: every worker gets SIGTERM, finishes its requests in flight and runs its
    lifespan's shutdown (follower stopped, audit store closed); then this process exits.
    """

    def __init__(
        self, config: uvicorn.Config, sockets: list[socket.socket], metrics_dir: str, announce: Callable[..., None]
    ) -> None:
        """Supervise ``config.workers`` workers on ``sockets``."""
        super().__init__(config, sockets)
        self.metrics_dir, self.announce, self.failed = metrics_dir, announce, False

    def init_processes(self) -> None:
        """Start every worker, wait until each answers, then announce the service."""
        super().init_processes()
        for process in self.processes:
            if not process.wait_until_ready(WORKER_START_SECONDS, self.should_exit):
                if not self.should_exit.is_set():  # not a stop asked for meanwhile: a failed start
                    log.error("worker %s did not start (exit code %s)", process.pid, process.exitcode)
                    self.failed = True
                    self.should_exit.set()
                return
        self.announce([process.pid for process in self.processes])

    def keep_subprocess_alive(self) -> None:
        """Replace each worker that exited or does not answer (uvicorn's check, logged and counted here)."""
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # it may hang rather than have exited
            process.join()
            if process.pid is not None:
                multiprocess.mark_process_dead(process.pid, self.metrics_dir)
            if self.should_exit.is_set():
                return
            replacement = Process(self.config, self.sockets)
            replacement.start()
            log.error(
                "worker %s exited (exit code %s) or stopped answering: replaced by worker %s",
                process.pid,
                process.exitcode,
                replacement.pid,
            )
            self.processes[index] = replacement


def worker_app() -> FastAPI:
    """The app of one worker of ``mlgate serve --workers N``: a factory (``mlgate.serving:worker_app``) for uvicorn.

    Reads the configuration file :data:`CONFIG_ENV` names (written by :func:`serve`, mode 0600),
    loads the version release.yaml asks for as :func:`serve` does, and returns the app; its
    lifespan starts this worker's alias follower. Every worker shares the audit store (SQLite: its
    busy timeout serializes writers across processes; PostgreSQL) and follows the alias itself.
    """
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    mask_logs()
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise InvalidInput(f"{CONFIG_ENV} is not set: worker_app runs under mlgate serve --workers N")
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    hold(str(Path(path).parent))  # the folder is in use while this worker runs (released at its exit)
    try:
        root = Path(config["root"])
        ws = Workspace.of(root, config["tracking_uri"])
        ctx = load_model_context(root, config["model"])
        tokens = token_source.load(file=config["tokens_file"])
        audit = AuditStore(config["audit_url"], timeout=config["audit_timeout"])
        follower = Follower(
            ws.registry,
            ctx,
            config["stage"],
            config["poll_seconds"],
            root=root,
            ref=config["ref"],
            allow_unpinned=config["allow_unpinned"],
        )
    except MlgateError as err:
        log.error("worker %d cannot start: %s", os.getpid(), err.message)
        raise
    return create_app(
        follower,
        audit,
        tokens,
        max_rows=config["max_rows"],
        max_body_bytes=config["max_body_bytes"],
        multiprocess_dir=config["metrics_dir"],
        # SQLite: one writer at a time across the workers, queued on a file lock (PostgreSQL takes them all at once)
        write_lock=config["write_lock"] if audit.file is not None else None,
        arm_key=config.get("arm_key"),
    )


def arm_key(spec: str | None, option: str | None, where: str) -> str | None:
    """The column routing rows to the canary: the spec's ``serving.arm_key``, else ``--arm-key`` (None: the request id).

    The spec is what monitoring reads too, so an option naming another column is refused (exit 2).
    """
    if spec is not None and option is not None and spec != option:
        raise InvalidInput(
            f"--arm-key {option!r}, but {where}: serving.arm_key is {spec!r}",
            hint="drop --arm-key (the spec decides), or change serving.arm_key in a pull request",
        )
    return spec or option


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port), for uvicorn to serve on.

    Bound here rather than by uvicorn so the URL logged and written by ``--json`` is the one
    bound (a caller asking for port 0 learns it without a racy "find a free port" first), and a
    port in use is a clear exit 2, not uvicorn's ``sys.exit(1)``.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart may rebind at once
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {host}:{port}: {err.strerror or err}",
            hint="choose another --port (0: any free port; the one bound is logged and written by --json)",
        ) from None
    sock.set_inheritable(True)
    return sock

"""``mlgate serve``: check everything, load the alias's version, then run uvicorn until stopped.

Nothing listens until the spec, policy, stage, tokens, audit store and model all check out:
a bad argument exits 2, an audit store or registry that does not answer exits 3.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from mlgate.config import Workspace, load_model_context, refuse_predictions
from mlgate.exceptions import ExternalServiceError, InvalidInput, mask_logs
from mlgate.scoring import check_stage
from mlgate.serving import _tokens as token_source
from mlgate.serving._app import create_app
from mlgate.serving._audit import AuditStore, AuditUnavailable
from mlgate.serving._model import Follower

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


def serve(
    root: Path | Workspace,
    name: str,
    stage: str,
    options: Options,
    started: Callable[[dict[str, Any]], None] = lambda _: None,
) -> None:
    """Serve ``models:/NAME@STAGE`` until the process is stopped (SIGINT/SIGTERM end it cleanly).

    ``started`` gets what is served (model, alias, version, URL, audit store) once everything checked out.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mask_logs()  # a registry outage logged while serving may quote the tracking URI
    ws = Workspace.of(root, options.tracking_uri)
    root = ws.root
    ctx = load_model_context(root, name)
    refuse_predictions(ctx, "serve")
    check_stage(ctx, stage)
    if options.poll_seconds <= 0:
        raise InvalidInput(f"--poll-seconds {options.poll_seconds}: must be positive")
    spec_serving = ctx.spec.serving
    tokens = token_source.load(
        options.tokens_env or (spec_serving.tokens_env if spec_serving else None),
        options.tokens_file or (spec_serving.tokens_file if spec_serving else None),
    )
    url = options.audit_url or (spec_serving.audit_url if spec_serving else None)
    url = url or f"sqlite:///{(root / DEFAULT_AUDIT_FILE).resolve()}"
    audit = AuditStore(url, timeout=options.audit_timeout)
    try:
        audit.create()
    except AuditUnavailable as err:
        raise ExternalServiceError(f"audit store {audit.shown} does not answer: {err}") from None
    follower = Follower(
        ws.registry,
        ctx,
        stage,
        options.poll_seconds,
        root=root,
        ref=options.ref,
        allow_unpinned=options.allow_unpinned,
    )
    app = create_app(follower, audit, tokens, max_rows=options.max_rows, max_body_bytes=options.max_body_bytes)
    sock = listen(options.host, options.port)
    port = int(sock.getsockname()[1])  # the port bound: --port 0 asks the kernel for any free one
    host = f"[{options.host}]" if ":" in options.host else options.host
    url = f"http://{host}:{port}"
    log.info(
        "serving %s v%s (models:/%s@%s) on %s; audit store %s; %d caller(s) from %s; polling every %g s",
        name,
        follower.current.version,
        name,
        stage,
        url,
        audit.shown,
        len(tokens),
        tokens.source,
        options.poll_seconds,
    )
    started(
        {
            "model": name,
            "alias": stage,
            "version": follower.current.version,
            "digest": follower.current.digest,
            "release_commit": follower.release_commit,
            "run_id": follower.current.run_id,
            "url": url,
            "audit_store": audit.shown,
            "callers": len(tokens),
            "poll_seconds": options.poll_seconds,
        }
    )
    follower.start()
    try:
        config = uvicorn.Config(app, host=options.host, port=port, access_log=False, log_level="info", log_config=None)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        follower.stop()
        audit.close()


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

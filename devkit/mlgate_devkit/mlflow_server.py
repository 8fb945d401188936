"""A real `mlflow server` on 127.0.0.1 for the tests and the benchmarks (start, wait, stop)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVER_START_TIMEOUT = 180


UVICORN_STARTED = re.compile(r"Uvicorn running on (http://\S+) \(Press CTRL\+C to quit\)")
"""The line uvicorn logs once it listens, with the port it bound (the real one when asked for port 0)."""


def log_size(log: Path) -> int:
    """Where what a server is about to log starts in ``log`` (it is appended to across restarts)."""
    return log.stat().st_size if log.exists() else 0


def wait_reported_url(
    log: Path,
    offset: int,
    proc: subprocess.Popen[bytes],
    pattern: re.Pattern[str],
    what: str,
    timeout: float = SERVER_START_TIMEOUT,
) -> str:
    """The URL ``proc`` logs (``pattern``'s group 1, after ``offset`` of ``log``) once it listens.

    Servers here bind port 0 themselves and report the port the kernel gave them: no "free port"
    is picked beforehand for another process to take in between. Raises with the log's tail if
    ``proc`` exits or ``timeout`` passes first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with log.open("rb") as handle:
            handle.seek(offset)
            found = pattern.search(handle.read().decode(errors="replace"))
        if found:
            return found.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{what} reported no URL after {timeout}s:\n{log.read_text()[-3000:]}")


def wait_healthy(
    url: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    what: str = "mlflow server",
    timeout: float = SERVER_START_TIMEOUT,
) -> None:
    """Return once ``url``/health answers 200; raise with the log's tail if ``proc`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{what} not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


def start_mlflow_server(
    base: Path,
    port: int | None = None,
    *,
    backend: str | None = None,
    artifacts: str | None = None,
    proxied: bool = True,
    env: dict[str, str] | None = None,
    app_name: str | None = None,
) -> tuple[str, subprocess.Popen[bytes]]:
    """A real `mlflow server` on 127.0.0.1 (SQLite in ``base``, proxied artifacts); waits for health.

    Without ``port`` it binds port 0 (uvicorn's log line says which port it got). Restarting on
    the same ``base`` and the ``port`` of the URL returned brings the same registry back.
    A team's set-up (mlgate_devkit.topology): ``backend`` (a database URL) instead of SQLite,
    ``artifacts`` (e.g. ``s3://bucket/mlflow``) served through the server (``proxied``: clients need
    no object-store key) or, with ``proxied=False``, handed to clients as their artifact root
    (``--default-artifact-root``: they write the object store themselves); ``env`` adds to the
    server's environment (its S3 key and endpoint); ``app_name`` is ``--app-name`` (``basic-auth``).
    """
    base.mkdir(parents=True, exist_ok=True)
    log = base / "server.log"
    offset = log_size(log)
    server_env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"} | (env or {})
    where = artifacts or str(base / "artifacts")
    if proxied:
        storage = ["--artifacts-destination", where]
    else:
        storage = ["--no-serve-artifacts", "--default-artifact-root", where]
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend or f"sqlite:///{base / 'mlflow.db'}",
        *storage,
        *(["--app-name", app_name] if app_name else []),
        "--host",
        "127.0.0.1",
        "--port",
        str(port or 0),
        "--workers",
        "1",
    ]
    with log.open("ab") as out:
        # Own process group: the server forks workers, and stopping the group stops them all.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=server_env, start_new_session=True)
    try:
        url = wait_reported_url(log, offset, proc, UVICORN_STARTED, "mlflow server")
        wait_healthy(url, proc, log)
    except BaseException:
        stop_mlflow_server(proc)
        raise
    return url, proc


def stop_mlflow_server(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the server's process group: ``sig``, then SIGKILL after 20 seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

"""A real `mlflow server` on 127.0.0.1 for the tests and the benchmarks (start, wait, stop)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVER_START_TIMEOUT = 180


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def start_mlflow_server(base: Path, port: int | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    """A real `mlflow server` on 127.0.0.1 (SQLite in ``base``, proxied artifacts); waits for health.

    Restarting on the same ``base`` and ``port`` brings the same registry back.
    """
    base.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = base / "server.log"
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{base / 'mlflow.db'}",
        "--artifacts-destination",
        str(base / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log.open("ab") as out:
        # Own process group: the server forks workers, and stopping the group stops them all.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
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

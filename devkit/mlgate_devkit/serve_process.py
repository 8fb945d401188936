"""``mlgate serve`` as a real process on 127.0.0.1 (tests and ``benchmarks/serve.py``), waited for on ``/health``."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from mlgate_devkit.mlflow_server import log_size, wait_healthy, wait_reported_url

START_TIMEOUT = 180
SERVING = re.compile(r"mlgate\.serve: serving .+? on (http://[^;\s]+);")
"""mlgate serve's start line (mlgate.serving.server.serve), with the URL it bound."""


@dataclass
class ServeProcess:
    """A running service: its URL, process (the leader of a session of its own) and log file."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        """The pids of ``--workers N``'s worker processes (children running uvicorn's spawned target)."""
        pids = []
        for child in psutil.Process(self.proc.pid).children():
            try:
                if any("spawn_main" in part for part in child.cmdline()):
                    pids.append(child.pid)
            except psutil.Error:
                continue  # exited meanwhile
        return sorted(pids)

    def stop(self, *, group: bool = False) -> int:
        """SIGTERM (to the process, or its whole session with ``group``), SIGKILL to the session after 20 s.

        The exit code (negative: the signal that ended it). Whatever of the session is left once the
        leader exited (a worker it did not stop) is killed too: nothing outlives a test.
        """
        if self.proc.poll() is None:
            if group:
                os.killpg(self.proc.pid, signal.SIGTERM)
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # no process left in the session: ProcessLookupError
        return self.proc.returncode


def start_serve(
    repo: Path, model: str, stage: str, log: Path, *args: str, env: dict[str, str] | None = None
) -> ServeProcess:
    """Start ``mlgate serve MODEL --stage STAGE --port 0 ARGS...`` in ``repo``; wait until /health answers.

    The service binds port 0 itself; its URL is the one its start line logs.
    """
    cmd = [sys.executable, "-c", "from mlgate.cli import main; main()", "serve", model, "--stage", stage]
    cmd += ["--port", "0", *args]
    offset = log_size(log)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, cwd=repo, stdout=out, stderr=subprocess.STDOUT, env=os.environ | (env or {}), start_new_session=True
        )
    served = ServeProcess("", proc, log)
    try:
        served.url = wait_reported_url(log, offset, proc, SERVING, "mlgate serve", START_TIMEOUT)
        wait_healthy(served.url, proc, log, "mlgate serve", START_TIMEOUT)
    except RuntimeError:
        served.stop()
        raise
    return served

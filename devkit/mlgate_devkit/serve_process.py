"""``mlgate serve`` as a real process on 127.0.0.1 (tests and ``benchmarks/serve.py``), waited for on ``/health``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlgate_devkit.mlflow_server import log_size, wait_healthy, wait_reported_url

START_TIMEOUT = 180
SERVING = re.compile(r"mlgate\.serve: serving .+? on (http://[^;\s]+);")
"""mlgate serve's start line (mlgate.serving.server.serve), with the URL it bound."""


@dataclass
class ServeProcess:
    """A running service: its URL, process and log file."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down cleanly), SIGKILL after 20 seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
        proc = subprocess.Popen(cmd, cwd=repo, stdout=out, stderr=subprocess.STDOUT, env=os.environ | (env or {}))
    served = ServeProcess("", proc, log)
    try:
        served.url = wait_reported_url(log, offset, proc, SERVING, "mlgate serve", START_TIMEOUT)
        wait_healthy(served.url, proc, log, "mlgate serve", START_TIMEOUT)
    except RuntimeError:
        served.stop()
        raise
    return served

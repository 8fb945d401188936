"""``mlgate serve`` as a real process on 127.0.0.1 (tests and ``benchmarks/serve.py``), waited for on ``/health``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlgate_devkit.mlflow_server import free_port, wait_healthy

START_TIMEOUT = 180


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
    """Start ``mlgate serve MODEL --stage STAGE --port <free> ARGS...`` in ``repo``; wait until /health answers."""
    port = free_port()
    cmd = [sys.executable, "-c", "from mlgate.cli import main; main()", "serve", model, "--stage", stage]
    cmd += ["--port", str(port), *args]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=repo, stdout=out, stderr=subprocess.STDOUT, env=os.environ | (env or {}))
    url = f"http://127.0.0.1:{port}"
    served = ServeProcess(url, proc, log)
    try:
        wait_healthy(url, proc, log, "mlgate serve", START_TIMEOUT)
    except RuntimeError:
        served.stop()
        raise
    return served

"""The test harness's servers bind their own ports: no "free port" is picked for another process to take.

``mlflow server``, ``mlflow models serve`` and ``mlgate serve`` bind port 0 and log the port they got
(read by :func:`mlgate_devkit.mlflow_server.wait_reported_url`); PostgreSQL cannot bind port 0, so
:func:`mlgate_devkit.postgres.start_cluster` retries with a fresh port when its port was taken.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlgate_devkit import postgres
from mlgate_devkit.mlflow_server import UVICORN_STARTED, wait_reported_url

LINE = "INFO:     Uvicorn running on http://127.0.0.1:{} (Press CTRL+C to quit)"


def _printer(log: Path, script: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT)


def test_the_url_is_read_from_what_this_start_logged(tmp_path: Path) -> None:
    """A log appended to across restarts: the previous start's line (another port) is not taken."""
    log = tmp_path / "server.log"
    log.write_text(LINE.format(1111) + "\n")
    offset = log.stat().st_size
    script = f"import time; time.sleep(0.5); print({LINE.format(2222)!r}, flush=True); time.sleep(60)"
    proc = _printer(log, script)
    try:
        assert wait_reported_url(log, offset, proc, UVICORN_STARTED, "printer", 30) == "http://127.0.0.1:2222"
    finally:
        proc.kill()
        proc.wait()


def test_a_server_that_exits_before_reporting_fails_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    proc = _printer(log, "import sys; print('could not bind', flush=True); sys.exit(1)")
    with pytest.raises(RuntimeError, match=r"(?s)printer exited with 1:.*could not bind"):
        wait_reported_url(log, 0, proc, UVICORN_STARTED, "printer", 30)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on (this test, here), for the whole test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def pg_binaries() -> None:
    if postgres.binaries() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")


@pytest.mark.usefixtures("pg_binaries")
def test_postgres_retries_with_a_fresh_port_when_its_port_was_taken(tmp_path: Path, taken_port: int) -> None:
    cluster = postgres.start_cluster(tmp_path / "pg", ports=[taken_port, postgres._kernel_port()])
    try:
        assert cluster.port != taken_port
        assert "Address already in use" in cluster.log.read_text(errors="replace")  # the first try, refused
        import psycopg

        with psycopg.connect(cluster.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        cluster.stop()


@pytest.mark.usefixtures("pg_binaries")
def test_postgres_gives_up_after_the_ports_it_may_try(tmp_path: Path, taken_port: int) -> None:
    with pytest.raises(RuntimeError, match=rf"every port it tried in use: \[{taken_port}\]"):
        postgres.start_cluster(tmp_path / "pg", ports=[taken_port])

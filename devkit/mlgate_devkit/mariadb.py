"""A real MariaDB server in a folder of its own, started with Debian's ``mariadb-install-db``/``mariadbd``.

Used by the serving and monitoring tests: the server listens on 127.0.0.1 only (and a socket in its
own folder), reads no configuration file (``--no-defaults``) and has one user, ``mlgate``, with a
password, which clients take from ``MYSQL_PWD`` (an audit URL never holds one). mariadbd refuses to
run as root unless told so: as root it is started with ``--user=root`` (the data folder is root's).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_ATTEMPTS = 5
"""Ports tried before start_server gives up (each taken only if another process won it in between)."""
DATABASE = "audit"
USER = "mlgate"


def binaries() -> tuple[Path, Path] | None:
    """(``mariadb-install-db``, ``mariadbd``) when MariaDB is installed, else None."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = shutil.which("mariadbd") or next(
        (p for p in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld") if Path(p).exists()), None
    )
    if install is None or server is None:
        return None
    return Path(install), Path(server)


@dataclass
class Server:
    """A running server: ``url`` (no password: ``password`` goes in ``MYSQL_PWD``), :meth:`stop`."""

    server: Path
    base: Path
    port: int
    password: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The audit URL as a spec gives it (``mysql://``: PyMySQL), user ``mlgate``, database ``audit``."""
        return f"mysql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def socket(self) -> Path:
        """The server's Unix socket (root connects there to set the server up)."""
        return self.base / "mariadb.sock"

    @property
    def log(self) -> Path:
        """The server's error log."""
        return self.base / "mariadb.log"

    def new_database(self) -> str:
        """A fresh, empty database ``audit_<hex>`` (the user may create those): its URL."""
        name = f"{DATABASE}_{secrets.token_hex(6)}"
        conn = _root(self)
        try:
            conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return f"mysql://{USER}@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        """Start ``mariadbd`` and wait until it accepts connections (RuntimeError with the log's tail if not)."""
        args = [
            str(self.server),
            "--no-defaults",
            f"--datadir={self.base / 'data'}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.base / 'mariadb.pid'}",
            f"--log-error={self.log}",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            *(["--user=root"] if os.geteuid() == 0 else []),
        ]
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                text = self.log.read_bytes()[offset:].decode(errors="replace") if self.log.exists() else ""
                failure = PortInUse if "Address already in use" in text else RuntimeError
                raise failure(f"mariadbd exited with {self.process.returncode}:\n{text[-2000:]}")
            if self.socket.exists() and _answers(self):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"mariadbd did not accept connections within 60 s; see {self.log}")

    def stop(self) -> None:
        """SIGTERM and wait (a clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class PortInUse(RuntimeError):
    """MariaDB could not bind its port: another process listens there."""


def _root(server: Server) -> Any:
    import pymysql  # the test venv has it (mlgate[mysql]); imported here so devkit imports without it

    return pymysql.connect(unix_socket=str(server.socket), user="root", password="", connect_timeout=2)


def _answers(server: Server) -> bool:
    """Whether root can connect through the socket now (any failure: not yet)."""
    try:
        _root(server).close()
    except Exception:  # noqa: BLE001 - pymysql's errors, or a socket not yet listening
        return False
    return True


def _kernel_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(base: Path) -> Server:
    """``mariadb-install-db`` under ``base``, start the server, create the ``mlgate`` user and ``audit`` database."""
    found = binaries()
    if found is None:
        raise RuntimeError("MariaDB is not installed (apt-get install mariadb-server)")
    install, server_bin = found
    base.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            str(install),
            "--no-defaults",
            f"--datadir={base / 'data'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *(["--user=root"] if os.geteuid() == 0 else []),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed: {done.stdout}\n{done.stderr}")
    password = secrets.token_hex(16)
    tried = []
    for _ in range(START_ATTEMPTS):
        server = Server(server_bin, base, _kernel_port(), password)
        try:
            server.start()
        except PortInUse:
            tried.append(server.port)
            continue
        conn = _root(server)
        try:
            cursor = conn.cursor()
            cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
            cursor.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{password}'")
            cursor.execute(f"GRANT ALL ON `{DATABASE}%`.* TO '{USER}'@'127.0.0.1'")  # audit and audit_<test>
        finally:
            conn.close()
        return server
    raise RuntimeError(f"MariaDB found every port it tried in use: {tried}")
